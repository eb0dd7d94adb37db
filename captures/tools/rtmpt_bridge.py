#!/usr/bin/env python3
"""RTMPT server side for test captures: an HTTP-to-RTMP bridge (stdlib only).

Listens for RTMPT (RTMP tunnelled in HTTP POSTs) and relays the RTMP bytes,
unchanged, over one plain RTMP TCP connection per tunnel session to an
upstream RTMP server (nginx-rtmp in captures/generate.sh). Capturing the
upstream connection therefore gives the exact truth for the tunnel's RTMP.

Protocol (as Flash Media Server answers it, seed 000 / field-notes section 6):
  POST /fcs/ident2            -> 404 Not Found
  POST /open/1                -> 200, body = session id + "\\n"
  POST /idle/<sid>/<seq>      -> 200, body = interval byte + queued server bytes
  POST /send/<sid>/<seq>      -> body (client RTMP bytes) is written upstream;
                                 200, body = interval byte + queued server bytes
  POST /close/<sid>/<seq>     -> upstream closed; 200, body = interval byte
Idle and close request bodies are filler (ffmpeg sends one 0x00 byte) and are
not relayed.
The interval byte follows the FMS pattern: 0x01 while data flows, then 0x03,
0x05, 0x09, 0x11, 0x21 on consecutive empty replies.

Usage: rtmpt_bridge.py --listen 127.0.0.1:14080 --upstream 127.0.0.1:14081
       [--chunked] [--max-reply BYTES] [--log FILE]
--chunked answers with Transfer-Encoding: chunked instead of Content-Length.
The log lists every request (kind, sid, seq, body bytes, reply bytes): ground
truth for the tunnel facts.
"""
import argparse
import random
import socket
import socketserver
import sys
import threading
import time

INTERVALS = [0x01, 0x03, 0x05, 0x09, 0x11, 0x21]
MAX_HEAD = 16384
MAX_BODY = 16 << 20


class Tunnel:
    def __init__(self, sid, upstream):
        self.sid = sid
        self.up = socket.create_connection(upstream, timeout=10)
        self.up.settimeout(None)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.empty = 0
        self.eof = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        try:
            while True:
                d = self.up.recv(65536)
                if not d:
                    break
                with self.lock:
                    self.buf += d
        except OSError:
            pass
        self.eof = True

    def send(self, data):
        if data:
            self.up.sendall(data)

    def take(self, limit, wait):
        """Server bytes queued so far (waiting up to `wait` s for the first)."""
        deadline = time.monotonic() + wait
        while True:
            with self.lock:
                if self.buf or time.monotonic() >= deadline or self.eof:
                    d = bytes(self.buf[:limit])
                    del self.buf[:limit]
                    break
            time.sleep(0.002)
        if d:
            self.empty = 0
        else:
            self.empty = min(self.empty + 1, len(INTERVALS) - 1)
        return bytes([INTERVALS[self.empty]]) + d

    def close(self):
        try:
            self.up.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.up.close()


class State:
    def __init__(self, args):
        self.args = args
        self.tunnels = {}
        self.lock = threading.Lock()
        self.logf = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def log(self, line):
        self.logf.write(line + "\n")


def read_request(rfile):
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        c = rfile.readline(MAX_HEAD)
        if not c:
            return None
        if head == b"" and c in (b"\r\n", b"\n"):
            continue
        head += c
        if len(head) > MAX_HEAD:
            return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0") or 0)
    if n < 0 or n > MAX_BODY:
        return None
    body = rfile.read(n) if n else b""
    if len(body) != n:
        return None
    return method, target, headers, body


class Handler(socketserver.StreamRequestHandler):
    def reply(self, status, body, ctype="application/x-fcs"):
        st = self.server.state
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        head = [f"HTTP/1.1 {status} {reason}", "Cache-Control: no-cache",
                "Connection: Keep-Alive", f"Content-Type: {ctype}",
                "Server: rtmpscope-rtmpt-bridge/1.0"]
        if st.args.chunked and body:
            head.append("Transfer-Encoding: chunked")
            # Two chunks when the body allows it, so readers see chunk framing.
            parts = [body[:1], body[1:]] if len(body) > 1 else [body]
            payload = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(body)}")
            payload = body
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        self.wfile.flush()

    def handle(self):
        st = self.server.state
        while True:
            try:
                req = read_request(self.rfile)
            except (OSError, ValueError):
                return
            if req is None:
                return
            method, target, _headers, body = req
            parts = target.strip("/").split("/")
            kind = parts[0] if parts else ""
            if target == "/fcs/ident2":
                st.log(f"ident2 body={len(body)} status=404")
                self.reply(404, b"", "text/plain")
                continue
            if kind == "open" and method == "POST":
                sid = "%010d" % random.randrange(10**9, 10**10)
                try:
                    t = Tunnel(sid, st.args.upstream)
                except OSError as e:
                    st.log(f"open upstream failed: {e}")
                    self.reply(404, b"")
                    continue
                with st.lock:
                    st.tunnels[sid] = t
                st.log(f"open sid={sid}")
                self.reply(200, sid.encode() + b"\n")
                continue
            if kind in ("idle", "send", "close") and len(parts) == 3 and method == "POST":
                sid, seq = parts[1], parts[2]
                with st.lock:
                    t = st.tunnels.get(sid)
                if t is None:
                    st.log(f"{kind} sid={sid} seq={seq} unknown sid status=404")
                    self.reply(404, b"")
                    continue
                if kind == "close":
                    t.close()
                    with st.lock:
                        st.tunnels.pop(sid, None)
                    st.log(f"close sid={sid} seq={seq} body={len(body)}")
                    self.reply(200, bytes([0]))
                    continue
                try:
                    # idle (and close) bodies are filler (ffmpeg sends one 0x00
                    # byte): only /send bodies are RTMP.
                    if kind == "send":
                        t.send(body)
                except OSError:
                    pass
                out = t.take(st.args.max_reply, 0.02 if kind == "send" else 0.0)
                st.log(f"{kind} sid={sid} seq={seq} body={len(body)} reply={len(out)} interval={out[0]}")
                self.reply(200, out)
                continue
            st.log(f"other {method} {target} status=404")
            self.reply(404, b"", "text/plain")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def hostport(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=hostport, required=True)
    ap.add_argument("--upstream", type=hostport, required=True)
    ap.add_argument("--chunked", action="store_true")
    ap.add_argument("--max-reply", type=int, default=262144)
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = Server(args.listen, Handler)
    srv.state = State(args)
    print(f"listening on {args.listen[0]}:{args.listen[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
