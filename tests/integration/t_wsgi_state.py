"""Per-core Python interpreter state (docs/langs/python.md, issue 2): requests that
suspend at different call depths, exceptions and contextvars must behave as
in plain CPython while cores interleave; 1000 rounds in a row; RSS stays
flat; deep recursion raises RecursionError on a ugreen stack.

The apps are tests/apps/depth.py and recursion.py. The expected bodies are
computed by running depth.py in this (plain CPython) process, one request
after the other, with a stand-in uwsgi module whose waits do nothing.
"""

import importlib.util
import os
import re
import sys
import time
import types

import weftest
from weftest import Reader, Server, app, parallel, request


# -------------------------------------------------- plain CPython's answers

_reference = {}


def reference(path):
    """The body depth.py gives for path under plain CPython (computed once,
    in the calling thread: call it before starting client threads)."""
    if path not in _reference:
        fake = types.ModuleType("uwsgi")
        fake.async_sleep = lambda s: b""
        fake.suspend = lambda: True
        fake.core_id = lambda: 0
        saved = sys.modules.get("uwsgi")
        sys.modules["uwsgi"] = fake
        try:
            spec = importlib.util.spec_from_file_location(
                "depth_reference", app("depth.py"))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            p, _, q = path.partition("?")
            out = mod.application({"PATH_INFO": p, "QUERY_STRING": q},
                                  lambda status, headers: None)
            _reference[path] = b"".join(out)
        finally:
            if saved is None:
                del sys.modules["uwsgi"]
            else:
                sys.modules["uwsgi"] = saved
    return _reference[path]


def same_as_cpython(path, body):
    """'' when body is what plain CPython gives, else why not."""
    want = reference(path)
    if path.startswith("/depth"):
        # the stack size and the core differ (other callers, other core)
        strip = re.compile(rb" stack=-?\d+ core=\d+\n$")
        if strip.sub(b"", want) != strip.sub(b"", body):
            return "want %r" % want
        d = int(re.search(r"d=(\d+)", path).group(1))
        m = re.search(rb" stack=(-?\d+) ", body)
        frames = int(m.group(1)) if m else -2
        gen = "style=gen" in path
        if (gen and frames != -1) or (not gen and frames < d):
            return "traceback of %d frames at depth %d" % (frames, d)
        return ""
    return "" if body == want else "want %r" % want


# ------------------------------------------------------------- the rounds

# (path, when the client sends it, in s from the start of the round).
# depth: A suspends 10 deep, B 60 deep, A ends, C and D recurse 300/200
#        deep without suspending (reusing the stack A left), B resumes.
# exc:   B leaves its except block while A is suspended inside its own.
# cv:    A sets cv=A and suspends, B sets cv=B, A reads its own value.
DEPTH = [("/depth?d=10&s=0.01", 0.0), ("/depth?d=60&s=0.03", 0.003),
         ("/depth?d=300&s=-1", 0.015), ("/depth?d=200&s=-1", 0.017)]
EXC = [("/exc?name=A&s=0.02", 0.0), ("/exc?name=B&s=0", 0.003),
       ("/exc?name=C&s=0.005", 0.006)]
CV = [("/cv?name=A&s=0.02", 0.0), ("/cv?name=B&s=0.005", 0.003),
      ("/cv?name=C&s=-1", 0.006)]


def one_round(srv, scenario, style):
    """Run the scenario once; returns the list of wrong answers."""
    def one(i):
        path, delay = scenario[i]
        path += "&style=" + style
        time.sleep(delay)
        try:
            r = request(srv.port, "GET", path, timeout=20)
        except OSError as e:
            return (path, "no answer: %r (weft %s)" % (e, srv.proc.poll()))
        if r.status != 200:
            return (path, r.status, r.body)
        why = same_as_cpython(path, r.body)
        return (path, r.body, why) if why else None

    res, _ = parallel(one, len(scenario))
    return [r for r in res if r is not None]


def rounds(srv, scenario, style, n, limit):
    """n rounds in a row, stopping at the first wrong answer; fails when
    they take over `limit` seconds."""
    for path, _ in scenario:
        assert reference(path + "&style=" + style).startswith(b"ok ")
    t0 = time.time()
    for i in range(n):
        bad = one_round(srv, scenario, style)
        assert not bad, "round %d of %d: %r\nweft: %s\nlog:\n%s" % (
            i + 1, n, bad[:4], "running" if srv.proc.poll() is None else
            "exited with %s" % srv.proc.poll(), srv.log()[-3000:])
        assert time.time() - t0 < limit, "%d rounds took over %ds" % (
            i + 1, limit)
    return time.time() - t0


def green_server(*extra, env=None):
    weftest.require("python", "ugreen")
    return Server("--wsgi-file", app("depth.py"), "--async", "8",
                  "--ugreen", "--disable-logging", *extra, env=env)


def test_requests_suspended_at_different_depths_survive_one_ending_first():
    with green_server() as srv:
        rounds(srv, DEPTH, "green", 30, 60)
        assert srv.proc.poll() is None


def test_exception_state_does_not_leak_between_suspended_requests():
    with green_server() as srv:
        rounds(srv, EXC, "green", 30, 60)


def test_contextvars_do_not_leak_between_suspended_requests():
    with green_server() as srv:
        rounds(srv, CV, "green", 30, 60)


def test_generator_style_state_matches_cpython_without_an_engine():
    weftest.require("python")
    with Server("--wsgi-file", app("depth.py"), "--async", "8",
                "--disable-logging") as srv:
        for scenario in (DEPTH, EXC, CV):
            rounds(srv, scenario, "gen", 10, 60)


ALL = DEPTH + EXC + CV


def test_a_thousand_rounds_in_a_row_on_ugreen():
    with green_server() as srv:
        dt = rounds(srv, ALL, "green", 1000, 150)
        print("  1000 rounds in %.1fs" % dt)
        assert srv.proc.poll() is None


def test_a_thousand_generator_rounds_in_a_row_without_an_engine():
    weftest.require("python")
    with Server("--wsgi-file", app("depth.py"), "--async", "8",
                "--disable-logging") as srv:
        dt = rounds(srv, ALL, "gen", 1000, 150)
        print("  1000 rounds in %.1fs" % dt)
        assert srv.proc.poll() is None


# ------------------------------------------------------------------ memory

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


# /exc sleeps 10 ms after its except block: one in eight
RSS_PATHS = [b"/depth?d=50&s=0", b"/cv?name=A&s=0", b"/exc?name=A&s=0",
             b"/depth?d=50&s=-1&style=gen", b"/cv?name=B&s=0&style=gen",
             b"/depth?d=20&s=0.001", b"/cv?name=C&s=-1",
             b"/depth?d=5&s=-1"]


def hammer(srv, total, clients=5):
    """total requests from `clients` keep-alive connections at once."""
    def run(i):
        s = srv.connect(timeout=20)
        rd = Reader(s)
        try:
            for k in range(-(-total // clients)):
                path = RSS_PATHS[(i + k) % len(RSS_PATHS)]
                s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                r = rd.response()
                assert r.status == 200 and r.body.startswith(b"ok"), (path,
                                                                      r)
        finally:
            s.close()
    parallel(run, clients)


def test_worker_rss_stays_flat_over_twenty_thousand_requests():
    # the worker is the weft process itself (no --master). Under
    # AddressSanitizer freed memory sits in a quarantine that grows the RSS
    # by itself: switched off here (the variable means nothing otherwise)
    asan = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o]
    env = {"ASAN_OPTIONS": ":".join(asan + ["quarantine_size_mb=0"])}
    with green_server(env=env) as srv:
        hammer(srv, 1000)
        before = rss_kb(srv.pid)
        t0 = time.time()
        hammer(srv, 19000)
        after = rss_kb(srv.pid)
        print("  RSS %d KiB after 1000 requests, %d KiB after 20000 "
              "(%.1fs)" % (before, after, time.time() - t0))
        assert after <= before * 1.2 + 4096, (before, after)


# --------------------------------------------------------------- recursion

def checked_get(srv, path):
    try:
        return srv.get(path)
    except (OSError, EOFError) as e:
        raise AssertionError("%s: %r; weft %s; log:\n%s" % (
            path, e, "running" if srv.proc.poll() is None else
            "exited with %s" % srv.proc.poll(), srv.log()[-3000:]))


def test_deep_recursion_raises_recursionerror_on_the_default_ugreen_stack():
    weftest.require("python", "ugreen")
    with Server("--wsgi-file", app("recursion.py"), "--async", "4",
                "--ugreen") as srv:
        assert "ugreen: 4 cores" in srv.log(), srv.log()
        for q, want in (("n=300", b"depth 300\n"),
                        ("n=100000", b"RecursionError at n=100000"),
                        ("n=2000&limit=5000", b"depth 2000\n"),
                        ("n=100000&limit=20000",
                         b"RecursionError at n=100000")):
            r = checked_get(srv, "/?" + q)
            assert r.status == 200 and r.body.startswith(want), (q, r)
        # several at once, each on its own stack
        res, _ = parallel(
            lambda i: checked_get(srv, "/?n=100000&limit=20000"), 4)
        assert all(r.body.startswith(b"RecursionError") for r in res), res
        assert checked_get(srv, "/?n=10").body == b"depth 10\n"
        assert srv.proc.poll() is None
        assert "overflow" not in srv.log().lower(), srv.log()[-2000:]


weftest.main()
