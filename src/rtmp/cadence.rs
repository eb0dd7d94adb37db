//! The timestamp cadence of one chunk stream: media muxers stamp the k-th
//! frame of a regular run `floor(phase + k * period)` ms (AAC at 44.1 kHz:
//! period 1024000/44100, deltas 23, 23, 23, 24, ...; 25 fps video: 40).
//! Fitted from the timestamps seen, the cadence predicts the timestamps of
//! messages a gap swallowed (issue 11's constant-delta rule, generalised to
//! rounded periods).
//!
//! The period is the middle of the interval every point allows, or the one
//! common media period ([`KNOWN_PERIODS`]) inside it. [`Pace`] keeps how far
//! the packet clock runs ahead of the timestamps (live media is sent as the
//! wall clock advances): it bounds the timestamp of a message captured after
//! a gap.
//!
//! Contract: O(1) memory ([`RING`] recent points), no allocation, never
//! panics; a run restarts when a delta does not fit (a zero delta, a jump,
//! a period interval that becomes empty), so a cadence only predicts from
//! a run of at least [`MIN_POINTS`] consistent timestamps.

/// Recent points kept to fit the phase.
pub const RING: usize = 16;
/// Points of a run before it predicts.
pub const MIN_POINTS: u64 = 2;
/// Common media frame durations in ms: AAC (1024 samples) at 44.1, 48,
/// 32, 22.05 kHz; MP3 (1152) at 44.1, 48 kHz; 20 ms Opus/Speex frames;
/// video at 25, 30000/1001, 30, 24000/1001, 24, 50, 60000/1001, 60 fps.
pub const KNOWN_PERIODS: &[f64] = &[
    1024000.0 / 44100.0,
    1024000.0 / 48000.0,
    1024000.0 / 32000.0,
    1024000.0 / 22050.0,
    1152000.0 / 44100.0,
    1152000.0 / 48000.0,
    20.0,
    40.0,
    1001.0 / 30.0,
    1000.0 / 30.0,
    1001.0 / 24.0,
    1000.0 / 24.0,
    1001.0 / 60.0,
    1000.0 / 60.0,
];
/// Messages per window of [`Pace`].
pub const PACE_WINDOW: u32 = 16;
/// How far (ms) a window's least delay may move from the last one's for
/// the pace to count as steady (a sender catching up runs ahead faster).
pub const PACE_STEADY_MS: i64 = 30;
/// Slack (ms) around the delays seen when bounding a timestamp.
pub const PACE_SLACK_MS: i64 = 10;

#[derive(Debug, Clone, Default)]
pub struct Cadence {
    /// Timestamp of the run's first point (index 0).
    ts0: u32,
    /// Index of the last point (messages since the run began, lost ones
    /// counted by [`Cadence::skip`]).
    k: u64,
    /// Points in the run (0: no run).
    n: u64,
    /// Period interval allowed by every point against the first.
    p_lo: f64,
    p_hi: f64,
    /// Recent (index, timestamp - ts0).
    ring: [(u64, u32); RING],
    pos: usize,
}

impl Cadence {
    /// A message of this stream with timestamp `ts` and delta `delta`
    /// (from the previous message of the stream).
    pub fn observe(&mut self, ts: u32, delta: u32) {
        if delta == 0 || self.n == 0 {
            self.start(ts);
            return;
        }
        let k = self.k + 1;
        let rel = ts.wrapping_sub(self.ts0);
        if rel > i32::MAX as u32 {
            self.start(ts);
            return;
        }
        let lo = self.p_lo.max((rel as f64 - 1.0) / k as f64);
        let hi = self.p_hi.min((rel as f64 + 1.0) / k as f64);
        // A delta far from the period ends the run.
        let period = self.period();
        let off = period.is_some_and(|p| {
            let last = self.ring[(self.pos + RING - 1) % RING].1;
            let d = rel.wrapping_sub(last) as f64
                / (k - self.ring[(self.pos + RING - 1) % RING].0).max(1) as f64;
            d > 2.0 * p + 1.0 || d * 2.0 + 1.0 < p
        });
        if lo >= hi || off {
            self.start(ts);
            return;
        }
        self.p_lo = lo;
        self.p_hi = hi;
        self.push(k, rel);
    }

    /// `n` messages of the stream were lost since the last point.
    pub fn skip(&mut self, n: u64) {
        if self.n > 0 {
            self.k = self.k.saturating_add(n);
        }
    }

    /// Forgets the run (an exact anchor disagreed with it).
    pub fn reset(&mut self) {
        self.n = 0;
    }

    /// The period of the run, once it has enough points.
    pub fn period(&self) -> Option<f64> {
        if self.n < MIN_POINTS || !self.p_hi.is_finite() {
            return None;
        }
        let mut known = KNOWN_PERIODS
            .iter()
            .filter(|&&p| p > self.p_lo && p < self.p_hi);
        match (known.next(), known.next()) {
            (Some(&p), None) => Some(p),
            _ => Some((self.p_lo + self.p_hi) / 2.0),
        }
    }

    /// Predicted timestamp of the message `m` (>= 1) after the last point.
    /// `hint`: a delta of the stream, the period (snapped to a
    /// [`KNOWN_PERIODS`] entry within 1 ms) while the run is too short.
    pub fn predict(&self, m: u64, hint: u32) -> Option<u32> {
        let (p, lo, hi) = self.fit(hint)?;
        let phase = if lo < hi { (lo + hi) / 2.0 } else { lo };
        self.at(phase, p, self.k + m)
    }

    /// Like [`Cadence::predict`], with the phases the recent points allow
    /// narrowed to those where the message after `m` follows it by
    /// `delta` ms (the delta a header after a gap carries).
    pub fn predict_step(&self, m: u64, delta: u32) -> Option<u32> {
        let (p, lo, hi) = self.fit(delta)?;
        if lo >= hi {
            return self.predict(m, delta);
        }
        let k = self.k + m;
        let steps = 64;
        let (mut first, mut last) = (None, None);
        for i in 0..steps {
            let ph = lo + (hi - lo) * (i as f64 + 0.5) / steps as f64;
            let (Some(a), Some(b)) = (self.at(ph, p, k), self.at(ph, p, k + 1)) else {
                continue;
            };
            if b.wrapping_sub(a) == delta {
                first.get_or_insert(ph);
                last = Some(ph);
            }
        }
        match (first, last) {
            (Some(a), Some(b)) => self.at((a + b) / 2.0, p, k),
            _ => self.predict(m, delta),
        }
    }

    /// (period, lowest phase, highest phase) the recent points allow.
    fn fit(&self, hint: u32) -> Option<(f64, f64, f64)> {
        if self.n == 0 {
            return None;
        }
        let p = match self.period() {
            Some(p) => p,
            None if hint == 0 => return None,
            None => {
                let h = hint as f64;
                let mut known = KNOWN_PERIODS.iter().filter(|&&p| (p - h).abs() < 1.0);
                match (known.next(), known.next()) {
                    (Some(&p), None) => p,
                    _ => h,
                }
            }
        };
        let (mut lo, mut hi) = (f64::MIN, f64::MAX);
        let pts = self.n.min(RING as u64) as usize;
        for i in 0..pts {
            let (k, rel) = self.ring[(self.pos + RING - 1 - i) % RING];
            lo = lo.max(rel as f64 - k as f64 * p);
            hi = hi.min(rel as f64 + 1.0 - k as f64 * p);
        }
        Some((p, lo, hi))
    }

    fn at(&self, phase: f64, p: f64, k: u64) -> Option<u32> {
        let v = (phase + k as f64 * p).floor();
        if !(0.0..=u32::MAX as f64).contains(&v) {
            return None;
        }
        Some(self.ts0.wrapping_add(v as u32))
    }

    fn start(&mut self, ts: u32) {
        self.ts0 = ts;
        self.k = 0;
        self.n = 1;
        self.p_lo = 0.0;
        self.p_hi = f64::INFINITY;
        self.pos = 0;
        self.push(0, 0);
        self.n = 1;
    }

    fn push(&mut self, k: u64, rel: u32) {
        self.ring[self.pos] = (k, rel);
        self.pos = (self.pos + 1) % RING;
        self.k = k;
        self.n += 1;
    }
}

/// Delay of the packet clock behind the timestamps of one chunk stream
/// (packet time in ms minus timestamp), over the last two windows of
/// [`PACE_WINDOW`] exact messages.
#[derive(Debug, Clone, Default)]
pub struct Pace {
    /// (least, most) delay of the current window.
    cur: (i64, i64),
    cur_n: u32,
    prev: Option<(i64, i64)>,
}

impl Pace {
    /// An exactly timed message captured at `wall_ms`.
    pub fn observe(&mut self, wall_ms: i64, ts: u32) {
        let off = wall_ms - ts as i64;
        self.cur = if self.cur_n == 0 {
            (off, off)
        } else {
            (self.cur.0.min(off), self.cur.1.max(off))
        };
        self.cur_n += 1;
        if self.cur_n >= PACE_WINDOW {
            self.prev = Some(self.cur);
            self.cur_n = 0;
        }
    }

    /// Forgets the delays (the timeline jumped or became an estimate).
    pub fn reset(&mut self) {
        *self = Pace::default();
    }

    /// Highest timestamp plausible for a message decoded at `wall_ms`,
    /// when the pace is steady (a live sender does not send media before
    /// its time; a message decoded late, after a resync, only loosens it).
    pub fn highest(&self, wall_ms: i64) -> Option<i64> {
        let prev = self.prev?;
        let lo = if self.cur_n > 0 {
            if (self.cur.0 - prev.0).abs() > PACE_STEADY_MS {
                return None;
            }
            prev.0.min(self.cur.0)
        } else {
            prev.0
        };
        Some(wall_ms - lo + PACE_SLACK_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aac(k: u64) -> u32 {
        ((k as f64 * 1024000.0 / 44100.0) + 0.5).floor() as u32
    }

    #[test]
    fn predicts_a_rounded_aac_period_across_lost_messages() {
        let mut c = Cadence::default();
        let mut prev = 0;
        for k in 1..=40 {
            c.observe(aac(k), aac(k) - prev);
            prev = aac(k);
        }
        for m in 1..=12 {
            assert_eq!(c.predict(m, 23), Some(aac(40 + m)), "m {m}");
        }
        c.skip(3);
        c.observe(aac(44), aac(44) - aac(43));
        assert_eq!(c.predict(1, 23), Some(aac(45)));
    }

    #[test]
    fn constant_video_and_restart_on_a_jump() {
        let mut c = Cadence::default();
        for k in 0..10u32 {
            c.observe(23 + 40 * k, 40);
        }
        assert_eq!(c.predict(2, 40), Some(23 + 40 * 11));
        // A jump (a seek) starts a new run: no period until it has points;
        // the delta given then stands for it.
        c.observe(100_000, 100_000 - 383);
        assert_eq!(c.period(), None);
        assert_eq!(c.predict(1, 40), Some(100_040));
        assert_eq!(c.predict(1, 0), None);
    }

    #[test]
    fn a_short_run_predicts_from_the_snapped_delta() {
        let mut c = Cadence::default();
        assert_eq!(c.predict(1, 40), None);
        c.observe(0, 0);
        assert_eq!(c.period(), None);
        // One AAC delta of 23 ms stands for 1024000/44100.
        assert_eq!(c.predict(5, 23), Some(aac(5)));
        c.observe(23, 23);
        assert_eq!(c.period(), Some(1024000.0 / 44100.0));
        // The step after a gap picks the phase: aac(9) - aac(8) = 23.
        c.observe(46, 23);
        assert_eq!(c.predict_step(6, 23), Some(aac(8)));
    }

    #[test]
    fn pace_bounds_the_timestamp_by_the_least_delay() {
        let mut p = Pace::default();
        assert_eq!(p.highest(1000), None);
        for i in 0..PACE_WINDOW as i64 {
            // Sent 5 to 35 ms after its time.
            p.observe(10_000 + 40 * i + 5 + (i % 4) * 10, (40 * i) as u32);
        }
        assert_eq!(p.highest(20_000), Some(20_000 - 10_005 + PACE_SLACK_MS));
        // A sender catching up (delays falling fast) is not steady.
        p.observe(10_000 + 40 * 16 - 200, 40 * 16);
        assert_eq!(p.highest(20_000), None);
    }
}
