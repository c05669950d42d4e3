#!/usr/bin/env python3
"""Issue 13's timers row: C clients (default 1000) each asking, again and
again, for a request that sleeps 1 s in a generator (bench/sleep_app.py:
uwsgi.async_sleep(1) then yield, the same call under weft and uWSGI).
With exact timers a client makes one request a second: the ideal is C
req/s at a p99 latency of 1.00 s; what differs is the latency above 1 s
and the CPU spent per request.

weft --async C+100 --ugreen vs uWSGI 2.0.21 --async C+100 --ugreen, each
pinned to CPU 0, wrk -cC pinned to CPU 1 ("Connection: close": uWSGI's
--http-socket has no keep-alive), A/B alternated for --rounds rounds,
medians of req/s, p99 and server CPU us/req.

  bench/sleep_timers.py [-c 1000] [--duration 10] [--rounds 3]

Loopback only; needs wrk, taskset, uwsgi-core, uwsgi-plugin-python3.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from benchlib import free_port, measure  # noqa: E402

APP = os.path.join(HERE, "sleep_app.py")


def p99_seconds(s):
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
    for u in sorted(units, key=len, reverse=True):
        if s.endswith(u):
            return float(s[:-len(u)]) * units[u]
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-c", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cores = str(a.c + 100)
    servers = [("weft ugreen", lambda p: [
        os.path.join(TOP, "weft"), "--http-socket", "127.0.0.1:%d" % p,
        "--wsgi-file", APP, "--disable-logging", "--listen", "1024",
        "--async", cores, "--ugreen", "--max-conns", cores])]
    if shutil.which("uwsgi"):
        servers.append(("uWSGI ugreen", lambda p: [
            "uwsgi", "--plugin", "python3,ugreen", "--http-socket",
            "127.0.0.1:%d" % p, "--wsgi-file", APP, "--disable-logging",
            "--listen", "1024", "--need-app", "--async", cores,
            "--ugreen"]))
    res = {}
    for r in range(a.rounds):
        order = servers if r % 2 == 0 else list(reversed(servers))
        for name, mk in order:
            p = free_port()
            m = measure(mk(p), p, a.duration, a.c, True, "/?s=1", "10s")
            res.setdefault(name, []).append(m)
            print("  round %d %-14s %7.0f req/s  p99 %-8s %6.1f us/req "
                  "(user %.1f, sys %.1f) %s"
                  % (r + 1, name, m["rps"], m["p99"], m["us_per_req"],
                     m["user_us_per_req"], m["sys_us_per_req"],
                     m["errors"]))
            sys.stdout.flush()
    print("%d clients x async_sleep(1), wrk -d%ds, %d rounds A/B, medians"
          % (a.c, a.duration, a.rounds))
    print("  %-14s %9s %9s %10s %8s %8s" % ("server", "req/s", "p99 s",
                                            "us/req", "user", "sys"))
    med = {}
    for name, _ in servers:
        ms = res[name]
        med[name] = (statistics.median(m["rps"] for m in ms),
                     statistics.median(p99_seconds(m["p99"]) for m in ms),
                     statistics.median(m["us_per_req"] for m in ms),
                     statistics.median(m["user_us_per_req"] for m in ms),
                     statistics.median(m["sys_us_per_req"] for m in ms))
        print("  %-14s %9.0f %9.3f %10.1f %8.1f %8.1f" % ((name,) + med[name]))
    if len(med) == 2:
        w, u = med["weft ugreen"], med["uWSGI ugreen"]
        print("  CPU/req weft/uWSGI: %.2f (user %.2f, sys %.2f)"
              % (w[2] / u[2] if u[2] else 0, w[3] / u[3] if u[3] else 0,
                 w[4] / u[4] if u[4] else 0))


if __name__ == "__main__":
    main()
