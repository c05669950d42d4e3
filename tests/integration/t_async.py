"""The async cores: concurrency through timers, the run queue after a yield,
back-pressure when every core is busy, sync mode. Against the core's C test
app, so that a failure here is the scheduler's."""

import signal
import time

import weftest
from weftest import Reader, Server, parallel, wait_for


def engines():
    """(label, extra args) for each way of running async."""
    built = weftest.built_plugins()
    out = []
    for io in weftest.io_engines():
        out.append(("%s/none" % io, ["--io-engine", io]))
        if "ugreen" in built:
            out.append(("%s/ugreen" % io, ["--io-engine", io, "--ugreen"]))
    return out


def test_ten_sleeps_on_ten_cores_take_one_second():
    for label, args in engines():
        path = "/gsleep?ms=1000" if "ugreen" in label else "/sleep?ms=1000"
        with Server("--async", "10", *args, testlang=True) as srv:
            res, dt = parallel(lambda i: srv.get(path), 10)
            assert all(r.status == 200 and b"timed_out=1" in r.body
                       for r in res), (label, res)
            assert 0.9 < dt < 1.8, (label, dt)


def test_twenty_sleeps_on_ten_cores_take_two_seconds():
    for label, args in engines():
        path = "/gsleep?ms=1000" if "ugreen" in label else "/sleep?ms=1000"
        with Server("--async", "10", *args, testlang=True) as srv:
            res, dt = parallel(lambda i: srv.get(path), 20)
            assert all(r.status == 200 for r in res), (label, res)
            assert 1.9 < dt < 3.2, (label, dt)


def test_sub_second_sleeps_have_millisecond_resolution():
    for label, args in engines():
        path = "/gsleep?ms=250" if "ugreen" in label else "/sleep?ms=250"
        with Server("--async", "4", *args, testlang=True) as srv:
            t0 = time.time()
            r = srv.get(path)
            dt = time.time() - t0
            assert r.status == 200 and b"timed_out=1" in r.body, r
            assert 0.24 < dt < 0.6, (label, dt)


def test_generator_chunks_interleave_round_robin():
    # two streams of chunks on one worker: each yield goes to the back of
    # the run queue, so both make progress before either finishes
    for label, args in engines():
        with Server("--async", "4", *args, testlang=True) as srv:
            socks = [srv.connect() for _ in range(2)]
            for s in socks:
                s.sendall(b"GET /chunks?n=3000 HTTP/1.1\r\nHost: x\r\n\r\n")
            bodies = [Reader(s).response().body for s in socks]
            cores = set()
            for b in bodies:
                assert b.count(b"chunk") == 3000
                cores |= {line.rsplit(b" ", 1)[1] for line in b.splitlines()}
            assert len(cores) == 2, (label, cores)
            # both requests switched many times: they shared the worker
            # (the log line comes after the last chunk: wait for it)
            assert wait_for(lambda: srv.log().count("switches on core") == 2,
                            5), srv.log()


def test_cores_are_reused_last_in_first_out():
    with Server("--async", "8", testlang=True) as srv:
        cores = {srv.get("/core").body for _ in range(5)}
        assert cores == {b"7"}, cores


def test_sync_mode_serves_one_request_at_a_time():
    with Server(testlang=True) as srv:
        res, dt = parallel(lambda i: srv.get("/sleep?ms=500"), 2)
        assert all(r.status == 200 for r in res)
        assert dt > 0.95, dt


def test_busy_cores_stop_the_accepting_without_spinning():
    # 2 cores, 5 clients each sleeping 1 s: the others wait in the kernel
    # backlog; the worker must not spin on the readable listening socket
    # (uWSGI 2.0 sits at 100% CPU here)
    for label, args in engines():
        path = "/gsleep?ms=1000" if "ugreen" in label else "/sleep?ms=1000"
        with Server("--async", "2", *args, testlang=True) as srv:
            cpu0 = srv.cpu_seconds()
            res, dt = parallel(lambda i: srv.get(path), 5)
            cpu = srv.cpu_seconds() - cpu0
            assert all(r.status == 200 for r in res), res
            assert 2.9 < dt < 4.5, (label, dt)
            assert cpu < 0.5, "worker burnt %.2fs of CPU in %.1fs (%s)" % (
                cpu, dt, label)


def test_idle_keepalive_connections_free_their_core():
    with Server("--async", "1", "--socket-timeout", "1",
                testlang=True) as srv:
        s = srv.connect()
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert Reader(s).response().status == 200
        # the only core is held by the idle connection until it times out
        t0 = time.time()
        assert srv.get("/hello").status == 200
        assert time.time() - t0 < 3
        s.close()


def test_sigterm_lets_in_flight_requests_finish():
    for label, args in engines():
        path = "/gsleep?ms=800" if "ugreen" in label else "/sleep?ms=800"
        srv = Server("--async", "4", *args, testlang=True)
        with srv:
            s = srv.connect()
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
            time.sleep(0.2)
            srv.proc.terminate()
            resp = Reader(s).response()
            assert resp.status == 200 and b"slept" in resp.body, resp
            assert srv.proc.wait(5) == 0


# ugreen's stacks (issue 13): a stack of --ugreen-stacksize 40 pages is a
# 160 KiB read-write mapping of its own in /proc/PID/smaps; "touched" means
# it holds resident pages.
STACK_KB = 40 * 4


def touched_stacks(pid):
    n, size, perms = 0, None, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                size, perms = (hi - lo) // 1024, parts[1]
            elif parts[0] == "Rss:" and size == STACK_KB and perms == "rw-p":
                n += int(parts[1]) > 0
    return n


def send_all(srv, paths):
    socks = []
    for p in paths:
        s = srv.connect()
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p).encode())
        socks.append(s)
    return socks


def test_requests_parked_between_chunks_hold_no_stack():
    # 100 requests sleep between two handle() calls (generator style):
    # their contexts end there, so they hold no ugreen stack; before
    # issue 13 each held its core's stack, touched
    weftest.require("ugreen")
    with Server("--async", "200", "--ugreen", "--ugreen-stacksize", "40",
                testlang=True) as srv:
        socks = send_all(srv, ["/sleep?ms=20000"] * 100)
        # connections are accepted, and cores run, in order: once a later
        # request is answered, the 100 have all run up to their sleep
        assert srv.get("/hello").status == 200
        assert touched_stacks(srv.pid) <= 4, touched_stacks(srv.pid)
        # a short sleep on the same worker meanwhile goes in and out
        r = srv.get("/sleep?ms=10")
        assert r.status == 200 and b"timed_out=1" in r.body, r
        srv.stop(signal.SIGQUIT)    # now, not after the sleeps
        for s in socks:
            s.close()


def test_a_burst_of_suspended_requests_leaves_few_stacks_touched():
    # 100 requests suspended inside handle() each need a stack of their
    # own while they sleep; once they are over and unused for a while, the
    # free stacks beyond the 32 kept hot are given back to the kernel
    # (MADV_DONTNEED)
    weftest.require("ugreen")
    with Server("--async", "200", "--ugreen", "--ugreen-stacksize", "40",
                testlang=True) as srv:
        socks = send_all(srv, ["/gsleep?ms=2000"] * 100)
        assert srv.get("/hello").status == 200
        during = touched_stacks(srv.pid)
        for s in socks:
            r = Reader(s).response()
            assert r.status == 200 and b"timed_out=1" in r.body, r
            s.close()
        # stacks unused for 8 returns per stack (at least 1024) go: the
        # worker serves on, on its hot stacks
        s = srv.connect()
        rd = Reader(s)
        for _ in range(2500):
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert rd.response().status == 200
        s.close()
        after = touched_stacks(srv.pid)
        assert during >= 90, during     # they did hold one each
        assert after <= 33, (during, after)


weftest.main()
