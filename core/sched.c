/*
 * Scheduling: io interest, the run queue, the waits of a core (fds and its
 * timer) and suspend. With a suspend engine a core waits on its own
 * context; under a loop engine the waits go to it; without either a wait
 * blocks the worker (poll).
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

/* ------------------------------------------------------------ io set */

/* Set fd's interest to ev, telling the engine only when it changes.
 * Returns 0 or -errno (logged). Loop or core context. */
int
wf__io_set(int fd, unsigned ev)
{
    struct wf__fdent *e = &wf__w.fdtab[fd];
    int r;

    if (e->interest == ev) {
        return 0;
    }
    r = wf__w.io->set(wf__w.io_st, fd, e->interest, ev);
    if (r < 0) {
        errno = -r;
        wf_log_errno("%s set(fd %d, %#x -> %#x)", wf__io_plugin->name, fd,
                     e->interest, ev);
        return r;
    }
    e->interest = ev;
    return 0;
}

/* -------------------------------------------------------- run queue */

/* See internal.h. Appends c unless it is queued already. */
void
wf__runq_push(struct wf__core *c)
{
    if (c->state == WF_CS_QUEUED) {
        return;
    }
    c->state = WF_CS_QUEUED;
    c->rq_next = NULL;
    if (wf__w.rq_tail) {
        wf__w.rq_tail->rq_next = c;
    } else {
        wf__w.rq_head = c;
    }
    wf__w.rq_tail = c;
}

/* ------------------------------------------------------------- waits */

/* See internal.h: forget every wait of c (fds and timer). */
void
wf__core_wake_clear(struct wf__core *c)
{
    unsigned i;

    for (i = 0; i < c->nwaits; i++) {
        int fd = c->waits[i].fd;

        if (wf__loop_ops == NULL) {
            wf__io_set(fd, 0);
        }
        wf__w.fdtab[fd].core = NULL;
    }
    c->nwaits = 0;
    wf__timer_clear(&c->timer);
}

WF_API int
wf_wait_fd(struct wf_core *pub, int fd, unsigned events)
{
    struct wf__core *c = wf__core(pub);
    struct wf__fdent *e;
    unsigned i;

    if (c->cancelled) {
        return -ECANCELED;
    }
    if (events == 0 || (events & ~(WF_IO_READ | WF_IO_WRITE)) != 0) {
        return -EINVAL;
    }
    if (fd < 0 || (unsigned)fd >= wf__w.max_fds || fcntl(fd, F_GETFD) < 0) {
        return -EBADF;
    }
    e = &wf__w.fdtab[fd];
    if (e->lsn != NULL || (e->core != NULL && e->core != c) ||
        (e->conn != NULL && e->conn != c->conn) ||
        fd == wf__w.sigpipe[0]) {
        return -EEXIST;
    }
    for (i = 0; i < c->nwaits; i++) {
        if (c->waits[i].fd == fd) {
            c->waits[i].events |= events;
            return wf__loop_ops ? 0 : wf__io_set(fd, c->waits[i].events);
        }
    }
    if (c->nwaits == c->wcap) {
        unsigned ncap = c->wcap ? c->wcap * 2 : 4;
        struct wf__wait *nw = realloc(c->waits, ncap * sizeof(*nw));

        if (nw == NULL) {
            return -ENOMEM;
        }
        c->waits = nw;
        c->wcap = ncap;
    }
    c->waits[c->nwaits].fd = fd;
    c->waits[c->nwaits].events = events;
    c->nwaits++;
    e->core = c;
    return wf__loop_ops ? 0 : wf__io_set(fd, events);
}

WF_API void
wf_wait_timer(struct wf_core *pub, long ms)
{
    struct wf__core *c = wf__core(pub);

    if (ms > 0 && c->timer.heap_idx < 0) {
        wf__timer_set(&c->timer, wf__now_ms() + ms);
    }
}

WF_API int
wf_ready_fd(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->ready_fd;
}

WF_API int
wf_timed_out(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->timed_out;
}

WF_API void
wf_clear_ready(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);

    c->ready_fd = -1;
    c->timed_out = 0;
}

/* True when c runs on its own context and may switch away. */
static int
can_switch(struct wf__core *c)
{
    return wf__loop_ops != NULL ||
           (wf__sus_ops != NULL && wf__w.current == c);
}

/* A loop engine runs the worker: c's registered waits (or none: a turn for
 * the others) go to it. */
static int
loop_suspend(struct wf__core *c)
{
    struct wf_io_event fds[16];
    int n = 0, r, ready = -1;
    long timeout = -1;
    unsigned i;

    if (c->nwaits == 0 && c->timer.heap_idx < 0) {
        return wf__loop_ops->yield(&c->pub);
    }
    for (i = 0; i < c->nwaits && n < 16; i++) {
        fds[n].fd = c->waits[i].fd;
        fds[n++].events = c->waits[i].events;
    }
    if (c->timer.heap_idx >= 0) {
        int64_t d = c->timer.deadline - wf__now_ms();

        timeout = d > 0 ? (long)d : 0;
    }
    wf__core_wake_clear(c);
    r = wf__loop_ops->wait(&c->pub, fds, n, timeout, &ready);
    if (r < 0) {
        return r;
    }
    c->ready_fd = r > 0 ? ready : -1;
    c->timed_out = r == 0;
    return 0;
}

WF_API int
wf_suspend(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);

    if (c->cancelled) {
        return -ECANCELED;
    }
    if (!can_switch(c)) {
        return 0;
    }
    wf__resp_flush(c);
    c->switches++;
    c->t_suspended = wf__now_ms();
    if (wf__loop_ops != NULL) {
        int r = loop_suspend(c);

        return c->cancelled ? -ECANCELED : r;
    }
    if (c->nwaits == 0 && c->timer.heap_idx < 0) {
        wf__runq_push(c);
    } else {
        c->state = WF_CS_WAITING;
    }
    wf__sus_ops->suspend(pub);
    c->state = WF_CS_RUNNING;
    return c->cancelled ? -ECANCELED : 0;
}

static int
poll_fd(int fd, unsigned events, long timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = 0 };
    int r;

    if (events & WF_IO_READ) {
        p.events |= POLLIN;
    }
    if (events & WF_IO_WRITE) {
        p.events |= POLLOUT;
    }
    do {
        r = poll(&p, 1, timeout_ms < 0 ? -1 : (int)timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -errno;
    }
    return r > 0 ? 1 : 0;
}

WF_API int
wf_wait_io(struct wf_core *pub, int fd, unsigned events, long timeout_ms)
{
    struct wf__core *c = wf__core(pub);
    int r;

    if (c->cancelled) {
        return -ECANCELED;
    }
    if (!can_switch(c)) {
        return poll_fd(fd, events, timeout_ms);
    }
    if (wf__loop_ops != NULL) {
        struct wf_io_event ev = { fd, events };
        int ready = -1;

        c->switches++;
        r = wf__loop_ops->wait(pub, &ev, 1, timeout_ms, &ready);
        return c->cancelled ? -ECANCELED : r;
    }
    r = wf_wait_fd(pub, fd, events);
    if (r < 0) {
        return r;
    }
    if (timeout_ms >= 0) {
        int64_t d = wf__now_ms() + timeout_ms;

        if (c->timer.heap_idx < 0 || c->timer.deadline > d) {
            wf__timer_set(&c->timer, d);
        }
    }
    r = wf_suspend(pub);
    if (r < 0) {
        return r;
    }
    if (c->timed_out && c->ready_fd != fd) {
        return 0;
    }
    return 1;
}

WF_API int
wf_sleep(struct wf_core *pub, long ms)
{
    struct wf__core *c = wf__core(pub);

    if (c->cancelled) {
        return -ECANCELED;
    }
    if (!can_switch(c)) {
        poll(NULL, 0, ms < 0 ? 0 : (int)ms);
        return 0;
    }
    if (wf__loop_ops != NULL) {
        int ready;

        c->switches++;
        ms = wf__loop_ops->wait(pub, NULL, 0, ms < 0 ? 0 : ms, &ready);
        return c->cancelled ? -ECANCELED : (int)(ms < 0 ? ms : 0);
    }
    wf__core_wake_clear(c);
    wf__timer_set(&c->timer, wf__now_ms() + (ms < 0 ? 0 : ms));
    return wf_suspend(pub);
}

int
wf__core_waits_on(const struct wf__core *c, int fd)
{
    unsigned i;

    for (i = 0; i < c->nwaits; i++) {
        if (c->waits[i].fd == fd) {
            return 1;
        }
    }
    return 0;
}

void
wf__core_wake(struct wf__core *c, int fd)
{
    wf__core_wake_clear(c);
    c->ready_fd = fd;
    c->timed_out = 0;
    wf__runq_push(c);
}
