//! `rtmpscope extract` against the corpus ground truth.
//!
//! For every capture in captures/ that carries media, the extracted FLV files
//! are walked tag by tag *here* (own FLV and tag-header parser, own MD5, no
//! ffmpeg) and each audio/video packet's payload MD5 is compared with the
//! stored `framemd5` files: what the publisher sent (`source`,
//! `server-record`, `server-received`) and what the player received
//! (`player*`). E-RTMP HEVC/AV1/VP9/Opus and multitrack included. A truth
//! stream must appear in the extracted stream packet for packet and in order
//! (a contiguous run: a player joins late, a listen server loses its last
//! packets at EOF, rtmpdump's FLV misses its last packets after SIGINT).
//!
//! Also: every extracted file passes `ffmpeg -v error -i FILE -c copy -f
//! null -` (SKIPPED without ffmpeg); the lossy capture 10 gives valid files
//! whose packets are all packets of the lossless original 01, in order, and
//! whose sidecars list exactly the byte ranges removed (removed.tsv); memory
//! stays flat (the extractor's held bytes never exceed the largest message).

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::output::extract::{extract_file, ExtractOptions, Extractor, FileReport};
use rtmpscope::pipeline::{Analyzer, Config};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

// ---------------------------------------------------------------- MD5 (RFC 1321)

fn md5(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for block in msg.chunks(64) {
        let m: Vec<u32> = block
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (h[0], h[1], h[2], h[3]);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f2 = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f2.rotate_left(S[i]));
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
    }
    h.iter()
        .flat_map(|x| x.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn md5_known_answers() {
    assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        md5(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
}

// ---------------------------------------------------------------- FLV walking

/// One FLV tag: (type, timestamp, body).
fn flv_tags(file: &[u8]) -> Vec<(u8, u32, &[u8])> {
    assert!(file.len() >= 13, "file shorter than an FLV header");
    assert_eq!(&file[..3], b"FLV", "FLV signature");
    assert_eq!(file[3], 1, "FLV version");
    let off = u32::from_be_bytes([file[5], file[6], file[7], file[8]]) as usize;
    assert_eq!(off, 9);
    assert_eq!(&file[9..13], &[0, 0, 0, 0], "PreviousTagSize0");
    let mut pos = 13;
    let mut out = Vec::new();
    while pos < file.len() {
        assert!(pos + 11 <= file.len(), "truncated tag header at {pos}");
        let h = &file[pos..pos + 11];
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        assert_eq!(&h[8..11], &[0, 0, 0], "StreamID is 0");
        let end = pos + 11 + size;
        assert!(end + 4 <= file.len(), "truncated tag at {pos}");
        let prev = u32::from_be_bytes([file[end], file[end + 1], file[end + 2], file[end + 3]]);
        assert_eq!(prev as usize, 11 + size, "PreviousTagSize at {pos}");
        out.push((h[0], ts, &file[pos + 11..end]));
        pos = end + 4;
    }
    out
}

/// Stream key of a demuxed packet: (is video, track id).
type SKey = (bool, u8);

/// The coded packets of one tag body as ffmpeg's flv demuxer hands them
/// out (sequence headers, ends and metadata are not packets).
fn packets(video: bool, b: &[u8]) -> Vec<(SKey, &[u8])> {
    let mut out = Vec::new();
    if b.is_empty() {
        return out;
    }
    if video {
        let ex = b[0] & 0x80 != 0;
        if !ex {
            let codec = b[0] & 0x0f;
            if b[0] >> 4 == 5 {
                return out; // command frame
            }
            match codec {
                7 | 12 => {
                    if b.len() >= 5 && b[1] == 1 {
                        out.push(((true, 0), &b[5..]));
                    }
                }
                _ => out.push(((true, 0), &b[1..])),
            }
            return out;
        }
        let pt = b[0] & 0x0f;
        if b[0] >> 4 & 7 == 5 {
            return out;
        }
        if pt == 6 {
            multitrack(true, &b[1..], &mut out);
            return out;
        }
        let Some(fourcc) = b.get(1..5) else {
            return out;
        };
        let body = &b[5..];
        if let Some(p) = coded(true, pt, fourcc, body) {
            out.push(((true, 0), p));
        }
        return out;
    }
    let fmt = b[0] >> 4;
    if fmt == 9 {
        let pt = b[0] & 0x0f;
        if pt == 5 {
            multitrack(false, &b[1..], &mut out);
            return out;
        }
        let Some(fourcc) = b.get(1..5) else {
            return out;
        };
        if let Some(p) = coded(false, pt, fourcc, &b[5..]) {
            out.push(((false, 0), p));
        }
        return out;
    }
    if fmt == 10 {
        if b.len() >= 2 && b[1] == 1 {
            out.push(((false, 0), &b[2..]));
        }
        return out;
    }
    out.push(((false, 0), &b[1..]));
    out
}

/// The coded-frame payload of an E-RTMP packet of type `pt`, or None for
/// sequence starts/ends, metadata and the like.
fn coded<'a>(video: bool, pt: u8, fourcc: &[u8], body: &'a [u8]) -> Option<&'a [u8]> {
    if video {
        match pt {
            1 if fourcc == b"hvc1" || fourcc == b"avc1" => body.get(3..),
            1 | 3 => Some(body),
            _ => None,
        }
    } else {
        (pt == 1).then_some(body)
    }
}

/// E-RTMP multitrack body (after the first byte).
fn multitrack<'a>(video: bool, b: &'a [u8], out: &mut Vec<(SKey, &'a [u8])>) {
    let Some(&first) = b.first() else { return };
    let mode = first >> 4; // 0 one track, 1 many tracks, 2 many tracks many codecs
    let pt = first & 0x0f;
    let mut pos = 1;
    let mut fourcc: &[u8] = &[];
    if mode != 2 {
        fourcc = &b[pos..pos + 4];
        pos += 4;
    }
    while pos < b.len() {
        if mode == 2 {
            fourcc = &b[pos..pos + 4];
            pos += 4;
        }
        let track = b[pos];
        pos += 1;
        let size = if mode == 0 {
            b.len() - pos
        } else {
            let s = u32::from_be_bytes([0, b[pos], b[pos + 1], b[pos + 2]]) as usize;
            pos += 3;
            s
        };
        let body = &b[pos..pos + size];
        pos += size;
        if let Some(p) = coded(video, pt, fourcc, body) {
            out.push(((video, track), p));
        }
    }
}

/// Packet MD5s per stream of an FLV file, in order.
fn file_streams(path: &Path) -> HashMap<SKey, Vec<(usize, String)>> {
    let data = std::fs::read(path).expect("read flv");
    let mut s: HashMap<SKey, Vec<(usize, String)>> = HashMap::new();
    for (t, _, body) in flv_tags(&data) {
        if t != 8 && t != 9 {
            assert_eq!(t, 18, "only audio, video and script tags");
            continue;
        }
        for (k, p) in packets(t == 9, body) {
            s.entry(k).or_default().push((p.len(), md5(p)));
        }
    }
    s
}

/// framemd5: per stream index, (is video, [(size, md5)]).
fn framemd5(path: &Path) -> Vec<(bool, Vec<(usize, String)>)> {
    let text = std::fs::read_to_string(path).expect("read framemd5");
    let mut kinds: HashMap<usize, bool> = HashMap::new();
    let mut pk: HashMap<usize, Vec<(usize, String)>> = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#media_type ") {
            let (i, k) = rest.split_once(':').expect("media_type line");
            kinds.insert(i.trim().parse().unwrap(), k.trim() == "video");
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let idx: usize = f[0].parse().unwrap();
        pk.entry(idx)
            .or_default()
            .push((f[4].parse().unwrap(), f[5].to_owned()));
    }
    let mut out: Vec<(bool, Vec<(usize, String)>)> = Vec::new();
    let mut idx: Vec<usize> = pk.keys().copied().collect();
    idx.sort();
    for i in idx {
        out.push((kinds[&i], pk.remove(&i).unwrap()));
    }
    out
}

/// Position of `needle` as a contiguous run in `hay`.
fn find_run(hay: &[(usize, String)], needle: &[(usize, String)]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

fn extract(cap: &str, dir: &Path) -> Vec<FileReport> {
    let _ = std::fs::remove_dir_all(dir);
    extract_file(
        &captures().join(cap),
        None,
        Config::default(),
        ExtractOptions {
            dir: dir.to_path_buf(),
            ..Default::default()
        },
    )
    .expect("extract")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rtmpscope-extract-{}-{name}", std::process::id()))
}

/// How an extracted stream relates to its truth stream.
#[derive(Clone, Copy, PartialEq)]
enum Cover {
    /// Packet for packet the same.
    Whole,
    /// The truth lost its last packets (listen server at EOF, rtmpdump after
    /// SIGINT): it is a leading run of the extracted stream.
    TruthPrefix,
    /// The capture ended before the sender did: the extracted stream is a
    /// leading run of the truth.
    OursPrefix,
    /// Picked up mid-stream: every extracted stream is a run of a truth
    /// stream (the video before the first sequence header is left out).
    OursRun,
}
use Cover::*;

/// (capture, file name part, truth file, cover).
const CASES: &[(&str, &str, &str, Cover)] = &[
    // RTMPT: the media extracted from the tunnel's virtual flows.
    (
        "14a-rtmpt-ffmpeg-bridge-publish-play.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "14a-rtmpt-ffmpeg-bridge-publish-play.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    // RTMPT: the media extracted from the tunnel's virtual flows.
    (
        "14b-rtmpt-ffmpeg-bridge-chunked.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "14b-rtmpt-ffmpeg-bridge-chunked.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "01-ffmpeg-nginx-publish-play.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "01-ffmpeg-nginx-publish-play.pcap",
        "publish",
        "server-record.framemd5",
        Whole,
    ),
    (
        "01-ffmpeg-nginx-publish-play.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "02-rtmpdump-nginx-play-connect-args.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "02-rtmpdump-nginx-play-connect-args.pcap",
        "play",
        "player-rtmpdump.framemd5",
        TruthPrefix,
    ),
    (
        "03-nginx-chunk128-port19350.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "03-nginx-chunk128-port19350.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "04a-eRTMP-hevc-aac-ffmpeg-listen.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "04a-eRTMP-hevc-aac-ffmpeg-listen.pcap",
        "publish",
        "server-received.framemd5",
        TruthPrefix,
    ),
    (
        "04b-eRTMP-av1-opus-ffmpeg-listen.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "04b-eRTMP-av1-opus-ffmpeg-listen.pcap",
        "publish",
        "server-received.framemd5",
        TruthPrefix,
    ),
    (
        "04c-eRTMP-vp9-opus-ffmpeg-listen.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "04c-eRTMP-vp9-opus-ffmpeg-listen.pcap",
        "publish",
        "server-received.framemd5",
        TruthPrefix,
    ),
    (
        "04d-eRTMP-multitrack-hevc-aac-ffmpeg-listen.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "04d-eRTMP-multitrack-hevc-aac-ffmpeg-listen.pcap",
        "publish",
        "server-received.framemd5",
        TruthPrefix,
    ),
    (
        "05-ffmpeg-node-media-server-publish-play.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "05-ffmpeg-node-media-server-publish-play.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "05b-eRTMP-hevc-node-media-server.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "05b-eRTMP-hevc-node-media-server.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "06-nginx-rejected-publish-missing-play.pcap",
        "publish",
        "source.framemd5",
        OursPrefix,
    ),
    (
        "08a-ipv6-any-sll2-nanosec.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "08a-ipv6-any-sll2-nanosec.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "08b-ipv6-any-sll2-nanosec.pcapng",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "08b-ipv6-any-sll2-nanosec.pcapng",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "09-nginx-5-concurrent-publishers.pcap",
        "cam1",
        "source-cam1.framemd5",
        Whole,
    ),
    (
        "09-nginx-5-concurrent-publishers.pcap",
        "cam2",
        "source-cam2.framemd5",
        Whole,
    ),
    (
        "09-nginx-5-concurrent-publishers.pcap",
        "cam3",
        "source-cam3.framemd5",
        Whole,
    ),
    (
        "09-nginx-5-concurrent-publishers.pcap",
        "cam4",
        "source-cam4.framemd5",
        Whole,
    ),
    (
        "09-nginx-5-concurrent-publishers.pcap",
        "cam5",
        "source-cam5.framemd5",
        Whole,
    ),
    (
        "11-nginx-chunk60000-big-keyframes.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "11-nginx-chunk60000-big-keyframes.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
    (
        "12-nginx-extended-timestamps.pcap",
        "publish",
        "source.framemd5",
        Whole,
    ),
    (
        "12-nginx-extended-timestamps.pcap",
        "play",
        "player.framemd5",
        Whole,
    ),
];

#[test]
fn extracted_packets_match_framemd5_ground_truth() {
    let mut checked = 0;
    let mut by_cap: HashMap<&str, Vec<FileReport>> = HashMap::new();
    for &(cap, role, truth, cover) in CASES {
        let tpath = captures()
            .join(cap.rsplit_once('.').unwrap().0.to_owned() + ".truth")
            .join(truth);
        if !captures().join(cap).exists() || !tpath.exists() {
            inputs::missing(&format!("{cap} or its {truth} is absent"));
            continue;
        }
        let reports = by_cap.entry(cap).or_insert_with(|| extract(cap, &tmp(cap)));
        let file = reports
            .iter()
            .find(|r| {
                r.path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(&format!("-{role}"))
            })
            .unwrap_or_else(|| panic!("{cap}: no {role} file in {reports:?}"));
        let ours = file_streams(&file.path);
        let truth_streams = framemd5(&tpath);
        assert!(!truth_streams.is_empty(), "{truth} has packets");
        if cover == OursRun {
            for (k, have) in &ours {
                assert!(
                    truth_streams
                        .iter()
                        .any(|(v, want)| *v == k.0 && find_run(want, have).is_some()),
                    "{cap} {role}: extracted stream {k:?} ({} packets) is no run of {truth}",
                    have.len()
                );
                checked += have.len();
            }
            continue;
        }
        let mut used: Vec<SKey> = Vec::new();
        for (i, (video, want)) in truth_streams.iter().enumerate() {
            let hit = ours.iter().find(|(k, have)| {
                k.0 == *video
                    && !used.contains(k)
                    && match cover {
                        Whole => *have == want,
                        TruthPrefix => find_run(have, want) == Some(0),
                        OursPrefix => find_run(want, have) == Some(0),
                        OursRun => false,
                    }
            });
            let Some((k, _)) = hit else {
                let lens: Vec<_> = ours.iter().map(|(k, v)| (*k, v.len())).collect();
                panic!(
                    "{cap} {role}: truth stream {i} of {truth} ({} packets, video={video}) \
                 does not match any extracted stream {lens:?}",
                    want.len()
                );
            };
            used.push(*k);
            checked += want.len();
        }
        assert_eq!(
            used.len(),
            ours.len(),
            "{cap} {role}: every extracted stream is in {truth}"
        );
    }
    eprintln!("checked {checked} packets against framemd5 ground truth");
    for cap in by_cap.keys() {
        let _ = std::fs::remove_dir_all(tmp(cap));
    }
}

/// The modern ffmpeg (imageio-ffmpeg, reads enhanced FLV), if installed.
fn modern_ffmpeg() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import imageio_ffmpeg;print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && p.exists()).then_some(p)
}

#[test]
fn every_extracted_file_passes_ffmpeg() {
    let Some(ff) = modern_ffmpeg() else {
        inputs::missing("modern ffmpeg absent (pip install imageio-ffmpeg)");
        return;
    };
    let mut caps: Vec<PathBuf> = std::fs::read_dir(captures())
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    caps.sort();
    let mut files = 0;
    for cap in caps {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tmp(&format!("ff-{name}"));
        for r in extract(&name, &dir) {
            let out = Command::new(&ff)
                .args(["-nostdin", "-v", "error", "-i"])
                .arg(&r.path)
                .args(["-c", "copy", "-f", "null", "-"])
                .output()
                .expect("run ffmpeg");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && err.trim().is_empty(),
                "{}: ffmpeg says: {err}",
                r.path.display()
            );
            files += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(files >= 30, "only {files} files extracted from the corpus");
}

/// Initial sequence numbers of every sender (ip, port, peer port) in a
/// capture: the seq of its SYN (or SYN-ACK).
fn isns(cap: &Path) -> HashMap<(std::net::IpAddr, u16, u16), u32> {
    let mut src = PacketSource::open_file(cap, &SourceOptions::default()).expect("open");
    let mut m = HashMap::new();
    while let Some(p) = src.next_packet().expect("read") {
        if let rtmpscope::link::Decoded::Tcp(seg) =
            rtmpscope::link::decode(p.linktype, p.data, p.origlen)
        {
            if seg.flags.syn {
                m.insert((seg.src, seg.src_port, seg.dst_port), seg.seq);
            }
        }
    }
    m
}

#[test]
fn lossy_capture_gives_valid_files_with_exact_loss_lists() {
    let orig = "01-ffmpeg-nginx-publish-play.pcap";
    let lossy = "10-ffmpeg-nginx-publish-play-lossy.pcap";
    let removed = captures().join("10-ffmpeg-nginx-publish-play-lossy.truth/removed.tsv");
    if !captures().join(orig).exists() || !captures().join(lossy).exists() || !removed.exists() {
        inputs::missing("captures 01/10 or removed.tsv absent");
        return;
    }
    let isn = isns(&captures().join(lossy));
    // Expected lost stream ranges: towards the server (publisher) and
    // towards the client (player), merged when adjacent.
    let mut want: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
    for line in std::fs::read_to_string(&removed).unwrap().lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let src: std::net::IpAddr = f[1].parse().unwrap();
        let sport: u16 = f[2].parse().unwrap();
        let dport: u16 = f[4].parse().unwrap();
        let seq: u32 = f[5].parse().unwrap();
        let len: u64 = f[6].parse().unwrap();
        let off = seq.wrapping_sub(isn[&(src, sport, dport)]).wrapping_sub(1) as u64;
        let role = if dport == 1935 { "publish" } else { "play" };
        let v = want.entry(role).or_default();
        match v.last_mut() {
            Some(l) if l.0 + l.1 == off => l.1 += len,
            _ => v.push((off, len)),
        }
    }
    for v in want.values_mut() {
        v.sort();
    }
    let a = extract(orig, &tmp("lossless"));
    let b = extract(lossy, &tmp("lossy"));
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 2);
    for role in ["publish", "play"] {
        let find = |rs: &[FileReport]| rs.iter().find(|r| r.sidecar.role == role).cloned().unwrap();
        let (ra, rb) = (find(&a), find(&b));
        // The sidecar on disk lists exactly the removed ranges.
        let mut sp = rb.path.clone().into_os_string();
        sp.push(".json");
        let side: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sp).expect("sidecar")).unwrap();
        let got: Vec<(u64, u64)> = side["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["offset"].as_u64().unwrap(), g["len"].as_u64().unwrap()))
            .collect();
        assert_eq!(got, want[role], "{role}: sidecar gaps vs removed.tsv");
        let dropped: u64 = side["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["messages_dropped"].as_u64().unwrap())
            .sum();
        // Every packet of the lossy file is one the sender sent, in order.
        let sa = file_streams(&ra.path);
        let sb = file_streams(&rb.path);
        let mut missing = 0;
        for (k, have) in &sb {
            let all = &sa[k];
            let mut i = 0;
            for p in have {
                while i < all.len() && all[i] != *p {
                    i += 1;
                }
                assert!(
                    i < all.len(),
                    "{role} {k:?}: packet {p:?} not sent (or out of order)"
                );
                i += 1;
            }
            missing += all.len() - have.len();
        }
        assert!(missing > 0, "{role}: the lossy file lost nothing?");
        assert!(
            dropped as usize <= missing,
            "{role}: {dropped} dropped > {missing} missing"
        );
        // Video resumes at a keyframe after each loss: wherever packets of
        // the original are skipped, the next one written is a keyframe.
        let keys = video_keyflags(&rb.path);
        let all = &sa[&(true, 0)];
        let have = &sb[&(true, 0)];
        assert_eq!(keys.len(), have.len());
        let mut i = 0;
        let mut resumed = 0;
        for (j, p) in have.iter().enumerate() {
            let start = i;
            while all[i] != *p {
                i += 1;
            }
            if i > start {
                assert!(
                    keys[j],
                    "{role}: video resumes at packet {j}, not a keyframe"
                );
                resumed += 1;
            }
            i += 1;
        }
        assert!(resumed > 0 || all.len() == have.len());
    }
    let _ = std::fs::remove_dir_all(tmp("lossless"));
    let _ = std::fs::remove_dir_all(tmp("lossy"));
}

/// Keyframe flag of every video packet of a (single-track, legacy) file.
fn video_keyflags(path: &Path) -> Vec<bool> {
    let data = std::fs::read(path).unwrap();
    flv_tags(&data)
        .into_iter()
        .filter(|(t, _, _)| *t == 9)
        .flat_map(|(_, _, b)| packets(true, b).into_iter().map(move |_| b[0] >> 4 == 1))
        .collect()
}

/// Memory stays flat: the stream bytes the extractor holds never exceed the
/// largest message in flight (here the 62-131 KB keyframes of capture 11),
/// whatever the length of the capture.
#[test]
fn extractor_holds_only_messages_in_flight() {
    let cap = captures().join("11-nginx-chunk60000-big-keyframes.pcap");
    if !cap.exists() {
        inputs::missing("capture 11 absent");
        return;
    }
    let dir = tmp("flat");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut src = PacketSource::open_file(&cap, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(Config::default());
    let mut ex = Extractor::new(ExtractOptions {
        dir: dir.clone(),
        ..Default::default()
    });
    let mut events = Vec::new();
    let (mut peak, mut total) = (0usize, 0usize);
    while let Some(p) = src.next_packet().expect("read") {
        total += p.data.len();
        an.handle_packet_tap(&p, &mut events, &mut ex);
        ex.handle(&events);
        events.clear();
        ex.trim(&an);
        peak = peak.max(ex.held_bytes());
    }
    an.finish(None, &mut events);
    ex.handle(&events);
    assert_eq!(ex.finish().len(), 2);
    assert!(total > 1_500_000);
    assert!(
        peak < 2 * 135_000,
        "held {peak} bytes of a {total}-byte capture"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Live extraction's promise: after any packet (Ctrl-C can come at any
/// time), the files on disk are valid FLV once flushed, and a session's file
/// and sidecar are complete as soon as its flow ends.
#[test]
fn files_are_valid_midway_and_closed_at_session_end() {
    let cap = captures().join("01-ffmpeg-nginx-publish-play.pcap");
    if !cap.exists() {
        inputs::missing("capture 01 absent");
        return;
    }
    let dir = tmp("midway");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut src = PacketSource::open_file(&cap, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(Config::default());
    let mut ex = Extractor::new(ExtractOptions {
        dir: dir.clone(),
        ..Default::default()
    });
    let ff = modern_ffmpeg();
    let mut events = Vec::new();
    let (mut n, mut checks, mut closed) = (0, 0, 0);
    while let Some(p) = src.next_packet().expect("read") {
        an.handle_packet_tap(&p, &mut events, &mut ex);
        ex.handle(&events);
        events.clear();
        ex.trim(&an);
        ex.flush();
        for r in ex.take_done() {
            // Closed at its flow's end, before the input ends.
            let mut sp = r.path.clone().into_os_string();
            sp.push(".json");
            assert!(Path::new(&sp).exists(), "sidecar of {}", r.path.display());
            closed += 1;
        }
        n += 1;
        if n % 100 != 0 {
            continue;
        }
        for e in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "flv") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let tags = flv_tags(&data); // panics on a torn tag
            if tags.is_empty() {
                continue;
            }
            checks += 1;
            if let Some(ff) = &ff {
                let out = Command::new(ff)
                    .args(["-nostdin", "-v", "error", "-i"])
                    .arg(&path)
                    .args(["-c", "copy", "-f", "null", "-"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success() && out.stderr.is_empty(),
                    "{} after {n} packets: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert!(checks >= 3, "checked {checks} partial files");
    assert_eq!(
        closed, 1,
        "the publisher's file closes at its flow end (RST, packet 933 of 936)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .args(args)
        .output()
        .expect("run rtmpscope")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn cli_options_select_redact_and_rebase() {
    let cap = captures().join("09-nginx-5-concurrent-publishers.pcap");
    if !cap.exists() {
        return inputs::missing("capture 09 absent");
    }
    let cap = cap.to_str().unwrap();
    // --session: one session's files only (session numbers = JSON flow ids).
    let d = tmp("cli-session");
    let _ = std::fs::remove_dir_all(&d);
    let o = run_cli(&[
        "-r",
        cap,
        "extract",
        "-o",
        d.to_str().unwrap(),
        "--session",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        names(&d),
        ["s3-publish-cam3-m1.flv", "s3-publish-cam3-m1.flv.json"]
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains("video avc1 77 packets, audio mp4a 132 packets"),
        "{stdout}"
    );
    // --stream + --redact: the key never reaches a file name or sidecar.
    let d = tmp("cli-redact");
    let _ = std::fs::remove_dir_all(&d);
    let o = run_cli(&[
        "-r",
        cap,
        "extract",
        "-o",
        d.to_str().unwrap(),
        "--stream",
        "cam5",
        "--redact",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let n = names(&d);
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(
        n.iter()
            .all(|f| !f.contains("cam5") && f.contains("redacted_")),
        "{n:?}"
    );
    let side = std::fs::read_to_string(d.join(&n[1])).unwrap();
    assert!(
        !side.contains("cam5") && side.contains("redacted:"),
        "{side}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("cam5"));
    // --rebase: every file starts at 0; without it the wire timestamps stay.
    let cap12 = captures().join("12-nginx-extended-timestamps.pcap");
    let d = tmp("cli-rebase");
    let _ = std::fs::remove_dir_all(&d);
    let o = run_cli(&[
        "-r",
        cap12.to_str().unwrap(),
        "extract",
        "-o",
        d.to_str().unwrap(),
        "--rebase",
        "--session",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let data = std::fs::read(d.join("s2-publish-ext-m1.flv")).unwrap();
    let tags = flv_tags(&data);
    assert_eq!(tags[0].1, 0);
    let plain = extract("12-nginx-extended-timestamps.pcap", &tmp("cli-norebase"));
    let p = plain.iter().find(|r| r.sidecar.flow_id == 2).unwrap();
    let data2 = std::fs::read(&p.path).unwrap();
    let tags2 = flv_tags(&data2);
    assert_eq!(tags.len(), tags2.len());
    // Frames run at 16,800,000 ms on the wire (extended timestamps).
    assert!(tags2.iter().any(|t| t.1 >= 16_800_000));
    for (a, b) in tags.iter().zip(&tags2) {
        assert_eq!(a.1, b.1 - tags2[0].1);
        assert_eq!(a.2, b.2);
    }
    // Unusable input: exit 2.
    let o = run_cli(&[
        "-r",
        "/nonexistent.pcap",
        "extract",
        "-o",
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    for n in ["cli-session", "cli-redact", "cli-rebase", "cli-norebase"] {
        let _ = std::fs::remove_dir_all(tmp(n));
    }
}
