/*
 * epoll: the I/O engine on Linux epoll(7).
 *
 * Level-triggered readiness, as struct wf_io_ops asks: no EPOLLET, no
 * EPOLLONESHOT. The core passes the old interest with the new one, so the
 * engine keeps no table: set() picks ADD, MOD or DEL from the two masks, and
 * the interest rides in epoll_event.data next to the fd, so that wait() can
 * turn a hang-up or an error into readiness for exactly what the fd was
 * waited for (the core's read or write then meets the error itself).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <weft/plugin.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define EPOLL_DEFAULT_MAX_EVENTS 256

static long epoll_max_events;

struct epoll_state {
    int epfd;
    unsigned max_fds;
    int nevents;                /* size of events[] */
    struct epoll_event *events;
};

static int
epoll_probe(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

static void *
epoll_open(unsigned max_fds, struct wf_err *err)
{
    struct epoll_state *st;

    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        wf_err_set(err, "epoll: out of memory");
        return NULL;
    }
    st->max_fds = max_fds;
    /* 0 when the option table was never applied (a test that only loads
     * the plugin). */
    st->nevents = epoll_max_events > 0 ? (int)epoll_max_events
                                       : EPOLL_DEFAULT_MAX_EVENTS;
    st->events = calloc((size_t)st->nevents, sizeof(*st->events));
    if (st->events == NULL) {
        wf_err_set(err, "epoll: out of memory for %d events", st->nevents);
        goto fail_events;
    }
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        wf_err_set(err, "epoll_create1() failed: %s; raise the open files "
                   "limit (ulimit -n) or pick another --io-engine",
                   strerror(errno));
        goto fail_epfd;
    }
    return st;

fail_epfd:
    free(st->events);
fail_events:
    free(st);
    return NULL;
}

static int
epoll_set(void *vst, int fd, unsigned old_ev, unsigned new_ev)
{
    struct epoll_state *st = vst;
    struct epoll_event ev = { 0 };
    int op;

    old_ev &= WF_IO_READ | WF_IO_WRITE;
    new_ev &= WF_IO_READ | WF_IO_WRITE;
    if (fd < 0 || (unsigned)fd >= st->max_fds) {
        return -EINVAL;
    }
    if (old_ev == new_ev) {
        return 0;
    }
    if (old_ev == 0) {
        op = EPOLL_CTL_ADD;
    } else if (new_ev == 0) {
        op = EPOLL_CTL_DEL;
    } else {
        op = EPOLL_CTL_MOD;
    }
    if (new_ev & WF_IO_READ) {
        ev.events |= EPOLLIN;
    }
    if (new_ev & WF_IO_WRITE) {
        ev.events |= EPOLLOUT;
    }
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)new_ev << 32;
    if (epoll_ctl(st->epfd, op, fd, &ev) < 0) {
        int e = errno;

        /* A closed fd has already left the epoll set (closing the last
         * reference removes it): removing it again is not an error. */
        if (op == EPOLL_CTL_DEL && e == EBADF) {
            return 0;
        }
        wf_log_errno("epoll_ctl(%s, fd %d)",
                     op == EPOLL_CTL_ADD ? "ADD"
                     : op == EPOLL_CTL_DEL ? "DEL" : "MOD", fd);
        return -e;
    }
    return 0;
}

static int
epoll_wait_ready(void *vst, struct wf_io_event *out, int max, long timeout_ms)
{
    struct epoll_state *st = vst;
    int n, i, tmo;

    if (max <= 0) {
        return -EINVAL;
    }
    if (max > st->nevents) {
        max = st->nevents;
    }
    tmo = timeout_ms < 0 ? -1 : timeout_ms > INT_MAX ? INT_MAX
                                                      : (int)timeout_ms;
    n = epoll_wait(st->epfd, st->events, max, tmo);
    if (n < 0) {
        int e = errno;

        if (e != EINTR) {
            wf_log_errno("epoll_wait(epfd %d, max %d)", st->epfd, max);
        }
        return -e;
    }
    for (i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        uint64_t d = st->events[i].data.u64;
        unsigned interest = (unsigned)(d >> 32);
        unsigned r = 0;

        if (e & EPOLLIN) {
            r |= WF_IO_READ;
        }
        if (e & EPOLLOUT) {
            r |= WF_IO_WRITE;
        }
        if (e & (EPOLLHUP | EPOLLERR)) {
            r |= WF_IO_ERROR | interest;
        }
        out[i].fd = (int)(uint32_t)d;
        out[i].events = r;
    }
    return n;
}

static void
epoll_close(void *vst)
{
    struct epoll_state *st = vst;

    if (st == NULL) {
        return;
    }
    close(st->epfd);
    free(st->events);
    free(st);
}

static const struct wf_io_ops epoll_ops = {
    .pref  = 300,
    .probe = epoll_probe,
    .open  = epoll_open,
    .set   = epoll_set,
    .wait  = epoll_wait_ready,
    .close = epoll_close,
};

static const struct wf_option epoll_options[] = {
    { "epoll-max-events", WF_OPT_INT, &epoll_max_events, "256", 1, 65536, 0,
      "events fetched per epoll_wait() call", 0, NULL, "N" },
    { NULL }
};

WF_PLUGIN(epoll,
          .version = PACKAGE_VERSION,
          .kind    = WF_KIND_IO,
          .ops     = &epoll_ops,
          .options = epoll_options,
          .needs   = "Linux",
          .summary = "I/O engine: Linux epoll, level-triggered");
