"""t_compat: the uWSGI ini corpus (../shared/compat/cases), run unchanged.

Each case is an ini file that starts Debian's uWSGI 2.0.21 and says on its
`# expect:` line what it must do; weft must start with the same file
(`weft --ini FILE`) and do the same. This file runs every case exactly as
../shared/compat/README.md says: one temp root (0755) with a venv made once
(`/usr/bin/python3 -m venv --system-site-packages --without-pip`), one
@DIR@ per case (a copy of apps/, plus run/ and log/ owned by
nobody:nogroup), the placeholders filled in, the ini written to
@DIR@/deploy/NAME.ini, the server started in its own session from /, with
a bare environment; then every `# expect:` token is checked.

The corpus is found beside the source tree ($(srcdir)/../shared/compat, as
in CI), or where WEFT_COMPAT_DIR says; the test skips (77) only when it is
absent. COMPAT_BIN=/usr/bin/uwsgi runs the same checks on uWSGI (the
reference): `COMPAT_BIN=/usr/bin/uwsgi python3 t_compat.py`.

Tokens that depend on work not landed yet are listed in PENDING: their
failure is reported as "pending", not as a failure, and their success is
reported so that the entry gets removed.
"""

import grp
import hashlib
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weftest  # noqa: E402

BIN = os.environ.get("COMPAT_BIN", weftest.WEFT)
IS_UWSGI = os.path.basename(BIN).startswith("uwsgi")
CORPUS = os.environ.get("WEFT_COMPAT_DIR") or os.path.join(
    weftest.SRCDIR, "..", "shared", "compat")
CASES = os.path.join(CORPUS, "cases")

# token kinds whose check waits for another engineer's slice (see the
# docstring); empty once everything is in main
PENDING = set()
# cases that cannot start before a slice lands: case -> what they wait for.
# A pending case that fails is reported as a skip with the reason; one that
# passes says so (then remove it from here).
PENDING_CASES = {}

_root = None
_venv = None


def root():
    """The temp root (0755) and its venv, made once."""
    global _root, _venv
    if _root is None:
        _root = tempfile.mkdtemp(prefix="weft-compat-")
        os.chmod(_root, 0o755)
        if not os.environ.get("COMPAT_KEEP"):
            import atexit
            atexit.register(shutil.rmtree, _root, True)
        _venv = os.path.join(_root, "venv")
        subprocess.run(["/usr/bin/python3", "-m", "venv",
                        "--system-site-packages", "--without-pip", _venv],
                       check=True, timeout=120)
    return _root


def free_ports(n):
    """n distinct free TCP ports in 19000-19999."""
    out = []
    for _ in range(1000):
        p = random.randint(19000, 19999)
        if p in out:
            continue
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        out.append(p)
        if len(out) == n:
            return out
    raise AssertionError("no free ports in 19000-19999")


# ------------------------------------------------------------ a case


class Case:
    def __init__(self, ini_path):
        self.src = ini_path
        self.name = os.path.splitext(os.path.basename(ini_path))[0]
        with open(ini_path) as f:
            self.text = f.read()
        m = re.search(r"^# expect:(.*)$", self.text, re.M)
        assert m, "%s: no '# expect:' line" % ini_path
        self.expect_raw = m.group(1)

    def prepare(self):
        """Make @DIR@, fill the placeholders, write the ini; the tokens."""
        r = root()
        self.dir = os.path.join(r, self.name)
        shutil.copytree(os.path.join(CORPUS, "apps"), self.dir)
        # the copy is read-only like the corpus; make ours writable by us
        for base, dirs, files in os.walk(self.dir):
            for d in dirs:
                os.chmod(os.path.join(base, d), 0o755)
            for f in files:
                os.chmod(os.path.join(base, f), 0o644)
        os.chmod(self.dir, 0o755)
        for sub in ("run", "log"):
            p = os.path.join(self.dir, sub)
            os.makedirs(p, exist_ok=True)
            if os.getuid() == 0:
                os.chown(p, pwd.getpwnam("nobody").pw_uid,
                         grp.getgrnam("nogroup").gr_gid)
        os.makedirs(os.path.join(self.dir, "deploy"), exist_ok=True)
        ports = free_ports(3)
        self.subst = {
            "@DIR@": self.dir, "@VENV@": _venv, "@PORT@": str(ports[0]),
            "@PORT2@": str(ports[1]), "@PORT3@": str(ports[2]),
            "@USER@": "nobody", "@GROUP@": "nogroup", "@NAME@": self.name,
        }

        def fill(s):
            for k, v in self.subst.items():
                s = s.replace(k, v)
            return s

        self.ini = os.path.join(self.dir, "deploy", self.name + ".ini")
        with open(self.ini, "w") as f:
            f.write(fill(self.text))
        self.tokens = []
        for t in shlex.split(fill(self.expect_raw)):
            k, _, v = t.partition("=")
            self.tokens.append((k, v))
        return self.tokens

    def get(self, key, default=None):
        for k, v in self.tokens:
            if k == key:
                return v
        return default

    def all(self, key):
        return [v for k, v in self.tokens if k == key]


# ------------------------------------------------------------ talking


def parse_response(raw):
    """(status, headers dict lower-case, body) of a raw HTTP response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no complete response head: %r" % raw[:200]
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return status, headers, body


def connect(addr, timeout):
    if addr.startswith("/") or addr.startswith("@"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect("\0" + addr[1:] if addr.startswith("@") else addr)
        return s
    host, _, port = addr.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout)


def recv_all(s):
    return weftest.read_until_close(s, reset_is_close=True)


def uwsgi_params(path, method, headers, body_len, addr):
    """The vars of nginx's uwsgi_params for this request."""
    p, _, q = path.partition("?")
    if addr.startswith("/") or addr.startswith("@"):
        sport = "80"
    else:
        sport = addr.rpartition(":")[2]
    v = [("QUERY_STRING", q), ("REQUEST_METHOD", method),
         ("CONTENT_TYPE", headers.get("Content-Type", "")),
         ("CONTENT_LENGTH", str(body_len) if body_len else ""),
         ("REQUEST_URI", path), ("PATH_INFO", p),
         ("DOCUMENT_ROOT", "/usr/share/nginx/html"),
         ("SERVER_PROTOCOL", "HTTP/1.1"), ("REQUEST_SCHEME", "http"),
         ("REMOTE_ADDR", "127.0.0.1"), ("REMOTE_PORT", "40000"),
         ("SERVER_PORT", sport), ("SERVER_NAME", "localhost"),
         ("HTTP_HOST", "localhost")]
    for k, val in headers.items():
        if k.lower() in ("content-type", "content-length"):
            continue
        v.append(("HTTP_" + k.upper().replace("-", "_"), val))
    return v


def request(kind, addr, path="/", method="GET", headers=None, body=b"",
            timeout=20.0):
    """One request to an endpoint, spoken as nginx would: (status,
    headers, body)."""
    headers = dict(headers or {})
    s = connect(addr, timeout)
    try:
        if kind == "http":
            h = {"Host": "localhost", "Connection": "close"}
            h.update(headers)
            if body:
                h["Content-Length"] = str(len(body))
            req = "%s %s HTTP/1.1\r\n" % (method, path)
            req += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
            s.sendall(req.encode("latin-1") + body)
        else:
            pkt = b""
            for k, v in uwsgi_params(path, method, headers, len(body), addr):
                k, v = k.encode(), v.encode("latin-1")
                pkt += struct.pack("<H", len(k)) + k
                pkt += struct.pack("<H", len(v)) + v
            s.sendall(struct.pack("<BHB", 0, len(pkt), 0) + pkt + body)
        return parse_response(recv_all(s))
    finally:
        s.close()


def app_json(kind, addr, path="/", **kw):
    """The app's JSON report for path: 200 and a dict, or it fails."""
    status, headers, body = request(kind, addr, path, **kw)
    assert status == 200, "%s %s %s: status %d: %r" % (kind, addr, path,
                                                       status, body[:300])
    return json.loads(body)


def concurrently(fn, n):
    results, errors = [None] * n, []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    dt = time.time() - t0
    if errors:
        raise errors[0]
    return results, dt


# ------------------------------------------------------------ processes


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d))
    return out


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace").strip()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


SIGS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "QUIT": signal.SIGQUIT,
        "HUP": signal.SIGHUP, "KILL": signal.SIGKILL}


class Run:
    """The server of one case."""

    def __init__(self, case):
        self.case = case
        self.logpath = os.path.join(case.dir, "server-output.log")
        self.logf = open(self.logpath, "wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/root")}
        if "ASAN_OPTIONS" in os.environ:
            env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"]
        if "LSAN_OPTIONS" in os.environ:
            env["LSAN_OPTIONS"] = os.environ["LSAN_OPTIONS"]
        for v in case.all("setenv"):
            k, _, val = v.partition("=")
            env[k] = val
        spec = case.ini
        if case.get("section"):
            spec += ":" + case.get("section")
        argv = [BIN, "--ini", spec]
        if not IS_UWSGI and weftest.PLUGINS:
            argv += ["--plugins-dir", weftest.PLUGINS]
        self.proc = subprocess.Popen(argv, cwd="/", env=env,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.pgid = self.proc.pid
        self.stopped = False

    def output(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_ready(self, kind, addr, timeout=20.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("exited with %s at start-up:\n%s" % (
                    self.proc.returncode, self.output()[-4000:]))
            try:
                st, _, _ = request(kind, addr, "/", timeout=5)
                return st
            except (OSError, AssertionError, ValueError, IndexError) as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("%s %s did not answer within %ss (%s):\n%s" % (
            kind, addr, timeout, last, self.output()[-4000:]))

    def stop(self, sig=signal.SIGINT, grace=5.0):
        """Signal the group; SIGKILL after `grace` s; wait until no process
        of the group is left. True when it went without the SIGKILL."""
        if self.stopped:
            return True
        self.stopped = True
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace
        clean = True
        while time.time() < deadline:
            self.proc.poll()
            if not group_pids(self.pgid):
                break
            time.sleep(0.05)
        else:
            clean = False
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while group_pids(self.pgid) and time.time() < deadline:
            self.proc.poll()
            time.sleep(0.05)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.logf.close()
        return clean


# ------------------------------------------------------------ the checks


def endpoints(case):
    out = []
    for k, v in case.tokens:
        if k in ("http", "uwsgi"):
            out.append((k, v))
    return out


def read_log(run, spec_file):
    if spec_file == "-":
        return run.output()
    try:
        with open(spec_file, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def check_case(case, run, results):
    """Every token of the case; results: list of (token, ok, detail)."""
    eps = endpoints(case)
    assert eps, "%s: no endpoint token" % case.name
    kind, addr = eps[0]
    path = case.get("path", "/")
    extra = {}
    if case.get("xff"):
        extra["X-Forwarded-For"] = case.get("xff")

    def rec(token, ok, detail=""):
        results.append((token, bool(ok), detail))

    env_keys = [v.partition("=")[0] for v in case.all("env")]
    q = ("&" if "?" in path else "?") + "env=" + ",".join(env_keys) \
        if env_keys else ""
    rep = app_json(kind, addr, path + q, headers=extra)
    for k, a in eps:
        try:
            r = app_json(k, a, path, headers=extra)
            rec("%s=%s" % (k, a), r.get("app") in ("django", "flask"),
                "app=%s" % r.get("app"))
        except Exception as e:  # noqa: BLE001
            rec("%s=%s" % (k, a), False, repr(e))
    mpid = run.proc.pid

    for key, val in case.tokens:
        tok = "%s=%s" % (key, val)
        try:
            if key in ("http", "uwsgi", "setenv", "section", "stop", "path",
                       "xff", "vacuum", "stats_workers"):
                continue
            elif key == "app":
                rec(tok, rep["app"] == val, "app=%s" % rep["app"])
            elif key == "env":
                k, _, v = val.partition("=")
                rec(tok, rep["env"].get(k) == v, "%s=%r" % (k,
                                                           rep["env"].get(k)))
            elif key == "cwd":
                rec(tok, os.path.realpath(rep["cwd"]) ==
                    os.path.realpath(val), "cwd=%s" % rep["cwd"])
            elif key == "prefix":
                rec(tok, os.path.realpath(rep["prefix"]) ==
                    os.path.realpath(val), "prefix=%s" % rep["prefix"])
            elif key == "syspath":
                norm = [os.path.realpath(p) for p in rep["sys_path"] if p]
                rec(tok, os.path.realpath(val) in norm,
                    "sys.path[:5]=%s" % rep["sys_path"])
            elif key == "script_name":
                rec(tok, rep["script_name"] == val,
                    "SCRIPT_NAME=%r" % rep["script_name"])
            elif key == "path_info":
                rec(tok, rep["path_info"] == val,
                    "PATH_INFO=%r" % rep["path_info"])
            elif key == "uid":
                rec(tok, rep["uid"] == pwd.getpwnam(val).pw_uid,
                    "uid=%s" % rep["uid"])
            elif key == "gid":
                rec(tok, rep["gid"] == grp.getgrnam(val).gr_gid,
                    "gid=%s" % rep["gid"])
            elif key == "sockmode":
                p, _, mode = val.rpartition(":")
                m = stat.S_IMODE(os.stat(p).st_mode)
                rec(tok, m == int(mode, 8), "mode %04o" % m)
            elif key == "sockowner":
                p, u, g = val.split(":")
                st = os.stat(p)
                rec(tok, st.st_uid == pwd.getpwnam(u).pw_uid and
                    st.st_gid == grp.getgrnam(g).gr_gid,
                    "owner %d:%d" % (st.st_uid, st.st_gid))
            elif key == "pidfile":
                with open(val) as f:
                    got = f.read().strip()
                rec(tok, got == str(mpid), "pidfile %r, master %d" % (got,
                                                                      mpid))
            elif key == "exists":
                rec(tok, os.path.lexists(val))
            elif key == "absent":
                rec(tok, not os.path.lexists(val))
            elif key == "workers":
                n = int(val)

                def one(i):
                    return app_json(kind, addr, "/sleep?t=0.6")["pid"]
                pids, dt = concurrently(one, 3 * n)
                rec(tok, len(set(pids)) == n, "%d pids in %.2fs: %s" % (
                    len(set(pids)), dt, sorted(set(pids))))
            elif key == "parallel":
                # the corpus says N x 0.5 s in < 0.9 s; 1 s sleeps in
                # < N - 0.2 s say the same (they overlap) with a margin
                # for a loaded machine (COORD: generous bounds)
                n = int(val)

                def one(i):
                    return app_json(kind, addr, "/sleep?t=1.0")["pid"]
                _, dt = concurrently(one, n)
                rec(tok, dt < n * 1.0 - 0.2, "%d x 1 s sleeps took %.2fs"
                    % (n, dt))
            elif key == "static":
                url, _, f = val.partition(":")
                st, h, body = request(kind, addr, url)
                with open(os.path.join(case.dir, f), "rb") as fh:
                    want = fh.read()
                rec(tok, st == 200 and body == want,
                    "status %d, %d bytes (want %d)" % (st, len(body),
                                                       len(want)))
            elif key == "fallthrough":
                r = app_json(kind, addr, val)
                rec(tok, r.get("path_info") == val.split("?")[0],
                    "path_info=%r" % r.get("path_info"))
            elif key == "stats":
                skind, _, saddr = val.partition(":")
                if skind == "tcp":
                    s = connect(saddr, 10)
                    try:
                        data = recv_all(s)
                    finally:
                        s.close()
                else:
                    _, _, data = request("http", saddr, "/")
                js = json.loads(data)
                ws = js.get("workers", [])
                wpids = [w.get("pid") for w in ws]
                nw = case.get("stats_workers")
                ok = rep["pid"] in wpids
                detail = "workers pids %s, serving %d" % (wpids, rep["pid"])
                if nw is not None:
                    ok = ok and len(ws) == int(nw)
                rec(tok, ok, detail)
            elif key in ("log", "nolog"):
                f, _, rx = val.partition("~")
                if key == "log":
                    found = weftest.wait_for(
                        lambda: re.search(rx, read_log(run, f), re.M),
                        timeout=5)
                    rec(tok, found, "" if found else
                        "last lines: %r" % read_log(run, f)[-600:])
                else:
                    time.sleep(0.5)
                    m = re.search(rx, read_log(run, f), re.M)
                    rec(tok, not m, m.group(0) if m else "")
            elif key == "maxreq":
                n = int(val)
                first = app_json(kind, addr, "/")["pid"]
                seen = {first}
                deadline = time.time() + 20
                count = 1
                while time.time() < deadline and len(seen) < 2:
                    try:
                        seen.add(app_json(kind, addr, "/")["pid"])
                    except (OSError, AssertionError):
                        pass
                    count += 1
                    if count > n:
                        time.sleep(0.1)
                rec(tok, len(seen) >= 2, "%d requests, pids %s" % (
                    count, sorted(seen)))
            elif key == "touch":
                p = val if os.path.isabs(val) else os.path.join(case.dir,
                                                                 val)
                before = app_json(kind, addr, "/")["pid"]
                time.sleep(1.1)     # mtime has a second's resolution
                os.utime(p, None)
                got = weftest.wait_for(
                    lambda: app_json(kind, addr, "/")["pid"] != before,
                    timeout=20, step=0.2)
                rec(tok, got, "pid %d before" % before)
            elif key == "lazy":
                r = app_json(kind, addr, "/")
                lazy = r["import_pid"] == r["pid"]
                rec(tok, lazy == (val == "yes"), "import_pid %d, pid %d" % (
                    r["import_pid"], r["pid"]))
            elif key == "proc_master":
                c = cmdline(mpid)
                rec(tok, re.search(val, c), "master title %r" % c)
            elif key == "proc_worker":
                c = cmdline(rep["pid"])
                rec(tok, re.search(val, c), "worker title %r" % c)
            elif key == "children":
                a, _, b = val.partition("..")
                n = len(children_of(mpid))
                rec(tok, int(a) <= n <= int(b or a), "%d children" % n)
            elif key == "post":
                n = int(val)
                body = os.urandom(n)
                r = app_json(kind, addr, "/", method="POST", body=body,
                             headers={"Content-Type":
                                      "application/octet-stream"})
                rec(tok, r["input_len"] == n and r["input_sha256"] ==
                    hashlib.sha256(body).hexdigest(),
                    "input_len=%d" % r["input_len"])
            elif key == "header":
                n = int(val)
                cookie = "c=" + "x" * (n - 2)
                r = app_json(kind, addr, "/", headers={"Cookie": cookie})
                rec(tok, r.get("app"), "")
            elif key == "idle":
                n = int(val)
                before = app_json(kind, addr, "/")["pid"]
                gone = weftest.wait_for(lambda: not alive(before),
                                        timeout=n + 10, step=0.2)
                after = app_json(kind, addr, "/")["pid"] if gone else before
                rec(tok, gone and after != before,
                    "pid %d before, %d after" % (before, after))
            else:
                rec(tok, False, "unknown token (update t_compat.py)")
        except Exception as e:  # noqa: BLE001 - reported per token
            rec(tok, False, "%s: %s" % (type(e).__name__, e))


NEEDS = {"gevent_python": "gevent", "greenlet_python": "greenlet",
         "ugreen": "ugreen", "python3": "python", "rack_ruby": "rack",
         "fiber": "fiber"}


def run_case(case):
    if not IS_UWSGI:
        m = re.search(r"^plugins?\s*=\s*(.*)$", case.text, re.M)
        for name in re.split(r"[,\s]+", m.group(1) if m else ""):
            for prefix, plugin in NEEDS.items():
                if name.startswith(prefix):
                    weftest.require(plugin)
    case.prepare()
    if os.getuid() != 0 and (case.get("uid") or case.get("sockowner")):
        raise weftest.Skip("needs root (uid/gid, socket owner)")
    run = Run(case)
    results = []
    try:
        kind, addr = endpoints(case)[0]
        run.wait_ready(kind, addr)
        check_case(case, run, results)
    finally:
        stop = case.get("stop")
        sig = SIGS[stop] if stop else signal.SIGINT
        clean = run.stop(sig)
    if case.get("stop"):
        results.append(("stop=%s" % stop, clean,
                        "" if clean else "still running 5 s after SIG%s" %
                        stop))
    for p in (case.get("vacuum") or "").split(","):
        if p:
            results.append(("vacuum=%s" % p, not os.path.lexists(p),
                            "still there after the stop"))
    if not IS_UWSGI:
        bad = [l for l in run.output().splitlines()
               if l.startswith("alert:") or l.startswith("bug:")
               or "AddressSanitizer" in l]
        results.append(("no alert/bug lines", not bad, "; ".join(bad[:3])))
    failed = []
    for tok, ok, detail in results:
        key = tok.partition("=")[0]
        if ok:
            mark = "ok  " if key not in PENDING else "ok   (pending: remove " \
                "%s from PENDING)" % key
        elif key in PENDING:
            mark = "pend"
        else:
            mark = "FAIL"
            failed.append(tok)
        print("    %s %s%s" % (mark, tok, ("  [%s]" % detail) if detail and
                                 not ok else ""))
    if failed:
        raise AssertionError("%s: %s\n--- server output (tail):\n%s" % (
            case.name, ", ".join(failed), run.output()[-3000:]))


def _make_test(path):
    def test():
        case = Case(path)
        if IS_UWSGI or case.name not in PENDING_CASES:
            run_case(case)
            return
        try:
            run_case(case)
        except AssertionError as e:
            print("    (pending: %s)\n    %s" % (
                PENDING_CASES[case.name],
                str(e).splitlines()[-1] if str(e) else ""))
            raise weftest.Skip("pending: " + PENDING_CASES[case.name])
        print("    passes: remove %s from PENDING_CASES" % case.name)
    return test


if not os.path.isdir(CASES):
    print("SKIP: no corpus at %s (give WEFT_COMPAT_DIR)" % CASES)
    sys.exit(77)
if not IS_UWSGI:
    try:
        weftest.require("python")
    except weftest.Skip as e:
        print("SKIP:", e)
        sys.exit(77)

for _f in sorted(os.listdir(CASES)):
    if _f.endswith(".ini"):
        _n = "test_" + re.sub(r"\W", "_", os.path.splitext(_f)[0])
        globals()[_n] = _make_test(os.path.join(CASES, _f))

if __name__ == "__main__":
    weftest.main()
