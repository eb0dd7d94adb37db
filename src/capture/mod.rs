//! Packet sources: pcap/pcapng files (libpcap, pure-Rust fallback), stdin and
//! live interfaces.
//!
//! Contract: a source yields [`RawPacket`]s in capture order with their
//! 1-based index, nanosecond timestamp and link type; errors opening a source
//! are user errors (exit code 2), never panics.

use crate::time::PacketTime;

/// One captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// 1-based index in the input.
    pub pcap_cnt: u64,
    pub time: PacketTime,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub linktype: u32,
    /// Length of the frame on the wire (>= data.len()).
    pub origlen: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// Kernel/interface drop counters of a live capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}
