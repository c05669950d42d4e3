"""The app of bench/gevent_compare.py: GET / is hello world (with a
Content-Length, so every server can keep the connection alive); GET /sleep
is gevent.sleep(0.1), then the same body. Runs under weft --gevent, uWSGI
--gevent and gunicorn -k gevent alike (no uwsgi module needed)."""
import gevent

BODY = b"Hello World"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/sleep":
        gevent.sleep(0.1)
    start_response("200 OK", HEADERS)
    return [BODY]
