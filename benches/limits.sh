#!/bin/sh
# Peak memory on the exhaustion captures (issue 18): generated here, outside
# the repository, then each read with default options by `json` and
# `summary` (peak RSS from /usr/bin/time -v) and into the TUI model
# (examples/tui_model_rss.rs, peak RSS from /proc/self/status).
#
#   benches/limits.sh [BINARY] [WORKDIR]
#
# Captures: 1,000,000 short RTMP-looking flows (450 MB); 100 flows each
# holding an unfinished 16 MiB message (1.7 GB); 600,000 one-byte
# out-of-order segments (43 MB). Needs ~2.2 GB of disk in WORKDIR.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-target/release/rtmpscope}
WORK=${2:-${TMPDIR:-/tmp}/rtmpscope-limits}
mkdir -p "$WORK"
cargo build --release --example gen_capture --example tui_model_rss >/dev/null 2>&1
GEN=target/release/examples/gen_capture
[ -f "$WORK/flows.pcap" ] || $GEN many-flows 1000000 "$WORK/flows.pcap"
[ -f "$WORK/partials.pcap" ] || $GEN big-partials 100 16777215 "$WORK/partials.pcap"
[ -f "$WORK/ooo.pcap" ] || $GEN ooo-flood 600000 "$WORK/ooo.pcap"
printf '%-10s %-9s %10s %9s %12s\n' capture command seconds peak_MB output_lines
for cap in flows partials ooo; do
    for cmd in json summary; do
        /usr/bin/time -v "$BIN" -r "$WORK/$cap.pcap" $cmd >"$WORK/out" 2>"$WORK/time" || true
        rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time")
        wall=$(awk -F': ' '/Elapsed/ {print $2}' "$WORK/time")
        printf '%-10s %-9s %10s %9d %12d\n' "$cap" "$cmd" "$wall" $((rss / 1024)) "$(wc -l <"$WORK/out")"
    done
done
echo "TUI model (sessions and flows kept, peak RSS):"
for cap in flows partials ooo; do
    printf '  %-9s ' "$cap"
    target/release/examples/tui_model_rss "$WORK/$cap.pcap"
done
echo "limit hits (json stats):"
for cap in flows partials ooo; do
    "$BIN" -r "$WORK/$cap.pcap" json | tail -1 | sed 's/.*"dissector_memory_peak"/  '$cap': dissector_memory_peak/'
done
