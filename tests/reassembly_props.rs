//! Property tests of the TCP reassembler through its public API: whatever the
//! segmentation, order and duplication, a direction is reported exactly once
//! per offset, data bytes equal the original at their offsets, and with no
//! loss there are no gaps.

use proptest::prelude::*;
use rtmpscope::event::{Anomaly, FlowId, PacketRef};
use rtmpscope::link::{TcpFlags, TcpSegment};
use rtmpscope::reassembly::{
    Config, FlowEndInfo, FlowStartInfo, Reassembler, Side, Sink, ENTRY_OVERHEAD,
};
use rtmpscope::time::PacketTime;

#[derive(Default)]
struct Stream {
    /// Per offset: Some(byte) delivered, None lost in a gap.
    orig: Vec<Option<u8>>,
    resp_events: usize,
    anomalies: Vec<&'static str>,
    flows: usize,
}

impl Sink for Stream {
    fn flow_start(&mut self, _: &FlowStartInfo, _: PacketRef) {
        self.flows += 1;
    }
    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], _: PacketRef) {
        assert_eq!(flow, 1);
        if side == Side::Resp {
            self.resp_events += 1;
            return;
        }
        assert_eq!(offset, self.orig.len() as u64, "data not contiguous");
        assert!(!data.is_empty());
        self.orig.extend(data.iter().map(|b| Some(*b)));
    }
    fn gap(&mut self, _: FlowId, side: Side, offset: u64, len: u64, _: PacketRef) {
        if side == Side::Resp {
            self.resp_events += 1;
            return;
        }
        assert_eq!(offset, self.orig.len() as u64, "gap not contiguous");
        assert!(len > 0);
        assert!(len < 1 << 20, "absurd gap {len}");
        self.orig.extend(std::iter::repeat_n(None, len as usize));
    }
    fn anomaly(&mut self, _: Option<FlowId>, _: Option<Side>, a: Anomaly, _: PacketRef) {
        self.anomalies.push(a.name);
    }
    fn flow_end(&mut self, _: FlowId, _: &FlowEndInfo, _: PacketRef) {}
}

/// Small deterministic generator for permutations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A piece of the stream: offsets `start..end` (optionally with a FIN after).
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: usize,
    end: usize,
}

fn cut(len: usize, sizes: &[usize]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < len {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (at + n).min(len);
        out.push(Piece { start: at, end });
        at = end;
        i += 1;
    }
    out
}

struct Feeder {
    r: Reassembler,
    sink: Stream,
    isn: u32,
    cnt: u64,
}

impl Feeder {
    fn new(cfg: Config, isn: u32) -> Self {
        Feeder {
            r: Reassembler::new(cfg),
            sink: Stream::default(),
            isn,
            cnt: 0,
        }
    }
    fn seg(
        &mut self,
        from_client: bool,
        seq: u32,
        ack: Option<u32>,
        flags: TcpFlags,
        payload: &[u8],
    ) {
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let (src, dst, sp, dp) = if from_client {
            (a, b, 50000, 1935)
        } else {
            (b, a, 1935, 50000)
        };
        self.cnt += 1;
        let seg = TcpSegment {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            vlan: vec![],
            seq,
            ack: ack.unwrap_or(0),
            flags: TcpFlags {
                ack: ack.is_some(),
                ..flags
            },
            window: 1000,
            payload,
            missing: 0,
        };
        let pkt = PacketRef {
            pcap_cnt: self.cnt,
            time: PacketTime::new(1_700_000_000, self.cnt as u32),
        };
        self.r.handle_segment(&seg, pkt, &mut self.sink);
    }
    /// Client data at stream offset `start` (offset 0 = `isn`).
    fn data(&mut self, data: &[u8], p: Piece) {
        let seq = self.isn.wrapping_add(p.start as u32);
        self.seg(true, seq, None, TcpFlags::default(), &data[p.start..p.end]);
    }
    fn finish(&mut self) {
        let pkt = PacketRef {
            pcap_cnt: self.cnt,
            time: PacketTime::new(1_700_000_000, 0),
        };
        self.r.finish(pkt, &mut self.sink);
    }
}

fn isn_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0u32..5000).prop_map(|d| u32::MAX - d),
        (0u32..5000).prop_map(|d| (1u32 << 31).wrapping_sub(d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random segmentation, permutation, duplication and overlapping re-cuts
    /// of the same bytes: the stream comes out exactly, with no gap.
    #[test]
    fn permuted_duplicated_segments_reassemble_exactly(
        data in prop::collection::vec(any::<u8>(), 1..3000),
        sizes in prop::collection::vec(1usize..400, 1..20),
        recut in prop::collection::vec(1usize..600, 1..10),
        seed in any::<u64>(),
        isn in isn_strategy(),
        with_syn in any::<bool>(),
        ring in prop_oneof![Just(0usize), Just(64usize), Just(4096usize)],
    ) {
        let mut rng = Rng(seed | 1);
        let mut pieces = cut(data.len(), &sizes);
        // Overlapping re-cuts of the same bytes, from a shifted start.
        let shift = rng.below(data.len());
        pieces.extend(cut(data.len() - shift, &recut).into_iter().map(|p| Piece {
            start: p.start + shift,
            end: p.end + shift,
        }));
        // Duplicates.
        let dups: Vec<Piece> = (0..pieces.len() / 3).map(|_| pieces[rng.below(pieces.len())]).collect();
        pieces.extend(dups);
        rng.shuffle(&mut pieces);
        if !with_syn {
            // Mid-stream pickup: the first segment seen defines offset 0.
            let first = pieces.iter().position(|p| p.start == 0).unwrap();
            pieces.swap(0, first);
        }
        let cfg = Config { overlap_check_bytes: ring, ..Config::default() };
        let mut f = Feeder::new(cfg, isn);
        if with_syn {
            f.seg(true, isn.wrapping_sub(1), None, TcpFlags { syn: true, ..TcpFlags::default() }, &[]);
        }
        for p in &pieces {
            f.data(&data, *p);
        }
        // Everything arrived: nothing may wait in a buffer.
        prop_assert_eq!(f.sink.orig.len(), data.len());
        f.finish();
        let got: Vec<u8> = f.sink.orig.iter().map(|b| b.unwrap_or(0)).collect();
        prop_assert!(f.sink.orig.iter().all(|b| b.is_some()), "gap reported");
        prop_assert_eq!(got, data);
        prop_assert_eq!(f.sink.flows, 1);
        prop_assert_eq!(f.sink.resp_events, 0);
        prop_assert!(f.sink.anomalies.iter().all(|a| *a == "tcp.midstream"), "{:?}", f.sink.anomalies);
        prop_assert_eq!(f.r.memory(), 0);
    }

    /// Dropped segments (optionally with peer ACKs and a small out-of-order
    /// limit): data plus gaps cover exactly the original length and every
    /// delivered byte equals the original at its offset.
    #[test]
    fn dropped_segments_become_exact_gaps(
        data in prop::collection::vec(any::<u8>(), 1..3000),
        sizes in prop::collection::vec(1usize..400, 1..20),
        seed in any::<u64>(),
        isn in isn_strategy(),
        with_syn in any::<bool>(),
        drop_pct in 0usize..60,
        with_acks in any::<bool>(),
        with_fin in any::<bool>(),
        small_ooo in any::<bool>(),
    ) {
        let mut rng = Rng(seed | 1);
        let all = cut(data.len(), &sizes);
        let mut pieces: Vec<Piece> = Vec::new();
        for (i, p) in all.iter().enumerate() {
            let keep_first = !with_syn && i == 0;
            if keep_first || rng.below(100) >= drop_pct {
                pieces.push(*p);
            }
        }
        // Mild reordering: swap some neighbours.
        for i in 1..pieces.len() {
            if rng.below(4) == 0 && (with_syn || i > 1) {
                pieces.swap(i - 1, i);
            }
        }
        let max_ooo = if small_ooo { 2 * (400 + ENTRY_OVERHEAD) } else { 1 << 20 };
        let cfg = Config { max_ooo_bytes: max_ooo, ..Config::default() };
        let mut f = Feeder::new(cfg, isn);
        if with_syn {
            f.seg(true, isn.wrapping_sub(1), None, TcpFlags { syn: true, ..TcpFlags::default() }, &[]);
        }
        let mut sent_end = 0usize; // end of the highest piece "sent" so far
        for p in &pieces {
            f.data(&data, *p);
            sent_end = sent_end.max(p.end);
            if with_acks && rng.below(3) == 0 {
                let a = rng.below(sent_end + 1);
                f.seg(false, 777, Some(isn.wrapping_add(a as u32)), TcpFlags::default(), &[]);
            }
        }
        let expect_len = if with_fin {
            f.seg(true, isn.wrapping_add(data.len() as u32), None, TcpFlags { fin: true, ..TcpFlags::default() }, &[]);
            data.len()
        } else {
            pieces.iter().map(|p| p.end).max().unwrap_or(0)
        };
        f.finish();
        prop_assert_eq!(f.sink.orig.len(), expect_len);
        for (i, b) in f.sink.orig.iter().enumerate() {
            if let Some(b) = b {
                prop_assert_eq!(*b, data[i], "byte {} differs", i);
            }
        }
        // No byte of a kept piece may be reported as lost unless a limit
        // closed a hole early.
        if !small_ooo && !with_acks {
            for p in &pieces {
                for i in p.start..p.end {
                    prop_assert!(f.sink.orig[i].is_some(), "kept byte {} lost", i);
                }
            }
        }
        prop_assert!(!f.sink.anomalies.contains(&"tcp.overlap_different_data"));
        prop_assert_eq!(f.r.memory(), 0);
    }
}

/// Checks the per-direction contract for any input: offsets contiguous
/// from 0, each flow started once before its events and ended at most once.
#[derive(Default)]
struct Contract {
    next: std::collections::HashMap<(FlowId, Side), u64>,
    started: std::collections::HashSet<FlowId>,
    ended: std::collections::HashSet<FlowId>,
}

impl Contract {
    fn advance(&mut self, flow: FlowId, side: Side, offset: u64, len: u64) {
        assert!(self.started.contains(&flow) && !self.ended.contains(&flow));
        let n = self.next.entry((flow, side)).or_insert(0);
        assert_eq!(*n, offset, "flow {flow} {side:?} not contiguous");
        assert!(len > 0);
        *n += len;
    }
}

impl Sink for Contract {
    fn flow_start(&mut self, f: &FlowStartInfo, _: PacketRef) {
        assert!(self.started.insert(f.flow_id));
        assert_eq!(
            f.flow_id as usize,
            self.started.len(),
            "ids in first-seen order"
        );
    }
    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], _: PacketRef) {
        self.advance(flow, side, offset, data.len() as u64);
    }
    fn gap(&mut self, flow: FlowId, side: Side, offset: u64, len: u64, _: PacketRef) {
        self.advance(flow, side, offset, len);
    }
    fn anomaly(&mut self, flow: Option<FlowId>, _: Option<Side>, a: Anomaly, _: PacketRef) {
        assert!(a.name.contains('.'));
        if let Some(f) = flow {
            assert!(self.started.contains(&f));
        }
    }
    fn flow_end(&mut self, flow: FlowId, e: &FlowEndInfo, _: PacketRef) {
        assert!(self.started.contains(&flow));
        assert!(self.ended.insert(flow), "flow {flow} ended twice");
        for s in [Side::Orig, Side::Resp] {
            let n = self.next.get(&(flow, s)).copied().unwrap_or(0);
            assert_eq!(
                e.counters.bytes[s.index()] + e.counters.missed_bytes[s.index()],
                n
            );
        }
    }
}

#[derive(Clone, Debug)]
struct Wild {
    tuple: u8,
    from_a: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    len: usize,
    missing: u32,
    dt_ms: i64,
}

fn wild() -> impl Strategy<Value = Wild> {
    (
        0u8..4,
        any::<bool>(),
        prop_oneof![
            any::<u32>(),
            0u32..3000,
            (0u32..3000).prop_map(|d| u32::MAX - d)
        ],
        prop_oneof![any::<u32>(), 0u32..3000],
        any::<u8>(),
        0usize..600,
        prop_oneof![Just(0u32), 0u32..2000, Just(u32::MAX)],
        -2000i64..40_000,
    )
        .prop_map(
            |(tuple, from_a, seq, ack, flags, len, missing, dt_ms)| Wild {
                tuple,
                from_a,
                seq,
                ack,
                flags,
                len,
                missing,
                dt_ms,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary segments (any flags, sequence numbers, snaplen losses, time
    /// going backwards) never panic and keep the output contract and limits.
    #[test]
    fn arbitrary_segments_keep_the_contract(
        segs in prop::collection::vec(wild(), 1..120),
        max_flows in 1usize..4,
        max_ooo in 0usize..3000,
        max_memory in 0usize..20_000,
    ) {
        let cfg = Config {
            max_flows,
            max_ooo_bytes: max_ooo,
            max_memory,
            idle_timeout_secs: 30,
            closed_linger_secs: 5,
            hole_timeout_secs: 3,
            overlap_check_bytes: 128,
        };
        let mut r = Reassembler::new(cfg);
        let mut sink = Contract::default();
        let payload: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        let mut ms: i64 = 1_000_000;
        for (i, w) in segs.iter().enumerate() {
            ms += w.dt_ms;
            let a: std::net::IpAddr = "198.51.100.1".parse().unwrap();
            let b: std::net::IpAddr = "198.51.100.2".parse().unwrap();
            let (pa, pb) = (1000 + u16::from(w.tuple), if w.tuple % 2 == 0 { 1935 } else { 80 });
            let (src, dst, sp, dp) = if w.from_a { (a, b, pa, pb) } else { (b, a, pb, pa) };
            let seg = TcpSegment {
                src, dst, src_port: sp, dst_port: dp,
                vlan: if w.tuple == 3 { vec![7, 8] } else { vec![] },
                seq: w.seq,
                ack: w.ack,
                flags: TcpFlags {
                    syn: w.flags & 1 != 0 && w.flags & 0x60 == 0,
                    ack: w.flags & 2 != 0,
                    fin: w.flags & 4 != 0 && w.flags & 0x80 == 0,
                    rst: w.flags & 8 != 0 && w.flags & 0x70 == 0,
                    psh: w.flags & 16 != 0,
                },
                window: 0,
                payload: &payload[..w.len],
                missing: w.missing,
            };
            let pkt = PacketRef {
                pcap_cnt: i as u64 + 1,
                time: PacketTime::new(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1_000_000) as u32),
            };
            r.handle_segment(&seg, pkt, &mut sink);
            prop_assert!(r.tracked_flows() <= max_flows);
            prop_assert!(r.memory() <= max_memory,
                "memory {} over limit {}", r.memory(), max_memory);
        }
        r.finish(PacketRef::default(), &mut sink);
        prop_assert_eq!(r.memory(), 0);
        prop_assert_eq!(r.tracked_flows(), 0);
        prop_assert_eq!(&sink.started, &sink.ended);
    }
}

/// Counts heap allocations of the current thread (tests run in parallel).
struct CountingAlloc;

thread_local! {
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Sums without allocating.
#[derive(Default)]
struct Summing {
    bytes: u64,
    other: u64,
}

impl Sink for Summing {
    fn flow_start(&mut self, _: &FlowStartInfo, _: PacketRef) {}
    fn data(&mut self, _: FlowId, _: Side, _: u64, d: &[u8], _: PacketRef) {
        self.bytes += d.len() as u64;
    }
    fn gap(&mut self, _: FlowId, _: Side, _: u64, _: u64, _: PacketRef) {
        self.other += 1;
    }
    fn anomaly(&mut self, _: Option<FlowId>, _: Option<Side>, _: Anomaly, _: PacketRef) {
        self.other += 1;
    }
    fn flow_end(&mut self, _: FlowId, _: &FlowEndInfo, _: PacketRef) {}
}

#[test]
fn in_order_path_does_not_allocate() {
    let mut r = Reassembler::default();
    let mut sink = Summing::default();
    let payload = vec![0x5au8; 1448];
    let a: std::net::IpAddr = "2001:db8::1".parse().unwrap();
    let b: std::net::IpAddr = "2001:db8::2".parse().unwrap();
    let mk = |from_a: bool, seq: u32, ack: u32, flags: TcpFlags, p: &'static [u8]| TcpSegment {
        src: if from_a { a } else { b },
        dst: if from_a { b } else { a },
        src_port: if from_a { 50000 } else { 1935 },
        dst_port: if from_a { 1935 } else { 50000 },
        vlan: vec![],
        seq,
        ack,
        flags,
        window: 0,
        payload: p,
        missing: 0,
    };
    let syn = TcpFlags {
        syn: true,
        ..TcpFlags::default()
    };
    let ackf = TcpFlags {
        ack: true,
        ..TcpFlags::default()
    };
    let synack = TcpFlags {
        syn: true,
        ack: true,
        ..TcpFlags::default()
    };
    let pkt = |n: u64| PacketRef {
        pcap_cnt: n,
        time: PacketTime::new(1_700_000_000 + (n / 1000) as i64, 0),
    };
    let (ci, si) = (u32::MAX - 100_000, 77u32);
    r.handle_segment(&mk(true, ci, 0, syn, &[]), pkt(1), &mut sink);
    r.handle_segment(&mk(false, si, ci + 1, synack, &[]), pkt(2), &mut sink);
    // Leak the payload so the segment can borrow it for 'static in the closure.
    let p: &'static [u8] = Box::leak(payload.into_boxed_slice());
    let mut cseq = ci.wrapping_add(1);
    let mut sseq = si + 1;
    // Warm up: the first 4 KiB delivered each way grow the retransmission
    // windows to their full size.
    for _ in 0..3 {
        r.handle_segment(&mk(true, cseq, sseq, ackf, p), pkt(3), &mut sink);
        cseq = cseq.wrapping_add(p.len() as u32);
        r.handle_segment(&mk(false, sseq, cseq, ackf, p), pkt(4), &mut sink);
        sseq += p.len() as u32;
    }
    // The segments themselves are built outside the counted window.
    let segs: Vec<TcpSegment<'static>> = (0..2000u32)
        .map(|i| {
            if i % 4 == 3 {
                let s = mk(false, sseq, cseq, ackf, &p[..100]);
                sseq += 100;
                s
            } else {
                let s = mk(true, cseq, sseq, ackf, p);
                cseq = cseq.wrapping_add(p.len() as u32);
                s
            }
        })
        .collect();
    let before = allocs();
    for (i, s) in segs.iter().enumerate() {
        r.handle_segment(s, pkt(5 + i as u64), &mut sink);
    }
    let n = allocs() - before;
    assert_eq!(n, 0, "{n} allocations on the in-order path");
    assert_eq!(sink.other, 0);
    assert_eq!(sink.bytes, 1448 * 1503 + 1448 * 3 + 100 * 500);
}
