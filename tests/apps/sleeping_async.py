"""weft's version of uWSGI's tests/sleeping_async.py (generator style).

GET /?s=SECONDS (float allowed, default 1). The app arms the core's timer
with uwsgi.async_sleep() and yields its result (b""), which gives the worker
away until the timer fires. N concurrent requests take ~SECONDS in total.
The body reports environ['x-wsgiorg.fdevent.timeout'] after the wake-up
(True: the timer fired) and the measured time.
"""
import time
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    secs = float(qs.get('s', ['1'])[0])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    t0 = time.monotonic()
    r = yield uwsgi.async_sleep(secs)
    slept = time.monotonic() - t0
    yield ("Hello World after %.3f seconds (asked %s) timeout=%r "
           "ready_fd=%r core=%r\n" % (
               slept, secs, environ.get('x-wsgiorg.fdevent.timeout'),
               environ.get('uwsgi.ready_fd'),
               environ.get('uwsgi.core'))).encode()
