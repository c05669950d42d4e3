"""The uwsgi:: Perl API (langs/psgi/ps_module.c) in each mode it can run
in, against tests/apps/uwsgi_api.psgi: the sync mode, --async N without an
engine (the core's "block" strategy: every wait happens in place, the
worker blocked, as a sync server would) and --coroae N (the waits are
AnyEvent watchers; the other requests run meanwhile). Every function:
async_sleep, wait_fd_read, wait_fd_write, suspend, ready_fd, timed_out,
async_connect, is_connected, connection_fd, worker_id, core_id, cores,
version, $uwsgi::VERSION, $uwsgi::loop, log; outside a request they die
with uWSGI's message. The suspend engines (--ugreen, --greenlet, --fiber)
are refused at start-up naming --coroae. Skipped (77) without the psgi
plugin."""

import os
import time

import weftest
from weftest import DelayedTCPServer, Server, parallel, request

API = os.path.join(weftest.APPS, "uwsgi_api.psgi")

MODES = (("sync", (), 1), ("async", ("--async", "4"), 4),
         ("coroae", ("--coroae", "4"), 4))


def modes():
    weftest.require("psgi")
    for name, args, cores in MODES:
        if name == "coroae" and "coroae" not in weftest.built_plugins():
            print("  (coroae not built: that mode skipped)")
            continue
        yield name, args, cores


def get(srv, path, **kw):
    return request(srv.port, "GET", path, **kw)


def body(srv, path):
    r = get(srv, path)
    assert r.status == 200, (path, r, srv.log()[-2000:])
    return r.body.decode()


def test_every_function_in_every_mode():
    for name, args, cores in modes():
        with DelayedTCPServer(delay=0.2) as echo, \
                DelayedTCPServer(answer=False) as mute, \
                Server("--psgi", API, *args) as srv:
            ids = dict(kv.split("=", 1) for kv in body(srv, "/ids").split())
            assert ids["worker"] == "1" and ids["cores"] == str(cores), \
                (name, ids)
            assert 0 <= int(ids["core"]) < cores, (name, ids)
            assert ids["version"] == ids["VERSION"] != "", (name, ids)
            assert ids["cfd_is_socket"] == "1", (name, ids)
            assert ids.get("loop", "") == ("coroae" if name == "coroae"
                                           else ""), (name, ids)
            srv.expect_log("uwsgi-api-log-line from worker 1")

            b = body(srv, "/sleep?s=0.3").split()
            assert b[0] == "slept" and float(b[1]) >= 0.28, (name, b)
            assert b[2:4] == ["timed_out=1", "ready_fd=-1"], (name, b)

            b = body(srv, "/fd?port=%d" % echo.port)
            assert b == "fd ready timed_out=0 echo:hey", (name, b)

            b = body(srv, "/fd_timeout?t=0.3&port=%d" % mute.port).split()
            assert b[:2] == ["ready_fd=-1", "timed_out=1"], (name, b)
            assert float(b[3]) >= 0.28, (name, b)

            # waits inside a getline body, between its lines
            assert body(srv, "/lines?s=0.1") == "line0\nline1\nline2\n", name

            assert "only from the main callable" in body(srv, "/outside"), \
                name
            if name == "coroae":
                assert "only from the main callable" in \
                    body(srv, "/spawned"), name

            r = get(srv, "/dies")
            assert r.status == 500, (name, r)
            srv.expect_log("unable to add fd -1 to the event queue")
            assert body(srv, "/ids").startswith("worker=1"), name


def test_waits_overlap_under_coroae_and_block_in_place_without_it():
    weftest.require("psgi")
    # --async 4 without an engine: a wait holds the worker (documented;
    # the start-up warning names --coroae); lower bound only
    with Server("--psgi", API, "--async", "4") as srv:
        srv.expect_log("--coroae N (PSGI)")
        out, took = parallel(lambda i: get(srv, "/sleep?s=1"), 2)
        assert all(r.status == 200 for r in out), out
        assert took >= 1.9, took
    if "coroae" not in weftest.built_plugins():
        raise weftest.Skip("coroae not built")
    with DelayedTCPServer(delay=1.0) as slow, \
            Server("--psgi", API, "--coroae", "10") as srv:
        t0 = time.time()
        out, _ = parallel(lambda i: get(srv, "/sleep?s=1" if i % 2 else
                                        "/fd?port=%d" % slow.port), 10)
        took = time.time() - t0
        assert sorted({r.body.split()[0] for r in out}) == \
            [b"fd", b"slept"], out
        assert all(r.body == b"fd ready timed_out=0 echo:hey"
                   for r in out if r.body.startswith(b"fd")), out
        assert took < 4.5, took


def test_suspend_engines_are_refused_naming_coroae():
    weftest.require("psgi")
    tried = 0
    for engine in ("ugreen", "greenlet", "fiber"):
        if engine not in weftest.built_plugins():
            continue
        tried += 1
        p = weftest.run_weft("--psgi", API, "--async", "4", "--" + engine,
                             http_socket=True)
        last = (p.stdout + p.stderr).strip().splitlines()[-1]
        assert p.returncode != 0, (engine, last)
        assert last == ("weft: --psgi cannot run on --%s: it switches C "
                        "stacks but not Perl's (one set per interpreter); "
                        "use --coroae N" % engine), last
    if tried == 0:
        raise weftest.Skip("no suspend engine built")


weftest.main()
