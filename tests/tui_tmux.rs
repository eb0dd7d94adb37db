//! End-to-end TUI tests in a real terminal (tmux): the run loop, keys,
//! resize, quitting and terminal restoration.
//!
//! They need tmux (`.ci/run` installs it) and skip, saying so, without it.
//! - `tmux_run_loop_synthetic` drives `tui::run` with a synthetic producer
//!   (this test binary re-executed inside tmux as `tui_child_synthetic`).
//! - `tmux_end_to_end_real_binary` drives `rtmpscope tui -r FILE` on the
//!   bundled capture `captures/01-ffmpeg-nginx-publish-play.pcap` (set
//!   `RTMPSCOPE_TMUX_PCAP` to choose another).

#[path = "support/inputs.rs"]
mod inputs;

mod tui_fixture;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Tmux {
    fn start(cmd: &str, w: u16, h: u16) -> Tmux {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rtmpscope-test-{}-{}-{}", std::process::id(), w, n);
        let st = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .arg(cmd)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux new-session");
        assert!(st.success());
        Tmux { name }
    }
    fn send(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(150));
    }
    fn literal(&self, text: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn format(&self, f: &str) -> String {
        let o = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, f])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
    fn alternate_on(&self) -> bool {
        let o = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, "#{alternate_on}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim() == "1"
    }
    fn resize(&self, w: u16, h: u16) {
        Command::new("tmux")
            .args([
                "resize-window",
                "-t",
                &self.name,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    /// Waits until the pane shows `needle`; panics with the screen otherwise.
    fn wait_for(&self, needle: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.capture();
            if s.contains(needle) {
                return s;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {needle:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

/// Shell tail run after the program: exit status and whether the tty is back
/// in canonical (cooked) mode.
const AFTER: &str =
    "; echo EXITED=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/MODE=/'; sleep 60";

/// Runs the ignored test `child` of this binary in tmux, followed by
/// [`AFTER`]; `None` (saying SKIP) when tmux is not installed.
fn start_child(child: &str, w: u16, h: u16) -> Option<Tmux> {
    if !have_tmux() {
        inputs::missing("tmux not installed");
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let cmd = format!(
        "RTMPSCOPE_TUI_CHILD=1 {} --exact {child} --ignored --nocapture --test-threads=1{AFTER}",
        exe.display()
    );
    Some(Tmux::start(&cmd, w, h))
}

fn check_restored(t: &Tmux) {
    let s = t.wait_for("EXITED=", 10);
    assert!(s.contains("EXITED=0"), "{s}");
    let s = t.wait_for("MODE=", 5);
    assert!(s.contains("MODE=icanon"), "terminal left in raw mode:\n{s}");
    assert!(!t.alternate_on(), "alternate screen still on");
    assert!(
        !s.contains(" 1 Sessions "),
        "UI left on the main screen:\n{s}"
    );
}

/// Child side of `tmux_run_loop_synthetic`: runs the real UI loop with a
/// synthetic producer. Does nothing unless started by the parent test.
#[test]
#[ignore = "child process of tmux_run_loop_synthetic"]
fn tui_child_synthetic() {
    if std::env::var_os("RTMPSCOPE_TUI_CHILD").is_none() {
        return;
    }
    let mut first = Some(tui_fixture::publish_session(1, "live\x1b[2J").batch());
    let source: rtmpscope::tui::Source = Box::new(move |b| match first.take() {
        Some(batch) => {
            *b = batch;
            rtmpscope::tui::SourceStatus::More
        }
        None => {
            std::thread::sleep(Duration::from_millis(50));
            rtmpscope::tui::SourceStatus::Idle
        }
    });
    let opts = rtmpscope::tui::TuiOptions {
        source: "synthetic".into(),
        ..Default::default()
    };
    rtmpscope::tui::run(opts, source).expect("tui run");
}

/// Child side of `tmux_panic_restores_terminal`: takes the terminal like the
/// UI does, draws, then panics.
#[test]
#[ignore = "child process of tmux_panic_restores_terminal"]
fn tui_child_panic() {
    if std::env::var_os("RTMPSCOPE_TUI_CHILD").is_none() {
        return;
    }
    let (mut term, _guard) = rtmpscope::tui::TerminalGuard::enter(true).unwrap();
    let mut app = rtmpscope::tui::app::App::new(Default::default());
    app.ingest(tui_fixture::publish_session(1, "live").batch());
    term.draw(|f| rtmpscope::tui::view::render(&mut app, f))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    panic!("deliberate panic while the UI owns the terminal");
}

#[test]
fn tmux_panic_restores_terminal() {
    let Some(t) = start_child("tui_child_panic", 100, 30) else {
        return;
    };
    t.wait_for("Sessions (1)", 20);
    assert!(t.alternate_on());
    let mouse_during = t.format("#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}");
    assert!(
        mouse_during.contains('1'),
        "mouse capture not on: {mouse_during}"
    );
    let s = t.wait_for("EXITED=", 20);
    // The test harness reports the panic (exit 101) on a restored screen.
    assert!(s.contains("EXITED=101"), "{s}");
    assert!(s.contains("deliberate panic"), "{s}");
    let s = t.wait_for("MODE=", 5);
    assert!(s.contains("MODE=icanon"), "terminal left in raw mode:\n{s}");
    assert!(!t.alternate_on(), "alternate screen still on");
    let mouse_after = t.format("#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}");
    assert!(
        !mouse_after.contains('1'),
        "mouse capture left on: {mouse_after}"
    );
}

#[test]
fn tmux_run_loop_synthetic() {
    let Some(t) = start_child("tui_child_synthetic", 120, 32) else {
        return;
    };
    let s = t.wait_for("Sessions (1)", 20);
    assert!(t.alternate_on());
    // The hostile app name is shown escaped, and did not clear the screen.
    assert!(s.contains("live\\x1b[2J"), "{s}");
    t.send(&["Enter"]);
    t.send(&["g"]);
    t.wait_for("connect('live\\x1b[2J')", 5);
    t.send(&["Tab"]);
    // Walk the detail tree down to the tcUrl property.
    let want = "tcUrl: 'rtmp://10.0.0.2/live\\x1b[2J'";
    for _ in 0..12 {
        if t.capture().contains(want) {
            break;
        }
        t.send(&["j"]);
    }
    t.wait_for(want, 5);
    t.send(&["Escape"]);
    t.send(&["/"]);
    t.literal("type:vid");
    t.wait_for("unknown type", 5);
    t.literal("eo");
    t.send(&["Enter"]);
    let s = t.wait_for("type:video]", 5);
    assert!(s.contains("Video AVC"), "{s}");
    assert!(!s.contains("onStatus"), "{s}");
    // Help overlay, then a clean resize to 80x24.
    t.send(&["?"]);
    t.wait_for("Help", 5);
    t.send(&["Escape"]);
    t.resize(80, 24);
    let s = t.wait_for("Messages", 5);
    assert!(s.lines().count() <= 24);
    t.send(&["q"]);
    check_restored(&t);
}

fn default_capture() -> PathBuf {
    if let Some(p) = std::env::var_os("RTMPSCOPE_TMUX_PCAP") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/01-ffmpeg-nginx-publish-play.pcap")
}

#[test]
fn tmux_end_to_end_real_binary() {
    if !have_tmux() {
        inputs::missing("tmux not installed");
        return;
    }
    let pcap = default_capture();
    if !pcap.exists() {
        inputs::missing(&format!(
            "capture {} not found (set RTMPSCOPE_TMUX_PCAP)",
            pcap.display()
        ));
        return;
    }
    let cmd = format!(
        "{} tui -r {}{AFTER}",
        env!("CARGO_BIN_EXE_rtmpscope"),
        pcap.display()
    );
    let t = Tmux::start(&cmd, 160, 45);
    t.wait_for("Sessions (", 20);
    t.wait_for("stream1(publish)", 20);
    // Into the session's messages, to the first row: connect.
    t.send(&["Enter"]);
    t.send(&["g"]);
    let s = t.wait_for("connect(", 10);
    assert!(s.contains("tcUrl=rtmp://"), "{s}");
    // Select the connect row if it is not the first message.
    for _ in 0..10 {
        let s = t.capture();
        if s.contains("▾ Command connect") {
            break;
        }
        t.send(&["j"]);
    }
    t.send(&["Tab"]);
    for _ in 0..12 {
        if t.capture().contains("tcUrl: 'rtmp://") {
            break;
        }
        t.send(&["j"]);
    }
    t.wait_for("tcUrl: 'rtmp://", 5);
    t.send(&["Escape"]);
    t.send(&["/"]);
    t.literal("type:video");
    t.send(&["Enter"]);
    let s = t.wait_for("type:video]", 5);
    assert!(s.contains("Video "), "{s}");
    t.send(&["q"]);
    check_restored(&t);
}

#[test]
fn tmux_ctrl_c_restores_terminal() {
    let Some(t) = start_child("tui_child_synthetic", 90, 26) else {
        return;
    };
    t.wait_for("Sessions (1)", 20);
    t.send(&["2"]);
    t.wait_for("Messages", 5);
    t.send(&["C-c"]);
    check_restored(&t);
}

/// `rtmpscope tui -r -`: standard input is spooled to a temporary file
/// (the status bar says so), so the hex view shows the bytes of the
/// first message (the `connect` command's AMF string), and the spool file
/// is removed when the UI quits.
#[test]
fn tmux_stdin_is_spooled_for_the_hex_view() {
    if !have_tmux() {
        inputs::missing("tmux not installed");
        return;
    }
    let pcap = default_capture();
    if !pcap.exists() {
        inputs::missing(&format!("capture {} not found", pcap.display()));
        return;
    }
    let tmp = std::env::temp_dir().join(format!("rtmpscope-spool-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let cmd = format!(
        "TMPDIR={} {} tui -r - < {}{AFTER}",
        tmp.display(),
        env!("CARGO_BIN_EXE_rtmpscope"),
        pcap.display()
    );
    let t = Tmux::start(&cmd, 200, 50);
    let s = t.wait_for("stdin spooled to", 20);
    assert!(s.contains("stdin (pcap-parser)"), "{s}");
    let spooled: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert_eq!(spooled.len(), 1, "one spool file");
    assert_eq!(
        std::fs::read(spooled[0].path()).unwrap(),
        std::fs::read(&pcap).unwrap(),
        "the spool holds the whole input"
    );
    t.send(&["2"]);
    t.send(&["g"]);
    for _ in 0..10 {
        if t.capture().contains("▾ Command connect") {
            break;
        }
        t.send(&["j"]);
    }
    // "connect" as an AMF0 string (02 00 07 63 ...) after the 12-byte
    // chunk header: bytes 12..16 share a hex row at any row width.
    let s = t.wait_for("02 00 07 63", 10);
    assert!(!s.contains("not available"), "{s}");
    t.send(&["q"]);
    check_restored(&t);
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "spool file left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A terminal closed under the UI (tmux kill-session while a shell runs
/// it: no SIGHUP reaches rtmpscope, reads fail at once) ends the UI within
/// seconds instead of leaving it spinning in the background.
#[test]
fn tmux_closed_terminal_ends_the_ui() {
    if !have_tmux() {
        inputs::missing("tmux not installed");
        return;
    }
    let pcap = default_capture();
    if !pcap.exists() {
        inputs::missing(&format!("capture {} not found", pcap.display()));
        return;
    }
    let cmd = format!(
        "{} tui -r {}; sleep 60",
        env!("CARGO_BIN_EXE_rtmpscope"),
        pcap.display()
    );
    let t = Tmux::start(&cmd, 100, 30);
    t.wait_for("Sessions (", 20);
    let shell: u32 = t.format("#{pane_pid}").parse().unwrap();
    let children =
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap_or_default();
    let ui: u32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("rtmpscope under the pane's shell");
    drop(t); // kill-session
    let end = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{ui}")).exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let alive = std::fs::read_to_string(format!("/proc/{ui}/stat")).ok();
    if let Some(stat) = &alive {
        // Leave nothing behind even when failing.
        let _ = Command::new("kill").arg(ui.to_string()).status();
        panic!("rtmpscope {ui} still running 5 s after its terminal closed: {stat}");
    }
}
