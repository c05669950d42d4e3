#!/usr/bin/python3
"""Run the same WSGI app under weft and under Debian's uWSGI 2.0.21, on the
same machine in the same run, and print the ratios.

Each server is pinned to CPU 0 and wrk to CPU 1 (taskset), so the two do not
fight for a core. For each scenario it reports requests/s and the server's
CPU time per request (utime+stime of the server process from /proc, over
the requests wrk counted): ratios are weft / uWSGI, so > 1 means weft
serves more per second and < 1 means weft spends less CPU per request.

    bench/compare.py [--duration 10] [--connections 50] [--async 10]
                     [--engine ugreen|greenlet|none] [--app bench/hello.py]

Needs: wrk, uwsgi-core, uwsgi-plugin-python3 (apt-get install wrk
uwsgi-core uwsgi-plugin-python3 uwsgi-plugin-greenlet-python3), and a built
weft (./weft). Loopback only; every run is bounded by --duration.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib import (free_port, measure_args, print_notes,  # noqa: E402
                      require, version)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--async", dest="cores", type=int, default=10)
    ap.add_argument("--engine", default="ugreen",
                    choices=["ugreen", "greenlet", "none"])
    ap.add_argument("--app", default=os.path.join(HERE, "hello.py"))
    ap.add_argument("--weft", default=os.path.join(TOP, "weft"))
    ap.add_argument("--sync-keepalive", action="store_true",
                    help="also compare keep-alive in sync mode (one core), "
                    "where uWSGI's --http11-socket survives")
    args = ap.parse_args()
    require(("wrk", "uwsgi", "taskset"),
            "wrk uwsgi-core uwsgi-plugin-python3")

    eng_w = [] if args.engine == "none" else ["--" + args.engine]
    plug_u = "python3" + ("" if args.engine == "none" else
                          ",ugreen" if args.engine == "ugreen" else
                          ",greenlet_python3")
    common = ["--async", str(args.cores)] + eng_w
    rows = []
    if args.sync_keepalive:
        # uWSGI 2.0.21's --http11-socket dies under --async with wrk
        # (a segfault in the first seconds); its sync mode keeps alive
        pw, pu = free_port(), free_port()
        weft = [args.weft, "--http-socket", "127.0.0.1:%d" % pw,
                "--wsgi-file", args.app, "--disable-logging"]
        uw = ["uwsgi", "--plugin", "python3", "--http11-socket",
              "127.0.0.1:%d" % pu, "--wsgi-file", args.app,
              "--disable-logging", "--need-app"]
        rows.append(("keep-alive, sync", measure_args(weft, pw, args, False),
                     measure_args(uw, pu, args, False)))
    for close in (False, True):
        label = "Connection: close" if close else "keep-alive"
        pw, pu = free_port(), free_port()
        weft = [args.weft, "--http-socket", "127.0.0.1:%d" % pw,
                "--wsgi-file", args.app, "--disable-logging"] + common
        uw = ["uwsgi", "--plugin", plug_u,
              "--http11-socket" if not close else "--http-socket",
              "127.0.0.1:%d" % pu, "--wsgi-file", args.app,
              "--disable-logging", "--need-app"] + common
        w = measure_args(weft, pw, args, close)
        u = measure_args(uw, pu, args, close)
        rows.append((label, w, u))

    print("weft vs uWSGI %s: %s app, --async %d, engine %s, wrk -c%d -d%ds, "
          "server on CPU 0, wrk on CPU 1" % (
              version(["uwsgi", "--version"]),
              os.path.basename(args.app), args.cores, args.engine,
              args.connections, args.duration))
    print("%-18s %12s %12s %8s %12s %12s %8s" % (
        "scenario", "weft req/s", "uwsgi req/s", "ratio",
        "weft us/req", "uwsgi us/req", "ratio"))
    for label, w, u in rows:
        print("%-18s %12.0f %12.0f %8.2f %12.1f %12.1f %8.2f" % (
            label, w["rps"], u["rps"], w["rps"] / u["rps"] if u["rps"] else 0,
            w["us_per_req"], u["us_per_req"],
            w["us_per_req"] / u["us_per_req"] if u["us_per_req"] else 0))
        print_notes((("weft", w), ("uwsgi", u)))


if __name__ == "__main__":
    sys.exit(main())
