//! Shared helpers of the corpus tests: run the library pipeline over a
//! capture once (cached per path), and read the ground-truth files
//! (`tshark.ndjson`, `*.framemd5`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Anomaly, Direction, EventKind, FlowEnd, FlowId, FlowInfo};
use rtmpscope::rtmp::handshake::HandshakeEvent;
use rtmpscope::rtmp::message::{Body, Message};

/// One decoded RTMP message with where it was seen.
pub struct Msg {
    pub flow: FlowId,
    pub dir: Direction,
    /// Frame number (pcap_cnt) of the packet that completed it.
    pub frame: u64,
    pub m: Message,
}

/// One anomaly with where it was seen.
pub struct Anom {
    pub flow: Option<FlowId>,
    pub dir: Option<Direction>,
    pub frame: u64,
    pub a: Anomaly,
}

/// Everything the tests need from one run of the pipeline.
pub struct Run {
    pub flows: Vec<FlowInfo>,
    pub ends: HashMap<FlowId, FlowEnd>,
    pub handshakes: Vec<(FlowId, HandshakeEvent)>,
    pub anomalies: Vec<Anom>,
    pub msgs: Vec<Msg>,
    /// Frame of the first gap per flow direction.
    pub first_gap: HashMap<(FlowId, Direction), u64>,
    /// Delivered stream bytes per flow direction, placed at their stream
    /// offsets (gap bytes are zero).
    pub bytes: HashMap<(FlowId, Direction), Vec<u8>>,
}

/// Bytes further than this past the end of what was delivered are not
/// placed (a test capture never has such a gap).
const MAX_HOLE: u64 = 64 << 20;

struct Tap(HashMap<(FlowId, Direction), Vec<u8>>);

impl rtmpscope::pipeline::DataTap for Tap {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        let v = self.0.entry((flow, dir)).or_default();
        if offset > v.len() as u64 + MAX_HOLE {
            return;
        }
        let end = offset as usize + data.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(data);
    }
}

impl Run {
    pub fn flow(&self, id: FlowId) -> &FlowInfo {
        self.flows
            .iter()
            .find(|f| f.flow_id == id)
            .unwrap_or_else(|| panic!("no flow {id}"))
    }
    /// The body bytes of a message (its chunk payloads), if all were seen.
    pub fn body(&self, x: &Msg) -> Option<Vec<u8>> {
        let s = self.bytes.get(&(x.flow, x.dir))?;
        let mut b = Vec::with_capacity(x.m.length as usize);
        for c in &x.m.chunks {
            b.extend_from_slice(s.get(c.payload.start as usize..c.payload.end as usize)?);
        }
        (b.len() == x.m.length as usize).then_some(b)
    }
    /// The stream name of the first `publish` command on a flow.
    pub fn publish_name(&self, flow: FlowId) -> Option<String> {
        self.msgs.iter().find_map(|x| match &x.m.body {
            Body::Command(c) if x.flow == flow && c.name.as_text() == Some("publish") => {
                c.args.iter().find_map(|v| match v {
                    rtmpscope::amf::Value {
                        kind: rtmpscope::amf::ValueKind::String(s),
                        ..
                    } => Some(s.to_lossy()),
                    _ => None,
                })
            }
            _ => None,
        })
    }
}

pub fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The capture file whose name starts with `prefix` + '-'.
pub fn capture(prefix: &str) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with(&format!("{prefix}-")) && (n.ends_with(".pcap") || n.ends_with(".pcapng"))
        })
        .collect();
    v.sort();
    v.into_iter().next()
}

/// `captures/<name>.truth/` of a capture path.
pub fn truth_dir(cap: &Path) -> PathBuf {
    let stem = cap.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    // A copy with embedded TLS secrets shares its original's ground truth.
    let stem = stem.strip_suffix("-dsb").unwrap_or(stem);
    cap.with_file_name(format!("{stem}.truth"))
}

fn analyze(path: &Path) -> Run {
    let mut src = PacketSource::open_file(path, &SourceOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e:?}", path.display()));
    // TLS secrets: embedded in a pcapng, or the key log beside the capture.
    let mut keys = rtmpscope::tls::KeyLog::new();
    if let Some(t) = rtmpscope::capture::pcapng_tls_secrets(path) {
        keys.add_text(&t);
    }
    if let Ok(t) = std::fs::read_to_string(truth_dir(path).join("keys.txt")) {
        keys.add_text(&t);
    }
    let mut an = rtmpscope::pipeline::Analyzer::new(rtmpscope::pipeline::Config {
        tls_keylog: (!keys.is_empty()).then(|| std::sync::Arc::new(keys)),
        ..Default::default()
    });
    let mut events = Vec::new();
    let mut tap = Tap(HashMap::new());
    while let Some(p) = src
        .next_packet()
        .unwrap_or_else(|e| panic!("read {}: {e:?}", path.display()))
    {
        an.handle_packet_tap(&p, &mut events, &mut tap);
    }
    an.finish(None, &mut events);
    let mut r = Run {
        flows: Vec::new(),
        ends: HashMap::new(),
        handshakes: Vec::new(),
        anomalies: Vec::new(),
        msgs: Vec::new(),
        first_gap: HashMap::new(),
        bytes: tap.0,
    };
    for ev in events {
        match ev.kind {
            EventKind::FlowStart(f) => r.flows.push(f),
            EventKind::FlowEnd(e) => {
                r.ends.insert(ev.flow_id.expect("flow end has a flow"), e);
            }
            EventKind::Handshake(h) => r
                .handshakes
                .push((ev.flow_id.expect("handshake has a flow"), h)),
            EventKind::Anomaly(a) => r.anomalies.push(Anom {
                flow: ev.flow_id,
                dir: ev.direction,
                frame: ev.pcap_cnt,
                a,
            }),
            EventKind::Message(m) => r.msgs.push(Msg {
                flow: ev.flow_id.expect("message has a flow"),
                dir: ev.direction.expect("message has a direction"),
                frame: ev.pcap_cnt,
                m: *m,
            }),
            EventKind::Gap(_) => {
                let k = (
                    ev.flow_id.expect("gap has a flow"),
                    ev.direction.expect("gap has a direction"),
                );
                r.first_gap.entry(k).or_insert(ev.pcap_cnt);
            }
            EventKind::Stats(_) | EventKind::Tls(_) => {}
        }
    }
    r
}

type Cache = Mutex<HashMap<PathBuf, Arc<OnceLock<Arc<Run>>>>>;

/// Runs the pipeline over `path` once per test binary.
pub fn run(path: &Path) -> Arc<Run> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cell = {
        let mut m = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.entry(path.to_path_buf()).or_default().clone()
    };
    cell.get_or_init(|| Arc::new(analyze(path))).clone()
}

/// One message record of `tshark_oracle.py`.
#[derive(Clone, Debug)]
pub struct TsMsg {
    pub frame: u64,
    pub tcp_stream: u64,
    pub src_port: u16,
    pub fmt: u8,
    pub csid: u32,
    pub type_id: Option<u8>,
    pub msid: Option<u32>,
    pub timestamp: Option<u32>,
    pub body_len: Option<u32>,
    pub amf_name: Option<String>,
    pub txid: Option<f64>,
    pub ucm_event: Option<u16>,
}

/// Parses oracle output: message records only.
pub fn parse_ndjson(text: &str) -> Vec<TsMsg> {
    use serde_json::Value as J;
    fn n<T: TryFrom<u64>>(v: &J, k: &str) -> Option<T> {
        match &v[k] {
            J::Number(x) => x.as_u64().and_then(|x| T::try_from(x).ok()),
            J::String(s) => s.parse::<u64>().ok().and_then(|x| T::try_from(x).ok()),
            _ => None,
        }
    }
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: J = serde_json::from_str(line).expect("oracle line is JSON");
        if v["kind"] != "message" {
            continue;
        }
        out.push(TsMsg {
            frame: n(&v, "frame").expect("frame"),
            tcp_stream: n(&v, "tcp_stream").expect("tcp_stream"),
            src_port: n(&v, "src_port").expect("src_port"),
            fmt: n(&v, "fmt").expect("fmt"),
            csid: n(&v, "csid").expect("csid"),
            type_id: n(&v, "type_id"),
            msid: n(&v, "msid"),
            timestamp: n(&v, "timestamp"),
            body_len: n(&v, "body_len"),
            amf_name: v["amf_name"].as_str().map(str::to_string),
            txid: v["txid"].as_f64(),
            ucm_event: n(&v, "ucm_event"),
        });
    }
    out
}

/// One stream of a framemd5 file.
#[derive(Debug, Default)]
pub struct FmStream {
    pub video: bool,
    /// (size, md5) per packet, in file order.
    pub packets: Vec<(u32, String)>,
    /// DTS per packet (every corpus framemd5 has time base 1/1000).
    pub dts: Vec<i64>,
    /// PTS - DTS per packet (composition time).
    pub cts: Vec<i64>,
}

/// Parses ffmpeg `-f framemd5` output into streams by index.
pub fn parse_framemd5(text: &str) -> Vec<FmStream> {
    let mut streams: Vec<FmStream> = Vec::new();
    fn slot(s: &mut Vec<FmStream>, i: usize) -> &mut FmStream {
        while s.len() <= i {
            s.push(FmStream::default());
        }
        &mut s[i]
    }
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#media_type ") {
            let (idx, kind) = rest.split_once(':').expect("media_type line");
            slot(&mut streams, idx.trim().parse().expect("stream index")).video =
                kind.trim() == "video";
            continue;
        }
        if let Some(rest) = line.strip_prefix("#tb ") {
            assert!(
                rest.ends_with(": 1/1000"),
                "time base other than 1/1000: {line}"
            );
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        assert!(f.len() >= 6, "bad framemd5 line {line}");
        let idx: usize = f[0].parse().expect("stream index");
        let st = slot(&mut streams, idx);
        st.packets
            .push((f[4].parse().expect("size"), f[5].to_string()));
        let dts: i64 = f[1].parse().expect("dts");
        st.dts.push(dts);
        st.cts.push(f[2].parse::<i64>().expect("pts") - dts);
    }
    streams
}
