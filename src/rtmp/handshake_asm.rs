//! The handshake assembler of one direction: collects C0/C1/C2 (or
//! S0/S1/S2) bytes, fills bytes lost to a gap with zeros (marking the parts
//! they damaged), and emits each part once complete: the version byte, the
//! C1/S1 analysis (time, peer version, digest scheme and its validity) and
//! the C2/S2 echo or digest-response check against the peer's part.
//!
//! The version byte decides what the connection is ([`c0_kind`], the one
//! place that decides it): 0x03 plain RTMP, 0x06/0x08 RTMPE (recognised once
//! a whole C1 follows, then the connection stops being dissected), anything
//! else a warning. A C0 of RTMPE whose C1 never completes does not show the
//! flow to be RTMP ([`Connection::handshake_cut`]).

use super::{anomaly, ev, handshake, Connection, Phase, RtmpEvent, RtmpEventKind};
use crate::vocab::anomalies;
use crate::vocab::{ByteRange, Direction, FlowProtocol, PacketRef};
use handshake::{HandshakeEvent, HandshakePart};

/// What a version byte (C0/S0) says the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum C0Kind {
    /// 0x03: plain RTMP.
    Plain,
    /// 0x06 or 0x08: RTMPE (encrypted).
    Encrypted,
    /// Any other value.
    Other,
}

/// The one decision on a version byte.
pub(super) fn c0_kind(v: u8) -> C0Kind {
    match v {
        3 => C0Kind::Plain,
        6 | 8 => C0Kind::Encrypted,
        _ => C0Kind::Other,
    }
}

/// Handshake bytes of one direction (up to `HANDSHAKE_TOTAL`) and which
/// parts are done or damaged.
#[derive(Debug, Default)]
pub(super) struct HandshakeAsm {
    pub(super) bytes: Vec<u8>,
    /// Stream offset of the version byte.
    pub(super) base: u64,
    pub(super) done: [bool; 3],
    pub(super) damaged: [bool; 3],
    /// Digest of this direction's C1/S1 (for checking the peer's response).
    pub(super) c1_digest: Option<[u8; 32]>,
}

impl HandshakeAsm {
    /// Handshake bytes still expected.
    pub(super) fn room(&self) -> usize {
        handshake::HANDSHAKE_TOTAL.saturating_sub(self.bytes.len())
    }

    /// `len` bytes were lost: marks the parts they fall in as damaged and
    /// fills up to the handshake's end with zeros. Returns the bytes filled.
    pub(super) fn gap(&mut self, len: u64) -> u64 {
        let have = self.bytes.len() as u64;
        let fill = len.min(self.room() as u64);
        let (a, b) = (have, have + fill);
        for (i, (s, e)) in [(0u64, 1u64), (1, 1537), (1537, 3073)].iter().enumerate() {
            if a < *e && b > *s {
                self.damaged[i] = true;
            }
        }
        self.bytes.resize(self.bytes.len() + fill as usize, 0);
        fill
    }
}

impl Connection {
    /// A handshake cut (gap, end of flow) before its version byte was
    /// decided (only an RTMPE C0 waits for its C1): not shown to be RTMP,
    /// the direction stops.
    pub(super) fn handshake_cut(&mut self, d: usize) {
        debug_assert!(!self.dirs[d].hs.done[0]);
        self.stop_dir(d);
    }

    pub(super) fn begin_handshake(&mut self, d: usize, off: u64) {
        let st = &mut self.dirs[d];
        st.phase = Phase::Handshake;
        st.hs.base = off;
        st.absolute = off == 0;
        st.hs.bytes.clear();
    }

    /// Emits the handshake parts completed so far. Returns true when the
    /// connection stopped (RTMPE).
    pub(super) fn handshake_parts(
        &mut self,
        dir: Direction,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) -> bool {
        use handshake::{HANDSHAKE_SIZE as HS, HANDSHAKE_TOTAL};
        let d = dir.index();
        let client = dir == Direction::ToServer;
        let base = self.dirs[d].hs.base;
        let have = self.dirs[d].hs.bytes.len();
        if !self.dirs[d].hs.done[0] && have >= 1 {
            let v = self.dirs[d].hs.bytes[0];
            let kind = c0_kind(v);
            if kind == C0Kind::Encrypted && have <= HS {
                // RTMPE is C0 followed by 1536 bytes: wait for them.
                return false;
            }
            self.dirs[d].hs.done[0] = true;
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 0),
                    range: ByteRange::new(base, base + 1),
                    version_byte: Some(v),
                    time: None,
                    peer_version: None,
                    kind: None,
                    digest: None,
                    echo_ok: None,
                }),
            ));
            if kind == C0Kind::Encrypted {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_ENCRYPTED,
                    Some(ByteRange::new(base, base + 1)),
                    format!("RTMPE (version byte {v:#04x}): not dissected"),
                ));
                self.stop(FlowProtocol::RtmpEncrypted);
                return true;
            } else if kind == C0Kind::Other {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_VERSION,
                    Some(ByteRange::new(base, base + 1)),
                    format!("version byte {v:#04x}"),
                ));
            }
        }
        if !self.dirs[d].hs.done[1] && have > HS {
            self.dirs[d].hs.done[1] = true;
            let range = ByteRange::new(base + 1, base + 1 + HS as u64);
            let damaged = self.dirs[d].hs.damaged[1];
            let a = handshake::analyse_c1(&self.dirs[d].hs.bytes[1..1 + HS], client);
            let (digest, kind) = if damaged {
                (None, None)
            } else {
                (a.digest, Some(a.kind))
            };
            if let Some(dg) = digest.filter(|g| !g.valid) {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_DIGEST,
                    Some(ByteRange::new(
                        range.start + dg.offset as u64,
                        range.start + dg.offset as u64 + 32,
                    )),
                    format!(
                        "{} has version {} but no valid digest under either scheme",
                        if client { "C1" } else { "S1" },
                        a.version.as_deref().unwrap_or("?")
                    ),
                ));
            }
            self.dirs[d].hs.c1_digest = if damaged { None } else { a.digest_bytes };
            if self.protocol == FlowProtocol::Unknown {
                self.protocol = FlowProtocol::Rtmp;
            }
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 1),
                    range,
                    version_byte: None,
                    time: a.time,
                    peer_version: a.version,
                    kind,
                    digest,
                    echo_ok: None,
                }),
            ));
        }
        if !self.dirs[d].hs.done[2] && have >= HANDSHAKE_TOTAL {
            self.dirs[d].hs.done[2] = true;
            let range = ByteRange::new(base + 1 + HS as u64, base + HANDSHAKE_TOTAL as u64);
            let peer = &self.dirs[1 - d];
            let mine = &self.dirs[d].hs.bytes[1 + HS..HANDSHAKE_TOTAL];
            let time = be32_at(mine, 0);
            let (echo_ok, problem) = if self.dirs[d].hs.damaged[2] {
                (None, Some("bytes lost to a gap".to_string()))
            } else if peer.hs.bytes.len() <= HS || peer.hs.damaged[1] {
                (
                    None,
                    Some(format!("{} not seen", if client { "S1" } else { "C1" })),
                )
            } else {
                match handshake::check_response(
                    mine,
                    &peer.hs.bytes[1..1 + HS],
                    peer.hs.c1_digest.as_ref(),
                    client,
                ) {
                    handshake::EchoCheck::Echo | handshake::EchoCheck::DigestOk => {
                        (Some(true), None)
                    }
                    handshake::EchoCheck::Bad => (Some(false), None),
                    handshake::EchoCheck::Unverifiable => (
                        None,
                        Some(
                            "not an echo, and the peer's digest is unknown so the \
                             digest response cannot be verified"
                                .to_string(),
                        ),
                    ),
                }
            };
            let name = if client { "C2" } else { "S2" };
            if echo_ok == Some(false) {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_BAD_ECHO,
                    Some(range),
                    format!("{name} neither echoes the peer nor carries a valid digest response"),
                ));
            }
            if let Some(p) = problem {
                out.push(anomaly(
                    dir,
                    pkt,
                    anomalies::RTMP_HANDSHAKE_ECHO_UNVERIFIED,
                    Some(range),
                    format!("{name} echo not checked: {p}"),
                ));
            }
            out.push(ev(
                dir,
                pkt,
                RtmpEventKind::Handshake(HandshakeEvent {
                    part: part_for(dir, 2),
                    range,
                    version_byte: None,
                    time,
                    peer_version: None,
                    kind: None,
                    digest: None,
                    echo_ok,
                }),
            ));
            let st = &mut self.dirs[d];
            st.phase = Phase::Chunks;
            st.buf.clear();
            st.buf_off = base + HANDSHAKE_TOTAL as u64;
            // Both sides done: the handshake bytes are no longer needed.
            if self.dirs[1 - d].hs.done[2] {
                self.dirs[0].hs.bytes = Vec::new();
                self.dirs[1].hs.bytes = Vec::new();
            }
        }
        false
    }
}

fn be32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn part_for(dir: Direction, i: usize) -> HandshakePart {
    match (dir, i) {
        (Direction::ToServer, 0) => HandshakePart::C0,
        (Direction::ToServer, 1) => HandshakePart::C1,
        (Direction::ToServer, _) => HandshakePart::C2,
        (Direction::ToClient, 0) => HandshakePart::S0,
        (Direction::ToClient, 1) => HandshakePart::S1,
        (Direction::ToClient, _) => HandshakePart::S2,
    }
}
