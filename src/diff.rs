//! Conversation diff: compares two captures (as parsed NDJSON lines from the
//! JSON writer) and reports what changed, in sentences.
//!
//! Contract: [`diff_conversations`] takes the lines of two runs (use
//! [`parse_ndjson`] on saved files, or [`lines_from_events`] on events) and
//! returns a [`DiffReport`]. For long captures, feed a [`ConversationBuilder`]
//! one event or line at a time (it keeps only the compared sequence and
//! counters, not the lines) and compare with [`diff_built`]. It never panics on odd input: lines it does not
//! understand are skipped.
//!
//! Normalisation (by default): addresses, ports, wall/packet times, flow ids,
//! `pcap_cnt`, stream offsets, handshake random bytes, transaction ids and
//! the host:port of `rtmp://` URLs are ignored; so are pings,
//! acknowledgements and the free text of status replies (only command,
//! level and code count: `clientid`/descriptions vary per run).
//!
//! Compared per RTMP session (flows in order of appearance) and per message
//! direction: the sequence of commands (name + arguments), status replies
//! (`_result`/`_error`/`onStatus` with code, paired to the command they
//! answer), data message names, protocol control values and user control
//! events (aligned with a longest-common-subsequence); the handshake kind and
//! versions; per direction and media kind the codec, codec configuration and
//! message count (within [`DiffOptions::tolerance_pct`] percent or
//! [`DiffOptions::tolerance_abs`] messages, whichever is larger).
//! [`DiffOptions::ignore_fields`] removes dotted paths of the `rtmp` object
//! before comparing (e.g. `command.args`); [`DiffOptions::extra_fields`] adds
//! dotted paths to every compared message (e.g. `csid`, `msid`).
//! [`DiffOptions::redact`] redacts both sides before comparing (idempotent,
//! stable placeholders), so a redacted golden file equals a fresh capture,
//! and keeps secrets out of the report. The printed report
//! (`Display`) is sanitised ([`crate::sanitize`]): wire strings in findings
//! show control characters as escapes.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as J;

use crate::event::Event;
use crate::output::json::{JsonOptions, JsonWriter};
use crate::redact::{
    is_secret_key, placeholder, Redactor, PLACEHOLDER_PREFIX, STREAM_NAME_COMMANDS,
};
use crate::session::codec_fourcc;

/// Maximum messages per session kept in the compared sequence (LCS is
/// quadratic); further ones are ignored and reported.
pub const MAX_SEQUENCE: usize = 2000;

/// Diff options.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Media count tolerance in percent of the larger count.
    pub tolerance_pct: f64,
    /// Media count tolerance in messages.
    pub tolerance_abs: u64,
    /// Dotted paths within the `rtmp` object removed before comparing.
    pub ignore_fields: Vec<String>,
    /// Dotted paths within the `rtmp` object added to each compared message.
    pub extra_fields: Vec<String>,
    /// Redact stream keys and credentials in the report.
    pub redact: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            tolerance_pct: 2.0,
            tolerance_abs: 2,
            ignore_fields: Vec::new(),
            extra_fields: Vec::new(),
            redact: false,
        }
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Session number of the old side (the number every output shows; 0
    /// for the whole conversation: session counts, added and removed
    /// sessions, anomalies about no flow).
    pub session: usize,
    /// The pair the finding is about: `session 2 (flow 2)` when both sides
    /// have the same number and flow, else `session 2 (flow 2) -> new
    /// session 1 (flow 1)`; empty for the whole conversation.
    pub header: String,
    pub text: String,
}

/// Result of a diff.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffReport {
    pub old_sessions: usize,
    pub new_sessions: usize,
    pub findings: Vec<Finding>,
    /// The sessions paired for comparison (headers as in [`Finding::header`]).
    pub pairs: Vec<String>,
}

impl DiffReport {
    /// True when nothing differs after normalisation.
    pub fn is_equal(&self) -> bool {
        self.findings.is_empty()
    }

    /// True when some finding contains `needle` (tests, filters).
    pub fn mentions(&self, needle: &str) -> bool {
        self.findings.iter().any(|f| f.text.contains(needle))
    }
}

impl fmt::Display for DiffReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            // Identity pairs need no listing; others are said.
            let moved: Vec<&String> = self.pairs.iter().filter(|p| p.contains("->")).collect();
            if moved.is_empty() {
                return writeln!(
                    f,
                    "no differences ({} session(s) compared)",
                    self.pairs.len()
                );
            }
            writeln!(
                f,
                "no differences ({} session(s) compared)",
                self.pairs.len()
            )?;
            for p in moved {
                writeln!(f, "  paired {p}")?;
            }
            return Ok(());
        }
        let mut last: Option<&str> = None;
        for x in &self.findings {
            if last != Some(x.header.as_str()) {
                if x.header.is_empty() {
                    writeln!(f, "conversation:")?;
                } else {
                    writeln!(f, "{}:", x.header)?;
                }
                last = Some(x.header.as_str());
            }
            // Findings quote wire strings: sanitised for the terminal.
            writeln!(f, "  - {}", crate::sanitize::clean(&x.text))?;
        }
        Ok(())
    }
}

/// Parses NDJSON text (blank lines skipped). Errors name the line number.
pub fn parse_ndjson(text: &str) -> Result<Vec<J>, String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(out)
}

/// Maps events to their NDJSON lines (the same path as the writer, no
/// session lines).
pub fn lines_from_events(events: &[Event]) -> Vec<J> {
    let mut w = JsonWriter::new(
        std::io::sink(),
        JsonOptions {
            sessions: false,
            ..Default::default()
        },
    );
    events.iter().filter_map(|e| w.event_to_json(e)).collect()
}

/// What a compared item is, for pairing changes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Command(String),
    Response(String),
    Status,
    Data(String),
    Control(String),
    UserControl(String),
}

#[derive(Clone, Debug)]
struct Item {
    dir: String,
    slot: Slot,
    /// Comparison key.
    key: String,
    /// Display text (`_error NetConnection.Connect.Rejected`, `publish(...)`).
    text: String,
    name: String,
}

#[derive(Clone, Debug, Default)]
struct Media {
    count: u64,
    codec: Option<String>,
    config: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Conv {
    items: Vec<Item>,
    truncated: bool,
    /// (direction, kind) -> media.
    media: BTreeMap<(String, String), Media>,
    handshake: BTreeMap<String, String>,
    role: Option<&'static str>,
    /// Session number (first seen as RTMP, from 1: the number `json`,
    /// `summary` and the TUI show) and flow id.
    id: usize,
    flow: u64,
    /// What the session is, for pairing: connect `app` and `flashVer`, the
    /// first published or played stream name.
    app: Option<String>,
    client: Option<String>,
    stream: Option<String>,
    /// Gaps (count, bytes) and anomaly counts by name on the flow.
    gaps: (u64, u64),
    anomalies: BTreeMap<String, u64>,
}

fn get_path<'a>(v: &'a J, path: &str) -> Option<&'a J> {
    let mut cur = v;
    for p in path.split('.') {
        cur = match cur {
            J::Object(m) => m.get(p)?,
            J::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn remove_path(v: &mut J, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, path),
    };
    let target = match parent {
        Some(p) => {
            let mut cur = &mut *v;
            for seg in p.split('.') {
                cur = match cur {
                    J::Object(m) => match m.get_mut(seg) {
                        Some(x) => x,
                        None => return,
                    },
                    _ => return,
                };
            }
            cur
        }
        None => v,
    };
    if let J::Object(m) = target {
        m.shift_remove(last);
    }
}

/// Replaces `scheme://host:port` in strings by `scheme://HOST` (addresses and
/// ports are not compared).
fn normalize_json(v: &mut J) {
    match v {
        J::String(s) => {
            if let Some(i) = s.find("://") {
                let rest = &s[i + 3..];
                let end = rest.find('/').unwrap_or(rest.len());
                let auth = &rest[..end];
                let host_start = auth.rfind('@').map_or(0, |x| x + 1);
                let new = format!("{}://{}HOST{}", &s[..i], &auth[..host_start], &rest[end..]);
                *s = new;
            }
        }
        J::Array(a) => a.iter_mut().for_each(normalize_json),
        J::Object(m) => m.values_mut().for_each(normalize_json),
        _ => {}
    }
}

/// Redacts JSON strings like [`Redactor::redact_str`], and values under
/// credential-like keys whole. Idempotent, so an already redacted golden file
/// and a fresh capture compare equal.
fn redact_json(red: &Redactor, v: &mut J, secret: bool) {
    // A non-UTF-8 string (`{"bytes": base64}`): redacted on its bytes.
    if let Some(b) = json_bytes(v) {
        *v = if secret {
            J::String(crate::redact::placeholder_bytes(&b))
        } else {
            amfstr_json(red.redact_bytes(&b))
        };
        return;
    }
    match v {
        J::String(s) if secret && !s.starts_with(PLACEHOLDER_PREFIX) => *s = placeholder(s),
        J::String(s) => *s = red.redact_str(s),
        J::Array(a) => a.iter_mut().for_each(|x| redact_json(red, x, false)),
        J::Object(m) => {
            for (k, x) in m.iter_mut() {
                redact_json(red, x, is_secret_key(k));
            }
        }
        _ => {}
    }
}

/// The bytes of the tagged form `{"bytes": "<base64>"}` of a non-UTF-8 string.
fn json_bytes(v: &J) -> Option<Vec<u8>> {
    use base64::Engine;
    match v {
        J::Object(m) if m.len() == 1 => {
            let b = m.get("bytes")?.as_str()?;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        }
        _ => None,
    }
}

fn amfstr_json(s: crate::amf::AmfStr) -> J {
    crate::output::json::amfstr_to_json(&s)
}

/// Redacts a stream name (or a connect string argument) given as JSON:
/// text or the `{"bytes": ...}` form; learns it for later echoes.
fn redact_name_json(red: &mut Redactor, v: &mut J) {
    if let Some(b) = json_bytes(v) {
        red.learn_bytes(&b);
        *v = J::String(crate::redact::placeholder_bytes(&b));
    } else if let J::String(s) = v {
        *s = red.redact_name(s);
    }
}

fn compact(v: &J, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() > max {
        s.chars().take(max.saturating_sub(3)).collect::<String>() + "..."
    } else {
        s
    }
}

fn str_of(v: Option<&J>) -> Option<String> {
    match v? {
        J::String(s) => Some(s.clone()),
        J::Null => None,
        other => Some(other.to_string()),
    }
}

fn status_of(cmd: &J) -> (Option<String>, Option<String>) {
    if let Some(info) = cmd.get("info") {
        if info.get("kind").and_then(J::as_str) == Some("status") {
            return (str_of(info.get("level")), str_of(info.get("code")));
        }
    }
    // The info object is normally the first argument after a null command
    // object; some servers omit the null, putting it in `object`.
    let candidates = cmd
        .get("args")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .chain(cmd.get("object"));
    for a in candidates {
        if let J::Object(m) = a {
            if m.contains_key("code") || m.contains_key("level") {
                return (str_of(m.get("level")), str_of(m.get("code")));
            }
        }
    }
    (None, None)
}

fn media_codec(body: &J) -> (Option<String>, Option<String>) {
    let track = body
        .get("tracks")
        .and_then(|t| t.get(0))
        .cloned()
        .unwrap_or(J::Null);
    let fourcc = body
        .get("fourcc")
        .or_else(|| track.get("fourcc"))
        .and_then(J::as_str)
        .map(str::to_owned)
        .or_else(|| body.get("codec").and_then(J::as_str).map(codec_fourcc));
    let config = body
        .get("config")
        .or_else(|| track.get("config"))
        .map(|c| compact(c, 120));
    (fourcc, config)
}

/// Builds the compact, comparable form of one conversation from NDJSON lines
/// pushed one at a time (memory: the compared sequence and counters per
/// session, not the lines).
pub struct ConversationBuilder {
    opts: DiffOptions,
    order: Vec<u64>,
    convs: BTreeMap<u64, Conv>,
    /// Gaps and anomalies per flow (a flow may lose bytes before it shows
    /// RTMP), and anomalies about no flow (e.g. `capture.truncated`).
    flow_gaps: BTreeMap<u64, (u64, u64)>,
    flow_anomalies: BTreeMap<u64, BTreeMap<String, u64>>,
    capture_anomalies: BTreeMap<String, u64>,
    /// Pending transactions per flow and direction: tx -> command name.
    pending: BTreeMap<(u64, String), BTreeMap<String, String>>,
    red: Redactor,
    writer: JsonWriter<std::io::Sink>,
}

/// One conversation ready to compare ([`diff_built`]).
pub struct Conversation {
    sessions: Vec<Conv>,
    capture_anomalies: BTreeMap<String, u64>,
    red: Redactor,
}

impl Conversation {
    /// Number of RTMP sessions found.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }
}

impl ConversationBuilder {
    pub fn new(opts: &DiffOptions) -> Self {
        ConversationBuilder {
            opts: opts.clone(),
            order: Vec::new(),
            convs: BTreeMap::new(),
            flow_gaps: BTreeMap::new(),
            flow_anomalies: BTreeMap::new(),
            capture_anomalies: BTreeMap::new(),
            pending: BTreeMap::new(),
            red: Redactor::new(),
            writer: JsonWriter::new(
                std::io::sink(),
                JsonOptions {
                    sessions: false,
                    ..Default::default()
                },
            ),
        }
    }

    /// Feeds one event (mapped through the JSON writer).
    pub fn push_event(&mut self, ev: &Event) {
        if let Some(l) = self.writer.event_to_json(ev) {
            self.push_line(&l);
        }
    }

    /// Feeds one parsed NDJSON line; lines it does not use are skipped.
    pub fn push_line(&mut self, line: &J) {
        let ConversationBuilder {
            opts,
            order,
            convs,
            pending,
            red,
            flow_gaps,
            flow_anomalies,
            capture_anomalies,
            ..
        } = self;
        let opts: &DiffOptions = opts;
        let et = line.get("event_type").and_then(J::as_str).unwrap_or("");
        let flow_id = line.get("flow_id").and_then(J::as_u64);
        if et == "gap" {
            if let Some(fid) = flow_id {
                let len = line.pointer("/gap/len").and_then(J::as_u64).unwrap_or(0);
                let g = flow_gaps.entry(fid).or_default();
                g.0 += 1;
                g.1 = g.1.saturating_add(len);
            }
            return;
        }
        if et == "anomaly" {
            let name = str_of(line.pointer("/anomaly/name")).unwrap_or_default();
            let map = match flow_id {
                Some(fid) => flow_anomalies.entry(fid).or_default(),
                None => capture_anomalies,
            };
            *map.entry(name).or_default() += 1;
            return;
        }
        if et != "rtmp" && et != "handshake" {
            return;
        }
        let Some(fid) = line.get("flow_id").and_then(J::as_u64) else {
            return;
        };
        let dir = line
            .get("direction")
            .and_then(J::as_str)
            .unwrap_or("to_server")
            .to_owned();
        let conv = convs.entry(fid).or_insert_with(|| {
            order.push(fid);
            Conv {
                id: order.len(),
                flow: fid,
                ..Conv::default()
            }
        });
        if et == "handshake" {
            if let Some(h) = line.get("handshake") {
                let part = h.get("part").and_then(J::as_str).unwrap_or("");
                if part == "c1" || part == "s1" {
                    let kind = h.get("kind").and_then(J::as_str).unwrap_or("?");
                    let ver = h.get("peer_version").and_then(J::as_str).unwrap_or("?");
                    conv.handshake
                        .insert(part.to_owned(), format!("{kind} {ver}"));
                }
            }
            return;
        }
        let Some(r) = line.get("rtmp") else { return };
        let mut r = r.clone();
        for p in &opts.ignore_fields {
            remove_path(&mut r, p);
        }
        let extra: Vec<String> = opts
            .extra_fields
            .iter()
            .map(|p| {
                format!(
                    "{p}={}",
                    get_path(&r, p).map_or("-".into(), |v| v.to_string())
                )
            })
            .collect();
        let extra = extra.join(",");
        let push = |conv: &mut Conv, slot: Slot, key: String, text: String, name: String| {
            if conv.items.len() >= MAX_SEQUENCE {
                conv.truncated = true;
                return;
            }
            conv.items.push(Item {
                dir: dir.clone(),
                slot,
                key: format!("{dir}|{key}|{extra}"),
                text,
                name,
            });
        };
        if let Some(c) = r.get("command") {
            let name = str_of(c.get("name")).unwrap_or_default();
            let tx = c.get("transaction_id").map(|t| t.to_string());
            match name.as_str() {
                "_result" | "_error" | "onStatus" => {
                    let other = if dir == "to_server" {
                        "to_client"
                    } else {
                        "to_server"
                    };
                    let to = if name == "onStatus" {
                        None
                    } else {
                        tx.as_ref().and_then(|t| {
                            pending
                                .get_mut(&(fid, other.to_owned()))
                                .and_then(|p| p.remove(t))
                        })
                    };
                    let (level, code) = status_of(c);
                    let mut text = name.clone();
                    if let Some(cd) = &code {
                        text.push(' ');
                        text.push_str(cd);
                    } else if let Some(l) = &level {
                        text.push(' ');
                        text.push_str(l);
                    }
                    let slot = match &to {
                        Some(t) => Slot::Response(t.clone()),
                        None if name == "onStatus" => Slot::Status,
                        None => Slot::Response(String::new()),
                    };
                    let key = format!(
                        "R|{}|{}|{}|{}",
                        name,
                        to.clone().unwrap_or_default(),
                        level.unwrap_or_default(),
                        code.unwrap_or_default()
                    );
                    push(conv, slot, key, text, name);
                }
                _ => {
                    if dir == "to_server" {
                        if name == "publish" {
                            conv.role = Some("publisher");
                        } else if (name == "play" || name == "play2") && conv.role.is_none() {
                            conv.role = Some("player");
                        }
                    }
                    if let Some(t) = &tx {
                        if t != "0" && t != "null" {
                            pending
                                .entry((fid, dir.clone()))
                                .or_default()
                                .insert(t.clone(), name.clone());
                        }
                    }
                    let mut object = c.get("object").cloned().unwrap_or(J::Null);
                    let mut args = c.get("args").cloned().unwrap_or(J::Null);
                    normalize_json(&mut object);
                    normalize_json(&mut args);
                    if opts.redact {
                        if STREAM_NAME_COMMANDS.contains(&name.as_str()) {
                            if let Some(a0) = args.get_mut(0) {
                                redact_name_json(red, a0);
                            }
                        }
                        if name == "connect" {
                            if let J::Array(a) = &mut args {
                                a.iter_mut().for_each(|x| redact_name_json(red, x));
                            }
                        }
                        redact_json(red, &mut object, false);
                        redact_json(red, &mut args, false);
                    }
                    if dir == "to_server" {
                        if name == "connect" {
                            conv.app = object.get("app").and_then(J::as_str).map(str::to_owned);
                            conv.client = object
                                .get("flashVer")
                                .and_then(J::as_str)
                                .map(str::to_owned);
                        } else if matches!(name.as_str(), "publish" | "play" | "play2")
                            && conv.stream.is_none()
                        {
                            conv.stream = args.get(0).and_then(J::as_str).map(str::to_owned);
                        }
                    }
                    let argtext = match (&object, &args) {
                        (J::Null, J::Array(a)) if a.is_empty() => String::new(),
                        (J::Null, a) => compact(a, 100),
                        (o, J::Array(a)) if a.is_empty() => compact(o, 100),
                        (o, a) => format!("{} {}", compact(o, 60), compact(a, 60)),
                    };
                    let key = format!("C|{name}|{object}|{args}");
                    let text = if argtext.is_empty() {
                        name.clone()
                    } else {
                        format!("{name} {argtext}")
                    };
                    push(conv, Slot::Command(name.clone()), key, text, name);
                }
            }
        } else if let Some(d) = r.get("data") {
            let name = str_of(d.get("name")).unwrap_or_default();
            let inner = d
                .get("args")
                .and_then(|a| a.get(0))
                .and_then(J::as_str)
                .filter(|_| name == "@setDataFrame")
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let text = format!("{name}{inner}");
            push(
                conv,
                Slot::Data(name.clone()),
                format!("D|{text}"),
                text,
                name,
            );
        } else if let Some(k) = r.get("control") {
            let kind = k.get("kind").and_then(J::as_str).unwrap_or("").to_owned();
            if kind == "acknowledgement" {
                return;
            }
            let mut rest = k.clone();
            remove_path(&mut rest, "kind");
            let vals: Vec<String> = match &rest {
                J::Object(m) => m
                    .values()
                    .map(|v| str_of(Some(v)).unwrap_or_default())
                    .collect(),
                _ => Vec::new(),
            };
            let text = format!("{kind} {}", vals.join(" ")).trim().to_owned();
            push(
                conv,
                Slot::Control(kind.clone()),
                format!("K|{text}"),
                text,
                kind,
            );
        } else if let Some(u) = r.get("user_control") {
            let ev = u.get("event").and_then(J::as_str).unwrap_or("").to_owned();
            if ev.starts_with("ping") || ev == "set_buffer_length" {
                return;
            }
            let sid = u
                .get("params")
                .and_then(|p| p.get("stream_id"))
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let text = format!("{ev}{sid}");
            push(
                conv,
                Slot::UserControl(ev.clone()),
                format!("U|{text}"),
                text,
                ev,
            );
        } else {
            for kind in ["audio", "video"] {
                if let Some(b) = r.get(kind) {
                    let m = conv
                        .media
                        .entry((dir.clone(), kind.to_owned()))
                        .or_default();
                    m.count += 1;
                    let (codec, config) = media_codec(b);
                    if m.codec.is_none() || config.is_some() {
                        if let Some(c) = codec {
                            m.codec = Some(c);
                        }
                    }
                    if config.is_some() {
                        m.config = config;
                    }
                }
            }
        }
    }

    pub fn finish(self) -> Conversation {
        let mut convs = self.convs;
        let (mut gaps, mut anomalies) = (self.flow_gaps, self.flow_anomalies);
        let sessions = self
            .order
            .into_iter()
            .filter_map(|f| convs.remove(&f))
            .filter(|c| !c.items.is_empty() || !c.media.is_empty() || !c.handshake.is_empty())
            .map(|mut c| {
                c.gaps = gaps.remove(&c.flow).unwrap_or_default();
                c.anomalies = anomalies.remove(&c.flow).unwrap_or_default();
                c
            })
            .collect();
        Conversation {
            sessions,
            capture_anomalies: self.capture_anomalies,
            red: self.red,
        }
    }
}

fn build(lines: &[J], opts: &DiffOptions) -> Conversation {
    let mut b = ConversationBuilder::new(opts);
    for l in lines {
        b.push_line(l);
    }
    b.finish()
}

enum Op {
    Same,
    Del(usize),
    Ins(usize),
}

fn lcs(a: &[Item], b: &[Item]) -> Vec<Op> {
    let n = a.len();
    let m = b.len();
    let w = m + 1;
    let mut t = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * w + j] = if a[i].key == b[j].key {
                t[(i + 1) * w + j + 1] + 1
            } else {
                t[(i + 1) * w + j].max(t[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n && j < m {
        if a[i].key == b[j].key {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        } else if t[(i + 1) * w + j] >= t[i * w + j + 1] {
            ops.push(Op::Del(i));
            i += 1;
        } else {
            ops.push(Op::Ins(j));
            j += 1;
        }
    }
    ops.extend((i..n).map(Op::Del));
    ops.extend((j..m).map(Op::Ins));
    ops
}

fn subject(dir: &str, role: Option<&'static str>) -> &'static str {
    if dir == "to_client" {
        "server"
    } else {
        role.unwrap_or("client")
    }
}

fn describe_changes(old: &Conv, new: &Conv, out: &mut Vec<String>) {
    let ops = lcs(&old.items, &new.items);
    // Each side is named by its own role: a new session that never got to
    // publish/play (06's `nosuchapp` client, closed after connect) is a
    // "client", not the old session's "player".
    let role_old = old.role;
    let role_new = new.role;
    let mut k = 0;
    while k < ops.len() {
        if matches!(ops[k], Op::Same) {
            k += 1;
            continue;
        }
        let mut dels = Vec::new();
        let mut ins = Vec::new();
        while k < ops.len() {
            match ops[k] {
                Op::Del(i) => dels.push(i),
                Op::Ins(j) => ins.push(j),
                Op::Same => break,
            }
            k += 1;
        }
        let mut used = vec![false; ins.len()];
        for &d in &dels {
            let a = &old.items[d];
            let partner = ins.iter().enumerate().position(|(x, &j)| {
                !used[x] && new.items[j].dir == a.dir && new.items[j].slot == a.slot
            });
            match partner {
                Some(x) => {
                    used[x] = true;
                    let b = &new.items[ins[x]];
                    let who = subject(&b.dir, role_new);
                    let s = match &a.slot {
                        Slot::Response(to) if !to.is_empty() => {
                            format!("{who} now answers {to} with {} (was {})", b.text, a.text)
                        }
                        Slot::Command(n) => {
                            format!("{who} now sends {n} as `{}` (was `{}`)", b.text, a.text)
                        }
                        _ => format!("{who} now sends {} instead of {}", b.text, a.text),
                    };
                    out.push(s);
                }
                None => {
                    let who = subject(&a.dir, role_old);
                    out.push(match &a.slot {
                        Slot::Response(to) if !to.is_empty() => {
                            format!("{who} no longer answers {to} with {}", a.text)
                        }
                        Slot::Command(_) => format!("{who} no longer sends {}", a.name),
                        _ => format!("{who} no longer sends {}", a.text),
                    });
                }
            }
        }
        for (x, &j) in ins.iter().enumerate() {
            if used[x] {
                continue;
            }
            let b = &new.items[j];
            let who = subject(&b.dir, role_new);
            out.push(match &b.slot {
                Slot::Response(to) if !to.is_empty() => {
                    format!("{who} now answers {to} with {}", b.text)
                }
                Slot::Command(_) => format!("{who} now sends {}", b.text),
                _ => format!("{who} now sends {}", b.text),
            });
        }
    }
}

fn describe_media(old: &Conv, new: &Conv, opts: &DiffOptions, out: &mut Vec<String>) {
    let mut keys: Vec<&(String, String)> = old.media.keys().chain(new.media.keys()).collect();
    keys.sort();
    keys.dedup();
    let empty = Media::default();
    for key in keys {
        let (dir, kind) = key;
        let a = old.media.get(key).unwrap_or(&empty);
        let b = new.media.get(key).unwrap_or(&empty);
        let who = if dir == "to_client" {
            "server"
        } else {
            new.role.or(old.role).unwrap_or("client")
        };
        let mut presence = false;
        if a.codec != b.codec {
            match (&a.codec, &b.codec) {
                (Some(x), Some(y)) => out.push(format!("{kind} codec changed from {x} to {y}")),
                (None, Some(y)) => {
                    presence = a.count == 0;
                    out.push(format!("{who} now sends {kind} ({y})"));
                }
                (Some(x), None) => {
                    presence = b.count == 0;
                    out.push(format!("{who} no longer sends {kind} ({x})"));
                }
                (None, None) => {}
            }
        } else if a.config != b.config && a.config.is_some() && b.config.is_some() {
            out.push(format!(
                "{kind} codec configuration changed from {} to {}",
                a.config.clone().unwrap_or_default(),
                b.config.clone().unwrap_or_default()
            ));
        }
        let diff = a.count.abs_diff(b.count);
        let tol = (opts.tolerance_pct / 100.0 * a.count.max(b.count) as f64)
            .max(opts.tolerance_abs as f64);
        if diff as f64 > tol && !presence {
            out.push(format!(
                "{kind} messages from {who} changed from {} to {}",
                a.count, b.count
            ));
        }
    }
}

/// Compares two conversations (see the module documentation).
pub fn diff_conversations(old: &[J], new: &[J], opts: &DiffOptions) -> DiffReport {
    diff_built(&build(old, opts), &build(new, opts), opts)
}

/// Whether `--ignore` drops gaps / missed bytes / an anomaly name from the
/// comparison (`gaps`, `missed_bytes`, `anomalies`, `anomalies.NAME`).
fn ignored(opts: &DiffOptions, key: &str) -> bool {
    opts.ignore_fields.iter().any(|f| {
        f == key
            || (key.starts_with("anomalies.") && f == "anomalies")
            || (key == "missed_bytes" && f == "gaps")
    })
}

/// How well two sessions match as the same connection: `None` when they
/// cannot be the same (a publisher and a player); else a score from what
/// they are (role 8, app 4, stream name 2, client software 1).
fn pair_score(a: &Conv, b: &Conv) -> Option<u32> {
    if let (Some(x), Some(y)) = (a.role, b.role) {
        if x != y {
            return None;
        }
    }
    let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
    let mut score = 0;
    if a.role.is_some() && a.role == b.role {
        score += 8;
    }
    if same(&a.app, &b.app) {
        score += 4;
    }
    if same(&a.stream, &b.stream) {
        score += 2;
    }
    if same(&a.client, &b.client) {
        score += 1;
    }
    Some(score)
}

/// Pairs old and new sessions by what they are (role, app, stream name,
/// client software), then by order: best score first, ties to the closest
/// session numbers. Returns (old index, new index) pairs sorted by old.
fn pair_sessions(a: &[Conv], b: &[Conv]) -> Vec<(usize, usize)> {
    let mut cand = Vec::new();
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if let Some(s) = pair_score(x, y) {
                cand.push((std::cmp::Reverse(s), i.abs_diff(j), i, j));
            }
        }
    }
    cand.sort_unstable();
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut pairs = Vec::new();
    for (_, _, i, j) in cand {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push((i, j));
        }
    }
    pairs.sort_unstable();
    pairs
}

/// `session N (flow F)`.
fn label(c: &Conv) -> String {
    format!("session {} (flow {})", c.id, c.flow)
}

/// `publisher, publish 'name'` style description of an unpaired session.
fn describe_session(c: &Conv) -> String {
    let mut d = c.role.unwrap_or("client").to_owned();
    if let Some(app) = &c.app {
        d.push_str(&format!(", app '{app}'"));
    }
    if let Some(s) = &c.stream {
        d.push_str(&format!(", stream '{s}'"));
    }
    let cmds: Vec<&str> = c
        .items
        .iter()
        .filter(|it| it.dir == "to_server" && matches!(it.slot, Slot::Command(_)))
        .map(|it| it.name.as_str())
        .take(8)
        .collect();
    if !cmds.is_empty() {
        d.push_str(&format!(": {}", cmds.join(", ")));
    }
    d
}

/// Gaps, missed bytes and anomaly counts by name of a pair.
fn describe_losses(
    old: (&(u64, u64), &BTreeMap<String, u64>),
    new: (&(u64, u64), &BTreeMap<String, u64>),
    opts: &DiffOptions,
    out: &mut Vec<String>,
) {
    let ((og, oa), (ng, na)) = (old, new);
    if og.0 != ng.0 && !ignored(opts, "gaps") {
        out.push(format!("gaps changed from {} to {}", og.0, ng.0));
    }
    if og.1 != ng.1 && !ignored(opts, "missed_bytes") {
        out.push(format!("missed bytes changed from {} to {}", og.1, ng.1));
    }
    let mut names: Vec<&String> = oa.keys().chain(na.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let (x, y) = (
            oa.get(n).copied().unwrap_or(0),
            na.get(n).copied().unwrap_or(0),
        );
        if x != y && !ignored(opts, &format!("anomalies.{n}")) {
            out.push(format!("{n} anomalies changed from {x} to {y}"));
        }
    }
}

/// Compares two built conversations (see [`ConversationBuilder`]).
pub fn diff_built(old: &Conversation, new: &Conversation, opts: &DiffOptions) -> DiffReport {
    let (a, b) = (&old.sessions, &new.sessions);
    let mut rep = DiffReport {
        old_sessions: a.len(),
        new_sessions: b.len(),
        findings: Vec::new(),
        pairs: Vec::new(),
    };
    let pairs = pair_sessions(a, b);
    let mut conv = Vec::new();
    if a.len() != b.len() {
        conv.push(format!("{} RTMP session(s), was {}", b.len(), a.len()));
    }
    describe_losses(
        (&(0, 0), &old.capture_anomalies),
        (&(0, 0), &new.capture_anomalies),
        opts,
        &mut conv,
    );
    let paired_new: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    let paired_old: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    for (i, gone) in a.iter().enumerate() {
        if !paired_old.contains(&i) {
            conv.push(format!(
                "removed: {}: {}",
                label(gone),
                describe_session(gone)
            ));
        }
    }
    for (j, extra) in b.iter().enumerate() {
        if !paired_new.contains(&j) {
            conv.push(format!(
                "added: new {}: {}",
                label(extra),
                describe_session(extra)
            ));
        }
    }
    for t in conv {
        rep.findings.push(Finding {
            session: 0,
            header: String::new(),
            text: t,
        });
    }
    for &(i, j) in &pairs {
        let (x, y) = (&a[i], &b[j]);
        let header = if x.id == y.id && x.flow == y.flow {
            label(x)
        } else {
            format!("{} -> new {}", label(x), label(y))
        };
        rep.pairs.push(header.clone());
        let mut out = Vec::new();
        for part in ["c1", "s1"] {
            let (hx, hy) = (x.handshake.get(part), y.handshake.get(part));
            if hx != hy {
                let who = if part == "c1" { "client" } else { "server" };
                out.push(format!(
                    "{who} handshake changed from {} to {}",
                    hx.map_or("none", |s| s.as_str()),
                    hy.map_or("none", |s| s.as_str())
                ));
            }
        }
        describe_changes(x, y, &mut out);
        describe_media(x, y, opts, &mut out);
        describe_losses(
            (&x.gaps, &x.anomalies),
            (&y.gaps, &y.anomalies),
            opts,
            &mut out,
        );
        if x.truncated || y.truncated {
            out.push(format!(
                "only the first {MAX_SEQUENCE} messages of the session were compared"
            ));
        }
        for t in out {
            rep.findings.push(Finding {
                session: x.id,
                header: header.clone(),
                text: t,
            });
        }
    }
    if opts.redact {
        for f in &mut rep.findings {
            f.text = new.red.redact_str(&old.red.redact_str(&f.text));
            f.header = new.red.redact_str(&old.red.redact_str(&f.header));
        }
    }
    rep
}
