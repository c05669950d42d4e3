#!/usr/bin/python3
"""valgrind --leak-check=full on a request loop: no leak per request.

    .ci/leakcheck.py [WEFT_BIN]

Runs weft (one worker, no master, the Python app tests/apps/hostile.py,
--post-buffering 4096 so bodies take the memory and the temp-file paths)
under valgrind twice: ROUNDS_A and ROUNDS_B rounds of a request mix (GET,
POST bodies in memory and spooled, chunked, a bad head answered 400, a
keep-alive series, a body the app does not read). It stops weft with
SIGTERM and reads valgrind's "definitely lost" and "indirectly lost".
Interpreter start-up may leave a fixed amount; what must not happen is
loss that grows with the number of requests. Exit 1 when the second run
lost more than SLACK bytes beyond the first, or when valgrind's error
count grows with the requests (CPython's own start-up reports a fixed
number of uninitialised-value warnings). Prints both figures.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WEFT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "weft")
APP = os.path.join(SRC, "tests", "apps", "hostile.py")
ROUNDS_A, ROUNDS_B = 20, 120
SLACK = 2048


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port), 60)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        out += d
    s.close()
    return out


def one_round(port):
    h = b"Host: x\r\nConnection: close\r\n"
    assert b" 200 " in exchange(port, b"GET / HTTP/1.1\r\n" + h + b"\r\n")
    for n in (10, 20000):
        body = b"b" * n
        r = exchange(port, b"POST /echo HTTP/1.1\r\n" + h
                     + b"Content-Length: %d\r\n\r\n" % n + body)
        assert r.endswith(body), r[:200]
    r = exchange(port, b"POST /echo HTTP/1.1\r\n" + h
                 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert r.endswith(b"hello"), r[:200]
    assert b" 400 " in exchange(port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    assert b" 400 " in exchange(port, b"POST /echo HTTP/1.1\r\n" + h
                                + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    # a keep-alive series, then a body the app does not read
    ka = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 5
    ka += (b"POST /ran HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Length: 3000\r\n\r\n" + b"u" * 3000)
    assert exchange(port, ka).count(b" 200 OK") == 6


def run(rounds):
    port = free_port()
    vlog = tempfile.NamedTemporaryFile(prefix="weft-vg-", suffix=".log",
                                       delete=False).name
    out = tempfile.NamedTemporaryFile(prefix="weft-vg-out-", delete=False)
    env = dict(os.environ, PYTHONMALLOC="malloc")
    argv = ["valgrind", "--leak-check=full", "--num-callers=30",
            "--log-file=" + vlog, WEFT,
            "--http-socket", "127.0.0.1:%d" % port, "--wsgi-file", APP,
            "--post-buffering", "4096", "--socket-timeout", "30"]
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if p.poll() is not None or time.time() > deadline:
                    raise SystemExit("weft under valgrind did not start:\n"
                                     + open(out.name).read()[-3000:])
                time.sleep(0.5)
        for _ in range(rounds):
            one_round(port)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    text = open(vlog).read()
    lost = {}
    for kind in ("definitely", "indirectly"):
        m = re.search(kind + r" lost: ([\d,]+) bytes in ([\d,]+) blocks",
                      text)
        lost[kind] = int(m.group(1).replace(",", "")) if m else 0
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    os.unlink(out.name)
    return lost, int(errors.group(1)) if errors else -1, vlog


def main():
    a, ea, la = run(ROUNDS_A)
    b, eb, lb = run(ROUNDS_B)
    ta = a["definitely"] + a["indirectly"]
    tb = b["definitely"] + b["indirectly"]
    print("leakcheck: %d rounds (%d requests): lost %d bytes (definitely %d,"
          " indirectly %d); %d rounds (%d requests): lost %d bytes; "
          "valgrind errors %d / %d" % (ROUNDS_A, ROUNDS_A * 13, ta,
                                       a["definitely"], a["indirectly"],
                                       ROUNDS_B, ROUNDS_B * 13, tb, ea, eb))
    if eb > ea:
        print("leakcheck: FAIL: valgrind found %d errors after %d rounds, %d "
              "after %d: errors per request; valgrind's report: %s"
              % (ea, ROUNDS_A, eb, ROUNDS_B, lb))
        return 1
    if tb - ta > SLACK:
        print("leakcheck: FAIL: %d more bytes lost over %d more requests; "
              "valgrind's report: %s" % (tb - ta, (ROUNDS_B - ROUNDS_A) * 13,
                                          lb))
        print("".join(open(lb).readlines()[-120:]))
        return 1
    os.unlink(la)
    os.unlink(lb)
    print("leakcheck: no loss per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
