"""wsgi.input and the environ, chosen by PATH_INFO.

/read          the body with wsgi.input.read()
/readn?n=K     the body with read(K) in a loop
/lines         readline() in a loop; the body comes back with "|" before
               every line (so line splitting is visible)
/limit?n=K     readline(K) in a loop, same format
/iter          `for line in wsgi.input`, same format
/readlines     readlines()
/env           the environ as JSON (non-str values as repr)
"""
import json
from urllib.parse import parse_qs


def application(environ, start_response):
    p = environ['PATH_INFO']
    q = {k: v[0] for k, v in parse_qs(environ['QUERY_STRING']).items()}
    inp = environ['wsgi.input']
    if p == '/read':
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
    elif p in ('/lines', '/limit'):
        n = int(q.get('n', '-1')) if p == '/limit' else -1
        parts = []
        while True:
            line = inp.readline(n)
            if not line:
                break
            parts.append(b'|' + line)
        body = b''.join(parts)
    elif p == '/iter':
        body = b''.join(b'|' + line for line in inp)
    elif p == '/readlines':
        body = b''.join(b'|' + line for line in inp.readlines())
    elif p == '/env':
        env = {k: (v if isinstance(v, str) else repr(v))
               for k, v in environ.items()}
        body = json.dumps(env, sort_keys=True, indent=1).encode()
    else:
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'unknown path\n']
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(len(body)))])
    return [body]
