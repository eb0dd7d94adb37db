use rtmpscope::diff::{diff_conversations, lines_from_events, parse_ndjson, DiffOptions};
use rtmpscope::output::json::JsonOptions;

use crate::fixtures::*;
use crate::write_all;

fn diff(old: Scenario, new: Scenario, opts: &DiffOptions) -> rtmpscope::diff::DiffReport {
    let a = lines_from_events(&publish_conversation(old));
    let b = lines_from_events(&publish_conversation(new));
    diff_conversations(&a, &b, opts)
}

#[test]
fn equal_conversations_are_equal_despite_addresses_times_ports() {
    let other = Scenario {
        client_ip: "203.0.113.77",
        client_port: 61000,
        server_ip: "10.1.2.3",
        server_port: 1936,
        time_base: 1_800_000_000,
        pcap_base: 500,
        ..Default::default()
    };
    let r = diff(Scenario::default(), other, &DiffOptions::default());
    assert!(r.is_equal(), "{r}");
    assert_eq!(r.old_sessions, 1);
    assert!(r.to_string().starts_with("no differences"));
}

#[test]
fn saved_ndjson_and_events_agree() {
    let (text, _) = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions::default(),
    );
    let saved = parse_ndjson(&text).unwrap();
    let fresh = lines_from_events(&publish_conversation(Scenario::default()));
    assert!(diff_conversations(&saved, &fresh, &DiffOptions::default()).is_equal());
    assert!(parse_ndjson("{}\nnot json\n")
        .unwrap_err()
        .contains("line 2"));
}

#[test]
fn codec_change_reported() {
    let r = diff(
        Scenario::default(),
        Scenario {
            video_codec: "hevc",
            ..Default::default()
        },
        &DiffOptions::default(),
    );
    assert!(!r.is_equal());
    assert_eq!(r.findings.len(), 1, "{r}");
    assert_eq!(r.findings[0].text, "video codec changed from avc1 to hvc1");
    assert_eq!(r.findings[0].session, 1);
}

#[test]
fn rejected_connect_reported() {
    let r = diff(
        Scenario::default(),
        Scenario {
            connect_rejected: true,
            ..Default::default()
        },
        &DiffOptions::default(),
    );
    assert!(
        r.findings.iter().any(|f| f.text
            == "server now answers connect with _error NetConnection.Connect.Rejected \
                (was _result NetConnection.Connect.Success)"),
        "{r}"
    );
    assert_eq!(r.findings.len(), 1, "{r}");
}

#[test]
fn missing_fcpublish_reported() {
    let r = diff(
        Scenario::default(),
        Scenario {
            send_fcpublish: false,
            ..Default::default()
        },
        &DiffOptions::default(),
    );
    assert_eq!(r.findings.len(), 1, "{r}");
    assert_eq!(r.findings[0].text, "publisher no longer sends FCPublish");
    let back = diff(
        Scenario {
            send_fcpublish: false,
            ..Default::default()
        },
        Scenario::default(),
        &DiffOptions::default(),
    );
    assert!(
        back.findings[0]
            .text
            .starts_with("publisher now sends FCPublish"),
        "{back}"
    );
    assert!(back
        .to_string()
        .contains("session 1:\n  - publisher now sends FCPublish"));
}

#[test]
fn media_count_tolerance() {
    // 61 -> 62 frames: +1 video, within 2 messages.
    let small = diff(
        Scenario::default(),
        Scenario {
            video_frames: 62,
            ..Default::default()
        },
        &DiffOptions::default(),
    );
    assert!(small.is_equal(), "{small}");
    let big = diff(
        Scenario::default(),
        Scenario {
            video_frames: 30,
            ..Default::default()
        },
        &DiffOptions::default(),
    );
    assert!(
        big.mentions("video messages from publisher changed from 62 to 31"),
        "{big}"
    );
    assert!(
        big.mentions("audio messages from publisher changed from 32 to 16"),
        "{big}"
    );
    let loose = diff(
        Scenario::default(),
        Scenario {
            video_frames: 30,
            ..Default::default()
        },
        &DiffOptions {
            tolerance_pct: 60.0,
            ..Default::default()
        },
    );
    assert!(loose.is_equal(), "{loose}");
}

#[test]
fn ignore_and_extra_fields() {
    let a = lines_from_events(&publish_conversation(Scenario::default()));
    let mut b = a.clone();
    // Change the connect flashVer and one csid in the copy.
    for l in b.iter_mut() {
        if l["rtmp"]["command"]["name"] == "connect" {
            l["rtmp"]["command"]["object"]["flashVer"] = "FMLE/9.9".into();
        }
        if l["rtmp"]["command"]["name"] == "createStream" {
            l["rtmp"]["csid"] = 9.into();
        }
    }
    let r = diff_conversations(&a, &b, &DiffOptions::default());
    assert_eq!(r.findings.len(), 1, "{r}");
    assert!(
        r.findings[0]
            .text
            .starts_with("publisher now sends connect as"),
        "{r}"
    );
    let ign = DiffOptions {
        ignore_fields: vec!["command.object.flashVer".into()],
        ..Default::default()
    };
    assert!(diff_conversations(&a, &b, &ign).is_equal());
    let extra = DiffOptions {
        ignore_fields: vec!["command.object".into()],
        extra_fields: vec!["csid".into()],
        ..Default::default()
    };
    let r = diff_conversations(&a, &b, &extra);
    assert_eq!(r.findings.len(), 1, "{r}");
    assert!(r.findings[0].text.contains("createStream"), "{r}");
}

#[test]
fn redacted_report_hides_keys() {
    let a = lines_from_events(&publish_conversation(Scenario::default()));
    let mut b = a.clone();
    b.retain(|l| l["rtmp"]["command"]["name"] != "releaseStream");
    let r = diff_conversations(&a, &b, &DiffOptions::default());
    assert!(r.mentions("publisher no longer sends releaseStream"), "{r}");
    let mut b2 = a.clone();
    for l in b2.iter_mut() {
        if l["rtmp"]["command"]["name"] == "publish" {
            l["rtmp"]["command"]["args"][1] = "record".into();
        }
    }
    let plain = diff_conversations(&a, &b2, &DiffOptions::default());
    assert!(plain.to_string().contains(KEY), "{plain}");
    let red = diff_conversations(
        &a,
        &b2,
        &DiffOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert!(!red.to_string().contains(KEY), "{red}");
    assert!(red.mentions("publisher now sends publish as"), "{red}");
}
