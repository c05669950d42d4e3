"""Requests that sit in known states, for the stats tests (t_stats.py).
Needs a suspend engine (--ugreen) for the waits to give the worker away.

/sleep?s=S      uwsgi.async_sleep(S) + suspend(): waiting on its timer
/fd?port=P&t=T  connect to 127.0.0.1:P, wait_fd_read(fd, T) + suspend():
                waiting on that fd (the peer never answers)
/read           wsgi.input.read(): reading the body (send it slowly)
/raise          raises: a 500 and one exception
/burn?ms=MS     a busy loop of MS milliseconds (the loop's lag)
/status?code=N  answers with status N
anything else   "Hello World"
"""
import socket
import time
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        uwsgi.async_sleep(float(qs.get("s", ["1"])[0]))
        uwsgi.suspend()
        body = b"slept"
    elif path == "/fd":
        s = socket.create_connection(("127.0.0.1", int(qs["port"][0])))
        uwsgi.wait_fd_read(s.fileno(), int(qs.get("t", ["30"])[0]))
        uwsgi.suspend()
        s.close()
        body = b"fd ready"
    elif path == "/read":
        body = b"read %d" % len(environ["wsgi.input"].read())
    elif path == "/raise":
        raise RuntimeError("on purpose")
    elif path == "/burn":
        end = time.monotonic() + int(qs.get("ms", ["300"])[0]) / 1000.0
        while time.monotonic() < end:
            pass
        body = b"burnt"
    elif path == "/status":
        code = int(qs.get("code", ["200"])[0])
        start_response("%d Whatever" % code, [("Content-Type", "text/plain")])
        return [b"status"]
    else:
        body = b"Hello World"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
