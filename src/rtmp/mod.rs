//! The tolerant RTMP dissector (sans-IO).
//!
//! Contract: a [`Connection`] takes each direction's reassembled bytes (with
//! stream offsets, packet index and packet time) and gaps, and returns
//! [`RtmpEvent`]s: handshake parts, one [`message::Message`] per RTMP message, and
//! anomalies with byte ranges. It never panics, never loops without consuming
//! bytes, never allocates from a length field before the bytes exist, and
//! keeps its memory bounded by the named limits below. It does no I/O and
//! reads no clock.
//!
//! Per direction the bytes go through phases: the handshake (C0/C1/C2 or
//! S0/S1/S2, recognised by content on any port), then the chunk decoder
//! ([`chunk`]). A flow picked up mid-stream, or whose first bytes are not a
//! handshake, is buffered (at most [`midstream::PROBE_BYTES`]) until
//! [`midstream::infer`] finds where chunks start and the chunk size; after a
//! gap or a desync the same scorer resynchronises with the known chunk size.
//! RTMPE (C0 0x06/0x08) and flows that are not RTMP are recognised and then
//! left alone.
//!
//! Protocol control handled here: Set Chunk Size and Abort (in the chunk
//! decoder), Window Ack Size / Acknowledgement (`rtmp.ack.beyond_received`,
//! `rtmp.ack.late`), Set Peer Bandwidth (tracked), User Control Ping
//! Request/Response (paired into `rtt_us`).

pub mod aggregate;
pub mod body;
pub mod chunk;
pub mod command;
pub mod control;
pub mod data;
pub mod handshake;
pub mod media;
pub mod message;
pub mod midstream;
pub(crate) mod reader;
pub mod shared_object;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
pub mod user_control;

pub use crate::vocab::PacketRef;
use std::collections::VecDeque;

use crate::time::PacketTime;
use crate::vocab::{anomalies, AnomalyKind};
use crate::vocab::{Anomaly, ByteRange, Direction, FlowProtocol};
use handshake::{HandshakeEvent, HandshakePart};
use message::{type_id, Body, Control, LimitType, Message, TruncationCause};

/// Per-connection limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of partial messages held across all chunk streams of one direction.
    pub max_partial_bytes: usize,
    /// Chunk streams tracked per direction.
    pub max_chunk_streams: usize,
    /// Lowest [`midstream::judge`] score at which a mid-stream chain is
    /// taken as RTMP while nothing else on the flow is
    /// ([`midstream::ACCEPT_EVIDENCE`]; a test harness may raise it to
    /// measure the scores).
    pub midstream_accept: i32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_partial_bytes: 64 * 1024 * 1024,
            max_chunk_streams: 4096,
            midstream_accept: midstream::ACCEPT_EVIDENCE,
        }
    }
}

/// Default cap on the bytes all connections' dissectors hold together
/// (partial message bodies, handshake and probe buffers): 100 flows each
/// holding an unfinished 16 MiB message would otherwise hold 1.6 GB. Over
/// it, the connections holding most give up their partial messages first
/// (`rtmp.limit.dissector_memory`). `--max-dissector-mem` overrides it.
pub const DEFAULT_MAX_DISSECTOR_MEMORY: usize = 48 << 20;

/// Pings per direction remembered while waiting for their response.
pub const MAX_PENDING_PINGS: usize = 16;
/// (message stream id, type id) pairs tracked per direction for timestamp order.
pub const MAX_TS_STREAMS: usize = 256;
/// A flow whose SYN was seen but whose first bytes are neither a handshake
/// nor plausible chunks is declared not RTMP after this many bytes.
pub const NOT_RTMP_DECIDE_BYTES: usize = 4096;
/// First probe-buffer size at which inference is tried (then each doubling).
const FIRST_PROBE_CHECK: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// Finding where chunks start and the chunk size (no handshake seen).
    Midstream,
    /// Lost sync at this stream offset; finding the next chunk header.
    Resync(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Handshake,
    Probe(Probe),
    Chunks,
    Stopped,
}

#[derive(Debug)]
struct Dir {
    phase: Phase,
    /// Handshake bytes of this direction (up to `HANDSHAKE_TOTAL`).
    hs: Vec<u8>,
    hs_base: u64,
    hs_done: [bool; 3],
    hs_damaged: [bool; 3],
    c1_digest: Option<[u8; 32]>,
    /// Unconsumed bytes: an incomplete chunk header, or the probe buffer.
    buf: Vec<u8>,
    buf_off: u64,
    /// Bytes to run through the phases again after a phase change (probe
    /// accepted), with their stream offset. Processed iteratively, never by
    /// recursion.
    replay: Option<(u64, Vec<u8>)>,
    next_check: usize,
    /// Progress of the resynchronisation scan over `buf`.
    scan: midstream::ResyncScan,
    /// Stream offset just past the last byte (or gap) delivered.
    next_off: u64,
    /// Offsets count from the stream start (handshake seen).
    absolute: bool,
    dec: chunk::ChunkDecoder,
    /// Window Ack Size announced by this direction's sender.
    window: Option<u32>,
    /// `next_off` of this direction when the peer last acknowledged.
    unacked_base: u64,
    late_reported: bool,
    /// Set Peer Bandwidth announced by this direction's sender.
    peer_bandwidth: Option<(u32, LimitType)>,
    pings: VecDeque<(u32, PacketTime)>,
    ts_streams: Vec<((u32, u8), u32)>,
    messages: u64,
    /// Highest [`midstream::judge`] score of a chain this direction's
    /// mid-stream probe found acceptable by its structure.
    best_evidence: Option<i32>,
    /// `rtmp.midstream.work_limit` was reported for this direction.
    work_limit_reported: bool,
}

impl Dir {
    fn new(limits: &Limits) -> Self {
        Dir {
            phase: Phase::Start,
            hs: Vec::new(),
            hs_base: 0,
            hs_done: [false; 3],
            hs_damaged: [false; 3],
            c1_digest: None,
            buf: Vec::new(),
            buf_off: 0,
            replay: None,
            next_check: FIRST_PROBE_CHECK,
            scan: midstream::ResyncScan::default(),
            next_off: 0,
            absolute: false,
            dec: chunk::ChunkDecoder::new(limits.max_partial_bytes, limits.max_chunk_streams),
            window: None,
            unacked_base: 0,
            late_reported: false,
            peer_bandwidth: None,
            pings: VecDeque::new(),
            ts_streams: Vec::new(),
            messages: 0,
            best_evidence: None,
            work_limit_reported: false,
        }
    }
}

/// One RTMP connection (both directions of one TCP flow).
#[derive(Debug)]
pub struct Connection {
    limits: Limits,
    midstream: bool,
    protocol: FlowProtocol,
    dirs: [Dir; 2],
    /// A chunk chain that parsed but whose messages did not prove RTMP:
    /// reported once at the end as `rtmp.detection_uncertain` unless the
    /// flow turned out to be RTMP.
    doubt: Option<(Direction, ByteRange, String)>,
    /// `rtmp.detection_uncertain` was reported.
    uncertain: bool,
    /// Reused output buffer of the chunk decoder.
    scratch: Vec<chunk::ChunkOut>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new(Limits::default(), false)
    }
}

/// What the dissector reports: one event of one direction, completed by the
/// packet `pkt`. The dissector knows nothing of flows; the pipeline stamps
/// each with its flow id into a [`crate::event::Event`].
#[derive(Clone, Debug, PartialEq)]
pub struct RtmpEvent {
    pub pkt: PacketRef,
    pub direction: Direction,
    pub kind: RtmpEventKind,
}

/// The kinds of [`RtmpEvent`].
#[derive(Clone, Debug, PartialEq)]
pub enum RtmpEventKind {
    /// Part of the handshake (C0/C1/C2/S0/S1/S2), once complete.
    Handshake(HandshakeEvent),
    /// One RTMP message (complete, or truncated and marked so).
    Message(Box<Message>),
    /// A diagnostic about this direction's bytes.
    Anomaly(Anomaly),
}

fn ev(dir: Direction, pkt: PacketRef, kind: RtmpEventKind) -> RtmpEvent {
    RtmpEvent {
        pkt,
        direction: dir,
        kind,
    }
}

fn anomaly(
    dir: Direction,
    pkt: PacketRef,
    kind: AnomalyKind,
    range: Option<ByteRange>,
    detail: impl Into<String>,
) -> RtmpEvent {
    ev(
        dir,
        pkt,
        RtmpEventKind::Anomaly(Anomaly::new(kind, range, detail)),
    )
}

fn be32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl Connection {
    /// A new connection. `midstream` is true when reassembly saw no SYN.
    pub fn new(limits: Limits, midstream: bool) -> Self {
        let dirs = [Dir::new(&limits), Dir::new(&limits)];
        Connection {
            limits,
            midstream,
            protocol: FlowProtocol::Unknown,
            dirs,
            doubt: None,
            uncertain: false,
            scratch: Vec::new(),
        }
    }

    /// Lowest stream offset of `dir` that a message emitted later may still
    /// refer to (chunk payloads of partial messages, unconsumed or buffered
    /// bytes). An output that keeps stream bytes to re-read message bodies
    /// by their spans (extract) can drop everything below it.
    pub fn retain_from(&self, dir: Direction) -> u64 {
        if self.stopped() {
            // Not RTMP (or encrypted): no message will ever refer to bytes.
            return u64::MAX;
        }
        let st = &self.dirs[dir.index()];
        let mut low = st.next_off;
        if let Some(p) = st.dec.oldest_partial() {
            low = low.min(p);
        }
        if !st.buf.is_empty() {
            low = low.min(st.buf_off);
        }
        if let Some((off, _)) = &st.replay {
            low = low.min(*off);
        }
        if st.phase == Phase::Handshake || st.phase == Phase::Start {
            low = low.min(st.hs_base);
        }
        low
    }

    /// In-order bytes of one direction; `offset` is the stream offset of
    /// `data[0]`. Events are appended to `out` with `flow_id` unset.
    pub fn handle_data(
        &mut self,
        dir: Direction,
        offset: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        if self.stopped() || data.is_empty() {
            return;
        }
        let d = dir.index();
        let mut offset = offset;
        let mut data = data;
        let expected = self.dirs[d].next_off;
        let started = self.dirs[d].phase != Phase::Start;
        if started && offset < expected {
            // Overlap with bytes already delivered: trim.
            let skip = (expected - offset).min(data.len() as u64) as usize;
            data = &data[skip..];
            offset += skip as u64;
            if data.is_empty() {
                return;
            }
        } else if started && offset > expected {
            self.handle_gap(dir, expected, offset - expected, pkt, out);
            if self.stopped() {
                return;
            }
        }
        self.dirs[d].next_off = offset + data.len() as u64;
        self.process(dir, offset, data, pkt, out);
        self.check_late(dir, pkt, out);
    }

    /// `len` bytes at `offset` of one direction will never arrive.
    pub fn handle_gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        if self.stopped() || len == 0 {
            return;
        }
        let d = dir.index();
        let end = offset.saturating_add(len);
        self.dirs[d].next_off = self.dirs[d].next_off.max(end);
        match self.dirs[d].phase {
            Phase::Stopped => {}
            Phase::Start => {
                self.dirs[d].phase = Phase::Probe(Probe::Midstream);
                self.reset_probe(d, end);
            }
            Phase::Handshake if !self.dirs[d].hs_done[0] => {
                // An RTMPE C0 whose C1 was cut: not shown to be RTMP.
                self.stop_dir(d);
            }
            Phase::Handshake => {
                let st = &mut self.dirs[d];
                let have = st.hs.len() as u64;
                let room = handshake::HANDSHAKE_TOTAL as u64 - have;
                let fill = len.min(room);
                // Mark the damaged parts; fill with zeros to keep positions.
                let a = have;
                let b = have + fill;
                for (i, (s, e)) in [(0u64, 1u64), (1, 1537), (1537, 3073)].iter().enumerate() {
                    if a < *e && b > *s {
                        st.hs_damaged[i] = true;
                    }
                }
                st.hs.resize(st.hs.len() + fill as usize, 0);
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_GAP,
                    Some(ByteRange::new(offset, end)),
                    format!("{len} handshake bytes lost"),
                ));
                let base = st.hs_base;
                let stop = self.handshake_parts(dir, pkt, out);
                if stop {
                    return;
                }
                if len > fill {
                    // The gap runs past the handshake.
                    let st = &mut self.dirs[dir.index()];
                    st.phase =
                        Phase::Probe(Probe::Resync(base + handshake::HANDSHAKE_TOTAL as u64));
                    self.reset_probe(d, end);
                }
            }
            Phase::Probe(p) => {
                // The probe buffer is no longer contiguous: drop it.
                self.dirs[d].phase = Phase::Probe(p);
                self.reset_probe(d, end);
            }
            Phase::Chunks => {
                self.truncate_partials(dir, TruncationCause::Gap, Some(offset), pkt, out);
                let since = self.dirs[d].buf_off;
                self.dirs[d].phase = Phase::Probe(Probe::Resync(since.min(offset)));
                self.reset_probe(d, end);
            }
        }
    }

    /// The flow ended: report partial messages.
    /// Emits every partial message of `dir` as truncated by `cause`, each
    /// with its diagnostic: `rtmp.gap_truncated` (error, range up to the gap
    /// at `gap_at`) or `rtmp.eof_truncated` (warning, at end of flow).
    fn truncate_partials(
        &mut self,
        dir: Direction,
        cause: TruncationCause,
        gap_at: Option<u64>,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let outs = self.dirs[dir.index()].dec.truncate_all(cause, pkt.time);
        for o in outs {
            if let chunk::ChunkOut::Message(m, _) = &o {
                let a = match gap_at {
                    Some(offset) => Anomaly::new(
                        anomalies::RTMP_GAP_TRUNCATED,
                        Some(ByteRange::new(m.first_byte, offset)),
                        format!(
                            "{} message on csid {} cut by the gap at offset {offset}: {} of {} \
                             bytes lost",
                            m.type_name(),
                            m.csid,
                            m.truncated.map(|t| t.lost).unwrap_or(0),
                            m.length
                        ),
                    ),
                    None => Anomaly::new(
                        anomalies::RTMP_EOF_TRUNCATED,
                        Some(ByteRange::new(m.first_byte, m.last_byte + 1)),
                        format!(
                            "{} message on csid {} incomplete at end of flow",
                            m.type_name(),
                            m.csid
                        ),
                    ),
                };
                out.push(ev(dir, pkt, RtmpEventKind::Anomaly(a)));
            }
            self.chunk_out(dir, o, pkt, out);
        }
    }

    pub fn finish(&mut self, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        // When both directions are still probing, the one with more bytes
        // goes first: once it is RTMP, a short other direction (a lone
        // command) needs no proof of its own.
        let mut order = [Direction::ToServer, Direction::ToClient];
        if self.dirs[1].buf.len() > self.dirs[0].buf.len()
            && matches!(self.dirs[0].phase, Phase::Probe(Probe::Midstream))
            && matches!(self.dirs[1].phase, Phase::Probe(Probe::Midstream))
        {
            order.reverse();
        }
        for dir in order {
            let d = dir.index();
            // A probe accepted at the end may queue bytes, whose decoding may
            // lose sync and probe again: repeat until settled (each round
            // consumes bytes).
            while let Phase::Probe(p) = self.dirs[d].phase {
                if self.dirs[d].buf.is_empty() {
                    break;
                }
                self.try_probe(dir, p, true, pkt, out);
                if self.dirs[d].replay.is_none() {
                    break;
                }
                self.drain_replay(dir, pkt, out);
            }
            match self.dirs[d].phase {
                Phase::Handshake if !self.dirs[d].hs_done[0] => {
                    // An RTMPE C0 without its C1: not shown to be RTMP.
                    self.stop_dir(d);
                }
                Phase::Handshake => {
                    let st = &self.dirs[d];
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_HANDSHAKE_INCOMPLETE,
                        Some(ByteRange::new(st.hs_base, st.hs_base + st.hs.len() as u64)),
                        format!(
                            "flow ended after {} of {} handshake bytes",
                            st.hs.len(),
                            handshake::HANDSHAKE_TOTAL
                        ),
                    ));
                }
                Phase::Chunks => {
                    // Held-back header bytes may be decidable now that no
                    // more bytes follow (fmt 3 extended-timestamp peek).
                    let st = &mut self.dirs[d];
                    if !st.buf.is_empty() {
                        st.dec.set_at_end();
                        let buf = std::mem::take(&mut st.buf);
                        let mut outs = Vec::new();
                        let n = st.dec.feed(st.buf_off, &buf, pkt.time, &mut outs);
                        st.buf = buf[n.min(buf.len())..].to_vec();
                        st.buf_off += n as u64;
                        for o in outs {
                            self.chunk_out(dir, o, pkt, out);
                        }
                    }
                    self.truncate_partials(dir, TruncationCause::EndOfStream, None, pkt, out);
                    let st = &mut self.dirs[d];
                    if !st.buf.is_empty() {
                        out.push(anomaly(
                            dir,
                            pkt,
                            anomalies::RTMP_EOF_TRUNCATED,
                            Some(ByteRange::new(st.buf_off, st.buf_off + st.buf.len() as u64)),
                            "incomplete chunk header at end of flow",
                        ));
                        st.buf.clear();
                    }
                }
                _ => {}
            }
        }
        self.report_doubt(pkt, out);
    }

    /// `rtmp.detection_uncertain`, once, for a flow that looked a little like
    /// RTMP (a chunk chain that parsed) but never proved it.
    fn report_doubt(&mut self, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        if self.uncertain || self.is_rtmp() {
            return;
        }
        if let Some((dir, range, detail)) = self.doubt.take() {
            self.uncertain = true;
            out.push(anomaly(
                dir,
                pkt,
                anomalies::RTMP_DETECTION_UNCERTAIN,
                Some(range),
                detail,
            ));
        }
    }

    fn is_rtmp(&self) -> bool {
        matches!(
            self.protocol,
            FlowProtocol::Rtmp | FlowProtocol::RtmpMidstream | FlowProtocol::RtmpEncrypted
        )
    }

    /// `rtmp.detection_uncertain` was reported: the flow looked a little like
    /// RTMP but not enough, and nothing was dissected.
    pub fn uncertain(&self) -> bool {
        self.uncertain
    }

    /// Both C1 and S1 were seen.
    pub fn handshake_both(&self) -> bool {
        self.dirs[0].hs_done[1] && self.dirs[1].hs_done[1]
    }

    /// Highest [`midstream::judge`] score of a structurally acceptable chain
    /// found by `dir`'s mid-stream probe (`None`: no such chain).
    pub fn best_evidence(&self, dir: Direction) -> Option<i32> {
        self.dirs[dir.index()].best_evidence
    }

    /// The flow was classified as another protocol: stop dissecting (what
    /// was decoded stays decoded) and report nothing more.
    pub fn abandon(&mut self) {
        self.doubt = None;
        self.stop(FlowProtocol::NotRtmp);
    }

    /// Stops one direction; the flow is not RTMP once the other direction
    /// has nothing either.
    fn stop_dir(&mut self, d: usize) {
        let st = &mut self.dirs[d];
        st.phase = Phase::Stopped;
        st.buf = Vec::new();
        st.hs = Vec::new();
        if self.protocol == FlowProtocol::Unknown
            && matches!(self.dirs[1 - d].phase, Phase::Stopped | Phase::Start)
        {
            self.stop(FlowProtocol::NotRtmp);
        }
    }

    /// What the connection has been recognised as so far.
    /// Bytes this connection's dissector holds: partial message bodies,
    /// handshake, probe and replay buffers (counted against
    /// [`DEFAULT_MAX_DISSECTOR_MEMORY`] by the pipeline).
    pub fn memory(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| {
                d.dec.partial_bytes()
                    + d.hs.capacity()
                    + d.buf.capacity()
                    + d.replay.as_ref().map_or(0, |r| r.1.capacity())
            })
            .sum()
    }

    /// The global dissector memory cap was reached: gives up every partial
    /// message of both directions (each reported truncated with cause
    /// `limit` and an `rtmp.limit.dissector_memory` anomaly; later bytes of
    /// those messages are skipped).
    pub fn give_up_partials(&mut self, cap: usize, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            let outs = self.dirs[dir.index()].dec.give_up_partials(pkt.time);
            for o in outs {
                if let chunk::ChunkOut::Message(m, body) = &o {
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_LIMIT_DISSECTOR_MEMORY,
                        Some(ByteRange::new(m.first_byte, m.last_byte + 1)),
                        format!(
                            "the dissectors of all flows hold more than {cap} bytes: this flow holds most; {} message on csid {} given up after {} of {} bytes",
                            m.type_name(),
                            m.csid,
                            body.len(),
                            m.length
                        ),
                    ));
                }
                self.chunk_out(dir, o, pkt, out);
            }
        }
    }

    pub fn protocol(&self) -> FlowProtocol {
        self.protocol
    }

    /// The limits this connection was made with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// RTMP messages decoded in `dir`.
    pub fn messages(&self, dir: Direction) -> u64 {
        self.dirs[dir.index()].messages
    }

    /// Chunk size currently in force in `dir`.
    pub fn chunk_size(&self, dir: Direction) -> u32 {
        self.dirs[dir.index()].dec.chunk_size
    }

    /// Window Ack Size and Set Peer Bandwidth announced by `dir`'s sender.
    pub fn window(&self, dir: Direction) -> (Option<u32>, Option<(u32, LimitType)>) {
        let st = &self.dirs[dir.index()];
        (st.window, st.peer_bandwidth)
    }

    fn stopped(&self) -> bool {
        matches!(
            self.protocol,
            FlowProtocol::NotRtmp | FlowProtocol::RtmpEncrypted
        )
    }

    fn stop(&mut self, proto: FlowProtocol) {
        self.protocol = proto;
        for st in &mut self.dirs {
            st.phase = Phase::Stopped;
            st.buf = Vec::new();
            st.hs = Vec::new();
            st.dec = chunk::ChunkDecoder::new(0, 0);
        }
    }

    fn reset_probe(&mut self, d: usize, off: u64) {
        let st = &mut self.dirs[d];
        st.buf.clear();
        st.buf_off = off;
        st.next_check = FIRST_PROBE_CHECK;
        st.scan.reset();
    }

    fn process(
        &mut self,
        dir: Direction,
        off: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        self.process_slice(dir, off, data, pkt, out);
        self.drain_replay(dir, pkt, out);
    }

    fn drain_replay(&mut self, dir: Direction, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        while let Some((off, bytes)) = self.dirs[dir.index()].replay.take() {
            self.process_slice(dir, off, &bytes, pkt, out);
        }
    }

    /// Runs `data` through the phases until it is consumed, or until a phase
    /// change queued a replay (the rest of `data` is appended to it).
    fn process_slice(
        &mut self,
        dir: Direction,
        mut off: u64,
        mut data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        while !data.is_empty() {
            if let Some((_, r)) = self.dirs[d].replay.as_mut() {
                r.extend_from_slice(data);
                return;
            }
            match self.dirs[d].phase {
                Phase::Stopped => return,
                Phase::Start => {
                    let b0 = data[0];
                    if !self.midstream && off == 0 && b0 == 3 {
                        self.begin_handshake(d, off);
                    } else if !self.midstream && off == 0 && (b0 == 6 || b0 == 8) {
                        // RTMPE, once a full C1 follows (handshake_parts).
                        self.begin_handshake(d, off);
                    } else {
                        self.dirs[d].phase = Phase::Probe(Probe::Midstream);
                        self.reset_probe(d, off);
                    }
                }
                Phase::Handshake => {
                    let st = &mut self.dirs[d];
                    let room = handshake::HANDSHAKE_TOTAL - st.hs.len();
                    let n = room.min(data.len());
                    st.hs.extend_from_slice(&data[..n]);
                    off += n as u64;
                    data = &data[n..];
                    if self.handshake_parts(dir, pkt, out) {
                        return;
                    }
                }
                Phase::Probe(p) => {
                    let st = &mut self.dirs[d];
                    if st.buf.is_empty() {
                        st.buf_off = off;
                    }
                    let room = midstream::PROBE_BYTES.saturating_sub(st.buf.len());
                    let n = room.min(data.len());
                    st.buf.extend_from_slice(&data[..n]);
                    off += n as u64;
                    data = &data[n..];
                    self.try_probe(dir, p, false, pkt, out);
                }
                Phase::Chunks => {
                    let n = self.chunk_bytes(dir, off, data, pkt, out);
                    off += n as u64;
                    data = &data[n..];
                }
            }
        }
    }

    fn begin_handshake(&mut self, d: usize, off: u64) {
        let st = &mut self.dirs[d];
        st.phase = Phase::Handshake;
        st.hs_base = off;
        st.absolute = off == 0;
        st.hs.clear();
    }

    /// Emits the handshake parts completed so far. Returns true when the
    /// connection stopped (RTMPE).
    fn handshake_parts(
        &mut self,
        dir: Direction,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) -> bool {
        use handshake::{HANDSHAKE_SIZE as HS, HANDSHAKE_TOTAL};
        let d = dir.index();
        let client = dir == Direction::ToServer;
        let base = self.dirs[d].hs_base;
        let have = self.dirs[d].hs.len();
        if !self.dirs[d].hs_done[0] && have >= 1 {
            let v = self.dirs[d].hs[0];
            if (v == 6 || v == 8) && have <= HS {
                // RTMPE is C0 followed by 1536 bytes: wait for them.
                return false;
            }
            self.dirs[d].hs_done[0] = true;
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 0),
                    range: ByteRange::new(base, base + 1),
                    version_byte: Some(v),
                    time: None,
                    peer_version: None,
                    kind: None,
                    digest: None,
                    echo_ok: None,
                }),
            ));
            if v == 6 || v == 8 {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_ENCRYPTED,
                    Some(ByteRange::new(base, base + 1)),
                    format!("RTMPE (version byte {v:#04x}): not dissected"),
                ));
                self.stop(FlowProtocol::RtmpEncrypted);
                return true;
            } else if v != 3 {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_VERSION,
                    Some(ByteRange::new(base, base + 1)),
                    format!("version byte {v:#04x}"),
                ));
            }
        }
        if !self.dirs[d].hs_done[1] && have > HS {
            self.dirs[d].hs_done[1] = true;
            let range = ByteRange::new(base + 1, base + 1 + HS as u64);
            let damaged = self.dirs[d].hs_damaged[1];
            let a = handshake::analyse_c1(&self.dirs[d].hs[1..1 + HS], client);
            let (digest, kind) = if damaged {
                (None, None)
            } else {
                (a.digest, Some(a.kind))
            };
            if let Some(dg) = digest.filter(|g| !g.valid) {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_DIGEST,
                    Some(ByteRange::new(
                        range.start + dg.offset as u64,
                        range.start + dg.offset as u64 + 32,
                    )),
                    format!(
                        "{} has version {} but no valid digest under either scheme",
                        if client { "C1" } else { "S1" },
                        a.version.as_deref().unwrap_or("?")
                    ),
                ));
            }
            self.dirs[d].c1_digest = if damaged { None } else { a.digest_bytes };
            if self.protocol == FlowProtocol::Unknown {
                self.protocol = FlowProtocol::Rtmp;
            }
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 1),
                    range,
                    version_byte: None,
                    time: a.time,
                    peer_version: a.version,
                    kind,
                    digest,
                    echo_ok: None,
                }),
            ));
        }
        if !self.dirs[d].hs_done[2] && have >= HANDSHAKE_TOTAL {
            self.dirs[d].hs_done[2] = true;
            let range = ByteRange::new(base + 1 + HS as u64, base + HANDSHAKE_TOTAL as u64);
            let peer = &self.dirs[1 - d];
            let mine = &self.dirs[d].hs[1 + HS..HANDSHAKE_TOTAL];
            let time = be32_at(mine, 0);
            let (echo_ok, problem) = if self.dirs[d].hs_damaged[2] {
                (None, Some("bytes lost to a gap".to_string()))
            } else if peer.hs.len() <= HS || peer.hs_damaged[1] {
                (
                    None,
                    Some(format!("{} not seen", if client { "S1" } else { "C1" })),
                )
            } else {
                match handshake::check_response(
                    mine,
                    &peer.hs[1..1 + HS],
                    peer.c1_digest.as_ref(),
                    client,
                ) {
                    handshake::EchoCheck::Echo | handshake::EchoCheck::DigestOk => {
                        (Some(true), None)
                    }
                    handshake::EchoCheck::Bad => (Some(false), None),
                    handshake::EchoCheck::Unverifiable => (
                        None,
                        Some(
                            "not an echo, and the peer's digest is unknown so the \
                             digest response cannot be verified"
                                .to_string(),
                        ),
                    ),
                }
            };
            let name = if client { "C2" } else { "S2" };
            if echo_ok == Some(false) {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_ECHO,
                    Some(range),
                    format!("{name} neither echoes the peer nor carries a valid digest response"),
                ));
            }
            if let Some(p) = problem {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_ECHO_UNVERIFIED,
                    Some(range),
                    format!("{name} echo not checked: {p}"),
                ));
            }
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 2),
                    range,
                    version_byte: None,
                    time,
                    peer_version: None,
                    kind: None,
                    digest: None,
                    echo_ok,
                }),
            ));
            let st = &mut self.dirs[d];
            st.phase = Phase::Chunks;
            st.buf.clear();
            st.buf_off = base + HANDSHAKE_TOTAL as u64;
            // Both sides done: the handshake bytes are no longer needed.
            if self.dirs[1 - d].hs_done[2] {
                self.dirs[0].hs = Vec::new();
                self.dirs[1].hs = Vec::new();
            }
        }
        false
    }

    /// Feeds the chunk decoder; returns how many bytes of `data` were taken.
    fn chunk_bytes(
        &mut self,
        dir: Direction,
        off: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) -> usize {
        let d = dir.index();
        let mut outs = std::mem::take(&mut self.scratch);
        let st = &mut self.dirs[d];
        let (taken, desync) = if st.buf.is_empty() {
            let n = st.dec.feed(off, data, pkt.time, &mut outs);
            let desync = outs.iter().any(|o| matches!(o, chunk::ChunkOut::Desync(_)));
            if desync {
                // Skip one byte past the desync point; the rest is probed.
                let skip = (n + 1).min(data.len());
                st.buf_off = off + skip as u64;
                (skip, true)
            } else {
                st.buf.extend_from_slice(&data[n..]);
                st.buf_off = off + n as u64;
                (data.len(), false)
            }
        } else {
            let k = data.len().min(chunk::MAX_HEADER_LEN + 8);
            st.buf.extend_from_slice(&data[..k]);
            let buf = std::mem::take(&mut st.buf);
            let n = st.dec.feed(st.buf_off, &buf, pkt.time, &mut outs);
            let desync = outs.iter().any(|o| matches!(o, chunk::ChunkOut::Desync(_)));
            if desync {
                let skip = (n + 1).min(buf.len());
                st.buf = buf[skip..].to_vec();
                st.buf_off += skip as u64;
            } else {
                st.buf = buf;
                st.buf.drain(..n);
                st.buf_off += n as u64;
            }
            (k, desync)
        };
        for o in outs.drain(..) {
            self.chunk_out(dir, o, pkt, out);
        }
        self.scratch = outs;
        if desync {
            // Messages in progress lose the bytes we are about to skip.
            let outs = self.dirs[d]
                .dec
                .truncate_all(TruncationCause::Interrupted, pkt.time);
            for o in outs {
                self.chunk_out(dir, o, pkt, out);
            }
            let since = self.dirs[d].buf_off.saturating_sub(1);
            let st = &mut self.dirs[d];
            st.phase = Phase::Probe(Probe::Resync(since));
            st.next_check = FIRST_PROBE_CHECK;
            st.scan.reset();
            if !st.buf.is_empty() {
                self.try_probe(dir, Probe::Resync(since), false, pkt, out);
            }
        }
        taken
    }

    /// Runs inference on the probe buffer when it is worth it; switches to
    /// the chunk phase (feeding the buffered bytes) when a chain is found.
    fn try_probe(
        &mut self,
        dir: Direction,
        kind: Probe,
        fin: bool,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        let len = self.dirs[d].buf.len();
        if len == 0 {
            return;
        }
        let full = len >= midstream::PROBE_BYTES;
        // Handshake hypothesis for a mid-stream flow starting with 0x03 at offset 0.
        if kind == Probe::Midstream && self.dirs[d].buf_off == 0 && self.dirs[d].buf[0] == 3 {
            let hs_end = handshake::HANDSHAKE_TOTAL;
            if len >= hs_end + 16 || (fin && len >= hs_end) {
                let w = midstream::walk(&self.dirs[d].buf, hs_end, 128, &[], false);
                if (!w.failed && w.strong >= 1) || (fin && len == hs_end) {
                    let buf = std::mem::take(&mut self.dirs[d].buf);
                    self.begin_handshake(d, 0);
                    self.dirs[d].replay = Some((0, buf));
                    return;
                }
            } else if !fin && !full {
                return;
            }
        }
        // Inference without a chunk size runs at doublings of the buffer;
        // a resync scan is incremental and runs on every new packet.
        if matches!(kind, Probe::Midstream) && !(fin || full || len >= self.dirs[d].next_check) {
            return;
        }
        while self.dirs[d].next_check <= len {
            self.dirs[d].next_check *= 2;
        }
        let st = &self.dirs[d];
        let best = match kind {
            Probe::Midstream => {
                let mut sizes: Vec<u32> = midstream::CANDIDATE_SIZES.to_vec();
                let other = self.dirs[1 - d].dec.chunk_size;
                if !sizes.contains(&other) {
                    sizes.push(other);
                }
                let (best, work, exhausted) =
                    midstream::infer_counted(&st.buf, st.buf.len(), &sizes, &[], true);
                if exhausted && !self.dirs[d].work_limit_reported {
                    self.dirs[d].work_limit_reported = true;
                    let off = self.dirs[d].buf_off;
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_MIDSTREAM_WORK_LIMIT,
                        Some(ByteRange::new(off, off + len as u64)),
                        format!(
                            "mid-stream inference stopped after {work} header steps (budget {}); best chain so far kept",
                            midstream::MAX_INFER_WORK
                        ),
                    ));
                }
                best
            }
            Probe::Resync(_) => {
                // The chunk size is known: only it is tried, starts in
                // order, the first acceptable chain wins, and the scan
                // resumes where it stopped on the next packet.
                let known = st.dec.known_streams();
                let sizes = [st.dec.chunk_size];
                let lenient = st.dec.lenient;
                let st = &mut self.dirs[d];
                let mut scan = std::mem::take(&mut st.scan);
                let found = scan.scan(&st.buf, &sizes, &known, lenient, fin || full, |w| {
                    resync_acceptable(w, fin || full)
                });
                st.scan = scan;
                found
            }
        };
        let st = &self.dirs[d];
        // A flow whose SYN was seen and whose first byte is not a handshake
        // must start with chunks right away to count as RTMP.
        let strict = kind == Probe::Midstream && !self.midstream && st.buf_off == 0;
        // At the end of a flow, a short direction (one or a few whole
        // command messages, e.g. a lone onStatus or deleteStream) never
        // builds a long chain; accept it when it decodes exactly.
        let best = match best {
            Some(w) if w.headers >= 2 && !w.failed => Some(w),
            _ if fin && !strict && st.buf.len() < midstream::START_WINDOW => {
                let sizes = match kind {
                    Probe::Midstream => {
                        let mut sizes = vec![self.dirs[1 - d].dec.chunk_size];
                        sizes.extend(midstream::CANDIDATE_SIZES);
                        sizes
                    }
                    Probe::Resync(_) => vec![st.dec.chunk_size],
                };
                midstream::exact_commands(&st.buf, st.buf.len(), &sizes, true)
                    .map(|w| midstream::Walk {
                        score: w.score.max(3 * midstream::MIN_SCORE),
                        ..w
                    })
                    .or(best)
            }
            other => other,
        };
        let accept = best.filter(|w| {
            if strict && (w.start != 0 || w.failed || w.strong < 2) {
                return false;
            }
            resync_acceptable(w, fin || full)
        });
        // A mid-stream chain must also prove itself by what its messages
        // decode to, unless the other direction already did.
        let accept = match (kind, accept) {
            (Probe::Midstream, Some(w)) if !self.is_rtmp() => {
                let st = &mut self.dirs[d];
                let j = midstream::judge(&st.buf, &w);
                st.best_evidence = Some(st.best_evidence.map_or(j.score, |b| b.max(j.score)));
                if j.score >= self.limits.midstream_accept {
                    Some(w)
                } else {
                    let from = st.buf_off + w.start as u64;
                    self.doubt = Some((
                        dir,
                        ByteRange::new(from, st.buf_off + st.buf.len() as u64),
                        format!(
                            "bytes at offset {from} parse as RTMP chunks (chunk size {}, {} \
                             headers) but their messages do not prove it (evidence score {}, \
                             {} clean of {} messages, {} bad): not dissected",
                            w.chunk_size, w.headers, j.score, j.clean, j.messages, j.bad
                        ),
                    ));
                    None
                }
            }
            (_, a) => a,
        };
        let st = &mut self.dirs[d];
        if let Some(w) = accept {
            let start_off = st.buf_off + w.start as u64;
            match kind {
                Probe::Midstream => {
                    st.dec.chunk_size = w.chunk_size;
                    st.dec.lenient = true;
                    if self.protocol == FlowProtocol::Unknown {
                        self.protocol = FlowProtocol::RtmpMidstream;
                    }
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_MIDSTREAM_INFERRED,
                        Some(ByteRange::new(self.dirs[d].buf_off, start_off)),
                        format!(
                            "chunks start at offset {start_off}; chunk size {} inferred \
                             (score {}, {} headers, {} with type and length)",
                            w.chunk_size, w.score, w.headers, w.strong
                        ),
                    ));
                }
                Probe::Resync(since) => {
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_RESYNC,
                        Some(ByteRange::new(since, start_off)),
                        format!(
                            "resynchronised at offset {start_off}: {} bytes skipped \
                             (score {}, {} headers)",
                            start_off.saturating_sub(since),
                            w.score,
                            w.headers
                        ),
                    ));
                }
            }
            let st = &mut self.dirs[d];
            let mut buf = std::mem::take(&mut st.buf);
            st.phase = Phase::Chunks;
            st.buf_off = start_off;
            buf.drain(..w.start.min(buf.len()));
            st.replay = Some((start_off, buf));
            return;
        }
        // Nothing plausible.
        let give_up = fin
            || full
            || (kind == Probe::Midstream && !self.midstream && len >= NOT_RTMP_DECIDE_BYTES);
        if !give_up {
            return;
        }
        if kind == Probe::Midstream && self.protocol == FlowProtocol::Unknown {
            // This direction is not RTMP; the flow is not either once the
            // other direction has nothing better.
            let st = &mut self.dirs[d];
            st.phase = Phase::Stopped;
            st.buf = Vec::new();
            if matches!(self.dirs[1 - d].phase, Phase::Stopped | Phase::Start) {
                self.stop(FlowProtocol::NotRtmp);
            }
            return;
        }
        if fin {
            let st = &mut self.dirs[d];
            out.push(anomaly(
                dir,
                pkt,
                anomalies::RTMP_RESYNC_FAILED,
                Some(ByteRange::new(st.buf_off, st.buf_off + st.buf.len() as u64)),
                format!(
                    "{} bytes at end of flow not decodable as chunks",
                    st.buf.len()
                ),
            ));
            st.buf.clear();
            return;
        }
        // Full and nothing found: drop the first half and keep looking.
        let st = &mut self.dirs[d];
        let half = st.buf.len() / 2;
        st.buf.drain(..half);
        st.buf_off += half as u64;
        st.scan.shift(half);
        st.next_check = st.buf.len() + 1;
    }

    fn chunk_out(
        &mut self,
        dir: Direction,
        o: chunk::ChunkOut,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        match o {
            chunk::ChunkOut::Anomaly(a) => out.push(ev(dir, pkt, RtmpEventKind::Anomaly(a))),
            chunk::ChunkOut::Desync(_) => {}
            chunk::ChunkOut::Message(m, b) => self.emit_message(dir, m, &b, pkt, out),
        }
    }

    fn emit_message(
        &mut self,
        dir: Direction,
        mut m: Box<Message>,
        body_bytes: &[u8],
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        let anomalies = body::decode_body(&mut m, body_bytes);
        for mut a in anomalies {
            a.range = Some(m.stream_range_of(a.range));
            out.push(ev(dir, pkt, RtmpEventKind::Anomaly(a)));
        }
        if m.truncated.is_none() {
            self.control_effects(dir, &mut m, pkt, out);
            self.check_timestamp(dir, &m, pkt, out);
        }
        self.dirs[d].messages += 1;
        out.push(ev(dir, pkt, RtmpEventKind::Message(m)));
    }

    fn control_effects(
        &mut self,
        dir: Direction,
        m: &mut Message,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        let o = 1 - d;
        let range = Some(ByteRange::new(m.first_byte, m.last_byte + 1));
        match m.type_id {
            type_id::ACKNOWLEDGEMENT => {
                let Body::Control(Control::Acknowledgement { sequence: seq }) = m.body else {
                    return;
                };
                let received = self.dirs[o].next_off;
                if self.dirs[o].absolute && (seq.wrapping_sub(received as u32) as i32) > 0 {
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_ACK_BEYOND_RECEIVED,
                        range,
                        format!(
                            "acknowledgement {seq} but only {received} bytes were sent the other way"
                        ),
                    ));
                }
                let st = &mut self.dirs[o];
                st.unacked_base = st.next_off;
                st.late_reported = false;
            }
            type_id::WINDOW_ACK_SIZE => {
                if let Body::Control(Control::WindowAckSize { size: w }) = m.body {
                    let st = &mut self.dirs[d];
                    if st.window.is_none() {
                        st.unacked_base = st.next_off;
                    }
                    st.window = Some(w);
                }
            }
            type_id::SET_PEER_BANDWIDTH => {
                if let Body::Control(Control::SetPeerBandwidth { size, limit_type }) = m.body {
                    self.dirs[d].peer_bandwidth = Some((size, limit_type));
                }
            }
            type_id::USER_CONTROL => {
                let (event, ts) = match &m.body {
                    Body::UserControl(u) => match u.timestamp {
                        Some(ts) => (u.event_type, ts),
                        None => return,
                    },
                    _ => return,
                };
                if event == 6 {
                    let q = &mut self.dirs[d].pings;
                    if q.len() >= MAX_PENDING_PINGS {
                        q.pop_front();
                    }
                    q.push_back((ts, pkt.time));
                } else if event == 7 {
                    let q = &mut self.dirs[o].pings;
                    if let Some(i) = q.iter().position(|&(t, _)| t == ts) {
                        let (_, sent) = q.remove(i).unwrap_or((ts, pkt.time));
                        let rtt = pkt.time.nanos_since(sent).max(0) / 1000;
                        if let Body::UserControl(u) = &mut m.body {
                            u.rtt_us = Some(rtt.min(u64::MAX as i128) as u64);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn check_timestamp(
        &mut self,
        dir: Direction,
        m: &Message,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        if !matches!(m.type_id, 8 | 9 | 15 | 18 | 22) {
            return;
        }
        let st = &mut self.dirs[dir.index()];
        let key = (m.msid, m.type_id);
        match st.ts_streams.iter_mut().find(|(k, _)| *k == key) {
            Some((_, last)) => {
                if (m.timestamp.wrapping_sub(*last) as i32) < 0 {
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_TIMESTAMP_BACKWARDS,
                        Some(ByteRange::new(m.first_byte, m.last_byte + 1)),
                        format!(
                            "{} on stream {}: timestamp {} after {}",
                            m.type_name(),
                            m.msid,
                            m.timestamp,
                            last
                        ),
                    ));
                }
                *last = m.timestamp;
            }
            None => {
                if st.ts_streams.len() < MAX_TS_STREAMS {
                    st.ts_streams.push((key, m.timestamp));
                }
            }
        }
    }

    /// `rtmp.ack.late`: the receiver of `dir` got more than its window
    /// (plus half a window of slack for acks in flight) without acknowledging.
    fn check_late(&mut self, dir: Direction, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        let st = &mut self.dirs[dir.index()];
        let Some(w) = st.window else { return };
        if st.late_reported || w == 0 {
            return;
        }
        let limit = w as u64 + w as u64 / 2;
        if st.next_off.saturating_sub(st.unacked_base) > limit {
            st.late_reported = true;
            let from = st.unacked_base + w as u64;
            let to = st.next_off;
            out.push(anomaly(
                dir,
                pkt,
                anomalies::RTMP_ACK_LATE,
                Some(ByteRange::new(from, to)),
                format!(
                    "peer received {} bytes since its last acknowledgement; window is {w}",
                    to - st.unacked_base
                ),
            ));
        }
    }
}

/// Whether a chain is good enough to take: long and clean, or clean to the
/// end of the buffer with a high score, or (`last`: end of flow or probe
/// buffer full) at least two headers with a decent score.
fn resync_acceptable(w: &midstream::Walk, last: bool) -> bool {
    (!w.failed && w.headers >= midstream::CONFIDENT_HEADERS)
        || (!w.failed && w.reached_end && w.score >= 3 * midstream::MIN_SCORE)
        || (last && !w.failed && w.headers >= 2 && w.strong >= 1 && w.score >= midstream::MIN_SCORE)
}

fn part_for(dir: Direction, i: usize) -> HandshakePart {
    match (dir, i) {
        (Direction::ToServer, 0) => HandshakePart::C0,
        (Direction::ToServer, 1) => HandshakePart::C1,
        (Direction::ToServer, _) => HandshakePart::C2,
        (Direction::ToClient, 0) => HandshakePart::S0,
        (Direction::ToClient, 1) => HandshakePart::S1,
        (Direction::ToClient, _) => HandshakePart::S2,
    }
}
