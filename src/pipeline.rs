//! Glue: link -> reassembly -> RTMP dissector, producing the event stream.
//!
//! Contract: sans-IO. [`Analyzer::handle_packet`] takes one captured frame and
//! appends the events it completes; [`Analyzer::finish`] flushes every open
//! flow and appends the final `stats` event. Same input, same events: the
//! only clock is the packet time.
//!
//! Per flow the analyzer keeps a [`classify::FlowSniffer`] and one
//! [`rtmp::Connection`]; reassembly's `Orig` side is the client (SYN sender,
//! else the non-1935 end, else the first sender), so `Orig` bytes go
//! `to_server`. The sniffer classifies each direction by its first bytes
//! before anything is dissected ([`classify::Route`]): RTMP handshakes and
//! flows without a signature go to the RTMP dissector (whose mid-stream
//! scorer decides the latter); HTTP, TLS and the other recognised protocols
//! never reach it. The `flow` event carries the final
//! [`classify::verdict`] (protocol, evidence, confidence).
//!
//! HTTP flows go to the [`rtmpt::Layer`]: RTMPT tunnels found there come out
//! as virtual flows (ids from the same sequence as TCP flows) whose RTMP goes
//! through the same dissector.

use std::collections::BTreeMap;

use crate::fasthash::FastMap;

use crate::classify::{self, FlowSniffer, Route, Step};
use crate::event::{
    Anomaly, ByteRange, Direction, EndReason, Event, EventKind, FlowEnd, FlowId, FlowProtocol, Gap,
    PacketRef, Stats, Suppressed,
};
use crate::link::{self, Decoded};
use crate::packet::{KernelStats, RawPacket};
use crate::reassembly::{self, FlowEndInfo, FlowStartInfo, Reassembler, Side, Sink};
use crate::rtmp;
use crate::rtmpt;
use crate::time::PacketTime;
use crate::vocab::anomalies;

/// Events of one anomaly name (or `gap` events) written per flow; later
/// ones are counted (`stats` stays exact) and summed up in one
/// `anomaly.rate_limited` line when the flow ends (Suricata-style event
/// throttling): a flood of out-of-order segments cannot flood the output.
pub const ANOMALY_REPORT_LIMIT: u64 = 100;

/// Per name: events seen, suppressed, bytes lost by suppressed gaps.
type NameCounts = BTreeMap<&'static str, (u64, u64, u64)>;

/// Per flow and name counts of anomalies and gaps.
#[derive(Debug, Default)]
struct RateLimiter {
    /// `None` = events outside any flow (link-layer anomalies).
    seen: FastMap<Option<FlowId>, NameCounts>,
}

impl RateLimiter {
    /// True when `ev` is to be written.
    fn allow(&mut self, ev: &Event) -> bool {
        let (name, bytes) = match &ev.kind {
            EventKind::Anomaly(a) if a.suppressed.is_none() => (a.name, 0),
            EventKind::Gap(g) => ("gap", g.len),
            _ => return true,
        };
        let c = self
            .seen
            .entry(ev.flow_id)
            .or_default()
            .entry(name)
            .or_default();
        c.0 += 1;
        if c.0 <= ANOMALY_REPORT_LIMIT {
            return true;
        }
        c.1 += 1;
        c.2 = c.2.saturating_add(bytes);
        false
    }

    /// The `anomaly.rate_limited` lines of `flow` (forgetting its counts).
    fn take(&mut self, flow: Option<FlowId>) -> Vec<Anomaly> {
        let Some(m) = self.seen.remove(&flow) else {
            return Vec::new();
        };
        m.into_iter()
            .filter(|(_, c)| c.1 > 0)
            .map(|(name, (seen, n, bytes))| {
                let mut a = Anomaly::new(
                    anomalies::ANOMALY_RATE_LIMITED,
                    None,
                    format!(
                        "{name}: {seen} on this flow, the first {ANOMALY_REPORT_LIMIT} written, {n} more not written"
                    ),
                );
                a.suppressed = Some(Suppressed {
                    name,
                    count: n,
                    bytes: (name == "gap").then_some(bytes),
                });
                a
            })
            .collect()
    }
}

/// Estimated bytes of state one tracked flow costs besides its buffers
/// (flow table entry, dissector state, the open session record of the
/// outputs, TUI row), measured on the 1M-flow capture of `benches/limits.sh`.
pub const FLOW_STATE_BYTES: usize = 5 << 10;
/// Budget for the per-flow state of all tracked flows: without `--max-flows`
/// the flow table holds at most `DEFAULT_FLOW_STATE_BUDGET /
/// FLOW_STATE_BYTES` flows (26,214), the least recently used one is evicted
/// beyond (`reassembly.flow_limit`). Buffers have their own caps
/// (`--max-reassembly-mem`, `--max-dissector-mem`).
pub const DEFAULT_FLOW_STATE_BUDGET: usize = 128 << 20;

#[path = "pipeline_tls.rs"]
mod tls_hook;

/// Analyzer settings (limits and overrides from the CLI). Every limit is
/// `None` unless the user overrode it: `None` means the owning module's
/// default (its named `pub const`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Maximum number of concurrently tracked flows (`--max-flows`).
    pub max_flows: Option<usize>,
    /// Maximum out-of-order bytes buffered per flow direction
    /// (`--max-ooo-bytes`).
    pub max_ooo_bytes: Option<usize>,
    /// Maximum bytes held by reassembly across all flows
    /// (`--max-reassembly-mem`).
    pub max_reassembly_mem: Option<usize>,
    /// Idle flow timeout in seconds of packet time (`--flow-timeout`).
    pub flow_timeout_secs: Option<u64>,
    /// Maximum bytes held by the RTMP dissectors of all flows together
    /// (`--max-dissector-mem`; default [`rtmp::DEFAULT_MAX_DISSECTOR_MEMORY`]).
    pub max_dissector_mem: Option<usize>,
    /// TLS secrets (`--tls-keylog`, pcapng Decryption Secrets Blocks).
    pub tls_keylog: Option<std::sync::Arc<crate::tls::KeyLog>>,
}

impl Config {
    fn reassembly(&self) -> reassembly::Config {
        let mut c = reassembly::Config {
            max_flows: reassembly::DEFAULT_MAX_FLOWS
                .min(DEFAULT_FLOW_STATE_BUDGET / FLOW_STATE_BYTES),
            ..reassembly::Config::default()
        };
        if let Some(v) = self.max_flows {
            c.max_flows = v;
        }
        if let Some(v) = self.max_ooo_bytes {
            c.max_ooo_bytes = v;
        }
        if let Some(v) = self.max_reassembly_mem {
            c.max_memory = v;
        }
        if let Some(v) = self.flow_timeout_secs {
            c.idle_timeout_secs = v;
        }
        c
    }
}

/// Receives every in-order byte run of every TCP flow (of a TLS flow: its
/// decrypted plaintext, the TCP bytes going to [`DataTap::tls_record_bytes`]),
/// and the RTMP bytes of RTMPT tunnels under their virtual flow id (for a hex
/// view or an export). Optional: JSON output does not need it.
pub trait DataTap {
    /// Bytes the RTMP dissector reads: the TCP stream, or for a TLS flow
    /// its decrypted plaintext (offsets in the plaintext stream).
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]);
    /// The TCP bytes of a TLS flow, which [`DataTap::data`] does not see
    /// (TCP stream offsets). Default: ignored.
    fn tls_record_bytes(&mut self, _flow: FlowId, _dir: Direction, _offset: u64, _data: &[u8]) {}
}

struct NoTap;
impl DataTap for NoTap {
    fn data(&mut self, _: FlowId, _: Direction, _: u64, _: &[u8]) {}
}

#[derive(Debug)]
struct FlowState {
    sniff: FlowSniffer,
    conn: rtmp::Connection,
    messages: [u64; 2],
    /// Bytes of an HTTP-routed flow waiting for the RTMPT layer (the
    /// sniffer's verdict is taken here, the layer lives in the driver).
    http_pending: Vec<(Direction, u64, Vec<u8>)>,
    info: crate::event::FlowInfo,
    /// `conn.memory()` when last looked at (its share of the dissector total).
    mem: usize,
    /// TLS layer (RTMPS): started by the classifier's [`Route::Tls`], or on
    /// a flow picked up mid-stream by its own probe of record headers.
    tls: tls_hook::TlsHook,
    /// Bytes of a TLS-routed flow waiting for the TLS layer (drained by
    /// `Driver::flush_tls`, which has the key log and the tap).
    tls_pending: Vec<(Direction, u64, Vec<u8>)>,
}

impl FlowState {
    /// Hands in-order bytes of `dir` (after the sniffer's `held` bytes) to
    /// the destination of the flow's route.
    fn deliver(
        &mut self,
        dir: Direction,
        held: Option<(u64, Vec<u8>)>,
        data: Option<(u64, &[u8])>,
        pkt: PacketRef,
        out: &mut Vec<rtmp::RtmpEvent>,
    ) {
        match self.sniff.route() {
            Route::Rtmp => {
                if let Some((off, h)) = held {
                    self.conn.handle_data(dir, off, &h, pkt, out);
                }
                if let Some((off, d)) = data {
                    self.conn.handle_data(dir, off, d, pkt, out);
                }
            }
            // HTTP (where RTMPT travels) goes to the RTMPT layer (the
            // driver drains `http_pending`); TLS (RTMPS) is never fed to the
            // RTMP dissector.
            Route::Http => {
                if let Some((off, h)) = held {
                    self.http_pending.push((dir, off, h));
                }
                if let Some((off, d)) = data {
                    self.http_pending.push((dir, off, d.to_vec()));
                }
            }
            Route::Tls => {
                if let Some((off, h)) = held {
                    self.tls_pending.push((dir, off, h));
                }
                if let Some((off, d)) = data {
                    self.tls_pending.push((dir, off, d.to_vec()));
                }
            }
            Route::Skip | Route::Undecided => {}
        }
    }

    /// Offers bytes to the sniffer and delivers what it passes.
    fn data(
        &mut self,
        dir: Direction,
        offset: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<rtmp::RtmpEvent>,
    ) {
        match self.sniff.offer(dir, offset, data) {
            Step::Held => {}
            Step::Pass(held) => self.deliver(dir, held, Some((offset, data)), pkt, out),
            Step::Rerouted(held) => {
                // The other direction went to the dissector on its bytes
                // alone; this one carries another protocol's signature. A
                // dissector that already decoded messages keeps the flow.
                if self.messages != [0, 0] {
                    self.sniff.keep_rtmp();
                } else {
                    self.conn.abandon();
                }
                self.deliver(dir, held, Some((offset, data)), pkt, out);
            }
        }
    }

    /// A gap or the end of the flow: bytes held by the sniffer go first.
    fn release(&mut self, dir: Direction, pkt: PacketRef, out: &mut Vec<rtmp::RtmpEvent>) {
        if let Some(held) = self.sniff.release(dir) {
            self.deliver(dir, Some(held), None, pkt, out);
        }
    }

    /// The flow record's classification.
    fn verdict(&self) -> classify::Verdict {
        classify::verdict(
            self.sniff.signatures(),
            self.conn.protocol(),
            self.conn.uncertain(),
            self.messages[0] + self.messages[1],
            self.conn.handshake_both(),
        )
    }
}

/// The whole sans-IO pipeline for one input.
#[derive(Debug)]
pub struct Analyzer {
    keylog: Option<std::sync::Arc<crate::tls::KeyLog>>,
    reasm: Reassembler,
    flows: FastMap<FlowId, FlowState>,
    rtmpt: rtmpt::Layer,
    totals: Totals,
    limiter: RateLimiter,
}

#[derive(Debug, Default)]
struct Totals {
    packets: u64,
    bytes: u64,
    unknown_link: u64,
    non_tcp: u64,
    flows: u64,
    rtmp_flows: u64,
    messages: u64,
    missed_bytes: u64,
    anomalies: BTreeMap<&'static str, u64>,
    last: PacketRef,
    /// Bytes held by all dissectors now, the most ever, and the cap.
    dissector_mem: usize,
    dissector_mem_peak: usize,
    dissector_mem_cap: usize,
}

impl Totals {
    /// Counts what an event contributes to the totals.
    fn account(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::Anomaly(a) => *self.anomalies.entry(a.name).or_default() += 1,
            EventKind::Message(_) => self.messages += 1,
            EventKind::Gap(g) => self.missed_bytes += g.len,
            _ => {}
        }
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(Config::default())
    }
}

/// A [`Driver`] over the analyzer's flow-side parts (a macro, not a
/// method: the callers keep using `self.reasm` beside it).
macro_rules! driver {
    ($an:expr, $out:expr, $tap:expr, $interrupted:expr) => {
        Driver {
            keylog: &$an.keylog,
            flows: &mut $an.flows,
            rtmpt: &mut $an.rtmpt,
            totals: &mut $an.totals,
            limiter: &mut $an.limiter,
            out: $out,
            tap: $tap,
            scratch: Vec::new(),
            interrupted: $interrupted,
        }
    };
}

/// Reassembly sink that drives the per-flow dissectors.
struct Driver<'a, T: DataTap> {
    keylog: &'a Option<std::sync::Arc<crate::tls::KeyLog>>,
    flows: &'a mut FastMap<FlowId, FlowState>,
    rtmpt: &'a mut rtmpt::Layer,
    totals: &'a mut Totals,
    limiter: &'a mut RateLimiter,
    out: &'a mut Vec<Event>,
    tap: &'a mut T,
    scratch: Vec<rtmp::RtmpEvent>,
    /// The input was interrupted (signal, autostop): flows still open end
    /// as [`EndReason::Interrupted`] and no end-of-flow diagnostics are
    /// invented for them.
    interrupted: bool,
}

/// Diagnostics a flow's dissector emits when its bytes end; after an
/// interrupted run they describe the interruption, not the flow.
const END_OF_FLOW_ANOMALIES: [&str; 2] = ["rtmp.eof_truncated", "rtmp.handshake.incomplete"];

/// How the input of a run ended, for [`Analyzer::finish_run`].
#[derive(Clone, Debug, Default)]
pub struct RunEnd {
    /// Stopped by a signal: its name (`SIGINT`, `SIGTERM`, `SIGHUP`).
    pub interrupted: Option<String>,
    /// Stopped by an autostop condition (`-c`, `-a`): which one.
    pub autostop: Option<String>,
    /// The capture file ends in the middle of a packet: the file and the
    /// byte offset where the cut record starts (when known).
    pub truncated: Option<(String, Option<u64>)>,
    /// Time for the `stats` event when no packet was read (the caller's
    /// clock: the analyzer has none).
    pub fallback_time: Option<PacketTime>,
}

fn dir_of(side: Side) -> Direction {
    side.direction()
}

impl<T: DataTap> Driver<'_, T> {
    fn push(&mut self, ev: Event) {
        self.totals.account(&ev);
        if self.limiter.allow(&ev) {
            self.out.push(ev);
        }
    }

    /// Re-counts the dissector memory of `flow`; over the global cap, the
    /// flows holding most give up their partial messages first, until the
    /// total is at most 3/4 of the cap.
    fn account_mem(&mut self, flow: FlowId, pkt: PacketRef) {
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        let now = f.conn.memory();
        self.totals.dissector_mem = self.totals.dissector_mem - f.mem + now;
        f.mem = now;
        self.totals.dissector_mem_peak = self
            .totals
            .dissector_mem_peak
            .max(self.totals.dissector_mem);
        let cap = self.totals.dissector_mem_cap;
        if self.totals.dissector_mem <= cap {
            return;
        }
        let mut by_size: Vec<(usize, FlowId)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.mem > 0)
            .map(|(id, f)| (f.mem, *id))
            .collect();
        by_size.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in by_size {
            if self.totals.dissector_mem <= cap / 4 * 3 {
                break;
            }
            if let Some(f) = self.flows.get_mut(&id) {
                f.conn.give_up_partials(cap, pkt, &mut self.scratch);
                let now = f.conn.memory();
                self.totals.dissector_mem = self.totals.dissector_mem - f.mem + now;
                f.mem = now;
            }
            self.drain(id);
        }
    }

    /// Writes the `anomaly.rate_limited` lines of `flow`.
    fn flush_limited(&mut self, flow: Option<FlowId>, pkt: PacketRef) {
        for a in self.limiter.take(flow) {
            self.push(Event {
                pcap_cnt: pkt.pcap_cnt,
                time: pkt.time,
                flow_id: flow,
                direction: None,
                kind: EventKind::Anomaly(a),
            });
        }
    }

    /// Moves the dissector's events to the output, stamped with the flow.
    fn drain(&mut self, flow: FlowId) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for rev in scratch.drain(..) {
            if let rtmp::RtmpEventKind::Message(_) = rev.kind {
                if let Some(f) = self.flows.get_mut(&flow) {
                    f.messages[rev.direction.index()] += 1;
                }
            }
            self.push(Event::from_rtmp(flow, rev));
        }
        self.scratch = scratch;
    }

    /// Hands the RTMPT layer's delivered tunnel bytes to the tap.
    fn drain_tunnel(&mut self) {
        for t in self.rtmpt.take_tapped() {
            self.tap.data(t.flow, t.dir, t.offset, &t.data);
        }
    }

    /// Appends events the RTMPT layer made (flow ids already set).
    fn push_all(&mut self, evs: Vec<Event>) {
        for ev in evs {
            self.push(ev);
        }
        self.drain_tunnel();
    }

    /// Hands the HTTP bytes the classifier routed to the RTMPT layer (the
    /// flow becomes a carrier on its first bytes).
    fn flush_http(&mut self, flow: FlowId, pkt: PacketRef) {
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        if f.http_pending.is_empty() {
            return;
        }
        if !self.rtmpt.is_carrier(flow) {
            self.rtmpt.add_carrier(f.info.clone());
        }
        let mut out = Vec::new();
        for (dir, off, bytes) in f.http_pending.drain(..) {
            self.rtmpt.data(flow, dir, off, &bytes, pkt, &mut out);
        }
        for ev in out {
            self.push(ev);
        }
        self.drain_tunnel();
    }
}

impl<T: DataTap> Driver<'_, T> {
    /// Hands the bytes the classifier routed to TLS to the flow's TLS layer
    /// (started on the first ones), and its output on.
    fn flush_tls(&mut self, flow: FlowId, pkt: PacketRef) {
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        if f.tls_pending.is_empty() {
            return;
        }
        f.tls.start(self.keylog);
        let mut outs = Vec::new();
        for (dir, off, bytes) in f.tls_pending.drain(..) {
            self.tap.tls_record_bytes(flow, dir, off, &bytes);
            f.tls.data(dir, off, &bytes, &mut outs);
        }
        self.tls_outs(flow, outs, pkt);
    }

    /// Hands the TLS layer's output on: plaintext to the tap and the flow's
    /// RTMP connection (offsets in the plaintext stream), TLS events out.
    fn tls_outs(&mut self, flow: FlowId, outs: Vec<crate::tls::TlsOut>, pkt: PacketRef) {
        use crate::tls::TlsOut;
        for o in outs {
            let (direction, kind) = match o {
                TlsOut::Plain { dir, offset, data } => {
                    self.tap.data(flow, dir, offset, &data);
                    if let Some(f) = self.flows.get_mut(&flow) {
                        f.conn
                            .handle_data(dir, offset, &data, pkt, &mut self.scratch);
                    }
                    self.drain(flow);
                    continue;
                }
                TlsOut::Gap { dir, offset, len } => {
                    if let Some(f) = self.flows.get_mut(&flow) {
                        f.conn.handle_gap(dir, offset, len, pkt, &mut self.scratch);
                    }
                    self.drain(flow);
                    continue;
                }
                TlsOut::Anomaly { dir, anomaly } => (dir, EventKind::Anomaly(anomaly)),
                TlsOut::Hello(info) => (None, EventKind::Tls(info)),
            };
            self.push(Event {
                pcap_cnt: pkt.pcap_cnt,
                time: pkt.time,
                flow_id: Some(flow),
                direction,
                kind,
            });
        }
    }
}

impl<T: DataTap> Sink for Driver<'_, T> {
    fn flow_start(&mut self, flow: &FlowStartInfo, pkt: PacketRef) {
        self.totals.flows += 1;
        self.flows.insert(
            flow.flow_id,
            FlowState {
                sniff: FlowSniffer::new(!flow.midstream),
                conn: rtmp::Connection::new(rtmp::Limits::default(), flow.midstream),
                messages: [0; 2],
                http_pending: Vec::new(),
                info: flow.to_flow_info(),
                mem: 0,
                tls: tls_hook::TlsHook::new(flow.midstream),
                tls_pending: Vec::new(),
            },
        );
        self.push(Event {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
            flow_id: Some(flow.flow_id),
            direction: None,
            kind: EventKind::FlowStart(flow.to_flow_info()),
        });
    }

    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], pkt: PacketRef) {
        let dir = dir_of(side);
        let Some(f) = self.flows.get_mut(&flow) else {
            self.tap.data(flow, dir, offset, data);
            return;
        };
        if f.sniff.route() == Route::Rtmp && f.tls.probe_midstream(data) {
            // TLS found by the mid-stream probe after the dissector saw some
            // runs: what it made of the ciphertext is dropped.
            f.tls.start(self.keylog);
            f.conn = rtmp::Connection::new(rtmp::Limits::default(), true);
        }
        if f.tls.active() && f.sniff.route() != Route::Tls {
            f.tls_pending.push((dir, offset, data.to_vec()));
        } else {
            f.data(dir, offset, data, pkt, &mut self.scratch);
            // The tap sees the TCP bytes as they arrive (held ones too),
            // except a TLS flow's: it gets their plaintext from the TLS layer.
            if f.sniff.route() != Route::Tls {
                self.tap.data(flow, dir, offset, data);
            }
        }
        self.drain(flow);
        self.flush_tls(flow, pkt);
        // HTTP: the tap also gets the tunnel's RTMP bytes, on the virtual flow.
        self.flush_http(flow, pkt);
        self.account_mem(flow, pkt);
    }

    fn gap(&mut self, flow: FlowId, side: Side, offset: u64, len: u64, pkt: PacketRef) {
        let dir = dir_of(side);
        self.push(Event {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
            flow_id: Some(flow),
            direction: Some(dir),
            kind: EventKind::Gap(Gap { offset, len }),
        });
        if let Some(f) = self.flows.get_mut(&flow) {
            f.release(dir, pkt, &mut self.scratch);
            if f.sniff.route() == Route::Tls || f.tls.active() {
                // The records before the gap first, then the gap.
                self.flush_tls(flow, pkt);
                let outs = self
                    .flows
                    .get_mut(&flow)
                    .and_then(|f| f.tls.gap(dir, offset, len));
                if let Some(outs) = outs {
                    self.tls_outs(flow, outs, pkt);
                }
            } else if f.sniff.route() == Route::Rtmp {
                f.conn.handle_gap(dir, offset, len, pkt, &mut self.scratch);
            }
        }
        self.drain(flow);
        self.flush_http(flow, pkt);
        if self.rtmpt.is_carrier(flow) {
            let mut out = Vec::new();
            self.rtmpt.gap(flow, dir, offset, len, pkt, &mut out);
            self.push_all(out);
        }
        self.account_mem(flow, pkt);
    }

    fn anomaly(&mut self, flow: Option<FlowId>, side: Option<Side>, a: Anomaly, pkt: PacketRef) {
        self.push(Event {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
            flow_id: flow,
            direction: side.map(dir_of),
            kind: EventKind::Anomaly(a),
        });
    }

    fn flow_end(&mut self, flow: FlowId, end: &FlowEndInfo, pkt: PacketRef) {
        let mut verdict = classify::Verdict::UNKNOWN;
        let mut messages = [0; 2];
        let cut = self.interrupted && end.reason == EndReason::EndOfInput;
        let mut tls = None;
        if let Some(f) = self.flows.get_mut(&flow) {
            f.release(Direction::ToServer, pkt, &mut self.scratch);
            f.release(Direction::ToClient, pkt, &mut self.scratch);
        }
        self.drain(flow);
        self.flush_tls(flow, pkt);
        self.flush_http(flow, pkt);
        if let Some(mut f) = self.flows.remove(&flow) {
            self.totals.dissector_mem -= f.mem;
            let tls_info = f.tls.finish();
            if f.sniff.route() == Route::Rtmp || tls_info.is_some() {
                f.conn.finish(pkt, &mut self.scratch);
            }
            if cut {
                self.scratch.retain(|ev| {
                    !matches!(&ev.kind, rtmp::RtmpEventKind::Anomaly(a) if END_OF_FLOW_ANOMALIES.contains(&a.name))
                });
            }
            messages = f.messages;
            // Messages completed by finish() belong to the count too.
            for ev in &self.scratch {
                if let rtmp::RtmpEventKind::Message(_) = ev.kind {
                    messages[ev.direction.index()] += 1;
                }
            }
            f.messages = messages;
            verdict = f.verdict();
            if let Some(info) = tls_info {
                // TLS: the classifier's signature (or the mid-stream probe's
                // record chain) is the evidence; what the dissector made of
                // the plaintext says whether it is RTMPS.
                let inner = f.conn.protocol();
                verdict = f.sniff.signatures();
                if verdict.class != classify::Class::Tls {
                    verdict = classify::Verdict {
                        class: classify::Class::Tls,
                        evidence: classify::Evidence::TlsRecord,
                        confidence: classify::Confidence::Medium,
                    };
                }
                tls = Some((tls_hook::flow_protocol(&info, inner), Box::new(info)));
            }
            self.drain(flow);
        }
        let (mut protocol, tls) = match tls {
            Some((p, info)) => (p, Some(info)),
            None => (verdict.class.protocol(), None),
        };
        if self.rtmpt.is_carrier(flow) {
            let mut out = Vec::new();
            if self.rtmpt.carrier_end(flow, pkt, &mut out) == FlowProtocol::Rtmpt {
                protocol = FlowProtocol::Rtmpt;
            }
            self.push_all(out);
        }
        if matches!(
            protocol,
            FlowProtocol::Rtmp
                | FlowProtocol::RtmpMidstream
                | FlowProtocol::RtmpEncrypted
                | FlowProtocol::Rtmps
        ) {
            self.totals.rtmp_flows += 1;
        }
        self.flush_limited(Some(flow), pkt);
        let mut counters = end.counters.clone();
        counters.messages = messages;
        self.push(Event {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
            flow_id: Some(flow),
            direction: None,
            kind: EventKind::FlowEnd(FlowEnd {
                counters,
                reason: if cut {
                    EndReason::Interrupted
                } else {
                    end.reason
                },
                protocol,
                evidence: verdict.evidence,
                confidence: verdict.confidence,
                first_seen: end.first_seen,
                last_seen: end.last_seen,
                tunnel: None,
                tls,
            }),
        });
    }
}

/// A frame the link layer did not hand to reassembly (counted in `stats`).
#[derive(Clone, Copy, Debug)]
enum Uncounted {
    NonTcp,
    UnknownLink,
}

impl Totals {
    fn count(&mut self, u: Option<Uncounted>) {
        match u {
            Some(Uncounted::NonTcp) => self.non_tcp += 1,
            Some(Uncounted::UnknownLink) => self.unknown_link += 1,
            None => {}
        }
    }
}

/// Link decoding of one frame: TCP segments to `reasm` (which calls
/// `sink`), link-level diagnostics to `sink`; what is only counted is
/// returned.
fn decode_into<S: Sink>(
    reasm: &mut Reassembler,
    pkt: &RawPacket<'_>,
    pref: PacketRef,
    sink: &mut S,
) -> Option<Uncounted> {
    match link::decode(pkt.linktype, pkt.data, pkt.origlen) {
        Decoded::Tcp(seg) => reasm.handle_segment(&seg, pref, sink),
        Decoded::NonTcp => return Some(Uncounted::NonTcp),
        Decoded::UnknownLink(_) => return Some(Uncounted::UnknownLink),
        Decoded::Fragment { ip_number, .. } => {
            if ip_number != 6 {
                return Some(Uncounted::NonTcp);
            }
            sink.anomaly(
                None,
                None,
                Anomaly::new(
                    anomalies::IP_FRAGMENT,
                    None,
                    "IP fragment of a TCP datagram (IP reassembly is not done)",
                ),
                pref,
            );
        }
        Decoded::Malformed(name) => sink.anomaly(
            None,
            None,
            Anomaly::new(name, None, "frame could not be decoded"),
            pref,
        ),
    }
    None
}

/// The `capture.truncated` diagnostic of a run that ended in the middle of
/// a record (`pref`: the last packet read).
fn truncation_anomaly(end: &RunEnd, pref: PacketRef) -> Option<Anomaly> {
    let (what, offset) = end.truncated.as_ref()?;
    let detail = match offset {
        Some(o) => format!(
            "{what}: the capture ends in the middle of the record at byte {o} \
             (after packet {}); that packet and anything after it were not read",
            pref.pcap_cnt
        ),
        None => format!(
            "{what}: the capture ends in the middle of a packet (after packet {})",
            pref.pcap_cnt
        ),
    };
    let range = offset.map(|o| ByteRange::new(o, o));
    Some(Anomaly::new(anomalies::CAPTURE_TRUNCATED, range, detail))
}

impl Analyzer {
    pub fn new(config: Config) -> Self {
        let reasm = Reassembler::new(config.reassembly());
        let rtmpt = rtmpt::Layer::new(reasm.flow_ids());
        Analyzer {
            reasm,
            keylog: config.tls_keylog.clone(),
            flows: crate::fasthash::map(),
            rtmpt,
            totals: Totals {
                dissector_mem_cap: config
                    .max_dissector_mem
                    .unwrap_or(rtmp::DEFAULT_MAX_DISSECTOR_MEMORY),
                ..Totals::default()
            },
            limiter: RateLimiter::default(),
        }
    }

    /// Decodes one frame; appends the events it completes to `out`.
    pub fn handle_packet(&mut self, pkt: &RawPacket<'_>, out: &mut Vec<Event>) {
        self.handle_packet_tap(pkt, out, &mut NoTap);
    }

    /// Like [`Analyzer::handle_packet`], also handing every in-order byte run
    /// to `tap`.
    pub fn handle_packet_tap<T: DataTap>(
        &mut self,
        pkt: &RawPacket<'_>,
        out: &mut Vec<Event>,
        tap: &mut T,
    ) {
        let pref = PacketRef {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
        };
        self.totals.packets += 1;
        self.totals.bytes += pkt.data.len() as u64;
        self.totals.last = pref;
        let mut driver = driver!(self, out, tap, false);
        let uncounted = decode_into(&mut self.reasm, pkt, pref, &mut driver);
        self.totals.count(uncounted);
    }

    /// The clock of a live capture without packets: ends flows idle longer
    /// than the flow timeout at `now` (the capture's wall clock, the same
    /// clock as live packet timestamps), so a display does not show a
    /// silent flow as open forever. Never moves time backwards: `now`
    /// earlier than the last packet does nothing.
    pub fn tick(&mut self, now: PacketTime, out: &mut Vec<Event>) {
        if now.nanos_since(self.totals.last.time) <= 0 {
            return;
        }
        let pref = PacketRef {
            pcap_cnt: self.totals.last.pcap_cnt,
            time: now,
        };
        let mut driver = driver!(self, out, &mut NoTap, false);
        self.reasm.expire(pref, &mut driver);
    }

    /// End of input: flushes open flows and appends the `stats` event.
    pub fn finish(&mut self, kernel: Option<KernelStats>, out: &mut Vec<Event>) {
        self.finish_run(kernel, &RunEnd::default(), out);
    }

    /// End of input that says how the input ended: a truncated capture
    /// adds a `capture.truncated` anomaly (with the byte offset of the cut
    /// record) before the flows are flushed; an interrupted run (signal,
    /// autostop) ends open flows as `interrupted` without end-of-flow
    /// diagnostics and is marked in `stats`.
    pub fn finish_run(&mut self, kernel: Option<KernelStats>, end: &RunEnd, out: &mut Vec<Event>) {
        let pref = self.totals.last;
        let mut driver = driver!(
            self,
            out,
            &mut NoTap,
            end.interrupted.is_some() || end.autostop.is_some()
        );
        if let Some(a) = truncation_anomaly(end, pref) {
            driver.anomaly(
                None,
                None,
                a,
                PacketRef {
                    pcap_cnt: 0,
                    time: pref.time,
                },
            );
        }
        self.reasm.finish(pref, &mut driver);
        let mut tunnel_out = Vec::new();
        driver.rtmpt.finish(pref, &mut tunnel_out);
        driver.push_all(tunnel_out);
        // Flow-less events, and any flow the reassembler did not end.
        let mut left: Vec<Option<FlowId>> = driver.limiter.seen.keys().copied().collect();
        left.sort();
        for f in left {
            driver.flush_limited(f, pref);
        }
        out.push(self.stats_event(kernel, end));
    }

    /// The final `stats` event.
    fn stats_event(&self, kernel: Option<KernelStats>, end: &RunEnd) -> Event {
        let mut stats = self.stats(kernel);
        stats.interrupted = end.interrupted.clone();
        stats.autostop = end.autostop.clone();
        let time = if self.totals.packets == 0 {
            end.fallback_time.unwrap_or(self.totals.last.time)
        } else {
            self.totals.last.time
        };
        Event {
            pcap_cnt: 0,
            time,
            flow_id: None,
            direction: None,
            kind: EventKind::Stats(stats),
        }
    }

    /// Totals so far (the final `stats` event, or a live snapshot).
    pub fn stats(&self, kernel: Option<KernelStats>) -> Stats {
        let t = &self.totals;
        Stats {
            packets: t.packets,
            bytes: t.bytes,
            unknown_link: t.unknown_link,
            non_tcp: t.non_tcp,
            kernel_dropped: kernel.map(|k| k.dropped),
            interface_dropped: kernel.map(|k| k.if_dropped),
            flows: t.flows,
            rtmp_flows: t.rtmp_flows + self.rtmpt.rtmp_flows,
            messages: t.messages,
            missed_bytes: t.missed_bytes,
            interrupted: None,
            autostop: None,
            dissector_memory_peak: t.dissector_mem_peak as u64,
            anomalies: t
                .anomalies
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }

    /// Lowest stream offset of `flow`/`dir` a later message event may still
    /// refer to (see [`rtmp::Connection::retain_from`]); `None` once the flow
    /// has ended (no event will refer to its bytes any more).
    pub fn retain_from(&self, flow: FlowId, dir: Direction) -> Option<u64> {
        self.flows.get(&flow).map(|f| f.conn.retain_from(dir))
    }

    /// Bytes held by reassembly right now.
    pub fn memory(&self) -> usize {
        self.reasm.memory()
    }
}

/// One reassembler callback recorded by the reading thread of a sharded
/// run ([`crate::parallel`]) for the worker that owns the flow; the worker
/// replays it on its own [`Analyzer`] ([`Analyzer::run_job`]), so every
/// flow goes through exactly the code of the single-threaded run.
#[derive(Debug)]
pub enum Job {
    FlowStart(FlowStartInfo),
    /// `len` bytes, the next ones of the batch's data buffer.
    Data {
        flow: FlowId,
        side: Side,
        offset: u64,
        len: usize,
    },
    Gap {
        flow: FlowId,
        side: Side,
        offset: u64,
        len: u64,
    },
    Anomaly {
        flow: Option<FlowId>,
        side: Option<Side>,
        anomaly: Anomaly,
    },
    /// `interrupted`: the run's input was interrupted (see [`RunEnd`]).
    FlowEnd {
        flow: FlowId,
        end: FlowEndInfo,
        interrupted: bool,
    },
}

impl Job {
    /// The flow the job belongs to (`None`: link-level diagnostics).
    pub fn flow(&self) -> Option<FlowId> {
        match self {
            Job::FlowStart(f) => Some(f.flow_id),
            Job::Data { flow, .. } | Job::Gap { flow, .. } | Job::FlowEnd { flow, .. } => {
                Some(*flow)
            }
            Job::Anomaly { flow, .. } => *flow,
        }
    }
}

/// The sharded run's pieces. The reading thread's analyzer only decodes
/// and reassembles ([`Analyzer::front_packet`], [`Analyzer::front_finish`]);
/// each worker's analyzer gets the jobs of its flows. What is global in the
/// single-threaded run is made exact by the caller, in job order: the
/// dissector memory total and its peak (from [`Analyzer::job_state`]), the
/// rate-limiter lines left at the end ([`Analyzer::shard_finish`]) and the
/// totals ([`Analyzer::absorb`]). What cannot be split (the dissector memory
/// cap reached, an RTMPT tunnel's virtual flow id) is reported by
/// `job_state`, and the caller falls back to a single-threaded run.
impl Analyzer {
    /// A worker's analyzer: its dissector memory cap is off (the caller
    /// checks the real cap on the total of all workers).
    pub fn shard_worker(config: &Config) -> Analyzer {
        let mut c = config.clone();
        c.max_dissector_mem = Some(usize::MAX);
        Analyzer::new(c)
    }

    /// Front end: decodes one frame and hands what reassembly completes to
    /// `sink` (a recorder of [`Job`]s).
    pub fn front_packet<S: Sink>(&mut self, pkt: &RawPacket<'_>, sink: &mut S) {
        let pref = PacketRef {
            pcap_cnt: pkt.pcap_cnt,
            time: pkt.time,
        };
        self.totals.packets += 1;
        self.totals.bytes += pkt.data.len() as u64;
        self.totals.last = pref;
        let u = decode_into(&mut self.reasm, pkt, pref, sink);
        self.totals.count(u);
    }

    /// Front end, end of input: the truncation diagnostic and every open
    /// flow's end, to `sink`, as [`Analyzer::finish_run`] does.
    pub fn front_finish<S: Sink>(&mut self, end: &RunEnd, sink: &mut S) {
        let pref = self.totals.last;
        if let Some(a) = truncation_anomaly(end, pref) {
            sink.anomaly(
                None,
                None,
                a,
                PacketRef {
                    pcap_cnt: 0,
                    time: pref.time,
                },
            );
        }
        self.reasm.finish(pref, sink);
    }

    /// The last packet the front end read.
    pub fn last_packet(&self) -> PacketRef {
        self.totals.last
    }

    /// Worker: replays one job (`data`: a `Data` job's bytes).
    pub fn run_job(&mut self, job: Job, pkt: PacketRef, data: &[u8], out: &mut Vec<Event>) {
        let interrupted = matches!(
            job,
            Job::FlowEnd {
                interrupted: true,
                ..
            }
        );
        let mut driver = driver!(self, out, &mut NoTap, interrupted);
        match job {
            Job::FlowStart(info) => driver.flow_start(&info, pkt),
            Job::Data {
                flow, side, offset, ..
            } => driver.data(flow, side, offset, data, pkt),
            Job::Gap {
                flow,
                side,
                offset,
                len,
            } => driver.gap(flow, side, offset, len, pkt),
            Job::Anomaly {
                flow,
                side,
                anomaly,
            } => driver.anomaly(flow, side, anomaly, pkt),
            Job::FlowEnd { flow, end, .. } => driver.flow_end(flow, &end, pkt),
        }
    }

    /// Worker: bytes its dissectors hold now, and whether its RTMPT layer
    /// ever opened a tunnel (a virtual flow id, which only the
    /// single-threaded run numbers right).
    pub fn job_state(&self) -> (usize, bool) {
        (self.totals.dissector_mem, self.rtmpt.tunnels_created() > 0)
    }

    /// Worker, end of input (after the jobs of the front end's finish):
    /// open tunnels end, then the `anomaly.rate_limited` lines still
    /// pending, each with its limiter key (the caller sorts all workers'
    /// by key, as [`Analyzer::finish_run`] does).
    pub fn shard_finish(&mut self, pref: PacketRef) -> Vec<(Option<FlowId>, Event)> {
        let mut out = Vec::new();
        let mut driver = driver!(self, &mut out, &mut NoTap, false);
        let mut tunnel_out = Vec::new();
        driver.rtmpt.finish(pref, &mut tunnel_out);
        driver.push_all(tunnel_out);
        let mut keyed: Vec<(Option<FlowId>, Event)> = out.drain(..).map(|e| (None, e)).collect();
        let mut left: Vec<Option<FlowId>> = self.limiter.seen.keys().copied().collect();
        left.sort();
        for f in left {
            let mut driver = driver!(self, &mut out, &mut NoTap, false);
            driver.flush_limited(f, pref);
            keyed.extend(out.drain(..).map(|e| (f, e)));
        }
        keyed
    }

    /// Front end: adds a worker's totals (at the end of input), and the
    /// exact peak of the dissector memory total the caller tracked.
    pub fn absorb(&mut self, worker: &Analyzer, dissector_mem_peak: usize) {
        let (t, w) = (&mut self.totals, &worker.totals);
        t.flows += w.flows;
        t.rtmp_flows += w.rtmp_flows;
        t.messages += w.messages;
        t.missed_bytes += w.missed_bytes;
        for (k, v) in &w.anomalies {
            *t.anomalies.entry(k).or_default() += v;
        }
        t.dissector_mem_peak = dissector_mem_peak;
        self.rtmpt.rtmp_flows += worker.rtmpt.rtmp_flows;
    }

    /// Front end: the final `stats` event of a sharded run (after every
    /// worker was absorbed).
    pub fn shard_stats(&self, kernel: Option<KernelStats>, end: &RunEnd) -> Event {
        self.stats_event(kernel, end)
    }

    /// The dissector memory cap of the run.
    pub fn dissector_mem_cap(&self) -> usize {
        self.totals.dissector_mem_cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Confidence, Evidence};
    use crate::time::PacketTime;

    const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 50000);

    /// Ethernet/IPv4/TCP frame.
    fn frame(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, flags: u8, p: &[u8]) -> Vec<u8> {
        let mut tcp = src.1.to_be_bytes().to_vec();
        tcp.extend_from_slice(&dst.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(p);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src.0);
        ip.extend_from_slice(&dst.0);
        ip.extend_from_slice(&tcp);
        let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
        f.extend_from_slice(&ip);
        f
    }

    /// Runs a conversation: (from client?, payload) segments after a
    /// handshake (`syn`) or picked up mid-stream; returns every event.
    fn run(server_port: u16, syn: bool, segs: &[(bool, &[u8])]) -> Vec<Event> {
        let server = ([10, 0, 0, 2], server_port);
        let mut frames = Vec::new();
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        if syn {
            frames.push(frame(CLIENT, server, cseq - 1, 0x02, b""));
            frames.push(frame(server, CLIENT, sseq - 1, 0x12, b""));
        }
        for (to_server, p) in segs {
            if *to_server {
                frames.push(frame(CLIENT, server, cseq, 0x18, p));
                cseq += p.len() as u32;
            } else {
                frames.push(frame(server, CLIENT, sseq, 0x18, p));
                sseq += p.len() as u32;
            }
        }
        let mut an = Analyzer::default();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let pkt = RawPacket {
                pcap_cnt: i as u64 + 1,
                time: PacketTime::new(1_700_000_000 + i as i64, 0),
                linktype: 1,
                origlen: f.len() as u32,
                data: f,
            };
            an.handle_packet(&pkt, &mut out);
        }
        an.finish(None, &mut out);
        out
    }

    fn flow_end(ev: &[Event]) -> &FlowEnd {
        ev.iter()
            .find_map(|e| match &e.kind {
                EventKind::FlowEnd(f) => Some(f),
                _ => None,
            })
            .expect("a flow line")
    }

    fn messages(ev: &[Event]) -> usize {
        ev.iter()
            .filter(|e| matches!(e.kind, EventKind::Message(_)))
            .count()
    }

    fn rtmp_anomalies(ev: &[Event]) -> usize {
        ev.iter()
            .filter(|e| matches!(&e.kind, EventKind::Anomaly(a) if a.name.starts_with("rtmp.")))
            .count()
    }

    /// fmt 0 chunk on csid 3 (chunk size 128) of an AMF0 command.
    fn command(name: &str, tid: f64) -> Vec<u8> {
        let mut body = vec![0x02];
        body.extend_from_slice(&(name.len() as u16).to_be_bytes());
        body.extend_from_slice(name.as_bytes());
        body.push(0x00);
        body.extend_from_slice(&tid.to_be_bytes());
        body.push(0x05);
        let mut v = vec![0x03, 0, 0, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&[20, 0, 0, 0, 0]);
        v.extend_from_slice(&body);
        v
    }

    #[test]
    fn http_on_the_rtmp_port_is_not_dissected() {
        // The body holds a perfectly good RTMP chunk: still HTTP.
        // (Not an RTMPT path: RTMPT requests make the flow `rtmpt`.)
        let mut req = b"POST /upload HTTP/1.1\r\nContent-Length: 40\r\n\r\n".to_vec();
        req.extend(command("connect", 1.0));
        let ev = run(
            1935,
            true,
            &[
                (true, &req),
                (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ],
        );
        let f = flow_end(&ev);
        assert_eq!(f.protocol, FlowProtocol::Http);
        assert_eq!(f.evidence, Evidence::HttpRequest);
        assert_eq!(f.confidence, Confidence::High);
        assert_eq!(messages(&ev), 0);
        assert_eq!(rtmp_anomalies(&ev), 0);
    }

    #[test]
    fn rtmp_on_port_443_is_found_by_its_handshake() {
        let mut c = vec![3u8];
        c.extend([0u8; 1536]);
        let mut s = vec![3u8];
        s.extend([0u8; 3072]);
        let ev = run(
            443,
            true,
            &[
                (true, &c),
                (false, &s),
                (true, &[0u8; 1536]),
                (true, &command("connect", 1.0)),
            ],
        );
        let f = flow_end(&ev);
        assert_eq!(f.protocol, FlowProtocol::Rtmp);
        assert_eq!(f.evidence, Evidence::RtmpHandshake);
        assert_eq!(f.confidence, Confidence::High);
        assert_eq!(messages(&ev), 1);
    }

    #[test]
    fn tls_and_ssh_are_classified_and_left_alone() {
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03,
        ];
        hello.extend([0x42u8; 60]);
        let ev = run(1935, true, &[(true, &hello)]);
        let f = flow_end(&ev);
        assert_eq!(
            (f.protocol, f.confidence),
            (FlowProtocol::Tls, Confidence::Medium)
        );
        assert_eq!(rtmp_anomalies(&ev), 0);
        // The server speaks first; the client's bytes would be chunks.
        let ev = run(
            1935,
            true,
            &[
                (false, b"SSH-2.0-OpenSSH_9.2\r\n"),
                (true, &command("connect", 1.0)),
            ],
        );
        assert_eq!(flow_end(&ev).protocol, FlowProtocol::Ssh);
        assert_eq!(messages(&ev), 0);
    }

    #[test]
    fn held_first_bytes_reach_the_dissector() {
        // Picked up mid-stream; the first segment (3 bytes) is too short to
        // rule out a TPKT header, so it is held, then delivered in front.
        let mut s = command("createStream", 2.0);
        s.extend(command("deleteStream", 3.0));
        s.extend(command("closeStream", 4.0));
        let ev = run(1935, false, &[(true, &s[..3]), (true, &s[3..])]);
        assert_eq!(messages(&ev), 3);
        let first = ev.iter().find_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m.first_byte),
            _ => None,
        });
        assert_eq!(first, Some(0));
        let f = flow_end(&ev);
        assert_eq!(f.protocol, FlowProtocol::RtmpMidstream);
        assert_eq!(f.evidence, Evidence::RtmpChunks);
    }
}
