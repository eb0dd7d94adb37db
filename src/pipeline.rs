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
    Stats,
};
use crate::link::{self, Decoded};
use crate::reassembly::{self, FlowEndInfo, FlowStartInfo, Reassembler, Side, Sink};
use crate::rtmp;

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
    /// TLS secrets (`--tls-keylog`, pcapng Decryption Secrets Blocks).
    pub tls_keylog: Option<std::sync::Arc<crate::tls::KeyLog>>,
}

impl Config {
    fn reassembly(&self) -> reassembly::Config {
        let mut c = reassembly::Config::default();
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
    conn: rtmp::Connection,
    messages: [u64; 2],
    /// TLS layer (RTMPS), decided on the flow's first bytes.
    tls: tls_hook::TlsHook,
}

/// The whole sans-IO pipeline for one input.
#[derive(Debug)]
pub struct Analyzer {
    keylog: Option<std::sync::Arc<crate::tls::KeyLog>>,
    reasm: Reassembler,
    flows: HashMap<FlowId, FlowState>,
    totals: Totals,
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
    keylog: &'a Option<std::sync::Arc<crate::tls::KeyLog>>,
    flows: &'a mut HashMap<FlowId, FlowState>,
    totals: &'a mut Totals,
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
        self.out.push(ev);
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

impl<T: DataTap> Driver<'_, T> {
    /// Hands the TLS layer's output on: plaintext to the tap and the flow's
    /// RTMP connection (offsets in the plaintext stream), TLS events out.
    fn tls_outs(&mut self, flow: FlowId, outs: Vec<crate::tls::TlsOut>, pkt: PacketRef) {
        use crate::tls::TlsOut;
        for o in outs {
            match o {
                TlsOut::Plain { dir, offset, data } => {
                    self.tap.data(flow, dir, offset, &data);
                    if let Some(f) = self.flows.get_mut(&flow) {
                        f.conn
                            .handle_data(dir, offset, &data, pkt, &mut self.scratch);
                    }
                }
                TlsOut::Gap { dir, offset, len } => {
                    if let Some(f) = self.flows.get_mut(&flow) {
                        f.conn.handle_gap(dir, offset, len, pkt, &mut self.scratch);
                    }
                }
                TlsOut::Anomaly { dir, anomaly } => self.scratch.push(Event {
                    pcap_cnt: pkt.pcap_cnt,
                    time: pkt.time,
                    flow_id: None,
                    direction: dir,
                    kind: EventKind::Anomaly(anomaly),
                }),
                TlsOut::Hello(info) => self.scratch.push(Event {
                    pcap_cnt: pkt.pcap_cnt,
                    time: pkt.time,
                    flow_id: None,
                    direction: None,
                    kind: EventKind::Tls(info),
                }),
            }
            self.drain(flow);
        }
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
                tls: tls_hook::TlsHook::new(flow.midstream),
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
        if let Some(f) = self.flows.get_mut(&flow) {
            let tls = f.tls.data(self.keylog, dir, offset, data);
            if tls.is_some() {
                self.tap.tls_record_bytes(flow, dir, offset, data);
            }
            if f.tls.reset_rtmp {
                // Recognised as TLS after a few mid-stream runs: what the RTMP
                // dissector made of the ciphertext is dropped.
                f.tls.reset_rtmp = false;
                f.conn = rtmp::Connection::new(rtmp::Limits::default(), true);
            }
            if let Some(outs) = tls {
                self.tls_outs(flow, outs, pkt);
                return;
            }
        }
        self.tap.data(flow, dir, offset, data);
        if let Some(f) = self.flows.get_mut(&flow) {
            f.conn
                .handle_data(dir, offset, data, pkt, &mut self.scratch);
        }
        self.drain(flow);
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
            if let Some(outs) = f.tls.gap(dir, offset, len) {
                self.tls_outs(flow, outs, pkt);
                return;
            }
            f.conn.handle_gap(dir, offset, len, pkt, &mut self.scratch);
        }
        self.drain(flow);
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
        let mut tls = None;
        if let Some(mut f) = self.flows.remove(&flow) {
            f.conn.finish(pkt, &mut self.scratch);
            protocol = f.conn.protocol();
            if let Some(info) = f.tls.finish() {
                protocol = tls_hook::flow_protocol(&info, protocol);
                tls = Some(Box::new(info));
            }
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
            FlowProtocol::Rtmp
                | FlowProtocol::RtmpMidstream
                | FlowProtocol::RtmpEncrypted
                | FlowProtocol::Rtmps
        ) {
            self.totals.rtmp_flows += 1;
        }
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
                tls,
            }),
        });
    }
}

impl Analyzer {
    pub fn new(config: Config) -> Self {
        Analyzer {
            keylog: config.tls_keylog.clone(),
            reasm: Reassembler::new(config.reassembly()),
            flows: HashMap::new(),
            totals: Totals::default(),
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
            keylog: &self.keylog,
            flows: &mut self.flows,
            totals: &mut self.totals,
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
            keylog: &self.keylog,
            flows: &mut self.flows,
            totals: &mut self.totals,
            out,
            tap: &mut NoTap,
            scratch: Vec::new(),
        };
        self.reasm.finish(pref, &mut driver);
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
