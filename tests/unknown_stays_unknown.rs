//! Unknown stays unknown (issue 17): after a mid-stream pickup the message
//! stream id that was never on the wire is said to be unknown (JSON
//! `msid_unknown`, summary `stream ?`), the role is inferred from the
//! direction of the media and marked as inferred; a publisher whose
//! `publish` was lost in a gap is named from its `FCPublish`.

use std::process::Command;

use serde_json::Value as J;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const C01: &str = "captures/01-ffmpeg-nginx-publish-play.pcap";
const C07: &str = "captures/07-nginx-midstream-chunk4096.pcap";

fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

fn lines(args: &[&str]) -> Vec<J> {
    run(args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sessions(v: &[J]) -> Vec<&J> {
    v.iter()
        .filter(|l| l["event_type"] == "session")
        .map(|l| &l["session"])
        .collect()
}

#[test]
fn midstream_msid_is_unknown_and_roles_are_inferred() {
    let v = lines(&["-r", C07, "json"]);
    let media: Vec<&J> = v
        .iter()
        .filter(|l| l["rtmp"]["audio"].is_object() || l["rtmp"]["video"].is_object())
        .collect();
    assert!(media.len() > 500);
    assert!(media.iter().all(|l| l["rtmp"]["msid_unknown"] == true));
    let mut roles = Vec::new();
    for s in sessions(&v) {
        let st = &s["streams"][0];
        assert_eq!(st["msid_unknown"], true, "{st}");
        assert_eq!(st["role_inferred"], true, "{st}");
        roles.push(st["role"].as_str().unwrap().to_owned());
    }
    roles.sort();
    assert_eq!(roles, ["play", "publish"]);
    let text = run(&["-r", C07, "summary"]);
    assert!(
        text.contains("stream ? (msid unknown) publish (inferred from the media)"),
        "{text}"
    );
    assert!(text.contains("stream ? (msid unknown) play (inferred from the media)"));
    assert!(!text.contains("stream 0"));

    // A capture with handshakes and commands has none of it.
    let v = lines(&["-r", C01, "json"]);
    assert!(!v.iter().any(|l| l["rtmp"]["msid_unknown"].is_boolean()));
    for s in sessions(&v) {
        assert!(s["streams"][0].get("role_inferred").is_none());
        assert!(s["streams"][0].get("msid_unknown").is_none());
    }
}

#[test]
fn publisher_named_from_fcpublish_when_publish_is_lost() {
    // 01 without the packet that carries the publisher's `publish`
    // (pcap 55): releaseStream/FCPublish('stream1') survived.
    let b = std::fs::read(format!("{ROOT}/{C01}")).unwrap();
    let mut out = b[..24].to_vec();
    let (mut at, mut n) = (24usize, 0);
    while at + 16 <= b.len() {
        let cl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        n += 1;
        if n != 55 {
            out.extend_from_slice(&b[at..at + 16 + cl]);
        }
        at += 16 + cl;
    }
    let dir = std::env::temp_dir().join(format!("rtmpscope-unknown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("01-no-publish.pcap");
    std::fs::write(&p, &out).unwrap();
    let ps = p.to_str().unwrap();
    let v = lines(&["-r", ps, "json"]);
    assert!(
        !v.iter().any(|l| l["rtmp"]["command"]["name"] == "publish"),
        "publish is lost"
    );
    let s = sessions(&v)
        .into_iter()
        .find(|s| s["flow_id"] == 2)
        .unwrap();
    let st = &s["streams"][0];
    assert_eq!(st["role"], "publish");
    assert_eq!(st["role_inferred"], true);
    assert_eq!(st["name"], "stream1");
    assert_eq!(st["name_from"], "FCPublish");
    let text = run(&["-r", ps, "summary"]);
    assert!(text
        .contains("stream 1 publish (inferred from the media) \"stream1\" (name from FCPublish)"));
    // Redacted like any stream name.
    let red = lines(&["-r", ps, "json", "--redact"]);
    let s = sessions(&red)
        .into_iter()
        .find(|s| s["flow_id"] == 2)
        .unwrap();
    assert!(s["streams"][0]["name"]
        .as_str()
        .unwrap()
        .starts_with("redacted:"));
}
