"""The engine matrix (issue 3): one suite of Python scenarios, run on every
pair {ugreen, greenlet} x {epoll, libevent}, and on each io engine with no
suspend engine where the scenario applies (generator style only).

  interleave   two cpubound_async.py downloads share the worker chunk by
               chunk: each one's first byte arrives before the other's last
  sleeps       10 concurrent sleeps of 1 s in about 1 s: sleeping_async.py
               (generator) everywhere, sleeping_green.py (uwsgi.suspend())
               with a suspend engine
  fd waits     10 concurrent fdwait_async.py proxies to a local TCP server
               thread that answers after 0.5 s: about 0.5 s in all
  state        depth.py: suspend at different depths, exceptions and
               contextvars per request (t_wsgi_state.py's scenarios), 200
               rounds per combination
  big          a 30 MB response intact (bigbody.py: gen, list, write, file)
  http         HTTP/1.1 keep-alive, pipelining, chunked request bodies (a
               slow one suspends the core reading it, with an engine)
  exit         workers recycle (--max-requests) and stop with suspended
               requests (cancelled after --worker-reload-mercy) and no
               crash (docs/engines/greenlet.md, "Worker exit"); greenlet's RSS stays flat over 20000
               requests

Timing margins are generous (a 2-core machine with other jobs running):
"about 1 s" is 0.9-1.9 s. A combination that cannot run says why.
Run: WEFT_BIN=./weft WEFT_SRCDIR=. /usr/bin/python3 tests/integration/t_matrix.py
"""

import hashlib
import importlib.util
import os
import signal
import socket
import threading
import time

import weftest
from weftest import Reader, Server, app, parallel, request

IOS = ("epoll", "libevent")
SUSPENDS = ("ugreen", "greenlet", None)


# ------------------------------------------------------------ combinations

_announced = set()


def combos(needs_engine=False, why=""):
    """(label, args, engine) for every combination that can run; prints
    the ones skipped and why (once per reason)."""
    weftest.require("python")
    built = weftest.built_plugins()
    out = []
    for io in IOS:
        for eng in SUSPENDS:
            label = "%s/%s" % (io, eng or "none")
            skip = None
            if io not in built:
                skip = "io engine %s not built" % io
            elif eng is not None and eng not in built:
                skip = "suspend engine %s not built" % eng
            elif eng is None and needs_engine:
                skip = why
            if skip:
                key = (label, skip)
                if key not in _announced:
                    _announced.add(key)
                    print("  skip %s: %s" % (label, skip))
                continue
            args = ["--io-engine", io, "--async", "10"]
            if eng:
                args.append("--" + eng)
            out.append((label, args, eng))
    assert out, "no combination can run"
    return out


def serve(appfile, args, *extra):
    return Server("--wsgi-file", app(appfile), "--disable-logging",
                  *(list(args) + list(extra)))


def check_running(srv, label):
    assert srv.proc.poll() is None, "%s: weft exited with %s:\n%s" % (
        label, srv.proc.poll(), srv.log()[-3000:])


# -------------------------------------------------------------- interleave

def timed_download(port, path):
    """GET path on a new connection; returns (body, t_first, t_last) with
    the arrival times of the first and last body byte."""
    s = socket.create_connection(("127.0.0.1", port), 30)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % path).encode())
        buf = bytearray()
        t_first = None
        head_end = -1
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            if head_end < 0:
                head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0 and t_first is None and \
                    len(buf) > head_end + 4:
                t_first = time.monotonic()
        t_last = time.monotonic()
    finally:
        s.close()
    return bytes(buf[head_end + 4:]), t_first, t_last


def dechunk(b):
    out = bytearray()
    i = 0
    while True:
        j = b.index(b"\r\n", i)
        n = int(b[i:j].split(b";")[0], 16)
        if n == 0:
            return bytes(out)
        out += b[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def test_two_generator_downloads_interleave():
    n = 20000
    for label, args, eng in combos():
        with serve("cpubound_async.py", args) as srv:
            res, _ = parallel(lambda i: timed_download(
                srv.port, "/?n=%d" % n), 2)
            spans = []
            cores = set()
            for raw, t_first, t_last in res:
                body = dechunk(raw)
                lines = body.splitlines()
                assert len(lines) == n + 1, (label, len(lines))
                core = {l.split(b" ")[1] for l in lines[:-1]}
                assert len(core) == 1, (label, core)
                assert lines[-1].startswith(b"done core") and \
                    (b"chunks %d " % n) in lines[-1], (label, lines[-1])
                assert lines[n - 1].endswith(b"chunk %d" % (n - 1)), label
                cores |= core
                spans.append((t_first, t_last))
            assert len(cores) == 2, (label, cores)
            # each stream's first byte came before the other's last
            (f0, l0), (f1, l1) = spans
            assert f0 < l1 and f1 < l0, (label, spans)
            check_running(srv, label)


# ------------------------------------------------------------------ sleeps

def ten_sleeps(srv, label, path, check):
    res, dt = parallel(lambda i: srv.get(path), 10)
    for r in res:
        assert r.status == 200 and check(r.body), (label, r)
    cores = {r.body.rsplit(b"core=", 1)[1].strip() for r in res}
    assert len(cores) == 10, (label, cores)
    assert 0.9 < dt < 1.9, (label, path, dt)
    return dt


def test_ten_generator_sleeps_take_about_one_second():
    for label, args, eng in combos():
        with serve("sleeping_async.py", args) as srv:
            dt = ten_sleeps(srv, label, "/?s=1",
                            lambda b: b"timeout=True" in b)
            print("  %-17s 10 x 1 s generator sleeps in %.2fs" % (label, dt))


def test_ten_suspended_sleeps_take_about_one_second():
    for label, args, eng in combos(
            needs_engine=True,
            why="uwsgi.suspend() from plain code needs a suspend engine"):
        with serve("sleeping_green.py", args) as srv:
            dt = ten_sleeps(srv, label, "/?s=1",
                            lambda b: b"suspend=True" in b and
                            b"async_sleep=b''" in b)
            print("  %-17s 10 x 1 s suspended sleeps in %.2fs" % (label, dt))


# ----------------------------------------------------------------- fd waits

class SlowServer(weftest.DelayedTCPServer):
    """A TCP server thread on 127.0.0.1 that reads one line per
    connection, waits `delay` seconds, answers and closes."""

    def handle(self, c):
        got = b""
        while b"\n" not in got:
            d = c.recv(4096)
            if not d:
                return
            got += d
        time.sleep(self.delay)
        c.sendall(b"pong " + got.strip() + b"\n")


def test_ten_fd_waits_take_about_half_a_second():
    slow = SlowServer(0.5)
    try:
        for label, args, eng in combos():
            with serve("fdwait_async.py", args) as srv:
                def one(i):
                    return srv.get("/?addr=127.0.0.1:%d&send=n%d%%0A&t=5"
                                   % (slow.port, i))
                res, dt = parallel(one, 10)
                for i, r in enumerate(res):
                    assert r.status == 200 and \
                        r.body == b"pong n%d\n" % i, (label, i, r)
                assert 0.45 < dt < 1.4, (label, dt)
                print("  %-17s 10 x 0.5 s fd waits in %.2fs" % (label, dt))
                # a refused connection is a clean 500, not a hang
                r = srv.get("/?addr=127.0.0.1:%d&t=2" % weftest.free_port())
                assert r.status == 500 and (b"refused" in r.body or
                                            b"cannot connect" in r.body), (
                    label, r)
    finally:
        slow.close()


# ------------------------------------------------------------------- state

_state = None


def state_suite():
    """tests/integration/t_wsgi_state.py as a module (its scenarios and
    its checks against plain CPython), without running its tests."""
    global _state
    if _state is None:
        main = weftest.main
        weftest.main = lambda: None
        try:
            spec = importlib.util.spec_from_file_location(
                "t_wsgi_state", os.path.join(os.path.dirname(
                    os.path.abspath(__file__)), "t_wsgi_state.py"))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        finally:
            weftest.main = main
        for name in ("DEPTH", "EXC", "CV", "rounds", "hammer", "rss_kb"):
            assert hasattr(mod, name), "t_wsgi_state.py has no %s" % name
        _state = mod
    return _state


def test_state_at_different_depths_exceptions_contextvars_200_rounds():
    st = state_suite()
    scenario = st.DEPTH + st.EXC + st.CV
    for label, args, eng in combos():
        # without an engine only a generator's yield can suspend
        style = "green" if eng else "gen"
        with serve("depth.py", args) as srv:
            dt = st.rounds(srv, scenario, style, 200, 90)
            check_running(srv, label)
            print("  %-17s 200 rounds (%s) in %.1fs" % (label, style, dt))


def test_greenlet_worker_rss_stays_flat_over_twenty_thousand_requests():
    weftest.require("python", "greenlet")
    st = state_suite()
    with serve("depth.py", ["--async", "8", "--greenlet"]) as srv:
        st.hammer(srv, 1000)
        before = st.rss_kb(srv.pid)
        t0 = time.time()
        st.hammer(srv, 19000)
        after = st.rss_kb(srv.pid)
        print("  greenlet: RSS %d KiB after 1000 requests, %d KiB after "
              "20000 (%.1fs)" % (before, after, time.time() - t0))
        # a dead greenlet kept per request is ~300 bytes: 6 MiB here
        assert after <= before + 2048, (before, after)


# ----------------------------------------------- the app's own greenlets

# A request that runs its work in greenlets of its own, which sleep with
# uwsgi.suspend(): the core's greenlet is their parent, and the engine must
# switch back into the one that suspended.
NESTED_APP = """
import greenlet
import uwsgi


def work(name):
    uwsgi.async_sleep(0.5)
    uwsgi.suspend()
    inner = greenlet.greenlet(lambda: name * 2)
    return inner.switch()


def application(environ, start_response):
    me = greenlet.getcurrent()
    a = greenlet.greenlet(work)
    got = a.switch(environ["QUERY_STRING"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s %s %s" % (got.encode(), str(a.dead).encode(),
                           str(greenlet.getcurrent() is me).encode())]
"""


def test_greenlets_the_app_makes_can_suspend_the_request():
    weftest.require("python", "greenlet")
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".py",
                                     prefix="weft-nested-") as f:
        f.write(NESTED_APP)
        f.flush()
        for label, args, eng in combos(needs_engine=True,
                                       why="needs a suspend engine"):
            if eng != "greenlet":
                continue
            with Server("--wsgi-file", f.name, *args) as srv:
                res, dt = parallel(lambda i: srv.get("/?q%d" % i), 10)
                for i, r in enumerate(res):
                    assert r.status == 200 and \
                        r.body == b"q%dq%d True True" % (i, i), (label, r)
                assert 0.45 < dt < 1.4, (label, dt)


# ------------------------------------------------------------- worker exit

def test_workers_recycle_and_stop_cleanly_with_suspended_cores():
    # docs/engines/greenlet.md, "Worker exit": uWSGI's greenlet workers crash in Py_FinalizeEx when
    # they recycle (--max-requests); here a worker is replaced, then
    # stopped with three requests suspended past --worker-reload-mercy
    # (they are cancelled: 503), and nothing dies by a signal
    for label, args, eng in combos(
            needs_engine=True,
            why="the suspended requests need a suspend engine"):
        with serve("sleeping_green.py", args, "--master", "--max-requests",
                   "20", "--worker-reload-mercy", "1") as srv:
            for _ in range(15):
                res, _ = parallel(lambda i: srv.get("/?s=0.02"), 4)
                assert all(r.status == 200 for r in res), (label, res)
            late = []

            def one(i):
                try:
                    late.append(srv.get("/?s=5").status)
                except (OSError, EOFError) as e:
                    late.append(repr(e))
            ts = [threading.Thread(target=one, args=(i,)) for i in range(3)]
            for t in ts:
                t.start()
            time.sleep(0.5)
            t0 = time.time()
            rc = srv.stop(signal.SIGTERM)
            for t in ts:
                t.join(10)
            log = srv.log()
            assert rc == 0, (label, rc, log[-2000:])
            assert late == [503] * 3, (label, late)
            assert time.time() - t0 < 5, (label, time.time() - t0)
            # 60 requests, --max-requests 20: replaced once or twice (the
            # split between an old and a new worker depends on timing)
            assert log.count("ready: 10 cores") >= 2, (label, log[-2000:])
            assert "killed by signal" not in log, (label, log[-2000:])


# --------------------------------------------------------------------- big

CHUNK = bytes(range(256)) * 4096


def md5_download(port, path):
    """GET path; returns (status, headers dict, body length, md5 hex),
    decoding chunked framing as it streams (no 30 MB string copies)."""
    s = socket.create_connection(("127.0.0.1", port), 60)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % path).encode())
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            assert d, "closed in the head"
            buf += d
        i = buf.index(b"\r\n\r\n")
        head = bytes(buf[:i]).decode("latin-1").split("\r\n")
        rest = bytearray(buf[i + 4:])
        status = int(head[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, v in
                (l.split(":", 1) for l in head[1:])}
        md5 = hashlib.md5()
        n = 0
        chunked = hdrs.get("transfer-encoding", "").lower() == "chunked"

        def more():
            d = s.recv(1 << 20)
            if not d:
                raise EOFError("closed after %d body bytes" % n)
            rest.extend(d)

        if not chunked:
            while True:
                md5.update(rest)
                n += len(rest)
                del rest[:]
                try:
                    more()
                except EOFError:
                    break
        else:
            while True:
                while b"\r\n" not in rest:
                    more()
                j = rest.index(b"\r\n")
                size = int(bytes(rest[:j]).split(b";")[0], 16)
                del rest[:j + 2]
                if size == 0:
                    break
                while len(rest) < size + 2:
                    more()
                md5.update(memoryview(rest)[:size])
                n += size
                del rest[:size + 2]
        return status, hdrs, n, md5.hexdigest()
    finally:
        s.close()


def test_thirty_megabyte_responses_arrive_intact():
    want = hashlib.md5(CHUNK * 30).hexdigest()
    for label, args, eng in combos():
        with serve("bigbody.py", args) as srv:
            for mode in ("gen", "list", "write", "file"):
                status, hdrs, n, md5 = md5_download(srv.port,
                                                    "/?mode=" + mode)
                assert status == 200, (label, mode, status)
                assert n == 30 * len(CHUNK) and md5 == want, (
                    label, mode, n, md5)
                if "content-length" in hdrs:
                    assert int(hdrs["content-length"]) == n, (label, mode)
            check_running(srv, label)


# -------------------------------------------------------------------- http

def test_http11_keepalive_pipelining_and_chunked_bodies():
    for label, args, eng in combos():
        with serve("echo.py", args) as srv:
            s = srv.connect()
            rd = Reader(s)
            # keep-alive: three requests, one connection
            for i in range(3):
                body = b"x" * (i * 1000 + 1)
                s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
                r = rd.response()
                assert r.status == 200 and r.body == body, (label, i, r)
            # pipelined, in one write: answered in order
            s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 3\r\n\r\nabc"
                      b"POST /lines HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n"
                      b"4\r\none\n\r\n5\r\ntwo\nt\r\n0\r\n\r\n"
                      b"GET /readn?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            bodies = [rd.response().body for _ in range(3)]
            assert bodies == [b"abc", b"|one\n|two\n|t", b""], (label, bodies)
            assert not rd.eof(0.3), (label, "connection closed")
            s.close()

            # a chunked body that comes slowly: with a suspend engine the
            # core reading it suspends and another request is served
            # meanwhile; without one the read blocks the worker (but the
            # body still arrives whole)
            s = srv.connect()
            s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            time.sleep(0.1)
            if eng:
                t0 = time.time()
                r = request(srv.port, "POST", "/read", body=b"meanwhile")
                assert r.body == b"meanwhile", (label, r)
                assert time.time() - t0 < 0.5, (label, time.time() - t0)
            time.sleep(0.3)
            s.sendall(b"6\r\n world\r\n0\r\n\r\n")
            r = Reader(s).response()
            assert r.status == 200 and r.body == b"hello world", (label, r)
            s.close()
            check_running(srv, label)


weftest.main()
