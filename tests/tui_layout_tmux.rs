//! Layout by priority, read off a real terminal (tmux) at 80x24, 120x40
//! and 200x50 on corpus captures: the status words of status codes
//! (`NetStream.Play.Start`, `NetStream.Publish.Start`), both ends of
//! `client -> server`, the role of a redacted stream, full anomaly names,
//! the end of the file name in the status bar, and both the C→S and S→C
//! lines in Stats.
//!
//! Needs tmux and the bundled captures; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

/// One tmux-driven test at a time (starting two tmux servers at once races).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Tmux(String);

impl Tmux {
    fn start(args: &str, w: u16, h: u16) -> Tmux {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rtmpscope-layout-{}-{w}-{n}", std::process::id());
        let cmd = format!("{} {args}; sleep 30", env!("CARGO_BIN_EXE_rtmpscope"));
        // A tmux server that is exiting (the last session just killed) can
        // refuse a new session for a moment: retry.
        for attempt in 0.. {
            let o = Command::new("tmux")
                .args(["new-session", "-d", "-s", &name, "-x", &w.to_string()])
                .args(["-y", &h.to_string()])
                .arg(&cmd)
                .env("TERM", "xterm-256color")
                .output()
                .expect("tmux");
            if o.status.success() {
                break;
            }
            assert!(
                attempt < 20,
                "tmux new-session: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Tmux(name)
    }
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            Command::new("tmux")
                .args(["send-keys", "-t", &self.0, k])
                .status()
                .unwrap();
            std::thread::sleep(Duration::from_millis(120));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    fn literal(&self, s: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0, "-l", s])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn wait_for(&self, needle: &str) -> String {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {needle:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn capture(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        inputs::missing(&format!("capture {} not found", p.display()));
        None
    }
}

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        inputs::missing("tmux not installed");
    }
    ok
}

#[test]
fn meaning_survives_every_size() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_tmux() {
        return;
    }
    let Some(c01) = capture("01-ffmpeg-nginx-publish-play.pcap") else {
        return;
    };
    for (w, h) in SIZES {
        let t = Tmux::start(&format!("tui -r {}", c01.display()), w, h);
        let s = t.wait_for("(done)");
        let ctx = format!("at {w}x{h}:\n{s}");
        // Both ends of client -> server on one row, both roles.
        for (port, role) in [("58946", "stream1(play)"), ("58952", "stream1(publish)")] {
            assert!(
                s.lines().any(|l| l.contains(port)
                    && l.contains(" -> ")
                    && l.contains(":1935")
                    && l.contains(role)),
                "session row {port} {role} {ctx}"
            );
        }
        // The end of the file name in the status bar.
        let status = s.lines().last().unwrap_or("");
        assert!(status.contains("publish-play.pcap"), "file name end {ctx}");
        // Status words of the status codes.
        t.keys(&["/"]);
        t.literal("cmd:onStatus");
        t.keys(&["Enter", "g"]);
        let s = t.wait_for("cmd:onStatus]");
        for code in ["NetStream.Play.Start", "NetStream.Publish.Start"] {
            assert!(s.contains(code), "{code} at {w}x{h}:\n{s}");
        }
        // Stats: both directions.
        t.keys(&["3"]);
        let s = t.wait_for("Stats: session");
        assert!(s.contains("C→S: chunk size"), "C→S at {w}x{h}:\n{s}");
        assert!(s.contains("S→C: chunk size"), "S→C at {w}x{h}:\n{s}");
        t.keys(&["q"]);
    }
}

#[test]
fn redacted_roles_and_anomaly_names_are_never_cut() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_tmux() {
        return;
    }
    let (Some(c01), Some(c12)) = (
        capture("01-ffmpeg-nginx-publish-play.pcap"),
        capture("12-nginx-extended-timestamps.pcap"),
    ) else {
        return;
    };
    for (w, h) in SIZES {
        let t = Tmux::start(&format!("tui --redact -r {}", c01.display()), w, h);
        let s = t.wait_for("(done)");
        for role in ["(play)", "(publish)"] {
            assert!(
                s.lines()
                    .any(|l| l.contains("redacted:") && l.contains(role)),
                "redacted {role} at {w}x{h}:\n{s}"
            );
        }
        drop(t);
        let t = Tmux::start(&format!("tui -r {}", c12.display()), w, h);
        t.wait_for("(done)");
        t.keys(&["4"]);
        let s = t.wait_for("Anomalies (");
        assert!(
            s.contains("rtmp.chunk.fmt3_ets_repeated "),
            "anomaly name at {w}x{h}:\n{s}"
        );
    }
}

#[test]
fn flows_view_lists_rtmpt_flows_and_enters_the_session() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_tmux() {
        return;
    }
    let Some(c14a) = capture("14a-rtmpt-ffmpeg-bridge-publish-play.pcap") else {
        return;
    };
    let t = Tmux::start(&format!("tui -r {}", c14a.display()), 120, 30);
    t.wait_for("(done)");
    t.keys(&["5"]);
    let s = t.wait_for("Flows (4)");
    let http = s
        .lines()
        .filter(|l| l.contains("RTMPT (HTTP)") && l.contains("http_request"))
        .count();
    assert_eq!(http, 2, "two HTTP connections carrying RTMPT:\n{s}");
    let tunnels = s
        .lines()
        .filter(|l| l.contains("RTMP in RTMPT") && l.contains("rtmp_handshake"))
        .count();
    assert_eq!(tunnels, 2, "two tunnelled RTMP flows:\n{s}");
    // Enter on an HTTP flow says why there is no session; on the tunnel's
    // flow (the second row) it opens that session's messages.
    t.keys(&["g", "Enter"]);
    t.wait_for("carries no RTMP session");
    t.keys(&["j", "Enter"]);
    let s = t.wait_for("[session:1]");
    assert!(s.contains("connect("), "{s}");
}
