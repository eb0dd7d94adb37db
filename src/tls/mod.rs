//! TLS (RTMPS) layer: passive record/handshake analysis and, with a key
//! log, decryption of the records into the plaintext byte streams that the
//! RTMP dissector reads.
//!
//! # Contract
//!
//! Sans-IO: [`TlsConnection::handle_data`] / [`TlsConnection::handle_gap`]
//! take the in-order TCP bytes of one direction (stream offsets) and append
//! [`TlsOut`] items: plaintext runs with their offsets in the *plaintext*
//! stream of that direction, plaintext gaps, anomalies (`tls.*`) and the
//! handshake summary. No clock, no I/O, never panics on any input.
//!
//! Without keys it reports, per flow ([`TlsInfo`]): the negotiated version,
//! cipher suite, SNI, ALPN, the server certificate's subject/issuer/validity
//! (TLS 1.2; TLS 1.3 sends it encrypted: shown only when decrypted),
//! resumption, alerts (by their RFC 8446 names), record counts and bytes, and
//! whether the record sizes look like an RTMP handshake inside (a 1537-byte
//! C0+C1 from the client, a 3073-byte S0+S1+S2 or 1537-byte S0+S1 from the
//! server).
//!
//! With a [`KeyLog`] entry for the connection's client random, records are
//! decrypted ([`crypto`]): a record that does not authenticate is never
//! passed on; it becomes an anomaly (`tls.decrypt_failed`) and, after a
//! first good record, a gap in the plaintext. A TCP gap loses the record it
//! hits: the layer resynchronises at the next record header (two chained
//! plausible headers) and finds the sequence number again (TLS 1.2 GCM
//! explicit nonce, else by trying the next [`MAX_SEQ_SKIP`] numbers).
//!
//! Limits (named constants): [`MAX_RECORD_BODY`], [`MAX_HANDSHAKE_MSG`],
//! [`MAX_SEQ_SKIP`], [`MAX_ALERTS`], [`PROBE_RECORDS`].

pub mod crypto;
pub mod keylog;

use std::sync::Arc;

use serde::Serialize;

use crate::event::{Anomaly, ByteRange, Direction, Severity};
use crypto::{RecordKeys, Suite};
pub use keylog::KeyLog;

/// Largest record body accepted (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_RECORD_BODY: usize = 16384 + 2048;
/// Largest handshake message reassembled (certificate chains fit).
pub const MAX_HANDSHAKE_MSG: usize = 256 * 1024;
/// Sequence numbers tried after a loss to find the next record's again.
pub const MAX_SEQ_SKIP: u64 = 4096;
/// Alerts kept per flow (more are counted in `alerts_dropped`).
pub const MAX_ALERTS: usize = 16;
/// Protected records per direction whose sizes are checked for an RTMP
/// handshake inside.
pub const PROBE_RECORDS: usize = 8;
/// Failed resynchronisation attempts before a direction stops decrypting.
pub const MAX_RESYNC_FAILURES: u32 = 16;

const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The server certificate (first of the chain).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    pub not_after: String,
}

/// A TLS alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertInfo {
    /// Sender.
    pub direction: Direction,
    /// `warning`, `fatal`, or `encrypted` (not readable without keys).
    pub level: &'static str,
    /// RFC 8446 name (`handshake_failure`), `unknown_<code>`, or `encrypted`.
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u8>,
}

/// What the TLS layer knows about a flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TlsInfo {
    /// Negotiated version (`TLS 1.3`, `TLS 1.2`, ...), from the ServerHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// IANA name of the negotiated cipher suite (or `0xNNNN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// Server name from the ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN protocols offered by the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn_offered: Vec<String>,
    /// ALPN protocol selected by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertInfo>,
    /// Resumed session: `session_id`, `ticket` (TLS 1.2) or `psk` (TLS 1.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<&'static str>,
    /// The server asked for a second ClientHello (TLS 1.3 HelloRetryRequest).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hello_retry: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertInfo>,
    /// Records per direction `[to_server, to_client]`.
    pub records: [u64; 2],
    /// Record bytes (headers included) per direction.
    pub record_bytes: [u64; 2],
    /// Record sizes look like an RTMP handshake inside.
    pub rtmp_inside: bool,
    /// `none` (no key log given), `no_key` (the key log lacks this
    /// connection), `unsupported_cipher`, `no_handshake` (picked up
    /// mid-stream), `decrypted`, `failed` (records do not authenticate).
    pub decryption: &'static str,
    /// Records that decrypted and authenticated, per direction.
    pub decrypted_records: [u64; 2],
    /// Records that did not authenticate, per direction.
    pub failed_records: [u64; 2],
    /// The flow's start was not seen (no ClientHello).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub midstream: bool,
}

/// What the TLS layer hands to the pipeline.
#[derive(Debug)]
pub enum TlsOut {
    /// Decrypted application data of `dir` at plaintext offset `offset`.
    Plain {
        dir: Direction,
        offset: u64,
        data: Vec<u8>,
    },
    /// `len` plaintext bytes at `offset` of `dir` are lost.
    Gap {
        dir: Direction,
        offset: u64,
        len: u64,
    },
    Anomaly {
        dir: Option<Direction>,
        anomaly: Anomaly,
    },
    /// The handshake as seen in the clear (emitted once, when the first
    /// protected record, ChangeCipherSpec or alert arrives).
    Hello(Box<TlsInfo>),
}

/// True when `data` (the first bytes of a flow direction) starts with a TLS
/// handshake record carrying a ClientHello (or ServerHello).
pub fn looks_like_tls_start(data: &[u8]) -> bool {
    data.len() >= 3
        && data[0] == 0x16
        && data[1] == 3
        && data[2] <= 4
        && (data.len() < 6 || matches!(data[5], 1 | 2))
        && (data.len() < 5 || {
            let l = u16::from_be_bytes([data[3], data[4]]) as usize;
            (4..=MAX_RECORD_BODY).contains(&l)
        })
}

fn header_ok(h: &[u8], strict_appdata: bool) -> Option<usize> {
    let t = *h.first()?;
    let maj = *h.get(1)?;
    let min = *h.get(2)?;
    let len = u16::from_be_bytes([*h.get(3)?, *h.get(4)?]) as usize;
    let ok = if strict_appdata {
        t == 23 && maj == 3 && min == 3
    } else {
        (20..=24).contains(&t) && maj == 3 && min <= 4
    };
    (ok && len > 0 && len <= MAX_RECORD_BODY).then_some(len)
}

enum Sync {
    Found(usize),
    Wait(usize),
    None,
}

/// Looks for a record boundary: a plausible header followed by another (or
/// by the exact end of the bytes when `allow_end`).
fn find_sync(b: &[u8], strict: bool, allow_end: bool) -> Sync {
    let mut p = 0;
    while p + 5 <= b.len() {
        if let Some(l) = header_ok(&b[p..], strict) {
            let next = p + 5 + l;
            if next + 5 <= b.len() {
                if header_ok(&b[next..], strict).is_some() {
                    return Sync::Found(p);
                }
            } else if next == b.len() && allow_end {
                return Sync::Found(p);
            } else if next > b.len() {
                return Sync::Wait(p);
            }
        }
        p += 1;
    }
    Sync::None
}

/// True when the first bytes seen on a flow picked up mid-stream hold a
/// chain of TLS application data record headers.
pub fn looks_like_tls_midstream(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4 * (MAX_RECORD_BODY + 5))];
    matches!(find_sync(head, true, true), Sync::Found(_))
}

fn version_name(v: u16) -> &'static str {
    match v {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "unknown",
    }
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert names.
pub fn alert_name(code: u8) -> String {
    let n = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("unknown_{code}"),
    };
    n.to_owned()
}

fn suite_name(id: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(id)
        .map(|s| s.name.to_owned())
        .unwrap_or_else(|| format!("0x{id:04X}"))
}

fn asn1_time(t: &x509_parser::time::ASN1Time) -> String {
    let s = crate::time::PacketTime::new(t.timestamp(), 0).rfc3339_micros();
    s.replace(".000000", "")
}

fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertInfo {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        not_before: asn1_time(&c.validity().not_before),
        not_after: asn1_time(&c.validity().not_after),
    })
}

#[derive(Debug, Default)]
struct DirState {
    /// Bytes of the record being assembled (or being scanned for a header).
    buf: Vec<u8>,
    /// TCP stream offset of `buf[0]`.
    buf_off: u64,
    /// TCP offset expected next.
    next_off: u64,
    started: bool,
    /// Record boundaries known.
    synced: bool,
    /// TCP offset where lost bytes began (set by a gap, cleared on resync
    /// with keys found again).
    lost_from: Option<u64>,
    /// TCP offset of the first record after the loss (resync point).
    resync_at: Option<u64>,
    resync_failures: u32,
    /// Handshake message reassembly.
    hs: Vec<u8>,
    /// Records of this direction are protected.
    protected: bool,
    keys: Option<RecordKeys>,
    /// TLS 1.3: application keys, used after this direction's Finished.
    app_keys: Option<RecordKeys>,
    /// Next plaintext offset.
    plain_off: u64,
    ok_records: u64,
    given_up: bool,
    /// Body lengths of the first protected application-data records.
    probe: Vec<usize>,
}

/// The TLS state of one TCP flow.
#[derive(Debug)]
pub struct TlsConnection {
    keylog: Option<Arc<KeyLog>>,
    info: TlsInfo,
    dirs: [DirState; 2],
    client_random: Option<[u8; 32]>,
    ch_session_id: Vec<u8>,
    ch_ticket: bool,
    suite: Option<Suite>,
    /// The negotiated suite when rtmpscope knows it (record size checks).
    size_suite: Option<Suite>,
    tls13: bool,
    etm: bool,
    /// TLS 1.2 keys for (client, server), installed at each ChangeCipherSpec.
    pending12: [Option<RecordKeys>; 2],
    hello_sent: bool,
    alerts_dropped: u64,
}

fn anomaly(
    out: &mut Vec<TlsOut>,
    dir: Option<Direction>,
    name: &'static str,
    sev: Severity,
    range: Option<ByteRange>,
    detail: String,
) {
    out.push(TlsOut::Anomaly {
        dir,
        anomaly: Anomaly::new(name, sev, range, detail),
    });
}

fn dir_of(i: usize) -> Direction {
    if i == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

impl TlsConnection {
    /// A TLS flow; `midstream` when its start (the ClientHello) was not seen.
    pub fn new(keylog: Option<Arc<KeyLog>>, midstream: bool) -> Self {
        let mut dirs: [DirState; 2] = Default::default();
        for d in &mut dirs {
            d.synced = !midstream;
            if midstream {
                d.protected = true;
            }
        }
        let decryption = if midstream { "no_handshake" } else { "none" };
        TlsConnection {
            keylog,
            info: TlsInfo {
                midstream,
                decryption,
                ..Default::default()
            },
            dirs,
            client_random: None,
            ch_session_id: Vec::new(),
            ch_ticket: false,
            suite: None,
            size_suite: None,
            tls13: false,
            etm: false,
            pending12: [None, None],
            hello_sent: false,
            alerts_dropped: 0,
        }
    }

    /// The facts so far.
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// True once any plaintext was produced.
    pub fn decrypting(&self) -> bool {
        self.dirs.iter().any(|d| d.ok_records > 0)
    }

    /// In-order TCP bytes of one direction.
    pub fn handle_data(&mut self, dir: Direction, offset: u64, data: &[u8], out: &mut Vec<TlsOut>) {
        let i = dir.index();
        let mut data = data;
        let mut offset = offset;
        {
            let d = &mut self.dirs[i];
            if !d.started {
                d.started = true;
                d.next_off = offset;
                d.buf_off = offset;
            }
            if offset < d.next_off {
                let skip = (d.next_off - offset).min(data.len() as u64) as usize;
                data = &data[skip..];
                offset += skip as u64;
            }
        }
        if data.is_empty() {
            return;
        }
        let expected = self.dirs[i].next_off;
        if offset > expected {
            self.handle_gap(dir, expected, offset - expected, out);
        }
        let d = &mut self.dirs[i];
        if d.buf.is_empty() {
            d.buf_off = offset;
        }
        d.next_off = offset + data.len() as u64;
        d.buf.extend_from_slice(data);
        self.process(i, out);
    }

    /// `len` TCP bytes at `offset` of one direction will never arrive.
    pub fn handle_gap(&mut self, dir: Direction, offset: u64, len: u64, _out: &mut Vec<TlsOut>) {
        let i = dir.index();
        let d = &mut self.dirs[i];
        if len == 0 {
            return;
        }
        if !d.started {
            d.started = true;
            d.buf_off = offset;
        }
        let end = offset.saturating_add(len);
        if end <= d.next_off && d.started && offset < d.next_off {
            return;
        }
        // The record being assembled is lost; so are handshake fragments.
        if d.lost_from.is_none() {
            d.lost_from = Some(if d.synced { d.buf_off } else { offset });
        }
        d.buf.clear();
        d.hs.clear();
        d.buf_off = end;
        d.next_off = d.next_off.max(end);
        d.synced = false;
    }

    fn process(&mut self, i: usize, out: &mut Vec<TlsOut>) {
        let mut buf = std::mem::take(&mut self.dirs[i].buf);
        let mut start = 0usize;
        loop {
            if !self.dirs[i].synced {
                let strict = self.dirs[i].protected;
                match find_sync(&buf[start..], strict, true) {
                    Sync::Found(p) => {
                        start += p;
                        let at = self.dirs[i].buf_off + start as u64;
                        self.dirs[i].synced = true;
                        self.dirs[i].resync_at = Some(at);
                        if let Some(from) = self.dirs[i].lost_from {
                            anomaly(
                                out,
                                Some(dir_of(i)),
                                "tls.resync",
                                Severity::Warning,
                                Some(ByteRange::new(from, at)),
                                format!(
                                    "TLS records lost in a TCP gap ({} bytes from offset {from}); resynchronised at the record header at {at}",
                                    at - from
                                ),
                            );
                        }
                    }
                    Sync::Wait(p) => {
                        start += p;
                        break;
                    }
                    Sync::None => {
                        // Keep only what could still start a header.
                        start = buf.len().saturating_sub(4).max(start);
                        break;
                    }
                }
            }
            let avail = &buf[start..];
            if avail.len() < 5 {
                break;
            }
            let Some(len) = header_ok(avail, false) else {
                let at = self.dirs[i].buf_off + start as u64;
                anomaly(
                    out,
                    Some(dir_of(i)),
                    "tls.record.malformed",
                    Severity::Error,
                    Some(ByteRange::new(at, at + 5)),
                    format!(
                        "not a TLS record header: {:02x} {:02x} {:02x} {:02x} {:02x}",
                        avail[0], avail[1], avail[2], avail[3], avail[4]
                    ),
                );
                let d = &mut self.dirs[i];
                d.synced = false;
                if d.lost_from.is_none() {
                    d.lost_from = Some(at);
                }
                start += 1;
                continue;
            };
            if avail.len() < 5 + len {
                break;
            }
            let at = self.dirs[i].buf_off + start as u64;
            let rec = &buf[start..start + 5 + len];
            self.record(
                i,
                rec[0],
                u16::from_be_bytes([rec[1], rec[2]]),
                &rec[5..],
                at,
                out,
            );
            start += 5 + len;
        }
        buf.drain(..start.min(buf.len()));
        let d = &mut self.dirs[i];
        d.buf_off += start as u64;
        d.buf = buf;
    }

    fn maybe_hello(&mut self, out: &mut Vec<TlsOut>) {
        if !self.hello_sent {
            self.hello_sent = true;
            out.push(TlsOut::Hello(Box::new(self.info.clone())));
        }
    }

    fn record(
        &mut self,
        i: usize,
        ctype: u8,
        version: u16,
        body: &[u8],
        at: u64,
        out: &mut Vec<TlsOut>,
    ) {
        self.info.records[i] += 1;
        self.info.record_bytes[i] += 5 + body.len() as u64;
        let range = ByteRange::new(at, at + 5 + body.len() as u64);
        if ctype == 23 && self.tls13 {
            self.dirs[i].protected = true;
        }
        if ctype == 20 {
            self.maybe_hello(out);
            if !self.tls13 && !self.info.midstream {
                let d = &mut self.dirs[i];
                d.protected = true;
                if let Some(k) = self.pending12[i].take() {
                    d.keys = Some(k);
                }
            }
            return;
        }
        if self.dirs[i].protected && (ctype == 23 || !self.tls13) && ctype != 24 {
            self.maybe_hello(out);
            self.protected_record(i, ctype, version, body, range, out);
            return;
        }
        match ctype {
            22 => self.handshake_bytes(i, body, false, range, out),
            21 => {
                self.maybe_hello(out);
                self.alert(i, body, false, out);
            }
            23 => {
                self.maybe_hello(out);
                anomaly(
                    out,
                    Some(dir_of(i)),
                    "tls.unexpected_record",
                    Severity::Warning,
                    Some(range),
                    "application data before the handshake protected the connection".into(),
                );
            }
            _ => {}
        }
    }

    fn alert(&mut self, i: usize, body: &[u8], decrypted: bool, out: &mut Vec<TlsOut>) {
        let (level, description, code) = if body.len() == 2 {
            let level = match body[0] {
                1 => "warning",
                2 => "fatal",
                _ => "unknown",
            };
            (level, alert_name(body[1]), Some(body[1]))
        } else {
            ("encrypted", "encrypted".to_owned(), None)
        };
        if code.is_some() && code != Some(0) {
            anomaly(
                out,
                Some(dir_of(i)),
                "tls.alert",
                if level == "fatal" {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                None,
                format!(
                    "{level} alert {description} from the {}{}",
                    if i == 0 { "client" } else { "server" },
                    if decrypted { " (decrypted)" } else { "" }
                ),
            );
        }
        if self.info.alerts.len() < MAX_ALERTS {
            self.info.alerts.push(AlertInfo {
                direction: dir_of(i),
                level,
                description,
                code,
            });
        } else {
            self.alerts_dropped += 1;
        }
    }

    fn handshake_bytes(
        &mut self,
        i: usize,
        body: &[u8],
        protected: bool,
        range: ByteRange,
        out: &mut Vec<TlsOut>,
    ) {
        let mut hs = std::mem::take(&mut self.dirs[i].hs);
        hs.extend_from_slice(body);
        let mut start = 0;
        while hs.len() - start >= 4 {
            let m = &hs[start..];
            let len = ((m[1] as usize) << 16) | ((m[2] as usize) << 8) | m[3] as usize;
            if len > MAX_HANDSHAKE_MSG {
                anomaly(
                    out,
                    Some(dir_of(i)),
                    "tls.handshake.too_long",
                    Severity::Error,
                    Some(range),
                    format!("handshake message of {len} bytes exceeds {MAX_HANDSHAKE_MSG}"),
                );
                start = hs.len();
                break;
            }
            if m.len() < 4 + len {
                break;
            }
            let msg = &hs[start..start + 4 + len];
            self.handshake_msg(i, msg, protected, range, out);
            start += 4 + len;
        }
        hs.drain(..start);
        self.dirs[i].hs = hs;
    }

    fn handshake_msg(
        &mut self,
        i: usize,
        msg: &[u8],
        protected: bool,
        range: ByteRange,
        out: &mut Vec<TlsOut>,
    ) {
        use tls_parser::{TlsMessage, TlsMessageHandshake as H};
        let typ = msg[0];
        if protected && self.tls13 {
            match typ {
                11 if self.info.certificate.is_none() => {
                    self.info.certificate = tls13_first_cert(&msg[4..]).and_then(cert_info);
                }
                20 => {
                    // Finished: this direction switches to application keys.
                    let d = &mut self.dirs[i];
                    if let Some(k) = d.app_keys.take() {
                        d.keys = Some(k);
                    }
                }
                24 => {
                    let d = &mut self.dirs[i];
                    if let Some(k) = d.keys.as_ref().and_then(|k| k.updated()) {
                        d.keys = Some(k);
                    }
                }
                _ => {}
            }
            return;
        }
        if protected {
            return; // TLS 1.2 Finished (verified by decrypting it), renegotiation
        }
        let parsed = tls_parser::parse_tls_message_handshake(msg);
        let Ok((_, TlsMessage::Handshake(h))) = parsed else {
            anomaly(
                out,
                Some(dir_of(i)),
                "tls.handshake.malformed",
                Severity::Warning,
                Some(range),
                format!(
                    "handshake message type {typ} ({} bytes) could not be parsed",
                    msg.len()
                ),
            );
            return;
        };
        match h {
            H::ClientHello(ch) => self.client_hello(&ch, out),
            H::ServerHello(sh) => self.server_hello(
                sh.version.0,
                sh.random,
                sh.session_id,
                sh.cipher.0,
                sh.ext,
                out,
            ),
            H::Certificate(c) => {
                if let Some(first) = c.cert_chain.first() {
                    self.info.certificate = cert_info(first.data);
                }
            }
            _ => {}
        }
    }

    fn client_hello(
        &mut self,
        ch: &tls_parser::TlsClientHelloContents<'_>,
        _out: &mut Vec<TlsOut>,
    ) {
        use tls_parser::TlsExtension as E;
        if let Ok(r) = <[u8; 32]>::try_from(ch.random) {
            self.client_random = Some(r);
        }
        self.ch_session_id = ch.session_id.unwrap_or_default().to_vec();
        let exts = ch
            .ext
            .and_then(|e| tls_parser::parse_tls_client_hello_extensions(e).ok())
            .map(|(_, v)| v)
            .unwrap_or_default();
        for e in exts {
            match e {
                E::SNI(names) => {
                    if let Some((_, n)) = names.first() {
                        self.info.sni = Some(String::from_utf8_lossy(n).into_owned());
                    }
                }
                E::ALPN(v) => {
                    self.info.alpn_offered = v
                        .iter()
                        .take(16)
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect()
                }
                E::SessionTicket(t) => self.ch_ticket = !t.is_empty(),
                _ => {}
            }
        }
    }

    fn server_hello(
        &mut self,
        legacy_version: u16,
        random: &[u8],
        session_id: Option<&[u8]>,
        cipher: u16,
        ext: Option<&[u8]>,
        out: &mut Vec<TlsOut>,
    ) {
        if random == HRR_RANDOM {
            self.info.hello_retry = true;
            return;
        }
        let mut version = legacy_version;
        let mut psk = false;
        // ServerHello extensions, read directly (type, length, data): the
        // selected version, ALPN, PSK and encrypt-then-MAC.
        let mut e = ext.unwrap_or_default();
        while e.len() >= 4 {
            let t = u16::from_be_bytes([e[0], e[1]]);
            let l = u16::from_be_bytes([e[2], e[3]]) as usize;
            let Some(d) = e.get(4..4 + l) else { break };
            match t {
                43 if d.len() == 2 => version = u16::from_be_bytes([d[0], d[1]]),
                16 => {
                    // protocol_name_list: u16 length, then u8-prefixed names
                    if let Some(&n) = d.get(2) {
                        if let Some(name) = d.get(3..3 + n as usize) {
                            self.info.alpn = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                41 => psk = true,
                22 => self.etm = true,
                _ => {}
            }
            e = &e[4 + l..];
        }
        self.tls13 = version == 0x0304;
        self.info.version = Some(version_name(version));
        self.info.cipher_suite = Some(suite_name(cipher));
        self.size_suite = Suite::from_id(cipher).filter(|s| s.tls13 == self.tls13);
        let sid = session_id.unwrap_or_default();
        if self.tls13 {
            if psk {
                self.info.resumed = Some("psk");
            }
        } else if !sid.is_empty() && sid == self.ch_session_id.as_slice() {
            self.info.resumed = Some(if self.ch_ticket {
                "ticket"
            } else {
                "session_id"
            });
        }
        // Keys.
        let Some(keylog) = self.keylog.clone() else {
            self.info.decryption = "none";
            return;
        };
        let Some(cr) = self.client_random else {
            return;
        };
        let Some(secrets) = keylog.get(&cr) else {
            self.info.decryption = "no_key";
            anomaly(
                out,
                None,
                "tls.no_key",
                Severity::Warning,
                None,
                format!(
                    "the key log has no secrets for this connection (client random {}): not decrypted",
                    hex(&cr)
                ),
            );
            return;
        };
        let Some(suite) = Suite::from_id(cipher) else {
            self.info.decryption = "unsupported_cipher";
            anomaly(
                out,
                None,
                "tls.unsupported_cipher",
                Severity::Warning,
                None,
                format!("cipher suite {} cannot be decrypted", suite_name(cipher)),
            );
            return;
        };
        self.suite = Some(suite);
        let missing = |what: &str, out: &mut Vec<TlsOut>| {
            anomaly(
                out,
                None,
                "tls.no_key",
                Severity::Warning,
                None,
                format!(
                    "the key log has no {what} for this connection (client random {}): not decrypted",
                    hex(&cr)
                ),
            );
        };
        if self.tls13 != suite.tls13 {
            self.info.decryption = "unsupported_cipher";
            return;
        }
        if suite.tls13 {
            let k = |s: &Option<Vec<u8>>| s.as_deref().and_then(|s| RecordKeys::tls13(&suite, s));
            match (
                k(&secrets.client_hs),
                k(&secrets.server_hs),
                k(&secrets.client_app),
                k(&secrets.server_app),
            ) {
                (Some(ch), Some(sh), Some(ca), Some(sa)) => {
                    self.dirs[0].keys = Some(ch);
                    self.dirs[0].app_keys = Some(ca);
                    self.dirs[1].keys = Some(sh);
                    self.dirs[1].app_keys = Some(sa);
                    self.info.decryption = "decrypted";
                }
                _ => {
                    self.info.decryption = "no_key";
                    missing("TLS 1.3 traffic secrets", out);
                }
            }
            // The server protects everything after its ServerHello.
            self.dirs[1].protected = true;
        } else {
            let keys = secrets
                .master
                .as_deref()
                .and_then(|m| crypto::tls12_keys(&suite, m, &cr, random, self.etm));
            match keys {
                Some((c, s)) => {
                    self.pending12 = [Some(c), Some(s)];
                    self.info.decryption = "decrypted";
                }
                None => {
                    self.info.decryption = "no_key";
                    missing("CLIENT_RANDOM master secret", out);
                }
            }
        }
    }

    fn protected_record(
        &mut self,
        i: usize,
        ctype: u8,
        version: u16,
        body: &[u8],
        range: ByteRange,
        out: &mut Vec<TlsOut>,
    ) {
        if ctype == 23 && self.dirs[i].probe.len() < PROBE_RECORDS {
            self.dirs[i].probe.push(body.len());
        }
        let dir = dir_of(i);
        let d = &mut self.dirs[i];
        let Some(keys) = d.keys.as_mut() else {
            if ctype == 21 && !self.tls13 {
                self.alert(i, &[], false, out);
            }
            return;
        };
        if d.given_up {
            return;
        }
        let resync = d.lost_from.is_some();
        let mut opened = None;
        if !resync {
            if let Some(r) = keys.open(keys.seq, ctype, version, body) {
                opened = Some((keys.seq, r));
            }
        } else {
            let from = d.lost_from.unwrap_or(range.start);
            let lost = range.start.saturating_sub(from);
            let overhead = 5 + keys.suite().aead_overhead().unwrap_or(16 + 20 + 1) as u64;
            let kmax = (lost / overhead + 1).min(MAX_SEQ_SKIP);
            let kmin = (lost / (5 + MAX_RECORD_BODY as u64)).min(kmax);
            let mut cands: Vec<u64> = Vec::new();
            if let Some(s) = keys.explicit_seq(body) {
                if s >= keys.seq && s <= keys.seq + kmax {
                    cands.push(s);
                }
            }
            for k in kmin..=kmax {
                let s = keys.seq.saturating_add(k);
                if !cands.contains(&s) {
                    cands.push(s);
                }
            }
            for s in cands {
                if let Some(r) = keys.open(s, ctype, version, body) {
                    opened = Some((s, r));
                    break;
                }
            }
        }
        let Some((seq, (inner, plain))) = opened else {
            self.info.failed_records[i] += 1;
            if d.ok_records == 0 {
                d.given_up = true;
                self.info.decryption = "failed";
                anomaly(
                    out,
                    Some(dir),
                    "tls.decrypt_failed",
                    Severity::Error,
                    Some(range),
                    format!(
                        "the first protected record from the {} does not authenticate with the logged secrets (wrong key log entry?): this direction is not decrypted",
                        if i == 0 { "client" } else { "server" }
                    ),
                );
                return;
            }
            if resync {
                d.resync_failures += 1;
                if d.resync_failures >= MAX_RESYNC_FAILURES {
                    d.given_up = true;
                }
                anomaly(
                    out,
                    Some(dir),
                    "tls.decrypt_failed",
                    Severity::Error,
                    Some(range),
                    "record after a loss does not authenticate with any nearby sequence number: skipped".into(),
                );
                return;
            }
            // A record that fails on its own: a gap in the plaintext.
            keys.seq += 1;
            let lost = body
                .len()
                .saturating_sub(keys.suite().aead_overhead().unwrap_or(0))
                as u64;
            anomaly(
                out,
                Some(dir),
                "tls.decrypt_failed",
                Severity::Error,
                Some(range),
                format!(
                    "record does not authenticate (corrupted?): about {lost} plaintext bytes lost"
                ),
            );
            if lost > 0 && ctype == 23 {
                out.push(TlsOut::Gap {
                    dir,
                    offset: d.plain_off,
                    len: lost,
                });
                d.plain_off += lost;
            }
            return;
        };
        if resync {
            let from = d.lost_from.take().unwrap_or(range.start);
            let lost_tcp = range.start.saturating_sub(from);
            let k = seq.saturating_sub(keys.seq);
            let per = 5 + keys.suite().aead_overhead().unwrap_or(16 + 20 + 1) as u64;
            let lost_plain = lost_tcp.saturating_sub(k.saturating_mul(per)).max(1);
            d.resync_failures = 0;
            anomaly(
                out,
                Some(dir),
                "tls.record_lost",
                Severity::Warning,
                Some(ByteRange::new(from, range.start)),
                format!("{k} TLS record(s) lost to a TCP gap; decryption resumed at record sequence {seq} (about {lost_plain} plaintext bytes lost)"),
            );
            out.push(TlsOut::Gap {
                dir,
                offset: d.plain_off,
                len: lost_plain,
            });
            d.plain_off += lost_plain;
        }
        keys.seq = seq + 1;
        d.ok_records += 1;
        self.info.decrypted_records[i] += 1;
        match inner {
            23 if !plain.is_empty() => {
                let off = d.plain_off;
                d.plain_off += plain.len() as u64;
                out.push(TlsOut::Plain {
                    dir,
                    offset: off,
                    data: plain,
                });
            }
            22 => self.handshake_bytes(i, &plain, true, range, out),
            21 => self.alert(i, &plain, true, out),
            _ => {}
        }
    }

    /// End of the flow: the final facts.
    pub fn finish(&mut self) -> TlsInfo {
        self.info.rtmp_inside = self.rtmp_sizes();
        self.info.clone()
    }

    /// Record sizes of an RTMP handshake: C0+C1 (1537) from the client and
    /// S0+S1+S2 (3073) or S0+S1 (1537) from the server.
    fn rtmp_sizes(&self) -> bool {
        let lens = |plain: usize| -> Vec<usize> {
            match self.size_suite {
                Some(s) => vec![s.record_len_for(plain, self.etm)],
                None => {
                    // Unknown suite (no keys): any AEAD overhead, or CBC.
                    let mut v = vec![plain + 16, plain + 17, plain + 24];
                    for mac in [20usize, 32, 48] {
                        v.push(16 + ((plain + mac) / 16 + 1) * 16);
                        v.push(16 + (plain / 16 + 1) * 16 + mac);
                    }
                    v
                }
            }
        };
        let c = lens(1537);
        let s: Vec<usize> = lens(3073).into_iter().chain(lens(1537)).collect();
        self.dirs[0].probe.iter().any(|l| c.contains(l))
            && self.dirs[1].probe.iter().any(|l| s.contains(l))
    }
}

fn tls13_first_cert(b: &[u8]) -> Option<&[u8]> {
    // certificate_request_context<0..255>, certificate_list<0..2^24-1>,
    // each: cert_data<1..2^24-1>, extensions<0..2^16-1>.
    let ctx = *b.first()? as usize;
    let rest = b.get(1 + ctx..)?;
    let list = rest.get(3..)?;
    let l = ((*list.first()? as usize) << 16)
        | ((*list.get(1)? as usize) << 8)
        | *list.get(2)? as usize;
    list.get(3..3 + l)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
