#!/usr/bin/env bash
# Regenerate the rtmpscope capture corpus (captures/*.pcap + captures/*.truth/).
#
# Usage (Debian, as root):  bash captures/generate.sh [SCENARIO...]
#   SCENARIO: 01 02 03 04 05 06 07 08 09 10 11 12 14a 14b 14c 15 15h (default: all). 10 needs 01's
#   capture, 14c needs 14a's. 15 (RTMPS through stunnel) also needs stunnel4 and openssl.
# Environment:
#   KEEP_WORK=1        keep the temp dir (sources, server logs, recordings)
#   TSHARK_ORACLE=...  path of tshark_oracle.py (default: ../shared/tools/ beside the repo)
#
# Every peer runs on loopback on its own port with its own config under a temp dir.
# Everything started here is stopped by PID; every wait is bounded with `timeout`.
# Runs unattended (no stdin). Installs missing tools (apt-get, pip, npm).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="$HERE"
TOOLS="$HERE/tools"
WORK="$(mktemp -d /tmp/rtmpscope-corpus.XXXXXX)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rtmpscope-corpus"
NMS_VERSION="4.4.3"
IMAGEIO_FFMPEG_VERSION="0.8.1"
PIDS=()
exec </dev/null

log() { printf '[generate %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- process control
stop_pid() { # stop_pid PID [SIGNAL] : signal, wait up to 10 s, then KILL
    local pid="$1" sig="${2:-TERM}" i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -"$sig" "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIG$sig, killing"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bg() { # bg LOGFILE CMD... : start in background, remember PID in BGPID
    local logf="$1"; shift
    "$@" >"$logf" 2>&1 &
    BGPID=$!
    PIDS+=("$BGPID")
}
forget() { # drop a PID from PIDS once it has been stopped
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
halt() { stop_pid "$1" "${2:-TERM}"; forget "$1"; }
wait_for() { # wait_for PID SECONDS : wait for a process to exit by itself, bounded
    local pid="$1" secs="$2" i
    for i in $(seq 1 $((secs * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid still running after ${secs}s, stopping"; fi
    halt "$pid" INT
}
wait_port() { # wait_port HOST PORT : until something listens (max 15 s)
    local host="$1" port="$2"
    timeout 15 bash -c "until (exec 3<>/dev/tcp/$host/$port) 2>/dev/null; do sleep 0.1; done" \
        || die "nothing listening on $host:$port"
}

# ---------------------------------------------------------------- tools
ensure_tools() {
    local need=() c
    for c in ffmpeg:ffmpeg nginx:nginx rtmpdump:rtmpdump tcpdump:tcpdump tshark:tshark \
             editcap:tshark capinfos:tshark stunnel4:stunnel4 openssl:openssl node:nodejs npm:npm python3:python3 \
             pip3:python3-pip; do
        command -v "${c%%:*}" >/dev/null 2>&1 || need+=("${c#*:}")
    done
    [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null
        timeout 300 apt-get update -qq || die "apt-get update failed"
        timeout 900 apt-get install -y -qq "${need[@]}" || die "apt-get install failed"
    fi
    RTMP_MODULE="$(dpkg -L libnginx-mod-rtmp 2>/dev/null | grep 'ngx_rtmp_module\.so$' | head -1)"
    [ -n "$RTMP_MODULE" ] || RTMP_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
    # modern ffmpeg (Enhanced RTMP) from PyPI imageio-ffmpeg
    MFFMPEG="$(python3 -c 'import imageio_ffmpeg as i; print(i.get_ffmpeg_exe())' 2>/dev/null)"
    if [ -z "$MFFMPEG" ]; then
        log "installing imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION from PyPI"
        timeout 300 python3 -m pip install -q "imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION" \
            || timeout 300 python3 -m pip install -q --break-system-packages "imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION" \
            || log "WARNING: imageio-ffmpeg install failed"
        MFFMPEG="$(python3 -c 'import imageio_ffmpeg as i; print(i.get_ffmpeg_exe())' 2>/dev/null)"
    fi
    # node-media-server from npm, into a cache dir outside the repo
    NMS_DIR="$CACHE/nms-$NMS_VERSION"
    if [ ! -f "$NMS_DIR/node_modules/node-media-server/package.json" ]; then
        log "installing node-media-server@$NMS_VERSION from npm into $NMS_DIR"
        mkdir -p "$NMS_DIR"
        [ -f "$NMS_DIR/package.json" ] || echo '{"private": true}' >"$NMS_DIR/package.json"
        (cd "$NMS_DIR" && timeout 300 npm install --no-audit --no-fund --silent "node-media-server@$NMS_VERSION") \
            || log "WARNING: node-media-server install failed"
    fi
    ORACLE="${TSHARK_ORACLE:-}"
    if [ -z "$ORACLE" ]; then
        for c in "$REPO/../shared/tools/tshark_oracle.py" "$REPO/../../shared/tools/tshark_oracle.py" \
                 /work/shared/tools/tshark_oracle.py; do
            [ -f "$c" ] && { ORACLE="$c"; break; }
        done
    fi
    [ -n "$ORACLE" ] || log "WARNING: tshark_oracle.py not found; tshark.ndjson will be skipped"
    log "ffmpeg: $(ffmpeg -hide_banner -version | head -1)"
    log "modern ffmpeg: ${MFFMPEG:-none} $([ -n "$MFFMPEG" ] && "$MFFMPEG" -hide_banner -version | head -1)"
    log "nginx: $(nginx -v 2>&1) module $RTMP_MODULE"
}

# ---------------------------------------------------------------- capture
# start_capture FILE FILTER [extra tcpdump args...] -> CAPPID
start_capture() {
    local file="$1" filter="$2"; shift 2
    local iface=lo
    bg "$WORK/tcpdump.$(basename "$file").log" tcpdump -i "$iface" -s 262144 -U "$@" -w "$file" "$filter"
    CAPPID=$BGPID
    timeout 10 bash -c "until grep -q 'listening on' '$WORK/tcpdump.$(basename "$file").log'; do sleep 0.1; done" \
        || die "tcpdump did not start: $(cat "$WORK/tcpdump.$(basename "$file").log")"
}
start_capture_any() { # like start_capture, on -i any (SLL2, nanosecond)
    local file="$1" filter="$2"; shift 2
    bg "$WORK/tcpdump.$(basename "$file").log" tcpdump -i any -y LINUX_SLL2 --time-stamp-precision=nano \
        -s 262144 -U "$@" -w "$file" "$filter"
    CAPPID=$BGPID
    timeout 10 bash -c "until grep -q 'listening on' '$WORK/tcpdump.$(basename "$file").log'; do sleep 0.1; done" \
        || die "tcpdump did not start: $(cat "$WORK/tcpdump.$(basename "$file").log")"
}
stop_capture() { sleep 0.5; halt "$CAPPID" INT; }

# ---------------------------------------------------------------- nginx
# start_nginx NAME PORT_LISTEN_SPEC RTMP_SERVER_BODY_EXTRA APPS_BLOCK [HTTP_BLOCK] -> NGXPID, NGXDIR
start_nginx() {
    local name="$1" listen="$2" server_extra="$3" apps="$4" http="${5:-}"
    NGXDIR="$WORK/nginx-$name"
    mkdir -p "$NGXDIR/logs" "$NGXDIR/rec" "$NGXDIR/tmp"
    cat >"$NGXDIR/nginx.conf" <<EOF
load_module $RTMP_MODULE;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
error_log $NGXDIR/logs/error.log info;
events { worker_connections 256; }
rtmp {
    server {
        listen $listen;
        $server_extra
        $apps
    }
}
$http
EOF
    bg "$NGXDIR/logs/stdout.log" nginx -p "$NGXDIR" -c "$NGXDIR/nginx.conf" \
        -g "daemon off; pid $NGXDIR/nginx.pid;"
    NGXPID=$BGPID
}
live_app() { # live_app NAME [extra directives]
    echo "application $1 { live on; record all; record_path $NGXDIR_REC; record_unique off; ${2:-} }"
}

# ---------------------------------------------------------------- sources
# make_source FILE SECONDS [VIDEO_LAVFI] [SINE_FREQ] [extra encoder args...]
# H.264 (libx264, 1 thread, fixed GOP 25, no B-frames) + AAC, -bitexact, FLV.
make_source() {
    local file="$1" secs="$2" vsrc="${3:-testsrc=size=320x240:rate=25}" freq="${4:-440}"; shift 4 || shift $#
    timeout 120 ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "$vsrc" -f lavfi -i "sine=frequency=$freq:sample_rate=44100" -t "$secs" \
        -c:v libx264 -threads 1 -preset veryfast -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -pix_fmt yuv420p \
        -c:a aac -b:a 64k -ac 1 "$@" -bitexact -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
        -f flv "$file" || die "source $file failed"
}
framemd5() { # framemd5 MEDIA OUT [ffmpeg binary]
    local bin="${3:-ffmpeg}"
    timeout 120 "$bin" -nostdin -hide_banner -loglevel error -i "$1" -map 0 -c copy -f framemd5 - >"$2" 2>>"$WORK/framemd5.err" \
        || log "WARNING: framemd5 of $1 failed"
}
publish() { # publish LOG SOURCE URL [ffmpeg binary] [extra output args] -> BGPID
    local logf="$1" src="$2" url="$3" bin="${4:-ffmpeg}"; shift 4 || shift $#
    bg "$logf" timeout 60 "$bin" -nostdin -hide_banner -loglevel info -re -i "$src" -map 0 -c copy "$@" -f flv "$url"
}
player() { # player LOG URL OUT.framemd5 [ffmpeg binary] [extra input args] -> BGPID (stop with INT)
    local logf="$1" url="$2" out="$3" bin="${4:-ffmpeg}"; shift 4 || shift $#
    bg "$logf" timeout -s INT 60 "$bin" -nostdin -hide_banner -loglevel info -rw_timeout 4000000 \
        "$@" -i "$url" -map 0 -c copy -f framemd5 "$out"
}

# ---------------------------------------------------------------- ground truth
# truth CAPTURE [tshark -d args...] : tshark.ndjson, tcp_bytes.txt, capinfos.txt
truth() {
    local cap="$1"; shift
    local tdir="${cap%.*}.truth"
    mkdir -p "$tdir"
    if [ -n "$ORACLE" ]; then
        timeout 300 python3 "$ORACLE" "$cap" -o rtmpt.max_packet_size:16777215 \
            -o tcp.reassemble_out_of_order:TRUE "$@" >"$tdir/tshark.ndjson" 2>"$WORK/oracle.err" \
            || log "WARNING: oracle failed on $cap: $(tail -2 "$WORK/oracle.err")"
    fi
    {
        echo "# TCP payload bytes per flow direction (sum of tcp.len over all frames, from tshark)"
        echo "# stream src_ip src_port dst_ip dst_port frames_with_payload payload_bytes"
        timeout 120 tshark -r "$cap" -T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport \
            -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.len -Y tcp 2>/dev/null |
            awk -F'\t' '{ s=($2!=""?$2:$3); d=($5!=""?$5:$6); k=$1" "s" "$4" "d" "$7;
                          if(!(k in b)){b[k]=0;n[k]=0;o[++c]=k} if($8>0){b[k]+=$8;n[k]++} }
                        END { for(i=1;i<=c;i++) print o[i], n[o[i]], b[o[i]] }'
        echo
        echo "# tshark -q -z conv,tcp (frame bytes, headers included)"
        timeout 120 tshark -r "$cap" -q -z conv,tcp 2>/dev/null
    } >"$tdir/tcp_bytes.txt"
    timeout 60 capinfos -c -s -E -T -r "$cap" >/dev/null 2>&1
    timeout 60 capinfos -t -E -c -s -u -a -e "$cap" 2>/dev/null | sed "s|$OUT/||" >"$tdir/capinfos.txt"
}
note() { # note CAPTURE TEXT... : append to truth/notes.txt
    local tdir="${1%.*}.truth"; shift
    mkdir -p "$tdir"; printf '%s\n' "$*" >>"$tdir/notes.txt"
}
fresh() { # fresh CAPTURE : remove old capture + truth
    rm -rf "$1" "${1%.*}.truth"; mkdir -p "${1%.*}.truth"
}

# ================================================================= scenarios
# 01: ffmpeg publishes H.264+AAC to nginx-rtmp :1935, an ffmpeg player plays it (one capture)
s01() {
    local cap="$OUT/01-ffmpeg-nginx-publish-play.pcap" t port=1935
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s01.flv" 3
    NGXDIR_REC="$WORK/nginx-s01/rec"
    start_nginx s01 "127.0.0.1:$port" "chunk_size 4096;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    player "$WORK/s01.play.log" "rtmp://127.0.0.1:$port/live/stream1" "$t/player.framemd5"; local pl=$BGPID
    sleep 1
    publish "$WORK/s01.pub.log" "$WORK/s01.flv" "rtmp://127.0.0.1:$port/live/stream1"; local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s01.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/stream1.flv" "$t/server-record.framemd5"
    truth "$cap"
}

# 02: rtmpdump (librtmp, digest handshake, -C extra connect args) plays from nginx-rtmp
s02() {
    local cap="$OUT/02-rtmpdump-nginx-play-connect-args.pcap" t port=1935
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s02.flv" 4 "testsrc2=size=320x240:rate=25" 660
    NGXDIR_REC="$WORK/nginx-s02/rec"
    start_nginx s02 "127.0.0.1:$port" "chunk_size 4096;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    publish "$WORK/s02.pub.log" "$WORK/s02.flv" "rtmp://127.0.0.1:$port/live/dumpme"; local pb=$BGPID
    sleep 1
    bg "$WORK/s02.rtmpdump.log" timeout -s INT 20 rtmpdump -v \
        -r "rtmp://127.0.0.1:$port/live/dumpme" \
        -s "http://player.example.invalid/player.swf" -p "http://page.example.invalid/watch" \
        -f "LNX 10,0,32,18" \
        -w 4f1b0a9e5d8c7b6a59483726150f1e2d3c4b5a69788796a5b4c3d2e1f0011223 -x 123456 \
        -C S:hello -C N:42 -C B:1 -C O:1 -C NS:key:val -C O:0 \
        -o "$WORK/s02.rtmpdump.flv"
    local rd=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$rd" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s02.flv" "$t/source.framemd5"
    framemd5 "$WORK/s02.rtmpdump.flv" "$t/player-rtmpdump.framemd5"
    framemd5 "$NGXDIR/rec/dumpme.flv" "$t/server-record.framemd5"
    cp "$WORK/s02.rtmpdump.log" "$t/rtmpdump.log"
    truth "$cap"
}

# 03: nginx-rtmp chunk_size 128 on port 19350
s03() {
    local cap="$OUT/03-nginx-chunk128-port19350.pcap" t port=19350
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s03.flv" 3 "testsrc=size=320x240:rate=25" 550
    NGXDIR_REC="$WORK/nginx-s03/rec"
    start_nginx s03 "127.0.0.1:$port" "chunk_size 128;" "$(live_app app)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    player "$WORK/s03.play.log" "rtmp://127.0.0.1:$port/app/small" "$t/player.framemd5"; local pl=$BGPID
    sleep 1
    publish "$WORK/s03.pub.log" "$WORK/s03.flv" "rtmp://127.0.0.1:$port/app/small"; local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s03.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/small.flv" "$t/server-record.framemd5"
    truth "$cap" -d tcp.port==$port,rtmpt
}

# 04: modern ffmpeg publishes Enhanced RTMP to a modern-ffmpeg listen server
# make_esource FILE VCODEC_ARGS ACODEC_ARGS [extra maps] (Matroska, deterministic, modern ffmpeg)
make_esource() {
    local file="$1" vargs="$2" aargs="$3"
    # shellcheck disable=SC2086
    timeout 300 "$MFFMPEG" -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc=size=320x240:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 2 \
        -pix_fmt yuv420p $vargs -g 25 $aargs -ac 1 \
        -bitexact -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -f matroska "$file" \
        || { log "WARNING: source $file failed"; return 1; }
}
erun() { # erun NAME PORT SOURCE [publisher extra args...]
    local name="$1" port="$2" src="$3"; shift 3
    local cap="$OUT/$name.pcap" t; t="${cap%.*}.truth"; fresh "$cap"
    start_capture "$cap" "tcp port $port"
    bg "$WORK/$name.server.log" timeout -s INT 40 "$MFFMPEG" -nostdin -hide_banner -loglevel info \
        -listen 1 -i "rtmp://127.0.0.1:$port/live/erTMP" -map 0 -c copy -f matroska "$WORK/$name.received.mkv"
    local srv=$BGPID
    sleep 1
    bg "$WORK/$name.pub.log" timeout 40 "$MFFMPEG" -nostdin -hide_banner -loglevel info -re -i "$src" \
        -map 0 -c copy "$@" -f flv "rtmp://127.0.0.1:$port/live/erTMP"
    local pb=$BGPID
    wait_for "$pb" 30
    wait_for "$srv" 10
    stop_capture
    framemd5 "$src" "$t/source.framemd5" "$MFFMPEG"
    framemd5 "$WORK/$name.received.mkv" "$t/server-received.framemd5" "$MFFMPEG"
    grep -E 'Stream #|Output|Input' "$WORK/$name.pub.log" | sed "s|$WORK/||; s|$OUT/||" >"$t/publisher-streams.txt"
    grep -E 'Stream #|Output|Input' "$WORK/$name.server.log" | sed "s|$WORK/||; s|$OUT/||" >"$t/server-streams.txt"
    truth "$cap" -d tcp.port==$port,rtmpt
}
s04() {
    [ -n "$MFFMPEG" ] || { log "SKIP 04: no modern ffmpeg"; return; }
    "$MFFMPEG" -hide_banner -h protocol=rtmp 2>/dev/null | grep -q rtmp_enhanced_codecs \
        || { log "SKIP 04: $MFFMPEG has no -rtmp_enhanced_codecs"; return; }
    local enc; enc="$("$MFFMPEG" -hide_banner -encoders 2>/dev/null)"
    local e; for e in libx265 libaom-av1 libvpx-vp9 libopus; do
        grep -q " $e " <<<"$enc" || log "WARNING: $MFFMPEG lacks encoder $e: its scenario will be skipped"
    done
    local x265="-c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1:frame-threads=1"
    make_esource "$WORK/s04a.mkv" "$x265" "-c:a aac -b:a 64k" &&
        erun 04a-eRTMP-hevc-aac-ffmpeg-listen 19351 "$WORK/s04a.mkv" -rtmp_enhanced_codecs hvc1,mp4a
    make_esource "$WORK/s04b.mkv" "-c:v libaom-av1 -cpu-used 8 -usage realtime -threads 1 -b:v 200k" "-c:a libopus -b:a 48k" &&
        erun 04b-eRTMP-av1-opus-ffmpeg-listen 19352 "$WORK/s04b.mkv" -rtmp_enhanced_codecs av01,Opus
    make_esource "$WORK/s04c.mkv" "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -threads 1 -b:v 200k" "-c:a libopus -b:a 48k" &&
        erun 04c-eRTMP-vp9-opus-ffmpeg-listen 19353 "$WORK/s04c.mkv" -rtmp_enhanced_codecs vp09,Opus
    # multitrack: two HEVC video tracks + two AAC audio tracks in one FLV/RTMP stream
    timeout 300 "$MFFMPEG" -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc=size=320x240:rate=25" -f lavfi -i "testsrc2=size=160x120:rate=25" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" -f lavfi -i "sine=frequency=880:sample_rate=48000" \
        -map 0 -map 1 -map 2 -map 3 -t 2 -pix_fmt yuv420p $x265 -g 25 -c:a aac -b:a 64k -ac 1 \
        -bitexact -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -f matroska "$WORK/s04d.mkv" \
        && erun 04d-eRTMP-multitrack-hevc-aac-ffmpeg-listen 19354 "$WORK/s04d.mkv" -rtmp_enhanced_codecs hvc1,mp4a
}

# 05: node-media-server with an ffmpeg publisher and an ffmpeg player
s05() {
    local nmsmod="$NMS_DIR/node_modules/node-media-server"
    [ -d "$nmsmod" ] || { log "SKIP 05: node-media-server missing"; return; }
    local cap="$OUT/05-ffmpeg-node-media-server-publish-play.pcap" t port=19355
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s05.flv" 3 "testsrc=size=320x240:rate=25" 330
    mkdir -p "$WORK/nms"
    bg "$WORK/nms/server.log" env NODE_PATH="$NMS_DIR/node_modules" \
        timeout 60 node "$TOOLS/nms.js" "$port" "$WORK/nms"
    local srv=$BGPID
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    publish "$WORK/s05.pub.log" "$WORK/s05.flv" "rtmp://127.0.0.1:$port/live/nms"; local pb=$BGPID
    sleep 1   # NMS v4 answers play of a not-yet-published stream with an error: play after publish
    player "$WORK/s05.play.log" "rtmp://127.0.0.1:$port/live/nms" "$t/player.framemd5"; local pl=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$srv" INT
    framemd5 "$WORK/s05.flv" "$t/source.framemd5"
    note "$cap" "node-media-server $(node -p "require('$nmsmod/package.json').version"), node $(node --version)"
    note "$cap" "player joined ~1 s after the publisher: its first frames depend on NMS's GOP cache"
    truth "$cap" -d tcp.port==$port,rtmpt
    s05b
}
# 05b: Enhanced RTMP (HEVC + AAC) through node-media-server v4, modern ffmpeg publisher and player
s05b() {
    [ -n "$MFFMPEG" ] || { log "SKIP 05b: no modern ffmpeg"; return; }
    local nmsmod="$NMS_DIR/node_modules/node-media-server"
    local cap="$OUT/05b-eRTMP-hevc-node-media-server.pcap" t port=19356
    t="${cap%.*}.truth"; fresh "$cap"
    make_esource "$WORK/s05b.mkv" \
        "-c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1:frame-threads=1:bframes=0" \
        "-c:a aac -b:a 64k" || return
    mkdir -p "$WORK/nms05b"
    bg "$WORK/nms05b/server.log" env NODE_PATH="$NMS_DIR/node_modules" \
        timeout 60 node "$TOOLS/nms.js" "$port" "$WORK/nms05b"
    local srv=$BGPID
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    publish "$WORK/s05b.pub.log" "$WORK/s05b.mkv" "rtmp://127.0.0.1:$port/live/hevc" "$MFFMPEG" \
        -rtmp_enhanced_codecs hvc1,mp4a
    local pb=$BGPID
    sleep 0.7
    player "$WORK/s05b.play.log" "rtmp://127.0.0.1:$port/live/hevc" "$t/player.framemd5" "$MFFMPEG" \
        -analyzeduration 500000
    local pl=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$srv" INT
    framemd5 "$WORK/s05b.mkv" "$t/source.framemd5" "$MFFMPEG"
    grep -E 'Stream #|Input|Output' "$WORK/s05b.play.log" | sed "s|$WORK/||; s|$OUT/||" >"$t/player-streams.txt"
    note "$cap" "node-media-server $(node -p "require('$nmsmod/package.json').version"); player joined ~0.7 s after the publisher"
    truth "$cap" -d tcp.port==$port,rtmpt
}

# 06: rejected publishes and a play of a missing stream (error status codes)
s06() {
    local cap="$OUT/06-nginx-rejected-publish-missing-play.pcap" t port=1935 hport=18086
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s06.flv" 3 "testsrc=size=320x240:rate=25" 770
    NGXDIR_REC="$WORK/nginx-s06/rec"
    local apps
    apps="application live { live on; idle_streams off; }
        application locked { live on; deny publish all; }
        application hooked { live on; on_publish http://127.0.0.1:$hport/on_publish; }"
    start_nginx s06 "127.0.0.1:$port" "chunk_size 4096;" "$apps" \
        "http { access_log off; client_body_temp_path $WORK/nginx-s06/tmp/body; proxy_temp_path $WORK/nginx-s06/tmp/proxy; fastcgi_temp_path $WORK/nginx-s06/tmp/fcgi; uwsgi_temp_path $WORK/nginx-s06/tmp/uwsgi; scgi_temp_path $WORK/nginx-s06/tmp/scgi; server { listen 127.0.0.1:$hport; location /on_publish { return 403; } } }"
    wait_port 127.0.0.1 $port
    wait_port 127.0.0.1 $hport
    start_capture "$cap" "tcp port $port"
    local base="rtmp://127.0.0.1:$port"
    # a) connect to an application that does not exist
    bg "$WORK/s06.a.log" timeout 10 ffmpeg -nostdin -hide_banner -re -i "$WORK/s06.flv" -c copy -f flv "$base/nosuchapp/x"
    wait_for $BGPID 10; sleep 0.5
    # b) publish to an application with 'deny publish all'
    bg "$WORK/s06.b.log" timeout 10 ffmpeg -nostdin -hide_banner -re -i "$WORK/s06.flv" -c copy -f flv "$base/locked/x"
    wait_for $BGPID 10; sleep 0.5
    # c) publish refused by the on_publish HTTP hook (403)
    bg "$WORK/s06.c.log" timeout 10 ffmpeg -nostdin -hide_banner -re -i "$WORK/s06.flv" -c copy -f flv "$base/hooked/x"
    wait_for $BGPID 10; sleep 0.5
    # d) play of a stream nobody publishes (idle_streams off -> NetStream.Play.StreamNotFound)
    bg "$WORK/s06.d.log" timeout -s INT 10 ffmpeg -nostdin -hide_banner -rw_timeout 3000000 -i "$base/live/missing" -f null -
    wait_for $BGPID 10; sleep 0.5
    # e) second publisher on a stream name already being published (NetStream.Publish.BadName)
    publish "$WORK/s06.e1.log" "$WORK/s06.flv" "$base/live/taken"; local p1=$BGPID
    sleep 1
    bg "$WORK/s06.e2.log" timeout 10 ffmpeg -nostdin -hide_banner -re -i "$WORK/s06.flv" -c copy -f flv "$base/live/taken"
    wait_for $BGPID 10
    wait_for "$p1" 15
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s06.flv" "$t/source.framemd5"
    for x in a b c d e1 e2; do
        { echo "== $x"; grep -iE 'error|fail|reject|denied|not found|badname|already' "$WORK/s06.$x.log" | head -5; } >>"$t/clients.txt"
    done
    grep -iE 'deny|denied|not found|already|notify|403|publish' "$NGXDIR/logs/error.log" | sed 's/^[0-9\/: ]*//' \
        >"$t/nginx-error-log.txt" 2>/dev/null
    truth "$cap"
}

# 07: capture started mid-stream (2.5 s after publish began), nginx chunk_size 4096
s07() {
    local cap="$OUT/07-nginx-midstream-chunk4096.pcap" t port=1935
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s07.flv" 6 "testsrc=size=320x240:rate=25" 880
    NGXDIR_REC="$WORK/nginx-s07/rec"
    start_nginx s07 "127.0.0.1:$port" "chunk_size 4096;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    player "$WORK/s07.play.log" "rtmp://127.0.0.1:$port/live/mid" "$t/player.framemd5"; local pl=$BGPID
    sleep 1
    publish "$WORK/s07.pub.log" "$WORK/s07.flv" "rtmp://127.0.0.1:$port/live/mid"; local pb=$BGPID
    sleep 2.5
    start_capture "$cap" "tcp port $port"
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s07.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/mid.flv" "$t/server-record.framemd5"
    note "$cap" "tcpdump started 2.5 s after the publisher connected; no SYN, no handshake, no connect in the capture"
    truth "$cap"
}

# 08: IPv6 loopback, tcpdump -i any (SLL2), nanosecond pcap + pcapng copy
s08() {
    local cap="$OUT/08a-ipv6-any-sll2-nanosec.pcap" t port=1936
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s08.flv" 2 "testsrc=size=160x120:rate=25" 990
    NGXDIR_REC="$WORK/nginx-s08/rec"
    start_nginx s08 "[::1]:$port" "chunk_size 4096;" "$(live_app live)"
    timeout 15 bash -c "until ss -ltnH | grep -q '\[::1\]:$port'; do sleep 0.1; done" || die "nginx [::1]:$port"
    start_capture_any "$cap" "tcp port $port"
    player "$WORK/s08.play.log" "rtmp://[::1]:$port/live/v6" "$t/player.framemd5"; local pl=$BGPID
    sleep 1
    publish "$WORK/s08.pub.log" "$WORK/s08.flv" "rtmp://[::1]:$port/live/v6"; local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s08.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/v6.flv" "$t/server-record.framemd5"
    truth "$cap" -d tcp.port==$port,rtmpt
    local ng="$OUT/08b-ipv6-any-sll2-nanosec.pcapng"
    rm -rf "$ng" "${ng%.*}.truth"
    timeout 60 editcap -F pcapng "$cap" "$ng" || log "WARNING: editcap pcapng failed"
    truth "$ng" -d tcp.port==$port,rtmpt
    cp "$t"/*.framemd5 "${ng%.*}.truth/"
    note "$ng" "same packets as 08a-ipv6-any-sll2-nanosec.pcap, converted with: editcap -F pcapng (nanosecond if_tsresol kept)"
}

# 09: five concurrent ffmpeg publishers on one nginx
s09() {
    local cap="$OUT/09-nginx-5-concurrent-publishers.pcap" t port=1935 i
    t="${cap%.*}.truth"; fresh "$cap"
    local srcs=("testsrc" "testsrc2" "smptebars" "rgbtestsrc" "yuvtestsrc")
    for i in 1 2 3 4 5; do
        make_source "$WORK/s09.$i.flv" 3 "${srcs[$((i-1))]}=size=160x120:rate=25" $((200 * i))
    done
    NGXDIR_REC="$WORK/nginx-s09/rec"
    start_nginx s09 "127.0.0.1:$port" "chunk_size 4096;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    local pubs=()
    for i in 1 2 3 4 5; do
        publish "$WORK/s09.$i.log" "$WORK/s09.$i.flv" "rtmp://127.0.0.1:$port/live/cam$i"; pubs+=("$BGPID")
        sleep 0.2
    done
    for i in "${pubs[@]}"; do wait_for "$i" 20; done
    stop_capture; halt "$NGXPID" QUIT
    for i in 1 2 3 4 5; do
        framemd5 "$WORK/s09.$i.flv" "$t/source-cam$i.framemd5"
        framemd5 "$NGXDIR/rec/cam$i.flv" "$t/server-record-cam$i.framemd5"
    done
    truth "$cap"
}

# 10: lossy copy of 01 (deterministic ~1% of data packets removed)
s10() {
    local src="$OUT/01-ffmpeg-nginx-publish-play.pcap"
    [ -f "$src" ] || { log "SKIP 10: $src missing (run 01 first)"; return; }
    local cap="$OUT/10-ffmpeg-nginx-publish-play-lossy.pcap" t
    t="${cap%.*}.truth"; fresh "$cap"
    timeout 60 python3 "$TOOLS/drop_packets.py" --seed 20261121 --fraction 0.01 \
        "$src" "$cap" "$t/removed.tsv" || die "drop_packets failed"
    truth "$cap"
}

# 11: chunk_size 60000, 1280x720 keyframe-heavy high-bitrate H.264 (keyframes > 64 KB)
s11() {
    local cap="$OUT/11-nginx-chunk60000-big-keyframes.pcap" t port=1935
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s11.flv" 1.6 "testsrc2=size=1280x720:rate=25,noise=alls=5:allf=u:all_seed=7" 1000 \
        -g 10 -keyint_min 10 -crf 23
    NGXDIR_REC="$WORK/nginx-s11/rec"
    start_nginx s11 "127.0.0.1:$port" "chunk_size 60000;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    # short analyzeduration: the stream is shorter than ffmpeg's default 5 s probe
    player "$WORK/s11.play.log" "rtmp://127.0.0.1:$port/live/big" "$t/player.framemd5" ffmpeg -analyzeduration 500000
    local pl=$BGPID
    sleep 1
    publish "$WORK/s11.pub.log" "$WORK/s11.flv" "rtmp://127.0.0.1:$port/live/big"; local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s11.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/big.flv" "$t/server-record.framemd5"
    timeout 60 ffprobe -v error -select_streams v -show_entries packet=pts_time,size,flags -of csv "$WORK/s11.flv" \
        | awk -F, '$4 ~ /K/ {print "keyframe pts " $2 " size " $3}' >"$t/keyframe-sizes.txt"
    truth "$cap"
}

# INDEX.tsv: one line per capture in captures/ (size, packets, link type, TCP flows, ports)
write_index() {
    local f
    {
        printf 'file\tbytes\tpackets\tencapsulation\ttcp_flows\tserver_ports\n'
        for f in "$OUT"/*.pcap "$OUT"/*.pcapng; do
            [ -f "$f" ] || continue
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$f")" "$(stat -c %s "$f")" \
                "$(capinfos -M -c "$f" 2>/dev/null | awk -F': *' '/Number of packets/{print $2}')" \
                "$(capinfos -E "$f" 2>/dev/null | awk -F': *' '/encapsulation/{print $2}')" \
                "$(tshark -r "$f" -T fields -e tcp.stream 2>/dev/null | sort -u | grep -c .)" \
                "$(tshark -r "$f" -Y 'tcp.flags.syn==1 && tcp.flags.ack==1' -T fields -e tcp.srcport 2>/dev/null | sort -u | paste -sd, -)"
        done
    } >"$OUT/INDEX.tsv"
}

# 12: extended timestamps: publisher output offset so RTMP timestamps cross 0xFFFFFF mid-stream
s12() {
    local cap="$OUT/12-nginx-extended-timestamps.pcap" t port=1935
    t="${cap%.*}.truth"; fresh "$cap"
    make_source "$WORK/s12.flv" 4 "testsrc=size=640x480:rate=25" 600
    NGXDIR_REC="$WORK/nginx-s12/rec"
    start_nginx s12 "127.0.0.1:$port" "chunk_size 1024;" "$(live_app live)"
    wait_port 127.0.0.1 $port
    start_capture "$cap" "tcp port $port"
    player "$WORK/s12.play.log" "rtmp://127.0.0.1:$port/live/ext" "$t/player.framemd5"; local pl=$BGPID
    sleep 1
    # 16800 s: the first media message after the sequence headers (ts 0) has a timestamp delta of 16800000 ms >= 0xFFFFFF, sent as an extended timestamp on a fmt 1 header (W2), repeated on its fmt 3 chunks (W3)
    publish "$WORK/s12.pub.log" "$WORK/s12.flv" "rtmp://127.0.0.1:$port/live/ext" ffmpeg -output_ts_offset 16800
    local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    stop_capture; halt "$NGXPID" QUIT
    framemd5 "$WORK/s12.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/ext.flv" "$t/server-record.framemd5"
    note "$cap" "publisher: ffmpeg -re -i SRC -map 0 -c copy -output_ts_offset 16800 -f flv URL; sequence headers at 0 ms, media from 16800000 ms (> 0xFFFFFF = 16777215): the jump from 0 is an extended-timestamp delta on fmt 1"
    truth "$cap"
}


# 14: RTMPT. ffmpeg publishes and plays through rtmpt:// to tools/rtmpt_bridge.py (the RTMPT
# server side, stdlib Python) on :14080, which relays the RTMP bytes unchanged to nginx-rtmp
# on :14081. The capture is the HTTP side; truth/upstream.pcap is the bridge's plain RTMP
# connections (the exact RTMP inside the tunnel). 14b answers with chunked bodies. 14c is
# 14a rewritten so that every request/response pair rides its own TCP connection.
s14_run() { # s14_run CAPTURE STREAM [bridge args...]
    local cap="$1" stream="$2" t hport=14080 uport=14081; shift 2
    t="${cap%.*}.truth"; fresh "$cap"
    [ -f "$WORK/s14.flv" ] || make_source "$WORK/s14.flv" 3
    NGXDIR_REC="$WORK/nginx-s14-$stream/rec"
    start_nginx "s14-$stream" "127.0.0.1:$uport" "chunk_size 4096;" "$(live_app live)"
    wait_port 127.0.0.1 $uport
    bg "$WORK/s14-$stream.bridge.out" python3 "$TOOLS/rtmpt_bridge.py" --listen 127.0.0.1:$hport \
        --upstream 127.0.0.1:$uport --log "$t/bridge.log" "$@"
    local br=$BGPID
    wait_port 127.0.0.1 $hport
    start_capture "$cap" "tcp port $hport"; local cap_http=$CAPPID
    start_capture "$t/upstream.pcap" "tcp port $uport"; local cap_up=$CAPPID
    # ffmpeg's rtmpt reader ignores SIGINT while it polls, so the player stops by itself after
    # the source's 75 video frames (and then closes its tunnel with /close).
    bg "$WORK/s14-$stream.play.log" timeout -s INT 60 ffmpeg -nostdin -hide_banner -loglevel info \
        -rw_timeout 4000000 -i "rtmpt://127.0.0.1:$hport/live/$stream" -map 0 -c copy -frames:v 75 \
        -f framemd5 "$t/player.framemd5"
    local pl=$BGPID
    sleep 1
    publish "$WORK/s14-$stream.pub.log" "$WORK/s14.flv" "rtmpt://127.0.0.1:$hport/live/$stream"; local pb=$BGPID
    wait_for "$pb" 30
    wait_for "$pl" 10
    sleep 1
    CAPPID=$cap_http; stop_capture
    CAPPID=$cap_up; stop_capture
    halt "$br" TERM; halt "$NGXPID" QUIT
    framemd5 "$WORK/s14.flv" "$t/source.framemd5"
    framemd5 "$NGXDIR/rec/$stream.flv" "$t/server-record.framemd5"
    note "$cap" "HTTP side of the tunnel (port $hport); truth/upstream.pcap: the bridge's plain RTMP to nginx (port $uport); truth/bridge.log: every request the bridge answered"
    truth "$cap"
}
s14a() { s14_run "$OUT/14a-rtmpt-ffmpeg-bridge-publish-play.pcap" rtmpt1; }
s14b() { s14_run "$OUT/14b-rtmpt-ffmpeg-bridge-chunked.pcap" rtmpt2 --chunked; }
s14c() {
    local src="$OUT/14a-rtmpt-ffmpeg-bridge-publish-play.pcap"
    local cap="$OUT/14c-rtmpt-one-connection-per-request.pcap"
    [ -f "$src" ] || die "14c needs 14a's capture"
    fresh "$cap"
    python3 "$TOOLS/rtmpt_split.py" "$src" "$cap" >"${cap%.*}.truth/split.txt" || die "rtmpt_split failed"
    note "$cap" "made from 14a by tools/rtmpt_split.py: every HTTP request/response pair on its own TCP connection (new client port, SYN/FIN added), payload bytes and packet times kept"
    truth "$cap"
}

# ---------------------------------------------------------------- 15: RTMPS (issue 15)
# stunnel (TLS terminator) in front of nginx-rtmp; Debian's ffmpeg (GnuTLS) publishes and plays
# rtmps:// with SSLKEYLOGFILE set. One listener per TLS flavour; every capture holds the TLS
# side (client <-> stunnel, 1501x) and stunnel's plain upstream to nginx (15019): the truth.
# start_stunnel NAME ACCEPT_PORT CONNECT_PORT [stunnel options...] -> STUNPID
start_stunnel() {
    local name="$1" accept="$2" connect="$3"; shift 3
    local d="$WORK/stunnel-$name"; mkdir -p "$d"
    [ -f "$WORK/rtmps.pem" ] || timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj "/CN=rtmps.lab.test/O=rtmpscope lab" -keyout "$WORK/rtmps.key" -out "$WORK/rtmps.crt" 2>/dev/null \
        && cat "$WORK/rtmps.key" "$WORK/rtmps.crt" >"$WORK/rtmps.pem"
    {
        echo "foreground = yes"; echo "pid ="; echo "debug = 5"
        echo "[rtmps]"; echo "accept = 127.0.0.1:$accept"; echo "connect = 127.0.0.1:$connect"
        echo "cert = $WORK/rtmps.pem"
        local o; for o in "$@"; do echo "$o"; done
    } >"$d/stunnel.conf"
    bg "$d/stunnel.log" stunnel4 "$d/stunnel.conf"
    STUNPID=$BGPID
}
# s15run TAG ACCEPT_PORT [stunnel options...]: player + publisher through one stunnel listener
s15run() {
    local tag="$1" sport="$2"; shift 2
    local cap="$OUT/15$tag.pcap" t up=15019
    t="${cap%.*}.truth"; fresh "$cap"
    start_stunnel "$tag" "$sport" "$up" "$@"; local st=$STUNPID
    wait_port 127.0.0.1 "$sport"
    local kl="$t/keys.txt"; rm -f "$kl"
    start_capture "$cap" "tcp port $sport or tcp port $up"
    SSLKEYLOGFILE="$kl" player "$WORK/s15$tag.play.log" "rtmps://rtmps.lab.test:$sport/live/tls$sport" \
        "$t/player.framemd5" ffmpeg -tls_verify 0; local pl=$BGPID
    sleep 1
    SSLKEYLOGFILE="$kl" publish "$WORK/s15$tag.pub.log" "$WORK/s15.flv" "rtmps://rtmps.lab.test:$sport/live/tls$sport" \
        ffmpeg -tls_verify 0; local pb=$BGPID
    wait_for "$pb" 20
    sleep 1; halt "$pl" INT
    sleep 1; stop_capture; halt "$st" TERM
    cp "$WORK/s15.framemd5" "$t/source.framemd5"
    # the same key log without the first connection's (the player's) secrets: tls.no_key
    local first; first="$(awk 'NF==3{print $2; exit}' "$kl")"
    grep -v -F "$first" "$kl" >"$t/keys-missing-player.txt"
    note "$cap" "stunnel 127.0.0.1:$sport ($*) -> nginx 127.0.0.1:$up; key log of both ffmpeg clients: keys.txt (lab keys)"
    truth "$cap" -d tcp.port==15019,rtmpt
    timeout 60 editcap --inject-secrets "tls,$kl" "$cap" "${cap%.pcap}-dsb.pcapng" \
        || log "WARNING: editcap --inject-secrets failed for $cap"
}
# s15lost FROM_TAG PORT TO_TAG: FROM's capture without the middle large TLS segment of the
# publisher (client -> PORT): the loss cuts TLS records at both ends
s15lost() {
    local src="$OUT/15$1.pcap" cap="$OUT/15$3.pcap" t n
    t="${cap%.*}.truth"; fresh "$cap"
    # the first publisher segment past the first quarter that starts inside a TLS record
    # (its payload does not begin with an application data record header 17 03 03)
    n="$(tshark -r "$src" -Y "tcp.dstport==$2 && tcp.len>0" -T fields -e frame.number -e tcp.payload 2>/dev/null |
        awk '{f[NR]=$1; p[NR]=substr($2,1,6)} END{for(i=int(NR/4);i<=NR;i++) if(p[i]!="170303"){print f[i]; exit}}')"
    [ -n "$n" ] || { log "WARNING: no large segment to drop in $src"; return; }
    timeout 60 editcap "$src" "$cap" "$n" || die "editcap failed"
    cp "${src%.*}.truth/keys.txt" "$t/keys.txt"
    note "$cap" "15$1 without frame $n (a $(tshark -r "$src" -Y "frame.number==$n" -T fields -e tcp.len 2>/dev/null)-byte TCP segment of the publisher's TLS connection that starts inside a TLS record: that record is lost)"
    truth "$cap" -d tcp.port==15019,rtmpt
}
s15() {
    # In a private network namespace whose loopback has a 1500-byte MTU: TLS records then span
    # TCP segments (as on a real network), and the namespace keeps ports 1501x private. A private
    # mount namespace gives it an /etc/hosts naming the server rtmps.lab.test (ffmpeg sends SNI
    # only for a host name).
    if [ "${S15_NETNS:-0}" != 1 ]; then
        printf '127.0.0.1 localhost rtmps.lab.test\n' >"$WORK/hosts15"
        S15_NETNS=1 KEEP_WORK="${KEEP_WORK:-0}" timeout 900 unshare -n -m bash -c \
            'mount --make-rprivate / && mount --bind "$1" /etc/hosts && ip link set lo mtu 1500 && ip link set lo up && exec bash "$0" 15' \
            "$HERE/generate.sh" "$WORK/hosts15" \
            || die "scenario 15 in a network namespace failed"
        return
    fi
    make_source "$WORK/s15.flv" 3
    framemd5 "$WORK/s15.flv" "$WORK/s15.framemd5"
    NGXDIR_REC="$WORK/nginx-s15/rec"
    start_nginx s15 "127.0.0.1:15019" "chunk_size 4096;" "$(live_app live)"
    local ng=$NGXPID
    wait_port 127.0.0.1 15019
    s15run a-rtmps-tls13 15010 "sslVersionMin = TLSv1.3"
    s15run b-rtmps-tls12-aes128gcm 15011 "sslVersionMax = TLSv1.2" "ciphers = ECDHE-RSA-AES128-GCM-SHA256"
    s15run c-rtmps-tls12-chacha20 15012 "sslVersionMax = TLSv1.2" "ciphers = ECDHE-RSA-CHACHA20-POLY1305"
    s15run d-rtmps-tls12-aes128cbc 15013 "sslVersionMax = TLSv1.2" "ciphers = ECDHE-RSA-AES128-SHA"
    # e: handshake failure: the server only accepts an ECDSA suite, its certificate is RSA
    local cap="$OUT/15e-rtmps-handshake-failure.pcap" t
    t="${cap%.*}.truth"; fresh "$cap"
    start_stunnel e 15014 15019 "sslVersionMax = TLSv1.2" "ciphers = ECDHE-ECDSA-AES128-GCM-SHA256"; local st=$STUNPID
    wait_port 127.0.0.1 15014
    start_capture "$cap" "tcp port 15014 or tcp port 15019"
    publish "$WORK/s15e.pub.log" "$WORK/s15.flv" "rtmps://rtmps.lab.test:15014/live/fail" ffmpeg -tls_verify 0; local pb=$BGPID
    wait_for "$pb" 20
    sleep 2; stop_capture; halt "$st" TERM
    note "$cap" "stunnel 127.0.0.1:15014 accepts only ECDHE-ECDSA-AES128-GCM-SHA256 with an RSA certificate: no shared cipher, the server answers the ClientHello with a fatal handshake_failure alert; ffmpeg: $(grep -i -m1 -E 'error|fail' "$WORK/s15e.pub.log")"
    truth "$cap"
    halt "$ng" QUIT
    s15lost a-rtmps-tls13 15010 g-rtmps-tls13-lost-segment
    s15lost b-rtmps-tls12-aes128gcm 15011 f-rtmps-tls12-lost-segment
    framemd5 "$NGXDIR_REC/tls15010.flv" "$OUT/15a-rtmps-tls13.truth/server-record.framemd5"
}

# 15h: TLS 1.3 key updates. openssl s_client talks to openssl s_server -rev (each line comes
# back reversed) and is told "k" (KeyUpdate, update_not_requested: the client's keys change)
# and then "K" (update_requested: both directions change keys); the key log is s_client's.
# Not RTMP inside: it shows that decryption follows key updates (tests/rtmps.rs).
s15h() {
    local cap="$OUT/15h-tls13-key-update.pcap" t port=15030 sv
    t="${cap%.*}.truth"; fresh "$cap"
    timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ku.lab.test" \
        -keyout "$WORK/ku.key" -out "$WORK/ku.crt" 2>/dev/null || die "openssl req failed"
    bg "$WORK/s15h.server.log" openssl s_server -accept "127.0.0.1:$port" -cert "$WORK/ku.crt" \
        -key "$WORK/ku.key" -tls1_3 -rev; sv=$BGPID
    sleep 1  # s_server is up (no wait_port: its probe connection would land in the capture)
    start_capture "$cap" "tcp port $port"
    (echo "hello before key update"; sleep 0.5; echo "k"; sleep 0.5; echo "hello after key update"
     sleep 0.5; echo "K"; sleep 0.5; echo "after update requested"; sleep 1) |
        timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -servername ku.lab.test \
            -keylogfile "$t/keys.txt" >"$WORK/s15h.client.log" 2>&1
    sleep 1; halt "$sv" TERM; stop_capture
    grep -q "KEYUPDATE" "$WORK/s15h.client.log" || log "WARNING: s_client did not report KEYUPDATE"
    note "$cap" "openssl s_client -> s_server -rev on $port, TLS 1.3; client KeyUpdate (k, then K = update_requested); key log: keys.txt (lab keys); plaintext lines: hello before key update / hello after key update / after update requested"
    timeout 60 editcap --inject-secrets "tls,$t/keys.txt" "$cap" "${cap%.pcap}-dsb.pcapng" \
        || log "WARNING: editcap --inject-secrets failed for $cap"
}

# ================================================================= main
ensure_tools
{
    echo "generated by captures/generate.sh"
    echo "ffmpeg (system): $(ffmpeg -hide_banner -version | head -1)"
    echo "ffmpeg (modern, imageio-ffmpeg $(python3 -c 'import imageio_ffmpeg as i; print(i.__version__)' 2>/dev/null)): $([ -n "$MFFMPEG" ] && "$MFFMPEG" -hide_banner -version | head -1)"
    echo "nginx: $(nginx -v 2>&1); libnginx-mod-rtmp $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp 2>/dev/null)"
    echo "rtmpdump: $(dpkg-query -W -f='${Version}' rtmpdump 2>/dev/null)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1); $(tcpdump --version 2>&1 | sed -n 2p)"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "node: $(node --version 2>/dev/null); node-media-server $NMS_VERSION"
} >"$WORK/versions.txt"
SCEN=("$@")
[ ${#SCEN[@]} -gt 0 ] || SCEN=(01 02 03 04 05 06 07 08 09 10 11 12 14a 14b 14c 15 15h)
for s in "${SCEN[@]}"; do
    declare -F "s$s" >/dev/null || die "unknown scenario '$s' (known: 01 02 03 04 05 06 07 08 09 10 11 12 14a 14b 14c 15 15h)"
done
for s in "${SCEN[@]}"; do
    log "=== scenario $s"
    "s$s"
    log "=== scenario $s done"
done
cp "$WORK/versions.txt" "$OUT/VERSIONS.txt"
write_index
log "done: $(du -sh "$OUT" | cut -f1) in $OUT"
