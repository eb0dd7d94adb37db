//! What a chunk message header may plausibly say: the type ids seen in
//! practice and the lengths each type can have. Shared by the mid-stream
//! and resync scorer ([`super::midstream`]) and the chunk decoder's check of
//! the headers that follow a resync ([`super::chunk`]).
//!
//! Contract: pure functions of their arguments; never panic.

/// Messages longer than this are rare enough to count against a chain.
pub const HUGE_MESSAGE: u32 = 4 * 1024 * 1024;
/// Commands (types 17, 20) longer than this are implausible.
pub const MAX_PLAUSIBLE_COMMAND: u32 = 64 * 1024;
/// Data and shared object messages (15, 16, 18, 19) longer than this are
/// implausible.
pub const MAX_PLAUSIBLE_DATA: u32 = 1024 * 1024;
/// Audio messages longer than this are implausible.
pub const MAX_PLAUSIBLE_AUDIO: u32 = 256 * 1024;
/// Messages needing more chunks than this at the chunk size in force are
/// implausible (a 1 MiB frame at the default 128-byte chunk size).
pub const MAX_PLAUSIBLE_CHUNKS: u32 = 8192;
/// Message stream ids at or above this are implausible (servers number
/// them from 1).
pub const MAX_PLAUSIBLE_MSID: u32 = 1 << 16;

/// Message type ids seen in practice.
pub fn plausible_type(t: u8) -> bool {
    matches!(t, 1..=6 | 8 | 9 | 15..=20 | 22)
}

/// Whether `len` is a length a message of type `t` can have (control
/// messages have fixed lengths).
pub fn length_ok(t: u8, len: u32) -> bool {
    match t {
        1..=3 | 5 => len == 4,
        6 => len == 5,
        4 => (2..=64).contains(&len),
        15..=20 | 22 => len >= 1,
        _ => true,
    }
}

/// Whether a message of type `t` may be `len` bytes long at chunk size
/// `cs`.
pub fn plausible_length(t: u8, len: u32, cs: u32) -> bool {
    if len / cs.max(1) > MAX_PLAUSIBLE_CHUNKS {
        return false;
    }
    match t {
        17 | 20 => len <= MAX_PLAUSIBLE_COMMAND,
        15 | 16 | 18 | 19 => len <= MAX_PLAUSIBLE_DATA,
        8 => len <= MAX_PLAUSIBLE_AUDIO,
        9 | 22 => len <= HUGE_MESSAGE,
        _ => length_ok(t, len),
    }
}
