/*
 * The loop-engine API (include/weft/core.h, "loop engines"): what a loop
 * engine such as gevent calls to accept and serve connections while it
 * owns the worker's waiting and switching. include/weft/ops.h describes
 * the engine's side.
 */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------- loop engines */

WF_API int
wf_loop_listeners(int *fds, int max)
{
    struct wf__listener *l;
    int n = 0;

    for (l = wf__listeners; l && n < max; l = l->next) {
        fds[n++] = l->fd;
    }
    return n;
}

WF_API int
wf_loop_control_fd(void)
{
    return wf__w.sigpipe[0];
}

WF_API int
wf_loop_control(void)
{
    char buf[64];

    while (read(wf__w.sigpipe[0], buf, sizeof(buf)) > 0) {
    }
    if (wf__got_signal) {
        int sig = wf__got_signal;

        wf__got_signal = 0;
        if (sig == SIGQUIT) {
            wf_log(WF_LOG_INFO, "worker %u: SIGQUIT, stopping now", wf__w.id);
            wf__w.stopping = 2;
        } else if (sig == SIGUSR2) {
            wf__reopen_log();
        } else if (!wf__w.stopping) {
            wf_log(WF_LOG_INFO, "worker %u: %s, finishing %u in-flight "
                   "requests", wf__w.id, strsignal(sig),
                   wf__w.ncores - wf__w.nfree);
            wf__w.stopping = 1;
        }
    }
    return wf__w.stopping;
}

WF_API unsigned
wf_loop_room(void)
{
    return wf__w.stopping ? 0 : wf__w.nfree;
}

WF_API unsigned
wf_loop_busy(void)
{
    return wf__w.ncores - wf__w.nfree;
}

WF_API struct wf_core *
wf_loop_accept(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    struct wf__listener *l;
    struct wf__conn *k;
    struct wf__core *c;
    int fd;

    if (lfd < 0 || (unsigned)lfd >= wf__w.max_fds || wf__w.stopping ||
        wf__w.nfree == 0 || (l = wf__w.fdtab[lfd].lsn) == NULL) {
        return NULL;
    }
    do {
        fd = accept4(lfd, (struct sockaddr *)&ss, &slen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            wf_log_errno("accept4(%s)", l->name);
        }
        return NULL;
    }
    if ((unsigned)fd >= wf__w.max_fds || (k = wf__conn_get()) == NULL) {
        wf_log(WF_LOG_ERROR, "accept4(%s): no room for fd %d; raise "
               "ulimit -n", l->name, fd);
        close(fd);
        return NULL;
    }
    wf__conn_setup(k, fd, l, &ss);
    /* under a loop engine a connection keeps its core while it lives:
     * the engine's own context (greenlet) is the connection's */
    c = wf__w.free[--wf__w.nfree];
    c->conn = k;
    k->core = c;
    c->state = WF_CS_RUNNING;
    return &c->pub;
}

/* Read k's next head through the loop engine. 1 when whole, 0 when the
 * connection is over (closed, bad, timed out: answered already). */
static int
loop_read_head(struct wf__core *c, struct wf__conn *k)
{
    int fresh = k->buf_len > 0;

    for (;;) {
        ssize_t n;

        if (fresh) {
            int r = wf__conn_parse_head(k);

            fresh = 0;
            if (r > 0) {
                k->head_len = (size_t)r;
                return 1;
            }
            if (r < 0) {
                return 0;
            }
        }
        if (wf__conn_head_overflow(k)) {
            return 0;
        }
        n = recv(k->fd, k->buf + k->buf_len, k->buf_cap - k->buf_len, 0);
        if (n > 0) {
            k->buf_len += (size_t)n;
            fresh = 1;
            continue;
        }
        if (n == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct wf_io_event ev = { k->fd, WF_IO_READ };
            int ready, r;

            if (wf__w.stopping && k->buf_len == 0) {
                return 0;   /* idle while stopping: done */
            }
            r = wf__loop_ops->wait(&c->pub, &ev, 1, wf__head_timeout_ms(),
                                   &ready);
            if (r == 0 && k->buf_len > 0 &&
                k->lsn->proto == WF_PROTO_HTTP) {
                wf_log(WF_LOG_WARN, "%s: %s sent no complete request head "
                       "in %lds (--socket-timeout); closed", k->lsn->name,
                       k->raddr, wf__cfg.socket_timeout);
                wf__resp_send_error(k, 408);
            }
            if (r <= 0) {
                return 0;
            }
            continue;
        }
        return 0;
    }
}

WF_API void
wf_loop_serve(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);
    struct wf__conn *k = c->conn;

    while (loop_read_head(c, k)) {
        int st = wf__conn_request_vars(k);

        if (st != 0) {
            if (k->lsn->proto == WF_PROTO_HTTP) {
                wf__resp_send_error(k, st);
            }
            break;
        }
        wf__conn_bind_core(k, c);
        c->state = WF_CS_RUNNING;
        wf__core_default_body(c);
        if (!wf__request_done(c, k)) {
            break;
        }
        wf__conn_next(k);
    }
    wf__core_wake_clear(c);
    c->conn = NULL;
    c->lang = NULL;
    c->state = WF_CS_FREE;
    wf__w.free[wf__w.nfree++] = c;
    wf__conn_close(k);
}
