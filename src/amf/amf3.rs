//! AMF3 decoder (message types 15, 16, 17 and the AMF0 0x11 switch).
//!
//! Contract (see also `amf`): decodes every AMF3 marker 0x00-0x11 from a byte
//! slice whose first byte is at body offset `base`; spans and anomaly ranges
//! are body-relative and every value has `amf3 = true`. Reference tables
//! (strings, objects, traits) live in a [`Context`] whose scope is one message
//! body (W9): string references resolve to the string, object references
//! (objects, arrays, dates, XML, ByteArrays, vectors, dictionaries) to
//! [`ValueKind::Reference`] with a copy of the complete value, or `None` for a
//! cycle. The empty string is never added to the string table.
//!
//! Never panics; every count and length is checked against the remaining bytes
//! before anything is sized from it; nesting is bounded by
//! [`MAX_DEPTH`](super::MAX_DEPTH), values by
//! [`MAX_ELEMENTS`](super::MAX_ELEMENTS), reference copies by
//! [`MAX_COPY_COST`](super::MAX_COPY_COST).
//!
//! Externalizable objects carry no length: the known Flex wrappers
//! (`flex.messaging.io.ArrayCollection`, `flex.messaging.io.ObjectProxy`) are
//! decoded (one wrapped value, shown as property `source` / `object`); any
//! other class becomes [`ValueKind::Externalizable`] whose opaque span runs to
//! the end of the input, with `amf.amf3.externalizable_unknown`.

use super::state::{resolve, store_slot, Slot, State};
use super::{AmfStr, Property, Value, ValueKind, VectorKind};
use crate::vocab::anomalies;
use crate::vocab::Anomaly;
use std::sync::Arc;

pub const UNDEFINED: u8 = 0x00;
pub const NULL: u8 = 0x01;
pub const FALSE: u8 = 0x02;
pub const TRUE: u8 = 0x03;
pub const INTEGER: u8 = 0x04;
pub const DOUBLE: u8 = 0x05;
pub const STRING: u8 = 0x06;
pub const XML_DOC: u8 = 0x07;
pub const DATE: u8 = 0x08;
pub const ARRAY: u8 = 0x09;
pub const OBJECT: u8 = 0x0A;
pub const XML: u8 = 0x0B;
pub const BYTE_ARRAY: u8 = 0x0C;
pub const VECTOR_INT: u8 = 0x0D;
pub const VECTOR_UINT: u8 = 0x0E;
pub const VECTOR_DOUBLE: u8 = 0x0F;
pub const VECTOR_OBJECT: u8 = 0x10;
pub const DICTIONARY: u8 = 0x11;

/// Externalizable classes whose payload is one AMF3 value, with the property
/// name the wrapped value is shown under.
pub const KNOWN_EXTERNALIZABLE: &[(&str, &str)] = &[
    ("flex.messaging.io.ArrayCollection", "source"),
    ("flex.messaging.io.ObjectProxy", "object"),
];

/// Traits of an AMF3 object class.
#[derive(Clone, Debug)]
struct Traits {
    class: AmfStr,
    sealed: Vec<AmfStr>,
    dynamic: bool,
    externalizable: bool,
}

/// Reference tables of one AMF3 decoding scope (one message body).
#[derive(Debug, Default)]
pub struct Context {
    strings: Vec<AmfStr>,
    objects: Vec<Slot>,
    traits: Vec<Arc<Traits>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }
    /// Entries in the string, object and trait tables.
    pub fn table_sizes(&self) -> (usize, usize, usize) {
        (self.strings.len(), self.objects.len(), self.traits.len())
    }
}

/// Decodes consecutive AMF3 values from `bytes` until exhausted.
/// `base` is the body offset of `bytes[0]` (spans are body-relative).
pub fn decode_all(bytes: &[u8], base: usize) -> (Vec<Value>, Vec<Anomaly>) {
    let mut d = Decoder::new(bytes, base);
    let mut values = Vec::new();
    while let Some(v) = d.next_value() {
        values.push(v);
    }
    (values, d.finish())
}

/// Incremental AMF3 decoder over one body (or a part of it), keeping one
/// [`Context`] across values.
pub struct Decoder<'a> {
    st: State<'a>,
    ctx: Context,
}

impl<'a> Decoder<'a> {
    /// A decoder over `bytes`, whose first byte is at body offset `base`.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Decoder {
            st: State::new(bytes, base),
            ctx: Context::default(),
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
    /// The reference tables so far.
    pub fn context(&self) -> &Context {
        &self.ctx
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
        Some(decode_value(&mut self.st, &mut self.ctx, 0))
    }
    /// Ends decoding and returns the diagnostics.
    pub fn finish(self) -> Vec<Anomaly> {
        self.st.into_anomalies()
    }
}

fn val(st: &State<'_>, start: usize, kind: ValueKind) -> Value {
    Value {
        span: st.span(start, st.pos),
        amf3: true,
        kind,
    }
}

fn invalid(st: &State<'_>, marker: u8, start: usize) -> Value {
    val(st, start, ValueKind::Invalid { marker })
}

/// Reads a U29 (1-4 bytes); `None` (nothing consumed) when truncated.
fn u29(st: &mut State<'_>) -> Option<u32> {
    let start = st.pos;
    let mut v: u32 = 0;
    for i in 0..4 {
        let Some(b) = st.u8() else {
            st.pos = start;
            return None;
        };
        if i == 3 {
            return Some((v << 8) | b as u32);
        }
        v = (v << 7) | (b & 0x7f) as u32;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    Some(v)
}

/// Sign-extends a 29-bit integer.
fn i29(u: u32) -> i32 {
    ((u << 3) as i32) >> 3
}

enum Str {
    Ok(AmfStr),
    /// A bad string reference or one over the copy budget (reported); the
    /// framing is intact.
    Unresolved,
    /// Truncated (reported, fatal).
    Truncated,
}

/// Reads a UTF-8-vr (string reference or inline string).
fn read_str(st: &mut State<'_>, ctx: &mut Context, what: &str) -> Str {
    let start = st.pos;
    let Some(u) = u29(st) else {
        st.truncated(start, what);
        return Str::Truncated;
    };
    if u & 1 == 0 {
        let index = (u >> 1) as usize;
        let end = st.pos;
        let Some(s) = ctx.strings.get(index) else {
            st.anomaly(
                anomalies::AMF_BAD_REFERENCE,
                start,
                end,
                format!(
                    "AMF3 string reference #{index} but only {} strings seen",
                    ctx.strings.len()
                ),
            );
            return Str::Unresolved;
        };
        let len = match s {
            AmfStr::Text(t) => t.len(),
            AmfStr::Bytes(b) => b.len(),
        };
        if !st.charge_str(len, start, end) {
            return Str::Unresolved;
        }
        return Str::Ok(s.clone());
    }
    let len = (u >> 1) as usize;
    let text_start = st.pos;
    let Some(raw) = st.take(len) else {
        st.truncated(start, what);
        return Str::Truncated;
    };
    let end = st.pos;
    let s = st.string(raw, text_start, end);
    if len > 0 {
        ctx.strings.push(s.clone());
    }
    Str::Ok(s)
}

/// A name (key, class, member): unresolvable names become empty text.
fn read_name(st: &mut State<'_>, ctx: &mut Context, what: &str) -> Option<AmfStr> {
    match read_str(st, ctx, what) {
        Str::Ok(s) => Some(s),
        Str::Unresolved => Some(AmfStr::Text(String::new())),
        Str::Truncated => None,
    }
}

fn is_empty(s: &AmfStr) -> bool {
    match s {
        AmfStr::Text(t) => t.is_empty(),
        AmfStr::Bytes(b) => b.is_empty(),
    }
}

/// Decodes one AMF3 value at the state's position (shared with the AMF0
/// decoder for marker 0x11). `depth` is the nesting depth of the value.
pub(crate) fn decode_value(st: &mut State<'_>, ctx: &mut Context, depth: usize) -> Value {
    let start = st.pos;
    let Some(marker) = st.u8() else {
        st.truncated(start, "AMF3 value");
        return invalid(st, 0, start);
    };
    if !st.count_element(start) {
        return invalid(st, marker, start);
    }
    match marker {
        UNDEFINED => val(st, start, ValueKind::Undefined),
        NULL => val(st, start, ValueKind::Null),
        FALSE => val(st, start, ValueKind::Boolean(false)),
        TRUE => val(st, start, ValueKind::Boolean(true)),
        INTEGER => match u29(st) {
            Some(u) => val(st, start, ValueKind::Integer(i29(u))),
            None => {
                st.truncated(start, "AMF3 integer");
                invalid(st, marker, start)
            }
        },
        DOUBLE => match st.f64() {
            Some(n) => val(st, start, ValueKind::Number(n)),
            None => {
                st.truncated(start, "AMF3 double");
                invalid(st, marker, start)
            }
        },
        STRING => match read_str(st, ctx, "AMF3 string") {
            Str::Ok(s) => val(st, start, ValueKind::String(s)),
            Str::Unresolved | Str::Truncated => invalid(st, marker, start),
        },
        XML_DOC | XML | DATE | BYTE_ARRAY => simple_object(st, ctx, marker, start, depth),
        ARRAY => array(st, ctx, start, depth),
        OBJECT => object(st, ctx, start, depth),
        VECTOR_INT | VECTOR_UINT | VECTOR_DOUBLE | VECTOR_OBJECT => {
            vector(st, ctx, marker, start, depth)
        }
        DICTIONARY => dictionary(st, ctx, start, depth),
        _ => {
            let end = st.bytes.len();
            st.fatal_anomaly(
                anomalies::AMF_UNKNOWN_MARKER,
                start,
                end,
                format!("unknown AMF3 marker 0x{marker:02x}; rest of the body not decoded"),
            );
            invalid(st, marker, start)
        }
    }
}

/// Reads the U29 header of an object-table type. `Err(value)` when it was a
/// reference (resolved) or truncated; `Ok(u >> 1)` otherwise.
fn header(
    st: &mut State<'_>,
    ctx: &Context,
    marker: u8,
    start: usize,
    depth: usize,
    what: &str,
) -> Result<u32, Value> {
    let Some(u) = u29(st) else {
        st.truncated(start, what);
        return Err(invalid(st, marker, start));
    };
    if u & 1 == 0 {
        let index = u >> 1;
        let end = st.pos;
        let resolved = resolve(st, &ctx.objects, index, depth, start, end);
        return Err(val(st, start, ValueKind::Reference { index, resolved }));
    }
    Ok(u >> 1)
}

/// Date, XML, XMLDocument and ByteArray: object-table entries without
/// children.
fn simple_object(
    st: &mut State<'_>,
    ctx: &mut Context,
    marker: u8,
    start: usize,
    depth: usize,
) -> Value {
    let what = match marker {
        DATE => "AMF3 date",
        BYTE_ARRAY => "AMF3 ByteArray",
        _ => "AMF3 XML",
    };
    let n = match header(st, ctx, marker, start, depth, what) {
        Ok(n) => n,
        Err(v) => return v,
    };
    let kind = if marker == DATE {
        match st.f64() {
            Some(ms) => ValueKind::Date { ms, timezone: None },
            None => {
                st.truncated(start, what);
                return invalid(st, marker, start);
            }
        }
    } else {
        let data_start = st.pos;
        let Some(raw) = st.take(n as usize) else {
            st.truncated(start, what);
            return invalid(st, marker, start);
        };
        let data_end = st.pos;
        if marker == BYTE_ARRAY {
            ValueKind::ByteArray(st.span(data_start, data_end))
        } else {
            ValueKind::Xml(st.string(raw, data_start, data_end))
        }
    };
    let v = val(st, start, kind);
    let idx = ctx.objects.len();
    ctx.objects.push(Slot::InProgress);
    store_slot(st, &mut ctx.objects, idx, &v);
    v
}

fn array(st: &mut State<'_>, ctx: &mut Context, start: usize, depth: usize) -> Value {
    let n = match header(st, ctx, ARRAY, start, depth, "AMF3 array") {
        Ok(n) => n,
        Err(v) => return v,
    };
    if !st.enter(depth, start) {
        return invalid(st, ARRAY, start);
    }
    let idx = ctx.objects.len();
    ctx.objects.push(Slot::InProgress);
    let associative = dynamic_members(st, ctx, depth, "AMF3 array key");
    // Every element takes at least one byte: never reserve more.
    let mut dense = Vec::with_capacity((n as usize).min(st.remaining()));
    for i in 0..n {
        if st.fatal {
            break;
        }
        if st.at_end() {
            let p = st.pos;
            st.truncated(p, &format!("AMF3 array element {i} of {n}"));
            break;
        }
        dense.push(decode_value(st, ctx, depth + 1));
    }
    let v = val(st, start, ValueKind::Array { associative, dense });
    store_slot(st, &mut ctx.objects, idx, &v);
    v
}

/// Key/value pairs until the empty key.
fn dynamic_members(
    st: &mut State<'_>,
    ctx: &mut Context,
    depth: usize,
    what: &str,
) -> Vec<Property> {
    let mut props = Vec::new();
    loop {
        if st.fatal {
            break;
        }
        let Some(key) = read_name(st, ctx, what) else {
            break;
        };
        if is_empty(&key) {
            break;
        }
        if st.at_end() {
            let p = st.pos;
            st.truncated(p, "AMF3 member value");
            break;
        }
        let value = decode_value(st, ctx, depth + 1);
        props.push(Property { key, value });
    }
    props
}

fn object(st: &mut State<'_>, ctx: &mut Context, start: usize, depth: usize) -> Value {
    let u = match header(st, ctx, OBJECT, start, depth, "AMF3 object") {
        Ok(n) => n,
        Err(v) => return v,
    };
    // `u` is the U29 shifted right by one: bit 0 is now "traits inline".
    let traits = if u & 1 == 0 {
        let index = (u >> 1) as usize;
        match ctx.traits.get(index) {
            Some(t) => Arc::clone(t),
            None => {
                let end = st.bytes.len();
                st.fatal_anomaly(
                    anomalies::AMF_BAD_REFERENCE,
                    start,
                    end,
                    format!(
                        "AMF3 traits reference #{index} but only {} traits seen; rest not decoded",
                        ctx.traits.len()
                    ),
                );
                return invalid(st, OBJECT, start);
            }
        }
    } else {
        let externalizable = u & 2 != 0;
        let dynamic = u & 4 != 0;
        let count = (u >> 3) as usize;
        let Some(class) = read_name(st, ctx, "AMF3 class name") else {
            return invalid(st, OBJECT, start);
        };
        if count > st.remaining() {
            st.truncated(start, &format!("AMF3 traits with {count} sealed members"));
            return invalid(st, OBJECT, start);
        }
        let mut sealed = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(name) = read_name(st, ctx, "AMF3 sealed member name") else {
                return invalid(st, OBJECT, start);
            };
            sealed.push(name);
        }
        let t = Arc::new(Traits {
            class,
            sealed,
            dynamic,
            externalizable,
        });
        ctx.traits.push(Arc::clone(&t));
        t
    };
    if !st.enter(depth, start) {
        return invalid(st, OBJECT, start);
    }
    let idx = ctx.objects.len();
    ctx.objects.push(Slot::InProgress);
    // Copying the class name of a referenced trait is charged like any copy.
    let class_opt =
        if is_empty(&traits.class) || !st.charge_str(name_len(&traits.class), start, start) {
            None
        } else {
            Some(traits.class.clone())
        };
    let kind = if traits.externalizable {
        let known = KNOWN_EXTERNALIZABLE
            .iter()
            .find(|(c, _)| traits.class.as_text() == Some(c));
        match known {
            Some((_, prop)) => {
                let mut properties = Vec::new();
                if st.at_end() {
                    let p = st.pos;
                    st.truncated(p, "externalized value");
                } else {
                    let value = decode_value(st, ctx, depth + 1);
                    properties.push(Property {
                        key: AmfStr::from(*prop),
                        value,
                    });
                }
                ValueKind::Object {
                    class: class_opt,
                    properties,
                }
            }
            None => {
                let p = st.pos;
                let end = st.bytes.len();
                // Nothing after it can be framed: stop (the opaque span
                // takes the rest of the input).
                st.fatal_anomaly(
                    anomalies::AMF_AMF3_EXTERNALIZABLE_UNKNOWN,
                    p,
                    end,
                    format!(
                        "externalizable class {:?} has no length on the wire; rest of the body kept opaque",
                        traits.class.to_lossy()
                    ),
                );
                st.pos = end;
                ValueKind::Externalizable {
                    class: traits.class.clone(),
                    opaque: st.span(p, end),
                }
            }
        }
    } else {
        let mut properties = Vec::with_capacity(traits.sealed.len().min(st.remaining()));
        for (i, name) in traits.sealed.iter().enumerate() {
            if st.fatal {
                break;
            }
            if st.at_end() {
                let p = st.pos;
                st.truncated(
                    p,
                    &format!("AMF3 sealed member {i} of {}", traits.sealed.len()),
                );
                break;
            }
            let p = st.pos;
            let key = if st.charge_str(name_len(name), p, p) {
                name.clone()
            } else {
                AmfStr::Text(String::new())
            };
            let value = decode_value(st, ctx, depth + 1);
            properties.push(Property { key, value });
        }
        if traits.dynamic && !st.fatal {
            properties.extend(dynamic_members(st, ctx, depth, "AMF3 dynamic member name"));
        }
        ValueKind::Object {
            class: class_opt,
            properties,
        }
    };
    let v = val(st, start, kind);
    store_slot(st, &mut ctx.objects, idx, &v);
    v
}

fn name_len(s: &AmfStr) -> usize {
    match s {
        AmfStr::Text(t) => t.len(),
        AmfStr::Bytes(b) => b.len(),
    }
}

fn vector(st: &mut State<'_>, ctx: &mut Context, marker: u8, start: usize, depth: usize) -> Value {
    let n = match header(st, ctx, marker, start, depth, "AMF3 vector") {
        Ok(n) => n,
        Err(v) => return v,
    };
    let Some(fixed) = st.u8() else {
        st.truncated(start, "AMF3 vector fixed flag");
        return invalid(st, marker, start);
    };
    let kind = match marker {
        VECTOR_INT => VectorKind::Int,
        VECTOR_UINT => VectorKind::Uint,
        VECTOR_DOUBLE => VectorKind::Double,
        _ => VectorKind::Object,
    };
    let class = if kind == VectorKind::Object {
        match read_name(st, ctx, "AMF3 vector object type name") {
            Some(c) => Some(c),
            None => return invalid(st, marker, start),
        }
    } else {
        None
    };
    if !st.enter(depth, start) {
        return invalid(st, marker, start);
    }
    let idx = ctx.objects.len();
    ctx.objects.push(Slot::InProgress);
    let item_size = match kind {
        VectorKind::Int | VectorKind::Uint => 4,
        VectorKind::Double => 8,
        VectorKind::Object => 1,
    };
    let fit = st.remaining() / item_size;
    let mut items = Vec::with_capacity((n as usize).min(fit));
    for i in 0..n {
        if st.fatal {
            break;
        }
        let p = st.pos;
        if kind == VectorKind::Object {
            if st.at_end() {
                st.truncated(p, &format!("AMF3 vector element {i} of {n}"));
                break;
            }
            items.push(decode_value(st, ctx, depth + 1));
            continue;
        }
        if st.remaining() < item_size {
            st.truncated(p, &format!("AMF3 vector element {i} of {n}"));
            break;
        }
        if !st.count_element(p) {
            break;
        }
        let k = match kind {
            VectorKind::Int => st.u32().map(|x| ValueKind::Integer(x as i32)),
            VectorKind::Uint => st.u32().map(|x| ValueKind::Number(x as f64)),
            _ => st.f64().map(ValueKind::Number),
        };
        match k {
            Some(k) => items.push(val(st, p, k)),
            None => {
                st.truncated(p, "AMF3 vector element");
                break;
            }
        }
    }
    let v = val(
        st,
        start,
        ValueKind::Vector {
            kind,
            fixed: fixed != 0,
            class,
            items,
        },
    );
    store_slot(st, &mut ctx.objects, idx, &v);
    v
}

fn dictionary(st: &mut State<'_>, ctx: &mut Context, start: usize, depth: usize) -> Value {
    let n = match header(st, ctx, DICTIONARY, start, depth, "AMF3 dictionary") {
        Ok(n) => n,
        Err(v) => return v,
    };
    let Some(weak) = st.u8() else {
        st.truncated(start, "AMF3 dictionary weak-keys flag");
        return invalid(st, DICTIONARY, start);
    };
    if !st.enter(depth, start) {
        return invalid(st, DICTIONARY, start);
    }
    let idx = ctx.objects.len();
    ctx.objects.push(Slot::InProgress);
    // Every entry takes at least two bytes.
    let mut entries = Vec::with_capacity((n as usize).min(st.remaining() / 2));
    for i in 0..n {
        if st.fatal {
            break;
        }
        if st.at_end() {
            let p = st.pos;
            st.truncated(p, &format!("AMF3 dictionary entry {i} of {n}"));
            break;
        }
        let key = decode_value(st, ctx, depth + 1);
        if st.fatal {
            break;
        }
        if st.at_end() {
            let p = st.pos;
            st.truncated(p, &format!("AMF3 dictionary value {i} of {n}"));
            break;
        }
        let value = decode_value(st, ctx, depth + 1);
        entries.push((key, value));
    }
    let v = val(
        st,
        start,
        ValueKind::Dictionary {
            weak_keys: weak != 0,
            entries,
        },
    );
    store_slot(st, &mut ctx.objects, idx, &v);
    v
}
