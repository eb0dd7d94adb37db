//! RTMPS (issue 15) on the scenario-15 captures: ffmpeg (GnuTLS) publishes
//! and plays through stunnel (TLS) in front of nginx-rtmp; each capture also
//! holds stunnel's plain upstream connections to nginx (port 15019), which
//! carry exactly the bytes the TLS connections carry inside: the truth for
//! the decrypted RTMP.
//!
//! TLS flows and their upstream flows are paired by order of flow start
//! (the player connects first, then the publisher; stunnel opens each
//! upstream connection when it accepts the TLS one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rtmpscope::capture::{pcapng_tls_secrets, PacketSource, SourceOptions};
use rtmpscope::event::{Event, EventKind, FlowEnd, FlowId, FlowProtocol};
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::rtmp::message::Body;
use rtmpscope::tls::KeyLog;

const UPSTREAM_PORT: u16 = 15019;

/// (capture stem, TLS port, version, cipher suite)
const FLAVOURS: &[(&str, u16, &str, &str)] = &[
    (
        "15a-rtmps-tls13",
        15010,
        "TLS 1.3",
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        "15b-rtmps-tls12-aes128gcm",
        15011,
        "TLS 1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "15c-rtmps-tls12-chacha20",
        15012,
        "TLS 1.2",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "15d-rtmps-tls12-aes128cbc",
        15013,
        "TLS 1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    ),
];

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn keylog_file(p: &Path) -> Arc<KeyLog> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let k = KeyLog::parse(&text);
    assert!(!k.is_empty(), "{}: no secrets", p.display());
    Arc::new(k)
}

/// One flow's facts from a run.
#[derive(Debug, Default)]
struct Flow {
    id: FlowId,
    server_port: u16,
    msgs: Vec<Msg>,
    end: Option<FlowEnd>,
    anomalies: Vec<String>,
    tls_events: usize,
}

/// What must agree between decrypted and upstream RTMP.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Msg {
    dir: u8,
    type_id: u8,
    csid: u32,
    msid: u32,
    timestamp: u32,
    length: u32,
    command: Option<String>,
    truncated: bool,
}

fn run(path: &Path, keylog: Option<Arc<KeyLog>>) -> Vec<Flow> {
    let mut src = PacketSource::open_file(path, &SourceOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e:?}", path.display()));
    let mut an = Analyzer::new(Config {
        tls_keylog: keylog,
        ..Config::default()
    });
    let mut events: Vec<Event> = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        an.handle_packet(&p, &mut events);
    }
    an.finish(None, &mut events);
    let mut flows: Vec<Flow> = Vec::new();
    for ev in events {
        let Some(fid) = ev.flow_id else { continue };
        if let EventKind::FlowStart(info) = &ev.kind {
            flows.push(Flow {
                id: fid,
                server_port: info.server_port,
                ..Default::default()
            });
            continue;
        }
        let f = flows
            .iter_mut()
            .find(|f| f.id == fid)
            .expect("flow started");
        match ev.kind {
            EventKind::Message(m) => f.msgs.push(Msg {
                dir: ev.direction.map_or(9, |d| d.index() as u8),
                type_id: m.type_id,
                csid: m.csid,
                msid: m.msid,
                timestamp: m.timestamp,
                length: m.length,
                command: match &m.body {
                    Body::Command(c) => c.name.as_text().map(str::to_owned),
                    _ => None,
                },
                truncated: m.truncated.is_some(),
            }),
            EventKind::FlowEnd(e) => f.end = Some(e),
            EventKind::Anomaly(a) => f.anomalies.push(a.name.to_owned()),
            EventKind::Tls(_) => f.tls_events += 1,
            _ => {}
        }
    }
    flows
}

fn of_dir(msgs: &[Msg], d: u8) -> Vec<Msg> {
    msgs.iter().filter(|m| m.dir == d).cloned().collect()
}

/// (TLS flows, upstream flows), each in flow-start order.
fn split(flows: &[Flow], port: u16) -> (Vec<&Flow>, Vec<&Flow>) {
    let tls: Vec<&Flow> = flows.iter().filter(|f| f.server_port == port).collect();
    let up: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.server_port == UPSTREAM_PORT)
        .collect();
    assert_eq!(tls.len(), 2, "two TLS flows (player, publisher)");
    assert_eq!(up.len(), 2, "two upstream flows");
    (tls, up)
}

fn assert_same_rtmp(ctx: &str, tls: &Flow, up: &Flow) {
    assert!(
        up.msgs.len() > 200,
        "{ctx}: the upstream flow has the session"
    );
    assert_eq!(tls.msgs.len(), up.msgs.len(), "{ctx}: message count");
    // Per direction: the two directions interleave differently on the two
    // connections (the relay adds its own delays).
    for d in 0..2 {
        let a = of_dir(&tls.msgs, d);
        let b = of_dir(&up.msgs, d);
        assert_eq!(a.len(), b.len(), "{ctx}: message count of direction {d}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{ctx}: direction {d} message {i}");
        }
    }
    let end = tls.end.as_ref().expect("flow end");
    assert_eq!(end.protocol, FlowProtocol::Rtmps, "{ctx}");
    let t = end.tls.as_ref().expect("tls facts");
    assert_eq!(t.decryption, "decrypted", "{ctx}");
    assert_eq!(t.failed_records, [0, 0], "{ctx}");
    assert!(t.decrypted_records[0] > 0 && t.decrypted_records[1] > 0);
    assert_eq!(tls.tls_events, 1, "{ctx}: one tls event");
    // Alerts are real (stunnel answers the player's abrupt end with one);
    // nothing else may go wrong in the TLS layer.
    assert!(
        !tls.anomalies
            .iter()
            .any(|a| a.starts_with("tls.") && a != "tls.alert"),
        "{ctx}: no TLS anomalies: {:?}",
        tls.anomalies
    );
}

#[test]
fn decrypted_rtmp_equals_the_plain_upstream_with_the_key_log() {
    for (stem, port, _, _) in FLAVOURS {
        let dir = captures();
        let keys = keylog_file(&dir.join(format!("{stem}.truth/keys.txt")));
        let flows = run(&dir.join(format!("{stem}.pcap")), Some(keys));
        let (tls, up) = split(&flows, *port);
        for (i, (t, u)) in tls.iter().zip(&up).enumerate() {
            assert_same_rtmp(&format!("{stem} pair {i}"), t, u);
        }
        // The pairing is right: the first pair plays, the second publishes.
        let cmds =
            |f: &Flow| -> Vec<String> { f.msgs.iter().filter_map(|m| m.command.clone()).collect() };
        assert!(cmds(tls[0]).contains(&"play".to_owned()), "{stem}");
        assert!(cmds(tls[1]).contains(&"publish".to_owned()), "{stem}");
    }
}

#[test]
fn decrypted_rtmp_equals_the_plain_upstream_with_embedded_secrets() {
    for (stem, port, _, _) in FLAVOURS {
        let path = captures().join(format!("{stem}-dsb.pcapng"));
        let text = pcapng_tls_secrets(&path).expect("the pcapng embeds TLS secrets");
        // The same secrets as the key log beside the capture.
        let file = std::fs::read_to_string(captures().join(format!("{stem}.truth/keys.txt")))
            .expect("keys.txt");
        for line in file.lines().filter(|l| l.starts_with("CLIENT_")) {
            assert!(text.contains(line), "{stem}: DSB lacks a key log line");
        }
        let flows = run(&path, Some(Arc::new(KeyLog::parse(&text))));
        let (tls, up) = split(&flows, *port);
        for (i, (t, u)) in tls.iter().zip(&up).enumerate() {
            assert_same_rtmp(&format!("{stem}-dsb pair {i}"), t, u);
        }
    }
}

#[test]
fn without_keys_the_tls_facts_are_reported() {
    for (stem, port, version, suite) in FLAVOURS {
        let flows = run(&captures().join(format!("{stem}.pcap")), None);
        let (tls, up) = split(&flows, *port);
        for f in &tls {
            assert!(f.msgs.is_empty(), "{stem}: no RTMP without keys");
            let end = f.end.as_ref().unwrap();
            assert_eq!(end.protocol, FlowProtocol::Rtmps, "{stem}: sizes say RTMP");
            let t = end.tls.as_ref().unwrap();
            assert_eq!(t.version, Some(*version), "{stem}");
            assert_eq!(t.cipher_suite.as_deref(), Some(*suite), "{stem}");
            assert_eq!(t.sni.as_deref(), Some("rtmps.lab.test"), "{stem}");
            assert!(t.rtmp_inside, "{stem}: C0+C1 / S0+S1+S2 record sizes");
            assert_eq!(t.decryption, "none", "{stem}");
            assert!(t.records[0] > 10 && t.records[1] > 3, "{stem}: {t:?}");
            assert!(t.record_bytes[0] > t.records[0] * 5, "{stem}");
            if *version == "TLS 1.2" {
                let c = t
                    .certificate
                    .as_ref()
                    .expect("TLS 1.2 certificate in the clear");
                assert!(c.subject.contains("CN=rtmps.lab.test"), "{stem}: {c:?}");
                assert_eq!(c.subject, c.issuer, "{stem}: self-signed");
                assert!(c.not_before < c.not_after, "{stem}");
            } else {
                assert!(t.certificate.is_none(), "{stem}: encrypted in TLS 1.3");
            }
        }
        // The plain upstream flows are untouched by the TLS layer.
        for f in &up {
            assert_eq!(f.end.as_ref().unwrap().protocol, FlowProtocol::Rtmp);
            assert!(f.end.as_ref().unwrap().tls.is_none());
        }
    }
}

#[test]
fn tls_is_recognised_mid_stream() {
    // 15b from packet 400 on: every flow is picked up mid-stream.
    let path = captures().join("15b-rtmps-tls12-aes128gcm.pcap");
    let mut src = PacketSource::open_file(&path, &SourceOptions::default()).unwrap();
    let mut an = Analyzer::new(Config::default());
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        if p.pcap_cnt > 400 {
            an.handle_packet(&p, &mut events);
        }
    }
    an.finish(None, &mut events);
    let mut tls_flows = 0;
    let mut rtmp_flows = 0;
    for ev in &events {
        if let EventKind::FlowEnd(e) = &ev.kind {
            match e.protocol {
                FlowProtocol::Tls => {
                    tls_flows += 1;
                    let t = e.tls.as_ref().unwrap();
                    assert!(t.midstream);
                    assert_eq!(t.decryption, "no_handshake");
                    assert!(t.records[0] + t.records[1] > 10, "{t:?}");
                }
                FlowProtocol::RtmpMidstream => rtmp_flows += 1,
                p => panic!("unexpected {p:?}"),
            }
        }
    }
    assert_eq!((tls_flows, rtmp_flows), (2, 2));
}

#[test]
fn tls13_certificate_is_shown_once_decrypted() {
    let dir = captures();
    let keys = keylog_file(&dir.join("15a-rtmps-tls13.truth/keys.txt"));
    let flows = run(&dir.join("15a-rtmps-tls13.pcap"), Some(keys));
    let (tls, _) = split(&flows, 15010);
    let t = tls[0].end.as_ref().unwrap().tls.clone().unwrap();
    let c = t.certificate.expect("decrypted Certificate message");
    assert!(c.subject.contains("CN=rtmps.lab.test"), "{c:?}");
}

#[test]
fn a_connection_missing_from_the_key_log_says_so_and_the_other_decrypts() {
    for (stem, port, _, _) in FLAVOURS {
        let dir = captures();
        let keys = keylog_file(&dir.join(format!("{stem}.truth/keys-missing-player.txt")));
        let flows = run(&dir.join(format!("{stem}.pcap")), Some(keys));
        let (tls, up) = split(&flows, *port);
        let player = tls[0];
        assert!(player.msgs.is_empty(), "{stem}: no messages without keys");
        assert_eq!(
            player
                .anomalies
                .iter()
                .filter(|a| *a == "tls.no_key")
                .count(),
            1,
            "{stem}: {:?}",
            player.anomalies
        );
        let t = player.end.as_ref().unwrap().tls.as_ref().unwrap();
        assert_eq!(t.decryption, "no_key");
        assert_eq!(t.decrypted_records, [0, 0]);
        assert_same_rtmp(&format!("{stem} publisher"), tls[1], up[1]);
    }
}

#[test]
fn a_wrong_key_is_reported_and_produces_no_messages() {
    for (stem, port, _, _) in FLAVOURS {
        let dir = captures();
        let text = std::fs::read_to_string(dir.join(format!("{stem}.truth/keys.txt"))).unwrap();
        // Flip the last hex digit of every secret.
        let wrong: String = text
            .lines()
            .map(|l| {
                let mut s = l.trim_end().to_owned();
                if let Some(c) = s.pop() {
                    s.push(if c == '0' { '1' } else { '0' });
                }
                s + "\n"
            })
            .collect();
        let flows = run(
            &dir.join(format!("{stem}.pcap")),
            Some(Arc::new(KeyLog::parse(&wrong))),
        );
        let (tls, _) = split(&flows, *port);
        for f in &tls {
            assert!(f.msgs.is_empty(), "{stem}: a wrong key decodes nothing");
            assert!(
                f.anomalies.iter().any(|a| a == "tls.decrypt_failed"),
                "{stem}: {:?}",
                f.anomalies
            );
            let t = f.end.as_ref().unwrap().tls.as_ref().unwrap();
            assert_eq!(t.decryption, "failed", "{stem}");
            assert_eq!(t.decrypted_records, [0, 0], "{stem}");
        }
    }
}

#[test]
fn handshake_failure_is_named() {
    let flows = run(&captures().join("15e-rtmps-handshake-failure.pcap"), None);
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    let end = f.end.as_ref().unwrap();
    assert_eq!(end.protocol, FlowProtocol::Tls);
    let t = end.tls.as_ref().unwrap();
    assert_eq!(t.sni.as_deref(), Some("rtmps.lab.test"));
    assert!(t.version.is_none(), "no ServerHello");
    assert_eq!(t.alerts.len(), 1, "{t:?}");
    let a = &t.alerts[0];
    assert_eq!(a.direction, rtmpscope::event::Direction::ToClient);
    assert_eq!(
        (a.level, a.description.as_str(), a.code),
        ("fatal", "handshake_failure", Some(40))
    );
    assert_eq!(f.anomalies, vec!["tls.alert".to_owned()]);
}

#[test]
fn a_lost_segment_costs_one_record_not_the_connection() {
    for (stem, base, port) in [
        (
            "15f-rtmps-tls12-lost-segment",
            "15b-rtmps-tls12-aes128gcm",
            15011,
        ),
        ("15g-rtmps-tls13-lost-segment", "15a-rtmps-tls13", 15010),
    ] {
        let dir = captures();
        let keys = keylog_file(&dir.join(format!("{stem}.truth/keys.txt")));
        let flows = run(&dir.join(format!("{stem}.pcap")), Some(keys));
        let (tls, up) = split(&flows, port);
        let publ = tls[1];
        let count = |n: &str| publ.anomalies.iter().filter(|a| *a == n).count();
        assert_eq!(count("tcp.seq_gap"), 1, "{stem}: {:?}", publ.anomalies);
        assert_eq!(count("tls.record_lost"), 1, "{stem}");
        assert_eq!(count("tls.decrypt_failed"), 0, "{stem}");
        // Everything but the messages the lost record carried is equal to
        // the upstream connection, before and after the loss.
        let want = &of_dir(&up[1].msgs, 0);
        let got = &of_dir(&publ.msgs, 0);
        assert_eq!(
            of_dir(&publ.msgs, 1),
            of_dir(&up[1].msgs, 1),
            "{stem}: the server's direction is whole"
        );
        let first_diff = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .expect("the loss shows");
        assert!(first_diff > 10, "{stem}: the loss is mid-session");
        let tail = got.len() - first_diff - 1;
        assert!(tail > 50, "{stem}: decoding goes on after the loss");
        assert_eq!(
            &got[got.len() - tail..],
            &want[want.len() - tail..],
            "{stem}: the messages after the loss equal upstream's"
        );
        assert!(
            got[first_diff].truncated,
            "{stem}: the hit message is marked truncated"
        );
        let t = publ.end.as_ref().unwrap().tls.as_ref().unwrap();
        assert_eq!(t.failed_records, [0, 0], "{stem}");
        // The player's connection is unaffected.
        assert_same_rtmp(&format!("{stem} player"), tls[0], up[0]);
        let _ = base;
    }
}

#[test]
fn cli_tls_keylog_and_embedded_secrets_mark_events_rtmps() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run_cli = |args: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
            .current_dir(root)
            .args(args)
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let count = |text: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| pred(v))
            .count()
    };
    let rtmps = |v: &serde_json::Value| v["event_type"] == "rtmp" && v["transport"] == "rtmps";
    let with_log = run_cli(&[
        "-r",
        "captures/15b-rtmps-tls12-aes128gcm.pcap",
        "--tls-keylog",
        "captures/15b-rtmps-tls12-aes128gcm.truth/keys.txt",
        "json",
    ]);
    let dsb = run_cli(&[
        "-r",
        "captures/15b-rtmps-tls12-aes128gcm-dsb.pcapng",
        "json",
    ]);
    let none = run_cli(&["-r", "captures/15b-rtmps-tls12-aes128gcm.pcap", "json"]);
    let n = count(&with_log, &rtmps);
    assert!(n > 400, "{n}");
    assert_eq!(count(&dsb, &rtmps), n);
    assert_eq!(count(&none, &rtmps), 0);
    assert_eq!(count(&none, &|v| v["event_type"] == "tls"), 2);
    // Key material never appears in outputs.
    let keys = std::fs::read_to_string(format!(
        "{root}/captures/15b-rtmps-tls12-aes128gcm.truth/keys.txt"
    ))
    .unwrap();
    for l in keys.lines() {
        let secret = l.split_whitespace().nth(2).unwrap();
        assert!(!with_log.contains(secret) && !dsb.contains(secret));
    }
    // A missing key log file is a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(root)
        .args([
            "-r",
            "captures/15b-rtmps-tls12-aes128gcm.pcap",
            "--tls-keylog",
            "/nonexistent/keys",
            "json",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-keylog"));
    // The summary shows the TLS facts.
    let s = run_cli(&["-r", "captures/15e-rtmps-handshake-failure.pcap", "summary"]);
    assert!(
        s.contains("alert from the server: fatal handshake_failure"),
        "{s}"
    );
    assert!(s.contains("SNI: rtmps.lab.test"), "{s}");
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use rtmpscope::event::Direction;
    use rtmpscope::tls::{TlsConnection, TlsOut};

    /// The fuzz target's harness (fuzz/fuzz_targets/tls.rs) as a property:
    /// arbitrary segments of both directions, gaps, with or without keys,
    /// behind a ClientHello-looking prefix or not: never panics, and the
    /// plaintext offsets stay contiguous.
    fn drive(flags: u8, prefix: bool, segs: &[(u8, Vec<u8>)]) {
        let keylog = (flags & 1 != 0).then(|| {
            let cr = "11".repeat(32);
            Arc::new(KeyLog::parse(&format!(
                "CLIENT_RANDOM {cr} {}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {}\n",
                "ab".repeat(48),
                "01".repeat(32),
                "02".repeat(32)
            )))
        });
        let mut c = TlsConnection::new(keylog, flags & 2 != 0);
        let mut off = [0u64; 2];
        let mut plain = [0u64; 2];
        let mut out = Vec::new();
        if prefix {
            // A ClientHello record with client random 0x11 * 32.
            let mut hello = vec![1u8, 0, 0, 41, 3, 3];
            hello.extend([0x11; 32]);
            hello.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
            let mut rec = vec![0x16, 3, 1, 0, hello.len() as u8];
            rec.extend(hello);
            c.handle_data(Direction::ToServer, 0, &rec, &mut out);
            off[0] = rec.len() as u64;
        }
        for (ctl, seg) in segs {
            let dir = if ctl & 1 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
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
        let info = c.finish();
        assert!(info.records[0] + info.records[1] <= off[0] + off[1]);
    }

    fn record_like() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![Just(20u8), Just(21), Just(22), Just(23), any::<u8>()],
            0u16..600,
            proptest::collection::vec(any::<u8>(), 0..700),
        )
            .prop_map(|(t, l, body)| {
                let mut v = vec![t, 3, 3];
                v.extend(l.to_be_bytes());
                v.extend(body);
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn tls_layer_never_panics(
            flags in any::<u8>(),
            prefix in any::<bool>(),
            segs in proptest::collection::vec(
                (any::<u8>(), prop_oneof![record_like(), proptest::collection::vec(any::<u8>(), 0..300)]),
                0..20,
            ),
        ) {
            drive(flags, prefix, &segs);
        }
    }
}

#[test]
fn redact_applies_to_the_sni() {
    use rtmpscope::output::json::tls_to_json;
    use rtmpscope::redact::Redactor;
    use rtmpscope::tls::TlsInfo;
    let mut r = Redactor::new();
    r.learn("sk_live_5f2a9c");
    let t = TlsInfo {
        sni: Some("sk_live_5f2a9c.ingest.example".into()),
        ..Default::default()
    };
    let red = tls_to_json(&t, Some(&r));
    let sni = red["sni"].as_str().unwrap();
    assert!(
        !sni.contains("sk_live_5f2a9c") && sni.ends_with(".ingest.example"),
        "{sni}"
    );
    assert_eq!(
        tls_to_json(&t, None)["sni"],
        "sk_live_5f2a9c.ingest.example"
    );
}

/// TLS 1.3 key updates (captures/15h, real peers: openssl s_client and
/// s_server -rev; the client sends KeyUpdate twice, the second time with
/// update_requested, so both directions change keys): every record after
/// them decrypts, and the plaintext is what the peers exchanged. Without
/// following the updates every later record would fail to authenticate.
#[test]
fn tls13_key_updates_are_followed() {
    use rtmpscope::event::Direction;
    use rtmpscope::pipeline::DataTap;
    #[derive(Default)]
    struct Plain([Vec<u8>; 2]);
    impl DataTap for Plain {
        fn data(&mut self, _: FlowId, dir: Direction, offset: u64, data: &[u8]) {
            let p = &mut self.0[dir.index()];
            assert_eq!(offset, p.len() as u64, "plaintext runs are contiguous");
            p.extend_from_slice(data);
        }
    }
    let stem = "15h-tls13-key-update";
    for (file, keylog) in [
        (
            format!("{stem}.pcap"),
            Some(keylog_file(
                &captures().join(format!("{stem}.truth/keys.txt")),
            )),
        ),
        (format!("{stem}-dsb.pcapng"), None),
    ] {
        let path = captures().join(&file);
        let keylog = keylog.or_else(|| {
            let text = pcapng_tls_secrets(&path).expect("embedded secrets");
            Some(Arc::new(KeyLog::parse(&text)))
        });
        let mut src = PacketSource::open_file(&path, &SourceOptions::default()).expect("open");
        let mut an = Analyzer::new(Config {
            tls_keylog: keylog,
            ..Config::default()
        });
        let mut tap = Plain::default();
        let mut events = Vec::new();
        while let Some(p) = src.next_packet().expect("read") {
            an.handle_packet_tap(&p, &mut events, &mut tap);
        }
        an.finish(None, &mut events);
        let ends: Vec<&FlowEnd> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::FlowEnd(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 1, "{file}: one TLS connection");
        let t = ends[0].tls.as_ref().expect("TLS facts");
        assert_eq!(t.version, Some("TLS 1.3"), "{file}");
        assert_eq!(t.decryption, "decrypted", "{file}");
        assert_eq!(t.failed_records, [0, 0], "{file}: no record failed");
        assert!(
            t.decrypted_records[0] >= 5 && t.decrypted_records[1] >= 3,
            "{file}: {:?}",
            t.decrypted_records
        );
        let anomalies: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Anomaly(a) if a.name.starts_with("tls.") => Some(a.name),
                _ => None,
            })
            .collect();
        assert!(anomalies.is_empty(), "{file}: {anomalies:?}");
        let [c, s] = &tap.0;
        let (c, s) = (String::from_utf8_lossy(c), String::from_utf8_lossy(s));
        for line in [
            "hello before key update",
            "hello after key update",
            "after update requested",
        ] {
            assert!(c.contains(line), "{file}: client sent {line:?}: {c:?}");
            let rev: String = line.chars().rev().collect();
            assert!(s.contains(&rev), "{file}: server echoed {rev:?}: {s:?}");
        }
    }
}
