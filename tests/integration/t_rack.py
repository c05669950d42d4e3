"""Rack: the rack plugin (langs/rack), the UWSGI Ruby module and the fiber
suspend engine (engines/fiber), against tests/apps/*.ru. The HTTP/1.1
cases of t_http.py run against a Rack app, with and without --fiber.
Skipped (77) when the rack plugin is not built."""

import json
import os
import socket
import time

import weftest
from weftest import Reader, Server, chunked, parallel, request

API = os.path.join(weftest.APPS, "rack_api.ru")
ENV = os.path.join(weftest.APPS, "env.ru")
HELLO_RU = os.path.join(weftest.APPS, "hello.ru")
HELLO_PY = os.path.join(weftest.APPS, "hello.py")


def have(name):
    return name in weftest.built_plugins()


def modes():
    """(label, extra args): sync, and --async 4 --fiber when built."""
    out = [("sync", [])]
    if have("fiber"):
        out.append(("fiber", ["--async", "4", "--fiber"]))
    else:
        print("  (fiber engine not built: fiber cases skipped)")
    return out


def servers(app=API, *args):
    weftest.require("rack")
    for label, extra in modes():
        yield label, Server("--rack", app, *(extra + list(args)))


def fiber_server(*args, app=API, cores=10):
    weftest.require("rack", "fiber")
    return Server("--rack", app, "--async", str(cores), "--fiber", *args)


def get(srv, path, **kw):
    return request(srv.port, "GET", path, **kw)


def start_fails(*args):
    """Run weft expecting a start-up failure: (exit status, last line)."""
    p = weftest.run_weft(*args, http_socket=True)
    lines = (p.stdout + p.stderr).strip().splitlines()
    return p.returncode, lines[-1] if lines else ""


# ----------------------------------------------------------- HTTP/1.1


def test_keepalive_serves_several_requests_on_one_connection():
    for label, srv in servers():
        with srv:
            weftest.check_keepalive(srv, label)


def test_connection_close_is_honoured():
    for label, srv in servers():
        with srv:
            weftest.check_connection_close(srv, label)


def test_pipelined_requests_are_answered_in_order():
    for label, srv in servers():
        with srv:
            s = srv.connect()
            s.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 5\r\n\r\nabcde"
                      b"GET /chunks?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = Reader(s)
            bodies = [r.response().body for _ in range(4)]
            assert b"core_id" in bodies[0], (label, bodies)
            assert bodies[1] == b"Hello World", (label, bodies)
            assert bodies[2] == b"abcde", (label, bodies)
            assert bodies[3].count(b"chunk") == 2, (label, bodies)


def test_content_length_body_reaches_the_app_through_rack_input():
    payload = os.urandom(300000)
    for label, srv in servers():
        with srv:
            resp = request(srv.port, "POST", "/echo", body=payload)
            assert resp.status == 200 and resp.body == payload, label
            assert resp.header("content-length") == str(len(payload))


def test_chunked_request_body_reaches_the_app_through_rack_input():
    payload = os.urandom(100000)
    chunks = chunked(payload, 7000, ext=b";ext=1",
                     trailer=b"X-Trailer: y\r\n")
    for label, srv in servers():
        with srv:
            resp = request(srv.port, "POST", "/echo",
                           headers={"Transfer-Encoding": "chunked"},
                           body=chunks)
            assert resp.status == 200 and resp.body == payload, label


def test_head_gets_the_length_but_no_body():
    for label, srv in servers():
        with srv:
            s = srv.connect()
            r = Reader(s)
            s.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = r.response(head=True)
            assert resp.status == 200, label
            assert resp.header("content-length") == "11", (label, resp)
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = r.response()
            assert resp.status == 200 and resp.body == b"Hello World", label


BAD_REQUESTS = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
]


def test_malformed_requests_get_400_and_the_worker_keeps_serving():
    for label, srv in servers():
        with srv:
            for raw, code in BAD_REQUESTS:
                s = srv.connect()
                s.sendall(raw)
                resp = Reader(s).response()
                assert resp.status == code, (label, raw, resp)
                s.close()
                assert get(srv, "/hello").body == b"Hello World"


# ----------------------------------------------------------- the env


def test_env_has_everything_rack_requires():
    for label, srv in servers(ENV):
        with srv:
            resp = request(srv.port, "GET", "/some/path?a=1&b=2",
                           headers={"X-Custom": "yes"})
            assert resp.status == 200, (label, resp)
            env = json.loads(resp.body)
            assert env["REQUEST_METHOD"] == "GET"
            assert env["SCRIPT_NAME"] == ""
            assert env["PATH_INFO"] == "/some/path"
            assert env["QUERY_STRING"] == "a=1&b=2"
            assert env["SERVER_NAME"] == "127.0.0.1", env["SERVER_NAME"]
            assert env["SERVER_PORT"] == str(srv.port)
            assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
            assert env["REMOTE_ADDR"] == "127.0.0.1"
            assert env["HTTP_X_CUSTOM"] == "yes"
            assert env["HTTP_HOST"] == "127.0.0.1:%d" % srv.port
            assert env["rack.version"] == [1, 3]
            assert env["rack.url_scheme"] == "http"
            assert env["rack.multithread"] is False
            assert env["rack.multiprocess"] is True
            assert env["rack.run_once"] is False
            assert env["rack.hijack?"] is False
            assert env["rack.input"] == "#<UWSGI::RackInput>"
            assert env["rack.errors"] == "#<UWSGI::RackErrors>"
            assert env["_input_methods"] == ["read", "gets", "each", "rewind"]
            assert env["_errors_methods"] == ["puts", "write", "flush"]
            assert isinstance(env["uwsgi.core"], int)
            assert env["uwsgi.version"]
            assert "CONTENT_LENGTH" not in env, env
            assert "HTTP_CONTENT_LENGTH" not in env
            assert env["_encodings"]["PATH_INFO"] == "ASCII-8BIT"


def test_env_of_a_post_has_content_length_and_type():
    for label, srv in servers(ENV):
        with srv:
            resp = request(srv.port, "POST", "/", body=b"abc",
                           headers={"Content-Type": "text/x-test"})
            env = json.loads(resp.body)
            assert env["CONTENT_LENGTH"] == "3", env
            assert env["CONTENT_TYPE"] == "text/x-test"
            assert "HTTP_CONTENT_TYPE" not in env
            assert "HTTP_CONTENT_LENGTH" not in env


def test_post_body_through_rack_input_with_rewind():
    body = b"line1\nline2\nend"
    for label, srv in servers():
        with srv:
            resp = request(srv.port, "POST", "/rewind", body=body)
            assert resp.status == 200, (label, resp)
            got = json.loads(resp.body)
            assert got == {
                "all": "line1\nline2\nend", "all_encoding": "ASCII-8BIT",
                "again": "", "chunk_at_eof": "nil", "first3": "lin",
                "line": "e1\n", "rest": "line2\nend",
                "lines": ["line1\n", "line2\n", "end"], "outbuf": "line",
            }, (label, got)


# ------------------------------------------------------ the response


def test_multi_value_headers_are_split_into_lines():
    for label, srv in servers():
        with srv:
            resp = get(srv, "/multi")
            cookies = [v for k, v in resp.headers if k == "set-cookie"]
            multi = [v for k, v in resp.headers if k == "x-multi"]
            assert cookies == ["a=1", "b=2"], (label, resp.headers)
            assert multi == ["x", "y"], (label, resp.headers)


def test_exception_gives_500_a_backtrace_in_the_log_and_the_next_works():
    for label, srv in servers():
        with srv:
            resp = get(srv, "/raise")
            assert resp.status == 500, (label, resp)
            assert get(srv, "/hello").status == 200
            assert srv.wait_log("ArgumentError: boom from the app", 3.0), \
                srv.log()
            log = srv.log()
            assert "rack: exception in the app, GET /raise" in log
            assert "rack_api.ru:" in log and "from " in log, log


def test_non_string_body_chunk_gives_500():
    for label, srv in servers():
        with srv:
            resp = get(srv, "/badchunk")
            assert resp.status == 500, (label, resp)
            assert srv.wait_log("body chunk 2 is a Integer, not a String", 3.0)
            assert get(srv, "/hello").status == 200


def test_non_string_chunk_after_the_head_truncates_the_body():
    for label, srv in servers():
        with srv:
            out = srv.raw_until_close(b"GET /badchunk-late HTTP/1.1\r\n"
                                  b"Host: x\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 200 OK"), (label, out[:100])
            # chunked, and never properly ended: the client sees the cut
            assert not out.endswith(b"0\r\n\r\n"), label
            assert get(srv, "/hello").status == 200


def test_body_close_is_called_on_success_and_on_errors():
    for label, srv in servers():
        with srv:
            assert get(srv, "/closes").body == b"0"
            get(srv, "/chunks?n=3")
            get(srv, "/raise-late")
            srv.raw_until_close(b"GET /badchunk-late HTTP/1.1\r\n"
                            b"Host: x\r\n\r\n")
            get(srv, "/file")
            assert get(srv, "/closes").body == b"4", label


def test_bad_status_and_bad_header_give_500():
    for label, srv in servers():
        with srv:
            assert get(srv, "/bad-status").status == 500
            assert get(srv, "/bad-header").status == 500
            assert srv.wait_log("the response status 42 is not a 3-digit", 3.0)
            assert srv.wait_log("invalid response header X-Bad: a?b", 3.0)


def test_string_status_gets_the_reason_from_rack():
    for label, srv in servers():
        with srv:
            resp = get(srv, "/status-string")
            assert resp.status == 201 and resp.reason == "Created", resp


def test_to_path_body_is_sent_whole():
    with open(API, "rb") as f:
        content = f.read()
    for label, srv in servers():
        with srv:
            resp = get(srv, "/file")
            assert resp.status == 200 and resp.body == content, label
            assert resp.header("content-length") == str(len(content))


def test_rack_errors_lines_reach_the_log():
    for label, srv in servers():
        with srv:
            assert get(srv, "/errors").body == b"logged"
            assert srv.wait_log("hello from rack.errors", 3.0)
            log = srv.log().splitlines()
            assert "partial line" in log, label
            assert "tail without newline" in log, label


def test_exit_in_the_app_is_a_500_and_the_worker_lives_on():
    for label, srv in servers():
        with srv:
            assert get(srv, "/exit").status == 500
            assert get(srv, "/hello").status == 200
            assert srv.proc.poll() is None
            assert srv.wait_log("SystemExit", 3.0)
            assert "worker 1 (pid" in srv.log()
            assert srv.log().count("ready:") == 1, "the worker was respawned"


# -------------------------------------------------------- UWSGI module


def test_uwsgi_module_refuses_calls_outside_a_request():
    for label, srv in servers():
        with srv:
            got = json.loads(get(srv, "/load-errors").body)
            for name in ("suspend", "async_sleep", "wait_fd_read",
                         "wait_fd_write", "connection_fd", "core_id",
                         "ready_fd"):
                assert got[name].startswith(
                    "RuntimeError: you can call UWSGI api function only "
                    "from the main callable"), (name, got[name])
            assert got["worker_id"] == 0      # loaded in the master
            assert got["version"]


def test_uwsgi_module_values_and_argument_errors():
    for label, srv in servers():
        with srv:
            api = json.loads(get(srv, "/api").body)
            assert api["worker_id"] == 1 and api["ready_fd"] == -1, api
            assert api["version"] == api["VERSION"]
            assert api["connection_fd"] > 2
            assert 0 <= api["core_id"] < api["cores"]
            errs = json.loads(get(srv, "/api-errors").body)
            assert errs["sleep_str"].startswith("TypeError:"), errs
            assert errs["sleep_nan"].startswith("ArgumentError:"), errs
            assert errs["wait_neg"] == ("RuntimeError: unable to add fd -1 "
                                        "to the event queue"), errs
            assert errs["wait_bad"] == ("RuntimeError: unable to add fd "
                                        "987654 to the event queue"), errs
            assert errs["wait_tmo"].startswith("TypeError:"), errs
            assert errs["connect_bad"] == "returned -1", errs
            assert errs["connect_bad_port"] == "returned -1", errs


def test_suspend_without_an_engine_returns_true():
    # uWSGI segfaults here
    weftest.require("rack")
    for args in ([], ["--async", "4"]):
        with Server("--rack", API, *args) as srv:
            assert get(srv, "/suspend").body == b"suspend=true"
            resp = get(srv, "/sleep?s=0.2")
            assert b"suspend=true" in resp.body, resp
            assert get(srv, "/hello").status == 200
            assert srv.proc.poll() is None


def test_suspend_without_an_engine_waits_in_place():
    # issue 9: UWSGI.async_sleep(1) then UWSGI.suspend without a suspend
    # engine used to return at once; the worker now blocks for the wait
    weftest.require("rack")
    with Server("--rack", API, "--async", "2") as srv:
        t0 = time.time()
        body = get(srv, "/sleep?s=1").body
        dt = time.time() - t0
        slept = float(body.split(b"slept ")[1].split()[0])
        assert slept >= 1.0 and dt >= 1.0, (slept, dt, body)
        assert b"suspend=true timed_out=true" in body, body


# --------------------------------------------------------------- fiber


def test_fiber_ten_sleeps_on_ten_cores_take_one_second():
    with fiber_server() as srv:
        for path in ("/sleep?s=1", "/sleep?s=1&int=1"):
            res, dt = parallel(lambda i: get(srv, path), 10)
            assert all(r.status == 200 and b"timed_out=true" in r.body
                       for r in res), res
            assert len({r.body.split(b"core=")[1] for r in res}) == 10, res
            assert 0.9 < dt < 1.8, (path, dt)


def test_fiber_sub_second_sleep_has_millisecond_resolution():
    with fiber_server(cores=4) as srv:
        t0 = time.time()
        resp = get(srv, "/sleep?s=0.25")
        dt = time.time() - t0
        assert b"timed_out=true" in resp.body, resp
        assert 0.24 < dt < 0.6, dt


def test_fiber_twenty_sleeps_on_ten_cores_take_two_seconds():
    with fiber_server() as srv:
        res, dt = parallel(lambda i: get(srv, "/sleep?s=1"), 20)
        assert all(r.status == 200 for r in res), res
        assert 1.9 < dt < 3.2, dt


def test_fiber_gc_while_requests_are_suspended_leaks_no_roots():
    with fiber_server() as srv:
        for _ in range(3):
            res, dt = parallel(lambda i: get(srv, "/sleep?s=0.2&gc=1"), 20)
            assert all(r.status == 200 and b"1000" in r.body
                       for r in res), res
        live = json.loads(get(srv, "/live").body)
        # the root fiber, this request's fiber, and its rack.input
        assert live["fibers"] <= 3, live
        assert live["inputs"] <= 1, live


def test_fiber_exception_reaches_the_500_path():
    with fiber_server(cores=4) as srv:
        res, dt = parallel(lambda i: get(srv, "/raise" if i % 2 else
                                         "/sleep?s=0.3"), 8)
        assert sorted(r.status for r in res) == [200] * 4 + [500] * 4, res
        assert get(srv, "/hello").status == 200
        assert srv.wait_log("ArgumentError: boom from the app", 3.0)
        assert "fiber: resuming core" not in srv.log()


def test_fiber_a_slow_request_body_does_not_block_the_others():
    with fiber_server(cores=4) as srv:
        slow = srv.connect()
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 10\r\n\r\n12345")
        time.sleep(0.2)
        t0 = time.time()
        assert get(srv, "/hello").status == 200
        assert time.time() - t0 < 0.5
        slow.sendall(b"67890")
        resp = Reader(slow).response()
        assert resp.body == b"1234567890", resp


def test_fiber_waits_on_fds_and_connects():
    with fiber_server(cores=4) as srv:
        t0 = time.time()
        body = get(srv, "/fdwait?t=0.3").body
        assert b"ready_fd=-1 timed_out=true" in body, body
        assert 0.25 < time.time() - t0 < 1.0
        assert get(srv, "/fdready").body == b"ready=true timed_out=false"
        lsn = socket.socket()
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        body = get(srv, "/connect?port=%d" % lsn.getsockname()[1]).body
        lsn.close()
        assert body == b"fd_ok=true ready=true connected=true", body


def test_fiber_suspend_from_an_app_fiber_is_refused():
    with fiber_server(cores=4) as srv:
        body = get(srv, "/fiber").body
        assert body.startswith(b"RuntimeError: UWSGI.suspend called from "
                               b"another Fiber"), body
        assert get(srv, "/hello").status == 200


# ----------------------------------------------------------- start-up


def test_rack_on_ugreen_is_refused_with_one_line():
    weftest.require("rack", "ugreen")
    rc, line = start_fails("--rack", HELLO_RU, "--async", "4", "--ugreen")
    assert rc != 0
    assert line == ("weft: --rack cannot run on --ugreen: Ruby's VM does not "
                    "accept foreign C stacks; use --fiber"), line


def test_fiber_without_a_rack_app_is_refused():
    weftest.require("rack", "fiber")
    rc, line = start_fails("--async", "4", "--fiber")
    assert rc != 0
    assert line == ("weft: --fiber: no Rack app to run; give --rack "
                    "config.ru (the fiber engine switches Ruby fibers "
                    "only)"), line


def test_load_errors_name_the_option_the_file_and_the_fix():
    weftest.require("rack")
    rc, line = start_fails("--rack", "/nonexistent/config.ru")
    assert rc != 0 and line == ("weft: --rack /nonexistent/config.ru: No such "
                                "file or directory; check the path"), line
    d = os.environ.get("TMPDIR", "/tmp")
    ru = os.path.join(d, "weft-t-rack-%d.ru" % os.getpid())
    try:
        with open(ru, "w") as f:
            f.write("require 'sinatra_not_here'\nrun Sinatra::Application\n")
        rc, line = start_fails("--rack", ru)
        assert rc != 0
        assert line == ("weft: --rack %s: LoadError: cannot load such file "
                        "-- sinatra_not_here; install the gem from Debian "
                        "(ruby-sinatranothere) or with `gem install "
                        "sinatranothere`" % ru), line
        with open(ru, "w") as f:
            f.write("x = 1\n")
        rc, line = start_fails("--rack", ru)
        assert rc != 0 and "missing run or map statement" in line, line
    finally:
        os.unlink(ru)


# ------------------------------------------------- uwsgi protocol, mixes


def test_uwsgi_modifier1_7_is_routed_to_rack():
    weftest.require("rack")
    with Server("--rack", ENV, uwsgi=True, http=False) as srv:
        out = srv.uwsgi_request("/x?y=1", HTTPS="on", modifier1=7)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), out[:200]
        env = json.loads(body)
        assert env["rack.url_scheme"] == "https", env
        assert env["PATH_INFO"] == "/x" and env["QUERY_STRING"] == "y=1"
        assert env["REMOTE_ADDR"] == "10.1.2.3"
        # nginx sends an empty CONTENT_LENGTH for a GET: Rack wants none
        out = srv.uwsgi_request("/", CONTENT_LENGTH="", modifier1=7)
        env = json.loads(out.partition(b"\r\n\r\n")[2])
        assert "CONTENT_LENGTH" not in env, env
        # a modifier nobody serves: dropped, the worker keeps serving
        assert srv.uwsgi_request("/", modifier1=5) == b""
        assert b"200 OK" in srv.uwsgi_request("/", modifier1=7)


def test_python_and_rack_in_one_server_by_modifier1():
    weftest.require("rack", "python")
    with Server("--wsgi-file", HELLO_PY, "--rack", HELLO_RU,
                uwsgi=True) as srv:
        py = srv.uwsgi_request("/", modifier1=0)
        rb = srv.uwsgi_request("/", modifier1=7)
        assert py.endswith(b"Hello World") and b"X-Lang" not in py, py
        assert rb.endswith(b"Hello World") and b"X-Lang: rack" in rb, rb
        # --http-socket requests carry modifier1 0 unless told otherwise
        assert get(srv, "/").header("x-lang") is None
    with Server("--wsgi-file", HELLO_PY, "--rack", HELLO_RU,
                "--http-socket-modifier1", "7") as srv:
        assert get(srv, "/").header("x-lang") == "rack"


weftest.main()
