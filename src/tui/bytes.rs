//! Bounded in-memory store of recent stream bytes, per flow and direction,
//! for the hex view.
//!
//! Contract: the producer forwards reassembled stream data as
//! [`StreamBytes`]; [`ByteStore`] keeps at most [`MAX_STREAM_BYTES`] bytes in
//! total, evicting the oldest segments first. Segments may come in any
//! order (bytes re-read from the capture file for an older message come
//! after newer live ones): each direction's segments are kept sorted by
//! offset. Lookups of evicted or never seen offsets return `None` per byte
//! ("bytes no longer available").

use std::collections::{HashMap, VecDeque};

use crate::event::{Direction, FlowId};

/// Total payload bytes kept for the hex view (all flows, both directions).
pub const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

/// Segments looked at before a lookup gives up (partial overlaps).
const MAX_OVERLAP_SCAN: usize = 8;

/// In-order bytes of one direction of a flow, at stream offset `offset`
/// (the same offsets `Message::chunks` and `first_byte` use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamBytes {
    pub flow_id: FlowId,
    pub direction: Direction,
    pub offset: u64,
    pub data: Vec<u8>,
}

/// Segments of one direction: (stream offset, bytes), in stream order.
type Segments = VecDeque<(u64, Vec<u8>)>;

/// The bounded byte ring.
#[derive(Debug)]
pub struct ByteStore {
    cap: usize,
    total: usize,
    per: HashMap<(FlowId, Direction), Segments>,
    /// Segments in the order they came (the oldest is evicted first);
    /// entries of segments already gone are skipped.
    order: VecDeque<((FlowId, Direction), u64)>,
    /// Entries of `order` whose segment is gone.
    stale: usize,
}

impl Default for ByteStore {
    fn default() -> Self {
        ByteStore::with_capacity(MAX_STREAM_BYTES)
    }
}

impl ByteStore {
    /// A store holding at most `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        ByteStore {
            cap,
            total: 0,
            per: HashMap::new(),
            order: VecDeque::new(),
            stale: 0,
        }
    }

    /// Bytes currently held.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds a segment, evicting the oldest ones beyond the cap.
    pub fn push(&mut self, sb: StreamBytes) {
        if sb.data.is_empty() {
            return;
        }
        let mut data = sb.data;
        let mut offset = sb.offset;
        if data.len() > self.cap {
            let cut = data.len() - self.cap;
            data.drain(..cut);
            offset += cut as u64;
        }
        let key = (sb.flow_id, sb.direction);
        let q = self.per.entry(key).or_default();
        let end = offset + data.len() as u64;
        // Segments the new one covers entirely go (a re-read window that
        // overlaps an earlier one).
        let mut i = q.partition_point(|(o, _)| *o < offset);
        while let Some((o, d)) = q.get(i) {
            if *o >= end {
                break;
            }
            if *o + d.len() as u64 <= end {
                if let Some((_, d)) = q.remove(i) {
                    self.total -= d.len();
                    self.stale += 1;
                }
            } else {
                i += 1;
            }
        }
        // Sorted by offset (usually at the end: in-order live data).
        let at = q.partition_point(|(o, _)| *o <= offset);
        q.insert(at, (offset, data));
        self.total += (end - offset) as usize;
        self.order.push_back((key, offset));
        if self.stale > 1024 && self.stale > self.order.len() / 2 {
            let per = &self.per;
            self.order.retain(|(k, off)| {
                per.get(k).is_some_and(|q| {
                    let i = q.partition_point(|(o, _)| o < off);
                    q.get(i).is_some_and(|(o, _)| o == off)
                })
            });
            self.stale = 0;
        }
        while self.total > self.cap {
            let Some((k, off)) = self.order.pop_front() else {
                break;
            };
            if let Some(q) = self.per.get_mut(&k) {
                let i = q.partition_point(|(o, _)| *o < off);
                if q.get(i).is_some_and(|(o, _)| *o == off) {
                    if let Some((_, d)) = q.remove(i) {
                        self.total -= d.len();
                    }
                }
                if q.is_empty() {
                    self.per.remove(&k);
                }
            }
        }
    }

    /// One byte at a stream offset, if still held.
    pub fn get(&self, flow: FlowId, dir: Direction, off: u64) -> Option<u8> {
        let q = self.per.get(&(flow, dir))?;
        // Sorted by start offset: the last segment starting at or before
        // `off`, or (partial overlaps) one of the few before it.
        let i = q.partition_point(|(o, _)| *o <= off);
        q.range(..i)
            .rev()
            .take(MAX_OVERLAP_SCAN)
            .find_map(|(o, d)| d.get((off - o) as usize).copied())
    }

    /// Bytes for `[start, end)`, `None` where not held.
    pub fn range(&self, flow: FlowId, dir: Direction, start: u64, end: u64) -> Vec<Option<u8>> {
        (start..end).map(|o| self.get(flow, dir, o)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(off: u64, data: &[u8]) -> StreamBytes {
        StreamBytes {
            flow_id: 1,
            direction: Direction::ToServer,
            offset: off,
            data: data.to_vec(),
        }
    }

    #[test]
    fn lookup_and_eviction() {
        let mut s = ByteStore::with_capacity(8);
        s.push(sb(0, b"abcd"));
        s.push(sb(4, b"efgh"));
        assert_eq!(s.get(1, Direction::ToServer, 5), Some(b'f'));
        assert_eq!(s.get(1, Direction::ToClient, 5), None);
        s.push(sb(8, b"ij"));
        // "abcd" evicted to stay within 8 bytes.
        assert_eq!(s.len(), 6);
        assert_eq!(s.get(1, Direction::ToServer, 0), None);
        assert_eq!(
            s.range(1, Direction::ToServer, 3, 10),
            vec![
                None,
                Some(b'e'),
                Some(b'f'),
                Some(b'g'),
                Some(b'h'),
                Some(b'i'),
                Some(b'j')
            ]
        );
        assert_eq!(s.get(1, Direction::ToServer, 10), None);
    }

    /// Bytes of an older message re-read after newer ones were stored
    /// (the hex view said "not found in the capture file" for them).
    #[test]
    fn out_of_order_segments_are_found() {
        let mut s = ByteStore::with_capacity(1 << 20);
        s.push(sb(1000, b"later"));
        s.push(sb(10, b"early"));
        s.push(sb(500, b"middle"));
        assert_eq!(s.get(1, Direction::ToServer, 10), Some(b'e'));
        assert_eq!(s.get(1, Direction::ToServer, 14), Some(b'y'));
        assert_eq!(s.get(1, Direction::ToServer, 505), Some(b'e'));
        assert_eq!(s.get(1, Direction::ToServer, 1004), Some(b'r'));
        assert_eq!(s.get(1, Direction::ToServer, 15), None);
        // A window covering stored segments replaces them (no double count).
        s.push(sb(0, &[b'x'; 2000]));
        assert_eq!(s.len(), 2000);
        assert_eq!(s.get(1, Direction::ToServer, 1004), Some(b'x'));
        // Partial overlap: both stay reachable.
        s.push(sb(1990, b"0123456789abc"));
        assert_eq!(s.get(1, Direction::ToServer, 1985), Some(b'x'));
        assert_eq!(s.get(1, Direction::ToServer, 2002), Some(b'c'));
    }
}
