"""The app of tests/integration/t_hostile.py.

/echo           the body back, read with wsgi.input.read()
/readn?n=K      the body with read(K) in a loop
/big?mb=N       N MiB from a generator (1 MiB chunks)
/late?s=S&mb=N  a first line, S seconds of the app's own time (then it
                logs "hostile: late pause over"), then N MiB
/fds?n=N        keep N more open fds (for EMFILE), answer ok
/ran            log "hostile: app ran" and answer ok
/rss            the worker's VmHWM (peak resident memory) in kB
"""
import os
import sys
import time

_fds = []


def application(environ, start_response):
    p = environ['PATH_INFO']
    q = dict(kv.split('=', 1) for kv in environ['QUERY_STRING'].split('&')
             if '=' in kv)
    inp = environ['wsgi.input']
    if p == '/echo':
        sys.stderr.write("hostile: app ran\n")
        body = inp.read()
    elif p == '/readn':
        n = int(q.get('n', '7'))
        parts = []
        while True:
            b = inp.read(n)
            if not b:
                break
            parts.append(b)
        body = b''.join(parts)
    elif p == '/big':
        mb = int(q.get('mb', '1'))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        chunk = b'x' * (1 << 20)
        return (chunk for _ in range(mb))
    elif p == '/late':
        secs = float(q.get('s', '1'))
        mb = int(q.get('mb', '1'))
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length',
                                   str(6 + (mb << 20)))])

        def late():
            yield b'first\n'
            time.sleep(secs)
            sys.stderr.write("hostile: late pause over\n")
            yield b'y' * (mb << 20)
        return late()
    elif p == '/fds':
        for _ in range(int(q.get('n', '1'))):
            _fds.append(os.open('/dev/null', os.O_RDONLY))
        body = b'ok'
    elif p == '/ran':
        sys.stderr.write("hostile: app ran\n")
        body = b'ok'
    elif p == '/rss':
        with open('/proc/self/status') as f:
            body = [l for l in f if l.startswith('VmHWM')][0].split()[1]
        body = body.encode()
    else:
        body = b'hello'
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
