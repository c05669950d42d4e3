"""HTTP/1.1 on --http-socket, against the core's C test app (testlang), so
that a failure here is the core's. Run on every io engine built."""

import os
import time

import weftest
from weftest import Reader, Server, request

def servers(*args):
    """One server per built io engine, with and without ugreen. No io
    engine built: the test is skipped (said), not passed with no server
    started, as it was."""
    built = weftest.built_plugins()
    engines = weftest.io_engines()
    if not engines:
        raise weftest.Skip("no io engine built (epoll, libevent)")
    for io in engines:
        yield Server("--io-engine", io, *args, testlang=True)
        if "ugreen" in built:
            yield Server("--io-engine", io, "--async", "4", "--ugreen", *args,
                         testlang=True)


def test_keepalive_serves_several_requests_on_one_connection():
    for srv in servers():
        with srv:
            weftest.check_keepalive(srv)


def test_connection_close_is_honoured():
    for srv in servers():
        with srv:
            weftest.check_connection_close(srv)


def test_pipelined_requests_are_answered_in_order():
    for srv in servers():
        with srv:
            s = srv.connect()
            s.sendall(b"GET /core HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 5\r\n\r\nabcde"
                      b"GET /chunks?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = Reader(s)
            bodies = [r.response().body for _ in range(4)]
            assert bodies[1] == b"Hello World", bodies
            assert bodies[2] == b"abcde", bodies
            assert bodies[3].startswith(b"chunk 0") and \
                bodies[3].count(b"chunk") == 2, bodies


def test_content_length_body_reaches_the_app():
    payload = os.urandom(300000)
    for srv in servers():
        with srv:
            resp = request(srv.port, "POST", "/echo", body=payload)
            assert resp.status == 200 and resp.body == payload


def test_chunked_request_body_reaches_the_app():
    payload = os.urandom(100000)
    chunks = weftest.chunked(payload, 7000, ext=b";ext=1",
                             trailer=b"X-Trailer: y\r\n")
    for srv in servers():
        with srv:
            resp = request(srv.port, "POST", "/echo",
                           headers={"Transfer-Encoding": "chunked"},
                           body=chunks)
            assert resp.status == 200 and resp.body == payload


def test_expect_100_continue_is_answered_when_the_body_is_read():
    for srv in servers():
        with srv:
            s = srv.connect()
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            r = Reader(s)
            interim = r.response()
            assert interim.status == 100, interim
            s.sendall(b"wxyz")
            resp = r.response()
            assert resp.status == 200 and resp.body == b"wxyz"


def test_response_without_length_is_chunked_on_http11():
    for srv in servers():
        with srv:
            resp = srv.get("/chunks?n=50")
            assert resp.header("transfer-encoding") == "chunked"
            assert resp.body.count(b"chunk") == 50


def test_response_written_in_one_go_gets_a_content_length():
    for srv in servers():
        with srv:
            resp = srv.get("/hello")
            assert resp.header("transfer-encoding") is None
            assert resp.header("content-length") == "11"


def test_http10_response_is_delimited_by_close():
    for srv in servers():
        with srv:
            s = srv.connect()
            s.sendall(b"GET /chunks?n=5 HTTP/1.0\r\n\r\n")
            r = Reader(s)
            resp = r.response()
            assert resp.header("transfer-encoding") is None
            assert resp.body.count(b"chunk") == 5
            assert r.eof()


def test_http10_keepalive_is_kept_when_asked():
    for srv in servers():
        with srv:
            s = srv.connect()
            r = Reader(s)
            for _ in range(2):
                s.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                resp = r.response()
                assert resp.body == b"Hello World"
                assert resp.header("connection") == "keep-alive"


def test_head_gets_the_length_but_no_body():
    for srv in servers():
        with srv:
            s = srv.connect()
            r = Reader(s)
            s.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = r.response(head=True)
            assert resp.status == 200
            assert resp.header("content-length") == "11"
            # the next response on the connection must be clean
            s.sendall(b"GET /core HTTP/1.1\r\nHost: x\r\n\r\n")
            assert r.response().status == 200


BAD_REQUESTS = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
]


def test_malformed_requests_get_an_error_and_the_worker_keeps_serving():
    for srv in servers():
        with srv:
            for raw, code in BAD_REQUESTS:
                # a good request pipelined after the bad one is ignored:
                # the error ends the connection (nothing after the bad
                # head can be trusted to start where it seems to)
                out = srv.raw_until_close(
                    raw + b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                assert out.startswith(b"HTTP/1.1 %d " % code), (raw, out)
                assert out.count(b"HTTP/1.1 ") == 1, (raw, out)
                assert b"Hello World" not in out, (raw, out)
                assert srv.get("/hello").body == b"Hello World"


def test_head_larger_than_buffer_size_gets_431():
    for srv in servers("--buffer-size", "1024"):
        with srv:
            s = srv.connect()
            s.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
            resp = Reader(s).response()
            assert resp.status == 431, resp
            assert srv.get("/hello").status == 200


def test_app_error_gives_500_and_a_log_line():
    for srv in servers():
        with srv:
            resp = srv.get("/error")
            assert resp.status == 500
            assert srv.get("/hello").status == 200
            srv.expect_log("testlang: /error asked for an error")


def test_a_head_that_never_completes_times_out_with_408():
    for srv in servers("--socket-timeout", "1"):
        with srv:
            s = srv.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            t0 = time.time()
            resp = Reader(s).response()
            assert resp.status == 408, resp
            assert 0.5 < time.time() - t0 < 5
            assert srv.get("/hello").status == 200


def test_large_response_is_never_truncated():
    # 30 MB through a client that reads slowly at first: uWSGI's async
    # mode without an engine truncates this
    for srv in [Server("--async", "4", testlang=True)]:
        with srv:
            s = srv.connect(timeout=30)
            s.sendall(b"GET /big?kb=30720 HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            time.sleep(0.5)
            resp = Reader(s).response()
            assert len(resp.body) == 30720 * 1024, len(resp.body)


weftest.main()
