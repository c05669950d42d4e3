"""A pool of outbound connections shared by the requests of a worker, with
gevent's own socket and queue (no monkey patching needed).

GET /?port=PORT&size=N&send=TEXT   take a connection from the pool of N to
    127.0.0.1:PORT (made on first use), send TEXT + newline, read one line,
    give the connection back. The backend answers each line after a delay,
    so N connections serve N requests at a time and the rest queue.
"""
import time
from urllib.parse import parse_qs

import gevent.queue
import gevent.socket

_pools = {}


class Pool:
    def __init__(self, port, size):
        self.port = port
        self.free = gevent.queue.Queue()
        self.made = 0
        self.size = size

    def get(self):
        if self.free.empty() and self.made < self.size:
            self.made += 1
            s = gevent.socket.create_connection(('127.0.0.1', self.port), 10)
            return s, s.makefile('rb')
        return self.free.get(timeout=30)

    def put(self, conn):
        self.free.put(conn)


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    port = int(qs['port'][0])
    size = int(qs.get('size', ['2'])[0])
    text = qs.get('send', ['ping'])[0]
    pool = _pools.setdefault((port, size), Pool(port, size))
    t0 = time.monotonic()
    conn = pool.get()
    try:
        conn[0].sendall(text.encode() + b'\n')
        line = conn[1].readline().strip()
    finally:
        pool.put(conn)
    body = b'%s in %.3f pool %d\n' % (line, time.monotonic() - t0, pool.made)
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
