#!/usr/bin/env python3
"""tests/diff/diff_fuzz.py - differential fuzzing of warren's request framing against h11.

Generates and mutates request streams (pipelined requests, Content-Length and chunked
framings, whitespace, bare CR and LF, obs-fold, NUL, high bytes, oversized fields), frames
each with h11 (a strict RFC 9112 parser) and with warren's in-process HTTP layer (the driver
build/tests/diff/frames), and compares: how many requests, their methods, targets, versions,
header fields and body bytes. A sample also goes through a live worker (build/warren, the
echo.json handler), whose answers must match the in-process framing.

A stream fails when warren dispatches a request that the reference does not frame the same
way: h11 rejects it, frames it differently, or would still be waiting for bytes. warren
refusing what h11 accepts is fine (warren is stricter on purpose). The reference is h11 plus
the deliberate differences listed in DELIBERATE below, each with its reason (and in
docs/request-parsing.md).

    diff_fuzz.py [--seed N|random] [--count N | --seconds S] [--live-every N]
    diff_fuzz.py --replay 'ESCAPED STREAM' [--step N]

Prints a Check-style summary line, so tests/run-suites.sh counts it; exits 77 (skipped)
when h11 cannot be imported.
"""

import argparse
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import time

try:
    import h11
    import h11._readers
except ImportError:
    # Debian's python3-h11 is installed for /usr/bin/python3, which may not be the
    # python3 first on PATH: configure finds the one that has it.
    py = os.environ.get("WARREN_PYTHON")
    if py and os.path.realpath(py) != os.path.realpath(sys.executable):
        os.execv(py, [py] + sys.argv)
    print("diff_fuzz: no h11 module (apt-get install python3-h11): skipped")
    sys.exit(77)

SRCDIR = os.environ.get("WARREN_SRCDIR", ".")
DRIVER = os.environ.get("WARREN_DIFF_DRIVER", os.path.join(SRCDIR, "build/tests/diff/frames"))
WARREN = os.environ.get("WARREN_BIN", os.path.join(SRCDIR, "build/warren"))

# Where warren frames a stream on purpose otherwise than h11, and why. The reference
# model applies each, so a stream that differs only through one of them passes.
DELIBERATE = {
    "leading-crlf": "Empty lines (CRLF) before a request line are skipped, as RFC 9112 "
    "section 2.2 says a server SHOULD (clients have sent a CRLF after a POST body); h11 "
    "refuses them. Only CRLF pairs: a lone CR or LF there is 400.",
    "http10-keep-alive": "An HTTP/1.0 request with Connection: keep-alive (and no close) "
    "keeps the connection open, as RFC 9112 section 9.3 allows; h11 always closes after "
    "HTTP/1.0, so it never reads what follows.",
    "chunk-ext-bws": "Whitespace between a chunk size and its ';' is BWS, which RFC 9112 "
    "section 7.1.1 allows and RFC 9110 section 5.6.3 says a recipient must parse and drop; "
    "h11 0.14 refuses it. (warren checks the extensions themselves, which h11 does not.)",
}

# DELIBERATE["chunk-ext-bws"]: h11's chunk-size line with BWS allowed before the ';'.
h11._readers.chunk_header_re = re.compile(rb"(?P<chunk_size>[0-9A-Fa-f]{1,20})(?P<chunk_ext>[ \t]*;.*)?[ \t]*\r\n")

# ---- the reference -------------------------------------------------------------------


def connection_tokens(headers):
    tokens = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


def reference(stream):
    """h11's framing of @stream plus the deliberate differences: (requests, how it ends)."""
    rest, reqs = stream, []
    while True:
        while rest.startswith(b"\r\n"):  # DELIBERATE["leading-crlf"]
            rest = rest[2:]
        if not rest:
            return reqs, "end of stream"
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 24)
        conn.receive_data(rest)
        req, body = None, b""
        try:
            while True:
                ev = conn.next_event()
                if ev is h11.NEED_DATA:
                    return reqs, "waits for more bytes"
                if isinstance(ev, h11.Request):
                    req = ev
                elif isinstance(ev, h11.Data):
                    body += ev.data
                elif isinstance(ev, h11.EndOfMessage):
                    break
        except h11.RemoteProtocolError as e:
            return reqs, "rejects it (%s)" % e
        headers = [list(h) for h in req.headers.raw_items()]
        reqs.append(
            {
                "method": req.method,
                "target": req.target,
                "version": req.http_version,
                "headers": headers,
                "body": body,
            }
        )
        rest = conn.trailing_data[0]
        tokens = connection_tokens(headers)
        if b"close" in tokens:
            return reqs, "closes after it"
        if req.http_version == b"1.0" and b"keep-alive" not in tokens:
            return reqs, "closes after it"  # else DELIBERATE["http10-keep-alive"]


# ---- warren ----------------------------------------------------------------------------


def as_bytes(x):
    if isinstance(x, str):
        return x.encode("latin-1")
    if isinstance(x, list):
        return [as_bytes(v) for v in x]
    return x


class Driver:
    """The in-process framing: one driver process for many streams."""

    def __init__(self):
        self.proc = subprocess.Popen([DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def frame(self, stream, step):
        self.proc.stdin.write(b"%d %d\n" % (step, len(stream)) + stream)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the driver died on stream %s" % escape(stream))
        out = json.loads(line)
        out["requests"] = [{k: as_bytes(v) for k, v in r.items()} for r in out["requests"]]
        return out

    def close(self):
        """The driver's exit status: not 0 when it failed (a sanitizer's report, say)."""
        self.proc.stdin.close()
        return self.proc.wait()


def compare(w, ref):
    """Why warren's framing @w is not the reference's, or None."""
    rreqs, rend = ref
    for i, wr in enumerate(w["requests"]):
        if i >= len(rreqs):
            return "warren dispatched request %d; the reference %s" % (i + 1, rend)
        if wr != rreqs[i]:
            return "request %d framed differently:\n  warren:    %r\n  reference: %r" % (
                i + 1,
                wr,
                rreqs[i],
            )
    if not w["closed"] and len(rreqs) > len(w["requests"]):
        return "warren waits for more bytes where the reference framed request %d" % (
            len(w["requests"]) + 1
        )
    return None


# ---- a live worker ---------------------------------------------------------------------


class Live:
    """build/warren with one worker, every path routed to echo.json."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="warren-diff.")
        conf = os.path.join(self.dir, "warren.json")
        with open(conf, "w") as f:
            json.dump(
                {
                    "listen": ["127.0.0.1:0"],
                    "workers": 1,
                    "http": {"max_header_size": 4096, "max_body_size": 16384},
                    "routes": [{"match": {"path": "/*"}, "handler": "echo.json"}],
                },
                f,
            )
        rfd, wfd = os.pipe()
        self.proc = subprocess.Popen(
            [WARREN, "-c", conf, "--ready-fd", str(wfd)],
            pass_fds=[wfd],
            stderr=subprocess.DEVNULL,
        )
        os.close(wfd)
        ready = b""
        with os.fdopen(rfd, "rb") as r:
            ready = r.read()
        self.port = None
        for line in ready.decode().splitlines():
            if line.startswith("listen "):
                self.port = int(line.rsplit(":", 1)[1])
        if self.port is None:
            self.stop()
            raise RuntimeError("warren did not get ready: %r" % ready)

    def responses(self, stream, expect, deadline_s=10):
        """The (status, body) of each answer to @stream, up to @expect of them or EOF.
        An answer to HEAD has a Content-Length but no body: a response that is followed
        by another, or by the end, at once has none."""
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(stream)
        data, out, deadline = b"", [], time.monotonic() + deadline_s
        heads, eof = list(expect), False
        while len(out) < len(expect):
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                head = data[:end].decode("latin-1").split("\r\n")
                status = int(head[0].split(" ")[1])
                length = 0
                for h in head[1:]:
                    name, _, value = h.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if status == 100:
                    data = data[end + 4 :]
                    continue
                after = data[end + 4 :]
                if (heads and heads[0] == "HEAD" and status == 200) or (
                    len(after) < length and (after.startswith(b"HTTP/1.1 ") or (eof and not after))
                ):
                    length = 0
                if len(data) >= end + 4 + length:
                    out.append((status, data[end + 4 : end + 4 + length]))
                    data = data[end + 4 + length :]
                    heads = heads[1:]
                    continue
            if eof:
                break
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            chunk = s.recv(65536)
            eof = not chunk
            data += chunk
        s.close()
        return out

    def check(self, stream, w):
        """Why the live worker answers @stream otherwise than the in-process framing @w."""
        expect = ["HEAD" if r["method"] == b"HEAD" else "" for r in w["requests"]]
        expect += [""] * (len(w["statuses"]) - len(expect))
        got = self.responses(stream, expect)
        # Which error a garbled head gets can depend on how its bytes arrive (a long
        # method is 501 once its space is in, 400 before; 431 or 400 for an oversized
        # garbled head): an error is compared as an error.
        statuses = [s if s < 400 else "error" for s, _ in got]
        want = [s if s < 400 else "error" for s in w["statuses"] if s != 100]
        if statuses != want:
            return "live statuses %r, in-process %r" % (statuses, want)
        for (status, body), r in zip(got, w["requests"]):
            if r["method"] == b"HEAD":
                continue
            j = json.loads(body)
            seen = {
                "method": j["method"].encode(),
                "target": j["target"].encode(),
                "version": j["version"][5:].encode(),
                "headers": [[n.encode(), v.encode() if v is not None else None] for n, v in j["headers"]],
                "body": j["body"].encode() if "body" in j else bytes.fromhex(j["body_hex"]),
            }
            want_r = dict(r)
            # echo.json sends values that are not UTF-8 as null.
            want_r["headers"] = [[n, v if is_utf8(v) else None] for n, v in r["headers"]]
            if seen != want_r:
                return "live request %r, in-process %r" % (seen, want_r)
        return None

    def stop(self):
        """warren's exit status after a fast stop: 0 unless something went wrong."""
        self.proc.terminate()
        status = self.proc.wait()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)
        return status


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ---- streams ---------------------------------------------------------------------------

METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH"]
TARGETS = [b"/", b"/a", b"/a/b?c=d&e", b"/%41%20", b"/x#frag", b"*", b"http://h.example/p?q"]
NAMES = [b"X-A", b"x-b", b"Accept", b"Cookie", b"Expect", b"Connection", b"Proxy-Connection"]
VALUES = [b"v", b"a b", b"", b"\xc3\xa9", b"\x80\xff", b"100-continue", b"close", b"keep-alive", b"keep-alive, close", b"TE, Keep-Alive"]
# Bytes and pieces that framing bugs are made of.
ATOMS = [
    b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x00", b"\x7f", b"\x80", b"\xff", b":", b",", b";",
    b"0", b"1", b"a", b"\r\n ", b"\r\n\t", b"\n\r", b"\r\r\n", b"\r\n\r\n", b"chunked",
    b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n", b"Host: y\r\n",
    b"GET / HTTP/1.1\r\n",
]


def chunked_body(rnd, body):
    out, pos = b"", 0
    while pos < len(body):
        n = rnd.randint(1, max(1, len(body) - pos))
        size = b"%x" % n
        if rnd.random() < 0.2:
            size = size.upper() if rnd.random() < 0.5 else b"0" + size
        ext = rnd.choice([b"", b"", b";a=b", b";x", b' ;q="s"'])
        out += size + ext + b"\r\n" + body[pos : pos + n] + b"\r\n"
        pos += n
    out += b"0\r\n"
    if rnd.random() < 0.3:
        out += b"Trailer-X: t\r\n"
    return out + b"\r\n"


def request(rnd):
    method = rnd.choice(METHODS)
    version = rnd.choice([b"1.1"] * 6 + [b"1.0"])
    head = [method + b" " + rnd.choice(TARGETS) + b" HTTP/" + version]
    fields = []
    if version == b"1.1" or rnd.random() < 0.5:
        fields.append(b"Host: " + rnd.choice([b"h.example", b"h:8080", b"[::1]"]))
    for _ in range(rnd.randint(0, 3)):
        value = rnd.choice(VALUES)
        ows = rnd.choice([b"", b" ", b"  ", b"\t"])
        fields.append(rnd.choice(NAMES) + b":" + ows + value + rnd.choice([b"", b"", b" "]))
    body = bytes(rnd.choice(b"abc\r\n\x00\xff") for _ in range(rnd.choice([0, 1, 3, 10, 100])))
    framing = rnd.choice(["none", "cl", "cl", "chunked", "chunked", "both", "te-other"])
    if framing in ("cl", "both"):
        fields.append(b"Content-Length: %d" % len(body))
    if framing in ("chunked", "both"):
        fields.append(b"Transfer-Encoding: chunked")
    if framing == "te-other":
        fields.append(b"Transfer-Encoding: " + rnd.choice([b"gzip", b"gzip, chunked", b"identity"]))
    rnd.shuffle(fields)
    msg = b"\r\n".join(head + fields) + b"\r\n\r\n"
    if framing in ("chunked", "both"):
        msg += chunked_body(rnd, body)
    elif framing != "none":
        msg += body
    return msg


def mutate(rnd, s):
    kind = rnd.randrange(9)
    pos = rnd.randrange(len(s) + 1)
    if kind == 0:  # insert a piece
        return s[:pos] + rnd.choice(ATOMS) + s[pos:]
    if kind == 1:  # replace a byte
        return s[:pos] + rnd.choice(ATOMS) + s[pos + 1 :]
    if kind == 2:  # delete a few bytes
        return s[:pos] + s[pos + rnd.randint(1, 4) :]
    if kind == 3:  # one CRLF becomes LF, CR, CR plus a byte, or LF CR
        crlfs = [i for i in range(len(s) - 1) if s[i : i + 2] == b"\r\n"]
        if crlfs:
            i = rnd.choice(crlfs)
            return s[:i] + rnd.choice([b"\n", b"\r", b"\rX", b"\n\r", b"\r\r\n"]) + s[i + 2 :]
    if kind == 4:  # obs-fold: a line continued on the next
        crlfs = [i for i in range(len(s) - 1) if s[i : i + 2] == b"\r\n"]
        if crlfs:
            i = rnd.choice(crlfs)
            return s[: i + 2] + rnd.choice([b" ", b"\t"]) + b"x" + s[i:]
    if kind == 5:  # an oversized field or target
        return s[:pos] + rnd.choice([b"a", b"%", b"\xff"]) * rnd.choice([300, 5000]) + s[pos:]
    if kind == 6:  # whitespace around a colon
        i = s.find(b":", pos)
        if i > 0:
            return s[:i] + rnd.choice([b" ", b"\t", b" :", b": \t"]) + s[i:]
    if kind == 7:  # a digit of a length or chunk size changed
        digits = [i for i, ch in enumerate(s) if chr(ch) in "0123456789abcdef"]
        if digits:
            i = rnd.choice(digits)
            return s[:i] + rnd.choice(b"0123456789abcdefxX+- ").to_bytes(1, "big") + s[i + 1 :]
    if kind == 8:  # a line doubled (two Host, two Content-Length...)
        start = s.rfind(b"\n", 0, pos) + 1
        end = s.find(b"\n", pos)
        if end > start:
            return s[:start] + s[start : end + 1] + s[start:]
    return s[:pos] + rnd.choice(ATOMS) + s[pos:]


def stream(rnd):
    s = b"".join(request(rnd) for _ in range(rnd.choice([1, 1, 2, 2, 3, 4])))
    if rnd.random() < 0.1:
        s = b"\r\n" * rnd.randint(1, 2) + s
    for _ in range(rnd.choice([0, 1, 1, 2, 3])):
        s = mutate(rnd, s)
    step = rnd.choice([1 << 20, 1 << 20, 1, 7, 64])
    return s, step


# ---- running ---------------------------------------------------------------------------


def escape(s):
    """A Python bytes literal body: what --replay takes back."""
    return repr(bytes(s))[2:-1]


def unescape(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def replay(text, step):
    s = unescape(text)
    d = Driver()
    w = d.frame(s, step)
    d.close()
    ref = reference(s)
    print("stream:    %s" % escape(s))
    print("warren:    %r (statuses %r, %s)" % (w["requests"], w["statuses"], "closes" if w["closed"] else "stays open"))
    print("reference: %r, then %s" % ref)
    why = compare(w, ref)
    print("difference: %s" % why if why else "same framing")
    return 1 if why else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", default="1", help="a number, or 'random' (then printed)")
    ap.add_argument("--count", type=int, default=12000)
    ap.add_argument("--seconds", type=float, help="run this long instead of --count streams")
    ap.add_argument("--live-every", type=int, default=50, help="one stream in N also goes to a live worker (0: none)")
    ap.add_argument("--replay", metavar="STREAM", help="one stream, escaped as the failures print it")
    ap.add_argument("--step", type=int, default=1 << 20, help="read size for --replay")
    args = ap.parse_args()
    if args.replay is not None:
        return replay(args.replay, args.step)

    seed = random.SystemRandom().randrange(1 << 32) if args.seed == "random" else int(args.seed)
    print("diff_fuzz: seed %d (replay all with --seed %d)" % (seed, seed), flush=True)
    rnd = random.Random(seed)
    driver = Driver()
    live = Live() if args.live_every else None
    start = time.monotonic()
    n = live_n = accepted = 0
    failures = []
    status = live_status = None
    try:
        while (time.monotonic() - start < args.seconds) if args.seconds else n < args.count:
            s, step = stream(rnd)
            n += 1
            w = driver.frame(s, step)
            accepted += len(w["requests"])
            why = compare(w, reference(s))
            if not why and live and n % args.live_every == 0 and all(r["target"].startswith(b"/") for r in w["requests"]):
                live_n += 1
                why = live.check(s, w)
            if why:
                failures.append(why)
                print("FAIL stream %d: %s\n  replay: %s --replay '%s' --step %d" % (n, why, sys.argv[0], escape(s), step), flush=True)
    finally:
        status = driver.close()
        if live:
            live_status = live.stop()
    if live_status:
        failures.append("warren exited with status %d" % live_status)
        print("FAIL warren exited with status %d after a fast stop" % live_status)
    if status:
        failures.append("the driver exited with status %d" % status)
        print("FAIL the driver exited with status %d (its report is above)" % status)
    print(
        "diff_fuzz: %d streams (%d requests dispatched by warren, %d streams also live) in %.1f s, %d differences"
        % (n, accepted, live_n, time.monotonic() - start, len(failures))
    )
    checks = 1 + (1 if live else 0)
    fails = 1 if failures else 0
    print("%d%%: Checks: %d, Failures: %d, Errors: 0" % ((checks - fails) * 100 // checks, checks, fails))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
