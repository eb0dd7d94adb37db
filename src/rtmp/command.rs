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

use super::body::{amf_values, anomaly};
use super::message::{Body, Command, CommandInfo};
use crate::amf::{AmfStr, Value, ValueKind};
use crate::event::{Anomaly, Severity};

/// Decodes a command message body.
pub fn decode(body: &[u8], amf3: bool, out: &mut Vec<Anomaly>) -> Body {
    let (vals, start) = amf_values(body, amf3, out);
    let mut it = vals.into_iter();
    let first = it.next();
    let name = match first.as_ref().and_then(|v| v.as_str()) {
        Some(s) => s.clone(),
        None => {
            out.push(anomaly(
                "rtmp.command.bad_name",
                Severity::Error,
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
                object: None,
                args,
                info: None,
            });
        }
    };
    let tid = it.next();
    let transaction_id = tid.as_ref().and_then(Value::as_f64);
    let object = it.next();
    let args: Vec<Value> = it.collect();
    let info = interpret(name.as_text().unwrap_or(""), object.as_ref(), &args);
    Body::Command(Command {
        name,
        transaction_id,
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
