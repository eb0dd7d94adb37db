//! RTMPT captures (captures/14a, 14b, 14c; made by captures/generate.sh with
//! tools/rtmpt_bridge.py): the RTMP that rtmpscope reports inside the tunnel
//! is exactly what the bridge relayed on its plain upstream connection
//! (`truth/upstream.pcap`), the tunnel's media equals the publisher's source
//! and the player's framemd5, and summary, JSON and TUI show each tunnel as
//! one session with its tunnel facts.
//!
//! Inputs are in the repository; when one is absent the test prints
//! `SKIPPED: <why>`, or fails when `RTMPSCOPE_REQUIRE_INPUTS=1`.

#[path = "support/inputs.rs"]
mod support;

#[allow(dead_code)]
#[path = "corpus/common.rs"]
mod common;
#[path = "corpus/md5.rs"]
mod md5;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{capture, parse_framemd5, run, truth_dir, Run};
use rtmpscope::event::{Direction, FlowId, FlowProtocol, Transport};
use rtmpscope::rtmp::message::{Body, Message};

const CAPS: [&str; 3] = ["14a", "14b", "14c"];

/// The capture and its upstream truth, or None (skipped) when absent.
fn inputs(cap: &str) -> Option<(PathBuf, PathBuf)> {
    let found = capture(cap).and_then(|p| {
        let up = truth_dir(&p).join("upstream.pcap");
        // 14c is built from 14a: its truth is 14a's upstream.
        let up = if up.exists() {
            up
        } else {
            let a = capture("14a")?;
            truth_dir(&a).join("upstream.pcap")
        };
        up.exists().then_some((p, up))
    });
    if found.is_none() {
        assert!(
            !support::required(),
            "RTMPSCOPE_REQUIRE_INPUTS=1 but capture {cap} or its upstream.pcap is absent"
        );
        eprintln!("SKIPPED: capture {cap} or its truth upstream.pcap absent");
    }
    found
}

/// What must be identical between the tunnel and the upstream connection.
type Key = (Direction, u8, u32, u32, u32, u32, String);

fn key(d: Direction, m: &Message) -> Key {
    let name = match &m.body {
        Body::Command(c) => c.name.as_text().unwrap_or("?").to_owned(),
        Body::Data(x) => x
            .name
            .as_ref()
            .and_then(|n| n.as_text())
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    };
    (d, m.type_id, m.csid, m.msid, m.timestamp, m.length, name)
}

/// Message lists per flow, for the flows `pick` selects.
fn per_flow(r: &Run, pick: impl Fn(FlowId) -> bool) -> BTreeMap<FlowId, Vec<Key>> {
    let mut v: BTreeMap<FlowId, Vec<Key>> = BTreeMap::new();
    for x in r.msgs.iter().filter(|x| pick(x.flow)) {
        v.entry(x.flow).or_default().push(key(x.dir, &x.m));
    }
    v
}

fn virtual_flows(r: &Run) -> Vec<FlowId> {
    r.flows
        .iter()
        .filter(|f| f.tunnel.is_some())
        .map(|f| f.flow_id)
        .collect()
}

#[test]
fn tunnel_messages_are_exactly_the_upstream_messages() {
    for cap in CAPS {
        let Some((path, up)) = inputs(cap) else {
            continue;
        };
        let r = run(&path);
        let u = run(&up);
        let tunnels = virtual_flows(&r);
        assert_eq!(
            tunnels.len(),
            2,
            "{cap}: one tunnel each for publisher and player"
        );
        for f in &tunnels {
            let info = r.flow(*f);
            assert_eq!(info.tunnel.as_ref().unwrap().transport, Transport::Rtmpt);
            assert_eq!(r.ends[f].protocol, FlowProtocol::Rtmp, "{cap}: flow {f}");
        }
        // Every carrier is an RTMPT carrier; no message is on a carrier.
        for f in r.flows.iter().filter(|f| f.tunnel.is_none()) {
            assert_eq!(r.ends[&f.flow_id].protocol, FlowProtocol::Rtmpt, "{cap}");
            assert!(!r.msgs.iter().any(|x| x.flow == f.flow_id), "{cap}");
        }
        let mut ours: Vec<Vec<Key>> = per_flow(&r, |f| tunnels.contains(&f))
            .into_values()
            .collect();
        let mut truth: Vec<Vec<Key>> = per_flow(&u, |_| true).into_values().collect();
        ours.sort();
        truth.sort();
        assert_eq!(ours.len(), truth.len(), "{cap}: sessions");
        for (o, t) in ours.iter().zip(&truth) {
            assert!(o.len() > 10, "{cap}: a real session has messages");
            if o != t {
                let i = o
                    .iter()
                    .zip(t)
                    .position(|(a, b)| a != b)
                    .unwrap_or(o.len().min(t.len()));
                panic!(
                    "{cap}: tunnel and upstream differ at message {i} (tunnel {} msgs, upstream {}): {:?} vs {:?}",
                    o.len(),
                    t.len(),
                    o.get(i),
                    t.get(i)
                );
            }
        }
        // The tunnel's RTMP bytes are the upstream TCP bytes, per direction.
        for f in &tunnels {
            let t = r.ends[f].tunnel.as_ref().expect("tunnel facts");
            let (ts, tc) = (t.rtmp_bytes.to_server, t.rtmp_bytes.to_client);
            assert!(
                u.ends.values().any(|e| e.counters.bytes == [ts, tc]),
                "{cap}: tunnel {f} carried {ts}/{tc} bytes; upstream flows: {:?}",
                u.ends
                    .values()
                    .map(|e| e.counters.bytes)
                    .collect::<Vec<_>>()
            );
            assert!(t.http_bytes.to_server > ts && t.http_bytes.to_client > tc);
            assert_eq!(t.missing_seqs + t.duplicate_seqs, 0, "{cap}");
        }
    }
}

/// Coded frames of a legacy FLV-style media message: (is_video, payload).
fn frame(m: &Message, body: &[u8]) -> Option<(bool, Vec<u8>)> {
    match &m.body {
        Body::Video(v) if !v.enhanced && v.packet_type == Some(1) && v.frame_type != 5 => {
            Some((true, body.get(5..)?.to_vec()))
        }
        Body::Audio(a) if a.packet_type == Some(1) => Some((false, body.get(2..)?.to_vec())),
        _ => None,
    }
}

fn media(r: &Run, flow: FlowId, dir: Direction) -> BTreeMap<bool, Vec<(u32, String)>> {
    let mut out: BTreeMap<bool, Vec<(u32, String)>> = BTreeMap::new();
    for x in r.msgs.iter().filter(|x| x.flow == flow && x.dir == dir) {
        let body = r.body(x).expect("body bytes of a tunnel message");
        if let Some((v, p)) = frame(&x.m, &body) {
            out.entry(v)
                .or_default()
                .push((p.len() as u32, md5::md5_hex(&p)));
        }
    }
    out
}

fn truth_media(path: &Path) -> BTreeMap<bool, Vec<(u32, String)>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_framemd5(&text)
        .into_iter()
        .map(|s| (s.video, s.packets))
        .collect()
}

#[test]
fn tunnel_media_equals_source_and_player_truth() {
    for cap in CAPS {
        let Some((path, _)) = inputs(cap) else {
            continue;
        };
        let r = run(&path);
        let truth = if cap == "14c" {
            truth_dir(&capture("14a").unwrap())
        } else {
            truth_dir(&path)
        };
        let tunnels = virtual_flows(&r);
        let publisher = *tunnels
            .iter()
            .find(|f| r.publish_name(**f).is_some())
            .expect("a publishing tunnel");
        let player = *tunnels.iter().find(|f| **f != publisher).unwrap();
        let sent = media(&r, publisher, Direction::ToServer);
        let src = truth_media(&truth.join("source.framemd5"));
        assert_eq!(
            sent, src,
            "{cap}: publisher's tunnel media vs source.framemd5"
        );
        let got = media(&r, player, Direction::ToClient);
        let pl = truth_media(&truth.join("player.framemd5"));
        assert!(!pl.is_empty());
        assert_eq!(got, pl, "{cap}: player's tunnel media vs player.framemd5");
        assert_eq!(got[&true].len(), 75, "{cap}: 3 s of 25 fps video");
    }
}

#[test]
fn summary_shows_each_tunnel_as_one_session_with_facts() {
    let Some((path, _)) = inputs("14c") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["-r", path.to_str().unwrap(), "summary"])
        .output()
        .expect("run rtmpscope");
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    // 14c: 317 TCP connections, two sessions.
    assert_eq!(
        s.matches("\nSession ").count() + s.starts_with("Session ") as usize,
        2,
        "{s}"
    );
    assert_eq!(s.matches("transport: rtmpt").count(), 2, "{s}");
    assert!(s.contains("carried by TCP flows 1, 2, "), "{s}");
    assert!(
        s.contains("tunnel requests: open 1 send 25 idle 0 close 1"),
        "{s}"
    );
    assert!(s.contains("tunnel intervals asked: "), "{s}");
    assert!(s.contains("tunnel bytes c->s HTTP "), "{s}");
    assert!(
        s.contains("tunnel latency (request -> response) avg "),
        "{s}"
    );
    assert!(s.contains("publish \"rtmpt1\""), "{s}");
    assert!(s.contains("(2 RTMP)"), "{s}");
}

#[test]
fn json_carries_transport_sid_and_tunnel_facts() {
    let Some((path, _)) = inputs("14a") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["-r", path.to_str().unwrap(), "json"])
        .output()
        .expect("run rtmpscope");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rtmp: Vec<_> = lines.iter().filter(|l| l["event_type"] == "rtmp").collect();
    assert!(!rtmp.is_empty());
    for l in &rtmp {
        assert_eq!(l["transport"], "rtmpt", "{l}");
        assert!(l["tunnel_sid"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let flows: Vec<_> = lines
        .iter()
        .filter(|l| l["event_type"] == "flow" && l["flow"]["tunnel"].is_object())
        .collect();
    assert_eq!(flows.len(), 2);
    for f in flows {
        let t = &f["flow"]["tunnel"];
        assert_eq!(t["transport"], "rtmpt");
        assert!(t["carriers"].as_array().is_some_and(|c| c.len() == 1));
        assert!(t["requests"]["send"].as_u64().unwrap() >= 4);
        assert_eq!(f["flow"]["transport"], "rtmpt");
    }
    let sessions: Vec<_> = lines
        .iter()
        .filter(|l| l["event_type"] == "session")
        .collect();
    assert_eq!(
        sessions.len(),
        2,
        "sessions are the tunnels, not the carriers"
    );
    for s in sessions {
        assert_eq!(s["session"]["transport"], "rtmpt");
        assert!(s["session"]["tunnel"]["latency"]["count"].as_u64().unwrap() > 0);
    }
}

#[test]
fn tui_shows_the_tunnel_session_and_its_facts() {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use rtmpscope::tui::app::App;
    use rtmpscope::tui::{view, Batch, TuiOptions};
    let Some((path, _)) = inputs("14a") else {
        return;
    };
    let mut src = rtmpscope::capture::PacketSource::open_file(
        &path,
        &rtmpscope::capture::SourceOptions::default(),
    )
    .unwrap();
    let mut an = rtmpscope::pipeline::Analyzer::default();
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        an.handle_packet(&p, &mut events);
    }
    an.finish(None, &mut events);
    let mut app = App::new(TuiOptions {
        source: "14a.pcap".into(),
        ..TuiOptions::default()
    });
    app.ingest(Batch {
        events,
        bytes: Vec::new(),
        progress: None,
    });
    let draw = |app: &mut App| {
        let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
        t.draw(|f| view::render(app, f)).unwrap();
        let b = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..b.area.height {
            for x in 0..b.area.width {
                s.push_str(b[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    };
    let sessions = draw(&mut app);
    assert_eq!(app.model.sessions.len(), 2, "{sessions}");
    assert!(sessions.contains("rtmpt"), "{sessions}");
    app.handle_key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE));
    let stats = draw(&mut app);
    assert!(stats.contains("transport: rtmpt"), "{stats}");
    assert!(stats.contains("tunnel requests: open 1"), "{stats}");
    assert!(stats.contains("tunnel latency"), "{stats}");
}

#[test]
fn diff_sees_no_difference_between_one_and_many_connections() {
    let (Some((a, _)), Some((c, _))) = (inputs("14a"), inputs("14c")) else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["diff", a.to_str().unwrap(), c.to_str().unwrap()])
        .output()
        .expect("run rtmpscope diff");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s}");
    assert!(
        s.to_lowercase()
            .contains("no differences (2 session(s) compared)"),
        "{s}"
    );
}
