"""Perl interpreter state under --coroae while requests interleave
(tests/apps/depth.psgi): each request recurses, waits at every level (the
others run on the same interpreter meanwhile), dies inside nested evals
after waits, and checks after every wait its `my` variables, $_, $/, $@,
@_, $SIG{__DIE__}, $SIG{__WARN__} and its call depth. The expected body of
each request is computed by running depth.psgi with plain perl, one
request at a time, with stand-in uwsgi:: functions that do not wait. What
Coro does not keep per coroutine (`local` on other package variables) is
in docs/loops/coroae.md. Skipped (77) when the coroae plugin is not
built."""

import os
import subprocess

import weftest
from weftest import Server, parallel, request

DEPTH = os.path.join(weftest.APPS, "depth.psgi")

REF = r"""
package uwsgi; sub async_sleep {} sub suspend {}
package main;
my $app = do $ARGV[0] or die "load: $@ $!";
for my $q (@ARGV[1 .. $#ARGV]) {
    my $res = $app->({QUERY_STRING => $q});
    print $res->[2][0], "\n";
}
"""


def reference(queries):
    """depth.psgi's bodies under plain perl, one request after the other."""
    p = subprocess.run(["perl", "-e", REF, DEPTH] + list(queries),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert len(out) == len(queries) and all("BAD" not in b for b in out), \
        out
    return dict(zip(queries, out))


def queries(n=10):
    return ["id=%d&d=%d" % (i, 1 + i % 9) for i in range(n)]


def test_state_is_per_request_over_many_interleaved_rounds():
    weftest.require("psgi", "coroae")
    qs = queries()
    want = reference(qs)
    with Server("--psgi", DEPTH, "--coroae", "10") as srv:
        for rnd in range(60):
            out, _ = parallel(lambda i: request(srv.port, "GET", "/?" + qs[i]),
                              len(qs))
            for q, r in zip(qs, out):
                assert r.status == 200 and r.body.decode() == want[q], \
                    (rnd, q, r.body, want[q])
        # they did interleave: several requests were inside the app at once
        r = request(srv.port, "GET", "/max")
        assert int(r.body.split()[1]) >= 2, r
        srv.check_log()


def test_a_die_at_depth_while_others_wait():
    weftest.require("psgi", "coroae")
    qs = queries(8)
    want = reference(qs)
    with Server("--psgi", DEPTH, "--coroae", "10") as srv:
        for rnd in range(5):
            out, _ = parallel(
                lambda i: request(srv.port, "GET", "/?" + qs[i] +
                                  ("&die=1" if i % 3 == 0 else "")), len(qs))
            for i, (q, r) in enumerate(zip(qs, out)):
                if i % 3 == 0:
                    assert r.status == 500, (q, r)
                else:
                    assert r.status == 200 and r.body.decode() == want[q], \
                        (rnd, q, r.body, want[q])
        srv.expect_log("deep die 3")
        # the worker goes on, with clean state
        r = request(srv.port, "GET", "/?" + qs[5])
        assert r.body.decode() == want[qs[5]], r


def test_same_answers_in_the_sync_and_async_modes():
    weftest.require("psgi")
    qs = queries(4)
    want = reference(qs)
    for args in ((), ("--async", "4")):
        with Server("--psgi", DEPTH, *args) as srv:
            out, _ = parallel(lambda i: request(srv.port, "GET", "/?" + qs[i]),
                              len(qs))
            for q, r in zip(qs, out):
                assert r.body.decode() == want[q], (args, q, r.body)


weftest.main()
