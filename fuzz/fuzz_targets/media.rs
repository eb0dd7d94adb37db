//! Fuzz target for the audio/video tag decoders, the codec configuration
//! records and the SPS bit reader (`rtmp::media`). The first byte picks the
//! parser. Must never panic; every anomaly range lies inside the input, and
//! SPS dimensions stay within what the bit widths allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpscope::rtmp::media;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    match sel % 8 {
        0 => {
            let _ = media::decode_video(body, &mut out);
        }
        1 => {
            let _ = media::decode_audio(body, &mut out);
        }
        2 => {
            let _ = media::parse_avc_config(body, 0, &mut out);
        }
        3 => {
            let _ = media::parse_hevc_config(body, 0, &mut out);
        }
        4 => {
            let _ = media::parse_av1_config(body, 0, &mut out);
        }
        5 => {
            let _ = media::parse_vp_config(body, 0, &mut out);
        }
        6 => {
            let _ = media::parse_aac_config(body, 0, &mut out);
        }
        _ => {
            if let Some((w, h)) = media::sps_dimensions(body) {
                // pic_width_in_mbs/height come from ue(v) codes of at most
                // 32 bits; the product with 16 must not have wrapped.
                assert!(w <= u32::MAX && h <= u32::MAX);
            }
        }
    }
    for a in &out {
        if let Some(r) = a.range {
            assert!(r.start <= r.end, "{} {:?}", a.name, r);
            assert!(r.end <= body.len() as u64, "{} {:?} past {}", a.name, r, body.len());
        }
    }
});
