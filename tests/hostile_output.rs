//! Escape injection: captures whose AMF strings carry terminal escape
//! sequences, C1 controls, DEL, bidi overrides and invalid UTF-8 (built here,
//! byte by byte). `summary`, `diff` and error messages must not emit any of
//! those bytes, piped and under a pseudo-terminal (`script`), and `summary`
//! must still show the strings (escaped) and keep replay lines whole.

#[path = "support/inputs.rs"]
mod inputs;

mod hostile;

use std::path::Path;
use std::process::{Command, Output};

use hostile::{evil_session, forbidden, write_capture};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
}

fn evil_capture(name: &str, publish_first: bool) -> std::path::PathBuf {
    write_capture(name, |p| {
        evil_session(p, 1, publish_first)?;
        evil_session(p, 2, !publish_first)
    })
}

/// Only the first session of [`evil_capture`]: diffed against the full
/// capture, the other session is unpaired and described with its wire
/// strings (sessions are paired by what they are, so swapping the order of
/// the two sessions alone is no difference).
fn evil_capture_one(name: &str, text: bool) -> std::path::PathBuf {
    hostile::VALID_UTF8.set(text);
    let p = write_capture(name, |p| evil_session(p, 1, true));
    hostile::VALID_UTF8.set(false);
    p
}

/// The same with every string valid UTF-8 (text, not bytes, everywhere).
fn evil_text_capture(name: &str, publish_first: bool) -> std::path::PathBuf {
    hostile::VALID_UTF8.set(true);
    let p = evil_capture(name, publish_first);
    hostile::VALID_UTF8.set(false);
    p
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("output is UTF-8")
}

fn assert_clean(what: &str, out: &str) {
    if let Some((i, c)) = forbidden(out) {
        let from = out[..i].char_indices().rev().nth(40).map_or(0, |x| x.0);
        panic!(
            "{what}: forbidden char {:?} at {i}, after {:?}",
            c,
            &out[from..i]
        );
    }
}

fn run(args: &[&str]) -> Output {
    bin().args(args).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn summary_piped_escapes_every_wire_control() {
    let bytes = evil_capture("evil.pcap", true);
    let text_cap = evil_text_capture("evil-text.pcap", true);
    for (cap, extra) in [
        (&bytes, &[][..]),
        (&bytes, &["--redact"][..]),
        (&text_cap, &[][..]),
        (&text_cap, &["--redact"][..]),
    ] {
        let mut args = vec!["-r", cap.to_str().unwrap(), "summary"];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert_clean("summary stdout", &out);
        assert_clean("summary stderr", &text(&o.stderr));
        assert!(out.contains("Session 2"), "{out}");
        // The spoofed report line is not a line of its own.
        assert!(!out.lines().any(|l| l.starts_with("Session 9")), "{out}");
        if !extra.is_empty() {
            continue;
        }
        // The strings are shown, escaped, not dropped.
        assert!(out.contains("\\x1b]0;pwned-title\\x07"), "{out}");
        assert!(out.contains("\\u{202e}"), "{out}");
        assert!(out.contains("\\x9b"), "{out}");
        assert!(out.contains("\\x7f"), "{out}");
    }
}

#[test]
fn diff_piped_escapes_every_wire_control() {
    let a = evil_capture("evil-a.pcap", true);
    let b = evil_capture_one("evil-b.pcap", false);
    let ta = evil_text_capture("evil-text-a.pcap", true);
    let tb = evil_capture_one("evil-text-b.pcap", true);
    for (a, b, extra) in [
        (&a, &b, &[][..]),
        (&a, &b, &["--redact"][..]),
        (&ta, &tb, &[][..]),
        (&ta, &tb, &["--redact"][..]),
    ] {
        let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains("removed: session 2"), "{out}");
        assert_clean("diff stdout", &out);
        assert_clean("diff stderr", &text(&o.stderr));
        if extra.is_empty() && a == &ta {
            // Wire text in the findings, escaped.
            assert!(out.contains("\\u{202e}"), "{out}");
        }
    }
}

#[test]
fn error_messages_escape_file_names_and_input() {
    // A file name carrying an escape sequence (tab completion happily
    // produces these from a hostile archive).
    let dir = hostile::temp_path("names");
    std::fs::create_dir_all(&dir).unwrap();
    let evil_name = dir.join("cap\x1b]0;t\x07\u{202e}.pcap");
    for args in [
        vec!["-r", evil_name.to_str().unwrap(), "summary"],
        vec!["-r", evil_name.to_str().unwrap(), "json"],
        vec![
            "diff",
            evil_name.to_str().unwrap(),
            evil_name.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2));
        let err = text(&o.stderr);
        assert!(err.contains("\\x1b]0;t\\x07"), "{err}");
        assert_clean("error message", &err);
    }
    // A damaged NDJSON side of a diff: the error quotes it.
    let bad = hostile::temp_path("bad.ndjson");
    std::fs::write(&bad, b"{\"a\x1b[2J\n").unwrap();
    let o = run(&["diff", bad.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_clean("diff error", &text(&o.stderr));
}

/// Runs `args` under a pseudo-terminal with `script`, colours on. Returns
/// the terminal transcript with rtmpscope's own colour codes and the
/// terminal's CR-LF line ends removed.
fn under_pty(args: &[&str]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let log = hostile::temp_path("pty.log");
    let mut cmd = shell_quote(env!("CARGO_BIN_EXE_rtmpscope"));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    let o = Command::new("script")
        .args(["-qefc", &cmd, log.to_str().unwrap()])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert!(o.status.code().is_some());
    // `script` writes the transcript to stdout too; the log file has a
    // header line ("Script started ...") that is ours to drop.
    let raw = text(&o.stdout);
    let mut t = raw.replace("\r\n", "\n");
    for code in [
        "\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m",
    ] {
        t = t.replace(code, "");
    }
    Some(t)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn summary_and_diff_under_a_pseudo_terminal() {
    let a = evil_text_capture("evil-pty-a.pcap", true);
    let b = evil_capture_one("evil-pty-b.pcap", true);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let Some(out) = under_pty(&["-r", a, "summary"]) else {
        return inputs::missing("`script` (util-linux) not installed");
    };
    assert!(out.contains("Session 1"), "{out}");
    assert!(out.contains("\\x1b[?1049h"), "{out}");
    assert_clean("summary on a tty", &out);
    let out = under_pty(&["diff", a, b]).unwrap();
    assert!(out.contains("removed: session 2"), "{out}");
    assert_clean("diff on a tty", &out);
    let out = under_pty(&["-r", "/nonexistent/\x1b[6n.pcap", "summary"]).unwrap();
    assert!(out.contains("error"), "{out}");
    assert_clean("error on a tty", &out);
}

#[test]
fn summary_of_a_damaged_capture_writes_what_was_read_then_fails() {
    let cap = evil_capture("evil-damaged-src.pcap", true);
    let bytes = std::fs::read(&cap).unwrap();
    // Cut inside the last record, and make the record header before the cut
    // claim an absurd length: libpcap reports an error, not a clean end.
    let damaged = hostile::temp_path("evil-damaged.pcap");
    let mut d = bytes.clone();
    let last = last_record_offset(&d);
    d[last + 8..last + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    d[last + 12..last + 16].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(&damaged, &d).unwrap();
    let o = run(&["-r", damaged.to_str().unwrap(), "summary"]);
    let out = text(&o.stdout);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stdout {out}\nstderr {err}");
    assert!(out.contains("Session 1"), "{out}");
    assert!(out.contains("Totals:"), "{out}");
    assert!(err.contains("error"), "{err}");
    assert_clean("damaged summary", &out);
    assert_clean("damaged summary error", &err);
}

/// Offset of the last record header of a classic pcap.
fn last_record_offset(d: &[u8]) -> usize {
    let mut off = 24;
    let mut last = off;
    while off + 16 <= d.len() {
        last = off;
        let len = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + len;
    }
    last
}

#[test]
fn replay_lines_never_wrap_inside_quotes() {
    // A long quoted URL with spaces: every replay line must be a complete
    // shell command after joining the ` \` continuations.
    let cap = write_capture("long-replay.pcap", |p| hostile::long_name_session(p, 3));
    let o = run(&["-r", cap.to_str().unwrap(), "summary"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut cmds = Vec::new();
    let mut cur = String::new();
    let mut in_replay = false;
    for l in out.lines() {
        if l.trim() == "replay:" {
            in_replay = true;
            continue;
        }
        if !in_replay {
            continue;
        }
        if !l.starts_with("    ") {
            in_replay = false;
            continue;
        }
        let t = l.trim_start();
        if let Some(head) = t.strip_suffix(" \\") {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(t);
            cmds.push(std::mem::take(&mut cur));
        }
    }
    assert!(cmds.len() >= 2, "{out}");
    for c in &cmds {
        assert!(!c.ends_with("..."), "cut replay line: {c}");
        assert_eq!(c.matches('\'').count() % 2, 0, "unbalanced quotes: {c}");
        assert!(c.contains("with spaces in it"), "{c}");
    }
    // Lines were wrapped (the command is longer than the width), but never
    // between two quotes.
    for l in out.lines().filter(|l| l.ends_with(" \\")) {
        assert_eq!(l.matches('\'').count() % 2, 0, "wrapped inside quotes: {l}");
    }
    let _ = Path::new(&cap);
}
