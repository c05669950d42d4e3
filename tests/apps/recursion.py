"""Deep recursion through C builtins on a core's stack (docs/engines/ugreen.md).

GET /?n=N[&limit=L]: recurse N levels, each through list(map(lambda ...)),
so every level costs C stack as well as Python frames. Returns
"depth N" or "RecursionError at ..." (caught): never a crash, as long as
the recursion limit fits the engine's stack (ugreen default: 8 MiB).
`limit` sets sys.setrecursionlimit for this request (restored after).
"""
import sys
from urllib.parse import parse_qs


def rec(n):
    if n == 0:
        return 0
    return list(map(lambda _: rec(n - 1), [0]))[0] + 1


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ['QUERY_STRING']).items()}
    n = int(q.get('n', '100'))
    old = sys.getrecursionlimit()
    if 'limit' in q:
        sys.setrecursionlimit(int(q['limit']))
    try:
        body = 'depth %d\n' % rec(n)
    except RecursionError as e:
        body = 'RecursionError at n=%d: %s\n' % (n, e)
    finally:
        sys.setrecursionlimit(old)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]
