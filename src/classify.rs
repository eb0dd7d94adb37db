//! Flow classification by content, before dissection, on any port.
//!
//! Contract: pure functions over the first bytes of each direction of a TCP
//! flow; no I/O, no clock, no allocation beyond [`SNIFF_BYTES`] held bytes
//! per direction, never panics. The port plays no part: RTMP on 443 and
//! HTTP on 1935 are classified by what they carry.
//!
//! [`sniff`] looks at the first bytes of one direction and says whether they
//! carry a signature: an RTMP handshake (C0 = 0x03, or 0x06/0x08 for RTMPE,
//! at the very start of a connection whose SYN was seen), a TLS record
//! header (0x16 0x03 0x0X at the start; alerts and application data records
//! on a mid-stream pickup), an HTTP request or status line, an SSH banner, a
//! BGP marker, a DNS-over-TCP message, an SMB / NetBIOS session header, a
//! TPKT header (RDP, ISO-TSAP), or a line of text at the start of a
//! connection. [`classify`] combines both directions into a [`Verdict`]
//! (class, evidence, confidence). [`FlowSniffer`] is the per-flow state the
//! pipeline keeps: it holds a direction's first bytes (at most
//! [`SNIFF_BYTES`], only while they are too short to decide) and tells the
//! pipeline where the flow's bytes go ([`Route`]).
//!
//! RTMP picked up mid-stream has no signature: a flow without one goes to
//! the RTMP dissector, whose chunk-chain scorer ([`crate::rtmp::midstream`])
//! decides from decodable structure, and the final class of such a flow
//! (`rtmp`, `rtmp_midstream`, `not_rtmp`, `unknown`) comes from the
//! dissector ([`verdict`]).
//!
//! Routing: RTMP (handshake or no signature) goes to the RTMP dissector.
//! HTTP and TLS flows are never fed to it: they are routed as
//! [`Route::Http`] / [`Route::Tls`] so that an RTMPT (HTTP tunnel) or RTMPS
//! (TLS) decoder can take them; every other class is [`Route::Skip`]. A
//! non-RTMP signature in the second direction reroutes a flow the first
//! direction sent to the dissector ([`Step::Rerouted`]), unless the
//! dissector already decoded messages.
//!
//! Plugging in a decoder: give its class a [`Route`] in `Route::of`, take
//! the bytes of that route in `pipeline::FlowState::deliver` (held bytes
//! come first, with their offset), and map its result to the flow record in
//! [`verdict`]. Decrypted TLS plaintext can be run through [`sniff`] again
//! (RTMP handshake, or HTTP carrying RTMPT).

use serde::Serialize;

use crate::vocab::{Direction, FlowProtocol};

/// Most bytes of one direction held back while they are too few to decide.
/// Longer signatures (BGP marker + header = 19 bytes) fit.
pub const SNIFF_BYTES: usize = 24;
/// Largest TLS record body (2^14 plus the 2048 bytes of expansion TLS 1.2
/// allows for a ciphertext).
pub const TLS_MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest BGP message (RFC 8654 extended messages).
pub const BGP_MAX_MESSAGE: usize = 65535;

/// What a flow's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Nothing decided (no bytes, or too few).
    Unknown,
    /// RTMP with a handshake (C0 = 0x03).
    Rtmp,
    /// RTMP picked up mid-stream: decided by the chunk-chain scorer.
    RtmpMidstream,
    /// RTMPE (C0 = 0x06 or 0x08 followed by 1536 bytes).
    Rtmpe,
    /// TLS records.
    Tls,
    /// HTTP/1.x request or status line (RTMPT travels inside).
    Http,
    /// SSH banner.
    Ssh,
    /// BGP marker.
    Bgp,
    /// DNS over TCP.
    Dns,
    /// SMB (NetBIOS session service).
    Smb,
    /// Something else that is not RTMP (TPKT, a text protocol, or bytes the
    /// RTMP scorer rejected).
    NotRtmp,
}

/// What a classification rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Nothing (no bytes, or the dissector never decided).
    None,
    /// C0 = 0x03 at the start of the connection (the dissector checks C1/S1).
    RtmpHandshake,
    /// C0 = 0x06 / 0x08 followed by a full C1.
    RtmpeHandshake,
    /// A mid-stream chunk chain with messages whose bodies decode as their
    /// type ([`crate::rtmp::midstream::judge`]).
    RtmpChunks,
    /// A chunk chain that parses but whose messages do not prove it:
    /// `rtmp.detection_uncertain`.
    WeakRtmpChunks,
    TlsRecord,
    HttpRequest,
    HttpResponse,
    SshBanner,
    BgpMarker,
    DnsHeader,
    SmbHeader,
    TpktHeader,
    /// A line of text at the start of a connection (SMTP, FTP, IMAP, XMPP...).
    Text,
    /// The RTMP dissector found no chunk structure.
    NoRtmpStructure,
}

impl Evidence {
    /// Snake-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::None => "none",
            Evidence::RtmpHandshake => "rtmp_handshake",
            Evidence::RtmpeHandshake => "rtmpe_handshake",
            Evidence::RtmpChunks => "rtmp_chunks",
            Evidence::WeakRtmpChunks => "weak_rtmp_chunks",
            Evidence::TlsRecord => "tls_record",
            Evidence::HttpRequest => "http_request",
            Evidence::HttpResponse => "http_response",
            Evidence::SshBanner => "ssh_banner",
            Evidence::BgpMarker => "bgp_marker",
            Evidence::DnsHeader => "dns_header",
            Evidence::SmbHeader => "smb_header",
            Evidence::TpktHeader => "tpkt_header",
            Evidence::Text => "text",
            Evidence::NoRtmpStructure => "no_rtmp_structure",
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the classification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A guess (nothing seen, or weak structure).
    Low,
    /// One direction's evidence.
    Medium,
    /// Both directions agree, or many decoded messages.
    High,
}

impl Confidence {
    /// Snake-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flow's classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub class: Class,
    pub evidence: Evidence,
    pub confidence: Confidence,
}

impl Verdict {
    pub const UNKNOWN: Verdict = Verdict {
        class: Class::Unknown,
        evidence: Evidence::None,
        confidence: Confidence::Low,
    };
}

/// What the first bytes of one direction carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// Too few bytes to tell (fewer than [`SNIFF_BYTES`]).
    NeedMore,
    /// A signature.
    Signature(Class, Evidence),
    /// No signature: maybe RTMP mid-stream, maybe anything else.
    Nothing,
}

impl Class {
    /// The flow record's `protocol` for this class.
    pub fn protocol(self) -> FlowProtocol {
        match self {
            Class::Unknown => FlowProtocol::Unknown,
            Class::Rtmp => FlowProtocol::Rtmp,
            Class::RtmpMidstream => FlowProtocol::RtmpMidstream,
            Class::Rtmpe => FlowProtocol::RtmpEncrypted,
            Class::Tls => FlowProtocol::Tls,
            Class::Http => FlowProtocol::Http,
            Class::Ssh => FlowProtocol::Ssh,
            Class::Bgp => FlowProtocol::Bgp,
            Class::Dns => FlowProtocol::Dns,
            Class::Smb => FlowProtocol::Smb,
            Class::NotRtmp => FlowProtocol::NotRtmp,
        }
    }

    /// RTMP in some form (the dissector's business).
    pub fn is_rtmp(self) -> bool {
        matches!(self, Class::Rtmp | Class::RtmpMidstream | Class::Rtmpe)
    }
}

const HTTP_METHODS: [&[u8]; 16] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
];

/// True when `a` (shorter or not) is a prefix of `b` or `b` of `a`: the
/// bytes so far do not contradict the pattern.
fn prefix_compatible(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn be16(b: &[u8], at: usize) -> usize {
    ((b[at] as usize) << 8) | b[at + 1] as usize
}

/// A TLS record header at `b[0..5]`: content type, version 3.0-3.4, length.
/// `start`: at the start of a connection only a handshake (or an alert) may
/// come first.
fn tls_header(b: &[u8], start: bool) -> bool {
    let types: &[u8] = if start {
        &[0x15, 0x16]
    } else {
        &[0x14, 0x15, 0x16, 0x17, 0x18]
    };
    types.contains(&b[0]) && b[1] == 3 && b[2] <= 4 && {
        let len = be16(b, 3);
        len > 0 && len <= TLS_MAX_RECORD
    }
}

/// SSLv2-compatible ClientHello (`0x80 len 0x01 0x03 0x0X`).
fn sslv2_hello(b: &[u8]) -> bool {
    b[0] & 0x80 != 0 && b[2] == 0x01 && b[3] == 3 && b[4] <= 4
}

/// A DNS message with its 2-byte TCP length prefix at `b[0..14]`.
fn dns_header(b: &[u8]) -> bool {
    let len = be16(b, 0);
    let flags = be16(b, 4);
    let opcode = (flags >> 11) & 0xf;
    let z = flags & 0x40;
    let qd = be16(b, 6);
    let an = be16(b, 8);
    let ns = be16(b, 10);
    let ar = be16(b, 12);
    let query = flags & 0x8000 == 0;
    // A question needs at least 5 bytes (root name, type, class).
    len >= 12 + 5 * qd
        && matches!(opcode, 0 | 1 | 2 | 4 | 5)
        && z == 0
        && qd <= 1
        && (qd == 1 || (!query && opcode == 0))
        && if query {
            an == 0 && ns <= 1 && ar <= 2 && flags & 0x0f == 0
        } else {
            an <= 4096 && ns <= 4096 && ar <= 4096
        }
}

/// NetBIOS session service header followed by an SMB1/SMB2/SMB3 header, or
/// a NetBIOS session request / response / keepalive.
fn smb_header(b: &[u8]) -> bool {
    let proto = &b[4..8];
    (b[0] == 0 && b[1] <= 1 && (proto == b"\xffSMB" || proto == b"\xfeSMB" || proto == b"\xfdSMB"))
        || (matches!(b[0], 0x81..=0x83) && b[1] == 0 && be16(b, 2) <= 200 && {
            // Session request: two encoded NetBIOS names (0x20 + 32 letters).
            b[0] != 0x81 || b[4] == 0x20
        })
}

/// TPKT (RFC 1006) with a COTP header: RDP, ISO-TSAP, S7.
fn tpkt_header(b: &[u8]) -> bool {
    let len = be16(b, 2);
    let li = b[4] as usize;
    b[0] == 3
        && b[1] == 0
        && len >= 7
        && li >= 2
        && li + 5 <= len
        && matches!(b[5] & 0xf0, 0xe0 | 0xd0 | 0xf0 | 0x80 | 0x70 | 0x50 | 0x60)
}

/// Printable text ending a line (CR or LF) within the bytes, at the start of
/// a connection: a banner or command line of a text protocol, or XML.
fn text_line(b: &[u8]) -> bool {
    let printable = |c: u8| c.is_ascii_graphic() || c == b' ' || c == b'\t';
    match b.iter().position(|&c| c == b'\r' || c == b'\n') {
        Some(0) => false,
        Some(i) => b[..i].iter().all(|&c| printable(c)),
        None => b.len() >= SNIFF_BYTES && b.iter().all(|&c| printable(c)),
    }
}

/// What the first bytes `b` of one direction carry. `start`: `b[0]` is the
/// first byte of the connection in this direction (its SYN was seen);
/// otherwise the capture picked the flow up mid-stream and `b[0]` is the
/// first byte of the first segment seen. Returns [`Sniff::NeedMore`] only
/// while `b` is shorter than [`SNIFF_BYTES`] and a signature is still
/// possible.
pub fn sniff(b: &[u8], start: bool) -> Sniff {
    use Sniff::*;
    let Some(&b0) = b.first() else {
        return NeedMore;
    };
    let short = b.len() < SNIFF_BYTES;
    // RTMP handshake: decided by the first byte, so a handshake's events
    // are never delayed. The dissector checks C1/S1 and confirms RTMPE only
    // after a full C1.
    if start && b0 == 3 {
        if b.len() >= 6 && tpkt_header(b) {
            return Signature(Class::NotRtmp, Evidence::TpktHeader);
        }
        return Signature(Class::Rtmp, Evidence::RtmpHandshake);
    }
    if start && (b0 == 6 || b0 == 8) {
        return Signature(Class::Rtmpe, Evidence::RtmpeHandshake);
    }
    if b.len() >= 5 && (tls_header(b, start) || (start && sslv2_hello(b))) {
        return Signature(Class::Tls, Evidence::TlsRecord);
    }
    if b.len() < 5 && matches!(b0, 0x14..=0x18 | 0x80..=0xff) && (b.len() < 2 || b[1] == 3) {
        return NeedMore;
    }
    // HTTP.
    if b.starts_with(b"HTTP/1.") || b.starts_with(b"HTTP/2 ") || b.starts_with(b"HTTP/1.0") {
        return Signature(Class::Http, Evidence::HttpResponse);
    }
    if HTTP_METHODS.iter().any(|m| b.starts_with(m)) || b.starts_with(b"PRI * HTTP/2.0") {
        return Signature(Class::Http, Evidence::HttpRequest);
    }
    if short
        && (prefix_compatible(b, b"HTTP/1.")
            || HTTP_METHODS.iter().any(|m| prefix_compatible(b, m))
            || prefix_compatible(b, b"PRI * HTTP/2.0"))
    {
        return NeedMore;
    }
    // SSH.
    if b.starts_with(b"SSH-") {
        return Signature(Class::Ssh, Evidence::SshBanner);
    }
    if short && prefix_compatible(b, b"SSH-") {
        return NeedMore;
    }
    // BGP: 16 bytes of 0xff, length, type 1-5.
    if b0 == 0xff {
        if b.len() < 19 {
            return if b.iter().take(16).all(|&c| c == 0xff) {
                NeedMore
            } else {
                Nothing
            };
        }
        let len = be16(b, 16);
        if b[..16].iter().all(|&c| c == 0xff)
            && (19..=BGP_MAX_MESSAGE).contains(&len)
            && (1..=5).contains(&b[18])
        {
            return Signature(Class::Bgp, Evidence::BgpMarker);
        }
    }
    // SMB / NetBIOS session service.
    if matches!(b0, 0 | 0x81 | 0x82 | 0x83) {
        if b.len() < 8 {
            return NeedMore;
        }
        if smb_header(b) {
            return Signature(Class::Smb, Evidence::SmbHeader);
        }
    }
    // TPKT (RDP, ISO-TSAP) picked up mid-stream.
    if b0 == 3 {
        if b.len() < 6 {
            return NeedMore;
        }
        if tpkt_header(b) {
            return Signature(Class::NotRtmp, Evidence::TpktHeader);
        }
    }
    // DNS over TCP: at the start of a connection only (a 14-byte header
    // with a length prefix is too weak a pattern mid-stream).
    if start {
        if b.len() < 14 {
            return NeedMore;
        }
        if dns_header(b) {
            return Signature(Class::Dns, Evidence::DnsHeader);
        }
        if text_line(b) {
            return Signature(Class::NotRtmp, Evidence::Text);
        }
        if short && b.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
            return NeedMore;
        }
    }
    Nothing
}

/// Combines the first bytes of both directions (`to_server`, `to_client`;
/// either may be empty) into a verdict. `start`: the flow's SYN was seen
/// (the bytes are the first of the connection). A signature decides; both
/// directions agreeing make it [`Confidence::High`]. Without any signature
/// the verdict is [`Class::Unknown`]: the RTMP dissector decides (see
/// [`verdict`]).
pub fn classify(to_server: &[u8], to_client: &[u8], start: bool) -> Verdict {
    let sig = |b: &[u8]| match sniff(b, start) {
        Sniff::Signature(c, e) => Some((c, e)),
        _ => None,
    };
    combine(sig(to_server), sig(to_client))
}

/// The verdict from each direction's signature (to_server, to_client).
fn combine(a: Option<(Class, Evidence)>, b: Option<(Class, Evidence)>) -> Verdict {
    match (a, b) {
        (Some(x), Some(y)) if x.0 == y.0 => Verdict {
            class: x.0,
            evidence: x.1,
            confidence: Confidence::High,
        },
        // A non-RTMP signature wins over an RTMP one (an RTMP handshake byte
        // is a single byte of evidence).
        (Some(x), Some(y)) => {
            let (c, e) = if x.0.is_rtmp() { y } else { x };
            Verdict {
                class: c,
                evidence: e,
                confidence: Confidence::Medium,
            }
        }
        (Some((c, e)), None) | (None, Some((c, e))) => Verdict {
            class: c,
            evidence: e,
            confidence: Confidence::Medium,
        },
        (None, None) => Verdict::UNKNOWN,
    }
}

/// Where a flow's bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Not decided yet.
    Undecided,
    /// The RTMP dissector (handshake, or no signature: mid-stream scorer).
    Rtmp,
    /// HTTP: for an RTMPT tunnel decoder; never the RTMP dissector.
    Http,
    /// TLS: for an RTMPS decoder; never the RTMP dissector.
    Tls,
    /// Another protocol: left alone.
    Skip,
}

impl Route {
    fn of(class: Class) -> Route {
        match class {
            Class::Unknown | Class::Rtmp | Class::RtmpMidstream | Class::Rtmpe => Route::Rtmp,
            Class::Http => Route::Http,
            Class::Tls => Route::Tls,
            _ => Route::Skip,
        }
    }
}

/// What the pipeline does with bytes it offered to [`FlowSniffer::offer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The sniffer kept them (too few to decide).
    Held,
    /// Feed them to the destination of [`FlowSniffer::route`], after the
    /// held bytes returned here (stream offset, bytes), if any.
    Pass(Option<(u64, Vec<u8>)>),
    /// This direction carries a signature of another protocol than the one
    /// the flow was routed to: the route changed (see
    /// [`FlowSniffer::route`]) and earlier destinations stop. The held
    /// bytes, if any, precede the offered ones.
    Rerouted(Option<(u64, Vec<u8>)>),
}

#[derive(Debug, Default)]
struct SniffDir {
    /// The first bytes (at most [`SNIFF_BYTES`]), kept for the verdict;
    /// while `held`, exactly the bytes held back.
    first: Vec<u8>,
    held: bool,
    /// Stream offset of `first[0]`.
    first_off: u64,
    /// This direction's first bytes are decided.
    decided: bool,
    sig: Option<(Class, Evidence)>,
}

/// Per-flow classification state kept by the pipeline.
#[derive(Debug)]
pub struct FlowSniffer {
    start: bool,
    dirs: [SniffDir; 2],
    route: Route,
}

impl FlowSniffer {
    /// `start`: the flow's SYN was seen (offset 0 is the connection start).
    pub fn new(start: bool) -> Self {
        FlowSniffer {
            start,
            dirs: [SniffDir::default(), SniffDir::default()],
            route: Route::Undecided,
        }
    }

    /// Where the flow's bytes go now.
    pub fn route(&self) -> Route {
        self.route
    }

    /// The signature seen in `dir`, if any.
    pub fn signature(&self, dir: Direction) -> Option<(Class, Evidence)> {
        self.dirs[dir.index()].sig
    }

    /// The verdict from the signatures alone (both directions).
    pub fn signatures(&self) -> Verdict {
        combine(self.dirs[0].sig, self.dirs[1].sig)
    }

    /// Offers in-order bytes of `dir` at stream offset `offset` (contiguous
    /// with the bytes offered before; call [`FlowSniffer::release`] on a
    /// gap).
    pub fn offer(&mut self, dir: Direction, offset: u64, data: &[u8]) -> Step {
        let st = &mut self.dirs[dir.index()];
        if st.decided || data.is_empty() {
            return Step::Pass(None);
        }
        let held = if st.held {
            st.held = false;
            Some(std::mem::take(&mut st.first))
        } else {
            st.first_off = offset;
            None
        };
        let mut look = held.clone().unwrap_or_default();
        let room = SNIFF_BYTES - look.len().min(SNIFF_BYTES);
        look.extend_from_slice(&data[..data.len().min(room)]);
        let verdict = sniff(&look, self.start && st.first_off == 0);
        st.first = look;
        let held = held.map(|h| (st.first_off, h));
        match verdict {
            // sniff() needs more only while fewer than SNIFF_BYTES are
            // there, so `first` holds every held byte.
            Sniff::NeedMore => {
                st.held = true;
                Step::Held
            }
            Sniff::Signature(c, e) => {
                st.sig = Some((c, e));
                self.decide(dir, Some(c), held)
            }
            Sniff::Nothing => self.decide(dir, None, held),
        }
    }

    /// Marks `dir` decided with signature class `sig` and returns the step.
    fn decide(&mut self, dir: Direction, sig: Option<Class>, held: Option<(u64, Vec<u8>)>) -> Step {
        self.dirs[dir.index()].decided = true;
        let new = match sig {
            Some(c) => Route::of(c),
            None => Route::Rtmp,
        };
        let old = self.route;
        self.route = match (old, sig) {
            (Route::Undecided, _) => new,
            // A non-RTMP signature reroutes a flow sent to the dissector on
            // the other direction's bytes alone.
            (Route::Rtmp, Some(c)) if !c.is_rtmp() => new,
            (r, _) => r,
        };
        if old != Route::Undecided && self.route != old {
            Step::Rerouted(held)
        } else {
            Step::Pass(held)
        }
    }

    /// Routes the flow to the RTMP dissector again after a
    /// [`Step::Rerouted`] (the dissector had already decoded messages: that
    /// is stronger evidence than one direction's first bytes).
    pub fn keep_rtmp(&mut self) {
        self.route = Route::Rtmp;
    }

    /// A gap or the end of the flow: `dir` is decided on what it has.
    /// Returns the held bytes (stream offset, bytes) to deliver first.
    pub fn release(&mut self, dir: Direction) -> Option<(u64, Vec<u8>)> {
        let st = &mut self.dirs[dir.index()];
        st.decided = true;
        if !st.held {
            return None;
        }
        st.held = false;
        if self.route == Route::Undecided {
            self.route = Route::Rtmp;
        }
        Some((st.first_off, st.first.clone()))
    }
}

/// The flow record's classification at the end of a flow: the signatures
/// when there are, else what the RTMP dissector made of the bytes
/// (`protocol`) with its evidence: `uncertain` (a chain that parses but does
/// not prove RTMP), `midstream_messages` (complete, cleanly decoded messages
/// of a mid-stream pickup), `handshake_both` (both sides' handshakes seen).
pub fn verdict(
    signatures: Verdict,
    protocol: FlowProtocol,
    uncertain: bool,
    midstream_messages: u64,
    handshake_both: bool,
) -> Verdict {
    let v = |class, evidence, confidence| Verdict {
        class,
        evidence,
        confidence,
    };
    match protocol {
        FlowProtocol::Rtmp => v(
            Class::Rtmp,
            Evidence::RtmpHandshake,
            if handshake_both {
                Confidence::High
            } else {
                Confidence::Medium
            },
        ),
        FlowProtocol::RtmpEncrypted => v(
            Class::Rtmpe,
            Evidence::RtmpeHandshake,
            if handshake_both {
                Confidence::High
            } else {
                Confidence::Medium
            },
        ),
        FlowProtocol::RtmpMidstream => v(
            Class::RtmpMidstream,
            Evidence::RtmpChunks,
            if midstream_messages >= crate::rtmp::midstream::HIGH_CONFIDENCE_MESSAGES {
                Confidence::High
            } else {
                Confidence::Medium
            },
        ),
        _ if signatures.class != Class::Unknown && !signatures.class.is_rtmp() => signatures,
        _ if uncertain => v(Class::Unknown, Evidence::WeakRtmpChunks, Confidence::Low),
        FlowProtocol::NotRtmp => v(
            Class::NotRtmp,
            Evidence::NoRtmpStructure,
            Confidence::Medium,
        ),
        _ => Verdict::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_at_the_start() {
        let cases: &[(&[u8], Class)] = &[
            (b"\x03\x00\x00\x00\x00\x00\x00\x00\x00", Class::Rtmp),
            (b"\x06\x12\x34", Class::Rtmpe),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Class::Tls),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Class::Http),
            (b"POST /open/1 HTTP/1.1\r\n", Class::Http),
            (b"HTTP/1.1 200 OK\r\n", Class::Http),
            (b"SSH-2.0-OpenSSH_9.2\r\n", Class::Ssh),
            (b"220 mail.example.com ESMTP\r\n", Class::NotRtmp),
            (b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00", Class::NotRtmp),
            (
                b"\x00\x00\x00\x54\xffSMBr\x00\x00\x00\x00\x18\x53\xc8\x00\x00",
                Class::Smb,
            ),
            (
                b"\x00\x1c\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
                Class::Dns,
            ),
        ];
        for (b, c) in cases {
            match sniff(b, true) {
                Sniff::Signature(got, _) => assert_eq!(got, *c, "{b:?}"),
                other => panic!("{b:?}: {other:?}"),
            }
        }
        let mut bgp = vec![0xffu8; 16];
        bgp.extend_from_slice(&[0, 29, 1, 4, 0xfd, 0xe8, 0, 0xb4]);
        assert_eq!(
            sniff(&bgp, false),
            Sniff::Signature(Class::Bgp, Evidence::BgpMarker)
        );
        assert_eq!(sniff(&bgp[..10], false), Sniff::NeedMore);
    }

    #[test]
    fn mid_stream_needs_stronger_patterns() {
        // Mid-stream: an RTMP chunk header starting 0x03 (csid 3) is not a
        // handshake, and a text-like start proves nothing.
        let chunk =
            b"\x03\x00\x00\x00\x00\x00\x9a\x14\x00\x00\x00\x00\x02\x00\x07connect\x00\x3f\xf0";
        assert_eq!(sniff(chunk, false), Sniff::Nothing);
        assert_eq!(
            sniff(b"hello world, nothing to see here", false),
            Sniff::Nothing
        );
        // An application data record still says TLS.
        assert_eq!(
            sniff(b"\x17\x03\x03\x40\x00\x01\x02\x03", false),
            Sniff::Signature(Class::Tls, Evidence::TlsRecord)
        );
        // At the start, application data may not come first.
        assert_eq!(
            sniff(
                b"\x17\x03\x03\x40\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09",
                true
            ),
            Sniff::Nothing
        );
    }

    #[test]
    fn classify_combines_directions() {
        let v = classify(b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", true);
        assert_eq!(v.class, Class::Http);
        assert_eq!(v.confidence, Confidence::High);
        let v = classify(b"\x16\x03\x01\x00\x10", b"", true);
        assert_eq!((v.class, v.confidence), (Class::Tls, Confidence::Medium));
        let v = classify(b"\x01\x02\x03\x04\x05", b"\x09\x08\x07\x06\x05", false);
        assert_eq!(v, Verdict::UNKNOWN);
    }

    #[test]
    fn sniffer_holds_short_starts_and_routes() {
        let mut s = FlowSniffer::new(true);
        assert_eq!(s.offer(Direction::ToServer, 0, b"GE"), Step::Held);
        assert_eq!(s.route(), Route::Undecided);
        assert_eq!(
            s.offer(Direction::ToServer, 2, b"T / HTTP/1.1\r\n"),
            Step::Pass(Some((0, b"GE".to_vec())))
        );
        assert_eq!(s.route(), Route::Http);
        // RTMP handshake: decided on the first byte, never held.
        let mut s = FlowSniffer::new(true);
        assert_eq!(s.offer(Direction::ToServer, 0, b"\x03"), Step::Pass(None));
        assert_eq!(s.route(), Route::Rtmp);
        // A non-RTMP signature on the other side reroutes.
        assert_eq!(
            s.offer(Direction::ToClient, 0, b"SSH-2.0-x\r\n"),
            Step::Rerouted(None)
        );
        assert_eq!(s.route(), Route::Skip);
        // Released on a gap: the held bytes come back.
        let mut s = FlowSniffer::new(false);
        assert_eq!(s.offer(Direction::ToClient, 100, b"\x16"), Step::Held);
        assert_eq!(s.release(Direction::ToClient), Some((100, vec![0x16])));
        assert_eq!(s.route(), Route::Rtmp);
    }

    proptest::proptest! {
        /// Never panics; asks for more bytes only while fewer than
        /// SNIFF_BYTES are there.
        #[test]
        fn sniff_is_total(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                          start in proptest::prelude::any::<bool>()) {
            if sniff(&b, start) == Sniff::NeedMore {
                proptest::prop_assert!(b.len() < SNIFF_BYTES);
            }
        }

        /// Whatever the segmentation, every byte offered is handed back
        /// exactly once, in order, at its offset (held bytes first).
        #[test]
        fn sniffer_delivers_every_byte(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            cuts in proptest::collection::vec(1usize..9, 1..12),
            first in 0u8..4,
            start in proptest::prelude::any::<bool>(),
        ) {
            // Bias the first byte towards prefixes that are held.
            let mut data = data;
            if let Some(b) = data.first_mut() {
                *b = [0x00, 0x03, 0x16, *b][first as usize];
            }
            let mut s = FlowSniffer::new(start);
            let mut got: Vec<u8> = Vec::new();
            let (mut off, mut k) = (0usize, 0usize);
            while off < data.len() {
                let n = cuts[k % cuts.len()].min(data.len() - off);
                k += 1;
                let piece = &data[off..off + n];
                match s.offer(Direction::ToServer, off as u64, piece) {
                    Step::Held => {}
                    Step::Pass(h) | Step::Rerouted(h) => {
                        if let Some((o, b)) = h {
                            proptest::prop_assert_eq!(o as usize, got.len());
                            got.extend(b);
                        }
                        proptest::prop_assert_eq!(off, got.len());
                        got.extend_from_slice(piece);
                    }
                }
                off += n;
            }
            if let Some((o, b)) = s.release(Direction::ToServer) {
                proptest::prop_assert_eq!(o as usize, got.len());
                got.extend(b);
            }
            proptest::prop_assert_eq!(got, data);
            proptest::prop_assert!(s.route() != Route::Undecided || off == 0);
        }
    }
}
