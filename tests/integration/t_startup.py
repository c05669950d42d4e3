"""Start-up: options, ini files, plugin loading. A bad start stops with one
line that names the problem and the fix, and a non-zero exit."""

import os
import tempfile

import weftest
from weftest import TESTPLUGINS, Server


def run(*args, timeout=20):
    p = weftest.run_weft(*args, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_line_error(args, *expect):
    rc, out, err = run(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 1, (args, rc, out, err)
    assert len(lines) == 1, (args, err)
    assert lines[0].startswith("weft: "), lines
    for e in expect:
        assert e in lines[0], (e, lines[0])
    return lines[0]


def test_version_and_help():
    rc, out, _ = run("--version")
    assert rc == 0 and out.startswith("weft "), out
    rc, out, _ = run("--help")
    assert rc == 0
    for opt in ("--http-socket", "--socket", "--async", "--buffer-size",
                "--listen", "--socket-timeout", "--disable-logging",
                "--pidfile", "--io-engine", "--plugins-dir", "--ini"):
        assert opt in out, opt
    # plugin options are listed too, loaded or not
    if "ugreen" in weftest.built_plugins():
        assert "--ugreen-stacksize" in out
    if "python" in weftest.built_plugins():
        assert "--wsgi-file" in out


def test_list_plugins_says_kind_file_and_needs():
    rc, out, _ = run("--list-plugins")
    assert rc == 0
    assert "epoll" in out and "io" in out, out


def test_missing_plugin_names_the_available_ones():
    line = one_line_error(["--plugin", "ugren", "--http-socket", ":0"],
                          "plugin 'ugren': not found in", "available:")
    assert "ugreen" in line or "epoll" in line


def test_unknown_option_stops_start_up():
    one_line_error(["--no-such-option", "1"], "--no-such-option",
                   "unknown option", "weft --help")


BAD_VALUES = [
    (["--async", "abc"], ["--async abc", "not a whole number"]),
    (["--async", "-3"], ["--async -3", "out of range"]),
    (["--buffer-size", "10"], ["--buffer-size 10", "out of range"]),
    (["--http-socket", "127.0.0.1:99999", "--plugins-dir", TESTPLUGINS,
      "--testlang"], ["--http-socket 127.0.0.1:99999",
                      "port out of range 1-65535"]),
    (["--http-socket", "127.0.0.1:notaport", "--plugins-dir", TESTPLUGINS,
      "--testlang"], ["--http-socket 127.0.0.1:notaport",
                      "not a port number"]),
    (["--plugins-dir", TESTPLUGINS, "--testlang"],
     ["no socket", "--http-socket"]),
    (["--http-socket", ":0"], ["no language plugin loaded"]),
    (["--io-engine", "ugreen", "--http-socket", ":0"],
     ["--io-engine ugreen", "not an I/O engine"]),
    (["--listen", "100000"], ["--listen 100000", "out of range"]),
]


def test_bad_values_name_the_option_and_the_fix():
    for args, expect in BAD_VALUES:
        if "ugreen" in args and "ugreen" not in weftest.built_plugins():
            continue
        one_line_error(args, *expect)


BAD_PLUGINS = [
    ("badmagic", "bad descriptor magic"),
    ("oldabi", "built for weft ABI 2, this weft has ABI 1; rebuild the plugin"),
    ("newminor", "newer than this weft's"),
    ("noop", "without its 'wait' op"),
    ("wrongname", "descriptor names 'other', the file 'wrongname'"),
    ("nosym", "not a weft plugin (no symbol wf_plugin_nosym)"),
    ("needsmissing", "requires 'nonexistent'"),
]


def test_broken_plugins_are_refused_with_one_line():
    for name, expect in BAD_PLUGINS:
        one_line_error(["--plugins-dir", TESTPLUGINS, "--plugin", name],
                       expect)


def test_ini_file_sets_options_and_plugin_options():
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        port = weftest.free_port()
        f.write("[other]\nasync = 99\n\n[uwsgi]\n# a comment\n"
                "http-socket = 127.0.0.1:%d\nplugins-dir = %s\ntestlang\n"
                "async = 3\n" % (port, TESTPLUGINS))
    try:
        srv = Server("--ini", f.name, http=False, port=port)
        with srv:
            assert srv.get("/core").body == b"2"   # 3 cores: LIFO top is 2
        # a named section
        with open(f.name, "a") as g:
            g.write("\n[fast]\nhttp-socket = 127.0.0.1:%d\nplugins-dir = %s\n"
                    "testlang = true\nasync = 6\n" % (port, TESTPLUGINS))
        srv = Server("--ini", f.name + ":fast", http=False, port=port)
        with srv:
            assert srv.get("/core").body == b"5"
    finally:
        os.unlink(f.name)


def test_ini_errors_name_the_file():
    one_line_error(["--ini", "/nonexistent.ini"], "--ini /nonexistent.ini",
                   "No such file")
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write("[uwsgi]\nasync = many\n")
    try:
        one_line_error(["--ini", f.name], "--async many",
                       "%s:2" % f.name, "not a whole number")
        one_line_error(["--ini", f.name + ":nosuch"], "no [nosuch] section")
    finally:
        os.unlink(f.name)


def test_pidfile_is_written():
    with tempfile.TemporaryDirectory() as d:
        pf = os.path.join(d, "weft.pid")
        with Server("--pidfile", pf, testlang=True) as srv:
            # (written at start-up, maybe just after the socket accepts)
            assert weftest.wait_for(
                lambda: os.path.exists(pf)
                and open(pf).read().strip() == str(srv.pid), 5), \
                open(pf).read() if os.path.exists(pf) else "no pidfile"


def test_disable_logging_drops_request_lines():
    import time
    with Server("--disable-logging", testlang=True) as srv:
        srv.get("/hello")
        srv.get("/hello")
        time.sleep(0.1)
        assert "GET /hello" not in srv.log()
    with Server(testlang=True) as srv2:
        srv2.get("/hello")
        srv2.expect_log("GET /hello")


weftest.main()
