//! Synthetic event streams for the TUI tests: one publishing session with
//! real AMF0 bytes (so spans and the hex view line up), media, a ping, an
//! anomaly and a gap.
#![allow(dead_code, clippy::too_many_arguments)]

use rtmpscope::amf::{AmfStr, Property, Span, Value, ValueKind};
use rtmpscope::event::*;
use rtmpscope::rtmp::handshake::{HandshakeEvent, HandshakePart};
use rtmpscope::rtmp::message::*;
use rtmpscope::time::PacketTime;
use rtmpscope::tui::{Batch, StreamBytes};

/// Chunk header length used by the fixture (fmt 0, one-byte basic header).
pub const HDR: u64 = 12;

/// Minimal AMF0 encoder that also builds the decoded value with spans.
pub struct Amf {
    pub buf: Vec<u8>,
}

impl Amf {
    pub fn new() -> Self {
        Amf { buf: Vec::new() }
    }
    pub fn string(&mut self, s: &str) -> Value {
        let st = self.buf.len();
        self.buf.push(0x02);
        self.buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        Value::new(
            Span::new(st, self.buf.len()),
            ValueKind::String(AmfStr::from_bytes(s.as_bytes())),
        )
    }
    pub fn number(&mut self, n: f64) -> Value {
        let st = self.buf.len();
        self.buf.push(0x00);
        self.buf.extend_from_slice(&n.to_be_bytes());
        Value::new(Span::new(st, self.buf.len()), ValueKind::Number(n))
    }
    pub fn null(&mut self) -> Value {
        let st = self.buf.len();
        self.buf.push(0x05);
        Value::new(Span::new(st, self.buf.len()), ValueKind::Null)
    }
    pub fn object(&mut self, props: &[(&str, &str)]) -> Value {
        let st = self.buf.len();
        self.buf.push(0x03);
        let mut out = Vec::new();
        for (k, v) in props {
            self.buf.extend_from_slice(&(k.len() as u16).to_be_bytes());
            self.buf.extend_from_slice(k.as_bytes());
            let val = self.string(v);
            out.push(Property {
                key: AmfStr::from(*k),
                value: val,
            });
        }
        self.buf.extend_from_slice(&[0, 0, 9]);
        Value::new(
            Span::new(st, self.buf.len()),
            ValueKind::Object {
                class: None,
                properties: out,
            },
        )
    }
}

/// Builds events and matching stream bytes.
pub struct Fx {
    pub events: Vec<Event>,
    pub bytes: Vec<StreamBytes>,
    pub off: [u64; 2],
    pub pkt: u64,
    pub t: PacketTime,
    pub flow: FlowId,
}

pub fn ms(t: PacketTime, add_ms: u64) -> PacketTime {
    let n = t.as_nanos() + add_ms as i128 * 1_000_000;
    PacketTime::new((n / 1_000_000_000) as i64, (n % 1_000_000_000) as u32)
}

impl Fx {
    pub fn new(flow: FlowId) -> Self {
        Fx {
            events: Vec::new(),
            bytes: Vec::new(),
            off: [0, 0],
            pkt: 0,
            t: PacketTime::new(1_700_000_000, 0),
            flow,
        }
    }

    fn ev(&mut self, dir: Option<Direction>, kind: EventKind) {
        self.pkt += 1;
        self.t = ms(self.t, 10);
        self.events.push(Event {
            pcap_cnt: self.pkt,
            time: self.t,
            flow_id: Some(self.flow),
            direction: dir,
            kind,
        });
    }

    pub fn start(&mut self) {
        let info = FlowInfo {
            flow_id: self.flow,
            client_ip: "10.0.0.1".parse().unwrap(),
            client_port: 50000,
            server_ip: "10.0.0.2".parse().unwrap(),
            server_port: 1935,
            vlan: vec![],
            community_id: "1:x".into(),
            midstream: false,
            client_by: ClientBy::Syn,
            tunnel: None,
        };
        self.ev(None, EventKind::FlowStart(info));
        self.ev(
            Some(Direction::ToServer),
            EventKind::Handshake(HandshakeEvent {
                part: HandshakePart::C0,
                range: ByteRange::new(0, 1),
                version_byte: Some(3),
                time: None,
                peer_version: None,
                kind: None,
                digest: None,
                echo_ok: None,
            }),
        );
        // Handshake bytes occupy the first 3073 / 3073 bytes of each direction.
        self.off = [3073, 3073];
    }

    /// Appends a message with `body` bytes on the wire as one chunk.
    pub fn msg(
        &mut self,
        dir: Direction,
        csid: u32,
        type_id: u8,
        msid: u32,
        ts: u32,
        body: &[u8],
        decoded: Body,
    ) -> u64 {
        let d = dir.index();
        let first = self.off[d];
        let mut wire = vec![(csid as u8) & 0x3f];
        wire.extend_from_slice(&ts.to_be_bytes()[1..]);
        wire.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        wire.push(type_id);
        wire.extend_from_slice(&msid.to_le_bytes());
        assert_eq!(wire.len() as u64, HDR);
        wire.extend_from_slice(body);
        let last = first + wire.len() as u64 - 1;
        self.bytes.push(StreamBytes {
            flow_id: self.flow,
            direction: dir,
            offset: first,
            data: wire,
        });
        self.off[d] = last + 1;
        let m = Message {
            fmt: 0,
            csid,
            type_id,
            msid,
            msid_unknown: false,
            timestamp: ts,
            timestamp_delta: 0,
            timestamp_estimate: None,
            extended_timestamp: false,
            length: body.len() as u32,
            first_byte: first,
            last_byte: last,
            chunks: smallvec::smallvec![ChunkRef {
                fmt: 0,
                header: ByteRange::new(first, first + HDR),
                payload: ByteRange::new(first + HDR, last + 1),
            }],
            time: ms(self.t, 10),
            truncated: None,
            body: decoded,
        };
        self.ev(Some(dir), EventKind::Message(Box::new(m)));
        first
    }

    pub fn command(
        &mut self,
        dir: Direction,
        msid: u32,
        name: &str,
        tx: f64,
        obj: Option<&[(&str, &str)]>,
        args: &[&str],
        info: Option<CommandInfo>,
    ) -> u64 {
        let mut a = Amf::new();
        a.string(name);
        a.number(tx);
        let object = match obj {
            Some(p) => Some(a.object(p)),
            None => Some(a.null()),
        };
        let args: Vec<Value> = args.iter().map(|s| a.string(s)).collect();
        let body = Body::Command(Command {
            name: AmfStr::from(name),
            transaction_id: Some(tx),
            transaction_id_span: None,
            object,
            args,
            info,
        });
        self.msg(dir, 3, type_id::COMMAND_AMF0, msid, 0, &a.buf.clone(), body)
    }

    pub fn video(&mut self, ts: u32, keyframe: bool, len: usize) {
        let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.resize(len, 0xAB);
        let v = Video {
            frame_type: if keyframe { 1 } else { 2 },
            keyframe,
            enhanced: false,
            codec_id: Some(7),
            codec: "avc".into(),
            packet_type: Some(1),
            packet: Some("nalu"),
            composition_time: Some(0),
            multitrack: None,
            tracks: Default::default(),
            timestamp_offset_nanos: None,
            metadata: Vec::new(),
            command: None,
        };
        self.msg(
            Direction::ToServer,
            6,
            type_id::VIDEO,
            1,
            ts,
            &body,
            Body::Video(v),
        );
    }

    pub fn audio(&mut self, ts: u32) {
        let body = vec![0xAF, 1, 0x21, 0x10, 0x05];
        let a = Audio {
            sound_format: 10,
            enhanced: false,
            codec: "aac".into(),
            sample_rate: Some(44100),
            sample_bits: Some(16),
            channels: Some(2),
            packet_type: Some(1),
            packet: Some("raw"),
            multitrack: None,
            tracks: Default::default(),
            timestamp_offset_nanos: None,
        };
        self.msg(
            Direction::ToServer,
            4,
            type_id::AUDIO,
            1,
            ts,
            &body,
            Body::Audio(a),
        );
    }

    pub fn ping(&mut self, ts: u32) {
        let mut body = vec![0, 6];
        body.extend_from_slice(&ts.to_be_bytes());
        let u = UserControl {
            event_type: 6,
            event: "ping_request",
            stream_id: None,
            buffer_length_ms: None,
            timestamp: Some(ts),
            rtt_us: None,
            raw: None,
        };
        self.msg(
            Direction::ToClient,
            2,
            type_id::USER_CONTROL,
            0,
            0,
            &body,
            Body::UserControl(u),
        );
    }

    pub fn anomaly(&mut self, dir: Direction, name: &'static str, at: u64, detail: &str) {
        self.ev(
            Some(dir),
            // Any name, registered or not: the TUI shows what it is given.
            EventKind::Anomaly(Anomaly {
                name,
                severity: Severity::Warning,
                range: Some(ByteRange::new(at, at + 1)),
                detail: detail.into(),
                suppressed: None,
            }),
        );
    }

    pub fn gap(&mut self, dir: Direction, len: u64) {
        let off = self.off[dir.index()];
        self.off[dir.index()] += len;
        self.ev(Some(dir), EventKind::Gap(Gap { offset: off, len }));
    }

    pub fn batch(&mut self) -> Batch {
        Batch {
            events: std::mem::take(&mut self.events),
            bytes: std::mem::take(&mut self.bytes),
            progress: Some(rtmpscope::tui::Progress {
                packets: self.pkt,
                bytes: self.pkt * 100,
                kernel_dropped: Some(0),
            }),
        }
    }
}

fn s(x: &str) -> Option<AmfStr> {
    Some(AmfStr::from(x))
}

/// A whole publishing session; `app` may carry hostile bytes.
pub fn publish_session(flow: FlowId, app: &str) -> Fx {
    let mut fx = Fx::new(flow);
    fx.start();
    let tc = format!("rtmp://10.0.0.2/{app}");
    fx.command(
        Direction::ToServer,
        0,
        "connect",
        1.0,
        Some(&[("app", app), ("tcUrl", &tc), ("flashVer", "FMLE/3.0")]),
        &[],
        Some(CommandInfo::Connect {
            app: s(app),
            tc_url: s(&tc),
            flash_ver: s("FMLE/3.0"),
            swf_url: None,
            page_url: None,
            object_encoding: None,
            four_cc_list: vec![],
        }),
    );
    fx.command(
        Direction::ToClient,
        0,
        "_result",
        1.0,
        None,
        &[],
        Some(CommandInfo::Status {
            level: s("status"),
            code: s("NetConnection.Connect.Success"),
            description: None,
        }),
    );
    fx.command(Direction::ToServer, 0, "createStream", 2.0, None, &[], None);
    fx.command(
        Direction::ToServer,
        1,
        "publish",
        5.0,
        None,
        &["secretkey123", "live"],
        Some(CommandInfo::Publish {
            name: s("secretkey123"),
            publish_type: s("live"),
        }),
    );
    fx.command(
        Direction::ToClient,
        1,
        "onStatus",
        0.0,
        None,
        &[],
        Some(CommandInfo::Status {
            level: s("status"),
            code: s("NetStream.Publish.Start"),
            description: None,
        }),
    );
    fx.ping(123);
    for i in 0..40u32 {
        fx.video(
            i * 33,
            i % 20 == 0,
            if i % 20 == 0 { 42 * 1024 } else { 3000 },
        );
        fx.audio(i * 33 + 5);
    }
    fx
}
