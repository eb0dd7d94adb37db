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
