//! The tolerant RTMP dissector (sans-IO).
//!
//! Contract: a [`Connection`] takes each direction's reassembled bytes (with
//! stream offsets, packet index and packet time) and gaps, and returns
//! [`Event`]s: handshake parts, one [`message::Message`] per RTMP message, and
//! anomalies with byte ranges. It never panics, never loops without consuming
//! bytes, never allocates from a length field before the bytes exist, and
//! keeps its memory bounded by the named limits below. It does no I/O and
//! reads no clock.

pub mod aggregate;
pub mod body;
pub mod chunk;
pub mod command;
pub mod control;
pub mod data;
pub mod handshake;
pub mod media;
pub mod message;
pub mod shared_object;
pub mod user_control;

pub use crate::event::PacketRef;
use crate::event::{Direction, Event, FlowProtocol};

/// Per-connection limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of partial messages held across all chunk streams of one direction.
    pub max_partial_bytes: usize,
    /// Chunk streams tracked per direction.
    pub max_chunk_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_partial_bytes: 64 * 1024 * 1024,
            max_chunk_streams: 4096,
        }
    }
}

/// One RTMP connection (both directions of one TCP flow).
#[derive(Debug, Default)]
pub struct Connection {
    _limits: Limits,
}

impl Connection {
    /// A new connection. `midstream` is true when reassembly saw no SYN.
    pub fn new(limits: Limits, midstream: bool) -> Self {
        let _ = midstream;
        Connection { _limits: limits }
    }

    /// In-order bytes of one direction; `offset` is the stream offset of
    /// `data[0]`. Events are appended to `out` with `flow_id` unset.
    pub fn handle_data(
        &mut self,
        dir: Direction,
        offset: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let _ = (dir, offset, data, pkt, out);
    }

    /// `len` bytes at `offset` of one direction will never arrive.
    pub fn handle_gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let _ = (dir, offset, len, pkt, out);
    }

    /// The flow ended: report partial messages.
    pub fn finish(&mut self, pkt: PacketRef, out: &mut Vec<Event>) {
        let _ = (pkt, out);
    }

    /// What the connection has been recognised as so far.
    pub fn protocol(&self) -> FlowProtocol {
        FlowProtocol::Unknown
    }
}
