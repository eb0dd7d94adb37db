//! The anomaly registry: every anomaly name the crate emits, with its
//! severity and a one-line meaning. Names are part of the output contract
//! (`anomaly` lines, `stats` and `session` counts); the README's anomaly
//! table and the JSON Schema's `anomaly_name` enum are checked against this
//! list by `tests/anomaly_registry.rs`.
//!
//! Every emitter builds its [`Anomaly`](super::Anomaly) from one of these
//! constants ([`Anomaly::new`](super::Anomaly::new) takes an
//! [`AnomalyKind`]), so a name cannot be emitted without being registered.
//! The severity is the one the name is usually emitted with; a site that
//! emits it at another severity says so with [`AnomalyKind::at`] (the
//! meaning then says when).
//!
//! To add an anomaly: add ONE line below (sorted by name), then its row in
//! README.md's anomaly table and its name in the schema's `anomaly_name`
//! enum; the registry test prints the exact lines to add.

use super::{AnomalyKind, Severity};

macro_rules! registry {
    ($($id:ident = $name:literal, $sev:ident, $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $id: AnomalyKind = AnomalyKind {
                name: $name,
                severity: Severity::$sev,
                meaning: $meaning,
            };
        )*
        /// Every registered anomaly, sorted by name.
        pub const ALL: &[AnomalyKind] = &[$($id),*];
    };
}

registry! {
    AMF_AMF0_ECMA_COUNT_MISMATCH = "amf.amf0.ecma_count_mismatch", Info, "ECMA array count hint differs from the properties present";
    AMF_AMF0_EMPTY_KEY = "amf.amf0.empty_key", Warning, "empty AMF0 property name not followed by the object-end marker";
    AMF_AMF0_MISSING_OBJECT_END = "amf.amf0.missing_object_end", Warning, "AMF0 object or ECMA array ends with the body, without an object-end marker";
    AMF_AMF3_EXTERNALIZABLE_UNKNOWN = "amf.amf3.externalizable_unknown", Warning, "AMF3 externalizable class of unknown layout; rest of the body not decoded";
    AMF_ANOMALY_LIMIT = "amf.anomaly_limit", Info, "more AMF diagnostics in one body than are reported (a count is given)";
    AMF_BAD_REFERENCE = "amf.bad_reference", Error, "AMF reference to a table entry that does not exist";
    AMF_COPY_LIMIT = "amf.copy_limit", Warning, "copies made to resolve AMF references exceed the body's budget";
    AMF_DEPTH_LIMIT = "amf.depth_limit", Error, "AMF containers nested deeper than the limit; rest not decoded";
    AMF_ELEMENT_LIMIT = "amf.element_limit", Error, "more AMF values in one body than the limit; rest not decoded";
    AMF_INVALID_UTF8 = "amf.invalid_utf8", Info, "AMF string not valid UTF-8 (its bytes are kept)";
    AMF_REFERENCE_CYCLE = "amf.reference_cycle", Info, "AMF reference to an object that contains it; not expanded";
    AMF_REFERENCE_UNRESOLVED = "amf.reference_unresolved", Info, "AMF reference to an object that was not kept";
    AMF_RESERVED_MARKER = "amf.reserved_marker", Warning, "AMF0 marker that is reserved and should not be sent";
    AMF_STRAY_OBJECT_END = "amf.stray_object_end", Warning, "AMF object-end marker where a value was expected";
    AMF_TRUNCATED = "amf.truncated", Error, "AMF value cut by the end of the body";
    AMF_UNKNOWN_MARKER = "amf.unknown_marker", Error, "unknown AMF type marker; rest of the body not decoded";
    ANOMALY_RATE_LIMITED = "anomaly.rate_limited", Info, "repeats of one anomaly name on one flow counted but not written (see suppressed)";
    CAPTURE_TRUNCATED = "capture.truncated", Warning, "the capture file ends in the middle of a packet record";
    HTTP_BAD_CHUNK = "http.bad_chunk", Error, "HTTP chunked body framing broken";
    HTTP_BAD_CONTENT_LENGTH = "http.bad_content_length", Error, "HTTP Content-Length is not a length";
    HTTP_BAD_HEADER = "http.bad_header", Warning, "HTTP header line without a field name and colon";
    HTTP_BAD_START_LINE = "http.bad_start_line", Error, "not an HTTP request or status line";
    HTTP_CONTENT_LENGTH_MISMATCH = "http.content_length_mismatch", Error, "bytes after an HTTP body do not start a message (wrong Content-Length)";
    HTTP_HEAD_TOO_LONG = "http.head_too_long", Error, "no end of HTTP headers within the limit";
    HTTP_RESPONSE_WITHOUT_REQUEST = "http.response_without_request", Warning, "HTTP response answers no outstanding request";
    HTTP_RESYNC = "http.resync", Warning, "HTTP framing regained after skipped bytes";
    HTTP_TOO_MANY_HEADERS = "http.too_many_headers", Warning, "HTTP header fields beyond the limit not kept";
    HTTP_TOO_MANY_PENDING = "http.too_many_pending", Warning, "more HTTP requests without a response than the limit";
    HTTP_TRUNCATED = "http.truncated", Warning, "connection ended inside an HTTP message";
    IP_FRAGMENT = "ip.fragment", Warning, "IP fragment of a TCP datagram (IP reassembly is not done)";
    IP_HEADER_INVALID = "ip.header_invalid", Warning, "IP header with impossible fields";
    IP_HEADER_TRUNCATED = "ip.header_truncated", Warning, "IP header cut by the capture";
    IP_VERSION_MISMATCH = "ip.version_mismatch", Warning, "IP version differs from what the link type says";
    IP_VERSION_UNKNOWN = "ip.version_unknown", Warning, "IP version neither 4 nor 6";
    LINK_ETHERNET_TRUNCATED = "link.ethernet_truncated", Warning, "Ethernet header cut by the capture";
    LINK_NULL_TRUNCATED = "link.null_truncated", Warning, "BSD loopback header cut by the capture";
    LINK_SLL2_TRUNCATED = "link.sll2_truncated", Warning, "Linux cooked (SLL2) header cut by the capture";
    LINK_SLL_TRUNCATED = "link.sll_truncated", Warning, "Linux cooked (SLL) header cut by the capture";
    LINK_VLAN_TOO_DEEP = "link.vlan_too_deep", Warning, "more stacked VLAN tags than the limit";
    LINK_VLAN_TRUNCATED = "link.vlan_truncated", Warning, "VLAN tag cut by the capture";
    REASSEMBLY_FLOW_LIMIT = "reassembly.flow_limit", Warning, "flow table full: the least recently used flow was evicted";
    REASSEMBLY_MEMORY_LIMIT = "reassembly.memory_limit", Warning, "reassembly buffers above the cap: holes of a direction closed";
    REASSEMBLY_OOO_LIMIT = "reassembly.ooo_limit", Warning, "out-of-order buffer of a direction above its limit: hole closed";
    RTMP_ABORT = "rtmp.abort", Warning, "Abort message discarded a partial message (info when nothing was pending)";
    RTMP_ACK_BEYOND_RECEIVED = "rtmp.ack.beyond_received", Warning, "acknowledgement of more bytes than were sent the other way";
    RTMP_ACK_LATE = "rtmp.ack.late", Warning, "peer received more than its window without acknowledging";
    RTMP_AGGREGATE_BAD_BACK_POINTER = "rtmp.aggregate.bad_back_pointer", Warning, "aggregate sub-message back pointer disagrees with its size";
    RTMP_AGGREGATE_LIMIT = "rtmp.aggregate.limit", Warning, "more aggregate sub-messages than the limit";
    RTMP_AGGREGATE_MISSING_BACK_POINTER = "rtmp.aggregate.missing_back_pointer", Warning, "aggregate sub-message without its back pointer";
    RTMP_AGGREGATE_NESTED = "rtmp.aggregate.nested", Warning, "aggregate inside an aggregate (not expanded)";
    RTMP_AGGREGATE_TRUNCATED = "rtmp.aggregate.truncated", Error, "aggregate sub-message cut by the end of the body";
    RTMP_AUDIO_TRUNCATED = "rtmp.audio.truncated", Error, "audio tag header cut by the end of the body";
    RTMP_AUDIO_UNKNOWN_PACKET_TYPE = "rtmp.audio.unknown_packet_type", Warning, "audio packet type not known";
    RTMP_BODY_EMPTY = "rtmp.body.empty", Warning, "message with an empty body (info for audio/video, error for control messages)";
    RTMP_BODY_MISSING_FORMAT_BYTE = "rtmp.body.missing_format_byte", Warning, "data or command message of the AMF3 type without its format byte";
    RTMP_CHUNK_FMT3_ETS_OMITTED = "rtmp.chunk.fmt3_ets_omitted", Info, "peer omits the extended timestamp on fmt 3 chunks";
    RTMP_CHUNK_FMT3_ETS_REPEATED = "rtmp.chunk.fmt3_ets_repeated", Info, "peer repeats the extended timestamp on fmt 3 chunks";
    RTMP_CHUNK_HELD_DROPPED = "rtmp.chunk.held_dropped", Warning, "messages of a chunk stream first seen with fmt 2/3 headers, held for a header telling their type, not decoded (hold full, end of flow, or not of that type)";
    RTMP_CHUNK_IMPLAUSIBLE_HEADER = "rtmp.chunk.implausible_header", Warning, "after a resync, a header no real stream sends (type, length, stream id, or a new message over an unfinished one): the chain was wrong, decoding resynchronises again";
    RTMP_CHUNK_MSID_ASSUMED = "rtmp.chunk.msid_assumed", Info, "fmt 1 header opens a chunk stream: message stream id taken as 0";
    RTMP_CHUNK_UNEXPECTED_HEADER = "rtmp.chunk.unexpected_header", Error, "new message header on a chunk stream with a message pending";
    RTMP_CHUNK_UNKNOWN_CSID = "rtmp.chunk.unknown_csid", Error, "fmt 1-3 chunk on a chunk stream never started";
    RTMP_CHUNK_SIZE_INFERRED = "rtmp.chunk_size_inferred", Warning, "resync after a gap found the chain with an inferred chunk size (a Set Chunk Size was probably lost)";
    RTMP_CODEC_BAD_CONFIG = "rtmp.codec.bad_config", Warning, "codec configuration record not readable (error when kept opaque)";
    RTMP_COMMAND_BAD_NAME = "rtmp.command.bad_name", Error, "command message does not start with a string name";
    RTMP_CONTROL_BAD_LENGTH = "rtmp.control.bad_length", Error, "protocol control message of the wrong length (warning when longer)";
    RTMP_CONTROL_BAD_LIMIT_TYPE = "rtmp.control.bad_limit_type", Warning, "Set Peer Bandwidth limit type not 0, 1 or 2";
    RTMP_CONTROL_CHUNK_SIZE_TOP_BIT = "rtmp.control.chunk_size_top_bit", Error, "Set Chunk Size with bit 31 set";
    RTMP_CONTROL_CHUNK_SIZE_ZERO = "rtmp.control.chunk_size_zero", Error, "Set Chunk Size of 0";
    RTMP_DATA_NO_NAME = "rtmp.data.no_name", Warning, "data message without a handler name";
    RTMP_DETECTION_UNCERTAIN = "rtmp.detection_uncertain", Info, "chunks parse but do not prove RTMP: nothing dissected";
    RTMP_ENCRYPTED = "rtmp.encrypted", Info, "RTMPE connection: not dissected";
    RTMP_EOF_TRUNCATED = "rtmp.eof_truncated", Warning, "flow ended inside a message";
    RTMP_GAP_TRUNCATED = "rtmp.gap_truncated", Error, "message cut by a TCP gap (range ends at the gap)";
    RTMP_HANDSHAKE_BAD_DIGEST = "rtmp.handshake.bad_digest", Warning, "C1/S1 digest not valid";
    RTMP_HANDSHAKE_BAD_ECHO = "rtmp.handshake.bad_echo", Warning, "C2/S2 neither echoes the peer nor carries a valid digest response";
    RTMP_HANDSHAKE_BAD_VERSION = "rtmp.handshake.bad_version", Warning, "C0/S0 version byte not 3 (nor RTMPE)";
    RTMP_HANDSHAKE_ECHO_UNVERIFIED = "rtmp.handshake.echo_unverified", Info, "C2/S2 echo could not be checked";
    RTMP_HANDSHAKE_GAP = "rtmp.handshake.gap", Error, "handshake bytes lost";
    RTMP_HANDSHAKE_INCOMPLETE = "rtmp.handshake.incomplete", Warning, "flow ended before the handshake was complete";
    RTMP_LIMIT_CHUNK_STREAMS = "rtmp.limit.chunk_streams", Error, "more chunk streams than the limit";
    RTMP_LIMIT_DISSECTOR_MEMORY = "rtmp.limit.dissector_memory", Error, "global dissector memory cap reached: partial messages dropped";
    RTMP_LIMIT_PARTIAL_BYTES = "rtmp.limit.partial_bytes", Error, "partial messages of a direction above its limit: message truncated";
    RTMP_MEDIA_BAD_MODEX = "rtmp.media.bad_modex", Error, "E-RTMP ModEx packet malformed (error when its length is impossible)";
    RTMP_MEDIA_BAD_MULTITRACK_TYPE = "rtmp.media.bad_multitrack_type", Warning, "E-RTMP multitrack type not known";
    RTMP_MEDIA_NESTED_MULTITRACK = "rtmp.media.nested_multitrack", Error, "E-RTMP multitrack inside a multitrack";
    RTMP_MEDIA_TRACK_LIMIT = "rtmp.media.track_limit", Warning, "more E-RTMP tracks in one message than the limit";
    RTMP_MEDIA_TRACK_TRUNCATED = "rtmp.media.track_truncated", Error, "E-RTMP track cut by the end of the body";
    RTMP_MEDIA_UNKNOWN_FOURCC = "rtmp.media.unknown_fourcc", Warning, "E-RTMP FourCC not known";
    RTMP_MEDIA_UNKNOWN_MODEX_TYPE = "rtmp.media.unknown_modex_type", Warning, "E-RTMP ModEx type not known";
    RTMP_MESSAGE_UNKNOWN_TYPE = "rtmp.message.unknown_type", Warning, "message type id not defined by RTMP";
    RTMP_MIDSTREAM_INFERRED = "rtmp.midstream.inferred", Info, "flow picked up mid-stream: chunk size and headers inferred";
    RTMP_MIDSTREAM_WORK_LIMIT = "rtmp.midstream.work_limit", Info, "mid-stream inference stopped at its work budget";
    RTMP_RESYNC = "rtmp.resync", Info, "decoding resumed after bytes that were not chunks";
    RTMP_RESYNC_FAILED = "rtmp.resync_failed", Warning, "bytes at the end of the flow not decodable as chunks";
    RTMP_SHARED_OBJECT_BAD_EVENT_DATA = "rtmp.shared_object.bad_event_data", Error, "shared object event data not decodable";
    RTMP_SHARED_OBJECT_EVENT_TRUNCATED = "rtmp.shared_object.event_truncated", Error, "shared object event cut by the end of the body";
    RTMP_SHARED_OBJECT_LIMIT = "rtmp.shared_object.limit", Warning, "more shared object events than the limit";
    RTMP_SHARED_OBJECT_TRUNCATED = "rtmp.shared_object.truncated", Error, "shared object header cut by the end of the body";
    RTMP_SHARED_OBJECT_UNKNOWN_EVENT = "rtmp.shared_object.unknown_event", Warning, "shared object event type not known";
    RTMP_TIMESTAMP_BACKWARDS = "rtmp.timestamp_backwards", Warning, "message timestamp earlier than the previous one on its stream";
    RTMP_TIMESTAMP_CORRECTED = "rtmp.timestamp_corrected", Info, "a fmt 0 header made an estimated timestamp exact again (the correction is given)";
    RTMP_USER_CONTROL_BAD_LENGTH = "rtmp.user_control.bad_length", Error, "user control event shorter than its type needs";
    RTMP_USER_CONTROL_EXTRA_BYTES = "rtmp.user_control.extra_bytes", Warning, "user control event longer than its type needs";
    RTMP_USER_CONTROL_UNKNOWN_EVENT = "rtmp.user_control.unknown_event", Warning, "user control event type not known";
    RTMP_VIDEO_BAD_FRAME_TYPE = "rtmp.video.bad_frame_type", Warning, "video frame type not defined";
    RTMP_VIDEO_TRUNCATED = "rtmp.video.truncated", Error, "video tag header cut by the end of the body";
    RTMP_VIDEO_UNKNOWN_CODEC = "rtmp.video.unknown_codec", Warning, "video codec id not known";
    RTMP_VIDEO_UNKNOWN_PACKET_TYPE = "rtmp.video.unknown_packet_type", Warning, "video packet type not known";
    RTMPT_BAD_OPEN_REPLY = "rtmpt.bad_open_reply", Error, "the RTMPT /open/1 answer is not a session id";
    RTMPT_DUPLICATE_SEQ = "rtmpt.duplicate_seq", Warning, "RTMPT request seq seen again (copy ignored)";
    RTMPT_EMPTY_REPLY = "rtmpt.empty_reply", Warning, "RTMPT answer without its interval byte";
    RTMPT_HTTP_ERROR = "rtmpt.http_error", Error, "RTMPT request answered with an HTTP error";
    RTMPT_MISSING_SEQ = "rtmpt.missing_seq", Error, "RTMPT request seqs never seen: a gap of unknown length";
    RTMPT_REQUEST_AFTER_CLOSE = "rtmpt.request_after_close", Warning, "RTMPT request for a session whose /close was answered";
    RTMPT_UNKNOWN_REQUEST = "rtmpt.unknown_request", Warning, "HTTP request on an RTMPT flow that is not an RTMPT request";
    RTMPT_UNKNOWN_SID = "rtmpt.unknown_sid", Warning, "RTMPT request for a session whose /open/1 was not seen";
    TCP_DATA_AFTER_FIN = "tcp.data_after_fin", Warning, "payload beyond the FIN sequence number (dropped)";
    TCP_HEADER_INVALID = "tcp.header_invalid", Warning, "TCP header with impossible fields";
    TCP_HEADER_TRUNCATED = "tcp.header_truncated", Warning, "TCP header cut by the capture";
    TCP_MIDSTREAM = "tcp.midstream", Info, "no SYN seen: capture started mid-connection";
    TCP_OVERLAP_DIFFERENT_DATA = "tcp.overlap_different_data", Warning, "overlapping segment carries different bytes (first seen kept)";
    TCP_PKT_AFTER_CLOSE = "tcp.pkt_after_close", Info, "payload after the flow ended (ignored)";
    TCP_SEQ_GAP = "tcp.seq_gap", Error, "bytes of the TCP stream never seen (a loss)";
    TCP_SEQ_OUT_OF_WINDOW = "tcp.seq_out_of_window", Warning, "segment too far ahead of the next expected byte (dropped)";
    TCP_SNAPLEN_TRUNCATED = "tcp.snaplen_truncated", Error, "bytes cut by the capture's snapshot length";
    TLS_ALERT = "tls.alert", Warning, "TLS alert, named in the detail (error when fatal)";
    TLS_DECRYPT_FAILED = "tls.decrypt_failed", Error, "TLS record does not authenticate: its plaintext is lost";
    TLS_HANDSHAKE_MALFORMED = "tls.handshake.malformed", Warning, "TLS handshake message could not be parsed";
    TLS_HANDSHAKE_TOO_LONG = "tls.handshake.too_long", Error, "TLS handshake message longer than the limit";
    TLS_NO_KEY = "tls.no_key", Warning, "the key log has no secrets for this TLS connection: not decrypted";
    TLS_RECORD_MALFORMED = "tls.record.malformed", Error, "TLS record header not valid";
    TLS_RECORD_LOST = "tls.record_lost", Warning, "TLS record lost to a gap";
    TLS_RESYNC = "tls.resync", Warning, "TLS record framing regained after a loss";
    TLS_UNEXPECTED_RECORD = "tls.unexpected_record", Warning, "TLS application data before the handshake protected the connection";
    TLS_UNSUPPORTED_CIPHER = "tls.unsupported_cipher", Warning, "TLS cipher suite that cannot be decrypted";
}

/// The registered anomaly of that name.
pub fn lookup(name: &str) -> Option<&'static AnomalyKind> {
    ALL.iter().find(|k| k.name == name)
}
