//! Codec configuration records carried by sequence headers:
//! AVCDecoderConfigurationRecord, HEVCDecoderConfigurationRecord,
//! AV1CodecConfigurationRecord, VPCodecConfigurationRecord and AAC
//! AudioSpecificConfig. A malformed record becomes `rtmp.codec.bad_config`
//! and an `Opaque` span; nothing is read past the record's bytes.

use super::*;
use crate::vocab::anomalies;

pub(super) fn bad_config(
    out: &mut Vec<Anomaly>,
    sev: Severity,
    start: usize,
    end: usize,
    d: String,
) {
    out.push(anomaly(
        anomalies::RTMP_CODEC_BAD_CONFIG.at(sev),
        start,
        end,
        d,
    ));
}

/// Reports an unreadable codec config (an error) and keeps its bytes opaque.
pub(super) fn bad_config_opaque(
    out: &mut Vec<Anomaly>,
    base: usize,
    end: usize,
    d: String,
) -> CodecConfig {
    bad_config(out, Severity::Error, base, end, d);
    CodecConfig::Opaque {
        span: Span::new(base, end),
    }
}

/// AVCDecoderConfigurationRecord at body offset `base`.
pub fn parse_avc_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let mut r = Reader::new(b);
    let (Some(version), Some(profile), Some(compatibility), Some(level), Some(ls), Some(ns)) =
        (r.u8(), r.u8(), r.u8(), r.u8(), r.u8(), r.u8())
    else {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("AVC config is {} bytes, shorter than 6", b.len()),
        );
    };
    if version != 1 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!("AVC config version {version}"),
        );
    }
    let mut sps = Vec::new();
    let mut pps = Vec::new();
    let mut ok = read_param_sets(&mut r, (ns & 0x1f) as usize, base, &mut sps);
    if ok {
        match r.u8() {
            Some(np) => ok = read_param_sets(&mut r, np as usize, base, &mut pps),
            None => ok = false,
        }
    }
    if !ok {
        bad_config(
            out,
            Severity::Error,
            base,
            end,
            "AVC config parameter sets run past the end".to_string(),
        );
    }
    let dims = sps
        .first()
        .and_then(|s| b.get(s.start as usize - base..s.end as usize - base))
        .and_then(sps_dimensions);
    CodecConfig::Avc {
        profile,
        compatibility,
        level,
        nalu_length_size: (ls & 3) + 1,
        sps,
        pps,
        width: dims.map(|d| d.0),
        height: dims.map(|d| d.1),
    }
}

pub(super) fn read_param_sets(r: &mut Reader, n: usize, base: usize, v: &mut Vec<Span>) -> bool {
    for _ in 0..n {
        let Some(len) = r.u16() else { return false };
        let start = r.pos();
        if r.take(len as usize).is_none() {
            return false;
        }
        v.push(Span::new(base + start, base + r.pos()));
    }
    true
}

/// HEVCDecoderConfigurationRecord at body offset `base`.
pub fn parse_hevc_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    if b.len() < 23 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("HEVC config is {} bytes, shorter than 23", b.len()),
        );
    }
    let version = b[0];
    if version != 1 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!("HEVC config version {version}"),
        );
    }
    let mut r = Reader::at(b, 22);
    let n = r.u8().unwrap_or(0);
    let mut arrays = Vec::new();
    let mut ok = true;
    'arrays: for _ in 0..n {
        let (Some(t), Some(count)) = (r.u8(), r.u16()) else {
            ok = false;
            break;
        };
        for _ in 0..count {
            let Some(len) = r.u16() else {
                ok = false;
                break 'arrays;
            };
            if !r.skip(len as usize) {
                ok = false;
                break 'arrays;
            }
        }
        arrays.push((t & 0x3f, count));
    }
    if !ok {
        bad_config(
            out,
            Severity::Error,
            base,
            end,
            "HEVC config NAL arrays run past the end".to_string(),
        );
    }
    CodecConfig::Hevc {
        profile: b[1] & 0x1f,
        tier: (b[1] >> 5) & 1,
        level: b[12],
        nalu_length_size: (b[21] & 3) + 1,
        arrays,
    }
}

/// AV1CodecConfigurationRecord at body offset `base`.
pub fn parse_av1_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    if b.len() < 4 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("AV1 config is {} bytes, shorter than 4", b.len()),
        );
    }
    if b[0] != 0x81 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!(
                "AV1 config marker/version byte 0x{:02x}, expected 0x81",
                b[0]
            ),
        );
    }
    let high = b[2] & 0x40 != 0;
    let twelve = b[2] & 0x20 != 0;
    CodecConfig::Av1 {
        profile: b[1] >> 5,
        level: b[1] & 0x1f,
        tier: b[2] >> 7,
        bit_depth: match (high, twelve) {
            (false, _) => 8,
            (true, false) => 10,
            (true, true) => 12,
        },
        monochrome: b[2] & 0x10 != 0,
    }
}

/// VPCodecConfigurationRecord at body offset `base`: the vpcC box content
/// (version 1, 24-bit flags 0, then the record) as ffmpeg writes it; a bare
/// record (no version/flags) is recognised by non-zero bytes where the flags
/// would be.
pub fn parse_vp_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let full_box = b.len() >= 4 && b[1..4] == [0, 0, 0];
    let rec = if full_box { &b[4..] } else { b };
    if rec.len() < 3 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("VP config is {} bytes, too short", b.len()),
        );
    }
    CodecConfig::Vp {
        profile: rec[0],
        level: rec[1],
        bit_depth: rec[2] >> 4,
    }
}

/// AAC sampling frequency table (ISO/IEC 14496-3), index 0-12.
pub const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// AudioSpecificConfig at body offset `base`.
pub fn parse_aac_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let mut bits = Bits::new(b);
    let parsed = (|| {
        let mut ot = bits.read(5)?;
        if ot == 31 {
            ot = 32 + bits.read(6)?;
        }
        let fi = bits.read(4)?;
        let rate = if fi == 15 {
            bits.read(24)?
        } else {
            AAC_RATES.get(fi as usize).copied().unwrap_or(0)
        };
        let ch = bits.read(4)?;
        Some((ot as u8, fi, rate, ch as u8))
    })();
    match parsed {
        Some((object_type, fi, sample_rate, channels)) => {
            if sample_rate == 0 {
                bad_config(
                    out,
                    Severity::Warning,
                    base,
                    end,
                    format!("AAC sampling frequency index {fi} is reserved"),
                );
            }
            CodecConfig::Aac {
                object_type,
                sample_rate,
                channels,
            }
        }
        None => bad_config_opaque(
            out,
            base,
            end,
            format!("AAC AudioSpecificConfig truncated ({} bytes)", b.len()),
        ),
    }
}
