//! RTMP handshake: C0/S0 version byte, C1/S1 (time, version, digest), C2/S2
//! echo checks, and the digest ("complex") handshake validated with the
//! well-known Flash Player / FMS HMAC-SHA256 keys.
//!
//! Contract: pure functions over the handshake bytes; never panic.

use serde::Serialize;

use crate::event::ByteRange;

/// C0/S0 + C1/S1 size: 1 + 1536.
pub const HANDSHAKE_SIZE: usize = 1536;

/// Which part of the handshake an event describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakePart {
    C0,
    C1,
    C2,
    S0,
    S1,
    S2,
}

/// Digest layout of a complex handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestScheme {
    /// Scheme 0: digest offset computed from bytes 8..12 (digest block first).
    Offset8,
    /// Scheme 1: digest offset computed from bytes 772..776 (key block first).
    Offset772,
}

/// Result of checking a C1/S1 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub scheme: DigestScheme,
    /// Offset of the 32-byte digest within C1/S1.
    pub offset: u32,
    pub valid: bool,
}

/// One handshake part, emitted when its bytes are complete.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandshakeEvent {
    pub part: HandshakePart,
    /// Stream offsets of the part.
    pub range: ByteRange,
    /// C0/S0: the version byte (3 plain, 6/8 RTMPE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_byte: Option<u8>,
    /// C1/S1/C2/S2: bytes 0-3 (time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<u32>,
    /// C1/S1: bytes 4-7 as a dotted version (`0.0.0.0` for the simple
    /// handshake, e.g. `9.0.124.2` for ffmpeg/librtmp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_version: Option<String>,
    /// C1/S1: `simple` or `digest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// C1/S1: digest check, when a digest handshake was detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// C2/S2: whether it echoes S1/C1 (simple echo of random bytes, or the
    /// digest-handshake response validated with the peer's digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo_ok: Option<bool>,
}
