#!/usr/bin/env python3
"""The environ the python plugin builds from parts it keeps per worker
(interned names with their last value, a template, a copy of the previous
request's environ when the names repeat; docs/performance.md), and the
start_response / write pair a core reuses: each request still gets exactly
its own variables, whatever came before it on the worker.

Every case runs in sync mode, with --async --ugreen and with --async alone.
"""

import json

import weftest
from weftest import Reader, Server, uwsgi_packet, write_file

DUMP = '''
import json

kept = []

def application(environ, start_response):
    p = environ["PATH_INFO"]
    if p == "/mutate":
        # an app may change its environ: the next request must not see it
        environ["HTTP_X_A"] = "changed"
        environ["wsgi.url_scheme"] = "gopher"
        environ["NEW_KEY"] = "x"
        del environ["QUERY_STRING"]
    if p == "/keep":
        kept.append(start_response)
    if p == "/stale":
        try:
            kept[0]("200 OK", [])
        except RuntimeError as e:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"stale: " + str(e).encode()]
        start_response("500 Oops", [])
        return [b"a kept start_response worked"]
    if p == "/kw":
        w = start_response(headers=[["Content-Type", "text/plain"]],
                           status="200 OK")
        w(b"by ")
        return [b"keyword"]
    out = {k: v for k, v in environ.items()
           if isinstance(v, str)}
    out["uwsgi.core"] = environ.get("uwsgi.core")
    out["input"] = type(environ["wsgi.input"]).__name__
    body = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


def modes():
    weftest.require("python")
    out = [("sync", [])]
    if "ugreen" in weftest.built_plugins():
        out.append(("ugreen", ["--async", "4", "--ugreen"]))
    out.append(("async", ["--async", "4"]))
    return out


def servers(*args, **kw):
    f = write_file("dump.py", DUMP)
    for label, margs in modes():
        yield label, Server("--wsgi-file", f, *margs, *args, **kw)


def ask(s, rd, path, headers=()):
    req = b"GET " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: h:1\r\n"
    for k, v in headers:
        req += k.encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n"
    s.sendall(req + b"\r\n")
    r = rd.response()
    assert r.status == 200, r
    return json.loads(r.body)


def cgi(env):
    return {k: v for k, v in env.items() if k.isupper() and
            k not in ("REMOTE_PORT",)}


def test_each_request_on_a_connection_gets_exactly_its_own_variables():
    seq = [
        ("/a?x=1", [("X-A", "1"), ("X-B", "b")]),
        ("/a?x=1", [("X-A", "1"), ("X-B", "b")]),       # all the same
        ("/b?x=2", [("X-A", "2"), ("X-B", "b")]),       # values differ
        ("/b", [("X-B", "b"), ("X-A", "2")]),           # order differs
        ("/c", [("X-A", "2")]),                         # one name fewer
        ("/c", [("X-A", "2"), ("X-B", "b"), ("X-C", "c")]),  # one more
        ("/c", [("X-A", "caf\xe9"), ("X-B", ""), ("X-C", "c")]),
        ("/a?x=1", [("X-A", "1"), ("X-B", "b")]),
    ]
    for label, srv in servers():
        with srv:
            s = srv.connect()
            rd = Reader(s)
            for path, hdrs in seq:
                env = ask(s, rd, path, hdrs)
                p, _, q = path.partition("?")
                assert env["PATH_INFO"] == p and env["QUERY_STRING"] == q, \
                    (label, path, env)
                got = {k[7:]: v for k, v in env.items()
                       if k.startswith("HTTP_X_")}
                want = {k[2:].upper(): v for k, v in hdrs}
                assert got == want, (label, path, hdrs, got)
                assert env["SERVER_NAME"] == "h" and \
                    env["SERVER_PORT"] == str(srv.port), (label, env)
                assert env["wsgi.url_scheme"] == "http", (label, env)
                assert env["input"] == "input", (label, env)
            s.close()


def test_an_app_that_changes_its_environ_does_not_change_the_next():
    for label, srv in servers():
        with srv:
            s = srv.connect()
            rd = Reader(s)
            first = ask(s, rd, "/x?q=1", [("X-A", "1")])
            ask(s, rd, "/mutate?q=1", [("X-A", "1")])
            after = ask(s, rd, "/x?q=1", [("X-A", "1")])
            assert cgi(after) == cgi(first), (label, first, after)
            assert after["wsgi.url_scheme"] == "http", (label, after)
            assert "NEW_KEY" not in after, (label, after)
            s.close()


def test_more_header_names_than_the_worker_keeps_still_reach_the_app():
    # the table of names is bounded (384): past it names are made per
    # request, and every request still sees its own
    for label, srv in servers():
        with srv:
            s = srv.connect()
            rd = Reader(s)
            for i in range(0, 600, 3):
                hdrs = [("X-N%d" % j, "v%d" % j) for j in range(i, i + 3)]
                env = ask(s, rd, "/n", hdrs)
                got = {k: v for k, v in env.items()
                       if k.startswith("HTTP_X_N")}
                assert got == {"HTTP_X_N%d" % j: "v%d" % j
                               for j in range(i, i + 3)}, (label, i, got)
            s.close()


def test_a_front_end_cannot_override_what_the_server_sets():
    weftest.require("python")
    f = write_file("dump.py", DUMP)
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/u", "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.1",
            "wsgi.url_scheme": "ftp", "wsgi.input": "nope",
            "uwsgi.core": "nope"}
    with Server("--wsgi-file", f, "--async", "2", uwsgi=True,
                http=False) as srv:
        # the same names each time, HTTPS changing: the scheme follows
        for host, https, scheme in (
                ("a.example:8080", "off", "http"),
                ("a.example:8080", "off", "http"),
                ("b.example", "on", "https"),
                ("b.example", "on", "https"),
                ("[::1]:81", "off", "http"),
                ("a.example:8080", "1", "https")):
            v = dict(base, HTTP_HOST=host, HTTPS=https)
            out = srv.uwsgi_until_close(uwsgi_packet(v), deadline=10)
            env = json.loads(out.partition(b"\r\n\r\n")[2])
            assert env["HTTP_HOST"] == host, (host, env)
            assert env["wsgi.url_scheme"] == scheme, (host, https, env)
            assert env["input"] == "input", env
            assert env["uwsgi.core"] in (0, 1), env


def test_a_kept_start_response_raises_in_a_later_request():
    for label, srv in servers():
        with srv:
            assert srv.get("/keep").status == 200
            r = srv.get("/stale")
            assert r.status == 200, (label, r)
            assert r.body.startswith(b"stale: start_response() called "
                                     b"after its request ended"), (label, r)
            assert srv.get("/x").status == 200


def test_start_response_takes_keywords_and_list_pairs():
    for label, srv in servers():
        with srv:
            r = srv.get("/kw")
            assert r.status == 200 and r.body == b"by keyword", (label, r)
            assert r.header("content-type") == "text/plain", (label, r)


weftest.main()
