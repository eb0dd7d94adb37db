//! The live TUI is never stale: a real publisher (ffmpeg) streams to a real
//! server (nginx-rtmp) on loopback while `rtmpscope -i lo -w FILE tui`
//! watches; once the publisher is done, within 2 s of the last packet on
//! the wire the TUI shows the session `closed` with exactly the message
//! count `rtmpscope json -r FILE` gives on the savefile of the same run
//! (read while the TUI is still running: `-w` flushes every packet).
//!
//! Needs root (live capture), tmux, nginx with libnginx-mod-rtmp and ffmpeg;
//! SKIPPED otherwise (FAILS with RTMPSCOPE_REQUIRE_INPUTS=1). Ports 11600-
//! 11609 (issue 16's range).

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PORT: u16 = 11601;
const NGINX_RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

fn ok(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Kills the children we started (by their own handles).
struct Reaper(Vec<Child>);
impl Drop for Reaper {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Tmux(String);
impl Tmux {
    fn capture(&self) -> String {
        let o = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}
impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &self.0, "q"])
            .status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn start_nginx(dir: &Path, port: u16) -> Child {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module {NGINX_RTMP_MODULE};\ndaemon off;\nmaster_process off;\n\
             worker_processes 1;\nerror_log {d}/logs/error.log;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; }} }} }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx")
}

fn wait_listening(port: u16) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Seconds since the epoch of the last `flow_end`'s `last_seen`... the
/// packet time of the last packet of the file (the `stats` line's time).
fn last_packet_time(json: &str) -> f64 {
    let v: serde_json::Value = json
        .lines()
        .rev()
        .find(|l| l.contains("\"event_type\":\"stats\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("stats line");
    rfc3339_secs(v["timestamp"].as_str().unwrap())
}

/// `2026-12-05T01:01:43.855713Z` as seconds since the epoch.
fn rfc3339_secs(s: &str) -> f64 {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t: Vec<f64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The `msgs N` of the status bar.
fn status_msgs(screen: &str) -> Option<u64> {
    let i = screen.rfind("msgs ")?;
    screen[i + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn live_tui_shows_the_end_of_a_publish_within_2s() {
    if !is_root() {
        return inputs::missing("live capture needs root");
    }
    if !ok("tmux", "-V") {
        return inputs::missing("tmux not installed");
    }
    if !ok("nginx", "-v") || !Path::new(NGINX_RTMP_MODULE).exists() {
        return inputs::missing("nginx with libnginx-mod-rtmp not installed");
    }
    if !ok("ffmpeg", "-version") {
        return inputs::missing("ffmpeg not installed");
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("rtmpscope-i16-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut reaper = Reaper(vec![start_nginx(&dir, PORT)]);
    assert!(wait_listening(PORT), "nginx did not listen on {PORT}");
    std::thread::sleep(Duration::from_millis(300));

    let save = dir.join("live.pcap");
    let name = format!("rtmpscope-live-{}", std::process::id());
    let cmd = format!(
        "{} -i lo -w {} tui tcp port {PORT}; sleep 30",
        env!("CARGO_BIN_EXE_rtmpscope"),
        save.display()
    );
    let st = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "40"])
        .arg(&cmd)
        .env("TERM", "xterm-256color")
        .status()
        .expect("tmux");
    assert!(st.success());
    let t = Tmux(name);
    let end = Instant::now() + Duration::from_secs(15);
    while !t.capture().contains("Sessions (0)") {
        assert!(Instant::now() < end, "TUI did not start:\n{}", t.capture());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));

    let url = format!("rtmp://127.0.0.1:{PORT}/live/livekey");
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=f=440"])
        .args(["-t", "3", "-c:v", "libx264", "-g", "25", "-c:a", "aac"])
        .args(["-f", "flv", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run publisher");
    assert!(st.success(), "publisher failed");

    // Poll the screen until the session shows closed.
    let end = Instant::now() + Duration::from_secs(10);
    let (seen_at, screen) = loop {
        let s = t.capture();
        if s.lines()
            .any(|l| l.contains("livekey(publish)") && l.contains("closed"))
        {
            break (now_secs(), s);
        }
        assert!(Instant::now() < end, "session never shown closed:\n{s}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The savefile, read while the TUI still runs.
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .arg("json")
        .arg("-r")
        .arg(&save)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("truncated") && !err.contains("cut short"),
        "the -w file lags behind the display: {err}"
    );
    let messages = json
        .lines()
        .filter(|l| l.contains("\"event_type\":\"rtmp\""))
        .count() as u64;
    assert!(messages > 50, "{messages} messages in the savefile");
    let last = last_packet_time(&json);
    let lag = seen_at - last;
    eprintln!("closed shown {lag:.3} s after the last packet; {messages} messages");
    assert!(lag <= 2.0, "closed shown {lag:.3} s after the last packet");
    assert_eq!(
        status_msgs(&screen),
        Some(messages),
        "the TUI's message count differs from json -r on the savefile:\n{screen}"
    );
    drop(t);
    reaper.0.iter_mut().for_each(|c| {
        let _ = c.kill();
    });
    drop(reaper);
    let _ = std::fs::remove_dir_all(&dir);
}
