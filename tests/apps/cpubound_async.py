"""weft's version of uWSGI's tests/cpubound_async.py.

A generator yielding ~1000 small chunks (query string: n=COUNT). Each yield
is a scheduling point: with --async N, concurrent requests interleave chunk
by chunk. Every chunk names the core that produced it, so a test can check
that the body is complete and comes from one core.
"""
import time
from urllib.parse import parse_qs

try:
    import uwsgi
except ImportError:          # run outside weft (e.g. wsgiref) for comparison
    uwsgi = None


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    n = int(qs.get('n', ['1000'])[0])
    core = environ.get('uwsgi.core', uwsgi.core_id() if uwsgi else 0)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    t0 = time.monotonic()
    for i in range(n):
        yield b"core %d chunk %d\n" % (core, i)
    yield b"done core %d chunks %d in %.3fs\n" % (core, n,
                                                  time.monotonic() - t0)
