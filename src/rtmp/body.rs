//! Message body decoding by type id: protocol control, user control, AMF
//! commands and data, shared objects, audio/video tag headers (legacy and
//! Enhanced RTMP) and aggregates.
//!
//! Contract: `decode_body` never panics; anomalies it returns carry ranges in
//! body-relative offsets (the caller maps them to stream offsets with
//! `Message::stream_offset_of`).

use super::message::{Body, Message};
use crate::event::Anomaly;

/// Decodes `body` (the message's received body bytes) into `msg.body`,
/// using the header fields already set on `msg`.
pub fn decode_body(msg: &mut Message, body: &[u8]) -> Vec<Anomaly> {
    let _ = body;
    msg.body = Body::Raw;
    Vec::new()
}
