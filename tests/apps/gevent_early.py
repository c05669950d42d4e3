"""Monkey patching order: this module binds `sleep` and `socket` when it is
imported, as many libraries do.

With --gevent-early-monkey-patch the names are gevent's (patched before the
import), and sleep() lets other requests run. With --gevent-monkey-patch
(after the import) `sleep` stays time.sleep, which blocks the worker.

GET /?s=SECONDS   sleep(s); says how long, and where sleep/socket came from
"""
import socket
import time
from time import sleep
from urllib.parse import parse_qs

SOCKET_CLASS = socket.socket


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    secs = float(qs.get('s', ['0.5'])[0])
    t0 = time.monotonic()
    sleep(secs)
    body = ('slept %.3f sleep=%s socket-at-import=%s socket-now=%s\n' % (
        time.monotonic() - t0, sleep.__module__, SOCKET_CLASS.__module__,
        socket.socket.__module__)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
