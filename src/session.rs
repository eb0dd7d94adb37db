//! RTMP session model: what one connection did, built from the event stream.
//!
//! Contract: [`SessionTracker::handle`] takes every [`Event`] in order (any
//! flow, any kind) and never panics. Per flow it keeps a [`Session`]: the
//! endpoints, handshake, connect parameters, chunk sizes and windows each way,
//! message streams (createStream -> msid, publish/play role), status codes,
//! per-stream media statistics (codecs, counts, bytes, duration, bitrate,
//! frame rate, keyframes), pings, anomaly counts and gaps, plus replay command
//! lines (rtmpdump / ffmpeg) like rtmpsrv prints.
//!
//! A session begins at its flow's FlowStart (events of a flow not started,
//! or of one already ended, are ignored) and is finished at its FlowEnd; [`SessionTracker::take_finished`]
//! drains finished sessions, [`SessionTracker::finish`] closes all at end of
//! input, [`SessionTracker::snapshot`] copies the current state (live / TUI).
//! Only flows that showed RTMP (a handshake or a message) produce sessions.
//! The model keeps the values themselves (AMF values, the flow's enums,
//! [`crate::tunnel::TunnelFacts`]); it renders nothing. Outputs render it:
//! the `session` JSON line through its `Serialize` impl (the metadata's AMF
//! value through [`crate::amf::json`]), summary and TUI through `as_str`.
//! It imports no output module.
//!
//! Memory: per open flow, bounded lists ([`MAX_STREAMS`], [`MAX_STATUS`],
//! [`MAX_PENDING`]).
//!
//! Media attribution: media and data on a message stream id that no stream
//! was created for (ffmpeg's listen-mode server sends `@setDataFrame`, audio
//! and video on msid 0 after createStream returned 1) go to the single stream
//! whose role matches the direction (publish for to_server, play for
//! to_client), else to the single stream; the alias is listed in
//! `StreamInfo::media_msids`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::amf::json::{is_plain_object, json_number, json_object_get};
use crate::amf::{AmfStr, Value, ValueKind};
use crate::classify::{Confidence, Evidence};
use crate::event::{Direction, EndReason, Event, EventKind, FlowId, FlowProtocol, Transport};
use crate::health::MediaSample;
use crate::redact::{redact_url, Redactor};
use crate::rtmp::handshake::HandshakePart;
use crate::rtmp::message::{Body, CodecConfig, CommandInfo, Control, MediaTrack, Message};
use crate::time::PacketTime;

/// Maximum message streams tracked per session.
pub const MAX_STREAMS: usize = 64;
/// Maximum status entries kept per session (later ones are counted only).
pub const MAX_STATUS: usize = 256;
/// Maximum outstanding transactions remembered per direction.
pub const MAX_PENDING: usize = 1024;

/// An IP address and port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub ip: String,
    pub port: u16,
}

pub use crate::vocab::PerDir;

/// What the handshake showed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HandshakeInfo {
    /// `simple` or `digest` (from C1).
    pub kind: Option<String>,
    pub c0_version: Option<u8>,
    pub s0_version: Option<u8>,
    /// C1 bytes 4-7 (e.g. `9.0.124.2`).
    pub client_version: Option<String>,
    /// S1 bytes 4-7.
    pub server_version: Option<String>,
    pub client_digest_valid: Option<bool>,
    pub server_digest_valid: Option<bool>,
    pub c2_echo_ok: Option<bool>,
    pub s2_echo_ok: Option<bool>,
}

/// One status-bearing reply (`_result`, `_error`, `onStatus`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusEntry {
    pub timestamp: String,
    pub direction: Direction,
    pub msid: u32,
    /// `_result`, `_error` or `onStatus`.
    pub command: String,
    /// The command this answers (by transaction id), when known.
    pub responds_to: Option<String>,
    pub level: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
}

/// Media statistics of one kind (audio or video) on one stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MediaStats {
    pub messages: u64,
    pub bytes: u64,
    /// FourCC-style codec name (`avc1`, `hvc1`, `av01`, `mp4a`, ...).
    pub codec: Option<String>,
    /// Short description of the last sequence header.
    pub config: Option<String>,
    pub sequence_headers: u64,
    /// Coded frames (sequence headers / ends / commands excluded).
    pub frames: u64,
    pub keyframes: u64,
    pub first_timestamp: Option<u32>,
    pub last_timestamp: Option<u32>,
    /// last - first RTMP timestamp (ms).
    pub duration_ms: u64,
    pub bitrate_bps: Option<f64>,
    /// Frames per second over the coded frames of the first track (E-RTMP
    /// multitrack streams: the first track seen; `frames` counts all tracks).
    pub frame_rate: Option<f64>,
    /// Mean keyframe distance (ms) on the first track.
    pub keyframe_interval_ms: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    /// What capture loss did to this stream; absent from the JSON when no
    /// gap fell between two of its messages and no timestamp of it was
    /// estimated.
    #[serde(skip_serializing_if = "StreamLoss::is_empty")]
    pub loss: StreamLoss,
    /// The direction's gap count at the last message ([`MediaStats::add`]).
    #[serde(skip)]
    gap_mark: u64,
    /// Timestamp step between the last two messages with no gap between
    /// them (the stream's cadence, for counting lost messages).
    #[serde(skip)]
    last_delta: Option<u32>,
    #[serde(skip)]
    last_keyframe_ts: Option<u32>,
    #[serde(skip)]
    keyframe_delta_sum: u64,
    /// Timestamps of the first and last coded frame: the frame rate is
    /// measured over these, not over sequence headers / end-of-sequence
    /// messages (ffmpeg sends the sequence header at 0 and the first frame
    /// at its DTS, e.g. 23 ms, which made 25 fps read as 24.81).
    #[serde(skip)]
    first_frame_ts: Option<u32>,
    #[serde(skip)]
    last_frame_ts: Option<u32>,
    /// First track id seen (0 for single-track streams); rate, keyframe
    /// interval and `config` describe this track.
    #[serde(skip)]
    primary_track: Option<u8>,
    #[serde(skip)]
    track_frames: u64,
    #[serde(skip)]
    track_keyframes: u64,
}

/// Lowest track id of a media message (0 when it has no track list).
fn track_of(tracks: &[MediaTrack]) -> u8 {
    tracks.iter().map(|t| t.track_id).min().unwrap_or(0)
}

/// Serializes an AMF number copied from the wire the way the `rtmp` lines
/// write AMF numbers (src/output/json.rs): integral values without a
/// fraction (`4`, not `4.0`), so `created_by_transaction` matches the
/// `transaction_id` of the createStream line.
fn amf_number<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 => {
            s.serialize_i64(*x as i64)
        }
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

/// One message stream of the connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamInfo {
    pub msid: u32,
    /// Transaction id of the createStream that created it.
    #[serde(serialize_with = "amf_number")]
    pub created_by_transaction: Option<f64>,
    pub name: Option<String>,
    /// The name's wire bytes when they are not valid UTF-8 (`name` is then
    /// the lossy form): redaction works on these.
    #[serde(skip)]
    pub name_bytes: Option<Vec<u8>>,
    /// `publish` or `play` (absent when neither was seen).
    pub role: Option<String>,
    /// live / record / append.
    pub publish_type: Option<String>,
    #[serde(serialize_with = "amf_number")]
    pub play_start: Option<f64>,
    #[serde(serialize_with = "amf_number")]
    pub play_duration: Option<f64>,
    pub play_reset: Option<bool>,
    pub deleted: bool,
    pub audio: MediaStats,
    pub video: MediaStats,
    pub data_messages: u64,
    pub data_bytes: u64,
    /// The onMetaData object (the AMF value; written in its JSON form,
    /// [`crate::amf::json`]).
    #[serde(serialize_with = "crate::amf::json::serialize_opt")]
    pub metadata: Option<Value>,
    /// Other message stream ids whose media was attributed to this stream.
    pub media_msids: Vec<u32>,
    /// Stream health over media time (streams that carried audio/video).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::StreamHealth>,
    /// `msid` was never on the wire (mid-stream pickup: the media's chunk
    /// streams had no fmt 0 header): the 0 is a placeholder.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub msid_unknown: bool,
    /// `role` was inferred from the direction of the media (to the server:
    /// publish, to the client: play), no publish/play command was seen.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub role_inferred: bool,
    /// `name` came from this command (`FCPublish` or `releaseStream`)
    /// because the publish command itself was not seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_from: Option<String>,
}

/// Ping round trips.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PingStats {
    pub count: u64,
    pub min_rtt_us: Option<u64>,
    pub max_rtt_us: Option<u64>,
    pub avg_rtt_us: Option<u64>,
    #[serde(skip)]
    sum: u128,
}

/// Gaps seen on the flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GapStats {
    pub count: u64,
    pub bytes: u64,
}

/// Maximum losses listed per session (later ones are counted in
/// [`GapStats`] only).
pub const MAX_LOSSES: usize = 64;

/// One loss (a gap) with the diagnostics it caused: the `gap` event, its
/// `tcp.seq_gap`, the messages it cut (`rtmp.gap_truncated`, which end at
/// the gap's offset) and the resynchronisation after it (`rtmp.resync`).
/// Summary and TUI show one line per loss from this.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Loss {
    pub direction: Option<Direction>,
    /// Stream offset of the first lost byte and how many were lost.
    pub offset: u64,
    pub len: u64,
    /// Packet time (RFC 3339) of the packet that showed the gap.
    pub timestamp: String,
    /// Messages cut by the gap, and the first one's description.
    pub truncated_messages: u64,
    pub truncated_first: Option<String>,
    /// Where decoding resumed, when it did.
    pub resync_at: Option<u64>,
}

/// Loss-linked diagnostics: folded into their [`Loss`] by summary and TUI.
pub const LOSS_ANOMALIES: [&str; 3] = ["tcp.seq_gap", "rtmp.gap_truncated", "rtmp.resync"];

/// The loss of `losses` (same direction) an anomaly belongs to: a
/// `tcp.seq_gap` or `rtmp.resync` starts at the gap's offset, a
/// `rtmp.gap_truncated` ends there.
pub fn loss_of<'a>(
    losses: &'a mut [Loss],
    dir: Option<Direction>,
    name: &str,
    range: Option<crate::event::ByteRange>,
) -> Option<&'a mut Loss> {
    let r = range?;
    let at = match name {
        "tcp.seq_gap" | "rtmp.resync" => r.start,
        "rtmp.gap_truncated" => r.end,
        _ => return None,
    };
    losses
        .iter_mut()
        .rev()
        .take(8)
        .find(|l| l.direction == dir && l.offset == at)
}

/// One RTMP connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Session {
    /// Session number: the order in which flows first showed RTMP (a
    /// handshake part or a message; for a TLS flow its TLS handshake), from 1. The same number in `json`,
    /// `summary`, `diff` and the TUI; the flow id is printed beside it.
    pub session_id: u64,
    pub flow_id: FlowId,
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    pub community_id: Option<String>,
    pub midstream: bool,
    /// The transport under the RTMP when it is not a TCP connection of its
    /// own: `rtmpt` (RTMP in HTTP). Absent for plain RTMP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// The tunnel's session id (with `transport`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_sid: Option<String>,
    /// What the tunnel did (set when the tunnel ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<crate::tunnel::TunnelFacts>,
    /// Packet times (RFC 3339) of the first and last event seen.
    pub start: String,
    pub end: String,
    /// Flow end reason, absent while open.
    pub end_reason: Option<EndReason>,
    pub protocol: Option<FlowProtocol>,
    /// What `protocol` rests on and how sure it is (the `flow` record's
    /// `evidence` and `confidence`), absent while open.
    pub evidence: Option<Evidence>,
    pub confidence: Option<Confidence>,
    pub handshake: HandshakeInfo,
    pub app: Option<String>,
    pub tc_url: Option<String>,
    pub flash_ver: Option<String>,
    pub swf_url: Option<String>,
    pub page_url: Option<String>,
    #[serde(serialize_with = "amf_number")]
    pub object_encoding: Option<f64>,
    #[serde(serialize_with = "amf_number")]
    pub capabilities: Option<f64>,
    pub four_cc_list: Vec<String>,
    pub chunk_size: PerDir<Option<u32>>,
    pub window_ack_size: PerDir<Option<u32>>,
    pub peer_bandwidth: PerDir<Option<u32>>,
    pub messages: PerDir<u64>,
    /// Client commands in order (names), e.g. connect, releaseStream, ...
    pub commands: Vec<String>,
    pub streams: Vec<StreamInfo>,
    pub status: Vec<StatusEntry>,
    pub status_dropped: u64,
    pub pings: PingStats,
    pub anomalies: BTreeMap<String, u64>,
    pub gaps: GapStats,
    /// Gaps per direction so far (streams compare it to see a gap fall
    /// between two of their messages).
    #[serde(skip)]
    pub gaps_by_dir: PerDir<u64>,
    /// Each loss with what it caused (first [`MAX_LOSSES`]); not in the
    /// JSON session line (the `gap` and `anomaly` lines carry the facts).
    #[serde(skip)]
    pub losses: Vec<Loss>,
    /// Stream name announced by the client's last `FCPublish` /
    /// `releaseStream` (names a publisher whose `publish` was lost).
    #[serde(skip)]
    pub announced: Option<(String, String)>,
    /// Command lines to replay the session (rtmpdump / ffmpeg), like rtmpsrv.
    pub replay: Vec<String>,
    /// TLS facts of an RTMPS/TLS flow (a session is kept for every TLS flow,
    /// decrypted or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<crate::tls::TlsInfo>>,
}

/// Maps a decoder codec name to the E-RTMP / ISO FourCC used in reports.
pub fn codec_fourcc(codec: &str) -> String {
    fourcc_of(codec).to_owned()
}

/// [`codec_fourcc`] without a copy.
fn fourcc_of(codec: &str) -> &str {
    match codec {
        "avc" | "h264" => "avc1",
        "hevc" | "h265" => "hvc1",
        "av1" => "av01",
        "vp9" => "vp09",
        "vp8" => "vp08",
        "aac" => "mp4a",
        "mp3" => ".mp3",
        "opus" => "Opus",
        "flac" => "fLaC",
        "ac3" => "ac-3",
        "eac3" => "ec-3",
        other => other,
    }
}

fn config_desc(c: &CodecConfig) -> String {
    match c {
        CodecConfig::Avc {
            profile,
            level,
            width,
            height,
            ..
        } => match (width, height) {
            (Some(w), Some(h)) => format!("profile {profile} level {level} {w}x{h}"),
            _ => format!("profile {profile} level {level}"),
        },
        CodecConfig::Hevc { profile, level, .. } => format!("profile {profile} level {level}"),
        CodecConfig::Av1 {
            profile,
            level,
            bit_depth,
            ..
        } => format!("profile {profile} level {level} {bit_depth}-bit"),
        CodecConfig::Vp {
            profile,
            level,
            bit_depth,
        } => format!("profile {profile} level {level} {bit_depth}-bit"),
        CodecConfig::Aac {
            object_type,
            sample_rate,
            channels,
        } => format!("object type {object_type} {sample_rate} Hz {channels} ch"),
        CodecConfig::Opaque { span } => format!("{} bytes", span.len()),
    }
}

fn lossy(s: &AmfStr) -> String {
    s.to_lossy()
}

/// The bytes of a string that is not valid UTF-8.
fn invalid_bytes(s: &Option<AmfStr>) -> Option<Vec<u8>> {
    match s {
        Some(AmfStr::Bytes(b)) => Some(b.clone()),
        _ => None,
    }
}

fn opt_lossy(s: &Option<AmfStr>) -> Option<String> {
    s.as_ref().map(lossy)
}

fn prop_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(lossy)
}

/// Quotes a word for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@=+-,%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Capture loss seen by one audio or video stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamLoss {
    /// Gaps of the stream's direction that fell between two of its
    /// messages (a gap may have held none of this stream's bytes).
    pub gaps: u64,
    /// Messages of this stream the gaps swallowed, estimated from its
    /// cadence: the timestamp step across a gap divided by the step before
    /// it, minus one (0 when the step is unknown).
    pub messages_lost: u64,
    /// Media time those messages covered (ms): `messages_lost` times the
    /// step; when the step is unknown, the whole timestamp jump across
    /// the gap (an upper bound).
    pub media_ms: u64,
    /// Messages whose timestamp is an estimate (`timestamp_estimated`).
    pub timestamps_estimated: u64,
}

impl StreamLoss {
    pub fn is_empty(&self) -> bool {
        self.gaps == 0 && self.timestamps_estimated == 0
    }
}

impl MediaStats {
    /// Counts `msg`; `gaps` is the number of gaps its direction has had so
    /// far (a change since the last message means a gap fell between).
    fn add(&mut self, msg: &Message, gaps: u64) {
        self.messages += 1;
        self.bytes += msg.length as u64;
        if self.first_timestamp.is_none() {
            self.first_timestamp = Some(msg.timestamp);
        }
        if msg.timestamp_estimate.is_some() {
            self.loss.timestamps_estimated += 1;
        }
        if let Some(prev) = self.last_timestamp {
            let step = msg.timestamp.wrapping_sub(prev);
            // A step back (or a wrap) says nothing about the cadence.
            let step = (step < 1 << 31).then_some(step as u64);
            if gaps != self.gap_mark {
                self.loss.gaps += 1;
                match (step, self.last_delta.filter(|&d| d > 0)) {
                    (Some(jump), Some(d)) => {
                        let d = d as u64;
                        let lost = ((jump + d / 2) / d).saturating_sub(1);
                        self.loss.messages_lost += lost;
                        self.loss.media_ms += lost * d;
                    }
                    (Some(jump), None) => self.loss.media_ms += jump,
                    (None, _) => {}
                }
            } else if let Some(st) = step.filter(|&x| x > 0) {
                self.last_delta = Some(st as u32);
            }
        }
        self.gap_mark = gaps;
        self.last_timestamp = Some(msg.timestamp);
    }

    fn frame(&mut self, ts: u32, key: bool, track: u8) {
        self.frames += 1;
        if key {
            self.keyframes += 1;
        }
        if *self.primary_track.get_or_insert(track) != track {
            return;
        }
        self.track_frames += 1;
        if self.first_frame_ts.is_none() {
            self.first_frame_ts = Some(ts);
        }
        self.last_frame_ts = Some(ts);
        if key {
            self.track_keyframes += 1;
            if let Some(prev) = self.last_keyframe_ts {
                let d = ts.wrapping_sub(prev);
                if d < 1 << 31 {
                    self.keyframe_delta_sum += d as u64;
                }
            }
            self.last_keyframe_ts = Some(ts);
        }
    }

    fn config(&mut self, tracks: &[MediaTrack], codec: &str) {
        self.sequence_headers += 1;
        let primary = *self.primary_track.get_or_insert(track_of(tracks));
        if let Some(t) = tracks.iter().find(|t| t.track_id == primary) {
            if let Some(c) = &t.config {
                self.config = Some(config_desc(c));
                if let CodecConfig::Aac {
                    sample_rate,
                    channels,
                    ..
                } = c
                {
                    self.sample_rate = Some(*sample_rate);
                    self.channels = Some(*channels);
                }
            }
        }
        self.set_codec(tracks, codec);
    }

    fn set_codec(&mut self, tracks: &[MediaTrack], codec: &str) {
        let name = tracks
            .first()
            .and_then(|t| t.fourcc.clone())
            .unwrap_or_else(|| codec_fourcc(codec));
        if !name.is_empty() {
            self.codec = Some(name);
        }
    }

    fn derive(&mut self) {
        if let (Some(f), Some(l)) = (self.first_timestamp, self.last_timestamp) {
            let d = l.wrapping_sub(f);
            self.duration_ms = if d < 1 << 31 { d as u64 } else { 0 };
        }
        // Bitrate over the span of coded frames when known (a timestamp jump
        // between the sequence header and the first frame, as in capture 12
        // where media starts at 16800000 ms, must not dilute it), else over
        // all messages.
        let frame_span = match (self.first_frame_ts, self.last_frame_ts) {
            (Some(f), Some(l)) => {
                let d = l.wrapping_sub(f);
                if d < 1 << 31 {
                    d as u64
                } else {
                    0
                }
            }
            _ => 0,
        };
        let span = if frame_span > 0 {
            frame_span
        } else {
            self.duration_ms
        };
        if span > 0 {
            let secs = span as f64 / 1000.0;
            self.bitrate_bps = Some((self.bytes as f64 * 8.0 / secs).round());
        }
        if let (Some(f), Some(l)) = (self.first_frame_ts, self.last_frame_ts) {
            let d = l.wrapping_sub(f);
            if self.track_frames > 1 && d > 0 && d < 1 << 31 {
                let fr = (self.track_frames - 1) as f64 / (d as f64 / 1000.0);
                self.frame_rate = Some((fr * 100.0).round() / 100.0);
            }
        }
        if self.track_keyframes > 1 {
            self.keyframe_interval_ms =
                Some(self.keyframe_delta_sum as f64 / (self.track_keyframes - 1) as f64);
        }
    }
}

/// Codec named by an onMetaData `videocodecid` / `audiocodecid`: a legacy
/// FLV codec id, or (E-RTMP) a FourCC as a number or a string.
/// Read as in the `session` line's `metadata` ([`crate::amf::json`]): a UTF-8
/// string or a plain JSON number.
pub fn codec_from_metadata(v: &Value, video: bool) -> Option<String> {
    if let Some(AmfStr::Text(s)) = v.as_str() {
        return Some(s.to_owned());
    }
    let n = json_number(v)?;
    if !(0.0..=u32::MAX as f64).contains(&n) || n.fract() != 0.0 {
        return None;
    }
    let n = n as u32;
    if n > 255 {
        let b = n.to_be_bytes();
        return b
            .iter()
            .all(|c| c.is_ascii_graphic() || *c == b' ')
            .then(|| String::from_utf8_lossy(&b).into_owned());
    }
    let name = if video {
        match n {
            2 => "h263",
            3 => "screen",
            4 => "vp6",
            5 => "vp6a",
            6 => "screen2",
            7 => "avc1",
            12 => "hvc1",
            13 => "av01",
            _ => return None,
        }
    } else {
        match n {
            0 | 3 => "pcm",
            1 => "adpcm",
            2 => ".mp3",
            4..=6 => "nellymoser",
            7 => "alaw",
            8 => "ulaw",
            10 => "mp4a",
            11 => "speex",
            _ => return None,
        }
    };
    Some(name.to_owned())
}

impl Session {
    /// Recomputes derived fields (rates, replay command lines; codecs from
    /// onMetaData when no media said).
    pub fn refresh(&mut self) {
        if let Some((cmd, name)) = &self.announced {
            for s in &mut self.streams {
                if s.name.is_none() && s.role.as_deref() == Some("publish") {
                    s.name = Some(name.clone());
                    s.name_from = Some(cmd.clone());
                }
            }
        }
        for s in &mut self.streams {
            s.audio.derive();
            s.video.derive();
            if let Some(h) = &mut s.health {
                h.refresh();
            }
            if let Some(m) = &s.metadata {
                if s.video.codec.is_none() {
                    s.video.codec = json_object_get(m, "videocodecid")
                        .and_then(|v| codec_from_metadata(v, true));
                }
                if s.audio.codec.is_none() {
                    s.audio.codec = json_object_get(m, "audiocodecid")
                        .and_then(|v| codec_from_metadata(v, false));
                }
            }
        }
        if self.pings.count > 0 {
            self.pings.avg_rtt_us = Some((self.pings.sum / self.pings.count as u128) as u64);
        }
        self.replay = self.replay_commands();
    }

    /// Base URL `rtmp://host:port/app` (tcUrl when known).
    pub fn base_url(&self) -> Option<String> {
        if let Some(t) = &self.tc_url {
            return Some(t.trim_end_matches('/').to_owned());
        }
        let s = self.server.as_ref()?;
        let host = if s.ip.contains(':') {
            format!("[{}]", s.ip)
        } else {
            s.ip.clone()
        };
        Some(format!(
            "rtmp://{}:{}/{}",
            host,
            s.port,
            self.app.clone().unwrap_or_default()
        ))
    }

    /// `rtmp://host:port` of the server: scheme and authority of tcUrl
    /// when known, else the server endpoint.
    pub fn server_url(&self) -> Option<String> {
        if let Some(t) = &self.tc_url {
            if let Some((scheme, rest)) = t.split_once("://") {
                let auth = rest.split(['/', '?']).next().unwrap_or("");
                if !auth.is_empty() {
                    return Some(format!("{scheme}://{auth}"));
                }
            }
        }
        let s = self.server.as_ref()?;
        Some(if s.ip.contains(':') {
            format!("rtmp://[{}]:{}", s.ip, s.port)
        } else {
            format!("rtmp://{}:{}", s.ip, s.port)
        })
    }

    /// rtmpdump / ffmpeg command lines for every named stream, built once
    /// from what the client sent: the connect `app` and `tcUrl` and the
    /// publish/play name, each passed whole by an explicit option
    /// (ffmpeg `-rtmp_app`/`-rtmp_tcurl`/`-rtmp_playpath`, rtmpdump
    /// `-a`/`-t`/`-y`), so query strings (auth tokens in tcUrl or in the
    /// stream name) reach the server where the client put them. The URL
    /// argument only names the server and app (tcUrl without its query).
    /// A redacted session ([`Session::redacted`]) gives the same line with
    /// placeholders in the same places.
    pub fn replay_commands(&self) -> Vec<String> {
        let Some(server) = self.server_url() else {
            return Vec::new();
        };
        let app = self.app.clone().or_else(|| {
            let t = self.tc_url.as_deref()?;
            let path = t.split_once("://")?.1.split_once('/')?.1;
            Some(path.trim_end_matches('/').to_owned())
        });
        let app_path = app
            .as_deref()
            .map(|a| a.split('?').next().unwrap_or("").trim_end_matches('/'))
            .unwrap_or("");
        let url = if app_path.is_empty() {
            server.clone()
        } else {
            format!("{server}/{app_path}")
        };
        let tc_url = self.tc_url.clone().unwrap_or_else(|| url.clone());
        let mut out = Vec::new();
        for st in &self.streams {
            let Some(name) = &st.name else { continue };
            let mut ff = String::new();
            if let Some(a) = &app {
                ff.push_str(&format!(" -rtmp_app {}", shell_quote(a)));
            }
            ff.push_str(&format!(" -rtmp_tcurl {}", shell_quote(&tc_url)));
            ff.push_str(&format!(" -rtmp_playpath {}", shell_quote(name)));
            if let Some(f) = &self.flash_ver {
                ff.push_str(&format!(" -rtmp_flashver {}", shell_quote(f)));
            }
            match st.role.as_deref() {
                Some("publish") => {
                    out.push(format!(
                        "ffmpeg -re -i INPUT -c copy -f flv{ff} {}",
                        shell_quote(&url)
                    ));
                }
                Some("play") => {
                    let live = st.play_start.is_none_or(|s| s < 0.0);
                    let mut c = format!("rtmpdump -r {}", shell_quote(&url));
                    if let Some(a) = &app {
                        c.push_str(&format!(" -a {}", shell_quote(a)));
                    }
                    c.push_str(&format!(" -t {}", shell_quote(&tc_url)));
                    c.push_str(&format!(" -y {}", shell_quote(name)));
                    if let Some(w) = &self.swf_url {
                        c.push_str(&format!(" -W {}", shell_quote(w)));
                    }
                    if let Some(p) = &self.page_url {
                        c.push_str(&format!(" -p {}", shell_quote(p)));
                    }
                    if let Some(f) = &self.flash_ver {
                        c.push_str(&format!(" -f {}", shell_quote(f)));
                    }
                    if live {
                        c.push_str(" --live");
                    }
                    c.push_str(" -o out.flv");
                    out.push(c);
                    let live_opt = if live { " -rtmp_live live" } else { "" };
                    out.push(format!(
                        "ffmpeg{ff}{live_opt} -i {} -c copy -f flv out.flv",
                        shell_quote(&url)
                    ));
                }
                _ => {}
            }
        }
        out
    }

    /// A copy with stream keys and credentials replaced by placeholders
    /// (learning the stream names into `r` first) and derived fields redone.
    pub fn redacted(&self, r: &mut Redactor) -> Session {
        let mut s = self.clone();
        s.announced = s.announced.map(|(c, n)| (c, r.redact_name(&n)));
        for st in &mut s.streams {
            if let Some(b) = &st.name_bytes {
                // Not UTF-8: learned as bytes (and their lossy form), the
                // placeholder of the bytes as in the rtmp lines.
                r.learn_bytes(b);
                st.name = Some(crate::redact::placeholder_bytes(b));
            } else if let Some(n) = &st.name {
                st.name = Some(r.redact_name(n));
            }
            if let Some(m) = &mut st.metadata {
                redact_metadata(r, m, 0);
            }
        }
        s.tc_url = s.tc_url.as_deref().map(|u| r.redact_str(&redact_url(u)));
        s.app = s.app.as_deref().map(|u| r.redact_str(&redact_url(u)));
        s.flash_ver = s.flash_ver.as_deref().map(|u| r.redact_str(u));
        s.swf_url = s.swf_url.as_deref().map(redact_url);
        s.page_url = s.page_url.as_deref().map(redact_url);
        for st in &mut s.status {
            st.description = st.description.as_deref().map(|d| r.redact_str(d));
        }
        if let Some(t) = &mut s.tls {
            t.sni = t.sni.as_deref().map(|n| r.redact_str(n));
        }
        s.refresh();
        s
    }

    /// The stream of a media or data message (see [`Session::stream_for_media`]),
    /// marked when what the wire did not say is filled in: an unknown msid,
    /// a role inferred from the media's direction.
    fn stream_for(&mut self, m: &Message, d: Direction) -> Option<&mut StreamInfo> {
        let st = self.stream_for_media(m.msid, d)?;
        if m.msid_unknown && st.created_by_transaction.is_none() && st.msid == m.msid {
            st.msid_unknown = true;
        }
        if st.role.is_none() {
            st.role = Some(
                match d {
                    Direction::ToServer => "publish",
                    Direction::ToClient => "play",
                }
                .into(),
            );
            st.role_inferred = true;
        }
        Some(st)
    }

    /// The stream media of direction `d` goes to by default (see module doc).
    fn stream_for_media(&mut self, msid: u32, d: Direction) -> Option<&mut StreamInfo> {
        if let Some(i) = self.streams.iter().position(|s| s.msid == msid) {
            return self.streams.get_mut(i);
        }
        let want = match d {
            Direction::ToServer => "publish",
            Direction::ToClient => "play",
        };
        let matching: Vec<usize> = self
            .streams
            .iter()
            .enumerate()
            .filter(|(_, s)| s.role.as_deref() == Some(want))
            .map(|(i, _)| i)
            .collect();
        let idx = if matching.len() == 1 {
            matching.first().copied()
        } else if self.streams.len() == 1 {
            Some(0)
        } else {
            None
        };
        match idx {
            Some(i) => {
                let s = self.streams.get_mut(i)?;
                if !s.media_msids.contains(&msid) && s.media_msids.len() < MAX_STREAMS {
                    s.media_msids.push(msid);
                }
                Some(s)
            }
            None => self.stream(msid),
        }
    }

    /// The stream with `msid`, created when new (bounded).
    fn stream(&mut self, msid: u32) -> Option<&mut StreamInfo> {
        if let Some(i) = self.streams.iter().position(|s| s.msid == msid) {
            return self.streams.get_mut(i);
        }
        if self.streams.len() >= MAX_STREAMS {
            return None;
        }
        self.streams.push(StreamInfo {
            msid,
            ..Default::default()
        });
        self.streams.last_mut()
    }
}

/// Redacts the metadata's text the way the `session` line always has: every
/// UTF-8 string of its JSON form through [`Redactor::redact_str`] (values,
/// and the keys and class names that the tagged forms write as strings).
fn redact_metadata(r: &Redactor, v: &mut Value, depth: usize) {
    if depth > crate::amf::MAX_DEPTH * 4 {
        return;
    }
    let text = |s: &mut AmfStr| {
        if let AmfStr::Text(t) = s {
            *t = r.redact_str(t);
        }
    };
    let keys_are_json_strings = !is_plain_object(v);
    let props = |ps: &mut Vec<crate::amf::Property>| {
        for p in ps.iter_mut() {
            if keys_are_json_strings {
                text(&mut p.key);
            }
            redact_metadata(r, &mut p.value, depth + 1);
        }
    };
    match &mut v.kind {
        ValueKind::String(s) | ValueKind::Xml(s) => text(s),
        ValueKind::Object { class, properties } => {
            if let Some(c) = class {
                text(c);
            }
            props(properties)
        }
        ValueKind::EcmaArray { properties, .. } => props(properties),
        ValueKind::Array { associative, dense } => {
            props(associative);
            dense
                .iter_mut()
                .for_each(|x| redact_metadata(r, x, depth + 1));
        }
        ValueKind::StrictArray(items) | ValueKind::Vector { items, .. } => items
            .iter_mut()
            .for_each(|x| redact_metadata(r, x, depth + 1)),
        ValueKind::Dictionary { entries, .. } => entries.iter_mut().for_each(|(k, x)| {
            redact_metadata(r, k, depth + 1);
            redact_metadata(r, x, depth + 1);
        }),
        ValueKind::Externalizable { class, .. } => text(class),
        ValueKind::Reference {
            resolved: Some(x), ..
        } => redact_metadata(r, x, depth + 1),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> Value {
        Value::new(crate::amf::Span::new(0, 0), ValueKind::Number(x))
    }

    /// Summary and TUI print `as_str`; JSON writes serde's name: one name.
    #[test]
    fn enum_names_are_their_json_names() {
        use crate::classify::{Confidence as C, Evidence as E};
        use crate::event::{EndReason as R, FlowProtocol as P};
        fn same<T: Serialize + std::fmt::Display>(v: T) {
            assert_eq!(serde_json::to_value(&v).unwrap(), v.to_string());
        }
        for r in [
            R::Fin,
            R::Rst,
            R::Timeout,
            R::Evicted,
            R::EndOfInput,
            R::PortReuse,
        ] {
            same(r);
        }
        same(R::Interrupted);
        for p in [
            P::Unknown,
            P::Rtmp,
            P::RtmpMidstream,
            P::Rtmpt,
            P::RtmpEncrypted,
            P::NotRtmp,
        ] {
            same(p);
        }
        for p in [P::Rtmps, P::Tls, P::Http, P::Ssh, P::Bgp, P::Dns, P::Smb] {
            same(p);
        }
        for e in [E::None, E::RtmpHandshake, E::RtmpeHandshake, E::RtmpChunks] {
            same(e);
        }
        for e in [
            E::WeakRtmpChunks,
            E::TlsRecord,
            E::HttpRequest,
            E::HttpResponse,
        ] {
            same(e);
        }
        for e in [
            E::SshBanner,
            E::BgpMarker,
            E::DnsHeader,
            E::SmbHeader,
            E::TpktHeader,
        ] {
            same(e);
        }
        for e in [E::Text, E::NoRtmpStructure] {
            same(e);
        }
        for c in [C::Low, C::Medium, C::High] {
            same(c);
        }
        same(crate::event::Transport::Rtmpt);
    }

    #[test]
    fn metadata_codecs() {
        assert_eq!(
            codec_from_metadata(&num(7.0), true).as_deref(),
            Some("avc1")
        );
        assert_eq!(
            codec_from_metadata(&num(10.0), false).as_deref(),
            Some("mp4a")
        );
        // E-RTMP: FourCC 'hvc1' as a number.
        let hvc1 = u32::from_be_bytes(*b"hvc1");
        assert_eq!(
            codec_from_metadata(&num(hvc1 as f64), true).as_deref(),
            Some("hvc1")
        );
        assert_eq!(
            codec_from_metadata(
                &Value::new(
                    crate::amf::Span::new(0, 0),
                    ValueKind::String(AmfStr::Text("av01".into()))
                ),
                true
            )
            .as_deref(),
            Some("av01")
        );
        assert_eq!(codec_from_metadata(&num(99.0), true), None);
        assert_eq!(codec_from_metadata(&num(-1.0), true), None);
        assert_eq!(codec_from_metadata(&num(1.5), true), None);
        // Read as the JSON form reads: -0, NaN and AMF3 integers are tagged.
        assert_eq!(codec_from_metadata(&num(-0.0), false), None);
        assert_eq!(codec_from_metadata(&num(f64::NAN), true), None);
        let int7 = Value::new(crate::amf::Span::new(0, 0), ValueKind::Integer(7));
        assert_eq!(codec_from_metadata(&int7, true), None);
    }
}

#[derive(Debug, Default)]
struct FlowState {
    session: Session,
    /// Time of the flow's last event: `session.end` is written from it
    /// when the session is handed out ([`FlowState::settled`]), not as text
    /// per event.
    last: PacketTime,
    rtmp: bool,
    /// Outstanding transactions per direction: id bits -> command name.
    pending: [BTreeMap<u64, String>; 2],
}

/// Builds [`Session`]s from events (see the module documentation).
#[derive(Debug, Default)]
pub struct SessionTracker {
    open: BTreeMap<FlowId, FlowState>,
    finished: Vec<Session>,
    /// Sessions numbered so far (see [`Session::session_id`]).
    numbered: u64,
}

impl FlowState {
    /// The session as it stands: `end` from the last event's time, derived
    /// figures refreshed.
    fn settled(mut self) -> Session {
        self.session.end = self.last.rfc3339_micros();
        self.session.refresh();
        self.session
    }
}

impl SessionTracker {
    pub fn new() -> Self {
        SessionTracker::default()
    }

    /// Feeds one event.
    pub fn handle(&mut self, ev: &Event) {
        let Some(fid) = ev.flow_id else { return };
        let ts = ev.time;
        // Session state is made only by the flow's start: an event of an
        // ended flow (`tcp.pkt_after_close`) or of a flow never started must
        // not revive or invent a session that would then live to the end of
        // the input.
        let st = match (&ev.kind, self.open.entry(fid)) {
            (_, std::collections::btree_map::Entry::Occupied(e)) => e.into_mut(),
            (EventKind::FlowStart(_), std::collections::btree_map::Entry::Vacant(e)) => {
                e.insert(FlowState {
                    session: Session {
                        flow_id: fid,
                        start: ts.rfc3339_micros(),
                        ..Default::default()
                    },
                    ..Default::default()
                })
            }
            _ => return,
        };
        st.last = ts;
        let shows_session = match &ev.kind {
            EventKind::Handshake(_) | EventKind::Message(_) | EventKind::Tls(_) => true,
            EventKind::FlowEnd(end) => end.tls.is_some(),
            _ => false,
        };
        if !st.rtmp && shows_session {
            self.numbered += 1;
            st.session.session_id = self.numbered;
        }
        match &ev.kind {
            EventKind::FlowStart(info) => {
                let s = &mut st.session;
                s.client = Some(Endpoint {
                    ip: info.client_ip.to_string(),
                    port: info.client_port,
                });
                s.server = Some(Endpoint {
                    ip: info.server_ip.to_string(),
                    port: info.server_port,
                });
                s.community_id = Some(info.community_id.clone());
                s.midstream = info.midstream;
                if let Some(t) = &info.tunnel {
                    s.transport = Some(t.transport);
                    s.tunnel_sid = Some(t.sid.clone());
                }
            }
            EventKind::Handshake(h) => {
                st.rtmp = true;
                let hs = &mut st.session.handshake;
                match h.part {
                    HandshakePart::C0 => hs.c0_version = h.version_byte,
                    HandshakePart::S0 => hs.s0_version = h.version_byte,
                    HandshakePart::C1 => {
                        hs.kind = h.kind.map(str::to_owned);
                        hs.client_version = h.peer_version.clone();
                        hs.client_digest_valid = h.digest.map(|d| d.valid);
                    }
                    HandshakePart::S1 => {
                        hs.server_version = h.peer_version.clone();
                        hs.server_digest_valid = h.digest.map(|d| d.valid);
                    }
                    HandshakePart::C2 => hs.c2_echo_ok = h.echo_ok,
                    HandshakePart::S2 => hs.s2_echo_ok = h.echo_ok,
                }
            }
            EventKind::Message(m) => {
                st.rtmp = true;
                let d = ev.direction.unwrap_or(Direction::ToServer);
                *st.session.messages.get_mut(d) += 1;
                handle_message(st, m, d, ts, 0);
            }
            EventKind::Gap(g) => {
                st.session.gaps.count += 1;
                if let Some(d) = ev.direction {
                    *st.session.gaps_by_dir.get_mut(d) += 1;
                }
                st.session.gaps.bytes = st.session.gaps.bytes.saturating_add(g.len);
                if st.session.losses.len() < MAX_LOSSES {
                    st.session.losses.push(Loss {
                        direction: ev.direction,
                        offset: g.offset,
                        len: g.len,
                        timestamp: ts.rfc3339_micros(),
                        ..Loss::default()
                    });
                }
            }
            EventKind::Anomaly(a) => {
                *st.session.anomalies.entry(a.name.to_owned()).or_insert(0) += 1;
                if let Some(l) = loss_of(&mut st.session.losses, ev.direction, a.name, a.range) {
                    match a.name {
                        "rtmp.gap_truncated" => {
                            l.truncated_messages += 1;
                            if l.truncated_first.is_none() {
                                l.truncated_first =
                                    Some(a.detail.split(" cut by").next().unwrap_or("").to_owned());
                            }
                        }
                        "rtmp.resync" => l.resync_at = a.range.map(|r| r.end),
                        _ => {}
                    }
                }
                // Events counted but not written (rate limit): the session's
                // counts stay exact.
                if let Some(x) = &a.suppressed {
                    if x.name == "gap" {
                        st.session.gaps.count += x.count;
                        st.session.gaps.bytes =
                            st.session.gaps.bytes.saturating_add(x.bytes.unwrap_or(0));
                    } else {
                        *st.session.anomalies.entry(x.name.to_owned()).or_insert(0) += x.count;
                    }
                }
            }
            EventKind::FlowEnd(end) => {
                st.session.end_reason = Some(end.reason);
                st.session.protocol = Some(end.protocol);
                st.session.evidence = Some(end.evidence);
                st.session.confidence = Some(end.confidence);
                if let Some(t) = &end.tunnel {
                    st.session.tunnel = Some((**t).clone());
                }
                if let Some(t) = &end.tls {
                    st.session.tls = Some(t.clone());
                    st.rtmp = true;
                }
                if let Some(st) = self.open.remove(&fid) {
                    if st.rtmp {
                        self.finished.push(st.settled());
                    }
                }
            }
            EventKind::Tls(t) => {
                st.rtmp = true;
                st.session.tls = Some(t.clone());
            }
            EventKind::Stats(_) => {}
        }
    }

    /// Drains the sessions finished so far (flow order of their ends).
    pub fn take_finished(&mut self) -> Vec<Session> {
        std::mem::take(&mut self.finished)
    }

    /// End of input: closes every open session; returns all not yet taken,
    /// finished ones first, then open ones by session number.
    pub fn finish(&mut self) -> Vec<Session> {
        let mut out = self.take_finished();
        let mut open: Vec<Session> = std::mem::take(&mut self.open)
            .into_values()
            .filter(|st| st.rtmp)
            .map(FlowState::settled)
            .collect();
        open.sort_by_key(|s| s.session_id);
        out.extend(open);
        out
    }

    /// Copies of the open RTMP sessions as they stand (by flow id).
    pub fn snapshot_open(&self) -> Vec<Session> {
        self.open
            .values()
            .filter(|s| s.rtmp)
            .map(|st| {
                let mut s = st.session.clone();
                s.end = st.last.rfc3339_micros();
                s.refresh();
                s
            })
            .collect()
    }

    /// Copies of the sessions not yet taken and the open ones (by flow id).
    pub fn snapshot(&self) -> Vec<Session> {
        let mut out = self.finished.clone();
        out.extend(self.snapshot_open());
        out
    }

    /// Keeps at most `max` finished sessions (the newest): when they exceed
    /// `max` by a quarter, the oldest are dropped down to `max`. Returns the
    /// sessions dropped (a viewer's memory budget; counts stay in `stats`).
    pub fn trim_finished(&mut self, max: usize) -> usize {
        if self.finished.len() <= max + max / 4 {
            return 0;
        }
        let n = self.finished.len() - max;
        self.finished.drain(..n);
        n
    }
}

fn first_object(args: &[Value]) -> Option<&Value> {
    args.iter().find(|a| a.properties().is_some())
}

/// Media on `msid` although the session created streams and none of them
/// has that id (ffmpeg's listen server sends on 0 after returning 1). A
/// session picked up mid-stream (no createStream seen) never says so.
fn msid_not_created(s: &Session, msid: u32) -> bool {
    s.streams.iter().any(|x| x.created_by_transaction.is_some())
        && !s
            .streams
            .iter()
            .any(|x| x.msid == msid && x.created_by_transaction.is_some())
}

/// Identity of a sequence header for change/repeat detection: its length
/// and decoded configuration records.
fn seq_identity(m: &Message, tracks: &[MediaTrack]) -> String {
    let cfg: Vec<&Option<CodecConfig>> = tracks.iter().map(|t| &t.config).collect();
    format!("{}:{cfg:?}", m.length)
}

/// Capture time of a message in ms.
fn capture_ms(m: &Message) -> i64 {
    (m.time.as_nanos() / 1_000_000) as i64
}

fn handle_message(st: &mut FlowState, m: &Message, d: Direction, ts: PacketTime, depth: usize) {
    let s = &mut st.session;
    match &m.body {
        Body::Control(c) => match c {
            Control::SetChunkSize {
                size,
                ignored: false,
            } => *s.chunk_size.get_mut(d) = Some(*size),
            Control::WindowAckSize { size } => *s.window_ack_size.get_mut(d) = Some(*size),
            Control::SetPeerBandwidth { size, .. } => *s.peer_bandwidth.get_mut(d) = Some(*size),
            _ => {}
        },
        Body::UserControl(u) => {
            if let Some(rtt) = u.rtt_us {
                let p = &mut s.pings;
                p.count += 1;
                p.sum += rtt as u128;
                p.min_rtt_us = Some(p.min_rtt_us.map_or(rtt, |x| x.min(rtt)));
                p.max_rtt_us = Some(p.max_rtt_us.map_or(rtt, |x| x.max(rtt)));
            }
        }
        Body::Video(v) => {
            let gaps = *s.gaps_by_dir.get_mut(d);
            let not_created = msid_not_created(s, m.msid);
            let Some(stream) = s.stream_for(m, d) else {
                return;
            };
            let seq = v.packet_type == Some(0) && v.frame_type != 5;
            let frame = v.frame_type != 5
                && !matches!(v.packet_type, Some(0) | Some(2) | Some(4) | Some(5));
            let id = seq.then(|| seq_identity(m, &v.tracks));
            let codec = fourcc_of(&v.codec);
            let h = stream.health.get_or_insert_with(Default::default);
            if not_created {
                h.set_msid_not_created();
            }
            h.media(MediaSample {
                video: true,
                timestamp: m.timestamp,
                capture_ms: capture_ms(m),
                bytes: m.length,
                frame,
                keyframe: v.keyframe,
                track: track_of(&v.tracks),
                seq_header: id.as_deref(),
                codec,
            });
            let vs = &mut stream.video;
            vs.add(m, gaps);
            let pt = v.packet_type;
            if v.frame_type == 5 {
                // command frame: not a picture
            } else if pt == Some(0) {
                vs.config(&v.tracks, &v.codec);
            } else if matches!(pt, Some(2) | Some(4) | Some(5)) {
            } else {
                if vs.codec.is_none() {
                    vs.set_codec(&v.tracks, &v.codec);
                }
                vs.frame(m.timestamp, v.keyframe, track_of(&v.tracks));
            }
        }
        Body::Audio(a) => {
            let gaps = *s.gaps_by_dir.get_mut(d);
            let not_created = msid_not_created(s, m.msid);
            let Some(stream) = s.stream_for(m, d) else {
                return;
            };
            let seq = a.packet_type == Some(0) && (a.enhanced || a.codec == "aac");
            let frame = a.packet_type.is_none() || a.packet_type == Some(1);
            let id = seq.then(|| seq_identity(m, &a.tracks));
            let codec = fourcc_of(&a.codec);
            let h = stream.health.get_or_insert_with(Default::default);
            if not_created {
                h.set_msid_not_created();
            }
            h.media(MediaSample {
                video: false,
                timestamp: m.timestamp,
                capture_ms: capture_ms(m),
                bytes: m.length,
                frame,
                keyframe: false,
                track: track_of(&a.tracks),
                seq_header: id.as_deref(),
                codec,
            });
            let au = &mut stream.audio;
            au.add(m, gaps);
            if a.packet_type == Some(0) && (a.enhanced || a.codec == "aac") {
                au.config(&a.tracks, &a.codec);
            } else if a.packet_type.is_none() || a.packet_type == Some(1) {
                if au.codec.is_none() {
                    au.set_codec(&a.tracks, &a.codec);
                }
                if au.sample_rate.is_none() {
                    au.sample_rate = a.sample_rate;
                }
                if au.channels.is_none() {
                    au.channels = a.channels;
                }
                au.frame(m.timestamp, false, track_of(&a.tracks));
            }
        }
        Body::Data(dm) => {
            let name = dm.name.as_ref().map(lossy);
            let meta = match name.as_deref() {
                Some("@setDataFrame") => {
                    let inner = dm.args.first().and_then(|v| v.as_str()).map(lossy);
                    if inner.as_deref() == Some("onMetaData") {
                        dm.args.get(1)
                    } else {
                        None
                    }
                }
                Some("onMetaData") => dm.args.first(),
                _ => None,
            };
            let Some(stream) = s.stream_for(m, d) else {
                return;
            };
            stream.data_messages += 1;
            stream.data_bytes += m.length as u64;
            if let Some(v) = meta {
                stream.metadata = Some(v.clone());
            }
        }
        Body::Command(c) => handle_command(st, m, c, d, ts),
        Body::Aggregate(subs) if depth < 4 => {
            for sub in subs {
                handle_message(st, sub, d, ts, depth + 1);
            }
        }
        _ => {}
    }
}

fn handle_command(
    st: &mut FlowState,
    m: &Message,
    c: &crate::rtmp::message::Command,
    d: Direction,
    ts: PacketTime,
) {
    let name = lossy(&c.name);
    let tx_key = c.transaction_id.map(f64::to_bits);
    let s = &mut st.session;
    if d == Direction::ToServer && s.commands.len() < MAX_STATUS {
        s.commands.push(name.clone());
    }
    match name.as_str() {
        "_result" | "_error" | "onStatus" => {
            let responds_to = if name == "onStatus" {
                None
            } else {
                tx_key.and_then(|k| st.pending[d.reverse().index()].remove(&k))
            };
            let s = &mut st.session;
            if name == "_result" && responds_to.as_deref() == Some("createStream") {
                let id = match &c.info {
                    Some(CommandInfo::StreamCreated { stream_id }) => Some(*stream_id),
                    _ => c.args.iter().find_map(|a| a.as_f64()),
                };
                if let Some(id) = id.filter(|x| x.is_finite() && *x >= 0.0 && *x <= u32::MAX as f64)
                {
                    if let Some(stream) = s.stream(id as u32) {
                        stream.created_by_transaction = c.transaction_id;
                    }
                }
            }
            let (level, code, description) = match &c.info {
                Some(CommandInfo::Status {
                    level,
                    code,
                    description,
                }) => (opt_lossy(level), opt_lossy(code), opt_lossy(description)),
                _ => match first_object(&c.args)
                    .filter(|o| o.get("code").is_some())
                    .or_else(|| c.object.as_ref().filter(|o| o.get("code").is_some()))
                    .or_else(|| first_object(&c.args))
                {
                    Some(o) => (
                        prop_str(o, "level"),
                        prop_str(o, "code"),
                        prop_str(o, "description"),
                    ),
                    None => (None, None, None),
                },
            };
            if code.is_some() || name == "_error" {
                if s.status.len() < MAX_STATUS {
                    s.status.push(StatusEntry {
                        timestamp: ts.rfc3339_micros(),
                        direction: d,
                        msid: m.msid,
                        command: name.clone(),
                        responds_to,
                        level,
                        code,
                        description,
                    });
                } else {
                    s.status_dropped += 1;
                }
            }
            return;
        }
        "connect" if d == Direction::ToServer => {
            if let Some(CommandInfo::Connect {
                app,
                tc_url,
                flash_ver,
                swf_url,
                page_url,
                object_encoding,
                four_cc_list,
            }) = &c.info
            {
                s.app = opt_lossy(app);
                s.tc_url = opt_lossy(tc_url);
                s.flash_ver = opt_lossy(flash_ver);
                s.swf_url = opt_lossy(swf_url);
                s.page_url = opt_lossy(page_url);
                s.object_encoding = *object_encoding;
                s.four_cc_list = four_cc_list.iter().map(lossy).collect();
            } else if let Some(o) = &c.object {
                s.app = prop_str(o, "app");
                s.tc_url = prop_str(o, "tcUrl");
                s.flash_ver = prop_str(o, "flashVer");
                s.swf_url = prop_str(o, "swfUrl");
                s.page_url = prop_str(o, "pageUrl");
                s.object_encoding = o.get("objectEncoding").and_then(Value::as_f64);
            }
            if let Some(o) = &c.object {
                s.capabilities = o.get("capabilities").and_then(Value::as_f64);
                if s.four_cc_list.is_empty() {
                    if let Some(ValueKind::StrictArray(items)) =
                        o.get("fourCcList").map(|v| &v.kind)
                    {
                        s.four_cc_list =
                            items.iter().filter_map(|v| v.as_str()).map(lossy).collect();
                    }
                }
            }
        }
        "publish" => {
            let (n, t, raw) = match &c.info {
                Some(CommandInfo::Publish { name, publish_type }) => (
                    opt_lossy(name),
                    opt_lossy(publish_type),
                    invalid_bytes(name),
                ),
                _ => {
                    let mut strs = c.args.iter().filter_map(|a| a.as_str());
                    let first = strs.next().cloned();
                    let raw = invalid_bytes(&first);
                    (first.as_ref().map(lossy), strs.next().map(lossy), raw)
                }
            };
            if let Some(stream) = s.stream(m.msid) {
                stream.role = Some("publish".into());
                stream.role_inferred = false;
                stream.name_from = None;
                stream.name = n;
                stream.name_bytes = raw;
                stream.publish_type = t;
            }
        }
        "play" | "play2" => {
            let (n, start, dur, reset, raw) = match &c.info {
                Some(CommandInfo::Play {
                    name,
                    start,
                    duration,
                    reset,
                }) => (
                    opt_lossy(name),
                    *start,
                    *duration,
                    *reset,
                    invalid_bytes(name),
                ),
                _ => {
                    let raw = invalid_bytes(&c.args.first().and_then(|a| a.as_str()).cloned());
                    let n = c
                        .args
                        .first()
                        .and_then(|a| a.as_str().map(lossy).or_else(|| prop_str(a, "streamName")));
                    let start = c.args.get(1).and_then(Value::as_f64);
                    let dur = c.args.get(2).and_then(Value::as_f64);
                    let reset = c.args.get(3).and_then(|v| match v.kind {
                        ValueKind::Boolean(b) => Some(b),
                        _ => None,
                    });
                    (n, start, dur, reset, raw)
                }
            };
            if let Some(stream) = s.stream(m.msid) {
                stream.role = Some("play".into());
                stream.role_inferred = false;
                stream.name = n;
                stream.name_bytes = raw;
                stream.play_start = start;
                stream.play_duration = dur;
                stream.play_reset = reset;
            }
        }
        "releaseStream" | "FCPublish" if d == Direction::ToServer => {
            let n = c.args.iter().find_map(|a| a.as_str()).map(lossy);
            if let Some(n) = n {
                s.announced = Some((name.clone(), n));
            }
        }
        "deleteStream" | "closeStream" => {
            let id = match &c.info {
                Some(CommandInfo::DeleteStream { stream_id }) => *stream_id,
                _ => c.args.iter().find_map(Value::as_f64),
            };
            let target = id
                .filter(|x| x.is_finite() && *x >= 0.0 && *x <= u32::MAX as f64)
                .map_or(m.msid, |x| x as u32);
            if let Some(i) = s.streams.iter().position(|x| x.msid == target) {
                if let Some(x) = s.streams.get_mut(i) {
                    x.deleted = true;
                }
            }
        }
        _ => {}
    }
    if let Some(k) = tx_key {
        if c.transaction_id.is_some_and(|t| t > 0.0) {
            let p = &mut st.pending[d.index()];
            if p.len() < MAX_PENDING {
                p.insert(k, name);
            }
        }
    }
}
