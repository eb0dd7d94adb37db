//! The stats view's stream-health charts and the media export key, read off
//! a real terminal (tmux) running `rtmpscope tui -r` on a bundled capture.
//! SKIPPED without tmux (FAILS instead with RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Tmux(String);

impl Tmux {
    fn start(cmd: &str, cwd: &Path) -> Tmux {
        let name = format!("rtmpscope-health-{}", std::process::id());
        let st = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "40",
                "-c",
            ])
            .arg(cwd)
            .arg(cmd)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux new-session");
        assert!(st.success());
        Tmux(name)
    }
    fn send(&self, key: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0, key])
            .status()
            .unwrap();
    }
    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    /// Waits until the screen satisfies `ok` (bounded).
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.capture();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < end, "timed out waiting for {what}:\n{s}");
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

fn is_braille(c: char) -> bool {
    ('\u{2801}'..='\u{28ff}').contains(&c)
}

#[test]
fn stats_view_shows_health_charts_and_m_exports_flv() {
    if !have_tmux() {
        if inputs::required() {
            panic!("tmux missing and RTMPSCOPE_REQUIRE_INPUTS=1");
        }
        eprintln!("SKIPPED: tmux not installed");
        return;
    }
    let cap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/01-ffmpeg-nginx-publish-play.pcap");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("rtmpscope-health-tmux-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = format!(
        "{} tui -r {}",
        env!("CARGO_BIN_EXE_rtmpscope"),
        cap.display()
    );
    let t = Tmux::start(&cmd, &dir);
    t.wait("the capture to be read", |s| s.contains("(done)"));
    t.send("3");
    let s = t.wait("the stats charts", |s| s.contains("kbit/s (media time)"));
    assert!(s.contains("frames/s"), "{s}");
    assert!(s.contains("drift ms"), "{s}");
    // The charts are drawn: braille line points inside the chart rows,
    // keyframe marks, and axis labels from the health series (25 fps, the
    // 3-second stream).
    let chart_rows: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("kbit/s (media time)"))
        .take(8)
        .collect();
    let braille = chart_rows
        .iter()
        .flat_map(|l| l.chars())
        .filter(|&c| is_braille(c))
        .count();
    assert!(braille > 40, "too few chart points ({braille}):\n{s}");
    let marks = chart_rows
        .iter()
        .flat_map(|l| l.chars())
        .filter(|&c| c == '•')
        .count();
    assert_eq!(
        marks, 3,
        "one keyframe mark per second with a keyframe:\n{s}"
    );
    assert!(
        chart_rows.iter().any(|l| l.contains("││25│")),
        "fps axis tops at 25:\n{s}"
    );
    assert!(s.contains("3s"), "{s}");
    // The media export key: files of the selected session, path in the
    // status bar.
    t.send("1");
    t.send("m");
    t.send("Enter");
    let s = t.wait("the export to finish", |s| {
        s.contains("FLV file(s) of session")
    });
    assert!(s.contains("wrote 1 FLV file(s) of session 1"), "{s}");
    assert!(s.contains("rtmpscope-flow1-media"), "{s}");
    let out = dir.join("rtmpscope-flow1-media");
    let flv: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        flv.iter().any(|n| n == "s1-play-stream1-m1.flv")
            && flv.iter().any(|n| n == "s1-play-stream1-m1.flv.json"),
        "{flv:?}"
    );
    t.send("q");
    let _ = std::fs::remove_dir_all(&dir);
}
