//! The TUI's NDJSON export (`e`, Enter) of a flow read from a capture file
//! is exactly what `rtmpscope json -r FILE` writes for that flow: its
//! `meta` line and every line carrying that `flow_id`, byte for byte.
//!
//! Needs the bundled capture 01; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::path::Path;
use std::process::Command;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rtmpscope::tui::app::App;
use rtmpscope::tui::TuiOptions;

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

#[test]
fn ndjson_export_equals_rtmpscope_json_for_the_flow() {
    let cap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/01-ffmpeg-nginx-publish-play.pcap");
    if !cap.exists() {
        return inputs::missing(&format!("{} not found", cap.display()));
    }
    let dir = std::env::temp_dir().join(format!("rtmpscope-ndjson-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = tui_load::load(
        &cap,
        TuiOptions {
            file: Some(cap.clone()),
            export_dir: dir.clone(),
            ..TuiOptions::default()
        },
    );
    // The second session (flow 2, the publisher).
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('e'));
    let target = app.prompt.as_ref().expect("path prompt").text.clone();
    assert!(target.ends_with("rtmpscope-flow2.ndjson"), "{target}");
    key(&mut app, KeyCode::Enter);
    let t0 = std::time::Instant::now();
    loop {
        app.refresh();
        let st = app.status.clone().map(|s| s.0).unwrap_or_default();
        if st.starts_with("wrote") {
            break;
        }
        assert!(!st.contains("failed"), "{st}");
        assert!(t0.elapsed().as_secs() < 30, "export did not finish: {st}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let got = std::fs::read(dir.join("rtmpscope-flow2.ndjson")).unwrap();
    // What the CLI writes, filtered here to the flow's lines.
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .arg("json")
        .arg("-r")
        .arg(&cap)
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let mut want = String::new();
    for (i, l) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if i == 0 || v["flow_id"] == 2 {
            want.push_str(l);
            want.push('\n');
        }
    }
    assert!(want.lines().count() > 200, "{} lines", want.lines().count());
    assert!(want.contains("\"event_type\":\"flow\""));
    assert!(want.contains("\"event_type\":\"handshake\""));
    assert_eq!(String::from_utf8(got).unwrap(), want);
    let _ = std::fs::remove_dir_all(&dir);
}
