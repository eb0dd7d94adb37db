use rtmpscope::amf::{AmfStr, Property, Span, Value, ValueKind, VectorKind};
use rtmpscope::event::*;
use rtmpscope::output::json::{amf_to_json, JsonOptions, SCHEMA_VERSION};
use rtmpscope::redact::placeholder;
use rtmpscope::rtmp::message::*;
use rtmpscope::time::PacketTime;
use serde_json::json;

use crate::fixtures::*;
use crate::{command_line, of_type, validator, write_all};

fn prop(k: AmfStr, val: Value) -> Property {
    Property { key: k, value: val }
}

#[test]
fn meta_first_stats_last_and_envelope() {
    let ev = publish_conversation(Scenario::default());
    let (_, lines) = write_all(&ev, JsonOptions::default());
    let first = &lines[0];
    assert_eq!(first["event_type"], "meta");
    assert_eq!(first["meta"]["tool"], "rtmpscope");
    assert_eq!(first["meta"]["schema_version"], SCHEMA_VERSION);
    assert_eq!(first["meta"]["input"], "test.pcap");
    assert_eq!(first["meta"]["link_types"], json!(["ethernet"]));
    let last = lines.last().unwrap();
    assert_eq!(last["event_type"], "stats");
    assert_eq!(last["stats"]["anomalies"], json!({"rtmp.test.warning": 1}));
    assert_eq!(last["stats"]["non_tcp"], 2);

    // connect: client -> server orientation.
    let c = command_line(&lines, "connect");
    let connect_ev = ev
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Message(m) if m.csid == 3))
        .unwrap();
    assert_eq!(c["timestamp"], connect_ev.time.rfc3339_micros());
    assert_eq!(c["pcap_cnt"], connect_ev.pcap_cnt);
    assert_eq!(c["flow_id"], 1);
    assert_eq!(c["src_ip"], "192.0.2.10");
    assert_eq!(c["src_port"], 50000);
    assert_eq!(c["dest_ip"], "198.51.100.5");
    assert_eq!(c["dest_port"], 1935);
    assert_eq!(c["direction"], "to_server");
    let r = &c["rtmp"];
    assert_eq!(r["csid"], 3);
    assert_eq!(r["type_id"], 20);
    assert_eq!(r["type"], "command_amf0");
    assert_eq!(r["msid"], 0);
    assert_eq!(r["length"], 180);
    assert_eq!(r["chunks"], 1);
    assert_eq!(r["stream_offset"], 3073);
    assert_eq!(r["extended_timestamp"], false);
    assert!(r.get("chunk_ranges").is_none());
    assert!(r.get("truncated").is_none());
    assert_eq!(r["command"]["transaction_id"], 1);
    assert_eq!(r["command"]["object"]["app"], "live");
    assert_eq!(r["command"]["object"]["capabilities"], 239);
    assert_eq!(r["command"]["args"], json!([]));
    assert_eq!(r["command"]["info"]["kind"], "connect");
    assert_eq!(r["command"]["info"]["app"], "live");
    assert_eq!(r["command"]["info"]["object_encoding"], 0);

    // server reply: server is src.
    let res = command_line(&lines, "_result");
    assert_eq!(res["src_ip"], "198.51.100.5");
    assert_eq!(res["src_port"], 1935);
    assert_eq!(res["dest_port"], 50000);
    assert_eq!(res["direction"], "to_client");
    assert_eq!(
        res["rtmp"]["command"]["args"][0]["code"],
        "NetConnection.Connect.Success"
    );
}

#[test]
fn body_kinds_mapped() {
    let (_, lines) = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions::default(),
    );
    let rtmp = of_type(&lines, "rtmp");
    let ctl = rtmp.iter().find(|l| l["rtmp"]["type_id"] == 6).unwrap();
    assert_eq!(
        ctl["rtmp"]["control"],
        json!({"kind": "set_peer_bandwidth", "size": 2_500_000, "limit_type": "dynamic"})
    );
    let ping = rtmp
        .iter()
        .find(|l| l["rtmp"]["user_control"]["event"] == "ping_response")
        .unwrap();
    assert_eq!(ping["rtmp"]["user_control"]["event_type"], 7);
    assert_eq!(
        ping["rtmp"]["user_control"]["params"],
        json!({"timestamp": 1234, "rtt_us": 1500})
    );
    let data = rtmp
        .iter()
        .find(|l| l["rtmp"].get("data").is_some())
        .unwrap();
    assert_eq!(data["rtmp"]["data"]["name"], "@setDataFrame");
    assert_eq!(data["rtmp"]["data"]["args"][0], "onMetaData");
    assert_eq!(data["rtmp"]["data"]["args"][1]["width"], 1280);
    let seq = rtmp
        .iter()
        .find(|l| l["rtmp"]["video"]["packet_type"] == 0)
        .unwrap();
    let vid = &seq["rtmp"]["video"];
    assert_eq!(vid["codec"], "avc");
    assert_eq!(vid["keyframe"], true);
    assert_eq!(vid["config"]["kind"], "avc");
    assert_eq!(vid["config"]["profile"], 100);
    assert_eq!(vid["config"]["sps"], 1);
    assert_eq!(vid["config"]["width"], 1280);
    let aud = rtmp
        .iter()
        .find(|l| l["rtmp"]["audio"]["packet_type"] == 0)
        .unwrap();
    assert_eq!(aud["rtmp"]["audio"]["config"]["sample_rate"], 48000);
    assert_eq!(aud["rtmp"]["audio"]["channels"], 2);
    let hs = of_type(&lines, "handshake");
    assert_eq!(hs.len(), 6);
    let c1 = hs.iter().find(|l| l["handshake"]["part"] == "c1").unwrap();
    assert_eq!(c1["handshake"]["kind"], "digest");
    assert_eq!(c1["handshake"]["peer_version"], "9.0.124.2");
    assert_eq!(c1["handshake"]["digest"]["valid"], true);
    assert_eq!(c1["handshake"]["range"], json!({"start": 1, "end": 1537}));
    let an = &of_type(&lines, "anomaly")[0];
    assert_eq!(an["anomaly"]["name"], "rtmp.test.warning");
    assert_eq!(an["anomaly"]["severity"], "warning");
    assert_eq!(an["anomaly"]["range"], json!({"start": 10, "end": 20}));
    let gap = &of_type(&lines, "gap")[0];
    assert_eq!(gap["gap"], json!({"offset": 1000, "len": 100}));
    assert_eq!(gap["src_ip"], "198.51.100.5");
    let flow = &of_type(&lines, "flow")[0];
    let f = &flow["flow"];
    assert_eq!(f["pkts_toserver"], 120);
    assert_eq!(f["bytes_toclient"], 3000);
    assert_eq!(f["missed_bytes"], 100);
    assert_eq!(f["missed_bytes_toclient"], 100);
    assert_eq!(f["reason"], "fin");
    assert_eq!(f["protocol"], "rtmp");
    assert_eq!(f["midstream"], false);
    assert_eq!(f["community_id"], "1:abcdefghijklmnopqrstuvwxyz0=");
    assert!(flow.get("direction").is_none());
    assert_eq!(flow["src_ip"], "192.0.2.10");
}

#[test]
fn session_line_follows_flow_line() {
    let (_, lines) = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions::default(),
    );
    let idx_flow = lines
        .iter()
        .position(|l| l["event_type"] == "flow")
        .unwrap();
    assert_eq!(lines[idx_flow + 1]["event_type"], "session");
    assert_eq!(lines[idx_flow + 2]["event_type"], "stats");
    assert_eq!(lines[idx_flow + 1]["session"]["app"], "live");
    let no_sessions = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions {
            sessions: false,
            ..Default::default()
        },
    )
    .1;
    assert!(of_type(&no_sessions, "session").is_empty());
    assert_eq!(no_sessions.len(), lines.len() - 1);
}

#[test]
fn flow_forgotten_after_end() {
    let mut ev = publish_conversation(Scenario::default());
    let stats = ev.pop().unwrap();
    // A late anomaly for the ended flow has no addresses (flow table freed).
    ev.push(Event {
        pcap_cnt: 999,
        time: PacketTime::new(1, 0),
        flow_id: Some(1),
        direction: None,
        kind: EventKind::Anomaly(Anomaly::new("tcp.late", Severity::Info, None, "late")),
    });
    ev.push(stats);
    let (_, lines) = write_all(&ev, JsonOptions::default());
    let late = lines
        .iter()
        .find(|l| l["anomaly"]["name"] == "tcp.late")
        .unwrap();
    assert!(late.get("src_ip").is_none());
    assert_eq!(late["flow_id"], 1);
}

#[test]
fn deterministic_output() {
    let ev = publish_conversation(Scenario::default());
    let (a, _) = write_all(&ev, JsonOptions::default());
    let (b, _) = write_all(&ev, JsonOptions::default());
    assert_eq!(a, b);
    let (ra, _) = write_all(
        &ev,
        JsonOptions {
            redact: true,
            ..Default::default()
        },
    );
    let (rb, _) = write_all(
        &ev,
        JsonOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert_eq!(ra, rb);
    assert!(a.ends_with('\n'));
    assert!(a.lines().all(|l| !l.is_empty() && l.starts_with('{')));
}

#[test]
fn amf_numbers_special_values() {
    assert_eq!(amf_to_json(&n(f64::NAN)), json!({"number": "NaN"}));
    assert_eq!(
        amf_to_json(&n(f64::INFINITY)),
        json!({"number": "Infinity"})
    );
    assert_eq!(
        amf_to_json(&n(f64::NEG_INFINITY)),
        json!({"number": "-Infinity"})
    );
    assert_eq!(amf_to_json(&n(-0.0)), json!({"number": "-0"}));
    assert_eq!(amf_to_json(&n(3.0)).to_string(), "3");
    assert_eq!(amf_to_json(&n(2.5)).to_string(), "2.5");
    assert_eq!(amf_to_json(&n(1e300)), json!(1e300));
    assert_eq!(
        amf_to_json(&v(ValueKind::Integer(-7))),
        json!({"integer": -7})
    );
}

#[test]
fn amf_strings_and_objects() {
    let bad = v(ValueKind::String(AmfStr::from_bytes(&[0x66, 0xff, 0x00])));
    assert_eq!(amf_to_json(&bad), json!({"bytes": "Zv8A"}));
    // Wire order kept for unique keys.
    let o = obj(&[("zeta", n(1.0)), ("alpha", s("x"))]);
    assert_eq!(amf_to_json(&o).to_string(), r#"{"zeta":1,"alpha":"x"}"#);
    // Repeated keys: pair list in wire order.
    let rep = obj(&[("a", n(1.0)), ("b", n(2.0)), ("a", n(3.0))]);
    assert_eq!(
        amf_to_json(&rep),
        json!({"object": {"properties": [["a", 1], ["b", 2], ["a", 3]]}})
    );
    // A lone tag-named key would be ambiguous: pair list.
    let amb = obj(&[("number", s("NaN"))]);
    assert_eq!(
        amf_to_json(&amb),
        json!({"object": {"properties": [["number", "NaN"]]}})
    );
    // Non-UTF-8 key.
    let bk = v(ValueKind::Object {
        class: None,
        properties: vec![prop(AmfStr::Bytes(vec![0xfe]), null())],
    });
    assert_eq!(
        amf_to_json(&bk),
        json!({"object": {"properties": [[{"bytes": "/g=="}, null]]}})
    );
    // Typed object.
    let typed = v(ValueKind::Object {
        class: Some("flex.Foo".into()),
        properties: vec![prop("x".into(), v(ValueKind::Boolean(true)))],
    });
    assert_eq!(
        amf_to_json(&typed),
        json!({"object": {"class": "flex.Foo", "properties": [["x", true]]}})
    );
    // ECMA array: plain when possible, tagged with its count otherwise.
    assert_eq!(amf_to_json(&ecma(&[("w", n(1.0))])), json!({"w": 1}));
    let e2 = v(ValueKind::EcmaArray {
        count: 9,
        properties: vec![prop("k".into(), n(1.0)), prop("k".into(), n(2.0))],
    });
    assert_eq!(
        amf_to_json(&e2),
        json!({"ecma_array": {"count": 9, "properties": [["k", 1], ["k", 2]]}})
    );
}

#[test]
fn amf_other_kinds() {
    let sp = Span::new(3, 13);
    let cases = vec![
        (v(ValueKind::Undefined), json!({"undefined": null})),
        (v(ValueKind::Null), json!(null)),
        (
            v(ValueKind::StrictArray(vec![n(1.0), s("a")])),
            json!([1, "a"]),
        ),
        (
            v(ValueKind::Array {
                associative: vec![],
                dense: vec![n(1.0)],
            }),
            json!([1]),
        ),
        (
            v(ValueKind::Array {
                associative: vec![prop("k".into(), n(2.0))],
                dense: vec![n(1.0)],
            }),
            json!({"array": {"associative": [["k", 2]], "dense": [1]}}),
        ),
        (
            v(ValueKind::Date {
                ms: 1.5e12,
                timezone: Some(0),
            }),
            json!({"date": {"ms": 1_500_000_000_000u64, "timezone": 0}}),
        ),
        (v(ValueKind::Xml("<a/>".into())), json!({"xml": "<a/>"})),
        (
            v(ValueKind::ByteArray(sp)),
            json!({"bytearray": {"length": 10}}),
        ),
        (
            v(ValueKind::Vector {
                kind: VectorKind::Int,
                fixed: true,
                class: None,
                items: vec![v(ValueKind::Integer(4))],
            }),
            json!({"vector": {"kind": "int", "fixed": true, "items": [{"integer": 4}]}}),
        ),
        (
            v(ValueKind::Dictionary {
                weak_keys: false,
                entries: vec![(s("k"), n(1.0))],
            }),
            json!({"dictionary": {"weak_keys": false, "entries": [["k", 1]]}}),
        ),
        (
            v(ValueKind::Externalizable {
                class: "flex.messaging.io.ArrayCollection".into(),
                opaque: sp,
            }),
            json!({"externalizable": {"class": "flex.messaging.io.ArrayCollection", "length": 10}}),
        ),
        (
            v(ValueKind::Reference {
                index: 2,
                resolved: Some(Box::new(s("r"))),
            }),
            json!({"reference": {"index": 2, "value": "r"}}),
        ),
        (
            v(ValueKind::Reference {
                index: 0,
                resolved: None,
            }),
            json!({"reference": {"index": 0}}),
        ),
        (v(ValueKind::MovieClip), json!({"movieclip": null})),
        (v(ValueKind::Unsupported), json!({"unsupported": null})),
        (v(ValueKind::RecordSet), json!({"recordset": null})),
        (
            v(ValueKind::Invalid { marker: 0x42 }),
            json!({"invalid": {"marker": 66}}),
        ),
    ];
    for (val, want) in &cases {
        assert_eq!(&amf_to_json(val), want, "{val:?}");
    }
    // Every kind also validates against the schema inside a data message.
    let all: Vec<Value> = cases.into_iter().map(|(v, _)| v).collect();
    let mut extra = vec![
        n(f64::NAN),
        n(-0.0),
        v(ValueKind::String(AmfStr::Bytes(vec![0xff]))),
        obj(&[("a", n(1.0)), ("a", n(2.0))]),
    ];
    extra.extend(all);
    let ev = data_event(extra);
    let (_, lines) = write_all(&[ev], JsonOptions::default());
    let val = validator::load();
    for l in &lines {
        val.validate(l).unwrap_or_else(|e| panic!("{e}\n{l}"));
    }
}

fn data_event(args: Vec<Value>) -> Event {
    Event {
        pcap_cnt: 1,
        time: PacketTime::new(1, 0),
        flow_id: Some(1),
        direction: Some(Direction::ToServer),
        kind: EventKind::Message(Box::new(message(
            4,
            18,
            1,
            0,
            10,
            Body::Data(Data {
                name: Some("onTest".into()),
                args,
            }),
        ))),
    }
}

#[test]
fn truncated_aggregate_shared_object_and_chunk_ranges() {
    let mut sub = message(4, 9, 1, 40, 100, video("avc", false, 1, None));
    sub.chunks.clear();
    let mut agg = message(4, 22, 1, 40, 300, Body::Aggregate(vec![sub.clone(), sub]));
    agg.truncated = Some(Truncation {
        cause: TruncationCause::Gap,
        received: 200,
        lost: 100,
    });
    let so = message(
        3,
        19,
        0,
        0,
        50,
        Body::SharedObject(SharedObject {
            name: "chat".into(),
            version: 1,
            flags: 0,
            persistent: false,
            events: vec![SharedObjectEvent {
                event_type: 4,
                event: "change",
                span: Span::new(0, 4),
                name: Some("msg".into()),
                values: vec![s("hi")],
            }],
        }),
    );
    let evs: Vec<Event> = [agg, so]
        .into_iter()
        .map(|m| Event {
            pcap_cnt: 5,
            time: PacketTime::new(2, 0),
            flow_id: Some(1),
            direction: Some(Direction::ToClient),
            kind: EventKind::Message(Box::new(m)),
        })
        .collect();
    let (_, lines) = write_all(
        &evs,
        JsonOptions {
            chunk_ranges: true,
            ..Default::default()
        },
    );
    let a = &lines[1]["rtmp"];
    assert_eq!(
        a["truncated"],
        json!({"cause": "gap", "received": 200, "lost": 100})
    );
    assert_eq!(a["aggregate"].as_array().unwrap().len(), 2);
    assert_eq!(a["aggregate"][0]["type"], "video");
    assert_eq!(a["aggregate"][0]["timestamp"], 40);
    assert_eq!(
        a["chunk_ranges"],
        json!([{"fmt": 0, "header": [3073, 3085], "payload": [3085, 3385]}])
    );
    let so = &lines[2]["rtmp"]["shared_object"];
    assert_eq!(so["name"], "chat");
    assert_eq!(so["events"][0]["event"], "change");
    assert_eq!(so["events"][0]["name"], "msg");
    assert_eq!(so["events"][0]["values"], json!(["hi"]));
    let val = validator::load();
    for l in &lines {
        val.validate(l).unwrap_or_else(|e| panic!("{e}\n{l}"));
    }
}

#[test]
fn every_line_validates_against_schema() {
    let val = validator::load();
    for opts in [
        JsonOptions::default(),
        JsonOptions {
            redact: true,
            chunk_ranges: true,
            sessions: true,
        },
    ] {
        let (_, lines) = write_all(&publish_conversation(Scenario::default()), opts);
        let types: std::collections::BTreeSet<String> = lines
            .iter()
            .map(|l| l["event_type"].as_str().unwrap().to_owned())
            .collect();
        for t in [
            "meta",
            "flow_start",
            "handshake",
            "rtmp",
            "anomaly",
            "gap",
            "flow",
            "session",
            "stats",
        ] {
            assert!(types.contains(t), "missing {t}");
        }
        for l in &lines {
            val.validate(l).unwrap_or_else(|e| panic!("{e}\n{l}"));
        }
    }
}

#[test]
fn validator_rejects_bad_lines() {
    let val = validator::load();
    let (_, lines) = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions::default(),
    );
    let mut bad = command_line(&lines, "connect").clone();
    bad["rtmp"]["csid"] = json!("three");
    assert!(val.validate(&bad).is_err());
    let mut bad2 = lines[0].clone();
    bad2["meta"]["schema_version"] = json!("999");
    assert!(val.validate(&bad2).is_err());
    let mut bad3 = command_line(&lines, "connect").clone();
    bad3["rtmp"]["surprise"] = json!(1);
    assert!(val.validate(&bad3).is_err());
    assert!(val.validate(&json!({"event_type": "nonsense"})).is_err());
}

#[test]
fn redaction_removes_secrets_everywhere() {
    let ev = publish_conversation(Scenario::default());
    let (plain, _) = write_all(&ev, JsonOptions::default());
    assert!(plain.contains(KEY) && plain.contains(TOKEN));
    let (text, lines) = write_all(
        &ev,
        JsonOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert!(!text.contains(KEY), "stream key leaked");
    assert!(!text.contains("SECRETKEY"), "stream key part leaked");
    assert!(!text.contains(TOKEN), "token leaked");
    let ph = placeholder(KEY);
    // Same secret, same placeholder in every command that names it.
    for name in ["releaseStream", "FCPublish", "publish"] {
        assert_eq!(command_line(&lines, name)["rtmp"]["command"]["args"][0], ph);
    }
    let tc = command_line(&lines, "connect")["rtmp"]["command"]["object"]["tcUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        tc,
        format!("rtmp://198.51.100.5:1935/live?token={}", placeholder(TOKEN))
    );
    let desc = &command_line(&lines, "onStatus")["rtmp"]["command"]["args"][0]["description"];
    assert_eq!(desc, &json!(format!("Started publishing stream {ph}.")));
    let sess = &of_type(&lines, "session")[0]["session"];
    assert_eq!(sess["streams"][0]["name"], ph);
    assert_eq!(sess["tc_url"], json!(tc), "same token, same placeholder");
    let replay = sess["replay"][0].as_str().unwrap();
    assert!(replay.contains(&ph), "{replay}");
    // Placeholder independent of run: a second writer gives the same.
    let (text2, _) = write_all(
        &ev,
        JsonOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert_eq!(text, text2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = AmfStr> {
        prop_oneof![
            4 => prop::sample::select(vec!["a", "b", "number", "bytes", "x y", ""])
                .prop_map(AmfStr::from),
            1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(|b| AmfStr::from_bytes(&b)),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<f64>().prop_map(n),
            Just(n(f64::NAN)),
            Just(n(-0.0)),
            any::<i32>().prop_map(|i| v(ValueKind::Integer(i))),
            any::<bool>().prop_map(|b| v(ValueKind::Boolean(b))),
            key().prop_map(|k| v(ValueKind::String(k))),
            Just(null()),
            Just(v(ValueKind::Undefined)),
            any::<u8>().prop_map(|m| v(ValueKind::Invalid { marker: m })),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((key(), inner.clone()), 0..5).prop_map(|ps| v(
                    ValueKind::Object {
                        class: None,
                        properties: ps
                            .into_iter()
                            .map(|(k, val)| Property { key: k, value: val })
                            .collect(),
                    }
                )),
                prop::collection::vec((key(), inner.clone()), 0..5).prop_map(|ps| v(
                    ValueKind::EcmaArray {
                        count: ps.len() as u32,
                        properties: ps
                            .into_iter()
                            .map(|(k, val)| Property { key: k, value: val })
                            .collect(),
                    }
                )),
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|i| v(ValueKind::StrictArray(i))),
                (inner.clone(), inner).prop_map(|(a, b)| v(ValueKind::Dictionary {
                    weak_keys: false,
                    entries: vec![(a, b)]
                })),
            ]
        })
    }

    /// Tagged forms are single-key objects; a plain object is never one
    /// whose only key is a tag name.
    fn check_unambiguous(val: &Value, j: &serde_json::Value) {
        if let (ValueKind::Object { properties, .. }, serde_json::Value::Object(m)) = (&val.kind, j)
        {
            let unique: std::collections::BTreeSet<_> =
                properties.iter().map(|p| p.key.clone()).collect();
            let all_text = properties.iter().all(|p| p.key.as_text().is_some());
            let plain = !(m.len() == 1 && m.contains_key("object"));
            if plain {
                assert!(all_text && unique.len() == properties.len());
                assert!(
                    !(m.len() == 1
                        && m.keys()
                            .all(|k| rtmpscope::output::json::AMF_TAGS.contains(&k.as_str())))
                );
                // Wire order kept.
                let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
                let wire: Vec<&str> = properties.iter().filter_map(|p| p.key.as_text()).collect();
                assert_eq!(keys, wire);
            } else {
                assert_eq!(
                    m["object"]["properties"].as_array().unwrap().len(),
                    properties.len()
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn amf_json_is_schema_valid_deterministic_and_unambiguous(vals in prop::collection::vec(value(), 0..4)) {
            for val in &vals {
                let j = amf_to_json(val);
                prop_assert_eq!(&j, &amf_to_json(val));
                check_unambiguous(val, &j);
            }
            let (_, lines) = write_all(&[data_event(vals)], JsonOptions::default());
            let schema = validator::load();
            for l in &lines {
                prop_assert!(schema.validate(l).is_ok(), "{:?}", schema.validate(l));
            }
        }
    }
}

#[test]
fn schema_lists_every_tag_and_event_type() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/rtmpscope-events.schema.json"
    ))
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tagged: std::collections::BTreeSet<String> = schema["$defs"]["amf"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| match b["$ref"].as_str() {
            Some(r) => &schema["$defs"][r.trim_start_matches("#/$defs/")],
            None => b,
        })
        .filter_map(|b| b["required"].as_array())
        .filter(|r| r.len() == 1)
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect();
    let code: std::collections::BTreeSet<String> = rtmpscope::output::json::AMF_TAGS
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(tagged, code);
    let types: Vec<&str> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["properties"]["event_type"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "meta",
            "flow_start",
            "handshake",
            "rtmp",
            "anomaly",
            "gap",
            "tls",
            "flow",
            "session",
            "stats"
        ]
    );
}

#[test]
fn open_sessions_are_written_on_request_before_the_flow_ends() {
    // A live capture writes the open sessions periodically: here, after the
    // publish but before the flow and stats events.
    let events = publish_conversation(Scenario::default());
    let cut = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::FlowEnd(_)))
        .expect("the conversation ends its flow");
    let mut w = rtmpscope::output::json::JsonWriter::new(Vec::new(), JsonOptions::default());
    for e in &events[..cut] {
        w.write_event(e).unwrap();
    }
    w.write_open_sessions().unwrap();
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sessions: Vec<_> = lines
        .iter()
        .filter(|l| l["event_type"] == "session")
        .collect();
    assert_eq!(sessions.len(), 1, "one open session snapshot");
    assert_eq!(sessions[0]["session"]["app"], "live");
    assert!(
        lines.iter().all(|l| l["event_type"] != "flow"),
        "the flow has not ended"
    );
}
