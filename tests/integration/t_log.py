"""The request log (issue 11): --log-format with uWSGI's variables (lines
compared exactly), --log-json / --log-encoder json, --log-slow, --log-4xx,
--log-5xx with --disable-logging, --logto with --log-maxsize rotation,
--log-reopen."""

import json
import os
import re
import signal
import time

import weftest
from weftest import Server, app, request, wait_for

D = weftest.scratch_dir()


def lines_of(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def req_lines(log):
    """Request lines of a log: those that are not the server's own."""
    return [l for l in log if l.startswith("REQ ") or l.startswith("{")]


def srv_with(*args, **kw):
    weftest.require("python", "ugreen")
    return Server("--wsgi-file", app("stats_app.py"), "--async", "4",
                  "--ugreen", *args, **kw)


def test_log_format_lines_are_exact():
    logto = os.path.join(D, "fmt.log")
    fmt = ("REQ %(method) %(uri) %(proto) %(status) %(size) %(addr) "
           "%(var.HTTP_X_REQUEST_ID) [%(host)] %(uagent) %(core) "
           "%(switches) %(wid) %(vars) %(cl) %(unknown) 100%")
    with srv_with("--logto", logto, "--log-format", fmt) as srv:
        request(srv.port, "GET", "/hello?x=1",
                headers={"X-Request-Id": "abc-123", "User-Agent": "t/1"})
        request(srv.port, "POST", "/read", body=b"12345")
        request(srv.port, "GET", "/status?code=404")
        request(srv.port, "GET", "/sleep?s=0.1")
        got = wait_for(lambda: len(req_lines(lines_of(logto))) >= 4 and
                       req_lines(lines_of(logto)), 5)
    host = "127.0.0.1:%d" % srv.port
    nvars = None
    want = [
        "REQ GET /hello?x=1 HTTP/1.1 200 11 127.0.0.1 abc-123 [%s] t/1 3 "
        "0 1 VARS 0 %%(unknown) 100%%" % host,
        "REQ POST /read HTTP/1.1 200 6 127.0.0.1 - [%s] - 3 0 1 VARS 5 "
        "%%(unknown) 100%%" % host,
        "REQ GET /status?code=404 HTTP/1.1 404 6 127.0.0.1 - [%s] - 3 0 1 "
        "VARS 0 %%(unknown) 100%%" % host,
        "REQ GET /sleep?s=0.1 HTTP/1.1 200 5 127.0.0.1 - [%s] - 3 1 1 "
        "VARS 0 %%(unknown) 100%%" % host,
    ]
    assert len(got) == 4, got
    for g, w in zip(got, want):
        # %(vars) is the count of the request's variables: a number
        nvars = re.search(r" 1 (\d+) \d+ %\(unknown\)", g)
        assert nvars, g
        assert g == w.replace("VARS", nvars.group(1)), (g, w)


def test_time_variables():
    logto = os.path.join(D, "time.log")
    with srv_with("--logto", logto, "--log-format",
                  "REQ %(ltime)|%(time)|%(tmsecs)|%(msecs)|%(micros)|"
                  "%(secs)|%(ctime)|%(pid)") as srv:
        t0 = time.time()
        request(srv.port, "GET", "/sleep?s=0.2")
        got = wait_for(lambda: req_lines(lines_of(logto)), 5)
    ltime, epoch, tms, ms, us, secs, ctime, pid = got[0][4:].split("|")
    assert re.match(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$",
                    ltime), ltime
    assert abs(int(epoch) - t0) < 60 and abs(int(tms) / 1000 - t0) < 60
    assert int(ms) >= 150 and int(us) >= 150000, (ms, us)
    assert abs(float(secs) - int(us) / 1e6) < 0.001
    assert re.match(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:", ctime)
    assert int(pid) > 0


def test_json_lines():
    logto = os.path.join(D, "json.log")
    with srv_with("--logto", logto, "--log-json") as srv:
        request(srv.port, "GET", "/a\"b?q=\\")
        request(srv.port, "GET", "/raise")
        got = wait_for(lambda: len(req_lines(lines_of(logto))) >= 2 and
                       req_lines(lines_of(logto)), 5)
    a, b = [json.loads(l) for l in got]
    assert a["method"] == "GET" and a["uri"] == "/a\"b?q=\\", a
    assert a["status"] == 200 and a["size"] == 11 and a["addr"] == \
        "127.0.0.1" and a["proto"] == "HTTP/1.1", a
    assert a["worker"] == 1 and a["core"] == 3 and a["switches"] == 0
    assert isinstance(a["msecs"], int) and abs(a["time"] - time.time()) < 60
    assert b["status"] == 500
    # with --log-encoder json and a format: the formatted line is "msg"
    logto = os.path.join(D, "json2.log")
    with srv_with("--logto", logto, "--log-encoder", "json",
                  "--log-format", "%(method) %(uri) -> %(status)") as srv:
        request(srv.port, "GET", "/x")
        got = wait_for(lambda: req_lines(lines_of(logto)), 5)
    o = json.loads(got[0])
    assert o["msg"] == "GET /x -> 200" and o["status"] == 200, o
    r = weftest.run_weft("--log-encoder", "msgpack", http_socket=True)
    assert r.returncode != 0 and "--log-encoder msgpack" in r.stderr


def test_disable_logging_with_slow_4xx_5xx():
    logto = os.path.join(D, "sel.log")
    with srv_with("--logto", logto, "--disable-logging", "--log-4xx",
                  "--log-5xx", "--log-slow", "300",
                  "--log-format", "REQ %(uri) %(status)") as srv:
        for path in ("/", "/status?code=404", "/status?code=302",
                     "/raise", "/sleep?s=0.05", "/sleep?s=0.5", "/"):
            request(srv.port, "GET", path)
        got = wait_for(lambda: len(req_lines(lines_of(logto))) >= 3 and
                       req_lines(lines_of(logto)), 5)
        time.sleep(0.3)
        got = req_lines(lines_of(logto))
    assert got == ["REQ /status?code=404 404", "REQ /raise 500",
                   "REQ /sleep?s=0.5 200"], got
    # without the filters, --disable-logging logs no request
    logto = os.path.join(D, "none.log")
    with srv_with("--logto", logto, "--disable-logging",
                  "--log-format", "REQ %(uri)") as srv:
        request(srv.port, "GET", "/raise")
        time.sleep(0.3)
    assert req_lines(lines_of(logto)) == []


def test_log_maxsize_rotates():
    logto = os.path.join(D, "rot", "app.log")
    os.makedirs(os.path.dirname(logto))
    with srv_with("--logto", logto, "--log-maxsize", "2000",
                  "--log-format", "REQ %(uri) " + "x" * 80) as srv:
        for i in range(60):
            request(srv.port, "GET", "/r%d" % i)
        done = wait_for(lambda: any("/r59 " in l for l in
                                    lines_of(logto)), 5)
        assert done
    files = sorted(os.listdir(os.path.dirname(logto)))
    rotated = [f for f in files if f != "app.log"]
    assert rotated and all(re.match(r"app\.log\.\d+(\.\d+)?$", f) for f in rotated)
    assert os.path.getsize(logto) < 2000 + 200
    # every request line is in one of the files, once
    seen = []
    for f in files:
        seen += [l.split()[1] for l in
                 req_lines(lines_of(os.path.join(os.path.dirname(logto),
                                                 f)))]
    assert sorted(seen) == sorted("/r%d" % i for i in range(60)), seen


def reload_and_log(logto, reopen):
    """Start with --logto, move the log away, reload (SIGHUP: new
    workers), make requests: the lines of the new file and of the old."""
    weftest.require("python")
    extra = ["--log-reopen"] if reopen else []
    with Server("--wsgi-file", app("hello.py"), "--master", "--logto",
                logto, "--log-format", "REQ %(uri)", *extra) as srv:
        request(srv.port, "GET", "/before")
        assert wait_for(lambda: "REQ /before" in lines_of(logto), 5)
        os.rename(logto, logto + ".old")
        srv.proc.send_signal(signal.SIGHUP)
        # the master still writes to the file it has open
        assert wait_for(lambda: any("worker 1" in l and "ready" in l
                                    for l in lines_of(logto + ".old")
                                    [-5:]), 10)
        assert wait_for(lambda: sum("ready" in l for l in
                                    lines_of(logto + ".old")) >= 2, 10)
        time.sleep(0.5)     # the old worker drains
        for _ in range(3):
            request(srv.port, "GET", "/after")
        wait_for(lambda: "REQ /after" in lines_of(logto) + lines_of(
            logto + ".old"), 5)
    return lines_of(logto), lines_of(logto + ".old")


def test_log_reopen_after_a_reload():
    new, old = reload_and_log(os.path.join(D, "reopen.log"), True)
    assert "REQ /after" in new and "REQ /after" not in old, (new, old)
    # without --log-reopen the new workers write where the master does
    new, old = reload_and_log(os.path.join(D, "noreopen.log"), False)
    assert "REQ /after" in old and new == [], (new, old)

# ------------------------------------------ uWSGI's logdate, x-forwarded-for,
# memory-report (issue 10); measured with Debian's uWSGI 2.0.21


def default_req_lines(log):
    return [l for l in log.splitlines() if "[pid: " in l and "GET " in l]


def test_default_request_line_is_uwsgis_with_each_workers_own_pid():
    # the line is put together by hand (core/log.c): field by field what
    # uWSGI 2.0.21 writes, and the pid of the worker that served it (a
    # pid kept from before the fork would be the master's)
    with srv_with("--master", "--processes", "2") as srv:
        log = srv.expect_log("worker 2 (pid")
        srv.wait_log("worker 1 (pid")
        for i in range(8):
            request(srv.port, "GET", "/hello?n=%d" % i,
                    headers={"Connection": "close"})
        log = srv.expect_log("GET /hello?n=7")
    workers = set(int(p) for p in re.findall(r"worker \d \(pid (\d+)\)",
                                             log))
    assert len(workers) == 2 and srv.pid not in workers, log
    line_re = (r"\[pid: (\d+)\|app: 0\|req: (\d+)/(\d+)\] 127\.0\.0\.1 "
               r"\(\) \{(\d+) vars in (\d+) bytes\} \[[A-Z][a-z]{2} "
               r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET "
               r"/hello\?n=(\d) => generated (\d+) bytes in (\d+) msecs "
               r"\(HTTP/1\.1 200\) (\d+) headers in (\d+) bytes "
               r"\((\d+) switches on core (\d+)\)$")
    reqs = default_req_lines(log)
    assert len(reqs) == 8, reqs
    seen = {}
    for l in reqs:
        m = re.match(line_re, l)
        assert m, l
        pid, n1, n2 = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert pid in workers and n1 == n2 and n1 >= 1, l
        # each worker counts its own requests, one by one
        assert n1 == seen.get(pid, 0) + 1, (l, seen)
        seen[pid] = n1
        assert int(m.group(4)) > 10 and int(m.group(7)) > 0, l


def test_logdate_prefixes_the_error_log_not_the_request_lines():
    # uWSGI: "Sat Dec  5 07:25:47 2026 - " before every line of its own
    # log; its request lines carry their date inside, no prefix
    with srv_with("--logdate") as srv:
        request(srv.port, "GET", "/hello")
        log = srv.expect_log("GET /hello")
    ctime = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} - "
    own = [l for l in log.splitlines() if l and "[pid: " not in l]
    assert own and all(re.match(ctime, l) for l in own), own
    reqs = default_req_lines(log)
    assert reqs and all(l.startswith("[pid: ") for l in reqs), reqs
    # a strftime format (in an ini: %%Y), and the log-date spelling
    with srv_with("--log-date", "%Y/%m/%d@%H") as srv:
        log = srv.expect_log("ready:")
    line = [l for l in log.splitlines() if "ready:" in l][0]
    assert re.match(r"\d{4}/\d\d/\d\d@\d\d - worker 1", line), line
    r = weftest.run_weft("--logdate", "x" * 60, http_socket=True)
    assert r.returncode == 1 and "--logdate" in r.stderr, r


def test_log_x_forwarded_for_logs_the_header_as_the_address():
    logto = os.path.join(D, "xff.log")
    with srv_with("--log-x-forwarded-for", "--logto", logto) as srv:
        request(srv.port, "GET", "/hello",
                headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
        request(srv.port, "GET", "/hello?no-header")
        got = wait_for(lambda: len(default_req_lines(
            "\n".join(lines_of(logto)))) >= 2 and lines_of(logto), 5)
    reqs = default_req_lines("\n".join(got))
    # the whole header, as uWSGI logs it; without it, the peer
    assert "] 203.0.113.7, 10.0.0.1 () {" in reqs[0], reqs
    assert "] 127.0.0.1 () {" in reqs[1], reqs
    logto = os.path.join(D, "xff2.log")
    with srv_with("--log-x-forwarded-for", "--logto", logto,
                  "--log-format", "REQ %(addr)") as srv:
        request(srv.port, "GET", "/hello",
                headers={"X-Forwarded-For": "203.0.113.8"})
        got = wait_for(lambda: req_lines(lines_of(logto)), 5)
    assert got == ["REQ 203.0.113.8"], got
    # without the option the address is the peer's
    logto = os.path.join(D, "xff3.log")
    with srv_with("--logto", logto, "--log-format", "REQ %(addr)") as srv:
        request(srv.port, "GET", "/hello",
                headers={"X-Forwarded-For": "203.0.113.9"})
        got = wait_for(lambda: req_lines(lines_of(logto)), 5)
    assert got == ["REQ 127.0.0.1"], got


def test_memory_report_begins_each_request_line_with_the_memory():
    with srv_with("--memory-report") as srv:
        request(srv.port, "GET", "/hello")
        log = srv.expect_log("GET /hello")
        with open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)) as f:
            kids = f.read().split()
        worker = int(kids[0]) if kids else srv.pid
        with open("/proc/%d/statm" % worker) as f:
            vsz = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    line = [l for l in log.splitlines() if "GET /hello" in l][0]
    m = re.match(r"\{address space usage: (\d+) bytes/(\d+)MB\} \{rss "
                 r"usage: (\d+) bytes/(\d+)MB\} \[pid: ", line)
    assert m, line
    v, vm, r, rm = map(int, m.groups())
    assert vm == v >> 20 and rm == r >> 20 and 0 < r < v, line
    assert abs(v - vsz) < 64 << 20, (v, vsz)
    # %(rss) and friends in --log-format, as uWSGI has them
    with srv_with("--log-format", "REQ %(rss) %(vsz) %(rssM) %(vszM)") as srv:
        request(srv.port, "GET", "/hello")
        log = srv.expect_log("REQ ")
    r, v, rm, vm = map(int, [l for l in log.splitlines()
                             if l.startswith("REQ ")][0].split()[1:])
    assert 0 < r < v and rm == r >> 20 and vm == v >> 20


weftest.main()
