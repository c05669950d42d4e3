#!/usr/bin/env python3
"""Memory per sleeping request: N clients each asking for a request that
sleeps (bench/sleep_app.py: uwsgi.async_sleep then yield, in a generator),
the server's RSS while they all sleep minus its RSS idle (after one
warm-up request), divided by N.

  bench/sleepmem.py [-n 9000] [--sleep 8] [--servers weft-ugreen,...]

Servers: weft-ugreen, weft-greenlet, weft-gevent, weft-none (no suspend
engine), uwsgi-ugreen, uwsgi-greenlet (Debian's uWSGI 2.0.21 plugins),
each with --async N+1000 (gevent: --gevent N+1000). The clients connect
in batches from this process (its fd limit raised to the hard limit, and
the servers inherit it); RSS is sampled every 50 ms from /proc while the
requests sleep and the peak is kept (for uWSGI: the worker's, i.e. the
process with the largest RSS, master excluded with --master off). The
sleep is longer than the issue's 1 s only so that all N are in at once on a
loaded machine: what a sleeping request holds does not depend on it.
Loopback only; every wait is bounded.
"""

import argparse
import os
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(TOP, "bench", "sleep_app.py")


def rss_kb(pid):
    """VmRSS of pid and its children, KiB."""
    total = 0
    pids = [pid]
    try:
        pids += [int(k) for k in open("/proc/%d/task/%d/children"
                                      % (pid, pid)).read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def command(name, port, cores):
    weft = [os.path.join(TOP, "weft"), "--http-socket", "127.0.0.1:%d" % port,
            "--wsgi-file", APP, "--disable-logging", "--listen", "4096",
            "--max-conns", str(cores)]
    # uWSGI: --plugin before the options the plugin brings
    uw = lambda plug, *extra: ["uwsgi", "--plugin", plug, "--http-socket",
                               "127.0.0.1:%d" % port, "--wsgi-file", APP,
                               "--disable-logging", "--listen", "4096",
                               "--need-app"] + list(extra)
    table = {
        "weft-ugreen": weft + ["--async", str(cores), "--ugreen"],
        "weft-greenlet": weft + ["--async", str(cores), "--greenlet"],
        "weft-gevent": weft + ["--gevent", str(cores)],
        "weft-none": weft + ["--async", str(cores)],
        "uwsgi-ugreen": uw("python3,ugreen", "--async", str(cores),
                           "--ugreen"),
        "uwsgi-greenlet": uw("python3,greenlet_python3", "--async",
                             str(cores), "--greenlet"),
    }
    return table[name]


def one_get(port, path="/?s=0"):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()


def measure(name, n, sleep):
    port = free_port()
    proc = subprocess.Popen(command(name, port, n + 1000),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_port(port, proc, 30)
        one_get(port)
        time.sleep(0.5)
        idle = rss_kb(proc.pid)
        req = b"GET /?s=%g HTTP/1.0\r\n\r\n" % sleep
        t0 = time.time()
        peak = idle
        for i in range(n):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            socks.append(s)
            if i % 200 == 199:
                # let the connections complete, then send their requests
                pend = {x.fileno(): x for x in socks[-200:]}
                pl = select.poll()
                for fd in pend:
                    pl.register(fd, select.POLLOUT)
                deadline = time.time() + 10
                while pend and time.time() < deadline:
                    for fd, _ in pl.poll(1000):
                        try:
                            pend[fd].send(req)
                        except OSError:
                            pass
                        pl.unregister(fd)
                        del pend[fd]
                peak = max(peak, rss_kb(proc.pid))
        for x in socks[len(socks) - len(socks) % 200:]:
            try:
                x.setblocking(True)
                x.settimeout(5)
                x.send(req)
            except OSError:
                pass
        ramp = time.time() - t0
        # sample while they sleep
        end = t0 + sleep - 0.3
        while time.time() < end:
            peak = max(peak, rss_kb(proc.pid))
            time.sleep(0.05)
        # collect the answers (bounded)
        ok = 0
        deadline = time.time() + sleep + 30
        left = {x.fileno(): x for x in socks}
        pl = select.poll()
        for fd in left:
            pl.register(fd, select.POLLIN)
        bufs = {}
        while left and time.time() < deadline:
            for fd, _ in pl.poll(1000):
                x = left[fd]
                try:
                    x.setblocking(False)
                    d = x.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if d:
                    bufs[fd] = bufs.get(fd, b"") + d
                else:
                    if b"Hello World" in bufs.get(fd, b""):
                        ok += 1
                    pl.unregister(fd)
                    del left[fd]
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"idle_kb": idle, "peak_kb": peak, "ok": ok, "ramp": ramp,
            "per_req": (peak - idle) * 1024.0 / n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=9000)
    ap.add_argument("--sleep", type=float, default=8)
    ap.add_argument("--servers", default="weft-ugreen,weft-greenlet,"
                    "weft-gevent,uwsgi-ugreen,uwsgi-greenlet")
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("%-15s %9s %9s %11s %6s %6s" % ("server", "idle MB", "peak MB",
                                          "B/sleeping", "ok", "ramp"))
    for name in a.servers.split(","):
        r = measure(name, a.n, a.sleep)
        print("%-15s %9.1f %9.1f %11.0f %6d %5.1fs" % (
            name, r["idle_kb"] / 1024, r["peak_kb"] / 1024, r["per_req"],
            r["ok"], r["ramp"]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
