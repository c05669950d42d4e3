"""The uwsgi binary protocol on --socket: raw packets, and real nginx in
front with uwsgi_pass (skipped when nginx is not installed)."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import weftest
from weftest import Server, cgi_vars, request, uwsgi_packet


def test_raw_packet_gets_a_raw_http_response_ended_by_close():
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        out = srv.uwsgi_request("/hello")
        assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out
        assert out.endswith(b"\r\n\r\nHello World"), out


def test_body_follows_the_packet():
    payload = os.urandom(200000)
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        out = srv.uwsgi_request("/echo", "POST", body=payload,
                                CONTENT_LENGTH=str(len(payload)))
        head, _, body = out.partition(b"\r\n\r\n")
        assert body == payload


def test_protocol_of_the_status_line_comes_from_the_vars():
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        out = srv.uwsgi_request("/chunks?n=3", SERVER_PROTOCOL="HTTP/1.0")
        assert out.startswith(b"HTTP/1.0 200 OK\r\n"), out
        # no chunked framing on the uwsgi protocol: the close ends it
        assert b"Transfer-Encoding" not in out
        assert out.count(b"chunk ") == 3


BAD_PACKETS = [
    struct.pack("<BHB", 0, 0, 0),                        # empty vars
    struct.pack("<BHB", 0, 4, 0) + b"\x05\x00ab",        # lengths past end
    struct.pack("<BHB", 0, 6, 0) + b"\x00\x00\x02\x00ab",  # empty key
]


def test_bad_packets_are_dropped_and_the_worker_keeps_serving():
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        for i, p in enumerate(BAD_PACKETS):
            # dropped: closed with no answer (nginx makes the 502), as
            # uWSGI does; not "anything but a 200"
            out = srv.uwsgi_until_close(p)
            assert out == b"", (p, out)
            assert weftest.wait_for(
                lambda: srv.log().count("bad request") == i + 1, 5), \
                srv.log()[-2000:]
            assert srv.uwsgi_request("/hello").endswith(b"Hello World")


def test_oversized_packet_is_refused():
    with Server("--buffer-size", "1024", uwsgi=True, http=False,
                testlang=True) as srv:
        big = uwsgi_packet(cgi_vars("/hello", HTTP_X_BIG="a" * 3000))
        assert srv.uwsgi_until_close(big) == b""
        srv.expect_log("(431 ")
        assert srv.uwsgi_request("/hello").endswith(b"Hello World")


def test_unknown_modifier1_is_refused_with_a_log_line():
    with Server(uwsgi=True, http=False, testlang=True) as srv:
        out = srv.uwsgi_request("/hello", modifier1=5)
        assert out == b"", out
        srv.expect_log("unavailable modifier requested: 5")


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            include /etc/nginx/uwsgi_params;
            uwsgi_pass 127.0.0.1:{uport};
        }}
    }}
}}
"""


def with_nginx(srv, fn):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None or not os.path.exists("/etc/nginx/uwsgi_params"):
        raise weftest.Skip("nginx not installed (apt-get install nginx-light)")
    d = tempfile.mkdtemp(prefix="weft-nginx-")
    os.chmod(d, 0o755)   # nginx's workers (nobody) write body temp files
    port = weftest.free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(d=d, port=port, uport=srv.uport))
    p = subprocess.Popen([nginx, "-c", os.path.join(d, "nginx.conf"),
                          "-p", d], stdout=subprocess.DEVNULL,
                         stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if p.poll() is not None or time.time() > deadline:
                    raise AssertionError("nginx did not start: " +
                                         open(os.path.join(d, "error.log"))
                                         .read())
                time.sleep(0.05)
        fn(port)
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def test_nginx_uwsgi_pass_reaches_the_app():
    def check(port):
        r = request(port, "GET", "/hello")
        assert r.status == 200 and r.body == b"Hello World", r
        payload = os.urandom(500000)
        r = request(port, "POST", "/echo", body=payload)
        assert r.status == 200 and len(r.body) == len(payload), (
            r, len(r.body))
        assert r.body == payload
        r = request(port, "GET", "/chunks?n=100")
        assert r.status == 200 and r.body.count(b"chunk ") == 100
        r = request(port, "GET", "/error")
        assert r.status == 500

    with Server(uwsgi=True, http=False, testlang=True) as srv:
        with_nginx(srv, check)
    built = weftest.built_plugins()
    if "ugreen" in built:
        with Server("--async", "8", "--ugreen", uwsgi=True, http=False,
                    testlang=True) as srv:
            with_nginx(srv, check)


def test_nginx_concurrent_sleeps_share_the_worker():
    if "ugreen" not in weftest.built_plugins():
        raise weftest.Skip("ugreen not built")

    def check(port):
        res, dt = weftest.parallel(
            lambda i: request(port, "GET", "/gsleep?ms=1000"), 8)
        assert all(r.status == 200 for r in res), res
        assert dt < 1.9, dt

    with Server("--async", "8", "--ugreen", uwsgi=True, http=False,
                testlang=True) as srv:
        with_nginx(srv, check)


weftest.main()
