/*
 * The stats server (uWSGI's --stats, --stats-http) and the per-core
 * scoreboard behind it.
 *
 * Each worker writes what it does into shared memory mapped by the master
 * before the first fork: per core its state (idle, running, reading,
 * writing, waiting on fd N and/or a timer, queued), since when, and the
 * request's method and URI; per worker its counters (requests by status
 * class, exceptions, harakiri, bytes in and out, time spent in requests)
 * and its loop's lag. The writes are plain stores into the worker's own
 * slot: no lock, no system call, nothing the worker waits for.
 *
 * A separate small process, forked by the master, answers the stats
 * socket from that memory (and /proc/PID/statm for the memory figures): a
 * scrape costs the workers nothing, an idle worker is not even woken, and
 * a client that reads slowly delays only other scrapes. The JSON has
 * uWSGI's shape (uwsgitop reads it unchanged) with weft's figures added;
 * /metrics (with --stats-http) or --stats-prometheus gives the same
 * figures in the Prometheus text format.
 *
 * A torn read (a worker writing while the server reads) is possible for
 * the strings of a core; each core's record carries a sequence number that
 * is odd while it is written, and the server retries such a record.
 */
#include "internal.h"
#include "stats.h"
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ options */

static struct {
    char *addr;
    int http;
    int prometheus;
    int minified;
    int no_cores;
    int no_metrics;
} cfg;

static int listen_fd = -1;

/* Bind --stats ADDR now (start-up, master context), so that a bad
 * address stops the start with the option named. */
static int
stats_bind(const struct wf_option *opt, const char *value,
           struct wf_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[160], path[300];
    const char *a = value;
    int fam, fd, one = 1;

    (void)opt;
    if (value == NULL || *value == '\0') {
        return wf_err_set(err, "--stats needs an address (127.0.0.1:9191 "
                          "or /run/weft/stats.sock)");
    }
    /* uWSGI takes "stats.sock" as a path too */
    if (strchr(value, ':') == NULL && value[0] != '/' && value[0] != '.' &&
        value[0] != '@') {
        snprintf(path, sizeof(path), "./%s", value);
        a = path;
    }
    fam = wf__addr_parse(a, 1, &ss, &len, why, sizeof(why));
    if (fam < 0) {
        return wf_err_set(err, "--stats %s: %s", value, why);
    }
    fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return wf_err_set(err, "--stats %s: socket(): %s", value,
                          strerror(errno));
    }
    if (fam != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    } else if (a[0] != '@') {
        struct stat st;

        /* a socket left by a previous run */
        if (stat(a, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(a);
        }
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        int e = errno;

        close(fd);
        return wf_err_set(err, "--stats %s: %s; give a free address",
                          value, strerror(e));
    }
    if (listen_fd >= 0) {
        close(listen_fd);
    }
    listen_fd = fd;
    /* the stats are the master's: they need one */
    wf__cfg.master = 1;
    return 0;
}

/* See stats.h. */
const struct wf_option wf__stats_options[] = {
    { "stats", WF_OPT_STR, &cfg.addr, NULL, 0, 0, 0,
      "serve the stats JSON (uWSGI's shape: uwsgitop reads it) on ADDR "
      "(TCP or UNIX); runs a master", 0, stats_bind, "ADDR" },
    { "stats-server", WF_OPT_STR, &cfg.addr, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "same as --stats", 0, stats_bind, "ADDR" },
    { "stats-http", WF_OPT_FLAG, &cfg.http, NULL, 0, 0, 0,
      "answer the stats socket over HTTP (GET /: JSON, GET /metrics: "
      "Prometheus)", 0, NULL, NULL },
    { "stats-minified", WF_OPT_FLAG, &cfg.minified, NULL, 0, 0, 0,
      "send the stats JSON without line breaks and indentation", 0, NULL,
      NULL },
    { "stats-min", WF_OPT_FLAG, &cfg.minified, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "same as --stats-minified", 0, NULL, NULL },
    { "stats-no-cores", WF_OPT_FLAG, &cfg.no_cores, NULL, 0, 0, 0,
      "leave the per-core list out of the stats JSON (workers and totals "
      "stay)", 0, NULL, NULL },
    { "stats-no-metrics", WF_OPT_FLAG, &cfg.no_metrics, NULL, 0, 0, 0,
      "uWSGI's: no \"metrics\" object in the JSON; weft's JSON never has "
      "one (its figures are the workers' keys and /metrics)", 0, NULL,
      NULL },
    { "stats-prometheus", WF_OPT_FLAG, &cfg.prometheus, NULL, 0, 0, 0,
      "answer the stats socket with the Prometheus text format, over "
      "HTTP", 0, NULL, NULL },
    { NULL }
};

/* --------------------------------------------------------- scoreboard */

enum sb_state {
    SB_IDLE = 0,
    SB_RUNNING,
    SB_WAITING,     /* fd and/or timer */
    SB_QUEUED,      /* on the run queue */
};

#define SB_URI 120

struct sb_core {
    volatile uint32_t seq;          /* odd while written */
    volatile int32_t state;
    volatile int32_t wait_fd;       /* -1: none */
    volatile uint32_t wait_ev;      /* WF_IO_* */
    volatile int32_t wait_timer;
    volatile int32_t own_fd;        /* the request's client socket */
    volatile int32_t in_request;
    volatile int32_t is_static;
    volatile int64_t since;         /* state since, epoch ms */
    volatile int64_t req_start;     /* epoch us */
    volatile uint64_t requests, static_requests, write_errors, read_errors;
    char method[16];
    char uri[SB_URI];
};

struct sb_worker {
    volatile pid_t owner;           /* the pid these figures are about */
    volatile int64_t last_spawn;    /* epoch s */
    volatile uint64_t exceptions, harakiri, tx, rx, running_us;
    volatile uint64_t status[6];    /* [1..5]: 1xx .. 5xx */
    volatile uint64_t static_requests;
    volatile int64_t lag_ms;        /* longest lag in the last window */
    volatile int64_t lag_prev_ms;   /* of the window before */
    volatile int64_t lag_window;    /* epoch s of the window */
    volatile uint32_t ncores;
};

struct sb_head {
    unsigned nslots, ncores;
    struct sb_wid {                 /* per worker id (1..nslots) */
        uint32_t spawns;            /* times it was started */
        uint32_t cheap;             /* --cheaper stopped it (the master) */
    } wid[];
};

/* A worker's counters are added to by each of its loops (--threads): one
 * atomic add, no lock. A core's record is written by its own loop only. */
#define SB_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

static struct sb_head *sb;          /* NULL without --stats */
static size_t sb_size;
static struct wf__slot *sb_slots;
static struct sb_worker *me;        /* this worker's, in a worker */
static struct sb_core *my_cores;
static __thread int64_t lag_mark;   /* when the loop woke up, ms */
static __thread int64_t hb_last;

static size_t
head_size(unsigned nslots)
{
    size_t s = sizeof(struct sb_head) + (nslots + 1) * sizeof(struct sb_wid);

    return (s + 63) & ~(size_t)63;
}

static size_t
worker_size(unsigned ncores)
{
    size_t s = sizeof(struct sb_worker) + ncores * sizeof(struct sb_core);

    return (s + 63) & ~(size_t)63;
}

static struct sb_worker *
sb_worker(unsigned slot)
{
    return (struct sb_worker *)((char *)sb + head_size(sb->nslots) +
                                slot * worker_size(sb->ncores));
}

static struct sb_core *
sb_cores(struct sb_worker *w)
{
    return (struct sb_core *)(w + 1);
}

static int64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_ms(void)
{
    return wall_us() / 1000;
}

static void
lag_note(int64_t ms)
{
    int64_t now = wall_ms() / 1000;

    if (me->lag_window != now) {
        /* a new one-second window: keep the last one whole */
        me->lag_prev_ms = me->lag_window == now - 1 ? me->lag_ms : 0;
        me->lag_ms = 0;
        me->lag_window = now;
    }
    if (ms > me->lag_ms) {
        me->lag_ms = ms;
    }
}

/* The core's loop: between waking up and going back to sleep it runs
 * cores; that stretch is how late an event can be seen. Registered with
 * the languages' loop_wait hooks. */
static void
lag_hook(int entering)
{
    int64_t now = wf__now_ms();

    if (entering) {
        if (lag_mark != 0) {
            lag_note(now - lag_mark);
        }
        lag_mark = 0;
    } else {
        lag_mark = now;
    }
}

/* See stats.h. */
void
wf__stats_heartbeat(void)
{
    int64_t now;

    if (me == NULL) {
        return;
    }
    now = wf__now_ms();
    if (hb_last != 0 && now - hb_last > 500) {
        lag_note(now - hb_last - 500);
    }
    hb_last = now;
}

/* See stats.h. */
void
wf__stats_loop_init(struct wf__loop *L)
{
    static pid_t inited;
    unsigned slot, i;

    if (listen_fd >= 0) {
        close(listen_fd);   /* the stats server's, not ours */
        listen_fd = -1;
    }
    if (sb == NULL || L->slot == NULL) {
        return;
    }
    if (L->nwaiters < sizeof(L->waiters) / sizeof(*L->waiters)) {
        L->waiters[L->nwaiters++] = lag_hook;
    }
    if (inited == getpid()) {
        return;     /* another loop of this worker */
    }
    inited = getpid();
    slot = (unsigned)(L->slot - sb_slots);
    if (slot >= sb->nslots) {
        return;
    }
    me = sb_worker(slot);
    memset((void *)me, 0, worker_size(sb->ncores));
    me->ncores = sb->ncores;
    my_cores = sb_cores(me);
    for (i = 0; i < me->ncores; i++) {
        my_cores[i].wait_fd = -1;
        my_cores[i].own_fd = -1;
        my_cores[i].since = wall_ms();
    }
    me->last_spawn = wall_ms() / 1000;
    if (L->slot->id <= sb->nslots) {
        __atomic_add_fetch(&sb->wid[L->slot->id].spawns, 1, __ATOMIC_RELAXED);
    }
    me->owner = getpid();
}

static struct sb_core *
core_of(const struct wf__core *c)
{
    if (me == NULL || c->pub.id >= me->ncores) {
        return NULL;
    }
    return &my_cores[c->pub.id];
}

static void
put_state(struct sb_core *s, int state, int fd, unsigned ev, int timer)
{
    s->seq++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->state = state;
    s->wait_fd = fd;
    s->wait_ev = ev;
    s->wait_timer = timer;
    s->since = wall_ms();
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->seq++;
}

/* See stats.h. */
void
wf__stats_core_begin(struct wf__core *c)
{
    struct sb_core *s = core_of(c);
    size_t ml = 0, ul = 0;
    const char *m, *u;

    if (s == NULL) {
        return;
    }
    m = wf__req_get(&c->conn->req, "REQUEST_METHOD", &ml);
    u = wf__req_get(&c->conn->req, "REQUEST_URI", &ul);
    if (u == NULL) {
        u = wf__req_get(&c->conn->req, "PATH_INFO", &ul);
    }
    s->seq++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    snprintf(s->method, sizeof(s->method), "%.*s", (int)ml, m ? m : "");
    snprintf(s->uri, sizeof(s->uri), "%.*s", (int)ul, u ? u : "");
    s->in_request = 1;
    s->is_static = wf__static_serves(c);
    s->own_fd = c->conn->fd;
    s->req_start = wall_us();
    s->state = SB_QUEUED;
    s->wait_fd = -1;
    s->wait_timer = 0;
    s->since = s->req_start / 1000;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->seq++;
}

/* See stats.h. */
void
wf__stats_core_switch(struct wf__core *c, int running)
{
    struct sb_core *s = core_of(c);

    if (s == NULL || !s->in_request) {
        return;
    }
    if (running) {
        put_state(s, SB_RUNNING, -1, 0, 0);
    } else if (c->state == WF_CS_WAITING) {
        put_state(s, SB_WAITING, c->nwaits > 0 ? c->waits[0].fd : -1,
                  c->nwaits > 0 ? c->waits[0].events : 0,
                  c->timer.heap_idx >= 0);
    } else if (c->state == WF_CS_QUEUED) {
        put_state(s, SB_QUEUED, -1, 0, 0);
    }
}

/* See stats.h. */
void
wf__stats_core_wait(struct wf__core *c, int fd, unsigned events, int timer)
{
    struct sb_core *s = core_of(c);

    if (s != NULL && s->in_request) {
        put_state(s, SB_WAITING, fd, events, timer);
    }
}

/* See stats.h. */
void
wf__stats_core_end(struct wf__core *c)
{
    struct sb_core *s = core_of(c);
    int code;
    int64_t us;

    if (s == NULL) {
        return;
    }
    code = atoi(c->resp.status);
    if (code >= 100 && code < 600) {
        SB_ADD(me->status[code / 100], 1);
    }
    SB_ADD(me->tx, c->resp.sent + c->resp.hlen);
    if (c->conn != NULL) {
        struct wf__conn *k = c->conn;
        uint64_t body = k->req.content_length > 0 ?
            (uint64_t)(k->req.content_length -
                       (k->body_left > 0 ? k->body_left : 0)) :
            k->body_read;

        SB_ADD(me->rx, k->head_len + body);
    }
    us = wall_us() - s->req_start;
    SB_ADD(me->running_us, us > 0 ? (uint64_t)us : 0);
    s->requests++;
    if (s->is_static) {
        s->static_requests++;
        SB_ADD(me->static_requests, 1);
    }
    if (c->resp.broken) {
        s->write_errors++;
    }
    s->seq++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->in_request = 0;
    s->state = SB_IDLE;
    s->wait_fd = -1;
    s->own_fd = -1;
    s->since = wall_ms();
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->seq++;
}

/* See stats.h. */
void
wf__stats_exception(struct wf__core *c)
{
    (void)c;
    if (me != NULL) {
        SB_ADD(me->exceptions, 1);
    }
}

/* See stats.h. */
void
wf__stats_harakiri(struct wf__core *c)
{
    (void)c;
    if (me != NULL) {
        SB_ADD(me->harakiri, 1);
    }
}

/* ------------------------------------------------------------- output */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void
bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bput(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if (b->p != NULL && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = b->cap ? b->cap * 2 : 16384;
            char *np;

            while (ncap < b->len + (size_t)n + 1) {
                ncap *= 2;
            }
            np = realloc(b->p, ncap);
            if (np == NULL) {
                b->oom = 1;
                return;
            }
            b->p = np;
            b->cap = ncap;
        }
    }
}

/* A JSON string (with its quotes). */
static void
bstr(struct buf *b, const char *s)
{
    bput(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            bput(b, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            bput(b, "\\u%04x", ch);
        } else {
            bput(b, "%c", ch);
        }
    }
    bput(b, "\"");
}

/* A copy of a core's record that is not torn (or the last try). */
static void
read_core(const struct sb_core *s, struct sb_core *out)
{
    int i;

    for (i = 0; i < 5; i++) {
        uint32_t a = s->seq, b;

        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        memcpy(out, (const void *)s, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        b = s->seq;
        if (a == b && !(a & 1)) {
            break;
        }
    }
    out->method[sizeof(out->method) - 1] = '\0';
    out->uri[sizeof(out->uri) - 1] = '\0';
}

static void
state_text(const struct sb_core *c, char *out, size_t cap)
{
    switch (c->state) {
    case SB_RUNNING:
        snprintf(out, cap, "running");
        return;
    case SB_QUEUED:
        snprintf(out, cap, "queued");
        return;
    case SB_WAITING:
        if (c->wait_fd >= 0 && c->wait_fd == c->own_fd) {
            /* its own client: reading the body or writing the
             * response */
            snprintf(out, cap, "%s%s", (c->wait_ev & WF_IO_WRITE) ?
                     "writing" : "reading", c->wait_timer ? "" : "");
        } else if (c->wait_fd >= 0) {
            snprintf(out, cap, "waiting fd %d%s", c->wait_fd,
                     c->wait_timer ? " or timer" : "");
        } else if (c->wait_timer) {
            snprintf(out, cap, "waiting timer");
        } else {
            snprintf(out, cap, "waiting");
        }
        return;
    }
    snprintf(out, cap, "idle");
}

/* /proc/PID/statm: vsz and rss in bytes. */
static void
mem_of(pid_t pid, uint64_t *vsz, uint64_t *rss)
{
    char path[64];
    unsigned long long a = 0, b = 0;
    FILE *f;
    long page = sysconf(_SC_PAGESIZE);

    *vsz = *rss = 0;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    if (fscanf(f, "%llu %llu", &a, &b) == 2) {
        *vsz = a * (uint64_t)page;
        *rss = b * (uint64_t)page;
    }
    fclose(f);
}

/* One worker, as the server sees it: a live one, or a worker id that
 * --cheaper stopped (slot is then &cheap, with pid 0). */
struct view {
    const struct wf__slot *slot;
    struct wf__slot cheap;
    struct sb_worker w;             /* copy; zero when not its own yet */
    struct sb_core *cores;          /* copies */
    unsigned ncores, busy;
    uint64_t vsz, rss;
    int64_t lag;
};

static unsigned
collect(struct view *v, unsigned max, int with_cheap)
{
    unsigned i, j, n = 0;
    int64_t now_s = wall_ms() / 1000;

    for (i = 0; i < sb->nslots && n < max; i++) {
        const struct wf__slot *s = &sb_slots[i];
        struct sb_worker *w = sb_worker(i);
        struct view *x = &v[n];
        unsigned k;

        if (s->pid <= 0) {
            continue;
        }
        memset(x, 0, sizeof(*x));
        x->slot = s;
        if (w->owner == s->pid) {
            memcpy(&x->w, (const void *)w, sizeof(x->w));
            x->ncores = x->w.ncores;
        }
        x->cores = calloc(x->ncores ? x->ncores : 1, sizeof(*x->cores));
        if (x->cores == NULL) {
            x->ncores = 0;
        }
        for (k = 0; k < x->ncores; k++) {
            read_core(&sb_cores(w)[k], &x->cores[k]);
            x->busy += x->cores[k].in_request != 0;
        }
        x->lag = x->w.lag_window >= now_s - 1 ?
            (x->w.lag_ms > x->w.lag_prev_ms ? x->w.lag_ms
                                              : x->w.lag_prev_ms) : 0;
        mem_of(s->pid, &x->vsz, &x->rss);
        n++;
    }
    /* uWSGI lists the workers --cheaper stopped, as "cheap", pid 0 */
    for (i = 1; with_cheap && i <= sb->nslots && n < max; i++) {
        if (!__atomic_load_n(&sb->wid[i].cheap, __ATOMIC_RELAXED)) {
            continue;
        }
        for (j = 0; j < n && v[j].slot->id != i; j++) {
        }
        if (j < n) {
            continue;       /* still draining: listed above */
        }
        memset(&v[n], 0, sizeof(v[n]));
        v[n].cheap.id = i;
        v[n].slot = &v[n].cheap;
        n++;
    }
    return n;
}

/* See stats.h. */
void
wf__stats_cheap(unsigned id, int cheap)
{
    if (sb != NULL && id >= 1 && id <= sb->nslots) {
        __atomic_store_n(&sb->wid[id].cheap, cheap ? 1 : 0,
                         __ATOMIC_RELAXED);
    }
}

static void
uncollect(struct view *v, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        free(v[i].cores);
    }
}

static uint64_t
requests_of(const struct view *x)
{
    return x->slot->requests;
}

static void
json(struct buf *b)
{
    struct view *v = calloc(sb->nslots, sizeof(*v));
    unsigned n, i, k;
    char cwd[1024];
    struct wf__listener *l;
    uint64_t t_req = 0, t_exc = 0, t_hk = 0, t_tx = 0, t_rx = 0, t_st[6] = {0};
    uint64_t t_static = 0;
    unsigned t_busy = 0, t_cores = 0;
    int64_t t_lag = 0, now = wall_ms();

    if (v == NULL) {
        b->oom = 1;
        return;
    }
    n = collect(v, sb->nslots, 1);
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        cwd[0] = '\0';
    }
    bput(b, "{\n\t\"version\":");
    bstr(b, "weft-" PACKAGE_VERSION);
    bput(b, ",\n\t\"listen_queue\":0,\n\t\"listen_queue_errors\":0,\n"
         "\t\"signal_queue\":0,\n\t\"load\":0,\n\t\"pid\":%d,\n\t\"uid\":%d,"
         "\n\t\"gid\":%d,\n\t\"cwd\":", (int)getppid(), (int)getuid(),
         (int)getgid());
    bstr(b, cwd);
    bput(b, ",\n\t\"locks\":[],\n\t\"sockets\":[");
    for (l = wf__listeners; l; l = l->next) {
        bput(b, "%s\n\t\t{\"name\":", l == wf__listeners ? "" : ",");
        bstr(b, l->name ? l->name : "");
        bput(b, ",\"proto\":\"%s\",\"queue\":0,\"max_queue\":%ld,"
             "\"shared\":0,\"can_offload\":0}",
             l->proto == WF_PROTO_HTTP ? "http" : "uwsgi", wf__cfg.listen);
    }
    bput(b, "\n\t],\n\t\"workers\":[");
    for (i = 0; i < n; i++) {
        const struct view *x = &v[i];
        const struct sb_worker *w = &x->w;
        uint64_t req = requests_of(x);
        uint32_t spawns = x->slot->id <= sb->nslots ?
            sb->wid[x->slot->id].spawns : 1;

        bput(b, "%s\n\t\t{\n\t\t\t\"id\":%u,\"pid\":%d,\"accepting\":%d,"
             "\"requests\":%llu,\"delta_requests\":%llu,"
             "\"exceptions\":%llu,\"harakiri_count\":%llu,\"signals\":0,"
             "\"signal_queue\":0,\"status\":\"%s\",\"rss\":%llu,"
             "\"vsz\":%llu,\"running_time\":%llu,\"last_spawn\":%lld,"
             "\"respawn_count\":%u,\"tx\":%llu,\"avg_rt\":%llu,",
             i ? "," : "", x->slot->id, (int)x->slot->pid,
             x->slot->ready && !x->slot->draining, (unsigned long long)req,
             (unsigned long long)req, (unsigned long long)w->exceptions,
             (unsigned long long)w->harakiri,
             x->slot->pid == 0 ? "cheap" : x->busy ? "busy" : "idle", (unsigned long long)x->rss,
             (unsigned long long)x->vsz,
             (unsigned long long)w->running_us, (long long)w->last_spawn,
             spawns, (unsigned long long)w->tx,
             (unsigned long long)(req ? w->running_us / req : 0));
        bput(b, "\n\t\t\t\"rx\":%llu,\"static_requests\":%llu,"
             "\"status_1xx\":%llu,\"status_2xx\":%llu,\"status_3xx\":%llu,"
             "\"status_4xx\":%llu,\"status_5xx\":%llu,\"busy_cores\":%u,"
             "\"cores_total\":%u,\"loop_lag_ms\":%lld,",
             (unsigned long long)w->rx,
             (unsigned long long)w->static_requests,
             (unsigned long long)w->status[1],
             (unsigned long long)w->status[2],
             (unsigned long long)w->status[3],
             (unsigned long long)w->status[4],
             (unsigned long long)w->status[5], x->busy, x->ncores,
             (long long)x->lag);
        bput(b, "\n\t\t\t\"apps\":[{\"id\":0,\"modifier1\":0,"
             "\"mountpoint\":\"\",\"startup_time\":0,\"requests\":%llu,"
             "\"exceptions\":%llu,\"chdir\":\"\"}]%s",
             (unsigned long long)req, (unsigned long long)w->exceptions,
             cfg.no_cores ? "" : ",\n\t\t\t\"cores\":[");
        for (k = 0; !cfg.no_cores && k < x->ncores; k++) {
            const struct sb_core *c = &x->cores[k];
            char st[64];

            state_text(c, st, sizeof(st));
            bput(b, "%s\n\t\t\t\t{\"id\":%u,\"requests\":%llu,"
                 "\"static_requests\":%llu,\"routed_requests\":0,"
                 "\"offloaded_requests\":0,\"write_errors\":%llu,"
                 "\"read_errors\":%llu,\"in_request\":%d,\"vars\":[],"
                 "\"req_info\":{", k ? "," : "", k,
                 (unsigned long long)c->requests,
                 (unsigned long long)c->static_requests,
                 (unsigned long long)c->write_errors,
                 (unsigned long long)c->read_errors, c->in_request ? 1 : 0);
            if (c->in_request) {
                bput(b, "\"request_start\":%lld", (long long)c->req_start);
            }
            bput(b, "},\"state\":\"%s\",\"state_since\":%lld,"
                 "\"state_ms\":%lld,\"method\":", st, (long long)c->since,
                 (long long)(now - c->since));
            bstr(b, c->in_request ? c->method : "");
            bput(b, ",\"uri\":");
            bstr(b, c->in_request ? c->uri : "");
            bput(b, "}");
        }
        bput(b, "%s\n\t\t}", cfg.no_cores ? "" : "\n\t\t\t]");
        t_req += req;
        t_exc += w->exceptions;
        t_hk += w->harakiri;
        t_tx += w->tx;
        t_rx += w->rx;
        t_static += w->static_requests;
        for (k = 1; k < 6; k++) {
            t_st[k] += w->status[k];
        }
        t_busy += x->busy;
        t_cores += x->ncores;
        if (x->lag > t_lag) {
            t_lag = x->lag;
        }
    }
    bput(b, "\n\t],\n\t\"total\":{\"workers\":%u,\"requests\":%llu,"
         "\"exceptions\":%llu,\"harakiri_count\":%llu,\"tx\":%llu,"
         "\"rx\":%llu,\"static_requests\":%llu,\"status_1xx\":%llu,"
         "\"status_2xx\":%llu,\"status_3xx\":%llu,\"status_4xx\":%llu,"
         "\"status_5xx\":%llu,\"busy_cores\":%u,\"cores_total\":%u,"
         "\"loop_lag_ms\":%lld}\n}\n", n, (unsigned long long)t_req,
         (unsigned long long)t_exc, (unsigned long long)t_hk,
         (unsigned long long)t_tx, (unsigned long long)t_rx,
         (unsigned long long)t_static, (unsigned long long)t_st[1],
         (unsigned long long)t_st[2], (unsigned long long)t_st[3],
         (unsigned long long)t_st[4], (unsigned long long)t_st[5], t_busy,
         t_cores, (long long)t_lag);
    uncollect(v, n);
    free(v);
}

/* One metric family: HELP and TYPE, then a sample per worker. */
static void
prom_family(struct buf *b, const struct view *v, unsigned n,
            const char *name, const char *type, const char *help,
            double (*get)(const struct view *x))
{
    unsigned i;

    bput(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (i = 0; i < n; i++) {
        double x = get(&v[i]);

        /* whole numbers whole, seconds to the microsecond */
        if (x == (double)(long long)x && x < 9007199254740992.0) {
            bput(b, "%s{worker=\"%u\"} %lld\n", name, v[i].slot->id,
                 (long long)x);
        } else {
            bput(b, "%s{worker=\"%u\"} %.6f\n", name, v[i].slot->id, x);
        }
    }
}

#define GETTER(fn, expr) \
    static double fn(const struct view *x) { return (double)(expr); }

GETTER(g_requests, requests_of(x))
GETTER(g_exceptions, x->w.exceptions)
GETTER(g_harakiri, x->w.harakiri)
GETTER(g_tx, x->w.tx)
GETTER(g_rx, x->w.rx)
GETTER(g_static, x->w.static_requests)
GETTER(g_busy, x->busy)
GETTER(g_cores, x->ncores)
GETTER(g_lag, x->lag / 1000.0)
GETTER(g_rss, x->rss)
GETTER(g_vsz, x->vsz)
GETTER(g_running, x->w.running_us / 1e6)
GETTER(g_respawns, x->slot->id <= sb->nslots ? sb->wid[x->slot->id].spawns : 1)
GETTER(g_accepting, x->slot->ready && !x->slot->draining)

static void
prometheus(struct buf *b)
{
    struct view *v = calloc(sb->nslots, sizeof(*v));
    unsigned n, i, k;

    if (v == NULL) {
        b->oom = 1;
        return;
    }
    n = collect(v, sb->nslots, 0);
    bput(b, "# HELP weft_workers Worker processes running.\n"
         "# TYPE weft_workers gauge\nweft_workers %u\n", n);
    prom_family(b, v, n, "weft_requests_total", "counter",
                "Requests served by the worker.", g_requests);
    bput(b, "# HELP weft_responses_total Responses by status class.\n"
         "# TYPE weft_responses_total counter\n");
    for (i = 0; i < n; i++) {
        for (k = 1; k < 6; k++) {
            bput(b, "weft_responses_total{worker=\"%u\",class=\"%uxx\"} "
                 "%llu\n", v[i].slot->id, k,
                 (unsigned long long)v[i].w.status[k]);
        }
    }
    prom_family(b, v, n, "weft_exceptions_total", "counter",
                "Requests that ended in an error of the app.", g_exceptions);
    prom_family(b, v, n, "weft_harakiri_total", "counter",
                "Requests cancelled by --harakiri.", g_harakiri);
    prom_family(b, v, n, "weft_static_requests_total", "counter",
                "Requests served from static files.", g_static);
    prom_family(b, v, n, "weft_tx_bytes_total", "counter",
                "Response bytes sent (head and body).", g_tx);
    prom_family(b, v, n, "weft_rx_bytes_total", "counter",
                "Request bytes received (head and body).", g_rx);
    prom_family(b, v, n, "weft_request_seconds_total", "counter",
                "Time spent in requests, summed over cores.", g_running);
    prom_family(b, v, n, "weft_busy_cores", "gauge",
                "Cores running a request now.", g_busy);
    prom_family(b, v, n, "weft_cores", "gauge",
                "Async cores of the worker.", g_cores);
    prom_family(b, v, n, "weft_loop_lag_seconds", "gauge",
                "Longest stretch the worker's loop ran without looking at "
                "its events, over the last two seconds.", g_lag);
    prom_family(b, v, n, "weft_resident_memory_bytes", "gauge",
                "Resident memory of the worker.", g_rss);
    prom_family(b, v, n, "weft_virtual_memory_bytes", "gauge",
                "Virtual memory of the worker.", g_vsz);
    prom_family(b, v, n, "weft_worker_spawns_total", "counter",
                "Times this worker id was started.", g_respawns);
    prom_family(b, v, n, "weft_worker_accepting", "gauge",
                "1 when the worker takes new requests.", g_accepting);
    uncollect(v, n);
    free(v);
}

/* ------------------------------------------------------------- server */

static void
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;     /* gone, or slower than SO_SNDTIMEO */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Read an HTTP request head (bounded: 8 KiB, 2 s); the path, or "". */
static void
read_path(int fd, char *path, size_t cap)
{
    char req[8192];
    size_t n = 0;
    int64_t deadline = wf__now_ms() + 2000;

    path[0] = '\0';
    while (n < sizeof(req) - 1) {
        struct pollfd p = { fd, POLLIN, 0 };
        int64_t left = deadline - wf__now_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            break;
        }
        r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) {
            break;
        }
    }
    req[n] = '\0';
    {
        char *sp = strchr(req, ' '), *end;

        if (sp == NULL) {
            return;
        }
        sp++;
        end = strpbrk(sp, " ?\r\n");
        if (end == NULL) {
            return;
        }
        snprintf(path, cap, "%.*s", (int)(end - sp), sp);
    }
}

static void
serve_one(int fd)
{
    struct buf b = { NULL, 0, 0, 0 };
    struct timeval tv = { 5, 0 };
    int prom = cfg.prometheus;
    char path[256];

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (cfg.http || cfg.prometheus) {
        read_path(fd, path, sizeof(path));
        if (strcmp(path, "/metrics") == 0) {
            prom = 1;
        }
    }
    if (prom) {
        prometheus(&b);
    } else {
        json(&b);
        if (cfg.minified && b.p != NULL) {
            /* the layout is the only raw line break or tab: strings are
             * escaped (bstr) */
            size_t i, o = 0;

            for (i = 0; i < b.len; i++) {
                if (b.p[i] != '\n' && b.p[i] != '\t') {
                    b.p[o++] = b.p[i];
                }
            }
            b.len = o;
        }
    }
    if (b.oom || b.p == NULL) {
        free(b.p);
        return;
    }
    if (cfg.http || cfg.prometheus) {
        char head[256];
        int hn = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
                          "Content-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n", prom ?
                          "text/plain; version=0.0.4; charset=utf-8" :
                          "application/json", b.len);

        send_all(fd, head, (size_t)hn);
    }
    send_all(fd, b.p, b.len);
    free(b.p);
}

/* The stats server process: accept, answer from the scoreboard, close. */
static void
server_run(pid_t master)
{
    struct sigaction sa;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < 32; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &sa, NULL);
        }
    }
    /* a reload or a log reopen is the master's business */
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != master) {
        _exit(0);
    }
    for (;;) {
        struct pollfd p = { listen_fd, POLLIN, 0 };
        int fd;

        if (poll(&p, 1, 1000) < 0 && errno != EINTR) {
            _exit(1);
        }
        if (getppid() != master) {
            _exit(0);
        }
        while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            int fl = fcntl(fd, F_GETFL);

            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            serve_one(fd);
            shutdown(fd, SHUT_WR);
            close(fd);
        }
    }
}

/* The stats server process: its pid (0: none), when it started, when the
 * next one is due after a death (0: not due). Master context. */
static pid_t server_pid;
static int64_t server_born, server_due;
static unsigned server_fails;

/* Fork the stats server. 0, or -1 (logged). Master context. */
static int
server_spawn(void)
{
    pid_t pid, master = getpid();

    pid = fork();
    if (pid == 0) {
        server_run(master);
        _exit(0);
    }
    if (pid < 0) {
        wf_log_errno("--stats: fork()");
        return -1;
    }
    server_pid = pid;
    server_born = wf__now_ms();
    return 0;
}

/* See stats.h. */
void
wf__stats_master_start(struct wf__slot *slots, unsigned nslots)
{
    unsigned ncores = wf_ncores();

    if (listen_fd < 0) {
        return;
    }
    sb_size = head_size(nslots) + (size_t)nslots * worker_size(ncores);
    sb = mmap(NULL, sb_size, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED) {
        wf_log_errno("--stats: mmap(%zu bytes)", sb_size);
        sb = NULL;
        return;
    }
    memset(sb, 0, sb_size);
    sb->nslots = nslots;
    sb->ncores = ncores;
    sb_slots = slots;
    if (server_spawn() < 0) {
        server_due = wf__now_ms() + 1000;
        return;
    }
    wf_log(WF_LOG_INFO, "stats server on %s (pid %d)%s", cfg.addr,
           (int)server_pid, cfg.prometheus ? ", Prometheus format" :
           cfg.http ? ", over HTTP (/metrics: Prometheus)" : "");
}

/* See stats.h. */
int
wf__stats_reaped(pid_t pid, int status, int stopping)
{
    int64_t life;

    if (pid <= 0 || pid != server_pid) {
        return 0;
    }
    server_pid = 0;
    if (stopping) {
        return 1;
    }
    life = wf__now_ms() - server_born;
    /* the master restarts it; one that dies at once is retried later
     * and later (1, 2, 4 ... 32 s), not in a fork loop */
    if (life < 2000) {
        server_fails++;
    } else {
        server_fails = 0;
    }
    server_due = wf__now_ms() + (server_fails == 0 ? 0 :
        1000LL << (server_fails - 1 < 5 ? server_fails - 1 : 5));
    if (WIFSIGNALED(status)) {
        wf_log(WF_LOG_ERROR, "stats server (pid %d) killed by signal %d "
               "(%s); restarting it%s", (int)pid, WTERMSIG(status),
               strsignal(WTERMSIG(status)), server_fails ? " later" : "");
    } else {
        wf_log(WF_LOG_ERROR, "stats server (pid %d) exited with status %d; "
               "restarting it%s", (int)pid, WEXITSTATUS(status),
               server_fails ? " later" : "");
    }
    return 1;
}

/* See stats.h. */
void
wf__stats_master_tick(void)
{
    if (server_due == 0 || sb == NULL || wf__now_ms() < server_due) {
        return;
    }
    server_due = 0;
    if (server_spawn() < 0) {
        server_due = wf__now_ms() + 1000;
        return;
    }
    wf_log(WF_LOG_INFO, "stats server restarted on %s (pid %d)", cfg.addr,
           (int)server_pid);
}

/* See stats.h. */
void
wf__stats_master_stop(void)
{
    int status;

    server_due = 0;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        while (waitpid(server_pid, &status, 0) < 0 && errno == EINTR) {
        }
        server_pid = 0;
    }
}
