"""weftest: the integration tests' harness.

Starts the built weft on 127.0.0.1 with a free port, waits (bounded) until
it accepts, talks to it over real sockets, stops it by PID, and fails a
test when the log shows an 'alert:' or 'bug:' line. Standard library only;
run by Debian's /usr/bin/python3 (make check sets WEFT_BIN, WEFT_SRCDIR,
WEFT_PLUGINS).

A test file defines test_* functions and ends with `weftest.main()`. Exit
77 (skip) when a plugin or tool it needs is missing.

Besides the server, the client and the runner, it holds what several test
files need: paths of the test apps (app), the built engines (io_engines),
bounded waits (wait_for, Server.wait_log), a scratch directory that goes
at exit (write_file), start-ups that are to fail (run_weft), raw
exchanges (Server.raw_until_close, Server.uwsgi_until_close), uwsgi
packets (uwsgi_packet, cgi_vars), chunked bodies (chunked), a slow TCP
backend for the apps to talk to (DelayedTCPServer) and the HTTP/1.1
connection checks shared by the language suites (check_keepalive,
check_connection_close).
"""

import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

WEFT = os.environ.get("WEFT_BIN", os.path.abspath("weft"))
SRCDIR = os.environ.get("WEFT_SRCDIR", os.path.abspath("."))
PLUGINS = os.environ.get("WEFT_PLUGINS", "")
TESTPLUGINS = os.path.join(os.path.dirname(WEFT), "tests", "plugins", ".libs")
APPS = os.path.join(SRCDIR, "tests", "apps")


class Skip(Exception):
    pass


def app(name):
    """The path of tests/apps/name."""
    return os.path.join(APPS, name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_plugins = None


# Plugins a build with --enable-sanitizers cannot run: greenlet switches
# by copying slices of the C stack, redzones included, and ASan reports
# every switch (the plugins refuse to start there, with this reason).
ASAN_UNUSABLE = {
    "greenlet": "greenlet copies C stacks, which AddressSanitizer cannot "
                "follow",
    "gevent": "gevent runs on greenlet, which copies C stacks, which "
              "AddressSanitizer cannot follow",
    "coroae": "Coro switches between C stacks of its own, which "
              "AddressSanitizer cannot follow",
}


def asan_build():
    """True when the weft under test was built with AddressSanitizer."""
    out = subprocess.run([WEFT, "--version"], capture_output=True,
                         text=True, timeout=30).stdout
    return "AddressSanitizer" in out


def built_plugins():
    """Names of the plugins `weft --list-plugins` finds (and can load),
    less those an AddressSanitizer build cannot run (said once)."""
    global _plugins
    if _plugins is None:
        out = subprocess.run([WEFT, "--list-plugins"], capture_output=True,
                             text=True, timeout=30).stdout
        _plugins = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and line.startswith("  ") and parts[0] != "?":
                _plugins.add(parts[0])
        if asan_build():
            for name, why in ASAN_UNUSABLE.items():
                if name in _plugins:
                    print("  (%s not usable in this AddressSanitizer build: "
                          "%s)" % (name, why))
                    _plugins.discard(name)
    return _plugins


def require(*names):
    missing = [n for n in names if n not in built_plugins()]
    if missing:
        raise Skip("plugin(s) not built: " + ", ".join(missing))


def io_engines(names=("epoll", "libevent")):
    """The io engines of `names` that are built, in that order; says so
    for each one that is not ("  (io engine X not built: skipped)")."""
    built = built_plugins()
    out = []
    for io in names:
        if io not in built:
            print("  (io engine %s not built: skipped)" % io)
            continue
        out.append(io)
    return out


def wait_for(cond, timeout=10.0, step=0.05):
    """Poll cond() every `step` s until it returns a true value (returned)
    or `timeout` s have passed (then the last call's value)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


_scratch = None


def scratch_dir():
    """A temporary directory for this test file, removed at exit."""
    global _scratch
    if _scratch is None:
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "test"
        _scratch = tempfile.mkdtemp(prefix="weft-%s-" % name)
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def write_file(rel, text):
    """Write text to scratch_dir()/rel (making its directories); returns
    the path."""
    path = os.path.join(scratch_dir(), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_weft(*args, http_socket=False, timeout=30):
    """Run weft with args to its end (a start-up that is to fail, --help):
    the subprocess.CompletedProcess, with text stdout and stderr. With
    http_socket=True, --http-socket on a free port comes first."""
    argv = [WEFT]
    if http_socket:
        argv += ["--http-socket", "127.0.0.1:%d" % free_port()]
    return subprocess.run(argv + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class Server:
    """One weft process. Use as a context manager."""

    def __init__(self, *args, http=True, uwsgi=False, testlang=False,
                 timeout=10.0, env=None, port=None):
        self.port = port or free_port()
        self.uport = free_port() if uwsgi else None
        self.args = [WEFT]
        if testlang:
            self.args += ["--plugins-dir", TESTPLUGINS, "--testlang"]
        if http:
            self.args += ["--http-socket", "127.0.0.1:%d" % self.port]
        if uwsgi:
            self.args += ["--socket", "127.0.0.1:%d" % self.uport]
        self.args += [str(a) for a in args]
        self.logf = tempfile.NamedTemporaryFile(prefix="weft-", suffix=".log",
                                                delete=False)
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(self.args, stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=e)
        port = self.port if (http or not uwsgi) else self.uport
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("weft exited with %s at start-up:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise AssertionError("weft did not accept within %ss:\n%s"
                                         % (timeout, self.log()))
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.logf.name, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def wait_log(self, text, timeout=5.0):
        """Wait (bounded) until the log contains text: the log then, or
        None when `timeout` s passed without it."""
        deadline = time.time() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if time.time() > deadline:
                return None
            time.sleep(0.05)

    def expect_log(self, text, timeout=5.0):
        """wait_log() that fails the test when the text does not come;
        returns the log."""
        log = self.wait_log(text, timeout)
        assert log is not None, "%r not in the log:\n%s" % (
            text, self.log()[-3000:])
        return log

    def check_log(self):
        bad = [l for l in self.log().splitlines()
               if l.startswith("alert:") or l.startswith("bug:")
               or "AddressSanitizer" in l or "runtime error:" in l
               # a stack switch ASan was not told of: its reports that
               # follow may be false, and real ones may be missed
               or "ASan is ignoring requested __asan_handle_no_return" in l]
        assert not bad, "alert/bug lines in the log:\n" + "\n".join(bad)

    def cpu_seconds(self):
        """utime + stime of the server process, in seconds."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def connect(self, timeout=10.0):
        return socket.create_connection(("127.0.0.1", self.port), timeout)

    def get(self, path, **kw):
        return request(self.port, "GET", path, **kw)

    def raw_until_close(self, data, timeout=10.0, deadline=None):
        """Send raw bytes on a new connection to the HTTP socket; returns
        all the server sends until it closes (a reset counts as the
        close). timeout bounds each socket call; deadline, if given,
        stops the reading after that many seconds."""
        s = self.connect(timeout)
        try:
            s.sendall(data)
            return read_until_close(s, deadline, reset_is_close=True)
        finally:
            s.close()

    def uwsgi_until_close(self, data, timeout=10.0, deadline=None):
        """raw_until_close() on the uwsgi socket (Server(uwsgi=True)); a
        reset is an error here."""
        s = socket.create_connection(("127.0.0.1", self.uport), timeout)
        try:
            s.sendall(data)
            return read_until_close(s, deadline)
        finally:
            s.close()

    def uwsgi_request(self, path, method="GET", modifier1=0, body=b"",
                      **extra):
        """uwsgi_until_close() of the packet of cgi_vars(path, method,
        **extra) with modifier1, then body: the raw HTTP response."""
        return self.uwsgi_until_close(uwsgi_packet(
            cgi_vars(path, method, **extra), modifier1) + body)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            self.check_log()
        os.unlink(self.logf.name)


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (lower-name, value)
        self.body = body
        self.version = version

    def header(self, name, default=None):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return default

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:80])


class Reader:
    """Reads HTTP/1.x responses from a socket, keep-alive aware."""

    def __init__(self, sock):
        self.sock = sock
        # a bytearray: appending and cutting from the front are amortised
        # O(1); with bytes, a 30 MB body costs gigabytes of copying
        self.buf = bytearray()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def eof(self, wait=1.0):
        """True when the server closes the connection within `wait` s."""
        if self.buf:
            return False
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            d = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)
        self.buf += d
        return d == b""

    def response(self, head=False):
        status = self._line()
        while status == b"":
            status = self._line()
        version, code, reason = (status.decode("latin-1").split(" ", 2)
                                 + [""])[:3]
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.decode("latin-1").split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        r = Response(int(code), reason, headers, b"", version)
        if head or r.status in (204, 304) or 100 <= r.status < 200:
            return r
        te = r.header("transfer-encoding")
        cl = r.header("content-length")
        if te and te.lower() == "chunked":
            body = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body.append(self._exact(size))
                self._exact(2)
            r.body = b"".join(body)
        elif cl is not None:
            r.body = self._exact(int(cl))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            r.body, self.buf = bytes(self.buf), bytearray()
        return r


def request(port, method, path, headers=None, body=None, version="1.1",
            timeout=30.0):
    """One request on a new connection (Connection: close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        h = {"Host": "127.0.0.1:%d" % port, "Connection": "close"}
        h.update(headers or {})
        if body is not None and "Content-Length" not in h \
                and "Transfer-Encoding" not in h:
            h["Content-Length"] = str(len(body))
        req = "%s %s HTTP/%s\r\n" % (method, path, version)
        req += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        s.sendall(req.encode("latin-1") + (body or b""))
        return Reader(s).response(head=(method == "HEAD"))
    finally:
        s.close()


def read_until_close(sock, deadline=None, reset_is_close=False):
    """Every byte sock receives until the peer closes it. deadline: stop
    reading after that many seconds (None: only the socket's timeout
    bounds it); reset_is_close: a connection reset ends the data instead
    of raising."""
    out = b""
    end = None if deadline is None else time.time() + deadline
    while end is None or time.time() < end:
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            if not reset_is_close:
                raise
            break
        if not d:
            break
        out += d
    return out


def port_open(port):
    """True when something accepts on 127.0.0.1:port now (for
    wait_for: a server that is not weft, such as uWSGI, is up)."""
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def read_stats(addr):
    """What a --stats server sends on connect, until it closes (as
    uwsgitop reads it). addr: a UNIX socket path, a (host, port) pair or
    a port on 127.0.0.1."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(addr)
    else:
        if isinstance(addr, int):
            addr = ("127.0.0.1", addr)
        s = socket.create_connection(addr, 10)
    try:
        return read_until_close(s)
    finally:
        s.close()


def chunked(payload, size, ext=b"", trailer=b""):
    """payload in the chunked transfer coding, in chunks of `size` bytes;
    ext follows each chunk size (b";ext=1"), trailer (header lines, each
    ending in CRLF) the last chunk."""
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i:i + size]
        out += b"%x%s\r\n%s\r\n" % (len(part), ext, part)
    return out + b"0\r\n" + trailer + b"\r\n"


def uwsgi_packet(vars_, modifier1=0, modifier2=0):
    """A uwsgi protocol packet: the 4-byte header (modifier1, little-endian
    datasize, modifier2), then each var as 16-bit length + key, 16-bit
    length + value, in dict order. vars_: str to str."""
    body = b""
    for k, v in vars_.items():
        k, v = k.encode(), v.encode()
        body += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    return struct.pack("<BHB", modifier1, len(body), modifier2) + body


def cgi_vars(path, method="GET", **extra):
    """The CGI variables nginx's uwsgi_params sends for `method path`
    (the query string split off), from 10.1.2.3 to host "test"; extra
    adds or replaces variables."""
    v = {"REQUEST_METHOD": method, "REQUEST_URI": path, "PATH_INFO":
         path.split("?")[0], "QUERY_STRING": path.partition("?")[2],
         "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "test",
         "SERVER_PORT": "80", "REMOTE_ADDR": "10.1.2.3", "HTTP_HOST": "test"}
    v.update(extra)
    return v


class DelayedTCPServer:
    """A TCP backend on 127.0.0.1 (port: .port) for the apps under test to
    talk to, served by threads. Each connection gets handle(conn), with a
    `conn_timeout` s socket timeout, and is closed after (socket errors
    end it quietly); .accepted counts the connections. Use as a context
    manager, or call close().

    The default handle(): read once (up to 1000 bytes), wait `delay` s,
    answer b"echo:" + the data + `suffix`, close. With answer=False it
    reads and never answers (until the server is closed). Subclasses
    override handle() for other protocols."""

    def __init__(self, delay=0.5, answer=True, suffix=b"", backlog=64,
                 conn_timeout=10):
        self.delay = delay
        self.answer = answer
        self.suffix = suffix
        self.conn_timeout = conn_timeout
        self.done = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            c.settimeout(self.conn_timeout)
            self.handle(c)
        except OSError:
            pass
        finally:
            c.close()

    def handle(self, c):
        data = c.recv(1000)
        if not self.answer:
            self.done.wait(20)
            return
        time.sleep(self.delay)
        c.sendall(b"echo:" + data + self.suffix)

    def close(self):
        self.done.set()
        self.sock.close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_keepalive(srv, label=None):
    """Three GET /hello on one connection, each "Hello World" with a
    Content-Length of 11, and the connection is still open after."""
    s = srv.connect()
    r = Reader(s)
    for _ in range(3):
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = r.response()
        assert resp.status == 200 and resp.body == b"Hello World", \
            resp if label is None else (label, resp)
        assert resp.header("content-length") == "11"
    assert not r.eof(), label
    s.close()


def check_connection_close(srv, label=None):
    """GET /hello with Connection: close is answered with
    Connection: close, and the server closes the connection."""
    s = srv.connect()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    r = Reader(s)
    resp = r.response()
    assert resp.body == b"Hello World", label
    assert resp.header("connection") == "close", label
    assert r.eof(), ("the server kept the connection open" if label is None
                     else "%s: the server kept the connection open" % label)


def parallel(fn, n):
    """Run fn(i) in n threads at once; returns (results, seconds)."""
    results = [None] * n
    errors = []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    dt = time.time() - t0
    if errors:
        raise errors[0]
    return results, dt


def main():
    """Run every test_* function of the calling module, in file order."""
    mod = sys.modules["__main__"]
    tests = [(name, fn) for name, fn in vars(mod).items()
             if name.startswith("test_") and callable(fn)]
    only = sys.argv[1:]
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.time()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("SKIP %s: %s" % (name, e))
        except Exception:  # noqa: BLE001 - any failure fails the test
            failed += 1
            print("FAIL %s (%.1fs)" % (name, time.time() - t0))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        sys.exit(1)
    if passed == 0 and skipped:
        sys.exit(77)
    sys.exit(0)
