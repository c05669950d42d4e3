"""PEP 3333 on the python plugin: the environ, wsgi.input, wsgi.errors,
start_response (with exc_info), write(), iterables and close(), errors,
30 MB responses, keep-alive and pipelining, and loading the app
(--wsgi-file, --module/-w, --callable, --pythonpath, load errors).

Against the apps in tests/apps (plus a few tiny apps written to a temporary
directory, for what those apps do not cover). Every behaviour is checked in
sync mode, with --async --ugreen and with --async alone (no suspend engine).
"""

import hashlib
import json
import os
import time

import weftest
from weftest import (Reader, Server, app, chunked, request, scratch_dir,
                     uwsgi_packet, write_file)


def modes():
    """(label, args) for each way of running the plugin."""
    weftest.require("python")
    out = [("sync", [])]
    if "ugreen" in weftest.built_plugins():
        out.append(("ugreen", ["--async", "4", "--ugreen"]))
    out.append(("async", ["--async", "4"]))
    return out


def servers(appname, *args, env=None):
    """(label, Server) for each mode, started one at a time."""
    for label, margs in modes():
        yield label, Server("--wsgi-file", app(appname), *margs, *args,
                            env=env)


def get_json(srv, path, **kw):
    r = srv.get(path, **kw)
    assert r.status == 200, (path, r, srv.log()[-2000:])
    return json.loads(r.body)


# ---------------------------------------------------------------- environ

def test_environ_has_every_cgi_variable_of_the_request():
    for label, srv in servers("echo.py"):
        with srv:
            env = json.loads(request(
                srv.port, "POST", "/env?a=1&b=%C3%A9",
                headers={"Content-Type": "text/x-test", "X-Foo": "bar"},
                body=b"abc").body)
            want = {
                "REQUEST_METHOD": "POST", "SCRIPT_NAME": "",
                "PATH_INFO": "/env", "QUERY_STRING": "a=1&b=%C3%A9",
                "REQUEST_URI": "/env?a=1&b=%C3%A9",
                "CONTENT_TYPE": "text/x-test", "CONTENT_LENGTH": "3",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(srv.port),
                "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                "HTTP_HOST": "127.0.0.1:%d" % srv.port, "HTTP_X_FOO": "bar",
            }
            for k, v in want.items():
                assert env.get(k) == v, (label, k, env.get(k), v)
            assert env.get("REMOTE_PORT", "").isdigit(), (label, env)
            # HTTP/1.0 without a Host: the PEP's keys are still there
            s = srv.connect()
            s.sendall(b"GET /env HTTP/1.0\r\n\r\n")
            env = json.loads(Reader(s).response().body)
            s.close()
            assert env["SERVER_PROTOCOL"] == "HTTP/1.0", (label, env)
            for k in ("SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME",
                      "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD"):
                assert isinstance(env.get(k), str), (label, k, env)
            assert env["QUERY_STRING"] == "", (label, env)


def test_environ_has_the_wsgi_keys():
    for label, srv in servers("echo.py"):
        with srv:
            env = get_json(srv, "/env")
            want = {"wsgi.version": "(1, 0)", "wsgi.url_scheme": "http",
                    "wsgi.multithread": "False",
                    "wsgi.multiprocess": "True", "wsgi.run_once": "False",
                    "wsgi.input_terminated": "True"}
            for k, v in want.items():
                assert env.get(k) == v, (label, k, env.get(k))
            assert "input" in env["wsgi.input"], (label, env)
            assert "errors" in env["wsgi.errors"], (label, env)
            assert "file_wrapper" in env["wsgi.file_wrapper"], (label, env)


ENVCHECK = '''
def application(environ, start_response):
    import json
    bad = [k for k, v in environ.items()
           if k.isupper() and (type(v) is not str or
                               any(ord(c) > 255 for c in v))]
    body = json.dumps({"path": environ["PATH_INFO"],
                       "x": environ.get("HTTP_X_LATIN"),
                       "bad": bad}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
'''


def test_environ_values_are_native_strings_decoded_as_latin1():
    f = write_file("envcheck.py", ENVCHECK)
    for label, margs in modes():
        with Server("--wsgi-file", f, *margs) as srv:
            s = srv.connect()
            s.sendall(b"GET /caf%C3%A9/%FF HTTP/1.1\r\nHost: x\r\n"
                      b"X-Latin: caf\xe9 \xff\r\nConnection: close\r\n\r\n")
            env = json.loads(Reader(s).response().body)
            s.close()
            # the bytes, each one character (PEP 3333: latin-1)
            assert env["path"] == "/caf\xc3\xa9/\xff", (label, env)
            assert env["x"] == "caf\xe9 \xff", (label, env)
            assert env["bad"] == [], (label, env)


def test_url_scheme_is_https_when_the_uwsgi_packet_says_so():
    weftest.require("python")
    v = {"REQUEST_METHOD": "GET", "PATH_INFO": "/env", "QUERY_STRING": "",
         "SERVER_NAME": "example", "SERVER_PORT": "443",
         "SERVER_PROTOCOL": "HTTP/1.1", "HTTPS": "on",
         "REMOTE_ADDR": "10.0.0.1", "HTTP_HOST": "example",
         "SCRIPT_NAME": "/app"}
    with Server("--wsgi-file", app("echo.py"), uwsgi=True, http=False) as srv:
        out = srv.uwsgi_until_close(uwsgi_packet(v), deadline=10)
        env = json.loads(out.partition(b"\r\n\r\n")[2])
        assert env["wsgi.url_scheme"] == "https", env
        assert env["SCRIPT_NAME"] == "/app", env
        assert env["SERVER_PORT"] == "443", env
        assert env["REMOTE_ADDR"] == "10.0.0.1", env


# ------------------------------------------------------------ wsgi.input

def post(srv, path, body, chunk=None):
    if chunk is None:
        return request(srv.port, "POST", path, body=body)
    return request(srv.port, "POST", path,
                   headers={"Transfer-Encoding": "chunked"},
                   body=chunked(body, chunk))


def test_wsgi_input_read_gives_the_whole_body():
    big = os.urandom(1 << 20)
    for label, srv in servers("echo.py"):
        with srv:
            for chunk in (None, 7000):
                r = post(srv, "/read", b"hello\nworld\nlast", chunk)
                assert r.status == 200 and r.body == b"hello\nworld\nlast", \
                    (label, chunk, r)
                r = post(srv, "/read", big, chunk)
                assert r.body == big, (label, chunk, len(r.body))


def test_wsgi_input_read_n_returns_the_body_in_pieces():
    body = bytes(range(256)) * 400
    for label, srv in servers("echo.py"):
        with srv:
            for chunk in (None, 1000):
                r = post(srv, "/readn?n=3", body, chunk)
                assert r.body == body, (label, chunk, len(r.body))
                r = post(srv, "/readn?n=65536", body, chunk)
                assert r.body == body, (label, chunk, len(r.body))


def test_wsgi_input_readline_splits_lines_and_honours_the_limit():
    for label, srv in servers("echo.py"):
        with srv:
            for chunk in (None, 3):
                r = post(srv, "/lines", b"a\nbb\n\nccc", chunk)
                assert r.body == b"|a\n|bb\n|\n|ccc", (label, chunk, r)
                r = post(srv, "/limit?n=2", b"abcde\nf\n", chunk)
                assert r.body == b"|ab|cd|e\n|f\n", (label, chunk, r)


def test_wsgi_input_iteration_and_readlines_give_lines():
    for label, srv in servers("echo.py"):
        with srv:
            for chunk in (None, 2):
                r = post(srv, "/iter", b"a\nb\n", chunk)
                assert r.body == b"|a\n|b\n", (label, chunk, r)
                r = post(srv, "/readlines", b"a\nb\nc", chunk)
                assert r.body == b"|a\n|b\n|c", (label, chunk, r)
                # a line split across chunks comes back whole
                r = post(srv, "/lines", b"one\ntwo\nthree", 5)
                assert r.body == b"|one\n|two\n|three", (label, r)


def test_wsgi_input_of_a_request_without_a_body_is_empty():
    for label, srv in servers("echo.py"):
        with srv:
            for path in ("/read", "/lines", "/readlines", "/iter"):
                r = srv.get(path)
                assert r.status == 200 and r.body == b"", (label, path, r)
                r = post(srv, path, b"")
                assert r.status == 200 and r.body == b"", (label, path, r)


def test_wsgi_input_waits_for_a_slow_body_while_other_requests_run():
    weftest.require("python", "ugreen")
    with Server("--wsgi-file", app("echo.py"), "--async", "4",
                "--ugreen") as srv:
        s = srv.connect()
        s.sendall(b"POST /lines HTTP/1.1\r\nHost: x\r\nContent-Length: 13"
                  b"\r\n\r\nfirst\nsec")
        time.sleep(0.2)
        # the worker is not blocked by the half-read body
        t0 = time.time()
        r = srv.get("/read")
        assert r.status == 200 and time.time() - t0 < 1.0, r
        s.sendall(b"ond\n")
        resp = Reader(s).response()
        s.close()
        assert resp.body == b"|first\n|second\n", resp


# ----------------------------------------------------------- wsgi.errors

ERRORS_APP = '''
def application(environ, start_response):
    e = environ["wsgi.errors"]
    e.write("t_wsgi first line\\n")
    e.writelines(["t_wsgi second ", "line\\n", "t_wsgi third line\\n"])
    e.write("t_wsgi flushed partial")
    e.flush()
    e.write("t_wsgi tail without a newline")
    try:
        e.write(b"bytes")
        ok = "no TypeError"
    except TypeError:
        ok = "TypeError"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [ok.encode()]
'''


def test_wsgi_errors_writes_lines_to_the_log():
    f = write_file("errors_app.py", ERRORS_APP)
    for label, margs in modes():
        with Server("--wsgi-file", f, *margs) as srv:
            r = srv.get("/")
            assert r.status == 200 and r.body == b"TypeError", (label, r)
            log = srv.expect_log("t_wsgi tail without a newline")
            lines = [l.split(": ", 1)[-1] if l.startswith(("info:", "error:"))
                     else l for l in log.splitlines()]
            for want in ("t_wsgi first line", "t_wsgi second line",
                         "t_wsgi third line", "t_wsgi flushed partial",
                         "t_wsgi tail without a newline"):
                assert want in lines, (label, want, log)


# --------------------------------------------- start_response, exc_info

def test_exc_info_before_the_head_replaces_status_and_headers():
    for label, srv in servers("errors.py"):
        with srv:
            r = srv.get("/exc-info")
            assert r.status == 503, (label, r)
            assert r.header("retry-after") == "1", (label, r.headers)
            assert r.body == b"replaced by exc_info\n", (label, r)


def test_exc_info_after_the_head_reraises_and_truncates_the_body():
    for label, srv in servers("errors.py"):
        with srv:
            out = srv.raw_until_close(b"GET /exc-info-late HTTP/1.1\r\n"
                                      b"Host: x\r\n\r\n", deadline=10)
            assert out.startswith(b"HTTP/1.1 200"), (label, out)
            assert b"head is out" in out and b"never" not in out, out
            # chunked, and the last chunk never came: a visible truncation
            assert not out.endswith(b"0\r\n\r\n"), (label, out)
            log = srv.expect_log("ValueError: late")
            assert "exception at chunk 2 of GET /exc-info-late" in log, log
            assert srv.get("/closes").status == 200


def test_start_response_twice_without_exc_info_gives_500():
    for label, srv in servers("errors.py"):
        with srv:
            assert srv.get("/twice").status == 500, label
            srv.expect_log("start_response() called twice without exc_info")


# ------------------------------------------------------ the write callable

def test_write_callable_output_comes_before_the_returned_iterable():
    for label, srv in servers("write_callable.py"):
        with srv:
            for path, want in (("/", b"one\ntwo\nthree\n"),
                               ("/only", b"one\ntwo\nthree\n"),
                               ("/gen", b"one\ntwo\nthree\n"),
                               ("/empty", b"")):
                r = srv.get(path)
                assert r.status == 200 and r.body == want, (label, path, r)


def test_write_callable_of_a_finished_request_raises():
    for label, srv in servers("write_callable.py"):
        with srv:
            assert srv.get("/keep").body == b"kept\n"
            r = srv.get("/stale")
            assert r.status == 500, (label, r)
            assert b"dead request" not in r.body
            srv.expect_log("RuntimeError")
            assert srv.get("/").status == 200


# ---------------------------------------------- iterables, close, generators

CLOSING_APP = '''
closed = []

class Body:
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return iter([b"part %d\\n" % i for i in range(self.n)])
    def close(self):
        closed.append(self.n)

def application(environ, start_response):
    if environ["PATH_INFO"] == "/closed":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(closed).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Body(int(environ["QUERY_STRING"] or "3"))
'''


def test_close_is_called_once_when_an_iterable_completes():
    f = write_file("closing.py", CLOSING_APP)
    for label, margs in modes():
        with Server("--wsgi-file", f, *margs) as srv:
            assert srv.get("/?3").body == b"part 0\npart 1\npart 2\n", label
            assert srv.get("/?0").body == b"", label
            assert srv.get("/closed").body == b"[3, 0]", (label,
                                                          srv.get("/closed"))


def closes(srv):
    r = srv.get("/closes")
    assert r.status == 200, r
    return int(r.body.split()[1])


def test_close_is_called_after_an_error_in_the_iterable():
    for label, srv in servers("errors.py"):
        with srv:
            n = closes(srv)
            for path in ("/raise-late", "/str-gen", "/exc-info-late"):
                srv.raw_until_close(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                                     % path).encode(), deadline=10)
                n += 1
                assert closes(srv) == n, (label, path)


def test_close_is_called_when_the_client_hangs_up():
    for label, srv in servers("errors.py"):
        with srv:
            n = closes(srv)
            s = srv.connect()
            s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while got.count(b"chunk") < 3:
                d = s.recv(4096)
                assert d, (label, got)
                got += d
            # hang up with unread data: the kernel resets the connection
            s.close()
            deadline = time.time() + 10
            while closes(srv) != n + 1:
                assert time.time() < deadline, (label, srv.log()[-2000:])
                time.sleep(0.05)
            log = srv.expect_log("python: client gone")
            assert "closing the app's iterable" in log, log


def test_generator_body_is_chunked_on_http11_and_close_delimited_on_http10():
    for label, srv in servers("cpubound_async.py"):
        with srv:
            r = srv.get("/?n=50")
            assert r.status == 200, (label, r)
            assert r.header("transfer-encoding") == "chunked", (label, r)
            lines = r.body.splitlines()
            assert len(lines) == 51 and lines[-1].startswith(b"done"), lines
            assert lines[:50] == [l.split(b" chunk")[0] + b" chunk %d" % i
                                  for i, l in enumerate(lines[:50])]
            s = srv.connect()
            s.sendall(b"GET /?n=5 HTTP/1.0\r\n\r\n")
            rd = Reader(s)
            r = rd.response()
            assert r.header("transfer-encoding") is None, (label, r.headers)
            assert r.body.count(b" chunk ") == 5, (label, r)
            assert rd.eof(), label
            s.close()


def test_list_body_gets_a_content_length():
    for label, srv in servers("hello.py"):
        with srv:
            r = srv.get("/")
            assert r.body == b"Hello World", (label, r)
            assert r.header("content-length") == "11", (label, r.headers)
            assert r.header("transfer-encoding") is None, (label, r.headers)


# ------------------------------------------------------------------ errors

def test_str_body_gives_500_and_one_clear_log_line():
    for label, srv in servers("errors.py"):
        with srv:
            r = srv.get("/str")
            assert r.status == 500, (label, r)
            assert b"text, not bytes" not in r.body, r
            log = srv.expect_log("python: app returned str, not bytes, at "
                                 "chunk 1 of GET /str")
            assert "Traceback" not in log, log
            assert srv.get("/closes").status == 200


def test_str_chunk_after_the_head_truncates_and_is_logged():
    for label, srv in servers("errors.py"):
        with srv:
            out = srv.raw_until_close(b"GET /str-gen HTTP/1.1\r\n"
                                      b"Host: x\r\n\r\n", deadline=10)
            assert out.startswith(b"HTTP/1.1 200"), (label, out)
            assert b"ok\n" in out and b"not bytes" not in out, (label, out)
            assert not out.endswith(b"0\r\n\r\n"), (label, out)
            srv.expect_log("python: app returned str, not bytes, at chunk 2 "
                           "of GET /str-gen")
            assert srv.get("/closes").status == 200


def test_exception_gives_500_with_the_traceback_in_the_log():
    for label, srv in servers("errors.py"):
        with srv:
            r = srv.get("/raise")
            assert r.status == 500, (label, r)
            assert b"raised on purpose" not in r.body, r
            log = srv.expect_log("ValueError: raised on purpose")
            assert "python: exception in the app of GET /raise" in log, log
            assert "Traceback (most recent call last):" in log, log
            assert "errors.py\", line" in log, log
            # and the worker goes on
            for _ in range(3):
                assert srv.get("/closes").status == 200
                assert srv.get("/raise").status == 500


def test_exception_after_the_head_truncates_the_body_and_is_logged():
    for label, srv in servers("errors.py"):
        with srv:
            out = srv.raw_until_close(b"GET /raise-late HTTP/1.1\r\n"
                                      b"Host: x\r\n\r\n", deadline=10)
            assert out.startswith(b"HTTP/1.1 200"), (label, out)
            assert b"first chunk" in out, (label, out)
            assert not out.endswith(b"0\r\n\r\n"), (label, out)
            log = srv.expect_log("KeyError: 'late'")
            assert "exception at chunk 2 of GET /raise-late" in log, log
            assert srv.get("/closes").status == 200


BAD_RESPONSES = [
    ("/bad-status", "bad status '200OK'"),
    ("/bad-header", "value of header 'X-Bad' contains CR, LF"),
    ("/bad-name", "header name 'X Bad' is not an HTTP token"),
    ("/bytes-header", "must be str"),
    ("/no-start", "did not call start_response()"),
]


def test_bad_status_or_header_gives_500_and_the_log_says_why():
    for label, srv in servers("errors.py"):
        with srv:
            for path, why in BAD_RESPONSES:
                s = srv.connect()
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                           % path).encode())
                rd = Reader(s)
                r = rd.response()
                assert r.status == 500, (label, path, r)
                assert r.header("injected") is None, (label, r.headers)
                assert r.header("x-bad") is None, (label, r.headers)
                # the 500 is whole and framed: the connection stays
                # usable (as after any complete response; uWSGI keeps it
                # too), and the head does not say it closes
                assert r.header("connection") is None, (label, r.headers)
                s.sendall(b"GET /closes HTTP/1.1\r\nHost: x\r\n\r\n")
                assert rd.response().status == 200, (label, path)
                s.close()
                srv.expect_log(why)
            assert srv.get("/closes").status == 200


def test_a_500_before_the_whole_body_closes_and_says_so():
    # the app fails before the client has sent its whole body: the rest
    # may still be on its way, so the 500 says Connection: close and the
    # connection ends (a request pipelined after it is not read as one)
    for label, srv in servers("errors.py"):
        with srv:
            s = srv.connect()
            s.sendall(b"POST /bad-status HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 100\r\n\r\n0123456789")
            rd = Reader(s)
            r = rd.response()
            assert r.status == 500, (label, r)
            assert r.header("connection") == "close", (label, r.headers)
            assert rd.eof(5), label
            s.close()
            # the whole body there: dropped, and the connection kept
            s = srv.connect()
            s.sendall(b"POST /bad-status HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 10\r\n\r\n0123456789"
                      b"GET /closes HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.response()
            assert r.status == 500 and r.header("connection") is None, (
                label, r.headers)
            assert rd.response().status == 200, label
            s.close()


# ----------------------------------------------------- 30 MB, never truncated

CHUNK = bytes(range(256)) * 4096


def download(srv, path, pause=0.3, timeout=60.0):
    """GET path; wait `pause` before reading (so that the server's writes
    hit EAGAIN); returns (status, headers, length, md5, complete)."""
    s = srv.connect(timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               % path).encode())
    time.sleep(pause)
    buf = bytearray()
    deadline = time.time() + timeout
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        assert d and time.time() < deadline, bytes(buf[:200])
        buf += d
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (l.split(":", 1) for l in lines[1:])}
    md5 = hashlib.md5()
    total = 0
    complete = False
    if headers.get("transfer-encoding") == "chunked":
        buf = bytearray(rest)
        pos = 0

        def need(n):
            nonlocal buf, pos
            while len(buf) - pos < n:
                d = s.recv(1 << 20)
                if not d or time.time() > deadline:
                    return False
                if pos > (8 << 20):
                    del buf[:pos]
                    pos = 0
                buf += d
            return True

        while True:
            while buf.find(b"\r\n", pos) < 0:
                if not need(len(buf) - pos + 1):
                    break
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                complete = True
                break
            if not need(size + 2):
                break
            md5.update(buf[pos:pos + size])
            total += size
            pos += size + 2
    else:
        md5.update(rest)
        total = len(rest)
        while time.time() < deadline:
            d = s.recv(1 << 20)
            if not d:
                break
            md5.update(d)
            total += len(d)
        cl = headers.get("content-length")
        complete = cl is not None and total == int(cl)
    s.close()
    return status, headers, total, md5.hexdigest(), complete


def test_30mb_responses_are_intact_in_every_body_form_and_mode():
    want = hashlib.md5(CHUNK * 30).hexdigest()
    # bigbody.py leaves its 30 MB file in TMPDIR: ours is removed at exit
    for label, srv in servers("bigbody.py", env={"TMPDIR": scratch_dir()}):
        with srv:
            for mode in ("gen", "list", "write", "file"):
                st, hd, n, md5, complete = download(srv, "/?mode=" + mode)
                assert st == 200, (label, mode, st)
                assert n == 30 << 20 and md5 == want and complete, \
                    (label, mode, n, complete, hd, srv.log()[-2000:])
            log = srv.log()
            assert "File exists" not in log and "No such file" not in log, \
                log[-2000:]


# --------------------------------------------------- keep-alive, pipelining

def test_keepalive_serves_several_python_requests_on_one_connection():
    for label, srv in servers("echo.py"):
        with srv:
            s = srv.connect()
            rd = Reader(s)
            for i in range(3):
                body = b"round %d\n" % i
                s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                r = rd.response()
                assert r.status == 200 and r.body == body, (label, i, r)
                s.sendall(b"GET /env HTTP/1.1\r\nHost: x\r\n\r\n")
                assert json.loads(rd.response().body)["PATH_INFO"] == "/env"
            assert not rd.eof(0.3), label
            s.sendall(b"GET /read HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.header("connection") == "close", r
            assert rd.eof(), (label, "Connection: close not honoured")
            s.close()


def test_pipelined_python_requests_are_answered_in_order():
    for label, srv in servers("echo.py"):
        with srv:
            s = srv.connect()
            s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 5\r\n\r\nfirst"
                      b"GET /env?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"POST /lines HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n"
                      b"3\r\na\nb\r\n2\r\n\nc\r\n0\r\n\r\n"
                      b"POST /readn?n=2 HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 6\r\n\r\nfourth")
            rd = Reader(s)
            bodies = [rd.response().body for _ in range(4)]
            s.close()
            assert bodies[0] == b"first", (label, bodies)
            assert json.loads(bodies[1])["QUERY_STRING"] == "n=2", label
            assert bodies[2] == b"|a\n|b\n|c", (label, bodies)
            assert bodies[3] == b"fourth", (label, bodies)
    # generator responses (chunked) in a pipeline
    for label, srv in servers("cpubound_async.py"):
        with srv:
            s = srv.connect()
            s.sendall(b"GET /?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /?n=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /?n=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            counts = [rd.response().body.count(b" chunk ") for _ in range(3)]
            s.close()
            assert counts == [3, 200, 1], (label, counts)


# ------------------------------------------------------------ loading apps

PKG_APP = '''
import sys
import weft_helper

def _reply(start_response, text):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]

def application(environ, start_response):
    return _reply(start_response, "application " + weft_helper.NAME)

def other(environ, start_response):
    return _reply(start_response, "other " + weft_helper.NAME)

def path(environ, start_response):
    return _reply(start_response, "\\n".join(sys.path[:3]))
'''


def pkg_tree():
    """TMP/pp1/weftpkg/wsgi.py needs weft_helper from TMP/pp2."""
    write_file("pp1/weftpkg/__init__.py", "")
    write_file("pp1/weftpkg/wsgi.py", PKG_APP)
    write_file("pp2/weft_helper.py", "NAME = 'from pp2'\n")
    write_file("file/sibling.py", "NAME = 'sibling'\n")
    write_file("file/app.py", "import sibling\n\n"
               "def myapp(environ, start_response):\n"
               "    start_response('200 OK', [])\n"
               "    return [('myapp ' + sibling.NAME).encode()]\n")
    return (os.path.join(scratch_dir(), "pp1"),
            os.path.join(scratch_dir(), "pp2"))


def test_module_pkg_mod_callable_is_loaded_from_pythonpath():
    pp1, pp2 = pkg_tree()
    for label, margs in modes():
        for args, want in (
                (["--module", "weftpkg.wsgi:other"], b"other from pp2"),
                (["-w", "weftpkg.wsgi"], b"application from pp2"),
                (["-w", "weftpkg.wsgi", "--callable", "other"],
                 b"other from pp2")):
            with Server(*args, "--pythonpath", pp1, "--pythonpath", pp2,
                        *margs) as srv:
                r = srv.get("/")
                assert r.status == 200 and r.body == want, (label, args, r)
                assert "loaded from weftpkg.wsgi" in srv.log(), srv.log()


def test_pythonpath_dirs_go_first_in_the_order_given():
    pp1, pp2 = pkg_tree()
    weftest.require("python")
    with Server("--module", "weftpkg.wsgi:path", "--pythonpath", pp1,
                "--pythonpath", pp2) as srv:
        paths = srv.get("/").body.decode().splitlines()
        assert paths[:2] == [pp1, pp2], paths


def test_pythonpath_accepts_comma_separated_dirs():
    # documented by --help ("repeat, or separate with commas"),
    # docs/langs/python.md and include/weft/option.h (WF_OPT_LIST)
    pp1, pp2 = pkg_tree()
    weftest.require("python")
    with Server("--module", "weftpkg.wsgi:path",
                "--pythonpath", pp1 + "," + pp2) as srv:
        paths = srv.get("/").body.decode().splitlines()
        assert paths[:2] == [pp1, pp2], paths


def test_wsgi_file_with_callable_and_its_directory_on_sys_path():
    pkg_tree()
    weftest.require("python")
    f = os.path.join(scratch_dir(), "file", "app.py")
    with Server("--wsgi-file", f, "--callable", "myapp") as srv:
        r = srv.get("/")
        assert r.status == 200 and r.body == b"myapp sibling", r
        assert "WSGI app 'myapp' loaded from " + f in srv.log()


def load_error(args, *expect):
    """Start-up stops: exit status 1 and one 'weft:' line, the last, that
    names the option and the fix; log lines before it are 'error:' lines."""
    weftest.require("python")
    p = weftest.run_weft(*args, http_socket=True)
    rc, out = p.returncode, p.stdout + p.stderr
    lines = [l for l in out.splitlines() if l.strip()]
    assert rc == 1, (args, rc, out)
    final = [l for l in lines if l.startswith("weft:")]
    assert len(final) == 1 and lines[-1] == final[0], (args, out)
    for e in expect:
        assert e in final[0], (e, final[0])
    assert all(l.startswith(("error:", "warning:", "weft:"))
               for l in lines), (args, out)
    return final[0], out


def test_missing_wsgi_file_stops_start_up_naming_the_path():
    f = os.path.join(scratch_dir(), "no-such-app.py")
    load_error(["--wsgi-file", f], "--wsgi-file " + f,
               "No such file or directory", "check the path")


def test_wsgi_file_without_the_callable_stops_start_up():
    f = write_file("noapp.py", "x = 1\n")
    load_error(["--wsgi-file", f], "--wsgi-file " + f,
               "callable 'application' not found", "--callable")
    load_error(["--wsgi-file", f, "--callable", "x"], "--wsgi-file " + f,
               "'x' is a int, not a callable", "--callable")


def test_wsgi_file_with_a_syntax_error_stops_start_up():
    f = write_file("syntax.py", "def f(:\n")
    _, out = load_error(["--wsgi-file", f], "--wsgi-file " + f,
                        "SyntaxError", "line 1", "fix the app")
    assert "def f(:" in out, out     # the source line, in the log


def test_wsgi_file_raising_at_import_stops_start_up_with_the_traceback():
    f = write_file("raises.py", "import os\n"
                   "raise RuntimeError('boom at import')\n")
    _, out = load_error(["--wsgi-file", f], "--wsgi-file " + f,
                        "RuntimeError: boom at import", "fix the app")
    assert "Traceback (most recent call last):" in out, out
    assert "raises.py\", line 2" in out, out
    _, out = load_error(["--module", "raises", "--pythonpath", scratch_dir()],
                        "--module raises", "RuntimeError: boom at import",
                        "fix the module")
    assert "Traceback (most recent call last):" in out, out


def test_missing_module_stops_start_up_pointing_at_pythonpath():
    load_error(["--module", "weft_no_such_module"],
               "--module weft_no_such_module",
               "ModuleNotFoundError: No module named 'weft_no_such_module'",
               "check --pythonpath")
    pp1, _ = pkg_tree()
    # the package is found but not the helper it imports
    load_error(["-w", "weftpkg.wsgi:other", "--pythonpath", pp1],
               "--module weftpkg.wsgi:other",
               "No module named 'weft_helper'", "--pythonpath")


def test_module_without_the_callable_stops_start_up():
    pp1, pp2 = pkg_tree()
    load_error(["-w", "weftpkg.wsgi:nope", "--pythonpath", pp1,
                "--pythonpath", pp2], "--module weftpkg.wsgi:nope",
               "callable 'nope' not found", "--callable")


weftest.main()
