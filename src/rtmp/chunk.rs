//! RTMP chunk stream decoder for one direction: basic header (1-3 bytes),
//! message header fmt 0-3 with per-csid inheritance, extended timestamps
//! (absolute on fmt 0, a delta on fmt 1/2, repeated or omitted on fmt 3),
//! chunk size changes and aborts, and message reassembly across interleaved
//! chunk streams.
//!
//! Contract: [`ChunkDecoder::feed`] takes in-order bytes with their stream
//! offset and returns how many it consumed. Chunk payloads are consumed as
//! they arrive (only an incomplete chunk header is ever left unconsumed, at
//! most [`MAX_HEADER_LEN`] + 4 bytes), message bodies grow as bytes arrive
//! (never sized from the header's length), and the bytes held in partial
//! messages are capped. When the byte stream stops making sense
//! (`rtmp.chunk.unknown_csid`, chunk stream limit) the decoder reports
//! [`ChunkOut::Desync`] and consumes nothing more; the caller resynchronises.
//! It never panics.

use crate::rtmp::cadence::{Cadence, Pace};
use crate::rtmp::media;
use crate::rtmp::message::{
    type_id, Body, ChunkRef, ChunkRefs, Control, Message, TimestampEstimate, Truncation,
    TruncationCause,
};
use crate::rtmp::plausible::{
    held_body_matches, plausible_length, plausible_type, MAX_PLAUSIBLE_MSID,
};
use crate::time::PacketTime;
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, ByteRange, Severity};

/// Chunk size before any Set Chunk Size.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest valid chunk size (Set Chunk Size has 31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Longest chunk header: 3-byte basic header + 11 + 4 (extended timestamp).
pub const MAX_HEADER_LEN: usize = 18;
/// Bytes a chunk reference of a partial message counts against the
/// partial-bytes cap (its in-memory size), so tiny chunks cannot grow the
/// chunk list without bound.
pub const CHUNK_REF_COST: usize = std::mem::size_of::<ChunkRef>();
/// Most messages a gap is estimated to have swallowed on one chunk stream
/// (the constant-delta rule; about 10 minutes of 25 fps video).
pub const MAX_ESTIMATED_LOST_MESSAGES: u64 = 15_000;
/// Exact adjacent audio/video pairs in timestamp order seen before the mux
/// order rule corrects estimates.
pub const MUX_ORDER_EVIDENCE: u32 = 16;
/// Largest step back (ms) between adjacent audio/video messages that the
/// mux order rule reads as an estimate being off (more: a seek, a restart).
pub const MAX_MUX_SKEW_MS: i32 = 1000;
/// Most lost messages per chunk stream the cadence rule weighs for one gap.
pub const MAX_CADENCE_SEARCH: u64 = 256;
/// Message streams whose last exact timestamp is kept per direction.
pub const MAX_FLOORS: usize = 64;
/// Messages held per direction at most: messages of a chunk stream whose
/// first header seen was fmt 2/3 (a mid-stream pickup, or a loss), kept
/// until a fmt 0/1 header on it tells their type ([`ChunkDecoder::adopt`]).
/// Past it the oldest is dropped (`rtmp.chunk.held_dropped`).
pub const MAX_HELD_MESSAGES: usize = 256;
/// Body bytes (and chunk references) held per direction at most, counted in
/// [`ChunkDecoder::partial_bytes`] and so against the dissector memory cap.
pub const MAX_HELD_BYTES: usize = 256 * 1024;
/// Body bytes reserved up front for a new message at most (the rest grows
/// as bytes arrive).
const INITIAL_RESERVE: usize = 4096;

/// Whether a peer repeats the extended timestamp on fmt 3 chunks (W3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt3Ets {
    Unknown,
    Repeated,
    Omitted,
}

/// The body bytes of a message as the chunk layer kept them: inline up to
/// [`BODY_INLINE`] bytes (header-only media bodies and small control
/// messages allocate nothing).
pub type BodyBytes = smallvec::SmallVec<[u8; BODY_INLINE]>;

/// Body bytes held without an allocation.
pub const BODY_INLINE: usize = 16;

/// What the decoder produced.
#[derive(Debug)]
pub enum ChunkOut {
    /// A message (complete, or truncated with `truncated` set) and the body
    /// bytes received. `body` is `Raw` (the caller decodes it), except for a
    /// complete Set Chunk Size or Abort, which this layer decoded to act on.
    Message(Box<Message>, BodyBytes),
    Anomaly(Anomaly),
    /// Lost sync at this stream offset; `feed` consumed up to it.
    Desync(u64),
}

#[derive(Debug)]
struct Partial {
    fmt: u8,
    timestamp: u32,
    estimate: Option<TimestampEstimate>,
    delta: u32,
    ext: bool,
    length: u32,
    type_id: u8,
    msid: u32,
    msid_known: bool,
    first_byte: u64,
    chunks: ChunkRefs,
    body: BodyBytes,
    /// Which of the body's bytes are stored.
    keep: Keep,
    /// Payload bytes seen (stored or not).
    received: u32,
    /// The partial-bytes cap was hit: bytes are no longer stored and the
    /// message was already reported.
    dropping: bool,
}

/// Which bytes of a message body the chunk layer stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    All,
    /// Audio/video: undecided until [`media::PREFIX_DECIDE_BYTES`] are in.
    Undecided,
    /// Only the first bytes: the header the media decoders read
    /// ([`media::header_prefix`]); the rest is payload they only span.
    Prefix(usize),
}

impl Partial {
    /// Bytes held against the partial-bytes cap.
    fn held(&self) -> usize {
        self.body.len() + self.chunks.len() * CHUNK_REF_COST
    }
}

/// Header state of one chunk stream.
#[derive(Debug)]
pub struct ChunkStream {
    pub csid: u32,
    pub timestamp: u32,
    /// Timestamp field of the last fmt 0/1/2 header (what fmt 3 inherits;
    /// for fmt 0 that is the absolute timestamp).
    pub ts_field: u32,
    pub length: u32,
    pub type_id: u8,
    pub msid: u32,
    /// A fmt 0 header set `msid` (after a mid-stream pickup a chunk stream
    /// may carry fmt 1-3 headers only: its message stream id is unknown).
    pub msid_known: bool,
    /// Raw extended timestamp of the last fmt 0/1/2 header, when it had one.
    pub ets: Option<u32>,
    /// A message header (fmt 0/1) set this stream's fields.
    pub seen: bool,
    partial: Option<Partial>,
    /// Packet time and delta of the last message begun on this stream.
    last_time: Option<PacketTime>,
    last_delta: Option<u32>,
    /// Bytes were lost since the last message begun on this stream: the
    /// next one may follow messages the gap swallowed.
    gap: bool,
    /// `timestamp` rests on an estimate: (how far above the lowest possible
    /// true value it is, how far below the highest when known). `None`:
    /// exact (a fmt 0 header anchored it and nothing was lost since).
    est: Option<(u32, Option<u32>)>,
    /// Shortest message and largest delta seen on this stream.
    min_len: u32,
    max_len: u32,
    max_delta: u32,
    /// Sum and count of message lengths seen (the typical size).
    len_sum: u64,
    len_n: u64,
    /// Video only: sum and count of the lengths of complete frames that
    /// are not keyframes, and the length of the last keyframe (sequence
    /// headers left out): a gap's bytes are weighed with these, as one
    /// early keyframe would make the plain average several times too big.
    inter_sum: u64,
    inter_n: u64,
    key_len: u32,
    /// (timestamp, type id) of the first audio/video message after the
    /// latest gap, when this stream had none since before that gap: its
    /// media muxed before that message were lost, even when a later gap
    /// comes before its own next message.
    mux_floor: Option<(u32, u8)>,
    /// Bytes lost or skipped by every gap since this stream's last message
    /// (`None`: unknown): a stream silent across two gaps may have lost
    /// messages in either.
    lost_room: Option<u64>,
    /// The current estimate came from fitting a gap's bytes (this stream
    /// was the first after the gap), not from another stream's timestamp.
    fitted: bool,
    /// Timestamp cadence of the stream (predicts lost messages' timestamps).
    cadence: Cadence,
    /// Delay of the packet clock behind the exact timestamps.
    pace: Pace,
    /// The stream was first seen with a fmt 2/3 header ([`ChunkDecoder::adopt`]):
    /// its type is unknown, its messages are held until a fmt 0/1 header.
    hold: bool,
}

/// The chunk decoder of one direction.
#[derive(Debug)]
pub struct ChunkDecoder {
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    /// csid -> index in `streams`, used beyond [`SCAN_STREAMS`] streams.
    index: crate::fasthash::FastMap<u32, usize>,
    fmt3_ets: Fmt3Ets,
    /// The flow ended ([`ChunkDecoder::set_at_end`]).
    at_end: bool,
    /// Accept fmt 1 on a never-seen csid (mid-stream pickup: its message
    /// stream id is unknown and taken as 0).
    lenient: bool,
    /// Bytes of this direction were lost ([`ChunkDecoder::note_gap`]): a
    /// chunk stream first seen after that may have had its fmt 0 header in
    /// the gap, so its message stream id is unknown, not 0.
    gapped: bool,
    /// Body bytes that messages cut by the last gap still owed (they fill
    /// that much of the bytes between the gap and the resync point).
    gap_owed: u64,
    /// Bytes between the last gap and the resync point not owed to cut
    /// messages: room for the headers and bodies of messages the gap
    /// swallowed (`None`: unknown).
    gap_room: Option<u64>,
    /// Timestamp of the last exactly known message per message stream id
    /// (media of one message stream is muxed in timestamp order, so a
    /// message after it is not earlier).
    floors: Vec<(u32, u32)>,
    /// (message stream id, timestamp, type id) of the first audio/video
    /// message after the last gap: the media the gap swallowed on the
    /// other chunk streams of that message stream was muxed before it.
    /// (`None` for the message stream id: unknown, after a pickup or a gap.)
    gap_first: Option<(Option<u32>, u32, u8)>,
    /// Decoding resumed at a resync whose chain has not yet proved the
    /// chunk size (no message of more than one chunk completed since):
    /// a header no real stream sends is taken as a wrong chain, not decoded.
    probation: bool,
    /// (stream index, timestamp) of the last audio/video message.
    last_media: Option<(usize, u32)>,
    /// Adjacent audio/video messages of different chunk streams, both
    /// exact, seen in timestamp order; and whether a pair was ever out of
    /// order (this peer does not mux in timestamp order: the rule is off).
    order_pairs: u32,
    order_broken: bool,
    max_partial_bytes: usize,
    max_streams: usize,
    partial_bytes: usize,
    /// Index of the stream whose chunk payload is being read, and the payload
    /// bytes left in that chunk.
    cur: Option<(usize, u32)>,
    /// Complete messages of streams on hold (stream index, message, body),
    /// in order, and the bytes they hold.
    held: Vec<(usize, Box<Message>, BodyBytes)>,
    held_bytes: usize,
    /// Held messages dropped because the hold was full, since it was last
    /// empty (reported once, then counted).
    held_lost: u64,
    /// (offset, fmt, csid) of the fmt 2/3 header on a never-seen chunk
    /// stream that stopped decoding (mid-stream or after a loss): the caller
    /// may find its payload length and [`ChunkDecoder::adopt`] the stream.
    unknown_stop: Option<(u64, u8, u32)>,
}

/// Whether a video message body is a keyframe (`Some(true)`), another
/// frame (`Some(false)`), or a sequence header / unreadable (`None`):
/// legacy FLV (frame type, codec id, AVC/HEVC/AV1 packet type 0 = sequence
/// header) and Enhanced RTMP (bit 7, packet type 0 or 5 = sequence start).
fn video_frame_kind(body: &[u8]) -> Option<bool> {
    let b0 = *body.first()?;
    let frame_type = (b0 >> 4) & 0x7;
    let seq = if b0 & 0x80 != 0 {
        matches!(b0 & 0x0f, 0 | 5)
    } else {
        matches!(b0 & 0x0f, 7 | 12 | 13) && body.get(1).is_none_or(|&t| t == 0)
    };
    if seq || frame_type == 5 {
        return None;
    }
    Some(frame_type == 1)
}

/// Packet time in ms.
fn wall_ms(t: PacketTime) -> i64 {
    (t.as_nanos() / 1_000_000) as i64
}

fn be24(b: &[u8]) -> u32 {
    ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Chunk streams looked up by a linear scan (a connection uses a handful);
/// beyond, a hash index (up to `Limits::max_chunk_streams` of a crafted flow).
const SCAN_STREAMS: usize = 8;

/// Parsed basic header: (fmt, csid, length in bytes).
pub fn basic_header(d: &[u8]) -> Option<(u8, u32, usize)> {
    let b0 = *d.first()?;
    let fmt = b0 >> 6;
    match b0 & 0x3f {
        0 => Some((fmt, *d.get(1)? as u32 + 64, 2)),
        1 => {
            let lo = *d.get(1)? as u32;
            let hi = *d.get(2)? as u32;
            Some((fmt, hi * 256 + lo + 64, 3))
        }
        c => Some((fmt, c as u32, 1)),
    }
}

/// Message header length for a fmt.
pub fn message_header_len(fmt: u8) -> usize {
    match fmt {
        0 => 11,
        1 => 7,
        2 => 3,
        _ => 0,
    }
}

impl ChunkDecoder {
    pub fn new(max_partial_bytes: usize, max_streams: usize) -> Self {
        ChunkDecoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            index: crate::fasthash::map(),
            fmt3_ets: Fmt3Ets::Unknown,
            at_end: false,
            lenient: false,
            gapped: false,
            gap_owed: 0,
            gap_room: None,
            floors: Vec::new(),
            gap_first: None,
            probation: false,
            last_media: None,
            order_pairs: 0,
            order_broken: false,
            max_partial_bytes,
            max_streams,
            partial_bytes: 0,
            cur: None,
            held: Vec::new(),
            held_bytes: 0,
            held_lost: 0,
            unknown_stop: None,
        }
    }

    /// Chunk size in force.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Sets the chunk size in force (inferred, not announced).
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE);
    }

    /// Whether fmt 1 is accepted on a never-seen csid (mid-stream rules).
    pub fn lenient(&self) -> bool {
        self.lenient
    }

    /// Accepts fmt 1 on a never-seen csid from now on (mid-stream pickup).
    pub fn set_lenient(&mut self, lenient: bool) {
        self.lenient = lenient;
    }

    /// Bytes of this direction were lost since the flow began.
    pub fn gapped(&self) -> bool {
        self.gapped
    }

    /// Bytes of this direction were lost: chunk streams first seen from now
    /// on have an unknown message stream id.
    pub fn note_gap(&mut self) {
        self.gapped = true;
        for s in &mut self.streams {
            s.gap = true;
            if let Some(p) = &s.partial {
                self.gap_owed += p.length.saturating_sub(p.received) as u64;
            }
        }
        self.gap_room = None;
        self.gap_first = None;
    }

    /// Decoding resumes `region` bytes after the first gap since the last
    /// resync: bounds how many messages the gap can have swallowed.
    pub fn note_resync(&mut self, region: u64) {
        // Cut messages said to owe more than the whole region: their
        // lengths were not real (a wrong chain before the gap), so the
        // room is unknown rather than none.
        let owed = std::mem::take(&mut self.gap_owed);
        self.gap_room = region.checked_sub(owed);
        self.probation = true;
        for s in &mut self.streams {
            if s.gap {
                s.lost_room = s
                    .lost_room
                    .zip(self.gap_room)
                    .map(|(a, r)| a.saturating_add(r));
            }
        }
    }

    /// The chain taken at the last resync proved itself another way (it
    /// was bridged across held chunks exactly onto the chain the scan
    /// found, [`super::midstream::bridge`]).
    pub fn end_probation(&mut self) {
        self.probation = false;
    }

    /// Whether the chain taken at the last resync has not yet proved its
    /// chunk size.
    pub fn on_probation(&self) -> bool {
        self.probation
    }

    /// Whether the peer repeats the extended timestamp on fmt 3 chunks.
    pub fn fmt3_ets(&self) -> Fmt3Ets {
        self.fmt3_ets
    }

    /// Bytes held in partial message bodies and held messages.
    pub fn partial_bytes(&self) -> usize {
        self.partial_bytes + self.held_bytes
    }

    /// Lowest stream offset a partial message still refers to (its first
    /// chunk header), `None` when no message is partial. Bytes below it and
    /// below the unconsumed input will not be part of any later message.
    pub fn oldest_partial(&self) -> Option<u64> {
        let held = self.held.first().map(|h| h.1.first_byte);
        self.streams
            .iter()
            .filter_map(|s| s.partial.as_ref().map(|p| p.first_byte))
            .chain(held)
            .min()
    }

    /// The fmt 2/3 header on a never-seen chunk stream that made the last
    /// [`ChunkOut::Desync`]: (stream offset, fmt, csid). Taken once.
    pub fn take_unknown_stop(&mut self) -> Option<(u64, u8, u32)> {
        self.unknown_stop.take()
    }

    /// Starts chunk stream `csid`, first seen with a fmt 2/3 header, as a
    /// stream of messages `length` bytes long (the caller found where its
    /// chunk ends: real peers send fmt 2/3 for a message as long as the
    /// previous one, so its next fmt 2/3 messages have that length too).
    /// Its type is unknown: its messages are held until a fmt 0/1 header
    /// on it tells the type, then the first message after that header
    /// decides which held ones are of that type
    /// ([`super::plausible::held_body_matches`]); timestamps are lower bounds
    /// (an unknown fmt 3 delta counts as 0). False when the stream exists
    /// or the chunk stream limit is reached.
    pub fn adopt(&mut self, csid: u32, length: u32) -> bool {
        if self.find(csid).is_some() || self.streams.len() >= self.max_streams {
            return false;
        }
        let idx = self.new_stream(csid, 2, false);
        let s = &mut self.streams[idx];
        s.length = length;
        s.hold = true;
        true
    }

    /// Drops every held message (end of flow, memory cap): one
    /// `rtmp.chunk.held_dropped` anomaly per chunk stream.
    pub fn drop_held(&mut self, why: &str) -> Vec<ChunkOut> {
        let mut out = Vec::new();
        let held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        let lost = std::mem::take(&mut self.held_lost);
        let why = if lost > 0 {
            format!("{why} ({lost} more dropped earlier, the hold being full)")
        } else {
            why.to_string()
        };
        let mut i = 0;
        while i < held.len() {
            let si = held[i].0;
            let n = held[i..].iter().take_while(|h| h.0 == si).count();
            let (first, last) = (held[i].1.first_byte, held[i + n - 1].1.last_byte);
            let csid = held[i].1.csid;
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_CHUNK_HELD_DROPPED,
                Some(ByteRange::new(first, last + 1)),
                format!(
                    "{n} message(s) on csid {csid} held for a header telling their type: {why}"
                ),
            )));
            i += n;
        }
        out
    }

    /// Holds a complete message of a stream on hold (bounded: the oldest
    /// goes past [`MAX_HELD_MESSAGES`] or [`MAX_HELD_BYTES`]).
    fn hold_message(
        &mut self,
        si: usize,
        m: Box<Message>,
        body: BodyBytes,
        out: &mut Vec<ChunkOut>,
    ) {
        let cost = |m: &Message, b: &BodyBytes| b.len() + m.chunks.len() * CHUNK_REF_COST;
        self.held_bytes += cost(&m, &body);
        self.held.push((si, m, body));
        while self.held.len() > MAX_HELD_MESSAGES || self.held_bytes > MAX_HELD_BYTES {
            let (_, m, b) = self.held.remove(0);
            self.held_bytes = self.held_bytes.saturating_sub(cost(&m, &b));
            self.held_lost += 1;
            if self.held_lost > 1 {
                continue;
            }
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_CHUNK_HELD_DROPPED,
                Some(ByteRange::new(m.first_byte, m.last_byte + 1)),
                format!(
                    "message on csid {} held for a header telling its type: more than {} \
                     messages or {} bytes held (the oldest are dropped from now on, counted \
                     when the hold ends)",
                    m.csid, MAX_HELD_MESSAGES, MAX_HELD_BYTES
                ),
            )));
        }
    }

    /// The first complete message `anchor` (with `body`) of stream `si`
    /// after the fmt 0/1 header that ended its hold: the held messages of
    /// the stream whose bodies match take its type and are emitted, the
    /// others are dropped (`rtmp.chunk.held_dropped`).
    fn release_held(&mut self, si: usize, anchor: &Message, body: &[u8], out: &mut Vec<ChunkOut>) {
        if !self.held.iter().any(|h| h.0 == si) {
            return;
        }
        let held = std::mem::take(&mut self.held);
        let mut dropped: Vec<(u64, u64)> = Vec::new();
        for (hi, mut m, b) in held {
            if hi != si {
                self.held.push((hi, m, b));
                continue;
            }
            self.held_bytes = self
                .held_bytes
                .saturating_sub(b.len() + m.chunks.len() * CHUNK_REF_COST);
            if held_body_matches(anchor.type_id, &b, body) {
                m.type_id = anchor.type_id;
                out.push(ChunkOut::Message(m, b));
            } else {
                dropped.push((m.first_byte, m.last_byte));
            }
        }
        let lost = if self.held.is_empty() {
            std::mem::take(&mut self.held_lost)
        } else {
            0
        };
        if lost > 0 {
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_CHUNK_HELD_DROPPED,
                Some(ByteRange::new(anchor.first_byte, anchor.last_byte + 1)),
                format!("{lost} message(s) held before this one were dropped, the hold being full"),
            )));
        }
        if let (Some(f), Some(l)) = (dropped.first(), dropped.last()) {
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_CHUNK_HELD_DROPPED,
                Some(ByteRange::new(f.0, l.1 + 1)),
                format!(
                    "{} message(s) held on csid {} do not look like its type {} message: not decoded",
                    dropped.len(),
                    anchor.csid,
                    anchor.type_id
                ),
            )));
        }
    }

    /// (csid, length) of every chunk stream with a known header: a resync
    /// scorer may accept fmt 2/3 on these.
    pub fn known_streams(&self) -> Vec<(u32, u32)> {
        self.streams.iter().map(|s| (s.csid, s.length)).collect()
    }

    fn find(&self, csid: u32) -> Option<usize> {
        if self.streams.len() <= SCAN_STREAMS {
            self.streams.iter().position(|s| s.csid == csid)
        } else {
            self.index.get(&csid).copied()
        }
    }

    /// First byte of the oldest message in progress, when every message in
    /// progress began with a fmt 0 header (reading such a header again
    /// sets the same absolute values; a fmt 1/2 delta would be added
    /// twice).
    pub fn oldest_partial_start(&self) -> Option<u64> {
        let mut oldest = None;
        for p in self.streams.iter().filter_map(|s| s.partial.as_ref()) {
            if p.fmt != 0 {
                return None;
            }
            oldest = Some(oldest.map_or(p.first_byte, |o: u64| o.min(p.first_byte)));
        }
        oldest
    }

    /// Forgets every message in progress (they are to be read again from
    /// their first byte); header state is kept.
    pub fn discard_partials(&mut self) {
        self.cur = None;
        for s in self.streams.iter_mut() {
            if let Some(p) = s.partial.take() {
                self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
            }
        }
    }

    /// Ends every partial message as truncated with `cause` (gap, end of
    /// stream); returns them. Header state is kept for inheritance.
    pub fn truncate_all(&mut self, cause: TruncationCause, time: PacketTime) -> Vec<ChunkOut> {
        let mut out = Vec::new();
        self.cur = None;
        for i in 0..self.streams.len() {
            if let Some(p) = self.streams[i].partial.take() {
                self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
                // A message of unknown type (stream on hold) cut: lost.
                if p.dropping || self.streams[i].hold {
                    continue;
                }
                let csid = self.streams[i].csid;
                let (m, body) = finish_partial(p, csid, time, Some(cause));
                out.push(ChunkOut::Message(m, body));
            }
        }
        out
    }

    /// Gives up every partial message held (the global dissector memory cap
    /// was reached): each is returned truncated (`limit`) with what it has,
    /// and the rest of its bytes are skipped as they arrive.
    pub fn give_up_partials(&mut self, time: PacketTime) -> Vec<ChunkOut> {
        let mut out = Vec::new();
        for s in self.streams.iter_mut() {
            let csid = s.csid;
            let Some(p) = s.partial.as_mut() else {
                continue;
            };
            if p.dropping || p.body.is_empty() {
                continue;
            }
            if s.hold {
                // Type unknown: nothing to report; its bytes are let go.
                self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
                p.body = BodyBytes::new();
                p.chunks = ChunkRefs::new();
                p.dropping = true;
                continue;
            }
            self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
            let body = std::mem::take(&mut p.body);
            let mut m = header_message(p, csid, time);
            m.chunks = std::mem::take(&mut p.chunks);
            let got = p.received.min(p.length);
            m.truncated = Some(Truncation {
                cause: TruncationCause::Limit,
                received: got,
                lost: m.length.saturating_sub(got),
            });
            p.dropping = true;
            out.push(ChunkOut::Message(Box::new(m), body));
        }
        out
    }

    /// Decodes chunks from `d` (stream offset `base`). Returns the number of
    /// bytes consumed: all of them, except an incomplete chunk header at the
    /// end, or everything from a desync point on.
    /// The flow has ended: no more bytes will follow what is held, so a
    /// fmt 3 header whose extended-timestamp convention is still unknown is
    /// decided by what is left.
    pub fn set_at_end(&mut self) {
        self.at_end = true;
    }

    pub fn feed(
        &mut self,
        base: u64,
        d: &[u8],
        time: PacketTime,
        out: &mut Vec<ChunkOut>,
    ) -> usize {
        let mut pos = 0usize;
        while pos < d.len() {
            if let Some((si, left)) = self.cur {
                let n = (left as usize).min(d.len() - pos);
                self.take_payload(si, &d[pos..pos + n], base + pos as u64, time, out);
                pos += n;
                let left = left - n as u32;
                if left == 0 {
                    self.cur = None;
                    self.complete_if_done(si, time, out);
                } else {
                    self.cur = Some((si, left));
                }
                continue;
            }
            match self.header(&d[pos..], base + pos as u64, time, out) {
                Hdr::NeedMore => break,
                Hdr::Desync => {
                    out.push(ChunkOut::Desync(base + pos as u64));
                    return pos;
                }
                Hdr::Ok(len) => pos += len,
            }
        }
        pos
    }

    fn take_payload(
        &mut self,
        si: usize,
        bytes: &[u8],
        off: u64,
        time: PacketTime,
        out: &mut Vec<ChunkOut>,
    ) {
        let cap = self.max_partial_bytes;
        let Some(s) = self.streams.get_mut(si) else {
            return;
        };
        let Some(p) = s.partial.as_mut() else {
            return;
        };
        if let Some(c) = p.chunks.last_mut() {
            c.payload.end = off + bytes.len() as u64;
        }
        let seen_before = p.received.min(p.length);
        p.received = p.received.saturating_add(bytes.len() as u32);
        if p.dropping {
            return;
        }
        if p.keep == Keep::Undecided {
            let have = p.body.len() + bytes.len();
            if have >= media::PREFIX_DECIDE_BYTES.min(p.length as usize) {
                let mut first = [0u8; media::PREFIX_DECIDE_BYTES];
                let n = have.min(first.len());
                let from_body = p.body.len().min(n);
                first[..from_body].copy_from_slice(&p.body[..from_body]);
                first[from_body..n].copy_from_slice(&bytes[..n - from_body]);
                p.keep = match media::header_prefix(p.type_id, &first[..n]) {
                    Some(k) => Keep::Prefix(k),
                    None => Keep::All,
                };
            }
        }
        let bytes = match p.keep {
            Keep::Prefix(k) => &bytes[..k.saturating_sub(p.body.len()).min(bytes.len())],
            Keep::All | Keep::Undecided => bytes,
        };
        if self.partial_bytes + bytes.len() > cap {
            // Report what we have now; drop the rest of this message.
            let csid = s.csid;
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_LIMIT_PARTIAL_BYTES,
                Some(ByteRange::new(off, off + bytes.len() as u64)),
                format!("partial messages exceed {cap} bytes; message on csid {csid} truncated"),
            )));
            self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
            let body = std::mem::take(&mut p.body);
            let mut m = header_message(p, csid, time);
            m.chunks = std::mem::take(&mut p.chunks);
            let got = seen_before;
            m.truncated = Some(Truncation {
                cause: TruncationCause::Limit,
                received: got,
                lost: m.length.saturating_sub(got),
            });
            p.dropping = true;
            out.push(ChunkOut::Message(Box::new(m), body));
            return;
        }
        if bytes.is_empty() {
            return;
        }
        if p.body.is_empty() {
            let want = match p.keep {
                Keep::Prefix(k) => k,
                Keep::All | Keep::Undecided => INITIAL_RESERVE,
            };
            p.body
                .reserve((p.length as usize).min(want).max(bytes.len()));
        }
        p.body.extend_from_slice(bytes);
        self.partial_bytes += bytes.len();
    }

    fn complete_if_done(&mut self, si: usize, time: PacketTime, out: &mut Vec<ChunkOut>) {
        let Some(s) = self.streams.get_mut(si) else {
            return;
        };
        let done = s.partial.as_ref().is_some_and(|p| p.received >= p.length);
        if !done {
            return;
        }
        let Some(p) = s.partial.take() else {
            return;
        };
        let csid = s.csid;
        self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
        if p.dropping {
            return;
        }
        if p.chunks.len() > 1 {
            // The chain holds across a chunk boundary: the chunk size is right.
            self.probation = false;
        }
        if p.type_id == type_id::VIDEO {
            let s = &mut self.streams[si];
            match video_frame_kind(&p.body) {
                Some(true) => s.key_len = p.length,
                Some(false) => {
                    s.inter_sum += p.length as u64;
                    s.inter_n += 1;
                }
                None => {}
            }
        }
        let (mut m, body) = finish_partial(p, csid, time, None);
        if self.streams[si].hold {
            self.hold_message(si, m, body, out);
            return;
        }
        if !self.held.is_empty() {
            self.release_held(si, &m, &body, out);
        }
        self.apply_chunk_control(&mut m, &body, time, out);
        out.push(ChunkOut::Message(m, body));
    }

    /// Set Chunk Size and Abort act on this direction's chunk layer. They
    /// are decoded here, once, by [`super::control::decode`] (which applies
    /// the Set Chunk Size rule and reports its anomalies); the message goes
    /// on with its body decoded, and this layer acts on the decoded value.
    /// An empty body is left to the body decoder, which reports it.
    fn apply_chunk_control(
        &mut self,
        m: &mut Message,
        body: &[u8],
        time: PacketTime,
        out: &mut Vec<ChunkOut>,
    ) {
        if !matches!(m.type_id, type_id::SET_CHUNK_SIZE | type_id::ABORT) || body.is_empty() {
            return;
        }
        let mut found = Vec::new();
        m.body = super::control::decode(m.type_id, body, &mut found);
        for mut a in found {
            a.range = Some(m.stream_range_of(a.range));
            out.push(ChunkOut::Anomaly(a));
        }
        let range = Some(m.stream_range_of(Some(ByteRange::new(0, 4))));
        match m.body {
            Body::Control(Control::SetChunkSize {
                size,
                ignored: false,
            }) => self.chunk_size = size.min(MAX_CHUNK_SIZE),
            Body::Control(Control::Abort { csid }) => {
                let target = self.find(csid);
                let p = target.and_then(|i| self.streams[i].partial.take());
                match p {
                    Some(p) => {
                        self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
                        if let Some((ci, _)) = self.cur {
                            if Some(ci) == target {
                                self.cur = None;
                            }
                        }
                        out.push(ChunkOut::Anomaly(Anomaly::new(
                            anomalies::RTMP_ABORT,
                            Some(ByteRange::new(p.first_byte, m.last_byte + 1)),
                            format!(
                                "abort discarded {} of {} bytes on csid {csid}",
                                p.received, p.length
                            ),
                        )));
                        if !p.dropping {
                            let (am, ab) =
                                finish_partial(p, csid, time, Some(TruncationCause::Aborted));
                            out.push(ChunkOut::Message(am, ab));
                        }
                    }
                    None => out.push(ChunkOut::Anomaly(Anomaly::new(
                        anomalies::RTMP_ABORT.at(Severity::Info),
                        range,
                        format!("abort for csid {csid} with no partial message"),
                    ))),
                }
            }
            _ => {}
        }
    }

    fn header(&mut self, d: &[u8], off: u64, time: PacketTime, out: &mut Vec<ChunkOut>) -> Hdr {
        let Some((fmt, csid, bl)) = basic_header(d) else {
            return Hdr::NeedMore;
        };
        let ml = message_header_len(fmt);
        if d.len() < bl + ml {
            return Hdr::NeedMore;
        }
        let mh = &d[bl..bl + ml];
        let idx = self.find(csid);
        let hdr_range = |len: usize| ByteRange::new(off, off + len as u64);
        if self.probation {
            if let Some(why) = self.implausible_after_resync(fmt, mh, idx) {
                out.push(ChunkOut::Anomaly(Anomaly::new(
                    anomalies::RTMP_CHUNK_IMPLAUSIBLE_HEADER,
                    Some(hdr_range(bl + ml)),
                    format!("fmt {fmt} header on csid {csid} after a resync: {why}"),
                )));
                return Hdr::Desync;
            }
        }
        // Unknown chunk stream.
        let idx = match idx {
            Some(i) => i,
            None => {
                if fmt >= 2 {
                    out.push(ChunkOut::Anomaly(Anomaly::new(
                        anomalies::RTMP_CHUNK_UNKNOWN_CSID,
                        Some(hdr_range(bl + ml)),
                        format!("fmt {fmt} chunk on never-seen csid {csid}"),
                    )));
                    // Held (the caller looks for its length) when the stream
                    // may have started unseen: mid-stream or after a loss,
                    // numbered as real peers number theirs (below 64), and
                    // not on a fresh resync's chain (there a never-seen
                    // chunk stream means the chain is wrong).
                    if (self.lenient || self.gapped) && bl == 1 && !self.probation {
                        self.unknown_stop = Some((off, fmt, csid));
                    }
                    return Hdr::Desync;
                }
                if self.streams.len() >= self.max_streams {
                    out.push(ChunkOut::Anomaly(Anomaly::new(
                        anomalies::RTMP_LIMIT_CHUNK_STREAMS,
                        Some(hdr_range(bl + ml)),
                        format!("more than {} chunk streams", self.max_streams),
                    )));
                    return Hdr::Desync;
                }
                // A fmt 1 header carries all but the message stream id.
                // Seen from its start, a connection's chunk stream begins at
                // message stream 0 (rtmpsrv opens its replies this way):
                // taken as 0, flagged. After a mid-stream pickup the id is
                // unknown (`msid_unknown`).
                let assumed = fmt == 1 && !self.lenient && !self.gapped;
                if assumed {
                    out.push(ChunkOut::Anomaly(Anomaly::new(
                        anomalies::RTMP_CHUNK_MSID_ASSUMED,
                        Some(hdr_range(bl + ml)),
                        format!("fmt 1 header opens csid {csid}: message stream id taken as 0"),
                    )));
                }
                self.new_stream(csid, fmt, assumed)
            }
        };
        let mut hlen = bl + ml;
        if fmt == 3 {
            // Extended timestamp repeated on fmt 3?
            let (has_ets, last_ets) = {
                let s = &self.streams[idx];
                (s.ets.is_some(), s.ets.unwrap_or(0))
            };
            if has_ets {
                match self.fmt3_ets {
                    Fmt3Ets::Repeated => hlen += 4,
                    Fmt3Ets::Omitted => {}
                    // At the end of the flow fewer than 4 bytes follow: they
                    // cannot be a repeated extended timestamp.
                    Fmt3Ets::Unknown if self.at_end && d.len() < hlen + 4 => {}
                    Fmt3Ets::Unknown => {
                        let Some(peek) = d.get(hlen..hlen + 4) else {
                            return Hdr::NeedMore;
                        };
                        let rep = be32(peek) == last_ets;
                        self.fmt3_ets = if rep {
                            Fmt3Ets::Repeated
                        } else {
                            Fmt3Ets::Omitted
                        };
                        out.push(ChunkOut::Anomaly(Anomaly::new(
                            if rep {
                                anomalies::RTMP_CHUNK_FMT3_ETS_REPEATED
                            } else {
                                anomalies::RTMP_CHUNK_FMT3_ETS_OMITTED
                            },
                            Some(hdr_range(hlen + if rep { 4 } else { 0 })),
                            if rep {
                                "peer repeats the extended timestamp on fmt 3 chunks"
                            } else {
                                "peer omits the extended timestamp on fmt 3 chunks"
                            },
                        )));
                        if rep {
                            hlen += 4;
                        }
                    }
                }
            }
            if d.len() < hlen {
                return Hdr::NeedMore;
            }
            let cs = self.chunk_size;
            let s = &mut self.streams[idx];
            if let Some(p) = s.partial.as_mut() {
                let left = p.length - p.received.min(p.length);
                let n = left.min(cs);
                if !p.dropping {
                    p.chunks.push(ChunkRef {
                        fmt: 3,
                        header: hdr_range(hlen),
                        payload: ByteRange::new(off + hlen as u64, off + hlen as u64),
                    });
                    self.partial_bytes += CHUNK_REF_COST;
                }
                self.start_payload(idx, n, time, out);
                return Hdr::Ok(hlen);
            }
            // A new message with the previous header.
            let delta = s.ts_field;
            let ext = s.ets.is_some();
            let (ts, est) = self.timeline(idx, 3, delta, time, hdr_range(hlen), out);
            self.begin(idx, 3, ts, delta, ext, est, off, hlen, time, out);
            return Hdr::Ok(hlen);
        }
        // fmt 0/1/2
        let field = be24(mh);
        let ext = field == 0xFF_FFFF;
        let mut ets = None;
        if ext {
            let Some(e) = d.get(hlen..hlen + 4) else {
                return Hdr::NeedMore;
            };
            ets = Some(be32(e));
            hlen += 4;
        }
        let value = ets.unwrap_or(field);
        let s = &mut self.streams[idx];
        if let Some(p) = s.partial.take() {
            // A new header while a message is unfinished.
            self.partial_bytes = self.partial_bytes.saturating_sub(p.held());
            out.push(ChunkOut::Anomaly(Anomaly::new(
                anomalies::RTMP_CHUNK_UNEXPECTED_HEADER,
                Some(hdr_range(hlen)),
                format!(
                    "fmt {fmt} header on csid {csid} with {} of {} bytes pending",
                    p.received, p.length
                ),
            )));
            if !p.dropping {
                let (m, b) = finish_partial(p, csid, time, Some(TruncationCause::Interrupted));
                out.push(ChunkOut::Message(m, b));
            }
        }
        let s = &mut self.streams[idx];
        let delta = if fmt == 0 {
            if s.seen {
                value.wrapping_sub(s.timestamp)
            } else {
                0
            }
        } else {
            value
        };
        let (ts, est) = self.timeline(idx, fmt, value, time, hdr_range(hlen), out);
        let s = &mut self.streams[idx];
        if fmt <= 1 {
            s.seen = true;
            s.hold = false;
            s.length = be24(&mh[3..6]);
            s.type_id = mh[6];
        }
        if fmt == 0 {
            s.msid = u32::from_le_bytes([mh[7], mh[8], mh[9], mh[10]]);
            s.msid_known = true;
        }
        s.ts_field = value;
        s.ets = ets;
        self.begin(idx, fmt, ts, delta, ext, est, off, hlen, time, out);
        Hdr::Ok(hlen)
    }

    /// A new chunk stream first seen with a fmt `fmt` header; returns its
    /// index. `assumed`: its message stream id is taken as 0.
    fn new_stream(&mut self, csid: u32, fmt: u8, assumed: bool) -> usize {
        self.index.insert(csid, self.streams.len());
        self.streams.push(ChunkStream {
            csid,
            timestamp: 0,
            ts_field: 0,
            length: 0,
            type_id: 0,
            msid: 0,
            msid_known: assumed,
            ets: None,
            seen: false,
            partial: None,
            last_time: None,
            last_delta: None,
            gap: false,
            // Without a fmt 0 header the absolute timestamp is not
            // known, unless the connection was seen from its start
            // (then the stream starts at 0).
            est: (fmt != 0 && !assumed).then_some((0, None)),
            min_len: u32::MAX,
            max_len: 0,
            max_delta: 0,
            len_sum: 0,
            len_n: 0,
            inter_sum: 0,
            inter_n: 0,
            key_len: 0,
            mux_floor: None,
            lost_room: Some(0),
            fitted: false,
            cadence: Cadence::default(),
            pace: Pace::default(),
            hold: false,
        });
        self.streams.len() - 1
    }

    /// Why a header read while on probation (after a resync) cannot be a
    /// real one: a type id or length no stream sends, a message stream id
    /// out of range, or a new message on a chunk stream whose message is
    /// unfinished (the resync's chain was wrong: most likely the chunk size).
    fn implausible_after_resync(&self, fmt: u8, mh: &[u8], idx: Option<usize>) -> Option<String> {
        if fmt <= 1 {
            let (len, t) = (be24(&mh[3..6]), mh[6]);
            if !plausible_type(t) || !plausible_length(t, len, self.chunk_size) {
                return Some(format!("type {t} of length {len}"));
            }
            if fmt == 0 {
                let msid = u32::from_le_bytes([mh[7], mh[8], mh[9], mh[10]]);
                if msid >= MAX_PLAUSIBLE_MSID {
                    return Some(format!("message stream id {msid}"));
                }
            }
        }
        let p = idx.and_then(|i| self.streams[i].partial.as_ref());
        match p {
            Some(p) if fmt <= 2 => Some(format!(
                "new message with {} of {} bytes pending",
                p.received, p.length
            )),
            _ => None,
        }
    }

    /// The absolute timestamp of a new message on stream `idx` whose header
    /// has format `fmt` and timestamp field `value` (absolute for fmt 0, a
    /// delta otherwise), and whether it is an estimate. Sets the stream's
    /// timestamp.
    ///
    /// Rules: a fmt 0 header is exact; when the timeline before it was an
    /// estimate, the difference from what the estimate predicted is
    /// reported (`rtmp.timestamp_corrected`). A delta after a gap may
    /// follow messages the gap swallowed: the true value is at least the
    /// previous timestamp plus this delta (`low`); when the stream has a
    /// constant delta (this one equals the last one before the gap), the
    /// number of messages the gap swallowed is estimated from the packet
    /// time that passed (live media advances with the wall clock), at least
    /// none. The estimate carries over to later deltas until a fmt 0.
    fn timeline(
        &mut self,
        idx: usize,
        fmt: u8,
        value: u32,
        time: PacketTime,
        range: ByteRange,
        out: &mut Vec<ChunkOut>,
    ) -> (u32, Option<TimestampEstimate>) {
        let s = &mut self.streams[idx];
        s.last_time = Some(time);
        let last_delta = s.last_delta;
        let gap = std::mem::take(&mut s.gap);
        if fmt == 0 {
            s.mux_floor = None;
            s.lost_room = Some(0);
            let mut unsure = gap;
            if let Some((above, _)) = s.est.take() {
                // What the estimated timeline predicted for this message.
                let predicted = s.timestamp.wrapping_add(last_delta.unwrap_or(0));
                let off_by = value.wrapping_sub(predicted) as i32;
                unsure |= off_by != 0;
                if off_by != 0 && s.seen {
                    out.push(ChunkOut::Anomaly(Anomaly::new(
                        anomalies::RTMP_TIMESTAMP_CORRECTED,
                        Some(range),
                        format!(
                            "fmt 0 header on csid {}: timestamp {value} exact again; the \
                             estimated timeline was {} ms {} (estimate {above} ms above \
                             its lower bound)",
                            s.csid,
                            off_by.unsigned_abs(),
                            if off_by > 0 { "behind" } else { "ahead" }
                        ),
                    )));
                }
            }
            let d = value.wrapping_sub(s.timestamp);
            if unsure {
                // The run's message count may be off: start again here.
                s.cadence.reset();
            }
            s.cadence.observe(value, if s.seen { d } else { 0 });
            s.last_delta = Some(d);
            s.timestamp = value;
            let msid = s.msid;
            s.pace.observe(wall_ms(time), value);
            self.set_floor(msid, value);
            self.mux_order(idx, value);
            return (value, None);
        }
        s.last_delta = Some(value);
        s.max_delta = s.max_delta.max(value);
        let naive = s.timestamp.wrapping_add(value);
        if !gap {
            s.timestamp = naive;
        } else {
            // At most this many messages of this stream fit in the bytes
            // the gap and the resync skipped (each at least a 1-byte
            // header and half the shortest body seen on the stream).
            let per = (s.min_len / 2).max(1) as u64 + 1;
            let n_max = s.lost_room.map(|r| r / per);
            // When no other stream of the direction can have lost a
            // message in those bytes, they are this stream's: as many
            // messages of its typical size (with headers) as fit.
            let room = self.gap_room;
            let cs = self.chunk_size.max(1) as u64;
            let sole = room.is_some_and(|r| {
                self.streams.iter().enumerate().all(|(i, o)| {
                    i == idx || o.len_n == 0 || r / ((o.min_len / 2).max(1) as u64 + 1) == 0
                })
            });
            let s = &self.streams[idx];
            let by_size = match (sole, room) {
                (true, Some(r)) if s.len_n > 0 => {
                    let avg = s.len_sum / s.len_n;
                    let each = avg + 8 + avg.saturating_sub(1) / cs;
                    Some((r + each / 2) / each.max(1))
                }
                _ => None,
            };
            let floor = if s.msid_known {
                let msid = s.msid;
                self.floors.iter().find(|f| f.0 == msid).map(|f| f.1)
            } else {
                None
            };
            let s = &mut self.streams[idx];
            if n_max == Some(0) && s.est.is_none() {
                // Nothing of this stream was lost: still exact.
                s.timestamp = naive;
            } else {
                // The fewest lost messages (of this delta) that bring the
                // timestamp up to the last exact one of its message stream.
                let mut n_floor = 0;
                if let Some(f) = floor {
                    let behind = f.wrapping_sub(naive) as i32;
                    if behind > 0 && value > 0 {
                        n_floor = (behind as u64).div_ceil(value as u64);
                    }
                }
                if let Some(m) = n_max {
                    n_floor = n_floor.min(m);
                }
                let s = &self.streams[idx];
                let high = n_max.map(|m| {
                    let m = m.min(MAX_ESTIMATED_LOST_MESSAGES) as u32;
                    naive.saturating_add(m.saturating_mul(s.max_delta.max(value)))
                });
                let fitted = self.gap_first.is_none();
                let (n, est) = match self.by_cadence(idx, value, n_floor, n_max, time) {
                    Some((n, base)) => {
                        self.streams[idx].fitted = fitted;
                        let est = base.wrapping_add(value);
                        // Never outside the bounds.
                        let est = if (est.wrapping_sub(naive) as i32) < 0 {
                            naive
                        } else {
                            high.map_or(est, |h| est.min(h))
                        };
                        (n, est)
                    }
                    None => {
                        self.streams[idx].fitted = true;
                        let mut n = by_size.unwrap_or(0).max(n_floor);
                        if let Some(m) = n_max {
                            n = n.min(m);
                        }
                        n = n.min(MAX_ESTIMATED_LOST_MESSAGES);
                        (n, naive.wrapping_add((n as u32).wrapping_mul(value)))
                    }
                };
                let s = &mut self.streams[idx];
                s.cadence.skip(n);
                let (above, below) = s.est.unwrap_or((0, Some(0)));
                let above = above.saturating_add(est.wrapping_sub(naive));
                let below = match (below, high) {
                    (Some(b), Some(h)) => Some(b.saturating_add(h.saturating_sub(est))),
                    _ => None,
                };
                s.est = Some((above, below));
                s.timestamp = est;
            }
        }
        let s = &mut self.streams[idx];
        let ts = s.timestamp;
        s.mux_floor = None;
        s.lost_room = Some(0);
        s.cadence.observe(ts, value);
        let ts = self.mux_order(idx, ts);
        let s = &mut self.streams[idx];
        if gap && self.gap_first.is_none() && matches!(s.type_id, type_id::AUDIO | type_id::VIDEO) {
            let (msid, known, ty) = (s.msid, s.msid_known, s.type_id);
            self.gap_first = Some((known.then_some(msid), ts, ty));
            for (j, o) in self.streams.iter_mut().enumerate() {
                if j != idx
                    && o.gap
                    && matches!(o.type_id, type_id::AUDIO | type_id::VIDEO)
                    && (o.msid == msid || !o.msid_known || !known)
                {
                    o.mux_floor = Some((ts, ty));
                }
            }
        }
        let s = &mut self.streams[idx];
        let estimate = s.est.map(|(above, below)| TimestampEstimate {
            low: ts.wrapping_sub(above),
            high: below.map(|b| ts.wrapping_add(b)),
        });
        if estimate.is_none() {
            s.pace.observe(wall_ms(time), ts);
        }
        if estimate.is_none() && s.msid_known {
            let msid = s.msid;
            self.set_floor(msid, ts);
        }
        (ts, estimate)
    }

    /// The mux order rule: audio and video of one message stream are muxed
    /// in timestamp order, so a message whose timestamp is below the one
    /// just before it (another chunk stream's) shows an estimate off by a
    /// whole number of frames: the estimated side moves (the stream whose
    /// estimate was fitted to a gap's bytes when both are estimates), by
    /// its period, within its bounds. Only for a peer whose exact
    /// timestamps were seen in order [`MUX_ORDER_EVIDENCE`] times and never
    /// out of order. Returns the timestamp of the message of `idx`.
    fn mux_order(&mut self, idx: usize, ts: u32) -> u32 {
        let s = &self.streams[idx];
        if !matches!(s.type_id, type_id::AUDIO | type_id::VIDEO) {
            return ts;
        }
        let Some((j, tj)) = self.last_media.replace((idx, ts)) else {
            return ts;
        };
        let Some(o) = self.streams.get(j).filter(|_| j != idx) else {
            return ts;
        };
        if !(o.msid == s.msid || !o.msid_known || !s.msid_known) {
            return ts;
        }
        let d = tj.wrapping_sub(ts) as i32;
        let (o_est, s_est) = (o.est.is_some(), s.est.is_some());
        if !o_est && !s_est {
            if d > 0 {
                self.order_broken = true;
            } else {
                self.order_pairs = self.order_pairs.saturating_add(1);
            }
            return ts;
        }
        if d <= 0
            || d > MAX_MUX_SKEW_MS
            || self.order_broken
            || self.order_pairs < MUX_ORDER_EVIDENCE
        {
            return ts;
        }
        let move_prev = match (o_est, s_est) {
            (true, false) => true,
            (false, true) => false,
            _ if o.fitted != s.fitted => o.fitted,
            _ => return ts,
        };
        let k = if move_prev { j } else { idx };
        let m = &mut self.streams[k];
        let p = m
            .cadence
            .period()
            .or(m.last_delta.map(|d| d as f64))
            .unwrap_or(0.0);
        if p < 1.0 {
            return ts;
        }
        let shift = ((d as f64 / p).ceil() * p).round() as u32;
        let Some((above, below)) = m.est else {
            return ts;
        };
        if move_prev {
            if above < shift {
                return ts;
            }
            m.timestamp = m.timestamp.wrapping_sub(shift);
            m.est = Some((above - shift, below.map(|b| b.saturating_add(shift))));
        } else {
            if below.is_some_and(|b| b < shift) {
                return ts;
            }
            m.timestamp = m.timestamp.wrapping_add(shift);
            m.est = Some((above.saturating_add(shift), below.map(|b| b - shift)));
        }
        let t = m.timestamp;
        m.cadence.reset();
        m.cadence.observe(t, 0);
        if move_prev {
            ts
        } else {
            self.last_media = Some((idx, t));
            t
        }
    }

    /// The cadence rule for the first message of stream `idx` after a gap
    /// (delta `value`): how many messages the gap swallowed on it and the
    /// timestamp of the last of them (`None`: the stream has no cadence).
    ///
    /// Audio and video of one message stream are muxed in timestamp order
    /// (video first on a tie). The first audio/video message after the gap
    /// fixes which media of the other chunk streams came before it (lost);
    /// for that first message itself, the count of lost messages is chosen
    /// whose bytes (with the other streams' lost messages it implies, each
    /// of its stream's average size with headers) best fill the bytes the
    /// gap and the resync skipped.
    fn by_cadence(
        &self,
        idx: usize,
        value: u32,
        n_floor: u64,
        n_max: Option<u64>,
        time: PacketTime,
    ) -> Option<(u64, u32)> {
        let s = &self.streams[idx];
        let ty = s.type_id;
        if !matches!(ty, type_id::AUDIO | type_id::VIDEO) {
            return None;
        }
        let mux = s.mux_floor;
        let hi = n_max
            .unwrap_or(MAX_CADENCE_SEARCH)
            .min(MAX_CADENCE_SEARCH)
            .max(n_floor);
        let base = |n: u64| {
            if n == 0 {
                Some(s.timestamp)
            } else {
                s.cadence.predict_step(n, value)
            }
        };
        // Messages of stream `o` (type `oty`) muxed before a message of
        // type `ty` at timestamp `t`, after its last one.
        let before = |o: &ChunkStream, t: u32, first_ty: u8| -> u64 {
            let mut m = 0;
            while m < MAX_CADENCE_SEARCH {
                let Some(p) = o.cadence.predict(m + 1, o.last_delta.unwrap_or(0)) else {
                    break;
                };
                let d = p.wrapping_sub(t) as i32;
                if d < 0 || (d == 0 && o.type_id > first_ty) {
                    m += 1;
                } else {
                    break;
                }
            }
            m
        };
        // Lost before the first message after an earlier gap.
        let n_floor = mux.map_or(n_floor, |(t, first_ty)| {
            n_floor.max(before(s, t, first_ty).min(hi))
        });
        if let Some((msid, t, first_ty)) = self.gap_first {
            if msid.is_some_and(|m| s.msid_known && m != s.msid) {
                return None;
            }
            let n = before(s, t, first_ty).clamp(n_floor, hi);
            return Some((n, base(n)?));
        }
        let room = self.gap_room?;
        let cs = self.chunk_size.max(1) as u64;
        let cost_of = |len: u64| len + 8 + len.saturating_sub(1) / cs;
        let cost = |o: &ChunkStream| {
            cost_of(
                o.inter_sum
                    .checked_div(o.inter_n)
                    .unwrap_or(o.len_sum / o.len_n.max(1)),
            )
        };
        // One lost video message may be a keyframe (as long as the last
        // one, or the largest message when none was seen).
        let key_extra = |o: &ChunkStream| {
            if o.type_id == type_id::VIDEO {
                let key = if o.key_len > 0 { o.key_len } else { o.max_len };
                cost_of(key as u64).saturating_sub(cost(o))
            } else {
                0
            }
        };
        // Live media: the packet clock bounds the timestamp.
        let paced = s.pace.highest(wall_ms(time));
        let mut best: Option<(u64, u64, u32)> = None;
        let mut best_any: Option<(u64, u64, u32)> = None;
        for n in n_floor..=hi {
            let b = base(n)?;
            let t = b.wrapping_add(value);
            let in_pace = paced.is_none_or(|hi| t as i64 <= hi);
            let mut bytes = n * cost(s);
            let mut key = if n > 0 { key_extra(s) } else { 0 };
            for (j, o) in self.streams.iter().enumerate() {
                if j != idx
                    && o.gap
                    && (o.msid == s.msid || !o.msid_known || !s.msid_known)
                    && o.len_n > 0
                    && matches!(o.type_id, type_id::AUDIO | type_id::VIDEO)
                {
                    let m = before(o, t, ty);
                    bytes += m * cost(o);
                    if m > 0 {
                        key = key.max(key_extra(o));
                    }
                }
            }
            let err = bytes.abs_diff(room).min((bytes + key).abs_diff(room));
            if in_pace && best.is_none_or(|(e, _, _)| err < e) {
                best = Some((err, n, b));
            }
            if best_any.is_none_or(|(e, _, _)| err < e) {
                best_any = Some((err, n, b));
            }
            if bytes > room && paced.is_none_or(|hi| t as i64 > hi) {
                break;
            }
        }
        best.or(best_any).map(|(_, n, b)| (n, b))
    }

    fn set_floor(&mut self, msid: u32, ts: u32) {
        if let Some(f) = self.floors.iter_mut().find(|f| f.0 == msid) {
            f.1 = ts;
        } else if self.floors.len() < MAX_FLOORS {
            self.floors.push((msid, ts));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn begin(
        &mut self,
        idx: usize,
        fmt: u8,
        ts: u32,
        delta: u32,
        ext: bool,
        estimate: Option<TimestampEstimate>,
        off: u64,
        hlen: usize,
        time: PacketTime,
        out: &mut Vec<ChunkOut>,
    ) {
        let cs = self.chunk_size;
        let s = &mut self.streams[idx];
        s.min_len = s.min_len.min(s.length);
        s.max_len = s.max_len.max(s.length);
        s.len_sum += s.length as u64;
        s.len_n += 1;
        let pay = off + hlen as u64;
        s.partial = Some(Partial {
            fmt,
            timestamp: ts,
            estimate,
            delta,
            ext,
            length: s.length,
            type_id: s.type_id,
            msid: s.msid,
            msid_known: s.msid_known,
            first_byte: off,
            chunks: smallvec::smallvec![ChunkRef {
                fmt,
                header: ByteRange::new(off, pay),
                payload: ByteRange::new(pay, pay),
            }],
            body: BodyBytes::new(),
            keep: if matches!(s.type_id, type_id::AUDIO | type_id::VIDEO) {
                Keep::Undecided
            } else {
                Keep::All
            },
            received: 0,
            dropping: false,
        });
        self.partial_bytes += CHUNK_REF_COST;
        let n = s.length.min(cs);
        self.start_payload(idx, n, time, out);
    }

    fn start_payload(&mut self, idx: usize, n: u32, time: PacketTime, out: &mut Vec<ChunkOut>) {
        if n == 0 {
            self.cur = None;
            self.complete_if_done(idx, time, out);
        } else {
            self.cur = Some((idx, n));
        }
    }
}

enum Hdr {
    NeedMore,
    Desync,
    Ok(usize),
}

/// The message of a partial, without its chunk list (callers move it in).
fn header_message(p: &Partial, csid: u32, time: PacketTime) -> Message {
    let last = p
        .chunks
        .last()
        .map(|c| {
            if c.payload.is_empty() {
                c.header.end
            } else {
                c.payload.end
            }
        })
        .unwrap_or(p.first_byte + 1);
    Message {
        fmt: p.fmt,
        csid,
        type_id: p.type_id,
        msid: p.msid,
        msid_unknown: !p.msid_known,
        timestamp: p.timestamp,
        timestamp_delta: p.delta,
        timestamp_estimate: p.estimate,
        extended_timestamp: p.ext,
        length: p.length,
        first_byte: p.first_byte,
        last_byte: last.saturating_sub(1).max(p.first_byte),
        chunks: Default::default(),
        time,
        truncated: None,
        body: Body::Raw,
    }
}

fn finish_partial(
    mut p: Partial,
    csid: u32,
    time: PacketTime,
    cause: Option<TruncationCause>,
) -> (Box<Message>, BodyBytes) {
    let mut m = header_message(&p, csid, time);
    m.chunks = std::mem::take(&mut p.chunks);
    if let Some(cause) = cause {
        let got = p.received.min(p.length);
        m.truncated = Some(Truncation {
            cause,
            received: got,
            lost: p.length - got,
        });
    }
    (Box::new(m), p.body)
}
