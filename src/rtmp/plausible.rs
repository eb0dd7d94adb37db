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

/// Whether `held`, the body of a message whose header (fmt 2/3 on a chunk
/// stream first seen that way) gave neither type nor length, is a message
/// of type `t` like `anchor`, the first complete message of that chunk
/// stream after the fmt 0/1 header that told `t` (real peers send fmt 2/3
/// for a message of the previous one's type and length, and keep one kind
/// of media per chunk stream): audio with the anchor's sound format byte
/// (AAC: a raw frame or a sequence header; Enhanced RTMP: the same FourCC),
/// video of the anchor's codec with a valid frame type, AMF0 data and
/// commands that start with a name string, control messages of their fixed
/// length. Anything else is not decoded.
pub fn held_body_matches(t: u8, held: &[u8], anchor: &[u8]) -> bool {
    let (Some(&h0), Some(&a0)) = (held.first(), anchor.first()) else {
        return false;
    };
    match t {
        8 => match a0 >> 4 {
            9 => h0 >> 4 == 9 && held.get(1..5).is_some() && held.get(1..5) == anchor.get(1..5),
            10 => h0 == a0 && held.get(1).is_some_and(|&p| p <= 1),
            _ => h0 == a0,
        },
        9 => {
            let ft = (h0 >> 4) & 0x7;
            if !(1..=5).contains(&ft) {
                return false;
            }
            if a0 & 0x80 != 0 {
                h0 & 0x80 != 0 && held.get(1..5).is_some() && held.get(1..5) == anchor.get(1..5)
            } else {
                h0 & 0x80 == 0
                    && h0 & 0x0f == a0 & 0x0f
                    && (!matches!(h0 & 0x0f, 7 | 12 | 13) || held.get(1).is_some_and(|&p| p <= 2))
            }
        }
        15 | 17 => h0 == 0 && held.get(1) == Some(&0x02),
        18 | 20 => h0 == 0x02 && held.len() >= 4,
        _ => length_ok(t, held.len() as u32) && matches!(t, 1..=6),
    }
}
