"""The sleeping request of bench/sleepmem.py: a generator that sleeps
with uwsgi.async_sleep() (the same call under weft and uWSGI), then says
hello. GET /?s=SECONDS (default 1)."""
import uwsgi


def application(environ, start_response):
    s = float(environ.get("QUERY_STRING", "").partition("=")[2] or 1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    uwsgi.async_sleep(s)
    yield b""
    yield b"Hello World"
