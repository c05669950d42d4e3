# rack: not built yet (see its issue)
