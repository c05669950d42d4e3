#!/usr/bin/python3
"""The engine matrix under load: the same hello-world and sleeping apps on
every weft engine pair {ugreen, greenlet} x {epoll, libevent}, and on
uWSGI's --ugreen and --greenlet modes, on the same machine in the same run.

Reuses bench/compare.py's approach (the helpers in bench/benchlib.py):
each server pinned to CPU 0, wrk pinned to CPU 1 (taskset), a 1 s warm-up,
then a measured run; requests/s from wrk, server CPU time per request from
/proc (utime+stime).
The ratio compares a weft pair with uWSGI on the same suspend engine
(uWSGI always uses epoll on Linux): > 1 means weft serves more per second,
and for us/req < 1 means weft spends less CPU per request.

  hello   bench/hello.py, --async 10, wrk -c 50
  sleep   uwsgi.async_sleep(1) + uwsgi.suspend() then a short body (the
          app is SLEEP_APP below, written to a temporary file: the test
          apps use weft-only calls such as uwsgi.core_id()), --async 500,
          wrk -c 500: the ideal is 500 req/s at 1 s latency; what differs
          is the CPU spent per request. Whole seconds, because uWSGI 2.0
          ignores sub-second async sleeps. Run it for 10 s at least: a
          round of requests takes 1 s.

Both servers listen with a backlog of 1024 (500 clients reconnect at
once in the sleep scenario). Every request is sent with "Connection: close" and the uWSGI side uses
--http-socket: uWSGI 2.0.21's --http11-socket crashes under --async with
wrk's keep-alive load. weft is also measured with keep-alive (hello only),
for reference; that row has no uWSGI counterpart.

    bench/matrix.py [--duration 5] [--weft ./weft] [--skip-uwsgi]

Needs: wrk, taskset, uwsgi-core, uwsgi-plugin-python3,
uwsgi-plugin-greenlet-python3, and a built weft. Loopback only.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402  (bench/benchlib.py: ports, wrk, CPU, servers)

HELLO = os.path.join(HERE, "hello.py")

# Runs unchanged on weft and uWSGI (suspend style: needs a suspend engine).
SLEEP_APP = b'''import uwsgi

BODY = b"slept 1 s"


def application(environ, start_response):
    uwsgi.async_sleep(1)
    uwsgi.suspend()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
'''

SCENARIOS = {
    # name: (app, path, --async, wrk connections, minimum duration)
    "hello": (HELLO, "/", 10, 50, 1),
    "sleep": (None, "/", 500, 500, 10),
}


def measure(cmd, port, path, duration, conns, close):
    """benchlib.measure with wrk --timeout 10s; a server that died under
    load is named at the start of the errors."""
    r = benchlib.measure(cmd, port, duration, conns, close, path, "10s")
    if r["died"] is not None:
        # uWSGI --ugreen on Python 3.11 segfaults when cores that suspended
        # finish in another order (docs/langs/python.md, "Per-core interpreter state"): say so in the table
        r["errors"] = "SERVER DIED (status %s) " % r["died"] + r["errors"]
    return r


def weft_cmd(weft, port, app, cores, io, eng):
    return [weft, "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file",
            app, "--disable-logging", "--async", str(cores), "--io-engine",
            io, "--" + eng, "--listen", "1024"]


def uwsgi_cmd(port, app, cores, eng):
    plugin = "python3," + ("ugreen" if eng == "ugreen" else
                           "greenlet_python3")
    return ["uwsgi", "--plugin", plugin, "--http-socket",
            "127.0.0.1:%d" % port, "--wsgi-file", app, "--disable-logging",
            "--need-app", "--async", str(cores), "--" + eng, "--listen",
            "1024"]


def built(weft):
    out = subprocess.run([weft, "--list-plugins"], capture_output=True,
                         text=True).stdout
    return {l.split()[0] for l in out.splitlines()
            if l.startswith("  ") and len(l.split()) >= 3}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--weft", default=os.path.join(TOP, "weft"))
    ap.add_argument("--skip-uwsgi", action="store_true")
    args = ap.parse_args()
    benchlib.require(["wrk", "taskset"] +
                     ([] if args.skip_uwsgi else ["uwsgi"]),
                     "wrk util-linux uwsgi-core uwsgi-plugin-python3 "
                     "uwsgi-plugin-greenlet-python3")
    have = built(args.weft)
    pairs = []
    for eng in ("ugreen", "greenlet"):
        for io in ("epoll", "libevent"):
            if eng in have and io in have and "python" in have:
                pairs.append((eng, io))
            else:
                print("skipped %s/%s: plugin not built" % (io, eng))

    tmp = tempfile.NamedTemporaryFile(prefix="weft-bench-sleep-",
                                      suffix=".py")
    tmp.write(SLEEP_APP)
    tmp.flush()
    rows = []   # (scenario, label, result, uwsgi result or None)
    for scen, (app, path, cores, conns, mind) in SCENARIOS.items():
        app = app or tmp.name
        dur = max(args.duration, mind)
        uw = {}
        if not args.skip_uwsgi:
            for eng in ("ugreen", "greenlet"):
                p = benchlib.free_port()
                uw[eng] = measure(uwsgi_cmd(p, app, cores, eng), p, path,
                                  dur, conns, True)
                rows.append((scen, "uWSGI --%s" % eng, uw[eng], None))
        for eng, io in pairs:
            p = benchlib.free_port()
            r = measure(weft_cmd(args.weft, p, app, cores, io, eng), p,
                        path, dur, conns, True)
            rows.append((scen, "weft %s/%s" % (io, eng), r, uw.get(eng)))
        if scen == "hello":
            for eng, io in pairs:
                p = benchlib.free_port()
                r = measure(weft_cmd(args.weft, p, app, cores, io, eng), p,
                            path, dur, conns, False)
                rows.append(("hello-ka", "weft %s/%s" % (io, eng), r, None))

    ver = "" if args.skip_uwsgi else benchlib.version(["uwsgi", "--version"])
    print("weft engine matrix vs uWSGI %s; wrk -t1, hello -d%ds, sleep "
          "-d%ds; server on CPU 0, wrk on CPU 1; Connection: close except "
          "hello-ka (keep-alive, weft only)" % (
              ver, args.duration, max(args.duration, 10)))
    print("| scenario | server | req/s | ratio | CPU us/req | ratio | p99 "
          "| errors |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for scen, label, r, u in rows:
        rr = "%.2f" % (r["rps"] / u["rps"]) if u and u["rps"] else ""
        ru = ("%.2f" % (r["us_per_req"] / u["us_per_req"])
              if u and u["us_per_req"] else "")
        print("| %s | %s | %.0f | %s | %.1f | %s | %s | %s |" % (
            scen, label, r["rps"], rr, r["us_per_req"], ru, r["p99"],
            r["errors"].strip() or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
