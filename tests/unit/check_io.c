/*
 * check_io: one contract suite, run on every I/O engine that was built
 * (TCases "io/epoll", "io/libevent"), each loaded through the real loader
 * from the build tree's plugins/ folder. The contract is struct wf_io_ops in
 * include/weft/ops.h: level-triggered readiness, interest given as old and
 * new masks, at most `max` events per wait, ERROR on hang-up together with
 * the readiness the fd was waited for.
 *
 * Every test uses AF_UNIX stream socketpairs: a is the end under test, b
 * is its peer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "registry.h"

#define WF_CHECK_PLUGINS
#include "check_util.h"

#define MAX_FDS 8192

/* The engine under test, set by the TCase's fixture. */
static const char *io_name;
static const struct wf_io_ops *io;
static void *st;

static void
io_setup(void)
{
    struct wf_err err = { { 0 } };
    const struct wf_plugin *p;
    struct rlimit rl;

    /* The many_fds test needs 2000 descriptors. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    p = wf_check_plugin_load(io_name, &err);
    ck_assert_msg(p != NULL, "loading %s: %s", io_name, err.msg);
    ck_assert_int_eq(p->kind, WF_KIND_IO);
    io = p->ops;
    ck_assert_int_eq(io->probe(), 0);
    st = io->open(MAX_FDS, &err);
    ck_assert_msg(st != NULL, "%s open: %s", io_name, err.msg);
}

static void
io_teardown(void)
{
    if (io != NULL && st != NULL) {
        io->close(st);
    }
    st = NULL;
}

static void
setup_epoll(void)
{
    io_name = "epoll";
    io_setup();
}

static void
setup_libevent(void)
{
    io_name = "libevent";
    io_setup();
}

/* A non-blocking socketpair; fails the test when none can be made. */
static void
pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
                                | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_lt(sv[0], MAX_FDS);
    ck_assert_int_lt(sv[1], MAX_FDS);
}

static void
put(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

static void
drain(int fd)
{
    char buf[256];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* wait() and check its result: no fd twice, no unknown bits. */
static int
wait_ev(struct wf_io_event *ev, int max, long timeout_ms)
{
    int n = io->wait(st, ev, max, timeout_ms), i, j;

    ck_assert_msg(n >= 0 && n <= max, "%s wait returned %d (max %d)",
                  io_name, n, max);
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].events & ~(WF_IO_READ | WF_IO_WRITE
                                           | WF_IO_ERROR), 0);
        ck_assert_uint_ne(ev[i].events, 0);
        for (j = 0; j < i; j++) {
            ck_assert_int_ne(ev[i].fd, ev[j].fd);
        }
    }
    return n;
}

/* ------------------------------------------------------------ readiness */

START_TEST(read_ready_only_after_peer_writes)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 0), 0);
    put(sv[1]);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert_uint_eq(ev[0].events, WF_IO_READ);
}
END_TEST

START_TEST(zero_timeout_reports_ready_fds_and_returns)
{
    struct wf_io_event ev[4];
    int sv[2], i;

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    put(sv[1]);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(wait_ev(ev, 4, 0), 1);
        ck_assert_int_eq(ev[0].fd, sv[0]);
        ck_assert_uint_eq(ev[0].events, WF_IO_READ);
    }
}
END_TEST

START_TEST(write_ready_on_empty_socket)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_WRITE), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert_uint_eq(ev[0].events, WF_IO_WRITE);
}
END_TEST

START_TEST(write_not_ready_when_socket_full)
{
    struct wf_io_event ev[4];
    char buf[4096];
    int sv[2];

    pair(sv);
    memset(buf, 'x', sizeof(buf));
    while (write(sv[0], buf, sizeof(buf)) > 0) {
    }
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_WRITE), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 50), 0);
    drain(sv[1]);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_uint_eq(ev[0].events, WF_IO_WRITE);
}
END_TEST

START_TEST(level_triggered_until_drained)
{
    struct wf_io_event ev[4];
    int sv[2], i;

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    put(sv[1]);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
        ck_assert_int_eq(ev[0].fd, sv[0]);
        ck_assert_uint_eq(ev[0].events, WF_IO_READ);
    }
    drain(sv[0]);
    ck_assert_int_eq(wait_ev(ev, 4, 0), 0);
}
END_TEST

START_TEST(interest_removal_stops_reports)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    put(sv[1]);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_READ, 0), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 50), 0);
    /* and it can come back */
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
}
END_TEST

START_TEST(mod_read_to_write_reports_only_write)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 0), 0);
    put(sv[1]);     /* readable too: must not show while READ is off */
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_READ, WF_IO_WRITE), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert_uint_eq(ev[0].events, WF_IO_WRITE);
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_WRITE,
                             WF_IO_READ | WF_IO_WRITE), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_uint_eq(ev[0].events, WF_IO_READ | WF_IO_WRITE);
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_READ | WF_IO_WRITE,
                             WF_IO_READ), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_uint_eq(ev[0].events, WF_IO_READ);
}
END_TEST

START_TEST(timeout_is_honoured)
{
    struct wf_io_event ev[4];
    long t0, dt;
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    t0 = now_ms();
    ck_assert_int_eq(wait_ev(ev, 4, 200), 0);
    dt = now_ms() - t0;
    ck_assert_msg(dt >= 190 && dt < 2000, "wait(200 ms) took %ld ms", dt);
    t0 = now_ms();
    ck_assert_int_eq(wait_ev(ev, 4, 0), 0);
    dt = now_ms() - t0;
    ck_assert_msg(dt < 100, "wait(0) took %ld ms", dt);
}
END_TEST

START_TEST(wait_forever_returns_when_an_fd_becomes_ready)
{
    struct wf_io_event ev[4];
    long t0, dt;
    int sv[2], status;
    pid_t pid;

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        usleep(150 * 1000);
        _exit(write(sv[1], "x", 1) == 1 ? 0 : 1);
    }
    t0 = now_ms();
    ck_assert_int_eq(wait_ev(ev, 4, -1), 1);
    dt = now_ms() - t0;
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert_msg(dt >= 100, "wait(-1) returned after %ld ms", dt);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

START_TEST(timeout_with_no_fd_at_all)
{
    struct wf_io_event ev[4];
    long t0 = now_ms(), dt;

    ck_assert_int_eq(wait_ev(ev, 4, 100), 0);
    dt = now_ms() - t0;
    ck_assert_msg(dt >= 90 && dt < 2000, "wait(100 ms) took %ld ms", dt);
}
END_TEST

START_TEST(many_fds_all_reported_with_small_max)
{
    enum { N = 1000 };
    static int sv[N][2];
    static unsigned char seen[MAX_FDS];
    struct wf_io_event ev[16];
    int i, n, got = 0, rounds = 0;

    for (i = 0; i < N; i++) {
        pair(sv[i]);
        ck_assert_int_eq(io->set(st, sv[i][0], 0, WF_IO_READ), 0);
        put(sv[i][1]);
    }
    while (got < N && rounds++ < 10 * N) {
        n = wait_ev(ev, 16, 1000);
        ck_assert_int_gt(n, 0);
        for (i = 0; i < n; i++) {
            ck_assert_uint_eq(ev[i].events, WF_IO_READ);
            ck_assert_msg(!seen[ev[i].fd], "fd %d reported after drained",
                          ev[i].fd);
            seen[ev[i].fd] = 1;
            drain(ev[i].fd);
            got++;
        }
    }
    ck_assert_int_eq(got, N);
    for (i = 0; i < N; i++) {
        ck_assert(seen[sv[i][0]]);
    }
    ck_assert_int_eq(wait_ev(ev, 16, 0), 0);
}
END_TEST

/* Two pairs, a[0] and b[0] watched for READ and both readable. */
static void
two_readable(int a[2], int b[2])
{
    pair(a);
    pair(b);
    ck_assert_int_eq(io->set(st, a[0], 0, WF_IO_READ), 0);
    ck_assert_int_eq(io->set(st, b[0], 0, WF_IO_READ), 0);
    put(a[1]);
    put(b[1]);
}

START_TEST(removed_while_ready_not_reported)
{
    struct wf_io_event ev[4];
    int a[2], b[2];

    two_readable(a, b);
    /* Both are ready; take one, then remove the other before the next
     * wait (an engine that queued it must drop it). */
    ck_assert_int_eq(wait_ev(ev, 1, 1000), 1);
    if (ev[0].fd == a[0]) {
        ck_assert_int_eq(io->set(st, b[0], WF_IO_READ, 0), 0);
    } else {
        ck_assert_int_eq(ev[0].fd, b[0]);
        ck_assert_int_eq(io->set(st, a[0], WF_IO_READ, 0), 0);
    }
    ck_assert_int_eq(io->set(st, ev[0].fd, WF_IO_READ, 0), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 50), 0);
}
END_TEST

START_TEST(removed_then_readded_reports_current_state)
{
    struct wf_io_event ev[4];
    int a[2], b[2];

    two_readable(a, b);
    ck_assert_int_eq(wait_ev(ev, 1, 1000), 1);
    /* the other one: drained while out of the set, then back */
    {
        int other = ev[0].fd == a[0] ? b[0] : a[0];

        ck_assert_int_eq(io->set(st, other, WF_IO_READ, 0), 0);
        drain(other);
        ck_assert_int_eq(io->set(st, other, 0, WF_IO_READ), 0);
        drain(ev[0].fd);
        ck_assert_int_eq(wait_ev(ev, 4, 50), 0);
    }
}
END_TEST

START_TEST(closed_peer_gives_read_and_eof)
{
    struct wf_io_event ev[4];
    char c;
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    close(sv[1]);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert(ev[0].events & WF_IO_READ);
    ck_assert_uint_eq(ev[0].events & WF_IO_WRITE, 0);
    ck_assert_int_eq(read(sv[0], &c, 1), 0);
    /* Linux reports a hang-up for an AF_UNIX peer that is gone: both
     * engines must say ERROR for it. */
    ck_assert_uint_eq(ev[0].events, WF_IO_READ | WF_IO_ERROR);
}
END_TEST

START_TEST(closed_peer_gives_write_and_error_for_writer)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_WRITE), 0);
    close(sv[1]);
    ck_assert_int_eq(wait_ev(ev, 4, 1000), 1);
    ck_assert_int_eq(ev[0].fd, sv[0]);
    ck_assert_uint_eq(ev[0].events, WF_IO_WRITE | WF_IO_ERROR);
    ck_assert_int_eq(send(sv[0], "x", 1, MSG_NOSIGNAL), -1);
    ck_assert_int_eq(errno, EPIPE);
}
END_TEST

START_TEST(max_one_is_fair_to_every_ready_fd)
{
    enum { N = 50 };
    int sv[N][2], i, k, n, got = 0;
    static unsigned char seen[MAX_FDS];
    struct wf_io_event ev[1];

    for (i = 0; i < N; i++) {
        pair(sv[i]);
        ck_assert_int_eq(io->set(st, sv[i][0], 0, WF_IO_READ), 0);
        put(sv[i][1]);     /* never drained: ready for ever */
    }
    /* N waits would be perfect; allow some slack, not starvation. */
    for (k = 0; k < 3 * N && got < N; k++) {
        n = wait_ev(ev, 1, 1000);
        ck_assert_int_eq(n, 1);
        ck_assert_uint_eq(ev[0].events, WF_IO_READ);
        if (!seen[ev[0].fd]) {
            seen[ev[0].fd] = 1;
            got++;
        }
    }
    ck_assert_msg(got == N, "%d of %d ready fds reported in %d waits", got,
                  N, k);
}
END_TEST

/* ------------------------------------------------------------ bad input */

START_TEST(set_rejects_fd_out_of_range)
{
    ck_assert_int_eq(io->set(st, -1, 0, WF_IO_READ), -EINVAL);
    ck_assert_int_eq(io->set(st, MAX_FDS, 0, WF_IO_READ), -EINVAL);
}
END_TEST

START_TEST(set_add_twice_is_eexist)
{
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_WRITE), -EEXIST);
}
END_TEST

START_TEST(set_add_closed_fd_is_ebadf)
{
    int sv[2];

    pair(sv);
    close(sv[0]);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), -EBADF);
}
END_TEST

START_TEST(set_mod_unknown_fd_is_enoent)
{
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_READ, WF_IO_WRITE), -ENOENT);
}
END_TEST

START_TEST(remove_after_close_is_not_an_error)
{
    struct wf_io_event ev[4];
    int sv[2];

    pair(sv);
    ck_assert_int_eq(io->set(st, sv[0], 0, WF_IO_READ), 0);
    close(sv[0]);
    ck_assert_int_eq(io->set(st, sv[0], WF_IO_READ, 0), 0);
    ck_assert_int_eq(wait_ev(ev, 4, 0), 0);
}
END_TEST

START_TEST(wait_rejects_max_zero)
{
    struct wf_io_event ev[1];

    ck_assert_int_eq(io->wait(st, ev, 0, 0), -EINVAL);
}
END_TEST

/* --------------------------------------------------------------- suite */

static TCase *
io_tcase(const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, io_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, read_ready_only_after_peer_writes);
    tcase_add_test(tc, zero_timeout_reports_ready_fds_and_returns);
    tcase_add_test(tc, write_ready_on_empty_socket);
    tcase_add_test(tc, write_not_ready_when_socket_full);
    tcase_add_test(tc, level_triggered_until_drained);
    tcase_add_test(tc, interest_removal_stops_reports);
    tcase_add_test(tc, mod_read_to_write_reports_only_write);
    tcase_add_test(tc, timeout_is_honoured);
    tcase_add_test(tc, timeout_with_no_fd_at_all);
    tcase_add_test(tc, wait_forever_returns_when_an_fd_becomes_ready);
    tcase_add_test(tc, many_fds_all_reported_with_small_max);
    tcase_add_test(tc, removed_while_ready_not_reported);
    tcase_add_test(tc, removed_then_readded_reports_current_state);
    tcase_add_test(tc, closed_peer_gives_read_and_eof);
    tcase_add_test(tc, closed_peer_gives_write_and_error_for_writer);
    tcase_add_test(tc, max_one_is_fair_to_every_ready_fd);
    tcase_add_test(tc, set_rejects_fd_out_of_range);
    tcase_add_test(tc, set_add_twice_is_eexist);
    tcase_add_test(tc, set_add_closed_fd_is_ebadf);
    tcase_add_test(tc, set_mod_unknown_fd_is_enoent);
    tcase_add_test(tc, remove_after_close_is_not_an_error);
    tcase_add_test(tc, wait_rejects_max_zero);
    return tc;
}

int
main(void)
{
    static const struct wf_check_engine engines[] = {
        { "epoll", "io/epoll", setup_epoll },
        { "libevent", "io/libevent", setup_libevent },
    };

    return wf_check_engines_main("io", engines, NELEM(engines), io_tcase,
                                 "check_io: no I/O engine built: skipped");
}
