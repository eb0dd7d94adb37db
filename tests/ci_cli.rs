//! The binary as a CI job runs it (issue 17): how a run ended (truncated
//! capture, signal, autostop) is in the output and in the exit code,
//! `--require rtmp` and `--fail-on` on every non-interactive command,
//! several `-r` files merged by time, typo suggestions, and a live capture
//! on loopback stopped by `-c`, `-a` and SIGTERM.
//!
//! Inputs: the bundled `captures/`. The live tests need a loopback capture
//! (root or capabilities): without it they print `SKIPPED: <why>`, and fail
//! when `RTMPSCOPE_REQUIRE_INPUTS=1`.

#[path = "support/inputs.rs"]
mod inputs;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value as J;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CAP01: &str = "captures/01-ffmpeg-nginx-publish-play.pcap";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rtmpscope"));
    c.current_dir(ROOT);
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run rtmpscope")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmpscope-ci-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn lines(o: &Output) -> Vec<J> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_type<'a>(v: &'a [J], t: &str) -> Vec<&'a J> {
    v.iter()
        .filter(|l| l["event_type"].as_str() == Some(t))
        .collect()
}

fn anomaly_names(v: &[J]) -> Vec<String> {
    of_type(v, "anomaly")
        .iter()
        .filter_map(|l| l["anomaly"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Classic pcap records of a file: (file header, [record bytes incl. header]).
fn pcap_records(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d,
        "little-endian pcap"
    );
    let mut recs = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + 16 + caplen;
        recs.push(bytes[at..end].to_vec());
        at = end;
    }
    (bytes[..24].to_vec(), recs)
}

#[test]
fn truncated_capture_is_an_anomaly_with_its_offset_and_fails_warning() {
    let full = std::fs::read(Path::new(ROOT).join(CAP01)).unwrap();
    let (head, recs) = pcap_records(&full);
    // Cut the 300th record in its middle.
    let mut cut = head.clone();
    for r in &recs[..299] {
        cut.extend_from_slice(r);
    }
    let record_start = cut.len() as u64;
    cut.extend_from_slice(&recs[299][..20]);
    let p = temp("cut.pcap");
    std::fs::write(&p, &cut).unwrap();
    let ps = p.to_str().unwrap();

    let o = run(&["-r", ps, "json"]);
    assert_eq!(o.status.code(), Some(0), "no --fail-on: exit 0");
    let v = lines(&o);
    let a: Vec<&J> = of_type(&v, "anomaly")
        .into_iter()
        .filter(|l| l["anomaly"]["name"] == "capture.truncated")
        .collect();
    assert_eq!(a.len(), 1, "one capture.truncated anomaly");
    assert_eq!(a[0]["anomaly"]["severity"], "warning");
    assert_eq!(a[0]["anomaly"]["range"]["start"], record_start);
    assert!(a[0]["anomaly"]["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("byte {record_start}")));
    let stats = of_type(&v, "stats");
    assert_eq!(stats[0]["stats"]["anomalies"]["capture.truncated"], 1);
    assert_eq!(stats[0]["stats"]["packets"], 299);

    for cmd in ["json", "summary"] {
        let o = run(&["-r", ps, cmd, "--fail-on", "warning"]);
        assert_eq!(o.status.code(), Some(1), "{cmd} --fail-on warning");
    }
    let o = run(&["-r", ps, "summary"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("capture.truncated"));
}

/// Starts `rtmpscope -r - json` reading `first` records of 01 from a pipe,
/// sends `signal` once they are read, then closes the pipe.
fn interrupted_run(signal: &str, first: usize) -> (Output, Vec<J>) {
    let full = std::fs::read(Path::new(ROOT).join(CAP01)).unwrap();
    let (head, recs) = pcap_records(&full);
    let mut child = bin()
        .args(["-r", "-", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&head).unwrap();
    for r in &recs[..first] {
        stdin.write_all(r).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(200));
    // The reader may be blocked in read(): the end of the pipe wakes it up.
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let v = lines(&o);
    (o, v)
}

#[test]
fn interrupted_run_exits_130_is_marked_and_invents_no_anomalies() {
    // 01 after 6 records: both handshakes are in flight; after 250 records
    // media is flowing. (Stays below 64 KiB: the pipe reader hands out
    // packets of a pipe that stays open in 64 KiB steps.)
    for first in [6, 250] {
        interrupted_at(first);
    }
}

fn interrupted_at(first: usize) {
    let (o, v) = interrupted_run("INT", first);
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stats = of_type(&v, "stats");
    assert_eq!(stats.len(), 1, "one final stats line");
    assert_eq!(stats[0]["stats"]["interrupted"], "SIGINT");
    assert_eq!(stats[0]["stats"]["packets"], first);
    let names = anomaly_names(&v);
    assert!(
        !names
            .iter()
            .any(|n| n == "rtmp.eof_truncated" || n == "rtmp.handshake.incomplete"),
        "{names:?}"
    );
    for f in of_type(&v, "flow") {
        assert_eq!(f["flow"]["reason"], "interrupted");
    }

    // The same bytes as a file that really ends there: its flows end with
    // the input (the end-of-flow diagnostics belong there).
    let full = std::fs::read(Path::new(ROOT).join(CAP01)).unwrap();
    let (head, recs) = pcap_records(&full);
    let mut part = head;
    for r in &recs[..first] {
        part.extend_from_slice(r);
    }
    let p = temp(&format!("first{first}.pcap"));
    std::fs::write(&p, &part).unwrap();
    let o = run(&["-r", p.to_str().unwrap(), "json"]);
    let w = lines(&o);
    assert!(of_type(&w, "stats")[0]["stats"]
        .get("interrupted")
        .is_none());
    for f in of_type(&w, "flow") {
        assert_eq!(f["flow"]["reason"], "end_of_input");
    }
    if first == 6 {
        assert!(anomaly_names(&w)
            .iter()
            .any(|n| n == "rtmp.handshake.incomplete"));
    }
    assert_eq!(
        of_type(&v, "session").len(),
        of_type(&w, "session").len(),
        "sessions still written"
    );
    // Apart from those, the same facts.
    let mut a = anomaly_names(&v);
    let mut b: Vec<String> = anomaly_names(&w)
        .into_iter()
        .filter(|n| n != "rtmp.eof_truncated" && n != "rtmp.handshake.incomplete")
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn sigterm_and_sighup_end_a_run_like_sigint() {
    for (sig, code, name) in [("TERM", 143, "SIGTERM"), ("HUP", 129, "SIGHUP")] {
        let (o, v) = interrupted_run(sig, 100);
        assert_eq!(o.status.code(), Some(code), "{sig}");
        assert_eq!(of_type(&v, "meta").len(), 1);
        let stats = of_type(&v, "stats");
        assert_eq!(stats.len(), 1, "{sig}: final stats");
        assert_eq!(stats[0]["stats"]["interrupted"], name);
    }
}

/// A TCP conversation that is not RTMP (HTTP on port 80).
fn http_pcap() -> Vec<u8> {
    fn frame(seq: u32, ack: u32, flags: u8, fwd: bool, payload: &[u8]) -> Vec<u8> {
        let (sp, dp): (u16, u16) = if fwd { (40000, 80) } else { (80, 40000) };
        let (sa, da) = if fwd {
            ([10, 0, 0, 1], [10, 0, 0, 2])
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1])
        };
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sp.to_be_bytes());
        tcp.extend_from_slice(&dp.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&sa);
        ip.extend_from_slice(&da);
        ip.extend_from_slice(&tcp);
        let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
        f.extend_from_slice(&ip);
        f
    }
    let req = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let frames = [
        frame(1000, 0, 0x02, true, b""),
        frame(5000, 1001, 0x12, false, b""),
        frame(1001, 5001, 0x10, true, b""),
        frame(1001, 5001, 0x18, true, req),
        frame(5001, 1001 + req.len() as u32, 0x18, false, resp),
        frame(
            1001 + req.len() as u32,
            5001 + resp.len() as u32,
            0x11,
            true,
            b"",
        ),
    ];
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [
            1_700_000_000u32,
            i as u32 * 1000,
            f.len() as u32,
            f.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

#[test]
fn capture_without_rtmp_fails_under_require_rtmp() {
    let p = temp("http.pcap");
    std::fs::write(&p, http_pcap()).unwrap();
    let ps = p.to_str().unwrap();
    // Without the requirement it passes, even with --fail-on warning.
    assert_eq!(
        run(&["-r", ps, "json", "--fail-on", "warning"])
            .status
            .code(),
        Some(0)
    );
    for cmd in ["json", "summary"] {
        let o = run(&["-r", ps, cmd, "--require", "rtmp"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("no RTMP flow"));
    }
    // diff: a side without RTMP fails the requirement even when equal.
    let o = run(&["diff", ps, ps, "--require", "rtmp"]);
    assert_eq!(o.status.code(), Some(1));
    // A real RTMP capture meets it.
    for cmd in ["json", "summary"] {
        let o = run(&[
            "-r",
            CAP01,
            cmd,
            "--require",
            "rtmp",
            "--fail-on",
            "warning",
        ]);
        assert_eq!(o.status.code(), Some(0), "{cmd}");
    }
    let o = run(&[
        "diff",
        CAP01,
        CAP01,
        "--require",
        "rtmp",
        "--fail-on",
        "error",
    ]);
    assert_eq!(o.status.code(), Some(0));
    // --fail-on on diff looks at NEW's anomalies.
    let lossy = "captures/10-ffmpeg-nginx-publish-play-lossy.pcap";
    let o = run(&["diff", lossy, lossy, "--fail-on", "error"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn mistyped_subcommand_is_suggested_not_taken_as_a_filter() {
    let o = run(&["-r", CAP01, "sumary"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("did you mean 'summary'"), "{e}");
    assert!(!e.contains("filter '"), "{e}");
    let o = run(&["jsno"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean 'json'"));
    // A real one-word filter still works (no TUI: -c 0 is not needed, the
    // filter is checked on the json command).
    let o = run(&["-r", CAP01, "json", "tcp"]);
    assert_eq!(o.status.code(), Some(0));
}

/// `json` lines without what depends on how the input was split: meta and
/// pcap_cnt.
fn comparable(v: &[J]) -> Vec<J> {
    v.iter()
        .filter(|l| l["event_type"] != "meta")
        .map(|l| {
            let mut l = l.clone();
            if let Some(m) = l.as_object_mut() {
                m.remove("pcap_cnt");
            }
            l
        })
        .collect()
}

#[test]
fn two_rotated_files_read_as_one() {
    let full = std::fs::read(Path::new(ROOT).join(CAP01)).unwrap();
    let (head, recs) = pcap_records(&full);
    let mid = recs.len() / 2;
    let (mut a, mut b) = (head.clone(), head);
    recs[..mid].iter().for_each(|r| a.extend_from_slice(r));
    recs[mid..].iter().for_each(|r| b.extend_from_slice(r));
    let (pa, pb) = (temp("rot-0.pcap"), temp("rot-1.pcap"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, &b).unwrap();
    let whole = lines(&run(&["-r", CAP01, "json"]));
    // Given in the wrong order: merged by time all the same.
    let o = run(&[
        "-r",
        pb.to_str().unwrap(),
        "-r",
        pa.to_str().unwrap(),
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let merged = lines(&o);
    assert!(merged[0]["meta"]["input"]
        .as_str()
        .unwrap()
        .contains("merged"));
    assert_eq!(comparable(&merged), comparable(&whole));
    // pcap_cnt counts packets of the merged input.
    let last = of_type(&merged, "flow");
    assert!(last
        .iter()
        .all(|f| f["pcap_cnt"].as_u64().unwrap() <= recs.len() as u64));
}

#[test]
fn file_autostop_by_count_and_packet_time() {
    let o = run(&["-r", CAP01, "-c", "50", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = lines(&o);
    let s = &of_type(&v, "stats")[0]["stats"];
    assert_eq!(s["packets"], 50);
    assert_eq!(s["autostop"], "packets:50");
    let o = run(&["-r", CAP01, "-a", "packets:20", "-a", "packets:30", "json"]);
    assert_eq!(of_type(&lines(&o), "stats")[0]["stats"]["packets"], 20);
    // duration: packet time for files (01 lasts about 4 s).
    let o = run(&["-r", CAP01, "-a", "duration:1", "json"]);
    let v = lines(&o);
    let s = &of_type(&v, "stats")[0]["stats"];
    assert_eq!(s["autostop"], "duration:1");
    let n = s["packets"].as_u64().unwrap();
    assert!(n > 10 && n < 936, "{n}");
    let o = run(&["-r", CAP01, "-a", "seconds:3", "json"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Can this process capture on loopback?
fn loopback_capture() -> bool {
    let o = run(&["-i", "lo", "-c", "0", "json"]);
    o.status.code() == Some(0)
}

/// Connects to a local listener and sends `n` small writes, 20 ms apart.
fn traffic(port: u16, n: usize) -> std::thread::JoinHandle<()> {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind test port");
    std::thread::spawn(move || {
        let srv = std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                while matches!(std::io::Read::read(&mut c, &mut buf), Ok(n) if n > 0) {}
            }
        });
        std::thread::sleep(Duration::from_millis(800));
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for _ in 0..n {
            let _ = c.write_all(&[b'x'; 100]);
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(c);
        let _ = srv.join();
    })
}

fn pcap_packet_count(p: &Path) -> usize {
    let bytes = std::fs::read(p).unwrap();
    if bytes.len() < 24 {
        return 0;
    }
    pcap_records(&bytes).1.len()
}

/// A `-w` savefile that cannot be written (the disk is full: /dev/full)
/// ends the live capture with an error naming the file, as tcpdump does;
/// it was flushed and the error dropped before.
#[test]
fn live_savefile_write_error_is_reported() {
    if !loopback_capture() {
        return inputs::missing("no loopback capture (needs root or cap_net_raw)");
    }
    if !Path::new("/dev/full").exists() {
        return inputs::missing("/dev/full");
    }
    let t = traffic(17175, 30);
    let o = bin()
        .args([
            "-i",
            "lo",
            "-c",
            "8",
            "-w",
            "/dev/full",
            "json",
            "tcp port 17175",
        ])
        .output()
        .unwrap();
    t.join().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("-w /dev/full"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
}

#[test]
fn live_loopback_autostop_and_sigterm() {
    if !loopback_capture() {
        return inputs::missing("no loopback capture (needs root or cap_net_raw)");
    }
    // -c COUNT: stops by itself after COUNT packets, -w file complete.
    let w = temp("live-c.pcap");
    let t = traffic(17170, 30);
    let o = bin()
        .args([
            "-i",
            "lo",
            "-c",
            "8",
            "-w",
            w.to_str().unwrap(),
            "json",
            "tcp port 17170",
        ])
        .output()
        .unwrap();
    t.join().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("listening on lo"));
    let v = lines(&o);
    let s = &of_type(&v, "stats")[0]["stats"];
    assert_eq!(s["packets"], 8);
    assert_eq!(s["autostop"], "packets:8");
    assert_eq!(pcap_packet_count(&w), 8);

    // -a duration: stops on the clock even without any packet; the stats
    // line carries the run's time, not 1970.
    let started = std::time::Instant::now();
    let o = run(&["-i", "lo", "-a", "duration:1", "json", "tcp port 17171"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    let v = lines(&o);
    let st = of_type(&v, "stats");
    assert_eq!(st[0]["stats"]["autostop"], "duration:1");
    assert!(!st[0]["timestamp"].as_str().unwrap().starts_with("1970"));

    // -a packets:N
    let t = traffic(17172, 30);
    let o = run(&["-i", "lo", "-a", "packets:5", "json", "tcp port 17172"]);
    t.join().unwrap();
    assert_eq!(of_type(&lines(&o), "stats")[0]["stats"]["packets"], 5);

    // SIGTERM: meta at once (before any packet), final stats, complete -w
    // file, exit 143.
    let w = temp("live-term.pcap");
    let t = traffic(17173, 10);
    let child = bin()
        .args([
            "-i",
            "lo",
            "-w",
            w.to_str().unwrap(),
            "json",
            "tcp port 17173",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    t.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    let v = lines(&o);
    assert_eq!(v[0]["event_type"], "meta");
    let s = &of_type(&v, "stats")[0]["stats"];
    assert_eq!(s["interrupted"], "SIGTERM");
    let n = s["packets"].as_u64().unwrap();
    assert!(n >= 10, "{n}");
    assert_eq!(pcap_packet_count(&w) as u64, n, "savefile complete");

    // No packet at all: meta and stats still written.
    let child = bin()
        .args(["-i", "lo", "json", "tcp port 17174"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    let v = lines(&o);
    assert_eq!(v.first().unwrap()["event_type"], "meta");
    let st = of_type(&v, "stats");
    assert_eq!(st.len(), 1);
    assert!(!st[0]["timestamp"].as_str().unwrap().starts_with("1970"));
}
