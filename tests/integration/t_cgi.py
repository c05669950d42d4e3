"""The CGI plugin (langs/cgi): RFC 3875 variables, the script's head and
body, scripts in shell, Python and Perl, concurrency on one worker in every
mode, big bodies both ways, 502 for garbage, timeouts and disconnects that
leave no process behind, the path rules, the uwsgi protocol's modifier1 9,
and a few answers compared with uWSGI's cgi plugin.

The scripts are written into a scratch directory by the test itself."""

import hashlib
import http.client
import os
import shutil
import signal
import subprocess
import threading
import time

import weftest
from weftest import Reader, Server, parallel, request

PY = "/usr/bin/python3"
PERL = "/usr/bin/perl"

SCRIPTS = {
    "env.sh": r"""#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
env
echo "ARGV=$*"
echo "CWD=$(pwd)"
""",
    "hello.sh": """#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "hello from sh"
""",
    "status.sh": """#!/bin/sh
echo "Status: 404 Nothing Here"
echo "Content-Type: text/plain"
echo "X-Script: status"
echo
echo "custom 404"
""",
    "location.sh": """#!/bin/sh
echo "Location: http://example.com/elsewhere"
echo
""",
    "local.sh": """#!/bin/sh
echo "Location: /hello.sh"
echo
""",
    "local2.sh": """#!/bin/sh
echo "Location: /sub/deep%2esh/x?q=1"
echo
""",
    "loop.sh": """#!/bin/sh
echo "Location: /loop.sh"
echo
""",
    "garbage.sh": """#!/bin/sh
echo "this is not a header"
echo
echo "body"
""",
    "status1xx.sh": """#!/bin/sh
echo "Status: 103 Early Hints"
echo
""",
    "nothing.sh": """#!/bin/sh
exit 3
""",
    "sleep.sh": """#!/bin/sh
sleep 1
echo "Content-Type: text/plain"
echo
echo "slept"
""",
    "stream.sh": """#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "first"
sleep 0.3
echo "second"
""",
    "cat.sh": """#!/bin/sh
echo "Content-Type: application/octet-stream"
echo
exec cat
""",
    "big.sh": """#!/bin/sh
echo "Content-Type: application/octet-stream"
echo
exec head -c 52428800 /dev/zero
""",
    "stderr.sh": """#!/bin/sh
echo "a line for the log" >&2
echo "Content-Type: text/plain"
echo
echo ok
""",
    # writes its pid and its child's pid, then hangs without output
    "hang.sh": """#!/bin/sh
sleep 300 &
echo "$$ $!" > "pids.$QUERY_STRING.tmp"
mv "pids.$QUERY_STRING.tmp" "pids.$QUERY_STRING"
wait
""",
    "fds.sh": """#!/bin/sh
echo "Content-Type: text/plain"
echo
ls /proc/$$/fd
""",
    "sum.py": """import hashlib, os, sys
h = hashlib.sha256()
n = 0
while True:
    b = sys.stdin.buffer.read(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n%d %s %s" % (
    n, h.hexdigest(), os.environ.get("CONTENT_LENGTH", "-")))
""",
    "hello.py": """import os
print("Status: 201 Created")
print("Content-Type: text/plain")
print()
print("python %s %s" % (os.environ["SCRIPT_NAME"],
                        os.environ.get("PATH_INFO", "-")))
""",
    "hello.pl": """print "Content-Type: text/plain\\n\\n";
print "perl $ENV{REQUEST_METHOD} $ENV{QUERY_STRING}\\n";
""",
    "sub/deep.sh": """#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "deep $SCRIPT_NAME $PATH_INFO"
""",
    "idx/index.sh": """#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "index $SCRIPT_NAME"
""",
}


def make_dir(name="cgi-bin"):
    """The scripts in scratch/name (executable, but .py and .pl, which
    run through helpers), plus a script outside and a symlink to it."""
    weftest.require("cgi")
    root = os.path.join(weftest.scratch_dir(), name)
    if os.path.isdir(root):
        return root
    for rel, text in SCRIPTS.items():
        p = weftest.write_file(os.path.join(name, rel), text)
        os.chmod(p, 0o644 if rel.endswith((".py", ".pl")) else 0o755)
    p = weftest.write_file(os.path.join(name, "plain.sh"), SCRIPTS["hello.sh"])
    os.chmod(p, 0o644)
    out = weftest.write_file(name + "-outside/evil.sh", SCRIPTS["hello.sh"])
    os.chmod(out, 0o755)
    os.symlink(out, os.path.join(root, "escape.sh"))
    return root


def env_of(body):
    out = {}
    for line in body.decode().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


def cgi_server(*args, **kw):
    return Server("--cgi", make_dir(), "--cgi-helper", ".py=" + PY,
                  "--cgi-helper", ".pl=" + PERL, *args, **kw)


def big_request(port, method, path, body=None, headers=None):
    """(status, body) of one request through http.client, which reads a
    big body in linear time (weftest's Reader is for small ones)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def alive(pid):
    """True when /proc has pid (a zombie counts: it is not reaped)."""
    return os.path.exists("/proc/%d" % pid)


def read_pids(root, tag, timeout=10):
    path = os.path.join(root, "pids." + tag)
    assert weftest.wait_for(lambda: os.path.exists(path), timeout), path
    with open(path) as f:
        return [int(x) for x in f.read().split()]


def children_of(pid):
    """Pids whose parent is pid (zombies included)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def modes():
    """(label, args) for every way one worker runs N scripts at once."""
    built = weftest.built_plugins()
    out = [("core loop, no suspend engine", ["--async", "24"])]
    if "ugreen" in built:
        out.append(("ugreen", ["--async", "24", "--ugreen"]))
    else:
        print("  (ugreen not built: skipped)")
    if "gevent" in built:
        out.append(("gevent", ["--gevent", "24"]))
    else:
        print("  (gevent not built: skipped)")
    return out


# ------------------------------------------------------------- variables

def test_meta_variables_rfc3875():
    with cgi_server() as srv:
        r = srv.get("/env.sh/extra/path?a=1&b=2",
                    headers={"X-Thing": "yes", "Proxy": "http://evil:1/",
                             "Content-Type": "text/x-test"})
        assert r.status == 200, r
        env = env_of(r.body)
        root = os.path.realpath(make_dir())
        want = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "weft/" + env["SERVER_SOFTWARE"][5:],
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_PORT": str(srv.port),
            "SERVER_NAME": "127.0.0.1",
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "/env.sh",
            "PATH_INFO": "/extra/path",
            "PATH_TRANSLATED": root + "/extra/path",
            "SCRIPT_FILENAME": root + "/env.sh",
            "DOCUMENT_ROOT": root,
            "QUERY_STRING": "a=1&b=2",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "text/x-test",
            "HTTP_X_THING": "yes",
            "CWD": root,
        }
        for k, v in want.items():
            assert env.get(k) == v, (k, env.get(k), v)
        assert env["SERVER_SOFTWARE"].startswith("weft/")
        # httpoxy: no HTTP_PROXY from a Proxy: header
        assert "HTTP_PROXY" not in env, env
        # the server's environment is not the script's
        assert "WEFT_SECRET" not in env
        assert "PATH" in env
        # no body: no CONTENT_LENGTH
        assert "CONTENT_LENGTH" not in env


def test_environment_is_not_the_servers():
    with cgi_server(env={"WEFT_SECRET": "hunter2", "PASSME": "yes"}) as srv:
        env = env_of(srv.get("/env.sh").body)
        assert "WEFT_SECRET" not in env and "PASSME" not in env, env
        assert "PATH_INFO" not in env      # nothing after the script
    with cgi_server("--cgi-pass-env", "PASSME", "--cgi-unset", "REMOTE_HOST",
                    env={"WEFT_SECRET": "hunter2", "PASSME": "yes"}) as srv:
        env = env_of(srv.get("/env.sh").body)
        assert env.get("PASSME") == "yes" and "WEFT_SECRET" not in env, env
        assert "REMOTE_HOST" not in env


def test_indexed_query_is_the_command_line():
    with cgi_server() as srv:
        env = env_of(srv.get("/env.sh?one+two%20words+%3Bls").body)
        assert env["ARGV"] == "one two words ;ls", env["ARGV"]
        env = env_of(srv.get("/env.sh?a=b+c").body)
        assert env["ARGV"] == "", env["ARGV"]


def test_script_inherits_no_server_fd():
    with cgi_server("--async", "4") as srv:
        r = srv.get("/fds.sh")
        fds = sorted(int(x) for x in r.body.split())
        # 0, 1, 2 and the fd of ls's own /proc listing
        assert fds[:3] == [0, 1, 2] and len(fds) <= 4, fds


# ------------------------------------------------------------ languages

def test_shell_python_and_perl_scripts():
    with cgi_server() as srv:
        r = srv.get("/hello.sh")
        assert (r.status, r.body) == (200, b"hello from sh\n"), r
        r = srv.get("/hello.py/more")
        assert (r.status, r.body) == (201, b"python /hello.py /more\n"), r
        r = srv.get("/hello.pl?x=1")
        assert (r.status, r.body) == (200, b"perl GET x=1\n"), r
        r = srv.get("/sub/deep.sh/p")
        assert r.body == b"deep /sub/deep.sh /p\n", r


def test_status_location_and_headers():
    with cgi_server() as srv:
        r = srv.get("/status.sh")
        assert (r.status, r.reason) == (404, "Nothing Here"), r
        assert r.header("x-script") == "status" and r.body == b"custom 404\n"
        r = srv.get("/location.sh")
        assert r.status == 302, r
        assert r.header("location") == "http://example.com/elsewhere"
        # a local redirect runs the new path in the same request
        r = srv.get("/local.sh")
        assert (r.status, r.body) == (200, b"hello from sh\n"), r
        # its path is decoded (and checked) as a request's would be
        r = srv.get("/local2.sh")
        assert (r.status, r.body) == (200, b"deep /sub/deep.sh /x\n"), r
        r = srv.get("/loop.sh")
        assert r.status == 502, r
        assert "more than 10 local redirects" in srv.log()


def test_body_streams_chunked_without_length():
    # the first line goes out before the script ends: chunked (HTTP/1.1);
    # the framing is the core's, the same in every mode: one is enough
    for label, args in modes()[:1]:
        with cgi_server(*args) as srv:
            s = srv.connect()
            s.sendall(b"GET /stream.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.response()
            assert r.header("transfer-encoding") == "chunked", (label, r)
            assert r.body == b"first\nsecond\n", (label, r)
            # and the connection is kept for the next request
            s.sendall(b"GET /hello.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            assert rd.response().body == b"hello from sh\n", label
            s.close()
    # an HTTP/1.0 client gets the body until the close
    with cgi_server() as srv:
        r = request(srv.port, "POST", "/sum.py", body=b"abc",
                    version="1.0")
        assert r.status == 200 and r.body.startswith(b"3 "), r


def test_garbage_headers_502():
    with cgi_server() as srv:
        r = srv.get("/garbage.sh")
        assert r.status == 502, r
        r = srv.get("/nothing.sh")
        assert r.status == 502, r
        # a status the core refuses as final (1xx) is the script's fault
        r = srv.get("/status1xx.sh")
        assert r.status == 502, r
        srv.expect_log("a head the core refused")
        srv.expect_log("a header line without a colon")
        srv.expect_log("without any output")
        srv.expect_log("exited with status 3")
        # the worker goes on serving
        assert srv.get("/hello.sh").status == 200


def test_stderr_goes_to_the_log():
    with cgi_server() as srv:
        assert srv.get("/stderr.sh").body == b"ok\n"
        srv.expect_log("cgi: /stderr.sh: a line for the log")


# ------------------------------------------------------------- security

def test_no_path_outside_the_directory():
    with cgi_server() as srv:
        for path in ("/../t_cgi.py", "/%2e%2e/x", "/sub/%2E%2E/hello.sh",
                     "/sub/../hello.sh", "/escape.sh"):
            s = srv.connect()
            s.sendall(b"GET " + path.encode() +
                      b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r = Reader(s).response()
            s.close()
            assert r.status in (400, 403, 404), (path, r)
            assert b"hello" not in r.body, (path, r)
        # the core's path rules (those of --static-map, wf_path_resolve)
        for path, want in (("/sub%2fdeep.sh", 403), ("/sub%5cdeep.sh", 403),
                           ("/%ff.sh", 403), ("/%c0%ae%c0%ae/x", 403)):
            r = srv.get(path)
            assert r.status == want, (path, r)
        # not executable and no helper for it
        assert srv.get("/plain.sh").status == 403
        assert srv.get("/missing.sh").status == 404
        # a directory: / appended, then its index
        r = srv.get("/idx")
        assert r.status == 301 and r.header("location") == "/idx/", r
        assert srv.get("/idx/").status == 404
    with cgi_server("--cgi-index", "index.sh", "--cgi-safe",
                    os.path.realpath(make_dir() + "-outside")) as srv:
        assert srv.get("/idx/").body == b"index /idx/index.sh\n"
        assert srv.get("/escape.sh").status == 200   # allowed by --cgi-safe
    with cgi_server("--cgi-allowed-ext", ".py") as srv:
        assert srv.get("/hello.sh").status == 403
        assert srv.get("/hello.py").status == 201
    with cgi_server("--cgi-path-info") as srv:
        assert srv.get("/hello.sh").status == 200
        assert srv.get("/hello.sh/more").status == 404


def test_bad_options_refused():
    r = weftest.run_weft("--cgi", "/nonexistent/dir", http_socket=True)
    assert r.returncode != 0 and "--cgi /nonexistent/dir" in r.stderr, r
    r = weftest.run_weft("--cgi", make_dir(), "--cgi-helper", ".py",
                         http_socket=True)
    assert r.returncode != 0 and ".ext=command" in r.stderr, r
    r = weftest.run_weft("--cgi", make_dir(), "--cgi-helper",
                         ".py=no-such-interpreter", http_socket=True)
    assert r.returncode != 0 and "not an executable" in r.stderr, r


# ---------------------------------------------------------- mount points

def test_mount_points_and_uwsgi_modifier1_9():
    root = make_dir()
    with Server("--cgi", "/cgi-bin=" + root, "--cgi", "/one=" +
                os.path.join(root, "hello.sh"), uwsgi=True) as srv:
        r = srv.get("/cgi-bin/env.sh/x")
        env = env_of(r.body)
        assert env["SCRIPT_NAME"] == "/cgi-bin/env.sh", env
        assert env["PATH_INFO"] == "/x"
        # a script mount: the rest of the path is PATH_INFO
        assert srv.get("/one/any/thing").body == b"hello from sh\n"
        assert srv.get("/elsewhere").status == 404
        assert srv.get("/cgi-binx/env.sh").status == 404
        # nginx's uwsgi_pass with uwsgi_modifier1 9
        raw = srv.uwsgi_request("/cgi-bin/env.sh/u?q=1", modifier1=9)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), raw[:200]
        env = env_of(body)
        assert env["REMOTE_ADDR"] == "10.1.2.3" and env["PATH_INFO"] == "/u"
        assert env["QUERY_STRING"] == "q=1"


def test_mount_point_beside_a_wsgi_app():
    # the core routes HTTP requests under a mount point to the CGI plugin
    # and the rest to the app (wf_route_prefix)
    weftest.require("python")
    root = make_dir()
    with Server("--wsgi-file", weftest.app("hello.py"), "--cgi",
                "/cgi-bin=" + root, "--cgi", "/tools/one=" +
                os.path.join(root, "hello.sh"), "--async", "8",
                uwsgi=True) as srv:
        assert srv.get("/cgi-bin/hello.sh").body == b"hello from sh\n"
        assert srv.get("/cgi-bin/sub/deep.sh/x").body == \
            b"deep /cgi-bin/sub/deep.sh /x\n"
        assert srv.get("/tools/one/a").body == b"hello from sh\n"
        for path in ("/", "/hello", "/cgi-binx/hello.sh", "/tools/on"):
            r = srv.get(path)
            assert r.status == 200 and b"hello from sh" not in r.body, \
                (path, r)
        # a uwsgi packet picks its language itself: modifier1 0 is the app
        raw = srv.uwsgi_request("/cgi-bin/hello.sh", modifier1=0)
        assert raw.endswith(b"Hello World"), raw
        raw = srv.uwsgi_request("/cgi-bin/hello.sh", modifier1=9)
        assert raw.endswith(b"hello from sh\n"), raw


# ---------------------------------------------------------- concurrency

def test_twenty_sleeping_scripts_at_once_in_every_mode():
    for label, args in modes():
        with cgi_server(*args) as srv:
            res, dt = parallel(lambda i: srv.get("/sleep.sh"), 20)
            assert all(r.status == 200 and r.body == b"slept\n"
                       for r in res), (label, res)
            # 20 x 1 s on one worker: about 1 s; the bound is generous
            # (a shared machine), serial would be 20 s
            assert dt < 6, (label, dt)
            print("  %s: 20 x sleep 1 in %.2fs" % (label, dt))


# --------------------------------------------------------------- bodies

def test_fifty_megabytes_up_and_down():
    size = 50 * 1024 * 1024
    payload = (b"0123456789abcdef" * 4096) * (size // 65536)
    digest = hashlib.sha256(payload).hexdigest()
    # the core loop without a suspend engine: the plugin's own state
    # machine alone (the 8 MB echo below runs in every mode)
    for label, args in modes()[:1]:
        with cgi_server(*args) as srv:
            st, body = big_request(srv.port, "POST", "/sum.py", payload)
            assert st == 200, (label, st, body[:200])
            assert body.decode() == "%d %s %d" % (size, digest, size), \
                (label, body)
            st, body = big_request(srv.port, "GET", "/big.sh")
            assert st == 200 and len(body) == size, (label, len(body))
            assert body.count(b"\0") == size


def test_echo_streams_both_ways_at_once():
    # cat echoes while the body still comes: the plugin must feed stdin and
    # drain stdout together (8 MB: more than every pipe and socket buffer)
    size = 8 * 1024 * 1024
    payload = os.urandom(size)
    for label, args in modes():
        with cgi_server(*args) as srv:
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            c.putrequest("POST", "/cat.sh")
            c.putheader("Content-Length", str(size))
            c.endheaders()
            # send from a thread while this one reads the echo
            t = threading.Thread(target=c.sock.sendall, args=(payload,))
            t.start()
            r = c.getresponse()
            got = r.read()
            t.join(60)
            c.close()
            assert r.status == 200 and got == payload, (label, len(got))


def test_small_body_and_slow_body_do_not_hold_the_worker():
    with cgi_server("--async", "4", "--socket-timeout", "30") as srv:
        r = request(srv.port, "POST", "/sum.py", body=b"abc")
        assert r.body.decode().split()[0::2] == ["3", "3"], r.body
        # a client that sends half its body and pauses: without a suspend
        # engine the worker still serves others meanwhile
        s = srv.connect()
        s.sendall(b"POST /sum.py HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  b"200000\r\nConnection: close\r\n\r\n" + b"x" * 100000)
        time.sleep(0.3)
        t0 = time.time()
        assert srv.get("/hello.sh").body == b"hello from sh\n"
        # a worker blocked in the body read would answer only when its
        # 30 s --socket-timeout ends
        assert time.time() - t0 < 4, time.time() - t0
        time.sleep(0.2)
        s.sendall(b"y" * 100000)
        r = Reader(s).response()
        s.close()
        assert r.body.decode().split()[0::2] == ["200000", "200000"], r.body


def test_chunked_upload_closes_stdin_at_its_end():
    with cgi_server() as srv:
        body = weftest.chunked(b"x" * 100000, 7000)
        r = request(srv.port, "POST", "/sum.py", body=body,
                    headers={"Transfer-Encoding": "chunked"})
        assert r.status == 200, r
        n, _, cl = r.body.decode().split()
        assert n == "100000" and cl == "-", r.body


# ------------------------------------------------ timeouts, disconnects

def test_timeout_kills_the_group_and_leaves_no_process():
    root = make_dir()
    for label, args in modes():
        tag = "t%d" % len(label)
        with cgi_server("--cgi-timeout", "1", *args) as srv:
            t0 = time.time()
            r = srv.get("/hang.sh?" + tag)
            assert r.status == 504, (label, r)
            assert time.time() - t0 < 10
            pids = read_pids(root, tag)
            assert weftest.wait_for(lambda: not any(alive(p) for p in pids),
                                    10), (label, pids)
            worker = [p for p in children_of(srv.pid)] or [srv.pid]
            for w in worker + [srv.pid]:
                assert not children_of(w), (label, children_of(w))
            srv.expect_log("(--cgi-timeout); killed")
        os.unlink(os.path.join(root, "pids." + tag))


def test_client_disconnect_kills_the_script():
    root = make_dir()
    for label, args in modes():
        tag = "d%d" % len(label)
        with cgi_server(*args) as srv:
            s = srv.connect()
            s.sendall(b"GET /hang.sh?" + tag.encode() +
                      b" HTTP/1.1\r\nHost: x\r\n\r\n")
            pids = read_pids(root, tag)
            assert all(alive(p) for p in pids)
            s.close()
            assert weftest.wait_for(lambda: not any(alive(p) for p in pids),
                                    10), (label, pids)
            srv.expect_log("client closed the connection; script killed")
            # the worker still serves
            assert srv.get("/hello.sh").status == 200
        os.unlink(os.path.join(root, "pids." + tag))


def test_harakiri_kills_the_script():
    root = make_dir()
    for label, args in modes():
        tag = "h%d" % len(label)
        with cgi_server("--harakiri", "2", *args) as srv:
            r = srv.get("/hang.sh?" + tag)
            assert r.status == 504, (label, r)
            pids = read_pids(root, tag)
            assert weftest.wait_for(lambda: not any(alive(p) for p in pids),
                                    10), (label, pids)
            assert srv.get("/hello.sh").status == 200
        os.unlink(os.path.join(root, "pids." + tag))


def test_worker_stop_kills_running_scripts():
    root = make_dir()
    srv = cgi_server("--async", "4")
    try:
        s = srv.connect()
        s.sendall(b"GET /hang.sh?stop HTTP/1.1\r\nHost: x\r\n\r\n")
        pids = read_pids(root, "stop")
        srv.stop(signal.SIGQUIT)   # stop now: in-flight requests end
        assert weftest.wait_for(lambda: not any(alive(p) for p in pids),
                                10), pids
        s.close()
    finally:
        srv.stop()
        os.unlink(srv.logf.name)
    os.unlink(os.path.join(root, "pids.stop"))


# --------------------------------------------------------- against uWSGI

UWSGI = shutil.which("uwsgi")


def uwsgi_has_cgi():
    if not UWSGI:
        return False
    r = subprocess.run([UWSGI, "--plugin", "cgi", "--help"],
                       capture_output=True, text=True, timeout=30)
    return "--cgi-helper" in r.stdout


def test_same_answers_as_uwsgi_cgi():
    if not uwsgi_has_cgi():
        print("  (uwsgi with the cgi plugin not installed: skipped)")
        return
    root = make_dir()
    port = weftest.free_port()
    log = open(os.path.join(weftest.scratch_dir(), "uwsgi.log"), "w")
    u = subprocess.Popen([UWSGI, "--plugin", "cgi", "--http-socket",
                          "127.0.0.1:%d" % port, "--http-socket-modifier1",
                          "9", "--cgi", root], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    try:
        assert weftest.wait_for(lambda: weftest.port_open(port), 10), "uwsgi did not start"
        with cgi_server() as srv:
            for path in ("/env.sh/a/b?x=1", "/status.sh", "/location.sh",
                         "/plain.sh", "/missing.sh", "/idx", "/hello.sh"):
                ours = srv.get(path)
                theirs = request(port, "GET", path)
                assert ours.status == theirs.status, (path, ours, theirs)
                if path.startswith("/env.sh"):
                    a, b = env_of(ours.body), env_of(theirs.body)
                    for k in ("SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED",
                              "QUERY_STRING", "REQUEST_METHOD",
                              "SCRIPT_FILENAME", "DOCUMENT_ROOT",
                              "GATEWAY_INTERFACE", "CWD"):
                        assert a.get(k) == b.get(k), (k, a.get(k), b.get(k))
                elif ours.status == 200 or path == "/status.sh":
                    assert ours.body == theirs.body, (path, ours, theirs)
                if path in ("/location.sh", "/idx"):
                    assert ours.header("location") == \
                        theirs.header("location"), path
    finally:
        u.terminate()
        u.wait(10)
        log.close()


weftest.main()
