use super::*;
use crate::event::ClientBy;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;
const SID: &str = "1728724019";

// ------------------------------------------------------------ RTMP bytes

fn amf_str(v: &mut Vec<u8>, s: &str) {
    v.push(0x02);
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
}
fn amf_num(v: &mut Vec<u8>, n: f64) {
    v.push(0x00);
    v.extend_from_slice(&n.to_be_bytes());
}
enum A<'a> {
    S(&'a str),
    N(f64),
}
fn amf_obj(v: &mut Vec<u8>, props: &[(&str, A)]) {
    v.push(0x03);
    for (k, val) in props {
        v.extend_from_slice(&(k.len() as u16).to_be_bytes());
        v.extend_from_slice(k.as_bytes());
        match val {
            A::S(s) => amf_str(v, s),
            A::N(n) => amf_num(v, *n),
        }
    }
    v.extend_from_slice(&[0, 0, 9]);
}

/// One message as fmt 0 + fmt 3 chunks of at most `cs` payload bytes.
fn chunks(csid: u8, type_id: u8, msid: u32, body: &[u8], cs: usize) -> Vec<u8> {
    let mut v = vec![csid, 0, 0, 0];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&msid.to_le_bytes());
    for (i, part) in body.chunks(cs).enumerate() {
        if i > 0 {
            v.push(0xC0 | csid);
        }
        v.extend_from_slice(part);
    }
    v
}

fn c1() -> Vec<u8> {
    let mut v: Vec<u8> = (0..1536u32).map(|i| (i * 7 % 251) as u8).collect();
    v[..8].fill(0);
    v
}
fn s1() -> Vec<u8> {
    let mut v: Vec<u8> = (0..1536u32).map(|i| (i * 13 % 241) as u8).collect();
    v[..8].fill(0);
    v
}
/// C0+C1 and C2 (C2 echoes S1).
fn handshake_c(version: u8) -> (Vec<u8>, Vec<u8>) {
    let mut c0c1 = vec![version];
    c0c1.extend(c1());
    (c0c1, s1())
}
/// S0+S1+S2 (S2 echoes C1).
fn handshake_s() -> Vec<u8> {
    let mut v = vec![3u8];
    v.extend(s1());
    v.extend(c1());
    v
}
fn connect() -> Vec<u8> {
    let mut b = Vec::new();
    amf_str(&mut b, "connect");
    amf_num(&mut b, 1.0);
    amf_obj(
        &mut b,
        &[
            ("app", A::S("sample")),
            ("flashVer", A::S("MAC 10,2,153,2")),
            ("tcUrl", A::S("rtmpt://127.0.0.1/sample")),
            ("objectEncoding", A::N(0.0)),
        ],
    );
    chunks(3, 20, 0, &b, 128)
}
fn server_connect_reply() -> Vec<u8> {
    let mut v = chunks(2, 5, 0, &2_500_000u32.to_be_bytes(), 128);
    let mut bw = 2_500_000u32.to_be_bytes().to_vec();
    bw.push(2);
    v.extend(chunks(2, 6, 0, &bw, 128));
    v.extend(chunks(2, 1, 0, &4096u32.to_be_bytes(), 128));
    let mut b = Vec::new();
    amf_str(&mut b, "_result");
    amf_num(&mut b, 1.0);
    amf_obj(
        &mut b,
        &[
            ("fmsVer", A::S("FMS/3,5,5,2004")),
            ("capabilities", A::N(31.0)),
            ("mode", A::N(1.0)),
        ],
    );
    amf_obj(
        &mut b,
        &[
            ("level", A::S("status")),
            ("code", A::S("NetConnection.Connect.Success")),
            ("description", A::S("Connection succeeded")),
            ("clientId", A::N(1728724019.0)),
            ("objectEncoding", A::N(0.0)),
        ],
    );
    v.extend(chunks(3, 20, 0, &b, 4096));
    v
}

// ------------------------------------------------------------ HTTP bytes

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: application/x-fcs\r\nUser-Agent: Shockwave Flash\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}
fn ok(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-fcs\r\nContent-Length: {}\r\nServer: FlashCom/3.5.5\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}
fn not_found() -> Vec<u8> {
    b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
}
fn reply(interval: u8, rtmp: &[u8]) -> Vec<u8> {
    let mut b = vec![interval];
    b.extend_from_slice(rtmp);
    ok(&b)
}

// ------------------------------------------------------------ driver

struct Net {
    layer: Layer,
    ids: FlowIdAllocator,
    off: HashMap<(FlowId, usize), u64>,
    n: u64,
    out: Vec<Event>,
    tapped: Vec<Tapped>,
}

impl Net {
    fn new() -> Self {
        let r = crate::reassembly::Reassembler::default();
        let ids = r.flow_ids();
        Net {
            layer: Layer::new(ids.clone()),
            ids,
            off: HashMap::new(),
            n: 0,
            out: Vec::new(),
            tapped: Vec::new(),
        }
    }
    fn conn(&mut self, port: u16) -> FlowId {
        let id = self.ids.next_id();
        self.layer.add_carrier(FlowInfo {
            flow_id: id,
            client_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            client_port: port,
            server_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            server_port: 80,
            vlan: Vec::new(),
            community_id: "1:test".into(),
            midstream: false,
            client_by: ClientBy::Syn,
            tunnel: None,
        });
        id
    }
    fn pkt(&mut self) -> PacketRef {
        self.n += 1;
        PacketRef {
            pcap_cnt: self.n,
            time: PacketTime::new(
                1_700_000_000 + (self.n / 1000) as i64,
                (self.n % 1000) as u32 * 1_000_000,
            ),
        }
    }
    fn send(&mut self, flow: FlowId, dir: Direction, b: &[u8]) -> &mut Self {
        let pkt = self.pkt();
        let off = self.off.entry((flow, dir.index())).or_insert(0);
        let o = *off;
        *off += b.len() as u64;
        self.layer.data(flow, dir, o, b, pkt, &mut self.out);
        self.tapped.extend(self.layer.take_tapped());
        self
    }
    fn gap(&mut self, flow: FlowId, dir: Direction, len: u64) -> &mut Self {
        let pkt = self.pkt();
        let off = self.off.entry((flow, dir.index())).or_insert(0);
        let o = *off;
        *off += len;
        self.layer.gap(flow, dir, o, len, pkt, &mut self.out);
        self
    }
    fn end(&mut self, flow: FlowId) -> FlowProtocol {
        let pkt = self.pkt();
        self.layer.carrier_end(flow, pkt, &mut self.out)
    }
    fn finish(&mut self) -> &mut Self {
        let pkt = self.pkt();
        self.layer.finish(pkt, &mut self.out);
        self.tapped.extend(self.layer.take_tapped());
        self
    }
    fn anomalies(&self) -> Vec<(&'static str, Option<FlowId>)> {
        self.out
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Anomaly(a) => Some((a.name, e.flow_id)),
                _ => None,
            })
            .collect()
    }
    fn names(&self) -> Vec<&'static str> {
        self.anomalies().into_iter().map(|(n, _)| n).collect()
    }
    /// Every RTMP message (its Debug form), in order.
    fn messages(&self) -> Vec<(Option<FlowId>, Direction, String)> {
        self.out
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Message(m) => Some((e.flow_id, e.direction.unwrap(), format!("{m:?}"))),
                _ => None,
            })
            .collect()
    }
    fn flow_ends(&self) -> Vec<(FlowId, &FlowEnd)> {
        self.out
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::FlowEnd(f) => Some((e.flow_id.unwrap(), f)),
                _ => None,
            })
            .collect()
    }
    fn starts(&self) -> Vec<&FlowInfo> {
        self.out
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::FlowStart(i) => Some(i),
                _ => None,
            })
            .collect()
    }
}

/// The seed's exchange (seed 000): ident2, open, idle/0, send/1 (C0C1),
/// send/2 (C2 + connect), send/3, close/4.
fn seed_exchange(net: &mut Net, c: FlowId) {
    let (c0c1, c2) = handshake_c(3);
    let mut c2connect = c2.clone();
    c2connect.extend(connect());
    net.send(c, TS, &post("/fcs/ident2", b"\0"))
        .send(c, TC, &not_found())
        .send(c, TS, &post("/open/1", b"\0"))
        .send(c, TC, &ok(format!("{SID}\n").as_bytes()))
        .send(c, TS, &post(&format!("/idle/{SID}/0"), b"\0"))
        .send(c, TC, &reply(1, b""))
        .send(c, TS, &post(&format!("/send/{SID}/1"), &c0c1))
        .send(c, TC, &reply(1, &handshake_s()))
        .send(c, TS, &post(&format!("/send/{SID}/2"), &c2connect))
        .send(c, TC, &reply(1, &server_connect_reply()));
    // 16 bytes like the seed's /send/3: a window ack size message.
    let wa = chunks(2, 5, 0, &2_500_000u32.to_be_bytes(), 128);
    assert_eq!(wa.len(), 16);
    net.send(c, TS, &post(&format!("/send/{SID}/3"), &wa))
        .send(c, TC, &reply(1, b""))
        .send(c, TS, &post(&format!("/close/{SID}/4"), b"\0"))
        .send(c, TC, &reply(0, b""));
}

fn has(msgs: &[(Option<FlowId>, Direction, String)], dir: Direction, needle: &str) -> bool {
    msgs.iter().any(|(_, d, j)| *d == dir && j.contains(needle))
}

#[test]
fn seed_exchange_decodes_connect_result_and_success() {
    let mut net = Net::new();
    let c = net.conn(50000);
    seed_exchange(&mut net, c);
    let msgs = net.messages();
    assert!(has(&msgs, TS, r#"name: Text("connect")"#), "{msgs:#?}");
    assert!(has(&msgs, TS, r#"Text("sample")"#));
    assert!(has(&msgs, TC, r#"name: Text("_result")"#));
    assert!(has(&msgs, TC, "NetConnection.Connect.Success"));
    assert!(has(&msgs, TS, "WindowAckSize"));
    // All on one virtual flow, not on the carrier.
    let starts = net.starts();
    assert_eq!(starts.len(), 1);
    let v = starts[0];
    assert_ne!(v.flow_id, c);
    assert_eq!(
        v.tunnel,
        Some(TunnelRef {
            transport: Transport::Rtmpt,
            sid: SID.into()
        })
    );
    assert_eq!(v.client_port, 50000);
    assert!(msgs.iter().all(|(f, _, _)| *f == Some(v.flow_id)));
    assert!(net.names().is_empty(), "{:?}", net.names());
    // The close answer ends the tunnel with its facts.
    let ends = net.flow_ends();
    assert_eq!(ends.len(), 1);
    let (fid, end) = ends[0];
    assert_eq!(fid, v.flow_id);
    assert_eq!(end.reason, EndReason::Fin);
    assert_eq!(end.protocol, FlowProtocol::Rtmp);
    let t = end.tunnel.as_ref().unwrap();
    assert_eq!(t.carriers, vec![c]);
    assert_eq!(
        (
            t.requests.ident2,
            t.requests.open,
            t.requests.idle,
            t.requests.send,
            t.requests.close
        ),
        (1, 1, 1, 3, 1)
    );
    assert_eq!(t.empty_polls, 1);
    assert!(t.closed);
    let (c0c1, c2) = handshake_c(3);
    let to_server = (c0c1.len() + c2.len() + connect().len() + 16) as u64;
    let to_client = (handshake_s().len() + server_connect_reply().len()) as u64;
    assert_eq!(t.rtmp_bytes.to_server, to_server);
    assert_eq!(t.rtmp_bytes.to_client, to_client);
    assert_eq!(end.counters.bytes, [to_server, to_client]);
    assert_eq!(t.intervals.get(&1), Some(&4));
    assert_eq!(t.intervals.get(&0), Some(&1));
    assert_eq!(t.http_errors, 0, "ident2's 404 is expected");
    assert_eq!(t.latency.count, 7);
    assert!(t.http_bytes.to_server > t.rtmp_bytes.to_server);
    assert_eq!(
        t.overhead_bytes.to_server,
        t.http_bytes.to_server - t.rtmp_bytes.to_server
    );
    assert!(end.counters.messages[0] >= 2 && end.counters.messages[1] >= 4);
    // The carrier is reported as an RTMPT carrier.
    assert_eq!(net.end(c), FlowProtocol::Rtmpt);
    // The tap saw exactly the tunnel's bytes, in order.
    let ts: usize = net
        .tapped
        .iter()
        .filter(|t| t.dir == TS)
        .map(|t| t.data.len())
        .sum();
    assert_eq!(ts as u64, to_server);
}

/// Requests of one tunnel spread over connections and answered out of order.
#[test]
fn out_of_order_seqs_across_connections_are_reordered() {
    let mut net = Net::new();
    let c1 = net.conn(50001);
    let c2 = net.conn(50002);
    let c3 = net.conn(50003);
    let (c0c1, c2b) = handshake_c(3);
    let mut c2connect = c2b.clone();
    c2connect.extend(connect());
    net.send(c1, TS, &post("/open/1", b"\0"))
        .send(c1, TC, &ok(format!("{SID}\n").as_bytes()));
    // seq 1 and 2 arrive (and are answered) before seq 0, each on its own
    // connection.
    net.send(c3, TS, &post(&format!("/send/{SID}/2"), &c2connect))
        .send(c3, TC, &reply(1, &server_connect_reply()));
    net.send(c2, TS, &post(&format!("/idle/{SID}/1"), b"\0"))
        .send(c2, TC, &reply(1, b""));
    assert!(
        net.messages().is_empty(),
        "nothing may be decoded before seq 0"
    );
    net.send(c1, TS, &post(&format!("/send/{SID}/0"), &c0c1))
        .send(c1, TC, &reply(1, &handshake_s()));
    let msgs = net.messages();
    assert!(has(&msgs, TS, r#"name: Text("connect")"#));
    assert!(has(&msgs, TC, "NetConnection.Connect.Success"));
    assert!(net.names().is_empty(), "{:?}", net.names());
    net.finish();
    let ends = net.flow_ends();
    let t = ends[0].1.tunnel.as_ref().unwrap();
    assert_eq!(t.carriers, vec![c1, c3, c2]);
    assert_eq!(t.missing_seqs, 0);
    assert_eq!(ends[0].1.reason, EndReason::EndOfInput);
}

#[test]
fn missing_seq_is_a_gap_and_decoding_resumes() {
    let mut net = Net::new();
    let c = net.conn(50010);
    let (c0c1, c2) = handshake_c(3);
    let mut c2connect = c2.clone();
    c2connect.extend(connect());
    net.send(c, TS, &post("/open/1", b"\0"))
        .send(c, TC, &ok(format!("{SID}\n").as_bytes()))
        .send(c, TS, &post(&format!("/send/{SID}/0"), &c0c1))
        .send(c, TC, &reply(1, &handshake_s()))
        .send(c, TS, &post(&format!("/send/{SID}/1"), &c2connect))
        .send(c, TC, &reply(1, &server_connect_reply()));
    // seq 2 never appears; seq 3.. carry more messages.
    for seq in 3..(4 + MAX_REORDER_SEQS as u64) {
        net.send(c, TS, &post(&format!("/send/{SID}/{seq}"), &connect()))
            .send(c, TC, &reply(3, b""));
    }
    let names = net.names();
    assert!(names.contains(&"rtmpt.missing_seq"), "{names:?}");
    // The gap reached the virtual flow's dissector as a gap event.
    let gaps: Vec<_> = net
        .out
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Gap(_)))
        .collect();
    assert!(!gaps.is_empty());
    assert!(gaps.iter().all(|g| g.flow_id != Some(c)));
    net.finish();
    let t = net.flow_ends()[0].1.tunnel.clone().unwrap();
    assert_eq!(t.missing_seqs, 1);
    // Connects after the gap are decoded again (the dissector resynced).
    let n = net
        .messages()
        .iter()
        .filter(|(_, d, j)| *d == TS && j.contains(r#"name: Text("connect")"#))
        .count();
    assert!(n > 1, "decoding resumed after the gap ({n} connects)");
}

#[test]
fn duplicate_seq_is_reported_and_ignored() {
    let mut net = Net::new();
    let c = net.conn(50020);
    seed_exchange(&mut net, c);
    let before = net.messages().len();
    // After the close was answered, a late request is not a new tunnel.
    net.send(c, TS, &post(&format!("/send/{SID}/2"), &connect()));
    assert_eq!(net.names(), ["rtmpt.request_after_close"]);
    assert_eq!(net.messages().len(), before);
    assert_eq!(net.starts().len(), 1);
    let mut net = Net::new();
    let c = net.conn(50021);
    let (c0c1, c2) = handshake_c(3);
    let mut c2connect = c2.clone();
    c2connect.extend(connect());
    net.send(c, TS, &post("/open/1", b"\0"))
        .send(c, TC, &ok(format!("{SID}\n").as_bytes()))
        .send(c, TS, &post(&format!("/send/{SID}/0"), &c0c1))
        .send(c, TC, &reply(1, &handshake_s()))
        .send(c, TS, &post(&format!("/send/{SID}/1"), &c2connect))
        .send(c, TC, &reply(1, &server_connect_reply()));
    let n = net.messages().len();
    let d = net.conn(50022);
    net.send(d, TS, &post(&format!("/send/{SID}/1"), &c2connect))
        .send(d, TC, &reply(1, b""));
    assert_eq!(net.names(), ["rtmpt.duplicate_seq"]);
    assert_eq!(net.messages().len(), n, "the copy is not decoded again");
    net.finish();
    let t = net.flow_ends()[0].1.tunnel.clone().unwrap();
    assert_eq!(t.duplicate_seqs, 1);
    assert!(before > 0);
}

#[test]
fn unknown_sid_starts_a_midstream_tunnel() {
    let mut net = Net::new();
    let c = net.conn(50030);
    let body = connect();
    net.send(c, TS, &post("/send/999/17", &body))
        .send(c, TC, &reply(1, b""));
    assert_eq!(net.names(), ["rtmpt.unknown_sid"]);
    assert_eq!(net.anomalies()[0].1, Some(c), "reported on the carrier");
    let starts = net.starts();
    assert_eq!(starts.len(), 1);
    assert!(starts[0].midstream);
    assert_eq!(starts[0].tunnel.as_ref().unwrap().sid, "999");
    net.finish();
    let (_, end) = net.flow_ends()[0];
    assert!(end.tunnel.as_ref().unwrap().midstream);
    assert_eq!(end.counters.bytes[0], body.len() as u64);
}

#[test]
fn tcp_gap_under_http_becomes_a_tunnel_gap() {
    let mut net = Net::new();
    let c = net.conn(50040);
    let (c0c1, c2) = handshake_c(3);
    let mut c2connect = c2.clone();
    c2connect.extend(connect());
    net.send(c, TS, &post("/open/1", b"\0"))
        .send(c, TC, &ok(format!("{SID}\n").as_bytes()))
        .send(c, TS, &post(&format!("/send/{SID}/0"), &c0c1))
        .send(c, TC, &reply(1, &handshake_s()));
    // The body of /send/1 loses 100 bytes in the middle (inside C2).
    let req = post(&format!("/send/{SID}/1"), &c2connect);
    let head = req.len() - c2connect.len();
    net.send(c, TS, &req[..head + 500])
        .gap(c, TS, 100)
        .send(c, TS, &req[head + 600..]);
    net.send(c, TC, &reply(1, &server_connect_reply()));
    let gaps: Vec<Gap> = net
        .out
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Gap(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(
        gaps,
        [Gap {
            offset: (c0c1.len() + 500) as u64,
            len: 100
        }]
    );
    // HTTP framing held: the answer is still paired and decoded.
    assert!(has(&net.messages(), TC, "NetConnection.Connect.Success"));
    // A gap in the response head loses that answer: a lost response.
    net.send(c, TS, &post(&format!("/send/{SID}/2"), b""));
    net.gap(c, TC, 30);
    net.send(c, TS, &post(&format!("/idle/{SID}/3"), b"\0"));
    net.send(
        c,
        TC,
        &reply(1, &chunks(2, 1, 0, &4096u32.to_be_bytes(), 128)),
    );
    net.finish();
    let t = net.flow_ends()[0].1.tunnel.clone().unwrap();
    assert_eq!(t.lost_responses, 1);
    assert!(net.names().contains(&"http.resync"));
}

#[test]
fn rtmpte_is_reported_encrypted() {
    let mut net = Net::new();
    let c = net.conn(50050);
    let (c0c1, _) = handshake_c(6);
    net.send(c, TS, &post("/open/1", b"\0"))
        .send(c, TC, &ok(b"42\n"))
        .send(c, TS, &post("/send/42/0", &c0c1))
        .send(
            c,
            TC,
            &reply(1, &{
                let mut s = handshake_s();
                s[0] = 6;
                s
            }),
        );
    net.finish();
    let (_, end) = net.flow_ends()[0];
    assert_eq!(end.protocol, FlowProtocol::RtmpEncrypted);
    assert!(end.tunnel.as_ref().unwrap().encrypted);
}

#[test]
fn plain_http_is_left_alone() {
    let mut net = Net::new();
    let c = net.conn(50060);
    net.send(c, TS, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .send(c, TC, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        .send(c, TS, b"GET /bad HTTP/1.1\r\nContent-Length: zz\r\n\r\n");
    assert_eq!(net.end(c), FlowProtocol::NotRtmp);
    net.finish();
    assert!(net.out.is_empty(), "{:?}", net.out);
}

#[test]
fn request_parsing() {
    assert_eq!(Request::parse("/fcs/ident2"), Some(Request::Ident2));
    assert_eq!(Request::parse("/open/1"), Some(Request::Open));
    assert_eq!(
        Request::parse("http://h:80/send/12/7"),
        Some(Request::Send {
            sid: "12".into(),
            seq: 7
        })
    );
    assert_eq!(
        Request::parse("/idle/12/0"),
        Some(Request::Idle {
            sid: "12".into(),
            seq: 0
        })
    );
    assert_eq!(Request::parse("/idle/12/x"), None);
    assert_eq!(Request::parse("/index.html"), None);
    assert!(routes_flow(TS, b"POST /open/1 HTTP/1.1"));
    assert!(!routes_flow(TS, b"\x03\x00\x00\x00"));
}
