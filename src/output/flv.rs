//! FLV file writer (Adobe FLV v10.1 file format, with Enhanced RTMP tag
//! bodies passed through unchanged).
//!
//! Contract: [`FlvWriter`] writes the 9-byte FLV header, then whole tags
//! (11-byte tag header, body, 4-byte PreviousTagSize) and nothing else, so
//! the file is a valid FLV after every [`FlvWriter::write_tag`] (a capture
//! stopped at any point leaves a playable file once the writer's buffer is
//! flushed). Tag bodies are the RTMP message bodies as they were on the wire:
//! an RTMP audio/video/data message body *is* an FLV tag body (legacy
//! AudioTagHeader/VideoTagHeader or E-RTMP ExAudioTagHeader/ExVideoTagHeader,
//! multitrack included), so enhanced FLV needs no rewriting. The header's
//! audio/video flags are patched in place (one seek) when a kind first
//! appears. Bodies larger than [`MAX_TAG_BODY`] (the 24-bit DataSize field)
//! are refused with an error instead of writing a corrupt tag.
//!
//! The writer holds no media: the caller hands each body as slices (e.g. the
//! chunk payload pieces of a message) and they go straight to `W`.

use std::io::{self, Seek, SeekFrom, Write};

/// FLV tag types.
pub mod tag_type {
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const SCRIPT: u8 = 18;
}

/// Largest tag body the 24-bit DataSize field can describe.
pub const MAX_TAG_BODY: usize = 0xFF_FFFF;
/// FLV header length (signature, version, flags, data offset).
pub const HEADER_LEN: usize = 9;
/// Tag header length.
pub const TAG_HEADER_LEN: usize = 11;
/// Header flag bits.
pub const FLAG_AUDIO: u8 = 0x04;
pub const FLAG_VIDEO: u8 = 0x01;

/// Writes one FLV file.
#[derive(Debug)]
pub struct FlvWriter<W: Write + Seek> {
    w: W,
    flags: u8,
    tags: u64,
    bytes: u64,
}

/// The 9-byte FLV header followed by PreviousTagSize0.
pub fn file_header(flags: u8) -> [u8; HEADER_LEN + 4] {
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// The 11-byte tag header of a tag of `tag_type` with `size` body bytes at
/// `timestamp` ms (lower 24 bits, then the upper 8 bits; stream id 0).
pub fn tag_header(tag_type: u8, size: u32, timestamp: u32) -> [u8; TAG_HEADER_LEN] {
    let s = size.to_be_bytes();
    let t = timestamp.to_be_bytes();
    [tag_type, s[1], s[2], s[3], t[1], t[2], t[3], t[0], 0, 0, 0]
}

impl<W: Write + Seek> FlvWriter<W> {
    /// Starts a file: writes the header with `flags` ([`FLAG_AUDIO`] |
    /// [`FLAG_VIDEO`], more are added as tags of a kind arrive).
    pub fn new(mut w: W, flags: u8) -> io::Result<Self> {
        w.write_all(&file_header(flags))?;
        Ok(FlvWriter {
            w,
            flags,
            tags: 0,
            bytes: (HEADER_LEN + 4) as u64,
        })
    }

    /// Writes one tag whose body is the concatenation of `pieces`.
    pub fn write_tag(&mut self, tag_type: u8, timestamp: u32, pieces: &[&[u8]]) -> io::Result<()> {
        let size: usize = pieces.iter().map(|p| p.len()).sum();
        if size > MAX_TAG_BODY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tag body of {size} bytes exceeds the FLV limit of {MAX_TAG_BODY}"),
            ));
        }
        let flag = match tag_type {
            tag_type::AUDIO => FLAG_AUDIO,
            tag_type::VIDEO => FLAG_VIDEO,
            _ => 0,
        };
        if self.flags & flag != flag {
            self.flags |= flag;
            self.w.seek(SeekFrom::Start(4))?;
            self.w.write_all(&[self.flags])?;
            self.w.seek(SeekFrom::End(0))?;
        }
        self.w
            .write_all(&tag_header(tag_type, size as u32, timestamp))?;
        for p in pieces {
            self.w.write_all(p)?;
        }
        self.w
            .write_all(&((TAG_HEADER_LEN + size) as u32).to_be_bytes())?;
        self.tags += 1;
        self.bytes += (TAG_HEADER_LEN + size + 4) as u64;
        Ok(())
    }

    /// Tags written.
    pub fn tags(&self) -> u64 {
        self.tags
    }

    /// File size so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Header flags so far.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Flushes buffered bytes to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// One tag of an FLV file, as [`tags`] walks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    pub tag_type: u8,
    pub timestamp: u32,
    pub body: &'a [u8],
}

/// Walks the tags of an FLV file held in memory; stops at the first
/// malformed tag (the error says where). For tests and tools.
pub fn tags(file: &[u8]) -> Result<Vec<Tag<'_>>, String> {
    if file.len() < HEADER_LEN + 4 || &file[..3] != b"FLV" {
        return Err("not an FLV file".into());
    }
    let off = u32::from_be_bytes([file[5], file[6], file[7], file[8]]) as usize;
    let mut pos = off + 4;
    let mut out = Vec::new();
    while pos < file.len() {
        let h = file
            .get(pos..pos + TAG_HEADER_LEN)
            .ok_or_else(|| format!("truncated tag header at {pos}"))?;
        let size = ((h[1] as usize) << 16) | ((h[2] as usize) << 8) | h[3] as usize;
        let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let body = file
            .get(pos + TAG_HEADER_LEN..pos + TAG_HEADER_LEN + size)
            .ok_or_else(|| format!("truncated tag body at {pos}"))?;
        let pts = file
            .get(pos + TAG_HEADER_LEN + size..pos + TAG_HEADER_LEN + size + 4)
            .ok_or_else(|| format!("missing PreviousTagSize at {pos}"))?;
        let prev = u32::from_be_bytes([pts[0], pts[1], pts[2], pts[3]]) as usize;
        if prev != TAG_HEADER_LEN + size {
            return Err(format!(
                "PreviousTagSize {prev} != {} at {pos}",
                TAG_HEADER_LEN + size
            ));
        }
        out.push(Tag {
            tag_type: h[0],
            timestamp: ts,
            body,
        });
        pos += TAG_HEADER_LEN + size + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn header_flags_are_patched_and_tags_walk_back() {
        let mut w = FlvWriter::new(Cursor::new(Vec::new()), 0).unwrap();
        w.write_tag(tag_type::SCRIPT, 0, &[b"\x02\x00\x0aonMetaData"])
            .unwrap();
        w.write_tag(tag_type::VIDEO, 0x0123_4567, &[&[0x17, 0], &[1, 2, 3]])
            .unwrap();
        w.write_tag(tag_type::AUDIO, 5, &[&[0xaf, 1, 9]]).unwrap();
        assert_eq!(w.tags(), 3);
        let buf = w.finish().unwrap().into_inner();
        assert_eq!(buf[4], FLAG_AUDIO | FLAG_VIDEO);
        let t = tags(&buf).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].timestamp, 0x0123_4567);
        assert_eq!(t[1].body, &[0x17, 0, 1, 2, 3]);
        assert_eq!(t[2].tag_type, tag_type::AUDIO);
        // Extended timestamp byte sits at offset 7 of the tag header.
        let second = HEADER_LEN + 4 + TAG_HEADER_LEN + 13 + 4;
        assert_eq!(buf[second + 7], 0x01);
        assert_eq!(&buf[second + 4..second + 7], &[0x23, 0x45, 0x67]);
    }

    #[test]
    fn oversized_body_is_refused_without_writing() {
        let mut w = FlvWriter::new(Cursor::new(Vec::new()), 0).unwrap();
        let big = vec![0u8; MAX_TAG_BODY + 1];
        assert!(w.write_tag(tag_type::VIDEO, 0, &[&big]).is_err());
        let buf = w.finish().unwrap().into_inner();
        assert_eq!(buf.len(), HEADER_LEN + 4);
        assert!(tags(&buf).unwrap().is_empty());
    }
}
