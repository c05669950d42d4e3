/*
 * libevent: the I/O engine on libevent 2.1.
 *
 * The same readiness as the epoll engine, so that the core cannot tell them
 * apart: level-triggered, ERROR on hang-up or error together with READ
 * and/or WRITE for what the fd was waited for, at most `max` fds per wait.
 *
 * One persistent `struct event` per fd (EV_READ and/or EV_WRITE with
 * EV_PERSIST, never EV_ET), kept in a table indexed by fd and allocated the
 * first time an fd is set. wait() runs one pass of the event loop
 * (EVLOOP_ONCE, with EVLOOP_NONBLOCK for a zero timeout, and a timer
 * event for the timeout); the callbacks only collect the ready fds. When more than
 * `max` are ready, the rest stay queued and the next wait() hands them out
 * first without asking the kernel: otherwise the fds that libevent fetched
 * but we could not return would go to the back of the kernel's ready list
 * and could starve.
 *
 * libevent's backends turn a hang-up or an error into EV_READ|EV_WRITE and
 * keep no trace of it. To report WF_IO_ERROR as epoll does, the callback
 * asks poll(2) with no events (it then reports only POLLHUP, POLLERR and
 * POLLNVAL). A system call per ready fd made this engine 0.7x epoll on a
 * keep-alive hello, so where the backend can say that the peer closed
 * (EV_FEATURE_EARLY_CLOSE: epoll's EPOLLRDHUP) every event also asks for
 * EV_CLOSED, and poll(2) runs only when EV_CLOSED comes: plain data ready
 * costs no extra call. The price: an error that the kernel reports
 * without a hang-up (EPOLLERR alone; a reset comes with EPOLLRDHUP too on
 * Linux) is reported as READ/WRITE, and the read or write that follows
 * gets the error, which is what the core acts on anyway.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <weft/plugin.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* wait(-1) is a loop of passes this long: libevent returns at once when it
 * has no event at all, where epoll_wait() would block. */
#define LEV_FOREVER_SLICE_S 3600

struct lev_fd {
    struct event *ev;       /* allocated on first use, reused */
    unsigned interest;      /* WF_IO_READ|WF_IO_WRITE registered now */
    unsigned gen;           /* bumped at every set(): stales queued entries */
    unsigned round;         /* the pass that queued it last */
    unsigned slot;          /* its index in ready[] for that pass */
};

struct lev_ready {
    int fd;
    unsigned events;
    unsigned gen;
};

struct lev_state {
    struct event_base *base;
    struct event *timer;
    unsigned max_fds;
    struct lev_fd *fds;         /* max_fds entries */
    struct lev_ready *ready;    /* max_fds entries: one per fd per pass */
    unsigned head, tail;        /* queued entries: ready[head..tail) */
    unsigned round;
    short closed;               /* EV_CLOSED when the backend has it, or 0 */
};

static int
lev_probe(void)
{
    struct event_base *b = event_base_new();

    if (b == NULL) {
        return -1;
    }
    event_base_free(b);
    return 0;
}

static void
lev_log_cb(int severity, const char *msg)
{
    int saved = errno;      /* set() reads errno after a failed event_add */

    wf_log(severity >= EVENT_LOG_ERR ? WF_LOG_ERROR
           : severity == EVENT_LOG_WARN ? WF_LOG_WARN : WF_LOG_DEBUG,
           "libevent: %s", msg);
    errno = saved;
}

static void
lev_fatal_cb(int err)
{
    WF_BUG("libevent: fatal error %d", err);
}

/* Collect one ready fd (callback of every fd's event). */
static void
lev_fd_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lev_state *st = arg;
    struct lev_fd *f = &st->fds[fd];
    struct pollfd p = { .fd = fd, .events = 0 };
    unsigned r = 0;
    int saved = errno;      /* wait() looks for EINTR in it */

    if (what & EV_READ) {
        r |= WF_IO_READ;
    }
    if (what & EV_WRITE) {
        r |= WF_IO_WRITE;
    }
    if ((st->closed == 0 || (what & EV_CLOSED)) &&
        poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
        r |= WF_IO_ERROR | f->interest;
    }
    errno = saved;
    if (f->round == st->round && f->slot < st->tail
        && st->ready[f->slot].fd == fd) {
        st->ready[f->slot].events |= r;
        return;
    }
    if (st->tail >= st->max_fds) {
        WF_BUG("libevent: more ready fds than max_fds %u", st->max_fds);
    }
    f->round = st->round;
    f->slot = st->tail;
    st->ready[st->tail].fd = (int)fd;
    st->ready[st->tail].events = r;
    st->ready[st->tail].gen = f->gen;
    st->tail++;
}

static void
lev_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    /* Being active is enough: it ends the EVLOOP_ONCE pass. */
}

static void *
lev_open(unsigned max_fds, struct wf_err *err)
{
    struct lev_state *st;
    struct event_config *cfg;

    event_set_log_callback(lev_log_cb);
    event_set_fatal_callback(lev_fatal_cb);
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        wf_err_set(err, "libevent: out of memory");
        return NULL;
    }
    st->max_fds = max_fds;
    st->fds = calloc(max_fds ? max_fds : 1, sizeof(*st->fds));
    st->ready = calloc(max_fds ? max_fds : 1, sizeof(*st->ready));
    if (st->fds == NULL || st->ready == NULL) {
        wf_err_set(err, "libevent: out of memory for %u fds", max_fds);
        goto fail_tables;
    }
    /* One thread per worker: no locks. */
    cfg = event_config_new();
    if (cfg == NULL) {
        wf_err_set(err, "libevent: event_config_new() failed");
        goto fail_tables;
    }
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    st->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (st->base == NULL) {
        wf_err_set(err, "libevent: event_base_new() failed; raise the open "
                   "files limit (ulimit -n) or pick another --io-engine");
        goto fail_tables;
    }
    if (event_base_get_features(st->base) & EV_FEATURE_EARLY_CLOSE) {
        st->closed = EV_CLOSED;
    }
    st->timer = evtimer_new(st->base, lev_timer_cb, st);
    if (st->timer == NULL) {
        wf_err_set(err, "libevent: evtimer_new() failed");
        goto fail_timer;
    }
    return st;

fail_timer:
    event_base_free(st->base);
fail_tables:
    free(st->ready);
    free(st->fds);
    free(st);
    return NULL;
}

static int
lev_set(void *vst, int fd, unsigned old_ev, unsigned new_ev)
{
    struct lev_state *st = vst;
    struct lev_fd *f;
    short what = EV_PERSIST | st->closed;

    old_ev &= WF_IO_READ | WF_IO_WRITE;
    new_ev &= WF_IO_READ | WF_IO_WRITE;
    if (fd < 0 || (unsigned)fd >= st->max_fds) {
        return -EINVAL;
    }
    if (old_ev == new_ev) {
        return 0;
    }
    f = &st->fds[fd];
    /* What epoll_ctl() would say. */
    if (old_ev == 0 && f->interest != 0) {
        return -EEXIST;
    }
    if (old_ev != 0 && f->interest == 0) {
        wf_log(WF_LOG_ERROR, "libevent: set(fd %d): not registered", fd);
        return -ENOENT;
    }
    if (old_ev == 0 && fcntl(fd, F_GETFD) < 0) {
        return -EBADF;
    }
    f->gen++;
    if (f->interest != 0) {
        /* libevent tolerates the fd having been closed already. */
        event_del(f->ev);
        f->interest = 0;
    }
    if (new_ev == 0) {
        return 0;
    }
    if (f->ev == NULL) {
        f->ev = malloc(event_get_struct_event_size());
        if (f->ev == NULL) {
            return -ENOMEM;
        }
    }
    if (new_ev & WF_IO_READ) {
        what |= EV_READ;
    }
    if (new_ev & WF_IO_WRITE) {
        what |= EV_WRITE;
    }
    event_assign(f->ev, st->base, fd, what, lev_fd_cb, st);
    errno = 0;
    if (event_add(f->ev, NULL) < 0) {
        int e = errno ? errno : EIO;

        wf_log(WF_LOG_ERROR, "libevent: event_add(fd %d) failed: %s", fd,
               strerror(e));
        return -e;
    }
    f->interest = new_ev;
    return 0;
}

/* Move up to max queued entries that are still valid into out[]. */
static int
lev_drain(struct lev_state *st, struct wf_io_event *out, int max)
{
    int n = 0;

    while (st->head < st->tail && n < max) {
        struct lev_ready *r = &st->ready[st->head++];
        struct lev_fd *f = &st->fds[r->fd];
        unsigned ev;

        if (f->gen != r->gen || f->interest == 0) {
            continue;       /* removed or changed since it was ready */
        }
        ev = r->events & (f->interest | WF_IO_ERROR);
        if (ev == 0) {
            continue;
        }
        out[n].fd = r->fd;
        out[n].events = ev;
        n++;
    }
    if (st->head == st->tail) {
        st->head = st->tail = 0;
    }
    return n;
}

static int
lev_wait(void *vst, struct wf_io_event *out, int max, long timeout_ms)
{
    struct lev_state *st = vst;
    struct timeval tv;
    int n, r;

    if (max <= 0) {
        return -EINVAL;
    }
    n = lev_drain(st, out, max);
    if (n > 0) {
        return n;
    }
    for (;;) {
        st->round++;
        if (timeout_ms != 0) {
            if (timeout_ms < 0) {
                tv.tv_sec = LEV_FOREVER_SLICE_S;
                tv.tv_usec = 0;
            } else {
                tv.tv_sec = timeout_ms / 1000;
                tv.tv_usec = (timeout_ms % 1000) * 1000;
            }
            evtimer_add(st->timer, &tv);
        }
        errno = 0;
        /* EVLOOP_NONBLOCK alone would go round again while any fd stays
         * ready (level-triggered: for ever); ONCE ends after one batch. */
        r = event_base_loop(st->base, timeout_ms == 0
                            ? EVLOOP_ONCE | EVLOOP_NONBLOCK : EVLOOP_ONCE);
        if (timeout_ms != 0) {
            evtimer_del(st->timer);
        }
        if (r < 0) {
            int e = errno ? errno : EIO;

            wf_log(WF_LOG_ERROR, "libevent: event_base_loop() failed: %s",
                   strerror(e));
            return -e;
        }
        n = lev_drain(st, out, max);
        if (n > 0) {
            return n;
        }
        /* libevent restarts its wait after EINTR; when the pass ends
         * anyway with nothing ready, say that a signal came. */
        if (errno == EINTR) {
            return -EINTR;
        }
        if (timeout_ms >= 0) {
            return 0;
        }
    }
}

static void
lev_close(void *vst)
{
    struct lev_state *st = vst;
    unsigned i;

    if (st == NULL) {
        return;
    }
    for (i = 0; i < st->max_fds; i++) {
        if (st->fds[i].ev != NULL) {
            if (st->fds[i].interest != 0) {
                event_del(st->fds[i].ev);
            }
            free(st->fds[i].ev);
        }
    }
    event_free(st->timer);
    event_base_free(st->base);
    free(st->ready);
    free(st->fds);
    free(st);
}

static const struct wf_io_ops lev_ops = {
    .pref  = 200,
    .probe = lev_probe,
    .open  = lev_open,
    .set   = lev_set,
    .wait  = lev_wait,
    .close = lev_close,
};

WF_PLUGIN(libevent,
          .version = PACKAGE_VERSION,
          .kind    = WF_KIND_IO,
          .ops     = &lev_ops,
          .needs   = "libevent 2.1",
          .summary = "I/O engine: libevent 2.1 (level-triggered, same "
                     "readiness as epoll)");
