//! The probe of one direction: finds where chunks start and the chunk size
//! when no handshake was seen (mid-stream pickup, [`midstream::infer`] at
//! doublings of the probe buffer, within [`midstream::MAX_INFER_WORK`]
//! header steps, reported once as `rtmp.midstream.work_limit`), and the next
//! plausible chunk header chain after a gap or a desync (the incremental
//! [`midstream::ResyncScan`], with the chunk size in force). A mid-stream
//! chain must also prove itself by what its messages decode to
//! ([`midstream::judge`]) unless the other direction already did; a chain
//! that parses but proves nothing is remembered as doubt
//! (`rtmp.detection_uncertain`). The probe buffer holds at most
//! [`midstream::PROBE_BYTES`].

use super::{
    anomaly, chunk, handshake, midstream, Connection, Phase, Probe, RtmpEvent, FIRST_PROBE_CHECK,
    NOT_RTMP_DECIDE_BYTES,
};
use crate::vocab::anomalies;
use crate::vocab::{ByteRange, Direction, FlowProtocol, PacketRef};

/// Probe progress of one direction.
#[derive(Debug)]
pub(super) struct ProbeState {
    /// Probe-buffer size at which mid-stream inference runs next.
    pub(super) next_check: usize,
    /// Progress of the resynchronisation scan over the probe buffer.
    pub(super) scan: midstream::ResyncScan,
    /// Highest [`midstream::judge`] score of a chain this direction's
    /// mid-stream probe found acceptable by its structure.
    pub(super) best_evidence: Option<i32>,
    /// `rtmp.midstream.work_limit` was reported for this direction.
    pub(super) work_limit_reported: bool,
    /// The resync scan tries the candidate chunk sizes too: nothing held
    /// with the size in force over [`RESYNC_WIDEN_BYTES`] since the first
    /// gap, or the chain taken at the last resync broke (a desync). Kept
    /// across gaps until a resync succeeds.
    pub(super) wide: bool,
    /// Decoding stopped at a fmt 2/3 header on a never-seen chunk stream;
    /// its payload length is looked for before anything is skipped.
    pub(super) held: Option<HeldHint>,
}

/// A fmt 2/3 header on a never-seen chunk stream that stopped decoding
/// (mid-stream or after a loss): the probe buffer starts at its second byte.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeldHint {
    /// Stream offset of the header.
    pub(super) off: u64,
    /// Its first byte (the probe buffer starts after it).
    pub(super) first: u8,
    pub(super) fmt: u8,
    pub(super) csid: u32,
    /// Payload lengths below this were ruled out.
    pub(super) from: u32,
}

/// What [`Connection::try_held`] did.
enum HeldOutcome {
    /// The stream was adopted; decoding resumes at the header.
    Adopted,
    /// Waiting for more bytes.
    Waiting,
    /// No payload length fits: the bytes are skipped as after a desync.
    Unfit,
}

/// Probe bytes after which a resync that found nothing with the chunk size
/// in force also tries the other candidate sizes.
pub const RESYNC_WIDEN_BYTES: usize = 8 * 1024;

impl Default for ProbeState {
    fn default() -> Self {
        ProbeState {
            next_check: FIRST_PROBE_CHECK,
            scan: midstream::ResyncScan::default(),
            best_evidence: None,
            work_limit_reported: false,
            wide: false,
            held: None,
        }
    }
}

impl Connection {
    /// Looks for the payload length of the held chunk `h`
    /// ([`midstream::held_length`], a chain judged as a resync's);
    /// adopts its chunk stream and queues the bytes from its header again
    /// when one fits. `last`: no more bytes will join the buffer.
    fn try_held(&mut self, d: usize, h: HeldHint, last: bool) -> HeldOutcome {
        let st = &mut self.dirs[d];
        if st.buf_off != h.off + 1 {
            return HeldOutcome::Unfit;
        }
        let mut hb = vec![h.first];
        hb.extend(st.buf.iter().take(chunk::MAX_HEADER_LEN));
        let Some((fmt, csid, bl)) = chunk::basic_header(&hb) else {
            return if last {
                HeldOutcome::Unfit
            } else {
                HeldOutcome::Waiting
            };
        };
        let mut hlen = bl + chunk::message_header_len(fmt);
        if fmt == 2 && hb.get(bl..bl + 3) == Some(&[0xff, 0xff, 0xff][..]) {
            hlen += 4;
        }
        if (fmt, csid) != (h.fmt, h.csid) {
            return HeldOutcome::Unfit;
        }
        if hb.len() < hlen {
            return if last {
                HeldOutcome::Unfit
            } else {
                HeldOutcome::Waiting
            };
        }
        let known = st.dec.known_streams();
        let lenient = st.dec.lenient() || st.dec.gapped();
        let fit = midstream::held_length(
            &st.buf,
            hlen - 1,
            st.dec.chunk_size(),
            &known,
            csid,
            lenient,
            h.from,
            last,
            |w| resync_acceptable(w, false) || (last && w.exact && w.headers >= 2),
        );
        match fit {
            midstream::HeldFit::Fit(p) if st.dec.adopt(csid, p) => {
                st.probe.held = None;
                let mut bytes = Vec::with_capacity(st.buf.len() + 1);
                bytes.push(h.first);
                bytes.extend_from_slice(&st.buf);
                st.buf = Vec::new();
                st.buf_off = h.off;
                st.phase = Phase::Chunks;
                st.replay = Some((h.off, bytes));
                HeldOutcome::Adopted
            }
            midstream::HeldFit::Wait(p) => {
                st.probe.held = Some(HeldHint { from: p, ..h });
                HeldOutcome::Waiting
            }
            _ => HeldOutcome::Unfit,
        }
    }

    pub(super) fn reset_probe(&mut self, d: usize, off: u64) {
        let st = &mut self.dirs[d];
        st.buf.clear();
        st.buf_off = off;
        st.probe.next_check = FIRST_PROBE_CHECK;
        st.probe.scan.reset();
    }

    /// Runs inference on the probe buffer when it is worth it; switches to
    /// the chunk phase (feeding the buffered bytes) when a chain is found.
    /// `fin`: the flow ended; `cut`: a gap follows the buffer (it will not
    /// grow: judged like a final pass, but nothing is reported when no
    /// chain holds).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn try_probe(
        &mut self,
        dir: Direction,
        kind: Probe,
        fin: bool,
        cut: bool,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        let len = self.dirs[d].buf.len();
        let full = len >= midstream::PROBE_BYTES;
        if let (Probe::Resync(_), Some(h)) = (kind, self.dirs[d].probe.held) {
            match self.try_held(d, h, fin || full || cut) {
                HeldOutcome::Adopted | HeldOutcome::Waiting => return,
                HeldOutcome::Unfit => self.desync_loss(dir, pkt, out),
            }
        }
        if len == 0 {
            return;
        }
        // Handshake hypothesis for a mid-stream flow starting with 0x03 at offset 0.
        if kind == Probe::Midstream && self.dirs[d].buf_off == 0 && self.dirs[d].buf[0] == 3 {
            let hs_end = handshake::HANDSHAKE_TOTAL;
            if len >= hs_end + 16 || (fin && len >= hs_end) {
                let w = midstream::walk(&self.dirs[d].buf, hs_end, 128, &[], false);
                if (!w.failed && w.strong >= 1) || (fin && len == hs_end) {
                    let buf = std::mem::take(&mut self.dirs[d].buf);
                    self.begin_handshake(d, 0);
                    self.dirs[d].replay = Some((0, buf));
                    return;
                }
            } else if !fin && !full {
                return;
            }
        }
        // Inference without a chunk size runs at doublings of the buffer;
        // a resync scan is incremental and runs on every new packet.
        if matches!(kind, Probe::Midstream)
            && !(fin || full || len >= self.dirs[d].probe.next_check)
        {
            return;
        }
        while self.dirs[d].probe.next_check <= len {
            self.dirs[d].probe.next_check *= 2;
        }
        let st = &self.dirs[d];
        let best = match kind {
            Probe::Midstream => {
                let mut sizes: Vec<u32> = midstream::CANDIDATE_SIZES.to_vec();
                let other = self.dirs[1 - d].dec.chunk_size();
                if !sizes.contains(&other) {
                    sizes.push(other);
                }
                let (best, work, exhausted) =
                    midstream::infer_counted(&st.buf, st.buf.len(), &sizes, &[], true);
                if exhausted && !self.dirs[d].probe.work_limit_reported {
                    self.dirs[d].probe.work_limit_reported = true;
                    let off = self.dirs[d].buf_off;
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_MIDSTREAM_WORK_LIMIT,
                        Some(ByteRange::new(off, off + len as u64)),
                        format!(
                            "mid-stream inference stopped after {work} header steps (budget {}); best chain so far kept",
                            midstream::MAX_INFER_WORK
                        ),
                    ));
                }
                best
            }
            Probe::Resync(_) => {
                // The chunk size in force is tried first: starts in order,
                // the first acceptable chain wins, and the scan resumes
                // where it stopped on the next packet. The gap may have
                // swallowed a Set Chunk Size: when nothing holds with the
                // size in force over RESYNC_WIDEN_BYTES, the scan starts
                // again with the candidate sizes too (as mid-stream).
                let known = st.dec.known_streams();
                let mut sizes = vec![st.dec.chunk_size()];
                // After a loss the decoder takes a fmt 1 header on a
                // never-seen chunk stream (its fmt 0 may be in the gap:
                // nginx opens each media chunk stream with one fmt 0 and
                // sends fmt 1 ever after), so the scan follows them too.
                let lenient = st.dec.lenient() || st.dec.gapped();
                let wide = st.probe.wide;
                if wide {
                    for c in midstream::CANDIDATE_SIZES {
                        if !sizes.contains(&c) {
                            sizes.push(c);
                        }
                    }
                }
                let st = &mut self.dirs[d];
                let mut scan = std::mem::take(&mut st.probe.scan);
                let last = fin || full || cut;
                // A full resync buffer is not the end: its first half is
                // dropped and the scan goes on, so the weak test of a final
                // pass (two headers) is for the end of the flow or a cut
                // only. (Taken at a full buffer, a 3-header chain read with
                // chunk size 128 from video bytes, whose made-up Set Chunk
                // Size and 3.9 MB video swallowed the next 136 KB, cost 7
                // messages the old exhaustive scan found 64 KB later, on a
                // lossy copy of the benchmark capture.)
                // A chain read with another chunk size than the one in force
                // must be long (CONFIDENT_HEADERS clean headers) unless the
                // flow ended: after a gap in a big video message, 100 KB of
                // media bytes give short chains with some candidate size (a
                // 4-header chain at 2048 instead of 4096 cost a whole chain
                // that the size in force found 2 KB later, on the lossy
                // benchmark copy).
                let in_force = st.dec.chunk_size();
                let ok = |w: &midstream::Walk| {
                    cut_acceptable(w, fin, cut)
                        && (w.chunk_size == in_force
                            || fin
                            || (!w.failed && w.headers >= midstream::CONFIDENT_HEADERS))
                };
                let mut found = scan.scan(&st.buf, &sizes, &known, lenient, last, ok);
                // Counted from the first gap (a later gap in the same
                // resync empties the buffer, not the doubt).
                let since = match kind {
                    Probe::Resync(since) => since,
                    Probe::Midstream => st.buf_off,
                };
                let probed = (st.buf_off + st.buf.len() as u64).saturating_sub(since);
                if found.is_none() && !wide && (probed >= RESYNC_WIDEN_BYTES as u64 || fin || full)
                {
                    st.probe.wide = true;
                    scan.reset();
                    for c in midstream::CANDIDATE_SIZES {
                        if !sizes.contains(&c) {
                            sizes.push(c);
                        }
                    }
                    found = scan.scan(&st.buf, &sizes, &known, lenient, last, ok);
                }
                st.probe.scan = scan;
                found
            }
        };
        let st = &self.dirs[d];
        // A flow whose SYN was seen and whose first byte is not a handshake
        // must start with chunks right away to count as RTMP.
        let strict = kind == Probe::Midstream && !self.midstream && st.buf_off == 0;
        // At the end of a flow, a short direction (one or a few whole
        // command messages, e.g. a lone onStatus or deleteStream) never
        // builds a long chain; accept it when it decodes exactly.
        let best = match best {
            Some(w) if w.headers >= 2 && !w.failed => Some(w),
            _ if (fin || cut) && !strict && st.buf.len() < midstream::START_WINDOW => {
                let sizes = match kind {
                    Probe::Midstream => {
                        let mut sizes = vec![self.dirs[1 - d].dec.chunk_size()];
                        sizes.extend(midstream::CANDIDATE_SIZES);
                        sizes
                    }
                    Probe::Resync(_) => vec![st.dec.chunk_size()],
                };
                midstream::exact_commands(&st.buf, st.buf.len(), &sizes, true)
                    .map(|w| midstream::Walk {
                        score: w.score.max(3 * midstream::MIN_SCORE),
                        ..w
                    })
                    .or(best)
            }
            other => other,
        };
        let accept = best.filter(|w| {
            if strict && (w.start != 0 || w.failed || w.strong < 2) {
                return false;
            }
            let weak_end = fin || (full && kind == Probe::Midstream);
            cut_acceptable(w, weak_end, cut)
        });
        // A mid-stream chain must also prove itself by what its messages
        // decode to, unless the other direction already did.
        let accept = match (kind, accept) {
            (Probe::Midstream, Some(w)) if !self.is_rtmp() => {
                let st = &mut self.dirs[d];
                let j = midstream::judge(&st.buf, &w);
                st.probe.best_evidence =
                    Some(st.probe.best_evidence.map_or(j.score, |b| b.max(j.score)));
                if j.score >= self.limits.midstream_accept {
                    Some(w)
                } else {
                    let from = st.buf_off + w.start as u64;
                    self.doubt = Some((
                        dir,
                        ByteRange::new(from, st.buf_off + st.buf.len() as u64),
                        format!(
                            "bytes at offset {from} parse as RTMP chunks (chunk size {}, {} \
                             headers) but their messages do not prove it (evidence score {}, \
                             {} clean of {} messages, {} bad): not dissected",
                            w.chunk_size, w.headers, j.score, j.clean, j.messages, j.bad
                        ),
                    ));
                    None
                }
            }
            (_, a) => a,
        };
        let st = &mut self.dirs[d];
        if let Some(mut w) = accept {
            // Chunks before the chain that fmt 2/3 headers on never-seen
            // chunk streams cut off from it are held, not lost.
            let known = st.dec.known_streams();
            let lenient = kind == Probe::Midstream || st.dec.lenient() || st.dec.gapped();
            // After a resync, only from where the scan saw a chain stop
            // at such a chunk (else nothing is bridged: no cost).
            let from = match kind {
                Probe::Midstream => Some((midstream::MAX_BRIDGE_WALKS, 0)),
                Probe::Resync(_) => st
                    .probe
                    .scan
                    .unknown_start()
                    .map(|u| (midstream::MAX_RESYNC_BRIDGE_WALKS, u)),
            };
            let bridged = from.and_then(|(budget, from)| {
                midstream::bridge(&st.buf, &w, &known, lenient, budget, from)
            });
            if let Some(s) = bridged {
                w.start = s;
            }
            let start_off = st.buf_off + w.start as u64;
            match kind {
                Probe::Midstream => {
                    st.dec.set_chunk_size(w.chunk_size);
                    st.dec.set_lenient(true);
                    if self.protocol == FlowProtocol::Unknown {
                        self.protocol = FlowProtocol::RtmpMidstream;
                    }
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_MIDSTREAM_INFERRED,
                        Some(ByteRange::new(self.dirs[d].buf_off, start_off)),
                        format!(
                            "chunks start at offset {start_off}; chunk size {} inferred \
                             (score {}, {} headers, {} with type and length)",
                            w.chunk_size, w.score, w.headers, w.strong
                        ),
                    ));
                }
                Probe::Resync(since) => {
                    self.dirs[d].probe.wide = false;
                    self.dirs[d]
                        .dec
                        .note_resync(start_off.saturating_sub(since));
                    if bridged.is_some() {
                        self.dirs[d].dec.end_probation();
                    }
                    let was = self.dirs[d].dec.chunk_size();
                    if w.chunk_size != was {
                        self.dirs[d].dec.set_chunk_size(w.chunk_size);
                        out.push(anomaly(
                            dir,
                            pkt,
                            anomalies::RTMP_CHUNK_SIZE_INFERRED,
                            Some(ByteRange::new(since, start_off)),
                            format!(
                                "after the gap no chunk chain holds with chunk size {was}: \
                                 chunk size {} inferred (a Set Chunk Size was probably lost)",
                                w.chunk_size
                            ),
                        ));
                    }
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_RESYNC,
                        Some(ByteRange::new(since, start_off)),
                        format!(
                            "resynchronised at offset {start_off}: {} bytes skipped \
                             (score {}, {} headers)",
                            start_off.saturating_sub(since),
                            w.score,
                            w.headers
                        ),
                    ));
                }
            }
            let st = &mut self.dirs[d];
            let mut buf = std::mem::take(&mut st.buf);
            st.phase = Phase::Chunks;
            st.buf_off = start_off;
            buf.drain(..w.start.min(buf.len()));
            st.replay = Some((start_off, buf));
            return;
        }
        // Nothing plausible.
        let give_up = fin
            || full
            || (kind == Probe::Midstream && !self.midstream && len >= NOT_RTMP_DECIDE_BYTES);
        if !give_up {
            return;
        }
        if kind == Probe::Midstream && self.protocol == FlowProtocol::Unknown {
            // This direction is not RTMP; the flow is not either once the
            // other direction has nothing better.
            let st = &mut self.dirs[d];
            st.phase = Phase::Stopped;
            st.buf = Vec::new();
            if matches!(self.dirs[1 - d].phase, Phase::Stopped | Phase::Start) {
                self.stop(FlowProtocol::NotRtmp);
            }
            return;
        }
        if fin {
            let st = &mut self.dirs[d];
            out.push(anomaly(
                dir,
                pkt,
                anomalies::RTMP_RESYNC_FAILED,
                Some(ByteRange::new(st.buf_off, st.buf_off + st.buf.len() as u64)),
                format!(
                    "{} bytes at end of flow not decodable as chunks",
                    st.buf.len()
                ),
            ));
            st.buf.clear();
            return;
        }
        // Full and nothing found: drop the first half and keep looking.
        let st = &mut self.dirs[d];
        let half = st.buf.len() / 2;
        st.buf.drain(..half);
        st.buf_off += half as u64;
        st.probe.scan.shift(half);
        st.probe.next_check = st.buf.len() + 1;
    }
}

/// Lowest score of a chain taken from a resync buffer that a gap cut
/// (scores of the real chains of the lossy corpus: 13 and up; a chain of a
/// fmt 2 and a fmt 1 header read from media bytes scored 7).
pub const CUT_MIN_SCORE: i32 = 2 * midstream::MIN_SCORE;

/// [`resync_acceptable`], and for a buffer cut by a gap (`cut`) the weaker
/// test of a final pass with at least [`CUT_MIN_SCORE`].
pub(super) fn cut_acceptable(w: &midstream::Walk, last: bool, cut: bool) -> bool {
    resync_acceptable(w, last) || (cut && resync_acceptable(w, true) && w.score >= CUT_MIN_SCORE)
}

/// Whether a chain is good enough to take: long and clean, or clean to the
/// end of the buffer with a high score, or (`last`: end of flow or probe
/// buffer full) at least two headers with a decent score.
pub(super) fn resync_acceptable(w: &midstream::Walk, last: bool) -> bool {
    (!w.failed && w.headers >= midstream::CONFIDENT_HEADERS)
        || (!w.failed && w.reached_end && w.score >= 3 * midstream::MIN_SCORE)
        || (last && !w.failed && w.headers >= 2 && w.strong >= 1 && w.score >= midstream::MIN_SCORE)
}
