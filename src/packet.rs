//! The packet as it enters the pipeline, whatever source produced it: a leaf
//! module (no imports beyond [`crate::time`]), so the dissector library can
//! be built without the capture backends (`--no-default-features`).
//!
//! Contract: plain data; nothing here parses or allocates.

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
