# fiber: not built yet (see its issue)
