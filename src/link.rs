//! Link-layer dispatch (Ethernet/VLAN, Linux SLL/SLL2, NULL/LOOP, RAW) and
//! IP/TCP decoding, including TCP carried in GTPv1-U tunnels (UDP 2152,
//! mobile networks): the segment then carries the inner addresses.
//!
//! Contract: [`decode`] takes one captured frame (its link type, captured
//! bytes and original length) and returns what it found. It never panics;
//! truncated frames yield what was captured, with the payload bytes cut by
//! the snaplen counted in [`TcpSegment::missing`].

use std::net::IpAddr;

/// TCP flags of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

/// One TCP segment as captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// 802.1Q VLAN ids, outermost first.
    pub vlan: Vec<u16>,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes the packet carried on the wire but the capture cut
    /// (snaplen): they follow `payload` in sequence space and are lost.
    pub missing: u32,
}

use etherparse::{IpNumber, LaxIpSlice, TcpSlice};

use crate::vocab::{anomalies, AnomalyKind};

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in host byte order.
pub const LINKTYPE_NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// DLT_RAW as written by some systems (raw IPv4/IPv6).
pub const LINKTYPE_RAW_DLT12: u32 = 12;
/// DLT_RAW on OpenBSD (raw IPv4/IPv6).
pub const LINKTYPE_RAW_DLT14: u32 = 14;
/// LINKTYPE_RAW: raw IPv4/IPv6, version taken from the first nibble.
pub const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback, 4-byte address family in network order.
pub const LINKTYPE_LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux "cooked" capture v1 (16-byte header).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4: raw IPv4.
pub const LINKTYPE_IPV4: u32 = 228;
/// LINKTYPE_IPV6: raw IPv6.
pub const LINKTYPE_IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2: Linux "cooked" capture v2 (20-byte header), the
/// default of `tcpdump -i any`.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Short name of a link type, as in the `meta` line (`linktype_N` when
/// rtmpscope does not decode it).
pub fn linktype_name(linktype: u32) -> String {
    match linktype {
        LINKTYPE_NULL => "null".into(),
        LINKTYPE_ETHERNET => "ethernet".into(),
        LINKTYPE_RAW | LINKTYPE_RAW_DLT12 | LINKTYPE_RAW_DLT14 => "raw".into(),
        LINKTYPE_LOOP => "loop".into(),
        LINKTYPE_LINUX_SLL => "linux_sll".into(),
        LINKTYPE_IPV4 => "ipv4".into(),
        LINKTYPE_IPV6 => "ipv6".into(),
        LINKTYPE_LINUX_SLL2 => "linux_sll2".into(),
        other => format!("linktype_{other}"),
    }
}

/// Maximum number of stacked VLAN tags followed before the frame is
/// declared malformed.
pub const MAX_VLAN_TAGS: usize = 8;

/// GTP-U tunnels (UDP port 2152) nested deeper than this are not opened.
pub const MAX_TUNNEL_DEPTH: usize = 2;
/// GTP-U extension headers followed before giving up.
pub const MAX_GTP_EXTENSIONS: usize = 8;
const GTPU_PORT: u16 = 2152;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// What [`decode`] found in one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A TCP segment (possibly with payload cut by the snaplen).
    Tcp(TcpSegment<'a>),
    /// A well-formed frame that does not carry TCP (ARP, UDP, ICMP, ...).
    NonTcp,
    /// The link type is not one rtmpscope understands.
    UnknownLink(u32),
    /// An IP fragment (reassembly of IP fragments is not done): the caller
    /// counts it as an anomaly.
    Fragment {
        src: IpAddr,
        dst: IpAddr,
        /// Protocol carried by the fragmented datagram (6 = TCP).
        ip_number: u8,
        /// 802.1Q VLAN ids, outermost first.
        vlan: Vec<u16>,
    },
    /// The frame could not be decoded; the reason is a stable dotted name
    /// (e.g. `link.ethernet_truncated`, `ip.header_truncated`,
    /// `tcp.header_truncated`).
    Malformed(AnomalyKind),
}

/// Decodes one captured frame: link layer, IP (v4/v6 with extension
/// headers) and TCP.
///
/// `origlen` is the frame length on the wire; with `data.len()` it bounds
/// the number of payload bytes the snaplen cut ([`TcpSegment::missing`]).
pub fn decode(linktype: u32, data: &[u8], origlen: u32) -> Decoded<'_> {
    let cut = (origlen as usize).saturating_sub(data.len());
    match linktype {
        LINKTYPE_ETHERNET => {
            let Some(ethertype) = be16(data, 12) else {
                return Decoded::Malformed(anomalies::LINK_ETHERNET_TRUNCATED);
            };
            ethertype_dispatch(ethertype, data.get(14..).unwrap_or(&[]), cut)
        }
        LINKTYPE_LINUX_SLL => {
            let Some(proto) = be16(data, 14) else {
                return Decoded::Malformed(anomalies::LINK_SLL_TRUNCATED);
            };
            ethertype_dispatch(proto, data.get(16..).unwrap_or(&[]), cut)
        }
        LINKTYPE_LINUX_SLL2 => {
            if data.len() < 20 {
                return Decoded::Malformed(anomalies::LINK_SLL2_TRUNCATED);
            }
            let Some(proto) = be16(data, 0) else {
                return Decoded::Malformed(anomalies::LINK_SLL2_TRUNCATED);
            };
            ethertype_dispatch(proto, data.get(20..).unwrap_or(&[]), cut)
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let Some(fam) = data.get(0..4) else {
                return Decoded::Malformed(anomalies::LINK_NULL_TRUNCATED);
            };
            let fam = [fam[0], fam[1], fam[2], fam[3]];
            let le = u32::from_le_bytes(fam);
            let be = u32::from_be_bytes(fam);
            let is = |set: &[u32]| set.contains(&le) || set.contains(&be);
            let rest = data.get(4..).unwrap_or(&[]);
            if is(&[2]) {
                ip_dispatch(Some(4), rest, Vec::new(), cut, 0)
            } else if is(&[24, 28, 30]) {
                ip_dispatch(Some(6), rest, Vec::new(), cut, 0)
            } else {
                Decoded::NonTcp
            }
        }
        LINKTYPE_RAW | LINKTYPE_RAW_DLT12 | LINKTYPE_RAW_DLT14 => {
            ip_dispatch(None, data, Vec::new(), cut, 0)
        }
        LINKTYPE_IPV4 => ip_dispatch(Some(4), data, Vec::new(), cut, 0),
        LINKTYPE_IPV6 => ip_dispatch(Some(6), data, Vec::new(), cut, 0),
        other => Decoded::UnknownLink(other),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Follows VLAN tags from an ethertype, then hands IP to [`ip_dispatch`].
fn ethertype_dispatch(mut ethertype: u16, mut rest: &[u8], cut: usize) -> Decoded<'_> {
    let mut vlan = Vec::new();
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if vlan.len() >= MAX_VLAN_TAGS {
            return Decoded::Malformed(anomalies::LINK_VLAN_TOO_DEEP);
        }
        let (Some(tci), Some(next)) = (be16(rest, 0), be16(rest, 2)) else {
            return Decoded::Malformed(anomalies::LINK_VLAN_TRUNCATED);
        };
        vlan.push(tci & 0x0fff);
        ethertype = next;
        rest = rest.get(4..).unwrap_or(&[]);
    }
    match ethertype {
        ETHERTYPE_IPV4 => ip_dispatch(Some(4), rest, vlan, cut, 0),
        ETHERTYPE_IPV6 => ip_dispatch(Some(6), rest, vlan, cut, 0),
        _ => Decoded::NonTcp,
    }
}

/// The inner IP packet of a GTPv1-U G-PDU carried in the UDP datagram `udp`
/// (port 2152), if it is one.
fn gtpu_inner(udp: &[u8]) -> Option<&[u8]> {
    let sport = be16(udp, 0)?;
    let dport = be16(udp, 2)?;
    if sport != GTPU_PORT && dport != GTPU_PORT {
        return None;
    }
    let gtp = udp.get(8..)?;
    let flags = *gtp.first()?;
    // Version 1, protocol type GTP, message type 255 (G-PDU).
    if flags >> 5 != 1 || flags & 0x10 == 0 || *gtp.get(1)? != 0xff {
        return None;
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        // Sequence number, N-PDU number, next extension header type.
        let mut next = *gtp.get(11)?;
        off = 12;
        let mut hops = 0;
        while flags & 0x04 != 0 && next != 0 {
            hops += 1;
            if hops > MAX_GTP_EXTENSIONS {
                return None;
            }
            let units = usize::from(*gtp.get(off)?);
            if units == 0 {
                return None;
            }
            let end = off + units * 4;
            next = *gtp.get(end - 1)?;
            off = end;
        }
    }
    let inner = gtp.get(off..)?;
    matches!(inner.first()? >> 4, 4 | 6).then_some(inner)
}

/// Byte offset of `inner` within `outer` when `inner` is a sub-slice.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    let off = i.checked_sub(o)?;
    (off.checked_add(inner.len())? <= outer.len()).then_some(off)
}

/// Decodes IP (and TCP) from `ip`. `version` is the version the link layer
/// announced (None: take the first nibble). `cut` is `origlen - caplen`.
fn ip_dispatch(
    version: Option<u8>,
    ip: &[u8],
    vlan: Vec<u16>,
    cut: usize,
    depth: usize,
) -> Decoded<'_> {
    let Some(first) = ip.first() else {
        return Decoded::Malformed(anomalies::IP_HEADER_TRUNCATED);
    };
    let nibble = first >> 4;
    if nibble != 4 && nibble != 6 {
        return Decoded::Malformed(anomalies::IP_VERSION_UNKNOWN);
    }
    if version.is_some_and(|v| v != nibble) {
        return Decoded::Malformed(anomalies::IP_VERSION_MISMATCH);
    }
    let slice = match LaxIpSlice::from_slice(ip) {
        Ok((slice, _ext_err)) => slice,
        Err(etherparse::err::ip::LaxHeaderSliceError::Len(_)) => {
            return Decoded::Malformed(anomalies::IP_HEADER_TRUNCATED)
        }
        Err(_) => return Decoded::Malformed(anomalies::IP_HEADER_INVALID),
    };
    let src = slice.source_addr();
    let dst = slice.destination_addr();
    let pl = slice.payload();
    if pl.fragmented {
        return Decoded::Fragment {
            src,
            dst,
            ip_number: pl.ip_number.0,
            vlan,
        };
    }
    if pl.ip_number == IpNumber::UDP && depth < MAX_TUNNEL_DEPTH {
        if let Some(inner) = gtpu_inner(pl.payload) {
            return ip_dispatch(None, inner, vlan, cut, depth + 1);
        }
    }
    if pl.ip_number != IpNumber::TCP {
        return Decoded::NonTcp;
    }
    // End of the IP datagram (relative to `ip`) as the header declares it,
    // when the header declares one (TSO captures carry total_len 0).
    let declared_end: Option<usize> = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let total = usize::from(h.total_len());
            (total >= usize::from(h.ihl()) * 4).then_some(total)
        }
        LaxIpSlice::Ipv6(v6) => {
            let plen = usize::from(v6.header().payload_length());
            (plen > 0).then_some(40 + plen)
        }
    };
    let Some(ip_payload_off) = offset_in(ip, pl.payload) else {
        return Decoded::Malformed(anomalies::IP_HEADER_INVALID);
    };
    let tcp = match TcpSlice::from_slice(pl.payload) {
        Ok(t) => t,
        Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => {
            return Decoded::Malformed(anomalies::TCP_HEADER_TRUNCATED)
        }
        Err(_) => return Decoded::Malformed(anomalies::TCP_HEADER_INVALID),
    };
    let payload = tcp.payload();
    let payload_off = ip_payload_off + tcp.header_slice().len();
    let captured_end = payload_off + payload.len();
    let missing = match declared_end {
        Some(end) => end.saturating_sub(captured_end).min(cut),
        None => cut,
    };
    Decoded::Tcp(TcpSegment {
        src,
        dst,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        vlan,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        },
        window: tcp.window_size(),
        payload,
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A4: [u8; 4] = [10, 0, 0, 1];
    const B4: [u8; 4] = [10, 0, 0, 2];

    /// 20-byte TCP header (+ `opts` words of NOP options) followed by `payload`.
    fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, opts: usize, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        t.push((5 + opts as u8) << 4);
        t.push(flags);
        t.extend_from_slice(&4096u16.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend(std::iter::repeat_n(1u8, opts * 4));
        t.extend_from_slice(payload);
        t
    }

    /// IPv4 header with `proto`, total length from `body` (or `total`), and
    /// fragment field `frag`.
    fn ipv4(proto: u8, body: &[u8], total: Option<u16>, frag: u16) -> Vec<u8> {
        let total = total.unwrap_or((20 + body.len()) as u16);
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]);
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0]);
        h.extend_from_slice(&A4);
        h.extend_from_slice(&B4);
        h.extend_from_slice(body);
        h
    }

    fn v6addr(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = last;
        a
    }

    /// IPv6 header with next header `nh`; payload length from `body`.
    fn ipv6(nh: u8, body: &[u8], plen: Option<u16>) -> Vec<u8> {
        let plen = plen.unwrap_or(body.len() as u16);
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.push(nh);
        h.push(64);
        h.extend_from_slice(&v6addr(1));
        h.extend_from_slice(&v6addr(2));
        h.extend_from_slice(body);
        h
    }

    fn eth(ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0xaa; 6];
        f.extend_from_slice(&[0xbb; 6]);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn seg(d: Decoded<'_>) -> TcpSegment<'_> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    fn full(linktype: u32, f: &[u8]) -> Decoded<'_> {
        decode(linktype, f, f.len() as u32)
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = eth(
            0x0800,
            &ipv4(6, &tcp(1935, 50000, 7, 0x18, 0, b"hello"), None, 0),
        );
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!(s.src, IpAddr::V4(Ipv4Addr::from(A4)));
        assert_eq!(s.dst, IpAddr::V4(Ipv4Addr::from(B4)));
        assert_eq!(
            (s.src_port, s.dst_port, s.seq, s.ack),
            (1935, 50000, 7, 0x0102_0304)
        );
        assert!(s.flags.psh && s.flags.ack && !s.flags.syn && !s.flags.fin && !s.flags.rst);
        assert_eq!(s.window, 4096);
        assert_eq!(s.payload, b"hello");
        assert_eq!(s.missing, 0);
        assert!(s.vlan.is_empty());
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // 40-byte IP datagram padded to the 60-byte Ethernet minimum.
        let mut f = eth(0x0800, &ipv4(6, &tcp(1, 2, 0, 0x02, 0, b""), None, 0));
        f.resize(60, 0);
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert!(s.payload.is_empty());
        assert!(s.flags.syn);
        assert_eq!(s.missing, 0);
    }

    #[test]
    fn vlan_and_qinq_ids_collected() {
        let ip = ipv4(6, &tcp(1, 2, 0, 0x10, 0, b"x"), None, 0);
        let mut body = vec![0x20, 0x0a]; // PCP 1, VID 10
        body.extend_from_slice(&0x0800u16.to_be_bytes());
        body.extend_from_slice(&ip);
        let f = eth(0x8100, &body);
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!(s.vlan, vec![10]);

        // QinQ: 0x88a8 outer 100, 0x8100 inner 200.
        let mut body = vec![0x00, 100];
        body.extend_from_slice(&0x8100u16.to_be_bytes());
        body.extend_from_slice(&[0x00, 200]);
        body.extend_from_slice(&0x0800u16.to_be_bytes());
        body.extend_from_slice(&ip);
        let f = eth(0x88a8, &body);
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!(s.vlan, vec![100, 200]);
        assert_eq!(s.payload, b"x");

        // Legacy 0x9100 outer tag, VID 4095 with all PCP bits set.
        let mut body = vec![0xff, 0xff];
        body.extend_from_slice(&0x0800u16.to_be_bytes());
        body.extend_from_slice(&ip);
        let f = eth(0x9100, &body);
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!(s.vlan, vec![4095]);
    }

    #[test]
    fn vlan_truncated_and_too_deep() {
        let f = eth(0x8100, &[0x00]);
        assert_eq!(
            full(LINKTYPE_ETHERNET, &f),
            Decoded::Malformed(anomalies::LINK_VLAN_TRUNCATED)
        );
        let mut body = Vec::new();
        for _ in 0..=MAX_VLAN_TAGS {
            body.extend_from_slice(&[0, 1, 0x81, 0x00]);
        }
        let f = eth(0x8100, &body);
        assert_eq!(
            full(LINKTYPE_ETHERNET, &f),
            Decoded::Malformed(anomalies::LINK_VLAN_TOO_DEEP)
        );
    }

    #[test]
    fn linux_sll_and_sll2() {
        let ip = ipv4(6, &tcp(1935, 4000, 1, 0x10, 0, b"abc"), None, 0);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&ip);
        let s = seg(full(LINKTYPE_LINUX_SLL, &sll));
        assert_eq!((s.src_port, s.payload), (1935, &b"abc"[..]));

        let mut sll2 = Vec::new();
        sll2.extend_from_slice(&0x0800u16.to_be_bytes());
        sll2.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 4, 6]);
        sll2.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(sll2.len(), 20);
        sll2.extend_from_slice(&ip);
        let s = seg(full(LINKTYPE_LINUX_SLL2, &sll2));
        assert_eq!((s.dst_port, s.payload), (4000, &b"abc"[..]));

        // SLL2 carrying ARP is not TCP; a short SLL2 header is malformed.
        let mut arp = sll2[..20].to_vec();
        arp[0..2].copy_from_slice(&0x0806u16.to_be_bytes());
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(full(LINKTYPE_LINUX_SLL2, &arp), Decoded::NonTcp);
        assert_eq!(
            full(LINKTYPE_LINUX_SLL2, &sll2[..19]),
            Decoded::Malformed(anomalies::LINK_SLL2_TRUNCATED)
        );
        assert_eq!(
            full(LINKTYPE_LINUX_SLL, &sll[..15]),
            Decoded::Malformed(anomalies::LINK_SLL_TRUNCATED)
        );
    }

    #[test]
    fn null_and_loop_either_byte_order() {
        let ip4 = ipv4(6, &tcp(1, 1935, 0, 0x10, 0, b"4"), None, 0);
        let ip6 = ipv6(6, &tcp(1, 1935, 0, 0x10, 0, b"6"), None);
        for lt in [LINKTYPE_NULL, LINKTYPE_LOOP] {
            for fam in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
                let mut f = fam.to_vec();
                f.extend_from_slice(&ip4);
                assert_eq!(seg(full(lt, &f)).payload, b"4");
            }
            for v in [24u32, 28, 30] {
                for fam in [v.to_le_bytes(), v.to_be_bytes()] {
                    let mut f = fam.to_vec();
                    f.extend_from_slice(&ip6);
                    let s = seg(full(lt, &f));
                    assert_eq!(s.payload, b"6");
                    assert_eq!(s.src, IpAddr::V6(Ipv6Addr::from(v6addr(1))));
                }
            }
            let mut other = 17u32.to_le_bytes().to_vec();
            other.extend_from_slice(&ip4);
            assert_eq!(full(lt, &other), Decoded::NonTcp);
            assert_eq!(
                full(lt, &[2, 0]),
                Decoded::Malformed(anomalies::LINK_NULL_TRUNCATED)
            );
        }
    }

    #[test]
    fn raw_link_types() {
        let ip4 = ipv4(6, &tcp(5, 6, 0, 0x10, 0, b"r4"), None, 0);
        let ip6 = ipv6(6, &tcp(5, 6, 0, 0x10, 0, b"r6"), None);
        for lt in [LINKTYPE_RAW, LINKTYPE_RAW_DLT12, LINKTYPE_RAW_DLT14] {
            assert_eq!(seg(full(lt, &ip4)).payload, b"r4");
            assert_eq!(seg(full(lt, &ip6)).payload, b"r6");
            assert_eq!(
                full(lt, &[0x50, 0, 0]),
                Decoded::Malformed(anomalies::IP_VERSION_UNKNOWN)
            );
        }
        assert_eq!(seg(full(LINKTYPE_IPV4, &ip4)).payload, b"r4");
        assert_eq!(seg(full(LINKTYPE_IPV6, &ip6)).payload, b"r6");
        assert_eq!(
            full(LINKTYPE_IPV4, &ip6),
            Decoded::Malformed(anomalies::IP_VERSION_MISMATCH)
        );
        assert_eq!(
            full(LINKTYPE_IPV6, &ip4),
            Decoded::Malformed(anomalies::IP_VERSION_MISMATCH)
        );
    }

    #[test]
    fn invalid_ip_header() {
        // IHL 4 (< 5) is invalid, not truncated.
        let mut ip = ipv4(6, &tcp(1, 2, 0, 0x10, 0, b""), None, 0);
        ip[0] = 0x44;
        assert_eq!(
            full(LINKTYPE_RAW, &ip),
            Decoded::Malformed(anomalies::IP_HEADER_INVALID)
        );
    }

    #[test]
    fn unknown_link_type() {
        assert_eq!(full(147, &[1, 2, 3]), Decoded::UnknownLink(147));
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        // Hop-by-hop (8 bytes) then destination options (8 bytes) then TCP.
        let t = tcp(1935, 7, 99, 0x18, 1, b"ext");
        let mut body = vec![60, 0, 1, 4, 0, 0, 0, 0]; // HBH: next = dst opts, PadN
        body.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // dst opts: next = TCP
        body.extend_from_slice(&t);
        let f = eth(0x86dd, &ipv6(0, &body, None));
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!((s.src_port, s.seq), (1935, 99));
        assert_eq!(s.payload, b"ext");
        assert_eq!(s.missing, 0);
    }

    #[test]
    fn truncation_counts_missing_payload() {
        let payload = [0x5a; 1000];
        let f = eth(0x0800, &ipv4(6, &tcp(1, 2, 0, 0x10, 2, &payload), None, 0));
        // Headers: 14 eth + 20 ip + 28 tcp = 62; keep 100 payload bytes.
        let cut = &f[..162];
        let s = seg(decode(LINKTYPE_ETHERNET, cut, f.len() as u32));
        assert_eq!(s.payload.len(), 100);
        assert_eq!(s.missing, 900);

        // IPv6, cut inside the payload, with 4 bytes of Ethernet FCS on the
        // wire: the IP length wins over origlen.
        let f6 = eth(0x86dd, &ipv6(6, &tcp(1, 2, 0, 0x10, 0, &payload), None));
        let s = seg(decode(
            LINKTYPE_ETHERNET,
            &f6[..14 + 40 + 20 + 10],
            f6.len() as u32 + 4,
        ));
        assert_eq!((s.payload.len(), s.missing), (10, 990));

        // TSO: total_len 0, so origlen tells what was cut.
        let f0 = eth(
            0x0800,
            &ipv4(6, &tcp(1, 2, 0, 0x10, 0, &payload), Some(0), 0),
        );
        let s = seg(decode(LINKTYPE_ETHERNET, &f0[..64], f0.len() as u32));
        assert_eq!((s.payload.len(), s.missing), (10, 990));

        // An IP length larger than the wire frame (origlen == caplen) is not
        // counted as loss.
        let lying = eth(
            0x0800,
            &ipv4(6, &tcp(1, 2, 0, 0x10, 0, b"ab"), Some(1500), 0),
        );
        let s = seg(full(LINKTYPE_ETHERNET, &lying));
        assert_eq!((s.payload, s.missing), (&b"ab"[..], 0));
    }

    #[test]
    fn truncated_headers_are_malformed() {
        let f = eth(0x0800, &ipv4(6, &tcp(1, 2, 0, 0x10, 0, b"data"), None, 0));
        assert_eq!(
            decode(LINKTYPE_ETHERNET, &f[..14 + 20 + 10], f.len() as u32),
            Decoded::Malformed(anomalies::TCP_HEADER_TRUNCATED)
        );
        assert_eq!(
            decode(LINKTYPE_ETHERNET, &f[..14 + 10], f.len() as u32),
            Decoded::Malformed(anomalies::IP_HEADER_TRUNCATED)
        );
        assert_eq!(
            decode(LINKTYPE_ETHERNET, &f[..10], f.len() as u32),
            Decoded::Malformed(anomalies::LINK_ETHERNET_TRUNCATED)
        );
        assert_eq!(
            decode(LINKTYPE_ETHERNET, &f[..14], f.len() as u32),
            Decoded::Malformed(anomalies::IP_HEADER_TRUNCATED)
        );
    }

    #[test]
    fn fragments_are_reported() {
        let body = tcp(1, 2, 0, 0x10, 0, b"frag");
        // MF set, offset 0.
        let f = eth(0x0800, &ipv4(6, &body, None, 0x2000));
        assert_eq!(
            full(LINKTYPE_ETHERNET, &f),
            Decoded::Fragment {
                src: IpAddr::V4(Ipv4Addr::from(A4)),
                dst: IpAddr::V4(Ipv4Addr::from(B4)),
                ip_number: 6,
                vlan: vec![],
            }
        );
        // Last fragment: offset 8 (in 8-byte units: 1), MF clear.
        let f = eth(0x0800, &ipv4(6, b"tail", None, 0x0001));
        assert!(matches!(
            full(LINKTYPE_ETHERNET, &f),
            Decoded::Fragment { .. }
        ));
        // DF alone is not a fragment.
        let f = eth(0x0800, &ipv4(6, &body, None, 0x4000));
        assert_eq!(seg(full(LINKTYPE_ETHERNET, &f)).payload, b"frag");
        // IPv6 fragment header (next = TCP, offset 0, M = 1).
        let mut fh = vec![6, 0, 0, 1, 0, 0, 0, 42];
        fh.extend_from_slice(&body);
        let f = eth(0x86dd, &ipv6(44, &fh, None));
        assert!(matches!(
            full(LINKTYPE_ETHERNET, &f),
            Decoded::Fragment { ip_number: 6, .. }
        ));
    }

    fn udp(sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
        let mut u = sport.to_be_bytes().to_vec();
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(body);
        u
    }

    #[test]
    fn gtpu_tunnel_is_opened() {
        let inner = ipv6(6, &tcp(50_000, 1935, 5, 0x18, 0, b"tunnelled"), None);
        // Plain G-PDU: flags 0x30 (v1, PT), type 255, length, TEID.
        let mut g = vec![0x30, 0xff];
        g.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 9]);
        g.extend_from_slice(&inner);
        let mut body = vec![0x10, 0x0a]; // VLAN 10
        body.extend_from_slice(&0x0800u16.to_be_bytes());
        body.extend_from_slice(&ipv4(17, &udp(2152, 2152, &g), None, 0));
        let f = eth(0x8100, &body);
        let s = seg(full(LINKTYPE_ETHERNET, &f));
        assert_eq!(s.src, IpAddr::V6(Ipv6Addr::from(v6addr(1))));
        assert_eq!((s.dst_port, s.payload), (1935, &b"tunnelled"[..]));
        assert_eq!(s.vlan, vec![10]);
        // Cut by the snaplen inside the inner payload.
        let s = seg(decode(LINKTYPE_ETHERNET, &f[..f.len() - 4], f.len() as u32));
        assert_eq!((s.payload, s.missing), (&b"tunne"[..], 4));

        // With sequence number and one extension header (PDU session
        // container, 4 bytes, next type 0).
        let mut g = vec![
            0x36, 0xff, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0x85, 1, 0x10, 0x05, 0,
        ];
        g.extend_from_slice(&inner);
        let f = eth(0x0800, &ipv4(17, &udp(40_000, 2152, &g), None, 0));
        assert_eq!(seg(full(LINKTYPE_ETHERNET, &f)).payload, b"tunnelled");

        // Echo request (type 1) and other UDP ports stay non-TCP; a bad
        // extension length does not panic.
        let echo = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
        let f = eth(0x0800, &ipv4(17, &udp(2152, 2152, &echo), None, 0));
        assert_eq!(full(LINKTYPE_ETHERNET, &f), Decoded::NonTcp);
        let mut g = vec![0x30, 0xff, 0, 0, 0, 0, 0, 9];
        g.extend_from_slice(&inner);
        let f = eth(0x0800, &ipv4(17, &udp(53, 53, &g), None, 0));
        assert_eq!(full(LINKTYPE_ETHERNET, &f), Decoded::NonTcp);
        let g = vec![0x34, 0xff, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0x85, 0, 0, 0, 0];
        let f = eth(0x0800, &ipv4(17, &udp(2152, 2152, &g), None, 0));
        assert_eq!(full(LINKTYPE_ETHERNET, &f), Decoded::NonTcp);
    }

    #[test]
    fn non_tcp_frames() {
        // UDP over IPv4, ICMPv6, ARP, 802.3 length field.
        let udp = eth(0x0800, &ipv4(17, &[0, 53, 0, 53, 0, 8, 0, 0], None, 0));
        assert_eq!(full(LINKTYPE_ETHERNET, &udp), Decoded::NonTcp);
        let icmp6 = eth(0x86dd, &ipv6(58, &[128, 0, 0, 0, 0, 0, 0, 0], None));
        assert_eq!(full(LINKTYPE_ETHERNET, &icmp6), Decoded::NonTcp);
        let arp = eth(0x0806, &[0; 28]);
        assert_eq!(full(LINKTYPE_ETHERNET, &arp), Decoded::NonTcp);
        let llc = eth(0x0026, &[0x42; 38]);
        assert_eq!(full(LINKTYPE_ETHERNET, &llc), Decoded::NonTcp);
    }

    #[test]
    fn never_panics_on_prefixes() {
        let f = eth(0x8100, &{
            let mut b = vec![0, 5, 0x86, 0xdd];
            b.extend_from_slice(&ipv6(6, &tcp(1, 2, 3, 0x10, 3, b"payload"), None));
            b
        });
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276] {
            for n in 0..=f.len() {
                let _ = decode(lt, &f[..n], f.len() as u32);
                let _ = decode(lt, &f[..n], 0);
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_never_panics(
            lt in prop::sample::select(vec![0u32, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]),
            data in prop::collection::vec(any::<u8>(), 0..200),
            extra in 0u32..100_000,
        ) {
            let origlen = (data.len() as u32).saturating_add(extra);
            if let Decoded::Tcp(s) = decode(lt, &data, origlen) {
                prop_assert!(s.payload.len() <= data.len());
                prop_assert!(s.missing <= extra);
            }
        }

        #[test]
        fn truncating_a_frame_moves_bytes_to_missing(
            payload in prop::collection::vec(any::<u8>(), 0..600),
            keep in 0usize..600,
        ) {
            let mut t = vec![0, 1, 7, 143, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0, 1, 0, 0, 0, 0];
            t.extend_from_slice(&payload);
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + t.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
            ip.extend_from_slice(&t);
            let keep = (40 + keep).min(ip.len());
            match decode(LINKTYPE_RAW, &ip[..keep], ip.len() as u32) {
                Decoded::Tcp(s) => {
                    prop_assert_eq!(s.payload, &payload[..keep - 40]);
                    prop_assert_eq!(s.missing as usize, ip.len() - keep);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
