//! Community ID flow hashing, version 1 (the public Corelight spec), for TCP.
//!
//! Contract: [`community_id_v1`] is a pure function of the two endpoints and
//! the seed; it returns the same string for both orientations of a flow, so
//! records can be joined with Zeek and Suricata. The hash is SHA-1 from the
//! RustCrypto `sha1` crate.

use base64::Engine;
use sha1::{Digest, Sha1};
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
    let digest = Sha1::digest(&input);
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// IPv6 known answers, computed independently by Wireshark 4.0's
    /// `communityid` dissector (seeds 0 and 1) on a pcap holding these SYNs;
    /// the first address pair is the spec's own IPv6 test pair.
    #[test]
    fn community_id_ipv6_known_answers() {
        let cases: [(&str, u16, &str, u16, &str, &str); 3] = [
            (
                "fe80:1:203:405:607:809:a0b:c0d",
                1122,
                "fe80:1011:1213:1415:1617:1819:1a1b:1c1d",
                3344,
                "1:x46CnGcE5e7seY/CGiklKh9QYug=",
                "1:BjuWk5haGr3+zhimax9ypsJfz9Y=",
            ),
            (
                "2001:db8::1",
                50000,
                "2001:db8::2",
                1935,
                "1:PT6P5Pbx+oVZj0KxlzpKheY1cZk=",
                "1:iXryzORu1X3hO6GGe1BhMTrWy6U=",
            ),
            (
                "2001:db8::2",
                443,
                "2001:db8::1",
                443,
                "1:d/cl1QBulo0CEDuwagSnXAI3CHY=",
                "1:fjwJLyk+gmASLKvK5ooOfZkZ1Wo=",
            ),
        ];
        for (s, sp, d, dp, seed0, seed1) in cases {
            let (s, d): (IpAddr, IpAddr) = (s.parse().unwrap(), d.parse().unwrap());
            assert_eq!(community_id_v1(0, s, sp, d, dp), seed0);
            assert_eq!(community_id_v1(0, d, dp, s, sp), seed0);
            assert_eq!(community_id_v1(1, s, sp, d, dp), seed1);
        }
    }
}
