//! Classic pcap files read in big blocks, records parsed in place.
//!
//! libpcap reads a savefile record by record through stdio (a 4 KB
//! buffer: a `read` system call every few packets, and a copy of every
//! packet out of the stdio buffer into its own). This reader fills one
//! reused buffer of [`BLOCK_BYTES`] with large reads and hands each
//! record's bytes to the caller where they lie.
//!
//! Contract: it only reads what libpcap would read the same way: a file
//! header of version 2.4 (microsecond or nanosecond magic, either byte
//! order) and, record by record, headers whose captured length is at most
//! the file's snapshot length and [`MAX_RECORD_BYTES`], whose timestamp is
//! in range, and whose bytes are all in the file. At the first record that
//! is anything else (a truncated file, a damaged header, an odd snapshot
//! length) it stops and says so ([`Next::Handover`]); the caller then
//! reads on with libpcap from that record, so libpcap's own rules and error
//! messages apply to everything this reader does not accept. Memory: one
//! buffer of [`BLOCK_BYTES`].
//!
//! Read-ahead ([`BlockReader::read_ahead`], `--threads` 2 and up): a thread
//! of its own makes the `read` calls (the kernel's copy of the file's pages
//! is a third of a whole run's CPU time) into [`AHEAD_BUFFERS`] buffers of
//! [`HEAD_ROOM`] + [`BLOCK_BYTES`] bytes, filled from [`HEAD_ROOM`] on and
//! handed over whole; the record cut at the end of one block is moved into
//! the head room of the next, so records are still parsed in place. The
//! records and their order are the same as without it.

use std::io::Read;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use crate::time::PacketTime;

/// Bytes read per `read` call (the buffer is reused for the whole file).
pub const BLOCK_BYTES: usize = 1 << 20;
/// Largest captured length this reader accepts (libpcap's maximum snapshot
/// length for the common link types); longer records go to libpcap.
pub const MAX_RECORD_BYTES: u32 = 262_144;

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;
/// Room kept before each read-ahead block for the record the previous
/// block cut (at most one whole record).
pub const HEAD_ROOM: usize = RECORD_HEADER + MAX_RECORD_BYTES as usize;
/// Bytes of one read-ahead block.
pub const AHEAD_BLOCK_BYTES: usize = 256 << 10;
/// Buffers of the read-ahead thread (memory: this many times
/// [`HEAD_ROOM`] + [`BLOCK_BYTES`]).
pub const AHEAD_BUFFERS: usize = 3;

/// Where the bytes come from.
enum Fill<R> {
    /// `read` on this thread into the one buffer.
    Direct(R),
    /// Whole blocks from the read-ahead thread.
    Ahead(ReadAhead),
}

/// The consumer's end of the read-ahead thread. Dropping it stops the
/// thread (its next send or receive fails) and waits for it.
struct ReadAhead {
    full: Option<Receiver<(Vec<u8>, usize)>>,
    free: Option<Sender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.full.take();
        self.free.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The read-ahead thread: fills buffers from `HEAD_ROOM` on, each with
/// `BLOCK_BYTES` unless the file ends (then the last one is short, and a
/// read error ends it like the end of the file).
fn read_ahead_loop<R: Read>(
    mut input: R,
    full: SyncSender<(Vec<u8>, usize)>,
    free: Receiver<Vec<u8>>,
) {
    let mut made = 0;
    loop {
        let mut buf = match free.try_recv() {
            Ok(b) => b,
            Err(_) if made < AHEAD_BUFFERS => {
                made += 1;
                Vec::new()
            }
            Err(_) => match free.recv() {
                Ok(b) => b,
                Err(_) => return,
            },
        };
        buf.resize(HEAD_ROOM + AHEAD_BLOCK_BYTES, 0);
        let mut n = 0;
        let mut done = false;
        while n < AHEAD_BLOCK_BYTES {
            match input.read(&mut buf[HEAD_ROOM + n..]) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    done = true;
                    break;
                }
            }
        }
        if full.send((buf, n)).is_err() || done {
            return;
        }
    }
}

/// One record: its timestamp, original length and where its bytes lie in
/// [`BlockReader::data`].
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub time: PacketTime,
    pub origlen: u32,
    pub start: usize,
    pub end: usize,
}

/// What [`BlockReader::next`] found.
#[derive(Debug)]
pub enum Next {
    Record(Record),
    End,
    /// A record this reader does not read: libpcap takes over at it.
    Handover,
}

/// See the module doc.
pub struct BlockReader<R: Read> {
    input: Fill<R>,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[at..len]`.
    at: usize,
    len: usize,
    eof: bool,
    big_endian: bool,
    nano: bool,
    snaplen: u32,
}

impl<R: Read> BlockReader<R> {
    /// Reads the file header; `None` when the file is not a plain classic
    /// pcap file of version 2.4 (then libpcap reads it all).
    pub fn new(mut input: R) -> Option<BlockReader<R>> {
        let mut head = [0u8; FILE_HEADER];
        input.read_exact(&mut head).ok()?;
        let magic = [head[0], head[1], head[2], head[3]];
        let (big_endian, nano) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return None,
        };
        let u16_at = |i: usize| {
            let b = [head[i], head[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            let b = [head[i], head[i + 1], head[i + 2], head[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        // Version 2.4 only (older files swap caplen and len); link type
        // without FCS bits.
        if (u16_at(4), u16_at(6)) != (2, 4) || u32_at(20) > 0xffff {
            return None;
        }
        Some(BlockReader {
            input: Fill::Direct(input),
            buf: vec![0; BLOCK_BYTES],
            at: 0,
            len: 0,
            eof: false,
            big_endian,
            nano,
            snaplen: u32_at(16),
        })
    }

    /// Moves the `read` calls to a thread of their own (see the module
    /// doc). `None` when no thread could be started (nothing is lost: the
    /// caller reads on with libpcap from the first record).
    pub fn read_ahead(self) -> Option<BlockReader<R>>
    where
        R: Send + 'static,
    {
        let Fill::Direct(input) = self.input else {
            return Some(self);
        };
        if self.len != self.at {
            return None;
        }
        let (full_tx, full_rx) = mpsc::sync_channel(AHEAD_BUFFERS - 1);
        let (free_tx, free_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rtmpscope-read".into())
            .spawn(move || read_ahead_loop(input, full_tx, free_rx))
            .ok()?;
        Some(BlockReader {
            input: Fill::Ahead(ReadAhead {
                full: Some(full_rx),
                free: Some(free_tx),
                thread: Some(thread),
            }),
            buf: Vec::new(),
            at: 0,
            len: 0,
            ..self
        })
    }

    /// [`BlockReader::have`] from the read-ahead thread's blocks: the
    /// unparsed tail (shorter than `want`, at most [`HEAD_ROOM`]) moves into
    /// the next block's head room.
    fn have_ahead(&mut self, want: usize) -> bool {
        let Fill::Ahead(a) = &mut self.input else {
            return false;
        };
        while self.len - self.at < want {
            let tail = self.len - self.at;
            let got = a.full.as_ref().and_then(|rx| rx.recv().ok());
            let Some((mut next, n)) = got else {
                self.eof = true;
                return false;
            };
            if n == 0 || tail > HEAD_ROOM || next.len() < HEAD_ROOM + n {
                self.eof = true;
                return false;
            }
            let start = HEAD_ROOM - tail;
            next[start..HEAD_ROOM].copy_from_slice(&self.buf[self.at..self.len]);
            let old = std::mem::replace(&mut self.buf, next);
            if let Some(tx) = &a.free {
                if old.capacity() > 0 {
                    let _ = tx.send(old);
                }
            }
            self.at = start;
            self.len = HEAD_ROOM + n;
        }
        true
    }

    fn u32_at(&self, i: usize) -> u32 {
        let b = self.buf.get(i..i + 4).unwrap_or(&[0; 4]);
        let b = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Makes at least `want` unparsed bytes available, if the file has
    /// them: moves the tail to the front and reads. False at end of file
    /// (or on a read error: libpcap then reads and reports it).
    fn have(&mut self, want: usize) -> bool {
        if self.len - self.at >= want {
            return true;
        }
        if self.eof {
            return false;
        }
        let Fill::Direct(input) = &mut self.input else {
            return self.have_ahead(want);
        };
        self.buf.copy_within(self.at..self.len, 0);
        self.len -= self.at;
        self.at = 0;
        while self.len < want {
            match input.read(&mut self.buf[self.len..]) {
                Ok(0) | Err(_) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => self.len += n,
            }
        }
        true
    }

    /// The next record (see [`Next`]).
    pub fn next(&mut self) -> Next {
        if !self.have(RECORD_HEADER) {
            return if self.len == self.at && self.eof {
                Next::End
            } else {
                Next::Handover
            };
        }
        let h = self.at;
        let (sec, frac) = (self.u32_at(h), self.u32_at(h + 4));
        let (caplen, origlen) = (self.u32_at(h + 8), self.u32_at(h + 12));
        let frac_max = if self.nano { 1_000_000_000 } else { 1_000_000 };
        if caplen > self.snaplen
            || caplen > MAX_RECORD_BYTES
            || sec > i32::MAX as u32
            || frac >= frac_max
        {
            return Next::Handover;
        }
        let need = RECORD_HEADER + caplen as usize;
        if !self.have(need) {
            return Next::Handover;
        }
        let start = self.at + RECORD_HEADER;
        let end = start + caplen as usize;
        self.at = end;
        let nsec = if self.nano { frac } else { frac * 1000 };
        Next::Record(Record {
            time: PacketTime::new(i64::from(sec), nsec),
            origlen,
            start,
            end,
        })
    }

    /// The bytes of a record [`BlockReader::next`] returned (valid until
    /// the next call).
    pub fn data(&self, r: &Record) -> &[u8] {
        self.buf.get(r.start..r.end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(nano: bool, big: bool, snaplen: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut v = Vec::new();
        w32(&mut v, if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, snaplen);
        w32(&mut v, 1);
        for (sec, frac, data) in records {
            w32(&mut v, *sec);
            w32(&mut v, *frac);
            w32(&mut v, data.len() as u32);
            w32(&mut v, data.len() as u32 + 4);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_records_in_place_across_blocks() {
        let big = vec![7u8; 200_000];
        let recs: Vec<(u32, u32, &[u8])> = (0..12)
            .map(|i| (i, 5 * i, if i % 2 == 0 { &big[..] } else { &b"abc"[..] }))
            .collect();
        for (nano, be, ahead) in [
            (false, false, false),
            (true, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            let f = file(nano, be, 262_144, &recs);
            let r = BlockReader::new(std::io::Cursor::new(f)).expect("pcap 2.4");
            let mut r = if ahead {
                let r = r.read_ahead().expect("thread");
                assert!(matches!(r.input, Fill::Ahead(_)));
                r
            } else {
                r
            };
            for (sec, frac, data) in &recs {
                let Next::Record(rec) = r.next() else {
                    panic!("record")
                };
                assert_eq!(r.data(&rec), *data);
                assert_eq!(rec.origlen, data.len() as u32 + 4);
                let nsec = if nano { *frac } else { frac * 1000 };
                assert_eq!(rec.time, PacketTime::new(i64::from(*sec), nsec));
            }
            assert!(matches!(r.next(), Next::End));
        }
    }

    #[test]
    fn what_libpcap_must_judge_is_handed_over() {
        // Cut in the middle of a record, then of a record header.
        let f = file(
            false,
            false,
            65_535,
            &[(1, 0, b"abcdef"), (2, 0, b"ghijkl")],
        );
        for cut in [f.len() - 2, f.len() - 20] {
            let mut r = BlockReader::new(&f[..cut]).expect("pcap");
            assert!(matches!(r.next(), Next::Record(_)));
            assert!(matches!(r.next(), Next::Handover));
            let c = std::io::Cursor::new(f[..cut].to_vec());
            let mut r = BlockReader::new(c)
                .expect("pcap")
                .read_ahead()
                .expect("thread");
            assert!(matches!(r.next(), Next::Record(_)));
            assert!(matches!(r.next(), Next::Handover));
        }
        // Captured length above the snapshot length; usec out of range.
        let f = file(false, false, 4, &[(1, 0, b"abcdef")]);
        assert!(matches!(
            BlockReader::new(&f[..]).expect("pcap").next(),
            Next::Handover
        ));
        let f = file(false, false, 100, &[(1, 1_000_000, b"abcdef")]);
        assert!(matches!(
            BlockReader::new(&f[..]).expect("pcap").next(),
            Next::Handover
        ));
        // Not version 2.4, pcapng: not read at all.
        let mut f = file(false, false, 100, &[]);
        f[6] = 3;
        assert!(BlockReader::new(&f[..]).is_none());
        assert!(BlockReader::new(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0][..]).is_none());
    }
}
