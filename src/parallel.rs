//! The multi-threaded run of one input (`--threads N`, N >= 2): reading on
//! one thread; with N = 2 analysis and output on the caller's thread, with
//! N >= 3 analysis on a thread of its own and output on the caller's;
//! stages joined by bounded queues of batches. (Handing events to another
//! thread costs more than it gains on two cores: the events' allocations
//! are then freed on another thread than the one that made them.)
//!
//! Contract: the caller sees exactly the events, in exactly the order, of
//! the single-threaded run ([`crate::pipeline::Analyzer`] fed packet by
//! packet): the analyzer runs the same code on the same packets in the same
//! order; the threads only move packets and events between stages, packet
//! boundaries included. Memory stays flat: at most [`QUEUE_BATCHES`]
//! packet batches (each at most [`BATCH_BYTES`] of packet data, reused) and
//! as many event batches are in flight. If the consumer stops (an output
//! error), the queues close and the other stages stop at their next send.
//!
//! Flow sharding (reassembly and dissection of different flows on several
//! workers) is not done: the reassembler's limits (flow table LRU, total
//! memory, idle timeouts in packet time), the dissector memory cap, the
//! RTMPT layer (several TCP connections feed one virtual flow) and flow ids
//! in first-seen order are global state of one `Analyzer`; see
//! captures/README.md for what the pipeline gains without it.

use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::event::Event;
use crate::packet::RawPacket;
use crate::pipeline::Analyzer;
use crate::time::PacketTime;

/// Packets per batch (at most).
pub const BATCH_PACKETS: usize = 1024;
/// Bytes of packet data per batch (a batch is sent once it holds more).
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight per queue.
pub const QUEUE_BATCHES: usize = 4;

#[derive(Clone, Copy, Debug)]
struct PktMeta {
    pcap_cnt: u64,
    time: PacketTime,
    linktype: u32,
    origlen: u32,
    end: usize,
}

/// Packets copied out of the source, back to back in one buffer.
#[derive(Debug, Default)]
pub struct PacketBatch {
    data: Vec<u8>,
    pkts: Vec<PktMeta>,
}

impl PacketBatch {
    /// Appends one packet.
    pub fn push(&mut self, p: &RawPacket<'_>) {
        self.data.extend_from_slice(p.data);
        self.pkts.push(PktMeta {
            pcap_cnt: p.pcap_cnt,
            time: p.time,
            linktype: p.linktype,
            origlen: p.origlen,
            end: self.data.len(),
        });
    }

    /// True when the batch should be sent.
    pub fn full(&self) -> bool {
        self.pkts.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.pkts.clear();
    }

    fn packets(&self) -> impl Iterator<Item = RawPacket<'_>> {
        let mut start = 0;
        self.pkts.iter().map(move |m| {
            let data = self.data.get(start..m.end).unwrap_or_default();
            start = m.end;
            RawPacket {
                pcap_cnt: m.pcap_cnt,
                time: m.time,
                linktype: m.linktype,
                origlen: m.origlen,
                data,
            }
        })
    }
}

/// The events of a batch of packets: `bounds[i]` = (end of packet i's
/// events in `events`, captured length of packet i).
#[derive(Debug, Default)]
pub struct EventBatch {
    pub events: Vec<Event>,
    pub bounds: Vec<(usize, usize)>,
}

impl EventBatch {
    /// Each packet's events with its captured length, in order.
    pub fn per_packet(&self) -> impl Iterator<Item = (&[Event], usize)> {
        let mut start = 0;
        self.bounds.iter().map(move |&(end, len)| {
            let evs = self.events.get(start..end).unwrap_or_default();
            start = end;
            (evs, len)
        })
    }
}

/// The reader's side: fills batches and sends them to the analyzer.
pub struct BatchSender {
    tx: SyncSender<PacketBatch>,
    free: Receiver<PacketBatch>,
    cur: PacketBatch,
}

impl BatchSender {
    /// Adds a packet; sends the batch when full (or at once when `eager`,
    /// for a live capture). False when the analyzer is gone.
    pub fn push(&mut self, p: &RawPacket<'_>, eager: bool) -> bool {
        self.cur.push(p);
        if eager || self.cur.full() {
            return self.send();
        }
        true
    }

    /// Sends the current batch (if not empty). False when the analyzer is
    /// gone.
    pub fn send(&mut self) -> bool {
        if self.cur.is_empty() {
            return true;
        }
        let next = self.free.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.cur, next);
        self.tx.send(full).is_ok()
    }
}

/// The analyzer stage: every packet batch through `analyzer`, the events
/// of each batch (with packet boundaries) to `out`. Returns the analyzer
/// when the input queue closes (for the final flush), `None` when the
/// consumer is gone.
fn analyze(
    mut analyzer: Analyzer,
    rx: Receiver<PacketBatch>,
    free: mpsc::Sender<PacketBatch>,
    out: &SyncSender<EventBatch>,
) -> Option<Analyzer> {
    for mut batch in rx {
        let mut eb = EventBatch {
            events: Vec::new(),
            bounds: Vec::with_capacity(batch.pkts.len()),
        };
        for p in batch.packets() {
            analyzer.handle_packet(&p, &mut eb.events);
            eb.bounds.push((eb.events.len(), p.data.len()));
        }
        batch.clear();
        let _ = free.send(batch);
        if out.send(eb).is_err() {
            return None;
        }
    }
    Some(analyzer)
}

/// The analyzer on the caller's thread: like [`analyze`], handing each
/// event batch to `consume` (false: stop), reusing one event batch.
fn analyze_inline(
    mut analyzer: Analyzer,
    rx: Receiver<PacketBatch>,
    free: mpsc::Sender<PacketBatch>,
    mut consume: impl FnMut(&EventBatch) -> bool,
) -> Option<Analyzer> {
    let mut eb = EventBatch::default();
    for mut batch in rx {
        eb.events.clear();
        eb.bounds.clear();
        for p in batch.packets() {
            analyzer.handle_packet(&p, &mut eb.events);
            eb.bounds.push((eb.events.len(), p.data.len()));
        }
        batch.clear();
        let _ = free.send(batch);
        if !consume(&eb) {
            return None;
        }
    }
    Some(analyzer)
}

/// Runs `read` (which feeds a [`BatchSender`] and returns its result) on
/// a reader thread, the analyzer on a second thread, and `consume` on the
/// caller's thread for every event batch, in order. After the input ends,
/// `finish` runs on the analyzer (with the reader's result) and its final
/// events go to `consume_final`. A consumer error stops the run and is
/// returned.
pub fn run<R, E, Read, Fin, Con>(
    threads: usize,
    analyzer: Analyzer,
    read: Read,
    finish: Fin,
    mut consume: Con,
) -> Result<(R, Vec<Event>), E>
where
    R: Send,
    Read: FnOnce(&mut BatchSender) -> R + Send,
    Fin: FnOnce(&mut Analyzer, &R) -> Vec<Event> + Send,
    Con: FnMut(&EventBatch) -> Result<(), E>,
{
    let (ptx, prx) = mpsc::sync_channel::<PacketBatch>(QUEUE_BATCHES);
    let (free_tx, free_rx) = mpsc::channel::<PacketBatch>();
    let (etx, erx) = mpsc::sync_channel::<EventBatch>(QUEUE_BATCHES);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut sender = BatchSender {
                tx: ptx,
                free: free_rx,
                cur: PacketBatch::default(),
            };
            let r = read(&mut sender);
            sender.send();
            r
        });
        let mut failed = None;
        let analyzer = if threads >= 3 {
            let worker = s.spawn(move || analyze(analyzer, prx, free_tx, &etx));
            for eb in erx.iter() {
                if let Err(e) = consume(&eb) {
                    failed = Some(e);
                    break;
                }
            }
            // Closing the event queue stops the analyzer, whose end closes
            // the packet queue and stops the reader.
            drop(erx);
            worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        } else {
            drop((etx, erx));
            analyze_inline(analyzer, prx, free_tx, |eb| match consume(eb) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            })
        };
        let r = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        if let Some(e) = failed {
            return Err(e);
        }
        let final_events = match analyzer {
            Some(mut a) => finish(&mut a, &r),
            None => Vec::new(),
        };
        Ok((r, final_events))
    })
}
