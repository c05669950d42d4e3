#!/usr/bin/env python3
"""Instructions per request, measured with valgrind's callgrind: noise-free
on a loaded machine, unlike wall-clock figures.

The server runs under `valgrind --tool=callgrind` twice: once serving N
keep-alive requests on one connection, once serving 1. The difference of
the two totals, divided by N - 1, is the cost of one request in steady
state (start-up, the first request's imports and the shutdown cancel out).
The client is a plain socket that sends a request and reads the whole
response (by Content-Length) before the next: one request in flight, so
every request takes its own read, write and wait.

  bench/callgrind.py [-n 2000] [-c 1] [--logging] [--annotate] [-- server args]

-c C keeps C connections with one request in flight each (what wrk -cC
does, without its clock): the cost per request when C clients are served
at once (contexts switched between them); the short run then serves one
request on each of the C connections, and the difference is divided by
N - C.

Without server args: weft --async 100 --ugreen, bench/hello.py,
--disable-logging (--logging drops that). --server uwsgi measures
uWSGI's sync --http11-socket on the same app; --server cmd takes the
whole command after `--` (use {port} for the port). --annotate prints the
functions of the N-request run by inclusive cost. Loopback only.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n" \
      b"Accept: */*\r\n\r\n"


def wait_port(port, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited at start-up (status %s)"
                             % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not listen on %d" % port)


def read_response(s, buf):
    """Read one response with a Content-Length; returns the left-over."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("server closed the connection")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if not m:
        raise SystemExit("no Content-Length in %r" % head)
    n = int(m.group(1))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise SystemExit("server closed mid-body")
        rest += d
    return rest[n:]


def client_close(port, n, req):
    """n requests, each on its own connection, read until the server
    closes it (no Content-Length needed)."""
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), 30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        if not got.startswith(b"HTTP/1.1 200") and \
                not got.startswith(b"HTTP/1.0 200"):
            raise SystemExit("not a 200: %r" % got[:80])


def client(port, n, req=REQ):
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    for _ in range(n):
        s.sendall(req)
        buf = read_response(s, buf)
    s.close()


def client_multi(port, n, c, req=REQ):
    """n requests over c connections, one in flight on each."""
    import select
    socks, bufs, left = [], {}, n
    for _ in range(c):
        s = socket.create_connection(("127.0.0.1", port), 30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    busy = {}
    for s in socks:
        if left > 0:
            s.sendall(req)
            busy[s.fileno()] = s
            bufs[s.fileno()] = b""
            left -= 1
    while busy:
        r, _, _ = select.select(list(busy.values()), [], [], 60)
        if not r:
            raise SystemExit("no answer in 60 s")
        for s in r:
            d = s.recv(65536)
            if not d:
                raise SystemExit("server closed a connection")
            b = bufs[s.fileno()] + d
            while True:
                h = b.find(b"\r\n\r\n")
                if h < 0:
                    break
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", b[:h])
                end = h + 4 + int(m.group(1))
                if len(b) < end:
                    break
                b = b[end:]
                if left > 0:
                    s.sendall(req)
                    left -= 1
                else:
                    del busy[s.fileno()]
            bufs[s.fileno()] = b
    for s in socks:
        s.close()


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit("no totals in %s" % path)


def run(cmd_tmpl, n, outdir, tag, children, conns=1, close_req=None,
        req=REQ):
    port = free_port()
    out = os.path.join(outdir, "cg.%s.%%p" % tag)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    if children:
        cmd.append("--trace-children=yes")
    cmd += [a.replace("{port}", str(port)) for a in cmd_tmpl]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=outdir)
    try:
        wait_port(port, proc)
        # the readiness probe above was a connection too: identical in
        # both runs, so it cancels out
        if close_req:
            client_close(port, n, close_req)
        elif conns > 1:
            client_multi(port, n, conns, req)
        else:
            client(port, n, req)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    files = [os.path.join(outdir, f) for f in os.listdir(outdir)
             if f.startswith("cg.%s." % tag)]
    return sum(total_ir(f) for f in files), files


def functions(files, inclusive):
    """{function: Ir} summed over files, from callgrind_annotate."""
    out = {}
    for f in files:
        r = subprocess.run(["callgrind_annotate", "--threshold=100",
                            "--inclusive=" + ("yes" if inclusive else "no"), "--auto=no",
                            f], capture_output=True, text=True).stdout
        for line in r.splitlines():
            if line.lstrip().startswith("=>"):
                continue
            m = re.match(r"\s*([\d,]+) (?:\([^)]*\))?\s+(\S.*)$", line)
            if m and ":" in m.group(2):
                name = re.sub(r" \[.*\]$", "", m.group(2))
                out[name] = out.get(name, 0) + int(m.group(1).replace(",", ""))
    return out


def annotate(big_files, one_files, n):
    """Per-request cost of each function: the N run minus the 1 run."""
    for inclusive in (True, False):
        b, o = functions(big_files, inclusive), functions(one_files,
                                                          inclusive)
        rows = sorted(((b[k] - o.get(k, 0)) / n, k) for k in b)
        print("\n%s instructions per request, by function:"
              % ("inclusive" if inclusive else "self"))
        for per, k in reversed(rows[-int(os.environ.get("CG_ROWS", "45")):]):
            if per >= 20:
                print("%9.0f  %s" % (per, k))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-c", type=int, default=1, dest="conns")
    ap.add_argument("--server", choices=("weft", "uwsgi", "cmd"),
                    default="weft")
    ap.add_argument("--logging", action="store_true")
    ap.add_argument("--annotate", action="store_true")
    ap.add_argument("--keep", metavar="DIR",
                    help="leave the callgrind files in DIR")
    ap.add_argument("--app", default=os.path.join(TOP, "bench", "hello.py"))
    ap.add_argument("--close", action="store_true",
                    help="each request on its own connection, "
                    "Connection: close, read until EOF (-c 1 only)")
    ap.add_argument("--path", default="/")
    ap.add_argument("rest", nargs="*")
    a = ap.parse_args()
    log = [] if a.logging else ["--disable-logging"]
    if a.server == "weft":
        cmd = [os.path.join(TOP, "weft"), "--http-socket", "127.0.0.1:{port}",
               "--wsgi-file", a.app] + log + (a.rest or
                                               ["--async", "100", "--ugreen"])
    elif a.server == "uwsgi":
        cmd = ["uwsgi", "--plugin", "python3", "--http11-socket",
               "127.0.0.1:{port}", "--wsgi-file", a.app, "--need-app"] + \
              log + a.rest
    else:
        cmd = a.rest
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        for f in os.listdir(a.keep):
            if f.startswith("cg."):
                os.unlink(os.path.join(a.keep, f))
    with tempfile.TemporaryDirectory(prefix="weft-cg-") as tmp:
        d = a.keep or tmp
        c = max(1, a.conns)
        req = REQ.replace(b"GET / ", b"GET %s " % a.path.encode())
        close_req = None
        if a.close:
            if c != 1:
                raise SystemExit("--close takes -c 1")
            close_req = req.replace(b"\r\n\r\n",
                                    b"\r\nConnection: close\r\n\r\n")
        kids = a.server == "uwsgi" or (a.server == "cmd" and
                                       "uwsgi" in os.path.basename(cmd[0]))
        big, big_files = run(cmd, a.n, d, "n", kids, c, close_req, req)
        one, one_files = run(cmd, c, d, "one", kids, c, close_req, req)
        per = (big - one) / (a.n - c)
        print("%s: %d instructions per request (%d requests: %d, 1: %d)"
              % (a.server, per, a.n, big, one))
        if a.annotate:
            annotate(big_files, one_files, a.n - c)


if __name__ == "__main__":
    main()
