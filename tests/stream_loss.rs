//! Per-stream loss figures of the session record (`streams[].audio.loss`,
//! `.video.loss`) against the truth: capture 10 is capture 01 with packets
//! removed, so for every stream the messages decoded plus the messages the
//! record says the gaps swallowed must equal the clean run's count, and the
//! clean run reports no loss at all.
//!
//! Needs the bundled captures 01 and 10; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// (role, "audio"/"video") -> (messages, loss object or Null), from the
/// session lines of `rtmpscope json -r CAPTURE`.
fn streams(cap: &str) -> Option<BTreeMap<(String, String), (u64, serde_json::Value)>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(cap);
    if !path.exists() {
        inputs::missing(&format!("{} not found", path.display()));
        return None;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["json", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut m = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event_type"] != "session" {
            continue;
        }
        for st in v["session"]["streams"].as_array().unwrap() {
            let role = st["role"].as_str().unwrap_or("?").to_string();
            for kind in ["audio", "video"] {
                let k = &st[kind];
                m.insert(
                    (role.clone(), kind.to_string()),
                    (k["messages"].as_u64().unwrap(), k["loss"].clone()),
                );
            }
        }
    }
    Some(m)
}

#[test]
fn lost_message_counts_add_up_to_the_clean_run() {
    let (Some(clean), Some(lossy)) = (
        streams("captures/01-ffmpeg-nginx-publish-play.pcap"),
        streams("captures/10-ffmpeg-nginx-publish-play-lossy.pcap"),
    ) else {
        return;
    };
    assert_eq!(clean.len(), 4, "{clean:?}");
    assert_eq!(
        clean.keys().collect::<Vec<_>>(),
        lossy.keys().collect::<Vec<_>>()
    );
    let mut lost_total = 0;
    for (key, (n_clean, loss_clean)) in &clean {
        assert!(loss_clean.is_null(), "{key:?}: the clean run has no loss");
        let (n, loss) = &lossy[key];
        let lost = loss["messages_lost"].as_u64().unwrap_or(0);
        lost_total += lost;
        assert_eq!(
            n + lost,
            *n_clean,
            "{key:?}: {n} decoded + {lost} said lost vs {n_clean} in the clean run ({loss})"
        );
        if n < n_clean {
            assert!(loss["gaps"].as_u64().unwrap() > 0, "{key:?}: {loss}");
            assert!(
                loss["timestamps_estimated"].as_u64().unwrap() > 0,
                "{key:?}"
            );
            // Each lost message of a 44.1 kHz AAC or 25 fps stream is
            // 23 or 40 ms of media.
            let ms = loss["media_ms"].as_u64().unwrap();
            assert!(ms >= 23 * lost && ms <= 41 * lost, "{key:?}: {loss}");
        }
    }
    assert!(lost_total > 0, "the lossy copy lost messages");
}

/// The summary and the TUI's Stats view show the same figures.
#[test]
fn summary_and_stats_view_show_the_loss() {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;

    use rtmpscope::tui::{view, TuiOptions};

    let cap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/10-ffmpeg-nginx-publish-play-lossy.pcap");
    if !cap.exists() {
        return inputs::missing(&format!("{} not found", cap.display()));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["summary", "-r"])
        .arg(&cap)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("loss: 2 gap(s), ~4 msgs lost (~94 ms of media), 95 timestamps estimated"),
        "{text}"
    );
    assert!(
        text.contains("loss: 3 gap(s), ~3 msgs lost (~69 ms of media), 113 timestamps estimated"),
        "{text}"
    );

    let mut app = tui_load::load(&cap, TuiOptions::default());
    app.handle_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
    let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
    t.draw(|f| view::render(&mut app, f)).unwrap();
    let b = t.backend().buffer().clone();
    let screen: String = (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Session 1 is the player: 3 audio messages lost, no video.
    assert!(screen.contains("lost v~0 a~3 (~69 ms)"), "{screen}");
}
