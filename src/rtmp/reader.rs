//! The small tools every body decoder shares: a bounds-checked big-endian
//! [`Reader`] over a body slice, [`anomaly`] for body-relative diagnostics,
//! and [`amf_values`] for the AMF part of command, data and shared-object
//! bodies.
//!
//! Contract: nothing here panics; every read is checked against the bytes
//! present and returns `None` past them. This module depends on no decoder,
//! so the decoders ([`super::control`], [`super::media`], ...) and the
//! dispatcher ([`super::body`]) import it without importing each other.

use crate::vocab::{anomalies, AnomalyKind};
use crate::vocab::{Anomaly, ByteRange};

/// Decodes the AMF values of a command/data body. Types 15, 16 and 17
/// (`amf3`) start with a format byte 0x00 and continue in AMF0 where a 0x11
/// marker switches one value to AMF3; a missing format byte is
/// `rtmp.body.missing_format_byte` (warning) and decoding starts at 0.
/// Returns the values and the offset where AMF starts.
pub(crate) fn amf_values(
    body: &[u8],
    amf3: bool,
    out: &mut Vec<Anomaly>,
) -> (Vec<crate::amf::Value>, usize) {
    let start = if amf3 {
        if body.first() == Some(&0) {
            1
        } else {
            out.push(anomaly(
                anomalies::RTMP_BODY_MISSING_FORMAT_BYTE,
                0,
                body.len().min(1),
                "AMF3 message body does not start with the 0x00 format byte",
            ));
            0
        }
    } else {
        0
    };
    let (vals, an) = crate::amf::amf0::decode_all(body.get(start..).unwrap_or(&[]), start);
    out.extend(an);
    (vals, start)
}

/// Builds an anomaly with a body-relative range `[start, end)`.
pub(crate) fn anomaly(
    kind: AnomalyKind,
    start: usize,
    end: usize,
    detail: impl Into<String>,
) -> Anomaly {
    Anomaly::new(kind, Some(ByteRange::new(start as u64, end as u64)), detail)
}

/// Bounds-checked big-endian reader over a body slice. Positions are offsets
/// into the slice; `base` is added by callers that decode sub-slices.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader {
            buf,
            pos: pos.min(buf.len()),
        }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub(crate) fn skip(&mut self, n: usize) -> bool {
        self.take(n).is_some()
    }
    pub(crate) fn skip_to_end(&mut self) {
        self.pos = self.buf.len();
    }
    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = self.peek_u8()?;
        self.pos += 1;
        Some(b)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        Some(u16::from_be_bytes([s[0], s[1]]))
    }
    pub(crate) fn u24(&mut self) -> Option<u32> {
        let s = self.take(3)?;
        Some(u32::from_be_bytes([0, s[0], s[1], s[2]]))
    }
    /// Signed 24-bit big-endian (SI24).
    pub(crate) fn i24(&mut self) -> Option<i32> {
        let v = self.u24()?;
        Some(((v << 8) as i32) >> 8)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_bounds() {
        let mut r = Reader::new(&[0xff, 0xff, 0xfe, 1]);
        assert_eq!(r.i24(), Some(-2));
        assert_eq!(r.u16(), None);
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u8(), None);
        let mut r = Reader::new(&[0x7f, 0xff, 0xff]);
        assert_eq!(r.i24(), Some(0x7fffff));
    }
}
