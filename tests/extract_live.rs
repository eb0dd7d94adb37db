//! Live `rtmpscope extract -i lo`: while an ffmpeg publisher streams to an
//! ffmpeg listen-mode server on loopback, the FLV file on disk grows by
//! whole, well-formed tags (read mid-stream: only the tag being written at
//! that instant may be cut), and after Ctrl-C (SIGINT) the file and its
//! sidecar are complete and ffmpeg reads the file without an error.
//!
//! Needs root (live capture), the modern ffmpeg (pip imageio-ffmpeg, with
//! libx264) and the loopback interface; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1). Port 13394 (issue 13's range).

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 13394;

fn modern_ffmpeg() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import imageio_ffmpeg;print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && p.exists()).then_some(p)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Ends the rtmpscope we started (by its pid) if the test fails before
/// Ctrl-C: SIGINT, which it handles like Ctrl-C.
struct PidGuard(u32, bool);
impl Drop for PidGuard {
    fn drop(&mut self) {
        if !self.1 {
            let _ = Command::new("kill")
                .args(["-INT", &self.0.to_string()])
                .status();
        }
    }
}

/// Kills a child we started (by its own handle) when the test ends.
struct Reaper(Vec<Child>);
impl Drop for Reaper {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ffmpeg_ok(ff: &Path, file: &Path) -> Result<(), String> {
    let out = Command::new(ff)
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-c", "copy", "-f", "null", "-"])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && err.trim().is_empty() {
        Ok(())
    } else {
        Err(err)
    }
}

/// Walks an FLV file being written: every complete tag must be well formed
/// (size, PreviousTagSize); only the tag being written at the moment of
/// reading may be cut at the end. Returns the number of complete tags.
fn complete_tags(f: &[u8]) -> usize {
    assert!(f.len() >= 13 && &f[..3] == b"FLV", "FLV header");
    let mut pos = 13;
    let mut n = 0;
    while pos + 11 <= f.len() {
        let size = u32::from_be_bytes([0, f[pos + 1], f[pos + 2], f[pos + 3]]) as usize;
        assert!(matches!(f[pos], 8 | 9 | 18), "tag type {} at {pos}", f[pos]);
        let end = pos + 11 + size;
        if end + 4 > f.len() {
            break; // the tag being written
        }
        let prev = u32::from_be_bytes([f[end], f[end + 1], f[end + 2], f[end + 3]]) as usize;
        assert_eq!(prev, 11 + size, "PreviousTagSize at {pos}");
        n += 1;
        pos = end + 4;
    }
    n
}

#[test]
fn live_files_are_valid_while_capturing_and_after_ctrl_c() {
    if !is_root() {
        return inputs::missing("live capture needs root");
    }
    let Some(ff) = modern_ffmpeg() else {
        return inputs::missing("modern ffmpeg absent (pip install imageio-ffmpeg)");
    };
    let dir = std::env::temp_dir().join(format!("rtmpscope-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let mut reaper = Reaper(Vec::new());
    let rs = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["-i", "lo", "extract", "-o"])
        .arg(&out)
        .arg(format!("tcp port {PORT}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtmpscope");
    let rs_pid = rs.id();
    let mut guard = PidGuard(rs_pid, false);
    std::thread::sleep(Duration::from_millis(1500));
    let url = format!("rtmp://127.0.0.1:{PORT}/live/livekey");
    reaper.0.push(
        Command::new(&ff)
            .args(["-nostdin", "-v", "error", "-listen", "1", "-i", &url])
            .args(["-c", "copy", "-f", "null", "-"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start listen server"),
    );
    std::thread::sleep(Duration::from_millis(700));
    reaper.0.push(
        Command::new(&ff)
            .args(["-nostdin", "-v", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=f=440"])
            .args(["-t", "8", "-c:v", "libx264", "-g", "25", "-c:a", "aac"])
            .args(["-f", "flv", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start publisher"),
    );
    // Mid-stream: the file grows and is valid whenever it is read.
    let file = out.join("s1-publish-livekey-m1.flv");
    let end = Instant::now() + Duration::from_secs(15);
    let (mut valid_reads, mut last_tags) = (0, 0);
    while valid_reads < 3 {
        assert!(
            Instant::now() < end,
            "no growing valid file at {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(700));
        if std::fs::metadata(&file).is_ok_and(|m| m.len() > 2000) {
            let n = complete_tags(&std::fs::read(&file).unwrap());
            assert!(n > last_tags, "the file grows tag by tag ({n} tags)");
            last_tags = n;
            valid_reads += 1;
        }
    }
    // Ctrl-C while the publisher is still sending.
    let st = Command::new("kill")
        .args(["-INT", &rs_pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = rs.wait_with_output().expect("rtmpscope exits");
    guard.1 = true;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("s1-publish-livekey-m1.flv: session 1 publish livekey"),
        "{stdout}"
    );
    ffmpeg_ok(&ff, &file).unwrap_or_else(|e| panic!("file invalid after Ctrl-C: {e}"));
    let mut sp = file.clone().into_os_string();
    sp.push(".json");
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sp).expect("sidecar")).unwrap();
    assert!(side["video"]["packets"].as_u64().unwrap() > 10, "{side}");
    assert!(side["audio"]["packets"].as_u64().unwrap() > 10, "{side}");
    assert_eq!(side["gaps"].as_array().map(Vec::len), Some(0), "{side}");
    drop(reaper);
    let _ = std::fs::remove_dir_all(&dir);
}
