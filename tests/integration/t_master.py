"""The master and its workers: respawn, signals, graceful replacement with
no failed request, harakiri per core and per worker, limits, privileges,
logs. Real processes and real signals, against the core's C test app."""

import os
import pwd
import signal
import tempfile
import threading
import time

import weftest
from weftest import Reader, Server, parallel, request, wait_for


def worker_pids(srv):
    """The master's children, from /proc."""
    try:
        kids = open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)).read()
    except OSError:
        return set()
    return {int(p) for p in kids.split()}


def busy_cores_logged(srv, nworkers):
    """Ask the master for the state of its nworkers workers (SIGUSR1)
    and return the busy cores it logs, summed over them."""
    mark = srv.log().count("master (pid")
    os.kill(srv.pid, signal.SIGUSR1)

    def section():
        log = srv.log()
        if log.count("master (pid") <= mark:
            return None
        lines = [l for l in log.rsplit("master (pid", 1)[1].splitlines()
                 if " busy cores" in l]
        return lines if len(lines) >= nworkers else None

    lines = wait_for(section, 5) or []
    return sum(int(l.split(" busy cores")[0].rsplit(" ", 1)[1])
               for l in lines)


def test_master_forks_workers_that_all_serve():
    with Server("--master", "--processes", "2", "--async", "4",
                testlang=True) as srv:
        assert wait_for(lambda: len(worker_pids(srv)) == 2)
        pids = set()
        for _ in range(40):
            pids.add(int(srv.get("/pid").body))
        assert pids <= worker_pids(srv), (pids, worker_pids(srv))
        assert len(pids) >= 1


def test_a_dead_worker_is_respawned_with_a_log_line():
    with Server("--master", "--async", "4", testlang=True) as srv:
        time.sleep(2.1)      # older than the quick-death back-off window
        old = int(srv.get("/pid").body)
        os.kill(old, signal.SIGKILL)
        new = wait_for(lambda: (worker_pids(srv) - {old}) or None)
        assert new, "no new worker"
        assert wait_for(lambda: srv.get("/pid").status == 200)
        assert int(srv.get("/pid").body) != old
        log = srv.log()
        assert "killed by signal 9" in log, log
        assert "respawned" in log


def test_a_worker_that_dies_at_start_is_retried_with_back_off():
    # the app loads at start, then breaks: --lazy-apps makes each new
    # worker load it after fork, and the respawned ones die at start
    if "python" not in weftest.built_plugins():
        raise weftest.Skip("python plugin not built")
    mark = os.path.join(weftest.scratch_dir(), "broken.mark")
    if os.path.exists(mark):
        os.unlink(mark)
    appf = weftest.write_file("breaks_later.py", (
        "import os\n"
        "if os.path.exists(%r):\n"
        "    raise RuntimeError('broken app')\n"
        "def application(env, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n") % mark)
    with Server("--master", "--lazy-apps", "--wsgi-file", appf) as srv:
        assert srv.get("/").status == 200
        open(mark, "w").close()
        for pid in worker_pids(srv):
            os.kill(pid, signal.SIGKILL)
        log = srv.expect_log("next try in 2s", timeout=20)
        srv.expect_log("next try in 4s", timeout=20)
        assert "broken app" in log, log
        # not a tight loop: the back-off spaces the tries
        assert srv.log().count("respawned") <= 4, srv.log()
        assert srv.proc.poll() is None, "a master that served gave up"
        os.unlink(mark)


def test_an_app_that_cannot_load_in_any_worker_stops_weft():
    # --lazy-apps: the app loads after fork; when no worker ever could,
    # weft exits 1 with one line (uWSGI: need-app exits 22, without it
    # uWSGI runs on and answers errors); --need-app changes nothing
    if "python" not in weftest.built_plugins():
        raise weftest.Skip("python plugin not built")
    appf = weftest.write_file("never_loads.py",
                              "raise RuntimeError('broken app')\n")
    for extra in ([], ["--need-app"]):
        r = weftest.run_weft("--master", "--processes", "2", "--lazy-apps",
                             "--wsgi-file", appf, *extra, http_socket=True)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (extra, r.returncode, out)
        assert out.count("could not load the app") == 1, out
        assert "respawned" not in out and "next try" not in out, out
        assert "RuntimeError: broken app" in out, out
        # and without --lazy-apps: the master's own import fails first
        r = weftest.run_weft("--master", "--processes", "2", "--wsgi-file",
                             appf, *extra, http_socket=True)
        assert r.returncode == 1, (extra, r)
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("weft: --wsgi-file ") and \
            "RuntimeError: broken app; fix the app" in last, r.stderr


def test_sigterm_to_the_master_finishes_requests_then_exits():
    srv = Server("--master", "--async", "4", "--ugreen", testlang=True)
    with srv:
        s = srv.connect()
        s.sendall(b"GET /gsleep?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        srv.proc.terminate()
        resp = Reader(s).response()
        assert resp.status == 200 and b"slept" in resp.body
        assert srv.proc.wait(10) == 0


def test_sigquit_stops_at_once():
    srv = Server("--master", "--async", "4", "--ugreen", testlang=True)
    with srv:
        s = srv.connect()
        s.sendall(b"GET /gsleep?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGQUIT)
        srv.proc.wait(10)
        assert time.time() - t0 < 3


def test_sighup_replaces_workers_and_keeps_in_flight_requests():
    with Server("--master", "--processes", "2", "--async", "4", "--ugreen",
                testlang=True) as srv:
        assert wait_for(lambda: len(worker_pids(srv)) == 2)
        old = worker_pids(srv)
        s = srv.connect()
        s.sendall(b"GET /gsleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGHUP)
        resp = Reader(s).response()
        assert resp.status == 200 and b"slept" in resp.body, resp
        assert resp.header("connection") == "close"
        assert wait_for(lambda: len(worker_pids(srv) & old) == 0 and
                        len(worker_pids(srv)) == 2, 15), (old,
                                                          worker_pids(srv))


def load(srv, seconds, threads=4):
    """Keep-alive clients hammering /hello; returns (ok, failures)."""
    stop = time.time() + seconds
    counts = {"ok": 0, "fail": []}
    lock = threading.Lock()

    def client(i):
        s = r = None
        while time.time() < stop:
            try:
                if s is None:
                    s = srv.connect(timeout=10)
                    r = Reader(s)
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                resp = r.response()
                with lock:
                    if resp.status == 200:
                        counts["ok"] += 1
                    else:
                        counts["fail"].append(resp.status)
                if resp.header("connection") == "close":
                    s.close()
                    s = None
            except Exception as e:  # noqa: BLE001 - counted
                with lock:
                    counts["fail"].append(repr(e))
                if s is not None:
                    s.close()
                s = None
        if s is not None:
            s.close()

    parallel(client, threads)
    return counts["ok"], counts["fail"]


def test_no_request_fails_across_reloads_under_load():
    for procs in ("1", "2"):
        with Server("--master", "--processes", procs, "--async", "8",
                    "--ugreen", testlang=True) as srv:
            def reloads():
                for _ in range(3):
                    time.sleep(0.7)
                    srv.proc.send_signal(signal.SIGHUP)
            t = threading.Thread(target=reloads)
            t.start()
            ok, fails = load(srv, 3.5)
            t.join()
            assert ok > 100 and not fails, (procs, ok, fails[:5])
            assert srv.log().count("replacing worker") >= 3


def test_max_requests_replaces_the_worker_without_cutting_requests():
    with Server("--max-requests", "5", "--async", "4", "--ugreen",
                testlang=True) as srv:
        first = int(srv.get("/pid").body)
        s = srv.connect()
        s.sendall(b"GET /gsleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(6):
            srv.get("/hello")
        resp = Reader(s).response()
        assert b"slept" in resp.body
        assert wait_for(lambda: int(srv.get("/pid").body) != first, 10)
        assert "--max-requests" in srv.log()


def test_touch_reload_and_max_worker_lifetime_replace_workers():
    with tempfile.NamedTemporaryFile(delete=False) as f:
        pass
    try:
        with Server("--touch-reload", f.name, "--async", "2",
                    testlang=True) as srv:
            first = int(srv.get("/pid").body)
            time.sleep(1.1)
            os.utime(f.name)
            assert wait_for(lambda: int(srv.get("/pid").body) != first, 10)
            assert "--touch-reload" in srv.log()
    finally:
        os.unlink(f.name)
    with Server("--max-worker-lifetime", "2", "--async", "2",
                testlang=True) as srv:
        first = int(srv.get("/pid").body)
        assert wait_for(lambda: int(srv.get("/pid").body) != first, 10)
        assert "--max-worker-lifetime" in srv.log()


def test_reload_on_rss_replaces_a_fat_worker():
    with Server("--reload-on-rss", "40", "--async", "2",
                testlang=True) as srv:
        first = int(srv.get("/pid").body)
        srv.get("/alloc?mb=64")
        for _ in range(40):          # the check runs every 32 requests
            srv.get("/hello")
        assert wait_for(lambda: int(srv.get("/pid").body) != first, 10)
        assert "--reload-on-rss" in srv.log()


def test_harakiri_cancels_a_stuck_request_alone():
    with Server("--harakiri", "1", "--async", "4", "--ugreen",
                testlang=True) as srv:
        pid = int(srv.get("/pid").body)

        def slow(i):
            t0 = time.time()
            r = srv.get("/gsleep?ms=4000")
            return r.status, time.time() - t0

        s = srv.connect()
        res = []
        t = threading.Thread(target=lambda: res.append(slow(0)))
        t.start()
        time.sleep(0.2)
        # the others go on meanwhile
        for _ in range(5):
            assert srv.get("/hello").status == 200
        t.join(10)
        status, dt = res[0]
        assert status == 504, status
        assert 0.9 < dt < 3, dt
        assert int(srv.get("/pid").body) == pid   # the worker lived
        log = srv.log()
        assert "HARAKIRI: core" in log and "/gsleep?ms=4000" in log, log
        s.close()


def test_harakiri_shows_the_python_stack_where_it_waited():
    if "python" not in weftest.built_plugins() or \
            "ugreen" not in weftest.built_plugins():
        raise weftest.Skip("python or ugreen not built")
    app = os.path.join(weftest.APPS, "sleeping_green.py")
    with Server("--harakiri", "1", "--async", "4", "--ugreen", "--wsgi-file",
                app) as srv:
        r = srv.get("/?s=5")
        assert r.status == 504, r
        srv.expect_log("HARAKIRI: core")
        log = srv.expect_log("sleeping_green.py")
        assert "sleeping_green.py" in log and 'File "' in log, log


def test_harakiri_shows_the_ruby_stack_where_it_waited():
    if "rack" not in weftest.built_plugins() or \
            "fiber" not in weftest.built_plugins():
        raise weftest.Skip("rack or fiber not built")
    app = os.path.join(weftest.APPS, "rack_api.ru")
    with Server("--harakiri", "1", "--harakiri-verbose", "--async", "4",
                "--fiber", "--rack", app) as srv:
        r = srv.get("/sleep?s=5")
        assert r.status == 504, r
        assert srv.get("/hello").status == 200
        srv.expect_log("HARAKIRI: core")
        srv.expect_log("rack_api.ru:")
        log = srv.expect_log("REQUEST_URI = /sleep?s=5")
        assert "rack_api.ru:" in log, log          # a frame of the app
        assert "REQUEST_URI = /sleep?s=5" in log, log   # --harakiri-verbose


def test_harakiri_kills_a_worker_that_blocks_its_loop():
    with Server("--harakiri", "1", "--async", "4", testlang=True) as srv:
        old = int(srv.get("/pid").body)
        try:
            r = srv.get("/spin?ms=4000")
            assert r.status != 200, r
        except (EOFError, ConnectionError, ValueError):
            pass
        assert wait_for(lambda: int(srv.get("/pid").body) != old, 10)
        log = srv.log()
        assert "HARAKIRI: worker" in log and "/spin?ms=4000" in log, log


def test_limit_post_refuses_large_bodies_with_413():
    with Server("--limit-post", "1000", testlang=True) as srv:
        assert request(srv.port, "POST", "/echo", body=b"x" * 500).status == 200
        assert request(srv.port, "POST", "/echo",
                       body=b"x" * 5000).status == 413
        chunked = weftest.chunked(b"y" * 2048, 512)
        r = request(srv.port, "POST", "/echo", body=chunked,
                    headers={"Transfer-Encoding": "chunked"})
        assert r.status == 413, r
        assert srv.get("/hello").status == 200


def test_half_sent_heads_do_not_exhaust_the_cores():
    with Server("--async", "2", "--socket-timeout", "10",
                testlang=True) as srv:
        slow = []
        for _ in range(10):
            s = srv.connect()
            s.sendall(b"GET /hello HTTP/1.1\r\nHost:")
            slow.append(s)
        t0 = time.time()
        assert srv.get("/hello").status == 200
        assert time.time() - t0 < 1.5
        for s in slow:
            s.close()


def test_uid_drops_privileges_after_binding():
    if os.getuid() != 0:
        raise weftest.Skip("needs root")
    nobody = pwd.getpwnam("nobody")
    with Server("--uid", "nobody", testlang=True) as srv:
        status = open("/proc/%d/status" % srv.pid).read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        assert uid_line.split()[1] == str(nobody.pw_uid), uid_line
        assert srv.get("/hello").status == 200


def test_logto_and_sigusr2_reopen_and_sigusr1_stats():
    d = tempfile.mkdtemp()
    log = os.path.join(d, "weft.log")
    with Server("--master", "--logto", log, testlang=True) as srv:
        srv.get("/hello")
        assert wait_for(lambda: "GET /hello" in open(log).read())
        os.rename(log, log + ".1")
        srv.proc.send_signal(signal.SIGUSR2)
        assert wait_for(lambda: os.path.exists(log))
        time.sleep(0.3)
        srv.get("/core")
        assert wait_for(lambda: "GET /core" in open(log).read())
        srv.proc.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: "requests, " in open(log).read() and
                        "busy cores" in open(log).read())
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


def test_daemonize_detaches_and_logs_to_the_file():
    import subprocess
    d = tempfile.mkdtemp()
    log, pf = os.path.join(d, "weft.log"), os.path.join(d, "weft.pid")
    port = weftest.free_port()
    r = subprocess.run([weftest.WEFT, "--daemonize", log, "--pidfile", pf,
                        "--http-socket", "127.0.0.1:%d" % port,
                        "--plugins-dir", weftest.TESTPLUGINS, "--testlang"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r
    pid = wait_for(lambda: os.path.exists(pf) and
                   open(pf).read().strip() and int(open(pf).read()))
    try:
        assert pid and pid != r.returncode
        assert wait_for(lambda: request(port, "GET", "/pid").status == 200)
        assert int(request(port, "GET", "/pid").body) == pid
        sid = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[3]
        assert int(sid) == pid, "not a session leader: %s" % sid
        assert wait_for(lambda: "GET /pid" in open(log).read())
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                 "zombie" in open("/proc/%d/status" % pid).read())
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


def test_running_out_of_fds_pauses_accepting_without_spinning():
    with Server("--max-fd", "128", "--async", "2", testlang=True) as srv:
        # the app takes all but a few fds: accept() meets EMFILE
        assert srv.get("/fds?n=118").status == 200
        socks = []
        for _ in range(20):
            socks.append(srv.connect())
        time.sleep(0.3)
        cpu0 = srv.cpu_seconds()
        time.sleep(1.5)
        cpu = srv.cpu_seconds() - cpu0
        assert cpu < 0.3, "spun for %.2fs of CPU at EMFILE" % cpu
        log = srv.log()
        n = log.count("Too many open files")
        assert 1 <= n <= 5, (n, log[-2000:])
        for s in socks:
            s.close()


def test_max_fd_raises_the_limit():
    with Server("--max-fd", "4096", testlang=True) as srv:
        limits = open("/proc/%d/limits" % srv.pid).read()
        line = [l for l in limits.splitlines()
                if l.startswith("Max open files")][0]
        assert line.split()[3] == "4096", line


def test_a_worker_with_every_core_taken_leaves_connections_to_siblings():
    # a slow request holds worker A's only core: the next connections go
    # to worker B, none waits behind the slow request in A
    with Server("--master", "--processes", "2", testlang=True) as srv:
        assert wait_for(lambda: len(worker_pids(srv)) == 2)
        assert srv.wait_log("worker 2 (pid", 10) and \
            srv.wait_log("worker 1 (pid", 10)
        slow = threading.Thread(
            target=lambda: srv.get("/sleep?ms=4000", timeout=30))
        slow.start()
        assert wait_for(lambda: busy_cores_logged(srv, 2) >= 1), srv.log()
        lat = []
        for _ in range(10):
            t0 = time.time()
            assert srv.get("/hello", timeout=30).status == 200
            lat.append(time.time() - t0)
        slow.join(30)
        # serial would be ~4 s for one of them; concurrent ~0
        assert max(lat) < 2.0, lat


STUCK_FIBER_APP = """
run lambda { |env|
  if env['PATH_INFO'] == '/forever'
    loop do
      begin
        Fiber.yield
      rescue Exception
      end
    end
  end
  [200, {'content-type' => 'text/plain'}, ["pid #{Process.pid}"]]
}
"""


def test_a_reload_replaces_a_worker_whose_request_never_ends():
    # issue 10: a request that swallows its cancellation (Fiber.yield in a
    # loop, rescuing everything) kept a stopping worker alive for good;
    # on a reload the new worker serves and the old one is gone after the
    # mercy and the cancel grace
    weftest.require("rack", "fiber")
    ru = weftest.write_file("stuck_fiber.ru", STUCK_FIBER_APP)
    with Server("--master", "--rack", ru, "--async", "4", "--fiber",
                "--worker-reload-mercy", "1") as srv:
        old = int(srv.get("/").body.split()[1])
        s = srv.connect()
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: busy_cores_logged(srv, 1) >= 1), srv.log()
        os.kill(srv.pid, signal.SIGHUP)
        srv.expect_log("cancelling it", timeout=20)
        assert wait_for(lambda: old not in worker_pids(srv), 20), \
            srv.log()[-2000:]
        assert "exiting anyway" in srv.log() or \
            "killing it" in srv.log(), srv.log()[-2000:]
        new = int(srv.get("/").body.split()[1])
        assert new != old and new in worker_pids(srv)
        s.close()


# ------------------------------------------------------------ --cheaper


def test_cheaper_adds_workers_under_load_and_stops_them_when_idle():
    # uWSGI's spare algorithm: start --cheaper-initial (default --cheaper);
    # every worker busy for more than --cheaper-overload checks (1 s
    # each) starts one more; more than one idle stops the oldest idle one
    with Server("--master", "--processes", "3", "--cheaper", "1",
                "--cheaper-overload", "1", testlang=True) as srv:
        srv.expect_log("started 1 of 3 workers")
        assert wait_for(lambda: len(worker_pids(srv)) == 1), worker_pids(srv)
        # three requests that hold their worker's only core for 6 s; the
        # first one is in before the others come, so they wait in the
        # backlog (a worker with no free core does not accept) for the
        # workers the load starts
        out = []

        def one():
            out.append(srv.get("/sleep?ms=6000", timeout=60))

        ths = [threading.Thread(target=one) for _ in range(3)]
        ths[0].start()
        assert wait_for(lambda: busy_cores_logged(srv, 1) >= 1), srv.log()
        ths[1].start()
        ths[2].start()
        srv.expect_log("started worker 2", timeout=30)
        srv.expect_log("started worker 3", timeout=30)
        assert wait_for(lambda: len(worker_pids(srv)) == 3, 30), \
            srv.log()[-2000:]
        for t in ths:
            t.join(60)
        assert [r.status for r in out] == [200, 200, 200], out
        # each was served by a worker of its own
        pids = [l.split("|")[0] for l in srv.log().splitlines()
                if "GET /sleep" in l]
        assert len(set(pids)) == 3, pids
        # idle now: down to --cheaper, one at a time, gracefully
        assert wait_for(lambda: srv.log().count(") cheaped") >= 2, 30), \
            srv.log()[-2000:]
        assert wait_for(lambda: len(worker_pids(srv)) == 1, 30), \
            worker_pids(srv)
        assert srv.get("/hello").status == 200
        log = srv.log()
        assert "more than one worker idle (--cheaper): stopping worker" in log
        assert log.count(") cheaped") == 2, log[-2000:]


def test_cheaper_initial_and_a_reload_leave_cheaped_workers_stopped():
    with Server("--master", "--processes", "4", "--cheaper", "1",
                "--cheaper-initial", "2", "--cheaper-overload", "60",
                testlang=True) as srv:
        srv.expect_log("started 2 of 4 workers")
        assert wait_for(lambda: len(worker_pids(srv)) == 2), worker_pids(srv)
        before = worker_pids(srv)
        os.kill(srv.pid, signal.SIGHUP)
        srv.expect_log("replacing worker 2")
        assert wait_for(lambda: len(worker_pids(srv)) == 2 and
                        not worker_pids(srv) & before, 20), \
            (before, worker_pids(srv), srv.log()[-2000:])
        log = srv.log()
        assert "replacing worker 3" not in log and \
            "replacing worker 4" not in log, log[-2000:]


def test_cheaper_with_idle_brings_back_only_the_fewest():
    with Server("--master", "--processes", "3", "--cheaper", "1",
                "--cheaper-initial", "3", "--cheaper-overload", "1",
                "--idle", "2", testlang=True) as srv:
        srv.expect_log("started 3 of 3 workers")
        assert wait_for(lambda: not worker_pids(srv), 30), srv.log()[-2000:]
        srv.expect_log("stopping it until a connection comes")
        assert srv.get("/hello", timeout=20).status == 200
        assert len(worker_pids(srv)) == 1, srv.log()[-2000:]


def test_cheaper_options_are_checked_as_uwsgi_checks_them():
    app = ["--plugins-dir", weftest.TESTPLUGINS, "--testlang"]
    r = weftest.run_weft("--master", "--processes", "2", "--cheaper", "2",
                         *app, http_socket=True)
    assert r.returncode == 1, r
    assert r.stderr.strip().splitlines() == [
        "weft: --cheaper 2: must be lower than --processes (2), as uWSGI "
        "requires; set processes to the most workers and cheaper to the "
        "fewest"], r.stderr
    r = weftest.run_weft("--processes", "2", "--cheaper", "1",
                         "--cheaper-algo", "busyness", *app,
                         http_socket=True)
    assert r.returncode == 1 and "--cheaper-algo busyness: weft has " \
        "uWSGI's spare algorithm only" in r.stderr, r
    r = weftest.run_weft("--processes", "2", "--cheaper", "1",
                         "--cheaper-rss-limit-soft", "100000", *app,
                         http_socket=True)
    assert r.returncode == 1 and "--cheaper-rss-limit-soft" in r.stderr \
        and "--reload-on-rss" in r.stderr, r
    r = weftest.run_weft("--processes", "2", "--cheaper", "1",
                         "--cheaper-overload", "0", *app, http_socket=True)
    assert r.returncode == 1 and "--cheaper-overload" in r.stderr, r


def test_cheaper_initial_out_of_range_is_brought_in_range():
    # uWSGI warns and starts --processes (or --cheaper) workers; and
    # --cheaper turns the master on, as in uWSGI
    with Server("--processes", "2", "--cheaper", "1", "--cheaper-initial",
                "5", "--cheaper-overload", "60", testlang=True) as srv:
        log = srv.expect_log("started 2 of 2 workers")
        assert "--cheaper-initial 5: higher than --processes (2)" in log
        assert "running with --master" in log
        assert wait_for(lambda: len(worker_pids(srv)) == 2)


weftest.main()
