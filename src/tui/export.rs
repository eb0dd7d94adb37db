//! Exports from the UI: a session's messages as NDJSON, a flow's raw
//! packets as pcap (re-read from the capture file, filtered by 5-tuple), and
//! the packets that carry the shown (filtered) messages as pcap
//! ([`write_shown_pcap`]: the capture is decoded again and every packet whose
//! stream bytes overlap a wanted range is copied, as it was captured).
//!
//! Contract: writes only the named output file; errors are returned as
//! strings for the status line, never panics. NDJSON uses the crate's
//! `output::json` writer; messages whose decoded form was evicted from memory
//! are written with their header fields and a raw (undecoded) body.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::model::Model;
use crate::event::{Direction, Event, EventKind, FlowId, FlowInfo};
use crate::pipeline::DataTap;
use crate::rtmp::message::{Body, Message};
use crate::time::PacketTime;

/// Writes the selected session as NDJSON in the `output::json` line format
/// (meta, rtmp lines of every message, then the session line); returns the
/// number of lines.
pub fn write_ndjson(
    model: &Model,
    flow: FlowId,
    source: &str,
    path: &Path,
) -> Result<usize, String> {
    use crate::output::json::{JsonOptions, JsonWriter, Meta};
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let opts = JsonOptions {
        // Events in the model are already redacted when --redact is on.
        redact: false,
        sessions: false,
        chunk_ranges: true,
    };
    let mut w = JsonWriter::new(std::io::BufWriter::new(f), opts);
    let io = |e: std::io::Error| e.to_string();
    w.write_meta(&Meta::new(source, Vec::new())).map_err(io)?;
    let mut n = 1usize;
    if let Some(info) = model.flow(flow).and_then(|s| s.info.clone()) {
        // Registers the flow's addresses (writes no line).
        let ev = Event {
            pcap_cnt: 0,
            time: PacketTime::default(),
            flow_id: Some(flow),
            direction: None,
            kind: EventKind::FlowStart(info),
        };
        w.write_event(&ev).map_err(io)?;
    }
    for (i, r) in model.rows.iter().enumerate() {
        if r.flow_id != flow {
            continue;
        }
        let m = match model.full(i) {
            Some(m) => m.clone(),
            None => {
                // Decoded form evicted: header fields only, body undecoded.
                Message {
                    fmt: r.fmt,
                    csid: r.csid,
                    type_id: r.type_id,
                    msid: r.msid,
                    msid_unknown: false,
                    timestamp: r.timestamp,
                    timestamp_delta: 0,
                    timestamp_estimate: None,
                    extended_timestamp: false,
                    length: r.length,
                    first_byte: r.first_byte,
                    last_byte: r.last_byte,
                    chunks: Default::default(),
                    time: r.time,
                    truncated: None,
                    body: Body::Raw,
                }
            }
        };
        let ev = Event {
            pcap_cnt: r.pcap_cnt,
            time: r.time,
            flow_id: Some(flow),
            direction: Some(r.dir),
            kind: EventKind::Message(Box::new(m)),
        };
        w.write_event(&ev).map_err(io)?;
        n += 1;
    }
    if let Some(s) = model.session(flow) {
        w.write_session(s).map_err(io)?;
        n += 1;
    }
    w.finish().map_err(io)?;
    Ok(n)
}

/// IP addresses and TCP ports of a frame, if it is TCP over IP.
pub fn tcp_tuple(linktype: i32, data: &[u8]) -> Option<(IpAddr, u16, IpAddr, u16)> {
    tcp_segment(linktype, data).map(|g| (g.src.0, g.src.1, g.dst.0, g.dst.1))
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

/// One TCP segment of a frame.
struct Segment {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    syn: bool,
}

/// Stream byte ranges `[start, end)` per flow direction (offsets as in
/// `Message::first_byte`), sorted by start and not overlapping.
pub type Ranges = HashMap<(FlowId, Direction), Vec<(u64, u64)>>;

/// Sorts and merges each direction's ranges (a precondition of
/// [`write_shown_pcap`]'s lookup).
pub fn normalize_ranges(ranges: &mut Ranges) {
    for rs in ranges.values_mut() {
        rs.retain(|&(s, e)| s < e);
        rs.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(rs.len());
        for &(s, e) in rs.iter() {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        *rs = out;
    }
}

/// Whether `[offset, end)` overlaps one of the sorted, merged `rs`.
fn overlaps(rs: &[(u64, u64)], offset: u64, end: u64) -> bool {
    // The first range that ends after `offset`; it overlaps when it
    // starts before `end`.
    let i = rs.partition_point(|&(_, e)| e <= offset);
    rs.get(i).is_some_and(|&(s, _)| s < end)
}

/// Marks the packet being analysed when the bytes it delivers overlap a
/// wanted range (for a TLS flow: the plaintext its records completed).
struct Mark<'a> {
    ranges: &'a Ranges,
    hit: bool,
}

impl DataTap for Mark<'_> {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        if let Some(rs) = self.ranges.get(&(flow, dir)) {
            if overlaps(rs, offset, offset.saturating_add(data.len() as u64)) {
                self.hit = true;
            }
        }
    }
}

/// What [`write_shown_pcap`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShownPcap {
    /// Packets written.
    pub packets: u64,
    /// Wanted packets left out because their link type differs from the
    /// first written packet's (a classic pcap file has one link type).
    pub other_linktype: u64,
}

/// Writes to `out` (classic pcap, nanosecond timestamps) every packet of
/// `file` that delivers stream bytes overlapping `ranges` (normalised with
/// [`normalize_ranges`]), plus the TCP SYN packets between the endpoints of
/// `flows`: the capture is decoded again with the UI's filter and analyzer
/// configuration, so flow ids and offsets are the UI's. Packets keep their
/// bytes, lengths and timestamps, in capture order. A packet whose bytes
/// reach the dissector only when a later one fills a hole is the later one.
pub fn write_shown_pcap(
    file: &Path,
    filter: Option<String>,
    config: crate::pipeline::Config,
    ranges: &Ranges,
    flows: &[FlowInfo],
    out: &Path,
) -> Result<ShownPcap, String> {
    use crate::capture::{PacketSource, SourceOptions};
    use crate::pipeline::Analyzer;
    let opts = SourceOptions {
        filter,
        ..SourceOptions::default()
    };
    let mut src =
        PacketSource::open_files(&[file.to_path_buf()], &opts).map_err(|e| e.to_string())?;
    let mut an = Analyzer::new(config);
    let mut evs = Vec::new();
    let mut save: Option<(u32, pcap::Savefile)> = None;
    let mut done = ShownPcap::default();
    let ends: Vec<((IpAddr, u16), (IpAddr, u16))> = flows
        .iter()
        .map(|f| ((f.client_ip, f.client_port), (f.server_ip, f.server_port)))
        .collect();
    loop {
        evs.clear();
        let p = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) if e.is_truncation() => break,
            Err(e) => return Err(e.to_string()),
        };
        let mut mark = Mark { ranges, hit: false };
        an.handle_packet_tap(&p, &mut evs, &mut mark);
        let syn = !mark.hit
            && tcp_segment(p.linktype as i32, p.data).is_some_and(|g| {
                g.syn
                    && ends
                        .iter()
                        .any(|&(c, s)| (g.src, g.dst) == (c, s) || (g.src, g.dst) == (s, c))
            });
        if !mark.hit && !syn {
            continue;
        }
        if save.is_none() {
            let dead = pcap::Capture::dead_with_precision(
                pcap::Linktype(crate::capture::linktype_to_dlt(p.linktype)),
                pcap::Precision::Nano,
            )
            .map_err(|e| e.to_string())?;
            let s = dead
                .savefile(out)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            save = Some((p.linktype, s));
        }
        let Some((lt, s)) = save.as_mut() else {
            continue;
        };
        if *lt != p.linktype {
            done.other_linktype += 1;
            continue;
        }
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: p.time.sec as libc::time_t,
                // A nanosecond-precision savefile takes nanoseconds here.
                tv_usec: p.time.nsec as libc::suseconds_t,
            },
            caplen: p.data.len() as u32,
            len: p.origlen.max(p.data.len() as u32),
        };
        s.write(&pcap::Packet::new(&header, p.data));
        done.packets += 1;
    }
    match save {
        Some((_, mut s)) => s.flush().map_err(|e| format!("{}: {e}", out.display()))?,
        None => return Err("no packet carries the shown messages".into()),
    }
    Ok(done)
}

fn tcp_segment(linktype: i32, data: &[u8]) -> Option<Segment> {
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
        TransportSlice::Tcp(t) => Some(Segment {
            src: (s, t.source_port()),
            dst: (d, t.destination_port()),
            syn: t.syn(),
        }),
        _ => None,
    }
}

/// The lines `rtmpscope json -r FILE [FILTER]` writes for `flow`: the
/// capture is decoded again from the file with the same analyzer and JSON
/// writer, and the `meta` line plus every line whose `flow_id` is `flow`
/// are kept, byte for byte. Returns the bytes (each line ends with `\n`).
pub fn ndjson_from_file(
    file: &Path,
    filter: Option<String>,
    config: crate::pipeline::Config,
    redact: bool,
    flow: FlowId,
) -> Result<Vec<u8>, String> {
    use crate::capture::{PacketSource, SourceOptions};
    use crate::output::json::{JsonOptions, JsonWriter, Meta};
    use crate::pipeline::{Analyzer, RunEnd};
    let opts = SourceOptions {
        filter,
        ..SourceOptions::default()
    };
    let mut src =
        PacketSource::open_files(&[file.to_path_buf()], &opts).map_err(|e| e.to_string())?;
    let links: Vec<String> = src
        .linktypes()
        .into_iter()
        .map(crate::link::linktype_name)
        .collect();
    let meta = Meta::new(src.description().to_owned(), links);
    let mut w = JsonWriter::new(
        Vec::new(),
        JsonOptions {
            redact,
            ..JsonOptions::default()
        },
    );
    let io = |e: std::io::Error| e.to_string();
    w.write_meta(&meta).map_err(io)?;
    let mut an = Analyzer::new(config);
    let mut evs = Vec::new();
    loop {
        evs.clear();
        match src.next_packet() {
            Ok(Some(p)) => an.handle_packet(&p, &mut evs),
            Ok(None) => {
                an.finish(src.stats(), &mut evs);
                for e in &evs {
                    w.write_event(e).map_err(io)?;
                }
                break;
            }
            Err(e) if e.is_truncation() => {
                let end = RunEnd {
                    truncated: e.truncation().map(|(w, o)| (w.to_owned(), o)),
                    ..RunEnd::default()
                };
                an.finish_run(src.stats(), &end, &mut evs);
                for e in &evs {
                    w.write_event(e).map_err(io)?;
                }
                break;
            }
            Err(e) => return Err(e.to_string()),
        }
        for e in &evs {
            w.write_event(e).map_err(io)?;
        }
    }
    let all = w.finish().map_err(io)?;
    Ok(flow_lines(&all, flow))
}

/// The `meta` line and the lines of `flow` from NDJSON `all`.
pub fn flow_lines(all: &[u8], flow: FlowId) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in all.split_inclusive(|&b| b == b'\n').enumerate() {
        let keep = i == 0
            || serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("flow_id").and_then(|f| f.as_u64()))
                == Some(flow);
        if keep {
            out.extend_from_slice(line);
        }
    }
    out
}
