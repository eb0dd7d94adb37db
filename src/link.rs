//! Link-layer dispatch (Ethernet/VLAN, Linux SLL/SLL2, NULL/LOOP, RAW) and
//! IP/TCP decoding.
//!
//! Contract: [`decode`] takes one captured frame (its link type, captured
//! bytes and original length) and returns what it found. It never panics;
//! truncated frames yield what was captured, with the payload bytes cut by
//! the snaplen counted in [`TcpSegment::missing`].

use std::net::IpAddr;

/// TCP flags of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

/// One TCP segment as captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// 802.1Q VLAN ids, outermost first.
    pub vlan: Vec<u16>,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes the packet carried on the wire but the capture cut
    /// (snaplen): they follow `payload` in sequence space and are lost.
    pub missing: u32,
}
