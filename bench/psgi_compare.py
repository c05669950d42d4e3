#!/usr/bin/python3
"""PSGI hello world: weft --psgi vs uWSGI 2.0.21's psgi plugin, A/B rounds
alternated on the same machine, and weft --coroae N (Debian ships no
coroae plugin for uWSGI, so that row has no peer).

The approach of bench/rack_compare.py (helpers in bench/benchlib.py): each
server pinned to CPU 0, wrk to CPU 1, a 1 s warm-up, then the measured run;
CPU is utime+stime of the server from /proc over the requests wrk counted.
On a loaded machine each scenario runs --rounds times as weft, uWSGI,
weft, uWSGI...; the table gives the medians and the median of the
per-round ratios.

    bench/psgi_compare.py [--duration 5] [--connections 50] [--rounds 3]
                          [--coroae 10]

Needs: wrk, uwsgi-core, uwsgi-plugin-psgi, libcoro-perl,
libanyevent-perl, and a built weft (./weft). Loopback only.
"""

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib import free_port, measure_args, require, version  # noqa: E402

APP = ("my $app = sub { [200, ['Content-Type' => 'text/plain', "
       "'Content-Length' => 11], ['Hello World']] };\n$app;\n")


def commands(args, close, coroae):
    pw, pu = free_port(), free_port()
    # --max-conns: weft's default for one core (2 x cores + 32 = 34) is
    # below wrk's 50 connections, and the core would close idle keep-alive
    # ones to make room (wrk's read errors); uWSGI has no such limit
    weft = [args.weft, "--http-socket", "127.0.0.1:%d" % pw, "--psgi",
            args.app, "--disable-logging", "--max-conns",
            str(2 * args.connections)]
    if coroae:
        weft += ["--coroae", str(args.coroae)]
    uw = ["uwsgi", "--plugin", "psgi",
          "--http-socket" if close else "--http11-socket",
          "127.0.0.1:%d" % pu, "--psgi", args.app, "--disable-logging",
          "--need-app"]
    return ("weft", weft, pw), ("uwsgi", uw, pu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--coroae", type=int, default=10)
    ap.add_argument("--weft", default=os.path.join(TOP, "weft"))
    args = ap.parse_args()
    require(("wrk", "uwsgi", "taskset"), "wrk uwsgi-core uwsgi-plugin-psgi")
    tmp = tempfile.TemporaryDirectory(prefix="weft-bench-")
    args.app = os.path.join(tmp.name, "hello.psgi")
    with open(args.app, "w") as f:
        f.write(APP)
    print("weft vs %s (psgi plugin): wrk -c%d -d%ds, %d alternated rounds, "
          "server on CPU 0, wrk on CPU 1" % (
              version(["uwsgi", "--version"]), args.connections,
              args.duration, args.rounds))
    print("%-22s %9s %9s %6s %8s %8s %6s" % (
        "scenario", "weft r/s", "uwsgi r/s", "w/u", "weft us", "uwsgi us",
        "w/u"))
    for label, close, coroae in (("sync keep-alive", False, False),
                                 ("sync close", True, False),
                                 ("coroae keep-alive", False, True),
                                 ("coroae close", True, True)):
        rows = {"weft": [], "uwsgi": []}
        for _ in range(args.rounds):
            for name, cmd, port in commands(args, close, coroae):
                if coroae and name == "uwsgi":
                    continue
                rows[name].append(measure_args(cmd, port, args, close))
        w = rows["weft"]
        u = rows["uwsgi"]
        wr = statistics.median(r["rps"] for r in w)
        wu = statistics.median(r["us_per_req"] for r in w)
        if u:
            ur = statistics.median(r["rps"] for r in u)
            uu = statistics.median(r["us_per_req"] for r in u)
            rr = statistics.median(a["rps"] / b["rps"] for a, b in zip(w, u)
                                   if b["rps"])
            cr = statistics.median(a["us_per_req"] / b["us_per_req"]
                                   for a, b in zip(w, u) if b["us_per_req"])
            print("%-22s %9.0f %9.0f %6.2f %8.1f %8.1f %6.2f" % (
                label, wr, ur, rr, wu, uu, cr))
        else:
            print("%-22s %9.0f %9s %6s %8.1f %8s %6s" % (
                label, wr, "-", "-", wu, "-", "-"))
        for name in ("weft", "uwsgi"):
            errs = {r["errors"].strip() for r in rows[name]} - {""}
            if errs:
                print("    %s: %s" % (name, "; ".join(sorted(errs))))
    print("(us = server CPU microseconds per request; w/u r/s > 1 and "
          "CPU < 1: weft better; medians of per-round ratios)")


if __name__ == "__main__":
    main()
