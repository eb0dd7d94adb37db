#!/usr/bin/env python3
"""Make a lossy copy of a classic pcap: remove a deterministic ~FRACTION of TCP data packets.

usage: drop_packets.py [--seed N] [--fraction F] [--min-count K] [--side client|server|both]
                       [--burst N] [--range SIDE:START-END ...] [--snaplen N]
                       IN.pcap OUT.pcap REMOVED.tsv

"Data packet" = a TCP segment with a non-empty payload. The removed packets are chosen with
random.Random(seed).sample over the data packets, so the result depends only on the input file,
the seed and the fraction. REMOVED.tsv lists every removed frame (1-based frame number in the
INPUT file), its flow direction, TCP sequence number and TCP payload byte count, followed by the
removed byte totals per flow direction: tests check that every removed byte is reported as a gap.
--side limits the choice to the packets sent by the client (the SYN sender) or by the server.
--burst N removes runs of N consecutive data packets of one flow direction (the fraction counts
packets; round(fraction * eligible / N) runs, starts sampled with the seed). --range removes every
data packet of that side whose payload overlaps stream offsets [START, END) (offset 0 = the first
payload byte after the SYN), e.g. the packet that carries a Set Chunk Size or a whole keyframe.
--snaplen N cuts every packet to N captured bytes (the original length stays in the record); the
cut payload bytes are listed in REMOVED.tsv like removed packets (frame kept, bytes lost).
Supported link types: Ethernet (1), raw IP (101, 228, 229), Linux SLL (113), SLL2 (276), NULL (0).
Pure standard library; no third-party modules.
"""
import argparse
import ipaddress
import random
import struct
import sys

MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in MAGICS:
        sys.exit(f"{path}: not a classic pcap file (pcapng is not supported)")
    e = MAGICS[data[:4]]
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    recs, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        recs.append((data[off:off + 16], data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], linktype, recs


def ip_offset(linktype, pkt):
    """Return (offset of the IP header, ethertype-ish version hint) or None."""
    if linktype == 1:
        off, et = 14, struct.unpack(">H", pkt[12:14])[0]
        while et in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            et = struct.unpack(">H", pkt[off + 2:off + 4])[0]
            off += 4
        return off if et in (0x0800, 0x86DD) else None
    if linktype == 113:
        return 16 if struct.unpack(">H", pkt[14:16])[0] in (0x0800, 0x86DD) else None
    if linktype == 276:
        return 20 if struct.unpack(">H", pkt[0:2])[0] in (0x0800, 0x86DD) else None
    if linktype == 0:
        return 4
    if linktype in (101, 228, 229):
        return 0
    return None


def tcp_info(linktype, pkt):
    """(src, sport, dst, dport, seq, payload_len) for a TCP packet, else None."""
    off = ip_offset(linktype, pkt)
    if off is None or len(pkt) < off + 20:
        return None
    ver = pkt[off] >> 4
    if ver == 4:
        ihl = (pkt[off] & 0x0F) * 4
        total = struct.unpack(">H", pkt[off + 2:off + 4])[0]
        if pkt[off + 9] != 6:
            return None
        src, dst = ipaddress.ip_address(pkt[off + 12:off + 16]), ipaddress.ip_address(pkt[off + 16:off + 20])
        t, ip_end = off + ihl, off + total
    elif ver == 6:
        if pkt[off + 6] != 6:  # no extension headers on loopback captures
            return None
        plen = struct.unpack(">H", pkt[off + 4:off + 6])[0]
        src, dst = ipaddress.ip_address(pkt[off + 8:off + 24]), ipaddress.ip_address(pkt[off + 24:off + 40])
        t, ip_end = off + 40, off + 40 + plen
    else:
        return None
    if len(pkt) < t + 14:
        return None
    sport, dport, seq = struct.unpack(">HHI", pkt[t:t + 8])
    doff = (pkt[t + 12] >> 4) * 4
    flags = pkt[t + 13]
    return str(src), sport, str(dst), dport, seq, ip_end - (t + doff), flags, t + doff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--side", choices=["client", "server", "both"], default="both")
    ap.add_argument("--burst", type=int, default=1)
    ap.add_argument("--range", action="append", default=[], dest="ranges")
    ap.add_argument("--snaplen", type=int, default=0)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("removed")
    a = ap.parse_args()
    header, linktype, recs = read_pcap(a.inp)
    infos, isn, client = {}, {}, set()
    for i, (_, pkt) in enumerate(recs):
        info = tcp_info(linktype, pkt)
        if not info:
            continue
        src, sport, dst, dport, seq, n, flags, _ = info
        if flags & 0x02:  # SYN: the sequence number before the first payload byte
            isn[(src, sport, dst, dport)] = seq
            if not flags & 0x10:
                client.add((src, sport, dst, dport))
        if n > 0:
            infos[i] = info

    def side_of(info):
        key = info[:4]
        return "client" if key in client else "server"

    data_frames = [i for i in sorted(infos) if a.side == "both" or side_of(infos[i]) == a.side]
    removed = set()
    if a.fraction > 0:
        k = min(len(data_frames), max(a.min_count, round(a.fraction * len(data_frames))))
        rng = random.Random(a.seed)
        if a.burst <= 1:
            removed = set(rng.sample(data_frames, k))
        else:
            runs = max(1, round(k / a.burst))
            for start in sorted(rng.sample(range(len(data_frames)), min(runs, len(data_frames)))):
                key = infos[data_frames[start]][:4]
                run = [i for i in data_frames[start:] if infos[i][:4] == key][:a.burst]
                removed.update(run)
    for spec in a.ranges:
        side, _, span = spec.partition(":")
        lo, _, hi = span.partition("-")
        lo, hi = int(lo), int(hi)
        for i, info in infos.items():
            key = info[:4]
            if side_of(info) != side or key not in isn:
                continue
            off = (info[4] - isn[key] - 1) % (1 << 32)
            if off < hi and off + info[5] > lo:
                removed.add(i)
    removed = sorted(removed)
    rset = set(removed)
    cut = {}
    with open(a.out, "wb") as f:
        f.write(header)
        e = MAGICS[header[:4]]
        for i, (h, pkt) in enumerate(recs):
            if i in rset:
                continue
            if a.snaplen and len(pkt) > a.snaplen:
                if i in infos:
                    pay_start = infos[i][7]
                    lost = infos[i][5] - max(0, a.snaplen - pay_start)
                    if lost > 0:
                        cut[i] = lost
                pkt = pkt[:a.snaplen]
                h = h[:8] + struct.pack(e + "I", len(pkt)) + h[12:16]
            f.write(h)
            f.write(pkt)
    totals = {}
    with open(a.removed, "w") as f:
        f.write(f"# lossy copy of {a.inp.split('/')[-1]}: removed {len(removed)} of {len(infos)} TCP data packets "
                f"(seed {a.seed}, fraction {a.fraction}, side {a.side}, burst {a.burst}, ranges {a.ranges}, "
                f"snaplen {a.snaplen}); {len(recs)} -> {len(recs) - len(removed)} frames\n")
        f.write("# frame_in_original\tsrc\tsport\tdst\tdport\ttcp_seq_raw\tpayload_bytes\n")
        for i in sorted(set(removed) | set(cut)):
            src, sport, dst, dport, seq, n = infos[i][:6]
            n = cut.get(i, n) if i not in rset else n
            f.write(f"{i + 1}\t{src}\t{sport}\t{dst}\t{dport}\t{seq}\t{n}\n")
            key = (src, sport, dst, dport)
            totals[key] = totals.get(key, 0) + n
        f.write("# removed payload bytes per flow direction: src sport dst dport bytes\n")
        for (src, sport, dst, dport), n in sorted(totals.items()):
            f.write(f"# total\t{src}\t{sport}\t{dst}\t{dport}\t{n}\n")


if __name__ == "__main__":
    main()
