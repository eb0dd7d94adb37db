//! The TUI's pcap export of the shown messages (`P`, Enter): with a filter
//! applied, it writes the packets that carry the shown messages (plus their
//! flows' SYNs, RTMP handshake and control messages), as they were
//! captured, and the messages can be read back from that file.
//!
//! Checked on the bundled capture 01 (ffmpeg -> nginx-rtmp publish and
//! play, no loss or retransmission): the exported packets are exactly the
//! capture's packets whose TCP payload (placed in the stream by its
//! sequence number, computed here from the SYNs, independently of the
//! reassembler) overlaps a shown message, the handshake or a control
//! message of the shown messages' flows, plus those flows' SYNs; in
//! order, with the same bytes and timestamps. For commands, decoding the
//! export gives every shown message again (direction, type, chunk stream,
//! message stream, length and decoded body). Media messages cut out of
//! their chunk streams are not always readable again (the export has gaps,
//! as any "export displayed packets" does): for them only the packet set is
//! checked. SKIPPED without the capture (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Direction, Event, EventKind};
use rtmpscope::tui::app::App;
use rtmpscope::tui::filter::Filter;
use rtmpscope::tui::TuiOptions;

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

/// Every packet of `file` as (seconds, nanoseconds, bytes).
fn packets(file: &Path) -> Vec<(i64, u32, Vec<u8>)> {
    let mut src = PacketSource::open_file(file, &SourceOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        out.push((p.time.sec, p.time.nsec, p.data.to_vec()));
    }
    out
}

/// What must survive the export: direction, type, csid, msid, length and
/// the decoded body (flow ids may differ between the two files).
fn message_key(e: &Event) -> Option<String> {
    match &e.kind {
        EventKind::Message(m) if m.truncated.is_none() => Some(format!(
            "{:?} type {} csid {} msid {} len {} {:?}",
            e.direction, m.type_id, m.csid, m.msid, m.length, m.body
        )),
        _ => None,
    }
}

/// Source and destination endpoints, SYN flag, sequence number and
/// payload length of an Ethernet/IP/TCP frame.
type Seg = (Endpoint, Endpoint, bool, u32, u32);

/// An address and port.
type Endpoint = (IpAddr, u16);

fn tcp(frame: &[u8]) -> Option<Seg> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let (s, d): (IpAddr, IpAddr) = match p.net? {
        NetSlice::Ipv4(v) => (
            v.header().source_addr().into(),
            v.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(v) => (
            v.header().source_addr().into(),
            v.header().destination_addr().into(),
        ),
        _ => return None,
    };
    match p.transport? {
        TransportSlice::Tcp(t) => Some((
            (s, t.source_port()),
            (d, t.destination_port()),
            t.syn(),
            t.sequence_number(),
            t.payload().len() as u32,
        )),
        _ => None,
    }
}

/// Indices (0-based) of the packets of `pkts` that must be exported: SYNs
/// of `flows`, and payload overlapping `ranges` (stream offsets from the
/// SYN's sequence number + 1).
fn expected_packets(
    pkts: &[(i64, u32, Vec<u8>)],
    flows: &HashMap<u64, (Endpoint, Endpoint)>,
    ranges: &HashMap<(u64, Direction), Vec<(u64, u64)>>,
) -> Vec<usize> {
    let mut isn: HashMap<(u64, Direction), u32> = HashMap::new();
    let mut out = Vec::new();
    for (i, (_, _, data)) in pkts.iter().enumerate() {
        let Some((src, dst, syn, seq, len)) = tcp(data) else {
            continue;
        };
        let Some((&f, d)) = flows.iter().find_map(|(f, &(c, s))| {
            if (src, dst) == (c, s) {
                Some((f, Direction::ToServer))
            } else if (src, dst) == (s, c) {
                Some((f, Direction::ToClient))
            } else {
                None
            }
        }) else {
            continue;
        };
        if syn {
            isn.insert((f, d), seq);
            out.push(i);
            continue;
        }
        let (Some(&base), true) = (isn.get(&(f, d)), len > 0) else {
            continue;
        };
        let off = seq.wrapping_sub(base.wrapping_add(1)) as u64;
        let end = off + len as u64;
        if ranges
            .get(&(f, d))
            .is_some_and(|rs| rs.iter().any(|&(a, b)| a < end && off < b))
        {
            out.push(i);
        }
    }
    out
}

/// Loads capture 01 into the UI, applies `filter`, exports with `P` and
/// checks the export; returns (shown messages, exported packets, capture
/// packets).
fn check(filter: &str, read_back: bool) -> Option<(usize, usize, usize)> {
    let cap: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/01-ffmpeg-nginx-publish-play.pcap");
    if !cap.exists() {
        inputs::missing(&format!("{} not found", cap.display()));
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "rtmpscope-shown-pcap-{}-{}",
        std::process::id(),
        filter.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let evs = tui_load::decode(&cap);
    let mut app = tui_load::app_with(
        TuiOptions {
            file: Some(cap.clone()),
            export_dir: dir.clone(),
            ..TuiOptions::default()
        },
        evs.clone(),
    );
    app.set_filter(Filter::parse(filter).unwrap());
    app.refresh();
    // The shown messages, as the original capture decodes them.
    let shown: HashSet<(u64, String, u64)> = app.filtered[..app.visible_len()]
        .iter()
        .map(|&r| {
            let row = &app.model.rows[r as usize];
            (row.flow_id, format!("{:?}", row.dir), row.first_byte)
        })
        .collect();
    let mut want: Vec<String> = evs
        .iter()
        .filter(|e| match (&e.kind, e.flow_id, e.direction) {
            (EventKind::Message(m), Some(f), Some(d)) => {
                shown.contains(&(f, format!("{d:?}"), m.first_byte))
            }
            _ => false,
        })
        .filter_map(message_key)
        .collect();
    assert_eq!(want.len(), shown.len(), "every shown message is complete");
    assert!(!want.is_empty());
    // What the export must carry, by the rule the UI states: the shown
    // messages, and per flow the handshake (1 + 2 x 1536 bytes each way)
    // and the control messages (types 1-6).
    let mut ranges: HashMap<(u64, Direction), Vec<(u64, u64)>> = HashMap::new();
    let mut flows = HashMap::new();
    for &r in &app.filtered[..app.visible_len()] {
        let row = &app.model.rows[r as usize];
        let info = app.model.flow(row.flow_id).unwrap().info.clone().unwrap();
        flows.insert(
            row.flow_id,
            (
                (info.client_ip, info.client_port),
                (info.server_ip, info.server_port),
            ),
        );
    }
    for row in &app.model.rows {
        let shown_row = shown.contains(&(row.flow_id, format!("{:?}", row.dir), row.first_byte));
        if shown_row || ((1..=6).contains(&row.type_id) && flows.contains_key(&row.flow_id)) {
            ranges
                .entry((row.flow_id, row.dir))
                .or_default()
                .push((row.first_byte, row.last_byte + 1));
        }
    }
    for &f in flows.keys() {
        for d in [Direction::ToServer, Direction::ToClient] {
            ranges.entry((f, d)).or_default().push((0, 3073));
        }
    }

    key(&mut app, KeyCode::Char('P'));
    let target = app.prompt.as_ref().expect("path prompt").text.clone();
    assert!(target.ends_with("rtmpscope-shown.pcap"), "{target}");
    key(&mut app, KeyCode::Enter);
    let t0 = std::time::Instant::now();
    loop {
        app.refresh();
        let st = app.status.clone().map(|s| s.0).unwrap_or_default();
        if st.starts_with("wrote") {
            assert!(
                st.contains(&format!("of {} shown messages", shown.len())),
                "{st}"
            );
            break;
        }
        assert!(!st.contains("failed"), "{st}");
        assert!(t0.elapsed().as_secs() < 30, "export did not finish: {st}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = dir.join("rtmpscope-shown.pcap");

    // The exported packets are exactly the expected packets of the
    // capture, in capture order, bytes and timestamps kept.
    let orig = packets(&cap);
    let got = packets(&out);
    let expect: Vec<&(i64, u32, Vec<u8>)> = expected_packets(&orig, &flows, &ranges)
        .into_iter()
        .map(|i| &orig[i])
        .collect();
    assert_eq!(got.len(), expect.len(), "exported vs expected packet count");
    for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert!(
            g == *e,
            "exported packet {} differs from the expected one",
            i + 1
        );
    }
    assert!(got.len() < orig.len(), "{} of {}", got.len(), orig.len());
    if !read_back {
        let _ = std::fs::remove_dir_all(&dir);
        return Some((want.len(), got.len(), orig.len()));
    }

    // The shown messages are read back from the export.
    let mut back: Vec<String> = tui_load::decode(&out)
        .iter()
        .filter_map(message_key)
        .collect();
    back.sort();
    want.sort();
    let mut missing = Vec::new();
    let mut j = 0;
    for w in &want {
        while j < back.len() && back[j] < *w {
            j += 1;
        }
        if j < back.len() && back[j] == *w {
            j += 1;
        } else {
            missing.push(w.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} shown messages not read back from the export, first: {}",
        missing.len(),
        want.len(),
        missing
            .first()
            .map(|s| &s[..s.len().min(300)])
            .unwrap_or("")
    );
    let _ = std::fs::remove_dir_all(&dir);
    Some((want.len(), got.len(), orig.len()))
}

#[test]
fn shown_commands_are_exported_and_read_back() {
    let Some((shown, exported, all)) = check("type:command", true) else {
        return;
    };
    eprintln!("type:command: {shown} messages, {exported} of {all} packets");
    // Commands are a few packets; media make most of the capture.
    assert!(exported * 4 < all, "{exported} of {all}");
}

#[test]
fn shown_keyframes_are_exported_and_read_back() {
    let Some((shown, exported, all)) = check("keyframe", false) else {
        return;
    };
    eprintln!("keyframe: {shown} messages, {exported} of {all} packets");
    assert!(exported < all, "{exported} of {all}");
}
