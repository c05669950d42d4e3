"""t_compat_nginx: real nginx in front of weft, as docs/deploy.md shows.

uwsgi_pass over a UNIX socket (with chmod-socket / vacuum), and an
upstream of two weft instances on two ports: both serve, and when one is
stopped (SIGTERM drains it) nginx keeps answering from the other. Skips
(77) without nginx.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weftest  # noqa: E402
from weftest import WEFT, free_port, wait_for  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

APP = ("import os\n"
       "def application(env, start_response):\n"
       "    body = ('pid=%d path=%s' % (os.getpid(), env['PATH_INFO']))"
       ".encode()\n"
       "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
       "    return [body]\n")


def start_weft(*args):
    logf = tempfile.NamedTemporaryFile(prefix="weft-", suffix=".log",
                                       delete=False)
    p = subprocess.Popen([WEFT] + [str(a) for a in args], stdout=logf,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.logpath = logf.name
    return p


def log_of(p):
    with open(p.logpath, errors="replace") as f:
        return f.read()


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return p.returncode


def get(port, path):
    try:
        return weftest.request(port, "GET", path, timeout=10)
    except OSError:
        return None


def test_nginx_uwsgi_pass_unix_and_an_upstream_of_two():
    weftest.require("python")
    if not os.path.exists(NGINX):
        raise weftest.Skip("nginx not installed")
    # nginx's workers (nobody, when started as root) reach the socket
    os.chmod(weftest.scratch_dir(), 0o755)
    d = tempfile.mkdtemp(dir=weftest.scratch_dir())
    os.chmod(d, 0o755)
    app = os.path.join(d, "app.py")
    with open(app, "w") as f:
        f.write(APP)
    sock = os.path.join(d, "app.sock")
    p1, p2, pn = free_port(), free_port(), free_port()
    a = start_weft("--socket", sock, "--chmod-socket", "666", "--vacuum",
                   "--socket", "127.0.0.1:%d" % p1, "--wsgi-file", app,
                   "--master")
    b = start_weft("--socket", "127.0.0.1:%d" % p2, "--wsgi-file", app,
                   "--master")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
daemon off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    upstream pair {
        server 127.0.0.1:%(p1)d max_fails=0;
        server 127.0.0.1:%(p2)d max_fails=0;
    }
    server {
        listen 127.0.0.1:%(pn)d;
        location /unix/ {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:%(sock)s;
        }
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass pair;
            uwsgi_next_upstream error timeout;
        }
    }
}
""" % {"d": d, "p1": p1, "p2": p2, "pn": pn, "sock": sock})
    nlog = open(os.path.join(d, "nginx.out"), "wb")
    n = subprocess.Popen([NGINX, "-c", conf, "-p", d], stdout=nlog,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        for p in (a, b):
            assert wait_for(lambda: p.poll() is not None or
                            "ready" in log_of(p), 15), log_of(p)
            assert p.poll() is None, log_of(p)
        assert wait_for(lambda: get(pn, "/unix/x") is not None, 15), \
            open(os.path.join(d, "error.log")).read()
        r = get(pn, "/unix/x")
        assert r.status == 200 and b"path=/unix/x" in r.body, r
        pids = set()
        for _ in range(12):
            r = get(pn, "/y")
            assert r is not None and r.status == 200, r
            pids.add(r.body.split()[0])
        assert len(pids) >= 2, "one instance served everything: %s" % pids
        # stop one instance (SIGTERM drains); nginx answers from the other
        assert stop(a) == 0, log_of(a)
        assert not os.path.exists(sock), "--vacuum left the socket"
        for _ in range(6):
            r = get(pn, "/z")
            assert r is not None and r.status == 200, r
    finally:
        n.send_signal(signal.SIGQUIT)
        try:
            n.wait(10)
        except subprocess.TimeoutExpired:
            n.kill()
        stop(a)
        stop(b)
        nlog.close()


weftest.main()
