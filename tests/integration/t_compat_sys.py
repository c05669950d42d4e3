"""t_compat_sys: uWSGI's socket and service-manager options, on weft.

UNIX socket modes (the umask's, --chmod-socket[=MODE], --chown-socket),
abstract and IPv6 listeners, --reuse-port, a relative socket path, host
names, --vacuum; systemd socket activation (LISTEN_FDS / LISTEN_PID: a
listening fd passed the way systemd passes it) and the notification
protocol (NOTIFY_SOCKET: READY=1, STATUS=, RELOADING=1, STOPPING=1, read
from a datagram socket the test binds); start-up errors that name the
option, the file:line and the fix.
"""

import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weftest  # noqa: E402
from weftest import WEFT, free_port, run_weft, wait_for  # noqa: E402


def hello_app():
    return weftest.write_file("hello.py", (
        "def application(env, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'Hello World']\n"))


def start(args, env=None, pass_fds=(), preexec=None, cwd=None):
    logf = tempfile.NamedTemporaryFile(prefix="weft-", suffix=".log",
                                       delete=False)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([WEFT] + [str(a) for a in args], stdout=logf,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=e, pass_fds=pass_fds, preexec_fn=preexec,
                         cwd=cwd)
    p.logpath = logf.name
    return p


def log_of(p):
    with open(p.logpath, errors="replace") as f:
        return f.read()


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return p.returncode


def http_get_unix(path, abstract=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(("\0" + path) if abstract else path)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = weftest.read_until_close(s)
    s.close()
    return out


def wait_unix(path, p, abstract=False, timeout=15):
    def ok():
        if p.poll() is not None:
            raise AssertionError("weft exited:\n" + log_of(p))
        try:
            return b"Hello World" in http_get_unix(path, abstract)
        except OSError:
            return False
    assert wait_for(ok, timeout), log_of(p)


def wait_tcp(port, p, host="127.0.0.1", family=socket.AF_INET, timeout=15):
    def ok():
        if p.poll() is not None:
            raise AssertionError("weft exited:\n" + log_of(p))
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect((host, port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close"
                      b"\r\n\r\n")
            out = weftest.read_until_close(s)
            s.close()
            return b"Hello World" in out
        except OSError:
            return False
    assert wait_for(ok, timeout), log_of(p)


# ------------------------------------------------------------ UNIX sockets


def test_unix_socket_mode_follows_the_umask_unless_chmod_socket():
    weftest.require("python")
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    for extra, umask, want in (([], 0o022, 0o755), ([], 0o077, 0o700),
                               (["--chmod-socket=660"], 0o022, 0o660),
                               (["--chmod-socket"], 0o077, 0o666)):
        path = os.path.join(d, "s.sock")
        p = start(["--http-socket", path, "--wsgi-file", hello_app()] +
                  extra, preexec=lambda u=umask: os.umask(u))
        try:
            wait_unix(path, p)
            got = stat.S_IMODE(os.stat(path).st_mode)
            assert got == want, (extra, oct(umask), oct(got))
        finally:
            stop(p)


def test_chmod_socket_refuses_what_uwsgi_refuses():
    weftest.require("python")
    for bad in ("true", "", "6600", "999"):
        r = run_weft("--http-socket", "/tmp/x.sock", "--wsgi-file",
                     hello_app(), "--chmod-socket=" + bad)
        assert r.returncode == 1, (bad, r.stderr)
        assert "--chmod-socket" in r.stderr and "invalid mode" in r.stderr, \
            r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_chown_socket_gives_the_socket_away():
    weftest.require("python")
    if os.getuid() != 0:
        raise weftest.Skip("needs root")
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    path = os.path.join(d, "s.sock")
    p = start(["--socket", path, "--http-socket", "127.0.0.1:%d" %
               free_port(), "--wsgi-file", hello_app(),
               "--chown-socket", "nobody:www-data"])
    try:
        assert wait_for(lambda: os.path.exists(path), 15), log_of(p)
        import grp
        import pwd
        st = os.stat(path)
        assert st.st_uid == pwd.getpwnam("nobody").pw_uid
        assert st.st_gid == grp.getgrnam("www-data").gr_gid
    finally:
        stop(p)


def test_relative_socket_path_is_a_unix_socket_and_vacuum_removes_it():
    weftest.require("python")
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    pid = os.path.join(d, "weft.pid")
    p = start(["--http-socket", "app.sock", "--wsgi-file", hello_app(),
               "--master", "--vacuum", "--pidfile", pid], cwd=d)
    path = os.path.join(d, "app.sock")
    try:
        wait_unix(path, p)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert os.path.exists(pid)
    finally:
        assert stop(p) == 0, log_of(p)
    assert not os.path.exists(path), "--vacuum left the socket"
    assert not os.path.exists(pid), "--vacuum left the pidfile"


def test_without_vacuum_the_socket_stays():
    weftest.require("python")
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    path = os.path.join(d, "app.sock")
    p = start(["--http-socket", path, "--wsgi-file", hello_app()])
    try:
        wait_unix(path, p)
    finally:
        stop(p)
    assert os.path.exists(path)


def test_abstract_socket():
    weftest.require("python")
    name = "weft-test-%d" % os.getpid()
    p = start(["--http-socket", "@" + name, "--wsgi-file", hello_app()])
    try:
        wait_unix(name, p, abstract=True)
    finally:
        stop(p)


def test_ipv6_and_host_names():
    weftest.require("python")
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        raise weftest.Skip("no IPv6 loopback here")
    port, port2 = free_port(), free_port()
    p = start(["--http-socket", "[::1]:%d" % port, "--http-socket",
               "localhost:%d" % port2, "--wsgi-file", hello_app()])
    try:
        wait_tcp(port, p, "::1", socket.AF_INET6)
        wait_tcp(port2, p)
    finally:
        stop(p)
    r = run_weft("--http-socket", "no-such-host.invalid:8080",
                 "--wsgi-file", hello_app())
    assert r.returncode == 1 and "cannot resolve" in r.stderr, r.stderr


def test_reuse_port_lets_two_instances_share_a_port():
    weftest.require("python")
    port = free_port()
    args = ["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file",
            hello_app(), "--reuse-port"]
    a = start(args)
    try:
        wait_tcp(port, a)
        b = start(args)
        try:
            wait_tcp(port, b)
            assert b.poll() is None, log_of(b)
        finally:
            stop(b)
    finally:
        stop(a)
    # without it, the second one says the port is taken
    a = start(args[:-1])
    try:
        wait_tcp(port, a)
        r = run_weft(*args[:-1])
        assert r.returncode == 1 and "bind()" in r.stderr, r.stderr
    finally:
        stop(a)


# ------------------------------------------------------------ systemd


def notify_socket():
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    path = os.path.join(d, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    return s, path


def read_notes(s, until, timeout=15):
    notes = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            notes.append(s.recv(4096).decode())
        except socket.timeout:
            pass
        if any(until in n for n in notes):
            break
    return notes


def test_sd_notify_ready_reloading_stopping():
    weftest.require("python")
    s, path = notify_socket()
    port = free_port()
    p = start(["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file",
               hello_app(), "--master", "--processes", "2"],
              env={"NOTIFY_SOCKET": path})
    try:
        notes = read_notes(s, "READY=1")
        assert any("READY=1" in n for n in notes), (notes, log_of(p))
        assert any("STATUS=" in n for n in notes), notes
        wait_tcp(port, p)
        p.send_signal(signal.SIGHUP)
        notes = read_notes(s, "RELOADING=1")
        assert any("RELOADING=1" in n for n in notes), (notes, log_of(p))
        notes = read_notes(s, "READY=1")
        assert any("READY=1" in n for n in notes), (notes, log_of(p))
        p.send_signal(signal.SIGTERM)
        notes = read_notes(s, "STOPPING=1")
        assert any("STOPPING=1" in n for n in notes), (notes, log_of(p))
    finally:
        assert stop(p) == 0, log_of(p)
        s.close()


def test_socket_activation_takes_the_passed_fd():
    weftest.require("python")
    port = free_port()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    extra = socket.socket()
    extra.bind(("127.0.0.1", 0))
    extra.listen(16)
    eport = extra.getsockname()[1]

    # as systemd does: the sockets on fds 3 and 4, LISTEN_PID the pid of
    # the process that execs weft (the shell's $$ survives its exec)
    a, b = ls.fileno(), extra.fileno()
    sh = ("exec 9<&%d 8<&%d; exec 3<&9 4<&8 9<&- 8<&-; "
          "export LISTEN_PID=$$; exec %s \"$@\"" % (a, b, WEFT))
    logf = tempfile.NamedTemporaryFile(prefix="weft-", suffix=".log",
                                       delete=False)
    env = dict(os.environ, LISTEN_FDS="2")
    p = subprocess.Popen(
        ["/bin/sh", "-c", sh, "weft", "--http-socket",
         "127.0.0.1:%d" % port, "--wsgi-file", hello_app()],
        stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, pass_fds=(a, b))
    p.logpath = logf.name
    ls.close()
    extra.close()
    try:
        wait_tcp(port, p)
        log = log_of(p)
        assert "systemd passed" in log, log
        # the extra socket is served with the uwsgi protocol
        pkt = weftest.uwsgi_packet(weftest.cgi_vars("/"))
        c = socket.create_connection(("127.0.0.1", eport), 10)
        c.sendall(pkt)
        out = weftest.read_until_close(c)
        c.close()
        assert b"Hello World" in out, out
    finally:
        stop(p)


# ------------------------------------------------------------ fibers

FIBER_APP = """
run lambda { |env|
  case env['PATH_INFO']
  when '/yield'
    3.times { Fiber.yield }
  when '/forever'
    loop do
      begin
        UWSGI.async_sleep(1) rescue nil
        Fiber.yield
      rescue Exception
      end
    end
  end
  [200, {'content-type' => 'text/plain'}, ["Hello World"]]
}
"""


def test_fiber_yield_in_a_request_gives_the_worker_away():
    # as uWSGI's fiber docs show: the request goes on at the next turn
    weftest.require("rack", "fiber")
    ru = weftest.write_file("fiber.ru", FIBER_APP)
    port = free_port()
    p = start(["--http-socket", "127.0.0.1:%d" % port, "--rack", ru,
               "--async", "4", "--fiber"])
    try:
        wait_tcp(port, p)
        results, _ = weftest.parallel(
            lambda i: weftest.request(port, "GET", "/yield", timeout=10), 4)
        assert all(r.status == 200 and r.body == b"Hello World"
                   for r in results), results
    finally:
        assert stop(p) == 0, log_of(p)


def test_a_request_that_swallows_its_cancellation_does_not_keep_the_worker():
    weftest.require("rack", "fiber")
    ru = weftest.write_file("fiber.ru", FIBER_APP)
    port = free_port()
    p = start(["--http-socket", "127.0.0.1:%d" % port, "--rack", ru,
               "--async", "4", "--fiber", "--worker-reload-mercy", "1"])
    try:
        wait_tcp(port, p)
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)      # mercy 1 s + the 3 s grace, with room
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker still runs 20 s after "
                                 "SIGTERM:\n" + log_of(p))
        assert "exiting anyway" in log_of(p), log_of(p)
        s.close()
    finally:
        stop(p, signal.SIGKILL)


BLOCKING_APP = (
    "import time\n"
    "def application(env, start_response):\n"
    "    if env['PATH_INFO'] == '/block':\n"
    "        open(%r, 'w').close()\n"
    "        time.sleep(3600)    # blocks the loop: no suspend engine\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'Hello World']\n")


def test_a_request_blocked_in_c_does_not_keep_a_stopping_worker():
    # no master to kill it, and a loop that never sees the signal: the
    # worker still exits after the mercy and the cancel grace
    weftest.require("python")
    port = free_port()
    mark = os.path.join(weftest.scratch_dir(), "blocking.mark")
    sock = os.path.join(weftest.scratch_dir(), "blocking.sock")
    pidf = os.path.join(weftest.scratch_dir(), "blocking.pid")
    appf = weftest.write_file("blocking.py", BLOCKING_APP % mark)
    p = start(["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", appf,
               "--worker-reload-mercy", "1", "--socket", sock, "--vacuum",
               "--pidfile", pidf])
    try:
        wait_tcp(port, p)
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: os.path.exists(mark)), log_of(p)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)      # mercy 1 s + grace 3 s + 2 s, with room
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 20 s after SIGTERM:\n" +
                                 log_of(p))
        assert time.time() - t0 >= 4, "exited before the mercy and grace"
        assert "exiting anyway" in log_of(p), log_of(p)
        # --vacuum still removes what this process made
        assert not os.path.exists(sock) and not os.path.exists(pidf)
        s.close()
    finally:
        stop(p, signal.SIGKILL)


# ------------------------------------------------------------ mount


def mount_app(name):
    return weftest.write_file("mnt/%s.py" % name, (
        "def application(env, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [('%s %%s|%%s' %% (env['SCRIPT_NAME'], env['PATH_INFO']))"
        ".encode()]\n") % name)


def test_mount_and_manage_script_name_as_uwsgi():
    # measured with Debian's uWSGI 2.0.21: the longest mountpoint that
    # starts PATH_INFO (up to a '/') wins, and moves to SCRIPT_NAME;
    # anything else goes to the default app as it came
    weftest.require("python")
    main, one, two = mount_app("main"), mount_app("one"), mount_app("two")
    with weftest.Server("--wsgi-file", main, "--mount", "/app1=" + one,
                        "--mount", "/app1/deep/=two:application",
                        "--pythonpath", os.path.dirname(two),
                        "--manage-script-name", uwsgi=True) as srv:
        for path, want in [("/app1/x", "one /app1|/x"),
                           ("/app1", "one /app1|"),
                           ("/app1x/y", "main |/app1x/y"),
                           ("/app1/deep/z", "two /app1/deep|/z"),
                           ("/other", "main |/other")]:
            r = srv.get(path)
            assert (r.status, r.body.decode()) == (200, want), (path, r)
        log = srv.log()
        assert "mounted on /app1/deep" in log, log
    # without manage-script-name the app is the one whose mountpoint is
    # SCRIPT_NAME (nginx: uwsgi_param SCRIPT_NAME /app1), else the default
    with weftest.Server("--wsgi-file", main, "--mount", "/app1=" + one,
                        uwsgi=True) as srv:
        r = srv.get("/app1/x")
        assert r.body == b"main |/app1/x", r
        out = srv.uwsgi_request("/x", SCRIPT_NAME="/app1")
        assert out.endswith(b"one /app1|/x"), out
        out = srv.uwsgi_request("/x", SCRIPT_NAME="/nope")
        assert out.endswith(b"main /nope|/x"), out
    # mounts alone: the first is the default app
    with weftest.Server("--mount", "/app1=" + one, "--mount",
                        "/b=" + main, "--manage-script-name") as srv:
        assert srv.get("/zzz").body == b"one |/zzz"
        assert srv.get("/b/c").body == b"main /b|/c"
    r = run_weft("--mount", "app1=" + one, http_socket=True)
    assert r.returncode == 1 and "--mount app1=%s: want /PREFIX=APP" % one \
        in r.stderr, r
    r = run_weft("--mount", "/r=config.ru", http_socket=True)
    assert r.returncode == 1 and "Python (WSGI) apps only" in r.stderr, r


# ------------------------------------------------------------ idle


def test_idle_workers_stop_and_the_next_connection_starts_them():
    weftest.require("python")
    port = free_port()
    p = start(["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file",
               hello_app(), "--master", "--processes", "2", "--idle", "1"])
    try:
        wait_tcp(port, p)
        first = children(p.pid)
        assert wait_for(lambda: not children(p.pid), 15), log_of(p)
        r = weftest.request(port, "GET", "/", timeout=15)
        assert r.status == 200 and r.body == b"Hello World", r
        again = children(p.pid)
        assert again and not set(again) & set(first), (first, again)
    finally:
        assert stop(p) == 0, log_of(p)


# ------------------------------------------------------------ titles


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().replace(b"\0", b" ").decode().strip()


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


def test_process_titles_as_uwsgi_sets_them():
    weftest.require("python")
    for args, master, worker in (
            (["--procname-prefix", "mysite ", "--auto-procname"],
             "mysite weft master", "mysite weft worker 1"),
            (["--procname-prefix-spaced", "x", "--procname-master", "boss",
              "--procname", "hand"], "x boss", "x hand")):
        port = free_port()
        p = start(["--http-socket", "127.0.0.1:%d" % port, "--wsgi-file",
                   hello_app(), "--master"] + args)
        try:
            wait_tcp(port, p)
            assert wait_for(lambda: cmdline(p.pid) == master, 5), \
                cmdline(p.pid)
            kids = children(p.pid)
            assert kids and cmdline(kids[0]) == worker, \
                [cmdline(k) for k in kids]
        finally:
            assert stop(p) == 0, log_of(p)


# ------------------------------------------------------------ errors


def test_strict_refuses_user_variables_and_unknown_options_always_are():
    # uWSGI: strict turns unknown directives into errors; weft refuses
    # them always, and with strict also a key that is only a %(variable)
    ini = weftest.write_file("strict.ini", "[uwsgi]\nproject = mysite\n"
                             "chdir = /tmp/%(project)\n")
    r = run_weft("--ini", ini, "--version")
    assert r.returncode == 0 and r.stdout.startswith("weft "), r
    ini = weftest.write_file("strict2.ini", "[uwsgi]\nproject = mysite\n"
                             "chdir = /tmp/%(project)\nstrict = true\n")
    r = run_weft("--ini", ini, "--version")
    assert r.returncode == 1, r
    assert r.stderr.strip().splitlines() == [
        "weft: --project (%s:2): not an option (a variable read as "
        "%%(project)), and --strict is on; drop strict or use "
        "set-placeholder = project=..." % ini], r.stderr
    ini = weftest.write_file("strict3.ini", "[uwsgi]\nbogus-option = 1\n")
    r = run_weft("--ini", ini, "--version")
    assert r.returncode == 1, r
    assert "--bogus-option (%s:2): unknown option" % ini in r.stderr, r


def test_unknown_options_are_called_unknown_with_the_closest_names():
    r = run_weft("--bogus")
    assert r.returncode == 1
    assert "--bogus" in r.stderr and "unknown option" in r.stderr, r.stderr
    assert "needs a value" not in r.stderr
    r = run_weft("--proceses", "2")
    assert "did you mean --processes" in r.stderr, r.stderr
    r = run_weft("--emperor", "/etc/vassals")
    assert "not supported by weft" in r.stderr and "systemd" in r.stderr, \
        r.stderr


def test_ini_errors_name_the_file_and_line():
    ini = weftest.write_file("bad.ini", "[uwsgi]\nmaster = true\n"
                             "proceses = 2\n")
    r = run_weft("--ini", ini)
    assert r.returncode == 1
    assert "%s:3" % ini in r.stderr and "--processes" in r.stderr, r.stderr
    ini = weftest.write_file("bad2.ini", "[uwsgi]\nchdir = %(nope)/x\n")
    r = run_weft("--ini", ini)
    assert "%s:2" % ini in r.stderr and "%(nope)" in r.stderr, r.stderr


def test_help_says_each_default_once():
    r = run_weft("--help")
    for line in r.stdout.splitlines():
        assert line.count("(default") <= 1, line


weftest.main()
