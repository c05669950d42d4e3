/*
 * The watchdog: worker policy decided after each request (max-requests,
 * --reload-on-rss) and for requests that run too long (--harakiri per core,
 * cancel).
 */
#include "loop.h"
#include "policy.h"

#include <stdio.h>
#include <unistd.h>

/* --reload-on-rss: this worker's resident memory, to the scoreboard; a
 * replacement is asked for above the limit. */
static void
check_rss(void)
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
    wf__slot->rss_kb = rss * (sysconf(_SC_PAGESIZE) / 1024);
    if (wf__cfg.reload_on_rss > 0 && !wf__slot->want_replace &&
        wf__slot->rss_kb / 1024 > wf__cfg.reload_on_rss) {
        wf_log(WF_LOG_INFO, "worker %u: resident memory %ld MiB is over "
               "--reload-on-rss %ld; asking for a replacement", wf__w.id,
               wf__slot->rss_kb / 1024, wf__cfg.reload_on_rss);
        wf__slot->want_replace = 2;
    }
}

/* Count and log c's finished request; 1 when its connection may carry
 * the next one. */
int
wf__request_done(struct wf__core *c, struct wf__conn *k)
{
    int keep;

    wf__w.requests++;
    c->requests++;
    k->requests++;
    c->in_request = 0;
    wf__log_request(c);
    keep = !c->resp.close && !c->resp.broken && k->req.keepalive &&
           k->lsn->proto == WF_PROTO_HTTP && !wf__w.stopping;
    if (keep && wf__body_discard(k) < 0) {
        keep = 0;
    }
    if (wf__slot != NULL) {
        wf__slot->requests = wf__w.requests;
        if ((wf__w.requests & 31) == 0) {
            check_rss();
        }
    }
    if (wf__cfg.max_requests > 0 && wf__slot != NULL &&
        wf__w.requests >= (uint64_t)wf__cfg.max_requests) {
        /* the master starts a new worker first, then tells this one to
         * drain: serving goes on meanwhile */
        if (!wf__slot->want_replace) {
            wf_log(WF_LOG_INFO, "worker %u: %llu requests served "
                   "(--max-requests); asking for a replacement", wf__w.id,
                   (unsigned long long)wf__w.requests);
            wf__slot->want_replace = 1;
        }
    } else if (wf__cfg.max_requests > 0 &&
        wf__w.requests >= (uint64_t)wf__cfg.max_requests &&
        !wf__w.stopping) {
        wf_log(WF_LOG_INFO, "worker %u: %llu requests served "
               "(--max-requests); finishing in-flight requests, then "
               "exiting", wf__w.id, (unsigned long long)wf__w.requests);
        wf__w.stopping = 1;
        wf__conn_accepting(0);
        if (wf__loop_ops != NULL && write(wf__w.sigpipe[1], "m", 1) < 0) {
            /* the loop engine looks at the control fd anyway */
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
    wf_log(WF_LOG_ERROR, "HARAKIRI: core %u of worker %u: %s from %s "
           "has run for %llds (--harakiri %ld); cancelled with 504, the "
           "other requests go on%s%s", c->pub.id, wf__w.id,
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
    if (wf__slot != NULL) {
        if (wf__slot->busy_since == 0) {
            snprintf(wf__slot->req, sizeof(wf__slot->req), "the %s loop "
                     "(a request that never gives it a turn)",
                     wf__loop_plugin ? wf__loop_plugin->name : "worker's");
        }
        wf__slot->busy_since = wf__now_ms();
    }
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

/* --harakiri, per core: a request suspended for longer is cancelled alone
 * (504), with where it waited in the log; the others go on. Loop
 * context, about twice a second. */
void
wf__watchdog_harakiri(int64_t now)
{
    unsigned i;

    for (i = 0; i < wf__w.ncores; i++) {
        struct wf__core *c = &wf__w.cores[i];
        char stack[4096];
        size_t n = 0;

        if ((c->state != WF_CS_WAITING && c->state != WF_CS_QUEUED) ||
            c->cancelled || now - c->t_start <= wf__cfg.harakiri * 1000) {
            continue;
        }
        stack[0] = '\0';
        if (wf__sus_ops && WF_HAS_OP(wf__sus_plugin, wf__sus_ops,
                                     backtrace, 1)) {
            n = wf__sus_ops->backtrace(&c->pub, stack, sizeof(stack));
        } else if (c->lang_switch &&
                   WF_HAS_OP(c->lang_plugin, c->lang, backtrace, 1)) {
            n = c->lang->backtrace(&c->pub, stack, sizeof(stack));
        }
        wf_harakiri(&c->pub, n ? stack : NULL);
    }
}

/* See internal.h: stop c's request; the client gets `status` when nothing
 * was sent yet. The core sees -ECANCELED from every wait from now on. */
void
wf__core_cancel(struct wf__core *c, int status)
{
    if (c->state == WF_CS_FREE || c->cancelled) {
        return;
    }
    c->cancelled = 1;
    if (!c->resp.head_sent && !c->resp.broken) {
        wf_response_error(&c->pub, status);
        c->resp.close = 1;
    }
    if (c->state == WF_CS_WAITING) {
        wf__core_wake_clear(c);
        c->ready_fd = -1;
        c->timed_out = 1;
        wf__runq_push(c);
    }
}
