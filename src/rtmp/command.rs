//! Command messages (types 17 AMF3, 20 AMF0): name, transaction id,
//! command object, arguments, and an interpretation of well-known commands.
//!
//! Contract: never panics. The body is AMF0 values (type 17 starts with a
//! 0x00 format byte; 0x11 markers switch single values to AMF3). The first
//! value must be a string (`rtmp.command.bad_name`, error, otherwise: the
//! name is then empty and every value is kept in `args`). Well-known
//! commands get a [`CommandInfo`]: connect, _result/_error/onStatus
//! (status info object; `_result` whose first argument is a number is a
//! createStream result), play, play2, publish, deleteStream/closeStream,
//! releaseStream/FCPublish/FCUnpublish/FCSubscribe/FCUnsubscribe/
//! getStreamLength, pause, seek, receiveAudio/receiveVideo. Others
//! (onBWDone, _checkbw, createStream, ...) are kept generically.

use super::message::{Body, Command, CommandInfo};
use super::reader::{amf_values, anomaly};
use crate::amf::{AmfStr, Value, ValueKind};
use crate::vocab::anomalies;
use crate::vocab::Anomaly;

/// Decodes a command message body.
pub fn decode(body: &[u8], amf3: bool, out: &mut Vec<Anomaly>) -> Body {
    let (vals, start) = amf_values(body, amf3, out);
    let mut it = vals.into_iter();
    let first = it.next();
    let name = match first.as_ref().and_then(|v| v.as_str()) {
        Some(s) => s.clone(),
        None => {
            out.push(anomaly(
                anomalies::RTMP_COMMAND_BAD_NAME,
                start,
                first
                    .as_ref()
                    .map(|v| v.span.end as usize)
                    .unwrap_or(body.len()),
                "command message does not start with a string name",
            ));
            let mut args: Vec<Value> = first.into_iter().collect();
            args.extend(it);
            return Body::Command(Command {
                name: AmfStr::Text(String::new()),
                transaction_id: None,
                transaction_id_span: None,
                object: None,
                args,
                info: None,
            });
        }
    };
    let tid = it.next();
    let transaction_id = tid.as_ref().and_then(Value::as_f64);
    let transaction_id_span = tid.as_ref().map(|v| v.span);
    let object = it.next();
    let args: Vec<Value> = it.collect();
    let info = interpret(name.as_text().unwrap_or(""), object.as_ref(), &args);
    Body::Command(Command {
        name,
        transaction_id,
        transaction_id_span,
        object,
        args,
        info,
    })
}

fn str_of(v: Option<&Value>) -> Option<AmfStr> {
    v.and_then(|v| v.as_str()).cloned()
}

fn num_of(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v.map(|v| &v.kind) {
        Some(ValueKind::Boolean(b)) => Some(*b),
        _ => None,
    }
}

fn prop_str(o: Option<&Value>, key: &str) -> Option<AmfStr> {
    str_of(o.and_then(|o| o.get(key)))
}

/// Interprets a well-known command from its generic values.
pub fn interpret(name: &str, object: Option<&Value>, args: &[Value]) -> Option<CommandInfo> {
    let a0 = args.first();
    Some(match name {
        "connect" => {
            let four_cc_list = match object.and_then(|o| o.get("fourCcList")).map(|v| &v.kind) {
                Some(ValueKind::StrictArray(items)) => {
                    items.iter().filter_map(|v| v.as_str().cloned()).collect()
                }
                Some(ValueKind::Array { dense, .. }) => {
                    dense.iter().filter_map(|v| v.as_str().cloned()).collect()
                }
                _ => Vec::new(),
            };
            CommandInfo::Connect {
                app: prop_str(object, "app"),
                tc_url: prop_str(object, "tcUrl"),
                flash_ver: prop_str(object, "flashVer"),
                swf_url: prop_str(object, "swfUrl"),
                page_url: prop_str(object, "pageUrl"),
                object_encoding: num_of(object.and_then(|o| o.get("objectEncoding"))),
                four_cc_list,
            }
        }
        "_result" | "_error" | "onStatus" => {
            let is_null = |v: Option<&Value>| {
                matches!(
                    v.map(|v| &v.kind),
                    None | Some(ValueKind::Null) | Some(ValueKind::Undefined)
                )
            };
            if name == "_result" && is_null(object) {
                if let Some(n) = num_of(a0) {
                    return Some(CommandInfo::StreamCreated { stream_id: n });
                }
            }
            let info = object
                .into_iter()
                .chain(args.iter())
                .find(|v| v.get("code").is_some() || v.get("level").is_some())?;
            CommandInfo::Status {
                level: prop_str(Some(info), "level"),
                code: prop_str(Some(info), "code"),
                description: prop_str(Some(info), "description"),
            }
        }
        "play" => CommandInfo::Play {
            name: str_of(a0),
            start: num_of(args.get(1)),
            duration: num_of(args.get(2)),
            reset: bool_of(args.get(3)),
        },
        "play2" => CommandInfo::Play {
            name: prop_str(a0, "streamName"),
            start: num_of(a0.and_then(|o| o.get("start"))),
            duration: num_of(a0.and_then(|o| o.get("len"))),
            reset: None,
        },
        "publish" => CommandInfo::Publish {
            name: str_of(a0),
            publish_type: str_of(args.get(1)),
        },
        "deleteStream" | "closeStream" => CommandInfo::DeleteStream {
            stream_id: num_of(a0),
        },
        "releaseStream" | "FCPublish" | "FCUnpublish" | "FCSubscribe" | "FCUnsubscribe"
        | "getStreamLength" => CommandInfo::StreamName { name: str_of(a0) },
        "pause" => CommandInfo::Pause {
            pause: bool_of(a0),
            position_ms: num_of(args.get(1)),
        },
        "seek" => CommandInfo::Seek {
            position_ms: num_of(a0),
        },
        "receiveAudio" | "receiveVideo" => CommandInfo::Receive {
            enabled: bool_of(a0),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::testutil::amf0w::*;
    use crate::vocab::Severity;

    fn dec(b: &[u8], amf3: bool) -> (Command, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode(b, amf3, &mut out) {
            Body::Command(c) => (c, out),
            other => panic!("not a command: {other:?}"),
        }
    }

    fn t(x: &str) -> Option<AmfStr> {
        Some(AmfStr::from(x))
    }

    #[test]
    fn connect() {
        let body = cat(&[
            s("connect"),
            n(1.0),
            obj(&[
                ("app", s("live")),
                ("flashVer", s("FMLE/3.0")),
                ("tcUrl", s("rtmp://h/live")),
                ("swfUrl", null()),
                ("objectEncoding", n(0.0)),
                ("fourCcList", strict(&[s("hvc1"), s("av01")])),
            ]),
        ]);
        let (c, a) = dec(&body, false);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(c.name, AmfStr::from("connect"));
        assert_eq!(c.transaction_id, Some(1.0));
        // After the name (marker, length, 7 bytes): marker + 8-byte double.
        assert_eq!(c.transaction_id_span, Some(crate::amf::Span::new(10, 19)));
        assert!(c.args.is_empty());
        assert_eq!(
            c.info,
            Some(CommandInfo::Connect {
                app: t("live"),
                tc_url: t("rtmp://h/live"),
                flash_ver: t("FMLE/3.0"),
                swf_url: None,
                page_url: None,
                object_encoding: Some(0.0),
                four_cc_list: vec![AmfStr::from("hvc1"), AmfStr::from("av01")],
            })
        );
    }

    #[test]
    fn results_and_status() {
        let (c, _) = dec(&cat(&[s("_result"), n(4.0), null(), n(1.0)]), false);
        assert_eq!(c.info, Some(CommandInfo::StreamCreated { stream_id: 1.0 }));
        let status = obj(&[
            ("level", s("status")),
            ("code", s("NetConnection.Connect.Success")),
            ("description", s("Connection succeeded.")),
        ]);
        let body = cat(&[
            s("_result"),
            n(1.0),
            obj(&[("fmsVer", s("FMS/3,0,1,123"))]),
            status.clone(),
        ]);
        let (c, _) = dec(&body, false);
        assert_eq!(
            c.info,
            Some(CommandInfo::Status {
                level: t("status"),
                code: t("NetConnection.Connect.Success"),
                description: t("Connection succeeded."),
            })
        );
        assert_eq!(c.args.len(), 1);
        let (c, _) = dec(&cat(&[s("onStatus"), n(0.0), null(), status]), false);
        assert!(matches!(c.info, Some(CommandInfo::Status { .. })));
        let err = obj(&[
            ("level", s("error")),
            ("code", s("NetStream.Publish.BadName")),
        ]);
        let (c, _) = dec(&cat(&[s("_error"), n(5.0), null(), err]), false);
        assert_eq!(
            c.info,
            Some(CommandInfo::Status {
                level: t("error"),
                code: t("NetStream.Publish.BadName"),
                description: None,
            })
        );
    }

    #[test]
    fn stream_commands() {
        let (c, _) = dec(
            &cat(&[
                s("play"),
                n(4.0),
                null(),
                s("cam"),
                n(-2.0),
                n(-1.0),
                b(true),
            ]),
            false,
        );
        assert_eq!(
            c.info,
            Some(CommandInfo::Play {
                name: t("cam"),
                start: Some(-2.0),
                duration: Some(-1.0),
                reset: Some(true)
            })
        );
        let (c, _) = dec(
            &cat(&[
                s("play2"),
                n(0.0),
                null(),
                obj(&[("streamName", s("hi")), ("start", n(5.0)), ("len", n(-1.0))]),
            ]),
            false,
        );
        assert_eq!(
            c.info,
            Some(CommandInfo::Play {
                name: t("hi"),
                start: Some(5.0),
                duration: Some(-1.0),
                reset: None
            })
        );
        let (c, _) = dec(
            &cat(&[s("publish"), n(5.0), null(), s("k"), s("live")]),
            false,
        );
        assert_eq!(
            c.info,
            Some(CommandInfo::Publish {
                name: t("k"),
                publish_type: t("live")
            })
        );
        for name in ["deleteStream", "closeStream"] {
            let (c, _) = dec(&cat(&[s(name), n(6.0), null(), n(1.0)]), false);
            assert_eq!(
                c.info,
                Some(CommandInfo::DeleteStream {
                    stream_id: Some(1.0)
                })
            );
        }
        for name in [
            "releaseStream",
            "FCPublish",
            "FCUnpublish",
            "getStreamLength",
        ] {
            let (c, _) = dec(&cat(&[s(name), n(2.0), null(), s("abc")]), false);
            assert_eq!(c.info, Some(CommandInfo::StreamName { name: t("abc") }));
        }
        let (c, _) = dec(
            &cat(&[s("pause"), n(0.0), null(), b(true), n(1500.0)]),
            false,
        );
        assert_eq!(
            c.info,
            Some(CommandInfo::Pause {
                pause: Some(true),
                position_ms: Some(1500.0)
            })
        );
        let (c, _) = dec(&cat(&[s("seek"), n(0.0), null(), n(3000.0)]), false);
        assert_eq!(
            c.info,
            Some(CommandInfo::Seek {
                position_ms: Some(3000.0)
            })
        );
        for name in ["receiveAudio", "receiveVideo"] {
            let (c, _) = dec(&cat(&[s(name), n(0.0), null(), b(false)]), false);
            assert_eq!(
                c.info,
                Some(CommandInfo::Receive {
                    enabled: Some(false)
                })
            );
        }
    }

    #[test]
    fn generic_commands_kept() {
        let (c, a) = dec(&cat(&[s("onBWDone"), n(0.0), null(), n(8192.0)]), false);
        assert!(a.is_empty());
        assert_eq!(c.info, None);
        assert_eq!(c.args.len(), 1);
        assert_eq!(c.args[0].as_f64(), Some(8192.0));
        let (c, _) = dec(&cat(&[s("_checkbw"), n(3.0), null()]), false);
        assert_eq!(c.name, AmfStr::from("_checkbw"));
        assert_eq!(c.object.map(|o| o.kind), Some(ValueKind::Null));
        let (c, _) = dec(&s("createStream"), false);
        assert_eq!(c.transaction_id, None);
        assert!(c.object.is_none());
    }

    #[test]
    fn amf3_command_format_byte_and_switch() {
        // 0x00 format byte, then AMF0 with one value switched to AMF3 (0x11).
        let mut body = vec![0x00];
        body.extend(cat(&[s("publish"), n(5.0), null()]));
        body.extend_from_slice(&[0x11, 0x06, 0x07, b'a', b'b', b'c']);
        body.extend(s("live"));
        let (c, a) = dec(&body, true);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(c.name, AmfStr::from("publish"));
        assert_eq!(c.name, AmfStr::from("publish"));
        assert_eq!(c.args.len(), 2);
        assert!(c.args[0].amf3);
        assert_eq!(
            c.info,
            Some(CommandInfo::Publish {
                name: t("abc"),
                publish_type: t("live")
            })
        );
        // Spans are body-relative: the name starts after the format byte.
        // (AMF0 string value spans include the marker.)
        let (c2, a2) = dec(&cat(&[s("publish"), n(5.0)]), true);
        assert_eq!(a2[0].name, "rtmp.body.missing_format_byte");
        assert_eq!(c2.name, AmfStr::from("publish"));
    }

    #[test]
    fn bad_name() {
        let (c, a) = dec(&cat(&[n(1.0), s("x")]), false);
        assert_eq!(a[0].name, "rtmp.command.bad_name");
        assert_eq!(a[0].severity, Severity::Error);
        assert_eq!(c.args.len(), 2);
        assert_eq!(c.name, AmfStr::Text(String::new()));
    }
}
