"""A request that blocks gevent's hub: time.sleep without monkey patching
(GET /?s=SECONDS), or a quick answer (GET /quick). For --harakiri: the
master must see the blocked hub and replace the worker."""

import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ.get("PATH_INFO") == "/quick":
        return [b"%d" % os.getpid()]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(float(qs.get("s", ["1"])[0]))   # not cooperative
    return [b"slept"]
