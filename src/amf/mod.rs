//! AMF0 and AMF3 values (Action Message Format) and their decoders.
//!
//! Contract: the decoders take a byte slice (a message body or part of it) and
//! the offset of that slice within the body, and return decoded [`Value`]s plus
//! diagnostics. They never panic, never allocate from a length or count field
//! before checking the bytes exist, bound nesting depth ([`MAX_DEPTH`]) and
//! total element counts ([`MAX_ELEMENTS`]), and resolve references without
//! following cycles. Strings that are not UTF-8 keep their bytes.
//!
//! One [`Value`] type covers both encodings: AMF0-only and AMF3-only kinds are
//! variants of the same enum so outputs handle one tree.

pub mod amf0;
pub mod amf3;
pub mod json;
mod state;

use serde::Serialize;

/// Maximum nesting depth of containers before `amf.depth_limit`.
pub const MAX_DEPTH: usize = 64;
/// Maximum number of values (all nesting levels) decoded from one body before
/// `amf.element_limit`.
pub const MAX_ELEMENTS: usize = 1_000_000;
/// Budgets, per body, for the copies made to resolve references: one for
/// values (reference table entries and resolved object references; a unit is
/// one value node or 64 string bytes in it), one for AMF3 strings copied from
/// the string and trait tables (a unit is 64 bytes). Each is also at most 4
/// units per input byte (plus 1024). Past it, references stay unresolved
/// (`amf.copy_limit`).
pub const MAX_COPY_COST: usize = 1_000_000;
/// Maximum diagnostics kept per body; the rest are counted in one
/// `amf.anomaly_limit` (the diagnostic that stops decoding is always kept).
pub const MAX_ANOMALIES: usize = 64;

/// A half-open range of offsets within a message body (body-relative, not
/// stream offsets; `rtmp::message::Message::stream_offset_of` maps them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        let s = start.min(u32::MAX as usize) as u32;
        let e = end.min(u32::MAX as usize) as u32;
        Span {
            start: s,
            end: e.max(s),
        }
    }
    pub fn len(&self) -> u32 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A string from the wire: text when it is valid UTF-8, raw bytes otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AmfStr {
    Text(String),
    Bytes(Vec<u8>),
}

impl AmfStr {
    /// Builds from wire bytes, keeping them when they are not UTF-8.
    pub fn from_bytes(b: &[u8]) -> Self {
        match std::str::from_utf8(b) {
            Ok(s) => AmfStr::Text(s.to_owned()),
            Err(_) => AmfStr::Bytes(b.to_vec()),
        }
    }
    /// Text, or `None` for non-UTF-8 bytes.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            AmfStr::Text(s) => Some(s),
            AmfStr::Bytes(_) => None,
        }
    }
    /// Lossy text for display.
    pub fn to_lossy(&self) -> String {
        match self {
            AmfStr::Text(s) => s.clone(),
            AmfStr::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

impl From<&str> for AmfStr {
    fn from(s: &str) -> Self {
        AmfStr::Text(s.to_owned())
    }
}

impl Serialize for AmfStr {
    /// Text as a JSON string; bytes as `{"bytes": "<base64>"}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        use serde::ser::SerializeMap;
        match self {
            AmfStr::Text(t) => s.serialize_str(t),
            AmfStr::Bytes(b) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "bytes",
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?;
                m.end()
            }
        }
    }
}

/// One key/value pair of an object or associative array, in wire order
/// (repeated keys are kept).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Property {
    pub key: AmfStr,
    pub value: Value,
}

/// AMF3 Vector element kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorKind {
    Int,
    Uint,
    Double,
    Object,
}

/// The kind of a decoded value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// AMF0 number / AMF3 double. May be NaN or infinite.
    Number(f64),
    /// AMF3 integer (signed 29-bit).
    Integer(i32),
    Boolean(bool),
    /// AMF0 string / long string, AMF3 string.
    String(AmfStr),
    Null,
    Undefined,
    /// AMF0 object (0x03), typed object (0x10, `class` set), AMF3 object.
    Object {
        #[serde(skip_serializing_if = "Option::is_none")]
        class: Option<AmfStr>,
        properties: Vec<Property>,
    },
    /// AMF0 ECMA array (0x08): `count` is the wire's count hint.
    EcmaArray {
        count: u32,
        properties: Vec<Property>,
    },
    /// AMF0 strict array (0x0A).
    StrictArray(Vec<Value>),
    /// AMF3 array: associative part then dense part.
    Array {
        associative: Vec<Property>,
        dense: Vec<Value>,
    },
    /// Milliseconds since the epoch; AMF0 carries a time zone (minutes, usually 0).
    Date {
        ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        timezone: Option<i16>,
    },
    /// AMF0 XML document (0x0F), AMF3 XMLDocument (0x07) and XML (0x0B).
    Xml(AmfStr),
    /// AMF3 ByteArray: the bytes stay in the message; this is their range.
    ByteArray(Span),
    /// AMF3 Vector.
    Vector {
        kind: VectorKind,
        fixed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        class: Option<AmfStr>,
        items: Vec<Value>,
    },
    /// AMF3 Dictionary.
    Dictionary {
        weak_keys: bool,
        entries: Vec<(Value, Value)>,
    },
    /// AMF3 externalizable object of a class we cannot decode: its bytes are
    /// opaque and the rest of the body cannot be decoded reliably.
    Externalizable {
        class: AmfStr,
        opaque: Span,
    },
    /// AMF0 reference (0x07) or AMF3 object reference, with the index on the
    /// wire. `resolved` holds a copy of the referenced value unless that would
    /// recurse into itself (a cycle), in which case it is `None`.
    Reference {
        index: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        resolved: Option<Box<Value>>,
    },
    /// AMF0 movieclip (0x04, reserved), unsupported (0x0D), recordset (0x0E,
    /// reserved): no payload.
    MovieClip,
    Unsupported,
    RecordSet,
    /// A value that could not be decoded (truncated or unknown marker); a
    /// diagnostic says why.
    Invalid {
        marker: u8,
    },
}

/// One decoded value with the body bytes it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Value {
    pub span: Span,
    /// True when this value was encoded in AMF3 (directly or after an AMF0
    /// 0x11 switch marker).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub amf3: bool,
    #[serde(flatten)]
    pub kind: ValueKind,
}

impl Value {
    pub fn new(span: Span, kind: ValueKind) -> Self {
        Value {
            span,
            amf3: false,
            kind,
        }
    }
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&AmfStr> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }
    /// The number (AMF0 number, AMF3 double or integer).
    pub fn as_f64(&self) -> Option<f64> {
        match &self.kind {
            ValueKind::Number(n) => Some(*n),
            ValueKind::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
    /// Properties of an object or associative array, in wire order.
    pub fn properties(&self) -> Option<&[Property]> {
        match &self.kind {
            ValueKind::Object { properties, .. } | ValueKind::EcmaArray { properties, .. } => {
                Some(properties)
            }
            ValueKind::Array { associative, .. } => Some(associative),
            ValueKind::Reference {
                resolved: Some(v), ..
            } => v.properties(),
            _ => None,
        }
    }
    /// First property named `key` of an object-like value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties()?
            .iter()
            .find(|p| p.key.as_text() == Some(key))
            .map(|p| &p.value)
    }
}
