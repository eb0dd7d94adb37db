//! Media extraction: one FLV file per media-carrying message stream
//! (`rtmpscope extract`, the TUI export key).
//!
//! Contract: an [`Extractor`] is fed the analyzer's in-order stream bytes
//! (it is a [`DataTap`]) and its events, in order; after each batch the
//! caller calls [`Extractor::trim`] with the analyzer so the extractor drops
//! the stream bytes no later message can refer to. Audio, video and
//! `onMetaData` bodies are re-read from those bytes by their chunk payload
//! spans ([`Message::chunks`]) at the moment the message event arrives, and
//! written straight to the file: memory holds only the bytes of messages
//! still in flight (bounded by the dissector's partial-message limit), never
//! the media of a stream, whatever the length of the capture.
//!
//! Files: `s<flow>-<role>-<name>-m<msid>.flv` in the output directory, flow
//! = the session's flow id (first-seen order, as in the JSON), role =
//! `publish` for media towards the server and `play` for media towards the
//! client, name = the stream name from publish/play (sanitised; with
//! `redact` its placeholder), msid = the message stream id the media came
//! on. A file is opened at the first media message of its stream; an
//! `onMetaData` seen before that is kept (bounded, [`MAX_PENDING_META`]) and
//! written first as a script tag. `@setDataFrame` loses its first string,
//! as a server does when it stores it.
//!
//! Loss: a message cut by a gap (or any truncated message) is never
//! written. After a gap in a direction, the video of every stream of that
//! direction resumes at the next keyframe or sequence header and the audio at
//! the next whole message. Each loss is recorded in the file's sidecar
//! `<file>.flv.json` ([`Sidecar`]): the lost byte range, the media time
//! range between the last tag written before it and the first after it, the
//! media messages seen but not written, and whether the timestamps after it
//! are estimated (the first message after the gap had no absolute, fmt 0,
//! timestamp). Every file gets a sidecar, written when the file is closed
//! (flow end, end of input, Ctrl-C).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;

use serde::Serialize;

use super::flv::{tag_type, FlvWriter, MAX_TAG_BODY};
use crate::amf::AmfStr;
use crate::event::{ByteRange, Direction, Event, EventKind, FlowId};
use crate::pipeline::{Analyzer, DataTap};
use crate::redact::Redactor;
use crate::rtmp::message::{Body, CommandInfo, Message};
use crate::session::codec_fourcc;

/// Bytes of `onMetaData` kept per stream before its first media message.
pub const MAX_PENDING_META: usize = 64 * 1024;
/// Loss entries kept per file (later ones are counted in `gaps_dropped`).
pub const MAX_LOSSES: usize = 4096;
/// Streams named per flow (msid -> name).
pub const MAX_NAMES: usize = 64;
/// Longest stream-name part of a file name.
pub const MAX_NAME_CHARS: usize = 64;

/// What to extract and where.
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    pub dir: PathBuf,
    /// Only this session (flow id).
    pub session: Option<FlowId>,
    /// Only streams with this name (the name as on the wire, or its
    /// redaction placeholder).
    pub stream: Option<String>,
    /// Stream names in file names (and sidecars) as placeholders.
    pub redact: bool,
    /// Tag timestamps start at 0 in each file.
    pub rebase: bool,
}

/// Stream bytes of one direction kept for re-reading message bodies.
#[derive(Debug, Default)]
struct Window {
    base: u64,
    data: VecDeque<u8>,
}

impl Window {
    fn push(&mut self, offset: u64, bytes: &[u8]) {
        let end = self.base + self.data.len() as u64;
        if offset > end || self.data.is_empty() && offset != self.base {
            // A hole (gap): bytes before it are useless to later messages.
            self.data.clear();
            self.base = offset;
        } else if offset < end {
            let skip = (end - offset) as usize;
            if skip >= bytes.len() {
                return;
            }
            self.data.extend(&bytes[skip..]);
            return;
        }
        self.data.extend(bytes);
    }

    fn trim(&mut self, from: u64) {
        if from <= self.base {
            return;
        }
        let n = ((from - self.base) as usize).min(self.data.len());
        self.data.drain(..n);
        self.base += n as u64;
        if self.data.is_empty() {
            self.base = from;
        }
    }

    /// Appends the bytes of `r` to `out`; false when some are not held.
    fn read(&self, r: ByteRange, out: &mut Vec<u8>) -> bool {
        let end = self.base + self.data.len() as u64;
        if r.start < self.base || r.end > end {
            return false;
        }
        let (a, b) = self.data.as_slices();
        let s = (r.start - self.base) as usize;
        let e = (r.end - self.base) as usize;
        if e <= a.len() {
            out.extend_from_slice(&a[s..e]);
        } else if s >= a.len() {
            out.extend_from_slice(&b[s - a.len()..e - a.len()]);
        } else {
            out.extend_from_slice(&a[s..]);
            out.extend_from_slice(&b[..e - a.len()]);
        }
        true
    }
}

/// Per-kind facts of a file (sidecar and report).
#[derive(Clone, Debug, Default, Serialize)]
pub struct KindFacts {
    /// FourCC-style codecs seen (one per track codec).
    pub codecs: Vec<String>,
    /// Tags written (sequence headers included).
    pub packets: u64,
    pub sequence_headers: u64,
    /// Coded keyframes (sequence headers not counted).
    pub keyframes: u64,
    pub bytes: u64,
    pub first_timestamp: Option<u32>,
    pub last_timestamp: Option<u32>,
}

impl KindFacts {
    fn add(&mut self, ts: u32, len: usize, codecs: &[String], seq: bool, key: bool) {
        self.packets += 1;
        self.bytes += len as u64;
        if seq {
            self.sequence_headers += 1;
        }
        if key {
            self.keyframes += 1;
        }
        self.first_timestamp.get_or_insert(ts);
        self.last_timestamp = Some(ts);
        for c in codecs {
            if !self.codecs.contains(c) && self.codecs.len() < 16 {
                self.codecs.push(c.clone());
            }
        }
    }
}

/// One loss in a file's stream.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Loss {
    /// Why: `gap` (capture loss) or the truncation cause of a message.
    pub cause: String,
    /// Lost stream bytes (stream offsets of the flow direction), when known.
    pub offset: Option<u64>,
    pub len: Option<u64>,
    /// Media time (RTMP timestamps, ms, as on the wire) of the last tag
    /// written before the loss and of the first after it.
    pub media_from_ms: Option<u32>,
    pub media_to_ms: Option<u32>,
    /// Media messages (and aggregate sub-messages) seen but not written
    /// because of this loss: cut ones and video waiting for a keyframe.
    pub messages_dropped: u64,
    /// The first message written after the loss had a relative (fmt 1-3)
    /// header: its timestamp builds on deltas across the hole.
    pub timestamps_estimated: bool,
}

/// The sidecar `<file>.flv.json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sidecar {
    pub file: String,
    pub flow_id: FlowId,
    pub direction: &'static str,
    pub role: &'static str,
    pub msid: u32,
    pub stream: Option<String>,
    pub rebased: bool,
    /// Timestamp subtracted from every tag (`rebase`), else 0.
    pub timestamp_offset: u32,
    pub audio: KindFacts,
    pub video: KindFacts,
    pub script_tags: u64,
    pub first_timestamp: Option<u32>,
    pub last_timestamp: Option<u32>,
    pub duration_ms: u64,
    /// Video messages left out because no sequence header preceded them
    /// (a stream picked up mid-stream), and the timestamp of the first.
    pub missing_config: u64,
    pub missing_config_from_ms: Option<u32>,
    /// Tags that could not be written (body beyond the FLV size limit).
    pub oversized: u64,
    pub gaps: Vec<Loss>,
    pub gaps_dropped: u64,
}

/// What was written for one file.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub sidecar: Sidecar,
}

impl FileReport {
    /// One line: file, stream, codecs, packets, duration, gaps.
    pub fn line(&self) -> String {
        let s = &self.sidecar;
        let kind = |k: &KindFacts, what: &str| {
            if k.packets == 0 {
                String::new()
            } else {
                format!(
                    ", {what} {} {} packets",
                    if k.codecs.is_empty() {
                        "?".to_owned()
                    } else {
                        k.codecs.join("+")
                    },
                    k.packets
                )
            }
        };
        let lost: u64 = s.gaps.iter().map(|g| g.messages_dropped).sum();
        format!(
            "{}: session {} {} {} msid {}{}{}, {:.3} s, {} gaps ({} messages dropped)",
            self.path.display(),
            s.flow_id,
            s.role,
            s.stream.as_deref().unwrap_or("(unnamed)"),
            s.msid,
            kind(&s.video, "video"),
            kind(&s.audio, "audio"),
            s.duration_ms as f64 / 1000.0,
            s.gaps.len() as u64 + s.gaps_dropped,
            lost
        )
    }
}

type Key = (FlowId, Direction, u32);

#[derive(Debug)]
struct OutFile {
    path: PathBuf,
    w: FlvWriter<BufWriter<File>>,
    side: Sidecar,
    base: Option<u32>,
    /// Video waits for a keyframe after a loss: the loss (index into
    /// `side.gaps`) its skipped messages count against.
    wait_video: Option<usize>,
    /// The loss no tag has been written after yet: index into `side.gaps`.
    open_loss: Option<usize>,
    /// A video sequence header was written (AVC/HEVC/AV1/VP9 frames before
    /// the first one cannot be decoded and are left out).
    video_config: bool,
    /// The last tag's timestamp (for the loss's media range).
    last_ts: Option<u32>,
}

#[derive(Debug, Default)]
struct FlowNames {
    /// msid -> (name, role) from publish / play.
    names: Vec<(u32, String, &'static str)>,
}

/// Writes FLV files from the event stream (see the module documentation).
#[derive(Debug, Default)]
pub struct Extractor {
    opts: ExtractOptions,
    windows: HashMap<(FlowId, Direction), Window>,
    names: HashMap<FlowId, FlowNames>,
    files: BTreeMap<Key, OutFile>,
    pending_meta: HashMap<Key, (u32, Vec<u8>)>,
    /// Streams filtered out (no file, never reconsidered).
    skipped: std::collections::HashSet<Key>,
    done: Vec<FileReport>,
    redactor: Redactor,
    scratch: Vec<u8>,
    /// First write error (the rest of the extraction goes on).
    pub error: Option<String>,
}

impl DataTap for Extractor {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        if self.opts.session.is_some_and(|s| s != flow) {
            return;
        }
        self.windows
            .entry((flow, dir))
            .or_default()
            .push(offset, data);
    }
}

fn lossy(s: &AmfStr) -> String {
    s.to_lossy()
}

/// A file-name-safe form of a stream name.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() {
        "unnamed".into()
    } else {
        s
    }
}

/// Video whose frames need a sequence header to decode (AVC, HEVC and
/// every E-RTMP codec).
fn needs_config(m: &Message) -> bool {
    match &m.body {
        Body::Video(v) => {
            v.enhanced || matches!(v.codec_id, Some(7) | Some(12)) && v.frame_type != 5
        }
        _ => false,
    }
}

fn track_codecs(m: &Message) -> (Vec<String>, bool, bool, bool) {
    // (codecs, is video, sequence header, keyframe)
    match &m.body {
        Body::Video(v) => {
            let mut c: Vec<String> = v.tracks.iter().filter_map(|t| t.fourcc.clone()).collect();
            if c.is_empty() {
                c.push(codec_fourcc(&v.codec));
            }
            let seq = v.packet_type == Some(0) && v.frame_type != 5;
            let coded = !matches!(v.packet_type, Some(0) | Some(2) | Some(4) | Some(5));
            (c, true, seq, v.keyframe && v.frame_type != 5 && coded)
        }
        Body::Audio(a) => {
            let mut c: Vec<String> = a.tracks.iter().filter_map(|t| t.fourcc.clone()).collect();
            if c.is_empty() {
                c.push(codec_fourcc(&a.codec));
            }
            let seq = a.packet_type == Some(0) && (a.enhanced || a.codec == "aac");
            (c, false, seq, false)
        }
        _ => (Vec::new(), false, false, false),
    }
}

impl Extractor {
    pub fn new(opts: ExtractOptions) -> Self {
        Extractor {
            opts,
            ..Default::default()
        }
    }

    /// Drops stream bytes no later message can refer to.
    pub fn trim(&mut self, analyzer: &Analyzer) {
        self.windows
            .retain(|(flow, dir), w| match analyzer.retain_from(*flow, *dir) {
                Some(from) => {
                    w.trim(from);
                    true
                }
                None => false,
            });
    }

    /// Stream bytes held right now (all flows).
    pub fn held_bytes(&self) -> usize {
        self.windows.values().map(|w| w.data.len()).sum()
    }

    /// Feeds events in order.
    pub fn handle(&mut self, events: &[Event]) {
        for ev in events {
            let Some(flow) = ev.flow_id else { continue };
            if self.opts.session.is_some_and(|s| s != flow) {
                continue;
            }
            match &ev.kind {
                EventKind::Message(m) => {
                    let dir = ev.direction.unwrap_or(Direction::ToServer);
                    self.message(flow, dir, m, 0);
                }
                EventKind::Gap(g) => {
                    let dir = ev.direction.unwrap_or(Direction::ToServer);
                    self.loss(
                        flow,
                        dir,
                        None,
                        "gap",
                        Some(ByteRange::new(g.offset, g.offset.saturating_add(g.len))),
                    );
                }
                EventKind::FlowEnd(_) => self.close_flow(flow),
                _ => {}
            }
        }
    }

    /// Flushes every open file (live: after each batch).
    pub fn flush(&mut self) {
        let mut err = None;
        for f in self.files.values_mut() {
            if let Err(e) = f.w.flush() {
                err.get_or_insert(format!("{}: {e}", f.path.display()));
            }
        }
        if let Some(e) = err {
            self.error.get_or_insert(e);
        }
    }

    /// Closes every file (end of input): returns the reports of all files
    /// closed so far, in closing order.
    pub fn finish(&mut self) -> Vec<FileReport> {
        let keys: Vec<Key> = self.files.keys().copied().collect();
        for k in keys {
            self.close(k);
        }
        std::mem::take(&mut self.done)
    }

    /// Reports of the files closed so far (drained).
    pub fn take_done(&mut self) -> Vec<FileReport> {
        std::mem::take(&mut self.done)
    }

    fn close_flow(&mut self, flow: FlowId) {
        let keys: Vec<Key> = self.files.keys().filter(|k| k.0 == flow).copied().collect();
        for k in keys {
            self.close(k);
        }
        self.names.remove(&flow);
        self.pending_meta.retain(|k, _| k.0 != flow);
        self.skipped.retain(|k| k.0 != flow);
        self.windows.retain(|k, _| k.0 != flow);
    }

    fn close(&mut self, k: Key) {
        let Some(f) = self.files.remove(&k) else {
            return;
        };
        let mut side = f.side;
        side.first_timestamp = [side.audio.first_timestamp, side.video.first_timestamp]
            .into_iter()
            .flatten()
            .min();
        side.last_timestamp = [side.audio.last_timestamp, side.video.last_timestamp]
            .into_iter()
            .flatten()
            .max();
        side.duration_ms = match (side.first_timestamp, side.last_timestamp) {
            (Some(a), Some(b)) => b.wrapping_sub(a) as u64,
            _ => 0,
        };
        if let Err(e) = f.w.finish() {
            self.error
                .get_or_insert(format!("{}: {e}", f.path.display()));
        }
        let mut sp = f.path.clone().into_os_string();
        sp.push(".json");
        let sidecar_path = PathBuf::from(sp);
        let res = serde_json::to_vec_pretty(&side)
            .map_err(io::Error::other)
            .and_then(|mut b| {
                b.push(b'\n');
                std::fs::write(&sidecar_path, b)
            });
        if let Err(e) = res {
            self.error
                .get_or_insert(format!("{}: {e}", sidecar_path.display()));
        }
        self.done.push(FileReport {
            path: f.path,
            sidecar: side,
        });
    }

    /// Records a loss on every open file of the flow direction.
    fn loss(
        &mut self,
        flow: FlowId,
        dir: Direction,
        msid: Option<u32>,
        cause: &str,
        range: Option<ByteRange>,
    ) {
        for (k, f) in self.files.iter_mut() {
            if k.0 != flow || k.1 != dir || msid.is_some_and(|m| m != k.2) {
                continue;
            }
            // A cut message right after a gap belongs to that gap's entry.
            if let (Some(i), None) = (f.open_loss.or(f.wait_video), range) {
                if let Some(l) = f.side.gaps.get_mut(i) {
                    l.messages_dropped += 1;
                    f.wait_video = Some(i);
                    continue;
                }
            }
            if f.side.gaps.len() >= MAX_LOSSES {
                f.side.gaps_dropped += 1;
                continue;
            }
            f.side.gaps.push(Loss {
                cause: cause.to_owned(),
                offset: range.map(|r| r.start),
                len: range.map(|r| r.len()),
                media_from_ms: f.last_ts,
                messages_dropped: if range.is_none() { 1 } else { 0 },
                ..Default::default()
            });
            f.open_loss = Some(f.side.gaps.len() - 1);
            f.wait_video = f.open_loss;
        }
    }

    fn name_of(&mut self, flow: FlowId, dir: Direction, msid: u32) -> Option<String> {
        let n = self.names.get(&flow)?;
        if let Some((_, name, _)) = n.names.iter().find(|(m, _, _)| *m == msid) {
            return Some(name.clone());
        }
        // Media on a msid no publish/play named (ffmpeg's listen server):
        // the single stream of the matching role.
        let want = match dir {
            Direction::ToServer => "publish",
            Direction::ToClient => "play",
        };
        let mut it = n.names.iter().filter(|(_, _, r)| *r == want);
        match (it.next(), it.next()) {
            (Some((_, name, _)), None) => Some(name.clone()),
            _ => None,
        }
    }

    /// The body bytes of `m` into `self.scratch`; false when not all held.
    fn body(&mut self, flow: FlowId, dir: Direction, m: &Message) -> bool {
        self.scratch.clear();
        let Some(w) = self.windows.get(&(flow, dir)) else {
            return false;
        };
        if m.chunks.is_empty() {
            let r = ByteRange::new(m.first_byte, m.first_byte + m.length as u64);
            return w.read(r, &mut self.scratch);
        }
        for c in &m.chunks {
            if !w.read(c.payload, &mut self.scratch) {
                return false;
            }
        }
        self.scratch.len() == m.length as usize
    }

    fn message(&mut self, flow: FlowId, dir: Direction, m: &Message, depth: u32) {
        match &m.body {
            Body::Command(c) => {
                let (name, role) = match &c.info {
                    Some(CommandInfo::Publish { name: Some(n), .. }) => (n, "publish"),
                    Some(CommandInfo::Play { name: Some(n), .. }) => (n, "play"),
                    _ => return,
                };
                if dir != Direction::ToServer {
                    return;
                }
                let n = self.names.entry(flow).or_default();
                let name = lossy(name);
                if let Some(e) = n.names.iter_mut().find(|e| e.0 == m.msid) {
                    *e = (m.msid, name, role);
                } else if n.names.len() < MAX_NAMES {
                    n.names.push((m.msid, name, role));
                }
            }
            Body::Data(d) => {
                let first = d.name.as_ref().map(lossy);
                let is_meta = match first.as_deref() {
                    Some("@setDataFrame") => {
                        d.args
                            .first()
                            .and_then(|v| v.as_str())
                            .map(lossy)
                            .as_deref()
                            == Some("onMetaData")
                    }
                    Some("onMetaData") => true,
                    _ => false,
                };
                if !is_meta || m.truncated.is_some() || !self.body(flow, dir, m) {
                    return;
                }
                let mut body = std::mem::take(&mut self.scratch);
                if first.as_deref() == Some("@setDataFrame") {
                    // Drop the leading AMF0 string "@setDataFrame".
                    let skip = 3 + "@setDataFrame".len();
                    if body.len() < skip || body[0] != 2 {
                        self.scratch = body;
                        return;
                    }
                    body.drain(..skip);
                }
                let k = (flow, dir, m.msid);
                if let Some(f) = self.files.get_mut(&k) {
                    let ts = f.base.map_or(m.timestamp, |b| m.timestamp.wrapping_sub(b));
                    if let Err(e) = f.w.write_tag(tag_type::SCRIPT, ts, &[&body]) {
                        self.error
                            .get_or_insert(format!("{}: {e}", f.path.display()));
                    } else {
                        f.side.script_tags += 1;
                    }
                } else if body.len() <= MAX_PENDING_META && !self.skipped.contains(&k) {
                    self.pending_meta.insert(k, (m.timestamp, body.clone()));
                }
                body.clear();
                self.scratch = body;
            }
            Body::Audio(_) | Body::Video(_) => self.media(flow, dir, m),
            Body::Aggregate(subs) if depth == 0 => {
                if m.truncated.is_some() {
                    self.loss(flow, dir, Some(m.msid), "truncated_aggregate", None);
                }
                for s in subs {
                    self.message(flow, dir, s, 1);
                }
            }
            _ => {}
        }
    }

    fn open(&mut self, k: Key) -> bool {
        if self.files.contains_key(&k) {
            return true;
        }
        if self.skipped.contains(&k) {
            return false;
        }
        let (flow, dir, msid) = k;
        let name = self.name_of(flow, dir, msid);
        let shown = match (&name, self.opts.redact) {
            (Some(n), true) => Some(self.redactor.redact_name(n)),
            (n, _) => n.clone(),
        };
        if let Some(want) = &self.opts.stream {
            let ok = name.as_deref() == Some(want.as_str())
                || shown.as_deref() == Some(want.as_str())
                || name
                    .as_deref()
                    .and_then(|n| n.split_once('?'))
                    .is_some_and(|(b, _)| b == want);
            if !ok {
                self.skipped.insert(k);
                self.pending_meta.remove(&k);
                return false;
            }
        }
        let role = match dir {
            Direction::ToServer => "publish",
            Direction::ToClient => "play",
        };
        let fname = format!(
            "s{flow}-{role}-{}-m{msid}.flv",
            safe_name(shown.as_deref().unwrap_or("unnamed"))
        );
        let path = self.opts.dir.join(&fname);
        let w = File::create(&path)
            .map(BufWriter::new)
            .and_then(|b| FlvWriter::new(b, 0));
        let w = match w {
            Ok(w) => w,
            Err(e) => {
                self.error.get_or_insert(format!("{}: {e}", path.display()));
                self.skipped.insert(k);
                return false;
            }
        };
        let side = Sidecar {
            file: fname,
            flow_id: flow,
            direction: dir.as_str(),
            role,
            msid,
            stream: shown,
            rebased: self.opts.rebase,
            ..Default::default()
        };
        self.files.insert(
            k,
            OutFile {
                path,
                w,
                side,
                base: None,
                wait_video: None,
                open_loss: None,
                video_config: false,
                last_ts: None,
            },
        );
        true
    }

    fn media(&mut self, flow: FlowId, dir: Direction, m: &Message) {
        let k = (flow, dir, m.msid);
        if !self.open(k) {
            return;
        }
        if m.truncated.is_some() {
            let cause = m
                .truncated
                .map(|t| {
                    serde_json::to_value(t.cause)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            self.loss(flow, dir, Some(m.msid), &cause, None);
            return;
        }
        let (codecs, video, seq, key) = track_codecs(m);
        let held = self.body(flow, dir, m);
        let rebase = self.opts.rebase;
        let pending = self.pending_meta.remove(&k);
        let Some(f) = self.files.get_mut(&k) else {
            return;
        };
        let count_drop = |f: &mut OutFile, i: Option<usize>| {
            if let Some(l) = i.and_then(|i| f.side.gaps.get_mut(i)) {
                l.messages_dropped += 1;
            }
        };
        if !held {
            // Bytes not held (should not happen for a whole message).
            let i = f.open_loss.or(f.wait_video);
            count_drop(f, i);
            return;
        }
        if video {
            if let Some(i) = f.wait_video {
                if !(key || seq) {
                    count_drop(f, Some(i));
                    return;
                }
                f.wait_video = None;
            }
            if !f.video_config && !seq && needs_config(m) {
                // Picked up mid-stream: nothing decodes before the
                // sequence header.
                if f.side.missing_config == 0 {
                    f.side.missing_config_from_ms = Some(m.timestamp);
                }
                f.side.missing_config += 1;
                return;
            }
            if seq {
                f.video_config = true;
            }
        }
        if let Some(l) = f.open_loss.take().and_then(|i| f.side.gaps.get_mut(i)) {
            l.media_to_ms = Some(m.timestamp);
            l.timestamps_estimated = m.fmt != 0;
        }
        let base = *f.base.get_or_insert(if rebase {
            pending
                .as_ref()
                .map_or(m.timestamp, |(t, _)| (*t).min(m.timestamp))
        } else {
            0
        });
        f.side.timestamp_offset = base;
        if let Some((t, body)) = pending {
            match f
                .w
                .write_tag(tag_type::SCRIPT, t.wrapping_sub(base), &[&body])
            {
                Ok(()) => f.side.script_tags += 1,
                Err(e) => {
                    self.error
                        .get_or_insert(format!("{}: {e}", f.path.display()));
                }
            }
        }
        if self.scratch.len() > MAX_TAG_BODY {
            f.side.oversized += 1;
            return;
        }
        let ts = m.timestamp.wrapping_sub(base);
        let tt = if video {
            tag_type::VIDEO
        } else {
            tag_type::AUDIO
        };
        if let Err(e) = f.w.write_tag(tt, ts, &[&self.scratch]) {
            self.error
                .get_or_insert(format!("{}: {e}", f.path.display()));
            return;
        }
        f.last_ts = Some(m.timestamp);
        let facts = if video {
            &mut f.side.video
        } else {
            &mut f.side.audio
        };
        facts.add(m.timestamp, self.scratch.len(), &codecs, seq, key);
    }
}

/// Reads a whole capture through a fresh analyzer and extracts its media
/// (the `extract` command on a file, and the TUI export).
#[cfg(feature = "pcap")]
pub fn extract_file(
    path: &std::path::Path,
    filter: Option<String>,
    config: crate::pipeline::Config,
    opts: ExtractOptions,
) -> Result<Vec<FileReport>, String> {
    use crate::capture::{PacketSource, SourceOptions};
    let so = SourceOptions {
        filter,
        ..SourceOptions::default()
    };
    let mut src = PacketSource::open_file(path, &so).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&opts.dir).map_err(|e| format!("{}: {e}", opts.dir.display()))?;
    let mut an = Analyzer::new(config);
    let mut ex = Extractor::new(opts);
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().map_err(|e| e.to_string())? {
        an.handle_packet_tap(&p, &mut events, &mut ex);
        ex.handle(&events);
        events.clear();
        ex.trim(&an);
    }
    an.finish(None, &mut events);
    ex.handle(&events);
    let out = ex.finish();
    match ex.error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PacketRef;
    use crate::rtmp::Connection;

    fn handshake_part(seed: u8) -> Vec<u8> {
        let mut v = vec![0u8; 1536];
        v[3] = seed;
        for (i, b) in v.iter_mut().enumerate().skip(8) {
            *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
        }
        v
    }

    /// One message on csid 6 in 128-byte chunks (fmt 0, then fmt 3).
    fn chunked(type_id: u8, ts: u32, msid: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![6u8];
        v.extend_from_slice(&ts.to_be_bytes()[1..]);
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.push(type_id);
        v.extend_from_slice(&msid.to_le_bytes());
        for (i, c) in body.chunks(128).enumerate() {
            if i > 0 {
                v.push(0xC6);
            }
            v.extend_from_slice(c);
        }
        v
    }

    fn sub(type_id: u8, ts: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![type_id];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&ts.to_be_bytes()[1..]);
        v.push((ts >> 24) as u8);
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(body);
        v.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        v
    }

    #[test]
    fn aggregate_messages_become_their_tags() {
        let dir = std::env::temp_dir().join(format!("rtmpscope-agg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut ex = Extractor::new(ExtractOptions {
            dir: dir.clone(),
            ..Default::default()
        });
        let mut conn = Connection::default();
        let pkt = PacketRef::default();
        let (c1, s1) = (handshake_part(1), handshake_part(2));
        let mut c = vec![3u8];
        c.extend_from_slice(&c1);
        c.extend_from_slice(&s1);
        let mut s = vec![3u8];
        s.extend_from_slice(&s1);
        s.extend_from_slice(&c1);
        let keyframe: Vec<u8> = [0x17, 1, 0, 0, 0]
            .into_iter()
            .chain((0..300).map(|i| i as u8))
            .collect();
        let inter: Vec<u8> = [0x27, 1, 0, 0, 0].into_iter().chain([9; 40]).collect();
        let audio: Vec<u8> = vec![0xAF, 1, 7, 7, 7];
        let seq: Vec<u8> = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0];
        let mut agg = sub(9, 1000, &seq);
        agg.extend(sub(9, 1000, &keyframe));
        agg.extend(sub(8, 1010, &audio));
        agg.extend(sub(9, 1040, &inter));
        let mut wire = c.clone();
        wire.extend(chunked(22, 5000, 1, &agg));
        let mut events = Vec::new();
        conn.handle_data(Direction::ToClient, 0, &s, pkt, &mut events);
        // Deliver in pieces, as packets would.
        let mut off = 0u64;
        for piece in wire.chunks(700) {
            ex.data(1, Direction::ToServer, off, piece);
            conn.handle_data(Direction::ToServer, off, piece, pkt, &mut events);
            off += piece.len() as u64;
            let stamped: Vec<crate::event::Event> = events
                .drain(..)
                .map(|e| crate::event::Event::from_rtmp(1, e))
                .collect();
            ex.handle(&stamped);
        }
        let reports = ex.finish();
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert!(
            r.path.ends_with("s1-publish-unnamed-m1.flv"),
            "{:?}",
            r.path
        );
        let data = std::fs::read(&r.path).unwrap();
        let tags = crate::output::flv::tags(&data).unwrap();
        let got: Vec<(u8, u32, &[u8])> = tags
            .iter()
            .map(|t| (t.tag_type, t.timestamp, t.body))
            .collect();
        assert_eq!(
            got,
            vec![
                (9, 5000, &seq[..]),
                (9, 5000, &keyframe[..]),
                (8, 5010, &audio[..]),
                (9, 5040, &inter[..]),
            ]
        );
        assert_eq!(data[4], 0x05, "audio and video flags");
        assert_eq!(r.sidecar.video.keyframes, 1);
        assert_eq!(r.sidecar.video.sequence_headers, 1);
        assert_eq!(r.sidecar.audio.packets, 1);
        assert!(r.sidecar.gaps.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
