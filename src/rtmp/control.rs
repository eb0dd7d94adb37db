//! Protocol control messages (types 1 Set Chunk Size, 2 Abort,
//! 3 Acknowledgement, 5 Window Acknowledgement Size, 6 Set Peer Bandwidth).
//!
//! Contract: never panics; a body shorter than the fixed layout becomes
//! `Body::Raw` with `rtmp.control.bad_length` (error); a longer one is
//! decoded with `rtmp.control.bad_length` (warning) over the extra bytes.
//! Limit types other than 0 hard, 1 soft, 2 dynamic are
//! `rtmp.control.bad_limit_type`.
//!
//! Control messages are interpreted here once: the chunk layer
//! ([`super::chunk`]) calls [`decode`] when a Set Chunk Size or Abort
//! completes, acts on the decoded value and hands the message on already
//! decoded; flow control and the session model read the decoded
//! [`Control`], never the bytes.
//!
//! **The Set Chunk Size rule** ([`chunk_size_rule`], the only place it is
//! decided). The spec (RTMP 1.0 §5.4.1) says bit 31 must be zero; real
//! receivers read the field as a signed 32-bit integer: ffmpeg's RTMP code
//! rejects a value <= 0 ("Incorrect chunk size") and librtmp stores it in an
//! `int`, so neither ever uses a size with bit 31 set, and a size of 0 is
//! unusable. Such a message is therefore reported once (error,
//! `rtmp.control.chunk_size_top_bit` or `rtmp.control.chunk_size_zero`),
//! shown with `ignored: true` and its wire value in `size`, and **not
//! applied**: the chunk size in force does not change, for the dissector
//! and for the session record alike.

use super::message::{type_id, Body, Control, LimitType};
use super::reader::{anomaly, Reader};
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, Severity};

/// Body length of types 1, 2, 3 and 5.
pub const U32_BODY_LEN: usize = 4;
/// Body length of Set Peer Bandwidth (6).
pub const PEER_BANDWIDTH_BODY_LEN: usize = 5;

/// Why a Set Chunk Size value is not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkSizeRejected {
    /// Bit 31 set: a negative size to every real receiver.
    TopBit,
    /// Zero.
    Zero,
}

/// The Set Chunk Size rule (see the module doc): the size a receiver
/// applies for the wire value `v`, or why it applies none.
pub fn chunk_size_rule(v: u32) -> Result<u32, ChunkSizeRejected> {
    if v & 0x8000_0000 != 0 {
        Err(ChunkSizeRejected::TopBit)
    } else if v == 0 {
        Err(ChunkSizeRejected::Zero)
    } else {
        Ok(v)
    }
}

/// Decodes a protocol control body of type `t`.
pub fn decode(t: u8, body: &[u8], out: &mut Vec<Anomaly>) -> Body {
    let want = if t == type_id::SET_PEER_BANDWIDTH {
        PEER_BANDWIDTH_BODY_LEN
    } else {
        U32_BODY_LEN
    };
    if body.len() < want {
        out.push(anomaly(
            anomalies::RTMP_CONTROL_BAD_LENGTH,
            0,
            body.len(),
            format!(
                "{} body is {} bytes, expected {want}",
                super::message::type_name(t),
                body.len()
            ),
        ));
        return Body::Raw;
    }
    if body.len() > want {
        out.push(anomaly(
            anomalies::RTMP_CONTROL_BAD_LENGTH.at(Severity::Warning),
            want,
            body.len(),
            format!(
                "{} body is {} bytes, expected {want}; extra bytes ignored",
                super::message::type_name(t),
                body.len()
            ),
        ));
    }
    let mut r = Reader::new(body);
    let v = r.u32().unwrap_or(0);
    let c = match t {
        type_id::SET_CHUNK_SIZE => {
            let ignored = match chunk_size_rule(v) {
                Ok(_) => false,
                Err(ChunkSizeRejected::TopBit) => {
                    out.push(anomaly(
                        anomalies::RTMP_CONTROL_CHUNK_SIZE_TOP_BIT,
                        0,
                        4,
                        format!(
                            "set chunk size 0x{v:08x} has bit 31 set (negative to real receivers): not applied"
                        ),
                    ));
                    true
                }
                Err(ChunkSizeRejected::Zero) => {
                    out.push(anomaly(
                        anomalies::RTMP_CONTROL_CHUNK_SIZE_ZERO,
                        0,
                        4,
                        "set chunk size of 0: not applied",
                    ));
                    true
                }
            };
            Control::SetChunkSize { size: v, ignored }
        }
        type_id::ABORT => Control::Abort { csid: v },
        type_id::ACKNOWLEDGEMENT => Control::Acknowledgement { sequence: v },
        type_id::WINDOW_ACK_SIZE => Control::WindowAckSize { size: v },
        _ => {
            let lt = r.u8().unwrap_or(0);
            let limit_type = match lt {
                0 => LimitType::Hard,
                1 => LimitType::Soft,
                2 => LimitType::Dynamic,
                x => {
                    out.push(anomaly(
                        anomalies::RTMP_CONTROL_BAD_LIMIT_TYPE,
                        4,
                        5,
                        format!("set peer bandwidth limit type {x}"),
                    ));
                    LimitType::Unknown(x)
                }
            };
            Control::SetPeerBandwidth {
                size: v,
                limit_type,
            }
        }
    };
    Body::Control(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(t: u8, b: &[u8]) -> (Body, Vec<Anomaly>) {
        let mut out = Vec::new();
        let body = decode(t, b, &mut out);
        (body, out)
    }

    #[test]
    fn set_chunk_size() {
        let (b, a) = dec(1, &[0, 0, 0x10, 0]);
        let scs = |size, ignored| Body::Control(Control::SetChunkSize { size, ignored });
        assert_eq!(b, scs(4096, false));
        assert!(a.is_empty());
        let (b, a) = dec(1, &[0x80, 0, 0xea, 0x60]);
        assert_eq!(b, scs(0x8000_ea60, true));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "rtmp.control.chunk_size_top_bit");
        assert_eq!(a[0].severity, Severity::Error);
        let (b, a) = dec(1, &[0, 0, 0, 0]);
        assert_eq!(b, scs(0, true));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "rtmp.control.chunk_size_zero");
        assert_eq!(chunk_size_rule(0x7fff_ffff), Ok(0x7fff_ffff));
        assert_eq!(chunk_size_rule(0x8000_1000), Err(ChunkSizeRejected::TopBit));
    }

    #[test]
    fn abort_ack_window() {
        assert_eq!(
            dec(2, &[0, 0, 0, 6]).0,
            Body::Control(Control::Abort { csid: 6 })
        );
        assert_eq!(
            dec(3, &[0, 1, 0, 0]).0,
            Body::Control(Control::Acknowledgement { sequence: 65536 })
        );
        assert_eq!(
            dec(5, &[0, 0x26, 0x25, 0xa0]).0,
            Body::Control(Control::WindowAckSize { size: 2_500_000 })
        );
    }

    #[test]
    fn peer_bandwidth_limit_types() {
        for (lt, want) in [
            (0u8, LimitType::Hard),
            (1, LimitType::Soft),
            (2, LimitType::Dynamic),
            (7, LimitType::Unknown(7)),
        ] {
            let (b, a) = dec(6, &[0, 0x26, 0x25, 0xa0, lt]);
            assert_eq!(
                b,
                Body::Control(Control::SetPeerBandwidth {
                    size: 2_500_000,
                    limit_type: want
                })
            );
            assert_eq!(a.is_empty(), lt <= 2);
        }
    }

    #[test]
    fn bad_lengths() {
        let (b, a) = dec(6, &[0, 0, 0, 1]);
        assert_eq!(b, Body::Raw);
        assert_eq!(a[0].name, "rtmp.control.bad_length");
        assert_eq!(a[0].severity, Severity::Error);
        let (b, a) = dec(5, &[0, 0, 0, 1, 9, 9]);
        assert_eq!(b, Body::Control(Control::WindowAckSize { size: 1 }));
        assert_eq!(a[0].name, "rtmp.control.bad_length");
        assert_eq!(a[0].severity, Severity::Warning);
        assert_eq!(a[0].range, Some(crate::vocab::ByteRange::new(4, 6)));
        let (b, _) = dec(3, &[1]);
        assert_eq!(b, Body::Raw);
    }
}
