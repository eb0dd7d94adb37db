//! Unit tests of the audio/video tag decoders and codec configurations.

use super::*;
use crate::amf::{AmfStr, ValueKind};
use crate::rtmp::testutil::amf0w;

/// MSB-first bit writer with exp-Golomb, for building SPS/ASC vectors.
struct W {
    bytes: Vec<u8>,
    n: usize,
}
impl W {
    fn new() -> Self {
        W {
            bytes: Vec::new(),
            n: 0,
        }
    }
    fn put(&mut self, v: u64, bits: u32) -> &mut Self {
        for i in (0..bits).rev() {
            if self.n.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((v >> i) & 1) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= bit << (7 - self.n % 8);
            self.n += 1;
        }
        self
    }
    fn ue(&mut self, v: u32) -> &mut Self {
        let x = v as u64 + 1;
        let len = 64 - x.leading_zeros();
        self.put(0, len - 1);
        self.put(x, len)
    }
    fn se(&mut self, v: i32) -> &mut Self {
        let k = if v > 0 { 2 * v - 1 } else { -2 * v };
        self.ue(k as u32)
    }
    fn done(&mut self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// RBSP -> NAL payload with emulation prevention bytes.
fn add_ep(rbsp: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            v.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        v.push(b);
    }
    v
}

/// Baseline 1280x720 SPS NAL (header 0x67).
fn sps_720p() -> Vec<u8> {
    let mut w = W::new();
    w.put(66, 8).put(0, 8).put(31, 8).ue(0);
    w.ue(0).ue(2).ue(1).put(0, 1).ue(79).ue(44);
    w.put(1, 1).put(1, 1).put(0, 1).put(0, 1).put(1, 1);
    let mut v = vec![0x67];
    v.extend(add_ep(&w.done()));
    v
}

/// High profile 1920x1080 SPS (1088 coded, 8 rows cropped), with a
/// scaling matrix and POC type 1 to exercise those paths.
fn sps_1080p() -> Vec<u8> {
    let mut w = W::new();
    w.put(100, 8).put(0, 8).put(40, 8).ue(0);
    w.ue(1).ue(0).ue(0).put(0, 1);
    w.put(1, 1); // seq_scaling_matrix_present
    w.put(1, 1); // list 0 present
    for _ in 0..16 {
        w.se(1);
    }
    for _ in 1..8 {
        w.put(0, 1);
    }
    w.ue(0).ue(1); // log2_max_frame_num, poc type 1
    w.put(0, 1).se(-3).se(2).ue(2).se(1).se(-1);
    w.ue(4).put(0, 1).ue(119).ue(67);
    w.put(1, 1).put(1, 1).put(1, 1).ue(0).ue(0).ue(0).ue(4);
    w.put(0, 1).put(1, 1);
    let mut v = vec![0x67];
    v.extend(add_ep(&w.done()));
    v
}

fn avcc(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut v = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    v.extend_from_slice(sps);
    v.push(1);
    v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    v.extend_from_slice(pps);
    v
}

fn hvcc() -> Vec<u8> {
    let mut v = vec![
        1, 0x21, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xf0, 0, 0xfc,
    ];
    v.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0, 0, 0x0f]);
    v.push(2); // arrays
    v.extend_from_slice(&[0x20, 0, 1, 0, 2, 0x40, 0x01]); // VPS, 1 nalu
    v.extend_from_slice(&[0x21, 0, 2, 0, 1, 0x42, 0, 1, 0x42]); // SPS x2
    v
}

fn av1c() -> Vec<u8> {
    // profile 0, level 8, tier 0, high bitdepth (10-bit), 4:2:0
    vec![0x81, 0x08, 0x4c, 0x00]
}

fn vpcc() -> Vec<u8> {
    // version 1, flags 0, profile 2, level 31, bit depth 10, ...
    vec![1, 0, 0, 0, 2, 31, 0xa2, 1, 1, 1, 0, 0]
}

fn video(b: &[u8]) -> (Video, Vec<Anomaly>) {
    let mut out = Vec::new();
    match decode_video(b, &mut out) {
        Body::Video(v) => (v, out),
        other => panic!("{other:?}"),
    }
}

fn audio(b: &[u8]) -> (Audio, Vec<Anomaly>) {
    let mut out = Vec::new();
    match decode_audio(b, &mut out) {
        Body::Audio(a) => (a, out),
        other => panic!("{other:?}"),
    }
}

fn names(a: &[Anomaly]) -> Vec<&'static str> {
    a.iter().map(|a| a.name).collect()
}

#[test]
fn sps_dimension_parser() {
    assert_eq!(sps_dimensions(&sps_720p()), Some((1280, 720)));
    assert_eq!(sps_dimensions(&sps_1080p()), Some((1920, 1080)));
    assert_eq!(sps_dimensions(&[0x67, 66]), None);
    // Emulation prevention bytes are removed before parsing.
    let mut w = W::new();
    // level 0, then sps id 63 starts with 0b0000_0010: 00 00 02 -> EP.
    w.put(66, 8).put(0, 8).put(0, 8).ue(63);
    w.ue(0).ue(2).ue(0).put(0, 1).ue(0).ue(0);
    w.put(1, 1).put(1, 1).put(0, 1).put(0, 1).put(1, 1);
    let rbsp = w.done();
    let mut nal = vec![0x67];
    nal.extend(add_ep(&rbsp));
    assert!(nal.len() > rbsp.len() + 1, "vector must contain EP bytes");
    assert_eq!(sps_dimensions(&nal), Some((16, 16)));
}

#[test]
fn sps_extreme_scaling_delta_does_not_overflow() {
    let mut w = W::new();
    w.put(100, 8).put(0, 8).put(40, 8).ue(0);
    w.ue(1).ue(0).ue(0).put(0, 1).put(1, 1).put(1, 1);
    w.ue(u32::MAX - 2); // delta_scale = 2^31 - 1
    w.put(0, 64);
    let mut nal = vec![0x67];
    nal.extend(add_ep(&w.done()));
    // Parses on (or gives up) without arithmetic overflow.
    let _ = sps_dimensions(&nal);
    let mut r = Bits::new(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(r.ue(), Some((1 << 31) - 1 + 0x7fff_ffff));
}

#[test]
fn legacy_avc_sequence_header() {
    let sps = sps_720p();
    let pps = [0x68, 0xce, 0x3c, 0x80];
    let mut b = vec![0x17, 0, 0, 0, 0];
    b.extend(avcc(&sps, &pps));
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert!(v.keyframe && !v.enhanced);
    assert_eq!(v.codec, "avc");
    assert_eq!(v.codec_id, Some(7));
    assert_eq!(v.packet, Some("sequence_header"));
    assert_eq!(v.composition_time, Some(0));
    let t = &v.tracks[0];
    assert_eq!(t.payload, Span::new(5, b.len()));
    match t.config.as_ref().unwrap() {
        CodecConfig::Avc {
            profile,
            level,
            nalu_length_size,
            sps: s,
            pps: p,
            width,
            height,
            ..
        } => {
            assert_eq!((*profile, *level, *nalu_length_size), (66, 31, 4));
            assert_eq!(s, &vec![Span::new(13, 13 + sps.len())]);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].len(), 4);
            assert_eq!(&b[p[0].start as usize..p[0].end as usize], &pps);
            assert_eq!((*width, *height), (Some(1280), Some(720)));
        }
        c => panic!("{c:?}"),
    }
}

#[test]
fn legacy_avc_nalu_and_negative_cts() {
    let b = [0x27, 1, 0xff, 0xff, 0xfe, 0, 0, 0, 2, 0x41, 0x9a];
    let (v, a) = video(&b);
    assert!(a.is_empty());
    assert_eq!(v.frame_type, 2);
    assert!(!v.keyframe);
    assert_eq!(v.packet, Some("nalu"));
    assert_eq!(v.composition_time, Some(-2));
    assert_eq!(v.tracks[0].payload, Span::new(5, 11));
    assert!(v.tracks[0].config.is_none());
    let (v, _) = video(&[0x17, 2, 0, 0, 0]);
    assert_eq!(v.packet, Some("end_of_sequence"));
    let (_, a) = video(&[0x17, 1, 0]);
    assert_eq!(names(&a), ["rtmp.video.truncated"]);
}

#[test]
fn legacy_hevc_codec_12() {
    let mut b = vec![0x1c, 0, 0, 0, 0];
    b.extend(hvcc());
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.codec, "hevc");
    match v.tracks[0].config.as_ref().unwrap() {
        CodecConfig::Hevc {
            profile,
            tier,
            level,
            nalu_length_size,
            arrays,
        } => {
            assert_eq!((*profile, *tier, *level, *nalu_length_size), (1, 1, 93, 4));
            assert_eq!(arrays, &vec![(32, 1), (33, 2)]);
        }
        c => panic!("{c:?}"),
    }
    let (v, _) = video(&[0x2c, 1, 0, 0, 0x21, 0xaa]);
    assert_eq!(v.composition_time, Some(0x21));
    // Truncated HVCC arrays.
    let mut b = vec![0x1c, 0, 0, 0, 0];
    let h = hvcc();
    b.extend_from_slice(&h[..h.len() - 2]);
    let (_, a) = video(&b);
    assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
}

#[test]
fn legacy_other_codecs() {
    for (b0, ft, codec) in [
        (0x12u8, 1u8, "h263"),
        (0x23, 2, "screen"),
        (0x34, 3, "vp6"),
        (0x15, 1, "vp6a"),
        (0x26, 2, "screen2"),
        (0x41, 4, "jpeg"),
    ] {
        let (v, a) = video(&[b0, 9, 9]);
        assert!(a.is_empty(), "{codec}");
        assert_eq!(v.codec, codec);
        assert_eq!(v.frame_type, ft);
        assert_eq!(v.packet_type, None);
        assert_eq!(v.tracks[0].payload, Span::new(1, 3));
    }
    let (v, a) = video(&[0x52, 1]);
    assert_eq!(v.frame_type, 5);
    assert_eq!(v.command, Some(1));
    assert!(a.is_empty());
    let (v, a) = video(&[0x1f, 0]);
    assert_eq!(v.codec, "unknown_15");
    assert_eq!(names(&a), ["rtmp.video.unknown_codec"]);
    let (_, a) = video(&[0x02]);
    assert_eq!(names(&a), ["rtmp.video.bad_frame_type"]);
}

fn ex(b0: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    v.extend_from_slice(fourcc);
    v.extend_from_slice(rest);
    v
}

#[test]
fn erwtmp_sequence_starts() {
    let (v, a) = video(&ex(0x90, b"hvc1", &hvcc()));
    assert!(a.is_empty(), "{a:?}");
    assert!(v.enhanced && v.keyframe);
    assert_eq!(v.codec, "hevc");
    assert_eq!(v.codec_id, None);
    assert_eq!(v.packet, Some("sequence_start"));
    assert_eq!(v.tracks[0].fourcc.as_deref(), Some("hvc1"));
    assert!(matches!(
        v.tracks[0].config,
        Some(CodecConfig::Hevc { level: 93, .. })
    ));
    let (v, _) = video(&ex(0x90, b"avc1", &avcc(&sps_1080p(), &[0x68, 1])));
    assert!(matches!(
        v.tracks[0].config,
        Some(CodecConfig::Avc {
            width: Some(1920),
            height: Some(1080),
            ..
        })
    ));
    let (v, a) = video(&ex(0x90, b"av01", &av1c()));
    assert!(a.is_empty());
    assert_eq!(v.codec, "av1");
    assert_eq!(
        v.tracks[0].config,
        Some(CodecConfig::Av1 {
            profile: 0,
            level: 8,
            tier: 0,
            bit_depth: 10,
            monochrome: false
        })
    );
    let (v, _) = video(&ex(0x90, b"vp09", &vpcc()));
    assert_eq!(v.codec, "vp9");
    assert_eq!(
        v.tracks[0].config,
        Some(CodecConfig::Vp {
            profile: 2,
            level: 31,
            bit_depth: 10
        })
    );
    let (v, _) = video(&ex(0x90, b"vp08", &vpcc()));
    assert_eq!(v.codec, "vp8");
    // Bare record without version/flags.
    let (v, a) = video(&ex(0x90, b"vp09", &vpcc()[4..]));
    assert!(a.is_empty());
    assert_eq!(
        v.tracks[0].config,
        Some(CodecConfig::Vp {
            profile: 2,
            level: 31,
            bit_depth: 10
        })
    );
    let (_, a) = video(&ex(0x90, b"vp09", &[1, 0, 0, 0, 2]));
    assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
    let (v, a) = video(&ex(0x90, b"av01", &[0x81]));
    assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
    assert!(matches!(
        v.tracks[0].config,
        Some(CodecConfig::Opaque { .. })
    ));
}

#[test]
fn ertmp_coded_frames_cts_only_for_avc_hevc() {
    for f in [b"avc1", b"hvc1"] {
        let (v, a) = video(&ex(0xa1, f, &[0, 0, 0x28, 7, 7]));
        assert!(a.is_empty());
        assert_eq!(v.frame_type, 2);
        assert_eq!(v.packet, Some("coded_frames"));
        assert_eq!(v.composition_time, Some(40));
        assert_eq!(v.tracks[0].composition_time, Some(40));
        assert_eq!(v.tracks[0].payload, Span::new(8, 10));
    }
    for f in [b"av01", b"vp09", b"vp08"] {
        let (v, _) = video(&ex(0xa1, f, &[0, 0, 0x28, 7, 7]));
        assert_eq!(v.composition_time, None);
        assert_eq!(v.tracks[0].payload, Span::new(5, 10));
    }
    let (v, _) = video(&ex(0xa3, b"hvc1", &[7, 7]));
    assert_eq!(v.packet, Some("coded_frames_x"));
    assert_eq!(v.composition_time, None);
    assert_eq!(v.tracks[0].payload, Span::new(5, 7));
    let (v, _) = video(&ex(0x92, b"av01", &[]));
    assert_eq!(v.packet, Some("sequence_end"));
    assert!(v.tracks[0].payload.is_empty());
    let (v, _) = video(&ex(0x95, b"av01", &[1, 2, 3]));
    assert_eq!(v.packet, Some("mpeg2ts_sequence_start"));
    assert_eq!(
        v.tracks[0].config,
        Some(CodecConfig::Opaque {
            span: Span::new(5, 8)
        })
    );
    let (_, a) = video(&[0x91, b'h', b'v']);
    assert_eq!(names(&a), ["rtmp.video.truncated"]);
    let (_, a) = video(&ex(0x91, b"xyz1", &[]));
    assert_eq!(names(&a), ["rtmp.media.unknown_fourcc"]);
}

#[test]
fn ertmp_metadata() {
    let amf = amf0w::cat(&[
        amf0w::s("colorInfo"),
        amf0w::obj(&[("colorConfig", amf0w::obj(&[("bitDepth", amf0w::n(10.0))]))]),
    ]);
    let (v, a) = video(&ex(0x94, b"hvc1", &amf));
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.packet, Some("metadata"));
    assert_eq!(v.metadata.len(), 2);
    assert_eq!(v.metadata[0].as_str(), Some(&AmfStr::from("colorInfo")));
    assert_eq!(v.metadata[0].span.start, 5);
    let depth = v.metadata[1]
        .get("colorConfig")
        .and_then(|c| c.get("bitDepth"))
        .and_then(|d| d.as_f64());
    assert_eq!(depth, Some(10.0));
}

#[test]
fn ertmp_command_frame() {
    let (v, a) = video(&[0xd1, 0x01]);
    assert!(a.is_empty());
    assert_eq!(v.frame_type, 5);
    assert_eq!(v.command, Some(1));
    assert!(v.tracks.is_empty());
    let (_, a) = video(&[0xd1]);
    assert_eq!(names(&a), ["rtmp.video.truncated"]);
}

#[test]
fn ertmp_modex_timestamp_offset_nano() {
    // ModEx: size-1 = 2 (3 bytes of data), type 0 / next packet type 1.
    let b = [
        0x97, 0x02, 0x0f, 0x42, 0x3f, 0x01, b'a', b'v', b'c', b'1', 0, 0, 0x21, 0xee,
    ];
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.timestamp_offset_nanos, Some(999_999));
    assert_eq!(v.packet, Some("coded_frames"));
    assert_eq!(v.composition_time, Some(0x21));
    assert_eq!(v.tracks[0].payload, Span::new(13, 14));
    // 16-bit ModEx size: 0xff then UI16 (size 257), unknown ModEx type 3.
    let mut b = vec![0x97, 0xff, 0x01, 0x00];
    b.extend(std::iter::repeat_n(0u8, 257));
    b.push(0x33);
    b.extend_from_slice(b"hvc1");
    b.push(9);
    let (v, a) = video(&b);
    assert_eq!(names(&a), ["rtmp.media.unknown_modex_type"]);
    assert_eq!(v.packet, Some("coded_frames_x"));
    assert_eq!(v.tracks[0].payload, Span::new(b.len() - 1, b.len()));
    // Chained ModEx then truncated.
    let (_, a) = video(&[0x97, 0x02, 1, 2, 3, 0x07, 0x05]);
    assert_eq!(names(&a), ["rtmp.media.bad_modex"]);
    // Nano offset too short (1 byte of data).
    let (v, a) = video(&[0x97, 0x00, 5, 0x03, b'a', b'v', b'0', b'1']);
    assert_eq!(names(&a), ["rtmp.media.bad_modex"]);
    assert_eq!(v.timestamp_offset_nanos, None);
}

#[test]
fn ertmp_multitrack() {
    // OneTrack: multitrack byte 0x01 (one_track, coded frames).
    let b = [0x96, 0x01, b'h', b'v', b'c', b'1', 3, 0, 0, 5, 0xaa];
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.packet, Some("coded_frames"));
    assert_eq!(v.multitrack, Some("one_track"));
    assert_eq!(v.tracks.len(), 1);
    assert_eq!(v.tracks[0].track_id, 3);
    assert_eq!(v.tracks[0].composition_time, Some(5));
    assert_eq!(v.tracks[0].payload, Span::new(10, 11));
    // ManyTracks, CodedFramesX, sizes UI24.
    let b = [
        0x96, 0x13, b'a', b'v', b'c', b'1', 0, 0, 0, 3, 1, 2, 3, 1, 0, 0, 2, 4, 5,
    ];
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.multitrack, Some("many_tracks"));
    assert_eq!(v.codec, "avc");
    let p: Vec<_> = v.tracks.iter().map(|t| (t.track_id, t.payload)).collect();
    assert_eq!(p, [(0, Span::new(10, 13)), (1, Span::new(17, 19))]);
    // ManyTracksManyCodecs, SequenceStart: per-track FourCC and config.
    let mut b = vec![0x96, 0x20];
    b.extend_from_slice(b"av01");
    b.extend_from_slice(&[0, 0, 0, 4]);
    b.extend(av1c());
    b.extend_from_slice(b"vp09");
    b.extend_from_slice(&[1, 0, 0, 12]);
    b.extend(vpcc());
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.multitrack, Some("many_tracks_many_codecs"));
    assert_eq!(v.codec, "mixed");
    assert!(matches!(v.tracks[0].config, Some(CodecConfig::Av1 { .. })));
    assert!(matches!(v.tracks[1].config, Some(CodecConfig::Vp { .. })));
    assert_eq!(v.tracks[1].fourcc.as_deref(), Some("vp09"));
    // Track size past the end.
    let b = [0x96, 0x13, b'a', b'v', b'c', b'1', 0, 0, 0, 9, 1, 2];
    let (v, a) = video(&b);
    assert_eq!(names(&a), ["rtmp.media.track_truncated"]);
    assert_eq!(v.tracks[0].payload, Span::new(10, 12));
    // Multitrack inside multitrack.
    let (_, a) = video(&[0x96, 0x16, b'a']);
    assert_eq!(names(&a), ["rtmp.media.nested_multitrack"]);
    // ModEx before multitrack.
    let b = [
        0x97, 0x02, 0, 0, 9, 0x06, 0x03, b'a', b'v', b'c', b'1', 2, 0xee,
    ];
    let (v, a) = video(&b);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(v.timestamp_offset_nanos, Some(9));
    assert_eq!(v.multitrack, Some("one_track"));
    assert_eq!(v.tracks[0].track_id, 2);
}

#[test]
fn legacy_audio_formats() {
    for f in 0u8..16 {
        if f == 9 {
            continue;
        }
        let (a, _) = audio(&[f << 4 | 0x0f, 0, 0]);
        assert_eq!(a.codec, sound_format_name(f));
        assert_eq!(a.sound_format, f);
        assert!(!a.enhanced);
    }
    let (a, an) = audio(&[0x2e, 0xff, 0xfb]);
    assert!(an.is_empty());
    assert_eq!(a.codec, "mp3");
    assert_eq!(
        (a.sample_rate, a.sample_bits, a.channels),
        (Some(44100), Some(16), Some(1))
    );
    assert_eq!(a.tracks[0].payload, Span::new(1, 3));
    let (a, _) = audio(&[0x61]);
    assert_eq!(
        (a.sample_rate, a.sample_bits, a.channels),
        (Some(5512), Some(8), Some(2))
    );
    let (a, _) = audio(&[0x52]);
    assert_eq!(a.sample_rate, Some(8000));
    let (a, _) = audio(&[0xb6]);
    assert_eq!((&*a.codec, a.sample_rate), ("speex", Some(16000)));
}

#[test]
fn legacy_aac() {
    let (a, an) = audio(&[0xaf, 0x00, 0x12, 0x10]);
    assert!(an.is_empty());
    assert_eq!(a.codec, "aac");
    assert_eq!(a.packet, Some("sequence_header"));
    assert_eq!(
        a.tracks[0].config,
        Some(CodecConfig::Aac {
            object_type: 2,
            sample_rate: 44100,
            channels: 2
        })
    );
    // Explicit frequency (index 15) and mono: rate/channels come from ASC.
    let mut w = W::new();
    w.put(2, 5).put(15, 4).put(48000, 24).put(1, 4).put(0, 3);
    let mut b = vec![0xaf, 0x00];
    b.extend(w.done());
    let (a, _) = audio(&b);
    assert_eq!((a.sample_rate, a.channels), (Some(48000), Some(1)));
    // Escaped object type 31 -> 32 + 6 bits (here 42 - 32 = 10).
    let mut w = W::new();
    w.put(31, 5).put(10, 6).put(3, 4).put(6, 4).put(0, 5);
    let mut b = vec![0xaf, 0x00];
    b.extend(w.done());
    let (a, _) = audio(&b);
    assert_eq!(
        a.tracks[0].config,
        Some(CodecConfig::Aac {
            object_type: 42,
            sample_rate: 48000,
            channels: 6
        })
    );
    let (a, an) = audio(&[0xaf, 0x01, 0x21, 0x1b]);
    assert!(an.is_empty());
    assert_eq!(a.packet, Some("raw"));
    assert_eq!((a.sample_rate, a.channels), (None, None));
    assert_eq!(a.tracks[0].payload, Span::new(2, 4));
    let (_, an) = audio(&[0xaf, 0x00, 0x12]);
    assert_eq!(names(&an), ["rtmp.codec.bad_config"]);
    let (_, an) = audio(&[0xaf]);
    assert_eq!(names(&an), ["rtmp.audio.truncated"]);
    let (_, an) = audio(&[0xaf, 0x00, 0x16, 0x90]);
    assert_eq!(names(&an), ["rtmp.codec.bad_config"]);
}

#[test]
fn ertmp_audio() {
    let (a, an) = audio(&ex(0x90, b"mp4a", &[0x11, 0x90]));
    assert!(an.is_empty(), "{an:?}");
    assert!(a.enhanced);
    assert_eq!(a.codec, "aac");
    assert_eq!(a.packet, Some("sequence_start"));
    assert_eq!((a.sample_rate, a.channels), (Some(48000), Some(2)));
    for (f, name) in [
        (b"Opus", "opus"),
        (b"fLaC", "flac"),
        (b"ac-3", "ac3"),
        (b"ec-3", "eac3"),
        (b".mp3", "mp3"),
    ] {
        let (a, an) = audio(&ex(0x91, f, &[1, 2]));
        assert!(an.is_empty());
        assert_eq!(a.codec, name);
        assert_eq!(a.packet, Some("coded_frames"));
        assert_eq!(a.tracks[0].payload, Span::new(5, 7));
    }
    let (a, _) = audio(&ex(0x90, b"fLaC", &[0, 0, 0, 0x22]));
    assert_eq!(
        a.tracks[0].config,
        Some(CodecConfig::Opaque {
            span: Span::new(5, 9)
        })
    );
    let (a, _) = audio(&ex(0x92, b"Opus", &[]));
    assert_eq!(a.packet, Some("sequence_end"));
    // MultichannelConfig: native order, 6 channels, mask.
    let (a, an) = audio(&ex(0x94, b"Opus", &[1, 6, 0, 0, 0, 0x3f]));
    assert!(an.is_empty());
    assert_eq!(a.packet, Some("multichannel_config"));
    assert_eq!(a.channels, Some(6));
    // Multitrack ManyTracks CodedFrames.
    let mut b = vec![0x95, 0x11];
    b.extend_from_slice(b"Opus");
    b.extend_from_slice(&[0, 0, 0, 2, 9, 9, 1, 0, 0, 1, 8]);
    let (a, an) = audio(&b);
    assert!(an.is_empty(), "{an:?}");
    assert_eq!(a.multitrack, Some("many_tracks"));
    let p: Vec<_> = a.tracks.iter().map(|t| (t.track_id, t.payload)).collect();
    assert_eq!(p, [(0, Span::new(10, 12)), (1, Span::new(16, 17))]);
    // Multitrack ManyTracksManyCodecs.
    let mut b = vec![0x95, 0x21];
    b.extend_from_slice(b"Opus");
    b.extend_from_slice(&[0, 0, 0, 1, 9]);
    b.extend_from_slice(b"ac-3");
    b.extend_from_slice(&[1, 0, 0, 1, 8]);
    let (a, an) = audio(&b);
    assert!(an.is_empty(), "{an:?}");
    assert_eq!(a.codec, "mixed");
    assert_eq!(a.tracks[1].fourcc.as_deref(), Some("ac-3"));
    // ModEx then CodedFrames.
    let b = [0x97, 0x02, 0, 1, 0, 0x01, b'O', b'p', b'u', b's', 7];
    let (a, an) = audio(&b);
    assert!(an.is_empty(), "{an:?}");
    assert_eq!(a.timestamp_offset_nanos, Some(256));
    assert_eq!(a.packet, Some("coded_frames"));
    assert_eq!(a.tracks[0].payload, Span::new(10, 11));
    // Nested multitrack, unknown packet type.
    let (_, an) = audio(&[0x95, 0x05]);
    assert_eq!(names(&an), ["rtmp.media.nested_multitrack"]);
    let (_, an) = audio(&ex(0x9c, b"Opus", &[]));
    assert_eq!(names(&an), ["rtmp.audio.unknown_packet_type"]);
    let (v, _) = audio(&[0x9c]);
    assert!(v.tracks.is_empty());
    let _ = ValueKind::Null;
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn sps_and_configs_never_panic(
            head in prop::sample::select(vec![66u8, 77, 100, 110, 122, 244]),
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut nal = vec![0x67, head];
            nal.extend_from_slice(&bytes);
            let _ = sps_dimensions(&nal);
            let mut out = Vec::new();
            let _ = parse_avc_config(&bytes, 7, &mut out);
            let _ = parse_hevc_config(&bytes, 7, &mut out);
            let _ = parse_av1_config(&bytes, 7, &mut out);
            let _ = parse_vp_config(&bytes, 7, &mut out);
            let _ = parse_aac_config(&bytes, 7, &mut out);
            for a in &out {
                let r = a.range.unwrap();
                prop_assert!(r.start >= 7 && r.end <= 7 + bytes.len() as u64);
            }
        }
    }
}

/// The chunk layer keeps only `header_prefix` bytes of coded-frame bodies:
/// decoding that prefix (payload spans extended to the end) must give the
/// same body and anomalies as decoding the whole body; bodies the decoders
/// read further (configs, multitrack, ModEx, metadata, command frames) are
/// kept whole.
#[test]
fn header_prefix_decodes_like_the_whole_body() {
    let pay = [0xAAu8; 300];
    let with = |head: &[u8]| [head, &pay[..]].concat();
    let cut: Vec<(u8, Vec<u8>)> = vec![
        (9, with(&[0x27, 0x01, 0xff, 0xff, 0xf6])), // AVC NALU, cts -10
        (9, with(&[0x1c, 0x01, 0, 0, 0])),          // HEVC (codec 12) NALU
        (9, with(&[0x22])),                         // h263
        (9, with(&[0x91, b'h', b'v', b'c', b'1', 0, 0, 40])), // E-RTMP CodedFrames
        (9, with(&[0x93, b'a', b'v', b'0', b'1'])), // CodedFramesX
        (9, with(&[0x91, b'z', b'z', b'z', b'z'])), // unknown FourCC
        (8, with(&[0xaf, 0x01])),                   // AAC raw
        (8, with(&[0x2f])),                         // MP3
        (8, with(&[0x91, b'O', b'p', b'u', b's'])), // E-RTMP Opus frames
    ];
    for (t, body) in &cut {
        let k = header_prefix(*t, &body[..PREFIX_DECIDE_BYTES]).expect("header only");
        assert!(k <= 8, "{k}");
        let (mut whole_an, mut cut_an) = (Vec::new(), Vec::new());
        let decode = |b: &[u8], out: &mut Vec<Anomaly>| {
            if *t == 9 {
                decode_video(b, out)
            } else {
                decode_audio(b, out)
            }
        };
        let whole = decode(body, &mut whole_an);
        let mut part = decode(&body[..k], &mut cut_an);
        extend_payload(&mut part, k, body.len());
        assert_eq!(format!("{part:?}"), format!("{whole:?}"), "{body:02x?}");
        assert_eq!(names(&cut_an), names(&whole_an));
    }
    let whole: Vec<(u8, Vec<u8>)> = vec![
        (9, with(&[0x17, 0x00, 0, 0, 0])),          // AVC sequence header
        (9, with(&[0x57, 0x01, 0, 0, 0])),          // command frame
        (9, with(&[0x90, b'a', b'v', b'c', b'1'])), // SequenceStart
        (9, with(&[0x96, 0x01, b'a', b'v', b'c'])), // Multitrack
        (9, with(&[0x97, 0x00, 0x00, 0x00])),       // ModEx
        (9, with(&[0x94, b'a', b'v', b'c', b'1'])), // Metadata
        (8, with(&[0xaf, 0x00])),                   // AAC sequence header
        (8, with(&[0x90, b'O', b'p', b'u', b's'])), // E-RTMP SequenceStart
        (8, with(&[0x95, 0x00, b'O', b'p', b'u'])), // Multitrack
        (18, with(&[0x02, 0x00])),                  // not media
    ];
    for (t, body) in &whole {
        assert_eq!(
            header_prefix(*t, &body[..PREFIX_DECIDE_BYTES]),
            None,
            "{body:02x?}"
        );
    }
}
