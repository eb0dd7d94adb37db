//! Test fixtures shared by the body decoders' unit tests: a message with
//! given header fields and AMF0 encoders for hand-built bodies.

use super::message::{Body, Message};
use crate::time::PacketTime;

pub(crate) fn msg(type_id: u8, len: usize) -> Message {
    Message {
        fmt: 0,
        csid: 3,
        type_id,
        msid: 1,
        msid_unknown: false,
        timestamp: 1000,
        timestamp_delta: 0,
        timestamp_estimate: None,
        extended_timestamp: false,
        length: len as u32,
        first_byte: 0,
        last_byte: 0,
        chunks: Default::default(),
        time: PacketTime::default(),
        truncated: None,
        body: Body::Raw,
    }
}

/// AMF0 encoders for hand-built test bodies.
pub(crate) mod amf0w {
    pub fn s(t: &str) -> Vec<u8> {
        let mut v = vec![0x02];
        v.extend_from_slice(&(t.len() as u16).to_be_bytes());
        v.extend_from_slice(t.as_bytes());
        v
    }
    pub fn key(t: &str) -> Vec<u8> {
        let mut v = (t.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(t.as_bytes());
        v
    }
    pub fn n(x: f64) -> Vec<u8> {
        let mut v = vec![0x00];
        v.extend_from_slice(&x.to_be_bytes());
        v
    }
    pub fn b(x: bool) -> Vec<u8> {
        vec![0x01, x as u8]
    }
    pub fn null() -> Vec<u8> {
        vec![0x05]
    }
    pub fn obj(props: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x03];
        for (k, val) in props {
            v.extend(key(k));
            v.extend_from_slice(val);
        }
        v.extend_from_slice(&[0, 0, 9]);
        v
    }
    pub fn strict(items: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0x0a];
        v.extend_from_slice(&(items.len() as u32).to_be_bytes());
        for i in items {
            v.extend_from_slice(i);
        }
        v
    }
    pub fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }
}
