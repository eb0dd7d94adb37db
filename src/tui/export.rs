//! Exports from the UI: a session's messages as NDJSON, and a flow's raw
//! packets as pcap (re-read from the capture file, filtered by 5-tuple).
//!
//! Contract: writes only the named output file; errors are returned as
//! strings for the status line, never panics. NDJSON lines are
//! `serde_json` renderings of the event model; messages whose decoded form
//! was evicted from memory are written as compact records with
//! `"evicted": true`.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use super::model::Model;
use crate::event::{Event, EventKind, FlowId, FlowInfo};

/// Writes every message of `flow` (plus its flow_start) as NDJSON; returns
/// the number of lines.
pub fn write_ndjson(model: &Model, flow: FlowId, path: &Path) -> Result<usize, String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let mut n = 0usize;
    let io = |e: std::io::Error| e.to_string();
    if let Some(info) = model.session(flow).and_then(|s| s.info.clone()) {
        let ev = Event {
            pcap_cnt: 0,
            time: model
                .session(flow)
                .map(|s| s.first_seen)
                .unwrap_or_default(),
            flow_id: Some(flow),
            direction: None,
            kind: EventKind::FlowStart(info),
        };
        serde_json::to_writer(&mut w, &ev).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    for (i, r) in model.rows.iter().enumerate() {
        if r.flow_id != flow {
            continue;
        }
        match model.full(i) {
            Some(m) => {
                let ev = Event {
                    pcap_cnt: r.pcap_cnt,
                    time: r.time,
                    flow_id: Some(flow),
                    direction: Some(r.dir),
                    kind: EventKind::Message(Box::new(m.clone())),
                };
                serde_json::to_writer(&mut w, &ev).map_err(|e| e.to_string())?;
            }
            None => {
                let v = serde_json::json!({
                    "pcap_cnt": r.pcap_cnt,
                    "time": r.time,
                    "flow_id": flow,
                    "direction": r.dir,
                    "kind": {"message": {
                        "fmt": r.fmt, "csid": r.csid, "type_id": r.type_id,
                        "msid": r.msid, "timestamp": r.timestamp, "length": r.length,
                        "first_byte": r.first_byte, "last_byte": r.last_byte,
                        "summary": model.summary(r), "evicted": true,
                    }},
                });
                serde_json::to_writer(&mut w, &v).map_err(|e| e.to_string())?;
            }
        }
        w.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    w.flush().map_err(io)?;
    Ok(n)
}

/// IP addresses and TCP ports of a frame, if it is TCP over IP.
pub fn tcp_tuple(linktype: i32, data: &[u8]) -> Option<(IpAddr, u16, IpAddr, u16)> {
    use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
    let p = match linktype {
        1 => LaxSlicedPacket::from_ethernet(data).ok()?,
        113 => LaxSlicedPacket::from_ip(data.get(16..)?).ok()?,
        276 => LaxSlicedPacket::from_ip(data.get(20..)?).ok()?,
        0 | 108 => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        12 | 14 | 101 | 228 | 229 => LaxSlicedPacket::from_ip(data).ok()?,
        _ => return None,
    };
    let (s, d): (IpAddr, IpAddr) = match p.net? {
        LaxNetSlice::Ipv4(v) => (
            v.header().source_addr().into(),
            v.header().destination_addr().into(),
        ),
        LaxNetSlice::Ipv6(v) => (
            v.header().source_addr().into(),
            v.header().destination_addr().into(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    match p.transport? {
        TransportSlice::Tcp(t) => Some((s, t.source_port(), d, t.destination_port())),
        _ => None,
    }
}

/// Copies the packets of one flow (both directions) from `input` to a new
/// classic pcap file; returns the packet count.
pub fn write_pcap(input: &Path, info: &FlowInfo, out: &Path) -> Result<usize, String> {
    let mut cap =
        pcap::Capture::from_file(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let lt = cap.get_datalink().0;
    let mut save = cap
        .savefile(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let c = (info.client_ip, info.client_port);
    let s = (info.server_ip, info.server_port);
    let mut n = 0;
    loop {
        match cap.next_packet() {
            Ok(p) => {
                if let Some((a, ap, b, bp)) = tcp_tuple(lt, p.data) {
                    if ((a, ap) == c && (b, bp) == s) || ((a, ap) == s && (b, bp) == c) {
                        save.write(&p);
                        n += 1;
                    }
                }
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    save.flush().map_err(|e| e.to_string())?;
    Ok(n)
}
