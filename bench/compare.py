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
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited at start-up (status %s)"
                             % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start listening on %d" % port)


def cpu_of(pid):
    """utime+stime of pid and its live children, in seconds."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total / tck


def wrk(port, duration, conns, close):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns,
           "-d%ds" % duration, "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("http://127.0.0.1:%d/" % port)
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=duration + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {
        "requests": int(m.group(1)) if m else 0,
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": (errs.group(1) if errs else "") +
                  (" non2xx=%s" % non2xx.group(1) if non2xx else ""),
        "p99": (p99.group(1) + p99.group(2)) if p99 else "?",
        "raw": out,
    }


def run_server(cmd, port):
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    time.sleep(0.3)
    return proc


def measure(name, cmd, port, args, close):
    proc = run_server(cmd, port)
    try:
        # a short warm-up, then the measured run
        wrk(port, 1, args.connections, close)
        c0 = cpu_of(proc.pid)
        r = wrk(port, args.duration, args.connections, close)
        c1 = cpu_of(proc.pid)
        crashed = proc.poll() is not None
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    r["cpu"] = c1 - c0
    r["us_per_req"] = (r["cpu"] / r["requests"] * 1e6) if r["requests"] else 0
    if crashed:
        r["errors"] += " (the server died during the run)"
    return r


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
    for tool in ("wrk", "uwsgi", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit("%s not found: apt-get install wrk uwsgi-core "
                             "uwsgi-plugin-python3" % tool)

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
        rows.append(("keep-alive, sync", measure("weft", weft, pw, args,
                                                 False),
                     measure("uwsgi", uw, pu, args, False)))
    for close in (False, True):
        label = "Connection: close" if close else "keep-alive"
        pw, pu = free_port(), free_port()
        weft = [args.weft, "--http-socket", "127.0.0.1:%d" % pw,
                "--wsgi-file", args.app, "--disable-logging"] + common
        uw = ["uwsgi", "--plugin", plug_u,
              "--http11-socket" if not close else "--http-socket",
              "127.0.0.1:%d" % pu, "--wsgi-file", args.app,
              "--disable-logging", "--need-app"] + common
        w = measure("weft", weft, pw, args, close)
        u = measure("uwsgi", uw, pu, args, close)
        rows.append((label, w, u))

    print("weft vs uWSGI %s: %s app, --async %d, engine %s, wrk -c%d -d%ds, "
          "server on CPU 0, wrk on CPU 1" % (
              subprocess.run(["uwsgi", "--version"], capture_output=True,
                             text=True).stdout.strip(),
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
        for name, r in (("weft", w), ("uwsgi", u)):
            if r["errors"]:
                print("    %s: %s" % (name, r["errors"].strip()))
        print("    p99 latency: weft %s, uwsgi %s" % (w["p99"], u["p99"]))


if __name__ == "__main__":
    sys.exit(main())
