"""A 30 MB response (uWSGI truncated it to ~4 MB in plain async mode,
issues #1542/#1645). GET /?mode=gen|list|write|file[&mb=N]

gen    a generator of 1 MiB chunks
list   one list of 1 MiB chunks (Content-Length computed by the server)
write  the write() callable, 1 MiB at a time
file   wsgi.file_wrapper over a temporary file (sendfile)

Every MiB is bytes(range(256)) * 4096, so the body's MD5 is known:
the driver compares it with hashlib.md5(CHUNK * mb).
"""
import os
import tempfile
from urllib.parse import parse_qs

CHUNK = bytes(range(256)) * 4096
_files = {}


def _file(mb):
    path = _files.get(mb)
    if path is None or not os.path.exists(path):
        fd, path = tempfile.mkstemp(prefix='weft-bigbody-')
        with os.fdopen(fd, 'wb') as f:
            for _ in range(mb):
                f.write(CHUNK)
        _files[mb] = path
    return path


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ['QUERY_STRING']).items()}
    mode = q.get('mode', 'gen')
    mb = int(q.get('mb', '30'))
    headers = [('Content-Type', 'application/octet-stream')]
    if mode == 'list':
        start_response('200 OK', headers)
        return [CHUNK] * mb
    if mode == 'write':
        write = start_response('200 OK', headers)
        for _ in range(mb):
            write(CHUNK)
        return []
    if mode == 'file':
        start_response('200 OK', headers)
        return environ['wsgi.file_wrapper'](open(_file(mb), 'rb'), 65536)
    start_response('200 OK', headers)
    return (CHUNK for _ in range(mb))
