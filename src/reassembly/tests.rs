//! Unit tests of the reassembler with hand-built segment sequences.

use super::*;
use crate::link::TcpFlags;
use crate::vocab::Severity;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ev {
    Start(FlowStartInfo),
    Data {
        flow: FlowId,
        side: Side,
        off: u64,
        bytes: Vec<u8>,
        ptr: usize,
    },
    Gap {
        flow: FlowId,
        side: Side,
        off: u64,
        len: u64,
    },
    Anom {
        flow: Option<FlowId>,
        side: Option<Side>,
        a: Anomaly,
    },
    End {
        flow: FlowId,
        end: FlowEndInfo,
        pcap_cnt: u64,
    },
}

#[derive(Default, Debug)]
pub(crate) struct Rec {
    pub ev: Vec<Ev>,
}

impl Sink for Rec {
    fn flow_start(&mut self, flow: &FlowStartInfo, _pkt: PacketRef) {
        self.ev.push(Ev::Start(flow.clone()));
    }
    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], _pkt: PacketRef) {
        self.ev.push(Ev::Data {
            flow,
            side,
            off: offset,
            bytes: data.to_vec(),
            ptr: data.as_ptr() as usize,
        });
    }
    fn gap(&mut self, flow: FlowId, side: Side, offset: u64, len: u64, _pkt: PacketRef) {
        self.ev.push(Ev::Gap {
            flow,
            side,
            off: offset,
            len,
        });
    }
    fn anomaly(&mut self, flow: Option<FlowId>, side: Option<Side>, a: Anomaly, _pkt: PacketRef) {
        self.ev.push(Ev::Anom { flow, side, a });
    }
    fn flow_end(&mut self, flow: FlowId, end: &FlowEndInfo, pkt: PacketRef) {
        self.ev.push(Ev::End {
            flow,
            end: end.clone(),
            pcap_cnt: pkt.pcap_cnt,
        });
    }
}

impl Rec {
    /// Stream of one direction: bytes with `None` for gap bytes; checks
    /// offsets are contiguous from 0.
    fn stream(&self, flow: FlowId, side: Side) -> Vec<Option<u8>> {
        let mut out: Vec<Option<u8>> = Vec::new();
        for e in &self.ev {
            match e {
                Ev::Data {
                    flow: f,
                    side: s,
                    off,
                    bytes,
                    ..
                } if *f == flow && *s == side => {
                    assert_eq!(*off, out.len() as u64, "data offset not contiguous");
                    out.extend(bytes.iter().map(|b| Some(*b)));
                }
                Ev::Gap {
                    flow: f,
                    side: s,
                    off,
                    len,
                } if *f == flow && *s == side => {
                    assert_eq!(*off, out.len() as u64, "gap offset not contiguous");
                    assert!(*len > 0);
                    out.extend(std::iter::repeat_n(None, *len as usize));
                }
                _ => {}
            }
        }
        out
    }
    fn data(&self, flow: FlowId, side: Side) -> Vec<u8> {
        self.stream(flow, side).into_iter().flatten().collect()
    }
    fn gaps(&self, flow: FlowId, side: Side) -> Vec<(u64, u64)> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Gap {
                    flow: f,
                    side: s,
                    off,
                    len,
                } if *f == flow && *s == side => Some((*off, *len)),
                _ => None,
            })
            .collect()
    }
    fn anomalies(&self, name: &str) -> Vec<&Anomaly> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Anom { a, .. } if a.name == name => Some(a),
                _ => None,
            })
            .collect()
    }
    fn starts(&self) -> Vec<&FlowStartInfo> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Start(s) => Some(s),
                _ => None,
            })
            .collect()
    }
    fn ends(&self) -> Vec<(FlowId, &FlowEndInfo)> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::End { flow, end, .. } => Some((*flow, end)),
                _ => None,
            })
            .collect()
    }
}

const C: &str = "10.0.0.1";
const S: &str = "10.0.0.2";

/// Test driver: a reassembler, a recorder and a packet counter/clock.
struct T {
    r: Reassembler,
    rec: Rec,
    cnt: u64,
    sec: i64,
}

#[derive(Clone)]
struct Seg {
    from_client: bool,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
    missing: u32,
    cport: u16,
    sport: u16,
    vlan: Vec<u16>,
}

fn c(seq: u32, payload: &[u8]) -> Seg {
    Seg {
        from_client: true,
        seq,
        ack: None,
        syn: false,
        fin: false,
        rst: false,
        payload: payload.to_vec(),
        missing: 0,
        cport: 40000,
        sport: 1935,
        vlan: vec![],
    }
}

fn s(seq: u32, payload: &[u8]) -> Seg {
    Seg {
        from_client: false,
        ..c(seq, payload)
    }
}

impl Seg {
    fn ack(mut self, a: u32) -> Self {
        self.ack = Some(a);
        self
    }
    fn syn(mut self) -> Self {
        self.syn = true;
        self
    }
    fn fin(mut self) -> Self {
        self.fin = true;
        self
    }
    fn rst(mut self) -> Self {
        self.rst = true;
        self
    }
    fn missing(mut self, m: u32) -> Self {
        self.missing = m;
        self
    }
    fn ports(mut self, cport: u16, sport: u16) -> Self {
        self.cport = cport;
        self.sport = sport;
        self
    }
    fn vlan(mut self, v: u16) -> Self {
        self.vlan = vec![v];
        self
    }
}

impl T {
    fn new() -> Self {
        T::with(Config::default())
    }
    fn with(cfg: Config) -> Self {
        T {
            r: Reassembler::new(cfg),
            rec: Rec::default(),
            cnt: 0,
            sec: 1_000,
        }
    }
    fn pkt(&mut self) -> PacketRef {
        self.cnt += 1;
        PacketRef {
            pcap_cnt: self.cnt,
            time: PacketTime::new(self.sec, 0),
        }
    }
    fn feed(&mut self, g: &Seg) -> &mut Self {
        let (ci, si): (IpAddr, IpAddr) = (C.parse().unwrap(), S.parse().unwrap());
        let (src, dst, sp, dp) = if g.from_client {
            (ci, si, g.cport, g.sport)
        } else {
            (si, ci, g.sport, g.cport)
        };
        let seg = TcpSegment {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            vlan: g.vlan.clone(),
            seq: g.seq,
            ack: g.ack.unwrap_or(0),
            flags: TcpFlags {
                syn: g.syn,
                ack: g.ack.is_some(),
                fin: g.fin,
                rst: g.rst,
                psh: !g.payload.is_empty(),
            },
            window: 65535,
            payload: &g.payload,
            missing: g.missing,
        };
        let pkt = self.pkt();
        self.r.handle_segment(&seg, pkt, &mut self.rec);
        self
    }
    fn finish(&mut self) {
        let pkt = PacketRef {
            pcap_cnt: self.cnt,
            time: PacketTime::new(self.sec, 0),
        };
        self.r.finish(pkt, &mut self.rec);
    }
    /// SYN, SYN-ACK, ACK with client ISN `ci` and server ISN `si`.
    fn handshake(&mut self, ci: u32, si: u32) {
        self.feed(&c(ci, b"").syn());
        self.feed(&s(si, b"").syn().ack(ci.wrapping_add(1)));
        self.feed(&c(ci.wrapping_add(1), b"").ack(si.wrapping_add(1)));
    }
}

use Side::{Orig, Resp};

#[test]
fn handshake_then_in_order_data_both_ways_zero_copy() {
    let mut t = T::new();
    t.handshake(1000, 5000);
    let req = c(1001, b"hello").ack(5001);
    let req_ptr = req.payload.as_ptr() as usize;
    t.feed(&req);
    t.feed(&s(5001, b"world!").ack(1006));
    t.feed(&c(1006, b"more").ack(5007));
    let st = t.rec.starts();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].flow_id, 1);
    assert_eq!(st[0].orig_ip, C.parse::<IpAddr>().unwrap());
    assert_eq!(st[0].orig_port, 40000);
    assert_eq!(st[0].resp_port, 1935);
    assert_eq!(st[0].client_by, ClientBy::Syn);
    assert!(!st[0].midstream);
    assert_eq!(
        st[0].community_id,
        community_id::community_id_v1(0, C.parse().unwrap(), 40000, S.parse().unwrap(), 1935)
    );
    assert_eq!(t.rec.data(1, Orig), b"hellomore");
    assert_eq!(t.rec.data(1, Resp), b"world!");
    // In-order data is delivered from the packet slice itself.
    assert!(t
        .rec
        .ev
        .iter()
        .any(|e| matches!(e, Ev::Data { ptr, .. } if *ptr == req_ptr)));
    assert!(t.rec.anomalies("tcp.midstream").is_empty());
    assert!(t.r.memory() <= 2 * DEFAULT_OVERLAP_CHECK_BYTES);
    t.finish();
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1.reason, EndReason::EndOfInput);
    assert_eq!(ends[0].1.counters.bytes, [9, 6]);
    assert_eq!(ends[0].1.counters.packets, [4, 2]);
    assert_eq!(ends[0].1.counters.missed_bytes, [0, 0]);
    assert_eq!(t.r.memory(), 0);
}

#[test]
fn synack_first_orients_flow_and_syn_payload_starts_at_isn_plus_one() {
    let mut t = T::new();
    // SYN-ACK seen first (SYN lost): the sender is the server.
    t.feed(&s(7000, b"").syn().ack(301));
    t.feed(&c(301, b"abc").ack(7001));
    let st = t.rec.starts();
    assert_eq!(st[0].orig_ip, C.parse::<IpAddr>().unwrap());
    assert_eq!(st[0].client_by, ClientBy::Syn);
    assert_eq!(t.rec.data(1, Orig), b"abc");

    // TCP Fast Open style: data on the SYN begins at ISN + 1 = offset 0.
    let mut t = T::new();
    t.feed(&c(10, b"xyz").syn());
    t.feed(&c(14, b"w"));
    assert_eq!(t.rec.data(1, Orig), b"xyzw");
}

#[test]
fn midstream_pickup_first_seq_is_offset_zero_and_port_picks_client() {
    let mut t = T::new();
    // The server speaks first: port 1935 still makes the other end the client.
    t.feed(&s(900_000, b"abc").ack(77));
    t.feed(&c(77, b"XY").ack(900_003));
    t.feed(&s(900_003, b"de"));
    let st = t.rec.starts();
    assert!(st[0].midstream);
    assert_eq!(st[0].client_by, ClientBy::Port);
    assert_eq!(st[0].orig_ip, C.parse::<IpAddr>().unwrap());
    assert_eq!(t.rec.data(1, Resp), b"abcde");
    assert_eq!(t.rec.data(1, Orig), b"XY");
    assert_eq!(t.rec.anomalies("tcp.midstream").len(), 1);

    // A pure ACK of a side seen first sets its offset 0, so data that was
    // retransmitted from before its first data segment is not cut.
    let mut t = T::new();
    t.feed(&c(10, b"req").ack(500));
    t.feed(&s(500, b"").ack(13));
    t.feed(&s(542, b"second"));
    t.feed(&s(500, &[b'f'; 42]));
    let mut want = vec![b'f'; 42];
    want.extend_from_slice(b"second");
    assert_eq!(t.rec.data(1, Resp), want);

    // Neither port is 1935: the first sender is the client.
    let mut t = T::new();
    t.feed(&s(5, b"abc").ports(40000, 8080));
    let st = t.rec.starts();
    assert_eq!(st[0].client_by, ClientBy::FirstPacket);
    assert_eq!(st[0].orig_ip, S.parse::<IpAddr>().unwrap());
    assert_eq!(st[0].orig_port, 8080);
    assert_eq!(t.rec.data(1, Orig), b"abc");
}

#[test]
fn stray_ack_or_rst_does_not_create_a_flow() {
    let mut t = T::new();
    t.feed(&c(5, b"").ack(9));
    t.feed(&c(5, b"").rst());
    assert!(t.rec.starts().is_empty());
    assert_eq!(t.r.stats().ignored_segments, 2);
}

#[test]
fn sequence_wraparound_keeps_offsets_increasing() {
    let mut t = T::new();
    let isn = u32::MAX - 10;
    t.feed(&c(isn, b"").syn());
    let data: Vec<u8> = (0..100u8).collect();
    let mut seq = isn.wrapping_add(1);
    // Out of order around the wrap: second chunk first.
    t.feed(&c(seq.wrapping_add(7), &data[7..20]));
    for ch in data.chunks(7) {
        t.feed(&c(seq, ch));
        seq = seq.wrapping_add(ch.len() as u32);
    }
    assert_eq!(t.rec.data(1, Orig), data);
    assert!(t.rec.gaps(1, Orig).is_empty());
}

/// Counts data without copying it (for the multi-GiB test).
#[derive(Default)]
struct Counting {
    next: u64,
    last_off: u64,
    other: usize,
}

impl Sink for Counting {
    fn flow_start(&mut self, _: &FlowStartInfo, _: PacketRef) {}
    fn data(&mut self, _: FlowId, _: Side, offset: u64, data: &[u8], _: PacketRef) {
        assert_eq!(offset, self.next);
        self.last_off = offset;
        self.next += data.len() as u64;
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
fn offsets_are_64_bit_beyond_4_gib() {
    let mut r = Reassembler::default();
    let mut sink = Counting::default();
    let chunk = vec![0xabu8; 65_000];
    let n = (u32::MAX as u64 / 65_000) + 3;
    let mut seq = 123u32;
    let mut g = TcpSegment {
        src: C.parse().unwrap(),
        dst: S.parse().unwrap(),
        src_port: 4000,
        dst_port: 1935,
        vlan: vec![],
        seq: seq.wrapping_sub(1),
        ack: 0,
        flags: TcpFlags {
            syn: true,
            ..TcpFlags::default()
        },
        window: 0,
        payload: &[],
        missing: 0,
    };
    r.handle_segment(&g, PacketRef::default(), &mut sink);
    g.flags.syn = false;
    g.payload = &chunk;
    for _ in 0..n {
        g.seq = seq;
        r.handle_segment(&g, PacketRef::default(), &mut sink);
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    assert!(sink.last_off > u32::MAX as u64);
    assert_eq!(sink.next, n * 65_000);
    assert_eq!(sink.other, 0);
}

#[test]
fn out_of_order_segments_are_buffered_and_delivered_in_order() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(11, b"klmno"));
    t.feed(&c(6, b"fghij"));
    assert_eq!(t.rec.data(1, Orig), b"");
    assert!(t.r.memory() > 0);
    t.feed(&c(1, b"abcde"));
    assert_eq!(t.rec.data(1, Orig), b"abcdefghijklmno");
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.finish();
    assert!(t.rec.gaps(1, Orig).is_empty());
}

#[test]
fn retransmission_is_trimmed_and_counted_not_redelivered() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"abcdef"));
    t.feed(&c(1, b"abcdef"));
    t.feed(&c(4, b"defghi")); // partial overlap, same bytes
    assert_eq!(t.rec.data(1, Orig), b"abcdefghi");
    assert!(t.rec.anomalies("tcp.overlap_different_data").is_empty());
    t.finish();
    assert_eq!(t.rec.ends()[0].1.counters.retransmitted_bytes, [9, 0]);
    assert_eq!(t.rec.ends()[0].1.counters.bytes, [9, 0]);
}

#[test]
fn overlap_with_different_bytes_keeps_first_and_warns() {
    // Against delivered bytes (the retransmission window).
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"abcdef"));
    t.feed(&c(3, b"cXZfgh")); // offsets 2..8, 3 and 4 differ
    assert_eq!(t.rec.data(1, Orig), b"abcdefgh");
    let a = t.rec.anomalies("tcp.overlap_different_data");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].range, Some(ByteRangeT::new(2, 6)));
    assert_eq!(a[0].severity, Severity::Warning);

    // Against buffered out-of-order bytes.
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(5, b"efgh"));
    t.feed(&c(7, b"XXij"));
    t.feed(&c(1, b"abcdEF"));
    assert_eq!(t.rec.data(1, Orig), b"abcdefghij");
    let a = t.rec.anomalies("tcp.overlap_different_data");
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].range, Some(ByteRangeT::new(6, 8)));
    assert_eq!(a[1].range, Some(ByteRangeT::new(4, 6)));
}

use crate::vocab::ByteRange as ByteRangeT;

#[test]
fn peer_ack_closes_hole_with_exact_gap() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"0123456789"));
    // bytes 10..20 lost
    t.feed(&c(21, b"ABCDEFGHIJ"));
    assert_eq!(t.rec.data(1, Orig), b"0123456789");
    t.feed(&s(101, b"").ack(31));
    assert_eq!(t.rec.gaps(1, Orig), vec![(10, 10)]);
    assert_eq!(t.rec.data(1, Orig), b"0123456789ABCDEFGHIJ");
    let g = t.rec.anomalies("tcp.seq_gap");
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].range, Some(ByteRangeT::new(10, 20)));
    assert_eq!(g[0].severity, Severity::Error);
    // A late copy of the lost bytes is trimmed, not delivered twice.
    t.feed(&c(11, b"klmnopqrst"));
    assert_eq!(t.rec.stream(1, Orig).len(), 30);
}

#[test]
fn peer_ack_past_tail_reports_lost_tail_but_not_a_lone_fin_byte() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"0123456789"));
    // Ack one past the end: could be a FIN we did not capture.
    t.feed(&s(101, b"").ack(12));
    assert!(t.rec.gaps(1, Orig).is_empty());
    // Ack well past: the bytes were sent.
    t.feed(&s(101, b"").ack(26));
    assert_eq!(t.rec.gaps(1, Orig), vec![(10, 15)]);
    t.feed(&c(26, b"xy"));
    assert_eq!(t.rec.stream(1, Orig).len(), 27);
}

#[test]
fn one_sided_capture_delivers_without_acks() {
    let mut t = T::new();
    // Only client -> server packets, the ack never moves.
    t.feed(&c(50, b"abc").ack(9));
    t.feed(&c(53, b"def").ack(9));
    t.feed(&c(56, b"ghi").ack(9));
    assert_eq!(t.rec.data(1, Orig), b"abcdefghi");
    // And a hole there stays open until a limit or the end, then closes.
    t.feed(&c(62, b"jkl").ack(9));
    assert_eq!(t.rec.data(1, Orig), b"abcdefghi");
    t.finish();
    assert_eq!(t.rec.gaps(1, Orig), vec![(9, 3)]);
    assert_eq!(t.rec.data(1, Orig), b"abcdefghijkl");
}

#[test]
fn ooo_limit_closes_the_hole() {
    let mut t = T::with(Config {
        max_ooo_bytes: 2 * (100 + ENTRY_OVERHEAD),
        ..Config::default()
    });
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, &[1u8; 10]));
    // hole at 10..20, then buffered segments of 100 bytes
    t.feed(&c(21, &[2u8; 100]));
    t.feed(&c(121, &[3u8; 100]));
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.feed(&c(221, &[4u8; 100]));
    assert_eq!(t.rec.gaps(1, Orig), vec![(10, 10)]);
    assert_eq!(t.rec.anomalies("reassembly.ooo_limit").len(), 1);
    assert_eq!(t.rec.stream(1, Orig).len(), 320);
    // Only the retransmission ring is left, grown to what was delivered.
    assert_eq!(t.r.memory(), 512);
}

#[test]
fn snaplen_truncation_becomes_an_exact_gap() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"abcd").missing(6)); // 10 on the wire, 4 captured
    t.feed(&c(11, b"klm"));
    assert_eq!(t.rec.gaps(1, Orig), vec![(4, 6)]);
    assert_eq!(t.rec.data(1, Orig), b"abcdklm");
    assert_eq!(t.rec.anomalies("tcp.snaplen_truncated").len(), 1);
    assert!(t.rec.anomalies("tcp.seq_gap").is_empty());

    // Truncated segment arriving out of order; the hole before it is
    // filled, the truncated part is reported when reached.
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(5, b"ef").missing(3));
    t.feed(&c(10, b"jk"));
    t.feed(&c(1, b"abcd"));
    assert_eq!(t.rec.gaps(1, Orig), vec![(6, 3)]);
    assert_eq!(t.rec.data(1, Orig), b"abcdefjk");
    // A later full copy of the truncated bytes does not re-open them.
    t.feed(&c(7, b"ghi"));
    assert_eq!(t.rec.stream(1, Orig).len(), 11);
}

#[test]
fn fin_both_sides_ends_flow_and_late_packets_are_ignored() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc").ack(101));
    t.feed(&c(4, b"").fin().ack(101));
    assert!(t.rec.ends().is_empty());
    t.feed(&s(101, b"xy").fin().ack(5));
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1.reason, EndReason::Fin);
    assert_eq!(t.r.live_flows(), 0);
    assert_eq!(t.r.memory(), 0);
    // final ACK and a late retransmission: no new flow
    t.feed(&c(5, b"").ack(104));
    t.feed(&c(1, b"abc").ack(104));
    t.feed(&c(1, b"abc").ack(104));
    assert_eq!(t.rec.starts().len(), 1);
    assert_eq!(t.rec.anomalies("tcp.pkt_after_close").len(), 1);
    t.finish();
    assert_eq!(t.rec.ends().len(), 1);
}

#[test]
fn hole_before_fin_waits_for_reordered_data() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc"));
    t.feed(&c(8, b"").fin()); // FIN before the reordered 3..7
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.feed(&c(4, b"defg"));
    assert_eq!(t.rec.data(1, Orig), b"abcdefg");
    t.feed(&s(101, b"").fin().ack(9));
    assert_eq!(t.rec.ends()[0].1.reason, EndReason::Fin);
    assert!(t.rec.gaps(1, Orig).is_empty());
}

#[test]
fn fin_holes_close_on_peer_ack_or_peer_fin() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc"));
    t.feed(&c(8, b"hi").fin()); // 3..7 lost
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.feed(&s(101, b"").ack(11)); // acks data and FIN
    assert_eq!(t.rec.gaps(1, Orig), vec![(3, 4)]);
    assert_eq!(t.rec.data(1, Orig), b"abchi");

    // Without an ACK: the peer's FIN ends the flow and closes the hole.
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc"));
    t.feed(&c(8, b"hi").fin());
    t.feed(&s(101, b"").fin());
    assert_eq!(t.rec.gaps(1, Orig), vec![(3, 4)]);
    let g = t.rec.anomalies("tcp.seq_gap");
    assert!(g[0].detail.contains("FIN"));
    assert_eq!(t.rec.ends()[0].1.reason, EndReason::Fin);

    // Data beyond the FIN is dropped and reported.
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc"));
    t.feed(&c(4, b"hi").fin());
    // Data beyond the FIN is dropped and reported.
    t.feed(&c(10, b"zz"));
    assert_eq!(t.rec.anomalies("tcp.data_after_fin").len(), 1);
    assert_eq!(t.rec.data(1, Orig), b"abchi");
}

#[test]
fn one_fin_does_not_end_the_flow() {
    let mut t = T::new();
    t.feed(&c(10, b"abc"));
    t.feed(&c(13, b"").fin());
    assert!(t.rec.ends().is_empty());
    // Half-close: the peer may still send.
    t.feed(&s(500, b"late reply"));
    assert_eq!(t.rec.data(1, Resp), b"late reply");
    t.finish();
    assert_eq!(t.rec.ends()[0].1.reason, EndReason::EndOfInput);
}

#[test]
fn hole_timeout_closes_hole_before_a_fin() {
    let mut t = T::new();
    t.feed(&c(10, b"abc"));
    t.feed(&c(20, b"").fin());
    t.sec += DEFAULT_HOLE_TIMEOUT_SECS as i64 + 1;
    t.feed(&s(500, b"x"));
    assert_eq!(t.rec.gaps(1, Orig), vec![(3, 7)]);
}

#[test]
fn rst_ends_flow_and_flushes_buffer() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"ab"));
    t.feed(&c(5, b"ef"));
    t.feed(&s(101, b"").rst());
    assert_eq!(t.rec.gaps(1, Orig), vec![(2, 2)]);
    assert_eq!(t.rec.data(1, Orig), b"abef");
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1.reason, EndReason::Rst);
    assert_eq!(ends[0].1.counters.missed_bytes, [2, 0]);
}

#[test]
fn idle_timeout_in_packet_time() {
    let mut t = T::with(Config {
        idle_timeout_secs: 10,
        ..Config::default()
    });
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"ab"));
    t.feed(&c(5, b"ef"));
    t.sec += 5;
    t.feed(&c(7, b"g").ports(40001, 1935)); // another flow, not yet idle
    assert!(t.rec.ends().is_empty());
    t.sec += 6;
    t.feed(&c(8, b"h").ports(40001, 1935));
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].0, 1);
    assert_eq!(ends[0].1.reason, EndReason::Timeout);
    assert_eq!(t.rec.gaps(1, Orig), vec![(2, 2)]);
    assert_eq!(t.r.stats().timed_out, 1);
    // The tuple comes back: a new flow.
    t.feed(&c(7, b"ab"));
    assert_eq!(t.rec.starts().len(), 3);
}

#[test]
fn port_reuse_new_isn_starts_new_flow() {
    let mut t = T::new();
    t.handshake(1000, 5000);
    t.feed(&c(1001, b"old"));
    t.feed(&c(1000, b"").syn()); // retransmitted SYN, same ISN: same flow
    assert_eq!(t.rec.starts().len(), 1);
    t.feed(&c(90_000, b"").syn());
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1.reason, EndReason::PortReuse);
    let st = t.rec.starts();
    assert_eq!(st.len(), 2);
    assert_eq!(st[1].flow_id, 2);
    t.feed(&c(90_001, b"new"));
    assert_eq!(t.rec.data(2, Orig), b"new");
    assert_eq!(t.rec.data(1, Orig), b"old");
}

#[test]
fn syn_on_closed_tuple_starts_new_flow_without_port_reuse_end() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"x").rst());
    t.handshake(500, 900);
    t.feed(&c(501, b"y"));
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1.reason, EndReason::Rst);
    assert_eq!(t.rec.starts().len(), 2);
    assert_eq!(t.rec.data(2, Orig), b"y");
}

#[test]
fn flow_limit_evicts_least_recently_used() {
    let mut t = T::with(Config {
        max_flows: 2,
        ..Config::default()
    });
    t.feed(&c(1, b"a").ports(1, 1935));
    t.feed(&c(1, b"b").ports(2, 1935));
    t.feed(&c(2, b"a").ports(1, 1935)); // flow 1 is now most recent
    t.feed(&c(1, b"c").ports(3, 1935));
    let ends = t.rec.ends();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].0, 2);
    assert_eq!(ends[0].1.reason, EndReason::Evicted);
    assert_eq!(t.rec.anomalies("reassembly.flow_limit").len(), 1);
    assert_eq!(t.r.tracked_flows(), 2);
}

#[test]
fn tombstones_are_evicted_before_live_flows() {
    let mut t = T::with(Config {
        max_flows: 2,
        ..Config::default()
    });
    t.feed(&c(1, b"a").ports(1, 1935));
    t.feed(&c(1, b"b").ports(2, 1935));
    t.feed(&c(2, b"").rst().ports(2, 1935));
    t.feed(&c(1, b"c").ports(3, 1935));
    assert!(t.rec.anomalies("reassembly.flow_limit").is_empty());
    assert_eq!(t.rec.ends().len(), 1);
}

#[test]
fn memory_limit_closes_holes() {
    let mut t = T::with(Config {
        max_memory: 1000,
        overlap_check_bytes: 0,
        ..Config::default()
    });
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"a"));
    t.feed(&c(3, &[7u8; 600]));
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.feed(&c(0, b"").syn().ports(2, 1935));
    t.feed(&c(3, &[8u8; 600]).ports(2, 1935));
    assert_eq!(t.rec.anomalies("reassembly.memory_limit").len(), 1);
    assert_eq!(t.rec.gaps(2, Orig), vec![(0, 2)]);
    assert!(t.r.memory() <= 1000);
}

#[test]
fn vlan_separates_flows() {
    let mut t = T::new();
    t.feed(&c(1, b"a").vlan(10));
    t.feed(&c(1, b"b").vlan(20));
    t.feed(&c(2, b"c").vlan(10));
    assert_eq!(t.rec.starts().len(), 2);
    assert_eq!(t.rec.starts()[0].vlan, vec![10]);
    assert_eq!(t.rec.data(1, Orig), b"ac");
    assert_eq!(t.rec.data(2, Orig), b"b");
}

#[test]
fn finish_ends_flows_in_id_order_and_frees_memory() {
    let mut t = T::new();
    for p in [5u16, 3, 9, 1] {
        t.feed(&c(1, b"a").ports(p, 1935));
        t.feed(&c(9, b"z").ports(p, 1935));
    }
    t.finish();
    let ids: Vec<FlowId> = t.rec.ends().iter().map(|e| e.0).collect();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    for id in 1..=4 {
        assert_eq!(t.rec.gaps(id, Orig), vec![(1, 7)]);
    }
    assert_eq!(t.r.memory(), 0);
    assert_eq!(t.r.tracked_flows(), 0);
}

#[test]
fn memory_is_bounded_for_many_sequential_flows() {
    let mut t = T::with(Config {
        closed_linger_secs: 1,
        ..Config::default()
    });
    for i in 0..5000u32 {
        let p = 10_000 + (i % 50_000) as u16;
        t.feed(&c(i, b"").syn().ports(p, 1935));
        t.feed(&c(i + 1, b"data").ports(p, 1935));
        t.feed(&c(i + 5, b"").rst().ports(p, 1935));
        if i % 100 == 99 {
            t.sec += 2;
        }
    }
    assert_eq!(t.r.live_flows(), 0);
    assert!(t.r.tracked_flows() <= 200, "{}", t.r.tracked_flows());
    assert_eq!(t.r.memory(), 0);
}

#[test]
fn resp_side_initialised_from_handshake_ack_reports_lost_server_data() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    // SYN-ACK not captured; the client's ACK tells the server ISN + 1.
    t.feed(&c(1, b"").ack(501));
    t.feed(&c(1, b"").ack(531));
    assert_eq!(t.rec.gaps(1, Resp), vec![(0, 30)]);
}

#[test]
fn segment_far_out_of_window_is_dropped() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, b"a"));
    t.feed(&c(1 + (1 << 31) - 5, b"zz"));
    assert_eq!(t.rec.anomalies("tcp.seq_out_of_window").len(), 1);
    // Nothing buffered: only the smallest retransmission ring.
    assert_eq!(t.r.memory(), 256);
    t.finish();
    assert!(t.rec.gaps(1, Orig).is_empty());
}

#[test]
fn hole_timeout_closes_a_stale_hole_in_packet_time() {
    let mut t = T::new();
    t.feed(&c(50, b"abc"));
    t.feed(&c(56, b"ghi"));
    t.sec += DEFAULT_HOLE_TIMEOUT_SECS as i64 - 1;
    t.feed(&c(59, b"j"));
    assert!(t.rec.gaps(1, Orig).is_empty());
    t.sec += 2;
    t.feed(&c(60, b"k"));
    assert_eq!(t.rec.gaps(1, Orig), vec![(3, 3)]);
    assert_eq!(t.rec.data(1, Orig), b"abcghijk");
    assert!(t.rec.anomalies("tcp.seq_gap")[0].detail.contains("timeout"));
    // Disabled: the hole stays until the end.
    let mut t = T::with(Config {
        hole_timeout_secs: 0,
        ..Config::default()
    });
    t.feed(&c(50, b"abc"));
    t.feed(&c(56, b"ghi"));
    t.sec += 100;
    t.feed(&c(59, b"j"));
    assert!(t.rec.gaps(1, Orig).is_empty());
}

#[test]
fn late_payload_anomaly_names_the_ended_flow() {
    let mut t = T::new();
    t.feed(&c(10, b"abc"));
    t.feed(&c(13, b"").rst());
    t.feed(&c(10, b"abc"));
    let late: Vec<_> = t
        .rec
        .ev
        .iter()
        .filter_map(|e| match e {
            Ev::Anom { flow, a, .. } if a.name == "tcp.pkt_after_close" => Some(*flow),
            _ => None,
        })
        .collect();
    assert_eq!(late, vec![Some(1)]);
}

#[test]
fn public_expire_and_side_mapping() {
    assert_eq!(Orig.direction(), Direction::ToServer);
    assert_eq!(Resp.direction(), Direction::ToClient);
    assert_eq!(Orig.other(), Resp);
    assert_eq!(Resp.index(), Resp.direction().index());
    let mut t = T::with(Config {
        idle_timeout_secs: 5,
        ..Config::default()
    });
    t.feed(&c(1, b"a"));
    let pkt = PacketRef {
        pcap_cnt: 9,
        time: PacketTime::new(t.sec + 4, 0),
    };
    t.r.expire(pkt, &mut t.rec);
    assert!(t.rec.ends().is_empty());
    let pkt = PacketRef {
        pcap_cnt: 9,
        time: PacketTime::new(t.sec + 6, 0),
    };
    t.r.expire(pkt, &mut t.rec);
    assert_eq!(t.rec.ends()[0].1.reason, EndReason::Timeout);
    assert_eq!(t.r.live_flows(), 0);
}

#[test]
fn ack_inside_a_buffered_segment_gaps_only_the_hole() {
    let mut t = T::new();
    t.handshake(0, 100);
    t.feed(&c(1, b"abc"));
    t.feed(&c(11, b"klmnop")); // 3..10 missing
    t.feed(&s(101, b"").ack(13));
    assert_eq!(t.rec.gaps(1, Orig), vec![(3, 7)]);
    assert_eq!(t.rec.data(1, Orig), b"abcklmnop");
}

#[test]
fn retransmission_ring_grows_with_delivered_bytes() {
    let mut t = T::new();
    t.feed(&c(0, b"").syn());
    t.feed(&c(1, &[1u8; 65]));
    assert_eq!(t.r.memory(), 256);
    t.feed(&c(66, &[2u8; 1000]));
    assert_eq!(t.r.memory(), 2048);
    t.feed(&c(1066, &[3u8; 10_000]));
    assert_eq!(t.r.memory(), DEFAULT_OVERLAP_CHECK_BYTES);
    // Still compares retransmissions after growing: old bytes kept.
    t.feed(&c(1066 + 9_000, &[9u8; 100]));
    assert_eq!(t.rec.anomalies("tcp.overlap_different_data").len(), 1);
    t.feed(&c(1066 + 9_100, &[3u8; 100]));
    assert_eq!(t.rec.anomalies("tcp.overlap_different_data").len(), 1);
}
