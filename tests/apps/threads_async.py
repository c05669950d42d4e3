"""A background thread ticking every 10 ms while the request sleeps in
uwsgi.async_sleep: the body is how many ticks it saw. With
--enable-threads the worker releases the GIL while it waits for I/O, so
the thread runs; without it the thread starves while the worker waits.
The thread starts with the first request (threads do not survive the
fork of a worker)."""

import threading
import time

import uwsgi

ticks = [0]
started = []


def ticker():
    while True:
        ticks[0] += 1
        time.sleep(0.01)


def application(environ, start_response):
    if not started:
        started.append(threading.Thread(target=ticker, daemon=True))
        started[0].start()
    start_response("200 OK", [("Content-Type", "text/plain")])
    before = ticks[0]
    yield uwsgi.async_sleep(0.5)
    yield b"%d" % (ticks[0] - before)
