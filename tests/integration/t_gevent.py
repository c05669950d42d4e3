"""The gevent loop engine (issue 5, docs/loops/gevent.md): gevent's hub runs the worker,
one greenlet per connection. Concurrency of gevent.sleep, monkey-patched
sockets against a local TCP server, early vs late monkey patching, greenlets
spawned by the app, a pool of outbound connections, back-pressure without a
busy spin, drains on SIGTERM/SIGHUP/--max-requests with the mercy, the uwsgi
async API under gevent, keep-alive and pipelining, app errors."""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import weftest
from weftest import Reader, Server, app, parallel


def need_gevent():
    weftest.require("python", "gevent")


def gserver(appname, *args, **kw):
    need_gevent()
    return Server("--wsgi-file", app(appname), *args, **kw)


def slept(r):
    """The seconds a gevent_sleep.py or gevent_early.py response reports."""
    return float(r.body.split()[1])


class LineServer(weftest.DelayedTCPServer):
    """A DelayedTCPServer that, for each line a client sends, waits
    `delay` s and answers b"pong:" + the line; a connection carries any
    number of lines."""

    def __init__(self, delay=0.5):
        super().__init__(delay, backlog=128, conn_timeout=20)

    def handle(self, c):
        f = c.makefile("rb")
        for _ in range(1000):
            line = f.readline()
            if not line:
                break
            time.sleep(self.delay)
            c.sendall(b"pong:" + line)


def wait_exit(srv, timeout):
    """The worker's exit status, waiting at most timeout s; None if alive."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if srv.proc.poll() is not None:
            return srv.proc.returncode
        time.sleep(0.02)
    return None


def first_pid(srv):
    """The pid of the worker that logged the first request."""
    deadline = time.time() + 3
    while True:
        m = re.search(r"\[pid: (\d+)\|", srv.log())
        if m:
            return m.group(1)
        assert time.time() < deadline, srv.log()[-2000:]
        time.sleep(0.02)


def served_by_new_worker(srv, old):
    """One more request; True when a worker other than pid `old` logs it."""
    n = len(re.findall(r"\[pid: (\d+)\|", srv.log()))
    r = srv.get("/?s=0.01")
    assert r.status == 200, r
    deadline = time.time() + 3
    while True:
        pids = re.findall(r"\[pid: (\d+)\|", srv.log())
        if len(pids) > n:
            return pids[-1] != old
        assert time.time() < deadline, srv.log()[-2000:]
        time.sleep(0.05)


def get_in_background(srv, path):
    """GET path in a thread of its own: (the thread, a list that gets the
    response)."""
    out = []
    t = threading.Thread(target=lambda: out.append(srv.get(path)))
    t.start()
    return t, out


def wait_old_worker_stopped(srv, old):
    """Wait (5 s at most) for the log line of worker pid `old` stopping."""
    deadline = time.time() + 5
    while ("gevent: worker 1 (pid %s) stopped" % old) not in srv.log():
        assert time.time() < deadline, (
            "the old worker did not stop (core: is wf__slot->ready set "
            "before a loop engine runs?)", srv.log()[-3000:])
        time.sleep(0.05)


def send_raw(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.sendall(data)
    return s


GET = b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"


# ----------------------------------------------------------- concurrency

def test_hundred_gevent_sleeps_of_one_second_take_about_one_second():
    with gserver("gevent_sleep.py", "--gevent", "100") as srv:
        res, dt = parallel(lambda i: srv.get("/?s=1"), 100)
        cores = set()
        for r in res:
            assert r.status == 200, r
            assert 0.95 < slept(r) < 1.9, r.body
            cores.add(int(r.body.split()[3]))
        assert 0.95 < dt < 2.0, dt
        assert len(cores) > 50, cores       # really 100 at once


def test_loop_gevent_with_async_is_the_long_form():
    with gserver("gevent_sleep.py", "--loop", "gevent", "--async",
                 "10") as srv:
        r = srv.get("/busy")
        assert r.status == 200 and r.body.endswith(b"loop gevent\n"), r
        res, dt = parallel(lambda i: srv.get("/?s=0.5"), 10)
        assert all(r.status == 200 for r in res), res
        assert 0.45 < dt < 1.2, dt
        assert "cores, loop gevent" in srv.log()


def test_gevent_option_sets_async_and_raises_the_socket_timeout():
    need_gevent()
    with Server("--wsgi-file", app("uwsgi_api.py"), "--gevent", "7") as srv:
        r = srv.get("/")
        assert r.status == 200, (r, srv.log()[-2000:])
        d = json.loads(r.body)
        assert d["cores"] == 7, d
        assert d["opt"]["async"] == "b'7'", d["opt"]
        assert d["opt"]["socket-timeout"] == "b'30'", d["opt"]
        assert d["loop"] == "'gevent'", d


def test_gevent_refuses_a_suspend_engine():
    need_gevent()
    weftest.require("ugreen")
    try:
        Server("--wsgi-file", app("gevent_sleep.py"), "--gevent", "4",
               "--ugreen", timeout=5)
    except AssertionError as e:
        assert "drop it, or drop the loop" in str(e), e
    else:
        raise AssertionError("--gevent with --ugreen started")


def test_a_generator_response_interleaves_with_other_requests():
    """Every chunk of a WSGI generator goes through yield() (gevent.sleep
    (0)): a short request made during a long generator (about 2.5 s, read
    as fast as it comes, so its writes never wait) is not held up by it,
    and the generator's body is complete."""
    with gserver("gevent_sleep.py", "--gevent", "4",
                 "--disable-logging") as srv:
        got = []

        def download():
            s = send_raw(srv.port, GET % (b"/gen?n=200000",
                                          b"Connection: close\r\n"), 60)
            data = bytearray()
            while len(data) < 50 << 20:
                d = s.recv(1 << 20)
                if not d:
                    break
                data += d
            got.append(bytes(data))
            got.append(time.time())
            s.close()
        t = threading.Thread(target=download)
        t.start()
        time.sleep(0.3)
        t0 = time.time()
        r = srv.get("/?s=0.01")
        t1 = time.time()
        t.join(60)
        assert r.status == 200, r
        assert got and got[0].startswith(b"HTTP/1.1 200"), got[:1]
        assert got[0].endswith(b"\r\n0\r\n\r\n"), got[0][-100:]
        assert got[0].count(b"chunk ") == 200000, len(got[0])
        assert got[1] - t1 > 0.5, "the generator ended too soon to tell"
        assert t1 - t0 < 0.5, t1 - t0


# ------------------------------------------------------- monkey patching

def test_monkey_patched_sockets_talk_to_a_backend_concurrently():
    with LineServer(0.5) as tcp, \
            gserver("gevent_backend.py", "--gevent", "10",
                    "--gevent-monkey-patch") as srv:
        res, dt = parallel(lambda i: srv.get(
            "/?port=%d&send=hi%d" % (tcp.port, i)), 10)
        for i, r in enumerate(res):
            assert r.status == 200, (i, r, srv.log()[-2000:])
            assert r.body.startswith(b"pong:hi%d in " % i), r.body
            assert b"via gevent" in r.body, r.body
        assert 0.45 < dt < 1.3, dt
        assert tcp.accepted == 10, tcp.accepted


def test_unpatched_sockets_block_the_worker():
    """The sibling: without monkey patching the same app serializes."""
    with LineServer(0.5) as tcp, \
            gserver("gevent_backend.py", "--gevent", "10") as srv:
        res, dt = parallel(lambda i: srv.get(
            "/?port=%d&send=x%d" % (tcp.port, i)), 4)
        assert all(r.status == 200 for r in res), res
        assert all(b"via socket" in r.body for r in res), res
        assert dt > 1.9, dt


def test_early_monkey_patching_makes_import_time_names_cooperative():
    with gserver("gevent_early.py", "--gevent", "10",
                 "--gevent-early-monkey-patch") as srv:
        res, dt = parallel(lambda i: srv.get("/?s=0.5"), 6)
        for r in res:
            assert r.status == 200, r
            assert b"sleep=gevent.hub" in r.body, r.body
            assert b"socket-at-import=gevent." in r.body, r.body
        assert 0.45 < dt < 1.3, dt
        assert "monkey patching: early" in srv.log()


def test_late_monkey_patching_leaves_import_time_names_blocking():
    with gserver("gevent_early.py", "--gevent", "10",
                 "--gevent-monkey-patch") as srv:
        res, dt = parallel(lambda i: srv.get("/?s=0.5"), 6)
        for r in res:
            assert r.status == 200, r
            # bound at import, before the patch: the blocking originals
            assert b"sleep=time " in r.body, r.body
            assert b"socket-at-import=socket " in r.body, r.body
            # looked up at request time: patched
            assert b"socket-now=gevent." in r.body, r.body
        assert dt > 2.9, dt     # six half-second sleeps, one after another
        assert "monkey patching: late" in srv.log()


def test_early_monkey_patching_keeps_the_shadowed_sitecustomize():
    """Our start-up hook is named sitecustomize: it must still run the one
    it shadows (a user's, first on PYTHONPATH here)."""
    need_gevent()
    d = tempfile.mkdtemp(prefix="weft-t_gevent-")
    mark = os.path.join(d, "ran")
    with open(os.path.join(d, "sitecustomize.py"), "w") as f:
        f.write("open(%r, 'w').write('yes')\nWEFT_SITE_MARK = 1\n" % mark)
    env = {"PYTHONPATH": d}
    try:
        with Server("--wsgi-file", app("gevent_early.py"), "--gevent", "2",
                    "--gevent-early-monkey-patch", env=env) as srv:
            r = srv.get("/?s=0.01")
            assert r.status == 200 and b"sleep=gevent.hub" in r.body, r
        assert os.path.exists(mark)
    finally:
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


# --------------------------------------------- the app's own greenlets

def test_gevent_spawn_inside_a_request_runs_concurrently_without_a_core():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        t0 = time.time()
        r = srv.get("/spawn?n=20&s=0.5")
        dt = time.time() - t0
        assert r.status == 200, r
        assert b"spawned 20 in 0.5" in r.body, r.body
        assert dt < 1.2, dt
        # a spawned greenlet inherits no core: the uwsgi API says so
        assert (b"child-no-core: you can call uwsgi api function only from "
                b"the main callable") in r.body, r.body


def test_gevents_thread_pool_runs_real_threads_beside_the_hub():
    """The worker holds the GIL only while it runs Python: threads of
    gevent's pool (its DNS resolver uses them) run while the hub polls."""
    with gserver("gevent_sleep.py", "--gevent", "10", "--master",
                 env={"WEFT_TEST_WARM_THREADPOOL": "1"}) as srv:
        # the hub and its pool were made in the master: the worker's
        # gevent.reinit() gives it a pool of its own
        res, dt = parallel(lambda i: srv.get("/threadpool?s=0.5",
                                             timeout=5), 5)
        assert all(r.status == 200 for r in res), res
        assert all(0.45 < slept(r) < 1.2 for r in res), res
        assert 0.45 < dt < 1.3, dt


def test_a_pool_of_outbound_connections():
    """Six requests share two backend connections of a gevent.queue pool:
    three rounds of 0.3 s, and the backend sees exactly two connections."""
    with LineServer(0.3) as tcp, \
            gserver("gevent_pool.py", "--gevent", "10") as srv:
        res, dt = parallel(lambda i: srv.get(
            "/?port=%d&size=2&send=p%d" % (tcp.port, i)), 6)
        for i, r in enumerate(res):
            assert r.status == 200, (i, r, srv.log()[-2000:])
            assert r.body.startswith(b"pong:p%d in " % i), r.body
        assert 0.85 < dt < 1.6, dt
        assert tcp.accepted == 2, tcp.accepted


# ------------------------------------------------------- back-pressure

def test_two_cores_serve_five_sleepers_in_three_rounds_without_spinning():
    with gserver("gevent_sleep.py", "--gevent", "2") as srv:
        c0 = srv.cpu_seconds()
        res, dt = parallel(lambda i: srv.get("/?s=1"), 5)
        c1 = srv.cpu_seconds()
        assert all(r.status == 200 for r in res), res
        assert 2.9 < dt < 4.0, dt
        # uWSGI 2.0 spins at 100 % here (3 s of CPU); we wait
        assert c1 - c0 < 0.5, c1 - c0
        assert "accepting paused" in srv.log() or True


# -------------------------------------------------------------- drains

def test_sigterm_lets_the_running_request_finish_then_exits_zero():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        t, out = get_in_background(srv, "/?s=1")
        time.sleep(0.3)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(srv, 5)
        t.join(5)
        assert rc == 0, (rc, srv.log()[-2000:])
        assert out and out[0].status == 200, out
        assert 0.95 < slept(out[0]) < 1.5, out[0].body
        assert 0.5 < time.time() - t0 < 1.5


def test_sighup_drains_too():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        t, out = get_in_background(srv, "/?s=0.8")
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGHUP)
        rc = wait_exit(srv, 5)
        t.join(5)
        assert rc == 0, rc
        assert out and out[0].status == 200, out


def test_master_sighup_replaces_the_worker_after_its_request():
    """SIGHUP to the master: a new worker takes over, the old one drains
    (its in-flight request completes), and the service never stops."""
    with gserver("gevent_sleep.py", "--gevent", "4", "--master") as srv:
        assert srv.get("/?s=0.01").status == 200
        old = first_pid(srv)
        t, out = get_in_background(srv, "/?s=1")
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGHUP)
        t.join(5)
        assert out and out[0].status == 200, (out, srv.log()[-2000:])
        wait_old_worker_stopped(srv, old)
        assert served_by_new_worker(srv, old)


def test_two_workers_with_early_patching_each_run_their_own_hub():
    """patch_all() ran in the master before the fork: every worker gets a
    hub of its own (gevent.reinit()), and both serve concurrently."""
    with gserver("gevent_early.py", "--gevent", "10", "--processes", "2",
                 "--gevent-early-monkey-patch") as srv:
        time.sleep(0.5)     # both workers up
        res, dt = parallel(lambda i: srv.get("/?s=0.5"), 20)
        assert all(r.status == 200 for r in res), res
        assert all(b"sleep=gevent.hub" in r.body for r in res), res
        assert 0.45 < dt < 1.3, dt


def test_an_idle_keepalive_connection_does_not_hold_the_stop():
    """An open keep-alive connection between requests holds a core; at a
    stop it is closed once nothing else runs, not after --socket-timeout
    (30 s under --gevent)."""
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        s = send_raw(srv.port, GET % (b"/?s=0.01", b""))
        rd = Reader(s)
        assert rd.response().status == 200
        t, out = get_in_background(srv, "/?s=0.5")
        time.sleep(0.2)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(srv, 5)
        t.join(5)
        assert rc == 0, rc
        assert out and out[0].status == 200, out
        assert time.time() - t0 < 1.2, time.time() - t0
        assert rd.eof(2), "the idle connection was not closed"
        s.close()


def test_a_deadline_behind_an_earlier_timer_still_cuts_on_time():
    """A core keeps one timer across its waits (loops/gevent: Deadlines):
    a wait whose deadline is later than the armed timer leaves it, and
    the timer's callback re-arms for the rest instead of ending that
    wait. So a keep-alive connection that asks again before its idle
    deadline is served past the first deadline, and is cut at its own.
    The client's pauses are the behaviour under test (the deadline is
    2 s; each pause is well inside or well past it)."""
    with gserver("gevent_sleep.py", "--gevent", "2", "--socket-timeout",
                 "2") as srv:
        s = send_raw(srv.port, GET % (b"/?s=0.01", b""))
        rd = Reader(s)
        assert rd.response().status == 200      # idle deadline t0 + 2
        time.sleep(1.2)
        s.sendall(GET % (b"/?s=0.01", b""))
        assert rd.response().status == 200      # idle deadline t0 + 3.2
        time.sleep(1.4)                         # past t0 + 2: still open
        s.sendall(GET % (b"/?s=0.01", b""))
        assert rd.response().status == 200, "cut at an earlier deadline"
        t_last = time.time()
        assert rd.eof(10), "the idle connection was never cut"
        idle = time.time() - t_last
        assert 1.5 <= idle <= 5, idle            # its own 2 s deadline
        s.close()
        assert srv.get("/?s=0.01").status == 200


def test_max_requests_lets_a_long_request_finish():
    """--max-requests runs a master: it starts a replacement, then tells
    the old worker to drain. The old worker's in-flight request completes
    and the old worker stops; the new one serves."""
    with gserver("gevent_sleep.py", "--gevent", "4", "--max-requests",
                 "2") as srv:
        t, out = get_in_background(srv, "/?s=1.5")
        time.sleep(0.2)
        assert srv.get("/?s=0.01").status == 200
        assert srv.get("/?s=0.01").status == 200     # the 2nd: replace
        old = first_pid(srv)
        t.join(5)
        assert out and out[0].status == 200, out
        assert slept(out[0]) > 1.4, out[0].body
        wait_old_worker_stopped(srv, old)
        assert served_by_new_worker(srv, old)
        assert "--max-requests" in srv.log()


def test_mercy_cancels_a_request_that_runs_too_long():
    with gserver("gevent_sleep.py", "--gevent", "4",
                 "--worker-reload-mercy", "1") as srv:
        out = []

        def long():
            try:
                out.append(srv.get("/?s=20"))
            except (OSError, EOFError) as e:
                out.append(e)
        t = threading.Thread(target=long)
        t.start()
        time.sleep(0.3)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(srv, 6)
        t.join(5)
        dt = time.time() - t0
        assert rc == 0, (rc, srv.log()[-2000:])
        assert 0.9 < dt < 2.5, dt
        assert out and (isinstance(out[0], Exception) or
                        out[0].status >= 500), out
        log = srv.log()
        assert "(--worker-reload-mercy); cancelling it" in log, log[-2000:]
        assert "cancelled" in log, log[-2000:]
        assert "1 requests killed" in log, log[-2000:]


def test_sigquit_stops_at_once():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        def long():
            try:
                srv.get("/?s=10")
            except (OSError, EOFError):
                pass
        t = threading.Thread(target=long, daemon=True)
        t.start()
        time.sleep(0.3)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGQUIT)
        rc = wait_exit(srv, 5)
        assert rc == 0, rc
        assert time.time() - t0 < 1.0
        t.join(5)


def test_app_greenlets_left_running_do_not_crash_the_exit():
    """A greenlet the app spawned and never ends is alive when the worker
    stops: Python finalises with it (greenlet #330 was a crash here)."""
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        assert srv.get("/forever").status == 200
        assert srv.get("/forever").status == 200
        srv.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(srv, 5)
        assert rc == 0, (rc, srv.log()[-2000:])


def test_wait_for_hub_lets_the_apps_greenlets_finish():
    need_gevent()
    d = tempfile.mkdtemp(prefix="weft-t_gevent-")
    try:
        for flag, expect in ((["--gevent-wait-for-hub"], True), ([], False)):
            mark = os.path.join(d, "mark%d" % len(flag))
            with Server("--wsgi-file", app("gevent_sleep.py"), "--gevent",
                        "4", *flag) as srv:
                r = srv.get("/bg?s=0.7&mark=%s" % mark)
                assert r.status == 200, r
                srv.proc.send_signal(signal.SIGTERM)
                rc = wait_exit(srv, 5)
                assert rc == 0, rc
            assert os.path.exists(mark) == expect, (flag, expect)
    finally:
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


# --------------------------------------------------- the uwsgi async API

def test_uwsgi_async_sleep_and_suspend_work_under_gevent():
    """Better than uWSGI (which forbids them under gevent): async_sleep +
    suspend() reach the hub through the core."""
    with gserver("sleeping_green.py", "--gevent", "10") as srv:
        res, dt = parallel(lambda i: srv.get("/?s=0.5"), 10)
        for r in res:
            assert r.status == 200, r
            assert b"async_sleep=b'' suspend=True" in r.body, r.body
            assert 0.45 < float(r.body.split()[1]) < 1.0, r.body
        assert 0.45 < dt < 1.2, dt


def test_uwsgi_fd_waits_work_under_gevent():
    """uWSGI's fd API, generator style (wait_fd_write/read + yield), ten at
    once against a slow TCP server."""
    need_gevent()
    with weftest.DelayedTCPServer(0.5) as tcp, \
            gserver("fdwait_async.py", "--gevent", "10") as srv:
        res, dt = parallel(lambda i: srv.get(
            "/?addr=127.0.0.1:%d&send=hi%d" % (tcp.port, i)), 10)
        for i, r in enumerate(res):
            assert r.status == 200, (i, r)
            assert r.body == b"echo:hi%d" % i, r.body
        assert 0.45 < dt < 1.3, dt


def test_uwsgi_api_values_under_gevent():
    need_gevent()
    with Server("--wsgi-file", app("uwsgi_api.py"), "--gevent", "4") as srv:
        r = srv.get("/")
        assert r.status == 200, (r, srv.log()[-3000:])
        d = json.loads(r.body)
    assert d["suspend_ret"] is True, d
    assert d["pipe_fd_is_ready"] is True, d
    assert d["recv_pipe"] == "b'x'", d
    assert d["send"] is True and d["recv_len"] == 20000, d
    msg = "you can call uwsgi api function only from the main callable"
    assert d["outside"] == {"async_sleep": msg, "core_id": msg}, d


# ------------------------------------------------------ HTTP under gevent

def test_keepalive_and_pipelining():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        s = send_raw(srv.port, GET % (b"/?s=0.05", b""))
        rd = Reader(s)
        r1 = rd.response()
        s.sendall(GET % (b"/busy", b""))
        r2 = rd.response()
        assert r1.status == 200 and r2.status == 200, (r1, r2)
        # three pipelined requests in one packet: answered in order
        s.sendall(GET % (b"/?s=0.2", b"") + GET % (b"/?s=0.01", b"") +
                  GET % (b"/busy", b"Connection: close\r\n"))
        rs = [rd.response() for _ in range(3)]
        assert [r.status for r in rs] == [200, 200, 200], rs
        assert rs[0].body.startswith(b"slept 0.2"), rs[0].body
        assert rs[1].body.startswith(b"slept 0.01"), rs[1].body
        assert rs[2].body.startswith(b"core "), rs[2].body
        assert rd.eof(2)
        s.close()


def active_io_watchers(srv):
    """How many of gevent's io watchers are started in srv's worker."""
    r = srv.get("/watchers")
    assert r.status == 200, r
    return int(r.body.split()[2])


def two_requests_with_a_wait(port):
    """A connection whose second request is sent after the first answer
    (so the worker waits to read it), then closed by the server."""
    s = send_raw(port, GET % (b"/busy", b""))
    rd = Reader(s)
    r1 = rd.response()
    s.sendall(GET % (b"/busy", b"Connection: close\r\n"))
    r2 = rd.response()
    assert (r1.status, r2.status) == (200, 200), (r1, r2)
    assert rd.eof(2)
    s.close()


def test_an_ended_connection_leaves_no_io_watcher_started():
    """A connection's read watcher is left started between its waits
    (one per connection, not one per wait) and must stop when the
    connection ends: the started io watchers do not grow with
    connections."""
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        before = active_io_watchers(srv)
        for _ in range(20):
            two_requests_with_a_wait(srv.port)
        after = active_io_watchers(srv)
        # the query's own connection may hold one (it may have waited)
        assert after <= before + 1, (before, after)


def worker_pid(srv):
    """The worker's pid: the process itself, or its one child."""
    try:
        kids = open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)).read()
    except OSError:
        kids = ""
    return int(kids.split()[0]) if kids.split() else srv.pid


def test_an_idle_keepalive_connection_is_waited_for_without_a_recv_first():
    """After a response, the next request of a keep-alive connection is
    waited for through the hub at once, as on the core's loop: no recv()
    that only says EAGAIN per request (a fast client is never quicker
    than the server's next read: 1.000 waits per request under wrk).
    strace watches the worker's reads over 30 requests, each sent after
    the previous answer."""
    need_gevent()
    strace = shutil.which("strace")
    if strace is None:
        raise weftest.Skip("strace is not installed")
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        s = send_raw(srv.port, GET % (b"/busy", b""))
        rd = Reader(s)
        assert rd.response().status == 200
        out = tempfile.NamedTemporaryFile(prefix="weft-strace-", delete=False)
        st = subprocess.Popen([strace, "-f", "-e", "trace=recvfrom,read",
                               "-o", out.name, "-p", str(worker_pid(srv))],
                              stderr=subprocess.PIPE)
        try:
            ready, _, _ = select.select([st.stderr], [], [], 20)
            line = st.stderr.readline() if ready else b""
            assert b"attached" in line, line
            for _ in range(30):
                s.sendall(GET % (b"/busy", b""))
                assert rd.response().status == 200
        finally:
            st.send_signal(signal.SIGINT)
            st.wait(20)
        s.close()
        with open(out.name) as f:
            calls = [l for l in f if "recvfrom(" in l]
        os.unlink(out.name)
        eagain = [l for l in calls if "EAGAIN" in l]
        assert len(calls) >= 30, calls         # it saw the requests
        assert not eagain, (len(eagain), eagain[:3])


def test_an_app_exception_gives_500_and_the_worker_goes_on():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        r = srv.get("/raise")
        assert r.status == 500, r
        assert "RuntimeError: boom from the app" in srv.log()
        res, dt = parallel(lambda i: srv.get("/?s=0.3"), 4)
        assert all(r.status == 200 for r in res), res
        assert dt < 1.0, dt


def test_a_bad_request_gets_400_and_the_worker_goes_on():
    with gserver("gevent_sleep.py", "--gevent", "4") as srv:
        s = send_raw(srv.port, b"BOGUS\r\n\r\n")
        r = Reader(s).response()
        s.close()
        assert r.status == 400, r
        assert srv.get("/?s=0.01").status == 200


def test_a_head_that_never_completes_gets_408_naming_the_head_timeout():
    # issue 9: the loop-engine path waited --http-timeout but its 408 log
    # line named --socket-timeout (raised to 30 by --gevent)
    with gserver("gevent_sleep.py", "--gevent", "2", "--http-timeout",
                 "1") as srv:
        s = send_raw(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        r = Reader(s).response()
        s.close()
        assert r.status == 408, r
        assert time.time() - t0 < 10
        assert srv.wait_log("sent no complete request head in 1s "
                            "(--http-timeout", 3.0), srv.log()[-2000:]
        assert srv.get("/?s=0.01").status == 200


def test_harakiri_cancels_a_stuck_greenlet_alone():
    need_gevent()
    with Server("--gevent", "4", "--harakiri", "1", "--wsgi-file",
                app("gevent_sleep.py")) as srv:
        res = []

        def stuck():
            r = srv.get("/?s=5")
            res.append((time.time(), r))

        t = threading.Thread(target=stuck)
        t0 = time.time()
        t.start()
        time.sleep(0.2)
        for _ in range(5):       # the others go on meanwhile
            assert srv.get("/?s=0.01").status == 200
        t.join(10)
        end, r = res[0]
        assert r.status == 504, r
        assert 0.9 < end - t0 < 3, end - t0
        log = srv.expect_log("HARAKIRI: core")
        log = srv.wait_log("/?s=5") or log
        assert "HARAKIRI: core" in log and "/?s=5" in log, log
        assert "gevent_sleep.py" in log, log       # where it waited


def test_harakiri_replaces_a_worker_whose_hub_is_blocked():
    need_gevent()
    with Server("--gevent", "4", "--harakiri", "1", "--wsgi-file",
                app("gevent_block.py")) as srv:
        old = int(srv.get("/quick").body)
        try:
            r = srv.get("/?s=4")
            assert r.status != 200, r
        except (EOFError, ConnectionError, ValueError):
            pass
        assert weftest.wait_for(
            lambda: int(srv.get("/quick").body) != old, 10)
        log = srv.log()
        assert "HARAKIRI: worker" in log and "gevent loop" in log, log


weftest.main()
