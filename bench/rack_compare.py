#!/usr/bin/python3
"""Run the same Rack app under weft, under Debian's uWSGI 2.0.21 (rack_ruby31
plugin) and under Debian's puma, on the same machine in the same run, and
print requests/s, server CPU per request, and the ratios weft/uWSGI and
weft/puma.

The approach of bench/compare.py (helpers in bench/benchlib.py): each server
is pinned to CPU 0 and wrk to CPU 1 (taskset); a 1 s warm-up, then the
measured run; CPU time is utime+stime of the server and its children from
/proc over the requests wrk counted.

Scenarios: keep-alive and Connection: close, for each --engine given:
  none   weft --rack;               uwsgi --rack;               puma
  fiber  weft --async N --fiber;    uwsgi --async N --fiber;    puma
(puma has no such mode: its default thread pool serves both rows.)

    bench/rack_compare.py [--duration 10] [--connections 50] [--async 10]
                          [--engine none,fiber] [--app FILE.ru]
                          [--uwsgi-gc-freq 10000]

The default app is a hello world with a Content-Length (written to a
temporary directory): uWSGI's rack plugin adds no framing of its own, so
without one its --http11-socket keep-alive never ends a response. uWSGI
runs Ruby's GC after every request by default ("GC frequency:
AGGRESSIVE"); the bench gives it --ruby-gc-freq 10000 so that all three
leave the GC to Ruby (--uwsgi-gc-freq 1 measures uWSGI's default).

Needs: wrk, uwsgi-core, uwsgi-plugin-rack-ruby3.1, uwsgi-plugin-fiber, puma
(apt-get install wrk uwsgi-core uwsgi-plugin-rack-ruby3.1
uwsgi-plugin-fiber puma), and a built weft (./weft). Loopback only; every
run is bounded by --duration.
"""

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib import (free_port, measure_args, print_notes,  # noqa: E402
                      require, version)


def commands(args, engine, close):
    """The three servers' command lines and ports for one scenario."""
    pw, pu, pp = free_port(), free_port(), free_port()
    asyn = ["--async", str(args.cores), "--fiber"] if engine == "fiber" else []
    weft = [args.weft, "--http-socket", "127.0.0.1:%d" % pw,
            "--rack", args.app, "--disable-logging"] + asyn
    uw = ["uwsgi", "--plugin", "rack_ruby31" + (",fiber" if asyn else ""),
          "--http-socket" if close else "--http11-socket",
          "127.0.0.1:%d" % pu, "--rack", args.app, "--disable-logging",
          "--need-app", "--ruby-gc-freq", str(args.uwsgi_gc_freq)] + asyn
    puma = ["puma", "-q", "-e", "production", "-t", args.puma_threads,
            "-b", "tcp://127.0.0.1:%d" % pp, args.app]
    return [("weft", weft, pw), ("uwsgi", uw, pu), ("puma", puma, pp)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--async", dest="cores", type=int, default=10)
    ap.add_argument("--engine", default="none,fiber",
                    help="comma-separated: none, fiber")
    ap.add_argument("--puma-threads", default="0:5",
                    help="puma -t MIN:MAX (default: puma's own, 0:5)")
    ap.add_argument("--app", default=None,
                    help="a rackup file (default: a hello world with a "
                         "Content-Length)")
    ap.add_argument("--uwsgi-gc-freq", type=int, default=10000,
                    help="uWSGI --ruby-gc-freq (its default is 1)")
    ap.add_argument("--weft", default=os.path.join(TOP, "weft"))
    args = ap.parse_args()
    require(("wrk", "uwsgi", "puma", "taskset"),
            "wrk uwsgi-core uwsgi-plugin-rack-ruby3.1 uwsgi-plugin-fiber puma")
    tmp = None
    if args.app is None:
        tmp = tempfile.TemporaryDirectory(prefix="weft-bench-")
        args.app = os.path.join(tmp.name, "hello.ru")
        with open(args.app, "w") as f:
            f.write('run lambda { |env| [200, { "Content-Type" => '
                    '"text/plain", "Content-Length" => "11" }, '
                    '["Hello World"]] }\n')
    engines = [e for e in args.engine.split(",") if e]
    rows = []
    for engine in engines:
        if engine not in ("none", "fiber"):
            raise SystemExit("--engine: none or fiber, not %r" % engine)
        for close in (False, True):
            label = "%s %s" % (engine, "close" if close else "keep-alive")
            res = {}
            for name, cmd, port in commands(args, engine, close):
                res[name] = measure_args(cmd, port, args, close)
            rows.append((label, res))

    print("weft vs uWSGI %s (rack_ruby31, --ruby-gc-freq %d) vs %s: %s, "
          "--async %d for fiber rows, puma -t %s, wrk -c%d -d%ds, server on "
          "CPU 0, wrk on CPU 1"
          % (version(["uwsgi", "--version"]), args.uwsgi_gc_freq,
             version(["puma", "--version"]),
             os.path.basename(args.app), args.cores, args.puma_threads,
             args.connections, args.duration))
    print("%-18s %10s %10s %10s %7s %7s %9s %9s %9s" % (
        "scenario", "weft r/s", "uwsgi r/s", "puma r/s", "w/u", "w/p",
        "weft us", "uwsgi us", "puma us"))
    for label, r in rows:
        w, u, p = r["weft"], r["uwsgi"], r["puma"]
        print("%-18s %10.0f %10.0f %10.0f %7.2f %7.2f %9.1f %9.1f %9.1f" % (
            label, w["rps"], u["rps"], p["rps"],
            w["rps"] / u["rps"] if u["rps"] else 0,
            w["rps"] / p["rps"] if p["rps"] else 0,
            w["us_per_req"], u["us_per_req"], p["us_per_req"]))
        print_notes([(name, r[name]) for name in ("weft", "uwsgi", "puma")])
    print("(us = server CPU microseconds per request; r/s ratios > 1: weft "
          "serves more)")


if __name__ == "__main__":
    sys.exit(main())
