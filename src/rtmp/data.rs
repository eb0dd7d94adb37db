//! Data messages (types 15 AMF3, 18 AMF0): `@setDataFrame`, `onMetaData`,
//! `|RtmpSampleAccess`, ...
//!
//! Contract: never panics. The body is a sequence of AMF0 values (type 15
//! starts with a 0x00 format byte, and 0x11 markers switch single values to
//! AMF3). The leading string, when there is one, is the name; the other
//! values are the arguments. A body that does not start with a string is
//! kept whole in `args` with `rtmp.data.no_name` (warning). AMF anomalies
//! are passed through.

use super::message::{Body, Data};
use super::reader::{amf_values, anomaly};
use crate::vocab::anomalies;
use crate::vocab::Anomaly;

/// Decodes a data message body.
pub fn decode(body: &[u8], amf3: bool, out: &mut Vec<Anomaly>) -> Body {
    let (vals, start) = amf_values(body, amf3, out);
    let mut it = vals.into_iter().peekable();
    let name = match it.peek().and_then(|v| v.as_str()) {
        Some(s) => {
            let s = s.clone();
            it.next();
            Some(s)
        }
        None => {
            if start < body.len() {
                out.push(anomaly(
                    anomalies::RTMP_DATA_NO_NAME,
                    start,
                    body.len(),
                    "data message does not start with a string",
                ));
            }
            None
        }
    };
    Body::Data(Data {
        name,
        args: it.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amf::{AmfStr, ValueKind};
    use crate::rtmp::testutil::amf0w::*;

    fn dec(b: &[u8], amf3: bool) -> (Data, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode(b, amf3, &mut out) {
            Body::Data(d) => (d, out),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn set_data_frame() {
        let ecma = {
            let mut v = vec![0x08, 0, 0, 0, 2];
            v.extend(key("width"));
            v.extend(n(1280.0));
            v.extend(key("videocodecid"));
            v.extend(s("hvc1"));
            v.extend_from_slice(&[0, 0, 9]);
            v
        };
        let (d, a) = dec(&cat(&[s("@setDataFrame"), s("onMetaData"), ecma]), false);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(d.name, Some(AmfStr::from("@setDataFrame")));
        assert_eq!(d.args.len(), 2);
        assert_eq!(d.args[0].as_str(), Some(&AmfStr::from("onMetaData")));
        assert_eq!(
            d.args[1].get("width").and_then(|v| v.as_f64()),
            Some(1280.0)
        );
    }

    #[test]
    fn amf3_data_and_no_name() {
        let mut body = vec![0];
        body.extend(cat(&[s("onMetaData"), n(1.0)]));
        let (d, a) = dec(&body, true);
        assert!(a.is_empty());
        assert_eq!(d.name, Some(AmfStr::from("onMetaData")));
        assert_eq!(d.args[0].span.start, 14);
        let (d, a) = dec(&cat(&[n(1.0), null()]), false);
        assert_eq!(d.name, None);
        assert_eq!(d.args.len(), 2);
        assert_eq!(d.args[1].kind, ValueKind::Null);
        assert_eq!(a[0].name, "rtmp.data.no_name");
    }
}
