//! NSS key log (the `SSLKEYLOGFILE` format written by GnuTLS, OpenSSL, NSS,
//! BoringSSL, Go and rustls; also the text of a pcapng Decryption Secrets
//! Block of type `TLSK`).
//!
//! Lines: `LABEL <client_random hex> <secret hex>`. Kept: `CLIENT_RANDOM`
//! (TLS 1.2 master secret, 48 bytes) and the TLS 1.3 `CLIENT_HANDSHAKE_-
//! TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`,
//! `SERVER_TRAFFIC_SECRET_0`. Other labels (`EXPORTER_SECRET`, early traffic)
//! and comments are skipped; malformed lines are counted, never fatal.
//! Bounded: at most [`MAX_KEYLOG_ENTRIES`] client randoms are kept. Secrets
//! are never formatted (`Debug` prints counts only).

use std::collections::HashMap;

/// Client randoms kept from key logs (later entries beyond it are dropped
/// and counted in [`KeyLog::dropped`]).
pub const MAX_KEYLOG_ENTRIES: usize = 1_000_000;

/// The secrets logged for one connection (by its ClientHello random).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 master secret.
    pub master: Option<Vec<u8>>,
    pub client_hs: Option<Vec<u8>>,
    pub server_hs: Option<Vec<u8>>,
    pub client_app: Option<Vec<u8>>,
    pub server_app: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets(..)")
    }
}

/// All secrets of one or more key logs.
#[derive(Clone, Default)]
pub struct KeyLog {
    entries: HashMap<[u8; 32], Secrets>,
    /// Lines that were not understood.
    pub malformed_lines: u64,
    /// Entries dropped at [`MAX_KEYLOG_ENTRIES`].
    pub dropped: u64,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyLog({} connections, {} malformed lines)",
            self.entries.len(),
            self.malformed_lines
        )
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl KeyLog {
    pub fn new() -> Self {
        KeyLog::default()
    }

    /// Parses key log text and adds its secrets (later lines win).
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.split_ascii_whitespace();
            let (Some(label), Some(cr), Some(sec), None) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                self.malformed_lines += 1;
                continue;
            };
            let (Some(cr), Some(sec)) = (unhex(cr), unhex(sec)) else {
                self.malformed_lines += 1;
                continue;
            };
            let Ok(cr) = <[u8; 32]>::try_from(cr.as_slice()) else {
                self.malformed_lines += 1;
                continue;
            };
            let known = matches!(
                label,
                "CLIENT_RANDOM"
                    | "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
                    | "SERVER_HANDSHAKE_TRAFFIC_SECRET"
                    | "CLIENT_TRAFFIC_SECRET_0"
                    | "SERVER_TRAFFIC_SECRET_0"
            );
            if !known {
                continue;
            }
            if !self.entries.contains_key(&cr) && self.entries.len() >= MAX_KEYLOG_ENTRIES {
                self.dropped += 1;
                continue;
            }
            let e = self.entries.entry(cr).or_default();
            let slot = match label {
                "CLIENT_RANDOM" => &mut e.master,
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut e.client_hs,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut e.server_hs,
                "CLIENT_TRAFFIC_SECRET_0" => &mut e.client_app,
                _ => &mut e.server_app,
            };
            *slot = Some(sec);
        }
    }

    /// Parses key log text.
    pub fn parse(text: &str) -> Self {
        let mut k = KeyLog::new();
        k.add_text(text);
        k
    }

    /// Merges another key log into this one.
    pub fn merge(&mut self, other: &KeyLog) {
        for (cr, s) in &other.entries {
            if !self.entries.contains_key(cr) && self.entries.len() >= MAX_KEYLOG_ENTRIES {
                self.dropped += 1;
                continue;
            }
            let e = self.entries.entry(*cr).or_default();
            for (dst, src) in [
                (&mut e.master, &s.master),
                (&mut e.client_hs, &s.client_hs),
                (&mut e.server_hs, &s.server_hs),
                (&mut e.client_app, &s.client_app),
                (&mut e.server_app, &s.server_app),
            ] {
                if src.is_some() {
                    dst.clone_from(src);
                }
            }
        }
        self.malformed_lines += other.malformed_lines;
        self.dropped += other.dropped;
    }

    /// Secrets of the connection whose ClientHello carried `client_random`.
    pub fn get(&self, client_random: &[u8]) -> Option<&Secrets> {
        let cr: [u8; 32] = client_random.try_into().ok()?;
        self.entries.get(&cr)
    }

    /// Number of connections with secrets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tls12_and_tls13_lines_and_counts_garbage() {
        let cr = "11".repeat(32);
        let cr2 = "22".repeat(32);
        let text = format!(
            "# comment\nCLIENT_RANDOM {cr} {}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {cr2} {}\n\
             SERVER_TRAFFIC_SECRET_0 {cr2} {}\nEXPORTER_SECRET {cr2} {}\nCLIENT_RANDOM zz 00\n\
             CLIENT_RANDOM {cr}\n",
            "ab".repeat(48),
            "01".repeat(32),
            "02".repeat(32),
            "03".repeat(32)
        );
        let k = KeyLog::parse(&text);
        assert_eq!(k.len(), 2);
        assert_eq!(k.malformed_lines, 2);
        let a = k.get(&[0x11; 32]).unwrap();
        assert_eq!(a.master.as_deref(), Some(&[0xab; 48][..]));
        let b = k.get(&[0x22; 32]).unwrap();
        assert_eq!(b.client_hs.as_deref(), Some(&[1; 32][..]));
        assert_eq!(b.server_app.as_deref(), Some(&[2; 32][..]));
        assert!(b.master.is_none() && b.server_hs.is_none());
        assert!(k.get(&[0x33; 32]).is_none());
        assert!(!format!("{a:?}{k:?}").contains("ab"));
    }
}
