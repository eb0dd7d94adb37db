//! Differential test of TCP reassembly against tshark's `follow,tcp,raw`:
//! for every TCP flow of every capture, the bytes rtmpscope delivers per
//! direction must equal the bytes tshark reassembles, with no gap.
//!
//! Inputs: the public captures in `../shared/captures-public/` (third-party,
//! never copied into this repository) and the corpus in `captures/` (lossy
//! captures excluded: they are checked against their own ground truth).
//! tshark's view of each capture is cached (SHA-256 per direction) in
//! `tests/reassembly_tshark_cache.tsv`, keyed by the capture's own SHA-256;
//! tshark runs only on a cache miss (`UPDATE_TSHARK_CACHE=1` stores new views).
//! Skips, saying so, when a view is missing and tshark or the captures are
//! absent (fails instead under `RTMPSCOPE_REQUIRE_INPUTS=1`).

#[path = "support/inputs.rs"]
mod inputs;

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
    // TLS flows (RTMPS): the TCP bytes, not the (absent without keys) plaintext.
    fn tls_record_bytes(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        self.data(flow, dir, offset, data);
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

/// tshark's view of one TCP stream, as kept in the cache: endpoints and, per
/// direction, the byte count and SHA-256 of the reassembled payload.
#[derive(Clone, Debug, PartialEq)]
struct StreamView {
    n0: String,
    n1: String,
    a: (usize, String),
    b: (usize, String),
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cache of tshark's views: `tests/reassembly_tshark_cache.tsv`, one line
/// per TCP stream with payload, keyed by the capture's file name and the
/// SHA-256 of its bytes (a changed capture misses the cache). Running tshark
/// once per stream is most of this test's time, so tshark runs only on a
/// miss; `UPDATE_TSHARK_CACHE=1` writes the fresh views back.
const CACHE: &str = "tests/reassembly_tshark_cache.tsv";

fn cache_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CACHE)
}

fn read_cache() -> HashMap<(String, String), Vec<StreamView>> {
    let mut map: HashMap<(String, String), Vec<StreamView>> = HashMap::new();
    let text = std::fs::read_to_string(cache_path()).unwrap_or_default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 8 {
            continue;
        }
        let view = StreamView {
            n0: f[2].to_string(),
            n1: f[3].to_string(),
            a: (f[4].parse().unwrap_or(usize::MAX), f[5].to_string()),
            b: (f[6].parse().unwrap_or(usize::MAX), f[7].to_string()),
        };
        map.entry((f[0].to_string(), f[1].to_string()))
            .or_default()
            .push(view);
    }
    map
}

fn write_cache(map: &HashMap<(String, String), Vec<StreamView>>) {
    let mut keys: Vec<_> = map.keys().cloned().collect();
    keys.sort();
    let mut out = String::from(
        "# tshark -o tcp.reassemble_out_of_order:TRUE -z follow,tcp,raw,N per stream with payload\n\
         # file\tsha256(file)\tnode0\tnode1\tlen0->1\tsha256(0->1)\tlen1->0\tsha256(1->0)\n",
    );
    for k in keys {
        for v in &map[&k] {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                k.0, k.1, v.n0, v.n1, v.a.0, v.a.1, v.b.0, v.b.1
            ));
        }
    }
    std::fs::write(cache_path(), out).expect("write tshark cache");
}

/// tshark's views of every TCP stream of `path` with payload: from the cache
/// when the capture is unchanged, else by running tshark (`None` when tshark
/// is needed but not installed).
fn tshark_views(
    path: &Path,
    cache: &mut HashMap<(String, String), Vec<StreamView>>,
) -> Option<Vec<StreamView>> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let key = (name, sha256_hex(&std::fs::read(path).ok()?));
    if let Some(v) = cache.get(&key) {
        return Some(v.clone());
    }
    if !have_tshark() {
        return None;
    }
    let mut views = Vec::new();
    for n in 0..tcp_stream_count(path) {
        let (n0, n1, a, b) = tshark_follow(path, n);
        if a.is_empty() && b.is_empty() {
            continue; // no payload: rtmpscope does not create such flows
        }
        views.push(StreamView {
            n0,
            n1,
            a: (a.len(), sha256_hex(&a)),
            b: (b.len(), sha256_hex(&b)),
        });
    }
    cache.insert(key, views.clone());
    Some(views)
}

fn check_file(path: &Path, views: &[StreamView]) -> Result<usize, String> {
    let ours = analyze(path);
    let mut checked = 0;
    for (n, v) in views.iter().enumerate() {
        let (n0, n1) = (&v.n0, &v.n1);
        let flow = ours.flows.iter().find(|(_, ci, cp, si, sp)| {
            let c = endpoint(*ci, *cp);
            let s = endpoint(*si, *sp);
            (c == *n0 && s == *n1) || (c == *n1 && s == *n0)
        });
        let Some(&(id, ci, cp, _, _)) = flow else {
            return Err(format!(
                "{}: tcp stream #{n} with payload ({n0} <-> {n1}) not found",
                path.display()
            ));
        };
        let client_is_node0 = endpoint(ci, cp) == *n0;
        let (to_server, to_client) = if client_is_node0 {
            (&v.a, &v.b)
        } else {
            (&v.b, &v.a)
        };
        let empty = Vec::new();
        let got_s = ours.bytes.get(&(id, Direction::ToServer)).unwrap_or(&empty);
        let got_c = ours.bytes.get(&(id, Direction::ToClient)).unwrap_or(&empty);
        let same = |got: &Vec<u8>, want: &(usize, String)| {
            got.len() == want.0 && sha256_hex(got) == want.1
        };
        if !same(got_s, to_server) || !same(got_c, to_client) {
            return Err(format!(
                "{}: flow {id} differs from tshark stream #{n}: to_server {} vs {} bytes, to_client {} vs {} bytes",
                path.display(),
                got_s.len(),
                to_server.0,
                got_c.len(),
                to_client.0
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

/// Checks every file against tshark's (cached) view; returns the number of
/// flows checked, or the errors. Missing views (no tshark, cache miss) are
/// reported through [`inputs::missing`].
fn check_all(files: &[PathBuf]) -> (usize, Vec<String>) {
    // Both tests share the cache file: one at a time.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut cache = read_cache();
    let before = cache.len();
    let mut flows = 0;
    let mut errors = Vec::new();
    for f in files {
        let Some(views) = tshark_views(f, &mut cache) else {
            inputs::missing(&format!(
                "{}: not in {CACHE} and tshark is not installed",
                f.display()
            ));
            continue;
        };
        match check_file(f, &views) {
            Ok(n) => flows += n,
            Err(e) => errors.push(e),
        }
    }
    if cache.len() != before && std::env::var_os("UPDATE_TSHARK_CACHE").is_some() {
        write_cache(&cache);
    }
    (flows, errors)
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
            && !name.contains("lost-segment")
    });
    v.sort();
    v
}

#[test]
fn public_captures_reassemble_like_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    if !root.is_dir() {
        inputs::missing(&format!("{} is absent", root.display()));
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
    let (flows, errors) = check_all(&files);
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files = capture_files(&dir);
    if files.is_empty() {
        inputs::missing(&format!("no capture in {}", dir.display()));
        return;
    }
    let (flows, errors) = check_all(&files);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(flows > 0);
}
