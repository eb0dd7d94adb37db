//! One direction of a TCP flow: sequence-to-offset mapping, in-order
//! delivery, a bounded out-of-order buffer, hole closing and snaplen losses.
//!
//! Contract: every byte offset of the direction is reported to the sink
//! exactly once, either as data (`Sink::data`) or as part of a gap
//! (`Sink::gap`), in increasing offset order with no overlap. First-seen bytes
//! win: later copies of the same offsets are trimmed and, when their bytes
//! differ, reported as `tcp.overlap_different_data`.

use std::collections::BTreeMap;

use super::{Side, Sink};
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, ByteRange, FlowId, PacketRef};

/// A segment whose sequence number lies further ahead of the next expected
/// byte than this is treated as garbage (`tcp.seq_out_of_window`).
pub const MAX_SEQ_AHEAD: i64 = 1 << 30;

/// Bookkeeping cost charged per buffered out-of-order segment or snaplen
/// mark on top of its bytes, so floods of tiny segments hit the limits too.
pub const ENTRY_OVERHEAD: usize = 64;

/// Why a gap was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapCause {
    /// The capture cut the payload (snaplen).
    Snaplen,
    /// The peer acknowledged bytes never seen.
    Acked,
    /// The out-of-order buffer limit.
    OooLimit,
    /// The global memory limit.
    MemoryLimit,
    /// A hole stayed open longer than the hole timeout (packet time).
    HoleTimeout,
    Fin,
    Rst,
    Timeout,
    EndOfInput,
    Evicted,
    PortReuse,
}

impl GapCause {
    fn detail(self) -> &'static str {
        match self {
            GapCause::Snaplen => "payload cut by the capture snaplen",
            GapCause::Acked => "peer acknowledged bytes that were not captured",
            GapCause::OooLimit => "hole closed: out-of-order buffer limit",
            GapCause::MemoryLimit => "hole closed: global memory limit",
            GapCause::HoleTimeout => "hole closed: open longer than the hole timeout",
            GapCause::Fin => "hole closed at FIN",
            GapCause::Rst => "hole closed at RST",
            GapCause::Timeout => "hole closed at idle timeout",
            GapCause::EndOfInput => "hole closed at end of input",
            GapCause::Evicted => "hole closed: flow evicted",
            GapCause::PortReuse => "hole closed: tuple reused by a new connection",
        }
    }
}

/// Per-call context: who we are and where events go.
pub(crate) struct Ctx<'a, S: Sink> {
    pub id: FlowId,
    pub side: Side,
    pub pkt: PacketRef,
    pub sink: &'a mut S,
    /// Global bytes charged (buffers and rings of every flow).
    pub mem: &'a mut usize,
    pub max_ooo: usize,
    pub max_memory: usize,
    pub ring_bytes: usize,
    /// Hole timeout in nanoseconds of packet time (0 = none).
    pub hole_timeout_ns: i128,
}

impl<S: Sink> Ctx<'_, S> {
    fn anomaly(&mut self, a: Anomaly) {
        self.sink
            .anomaly(Some(self.id), Some(self.side), a, self.pkt);
    }
}

/// Smallest retransmission-check ring allocated (it then doubles as bytes
/// are delivered, up to `Config::overlap_check_bytes`).
const MIN_RING_BYTES: usize = 256;

/// The last bytes delivered, kept to compare retransmissions against.
#[derive(Debug, Default)]
struct Ring {
    buf: Vec<u8>,
    /// First offset whose byte is still held.
    valid_from: u64,
    /// One past the last offset written.
    end: u64,
}

impl Ring {
    fn write(&mut self, off: u64, data: &[u8]) {
        let n = self.buf.len();
        if n == 0 || data.is_empty() {
            return;
        }
        if off != self.end {
            self.valid_from = off;
        }
        let take = data.len().min(n);
        let src = &data[data.len() - take..];
        let first_off = off + (data.len() - take) as u64;
        let pos = (first_off % n as u64) as usize;
        let first = take.min(n - pos);
        self.buf[pos..pos + first].copy_from_slice(&src[..first]);
        self.buf[..take - first].copy_from_slice(&src[first..]);
        self.end = off + data.len() as u64;
        self.valid_from = self.valid_from.max(self.end.saturating_sub(n as u64));
    }

    /// Resizes to `n` bytes, keeping the newest bytes held.
    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.buf, vec![0; n]);
        let from = self.valid_from.max(self.end.saturating_sub(n as u64));
        if !old.is_empty() {
            for o in from..self.end {
                self.buf[(o % n as u64) as usize] = old[(o % old.len() as u64) as usize];
            }
        }
        self.valid_from = from;
    }

    fn reset(&mut self, at: u64) {
        self.valid_from = at;
        self.end = at;
    }

    /// True when some held byte differs from `data` placed at `off`.
    fn differs(&self, off: u64, data: &[u8]) -> bool {
        let n = self.buf.len() as u64;
        if n == 0 {
            return false;
        }
        let lo = off.max(self.valid_from);
        let hi = (off + data.len() as u64).min(self.end);
        (lo..hi).any(|o| {
            let held = self.buf.get((o % n) as usize);
            let new = data.get((o - off) as usize);
            held != new
        })
    }
}

/// State of one direction.
#[derive(Debug, Default)]
pub(crate) struct Half {
    /// `base` is known.
    pub init: bool,
    /// Sequence number of stream offset 0.
    pub base: u32,
    pub syn_seen: bool,
    /// Next offset to report (everything below was reported).
    pub next_off: u64,
    /// Highest offset seen in any segment (data or snaplen loss), exclusive.
    pub max_off: u64,
    /// Out-of-order data, non-overlapping, keyed by start offset.
    ooo: BTreeMap<u64, Vec<u8>>,
    /// Bytes charged for `ooo` and `lost_marks` (with overhead).
    pub ooo_charge: usize,
    /// Snaplen losses not reached yet: start offset -> end offset.
    lost_marks: BTreeMap<u64, u64>,
    /// Offsets below this that no data covers are snaplen losses.
    lost_until: u64,
    /// Stream offset of the FIN, once seen.
    pub fin_off: Option<u64>,
    /// Everything up to the FIN was reported.
    pub done: bool,
    ring: Ring,
    ring_tried: bool,
    /// Packet time when the current first hole was noticed.
    hole_since: Option<crate::time::PacketTime>,
    pub packets: u64,
    pub bytes: u64,
    pub missed: u64,
    pub retransmitted: u64,
}

impl Half {
    /// Sets the sequence number of offset 0.
    pub fn init_at(&mut self, base: u32) {
        self.init = true;
        self.base = base;
    }

    /// Stream offset of `seq`, relative to the next expected byte (serial
    /// arithmetic: within 2^31 either way).
    pub fn rel(&self, seq: u32) -> i64 {
        let at = self.base.wrapping_add(self.next_off as u32);
        self.next_off as i64 + i64::from(seq.wrapping_sub(at) as i32)
    }

    /// Bytes charged to the global memory account by this direction.
    pub fn charged(&self) -> usize {
        self.ooo_charge + self.ring.buf.len()
    }

    /// Something waits beyond a hole: buffered data, a snaplen mark or the
    /// FIN.
    pub fn has_buffered(&self) -> bool {
        !self.ooo.is_empty()
            || !self.lost_marks.is_empty()
            || self.fin_off.is_some_and(|f| f > self.next_off)
    }

    fn charge<S: Sink>(&mut self, cx: &mut Ctx<S>, n: usize) {
        self.ooo_charge += n;
        *cx.mem += n;
    }

    fn uncharge<S: Sink>(&mut self, cx: &mut Ctx<S>, n: usize) {
        self.ooo_charge = self.ooo_charge.saturating_sub(n);
        *cx.mem = cx.mem.saturating_sub(n);
    }

    /// Releases every buffer; returns the bytes to uncharge globally.
    pub fn release(&mut self) -> usize {
        let n = self.charged();
        self.ooo = BTreeMap::new();
        self.lost_marks = BTreeMap::new();
        self.ooo_charge = 0;
        self.ring = Ring::default();
        n
    }

    /// One segment's payload: `data` starts at sequence `seq`, `missing`
    /// bytes cut by the snaplen follow it, and `fin` says a FIN follows them.
    pub fn on_data<S: Sink>(
        &mut self,
        cx: &mut Ctx<S>,
        seq: u32,
        data: &[u8],
        missing: u64,
        fin: bool,
    ) {
        let rel = self.rel(seq);
        if rel - self.next_off as i64 > MAX_SEQ_AHEAD {
            cx.anomaly(Anomaly::new(
                anomalies::TCP_SEQ_OUT_OF_WINDOW,
                None,
                format!(
                    "segment {} bytes ahead of the next expected byte; dropped",
                    rel - self.next_off as i64
                ),
            ));
            return;
        }
        let len = data.len() as i64;
        let d_start_i = rel.max(0);
        let d_end_i = (rel + len).max(0);
        let l_end_i = (rel + len).saturating_add(missing as i64).max(0);
        let skip = (d_start_i - rel).min(len) as usize;
        let mut data = data.get(skip..).unwrap_or(&[]);
        let d_start = d_start_i as u64;
        let mut d_end = d_end_i as u64;
        let mut l_end = l_end_i as u64;

        if let Some(f) = self.fin_off {
            if l_end > f {
                if d_end > f {
                    cx.anomaly(Anomaly::new(
                        anomalies::TCP_DATA_AFTER_FIN,
                        Some(ByteRange::new(f.max(d_start), d_end)),
                        "payload beyond the FIN sequence number; dropped",
                    ));
                    let keep = f.saturating_sub(d_start) as usize;
                    data = data.get(..keep).unwrap_or(data);
                    d_end = d_start + data.len() as u64;
                }
                l_end = l_end.min(f).max(d_end);
            }
        }
        self.max_off = self.max_off.max(l_end);

        // Bytes already reported: a retransmission, compared when held.
        if d_start < self.next_off && d_end > d_start {
            let ov_end = d_end.min(self.next_off);
            self.retransmitted += ov_end - d_start;
            let keepalive = data.len() == 1 && d_start + 1 == self.next_off;
            let part = &data[..(ov_end - d_start) as usize];
            if !keepalive && self.ring.differs(d_start, part) {
                cx.anomaly(overlap_anomaly(d_start, ov_end));
            }
        }
        if l_end > d_end && l_end > self.next_off {
            let at = d_end.max(self.next_off);
            let e = self.lost_marks.entry(at).or_insert(0);
            let fresh = *e == 0;
            *e = (*e).max(l_end);
            if fresh {
                self.charge(cx, ENTRY_OVERHEAD);
            }
        }
        if d_start > self.next_off {
            self.buffer(cx, d_start, data);
        }
        let seg = (d_start <= self.next_off && d_end > self.next_off).then_some((d_start, data));
        self.advance(cx, seg, None, GapCause::Snaplen);

        if fin && self.fin_off.is_none() {
            let f = l_end.max(self.next_off);
            self.fin_off = Some(f);
            self.drop_beyond(cx, f);
        }
        // A hole before the FIN stays open: reordered data may still come.
        // The peer's ACK of the FIN, the flow's end or a limit closes it.
        self.update_done();
        if self.has_buffered() && self.hole_since.is_none() {
            self.hole_since = Some(cx.pkt.time);
        }
        while self.ooo_charge > cx.max_ooo {
            let Some(first) = self.first_hole_end() else {
                break;
            };
            cx.anomaly(Anomaly::new(
                anomalies::REASSEMBLY_OOO_LIMIT,
                Some(ByteRange::new(self.next_off, first)),
                format!(
                    "out-of-order buffer above {} bytes; hole closed",
                    cx.max_ooo
                ),
            ));
            self.advance(cx, None, Some(first), GapCause::OooLimit);
        }
        self.update_done();
    }

    fn update_done(&mut self) {
        if let Some(f) = self.fin_off {
            self.done = self.next_off >= f;
        }
    }

    /// Closes the first hole when it has been open longer than the hole
    /// timeout (packet time). Cheap when nothing is buffered.
    pub fn check_hole_age<S: Sink>(&mut self, cx: &mut Ctx<S>) {
        let Some(since) = self.hole_since else {
            return;
        };
        if cx.hole_timeout_ns <= 0 || cx.pkt.time.nanos_since(since) <= cx.hole_timeout_ns {
            return;
        }
        if let Some(first) = self.first_hole_end() {
            self.advance(cx, None, Some(first), GapCause::HoleTimeout);
            self.update_done();
        }
        if self.has_buffered() {
            self.hole_since = Some(cx.pkt.time);
        }
    }

    /// End offset of the first hole (start of the first buffered thing).
    fn first_hole_end(&self) -> Option<u64> {
        let a = self.ooo.keys().next().copied();
        let b = self.lost_marks.keys().next().copied();
        let c = self.fin_off.filter(|f| *f > self.next_off);
        [a, b, c]
            .into_iter()
            .flatten()
            .min()
            .map(|x| x.max(self.next_off))
    }

    /// Drops buffered bytes at or beyond `f` (the FIN).
    fn drop_beyond<S: Sink>(&mut self, cx: &mut Ctx<S>, f: u64) {
        let tail: Vec<u64> = self.ooo.range(f..).map(|(k, _)| *k).collect();
        for k in tail {
            if let Some(v) = self.ooo.remove(&k) {
                self.uncharge(cx, v.len() + ENTRY_OVERHEAD);
            }
        }
        if let Some((&k, v)) = self.ooo.iter_mut().next_back() {
            let end = k + v.len() as u64;
            if end > f {
                let keep = (f - k) as usize;
                let cut = v.len() - keep;
                v.truncate(keep);
                self.uncharge(cx, cut);
            }
        }
        for v in self.lost_marks.values_mut() {
            *v = (*v).min(f);
        }
    }

    /// Buffers the parts of `[start, start+len)` no buffered entry covers;
    /// compares the overlapping parts.
    fn buffer<S: Sink>(&mut self, cx: &mut Ctx<S>, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        if data.is_empty() {
            return;
        }
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut cursor = start;
        let mut differ: Option<(u64, u64)> = None;
        let before = self
            .ooo
            .range(..start)
            .next_back()
            .map(|(k, v)| (*k, v.as_slice()));
        let overlapping = before
            .into_iter()
            .chain(self.ooo.range(start..end).map(|(k, v)| (*k, v.as_slice())));
        for (es, ev) in overlapping {
            let ee = es + ev.len() as u64;
            if ee <= start || es >= end {
                continue;
            }
            if es > cursor {
                pieces.push((cursor, es));
            }
            let lo = es.max(start);
            let hi = ee.min(end);
            let old = &ev[(lo - es) as usize..(hi - es) as usize];
            let new = &data[(lo - start) as usize..(hi - start) as usize];
            if old != new {
                let d = differ.get_or_insert((lo, hi));
                d.1 = hi;
            }
            cursor = cursor.max(ee);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        if let Some((lo, hi)) = differ {
            cx.anomaly(overlap_anomaly(lo, hi));
        }
        for (a, b) in pieces {
            let v = data[(a - start) as usize..(b - start) as usize].to_vec();
            self.charge(cx, v.len() + ENTRY_OVERHEAD);
            self.ooo.insert(a, v);
        }
    }

    /// Reports everything reportable from `next_off` on: buffered entries,
    /// the in-order segment `seg`, snaplen losses, and with `until` a forced
    /// gap (of `cause`) over any hole below `until`.
    pub fn advance<S: Sink>(
        &mut self,
        cx: &mut Ctx<S>,
        seg: Option<(u64, &[u8])>,
        until: Option<u64>,
        cause: GapCause,
    ) {
        loop {
            while let Some((&k, &v)) = self.lost_marks.first_key_value() {
                if k > self.next_off {
                    break;
                }
                self.lost_marks.remove(&k);
                self.uncharge(cx, ENTRY_OVERHEAD);
                self.lost_until = self.lost_until.max(v);
            }
            let entry_start = self.ooo.first_key_value().map(|(k, _)| *k);
            if let Some(k) = entry_start.filter(|k| *k <= self.next_off) {
                if let Some(buf) = self.ooo.remove(&k) {
                    self.uncharge(cx, buf.len() + ENTRY_OVERHEAD);
                    let e_end = k + buf.len() as u64;
                    if e_end > self.next_off {
                        let piece = &buf[(self.next_off - k) as usize..];
                        if let Some((s, d)) = seg {
                            let lo = self.next_off.max(s);
                            let hi = e_end.min(s + d.len() as u64);
                            if lo < hi {
                                let old = &buf[(lo - k) as usize..(hi - k) as usize];
                                let new = &d[(lo - s) as usize..(hi - s) as usize];
                                if old != new {
                                    cx.anomaly(overlap_anomaly(lo, hi));
                                }
                            }
                        }
                        self.deliver(cx, piece);
                    }
                }
                continue;
            }
            let lim = entry_start.unwrap_or(u64::MAX);
            if let Some((s, d)) = seg {
                let e = s + d.len() as u64;
                if s <= self.next_off && self.next_off < e {
                    let hi = e.min(lim);
                    let part = &d[(self.next_off - s) as usize..(hi - s) as usize];
                    self.deliver(cx, part);
                    continue;
                }
            }
            if self.lost_until > self.next_off {
                let hi = self.lost_until.min(lim);
                self.gap(cx, hi, GapCause::Snaplen);
                continue;
            }
            if let Some(t) = until.filter(|t| *t > self.next_off) {
                let mark = self.lost_marks.keys().next().copied().unwrap_or(u64::MAX);
                let hi = t.min(lim).min(mark);
                self.gap(cx, hi, cause);
                continue;
            }
            break;
        }
        if !self.has_buffered() {
            self.hole_since = None;
        }
    }

    /// Closes every hole up to the end of what is buffered.
    pub fn flush<S: Sink>(&mut self, cx: &mut Ctx<S>, cause: GapCause) {
        let ooo_end = self
            .ooo
            .iter()
            .next_back()
            .map(|(k, v)| k + v.len() as u64)
            .unwrap_or(0);
        let lost_end = self.lost_marks.values().copied().max().unwrap_or(0);
        let target = ooo_end.max(lost_end).max(self.fin_off.unwrap_or(0));
        self.advance(cx, None, Some(target), cause);
        self.update_done();
    }

    /// The peer acknowledged `ack`: bytes below it were sent.
    pub fn on_peer_ack<S: Sink>(&mut self, cx: &mut Ctx<S>, ack: u32) {
        let rel = self.rel(ack);
        let next = self.next_off as i64;
        if rel <= next || rel - next > MAX_SEQ_AHEAD {
            return;
        }
        let mut a = rel as u64;
        if let Some(f) = self.fin_off {
            a = a.min(f);
        }
        // An ack one past the next byte may only cover a FIN we missed:
        // declare the byte lost only when data beyond it proves it was data.
        if a > self.next_off + 1 || (a == self.next_off + 1 && self.has_buffered()) {
            self.advance(cx, None, Some(a), GapCause::Acked);
            self.update_done();
        }
    }

    fn deliver<S: Sink>(&mut self, cx: &mut Ctx<S>, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // The ring grows with what was delivered (powers of two from
        // MIN_RING_BYTES up to `ring_bytes`): a short flow holds a few
        // hundred bytes, not the whole window.
        let held = self.ring.buf.len();
        if cx.ring_bytes > held && !self.ring_tried {
            if held == 0 {
                self.ring.reset(self.next_off);
            }
            let needed = (self.ring.end - self.ring.valid_from) as usize + bytes.len();
            if needed > held {
                let n = needed
                    .next_power_of_two()
                    .clamp(MIN_RING_BYTES, cx.ring_bytes.max(MIN_RING_BYTES))
                    .min(cx.ring_bytes);
                if *cx.mem + (n - held) <= cx.max_memory {
                    self.ring.resize(n);
                    *cx.mem += n - held;
                } else if held == 0 {
                    // No memory for a ring: overlaps go unchecked.
                    self.ring_tried = true;
                }
            }
        }
        cx.sink.data(cx.id, cx.side, self.next_off, bytes, cx.pkt);
        self.ring.write(self.next_off, bytes);
        self.next_off += bytes.len() as u64;
        self.bytes += bytes.len() as u64;
    }

    fn gap<S: Sink>(&mut self, cx: &mut Ctx<S>, end: u64, cause: GapCause) {
        let start = self.next_off;
        if end <= start {
            return;
        }
        let len = end - start;
        cx.sink.gap(cx.id, cx.side, start, len, cx.pkt);
        let name = if cause == GapCause::Snaplen {
            anomalies::TCP_SNAPLEN_TRUNCATED
        } else {
            anomalies::TCP_SEQ_GAP
        };
        cx.anomaly(Anomaly::new(
            name,
            Some(ByteRange::new(start, end)),
            format!("{len} bytes lost: {}", cause.detail()),
        ));
        self.missed += len;
        self.next_off = end;
        self.ring.reset(end);
    }
}

fn overlap_anomaly(lo: u64, hi: u64) -> Anomaly {
    Anomaly::new(
        anomalies::TCP_OVERLAP_DIFFERENT_DATA,
        Some(ByteRange::new(lo, hi)),
        "overlapping segment carries different bytes; first-seen bytes kept",
    )
}
