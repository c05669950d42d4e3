"""Static files served by the core (issue 11): --static-map (longest
prefix), --static-map2, --check-static, --static-index, --static-skip-ext,
--static-expires(-type), --static-gzip(-all), --static-safe, content types,
conditional requests (304), ranges (206, 416), HEAD, keep-alive after; the
traversal list on every loop (the core's loop without an engine, ugreen,
greenlet, gevent); a large file to a slow reader while sleeps on the same
worker finish: a 100 MB file to a client that reads slowly does not stop
10 concurrent uwsgi.async_sleep requests on the same worker, on every
loop."""

import gzip
import os
import re
import socket
import time

import weftest
from weftest import Reader, Server, app, parallel, request

D = weftest.scratch_dir()
ROOT = os.path.join(D, "www")
IMG = os.path.join(D, "img")
CSS = b"body { color: red }\n"
SECRET = b"top secret, outside the root\n"
BIG = 100 * 1024 * 1024     # sparse: no disk


def setup_tree():
    os.makedirs(os.path.join(ROOT, "css"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "sub"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "noindex"), exist_ok=True)
    os.makedirs(IMG, exist_ok=True)
    with open(os.path.join(ROOT, "css", "site.css"), "wb") as f:
        f.write(CSS)
    with open(os.path.join(ROOT, "css", "site.css.gz"), "wb") as f:
        f.write(gzip.compress(CSS))
    with open(os.path.join(ROOT, "sub", "index.html"), "wb") as f:
        f.write(b"<p>index</p>\n")
    with open(os.path.join(ROOT, "app.py"), "wb") as f:
        f.write(b"print('source')\n")
    with open(os.path.join(ROOT, "data.bin"), "wb") as f:
        f.write(bytes(range(256)) * 4)
    with open(os.path.join(ROOT, "big.bin"), "wb") as f:
        f.truncate(BIG)
    with open(os.path.join(IMG, "pixel.gif"), "wb") as f:
        f.write(b"GIF89a-img-dir")
    os.makedirs(os.path.join(D, "outside"), exist_ok=True)
    with open(os.path.join(D, "outside", "secret.txt"), "wb") as f:
        f.write(SECRET)
    with open(os.path.join(D, "secret.txt"), "wb") as f:
        f.write(SECRET)
    for name, target in (("evil", os.path.join(D, "secret.txt")),
                         ("evildir", os.path.join(D, "outside")),
                         ("good", os.path.join(ROOT, "css", "site.css"))):
        p = os.path.join(ROOT, name)
        if not os.path.lexists(p):
            os.symlink(target, p)


setup_tree()


def static_server(*args, appname="hello.py", **kw):
    weftest.require("python")
    return Server("--wsgi-file", app(appname),
                  "--static-map", "/static=" + ROOT,
                  "--static-map", "/static/img=" + IMG,
                  "--static-index", "index.html", *args, **kw)


def get(srv, path, headers=None, method="GET"):
    return request(srv.port, method, path, headers=headers)


def test_a_file_is_served_with_its_type_length_date_and_etag():
    with static_server() as srv:
        r = get(srv, "/static/css/site.css")
        assert r.status == 200, r
        assert r.body == CSS
        assert r.header("content-type") == "text/css"
        assert r.header("content-length") == str(len(CSS))
        assert r.header("last-modified").endswith(" GMT")
        assert r.header("etag").startswith('"')
        assert r.header("accept-ranges") == "bytes"
        r = get(srv, "/static/img/pixel.gif")
        assert r.header("content-type") == "image/gif"
        # the longest prefix wins: /static/img is the img directory
        assert r.body == b"GIF89a-img-dir", r
        r = get(srv, "/static/data.bin")
        assert r.header("content-type") == "application/octet-stream"
        assert r.body == bytes(range(256)) * 4
        srv.expect_log("GET /static/css/site.css => generated %d bytes"
                       % len(CSS))


def test_head_sends_the_head_only():
    with static_server() as srv:
        s = srv.connect()
        s.sendall(b"HEAD /static/css/site.css HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        rd = Reader(s)
        r = rd.response(head=True)
        assert r.status == 200 and r.header("content-length") == str(len(CSS))
        r = rd.response()
        assert r.body == b"Hello World", r
        s.close()


def test_a_missing_file_falls_through_to_the_app():
    with static_server() as srv:
        r = get(srv, "/static/not-collected.css")
        assert r.status == 200 and r.body == b"Hello World", r
        r = get(srv, "/hello")
        assert r.body == b"Hello World"


def test_a_directory_is_served_by_its_index_or_refused_never_listed():
    with static_server() as srv:
        r = get(srv, "/static/sub/")
        assert r.status == 200 and r.body == b"<p>index</p>\n", r
        assert r.header("content-type") == "text/html"
        for path in ("/static/noindex", "/static/noindex/", "/static/",
                     "/static"):
            r = get(srv, path)
            assert r.status == 403, (path, r)
            assert b"site.css" not in r.body


def test_conditional_requests_get_304():
    with static_server() as srv:
        r = get(srv, "/static/css/site.css")
        etag, lm = r.header("etag"), r.header("last-modified")
        r = get(srv, "/static/css/site.css", {"If-None-Match": etag})
        assert r.status == 304 and r.body == b"", r
        assert r.header("etag") == etag
        r = get(srv, "/static/css/site.css", {"If-None-Match": '"other", '
                                              + "W/" + etag})
        assert r.status == 304, r
        r = get(srv, "/static/css/site.css", {"If-None-Match": '"other"'})
        assert r.status == 200 and r.body == CSS
        r = get(srv, "/static/css/site.css", {"If-Modified-Since": lm})
        assert r.status == 304, r
        r = get(srv, "/static/css/site.css",
                {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"})
        assert r.status == 200 and r.body == CSS
        r = get(srv, "/static/css/site.css",
                {"If-Modified-Since": "not a date"})
        assert r.status == 200


def test_ranges_get_206_or_416():
    data = bytes(range(256)) * 4
    with static_server() as srv:
        r = get(srv, "/static/data.bin", {"Range": "bytes=10-19"})
        assert r.status == 206 and r.body == data[10:20], r
        assert r.header("content-range") == "bytes 10-19/1024"
        assert r.header("content-length") == "10"
        r = get(srv, "/static/data.bin", {"Range": "bytes=1000-"})
        assert r.status == 206 and r.body == data[1000:]
        r = get(srv, "/static/data.bin", {"Range": "bytes=-24"})
        assert r.status == 206 and r.body == data[-24:]
        assert r.header("content-range") == "bytes 1000-1023/1024"
        r = get(srv, "/static/data.bin", {"Range": "bytes=1000-5000"})
        assert r.status == 206 and r.body == data[1000:]
        r = get(srv, "/static/data.bin", {"Range": "bytes=1024-"})
        assert r.status == 416, r
        assert r.header("content-range") == "bytes */1024"
        r = get(srv, "/static/data.bin", {"Range": "bytes=-0"})
        assert r.status == 416, r
        # several ranges, or nonsense: the whole file
        r = get(srv, "/static/data.bin", {"Range": "bytes=0-1,5-6"})
        assert r.status == 200 and r.body == data
        r = get(srv, "/static/data.bin", {"Range": "lines=1-2"})
        assert r.status == 200 and r.body == data
        # If-Range with another validator: the whole file
        r = get(srv, "/static/data.bin", {"Range": "bytes=0-1",
                                          "If-Range": '"old"'})
        assert r.status == 200 and r.body == data


def test_keep_alive_goes_on_after_static_responses():
    with static_server() as srv:
        s = srv.connect()
        rd = Reader(s)
        for path, want in (("/static/css/site.css", CSS),
                           ("/hello", b"Hello World"),
                           ("/static/img/pixel.gif", b"GIF89a-img-dir"),
                           ("/static/noindex/", None),
                           ("/static/css/site.css", CSS)):
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            r = rd.response()
            if want is None:
                assert r.status == 403
            else:
                assert r.body == want, (path, r)
            assert r.header("connection") != "close"
        assert not rd.eof(0.3)
        # HTTP/1.0 without keep-alive: closed after
        s.sendall(b"GET /static/css/site.css HTTP/1.0\r\n\r\n")
        r = rd.response()
        assert r.body == CSS and r.header("connection") == "close"
        assert rd.eof()
        s.close()


def test_static_map2_keeps_the_prefix_and_check_static_falls_through():
    weftest.require("python")
    with Server("--wsgi-file", app("hello.py"),
                "--static-map2", "/css=" + ROOT,
                "--check-static", IMG) as srv:
        r = get(srv, "/css/site.css")
        assert r.body == CSS, r
        r = get(srv, "/pixel.gif")
        assert r.body == b"GIF89a-img-dir", r
        r = get(srv, "/hello")
        assert r.body == b"Hello World"
        # a directory under --check-static is the app's
        r = get(srv, "/")
        assert r.body == b"Hello World", r


def test_skip_ext_expires_and_gzip():
    with static_server("--static-skip-ext", ".py",
                       "--static-expires-type", "text/css=3600",
                       "--static-expires", r"\.gif$=60",
                       "--static-gzip-all") as srv:
        r = get(srv, "/static/app.py")
        assert r.body == b"Hello World", r
        r = get(srv, "/static/css/site.css", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") == "gzip", r
        assert gzip.decompress(r.body) == CSS
        assert r.header("content-type") == "text/css"
        assert r.header("cache-control") == "max-age=3600"
        assert r.header("expires").endswith(" GMT")
        assert "Accept-Encoding" in r.header("vary")
        r = get(srv, "/static/css/site.css",
                {"Accept-Encoding": "deflate, gzip;q=0"})
        assert r.header("content-encoding") is None and r.body == CSS
        r = get(srv, "/static/css/site.css",
                {"Accept-Encoding": "br, gzip;q=0"})
        assert r.header("content-encoding") == "br", r
        r = get(srv, "/static/css/site.css")
        assert r.header("content-encoding") is None and r.body == CSS
        r = get(srv, "/static/img/pixel.gif", {"Accept-Encoding": "gzip"})
        assert r.header("cache-control") == "max-age=60", r
        assert r.header("content-encoding") is None


def test_static_gzip_by_regexp():
    with static_server("--static-gzip", r"\.css$") as srv:
        r = get(srv, "/static/css/site.css", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") == "gzip", r
        r = get(srv, "/static/data.bin", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") is None


def setup_more():
    """Files for uWSGI's other static options."""
    os.makedirs(os.path.join(ROOT, "js"), exist_ok=True)
    for rel, data in (("js/app.js", JS), ("js/app.js.gz", gzip.compress(JS)),
                      ("js/app.js.br", b"brotli-bytes"),
                      ("js/lib.mjs", JS), ("js/lib.mjs.gz", gzip.compress(JS)),
                      ("css/site.css.br", b"brotli-css")):
        with open(os.path.join(ROOT, rel), "wb") as f:
            f.write(data)
    os.utime(os.path.join(ROOT, "js", "app.js"), (MTIME, MTIME))
    with open(os.path.join(ROOT, "app.unknown"), "wb") as f:
        f.write(b"?")
    with open(os.path.join(D, "favicon.ico"), "wb") as f:
        f.write(b"ICO")
    with open(os.path.join(D, "extra.types"), "w") as f:
        f.write("text/x-weft-test\tgif\n")


JS = b"console.log('weft');\n"
MTIME = 1700000000      # 2023-11-14 22:13:20 GMT
setup_more()


def expires_of(r):
    from email.utils import parsedate_to_datetime
    return int(parsedate_to_datetime(r.header("expires")).timestamp())


def test_gzip_dir_ext_and_brotli_variants():
    with static_server("--static-gzip-dir", os.path.join(ROOT, "js"),
                       "--static-gzip-suffix", ".css") as srv:
        r = get(srv, "/static/js/app.js", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") == "gzip", r
        assert gzip.decompress(r.body) == JS
        assert r.header("content-type") == "text/javascript", r
        # uWSGI tries .br first when the client takes brotli
        r = get(srv, "/static/js/app.js", {"Accept-Encoding": "gzip, br"})
        assert r.header("content-encoding") == "br" and \
            r.body == b"brotli-bytes", r
        assert r.header("etag").endswith('-br"'), r
        r = get(srv, "/static/css/site.css", {"Accept-Encoding": "br"})
        assert r.header("content-encoding") == "br", r
        # --static-gzip-ext .css does not cover .gif; no gzip accepted: plain
        r = get(srv, "/static/img/pixel.gif", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") is None
        r = get(srv, "/static/js/app.js")
        assert r.header("content-encoding") is None and r.body == JS
    with static_server("--static-gzip-prefix", os.path.join(ROOT, "css"),
                       "--static-gzip-ext", ".mjs") as srv:
        r = get(srv, "/static/js/lib.mjs", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") == "gzip", r
        r = get(srv, "/static/js/app.js", {"Accept-Encoding": "gzip"})
        assert r.header("content-encoding") is None, r


def test_every_static_expires_family():
    now = time.time()
    with static_server("--static-expires-uri", r"v=2$=100",
                       "--static-expires-path-info", r"^/static/css/=200",
                       "--static-expires-type-mtime", "text/javascript=300",
                       "--static-expires-mtime", r"\.gif$=400") as srv:
        r = get(srv, "/static/data.bin?v=2")
        assert abs(expires_of(r) - (now + 100)) < 30, r
        assert r.header("cache-control") == "max-age=100", r
        r = get(srv, "/static/data.bin?v=1")
        assert r.header("expires") is None, r
        r = get(srv, "/static/css/site.css")
        assert abs(expires_of(r) - (now + 200)) < 30, r
        r = get(srv, "/static/js/app.js")
        assert expires_of(r) == MTIME + 300, r
        assert r.header("cache-control") == "max-age=0", r
        gif_mtime = int(os.stat(os.path.join(IMG, "pixel.gif")).st_mtime)
        r = get(srv, "/static/img/pixel.gif")
        assert expires_of(r) == gif_mtime + 400, r
        # uWSGI's order: the file's path, PATH_INFO, REQUEST_URI, the type
        r = get(srv, "/static/css/site.css?v=2")
        assert r.header("cache-control") == "max-age=200", r
    r = weftest.run_weft("--static-expires-uri", "((=5", http_socket=True)
    assert r.returncode != 0 and "--static-expires-uri" in r.stderr, r.stderr


def test_static_map_to_a_file_static_check_and_mime_files():
    weftest.require("python")
    with Server("--wsgi-file", app("hello.py"),
                "--static-map", "/favicon.ico=" + os.path.join(D,
                                                               "favicon.ico"),
                "--static-check", IMG,
                "--mime-file", os.path.join(D, "extra.types"),
                "--mimefile", "/etc/mime.types") as srv:
        r = get(srv, "/favicon.ico")
        assert r.status == 200 and r.body == b"ICO", r
        r = get(srv, "/pixel.gif")
        assert r.body == b"GIF89a-img-dir", r
        # the first file that names an extension wins
        assert r.header("content-type") == "text/x-weft-test", r
        r = get(srv, "/favicon.icon")
        assert r.body == b"Hello World", r


def test_without_a_mime_types_file_the_built_in_types_serve():
    with static_server("--mimefile", os.path.join(D, "no-such.types")) as srv:
        srv.expect_log("using weft's built-in list of")
        r = get(srv, "/static/css/site.css")
        assert r.header("content-type") == "text/css", r
        r = get(srv, "/static/js/app.js")
        assert r.header("content-type") == "text/javascript", r
    # /etc/mime.types read once, at start-up: one master, two workers,
    # no worker opens it
    with static_server("--master", "--processes", "2") as srv:
        r = get(srv, "/static/img/pixel.gif")
        assert r.header("content-type") == "image/gif", r
        assert "built-in" not in srv.log()


def curl(*args):
    import shutil
    import subprocess
    if shutil.which("curl") is None:
        raise weftest.Skip("curl is not installed")
    return subprocess.run(["curl", "-sS", "--max-time", "30"] + list(args),
                          capture_output=True, timeout=60)


def test_curl_gets_static_files_as_a_browser_would():
    with static_server("--static-gzip-all") as srv:
        base = "http://127.0.0.1:%d/static/" % srv.port
        out = os.path.join(D, "curl.out")
        # two files and the app on one connection (keep-alive), gzip
        # decoded by curl
        # (js/lib.mjs has a .gz and no .br: curl takes both codings)
        r = curl("-v", "--compressed", "-o", out, base + "js/lib.mjs",
                 "-o", out + "2", base + "data.bin", "-o", out + "3",
                 "http://127.0.0.1:%d/hello" % srv.port)
        assert r.returncode == 0, r.stderr
        assert open(out, "rb").read() == JS
        assert open(out + "2", "rb").read() == bytes(range(256)) * 4
        assert open(out + "3", "rb").read() == b"Hello World"
        assert r.stderr.count(b"Connected to") == 1, r.stderr
        assert b"Re-using existing connection" in r.stderr or \
            b"Reusing existing" in r.stderr, r.stderr
        assert b"content-encoding: gzip" in r.stderr.lower(), r.stderr
        # a range, and a resumed download (-C -)
        r = curl("-r", "100-199", base + "data.bin")
        assert r.stdout == (bytes(range(256)) * 4)[100:200], r
        with open(out + "4", "wb") as f:
            f.write((bytes(range(256)) * 4)[:300])
        r = curl("-C", "-", "-o", out + "4", base + "data.bin")
        assert r.returncode == 0, r.stderr
        assert open(out + "4", "rb").read() == bytes(range(256)) * 4
        # -z: If-Modified-Since from the file's own date: 304, nothing
        # written
        os.utime(out, (os.stat(os.path.join(ROOT, "css", "site.css"))
                       .st_mtime,) * 2)
        r = curl("-z", out, "-o", out + "5", "-w", "%{http_code}",
                 base + "css/site.css")
        assert r.stdout == b"304" and not os.path.exists(out + "5"), r
        # HEAD
        r = curl("-I", base + "css/site.css")
        assert b"content-length: %d" % len(CSS) in r.stdout.lower(), r
        # a traversal with the path as given
        r = curl("--path-as-is", "-w", "%{http_code}", "-o", "/dev/null",
                 base + "../secret.txt")
        assert r.stdout == b"403", r


def test_file_serve_mode_hands_the_file_to_the_front_server():
    with static_server("--file-serve-mode", "x-accel-redirect") as srv:
        r = get(srv, "/static/css/site.css")
        assert r.status == 200 and r.body == b"", r
        assert r.header("x-accel-redirect") == os.path.join(
            os.path.realpath(ROOT), "css", "site.css"), r
        assert r.header("content-length") == "0"
        r = get(srv, "/static/css/site.css",
                {"If-Modified-Since": r.header("last-modified")})
        assert r.status == 304 and r.header("x-accel-redirect") is None, r
    with static_server("--fileserve-mode", "x-sendfile") as srv:
        r = get(srv, "/static/img/pixel.gif")
        assert r.header("x-sendfile") == os.path.join(
            os.path.realpath(IMG), "pixel.gif"), r
    r = weftest.run_weft("--file-serve-mode", "offload", http_socket=True)
    assert r.returncode != 0 and "x-accel-redirect" in r.stderr, r.stderr


def test_check_static_docroot_serves_nginxs_document_root():
    weftest.require("python")
    with Server("--wsgi-file", app("hello.py"), "--check-static-docroot",
                uwsgi=True) as srv:
        out = srv.uwsgi_request("/css/site.css", DOCUMENT_ROOT=ROOT)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and body == CSS, out
        out = srv.uwsgi_request("/../secret.txt", DOCUMENT_ROOT=ROOT)
        assert SECRET not in out and b" 403 " in out.split(b"\r\n")[0], out
        out = srv.uwsgi_request("/css/site.css")
        assert out.endswith(b"Hello World"), out
        # over HTTP no client can name a DOCUMENT_ROOT
        r = get(srv, "/css/site.css", {"Document-Root": ROOT})
        assert r.body == b"Hello World", r


def test_static_options_uwsgi_has_and_weft_refuses_say_why():
    for opt, why in (("--static-cache-paths", "realpath"),
                     ("--static-cache-paths-name", "realpath"),
                     ("--honour-range", "always answer Range")):
        r = weftest.run_weft(opt, "30", http_socket=True)
        assert r.returncode != 0, (opt, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and opt in lines[0] and why in lines[0], \
            (opt, r.stderr)


def test_offload_threads_is_accepted_and_said_to_be_unneeded():
    with static_server("--offload-threads", "4") as srv:
        srv.expect_log("--offload-threads 4: accepted and not needed")


def test_a_bad_static_map_stops_the_start():
    r = weftest.run_weft("--static-map", "/x=" + os.path.join(D, "nope"),
                         http_socket=True)
    assert r.returncode != 0
    assert "--static-map" in r.stderr and "nope" in r.stderr, r.stderr
    r = weftest.run_weft("--static-map", "nourl", http_socket=True)
    assert r.returncode != 0 and "/url=directory" in r.stderr, r.stderr


# ------------------------------------------------------------ security

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/../../secret.txt",
    "/static/css/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/..%2fsecret.txt",
    "/static/css%2f..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%c0%ae%c0%ae%c0%afsecret.txt",
    "/static/%e0%80%ae%e0%80%ae/secret.txt",
    "/static/secret.txt%00.css",
    "/static/css/site.css%00",
    "/static/evil",
    "/static/evildir/secret.txt",
    "/static/%2e%2e/outside/secret.txt",
    "/static/img/../../secret.txt",
]


def raw_get(srv, path):
    """GET path exactly as given (no client normalisation): status, body."""
    s = srv.connect()
    s.sendall(b"GET " + path.encode("latin-1") +
              b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r = Reader(s).response()
    s.close()
    return r


def check_traversals(srv, label):
    for path in TRAVERSALS:
        r = raw_get(srv, path)
        assert SECRET not in r.body, (label, path, r)
        assert r.status in (400, 403, 404), (label, path, r)
    # the server is fine after them
    r = raw_get(srv, "/static/css/site.css")
    assert r.body == CSS, (label, r)
    r = raw_get(srv, "/static/good")
    assert r.body == CSS, (label, "a symlink inside the root", r)


def loops():
    """(label, app, args) of each loop built here."""
    built = weftest.built_plugins()
    out = [("core loop, no engine", "sleeping_async.py",
            ("--async", "12"))]
    for name, args in (("ugreen", ("--async", "12", "--ugreen")),
                       ("greenlet", ("--async", "12", "--greenlet")),
                       ("gevent", ("--gevent", "12"))):
        if name in built:
            # uwsgi.async_sleep + uwsgi.suspend: the same app on each
            out.append((name, "sleeping_green.py", args))
        else:
            print("  (%s not built: skipped)" % name)
    return out


def test_traversal_list_is_refused_on_every_loop():
    weftest.require("python")
    for label, appname, args in loops():
        with static_server(*args, appname=appname) as srv:
            check_traversals(srv, label)


def test_static_safe_allows_a_symlink_target():
    with static_server("--static-safe", os.path.join(D, "outside")) as srv:
        r = raw_get(srv, "/static/evildir/secret.txt")
        assert r.status == 200 and r.body == SECRET, r
        # still not the file outside both
        r = raw_get(srv, "/static/evil")
        assert r.status == 403, r


def test_static_over_the_uwsgi_protocol():
    with static_server(uwsgi=True) as srv:
        out = srv.uwsgi_request("/static/css/site.css")
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), out
        assert body == CSS


# ------------------------------------------------- against uWSGI 2.0.21

def uwsgi_static(port, *args):
    """Debian's uWSGI (python3 plugin) with --static-map like ours, on
    port: the Popen, or None when uwsgi or its python3 plugin is absent."""
    import shutil
    import subprocess
    exe = shutil.which("uwsgi")
    if exe is None:
        return None
    p = subprocess.run([exe, "--plugin", "python3", "--help"],
                       capture_output=True, text=True, timeout=30)
    if "--wsgi-file" not in p.stdout:
        return None
    logf = open(os.path.join(D, "uwsgi-static.log"), "w")
    proc = subprocess.Popen(
        [exe, "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port,
         "--wsgi-file", app("hello.py"), "--static-map", "/static=" + ROOT,
         "--static-map", "/static/img=" + IMG, "--static-index",
         "index.html", "--disable-logging"] + list(args),
        stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    if not weftest.wait_for(lambda: weftest.port_open(port), 15):
        proc.kill()
        raise AssertionError("uwsgi did not start")
    return proc


# (method, path, request headers) answered alike by uWSGI and weft: the
# status, the body, and the headers both send
SAME = [
    ("GET", "/static/css/site.css", {}),
    ("HEAD", "/static/css/site.css", {}),
    ("GET", "/static/css/site.css", {"Accept-Encoding": "gzip"}),
    ("GET", "/static/img/pixel.gif", {}),
    ("GET", "/static/sub/", {}),
    ("GET", "/static/sub", {}),
    ("GET", "/static/js/app.js", {}),
    ("GET", "/static/not-collected.css", {}),
    ("GET", "/hello", {}),
    ("POST", "/static/css/site.css", {}),
    ("GET", "/static/data.bin", {"Range": "bytes=10-19"}),
    ("GET", "/static/data.bin", {"Range": "bytes=-24"}),
    ("GET", "/static/data.bin", {"Range": "bytes=1000-5000"}),
    ("GET", "/static/data.bin", {"Range": "bytes=1024-"}),
    ("GET", "/static/data.bin", {"Range": "bytes=-0"}),
    ("GET", "/static/css/site.css",
     {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
    ("GET", "/static/css/site.css",
     {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"}),
]
COMPARED = ("content-type", "content-length", "content-range",
            "content-encoding", "last-modified")


def test_same_answers_as_uwsgi_for_the_same_static_cases():
    weftest.require("python")
    port = weftest.free_port()
    proc = uwsgi_static(port, "--static-gzip-all", "--honour-range",
                        "--static-expires-type", "text/css=3600")
    if proc is None:
        raise weftest.Skip("uwsgi with its python3 plugin is not installed")
    try:
        with static_server("--static-gzip-all", "--static-expires-type",
                           "text/css=3600") as srv:
            for method, path, hdrs in SAME:
                ours = request(srv.port, method, path, headers=hdrs)
                theirs = request(port, method, path, headers=hdrs)
                what = (method, path, hdrs, ours, theirs)
                assert ours.status == theirs.status, what
                if ours.status not in (304, 416):
                    assert ours.body == theirs.body, what
                for h in COMPARED:
                    if theirs.header(h) is not None:
                        assert ours.header(h) == theirs.header(h), (h, what)
                if ours.status != 304:
                    # a 304 of weft's repeats the 200's validators and
                    # Expires (RFC 9110 15.4.5); uWSGI's has no header
                    assert (ours.header("expires") is None) == \
                        (theirs.header("expires") is None), what
            # where weft differs on purpose (docs/static.md, "Differences
            # from uWSGI"): each difference, as it is
            for path, hdrs, ours_want, theirs_want in (
                    # a traversal: refused, not passed to the app
                    ("/static/%2e%2e/secret.txt", {}, 403, 200),
                    # a directory without index: refused, not the app's
                    ("/static/noindex/", {}, 403, 200),
                    # a prefix matches at a segment end only
                    ("/staticcss/site.css", {}, b"Hello World", CSS),
                    # validators: weft answers If-None-Match
                    ("/static/css/site.css", {"If-None-Match": "*"}, 304,
                     200),
                    # several ranges, or another unit: the whole file
                    ("/static/data.bin", {"Range": "bytes=0-1,5-6"}, 200,
                     206),
                    ("/static/data.bin", {"Range": "lines=1-2"}, 200, 416)):
                ours = request(srv.port, "GET", path, headers=hdrs)
                theirs = request(port, "GET", path, headers=hdrs)
                got = ((ours.status, theirs.status) if isinstance(
                    ours_want, int) else (ours.body, theirs.body))
                assert got == (ours_want, theirs_want), (path, hdrs, ours,
                                                         theirs)
            # an unknown extension: uWSGI sends no Content-Type
            ours = request(srv.port, "GET", "/static/app.unknown")
            theirs = request(port, "GET", "/static/app.unknown")
            assert ours.header("content-type") == "application/octet-stream"
            assert theirs.header("content-type") is None, theirs
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except Exception:  # noqa: BLE001 - the reference must not linger
            proc.kill()
            proc.wait(5)


# --------------------------------------------------------- concurrency

def slow_download(port, path, result, fast, started):
    """Read path's response slowly (64 KiB, then a pause) until `fast` is
    set, then at full speed; appends the byte count to result. Sets
    `started` once the first bytes of the response came."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % path.encode())
    got = 0
    t0 = time.time()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
        started.set()
        # about 1.3 MB/s: 100 MB would take 80 s
        if not fast.is_set() and time.time() - t0 < 30:
            time.sleep(0.05)
    s.close()
    result.append(got)


def test_a_slow_download_does_not_stop_sleeps_on_the_same_worker():
    import threading
    weftest.require("python")
    for label, appname, args in loops():
        with static_server(*args, appname=appname) as srv:
            res, fast, started = [], threading.Event(), threading.Event()
            t = threading.Thread(target=slow_download,
                                 args=(srv.port, "/static/big.bin", res,
                                       fast, started))
            t.start()
            assert started.wait(30), (label, "no byte of the download")
            rs, dt = parallel(lambda i: get(srv, "/?s=1"), 10)
            alive = t.is_alive()
            fast.set()
            t.join(60)
            assert all(r.status == 200 for r in rs), (label, rs)
            # 10 x 1 s sleeps while the file goes out: generous bound
            assert dt < 5, (label, dt)
            assert alive, (label, "the download ended before the sleeps: "
                           "the test proves nothing")
            slept = [float(re.search(rb"(?:slept|after) ([0-9.]+) "
                                     rb"seconds", r.body).group(1))
                     for r in rs]
            assert all(0.9 < x < 5 for x in slept), (label, slept)
            print("  %s: 10 sleeps of 1 s in %.2f s beside the download"
                  % (label, dt))
            assert res and res[0] > BIG, (label, res)


weftest.main()
