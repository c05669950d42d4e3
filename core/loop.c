/*
 * The worker loop itself: start-up and shutdown of the worker, running a
 * core, and the default loop (io wait -> accept / read heads / wake waiters
 * -> timers -> run queue). Its helpers live beside it: sched.c, conn.c,
 * watchdog.c, loop_engine.c, api.c (see loop.h).
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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct wf__worker wf__w;
const struct wf_io_ops *wf__io_ops;
const struct wf_plugin *wf__io_plugin;
const struct wf_suspend_ops *wf__sus_ops;
const struct wf_plugin *wf__sus_plugin;
const struct wf_loop_ops *wf__loop_ops;
const struct wf_plugin *wf__loop_plugin;
const struct wf_plugin *wf__langs[256];
const struct wf_plugin *wf__lang_default;
void (*wf__core_body_hook)(struct wf_core *c);

#define MAX_EVENTS 64

volatile sig_atomic_t wf__got_signal;

/* ------------------------------------------------------ the requests */

/* After handle() returned st (on the loop's stack or the core's). */
int
wf__core_after_handle(struct wf__core *c, int st)
{
    if (st == WF_AGAIN) {
        wf__resp_flush(c);
        return 1;
    }
    wf__core_wake_clear(c);
    wf__resp_finish(c, st);
    c->state = WF_CS_DONE;
    return 0;
}

void
wf__core_default_body(struct wf__core *c)
{
    for (;;) {
        int st = c->lang->handle(&c->pub);

        if (!wf__core_after_handle(c, st)) {
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

static void
run_core(struct wf__core *c)
{
    const struct wf_lang_ops *lang = c->lang;

    wf__w.current = c;
    c->state = WF_CS_RUNNING;
    if (wf__slot != NULL) {
        /* for the master's harakiri: what runs, since when */
        char rl[sizeof(wf__slot->req)];

        snprintf(wf__slot->req, sizeof(wf__slot->req), "%s from %s",
                 wf__req_line(&c->conn->req, rl, sizeof(rl)),
                 c->conn->raddr);
        wf__slot->busy_core = c->pub.id;
        wf__slot->busy_since = wf__now_ms();
    }
    if (c->cancelled && wf__sus_ops == NULL) {
        /* cancelled between two handle() calls: nothing runs any more */
        if (lang->release) {
            lang->release(&c->pub);
        }
        wf__core_after_handle(c, WF_ERROR);
    } else if (wf__sus_ops != NULL) {
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
        wf__w.current = NULL;
        if (r < 0 && c->state != WF_CS_DONE) {
            /* the engine could not run the core: fail the request from
             * here, with blocking writes */
            if (lang->release) {
                lang->release(&c->pub);
            }
            wf__core_after_handle(c, WF_ERROR);
        }
    } else {
        int st = lang->handle(&c->pub);

        if (wf__core_after_handle(c, st)) {
            c->switches++;
            c->t_suspended = wf__now_ms();
            if (c->nwaits == 0 && c->timer.heap_idx < 0) {
                wf__runq_push(c);
            } else {
                c->state = WF_CS_WAITING;
            }
        }
    }
    wf__w.current = NULL;
    if (wf__slot != NULL) {
        wf__slot->busy_since = 0;
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
            if (k->buf_len > 0 && k->lsn->proto == WF_PROTO_HTTP) {
                wf_log(WF_LOG_WARN, "%s: %s sent no complete request head "
                       "in %lds (--http-timeout/--socket-timeout); closed",
                       k->lsn->name, k->raddr, wf__head_timeout_ms() / 1000);
                wf__resp_send_error(k, 408);
            }
            wf__conn_close(k);
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
dispatch(const struct wf_io_event *ev)
{
    struct wf__fdent *e;

    if (ev->fd < 0 || (unsigned)ev->fd >= wf__w.max_fds) {
        return;
    }
    e = &wf__w.fdtab[ev->fd];
    if (ev->fd == wf__w.sigpipe[0]) {
        char buf[64];

        while (read(ev->fd, buf, sizeof(buf)) > 0) {
        }
        return;
    }
    if (e->lsn != NULL) {
        wf__conn_accept_some(e->lsn);
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
    /* nobody waits on it now (a pipelined request or a hang-up while its
     * request runs, or an fd the app closed): interest is level-triggered,
     * so stop watching it; never close an fd the loop does not own */
    if (e->interest) {
        wf__io_set(ev->fd, 0);
    }
}

static void
run_queue(void)
{
    struct wf__core *c = wf__w.rq_head;

    /* one pass over what is queued now; cores queued during the pass
     * run on the next one, after the io engine had a look */
    wf__w.rq_head = wf__w.rq_tail = NULL;
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

static void
on_signal(int sig)
{
    int saved = errno;

    wf__got_signal = sig;
    if (write(wf__w.sigpipe[1], "s", 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
    errno = saved;
}

/* Tell the languages the worker waits for I/O (1) or is back (0): their
 * other threads may run meanwhile. Only when the wait may block. */
static void
lang_loop_wait(int entering)
{
    unsigned i;

    for (i = 0; i < wf__w.nwaiters; i++) {
        wf__w.waiters[i](entering);
    }
}

/* --lazy-apps: load every language's app in this worker, after fork. */
static int
load_apps(struct wf_err *err)
{
    unsigned i, apps = 0;

    for (i = 0; i < 256; i++) {
        const struct wf_plugin *lp = wf__langs[i];
        int r;

        if (lp == NULL) {
            continue;
        }
        r = ((const struct wf_lang_ops *)lp->ops)->load_app(err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if (wf__lang_default == lp) {
                wf__lang_default = NULL;
            }
            wf__langs[i] = NULL;
            continue;
        }
        apps++;
        if (wf__lang_default == NULL) {
            wf__lang_default = lp;
        }
    }
    if (apps == 0) {
        return wf_err_set(err, "no app to serve; give --wsgi-file FILE, "
                          "--module MODULE[:CALLABLE] or --rack config.ru");
    }
    return 0;
}

static int
worker_init(unsigned id, struct wf_err *err)
{
    struct rlimit rl;
    unsigned i, nc = wf_ncores();
    struct wf__listener *l;
    struct sigaction sa;

    memset(&wf__w, 0, sizeof(wf__w));
    wf__w.id = id;
    wf__w.ncores = nc;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < (rlim_t)nc * 3 + 64 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        wf__w.max_fds = rl.rlim_cur > 1048576 ? 1048576
                                              : (unsigned)rl.rlim_cur;
    } else {
        wf__w.max_fds = 1024;
    }
    wf__w.max_conns = wf__cfg.max_conns > 0 ? (unsigned)wf__cfg.max_conns
                                            : nc * 2 + 32;
    if (wf__w.max_conns > wf__w.max_fds - 32) {
        wf__w.max_conns = wf__w.max_fds > 64 ? wf__w.max_fds - 32 : 16;
    }
    wf__w.fdtab = calloc(wf__w.max_fds, sizeof(*wf__w.fdtab));
    wf__w.cores = calloc(nc, sizeof(*wf__w.cores));
    wf__w.free = calloc(nc, sizeof(*wf__w.free));
    if (!wf__w.fdtab || !wf__w.cores || !wf__w.free) {
        return wf_err_set(err, "worker %u: out of memory for %u cores", id,
                          nc);
    }
    for (i = 0; i < nc; i++) {
        struct wf__core *c = &wf__w.cores[i];

        c->pub.id = i;
        c->timer.heap_idx = -1;
        c->ready_fd = -1;
        /* LIFO, highest core on top: the first request lands on core
         * N-1 and a lightly loaded worker keeps reusing it (as uWSGI) */
        wf__w.free[wf__w.nfree++] = c;
    }
    if (wf__loop_ops == NULL) {
        wf__w.io = wf__io_ops;
        wf__w.io_st = wf__io_ops->open(wf__w.max_fds, err);
        if (wf__w.io_st == NULL) {
            return -1;
        }
    }
    if (wf__cfg.lazy_apps && load_apps(err) < 0) {
        return -1;
    }
    for (i = 0; i < 256; i++) {
        const struct wf_plugin *lp = wf__langs[i];
        const struct wf_lang_ops *lo = lp ? lp->ops : NULL;

        if (lo && (lo->modifier1 & 255) == i &&
            WF_HAS_OP(lp, lo, loop_wait, 2) &&
            wf__w.nwaiters < sizeof(wf__w.waiters) / sizeof(*wf__w.waiters)) {
            wf__w.waiters[wf__w.nwaiters++] = lo->loop_wait;
        }
    }
    for (i = 0; i < 256; i++) {
        const struct wf_plugin *lp = wf__langs[i];
        const struct wf_lang_ops *lo = lp ? lp->ops : NULL;

        if (lo && (lo->modifier1 & 255) == i && lo->worker_init &&
            lo->worker_init(nc, err) < 0) {
            return -1;
        }
    }
    if (wf__sus_ops != NULL && wf__sus_ops->worker_init(nc, err) < 0) {
        return -1;
    }
    if (pipe2(wf__w.sigpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        return wf_err_set(err, "pipe2(): %s", strerror(errno));
    }
    if (wf__loop_ops == NULL) {
        wf__io_set(wf__w.sigpipe[0], WF_IO_READ);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (l = wf__listeners; l; l = l->next) {
        wf__w.fdtab[l->fd].lsn = l;
    }
    if (wf__loop_ops == NULL) {
        wf__conn_accepting(1);
    } else if (wf__loop_ops->worker_init &&
               wf__loop_ops->worker_init(nc, err) < 0) {
        return -1;
    }
    return 0;
}

static void
worker_fini(int now)
{
    unsigned i;

    if (!now) {
        /* languages first (their objects may live on the cores'
         * contexts), then the engine that owns those contexts */
        for (i = 0; i < 256; i++) {
            const struct wf_plugin *lp = wf__langs[i];
            const struct wf_lang_ops *lo = lp ? lp->ops : NULL;

            if (lo && (lo->modifier1 & 255) == i && lo->shutdown) {
                lo->shutdown();
            }
        }
        if (wf__sus_ops && wf__sus_ops->worker_fini) {
            wf__sus_ops->worker_fini();
        }
        if (wf__loop_ops && wf__loop_ops->worker_fini) {
            wf__loop_ops->worker_fini();
        }
    }
    if (wf__w.io != NULL) {
        wf__w.io->close(wf__w.io_st);
    }
}

/* See internal.h. Runs the worker until it stops; 0 on a clean stop. */
int
wf__worker_run(unsigned id, struct wf_err *err)
{
    struct wf_io_event evs[MAX_EVENTS];
    int64_t stop_deadline = 0, next_harakiri = 0;
    int now_exit = 0;

    if (worker_init(id, err) < 0) {
        return -1;
    }
    if (wf__loop_ops != NULL) {
        int r;

        wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %u cores, loop %s",
               id, (int)getpid(), wf__w.ncores, wf__loop_plugin->name);
        if (wf__slot != NULL) {
            wf__slot->ready = 1;
        }
        r = wf__loop_ops->run(err);
        worker_fini(wf__w.stopping == 2);
        return r;
    }
    if (wf__cfg.async > 0 && wf__sus_ops == NULL) {
        wf_log(WF_LOG_WARN, "*** async mode without a suspend engine: only "
               "a generator's yield gives the worker away; add a suspend "
               "engine: --ugreen or --greenlet (Python), --fiber (Rack) ***");
    }
    wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %u cores, io %s, "
           "suspend %s", id, (int)getpid(), wf__w.ncores,
           wf__io_plugin->name,
           wf__sus_plugin ? wf__sus_plugin->name : "none");
    if (wf__slot != NULL) {
        wf__slot->ready = 1;
    }
    for (;;) {
        long timeout;
        int64_t now;
        int n, i;
        struct wf__tnode *t;

        if (wf__got_signal) {
            int sig = wf__got_signal;

            wf__got_signal = 0;
            if (sig == SIGQUIT) {
                wf_log(WF_LOG_INFO, "worker %u: SIGQUIT, stopping now", id);
                now_exit = 1;
                break;
            }
            if (sig == SIGUSR2) {
                wf__reopen_log();
                continue;
            }
            if (!wf__w.stopping) {
                wf_log(WF_LOG_INFO, "worker %u: %s, finishing %u in-flight "
                       "requests", id, strsignal(sig),
                       wf__w.ncores - wf__w.nfree);
            }
            wf__w.stopping = 1;
        }
        if (wf__w.stopping) {
            if (stop_deadline == 0) {
                stop_deadline = wf__now_ms() + wf__cfg.reload_mercy * 1000;
                wf__conn_accepting(0);
            }
            wf__conn_close_idle(wf__now_ms() > stop_deadline);
            if (wf__w.nconns == 0) {
                break;
            }
            if (wf__now_ms() > stop_deadline) {
                unsigned k;

                wf_log(WF_LOG_WARN, "worker %u: %u requests still running "
                       "after %lds (--worker-reload-mercy); cancelling them",
                       id, wf__w.ncores - wf__w.nfree, wf__cfg.reload_mercy);
                for (k = 0; k < wf__w.ncores; k++) {
                    wf__core_cancel(&wf__w.cores[k], 503);
                }
                stop_deadline = INT64_MAX;
            }
        }
        now = wf__now_ms();
        if (wf__w.accept_paused_until && now >= wf__w.accept_paused_until &&
            !wf__w.stopping) {
            wf__w.accept_paused_until = 0;
            wf__conn_accepting(1);
        }
        timeout = wf__w.rq_head ? 0 : wf__timer_next(now);
        if (wf__w.accept_paused_until &&
            (timeout < 0 || timeout > wf__w.accept_paused_until - now)) {
            timeout = (long)(wf__w.accept_paused_until - now);
        }
        if (wf__cfg.harakiri > 0 && (timeout < 0 || timeout > 500)) {
            timeout = 500;
        }
        if (wf__w.stopping && (timeout < 0 || timeout > 1000)) {
            timeout = 1000;   /* look at the mercy deadline now and then */
        }
        if (timeout != 0) {
            lang_loop_wait(1);
        }
        n = wf__w.io->wait(wf__w.io_st, evs, MAX_EVENTS, timeout);
        if (timeout != 0) {
            lang_loop_wait(0);
        }
        if (n < 0 && n != -EINTR) {
            errno = -n;
            wf_log_errno("%s wait()", wf__io_plugin->name);
            return wf_err_set(err, "worker %u: the io engine failed", id);
        }
        for (i = 0; i < n; i++) {
            dispatch(&evs[i]);
        }
        now = wf__now_ms();
        while ((t = wf__timer_pop_due(now)) != NULL) {
            timer_fired(t);
        }
        if (wf__cfg.harakiri > 0 && now >= next_harakiri) {
            wf__watchdog_harakiri(now);
            next_harakiri = now + 500;
        }
        run_queue();
    }
    worker_fini(now_exit);
    return 0;
}
