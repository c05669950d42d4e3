/*
 * The worker loop itself: a loop's birth and end, running a core, the
 * signal handler, and the default loop (io wait -> accept / read heads /
 * wake waiters -> timers -> run queue). Its helpers live beside it:
 * sched.c, conn.c, watchdog.c, loop_engine.c, api.c, worker.c (loop.h).
 *
 * A whole head takes a free core (or waits, in order, for one):
 *   core: FREE -> QUEUED -> RUNNING -> WAITING (fds / timer) -> QUEUED ...
 *         -> DONE -> FREE; the connection reads its next head.
 * With a suspend engine RUNNING happens on the core's own context
 * (wf_core_body); without one, handle() runs on the loop's stack and only a
 * generator's yield (WF_AGAIN) gives the worker away.
 */
#include "loop.h"
#include "policy.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stddef.h>

const struct wf_io_ops *wf__io_ops;
const struct wf_plugin *wf__io_plugin;
const struct wf_suspend_ops *wf__sus_ops;
const struct wf_plugin *wf__sus_plugin;
const struct wf_loop_ops *wf__loop_ops;
const struct wf_plugin *wf__loop_plugin;
const struct wf_plugin *wf__langs[256];
const struct wf_plugin *wf__lang_default;
void (*wf__core_body_hook)(struct wf_core *c);

__thread struct wf__loop *wf__L;

#define MAX_EVENTS 64
#define MAX_LOOPS 256

/* Every loop of this process, for the signal handler (a signal reaches
 * the process; each loop learns of it through its own pipe). */
static struct wf__loop *volatile loops[MAX_LOOPS];

/* ------------------------------------------------------ the requests */

/* After handle() returned st (on the loop's stack or the core's). */
int
wf__core_after_handle(struct wf__core *c, int st)
{
    if (st == WF_AGAIN) {
        wf__resp_flush(c);
        return 1;
    }
    if (st == WF_ERROR) {
        wf__stats_exception(c);
    }
    wf__core_wake_clear(c);
    wf__resp_finish(c, st);
    c->state = WF_CS_DONE;
    return 0;
}

void
wf__core_default_body(struct wf__core *c)
{
    if (c->parked) {
        /* the request goes on in a new context (see below) */
        c->parked = 0;
        if (c->cancelled) {
            if (c->lang->release) {
                c->lang->release(&c->pub);
            }
            wf__core_after_handle(c, WF_ERROR);
            return;
        }
    } else if (wf__body_prebuffer(c) < 0) {
        /* --post-buffering: the body did not come whole; the client got
         * its answer (400/408/413) or is gone: the app does not run */
        wf__core_after_handle(c, WF_ERROR);
        return;
    }
    for (;;) {
        int st = c->lang->handle(&c->pub);

        if (!wf__core_after_handle(c, st)) {
            return;
        }
        if (c->loop->st == &wf__st_switch
            && (c->nwaits != 0 || c->timer.heap_idx >= 0)) {
            /* Between two chunks, waiting for a timer or an fd (a
             * generator that slept and yielded): nothing of the request is
             * on this context's stack, so the context ends here and the
             * core waits without one; when a wait fires, the suspend
             * engine starts a new context that calls handle() again. A
             * sleeping request then holds no stack (ugreen: the page
             * touched at its top), and the few hot stacks serve. A
             * streaming generator (no wait armed) keeps its context. */
            wf__sched_park(c);
            c->parked = 1;
            return;
        }
        if (wf_suspend(&c->pub) < 0) {
            /* cancelled between two chunks: the language drops the rest */
            if (c->lang->release) {
                c->lang->release(&c->pub);
            }
            wf__core_after_handle(c, WF_ERROR);
            return;
        }
    }
}

WF_API void
wf_core_body(struct wf_core *pub)
{
    if (wf__core_body_hook != NULL) {
        wf__core_body_hook(pub);
        return;
    }
    wf__core_default_body(wf__core(pub));
}

/* See loop.h. */
void
wf__core_free(struct wf__core *c)
{
    struct wf__loop *L = c->loop;

    if (c->nwaits != 0 || c->timer.heap_idx >= 0) {
        wf__core_wake_clear(c);     /* the loop engine's path may leave some */
    }
    if (c->conn != NULL) {
        c->conn->core = NULL;
    }
    wf__core_busy(c, 0);    /* a request that ended without its log line */
    c->conn = NULL;
    c->lang = NULL;
    c->idle_wait = 0;
    c->parked = 0;
    c->state = WF_CS_FREE;
    L->free[L->nfree++] = c;
}

/* With a suspend engine: run c on its own context until it suspends or
 * ends, the language's per-core state switched around it. */
void
wf__core_step_switch(struct wf__core *c)
{
    const struct wf_lang_ops *lang = c->lang;
    int r;

    if (c->lang_switch) {
        lang->save(NULL);
        lang->restore(&c->pub);
    }
    r = wf__sus_ops->resume(&c->pub);
    if (c->lang_switch) {
        lang->save(&c->pub);
        lang->restore(NULL);
    }
    c->loop->current = NULL;
    if (r >= 0 && c->state == WF_CS_RUNNING) {
        /* the app gave the worker away by itself, not through the
         * core's waits (Ruby's Fiber.yield, as uWSGI's fiber docs
         * show): it runs again on the next turn, like a generator's
         * yield (issue 10: such a request used to hang forever) */
        c->switches++;
        c->t_suspended = wf__now_ms();
        wf__runq_push(c);
        return;
    }
    if (r < 0 && c->state != WF_CS_DONE) {
        /* the engine could not run the core: fail the request from
         * here, with blocking writes */
        if (lang->release) {
            lang->release(&c->pub);
        }
        wf__core_after_handle(c, WF_ERROR);
    }
}

/* Without one: handle() on the loop's stack, once; a chunk (WF_AGAIN)
 * gives the worker away until c's registered waits fire. */
void
wf__core_step_block(struct wf__core *c)
{
    const struct wf_lang_ops *lang = c->lang;

    if (c->cancelled) {
        /* cancelled between two handle() calls: nothing runs any more */
        if (lang->release) {
            lang->release(&c->pub);
        }
        wf__core_after_handle(c, WF_ERROR);
        return;
    }
    /* --post-buffering: the body whole before the app's first call (a
     * no-op once it is there) */
    if (wf__core_after_handle(c, wf__body_prebuffer(c) < 0
                                 ? WF_ERROR : lang->handle(&c->pub))) {
        c->switches++;
        c->t_suspended = wf__now_ms();
        if (c->nwaits == 0 && c->timer.heap_idx < 0) {
            wf__runq_push(c);
        } else {
            c->state = WF_CS_WAITING;
        }
    }
}

static void
run_core(struct wf__core *c)
{
    struct wf__loop *L = c->loop;

    L->current = c;
    c->state = WF_CS_RUNNING;
    if (L->busy != NULL) {
        /* for the master's harakiri: what this loop runs, since when */
        char rl[sizeof(L->busy->req)];

        snprintf(L->busy->req, sizeof(L->busy->req), "%s from %s",
                 wf__req_line(&c->conn->req, rl, sizeof(rl)),
                 c->conn->raddr);
        L->busy->core = c->pub.id;
        L->busy->since = wf__now_ms();
    }
    wf__stats_core_switch(c, 1);
    L->st->step(c);
    wf__stats_core_switch(c, 0);
    L->current = NULL;
    if (L->busy != NULL) {
        L->busy->since = 0;
    }
    if (c->state == WF_CS_DONE) {
        wf__conn_end_request(c);
    }
}

static void
timer_fired(struct wf__tnode *t)
{
    if (t->is_conn) {
        struct wf__conn *k = (struct wf__conn *)t;

        if (k->state == WF_CONN_READING) {
            wf__conn_head_timeout(k);
            wf__conn_close(k);
        } else if (k->state == WF_CONN_LINGER) {
            wf__conn_close(k);  /* lingered long enough */
        }
        return;
    }
    {
        struct wf__core *c = (struct wf__core *)((char *)t -
                                                  offsetof(struct wf__core,
                                                           timer));

        if (c->state == WF_CS_WAITING) {
            wf__core_wake_clear(c);
            c->ready_fd = -1;
            c->timed_out = 1;
            wf__runq_push(c);
        }
    }
}

static void
dispatch(struct wf__loop *L, const struct wf_io_event *ev)
{
    struct wf__fdent *e;

    if (ev->fd < 0 || (unsigned)ev->fd >= L->max_fds) {
        return;
    }
    e = &L->fdtab[ev->fd];
    if (ev->fd == L->sigpipe[0]) {
        char buf[64];

        while (read(ev->fd, buf, sizeof(buf)) > 0) {
        }
        return;
    }
    if (e->lsn != NULL) {
        wf__conn_accept_some(L, e->lsn);
        return;
    }
    if (e->core != NULL && e->core->state == WF_CS_WAITING &&
        wf__core_waits_on(e->core, ev->fd)) {
        wf__core_wake(e->core, ev->fd);
        return;
    }
    if (e->conn != NULL && e->conn->state == WF_CONN_READING) {
        wf__conn_read_head(e->conn);
        return;
    }
    if (e->conn != NULL && e->conn->state == WF_CONN_LINGER) {
        wf__conn_linger_read(e->conn);
        return;
    }
    /* nobody waits on it now (a pipelined request or a hang-up while its
     * request runs, or an fd the app closed): interest is level-triggered,
     * so stop watching it; never close an fd the loop does not own */
    if (e->interest) {
        wf__io_set(L, ev->fd, 0);
    }
}

static void
run_queue(struct wf__loop *L)
{
    struct wf__core *c = L->rq_head;

    /* one pass over what is queued now; cores queued during the pass
     * run on the next one, after the io engine had a look */
    L->rq_head = L->rq_tail = NULL;
    while (c != NULL) {
        struct wf__core *next = c->rq_next;

        c->rq_next = NULL;
        if (c->state == WF_CS_QUEUED) {
            run_core(c);
        }
        c = next;
    }
}

/* SIGUSR2: --logto again (after a rotation). */
void
wf__reopen_log(void)
{
    struct wf_err err;

    if (wf__cfg.logto && wf__log_open(wf__cfg.logto, &err) < 0) {
        fprintf(stderr, "weft: %s\n", err.msg);
    }
}

/* The one signal handler: every loop of the process hears of it. */
void
wf__loop_on_signal(int sig)
{
    int saved = errno;
    unsigned i;

    wf__watchdog_backstop(sig);
    for (i = 0; i < MAX_LOOPS; i++) {
        struct wf__loop *L = loops[i];

        if (L != NULL) {
            L->got_signal = sig;
            if (write(L->sigpipe[1], "s", 1) < 0) {
                /* the pipe is full: a wake-up is pending anyway */
            }
        }
    }
    errno = saved;
}

/* See internal.h. */
void
wf__loop_stop(struct wf__loop *L, int how)
{
    int saved = errno;

    L->got_signal = how == 2 ? SIGQUIT : SIGTERM;
    if (write(L->sigpipe[1], "s", 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
    errno = saved;
}

/* See internal.h. */
void
wf__loop_stop_all(int how)
{
    unsigned i;

    for (i = 0; i < MAX_LOOPS; i++) {
        struct wf__loop *L = loops[i];

        /* a loop that heard of a signal already keeps its reason */
        if (L != NULL && (how == 2 || (!L->stopping && !L->got_signal))) {
            wf__loop_stop(L, how);
        }
    }
}

/* See loop.h: the one place a signal turns into what the loop does. */
int
wf__loop_take_signal(struct wf__loop *L)
{
    int sig = L->got_signal;

    if (sig == 0) {
        return L->stopping;
    }
    L->got_signal = 0;
    if (sig == SIGQUIT) {
        wf_log(WF_LOG_INFO, "%s: SIGQUIT, stopping now", L->name);
        L->stopping = 2;
    } else if (sig == SIGUSR2) {
        wf__reopen_log();
    } else if (!L->stopping) {
        wf_log(WF_LOG_INFO, "%s: %s, finishing %u in-flight "
               "requests", L->name, strsignal(sig), L->ncores - L->nfree);
        L->stopping = 1;
    }
    return L->stopping;
}

/* Tell the languages the worker waits for I/O (1) or is back (0): their
 * other threads may run meanwhile. Only when the wait may block. The
 * stats' lag hook hears of it too. */
static void
lang_loop_wait(struct wf__loop *L, int entering)
{
    unsigned i;

    for (i = 0; i < L->nwaiters; i++) {
        L->waiters[i](entering);
    }
}

/* See loop.h. */
void
wf__loop_lang_wait(struct wf__loop *L, int entering)
{
    unsigned i;

    for (i = 0; i < L->nlang_waiters; i++) {
        L->waiters[i](entering);
    }
}

/* The fds a process may have open (after worker_setup raised it). */
static unsigned
fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 1024;
    }
    return rl.rlim_cur > 1048576 ? 1048576 : (unsigned)rl.rlim_cur;
}

/* See internal.h. */
struct wf__loop *
wf__loop_new(unsigned id, unsigned thread, unsigned nc, unsigned core_base,
             struct wf__listener *listeners, struct wf__slot *slot,
             struct wf_err *err)
{
    struct wf__loop *L = calloc(1, sizeof(*L));
    const struct wf_plugin *lp;
    const struct wf_lang_ops *lo;
    struct wf__listener *l;
    unsigned i;

    if (L == NULL) {
        wf_err_set(err, "worker %u: out of memory for a loop", id);
        return NULL;
    }
    L->id = id;
    L->thread = thread;
    if (wf__cfg.threads > 1) {
        snprintf(L->name, sizeof(L->name), "worker %u thread %u", id,
                 thread + 1);
    } else {
        snprintf(L->name, sizeof(L->name), "worker %u", id);
    }
    L->ncores = nc;
    L->core_base = core_base;
    L->slot = slot;
    if (slot != NULL && thread < WF__MAX_THREADS) {
        L->busy = &slot->busy[thread];
        if (slot->nthreads < thread + 1) {
            slot->nthreads = thread + 1;
        }
        __atomic_add_fetch(&slot->cores, nc, __ATOMIC_RELAXED);
    }
    L->listeners = listeners ? listeners : wf__listeners;
    L->sigpipe[0] = L->sigpipe[1] = -1;
    /* the wait strategy, once (sched.c) */
    L->st = wf__loop_ops ? &wf__st_engine
          : wf__sus_ops ? &wf__st_switch : &wf__st_block;
    L->max_wait_fds = WF__MAX_WAIT_FDS;
    if (wf__loop_ops && wf__loop_plugin->abi_minor >= 4 &&
        wf__loop_ops->max_wait_fds > 0 &&
        wf__loop_ops->max_wait_fds < WF__MAX_WAIT_FDS) {
        L->max_wait_fds = wf__loop_ops->max_wait_fds;
    }
    L->max_fds = fd_limit();
    L->max_conns = wf__cfg.max_conns > 0 ? (unsigned)wf__cfg.max_conns
                                         : nc * 2 + 32;
    if (L->max_conns > L->max_fds - 32) {
        L->max_conns = L->max_fds > 64 ? L->max_fds - 32 : 16;
    }
    L->fdtab = calloc(L->max_fds, sizeof(*L->fdtab));
    L->cores = calloc(nc, sizeof(*L->cores));
    L->free = calloc(nc, sizeof(*L->free));
    if (!L->fdtab || !L->cores || !L->free) {
        wf_err_set(err, "worker %u: out of memory for %u cores", id, nc);
        goto fail;
    }
    for (i = 0; i < nc; i++) {
        struct wf__core *c = &L->cores[i];

        c->pub.id = core_base + i;
        c->loop = L;
        c->timer.heap_idx = -1;
        c->ready_fd = -1;
        /* LIFO, highest core on top: the first request lands on core
         * N-1 and a lightly loaded worker keeps reusing it (as uWSGI) */
        L->free[L->nfree++] = c;
    }
    if (wf__loop_ops == NULL) {
        L->io = wf__io_ops;
        L->io_st = wf__io_ops->open(L->max_fds, err);
        if (L->io_st == NULL) {
            L->io = NULL;
            goto fail;
        }
    }
    EACH_LANG(i, lp, lo) {
        if (WF_HAS_OP(lp, lo, loop_wait, 2) &&
            L->nwaiters < sizeof(L->waiters) / sizeof(*L->waiters)) {
            L->waiters[L->nwaiters++] = lo->loop_wait;
        }
    }
    L->nlang_waiters = L->nwaiters;
    if (pipe2(L->sigpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        wf_err_set(err, "pipe2(): %s", strerror(errno));
        goto fail;
    }
    L->st->io_set(L, L->sigpipe[0], WF_IO_READ);
    for (l = L->listeners; l; l = l->next) {
        L->fdtab[l->fd].lsn = l;
    }
    for (i = 0; i < MAX_LOOPS; i++) {
        struct wf__loop *none = NULL;

        /* loops of several threads register at once */
        if (__atomic_compare_exchange_n(&loops[i], &none, L, 0,
                                        __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            break;
        }
    }
    wf__stats_loop_init(L);
    return L;

fail:
    wf__loop_free(L);
    return NULL;
}

/* See internal.h. */
void
wf__loop_free(struct wf__loop *L)
{
    struct wf__conn *k;
    unsigned i;

    if (L == NULL) {
        return;
    }
    for (i = 0; i < MAX_LOOPS; i++) {
        if (loops[i] == L) {
            loops[i] = NULL;
        }
    }
    while (L->all_head != NULL) {
        wf__conn_close(L->all_head);
    }
    while ((k = L->conn_free) != NULL) {
        L->conn_free = k->next;
        wf__conn_free(k);
    }
    if (L->io != NULL) {
        L->io->close(L->io_st);
    }
    if (L->sigpipe[0] >= 0) {
        close(L->sigpipe[0]);
        close(L->sigpipe[1]);
    }
    for (i = 0; L->cores && i < L->ncores; i++) {
        free(L->cores[i].waits);
        free(L->cores[i].resp.hbuf);
        free(L->cores[i].resp.obuf);
        free(L->cores[i].resp.wire);
    }
    free(L->heap);
    free(L->cores);
    free(L->free);
    free(L->fdtab);
    free(L);
}

/* See internal.h. */
int
wf__loop_run(struct wf__loop *L, struct wf_err *err)
{
    struct wf__loop *outer = wf__L;
    int r;

    wf__L = L;
    r = L->st->run(L, err);
    wf__L = outer;
    return r;
}

/* See loop.h: the core's own loop. */
int
wf__loop_core_run(struct wf__loop *L, struct wf_err *err)
{
    struct wf_io_event evs[MAX_EVENTS];

    wf__conn_accepting(L, 1);
    for (;;) {
        long timeout;
        int64_t now;
        int n, i;
        struct wf__tnode *t;

        if (wf__loop_take_signal(L) == 2) {
            break;
        }
        if (L->stopping) {
            if (L->stop_deadline == 0) {
                L->stop_deadline = wf__now_ms() +
                                   wf__cfg.reload_mercy * 1000;
                wf__conn_accepting(L, 0);
            }
            now = wf__now_ms();
            wf__conn_close_idle(L, L->stop_deadline != INT64_MAX &&
                                   now > L->stop_deadline);
            if (L->nconns == 0) {
                break;
            }
            wf__watchdog_mercy(L, now);
        }
        now = wf__now_ms();
        if (L->accept_paused_until && now >= L->accept_paused_until &&
            !L->stopping) {
            L->accept_paused_until = 0;
            wf__conn_accepting(L, 1);
        }
        if (wf__cfg.threads > 1 || wf__cfg.processes > 1) {
            wf__conn_share(L);
        }
        timeout = L->rq_head ? 0 : wf__timer_next(L, now);
        if (L->accept_paused_until &&
            (timeout < 0 || timeout > L->accept_paused_until - now)) {
            timeout = (long)(L->accept_paused_until - now);
        }
        if ((wf__cfg.harakiri > 0 || L->stopping) &&
            (timeout < 0 || timeout > 500)) {
            /* harakiri, and a stopping loop's mercy, need a clock */
            timeout = 500;
        }
        if (L->stopping && (timeout < 0 || timeout > 1000)) {
            timeout = 1000;   /* look at the mercy deadline now and then */
        }
        if (timeout != 0) {
            lang_loop_wait(L, 1);
        }
        n = L->io->wait(L->io_st, evs, MAX_EVENTS, timeout);
        if (timeout != 0) {
            lang_loop_wait(L, 0);
        }
        if (n < 0 && n != -EINTR) {
            errno = -n;
            wf_log_errno("%s wait()", wf__io_plugin->name);
            return wf_err_set(err, "%s: the io engine failed", L->name);
        }
        for (i = 0; i < n; i++) {
            dispatch(L, &evs[i]);
        }
        now = wf__now_ms();
        while ((t = wf__timer_pop_due(L, now)) != NULL) {
            timer_fired(t);
        }
        if (wf__cfg.harakiri > 0 && now >= L->next_harakiri) {
            wf__watchdog_harakiri(L, now);
            L->next_harakiri = now + 500;
        }
        run_queue(L);
    }
    return 0;
}
