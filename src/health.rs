//! Stream health over time: per media stream, one-second buckets of media
//! time and totals, built from the media messages of the session model.
//!
//! Contract: [`StreamHealth::media`] takes each audio/video message of one
//! message stream in order (RTMP timestamp, capture time, size, kind,
//! keyframe / sequence header / codec facts); [`StreamHealth::refresh`]
//! computes the derived totals. No I/O, no clock: capture time is the packet
//! time. Memory is bounded: the series has at most [`MAX_BUCKETS`] buckets;
//! when a stream outlives that, neighbouring buckets are merged and
//! `bucket_ms` doubles (the series of a 3-hour stream has 2-second buckets).
//!
//! Media time runs on an elastic clock: it follows the RTMP timestamps, but
//! a jump forward of more than [`JUMP_MS`] or any regression beyond it is
//! counted (`media.timestamp.jump`, `media.timestamp.regression`) and the
//! series goes on from where it was, so one bad timestamp does not stretch
//! the chart over hours of nothing. Drift (media minus capture time, ms) is
//! measured on that clock from the first media message: an encoder that
//! cannot keep up falls behind (negative), a server that bursts its buffer
//! runs ahead (positive).
//!
//! Anomaly names (stable, counted in `anomalies`):
//! `media.timestamp.jump`, `media.timestamp.regression`,
//! `media.drift` (a second whose |drift| exceeds [`DRIFT_WARN_MS`]),
//! `media.av_drift` (|audio - video timestamp| exceeds [`AV_DRIFT_WARN_MS`]
//! at a video frame, counted once per second),
//! `media.sequence_header.changed`, `media.sequence_header.repeated`,
//! `media.codec_changed`, `media.msid_not_created` (media on a message
//! stream id no createStream returned, as ffmpeg's listen server sends).

use std::collections::BTreeMap;

use serde::Serialize;

/// Most buckets in a series; beyond, pairs are merged and the width doubles.
pub const MAX_BUCKETS: usize = 3600;
/// A forward timestamp step larger than this is a jump (ms).
pub const JUMP_MS: i64 = 1000;
/// A second with media-vs-capture drift beyond this is `media.drift` (ms).
pub const DRIFT_WARN_MS: i64 = 2000;
/// Audio/video timestamp distance beyond this is `media.av_drift` (ms).
pub const AV_DRIFT_WARN_MS: i64 = 1000;

/// The per-second series, as parallel arrays (one entry per bucket).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// Bytes of audio / video message bodies (bitrate in bit/s is
    /// 8 x bytes x 1000 / bucket_ms).
    pub audio_bytes: Vec<u64>,
    pub video_bytes: Vec<u64>,
    /// Coded frames (sequence headers excluded).
    pub audio_frames: Vec<u32>,
    pub video_frames: Vec<u32>,
    pub keyframes: Vec<u32>,
    /// Largest video frame (bytes; audio when there is no video).
    pub max_frame: Vec<u32>,
    pub jumps: Vec<u32>,
    /// Coded frames whose timestamp jumped forward / went back (sequence
    /// headers are not counted).
    pub regressions: Vec<u32>,
    /// Media time minus capture time at the bucket's last message (ms).
    pub drift_ms: Vec<i64>,
}

impl Series {
    fn len(&self) -> usize {
        self.audio_bytes.len()
    }

    fn grow(&mut self, n: usize) {
        while self.len() < n {
            self.audio_bytes.push(0);
            self.video_bytes.push(0);
            self.audio_frames.push(0);
            self.video_frames.push(0);
            self.keyframes.push(0);
            self.max_frame.push(0);
            self.jumps.push(0);
            self.regressions.push(0);
            let d = self.drift_ms.last().copied().unwrap_or(0);
            self.drift_ms.push(d);
        }
    }

    /// Merges neighbouring buckets (width doubles).
    fn halve(&mut self) {
        fn sum<T: Copy + std::ops::Add<Output = T>>(v: &mut Vec<T>) {
            *v = v
                .chunks(2)
                .map(|c| if c.len() == 2 { c[0] + c[1] } else { c[0] })
                .collect();
        }
        sum(&mut self.audio_bytes);
        sum(&mut self.video_bytes);
        sum(&mut self.audio_frames);
        sum(&mut self.video_frames);
        sum(&mut self.keyframes);
        sum(&mut self.jumps);
        sum(&mut self.regressions);
        self.max_frame = self
            .max_frame
            .chunks(2)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect();
        self.drift_ms = self
            .drift_ms
            .chunks(2)
            .map(|c| c.last().copied().unwrap_or(0))
            .collect();
    }
}

/// min / avg / max of a quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MinAvgMax {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Acc {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Acc {
    fn add(&mut self, x: f64) {
        if self.n == 0 {
            self.min = x;
            self.max = x;
        }
        self.n += 1;
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
    fn get(&self) -> Option<MinAvgMax> {
        (self.n > 0).then(|| MinAvgMax {
            min: self.min,
            avg: (self.sum / self.n as f64 * 10.0).round() / 10.0,
            max: self.max,
        })
    }
}

/// GOPs (keyframe to keyframe) of the first video track.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Gop {
    /// Complete GOPs measured.
    pub count: u64,
    pub frames: Option<MinAvgMax>,
    pub ms: Option<MinAvgMax>,
}

/// Sequence headers of one kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SeqHeaders {
    pub count: u64,
    /// Mid-stream headers that differ from the previous one.
    pub changes: u64,
    /// Mid-stream headers identical to the previous one.
    pub repeats: u64,
}

/// Audio minus video timestamp (ms): the last audio frame's against each
/// video frame of the first track.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AvDrift {
    pub first_ms: i64,
    pub last_ms: i64,
    pub min_ms: i64,
    pub max_ms: i64,
}

/// The worst second of the series: the full second with the lowest
/// bitrate, or any second with a timestamp jump or regression.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Worst {
    /// Bucket index (seconds since the first media message, in buckets).
    pub index: usize,
    pub bitrate_bps: u64,
    pub video_frames: u32,
    pub audio_frames: u32,
    pub jumps: u32,
    pub regressions: u32,
    pub drift_ms: i64,
    pub reason: &'static str,
}

/// What one message says to the health tracker.
#[derive(Clone, Copy, Debug)]
pub struct MediaSample<'a> {
    pub video: bool,
    pub timestamp: u32,
    /// Capture time in ms (any epoch).
    pub capture_ms: i64,
    pub bytes: u32,
    /// A coded frame (not a sequence header / end / command).
    pub frame: bool,
    pub keyframe: bool,
    /// Track id (0 for single-track streams); GOPs and A/V drift are
    /// measured on the first video track seen.
    pub track: u8,
    /// The message is a sequence header with this identity (decoded config
    /// and length), compared with the previous one.
    pub seq_header: Option<&'a str>,
    pub codec: &'a str,
}

/// Health of one media stream (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamHealth {
    /// Width of a bucket (1000 unless the stream outlived [`MAX_BUCKETS`]).
    pub bucket_ms: u32,
    /// RTMP timestamp of the first media message (bucket 0 starts there).
    pub first_timestamp: u32,
    pub series: Series,
    pub gop: Gop,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub av_drift: Option<AvDrift>,
    pub audio_sequence_headers: SeqHeaders,
    pub video_sequence_headers: SeqHeaders,
    pub codec_changes: u64,
    pub timestamp_jumps: u64,
    pub timestamp_regressions: u64,
    /// Largest |media - capture| drift (ms), signed.
    pub max_drift_ms: i64,
    pub msid_not_created: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_second: Option<Worst>,
    /// Anomaly name -> count.
    pub anomalies: BTreeMap<&'static str, u64>,
    #[serde(skip)]
    st: State,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    started: bool,
    /// Elastic clock: media position = timestamp - base (ms).
    base: i64,
    max_pos: i64,
    capture0: i64,
    last_ts: [Option<u32>; 2],
    last_delta: [i64; 2],
    primary_video: Option<u8>,
    last_seq: [Option<String>; 2],
    seen_frame: [bool; 2],
    last_codec: [Option<String>; 2],
    frames_since_key: u64,
    last_key_ts: Option<u32>,
    gop_frames: Acc,
    gop_ms: Acc,
    av_flag_bucket: Option<usize>,
    drift_flag_bucket: Option<usize>,
}

impl StreamHealth {
    fn flag(&mut self, name: &'static str) {
        *self.anomalies.entry(name).or_insert(0) += 1;
    }

    /// Media on a message stream id no createStream returned.
    pub fn set_msid_not_created(&mut self) {
        if !self.msid_not_created {
            self.msid_not_created = true;
            self.flag("media.msid_not_created");
        }
    }

    /// Feeds one audio/video message.
    pub fn media(&mut self, s: MediaSample<'_>) {
        let k = s.video as usize;
        let ts = s.timestamp as i64;
        if !self.st.started {
            self.st.started = true;
            self.bucket_ms = 1000;
            self.first_timestamp = s.timestamp;
            self.st.base = ts;
            self.st.capture0 = s.capture_ms;
        }
        let mut pos = ts - self.st.base;
        // Jumps and regressions against this kind's previous timestamp.
        let (mut jump, mut regress) = (false, false);
        let mut step = 0;
        // Only coded frames count: sequence headers often carry 0 whatever
        // the stream's time (a server's GOP cache sends them first).
        let prev = if s.frame { self.st.last_ts[k] } else { None };
        if let Some(prev) = prev {
            let d = ts - prev as i64;
            if d > JUMP_MS {
                jump = true;
                step = self.st.last_delta[k];
            } else if d < 0 {
                regress = true;
            } else {
                self.st.last_delta[k] = d;
            }
        }
        if s.frame {
            self.st.last_ts[k] = Some(s.timestamp);
        }
        // Elastic clock: keep the series contiguous.
        if pos > self.st.max_pos + JUMP_MS || pos < self.st.max_pos - JUMP_MS {
            pos = self.st.max_pos + step;
            self.st.base = ts - pos;
        }
        let pos = pos.max(0);
        self.st.max_pos = self.st.max_pos.max(pos);
        let mut idx = (pos / self.bucket_ms as i64) as usize;
        while idx >= MAX_BUCKETS {
            self.series.halve();
            self.bucket_ms = self.bucket_ms.saturating_mul(2);
            idx = (pos / self.bucket_ms as i64) as usize;
        }
        self.series.grow(idx + 1);
        let se = &mut self.series;
        if jump {
            se.jumps[idx] += 1;
            self.timestamp_jumps += 1;
        }
        if regress {
            se.regressions[idx] += 1;
            self.timestamp_regressions += 1;
        }
        let drift = pos - (s.capture_ms - self.st.capture0);
        se.drift_ms[idx] = drift;
        if s.video {
            se.video_bytes[idx] += s.bytes as u64;
        } else {
            se.audio_bytes[idx] += s.bytes as u64;
        }
        if s.frame {
            if s.video {
                se.video_frames[idx] += 1;
                se.max_frame[idx] = se.max_frame[idx].max(s.bytes);
                if s.keyframe {
                    se.keyframes[idx] += 1;
                }
            } else {
                se.audio_frames[idx] += 1;
            }
        }
        if jump {
            self.flag("media.timestamp.jump");
        }
        if regress {
            self.flag("media.timestamp.regression");
        }
        if drift.abs() > self.max_drift_ms.abs() {
            self.max_drift_ms = drift;
        }
        if drift.abs() > DRIFT_WARN_MS && self.st.drift_flag_bucket != Some(idx) {
            self.st.drift_flag_bucket = Some(idx);
            self.flag("media.drift");
        }
        // Sequence headers and codec changes.
        if let Some(id) = s.seq_header {
            let sh = if s.video {
                &mut self.video_sequence_headers
            } else {
                &mut self.audio_sequence_headers
            };
            sh.count += 1;
            let mid = self.st.seen_frame[k];
            let changed = self.st.last_seq[k].as_deref().is_some_and(|p| p != id);
            let same = self.st.last_seq[k].as_deref() == Some(id);
            if mid && changed {
                sh.changes += 1;
                self.flag("media.sequence_header.changed");
            } else if mid && same {
                sh.repeats += 1;
                self.flag("media.sequence_header.repeated");
            }
            self.st.last_seq[k] = Some(id.to_owned());
        }
        if s.frame {
            self.st.seen_frame[k] = true;
            if self.st.last_codec[k]
                .as_deref()
                .is_some_and(|c| c != s.codec)
            {
                self.codec_changes += 1;
                self.flag("media.codec_changed");
            }
            if self.st.last_codec[k].as_deref() != Some(s.codec) {
                self.st.last_codec[k] = Some(s.codec.to_owned());
            }
        }
        // GOPs and A/V drift on video frames of the first track.
        let primary = s.video && *self.st.primary_video.get_or_insert(s.track) == s.track;
        if s.video && s.frame && primary {
            if s.keyframe {
                if let Some(prev) = self.st.last_key_ts {
                    self.st.gop_frames.add(self.st.frames_since_key as f64);
                    self.st.gop_ms.add(s.timestamp.wrapping_sub(prev) as f64);
                }
                self.st.last_key_ts = Some(s.timestamp);
                self.st.frames_since_key = 0;
            }
            self.st.frames_since_key += 1;
            if let Some(a) = self.st.last_ts[0] {
                let d = a as i64 - ts;
                let av = self.av_drift.get_or_insert(AvDrift {
                    first_ms: d,
                    last_ms: d,
                    min_ms: d,
                    max_ms: d,
                });
                av.last_ms = d;
                av.min_ms = av.min_ms.min(d);
                av.max_ms = av.max_ms.max(d);
                if d.abs() > AV_DRIFT_WARN_MS && self.st.av_flag_bucket != Some(idx) {
                    self.st.av_flag_bucket = Some(idx);
                    self.flag("media.av_drift");
                }
            }
        }
    }

    /// Computes the totals (GOP statistics, worst second).
    pub fn refresh(&mut self) {
        self.gop.count = self.st.gop_frames.n;
        self.gop.frames = self.st.gop_frames.get();
        self.gop.ms = self.st.gop_ms.get();
        self.worst_second = self.worst();
    }

    /// Bitrate of bucket `i` in bit/s.
    pub fn bitrate_bps(&self, i: usize) -> u64 {
        let b = self.series.audio_bytes.get(i).copied().unwrap_or(0)
            + self.series.video_bytes.get(i).copied().unwrap_or(0);
        b * 8 * 1000 / self.bucket_ms.max(1) as u64
    }

    fn worst(&self) -> Option<Worst> {
        let se = &self.series;
        let n = se.len();
        if n == 0 {
            return None;
        }
        let mk = |i: usize, reason: &'static str| Worst {
            index: i,
            bitrate_bps: self.bitrate_bps(i),
            video_frames: se.video_frames[i],
            audio_frames: se.audio_frames[i],
            jumps: se.jumps[i],
            regressions: se.regressions[i],
            drift_ms: se.drift_ms[i],
            reason,
        };
        if let Some(i) = (0..n).find(|&i| se.jumps[i] + se.regressions[i] > 0) {
            return Some(mk(i, "timestamps"));
        }
        // Full seconds only: the first and last are partial.
        let range = if n > 2 { 1..n - 1 } else { 0..n };
        let i = range.min_by_key(|&i| (self.bitrate_bps(i), i))?;
        Some(mk(i, "lowest_bitrate"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(video: bool, ts: u32, cap: i64, bytes: u32, key: bool) -> MediaSample<'static> {
        MediaSample {
            video,
            timestamp: ts,
            capture_ms: cap,
            bytes,
            frame: true,
            keyframe: key,
            track: 0,
            seq_header: None,
            codec: if video { "avc1" } else { "mp4a" },
        }
    }

    #[test]
    fn buckets_gops_and_jumps() {
        let mut h = StreamHealth::default();
        // 3 s of 10 fps video, keyframe every 10 frames, 100 bytes each.
        for f in 0..30u32 {
            h.media(s(true, f * 100, (f * 100) as i64, 100, f % 10 == 0));
        }
        // A jump of an hour, then 1 s more.
        for f in 0..10u32 {
            h.media(s(
                true,
                3_600_000 + f * 100,
                3000 + (f * 100) as i64,
                100,
                f == 0,
            ));
        }
        h.refresh();
        assert_eq!(h.series.video_frames, vec![10, 10, 10, 10]);
        assert_eq!(h.series.keyframes, vec![1, 1, 1, 1]);
        assert_eq!(h.timestamp_jumps, 1);
        assert_eq!(h.series.jumps, vec![0, 0, 0, 1]);
        assert_eq!(h.anomalies.get("media.timestamp.jump"), Some(&1));
        assert_eq!(h.bitrate_bps(0), 8000);
        assert_eq!(h.gop.count, 3);
        assert_eq!(h.gop.frames.unwrap().avg, 10.0);
        let w = h.worst_second.unwrap();
        assert_eq!((w.index, w.reason), (3, "timestamps"));
    }

    #[test]
    fn drift_and_regression() {
        let mut h = StreamHealth::default();
        // Media runs at half the capture speed: falls behind.
        for f in 0..50u32 {
            h.media(s(true, f * 100, (f * 200) as i64, 10, false));
        }
        h.media(s(true, 100, 10_000, 10, false));
        h.refresh();
        assert!(h.max_drift_ms <= -2400, "{}", h.max_drift_ms);
        assert!(h.anomalies.get("media.drift").copied().unwrap_or(0) >= 1);
        assert_eq!(h.timestamp_regressions, 1);
    }

    #[test]
    fn long_streams_merge_buckets() {
        let mut h = StreamHealth::default();
        for sec in 0..(MAX_BUCKETS as u32 + 10) {
            h.media(s(false, sec * 1000, sec as i64 * 1000, 50, false));
        }
        assert_eq!(h.bucket_ms, 2000);
        assert!(h.series.audio_bytes.len() <= MAX_BUCKETS);
        assert_eq!(h.series.audio_bytes[0], 100);
    }

    #[test]
    fn sequence_header_changes_and_repeats() {
        let mut h = StreamHealth::default();
        let mut seq = s(true, 0, 0, 40, true);
        seq.frame = false;
        seq.seq_header = Some("a");
        h.media(seq);
        h.media(s(true, 40, 40, 100, true));
        seq.seq_header = Some("a");
        h.media(seq);
        seq.seq_header = Some("b");
        h.media(seq);
        assert_eq!(h.video_sequence_headers.count, 3);
        assert_eq!(h.video_sequence_headers.repeats, 1);
        assert_eq!(h.video_sequence_headers.changes, 1);
    }
}
