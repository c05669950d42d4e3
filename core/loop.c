/*
 * The worker: connections, async cores, the run queue, fd waits, and the
 * default loop (io wait -> accept / read heads / wake waiters -> timers ->
 * run queue).
 *
 * A connection needs no core while the loop reads its head or while it is
 * idle between two requests; slow clients cannot exhaust the cores. A whole
 * head takes a free core (or waits, in order, for one):
 *   core: FREE -> QUEUED -> RUNNING -> WAITING (fds / timer) -> QUEUED ...
 *         -> DONE -> FREE; the connection reads its next head.
 * With a suspend engine RUNNING happens on the core's own context
 * (wf_core_body); without one, handle() runs on the loop's stack and only a
 * generator's yield (WF_AGAIN) gives the worker away.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#define BODY_STAGING 16384
#define MAX_EVENTS 64

static volatile sig_atomic_t got_signal;

/* --------------------------------------------------------- small API */

WF_API const char *
wf_version(void)
{
    return PACKAGE_VERSION;
}

WF_API unsigned
wf_worker_id(void)
{
    return wf__w.id;
}

WF_API unsigned
wf_ncores(void)
{
    return wf__cfg.async > 0 ? (unsigned)wf__cfg.async : 1;
}

WF_API int
wf_has_suspend_engine(void)
{
    return wf__sus_ops != NULL;
}

WF_API const char *
wf_suspend_engine_name(void)
{
    return wf__sus_plugin ? wf__sus_plugin->name : NULL;
}

WF_API struct wf_core *
wf_core_current(void)
{
    if (wf__loop_ops != NULL) {
        return wf__loop_ops->current();
    }
    return wf__w.current ? &wf__w.current->pub : NULL;
}

WF_API long
wf_socket_timeout_ms(void)
{
    return wf__cfg.socket_timeout * 1000;
}

WF_API const struct wf_var *
wf_req_vars(const struct wf_core *c, unsigned *n)
{
    const struct wf__conn *k = ((const struct wf__core *)c)->conn;

    *n = k->req.nvars;
    return k->req.vars;
}

WF_API const char *
wf_req_get(const struct wf_core *c, const char *key, size_t *vlen)
{
    return wf__req_get(&((const struct wf__core *)c)->conn->req, key, vlen);
}

WF_API unsigned
wf_req_modifier1(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->conn->req.modifier1;
}

WF_API int
wf_req_fd(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->conn->fd;
}

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

/* --------------------------------------------------------- accepting */

static void
set_accepting(int on)
{
    struct wf__listener *l;

    if (wf__w.accepting == on || wf__loop_ops != NULL) {
        return;
    }
    for (l = wf__listeners; l; l = l->next) {
        wf__io_set(l->fd, on ? WF_IO_READ : 0);
    }
    wf__w.accepting = on;
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

/* ------------------------------------------------------ connections */

/* How long a client may take over a request head (or, kept alive,
 * before its next one). */
static long
head_timeout_ms(void)
{
    return (wf__cfg.http_timeout > 0 ? wf__cfg.http_timeout
                                     : wf__cfg.socket_timeout) * 1000;
}

static struct wf__conn *
conn_get(void)
{
    struct wf__conn *k = wf__w.conn_free;
    size_t arena = (size_t)wf__cfg.buffer_size * 2 + 1024;

    if (k != NULL) {
        wf__w.conn_free = k->next;
        return k;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return NULL;
    }
    k->buf_cap = (size_t)wf__cfg.buffer_size + 4 + BODY_STAGING;
    k->buf = malloc(k->buf_cap);
    k->req.vars = calloc((size_t)wf__cfg.max_vars, sizeof(struct wf_var));
    k->req.max_vars = (unsigned)wf__cfg.max_vars;
    k->req.arena = malloc(arena);
    k->req.arena_cap = arena;
    k->timer.is_conn = 1;
    k->timer.heap_idx = -1;
    if (!k->buf || !k->req.vars || !k->req.arena) {
        free(k->buf);
        free(k->req.vars);
        free(k->req.arena);
        free(k);
        return NULL;
    }
    return k;
}

/* The idle list: kept-alive connections between two requests, oldest
 * first, so that one can make room at the connection limit in O(1). */
static void
idle_add(struct wf__conn *k)
{
    k->idle = 1;
    k->idle_next = NULL;
    k->idle_prev = wf__w.idle_tail;
    if (wf__w.idle_tail) {
        wf__w.idle_tail->idle_next = k;
    } else {
        wf__w.idle_head = k;
    }
    wf__w.idle_tail = k;
}

static void
idle_del(struct wf__conn *k)
{
    if (!k->idle) {
        return;
    }
    k->idle = 0;
    if (k->idle_prev) {
        k->idle_prev->idle_next = k->idle_next;
    } else {
        wf__w.idle_head = k->idle_next;
    }
    if (k->idle_next) {
        k->idle_next->idle_prev = k->idle_prev;
    } else {
        wf__w.idle_tail = k->idle_prev;
    }
}

static void
conn_close(struct wf__conn *k)
{
    idle_del(k);
    if (k->all_prev) {
        k->all_prev->all_next = k->all_next;
    } else {
        wf__w.all_head = k->all_next;
    }
    if (k->all_next) {
        k->all_next->all_prev = k->all_prev;
    }
    wf__timer_clear(&k->timer);
    wf__io_set(k->fd, 0);
    wf__w.fdtab[k->fd].conn = NULL;
    close(k->fd);
    k->fd = -1;
    k->core = NULL;
    k->next = wf__w.conn_free;
    wf__w.conn_free = k;
    wf__w.nconns--;
    if (!wf__w.stopping && !wf__w.accept_paused_until) {
        set_accepting(1);
    }
}

static void start_request(struct wf__conn *k, int head_len);

/* Parse what k holds: > 0 the head's length, 0 incomplete, < 0 bad (logged
 * and answered; the caller closes). */
static int
parse_head(struct wf__conn *k)
{
    size_t max_head = (size_t)wf__cfg.buffer_size;
    int r = k->lsn->proto == WF_PROTO_HTTP
        ? wf__http_parse(k->buf, k->buf_len, max_head, &k->req)
        : wf__uwsgi_parse(k->buf, k->buf_len, max_head + 4, &k->req);

    if (r < 0) {
        wf_log(WF_LOG_WARN, "%s: bad request from %s (%d %s); connection "
               "closed", k->lsn->name, k->raddr, -r, wf__http_reason(-r));
        if (k->lsn->proto == WF_PROTO_HTTP) {
            wf__resp_send_error(k, -r);
        }
    }
    return r;
}

/* The head buffer is full and the head still incomplete: 431, close. */
static int
head_overflow(struct wf__conn *k)
{
    if (k->buf_len < k->buf_cap) {
        return 0;
    }
    if (k->lsn->proto == WF_PROTO_HTTP) {
        wf__resp_send_error(k, 431);
    }
    return 1;
}

/* The loop reads (more of) k's head; parses; starts the request when it is
 * whole, answers 400/431/... when it is bad. */
static void
read_head(struct wf__conn *k)
{
    int fresh = k->buf_len > 0;

    idle_del(k);
    for (;;) {
        ssize_t n;

        if (fresh) {
            int r = parse_head(k);

            fresh = 0;
            if (r > 0) {
                start_request(k, r);
                return;
            }
            if (r < 0) {
                conn_close(k);
                return;
            }
        }
        if (head_overflow(k)) {
            conn_close(k);
            return;
        }
        n = recv(k->fd, k->buf + k->buf_len, k->buf_cap - k->buf_len, 0);
        if (n > 0) {
            k->buf_len += (size_t)n;
            fresh = 1;
            continue;
        }
        if (n == 0) {
            conn_close(k);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wf__io_set(k->fd, WF_IO_READ);
            if (k->timer.heap_idx < 0) {
                wf__timer_set(&k->timer, wf__now_ms() + head_timeout_ms());
            }
            return;
        }
        conn_close(k);
        return;
    }
}

static int
add_var_if_missing(struct wf__conn *k, const char *key, const char *v)
{
    if (wf__req_get(&k->req, key, NULL) != NULL) {
        return 0;
    }
    return wf__req_add_var(&k->req, key, strlen(key), v, strlen(v));
}

/* A whole head in k: complete the variables, pick the language, and run
 * it on a free core or queue it for the next one. */
static void attach(struct wf__conn *k, struct wf__core *c);

/* Complete the variables of k's parsed head and check that a language
 * serves it. Returns 0, or the status to refuse it with. */
static int
request_vars(struct wf__conn *k)
{
    const struct wf_plugin *lp;
    unsigned m1;
    int bad = 0;

    if (k->lsn->proto == WF_PROTO_HTTP) {
        const char *host;
        size_t hlen;
        char name[256];

        k->req.modifier1 = (uint8_t)k->lsn->modifier1;
        host = wf__req_get(&k->req, "HTTP_HOST", &hlen);
        if (host != NULL && hlen > 0 && hlen < sizeof(name)) {
            /* SERVER_NAME is the Host without its port */
            const char *end = host + hlen, *p = end;

            if (host[0] == '[') {
                p = memchr(host, ']', hlen);
                p = p ? p + 1 : end;
            } else {
                const char *colon = memchr(host, ':', hlen);

                p = colon ? colon : end;
            }
            snprintf(name, sizeof(name), "%.*s", (int)(p - host), host);
        } else {
            snprintf(name, sizeof(name), "%s", k->lsn->host);
        }
        bad |= add_var_if_missing(k, "SERVER_NAME", name);
        bad |= add_var_if_missing(k, "SERVER_PORT", k->lsn->port);
        bad |= add_var_if_missing(k, "SCRIPT_NAME", "");
    }
    bad |= add_var_if_missing(k, "REMOTE_ADDR", k->raddr);
    bad |= add_var_if_missing(k, "REMOTE_PORT", k->rport);
    if (bad) {
        return 431;
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
    wf__body_init(k);
    return 0;
}

static void
start_request(struct wf__conn *k, int head_len)
{
    int st;

    k->head_len = (size_t)head_len;
    wf__timer_clear(&k->timer);
    /* the read interest stays: most connections come back to reading
     * without another byte in between, and then no epoll_ctl is needed;
     * dispatch() drops it if the fd turns ready while the request runs */
    st = request_vars(k);
    if (st != 0) {
        if (k->lsn->proto == WF_PROTO_HTTP) {
            wf__resp_send_error(k, st);
        }
        conn_close(k);
        return;
    }
    if (wf__w.nfree > 0 && wf__w.ready_head == NULL) {
        attach(k, wf__w.free[--wf__w.nfree]);
        return;
    }
    /* every core is busy: wait in line, in arrival order */
    k->state = WF_CONN_READY;
    k->next = NULL;
    if (wf__w.ready_tail) {
        wf__w.ready_tail->next = k;
    } else {
        wf__w.ready_head = k;
    }
    wf__w.ready_tail = k;
}

static void
bind_core(struct wf__conn *k, struct wf__core *c)
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
    c->in_request = 1;
    wf__resp_init(c);
}

static void
attach(struct wf__conn *k, struct wf__core *c)
{
    bind_core(k, c);
    wf__runq_push(c);
}

/* The oldest idle keep-alive connection (no byte of its next head yet),
 * or NULL. */
static struct wf__conn *
idle_conn(void)
{
    return wf__w.idle_head;
}

static void conn_setup(struct wf__conn *k, int fd, struct wf__listener *l,
                       const struct sockaddr_storage *ss);

static void
accept_some(struct wf__listener *l)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        struct wf__conn *k;
        int fd;

        if (wf__w.stopping) {
            return;
        }
        if (wf__w.nconns >= wf__w.max_conns) {
            /* at the limit: an idle keep-alive connection makes room (as
             * nginx does); clients retry a request on a closed idle
             * connection */
            struct wf__conn *idle = idle_conn();

            if (idle == NULL) {
                break;
            }
            conn_close(idle);
        }
        fd = accept4(l->fd, (struct sockaddr *)&ss, &slen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* out of fds or memory: the listener stays readable, so
                 * stop watching it for a moment instead of spinning */
                int64_t now = wf__now_ms();

                if (now - wf__w.accept_err_logged >= 1000) {
                    wf_log_errno("accept4(%s)", l->name);
                    wf__w.accept_err_logged = now;
                }
                set_accepting(0);
                wf__w.accept_paused_until = now + 100;
            }
            break;
        }
        if ((unsigned)fd >= wf__w.max_fds || (k = conn_get()) == NULL) {
            wf_log(WF_LOG_ERROR, "accept4(%s): no room for fd %d (fd table "
                   "%u, or out of memory); raise ulimit -n", l->name, fd,
                   wf__w.max_fds);
            close(fd);
            break;
        }
        conn_setup(k, fd, l, &ss);
        /* the head is usually there already: read it now and save a
         * round through the io engine */
        read_head(k);
    }
    if (wf__w.nconns >= wf__w.max_conns && idle_conn() == NULL) {
        set_accepting(0);
    }
}

static void
conn_setup(struct wf__conn *k, int fd, struct wf__listener *l,
           const struct sockaddr_storage *ss)
{
    int one = 1;

    wf__w.nconns++;
    k->idle = 0;
    k->all_prev = NULL;
    k->all_next = wf__w.all_head;
    if (wf__w.all_head) {
        wf__w.all_head->all_prev = k;
    }
    wf__w.all_head = k;
    k->fd = fd;
    k->lsn = l;
    k->buf_len = 0;
    k->head_len = 0;
    k->requests = 0;
    k->core = NULL;
    k->state = WF_CONN_READING;
    wf__req_reset(&k->req);
    wf__w.fdtab[fd].conn = k;
    wf__w.fdtab[fd].core = NULL;
    wf__w.fdtab[fd].interest = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &s4->sin_addr, k->raddr, sizeof(k->raddr));
        snprintf(k->rport, sizeof(k->rport), "%u", ntohs(s4->sin_port));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], k->raddr,
                      sizeof(k->raddr));
        } else {
            inet_ntop(AF_INET6, &s6->sin6_addr, k->raddr, sizeof(k->raddr));
        }
        snprintf(k->rport, sizeof(k->rport), "%u", ntohs(s6->sin6_port));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else {
        snprintf(k->raddr, sizeof(k->raddr), "%s", "unix");
        snprintf(k->rport, sizeof(k->rport), "%s", "0");
    }
}

/* ------------------------------------------------------ the requests */

/* After handle() returned st (on the loop's stack or the core's). */
static int
after_handle(struct wf__core *c, int st)
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

static void
default_body(struct wf__core *c)
{
    for (;;) {
        int st = c->lang->handle(&c->pub);

        if (!after_handle(c, st)) {
            return;
        }
        if (wf_suspend(&c->pub) < 0) {
            /* cancelled between two chunks: the language drops the rest */
            if (c->lang->release) {
                c->lang->release(&c->pub);
            }
            after_handle(c, WF_ERROR);
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
    default_body(wf__core(pub));
}

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
static int
request_done(struct wf__core *c, struct wf__conn *k)
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
        set_accepting(0);
        if (wf__loop_ops != NULL && write(wf__w.sigpipe[1], "m", 1) < 0) {
            /* the loop engine looks at the control fd anyway */
        }
        keep = 0;
    }
    return keep;
}

/* k carries its next request: what follows the body is its head. */
static void
conn_next(struct wf__conn *k)
{
    size_t left = k->buf_len - k->body_off;

    memmove(k->buf, k->buf + k->body_off, left);
    k->buf_len = left;
    k->head_len = 0;
    k->state = WF_CONN_READING;
    wf__req_reset(&k->req);
}

static void
end_request(struct wf__core *c)
{
    struct wf__conn *k = c->conn;
    int keep = request_done(c, k);

    /* the core is free again: the first waiting head takes it */
    c->conn = NULL;
    c->lang = NULL;
    c->state = WF_CS_FREE;
    k->core = NULL;
    wf__w.free[wf__w.nfree++] = c;
    if (wf__w.ready_head != NULL) {
        struct wf__conn *next = wf__w.ready_head;

        wf__w.ready_head = next->next;
        if (wf__w.ready_head == NULL) {
            wf__w.ready_tail = NULL;
        }
        attach(next, wf__w.free[--wf__w.nfree]);
    }
    if (!keep) {
        conn_close(k);
        return;
    }
    conn_next(k);
    if (k->buf_len > 0) {
        read_head(k);
        return;
    }
    /* idle keep-alive: the io engine says when the next request comes
     * (no recv() that would only say EAGAIN) */
    wf__io_set(k->fd, WF_IO_READ);
    wf__timer_set(&k->timer, wf__now_ms() + head_timeout_ms());
    idle_add(k);
}

static void
run_core(struct wf__core *c)
{
    const struct wf_lang_ops *lang = c->lang;

    wf__w.current = c;
    c->state = WF_CS_RUNNING;
    if (wf__slot != NULL) {
        /* for the master's harakiri: what runs, since when */
        size_t ml = 0, ul = 0;
        const char *m = wf__req_get(&c->conn->req, "REQUEST_METHOD", &ml);
        const char *u = wf__req_get(&c->conn->req, "REQUEST_URI", &ul);

        snprintf(wf__slot->req, sizeof(wf__slot->req), "%.*s %.*s from %s",
                 (int)ml, m ? m : "-", (int)ul, u ? u : "-",
                 c->conn->raddr);
        wf__slot->busy_core = c->pub.id;
        wf__slot->busy_since = wf__now_ms();
    }
    if (c->cancelled && wf__sus_ops == NULL) {
        /* cancelled between two handle() calls: nothing runs any more */
        if (lang->release) {
            lang->release(&c->pub);
        }
        after_handle(c, WF_ERROR);
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
            after_handle(c, WF_ERROR);
        }
    } else {
        int st = lang->handle(&c->pub);

        if (after_handle(c, st)) {
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
        end_request(c);
    }
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
    size_t ml = 0, ul = 0;
    const char *m, *u;

    if (c->conn == NULL || !c->in_request || c->cancelled) {
        return;
    }
    m = wf__req_get(&c->conn->req, "REQUEST_METHOD", &ml);
    u = wf__req_get(&c->conn->req, "REQUEST_URI", &ul);
    wf_log(WF_LOG_ERROR, "HARAKIRI: core %u of worker %u: %.*s %.*s from %s "
           "has run for %llds (--harakiri %ld); cancelled with 504, the "
           "other requests go on%s%s", c->pub.id, wf__w.id, (int)ml,
           m ? m : "-", (int)ul, u ? u : "-", c->conn->raddr,
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
static void
check_harakiri(int64_t now)
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

static int
core_waits_on(const struct wf__core *c, int fd)
{
    unsigned i;

    for (i = 0; i < c->nwaits; i++) {
        if (c->waits[i].fd == fd) {
            return 1;
        }
    }
    return 0;
}

static void
wake(struct wf__core *c, int fd)
{
    wf__core_wake_clear(c);
    c->ready_fd = fd;
    c->timed_out = 0;
    wf__runq_push(c);
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

static void
timer_fired(struct wf__tnode *t)
{
    if (t->is_conn) {
        struct wf__conn *k = (struct wf__conn *)t;

        if (k->state == WF_CONN_READING) {
            if (k->buf_len > 0 && k->lsn->proto == WF_PROTO_HTTP) {
                wf_log(WF_LOG_WARN, "%s: %s sent no complete request head "
                       "in %lds (--http-timeout/--socket-timeout); closed",
                       k->lsn->name, k->raddr, head_timeout_ms() / 1000);
                wf__resp_send_error(k, 408);
            }
            conn_close(k);
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
        accept_some(e->lsn);
        return;
    }
    if (e->core != NULL && e->core->state == WF_CS_WAITING &&
        core_waits_on(e->core, ev->fd)) {
        wake(e->core, ev->fd);
        return;
    }
    if (e->conn != NULL && e->conn->state == WF_CONN_READING) {
        read_head(e->conn);
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
static void
reopen_log(void)
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

    got_signal = sig;
    if (write(wf__w.sigpipe[1], "s", 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
    errno = saved;
}

/* While stopping: a connection with nothing in flight gets a second for
 * a request already on its way (answered with Connection: close), then
 * goes; `all`: it goes now. A client that is sending right now is not
 * cut. */
static void
close_idle(int all)
{
    struct wf__conn *k = wf__w.all_head, *next;
    int64_t grace = wf__now_ms() + 1000;

    for (; k != NULL; k = next) {
        next = k->all_next;
        if (k->state != WF_CONN_READING || k->buf_len != 0) {
            continue;
        }
        if (all) {
            conn_close(k);
        } else if (k->timer.heap_idx < 0 || k->timer.deadline > grace) {
            /* idle keep-alive, or accepted and its head not here yet: a
             * second for a request already on its way, then it goes */
            wf__timer_set(&k->timer, grace);
        }
    }
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
        set_accepting(1);
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

        if (got_signal) {
            int sig = got_signal;

            got_signal = 0;
            if (sig == SIGQUIT) {
                wf_log(WF_LOG_INFO, "worker %u: SIGQUIT, stopping now", id);
                now_exit = 1;
                break;
            }
            if (sig == SIGUSR2) {
                reopen_log();
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
                set_accepting(0);
            }
            close_idle(wf__now_ms() > stop_deadline);
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
            set_accepting(1);
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
            check_harakiri(now);
            next_harakiri = now + 500;
        }
        run_queue();
    }
    worker_fini(now_exit);
    return 0;
}

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
    if (got_signal) {
        int sig = got_signal;

        got_signal = 0;
        if (sig == SIGQUIT) {
            wf_log(WF_LOG_INFO, "worker %u: SIGQUIT, stopping now", wf__w.id);
            wf__w.stopping = 2;
        } else if (sig == SIGUSR2) {
            reopen_log();
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
    if ((unsigned)fd >= wf__w.max_fds || (k = conn_get()) == NULL) {
        wf_log(WF_LOG_ERROR, "accept4(%s): no room for fd %d; raise "
               "ulimit -n", l->name, fd);
        close(fd);
        return NULL;
    }
    conn_setup(k, fd, l, &ss);
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
            int r = parse_head(k);

            fresh = 0;
            if (r > 0) {
                k->head_len = (size_t)r;
                return 1;
            }
            if (r < 0) {
                return 0;
            }
        }
        if (head_overflow(k)) {
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
            r = wf__loop_ops->wait(&c->pub, &ev, 1, head_timeout_ms(),
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
        int st = request_vars(k);

        if (st != 0) {
            if (k->lsn->proto == WF_PROTO_HTTP) {
                wf__resp_send_error(k, st);
            }
            break;
        }
        bind_core(k, c);
        c->state = WF_CS_RUNNING;
        default_body(c);
        if (!request_done(c, k)) {
            break;
        }
        conn_next(k);
    }
    wf__core_wake_clear(c);
    c->conn = NULL;
    c->lang = NULL;
    c->state = WF_CS_FREE;
    wf__w.free[wf__w.nfree++] = c;
    conn_close(k);
}
