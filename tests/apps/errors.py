"""Apps that are wrong on purpose, chosen by PATH_INFO. The server must
answer 500 (when the head has not gone out), log one line or a traceback,
call close() on the iterable, and keep serving.

/raise        raises before start_response
/raise-late   a generator that raises after its first chunk (head sent:
              the connection is closed, the body truncated)
/str          returns ['text'] (str, not bytes) -> 500
/str-gen      yields b'ok', then a str -> truncated
/bad-status   start_response('200OK', ...) -> ValueError in the app -> 500
/bad-header   a header value with CR LF -> ValueError -> 500
/bad-name     a header name with a space -> ValueError -> 500
/bytes-header a header given as bytes -> TypeError -> 500
/no-start     returns a body without calling start_response -> 500
/twice        start_response twice without exc_info -> RuntimeError -> 500
/exc-info     start_response, then replaces it with exc_info -> 503 page
/exc-info-late exc_info after the head went out: re-raised -> truncated
/forever      yields a chunk every 10 ms forever (client must hang up)
/closes       how many times close() was called on our iterables so far
"""
import sys

import uwsgi

closes = 0


class Body:
    """An iterable with close(), counting the calls."""

    def __init__(self, gen):
        self.gen = gen

    def __iter__(self):
        return self.gen

    def close(self):
        global closes
        closes += 1
        self.gen.close()


def text(start_response, status, body):
    start_response(status, [('Content-Type', 'text/plain')])
    return [body.encode()]


def raise_late(start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'first chunk\n'
    raise KeyError('late')


def str_gen(start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'ok\n'
    yield 'not bytes\n'


def forever(start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    i = 0
    while True:
        yield b'chunk %d\n' % i
        yield uwsgi.async_sleep(0.01)
        i += 1


def exc_info_late(start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'head is out\n'
    try:
        raise ValueError('late')
    except ValueError:
        start_response('500 Oops', [('Content-Type', 'text/plain')],
                       sys.exc_info())
    yield b'never\n'


def application(environ, start_response):
    p = environ['PATH_INFO']
    if p == '/raise':
        raise ValueError('raised on purpose')
    if p == '/raise-late':
        return Body(raise_late(start_response))
    if p == '/str':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return ['text, not bytes']
    if p == '/str-gen':
        return Body(str_gen(start_response))
    if p == '/bad-status':
        return text(start_response, '200OK', 'never')
    if p == '/bad-header':
        start_response('200 OK', [('X-Bad', 'a\r\nInjected: yes')])
        return [b'never']
    if p == '/bad-name':
        start_response('200 OK', [('X Bad', 'a')])
        return [b'never']
    if p == '/bytes-header':
        start_response('200 OK', [(b'X-Bytes', b'a')])
        return [b'never']
    if p == '/no-start':
        return [b'no start_response']
    if p == '/twice':
        start_response('200 OK', [])
        start_response('404 Not Found', [])
        return [b'never']
    if p == '/exc-info':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        try:
            raise RuntimeError('changed my mind')
        except RuntimeError:
            start_response('503 Service Unavailable',
                           [('Content-Type', 'text/plain'),
                            ('Retry-After', '1')], sys.exc_info())
        return [b'replaced by exc_info\n']
    if p == '/exc-info-late':
        return Body(exc_info_late(start_response))
    if p == '/forever':
        return Body(forever(start_response))
    if p == '/closes':
        return text(start_response, '200 OK', 'closes %d\n' % closes)
    return text(start_response, '404 Not Found', 'unknown %s\n' % p)
