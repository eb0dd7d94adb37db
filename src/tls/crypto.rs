//! TLS record protection: cipher suite table, key derivation and record
//! decryption, all from the RustCrypto crates (no hand-written ciphers).
//!
//! * TLS 1.2: PRF (RFC 5246 §5, P_SHA256 / P_SHA384 over HMAC), key block
//!   (§6.3, seed = server_random + client_random), AES-GCM (RFC 5288: nonce =
//!   4-byte implicit salt + 8-byte explicit nonce), ChaCha20-Poly1305 (RFC 7905:
//!   nonce = IV XOR sequence number), AES-CBC with HMAC-SHA1/SHA256/SHA384
//!   (MAC-then-encrypt, or encrypt-then-MAC per RFC 7366).
//! * TLS 1.3: HKDF-Expand-Label (RFC 8446 §7.1), traffic keys "key"/"iv"
//!   (§7.3), nonce = IV XOR sequence number (§5.3), key update "traffic upd".
//!
//! Contract: pure functions over byte slices; a record that does not
//! authenticate returns `None` (never unauthenticated plaintext). Key material
//! lives only in these structs and is never formatted (`Debug` hides it).

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// The hash of a suite's PRF / HKDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// Bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// AES-CBC with an HMAC (key length 16 or 32, MAC hash).
    AesCbc {
        key_len: usize,
        mac: MacAlg,
    },
}

/// HMAC hash of a CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    pub fn output_len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// What decryption needs to know about a cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    /// TLS 1.3 suite (keys from traffic secrets) or TLS 1.2 (from the master secret).
    pub tls13: bool,
    pub bulk: Bulk,
    pub hash: HashAlg,
}

impl Suite {
    /// The suites rtmpscope can decrypt.
    pub fn from_id(id: u16) -> Option<Suite> {
        use Bulk::*;
        use HashAlg::*;
        let (tls13, bulk, hash) = match id {
            0x1301 => (true, Aes128Gcm, Sha256),
            0x1302 => (true, Aes256Gcm, Sha384),
            0x1303 => (true, ChaCha20Poly1305, Sha256),
            // TLS 1.2 AEAD: (EC)DHE-RSA/ECDSA and RSA key exchange
            0xC02F | 0xC02B | 0x009C | 0x009E => (false, Aes128Gcm, Sha256),
            0xC030 | 0xC02C | 0x009D | 0x009F => (false, Aes256Gcm, Sha384),
            0xCCA8..=0xCCAA => (false, ChaCha20Poly1305, Sha256),
            // TLS 1.2 CBC
            0xC013 | 0xC009 | 0x002F | 0x0033 => (
                false,
                AesCbc {
                    key_len: 16,
                    mac: MacAlg::Sha1,
                },
                Sha256,
            ),
            0xC014 | 0xC00A | 0x0035 | 0x0039 => (
                false,
                AesCbc {
                    key_len: 32,
                    mac: MacAlg::Sha1,
                },
                Sha256,
            ),
            0xC027 | 0xC023 | 0x003C | 0x0067 => (
                false,
                AesCbc {
                    key_len: 16,
                    mac: MacAlg::Sha256,
                },
                Sha256,
            ),
            0x003D | 0x006B => (
                false,
                AesCbc {
                    key_len: 32,
                    mac: MacAlg::Sha256,
                },
                Sha256,
            ),
            0xC028 | 0xC024 => (
                false,
                AesCbc {
                    key_len: 32,
                    mac: MacAlg::Sha384,
                },
                Sha384,
            ),
            _ => return None,
        };
        Some(Suite {
            id,
            tls13,
            bulk,
            hash,
        })
    }

    fn key_len(&self) -> usize {
        match self.bulk {
            Bulk::Aes128Gcm => 16,
            Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 => 32,
            Bulk::AesCbc { key_len, .. } => key_len,
        }
    }

    /// Bytes a record adds to its plaintext (header excluded) for AEAD
    /// suites; `None` for CBC (depends on padding).
    pub fn aead_overhead(&self) -> Option<usize> {
        match (self.tls13, self.bulk) {
            (_, Bulk::AesCbc { .. }) => None,
            // tag + inner content type (no padding assumed)
            (true, _) => Some(17),
            (false, Bulk::ChaCha20Poly1305) => Some(16),
            (false, _) => Some(24),
        }
    }

    /// Record body length of `plain` bytes of application data.
    pub fn record_len_for(&self, plain: usize, etm: bool) -> usize {
        match (self.aead_overhead(), self.bulk) {
            (Some(o), _) => plain + o,
            (None, Bulk::AesCbc { mac, .. }) => {
                if etm {
                    16 + (plain / 16 + 1) * 16 + mac.output_len()
                } else {
                    16 + ((plain + mac.output_len()) / 16 + 1) * 16
                }
            }
            (None, _) => plain,
        }
    }
}

macro_rules! hmac_with {
    ($d:ty, $key:expr, $parts:expr) => {{
        // HMAC takes keys of any length: new_from_slice cannot fail.
        match <Hmac<$d> as Mac>::new_from_slice($key) {
            Ok(mut m) => {
                for p in $parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }};
}

fn hmac(hash: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match hash {
        HashAlg::Sha256 => hmac_with!(Sha256, key, parts),
        HashAlg::Sha384 => hmac_with!(Sha384, key, parts),
    }
}

fn hmac_mac(alg: MacAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        MacAlg::Sha1 => hmac_with!(Sha1, key, parts),
        MacAlg::Sha256 => hmac_with!(Sha256, key, parts),
        MacAlg::Sha384 => hmac_with!(Sha384, key, parts),
    }
}

/// TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed), `len` bytes.
pub fn prf12(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.output_len());
    let mut a = hmac(hash, secret, &[label, seed]);
    while out.len() < len {
        out.extend_from_slice(&hmac(hash, secret, &[&a, label, seed]));
        a = hmac(hash, secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) with an empty or given context.
/// `None` when `len` is too large for HKDF (never for TLS's own labels).
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &str,
    context: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let full = [b"tls13 ".as_slice(), label.as_bytes()].concat();
    if full.len() > 255 || context.len() > 255 || len > u16::MAX as usize {
        return None;
    }
    let mut info = Vec::with_capacity(4 + full.len() + context.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(&full);
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    let ok = match hash {
        HashAlg::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
        HashAlg::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
    };
    ok.then_some(out)
}

enum Engine {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Cbc {
        key: Vec<u8>,
        mac_key: Vec<u8>,
        mac: MacAlg,
    },
}

/// Decryption state of one direction in one epoch: key, IV, sequence number.
pub struct RecordKeys {
    suite: Suite,
    engine: Engine,
    /// Fixed IV: 4-byte salt (TLS 1.2 GCM) or 12-byte IV (ChaCha20, TLS 1.3).
    iv: Vec<u8>,
    /// Next record's sequence number.
    pub seq: u64,
    /// Encrypt-then-MAC negotiated (CBC suites only).
    pub etm: bool,
    /// TLS 1.3 traffic secret (for key updates).
    secret13: Vec<u8>,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never formatted.
        write!(f, "RecordKeys({:#06x}, seq {})", self.suite.id, self.seq)
    }
}

fn engine(suite: &Suite, key: &[u8], mac_key: &[u8]) -> Option<Engine> {
    Some(match suite.bulk {
        Bulk::Aes128Gcm => Engine::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
        Bulk::Aes256Gcm => Engine::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
        Bulk::ChaCha20Poly1305 => {
            Engine::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
        }
        Bulk::AesCbc { mac, .. } => Engine::Cbc {
            key: key.to_vec(),
            mac_key: mac_key.to_vec(),
            mac,
        },
    })
}

/// The two directions' keys of a TLS 1.2 session: (client write, server write).
pub fn tls12_keys(
    suite: &Suite,
    master: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    etm: bool,
) -> Option<(RecordKeys, RecordKeys)> {
    if suite.tls13 || master.len() != 48 {
        return None;
    }
    let (mac_len, iv_len) = match suite.bulk {
        Bulk::AesCbc { mac, .. } => (mac.output_len(), 0),
        Bulk::ChaCha20Poly1305 => (0, 12),
        _ => (0, 4),
    };
    let key_len = suite.key_len();
    let total = 2 * (mac_len + key_len + iv_len);
    let seed = [server_random, client_random].concat();
    let kb = prf12(suite.hash, master, b"key expansion", &seed, total);
    let (cmac, rest) = kb.split_at(mac_len);
    let (smac, rest) = rest.split_at(mac_len);
    let (ckey, rest) = rest.split_at(key_len);
    let (skey, rest) = rest.split_at(key_len);
    let (civ, siv) = rest.split_at(iv_len);
    let mk = |key: &[u8], mac: &[u8], iv: &[u8]| -> Option<RecordKeys> {
        Some(RecordKeys {
            suite: *suite,
            engine: engine(suite, key, mac)?,
            iv: iv.to_vec(),
            seq: 0,
            etm,
            secret13: Vec::new(),
        })
    };
    Some((mk(ckey, cmac, civ)?, mk(skey, smac, siv)?))
}

impl RecordKeys {
    /// TLS 1.3 keys of one direction from a traffic secret.
    pub fn tls13(suite: &Suite, secret: &[u8]) -> Option<RecordKeys> {
        if !suite.tls13 || secret.len() != suite.hash.output_len() {
            return None;
        }
        let key = hkdf_expand_label(suite.hash, secret, "key", &[], suite.key_len())?;
        let iv = hkdf_expand_label(suite.hash, secret, "iv", &[], 12)?;
        Some(RecordKeys {
            suite: *suite,
            engine: engine(suite, &key, &[])?,
            iv,
            seq: 0,
            etm: false,
            secret13: secret.to_vec(),
        })
    }

    /// TLS 1.3 KeyUpdate: the next generation of this direction's keys.
    pub fn updated(&self) -> Option<RecordKeys> {
        let next = hkdf_expand_label(
            self.suite.hash,
            &self.secret13,
            "traffic upd",
            &[],
            self.suite.hash.output_len(),
        )?;
        RecordKeys::tls13(&self.suite, &next)
    }

    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    fn seq_nonce(&self, seq: u64) -> [u8; 12] {
        let mut n = [0u8; 12];
        n.copy_from_slice(&self.iv[..12]);
        for (i, b) in seq.to_be_bytes().iter().enumerate() {
            n[4 + i] ^= b;
        }
        n
    }

    /// For TLS 1.2 GCM: the record's explicit nonce read as a sequence
    /// number (what OpenSSL, GnuTLS, NSS and Go send), to resync after a loss.
    pub fn explicit_seq(&self, body: &[u8]) -> Option<u64> {
        if self.suite.tls13 || !matches!(self.suite.bulk, Bulk::Aes128Gcm | Bulk::Aes256Gcm) {
            return None;
        }
        Some(u64::from_be_bytes(body.get(..8)?.try_into().ok()?))
    }

    /// Decrypts one record body with sequence number `seq`. Returns the
    /// content type and plaintext (TLS 1.3: inner type, padding removed), or
    /// `None` when the record does not authenticate.
    pub fn open(&self, seq: u64, ctype: u8, version: u16, body: &[u8]) -> Option<(u8, Vec<u8>)> {
        if self.suite.tls13 {
            if body.len() < 17 {
                return None;
            }
            let nonce = self.seq_nonce(seq);
            let mut hdr = [0u8; 5];
            hdr[0] = ctype;
            hdr[1..3].copy_from_slice(&version.to_be_bytes());
            hdr[3..5].copy_from_slice(&(body.len() as u16).to_be_bytes());
            let (ct, tag) = body.split_at(body.len() - 16);
            let mut buf = ct.to_vec();
            self.aead(&nonce, &hdr, &mut buf, tag)?;
            // Inner plaintext: content, inner type, zero padding.
            let end = buf.iter().rposition(|&b| b != 0)?;
            let inner = buf[end];
            buf.truncate(end);
            return Some((inner, buf));
        }
        let aad = |len: usize| {
            let mut a = [0u8; 13];
            a[..8].copy_from_slice(&seq.to_be_bytes());
            a[8] = ctype;
            a[9..11].copy_from_slice(&version.to_be_bytes());
            a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
            a
        };
        match &self.engine {
            Engine::Cbc { key, mac_key, mac } => {
                self.open_cbc(seq, ctype, version, body, key, mac_key, *mac)
            }
            Engine::ChaCha(_) => {
                if body.len() < 16 {
                    return None;
                }
                let (ct, tag) = body.split_at(body.len() - 16);
                let mut buf = ct.to_vec();
                self.aead(&self.seq_nonce(seq), &aad(ct.len()), &mut buf, tag)?;
                Some((ctype, buf))
            }
            _ => {
                if body.len() < 24 {
                    return None;
                }
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&self.iv[..4]);
                nonce[4..].copy_from_slice(&body[..8]);
                let (ct, tag) = body[8..].split_at(body.len() - 24);
                let mut buf = ct.to_vec();
                self.aead(&nonce, &aad(ct.len()), &mut buf, tag)?;
                Some((ctype, buf))
            }
        }
    }

    fn aead(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Option<()> {
        let n = aes_gcm::Nonce::from_slice(nonce);
        let t = aes_gcm::Tag::from_slice(tag);
        let r = match &self.engine {
            Engine::Aes128Gcm(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            Engine::Aes256Gcm(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            Engine::ChaCha(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            Engine::Cbc { .. } => return None,
        };
        r.ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn open_cbc(
        &self,
        seq: u64,
        ctype: u8,
        version: u16,
        body: &[u8],
        key: &[u8],
        mac_key: &[u8],
        mac: MacAlg,
    ) -> Option<(u8, Vec<u8>)> {
        use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
        let ml = mac.output_len();
        let hdr = |len: usize| {
            let mut a = [0u8; 13];
            a[..8].copy_from_slice(&seq.to_be_bytes());
            a[8] = ctype;
            a[9..11].copy_from_slice(&version.to_be_bytes());
            a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
            a
        };
        let enc = if self.etm {
            if body.len() < 32 + ml {
                return None;
            }
            let (enc, tag) = body.split_at(body.len() - ml);
            let want = hmac_mac(mac, mac_key, &[&hdr(enc.len()), enc]);
            if !ct_eq(&want, tag) {
                return None;
            }
            enc
        } else {
            body
        };
        if enc.len() < 32 || enc.len() % 16 != 0 {
            return None;
        }
        let (iv, ct) = enc.split_at(16);
        let mut buf = ct.to_vec();
        let ok = match key.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .is_ok(),
            32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .is_ok(),
            _ => false,
        };
        if !ok {
            return None;
        }
        let pad = *buf.last()? as usize;
        if pad + 1 > buf.len()
            || !buf[buf.len() - 1 - pad..]
                .iter()
                .all(|&b| b as usize == pad)
        {
            return None;
        }
        buf.truncate(buf.len() - 1 - pad);
        if !self.etm {
            if buf.len() < ml {
                return None;
            }
            let plen = buf.len() - ml;
            let want = hmac_mac(mac, mac_key, &[&hdr(plen), &buf[..plen]]);
            if !ct_eq(&want, &buf[plen..]) {
                return None;
            }
            buf.truncate(plen);
        }
        Some((ctype, buf))
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// TLS 1.2 PRF (P_SHA256) test vector published with the TLS working
    /// group's PRF test data (secret 9bbe..., label "test label", 100 bytes).
    #[test]
    fn prf12_sha256_known_vector() {
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf12(HashAlg::Sha256, &secret, b"test label", &seed, 100);
        let want = hex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
             6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
             4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
             87 34 7b 66",
        );
        assert_eq!(out, want);
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): server handshake traffic secret
    /// -> server handshake write key and IV.
    #[test]
    fn rfc8448_traffic_key_and_iv() {
        let secret = hex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let key = hkdf_expand_label(HashAlg::Sha256, &secret, "key", &[], 16).unwrap();
        let iv = hkdf_expand_label(HashAlg::Sha256, &secret, "iv", &[], 12).unwrap();
        assert_eq!(key, hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv, hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// RFC 8448 §3: the server's first encrypted record (EncryptedExtensions
    /// .. Finished) decrypts with the handshake keys, and a flipped bit fails.
    #[test]
    fn rfc8448_server_handshake_record_decrypts() {
        let secret = hex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let suite = Suite::from_id(0x1301).unwrap();
        let k = RecordKeys::tls13(&suite, &secret).unwrap();
        let rec = hex(RFC8448_SERVER_HS_RECORD);
        assert_eq!(&rec[..3], &[0x17, 0x03, 0x03]);
        let (inner, plain) = k.open(0, 0x17, 0x0303, &rec[5..]).expect("authenticates");
        assert_eq!(inner, 22);
        // EncryptedExtensions (type 8) first, Finished (type 20) last.
        assert_eq!(plain[0], 8);
        assert_eq!(plain.len(), 0x02a2 - 17);
        assert!(k.open(1, 0x17, 0x0303, &rec[5..]).is_none(), "wrong seq");
        let mut bad = rec.clone();
        bad[40] ^= 1;
        assert!(k.open(0, 0x17, 0x0303, &bad[5..]).is_none(), "tampered");
    }

    /// RFC 8448 §3: client application traffic secret -> key and IV, and
    /// the client's application data record (50 bytes 00..31) opens at
    /// sequence 0 and not at 1.
    #[test]
    fn rfc8448_application_keys() {
        let secret = hex(
            "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5",
        );
        let k = RecordKeys::tls13(&Suite::from_id(0x1301).unwrap(), &secret).unwrap();
        let rec = hex("17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55
             cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39
             5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd
             1e 3d ea e6 3a ee bb 21 69 49 15 e4");
        let (inner, plain) = k.open(0, 23, 0x0303, &rec[5..]).expect("opens");
        assert_eq!(inner, 23);
        assert_eq!(plain, (0u8..=0x31).collect::<Vec<u8>>());
        assert!(k.open(1, 23, 0x0303, &rec[5..]).is_none());
        // A key update changes the keys (and the old record no longer opens).
        let u = k.updated().unwrap();
        assert!(u.open(0, 23, 0x0303, &rec[5..]).is_none());
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &secret, "key", &[], 16).unwrap(),
            hex("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51")
        );
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &secret, "iv", &[], 12).unwrap(),
            hex("5b 78 92 3d ee 08 57 90 33 e5 23 d9")
        );
    }

    /// Round trips through the RustCrypto encryptors: TLS 1.2 GCM, ChaCha20
    /// and CBC (both MAC orders) open what was sealed with the same key block,
    /// and fail with another sequence number.
    #[test]
    fn tls12_round_trips() {
        use aes_gcm::aead::AeadInPlace;
        let master = [7u8; 48];
        let cr = [1u8; 32];
        let sr = [2u8; 32];
        let plain = b"\x03 rtmp handshake bytes".to_vec();
        for id in [0xC02Fu16, 0xC030, 0xCCA8] {
            let suite = Suite::from_id(id).unwrap();
            let (c, _s) = tls12_keys(&suite, &master, &cr, &sr, false).unwrap();
            let seq = 5u64;
            let aad = {
                let mut a = seq.to_be_bytes().to_vec();
                a.extend_from_slice(&[23, 3, 3]);
                a.extend_from_slice(&(plain.len() as u16).to_be_bytes());
                a
            };
            let mut buf = plain.clone();
            let body = match &c.engine {
                Engine::ChaCha(e) => {
                    let tag = e
                        .encrypt_in_place_detached(
                            aes_gcm::Nonce::from_slice(&c.seq_nonce(seq)),
                            &aad,
                            &mut buf,
                        )
                        .unwrap();
                    [buf.clone(), tag.to_vec()].concat()
                }
                e => {
                    let mut nonce = c.iv[..4].to_vec();
                    nonce.extend_from_slice(&seq.to_be_bytes());
                    let n = aes_gcm::Nonce::from_slice(&nonce);
                    let tag = match e {
                        Engine::Aes128Gcm(g) => {
                            g.encrypt_in_place_detached(n, &aad, &mut buf).unwrap()
                        }
                        Engine::Aes256Gcm(g) => {
                            g.encrypt_in_place_detached(n, &aad, &mut buf).unwrap()
                        }
                        _ => unreachable!(),
                    };
                    [seq.to_be_bytes().to_vec(), buf.clone(), tag.to_vec()].concat()
                }
            };
            assert_eq!(body.len(), suite.record_len_for(plain.len(), false));
            assert_eq!(c.open(seq, 23, 0x0303, &body), Some((23, plain.clone())));
            assert_eq!(c.open(seq + 1, 23, 0x0303, &body), None);
        }
        for etm in [false, true] {
            use cbc::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
            let suite = Suite::from_id(0xC013).unwrap();
            let (c, _s) = tls12_keys(&suite, &master, &cr, &sr, etm).unwrap();
            let Engine::Cbc { key, mac_key, mac } = &c.engine else {
                unreachable!()
            };
            let hdr = |len: usize| {
                let mut a = 9u64.to_be_bytes().to_vec();
                a.extend_from_slice(&[23, 3, 3]);
                a.extend_from_slice(&(len as u16).to_be_bytes());
                a
            };
            let iv = [9u8; 16];
            let mut inner = plain.clone();
            if !etm {
                inner.extend(hmac_mac(*mac, mac_key, &[&hdr(plain.len()), &plain]));
            }
            let pad = 15 - inner.len() % 16;
            inner.extend(std::iter::repeat_n(pad as u8, pad + 1));
            let n = inner.len();
            cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
                .unwrap()
                .encrypt_padded_mut::<NoPadding>(&mut inner, n)
                .unwrap();
            let mut body = [iv.to_vec(), inner].concat();
            if etm {
                let tag = hmac_mac(*mac, mac_key, &[&hdr(body.len()), &body]);
                body.extend(tag);
            }
            assert_eq!(body.len(), suite.record_len_for(plain.len(), etm));
            assert_eq!(c.open(9, 23, 0x0303, &body), Some((23, plain.clone())));
            assert_eq!(c.open(8, 23, 0x0303, &body), None);
        }
    }

    /// RFC 8448 §3, server's encrypted handshake record (EE, Certificate,
    /// CertificateVerify, Finished), header included.
    const RFC8448_SERVER_HS_RECORD: &str = "
         17 03 03 02 a2 d1 ff 33 4a 56 f5 bf
         f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e df
         78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45
         cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3
         89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
         d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9
         b1 18 3e f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf
         51 42 73 25 25 0c 7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d
         2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55
         cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f
         d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6
         86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8 94 41 ac
         66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea
         52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e
         a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6
         54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb
         31 7b 66 d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59
         62 22 45 31 7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64 7e
         92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af
         36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37
         8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
         f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88
         2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80
         f8 5d f8 81 ed be 5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69
         18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb 99 2f 2b 99
         2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11
         c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51
         56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38 eb ba 42
         f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
         60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd
         d5 02 78 40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af
         93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da
         bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b";
}
