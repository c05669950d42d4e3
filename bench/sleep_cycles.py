#!/usr/bin/env python3
"""Where the timers row's tail comes from: latency by cycle.

bench/sleep_timers.py reports wrk's p99 over a 10 s run. wrk opens all C
connections at the same instant, so the first request of every connection
arrives in one burst; with a 1 s sleep each client makes ~9 requests in
10 s, and the first one is 11% of the sample: wrk's p99 is the tail of
that start-up burst. This client does what wrk -cC does with
"Connection: close" (C connections each asking again and again for
sleep_app.py?s=1, one request in flight each) and prints the latency
percentiles by the request's index on its connection (cycle 0: the
burst; later cycles: steady state, once the clients have spread out).

  bench/sleep_cycles.py PORT [-c 1000] [--duration 10]

Start the server yourself (e.g. as sleep_timers.py does, pinned to CPU 0)
and run this pinned to CPU 1. It is an asyncio client: its own CPU time
adds to the latencies it measures (more so in cycle 0, when it opens C
connections at once): compare cycles, not absolute figures, with wrk's.
Loopback only.
"""

import argparse
import asyncio
import resource
import time

REQ = b"GET /?s=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


async def client(port, t_end, res):
    k = 0
    while time.monotonic() < t_end:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        ts = time.monotonic()
        w.write(REQ)
        body = await r.read()       # until the server closes
        te = time.monotonic()
        w.close()
        if te < t_end and body.startswith(b"HTTP/1.1 200"):
            res.append((k, te - ts))
        k += 1


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("-c", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=10)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    res = []

    async def run():
        t_end = time.monotonic() + a.duration
        await asyncio.gather(*(client(a.port, t_end, res)
                               for _ in range(a.c)))

    asyncio.run(run())
    if not res:
        raise SystemExit("no response")
    lat = [x for _, x in res]
    print("all       n %5d  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f s"
          % (len(lat), pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat)))
    for k in range(max(i for i, _ in res) + 1):
        v = [x for i, x in res if i == k]
        if v:
            print("cycle %2d  n %5d  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f s"
                  % (k, len(v), pct(v, 50), pct(v, 90), pct(v, 99), max(v)))


if __name__ == "__main__":
    main()
