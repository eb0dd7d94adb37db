//! HTTP/1.0 and HTTP/1.1 message framing on one reassembled TCP connection.
//!
//! Contract: sans-IO. [`HttpConn::data`] takes the in-order bytes of one
//! direction (requests go `to_server`, responses `to_client`) with the packet
//! that delivered them; [`HttpConn::gap`] says bytes will never arrive;
//! [`HttpConn::finish`] ends the connection. Complete messages come out as
//! [`HttpEvent`]s. No I/O, no clock: times are packet times.
//!
//! What it does: request and status lines, headers, bodies framed by
//! `Content-Length`, by `Transfer-Encoding: chunked`, or (responses only) by
//! the end of the connection; keep-alive (many messages per connection) and
//! pipelining (several requests before the first response). Responses are
//! paired with requests in order (a FIFO of unanswered requests; interim 1xx
//! responses do not consume a request; `HEAD` requests and 1xx/204/304
//! responses have no body).
//!
//! Tolerance: nothing here panics on any input. A malformed start line,
//! header block or chunk line is an anomaly (`http.*`) and the direction
//! loses sync; it regains it at the next thing that looks like a message
//! start (`<METHOD> /` for requests, `HTTP/1.` for responses), counting the
//! skipped bytes. A gap inside a body of known length keeps sync (the body is
//! delivered with `body_lost` set); a gap anywhere else loses it. After a
//! response-side resync, the resynchronised response is paired with the
//! newest unanswered request and the older ones are reported as
//! [`HttpEvent::Unanswered`] (their responses were lost): right for clients
//! that wait for each answer (RTMPT clients do), a guess with deep pipelining.
//!
//! Memory is bounded by named limits: a start line plus headers
//! ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`]), body bytes kept per message
//! ([`MAX_BODY_BYTES`]; the excess is counted in `body_lost`, not kept),
//! unanswered requests ([`MAX_PENDING_REQUESTS`]) and chunk-size lines
//! ([`MAX_LINE_BYTES`]). Nothing is allocated from a length field before the
//! bytes exist.

use std::collections::VecDeque;

use crate::vocab::{anomalies, AnomalyKind};
use crate::vocab::{Anomaly, ByteRange, Direction, PacketRef};

/// Longest request/status line plus header block kept while parsing.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields kept per message (more are counted, not kept).
pub const MAX_HEADERS: usize = 64;
/// Most body bytes kept per message; the rest is counted in `body_lost`.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Most requests waiting for their response on one connection.
pub const MAX_PENDING_REQUESTS: usize = 1024;
/// Most separate holes recorded per message body.
pub const MAX_HOLES: usize = 64;
/// Longest chunk-size or trailer line.
pub const MAX_LINE_BYTES: usize = 1024;

/// Request methods recognised at a message start (and for resync).
pub const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// Whether `data` (the first bytes a flow carries in direction `dir`) starts
/// like HTTP: a request line `<METHOD> ` to the server, or a status line
/// `HTTP/1.` to the client. A shorter prefix of those counts once it has at
/// least 4 bytes.
pub fn looks_like_http(dir: Direction, data: &[u8]) -> bool {
    let starts = |pat: &[u8]| {
        let n = data.len().min(pat.len());
        n >= 4.min(pat.len()) && data[..n] == pat[..n]
    };
    match dir {
        Direction::ToServer => METHODS.iter().any(|m| {
            let mut p = m.as_bytes().to_vec();
            p.push(b' ');
            starts(&p)
        }),
        Direction::ToClient => starts(b"HTTP/1."),
    }
}

/// Start line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, target: String },
    Response { status: u16, reason: String },
}

/// A request as remembered for pairing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRef {
    /// 0-based index of the request on its connection.
    pub index: u64,
    pub method: String,
    pub target: String,
    /// The packet that completed the request.
    pub done: PacketRef,
}

/// One complete (or cut short) HTTP message.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpMessage {
    pub dir: Direction,
    pub start: StartLine,
    /// `(major, minor)`, e.g. (1, 1).
    pub version: (u8, u8),
    /// Header fields in wire order (names as sent), at most [`MAX_HEADERS`].
    pub headers: Vec<(String, String)>,
    /// Stream offsets of the whole message on its direction.
    pub range: ByteRange,
    /// Bytes of the start line and headers (with the blank line).
    pub head_len: u64,
    /// Bytes of chunked framing (size lines, CRLFs, trailers).
    pub framing_len: u64,
    /// The body (decoded from chunks), at most [`MAX_BODY_BYTES`] bytes.
    pub body: Vec<u8>,
    /// Body bytes missing: lost to gaps, beyond the limit, or cut by the end.
    pub body_lost: u64,
    /// Where the lost bytes were: `(position in body, length)`, in order, at
    /// most [`MAX_HOLES`] (further losses extend the last entry).
    pub holes: Vec<(usize, u64)>,
    /// The framing said more body bytes were due than the connection held.
    pub truncated: bool,
    /// The packet that delivered the first byte of the message.
    pub first: PacketRef,
    /// The packet that completed it.
    pub done: PacketRef,
    /// For a response: the request it answers (None: no request was
    /// waiting). For a request: its own reference.
    pub request: Option<RequestRef>,
}

impl HttpMessage {
    /// The first header value named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            _ => None,
        }
    }
    /// Bytes this message took on the wire (head, framing, body).
    pub fn wire_len(&self) -> u64 {
        self.range.len()
    }
}

/// What the HTTP layer reports.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpEvent {
    /// A request's head was parsed (its body may follow). Lets a consumer
    /// know a request is under way before it completes.
    RequestHead(RequestRef),
    /// A complete message (request or response).
    Message(Box<HttpMessage>),
    /// A request whose response was lost (see the module documentation).
    Unanswered(RequestRef),
    /// A diagnostic about the given direction.
    Anomaly(Direction, Anomaly),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Body of a known remaining length.
    Length(u64),
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// Inside a chunk: remaining data bytes.
    ChunkData(u64),
    /// After chunk data: the CRLF still due (bytes of it consumed).
    ChunkEnd(u8),
    /// Trailer lines after the last chunk.
    Trailers,
    /// Until the connection closes.
    UntilClose,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Waiting for / reading a start line and headers.
    Head,
    /// Reading a body.
    Body(Framing),
    /// Lost sync: scanning for a message start.
    Lost,
}

#[derive(Debug)]
struct Side {
    dir: Direction,
    state: State,
    /// Unconsumed bytes of a head or a framing line (bounded).
    buf: Vec<u8>,
    /// Stream offset of `buf[0]` (or of the next byte when `buf` is empty).
    buf_off: u64,
    /// Offset of the next byte expected.
    next_off: u64,
    /// The message under construction.
    msg: Option<Box<HttpMessage>>,
    /// The packet that delivered the first byte of the head in `buf`.
    first: PacketRef,
    /// After a resync on the response side: pair with the newest request.
    resynced: bool,
    /// Bytes skipped while out of sync.
    skipped: u64,
    messages: u64,
}

impl Side {
    fn new(dir: Direction) -> Self {
        Side {
            dir,
            state: State::Head,
            buf: Vec::new(),
            buf_off: 0,
            next_off: 0,
            msg: None,
            first: PacketRef::default(),
            resynced: false,
            skipped: 0,
            messages: 0,
        }
    }
}

/// HTTP framing of one TCP connection (both directions).
#[derive(Debug)]
pub struct HttpConn {
    sides: [Side; 2],
    pending: VecDeque<RequestRef>,
    requests: u64,
    /// Any message start was parsed (the connection really is HTTP).
    seen_http: bool,
}

impl Default for HttpConn {
    fn default() -> Self {
        HttpConn::new()
    }
}

fn anomaly(
    dir: Direction,
    kind: AnomalyKind,
    range: Option<ByteRange>,
    detail: impl Into<String>,
) -> HttpEvent {
    HttpEvent::Anomaly(dir, Anomaly::new(kind, range, detail))
}

/// Finds the end of a header block (`\r\n\r\n` or `\n\n`): index after it.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Where a message start appears in `data` (for resync), if anywhere: a
/// request line `<METHOD> /... HTTP/1.x` (the version checked when the line
/// end is in `data`) or a status line `HTTP/1.x NNN`. Not only at line starts:
/// after a body of the wrong length the next message follows the extra
/// bytes directly.
fn find_start(dir: Direction, data: &[u8]) -> Option<usize> {
    (0..data.len()).find(|&i| {
        let rest = &data[i..];
        match dir {
            Direction::ToServer => METHODS.iter().any(|m| {
                let m = m.as_bytes();
                rest.starts_with(m)
                    && rest.get(m.len()) == Some(&b' ')
                    && matches!(rest.get(m.len() + 1), Some(b'/') | Some(b'*') | Some(b'h'))
                    && match rest.iter().position(|&b| b == b'\n') {
                        Some(e) => {
                            let line = rest[..e].strip_suffix(b"\r").unwrap_or(&rest[..e]);
                            line.len() >= 9 && line[line.len() - 9..].starts_with(b" HTTP/1.")
                        }
                        None => rest.len() < MAX_HEAD_BYTES,
                    }
            }),
            Direction::ToClient => {
                rest.starts_with(b"HTTP/1.")
                    && rest.get(7).is_none_or(u8::is_ascii_digit)
                    && rest.get(8).is_none_or(|&b| b == b' ')
                    && rest
                        .get(9..12)
                        .is_none_or(|d| d.iter().all(u8::is_ascii_digit))
            }
        }
    })
}

/// Records `len` body bytes missing at the current end of `msg.body`.
fn add_hole(msg: &mut HttpMessage, len: u64) {
    if len == 0 {
        return;
    }
    msg.body_lost += len;
    let pos = msg.body.len();
    let full = msg.holes.len() >= MAX_HOLES;
    match msg.holes.last_mut() {
        Some(h) if h.0 == pos || full => h.1 += len,
        _ => msg.holes.push((pos, len)),
    }
}

fn parse_version(s: &str) -> Option<(u8, u8)> {
    let v = s.strip_prefix("HTTP/")?;
    let (a, b) = v.split_once('.')?;
    if a.len() != 1 || b.len() != 1 {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl HttpConn {
    pub fn new() -> Self {
        HttpConn {
            sides: [
                Side::new(Direction::ToServer),
                Side::new(Direction::ToClient),
            ],
            pending: VecDeque::new(),
            requests: 0,
            seen_http: false,
        }
    }

    /// Whether any HTTP message start has been parsed on this connection.
    pub fn seen_http(&self) -> bool {
        self.seen_http
    }

    /// Requests still waiting for a response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// In-order bytes of one direction; `offset` is the stream offset of
    /// `data[0]`. Overlaps with bytes already seen are trimmed; a jump
    /// forward is handled as a gap.
    pub fn data(
        &mut self,
        dir: Direction,
        offset: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) {
        let d = dir.index();
        let mut offset = offset;
        let mut data = data;
        let next = self.sides[d].next_off;
        if offset < next {
            let skip = (next - offset).min(data.len() as u64) as usize;
            data = &data[skip..];
            offset += skip as u64;
        } else if offset > next {
            self.gap(dir, next, offset - next, pkt, out);
        }
        if data.is_empty() {
            return;
        }
        self.sides[d].next_off = offset + data.len() as u64;
        let mut pos = 0usize;
        // A step consumes bytes of `data`, or (returning 0) finishes a head
        // that was already buffered, which empties the buffer: two zero
        // steps in a row cannot make progress, so the loop is bounded.
        let mut zeros = 0;
        while pos < data.len() && zeros < 2 {
            let used = self.step(d, offset + pos as u64, &data[pos..], pkt, out);
            zeros = if used == 0 { zeros + 1 } else { 0 };
            pos += used;
        }
    }

    /// Consumes a prefix of `data` (at stream offset `off`); returns its length.
    fn step(
        &mut self,
        d: usize,
        off: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let dir = self.sides[d].dir;
        match self.sides[d].state {
            State::Lost => {
                // Scan the carried tail + data for a message start.
                let side = &mut self.sides[d];
                let carried = side.buf.len();
                let scan_off = if carried == 0 { off } else { side.buf_off };
                let mut scan = std::mem::take(&mut side.buf);
                scan.extend_from_slice(data);
                let Some(i) = find_start(dir, &scan) else {
                    // Keep a short tail: a start may straddle segments.
                    let tail = scan.len().min(8);
                    side.skipped += (scan.len() - tail) as u64;
                    side.buf_off = scan_off + (scan.len() - tail) as u64;
                    side.buf = scan[scan.len() - tail..].to_vec();
                    return data.len();
                };
                side.skipped += i as u64;
                out.push(anomaly(
                    dir,
                    anomalies::HTTP_RESYNC,
                    Some(ByteRange::new(scan_off, scan_off + i as u64)),
                    format!("HTTP framing regained after {} skipped bytes", side.skipped),
                ));
                side.skipped = 0;
                side.state = State::Head;
                if dir == Direction::ToClient {
                    side.resynced = true;
                }
                if i < carried {
                    // The start lies in the carried tail: it becomes the
                    // beginning of the head, `data` continues it.
                    side.buf = scan[i..carried].to_vec();
                    side.buf_off = scan_off + i as u64;
                    side.first = pkt;
                    return self.step_head(d, off, data, pkt, out);
                }
                let skip = i - carried;
                if skip > 0 {
                    return skip;
                }
                self.step_head(d, off, data, pkt, out)
            }
            State::Head => self.step_head(d, off, data, pkt, out),
            State::Body(f) => self.step_body(d, f, off, data, pkt, out),
        }
    }

    fn step_head(
        &mut self,
        d: usize,
        off: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let dir = self.sides[d].dir;
        let side = &mut self.sides[d];
        // Skip blank lines between messages (RFC 9112 2.2).
        if side.buf.is_empty() {
            let n = data
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if n > 0 {
                return n;
            }
            side.buf_off = off;
            side.first = pkt;
        }
        let before = side.buf.len();
        let room = MAX_HEAD_BYTES.saturating_sub(before);
        let take = data.len().min(room);
        side.buf.extend_from_slice(&data[..take]);
        // Search from a little before the old end (the terminator may straddle).
        let from = before.saturating_sub(3);
        let end = head_end(&side.buf[from..]).map(|e| e + from);
        let Some(end) = end else {
            if side.buf.len() >= MAX_HEAD_BYTES {
                let r = ByteRange::new(side.buf_off, side.buf_off + side.buf.len() as u64);
                side.buf.clear();
                side.state = State::Lost;
                out.push(anomaly(
                    dir,
                    anomalies::HTTP_HEAD_TOO_LONG,
                    Some(r),
                    format!("no end of headers within {MAX_HEAD_BYTES} bytes"),
                ));
            } else if side.buf.len() >= 8 && !looks_like_http(dir, &side.buf) {
                // Not a message start: lose sync at once; the bytes after
                // the first are scanned for a start.
                let r = ByteRange::new(side.buf_off, side.buf_off + side.buf.len() as u64);
                let after_body = side.messages > 0;
                side.buf.remove(0);
                side.buf_off += 1;
                side.state = State::Lost;
                out.push(Self::bad_start(dir, after_body, r));
            }
            return take;
        };
        let head_start = side.buf_off;
        let head: Vec<u8> = side.buf.drain(..end).collect();
        let rest = side.buf.len();
        side.buf.clear();
        // Bytes of `data` that belong to the head.
        let used = take - rest;
        side.buf_off = head_start + end as u64;
        if !self.parse_head(d, head_start, &head, pkt, out) {
            // Keep the head's bytes after the first for the resync scan.
            let side = &mut self.sides[d];
            side.buf = head[1..].to_vec();
            side.buf_off = head_start + 1;
        }
        used
    }

    fn bad_start(dir: Direction, after_body: bool, r: ByteRange) -> HttpEvent {
        if after_body {
            anomaly(
                dir,
                anomalies::HTTP_CONTENT_LENGTH_MISMATCH,
                Some(r),
                "bytes after the previous message's body do not start a message: its body length (Content-Length or chunks) does not match the bytes sent",
            )
        } else {
            anomaly(
                dir,
                anomalies::HTTP_BAD_START_LINE,
                Some(r),
                "not an HTTP request or status line",
            )
        }
    }

    fn parse_head(
        &mut self,
        d: usize,
        start: u64,
        head: &[u8],
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) -> bool {
        let dir = self.sides[d].dir;
        let range = ByteRange::new(start, start + head.len() as u64);
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or("");
        let mut parts = first.splitn(3, ' ');
        let (a, b, c) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let parsed = match dir {
            Direction::ToServer => {
                let ok = METHODS.contains(&a) && !b.is_empty();
                parse_version(c).filter(|_| ok).map(|v| {
                    (
                        StartLine::Request {
                            method: a.to_owned(),
                            target: b.to_owned(),
                        },
                        v,
                    )
                })
            }
            Direction::ToClient => {
                let status = b.parse::<u16>().ok().filter(|s| (100..1000).contains(s));
                match (parse_version(a), status) {
                    (Some(v), Some(s)) => Some((
                        StartLine::Response {
                            status: s,
                            reason: c.to_owned(),
                        },
                        v,
                    )),
                    _ => None,
                }
            }
        };
        let Some((start_line, version)) = parsed else {
            let after_body = self.sides[d].messages > 0;
            self.sides[d].state = State::Lost;
            out.push(Self::bad_start(dir, after_body, range));
            return false;
        };
        self.seen_http = true;
        let mut headers = Vec::new();
        let mut dropped = 0u64;
        for l in lines {
            if l.is_empty() {
                continue;
            }
            match l.split_once(':') {
                Some((k, v)) if !k.is_empty() && !k.contains(' ') => {
                    if headers.len() < MAX_HEADERS {
                        headers.push((k.to_owned(), v.trim().to_owned()));
                    } else {
                        dropped += 1;
                    }
                }
                _ => out.push(anomaly(
                    dir,
                    anomalies::HTTP_BAD_HEADER,
                    Some(range),
                    "header line without a field name and colon",
                )),
            }
        }
        if dropped > 0 {
            out.push(anomaly(
                dir,
                anomalies::HTTP_TOO_MANY_HEADERS,
                Some(range),
                format!("{dropped} header fields beyond {MAX_HEADERS} not kept"),
            ));
        }
        let mut msg = Box::new(HttpMessage {
            dir,
            start: start_line,
            version,
            headers,
            range,
            head_len: head.len() as u64,
            framing_len: 0,
            body: Vec::new(),
            body_lost: 0,
            holes: Vec::new(),
            truncated: false,
            first: self.sides[d].first,
            done: pkt,
            request: None,
        });
        // Pairing and body framing.
        let mut no_body = false;
        match &msg.start {
            StartLine::Request { method, target } => {
                let r = RequestRef {
                    index: self.requests,
                    method: method.clone(),
                    target: target.clone(),
                    done: pkt,
                };
                self.requests += 1;
                msg.request = Some(r.clone());
                out.push(HttpEvent::RequestHead(r));
            }
            StartLine::Response { status, .. } => {
                let status = *status;
                let interim = (100..200).contains(&status) && status != 101;
                let req = if interim {
                    self.pending.front().cloned()
                } else if std::mem::take(&mut self.sides[d].resynced) && self.pending.len() > 1 {
                    let newest = self.pending.pop_back();
                    for old in self.pending.drain(..) {
                        out.push(HttpEvent::Unanswered(old));
                    }
                    newest
                } else {
                    self.pending.pop_front()
                };
                if req.is_none() && !interim {
                    out.push(anomaly(
                        dir,
                        anomalies::HTTP_RESPONSE_WITHOUT_REQUEST,
                        Some(range),
                        format!("status {status} answers no outstanding request"),
                    ));
                }
                no_body = interim
                    || status == 204
                    || status == 304
                    || req.as_ref().is_some_and(|r| r.method == "HEAD");
                msg.request = req;
            }
        }
        let te_chunked = msg
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let cl = msg.header("content-length").map(|v| v.trim().to_owned());
        let framing = if no_body {
            Framing::Length(0)
        } else if te_chunked {
            Framing::ChunkSize
        } else if let Some(v) = cl {
            let all: Vec<&str> = v.split(',').map(str::trim).collect();
            let n = all
                .first()
                .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) && f.len() <= 15)
                .and_then(|f| f.parse::<u64>().ok())
                .filter(|n| all.iter().all(|x| x.parse::<u64>().ok() == Some(*n)));
            match n {
                Some(n) => Framing::Length(n),
                None => {
                    out.push(anomaly(
                        dir,
                        anomalies::HTTP_BAD_CONTENT_LENGTH,
                        Some(range),
                        format!("Content-Length {v:?} is not a length"),
                    ));
                    // The body length is unknown: framing is lost.
                    self.sides[d].state = State::Lost;
                    self.emit(d, msg, out, true);
                    return true;
                }
            }
        } else if dir == Direction::ToServer {
            Framing::Length(0)
        } else {
            Framing::UntilClose
        };
        self.sides[d].msg = Some(msg);
        if framing == Framing::Length(0) {
            self.sides[d].state = State::Head;
            if let Some(m) = self.sides[d].msg.take() {
                self.emit(d, m, out, false);
            }
        } else {
            self.sides[d].state = State::Body(framing);
        }
        true
    }

    /// Finishes the current message of side `d`.
    fn emit(&mut self, d: usize, mut msg: Box<HttpMessage>, out: &mut Vec<HttpEvent>, cut: bool) {
        let side = &mut self.sides[d];
        side.messages += 1;
        msg.truncated |= cut;
        if let StartLine::Request { .. } = msg.start {
            if let Some(r) = msg.request.as_mut() {
                r.done = msg.done;
                if self.pending.len() >= MAX_PENDING_REQUESTS {
                    if let Some(old) = self.pending.pop_front() {
                        out.push(anomaly(
                            msg.dir,
                            anomalies::HTTP_TOO_MANY_PENDING,
                            None,
                            format!(
                                "more than {MAX_PENDING_REQUESTS} requests without a response; request {} dropped from pairing",
                                old.index
                            ),
                        ));
                        out.push(HttpEvent::Unanswered(old));
                    }
                }
                self.pending.push_back(r.clone());
            }
        }
        out.push(HttpEvent::Message(msg));
    }

    fn add_body(msg: &mut HttpMessage, bytes: &[u8]) {
        let room = MAX_BODY_BYTES.saturating_sub(msg.body.len());
        let k = bytes.len().min(room);
        msg.body.extend_from_slice(&bytes[..k]);
        add_hole(msg, (bytes.len() - k) as u64);
    }

    fn step_body(
        &mut self,
        d: usize,
        f: Framing,
        off: u64,
        data: &[u8],
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let dir = self.sides[d].dir;
        let side = &mut self.sides[d];
        let Some(msg) = side.msg.as_mut() else {
            side.state = State::Head;
            return 0;
        };
        msg.done = pkt;
        match f {
            Framing::Length(rem) | Framing::ChunkData(rem) => {
                let k = (rem.min(data.len() as u64)) as usize;
                Self::add_body(msg, &data[..k]);
                msg.range.end = off + k as u64;
                let left = rem - k as u64;
                side.state = State::Body(match (f, left) {
                    (Framing::Length(_), _) => Framing::Length(left),
                    (_, 0) => Framing::ChunkEnd(0),
                    _ => Framing::ChunkData(left),
                });
                if side.state == State::Body(Framing::Length(0)) {
                    side.state = State::Head;
                    if let Some(m) = side.msg.take() {
                        self.emit(d, m, out, false);
                    }
                }
                k
            }
            Framing::UntilClose => {
                Self::add_body(msg, data);
                msg.range.end = off + data.len() as u64;
                data.len()
            }
            Framing::ChunkEnd(got) => {
                // Expect "\r\n" (tolerate a bare "\n").
                let b = data[0];
                msg.framing_len += 1;
                msg.range.end = off + 1;
                match (got, b) {
                    (0, b'\r') => side.state = State::Body(Framing::ChunkEnd(1)),
                    (_, b'\n') => side.state = State::Body(Framing::ChunkSize),
                    _ => {
                        let r = ByteRange::new(off, off + 1);
                        side.state = State::Lost;
                        out.push(anomaly(
                            dir,
                            anomalies::HTTP_BAD_CHUNK,
                            Some(r),
                            "chunk data not followed by CRLF",
                        ));
                        if let Some(m) = self.sides[d].msg.take() {
                            self.emit(d, m, out, true);
                        }
                    }
                }
                1
            }
            Framing::ChunkSize | Framing::Trailers => {
                // Line-oriented: collect up to '\n'.
                if side.buf.is_empty() {
                    side.buf_off = off;
                }
                let nl = data.iter().position(|&b| b == b'\n');
                let k = nl.map(|i| i + 1).unwrap_or(data.len());
                let room = MAX_LINE_BYTES.saturating_sub(side.buf.len());
                side.buf.extend_from_slice(&data[..k.min(room)]);
                msg.framing_len += k as u64;
                msg.range.end = off + k as u64;
                if nl.is_none() {
                    if side.buf.len() >= MAX_LINE_BYTES {
                        let r = ByteRange::new(side.buf_off, off + k as u64);
                        side.buf.clear();
                        side.state = State::Lost;
                        out.push(anomaly(
                            dir,
                            anomalies::HTTP_BAD_CHUNK,
                            Some(r),
                            format!("chunk line longer than {MAX_LINE_BYTES} bytes"),
                        ));
                        if let Some(m) = self.sides[d].msg.take() {
                            self.emit(d, m, out, true);
                        }
                    }
                    return k;
                }
                let line = std::mem::take(&mut side.buf);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                if f == Framing::Trailers {
                    if text.is_empty() {
                        side.state = State::Head;
                        if let Some(m) = side.msg.take() {
                            self.emit(d, m, out, false);
                        }
                    }
                    return k;
                }
                let hex = text.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(hex, 16) {
                    Ok(0) => side.state = State::Body(Framing::Trailers),
                    Ok(n) if !hex.is_empty() && hex.len() <= 15 => {
                        side.state = State::Body(Framing::ChunkData(n))
                    }
                    _ => {
                        let r = ByteRange::new(side.buf_off, off + k as u64);
                        side.state = State::Lost;
                        out.push(anomaly(
                            dir,
                            anomalies::HTTP_BAD_CHUNK,
                            Some(r),
                            format!("bad chunk size line {text:?}"),
                        ));
                        if let Some(m) = self.sides[d].msg.take() {
                            self.emit(d, m, out, true);
                        }
                    }
                }
                k
            }
        }
    }

    /// `len` bytes at `offset` of one direction will never arrive.
    pub fn gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        pkt: PacketRef,
        out: &mut Vec<HttpEvent>,
    ) {
        if len == 0 {
            return;
        }
        let d = dir.index();
        let side = &mut self.sides[d];
        side.next_off = side.next_off.max(offset.saturating_add(len));
        let within = match side.state {
            State::Body(Framing::Length(rem)) | State::Body(Framing::ChunkData(rem)) => len <= rem,
            State::Body(Framing::UntilClose) => true,
            _ => false,
        };
        if within {
            if let Some(m) = side.msg.as_mut() {
                add_hole(m, len);
                m.range.end = offset + len;
                m.done = pkt;
            }
            side.state = match side.state {
                State::Body(Framing::Length(rem)) => State::Body(Framing::Length(rem - len)),
                State::Body(Framing::ChunkData(rem)) if rem == len => {
                    State::Body(Framing::ChunkEnd(0))
                }
                State::Body(Framing::ChunkData(rem)) => State::Body(Framing::ChunkData(rem - len)),
                State::Body(Framing::UntilClose) => State::Body(Framing::UntilClose),
                State::Head => State::Head,
                State::Lost => State::Lost,
                State::Body(f) => State::Body(f),
            };
            if side.state == State::Body(Framing::Length(0)) {
                side.state = State::Head;
                side.buf_off = offset + len;
                if let Some(m) = side.msg.take() {
                    self.emit(d, m, out, false);
                }
            }
            return;
        }
        // Sync is lost: the message under way (if any) ends cut short.
        let rem = match side.state {
            State::Body(Framing::Length(rem)) | State::Body(Framing::ChunkData(rem)) => rem,
            _ => 0,
        };
        side.buf.clear();
        side.state = State::Lost;
        side.skipped += len;
        if let Some(mut m) = side.msg.take() {
            add_hole(&mut m, rem);
            m.done = pkt;
            self.emit(d, m, out, true);
        }
    }

    /// End of the connection: messages read until close complete, anything
    /// else under way is cut short.
    pub fn finish(&mut self, pkt: PacketRef, out: &mut Vec<HttpEvent>) {
        for d in 0..2 {
            let dir = self.sides[d].dir;
            let state = std::mem::replace(&mut self.sides[d].state, State::Head);
            let buf_len = self.sides[d].buf.len();
            let buf_off = self.sides[d].buf_off;
            self.sides[d].buf.clear();
            if let Some(mut m) = self.sides[d].msg.take() {
                m.done = pkt;
                let cut = !matches!(state, State::Body(Framing::UntilClose));
                if let State::Body(Framing::Length(rem)) | State::Body(Framing::ChunkData(rem)) =
                    state
                {
                    add_hole(&mut m, rem);
                    out.push(anomaly(
                        dir,
                        anomalies::HTTP_TRUNCATED,
                        Some(m.range),
                        format!("connection ended {rem} body bytes before the message's end"),
                    ));
                }
                self.emit(d, m, out, cut);
            } else if state == State::Head && buf_len > 0 {
                out.push(anomaly(
                    dir,
                    anomalies::HTTP_TRUNCATED,
                    Some(ByteRange::new(buf_off, buf_off + buf_len as u64)),
                    "connection ended inside a message head",
                ));
            }
        }
        for r in self.pending.drain(..) {
            out.push(HttpEvent::Unanswered(r));
        }
    }
}

#[cfg(test)]
mod tests;
