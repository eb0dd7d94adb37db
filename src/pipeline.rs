//! Glue: link -> reassembly -> RTMP dissector, producing the event stream.
//!
//! Contract: sans-IO. [`Analyzer::handle_packet`] takes one captured frame and
//! appends the events it completes; [`Analyzer::finish`] flushes every open
//! flow and appends the final `stats` event. Same input, same events: the
//! only clock is the packet time.
//!
//! Per flow the analyzer keeps one [`rtmp::Connection`]; reassembly's `Orig`
//! side is the client (SYN sender, else the non-1935 end, else the first
//! sender), so `Orig` bytes go `to_server`.

use std::collections::{BTreeMap, HashMap};

use crate::capture::{KernelStats, RawPacket};
use crate::event::{
    Anomaly, Direction, Event, EventKind, FlowEnd, FlowId, FlowProtocol, Gap, PacketRef, Severity,
    Stats, Suppressed,
};
use crate::link::{self, Decoded};
use crate::reassembly::{self, FlowEndInfo, FlowStartInfo, Reassembler, Side, Sink};
use crate::rtmp;

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
    seen: HashMap<Option<FlowId>, NameCounts>,
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
                    "anomaly.rate_limited",
                    Severity::Info,
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

/// Receives every in-order byte run delivered to the dissector (for a hex
/// view or an export). Optional: JSON output does not need it.
pub trait DataTap {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]);
}

struct NoTap;
impl DataTap for NoTap {
    fn data(&mut self, _: FlowId, _: Direction, _: u64, _: &[u8]) {}
}

#[derive(Debug)]
struct FlowState {
    conn: rtmp::Connection,
    messages: [u64; 2],
    /// `conn.memory()` when last looked at (its share of the dissector total).
    mem: usize,
}

/// The whole sans-IO pipeline for one input.
#[derive(Debug)]
pub struct Analyzer {
    reasm: Reassembler,
    flows: HashMap<FlowId, FlowState>,
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

/// Reassembly sink that drives the per-flow dissectors.
struct Driver<'a, T: DataTap> {
    flows: &'a mut HashMap<FlowId, FlowState>,
    totals: &'a mut Totals,
    limiter: &'a mut RateLimiter,
    out: &'a mut Vec<Event>,
    tap: &'a mut T,
    scratch: Vec<Event>,
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
        for mut ev in scratch.drain(..) {
            ev.flow_id = Some(flow);
            if let (EventKind::Message(_), Some(d)) = (&ev.kind, ev.direction) {
                if let Some(f) = self.flows.get_mut(&flow) {
                    f.messages[d.index()] += 1;
                }
            }
            self.push(ev);
        }
        self.scratch = scratch;
    }
}

impl<T: DataTap> Sink for Driver<'_, T> {
    fn flow_start(&mut self, flow: &FlowStartInfo, pkt: PacketRef) {
        self.totals.flows += 1;
        self.flows.insert(
            flow.flow_id,
            FlowState {
                conn: rtmp::Connection::new(rtmp::Limits::default(), flow.midstream),
                messages: [0; 2],
                mem: 0,
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
        self.tap.data(flow, dir, offset, data);
        if let Some(f) = self.flows.get_mut(&flow) {
            f.conn
                .handle_data(dir, offset, data, pkt, &mut self.scratch);
        }
        self.drain(flow);
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
            f.conn.handle_gap(dir, offset, len, pkt, &mut self.scratch);
        }
        self.drain(flow);
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
        let mut protocol = FlowProtocol::Unknown;
        let mut messages = [0; 2];
        if let Some(mut f) = self.flows.remove(&flow) {
            self.totals.dissector_mem -= f.mem;
            f.conn.finish(pkt, &mut self.scratch);
            protocol = f.conn.protocol();
            messages = f.messages;
            // Messages completed by finish() belong to the count too.
            for ev in &self.scratch {
                if let (EventKind::Message(_), Some(d)) = (&ev.kind, ev.direction) {
                    messages[d.index()] += 1;
                }
            }
            self.drain(flow);
        }
        if matches!(
            protocol,
            FlowProtocol::Rtmp | FlowProtocol::RtmpMidstream | FlowProtocol::RtmpEncrypted
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
                reason: end.reason,
                protocol,
                first_seen: end.first_seen,
                last_seen: end.last_seen,
            }),
        });
    }
}

impl Analyzer {
    pub fn new(config: Config) -> Self {
        Analyzer {
            reasm: Reassembler::new(config.reassembly()),
            flows: HashMap::new(),
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
        let mut driver = Driver {
            flows: &mut self.flows,
            totals: &mut self.totals,
            limiter: &mut self.limiter,
            out,
            tap,
            scratch: Vec::new(),
        };
        match link::decode(pkt.linktype, pkt.data, pkt.origlen) {
            Decoded::Tcp(seg) => self.reasm.handle_segment(&seg, pref, &mut driver),
            Decoded::NonTcp => driver.totals.non_tcp += 1,
            Decoded::UnknownLink(_) => driver.totals.unknown_link += 1,
            Decoded::Fragment { ip_number, .. } => {
                if ip_number != 6 {
                    driver.totals.non_tcp += 1;
                } else {
                    driver.anomaly(
                        None,
                        None,
                        Anomaly::new(
                            "ip.fragment",
                            Severity::Warning,
                            None,
                            "IP fragment of a TCP datagram (IP reassembly is not done)",
                        ),
                        pref,
                    );
                }
            }
            Decoded::Malformed(name) => driver.anomaly(
                None,
                None,
                Anomaly::new(name, Severity::Warning, None, "frame could not be decoded"),
                pref,
            ),
        }
    }

    /// End of input: flushes open flows and appends the `stats` event.
    pub fn finish(&mut self, kernel: Option<KernelStats>, out: &mut Vec<Event>) {
        let pref = self.totals.last;
        let mut driver = Driver {
            flows: &mut self.flows,
            totals: &mut self.totals,
            limiter: &mut self.limiter,
            out,
            tap: &mut NoTap,
            scratch: Vec::new(),
        };
        self.reasm.finish(pref, &mut driver);
        // Flow-less events, and any flow the reassembler did not end.
        let mut left: Vec<Option<FlowId>> = driver.limiter.seen.keys().copied().collect();
        left.sort();
        for f in left {
            driver.flush_limited(f, pref);
        }
        out.push(Event {
            pcap_cnt: 0,
            time: pref.time,
            flow_id: None,
            direction: None,
            kind: EventKind::Stats(self.stats(kernel)),
        });
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
            rtmp_flows: t.rtmp_flows,
            messages: t.messages,
            missed_bytes: t.missed_bytes,
            dissector_memory_peak: t.dissector_mem_peak as u64,
            anomalies: t
                .anomalies
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }

    /// Bytes held by reassembly right now.
    pub fn memory(&self) -> usize {
        self.reasm.memory()
    }
}
