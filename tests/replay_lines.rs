//! Replay command lines (issue 17): built once from the connect `app`,
//! `tcUrl` and the publish/play name, they keep auth queries (in tcUrl and
//! in the stream name) where the client sent them; the `--redact` line has
//! the same shape with placeholders in the same places; and the publish line
//! really replays: run against nginx-rtmp on loopback, the server sees the
//! same connect/publish as in the capture and answers
//! `NetStream.Publish.Start`.
//!
//! The live part needs ffmpeg, nginx with the rtmp module and a loopback
//! capture: without them it prints `SKIPPED: <why>` (fails under
//! `RTMPSCOPE_REQUIRE_INPUTS=1`).

#[path = "support/inputs.rs"]
mod inputs;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value as J;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const AUTH: &str = "captures/pairs/redact-query-key.pcap";
/// nginx port of this test (issue 17: 171x5).
const PORT: u16 = 17175;

fn json(args: &[&str]) -> Vec<J> {
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Words of a command line quoted by `session::shell_quote` (single quotes).
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if !quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The value after `opt` in `w`.
fn opt<'a>(w: &'a [String], opt: &str) -> Option<&'a str> {
    w.iter()
        .position(|x| x == opt)
        .and_then(|i| w.get(i + 1))
        .map(String::as_str)
}

/// (connect app, tcUrl, publish/play name) by session of a json run.
fn client_commands(lines: &[J]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut connect: Option<(String, String)> = None;
    for l in lines {
        let c = &l["rtmp"]["command"];
        match c["name"].as_str() {
            Some("connect") if l["direction"] == "to_server" => {
                connect = Some((
                    c["object"]["app"].as_str().unwrap_or("").to_owned(),
                    c["object"]["tcUrl"].as_str().unwrap_or("").to_owned(),
                ))
            }
            Some("publish" | "play") => {
                if let Some((a, t)) = &connect {
                    out.push((
                        a.clone(),
                        t.clone(),
                        c["args"][0].as_str().unwrap_or("").to_owned(),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

fn replay_lines(lines: &[J]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["event_type"] == "session")
        .flat_map(|l| {
            l["session"]["replay"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn replay_lines_pass_app_tcurl_and_name_whole_plain_and_redacted() {
    let plain = json(&["-r", AUTH, "json"]);
    let red = json(&["-r", AUTH, "json", "--redact"]);
    let cmds = client_commands(&plain);
    let red_cmds = client_commands(&red);
    assert_eq!(cmds.len(), 2, "publisher and player");
    // The capture's tcUrl carries an auth query, the names a token query.
    assert!(cmds
        .iter()
        .all(|(_, t, n)| t.contains("?auth=") && n.contains("?token=")));
    let (pl, rl) = (replay_lines(&plain), replay_lines(&red));
    assert_eq!(pl.len(), 3, "{pl:#?}");
    assert_eq!(pl.len(), rl.len());
    for (p, r) in pl.iter().zip(&rl) {
        let (wp, wr) = (words(p), words(r));
        // Same shape: the same words but for the placeholders.
        assert_eq!(wp.len(), wr.len(), "{p}\n{r}");
        for (a, b) in wp.iter().zip(&wr) {
            assert!(a == b || b.contains("redacted:"), "{a} vs {b}\n{p}\n{r}");
        }
        // Every value whole, where the client sent it.
        let (app_o, tc_o, name_o) = if p.starts_with("rtmpdump") {
            ("-a", "-t", "-y")
        } else {
            ("-rtmp_app", "-rtmp_tcurl", "-rtmp_playpath")
        };
        let sent = if p.contains("-f flv -rtmp") || p.contains("INPUT") {
            &cmds[0]
        } else {
            &cmds[1]
        };
        let sent_red = if sent == &cmds[0] {
            &red_cmds[0]
        } else {
            &red_cmds[1]
        };
        assert_eq!(opt(&wp, app_o), Some(sent.0.as_str()), "{p}");
        assert_eq!(opt(&wp, tc_o), Some(sent.1.as_str()), "{p}");
        assert_eq!(opt(&wp, name_o), Some(sent.2.as_str()), "{p}");
        assert_eq!(opt(&wr, tc_o), Some(sent_red.1.as_str()), "{r}");
        assert!(opt(&wr, tc_o).unwrap().contains("?auth=redacted:"), "{r}");
        assert_eq!(opt(&wr, name_o), Some(sent_red.2.as_str()), "{r}");
        assert!(!r.contains("Zx81kqMm") && !r.contains("q7Hx9wPz"));
    }
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn publish_replay_line_is_accepted_by_nginx_with_the_same_commands() {
    let module = Path::new("/usr/lib/nginx/modules/ngx_rtmp_module.so");
    if !have("ffmpeg", "-version") || !have("nginx", "-v") || !module.exists() {
        return inputs::missing("ffmpeg or nginx with the rtmp module not installed");
    }
    let probe = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(["-i", "lo", "-c", "0", "json"])
        .output()
        .unwrap();
    if probe.status.code() != Some(0) {
        return inputs::missing("no loopback capture (needs root or cap_net_raw)");
    }
    let dir = std::env::temp_dir().join(format!("rtmpscope-replay-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module {};\ndaemon off;\nmaster_process off;\nerror_log {}/logs/error.log;\n\
             pid {}/nginx.pid;\nevents {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{PORT}; application live {{ live on; }} }} }}\n",
            module.display(),
            dir.display(),
            dir.display()
        ),
    )
    .unwrap();
    let mut nginx = Command::new("nginx")
        .args(["-p", dir.to_str().unwrap(), "-c", conf.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // The publish line of the capture, pointed at our server, with a test
    // source instead of INPUT.
    let plain = json(&["-r", AUTH, "json"]);
    let line = replay_lines(&plain)
        .into_iter()
        .find(|l| l.contains("INPUT"))
        .expect("publish replay line");
    let line = line
        .replace("127.0.0.1:1935", &format!("127.0.0.1:{PORT}"))
        .replace(
            "-re -i INPUT -c copy",
            "-hide_banner -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=10 -t 1 -c:v flv",
        );
    let cap = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args([
            "-i",
            "lo",
            "-a",
            "duration:5",
            "json",
            &format!("tcp port {PORT}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let ff = Command::new("sh").args(["-c", &line]).status().unwrap();
    let out = cap.wait_with_output().unwrap();
    let _ = nginx.kill();
    let _ = nginx.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ff.success(), "ffmpeg failed: {line}");
    let seen: Vec<J> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let got = client_commands(&seen);
    let want: Vec<(String, String, String)> = client_commands(&plain)
        .into_iter()
        .take(1)
        .map(|(a, t, n)| (a, t.replace(":1935", &format!(":{PORT}")), n))
        .collect();
    assert_eq!(got, want, "the replay sends what the client sent");
    let codes: Vec<&str> = seen
        .iter()
        .filter_map(|l| l["rtmp"]["command"]["args"][0]["code"].as_str())
        .collect();
    assert!(codes.contains(&"NetStream.Publish.Start"), "{codes:?}");
}
