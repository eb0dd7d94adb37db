use rtmpscope::event::{EventKind, Stats};
use rtmpscope::output::summary::{write_summary, Progress, SummaryOptions, PROGRESS_EVERY};
use rtmpscope::redact::placeholder;
use rtmpscope::session::SessionTracker;

use crate::fixtures::*;

fn summary(opts: &SummaryOptions) -> String {
    let ev = publish_conversation(Scenario::default());
    let mut t = SessionTracker::new();
    let mut stats: Option<Stats> = None;
    for e in &ev {
        t.handle(e);
        if let EventKind::Stats(s) = &e.kind {
            stats = Some(s.clone());
        }
    }
    let sessions = t.finish();
    let mut out = Vec::new();
    write_summary(&mut out, &sessions, stats.as_ref(), opts).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn summary_content_and_width() {
    let text = summary(&SummaryOptions::default());
    for needle in [
        "Session 1 (flow 1): 192.0.2.10:50000 -> 198.51.100.5:1935",
        "handshake: digest  client 9.0.124.2  server 13.10.14.13",
        "app: live",
        "chunk size c->s 4096 s->c 60000",
        &format!("stream 1 publish \"{KEY}\" (live) [media also on msid 0]"),
        "video avc1 (profile 100 level 31 1280x720)",
        "      62 msgs, 61.0 kB, 247 kbit/s, 30.30 fps, 3 keyframes every 0.99 s, 2.0 s",
        "audio mp4a (object type 2 48000 Hz 2 ch)",
        "      32 msgs, 6.2 kB, 25 kbit/s, 2.0 s",
        "_result NetConnection.Connect.Success (to connect)",
        "onStatus NetStream.Publish.Start",
        "rtmp.message.unknown_type x1",
        "gaps: 1 (100 B missed)",
        "ping rtt: 1 samples",
        "Totals: 160 packets",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colour unless asked");
    for l in text.lines() {
        assert!(l.chars().count() <= 100, "too wide: {l}");
    }
    // The long replay command is wrapped with shell continuations, not cut.
    let lines: Vec<&str> = text.lines().collect();
    let i = lines.iter().position(|l| *l == "  replay:").unwrap();
    assert!(lines[i + 1].starts_with("    ffmpeg -re") && lines[i + 1].ends_with(" \\"));
    let joined: String = lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .map(|l| l.trim().trim_end_matches('\\').trim().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        joined,
        format!(
            "ffmpeg -re -i INPUT -c copy -f flv -rtmp_app live \
             -rtmp_tcurl 'rtmp://198.51.100.5:1935/live?token={TOKEN}' -rtmp_playpath {KEY} \
             -rtmp_flashver 'FMLE/3.0 (compatible; FMSc/1.0)' rtmp://198.51.100.5:1935/live"
        )
    );
}

#[test]
fn summary_colour_and_redaction() {
    let col = summary(&SummaryOptions {
        color: true,
        ..Default::default()
    });
    assert!(col.contains("\x1b[1m") && col.contains("\x1b[0m"));
    let red = summary(&SummaryOptions {
        redact: true,
        width: 400,
        ..Default::default()
    });
    assert!(!red.contains(KEY) && !red.contains(TOKEN), "{red}");
    assert!(red.contains(&placeholder(KEY)));
}

#[test]
fn progress_throttled_and_cleared() {
    let mut p = Progress::new(Vec::new(), true, Some(1000));
    p.update(1, 10);
    p.update(2, 20); // throttled
    p.update(PROGRESS_EVERY + 1, 500);
    p.finish();
    let text = String::from_utf8(p.into_inner()).unwrap();
    assert_eq!(text.matches("packets").count(), 2, "{text:?}");
    assert!(text.contains("(50%)"));
    assert!(text.ends_with('\r'));
    let mut off = Progress::new(Vec::new(), false, None);
    off.update(1, 1);
    off.finish();
    assert!(off.into_inner().is_empty());
}

#[test]
fn collector_matches_manual_path() {
    use rtmpscope::output::summary::SummaryCollector;
    let mut c = SummaryCollector::new();
    for e in &publish_conversation(Scenario::default()) {
        c.handle(e);
    }
    assert_eq!(c.snapshot().len(), 1);
    let mut out = Vec::new();
    c.write(&mut out, &SummaryOptions::default()).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        summary(&SummaryOptions::default())
    );
}
