//! The multi-threaded runs of one input (`--threads N`, N >= 2). Stdin and
//! live captures ([`run`]): reading on one thread; with N = 2 analysis and output on the caller's thread, with
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
//! Flow sharding ([`run_sharded`], file input): the file's `read` calls run
//! on a read-ahead thread of the source (`capture::block`), reassembly
//! stays on the reading thread (the flow table, its limits and flow ids in first-seen
//! order are global), dissection of each flow runs on the worker owning
//! it, and the caller's thread merges the workers' events back into the
//! single-threaded order. What cannot be split exactly (the dissector
//! memory cap reached, an RTMPT tunnel) makes the run fall back to a
//! single-threaded re-read; see [`run_sharded`]. Its memory is bounded the
//! same way: [`QUEUE_BATCHES`] job batches per worker (each sent at
//! [`BATCH_PACKETS`] packets or [`BATCH_BYTES`] of payload) and as many
//! result batches. Cost (captures/README.md): every payload byte is copied
//! once more (into the worker's batch) and every event crosses threads, so
//! on 2 cores a sharded run takes 30-60% more CPU than one thread (and is
//! the fastest in wall time on an idle machine).

use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::event::{Anomaly, Event, FlowId, PacketRef};
use crate::packet::RawPacket;
use crate::pipeline::{Analyzer, Config, Job, RunEnd};
use crate::reassembly::{FlowEndInfo, FlowStartInfo, Side, Sink};
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

/// Flow-sharded run (`--threads N`, N >= 2, file input): the reading
/// thread decodes and reassembles (global state: the flow table and its
/// limits, flow ids) and records every reassembler callback as a [`Job`]
/// for the worker owning the flow (flow id modulo the worker count;
/// flow-less diagnostics to worker 0); each worker replays its jobs on its
/// own [`Analyzer`] (sniffer, RTMP dissector, TLS, rate limiter of its
/// flows); the caller's thread puts the workers' events back in job order
/// (the order of the single-threaded run) and hands them to the consumer.
///
/// Exactness: every flow's jobs reach one analyzer in the single-threaded
/// order, so each flow's events are the same. The cross-flow state is
/// recomputed here in job order: the dissector memory total (and its
/// peak), and at the end the rate-limiter lines still pending (sorted by
/// flow as [`Analyzer::finish_run`] sorts them) and the totals. Two things
/// cannot be sharded exactly: the dissector memory cap being reached
/// (the single-threaded run then frees partial messages of the largest
/// flows, whichever worker holds them) and an RTMPT tunnel (its virtual
/// flow id comes from the same sequence as TCP flow ids). When either
/// happens the run stops before the job that caused it, having delivered
/// only whole packets, and returns [`Sharded::Fallback`]: the caller
/// re-reads the input single-threaded and skips that many packets' events.
pub fn run_sharded<R, E, Read, EndOf, Con>(
    workers: usize,
    config: &Config,
    read: Read,
    end_of: EndOf,
    mut consume: Con,
) -> Result<Sharded<R>, E>
where
    R: Send,
    Read: FnOnce(&mut ShardSender) -> Option<R> + Send,
    EndOf: FnOnce(&R) -> RunEnd + Send,
    Con: FnMut(&EventBatch) -> Result<(), E>,
{
    let workers = workers.max(1);
    let cap = config
        .max_dissector_mem
        .unwrap_or(crate::rtmp::DEFAULT_MAX_DISSECTOR_MEMORY);
    let (sched_tx, sched_rx) = mpsc::sync_channel::<Schedule>(QUEUE_BATCHES);
    let mut work_txs = Vec::new();
    let mut work_rxs = Vec::new();
    let mut res_txs = Vec::new();
    let mut res_rxs = Vec::new();
    let mut free_work_txs = Vec::new();
    let mut free_work_rxs = Vec::new();
    let mut free_ev_txs = Vec::new();
    let mut free_ev_rxs = Vec::new();
    for _ in 0..workers {
        let (t, r) = mpsc::channel::<WorkBatch>();
        free_work_txs.push(t);
        free_work_rxs.push(r);
        let (t, r) = mpsc::channel::<Vec<Event>>();
        free_ev_txs.push(t);
        free_ev_rxs.push(r);
        let (t, r) = mpsc::sync_channel::<WorkBatch>(QUEUE_BATCHES);
        work_txs.push(t);
        work_rxs.push(r);
        let (t, r) = mpsc::sync_channel::<ResultBatch>(QUEUE_BATCHES);
        res_txs.push(t);
        res_rxs.push(r);
    }
    let front = Analyzer::new(config.clone());
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut sender = ShardSender {
                front,
                work: work_txs,
                free: free_work_rxs,
                sched: sched_tx,
                cur: (0..workers).map(|_| WorkBatch::default()).collect(),
                slots: Vec::new(),
                bytes: 0,
                packets: 0,
            };
            let r = read(&mut sender);
            if let Some(r) = &r {
                sender.finish(&end_of(r));
            }
            (r, sender.front)
        });
        for (((rx, tx), free_work), free_ev) in work_rxs
            .into_iter()
            .zip(res_txs)
            .zip(free_work_txs)
            .zip(free_ev_rxs)
        {
            let an = Analyzer::shard_worker(config);
            s.spawn(move || work(an, rx, tx, free_work, free_ev));
        }
        let mut mem = vec![0usize; workers];
        let (mut sum, mut peak) = (0usize, 0usize);
        let mut delivered = 0u64;
        let mut eb = EventBatch::default();
        let mut final_events = Vec::new();
        let mut finals: Vec<Analyzer> = Vec::new();
        let mut left: Vec<(Option<FlowId>, Event)> = Vec::new();
        let mut fallback = false;
        let mut complete = false;
        'batches: for sched in sched_rx.iter() {
            let mut results = Vec::with_capacity(workers);
            for rx in &res_rxs {
                match rx.recv() {
                    Ok(r) => results.push(r),
                    Err(_) => break 'batches,
                }
            }
            let mut events = Vec::with_capacity(workers);
            let mut outs = Vec::with_capacity(workers);
            for r in &mut results {
                events.push(r.events.drain(..));
                outs.push(r.outs.iter().copied());
                left.append(&mut r.left);
                if let Some(a) = r.worker.take() {
                    finals.push(*a);
                }
            }
            eb.events.clear();
            eb.bounds.clear();
            for slot in &sched.slots {
                match *slot {
                    Slot::Job(w) => {
                        let Some(o) = outs.get_mut(w).and_then(Iterator::next) else {
                            break 'batches;
                        };
                        sum = sum - mem[w] + o.mem;
                        mem[w] = o.mem;
                        peak = peak.max(sum);
                        if sum > cap || o.tunnel {
                            fallback = true;
                            break;
                        }
                        eb.events.extend(events[w].by_ref().take(o.events));
                    }
                    Slot::Packet(len) => eb.bounds.push((eb.events.len(), len)),
                }
            }
            drop(events);
            drop(outs);
            for (r, tx) in results.iter_mut().zip(&free_ev_txs) {
                r.events.clear();
                let _ = tx.send(std::mem::take(&mut r.events));
            }
            let whole = eb.bounds.last().map_or(0, |b| b.0);
            let tail: Vec<Event> = eb.events.drain(whole..).collect();
            delivered += eb.bounds.len() as u64;
            consume(&eb)?;
            if fallback {
                break;
            }
            if sched.last {
                final_events = tail;
                complete = true;
                break;
            }
        }
        drop(res_rxs);
        drop(sched_rx);
        let (r, mut front) = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        if fallback {
            return Ok(Sharded::Fallback { delivered });
        }
        let Some(r) = r.filter(|_| complete && finals.len() == workers) else {
            return Ok(Sharded::Stopped);
        };
        // The rate-limiter lines left at the end, by flow (each key lives
        // in one worker; the sort is stable).
        left.sort_by_key(|(k, _)| *k);
        final_events.extend(left.into_iter().map(|(_, e)| e));
        for w in &finals {
            front.absorb(w, peak);
        }
        Ok(Sharded::Done {
            read: r,
            front: Box::new(front),
            final_events,
        })
    })
}

/// How a sharded run ended.
#[derive(Debug)]
pub enum Sharded<R> {
    /// Every event but `stats` was delivered (the final ones are in
    /// `final_events`); `front` holds all totals for
    /// [`Analyzer::shard_stats`].
    Done {
        read: R,
        front: Box<Analyzer>,
        final_events: Vec<Event>,
    },
    /// The run cannot continue sharded (see [`run_sharded`]); the events of
    /// the first `delivered` packets were delivered.
    Fallback { delivered: u64 },
    /// The reader stopped early (the consumer is gone).
    Stopped,
}

/// A worker's share of one batch of packets.
#[derive(Debug, Default)]
struct WorkBatch {
    jobs: Vec<(Job, PacketRef)>,
    /// The bytes of the `Data` jobs, back to back.
    data: Vec<u8>,
    /// The final batch: the worker ends after it.
    last: bool,
    /// The final batch: the last packet (for the end-of-input lines).
    pref: PacketRef,
}

/// What a job left in a worker.
#[derive(Clone, Copy, Debug)]
struct JobOut {
    /// Events it produced (the next ones of the batch's events).
    events: usize,
    /// The worker's dissector memory after it.
    mem: usize,
    /// The worker opened an RTMPT tunnel (by this job or earlier).
    tunnel: bool,
}

/// A worker's results for one batch.
#[derive(Debug, Default)]
struct ResultBatch {
    events: Vec<Event>,
    outs: Vec<JobOut>,
    /// Final batch: the pending rate-limiter lines by key, and the worker.
    left: Vec<(Option<FlowId>, Event)>,
    worker: Option<Box<Analyzer>>,
}

/// The order of a batch: jobs (by worker) and packet ends.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Job(usize),
    /// The end of a packet's jobs (its captured length).
    Packet(usize),
}

#[derive(Debug, Default)]
struct Schedule {
    slots: Vec<Slot>,
    last: bool,
}

fn work(
    mut an: Analyzer,
    rx: Receiver<WorkBatch>,
    tx: SyncSender<ResultBatch>,
    free_work: mpsc::Sender<WorkBatch>,
    free_events: Receiver<Vec<Event>>,
) {
    for mut batch in rx {
        let mut rb = ResultBatch {
            events: free_events.try_recv().unwrap_or_default(),
            outs: Vec::with_capacity(batch.jobs.len()),
            ..ResultBatch::default()
        };
        let mut at = 0usize;
        let WorkBatch { jobs, data, .. } = &mut batch;
        for (job, pkt) in jobs.drain(..) {
            let bytes = match &job {
                Job::Data { len, .. } => {
                    let d = data.get(at..at + len).unwrap_or_default();
                    at += len;
                    d
                }
                _ => &[],
            };
            let before = rb.events.len();
            an.run_job(job, pkt, bytes, &mut rb.events);
            let (mem, tunnel) = an.job_state();
            rb.outs.push(JobOut {
                events: rb.events.len() - before,
                mem,
                tunnel,
            });
        }
        if batch.last {
            rb.left = an.shard_finish(batch.pref);
            rb.worker = Some(Box::new(an));
            let _ = tx.send(rb);
            return;
        }
        batch.data.clear();
        let _ = free_work.send(batch);
        if tx.send(rb).is_err() {
            return;
        }
    }
}

/// The reading thread's side of a sharded run: decodes and reassembles
/// each packet, recording jobs per worker.
pub struct ShardSender {
    front: Analyzer,
    work: Vec<SyncSender<WorkBatch>>,
    /// Emptied batches back from each worker.
    free: Vec<Receiver<WorkBatch>>,
    sched: SyncSender<Schedule>,
    cur: Vec<WorkBatch>,
    slots: Vec<Slot>,
    bytes: usize,
    packets: usize,
}

/// The reassembler's sink on the reading thread: records each callback as
/// a job of the flow's worker, in order.
struct Router<'a> {
    cur: &'a mut [WorkBatch],
    slots: &'a mut Vec<Slot>,
    bytes: &'a mut usize,
    interrupted: bool,
}

impl Router<'_> {
    fn job(&mut self, job: Job, pkt: PacketRef) {
        let n = self.cur.len().max(1);
        let w = job.flow().map_or(0, |f| (f % n as u64) as usize);
        if let Some(b) = self.cur.get_mut(w) {
            b.jobs.push((job, pkt));
            self.slots.push(Slot::Job(w));
        }
    }
}

impl Sink for Router<'_> {
    fn flow_start(&mut self, flow: &FlowStartInfo, pkt: PacketRef) {
        self.job(Job::FlowStart(flow.clone()), pkt);
    }
    fn data(&mut self, flow: FlowId, side: Side, offset: u64, data: &[u8], pkt: PacketRef) {
        let n = self.cur.len().max(1);
        let w = (flow % n as u64) as usize;
        if let Some(b) = self.cur.get_mut(w) {
            b.data.extend_from_slice(data);
            *self.bytes += data.len();
        }
        self.job(
            Job::Data {
                flow,
                side,
                offset,
                len: data.len(),
            },
            pkt,
        );
    }
    fn gap(&mut self, flow: FlowId, side: Side, offset: u64, len: u64, pkt: PacketRef) {
        self.job(
            Job::Gap {
                flow,
                side,
                offset,
                len,
            },
            pkt,
        );
    }
    fn anomaly(&mut self, flow: Option<FlowId>, side: Option<Side>, a: Anomaly, pkt: PacketRef) {
        self.job(
            Job::Anomaly {
                flow,
                side,
                anomaly: a,
            },
            pkt,
        );
    }
    fn flow_end(&mut self, flow: FlowId, end: &FlowEndInfo, pkt: PacketRef) {
        self.job(
            Job::FlowEnd {
                flow,
                end: end.clone(),
                interrupted: self.interrupted,
            },
            pkt,
        );
    }
}

impl ShardSender {
    /// Decodes and reassembles one packet; sends the batch when full.
    /// False when the consumer is gone.
    pub fn push(&mut self, p: &RawPacket<'_>) -> bool {
        let mut router = Router {
            cur: &mut self.cur,
            slots: &mut self.slots,
            bytes: &mut self.bytes,
            interrupted: false,
        };
        self.front.front_packet(p, &mut router);
        self.slots.push(Slot::Packet(p.data.len()));
        self.packets += 1;
        if self.packets >= BATCH_PACKETS || self.bytes >= BATCH_BYTES {
            return self.send(false);
        }
        true
    }

    /// End of input: the front end's final jobs, in the last batch.
    fn finish(&mut self, end: &RunEnd) {
        let mut router = Router {
            cur: &mut self.cur,
            slots: &mut self.slots,
            bytes: &mut self.bytes,
            interrupted: end.interrupted.is_some() || end.autostop.is_some(),
        };
        self.front.front_finish(end, &mut router);
        let pref = self.front.last_packet();
        for b in &mut self.cur {
            b.last = true;
            b.pref = pref;
        }
        self.send(true);
    }

    /// Sends every worker its share and the consumer the schedule.
    fn send(&mut self, last: bool) -> bool {
        for ((tx, b), free) in self.work.iter().zip(self.cur.iter_mut()).zip(&self.free) {
            let next = free.try_recv().unwrap_or_default();
            if tx.send(std::mem::replace(b, next)).is_err() {
                return false;
            }
        }
        let slots = std::mem::take(&mut self.slots);
        self.bytes = 0;
        self.packets = 0;
        self.sched.send(Schedule { slots, last }).is_ok()
    }
}
