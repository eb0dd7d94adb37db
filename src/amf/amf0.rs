//! AMF0 decoder (message types 18, 19, 20). See the module contract in `amf`.

use super::Value;
use crate::event::Anomaly;

/// Decodes consecutive AMF0 values from `bytes` until it is exhausted.
/// `base` is the body offset of `bytes[0]` (spans are body-relative).
/// Decoding stops early only when the rest cannot be framed; that is reported.
pub fn decode_all(bytes: &[u8], base: usize) -> (Vec<Value>, Vec<Anomaly>) {
    let _ = (bytes, base);
    (Vec::new(), Vec::new())
}
