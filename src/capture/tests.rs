//! Capture tests: pcap and pcapng files written byte by byte here, read back
//! through every backend.

use super::parser::{ng_time, Iface};
use super::*;
use std::io::{Cursor, Write};

/// One packet to write: (seconds, nanoseconds, bytes, original length).
#[derive(Clone)]
struct Pkt {
    sec: u32,
    nsec: u32,
    data: Vec<u8>,
    origlen: u32,
    /// pcapng interface id.
    iface: u32,
}

fn pkt(sec: u32, nsec: u32, data: Vec<u8>) -> Pkt {
    let origlen = data.len() as u32;
    Pkt {
        sec,
        nsec,
        data,
        origlen,
        iface: 0,
    }
}

/// Ethernet + IPv4 + TCP (or UDP when `udp`) frame carrying `payload`.
fn frame(udp: bool, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    if udp {
        l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    } else {
        l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x10, 0, 0, 0, 0, 0]);
    }
    l4.extend_from_slice(payload);
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, 64, if udp { 17 } else { 6 }, 0, 0]);
    ip.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    ip.extend_from_slice(&l4);
    raw_to_eth(&ip)
}

fn raw_to_eth(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend_from_slice(ip);
    f
}

/// Classic pcap, little endian; `nano` selects the nanosecond magic.
fn classic_pcap(linktype: u32, nano: bool, big_endian: bool, pkts: &[Pkt]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(262_144));
    out.extend_from_slice(&w32(linktype));
    for p in pkts {
        out.extend_from_slice(&w32(p.sec));
        out.extend_from_slice(&w32(if nano { p.nsec } else { p.nsec / 1000 }));
        out.extend_from_slice(&w32(p.data.len() as u32));
        out.extend_from_slice(&w32(p.origlen));
        out.extend_from_slice(&p.data);
    }
    out
}

fn ng_block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = (12 + body.len()) as u32;
    out.extend_from_slice(&btype.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&len.to_le_bytes());
}

/// pcapng, little endian. `ifaces`: (link type, if_tsresol option, if_tsoffset).
fn pcapng(ifaces: &[(u32, Option<u8>, Option<i64>)], pkts: &[Pkt]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(&mut out, 0x0a0d_0d0a, &shb);
    for &(lt, resol, offset) in ifaces {
        let mut idb = (lt as u16).to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&262_144u32.to_le_bytes());
        if let Some(r) = resol {
            idb.extend_from_slice(&9u16.to_le_bytes());
            idb.extend_from_slice(&1u16.to_le_bytes());
            idb.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = offset {
            idb.extend_from_slice(&14u16.to_le_bytes());
            idb.extend_from_slice(&8u16.to_le_bytes());
            idb.extend_from_slice(&o.to_le_bytes());
        }
        if resol.is_some() || offset.is_some() {
            idb.extend_from_slice(&[0, 0, 0, 0]);
        }
        ng_block(&mut out, 1, &idb);
    }
    for p in pkts {
        let (_, resol, offset) = ifaces[p.iface as usize];
        let units: u64 = match resol {
            Some(9) => 1_000_000_000,
            Some(r) => 10u64.pow(u32::from(r)),
            None => 1_000_000,
        };
        let sec = u64::from(p.sec) - offset.unwrap_or(0) as u64;
        let ts = sec * units + u64::from(p.nsec) * units / 1_000_000_000;
        let mut epb = p.iface.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&p.origlen.to_le_bytes());
        epb.extend_from_slice(&p.data);
        ng_block(&mut out, 6, &epb);
    }
    out
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let dir = std::env::temp_dir().join(format!("rtmpscope-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Owned copy of a packet read back.
#[derive(Debug, PartialEq)]
struct Got {
    cnt: u64,
    time: PacketTime,
    linktype: u32,
    origlen: u32,
    data: Vec<u8>,
}

fn read_all(src: &mut PacketSource) -> (Vec<Got>, Option<CaptureError>) {
    let mut got = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => got.push(Got {
                cnt: p.pcap_cnt,
                time: p.time,
                linktype: p.linktype,
                origlen: p.origlen,
                data: p.data.to_vec(),
            }),
            Ok(None) => return (got, None),
            Err(e) => return (got, Some(e)),
        }
    }
}

fn expect(pkts: &[Pkt], linktypes: &[u32], micro: bool) -> Vec<Got> {
    pkts.iter()
        .enumerate()
        .map(|(i, p)| Got {
            cnt: i as u64 + 1,
            time: PacketTime::new(
                i64::from(p.sec),
                if micro { p.nsec / 1000 * 1000 } else { p.nsec },
            ),
            linktype: linktypes[p.iface as usize],
            origlen: p.origlen,
            data: p.data.clone(),
        })
        .collect()
}

fn sample() -> Vec<Pkt> {
    let mut big = pkt(
        1_700_000_001,
        999_999_999,
        frame(false, 1935, 50_000, &[7u8; 1400]),
    );
    big.data.truncate(100);
    big.origlen = 1454;
    vec![
        pkt(
            1_700_000_000,
            123_456_789,
            frame(false, 50_000, 1935, b"\x03hello"),
        ),
        pkt(1_700_000_000, 123_457_000, frame(true, 53, 53, b"dns")),
        big,
    ]
}

#[test]
fn classic_pcap_micro_via_libpcap() {
    let pkts = sample();
    let f = TempFile::new("micro.pcap", &classic_pcap(1, false, false, &pkts));
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    assert_eq!(src.backend(), Backend::Libpcap);
    assert_eq!(src.linktypes(), vec![1]);
    assert!(src.description().contains("micro.pcap"));
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, expect(&pkts, &[1], true));
    assert!(src.stats().is_none());
}

#[test]
fn classic_pcap_nano_and_big_endian() {
    let pkts = sample();
    for be in [false, true] {
        let f = TempFile::new(
            &format!("nano-{be}.pcap"),
            &classic_pcap(1, true, be, &pkts),
        );
        let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
        let (got, err) = read_all(&mut src);
        assert!(err.is_none());
        assert_eq!(got, expect(&pkts, &[1], false), "big endian {be}");
        // Same bytes through the pure-Rust reader.
        let bytes = classic_pcap(1, true, be, &pkts);
        let mut src =
            PacketSource::open_reader(Cursor::new(bytes), "mem", &SourceOptions::default())
                .unwrap();
        assert_eq!(src.backend(), Backend::PcapParser);
        let (got, err) = read_all(&mut src);
        assert!(err.is_none());
        assert_eq!(got, expect(&pkts, &[1], false), "parser, big endian {be}");
    }
}

#[test]
fn pcapng_single_interface_nano_via_libpcap() {
    let pkts = sample();
    let f = TempFile::new("one.pcapng", &pcapng(&[(1, Some(9), None)], &pkts));
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    assert_eq!(src.backend(), Backend::Libpcap);
    let (got, err) = read_all(&mut src);
    assert!(err.is_none());
    assert_eq!(got, expect(&pkts, &[1], false));
}

/// Two interfaces with different link types: libpcap refuses the file,
/// pcap-parser reads it; resolutions and offsets differ per interface.
fn mixed() -> (Vec<u8>, Vec<Pkt>) {
    let mut pkts = sample();
    let ip_only = frame(false, 1935, 40_000, b"raw ip")[14..].to_vec();
    let mut p = pkt(1_700_000_002, 5_000, ip_only);
    p.iface = 1;
    pkts.insert(1, p);
    let mut q = pkt(1_700_000_003, 42, frame(false, 40_000, 1935, b"sll?"));
    q.data = q.data[14..].to_vec();
    q.origlen = q.data.len() as u32;
    q.iface = 1;
    pkts.push(q);
    (
        pcapng(
            &[(1, None, None), (101, Some(9), Some(1_000_000_000))],
            &pkts,
        ),
        pkts,
    )
}

#[test]
fn pcapng_mixed_linktypes_fall_back_to_pcap_parser() {
    let (bytes, pkts) = mixed();
    let f = TempFile::new("mixed.pcapng", &bytes);
    // libpcap 1.10 opens the file and fails at the second interface.
    let libpcap_refuses = match Capture::from_file(&f.0) {
        Err(_) => true,
        Ok(mut c) => loop {
            match c.next_packet() {
                Ok(_) => {}
                Err(pcap::Error::NoMorePackets) => break false,
                Err(_) => break true,
            }
        },
    };
    assert!(libpcap_refuses, "the fallback test proves nothing");
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(src.backend(), Backend::PcapParser);
    assert!(src.description().contains("pcap-parser"));
    assert_eq!(src.linktypes(), vec![1, 101]);
    // Interface 0 has microsecond resolution, interface 1 nanoseconds.
    let mut want = expect(&pkts, &[1, 101], false);
    for (w, p) in want.iter_mut().zip(&pkts) {
        if p.iface == 0 {
            w.time = PacketTime::new(i64::from(p.sec), p.nsec / 1000 * 1000);
        }
    }
    assert_eq!(got, want);
    assert_eq!(got[1].time, PacketTime::new(1_700_000_002, 5_000));
    assert_eq!(got[3].origlen, 1454);
    assert_eq!(got[3].data.len(), 100);
}

/// A reader that hands out one byte per read, like a slow pipe.
struct Trickle(Vec<u8>, usize);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.get(self.1), buf.first_mut()) {
            (Some(b), Some(slot)) => {
                *slot = *b;
                self.1 += 1;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn streaming_reader_survives_one_byte_reads() {
    let (bytes, pkts) = mixed();
    let mut src =
        PacketSource::open_reader(Trickle(bytes, 0), "pipe", &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), pkts.len());
    assert_eq!(got[4].data, pkts[4].data);
    let pkts = sample();
    let mut src = PacketSource::open_reader(
        Trickle(classic_pcap(1, false, false, &pkts), 0),
        "pipe",
        &SourceOptions::default(),
    )
    .unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none());
    assert_eq!(got, expect(&pkts, &[1], true));
}

#[test]
fn filter_keeps_file_frame_numbers() {
    let pkts = sample();
    let opts = SourceOptions {
        filter: Some("tcp".into()),
        ..SourceOptions::default()
    };
    let f = TempFile::new("filter.pcap", &classic_pcap(1, false, false, &pkts));
    let mut src = PacketSource::open_file(&f.0, &opts).unwrap();
    let (got, _) = read_all(&mut src);
    assert_eq!(got.iter().map(|g| g.cnt).collect::<Vec<_>>(), vec![1, 3]);

    // Per-link-type compilation in the pure-Rust path: the RAW packets
    // (frames 2 and 5) match too.
    let (bytes, _) = mixed();
    let opts = SourceOptions {
        filter: Some("tcp port 1935".into()),
        ..SourceOptions::default()
    };
    let mut src = PacketSource::open_reader(Cursor::new(bytes), "mem", &opts).unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        got.iter().map(|g| (g.cnt, g.linktype)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 101), (4, 1), (5, 101)]
    );
}

#[test]
fn bad_filter_is_reported() {
    let f = TempFile::new("badfilter.pcap", &classic_pcap(1, false, false, &sample()));
    let opts = SourceOptions {
        filter: Some("tcp port".into()),
        ..SourceOptions::default()
    };
    let e = PacketSource::open_file(&f.0, &opts).unwrap_err();
    assert!(matches!(e, CaptureError::BadFilter { .. }), "{e:?}");
    assert!(e.to_string().contains("tcp port"));
    // Pure-Rust path: compiled when the first interface appears.
    let mut src = PacketSource::open_reader(Cursor::new(mixed().0), "mem", &opts).unwrap();
    assert!(matches!(
        src.next_packet(),
        Err(CaptureError::BadFilter { .. })
    ));
}

#[test]
fn open_errors_are_typed() {
    let missing = std::env::temp_dir().join("rtmpscope-definitely-missing.pcap");
    let e = PacketSource::open_file(&missing, &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, CaptureError::NotFound(_)), "{e:?}");
    assert!(e.to_string().ends_with("no such file"));

    let f = TempFile::new("text.pcap", b"this is not a capture at all\n");
    let e = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e:?}");

    let f = TempFile::new("empty.pcap", b"");
    let e = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");

    let dir = std::env::temp_dir();
    let e = PacketSource::open_file(&dir, &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e:?}");

    // Only a magic number: the header is cut.
    let e = PacketSource::open_reader(
        Cursor::new(vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
        "mem",
        &SourceOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e:?}");

    let e =
        PacketSource::open_live("rtmpscope-no-such-if0", &SourceOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            CaptureError::NoSuchDevice(_) | CaptureError::PermissionDenied { live: true, .. }
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_last_packet_keeps_earlier_packets() {
    let pkts = sample();
    let mut bytes = classic_pcap(1, false, false, &pkts);
    bytes.truncate(bytes.len() - 30);
    let f = TempFile::new("cut.pcap", &bytes);
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert_eq!(got.len(), 2);
    let err = err.expect("truncation reported");
    assert!(err.is_truncation(), "{err:?}");

    let (mut ng, _) = mixed();
    ng.truncate(ng.len() - 10);
    let mut src =
        PacketSource::open_reader(Cursor::new(ng), "mem", &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert_eq!(got.len(), 4);
    assert!(err.expect("truncation reported").is_truncation());
}

#[test]
fn undefined_interface_and_garbage_block() {
    let (_, mut pkts) = mixed();
    pkts[0].iface = 7;
    // Writer needs a valid interface to pick the resolution: patch after.
    let mut p = pkts.clone();
    p[0].iface = 0;
    let mut bytes = pcapng(&[(1, None, None), (101, Some(9), Some(1_000_000_000))], &p);
    // First EPB body starts after SHB (28) + IDB0 (20) + IDB1 (44) + 8.
    let epb = 28 + 20 + 44;
    assert_eq!(&bytes[epb..epb + 4], &6u32.to_le_bytes());
    bytes[epb + 8..epb + 12].copy_from_slice(&7u32.to_le_bytes());
    let mut src =
        PacketSource::open_reader(Cursor::new(bytes.clone()), "mem", &SourceOptions::default())
            .unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got[0].linktype, LINKTYPE_UNDEFINED_INTERFACE);
    assert_eq!(got.len(), pkts.len());

    // A block whose trailing length disagrees: damaged, reported, no panic.
    let second = epb + u32::from_le_bytes(bytes[epb + 4..epb + 8].try_into().unwrap()) as usize;
    bytes[second + 4] ^= 0x40;
    let mut src =
        PacketSource::open_reader(Cursor::new(bytes), "mem", &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert_eq!(got.len(), 1);
    assert!(err.is_some());
}

#[test]
fn stop_handle_ends_the_source() {
    let f = TempFile::new("stop.pcap", &classic_pcap(1, false, false, &sample()));
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    assert!(src.next_packet().unwrap().is_some());
    let h = src.stop_handle();
    assert!(!h.stop());
    assert!(h.stop(), "second stop reports the first");
    assert!(src.next_packet().unwrap().is_none());
}

#[test]
fn ng_time_resolutions() {
    let i = |resolution, offset| Iface {
        linktype: 1,
        resolution,
        offset,
    };
    // 2^-20 units: 0x80 | 20 resolution.
    let t = ng_time(0, (3 << 20) + (1 << 19), Some(&i(1 << 20, 0)));
    assert_eq!(t, PacketTime::new(3, 500_000_000));
    let t = ng_time(0, 1_500, Some(&i(1_000, -2)));
    assert_eq!(t, PacketTime::new(-1, 500_000_000));
    let t = ng_time(1, 0, None);
    assert_eq!(t, PacketTime::new(4294, 967_296_000));
}

#[test]
fn libpcap_failing_mid_file_continues_with_pcap_parser() {
    // Two Ethernet packets, then a RAW interface appears: libpcap delivers
    // the first two and fails; the rest comes from pcap-parser, numbered on.
    let pkts = sample();
    let mut bytes = pcapng(&[(1, None, None)], &pkts[..2]);
    let mut raw = pkt(
        1_700_000_009,
        1,
        frame(false, 1935, 1, b"raw")[14..].to_vec(),
    );
    raw.iface = 1;
    let mut tail = vec![raw, pkts[2].clone()];
    tail[1].nsec = 0;
    let second = pcapng(&[(1, None, None), (101, Some(9), None)], &tail);
    bytes.extend_from_slice(&second[28 + 20..]);
    let f = TempFile::new("midfile.pcapng", &bytes);
    let mut src = PacketSource::open_file(&f.0, &SourceOptions::default()).unwrap();
    assert_eq!(src.backend(), Backend::Libpcap);
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(src.backend(), Backend::PcapParser);
    assert_eq!(
        got.iter().map(|g| (g.cnt, g.linktype)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 1), (3, 101), (4, 1)]
    );
    assert_eq!(got[1].data, pkts[1].data);
    assert_eq!(got[2].time, PacketTime::new(1_700_000_009, 1));
    assert_eq!(got[3].data, pkts[2].data);

    // Same with a filter: UDP frame 2 is dropped, numbering is unchanged.
    let opts = SourceOptions {
        filter: Some("tcp".into()),
        ..SourceOptions::default()
    };
    let mut src = PacketSource::open_file(&f.0, &opts).unwrap();
    let (got, err) = read_all(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.iter().map(|g| g.cnt).collect::<Vec<_>>(), vec![1, 3, 4]);
}

#[test]
fn absurd_record_length_is_an_error_not_an_allocation() {
    let mut bytes = classic_pcap(1, false, false, &sample()[..1]);
    // A record header claiming 2 GiB of captured bytes.
    for v in [1u32, 0, 0x7fff_ffff, 0x7fff_ffff] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&[0u8; 64]);
    let mut src =
        PacketSource::open_reader(Cursor::new(bytes), "mem", &SourceOptions::default()).unwrap();
    let (got, err) = read_all(&mut src);
    assert_eq!(got.len(), 1);
    let err = err.expect("error reported");
    assert!(matches!(err, CaptureError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("limit 16 MiB"), "{err}");
}

#[test]
fn blocks_larger_than_the_initial_buffer_are_read() {
    let big = pkt(5, 6_000, (0..3 << 20).map(|i| (i % 251) as u8).collect());
    let pkts = vec![sample()[0].clone(), big, sample()[1].clone()];
    for bytes in [
        classic_pcap(1, true, false, &pkts),
        pcapng(&[(1, Some(9), None)], &pkts),
    ] {
        let mut src =
            PacketSource::open_reader(Cursor::new(bytes), "mem", &SourceOptions::default())
                .unwrap();
        let (got, err) = read_all(&mut src);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, expect(&pkts, &[1], false));
    }
}

/// Live open failures are classified by codes, not by libpcap's text: a
/// message that says "permission" about an interface that does not exist
/// is a missing device, an error kind the crate hands back is read as such,
/// and
/// text alone decides nothing.
#[test]
fn live_failures_are_classified_by_code() {
    let text = |s: &str| pcap::Error::PcapError(s.to_string());
    assert_eq!(
        live_failure_cause("rtmpscope-no-such0", &text("permission denied")),
        LiveFailure::NoSuchDevice
    );
    assert_eq!(
        live_failure_cause(
            "lo",
            &pcap::Error::IoError(std::io::ErrorKind::PermissionDenied)
        ),
        LiveFailure::PermissionDenied
    );
    // An existing interface, a process that may open packet sockets: the
    // words "no such device" in the text do not make it one.
    if nix::unistd::geteuid().is_root() {
        assert_eq!(
            live_failure_cause("lo", &text("no such device exists")),
            LiveFailure::Other
        );
    }
}
