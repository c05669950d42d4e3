"""The plugin SDK and the man page, as a plugin author and a distribution
use them: `make install` into a temporary root, build examples/plugin/
there against the installed headers with pkg-config, load it into the
installed weft with --plugin and --plugins-dir, and serve requests; the
man page holds every option that --help prints."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import weftest
from weftest import request

BUILDDIR = os.path.dirname(os.path.abspath(weftest.WEFT))
SRCDIR = os.environ.get("WEFT_SRCDIR", BUILDDIR)


def make_env():
    """The environment for a make run from inside `make check`: without the
    jobserver of the make that runs us (its fds are not passed on)."""
    e = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        e.pop(k, None)
    return e


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL, env=kw.pop("env", make_env()),
                       **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s%s" % (
        " ".join(argv), r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


_installed = {}


def installed():
    """make install DESTDIR=<tmp>, once: the installed root (DESTDIR +
    prefix), the weft.pc directory and the pkg-config command that maps
    the prefix into it."""
    if _installed:
        return _installed
    if shutil.which("make") is None or shutil.which("pkg-config") is None:
        raise weftest.Skip("make or pkg-config missing")
    dest = tempfile.mkdtemp(prefix="weft-sdk-")
    weftest.atexit.register(shutil.rmtree, dest, True)
    run(["make", "-s", "-C", BUILDDIR, "install", "DESTDIR=" + dest])
    with open(os.path.join(BUILDDIR, "weft.pc")) as f:
        prefix = re.search(r"^prefix=(.*)$", f.read(), re.M).group(1)
    root = dest + prefix
    pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "weft.pc"),
                    recursive=True)
    assert len(pcs) == 1, "make install put weft.pc at %r" % pcs
    _installed.update(dest=dest, root=root, pcdir=os.path.dirname(pcs[0]),
                      pkgconfig="pkg-config --define-variable=prefix=" + root)
    return _installed


def pkg(*args):
    i = installed()
    e = make_env()
    e["PKG_CONFIG_PATH"] = i["pcdir"]
    return run(i["pkgconfig"].split() + list(args) + ["weft"],
               env=e).stdout.strip()


def build_example(into):
    """Copy examples/plugin out of the tree and build it with make, against
    the installed headers only; returns its directory."""
    i = installed()
    src = os.path.join(into, "echo")
    shutil.copytree(os.path.join(SRCDIR, "examples", "plugin"), src)
    for f in glob.glob(os.path.join(src, "*.so")):
        os.unlink(f)
    run(["make", "-C", src, "PKG_CONFIG=" + i["pkgconfig"],
         "PKG_CONFIG_PATH=" + i["pcdir"]])
    return src


def test_pkg_config_names_the_installed_headers_and_plugin_dir():
    i = installed()
    cflags = pkg("--cflags")
    inc = os.path.join(i["root"], "include")
    assert cflags == "-I" + inc, cflags
    assert os.path.isfile(os.path.join(inc, "weft", "plugin.h"))
    plugindir = pkg("--variable=plugindir")
    assert os.path.isfile(os.path.join(plugindir, "epoll_plugin.so")), \
        (plugindir, os.listdir(os.path.dirname(plugindir)))
    assert not glob.glob(os.path.join(plugindir, "*.la"))
    assert os.path.isfile(pkg("--variable=plugin_mk"))
    with open(os.path.join(SRCDIR, "include", "weft", "abi.h")) as f:
        abi = f.read()
    major = re.search(r"#define WF_ABI_MAJOR (\d+)", abi).group(1)
    assert pkg("--variable=abi_major") == major
    assert pkg("--modversion") == weftest.run_weft(
        "--version").stdout.split()[1]


def test_the_example_plugin_builds_out_of_tree_and_serves():
    i = installed()
    work = tempfile.mkdtemp(prefix="weft-echo-", dir=i["dest"])
    src = build_example(work)
    so = os.path.join(src, "echo_plugin.so")
    assert os.path.isfile(so)
    # one export: the descriptor function
    nm = subprocess.run(["nm", "-D", "--defined-only", so],
                        capture_output=True, text=True)
    if nm.returncode == 0:
        exported = [l.split()[-1] for l in nm.stdout.splitlines()
                    if " T " in l]
        assert exported == ["wf_plugin_echo"], exported

    plugindir = pkg("--variable=plugindir")
    weft_bin = os.path.join(i["root"], "bin", "weft")
    old = weftest.WEFT
    weftest.WEFT = weft_bin
    try:
        with weftest.Server("--plugins-dir", plugindir, "--plugins-dir", src,
                            "--plugin", "echo", "--echo",
                            "--echo-banner", "hi from echo",
                            "--async", "4", "--ugreen") as srv:
            r = request(srv.port, "POST", "/p/q?delay=150",
                        headers={"X-Test": "yes"}, body=b"hello")
            assert r.status == 200, r
            lines = r.body.decode().split("\n")
            assert lines[0] == "hi from echo", lines
            assert lines[1] == "POST /p/q?delay=150 HTTP/1.1", lines
            assert "x-test: yes" in lines, lines
            assert lines[-2:] == ["body: 5 bytes", "hello"], lines
            # the suspend-engine way, and two at once on one worker
            _, dt = weftest.parallel(
                lambda n: request(srv.port, "GET", "/?sleep=1000").status, 4)
            assert dt < 3.0, dt     # one after another: 4 s
            r = request(srv.port, "GET", "/")
            assert r.status == 200 and r.header("content-length") == str(
                len(r.body))
    finally:
        weftest.WEFT = old

    # make install puts it where the installed weft looks
    run(["make", "-C", src, "install", "DESTDIR=" + os.path.join(work, "d"),
         "PKG_CONFIG=" + i["pkgconfig"], "PKG_CONFIG_PATH=" + i["pcdir"]])
    assert os.path.isfile(os.path.join(work, "d") + plugindir +
                          "/echo_plugin.so")


def test_a_plugin_not_in_any_plugins_dir_stops_start_up():
    i = installed()
    plugindir = pkg("--variable=plugindir")
    r = subprocess.run([os.path.join(i["root"], "bin", "weft"),
                        "--plugins-dir", plugindir, "--plugin", "echo",
                        "--http-socket", "127.0.0.1:%d" % weftest.free_port()],
                       capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "echo" in err[0] and "not found" in err[0], err


def help_options(text):
    """The option names --help prints (one per option line)."""
    names = []
    for line in text.splitlines():
        m = re.match(r"^  (?:-\w, )?\s*--([a-z0-9][a-z0-9-]*)", line)
        if m:
            names.append(m.group(1))
    return names


def test_the_man_page_holds_every_option_of_help():
    helptext = weftest.run_weft("--help").stdout
    man = weftest.run_weft("--help-man").stdout
    names = help_options(helptext)
    assert len(names) > 40, names
    missing = [n for n in names
               if "\\fB\\-\\-%s\\fR" % n.replace("-", "\\-") not in man]
    assert not missing, missing
    # grouped by plugin, with types, defaults and the uWSGI equivalent
    assert '.SS "Core options"' in man
    assert '.SS "Plugin python"' in man or "python" not in \
        weftest.built_plugins()
    assert man.count(".TP\n") >= len(names)
    assert "Default: 4096" in man       # --buffer-size
    assert "uWSGI: the same option" in man
    assert "uWSGI: none (weft only)" in man     # --io-engine, --plugins-dir
    # the installed page is this output, made at build time
    with open(os.path.join(BUILDDIR, "weft.1")) as f:
        built = f.read()
    assert built == man
    # roff that man(1) renders without complaint
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"],
                           input=man, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and r.stderr == "", r.stderr[:2000]


def test_help_says_each_default_once():
    helptext = weftest.run_weft("--help").stdout
    twice = [l for l in helptext.splitlines() if l.count("(default") > 1]
    assert not twice, twice


weftest.main()
