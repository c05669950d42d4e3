#!/usr/bin/env python3
"""`make bench`: the whole comparison in one table.

1. Instructions per keep-alive hello request (bench/callgrind.py: noise-
   free): weft --async 100 --ugreen (logging off and on, epoll and
   libevent), weft --gevent 100, uWSGI 2.0.21 sync --http11-socket, and
   bjoern when BJOERN_PYTHONPATH names a directory holding a bjoern build
   (it is not packaged: build it from its public source for comparison
   only; nothing here downloads it).
2. Wall clock (bench/benchlib.py, server on CPU 0, wrk on CPU 1): weft vs
   each peer that is installed (uWSGI, gunicorn -k gevent, bjoern), A/B
   alternated for --rounds rounds, medians: req/s, server CPU us/req, and
   the capacity 1e6 / (us/req): the req/s the server would make given
   its whole CPU. With nginx installed, nginx `return 200` on the same
   client is the client's ceiling: a server that reaches it is limited
   by wrk, and only the CPU columns compare it with the others.
3. The same for Rack (bench/rack_compare.py: weft --async 10 --fiber vs
   uWSGI's rack plugin and puma) when puma is installed.
4. Bytes per sleeping request (bench/sleepmem.py) unless --no-memory.

Ratios are weft / peer. On a shared machine trust (1) and the CPU column
of (2); req/s moves with whatever else runs.
"""

import argparse
import atexit
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, measure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
APP = os.path.join(HERE, "hello.py")
BJOERN_RUN = ("import sys; sys.path.insert(0, %r); import bjoern, runpy; "
              "app = runpy.run_path(%r)['application']; "
              "bjoern.run(app, '127.0.0.1', int(sys.argv[1]))")


def callgrind(label, args, n):
    out = subprocess.run([sys.executable, os.path.join(HERE, "callgrind.py"),
                          "-n", str(n)] + args, capture_output=True,
                         text=True).stdout
    m = re.search(r"(\d+) instructions per request", out)
    return label, int(m.group(1)) if m else None


NGINX_CONF = """worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:%(port)d;
           location / { return 200 "Hello World"; } }
}
"""


def nginx_cmd(port):
    """nginx returning "Hello World" on port, from a config in a new
    temporary directory (the client's ceiling: no app behind it)."""
    d = tempfile.mkdtemp(prefix="weft-bench-nginx-")
    atexit.register(shutil.rmtree, d, True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"dir": d, "port": port})
    return ["nginx", "-c", conf, "-p", d]


def servers(bjoern_path):
    """(name, command maker) of weft and every installed peer."""
    weft = os.path.join(TOP, "weft")
    out = [("weft ugreen", lambda p: [
        weft, "--http-socket", "127.0.0.1:%d" % p, "--wsgi-file", APP,
        "--disable-logging", "--async", "100", "--ugreen"]),
           ("weft libevent", lambda p: [
        weft, "--http-socket", "127.0.0.1:%d" % p, "--wsgi-file", APP,
        "--disable-logging", "--async", "100", "--ugreen", "--io-engine",
        "libevent"]),
           ("weft gevent", lambda p: [
        weft, "--http-socket", "127.0.0.1:%d" % p, "--wsgi-file", APP,
        "--disable-logging", "--gevent", "100"])]
    if shutil.which("uwsgi"):
        out.append(("uWSGI sync http11", lambda p: [
            "uwsgi", "--plugin", "python3", "--http11-socket",
            "127.0.0.1:%d" % p, "--wsgi-file", APP, "--disable-logging",
            "--need-app"]))
    if shutil.which("gunicorn"):
        out.append(("gunicorn gevent", lambda p: [
            "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:%d" % p,
            "--chdir", HERE, "hello:application"]))
    if bjoern_path:
        out.append(("bjoern", lambda p: [
            sys.executable, "-c", BJOERN_RUN % (bjoern_path, APP), str(p)]))
    if shutil.which("nginx"):
        out.append(("nginx return 200", nginx_cmd))
    return out


def instructions(a, bj):
    """(1): instructions per keep-alive hello of each server."""
    print("== instructions per keep-alive hello request (callgrind, %d "
          "requests minus 1)" % a.n)
    rows = [callgrind("weft --async 100 --ugreen", [], a.n),
            callgrind("weft ugreen, logging on", ["--logging"], a.n),
            callgrind("weft ugreen, libevent", ["--", "--async", "100",
                                                "--ugreen", "--io-engine",
                                                "libevent"], a.n),
            callgrind("weft --gevent 100", ["--", "--gevent", "100"], a.n)]
    if shutil.which("uwsgi"):
        rows.append(callgrind("uWSGI 2.0.21 sync --http11-socket",
                              ["--server", "uwsgi"], a.n))
    if bj:
        rows.append(callgrind("bjoern", ["--server", "cmd", "--",
                                         sys.executable, "-c",
                                         BJOERN_RUN % (bj, APP), "{port}"],
                              a.n))
    for label, ir in rows:
        print("  %-36s %8s" % (label, ir if ir is not None else "failed"))
    print()


def wall_clock(a, bj):
    """(2): the A/B rounds, each printed as it ends (a median hides a
    round that went astray), then the medians."""
    print("== keep-alive hello, wrk -c%d -d%ds, %d rounds A/B, medians"
          % (a.connections, a.duration, a.rounds))
    res = {}
    srv = servers(bj)
    for r in range(a.rounds):
        order = srv if r % 2 == 0 else list(reversed(srv))
        for name, mk in order:
            p = free_port()
            m = measure(mk(p), p, a.duration, a.connections, False)
            res.setdefault(name, []).append(m)
            print("    round %d  %-20s %8.0f req/s %6.1f us/req%s"
                  % (r + 1, name, m["rps"], m["us_per_req"],
                     "  " + m["errors"] if m["errors"] else ""))
            sys.stdout.flush()
    base = srv[0][0]
    brps = statistics.median(m["rps"] for m in res[base])
    bcpu = statistics.median(m["us_per_req"] for m in res[base])
    print("  %-20s %10s %9s %10s %9s %10s %9s" % (
        "server", "req/s", "weft/x", "us/req", "weft/x", "capacity",
        "weft/x"))
    for name, _ in srv:
        rps = statistics.median(m["rps"] for m in res[name])
        cpu = statistics.median(m["us_per_req"] for m in res[name])
        cap = 1e6 / cpu if cpu else 0
        print("  %-20s %10.0f %9.2f %10.1f %9.2f %10.0f %9.2f" % (
            name, rps, brps / rps if rps else 0, cpu,
            bcpu / cpu if cpu else 0, cap,
            (1e6 / bcpu) / cap if cap and bcpu else 0))
    if "nginx return 200" in res:
        ceil = statistics.median(m["rps"] for m in res["nginx return 200"])
        print("    the client's ceiling (nginx return 200): %.0f req/s; a "
              "server near it is limited by wrk: compare it by us/req and "
              "capacity" % ceil)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true",
                    help="skip the instruction counts (the slow part)")
    a = ap.parse_args()
    bj = os.environ.get("BJOERN_PYTHONPATH")
    if not a.no_callgrind:
        instructions(a, bj)
    wall_clock(a, bj)

    if shutil.which("puma"):
        print("\n== Rack hello (bench/rack_compare.py --engine fiber)")
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(HERE,
                                                     "rack_compare.py"),
                        "--duration", str(a.duration), "--engine", "fiber"])

    if not a.no_memory:
        print("\n== bytes per sleeping request (bench/sleepmem.py)")
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(HERE, "sleepmem.py")])


if __name__ == "__main__":
    main()
