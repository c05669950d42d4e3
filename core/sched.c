/*
 * Scheduling: io interest, the run queue, the waits of a core (fds and its
 * timer) and suspend.
 *
 * How a core waits is chosen once, when its loop starts (wf__loop_new
 * picks one of the three strategies at the end of this file), never by a
 * branch in each waiting function:
 *   switch  the core's loop with a suspend engine: a wait registers its
 *           fds and timer with the loop and switches to the loop's stack.
 *   block   the core's loop without one: a core cannot give the worker
 *           away in the middle of a call, so a wait happens in place (the
 *           worker blocks for it, as a sync server would; the start-up
 *           warning says why); only a generator's yield (WF_AGAIN) lets
 *           the loop run the others while its registered waits are armed.
 *   engine  a loop engine runs the worker: every wait goes to its wait()
 *           or yield() (include/weft/ops.h, struct wf_loop_ops).
 */
#include "loop.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

/* ------------------------------------------------------------ io set */

/* Set fd's interest to ev, telling the engine only when it changes.
 * Returns 0 or -errno (logged). Loop or core context of L. */
int
wf__io_set(struct wf__loop *L, int fd, unsigned ev)
{
    struct wf__fdent *e = &L->fdtab[fd];
    int r;

    if (e->interest == ev) {
        return 0;
    }
    r = L->io->set(L->io_st, fd, e->interest, ev);
    if (r < 0) {
        errno = -r;
        wf_log_errno("%s set(fd %d, %#x -> %#x)", wf__io_plugin->name, fd,
                     e->interest, ev);
        return r;
    }
    e->interest = ev;
    return 0;
}

/* A loop engine keeps no interest set of the core's: its wait() watches
 * the fds it is given. */
static int
io_set_none(struct wf__loop *L, int fd, unsigned ev)
{
    return 0;
}

/* -------------------------------------------------------- run queue */

/* See internal.h. Appends c unless it is queued already. */
void
wf__runq_push(struct wf__core *c)
{
    struct wf__loop *L = c->loop;

    if (c->state == WF_CS_QUEUED) {
        return;
    }
    c->state = WF_CS_QUEUED;
    c->rq_next = NULL;
    if (L->rq_tail) {
        L->rq_tail->rq_next = c;
    } else {
        L->rq_head = c;
    }
    L->rq_tail = c;
}

/* ------------------------------------------------------------- waits */

/* See internal.h: forget every wait of c (fds and timer). */
void
wf__core_wake_clear(struct wf__core *c)
{
    struct wf__loop *L = c->loop;
    unsigned i;

    for (i = 0; i < c->nwaits; i++) {
        int fd = c->waits[i].fd;

        L->st->io_set(L, fd, 0);
        L->fdtab[fd].core = NULL;
    }
    c->nwaits = 0;
    wf__timer_clear(L, &c->timer);
}

/* See loop.h. */
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

/* See loop.h. */
void
wf__core_wake(struct wf__core *c, int fd)
{
    wf__core_wake_clear(c);
    c->ready_fd = fd;
    c->timed_out = 0;
    wf__runq_push(c);
}

WF_API int
wf_wait_fd(struct wf_core *pub, int fd, unsigned events)
{
    struct wf__core *c = wf__core(pub);
    struct wf__loop *L = c->loop;
    struct wf__fdent *e;
    unsigned i;

    if (c->cancelled) {
        return -ECANCELED;
    }
    if (events == 0 || (events & ~(WF_IO_READ | WF_IO_WRITE)) != 0) {
        return -EINVAL;
    }
    if (fd < 0 || (unsigned)fd >= L->max_fds || fcntl(fd, F_GETFD) < 0) {
        return -EBADF;
    }
    e = &L->fdtab[fd];
    if (e->lsn != NULL || (e->core != NULL && e->core != c) ||
        (e->conn != NULL && e->conn != c->conn) ||
        fd == L->sigpipe[0]) {
        return -EEXIST;
    }
    for (i = 0; i < c->nwaits; i++) {
        if (c->waits[i].fd == fd) {
            c->waits[i].events |= events;
            return L->st->io_set(L, fd, c->waits[i].events);
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
    return L->st->io_set(L, fd, events);
}

WF_API void
wf_wait_timer(struct wf_core *pub, long ms)
{
    struct wf__core *c = wf__core(pub);

    if (ms > 0 && c->timer.heap_idx < 0) {
        wf__timer_set(c->loop, &c->timer, wf__now_ms() + ms);
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

/* ms until c's timer fires (0: due), or -1 without a timer. */
static long
timer_left(const struct wf__core *c)
{
    int64_t d;

    if (c->timer.heap_idx < 0) {
        return -1;
    }
    d = c->timer.deadline - wf__now_ms();
    return d > 0 ? (long)d : 0;
}

WF_API int
wf_suspend(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);
    int r;

    if (c->cancelled) {
        return -ECANCELED;
    }
    r = c->loop->st->suspend(c);
    return c->cancelled ? -ECANCELED : r;
}

/* c gives the worker away: what the app wrote so far goes out first. */
static void
going_away(struct wf__core *c)
{
    wf__resp_flush(c);
    c->switches++;
    c->t_suspended = wf__now_ms();
}

WF_API int
wf_wait_io(struct wf_core *pub, int fd, unsigned events, long timeout_ms)
{
    struct wf__core *c = wf__core(pub);

    if (c->cancelled) {
        return -ECANCELED;
    }
    return c->loop->st->wait_io(c, fd, events, timeout_ms);
}

/* ------------------------------------------ the client's transfers */

/* See internal.h. */
void
wf__xfer_count(struct wf__xfer *x, size_t n)
{
    x->bytes += n;
}

/* See internal.h. The budget grows with the bytes moved (as Apache's
 * mod_reqtimeout MinRate does): a client that keeps up the rate is never
 * cut, however big the transfer; one that dribbles a byte per stall, which
 * --socket-timeout alone never cuts, is cut at the grace. Only the time
 * spent waiting for the client counts: a stream whose app writes a line a
 * minute to a client that takes each at once (server-sent events, long
 * polls) never waits, and is never cut. */
long
wf__client_wait_ms(struct wf__core *c, unsigned events, int *by_deadline)
{
    const struct wf__xfer *x = (events & WF_IO_READ) ? &c->resp.rx
                                                     : &c->resp.tx;
    long grace = (events & WF_IO_READ) ? wf__cfg.body_deadline
                                       : wf__cfg.write_deadline;
    long rate = (events & WF_IO_READ) ? wf__cfg.body_min_rate
                                      : wf__cfg.write_min_rate;
    long tmo = wf__cfg.socket_timeout * 1000;

    *by_deadline = 0;
    if (grace > 0) {
        int64_t budget = (int64_t)grace * 1000 +
                         (rate > 0 ? (int64_t)(x->bytes / (uint64_t)rate *
                                               1000 + x->bytes %
                                               (uint64_t)rate * 1000 /
                                               (uint64_t)rate)
                                   : 0);
        int64_t left = budget - x->waited;

        if (left < tmo) {
            tmo = left > 0 ? (long)left : 0;
            *by_deadline = 1;
        }
    }
    return tmo;
}

/* See internal.h. */
int
wf__client_wait(struct wf__core *c, unsigned events)
{
    struct wf__xfer *x = (events & WF_IO_READ) ? &c->resp.rx : &c->resp.tx;
    int by_deadline, r = 0;
    long tmo = wf__client_wait_ms(c, events, &by_deadline);

    if (tmo > 0) {
        int64_t t = wf__now_ms();

        r = wf_wait_io(&c->pub, c->conn->fd, events, tmo);
        x->waited += wf__now_ms() - t;
    }
    return r != 0 ? r : wf__client_timed_out(c, events, by_deadline);
}

/* See internal.h. */
int
wf__client_timed_out(struct wf__core *c, unsigned events, int by_deadline)
{
    int rd = (events & WF_IO_READ) != 0;
    const struct wf__xfer *x = rd ? &c->resp.rx : &c->resp.tx;

    if (!by_deadline) {
        wf_log(WF_LOG_WARN, rd ? "core %u: %s sent no body bytes for %lds "
               "(--socket-timeout)" : "core %u: client %s took no bytes "
               "for %lds (--socket-timeout); response cut", c->pub.id,
               c->conn->raddr, wf__cfg.socket_timeout);
    } else {
        wf_log(WF_LOG_WARN, "core %u: %s %s too slowly: %llu bytes, "
               "waited for %llds (--%s-deadline %ld, --%s-min-rate %ld)%s",
               c->pub.id, c->conn->raddr,
               rd ? "sent its body" : "took the response",
               (unsigned long long)x->bytes,
               (long long)(x->waited / 1000),
               rd ? "body" : "write",
               rd ? wf__cfg.body_deadline : wf__cfg.write_deadline,
               rd ? "body" : "write",
               rd ? wf__cfg.body_min_rate : wf__cfg.write_min_rate,
               rd ? "" : "; response cut");
    }
    return -ETIMEDOUT;
}

WF_API int
wf_sleep(struct wf_core *pub, long ms)
{
    struct wf__core *c = wf__core(pub);

    if (c->cancelled) {
        return -ECANCELED;
    }
    return c->loop->st->sleep(c, ms < 0 ? 0 : ms);
}

/* ------------------------------------------------ strategy: block */

/* Wait in place, the worker blocked, for c's registered fds and timer;
 * then c's waits are over as if the loop had woken it. 0 or -errno. */
static int
block_suspend(struct wf__core *c)
{
    struct pollfd p[16];
    unsigned i, n = c->nwaits < 16 ? c->nwaits : 16;
    long left = timer_left(c);
    int r;

    if (n == 0 && left < 0) {
        return 0;       /* nothing armed: nobody else could run anyway */
    }
    for (i = 0; i < n; i++) {
        p[i].fd = c->waits[i].fd;
        p[i].events = (short)(((c->waits[i].events & WF_IO_READ)
                               ? POLLIN : 0) |
                              ((c->waits[i].events & WF_IO_WRITE)
                               ? POLLOUT : 0));
        p[i].revents = 0;
    }
    wf__loop_lang_wait(c->loop, 1);
    do {
        r = poll(p, n, left < 0 ? -1 : (int)left);
        if (r < 0 && errno == EINTR && left >= 0) {
            left = timer_left(c);
        }
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        r = -errno;
    }
    wf__loop_lang_wait(c->loop, 0);
    if (r < 0) {
        wf__core_wake_clear(c);
        return r;
    }
    c->ready_fd = -1;
    c->timed_out = r == 0;
    for (i = 0; i < n && r > 0; i++) {
        if (p[i].revents != 0) {
            c->ready_fd = p[i].fd;
            break;
        }
    }
    wf__core_wake_clear(c);
    return 0;
}

/* c waits in place for fd; the languages' lock is let go of meanwhile. */
static int
poll_fd(struct wf__core *c, int fd, unsigned events, long timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = 0 };
    int r;

    if (events & WF_IO_READ) {
        p.events |= POLLIN;
    }
    if (events & WF_IO_WRITE) {
        p.events |= POLLOUT;
    }
    r = poll(&p, 1, 0);
    if (r == 0 && timeout_ms != 0) {
        /* not ready now: a real wait */
        wf__loop_lang_wait(c->loop, 1);
        do {
            r = poll(&p, 1, timeout_ms < 0 ? -1 : (int)timeout_ms);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            r = -errno;
        }
        wf__loop_lang_wait(c->loop, 0);
    } else if (r < 0) {
        r = -errno;
    }
    if (r < 0) {
        return r == -EINTR ? 0 : r;
    }
    return r > 0 ? 1 : 0;
}

static int
block_wait_io(struct wf__core *c, int fd, unsigned events, long timeout_ms)
{
    return poll_fd(c, fd, events, timeout_ms);
}

static int
block_sleep(struct wf__core *c, long ms)
{
    wf__loop_lang_wait(c->loop, 1);
    poll(NULL, 0, (int)ms);
    wf__loop_lang_wait(c->loop, 0);
    return 0;
}

/* ----------------------------------------------- strategy: switch */

/* c gives the worker away on its own context until its waits fire (or,
 * with none, for one turn of the loop). Called from the loop's stack (not
 * c's context: handle() outside a suspend engine's resume), it waits in
 * place instead. */
static int
switch_suspend(struct wf__core *c)
{
    if (c->loop->current != c) {
        return block_suspend(c);
    }
    going_away(c);
    if (c->nwaits == 0 && c->timer.heap_idx < 0) {
        wf__runq_push(c);
    } else {
        c->state = WF_CS_WAITING;
    }
    wf__sus_ops->suspend(&c->pub);
    c->state = WF_CS_RUNNING;
    return 0;
}

/* See loop.h: what switch_suspend does before the switch, for a core
 * whose context ends instead (wf__core_default_body). */
void
wf__sched_park(struct wf__core *c)
{
    going_away(c);
    c->state = WF_CS_WAITING;
}

static int
switch_wait_io(struct wf__core *c, int fd, unsigned events, long timeout_ms)
{
    int r;

    if (c->loop->current != c) {
        return poll_fd(c, fd, events, timeout_ms);
    }
    r = wf_wait_fd(&c->pub, fd, events);
    if (r < 0) {
        return r;
    }
    if (timeout_ms >= 0) {
        int64_t d = wf__now_ms() + timeout_ms;

        if (c->timer.heap_idx < 0 || c->timer.deadline > d) {
            wf__timer_set(c->loop, &c->timer, d);
        }
    }
    r = wf_suspend(&c->pub);
    if (r < 0) {
        return r;
    }
    if (c->timed_out && c->ready_fd != fd) {
        return 0;
    }
    return 1;
}

static int
switch_sleep(struct wf__core *c, long ms)
{
    if (c->loop->current != c) {
        return block_sleep(c, ms);
    }
    wf__core_wake_clear(c);
    wf__timer_set(c->loop, &c->timer, wf__now_ms() + ms);
    return wf_suspend(&c->pub);
}

static struct wf_core *
core_current(struct wf__loop *L)
{
    return L->current ? &L->current->pub : NULL;
}

/* The core's loop cancels a waiting core itself (wf__core_cancel). */
static void
cancel_none(struct wf__core *c)
{
}

/* Where suspended core c waits: the suspend engine knows, or the language
 * whose state the core saved. */
static size_t
switch_backtrace(struct wf__core *c, char *buf, size_t len)
{
    if (WF_HAS_OP(wf__sus_plugin, wf__sus_ops, backtrace, 1)) {
        return wf__sus_ops->backtrace(&c->pub, buf, len);
    }
    if (c->lang_switch && WF_HAS_OP(c->lang_plugin, c->lang, backtrace, 1)) {
        return c->lang->backtrace(&c->pub, buf, len);
    }
    return 0;
}

static size_t
block_backtrace(struct wf__core *c, char *buf, size_t len)
{
    return 0;
}

/* ----------------------------------------------- strategy: engine */

/* The engine's wait, told to the stats scoreboard (what c waits for). */
static int
engine_wait(struct wf__core *c, struct wf_io_event *fds, int n, long timeout,
            int *ready)
{
    int r;

    wf__stats_core_wait(c, n > 0 ? fds[0].fd : -1, n > 0 ? fds[0].events : 0,
                        timeout >= 0);
    r = wf__loop_ops->wait(&c->pub, fds, n, timeout, ready);
    wf__stats_core_switch(c, 1);
    return r;
}

/* c's registered waits (or none: a turn for the others) go to the loop
 * engine. */
static int
engine_suspend(struct wf__core *c)
{
    struct wf_io_event fds[WF__MAX_WAIT_FDS];
    unsigned i, max = c->loop->max_wait_fds;
    int n = 0, r, ready = -1;
    long timeout = timer_left(c);

    going_away(c);
    if (c->nwaits == 0 && timeout < 0) {
        return wf__loop_ops->yield(&c->pub);
    }
    for (i = 0; i < c->nwaits && (unsigned)n < max; i++) {
        fds[n].fd = c->waits[i].fd;
        fds[n++].events = c->waits[i].events;
    }
    wf__core_wake_clear(c);
    r = engine_wait(c, fds, n, timeout, &ready);
    if (r < 0) {
        return r;
    }
    c->ready_fd = r > 0 ? ready : -1;
    c->timed_out = r == 0;
    return 0;
}

static int
engine_wait_io(struct wf__core *c, int fd, unsigned events, long timeout_ms)
{
    struct wf_io_event ev = { fd, events };
    int ready = -1, r;

    c->switches++;
    r = engine_wait(c, &ev, 1, timeout_ms, &ready);
    return c->cancelled ? -ECANCELED : r;
}

static int
engine_sleep(struct wf__core *c, long ms)
{
    int ready, r;

    c->switches++;
    r = engine_wait(c, NULL, 0, ms, &ready);
    return c->cancelled ? -ECANCELED : (r < 0 ? r : 0);
}

static struct wf_core *
engine_current(struct wf__loop *L)
{
    return wf__loop_ops->current();
}

/* The core decided to cancel c (harakiri, mercy): the engine stops the
 * context that runs it (gevent kills its greenlet). */
static void
engine_cancel(struct wf__core *c)
{
    if (WF_HAS_OP(wf__loop_plugin, wf__loop_ops, cancel, 4)) {
        wf__loop_ops->cancel(&c->pub);
    }
}

static size_t
engine_backtrace(struct wf__core *c, char *buf, size_t len)
{
    if (WF_HAS_OP(wf__loop_plugin, wf__loop_ops, backtrace, 4)) {
        return wf__loop_ops->backtrace(&c->pub, buf, len);
    }
    return 0;
}

/* ------------------------------------------------------ the three */

const struct wf__strategy wf__st_switch = {
    .name      = "switch",
    .io_set    = wf__io_set,
    .suspend   = switch_suspend,
    .wait_io   = switch_wait_io,
    .sleep     = switch_sleep,
    .current   = core_current,
    .cancel    = cancel_none,
    .backtrace = switch_backtrace,
    .step      = wf__core_step_switch,
    .run       = wf__loop_core_run,
};

const struct wf__strategy wf__st_block = {
    .name      = "block",
    .io_set    = wf__io_set,
    .suspend   = block_suspend,
    .wait_io   = block_wait_io,
    .sleep     = block_sleep,
    .current   = core_current,
    .cancel    = cancel_none,
    .backtrace = block_backtrace,
    .step      = wf__core_step_block,
    .run       = wf__loop_core_run,
};

const struct wf__strategy wf__st_engine = {
    .name      = "engine",
    .io_set    = io_set_none,
    .suspend   = engine_suspend,
    .wait_io   = engine_wait_io,
    .sleep     = engine_sleep,
    .current   = engine_current,
    .cancel    = engine_cancel,
    .backtrace = engine_backtrace,
    .step      = NULL,      /* the engine runs its contexts itself */
    .run       = wf__loop_engine_run,
};
