#!/usr/bin/env python3
"""Rewrite an RTMPT capture so every HTTP request/response pair rides its own
TCP connection (stdlib only; test tooling for captures/generate.sh 14c).

Input: a classic pcap (Ethernet, IPv4) whose HTTP client connections each
carry a keep-alive sequence of requests (ffmpeg's rtmpt:// client). Every TCP
payload byte is kept, in its original packet and with its original time; what
changes is the connection it rides: a client packet whose payload starts a
request (`POST `) opens a new connection (new client port, SYN/SYN-ACK/ACK
just before it), and the previous one is closed (FIN/FIN/ACK just after its
last packet). Pure ACKs of the original are dropped. Sequence and ack numbers
are rewritten for the new connections; IP and TCP checksums are recomputed.

Usage: rtmpt_split.py IN.pcap OUT.pcap [--base-port 20000]
Prints one line per new connection: client port, first request line, payload
bytes per direction.
"""
import argparse
import struct
import sys

PCAP_HDR = struct.Struct("<IHHiIII")
REC_HDR = struct.Struct("<IIII")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def read_pcap(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack("<I", raw[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit("not a little-endian classic pcap")
    nano = magic == 0xA1B23C4D
    _, vmaj, vmin, tz, sig, snap, link = PCAP_HDR.unpack_from(raw, 0)
    if link != 1:
        sys.exit("link type %d: only Ethernet is supported" % link)
    off = PCAP_HDR.size
    pkts = []
    while off + REC_HDR.size <= len(raw):
        sec, frac, incl, orig = REC_HDR.unpack_from(raw, off)
        off += REC_HDR.size
        pkts.append((sec, frac, raw[off:off + incl]))
        off += incl
    return raw[:PCAP_HDR.size], nano, pkts


def parse(frame):
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    src, dst = ip[12:16], ip[16:20]
    tcp = ip[ihl:total]
    sport, dport, seq, ack, offf = struct.unpack("!HHIIB", tcp[:13])
    flags = tcp[13]
    doff = (offf >> 4) * 4
    return dict(src=src, dst=dst, sport=sport, dport=dport, flags=flags, payload=tcp[doff:])


def build(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + tcp


SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--base-port", type=int, default=20000)
    a = ap.parse_args()
    hdr, nano, pkts = read_pcap(a.inp)
    unit = 1 if nano else 1000  # one microsecond in the file's time unit
    scale = 10**9 if nano else 10**6

    def t_of(sec, frac):
        return sec * scale + frac

    # Server ports: the SYN-ACK senders.
    servers = set()
    for _, _, fr in pkts:
        p = parse(fr)
        if p and p["flags"] & SYN and p["flags"] & ACK:
            servers.add((p["src"], p["sport"]))
    conns = {}  # original client key -> current new connection
    out = []  # (time, order, frame)
    order = 0
    next_port = a.base_port
    report = []

    def close(c, t):
        nonlocal order
        cs, ss = c["cseq"], c["sseq"]
        for k, (fl, fr_client) in enumerate([(FIN | ACK, True), (FIN | ACK, False), (ACK, True)]):
            if fr_client:
                f = build(c["cip"], c["sip"], c["cport"], c["sport"], cs, ss, fl, b"")
                if fl & FIN:
                    cs += 1
            else:
                f = build(c["sip"], c["cip"], c["sport"], c["cport"], ss, cs, fl, b"")
                ss += 1
            order += 1
            out.append((t + (k + 1) * unit, order, f))
        report.append("%d %s to_server=%d to_client=%d" % (c["cport"], c["first"], c["bytes"][0], c["bytes"][1]))

    for sec, frac, fr in pkts:
        p = parse(fr)
        if not p:
            continue
        t = t_of(sec, frac)
        to_server = (p["dst"], p["dport"]) in servers
        if to_server:
            key = (p["src"], p["sport"], p["dst"], p["dport"])
        else:
            key = (p["dst"], p["dport"], p["src"], p["sport"])
        pl = p["payload"]
        if not pl:
            continue
        c = conns.get(key)
        if to_server and pl.startswith(b"POST "):
            if c is not None:
                close(c, c["last"])
            cport = next_port
            next_port += 1
            cip, sip = key[0], key[2]
            c = dict(cip=cip, sip=sip, cport=cport, sport=key[3], cseq=1000 * cport,
                     sseq=7000 * cport, last=t, bytes=[0, 0],
                     first=pl.split(b"\r\n", 1)[0].decode("latin-1"))
            for k, (fl, fr_client) in enumerate([(SYN, True), (SYN | ACK, False), (ACK, True)]):
                if fr_client:
                    f = build(cip, sip, cport, c["sport"], c["cseq"], c["sseq"] if fl & ACK else 0, fl, b"")
                    if fl & SYN:
                        c["cseq"] += 1
                else:
                    f = build(sip, cip, c["sport"], cport, c["sseq"], c["cseq"], fl, b"")
                    c["sseq"] += 1
                order += 1
                out.append((t - (3 - k) * unit, order, f))
            conns[key] = c
        if c is None:
            continue  # bytes before the first request (none for ffmpeg)
        if to_server:
            f = build(c["cip"], c["sip"], c["cport"], c["sport"], c["cseq"], c["sseq"], PSH | ACK, pl)
            c["cseq"] += len(pl)
            c["bytes"][0] += len(pl)
        else:
            f = build(c["sip"], c["cip"], c["sport"], c["cport"], c["sseq"], c["cseq"], PSH | ACK, pl)
            c["sseq"] += len(pl)
            c["bytes"][1] += len(pl)
        order += 1
        out.append((t, order, f))
        c["last"] = t
    for c in conns.values():
        close(c, c["last"])
    out.sort(key=lambda x: (x[0], x[1]))
    with open(a.out, "wb") as f:
        f.write(hdr)
        for t, _, fr in out:
            f.write(REC_HDR.pack(t // scale, t % scale, len(fr), len(fr)))
            f.write(fr)
    print("\n".join(report))


if __name__ == "__main__":
    main()
