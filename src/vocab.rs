//! The crate's vocabulary: the small types every layer speaks (byte ranges,
//! directions, severities, diagnostics, packet references, flow ids, what a
//! flow turned out to be).
//!
//! This module depends on nothing in the crate but [`crate::time`] (itself a
//! leaf), so `amf`, `reassembly` and every `rtmp` module can import it without
//! depending on the event model built on top of them ([`crate::event`], which
//! re-exports these types for its users).

use serde::Serialize;

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
    /// Only on `anomaly.rate_limited`: the repeated events of one name on one
    /// flow that were counted but not written (see
    /// [`crate::pipeline::ANOMALY_REPORT_LIMIT`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// Events of one name not written on one flow after the report limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    /// The anomaly name, or `gap` for `gap` events.
    pub name: &'static str,
    /// How many were not written.
    pub count: u64,
    /// For `gap`: the bytes those gaps lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
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
            suppressed: None,
        }
    }
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
    /// An HTTP connection carrying RTMPT requests: its RTMP is reported on
    /// the tunnel's virtual flow.
    Rtmpt,
    /// RTMPE (C0 0x06 or 0x08): encrypted, not dissected.
    RtmpEncrypted,
    /// Some other protocol: left alone.
    NotRtmp,
    /// RTMP inside TLS: decrypted RTMP, or (without keys) TLS records sized
    /// like an RTMP handshake.
    Rtmps,
    /// TLS whose content is not (known to be) RTMP (see [`crate::classify`]).
    Tls,
    /// HTTP: not fed to the RTMP dissector.
    Http,
    /// SSH.
    Ssh,
    /// BGP.
    Bgp,
    /// DNS over TCP.
    Dns,
    /// SMB / NetBIOS session service.
    Smb,
}
