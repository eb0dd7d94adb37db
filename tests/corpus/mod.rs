//! Shared helpers for the corpus tests (golden, diff_pairs, schema_corpus,
//! redact_corpus): list the captures in `captures/` and run the binary on them
//! with a relative input path from `CARGO_MANIFEST_DIR`, so output is stable.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Top-level captures (`captures/*.pcap`, `captures/*.pcapng`), relative paths, sorted.
pub fn captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("captures"))
        .expect("captures/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| format!("captures/{n}"))
        .collect();
    v.sort();
    assert!(v.len() >= 17, "expected the full corpus, found {v:?}");
    v
}

/// `captures/01-x.pcap` -> `01-x`.
pub fn stem(capture: &str) -> String {
    let name = capture.rsplit('/').next().unwrap_or(capture);
    match name.rsplit_once('.') {
        Some((s, _)) => s.to_string(),
        None => name.to_string(),
    }
}

/// Run `rtmpscope ARGS` in `CARGO_MANIFEST_DIR`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("run rtmpscope")
}

/// `rtmpscope -r CAPTURE json EXTRA...`; panics unless the exit code is 0.
pub fn json(capture: &str, extra: &[&str]) -> String {
    let mut args = vec!["-r", capture, "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "rtmpscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("json output is UTF-8")
}

/// Stable short hash (FNV-1a 64) to name a secret in a failure message without printing it.
pub fn fnv(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Captures under `captures/pairs/`, relative paths, sorted.
pub fn pairs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("captures/pairs"))
        .expect("captures/pairs exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| format!("captures/pairs/{n}"))
        .collect();
    v.sort();
    v
}
