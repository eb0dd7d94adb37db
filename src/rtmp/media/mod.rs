//! Audio (type 8) and video (type 9) tag headers, legacy FLV and Enhanced
//! RTMP (v1 and v2), and the codec configuration records they carry.
//!
//! Contract: never panics; payload bytes are never copied (tracks carry
//! body-relative [`Span`]s); every length (ModEx size, multitrack track
//! size, parameter-set lengths) is checked against the bytes present before
//! it is used. What is decoded:
//! - legacy video: frame type, codec id (2 h263, 3 screen, 4 vp6, 5 vp6a,
//!   6 screen2, 7 avc, 12 hevc), AVC/HEVC packet type and signed 24-bit
//!   composition time, command frames (frame type 5);
//! - E-RTMP video (IsExHeader bit 0x80): packet types 0-7, ModEx
//!   (TimestampOffsetNano), Multitrack (one_track, many_tracks,
//!   many_tracks_many_codecs) with per-track UI24 sizes, FourCC (avc1, hvc1,
//!   av01, vp09, vp08), composition time for avc1/hvc1 CodedFrames only,
//!   Metadata (AMF0 values), command frames;
//! - legacy audio: sound format 0-15, rate/size/channel bits, AAC packet
//!   type (for AAC the fixed header bits are ignored: rate and channels
//!   come from the AudioSpecificConfig of a sequence header, else unset);
//! - E-RTMP audio (sound format 9): packet types 0, 1, 2, 4
//!   (MultichannelConfig), 5 (Multitrack), 7 (ModEx), FourCC (Opus, fLaC,
//!   ac-3, ec-3, mp4a, .mp3);
//! - configs: AVCDecoderConfigurationRecord (with width/height from the
//!   first SPS), HEVCDecoderConfigurationRecord, AV1CodecConfigurationRecord,
//!   VPCodecConfigurationRecord (vpcC, with its version/flags), AAC
//!   AudioSpecificConfig; others are kept as `Opaque` spans.
//!
//! Anomalies: `rtmp.video.truncated`, `rtmp.audio.truncated`,
//! `rtmp.video.bad_frame_type`, `rtmp.video.unknown_codec`,
//! `rtmp.video.unknown_packet_type`, `rtmp.audio.unknown_packet_type`,
//! `rtmp.media.unknown_fourcc`, `rtmp.media.bad_modex`,
//! `rtmp.media.unknown_modex_type`, `rtmp.media.bad_multitrack_type`,
//! `rtmp.media.nested_multitrack`, `rtmp.media.track_truncated`,
//! `rtmp.media.track_limit`, `rtmp.codec.bad_config`, plus AMF anomalies of
//! Metadata bodies.

use super::message::{Audio, Body, CodecConfig, MediaTrack, Name, Tracks, Video};
use super::reader::{anomaly, Reader};
use crate::amf::Span;
use crate::vocab::{Anomaly, Severity};

/// Most tracks decoded from one multitrack message (the rest is one span).
pub const MAX_TRACKS: usize = 256;
/// Largest SPS (after emulation-prevention removal) parsed for dimensions.
pub const MAX_SPS_BYTES: usize = 4096;

/// E-RTMP video packet types.
pub mod video_packet {
    pub const SEQUENCE_START: u8 = 0;
    pub const CODED_FRAMES: u8 = 1;
    pub const SEQUENCE_END: u8 = 2;
    pub const CODED_FRAMES_X: u8 = 3;
    pub const METADATA: u8 = 4;
    pub const MPEG2TS_SEQUENCE_START: u8 = 5;
    pub const MULTITRACK: u8 = 6;
    pub const MOD_EX: u8 = 7;
}

/// E-RTMP audio packet types.
pub mod audio_packet {
    pub const SEQUENCE_START: u8 = 0;
    pub const CODED_FRAMES: u8 = 1;
    pub const SEQUENCE_END: u8 = 2;
    pub const MULTICHANNEL_CONFIG: u8 = 4;
    pub const MULTITRACK: u8 = 5;
    pub const MOD_EX: u8 = 7;
}

/// Bytes [`header_prefix`] needs to decide (tag byte and FourCC).
pub const PREFIX_DECIDE_BYTES: usize = 5;

/// How many leading bytes of an audio (8) or video (9) body the decoders
/// read, when that body carries coded frames of one track: the rest is
/// payload they only span ([`extend_payload`]), so the chunk layer need
/// not keep it. `first` holds the body's first bytes (at least
/// [`PREFIX_DECIDE_BYTES`] of them, or the whole body). `None`: keep the
/// whole body (sequence headers, configs, metadata, multitrack, ModEx,
/// command frames, anything not recognised).
pub fn header_prefix(type_id: u8, first: &[u8]) -> Option<usize> {
    let b0 = *first.first()?;
    let prefix = match type_id {
        9 if b0 & 0x80 == 0 => {
            if b0 >> 4 == 5 {
                return None;
            }
            match b0 & 0x0f {
                // AVC/HEVC: packet type and composition time; a sequence
                // header (packet type 0) is a config.
                7 | 12 => (*first.get(1)? != 0).then_some(5)?,
                _ => 1,
            }
        }
        9 => {
            if (b0 >> 4) & 0x07 == 5 {
                return None;
            }
            match b0 & 0x0f {
                video_packet::CODED_FRAMES => match first.get(1..5)? {
                    b"avc1" | b"hvc1" => 8,
                    _ => 5,
                },
                video_packet::CODED_FRAMES_X => 5,
                _ => return None,
            }
        }
        8 => match b0 >> 4 {
            9 => (b0 & 0x0f == audio_packet::CODED_FRAMES).then_some(5)?,
            10 => (*first.get(1)? != 0).then_some(2)?,
            _ => 1,
        },
        _ => return None,
    };
    Some(prefix)
}

/// After decoding the first `cut` bytes of a body of `len` bytes (see
/// [`header_prefix`]): track payload spans that ran to the cut run to the
/// end of the body.
pub fn extend_payload(body: &mut Body, cut: usize, len: usize) {
    let tracks = match body {
        Body::Audio(a) => &mut a.tracks,
        Body::Video(v) => &mut v.tracks,
        _ => return,
    };
    for t in tracks {
        if t.payload.end as usize == cut {
            t.payload = Span::new(t.payload.start as usize, len);
        }
    }
}

/// Legacy FLV video codec id name.
pub fn video_codec_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 => "jpeg",
        2 => "h263",
        3 => "screen",
        4 => "vp6",
        5 => "vp6a",
        6 => "screen2",
        7 => "avc",
        12 => "hevc",
        _ => return None,
    })
}

/// Legacy FLV sound format name.
pub fn sound_format_name(f: u8) -> &'static str {
    match f {
        0 => "pcm",
        1 => "adpcm",
        2 => "mp3",
        3 => "pcm_le",
        4 => "nellymoser_16k_mono",
        5 => "nellymoser_8k_mono",
        6 => "nellymoser",
        7 => "g711_alaw",
        8 => "g711_mulaw",
        9 => "ex_header",
        10 => "aac",
        11 => "speex",
        12 => "reserved_12",
        13 => "reserved_13",
        14 => "mp3_8k",
        _ => "device_specific",
    }
}

/// Codec name of a FourCC (`None` when not one E-RTMP defines).
pub fn fourcc_codec(fcc: &[u8]) -> Option<&'static str> {
    Some(match fcc {
        b"avc1" => "avc",
        b"hvc1" => "hevc",
        b"av01" => "av1",
        b"vp09" => "vp9",
        b"vp08" => "vp8",
        b"Opus" => "opus",
        b"fLaC" => "flac",
        b"ac-3" => "ac3",
        b"ec-3" => "eac3",
        b"mp4a" => "aac",
        b".mp3" => "mp3",
        _ => return None,
    })
}

/// snake_case name of an E-RTMP video packet type.
pub fn video_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_start",
        1 => "coded_frames",
        2 => "sequence_end",
        3 => "coded_frames_x",
        4 => "metadata",
        5 => "mpeg2ts_sequence_start",
        6 => "multitrack",
        7 => "mod_ex",
        _ => "unknown",
    }
}

/// snake_case name of an E-RTMP audio packet type.
pub fn audio_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_start",
        1 => "coded_frames",
        2 => "sequence_end",
        4 => "multichannel_config",
        5 => "multitrack",
        7 => "mod_ex",
        _ => "unknown",
    }
}

/// snake_case name of a legacy AVC/HEVC packet type.
pub fn avc_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_header",
        1 => "nalu",
        2 => "end_of_sequence",
        _ => "unknown",
    }
}

fn multitrack_name(t: u8) -> &'static str {
    match t {
        0 => "one_track",
        1 => "many_tracks",
        2 => "many_tracks_many_codecs",
        _ => "unknown",
    }
}

fn fourcc_string(f: &[u8]) -> String {
    String::from_utf8_lossy(f).into_owned()
}

// ---------------------------------------------------------------- video

mod audio;
mod config;
mod exheader;
mod sps;
#[cfg(test)]
mod tests;
mod video;

pub use audio::decode_audio;
pub use config::{
    parse_aac_config, parse_av1_config, parse_avc_config, parse_hevc_config, parse_vp_config,
    AAC_RATES,
};
use exheader::*;
pub use sps::sps_dimensions;
use sps::*;
pub use video::decode_video;
