/*
 * The loop-engine API (include/weft/core.h, "loop engines"): what a loop
 * engine such as gevent calls to accept and serve connections while it
 * owns the worker's waiting and switching. include/weft/ops.h describes
 * the engine's side (struct wf_loop_ops).
 *
 * The engine only waits, switches and reports. Worker policy stays here,
 * the same as for the core's own loop: reading heads and their timeout
 * (conn.c), the request's life (loop.c), harakiri, max-requests and the
 * mercy (watchdog.c), and, in wf_loop_tick(), the drain: idle keep-alive
 * connections woken to close, the give-up when cancelled requests do not
 * end. These calls name no loop: they act on the loop of the calling
 * thread (wf__L).
 */
#include "loop.h"
#include "stats.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Cancelled requests that have not ended this long after: left alone. */
#define GIVE_UP_MS 5000

WF_API int
wf_loop_listeners(int *fds, int max)
{
    struct wf__listener *l;
    int n = 0;

    for (l = wf__L->listeners; l && n < max; l = l->next) {
        fds[n++] = l->fd;
    }
    return n;
}

WF_API int
wf_loop_control_fd(void)
{
    return wf__L->sigpipe[0];
}

WF_API int
wf_loop_control(void)
{
    struct wf__loop *L = wf__L;
    char buf[64];

    while (read(L->sigpipe[0], buf, sizeof(buf)) > 0) {
    }
    return wf__loop_take_signal(L);
}

WF_API unsigned
wf_loop_room(void)
{
    return wf__L->stopping ? 0 : wf__L->nfree;
}

WF_API unsigned
wf_loop_busy(void)
{
    return wf__L->ncores - wf__L->nfree;
}

/* See core.h. */
WF_API long
wf_loop_tick_ms(void)
{
    if (wf__L->stopping) {
        return 100;
    }
    return wf__cfg.harakiri > 0 ? 500 : 0;
}

/* See core.h. */
WF_API long
wf_loop_mercy_left_ms(void)
{
    struct wf__loop *L = wf__L;
    int64_t left;

    if (!L->stopping || L->stop_deadline == 0) {
        return -1;
    }
    if (L->stop_deadline == INT64_MAX) {
        return 0;
    }
    left = L->stop_deadline - wf__now_ms();
    return left > 0 ? (long)left : 0;
}

/* Only idle keep-alive connections keep a graceful stop waiting: wake
 * their waits (the engine's wake op); the core sees the worker stopping
 * and closes them. */
static void
wake_idle(struct wf__loop *L, unsigned busy)
{
    unsigned i, idle = 0;

    for (i = 0; i < L->ncores; i++) {
        idle += L->cores[i].state != WF_CS_FREE && L->cores[i].idle_wait;
    }
    if (idle == 0 || idle != busy ||
        !WF_HAS_OP(wf__loop_plugin, wf__loop_ops, wake, 4)) {
        return;
    }
    for (i = 0; i < L->ncores; i++) {
        struct wf__core *c = &L->cores[i];

        if (c->state != WF_CS_FREE && c->idle_wait) {
            wf__loop_ops->wake(&c->pub);
        }
    }
}

/* See core.h: the core's policy for a loop engine's worker. */
WF_API int
wf_loop_tick(void)
{
    struct wf__loop *L = wf__L;
    int64_t now = wf__now_ms();
    unsigned busy = L->ncores - L->nfree;

    if (wf__cfg.harakiri > 0) {
        wf_loop_heartbeat();    /* the hub turns: tell the master */
        if (now >= L->next_harakiri) {
            wf__watchdog_harakiri(L, now);
            L->next_harakiri = now + 500;
        }
    }
    if (L->stopping != 1) {
        return L->stopping;
    }
    if (L->stop_deadline == 0) {
        L->stop_deadline = now + wf__cfg.reload_mercy * 1000;
    }
    if (busy == 0) {
        return 2;
    }
    if (wf__watchdog_mercy(L, now)) {
        if (L->give_up_at == 0) {
            L->give_up_at = now + GIVE_UP_MS;
        } else if (now >= L->give_up_at) {
            wf_log(WF_LOG_ERROR, "worker %u: %u request%s did not end %ds "
                   "after being cancelled (the app catches the "
                   "cancellation?); leaving %s", L->id, busy,
                   busy == 1 ? "" : "s", GIVE_UP_MS / 1000,
                   busy == 1 ? "it" : "them");
            return 2;
        }
        return 1;
    }
    wake_idle(L, busy);
    return 1;
}

WF_API struct wf_core *
wf_loop_accept(int lfd)
{
    struct wf__loop *L = wf__L;
    struct wf__listener *l;
    struct wf__conn *k;
    struct wf__core *c;

    if (lfd < 0 || (unsigned)lfd >= L->max_fds || L->stopping ||
        L->nfree == 0 || (l = L->fdtab[lfd].lsn) == NULL) {
        return NULL;
    }
    k = wf__conn_accept_one(L, l);
    if (k == NULL) {
        return NULL;
    }
    /* under a loop engine a connection keeps its core while it lives:
     * the engine's own context (greenlet) is the connection's */
    c = L->free[--L->nfree];
    c->conn = k;
    k->core = c;
    c->state = WF_CS_RUNNING;
    return &c->pub;
}

WF_API int
wf_loop_conn_fd(const struct wf_core *pub)
{
    const struct wf__core *c = (const struct wf__core *)pub;

    return c != NULL && c->conn != NULL ? c->conn->fd : -1;
}

/* Read k's next head through the loop engine. 1 when whole, 0 when the
 * connection is over (closed, bad, timed out: answered already). */
static int
engine_read_head(struct wf__core *c, struct wf__conn *k)
{
    struct wf__loop *L = c->loop;
    /* the head's deadline is absolute, as on the core's loop: a client
     * sending a byte now and then does not restart it */
    int64_t deadline = wf__now_ms() + wf__head_timeout_ms();
    /* a keep-alive connection with nothing buffered: as on the core's
     * loop, the engine says when the next request comes; a recv() now
     * would only say EAGAIN (gevent under wrk: 1.000 waits per request).
     * A new connection's first head, bytes already here (pipelining) and
     * a stopping worker (the drain serves a request that came) read
     * first. */
    int idle = k->requests > 0 && k->buf_len == 0 && !L->stopping;

    for (;;) {
        struct wf_io_event ev = { k->fd, WF_IO_READ };
        int ready, r = idle ? 0 : wf__conn_read_more(k);
        int64_t left;

        idle = 0;
        if (r != 0) {
            return r > 0;
        }
        if (L->stopping && k->buf_len == 0) {
            return 0;   /* idle while stopping: done */
        }
        /* nothing of the next head yet: an idle connection, which the
         * drain may wake (wf_loop_tick) */
        c->idle_wait = k->buf_len == 0;
        left = deadline - wf__now_ms();
        r = left <= 0 ? 0 : wf__loop_ops->wait(&c->pub, &ev, 1, (long)left,
                                               &ready);
        c->idle_wait = 0;
        if (r == 0) {
            wf__conn_head_timeout(k);
        }
        if (r <= 0) {
            return 0;
        }
    }
}

/* The lingering close of conn.c (wf__conn_linger), waiting through the
 * loop engine: our side shut, the client's late bytes drained, at most
 * WF__LINGER_BYTES for at most WF__LINGER_MS. */
static void
engine_linger(struct wf__core *c, struct wf__conn *k)
{
    int64_t end = wf__now_ms() + WF__LINGER_MS;
    long left = WF__LINGER_BYTES;
    char sink[16384];

    shutdown(k->fd, SHUT_WR);
    while (left > 0) {
        ssize_t n = recv(k->fd, sink, sizeof(sink), 0);

        if (n > 0) {
            left -= n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct wf_io_event ev = { k->fd, WF_IO_READ };
            int64_t ms = end - wf__now_ms();
            int ready;

            if (ms <= 0 || wf__loop_ops->wait(&c->pub, &ev, 1, (long)ms,
                                              &ready) <= 0) {
                return;
            }
            continue;
        }
        return;
    }
}

WF_API void
wf_loop_serve(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);
    struct wf__conn *k = c->conn;
    struct wf__loop *L = c->loop;

    while (engine_read_head(c, k)) {
        int st = wf__conn_request_vars(k);

        if (st != 0) {
            if (k->lsn->proto == WF_PROTO_HTTP) {
                wf__resp_send_error(k, st);
                k->answered = 1;
            }
            break;
        }
        wf__conn_bind_core(k, c);
        c->state = WF_CS_RUNNING;
        wf__stats_core_switch(c, 1);
        wf__core_default_body(c);
        if (!wf__request_done(c, k)) {
            break;
        }
        wf__conn_next(k);
    }
    if (!L->stopping && (k->answered || (k->lsn->proto == WF_PROTO_HTTP &&
                                         k->head_len > 0 && !k->body_done))) {
        engine_linger(c, k);
    }
    wf__core_free(c);
    wf__conn_close(k);
}

/* See loop.h. */
int
wf__loop_engine_run(struct wf__loop *L, struct wf_err *err)
{
    if (wf__cfg.harakiri > 0) {
        wf_loop_heartbeat();    /* the master watches the loop from now */
    }
    return wf__loop_ops->run(err);
}
