#!/usr/bin/env bash
# TUI responsiveness on a capture with many messages (default: >= 500k).
#
# usage: bash benches/tui_responsiveness.sh [PATH_TO_RTMPSCOPE] [CAPTURE]
# Without CAPTURE, makes one outside the repo with captures/benchmark.sh
# (SOURCE=small: 320x240 low-bitrate streams, many small messages).
# Measures in tmux (200x50): time to first screen (session table drawn), time
# until the whole file is loaded (status bar says "done"), peak RSS of the
# rtmpscope process (VmHWM), and key latency (time from send-keys to the
# screen changing, median of 20 `j` presses in the messages view, plus `G`
# and a filter on all messages). Needs tmux, tcpdump, ffmpeg, nginx-rtmp.
set -uo pipefail
exec </dev/null
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BIN="${1:-$REPO/target/release/rtmpscope}"
CAP="${2:-}"
BENCH_DIR="${BENCH_DIR:-/tmp/rtmpscope-bench}"
if [ -z "$CAP" ]; then
    CAP="$BENCH_DIR/bench-${SIZE_MB:-200}MB.pcap"
    if [ ! -f "$CAP" ]; then
        SOURCE=small MEASURE=0 KEEP=1 STREAMS="${STREAMS:-4}" READRATE="${READRATE:-100}" \
            SIZE_MB="${SIZE_MB:-200}" BENCH_DIR="$BENCH_DIR" bash "$REPO/captures/benchmark.sh" || exit 1
    fi
fi
now() { date +%s.%N; }
msgs=$("$BIN" -r "$CAP" json | grep -c '"event_type":"rtmp"')
echo "capture: $CAP ($(stat -c %s "$CAP") bytes, $msgs RTMP messages)"
S="rtmpscope-resp-$$"
tmux kill-session -t "$S" 2>/dev/null
t0=$(now)
tmux new-session -d -s "$S" -x 200 -y 50 "$BIN tui -r $CAP; sleep 30"
pane() { tmux capture-pane -p -t "$S"; }
wait_for() { # wait_for TEXT TIMEOUT_S -> prints elapsed since $2nd arg start
    local text="$1" limit="$2" start; start=$(now)
    while :; do
        pane | grep -qF -- "$text" && break
        awk -v s="$start" -v n="$(now)" -v l="$limit" 'BEGIN{exit !(n-s>l)}' && { echo "timeout"; return 1; }
        sleep 0.005
    done
}
wait_for "Sessions (" 60; t_first=$(now)
wait_for "(done)" 600; t_done=$(now)
pid=$(pgrep -n -f "$BIN tui -r $CAP")
rss=$(awk '/VmHWM/{print $2/1024}' "/proc/$pid/status" 2>/dev/null)
# key latency: time until the pane differs from before the key.
lat() { # lat KEY... -> ms
    local before after start; before=$(pane); start=$(now)
    tmux send-keys -t "$S" "$@"
    while :; do
        after=$(pane); [ "$after" != "$before" ] && break
        awk -v s="$start" -v n="$(now)" 'BEGIN{exit !(n-s>5)}' && break
        sleep 0.002
    done
    awk -v s="$start" -v n="$(now)" 'BEGIN{printf "%.1f", (n-s)*1000}'
}
tmux send-keys -t "$S" 2; sleep 0.5
top_ms=$(lat g)
g_ms=$(lat G)
js=(); for i in $(seq 1 20); do js+=("$(lat k)"); done
j_med=$(printf '%s\n' "${js[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
tmux send-keys -t "$S" /; sleep 0.2; tmux send-keys -t "$S" -l "type:video"; sleep 0.2
f_ms=$(lat Enter)
tmux send-keys -t "$S" /; sleep 0.2; tmux send-keys -t "$S" C-u; tmux send-keys -t "$S" -l "onStatus"; sleep 0.2
t_ms=$(lat Enter)
tmux send-keys -t "$S" q; sleep 0.3; tmux kill-session -t "$S" 2>/dev/null
awk -v a="$t0" -v b="$t_first" -v c="$t_done" 'BEGIN{printf "time to first screen: %.2f s\nwhole file loaded: %.2f s\n", b-a, c-a}'
echo "peak RSS: ${rss} MB"
echo "key latency (screen change after the key): g ${top_ms} ms, G ${g_ms} ms, k median of 20 ${j_med} ms, filter type:video over all messages ${f_ms} ms, free-text filter ${t_ms} ms"
