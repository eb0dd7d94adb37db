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
//! This module is the phase machine (start, handshake, probe, chunks,
//! stopped) and message emission; the handshake assembler is in
//! `handshake_asm`, the probe (mid-stream and resync inference, with its
//! work budget) in `probe`, flow control in `flow_control`.
//!
//! Protocol control: Set Chunk Size and Abort (in the chunk decoder),
//! Window Ack Size / Acknowledgement (`rtmp.ack.beyond_received`,
//! `rtmp.ack.late`), Set Peer Bandwidth (tracked), User Control Ping
//! Request/Response (paired into `rtt_us`), in `flow_control`.

pub mod aggregate;
pub mod body;
pub mod cadence;
pub mod chunk;
pub mod command;
pub mod control;
pub mod data;
mod flow_control;
pub mod handshake;
mod handshake_asm;
pub mod media;
pub mod message;
pub mod midstream;
pub mod plausible;
mod probe;
pub(crate) mod reader;
pub mod shared_object;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
pub mod user_control;

pub use crate::vocab::PacketRef;

use crate::vocab::{anomalies, AnomalyKind};
use crate::vocab::{Anomaly, ByteRange, Direction, FlowProtocol};
use handshake::HandshakeEvent;
use message::{LimitType, Message, TruncationCause};

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

pub use flow_control::MAX_PENDING_PINGS;
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

/// One direction's state: the phase machine's own fields, and one group
/// each for the handshake assembler, the probe and flow control.
#[derive(Debug)]
struct Dir {
    phase: Phase,
    /// Unconsumed bytes: an incomplete chunk header, or the probe buffer.
    buf: Vec<u8>,
    buf_off: u64,
    /// Bytes to run through the phases again after a phase change (probe
    /// accepted), with their stream offset. Processed iteratively, never by
    /// recursion.
    replay: Option<(u64, Vec<u8>)>,
    /// Stream offset just past the last byte (or gap) delivered.
    next_off: u64,
    /// Offsets count from the stream start (handshake seen).
    absolute: bool,
    dec: chunk::ChunkDecoder,
    ts_streams: Vec<((u32, u8), u32)>,
    messages: u64,
    hs: handshake_asm::HandshakeAsm,
    probe: probe::ProbeState,
    flow: flow_control::FlowControl,
    /// Bytes fed to the chunk decoder while it is on probation (a chain
    /// after a resync), from stream offset `probation_off`, at most
    /// [`MAX_PROBATION_BYTES`]: a chain that breaks is read again from its
    /// oldest unfinished message with the candidate chunk sizes.
    probation_bytes: Vec<u8>,
    probation_off: u64,
    /// First byte of the last message emitted.
    last_emitted: Option<u64>,
}

/// Most bytes kept to read a broken probation chain again
/// ([`Dir::probation_bytes`]).
pub const MAX_PROBATION_BYTES: usize = 64 << 10;

impl Dir {
    /// Keeps `bytes` (at stream offset `off`), fed to the decoder, while it
    /// is on probation; forgets them otherwise.
    fn keep_probation(&mut self, on_probation: bool, off: u64, bytes: &[u8]) {
        if !on_probation {
            self.probation_bytes.clear();
            return;
        }
        let end = self.probation_off + self.probation_bytes.len() as u64;
        if self.probation_bytes.is_empty() || end != off {
            self.probation_bytes.clear();
            self.probation_off = off;
        }
        self.probation_bytes.extend_from_slice(bytes);
        let excess = self
            .probation_bytes
            .len()
            .saturating_sub(MAX_PROBATION_BYTES);
        if excess > 0 {
            self.probation_bytes.drain(..excess);
            self.probation_off += excess as u64;
        }
    }

    /// After a break on probation: the kept bytes from the first byte of
    /// the oldest unfinished message on, when they hold all of it and no
    /// message after it was emitted (reading them again emits nothing
    /// twice). The unfinished messages are then dropped, not reported.
    fn probation_restart(&mut self) -> Option<(u64, Vec<u8>)> {
        let from = self.dec.oldest_partial_start()?;
        let end = self.probation_off + self.probation_bytes.len() as u64;
        if from < self.probation_off || from >= end || self.last_emitted.is_some_and(|e| e >= from)
        {
            return None;
        }
        let bytes = self.probation_bytes[(from - self.probation_off) as usize..].to_vec();
        self.probation_bytes.clear();
        self.dec.discard_partials();
        Some((from, bytes))
    }

    fn new(limits: &Limits) -> Self {
        Dir {
            phase: Phase::Start,
            buf: Vec::new(),
            buf_off: 0,
            replay: None,
            next_off: 0,
            absolute: false,
            dec: chunk::ChunkDecoder::new(limits.max_partial_bytes, limits.max_chunk_streams),
            ts_streams: Vec::new(),
            messages: 0,
            hs: handshake_asm::HandshakeAsm::default(),
            probe: probe::ProbeState::default(),
            probation_bytes: Vec::new(),
            probation_off: 0,
            last_emitted: None,
            flow: flow_control::FlowControl::default(),
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
            low = low.min(st.hs.base);
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
        self.gap_at(dir, offset, len, false, pkt, out);
    }

    /// [`Connection::handle_gap`]; `cut_tried`: the resync buffer before
    /// the gap was already judged as cut.
    fn gap_at(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        cut_tried: bool,
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
            Phase::Handshake if !self.dirs[d].hs.done[0] => self.handshake_cut(d),
            Phase::Handshake => {
                let st = &mut self.dirs[d];
                // Mark the damaged parts; fill with zeros to keep positions.
                let fill = st.hs.gap(len);
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_GAP,
                    Some(ByteRange::new(offset, end)),
                    format!("{len} handshake bytes lost"),
                ));
                let base = st.hs.base;
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
            Phase::Probe(Probe::Resync(since)) if !cut_tried => {
                // The probe buffer will not grow past this gap: judge it
                // now as at the end of a flow (two headers with a decent
                // score do), so the messages between two close gaps are
                // decoded, not dropped with the buffer. A chain found is
                // decoded, then the gap is applied to the chunk phase.
                self.try_probe(dir, Probe::Resync(since), false, true, pkt, out);
                self.drain_replay(dir, pkt, out);
                self.gap_at(dir, offset, len, true, pkt, out);
            }
            Phase::Probe(p) => {
                // The probe buffer is no longer contiguous: drop it.
                if self.dirs[d].probe.held.is_some() {
                    self.desync_loss(dir, pkt, out);
                }
                self.dirs[d].phase = Phase::Probe(p);
                self.reset_probe(d, end);
            }
            Phase::Chunks => {
                self.dirs[d].dec.note_gap();
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
                self.try_probe(dir, p, true, false, pkt, out);
                if self.dirs[d].replay.is_none() {
                    break;
                }
                self.drain_replay(dir, pkt, out);
            }
            match self.dirs[d].phase {
                Phase::Handshake if !self.dirs[d].hs.done[0] => self.handshake_cut(d),
                Phase::Handshake => {
                    let st = &self.dirs[d];
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_HANDSHAKE_INCOMPLETE,
                        Some(ByteRange::new(
                            st.hs.base,
                            st.hs.base + st.hs.bytes.len() as u64,
                        )),
                        format!(
                            "flow ended after {} of {} handshake bytes",
                            st.hs.bytes.len(),
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
            let outs = self.dirs[d].dec.drop_held("the flow ended first");
            for o in outs {
                self.chunk_out(dir, o, pkt, out);
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
        self.dirs[0].hs.done[1] && self.dirs[1].hs.done[1]
    }

    /// Highest [`midstream::judge`] score of a structurally acceptable chain
    /// found by `dir`'s mid-stream probe (`None`: no such chain).
    pub fn best_evidence(&self, dir: Direction) -> Option<i32> {
        self.dirs[dir.index()].probe.best_evidence
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
        st.hs.bytes = Vec::new();
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
                    + d.hs.bytes.capacity()
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
            let mut outs = self.dirs[dir.index()].dec.give_up_partials(pkt.time);
            outs.extend(self.dirs[dir.index()].dec.drop_held(&format!(
                "the dissectors of all flows hold more than {cap} bytes"
            )));
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
        self.dirs[dir.index()].dec.chunk_size()
    }

    /// Window Ack Size and Set Peer Bandwidth announced by `dir`'s sender.
    pub fn window(&self, dir: Direction) -> (Option<u32>, Option<(u32, LimitType)>) {
        let st = &self.dirs[dir.index()];
        (st.flow.window, st.flow.peer_bandwidth)
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
            st.hs.bytes = Vec::new();
            st.dec = chunk::ChunkDecoder::new(0, 0);
        }
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
                    // Plain or RTMPE (RTMPE once a full C1 follows:
                    // handshake_parts) on a flow seen from its SYN.
                    let kind = handshake_asm::c0_kind(data[0]);
                    if !self.midstream && off == 0 && kind != handshake_asm::C0Kind::Other {
                        self.begin_handshake(d, off);
                    } else {
                        self.dirs[d].phase = Phase::Probe(Probe::Midstream);
                        self.reset_probe(d, off);
                    }
                }
                Phase::Handshake => {
                    let st = &mut self.dirs[d];
                    let n = st.hs.room().min(data.len());
                    st.hs.bytes.extend_from_slice(&data[..n]);
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
                    self.try_probe(dir, p, false, false, pkt, out);
                }
                Phase::Chunks => {
                    let n = self.chunk_bytes(dir, off, data, pkt, out);
                    off += n as u64;
                    data = &data[n..];
                }
            }
        }
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
        // The first byte of the header that lost sync (skipped below).
        let mut first = None;
        let on_probation = st.dec.on_probation();
        // Where a chain broken on probation is read again from.
        let mut restart_from = None;
        let (taken, desync) = if st.buf.is_empty() {
            let n = st.dec.feed(off, data, pkt.time, &mut outs);
            let desync = outs.iter().any(|o| matches!(o, chunk::ChunkOut::Desync(_)));
            st.keep_probation(on_probation, off, &data[..n.min(data.len())]);
            let restart = (desync && on_probation)
                .then(|| st.probation_restart())
                .flatten();
            if let Some((from, bytes)) = restart {
                // Read again from the unfinished message; the rest of
                // `data` follows it into the probe buffer.
                st.buf = bytes;
                st.buf_off = from;
                restart_from = Some(from);
                (n.min(data.len()), true)
            } else if desync {
                // Skip one byte past the desync point; the rest is probed.
                first = data.get(n).copied();
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
            st.keep_probation(on_probation, st.buf_off, &buf[..n.min(buf.len())]);
            let restart = (desync && on_probation)
                .then(|| st.probation_restart())
                .flatten();
            if let Some((from, mut bytes)) = restart {
                bytes.extend_from_slice(&buf[n.min(buf.len())..]);
                st.buf = bytes;
                st.buf_off = from;
                restart_from = Some(from);
            } else if desync {
                first = buf.get(n).copied();
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
            let st = &mut self.dirs[d];
            let stop = st.dec.take_unknown_stop();
            match (stop, first) {
                // A fmt 2/3 header on a never-seen chunk stream: the probe
                // first looks for its payload length (the stream is then
                // held, nothing is skipped); the loss is applied only when
                // none fits.
                (Some((at, fmt, csid)), Some(b)) if at + 1 == st.buf_off => {
                    st.probe.held = Some(probe::HeldHint {
                        off: at,
                        first: b,
                        fmt,
                        csid,
                        from: 1,
                    });
                }
                // (Also a chain broken on probation and read again from its
                // oldest unfinished message: those were dropped, not cut,
                // so nothing is skipped or reported twice.)
                _ => self.desync_loss(dir, pkt, out),
            }
            let since = restart_from.unwrap_or_else(|| self.dirs[d].buf_off.saturating_sub(1));
            let st = &mut self.dirs[d];
            st.phase = Phase::Probe(Probe::Resync(since));
            st.probe.next_check = FIRST_PROBE_CHECK;
            st.probe.scan.reset();
            if !st.buf.is_empty() {
                self.try_probe(dir, Probe::Resync(since), false, false, pkt, out);
            }
        }
        taken
    }

    /// Decoding lost sync and the bytes up to the next chain will be
    /// skipped: they are lost to decoding, as after a gap; and the chunk
    /// size in force is suspect (a chain that breaks was most often read
    /// with the wrong one), so the scan tries the candidate sizes at once.
    /// Messages in progress lose the skipped bytes.
    fn desync_loss(&mut self, dir: Direction, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        let d = dir.index();
        self.dirs[d].probe.held = None;
        self.dirs[d].dec.note_gap();
        self.dirs[d].probe.wide = true;
        let outs = self.dirs[d]
            .dec
            .truncate_all(TruncationCause::Interrupted, pkt.time);
        for o in outs {
            self.chunk_out(dir, o, pkt, out);
        }
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
        self.dirs[d].last_emitted = Some(m.first_byte);
        out.push(ev(dir, pkt, RtmpEventKind::Message(m)));
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
}
