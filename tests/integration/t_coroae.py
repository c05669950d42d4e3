"""coroae: the Coro::AnyEvent loop engine (loops/coroae) with the psgi
plugin, against tests/apps/coro.psgi: concurrent sleeps, AnyEvent timers,
Coro::Socket and uwsgi:: fd waits against a slow TCP server, Coro::async
helpers, no busy spin, an exception in one coroutine while others sleep,
cleanup handlers, streaming and late responses, keep-alive, back-pressure,
reload while requests are in flight, harakiri of one request. Skipped (77)
when the coroae plugin is not built. Time bounds are generous: the machine
is shared."""

import os
import signal
import time

import weftest
from weftest import DelayedTCPServer, Reader, Server, parallel, request

CORO = os.path.join(weftest.APPS, "coro.psgi")


def server(*args, cores=10, **kw):
    weftest.require("psgi", "coroae")
    return Server("--psgi", CORO, "--coroae", str(cores), *args, **kw)


def get(srv, path, **kw):
    return request(srv.port, "GET", path, **kw)


def test_ten_sleeps_finish_together_on_one_worker():
    with server() as srv:
        assert get(srv, "/hello").body == b"Hello World"
        t0 = time.time()
        out, _ = parallel(lambda i: get(srv, "/sleep?s=1"), 10)
        took = time.time() - t0
        assert all(r.status == 200 and r.body.startswith(b"slept 1.")
                   for r in out), out
        cores = {r.body.split()[-1] for r in out}
        assert len(cores) == 10, cores
        assert took < 4, took


def test_timers_condvars_and_uwsgi_sleep_are_concurrent():
    with server() as srv:
        t0 = time.time()
        out, _ = parallel(lambda i: get(srv, "/timer?s=1" if i % 2
                                     else "/uwsgi_sleep?s=1"), 10)
        took = time.time() - t0
        assert sorted({r.body for r in out}) == \
            [b"timer fired", b"uwsgi slept ready_fd=-1"], out
        assert took < 4, took


def test_socket_waits_against_a_slow_server():
    with DelayedTCPServer(delay=1.0) as slow, server() as srv:
        t0 = time.time()
        out, _ = parallel(lambda i: get(srv, "/socket?port=%d" % slow.port
                                     if i % 2 else
                                     "/uwsgi_fd?port=%d" % slow.port), 10)
        took = time.time() - t0
        bodies = sorted({r.body for r in out})
        assert bodies == [b"fd ready echo:hey", b"socket echo:ping"], \
            (bodies, srv.log()[-2000:])
        assert took < 4.5, took


def test_coro_async_helpers_stream_and_late_responder():
    with server() as srv:
        assert get(srv, "/async").body == b"helpers 60"
        r = get(srv, "/stream")
        assert r.body == b"tick1\ntick2\ntick3\n", r
        r = get(srv, "/later")
        assert r.status == 200 and r.body == b"responded later", r
        e = get(srv, "/env").body
        assert b"psgi.nonblocking=1" in e, e


def test_no_busy_spin_while_requests_sleep():
    with server() as srv:
        get(srv, "/hello")
        c0 = srv.cpu_seconds()
        out, _ = parallel(lambda i: get(srv, "/sleep?s=2"), 10)
        assert all(r.status == 200 for r in out)
        used = srv.cpu_seconds() - c0
        assert used < 0.5, used
        # requests whose app responds 2 s later, from an AnyEvent timer
        c0 = srv.cpu_seconds()
        out, _ = parallel(lambda i: get(srv, "/later?s=2"), 10)
        assert all(r.body == b"responded later" for r in out), out
        used = srv.cpu_seconds() - c0
        assert used < 0.5, used
        # idle with every core free
        c0 = srv.cpu_seconds()
        time.sleep(1)
        assert srv.cpu_seconds() - c0 < 0.2


def test_exception_in_one_coroutine_while_others_sleep():
    with server() as srv:
        def one(i):
            if i == 0:
                return get(srv, "/die_later?s=0.3")
            return get(srv, "/sleep?s=1")
        out, _ = parallel(one, 6)
        assert out[0].status == 500, out[0]
        assert all(r.status == 200 for r in out[1:]), out
        srv.expect_log("died in a coroutine on purpose")
        assert get(srv, "/hello").status == 200


def test_cleanup_handlers_run_under_coroae():
    with server() as srv:
        out, _ = parallel(lambda i: get(srv, "/cleanup"), 3)
        assert all(r.body == b"cleanup" for r in out)
        srv.expect_log("coro cleanup ran")
        weftest.wait_for(lambda: srv.log().count("coro cleanup ran") == 3)
        assert srv.log().count("coro cleanup ran") == 3


def test_keepalive_pipelining_and_bodies():
    with server() as srv:
        weftest.check_keepalive(srv, "coroae")
        s = srv.connect()
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 5\r\n\r\nabcde"
                  b"GET /sleep?s=0.2 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = Reader(s)
        assert r.response().body == b"Hello World"
        assert r.response().body == b"abcde"
        assert r.response().body.startswith(b"slept")
        assert not r.eof()
        s.close()
        body = b"y" * 300000
        r = request(srv.port, "POST", "/echo", body=body)
        assert r.body == body


def test_more_clients_than_cores_wait_in_the_backlog():
    with server(cores=2) as srv:
        t0 = time.time()
        out, _ = parallel(lambda i: get(srv, "/sleep?s=0.5"), 6)
        took = time.time() - t0
        assert all(r.status == 200 for r in out), out
        assert took >= 1.4, took       # three rounds of two
        assert srv.get("/hello").status == 200


def test_reload_while_requests_are_in_flight():
    with server("--master", "--processes", "1") as srv:
        pid0 = get(srv, "/pid").body
        results = []

        def slow(i):
            return get(srv, "/sleep?s=1.5")
        import threading
        t = threading.Thread(target=lambda: results.extend(
            parallel(slow, 5)[0]))
        t.start()
        time.sleep(0.5)
        os.kill(srv.pid, signal.SIGHUP)
        t.join(20)
        assert len(results) == 5 and all(
            r.status == 200 and r.body.startswith(b"slept")
            for r in results), results

        def new_worker():
            try:
                return get(srv, "/pid", timeout=2).body != pid0
            except OSError:
                return False
        assert weftest.wait_for(new_worker, 15), srv.log()[-2000:]


def test_harakiri_cancels_one_request_and_the_others_go_on():
    with server("--harakiri", "2") as srv:
        def one(i):
            if i == 0:
                return get(srv, "/sleep?s=30")
            time.sleep(0.2)
            return get(srv, "/sleep?s=0.5")
        t0 = time.time()
        out, _ = parallel(one, 4)
        assert out[0].status == 504, out[0]
        assert time.time() - t0 < 10
        assert all(r.status == 200 for r in out[1:]), out
        log = srv.expect_log("cancelled (core")
        assert "coro.psgi line" in log, log[-2000:]   # where it waited
        assert get(srv, "/hello").status == 200


def test_psgi_without_coroae_or_with_ugreen():
    weftest.require("psgi", "coroae")
    p = weftest.run_weft("--coroae", "4", "--wsgi-file",
                         os.path.join(weftest.APPS, "hello.py"),
                         http_socket=True)
    last = (p.stdout + p.stderr).strip().splitlines()[-1]
    assert p.returncode != 0 and "psgi" in last, last


def test_reload_closes_idle_keepalive_connections_without_waiting():
    with server("--master", "--processes", "1") as srv:
        s = srv.connect()
        s.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n")
        r = Reader(s)
        pid0 = r.response().body
        t0 = time.time()
        os.kill(srv.pid, signal.SIGHUP)
        assert r.eof(wait=10), "the idle connection stayed open"
        assert time.time() - t0 < 8
        s.close()

        def new_worker():
            try:
                return get(srv, "/pid", timeout=2).body != pid0
            except OSError:
                return False
        assert weftest.wait_for(new_worker, 15), srv.log()[-2000:]


def test_reload_cancels_what_runs_past_the_mercy():
    with server("--master", "--processes", "1",
                "--worker-reload-mercy", "1") as srv:
        pid0 = get(srv, "/pid").body
        import threading
        res = []
        t = threading.Thread(target=lambda: res.append(
            get(srv, "/sleep?s=30")))
        t.start()
        time.sleep(0.5)
        os.kill(srv.pid, signal.SIGHUP)
        t.join(15)
        assert res and res[0].status in (503, 504), res   # the core says
        srv.expect_log("--worker-reload-mercy")

        def new_worker():
            try:
                return get(srv, "/pid", timeout=2).body != pid0
            except OSError:
                return False
        assert weftest.wait_for(new_worker, 15), srv.log()[-2000:]


weftest.main()
