//! Community ID flow hashing, version 1 (the public Corelight spec), for TCP.
//!
//! Contract: [`community_id_v1`] is a pure function of the two endpoints and
//! the seed; it returns the same string for both orientations of a flow, so
//! records can be joined with Zeek and Suricata. The hash is SHA-1, which the
//! crate's `sha2` dependency does not provide, so a small SHA-1 lives here
//! (checked against the FIPS 180 test vectors).

use base64::Engine;
use std::net::IpAddr;

/// IANA protocol number of TCP.
const PROTO_TCP: u8 = 6;

/// Community ID v1 of a TCP flow: `"1:" + base64(sha1(seed, ordered
/// endpoints, proto, pad, ports))`.
///
/// The endpoints are ordered so that the smaller (address, port) pair comes
/// first; addresses compare as bytes, ports only when the addresses are
/// equal.
pub fn community_id_v1(
    seed: u16,
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
) -> String {
    let (s, sp, d, dp) = (ip_bytes(src), src_port, ip_bytes(dst), dst_port);
    let swap = match s.as_slice().cmp(d.as_slice()) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => sp > dp,
    };
    let (a, ap, b, bp) = if swap { (d, dp, s, sp) } else { (s, sp, d, dp) };
    let mut input = Vec::with_capacity(2 + 16 + 16 + 2 + 4);
    input.extend_from_slice(&seed.to_be_bytes());
    input.extend_from_slice(&a);
    input.extend_from_slice(&b);
    input.push(PROTO_TCP);
    input.push(0);
    input.extend_from_slice(&ap.to_be_bytes());
    input.extend_from_slice(&bp.to_be_bytes());
    let digest = sha1(&input);
    let mut out = String::from("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// SHA-1 (FIPS 180-4) of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut tail = Vec::with_capacity(128);
    let full = data.len() - data.len() % 64;
    tail.extend_from_slice(&data[full..]);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&bit_len.to_be_bytes());
    for block in data[..full].chunks_exact(64).chain(tail.chunks_exact(64)) {
        sha1_block(&mut h, block);
    }
    let mut out = [0u8; 20];
    for (o, w) in out.chunks_exact_mut(4).zip(h.iter()) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn sha1_block(h: &mut [u32; 5], block: &[u8]) {
    let mut w = [0u32; 80];
    for (i, c) in block.chunks_exact(4).enumerate().take(16) {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for (i, wi) in w.iter().enumerate() {
        let (f, k) = match i {
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(*wi);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    h[0] = h[0].wrapping_add(a);
    h[1] = h[1].wrapping_add(b);
    h[2] = h[2].wrapping_add(c);
    h[3] = h[3].wrapping_add(d);
    h[4] = h[4].wrapping_add(e);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha1_fips_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha1(&million)),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn sha1_block_boundaries() {
        // 55, 56, 63, 64 and 65 bytes exercise every padding path; compare
        // with the same input hashed via a different split is impossible for
        // a one-shot API, so check determinism plus distinctness and the
        // known 64-byte 'a' vector.
        assert_eq!(
            hex(&sha1(&[b'a'; 64])),
            "0098ba824b5c16427bd7a1122a5a442a25ec644d"
        );
        let mut seen = std::collections::HashSet::new();
        for n in [55usize, 56, 63, 64, 65, 119, 120] {
            assert!(seen.insert(sha1(&vec![b'a'; n])));
        }
    }

    #[test]
    fn community_id_spec_vector_tcp() {
        let a: IpAddr = "128.232.110.120".parse().unwrap();
        let b: IpAddr = "66.35.250.204".parse().unwrap();
        let want = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
        assert_eq!(community_id_v1(0, a, 34855, b, 80), want);
        // Both orientations hash the same.
        assert_eq!(community_id_v1(0, b, 80, a, 34855), want);
        // A different seed changes the hash.
        assert_ne!(community_id_v1(1, a, 34855, b, 80), want);
    }

    #[test]
    fn community_id_same_address_orders_by_port() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            community_id_v1(0, a, 1935, a, 50000),
            community_id_v1(0, a, 50000, a, 1935)
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let id = community_id_v1(0, v6, 1000, v6b, 1935);
        assert!(id.starts_with("1:") && id.len() == 30);
        assert_eq!(id, community_id_v1(0, v6b, 1935, v6, 1000));
    }
}
