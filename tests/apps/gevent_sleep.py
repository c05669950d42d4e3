"""gevent primitives inside requests.

GET /?s=SECONDS            gevent.sleep(s), then 'slept S core C'
GET /spawn?n=N&s=SECONDS   N greenlets spawned from the request, each
                           gevent.sleep(s); joined; also says what the uwsgi
                           API does inside a spawned greenlet
GET /raise                 raises (-> 500; the worker goes on)
GET /busy                  the current core id and uwsgi.loop
GET /bg?s=SECONDS&mark=PATH  spawn a greenlet that sleeps s, then creates
                           PATH; answer at once
GET /forever               spawn a greenlet that never ends; answer at once
GET /threadpool?s=SECONDS  time.sleep(s) in gevent's thread pool (a real
                           thread: it needs the GIL while the hub polls)
GET /gen?n=N               a generator of N chunks (each yield lets the
                           other requests run)
GET /watchers              'io watchers N': how many of gevent's io
                           watchers are started in this worker

With WEFT_TEST_WARM_THREADPOOL=1 in the environment, gevent's hub and thread
pool are made at import time, i.e. in the master before the fork.
"""
import gc
import os
import time
from urllib.parse import parse_qs

import gevent

import uwsgi

if os.environ.get('WEFT_TEST_WARM_THREADPOOL'):
    gevent.get_hub().threadpool.apply(len, ('warm',))


def _qs(environ, key, default):
    return parse_qs(environ.get('QUERY_STRING', '')).get(key, [default])[0]


def _child(secs, out):
    gevent.sleep(secs)
    try:
        uwsgi.core_id()
        out.append('child-has-core')
    except SystemError as e:
        out.append('child-no-core: %s' % e)


def _background(secs, mark):
    gevent.sleep(secs)
    with open(mark, 'w') as f:
        f.write('done\n')


def _forever():
    while True:
        gevent.sleep(0.1)


def _chunks(n):
    for i in range(n):
        yield b'chunk %d core %d\n' % (i, uwsgi.core_id())


def application(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path == '/raise':
        raise RuntimeError('boom from the app')
    if path == '/spawn':
        n = int(_qs(environ, 'n', '10'))
        secs = float(_qs(environ, 's', '0.5'))
        out = []
        t0 = time.monotonic()
        gs = [gevent.spawn(_child, secs, out) for _ in range(n)]
        gevent.joinall(gs, timeout=30)
        body = 'spawned %d in %.3f s core %d: %s\n' % (
            n, time.monotonic() - t0, uwsgi.core_id(), out[0] if out else '-')
    elif path == '/bg':
        secs = float(_qs(environ, 's', '0.5'))
        mark = _qs(environ, 'mark', '')
        gevent.spawn(_background, secs, mark)
        body = 'spawned\n'
    elif path == '/threadpool':
        secs = float(_qs(environ, 's', '0.5'))
        t0 = time.monotonic()
        gevent.get_hub().threadpool.apply(time.sleep, (secs,))
        body = 'slept %.3f core %d\n' % (time.monotonic() - t0,
                                          uwsgi.core_id())
    elif path == '/forever':
        gevent.spawn(_forever)
        body = 'spawned\n'
    elif path == '/gen':
        n = int(_qs(environ, 'n', '10'))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return _chunks(n)
    elif path == '/watchers':
        n = sum(1 for o in gc.get_objects()
                if type(o).__name__ == 'io' and o.active)
        body = 'io watchers %d\n' % n
    elif path == '/busy':
        body = 'core %d loop %s\n' % (uwsgi.core_id(), uwsgi.loop)
    else:
        secs = float(_qs(environ, 's', '1'))
        t0 = time.monotonic()
        gevent.sleep(secs)
        body = 'slept %.3f core %d\n' % (time.monotonic() - t0,
                                          uwsgi.core_id())
    data = body.encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
