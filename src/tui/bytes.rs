//! Bounded in-memory store of recent stream bytes, per flow and direction,
//! for the hex view.
//!
//! Contract: the producer forwards reassembled stream data as
//! [`StreamBytes`]; [`ByteStore`] keeps at most [`MAX_STREAM_BYTES`] bytes in
//! total, evicting the oldest segments first. Lookups of evicted or never
//! seen offsets return `None` per byte ("bytes no longer available").

use std::collections::{HashMap, VecDeque};

use crate::event::{Direction, FlowId};

/// Total payload bytes kept for the hex view (all flows, both directions).
pub const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

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
    order: VecDeque<(FlowId, Direction)>,
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
        self.total += data.len();
        self.per.entry(key).or_default().push_back((offset, data));
        self.order.push_back(key);
        while self.total > self.cap {
            let Some(k) = self.order.pop_front() else {
                break;
            };
            if let Some(q) = self.per.get_mut(&k) {
                if let Some((_, d)) = q.pop_front() {
                    self.total -= d.len();
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
        // Segments arrive in stream order: binary search by start offset.
        let i = q.partition_point(|(o, _)| *o <= off);
        let (o, d) = q.get(i.checked_sub(1)?)?;
        d.get((off - o) as usize).copied()
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
}
