//! Audio tags (type 8): legacy FLV sound formats and the Enhanced RTMP
//! ExAudioTagHeader (FourCC, multichannel config, multitrack, ModEx).

use super::*;
use crate::vocab::anomalies;

pub(super) const FLV_RATES: [u32; 4] = [5512, 11025, 22050, 44100];

/// Decodes an audio (type 8) body.
pub fn decode_audio(body: &[u8], out: &mut Vec<Anomaly>) -> Body {
    let mut r = Reader::new(body);
    let Some(b0) = r.u8() else {
        return Body::Raw;
    };
    let sound_format = b0 >> 4;
    if sound_format == 9 {
        return decode_ex_audio(body, b0, r, out);
    }
    let sample_rate = match sound_format {
        4 | 11 => 16000,
        5 | 14 => 8000,
        _ => FLV_RATES[((b0 >> 2) & 3) as usize],
    };
    let mut a = Audio {
        sound_format,
        enhanced: false,
        codec: Name::Borrowed(sound_format_name(sound_format)),
        sample_rate: Some(sample_rate),
        sample_bits: Some(if b0 & 0x02 != 0 { 16 } else { 8 }),
        channels: Some(if b0 & 0x01 != 0 { 2 } else { 1 }),
        packet_type: None,
        packet: None,
        multitrack: None,
        tracks: Tracks::new(),
        timestamp_offset_nanos: None,
    };
    let mut config = None;
    if sound_format == 10 {
        // FLV: for AAC the rate/size/type bits are fixed (44 kHz, 16-bit,
        // stereo) and meaningless; the real values come from the
        // AudioSpecificConfig only.
        a.sample_rate = None;
        a.sample_bits = None;
        a.channels = None;
        let Some(pt) = r.u8() else {
            out.push(anomaly(
                anomalies::RTMP_AUDIO_TRUNCATED,
                0,
                body.len(),
                "AAC audio without its packet type",
            ));
            return Body::Audio(a);
        };
        a.packet_type = Some(pt);
        a.packet = Some(match pt {
            0 => "sequence_header",
            1 => "raw",
            _ => "unknown",
        });
        if pt > 1 {
            out.push(anomaly(
                anomalies::RTMP_AUDIO_UNKNOWN_PACKET_TYPE,
                1,
                2,
                format!("AAC packet type {pt}"),
            ));
        }
        if pt == 0 {
            let c = parse_aac_config(r.rest(), r.pos(), out);
            if let CodecConfig::Aac {
                sample_rate,
                channels,
                ..
            } = &c
            {
                a.sample_rate = Some(*sample_rate).filter(|&x| x != 0);
                a.channels = Some(*channels).filter(|&x| x != 0);
            }
            config = Some(c);
        }
    }
    a.tracks.push(MediaTrack {
        track_id: 0,
        fourcc: None,
        composition_time: None,
        payload: Span::new(r.pos(), body.len()),
        config,
    });
    Body::Audio(a)
}

pub(super) fn decode_ex_audio<'a>(
    body: &'a [u8],
    b0: u8,
    mut r: Reader<'a>,
    out: &mut Vec<Anomaly>,
) -> Body {
    let mut a = Audio {
        sound_format: 9,
        enhanced: true,
        codec: Name::Borrowed("none"),
        sample_rate: None,
        sample_bits: None,
        channels: None,
        packet_type: Some(b0 & 0x0f),
        packet: Some(audio_packet_name(b0 & 0x0f)),
        multitrack: None,
        tracks: Tracks::new(),
        timestamp_offset_nanos: None,
    };
    let Some(h) = ex_header(&mut r, b0 & 0x0f, "audio", audio_packet::MULTITRACK, out) else {
        return Body::Audio(a);
    };
    let pt = h.packet_type;
    a.packet_type = Some(pt);
    a.packet = Some(audio_packet_name(pt));
    a.timestamp_offset_nanos = h.nanos;
    a.multitrack = h.multitrack.map(multitrack_name);
    if audio_packet_name(pt) == "unknown" {
        out.push(anomaly(
            anomalies::RTMP_AUDIO_UNKNOWN_PACKET_TYPE,
            0,
            r.pos(),
            format!("E-RTMP audio packet type {pt}"),
        ));
    }
    let Some(slots) = ex_slots(
        body,
        &mut r,
        h.multitrack,
        anomalies::RTMP_AUDIO_TRUNCATED,
        out,
    ) else {
        return Body::Audio(a);
    };
    for s in slots {
        let bytes = s.bytes(body);
        let mut t = s.track();
        match pt {
            audio_packet::SEQUENCE_START => {
                let c = match s.fourcc {
                    Some(b"mp4a") => parse_aac_config(bytes, s.start, out),
                    _ => CodecConfig::Opaque { span: t.payload },
                };
                if let CodecConfig::Aac {
                    sample_rate,
                    channels,
                    ..
                } = &c
                {
                    if a.sample_rate.is_none() && *sample_rate != 0 {
                        a.sample_rate = Some(*sample_rate);
                    }
                    if a.channels.is_none() && *channels != 0 {
                        a.channels = Some(*channels);
                    }
                }
                t.config = Some(c);
            }
            audio_packet::MULTICHANNEL_CONFIG => {
                // audioChannelOrder UI8, channelCount UI8, then a mapping
                // (custom) or a UI32 mask (native).
                if let (Some(_order), Some(count)) = (bytes.first(), bytes.get(1)) {
                    if a.channels.is_none() {
                        a.channels = Some(*count);
                    }
                } else {
                    out.push(anomaly(
                        anomalies::RTMP_AUDIO_TRUNCATED,
                        s.start,
                        s.end,
                        "multichannel config shorter than 2 bytes",
                    ));
                }
            }
            _ => {}
        }
        a.tracks.push(t);
    }
    a.codec = tracks_codec(&a.tracks);
    Body::Audio(a)
}

// ---------------------------------------------------------------- configs
