#!/usr/bin/python3
"""weft --gevent against uWSGI --gevent and gunicorn's gevent worker, on the
same machine in the same run.

Two requests of tests/apps/gevent_bench.py: GET / (hello world) and GET
/sleep (gevent.sleep(0.1), then hello world). Each server runs one worker
process with N greenlets/cores, pinned to CPU 0; wrk runs on CPU 1 (the
approach of bench/compare.py, with the helpers in bench/benchlib.py).
Reported per scenario: requests per second, keep-alive (k-a) and
Connection: close, the server's CPU time per request (utime+stime from
/proc over the requests wrk counted), p99 latency and wrk's errors.

    bench/gevent_compare.py [--duration 10] [--cores 100]
                            [--connections-hello 50] [--connections-sleep 100]
                            [--only weft,uwsgi,gunicorn]

Needs wrk, taskset, Debian's uwsgi-core + uwsgi-plugin-python3 +
uwsgi-plugin-gevent-python3, and python3-gunicorn + python3-gevent (run by
/usr/bin/python3), and a built weft (./weft with the gevent plugin).
Loopback only; every run is bounded by --duration.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import benchlib  # noqa: E402  (bench/benchlib.py: ports, wrk, CPU, servers)

APPDIR = os.path.join(TOP, "tests", "apps")
APP = os.path.join(APPDIR, "gevent_bench.py")


def commands(args, port, close):
    n = str(args.cores)
    return {
        "weft": [args.weft, "--http-socket", "127.0.0.1:%d" % port,
                 "--wsgi-file", APP, "--gevent", n, "--disable-logging"],
        # --http11-socket: uWSGI's keep-alive HTTP (as compare.py); under
        # --gevent it dies at once (libev assertion "I/O watcher with
        # invalid fd found in epoll_ctl"): measured anyway, and reported
        "uwsgi": ["uwsgi", "--plugin", "python3,gevent_python3",
                  "--http-socket" if close else "--http11-socket",
                  "127.0.0.1:%d" % port, "--wsgi-file",
                  APP, "--gevent", n, "--disable-logging", "--need-app"],
        "gunicorn": ["/usr/bin/python3", "-m", "gunicorn", "-k", "gevent",
                     "-w", "1", "--worker-connections", n, "-b",
                     "127.0.0.1:%d" % port, "--chdir", APPDIR,
                     "--log-level", "warning", "gevent_bench:application"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--cores", type=int, default=100)
    ap.add_argument("--connections-hello", type=int, default=50)
    ap.add_argument("--connections-sleep", type=int, default=100)
    ap.add_argument("--only", default="weft,uwsgi,gunicorn")
    ap.add_argument("--weft", default=os.path.join(TOP, "weft"))
    args = ap.parse_args()
    benchlib.require(("wrk", "uwsgi", "taskset"),
                     "wrk uwsgi-core uwsgi-plugin-python3 "
                     "uwsgi-plugin-gevent-python3")
    servers = args.only.split(",")
    scenarios = [("hello", "/", args.connections_hello, False),
                 ("hello", "/", args.connections_hello, True),
                 ("sleep 0.1", "/sleep", args.connections_sleep, False),
                 ("sleep 0.1", "/sleep", args.connections_sleep, True)]
    rows = []
    for label, path, conns, close in scenarios:
        label += " close" if close else " k-a"
        for name in servers:
            port = benchlib.free_port()
            cmd = commands(args, port, close)[name]
            try:
                r = benchlib.measure(cmd, port, args.duration, conns, close,
                                     path)
            except SystemExit as e:     # the server did not start
                r = {"rps": 0, "us_per_req": 0, "p99": "?",
                     "errors": str(e)}
            rows.append((label, conns, name, r))
            print("  %-16s %-9s %8.0f req/s" % (label, name, r["rps"]),
                  file=sys.stderr)

    print("weft --gevent %d vs %s --gevent %d vs gunicorn -k gevent "
          "(--worker-connections %d), one worker each, wrk -d%ds, "
          "server on CPU 0, wrk on CPU 1" % (
              args.cores,
              "uWSGI " + benchlib.version(["uwsgi", "--version"]),
              args.cores, args.cores, args.duration))
    print("%-16s %5s %-9s %10s %10s %8s  %s" % (
        "scenario", "conns", "server", "req/s", "us/req", "p99", "errors"))
    for label, conns, name, r in rows:
        print("%-16s %5d %-9s %10.0f %10.1f %8s  %s" % (
            label, conns, name, r["rps"], r["us_per_req"], r["p99"],
            r["errors"].strip() or "-"))


if __name__ == "__main__":
    sys.exit(main())
