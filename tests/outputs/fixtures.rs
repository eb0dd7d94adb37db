//! Hand-built event sequences (no captures): a publisher session with the
//! shapes the dissector produces, parameterised for the diff tests.

use std::net::IpAddr;

use rtmpscope::amf::{AmfStr, Property, Span, Value, ValueKind};
use rtmpscope::event::*;
use rtmpscope::rtmp::handshake::{Digest, DigestScheme, HandshakeEvent, HandshakePart};
use rtmpscope::rtmp::message::*;
use rtmpscope::time::PacketTime;

pub const KEY: &str = "live_SECRETKEY123";
pub const TOKEN: &str = "SECRETTOKEN987";

pub fn v(kind: ValueKind) -> Value {
    Value::new(Span::default(), kind)
}
pub fn s(t: &str) -> Value {
    v(ValueKind::String(AmfStr::from(t)))
}
pub fn n(x: f64) -> Value {
    v(ValueKind::Number(x))
}
pub fn null() -> Value {
    v(ValueKind::Null)
}
pub fn obj(props: &[(&str, Value)]) -> Value {
    v(ValueKind::Object {
        class: None,
        properties: props
            .iter()
            .map(|(k, val)| Property {
                key: AmfStr::from(*k),
                value: val.clone(),
            })
            .collect(),
    })
}
pub fn ecma(props: &[(&str, Value)]) -> Value {
    v(ValueKind::EcmaArray {
        count: props.len() as u32,
        properties: props
            .iter()
            .map(|(k, val)| Property {
                key: AmfStr::from(*k),
                value: val.clone(),
            })
            .collect(),
    })
}

pub fn message(csid: u32, type_id: u8, msid: u32, ts: u32, len: u32, body: Body) -> Message {
    Message {
        fmt: 0,
        csid,
        type_id,
        msid,
        msid_unknown: false,
        timestamp: ts,
        timestamp_delta: 0,
        timestamp_estimate: None,
        extended_timestamp: false,
        length: len,
        first_byte: 3073,
        last_byte: 3073 + len as u64 + 11,
        chunks: smallvec::smallvec![ChunkRef {
            fmt: 0,
            header: ByteRange::new(3073, 3085),
            payload: ByteRange::new(3085, 3085 + len as u64),
        }],
        time: PacketTime::default(),
        truncated: None,
        body,
    }
}

pub fn command(name: &str, tx: f64, object: Option<Value>, args: Vec<Value>) -> Body {
    Body::Command(Command {
        name: AmfStr::from(name),
        transaction_id: Some(tx),
        transaction_id_span: None,
        object,
        args,
        info: None,
    })
}

pub fn status_obj(level: &str, code: &str, desc: &str) -> Value {
    obj(&[
        ("level", s(level)),
        ("code", s(code)),
        ("description", s(desc)),
    ])
}

pub fn video(codec: &str, key: bool, packet_type: u8, config: Option<CodecConfig>) -> Body {
    Body::Video(Video {
        frame_type: if key { 1 } else { 2 },
        keyframe: key,
        enhanced: false,
        codec_id: Some(if codec == "hevc" { 12 } else { 7 }),
        codec: codec.to_owned().into(),
        packet_type: Some(packet_type),
        packet: Some(if packet_type == 0 {
            "sequence_header"
        } else {
            "nalu"
        }),
        composition_time: Some(0),
        multitrack: None,
        tracks: smallvec::smallvec![MediaTrack {
            track_id: 0,
            fourcc: None,
            composition_time: None,
            payload: Span::new(5, 20),
            config,
        }],
        timestamp_offset_nanos: None,
        metadata: Vec::new(),
        command: None,
    })
}

pub fn audio(packet_type: u8, config: Option<CodecConfig>) -> Body {
    Body::Audio(Audio {
        sound_format: 10,
        enhanced: false,
        codec: "aac".into(),
        sample_rate: Some(44100),
        sample_bits: Some(16),
        channels: Some(2),
        packet_type: Some(packet_type),
        packet: Some(if packet_type == 0 {
            "sequence_header"
        } else {
            "raw"
        }),
        multitrack: None,
        tracks: smallvec::smallvec![MediaTrack {
            track_id: 0,
            fourcc: None,
            composition_time: None,
            payload: Span::new(2, 10),
            config,
        }],
        timestamp_offset_nanos: None,
    })
}

/// Knobs for variants of the publisher conversation.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub client_ip: &'static str,
    pub client_port: u16,
    pub server_ip: &'static str,
    pub server_port: u16,
    pub time_base: i64,
    pub video_codec: &'static str,
    pub connect_rejected: bool,
    pub send_fcpublish: bool,
    pub video_frames: u32,
    pub pcap_base: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            client_ip: "192.0.2.10",
            client_port: 50000,
            server_ip: "198.51.100.5",
            server_port: 1935,
            time_base: 1_700_000_000,
            video_codec: "avc",
            connect_rejected: false,
            send_fcpublish: true,
            video_frames: 61,
            pcap_base: 0,
        }
    }
}

struct B {
    sc: Scenario,
    out: Vec<Event>,
    cnt: u64,
}

impl B {
    fn push(&mut self, dir: Option<Direction>, kind: EventKind) {
        self.cnt += 1;
        let time = PacketTime::new(
            self.sc.time_base + (self.cnt / 10) as i64,
            (self.cnt as u32 % 10) * 1000,
        );
        self.out.push(Event {
            pcap_cnt: self.sc.pcap_base + self.cnt,
            time,
            flow_id: Some(1),
            direction: dir,
            kind,
        });
    }
    fn msg(&mut self, dir: Direction, m: Message) {
        self.push(Some(dir), EventKind::Message(Box::new(m)));
    }
    fn hs(&mut self, dir: Direction, part: HandshakePart, f: impl FnOnce(&mut HandshakeEvent)) {
        let mut h = HandshakeEvent {
            part,
            range: ByteRange::new(0, 1),
            version_byte: None,
            time: None,
            peer_version: None,
            kind: None,
            digest: None,
            echo_ok: None,
        };
        f(&mut h);
        self.push(Some(dir), EventKind::Handshake(h));
    }
}

pub fn avc_config() -> CodecConfig {
    CodecConfig::Avc {
        profile: 100,
        compatibility: 0,
        level: 31,
        nalu_length_size: 4,
        sps: vec![Span::new(8, 30)],
        pps: vec![Span::new(33, 37)],
        width: Some(1280),
        height: Some(720),
    }
}

pub fn hevc_config() -> CodecConfig {
    CodecConfig::Hevc {
        profile: 1,
        tier: 0,
        level: 93,
        nalu_length_size: 4,
        arrays: vec![(32, 1), (33, 1), (34, 1)],
    }
}

/// A publisher conversation: handshake, connect, releaseStream, FCPublish,
/// createStream, publish, metadata + media on msid 0 (ffmpeg quirk), a ping,
/// one anomaly, one gap, flow end, stats.
/// The `flow_start` of a mid-stream flow `flow_id` (127.0.0.1:40000 ->
/// 127.0.0.1:1935, chosen by port) at packet 0: what the session tracker
/// needs before a flow's other events count.
pub fn midstream_flow_start(flow_id: u64) -> Event {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    Event {
        pcap_cnt: 0,
        time: PacketTime::new(1000, 0),
        flow_id: Some(flow_id),
        direction: None,
        kind: EventKind::FlowStart(FlowInfo {
            flow_id,
            client_ip: ip,
            client_port: 40000,
            server_ip: ip,
            server_port: 1935,
            vlan: vec![],
            community_id: "1:abcdefghijklmnopqrstuvwxyz0=".into(),
            midstream: true,
            client_by: ClientBy::Port,
            tunnel: None,
        }),
    }
}

pub fn publish_conversation(sc: Scenario) -> Vec<Event> {
    use Direction::{ToClient as C, ToServer as S};
    let mut b = B {
        sc: sc.clone(),
        out: Vec::new(),
        cnt: 0,
    };
    let client_ip: IpAddr = sc.client_ip.parse().unwrap();
    let server_ip: IpAddr = sc.server_ip.parse().unwrap();
    b.push(
        None,
        EventKind::FlowStart(FlowInfo {
            flow_id: 1,
            client_ip,
            client_port: sc.client_port,
            server_ip,
            server_port: sc.server_port,
            vlan: vec![],
            community_id: "1:abcdefghijklmnopqrstuvwxyz0=".into(),
            midstream: false,
            client_by: ClientBy::Syn,
            tunnel: None,
        }),
    );
    b.hs(S, HandshakePart::C0, |h| h.version_byte = Some(3));
    b.hs(S, HandshakePart::C1, |h| {
        h.range = ByteRange::new(1, 1537);
        h.time = Some(0);
        h.peer_version = Some("9.0.124.2".into());
        h.kind = Some("digest");
        h.digest = Some(Digest {
            scheme: DigestScheme::Offset8,
            offset: 12,
            valid: true,
        });
    });
    b.hs(C, HandshakePart::S0, |h| h.version_byte = Some(3));
    b.hs(C, HandshakePart::S1, |h| {
        h.peer_version = Some("13.10.14.13".into());
        h.kind = Some("digest");
    });
    b.hs(C, HandshakePart::S2, |h| h.echo_ok = Some(true));
    b.hs(S, HandshakePart::C2, |h| h.echo_ok = Some(true));
    let tc_url = format!(
        "rtmp://{}:{}/live?token={}",
        sc.server_ip, sc.server_port, TOKEN
    );
    let mut connect = message(
        3,
        type_id::COMMAND_AMF0,
        0,
        0,
        180,
        command(
            "connect",
            1.0,
            Some(obj(&[
                ("app", s("live")),
                ("type", s("nonprivate")),
                ("flashVer", s("FMLE/3.0 (compatible; FMSc/1.0)")),
                ("tcUrl", s(&tc_url)),
                ("capabilities", n(239.0)),
            ])),
            vec![],
        ),
    );
    if let Body::Command(c) = &mut connect.body {
        c.info = Some(CommandInfo::Connect {
            app: Some("live".into()),
            tc_url: Some(AmfStr::from(tc_url.as_str())),
            flash_ver: Some("FMLE/3.0 (compatible; FMSc/1.0)".into()),
            swf_url: None,
            page_url: None,
            object_encoding: Some(0.0),
            four_cc_list: vec![],
        });
    }
    b.msg(S, connect);
    b.msg(
        S,
        message(
            2,
            1,
            0,
            0,
            4,
            Body::Control(Control::SetChunkSize {
                size: 4096,
                ignored: false,
            }),
        ),
    );
    b.msg(
        C,
        message(
            2,
            5,
            0,
            0,
            4,
            Body::Control(Control::WindowAckSize { size: 2_500_000 }),
        ),
    );
    b.msg(
        C,
        message(
            2,
            6,
            0,
            0,
            5,
            Body::Control(Control::SetPeerBandwidth {
                size: 2_500_000,
                limit_type: LimitType::Dynamic,
            }),
        ),
    );
    b.msg(
        C,
        message(
            2,
            1,
            0,
            0,
            4,
            Body::Control(Control::SetChunkSize {
                size: 60000,
                ignored: false,
            }),
        ),
    );
    let (rname, code, desc) = if sc.connect_rejected {
        (
            "_error",
            "NetConnection.Connect.Rejected",
            "Connection rejected.",
        )
    } else {
        (
            "_result",
            "NetConnection.Connect.Success",
            "Connection succeeded.",
        )
    };
    let level = if sc.connect_rejected {
        "error"
    } else {
        "status"
    };
    b.msg(
        C,
        message(
            3,
            20,
            0,
            0,
            190,
            command(
                rname,
                1.0,
                Some(obj(&[
                    ("fmsVer", s("FMS/3,0,1,123")),
                    ("capabilities", n(31.0)),
                ])),
                vec![status_obj(level, code, desc)],
            ),
        ),
    );
    b.msg(
        S,
        message(
            3,
            20,
            0,
            0,
            40,
            command("releaseStream", 2.0, Some(null()), vec![s(KEY)]),
        ),
    );
    if sc.send_fcpublish {
        b.msg(
            S,
            message(
                3,
                20,
                0,
                0,
                40,
                command("FCPublish", 3.0, Some(null()), vec![s(KEY)]),
            ),
        );
    }
    b.msg(
        S,
        message(
            3,
            20,
            0,
            0,
            25,
            command("createStream", 4.0, Some(null()), vec![]),
        ),
    );
    b.msg(
        C,
        message(
            3,
            20,
            0,
            0,
            29,
            command("_result", 4.0, Some(null()), vec![n(1.0)]),
        ),
    );
    b.msg(
        S,
        message(
            8,
            20,
            1,
            0,
            50,
            command("publish", 5.0, Some(null()), vec![s(KEY), s("live")]),
        ),
    );
    b.msg(
        C,
        message(
            5,
            20,
            1,
            0,
            120,
            command(
                "onStatus",
                0.0,
                Some(null()),
                vec![status_obj(
                    "status",
                    "NetStream.Publish.Start",
                    &format!("Started publishing stream {KEY}."),
                )],
            ),
        ),
    );
    // ffmpeg quirk: metadata and media on msid 0 after createStream returned 1.
    b.msg(
        S,
        message(
            4,
            18,
            0,
            0,
            300,
            Body::Data(Data {
                name: Some("@setDataFrame".into()),
                args: vec![
                    s("onMetaData"),
                    ecma(&[
                        ("width", n(1280.0)),
                        ("height", n(720.0)),
                        ("framerate", n(30.0)),
                        ("videocodecid", n(7.0)),
                    ]),
                ],
            }),
        ),
    );
    let cfg = if sc.video_codec == "hevc" {
        hevc_config()
    } else {
        avc_config()
    };
    b.msg(
        S,
        message(6, 9, 0, 0, 45, video(sc.video_codec, true, 0, Some(cfg))),
    );
    b.msg(
        S,
        message(
            4,
            8,
            0,
            0,
            4,
            audio(
                0,
                Some(CodecConfig::Aac {
                    object_type: 2,
                    sample_rate: 48000,
                    channels: 2,
                }),
            ),
        ),
    );
    for i in 0..sc.video_frames {
        let ts = i * 33;
        b.msg(
            S,
            message(
                6,
                9,
                0,
                ts,
                1000,
                video(sc.video_codec, i % 30 == 0, 1, None),
            ),
        );
        if i % 2 == 0 {
            b.msg(S, message(4, 8, 0, ts, 200, audio(1, None)));
        }
    }
    b.msg(
        C,
        message(
            2,
            4,
            0,
            0,
            6,
            Body::UserControl(UserControl {
                event_type: 6,
                event: "ping_request",
                stream_id: None,
                buffer_length_ms: None,
                timestamp: Some(1234),
                rtt_us: None,
                raw: None,
            }),
        ),
    );
    b.msg(
        S,
        message(
            2,
            4,
            0,
            0,
            6,
            Body::UserControl(UserControl {
                event_type: 7,
                event: "ping_response",
                stream_id: None,
                buffer_length_ms: None,
                timestamp: Some(1234),
                rtt_us: Some(1500),
                raw: None,
            }),
        ),
    );
    b.push(
        Some(S),
        EventKind::Anomaly(Anomaly {
            name: "rtmp.message.unknown_type",
            severity: Severity::Warning,
            range: Some(ByteRange::new(10, 20)),
            detail: format!("odd thing near stream {KEY}"),
            suppressed: None,
        }),
    );
    b.push(
        Some(C),
        EventKind::Gap(Gap {
            offset: 1000,
            len: 100,
        }),
    );
    b.push(
        None,
        EventKind::FlowEnd(FlowEnd {
            counters: FlowCounters {
                packets: [120, 40],
                bytes: [90_000, 3_000],
                missed_bytes: [0, 100],
                retransmitted_bytes: [0, 0],
                messages: [100, 8],
            },
            reason: EndReason::Fin,
            protocol: FlowProtocol::Rtmp,
            evidence: rtmpscope::classify::Evidence::RtmpHandshake,
            confidence: rtmpscope::classify::Confidence::High,
            first_seen: PacketTime::new(sc.time_base, 0),
            tunnel: None,
            last_seen: PacketTime::new(sc.time_base + 20, 0),
            tls: None,
        }),
    );
    b.cnt += 1;
    b.out.push(Event {
        pcap_cnt: 0,
        time: PacketTime::new(sc.time_base + 20, 0),
        flow_id: None,
        direction: None,
        kind: EventKind::Stats(Stats {
            packets: 160,
            bytes: 100_000,
            unknown_link: 0,
            non_tcp: 2,
            kernel_dropped: None,
            interface_dropped: None,
            flows: 1,
            rtmp_flows: 1,
            messages: 108,
            missed_bytes: 100,
            dissector_memory_peak: 0,
            anomalies: vec![("rtmp.message.unknown_type".into(), 1)],
            ..Stats::default()
        }),
    });
    b.out
}
