/*
 * The watchdog: worker policy decided after each request (max-requests,
 * --reload-on-rss) and for requests that run too long (--harakiri per core,
 * cancel).
 */
#include "loop.h"
#include "policy.h"
#include "stats.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* --reload-on-rss: this worker's resident memory, to the scoreboard; a
 * replacement is asked for above the limit. */
static void
check_rss(struct wf__loop *L)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL) {
        return;
    }
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
        rss = 0;
    }
    fclose(f);
    L->slot->rss_kb = rss * (sysconf(_SC_PAGESIZE) / 1024);
    if (wf__cfg.reload_on_rss > 0 && !L->slot->want_replace &&
        L->slot->rss_kb / 1024 > wf__cfg.reload_on_rss) {
        wf_log(WF_LOG_INFO, "worker %u: resident memory %ld MiB is over "
               "--reload-on-rss %ld; asking for a replacement", L->id,
               L->slot->rss_kb / 1024, wf__cfg.reload_on_rss);
        L->slot->want_replace = 2;
    }
}

/* The requests this worker served, every loop's (--threads). */
uint64_t wf__worker_requests;

/* Count and log c's finished request; 1 when its connection may carry
 * the next one. */
int
wf__request_done(struct wf__core *c, struct wf__conn *k)
{
    struct wf__loop *L = c->loop;
    uint64_t total;
    int keep;

    L->requests++;
    c->requests++;
    k->requests++;
    wf__core_busy(c, 0);
    total = __atomic_add_fetch(&wf__worker_requests, 1, __ATOMIC_RELAXED);
    wf__log_request(c);
    keep = !c->resp.close && !c->resp.broken && k->req.keepalive &&
           k->lsn->proto == WF_PROTO_HTTP && !L->stopping;
    if (keep && wf__body_discard(k) < 0) {
        keep = 0;
    }
    if (L->slot != NULL) {
        L->slot->requests = total;
        if ((total & 31) == 0) {
            check_rss(L);
        }
    }
    /* --max-requests counts the worker's requests, all its loops' */
    if (wf__cfg.max_requests > 0 && L->slot != NULL &&
        total >= (uint64_t)wf__cfg.max_requests) {
        /* the master starts a new worker first, then tells this one to
         * drain: serving goes on meanwhile */
        if (!L->slot->want_replace) {
            wf_log(WF_LOG_INFO, "worker %u: %llu requests served "
                   "(--max-requests); asking for a replacement", L->id,
                   (unsigned long long)total);
            L->slot->want_replace = 1;
        }
    } else if (wf__cfg.max_requests > 0 &&
        total >= (uint64_t)wf__cfg.max_requests &&
        !L->stopping) {
        if (total == (uint64_t)wf__cfg.max_requests) {
            wf_log(WF_LOG_INFO, "worker %u: %llu requests served "
                   "(--max-requests); finishing in-flight requests, then "
                   "exiting", L->id, (unsigned long long)total);
        }
        L->stopping = 1;
        wf__conn_accepting(L, 0);
        if (write(L->sigpipe[1], "m", 1) < 0) {
            /* a wake-up is pending anyway; a loop engine watches the
             * control fd and learns it is stopping */
        }
        if (wf__cfg.threads > 1) {
            wf__loop_stop_all(1);   /* the worker's other loops too */
        }
        keep = 0;
    }
    return keep;
}

/* --harakiri-verbose: the whole request, as the app saw it. */
static void
log_request_vars(struct wf__core *c)
{
    char buf[4096];
    size_t used = 0;
    unsigned i;

    for (i = 0; i < c->conn->req.nvars && used < sizeof(buf) - 1; i++) {
        const struct wf_var *v = &c->conn->req.vars[i];
        int w = snprintf(buf + used, sizeof(buf) - used, "  %.*s = %.*s\n",
                         (int)v->klen, v->key, (int)v->vlen, v->val);

        if (w > 0) {
            used += (size_t)w < sizeof(buf) - used ? (size_t)w
                                                   : sizeof(buf) - used - 1;
        }
    }
    wf_log(WF_LOG_INFO, "HARAKIRI: core %u's request, %u vars, %llu body "
           "bytes sent so far:\n%s", c->pub.id, c->conn->req.nvars,
           (unsigned long long)c->resp.sent, buf);
}

/* See core.h: log the harakiri of c's request and cancel it (504). */
WF_API void
wf_harakiri(struct wf_core *pub, const char *stack)
{
    struct wf__core *c = wf__core(pub);
    char rl[512];

    if (c->conn == NULL || !c->in_request || c->cancelled) {
        return;
    }
    wf_log(WF_LOG_ERROR, "HARAKIRI: core %u of %s: %s from %s "
           "has run for %llds (--harakiri %ld); cancelled with 504, the "
           "other requests go on%s%s", c->pub.id, c->loop->name,
           wf__req_line(&c->conn->req, rl, sizeof(rl)), c->conn->raddr,
           (long long)((wf__now_ms() - c->t_start) / 1000), wf__cfg.harakiri,
           stack && *stack ? "; it waited in:\n" : "",
           stack ? stack : "");
    if (wf__cfg.harakiri_verbose) {
        log_request_vars(c);
    }
    wf__core_cancel(c, 504);
}

/* See core.h. */
WF_API void
wf_loop_heartbeat(void)
{
    struct wf__loop *L = wf__L;

    if (L != NULL && L->busy != NULL) {
        if (L->busy->since == 0) {
            snprintf(L->busy->req, sizeof(L->busy->req), "the %s loop "
                     "(a request that never gives it a turn)",
                     wf__loop_plugin ? wf__loop_plugin->name : "worker's");
        }
        L->busy->since = wf__now_ms();
    }
    wf__stats_heartbeat();
}

/* See core.h. */
WF_API long
wf_request_age_ms(const struct wf_core *pub)
{
    const struct wf__core *c = (const struct wf__core *)pub;

    if (c->conn == NULL || !c->in_request) {
        return -1;
    }
    return (long)(wf__now_ms() - c->t_start);
}

/* --harakiri, per core: a request running for longer is cancelled alone
 * (504), with where it waited in the log; the others go on. Loop
 * context (the core's loop, or the loop engine's tick), about twice a
 * second: no core runs meanwhile. */
void
wf__watchdog_harakiri(struct wf__loop *L, int64_t now)
{
    unsigned i;

    for (i = 0; i < L->ncores; i++) {
        struct wf__core *c = &L->cores[i];
        char stack[4096];
        size_t n;

        if (c->state == WF_CS_FREE || !c->in_request || c->cancelled ||
            now - c->t_start <= wf__cfg.harakiri * 1000) {
            continue;
        }
        stack[0] = '\0';
        n = L->st->backtrace(c, stack, sizeof(stack));
        wf_harakiri(&c->pub, n ? stack : NULL);
    }
}

/* See loop.h. */
int
wf__watchdog_mercy(struct wf__loop *L, int64_t now)
{
    unsigned i, n = 0;

    if (L->stop_deadline == INT64_MAX) {
        /* cancelled, and still not done: a request that swallows the
         * cancellation (catches every exception, Fiber.yield in a loop)
         * must not keep a stopping worker alive; after a grace of
         * WF__CANCEL_GRACE_MS the worker exits anyway (issue 10). A
         * loop engine gives up by itself (loop_engine.c). */
        if (wf__loop_ops == NULL &&
            now - L->cancelled_at > WF__CANCEL_GRACE_MS) {
            wf_log(WF_LOG_WARN, "worker %u (pid %d): cancelled requests "
                   "still running %ds later; exiting anyway", L->id,
                   (int)getpid(), WF__CANCEL_GRACE_MS / 1000);
            if (wf__vacuum_hook != NULL) {
                wf__vacuum_hook();
            }
            _exit(0);
        }
        return 1;
    }
    if (L->stop_deadline == 0 || now <= L->stop_deadline) {
        return 0;
    }
    for (i = 0; i < L->ncores; i++) {
        struct wf__core *c = &L->cores[i];

        if (c->state != WF_CS_FREE && !c->cancelled) {
            n++;
        }
    }
    if (n > 0) {
        wf_log(WF_LOG_WARN, "%s: %u request%s still running after "
               "%lds (--worker-reload-mercy); cancelling %s", L->name, n,
               n == 1 ? "" : "s", wf__cfg.reload_mercy, n == 1 ? "it"
                                                             : "them");
    }
    for (i = 0; i < L->ncores; i++) {
        wf__core_cancel(&L->cores[i], 503);
    }
    L->stop_deadline = INT64_MAX;
    L->cancelled_at = now;
    return 1;
}

/* See internal.h: stop c's request; the client gets `status` when nothing
 * was sent yet. The core sees -ECANCELED from every wait from now on, and
 * the loop's strategy stops the context that runs it (a loop engine's). */
void
wf__core_cancel(struct wf__core *c, int status)
{
    if (c->state == WF_CS_FREE || c->cancelled) {
        return;
    }
    c->cancelled = 1;
    if (status == 504) {
        wf__stats_harakiri(c);
    }
    if (c->in_request && !c->resp.head_sent && !c->resp.broken) {
        wf_response_error(&c->pub, status);
        c->resp.close = 1;
    }
    if (c->state == WF_CS_WAITING) {
        wf__core_wake_clear(c);
        c->ready_fd = -1;
        c->timed_out = 1;
        wf__runq_push(c);
    }
    c->loop->st->cancel(c);
}

/* ------------------------------------------------------ the last resort */

void (*wf__vacuum_hook)(void);

static char backstop_msg[160];
static size_t backstop_len;

/* Append the decimal n to backstop_msg (signal context: no stdio). */
static void
backstop_num(unsigned long n)
{
    char d[24];
    size_t k = 0;

    do {
        d[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && k < sizeof(d));
    while (k > 0 && backstop_len < sizeof(backstop_msg) - 1) {
        backstop_msg[backstop_len++] = d[--k];
    }
}

static void
backstop_str(const char *s)
{
    while (*s && backstop_len < sizeof(backstop_msg) - 1) {
        backstop_msg[backstop_len++] = *s++;
    }
}

static void
backstop_fire(int sig)
{
    ssize_t r;

    (void)sig;
    r = write(wf__log_fd, backstop_msg, backstop_len);
    (void)r;
    if (wf__vacuum_hook != NULL) {
        wf__vacuum_hook();
    }
    _exit(0);
}

/* See loop.h. */
void
wf__watchdog_backstop(int sig)
{
    static volatile sig_atomic_t armed;
    struct sigaction sa;
    unsigned long secs;

    if (armed || (sig != SIGTERM && sig != SIGINT && sig != SIGHUP &&
                  sig != SIGQUIT)) {
        return;
    }
    armed = 1;
    secs = sig == SIGQUIT ? WF__CANCEL_GRACE_MS / 1000 + 1
                          : (unsigned long)wf__cfg.reload_mercy +
                            WF__CANCEL_GRACE_MS / 1000 + 2;
    backstop_len = 0;
    backstop_str("warning: worker ");
    backstop_num(wf_worker_id());
    backstop_str(" (pid ");
    backstop_num((unsigned long)getpid());
    backstop_str("): its loop did not stop ");
    backstop_num(secs);
    backstop_str("s after it was told to (a request blocks it); "
                 "exiting anyway\n");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = backstop_fire;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)secs);
}
