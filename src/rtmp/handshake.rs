//! RTMP handshake: C0/S0 version byte, C1/S1 (time, version, digest), C2/S2
//! echo checks, and the digest ("complex") handshake validated with the
//! well-known Flash Player / FMS HMAC-SHA256 keys.
//!
//! Contract: pure functions over the handshake bytes; never panic.

use serde::Serialize;

use crate::vocab::ByteRange;

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

/// Bytes of one direction's whole handshake: C0/S0 (1) + C1/S1 + C2/S2.
pub const HANDSHAKE_TOTAL: usize = 1 + 2 * HANDSHAKE_SIZE;
/// Length of an HMAC-SHA256 digest.
pub const DIGEST_LEN: usize = 32;

/// The constant 32 bytes appended to both well-known keys to make the
/// "full" keys used for C2/S2.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
/// "Genuine Adobe Flash Player 001": key of the C1 digest.
pub const CLIENT_KEY: &[u8; 30] = b"Genuine Adobe Flash Player 001";
/// "Genuine Adobe Flash Media Server 001": key of the S1 digest.
pub const SERVER_KEY: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";

/// Client key + tail (62 bytes): keys the C2 response.
pub fn client_key_full() -> [u8; 62] {
    let mut k = [0u8; 62];
    k[..30].copy_from_slice(CLIENT_KEY);
    k[30..].copy_from_slice(&KEY_TAIL);
    k
}

/// Server key + tail (68 bytes): keys the S2 response.
pub fn server_key_full() -> [u8; 68] {
    let mut k = [0u8; 68];
    k[..36].copy_from_slice(SERVER_KEY);
    k[36..].copy_from_slice(&KEY_TAIL);
    k
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut out = [0u8; 32];
    let Ok(mut m) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else {
        return out;
    };
    for p in parts {
        m.update(p);
    }
    out.copy_from_slice(&m.finalize().into_bytes());
    out
}

/// Offset of the 32-byte digest within C1/S1 for `scheme` (None if `c1`
/// is shorter than [`HANDSHAKE_SIZE`]).
pub fn digest_offset(c1: &[u8], scheme: DigestScheme) -> Option<usize> {
    if c1.len() < HANDSHAKE_SIZE {
        return None;
    }
    let base = match scheme {
        DigestScheme::Offset8 => 8,
        DigestScheme::Offset772 => 772,
    };
    let sum: usize = c1.get(base..base + 4)?.iter().map(|&b| b as usize).sum();
    Some(sum % 728 + base + 4)
}

/// The digest C1/S1 should carry at `off`: HMAC over every byte but the digest.
pub fn compute_c1_digest(c1: &[u8], off: usize, key: &[u8]) -> Option<[u8; 32]> {
    if c1.len() < HANDSHAKE_SIZE || off + DIGEST_LEN > HANDSHAKE_SIZE {
        return None;
    }
    Some(hmac_sha256(
        key,
        &[&c1[..off], &c1[off + DIGEST_LEN..HANDSHAKE_SIZE]],
    ))
}

/// Looks for a valid digest in C1/S1 under either scheme; returns the scheme,
/// offset and digest bytes of the first that validates.
pub fn find_valid_digest(c1: &[u8], key: &[u8]) -> Option<(DigestScheme, usize, [u8; 32])> {
    for scheme in [DigestScheme::Offset8, DigestScheme::Offset772] {
        let off = digest_offset(c1, scheme)?;
        let want = compute_c1_digest(c1, off, key)?;
        if c1.get(off..off + DIGEST_LEN) == Some(&want[..]) {
            return Some((scheme, off, want));
        }
    }
    None
}

/// Dotted version of C1/S1 bytes 4-7.
pub fn peer_version(c1: &[u8]) -> Option<String> {
    let v = c1.get(4..8)?;
    Some(format!("{}.{}.{}.{}", v[0], v[1], v[2], v[3]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Result of analysing C1/S1.
#[derive(Clone, Debug, PartialEq)]
pub struct C1Analysis {
    pub time: Option<u32>,
    pub version: Option<String>,
    pub kind: &'static str,
    pub digest: Option<Digest>,
    /// The valid digest bytes (keys the peer's C2/S2 response).
    pub digest_bytes: Option<[u8; 32]>,
}

/// Analyses C1 (`client` = true, keyed with [`CLIENT_KEY`]) or S1 (keyed with
/// [`SERVER_KEY`]). Version bytes 4-7 all zero means the simple handshake;
/// otherwise a digest is looked for under both schemes.
pub fn analyse_c1(c1: &[u8], client: bool) -> C1Analysis {
    let time = be32(c1, 0);
    let version = peer_version(c1);
    let simple = c1.get(4..8).is_none_or(|v| v == [0, 0, 0, 0]);
    if simple {
        return C1Analysis {
            time,
            version,
            kind: "simple",
            digest: None,
            digest_bytes: None,
        };
    }
    let key: &[u8] = if client { CLIENT_KEY } else { SERVER_KEY };
    match find_valid_digest(c1, key) {
        Some((scheme, off, d)) => C1Analysis {
            time,
            version,
            kind: "digest",
            digest: Some(Digest {
                scheme,
                offset: off as u32,
                valid: true,
            }),
            digest_bytes: Some(d),
        },
        None => C1Analysis {
            time,
            version,
            kind: "digest",
            digest: digest_offset(c1, DigestScheme::Offset8).map(|off| Digest {
                scheme: DigestScheme::Offset8,
                offset: off as u32,
                valid: false,
            }),
            digest_bytes: None,
        },
    }
}

/// How a C2/S2 relates to the peer's C1/S1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoCheck {
    /// Bytes 8..1536 echo the peer's random bytes (simple handshake).
    Echo,
    /// The last 32 bytes are the digest-handshake signature keyed with the
    /// peer's C1/S1 digest.
    DigestOk,
    /// Neither: wrong echo and (when checkable) wrong signature.
    Bad,
    /// Not an echo, and the peer's digest is unknown, so the response cannot
    /// be verified.
    Unverifiable,
}

/// Checks C2 (`client` = true: responds to S1, keyed with the full client
/// key) or S2 (responds to C1, keyed with the full server key).
/// `peer_digest` is the valid digest found in the peer's C1/S1, if any.
pub fn check_response(
    c2: &[u8],
    peer_c1: &[u8],
    peer_digest: Option<&[u8; 32]>,
    client: bool,
) -> EchoCheck {
    if c2.len() < HANDSHAKE_SIZE || peer_c1.len() < HANDSHAKE_SIZE {
        return EchoCheck::Unverifiable;
    }
    if c2[8..HANDSHAKE_SIZE] == peer_c1[8..HANDSHAKE_SIZE] {
        return EchoCheck::Echo;
    }
    let Some(pd) = peer_digest else {
        return EchoCheck::Unverifiable;
    };
    if response_signature(&c2[..HANDSHAKE_SIZE - DIGEST_LEN], pd, client)[..]
        == c2[HANDSHAKE_SIZE - DIGEST_LEN..HANDSHAKE_SIZE]
    {
        EchoCheck::DigestOk
    } else {
        EchoCheck::Bad
    }
}

/// Signature of a digest-handshake C2/S2: HMAC(HMAC(full key, peer digest),
/// first 1504 bytes).
pub fn response_signature(first1504: &[u8], peer_digest: &[u8; 32], client: bool) -> [u8; 32] {
    let tmp = if client {
        hmac_sha256(&client_key_full(), &[peer_digest])
    } else {
        hmac_sha256(&server_key_full(), &[peer_digest])
    };
    hmac_sha256(&tmp, &[first1504])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c1_with_digest(scheme: DigestScheme, client: bool, seed: u8) -> Vec<u8> {
        let mut c1: Vec<u8> = (0..HANDSHAKE_SIZE)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
        let key: &[u8] = if client { CLIENT_KEY } else { SERVER_KEY };
        let off = digest_offset(&c1, scheme).unwrap();
        let d = compute_c1_digest(&c1, off, key).unwrap();
        c1[off..off + 32].copy_from_slice(&d);
        c1
    }

    #[test]
    fn offsets_follow_the_schemes() {
        let mut c1 = vec![0u8; HANDSHAKE_SIZE];
        c1[8..12].copy_from_slice(&[200, 200, 200, 200]);
        assert_eq!(
            digest_offset(&c1, DigestScheme::Offset8),
            Some(800 % 728 + 12)
        );
        c1[772..776].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(digest_offset(&c1, DigestScheme::Offset772), Some(10 + 776));
        assert_eq!(digest_offset(&c1[..100], DigestScheme::Offset8), None);
    }

    #[test]
    fn valid_digest_found_under_each_scheme() {
        for scheme in [DigestScheme::Offset8, DigestScheme::Offset772] {
            let c1 = c1_with_digest(scheme, true, 7);
            let a = analyse_c1(&c1, true);
            assert_eq!(a.kind, "digest");
            assert_eq!(a.version.as_deref(), Some("9.0.124.2"));
            let d = a.digest.unwrap();
            assert!(d.valid);
            assert_eq!(d.scheme, scheme);
            // A client digest is not a server digest.
            assert!(!analyse_c1(&c1, false).digest.unwrap().valid);
        }
    }

    #[test]
    fn corrupted_digest_is_invalid() {
        let mut c1 = c1_with_digest(DigestScheme::Offset772, false, 3);
        c1[1000] ^= 0x55;
        let a = analyse_c1(&c1, false);
        assert_eq!(a.kind, "digest");
        assert!(!a.digest.unwrap().valid);
        assert!(a.digest_bytes.is_none());
    }

    #[test]
    fn simple_handshake_and_echo() {
        let mut c1 = vec![0u8; HANDSHAKE_SIZE];
        c1[0..4].copy_from_slice(&[0, 0, 1, 0]);
        for (i, b) in c1.iter_mut().enumerate().skip(8) {
            *b = i as u8;
        }
        let a = analyse_c1(&c1, true);
        assert_eq!(a.kind, "simple");
        assert_eq!(a.time, Some(256));
        assert!(a.digest.is_none());
        let mut s2 = c1.clone();
        s2[4] = 9;
        assert_eq!(check_response(&s2, &c1, None, false), EchoCheck::Echo);
        s2[100] ^= 1;
        assert_eq!(
            check_response(&s2, &c1, None, false),
            EchoCheck::Unverifiable
        );
    }

    #[test]
    fn digest_response_validated() {
        let c1 = c1_with_digest(DigestScheme::Offset8, true, 1);
        let a = analyse_c1(&c1, true);
        let cd = a.digest_bytes.unwrap();
        let mut s2: Vec<u8> = (0..HANDSHAKE_SIZE).map(|i| (i * 7) as u8).collect();
        let sig = response_signature(&s2[..1504], &cd, false);
        s2[1504..].copy_from_slice(&sig);
        assert_eq!(
            check_response(&s2, &c1, Some(&cd), false),
            EchoCheck::DigestOk
        );
        // Keyed with the wrong side's key it fails.
        assert_eq!(check_response(&s2, &c1, Some(&cd), true), EchoCheck::Bad);
        s2[20] ^= 1;
        assert_eq!(check_response(&s2, &c1, Some(&cd), false), EchoCheck::Bad);
    }
}
