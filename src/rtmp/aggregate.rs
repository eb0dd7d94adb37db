//! Aggregate messages (type 22): a sequence of FLV-tag-like sub-messages.
//!
//! Each sub-message: type u8, body length u24, timestamp u24 + extended u8
//! (upper byte), stream id u24, body, back pointer u32 (= 11 + body
//! length). Each sub-message is bounded by its own length (W15) and by the
//! bytes left (`rtmp.aggregate.truncated`, error: the received part is
//! decoded and the sub-message marked truncated); back pointers are checked
//! (`rtmp.aggregate.bad_back_pointer`, warning; a missing one is
//! `rtmp.aggregate.missing_back_pointer`, warning). Timestamps are rebased:
//! `sub.timestamp = aggregate.timestamp + (sub_ts - first_sub_ts)`
//! (wrapping). Sub-messages copy fmt, csid, msid, time and the
//! extended-timestamp flag from the aggregate; their `chunks` are the pieces
//! of the aggregate's chunk payloads that hold the sub body (empty header
//! ranges), so `stream_offset_of` works on them; `first_byte`/`last_byte`
//! are the sub-message's own bytes (tag header to back pointer). Each is
//! decoded with `decode_body`; anomalies are returned in the aggregate's
//! body-relative offsets. Aggregates nested inside an aggregate are kept
//! raw (`rtmp.aggregate.nested`, warning).
//!
//! Contract: never panics; no allocation from a length field before the
//! bytes exist (sub bodies are slices of the received body).

use super::body::{anomaly, decode_body_at_depth, Reader};
use super::message::{Body, ChunkRef, Message, Truncation, TruncationCause};
use crate::event::{Anomaly, ByteRange, Severity};

/// Sub-message tag header length.
pub const SUB_HEADER_LEN: usize = 11;
/// Back pointer length.
pub const BACK_POINTER_LEN: usize = 4;
/// Aggregates are decoded at depth 0 only; one nested in another is raw.
pub const MAX_AGGREGATE_DEPTH: u32 = 1;

/// Walks the parent's chunk payloads in body order.
struct ChunkCursor<'a> {
    chunks: &'a [ChunkRef],
    idx: usize,
    /// Body offset of `chunks[idx]`'s first payload byte.
    off: u64,
}

impl ChunkCursor<'_> {
    /// Pieces covering body range `[start, end)` (monotonic calls).
    fn pieces(&mut self, start: u64, end: u64) -> Vec<ChunkRef> {
        let mut v = Vec::new();
        while let Some(c) = self.chunks.get(self.idx) {
            let len = c.payload.len();
            if self.off + len <= start {
                self.off += len;
                self.idx += 1;
                continue;
            }
            if self.off >= end {
                break;
            }
            let s = start.max(self.off) - self.off;
            let e = end.min(self.off + len) - self.off;
            if e > s {
                let p = ByteRange::new(c.payload.start + s, c.payload.start + e);
                v.push(ChunkRef {
                    fmt: c.fmt,
                    header: ByteRange::new(p.start, p.start),
                    payload: p,
                });
            }
            if self.off + len > end {
                break;
            }
            self.off += len;
            self.idx += 1;
        }
        v
    }
}

fn shift(a: &mut Anomaly, by: usize) {
    if let Some(r) = a.range.as_mut() {
        *r = ByteRange::new(r.start + by as u64, r.end + by as u64);
    }
}

/// Decodes an aggregate body into sub-messages.
pub fn decode(parent: &Message, body: &[u8], depth: u32, out: &mut Vec<Anomaly>) -> Body {
    if depth >= MAX_AGGREGATE_DEPTH {
        out.push(anomaly(
            "rtmp.aggregate.nested",
            Severity::Warning,
            0,
            body.len(),
            "aggregate message inside an aggregate: not decoded",
        ));
        return Body::Raw;
    }
    // Chunkless parents: one synthetic piece so offsets still map.
    let synthetic;
    let chunks: &[ChunkRef] = if parent.chunks.is_empty() {
        synthetic = [ChunkRef {
            fmt: parent.fmt,
            header: ByteRange::new(parent.first_byte, parent.first_byte),
            payload: ByteRange::new(parent.first_byte, parent.first_byte + body.len() as u64),
        }];
        &synthetic
    } else {
        &parent.chunks
    };
    let mut cur = ChunkCursor {
        chunks,
        idx: 0,
        off: 0,
    };
    let stream_off = |o: usize| -> u64 {
        let mut rem = o as u64;
        for c in chunks {
            if rem < c.payload.len() {
                return c.payload.start + rem;
            }
            rem -= c.payload.len();
        }
        chunks
            .last()
            .map(|c| c.payload.end)
            .unwrap_or(parent.first_byte)
    };
    let mut subs = Vec::new();
    let mut r = Reader::new(body);
    let mut first_ts: Option<u32> = None;
    let mut prev_ts = parent.timestamp;
    while r.remaining() > 0 {
        let hdr = r.pos();
        if r.remaining() < SUB_HEADER_LEN {
            out.push(anomaly(
                "rtmp.aggregate.truncated",
                Severity::Error,
                hdr,
                body.len(),
                format!(
                    "{} bytes left, shorter than a sub-message header",
                    r.remaining()
                ),
            ));
            break;
        }
        let t = r.u8().unwrap_or(0);
        let len = r.u24().unwrap_or(0);
        let ts_lo = r.u24().unwrap_or(0);
        let ts_hi = r.u8().unwrap_or(0);
        let _stream_id = r.u24();
        let sub_ts = ts_lo | (ts_hi as u32) << 24;
        let base = *first_ts.get_or_insert(sub_ts);
        let body_start = r.pos();
        let want_end = body_start + len as usize;
        let body_end = want_end.min(body.len());
        let mut truncated = None;
        if want_end > body.len() {
            out.push(anomaly(
                "rtmp.aggregate.truncated",
                Severity::Error,
                hdr,
                body.len(),
                format!(
                    "sub-message length {len} exceeds the {} bytes left",
                    body.len() - body_start
                ),
            ));
            let received = (body_end - body_start) as u32;
            truncated = Some(Truncation {
                cause: parent
                    .truncated
                    .map(|t| t.cause)
                    .unwrap_or(TruncationCause::EndOfStream),
                received,
                lost: len - received,
            });
        }
        let mut end = body_end;
        r = Reader::at(body, body_end);
        if truncated.is_none() {
            match r.u32() {
                Some(bp) => {
                    end = r.pos();
                    let want = SUB_HEADER_LEN as u32 + len;
                    if bp != want {
                        out.push(anomaly(
                            "rtmp.aggregate.bad_back_pointer",
                            Severity::Warning,
                            body_end,
                            end,
                            format!("back pointer {bp}, expected {want}"),
                        ));
                    }
                }
                None => {
                    out.push(anomaly(
                        "rtmp.aggregate.missing_back_pointer",
                        Severity::Warning,
                        body_end,
                        body.len(),
                        "sub-message without its back pointer",
                    ));
                    end = body.len();
                    r.skip_to_end();
                }
            }
        }
        let timestamp = parent.timestamp.wrapping_add(sub_ts.wrapping_sub(base));
        let delta = if subs.is_empty() {
            parent.timestamp_delta
        } else {
            timestamp.wrapping_sub(prev_ts)
        };
        prev_ts = timestamp;
        let mut sub = Message {
            fmt: parent.fmt,
            csid: parent.csid,
            type_id: t,
            msid: parent.msid,
            timestamp,
            timestamp_delta: delta,
            extended_timestamp: parent.extended_timestamp,
            length: len,
            first_byte: stream_off(hdr),
            last_byte: stream_off(end.saturating_sub(1).max(hdr)),
            chunks: cur.pieces(body_start as u64, body_end as u64),
            time: parent.time,
            truncated,
            body: Body::Raw,
        };
        let sub_body = body.get(body_start..body_end).unwrap_or(&[]);
        let mut an = decode_body_at_depth(&mut sub, sub_body, depth + 1);
        for a in an.iter_mut() {
            shift(a, body_start);
        }
        out.extend(an);
        subs.push(sub);
    }
    Body::Aggregate(subs)
}
