"""Response heads the core must frame or refuse, chosen by PATH_INFO
(tests/integration/t_response.py).

/file         this file through wsgi.file_wrapper (sendfile)
/list         [b'hello'] (a list body: the core gives it a length)
/clen-twice   Content-Length: 5 given twice, same value
/clen-differ  Content-Length 5 and 6
/status-101   '101 Switching Protocols' as the final status
/status-100   '100 Continue' as the final status
/status-600   '600 Nope'
/ctl-value    a header value with \\x01 in it
/line         the request line as the core formats it for the log
/stream       a generator: b'first', then b'second' (no length)
"""

import uwsgi  # noqa: F401  (the plugin's module must import)


def application(env, start_response):
    p = env["PATH_INFO"]
    if p == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return env["wsgi.file_wrapper"](open(__file__, "rb"))
    if p == "/list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hel", b"lo"]
    if p == "/clen-twice":
        start_response("200 OK", [("Content-Length", "5"),
                                  ("Content-Length", "5")])
        return [b"hello"]
    if p == "/clen-differ":
        start_response("200 OK", [("Content-Length", "5"),
                                  ("Content-Length", "6")])
        return [b"hello"]
    if p.startswith("/status-"):
        code = p[8:]
        reason = {"101": "Switching Protocols", "100": "Continue"}.get(
            code, "Nope")
        start_response(code + " " + reason, [("Upgrade", "websocket")])
        return [b""]
    if p == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (c for c in (b"first", b"second"))
    if p == "/ctl-value":
        start_response("200 OK", [("X-Ctl", "a\x01b")])
        return [b"x"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
