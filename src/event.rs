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

use crate::classify::{Confidence, Evidence};
use crate::rtmp::handshake::HandshakeEvent;
use crate::rtmp::message::Message;
use crate::rtmp::{RtmpEvent, RtmpEventKind};
use crate::time::PacketTime;
pub use crate::vocab::{
    Anomaly, ByteRange, Direction, FlowId, FlowProtocol, PacketRef, Severity, Suppressed,
};

/// How the client side of a flow was decided, when the flow's first packet
/// arrives (`flow_start` is written then). The RTMP handshake comes later
/// and does not re-orient a flow, so it is not one of the ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientBy {
    /// The SYN sender.
    Syn,
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
    /// Set on a virtual flow: RTMP carried by a tunnel (RTMPT), not by
    /// this TCP connection directly. The addresses are those of the TCP
    /// connection that opened the tunnel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelRef>,
}

/// The transport under a (virtual) flow's RTMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// RTMP in HTTP POSTs (RTMPT; RTMPTE when the tunnelled RTMP is RTMPE).
    Rtmpt,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Rtmpt => "rtmpt",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a tunnel carrying a virtual flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelRef {
    pub transport: Transport,
    /// The tunnel's session id (RTMPT: the id the server returned to `/open/1`).
    pub sid: String,
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
    /// The run was interrupted (signal or autostop) with the flow still
    /// open: the flow did not end, the capture did.
    Interrupted,
}

impl EndReason {
    /// Snake-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Timeout => "timeout",
            EndReason::Evicted => "evicted",
            EndReason::EndOfInput => "end_of_input",
            EndReason::PortReuse => "port_reuse",
            EndReason::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-direction counters, index 0 = to_server, 1 = to_client.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowCounters {
    pub packets: [u64; 2],
    /// TCP payload bytes delivered in order (excludes retransmitted copies).
    pub bytes: [u64; 2],
    /// Bytes lost to gaps (Zeek's `missed_bytes`).
    pub missed_bytes: [u64; 2],
    /// Payload bytes seen again after they were delivered (retransmissions
    /// and overlaps), counted by reassembly.
    pub retransmitted_bytes: [u64; 2],
    /// RTMP messages decoded.
    pub messages: [u64; 2],
}

/// Emitted once when a flow ends (or input ends).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowEnd {
    pub counters: FlowCounters,
    pub reason: EndReason,
    pub protocol: FlowProtocol,
    /// What `protocol` rests on ([`crate::classify`]).
    pub evidence: Evidence,
    /// How sure `protocol` is.
    pub confidence: Confidence,
    /// Packet time of the first and last packet of the flow.
    pub first_seen: PacketTime,
    pub last_seen: PacketTime,
    /// On a tunnel's virtual flow: what the tunnel did.
    pub tunnel: Option<Box<crate::tunnel::TunnelFacts>>,
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
    /// Most bytes the RTMP dissectors of all flows held at once (partial
    /// messages, handshake and probe buffers; capped by
    /// `--max-dissector-mem`, `rtmp.limit.dissector_memory` when hit).
    pub dissector_memory_peak: u64,
    /// The run was stopped by a signal before the input ended: its name
    /// (`SIGINT`, `SIGTERM`, `SIGHUP`). Absent when the input was read to
    /// its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The run was stopped by an autostop condition (`-c COUNT`,
    /// `-a duration:S`, `-a packets:N`): which one, e.g. `packets:10`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autostop: Option<String>,
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

impl Event {
    /// The dissector's event on flow `flow`, stamped with the flow id.
    pub fn from_rtmp(flow: FlowId, ev: RtmpEvent) -> Event {
        Event {
            pcap_cnt: ev.pkt.pcap_cnt,
            time: ev.pkt.time,
            flow_id: Some(flow),
            direction: Some(ev.direction),
            kind: match ev.kind {
                RtmpEventKind::Handshake(h) => EventKind::Handshake(h),
                RtmpEventKind::Message(m) => EventKind::Message(m),
                RtmpEventKind::Anomaly(a) => EventKind::Anomaly(a),
            },
        }
    }
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
