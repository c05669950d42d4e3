"""Proxy a TCP service with the async fd API (uWSGI's iobound_async.py on
loopback).

GET /?addr=127.0.0.1:PORT&send=TEXT&t=SECONDS

  uwsgi.async_connect(addr)               non-blocking connect
  yield uwsgi.wait_fd_write(fd, t)        until connected (or timeout)
  uwsgi.send(fd, data)                    the request
  yield uwsgi.wait_fd_read(fd, t) + recv  until EOF, streaming what comes

Refused connection or timeout: 500 with the reason. Generator style: after a
yield, environ['uwsgi.ready_fd'] / environ['x-wsgiorg.fdevent.timeout'] say
why the core woke up (uwsgi.ready_fd() is -1 by then, as in uWSGI).
"""
from urllib.parse import parse_qs

import uwsgi


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    addr = qs.get('addr', ['127.0.0.1:1'])[0]
    data = qs.get('send', ['hello\n'])[0].encode()
    t = float(qs.get('t', ['2'])[0])

    fd = uwsgi.async_connect(addr)
    if fd < 0:
        start_response('500 Internal Server Error',
                       [('Content-Type', 'text/plain')])
        yield b"cannot connect to %s\n" % addr.encode()
        return
    try:
        yield uwsgi.wait_fd_write(fd, t)
        if environ['x-wsgiorg.fdevent.timeout'] or \
                not uwsgi.is_connected(fd):
            why = 'timeout' if environ['x-wsgiorg.fdevent.timeout'] \
                else 'refused'
            start_response('500 Internal Server Error',
                           [('Content-Type', 'text/plain')])
            yield b"connect to %s: %s\n" % (addr.encode(), why.encode())
            return
        if not uwsgi.send(fd, data):
            start_response('500 Internal Server Error',
                           [('Content-Type', 'text/plain')])
            yield b"send failed\n"
            return
        started = False
        while True:
            yield uwsgi.wait_fd_read(fd, t)
            if environ['x-wsgiorg.fdevent.timeout']:
                if not started:
                    start_response('500 Internal Server Error',
                                   [('Content-Type', 'text/plain')])
                yield b"\nread timeout\n"
                return
            chunk = uwsgi.recv(fd)
            if not chunk:
                break
            if not started:
                # lazy start_response, inside the generator
                start_response('200 OK', [('Content-Type',
                                           'application/octet-stream')])
                started = True
            yield chunk
        if not started:
            start_response('200 OK', [('Content-Type', 'text/plain')])
    finally:
        uwsgi.close(fd)
