//! AMF values as JSON: the one mapping every output uses (the `rtmp` lines
//! of `json`, the `session` record's `metadata`, `diff`, the TUI export).
//!
//! Contract: pure functions of the value; never panic; nesting deeper than
//! the decoders allow ([`crate::amf::MAX_DEPTH`]) maps to `{"invalid": ...}`.
//!
//! Values map without loss; plain JSON where JSON can say it, otherwise a
//! *tagged form*: an object with exactly ONE key from the tag set below.
//!
//! | AMF | JSON |
//! |---|---|
//! | number (finite) | number (integral values without a fraction) |
//! | number NaN / +inf / -inf / -0 | `{"number":"NaN"}`, `{"number":"Infinity"}`, `{"number":"-Infinity"}`, `{"number":"-0"}` |
//! | AMF3 integer | `{"integer": n}` |
//! | boolean, null | `true`/`false`, `null` |
//! | undefined | `{"undefined": null}` |
//! | string (UTF-8) | string |
//! | string (not UTF-8) | `{"bytes": "<base64>"}` (ripgrep convention) |
//! | object / ECMA array with unique UTF-8 keys, no class name, and not a single tag-named key | JSON object in wire order |
//! | any other object (typed, repeated or non-UTF-8 keys) | `{"object": {"class"?: s, "properties": [[key, value], ...]}}` |
//! | ECMA array that cannot be a plain object | `{"ecma_array": {"count": n, "properties": [[key, value], ...]}}` |
//! | strict array, AMF3 dense-only array | JSON array |
//! | AMF3 array with associative part | `{"array": {"associative": [[k, v]...], "dense": [...]}}` |
//! | date | `{"date": {"ms": n, "timezone"?: n}}` |
//! | XML | `{"xml": s}` |
//! | AMF3 ByteArray | `{"bytearray": {"length": n}}` (bytes stay in the capture) |
//! | reference | `{"reference": {"index": n, "value"?: v}}` (`value` absent for a cycle) |
//! | AMF3 vector | `{"vector": {"kind", "fixed", "class"?, "items"}}` |
//! | AMF3 dictionary | `{"dictionary": {"weak_keys", "entries": [[k, v], ...]}}` |
//! | AMF3 externalizable | `{"externalizable": {"class": s, "length": n}}` |
//! | movieclip / unsupported / recordset | `{"movieclip": null}`, `{"unsupported": null}`, `{"recordset": null}` |
//! | undecodable | `{"invalid": {"marker": n}}` |
//!
//! Keys in the pair lists are strings or `{"bytes": ...}`. The plain-object form
//! does not keep the AMF0 marker difference between an anonymous object and an
//! ECMA array (nor the ECMA count hint).
//!

use serde_json::{json, Map, Value as J};

use super::{AmfStr, Property, Value, ValueKind};

/// Single-key object keys that mark a tagged AMF value.
pub const AMF_TAGS: &[&str] = &[
    "number",
    "integer",
    "undefined",
    "bytes",
    "object",
    "ecma_array",
    "array",
    "date",
    "xml",
    "bytearray",
    "reference",
    "vector",
    "dictionary",
    "externalizable",
    "movieclip",
    "unsupported",
    "recordset",
    "invalid",
];

/// Maps an f64 to JSON: integral values without a fraction, NaN/inf/-0 tagged.
pub fn number_to_json(n: f64) -> J {
    if n.is_nan() {
        json!({"number": "NaN"})
    } else if n.is_infinite() {
        json!({"number": if n > 0.0 { "Infinity" } else { "-Infinity" }})
    } else if n == 0.0 && n.is_sign_negative() {
        json!({"number": "-0"})
    } else if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        J::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(J::Null, J::Number)
    }
}

/// A wire string: JSON string, or `{"bytes": base64}` when not UTF-8.
pub fn amfstr_to_json(s: &AmfStr) -> J {
    use base64::Engine;
    match s {
        AmfStr::Text(t) => J::String(t.clone()),
        AmfStr::Bytes(b) => {
            json!({"bytes": base64::engine::general_purpose::STANDARD.encode(b)})
        }
    }
}

fn pairs(props: &[Property], depth: usize) -> J {
    J::Array(
        props
            .iter()
            .map(|p| J::Array(vec![amfstr_to_json(&p.key), amf_depth(&p.value, depth + 1)]))
            .collect(),
    )
}

/// Plain-object form when possible: unique UTF-8 keys, not one tag-named key.
fn plain_object(props: &[Property], depth: usize) -> Option<J> {
    let mut m = Map::new();
    for p in props {
        let k = p.key.as_text()?;
        if m.contains_key(k) {
            return None;
        }
        m.insert(k.to_owned(), amf_depth(&p.value, depth + 1));
    }
    if m.len() == 1 && m.keys().all(|k| AMF_TAGS.contains(&k.as_str())) {
        return None;
    }
    Some(J::Object(m))
}

/// Maps an AMF value to JSON (see the module doc for the tagged forms).
pub fn amf_to_json(v: &Value) -> J {
    amf_depth(v, 0)
}

fn amf_depth(v: &Value, depth: usize) -> J {
    // Decoders bound depth at MAX_DEPTH; this guards hand-built trees.
    if depth > super::MAX_DEPTH * 4 {
        return json!({"invalid": {"marker": 255}});
    }
    match &v.kind {
        ValueKind::Number(n) => number_to_json(*n),
        ValueKind::Integer(i) => json!({ "integer": i }),
        ValueKind::Boolean(b) => J::Bool(*b),
        ValueKind::String(s) => amfstr_to_json(s),
        ValueKind::Null => J::Null,
        ValueKind::Undefined => json!({ "undefined": null }),
        ValueKind::Object { class, properties } => {
            if class.is_none() {
                if let Some(o) = plain_object(properties, depth) {
                    return o;
                }
            }
            let mut inner = Map::new();
            if let Some(c) = class {
                inner.insert("class".into(), amfstr_to_json(c));
            }
            inner.insert("properties".into(), pairs(properties, depth));
            json!({ "object": inner })
        }
        ValueKind::EcmaArray { count, properties } => match plain_object(properties, depth) {
            Some(o) => o,
            None => json!({"ecma_array": {"count": count, "properties": pairs(properties, depth)}}),
        },
        ValueKind::StrictArray(items) => {
            J::Array(items.iter().map(|i| amf_depth(i, depth + 1)).collect())
        }
        ValueKind::Array { associative, dense } => {
            let d: Vec<J> = dense.iter().map(|i| amf_depth(i, depth + 1)).collect();
            if associative.is_empty() {
                J::Array(d)
            } else {
                json!({"array": {"associative": pairs(associative, depth), "dense": d}})
            }
        }
        ValueKind::Date { ms, timezone } => {
            let mut inner = Map::new();
            inner.insert("ms".into(), number_to_json(*ms));
            if let Some(tz) = timezone {
                inner.insert("timezone".into(), J::from(*tz));
            }
            json!({ "date": inner })
        }
        ValueKind::Xml(s) => json!({ "xml": amfstr_to_json(s) }),
        ValueKind::ByteArray(span) => json!({"bytearray": {"length": span.len()}}),
        ValueKind::Vector {
            kind,
            fixed,
            class,
            items,
        } => {
            let mut inner = Map::new();
            inner.insert("kind".into(), serde_json::to_value(kind).unwrap_or(J::Null));
            inner.insert("fixed".into(), J::Bool(*fixed));
            if let Some(c) = class {
                inner.insert("class".into(), amfstr_to_json(c));
            }
            inner.insert(
                "items".into(),
                J::Array(items.iter().map(|i| amf_depth(i, depth + 1)).collect()),
            );
            json!({ "vector": inner })
        }
        ValueKind::Dictionary { weak_keys, entries } => {
            let e: Vec<J> = entries
                .iter()
                .map(|(k, val)| J::Array(vec![amf_depth(k, depth + 1), amf_depth(val, depth + 1)]))
                .collect();
            json!({"dictionary": {"weak_keys": weak_keys, "entries": e}})
        }
        ValueKind::Externalizable { class, opaque } => {
            json!({"externalizable": {"class": amfstr_to_json(class), "length": opaque.len()}})
        }
        ValueKind::Reference { index, resolved } => {
            let mut inner = Map::new();
            inner.insert("index".into(), J::from(*index));
            if let Some(r) = resolved {
                inner.insert("value".into(), amf_depth(r, depth + 1));
            }
            json!({ "reference": inner })
        }
        ValueKind::MovieClip => json!({ "movieclip": null }),
        ValueKind::Unsupported => json!({ "unsupported": null }),
        ValueKind::RecordSet => json!({ "recordset": null }),
        ValueKind::Invalid { marker } => json!({"invalid": {"marker": marker}}),
    }
}

/// Serializes an optional AMF value as its JSON form ([`amf_to_json`]), for
/// `#[serde(serialize_with)]` on model fields that keep the AMF value.
pub fn serialize_opt<S: serde::Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match v {
        Some(v) => amf_to_json(v).serialize(s),
        None => s.serialize_none(),
    }
}

/// The property `key` of `v` read the way a JSON consumer reads
/// [`amf_to_json`]'s output: only when `v` maps to a plain JSON object
/// (anonymous object or ECMA array with unique UTF-8 keys, not one
/// tag-named key); `None` for every tagged form.
pub fn json_object_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    if !is_plain_object(v) {
        return None;
    }
    v.properties()?
        .iter()
        .find(|p| p.key.as_text() == Some(key))
        .map(|p| &p.value)
}

/// `v` maps to a plain JSON object ([`amf_to_json`]): an anonymous object or
/// ECMA array with unique UTF-8 keys, not one tag-named key.
pub fn is_plain_object(v: &Value) -> bool {
    let props = match &v.kind {
        ValueKind::Object {
            class: None,
            properties,
        }
        | ValueKind::EcmaArray { properties, .. } => properties,
        _ => return false,
    };
    let mut keys = std::collections::BTreeSet::new();
    for p in props {
        match p.key.as_text() {
            Some(k) if keys.insert(k) => {}
            _ => return false,
        }
    }
    !(keys.len() == 1 && keys.iter().all(|k| AMF_TAGS.contains(k)))
}

/// The number `v` maps to when [`amf_to_json`] writes it as a plain JSON
/// number (finite, not -0; an AMF3 integer is tagged).
pub fn json_number(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Number(n) if n.is_finite() && !(n == 0.0 && n.is_sign_negative()) => Some(n),
        _ => None,
    }
}
