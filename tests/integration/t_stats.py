"""The stats server (issue 11): --stats on TCP and UNIX, uWSGI's JSON
shape (every field uwsgitop reads, with its type), weft's per-core states
checked field by field while requests sit in known states (waiting on a
timer, on an fd, reading a body, writing a static file, running), counters
(requests, status classes, exceptions, harakiri, bytes, loop lag),
--stats-http, /metrics and --stats-prometheus through a strict parser of
the Prometheus text format, and the compat corpus's case 10 shape (uwsgi
socket, 3 workers)."""

import json
import os
import re
import signal
import socket
import threading
import time

import weftest
from weftest import Server, app, request, wait_for

D = weftest.scratch_dir()


def raw_stats(addr):
    """What the stats socket sends on connect, until it closes."""
    return weftest.read_stats(addr)


def stats(addr):
    return json.loads(raw_stats(addr).decode())


def http_get(port, path):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode(), body


# What uwsgitop (xrmx/uwsgitop) reads, and the type it needs.
UWSGITOP_TOP = {"version": str, "listen_queue": int, "cwd": str,
                "uid": int, "gid": int, "pid": int, "workers": list}
UWSGITOP_WORKER = {"id": int, "pid": int, "requests": int,
                   "exceptions": int, "status": str, "avg_rt": int,
                   "rss": int, "vsz": int, "tx": int, "respawn_count": int,
                   "harakiri_count": int, "running_time": int,
                   "last_spawn": int, "signals": int, "cores": list}
UWSGITOP_CORE = {"id": int, "requests": int, "in_request": int}
# uWSGI 2.0.21's worker and core keys (Debian's uwsgi --stats)
UWSGI_WORKER = ["id", "pid", "accepting", "requests", "delta_requests",
                "exceptions", "harakiri_count", "signals", "signal_queue",
                "status", "rss", "vsz", "running_time", "last_spawn",
                "respawn_count", "tx", "avg_rt", "apps", "cores"]
UWSGI_CORE = ["id", "requests", "static_requests", "routed_requests",
              "offloaded_requests", "write_errors", "read_errors",
              "in_request", "vars", "req_info"]


def check_types(obj, spec, what):
    for k, t in spec.items():
        assert k in obj, "%s: no %r in %r" % (what, k, sorted(obj))
        assert isinstance(obj[k], t) and not (
            t is int and isinstance(obj[k], bool)), (what, k, obj[k])


def uwsgitop_view(dd):
    """The computations uwsgitop makes on one sample (its main loop, less
    curses): they must not raise."""
    tot = sum(w["requests"] for w in dd["workers"])
    tx = sum(w["tx"] for w in dd["workers"])
    lines = []
    for w in sorted(dd["workers"], key=lambda w: w["requests"],
                    reverse=True):
        lines.append(" %s\t%.1f\t%d\t%d\t%d\t%d\t%d\t%s\t%dms\t%s\t%s\t%s"
                     "\t%s\t%s\t%s\t%s" % (
                         w["id"], 100.0 * w["requests"] / tot if tot else 0,
                         w["pid"], w["requests"], 0, w["exceptions"],
                         w.get("signals", 0), w["status"],
                         w["avg_rt"] / 1000, w["rss"], w["vsz"], w["tx"],
                         w["respawn_count"], w["harakiri_count"],
                         w["running_time"] / 1000,
                         time.strftime("%H:%M:%S",
                                       time.localtime(w["last_spawn"]))))
        for c in w.get("cores", []):
            if c["requests"]:
                lines.append("  :%s\t%s" % (c["id"], "busy" if
                                             c["in_request"] else "idle"))
    return tot, tx, lines


def check_uwsgi_shape(dd, nworkers, cheap=False):
    check_types(dd, UWSGITOP_TOP, "top")
    assert dd["version"].startswith("weft-")
    assert len(dd["workers"]) == nworkers, dd["workers"]
    for w in dd["workers"]:
        check_types(w, UWSGITOP_WORKER, "worker")
        for k in UWSGI_WORKER:
            assert k in w, (k, sorted(w))
        assert w["status"] in (("idle", "busy", "cheap") if cheap
                               else ("idle", "busy")), w["status"]
        for c in w["cores"]:
            check_types(c, UWSGITOP_CORE, "core")
            for k in UWSGI_CORE:
                assert k in c, (k, sorted(c))
    uwsgitop_view(dd)


class Silent(weftest.DelayedTCPServer):
    """Accepts and never answers."""

    def handle(self, c):
        self.done.wait(30)


def stats_server(*args, nproc=1, **kw):
    weftest.require("python", "ugreen")
    port2 = weftest.free_port()
    srv = Server("--wsgi-file", app("stats_app.py"), "--master",
                 "--processes", str(nproc), "--async", "6", "--ugreen",
                 "--stats", "127.0.0.1:%d" % port2, *args, **kw)
    srv.sport = port2
    return srv


def busy_cores(addr, n):
    """Wait until n cores are in a request; the last sample."""
    return wait_for(lambda: (lambda d: d if sum(
        c["in_request"] for w in d["workers"] for c in w["cores"]) >= n
        else None)(stats(addr)), 10)


def test_json_has_uwsgis_shape_and_uwsgitop_reads_it():
    with stats_server(nproc=2) as srv:
        addr = ("127.0.0.1", srv.sport)
        for _ in range(4):
            assert request(srv.port, "GET", "/").status == 200
        dd = settled(addr, 4)
        check_uwsgi_shape(dd, 2)
        tot, tx, lines = uwsgitop_view(dd)
        assert tot == 4, dd["workers"]
        assert tx > 4 * len(b"Hello World")
        assert len(dd["workers"][0]["cores"]) == 6
        assert sorted(w["id"] for w in dd["workers"]) == [1, 2]
        pids = {w["pid"] for w in dd["workers"]}
        assert srv.pid not in pids and len(pids) == 2
        assert dd["pid"] == srv.pid
        for w in dd["workers"]:
            assert w["accepting"] == 1 and w["respawn_count"] == 1
            assert w["rss"] > 0 and w["vsz"] >= w["rss"]
            assert abs(w["last_spawn"] - time.time()) < 120
        assert dd["sockets"][0]["name"] == "127.0.0.1:%d" % srv.port
        assert dd["sockets"][0]["proto"] == "http"
        assert dd["total"]["requests"] == 4
        assert dd["total"]["status_2xx"] == 4


# ------------------------------------------------------ uwsgitop for real

UWSGITOP = os.path.join(weftest.SRCDIR, "tests", "tools", "uwsgitop.py")
CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")


class Screen:
    """Just enough of a terminal (xterm's cursor moves and erases; colours
    and modes ignored) to read what a curses program drew."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.cells = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0

    def feed(self, data):
        i = 0
        while i < len(data):
            ch = data[i]
            if ch == 0x1b:
                m = CSI.match(data, i)
                if m:
                    self.csi(m.group(1).decode(), chr(m.group(2)[0]))
                    i = m.end()
                else:       # ESC ( B, ESC =, ESC >, ESC 7 ...
                    i += 3 if data[i + 1:i + 2] in (b"(", b")") else 2
                continue
            if ch == 0x0d:
                self.x = 0
            elif ch == 0x0a:
                self.y = min(self.y + 1, self.rows - 1)
            elif ch == 0x08:
                self.x = max(self.x - 1, 0)
            elif ch == 0x09:
                self.x = min((self.x // 8 + 1) * 8, self.cols - 1)
            elif ch >= 0x20 and ch != 0x7f:
                if self.x < self.cols:
                    self.cells[self.y][self.x] = chr(ch)
                self.x += 1
            i += 1

    def csi(self, params, final):
        nums = [int(p) if p.isdigit() else 0
                for p in params.lstrip("?").split(";")] if params else []
        n = nums[0] if nums and nums[0] else 1
        if final in "Hf":
            self.y = min(n, self.rows) - 1
            self.x = min(nums[1] if len(nums) > 1 and nums[1] else 1,
                         self.cols) - 1
        elif final in "ABCD":
            dy, dx = {"A": (-n, 0), "B": (n, 0), "C": (0, n),
                      "D": (0, -n)}[final]
            self.y = max(0, min(self.y + dy, self.rows - 1))
            self.x = max(0, min(self.x + dx, self.cols - 1))
        elif final == "G":
            self.x = min(n, self.cols) - 1
        elif final == "d":
            self.y = min(n, self.rows) - 1
        elif final in "KJX":
            mode = nums[0] if nums else 0
            if final == "X":
                cells = [(self.y, k) for k in range(self.x, self.x + n)]
            elif final == "K":
                cells = [(self.y, k) for k in (
                    range(self.x, self.cols) if mode == 0 else
                    range(0, self.x + 1) if mode == 1 else range(self.cols))]
            elif mode == 2:
                cells = [(r, k) for r in range(self.rows)
                         for k in range(self.cols)]
            else:
                cells = [(self.y, k) for k in range(self.x, self.cols)] + \
                    [(r, k) for r in range(self.y + 1, self.rows)
                     for k in range(self.cols)]
            for r, k in cells:
                if k < self.cols:
                    self.cells[r][k] = " "
        elif final not in "mhlrt":
            raise AssertionError("the screen does not know CSI %s%s"
                                 % (params, final))

    def lines(self):
        return ["".join(r).rstrip() for r in self.cells]


def run_uwsgitop(addr, until, keys=b""):
    """Run the real uwsgitop on a pseudo-terminal against addr ("host:port"
    or a path): wait until until(lines of the screen) is true, typing keys
    one at a time once the first screen is drawn; then 'q'. Returns the
    screen's lines and uwsgitop's exit status."""
    import fcntl
    import pty
    import select
    import struct
    import subprocess
    import termios
    rows, cols = 40, 160
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm", LINES=str(rows),
               COLUMNS=str(cols))
    p = subprocess.Popen(["/usr/bin/python3", UWSGITOP, addr], stdin=slave,
                         stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    scr, raw = Screen(rows, cols), b""
    keys_left = list(keys)
    deadline = time.time() + 20
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    d = os.read(master, 65536)
                except OSError:
                    break
                raw += d
                scr.feed(d)
            lines = scr.lines()
            if keys_left and any(l.startswith(" WID") for l in lines):
                os.write(master, bytes([keys_left.pop(0)]))
                continue
            if not keys_left and until(lines):
                break
        os.write(master, b"q")
        rc = p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert b"Traceback" not in raw and b"unable to get" not in raw, raw
    return scr.lines(), rc


def test_uwsgitop_runs_on_weft_stats():
    weftest.require("python", "ugreen")
    with stats_server(nproc=2) as srv:
        addr = ("127.0.0.1", srv.sport)
        # every worker serves one first: uwsgitop lists only the cores that
        # served a request, and a freed core is the next one taken
        n = 0
        while n < 50:
            ws = settled(addr, n)["workers"]
            if len(ws) == 2 and all(w["requests"] for w in ws):
                break
            assert request(srv.port, "GET", "/").status == 200
            n += 1
        s = socket.create_connection(("127.0.0.1", srv.port), 10)
        s.sendall(b"GET /sleep?s=60 HTTP/1.1\r\nHost: x\r\n\r\n")
        dd = busy_cores(addr, 1)
        busy = [w for w in dd["workers"] if w["status"] == "busy"]
        assert len(busy) == 1, dd["workers"]
        core = [c for c in busy[0]["cores"] if c["in_request"]][0]
        # 'a' twice: the cores under their workers (uwsgitop's third view)
        def drawn(ls):
            """The whole view is on the screen (curses draws in pieces)."""
            wids = [l.split()[0] for l in ls if re.match(r" \d+\s", l)]
            cores = [l.split() for l in ls if l.startswith("  :")]
            return len(wids) == 2 and len(cores) >= 2 and all(
                len(c) >= 8 for c in cores)
        lines, rc = run_uwsgitop("127.0.0.1:%d" % srv.sport, drawn, b"aa")
        s.close()
        srv.stop(signal.SIGQUIT)    # the sleep need not end
        assert rc == 0, (rc, lines)
        text = "\n".join(lines)
        assert lines[0].startswith("uwsgi-weft-"), text
        assert " - req: %d - " % n in lines[0], text
        assert "masterpid: %d" % srv.pid in lines[1], text
        rows = {l.split()[0]: l.split() for l in lines
                if re.match(r" \d+\s", l)}
        assert sorted(rows) == sorted(str(w["id"]) for w in dd["workers"]), \
            text
        for w in dd["workers"]:
            row = rows[str(w["id"])]
            # WID % PID REQ RPS EXC SIG STATUS ...
            assert row[2] == str(w["pid"]) and row[3] == str(w["requests"]), \
                (row, w)
            assert row[7] == w["status"], (row, w)
        cores = [l.split() for l in lines if l.startswith("  :")]
        assert [":%d" % core["id"], "busy"] in [[c[0], c[7]]
                                                for c in cores], text


def test_uwsgitop_over_stats_http():
    with stats_server("--stats-http") as srv:
        assert request(srv.port, "GET", "/").status == 200
        assert wait_for(lambda: json.loads(http_get(srv.sport, "/")[1])[
            "total"]["requests"] == 1)
        lines, rc = run_uwsgitop("http://127.0.0.1:%d" % srv.sport,
                                 lambda ls: any(re.match(r" 1\s+100\.0\s",
                                                         l) for l in ls))
        assert rc == 0 and " - req: 1 - " in lines[0], lines


def test_every_key_of_uwsgis_own_stats_is_in_weft_s():
    """Debian's uWSGI 2.0.21 run with --stats: every key it sends (top,
    worker, core, socket) is in weft's JSON with the same JSON type, and
    uwsgitop draws both."""
    import shutil
    import subprocess
    weftest.require("python", "ugreen")
    exe = shutil.which("uwsgi")
    if exe is None or "--wsgi-file" not in subprocess.run(
            [exe, "--plugin", "python3", "--help"], capture_output=True,
            text=True, timeout=30).stdout:
        raise weftest.Skip("uwsgi with its python3 plugin is not installed")
    port, sport = weftest.free_port(), weftest.free_port()
    logf = open(os.path.join(D, "uwsgi-stats.log"), "w")
    proc = subprocess.Popen(
        [exe, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port,
         "--wsgi-file", app("hello.py"), "--master", "--processes", "2",
         "--async", "4", "--stats", "127.0.0.1:%d" % sport,
         "--disable-logging"], stdout=logf, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    try:
        def theirs_up():
            try:
                d = stats(("127.0.0.1", sport))
                return d if len(d["workers"]) == 2 else None
            except (OSError, ValueError):
                return None
        theirs = wait_for(theirs_up, 20)
        assert theirs, "uwsgi --stats did not answer"
        assert request(port, "GET", "/").status == 200
        tlines, rc = run_uwsgitop("127.0.0.1:%d" % sport, lambda ls: len(
            [l for l in ls if re.match(r" \d+\s", l)]) == 2)
        assert rc == 0 and tlines[0].startswith("uwsgi-2.0.21"), tlines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        logf.close()
    with stats_server(nproc=2) as srv:
        assert request(srv.port, "GET", "/").status == 200
        ours = settled(("127.0.0.1", srv.sport), 1)
        olines, rc = run_uwsgitop("127.0.0.1:%d" % srv.sport, lambda ls: len(
            [l for l in ls if re.match(r" \d+\s", l)]) == 2)
        assert rc == 0, olines
    kind = {dict: "object", list: "array", str: "string", int: "number",
            float: "number"}

    def same(t, o, what):
        for k, v in t.items():
            assert k in o, "%s: uWSGI's %r is not in weft's %s" % (
                what, k, sorted(o))
            assert kind[type(v)] == kind[type(o[k])], (what, k, v, o[k])
    same(theirs, ours, "top")
    same(theirs["sockets"][0], ours["sockets"][0], "socket")
    same(theirs["workers"][0], ours["workers"][0], "worker")
    same(theirs["workers"][0]["cores"][0], ours["workers"][0]["cores"][0],
         "core")
    # the same columns on both screens
    assert olines[2] == tlines[2], (olines[2], tlines[2])


def test_stats_minified_and_no_cores():
    with stats_server("--stats-min", "--stats-no-cores",
                      "--stats-no-metrics") as srv:
        addr = ("127.0.0.1", srv.sport)
        assert request(srv.port, "GET", "/").status == 200
        settled(addr, 1)
        raw = raw_stats(addr)
        assert b"\n" not in raw.rstrip(b"\n") and b"\t" not in raw, raw
        dd = json.loads(raw)
        assert all("cores" not in w for w in dd["workers"]), dd
        assert "metrics" not in dd
        assert dd["total"]["requests"] == 1
        lines, rc = run_uwsgitop("127.0.0.1:%d" % srv.sport, lambda ls: any(
            re.match(r" 1\s+100\.0\s", l) for l in ls), b"aa")
        assert rc == 0, lines


def settled(addr, n):
    """The stats once n requests are counted, no core is busy and every
    running worker lists its cores: a response reaches the client just
    before its worker counts it, and a worker forked a moment ago lists
    none until its loop has set up its slot."""
    def ok(d):
        return d if (d["total"]["requests"] >= n and
                     d["total"]["busy_cores"] == 0 and
                     all(w["pid"] == 0 or w.get("cores", [0])
                         for w in d["workers"])) else None
    dd = wait_for(lambda: ok(stats(addr)), 10)
    assert dd, stats(addr)
    return dd


def core_by_uri(dd, uri):
    for w in dd["workers"]:
        for c in w["cores"]:
            if c["in_request"] and c["uri"] == uri:
                return w, c
    raise AssertionError("no core runs %s: %s" % (uri, json.dumps(dd)))


def test_cores_are_seen_in_known_states():
    big = os.path.join(D, "www", "big.bin")
    os.makedirs(os.path.dirname(big), exist_ok=True)
    with open(big, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    with Silent() as peer, stats_server(
            "--static-map", "/s=" + os.path.dirname(big)) as srv:
        addr = ("127.0.0.1", srv.sport)
        socks = []
        # a timer, an fd, a body that does not come, a file to a client
        # that does not read
        for req in (b"GET /sleep?s=5 HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /fd?port=%d&t=5 HTTP/1.1\r\nHost: x\r\n\r\n"
                    % peer.port,
                    b"POST /read HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 100\r\n\r\nabc",
                    b"GET /s/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(req)
            socks.append(s)
        t0 = time.time() * 1000
        dd = busy_cores(addr, 4)
        ok = wait_for(lambda: all(
            core_by_uri(stats(addr), u)[1]["state"] != "running"
            for u in ("/sleep?s=5", "/read", "/s/big.bin",
                      "/fd?port=%d&t=5" % peer.port)), 10)
        dd = stats(addr)
        w, c = core_by_uri(dd, "/sleep?s=5")
        assert w["status"] == "busy" and w["busy_cores"] == 4, w
        assert c["state"] == "waiting timer", c
        assert c["method"] == "GET"
        assert c["req_info"]["request_start"] > 0
        assert 0 <= c["state_ms"] < 60000
        assert abs(c["state_since"] - t0) < 60000
        w, c = core_by_uri(dd, "/fd?port=%d&t=5" % peer.port)
        assert re.match(r"waiting fd \d+ or timer$", c["state"]), c
        w, c = core_by_uri(dd, "/read")
        assert c["state"] == "reading" and c["method"] == "POST", c
        w, c = core_by_uri(dd, "/s/big.bin")
        assert c["state"] == "writing", c
        idle = [c for c in w["cores"] if not c["in_request"]]
        assert len(idle) == 2 and all(c["state"] == "idle" and
                                      c["uri"] == "" for c in idle), idle
        assert ok
        for s in socks:
            s.close()
        peer.done.set()
        # all back to idle, and counted
        dd = wait_for(lambda: (lambda d: d if d["total"]["busy_cores"] == 0
                               and d["total"]["requests"] >= 4 else None)(
                                   stats(addr)), 40)
        assert dd, stats(addr)
        w = dd["workers"][0]
        assert w["static_requests"] == 1
        assert sum(c["static_requests"] for c in w["cores"]) == 1


def test_core_states_under_gevent():
    weftest.require("python", "gevent")
    port2 = weftest.free_port()
    with Silent() as peer, Server(
            "--wsgi-file", app("stats_app.py"), "--master", "--gevent", "4",
            "--stats", "127.0.0.1:%d" % port2) as srv:
        addr = ("127.0.0.1", port2)
        socks = []
        for req in (b"GET /sleep?s=3 HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /fd?port=%d&t=3 HTTP/1.1\r\nHost: x\r\n\r\n"
                    % peer.port,
                    b"POST /read HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 10\r\n\r\nabc"):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(req)
            socks.append(s)
        fd_uri = "/fd?port=%d&t=3" % peer.port
        dd = wait_for(lambda: (lambda d: d if all(
            c["state"] != "running" for w in d["workers"]
            for c in w["cores"] if c["in_request"]) and sum(
                c["in_request"] for w in d["workers"]
                for c in w["cores"]) == 3 else None)(stats(addr)), 10)
        assert dd, stats(addr)
        assert core_by_uri(dd, "/sleep?s=3")[1]["state"] == "waiting timer"
        assert re.match(r"waiting fd \d+ or timer$",
                        core_by_uri(dd, fd_uri)[1]["state"])
        assert core_by_uri(dd, "/read")[1]["state"] == "reading"
        for s in socks:
            s.close()
        peer.done.set()
        settled(addr, 3)


def test_counters_status_classes_exceptions_and_bytes():
    with stats_server() as srv:
        addr = ("127.0.0.1", srv.sport)
        assert request(srv.port, "GET", "/").status == 200
        assert request(srv.port, "GET", "/raise").status == 500
        assert request(srv.port, "GET", "/status?code=404").status == 404
        assert request(srv.port, "GET", "/status?code=302").status == 302
        assert request(srv.port, "GET", "/status?code=503").status == 503
        assert request(srv.port, "POST", "/read", body=b"x" * 1000).body \
            == b"read 1000"
        w = settled(addr, 6)["workers"][0]
        assert w["requests"] == 6
        assert w["exceptions"] == 1
        assert (w["status_2xx"], w["status_3xx"], w["status_4xx"],
                w["status_5xx"]) == (2, 1, 1, 2), w
        assert w["rx"] > 1000 and w["tx"] > 6 * 30
        assert w["apps"][0]["requests"] == 6
        assert w["running_time"] > 0 and w["avg_rt"] > 0
        assert sum(c["requests"] for c in w["cores"]) == 6


def test_harakiri_and_loop_lag_are_counted():
    with stats_server("--harakiri", "1") as srv:
        addr = ("127.0.0.1", srv.sport)
        r = request(srv.port, "GET", "/sleep?s=10")
        assert r.status == 504, r
        assert request(srv.port, "GET", "/burn?ms=400").status == 200
        # a 400 ms busy request held the loop that long (a lower bound),
        # seen once the loop is back to waiting
        w = wait_for(lambda: (lambda w: w if w["busy_cores"] == 0 and
                              w["loop_lag_ms"] >= 200 else None)(
                                  stats(addr)["workers"][0]), 5)
        assert w, stats(addr)["workers"][0]
        assert w["harakiri_count"] == 1, w
        assert w["status_5xx"] == 1 and w["status_2xx"] == 1, w


def test_a_scrape_does_not_wake_an_idle_worker():
    with stats_server() as srv:
        addr = ("127.0.0.1", srv.sport)
        assert request(srv.port, "GET", "/").status == 200
        w = stats(addr)["workers"][0]
        pid = w["pid"]

        def switches():
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        return int(line.split()[1])
        before = switches()
        for _ in range(30):
            stats(addr)
        # the worker slept through the 30 scrapes (its own timers may
        # wake it a few times meanwhile)
        assert switches() - before < 15, (before, switches())


def test_stats_on_a_unix_socket_and_case_10_shape():
    weftest.require("python")
    path = os.path.join(D, "stats.sock")
    srv = Server("--wsgi-file", app("hello.py"), "--master", "--processes",
                 "3", "--stats", path, http=False, uwsgi=True)
    with srv:
        out = srv.uwsgi_request("/")
        assert b"Hello World" in out
        dd = settled(path, 1)
        check_uwsgi_shape(dd, 3)
        assert dd["sockets"][0]["proto"] == "uwsgi"
        assert sum(w["requests"] for w in dd["workers"]) == 1


def test_the_master_restarts_a_dead_stats_server():
    with stats_server() as srv:
        addr = ("127.0.0.1", srv.sport)
        log = srv.expect_log("stats server on ")
        pid = int(re.search(r"stats server on \S+ \(pid (\d+)\)",
                            log).group(1))
        assert stats(addr)["workers"], "the first server answers"
        os.kill(pid, 9)
        log = srv.expect_log("stats server restarted on ", 10)
        assert "stats server (pid %d) killed by signal 9" % pid in log, log
        pid2 = int(re.search(r"stats server restarted on \S+ \(pid "
                             r"(\d+)\)", log).group(1))
        assert pid2 != pid
        assert request(srv.port, "GET", "/").status == 200
        dd = settled(addr, 1)
        check_uwsgi_shape(dd, 1)
        # a stopping master takes it along
        srv.stop()
        assert not os.path.exists("/proc/%d" % pid2) or \
            open("/proc/%d/stat" % pid2).read().split()[2] == "Z"


def test_workers_cheaper_stopped_are_listed_as_cheap():
    # uWSGI lists the workers --cheaper keeps stopped: status "cheap",
    # pid 0 (uwsgitop shows them); weft keeps their worker id
    port2 = weftest.free_port()
    addr = ("127.0.0.1", port2)

    def rows():
        return sorted((w["id"], w["pid"] > 0, w["status"])
                      for w in stats(addr)["workers"])

    with Server("--master", "--processes", "3", "--cheaper", "1",
                "--cheaper-overload", "1", "--stats", "127.0.0.1:%d" % port2,
                testlang=True) as srv:
        srv.expect_log("started 1 of 3 workers")
        want = [(1, True, "idle"), (2, False, "cheap"), (3, False, "cheap")]
        assert wait_for(lambda: rows() == want, 10), rows()
        for w in stats(addr)["workers"]:
            if w["status"] == "cheap":
                assert w["pid"] == 0 and w["accepting"] == 0, w
        check_uwsgi_shape(stats(addr), 3, cheap=True)
        # load starts worker 2: its row is a live one; idle again, it is
        # stopped and listed as cheap again
        out = []
        t = threading.Thread(target=lambda: out.append(
            srv.get("/sleep?ms=4000", timeout=30)))
        t.start()
        srv.expect_log("started worker 2", timeout=30)
        assert wait_for(lambda: [r[:2] for r in rows()][:2] ==
                        [(1, True), (2, True)], 10), rows()
        t.join(30)
        assert out and out[0].status == 200, out
        srv.expect_log(") cheaped", timeout=30)
        assert wait_for(lambda: [r[2] for r in rows()].count("cheap") == 2,
                        30), rows()


def test_a_bad_stats_address_stops_the_start():
    r = weftest.run_weft("--stats", "127.0.0.1:99999", http_socket=True,
                         timeout=30)
    assert r.returncode != 0 and "--stats 127.0.0.1:99999" in r.stderr, \
        r.stderr


# --------------------------------------------------------- Prometheus

METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})?'
    r' (-?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|[+-]Inf))$')


def parse_prometheus(text):
    """A strict parser of the text format 0.0.4: every line is a HELP, a
    TYPE or a sample; every sample's family has HELP and TYPE before it,
    once; counters end in _total; a family's samples are together.
    Returns {name: {"type": t, "samples": [(labels dict, value)]}}."""
    fams = {}
    current = None
    assert text.endswith("\n"), "no final newline"
    for line in text[:-1].split("\n"):
        assert line != "", "empty line"
        if line.startswith("# HELP "):
            name, _, helptext = line[7:].partition(" ")
            assert name not in fams, "HELP twice for " + name
            assert helptext, "empty HELP for " + name
            fams[name] = {"type": None, "samples": []}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, t = line[7:].partition(" ")
            assert name == current and fams[name]["type"] is None, line
            assert t in ("counter", "gauge"), line
            if t == "counter":
                assert name.endswith("_total"), name
            fams[name]["type"] = t
            continue
        assert not line.startswith("#"), "unknown comment: " + line
        m = METRIC_LINE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        assert name == current, "%s outside its family %s" % (name,
                                                               current)
        assert fams[name]["type"] is not None, "no TYPE before " + name
        lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"',
                              labels or ""))
        fams[name]["samples"].append((lab, float(value)))
    return fams


def test_prometheus_over_stats_http_and_stats_prometheus():
    with stats_server("--stats-http", nproc=2) as srv:
        for _ in range(3):
            request(srv.port, "GET", "/")
        request(srv.port, "GET", "/raise")
        wait_for(lambda: b"weft_exceptions_total{worker=\"1\"} 1" in
                 http_get(srv.sport, "/metrics")[1] or
                 b"weft_exceptions_total{worker=\"2\"} 1" in
                 http_get(srv.sport, "/metrics")[1], 10)
        head, body = http_get(srv.sport, "/metrics")
        assert head.startswith("HTTP/1.0 200"), head
        assert "text/plain; version=0.0.4" in head
        fams = parse_prometheus(body.decode())
        req = fams["weft_requests_total"]
        assert req["type"] == "counter"
        assert sorted(l["worker"] for l, _ in req["samples"]) == ["1", "2"]
        assert sum(v for _, v in req["samples"]) == 4
        assert sum(v for _, v in fams["weft_exceptions_total"]["samples"]) \
            == 1
        five = [v for l, v in fams["weft_responses_total"]["samples"]
                if l["class"] == "5xx"]
        assert sum(five) == 1
        assert fams["weft_workers"]["samples"] == [({}, 2.0)]
        for name in ("weft_busy_cores", "weft_loop_lag_seconds",
                     "weft_resident_memory_bytes", "weft_tx_bytes_total"):
            assert name in fams, name
            assert all("worker" in l for l, _ in fams[name]["samples"])
        # the same server gives the JSON on /
        head, body = http_get(srv.sport, "/")
        assert "application/json" in head
        check_uwsgi_shape(json.loads(body), 2)
    with stats_server("--stats-prometheus") as srv:
        head, body = http_get(srv.sport, "/")
        parse_prometheus(body.decode())


def test_the_strict_parser_refuses_bad_exposition():
    for bad in ("x 1\n", "# HELP x h\nx 1\n", "# HELP x h\n# TYPE x counter\n"
                "x 1\n", "# HELP x_total h\n# TYPE x_total counter\n"
                "x_total{w=1} 1\n", "# HELP x h\n# TYPE x gauge\nx 1",
                "# HELP x h\n# TYPE x gauge\nx one\n"):
        try:
            parse_prometheus(bad)
        except AssertionError:
            continue
        raise AssertionError("accepted: %r" % bad)


weftest.main()
