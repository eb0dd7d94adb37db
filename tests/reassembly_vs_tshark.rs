//! Differential test of TCP reassembly against tshark's `follow,tcp,raw`:
//! for every TCP flow of every capture, the bytes rtmpscope delivers per
//! direction must equal the bytes tshark reassembles, with no gap.
//!
//! Inputs: the public captures in `../shared/captures-public/` (third-party,
//! never copied into this repository) and the corpus in `captures/` (lossy
//! captures excluded: they are checked against their own ground truth).
//! Skips, saying so, when tshark or the captures are absent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Direction, EventKind, FlowId};
use rtmpscope::pipeline::{Analyzer, Config, DataTap};

#[derive(Default)]
struct Collect {
    bytes: HashMap<(FlowId, Direction), Vec<u8>>,
}

impl DataTap for Collect {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        let v = self.bytes.entry((flow, dir)).or_default();
        assert_eq!(v.len() as u64, offset, "data delivered out of order");
        v.extend_from_slice(data);
    }
}

struct Ours {
    /// (client ip, client port, server ip, server port) per flow.
    flows: Vec<(FlowId, IpAddr, u16, IpAddr, u16)>,
    bytes: HashMap<(FlowId, Direction), Vec<u8>>,
    gaps: u64,
}

fn analyze(path: &Path) -> Ours {
    let mut src = PacketSource::open_file(path, &SourceOptions::default()).expect("open capture");
    let mut an = Analyzer::new(Config::default());
    let mut tap = Collect::default();
    let mut events = Vec::new();
    while let Some(pkt) = src.next_packet().expect("read packet") {
        an.handle_packet_tap(&pkt, &mut events, &mut tap);
    }
    an.finish(None, &mut events);
    let mut ours = Ours {
        flows: Vec::new(),
        bytes: tap.bytes,
        gaps: 0,
    };
    for ev in events {
        match ev.kind {
            EventKind::FlowStart(f) => ours.flows.push((
                f.flow_id,
                f.client_ip,
                f.client_port,
                f.server_ip,
                f.server_port,
            )),
            EventKind::Gap(g) => ours.gaps += g.len,
            _ => {}
        }
    }
    ours
}

/// tshark's reassembled payload of TCP stream `n`: (node0 endpoint, node1
/// endpoint, node0->node1 bytes, node1->node0 bytes).
fn tshark_follow(path: &Path, n: usize) -> (String, String, Vec<u8>, Vec<u8>) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-o", "tcp.reassemble_out_of_order:TRUE", "-q", "-z"])
        .arg(format!("follow,tcp,raw,{n}"))
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut n0, mut n1) = (String::new(), String::new());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Node 0: ") {
            n0 = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("Node 1: ") {
            n1 = rest.trim().to_string();
        } else if line.starts_with('=') || line.contains(':') || line.trim().is_empty() {
            continue;
        } else if let Some(hex) = line.strip_prefix('\t') {
            b.extend(unhex(hex.trim()));
        } else {
            a.extend(unhex(line.trim()));
        }
    }
    (n0, n1, a, b)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn tcp_stream_count(path: &Path) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "tcp.stream", "-Y", "tcp"])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<usize>().ok())
        .max()
        .map_or(0, |m| m + 1)
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn check_file(path: &Path) -> Result<usize, String> {
    let ours = analyze(path);
    let streams = tcp_stream_count(path);
    let mut checked = 0;
    for n in 0..streams {
        let (n0, n1, a, b) = tshark_follow(path, n);
        if a.is_empty() && b.is_empty() {
            continue; // no payload: rtmpscope does not create such flows
        }
        let flow = ours.flows.iter().find(|(_, ci, cp, si, sp)| {
            let c = endpoint(*ci, *cp);
            let s = endpoint(*si, *sp);
            (c == n0 && s == n1) || (c == n1 && s == n0)
        });
        let Some(&(id, ci, cp, _, _)) = flow else {
            return Err(format!(
                "{}: tcp.stream {n} ({n0} <-> {n1}) not found",
                path.display()
            ));
        };
        let client_is_node0 = endpoint(ci, cp) == n0;
        let (to_server, to_client) = if client_is_node0 { (a, b) } else { (b, a) };
        let empty = Vec::new();
        let got_s = ours.bytes.get(&(id, Direction::ToServer)).unwrap_or(&empty);
        let got_c = ours.bytes.get(&(id, Direction::ToClient)).unwrap_or(&empty);
        if *got_s != to_server || *got_c != to_client {
            return Err(format!(
                "{}: flow {id} differs from tshark stream {n}: to_server {} vs {} bytes, to_client {} vs {} bytes",
                path.display(),
                got_s.len(),
                to_server.len(),
                got_c.len(),
                to_client.len()
            ));
        }
        checked += 1;
    }
    if ours.gaps != 0 {
        return Err(format!(
            "{}: {} bytes reported as gaps",
            path.display(),
            ours.gaps
        ));
    }
    Ok(checked)
}

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok()
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        (name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap"))
            && !name.contains("lossy")
    });
    v.sort();
    v
}

#[test]
fn public_captures_reassemble_like_tshark() {
    if !have_tshark() {
        eprintln!("SKIPPED: tshark is not installed (.ci/run installs it)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} is absent", root.display());
        return;
    }
    let mut files = Vec::new();
    for sub in std::fs::read_dir(&root).expect("read dir").flatten() {
        files.extend(capture_files(&sub.path()));
    }
    assert!(
        !files.is_empty(),
        "no capture found under {}",
        root.display()
    );
    let mut flows = 0;
    let mut errors = Vec::new();
    for f in &files {
        match check_file(f) {
            Ok(n) => flows += n,
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(flows > 0);
    eprintln!(
        "{} flows in {} public captures match tshark",
        flows,
        files.len()
    );
}

#[test]
fn corpus_captures_reassemble_like_tshark() {
    if !have_tshark() {
        eprintln!("SKIPPED: tshark is not installed (.ci/run installs it)");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files = capture_files(&dir);
    if files.is_empty() {
        eprintln!("SKIPPED: no capture in {}", dir.display());
        return;
    }
    let mut errors = Vec::new();
    for f in &files {
        if let Err(e) = check_file(f) {
            errors.push(e);
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
