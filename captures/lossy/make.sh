#!/usr/bin/env bash
# Make the lossy copies listed in MANIFEST.tsv into OUTDIR (default /tmp/rtmpscope-lossy) and
# check each removed-packet list against NAME.removed.tsv here (WRITE=1: write the lists).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-/tmp/rtmpscope-lossy}"
mkdir -p "$OUT"
grep -v '^#' "$HERE/MANIFEST.tsv" | tail -n +2 | while IFS=$'\t' read -r name src opts; do
    # shellcheck disable=SC2086
    python3 "$HERE/../tools/drop_packets.py" $opts "$HERE/../$src" "$OUT/$name.pcap" "$OUT/$name.removed.tsv"
    if [ "${WRITE:-0}" = 1 ]; then
        cp "$OUT/$name.removed.tsv" "$HERE/$name.removed.tsv"
    else
        cmp -s "$OUT/$name.removed.tsv" "$HERE/$name.removed.tsv" || { echo "$name: removed list differs" >&2; exit 1; }
    fi
    echo "$name: $(grep -vc '^#' "$OUT/$name.removed.tsv") packets removed or cut"
done
