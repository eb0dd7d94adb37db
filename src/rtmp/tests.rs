//! Byte-vector tests of the chunk layer, handshake handling, mid-stream
//! inference, gaps and protocol control, written from the RTMP spec, plus a
//! property test of chunking/reassembly.

use super::handshake::{self, DigestScheme, HandshakePart, HANDSHAKE_SIZE};
use super::message::{Body, Control, Message, TruncationCause, UserControl};
use super::*;
use crate::time::PacketTime;
use crate::vocab::Severity;
use crate::vocab::{Anomaly, Direction, FlowProtocol, PacketRef};
use proptest::prelude::*;

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;

fn pkt(n: u64) -> PacketRef {
    PacketRef {
        pcap_cnt: n,
        time: PacketTime::new(1000 + n as i64 / 1000, (n % 1000) as u32 * 1_000_000),
    }
}

/// Basic header for (fmt, csid) in its shortest form.
fn basic(fmt: u8, csid: u32) -> Vec<u8> {
    let f = fmt << 6;
    if (2..=63).contains(&csid) {
        vec![f | csid as u8]
    } else if (64..=319).contains(&csid) {
        vec![f, (csid - 64) as u8]
    } else {
        let v = csid - 64;
        vec![f | 1, (v & 0xff) as u8, (v >> 8) as u8]
    }
}

fn be24(v: u32) -> [u8; 3] {
    let b = v.to_be_bytes();
    [b[1], b[2], b[3]]
}

/// One message header (no payload). `ts` is the absolute timestamp (fmt 0)
/// or the delta (fmt 1/2); values >= 0xFFFFFF use the extended field.
fn header(fmt: u8, csid: u32, ts: u32, len: u32, t: u8, msid: u32) -> Vec<u8> {
    let mut v = basic(fmt, csid);
    let field = ts.min(0xFF_FFFF);
    if fmt <= 2 {
        v.extend_from_slice(&be24(field));
    }
    if fmt <= 1 {
        v.extend_from_slice(&be24(len));
        v.push(t);
    }
    if fmt == 0 {
        v.extend_from_slice(&msid.to_le_bytes());
    }
    if fmt <= 2 && field == 0xFF_FFFF {
        v.extend_from_slice(&ts.to_be_bytes());
    }
    v
}

/// The chunks of one message: the first with `first` header bytes, the
/// others with fmt 3 headers (plus the repeated extended timestamp when
/// `ets` is Some).
fn chunks(first: Vec<u8>, csid: u32, body: &[u8], cs: usize, ets: Option<u32>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if body.is_empty() {
        out.push(first);
        return out;
    }
    for (i, c) in body.chunks(cs).enumerate() {
        let mut v = if i == 0 {
            first.clone()
        } else {
            let mut h = basic(3, csid);
            if let Some(e) = ets {
                h.extend_from_slice(&e.to_be_bytes());
            }
            h
        };
        v.extend_from_slice(c);
        out.push(v);
    }
    out
}

fn msg0(csid: u32, ts: u32, t: u8, msid: u32, body: &[u8], cs: usize) -> Vec<u8> {
    let ets = (ts >= 0xFF_FFFF).then_some(ts);
    chunks(
        header(0, csid, ts, body.len() as u32, t, msid),
        csid,
        body,
        cs,
        ets,
    )
    .concat()
}

fn simple_handshake_part(seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; HANDSHAKE_SIZE];
    v[0..4].copy_from_slice(&[0, 0, 0, seed]);
    for (i, b) in v.iter_mut().enumerate().skip(8) {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    v
}

/// C0C1C2 and S0S1S2 of a simple handshake whose echoes are right.
fn simple_handshake() -> (Vec<u8>, Vec<u8>) {
    let c1 = simple_handshake_part(1);
    let s1 = simple_handshake_part(2);
    let mut c = vec![3u8];
    c.extend_from_slice(&c1);
    c.extend_from_slice(&s1);
    let mut s = vec![3u8];
    s.extend_from_slice(&s1);
    s.extend_from_slice(&c1);
    (c, s)
}

fn feed(
    conn: &mut Connection,
    dir: Direction,
    start: u64,
    bytes: &[u8],
    piece: usize,
    n0: u64,
) -> Vec<RtmpEvent> {
    let mut out = Vec::new();
    let mut off = start;
    for (i, p) in bytes.chunks(piece.max(1)).enumerate() {
        conn.handle_data(dir, off, p, pkt(n0 + i as u64), &mut out);
        off += p.len() as u64;
    }
    out
}

fn messages(ev: &[RtmpEvent]) -> Vec<&Message> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            RtmpEventKind::Message(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

fn anomalies<'a>(ev: &'a [RtmpEvent], name: &str) -> Vec<&'a Anomaly> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            RtmpEventKind::Anomaly(a) if a.name == name => Some(a),
            _ => None,
        })
        .collect()
}

/// Body bytes of a message read back from the stream through its chunk list.
fn body_of(m: &Message, stream: &[u8], base: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for c in &m.chunks {
        let s = (c.payload.start - base) as usize;
        let e = (c.payload.end - base) as usize;
        v.extend_from_slice(&stream[s..e]);
    }
    v
}

/// A connection past a simple handshake in both directions; returns it and
/// the stream offset where chunks start (3073).
fn after_handshake() -> (Connection, u64) {
    after_handshake_with(Limits::default())
}

fn after_handshake_with(limits: Limits) -> (Connection, u64) {
    let mut c = Connection::new(limits, false);
    let (cb, sb) = simple_handshake();
    let mut out = Vec::new();
    c.handle_data(TS, 0, &cb[..1537], pkt(1), &mut out);
    c.handle_data(TC, 0, &sb, pkt(2), &mut out);
    c.handle_data(TS, 1537, &cb[1537..], pkt(3), &mut out);
    assert_eq!(c.protocol(), FlowProtocol::Rtmp);
    (c, handshake::HANDSHAKE_TOTAL as u64)
}

#[test]
fn basic_header_forms_give_real_csids() {
    let (mut c, base) = after_handshake();
    let mut stream = Vec::new();
    let ids = [2u32, 63, 64, 319, 320, 65599];
    for (i, &id) in ids.iter().enumerate() {
        stream.extend(msg0(id, i as u32, 20, 0, &[0x05, i as u8], 128));
    }
    // 3-byte form for a csid that also fits 2 bytes.
    stream.extend_from_slice(&[0x01, 6, 0]);
    stream.extend_from_slice(&[0, 0, 9, 0, 0, 1, 20, 0, 0, 0, 0, 0x05]);
    let ev = feed(&mut c, TS, base, &stream, 5, 10);
    let ms = messages(&ev);
    let got: Vec<u32> = ms.iter().map(|m| m.csid).collect();
    assert_eq!(got, vec![2, 63, 64, 319, 320, 65599, 70]);
    // Header ranges include 1, 2 or 3 basic header bytes + 11.
    let hl: Vec<u64> = ms.iter().map(|m| m.chunks[0].header.len()).collect();
    assert_eq!(hl, vec![12, 12, 13, 13, 14, 14, 14]);
    assert_eq!(ms[3].timestamp, 3);
    assert_eq!(ms[6].timestamp, 9);
}

#[test]
fn fmt_inheritance_per_csid() {
    let (mut c, base) = after_handshake();
    let mut s = Vec::new();
    s.extend(header(0, 6, 1000, 3, 9, 1));
    s.extend_from_slice(&[0x17, 0, 0]);
    s.extend(header(1, 6, 20, 4, 8, 0));
    s.extend_from_slice(&[0xAF, 1, 2, 3]);
    s.extend(header(2, 6, 30, 0, 0, 0));
    s.extend_from_slice(&[0xAF, 1, 2, 4]);
    s.extend(header(3, 6, 0, 0, 0, 0));
    s.extend_from_slice(&[0xAF, 1, 2, 5]);
    // Another csid keeps its own state.
    s.extend(header(0, 4, 7, 1, 8, 5));
    s.push(0xAF);
    s.extend(header(3, 4, 0, 0, 0, 0));
    s.push(0xAE);
    let ev = feed(&mut c, TS, base, &s, 3, 10);
    let ms = messages(&ev);
    let v: Vec<(u8, u32, u32, u8, u32, u32)> = ms
        .iter()
        .map(|m| {
            (
                m.fmt,
                m.timestamp,
                m.timestamp_delta,
                m.type_id,
                m.msid,
                m.length,
            )
        })
        .collect();
    assert_eq!(
        v,
        vec![
            (0, 1000, 0, 9, 1, 3),
            (1, 1020, 20, 8, 1, 4),
            (2, 1050, 30, 8, 1, 4),
            (3, 1080, 30, 8, 1, 4),
            (0, 7, 0, 8, 5, 1),
            // fmt 3 after fmt 0 repeats the fmt 0 timestamp field.
            (3, 14, 7, 8, 5, 1),
        ]
    );
    assert_eq!(body_of(ms[3], &s, base), vec![0xAF, 1, 2, 5]);
}

#[test]
fn extended_timestamps_fmt0_absolute_fmt12_delta() {
    let (mut c, base) = after_handshake();
    let mut s = Vec::new();
    s.extend(msg0(6, 0x0100_0000, 9, 1, &[0x17, 0], 128));
    // fmt 1 with an extended delta: a delta (W2), not absolute.
    s.extend(header(1, 6, 0x0100_0005, 2, 9, 0));
    s.extend_from_slice(&[0x27, 1]);
    s.extend(header(2, 6, 0x00FF_FFFF, 0, 0, 0));
    s.extend_from_slice(&[0x27, 2]);
    let ev = feed(&mut c, TS, base, &s, 7, 10);
    let ms = messages(&ev);
    assert_eq!(ms.len(), 3);
    assert_eq!(ms[0].timestamp, 0x0100_0000);
    assert!(ms[0].extended_timestamp);
    assert_eq!(ms[1].timestamp, 0x0200_0005);
    assert_eq!(ms[1].timestamp_delta, 0x0100_0005);
    assert_eq!(ms[2].timestamp, 0x0200_0005u32.wrapping_add(0xFF_FFFF));
    assert!(ms[2].extended_timestamp);
}

fn fmt3_ets_case(repeat: bool) {
    let (mut c, base) = after_handshake();
    let body: Vec<u8> = (0..300u32).map(|i| (i * 3) as u8).collect();
    let ts = 0x0123_4567;
    let s = chunks(
        header(0, 6, ts, 300, 9, 1),
        6,
        &body,
        128,
        repeat.then_some(ts),
    )
    .concat();
    // A second message on the same csid with fmt 3 and the same convention.
    let mut s2 = s.clone();
    let mut h = basic(3, 6);
    if repeat {
        h.extend_from_slice(&ts.to_be_bytes());
    }
    s2.extend(chunks(h, 6, &body, 128, repeat.then_some(ts)).concat());
    let ev = feed(&mut c, TS, base, &s2, 50, 10);
    let ms = messages(&ev);
    assert_eq!(ms.len(), 2);
    for m in &ms {
        assert_eq!(m.length, 300);
        assert_eq!(m.chunk_count(), 3);
        assert!(m.truncated.is_none());
        assert_eq!(body_of(m, &s2, base), body);
    }
    assert_eq!(ms[0].timestamp, ts);
    assert_eq!(ms[1].timestamp, ts.wrapping_add(ts));
    let (yes, no) = if repeat {
        (
            "rtmp.chunk.fmt3_ets_repeated",
            "rtmp.chunk.fmt3_ets_omitted",
        )
    } else {
        (
            "rtmp.chunk.fmt3_ets_omitted",
            "rtmp.chunk.fmt3_ets_repeated",
        )
    };
    assert_eq!(anomalies(&ev, yes).len(), 1);
    assert!(anomalies(&ev, no).is_empty());
}

#[test]
fn fmt3_extended_timestamp_repeated() {
    fmt3_ets_case(true);
}

#[test]
fn fmt3_extended_timestamp_omitted() {
    fmt3_ets_case(false);
}

#[test]
fn chunk_size_changes_up_to_2_31_and_large_messages() {
    let (mut c, base) = after_handshake();
    let mut s = Vec::new();
    s.extend(msg0(2, 0, 1, 0, &60000u32.to_be_bytes(), 128));
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    s.extend(msg0(6, 40, 9, 1, &big, 60000));
    s.extend(msg0(2, 0, 1, 0, &0x7FFF_FFFFu32.to_be_bytes(), 60000));
    s.extend(msg0(6, 80, 9, 1, &big, 0x7FFF_FFFF));
    // Invalid sizes: top bit set, then zero. The size stays 2^31-1.
    s.extend(msg0(2, 0, 1, 0, &0x8000_0000u32.to_be_bytes(), 1 << 30));
    s.extend(msg0(2, 0, 1, 0, &0u32.to_be_bytes(), 1 << 30));
    s.extend(msg0(6, 120, 9, 1, &big, 1 << 30));
    let ev = feed(&mut c, TS, base, &s, 1460, 10);
    let ms = messages(&ev);
    let media: Vec<&&Message> = ms.iter().filter(|m| m.type_id == 9).collect();
    assert_eq!(media.len(), 3);
    assert_eq!(media[0].chunk_count(), 2);
    assert_eq!(media[1].chunk_count(), 1);
    assert_eq!(media[2].chunk_count(), 1);
    for m in &media {
        assert_eq!(body_of(m, &s, base), big);
    }
    // Each invalid Set Chunk Size is reported once, by the one rule, and
    // shown as ignored.
    assert_eq!(anomalies(&ev, "rtmp.control.chunk_size_top_bit").len(), 1);
    assert_eq!(anomalies(&ev, "rtmp.control.chunk_size_zero").len(), 1);
    assert_eq!(anomalies(&ev, "rtmp.control.bad_chunk_size").len(), 0);
    let scs: Vec<&Body> = ms
        .iter()
        .filter(|m| m.type_id == 1)
        .map(|m| &m.body)
        .collect();
    assert_eq!(
        scs,
        [
            &Body::Control(Control::SetChunkSize {
                size: 60000,
                ignored: false
            }),
            &Body::Control(Control::SetChunkSize {
                size: 0x7FFF_FFFF,
                ignored: false
            }),
            &Body::Control(Control::SetChunkSize {
                size: 0x8000_0000,
                ignored: true
            }),
            &Body::Control(Control::SetChunkSize {
                size: 0,
                ignored: true
            }),
        ]
    );
    assert_eq!(c.chunk_size(TS), 0x7FFF_FFFF);
    assert_eq!(c.chunk_size(TC), 128);
}

#[test]
fn interleaved_chunk_streams() {
    let (mut c, base) = after_handshake();
    let a: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let b: Vec<u8> = (0..500u32).map(|i| (i * 7) as u8).collect();
    let ca = chunks(header(0, 4, 10, 300, 8, 1), 4, &a, 128, None);
    let cb = chunks(header(0, 6, 20, 500, 9, 1), 6, &b, 128, None);
    let mut s = Vec::new();
    for i in 0..ca.len().max(cb.len()) {
        if let Some(x) = cb.get(i) {
            s.extend_from_slice(x);
        }
        if let Some(x) = ca.get(i) {
            s.extend_from_slice(x);
        }
    }
    let ev = feed(&mut c, TS, base, &s, 13, 10);
    let ms = messages(&ev);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].csid, 4);
    assert_eq!(body_of(ms[0], &s, base), a);
    assert_eq!(ms[1].csid, 6);
    assert_eq!(body_of(ms[1], &s, base), b);
    assert_eq!(ms[1].first_byte, base);
    assert_eq!(ms[1].last_byte, base + s.len() as u64 - 1);
}

#[test]
fn abort_discards_partial_message() {
    let (mut c, base) = after_handshake();
    let body: Vec<u8> = vec![0x27; 300];
    let ch = chunks(header(0, 6, 0, 300, 9, 1), 6, &body, 128, None);
    let mut s = ch[0].clone();
    s.extend(msg0(2, 0, 2, 0, &6u32.to_be_bytes(), 128));
    s.extend(msg0(6, 40, 9, 1, &[0x17, 1], 128));
    let ev = feed(&mut c, TS, base, &s, 100, 10);
    let ms = messages(&ev);
    assert_eq!(ms.len(), 3);
    let aborted = ms.iter().find(|m| m.truncated.is_some()).unwrap();
    let t = aborted.truncated.unwrap();
    assert_eq!(t.cause, TruncationCause::Aborted);
    assert_eq!((t.received, t.lost), (128, 172));
    assert_eq!(anomalies(&ev, "rtmp.abort").len(), 1);
    assert_eq!(ms[2].length, 2);
    assert!(ms[2].truncated.is_none());
}

#[test]
fn gap_truncates_then_resyncs() {
    let (mut c, base) = after_handshake();
    let mut s = Vec::new();
    let mut starts = Vec::new();
    for k in 0..30u32 {
        starts.push(s.len());
        let body: Vec<u8> = std::iter::once(0x27u8)
            .chain((0..400 + k * 10).map(|i| (i * 5) as u8))
            .collect();
        s.extend(msg0(6, k * 40, 9, 1, &body, 128));
        s.extend(msg0(4, k * 40, 8, 1, &[0xAF, 1, 9, 9], 128));
    }
    let cut = starts[10] + 200; // inside message 10's video
    let gap_len = 333;
    let mut ev = feed(&mut c, TS, base, &s[..cut], 97, 10);
    let mut out = Vec::new();
    c.handle_gap(TS, base + cut as u64, gap_len, pkt(500), &mut out);
    ev.extend(out);
    let rest = cut + gap_len as usize;
    ev.extend(feed(&mut c, TS, base + rest as u64, &s[rest..], 97, 600));
    let mut fin = Vec::new();
    c.finish(pkt(9999), &mut fin);
    ev.extend(fin);
    let ms = messages(&ev);
    let tr: Vec<&&Message> = ms.iter().filter(|m| m.truncated.is_some()).collect();
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].truncated.unwrap().cause, TruncationCause::Gap);
    assert_eq!(tr[0].timestamp, 400);
    assert_eq!(anomalies(&ev, "rtmp.gap_truncated").len(), 1);
    let rs = anomalies(&ev, "rtmp.resync");
    assert_eq!(rs.len(), 1);
    // All later video messages decode whole, with right bodies.
    let later: Vec<&&Message> = ms
        .iter()
        .filter(|m| m.type_id == 9 && m.truncated.is_none() && m.timestamp > 400)
        .collect();
    assert!(later.len() >= 18, "{}", later.len());
    for m in &later {
        let k = m.timestamp / 40;
        assert_eq!(m.length, 401 + k * 10);
        assert_eq!(body_of(m, &s, base)[0], 0x27);
    }
    assert_eq!(later.last().unwrap().timestamp, 29 * 40);
}

fn media_stream(cs: usize, n: u32) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(msg0(2, 0, 1, 0, &(cs as u32).to_be_bytes(), 128));
    for k in 0..n {
        let mut body = vec![if k % 10 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.extend((0..(2000 + (k * 397) % 9000) as usize).map(|i| (i as u8) ^ (k as u8)));
        s.extend(msg0(6, k * 40, 9, 1, &body, cs));
        s.extend(msg0(4, k * 40 + 5, 8, 1, &[0xAF, 1, k as u8, 2, 3], cs));
    }
    s
}

#[test]
fn midstream_inference_chunk_size_4096() {
    let full = media_stream(4096, 60);
    let from = 20_000 + 777;
    let tail = &full[from..];
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, tail, 1448, 10);
    let mut fin = Vec::new();
    c.finish(pkt(9999), &mut fin);
    ev.extend(fin);
    assert_eq!(c.protocol(), FlowProtocol::RtmpMidstream);
    let inf = anomalies(&ev, "rtmp.midstream.inferred");
    assert_eq!(inf.len(), 1);
    assert!(
        inf[0].detail.contains("chunk size 4096"),
        "{}",
        inf[0].detail
    );
    assert_eq!(c.chunk_size(TS), 4096);
    let ms = messages(&ev);
    let video: Vec<&&Message> = ms.iter().filter(|m| m.type_id == 9).collect();
    // Every video message after the pickup point decodes, in order, ending with the last.
    assert!(video.len() >= 50, "{}", video.len());
    assert_eq!(video.last().unwrap().timestamp, 59 * 40);
    for m in &video {
        let k = m.timestamp / 40;
        assert_eq!(m.length, 5 + 2000 + (k * 397) % 9000);
        assert!(m.truncated.is_none());
        let b = body_of(m, tail, 0);
        assert_eq!(b[5], k as u8);
    }
}

#[test]
fn midstream_flow_starting_with_handshake_is_handshake() {
    let (cb, _) = simple_handshake();
    let mut s = cb.clone();
    s.extend(msg0(2, 0, 1, 0, &4096u32.to_be_bytes(), 128));
    s.extend(msg0(
        3,
        0,
        20,
        0,
        b"\x02\x00\x07connect\x00\x3f\xf0\0\0\0\0\0\0",
        4096,
    ));
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, &s, 1000, 10);
    let mut fin = Vec::new();
    c.finish(pkt(999), &mut fin);
    ev.extend(fin);
    let parts: Vec<HandshakePart> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            RtmpEventKind::Handshake(h) => Some(h.part),
            _ => None,
        })
        .collect();
    assert_eq!(
        parts,
        vec![HandshakePart::C0, HandshakePart::C1, HandshakePart::C2]
    );
    assert_eq!(messages(&ev).len(), 2);
    assert_eq!(c.chunk_size(TS), 4096);
}

fn hs_events(ev: &[RtmpEvent]) -> Vec<&handshake::HandshakeEvent> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            RtmpEventKind::Handshake(h) => Some(h),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_splits() {
    let (cb, sb) = simple_handshake();
    let mut c = Connection::new(Limits::default(), false);
    let mut out = Vec::new();
    // C0+C1 together.
    c.handle_data(TS, 0, &cb[..1537], pkt(1), &mut out);
    // Lone S0.
    c.handle_data(TC, 0, &sb[..1], pkt(2), &mut out);
    let hs = hs_events(&out);
    assert_eq!(hs.len(), 3);
    assert_eq!(hs[0].part, HandshakePart::C0);
    assert_eq!(hs[1].part, HandshakePart::C1);
    assert_eq!(hs[1].kind, Some("simple"));
    assert_eq!(hs[1].range, ByteRange::new(1, 1537));
    assert_eq!(hs[2].part, HandshakePart::S0);
    assert_eq!(hs[2].version_byte, Some(3));
    // S1+S2 together, then C2 in odd pieces.
    c.handle_data(TC, 1, &sb[1..], pkt(3), &mut out);
    let ev = feed(&mut c, TS, 1537, &cb[1537..], 700, 4);
    out.extend(ev);
    let hs = hs_events(&out);
    let parts: Vec<HandshakePart> = hs.iter().map(|h| h.part).collect();
    assert_eq!(
        parts,
        vec![
            HandshakePart::C0,
            HandshakePart::C1,
            HandshakePart::S0,
            HandshakePart::S1,
            HandshakePart::S2,
            HandshakePart::C2
        ]
    );
    assert_eq!(hs[4].echo_ok, Some(true));
    assert_eq!(hs[5].echo_ok, Some(true));
    assert_eq!(hs[5].range, ByteRange::new(1537, 3073));
    assert_eq!(c.protocol(), FlowProtocol::Rtmp);

    // S0+S1+S2 in one piece with a wrong S2 echo.
    let mut c = Connection::new(Limits::default(), false);
    let mut out = Vec::new();
    c.handle_data(TS, 0, &cb[..1537], pkt(1), &mut out);
    let mut bad = sb.clone();
    bad[2000] ^= 0xff;
    c.handle_data(TC, 0, &bad, pkt(2), &mut out);
    let hs = hs_events(&out);
    assert_eq!(hs.len(), 5);
    assert_eq!(hs[4].part, HandshakePart::S2);
    // Simple handshake, not an echo: unverifiable (no digest to check).
    assert_eq!(hs[4].echo_ok, None);
    assert_eq!(anomalies(&out, "rtmp.handshake.echo_unverified").len(), 1);
}

#[test]
fn rtmpe_is_detected_and_not_dissected() {
    for v in [6u8, 8] {
        let mut c = Connection::new(Limits::default(), false);
        let mut out = Vec::new();
        let mut data = vec![v];
        data.extend(std::iter::repeat_n(0x03u8, 3000));
        c.handle_data(TS, 0, &data, pkt(1), &mut out);
        c.handle_data(TC, 0, &data, pkt(2), &mut out);
        assert_eq!(c.protocol(), FlowProtocol::RtmpEncrypted);
        assert_eq!(anomalies(&out, "rtmp.encrypted").len(), 1);
        assert!(messages(&out).is_empty());
        assert_eq!(hs_events(&out).len(), 1);
    }
}

fn digest_c1(client: bool, scheme: DigestScheme) -> Vec<u8> {
    let mut c1: Vec<u8> = (0..HANDSHAKE_SIZE).map(|i| (i * 13 + 5) as u8).collect();
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    let key: &[u8] = if client {
        handshake::CLIENT_KEY
    } else {
        handshake::SERVER_KEY
    };
    let off = handshake::digest_offset(&c1, scheme).unwrap();
    let d = handshake::compute_c1_digest(&c1, off, key).unwrap();
    c1[off..off + 32].copy_from_slice(&d);
    c1
}

#[test]
fn digest_handshake_validated_end_to_end() {
    let c1 = digest_c1(true, DigestScheme::Offset772);
    let s1 = digest_c1(false, DigestScheme::Offset8);
    let cd = handshake::find_valid_digest(&c1, handshake::CLIENT_KEY)
        .unwrap()
        .2;
    let sd = handshake::find_valid_digest(&s1, handshake::SERVER_KEY)
        .unwrap()
        .2;
    let mut s2: Vec<u8> = (0..HANDSHAKE_SIZE).map(|i| (i * 3) as u8).collect();
    let sig = handshake::response_signature(&s2[..1504], &cd, false);
    s2[1504..].copy_from_slice(&sig);
    let mut c2: Vec<u8> = (0..HANDSHAKE_SIZE).map(|i| (i * 11) as u8).collect();
    let sig = handshake::response_signature(&c2[..1504], &sd, true);
    c2[1504..].copy_from_slice(&sig);

    let run = |c1: &[u8], c2: &[u8]| {
        let mut c = Connection::new(Limits::default(), false);
        let mut out = Vec::new();
        let mut cb = vec![3u8];
        cb.extend_from_slice(c1);
        c.handle_data(TS, 0, &cb, pkt(1), &mut out);
        let mut sb = vec![3u8];
        sb.extend_from_slice(&s1);
        sb.extend_from_slice(&s2);
        c.handle_data(TC, 0, &sb, pkt(2), &mut out);
        c.handle_data(TS, 1537, c2, pkt(3), &mut out);
        out
    };
    let out = run(&c1, &c2);
    let hs = hs_events(&out);
    assert_eq!(hs[1].part, HandshakePart::C1);
    assert_eq!(hs[1].kind, Some("digest"));
    assert_eq!(hs[1].peer_version.as_deref(), Some("9.0.124.2"));
    let d = hs[1].digest.unwrap();
    assert!(d.valid);
    assert_eq!(d.scheme, DigestScheme::Offset772);
    assert!(hs[3].digest.unwrap().valid);
    assert_eq!(hs[4].echo_ok, Some(true)); // S2 signature
    assert_eq!(hs[5].echo_ok, Some(true)); // C2 signature
    assert!(anomalies(&out, "rtmp.handshake.bad_digest").is_empty());

    // Corrupted C1: bad digest; S2 can no longer be verified.
    let mut bad = c1.clone();
    bad[1200] ^= 1;
    let mut c2b = c2.clone();
    c2b[10] ^= 1;
    let out = run(&bad, &c2b);
    let hs = hs_events(&out);
    assert!(!hs[1].digest.unwrap().valid);
    assert_eq!(anomalies(&out, "rtmp.handshake.bad_digest").len(), 1);
    assert_eq!(hs[4].echo_ok, None);
    assert_eq!(hs[5].echo_ok, Some(false));
    assert_eq!(anomalies(&out, "rtmp.handshake.bad_echo").len(), 1);
}

#[test]
fn acknowledgement_checks() {
    let (mut c, base) = after_handshake();
    // Server announces a window of 1000 bytes.
    let was = msg0(2, 0, 5, 0, &1000u32.to_be_bytes(), 128);
    let mut ev = feed(&mut c, TC, base, &was, 1000, 10);
    let mut soff = base + was.len() as u64;
    assert_eq!(c.window(TC).0, Some(1000));
    // Server sends 1200 bytes of media: within window + slack.
    let media = msg0(6, 0, 9, 1, &vec![0x27; 1188], 128);
    ev.extend(feed(&mut c, TC, soff, &media, 1500, 20));
    soff += media.len() as u64;
    assert!(anomalies(&ev, "rtmp.ack.late").is_empty());
    // Client acks exactly what it received: fine.
    let ack = msg0(2, 0, 3, 0, &(soff as u32).to_be_bytes(), 128);
    ev.extend(feed(&mut c, TS, base, &ack, 100, 30));
    assert!(anomalies(&ev, "rtmp.ack.beyond_received").is_empty());
    // Acking bytes never sent.
    let ack2 = msg0(2, 0, 3, 0, &(soff as u32 + 500).to_be_bytes(), 128);
    ev.extend(feed(&mut c, TS, base + ack.len() as u64, &ack2, 100, 40));
    assert_eq!(anomalies(&ev, "rtmp.ack.beyond_received").len(), 1);
    // 2000 more bytes without an ack: late, reported once.
    let media2 = msg0(6, 40, 9, 1, &vec![0x27; 1000], 128);
    for i in 0..2 {
        ev.extend(feed(&mut c, TC, soff, &media2, 1500, 50 + i));
        soff += media2.len() as u64;
    }
    assert_eq!(anomalies(&ev, "rtmp.ack.late").len(), 1);
}

#[test]
fn ping_request_response_rtt() {
    let (mut c, base) = after_handshake();
    let mut req = vec![0u8, 6];
    req.extend_from_slice(&12345u32.to_be_bytes());
    let mut resp = vec![0u8, 7];
    resp.extend_from_slice(&12345u32.to_be_bytes());
    let r = msg0(2, 0, 4, 0, &req, 128);
    let mut out = Vec::new();
    c.handle_data(TC, base, &r, pkt(100), &mut out);
    // The body decoder is separate; give the response a decoded body.
    let p = msg0(2, 0, 4, 0, &resp, 128);
    let mut m = Message {
        fmt: 0,
        csid: 2,
        type_id: 4,
        msid: 0,
        msid_unknown: false,
        timestamp: 0,
        timestamp_delta: 0,
        timestamp_estimate: None,
        extended_timestamp: false,
        length: 6,
        first_byte: base,
        last_byte: base + p.len() as u64 - 1,
        chunks: Default::default(),
        time: pkt(142).time,
        truncated: None,
        body: Body::UserControl(UserControl {
            event_type: 7,
            event: "ping_response",
            stream_id: None,
            buffer_length_ms: None,
            timestamp: Some(12345),
            rtt_us: None,
            raw: None,
        }),
    };
    c.control_effects(TS, &mut m, pkt(142), &mut out);
    let Body::UserControl(u) = &m.body else {
        panic!()
    };
    assert_eq!(u.rtt_us, Some(42_000));
    // Paired once only.
    let mut m2 = m.clone();
    if let Body::UserControl(u) = &mut m2.body {
        u.rtt_us = None;
    }
    c.control_effects(TS, &mut m2, pkt(150), &mut out);
    let Body::UserControl(u) = &m2.body else {
        panic!()
    };
    assert_eq!(u.rtt_us, None);
}

#[test]
fn timestamp_backwards_warns() {
    let (mut c, base) = after_handshake();
    let mut s = msg0(6, 100, 9, 1, &[0x17, 0], 128);
    s.extend(msg0(6, 50, 9, 1, &[0x27, 0], 128));
    s.extend(msg0(4, 10, 8, 1, &[0xAF, 0], 128));
    let ev = feed(&mut c, TS, base, &s, 1000, 10);
    assert_eq!(anomalies(&ev, "rtmp.timestamp_backwards").len(), 1);
}

#[test]
fn unknown_csid_reported_and_resynced() {
    let (mut c, base) = after_handshake();
    let mut s = header(2, 9, 10, 0, 0, 0);
    s.extend_from_slice(&[1, 2, 3]);
    for k in 0..12u32 {
        s.extend(msg0(6, k, 9, 1, &[0x27, 1, 2, 3, 4], 128));
    }
    let mut ev = feed(&mut c, TS, base, &s, 4000, 10);
    let mut fin = Vec::new();
    c.finish(pkt(99), &mut fin);
    ev.extend(fin);
    assert_eq!(anomalies(&ev, "rtmp.chunk.unknown_csid").len(), 1);
    assert_eq!(anomalies(&ev, "rtmp.resync").len(), 1);
    assert_eq!(messages(&ev).len(), 12);
}

#[test]
fn not_rtmp_is_left_alone() {
    let mut c = Connection::new(Limits::default(), false);
    let mut req = Vec::new();
    for _ in 0..100 {
        req.extend_from_slice(
            b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        );
    }
    let ev = feed(&mut c, TS, 0, &req, 1400, 1);
    assert_eq!(c.protocol(), FlowProtocol::NotRtmp);
    assert!(messages(&ev).is_empty());
    // Further bytes are ignored cheaply.
    let ev = feed(&mut c, TC, 0, b"HTTP/1.1 200 OK\r\n\r\n", 100, 200);
    assert!(ev.is_empty());
}

#[test]
fn partial_bytes_limit() {
    let limits = Limits {
        max_partial_bytes: 1000,
        max_chunk_streams: 8,
        ..Limits::default()
    };
    let (mut c, base) = after_handshake_with(limits);
    // An AVC sequence header: a body the chunk layer keeps whole (of
    // coded frames it keeps the header only).
    let mut big = vec![0x27u8; 5000];
    big[..2].copy_from_slice(&[0x17, 0x00]);
    let mut s = msg0(6, 0, 9, 1, &big, 128);
    s.extend(msg0(4, 1, 8, 1, &[0xAF, 1], 128));
    let ev = feed(&mut c, TS, base, &s, 500, 10);
    assert_eq!(anomalies(&ev, "rtmp.limit.partial_bytes").len(), 1);
    let ms = messages(&ev);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].truncated.unwrap().cause, TruncationCause::Limit);
    assert!(ms[0].truncated.unwrap().received <= 1000);
    assert_eq!(ms[1].type_id, 8);
    assert!(ms[1].truncated.is_none());
}

// ---------------------------------------------------------------------------
// Property test: random messages, chunked at random sizes, interleaved across
// chunk streams, cut into random segments, decode back to the same messages.

#[derive(Clone, Debug)]
struct PMsg {
    csid: u32,
    t: u8,
    msid: u32,
    ts: u32,
    body: Vec<u8>,
}

fn pmsg() -> impl Strategy<Value = PMsg> {
    (
        prop::sample::select(vec![3u32, 4, 5, 6, 63, 64, 300, 320, 65599]),
        prop::sample::select(vec![8u8, 9, 18, 20]),
        0u32..4,
        prop::sample::select(vec![0u32, 1, 1000, 0xFF_FFFE, 0xFF_FFFF, 0x1234_5678]),
        prop::collection::vec(any::<u8>(), 0..700),
    )
        .prop_map(|(csid, t, msid, ts, body)| PMsg {
            csid,
            t,
            msid,
            ts,
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn chunked_messages_round_trip(
        msgs in prop::collection::vec(pmsg(), 1..20),
        cs in prop::sample::select(vec![1u32, 2, 7, 64, 128, 129, 500, 4096]),
        seg in 1usize..300,
        repeat_ets in any::<bool>(),
    ) {
        let (mut c, base) = after_handshake();
        let mut stream = msg0(2, 0, 1, 0, &cs.to_be_bytes(), 128);
        // Messages on different csids interleave chunk by chunk; one csid
        // carries one message at a time (queued in order).
        let mut queues: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
        let mut expected: Vec<(u32, usize)> = Vec::new(); // (csid, index) in completion order is checked per csid
        for (i, m) in msgs.iter().enumerate() {
            let ets = (m.ts >= 0xFF_FFFF).then_some(m.ts);
            let h = header(0, m.csid, m.ts, m.body.len() as u32, m.t, m.msid);
            let ch = chunks(h, m.csid, &m.body, cs as usize, if repeat_ets { ets } else { None });
            match queues.iter_mut().find(|(id, _)| *id == m.csid) {
                Some((_, q)) => q.extend(ch),
                None => queues.push((m.csid, ch)),
            }
            expected.push((m.csid, i));
        }
        let mut idx = vec![0usize; queues.len()];
        loop {
            let mut any = false;
            for (qi, (_, q)) in queues.iter().enumerate() {
                if let Some(x) = q.get(idx[qi]) {
                    stream.extend_from_slice(x);
                    idx[qi] += 1;
                    any = true;
                }
            }
            if !any { break; }
        }
        let mut ev = feed(&mut c, TS, base, &stream, seg, 10);
        // The flow ends: a last fmt 3 chunk whose ETS convention was still
        // unknown is decided then.
        c.finish(pkt(100_000), &mut ev);
        let ms = messages(&ev);
        let got: Vec<&&Message> = ms.iter().filter(|m| m.type_id != 1).collect();
        prop_assert_eq!(got.len(), msgs.len());
        for id in queues.iter().map(|(id, _)| *id) {
            let want: Vec<&PMsg> = msgs.iter().filter(|m| m.csid == id).collect();
            let have: Vec<&&&Message> = got.iter().filter(|m| m.csid == id).collect();
            prop_assert_eq!(want.len(), have.len());
            for (w, h) in want.iter().zip(have) {
                prop_assert_eq!(h.type_id, w.t);
                prop_assert_eq!(h.msid, w.msid);
                prop_assert_eq!(h.timestamp, w.ts);
                prop_assert_eq!(h.length as usize, w.body.len());
                prop_assert!(h.truncated.is_none());
                prop_assert_eq!(body_of(h, &stream, base), w.body.clone());
            }
        }
        let _ = expected;
        // Everything completed: nothing is held against the cap.
        prop_assert_eq!(c.dirs[0].dec.partial_bytes(), 0);
    }
}

/// Found by the round-trip property: the last chunk of the flow is a fmt 3
/// chunk after an extended timestamp, with fewer than 4 bytes left, so the
/// repeated-ETS peek can only be decided when the flow ends.
#[test]
fn fmt3_ets_peek_decided_at_end_of_flow() {
    let (mut c, base) = after_handshake();
    let mut stream = msg0(2, 0, 1, 0, &7u32.to_be_bytes(), 128);
    let body = [0u8; 8];
    for ch in chunks(header(0, 3, 0xFF_FFFF, 8, 8, 0), 3, &body, 7, None) {
        stream.extend_from_slice(&ch);
    }
    let mut ev = feed(&mut c, TS, base, &stream, 1, 10);
    assert!(
        messages(&ev).iter().all(|m| m.type_id != 8),
        "undecidable before the end"
    );
    c.finish(pkt(1000), &mut ev);
    let audio: Vec<&Message> = messages(&ev)
        .into_iter()
        .filter(|m| m.type_id == 8)
        .collect();
    assert_eq!(audio.len(), 1);
    assert!(audio[0].truncated.is_none());
    assert_eq!(audio[0].timestamp, 0xFF_FFFF);
    assert_eq!(body_of(audio[0], &stream, base), body.to_vec());
    assert!(anomalies(&ev, "rtmp.eof_truncated").is_empty());
}

#[test]
fn gap_inside_handshake_then_chunks() {
    let (cb, sb) = simple_handshake();
    let mut c = Connection::new(Limits::default(), false);
    let mut out = Vec::new();
    c.handle_data(TC, 0, &sb, pkt(1), &mut out);
    c.handle_data(TS, 0, &cb[..1000], pkt(2), &mut out);
    // 200 bytes of C1 lost.
    c.handle_gap(TS, 1000, 200, pkt(3), &mut out);
    c.handle_data(TS, 1200, &cb[1200..], pkt(4), &mut out);
    let s = msg0(3, 0, 20, 0, b"\x02\x00\x07connect", 128);
    c.handle_data(TS, 3073, &s, pkt(5), &mut out);
    assert_eq!(anomalies(&out, "rtmp.handshake.gap").len(), 1);
    let hs = hs_events(&out);
    let c1 = hs.iter().find(|h| h.part == HandshakePart::C1).unwrap();
    // Not analysed: its bytes are incomplete.
    assert_eq!(c1.kind, None);
    let s2 = hs.iter().find(|h| h.part == HandshakePart::S2).unwrap();
    assert_eq!(s2.echo_ok, None);
    assert_eq!(messages(&out).len(), 1);
    assert_eq!(messages(&out)[0].first_byte, 3073);
}

#[test]
fn midstream_gap_at_start_then_chunks() {
    let mut c = Connection::new(Limits::default(), false);
    let mut out = Vec::new();
    // The first 5000 bytes were never captured.
    c.handle_gap(TS, 0, 5000, pkt(1), &mut out);
    let mut s = Vec::new();
    for k in 0..12u32 {
        s.extend(msg0(
            3,
            k,
            20,
            0,
            b"\x02\x00\x04ping\x00\0\0\0\0\0\0\0\0\x05",
            128,
        ));
    }
    out.extend(feed(&mut c, TS, 5000, &s, 100, 2));
    assert_eq!(c.protocol(), FlowProtocol::RtmpMidstream);
    assert_eq!(messages(&out).len(), 12);
}

#[test]
fn tiny_chunks_count_against_the_partial_cap() {
    let limits = Limits {
        max_partial_bytes: 20_000,
        max_chunk_streams: 8,
        ..Limits::default()
    };
    let (mut c, base) = after_handshake_with(limits);
    let mut s = msg0(2, 0, 1, 0, &1u32.to_be_bytes(), 128);
    // 5000 one-byte chunks: 5000 bytes of body but far more in chunk refs.
    s.extend(msg0(6, 0, 9, 1, &vec![0x27u8; 5000], 1));
    s.extend(msg0(4, 1, 8, 1, &[0xAF, 1], 1));
    let ev = feed(&mut c, TS, base, &s, 1000, 10);
    assert_eq!(anomalies(&ev, "rtmp.limit.partial_bytes").len(), 1);
    let ms = messages(&ev);
    let v = ms.iter().find(|m| m.type_id == 9).unwrap();
    assert_eq!(v.truncated.unwrap().cause, TruncationCause::Limit);
    assert!(v.chunks.len() * chunk::CHUNK_REF_COST <= 20_000);
    assert!(ms.iter().any(|m| m.type_id == 8 && m.truncated.is_none()));
    assert_eq!(c.dirs[0].dec.partial_bytes(), 0);
}

#[test]
fn tls_flow_is_not_rtmp() {
    let mut x = 0x9E37_79B9u32;
    let mut rnd = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend(rnd(509));
    let mut server = vec![
        0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03,
    ];
    server.extend(rnd(6000));
    let mut c = Connection::new(Limits::default(), false);
    let mut ev = feed(&mut c, TS, 0, &hello, 600, 1);
    ev.extend(feed(&mut c, TC, 0, &server, 1400, 2));
    let mut fin = Vec::new();
    c.finish(pkt(99), &mut fin);
    ev.extend(fin);
    assert_eq!(c.protocol(), FlowProtocol::NotRtmp);
    assert!(messages(&ev).is_empty());
}

/// AMF0 string value.
fn amf_str(s: &str) -> Vec<u8> {
    let mut v = vec![0x02];
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// AMF0 number value.
fn amf_num(n: f64) -> Vec<u8> {
    let mut v = vec![0x00];
    v.extend_from_slice(&n.to_be_bytes());
    v
}

/// A mid-stream flow whose reverse direction holds a single whole command
/// message: it must decode at the end of the flow, not be reported as
/// undecodable (as in capture 07: a lone fmt 0 onStatus to the client, a
/// lone fmt 1 deleteStream to the server).
#[test]
fn midstream_single_command_message_decodes_at_end() {
    // Media direction (enough to infer chunk size 4096).
    let full = media_stream(4096, 30);
    let tail = &full[9_001..];
    // fmt 0, csid 5, onStatus(0, null, {level: "status", code: ...}).
    let mut status = amf_str("onStatus");
    status.extend(amf_num(0.0));
    status.push(0x05);
    status.push(0x03);
    for (k, v) in [("level", "status"), ("code", "NetStream.Unpublish.Success")] {
        status.extend_from_slice(&(k.len() as u16).to_be_bytes());
        status.extend_from_slice(k.as_bytes());
        status.extend(amf_str(v));
    }
    status.extend_from_slice(&[0, 0, 9]);
    let to_client = msg0(5, 0, 20, 1, &status, 4096);
    assert_eq!(to_client[0], 0x05);
    // fmt 1, csid 3, deleteStream(4, null, 1): msid unknown.
    let mut del = amf_str("deleteStream");
    del.extend(amf_num(4.0));
    del.push(0x05);
    del.extend(amf_num(1.0));
    let mut to_server = header(1, 3, 0, del.len() as u32, 20, 0);
    assert_eq!(to_server.len(), 8);
    to_server.extend_from_slice(&del);
    for (media_dir, short_dir, short) in [(TS, TC, &to_client), (TC, TS, &to_server)] {
        let mut c = Connection::new(Limits::default(), true);
        let mut ev = feed(&mut c, media_dir, 0, tail, 1448, 10);
        // The short direction arrives in two pieces (frames 1224-1225).
        ev.extend(feed(&mut c, short_dir, 5000, short, 30, 5000));
        let mut fin = Vec::new();
        c.finish(pkt(9999), &mut fin);
        ev.extend(fin);
        assert!(anomalies(&ev, "rtmp.resync_failed").is_empty());
        let ms = messages(&ev);
        let cmds: Vec<&Message> = ms.iter().copied().filter(|m| m.type_id == 20).collect();
        assert_eq!(cmds.len(), 1, "{short_dir:?}");
        let m = cmds[0];
        assert_eq!(
            m.length as usize,
            short.len() - if short[0] == 5 { 12 } else { 8 }
        );
        assert!(m.truncated.is_none());
        assert_eq!(m.first_byte, 5000);
        assert_eq!(c.messages(short_dir), 1);
        // The body is the command we built.
        let hl = short.len() - m.length as usize;
        assert_eq!(body_of(m, short, 5000), short[hl..].to_vec());
    }
}

/// Random bytes of the same size at the end of a flow stay undecodable.
#[test]
fn midstream_short_garbage_is_not_accepted_at_end() {
    let full = media_stream(4096, 30);
    let tail = &full[9_001..];
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, tail, 1448, 10);
    // A plausible-looking fmt 0 header whose body is not AMF.
    let mut junk = header(0, 5, 0, 20, 20, 1);
    junk.extend((0..20u8).map(|i| i.wrapping_mul(37) | 0x80));
    ev.extend(feed(&mut c, TC, 0, &junk, 30, 5000));
    let mut fin = Vec::new();
    c.finish(pkt(9999), &mut fin);
    ev.extend(fin);
    assert_eq!(c.messages(TC), 0);
    assert_eq!(anomalies(&ev, "rtmp.resync_failed").len(), 1);
}

/// A chain that parses (a huge shared object message on a never-seen
/// stream, continued by fmt 3 chunks at chunk size 128) but whose message
/// proves nothing (its name length is 65535): no message, no warning, one
/// `rtmp.detection_uncertain`.
#[test]
fn chain_without_evidence_is_uncertain_not_rtmp() {
    let mut s = vec![0x45, 0x04, 0x00, 0x00, 0x00, 0x64, 0xc0, 0x10];
    let mut x = 0x2545_f491u32;
    let mut garbage = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as u8) | 0x80
            })
            .collect()
    };
    s.extend([0xff, 0xff]);
    s.extend(garbage(126));
    for _ in 0..6 {
        s.push(0xc5);
        s.extend(garbage(128));
    }
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, &s, 1400, 1);
    let mut fin = Vec::new();
    c.finish(pkt(99), &mut fin);
    ev.extend(fin);
    assert!(messages(&ev).is_empty());
    assert_eq!(anomalies(&ev, "rtmp.detection_uncertain").len(), 1);
    assert!(c.uncertain());
    assert!(c
        .best_evidence(TS)
        .is_some_and(|e| e < midstream::ACCEPT_EVIDENCE));
    assert!(!ev.iter().any(|e| matches!(
        &e.kind,
        RtmpEventKind::Anomaly(a) if a.severity != Severity::Info
    )));
    assert_ne!(c.protocol(), FlowProtocol::RtmpMidstream);
    // The same bytes with the structural rule only (threshold out of the
    // way) are taken as RTMP: the evidence is what rejects them.
    let mut lax = Connection::new(
        Limits {
            midstream_accept: i32::MIN,
            ..Limits::default()
        },
        true,
    );
    let mut ev = feed(&mut lax, TS, 0, &s, 1400, 1);
    let mut fin = Vec::new();
    lax.finish(pkt(99), &mut fin);
    ev.extend(fin);
    assert_eq!(lax.protocol(), FlowProtocol::RtmpMidstream);
    assert!(!messages(&ev).is_empty());
}

/// Mid-stream commands and control messages decode cleanly: accepted.
#[test]
fn chain_with_clean_messages_is_accepted() {
    let mut body = amf_str("createStream");
    body.extend(amf_num(2.0));
    body.push(0x05);
    let mut s = msg0(2, 0, 5, 0, &2_500_000u32.to_be_bytes(), 128);
    s.extend(msg0(3, 0, 20, 0, &body, 128));
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, &s, 1400, 1);
    let mut fin = Vec::new();
    c.finish(pkt(99), &mut fin);
    ev.extend(fin);
    assert_eq!(c.protocol(), FlowProtocol::RtmpMidstream);
    assert_eq!(messages(&ev).len(), 2);
    assert!(anomalies(&ev, "rtmp.detection_uncertain").is_empty());
    assert!(c
        .best_evidence(TS)
        .is_some_and(|e| e >= midstream::ACCEPT_EVIDENCE));
}

/// RTMPE is C0 0x06/0x08 followed by a full C1: a 0x06 byte and a few
/// more is not reported as RTMP at all.
#[test]
fn rtmpe_needs_a_full_c1() {
    let mut c = Connection::new(Limits::default(), false);
    let mut data = vec![6u8];
    data.extend([0x11u8; 100]);
    let mut ev = Vec::new();
    c.handle_data(TS, 0, &data, pkt(1), &mut ev);
    c.finish(pkt(2), &mut ev);
    assert!(hs_events(&ev).is_empty());
    assert!(anomalies(&ev, "rtmp.encrypted").is_empty());
    assert!(!ev
        .iter()
        .any(|e| matches!(&e.kind, RtmpEventKind::Anomaly(_))));
    assert_eq!(c.protocol(), FlowProtocol::NotRtmp);
}

// ---------------------------------------------------------------------------
// Issue 11: chunk streams that start without a full header; capture loss.
// ---------------------------------------------------------------------------

#[test]
fn fmt1_opening_a_chunk_stream_takes_msid_0_and_says_so() {
    // rtmpsrv's replies: fmt 1 on never-seen csid 3, then fmt 1 on csid 2
    // and a fmt 3 continuing it.
    let (mut c, base) = after_handshake();
    let body = b"\x02\x00\x07_result\x00\x3f\xf0\x00\x00\x00\x00\x00\x00\x05";
    let mut s = header(1, 3, 0, body.len() as u32, 20, 0);
    s.extend_from_slice(body);
    s.extend(header(1, 2, 0, 6, 4, 0));
    s.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
    s.extend(basic(3, 2));
    s.extend_from_slice(&[0, 1, 0, 0, 0, 1]);
    let mut ev = feed(&mut c, TC, base, &s, 7, 10);
    c.finish(pkt(99), &mut ev);
    let m = messages(&ev);
    assert_eq!(m.len(), 3, "{ev:?}");
    assert!(m
        .iter()
        .all(|m| m.msid == 0 && !m.msid_unknown && m.truncated.is_none()));
    assert_eq!(anomalies(&ev, "rtmp.chunk.msid_assumed").len(), 2);
    assert!(anomalies(&ev, "rtmp.chunk.unknown_csid").is_empty());
    assert!(anomalies(&ev, "rtmp.resync_failed").is_empty());
}

/// A fmt 1 message (first chunk fmt 1, the rest fmt 3) with chunk size `cs`.
fn msg1(csid: u32, delta: u32, t: u8, body: &[u8], cs: usize) -> Vec<u8> {
    chunks(
        header(1, csid, delta, body.len() as u32, t, 0),
        csid,
        body,
        cs,
        None,
    )
    .concat()
}

fn media(t: u8, len: usize, k: usize) -> Vec<u8> {
    let mut b = vec![if t == 8 { 0xAF } else { 0x27 }, 1];
    b.extend((0..len.saturating_sub(2)).map(|i| (i * 31 + k * 7) as u8));
    b
}

/// Feeds `parts` in order, leaving out those whose index is in `lost` (a
/// gap of their bytes); returns the events and the stream offset of each part.
fn feed_with_loss(
    c: &mut Connection,
    base: u64,
    parts: &[Vec<u8>],
    lost: &[usize],
) -> (Vec<RtmpEvent>, Vec<u64>) {
    let mut ev = Vec::new();
    let mut off = base;
    let mut offs = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        offs.push(off);
        if !lost.contains(&i) {
            c.handle_data(TS, off, p, pkt(10 + i as u64), &mut ev);
        }
        off += p.len() as u64;
    }
    c.finish(pkt(999), &mut ev);
    (ev, offs)
}

fn by_offset(ev: &[RtmpEvent], off: u64) -> Option<&Message> {
    messages(ev)
        .into_iter()
        .find(|m| m.first_byte == off && m.truncated.is_none())
}

fn holds(m: &Message, truth: u32) -> bool {
    m.timestamp == truth
        || m.timestamp_estimate
            .is_some_and(|e| e.low <= truth && e.high.is_none_or(|h| truth <= h))
}

#[test]
fn loss_neighbour_floor_and_byte_bound() {
    // Audio (csid 4, 180 bytes, delta 23) and video (csid 6, 3000 bytes,
    // delta 40) of message stream 1, muxed in timestamp order; the gap
    // swallows exactly one audio message.
    let (mut c, base) = after_handshake();
    let cs = 4096;
    let mut parts = vec![msg0(2, 0, 1, 0, &4096u32.to_be_bytes(), 128)];
    let mut truth = vec![0];
    parts.push(msg0(4, 0, 8, 1, &media(8, 180, 0), cs));
    truth.push(0);
    parts.push(msg0(6, 0, 9, 1, &media(9, 3000, 0), cs));
    truth.push(0);
    let (mut a, mut v) = (0u32, 0u32);
    for k in 1..16 {
        v += 40;
        while a + 23 <= v {
            a += 23;
            parts.push(msg1(4, 23, 8, &media(8, 180, k), cs));
            truth.push(a);
        }
        parts.push(msg1(6, 40, 9, &media(9, 3000, k), cs));
        truth.push(v);
    }
    // The third audio message after the anchors (ts 69) is lost.
    let lost = truth.iter().position(|&t| t == 69).unwrap();
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[lost]);
    let mut after = 0;
    for (i, &t) in truth.iter().enumerate().skip(lost + 1) {
        let m = by_offset(&ev, offs[i]).unwrap_or_else(|| panic!("part {i} lost: {ev:?}"));
        assert!(
            holds(m, t),
            "part {i}: {} vs true {t} {:?}",
            m.timestamp,
            m.timestamp_estimate
        );
        if m.csid == 6 {
            // Video cannot have lost a message in 188 bytes: exact.
            assert_eq!((m.timestamp, m.timestamp_estimate), (t, None), "video {i}");
        } else {
            // Audio is estimated; the video before it (80) puts it at 92.
            assert!(m.timestamp_estimate.is_some());
            assert_eq!(m.timestamp, t, "audio {i} estimated right");
        }
        after += 1;
    }
    assert!(after > 10);
}

#[test]
fn loss_constant_delta_from_the_bytes_lost() {
    // One audio stream, constant size and delta: the gap's bytes hold
    // exactly two of its messages.
    let (mut c, base) = after_handshake();
    let mut parts = vec![msg0(4, 1000, 8, 1, &media(8, 100, 0), 128)];
    let mut truth = vec![1000];
    for k in 1..30u32 {
        parts.push(msg1(4, 23, 8, &media(8, 100, k as usize), 128));
        truth.push(1000 + 23 * k);
    }
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[10, 11]);
    for i in 12..parts.len() {
        let m = by_offset(&ev, offs[i]).unwrap_or_else(|| panic!("part {i} lost"));
        assert_eq!(m.timestamp, truth[i], "part {i}");
        let e = m.timestamp_estimate.expect("marked estimated");
        assert!(e.low <= truth[i] && e.high.is_none_or(|h| truth[i] <= h));
    }
}

#[test]
fn loss_fmt0_reanchors_and_reports_the_correction() {
    // Audio of varying size: the two lost messages are bigger than the
    // typical one, so the byte count over-estimates how many were lost; the
    // next fmt 0 header corrects it.
    let (mut c, base) = after_handshake();
    let mut parts = vec![msg0(4, 0, 8, 1, &media(8, 60, 0), 128)];
    let mut truth = vec![0];
    for k in 1..40u32 {
        let len = if k == 10 || k == 11 { 120 } else { 60 };
        let ts = 23 * k;
        if k == 25 {
            parts.push(msg0(4, ts, 8, 1, &media(8, len, k as usize), 128));
        } else {
            parts.push(msg1(4, 23, 8, &media(8, len, k as usize), 128));
        }
        truth.push(ts);
    }
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[10, 11]);
    let corrected = anomalies(&ev, "rtmp.timestamp_corrected");
    assert_eq!(corrected.len(), 1, "{ev:?}");
    for i in 12..parts.len() {
        let m = by_offset(&ev, offs[i]).unwrap_or_else(|| panic!("part {i} lost"));
        assert!(
            holds(m, truth[i]),
            "part {i}: {} vs {}",
            m.timestamp,
            truth[i]
        );
        if i < 25 {
            assert!(m.timestamp_estimate.is_some(), "part {i} must be marked");
        } else {
            assert_eq!(
                (m.timestamp, m.timestamp_estimate),
                (truth[i], None),
                "part {i}"
            );
        }
    }
}

#[test]
fn loss_gap_across_set_chunk_size_infers_the_size() {
    // The Set Chunk Size (4096) is lost; the later messages, 3000 bytes in
    // one chunk each, do not chain with 128.
    let (mut c, base) = after_handshake();
    let mut parts = vec![msg0(6, 0, 9, 1, &media(9, 100, 0), 128)];
    parts.push(msg0(2, 0, 1, 0, &4096u32.to_be_bytes(), 128));
    for k in 1..20u32 {
        parts.push(msg0(6, 40 * k, 9, 1, &media(9, 3000, k as usize), 4096));
    }
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[1]);
    assert_eq!(
        anomalies(&ev, "rtmp.chunk_size_inferred").len(),
        1,
        "{ev:?}"
    );
    assert_eq!(c.chunk_size(TS), 4096);
    let recovered = (2..parts.len())
        .filter(|&i| by_offset(&ev, offs[i]).is_some_and(|m| m.timestamp == 40 * (i as u32 - 1)))
        .count();
    // Every message after the next intact header.
    assert!(
        recovered >= parts.len() - 3,
        "{recovered} of {}",
        parts.len() - 2
    );
}

#[test]
fn loss_gap_inside_an_extended_timestamp() {
    // fmt 0 headers with extended timestamps; the gap starts inside one
    // header's extended timestamp and ends inside its body.
    let (mut c, base) = after_handshake();
    let t0 = 0x0100_0000u32;
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for k in 0..24u32 {
        starts.push(base + stream.len() as u64);
        stream.extend(msg0(4, t0 + 23 * k, 8, 1, &media(8, 90, k as usize), 128));
    }
    // Message 8's header: 1 basic + 11 + 4 extended; cut from its 14th byte.
    let cut_from = (starts[8] - base) as usize + 14;
    let cut_to = (starts[8] - base) as usize + 40;
    let mut ev = Vec::new();
    c.handle_data(TS, base, &stream[..cut_from], pkt(10), &mut ev);
    c.handle_data(
        TS,
        base + cut_to as u64,
        &stream[cut_to..],
        pkt(11),
        &mut ev,
    );
    c.finish(pkt(99), &mut ev);
    for (k, &s) in starts.iter().enumerate().skip(9) {
        let m = by_offset(&ev, s).unwrap_or_else(|| panic!("message {k} lost: {ev:?}"));
        assert_eq!(
            (m.timestamp, m.timestamp_estimate),
            (t0 + 23 * k as u32, None)
        );
        assert!(m.extended_timestamp);
    }
}

/// An AMF0 command body: the name, a transaction id, then nulls up to
/// `len` bytes.
fn amf_cmd(name: &str, len: usize) -> Vec<u8> {
    let mut b = vec![0x02, 0, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(0x00);
    b.extend_from_slice(&1f64.to_be_bytes());
    b.resize(len.max(b.len()), 0x05);
    b
}

#[test]
fn loss_a_chain_read_with_the_wrong_chunk_size_breaks_and_resyncs_wide() {
    // The Set Chunk Size (4096) is lost; small commands after it chain as
    // well with 128, so the resync takes 128; a 400-byte data message then
    // shows, at its byte 128, a header no stream sends (type 0x77). On
    // probation that breaks the chain: reported, never decoded, and the
    // scan that follows tries the candidate sizes at once.
    let (mut c, base) = after_handshake();
    let mut parts = vec![msg0(3, 0, 20, 0, &amf_cmd("connect", 60), 128)];
    parts.push(msg0(2, 0, 1, 0, &4096u32.to_be_bytes(), 128));
    for name in ["releaseStream", "FCPublish", "createStream", "publish"] {
        parts.push(msg0(3, 0, 20, 0, &amf_cmd(name, 40), 4096));
    }
    let mut data = amf_cmd("@setDataFrame", 400);
    data[128..140].copy_from_slice(&[0x05, 0, 0, 0, 0, 0, 10, 0x77, 0, 0, 0, 0]);
    parts.push(msg0(5, 0, 18, 1, &data, 4096));
    let first_media = parts.len();
    parts.push(msg0(4, 0, 8, 1, &media(8, 300, 0), 4096));
    for k in 1..16 {
        parts.push(msg1(4, 23, 8, &media(8, 300, k), 4096));
    }
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[1]);
    assert!(
        !anomalies(&ev, "rtmp.chunk.implausible_header").is_empty(),
        "{ev:?}"
    );
    for m in messages(&ev).iter().filter(|m| m.truncated.is_none()) {
        assert!(offs.contains(&m.first_byte), "phantom {m:?}");
        assert_ne!(m.type_id, 0x77);
    }
    assert_eq!(c.chunk_size(TS), 4096);
    for (i, &o) in offs.iter().enumerate().skip(first_media + 1) {
        assert!(by_offset(&ev, o).is_some(), "part {i} lost: {ev:?}");
    }
    // The message the chain broke in is read again from its first byte
    // with the candidate sizes: whole, once.
    let d = by_offset(&ev, offs[first_media - 1]).expect("the data message");
    assert!(d.truncated.is_none() && d.length == 400, "{d:?}");
    let n = messages(&ev)
        .iter()
        .filter(|m| m.first_byte == offs[first_media - 1])
        .count();
    assert_eq!(n, 1);
}

#[test]
fn loss_messages_between_two_close_gaps_are_decoded() {
    // Three audio messages between two gaps: too short a chain to be taken
    // while the buffer grows, but the second gap cuts it, so it is judged
    // then instead of being dropped with the buffer.
    let (mut c, base) = after_handshake();
    let mut parts = vec![msg0(4, 1000, 8, 1, &media(8, 100, 0), 128)];
    let mut truth = vec![1000];
    for k in 1..30u32 {
        parts.push(msg1(4, 23, 8, &media(8, 100, k as usize), 128));
        truth.push(1000 + 23 * k);
    }
    let (ev, offs) = feed_with_loss(&mut c, base, &parts, &[10, 14]);
    for i in (11..14).chain(15..parts.len()) {
        let m = by_offset(&ev, offs[i]).unwrap_or_else(|| panic!("part {i} lost: {ev:?}"));
        assert!(
            holds(m, truth[i]),
            "part {i}: {} vs {}",
            m.timestamp,
            truth[i]
        );
        assert_eq!(m.timestamp, truth[i], "part {i}");
    }
}

#[test]
fn loss_a_stream_silent_across_two_gaps() {
    // Audio (csid 4, 180 bytes: two chunks at 128) and 12.5 fps video
    // (csid 6, 44 bytes) muxed in timestamp order. Gap 1 swallows one
    // video message; gap 2, before the next video message, cuts one byte
    // out of an audio message (its rest fills the gap's room). The video
    // after gap 2 must count the message gap 1 took, not be called exact
    // from gap 2's empty room.
    let (mut c, base) = after_handshake();
    let aac = |k: u32| ((k as f64 * 1024000.0 / 44100.0) + 0.5).floor() as u32;
    let mut items: Vec<(u32, u8)> = Vec::new();
    for k in 0..60 {
        items.push((aac(k), 8));
    }
    for k in 0..18 {
        items.push((80 * k, 9));
    }
    items.sort_by_key(|&(ts, t)| (ts, if t == 9 { 0 } else { 1 }));
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    let (mut la, mut lv) = (None, None);
    for (k, &(ts, t)) in items.iter().enumerate() {
        starts.push(base + stream.len() as u64);
        let (csid, last, len) = if t == 8 {
            (4, &mut la, 180)
        } else {
            (6, &mut lv, 44)
        };
        let body = media(t, len, k);
        stream.extend(match *last {
            None => msg0(csid, ts, t, 1, &body, 128),
            Some(p) => msg1(csid, ts - p, t, &body, 128),
        });
        *last = Some(ts);
    }
    let idx = |ts: u32, t: u8| items.iter().position(|&i| i == (ts, t)).unwrap();
    let v1 = idx(640, 9); // lost whole
    let a2 = idx(aac(29), 8); // 674 ms: one byte of its second chunk lost
    let v3 = idx(720, 9); // first message after gap 2
    assert!(v1 < a2 && a2 < v3 && items[v1 + 1..v3].iter().all(|i| i.1 == 8));
    let rel = |i: usize| (starts[i] - base) as usize;
    let cut = rel(a2) + 8 + 128 + 1 + 10;
    let mut ev = Vec::new();
    c.handle_data(TS, base, &stream[..rel(v1)], pkt(10), &mut ev);
    c.handle_data(
        TS,
        starts[v1 + 1],
        &stream[rel(v1 + 1)..cut],
        pkt(11),
        &mut ev,
    );
    c.handle_data(
        TS,
        base + cut as u64 + 1,
        &stream[cut + 1..],
        pkt(12),
        &mut ev,
    );
    c.finish(pkt(99), &mut ev);
    let m = by_offset(&ev, starts[v3]).unwrap_or_else(|| panic!("video after gap 2 lost: {ev:?}"));
    assert!(holds(m, 720), "{} {:?}", m.timestamp, m.timestamp_estimate);
    assert!(m.timestamp_estimate.is_some(), "must be marked");
    assert_eq!(m.timestamp, 720);
}

#[test]
fn loss_mux_order_corrects_a_fitted_estimate() {
    // Audio (csid 4, 180 bytes, AAC cadence) and video (csid 6, 1000
    // bytes, 25 fps) muxed in timestamp order. The gap swallows an audio
    // message and a video message larger than usual (1500 bytes), so the
    // bytes fit two lost audio messages better than one: the audio after
    // the gap comes out one frame (23 ms) late. The next video message,
    // whose count does not depend on it, is then earlier than the audio
    // just before it: the mux order moves the audio back by its period.
    let (mut c, base) = after_handshake();
    let aac = |k: u32| ((k as f64 * 1024000.0 / 44100.0) + 0.5).floor() as u32;
    let mut items: Vec<(u32, u8)> = (0..80).map(|k| (aac(k), 8)).collect();
    items.extend((0..45).map(|k| (40 * k, 9)));
    items.sort_by_key(|&(ts, t)| (ts, if t == 9 { 0 } else { 1 }));
    let (a_lost, v_lost) = (aac(18), 440);
    let mut parts = Vec::new();
    let (mut la, mut lv) = (None, None);
    for (k, &(ts, t)) in items.iter().enumerate() {
        let (csid, last, len) = if t == 8 {
            (4, &mut la, 180)
        } else {
            (6, &mut lv, if ts == v_lost { 1500 } else { 1000 })
        };
        let body = media(t, len, k);
        parts.push(match *last {
            None => msg0(csid, ts, t, 1, &body, 4096),
            Some(p) => msg1(csid, ts - p, t, &body, 4096),
        });
        *last = Some(ts);
    }
    let mut parts_cs = vec![msg0(2, 0, 1, 0, &4096u32.to_be_bytes(), 128)];
    parts_cs.extend(parts);
    let idx = |ts: u32, t: u8| 1 + items.iter().position(|&i| i == (ts, t)).unwrap();
    let lost = [idx(a_lost, 8), idx(v_lost, 9)];
    assert_eq!(lost[0] + 1, lost[1]);
    let (ev, offs) = feed_with_loss(&mut c, base, &parts_cs, &lost);
    let v_next = idx(480, 9);
    for (i, &(ts, t)) in items.iter().enumerate() {
        let p = i + 1;
        if p <= lost[1] {
            continue;
        }
        let m = by_offset(&ev, offs[p]).unwrap_or_else(|| panic!("part {p} lost: {ev:?}"));
        assert!(
            holds(m, ts),
            "part {p}: {} vs {ts} {:?}",
            m.timestamp,
            m.timestamp_estimate
        );
        if p > v_next {
            assert!(m.timestamp_estimate.is_some(), "part {p} must stay marked");
            assert_eq!(m.timestamp, ts, "part {p} ({t}) after the correction");
        }
    }
}

/// The chunks of `msgs` (csid, absolute timestamp, type, message stream id,
/// body) as ffmpeg, nginx-rtmp and librtmp compress headers: fmt 0 for a
/// chunk stream's first message (or a new message stream id), else fmt 1
/// when the type or length changed, fmt 2 when only the delta changed, fmt
/// 3 when nothing did. Returns the bytes and each message's first offset.
fn compressed(msgs: &[(u32, u32, u8, u32, Vec<u8>)], cs: usize) -> (Vec<u8>, Vec<u64>) {
    let mut last: std::collections::HashMap<u32, (u32, u32, u8, u32, u32)> = Default::default();
    let (mut out, mut offs) = (Vec::new(), Vec::new());
    for (csid, ts, t, msid, body) in msgs {
        let len = body.len() as u32;
        let first = match last.get(csid) {
            Some(&(pts, pdelta, pt, plen, pmsid)) if pmsid == *msid && *ts >= pts => {
                let delta = ts - pts;
                if pt != *t || plen != len {
                    header(1, *csid, delta, len, *t, 0)
                } else if delta != pdelta {
                    header(2, *csid, delta, 0, 0, 0)
                } else {
                    basic(3, *csid)
                }
            }
            _ => header(0, *csid, *ts, len, *t, *msid),
        };
        let delta = last.get(csid).map_or(0, |l| ts - l.0);
        last.insert(*csid, (*ts, delta, *t, len, *msid));
        offs.push(out.len() as u64);
        out.extend(chunks(first, *csid, body, cs, None).concat());
    }
    (out, offs)
}

/// An ffmpeg-like publish: video on csid 6 (40 ms, sizes that vary),
/// constant-size audio on csid 4 (23 or 24 ms) whose size changes every
/// `every` messages (then a fmt 1 header), chunk size 4096.
fn constant_audio_publish(n_video: u32, every: u32) -> Vec<(u32, u32, u8, u32, Vec<u8>)> {
    let mut msgs = vec![(2, 0, 1, 0, 4096u32.to_be_bytes().to_vec())];
    let (mut a, mut k) = (0u32, 0u32);
    for v in 0..n_video {
        let vt = v * 40;
        while a <= vt {
            let len = if (k / every).is_multiple_of(2) {
                200
            } else {
                210
            };
            msgs.push((4, a, 8, 1, media(8, len, k as usize)));
            a += if k % 3 == 2 { 24 } else { 23 };
            k += 1;
        }
        let vlen = 900 + (v as usize * 577) % 5000;
        msgs.push((6, vt, 9, 1, media(9, vlen, v as usize)));
    }
    msgs
}

#[test]
fn held_fmt2_fmt3_on_never_seen_csid_after_pickup() {
    // Picked up mid-stream at a video message: the audio chunk stream's
    // next messages carry fmt 2/3 headers (same size as the last one, which
    // the capture missed); they are held until its fmt 1 header, then
    // decoded with its type, and nothing else of the direction is lost.
    let msgs = constant_audio_publish(120, 12);
    let (bytes, offs) = compressed(&msgs, 4096);
    // A pickup point: the first video message after the 30th message whose
    // next audio message is not fmt 1 (size unchanged).
    let at = (30..msgs.len())
        .find(|&i| msgs[i].0 == 6 && bytes[offs[i + 1] as usize] >> 6 >= 2)
        .expect("a video message followed by fmt 2/3 audio");
    let base = offs[at];
    let tail = &bytes[base as usize..];
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = feed(&mut c, TS, 0, tail, 1448, 10);
    c.finish(pkt(9999), &mut ev);
    let ms = messages(&ev);
    let mut missing = Vec::new();
    for (i, m) in msgs.iter().enumerate().skip(at) {
        let off = offs[i] - base;
        match ms.iter().find(|x| x.first_byte == off) {
            Some(x) => {
                assert_eq!(
                    (x.csid, x.type_id, x.length),
                    (m.0, m.2, m.4.len() as u32),
                    "{i}"
                );
                assert!(x.truncated.is_none(), "{i}");
                assert_eq!(body_of(x, tail, 0), m.4, "{i}");
                // Timestamps after a pickup are lower bounds.
                let e = x.timestamp_estimate.expect("estimated after a pickup");
                assert_eq!(e.low, x.timestamp);
                assert!(x.timestamp <= m.1 - msgs[at].1 + 40, "{i}: {}", x.timestamp);
            }
            None => missing.push(i),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} lost: {missing:?}",
        missing.len(),
        msgs.len() - at
    );
    assert!(anomalies(&ev, "rtmp.resync").is_empty());
}

#[test]
fn held_fmt3_after_a_loss_that_took_the_streams_first_header() {
    // Seen from the handshake; the gap swallows the audio chunk stream's
    // only fmt 0 header (and the first messages): its next messages carry
    // fmt 2/3 headers, held until its fmt 1, then decoded.
    let msgs = constant_audio_publish(60, 12);
    let (bytes, offs) = compressed(&msgs, 4096);
    let (mut c, base) = after_handshake();
    // The gap: from the first audio message (fmt 0) to the second video.
    let first_audio = msgs.iter().position(|m| m.0 == 4).unwrap();
    let resume = (first_audio..msgs.len())
        .filter(|&i| msgs[i].0 == 6)
        .nth(1)
        .unwrap();
    assert!(
        bytes[offs[resume + 1] as usize] >> 6 >= 2,
        "audio after the gap is fmt 2/3"
    );
    let (a, b) = (offs[first_audio] as usize, offs[resume] as usize);
    let mut ev = Vec::new();
    c.handle_data(TS, base, &bytes[..a], pkt(10), &mut ev);
    for (i, p) in bytes[b..].chunks(1448).enumerate() {
        let off = base + (b + i * 1448) as u64;
        c.handle_data(TS, off, p, pkt(11 + i as u64), &mut ev);
    }
    c.finish(pkt(9999), &mut ev);
    let ms = messages(&ev);
    let mut missing = Vec::new();
    for (i, m) in msgs.iter().enumerate().skip(resume) {
        let off = base + offs[i];
        match ms
            .iter()
            .find(|x| x.first_byte == off && x.truncated.is_none())
        {
            Some(x) => {
                assert_eq!(
                    (x.csid, x.type_id, x.length),
                    (m.0, m.2, m.4.len() as u32),
                    "{i}"
                );
                assert_eq!(body_of(x, &bytes, base), m.4, "{i}");
                assert!(
                    holds(x, m.1),
                    "{i}: {} {:?} vs {}",
                    x.timestamp,
                    x.timestamp_estimate,
                    m.1
                );
            }
            None => missing.push(i),
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
    // The held audio messages came before the fmt 1 that told their type.
    let held = ms
        .iter()
        .filter(|x| x.csid == 4 && x.fmt >= 2 && x.first_byte < base + offs[resume + 12])
        .count();
    assert!(held >= 2, "{held}");
}

#[test]
fn held_messages_are_bounded_and_reported_when_no_header_comes() {
    // Constant-size audio that never gets a fmt 0/1 header after the
    // pickup: its messages are held up to the bound, the oldest dropped
    // with `rtmp.chunk.held_dropped`, the rest at the end of the flow;
    // every video message still decodes and nothing is resynchronised.
    let msgs = constant_audio_publish(400, 100_000);
    let (bytes, offs) = compressed(&msgs, 4096);
    let at = (30..msgs.len())
        .find(|&i| msgs[i].0 == 6 && bytes[offs[i + 1] as usize] >> 6 >= 2)
        .unwrap();
    let base = offs[at];
    let tail = &bytes[base as usize..];
    let mut c = Connection::new(Limits::default(), true);
    let mut ev = Vec::new();
    let mut most = 0;
    for (i, p) in tail.chunks(1448).enumerate() {
        c.handle_data(TS, (i * 1448) as u64, p, pkt(10 + i as u64), &mut ev);
        most = most.max(c.memory());
    }
    c.finish(pkt(99_999), &mut ev);
    let ms = messages(&ev);
    let video = msgs[at..].iter().filter(|m| m.0 == 6).count();
    assert_eq!(
        ms.iter()
            .filter(|m| m.type_id == 9 && m.truncated.is_none())
            .count(),
        video
    );
    assert!(ms.iter().all(|m| m.csid != 4), "no audio without its type");
    assert!(anomalies(&ev, "rtmp.resync").is_empty());
    let dropped = anomalies(&ev, "rtmp.chunk.held_dropped");
    assert!(
        dropped.iter().any(|a| a.detail.contains("more than")),
        "{dropped:?}"
    );
    assert!(
        dropped.iter().any(|a| a.detail.contains("flow ended")),
        "{dropped:?}"
    );
    assert!(
        most <= chunk::MAX_HELD_BYTES + 2 * midstream::PROBE_BYTES + 64 * 1024,
        "{most}"
    );
}
