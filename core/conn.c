/*
 * Connections: accept, reading request heads, admission (a whole head takes
 * a free core or waits in line for one), keep-alive and the idle list.
 *
 * A connection needs no core while the loop reads its head or while it is
 * idle between two requests; slow clients cannot exhaust the cores.
 */
#include "loop.h"
#include "static.h"
#include "stats.h"
#include "policy.h"
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------- accepting */

void
wf__conn_accepting(struct wf__loop *L, int on)
{
    struct wf__listener *l;

    if (L->accepting == on) {
        return;
    }
    for (l = L->listeners; l; l = l->next) {
        L->st->io_set(L, l->fd, on ? WF_IO_READ : 0);
    }
    L->accepting = on;
}

static struct wf__conn *idle_conn(struct wf__loop *L);

/* See loop.h. */
void
wf__conn_share(struct wf__loop *L)
{
    if (L->stopping || L->accept_paused_until) {
        return;
    }
    wf__conn_accepting(L, L->nfree > L->nfresh &&
                          (L->nconns < L->max_conns || idle_conn(L) != NULL));
}

/* ------------------------------------------------------ connections */

/* How long a client may take over a request head (or, kept alive,
 * before its next one). */
long
wf__head_timeout_ms(void)
{
    return (wf__cfg.http_timeout > 0 ? wf__cfg.http_timeout
                                     : wf__cfg.socket_timeout) * 1000;
}


/* The idle list: kept-alive connections between two requests, oldest
 * first, so that one can make room at the connection limit in O(1). */
static void
idle_add(struct wf__conn *k)
{
    struct wf__loop *L = k->loop;

    k->idle = 1;
    k->idle_next = NULL;
    k->idle_prev = L->idle_tail;
    if (L->idle_tail) {
        L->idle_tail->idle_next = k;
    } else {
        L->idle_head = k;
    }
    L->idle_tail = k;
}

static void
idle_del(struct wf__conn *k)
{
    struct wf__loop *L = k->loop;

    if (!k->idle) {
        return;
    }
    k->idle = 0;
    if (k->idle_prev) {
        k->idle_prev->idle_next = k->idle_next;
    } else {
        L->idle_head = k->idle_next;
    }
    if (k->idle_next) {
        k->idle_next->idle_prev = k->idle_prev;
    } else {
        L->idle_tail = k->idle_prev;
    }
}

void
wf__conn_close(struct wf__conn *k)
{
    struct wf__loop *L = k->loop;

    if (k->fresh) {
        k->fresh = 0;
        L->nfresh--;
    }
    wf__body_free(k);
    idle_del(k);
    if (k->all_prev) {
        k->all_prev->all_next = k->all_next;
    } else {
        L->all_head = k->all_next;
    }
    if (k->all_next) {
        k->all_next->all_prev = k->all_prev;
    }
    wf__timer_clear(L, &k->timer);
    L->st->io_set(L, k->fd, 0);
    L->fdtab[k->fd].conn = NULL;
    close(k->fd);
    k->fd = -1;
    k->core = NULL;
    k->buf_len = 0;
    wf__conn_room_reset(k);
    k->next = L->conn_free;
    L->conn_free = k;
    L->nconns--;
    if (!L->stopping && !L->accept_paused_until) {
        wf__conn_accepting(L, 1);
    }
}

static void start_request(struct wf__conn *k, int head_len);

/* Parse what k holds: > 0 the head's length, 0 incomplete, < 0 bad (logged
 * and answered; the caller closes). */
static int
parse_head(struct wf__conn *k)
{
    size_t max_head = (size_t)wf__cfg.buffer_size;
    int r, again = 1;

    for (;;) {
        r = k->lsn->proto == WF_PROTO_HTTP
            ? wf__http_parse_more(k->buf, k->buf_len, max_head, &k->req,
                                  &k->scan)
            : wf__uwsgi_parse(k->buf, k->buf_len, max_head + 4, &k->req);
        /* more variables or longer names than the first room holds: the
         * full room, and the same head parsed again */
        if (r != -431 || !again || wf__conn_req_grow(k) < 0) {
            break;
        }
        again = 0;
    }
    if (r < 0) {
        wf_log(WF_LOG_WARN, "%s: bad request from %s (%d %s); connection "
               "closed", k->lsn->name, k->raddr, -r, wf__http_reason(-r));
        if (k->lsn->proto == WF_PROTO_HTTP) {
            wf__resp_send_error(k, -r);
        }
        /* a dropped uwsgi packet gets no answer, but what is left of it
         * is drained too: a close with unread bytes is a reset (the head
         * buffer starts small, so a refused packet is rarely read whole) */
        k->answered = 1;
    }
    return r;
}

/* The head buffer is full and the head still incomplete: 431, close. */
static int
head_overflow(struct wf__conn *k)
{
    if (k->buf_len < k->buf_cap || wf__conn_buf_grow(k, k->buf_cap + 1) == 0) {
        return 0;
    }
    if (k->lsn->proto == WF_PROTO_HTTP) {
        wf__resp_send_error(k, 431);
        k->answered = 1;
    }
    return 1;
}

/* See loop.h: the one reader of request heads, for both loops. */
int
wf__conn_read_more(struct wf__conn *k)
{
    int fresh = k->buf_len > 0 && k->head_len == 0;

    for (;;) {
        ssize_t n;

        if (fresh) {
            int r = parse_head(k);

            fresh = 0;
            if (r > 0) {
                k->head_len = (size_t)r;
                return 1;
            }
            if (r < 0) {
                return -1;
            }
        }
        if (head_overflow(k)) {
            return -1;
        }
        n = recv(k->fd, k->buf + k->buf_len, k->buf_cap - k->buf_len, 0);
        if (n > 0) {
            k->buf_len += (size_t)n;
            fresh = 1;
            continue;
        }
        if (n == 0) {
            return -1;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        return -1;
    }
}

/* See loop.h. The head timeout is --http-timeout, or --socket-timeout
 * without it (wf__head_timeout_ms). */
void
wf__conn_head_timeout(struct wf__conn *k)
{
    if (k->buf_len > 0 && k->lsn->proto == WF_PROTO_HTTP) {
        wf_log(WF_LOG_WARN, "%s: %s sent no complete request head in %lds "
               "(--http-timeout/--socket-timeout); closed", k->lsn->name,
               k->raddr, wf__head_timeout_ms() / 1000);
        wf__resp_send_error(k, 408);
    }
}

/* The core's loop reads (more of) k's head; starts the request when it is
 * whole, answers 400/431/... when it is bad. */
void
wf__conn_read_head(struct wf__conn *k)
{
    struct wf__loop *L = k->loop;
    int r;

    r = wf__conn_read_more(k);
    if (r > 0) {
        idle_del(k);
        start_request(k, (int)k->head_len);
    } else if (r < 0) {
        /* answered (400, 431): linger, so the answer is not reset */
        if (k->answered) {
            wf__conn_linger(k);
        } else {
            wf__conn_close(k);
        }
    } else {
        wf__io_set(L, k->fd, WF_IO_READ);
        if (k->timer.heap_idx < 0) {
            wf__timer_set(L, &k->timer, wf__now_ms() + wf__head_timeout_ms());
        }
        /* a half-sent head is evictable at the connection limit, like an
         * idle keep-alive connection; it keeps its place (the time it
         * first waited), so the oldest goes first, and a client that
         * dribbles a byte now and then cannot move to the back */
        if (!k->idle) {
            idle_add(k);
        }
    }
}

/* A whole head in k: complete the variables, pick the language, and run
 * it on a free core or queue it for the next one. */
static void attach(struct wf__conn *k, struct wf__core *c);

/* Complete the variables of k's parsed head and check that a language
 * serves it. Returns 0, or the status to refuse it with. */
int
wf__conn_request_vars(struct wf__conn *k)
{
    const struct wf_plugin *lp;
    struct wf__cgi_site site;
    unsigned m1;
    int bad;

    if (k->lsn->proto == WF_PROTO_HTTP) {
        /* the socket's language, or one that claimed the path */
        k->req.modifier1 = (uint8_t)wf__route_http(&k->req,
                                                   k->lsn->modifier1);
    }
    /* the CGI defaults: one rule for HTTP and uwsgi (core/policy.c) */
    site.host = k->lsn->host;
    site.port = k->lsn->is_unix ? NULL : k->lsn->port;
    site.raddr = k->raddr;
    site.rport = k->rport;
    bad = wf__cgi_defaults(&k->req, &site);
    if (bad == -431 && wf__conn_req_grow(k) == 0) {
        /* the defaults added so far are kept, and not added twice */
        bad = wf__cgi_defaults(&k->req, &site);
    }
    if (bad < 0) {
        if (bad == -400) {
            wf_log(WF_LOG_WARN, "%s: %s sent a SERVER_PROTOCOL that is not "
                   "HTTP/x.y; refused with 400", k->lsn->name, k->raddr);
        }
        return -bad;
    }
    if (wf__cfg.limit_post > 0 && k->req.content_length > wf__cfg.limit_post) {
        wf_log(WF_LOG_WARN, "%s: %s sent a body of %lld bytes, over "
               "--limit-post %ld; refused with 413", k->lsn->name, k->raddr,
               (long long)k->req.content_length, wf__cfg.limit_post);
        return 413;
    }
    m1 = k->req.modifier1;
    lp = wf__langs[m1];
    if (lp == NULL && m1 == 0) {
        lp = wf__lang_default;
    }
    if (lp == NULL) {
        wf_log(WF_LOG_WARN, "-- unavailable modifier requested: %u -- (%s, "
               "from %s); load the language plugin for it", m1,
               k->lsn->name, k->raddr);
        return 500;
    }
    if (k->req.chunked && wf__conn_buf_grow(k, wf__conn_buf_max()) < 0
        && k->buf_cap < wf__conn_buf_max()) {
        return 500;     /* no memory for the chunked body's staging */
    }
    wf__body_init(k);
    return 0;
}

static void
start_request(struct wf__conn *k, int head_len)
{
    struct wf__loop *L = k->loop;
    int st;

    k->head_len = (size_t)head_len;
    if (k->fresh) {
        k->fresh = 0;
        L->nfresh--;
    }
    wf__timer_clear(L, &k->timer);
    /* the read interest stays: most connections come back to reading
     * without another byte in between, and then no epoll_ctl is needed;
     * dispatch() drops it if the fd turns ready while the request runs */
    st = wf__conn_request_vars(k);
    if (st != 0) {
        if (k->lsn->proto == WF_PROTO_HTTP) {
            wf__resp_send_error(k, st);
        }
        wf__conn_linger(k);
        return;
    }
    if (L->nfree > 0 && L->ready_head == NULL) {
        attach(k, L->free[--L->nfree]);
        return;
    }
    /* every core is busy: wait in line, in arrival order */
    k->state = WF_CONN_READY;
    k->next = NULL;
    if (L->ready_tail) {
        L->ready_tail->next = k;
    } else {
        L->ready_head = k;
    }
    L->ready_tail = k;
}

void
wf__conn_bind_core(struct wf__conn *k, struct wf__core *c)
{
    unsigned m1 = k->req.modifier1;
    const struct wf_plugin *lp = wf__langs[m1] ? wf__langs[m1]
                                               : wf__lang_default;
    const struct wf_lang_ops *lang = lp->ops;

    k->state = WF_CONN_ACTIVE;
    k->core = c;
    c->conn = k;
    c->lang = lang;
    c->lang_plugin = lp;
    c->lang_switch = wf__sus_ops != NULL && lang->save && lang->restore &&
        !(wf__sus_ops->keeps_lang_state &&
          strcmp(wf__sus_ops->keeps_lang_state, lp->name) == 0);
    c->t_start = wf__now_ms();
    c->switches = 0;
    c->ready_fd = -1;
    c->timed_out = 0;
    c->cancelled = 0;
    wf__core_busy(c, 1);
    wf__resp_init(c);
    wf__static_route(k, c);
    wf__stats_core_begin(c);
}

static void
attach(struct wf__conn *k, struct wf__core *c)
{
    wf__conn_bind_core(k, c);
    wf__runq_push(c);
}

/* The oldest idle keep-alive connection (no byte of its next head yet),
 * or NULL. */
static struct wf__conn *
idle_conn(struct wf__loop *L)
{
    return L->idle_head;
}


/* See loop.h. */
struct wf__conn *
wf__conn_accept_one(struct wf__loop *L, struct wf__listener *l)
{
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    struct wf__conn *k;
    int fd;

    do {
        fd = accept4(l->fd, (struct sockaddr *)&ss, &slen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            /* out of fds or memory: the listener stays readable, so
             * stop watching it for a moment instead of spinning */
            int64_t now = wf__now_ms();

            if (now - L->accept_err_logged >= 1000) {
                wf_log_errno("accept4(%s)", l->name);
                L->accept_err_logged = now;
            }
            wf__conn_accepting(L, 0);
            L->accept_paused_until = now + 100;
        }
        return NULL;
    }
    if ((unsigned)fd >= L->max_fds || (k = wf__conn_get(L)) == NULL) {
        wf_log(WF_LOG_ERROR, "accept4(%s): no room for fd %d (fd table "
               "%u, or out of memory); raise ulimit -n", l->name, fd,
               L->max_fds);
        close(fd);
        return NULL;
    }
    wf__conn_setup(L, k, fd, l, &ss);
    return k;
}

void
wf__conn_accept_some(struct wf__loop *L, struct wf__listener *l)
{
    for (;;) {
        struct wf__conn *k;

        if (L->stopping) {
            return;
        }
        if (L->nconns >= L->max_conns) {
            /* at the limit: the oldest idle keep-alive connection, half-
             * sent head or lingering close makes room (nginx evicts idle
             * keep-alive ones; a client retries a request on a closed
             * idle connection; a head that never completes was going to
             * time out): 60 half-open heads cannot delay a whole request */
            struct wf__conn *idle = idle_conn(L);

            if (idle == NULL) {
                break;
            }
            wf__conn_close(idle);
        }
        k = wf__conn_accept_one(L, l);
        if (k == NULL) {
            break;
        }
        /* the head is usually there already: read it now and save a
         * round through the io engine */
        wf__conn_read_head(k);
        if (L->nfree == 0) {
            /* every core is taken: leave the rest of the backlog to the
             * other workers (a sync worker would take them all, then
             * serve them one by one while its siblings idle) */
            break;
        }
        if (wf__cfg.threads > 1 && L->nfresh >= L->nfree) {
            /* --threads: no more than this loop has cores for (counting
             * the new connections whose heads are still coming); its
             * sibling loops, woken by the same listener, take the rest */
            break;
        }
    }
    if (L->nconns >= L->max_conns && idle_conn(L) == NULL) {
        wf__conn_accepting(L, 0);
    }
}

/* See internal.h. */
void
wf__fmt_ipv4(char *out, const unsigned char *a)
{
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        n += wf__fmt_uint(out + n, a[i], 10);
        out[n++] = i < 3 ? '.' : '\0';
    }
}

void
wf__conn_setup(struct wf__loop *L, struct wf__conn *k, int fd,
               struct wf__listener *l, const struct sockaddr_storage *ss)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    unsigned port;
    int one = 1;

    k->loop = L;
    L->nconns++;
    k->fresh = 1;
    L->nfresh++;
    k->idle = 0;
    k->all_prev = NULL;
    k->all_next = L->all_head;
    if (L->all_head) {
        L->all_head->all_prev = k;
    }
    L->all_head = k;
    k->fd = fd;
    k->lsn = l;
    k->buf_len = 0;
    k->head_len = 0;
    wf__http_scan_init(&k->scan);
    k->answered = 0;
    k->requests = 0;
    k->core = NULL;
    k->state = WF_CONN_READING;
    wf__req_reset(&k->req);
    L->fdtab[fd].conn = k;
    L->fdtab[fd].core = NULL;
    L->fdtab[fd].interest = 0;
    if (ss->ss_family == AF_INET) {
        wf__fmt_ipv4(k->raddr, (const unsigned char *)&s4->sin_addr);
        port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6 &&
               IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        wf__fmt_ipv4(k->raddr, &s6->sin6_addr.s6_addr[12]);
        port = ntohs(s6->sin6_port);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &s6->sin6_addr, k->raddr, sizeof(k->raddr));
        port = ntohs(s6->sin6_port);
    } else {
        memcpy(k->raddr, "unix", sizeof("unix"));
        memcpy(k->rport, "0", sizeof("0"));
        return;
    }
    k->rport[wf__fmt_uint(k->rport, port, 10)] = '\0';
    if (!l->nodelay) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/* k carries its next request: what follows the body is its head. */
void
wf__conn_next(struct wf__conn *k)
{
    size_t left = k->buf_len - k->body_off;

    memmove(k->buf, k->buf + k->body_off, left);
    k->buf_len = left;
    /* a large head is over: back to the block's own room */
    wf__conn_room_shrink(k);
    k->head_len = 0;
    wf__http_scan_init(&k->scan);
    k->state = WF_CONN_READING;
    wf__req_reset(&k->req);
}

void
wf__conn_end_request(struct wf__core *c)
{
    struct wf__loop *L = c->loop;
    struct wf__conn *k = c->conn;
    int keep = wf__request_done(c, k);

    /* the core is free again: the first waiting head takes it */
    wf__core_free(c);
    if (L->ready_head != NULL) {
        struct wf__conn *next = L->ready_head;

        L->ready_head = next->next;
        if (L->ready_head == NULL) {
            L->ready_tail = NULL;
        }
        attach(next, L->free[--L->nfree]);
    }
    if (!keep) {
        /* a body the app did not read, or bytes after it: a close now
         * would reset the connection under the response */
        if (!c->resp.broken && (!k->body_done || k->buf_len > k->body_off)) {
            wf__conn_linger(k);
        } else {
            wf__conn_close(k);
        }
        return;
    }
    wf__conn_next(k);
    if (k->buf_len > 0) {
        wf__conn_read_head(k);
        return;
    }
    /* idle keep-alive: the io engine says when the next request comes
     * (no recv() that would only say EAGAIN) */
    wf__io_set(L, k->fd, WF_IO_READ);
    wf__timer_set(L, &k->timer, wf__now_ms() + wf__head_timeout_ms());
    idle_add(k);
}

/*
 * Lingering close (nginx's lingering_close): the answer went out but the
 * client may still be sending (a 1 MiB header line refused with 431, a
 * body nobody read). close() with unread input sends a reset, and a reset
 * can destroy the answer before the client reads it, or fail the client's
 * send before it ever reads. So shut our side (the client sees the end of
 * the response), then read and drop what comes, at most LINGER_BYTES for
 * at most LINGER_MS, then close. The connection waits on the idle list:
 * at the connection limit it is among the first to go.
 */
void
wf__conn_linger(struct wf__conn *k)
{
    struct wf__loop *L = k->loop;

    if ((k->lsn->proto != WF_PROTO_HTTP && !k->answered)
        || L->stopping == 2) {
        wf__conn_close(k);
        return;
    }
    shutdown(k->fd, SHUT_WR);
    idle_del(k);
    k->state = WF_CONN_LINGER;
    k->linger_left = WF__LINGER_BYTES;
    wf__timer_clear(L, &k->timer);
    wf__timer_set(L, &k->timer, wf__now_ms() + WF__LINGER_MS);
    idle_add(k);
    wf__conn_linger_read(k);
}

void
wf__conn_linger_read(struct wf__conn *k)
{
    char sink[16384];

    for (;;) {
        ssize_t n = recv(k->fd, sink, sizeof(sink), 0);

        if (n > 0) {
            k->linger_left -= n;
            if (k->linger_left <= 0) {
                break;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wf__io_set(k->loop, k->fd, WF_IO_READ);
            return;
        }
        break;  /* the client closed too, or an error */
    }
    wf__conn_close(k);
}

/* While stopping: a connection with nothing in flight gets a second for
 * a request already on its way (answered with Connection: close), then
 * goes; `all`: it goes now. A client that is sending right now is not
 * cut. */
void
wf__conn_close_idle(struct wf__loop *L, int all)
{
    struct wf__conn *k = L->all_head, *next;
    int64_t grace = wf__now_ms() + 1000;

    for (; k != NULL; k = next) {
        next = k->all_next;
        if (k->state != WF_CONN_READING || k->buf_len != 0) {
            continue;
        }
        if (all) {
            wf__conn_close(k);
        } else if (k->timer.heap_idx < 0 || k->timer.deadline > grace) {
            /* idle keep-alive, or accepted and its head not here yet: a
             * second for a request already on its way, then it goes */
            wf__timer_set(L, &k->timer, grace);
        }
    }
}
