//! The E-RTMP header walk shared by audio and video: the ModEx loop,
//! the multitrack type byte, FourCCs and per-track slots (each track size
//! checked against the body before use; at most [`MAX_TRACKS`] tracks).

use super::*;
use crate::vocab::{anomalies, AnomalyKind};

/// Result of the shared E-RTMP header walk (ModEx loop and multitrack).
pub(super) struct ExHeader {
    pub(super) packet_type: u8,
    pub(super) nanos: Option<u32>,
    /// Multitrack type when multitrack.
    pub(super) multitrack: Option<u8>,
}

/// Runs the ModEx loop starting from packet type `pt` (already read).
/// Returns `None` when the body ended inside it.
pub(super) fn modex_loop(
    r: &mut Reader,
    mut pt: u8,
    kind: &str,
    out: &mut Vec<Anomaly>,
) -> Option<(u8, Option<u32>)> {
    let mut nanos = None;
    while pt == 7 {
        let start = r.pos();
        let short = |out: &mut Vec<Anomaly>, r: &Reader| {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_BAD_MODEX,
                start,
                r.len(),
                format!("{kind} ModEx runs past the end of the body"),
            ));
        };
        let Some(s) = r.u8() else {
            short(out, r);
            return None;
        };
        let mut size = s as usize + 1;
        if size == 256 {
            let Some(s16) = r.u16() else {
                short(out, r);
                return None;
            };
            size = s16 as usize + 1;
        }
        let Some(data) = r.take(size) else {
            short(out, r);
            return None;
        };
        let Some(b) = r.u8() else {
            short(out, r);
            return None;
        };
        let modex_type = b >> 4;
        pt = b & 0x0f;
        if modex_type == 0 {
            // TimestampOffsetNano: UI24 from the ModEx data.
            if data.len() >= 3 {
                nanos = Some(u32::from_be_bytes([0, data[0], data[1], data[2]]));
            } else {
                out.push(anomaly(
                    anomalies::RTMP_MEDIA_BAD_MODEX.at(Severity::Warning),
                    start,
                    r.pos(),
                    format!(
                        "{kind} TimestampOffsetNano ModEx data is {} bytes, needs 3",
                        data.len()
                    ),
                ));
            }
        } else {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_UNKNOWN_MODEX_TYPE,
                start,
                r.pos(),
                format!("{kind} ModEx type {modex_type}"),
            ));
        }
    }
    Some((pt, nanos))
}

/// Reads the multitrack byte (after packet type Multitrack). Returns the
/// inner packet type and the multitrack type.
pub(super) fn multitrack_byte(
    r: &mut Reader,
    kind: &str,
    multitrack_pt: u8,
    out: &mut Vec<Anomaly>,
) -> Option<(u8, u8)> {
    let start = r.pos();
    let Some(b) = r.u8() else {
        out.push(anomaly(
            anomalies::RTMP_MEDIA_TRACK_TRUNCATED,
            start,
            start,
            format!("{kind} multitrack header missing"),
        ));
        return None;
    };
    let mt = b >> 4;
    let pt = b & 0x0f;
    if mt > 2 {
        out.push(anomaly(
            anomalies::RTMP_MEDIA_BAD_MULTITRACK_TYPE,
            start,
            start + 1,
            format!("{kind} multitrack type {mt}"),
        ));
    }
    if pt == multitrack_pt {
        out.push(anomaly(
            anomalies::RTMP_MEDIA_NESTED_MULTITRACK,
            start,
            start + 1,
            format!("{kind} multitrack packet type inside a multitrack message"),
        ));
        return None;
    }
    Some((pt, mt))
}

/// Reads a FourCC, reporting a truncated header.
pub(super) fn read_fourcc<'a>(
    r: &mut Reader<'a>,
    trunc_name: AnomalyKind,
    out: &mut Vec<Anomaly>,
) -> Option<&'a [u8]> {
    let start = r.pos();
    match r.take(4) {
        Some(f) => {
            if fourcc_codec(f).is_none() {
                out.push(anomaly(
                    anomalies::RTMP_MEDIA_UNKNOWN_FOURCC,
                    start,
                    start + 4,
                    format!("FourCC {:?}", fourcc_string(f)),
                ));
            }
            Some(f)
        }
        None => {
            out.push(anomaly(
                trunc_name,
                start,
                r.len(),
                "FourCC runs past the end of the body",
            ));
            r.skip_to_end();
            None
        }
    }
}

/// One track's bytes within the body.
pub(super) struct TrackSlot<'a> {
    pub(super) track_id: u8,
    pub(super) fourcc: Option<&'a [u8]>,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl<'a> TrackSlot<'a> {
    /// The slot's bytes (empty if the range falls outside the body).
    pub(super) fn bytes(&self, body: &'a [u8]) -> &'a [u8] {
        body.get(self.start..self.end).unwrap_or(&[])
    }

    /// A track for this slot, its payload the whole slot, no config yet.
    pub(super) fn track(&self) -> MediaTrack {
        MediaTrack {
            track_id: self.track_id,
            fourcc: self.fourcc.map(fourcc_string),
            composition_time: None,
            payload: Span::new(self.start, self.end),
            config: None,
        }
    }
}

/// After the E-RTMP header: the FourCC (unless each track carries its
/// own), then the track slots. `None` when the FourCC is truncated.
pub(super) fn ex_slots<'a>(
    body: &'a [u8],
    r: &mut Reader<'a>,
    multitrack: Option<u8>,
    trunc_name: AnomalyKind,
    out: &mut Vec<Anomaly>,
) -> Option<Vec<TrackSlot<'a>>> {
    let fourcc = if multitrack == Some(2) {
        None
    } else {
        Some(read_fourcc(r, trunc_name, out)?)
    };
    Some(track_slots(body, r, multitrack, fourcc, trunc_name, out))
}

/// Walks the tracks of an E-RTMP body: returns the slots. For
/// non-multitrack messages there is one slot from the reader position to
/// the end.
pub(super) fn track_slots<'a>(
    body: &'a [u8],
    r: &mut Reader<'a>,
    multitrack: Option<u8>,
    mut fourcc: Option<&'a [u8]>,
    trunc_name: AnomalyKind,
    out: &mut Vec<Anomaly>,
) -> Vec<TrackSlot<'a>> {
    let mut slots = Vec::new();
    let Some(mt) = multitrack else {
        slots.push(TrackSlot {
            track_id: 0,
            fourcc,
            start: r.pos(),
            end: body.len(),
        });
        return slots;
    };
    while r.remaining() > 0 {
        if slots.len() >= MAX_TRACKS {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_TRACK_LIMIT,
                r.pos(),
                body.len(),
                format!("more than {MAX_TRACKS} tracks; the rest is not decoded"),
            ));
            break;
        }
        let hdr_start = r.pos();
        if mt == 2 {
            fourcc = read_fourcc(r, trunc_name, out);
            if fourcc.is_none() {
                break;
            }
        }
        let Some(track_id) = r.u8() else {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_TRACK_TRUNCATED,
                hdr_start,
                body.len(),
                "track header runs past the end of the body",
            ));
            break;
        };
        if mt == 0 {
            slots.push(TrackSlot {
                track_id,
                fourcc,
                start: r.pos(),
                end: body.len(),
            });
            break;
        }
        let Some(size) = r.u24() else {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_TRACK_TRUNCATED,
                hdr_start,
                body.len(),
                "track size runs past the end of the body",
            ));
            break;
        };
        let start = r.pos();
        let want_end = start.saturating_add(size as usize);
        let end = want_end.min(body.len());
        if want_end > body.len() {
            out.push(anomaly(
                anomalies::RTMP_MEDIA_TRACK_TRUNCATED,
                hdr_start,
                body.len(),
                format!(
                    "track {track_id} size {size} exceeds the {} bytes left",
                    body.len() - start
                ),
            ));
        }
        slots.push(TrackSlot {
            track_id,
            fourcc,
            start,
            end,
        });
        *r = Reader::at(body, end);
    }
    slots
}

/// Shared E-RTMP header: ModEx loop, then the multitrack byte.
pub(super) fn ex_header(
    r: &mut Reader,
    pt: u8,
    kind: &str,
    multitrack_pt: u8,
    out: &mut Vec<Anomaly>,
) -> Option<ExHeader> {
    let (pt, nanos) = modex_loop(r, pt, kind, out)?;
    if pt == multitrack_pt {
        let (inner, mt) = multitrack_byte(r, kind, multitrack_pt, out)?;
        return Some(ExHeader {
            packet_type: inner,
            nanos,
            multitrack: Some(mt),
        });
    }
    Some(ExHeader {
        packet_type: pt,
        nanos,
        multitrack: None,
    })
}

/// The codec name of a set of tracks: the common one, or `mixed`.
pub(super) fn tracks_codec(tracks: &[MediaTrack]) -> Name {
    let mut name: Option<Name> = None;
    for t in tracks {
        let n = match &t.fourcc {
            Some(f) => match fourcc_codec(f.as_bytes()) {
                Some(c) => Name::Borrowed(c),
                None => Name::Owned(f.clone()),
            },
            None => continue,
        };
        match &name {
            None => name = Some(n),
            Some(prev) if *prev != n => return Name::Borrowed("mixed"),
            _ => {}
        }
    }
    name.unwrap_or(Name::Borrowed("none"))
}

// ---------------------------------------------------------------- audio
