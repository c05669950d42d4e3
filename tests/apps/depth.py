"""Per-core interpreter state under a suspend engine (docs/langs/python.md, "Per-core interpreter state").

Three apps, chosen by PATH_INFO. Each reports what it sees in the body and
prints "ok" or "BAD ..." so that a driver can check many concurrent runs.
`s` is how long to stay suspended (seconds, float; 0 = just give the worker
away once; -1 = never suspend). `style=gen` uses generator yields instead of
uwsgi.suspend() (works without a suspend engine).

/depth?d=N&s=S   suspend at call depth N, then check every frame's locals on
                 the way up and build a traceback through all N frames.
                 uWSGI 2.0 + Python 3.11 + ugreen: A at depth 10 and B at 60
                 suspended, A ends, C and D recurse deeply, B resumes: SIGSEGV.
/exc?name=X&s=S  raise ValueError(X), suspend inside the except block, report
                 sys.exc_info() inside (must be X) and after it (must be None).
                 uWSGI: B sees A's exception after leaving its own except.
/cv?name=X&s=S   contextvar: must be unset at the start of every request, and
                 still X after a suspend. uWSGI: A reads B's value.
"""
import contextvars
import sys
import traceback
from urllib.parse import parse_qs

import uwsgi

cv = contextvars.ContextVar('cv')


def green_sleep(s):
    if s < 0:
        return
    if s > 0:
        uwsgi.async_sleep(s)
    uwsgi.suspend()


def dive(n, s):
    x = [n] * 3
    y = {'n': n}
    if n == 0:
        green_sleep(s)
        try:
            raise RuntimeError('bottom')
        except RuntimeError:
            frames = len(traceback.extract_stack())
        r = (0, frames)
    else:
        r = dive(n - 1, s)
    if x != [n] * 3 or y['n'] != n:
        raise AssertionError('frame %d corrupted: %r %r' % (n, x, y))
    return (r[0] + n, r[1])


def dive_gen(n, s):
    x = [n] * 3
    if n == 0:
        if s >= 0:
            yield uwsgi.async_sleep(s)
        return 0
    r = yield from dive_gen(n - 1, s)
    if x != [n] * 3:
        raise AssertionError('frame %d corrupted' % n)
    return r + n


def app_depth(q, style):
    d = int(q.get('d', '10'))
    s = float(q.get('s', '0'))
    want = d * (d + 1) // 2
    if style == 'gen':
        total = yield from dive_gen(d, s)
        frames = -1
    else:
        total, frames = dive(d, s)
    ok = total == want and (frames < 0 or frames >= d)
    yield ('%s depth=%d sum=%d want=%d stack=%d core=%d\n' % (
        'ok' if ok else 'BAD', d, total, want, frames,
        uwsgi.core_id())).encode()


def app_exc(q, style):
    name = q.get('name', 'A')
    s = float(q.get('s', '0'))
    before = sys.exc_info()[1]
    try:
        raise ValueError(name)
    except ValueError:
        if style == 'gen':
            if s >= 0:
                yield uwsgi.async_sleep(s)
        else:
            green_sleep(s)
        inside = sys.exc_info()[1]
    after = sys.exc_info()[1]
    if style == 'gen':
        yield uwsgi.async_sleep(0.01)
    else:
        green_sleep(0.01)
    after2 = sys.exc_info()[1]
    ok = (before is None and isinstance(inside, ValueError) and
          inside.args == (name,) and after is None and after2 is None)
    yield ('%s name=%s before=%r inside=%r after=%r after2=%r\n' % (
        'ok' if ok else 'BAD', name, before, inside, after,
        after2)).encode()


def app_cv(q, style):
    name = q.get('name', 'A')
    s = float(q.get('s', '0'))
    start = cv.get('unset')
    cv.set(name)
    if style == 'gen':
        if s >= 0:
            yield uwsgi.async_sleep(s)
    else:
        green_sleep(s)
    end = cv.get('unset')
    ok = start == 'unset' and end == name
    yield ('%s name=%s start=%s end=%s\n' % (
        'ok' if ok else 'BAD', name, start, end)).encode()


APPS = {'/depth': app_depth, '/exc': app_exc, '/cv': app_cv}


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ['QUERY_STRING']).items()}
    app = APPS.get(environ['PATH_INFO'])
    if app is None:
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'try /depth, /exc or /cv\n']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return app(q, q.get('style', 'green'))
