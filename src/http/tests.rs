use super::*;
use crate::time::PacketTime;

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;

fn pkt(n: u64) -> PacketRef {
    PacketRef {
        pcap_cnt: n,
        time: PacketTime::new(1_700_000_000, n as u32 * 1000),
    }
}

/// Feeds `(dir, bytes)` segments in order, each as its own packet.
struct Feed {
    c: HttpConn,
    off: [u64; 2],
    n: u64,
    out: Vec<HttpEvent>,
}

impl Feed {
    fn new() -> Self {
        Feed {
            c: HttpConn::new(),
            off: [0; 2],
            n: 0,
            out: Vec::new(),
        }
    }
    fn send(&mut self, dir: Direction, b: &[u8]) -> &mut Self {
        self.n += 1;
        let d = dir.index();
        self.c.data(dir, self.off[d], b, pkt(self.n), &mut self.out);
        self.off[d] += b.len() as u64;
        self
    }
    fn gap(&mut self, dir: Direction, len: u64) -> &mut Self {
        self.n += 1;
        let d = dir.index();
        self.c
            .gap(dir, self.off[d], len, pkt(self.n), &mut self.out);
        self.off[d] += len;
        self
    }
    fn finish(&mut self) -> &mut Self {
        self.c.finish(pkt(self.n + 1), &mut self.out);
        self
    }
    fn msgs(&self) -> Vec<&HttpMessage> {
        self.out
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Message(m) => Some(&**m),
                _ => None,
            })
            .collect()
    }
    fn anomalies(&self) -> Vec<&'static str> {
        self.out
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Anomaly(_, a) => Some(a.name),
                _ => None,
            })
            .collect()
    }
}

fn req(path: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-fcs\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn resp(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-fcs\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn target(m: &HttpMessage) -> &str {
    match &m.start {
        StartLine::Request { target, .. } => target,
        StartLine::Response { .. } => &m.request.as_ref().unwrap().target,
    }
}

#[test]
fn request_split_byte_by_byte() {
    let mut f = Feed::new();
    let r = req("/send/42/1", b"\x03hello");
    for b in &r {
        f.send(TS, std::slice::from_ref(b));
    }
    let m = f.msgs();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].body, b"\x03hello");
    assert_eq!(target(m[0]), "/send/42/1");
    assert_eq!(m[0].range, ByteRange::new(0, r.len() as u64));
    assert_eq!(m[0].head_len as usize, r.len() - 6);
    assert_eq!(m[0].first.pcap_cnt, 1);
    assert_eq!(m[0].done.pcap_cnt, r.len() as u64);
    assert!(f.anomalies().is_empty());
}

#[test]
fn merged_requests_in_one_segment_and_pipelined_responses_pair_in_order() {
    let mut f = Feed::new();
    let mut all = req("/idle/7/0", b"\0");
    all.extend(req("/send/7/1", b"abc"));
    all.extend(req("/send/7/2", b"defg"));
    f.send(TS, &all);
    assert_eq!(f.msgs().len(), 3);
    assert_eq!(f.c.pending(), 3);
    let mut r = resp(b"\x01A");
    r.extend(resp(b"\x01BB"));
    r.extend(resp(b"\x03"));
    // Responses split at odd places.
    f.send(TC, &r[..5]).send(TC, &r[5..60]).send(TC, &r[60..]);
    let m = f.msgs();
    assert_eq!(m.len(), 6);
    let resps: Vec<_> = m.iter().filter(|m| m.dir == TC).collect();
    assert_eq!(
        resps.iter().map(|m| target(m)).collect::<Vec<_>>(),
        ["/idle/7/0", "/send/7/1", "/send/7/2"]
    );
    assert_eq!(resps[1].body, b"\x01BB");
    assert_eq!(resps[1].request.as_ref().unwrap().index, 1);
    assert_eq!(f.c.pending(), 0);
    assert!(f.anomalies().is_empty());
}

#[test]
fn response_split_across_segments() {
    let mut f = Feed::new();
    f.send(TS, &req("/open/1", b"\0"));
    let r = resp(b"1728724019\n");
    for chunk in r.chunks(7) {
        f.send(TC, chunk);
    }
    let m = f.msgs();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].body, b"1728724019\n");
    assert_eq!(m[1].status(), Some(200));
    assert_eq!(m[1].first.pcap_cnt, 2);
    assert_eq!(m[1].done.pcap_cnt, 1 + r.len().div_ceil(7) as u64);
}

#[test]
fn chunked_body_is_decoded_and_framing_counted() {
    let mut f = Feed::new();
    f.send(TS, &req("/send/1/1", b"x"));
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunks = b"1\r\n\x01\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n";
    let mut all = head.to_vec();
    all.extend_from_slice(chunks);
    all.extend(resp(b"next"));
    // One byte at a time exercises every state boundary.
    f.send(TS, &req("/send/1/2", b"y"));
    for b in &all {
        f.send(TC, std::slice::from_ref(b));
    }
    let m: Vec<_> = f.msgs().into_iter().filter(|m| m.dir == TC).collect();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].body, b"\x01hello");
    assert_eq!(m[0].head_len as usize, head.len());
    assert_eq!(m[0].framing_len as usize, chunks.len() - 6);
    assert_eq!(m[0].wire_len() as usize, head.len() + chunks.len());
    assert!(!m[0].truncated);
    assert_eq!(m[1].body, b"next");
    assert_eq!(target(m[1]), "/send/1/2");
    assert!(f.anomalies().is_empty());
}

#[test]
fn bad_content_length_loses_sync_and_resyncs_at_next_request() {
    let mut f = Feed::new();
    f.send(
        TS,
        b"POST /send/1/1 HTTP/1.1\r\nContent-Length: 12x\r\n\r\nabcdefgh garbage",
    );
    f.send(TS, &req("/send/1/2", b"ok"));
    assert_eq!(f.anomalies(), ["http.bad_content_length", "http.resync"]);
    let m = f.msgs();
    assert_eq!(m.len(), 2);
    assert!(m[0].truncated);
    assert_eq!(target(m[1]), "/send/1/2");
    assert_eq!(m[1].body, b"ok");
}

#[test]
fn content_length_shorter_than_body_is_a_mismatch() {
    let mut f = Feed::new();
    let mut r = b"POST /send/1/1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcdefghijk".to_vec();
    r.extend(req("/send/1/2", b"ok"));
    f.send(TS, &r);
    assert_eq!(
        f.anomalies(),
        ["http.content_length_mismatch", "http.resync"]
    );
    let m = f.msgs();
    assert_eq!(m[0].body, b"abc");
    assert_eq!(m[1].body, b"ok");
}

#[test]
fn content_length_longer_than_connection_is_truncated() {
    let mut f = Feed::new();
    f.send(
        TS,
        b"POST /send/1/1 HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc",
    );
    f.finish();
    assert_eq!(f.anomalies(), ["http.truncated"]);
    let m = f.msgs();
    assert_eq!(m.len(), 1);
    assert!(m[0].truncated);
    assert_eq!(m[0].body_lost, 97);
}

#[test]
fn gap_inside_body_keeps_sync() {
    let mut f = Feed::new();
    let r = req("/send/1/1", &[7u8; 100]);
    let head = r.len() - 100;
    f.send(TS, &r[..head + 10])
        .gap(TS, 50)
        .send(TS, &r[head + 60..]);
    f.send(TS, &req("/send/1/2", b"z"));
    let m = f.msgs();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].body.len(), 50);
    assert_eq!(m[0].body_lost, 50);
    assert!(!m[0].truncated);
    assert_eq!(m[1].body, b"z");
    assert!(f.anomalies().is_empty());
}

#[test]
fn gap_in_head_resyncs_and_response_pairs_with_newest_request() {
    let mut f = Feed::new();
    f.send(TS, &req("/send/1/1", b"a"));
    f.send(TS, &req("/send/1/2", b"b"));
    let r1 = resp(b"\x01one");
    f.send(TC, &r1[..10]).gap(TC, (r1.len() - 10) as u64);
    f.send(TC, &resp(b"\x01two"));
    let kinds: Vec<_> = f
        .out
        .iter()
        .filter_map(|e| match e {
            HttpEvent::Unanswered(r) => Some(r.target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["/send/1/1"]);
    let m: Vec<_> = f.msgs().into_iter().filter(|m| m.dir == TC).collect();
    assert_eq!(m.len(), 1);
    assert_eq!(target(m[0]), "/send/1/2");
    assert_eq!(f.anomalies(), ["http.resync"]);
}

#[test]
fn response_without_request_and_interim_and_head() {
    let mut f = Feed::new();
    f.send(TC, &resp(b"x"));
    assert_eq!(f.anomalies(), ["http.response_without_request"]);
    f.send(TS, b"HEAD / HTTP/1.1\r\n\r\n");
    f.send(
        TC,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    );
    f.send(TS, &req("/x", b""));
    f.send(TC, b"HTTP/1.0 404 Not Found\r\n\r\nbody until close");
    f.finish();
    let m: Vec<_> = f.msgs().into_iter().filter(|m| m.dir == TC).collect();
    assert_eq!(
        m.iter().map(|m| m.status().unwrap()).collect::<Vec<_>>(),
        [200, 100, 200, 404]
    );
    assert!(m[2].body.is_empty(), "HEAD response has no body");
    assert_eq!(m[3].body, b"body until close");
    assert!(!m[3].truncated);
    assert_eq!(f.anomalies().len(), 1);
}

#[test]
fn detection_of_http_first_bytes() {
    assert!(looks_like_http(TS, b"POST /open/1 HTTP/1.1\r\n"));
    assert!(looks_like_http(TS, b"GET "));
    assert!(looks_like_http(TC, b"HTTP/1.1 200"));
    assert!(!looks_like_http(TS, b"\x03\x00\x00\x00\x00"));
    assert!(!looks_like_http(TS, b"POS"));
    assert!(!looks_like_http(TS, b"\x16\x03\x01\x02\x00"));
    assert!(!looks_like_http(TC, b"HTTP/2"));
}

#[test]
fn arbitrary_bytes_never_panic_and_memory_stays_bounded() {
    // xorshift: deterministic pseudo-random input, mixed with fragments of
    // real messages so every state is reached.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: [&[u8]; 8] = [
        b"POST /send/1/",
        b"HTTP/1.1 200 OK\r\n",
        b"Content-Length: 99999999999999999999\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"\r\n\r\n",
        b"ffffffffffffffff\r\n",
        b"0\r\n\r\n",
        b"\n\n",
    ];
    for round in 0..300 {
        let mut f = Feed::new();
        for _ in 0..40 {
            let dir = if next() % 2 == 0 { TS } else { TC };
            let r = next();
            match r % 4 {
                0 => {
                    let p = pieces[(r >> 8) as usize % pieces.len()];
                    f.send(dir, p);
                }
                1 => {
                    let n = (r >> 8) as usize % 64;
                    let v: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                    f.send(dir, &v);
                }
                2 => {
                    f.gap(dir, (r >> 8) % 5000);
                }
                _ => {
                    let v = req("/idle/1/0", &[0u8; 3]);
                    f.send(dir, &v);
                }
            }
            assert!(f.c.sides.iter().all(|s| s.buf.len() <= MAX_HEAD_BYTES));
        }
        f.finish();
        assert!(round < 300);
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A keep-alive exchange: requests with Content-Length bodies, answers
    /// with Content-Length or chunked bodies.
    fn exchange(bodies: &[(Vec<u8>, Vec<u8>, bool)]) -> (Vec<u8>, Vec<u8>) {
        let (mut rq, mut rs) = (Vec::new(), Vec::new());
        for (i, (a, b, chunked)) in bodies.iter().enumerate() {
            rq.extend(req(&format!("/send/9/{i}"), a));
            if *chunked {
                rs.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for c in b.chunks(3) {
                    rs.extend(format!("{:x}\r\n", c.len()).into_bytes());
                    rs.extend_from_slice(c);
                    rs.extend_from_slice(b"\r\n");
                }
                rs.extend_from_slice(b"0\r\n\r\n");
            } else {
                rs.extend(resp(b));
            }
        }
        (rq, rs)
    }

    fn feed_split(f: &mut Feed, dir: Direction, data: &[u8], cuts: &[usize]) {
        let mut at = 0;
        for &c in cuts {
            let c = c % (data.len() + 1);
            if c > at {
                f.send(dir, &data[at..c]);
                at = c;
            }
        }
        f.send(dir, &data[at..]);
    }

    proptest! {
        /// However the bytes are segmented, the same messages come out,
        /// bodies intact, answers paired in order, no anomaly.
        #[test]
        fn segmentation_does_not_change_messages(
            bodies in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..40),
                 proptest::collection::vec(any::<u8>(), 0..40),
                 any::<bool>()), 1..6),
            cuts_q in proptest::collection::vec(0usize..2000, 0..12),
            cuts_r in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let (rq, rs) = exchange(&bodies);
            let mut cq = cuts_q.clone();
            cq.sort();
            let mut cr = cuts_r.clone();
            cr.sort();
            let mut f = Feed::new();
            feed_split(&mut f, TS, &rq, &cq);
            feed_split(&mut f, TC, &rs, &cr);
            prop_assert!(f.anomalies().is_empty(), "{:?}", f.anomalies());
            let reqs: Vec<_> = f.msgs().into_iter().filter(|m| m.dir == TS).collect();
            let resps: Vec<_> = f.msgs().into_iter().filter(|m| m.dir == TC).collect();
            prop_assert_eq!(reqs.len(), bodies.len());
            prop_assert_eq!(resps.len(), bodies.len());
            for (i, (a, b, _)) in bodies.iter().enumerate() {
                prop_assert_eq!(&reqs[i].body, a);
                prop_assert_eq!(&resps[i].body, b);
                let want = format!("/send/9/{}", i);
                prop_assert_eq!(target(resps[i]), want.as_str());
            }
        }
    }
}
