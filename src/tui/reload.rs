//! Decoding again from the capture file, on demand: the hex view's bytes
//! and the detail tree of messages the in-memory caches no longer hold.
//!
//! Contract: a [`Reloader`] owns one background thread that re-reads the
//! input (the same file, the same BPF filter, the same analyzer
//! [`Config`]), so packet numbers, flow ids, stream offsets and decoded
//! messages are exactly those of the first pass (and of `rtmpscope json`).
//! A [`Want`] names message rows (flow, direction, byte range, completing
//! packet); the thread runs the analyzer up to the last packet of the
//! wanted rows, collecting their message events and their stream bytes
//! (through the analyzer's [`DataTap`]), and sends one [`Loaded`] back.
//! It keeps its position between requests: a request further on continues
//! from there (browsing forward costs only the packets in between), one
//! behind starts again from the first packet. A newer request supersedes
//! the one being served. Memory: bytes collected per request are capped at
//! [`MAX_RELOAD_BYTES`]; the thread waits blocked (no polling) when idle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

use super::bytes::StreamBytes;
use crate::capture::{PacketSource, SourceOptions};
use crate::event::{Direction, Event, EventKind, FlowId};
use crate::pipeline::{Analyzer, Config, DataTap, RunEnd};

/// Stream bytes collected for one request at most (the selected message
/// always comes whole, up to this cap).
pub const MAX_RELOAD_BYTES: u64 = 32 * 1024 * 1024;
/// Packets handled between two looks for a newer request.
const CHECK_EVERY: u32 = 256;

/// One message row wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WantRow {
    pub row: u32,
    pub flow: FlowId,
    pub dir: Direction,
    pub first_byte: u64,
    pub last_byte: u64,
    /// Packet that completed the message (`pcap_cnt` of its event).
    pub pcap_cnt: u64,
}

/// A request: rows whose message and bytes are wanted.
#[derive(Clone, Debug, Default)]
pub struct Want {
    pub id: u64,
    pub rows: Vec<WantRow>,
}

/// The answer to a request.
#[derive(Debug, Default)]
pub struct Loaded {
    pub id: u64,
    /// Message events of wanted rows, by row.
    pub messages: Vec<(u32, Event)>,
    /// Stream bytes of the wanted rows.
    pub bytes: Vec<StreamBytes>,
    /// Reading the capture failed.
    pub error: Option<String>,
    /// The analyzer started again from the first packet for this request.
    pub restarted: bool,
}

/// Handle of the background re-reader.
pub struct Reloader {
    tx: Sender<Want>,
    rx: Receiver<Loaded>,
    next_id: u64,
}

impl Reloader {
    /// Starts the thread for `file` (read with `filter`, decoded with
    /// `config`, as the first pass was).
    pub fn spawn(file: PathBuf, filter: Option<String>, config: Config) -> Reloader {
        let (tx, wrx) = mpsc::channel::<Want>();
        let (ltx, rx) = mpsc::channel::<Loaded>();
        std::thread::spawn(move || worker(file, filter, config, wrx, ltx));
        Reloader { tx, rx, next_id: 0 }
    }

    /// Sends a request (superseding any earlier one); returns its id.
    pub fn request(&mut self, rows: Vec<WantRow>) -> u64 {
        self.next_id += 1;
        let _ = self.tx.send(Want {
            id: self.next_id,
            rows,
        });
        self.next_id
    }

    /// An answer, if one is ready.
    pub fn try_recv(&self) -> Option<Loaded> {
        match self.rx.try_recv() {
            Ok(l) => Some(l),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Loaded {
                error: Some("the re-read thread stopped".into()),
                ..Loaded::default()
            }),
        }
    }

    /// Waits up to `d` for an answer (tests).
    pub fn recv_timeout(&self, d: std::time::Duration) -> Option<Loaded> {
        self.rx.recv_timeout(d).ok()
    }
}

/// The analyzer positioned somewhere in the file.
struct Run {
    src: PacketSource,
    an: Analyzer,
    /// Last packet handled.
    pos: u64,
    /// End of the stream bytes delivered so far, per flow direction.
    delivered: HashMap<(FlowId, Direction), u64>,
    ended: bool,
}

fn open(file: &std::path::Path, filter: &Option<String>, config: &Config) -> Result<Run, String> {
    let opts = SourceOptions {
        filter: filter.clone(),
        ..SourceOptions::default()
    };
    let src = PacketSource::open_files(&[file.to_path_buf()], &opts).map_err(|e| e.to_string())?;
    Ok(Run {
        src,
        an: Analyzer::new(config.clone()),
        pos: 0,
        delivered: HashMap::new(),
        ended: false,
    })
}

/// Wanted byte ranges per flow direction, and what the tap collects.
struct Collect<'a> {
    ranges: &'a HashMap<(FlowId, Direction), Vec<(u64, u64)>>,
    delivered: &'a mut HashMap<(FlowId, Direction), u64>,
    out: &'a mut Vec<StreamBytes>,
}

impl DataTap for Collect<'_> {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let d = self.delivered.entry((flow, dir)).or_insert(0);
        *d = (*d).max(end);
        let Some(rs) = self.ranges.get(&(flow, dir)) else {
            return;
        };
        for &(s, e) in rs {
            let (a, b) = (s.max(offset), e.min(end));
            if a < b {
                self.out.push(StreamBytes {
                    flow_id: flow,
                    direction: dir,
                    offset: a,
                    data: data[(a - offset) as usize..(b - offset) as usize].to_vec(),
                });
            }
        }
    }
}

/// Whether `run` can serve `want` by reading on (nothing wanted is behind).
fn can_continue(run: &Run, want: &Want) -> bool {
    !run.ended
        && want.rows.iter().all(|w| {
            w.pcap_cnt > run.pos
                && run
                    .delivered
                    .get(&(w.flow, w.dir))
                    .is_none_or(|&d| d <= w.first_byte)
        })
}

fn worker(
    file: PathBuf,
    filter: Option<String>,
    config: Config,
    rx: Receiver<Want>,
    tx: Sender<Loaded>,
) {
    let mut run: Option<Run> = None;
    let mut next: Option<Want> = None;
    loop {
        let mut want = match next.take() {
            Some(w) => w,
            None => match rx.recv() {
                Ok(w) => w,
                Err(_) => return,
            },
        };
        while let Ok(w) = rx.try_recv() {
            want = w;
        }
        let mut restarted = false;
        if !run.as_ref().is_some_and(|r| can_continue(r, &want)) {
            match open(&file, &filter, &config) {
                Ok(r) => run = Some(r),
                Err(e) => {
                    let _ = tx.send(Loaded {
                        id: want.id,
                        error: Some(e),
                        ..Loaded::default()
                    });
                    run = None;
                    continue;
                }
            }
            restarted = true;
        }
        let Some(r) = run.as_mut() else { continue };
        // Byte ranges (capped) and message keys wanted.
        let mut ranges: HashMap<(FlowId, Direction), Vec<(u64, u64)>> = HashMap::new();
        let mut budget = MAX_RELOAD_BYTES;
        for w in &want.rows {
            let len = (w.last_byte + 1 - w.first_byte).min(budget);
            if len == 0 {
                break;
            }
            budget -= len;
            ranges
                .entry((w.flow, w.dir))
                .or_default()
                .push((w.first_byte, w.first_byte + len));
        }
        let keys: HashMap<(FlowId, Direction, u64), u32> = want
            .rows
            .iter()
            .map(|w| ((w.flow, w.dir, w.first_byte), w.row))
            .collect();
        let last = want.rows.iter().map(|w| w.pcap_cnt).max().unwrap_or(0);
        let mut out = Loaded {
            id: want.id,
            restarted,
            ..Loaded::default()
        };
        let mut evs = Vec::new();
        let mut n = 0u32;
        let take = |evs: &mut Vec<Event>, out: &mut Loaded| {
            for ev in evs.drain(..) {
                if let (EventKind::Message(m), Some(f), Some(d)) =
                    (&ev.kind, ev.flow_id, ev.direction)
                {
                    if let Some(&row) = keys.get(&(f, d, m.first_byte)) {
                        out.messages.push((row, ev));
                    }
                }
            }
        };
        while r.pos < last && !r.ended {
            n += 1;
            if n.is_multiple_of(CHECK_EVERY) {
                if let Ok(w) = rx.try_recv() {
                    next = Some(w);
                    break;
                }
            }
            let mut tap = Collect {
                ranges: &ranges,
                delivered: &mut r.delivered,
                out: &mut out.bytes,
            };
            match r.src.next_packet() {
                Ok(Some(p)) => {
                    r.pos = p.pcap_cnt;
                    r.an.handle_packet_tap(&p, &mut evs, &mut tap);
                }
                Ok(None) => {
                    r.an.finish(r.src.stats(), &mut evs);
                    r.ended = true;
                }
                Err(e) if e.is_truncation() => {
                    let end = RunEnd {
                        truncated: e.truncation().map(|(w, o)| (w.to_owned(), o)),
                        ..RunEnd::default()
                    };
                    r.an.finish_run(r.src.stats(), &end, &mut evs);
                    r.ended = true;
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    r.ended = true;
                }
            }
            take(&mut evs, &mut out);
        }
        if next.is_some() {
            // Superseded: serve the newer request (from here if it can).
            continue;
        }
        let _ = tx.send(out);
    }
}
