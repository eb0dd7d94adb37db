//! Data messages (types 15 AMF3, 18 AMF0): `@setDataFrame`, `onMetaData`,
//! `|RtmpSampleAccess`, ...
//!
//! Contract: never panics. The body is a sequence of AMF0 values (type 15
//! starts with a 0x00 format byte, and 0x11 markers switch single values to
//! AMF3). The leading string, when there is one, is the name; the other
//! values are the arguments. A body that does not start with a string is
//! kept whole in `args` with `rtmp.data.no_name` (warning). AMF anomalies
//! are passed through.

use super::body::{amf_values, anomaly};
use super::message::{Body, Data};
use crate::event::{Anomaly, Severity};

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
                    "rtmp.data.no_name",
                    Severity::Warning,
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
