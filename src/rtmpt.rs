//! RTMPT: RTMP tunnelled in HTTP POSTs, reassembled into RTMP sessions.
//!
//! Contract: sans-IO. The pipeline routes every TCP flow whose first bytes
//! are HTTP ([`routes_flow`]) here instead of to the RTMP dissector:
//! [`Layer::data`], [`Layer::gap`] and [`Layer::carrier_end`] take the
//! carrier's bytes; [`Layer::finish`] ends the input. Events come out with
//! their `flow_id` already set: HTTP diagnostics on the carrier flow, and the
//! tunnel's RTMP on a *virtual flow* of its own.
//!
//! The protocol (seed 000, field-notes section 6): `POST /fcs/ident2`
//! (answered 404), `POST /open/1` (the response body is the session id and a
//! newline), then `POST /idle/<sid>/<seq>`, `/send/<sid>/<seq>` (the body is
//! client-to-server RTMP) and `/close/<sid>/<seq>`. Every answer to
//! idle/send/close starts with one byte, the polling interval the server asks
//! for, followed by server-to-client RTMP. Idle and close request bodies are
//! filler (ffmpeg sends one 0x00 byte) and carry no RTMP.
//!
//! A tunnel is keyed by its session id, not by TCP connection: requests of
//! one tunnel may ride several connections (HTTP/1.0 without keep-alive,
//! parallel connections). Both directions are ordered by `<seq>` (from 0
//! after `/open/1`): request bodies make the to_server stream, response
//! bodies after the interval byte the to_client stream. A seq still missing
//! while [`MAX_REORDER_SEQS`] later ones (or [`MAX_REORDER_BYTES`]) wait, or
//! when the tunnel ends, is skipped: `rtmpt.missing_seq`, and its bytes are a
//! gap of unknown length for the dissector's gap handling, reported as a
//! 1-byte `gap` before the next delivered byte (none when nothing follows).
//! A response lost to a TCP gap is such a gap in the to_client stream; a body
//! cut by a TCP gap is a gap of the missing length. The two streams feed one
//! [`rtmp::Connection`] exactly as a plain connection's bytes would, so
//! handshake, chunks, AMF, media and sessions work unchanged; RTMPTE (RTMPE in
//! the tunnel) is detected and reported as encrypted by that dissector.
//!
//! Bodies are handed to the dissector per complete HTTP message (they must
//! be ordered by seq first), so a tunnelled event's `pcap_cnt` is the packet
//! that completed the HTTP message carrying its last byte.
//!
//! The virtual flow gets its own id from the shared flow-id sequence, a
//! `flow_start` whose [`FlowInfo::tunnel`] names the transport and session
//! id (addresses: the TCP connection that opened the tunnel), and a
//! `flow_end` when the tunnel closes (the close answer is delivered, or lost)
//! or at the end of input, carrying [`TunnelFacts`]. Carrier flows end with
//! protocol `rtmpt`; HTTP that never shows an RTMPT request is left alone
//! (protocol `not_rtmp`, no anomalies).
//!
//! Anomalies (carrier flow unless noted): `rtmpt.unknown_sid` (a request for
//! a session whose open was not seen: decoded as a mid-stream tunnel),
//! `rtmpt.duplicate_seq` and `rtmpt.missing_seq` (virtual flow),
//! `rtmpt.request_after_close`, `rtmpt.bad_open_reply`, `rtmpt.http_error`
//! (a 4xx/5xx answer other than ident2's expected 404),
//! `rtmpt.empty_reply` (an answer without its interval byte),
//! `rtmpt.unknown_request`, plus the `http.*` framing anomalies of
//! [`crate::http`], among them `http.content_length_mismatch` and
//! `http.response_without_request`.
//!
//! Memory: at most [`MAX_TUNNELS`] tunnels (the oldest is ended, reason
//! `evicted`), each holding at most [`MAX_REORDER_BYTES`] of out-of-order
//! bodies; HTTP limits are those of [`crate::http`].

use std::collections::BTreeMap;

use crate::fasthash::FastMap;

use crate::event::{
    Anomaly, ByteRange, Direction, EndReason, Event, EventKind, FlowCounters, FlowEnd, FlowId,
    FlowInfo, FlowProtocol, Gap, PacketRef, Transport, TunnelRef,
};
use crate::http::{self, HttpConn, HttpEvent, HttpMessage, RequestRef, StartLine};
use crate::reassembly::FlowIdAllocator;
use crate::rtmp;
use crate::time::PacketTime;
pub use crate::tunnel::{Latency, RequestCounts, TunnelFacts};
use crate::vocab::PerDir;
use crate::vocab::{anomalies, AnomalyKind};

/// Most tunnels tracked at once.
pub const MAX_TUNNELS: usize = 4096;
/// Most out-of-order body bytes a tunnel holds (both directions).
pub const MAX_REORDER_BYTES: usize = 16 << 20;
/// A seq still missing while this many later seqs wait is declared missing.
pub const MAX_REORDER_SEQS: usize = 64;
/// Most carrier flows listed per tunnel (more are counted).
pub const MAX_CARRIERS_LISTED: usize = 256;
/// Closed session ids remembered (a late request for one is
/// `rtmpt.request_after_close`, not a new tunnel).
pub const MAX_CLOSED_SIDS: usize = 256;
/// Longest session id accepted from an `/open/1` answer.
pub const MAX_SID_LEN: usize = 64;

/// Whether a flow whose first bytes (in direction `dir`) are `data` goes to
/// the HTTP/RTMPT layer instead of the RTMP dissector. The one routing hook
/// of the pipeline, kept apart so a content classifier can replace it.
pub fn routes_flow(dir: Direction, data: &[u8]) -> bool {
    http::looks_like_http(dir, data)
}

/// What a request path asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Ident2,
    Open,
    Idle { sid: String, seq: u64 },
    Send { sid: String, seq: u64 },
    Close { sid: String, seq: u64 },
}

impl Request {
    /// Parses an RTMPT request target (origin form, or absolute form).
    pub fn parse(target: &str) -> Option<Request> {
        let path = match target.find("://") {
            Some(i) => {
                let rest = &target[i + 3..];
                &rest[rest.find('/').unwrap_or(rest.len())..]
            }
            None => target,
        };
        let path = path.split('?').next().unwrap_or(path);
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["fcs", "ident2"] | ["fcs", "ident"] => Some(Request::Ident2),
            ["open", _] => Some(Request::Open),
            [kind, sid, seq] if !sid.is_empty() && sid.len() <= MAX_SID_LEN => {
                let seq = seq.parse::<u64>().ok()?;
                let sid = (*sid).to_owned();
                match *kind {
                    "idle" => Some(Request::Idle { sid, seq }),
                    "send" => Some(Request::Send { sid, seq }),
                    "close" => Some(Request::Close { sid, seq }),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    fn sid_seq(&self) -> Option<(&str, u64)> {
        match self {
            Request::Idle { sid, seq }
            | Request::Send { sid, seq }
            | Request::Close { sid, seq } => Some((sid, *seq)),
            _ => None,
        }
    }
}

/// Most delivered runs held for the data tap between two drains.
pub const MAX_TAPPED: usize = 4096;

/// In-order tunnel bytes delivered to a virtual flow's dissector, for the
/// pipeline's data tap (hex view, export): like TCP bytes of a plain flow.
#[derive(Debug)]
pub struct Tapped {
    pub flow: FlowId,
    pub dir: Direction,
    pub offset: u64,
    pub data: Vec<u8>,
}

/// A body waiting for its turn.
#[derive(Debug)]
struct Piece {
    data: Vec<u8>,
    /// Bytes known missing: `(position in data, length)`, in order.
    holes: Vec<(usize, u64)>,
    /// Bytes of unknown length are missing after `data` (a lost response).
    unknown: bool,
    pkt: PacketRef,
    /// This is the answer to `/close`: the tunnel ends after it.
    close: bool,
}

#[derive(Debug)]
struct Tunnel {
    flow_id: FlowId,
    conn: rtmp::Connection,
    next: [u64; 2],
    pending: [BTreeMap<u64, Piece>; 2],
    pending_bytes: usize,
    offset: [u64; 2],
    facts: TunnelFacts,
    counters: FlowCounters,
    first_seen: PacketTime,
    last_seen: PacketTime,
    close_seq: Option<u64>,
    created: u64,
    /// Bytes of unknown length are missing before the next delivered byte:
    /// reported as a 1-byte gap when (and only if) more bytes follow.
    unknown_gap: [bool; 2],
}

/// One HTTP connection routed here.
#[derive(Debug)]
struct Carrier {
    info: FlowInfo,
    http: HttpConn,
    /// Decided on the first complete request: Some(true) RTMPT.
    rtmpt: Option<bool>,
    /// Facts of requests seen before the tunnel was known (ident2, open).
    pre: RequestCounts,
    pre_http: PerDir<u64>,
    pre_latency: Latency,
    /// Outstanding `/open/1` requests (index on the carrier).
    opens: Vec<u64>,
}

/// The RTMPT layer: all HTTP carriers and tunnels of one input.
#[derive(Debug)]
pub struct Layer {
    ids: FlowIdAllocator,
    carriers: FastMap<FlowId, Carrier>,
    tunnels: FastMap<String, Tunnel>,
    closed_sids: std::collections::VecDeque<String>,
    created: u64,
    scratch: Vec<HttpEvent>,
    tapped: Vec<Tapped>,
    /// Virtual flows that ended with an RTMP protocol.
    pub rtmp_flows: u64,
}

fn ev(flow: FlowId, dir: Option<Direction>, pkt: PacketRef, kind: EventKind) -> Event {
    Event {
        pcap_cnt: pkt.pcap_cnt,
        time: pkt.time,
        flow_id: Some(flow),
        direction: dir,
        kind,
    }
}

fn anomaly_ev(
    flow: FlowId,
    dir: Option<Direction>,
    pkt: PacketRef,
    kind: AnomalyKind,
    range: Option<ByteRange>,
    detail: String,
) -> Event {
    ev(
        flow,
        dir,
        pkt,
        EventKind::Anomaly(Anomaly::new(kind, range, detail)),
    )
}

fn latency_us(from: PacketTime, to: PacketTime) -> u64 {
    (to.nanos_since(from).max(0) / 1000).min(u64::MAX as i128) as u64
}

impl Tunnel {
    fn facts_carrier(&mut self, flow: FlowId) {
        if !self.facts.carriers.contains(&flow) {
            self.facts.carrier_count += 1;
            if self.facts.carriers.len() < MAX_CARRIERS_LISTED {
                self.facts.carriers.push(flow);
            }
        }
    }

    /// Queues a body for direction `d` at `seq` and delivers what is in order.
    fn put(
        &mut self,
        d: usize,
        seq: u64,
        piece: Piece,
        out: &mut Vec<Event>,
        tap: &mut Vec<Tapped>,
    ) {
        let pkt = piece.pkt;
        if seq < self.next[d] || self.pending[d].contains_key(&seq) {
            if d == 0 {
                self.facts.duplicate_seqs += 1;
                out.push(anomaly_ev(
                    self.flow_id,
                    Some(Direction::ToServer),
                    pkt,
                    anomalies::RTMPT_DUPLICATE_SEQ,
                    None,
                    format!("request seq {seq} seen again; the copy is ignored"),
                ));
            }
            return;
        }
        self.pending_bytes += piece.data.len();
        self.pending[d].insert(seq, piece);
        self.deliver(false, out, tap);
    }

    /// Delivers in-order bodies in causal order: the answer to seq k before
    /// the request k+1 (a client sends request k+1 after answer k, or at
    /// least no answer depends on a later request). Past the reorder limits,
    /// or with `flush` (end of tunnel), the order is relaxed and missing
    /// seqs are skipped.
    fn deliver(&mut self, flush: bool, out: &mut Vec<Event>, tap: &mut Vec<Tapped>) {
        loop {
            if let Some(p) = self.pending[1].remove(&self.next[1]) {
                self.pending_bytes -= p.data.len();
                self.next[1] += 1;
                self.feed(Direction::ToClient, p, out, tap);
                continue;
            }
            let over = self.pending[0].len() + self.pending[1].len() > MAX_REORDER_SEQS
                || self.pending_bytes > MAX_REORDER_BYTES;
            if self.next[1] >= self.next[0] || flush || over {
                if let Some(p) = self.pending[0].remove(&self.next[0]) {
                    self.pending_bytes -= p.data.len();
                    self.next[0] += 1;
                    self.feed(Direction::ToServer, p, out, tap);
                    continue;
                }
            }
            if !(flush || over) {
                break;
            }
            // Skip the missing seqs of a direction that has later ones.
            let mut skipped = false;
            for d in 0..2 {
                let Some((&first, p)) = self.pending[d].first_key_value() else {
                    continue;
                };
                if first <= self.next[d] {
                    continue;
                }
                let pkt = p.pkt;
                let dir = if d == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                let missing = first - self.next[d];
                if d == 0 {
                    self.facts.missing_seqs += missing;
                } else {
                    self.facts.lost_responses += missing;
                }
                out.push(anomaly_ev(
                    self.flow_id,
                    Some(dir),
                    pkt,
                    anomalies::RTMPT_MISSING_SEQ,
                    None,
                    format!(
                        "{} seq {}..{} never seen; their bytes are a gap of unknown length",
                        if d == 0 { "request" } else { "response" },
                        self.next[d],
                        first
                    ),
                ));
                self.unknown_gap[d] = true;
                self.next[d] = first;
                skipped = true;
                break;
            }
            if !skipped {
                break;
            }
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, pkt: PacketRef, out: &mut Vec<Event>) {
        let d = dir.index();
        let off = self.offset[d];
        out.push(ev(
            self.flow_id,
            Some(dir),
            pkt,
            EventKind::Gap(Gap { offset: off, len }),
        ));
        self.counters.missed_bytes[d] += len;
        let mut st = Stamp {
            out,
            flow: self.flow_id,
            buf: Vec::new(),
        };
        self.conn.handle_gap(dir, off, len, pkt, &mut st);
        self.offset[d] += len;
    }

    fn feed(&mut self, dir: Direction, p: Piece, out: &mut Vec<Event>, tap: &mut Vec<Tapped>) {
        let d = dir.index();
        if !p.data.is_empty() && std::mem::take(&mut self.unknown_gap[d]) {
            self.gap(dir, 1, p.pkt, out);
        }
        // Data runs between the holes, each hole a gap of its length.
        let mut at = 0usize;
        let mut holes = p.holes.iter().copied().peekable();
        loop {
            let next_hole = holes.peek().copied();
            let end = next_hole.map_or(p.data.len(), |(pos, _)| pos.min(p.data.len()));
            if end > at {
                let run = &p.data[at..end];
                let off = self.offset[d];
                self.counters.bytes[d] += run.len() as u64;
                let mut st = Stamp {
                    out,
                    flow: self.flow_id,
                    buf: Vec::new(),
                };
                self.conn.handle_data(dir, off, run, p.pkt, &mut st);
                self.offset[d] += run.len() as u64;
                // Bounded: the pipeline drains after every call.
                if tap.len() < MAX_TAPPED {
                    tap.push(Tapped {
                        flow: self.flow_id,
                        dir,
                        offset: off,
                        data: run.to_vec(),
                    });
                }
                at = end;
            }
            match next_hole {
                Some((_, len)) => {
                    holes.next();
                    self.gap(dir, len, p.pkt, out);
                }
                None => break,
            }
        }
        if self.conn.protocol() == FlowProtocol::RtmpEncrypted {
            self.facts.encrypted = true;
        }
        if p.unknown {
            self.unknown_gap[d] = true;
        }
        if p.close && dir == Direction::ToClient {
            self.facts.closed = true;
        }
    }
}

/// Collects the dissector's events of one virtual flow and, when dropped,
/// stamps them with the virtual flow id into the output.
struct Stamp<'a> {
    out: &'a mut Vec<Event>,
    flow: FlowId,
    buf: Vec<crate::rtmp::RtmpEvent>,
}

impl std::ops::Deref for Stamp<'_> {
    type Target = Vec<crate::rtmp::RtmpEvent>;
    fn deref(&self) -> &Vec<crate::rtmp::RtmpEvent> {
        &self.buf
    }
}
impl std::ops::DerefMut for Stamp<'_> {
    fn deref_mut(&mut self) -> &mut Vec<crate::rtmp::RtmpEvent> {
        &mut self.buf
    }
}
impl Drop for Stamp<'_> {
    fn drop(&mut self) {
        let flow = self.flow;
        self.out
            .extend(self.buf.drain(..).map(|e| Event::from_rtmp(flow, e)));
    }
}

impl Layer {
    pub fn new(ids: FlowIdAllocator) -> Self {
        Layer {
            ids,
            carriers: crate::fasthash::map(),
            tunnels: crate::fasthash::map(),
            closed_sids: std::collections::VecDeque::new(),
            created: 0,
            scratch: Vec::new(),
            tapped: Vec::new(),
            rtmp_flows: 0,
        }
    }

    /// Starts tracking an HTTP flow (called once, when the flow is routed here).
    pub fn add_carrier(&mut self, info: FlowInfo) {
        self.carriers.insert(
            info.flow_id,
            Carrier {
                info,
                http: HttpConn::new(),
                rtmpt: None,
                pre: RequestCounts::default(),
                pre_http: PerDir::default(),
                pre_latency: Latency::default(),
                opens: Vec::new(),
            },
        );
    }

    /// Takes the tunnel bytes delivered since the last call (see [`Tapped`]).
    pub fn take_tapped(&mut self) -> Vec<Tapped> {
        std::mem::take(&mut self.tapped)
    }

    /// Whether `flow` is routed here.
    pub fn is_carrier(&self, flow: FlowId) -> bool {
        self.carriers.contains_key(&flow)
    }

    /// Tunnels opened so far (each took a virtual flow id).
    pub fn tunnels_created(&self) -> u64 {
        self.created
    }

    /// Tunnels open right now.
    pub fn open_tunnels(&self) -> usize {
        self.tunnels.len()
    }

    /// In-order bytes of a carrier flow.
    pub fn data(
        &mut self,
        flow: FlowId,
        dir: Direction,
        offset: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) {
        self.drive_http(flow, pkt, out, |h, hs| h.data(dir, offset, data, pkt, hs));
    }

    /// Bytes of a carrier flow that will never arrive.
    pub fn gap(
        &mut self,
        flow: FlowId,
        dir: Direction,
        offset: u64,
        len: u64,
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) {
        self.drive_http(flow, pkt, out, |h, hs| h.gap(dir, offset, len, pkt, hs));
    }

    /// Runs `step` on a carrier's HTTP parser and handles the HTTP messages
    /// it completes; nothing for an unknown flow or one that turned out not
    /// to carry RTMPT.
    fn drive_http(
        &mut self,
        flow: FlowId,
        pkt: PacketRef,
        out: &mut Vec<Event>,
        step: impl FnOnce(&mut HttpConn, &mut Vec<HttpEvent>),
    ) {
        let Some(c) = self.carriers.get_mut(&flow) else {
            return;
        };
        if c.rtmpt == Some(false) {
            return;
        }
        let mut hs = std::mem::take(&mut self.scratch);
        step(&mut c.http, &mut hs);
        self.handle_http(flow, pkt, &mut hs, out);
        self.scratch = hs;
    }

    /// A carrier flow ended: returns the protocol for its `flow` record.
    pub fn carrier_end(
        &mut self,
        flow: FlowId,
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) -> FlowProtocol {
        self.drive_http(flow, pkt, out, |h, hs| h.finish(pkt, hs));
        let c = self.carriers.remove(&flow);
        match c.and_then(|c| c.rtmpt) {
            Some(true) => FlowProtocol::Rtmpt,
            _ => FlowProtocol::NotRtmp,
        }
    }

    /// End of input: ends every tunnel still open.
    pub fn finish(&mut self, pkt: PacketRef, out: &mut Vec<Event>) {
        let mut sids: Vec<(u64, String)> = self
            .tunnels
            .iter()
            .map(|(k, t)| (t.created, k.clone()))
            .collect();
        sids.sort();
        for (_, sid) in sids {
            self.end_tunnel(&sid, EndReason::EndOfInput, pkt, out);
        }
    }

    fn handle_http(
        &mut self,
        flow: FlowId,
        pkt: PacketRef,
        hs: &mut Vec<HttpEvent>,
        out: &mut Vec<Event>,
    ) {
        for e in hs.drain(..) {
            match e {
                HttpEvent::RequestHead(r) => {
                    // An RTMPT path decides at once (so diagnostics about
                    // this very request are kept); other requests are
                    // decided when complete (Content-Type needs the head).
                    if let Some(c) = self.carriers.get_mut(&flow) {
                        if c.rtmpt.is_none() && Request::parse(&r.target).is_some() {
                            c.rtmpt = Some(true);
                        }
                    }
                }
                HttpEvent::Message(m) => self.message(flow, &m, out),
                HttpEvent::Unanswered(r) => self.unanswered(flow, &r, pkt, out),
                HttpEvent::Anomaly(dir, a) => {
                    // HTTP that is not RTMPT is left alone: no diagnostics
                    // until the connection is known to carry RTMPT.
                    if self.carriers.get(&flow).and_then(|c| c.rtmpt) == Some(true) {
                        out.push(ev(flow, Some(dir), pkt, EventKind::Anomaly(a)));
                    }
                }
            }
        }
    }

    fn message(&mut self, flow: FlowId, m: &HttpMessage, out: &mut Vec<Event>) {
        let target = match (&m.start, &m.request) {
            (StartLine::Request { target, .. }, _) => Some(target.as_str()),
            (StartLine::Response { .. }, Some(r)) => Some(r.target.as_str()),
            _ => None,
        };
        let req = target.and_then(Request::parse);
        let Some(c) = self.carriers.get_mut(&flow) else {
            return;
        };
        if c.rtmpt.is_none() {
            if let StartLine::Request { .. } = m.start {
                let fcs = m
                    .header("content-type")
                    .is_some_and(|v| v.eq_ignore_ascii_case("application/x-fcs"));
                c.rtmpt = Some(req.is_some() || fcs);
            }
        }
        if c.rtmpt != Some(true) {
            return;
        }
        let is_req = m.dir == Direction::ToServer;
        let Some(req) = req else {
            if is_req {
                out.push(anomaly_ev(
                    flow,
                    Some(m.dir),
                    m.done,
                    anomalies::RTMPT_UNKNOWN_REQUEST,
                    Some(m.range),
                    format!("not an RTMPT request: {:?}", target.unwrap_or("")),
                ));
            }
            return;
        };
        let d = m.dir.index();
        match &req {
            Request::Ident2 | Request::Open => {
                *c.pre_http.get_mut(m.dir) += m.wire_len();
                if is_req {
                    if req == Request::Ident2 {
                        c.pre.ident2 += 1;
                    } else {
                        c.pre.open += 1;
                        if let Some(r) = &m.request {
                            c.opens.push(r.index);
                        }
                    }
                } else if let Some(r) = &m.request {
                    c.pre_latency.add(latency_us(r.done.time, m.first.time));
                    if req == Request::Open {
                        self.open_reply(flow, m, out);
                    }
                }
                return;
            }
            _ => {}
        }
        let Some((sid, seq)) = req.sid_seq() else {
            return;
        };
        let sid = sid.to_owned();
        if !self.tunnels.contains_key(&sid) {
            if !is_req {
                // An answer for a tunnel already ended (or never known).
                return;
            }
            if self.closed_sids.contains(&sid) {
                out.push(anomaly_ev(
                    flow,
                    Some(m.dir),
                    m.done,
                    anomalies::RTMPT_REQUEST_AFTER_CLOSE,
                    Some(m.range),
                    format!("request seq {seq} for session {sid} after its /close was answered"),
                ));
                return;
            }
            out.push(anomaly_ev(
                flow,
                Some(m.dir),
                m.done,
                anomalies::RTMPT_UNKNOWN_SID,
                Some(m.range),
                format!("request for session {sid} whose /open/1 was not seen: decoded as a mid-stream tunnel"),
            ));
            let info = self.carriers[&flow].info.clone();
            self.new_tunnel(&sid, &info, true, seq, m.first, out);
        }
        let t = self.tunnels.get_mut(&sid).expect("tunnel exists");
        t.facts_carrier(flow);
        t.last_seen = m.done.time;
        t.counters.packets[d] += 1;
        *t.facts.http_bytes.get_mut(m.dir) += m.wire_len();
        if is_req {
            match req {
                Request::Idle { .. } => t.facts.requests.idle += 1,
                Request::Send { .. } => t.facts.requests.send += 1,
                Request::Close { .. } => t.facts.requests.close += 1,
                _ => {}
            }
            if t.close_seq.is_some_and(|c| seq > c) {
                out.push(anomaly_ev(
                    flow,
                    Some(m.dir),
                    m.done,
                    anomalies::RTMPT_REQUEST_AFTER_CLOSE,
                    Some(m.range),
                    format!("request seq {seq} after /close"),
                ));
            }
            if let Request::Close { .. } = req {
                t.close_seq = Some(t.close_seq.map_or(seq, |c| c.min(seq)));
            }
            let data = match req {
                Request::Send { .. } => m.body.clone(),
                _ => Vec::new(),
            };
            let holes = match req {
                Request::Send { .. } => m.holes.clone(),
                _ => Vec::new(),
            };
            *t.facts.rtmp_bytes.get_mut(m.dir) += data.len() as u64;
            t.put(
                0,
                seq,
                Piece {
                    data,
                    holes,
                    unknown: false,
                    pkt: m.done,
                    close: false,
                },
                out,
                &mut self.tapped,
            );
        } else {
            if let Some(r) = &m.request {
                t.facts.latency.add(latency_us(r.done.time, m.first.time));
            }
            let status = m.status().unwrap_or(0);
            let (data, holes) = if status >= 400 {
                t.facts.http_errors += 1;
                out.push(anomaly_ev(
                    flow,
                    Some(m.dir),
                    m.done,
                    anomalies::RTMPT_HTTP_ERROR,
                    Some(m.range),
                    format!("status {status} for seq {seq}"),
                ));
                (Vec::new(), Vec::new())
            } else if m.body.is_empty() && m.body_lost == 0 {
                out.push(anomaly_ev(
                    flow,
                    Some(m.dir),
                    m.done,
                    anomalies::RTMPT_EMPTY_REPLY,
                    Some(m.range),
                    format!("answer to seq {seq} has no interval byte"),
                ));
                (Vec::new(), Vec::new())
            } else if m.body.is_empty() {
                // The interval byte itself was lost.
                (Vec::new(), vec![(0, m.body_lost.saturating_sub(1))])
            } else {
                *t.facts.intervals.entry(m.body[0]).or_insert(0) += 1;
                let holes = m
                    .holes
                    .iter()
                    .map(|&(p, l)| (p.saturating_sub(1), l))
                    .collect();
                (m.body[1..].to_vec(), holes)
            };
            if data.is_empty() && holes.is_empty() && matches!(req, Request::Idle { .. }) {
                t.facts.empty_polls += 1;
            }
            *t.facts.rtmp_bytes.get_mut(m.dir) += data.len() as u64;
            let close = matches!(req, Request::Close { .. });
            t.put(
                1,
                seq,
                Piece {
                    data,
                    holes,
                    unknown: false,
                    pkt: m.done,
                    close,
                },
                out,
                &mut self.tapped,
            );
            if t.facts.closed && t.pending[1].is_empty() {
                self.end_tunnel(&sid, EndReason::Fin, m.done, out);
            }
        }
    }

    fn open_reply(&mut self, flow: FlowId, m: &HttpMessage, out: &mut Vec<Event>) {
        let c = self.carriers.get_mut(&flow).expect("carrier");
        if let Some(r) = &m.request {
            c.opens.retain(|&i| i != r.index);
        }
        if m.status() != Some(200) {
            out.push(anomaly_ev(
                flow,
                Some(m.dir),
                m.done,
                anomalies::RTMPT_HTTP_ERROR,
                Some(m.range),
                format!("/open/1 answered with status {}", m.status().unwrap_or(0)),
            ));
            return;
        }
        let text = String::from_utf8_lossy(&m.body);
        let sid = text.trim();
        let ok = !sid.is_empty()
            && sid.len() <= MAX_SID_LEN
            && sid.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if !ok {
            out.push(anomaly_ev(
                flow,
                Some(m.dir),
                m.done,
                anomalies::RTMPT_BAD_OPEN_REPLY,
                Some(m.range),
                "the /open/1 answer is not a session id".to_owned(),
            ));
            return;
        }
        let sid = sid.to_owned();
        let info = c.info.clone();
        let pre = std::mem::take(&mut c.pre);
        let pre_http = std::mem::take(&mut c.pre_http);
        let pre_latency = std::mem::take(&mut c.pre_latency);
        if self.tunnels.contains_key(&sid) {
            // A reused id: the old tunnel ends, the new one starts.
            self.end_tunnel(&sid, EndReason::PortReuse, m.done, out);
        }
        let first = m.request.as_ref().map_or(m.first, |r| r.done);
        self.new_tunnel(&sid, &info, false, 0, first, out);
        let t = self.tunnels.get_mut(&sid).expect("tunnel");
        t.facts_carrier(flow);
        t.facts.requests.ident2 += pre.ident2;
        t.facts.requests.open += pre.open;
        t.facts.http_bytes.to_server += pre_http.to_server;
        t.facts.http_bytes.to_client += pre_http.to_client;
        t.counters.packets[0] += pre.ident2 + pre.open;
        t.counters.packets[1] += 1;
        t.facts.latency.merge(&pre_latency);
    }

    fn new_tunnel(
        &mut self,
        sid: &str,
        carrier: &FlowInfo,
        midstream: bool,
        first_seq: u64,
        pkt: PacketRef,
        out: &mut Vec<Event>,
    ) {
        if self.tunnels.len() >= MAX_TUNNELS {
            if let Some(old) = self
                .tunnels
                .iter()
                .min_by_key(|(_, t)| t.created)
                .map(|(k, _)| k.clone())
            {
                self.end_tunnel(&old, EndReason::Evicted, pkt, out);
            }
        }
        let flow_id = self.ids.next_id();
        let mut info = carrier.clone();
        info.flow_id = flow_id;
        info.midstream = midstream;
        info.tunnel = Some(TunnelRef {
            transport: Transport::Rtmpt,
            sid: sid.to_owned(),
        });
        out.push(ev(flow_id, None, pkt, EventKind::FlowStart(info)));
        self.created += 1;
        self.tunnels.insert(
            sid.to_owned(),
            Tunnel {
                flow_id,
                conn: rtmp::Connection::new(rtmp::Limits::default(), midstream),
                next: [first_seq; 2],
                pending: [BTreeMap::new(), BTreeMap::new()],
                pending_bytes: 0,
                offset: [0; 2],
                facts: TunnelFacts {
                    transport: Transport::Rtmpt.as_str(),
                    sid: sid.to_owned(),
                    midstream,
                    ..Default::default()
                },
                counters: FlowCounters::default(),
                first_seen: pkt.time,
                last_seen: pkt.time,
                close_seq: None,
                unknown_gap: [false; 2],
                created: self.created,
            },
        );
    }

    fn unanswered(&mut self, flow: FlowId, r: &RequestRef, pkt: PacketRef, out: &mut Vec<Event>) {
        let Some((sid, seq)) =
            Request::parse(&r.target).and_then(|q| q.sid_seq().map(|(s, n)| (s.to_owned(), n)))
        else {
            return;
        };
        if self.carriers.get(&flow).and_then(|c| c.rtmpt) != Some(true) {
            return;
        }
        let Some(t) = self.tunnels.get_mut(&sid) else {
            return;
        };
        t.facts.lost_responses += 1;
        let close = r.target.contains("/close/");
        t.put(
            1,
            seq,
            Piece {
                data: Vec::new(),
                holes: Vec::new(),
                unknown: true,
                pkt,
                close,
            },
            out,
            &mut self.tapped,
        );
        if t.facts.closed && t.pending[1].is_empty() {
            self.end_tunnel(&sid, EndReason::Fin, pkt, out);
        }
    }

    fn end_tunnel(&mut self, sid: &str, reason: EndReason, pkt: PacketRef, out: &mut Vec<Event>) {
        let Some(mut t) = self.tunnels.remove(sid) else {
            return;
        };
        if t.facts.closed {
            if self.closed_sids.len() >= MAX_CLOSED_SIDS {
                self.closed_sids.pop_front();
            }
            self.closed_sids.push_back(sid.to_owned());
        }
        t.deliver(true, out, &mut self.tapped);
        {
            let mut st = Stamp {
                out,
                flow: t.flow_id,
                buf: Vec::new(),
            };
            t.conn.finish(pkt, &mut st);
        }
        let protocol = t.conn.protocol();
        if protocol == FlowProtocol::RtmpEncrypted {
            t.facts.encrypted = true;
        }
        if matches!(
            protocol,
            FlowProtocol::Rtmp | FlowProtocol::RtmpMidstream | FlowProtocol::RtmpEncrypted
        ) {
            self.rtmp_flows += 1;
        }
        let mut counters = t.counters.clone();
        counters.messages = [
            t.conn.messages(Direction::ToServer),
            t.conn.messages(Direction::ToClient),
        ];
        for d in [Direction::ToServer, Direction::ToClient] {
            let h = *t.facts.http_bytes.get_mut(d);
            let r = *t.facts.rtmp_bytes.get_mut(d);
            *t.facts.overhead_bytes.get_mut(d) = h.saturating_sub(r);
        }
        out.push(ev(
            t.flow_id,
            None,
            pkt,
            EventKind::FlowEnd(FlowEnd {
                counters,
                reason,
                protocol,
                // The tunnel's RTMP proves itself like a TCP flow's would:
                // by its handshake, or by decoded chunks after a pickup.
                evidence: match protocol {
                    FlowProtocol::Rtmp | FlowProtocol::RtmpEncrypted if t.conn.handshake_both() => {
                        crate::classify::Evidence::RtmpHandshake
                    }
                    FlowProtocol::RtmpEncrypted => crate::classify::Evidence::RtmpeHandshake,
                    FlowProtocol::Rtmp | FlowProtocol::RtmpMidstream => {
                        crate::classify::Evidence::RtmpChunks
                    }
                    _ => crate::classify::Evidence::None,
                },
                confidence: match protocol {
                    FlowProtocol::Rtmp if t.conn.handshake_both() => {
                        crate::classify::Confidence::High
                    }
                    FlowProtocol::Rtmp
                    | FlowProtocol::RtmpMidstream
                    | FlowProtocol::RtmpEncrypted => crate::classify::Confidence::Medium,
                    _ => crate::classify::Confidence::Low,
                },
                first_seen: t.first_seen,
                last_seen: t.last_seen.max(pkt.time),
                tunnel: Some(Box::new(t.facts)),
                tls: None,
            }),
        ));
    }
}

#[cfg(test)]
mod tests;
