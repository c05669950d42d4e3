"""Helpers shared by the load benchmarks in bench/ (compare.py, matrix.py,
gevent_compare.py, rack_compare.py): one method for all of them.

A server is started pinned to CPU 0 and wrk is run pinned to CPU 1
(taskset), so the two do not fight for a core. measure() gives the server a
1 s warm-up with wrk, then the measured run; requests/s, p99 latency and
errors come from wrk's output, and the server's CPU time per request is
utime+stime of the server process and its live children from /proc over
the requests wrk counted. Loopback (127.0.0.1) only.

Not a script: the benchmarks import it (they put their own directory,
bench/, on sys.path).
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port on 127.0.0.1 that is free now (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=15, why=None):
    """Wait until 127.0.0.1:port accepts connections.

    Raises SystemExit if proc (a Popen) exits first (with why(), the
    server's last words, when given), or after timeout seconds without a
    listener.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited at start-up (status %s)%s"
                             % (proc.returncode, why() if why else ""))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start listening on %d" % port)


def cpu_split_of(pid):
    """(utime, stime) of pid and its live children, in seconds."""
    tck = os.sysconf("SC_CLK_TCK")
    user = system = 0
    pids = [pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            user += int(f[11])
            system += int(f[12])
        except OSError:
            pass
    return user / tck, system / tck


def cpu_of(pid):
    """utime+stime of pid and its live children, in seconds."""
    return sum(cpu_split_of(pid))


def wrk(port, duration, conns, close, path="/", timeout=None):
    """One wrk run (-t1 -cCONNS -dDURATIONs --latency), pinned to CPU 1,
    against http://127.0.0.1:PORT/PATH; with close, every request carries
    "Connection: close"; timeout (e.g. "10s") is passed as wrk --timeout.

    Returns a dict: requests (counted by wrk), rps (requests/s), errors
    (wrk's socket errors and non-2xx/3xx count, "" if none), p99 (latency
    with its unit, "?" if absent) and raw (wrk's output).
    """
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns,
           "-d%ds" % duration, "--latency"]
    if timeout:
        cmd += ["--timeout", timeout]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=duration + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {
        "requests": int(m.group(1)) if m else 0,
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": (errs.group(1) if errs else "") +
                  (" non2xx=%s" % non2xx.group(1) if non2xx else ""),
        "p99": (p99.group(1) + p99.group(2)) if p99 else "?",
        "raw": out,
    }


def run_server(cmd, port):
    """Start cmd pinned to CPU 0, wait until it listens on port, then give
    it 0.3 s more. Returns the Popen. Its output is kept only to say why
    it did not start (a missing plugin, say)."""
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd,
                            stdout=out, stderr=subprocess.STDOUT)

    def why():
        out.seek(0)
        tail = out.read().decode(errors="replace").strip().splitlines()[-5:]
        return ": %s\n  %s" % (" ".join(cmd), "\n  ".join(tail))

    try:
        wait_port(port, proc, why=why)
    finally:
        out.close()
    time.sleep(0.3)
    return proc


def stop(proc):
    """Terminate a server started by run_server; kill it if it is still
    there after 10 s."""
    proc.terminate()    # does nothing if it has exited already
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def measure(cmd, port, duration, conns, close, path="/", timeout=None):
    """Start the server cmd (listening on port), warm it up with a 1 s wrk
    run, then measure one wrk run of duration seconds with conns
    connections (close, path, timeout: as for wrk()), and stop it.

    Returns wrk()'s dict plus cpu (server CPU seconds during the measured
    run), us_per_req (CPU microseconds per request wrk counted, 0 if none),
    user_us_per_req and sys_us_per_req (its user and kernel parts)
    and died (the server's exit status if it exited during the run, else
    None). Raises SystemExit if the server does not start.
    """
    proc = run_server(cmd, port)
    try:
        wrk(port, 1, conns, close, path, timeout)       # warm-up
        u0, s0 = cpu_split_of(proc.pid)
        r = wrk(port, duration, conns, close, path, timeout)
        u1, s1 = cpu_split_of(proc.pid)
        died = proc.poll()
    finally:
        stop(proc)
    n = r["requests"]
    r["cpu"] = (u1 - u0) + (s1 - s0)
    r["us_per_req"] = (r["cpu"] / n * 1e6) if n else 0
    r["user_us_per_req"] = ((u1 - u0) / n * 1e6) if n else 0
    r["sys_us_per_req"] = ((s1 - s0) / n * 1e6) if n else 0
    r["died"] = died
    return r


def measure_args(cmd, port, args, close):
    """measure() of GET / with args.duration and args.connections (the
    options of compare.py and rack_compare.py); a server that died during
    the run is noted at the end of the errors."""
    r = measure(cmd, port, args.duration, args.connections, close)
    if r["died"] is not None:
        r["errors"] += " (the server died during the run)"
    return r


def require(tools, packages):
    """Exit with an apt-get hint (install packages) if one of tools is not
    on PATH."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit("%s not found: apt-get install %s"
                             % (tool, packages))


def version(cmd):
    """What cmd (e.g. ["uwsgi", "--version"]) prints, stripped."""
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()


def print_notes(results):
    """Print the lines under a table row: each server's wrk errors (if
    any), then its p99 latency. results: (name, result) pairs in order."""
    for name, r in results:
        if r["errors"].strip():
            print("    %s: %s" % (name, r["errors"].strip()))
    print("    p99 latency: %s" % ", ".join(
        "%s %s" % (name, r["p99"]) for name, r in results))
