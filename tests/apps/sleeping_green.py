"""weft's version of uWSGI's tests/sleeping_green.py (suspend style).

GET /?s=SECONDS (float allowed, default 1): uwsgi.async_sleep(s) then
uwsgi.suspend(), from plain (non-generator) code. Needs a suspend engine
(--ugreen) to overlap; without one the worker blocks in place for the
wait (it is never skipped).
"""
import time
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    secs = float(qs.get('s', ['1'])[0])
    t0 = time.monotonic()
    r1 = uwsgi.async_sleep(secs)
    r2 = uwsgi.suspend()
    slept = time.monotonic() - t0
    body = ("slept %.3f seconds (asked %s) async_sleep=%r suspend=%r "
            "ready_fd=%d core=%d\n" % (slept, secs, r1, r2,
                                       uwsgi.ready_fd(), uwsgi.core_id()))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]
