//! Tests for the outputs (NDJSON writer, schema, redaction, sessions,
//! summary, diff) over hand-built events.

mod diff_tests;
mod fixtures;
mod json_tests;
mod session_tests;
mod summary_tests;
#[path = "../support/schema.rs"]
mod validator;

use rtmpscope::event::Event;
use rtmpscope::output::json::{JsonOptions, JsonWriter, Meta};
use serde_json::Value as J;

/// Runs events through the writer; returns the text and the parsed lines.
pub fn write_all(events: &[Event], opts: JsonOptions) -> (String, Vec<J>) {
    let mut w = JsonWriter::new(Vec::new(), opts);
    w.write_meta(&Meta::new("test.pcap", vec!["ethernet".into()]))
        .unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
    let bytes = w.finish().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, lines)
}

pub fn of_type<'a>(lines: &'a [J], t: &str) -> Vec<&'a J> {
    lines.iter().filter(|l| l["event_type"] == t).collect()
}

/// The rtmp line whose command name is `name`.
pub fn command_line<'a>(lines: &'a [J], name: &str) -> &'a J {
    lines
        .iter()
        .find(|l| l["rtmp"]["command"]["name"] == name)
        .unwrap_or_else(|| panic!("no {name} line"))
}
