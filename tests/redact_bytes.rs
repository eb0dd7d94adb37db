//! Redaction on bytes (issue 18): a stream name that is not valid UTF-8, its
//! echoes in onStatus (also next to other invalid bytes), and plain string
//! connect arguments (rtmpdump `conn=S:token`) never appear in clear, in
//! `json --redact` (rtmp, session lines), `summary --redact` and
//! `diff --redact`. Captures are built here; the secrets are made up.

mod hostile;

use std::process::Command;

use hostile::{amf, chunked, write_capture, Conn, PcapWriter};
use serde_json::Value as J;

/// Made-up secrets; none may appear in redacted output.
const NAME_SECRET: &[u8] = b"live\xffSECRETKEY42";
const CONN_SECRET: &str = "S:token-CONNSECRET";

fn session<W: std::io::Write>(p: &mut PcapWriter<W>, n: u32, publish: bool) -> std::io::Result<()> {
    use amf::*;
    let mut c = Conn::new(n, n as u64 * 1_000_000);
    c.open(p)?;
    c.handshake(p)?;
    let connect = command(
        b"connect",
        1.0,
        &[
            object(&[
                (b"app", string(b"live")),
                (b"tcUrl", string(b"rtmp://10.1.0.1:1935/live")),
            ]),
            string(CONN_SECRET.as_bytes()),
            boolean(true),
        ],
    );
    c.client(p, &chunked(3, 20, 0, 0, &connect, 128))?;
    c.client(
        p,
        &chunked(3, 20, 0, 0, &command(b"createStream", 2.0, &[null()]), 128),
    )?;
    c.server(
        p,
        &chunked(
            3,
            20,
            0,
            0,
            &command(b"_result", 2.0, &[null(), number(1.0)]),
            128,
        ),
    )?;
    let verb: &[u8] = if publish { b"publish" } else { b"play" };
    c.client(
        p,
        &chunked(
            8,
            20,
            1,
            0,
            &command(verb, 0.0, &[null(), string(NAME_SECRET)]),
            128,
        ),
    )?;
    // Echoes: whole, and next to another invalid byte.
    let mut desc = b"Started \xfe".to_vec();
    desc.extend_from_slice(NAME_SECRET);
    desc.extend_from_slice(b" \xfd now");
    let status = command(
        b"onStatus",
        0.0,
        &[
            null(),
            object(&[
                (b"level", string(b"status")),
                (b"code", string(b"NetStream.Publish.Start")),
                (b"description", string(&desc)),
                (b"details", string(NAME_SECRET)),
            ]),
        ],
    );
    c.server(p, &chunked(5, 20, 1, 0, &status, 128))?;
    c.close(p)
}

fn bin(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Every string in the JSON, with `{"bytes": ...}` values decoded.
fn strings(v: &J, out: &mut Vec<Vec<u8>>) {
    use base64::Engine;
    match v {
        J::String(s) => out.push(s.as_bytes().to_vec()),
        J::Array(a) => a.iter().for_each(|x| strings(x, out)),
        J::Object(m) => {
            if let (1, Some(J::String(b))) = (m.len(), m.get("bytes")) {
                if let Ok(d) = base64::engine::general_purpose::STANDARD.decode(b) {
                    out.push(d);
                }
            }
            for (k, x) in m {
                out.push(k.as_bytes().to_vec());
                strings(x, out);
            }
        }
        _ => {}
    }
}

fn assert_no_secret(what: &str, text: &[u8]) {
    for needle in [&b"SECRETKEY42"[..], b"CONNSECRET"] {
        assert!(
            !text.windows(needle.len()).any(|w| w == needle),
            "{what}: a secret is in clear"
        );
    }
}

#[test]
fn non_utf8_names_echoes_and_connect_strings_are_redacted() {
    let a = write_capture("redact-bytes-a.pcap", |p| session(p, 1, true));
    let b = write_capture("redact-bytes-b.pcap", |p| session(p, 2, false));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    // Unredacted, the secrets are there (the test can fail).
    let (_, plain) = bin(&["-r", a, "json"]);
    let mut all = Vec::new();
    for l in plain.lines() {
        strings(&serde_json::from_str(l).unwrap(), &mut all);
    }
    assert!(all
        .iter()
        .any(|s| s.windows(11).any(|w| w == b"SECRETKEY42")));
    assert!(plain.contains("CONNSECRET"));

    let (code, red) = bin(&["-r", a, "json", "--redact"]);
    assert_eq!(code, 0);
    let mut all = Vec::new();
    let mut session = None;
    for l in red.lines() {
        let v: J = serde_json::from_str(l).unwrap();
        strings(&v, &mut all);
        if v["event_type"] == "session" {
            session = Some(v);
        }
    }
    for s in &all {
        assert_no_secret("json --redact", s);
    }
    // One placeholder for the name everywhere: publish argument, session
    // stream name, status description.
    let ph = rtmpscope::redact::placeholder_bytes(NAME_SECRET);
    let session = session.expect("session line");
    assert_eq!(session["session"]["streams"][0]["name"], ph.as_str());
    assert!(red.matches(ph.as_str()).count() >= 3, "{red}");

    let (code, out) = bin(&["-r", a, "summary", "--redact"]);
    assert_eq!(code, 0);
    assert_no_secret("summary --redact", out.as_bytes());
    assert!(out.contains(&ph), "{out}");

    let (code, out) = bin(&["diff", "--redact", a, b]);
    assert_eq!(code, 1);
    // A publisher and a player are not paired: each is described, with the
    // name as its placeholder.
    assert!(out.contains("removed: session 1"), "{out}");
    assert!(out.contains(&ph), "{out}");
    assert_no_secret("diff --redact", out.as_bytes());
    assert!(!out.contains("\"bytes\""), "{out}");
    // A redacted NDJSON golden compares equal to the fresh capture.
    let golden = hostile::temp_path("redact-bytes-a.ndjson");
    std::fs::write(&golden, bin(&["-r", a, "json", "--redact"]).1).unwrap();
    let (code, out) = bin(&["diff", "--redact", golden.to_str().unwrap(), a]);
    assert_eq!(code, 0, "{out}");
}
