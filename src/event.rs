//! The one event model shared by every output (JSON, summary, TUI, diff).
//!
//! The sans-IO core (reassembly, RTMP dissector, AMF decoders) produces
//! [`Event`]s; the edges (output::json, tui, session analysis) consume them.
//! Events carry byte ranges (stream offsets per direction) instead of copies
//! of payload bytes: media payloads are addressed by range.
//!
//! Flow addresses are not repeated in each event: a [`EventKind::FlowStart`]
//! carries the [`FlowInfo`] and later events refer to it by [`FlowId`].

use serde::Serialize;
use std::net::IpAddr;

use crate::rtmp::handshake::HandshakeEvent;
use crate::rtmp::message::Message;
use crate::time::PacketTime;

/// The packet that delivered some bytes or completed an event: its 1-based
/// index in the input (`pcap_cnt`) and its capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PacketRef {
    pub pcap_cnt: u64,
    pub time: PacketTime,
}

/// Flow identifier: first-seen order in the input, starting at 1. Deterministic
/// for a given capture.
pub type FlowId = u64;

/// Which way bytes travel on a flow, once the client is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client to server (C0/C1/C2, connect, publish, media of a publisher).
    ToServer,
    /// Server to client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
    /// 0 for to_server, 1 for to_client: index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
    /// Snake-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// A half-open range `[start, end)` of byte offsets. Unless documented
/// otherwise it is a 64-bit stream offset within one direction of a flow
/// (offset 0 = first byte after the SYN, or the first byte seen on a
/// mid-stream pickup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn new(start: u64, end: u64) -> Self {
        ByteRange {
            start,
            end: end.max(start),
        }
    }
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, not wrong (e.g. mid-stream pickup, inferred chunk size).
    Info,
    /// Suspicious or non-conforming but decodable.
    Warning,
    /// Malformed data, lost data, or a protocol violation.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A diagnostic: every malformed or suspicious thing becomes one of these and
/// decoding goes on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    /// Stable dotted name, e.g. `tcp.seq_gap`, `rtmp.chunk.unknown_csid`,
    /// `amf.depth_limit`. Names are part of the output contract.
    pub name: &'static str,
    pub severity: Severity,
    /// Stream offsets (within the event's direction) the diagnostic is about,
    /// when it is about bytes of a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<ByteRange>,
    /// Human-readable detail (no wire secrets beyond what the message shows).
    pub detail: String,
}

impl Anomaly {
    pub fn new(
        name: &'static str,
        severity: Severity,
        range: Option<ByteRange>,
        detail: impl Into<String>,
    ) -> Self {
        Anomaly {
            name,
            severity,
            range,
            detail: detail.into(),
        }
    }
}

/// How the client side of a flow was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientBy {
    /// The SYN sender.
    Syn,
    /// The RTMP handshake (the C0/C1 sender).
    Handshake,
    /// The well-known port (1935 is the server).
    Port,
    /// No evidence: the sender of the first packet seen.
    FirstPacket,
}

/// Identity of a TCP flow, oriented client -> server.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowInfo {
    pub flow_id: FlowId,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// 802.1Q VLAN ids, outermost first (empty when untagged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlan: Vec<u16>,
    /// Community ID v1 (`1:...`), seed 0.
    pub community_id: String,
    /// No SYN was seen: the capture started mid-connection.
    pub midstream: bool,
    pub client_by: ClientBy,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Fin,
    Rst,
    /// Idle longer than the timeout, in packet time.
    Timeout,
    /// Evicted to respect the flow or memory limit.
    Evicted,
    /// The input ended with the flow still open.
    EndOfInput,
    /// A SYN with a new ISN reused the tuple.
    PortReuse,
}

/// What the RTMP layer made of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowProtocol {
    /// Not (yet) recognised as RTMP.
    Unknown,
    /// Plain RTMP, handshake seen.
    Rtmp,
    /// Plain RTMP picked up mid-stream (chunk size inferred).
    RtmpMidstream,
    /// RTMPE (C0 0x06 or 0x08): encrypted, not dissected.
    RtmpEncrypted,
    /// Some other protocol: left alone.
    NotRtmp,
    /// RTMP inside TLS: decrypted RTMP, or (without keys) TLS records sized
    /// like an RTMP handshake.
    Rtmps,
    /// TLS whose content is not (known to be) RTMP.
    Tls,
}

/// Per-direction counters, index 0 = to_server, 1 = to_client.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowCounters {
    pub packets: [u64; 2],
    /// TCP payload bytes delivered in order (excludes retransmitted copies).
    pub bytes: [u64; 2],
    /// Bytes lost to gaps (Zeek's `missed_bytes`).
    pub missed_bytes: [u64; 2],
    /// RTMP messages decoded.
    pub messages: [u64; 2],
}

/// Emitted once when a flow ends (or input ends).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowEnd {
    pub counters: FlowCounters,
    pub reason: EndReason,
    pub protocol: FlowProtocol,
    /// Packet time of the first and last packet of the flow.
    pub first_seen: PacketTime,
    pub last_seen: PacketTime,
    /// TLS facts of a TLS flow (`protocol` `rtmps` or `tls`).
    pub tls: Option<Box<crate::tls::TlsInfo>>,
}

/// Bytes of one direction that will never be seen (capture loss, snaplen,
/// limits). The dissector resynchronises after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Stream offset of the first missing byte.
    pub offset: u64,
    /// Number of missing bytes.
    pub len: u64,
}

/// Totals for the whole input; the last event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets whose link type was not understood.
    pub unknown_link: u64,
    /// Packets that were not TCP (UDP, ICMP, ARP, ...).
    pub non_tcp: u64,
    /// Kernel drop counts of a live capture (`pcap_stats`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_dropped: Option<u64>,
    pub flows: u64,
    pub rtmp_flows: u64,
    pub messages: u64,
    pub missed_bytes: u64,
    /// Anomaly counts by name, sorted by name.
    pub anomalies: Vec<(String, u64)>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new TCP flow was seen.
    FlowStart(FlowInfo),
    /// Part of an RTMP handshake (C0/C1/C2/S0/S1/S2), once complete.
    Handshake(HandshakeEvent),
    /// One RTMP message.
    Message(Box<Message>),
    /// Bytes lost in one direction.
    Gap(Gap),
    /// A diagnostic.
    Anomaly(Anomaly),
    /// A flow ended.
    FlowEnd(FlowEnd),
    /// A TLS handshake as seen in the clear (the flow is TLS; its RTMP
    /// events come from the decrypted plaintext).
    Tls(Box<crate::tls::TlsInfo>),
    /// End of input totals.
    Stats(Stats),
}

/// One event of the model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// 1-based index of the packet that completed the event (0 when none).
    pub pcap_cnt: u64,
    /// Time of that packet.
    pub time: PacketTime,
    /// The flow it belongs to, if any.
    pub flow_id: Option<FlowId>,
    /// Direction on that flow, if the event belongs to one direction.
    pub direction: Option<Direction>,
    pub kind: EventKind,
}
