#!/usr/bin/env bash
# Lossy 200 MB benchmark (issue 11): how many whole audio/video messages rtmpscope recovers
# from a lossy copy of a big capture, against the old exhaustive resync scan (the commit
# before 657834e "rtmp resync: incremental, bounded scan"), with the user CPU time of each.
#
# usage: bash captures/lossy_benchmark.sh BIG.pcap [RTMPSCOPE_BINARY]
# env:   OUT=/tmp/rtmpscope-lossy-bench   where the copies and the old build go (never the repo)
#        MB=200                           size of the copy cut from the head of BIG.pcap
#        LOSS="0.05:1111 0.3:1112"        fraction:seed pairs, bursts of BURST packets
#        BURST=10                         consecutive packets per drop (a dropping tcpdump)
#        OLD=BIN                          old binary (default: built in a git worktree)
# BIG.pcap: a classic pcap, e.g. one made by captures/benchmark.sh (KEEP=1 MTU=1500).
# Prints one line per (copy, binary): complete and truncated audio/video messages, user/sys/wall s.
# CPU time on a shared machine is noisy: run it twice, compare user time back to back.
set -euo pipefail
exec </dev/null
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIG="$1"
NEW="${2:-$HERE/../target/release/rtmpscope}"
OUT="${OUT:-/tmp/rtmpscope-lossy-bench}"
MB="${MB:-200}"
LOSS="${LOSS:-0.05:1111 0.3:1112}"
BURST="${BURST:-10}"
mkdir -p "$OUT"
case "$(cd "$OUT" && pwd)" in "$(cd "$HERE/.." && pwd)"*) echo "OUT must be outside the repo" >&2; exit 1;; esac

OLD="${OLD:-}"
if [ -z "$OLD" ]; then
    if [ ! -x "$OUT/oldtarget/release/rtmpscope" ]; then
        git -C "$HERE/.." worktree add --detach "$OUT/old" 657834e^ >/dev/null
        (cd "$OUT/old" && CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" CARGO_TARGET_DIR="$OUT/oldtarget" \
            cargo build --release -q)
        git -C "$HERE/.." worktree remove --force "$OUT/old"
    fi
    OLD="$OUT/oldtarget/release/rtmpscope"
fi

# The first MB megabytes of BIG, whole packets.
HEAD="$OUT/head${MB}.pcap"
if [ ! -s "$HEAD" ]; then
    python3 - "$BIG" "$HEAD" "$MB" <<'PY'
import struct, sys
src, dst, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f, open(dst, "wb") as o:
    h = f.read(24)
    e = "<" if h[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    o.write(h)
    n = 24
    while n < mb * 1024 * 1024:
        r = f.read(16)
        if len(r) < 16:
            break
        incl = struct.unpack(e + "I", r[8:12])[0]
        o.write(r + f.read(incl))
        n += 16 + incl
PY
fi

count() { # FILE TYPE [truncated]
    if [ "${3:-}" = t ]; then
        grep '"event_type":"rtmp"' "$1" | grep "\"type\":\"$2\"" | grep -c '"truncated"' || true
    else
        grep '"event_type":"rtmp"' "$1" | grep "\"type\":\"$2\"" | grep -vc '"truncated"' || true
    fi
}

for spec in $LOSS; do
    frac="${spec%%:*}"; seed="${spec##*:}"
    copy="$OUT/lossy${MB}-${frac}-s${seed}.pcap"
    [ -s "$copy" ] || python3 "$HERE/tools/drop_packets.py" --seed "$seed" --fraction "$frac" \
        --burst "$BURST" "$HEAD" "$copy" "$copy.removed.tsv" >/dev/null
    for bin in "$OLD" "$NEW"; do
        thr=""; "$bin" --help 2>/dev/null | grep -q -- --threads && thr="--threads 1"
        json="$OUT/out.json"
        # shellcheck disable=SC2086
        /usr/bin/time -f "%U %S %e" -o "$OUT/time.txt" nice -n 10 "$bin" -r "$copy" $thr json >"$json" 2>/dev/null
        echo "$(basename "$copy") $bin: audio $(count "$json" audio) video $(count "$json" video)" \
             "(truncated audio $(count "$json" audio t) video $(count "$json" video t))" \
             "user/sys/wall s $(cat "$OUT/time.txt")"
    done
done
rm -f "$OUT/out.json" "$OUT/time.txt"
