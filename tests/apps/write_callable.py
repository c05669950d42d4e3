"""The PEP 3333 write() callable, chosen by PATH_INFO.

/          write() two chunks, then return a list with a third
/only      write() everything, return []
/gen       write() a chunk, then return a generator with two more
/empty     write(b'') only: the head still goes out (empty body)
/keep      keep this request's write() for /stale
/stale     call the write() kept by /keep (its request is over):
           RuntimeError in the app -> 500
"""

kept = []


def application(environ, start_response):
    p = environ['PATH_INFO']
    if p == '/stale':
        if not kept:
            start_response('409 Conflict', [('Content-Type', 'text/plain')])
            return [b'call /keep first\n']
        kept[0](b'from a dead request\n')
        return [b'unreachable\n']
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    if p == '/keep':
        kept[:] = [write]
        return [b'kept\n']
    if p == '/only':
        write(b'one\n')
        write(b'two\n')
        write(b'three\n')
        return []
    if p == '/gen':
        write(b'one\n')

        def rest():
            yield b'two\n'
            yield b'three\n'
        return rest()
    if p == '/empty':
        write(b'')
        return []
    write(b'one\n')
    write(bytearray(b'two\n'))
    return [b'three\n']
