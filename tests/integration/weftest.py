"""weftest: the integration tests' harness.

Starts the built weft on 127.0.0.1 with a free port, waits (bounded) until
it accepts, talks to it over real sockets, stops it by PID, and fails a
test when the log shows an 'alert:' or 'bug:' line. Standard library only;
run by Debian's /usr/bin/python3 (make check sets WEFT_BIN, WEFT_SRCDIR,
WEFT_PLUGINS).

A test file defines test_* functions and ends with `weftest.main()`. Exit
77 (skip) when a plugin or tool it needs is missing.
"""

import os
import signal
import socket
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_plugins = None


def built_plugins():
    """Names of the plugins `weft --list-plugins` finds (and can load)."""
    global _plugins
    if _plugins is None:
        out = subprocess.run([WEFT, "--list-plugins"], capture_output=True,
                             text=True, timeout=30).stdout
        _plugins = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and line.startswith("  ") and parts[0] != "?":
                _plugins.add(parts[0])
    return _plugins


def require(*names):
    missing = [n for n in names if n not in built_plugins()]
    if missing:
        raise Skip("plugin(s) not built: " + ", ".join(missing))


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

    def check_log(self):
        bad = [l for l in self.log().splitlines()
               if l.startswith("alert:") or l.startswith("bug:")
               or "AddressSanitizer" in l or "runtime error:" in l]
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
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
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
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                self._exact(2)
            r.body = body
        elif cl is not None:
            r.body = self._exact(int(cl))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            r.body, self.buf = self.buf, b""
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
