//! AMF0 decoder (message types 18, 19, 20, and the AMF0 part of 15/17).
//!
//! Contract (see also `amf`): decodes every AMF0 marker 0x00-0x11 from a byte
//! slice whose first byte is at body offset `base`; spans and anomaly ranges
//! are body-relative. Never panics; every length and count is checked against
//! the remaining bytes before anything is sized from it; nesting is bounded by
//! [`MAX_DEPTH`](super::MAX_DEPTH) and values by
//! [`MAX_ELEMENTS`](super::MAX_ELEMENTS). References (0x07) index the
//! complex values (object, typed object, ECMA array, strict array) seen so far
//! in the same body and resolve to a copy of a complete value; a reference to a
//! value still being decoded (a cycle) stays unresolved with a diagnostic.
//!
//! Marker 0x11 (switch to AMF3) applies to ONE value (W8: not sticky): the
//! next AMF3 value is decoded with the body's [`amf3::Context`] and the decoder
//! returns to AMF0.
//!
//! When the rest of the input cannot be framed (truncation, unknown marker,
//! depth or element limit) the decoder stops and returns what it decoded, the
//! innermost undecodable item as [`ValueKind::Invalid`] where sensible, plus
//! a diagnostic.

use super::amf3;
use super::state::{resolve, store_slot, Slot, State};
use super::{Property, Value, ValueKind};
use crate::vocab::anomalies;
use crate::vocab::Anomaly;

pub const NUMBER: u8 = 0x00;
pub const BOOLEAN: u8 = 0x01;
pub const STRING: u8 = 0x02;
pub const OBJECT: u8 = 0x03;
pub const MOVIECLIP: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const UNDEFINED: u8 = 0x06;
pub const REFERENCE: u8 = 0x07;
pub const ECMA_ARRAY: u8 = 0x08;
pub const OBJECT_END: u8 = 0x09;
pub const STRICT_ARRAY: u8 = 0x0A;
pub const DATE: u8 = 0x0B;
pub const LONG_STRING: u8 = 0x0C;
pub const UNSUPPORTED: u8 = 0x0D;
pub const RECORDSET: u8 = 0x0E;
pub const XML_DOCUMENT: u8 = 0x0F;
pub const TYPED_OBJECT: u8 = 0x10;
pub const AVMPLUS_OBJECT: u8 = 0x11;

/// Decodes consecutive AMF0 values from `bytes` until it is exhausted.
/// `base` is the body offset of `bytes[0]` (spans are body-relative).
/// Decoding stops early only when the rest cannot be framed; that is reported.
pub fn decode_all(bytes: &[u8], base: usize) -> (Vec<Value>, Vec<Anomaly>) {
    let mut d = Decoder::new(bytes, base);
    let mut values = Vec::new();
    while let Some(v) = d.next_value() {
        values.push(v);
    }
    (values, d.finish())
}

/// Decodes one AMF0 value at local offset `pos` of `bytes` (whose first byte
/// is at body offset `base`). Returns the value (`None` when `pos` is at or
/// past the end), the local offset after it, and diagnostics. References and
/// AMF3 reference tables start empty.
pub fn decode_one(bytes: &[u8], pos: usize, base: usize) -> (Option<Value>, usize, Vec<Anomaly>) {
    let mut d = Decoder::new(bytes, base);
    d.st.pos = pos.min(bytes.len());
    let v = d.next_value();
    let end = d.position();
    (v, end, d.finish())
}

/// Incremental AMF0 decoder over one body (or a part of it): keeps the
/// reference tables between values, so a command's arguments can be read one
/// by one.
pub struct Decoder<'a> {
    st: State<'a>,
    refs: Vec<Slot>,
    amf3: amf3::Context,
}

impl<'a> Decoder<'a> {
    /// A decoder over `bytes`, whose first byte is at body offset `base`.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Decoder {
            st: State::new(bytes, base),
            refs: Vec::new(),
            amf3: amf3::Context::default(),
        }
    }

    /// Local offset (in `bytes`) of the next value.
    pub fn position(&self) -> usize {
        self.st.pos
    }

    /// True when all bytes were consumed or the rest cannot be framed.
    pub fn is_done(&self) -> bool {
        self.st.fatal || self.st.at_end()
    }

    /// True when decoding stopped because the rest cannot be framed.
    pub fn stopped(&self) -> bool {
        self.st.fatal
    }

    /// Diagnostics so far.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.st.anomalies
    }

    /// Decodes the next value, or `None` when done.
    pub fn next_value(&mut self) -> Option<Value> {
        if self.is_done() {
            return None;
        }
        Some(self.value(0))
    }

    /// Ends decoding and returns the diagnostics.
    pub fn finish(self) -> Vec<Anomaly> {
        self.st.into_anomalies()
    }

    fn invalid(&self, marker: u8, start: usize) -> Value {
        Value::new(
            self.st.span(start, self.st.pos),
            ValueKind::Invalid { marker },
        )
    }

    fn done(&self, start: usize, kind: ValueKind) -> Value {
        Value::new(self.st.span(start, self.st.pos), kind)
    }

    /// Reads a u16-length (or u32 when `long`) string; `None` when truncated
    /// (reported, fatal).
    fn string(&mut self, long: bool, what: &str) -> Option<super::AmfStr> {
        let start = self.st.pos;
        let len = if long {
            self.st.u32().map(|n| n as usize)
        } else {
            self.st.u16().map(|n| n as usize)
        };
        let Some(len) = len else {
            self.st.truncated(start, what);
            return None;
        };
        let text_start = self.st.pos;
        let Some(raw) = self.st.take(len) else {
            self.st.truncated(start, what);
            return None;
        };
        let end = self.st.pos;
        Some(self.st.string(raw, text_start, end))
    }

    fn value(&mut self, depth: usize) -> Value {
        let start = self.st.pos;
        let Some(marker) = self.st.u8() else {
            self.st.truncated(start, "AMF0 value");
            return self.invalid(0, start);
        };
        if !self.st.count_element(start) {
            return self.invalid(marker, start);
        }
        match marker {
            NUMBER => match self.st.f64() {
                Some(n) => self.done(start, ValueKind::Number(n)),
                None => {
                    self.st.truncated(start, "AMF0 number");
                    self.invalid(marker, start)
                }
            },
            BOOLEAN => match self.st.u8() {
                Some(b) => self.done(start, ValueKind::Boolean(b != 0)),
                None => {
                    self.st.truncated(start, "AMF0 boolean");
                    self.invalid(marker, start)
                }
            },
            STRING | LONG_STRING => match self.string(marker == LONG_STRING, "AMF0 string") {
                Some(s) => self.done(start, ValueKind::String(s)),
                None => self.invalid(marker, start),
            },
            XML_DOCUMENT => match self.string(true, "AMF0 XML document") {
                Some(s) => self.done(start, ValueKind::Xml(s)),
                None => self.invalid(marker, start),
            },
            OBJECT | TYPED_OBJECT | ECMA_ARRAY => self.object_like(marker, start, depth),
            STRICT_ARRAY => self.strict_array(start, depth),
            MOVIECLIP | RECORDSET => {
                self.st.anomaly(
                    anomalies::AMF_RESERVED_MARKER,
                    start,
                    start + 1,
                    format!("AMF0 marker 0x{marker:02x} is reserved and should not be sent"),
                );
                let kind = if marker == MOVIECLIP {
                    ValueKind::MovieClip
                } else {
                    ValueKind::RecordSet
                };
                self.done(start, kind)
            }
            NULL => self.done(start, ValueKind::Null),
            UNDEFINED => self.done(start, ValueKind::Undefined),
            UNSUPPORTED => self.done(start, ValueKind::Unsupported),
            REFERENCE => match self.st.u16() {
                Some(index) => {
                    let end = self.st.pos;
                    let resolved =
                        resolve(&mut self.st, &self.refs, index as u32, depth, start, end);
                    self.done(
                        start,
                        ValueKind::Reference {
                            index: index as u32,
                            resolved,
                        },
                    )
                }
                None => {
                    self.st.truncated(start, "AMF0 reference");
                    self.invalid(marker, start)
                }
            },
            OBJECT_END => {
                self.st.anomaly(
                    anomalies::AMF_STRAY_OBJECT_END,
                    start,
                    start + 1,
                    "object-end marker (0x09) where a value was expected",
                );
                self.invalid(marker, start)
            }
            DATE => {
                let ms = self.st.f64();
                let tz = self.st.u16();
                match (ms, tz) {
                    (Some(ms), Some(tz)) => self.done(
                        start,
                        ValueKind::Date {
                            ms,
                            timezone: Some(tz as i16),
                        },
                    ),
                    _ => {
                        self.st.truncated(start, "AMF0 date");
                        self.invalid(marker, start)
                    }
                }
            }
            AVMPLUS_OBJECT => {
                if self.st.at_end() {
                    self.st
                        .truncated(start, "AMF3 value after AMF0 switch marker 0x11");
                    return self.invalid(marker, start);
                }
                // The switch marker itself is not a value of its own.
                self.st.elements -= 1;
                let mut v = amf3::decode_value(&mut self.st, &mut self.amf3, depth);
                v.span = self.st.span(start, self.st.pos);
                v
            }
            _ => {
                let end = self.st.bytes.len();
                self.st.fatal_anomaly(
                    anomalies::AMF_UNKNOWN_MARKER,
                    start,
                    end,
                    format!("unknown AMF0 marker 0x{marker:02x}; rest of the body not decoded"),
                );
                self.invalid(marker, start)
            }
        }
    }

    /// Object (0x03), typed object (0x10) and ECMA array (0x08).
    fn object_like(&mut self, marker: u8, start: usize, depth: usize) -> Value {
        let class = if marker == TYPED_OBJECT {
            match self.string(false, "AMF0 typed object class name") {
                Some(c) => Some(c),
                None => return self.invalid(marker, start),
            }
        } else {
            None
        };
        let count = if marker == ECMA_ARRAY {
            match self.st.u32() {
                Some(c) => Some(c),
                None => {
                    self.st.truncated(start, "AMF0 ECMA array count");
                    return self.invalid(marker, start);
                }
            }
        } else {
            None
        };
        if !self.st.enter(depth, start) {
            return self.invalid(marker, start);
        }
        let idx = self.refs.len();
        self.refs.push(Slot::InProgress);
        let properties = self.properties(depth, count);
        let kind = match count {
            Some(count) => {
                if properties.len() as u64 != count as u64 && !self.st.fatal {
                    let end = self.st.pos;
                    self.st.anomaly(
                        anomalies::AMF_AMF0_ECMA_COUNT_MISMATCH,
                        start,
                        end,
                        format!(
                            "ECMA array count hint {count} but {} properties",
                            properties.len()
                        ),
                    );
                }
                ValueKind::EcmaArray { count, properties }
            }
            None => ValueKind::Object { class, properties },
        };
        let v = self.done(start, kind);
        store_slot(&mut self.st, &mut self.refs, idx, &v);
        v
    }

    /// Properties until an empty key followed by 0x09. `ecma_count` is the
    /// ECMA array count hint (a missing end marker after exactly that many
    /// properties at the end of the input is only a warning).
    fn properties(&mut self, depth: usize, ecma_count: Option<u32>) -> Vec<Property> {
        let mut props = Vec::new();
        loop {
            if self.st.fatal {
                break;
            }
            let kpos = self.st.pos;
            if self.st.at_end() {
                if ecma_count.is_some_and(|c| c as usize == props.len()) {
                    self.st.anomaly(
                        anomalies::AMF_AMF0_MISSING_OBJECT_END,
                        kpos,
                        kpos,
                        "ECMA array ends with the body, without an object-end marker",
                    );
                } else {
                    self.st.truncated(kpos, "object end marker");
                }
                break;
            }
            let Some(key) = self.string(false, "AMF0 property name") else {
                break;
            };
            let is_empty = match &key {
                super::AmfStr::Text(t) => t.is_empty(),
                super::AmfStr::Bytes(b) => b.is_empty(),
            };
            if is_empty {
                match self.st.peek() {
                    Some(OBJECT_END) => {
                        self.st.pos += 1;
                        break;
                    }
                    None => {
                        self.st.truncated(kpos, "object end marker");
                        break;
                    }
                    Some(_) => {
                        let p = self.st.pos;
                        self.st.anomaly(
                            anomalies::AMF_AMF0_EMPTY_KEY,
                            kpos,
                            p,
                            "empty property name not followed by object-end marker",
                        );
                    }
                }
            }
            if self.st.at_end() {
                let p = self.st.pos;
                self.st.truncated(p, "property value");
                break;
            }
            let value = self.value(depth + 1);
            props.push(Property { key, value });
        }
        props
    }

    fn strict_array(&mut self, start: usize, depth: usize) -> Value {
        let Some(count) = self.st.u32() else {
            self.st.truncated(start, "AMF0 strict array count");
            return self.invalid(STRICT_ARRAY, start);
        };
        if !self.st.enter(depth, start) {
            return self.invalid(STRICT_ARRAY, start);
        }
        let idx = self.refs.len();
        self.refs.push(Slot::InProgress);
        // Every element takes at least one byte: never reserve more.
        let mut items = Vec::with_capacity((count as usize).min(self.st.remaining()));
        for i in 0..count {
            if self.st.fatal {
                break;
            }
            if self.st.at_end() {
                let p = self.st.pos;
                self.st
                    .truncated(p, &format!("AMF0 strict array element {i} of {count}"));
                break;
            }
            items.push(self.value(depth + 1));
        }
        let v = self.done(start, ValueKind::StrictArray(items));
        store_slot(&mut self.st, &mut self.refs, idx, &v);
        v
    }
}
