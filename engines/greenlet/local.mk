# greenlet: not built yet (see its issue)
