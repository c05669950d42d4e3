"""Talk to a TCP backend through the `socket` module, the way a blocking
client library does; concurrent only when `socket` is monkey-patched.

GET /?port=PORT&send=TEXT   connect to 127.0.0.1:PORT, send TEXT + newline,
                            read one line back; says what came and how long
"""
import socket
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    qs = parse_qs(environ.get('QUERY_STRING', ''))
    port = int(qs['port'][0])
    text = qs.get('send', ['ping'])[0]
    t0 = time.monotonic()
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    try:
        s.sendall(text.encode() + b'\n')
        f = s.makefile('rb')
        line = f.readline().strip()
        f.close()
    finally:
        s.close()
    body = b'%s in %.3f via %s\n' % (line, time.monotonic() - t0,
                                     socket.socket.__module__.encode())
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
