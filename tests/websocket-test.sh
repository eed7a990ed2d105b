#!/usr/bin/env bash
# tests/websocket-test.sh - the websocket plugin (plugins/websocket) against a real client,
# Python's websockets library: the handshake and its refusals, echo of text, binary and
# fragmented messages, ping/pong, the close handshake, max_message_size (1009), and, with
# raw frames, what a client must not send (1002, 1007). A graceful stop closes with 1001.
#
# Needs a python3 with websockets (WARREN_WS_PYTHON, which configure finds; Debian:
# python3-websockets); without it the test is skipped (exit status 77). WARREN_BIN,
# WARREN_PLUGIN_DIR, WARREN_SRCDIR and WARREN_TEST_EVENT as for the integration suites.
set -u

src=$(cd "${WARREN_SRCDIR:-.}" && pwd) || exit 1
py=${WARREN_WS_PYTHON:-}
bin=${WARREN_BIN:-$src/build/warren}
plugins=${WARREN_PLUGIN_DIR:-$src/build/plugins}

if [ -z "$py" ] || ! "$py" -c 'import websockets.client' 2>/dev/null; then
	echo "skipped: no python3 with the websockets library (apt-get install python3-websockets)"
	exit 77
fi

exec "$py" - "$bin" "$plugins" "${WARREN_TEST_EVENT:-auto}" <<'PYTHON'
import asyncio
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import websockets
import websockets.client
import websockets.exceptions

warren, plugins, event = sys.argv[1], sys.argv[2], sys.argv[3]
multiplier = max(1, int(os.environ.get("CK_TIMEOUT_MULTIPLIER", "1") or 1))
TIMEOUT = 10 * multiplier
checks = failures = 0


def check(name, ok, detail=""):
    global checks, failures
    checks += 1
    if ok:
        print("PASS  " + name)
    else:
        failures += 1
        print("FAIL  " + name + (": " + detail if detail else ""))


class Server:
    """warren with the websocket plugin on a port the kernel picks."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="warren-ws.")
        self.log = os.path.join(self.dir, "warren.log")
        conf = {
            "listen": ["127.0.0.1:0"],
            "event": event,
            "workers": 1,
            "shutdown_timeout": 30,
            "modules": [{"name": "websocket", "path": plugins + "/websocket.so"}],
            "routes": [
                {"match": {"path": "/echo"}, "handler": "websocket.echo"},
                {"match": {"path": "/small"}, "handler": "websocket.echo",
                 "config": {"max_message_size": 1024}},
            ],
        }
        path = os.path.join(self.dir, "warren.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        rd, wr = os.pipe()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [warren, "-c", path, "--ready-fd", str(wr)], pass_fds=[wr],
                stdout=log, stderr=subprocess.STDOUT)
        os.close(wr)
        self.port = None
        buf = b""
        deadline = time.monotonic() + TIMEOUT
        while b"ready " not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([rd], [], [], left)[0]:
                raise RuntimeError("warren did not start: " + self.read_log())
            chunk = os.read(rd, 4096)
            if not chunk:
                raise RuntimeError("warren exited: " + self.read_log())
            buf += chunk
        os.close(rd)
        for line in buf.decode().splitlines():
            if line.startswith("listen "):
                self.port = int(line.rsplit(":", 1)[1])

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class Conn:
    """A raw client socket and what it read past the last frame."""

    def __init__(self, sock, pending=b""):
        self.sock, self.pending = sock, pending

    def sendall(self, data):
        self.sock.sendall(data)

    def recv(self, n):
        return self.sock.recv(n)

    def close(self):
        self.sock.close()


def raw_handshake(srv, headers=None, first="GET /echo HTTP/1.1"):
    """Sends a handshake; returns (socket, status, head)."""
    h = {"Host": "test", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    h.update(headers or {})
    req = first + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    return Conn(s, rest), status, head.decode("latin1")


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_frame(s):
    """The server's next frame: (opcode, payload), or None at the end of the stream."""
    def need(n):
        while len(s.pending) < n:
            chunk = s.recv(65536)
            if not chunk:
                return False
            s.pending += chunk
        return True
    if not need(2):
        return None
    b0, b1 = s.pending[0], s.pending[1]
    n, at = b1 & 0x7f, 2
    if n == 126:
        need(4)
        n, at = struct.unpack("!H", s.pending[2:4])[0], 4
    elif n == 127:
        need(10)
        n, at = struct.unpack("!Q", s.pending[2:10])[0], 10
    if not need(at + n):
        return None
    payload = s.pending[at:at + n]
    s.pending = s.pending[at + n:]
    return b0 & 0x0f, payload


def expect_close(name, s, code):
    """The server must answer with a close frame carrying @code, then close."""
    try:
        f = read_frame(s)
        while f and f[0] != 0x8:
            f = read_frame(s)
    except OSError as e:
        check(name, False, "no close frame: %s" % e)
        return
    got = struct.unpack("!H", f[1][:2])[0] if f and len(f[1]) >= 2 else None
    check(name, got == code, "close code %r, expected %d" % (got, code))
    s.close()


def handshakes(srv):
    s, status, head = raw_handshake(srv)
    check("handshake: 101 with the RFC 6455 example accept",
          status == 101 and "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
          and "Upgrade: websocket" in head and "Connection: Upgrade" in head, head)
    s.close()
    s, status, head = raw_handshake(srv, {"Sec-WebSocket-Version": "8"})
    check("handshake: another version is 426 naming 13",
          status == 426 and "Sec-WebSocket-Version: 13" in head, head)
    s.close()
    s, status, head = raw_handshake(srv, {"Upgrade": None, "Connection": None,
                                          "Sec-WebSocket-Version": None})
    check("handshake: a plain GET is 426 naming websocket",
          status == 426 and "Upgrade: websocket" in head, head)
    s.close()
    for key in (None, "short", "dGhlIHNhbXBsZSBub25jZQ=x"):
        s, status, head = raw_handshake(srv, {"Sec-WebSocket-Key": key})
        check("handshake: key %r is 400" % key, status == 400, head)
        s.close()
    s, status, head = raw_handshake(srv, {"Connection": "keep-alive"})
    check("handshake: no Connection: Upgrade is 400", status == 400, head)
    s.close()
    s, status, head = raw_handshake(srv, first="GET /echo HTTP/1.0")
    check("handshake: HTTP/1.0 is 400", status == 400, head)
    s.close()
    s, status, head = raw_handshake(srv, first="POST /echo HTTP/1.1")
    check("handshake: POST is 400", status == 400, head)
    s.close()


async def client_checks(srv):
    uri = "ws://127.0.0.1:%d/echo" % srv.port
    # Small client buffers, so that what the kernels hold is far below what is sent unread.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.connect(("127.0.0.1", srv.port))
    async with websockets.client.connect(uri, sock=sock, max_size=None, max_queue=4) as ws:
        await ws.send("héllo, wörld")
        check("echo: text", await ws.recv() == "héllo, wörld")
        data = os.urandom(300000)
        await ws.send(data)
        check("echo: 300 kB binary", await ws.recv() == data)
        await ws.send(["frag", "men", "ted"])
        check("echo: a fragmented message comes back whole", await ws.recv() == "fragmented")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)
        check("ping: answered with the payload", True)
        await ws.send("")
        check("echo: empty text", await ws.recv() == "")
        # Sent without reading: the client stops reading after 4 messages, so the server's
        # writes are refused and it stops reading too, until the client's own sends stall.
        # Then the client reads, and everything comes back in order.
        msgs = [os.urandom(256 * 1024) for _ in range(96)]

        async def send_all():
            for m in msgs:
                await ws.send(m)
        sender = asyncio.ensure_future(send_all())
        deadline = time.monotonic() + TIMEOUT
        while (not sender.done() and ws.transport.get_write_buffer_size() == 0
               and time.monotonic() < deadline):
            await asyncio.sleep(0.01)
        stalled = ws.transport.get_write_buffer_size() > 0
        back = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in msgs]
        await sender
        check("back-pressure: the client's sends stalled while it did not read", stalled)
        check("back-pressure: 24 MB sent unread come back in order", back == msgs)
        await ws.close(code=1000, reason="done")
        check("close: the handshake echoes 1000", ws.close_code == 1000,
              "close code %r" % ws.close_code)
    small = "ws://127.0.0.1:%d/small" % srv.port
    async with websockets.client.connect(small, max_size=None) as ws:
        await ws.send("x" * 1024)
        check("max_message_size: 1024 bytes pass", await ws.recv() == "x" * 1024)
        await ws.send("x" * 1025)
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            check("max_message_size: 1025 bytes close with 1009", False, "echoed")
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            check("max_message_size: 1025 bytes close with 1009", code == 1009,
                  "close code %r" % code)


def protocol_errors(srv):
    cases = [
        ("invalid UTF-8 in text is 1007", [frame(0x1, b"\xc3\x28")], 1007),
        ("invalid UTF-8 across fragments is 1007",
         [frame(0x1, b"ok \xe2\x82", fin=False), frame(0x0, b"(")], 1007),
        ("an unmasked frame is 1002", [frame(0x1, b"hi", mask=False)], 1002),
        ("an RSV bit is 1002", [frame(0x1, b"hi", rsv=0x40)], 1002),
        ("a ping over 125 bytes is 1002", [frame(0x9, b"p" * 126)], 1002),
        ("a fragmented ping is 1002", [frame(0x9, b"p", fin=False)], 1002),
        ("a continuation with nothing begun is 1002", [frame(0x0, b"x")], 1002),
        ("a new message inside a fragmented one is 1002",
         [frame(0x1, b"a", fin=False), frame(0x1, b"b")], 1002),
        ("an unknown opcode is 1002", [frame(0x3, b"x")], 1002),
        ("a close code 1005 is 1002", [frame(0x8, struct.pack("!H", 1005))], 1002),
        ("a close of one byte is 1002", [frame(0x8, b"\x03")], 1002),
        ("a close reason in bad UTF-8 is 1007",
         [frame(0x8, struct.pack("!H", 1000) + b"\xff")], 1007),
        ("a close with 4000 comes back as 4000", [frame(0x8, struct.pack("!H", 4000))], 4000),
    ]
    for name, frames, code in cases:
        s, status, _ = raw_handshake(srv)
        s.sendall(b"".join(frames))
        expect_close(name, s, code)
    # Control frames go on between the fragments of a message.
    s, status, _ = raw_handshake(srv)
    s.sendall(frame(0x1, b"a", fin=False) + frame(0x9, b"p") + frame(0x0, b"b"))
    first, second = read_frame(s), read_frame(s)
    check("a ping between fragments is answered first",
          first == (0xa, b"p") and second == (0x1, b"ab"), "%r %r" % (first, second))
    s.close()
    # Everything in one write, handshake included: the frames behind it are not lost.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
              + frame(0x1, b"early"))
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    s = Conn(s, buf.partition(b"\r\n\r\n")[2])
    check("frames pipelined with the handshake are echoed", read_frame(s) == (0x1, b"early"))
    s.close()


async def stop_check(srv):
    uri = "ws://127.0.0.1:%d/echo" % srv.port
    async with websockets.client.connect(uri) as ws:
        await ws.send("before")
        await ws.recv()
        srv.proc.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            check("graceful stop: closed with 1001", False, "a message came")
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            check("graceful stop: closed with 1001", code == 1001, "close code %r" % code)


srv = Server()
try:
    handshakes(srv)
    asyncio.run(client_checks(srv))
    protocol_errors(srv)
    asyncio.run(stop_check(srv))
    status = srv.proc.wait(TIMEOUT)
    check("graceful stop: warren exits 0 without waiting out shutdown_timeout", status == 0,
          "exit status %r" % status)
except Exception as e:
    failures += 1
    print("FAIL  %s: %r" % (type(e).__name__, e))
finally:
    if srv.proc.poll() is None:
        srv.stop()
    if failures:
        print(srv.read_log())
    shutil.rmtree(srv.dir, ignore_errors=True)
print("event backend: %s" % event)
print("%d%%: Checks: %d, Failures: %d, Errors: 0"
      % ((checks - failures) * 100 // max(checks, 1), checks, failures))
sys.exit(1 if failures else 0)
PYTHON
