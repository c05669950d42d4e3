"""The uwsgi module's API, as JSON: GET / (and /import-time, set when the
module was imported: the API outside a request).

Checks in one place: constants, SystemError outside a request, the OSError
of wait_fd_read(-1), ready_fd() after a pipe wait + suspend(), return
values, async_connect address forms, send/recv over a socketpair.
"""
import json
import os
import socket

import uwsgi
import weft

outside = {}
try:
    uwsgi.async_sleep(1)
except SystemError as e:
    outside['async_sleep'] = str(e)
try:
    uwsgi.core_id()
except SystemError as e:
    outside['core_id'] = str(e)


def application(environ, start_response):
    r = {'outside': outside, 'same_module': weft is uwsgi}
    r['version'] = repr(uwsgi.version)
    r['version_info'] = list(uwsgi.version_info)
    r['cores'] = uwsgi.cores
    r['numproc'] = uwsgi.numproc
    r['buffer_size'] = uwsgi.buffer_size
    r['loop'] = repr(uwsgi.loop)
    r['has_threads'] = uwsgi.has_threads
    r['opt'] = {k: repr(v) for k, v in uwsgi.opt.items()}
    r['worker_id'] = uwsgi.worker_id()
    r['core_id'] = uwsgi.core_id()
    r['env_core'] = environ.get('uwsgi.core')
    r['connection_fd'] = uwsgi.connection_fd() >= 0
    r['ready_fd_idle'] = uwsgi.ready_fd()
    try:
        uwsgi.wait_fd_read(-1)
    except OSError as e:
        r['wait_bad_fd'] = str(e)
    r['sleep_ret'] = repr(uwsgi.async_sleep(0))
    r['suspend_ret'] = uwsgi.suspend()
    # a pipe that is readable at once: suspend() wakes with its fd
    rd, wr = os.pipe()
    os.write(wr, b'x')
    r['wait_ret'] = repr(uwsgi.wait_fd_read(rd, 1.5))
    uwsgi.suspend()
    r['pipe_fd_is_ready'] = uwsgi.ready_fd() == rd
    r['recv_pipe'] = repr(uwsgi.recv(rd))
    os.close(rd)
    os.close(wr)
    # send/recv on a socketpair
    a, b = socket.socketpair()
    r['send'] = uwsgi.send(a.fileno(), b'ping' * 5000)
    got = b''
    while len(got) < 20000:
        chunk = uwsgi.recv(b.fileno(), 100000)
        if not chunk:
            break
        got += chunk
    r['recv_len'] = len(got)
    a.close()
    r['recv_eof'] = repr(uwsgi.recv(b.fileno()))
    b.close()
    r['connect_bad'] = [uwsgi.async_connect(x) for x in
                        ('localhost:80', 'nonsense', '1.2.3.4:99999')]
    fd6 = uwsgi.async_connect('[::1]:9')
    r['connect_v6'] = fd6 >= 0
    if fd6 >= 0:
        uwsgi.close(fd6)
    fdu = uwsgi.async_connect('@weft-test-nobody-listens')
    r['connect_abstract'] = fdu
    body = json.dumps(r, indent=1, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
