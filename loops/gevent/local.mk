# gevent: not built yet (see its issue)
