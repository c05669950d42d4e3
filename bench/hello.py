"""Hello world with a Content-Length, so that uWSGI's --http11-socket can
keep the connection alive too (it adds no framing of its own)."""

BODY = b"Hello World"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
