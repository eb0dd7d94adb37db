//! Passive TCP reassembly (sans-IO).
//!
//! Contract: [`Reassembler::handle_segment`] takes one decoded TCP segment
//! (with the packet that carried it) and reports, through a [`Sink`], what it
//! completes: flow starts, in-order payload bytes per direction (borrowed from
//! the packet when in order, never copied on that path), gaps with their exact
//! 64-bit stream offsets and lengths, anomalies and flow ends.
//! [`Reassembler::finish`] closes every hole and ends every flow. No I/O, no
//! clock: idle timeouts run on packet time. Never panics on wire data.
//!
//! Rules (see the field notes, section 3):
//! - Flows are keyed on the normalised 4-tuple plus VLAN tags. `Orig` is the
//!   SYN sender; without a SYN, the end not on port 1935 when exactly one
//!   port is 1935, else the sender of the first packet.
//! - Offset 0 of a direction is the byte after its SYN, or the first byte
//!   seen on a mid-stream pickup. Offsets are 64-bit and never wrap; sequence
//!   numbers compare by serial arithmetic.
//! - Every offset of a direction is reported once, as data or as a gap, in
//!   order. First-seen bytes win; differing overlaps are reported.
//! - A hole closes (becomes a gap) when the peer acknowledges past it (an
//!   ACK exactly one past the next byte is taken as a missed FIN, not a lost
//!   byte), when the direction's out-of-order buffer passes its limit, when
//!   the global memory limit is hit, when it stays open longer than the hole
//!   timeout (packet time), when the flow ends (both FINs, RST, idle timeout,
//!   eviction, port reuse) and at end of input. A hole before a FIN waits
//!   like any other, since reordered data may still come. Delivery never
//!   waits on ACKs, so one-sided captures work.
//! - A flow ends after FINs from both sides, on RST, on idle timeout, when
//!   evicted, on port reuse, or at [`Reassembler::finish`].
//! - A flow is created by a SYN or by a segment carrying payload; stray pure
//!   ACKs and RSTs for unknown tuples are ignored. Ended flows (FIN/RST) leave
//!   a small tombstone for [`Config::closed_linger_secs`] so late ACKs and
//!   retransmissions do not start new flows; a SYN on a tombstone starts a
//!   new flow, a SYN with a new ISN on a live flow ends it with
//!   [`EndReason::PortReuse`].
//! - Memory is bounded by [`Config::max_flows`], per-direction
//!   [`Config::max_ooo_bytes`] and [`Config::max_memory`]; ended flows are
//!   dropped, so memory does not grow with capture length.

pub mod community_id;
mod stream;

use std::net::IpAddr;

use crate::event::{ClientBy, EndReason, FlowCounters, FlowInfo};
use crate::link::TcpSegment;
use crate::time::PacketTime;
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, Direction, FlowId, PacketRef};
use stream::{Ctx, GapCause, Half};

pub use stream::{ENTRY_OVERHEAD, MAX_SEQ_AHEAD};

/// Default maximum number of tracked flows (live plus tombstones).
pub const DEFAULT_MAX_FLOWS: usize = 65_536;
/// Default out-of-order buffer limit per direction, in bytes (with
/// [`ENTRY_OVERHEAD`] per buffered segment).
pub const DEFAULT_MAX_OOO_BYTES: usize = 4 << 20;
/// Default global memory limit for all buffers, in bytes: with the
/// dissector cap and the per-flow state budget of the pipeline it keeps any
/// input under 256 MB peak RSS (`benches/limits.sh`).
pub const DEFAULT_MAX_MEMORY: usize = 48 << 20;
/// Default idle timeout of a live flow, in packet-time seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
/// Default time a tombstone of an ended flow is kept, in packet-time seconds.
pub const DEFAULT_CLOSED_LINGER_SECS: u64 = 60;
/// Default hole timeout, in packet-time seconds: a hole open this long (no
/// retransmission, no ACK past it) is closed when the flow's next packet
/// arrives. 0 disables it.
pub const DEFAULT_HOLE_TIMEOUT_SECS: u64 = 10;
/// Default size of the per-direction window of delivered bytes kept to
/// compare retransmissions against (0 disables the comparison).
pub const DEFAULT_OVERLAP_CHECK_BYTES: usize = 4096;
/// VLAN tags beyond this many (outermost first) are not part of the key.
pub const MAX_KEY_VLANS: usize = 4;
/// The well-known RTMP port: the server side when no SYN was seen.
pub const RTMP_PORT: u16 = 1935;

/// Reassembly limits. Times are packet-time seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Live flows plus tombstones; over it the least recently used flow is
    /// evicted (`reassembly.flow_limit`), tombstones first and silently.
    pub max_flows: usize,
    /// Out-of-order bytes buffered per direction (plus [`ENTRY_OVERHEAD`]
    /// per segment); over it the first hole closes (`reassembly.ooo_limit`).
    pub max_ooo_bytes: usize,
    /// All buffers of all flows; over it the holes of the direction that
    /// grew close (`reassembly.memory_limit`).
    pub max_memory: usize,
    /// A live flow without packets this long ends ([`EndReason::Timeout`]).
    pub idle_timeout_secs: u64,
    /// How long an ended flow's tombstone absorbs late packets.
    pub closed_linger_secs: u64,
    /// A hole open this long closes at the flow's next packet (0 = never).
    pub hole_timeout_secs: u64,
    /// Delivered bytes kept per direction to compare retransmissions
    /// against (`tcp.overlap_different_data`); 0 disables.
    pub overlap_check_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_flows: DEFAULT_MAX_FLOWS,
            max_ooo_bytes: DEFAULT_MAX_OOO_BYTES,
            max_memory: DEFAULT_MAX_MEMORY,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            closed_linger_secs: DEFAULT_CLOSED_LINGER_SECS,
            hole_timeout_secs: DEFAULT_HOLE_TIMEOUT_SECS,
            overlap_check_bytes: DEFAULT_OVERLAP_CHECK_BYTES,
        }
    }
}

/// One direction of a flow: `Orig` sends from the client (connection
/// originator), `Resp` from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Orig,
    Resp,
}

impl Side {
    /// 0 for Orig, 1 for Resp (same as [`Direction::index`] of
    /// [`Side::direction`]).
    pub fn index(self) -> usize {
        match self {
            Side::Orig => 0,
            Side::Resp => 1,
        }
    }
    pub fn other(self) -> Side {
        match self {
            Side::Orig => Side::Resp,
            Side::Resp => Side::Orig,
        }
    }
    /// Orig sends to the server, Resp to the client.
    pub fn direction(self) -> Direction {
        match self {
            Side::Orig => Direction::ToServer,
            Side::Resp => Direction::ToClient,
        }
    }
}

/// What a new flow looks like.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowStartInfo {
    pub flow_id: FlowId,
    pub orig_ip: IpAddr,
    pub orig_port: u16,
    pub resp_ip: IpAddr,
    pub resp_port: u16,
    /// 802.1Q VLAN ids, outermost first.
    pub vlan: Vec<u16>,
    /// Community ID v1, seed 0.
    pub community_id: String,
    /// No SYN (nor SYN-ACK) was seen.
    pub midstream: bool,
    pub client_by: ClientBy,
}

impl FlowStartInfo {
    /// The event-model view (Orig = client).
    pub fn to_flow_info(&self) -> FlowInfo {
        FlowInfo {
            flow_id: self.flow_id,
            client_ip: self.orig_ip,
            client_port: self.orig_port,
            server_ip: self.resp_ip,
            server_port: self.resp_port,
            vlan: self.vlan.clone(),
            community_id: self.community_id.clone(),
            midstream: self.midstream,
            client_by: self.client_by,
            tunnel: None,
        }
    }
}

/// What an ended flow did. Counter arrays are indexed by [`Side::index`]
/// (0 = Orig = to_server); `counters.messages` is left 0 for the dissector.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowEndInfo {
    pub counters: FlowCounters,
    pub reason: EndReason,
    pub first_seen: PacketTime,
    pub last_seen: PacketTime,
}

/// Receives what the reassembler completes, in order.
pub trait Sink {
    fn flow_start(&mut self, flow: &FlowStartInfo, pkt: PacketRef);
    /// `data` are the bytes at stream offsets `offset..offset+data.len()`.
    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], pkt: PacketRef);
    /// Bytes `offset..offset+len` will never be seen.
    fn gap(&mut self, flow: FlowId, side: Side, offset: u64, len: u64, pkt: PacketRef);
    fn anomaly(&mut self, flow: Option<FlowId>, side: Option<Side>, a: Anomaly, pkt: PacketRef);
    fn flow_end(&mut self, flow: FlowId, end: &FlowEndInfo, pkt: PacketRef);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    vlan: [u16; MAX_KEY_VLANS],
    nvlan: u8,
}

impl FlowKey {
    fn of(seg: &TcpSegment<'_>) -> Self {
        let a = (seg.src, seg.src_port);
        let b = (seg.dst, seg.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut vlan = [0u16; MAX_KEY_VLANS];
        let n = seg.vlan.len().min(MAX_KEY_VLANS);
        vlan[..n].copy_from_slice(&seg.vlan[..n]);
        FlowKey {
            lo,
            hi,
            vlan,
            nvlan: n as u8,
        }
    }
}

const NIL: usize = usize::MAX;

/// Intrusive doubly-linked LRU list over slab indices (head = most recent).
#[derive(Debug, Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

#[derive(Debug)]
struct Flow {
    start: FlowStartInfo,
    halves: [Half; 2],
    first_seen: PacketTime,
    last_seen: PacketTime,
}

impl Flow {
    fn side_of(&self, seg: &TcpSegment<'_>) -> Side {
        if seg.src == self.start.orig_ip && seg.src_port == self.start.orig_port {
            Side::Orig
        } else {
            Side::Resp
        }
    }
}

#[derive(Debug)]
enum State {
    Live(Box<Flow>),
    /// An ended flow `id`: `at` is when it ended; `reported` once a late packet
    /// with payload was reported.
    Closed {
        id: FlowId,
        at: PacketTime,
        reported: bool,
    },
}

#[derive(Debug)]
struct Entry {
    key: FlowKey,
    prev: usize,
    next: usize,
    state: State,
}

/// Reassembly totals since creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub flows: u64,
    pub evicted: u64,
    pub timed_out: u64,
    /// Segments ignored: stray non-SYN, payload-less packets of unknown
    /// tuples and packets of ended flows.
    pub ignored_segments: u64,
}

/// Hands out flow ids (first-seen order from 1). Shared by clones, so
/// layers above reassembly (the RTMPT tunnel's virtual flows) draw from the
/// same sequence and ids never collide.
#[derive(Clone, Debug)]
pub struct FlowIdAllocator(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl FlowIdAllocator {
    fn new() -> Self {
        FlowIdAllocator(std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)))
    }
    /// The next unused id.
    pub fn next_id(&self) -> FlowId {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The passive TCP reassembler. See the module documentation.
#[derive(Debug)]
pub struct Reassembler {
    config: Config,
    map: crate::fasthash::FastMap<FlowKey, usize>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    live: List,
    closed: List,
    next_id: FlowIdAllocator,
    mem: usize,
    stats: ReassemblyStats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(Config::default())
    }
}

impl Reassembler {
    pub fn new(config: Config) -> Self {
        Reassembler {
            config,
            map: crate::fasthash::map(),
            slots: Vec::new(),
            free: Vec::new(),
            live: List::default(),
            closed: List::default(),
            next_id: FlowIdAllocator::new(),
            mem: 0,
            stats: ReassemblyStats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The flow id sequence (for flows made above reassembly).
    pub fn flow_ids(&self) -> FlowIdAllocator {
        self.next_id.clone()
    }

    /// Bytes currently charged to the global memory account.
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// Live flows being tracked (tombstones excluded).
    pub fn live_flows(&self) -> usize {
        self.live.len
    }

    /// Tracked entries: live flows plus tombstones.
    pub fn tracked_flows(&self) -> usize {
        self.map.len()
    }

    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// One TCP segment.
    pub fn handle_segment<S: Sink>(&mut self, seg: &TcpSegment<'_>, pkt: PacketRef, sink: &mut S) {
        self.expire(pkt, sink);
        let key = FlowKey::of(seg);
        let idx = match self.map.get(&key).copied() {
            Some(i) => match self.slot_state(i) {
                Some(true) => {
                    if self.is_port_reuse(i, seg) {
                        self.end_flow(i, EndReason::PortReuse, pkt, sink);
                        self.remove(i);
                        self.create(key, seg, pkt, sink)
                    } else {
                        self.touch(i);
                        i
                    }
                }
                Some(false) => {
                    if seg.flags.syn {
                        self.remove(i);
                        self.create(key, seg, pkt, sink)
                    } else {
                        self.late_packet(i, seg, pkt, sink);
                        return;
                    }
                }
                None => return,
            },
            None => {
                let carries = !seg.payload.is_empty() || seg.missing > 0;
                if !(seg.flags.syn || carries) {
                    self.stats.ignored_segments += 1;
                    return;
                }
                self.create(key, seg, pkt, sink)
            }
        };
        self.process(idx, seg, pkt, sink);
    }

    /// End of input: closes every hole and ends every live flow with
    /// [`EndReason::EndOfInput`], in flow-id order; forgets everything.
    pub fn finish<S: Sink>(&mut self, pkt: PacketRef, sink: &mut S) {
        let mut live: Vec<(FlowId, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e.as_ref().map(|e| &e.state) {
                Some(State::Live(f)) => Some((f.start.flow_id, i)),
                _ => None,
            })
            .collect();
        live.sort_unstable();
        for (_, i) in live {
            self.end_flow(i, EndReason::EndOfInput, pkt, sink);
        }
        self.map.clear();
        self.slots.clear();
        self.free.clear();
        self.live = List::default();
        self.closed = List::default();
        self.mem = 0;
    }

    /// Ends flows idle longer than the timeout and forgets old tombstones.
    /// Called by `handle_segment`; callers with a clock of their own (live
    /// capture without packets) may call it with the latest packet time.
    pub fn expire<S: Sink>(&mut self, pkt: PacketRef, sink: &mut S) {
        let idle = i128::from(self.config.idle_timeout_secs) * 1_000_000_000;
        while let Some(i) = (self.live.tail != NIL).then_some(self.live.tail) {
            let last = match self.slots.get(i).and_then(|e| e.as_ref()).map(|e| &e.state) {
                Some(State::Live(f)) => f.last_seen,
                _ => break,
            };
            if pkt.time.nanos_since(last) <= idle {
                break;
            }
            self.stats.timed_out += 1;
            self.end_flow(i, EndReason::Timeout, pkt, sink);
            self.remove(i);
        }
        let linger = i128::from(self.config.closed_linger_secs) * 1_000_000_000;
        while let Some(i) = (self.closed.tail != NIL).then_some(self.closed.tail) {
            let at = match self.slots.get(i).and_then(|e| e.as_ref()).map(|e| &e.state) {
                Some(State::Closed { at, .. }) => *at,
                _ => break,
            };
            if pkt.time.nanos_since(at) <= linger {
                break;
            }
            self.remove(i);
        }
    }

    /// Some(true) live, Some(false) tombstone.
    fn slot_state(&self, i: usize) -> Option<bool> {
        match self.slots.get(i)?.as_ref()?.state {
            State::Live(_) => Some(true),
            State::Closed { .. } => Some(false),
        }
    }

    fn flow_mut(&mut self, i: usize) -> Option<&mut Flow> {
        match &mut self.slots.get_mut(i)?.as_mut()?.state {
            State::Live(f) => Some(f),
            State::Closed { .. } => None,
        }
    }

    fn is_port_reuse(&mut self, i: usize, seg: &TcpSegment<'_>) -> bool {
        if !seg.flags.syn {
            return false;
        }
        let Some(flow) = self.flow_mut(i) else {
            return false;
        };
        let h = &flow.halves[flow.side_of(seg).index()];
        let same = h.init && h.base == seg.seq.wrapping_add(1);
        if seg.flags.ack {
            // A SYN-ACK continues the handshake unless its ISN changed.
            h.init && !same
        } else {
            !same
        }
    }

    fn late_packet<S: Sink>(
        &mut self,
        i: usize,
        seg: &TcpSegment<'_>,
        pkt: PacketRef,
        sink: &mut S,
    ) {
        self.stats.ignored_segments += 1;
        if seg.payload.is_empty() && seg.missing == 0 {
            return;
        }
        if let Some(Some(Entry {
            state: State::Closed { id, reported, .. },
            ..
        })) = self.slots.get_mut(i)
        {
            if !*reported {
                *reported = true;
                sink.anomaly(
                    Some(*id),
                    None,
                    Anomaly::new(
                        anomalies::TCP_PKT_AFTER_CLOSE,
                        None,
                        format!(
                            "payload on {}:{} -> {}:{} after the flow ended; ignored",
                            seg.src, seg.src_port, seg.dst, seg.dst_port
                        ),
                    ),
                    pkt,
                );
            }
        }
    }

    fn create<S: Sink>(
        &mut self,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        pkt: PacketRef,
        sink: &mut S,
    ) -> usize {
        while self.map.len() >= self.config.max_flows.max(1) {
            if self.closed.tail != NIL {
                let t = self.closed.tail;
                self.remove(t);
            } else if self.live.tail != NIL {
                let t = self.live.tail;
                if let Some(f) = self.flow_mut(t) {
                    let id = f.start.flow_id;
                    sink.anomaly(
                        Some(id),
                        None,
                        Anomaly::new(
                            anomalies::REASSEMBLY_FLOW_LIMIT,
                            None,
                            format!(
                                "{} flows tracked; least recently used flow evicted",
                                self.config.max_flows
                            ),
                        ),
                        pkt,
                    );
                }
                self.stats.evicted += 1;
                self.end_flow(t, EndReason::Evicted, pkt, sink);
                self.remove(t);
            } else {
                break;
            }
        }
        let src = (seg.src, seg.src_port);
        let dst = (seg.dst, seg.dst_port);
        let (orig, resp, client_by, midstream) = if seg.flags.syn && !seg.flags.ack {
            (src, dst, ClientBy::Syn, false)
        } else if seg.flags.syn {
            (dst, src, ClientBy::Syn, false)
        } else if (seg.src_port == RTMP_PORT) != (seg.dst_port == RTMP_PORT) {
            if seg.dst_port == RTMP_PORT {
                (src, dst, ClientBy::Port, true)
            } else {
                (dst, src, ClientBy::Port, true)
            }
        } else {
            (src, dst, ClientBy::FirstPacket, true)
        };
        let flow_id = self.next_id.next_id();
        self.stats.flows += 1;
        let start = FlowStartInfo {
            flow_id,
            orig_ip: orig.0,
            orig_port: orig.1,
            resp_ip: resp.0,
            resp_port: resp.1,
            vlan: seg.vlan.clone(),
            community_id: community_id::community_id_v1(0, orig.0, orig.1, resp.0, resp.1),
            midstream,
            client_by,
        };
        sink.flow_start(&start, pkt);
        if midstream {
            sink.anomaly(
                Some(flow_id),
                None,
                Anomaly::new(
                    anomalies::TCP_MIDSTREAM,
                    None,
                    "no SYN seen: capture started mid-connection; offsets start at the first byte seen",
                ),
                pkt,
            );
        }
        let flow = Flow {
            start,
            halves: [Half::default(), Half::default()],
            first_seen: pkt.time,
            last_seen: pkt.time,
        };
        let entry = Entry {
            key,
            prev: NIL,
            next: NIL,
            state: State::Live(Box::new(flow)),
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i) {
                    *s = Some(entry);
                }
                i
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.map.insert(key, i);
        self.link_front(i, false);
        i
    }

    fn process<S: Sink>(&mut self, i: usize, seg: &TcpSegment<'_>, pkt: PacketRef, sink: &mut S) {
        let cfg = &self.config;
        let mem = &mut self.mem;
        let Some(Some(Entry {
            state: State::Live(flow),
            ..
        })) = self.slots.get_mut(i)
        else {
            return;
        };
        let id = flow.start.flow_id;
        let side = flow.side_of(seg);
        flow.last_seen = pkt.time;
        let (h, o) = match side {
            Side::Orig => {
                let [a, b] = &mut flow.halves;
                (a, b)
            }
            Side::Resp => {
                let [a, b] = &mut flow.halves;
                (b, a)
            }
        };
        h.packets += 1;
        if seg.flags.syn {
            if !h.init {
                h.init_at(seg.seq.wrapping_add(1));
                h.syn_seen = true;
            }
            if seg.flags.ack && !o.init {
                o.init_at(seg.ack);
            }
        } else if seg.flags.ack && side == Side::Orig && h.syn_seen && !o.init && o.packets == 0 {
            // Third packet of the handshake: the server's ISN + 1.
            o.init_at(seg.ack);
        }
        let data_seq = seg.seq.wrapping_add(u32::from(seg.flags.syn));
        let carries = !seg.payload.is_empty() || seg.missing > 0;
        let mut cx = Ctx {
            id,
            side,
            pkt,
            sink: &mut *sink,
            mem,
            max_ooo: cfg.max_ooo_bytes,
            max_memory: cfg.max_memory,
            ring_bytes: cfg.overlap_check_bytes,
            hole_timeout_ns: i128::from(cfg.hole_timeout_secs) * 1_000_000_000,
        };
        if !h.init && !seg.flags.rst {
            // Mid-stream pickup: the first packet of the side (a pure ACK
            // too: its seq is the next byte to send) defines offset 0.
            h.init_at(data_seq);
        }
        if (carries || seg.flags.fin) && h.init {
            h.on_data(
                &mut cx,
                data_seq,
                seg.payload,
                u64::from(seg.missing),
                seg.flags.fin,
            );
        }
        if seg.flags.ack && o.init && !seg.flags.rst {
            cx.side = side.other();
            o.on_peer_ack(&mut cx, seg.ack);
            cx.side = side;
        }
        h.check_hole_age(&mut cx);
        cx.side = side.other();
        o.check_hole_age(&mut cx);
        cx.side = side;
        if *cx.mem > cfg.max_memory && h.has_buffered() {
            cx.sink.anomaly(
                Some(id),
                Some(side),
                Anomaly::new(
                    anomalies::REASSEMBLY_MEMORY_LIMIT,
                    None,
                    format!(
                        "buffers above {} bytes; holes of this direction closed",
                        cfg.max_memory
                    ),
                ),
                pkt,
            );
            h.flush(&mut cx, GapCause::MemoryLimit);
        }
        let ended = if seg.flags.rst {
            Some(EndReason::Rst)
        } else if h.fin_off.is_some() && o.fin_off.is_some() {
            Some(EndReason::Fin)
        } else {
            None
        };
        if let Some(reason) = ended {
            self.end_flow(i, reason, pkt, sink);
            self.unlink(i);
            if let Some(Some(e)) = self.slots.get_mut(i) {
                e.state = State::Closed {
                    id,
                    at: pkt.time,
                    reported: false,
                };
            }
            self.link_front(i, true);
        }
    }

    /// Closes the flow's holes and reports its end (the slot stays).
    fn end_flow<S: Sink>(&mut self, i: usize, reason: EndReason, pkt: PacketRef, sink: &mut S) {
        let cfg = &self.config;
        let mem = &mut self.mem;
        let Some(Some(Entry {
            state: State::Live(flow),
            ..
        })) = self.slots.get_mut(i)
        else {
            return;
        };
        let cause = match reason {
            EndReason::Fin => GapCause::Fin,
            EndReason::Rst => GapCause::Rst,
            EndReason::Timeout => GapCause::Timeout,
            EndReason::Evicted => GapCause::Evicted,
            EndReason::EndOfInput | EndReason::Interrupted => GapCause::EndOfInput,
            EndReason::PortReuse => GapCause::PortReuse,
        };
        let id = flow.start.flow_id;
        for side in [Side::Orig, Side::Resp] {
            let h = &mut flow.halves[side.index()];
            let mut cx = Ctx {
                id,
                side,
                pkt,
                sink: &mut *sink,
                mem: &mut *mem,
                max_ooo: cfg.max_ooo_bytes,
                max_memory: cfg.max_memory,
                ring_bytes: 0,
                hole_timeout_ns: 0,
            };
            h.flush(&mut cx, cause);
            let freed = h.release();
            *mem = mem.saturating_sub(freed);
        }
        let [o, r] = &flow.halves;
        let info = FlowEndInfo {
            counters: FlowCounters {
                packets: [o.packets, r.packets],
                bytes: [o.bytes, r.bytes],
                missed_bytes: [o.missed, r.missed],
                retransmitted_bytes: [o.retransmitted, r.retransmitted],
                messages: [0, 0],
            },
            reason,
            first_seen: flow.first_seen,
            last_seen: flow.last_seen,
        };
        sink.flow_end(id, &info, pkt);
    }

    /// Forgets slot `i` entirely (must already be ended or a tombstone).
    fn remove(&mut self, i: usize) {
        self.unlink(i);
        if let Some(slot) = self.slots.get_mut(i) {
            if let Some(e) = slot.take() {
                if let State::Live(mut f) = e.state {
                    for h in &mut f.halves {
                        let freed = h.release();
                        self.mem = self.mem.saturating_sub(freed);
                    }
                }
                self.map.remove(&e.key);
                self.free.push(i);
            }
        }
    }

    fn list_of(&mut self, closed: bool) -> &mut List {
        if closed {
            &mut self.closed
        } else {
            &mut self.live
        }
    }

    fn is_closed(&self, i: usize) -> bool {
        self.slot_state(i) == Some(false)
    }

    fn unlink(&mut self, i: usize) {
        let closed = self.is_closed(i);
        let (prev, next) = match self.slots.get(i).and_then(|e| e.as_ref()) {
            Some(e) => (e.prev, e.next),
            None => return,
        };
        if prev == NIL && next == NIL && self.list_of(closed).head != i {
            return; // not linked
        }
        match self.slots.get_mut(prev).and_then(|e| e.as_mut()) {
            Some(p) => p.next = next,
            None => self.list_of(closed).head = next,
        }
        match self.slots.get_mut(next).and_then(|e| e.as_mut()) {
            Some(n) => n.prev = prev,
            None => self.list_of(closed).tail = prev,
        }
        let l = self.list_of(closed);
        l.len = l.len.saturating_sub(1);
        if let Some(Some(e)) = self.slots.get_mut(i) {
            e.prev = NIL;
            e.next = NIL;
        }
    }

    fn link_front(&mut self, i: usize, closed: bool) {
        let head = self.list_of(closed).head;
        if let Some(Some(e)) = self.slots.get_mut(i) {
            e.prev = NIL;
            e.next = head;
        }
        match self.slots.get_mut(head).and_then(|e| e.as_mut()) {
            Some(h) => h.prev = i,
            None => self.list_of(closed).tail = i,
        }
        let l = self.list_of(closed);
        l.head = i;
        l.len += 1;
    }

    fn touch(&mut self, i: usize) {
        if self.live.head != i {
            self.unlink(i);
            self.link_front(i, false);
        }
    }
}

#[cfg(test)]
mod tests;
