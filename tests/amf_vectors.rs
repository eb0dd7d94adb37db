//! AMF0 / AMF3 decoder tests: byte vectors written from the AMF0 and AMF3
//! specifications (every marker of both), malformed inputs, limits, and
//! property tests (random bytes never panic; encode -> decode round trip).

use proptest::prelude::*;
use rtmpscope::amf::{amf0, amf3, AmfStr, Property, Span, Value, ValueKind, VectorKind, MAX_DEPTH};
use rtmpscope::event::{Anomaly, Severity};

// ---------------------------------------------------------------- helpers

fn names(a: &[Anomaly]) -> Vec<&'static str> {
    a.iter().map(|a| a.name).collect()
}

fn has(a: &[Anomaly], name: &str) -> bool {
    a.iter().any(|x| x.name == name)
}

fn text(s: &str) -> AmfStr {
    AmfStr::Text(s.to_owned())
}

/// AMF0 encoders (test only).
mod e0 {
    pub fn num(n: f64) -> Vec<u8> {
        let mut v = vec![0x00];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
    pub fn boolean(b: bool) -> Vec<u8> {
        vec![0x01, b as u8]
    }
    pub fn utf8(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }
    pub fn string(s: &str) -> Vec<u8> {
        let mut v = vec![0x02];
        v.extend(utf8(s.as_bytes()));
        v
    }
    pub fn end() -> Vec<u8> {
        vec![0x00, 0x00, 0x09]
    }
    /// Object from (key, encoded value) pairs.
    pub fn object(props: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x03];
        for (k, val) in props {
            v.extend(utf8(k.as_bytes()));
            v.extend_from_slice(val);
        }
        v.extend(end());
        v
    }
    pub fn ecma(count: u32, props: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x08];
        v.extend_from_slice(&count.to_be_bytes());
        for (k, val) in props {
            v.extend(utf8(k.as_bytes()));
            v.extend_from_slice(val);
        }
        v.extend(end());
        v
    }
    pub fn strict(items: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0x0A];
        v.extend_from_slice(&(items.len() as u32).to_be_bytes());
        for i in items {
            v.extend_from_slice(i);
        }
        v
    }
}

/// AMF3 encoders (test only).
mod e3 {
    pub fn u29(n: u32) -> Vec<u8> {
        let n = n & 0x1fff_ffff;
        if n < 0x80 {
            vec![n as u8]
        } else if n < 0x4000 {
            vec![(n >> 7) as u8 | 0x80, (n & 0x7f) as u8]
        } else if n < 0x20_0000 {
            vec![
                (n >> 14) as u8 | 0x80,
                ((n >> 7) & 0x7f) as u8 | 0x80,
                (n & 0x7f) as u8,
            ]
        } else {
            vec![
                (n >> 22) as u8 | 0x80,
                ((n >> 15) & 0x7f) as u8 | 0x80,
                ((n >> 8) & 0x7f) as u8 | 0x80,
                n as u8,
            ]
        }
    }
    /// UTF-8-vr inline.
    pub fn vr(s: &str) -> Vec<u8> {
        let mut v = u29(((s.len() as u32) << 1) | 1);
        v.extend_from_slice(s.as_bytes());
        v
    }
    /// UTF-8-vr reference.
    pub fn vr_ref(i: u32) -> Vec<u8> {
        u29(i << 1)
    }
    pub fn string(s: &str) -> Vec<u8> {
        let mut v = vec![0x06];
        v.extend(vr(s));
        v
    }
    pub fn int(i: i32) -> Vec<u8> {
        let mut v = vec![0x04];
        v.extend(u29(i as u32 & 0x1fff_ffff));
        v
    }
    pub fn double(n: f64) -> Vec<u8> {
        let mut v = vec![0x05];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}

fn decode0(b: &[u8]) -> (Vec<Value>, Vec<Anomaly>) {
    amf0::decode_all(b, 0)
}

fn decode3(b: &[u8]) -> (Vec<Value>, Vec<Anomaly>) {
    amf3::decode_all(b, 0)
}

fn one0(b: &[u8]) -> Value {
    let (v, a) = decode0(b);
    assert!(a.is_empty(), "unexpected anomalies {:?}", names(&a));
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap()
}

fn one3(b: &[u8]) -> Value {
    let (v, a) = decode3(b);
    assert!(a.is_empty(), "unexpected anomalies {:?}", names(&a));
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap()
}

// ------------------------------------------------------------ AMF0 markers

#[test]
fn amf0_number_boolean_string() {
    let mut b = e0::num(1.5);
    b.extend(e0::boolean(true));
    b.extend(e0::boolean(false));
    b.extend(e0::string("héllo"));
    let (v, a) = amf0::decode_all(&b, 100);
    assert!(a.is_empty());
    assert_eq!(v.len(), 4);
    assert_eq!(v[0].kind, ValueKind::Number(1.5));
    assert_eq!(v[0].span, Span::new(100, 109));
    assert_eq!(v[1].kind, ValueKind::Boolean(true));
    assert_eq!(v[2].kind, ValueKind::Boolean(false));
    assert_eq!(v[2].span, Span::new(111, 113));
    assert_eq!(v[3].kind, ValueKind::String(text("héllo")));
    assert_eq!(v[3].span, Span::new(113, 113 + 3 + 6));
    assert!(!v[3].amf3);
}

#[test]
fn amf0_nan_and_infinity() {
    let mut b = e0::num(f64::NAN);
    b.extend(e0::num(f64::INFINITY));
    b.extend(e0::num(f64::NEG_INFINITY));
    b.extend(e0::num(-0.0));
    let (v, a) = decode0(&b);
    assert!(a.is_empty());
    assert!(v[0].as_f64().unwrap().is_nan());
    assert_eq!(v[1].as_f64(), Some(f64::INFINITY));
    assert_eq!(v[2].as_f64(), Some(f64::NEG_INFINITY));
    assert!(v[3].as_f64().unwrap().is_sign_negative());
}

#[test]
fn amf0_connect_command() {
    // "connect", 1.0, {app, flashVer, tcUrl, fpad, capabilities, audioCodecs,
    // videoCodecs, videoFunction, objectEncoding}
    let mut b = e0::string("connect");
    b.extend(e0::num(1.0));
    b.extend(e0::object(&[
        ("app", e0::string("live")),
        ("type", e0::string("nonprivate")),
        ("flashVer", e0::string("FMLE/3.0 (compatible; FMSc/1.0)")),
        ("swfUrl", e0::string("rtmp://example.com/live")),
        ("tcUrl", e0::string("rtmp://example.com/live")),
        ("fpad", e0::boolean(false)),
        ("capabilities", e0::num(239.0)),
        ("audioCodecs", e0::num(3575.0)),
        ("videoCodecs", e0::num(252.0)),
        ("videoFunction", e0::num(1.0)),
        ("pageUrl", vec![0x06]),
        ("objectEncoding", e0::num(0.0)),
    ]));
    let (v, a) = amf0::decode_all(&b, 0);
    assert!(a.is_empty(), "{:?}", names(&a));
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].as_str(), Some(&text("connect")));
    assert_eq!(v[1].as_f64(), Some(1.0));
    let o = &v[2];
    assert_eq!(o.span, Span::new(10 + 9, b.len()));
    assert_eq!(o.get("app").and_then(|x| x.as_str()), Some(&text("live")));
    assert_eq!(
        o.get("tcUrl").and_then(|x| x.as_str()),
        Some(&text("rtmp://example.com/live"))
    );
    assert_eq!(o.get("capabilities").and_then(|x| x.as_f64()), Some(239.0));
    assert_eq!(
        o.get("fpad").map(|x| &x.kind),
        Some(&ValueKind::Boolean(false))
    );
    assert_eq!(
        o.get("pageUrl").map(|x| &x.kind),
        Some(&ValueKind::Undefined)
    );
    let keys: Vec<String> = o
        .properties()
        .unwrap()
        .iter()
        .map(|p| p.key.to_lossy())
        .collect();
    assert_eq!(keys[0], "app");
    assert_eq!(keys[11], "objectEncoding");
    // Property value span: "app" value starts after marker 0x03 + key.
    let app = o.get("app").unwrap();
    assert_eq!(app.span.start as usize, 19 + 1 + 2 + 3);
}

#[test]
fn amf0_nested_objects_and_repeated_keys() {
    let inner = e0::object(&[("x", e0::num(1.0)), ("x", e0::num(2.0))]);
    let b = e0::object(&[
        ("a", inner.clone()),
        ("a", e0::string("second")),
        ("n", vec![0x05]),
    ]);
    let v = one0(&b);
    let props = v.properties().unwrap();
    assert_eq!(props.len(), 3);
    assert_eq!(props[0].key, text("a"));
    assert_eq!(props[1].key, text("a"));
    let ip = props[0].value.properties().unwrap();
    assert_eq!(ip.len(), 2);
    assert_eq!(ip[0].value.as_f64(), Some(1.0));
    assert_eq!(ip[1].value.as_f64(), Some(2.0));
    // get() returns the first.
    assert!(v.get("a").unwrap().properties().is_some());
    assert_eq!(props[2].value.kind, ValueKind::Null);
}

#[test]
fn amf0_non_utf8_string_kept_as_bytes() {
    let mut b = vec![0x02, 0x00, 0x03, 0xff, 0xfe, 0x41];
    b.extend(e0::object(&[]));
    // Non-UTF-8 key too.
    b.extend_from_slice(&[0x03, 0x00, 0x01, 0xc3, 0x05, 0x00, 0x00, 0x09]);
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 3);
    assert_eq!(
        v[0].kind,
        ValueKind::String(AmfStr::Bytes(vec![0xff, 0xfe, 0x41]))
    );
    assert_eq!(v[2].properties().unwrap()[0].key, AmfStr::Bytes(vec![0xc3]));
    assert_eq!(names(&a), vec!["amf.invalid_utf8", "amf.invalid_utf8"]);
    assert_eq!(a[0].severity, Severity::Info);
    // Range covers the string bytes (body-relative).
    let r = a[0].range.unwrap();
    assert_eq!((r.start, r.end), (3, 6));
}

#[test]
fn amf0_movieclip_null_undefined_unsupported_recordset() {
    let (v, a) = decode0(&[0x04, 0x05, 0x06, 0x0D, 0x0E]);
    let kinds: Vec<_> = v.iter().map(|x| x.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            ValueKind::MovieClip,
            ValueKind::Null,
            ValueKind::Undefined,
            ValueKind::Unsupported,
            ValueKind::RecordSet
        ]
    );
    assert_eq!(
        names(&a),
        vec!["amf.reserved_marker", "amf.reserved_marker"]
    );
}

#[test]
fn amf0_reference_resolves_copy() {
    // [ {a:1}, ref 1 ] : strict array is complex #0, the object #1.
    let obj = e0::object(&[("a", e0::num(1.0))]);
    let b = e0::strict(&[obj.clone(), vec![0x07, 0x00, 0x01]]);
    let v = one0(&b);
    let ValueKind::StrictArray(items) = &v.kind else {
        panic!("{v:?}")
    };
    let ValueKind::Reference { index, resolved } = &items[1].kind else {
        panic!("{:?}", items[1])
    };
    assert_eq!(*index, 1);
    let r = resolved.as_ref().expect("resolved");
    assert_eq!(r.kind, items[0].kind);
    assert_eq!(items[1].get("a").and_then(|x| x.as_f64()), Some(1.0));
}

#[test]
fn amf0_reference_cycle_and_bad_index() {
    // {self: ref 0} refers to itself, still being decoded.
    let b = e0::object(&[
        ("self", vec![0x07, 0x00, 0x00]),
        ("bad", vec![0x07, 0x00, 0x09]),
    ]);
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 1);
    let p = v[0].properties().unwrap();
    assert_eq!(
        p[0].value.kind,
        ValueKind::Reference {
            index: 0,
            resolved: None
        }
    );
    assert_eq!(
        p[1].value.kind,
        ValueKind::Reference {
            index: 9,
            resolved: None
        }
    );
    assert_eq!(names(&a), vec!["amf.reference_cycle", "amf.bad_reference"]);
    // After the object is complete, a later reference resolves.
    let mut b2 = b.clone();
    b2.extend_from_slice(&[0x07, 0x00, 0x00]);
    let (v2, _) = decode0(&b2);
    let ValueKind::Reference { resolved, .. } = &v2[1].kind else {
        panic!()
    };
    let r = resolved.as_ref().unwrap();
    // The copy keeps its inner unresolved self-reference (no infinite copy).
    assert_eq!(r.properties().unwrap().len(), 2);
}

#[test]
fn amf0_ecma_array_count_hint() {
    let b = e0::ecma(
        2,
        &[("duration", e0::num(10.0)), ("width", e0::num(1280.0))],
    );
    let v = one0(&b);
    assert_eq!(v.get("width").and_then(|x| x.as_f64()), Some(1280.0));
    let ValueKind::EcmaArray { count, properties } = &v.kind else {
        panic!()
    };
    assert_eq!((*count, properties.len()), (2, 2));
    // Mismatched hint (0, as some encoders write) is tolerated with an info.
    let b = e0::ecma(0, &[("a", e0::num(1.0))]);
    let (v, a) = decode0(&b);
    assert_eq!(v[0].properties().unwrap().len(), 1);
    assert_eq!(names(&a), vec!["amf.amf0.ecma_count_mismatch"]);
    assert_eq!(a[0].severity, Severity::Info);
}

#[test]
fn amf0_ecma_array_missing_end_at_body_end() {
    let mut b = vec![0x08, 0, 0, 0, 1];
    b.extend(e0::utf8(b"a"));
    b.extend(e0::num(3.0));
    let (v, a) = decode0(&b);
    assert_eq!(v[0].get("a").and_then(|x| x.as_f64()), Some(3.0));
    assert_eq!(names(&a), vec!["amf.amf0.missing_object_end"]);
}

#[test]
fn amf0_stray_object_end() {
    let mut b = vec![0x09];
    b.extend(e0::num(2.0));
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].kind, ValueKind::Invalid { marker: 0x09 });
    assert_eq!(v[1].as_f64(), Some(2.0));
    assert_eq!(names(&a), vec!["amf.stray_object_end"]);
}

#[test]
fn amf0_strict_array() {
    let b = e0::strict(&[e0::num(1.0), e0::string("x"), vec![0x05]]);
    let v = one0(&b);
    let ValueKind::StrictArray(items) = &v.kind else {
        panic!()
    };
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].as_str(), Some(&text("x")));
    assert_eq!(items[2].kind, ValueKind::Null);
}

#[test]
fn amf0_strict_array_huge_count() {
    let b = [0x0A, 0xff, 0xff, 0xff, 0xff, 0x05];
    let (v, a) = decode0(&b);
    let ValueKind::StrictArray(items) = &v[0].kind else {
        panic!()
    };
    assert_eq!(items.len(), 1);
    assert_eq!(names(&a), vec!["amf.truncated"]);
}

#[test]
fn amf0_date() {
    let mut b = vec![0x0B];
    b.extend_from_slice(&1_700_000_000_000f64.to_be_bytes());
    b.extend_from_slice(&(-60i16).to_be_bytes());
    let v = one0(&b);
    assert_eq!(
        v.kind,
        ValueKind::Date {
            ms: 1_700_000_000_000.0,
            timezone: Some(-60)
        }
    );
    assert_eq!(v.span.len(), 11);
}

#[test]
fn amf0_long_string_and_xml() {
    let s = "y".repeat(70_000);
    let mut b = vec![0x0C];
    b.extend_from_slice(&(s.len() as u32).to_be_bytes());
    b.extend_from_slice(s.as_bytes());
    b.push(0x0F);
    b.extend_from_slice(&7u32.to_be_bytes());
    b.extend_from_slice(b"<a>b</a");
    // last byte missing on purpose: 7 bytes claimed, "<a>b</a" is 7 bytes.
    let (v, a) = decode0(&b);
    assert!(a.is_empty());
    assert_eq!(v[0].as_str().unwrap().as_text().unwrap().len(), 70_000);
    assert_eq!(v[1].kind, ValueKind::Xml(text("<a>b</a")));
}

#[test]
fn amf0_typed_object() {
    let mut b = vec![0x10];
    b.extend(e0::utf8(b"com.example.Point"));
    b.extend(e0::utf8(b"x"));
    b.extend(e0::num(3.0));
    b.extend(e0::end());
    let v = one0(&b);
    let ValueKind::Object { class, properties } = &v.kind else {
        panic!()
    };
    assert_eq!(class.as_ref(), Some(&text("com.example.Point")));
    assert_eq!(properties[0].value.as_f64(), Some(3.0));
}

#[test]
fn amf0_switch_to_amf3_is_per_value() {
    // 0x11 + AMF3 string "hi", then plain AMF0 number and string; then 0x11 +
    // AMF3 integer -5 and an AMF3 string reference to "hi" (tables kept per body).
    let mut b = vec![0x11];
    b.extend(e3::string("hi"));
    b.extend(e0::num(7.0));
    b.extend(e0::string("zz"));
    b.push(0x11);
    b.extend(e3::int(-5));
    b.push(0x11);
    b.push(0x06);
    b.extend(e3::vr_ref(0));
    let (v, a) = decode0(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    assert_eq!(v.len(), 5);
    assert!(v[0].amf3);
    assert_eq!(v[0].as_str(), Some(&text("hi")));
    assert_eq!(v[0].span, Span::new(0, 5));
    assert!(!v[1].amf3);
    assert_eq!(v[1].as_f64(), Some(7.0));
    assert!(!v[2].amf3);
    assert_eq!(v[2].as_str(), Some(&text("zz")));
    assert_eq!(v[3].kind, ValueKind::Integer(-5));
    assert!(v[3].amf3);
    assert_eq!(v[4].as_str(), Some(&text("hi")));
}

#[test]
fn amf0_switch_inside_object() {
    let mut inner = vec![0x11, 0x0A, 0x0B, 0x01]; // dynamic anonymous object
    inner.extend(e3::vr("k"));
    inner.extend(e3::int(42));
    inner.push(0x01); // end of dynamic members
    let b = e0::object(&[("o", inner), ("after", e0::num(1.0))]);
    let v = one0(&b);
    let o = v.get("o").unwrap();
    assert!(o.amf3);
    assert_eq!(o.get("k").map(|x| &x.kind), Some(&ValueKind::Integer(42)));
    assert_eq!(v.get("after").and_then(|x| x.as_f64()), Some(1.0));
}

#[test]
fn amf0_unknown_marker_stops() {
    let mut b = e0::num(1.0);
    b.push(0x12);
    b.extend(e0::num(2.0));
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].kind, ValueKind::Invalid { marker: 0x12 });
    assert_eq!(names(&a), vec!["amf.unknown_marker"]);
    let r = a[0].range.unwrap();
    assert_eq!((r.start, r.end), (9, b.len() as u64));
}

#[test]
fn amf0_decoder_incremental() {
    let mut b = e0::string("play");
    b.extend(e0::num(0.0));
    let mut d = amf0::Decoder::new(&b, 12);
    let first = d.next_value().unwrap();
    assert_eq!(first.span, Span::new(12, 19));
    assert_eq!(d.position(), 7);
    assert!(!d.is_done());
    assert_eq!(d.next_value().unwrap().as_f64(), Some(0.0));
    assert!(d.is_done());
    assert!(d.next_value().is_none());
    assert!(d.finish().is_empty());
    let (v, end, a) = amf0::decode_one(&b, 7, 0);
    assert_eq!(v.unwrap().as_f64(), Some(0.0));
    assert_eq!(end, b.len());
    assert!(a.is_empty());
    let (v, end, _) = amf0::decode_one(&b, 99, 0);
    assert!(v.is_none());
    assert_eq!(end, b.len());
}

// ------------------------------------------------------------ AMF3 markers

#[test]
fn amf3_simple_markers() {
    let (v, a) = decode3(&[0x00, 0x01, 0x02, 0x03]);
    assert!(a.is_empty());
    let k: Vec<_> = v.iter().map(|x| x.kind.clone()).collect();
    assert_eq!(
        k,
        vec![
            ValueKind::Undefined,
            ValueKind::Null,
            ValueKind::Boolean(false),
            ValueKind::Boolean(true)
        ]
    );
    assert!(v.iter().all(|x| x.amf3));
}

#[test]
fn amf3_integers() {
    // Spec examples: 1..4 byte U29 and sign extension.
    let cases: &[(&[u8], i32)] = &[
        (&[0x04, 0x00], 0),
        (&[0x04, 0x7f], 127),
        (&[0x04, 0x81, 0x00], 128),
        (&[0x04, 0xff, 0x7f], 16383),
        (&[0x04, 0x81, 0x80, 0x00], 16384),
        (&[0x04, 0xbf, 0xff, 0xff, 0xff], 0x0fff_ffff),
        (&[0x04, 0xc0, 0x80, 0x80, 0x00], -0x1000_0000),
        (&[0x04, 0xff, 0xff, 0xff, 0xff], -1),
    ];
    for (bytes, want) in cases {
        let v = one3(bytes);
        assert_eq!(v.kind, ValueKind::Integer(*want), "{bytes:02x?}");
        assert_eq!(v.span.len() as usize, bytes.len());
    }
    for i in [-1, -268_435_456, 268_435_455, 5, -200_000] {
        assert_eq!(one3(&e3::int(i)).kind, ValueKind::Integer(i));
    }
}

#[test]
fn amf3_double_nan_inf() {
    let mut b = e3::double(2.25);
    b.extend(e3::double(f64::NAN));
    b.extend(e3::double(f64::NEG_INFINITY));
    let (v, a) = decode3(&b);
    assert!(a.is_empty());
    assert_eq!(v[0].as_f64(), Some(2.25));
    assert!(v[1].as_f64().unwrap().is_nan());
    assert_eq!(v[2].as_f64(), Some(f64::NEG_INFINITY));
}

#[test]
fn amf3_string_references() {
    // "abc", "" (never in the table), "de", ref 1 -> "de", ref 0 -> "abc".
    let mut b = e3::string("abc");
    b.extend(e3::string(""));
    b.extend(e3::string("de"));
    b.push(0x06);
    b.extend(e3::vr_ref(1));
    b.push(0x06);
    b.extend(e3::vr_ref(0));
    let (v, a) = decode3(&b);
    assert!(a.is_empty());
    let s: Vec<_> = v.iter().map(|x| x.as_str().unwrap().to_lossy()).collect();
    assert_eq!(s, vec!["abc", "", "de", "de", "abc"]);
    // Bad string reference: diagnostic, value Invalid, decoding goes on.
    let mut b = vec![0x06];
    b.extend(e3::vr_ref(3));
    b.extend(e3::int(1));
    let (v, a) = decode3(&b);
    assert_eq!(v[0].kind, ValueKind::Invalid { marker: 0x06 });
    assert_eq!(v[1].kind, ValueKind::Integer(1));
    assert_eq!(names(&a), vec!["amf.bad_reference"]);
}

#[test]
fn amf3_non_utf8_string() {
    let (v, a) = decode3(&[0x06, 0x05, 0xff, 0x80]);
    assert_eq!(
        v[0].kind,
        ValueKind::String(AmfStr::Bytes(vec![0xff, 0x80]))
    );
    assert_eq!(names(&a), vec!["amf.invalid_utf8"]);
}

#[test]
fn amf3_xml_doc_xml_and_date() {
    let mut b = vec![0x07];
    b.extend(e3::vr("<a/>"));
    b.push(0x0B);
    b.extend(e3::vr("<b/>"));
    b.push(0x08);
    b.push(0x01);
    b.extend_from_slice(&1234.5f64.to_be_bytes());
    // References: object table = [xmldoc, xml, date].
    b.extend_from_slice(&[0x08, 0x04]); // date ref 2
    b.extend_from_slice(&[0x0B, 0x00]); // xml ref 0
    let (v, a) = decode3(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    assert_eq!(v[0].kind, ValueKind::Xml(text("<a/>")));
    assert_eq!(v[1].kind, ValueKind::Xml(text("<b/>")));
    assert_eq!(
        v[2].kind,
        ValueKind::Date {
            ms: 1234.5,
            timezone: None
        }
    );
    let ValueKind::Reference { index, resolved } = &v[3].kind else {
        panic!()
    };
    assert_eq!(*index, 2);
    assert_eq!(resolved.as_ref().unwrap().kind, v[2].kind);
    let ValueKind::Reference { resolved, .. } = &v[4].kind else {
        panic!()
    };
    assert_eq!(
        resolved.as_ref().unwrap().kind,
        ValueKind::Xml(text("<a/>"))
    );
}

#[test]
fn amf3_array_assoc_and_dense() {
    // Array: 2 dense, assoc {k: "v"}.
    let mut b = vec![0x09];
    b.extend(e3::u29((2 << 1) | 1));
    b.extend(e3::vr("k"));
    b.extend(e3::string("v"));
    b.push(0x01); // empty key
    b.extend(e3::int(1));
    b.extend(e3::double(2.0));
    let v = one3(&b);
    let ValueKind::Array { associative, dense } = &v.kind else {
        panic!()
    };
    assert_eq!(associative.len(), 1);
    assert_eq!(associative[0].key, text("k"));
    assert_eq!(associative[0].value.as_str(), Some(&text("v")));
    assert_eq!(dense.len(), 2);
    assert_eq!(dense[0].kind, ValueKind::Integer(1));
    assert_eq!(dense[1].as_f64(), Some(2.0));
}

#[test]
fn amf3_objects_traits_and_references() {
    // Typed sealed object Point{x, y}, dynamic=false, then a second object
    // using the traits reference, then an object reference to the first.
    let mut b = vec![0x0A];
    b.extend(e3::u29((2 << 4) | 0b0011)); // inline traits, 2 sealed, not dynamic
    b.extend(e3::vr("Point"));
    b.extend(e3::vr("x"));
    b.extend(e3::vr("y"));
    b.extend(e3::int(1));
    b.extend(e3::int(2));
    b.push(0x0A);
    b.extend(e3::u29(0b01)); // traits ref 0
    b.extend(e3::int(3));
    b.extend(e3::int(4));
    b.push(0x0A);
    b.extend(e3::u29(0)); // object ref 0
                          // A string reference into names added by traits: "Point" is #0, "x" #1.
    b.push(0x06);
    b.extend(e3::vr_ref(1));
    let (v, a) = decode3(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    assert_eq!(v.len(), 4);
    for (o, x, y) in [(&v[0], 1, 2), (&v[1], 3, 4)] {
        let ValueKind::Object { class, properties } = &o.kind else {
            panic!()
        };
        assert_eq!(class.as_ref(), Some(&text("Point")));
        assert_eq!(properties.len(), 2);
        assert_eq!(o.get("x").map(|p| &p.kind), Some(&ValueKind::Integer(x)));
        assert_eq!(o.get("y").map(|p| &p.kind), Some(&ValueKind::Integer(y)));
    }
    let ValueKind::Reference { index, resolved } = &v[2].kind else {
        panic!()
    };
    assert_eq!(*index, 0);
    assert_eq!(resolved.as_ref().unwrap().kind, v[0].kind);
    assert_eq!(v[3].as_str(), Some(&text("x")));
}

#[test]
fn amf3_dynamic_object_and_cycle() {
    // Anonymous dynamic object {me: <ref to itself>, n: 1}.
    let mut b = vec![0x0A, 0x0B, 0x01];
    b.extend(e3::vr("me"));
    b.extend_from_slice(&[0x0A, 0x00]);
    b.extend(e3::vr("n"));
    b.extend(e3::int(1));
    b.push(0x01);
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 1);
    let ValueKind::Object { class, properties } = &v[0].kind else {
        panic!()
    };
    assert!(class.is_none());
    assert_eq!(
        properties[0].value.kind,
        ValueKind::Reference {
            index: 0,
            resolved: None
        }
    );
    assert_eq!(properties[1].value.kind, ValueKind::Integer(1));
    assert_eq!(names(&a), vec!["amf.reference_cycle"]);
}

#[test]
fn amf3_bad_traits_reference_stops() {
    let (v, a) = decode3(&[0x0A, 0x05, 0x04, 0x01]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ValueKind::Invalid { marker: 0x0A });
    assert_eq!(names(&a), vec!["amf.bad_reference"]);
}

#[test]
fn amf3_externalizable_known_and_unknown() {
    // ArrayCollection wrapping an array of 1 dense int.
    let mut b = vec![0x0A, 0x07];
    b.extend(e3::vr("flex.messaging.io.ArrayCollection"));
    b.extend_from_slice(&[0x09, 0x03, 0x01]);
    b.extend(e3::int(9));
    // ObjectProxy wrapping a dynamic object {a: true}.
    b.extend_from_slice(&[0x0A, 0x07]);
    b.extend(e3::vr("flex.messaging.io.ObjectProxy"));
    b.extend_from_slice(&[0x0A, 0x0B, 0x01]);
    b.extend(e3::vr("a"));
    b.extend_from_slice(&[0x03, 0x01]);
    let unknown_at = b.len();
    b.extend_from_slice(&[0x0A, 0x07]);
    b.extend(e3::vr("com.example.Opaque"));
    b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let (v, a) = amf3::decode_all(&b, 50);
    assert_eq!(v.len(), 3, "{v:?}");
    let src = v[0].get("source").unwrap();
    let ValueKind::Array { dense, .. } = &src.kind else {
        panic!()
    };
    assert_eq!(dense[0].kind, ValueKind::Integer(9));
    let obj = v[1].get("object").unwrap();
    assert_eq!(
        obj.get("a").map(|x| &x.kind),
        Some(&ValueKind::Boolean(true))
    );
    let ValueKind::Externalizable { class, opaque } = &v[2].kind else {
        panic!("{:?}", v[2])
    };
    assert_eq!(class, &text("com.example.Opaque"));
    assert_eq!(*opaque, Span::new(50 + b.len() - 4, 50 + b.len()));
    assert_eq!(v[2].span, Span::new(50 + unknown_at, 50 + b.len()));
    assert_eq!(names(&a), vec!["amf.amf3.externalizable_unknown"]);
}

#[test]
fn amf3_unknown_externalizable_inside_array_stops_cleanly() {
    let mut b = vec![0x09, 0x07, 0x01, 0x01, 0x0A, 0x07];
    b.extend(e3::vr("x.Y"));
    b.extend_from_slice(&[1, 2, 3]);
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 1);
    let ValueKind::Array { dense, .. } = &v[0].kind else {
        panic!()
    };
    assert_eq!(dense.len(), 2);
    assert_eq!(
        dense[1].kind,
        ValueKind::Externalizable {
            class: text("x.Y"),
            opaque: Span::new(b.len() - 3, b.len())
        }
    );
    assert_eq!(names(&a), vec!["amf.amf3.externalizable_unknown"]);
}

#[test]
fn anomalies_per_body_are_capped() {
    // 200 bad string references: each is reported until the cap, then one
    // summary; a final truncation is always kept.
    let mut b = Vec::new();
    for _ in 0..200 {
        b.extend_from_slice(&[0x06, 0x08]);
    }
    b.push(0x05);
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 201);
    let cap = rtmpscope::amf::MAX_ANOMALIES;
    assert_eq!(a.len(), cap + 2);
    assert!(a[..cap].iter().all(|x| x.name == "amf.bad_reference"));
    assert_eq!(a[cap].name, "amf.truncated");
    assert_eq!(a[cap + 1].name, "amf.anomaly_limit");
    assert!(a[cap + 1].detail.contains(&format!("{}", 200 - cap)));
}

#[test]
fn amf3_bytearray_span_only() {
    let mut b = vec![0x0C];
    b.extend(e3::u29((3 << 1) | 1));
    b.extend_from_slice(&[1, 2, 3]);
    b.extend_from_slice(&[0x0C, 0x00]); // ref 0
    let (v, a) = amf3::decode_all(&b, 10);
    assert!(a.is_empty());
    assert_eq!(v[0].kind, ValueKind::ByteArray(Span::new(12, 15)));
    let ValueKind::Reference { resolved, .. } = &v[1].kind else {
        panic!()
    };
    assert_eq!(resolved.as_ref().unwrap().kind, v[0].kind);
}

#[test]
fn amf3_vectors() {
    let mut b = vec![0x0D, 0x05, 0x01];
    b.extend_from_slice(&(-2i32).to_be_bytes());
    b.extend_from_slice(&7i32.to_be_bytes());
    b.extend_from_slice(&[0x0E, 0x03, 0x00]);
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    b.extend_from_slice(&[0x0F, 0x03, 0x00]);
    b.extend_from_slice(&0.5f64.to_be_bytes());
    b.extend_from_slice(&[0x10, 0x05, 0x00]);
    b.extend(e3::vr("com.example.T"));
    b.extend(e3::string("s"));
    b.push(0x01);
    let (v, a) = decode3(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    let get = |i: usize| match &v[i].kind {
        ValueKind::Vector {
            kind,
            fixed,
            class,
            items,
        } => (
            *kind,
            *fixed,
            class.clone(),
            items.iter().map(|x| x.kind.clone()).collect::<Vec<_>>(),
        ),
        k => panic!("{k:?}"),
    };
    assert_eq!(
        get(0),
        (
            VectorKind::Int,
            true,
            None,
            vec![ValueKind::Integer(-2), ValueKind::Integer(7)]
        )
    );
    assert_eq!(
        get(1),
        (
            VectorKind::Uint,
            false,
            None,
            vec![ValueKind::Number(4294967295.0)]
        )
    );
    assert_eq!(
        get(2),
        (
            VectorKind::Double,
            false,
            None,
            vec![ValueKind::Number(0.5)]
        )
    );
    assert_eq!(
        get(3),
        (
            VectorKind::Object,
            false,
            Some(text("com.example.T")),
            vec![ValueKind::String(text("s")), ValueKind::Null]
        )
    );
}

#[test]
fn amf3_huge_vector_count_in_small_body() {
    // Vector<int> claiming 2^28 - 1 items in a 10-byte body.
    let b = [0x0D, 0xff, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 1];
    let (v, a) = decode3(&b);
    let ValueKind::Vector { items, .. } = &v[0].kind else {
        panic!()
    };
    assert_eq!(items.len(), 1);
    assert!(items.capacity() <= 1);
    assert_eq!(names(&a), vec!["amf.truncated"]);
    // Same for dense arrays, dictionaries, traits member counts.
    for b in [
        &[0x09, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01][..],
        &[0x11, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01][..],
        &[0x0A, 0xff, 0xff, 0xff, 0xf3, 0x01][..],
        &[0x0C, 0xff, 0xff, 0xff, 0xff, 0x00][..],
    ] {
        let (_, a) = decode3(b);
        assert!(has(&a, "amf.truncated"), "{b:02x?} {:?}", names(&a));
    }
}

#[test]
fn amf3_dictionary() {
    let mut b = vec![0x11, 0x05, 0x01];
    b.extend(e3::string("k"));
    b.extend(e3::int(1));
    b.extend(e3::int(2));
    b.push(0x03);
    let v = one3(&b);
    let ValueKind::Dictionary { weak_keys, entries } = &v.kind else {
        panic!()
    };
    assert!(*weak_keys);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0.as_str(), Some(&text("k")));
    assert_eq!(entries[0].1.kind, ValueKind::Integer(1));
    assert_eq!(entries[1].0.kind, ValueKind::Integer(2));
    assert_eq!(entries[1].1.kind, ValueKind::Boolean(true));
}

#[test]
fn amf3_unknown_marker() {
    let (v, a) = decode3(&[0x01, 0x12, 0x01]);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].kind, ValueKind::Invalid { marker: 0x12 });
    assert_eq!(names(&a), vec!["amf.unknown_marker"]);
}

// ------------------------------------------------------- malformed / limits

/// Every prefix of a valid encoding decodes without panic and, being short,
/// yields a diagnostic.
type DecodeFn = fn(&[u8]) -> (Vec<Value>, Vec<Anomaly>);

fn all_truncations(full: &[u8], dec: DecodeFn) {
    let (_, a) = dec(full);
    assert!(a.is_empty(), "full input has anomalies {:?}", names(&a));
    for cut in 1..full.len() {
        let (_, a) = dec(&full[..cut]);
        assert!(
            !a.is_empty(),
            "prefix of {cut}/{} bytes gave no diagnostic",
            full.len()
        );
        assert!(
            a.iter()
                .all(|x| x.range.is_none_or(|r| r.end <= cut as u64)),
            "range past input"
        );
    }
}

/// One strict array holding every AMF0 marker (so any prefix is incomplete).
fn amf0_every_marker() -> Vec<u8> {
    let mut obj_typed = vec![0x10];
    obj_typed.extend(e0::utf8(b"T"));
    obj_typed.extend(e0::utf8(b"k"));
    obj_typed.extend(e0::num(1.0));
    obj_typed.extend(e0::end());
    let mut date = vec![0x0B];
    date.extend_from_slice(&0f64.to_be_bytes());
    date.extend_from_slice(&[0, 0]);
    let mut a3 = vec![0x11];
    a3.extend(e3::string("amf3"));
    let items = vec![
        e0::string("connect"),
        e0::num(1.0),
        e0::object(&[
            ("app", e0::string("live")),
            ("flag", e0::boolean(true)),
            ("n", vec![0x05]),
            ("u", vec![0x06]),
        ]),
        e0::ecma(1, &[("d", e0::num(3.0))]),
        // Complex #0 is the wrapper, #1 the object above.
        e0::strict(&[e0::num(1.0), vec![0x07, 0x00, 0x01]]),
        date,
        vec![0x0C, 0, 0, 0, 2, b'h', b'i'],
        vec![0x0D],
        vec![0x0F, 0, 0, 0, 3, b'<', b'a', b'>'],
        obj_typed,
        a3,
    ];
    e0::strict(&items)
}

#[test]
fn amf0_truncation_at_every_position() {
    all_truncations(&amf0_every_marker(), decode0);
}

/// One dense array holding every AMF3 marker (so any prefix is incomplete).
fn amf3_every_marker() -> Vec<u8> {
    let mut b = vec![0x09];
    b.extend(e3::u29((19 << 1) | 1));
    b.push(0x01);
    b.extend_from_slice(&[0x00, 0x01, 0x02, 0x03]);
    b.extend(e3::int(-300));
    b.extend(e3::double(1.0));
    b.extend(e3::string("s"));
    b.push(0x07);
    b.extend(e3::vr("<x/>"));
    b.extend_from_slice(&[0x08, 0x01]);
    b.extend_from_slice(&5f64.to_be_bytes());
    b.extend_from_slice(&[0x09, 0x03]);
    b.extend(e3::vr("a"));
    b.extend(e3::int(1));
    b.push(0x01);
    b.extend(e3::int(2));
    b.extend_from_slice(&[0x0A, 0x1B]); // 1 sealed, dynamic
    b.extend(e3::vr("C"));
    b.extend(e3::vr("m"));
    b.extend(e3::int(3));
    b.extend(e3::vr("dyn"));
    b.push(0x01);
    b.push(0x01);
    b.push(0x0B);
    b.extend(e3::vr("<y/>"));
    b.extend_from_slice(&[0x0C, 0x03, 0xaa]);
    b.extend_from_slice(&[0x0D, 0x03, 0x00, 0, 0, 0, 1]);
    b.extend_from_slice(&[0x0E, 0x03, 0x00, 0, 0, 0, 1]);
    b.extend_from_slice(&[0x0F, 0x03, 0x00]);
    b.extend_from_slice(&1f64.to_be_bytes());
    b.extend_from_slice(&[0x10, 0x03, 0x01]);
    b.extend(e3::vr("*"));
    b.push(0x01);
    b.extend_from_slice(&[0x11, 0x03, 0x00, 0x03, 0x02]);
    b.extend_from_slice(&[0x0A, 0x04]); // object ref 2 (the date)
    b
}

#[test]
fn amf3_truncation_at_every_position() {
    all_truncations(&amf3_every_marker(), decode3);
}

#[test]
fn deep_nesting_hits_depth_limit_not_stack() {
    // AMF0: 10_000 nested objects {a: {a: ...}}.
    let mut b = Vec::new();
    for _ in 0..10_000 {
        b.push(0x03);
        b.extend(e0::utf8(b"a"));
    }
    b.push(0x05);
    for _ in 0..10_000 {
        b.extend(e0::end());
    }
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 1);
    assert!(has(&a, "amf.depth_limit"), "{:?}", names(&a));
    // Depth of the returned tree is bounded.
    let mut d = 0;
    let mut cur = &v[0];
    while let Some(n) = cur.get("a") {
        d += 1;
        cur = n;
    }
    assert_eq!(d, MAX_DEPTH);
    assert_eq!(cur.kind, ValueKind::Invalid { marker: 0x03 });
    // AMF0 strict arrays and AMF3 arrays.
    let mut b = Vec::new();
    for _ in 0..10_000 {
        b.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    let (_, a) = decode0(&b);
    assert!(has(&a, "amf.depth_limit"));
    let mut b = Vec::new();
    for _ in 0..10_000 {
        b.extend_from_slice(&[0x09, 0x03, 0x01]);
    }
    let (_, a) = decode3(&b);
    assert!(has(&a, "amf.depth_limit"));
    // AMF3 via the 0x11 switch inside AMF0 nesting shares the depth.
    let mut b = Vec::new();
    for _ in 0..40 {
        b.push(0x03);
        b.extend(e0::utf8(b"a"));
    }
    b.push(0x11);
    for _ in 0..40 {
        b.extend_from_slice(&[0x09, 0x03, 0x01]);
    }
    let (_, a) = decode0(&b);
    assert!(has(&a, "amf.depth_limit"));
}

#[test]
fn exactly_max_depth_is_fine() {
    let mut b = Vec::new();
    for _ in 0..MAX_DEPTH {
        b.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    b.push(0x05);
    let (_, a) = decode0(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    let mut deeper = vec![0x0A, 0, 0, 0, 1];
    deeper.extend(&b);
    let (_, a) = decode0(&deeper);
    assert_eq!(names(&a), vec!["amf.depth_limit"]);
}

#[test]
fn reference_bomb_is_bounded() {
    // AMF3: arrays each holding 8 references to the previous one: without a
    // copy budget this would expand to 8^N nodes.
    let mut b = vec![0x09, 0x03, 0x01, 0x01];
    for level in 0..20u32 {
        b.extend_from_slice(&[0x09]);
        b.extend(e3::u29((8 << 1) | 1));
        b.push(0x01);
        for _ in 0..8 {
            b.push(0x09);
            b.extend(e3::u29(level << 1));
        }
    }
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 21);
    assert!(has(&a, "amf.copy_limit") || has(&a, "amf.reference_unresolved"));
    // AMF0: same shape with strict arrays.
    let mut b = vec![0x0A, 0, 0, 0, 1, 0x05];
    for level in 0..20u16 {
        b.extend_from_slice(&[0x0A, 0, 0, 0, 8]);
        for _ in 0..8 {
            b.push(0x07);
            b.extend_from_slice(&level.to_be_bytes());
        }
    }
    let (v, a) = decode0(&b);
    assert_eq!(v.len(), 21);
    assert!(has(&a, "amf.copy_limit") || has(&a, "amf.reference_unresolved"));
}

#[test]
fn string_reference_bomb_is_bounded() {
    // One 60 KB string then 500k references to it (1 MB body): copying each
    // would need 30 GB.
    let s = "q".repeat(60_000);
    let mut b = vec![0x09];
    b.extend(e3::u29((500_001 << 1) | 1));
    b.push(0x01);
    b.extend(e3::string(&s));
    for _ in 0..500_000 {
        b.extend_from_slice(&[0x06, 0x00]);
    }
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 1);
    assert!(has(&a, "amf.copy_limit"), "{:?}", names(&a));
}

#[test]
fn element_limit() {
    // 1_000_001 nulls in one AMF3 dense array.
    let n = rtmpscope::amf::MAX_ELEMENTS as u32 + 1;
    let mut b = vec![0x09];
    b.extend(e3::u29((n << 1) | 1));
    b.push(0x01);
    b.resize(b.len() + n as usize, 0x01);
    let (v, a) = decode3(&b);
    assert_eq!(v.len(), 1);
    assert_eq!(names(&a), vec!["amf.element_limit"]);
}

#[test]
fn truncated_reports_body_relative_range() {
    let b = [0x02, 0x00, 0x05, b'a'];
    let (v, a) = amf0::decode_all(&b, 1000);
    assert_eq!(v[0].kind, ValueKind::Invalid { marker: 0x02 });
    assert_eq!(names(&a), vec!["amf.truncated"]);
    let r = a[0].range.unwrap();
    assert_eq!((r.start, r.end), (1001, 1004));
    assert_eq!(a[0].severity, Severity::Error);
}

// ------------------------------------------------------------- proptests

/// Test-only AMF0 encoder for a small value model.
#[derive(Clone, Debug)]
enum T {
    Num(f64),
    Bool(bool),
    Str(String),
    Null,
    Obj(Vec<(String, T)>),
    Arr(Vec<T>),
    /// AMF3 value through the 0x11 switch.
    A3(Box<T3>),
}

#[derive(Clone, Debug)]
enum T3 {
    Int(i32),
    Dbl(f64),
    Str(String),
    Arr(Vec<(String, T3)>, Vec<T3>),
    Obj(Vec<(String, T3)>),
}

fn enc0(t: &T, out: &mut Vec<u8>, table: &mut Vec<String>) {
    match t {
        T::Num(n) => out.extend(e0::num(*n)),
        T::Bool(b) => out.extend(e0::boolean(*b)),
        T::Str(s) => out.extend(e0::string(s)),
        T::Null => out.push(0x05),
        T::Obj(props) => {
            out.push(0x03);
            for (k, v) in props {
                out.extend(e0::utf8(k.as_bytes()));
                enc0(v, out, table);
            }
            out.extend(e0::end());
        }
        T::Arr(items) => {
            out.push(0x0A);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                enc0(i, out, table);
            }
        }
        T::A3(t3) => {
            out.push(0x11);
            enc3(t3, out, table);
        }
    }
}

/// Encodes with string references for repeated non-empty strings (values,
/// keys), as Flash does; `table` is the encoder's string table.
fn enc3(t: &T3, out: &mut Vec<u8>, table: &mut Vec<String>) {
    fn vr(s: &str, out: &mut Vec<u8>, table: &mut Vec<String>) {
        if let Some(i) = table.iter().position(|x| x == s) {
            out.extend(e3::vr_ref(i as u32));
        } else {
            if !s.is_empty() {
                table.push(s.to_owned());
            }
            out.extend(e3::vr(s));
        }
    }
    match t {
        T3::Int(i) => out.extend(e3::int(*i)),
        T3::Dbl(n) => out.extend(e3::double(*n)),
        T3::Str(s) => {
            out.push(0x06);
            vr(s, out, table);
        }
        T3::Arr(assoc, dense) => {
            out.push(0x09);
            out.extend(e3::u29(((dense.len() as u32) << 1) | 1));
            for (k, v) in assoc {
                vr(k, out, table);
                enc3(v, out, table);
            }
            out.push(0x01);
            for d in dense {
                enc3(d, out, table);
            }
        }
        T3::Obj(props) => {
            out.extend_from_slice(&[0x0A, 0x0B, 0x01]);
            for (k, v) in props {
                vr(k, out, table);
                enc3(v, out, table);
            }
            out.push(0x01);
        }
    }
}

fn num_eq(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn same0(t: &T, v: &Value) -> bool {
    match (t, &v.kind) {
        (T::Num(a), ValueKind::Number(b)) => num_eq(*a, *b),
        (T::Bool(a), ValueKind::Boolean(b)) => a == b,
        (T::Str(a), ValueKind::String(b)) => b.as_text() == Some(a.as_str()),
        (T::Null, ValueKind::Null) => true,
        (
            T::Obj(p),
            ValueKind::Object {
                class: None,
                properties,
            },
        ) => {
            p.len() == properties.len()
                && p.iter()
                    .zip(properties)
                    .all(|((k, t), Property { key, value })| {
                        key.as_text() == Some(k.as_str()) && same0(t, value)
                    })
        }
        (T::Arr(items), ValueKind::StrictArray(vs)) => {
            items.len() == vs.len() && items.iter().zip(vs).all(|(t, v)| same0(t, v))
        }
        (T::A3(t3), _) => v.amf3 && same3(t3, v),
        _ => false,
    }
}

fn same3(t: &T3, v: &Value) -> bool {
    if !v.amf3 {
        return false;
    }
    let props_eq = |p: &[(String, T3)], q: &[Property]| {
        p.len() == q.len()
            && p.iter()
                .zip(q)
                .all(|((k, t), pr)| pr.key.as_text() == Some(k.as_str()) && same3(t, &pr.value))
    };
    match (t, &v.kind) {
        (T3::Int(a), ValueKind::Integer(b)) => a == b,
        (T3::Dbl(a), ValueKind::Number(b)) => num_eq(*a, *b),
        (T3::Str(a), ValueKind::String(b)) => b.as_text() == Some(a.as_str()),
        (
            T3::Arr(assoc, dense),
            ValueKind::Array {
                associative,
                dense: d,
            },
        ) => {
            props_eq(assoc, associative)
                && dense.len() == d.len()
                && dense.iter().zip(d).all(|(t, v)| same3(t, v))
        }
        (
            T3::Obj(p),
            ValueKind::Object {
                class: None,
                properties,
            },
        ) => props_eq(p, properties),
        _ => false,
    }
}

fn key() -> impl Strategy<Value = String> {
    // Small alphabet so keys repeat (exercises AMF3 string references).
    prop_oneof!["[ab]{1,2}", "[a-zA-Z0-9_é]{1,8}"]
}

fn t3() -> impl Strategy<Value = T3> {
    let leaf = prop_oneof![
        (-(1i32 << 28)..(1i32 << 28)).prop_map(T3::Int),
        any::<f64>().prop_map(T3::Dbl),
        prop_oneof!["[xy]{0,2}", "[ -~]{1,12}"].prop_map(T3::Str),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                prop::collection::vec((key(), inner.clone()), 0..3),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(a, d)| T3::Arr(a, d)),
            prop::collection::vec((key(), inner), 0..4).prop_map(T3::Obj),
        ]
    })
}

fn t0() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        any::<f64>().prop_map(T::Num),
        any::<bool>().prop_map(T::Bool),
        ".{0,12}".prop_map(T::Str),
        Just(T::Null),
        t3().prop_map(|t| T::A3(Box::new(t))),
    ];
    leaf.prop_recursive(5, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 0..5).prop_map(T::Obj),
            prop::collection::vec(inner, 0..5).prop_map(T::Arr),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic_amf0(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let (v, a) = amf0::decode_all(&b, 3);
        // Anything returned lies inside the input.
        for x in &v {
            prop_assert!(x.span.start >= 3 && x.span.end as usize <= 3 + b.len());
        }
        for x in &a {
            if let Some(r) = x.range {
                prop_assert!(r.start >= 3 && r.end as usize <= 3 + b.len());
            }
        }
        // Values tile the consumed bytes in order.
        let mut pos = 3u32;
        for x in &v {
            prop_assert_eq!(x.span.start, pos);
            pos = x.span.end;
        }
    }

    #[test]
    fn random_bytes_never_panic_amf3(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let (v, a) = amf3::decode_all(&b, 0);
        let mut pos = 0u32;
        for x in &v {
            prop_assert_eq!(x.span.start, pos);
            pos = x.span.end;
        }
        prop_assert!(pos as usize <= b.len());
        // Stopping early always comes with a diagnostic.
        if (pos as usize) < b.len() {
            prop_assert!(!a.is_empty());
        }
    }

    #[test]
    fn random_marker_soup_never_panics(b in prop::collection::vec(0u8..0x14, 0..512)) {
        let _ = amf0::decode_all(&b, 0);
        let _ = amf3::decode_all(&b, 0);
    }

    #[test]
    fn round_trip_amf0(ts in prop::collection::vec(t0(), 1..4)) {
        let mut b = Vec::new();
        let mut ends = Vec::new();
        let mut table = Vec::new();
        for t in &ts {
            enc0(t, &mut b, &mut table);
            ends.push(b.len());
        }
        let (v, a) = amf0::decode_all(&b, 0);
        prop_assert!(a.is_empty(), "{:?}", names(&a));
        prop_assert_eq!(v.len(), ts.len());
        for (i, (t, x)) in ts.iter().zip(&v).enumerate() {
            prop_assert!(same0(t, x), "{:?} vs {:?}", t, x);
            prop_assert_eq!(x.span.end as usize, ends[i]);
        }
    }

    #[test]
    fn round_trip_amf3(ts in prop::collection::vec(t3(), 1..4)) {
        let mut b = Vec::new();
        let mut table = Vec::new();
        for t in &ts {
            enc3(t, &mut b, &mut table);
        }
        let (v, a) = amf3::decode_all(&b, 0);
        prop_assert!(a.is_empty(), "{:?}", names(&a));
        prop_assert_eq!(v.len(), ts.len());
        for (t, x) in ts.iter().zip(&v) {
            prop_assert!(same3(t, x), "{:?} vs {:?}", t, x);
        }
    }
}

#[test]
fn decoded_trees_serialize_to_json() {
    for (v, _) in [decode0(&amf0_every_marker()), decode3(&amf3_every_marker())] {
        let j = serde_json::to_string(&v).expect("serializes");
        assert!(j.contains("\"span\""), "{j}");
    }
    let (v, _) = decode3(&amf3_every_marker());
    let j = serde_json::to_string(&v).unwrap();
    assert!(j.contains("\"amf3\":true"), "{j}");
    assert!(j.contains("\"integer\":-300"), "{j}");
}

#[test]
fn large_legit_body_keeps_all_names() {
    // 100k typed objects sharing one traits definition (5 sealed members),
    // each with a repeated string reference: every key and string is kept.
    let n = 100_000u32;
    let mut b = vec![0x09];
    b.extend(e3::u29((n << 1) | 1));
    b.push(0x01);
    for i in 0..n {
        b.push(0x0A);
        if i == 0 {
            b.extend(e3::u29((5 << 4) | 0b0011));
            b.extend(e3::vr("com.example.Row"));
            for k in ["alpha", "beta", "gamma", "delta", "epsilon"] {
                b.extend(e3::vr(k));
            }
            b.extend(e3::string("a shared value"));
        } else {
            b.extend(e3::u29(0b01));
            b.push(0x06);
            b.extend(e3::vr_ref(6));
        }
        for j in 0..4 {
            b.extend(e3::int(j));
        }
    }
    let (v, a) = decode3(&b);
    assert!(a.is_empty(), "{:?}", names(&a));
    let ValueKind::Array { dense, .. } = &v[0].kind else {
        panic!()
    };
    assert_eq!(dense.len(), n as usize);
    let last = &dense[n as usize - 1];
    let ValueKind::Object { class, properties } = &last.kind else {
        panic!()
    };
    assert_eq!(class.as_ref(), Some(&text("com.example.Row")));
    assert_eq!(properties[4].key, text("epsilon"));
    assert_eq!(
        last.get("alpha").and_then(|x| x.as_str()),
        Some(&text("a shared value"))
    );
}

/// Nodes in a tree, resolved copies included.
fn nodes(v: &Value) -> usize {
    let props = |ps: &[Property]| ps.iter().map(|p| nodes(&p.value)).sum::<usize>();
    1 + match &v.kind {
        ValueKind::Object { properties, .. } | ValueKind::EcmaArray { properties, .. } => {
            props(properties)
        }
        ValueKind::Array { associative, dense } => {
            props(associative) + dense.iter().map(nodes).sum::<usize>()
        }
        ValueKind::StrictArray(items) | ValueKind::Vector { items, .. } => {
            items.iter().map(nodes).sum()
        }
        ValueKind::Dictionary { entries, .. } => {
            entries.iter().map(|(k, x)| nodes(k) + nodes(x)).sum()
        }
        ValueKind::Reference {
            resolved: Some(r), ..
        } => nodes(r),
        _ => 0,
    }
}

#[test]
fn small_reference_bomb_output_is_proportional_to_input() {
    // ~200 bytes: each level is a strict array with 8 references to the
    // previous level.
    let mut b = vec![0x0A, 0, 0, 0, 1, 0x05];
    for level in 0..20u16 {
        b.extend_from_slice(&[0x0A, 0, 0, 0, 8]);
        for _ in 0..8 {
            b.push(0x07);
            b.extend_from_slice(&level.to_be_bytes());
        }
    }
    let (v, a) = decode0(&b);
    let total: usize = v.iter().map(nodes).sum();
    // Wire values plus copies within the per-byte budget (4/byte + 1024).
    assert!(
        total <= b.len() + 4 * b.len() + 1024,
        "{total} nodes from {} bytes",
        b.len()
    );
    assert!(total > 500, "references were resolved at first: {total}");
    assert!(has(&a, "amf.copy_limit") || has(&a, "amf.reference_unresolved"));
}

#[test]
fn amf3_decoder_keeps_tables_across_values() {
    // "abc" then an object {} then a string reference and an object reference.
    let mut b = e3::string("abc");
    b.extend_from_slice(&[0x0A, 0x0B, 0x01, 0x01]);
    b.push(0x06);
    b.extend(e3::vr_ref(0));
    b.extend_from_slice(&[0x0A, 0x00]);
    let mut d = amf3::Decoder::new(&b, 0);
    let mut got = Vec::new();
    while let Some(v) = d.next_value() {
        got.push(v);
    }
    assert_eq!(got.len(), 4);
    assert_eq!(got[2].as_str(), Some(&text("abc")));
    assert!(matches!(
        got[3].kind,
        ValueKind::Reference {
            index: 0,
            resolved: Some(_)
        }
    ));
    // One string, one object, one (anonymous dynamic) traits entry.
    assert_eq!(d.context().table_sizes(), (1, 1, 1));
    assert!(!d.stopped());
    assert!(d.finish().is_empty());
}
