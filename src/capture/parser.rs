//! Pure-Rust capture reader (`pcap-parser`): classic pcap and pcapng,
//! streaming from any `Read` (files libpcap refuses, stdin).
//!
//! Contract: yields every packet block (pcap record, pcapng EPB/SPB) in
//! order with its interface's link type and a nanosecond timestamp computed
//! from the interface's `if_tsresol`/`if_tsoffset`; memory stays bounded by
//! the largest block (at most [`MAX_BLOCK_BYTES`]); damaged input is an
//! error, never a panic.

use std::io::{Cursor, Read};

use pcap::BpfProgram;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError};

use super::{
    capture_kind, compile_filter, header_time, read_up_to, CaptureError,
    LINKTYPE_UNDEFINED_INTERFACE,
};
use crate::time::PacketTime;

/// Initial read buffer.
pub const INITIAL_BUFFER_BYTES: usize = 1 << 20;
/// Largest block (pcap record or pcapng block) accepted.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Iface {
    pub(crate) linktype: u32,
    /// Timestamp units per second.
    pub(crate) resolution: u64,
    /// Seconds added to every timestamp.
    pub(crate) offset: i64,
}

/// What one parsed block asks the reader loop to do.
enum Step {
    Consume(usize, Option<(PacketTime, u32, u32)>),
    Refill,
    Grow,
    Fail(String),
}

/// pcap-parser backed reader; see the module doc.
pub struct ParserSource {
    reader: Box<dyn PcapReaderIterator + Send>,
    what: String,
    capacity: usize,
    /// Classic pcap: (link type, nanosecond timestamps).
    legacy: Option<(u32, bool)>,
    /// Byte order of the classic pcap file or of the current pcapng section.
    big_endian: bool,
    /// pcapng interfaces of the current section.
    ifaces: Vec<Iface>,
    linktypes: Vec<u32>,
    filter_expr: Option<String>,
    filters: Vec<(u32, BpfProgram)>,
    /// Packets still to skip (already delivered by libpcap).
    skip: u64,
}

fn note(linktypes: &mut Vec<u32>, lt: u32) {
    if !linktypes.contains(&lt) {
        linktypes.push(lt);
    }
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("parse error ({kind:?})"),
        PcapError::OwnedNomError(_, kind) => format!("parse error ({kind:?})"),
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        PcapError::ReadError => "read error".into(),
        other => format!("{other:?}"),
    }
}

/// Nanosecond timestamp of a pcapng packet.
pub(crate) fn ng_time(ts_high: u32, ts_low: u32, iface: Option<&Iface>) -> PacketTime {
    let (resolution, offset) = iface.map_or((1_000_000, 0), |i| (i.resolution, i.offset));
    let resolution = resolution.max(1);
    let ts = (u64::from(ts_high) << 32) | u64::from(ts_low);
    let sec = i64::try_from(ts / resolution)
        .unwrap_or(i64::MAX)
        .saturating_add(offset);
    let frac = u128::from(ts % resolution);
    let nsec = (frac * 1_000_000_000 / u128::from(resolution)) as u32;
    PacketTime::new(sec, nsec)
}

impl ParserSource {
    /// Starts reading `input`; `what` names it in errors. Reads only the
    /// file header (pcap) or section header block (pcapng) before returning.
    pub fn new<R: Read + Send + 'static>(
        mut input: R,
        what: &str,
        filter_expr: Option<String>,
    ) -> Result<ParserSource, CaptureError> {
        let io = |err| CaptureError::Io {
            what: what.to_string(),
            err,
        };
        let mut prefix = vec![0u8; 12];
        let n = read_up_to(&mut input, &mut prefix).map_err(io)?;
        prefix.truncate(n);
        let not_capture = |detail: &str| CaptureError::NotACapture {
            what: what.to_string(),
            detail: detail.to_string(),
        };
        let kind = match capture_kind(&prefix) {
            Some(k) => k,
            None if n == 0 => return Err(not_capture("empty input")),
            None => return Err(not_capture("unknown magic number")),
        };
        // Make sure the whole file header / section header block is in the
        // first buffer the parser sees (a pipe may deliver it piecemeal).
        let want = if kind == "pcapng" {
            let (Some(len), Some(bom)) = (prefix.get(4..8), prefix.get(8..12)) else {
                return Err(not_capture("truncated section header"));
            };
            let len = [len[0], len[1], len[2], len[3]];
            let len = if bom == [0x1a, 0x2b, 0x3c, 0x4d] {
                u32::from_be_bytes(len)
            } else {
                u32::from_le_bytes(len)
            } as usize;
            if len > MAX_BLOCK_BYTES {
                return Err(not_capture("section header block too large"));
            }
            len
        } else {
            24
        };
        if want > prefix.len() {
            let have = prefix.len();
            prefix.resize(want, 0);
            let got = read_up_to(&mut input, &mut prefix[have..]).map_err(io)?;
            prefix.truncate(have + got);
        }
        let capacity = INITIAL_BUFFER_BYTES.max(prefix.len().saturating_mul(2));
        let chained: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(input));
        let reader = pcap_parser::create_reader(capacity, chained).map_err(|e| match e {
            PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                not_capture("truncated header")
            }
            other => not_capture(&describe(&other)),
        })?;
        Ok(ParserSource {
            reader,
            what: what.to_string(),
            capacity,
            legacy: None,
            big_endian: false,
            ifaces: Vec::new(),
            linktypes: Vec::new(),
            filter_expr,
            filters: Vec::new(),
            skip: 0,
        })
    }

    /// Skips the next `n` packets silently (not counted, not filtered).
    pub fn skip_packets(&mut self, n: u64) {
        self.skip = n;
    }

    /// Distinct link types seen so far, in order of appearance.
    pub fn linktypes(&self) -> &[u32] {
        &self.linktypes
    }

    /// Reads the next packet that passes the filter into `buf`; bumps
    /// `count` for every packet read (filtered or not). Returns its time,
    /// link type and original length.
    pub(crate) fn next_into(
        &mut self,
        buf: &mut Vec<u8>,
        count: &mut u64,
    ) -> Result<Option<(PacketTime, u32, u32)>, CaptureError> {
        loop {
            let step = match self.reader.next() {
                Ok((off, block)) => {
                    let got = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            let lt = h.network.0 as u32;
                            self.legacy = Some((lt, h.is_nanosecond_precision()));
                            self.big_endian = h.is_bigendian();
                            note(&mut self.linktypes, lt);
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (lt, nano) = self.legacy.unwrap_or((1, false));
                            buf.clear();
                            buf.extend_from_slice(b.data);
                            let t = header_time(i64::from(b.ts_sec), i64::from(b.ts_usec), nano);
                            Some((t, lt, b.origlen))
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                            self.big_endian = shb.big_endian();
                            self.ifaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            let lt = idb.linktype.0 as u32;
                            self.ifaces.push(Iface {
                                linktype: lt,
                                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                                offset: idb.ts_offset(),
                            });
                            note(&mut self.linktypes, lt);
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let iface = usize::try_from(epb.if_id)
                                .ok()
                                .and_then(|i| self.ifaces.get(i));
                            let lt = iface.map_or(LINKTYPE_UNDEFINED_INTERFACE, |i| i.linktype);
                            let t = ng_time(epb.ts_high, epb.ts_low, iface);
                            buf.clear();
                            buf.extend_from_slice(epb.packet_data());
                            Some((t, lt, epb.orig_len()))
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let lt = self
                                .ifaces
                                .first()
                                .map_or(LINKTYPE_UNDEFINED_INTERFACE, |i| i.linktype);
                            buf.clear();
                            buf.extend_from_slice(spb.packet_data());
                            Some((PacketTime::default(), lt, spb.orig_len()))
                        }
                        PcapBlockOwned::NG(_) => None,
                    };
                    Step::Consume(off, got)
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated {
                        what: self.what.clone(),
                        detail: format!("after packet {count}"),
                        offset: Some(self.reader.consumed() as u64),
                    })
                }
                Err(e) => Step::Fail(describe(&e)),
            };
            match step {
                Step::Consume(off, got) => {
                    self.reader.consume(off);
                    if let Some(m) = got {
                        if self.skip > 0 {
                            self.skip -= 1;
                            continue;
                        }
                        *count += 1;
                        if self.passes(buf, m.1)? {
                            return Ok(Some(m));
                        }
                    }
                }
                Step::Refill => self.reader.refill().map_err(|e| CaptureError::Io {
                    what: self.what.clone(),
                    err: std::io::Error::other(describe(&e)),
                })?,
                Step::Grow => {
                    // The declared size of the pending block, checked before
                    // any memory is set aside for it.
                    let declared = self.pending_block_len();
                    if declared.is_some_and(|n| n > MAX_BLOCK_BYTES) {
                        return Err(CaptureError::Corrupt {
                            what: self.what.clone(),
                            detail: format!(
                                "block of {} bytes (limit {} MiB) after packet {count}",
                                declared.unwrap_or(0),
                                MAX_BLOCK_BYTES >> 20
                            ),
                        });
                    }
                    let new = self.capacity.saturating_mul(2);
                    if new > MAX_BLOCK_BYTES.saturating_mul(2) || !self.reader.grow(new) {
                        return Err(CaptureError::Corrupt {
                            what: self.what.clone(),
                            detail: format!(
                                "block larger than {} MiB after packet {count}",
                                MAX_BLOCK_BYTES >> 20
                            ),
                        });
                    }
                    self.capacity = new;
                }
                Step::Fail(detail) => {
                    return Err(CaptureError::Corrupt {
                        what: self.what.clone(),
                        detail: format!(
                            "{detail} at byte {} after packet {count}",
                            self.reader.consumed()
                        ),
                    })
                }
            }
        }
    }

    /// Total size of the block at the head of the buffer, from its header.
    fn pending_block_len(&self) -> Option<usize> {
        let data = self.reader.data();
        let (at, extra) = if self.legacy.is_some() {
            (8, 16) // caplen of the record header; plus the header itself
        } else {
            (4, 0) // total block length
        };
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        let n = if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        usize::try_from(n).ok()?.checked_add(extra)
    }

    /// Applies the BPF filter (compiled once per link type).
    fn passes(&mut self, data: &[u8], linktype: u32) -> Result<bool, CaptureError> {
        let Some(expr) = &self.filter_expr else {
            return Ok(true);
        };
        if linktype == LINKTYPE_UNDEFINED_INTERFACE {
            return Ok(false);
        }
        if let Some((_, prog)) = self.filters.iter().find(|(lt, _)| *lt == linktype) {
            return Ok(prog.filter(data));
        }
        let prog = compile_filter(expr, linktype)?;
        let pass = prog.filter(data);
        self.filters.push((linktype, prog));
        Ok(pass)
    }
}
