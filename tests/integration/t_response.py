"""Response heads: what the core frames and what it refuses, whatever the
language (issue 9's HTTP policy, issue 12's response-head injection).

Over real sockets, against tests/apps/heads.py (WSGI: sync, --async 4
--ugreen, --async 4) and tests/apps/heads.ru (Rack: sync, --async 4
--fiber), and the test language on the uwsgi protocol:

- a HEAD of a file body (wsgi.file_wrapper, a Rack to_path body) gets the
  file's length, no body, no error in the log, and keeps the connection;
- a status or header value of the request or the app never puts bytes of
  its choosing into the head: SERVER_PROTOCOL of a uwsgi packet, control
  bytes in a header value, a Content-Length given twice, a 1xx status
  given as the final one.
"""

import json
import os
import socket
import struct

import weftest
from weftest import Reader, Server, app

HEADS_PY = app("heads.py")
HEADS_RU = app("heads.ru")


def have(name):
    return name in weftest.built_plugins()


def wsgi_servers():
    if not have("python"):
        return
    modes = [("wsgi sync", [])]
    if have("ugreen"):
        modes.append(("wsgi ugreen", ["--async", "4", "--ugreen"]))
    modes.append(("wsgi async", ["--async", "4"]))
    for label, args in modes:
        yield label, Server("--wsgi-file", HEADS_PY, *args)


def rack_servers():
    if not have("rack"):
        return
    modes = [("rack sync", [])]
    if have("fiber"):
        modes.append(("rack fiber", ["--async", "4", "--fiber"]))
    for label, args in modes:
        yield label, Server("--rack", HEADS_RU, *args)


def all_servers():
    if not have("python") and not have("rack"):
        raise weftest.Skip("neither the python nor the rack plugin is built")
    yield from wsgi_servers()
    yield from rack_servers()


def raw(srv, path, method="GET"):
    """(head lines, body) of one request with Connection: close."""
    out = srv.raw_until_close(("%s %s HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n"
                               % (method, path)).encode(), deadline=10)
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def header_lines(lines, name):
    name = name.lower().encode() + b":"
    return [l for l in lines[1:] if l.lower().startswith(name)]


# -------------------------------------------------------------- streaming

def segments_in(sock):
    """(all, with data): the TCP segments sock has received (tcp_info's
    tcpi_segs_in at offset 140 and tcpi_data_segs_in at 152, Linux
    4.6+)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from("I", info, 140)[0], \
        struct.unpack_from("I", info, 152)[0]


def test_a_closing_stream_sends_its_head_with_its_first_chunk_and_its_fin_with_its_end():
    # a body of no known length held back, then flushed at the yield: the
    # head and the held bytes go out in one sendmsg (one segment: the
    # server's sockets have TCP_NODELAY), then "second", then the end,
    # whose segment carries the FIN (MSG_MORE, then close)
    for label, srv in wsgi_servers():
        with srv:
            s = srv.connect(10)
            try:
                s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                out = weftest.read_until_close(s, reset_is_close=True)
                segs, data_segs = segments_in(s)
            finally:
                s.close()
            head, _, body = out.partition(b"\r\n\r\n")
            assert b"Transfer-Encoding: chunked" in head, (label, out)
            assert body == b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n", \
                (label, out)
            # 4 when the head went alone (fewer only if the kernel
            # corked two sends together)
            assert data_segs <= 3, (label, data_segs, out)
            # without data: the SYN-ACK and the ACK of the request (3 when
            # the FIN came alone after the end)
            assert segs - data_segs <= 2, (label, segs, data_segs)


# ------------------------------------------------------------ file bodies

def test_head_of_a_file_body_gets_its_length_no_body_and_no_error():
    for label, srv in all_servers():
        path = HEADS_PY if label.startswith("wsgi") else HEADS_RU
        size = os.path.getsize(path)
        with srv:
            s = srv.connect()
            rd = Reader(s)
            s.sendall(b"HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n")
            r = rd.response(head=True)
            assert r.status == 200, (label, r)
            assert r.header("content-length") == str(size), (label, r.headers)
            # the connection goes on: the HEAD left nothing behind
            s.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
            r = rd.response()
            assert r.status == 200, (label, r)
            with open(path, "rb") as f:
                assert r.body == f.read(), label
            s.close()
            log = srv.log()
            assert "shrank" not in log, (label, log[-2000:])
            assert "error:" not in log, (label, log[-2000:])


def test_a_list_body_gets_its_length_from_the_core():
    for label, srv in wsgi_servers():
        with srv:
            lines, body = raw(srv, "/list")
            assert lines[0] == b"HTTP/1.1 200 OK", (label, lines)
            assert header_lines(lines, "content-length") == \
                [b"Content-Length: 5"], (label, lines)
            assert not header_lines(lines, "transfer-encoding"), label
            assert body == b"hello", label


# ------------------------------------------------- head injection: the app

def test_content_length_given_twice_with_one_value_is_sent_once():
    for label, srv in all_servers():
        with srv:
            lines, body = raw(srv, "/clen-twice")
            assert lines[0].startswith(b"HTTP/1.1 200"), (label, lines)
            assert len(header_lines(lines, "content-length")) == 1, \
                (label, lines)
            assert body == b"hello", (label, body)


def test_two_different_content_lengths_are_refused_with_500():
    for label, srv in all_servers():
        with srv:
            lines, body = raw(srv, "/clen-differ")
            assert lines[0].startswith(b"HTTP/1.1 500"), (label, lines)
            assert len(header_lines(lines, "content-length")) == 1, \
                (label, lines)
            srv.expect_log("Content-Length")


def test_an_interim_status_as_the_final_one_is_refused_with_500():
    for label, srv in all_servers():
        with srv:
            for code in ("101", "100"):
                lines, body = raw(srv, "/status-" + code)
                assert lines[0].startswith(b"HTTP/1.1 500"), \
                    (label, code, lines)
                assert not header_lines(lines, "upgrade"), (label, lines)
            srv.expect_log("interim")
            assert srv.get("/clen-twice").status == 200, label


def test_a_status_above_599_is_refused_with_500():
    for label, srv in wsgi_servers():
        with srv:
            lines, body = raw(srv, "/status-600")
            assert lines[0].startswith(b"HTTP/1.1 500"), (label, lines)


def test_control_bytes_in_a_header_value_are_refused_with_500():
    for label, srv in all_servers():
        with srv:
            lines, body = raw(srv, "/ctl-value")
            assert lines[0].startswith(b"HTTP/1.1 500"), (label, lines)
            assert not header_lines(lines, "x-ctl"), (label, lines)
            assert all(b"\x01" not in l for l in lines), (label, lines)
            srv.expect_log("control character")


def test_a_tab_in_a_header_value_is_allowed():
    for label, srv in rack_servers():
        with srv:
            lines, body = raw(srv, "/ctl-tab")
            assert lines[0].startswith(b"HTTP/1.1 200"), (label, lines)
            assert header_lines(lines, "x-tab") == [b"x-tab: a\tb"], \
                (label, lines)


def test_rack_status_gets_the_core_reason_phrase():
    for label, srv in rack_servers():
        with srv:
            # RFC 9110's names, not Rack 2's ("Unprocessable Entity")
            for code, reason in (("201", b"Created"),
                                 ("422", b"Unprocessable Content"),
                                 ("299", b"Unknown")):
                lines, body = raw(srv, "/reason-" + code)
                assert lines[0] == b"HTTP/1.1 " + code.encode() + b" " + \
                    reason, (label, lines)


# ------------------------------------------ head injection: the uwsgi packet

BAD_PROTOCOLS = ["X\r\nY: z", "HTTP/1.1\r\nSet-Cookie: a=b", "HTTP/1.1 ",
                 "", "HTTP/", "http/1.1", "HTTP/1.1x"]


def test_uwsgi_server_protocol_never_reaches_the_head_unchecked():
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        for proto in BAD_PROTOCOLS:
            out = srv.uwsgi_request("/hello", SERVER_PROTOCOL=proto)
            # refused as a bad packet: dropped, as the uwsgi protocol
            # drops every bad request (no head to inject into)
            assert b"200 OK" not in out, (proto, out)
            assert b"Y: z" not in out and b"Set-Cookie" not in out, \
                (proto, out)
            assert srv.uwsgi_request("/hello").endswith(b"Hello World")
        srv.expect_log("SERVER_PROTOCOL that is not HTTP/x.y")
        for proto in ("HTTP/1.0", "HTTP/1.1", "HTTP/2.0"):
            out = srv.uwsgi_request("/hello", SERVER_PROTOCOL=proto)
            assert out.startswith(proto.encode() + b" 200 OK\r\n"), \
                (proto, out)


# ------------------------------------------------------- the CGI defaults

def test_a_minimal_uwsgi_packet_gets_the_same_defaults_in_every_language():
    """One rule in the core for what the protocol did not give: Python
    and Rack see the same SERVER_NAME, SERVER_PORT, ... (before, Python
    took the port from Host and Rack got no SERVER_NAME at all)."""
    weftest.require("python", "rack")
    packet = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/env",
              "PATH_INFO": "/env", "HTTP_HOST": "example.org:8443"}
    with Server("--wsgi-file", app("echo.py"), "--rack", app("env.ru"),
                uwsgi=True, http=False) as srv:
        envs = {}
        for lang, m1 in (("python", 0), ("rack", 7)):
            out = srv.uwsgi_until_close(weftest.uwsgi_packet(packet, m1))
            head, _, body = out.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.0 200 OK"), (lang, out[:300])
            envs[lang] = json.loads(body)
        want = {"SERVER_NAME": "example.org", "SERVER_PORT": str(srv.uport),
                "SCRIPT_NAME": "", "QUERY_STRING": "",
                "SERVER_PROTOCOL": "HTTP/1.0", "REMOTE_ADDR": "127.0.0.1",
                "REQUEST_METHOD": "GET"}
        for lang, env in envs.items():
            for k, v in want.items():
                assert env.get(k) == v, (lang, k, env.get(k), v)
            assert env.get("REMOTE_PORT", "").isdigit(), (lang, env)


if __name__ == "__main__":
    weftest.main()
