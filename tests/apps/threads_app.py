"""The app of tests/integration/t_threads.py (--threads N).

  /whoami        JSON: core, worker, pid, the Python thread's ident and
                 name, uwsgi.cores, uwsgi.has_threads
  /sleep?s=1     time.sleep(s) (it lets go of the GIL), then /whoami;
                 logs "sleep start on core N" first
  /asleep?s=1    uwsgi.async_sleep(s) + uwsgi.suspend() (a suspend engine
                 switches cores meanwhile), then /whoami
  /gen?s=1       a generator: async_sleep(s), yield b'', then /whoami
  /cpu?s=2       pure-Python busy loop for s seconds (holds the GIL but
                 for the interpreter's switch interval), then /whoami;
                 logs "cpu start on core N" first
  /depth?n=200   recursion n deep, then /whoami (per-core frame state)
  /ctx           a contextvar set per request: it must start empty
  /stack?s=0     time.sleep(s), then the C stack size of the thread that
                 runs the request (pthread_getattr_np), in KiB
"""
import contextvars
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

import uwsgi

var = contextvars.ContextVar("req", default=None)


def _core(environ):
    # uWSGI has no uwsgi.core_id(); both put the core in the environ
    if "uwsgi.core" in environ:
        return int(environ["uwsgi.core"])
    return uwsgi.core_id()


def _who(environ, extra=None):
    d = {
        "core": _core(environ),
        "worker": uwsgi.worker_id(),
        "pid": os.getpid(),
        "ident": threading.get_ident(),
        "native": threading.get_native_id(),
        "cores": uwsgi.cores,
        "has_threads": bool(getattr(uwsgi, "has_threads", False)),
        "t": time.time(),
    }
    if extra:
        d.update(extra)
    return json.dumps(d).encode()


def _depth(n):
    return 0 if n == 0 else 1 + _depth(n - 1)


def _stack_kib():
    import ctypes
    libc = ctypes.CDLL(None)
    libc.pthread_self.restype = ctypes.c_ulong
    attr = ctypes.create_string_buffer(128)     # a pthread_attr_t fits
    size = ctypes.c_size_t(0)
    if libc.pthread_getattr_np(ctypes.c_ulong(libc.pthread_self()),
                               attr) != 0:
        return -1
    libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
    libc.pthread_attr_destroy(attr)
    return size.value // 1024


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = parse_qs(environ.get("QUERY_STRING", ""))
    s = float(q.get("s", ["1"])[0])
    extra = {}
    if path == "/sleep":
        sys.stderr.write("sleep start on core %d\n" % _core(environ))
        sys.stderr.flush()
        time.sleep(s)
    elif path == "/asleep":
        uwsgi.async_sleep(s)
        uwsgi.suspend()
    elif path == "/gen":
        def gen():
            uwsgi.async_sleep(s)
            yield b""
            yield _who(environ)
        start_response("200 OK", [("Content-Type", "application/json")])
        return gen()
    elif path == "/cpu":
        sys.stderr.write("cpu start on core %d\n" % _core(environ))
        sys.stderr.flush()
        t0 = time.time()
        n = 0
        while time.time() - t0 < s:
            n += 1
        extra["spins"] = n
    elif path == "/depth":
        extra["depth"] = _depth(int(q.get("n", ["200"])[0]))
    elif path == "/stack":
        time.sleep(float(q.get("s", ["0"])[0]))
        extra["stack_kib"] = _stack_kib()
    elif path == "/ctx":
        extra["before"] = var.get()
        var.set(_core(environ))
        uwsgi.async_sleep(0.2)
        uwsgi.suspend()
        extra["after"] = var.get()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_who(environ, extra)]
