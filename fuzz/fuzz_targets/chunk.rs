//! Fuzz target for the RTMP connection dissector (handshake, chunk decoder,
//! mid-stream inference, gaps and resync): arbitrary bytes, split into
//! segments for both directions with occasional gaps. Must never panic,
//! and every message's ranges must be consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpscope::rtmp::RtmpEventKind;
use rtmpscope::vocab::{Direction, PacketRef};
use rtmpscope::rtmp::{Connection, Limits};
use rtmpscope::time::PacketTime;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_partial_bytes: 1 << 20,
        max_chunk_streams: 64,
    };
    let mut c = Connection::new(limits, flags & 1 != 0);
    let mut off = [0u64; 2];
    let mut out = Vec::new();
    let mut n = 0u64;
    // Optionally start each direction with a plain handshake so the chunk
    // decoder sees fuzz bytes right away.
    if flags & 2 != 0 {
        let mut hs = vec![3u8];
        hs.extend(std::iter::repeat_n(0u8, 3072));
        for dir in [Direction::ToServer, Direction::ToClient] {
            c.handle_data(dir, 0, &hs, PacketRef::default(), &mut out);
            off[dir.index()] = hs.len() as u64;
        }
    }
    while rest.len() >= 2 {
        let ctl = rest[0];
        let len = (rest[1] as usize) * if ctl & 0x40 != 0 { 64 } else { 1 };
        rest = &rest[2..];
        let dir = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        n += 1;
        let pkt = PacketRef {
            pcap_cnt: n,
            time: PacketTime::new(n as i64, 0),
        };
        let d = dir.index();
        if ctl & 0x80 != 0 && ctl & 0x20 != 0 {
            let gap = (len as u64).max(1);
            c.handle_gap(dir, off[d], gap, pkt, &mut out);
            off[d] += gap;
            continue;
        }
        let take = len.min(rest.len());
        c.handle_data(dir, off[d], &rest[..take], pkt, &mut out);
        off[d] += take as u64;
        rest = &rest[take..];
    }
    c.finish(PacketRef::default(), &mut out);
    for e in &out {
        if let RtmpEventKind::Message(m) = &e.kind {
            assert!(m.first_byte <= m.last_byte);
            let mut got = 0u64;
            for ch in &m.chunks {
                assert!(ch.header.start <= ch.header.end && ch.header.end <= ch.payload.start);
                got += ch.payload.len();
            }
            assert!(got <= m.length as u64);
            if m.truncated.is_none() {
                assert_eq!(got, m.length as u64);
            }
        }
    }
});
