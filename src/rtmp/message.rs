//! RTMP message: header fields, chunk layout and decoded body.
//!
//! This is the data model the dissector produces and every output consumes.
//! Body fields carry body-relative [`Span`]s; [`Message::stream_offset_of`]
//! maps a body offset to a stream offset through the chunk layout, so a hex
//! view can highlight any field where it really sits on the wire (between
//! chunk headers).

use serde::Serialize;

use crate::amf::{AmfStr, Span, Value};
use crate::time::PacketTime;
use crate::vocab::ByteRange;

/// Message type ids (RTMP spec section 5.4 and the seed list).
pub mod type_id {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const VIRTUAL_CONTROL: u8 = 7;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF3: u8 = 15;
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    pub const COMMAND_AMF3: u8 = 17;
    pub const DATA_AMF0: u8 = 18;
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    pub const COMMAND_AMF0: u8 = 20;
    pub const UDP: u8 = 21;
    pub const AGGREGATE: u8 = 22;
    pub const PRESENT: u8 = 23;
}

/// snake_case name of a message type id (`unknown` for others).
pub fn type_name(id: u8) -> &'static str {
    match id {
        1 => "set_chunk_size",
        2 => "abort",
        3 => "acknowledgement",
        4 => "user_control",
        5 => "window_ack_size",
        6 => "set_peer_bandwidth",
        7 => "virtual_control",
        8 => "audio",
        9 => "video",
        15 => "data_amf3",
        16 => "shared_object_amf3",
        17 => "command_amf3",
        18 => "data_amf0",
        19 => "shared_object_amf0",
        20 => "command_amf0",
        21 => "udp",
        22 => "aggregate",
        23 => "present",
        _ => "unknown",
    }
}

/// One chunk of a message as it sat on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ChunkRef {
    /// fmt of this chunk's basic header (0-3).
    pub fmt: u8,
    /// Stream offsets of the chunk header (basic + message header + extended
    /// timestamp when present).
    pub header: ByteRange,
    /// Stream offsets of the payload bytes this chunk carries.
    pub payload: ByteRange,
}

/// Why a message is incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncationCause {
    /// A reassembly gap cut it.
    Gap,
    /// An Abort message (type 2) discarded it.
    Aborted,
    /// The input or flow ended first.
    EndOfStream,
    /// A per-connection memory cap was hit.
    Limit,
    /// A new message header arrived on the same chunk stream before the
    /// message was complete (`rtmp.chunk.unexpected_header`).
    Interrupted,
}

/// Set on messages that did not arrive whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Truncation {
    pub cause: TruncationCause,
    /// Body bytes received.
    pub received: u32,
    /// Body bytes lost (length - received).
    pub lost: u32,
}

/// A timestamp that rests on an estimate (capture loss swallowed messages
/// whose deltas it depends on, or the chunk stream's absolute timestamp was
/// never seen): bounds on the true value, in ms. `low` always holds (the
/// lost messages' deltas are not negative); `high` when one is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimestampEstimate {
    pub low: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<u32>,
}

/// Set Peer Bandwidth limit type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitType {
    Hard,
    Soft,
    Dynamic,
    Unknown(u8),
}

/// Protocol control messages (types 1, 2, 3, 5, 6).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Control {
    /// `size` is the 31-bit value as sent (see [`crate::rtmp::control`] for
    /// the rule); `ignored` when the receiver does not apply it (bit 31 set,
    /// or 0), so the chunk size in force is unchanged.
    SetChunkSize {
        size: u32,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ignored: bool,
    },
    Abort {
        csid: u32,
    },
    Acknowledgement {
        sequence: u32,
    },
    WindowAckSize {
        size: u32,
    },
    SetPeerBandwidth {
        size: u32,
        limit_type: LimitType,
    },
}

/// A user control event (type 4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserControl {
    /// Event type (0-46 named; others kept).
    pub event_type: u16,
    /// snake_case name from the seed list (`unknown` otherwise).
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_length_ms: Option<u32>,
    /// Ping request/response timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u32>,
    /// Round-trip time in packet time, on a ping response paired with its request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// Parameter bytes not decoded into fields (unknown types, extra bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Span>,
}

/// Well-known commands, interpreted from the generic AMF values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CommandInfo {
    Connect {
        app: Option<AmfStr>,
        tc_url: Option<AmfStr>,
        flash_ver: Option<AmfStr>,
        swf_url: Option<AmfStr>,
        page_url: Option<AmfStr>,
        object_encoding: Option<f64>,
        /// E-RTMP `fourCcList` entries.
        four_cc_list: Vec<AmfStr>,
    },
    /// `_result` / `_error` / `onStatus` carrying an info object.
    Status {
        level: Option<AmfStr>,
        code: Option<AmfStr>,
        description: Option<AmfStr>,
    },
    /// `_result` of createStream: the new message stream id.
    StreamCreated {
        stream_id: f64,
    },
    Publish {
        name: Option<AmfStr>,
        /// live / record / append.
        publish_type: Option<AmfStr>,
    },
    Play {
        name: Option<AmfStr>,
        start: Option<f64>,
        duration: Option<f64>,
        reset: Option<bool>,
    },
    /// deleteStream / closeStream with the stream id argument.
    DeleteStream {
        stream_id: Option<f64>,
    },
    /// releaseStream / FCPublish / FCUnpublish / getStreamLength and others
    /// whose one interesting argument is a stream name.
    StreamName {
        name: Option<AmfStr>,
    },
    Pause {
        pause: Option<bool>,
        position_ms: Option<f64>,
    },
    Seek {
        position_ms: Option<f64>,
    },
    Receive {
        enabled: Option<bool>,
    },
}

/// A command message (types 17, 20).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Command {
    pub name: AmfStr,
    pub transaction_id: Option<f64>,
    /// Where the transaction id is in the body (the hex view highlights
    /// it); not part of the JSON output.
    #[serde(skip)]
    pub transaction_id_span: Option<Span>,
    /// The command object (often null).
    pub object: Option<Value>,
    /// Further arguments, in order.
    pub args: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<CommandInfo>,
}

/// A data message (types 15, 18): `@setDataFrame`, `onMetaData`, ...
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Data {
    /// The leading string value, when there is one.
    pub name: Option<AmfStr>,
    /// The values after the name.
    pub args: Vec<Value>,
}

/// One event of a shared object message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharedObjectEvent {
    pub event_type: u8,
    /// snake_case name (use, release, request_change, change, success,
    /// send_message, status, clear, remove, request_remove, use_success).
    pub event: &'static str,
    pub span: Span,
    /// Property name / message name, when the event carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<AmfStr>,
    /// Decoded values of the event data.
    pub values: Vec<Value>,
}

/// A shared object message (types 16, 19).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharedObject {
    pub name: AmfStr,
    pub version: u32,
    /// Raw flags field; `persistent` is derived from it.
    pub flags: u32,
    pub persistent: bool,
    pub events: Vec<SharedObjectEvent>,
}

/// Decoded codec configuration record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CodecConfig {
    /// AVCDecoderConfigurationRecord.
    Avc {
        profile: u8,
        compatibility: u8,
        level: u8,
        nalu_length_size: u8,
        sps: Vec<Span>,
        pps: Vec<Span>,
        #[serde(skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
    },
    /// HEVCDecoderConfigurationRecord.
    Hevc {
        profile: u8,
        tier: u8,
        level: u8,
        nalu_length_size: u8,
        arrays: Vec<(u8, u16)>,
    },
    /// AV1CodecConfigurationRecord.
    Av1 {
        profile: u8,
        level: u8,
        tier: u8,
        bit_depth: u8,
        monochrome: bool,
    },
    /// VPCodecConfigurationRecord.
    Vp {
        profile: u8,
        level: u8,
        bit_depth: u8,
    },
    /// AudioSpecificConfig (AAC).
    Aac {
        object_type: u8,
        sample_rate: u32,
        channels: u8,
    },
    /// Opus ID header, FLAC streaminfo and others: span only.
    Opaque { span: Span },
}

/// A name from a fixed set (borrowed, no allocation per message) or, for
/// what is not in the set (an unknown FourCC or codec id), made from the
/// bytes.
pub type Name = std::borrow::Cow<'static, str>;

/// The chunks of a message: one inline (single-chunk messages allocate
/// nothing for it).
pub type ChunkRefs = smallvec::SmallVec<[ChunkRef; 1]>;

/// The tracks of a media message: one inline (single-track messages, nearly
/// all of them, allocate nothing for it).
pub type Tracks = smallvec::SmallVec<[MediaTrack; 1]>;

/// One track of a (possibly multitrack) E-RTMP media message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MediaTrack {
    pub track_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fourcc: Option<String>,
    /// Composition time offset (video CodedFrames).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition_time: Option<i32>,
    /// Payload bytes of the track (coded frames or config).
    pub payload: Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<CodecConfig>,
}

/// Video tag header (type 9), legacy FLV or Enhanced RTMP.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Video {
    /// 1 keyframe, 2 inter, 3 disposable inter, 4 generated keyframe, 5 command.
    pub frame_type: u8,
    pub keyframe: bool,
    /// E-RTMP IsExHeader bit.
    pub enhanced: bool,
    /// Legacy codec id (7 AVC, 12 HEVC, ...) when not enhanced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_id: Option<u8>,
    /// Codec name: `avc`, `hevc`, `av1`, `vp9`, `h263`, `vp6`, ...
    pub codec: Name,
    /// Legacy AVC/HEVC packet type (0 seq header, 1 NALU, 2 end) or E-RTMP
    /// packet type (0 SequenceStart, 1 CodedFrames, 2 SequenceEnd,
    /// 3 CodedFramesX, 4 Metadata, 5 MPEG2TSSequenceStart, 6 Multitrack, 7 ModEx).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_type: Option<u8>,
    /// snake_case name of the packet type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition_time: Option<i32>,
    /// E-RTMP multitrack mode (one_track, many_tracks, many_tracks_many_codecs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multitrack: Option<&'static str>,
    /// Tracks (one for single-track messages).
    pub tracks: Tracks,
    /// ModEx timestamp offset in nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_offset_nanos: Option<u32>,
    /// Command frame (frame type 5) byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<u8>,
    /// E-RTMP Metadata packet (type 4): the AMF0 values (e.g. `colorInfo`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Value>,
}

/// Audio tag header (type 8), legacy FLV or Enhanced RTMP.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Audio {
    /// Legacy sound format 0-15, or 9 for E-RTMP ExHeader.
    pub sound_format: u8,
    pub enhanced: bool,
    /// Codec name: `aac`, `mp3`, `opus`, `flac`, `ac3`, `eac3`, `pcm`, ...
    pub codec: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_bits: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u8>,
    /// AAC packet type (0 config, 1 raw) or E-RTMP audio packet type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multitrack: Option<&'static str>,
    pub tracks: Tracks,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_offset_nanos: Option<u32>,
}

/// Decoded body of a message. (Messages are boxed in the event model, so the
/// size spread between variants costs nothing per event.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Control(Control),
    UserControl(UserControl),
    Command(Command),
    Data(Data),
    SharedObject(SharedObject),
    Audio(Audio),
    Video(Video),
    /// Sub-messages of an aggregate (22), each decoded like a top-level message.
    Aggregate(Vec<Message>),
    /// Not decoded (unknown type, truncated, or empty body).
    Raw,
}

/// One RTMP message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// fmt of the first chunk.
    pub fmt: u8,
    /// Real chunk stream id (2-65599).
    pub csid: u32,
    pub type_id: u8,
    /// Message stream id (little-endian on the wire).
    pub msid: u32,
    /// No fmt 0 header on this chunk stream was seen (mid-stream pickup):
    /// `msid` is a placeholder 0, not a value from the wire.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub msid_unknown: bool,
    /// Absolute RTMP timestamp (ms, wraps at 2^32).
    pub timestamp: u32,
    /// Delta from the previous message on this csid.
    pub timestamp_delta: u32,
    /// `timestamp` is an estimate (after capture loss), with its bounds;
    /// `None`: exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_estimate: Option<TimestampEstimate>,
    /// An extended timestamp field was used.
    pub extended_timestamp: bool,
    /// Body length from the header.
    pub length: u32,
    /// Stream offsets of the first and last byte of the message on the wire
    /// (first chunk header to last payload byte, inclusive range as
    /// `[first_byte, last_byte]`). For aggregate sub-messages these are the
    /// sub-message's own bytes.
    pub first_byte: u64,
    pub last_byte: u64,
    /// Chunks on the wire, in order. For aggregate sub-messages: the pieces
    /// of the parent's chunk payloads that hold this sub-message's body (with
    /// empty header ranges), so `stream_offset_of` works the same way.
    pub chunks: ChunkRefs,
    /// Packet time of the packet that completed the message.
    pub time: PacketTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
    pub body: Body,
}

impl Message {
    /// Maps a body-relative offset to its stream offset. Returns `None` past
    /// the bytes received. With no chunk list the offset is relative to
    /// `first_byte`.
    pub fn stream_offset_of(&self, body_offset: u32) -> Option<u64> {
        if self.chunks.is_empty() {
            return Some(self.first_byte + body_offset as u64);
        }
        let mut rem = body_offset as u64;
        for c in &self.chunks {
            let l = c.payload.len();
            if rem < l {
                return Some(c.payload.start + rem);
            }
            rem -= l;
        }
        None
    }

    /// Maps a body-relative range (as body decoders report them) to stream
    /// offsets; `None`, or a range past the bytes received, becomes the
    /// whole message or its received tail.
    pub fn stream_range_of(&self, r: Option<ByteRange>) -> ByteRange {
        let whole = ByteRange::new(self.first_byte, self.last_byte + 1);
        let Some(r) = r else { return whole };
        let s = self.stream_offset_of(r.start.min(u32::MAX as u64) as u32);
        let e = if r.end > r.start {
            self.stream_offset_of((r.end - 1).min(u32::MAX as u64) as u32)
                .map(|x| x + 1)
        } else {
            s
        };
        match (s, e) {
            (Some(s), Some(e)) => ByteRange::new(s, e),
            (Some(s), None) => ByteRange::new(s, whole.end),
            _ => whole,
        }
    }

    /// Number of chunks the message was carried in.
    pub fn chunk_count(&self) -> u32 {
        self.chunks.len() as u32
    }

    /// snake_case type name.
    pub fn type_name(&self) -> &'static str {
        type_name(self.type_id)
    }
}
