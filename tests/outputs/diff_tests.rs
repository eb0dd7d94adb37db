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
        .contains("session 1 (flow 1):\n  - publisher now sends FCPublish"));
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

#[test]
fn handshake_change_reported() {
    let a = lines_from_events(&publish_conversation(Scenario::default()));
    let mut b = a.clone();
    for l in b.iter_mut() {
        if l["handshake"]["part"] == "c1" {
            l["handshake"]["kind"] = "simple".into();
            l["handshake"]["peer_version"] = "0.0.0.0".into();
        }
    }
    let r = diff_conversations(&a, &b, &DiffOptions::default());
    assert_eq!(r.findings.len(), 1, "{r}");
    assert_eq!(
        r.findings[0].text,
        "client handshake changed from digest 9.0.124.2 to simple 0.0.0.0"
    );
}

#[test]
fn extra_session_reported() {
    let a = lines_from_events(&publish_conversation(Scenario::default()));
    let mut b = a.clone();
    let mut second: Vec<serde_json::Value> = a.clone();
    for l in second.iter_mut() {
        if l.get("flow_id").is_some() {
            l["flow_id"] = 2.into();
        }
    }
    b.extend(second);
    let r = diff_conversations(&a, &b, &DiffOptions::default());
    assert_eq!(r.new_sessions, 2);
    assert!(r.mentions("2 RTMP session(s), was 1"), "{r}");
    assert!(
        r.mentions("added: new session 2 (flow 2): publisher, app 'live'")
            && r.mentions(": connect, releaseStream, FCPublish"),
        "{r}"
    );
}

#[test]
fn rejected_publish_reported() {
    let a = lines_from_events(&publish_conversation(Scenario::default()));
    let mut b = a.clone();
    for l in b.iter_mut() {
        if l["rtmp"]["command"]["name"] == "onStatus" {
            l["rtmp"]["command"]["args"][0]["level"] = "error".into();
            l["rtmp"]["command"]["args"][0]["code"] = "NetStream.Publish.BadName".into();
            l["rtmp"]["command"]["args"][0]["description"] = "Stream already publishing".into();
        }
    }
    // The publisher then sends no media.
    b.retain(|l| l["rtmp"].get("video").is_none() && l["rtmp"].get("audio").is_none());
    let r = diff_conversations(&a, &b, &DiffOptions::default());
    let texts: Vec<&str> = r.findings.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "server now sends onStatus NetStream.Publish.BadName instead of onStatus NetStream.Publish.Start",
            "publisher no longer sends audio (mp4a)",
            "publisher no longer sends video (avc1)",
        ],
        "{r}"
    );
    // A description-only change is not a difference (free text varies per run).
    let mut c = a.clone();
    for l in c.iter_mut() {
        if l["rtmp"]["command"]["name"] == "onStatus" {
            l["rtmp"]["command"]["args"][0]["description"] = "other words".into();
        }
    }
    assert!(diff_conversations(&a, &c, &DiffOptions::default()).is_equal());
}

#[test]
fn redacted_golden_matches_fresh_capture_under_redact() {
    let (golden_text, _) = write_all(
        &publish_conversation(Scenario::default()),
        JsonOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert!(!golden_text.contains(KEY));
    let golden = parse_ndjson(&golden_text).unwrap();
    let fresh = lines_from_events(&publish_conversation(Scenario::default()));
    // Without --redact the keys differ from their placeholders.
    let plain = diff_conversations(&golden, &fresh, &DiffOptions::default());
    assert!(!plain.is_equal());
    let red = diff_conversations(
        &golden,
        &fresh,
        &DiffOptions {
            redact: true,
            ..Default::default()
        },
    );
    assert!(red.is_equal(), "{red}");
}

#[test]
fn streaming_builder_matches_line_diff() {
    use rtmpscope::diff::{diff_built, ConversationBuilder};
    let opts = DiffOptions::default();
    let mut a = ConversationBuilder::new(&opts);
    for e in &publish_conversation(Scenario::default()) {
        a.push_event(e);
    }
    let mut b = ConversationBuilder::new(&opts);
    let new_lines = lines_from_events(&publish_conversation(Scenario {
        video_codec: "hevc",
        ..Default::default()
    }));
    for l in &new_lines {
        b.push_line(l);
    }
    let (a, b) = (a.finish(), b.finish());
    assert_eq!((a.sessions(), b.sessions()), (1, 1));
    let r = diff_built(&a, &b, &opts);
    let old_lines = lines_from_events(&publish_conversation(Scenario::default()));
    assert_eq!(r, diff_conversations(&old_lines, &new_lines, &opts));
    assert_eq!(r.findings[0].text, "video codec changed from avc1 to hvc1");
}
