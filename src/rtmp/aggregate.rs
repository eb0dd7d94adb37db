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
//! raw (`rtmp.aggregate.nested`, warning). At most [`MAX_SUBMESSAGES`] are
//! decoded (`rtmp.aggregate.limit`, warning).
//!
//! Contract: never panics; no allocation from a length field before the
//! bytes exist (sub bodies are slices of the received body).

use super::body::decode_body_at_depth;
use super::message::{Body, ChunkRef, Message, Truncation, TruncationCause};
use super::reader::{anomaly, Reader};
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, ByteRange};

/// Sub-message tag header length.
pub const SUB_HEADER_LEN: usize = 11;
/// Back pointer length.
pub const BACK_POINTER_LEN: usize = 4;
/// Most sub-messages decoded from one aggregate (real ones carry tens to a
/// few thousand); the rest is reported with `rtmp.aggregate.limit`.
pub const MAX_SUBMESSAGES: usize = 16384;
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
    /// Stream offset of body offset `pos` (monotonic calls); past the
    /// received bytes: the end of the last piece.
    fn locate(&mut self, pos: u64) -> u64 {
        while let Some(c) = self.chunks.get(self.idx) {
            let len = c.payload.len();
            if pos < self.off + len {
                return c.payload.start + (pos - self.off);
            }
            self.off += len;
            self.idx += 1;
        }
        self.chunks.last().map(|c| c.payload.end).unwrap_or(0)
    }

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

/// Reports `rtmp.aggregate.truncated` from `hdr` to the end of `body`.
fn truncated_from(out: &mut Vec<Anomaly>, hdr: usize, body: &[u8], d: String) {
    out.push(anomaly(
        anomalies::RTMP_AGGREGATE_TRUNCATED,
        hdr,
        body.len(),
        d,
    ));
}

/// Decodes an aggregate body into sub-messages.
pub fn decode(parent: &Message, body: &[u8], depth: u32, out: &mut Vec<Anomaly>) -> Body {
    if depth >= MAX_AGGREGATE_DEPTH {
        out.push(anomaly(
            anomalies::RTMP_AGGREGATE_NESTED,
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
    let mut loc = ChunkCursor {
        chunks,
        idx: 0,
        off: 0,
    };
    let mut subs = Vec::new();
    let mut r = Reader::new(body);
    let mut first_ts: Option<u32> = None;
    let mut prev_ts = parent.timestamp;
    while r.remaining() > 0 {
        let hdr = r.pos();
        if subs.len() >= MAX_SUBMESSAGES {
            out.push(anomaly(
                anomalies::RTMP_AGGREGATE_LIMIT,
                hdr,
                body.len(),
                format!("more than {MAX_SUBMESSAGES} sub-messages; the rest is not decoded"),
            ));
            break;
        }
        if r.remaining() < SUB_HEADER_LEN {
            truncated_from(
                out,
                hdr,
                body,
                format!(
                    "{} bytes left, shorter than a sub-message header",
                    r.remaining()
                ),
            );
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
            truncated_from(
                out,
                hdr,
                body,
                format!(
                    "sub-message length {len} exceeds the {} bytes left",
                    body.len() - body_start
                ),
            );
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
                            anomalies::RTMP_AGGREGATE_BAD_BACK_POINTER,
                            body_end,
                            end,
                            format!("back pointer {bp}, expected {want}"),
                        ));
                    }
                }
                None => {
                    out.push(anomaly(
                        anomalies::RTMP_AGGREGATE_MISSING_BACK_POINTER,
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
            msid_unknown: parent.msid_unknown,
            timestamp,
            timestamp_delta: delta,
            timestamp_estimate: parent.timestamp_estimate.map(|e| {
                let shift = timestamp.wrapping_sub(parent.timestamp);
                super::message::TimestampEstimate {
                    low: e.low.wrapping_add(shift),
                    high: e.high.map(|h| h.wrapping_add(shift)),
                }
            }),
            extended_timestamp: parent.extended_timestamp,
            length: len,
            first_byte: loc.locate(hdr as u64),
            last_byte: loc.locate(end.saturating_sub(1).max(hdr) as u64),
            chunks: cur.pieces(body_start as u64, body_end as u64).into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::body::decode_body;
    use crate::rtmp::message::{type_id, Control, Video};
    use crate::rtmp::testutil::msg;

    pub(crate) fn sub(t: u8, ts: u32, body: &[u8], bp: Option<u32>) -> Vec<u8> {
        let mut v = vec![t];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&(ts & 0xff_ffff).to_be_bytes()[1..]);
        v.push((ts >> 24) as u8);
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(body);
        v.extend_from_slice(&bp.unwrap_or(11 + body.len() as u32).to_be_bytes());
        v
    }

    /// Parent with 10-byte chunk payloads separated by 2-byte headers.
    fn parent(len: usize) -> Message {
        let mut m = msg(type_id::AGGREGATE, len);
        m.timestamp = 5000;
        m.timestamp_delta = 33;
        m.first_byte = 100;
        let mut off = 0;
        let mut i = 0u64;
        while off < len {
            let n = (len - off).min(10) as u64;
            let h = 100 + 12 * i;
            m.chunks.push(ChunkRef {
                fmt: if i == 0 { 0 } else { 3 },
                header: ByteRange::new(h, h + 2),
                payload: ByteRange::new(h + 2, h + 2 + n),
            });
            off += n as usize;
            i += 1;
        }
        m
    }

    fn subs(m: &Message) -> &[Message] {
        match &m.body {
            Body::Aggregate(v) => v,
            b => panic!("{b:?}"),
        }
    }

    #[test]
    fn splits_rebases_and_maps_offsets() {
        let body = [
            sub(9, 1000, &[0x27, 1, 0, 0, 0, 0x41], None),
            sub(8, 1040, &[0xaf, 1, 1, 2], None),
            sub(1, 1040, &[0, 1], None),
        ]
        .concat();
        assert_eq!(body.len(), 57);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        let s = subs(&m);
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().map(|x| x.type_id).collect::<Vec<_>>(), [9, 8, 1]);
        assert_eq!(
            s.iter().map(|x| x.timestamp).collect::<Vec<_>>(),
            [5000, 5040, 5040]
        );
        assert_eq!(
            s.iter().map(|x| x.timestamp_delta).collect::<Vec<_>>(),
            [33, 40, 0]
        );
        assert!(matches!(
            &s[0].body,
            Body::Video(Video { frame_type: 2, .. })
        ));
        assert!(matches!(&s[1].body, Body::Audio(_)));
        // Only the set-chunk-size sub-message is malformed; its anomaly is
        // shifted into the aggregate's body offsets.
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].name, "rtmp.control.bad_length");
        assert_eq!(a[0].range, Some(ByteRange::new(51, 53)));
        for (x, (hdr, body_start, end)) in s.iter().zip([(0, 11, 21), (21, 32, 40), (40, 51, 57)]) {
            assert_eq!(x.csid, m.csid);
            assert_eq!(x.msid, m.msid);
            assert_eq!(Some(x.first_byte), m.stream_offset_of(hdr));
            assert_eq!(Some(x.last_byte), m.stream_offset_of(end - 1));
            for k in 0..x.length {
                assert_eq!(x.stream_offset_of(k), m.stream_offset_of(body_start + k));
            }
            assert_eq!(x.stream_offset_of(x.length), None);
            assert!(x.chunks.iter().all(|c| c.header.is_empty()));
        }
        // The video sub body (11..17) spans chunks 1 (10..20): one piece.
        assert_eq!(s[0].chunks.len(), 1);
        // The audio body (32..36) sits in chunk 3 (30..40).
        assert_eq!(s[1].chunks[0].payload, ByteRange::new(140, 144));
    }

    #[test]
    fn extended_timestamp_byte_and_wrap() {
        let body = [
            sub(8, 0x00ff_fff0, &[0x2f], None),
            sub(8, 0x0100_0010, &[0x2f], None),
        ]
        .concat();
        let mut m = parent(body.len());
        m.timestamp = u32::MAX - 5;
        decode_body(&mut m, &body);
        let s = subs(&m);
        assert_eq!(s[0].timestamp, u32::MAX - 5);
        assert_eq!(s[1].timestamp, (u32::MAX - 5).wrapping_add(0x20));
        assert_eq!(s[1].timestamp_delta, 0x20);
    }

    #[test]
    fn truncated_and_back_pointers() {
        // Sub-message length beyond the aggregate: bounded, marked truncated.
        let mut body = sub(9, 0, &[0x17, 1, 0, 0, 0], Some(99));
        body.extend(sub(8, 0, &[0xaf, 1, 9, 9, 9, 9, 9, 9], None));
        body.truncate(body.len() - 8);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        let names: Vec<_> = a.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "rtmp.aggregate.bad_back_pointer",
                "rtmp.aggregate.truncated"
            ]
        );
        let s = subs(&m);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].truncated, None);
        let tr = s[1].truncated.unwrap();
        assert_eq!((tr.received, tr.lost), (4, 4));
        assert_eq!(s[1].length, 8);
        // Missing final back pointer, then a stray partial header.
        let mut body = sub(8, 0, &[0x2f, 1], None);
        body.truncate(body.len() - 4);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        assert_eq!(a[0].name, "rtmp.aggregate.missing_back_pointer");
        assert_eq!(subs(&m).len(), 1);
        let mut body = sub(8, 0, &[0x2f, 1], None);
        body.extend_from_slice(&[8, 0, 0]);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        assert_eq!(a[0].name, "rtmp.aggregate.truncated");
        assert_eq!(a[0].range, Some(ByteRange::new(17, 20)));
    }

    #[test]
    fn nested_aggregate_not_decoded() {
        let inner = sub(1, 0, &[0, 0, 1, 0], None);
        let body = sub(22, 0, &inner, None);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        assert_eq!(a[0].name, "rtmp.aggregate.nested");
        assert_eq!(
            a[0].range,
            Some(ByteRange::new(11, 11 + inner.len() as u64))
        );
        assert_eq!(subs(&m)[0].body, Body::Raw);
    }

    #[test]
    fn submessage_limit() {
        let one = sub(8, 0, &[0x2f], None);
        let body = one.repeat(MAX_SUBMESSAGES + 2);
        let mut m = parent(body.len());
        let a = decode_body(&mut m, &body);
        assert_eq!(subs(&m).len(), MAX_SUBMESSAGES);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "rtmp.aggregate.limit");
        assert_eq!(
            a[0].range,
            Some(ByteRange::new(
                (MAX_SUBMESSAGES * one.len()) as u64,
                body.len() as u64
            ))
        );
    }

    #[test]
    fn chunkless_parent() {
        let body = sub(1, 7, &[0, 0, 0x10, 0], None);
        let mut m = msg(type_id::AGGREGATE, body.len());
        m.first_byte = 1000;
        decode_body(&mut m, &body);
        let s = subs(&m);
        assert_eq!(s[0].first_byte, 1000);
        assert_eq!(s[0].last_byte, 1000 + body.len() as u64 - 1);
        assert_eq!(s[0].stream_offset_of(0), Some(1011));
        assert_eq!(
            s[0].body,
            Body::Control(Control::SetChunkSize {
                size: 4096,
                ignored: false
            })
        );
    }
}
