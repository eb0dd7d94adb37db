//! Shared body of the AMF fuzz targets (`amf0`, `amf3`): decoding arbitrary
//! bytes never panics, terminates, and keeps every span and diagnostic range
//! inside the input. Included by each target with `#[path]`.

use rtmpscope::amf::{Value, ValueKind};
use rtmpscope::event::Anomaly;

fn check(v: &Value, lo: u32, hi: u32) {
    assert!(lo <= v.span.start && v.span.end <= hi, "span out of input");
    match &v.kind {
        ValueKind::Object { properties, .. } | ValueKind::EcmaArray { properties, .. } => {
            properties.iter().for_each(|p| check(&p.value, lo, hi))
        }
        ValueKind::Array { associative, dense } => {
            associative.iter().for_each(|p| check(&p.value, lo, hi));
            dense.iter().for_each(|i| check(i, lo, hi));
        }
        ValueKind::StrictArray(items) | ValueKind::Vector { items, .. } => {
            items.iter().for_each(|i| check(i, lo, hi))
        }
        ValueKind::Dictionary { entries, .. } => entries.iter().for_each(|(k, x)| {
            check(k, lo, hi);
            check(x, lo, hi);
        }),
        ValueKind::ByteArray(s) | ValueKind::Externalizable { opaque: s, .. } => {
            assert!(lo <= s.start && s.end <= hi, "data span out of input")
        }
        // A resolved copy keeps the spans of the value it copies.
        ValueKind::Reference {
            resolved: Some(r), ..
        } => check(r, lo, hi),
        _ => {}
    }
}

/// An AMF `decode_all`: bytes and their base offset to values and anomalies.
type DecodeAll = fn(&[u8], usize) -> (Vec<Value>, Vec<Anomaly>);

/// Decodes `data` at a non-zero base offset with `decode_all` and checks
/// every value span and anomaly range against the input.
pub fn decode_in_bounds(data: &[u8], decode_all: DecodeAll) {
    let base = 7usize;
    let (values, anomalies) = decode_all(data, base);
    let hi = (base + data.len()) as u32;
    for v in &values {
        check(v, base as u32, hi);
    }
    for a in &anomalies {
        if let Some(r) = a.range {
            assert!(
                r.start >= base as u64 && r.end <= hi as u64,
                "range out of input"
            );
        }
    }
}
