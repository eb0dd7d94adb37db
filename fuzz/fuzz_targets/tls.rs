//! Fuzz target for the TLS layer (record framing, handshake parsing,
//! alerts, resync after gaps, decryption attempts): arbitrary bytes split
//! into segments of both directions with occasional gaps, optionally behind
//! a valid ClientHello prefix and with a key log whose secrets match any
//! client random of the form 0x11 * 32. Must never panic; plaintext offsets
//! must be contiguous per direction.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use rtmpscope::event::Direction;
use rtmpscope::tls::{KeyLog, TlsConnection, TlsOut};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let keylog = (flags & 1 != 0).then(|| {
        let cr = "11".repeat(32);
        Arc::new(KeyLog::parse(&format!(
            "CLIENT_RANDOM {cr} {}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {}\nCLIENT_TRAFFIC_SECRET_0 {cr} {}\nSERVER_TRAFFIC_SECRET_0 {cr} {}\n",
            "ab".repeat(48), "01".repeat(32), "02".repeat(32), "03".repeat(32), "04".repeat(32)
        )))
    });
    let mut c = TlsConnection::new(keylog, flags & 2 != 0);
    let mut off = [0u64; 2];
    let mut plain = [0u64; 2];
    let mut out = Vec::new();
    while rest.len() >= 2 {
        let ctl = rest[0];
        let len = (rest[1] as usize).min(rest.len() - 2);
        let seg = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let dir = if ctl & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        let i = dir.index();
        if ctl & 0x80 != 0 {
            let gap = u64::from(ctl & 0x3f) + 1;
            c.handle_gap(dir, off[i], gap, &mut out);
            off[i] += gap;
        }
        c.handle_data(dir, off[i], seg, &mut out);
        off[i] += seg.len() as u64;
        for o in out.drain(..) {
            match o {
                TlsOut::Plain { dir, offset, data } => {
                    assert_eq!(offset, plain[dir.index()]);
                    plain[dir.index()] += data.len() as u64;
                }
                TlsOut::Gap { dir, offset, len } => {
                    assert_eq!(offset, plain[dir.index()]);
                    plain[dir.index()] += len;
                }
                _ => {}
            }
        }
    }
    let _ = c.finish();
});
