//! `--redact` on real captures: no secret of a capture (stream names given to
//! publish/play/..., URL query values and user-info, credential-named connect
//! properties) appears in the redacted `json` or `summary` output. Secrets are
//! collected from the NON-redacted output; failure messages name a secret only
//! by a hash (FNV-1a), never in clear.

#[path = "corpus/mod.rs"]
mod corpus;

use serde_json::Value as J;
use std::collections::BTreeSet;

/// Same list as `rtmpscope::redact::STREAM_NAME_COMMANDS` (kept literal so the
/// test does not trust the code under test).
const NAME_COMMANDS: &[&str] = &[
    "publish",
    "play",
    "play2",
    "releaseStream",
    "FCPublish",
    "FCUnpublish",
    "FCSubscribe",
    "FCUnsubscribe",
    "getStreamLength",
];
/// Secrets shorter than this are checked structurally only (a substring check
/// of `x` or `v6` would hit unrelated text); see `names_are_placeholders`.
const MIN_SUBSTRING_LEN: usize = 4;

fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "auth",
        "token",
        "pass",
        "secret",
        "key",
        "sig",
        "credential",
        "user",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Secrets in URL strings: user-info and query parameter values.
fn url_secrets(s: &str, out: &mut BTreeSet<String>) {
    if let Some((_, rest)) = s.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((ui, _)) = authority.rsplit_once('@') {
            out.insert(ui.to_string());
        }
    }
    if let Some((_, q)) = s.split_once('?') {
        for kv in q.split('&') {
            if let Some((_, v)) = kv.split_once('=') {
                if !v.is_empty() {
                    out.insert(v.to_string());
                }
            }
        }
    }
}

fn walk(v: &J, out: &mut BTreeSet<String>) {
    match v {
        J::String(s) => url_secrets(s, out),
        J::Array(a) => a.iter().for_each(|x| walk(x, out)),
        J::Object(m) => {
            for (k, x) in m {
                if secret_key(k) {
                    if let J::String(s) = x {
                        out.insert(s.clone());
                    }
                }
                walk(x, out);
            }
        }
        _ => {}
    }
}

/// Secrets of one capture, from its clear `json` output.
fn secrets(clear: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in clear.lines() {
        let v: J = serde_json::from_str(line).expect("JSON");
        let cmd = &v["rtmp"]["command"];
        if let Some(name) = cmd["name"].as_str() {
            if NAME_COMMANDS.contains(&name) {
                if let Some(s) = cmd["args"][0].as_str() {
                    out.insert(s.to_string());
                }
            }
            walk(&cmd["object"], &mut out);
            walk(&cmd["args"], &mut out);
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn summary(cap: &str, redact: bool) -> String {
    let mut args = vec!["-r", cap, "summary"];
    if redact {
        args.push("--redact");
    }
    let out = corpus::run(&args);
    assert_eq!(out.status.code(), Some(0), "summary {cap}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn no_secret_in_redacted_outputs() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for cap in corpus::captures().into_iter().chain(corpus::pairs()) {
        let clear = corpus::json(&cap, &[]).replace(cap.as_str(), "<input>");
        let secrets = secrets(&clear);
        // The input path (in the meta line) is not a secret: it may contain a
        // stream name by coincidence (05b `...-hevc-...`, 06 `...-missing-...`).
        let red_json = corpus::json(&cap, &["--redact"]).replace(cap.as_str(), "<input>");
        let red_summary = summary(&cap, true).replace(cap.as_str(), "<input>");
        let clear_summary = summary(&cap, false);
        for s in secrets.iter().filter(|s| s.len() >= MIN_SUBSTRING_LEN) {
            // The check must be able to fail: the clear outputs do contain it.
            assert!(
                clear.contains(s.as_str()),
                "{cap}: secret #{} not in clear json",
                corpus::fnv(s)
            );
            // Vocabulary of the output is not a leak: 05b's stream is named `hevc`,
            // which is also the codec name in `"codec":"hevc"` / `"kind":"hevc"`.
            let mut red_json = red_json.clone();
            for key in ["codec", "kind"] {
                red_json = red_json.replace(&format!("\"{key}\":\"{s}\""), "<vocabulary>");
            }
            for (what, text) in [("json", &red_json), ("summary", &red_summary)] {
                if text.contains(s.as_str()) {
                    let line = text
                        .lines()
                        .position(|l| l.contains(s.as_str()))
                        .unwrap_or(0)
                        + 1;
                    failures.push(format!(
                        "{cap}: secret #{} (len {}) appears in redacted {what}, line {line}",
                        corpus::fnv(s),
                        s.len()
                    ));
                }
            }
            if clear_summary.contains(s.as_str()) {
                checked += 1;
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 01 (stream1), 02 (dumpme), 03 (small), 04 (erTMP), 05b (hevc), 06 (missing, taken),
    // 09 (cam1..cam5): well over 10 substring checks, most also present in the clear summary.
    assert!(checked > 20, "only {checked} secret checks ran");
}

#[test]
fn names_are_placeholders() {
    // Structural check, also for short names (`x`, `v6`, `nms`, `ext`, `big`):
    // every stream-name argument in the redacted json is a placeholder.
    let mut n = 0;
    for cap in corpus::captures().into_iter().chain(corpus::pairs()) {
        for line in corpus::json(&cap, &["--redact"]).lines() {
            let v: J = serde_json::from_str(line).expect("JSON");
            let cmd = &v["rtmp"]["command"];
            let Some(name) = cmd["name"].as_str() else {
                continue;
            };
            if !NAME_COMMANDS.contains(&name) {
                continue;
            }
            if let Some(s) = cmd["args"][0].as_str() {
                n += 1;
                let ok = s.len() == "redacted:".len() + 8
                    && s.starts_with("redacted:")
                    && s["redacted:".len()..]
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit());
                assert!(
                    ok,
                    "{cap}: {name} argument #{} is not a placeholder",
                    corpus::fnv(s)
                );
            }
        }
    }
    assert!(n > 50, "only {n} stream-name arguments seen");
}

#[test]
fn short_names_do_not_leak_in_redacted_summary_stream_lines() {
    // The summary's `stream N publish "NAME"` and replay URL lines for short names.
    for (cap, name) in [
        ("captures/06-nginx-rejected-publish-missing-play.pcap", "x"),
        ("captures/08a-ipv6-any-sll2-nanosec.pcap", "v6"),
        (
            "captures/05-ffmpeg-node-media-server-publish-play.pcap",
            "nms",
        ),
        ("captures/12-nginx-extended-timestamps.pcap", "ext"),
    ] {
        let clear = summary(cap, false);
        let quoted = format!("\"{name}\"");
        assert!(
            clear.contains(&quoted),
            "{cap}: clear summary should name the stream"
        );
        let red = summary(cap, true);
        assert!(
            !red.contains(&quoted),
            "{cap}: short name #{} quoted in redacted summary",
            corpus::fnv(name)
        );
        assert!(
            !red.lines()
                .any(|l| l.trim_end().ends_with(&format!("/{name}"))),
            "{cap}: short name #{} ends a URL in redacted summary",
            corpus::fnv(name)
        );
    }
}

#[test]
fn query_string_key_and_tcurl_auth_are_collected() {
    // captures/pairs/redact-query-key.pcap: stream key with `?token=..&user=..`
    // and a tcUrl with `?auth=..` (fake values). The collector must find the
    // whole key and each query value (else the leak check above is vacuous).
    let cap = "captures/pairs/redact-query-key.pcap";
    let clear = corpus::json(cap, &[]);
    let found = secrets(&clear);
    let hashes: Vec<String> = found.iter().map(|s| corpus::fnv(s)).collect();
    assert!(found.len() >= 4, "only {} secrets: {hashes:?}", found.len());
    assert!(
        found.iter().any(|s| s.contains("?token=")),
        "whole key with its query"
    );
    let red = corpus::json(cap, &["--redact"]);
    assert!(
        red.contains("?auth=redacted:"),
        "tcUrl query value replaced, key kept"
    );
    for s in &found {
        assert!(
            !red.contains(s.as_str()),
            "secret #{} leaked",
            corpus::fnv(s)
        );
    }
}
