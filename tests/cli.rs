//! Integration tests of the `rtmpscope` binary: exit codes, one-line errors,
//! files and stdin. Every capture is written byte by byte here.

#[path = "support/inputs.rs"]
mod inputs;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmpscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Ethernet/IPv4/TCP frame from 10.0.0.1:50000 to 10.0.0.2:1935.
fn frame(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut tcp = vec![0xc3, 0x50, 0x07, 0x8f];
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    ip.extend_from_slice(&tcp);
    let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
    f.extend_from_slice(&ip);
    f
}

/// Classic little-endian microsecond pcap with Ethernet frames.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [
            1_700_000_000 + i as u32,
            250_000,
            f.len() as u32,
            f.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

fn sample() -> Vec<u8> {
    pcap(&[
        frame(100, 0x02, b""),
        frame(101, 0x18, &[3u8; 1537]),
        frame(1638, 0x11, b""),
    ])
}

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Exit code 2 and exactly one `rtmpscope: error:` line mentioning `needle`.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let lines = stderr_lines(o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("rtmpscope: error: "), "{lines:?}");
    assert!(lines[0].contains(needle), "{lines:?} lacks {needle}");
    assert!(!lines[0].contains("panicked"));
}

fn assert_json_lines(stdout: &[u8]) {
    let text = std::str::from_utf8(stdout).expect("utf-8 output");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[test]
fn missing_file_is_exit_2_one_line() {
    let o = bin()
        .args(["-r", "/nonexistent/rtmpscope/none.pcap", "json"])
        .output()
        .unwrap();
    assert_one_line_error(&o, "none.pcap: no such file");
    assert!(o.stdout.is_empty());
}

#[test]
fn not_a_capture_is_exit_2_one_line() {
    let p = temp("notes.txt", b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    let o = bin().arg("-r").arg(&p).arg("json").output().unwrap();
    assert_one_line_error(&o, "not a pcap or pcapng capture");
}

#[test]
fn tiny_pcap_reads_to_the_end() {
    let p = temp("tiny.pcap", &sample());
    let o = bin().arg("-r").arg(&p).arg("json").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stderr_lines(&o).is_empty(), "{o:?}");
    assert_json_lines(&o.stdout);

    // -o FILE writes the same output to the file.
    let out = p.with_extension("json");
    let o2 = bin()
        .arg("-r")
        .arg(&p)
        .arg("json")
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o2.status.code(), Some(0));
    assert!(o2.stdout.is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), o.stdout);
}

#[test]
fn stdin_is_read_with_dash() {
    let mut child = bin()
        .args(["-r", "-", "json", "tcp", "port", "1935"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&sample()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stderr_lines(&o).is_empty(), "{o:?}");
    assert_json_lines(&o.stdout);

    let mut child = bin()
        .args(["-r", "-", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"plain text\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_one_line_error(&o, "stdin: not a pcap or pcapng capture");
}

#[test]
fn truncated_capture_warns_and_succeeds() {
    let mut bytes = sample();
    bytes.truncate(bytes.len() - 20);
    let p = temp("cut.pcap", &bytes);
    let o = bin().arg("-r").arg(&p).arg("json").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("rtmpscope: warning: "), "{lines:?}");
    assert!(lines[0].contains("cut short"), "{lines:?}");
}

#[test]
fn bad_filter_and_usage_errors() {
    let p = temp("filter.pcap", &sample());
    let o = bin()
        .arg("-r")
        .arg(&p)
        .args(["json", "tcp", "port"])
        .output()
        .unwrap();
    assert_one_line_error(&o, "invalid capture filter 'tcp port'");

    let o = bin().arg("json").output().unwrap();
    assert_one_line_error(&o, "no input");

    let o = bin()
        .arg("-r")
        .arg(&p)
        .args(["-w", "/tmp/never-written.pcap", "json"])
        .output()
        .unwrap();
    assert_one_line_error(&o, "-w");

    // clap usage errors also exit with 2.
    let o = bin()
        .args(["json", "--fail-on", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_documents_privileges_and_exit_codes() {
    let o = bin().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "setcap cap_net_raw,cap_net_admin=eip",
        "nobody",
        "--user",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn named_pipe_is_streamed() {
    let dir = std::env::temp_dir().join(format!("rtmpscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("capture.fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let child = bin()
        .arg("-r")
        .arg(&fifo)
        .arg("json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Open the writing end without blocking (ENXIO until the reader is
    // there), so a reader that never comes fails the test instead of
    // hanging it.
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut w = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(&fifo)
        {
            Ok(f) => break f,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("reader never opened the fifo: {e}"),
        }
    };
    w.write_all(&sample()).unwrap();
    drop(w);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stderr_lines(&o).is_empty(), "{o:?}");
    assert_json_lines(&o.stdout);
}

#[test]
fn closed_output_pipe_ends_json_quietly() {
    // `rtmpscope json | head -1`: once the reader is gone the writer gets
    // EPIPE; that is not an error (exit 0, nothing on stderr).
    use std::io::{BufRead, BufReader};
    let cap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/11-nginx-chunk60000-big-keyframes.pcap");
    if !cap.exists() {
        inputs::missing(&format!("{} is absent", cap.display()));
        return;
    }
    let mut child = bin()
        .arg("-r")
        .arg(&cap)
        .arg("json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtmpscope");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert!(first.contains("\"event_type\":\"meta\""), "{first}");
    // The reader is dropped here: the rest of the output hits a closed pipe.
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
