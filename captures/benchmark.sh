#!/usr/bin/env bash
# Throughput benchmark: make a big RTMP capture OUTSIDE the repo, then time readers on it.
#
# usage: bash captures/benchmark.sh [PATH_TO_RTMPSCOPE_BINARY]
# env:   SIZE_MB=1024   capture size to reach (the real benchmark is >= 1 GB; test with SIZE_MB=50)
#        STREAMS=4      concurrent ffmpeg publishers (high-bitrate 1280x720 H.264, -c copy)
#        READRATE=8     ffmpeg -readrate (x real time) per publisher: without a limit tcpdump
#                       drops about half of the loopback traffic and the capture is lossy
#        BENCH_DIR=/tmp/rtmpscope-bench   where the capture goes (never inside the repo)
#        KEEP=1         keep the capture afterwards (default: deleted)
#        SOURCE=small   320x240 low-bitrate source instead of 1280x720 12 Mbit/s: many small
#                       messages per MB (used by benches/tui_responsiveness.sh)
#        MEASURE=0      only make the capture
#        PORT=19390     nginx-rtmp port
#        MTU=1500       publish over a veth pair into a private network namespace with this
#                       MTU and one segment per packet (gso_max_segs 1), like a real NIC, instead
#                       of loopback (MTU 65536: few, huge packets). Needs root and iproute2;
#                       the namespace and veth pair are named after PORT and removed at the end.
# Measures with /usr/bin/time -v (wall time, throughput in MB/s of capture file, peak RSS):
#   1. rtmpscope json -r BIG > /dev/null              (skipped if no binary is given)
#   2. tshark per-message fields (rtmpt, max_packet_size 16 MiB)
#   3. read floor: tcpdump -r BIG -w /dev/null
# and prints each reader's time relative to the tcpdump floor and to tshark.
# Runs unattended; stops everything it started by PID; every wait is bounded.
set -uo pipefail
exec </dev/null

RTMPSCOPE="${1:-}"
SIZE_MB="${SIZE_MB:-1024}"
STREAMS="${STREAMS:-4}"
READRATE="${READRATE:-8}"
PORT="${PORT:-19390}"
BENCH_DIR="${BENCH_DIR:-/tmp/rtmpscope-bench}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
case "$(realpath -m "$BENCH_DIR")/" in "$REPO"/*) echo "BENCH_DIR must be outside the repo" >&2; exit 2;; esac
mkdir -p "$BENCH_DIR"
WORK="$(mktemp -d "$BENCH_DIR/work.XXXXXX")"
BIG="$BENCH_DIR/bench-${SIZE_MB}MB.pcap"
PIDS=()
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop_pid() {
    local pid="$1" sig="${2:-TERM}" i
    kill -0 "$pid" 2>/dev/null && kill -"$sig" "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
NS="" VETH=""
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [ -n "$VETH" ] && ip link del "$VETH" 2>/dev/null
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
    if [ "${KEEP:-0}" != 1 ]; then rm -f "$BIG"; else log "capture kept: $BIG"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in ffmpeg nginx tcpdump tshark; do
    command -v "$c" >/dev/null || { log "installing missing tools"; timeout 300 apt-get update -qq;
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq ffmpeg nginx libnginx-mod-rtmp tcpdump tshark time; break; }
done
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq time
MODULE="$(dpkg -L libnginx-mod-rtmp 2>/dev/null | grep 'ngx_rtmp_module\.so$' | head -1)"
MODULE="${MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}"

# ------------------------------------------------------------ source (about 12 Mbit/s, 10 s)
log "making source"
if [ "${SOURCE:-big}" = small ]; then
timeout 300 ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=320x240:rate=25" \
    -f lavfi -i "sine=frequency=500:sample_rate=44100" -t 10 \
    -c:v libx264 -threads 2 -preset ultrafast -b:v 150k -g 25 -bf 0 -pix_fmt yuv420p \
    -c:a aac -b:a 32k -ac 1 -f flv "$WORK/src.flv" || { log "source failed"; exit 1; }
else
timeout 300 ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=6:allf=t+u:all_seed=3" \
    -f lavfi -i "sine=frequency=500:sample_rate=44100" -t 10 \
    -c:v libx264 -threads 2 -preset ultrafast -b:v 12M -maxrate 12M -bufsize 6M -g 25 -bf 0 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ac 2 -f flv "$WORK/src.flv" || { log "source failed"; exit 1; }
fi

# ------------------------------------------------------------ nginx + capture
ADDR=127.0.0.1 IFACE=lo RUN_PUB=()
if [ -n "${MTU:-}" ]; then
    # veth pair: nginx on the host side, publishers in the namespace.
    NS="rtmpscope-bench-$PORT" VETH="rsb$PORT"
    ADDR="10.$((PORT % 250)).$((PORT / 250 % 250)).1"
    PEER="${ADDR%.1}.2"
    ip netns add "$NS" && ip link add "$VETH" type veth peer name "${VETH}p" &&
    ip link set "${VETH}p" netns "$NS" &&
    ip addr add "$ADDR/24" dev "$VETH" && ip link set "$VETH" mtu "$MTU" gso_max_segs 1 up &&
    ip netns exec "$NS" ip addr add "$PEER/24" dev "${VETH}p" &&
    ip netns exec "$NS" ip link set "${VETH}p" mtu "$MTU" gso_max_segs 1 up &&
    ip netns exec "$NS" ip link set lo up || { log "veth/netns setup failed (root and iproute2 needed)"; exit 1; }
    IFACE="$VETH" RUN_PUB=(ip netns exec "$NS")
fi
mkdir -p "$WORK/ngx/logs"
cat >"$WORK/ngx/nginx.conf" <<EOF
load_module $MODULE;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
error_log $WORK/ngx/logs/error.log warn;
events { worker_connections 256; }
rtmp { server { listen $ADDR:$PORT; chunk_size 4096; application live { live on; } } }
EOF
nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" -g "daemon off; pid $WORK/ngx/nginx.pid;" >"$WORK/ngx/out.log" 2>&1 &
NGX=$!; PIDS+=("$NGX")
timeout 15 bash -c "until (exec 3<>/dev/tcp/$ADDR/$PORT) 2>/dev/null; do sleep 0.1; done" || { log "nginx did not start"; exit 1; }
rm -f "$BIG"
tcpdump -i "$IFACE" -s 262144 -B 262144 -U -w "$BIG" "tcp port $PORT" >"$WORK/tcpdump.log" 2>&1 &
TCPD=$!; PIDS+=("$TCPD")
timeout 10 bash -c "until grep -q 'listening on' '$WORK/tcpdump.log'; do sleep 0.1; done" || { log "tcpdump did not start"; exit 1; }

log "publishing $STREAMS streams (-readrate $READRATE) until the capture reaches $SIZE_MB MB"
PUBS=()
for i in $(seq 1 "$STREAMS"); do
    "${RUN_PUB[@]}" timeout 3600 ffmpeg -nostdin -hide_banner -loglevel error -readrate "$READRATE" -stream_loop -1 -i "$WORK/src.flv" -c copy \
        -f flv "rtmp://$ADDR:$PORT/live/bench$i" >"$WORK/pub$i.log" 2>&1 &
    PUBS+=("$!"); PIDS+=("$!")
done
LIMIT=$((SIZE_MB * 1024 * 1024))
timeout 3600 bash -c "while [ \$(stat -c %s '$BIG' 2>/dev/null || echo 0) -lt $LIMIT ]; do sleep 0.2; done"
for p in "${PUBS[@]}"; do stop_pid "$p" INT; done
sleep 0.5
stop_pid "$TCPD" INT
log "tcpdump: $(grep -E 'captured|dropped' "$WORK/tcpdump.log" | tr '\n' ' ')"
stop_pid "$NGX" QUIT
PIDS=()
BYTES=$(stat -c %s "$BIG")
MB=$(awk -v b="$BYTES" 'BEGIN{printf "%.1f", b/1048576}')
log "capture: $BIG, $MB MB, $(capinfos -c -M "$BIG" 2>/dev/null | awk -F: '/Number of packets/{gsub(/ /,"",$2); print $2}') packets"

# ------------------------------------------------------------ measurements
[ "${MEASURE:-1}" = 0 ] && exit 0
declare -A WALL RSS RC
measure() { # measure NAME CMD...
    local name="$1"; shift
    local tv="$WORK/time.$name"
    /usr/bin/time -v -o "$tv" "$@" >/dev/null 2>"$WORK/err.$name"
    RC[$name]=$?
    local el
    el=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tv")
    WALL[$name]=$(awk -v t="$el" 'BEGIN{n=split(t,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}')
    RSS[$name]=$(awk -F': ' '/Maximum resident set size/{printf "%.1f", $2/1024}' "$tv")
    log "$name: exit ${RC[$name]}, ${WALL[$name]} s, peak RSS ${RSS[$name]} MB"
}
NAMES=()
if [ -n "$RTMPSCOPE" ]; then
    measure rtmpscope "$RTMPSCOPE" json -r "$BIG"; NAMES+=(rtmpscope)
    [ "${RC[rtmpscope]}" = 0 ] || log "rtmpscope failed: $(tail -3 "$WORK/err.rtmpscope")"
fi
measure tshark tshark -r "$BIG" -o rtmpt.max_packet_size:16777215 -T fields -e frame.number \
    -e rtmpt.header.typeid -e rtmpt.header.bodysize -Y rtmpt; NAMES+=(tshark)
measure tcpdump tcpdump -r "$BIG" -w /dev/null; NAMES+=(tcpdump)

echo
echo "capture: $MB MB ($BYTES bytes), $STREAMS streams"
printf '%-10s %5s %10s %10s %12s %12s %12s\n' reader exit wall_s MB/s peakRSS_MB x_tcpdump x_tshark
for n in "${NAMES[@]}"; do
    awk -v n="$n" -v rc="${RC[$n]}" -v w="${WALL[$n]}" -v r="${RSS[$n]}" -v mb="$MB" \
        -v f="${WALL[tcpdump]}" -v t="${WALL[tshark]}" 'BEGIN{
        ws = (w > 0 ? w : 0.01);
        printf "%-10s %5s %10.2f %10.1f %12.1f %12.2f %12.2f\n", n, rc, w, mb/ws, r, ws/(f>0?f:0.01), ws/(t>0?t:0.01) }'
done
