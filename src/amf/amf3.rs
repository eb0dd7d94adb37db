//! AMF3 decoder (message types 15, 16, 17 and the AMF0 0x11 switch). See the
//! module contract in `amf`. Reference tables (strings, objects, traits) live
//! in a [`Context`] whose scope is one message body.

use super::Value;
use crate::event::Anomaly;

/// Reference tables of one AMF3 decoding scope.
#[derive(Debug, Default)]
pub struct Context {}

/// Decodes consecutive AMF3 values from `bytes` until exhausted.
pub fn decode_all(bytes: &[u8], base: usize) -> (Vec<Value>, Vec<Anomaly>) {
    let _ = (bytes, base);
    (Vec::new(), Vec::new())
}
