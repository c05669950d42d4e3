"""Async WSGI on the python plugin (issue 2, docs/langs/python.md): concurrent
downloads of a generator app, async_sleep in generator and suspend style,
fd waits against a slow TCP server, the uwsgi module's async API, and async
mode without a suspend engine."""

import json
import re
import select
import socket
import time

import weftest
from weftest import Server, app, parallel, write_file


def need_ugreen():
    weftest.require("python", "ugreen")


def engines():
    """(label, args) for async mode with ugreen and without an engine."""
    weftest.require("python")
    out = []
    if "ugreen" in weftest.built_plugins():
        out.append(("ugreen", ["--ugreen"]))
    else:
        print("  (ugreen not built: only async mode without an engine)")
    out.append(("none", []))
    return out


# --------------------------------------------------- concurrent downloads

def two_downloads(srv, n):
    """Two clients download cpubound_async.py ?n=N at once, reading both
    as fast as they can. Returns, per client: the raw response, how many
    bytes the other had when this one got its first byte, and how many the
    other had when this one was complete (EOF), and the order in which
    they completed."""
    socks = [srv.connect(timeout=30) for _ in range(2)]
    req = (b"GET /?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
           % n)
    for s in socks:
        s.sendall(req)
    data = [bytearray(), bytearray()]
    at_first = [None, None]
    at_end = [None, None]
    finished = []
    left = [0, 1]
    deadline = time.time() + 60
    while left:
        assert time.time() < deadline, "downloads took over 60 s"
        ready, _, _ = select.select([socks[i] for i in left], [], [], 5)
        for s in ready:
            i = socks.index(s)
            d = s.recv(65536)
            if not d:
                at_end[i] = len(data[1 - i])
                finished.append(i)
                left.remove(i)
                continue
            if not data[i]:
                at_first[i] = len(data[1 - i])
            data[i] += d
    for s in socks:
        s.close()
    return [bytes(d) for d in data], at_first, at_end, finished


def check_complete(bodies, n):
    """Both responses complete; returns the core of each."""
    cores = []
    for b in bodies:
        assert b.startswith(b"HTTP/1.1 200"), b[:200]
        assert b.endswith(b"\r\n0\r\n\r\n"), b[-200:]
        assert b.count(b" chunk ") == n, b.count(b" chunk ")
        m = re.search(rb"done core (\d+) chunks %d in" % n, b)
        assert m, b[-200:]
        cores.append(int(m.group(1)))
    return cores


def assert_interleaved(data, at_first, at_end, finished, label):
    """Both clients received bytes before either finished."""
    # when the first to finish was complete, the other had bytes too
    assert at_end[finished[0]] > 0, (label, at_first, at_end)
    # and each began before the other was half done (sequential service
    # would show the whole of the other one here)
    for i in (0, 1):
        assert at_first[i] < len(data[1 - i]) // 2, (label, at_first,
                                                      [len(d) for d in data])


N_CPU = 20000


def test_two_cpubound_downloads_interleave_on_ugreen():
    need_ugreen()
    with Server("--wsgi-file", app("cpubound_async.py"), "--async", "10",
                "--ugreen", "--disable-logging") as srv:
        data, at_first, at_end, finished = two_downloads(srv, N_CPU)
        cores = check_complete(data, N_CPU)
        # two cores at once (a finished core would have been reused: LIFO)
        assert cores[0] != cores[1], cores
        assert_interleaved(data, at_first, at_end, finished, "ugreen")


def test_sync_mode_serves_the_second_download_after_the_first():
    weftest.require("python")
    with Server("--wsgi-file", app("cpubound_async.py"),
                "--disable-logging") as srv:
        data, at_first, at_end, _ = two_downloads(srv, N_CPU)
        assert check_complete(data, N_CPU) == [0, 0]
        later = 0 if at_first[0] > at_first[1] else 1
        # the second got its first byte after the first had (nearly) all
        assert at_first[later] >= 0.8 * len(data[1 - later]), (at_first,
                                                               at_end)


def test_async_without_an_engine_warns_and_generator_yields_interleave():
    weftest.require("python")
    with Server("--wsgi-file", app("cpubound_async.py"), "--async", "10",
                "--disable-logging") as srv:
        # the worker says it when it starts, which can be after the
        # socket listens (the master binds it): wait for the line
        log = srv.expect_log("warning: *** async mode without a suspend "
                             "engine")
        assert "--ugreen or --greenlet (Python)" in log, log
        data, at_first, at_end, finished = two_downloads(srv, N_CPU)
        cores = check_complete(data, N_CPU)
        assert cores[0] != cores[1], cores
        assert_interleaved(data, at_first, at_end, finished, "none")
    # with an engine there is no warning
    if "ugreen" in weftest.built_plugins():
        with Server("--wsgi-file", app("hello.py"), "--async", "2",
                    "--ugreen") as srv:
            log = srv.expect_log("ready:")
            assert "without a suspend engine" not in log, log


# ---------------------------------------------------------------- sleeping

def sleepers(appname, args, n, secs):
    with Server("--wsgi-file", app(appname), "--async", "10",
                "--disable-logging", *args) as srv:
        res, dt = parallel(lambda i: srv.get("/?s=%s" % secs), n)
        for r in res:
            assert r.status == 200, (appname, args, r)
        return [r.body for r in res], dt


def test_ten_generator_sleeps_of_one_second_take_about_one_second():
    for label, args in engines():
        bodies, dt = sleepers("sleeping_async.py", args, 10, 1)
        assert 0.9 < dt < 1.9, (label, dt)
        for b in bodies:
            # woken by the timer: environ says so, no fd
            assert b"timeout=True ready_fd=None" in b, (label, b)
            slept = float(re.search(rb"after ([0-9.]+) seconds", b).group(1))
            assert 0.95 < slept < 1.9, (label, b)


def test_twenty_generator_sleeps_on_ten_cores_take_about_two_seconds():
    for label, args in engines():
        bodies, dt = sleepers("sleeping_async.py", args, 20, 1)
        assert 1.9 < dt < 3.2, (label, dt)


def test_ten_suspend_sleeps_of_one_second_take_about_one_second_on_ugreen():
    need_ugreen()
    bodies, dt = sleepers("sleeping_green.py", ["--ugreen"], 10, 1)
    assert 0.9 < dt < 1.9, dt
    for b in bodies:
        assert b"async_sleep=b'' suspend=True ready_fd=-1" in b, b
        slept = float(re.search(rb"slept ([0-9.]+) seconds", b).group(1))
        assert 0.95 < slept < 1.9, b


def test_twenty_suspend_sleeps_on_ten_cores_take_about_two_seconds():
    need_ugreen()
    bodies, dt = sleepers("sleeping_green.py", ["--ugreen"], 20, 1)
    assert 1.9 < dt < 3.2, dt


def test_a_quarter_second_sleep_lasts_a_quarter_second():
    cases = [("sleeping_async.py", args, rb"after ([0-9.]+) seconds")
             for _, args in engines()]
    if "ugreen" in weftest.built_plugins():
        cases.append(("sleeping_green.py", ["--ugreen"],
                      rb"slept ([0-9.]+) seconds"))
    for appname, args, pat in cases:
        with Server("--wsgi-file", app(appname), "--async", "4",
                    *args) as srv:
            for _ in range(2):
                t0 = time.time()
                r = srv.get("/?s=0.25")
                dt = time.time() - t0
                assert r.status == 200, r
                slept = float(re.search(pat, r.body).group(1))
                assert 0.245 < slept < 0.6 and 0.24 < dt < 0.8, \
                    (appname, args, slept, dt, r.body)


def test_suspend_without_an_engine_waits_in_place():
    # issue 9: without a suspend engine, async_sleep(1) then suspend() in a
    # plain (non-generator) app used to return at once; the wait must
    # happen in place (the worker blocks for it), never be skipped
    weftest.require("python")
    for args in ([], ["--async", "4"]):
        with Server("--wsgi-file", app("sleeping_green.py"), *args) as srv:
            t0 = time.time()
            r = srv.get("/?s=1")
            dt = time.time() - t0
            assert r.status == 200, r
            assert b"async_sleep=b'' suspend=True" in r.body, r.body
            slept = float(re.search(rb"slept ([0-9.]+)", r.body).group(1))
            assert slept >= 1.0 and dt >= 1.0, (args, slept, dt, r.body)
            # the timer fired: ready_fd says no fd woke it
            assert b"ready_fd=-1" in r.body, r.body
            r = srv.get("/?s=0")
            assert r.status == 200, r


def test_suspend_without_an_engine_wakes_on_a_ready_fd():
    # the in-place wait of a wait_fd_read() + suspend(): ready_fd() names
    # the fd that woke it (uwsgi_api.py: a pipe readable at once)
    weftest.require("python")
    with Server("--wsgi-file", app("uwsgi_api.py"), "--async", "2") as srv:
        r = json.loads(srv.get("/").body)
        assert r["suspend_ret"] is True, r
        assert r["pipe_fd_is_ready"] is True, r


# ------------------------------------------------------------- fd waits

FILLER = b"x" * 20000


def slow_tcp_server(delay=0.5, answer=True):
    """A TCP server on 127.0.0.1 in threads: reads what the client sends,
    waits `delay` s, answers b"echo:" + it + FILLER and closes. With
    answer=False it never answers (until closed)."""
    return weftest.DelayedTCPServer(delay, answer=answer, suffix=FILLER)


def test_ten_fd_waits_on_a_slow_tcp_server_take_about_half_a_second():
    for label, args in engines():
        with slow_tcp_server(0.5) as tcp, \
                Server("--wsgi-file", app("fdwait_async.py"), "--async",
                       "10", *args) as srv:
            res, dt = parallel(lambda i: srv.get(
                "/?addr=127.0.0.1:%d&send=hi%d" % (tcp.port, i)), 10)
            for i, r in enumerate(res):
                assert r.status == 200, (label, i, r)
                assert r.body == b"echo:hi%d" % i + FILLER, \
                    (label, i, r.body[:60], len(r.body))
            assert 0.45 < dt < 1.4, (label, dt)
            assert tcp.accepted == 10, tcp.accepted


def test_refused_connect_gives_500():
    for label, args in engines():
        with Server("--wsgi-file", app("fdwait_async.py"), "--async", "4",
                    *args) as srv:
            r = srv.get("/?addr=127.0.0.1:%d" % weftest.free_port())
            assert r.status == 500 and b"refused" in r.body, (label, r)
            # async_connect does no DNS: -1 at once
            r = srv.get("/?addr=localhost:%d" % weftest.free_port())
            assert r.status == 500 and b"cannot connect" in r.body, (label,
                                                                     r)
            assert srv.get("/?addr=nonsense").status == 500


def test_connect_timeout_gives_500_after_the_timeout():
    # a listening socket whose backlog is full: the SYN is not answered
    for label, args in engines():
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        fill = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fill.append(c)
        time.sleep(0.1)
        try:
            with Server("--wsgi-file", app("fdwait_async.py"), "--async",
                        "4", *args) as srv:
                t0 = time.time()
                r = srv.get("/?addr=127.0.0.1:%d&t=0.3" % port)
                dt = time.time() - t0
                assert r.status == 500 and b"timeout" in r.body, (label, r)
                assert 0.28 < dt < 1.5, (label, dt)
        finally:
            for c in fill:
                c.close()
            lst.close()


def test_read_timeout_gives_500_after_the_timeout():
    for label, args in engines():
        with slow_tcp_server(answer=False) as tcp, \
                Server("--wsgi-file", app("fdwait_async.py"), "--async",
                       "4", *args) as srv:
            t0 = time.time()
            r = srv.get("/?addr=127.0.0.1:%d&t=0.3" % tcp.port)
            dt = time.time() - t0
            assert r.status == 500 and b"read timeout" in r.body, (label, r)
            assert 0.28 < dt < 1.5, (label, dt)
            # the worker goes on
            with slow_tcp_server(0.05) as tcp2:
                r = srv.get("/?addr=127.0.0.1:%d&send=again" % tcp2.port)
                assert r.status == 200 and r.body.startswith(b"echo:again")


# ---------------------------------------------------------- the uwsgi API

def api(args=("--ugreen",)):
    weftest.require("python")
    with Server("--wsgi-file", app("uwsgi_api.py"), "--async", "4",
                *args) as srv:
        r = srv.get("/")
        assert r.status == 200, (r, srv.log()[-3000:])
        return json.loads(r.body)


def test_uwsgi_api_return_values_are_those_of_uwsgi():
    need_ugreen()
    r = api()
    assert r["sleep_ret"] == "b''", r
    assert r["wait_ret"] == "b''", r
    assert r["suspend_ret"] is True, r
    assert r["ready_fd_idle"] == -1, r
    # a readable pipe wakes suspend() and ready_fd() names it
    assert r["pipe_fd_is_ready"] is True, r
    assert r["recv_pipe"] == "b'x'", r
    assert r["send"] is True and r["recv_len"] == 20000, r
    assert r["recv_eof"] == "None", r
    assert r["connect_bad"] == [-1, -1, -1], r
    assert r["connect_abstract"] == -1, r
    assert r["connection_fd"] is True, r
    assert r["worker_id"] == 1 and r["numproc"] == 1, r
    assert r["cores"] == 4 and r["buffer_size"] == 4096, r
    assert r["loop"] == "None" and r["has_threads"] is False, r
    assert r["opt"].get("async") == "b'4'", r["opt"]
    assert r["opt"].get("ugreen") == "b'true'", r["opt"]


def test_uwsgi_api_raises_systemerror_outside_a_request():
    r = api(())
    msg = "you can call uwsgi api function only from the main callable"
    assert r["outside"] == {"async_sleep": msg, "core_id": msg}, r["outside"]


def test_wait_fd_read_of_a_bad_fd_raises_oserror_naming_the_fd():
    r = api(())
    # uWSGI says "unable to fd -1 to the event queue" (sic); weft's
    # documented message (docs/langs/python.md) adds the missing word
    assert r["wait_bad_fd"] == "unable to add fd -1 to the event queue", r


def test_import_weft_gives_the_uwsgi_module():
    r = api(())
    assert r["same_module"] is True, r
    assert re.match(r"b'\d+\.\d+\.\d+", r["version"]), r
    assert r["version_info"][4] == "weft", r


def test_uwsgi_core_in_the_environ_is_the_core_id():
    r = api(())
    assert r["env_core"] == r["core_id"], r
    assert 0 <= r["core_id"] < 4, r


def test_async_environ_has_the_fdevent_keys_and_sync_mode_has_none():
    weftest.require("python")
    keys = ("uwsgi.core", "uwsgi.ready_fd", "x-wsgiorg.fdevent.readable",
            "x-wsgiorg.fdevent.writable", "x-wsgiorg.fdevent.timeout")
    for label, args in engines():
        with Server("--wsgi-file", app("echo.py"), "--async", "4",
                    *args) as srv:
            env = json.loads(srv.get("/env").body)
            for k in keys:
                assert k in env, (label, k, sorted(env))
            assert env["uwsgi.ready_fd"] == "None", env
            assert env["x-wsgiorg.fdevent.timeout"] == "None", env
            assert "wait_fd_read" in env["x-wsgiorg.fdevent.readable"], env
            assert "wait_fd_write" in env["x-wsgiorg.fdevent.writable"], env
            assert env["uwsgi.core"] in ("0", "1", "2", "3"), env
    with Server("--wsgi-file", app("echo.py")) as srv:
        env = json.loads(srv.get("/env").body)
        for k in keys:
            assert k not in env, (k, sorted(env))


READY_APP = '''
import json
import os
import time

import uwsgi


def application(environ, start_response):
    q = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&"))
    rd, wr = os.pipe()
    r = {"rd": rd, "wr": wr,
         "readable_is": environ["x-wsgiorg.fdevent.readable"] is
                        uwsgi.wait_fd_read,
         "writable_is": environ["x-wsgiorg.fdevent.writable"] is
                        uwsgi.wait_fd_write,
         "env_fd_before": environ["uwsgi.ready_fd"],
         "env_timeout_before": environ["x-wsgiorg.fdevent.timeout"]}
    if q["ready"] == "1":
        os.write(wr, b"x")
    t0 = time.monotonic()
    try:
        if q["style"] == "genw":
            # the write end of a pipe is writable at once
            ret = uwsgi.wait_fd_write(wr, 0.3)
            r["ret"] = repr(ret)
            yield ret
        elif q["style"] == "gen":
            ret = uwsgi.wait_fd_read(rd, 0.3)
            r["ret"] = repr(ret)
            yield ret
        else:
            r["ret"] = repr(uwsgi.wait_fd_read(rd, 0.3))
            r["suspend"] = uwsgi.suspend()
        r["elapsed"] = time.monotonic() - t0
        r["ready_fd"] = uwsgi.ready_fd()
        r["env_fd"] = environ["uwsgi.ready_fd"]
        r["env_timeout"] = environ["x-wsgiorg.fdevent.timeout"]
    finally:
        os.close(rd)
        os.close(wr)
    start_response("200 OK", [("Content-Type", "application/json")])
    yield json.dumps(r).encode()
'''


def ready_fd_case(args, style, ready):
    f = write_file("ready_app.py", READY_APP)
    with Server("--wsgi-file", f, "--async", "4", *args) as srv:
        r = srv.get("/?style=%s&ready=%d" % (style, ready))
        assert r.status == 200, (r, srv.log()[-3000:])
        r = json.loads(r.body)
    assert r["readable_is"] and r["writable_is"], r
    assert r["env_fd_before"] is None and r["env_timeout_before"] is None, r
    assert r["ret"] == "b''", r
    return r


def test_generator_wake_up_sets_environ_and_ready_fd_says_minus_one():
    for label, args in engines():
        r = ready_fd_case(args, "gen", 1)
        assert r["env_fd"] == r["rd"] and r["env_timeout"] is None, (label,
                                                                     r)
        assert r["ready_fd"] == -1, (label, r)
        assert r["elapsed"] < 0.25, (label, r)
        r = ready_fd_case(args, "gen", 0)
        assert r["env_fd"] is None and r["env_timeout"] is True, (label, r)
        assert r["ready_fd"] == -1, (label, r)
        assert 0.29 < r["elapsed"] < 1.0, (label, r)
        r = ready_fd_case(args, "genw", 0)
        assert r["env_fd"] == r["wr"] and r["env_timeout"] is None, (label,
                                                                     r)
        assert r["ready_fd"] == -1 and r["elapsed"] < 0.25, (label, r)


def test_suspend_wake_up_on_ugreen_ready_fd_names_the_fd_or_minus_one():
    need_ugreen()
    r = ready_fd_case(["--ugreen"], "suspend", 1)
    assert r["suspend"] is True and r["ready_fd"] == r["rd"], r
    assert r["elapsed"] < 0.25, r
    r = ready_fd_case(["--ugreen"], "suspend", 0)
    assert r["ready_fd"] == -1 and 0.29 < r["elapsed"] < 1.0, r


def test_enable_threads_lets_app_threads_run_while_the_worker_waits():
    # a thread ticking every 10 ms during a 0.5 s async_sleep: about 50
    # ticks when the worker releases the GIL around its I/O waits, next to
    # none when it holds it in epoll_wait
    app = weftest.app("threads_async.py")
    modes = [[]] + ([["--ugreen"]] if "ugreen" in weftest.built_plugins()
                    else [])
    for mode in modes:
        with Server("--async", "2", "--enable-threads", *mode,
                    "--wsgi-file", app) as srv:
            srv.get("/")    # starts the thread
            ticks = int(srv.get("/").body)
            assert ticks >= 25, (mode, ticks)
    with Server("--async", "2", "--wsgi-file", app) as srv:
        srv.get("/")
        ticks = int(srv.get("/").body)
        assert ticks <= 10, ticks


weftest.main()
