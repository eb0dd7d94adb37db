use rtmpscope::event::*;
use rtmpscope::redact::{placeholder, Redactor};
use rtmpscope::rtmp::message::*;
use rtmpscope::session::{Session, SessionTracker};
use rtmpscope::time::PacketTime;

use crate::fixtures::*;

fn run(events: &[Event]) -> Vec<Session> {
    let mut t = SessionTracker::new();
    let mut out = Vec::new();
    for e in events {
        t.handle(e);
        out.extend(t.take_finished());
    }
    out.extend(t.finish());
    out
}

/// A Set Chunk Size the dissector marks as not applied (the one rule in
/// `rtmp::control`) leaves the session's chunk size where it was.
#[test]
fn ignored_chunk_size_is_not_the_session_chunk_size() {
    let mut events = publish_conversation(Scenario::default());
    let at = events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::Message(_)))
        .unwrap();
    let mut bad = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Message(m) if e.direction == Some(Direction::ToServer) => {
                Some((e.clone(), m.clone()))
            }
            _ => None,
        })
        .unwrap();
    bad.1.type_id = type_id::SET_CHUNK_SIZE;
    bad.1.body = Body::Control(Control::SetChunkSize {
        size: 0x8000_1000,
        ignored: true,
    });
    bad.0.kind = EventKind::Message(bad.1);
    events.insert(at, bad.0);
    let sessions = run(&events);
    assert_eq!(sessions[0].chunk_size.to_server, Some(4096));
}

#[test]
fn publisher_session_model() {
    let sessions = run(&publish_conversation(Scenario::default()));
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.flow_id, 1);
    assert_eq!(s.client.as_ref().unwrap().ip, "192.0.2.10");
    assert_eq!(s.server.as_ref().unwrap().port, 1935);
    assert_eq!(s.handshake.kind.as_deref(), Some("digest"));
    assert_eq!(s.handshake.client_version.as_deref(), Some("9.0.124.2"));
    assert_eq!(s.handshake.server_version.as_deref(), Some("13.10.14.13"));
    assert_eq!(s.handshake.client_digest_valid, Some(true));
    assert_eq!(s.handshake.c0_version, Some(3));
    assert_eq!(s.app.as_deref(), Some("live"));
    assert!(s.tc_url.as_deref().unwrap().contains(TOKEN));
    assert_eq!(
        s.flash_ver.as_deref(),
        Some("FMLE/3.0 (compatible; FMSc/1.0)")
    );
    assert_eq!(s.object_encoding, Some(0.0));
    assert_eq!(s.capabilities, Some(239.0));
    assert_eq!(s.chunk_size.to_server, Some(4096));
    assert_eq!(s.chunk_size.to_client, Some(60000));
    assert_eq!(s.window_ack_size.to_client, Some(2_500_000));
    assert_eq!(s.peer_bandwidth.to_client, Some(2_500_000));
    assert_eq!(s.window_ack_size.to_server, None);
    assert_eq!(
        s.commands,
        [
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish"
        ]
    );
    assert_eq!(s.end_reason, Some(rtmpscope::event::EndReason::Fin));
    assert_eq!(s.protocol, Some(rtmpscope::event::FlowProtocol::Rtmp));

    assert_eq!(s.streams.len(), 1, "{:#?}", s.streams);
    let st = &s.streams[0];
    assert_eq!(st.msid, 1);
    assert_eq!(st.created_by_transaction, Some(4.0));
    assert_eq!(st.role.as_deref(), Some("publish"));
    assert_eq!(st.name.as_deref(), Some(KEY));
    assert_eq!(st.publish_type.as_deref(), Some("live"));
    assert_eq!(
        st.media_msids,
        vec![0],
        "msid-0 media attributed to stream 1"
    );
    assert_eq!(st.data_messages, 1);
    assert_eq!(
        st.metadata
            .as_ref()
            .and_then(|m| m.get("width"))
            .and_then(|w| w.as_f64()),
        Some(1280.0)
    );

    let v = &st.video;
    assert_eq!(v.codec.as_deref(), Some("avc1"));
    assert_eq!(v.config.as_deref(), Some("profile 100 level 31 1280x720"));
    assert_eq!(v.messages, 62);
    assert_eq!(v.bytes, 45 + 61 * 1000);
    assert_eq!(v.sequence_headers, 1);
    assert_eq!(v.frames, 61);
    assert_eq!(v.keyframes, 3);
    assert_eq!(v.duration_ms, 60 * 33);
    assert_eq!(v.keyframe_interval_ms, Some(990.0));
    assert_eq!(v.frame_rate, Some(30.3));
    let expect_bps = ((45.0 + 61_000.0) * 8.0 / 1.98_f64).round();
    assert_eq!(v.bitrate_bps, Some(expect_bps));

    let a = &st.audio;
    assert_eq!(a.codec.as_deref(), Some("mp4a"));
    assert_eq!(a.messages, 32);
    assert_eq!(a.frames, 31);
    assert_eq!(a.sample_rate, Some(48000));
    assert_eq!(a.channels, Some(2));

    let codes: Vec<(&str, Option<&str>, Option<&str>)> = s
        .status
        .iter()
        .map(|e| {
            (
                e.command.as_str(),
                e.responds_to.as_deref(),
                e.code.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (
                "_result",
                Some("connect"),
                Some("NetConnection.Connect.Success")
            ),
            ("onStatus", None, Some("NetStream.Publish.Start")),
        ]
    );
    assert_eq!(s.status[1].msid, 1);
    assert_eq!(s.pings.count, 1);
    assert_eq!(s.pings.min_rtt_us, Some(1500));
    assert_eq!(s.pings.avg_rtt_us, Some(1500));
    assert_eq!(s.anomalies.get("rtmp.message.unknown_type"), Some(&1));
    assert_eq!(s.gaps.count, 1);
    assert_eq!(s.gaps.bytes, 100);
    assert_eq!(s.messages.to_client, 7);
    assert_eq!(
        s.replay,
        vec![format!(
            "ffmpeg -re -i INPUT -c copy -f flv -rtmp_app live \
             -rtmp_tcurl 'rtmp://198.51.100.5:1935/live?token={TOKEN}' -rtmp_playpath {KEY} \
             -rtmp_flashver 'FMLE/3.0 (compatible; FMSc/1.0)' rtmp://198.51.100.5:1935/live"
        )]
    );
}

#[test]
fn snapshot_and_take_finished() {
    let ev = publish_conversation(Scenario::default());
    let mut t = SessionTracker::new();
    let end = ev
        .iter()
        .position(|e| matches!(e.kind, EventKind::FlowEnd(_)))
        .unwrap();
    for e in &ev[..end] {
        t.handle(e);
    }
    assert!(t.take_finished().is_empty());
    let snap = t.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].end_reason, None);
    assert_eq!(snap[0].streams[0].video.frames, 61);
    t.handle(&ev[end]);
    let done = t.take_finished();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].end_reason, Some(rtmpscope::event::EndReason::Fin));
    assert!(t.finish().is_empty());
}

#[test]
fn non_rtmp_flow_has_no_session() {
    let ev = publish_conversation(Scenario::default());
    let only: Vec<Event> = ev
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::FlowStart(_) | EventKind::FlowEnd(_) | EventKind::Gap(_)
            )
        })
        .collect();
    assert!(run(&only).is_empty());
}

/// Session state comes only from a flow's start: an event after the flow
/// ended (reassembly's `tcp.pkt_after_close`, a late message) does not
/// revive the finished session, and events of a flow never started make
/// none.
#[test]
fn ended_flows_stay_ended() {
    let clean = run(&publish_conversation(Scenario::default()));
    assert_eq!(clean.len(), 1);
    let mut events = publish_conversation(Scenario::default());
    let end_at = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::FlowEnd(_)))
        .expect("the conversation ends its flow");
    let fid = events[end_at].flow_id.unwrap();
    let late = |cnt: u64, flow_id: u64, kind: EventKind| Event {
        pcap_cnt: cnt,
        time: PacketTime::new(5000 + cnt as i64, 0),
        flow_id: Some(flow_id),
        direction: Some(Direction::ToServer),
        kind,
    };
    let create = || {
        EventKind::Message(Box::new(message(
            3,
            20,
            0,
            0,
            25,
            command("createStream", 9.0, None, vec![]),
        )))
    };
    let after_close = EventKind::Anomaly(Anomaly::new(
        rtmpscope::vocab::anomalies::TCP_PKT_AFTER_CLOSE,
        None,
        "late",
    ));
    events.insert(end_at + 1, late(9000, fid, after_close));
    events.push(late(9001, fid, create()));
    events.push(late(9002, 99, create()));
    let mut t = SessionTracker::new();
    let mut finished = Vec::new();
    for e in &events {
        t.handle(e);
        finished.extend(t.take_finished());
    }
    assert_eq!(finished.len(), 1, "the flow's session, finished at its end");
    assert_eq!(finished[0].messages, clean[0].messages);
    assert_eq!(finished[0].anomalies, clean[0].anomalies);
    assert!(
        t.snapshot_open().is_empty(),
        "a late event revived the ended session or invented one"
    );
    assert!(
        t.finish().is_empty(),
        "nothing left to close at end of input"
    );
}

fn ev(cnt: u64, dir: Direction, m: Message) -> Event {
    Event {
        pcap_cnt: cnt,
        time: PacketTime::new(1000 + cnt as i64, 0),
        flow_id: Some(7),
        direction: Some(dir),
        kind: EventKind::Message(Box::new(m)),
    }
}

#[test]
fn player_session_and_rtmpdump_line() {
    use Direction::{ToClient as C, ToServer as S};
    let events = vec![
        midstream_flow_start(7),
        ev(
            1,
            S,
            message(
                3,
                20,
                0,
                0,
                100,
                command(
                    "connect",
                    1.0,
                    Some(obj(&[
                        ("app", s("vod")),
                        ("flashVer", s("LNX 9,0,124,2")),
                        ("swfUrl", s("http://example.com/p.swf")),
                        ("tcUrl", s("rtmp://example.com/vod")),
                        ("pageUrl", s("http://example.com/")),
                    ])),
                    vec![],
                ),
            ),
        ),
        ev(
            2,
            S,
            message(3, 20, 0, 0, 25, command("createStream", 2.0, None, vec![])),
        ),
        ev(
            3,
            C,
            message(3, 20, 0, 0, 29, command("_result", 2.0, None, vec![n(1.0)])),
        ),
        ev(
            4,
            S,
            message(
                8,
                20,
                1,
                0,
                40,
                command("play", 0.0, None, vec![s("movie"), n(-1000.0)]),
            ),
        ),
        ev(
            5,
            C,
            message(
                5,
                20,
                1,
                0,
                60,
                command(
                    "onStatus",
                    0.0,
                    None,
                    vec![status_obj("error", "NetStream.Play.StreamNotFound", "nope")],
                ),
            ),
        ),
        ev(
            6,
            C,
            message(6, 9, 1, 0, 45, video("avc", true, 0, Some(avc_config()))),
        ),
    ];
    let sessions = run(&events);
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert!(s.midstream);
    assert_eq!(s.client.as_ref().map(|c| c.port), Some(40000));
    let st = &s.streams[0];
    assert_eq!(st.role.as_deref(), Some("play"));
    assert_eq!(st.play_start, Some(-1000.0));
    assert_eq!(st.video.sequence_headers, 1);
    assert!(st.media_msids.is_empty());
    assert_eq!(
        s.status[0].code.as_deref(),
        Some("NetStream.Play.StreamNotFound")
    );
    assert_eq!(
        s.replay[0],
        "rtmpdump -r rtmp://example.com/vod -a vod -t rtmp://example.com/vod -y movie \
         -W http://example.com/p.swf -p http://example.com/ -f 'LNX 9,0,124,2' --live -o out.flv"
    );
    assert_eq!(
        s.replay[1],
        "ffmpeg -rtmp_app vod -rtmp_tcurl rtmp://example.com/vod -rtmp_playpath movie \
         -rtmp_flashver 'LNX 9,0,124,2' -rtmp_live live -i rtmp://example.com/vod -c copy -f flv out.flv"
    );
    let r = s.redacted(&mut Redactor::new());
    assert_eq!(r.streams[0].name, Some(placeholder("movie")));
    assert!(r.replay.iter().all(|l| !l.contains("movie")));
    assert!(r.replay[0].contains(&format!("-y {}", placeholder("movie"))));
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use rtmpscope::amf::{Value, ValueKind};
    use rtmpscope::output::json::JsonOptions;
    use rtmpscope::session::MAX_STREAMS;

    fn arg() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>().prop_map(n),
            "[a-zA-Z_?=&.]{0,12}".prop_map(|t| s(&t)),
            Just(null()),
            Just(status_obj("error", "X.Y", "d")),
            Just(obj(&[("streamName", s("k1"))])),
            Just(rtmpscope::amf::Value::new(
                Default::default(),
                ValueKind::Boolean(true)
            )),
        ]
    }

    fn body() -> impl Strategy<Value = Body> {
        let names = prop::sample::select(vec![
            "connect",
            "createStream",
            "_result",
            "_error",
            "onStatus",
            "publish",
            "play",
            "play2",
            "deleteStream",
            "FCPublish",
            "releaseStream",
            "other",
        ]);
        prop_oneof![
            (
                names,
                any::<f64>(),
                prop::option::of(arg()),
                prop::collection::vec(arg(), 0..4)
            )
                .prop_map(|(nm, tx, o, a)| command(nm, tx, o, a)),
            (any::<bool>(), 0u8..8).prop_map(|(k, pt)| video("avc", k, pt, None)),
            (0u8..3).prop_map(|pt| audio(pt, None)),
            any::<u32>().prop_map(|sz| Body::Control(Control::SetChunkSize {
                size: sz,
                ignored: rtmpscope::rtmp::control::chunk_size_rule(sz).is_err(),
            })),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn tracker_and_writer_never_panic(
            msgs in prop::collection::vec((any::<bool>(), 0u32..300, any::<u32>(), body()), 0..60)
        ) {
            let events: Vec<Event> = msgs
                .into_iter()
                .enumerate()
                .map(|(i, (to_server, msid, ts, b))| {
                    let d = if to_server { Direction::ToServer } else { Direction::ToClient };
                    ev(i as u64 + 1, d, message(3, 20, msid, ts, 10, b))
                })
                .collect();
            let sessions = run(&events);
            for s in &sessions {
                prop_assert!(s.streams.len() <= MAX_STREAMS);
                let _ = s.redacted(&mut Redactor::new());
            }
            let (_, lines) = crate::write_all(&events, JsonOptions { redact: true, ..Default::default() });
            prop_assert_eq!(lines.len(), events.len() + 1);
        }
    }
}

#[test]
fn status_info_in_command_object_position() {
    // "onStatus", 0, {info} without the null: the info is the command object.
    let e = ev(
        1,
        Direction::ToClient,
        message(
            5,
            20,
            1,
            0,
            60,
            command(
                "onStatus",
                0.0,
                Some(status_obj("status", "NetStream.Play.Start", "go")),
                vec![],
            ),
        ),
    );
    let s = run(&[midstream_flow_start(7), e]);
    assert_eq!(s[0].status[0].code.as_deref(), Some("NetStream.Play.Start"));
    assert_eq!(s[0].status[0].level.as_deref(), Some("status"));
}
