//! Builders for hostile captures, written byte by byte in the tests (never
//! committed): a classic pcap writer, Ethernet/IPv4/TCP frames, RTMP
//! handshakes, chunked messages and AMF0 values. Used by the hostile-input
//! tests (escape injection, schema fuzzing, anomaly floods, redaction) and by
//! `examples/gen_capture.rs` (the exhaustion captures of the limit bench).
#![allow(dead_code)]

use std::io::{self, Write};

/// Classic little-endian microsecond pcap, Ethernet link type.
pub struct PcapWriter<W: Write> {
    w: W,
    pub packets: u64,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut w: W) -> io::Result<Self> {
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        for v in [0u32, 0, 262_144, 1] {
            w.write_all(&v.to_le_bytes())?;
        }
        Ok(PcapWriter { w, packets: 0 })
    }

    /// One frame at `ts_us` microseconds after 2023-11-14T22:13:20Z.
    pub fn packet(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        let t = 1_700_000_000u64 * 1_000_000 + ts_us;
        for v in [
            (t / 1_000_000) as u32,
            (t % 1_000_000) as u32,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            self.w.write_all(&v.to_le_bytes())?;
        }
        self.packets += 1;
        self.w.write_all(frame)
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH_ACK: u8 = 0x18;
pub const FIN_ACK: u8 = 0x11;

/// One IPv4 endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Ep {
    pub ip: [u8; 4],
    pub port: u16,
}

/// Ethernet/IPv4/TCP frame (checksums zero: rtmpscope does not check them).
pub fn tcp_frame(src: Ep, dst: Ep, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.ip);
    f.extend_from_slice(&dst.ip);
    f.extend_from_slice(&src.port.to_be_bytes());
    f.extend_from_slice(&dst.port.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A TCP connection being written: sequence numbers and packet time.
pub struct Conn {
    pub client: Ep,
    pub server: Ep,
    pub cseq: u32,
    pub sseq: u32,
    /// Packet time in microseconds, advanced by each frame.
    pub ts: u64,
    /// Largest payload per frame.
    pub mss: usize,
}

impl Conn {
    /// Client 10.0.x.y:port (from `n`) to 10.1.0.1:1935.
    pub fn new(n: u32, ts: u64) -> Conn {
        Conn {
            client: Ep {
                ip: [10, 0, (n >> 16) as u8, (n >> 8) as u8],
                port: 1024 + (n & 0xff) as u16 * 200 + ((n >> 24) as u16),
            },
            server: Ep {
                ip: [10, 1, 0, 1],
                port: 1935,
            },
            cseq: 1000,
            sseq: 5000,
            ts,
            mss: 1400,
        }
    }

    fn tick(&mut self) -> u64 {
        self.ts += 10;
        self.ts
    }

    /// SYN, SYN-ACK, ACK.
    pub fn open<W: Write>(&mut self, p: &mut PcapWriter<W>) -> io::Result<()> {
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(self.client, self.server, self.cseq, 0, SYN, b""),
        )?;
        self.cseq += 1;
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(
                self.server,
                self.client,
                self.sseq,
                self.cseq,
                SYN | ACK,
                b"",
            ),
        )?;
        self.sseq += 1;
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(self.client, self.server, self.cseq, self.sseq, ACK, b""),
        )
    }

    /// Client bytes, split into frames of at most `mss`.
    pub fn client<W: Write>(&mut self, p: &mut PcapWriter<W>, data: &[u8]) -> io::Result<()> {
        for part in data.chunks(self.mss) {
            let t = self.tick();
            p.packet(
                t,
                &tcp_frame(
                    self.client,
                    self.server,
                    self.cseq,
                    self.sseq,
                    PSH_ACK,
                    part,
                ),
            )?;
            self.cseq = self.cseq.wrapping_add(part.len() as u32);
        }
        Ok(())
    }

    /// Server bytes, split into frames of at most `mss`.
    pub fn server<W: Write>(&mut self, p: &mut PcapWriter<W>, data: &[u8]) -> io::Result<()> {
        for part in data.chunks(self.mss) {
            let t = self.tick();
            p.packet(
                t,
                &tcp_frame(
                    self.server,
                    self.client,
                    self.sseq,
                    self.cseq,
                    PSH_ACK,
                    part,
                ),
            )?;
            self.sseq = self.sseq.wrapping_add(part.len() as u32);
        }
        Ok(())
    }

    /// The plain RTMP handshake (C0C1, S0S1S2, C2; zero random bytes).
    pub fn handshake<W: Write>(&mut self, p: &mut PcapWriter<W>) -> io::Result<()> {
        let mut c01 = vec![3u8];
        c01.extend(std::iter::repeat_n(0u8, 1536));
        self.client(p, &c01)?;
        let mut s012 = vec![3u8];
        s012.extend(std::iter::repeat_n(0u8, 3072));
        self.server(p, &s012)?;
        self.client(p, &[0u8; 1536])
    }

    /// FIN from both sides.
    pub fn close<W: Write>(&mut self, p: &mut PcapWriter<W>) -> io::Result<()> {
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(self.client, self.server, self.cseq, self.sseq, FIN_ACK, b""),
        )?;
        self.cseq += 1;
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(self.server, self.client, self.sseq, self.cseq, FIN_ACK, b""),
        )?;
        self.sseq += 1;
        let t = self.tick();
        p.packet(
            t,
            &tcp_frame(self.client, self.server, self.cseq, self.sseq, ACK, b""),
        )
    }
}

/// AMF0 encoders.
pub mod amf {
    pub fn number(x: f64) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&x.to_be_bytes());
        v
    }
    pub fn string(s: &[u8]) -> Vec<u8> {
        let mut v = vec![2];
        v.extend_from_slice(&(s.len() as u16).to_be_bytes());
        v.extend_from_slice(s);
        v
    }
    pub fn boolean(b: bool) -> Vec<u8> {
        vec![1, b as u8]
    }
    pub fn null() -> Vec<u8> {
        vec![5]
    }
    pub fn object(props: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![3];
        for (k, val) in props {
            v.extend_from_slice(&(k.len() as u16).to_be_bytes());
            v.extend_from_slice(k);
            v.extend_from_slice(val);
        }
        v.extend_from_slice(&[0, 0, 9]);
        v
    }
    /// A command body: name, transaction id, then the values.
    pub fn command(name: &[u8], tx: f64, values: &[Vec<u8>]) -> Vec<u8> {
        let mut v = string(name);
        v.extend(number(tx));
        for x in values {
            v.extend_from_slice(x);
        }
        v
    }
}

/// One RTMP message as chunks (fmt 0 then fmt 3) of `chunk_size`.
pub fn chunked(
    csid: u8,
    type_id: u8,
    msid: u32,
    ts: u32,
    body: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    let mut v = vec![csid & 0x3f];
    v.extend_from_slice(&ts.min(0xff_ffff).to_be_bytes()[1..]);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&msid.to_le_bytes());
    for (i, part) in body.chunks(chunk_size.max(1)).enumerate() {
        if i > 0 {
            v.push(0xc0 | (csid & 0x3f));
        }
        v.extend_from_slice(part);
    }
    if body.is_empty() {
        return v;
    }
    v
}

/// The bytes a hostile peer may put into AMF strings: terminal escapes
/// (title, clear, alternate screen, OSC 52 clipboard, CR + erase line,
/// cursor position request), C1 CSI, DEL, bidi overrides, NUL, invalid UTF-8.
pub const EVIL: &[&[u8]] = &[
    "\u{9b}31m\u{202e}evil\u{2066}".as_bytes(),
    b"\x1b]0;pwned-title\x07",
    b"\x1b[2J\x1b[H",
    b"\x1b[?1049h",
    b"\x1b]52;c;cHduZWQ=\x07",
    b"\r\x1b[2KSession 9 (flow 9): spoofed",
    b"\x1b[6n",
    b"\x7f\x00\x08\x0b\x0c",
    b"bad\xff\xfe\x1b[1m",
];

thread_local! {
    /// When set, [`evil`] leaves out the invalid UTF-8 sequence (the strings
    /// then stay text, not bytes, in every output).
    pub static VALID_UTF8: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Joins every [`EVIL`] sequence after `prefix`.
pub fn evil(prefix: &str) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    for e in EVIL {
        if VALID_UTF8.get() && std::str::from_utf8(e).is_err() {
            continue;
        }
        v.extend_from_slice(e);
        v.push(b'|');
    }
    v
}

/// Writes one RTMP session whose every wire string carries [`EVIL`]
/// sequences: connect (app, tcUrl, flashVer, swfUrl, pageUrl, a string
/// argument), createStream, publish or play of an evil name, the server's
/// replies (_result, onStatus code / description echoing the name).
pub fn evil_session<W: Write>(p: &mut PcapWriter<W>, n: u32, publish: bool) -> io::Result<()> {
    use amf::*;
    let mut c = Conn::new(n, n as u64 * 1_000_000);
    c.open(p)?;
    c.handshake(p)?;
    let name = evil("key");
    let connect = command(
        b"connect",
        1.0,
        &[
            object(&[
                (b"app", string(&evil("live"))),
                (b"flashVer", string(&evil("FMLE/3.0"))),
                (b"tcUrl", string(&evil("rtmp://10.1.0.1:1935/live"))),
                (b"swfUrl", string(&evil("http://swf"))),
                (b"pageUrl", string(&evil("http://page"))),
            ]),
            string(&evil("S:token")),
        ],
    );
    c.client(p, &chunked(3, 20, 0, 0, &connect, 128))?;
    let ok = command(
        b"_result",
        1.0,
        &[
            object(&[(b"fmsVer", string(&evil("FMS")))]),
            object(&[
                (b"level", string(b"status")),
                (b"code", string(&evil("NetConnection.Connect.Success"))),
                (b"description", string(&evil("ok"))),
            ]),
        ],
    );
    c.server(p, &chunked(3, 20, 0, 0, &ok, 128))?;
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
    let (verb, code): (&[u8], &[u8]) = if publish {
        (b"publish", b"NetStream.Publish.Start")
    } else {
        (b"play", b"NetStream.Play.Start")
    };
    let mut args = vec![null(), string(&name)];
    if publish {
        args.push(string(&evil("live")));
    }
    c.client(p, &chunked(8, 20, 1, 0, &command(verb, 0.0, &args), 128))?;
    let mut desc = b"Started stream ".to_vec();
    desc.extend_from_slice(&name);
    let status = command(
        b"onStatus",
        0.0,
        &[
            null(),
            object(&[
                (b"level", string(b"status")),
                (b"code", string(code)),
                (b"description", string(&desc)),
                (b"details", string(&name)),
            ]),
        ],
    );
    c.server(p, &chunked(5, 20, 1, 0, &status, 128))?;
    let bad = command(&evil("evilCommand"), 9.0, &[null(), string(&name)]);
    c.client(p, &chunked(3, 20, 0, 0, &bad, 128))?;
    c.close(p)
}

/// Bytes in output that a terminal would act on: C0 controls except
/// newline and tab, DEL, C1 controls (as UTF-8 U+0080..U+009F) and bidi
/// overrides / isolates. Returns the first offending position and char.
pub fn forbidden(out: &str) -> Option<(usize, char)> {
    out.char_indices().find(|&(_, c)| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// A unique temporary path for this test process.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmpscope-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes the pcap built by `f` to a temporary file.
pub fn write_capture(
    name: &str,
    f: impl FnOnce(&mut PcapWriter<io::BufWriter<std::fs::File>>) -> io::Result<()>,
) -> std::path::PathBuf {
    let path = temp_path(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut p = PcapWriter::new(io::BufWriter::new(file)).unwrap();
    f(&mut p).unwrap();
    p.into_inner().flush().unwrap();
    path
}

/// A play session with a long stream name containing spaces (its replay
/// lines are longer than the summary width and need quoting).
pub fn long_name_session<W: Write>(p: &mut PcapWriter<W>, n: u32) -> io::Result<()> {
    use amf::*;
    let mut c = Conn::new(n, n as u64 * 1_000_000);
    c.open(p)?;
    c.handshake(p)?;
    let connect = command(
        b"connect",
        1.0,
        &[object(&[
            (b"app", string(b"live")),
            (b"tcUrl", string(b"rtmp://10.1.0.1:1935/live")),
            (b"flashVer", string(b"LNX 9,0,124,2")),
        ])],
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
    let name = b"a very long stream name with spaces in it that goes on and on and on and on and on and on";
    c.client(
        p,
        &chunked(
            8,
            20,
            1,
            0,
            &command(b"play", 0.0, &[null(), string(name)]),
            128,
        ),
    )?;
    c.close(p)
}

/// RTMP chunk basic header for any csid (1-, 2- or 3-byte form).
pub fn basic_header(fmt: u8, csid: u32) -> Vec<u8> {
    match csid {
        2..=63 => vec![(fmt << 6) | csid as u8],
        64..=319 => vec![fmt << 6, (csid - 64) as u8],
        _ => {
            let c = csid.clamp(320, 65599) - 64;
            vec![(fmt << 6) | 1, (c & 0xff) as u8, (c >> 8) as u8]
        }
    }
}

/// Like [`chunked`] for any csid; `cut` stops after that many body bytes
/// (an unfinished message, for interruptions).
pub fn chunked_any(
    csid: u32,
    type_id: u8,
    msid: u32,
    ts: u32,
    body: &[u8],
    chunk_size: usize,
    cut: Option<usize>,
) -> Vec<u8> {
    let mut v = basic_header(0, csid);
    v.extend_from_slice(&ts.min(0xff_ffff).to_be_bytes()[1..]);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&msid.to_le_bytes());
    let sent = &body[..cut.unwrap_or(body.len()).min(body.len())];
    for (i, part) in sent.chunks(chunk_size.max(1)).enumerate() {
        if i > 0 {
            v.extend(basic_header(3, csid));
        }
        v.extend_from_slice(part);
    }
    v
}

/// A small deterministic PRNG (xorshift64*), so generated inputs are the
/// same in every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Random bytes, a random length below `max`.
    pub fn bytes_upto(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

/// One FLV-tag-like aggregate sub-message.
pub fn aggregate_sub(type_id: u8, ts: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![type_id];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&ts.to_be_bytes()[1..]);
    v.push((ts >> 24) as u8);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(body);
    v.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    v
}

/// A random but mostly well-formed RTMP message body of `type_id`.
pub fn random_body(r: &mut Rng, type_id: u8) -> Vec<u8> {
    use amf::*;
    match type_id {
        1 | 2 | 3 | 5 => (r.next() as u32 % 70000).to_be_bytes().to_vec(),
        4 => {
            let mut v = (r.below(47) as u16).to_be_bytes().to_vec();
            v.extend(r.bytes_upto(10));
            v
        }
        6 => {
            let mut v = (r.next() as u32).to_be_bytes().to_vec();
            v.push(r.below(4) as u8);
            v
        }
        8 => {
            let mut v = vec![[0xaf, 0x2f, 0x9f, 0x90][r.below(4)], r.below(2) as u8];
            v.extend(r.bytes_upto(300));
            v
        }
        9 => {
            let first = [0x17, 0x27, 0x1c, 0x90, 0x80 | r.below(8) as u8][r.below(5)];
            let mut v = vec![first, r.below(3) as u8, 0, 0, 0];
            if first & 0x80 != 0 {
                v[1..5].copy_from_slice(&[b'h', b'v', b'c', b'1'][..]);
            }
            v.extend(r.bytes_upto(600));
            v
        }
        15 | 18 => {
            let mut v = if type_id == 15 { vec![0] } else { vec![] };
            v.extend(string(b"@setDataFrame"));
            v.extend(string(b"onMetaData"));
            v.extend(object(&[
                (b"width", number(r.below(4000) as f64)),
                (b"videocodecid", number(7.0)),
                (b"encoder", string(&r.bytes_upto(12))),
            ]));
            v
        }
        16 | 19 => {
            let mut v = if type_id == 16 { vec![0] } else { vec![] };
            v.extend_from_slice(&4u16.to_be_bytes());
            v.extend_from_slice(b"shar");
            v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
            v.extend(r.bytes_upto(40));
            v
        }
        17 | 20 => {
            let mut v = if type_id == 17 { vec![0] } else { vec![] };
            let names: [&[u8]; 6] = [
                b"connect",
                b"publish",
                b"play",
                b"onStatus",
                b"_result",
                b"FCPublish",
            ];
            let name = names[r.below(names.len())];
            let mut vals = vec![null()];
            for _ in 0..r.below(4) {
                vals.push(match r.below(5) {
                    0 => string(&evil("s")),
                    1 => number(r.next() as f64),
                    2 => object(&[
                        (b"code", string(b"NetStream.Publish.Start")),
                        (b"tcUrl", string(b"rtmp://h/app?token=abc")),
                        (b"authToken", string(&r.bytes(6))),
                    ]),
                    3 => vec![0x11, 0x06, 0x07, b'a', b'b', b'c'],
                    _ => r.bytes_upto(20),
                });
            }
            v.extend(command(name, r.below(10) as f64, &vals));
            v
        }
        22 => {
            let mut v = Vec::new();
            for i in 0..1 + r.below(4) {
                let t = if r.chance(50) { 9 } else { 8 };
                let b = random_body(r, t);
                v.extend(aggregate_sub(t, i as u32 * 40, &b));
            }
            v
        }
        _ => r.bytes_upto(200),
    }
}

/// A generated session on flow `n`: handshake, then random messages both
/// ways with chunk size changes, csids of every header size, extended
/// timestamps, interrupted messages (a new header before the end),
/// aggregates, AMF0/AMF3 commands; frames split at random sizes.
pub fn random_session<W: Write>(p: &mut PcapWriter<W>, r: &mut Rng, n: u32) -> io::Result<()> {
    let mut c = Conn::new(n, n as u64 * 1_000_000);
    c.mss = 1 + r.below(1400);
    c.open(p)?;
    c.handshake(p)?;
    let mut chunk = [128usize, 128];
    const TYPES: [u8; 16] = [1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22, 7];
    for _ in 0..1 + r.below(40) {
        let dir = r.below(2);
        let t = TYPES[r.below(TYPES.len())];
        let body = random_body(r, t);
        let csid = match r.below(10) {
            0 => 64 + r.below(200) as u32,
            1 => 400 + r.below(1000) as u32,
            _ => 2 + r.below(8) as u32,
        };
        let ts = if r.chance(10) {
            0x0100_0000 + r.below(1000) as u32
        } else {
            r.below(100000) as u32
        };
        let cut = r.chance(12).then(|| r.below(body.len().max(1)));
        let mut bytes = if ts >= 0xff_ffff {
            // Extended timestamp: 0xffffff in the header, 4 bytes after it.
            let mut v = basic_header(0, csid);
            v.extend_from_slice(&[0xff, 0xff, 0xff]);
            v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            v.push(t);
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&ts.to_be_bytes());
            v.extend_from_slice(&body[..body.len().min(chunk[dir])]);
            v
        } else {
            chunked_any(csid, t, 1, ts, &body, chunk[dir], cut)
        };
        if cut.is_some() {
            // Interrupted: a new message on the same chunk stream.
            bytes.extend(chunked_any(
                csid,
                20,
                0,
                0,
                &amf::command(b"ping", 0.0, &[]),
                chunk[dir],
                None,
            ));
        }
        if t == 1 && cut.is_none() && bytes.len() >= 4 {
            let v = u32::from_be_bytes(body[..4].try_into().unwrap()) & 0x7fff_ffff;
            chunk[dir] = (v as usize).clamp(1, 65536);
        }
        if dir == 0 {
            c.client(p, &bytes)?;
        } else {
            c.server(p, &bytes)?;
        }
        if r.chance(5) {
            c.mss = 1 + r.below(1400);
        }
    }
    if r.chance(80) {
        c.close(p)?;
    }
    Ok(())
}

/// The records of a classic pcap (lenient: stops at the first record that
/// does not fit).
pub fn pcap_records(b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let f = |i: usize| u32::from_le_bytes(b[off + i..off + i + 4].try_into().unwrap());
        let (sec, usec, len) = (f(0) as u64, f(4) as u64, f(8) as usize);
        let Some(data) = b.get(off + 16..off + 16 + len) else {
            break;
        };
        out.push((sec * 1_000_000 + usec % 1_000_000, data.to_vec()));
        off += 16 + len;
    }
    out
}

/// Rebuilds a classic pcap from records.
pub fn pcap_from_records(recs: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut p = PcapWriter::new(Vec::new()).unwrap();
    for (t, f) in recs {
        let base = 1_700_000_000u64 * 1_000_000;
        p.packet(t.saturating_sub(base), f).unwrap();
    }
    p.into_inner()
}

/// Mutates a capture at the frame level: flips payload bytes, writes
/// chunk-header-like bytes, drops, duplicates, swaps and truncates frames.
pub fn mutate(r: &mut Rng, recs: &mut Vec<(u64, Vec<u8>)>) {
    if recs.is_empty() {
        return;
    }
    for _ in 0..1 + r.below(6) {
        let i = r.below(recs.len());
        match r.below(8) {
            0 | 1 => {
                let f = &mut recs[i].1;
                if f.len() > 54 {
                    for _ in 0..1 + r.below(4) {
                        let k = 54 + r.below(f.len() - 54);
                        f[k] = r.next() as u8;
                    }
                }
            }
            2 => {
                let f = &mut recs[i].1;
                if f.len() > 66 {
                    let k = 54 + r.below(f.len() - 66);
                    let hdr = [0x03, 0, 0, 0, 0, 0x20, 0, 0x16, 0, 0, 0, 0];
                    let hdr2 = [0x43, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0x11];
                    if r.chance(50) {
                        f[k..k + 12].copy_from_slice(&hdr);
                    } else {
                        f[k..k + 8].copy_from_slice(&hdr2);
                    }
                }
            }
            3 if recs.len() > 1 => {
                recs.remove(i);
            }
            4 => {
                let d = recs[i].clone();
                recs.insert(i, d);
            }
            5 if i + 1 < recs.len() => recs.swap(i, i + 1),
            6 => {
                let n = r.below(recs[i].1.len() + 1);
                recs[i].1.truncate(n);
            }
            _ => {
                let f = &mut recs[i].1;
                let k = r.below(f.len().max(1));
                if k < f.len() {
                    f[k] ^= 1 << r.below(8);
                }
            }
        }
    }
}

/// The whole JSON path in process: pcap bytes -> records -> Analyzer ->
/// JSON writer (with session lines), as `rtmpscope json` does.
pub fn json_of_pcap(pcap: &[u8], redact: bool) -> String {
    use rtmpscope::capture::RawPacket;
    use rtmpscope::output::json::{JsonOptions, JsonWriter, Meta};
    use rtmpscope::pipeline::{Analyzer, Config};
    use rtmpscope::time::PacketTime;
    let mut w = JsonWriter::new(
        Vec::new(),
        JsonOptions {
            redact,
            ..JsonOptions::default()
        },
    );
    w.write_meta(&Meta::new("generated", vec!["EN10MB".into()]))
        .unwrap();
    let mut a = Analyzer::new(Config::default());
    let mut events = Vec::new();
    for (i, (t, f)) in pcap_records(pcap).iter().enumerate() {
        let pkt = RawPacket {
            pcap_cnt: i as u64 + 1,
            time: PacketTime::new((t / 1_000_000) as i64, (t % 1_000_000 * 1000) as u32),
            linktype: 1,
            origlen: f.len() as u32,
            data: f,
        };
        a.handle_packet(&pkt, &mut events);
        for e in events.drain(..) {
            w.write_event(&e).unwrap();
        }
    }
    a.finish(None, &mut events);
    for e in events.drain(..) {
        w.write_event(&e).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

/// `n` short RTMP-looking flows on port 1935: SYN, SYN-ACK, ACK, C0 and
/// the start of C1; every other one ends with FIN, the rest stay open.
pub fn many_flows<W: Write>(p: &mut PcapWriter<W>, n: u32) -> io::Result<()> {
    for i in 0..n {
        let mut c = Conn::new(i, i as u64 * 20);
        c.open(p)?;
        let mut c01 = vec![3u8];
        c01.extend_from_slice(&[0u8; 64]);
        c.client(p, &c01)?;
        if i % 2 == 0 {
            c.close(p)?;
        }
    }
    Ok(())
}

/// `n` flows, each sending the header of a `size`-byte RTMP message (an
/// AVC sequence header) and all of it but the last byte (an unfinished
/// message held by the dissector), in one direction; the flows stay open to
/// the end.
pub fn big_partials<W: Write>(p: &mut PcapWriter<W>, n: u32, size: usize) -> io::Result<()> {
    let mut conns: Vec<Conn> = (0..n).map(|i| Conn::new(i, i as u64)).collect();
    let big = size.clamp(2, 0xff_ffff);
    let chunk_size = 65536usize;
    for c in conns.iter_mut() {
        c.mss = 65000;
        c.open(p)?;
        c.handshake(p)?;
        let mut set = chunked(2, 1, 0, 0, &(chunk_size as u32).to_be_bytes(), 128);
        set.extend(chunked_any(4, 9, 1, 0, &[], chunk_size, None));
        // The header claimed 0 bytes; rewrite the length field.
        let l = set.len();
        set[l - 8..l - 5].copy_from_slice(&(big as u32).to_be_bytes()[1..]);
        c.client(p, &set)?;
    }
    // Interleave the bodies so every flow holds its partial message at once.
    let body = vec![0x17u8; chunk_size];
    let mut sent = vec![0usize; conns.len()];
    loop {
        let mut any = false;
        for (c, s) in conns.iter_mut().zip(sent.iter_mut()) {
            let left = (big - 1).saturating_sub(*s);
            if left == 0 {
                continue;
            }
            any = true;
            let take = left.min(chunk_size);
            let mut bytes = Vec::with_capacity(take + 1);
            if *s > 0 {
                bytes.push(0xc4);
            }
            bytes.extend_from_slice(&body[..take]);
            if *s == 0 && take >= 2 {
                // An AVC sequence header (0x17 0x00): a body the dissector
                // keeps whole (of coded frames it keeps the header only).
                bytes[1] = 0x00;
            }
            c.client(p, &bytes)?;
            *s += take;
        }
        if !any {
            return Ok(());
        }
    }
}

/// One flow whose client sends `n` one-byte segments out of order, after
/// a handshake: each lands one byte after a hole (every other byte is never
/// sent), so every segment is buffered out of order and every hole ends as
/// a gap.
pub fn ooo_flood<W: Write>(p: &mut PcapWriter<W>, n: usize) -> io::Result<()> {
    let mut c = Conn::new(1, 0);
    c.open(p)?;
    c.handshake(p)?;
    let base = c.cseq;
    for i in 0..n {
        let seq = base.wrapping_add(2 * i as u32 + 1);
        c.ts += 1;
        p.packet(
            c.ts,
            &tcp_frame(c.client, c.server, seq, c.sseq, PSH_ACK, &[0xc3]),
        )?;
    }
    c.cseq = base.wrapping_add(2 * n as u32);
    c.close(p)
}
