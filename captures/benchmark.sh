#!/usr/bin/env bash
# Throughput benchmark: make a big RTMP capture OUTSIDE the repo, then time readers on it.
#
# usage: bash captures/benchmark.sh [PATH_TO_RTMPSCOPE_BINARY]
# env:   CAPTURE=FILE   measure this existing capture instead of making one (kept)
#        THREADS=N      the N of the "tN" rows (default: number of cores)
#        BASELINE=BIN   another rtmpscope binary measured alongside (before/after rows)
#        RUNS=3         runs per reader; the table shows the fastest (wall) run (tshark: 1 run)
#        TSHARK=0       leave tshark out
#        SIZE_MB=1024   capture size to reach (the real benchmark is >= 1 GB; test with SIZE_MB=50)
#        STREAMS=4      concurrent ffmpeg publishers (high-bitrate 1280x720 H.264, -c copy)
#        READRATE=8     ffmpeg -readrate (x real time) per publisher: without a limit tcpdump
#                       drops about half of the loopback traffic and the capture is lossy
#        BENCH_DIR=/tmp/rtmpscope-bench   where the capture goes (never inside the repo)
#        KEEP=1         keep the capture afterwards (default: deleted)
#        SOURCE=small   320x240 low-bitrate source instead of 1280x720 12 Mbit/s: many small
#                       messages per MB (used by benches/tui_responsiveness.sh)
#        MEASURE=0      only make the capture
#        PORT=19390     nginx-rtmp port (with CAPTURE: the capture's RTMP port, for tshark's
#                       -d tcp.port==PORT,rtmpt: without it tshark decodes no RTMP on a port
#                       other than 1935 and its time means nothing)
#        MTU=1500       publish over a veth pair into a private network namespace with this
#                       MTU and one segment per packet (gso_max_segs 1), like a real NIC, instead
#                       of loopback (MTU 65536: few, huge packets). Needs root and iproute2;
#                       the namespace and veth pair are named after PORT and removed at the end.
# Measures with /usr/bin/time -v, side by side on the same file (best of RUNS):
#   tcpdump -r BIG -w /dev/null (the read floor), rtmpscope json and summary at --threads 1
#   and --threads N (and BASELINE json/summary), tshark's per-message export
# and prints wall time, CPU time (user+sys: the robust figure on a busy machine), MB/s,
# messages/s (messages from the json run's stats line), peak RSS, ratio to the floor (wall
# and CPU time) and to tshark, and the load average during the runs.
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

if [ -n "${CAPTURE:-}" ]; then
    BIG="$(realpath "$CAPTURE")"; KEEP=1
    [ -f "$BIG" ] || { log "no such capture: $CAPTURE"; exit 2; }
else
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

fi
# ------------------------------------------------------------ measurements
[ "${MEASURE:-1}" = 0 ] && exit 0
BYTES=$(stat -c %s "$BIG")
MB=$(awk -v b="$BYTES" 'BEGIN{printf "%.1f", b/1048576}')
THREADS="${THREADS:-$(nproc)}"
RUNS="${RUNS:-3}"
declare -A WALL CPU RSS RC LOAD
measure() { # measure NAME CMD...  (fastest of RUNS runs)
    local name="$1"; shift
    local tv="$WORK/time.$name" r el w c
    WALL[$name]=""
    for r in $(seq 1 "$RUNS"); do
        /usr/bin/time -v -o "$tv" "$@" >/dev/null 2>"$WORK/err.$name"
        RC[$name]=$?
        el=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tv")
        w=$(awk -v t="$el" 'BEGIN{n=split(t,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}')
        c=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$tv")
        if [ -z "${WALL[$name]}" ] || awk -v a="$w" -v b="${WALL[$name]}" 'BEGIN{exit !(a<b)}'; then
            WALL[$name]=$w; CPU[$name]=$c
            RSS[$name]=$(awk -F': ' '/Maximum resident set size/{printf "%.1f", $2/1024}' "$tv")
        fi
    done
    LOAD[$name]=$(cut -d' ' -f1 /proc/loadavg)
    log "$name: exit ${RC[$name]}, ${WALL[$name]} s (cpu ${CPU[$name]} s), peak RSS ${RSS[$name]} MB"
}
cat "$BIG" >/dev/null   # page cache warm for every reader
NAMES=()
MESSAGES=""
measure tcpdump tcpdump -r "$BIG" -w /dev/null; NAMES+=(tcpdump)
if [ -n "$RTMPSCOPE" ]; then
    MESSAGES=$("$RTMPSCOPE" json -r "$BIG" 2>/dev/null | tail -1 | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
    for t in 1 "$THREADS"; do
        measure "json_t$t" "$RTMPSCOPE" --threads "$t" json -r "$BIG"; NAMES+=("json_t$t")
        measure "summary_t$t" "$RTMPSCOPE" --threads "$t" summary -r "$BIG"; NAMES+=("summary_t$t")
        [ "$t" = 1 ] && [ "$THREADS" = 1 ] && break
    done
    [ "${RC[json_t1]}" = 0 ] || log "rtmpscope failed: $(tail -3 "$WORK/err.json_t1")"
fi
if [ -n "${BASELINE:-}" ]; then
    measure base_json "$BASELINE" json -r "$BIG"; NAMES+=(base_json)
    measure base_summary "$BASELINE" summary -r "$BIG"; NAMES+=(base_summary)
fi
if [ "${TSHARK:-1}" != 0 ]; then
    RUNS=1 measure tshark tshark -r "$BIG" -d "tcp.port==$PORT,rtmpt" -o rtmpt.max_packet_size:16777215 -T fields -e frame.number \
        -e rtmpt.header.typeid -e rtmpt.header.bodysize -Y rtmpt
    NAMES+=(tshark)
fi

echo
echo "capture: $BIG, $MB MB ($BYTES bytes), messages: ${MESSAGES:-?}, cores: $(nproc), N = $THREADS, best of $RUNS"
printf '%-14s %4s %8s %8s %9s %11s %9s %9s %9s %9s %6s\n' reader exit wall_s cpu_s MB/s msgs/s peakRSS_MB x_floor x_floorcpu x_tshark load
for n in "${NAMES[@]}"; do
    awk -v n="$n" -v rc="${RC[$n]}" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v r="${RSS[$n]}" -v mb="$MB" \
        -v msg="${MESSAGES:-0}" -v f="${WALL[tcpdump]}" -v fc="${CPU[tcpdump]}" -v t="${WALL[tshark]:-0}" -v l="${LOAD[$n]}" 'BEGIN{
        ws = (w > 0 ? w : 0.01);
        xt = (t > 0 ? sprintf("%.3f", ws/t) : "-");
        printf "%-14s %4s %8.2f %8.2f %9.1f %11.0f %9.1f %9.2f %9.2f %9s %6s\n", n, rc, w, c, mb/ws, msg/ws, r, ws/(f>0?f:0.01), c/(fc>0?fc:0.01), xt, l }'
done
