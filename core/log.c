/*
 * The error log and the request log. One write(2) per line, so that lines of
 * several workers sharing the log never interleave.
 *
 * uWSGI's logging options that change what a line holds live here too:
 * --logdate (a date before every line of the error log, not the request
 * log, as uWSGI does), --log-x-forwarded-for (the request log's address is
 * the X-Forwarded-For header when the request has one) and --memory-report
 * (the worker's address space and rss before each default request line).
 */
#include "internal.h"
#include "policy.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int wf__log_fd = 2;

/* --logdate / --log-date: 0 off; 1 on, with date_fmt (NULL: ctime's). */
static int log_date;
static char *log_date_fmt;

/* "Sat Dec  5 07:25:47 2026 - " (uWSGI: ctime without its newline), or
 * the --logdate strftime format then " - ", into buf. Returns the length
 * (0 when off). */
static size_t
date_prefix(char *buf, size_t len)
{
    time_t now;
    struct tm tm;
    size_t n;

    if (!log_date || len < 64) {
        return 0;
    }
    now = time(NULL);
    localtime_r(&now, &tm);
    n = strftime(buf, len - 4, log_date_fmt ? log_date_fmt
                                            : "%a %b %e %H:%M:%S %Y", &tm);
    memcpy(buf + n, " - ", 3);
    return n + 3;
}

static const char *const level_names[] = {
    [WF_LOG_DEBUG] = "debug: ",
    [WF_LOG_INFO] = "",
    [WF_LOG_WARN] = "warning: ",
    [WF_LOG_ERROR] = "error: ",
    [WF_LOG_ALERT] = "alert: ",
    [WF_LOG_BUG] = "bug: ",
};

static void
log_vline(enum wf_log_level level, const char *fmt, va_list ap)
{
    char line[4096];
    size_t n;
    int r;

    if (level > WF_LOG_BUG) {
        level = WF_LOG_BUG;
    }
    n = date_prefix(line, 128);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s",
                          level_names[level]);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (r < 0) {
        return;
    }
    n += (size_t)r;
    if (n >= sizeof(line) - 1) {
        /* cut long lines but keep them lines */
        n = sizeof(line) - 5;
        memcpy(line + n, "...", 3);
        n += 3;
    }
    if (n == 0 || line[n - 1] != '\n') {
        line[n++] = '\n';
    }
    while (write(wf__log_fd, line, n) < 0 && errno == EINTR) {
    }
}

/* See log.h. */
void
wf_log(enum wf_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vline(level, fmt, ap);
    va_end(ap);
}

/* See log.h. */
void
wf_log_errno(const char *fmt, ...)
{
    char what[1024];
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    wf_log(WF_LOG_ERROR, "%s failed: %s", what, strerror(saved));
    errno = saved;
}

/* See err.h. */
int
wf_err_set(struct wf_err *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * Open --logto: the error and request log go to `path` (appended) from now
 * on. Master context. 0 or -1 with err.
 */
int
wf__log_open(const char *path, struct wf_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

    if (fd < 0) {
        return wf_err_set(err, "--logto %s: %s; give a writable file",
                          path, strerror(errno));
    }
    if (wf__log_fd > 2) {
        /* the same fd number, now the new file: a writer in another loop
         * thread (--threads) never sees a closed or reused fd */
        if (dup3(fd, wf__log_fd, O_CLOEXEC) >= 0) {
            close(fd);
            return 0;
        }
        close(wf__log_fd);
    }
    wf__log_fd = fd;
    return 0;
}

/* ------------------------------------------------------ request log */

static struct {
    char *format;
    char *encoder;
    int json;
    long slow_ms;
    int log_4xx, log_5xx;
    long maxsize;
    int reopen;
    int xff;                /* --log-x-forwarded-for */
    int memory_report;      /* --memory-report */
} lcfg;

/* --logdate [FORMAT]: uWSGI takes true/1/on/yes (or nothing) for its
 * ctime-style date, anything else as a strftime format. */
static int
set_log_date(const struct wf_option *opt, const char *value,
             struct wf_err *err)
{
    char probe[128];
    struct tm tm;

    (void)opt;
    free(log_date_fmt);
    log_date_fmt = NULL;
    log_date = 1;
    if (value == NULL || *value == '\0' || strcasecmp(value, "true") == 0 ||
        strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0 ||
        strcasecmp(value, "yes") == 0) {
        return 0;
    }
    if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
        strcasecmp(value, "off") == 0 || strcasecmp(value, "no") == 0) {
        log_date = 0;
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    if (strlen(value) > 48 || strftime(probe, 60, value, &tm) == 0) {
        log_date = 0;
        return wf_err_set(err, "--logdate %s: not a strftime format of at "
                          "most 60 characters; e.g. logdate = "
                          "%%%%Y-%%%%m-%%%%d %%%%H:%%%%M:%%%%S in an ini, "
                          "or true for uWSGI's date", value);
    }
    log_date_fmt = strdup(value);
    return 0;
}

static int
check_encoder(const struct wf_option *opt, const char *value,
              struct wf_err *err)
{
    (void)opt;
    if (value == NULL || strcmp(value, "json") != 0) {
        return wf_err_set(err, "--log-encoder %s: weft has the encoder "
                          "json (one JSON object per request line)",
                          value ? value : "");
    }
    lcfg.json = 1;
    return 0;
}

/* See stats.h. */
const struct wf_option wf__log_options[] = {
    { "log-format", WF_OPT_STR, &lcfg.format, NULL, 0, 0, 0,
      "the request log line, with uWSGI's variables: %(method) %(uri) "
      "%(status) %(msecs) %(size) %(addr) %(var.HTTP_X) %(ltime) %(core) "
      "%(switches)...", 0, NULL, "FORMAT" },
    { "logformat", WF_OPT_STR, &lcfg.format, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "same as --log-format", 0, NULL, "FORMAT" },
    { "log-json", WF_OPT_FLAG, &lcfg.json, NULL, 0, 0, 0,
      "request log lines as JSON objects, one per line", 0, NULL, NULL },
    { "log-encoder", WF_OPT_STR, &lcfg.encoder, NULL, 0, 0, 0,
      "json: same as --log-json", 0, check_encoder, "json" },
    { "log-slow", WF_OPT_INT, &lcfg.slow_ms, NULL, 0, 86400000, 0,
      "with --disable-logging, still log requests slower than MS", 0,
      NULL, "MS" },
    { "log-4xx", WF_OPT_FLAG, &lcfg.log_4xx, NULL, 0, 0, 0,
      "with --disable-logging, still log 4xx responses", 0, NULL, NULL },
    { "log-5xx", WF_OPT_FLAG, &lcfg.log_5xx, NULL, 0, 0, 0,
      "with --disable-logging, still log 5xx responses", 0, NULL, NULL },
    { "log-maxsize", WF_OPT_SIZE, &lcfg.maxsize, NULL, 0, LONG_MAX, 0,
      "rotate --logto when it passes BYTES (renamed FILE.EPOCH[.N])", 0, NULL,
      "BYTES" },
    { "log-reopen", WF_OPT_FLAG, &lcfg.reopen, NULL, 0, 0, 0,
      "each new worker (after a reload) reopens --logto", 0, NULL, NULL },
    { "logdate", WF_OPT_STR, NULL, NULL, 0, 0, WF_OPT_F_OPTVAL,
      "a date before each line of the error log (uWSGI's: 'Sat Dec  5 "
      "07:25:47 2026 - '), or the strftime FORMAT given; not the request "
      "lines", 0, set_log_date, "[FORMAT]" },
    { "log-date", WF_OPT_STR, NULL, NULL, 0, 0,
      WF_OPT_F_OPTVAL | WF_OPT_F_HIDDEN, "same as --logdate", 0,
      set_log_date, "[FORMAT]" },
    { "log-x-forwarded-for", WF_OPT_FLAG, &lcfg.xff, NULL, 0, 0, 0,
      "the request log's address (also %(addr)) is the X-Forwarded-For "
      "header, when the request has one", 0, NULL, NULL },
    { "memory-report", WF_OPT_FLAG, &lcfg.memory_report, NULL, 0, 0, 0,
      "begin each request log line with the worker's address space and "
      "rss, as uWSGI", 0, NULL, NULL },
    { NULL }
};

/* --log-maxsize: when the log passes the size, move it aside and start a
 * new one. Several workers share the file: the first to see it too big
 * renames it; the others see that the path names another file now and
 * only reopen. */
static void
maybe_rotate(void)
{
    struct stat fst, pst;

    if (lcfg.maxsize <= 0 || wf__cfg.logto == NULL || wf__log_fd <= 2 ||
        fstat(wf__log_fd, &fst) < 0 || fst.st_size < lcfg.maxsize) {
        return;
    }
    if (stat(wf__cfg.logto, &pst) == 0 && pst.st_ino == fst.st_ino &&
        pst.st_dev == fst.st_dev) {
        char old[4096];
        struct stat ost;
        int i;

        /* FILE.EPOCH, or FILE.EPOCH.N when that second has one already */
        snprintf(old, sizeof(old), "%s.%lld", wf__cfg.logto,
                 (long long)time(NULL));
        for (i = 1; i < 1000 && stat(old, &ost) == 0; i++) {
            snprintf(old, sizeof(old), "%s.%lld.%d", wf__cfg.logto,
                     (long long)time(NULL), i);
        }
        if (rename(wf__cfg.logto, old) < 0) {
            return;
        }
    }
    wf__log_open(wf__cfg.logto, NULL);
}

/* --log-reopen: a worker opens --logto afresh once. */
static void
maybe_reopen(void)
{
    static pid_t opened;

    if (!lcfg.reopen || wf__cfg.logto == NULL || opened == getpid()) {
        return;
    }
    opened = getpid();
    wf__log_open(wf__cfg.logto, NULL);
}

/* Write a whole line (one write(2): lines of workers never interleave). */
static void
put_line(const char *line, size_t n)
{
    while (write(wf__log_fd, line, n) < 0 && errno == EINTR) {
    }
}

struct out {
    char *p;
    size_t n, cap;
};

static void
oput(struct out *o, const char *s, size_t n)
{
    if (o->n + n >= o->cap) {
        n = o->cap - o->n - 1;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void
oputs(struct out *o, const char *s)
{
    oput(o, s, strlen(s));
}

/* v in decimal (what "%llu" writes). */
static void
odec(struct out *o, uint64_t v)
{
    char d[20];

    oput(o, d, wf__fmt_uint(d, v, 10));
}

/* This process's pid without a system call per line (glibc's getpid()
 * is one): kept until a fork, whose child forgets it. */
static pid_t pid_cache;

static void
pid_forget(void)
{
    pid_cache = 0;
}

__attribute__((constructor)) static void
pid_forget_at_fork(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

static pid_t
log_pid(void)
{
    if (pid_cache == 0) {
        pid_cache = getpid();
    }
    return pid_cache;
}

/* The default line's date ("%a %b %e %H:%M:%S %Y", local time) of sec:
 * made again only when the second changes (per loop thread). */
static const char *
access_date(time_t sec)
{
    static __thread time_t at = -1;
    static __thread char buf[64];

    if (sec != at) {
        struct tm tm;

        localtime_r(&sec, &tm);
        if (strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm) == 0) {
            buf[0] = '\0';
        }
        at = sec;
    }
    return buf;
}

static void
oprintf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
oprintf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (r > 0) {
        o->n += (size_t)r < o->cap - o->n ? (size_t)r : o->cap - o->n - 1;
    }
}

/* A JSON string body (no quotes). */
static void
ojson(struct out *o, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\') {
            char e[2] = { '\\', (char)ch };

            oput(o, e, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            oprintf(o, "\\u%04x", ch);
        } else {
            oput(o, (const char *)&ch, 1);
        }
    }
}

/* What one request log line is made of. */
struct reqinfo {
    struct wf__core *c;
    const char *method, *uri, *proto;
    size_t mlen, ulen, plen;
    int status;
    int64_t usecs;
    size_t vbytes;
    time_t now;
    struct timeval tv;
};

static const char *
var(const struct reqinfo *r, const char *key, size_t *len)
{
    const char *v = wf__req_get(&r->c->conn->req, key, len);

    if (v == NULL) {
        *len = 1;
        return "-";
    }
    return v;
}

/* The request's address for the log: with --log-x-forwarded-for the
 * X-Forwarded-For header as the client sent it (uWSGI logs the whole
 * value), else REMOTE_ADDR. */
static const char *
log_addr(const struct reqinfo *r, size_t *len)
{
    if (lcfg.xff) {
        const char *v = wf__req_get(&r->c->conn->req, "HTTP_X_FORWARDED_FOR",
                                    len);

        if (v != NULL && *len > 0) {
            return v;
        }
    }
    return var(r, "REMOTE_ADDR", len);
}

/* This process's address space and resident size in bytes, read from
 * /proc/self/statm at most once a second (uWSGI's master samples them
 * about as often). */
static void
mem_usage(uint64_t *vsz, uint64_t *rss)
{
    static __thread int64_t at;
    static __thread uint64_t v, r;
    int64_t now = wf__now_ms();

    if (at == 0 || now - at >= 1000) {
        char buf[128];
        unsigned long long a, b;
        long page = sysconf(_SC_PAGESIZE);
        int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        if (fd >= 0) {
            close(fd);
        }
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "%llu %llu", &a, &b) == 2) {
                v = a * (uint64_t)page;
                r = b * (uint64_t)page;
            }
        }
        at = now;
    }
    *vsz = v;
    *rss = r;
}

/* Expand one %(name) of --log-format into o. 0, or -1 when the name is
 * unknown (it is then copied as it stands, as uWSGI does). */
static int
expand(struct out *o, const struct reqinfo *r, const char *name, size_t n)
{
    struct wf__core *c = r->c;
    struct wf__conn *k = c->conn;
    const char *v;
    size_t vl;
    char tb[64];
    struct tm tm;

#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    if (IS("method")) {
        oput(o, r->method, r->mlen);
    } else if (IS("uri")) {
        oput(o, r->uri, r->ulen);
    } else if (IS("proto")) {
        oput(o, r->proto, r->plen);
    } else if (IS("status")) {
        oprintf(o, "%d", r->status);
    } else if (IS("msecs")) {
        oprintf(o, "%lld", (long long)(r->usecs / 1000));
    } else if (IS("micros")) {
        oprintf(o, "%lld", (long long)r->usecs);
    } else if (IS("secs")) {
        oprintf(o, "%.6f", r->usecs / 1e6);
    } else if (IS("size") || IS("rsize")) {
        oprintf(o, "%llu", (unsigned long long)c->resp.sent);
    } else if (IS("hsize")) {
        oprintf(o, "%zu", c->resp.hlen);
    } else if (IS("headers")) {
        oprintf(o, "%u", c->resp.nheaders);
    } else if (IS("vars")) {
        oprintf(o, "%u", k->req.nvars);
    } else if (IS("pktsize")) {
        oprintf(o, "%zu", r->vbytes);
    } else if (IS("cl")) {
        oprintf(o, "%lld", (long long)(k->req.content_length > 0 ?
                                       k->req.content_length : 0));
    } else if (IS("addr")) {
        v = log_addr(r, &vl);
        oput(o, v, vl);
    } else if (IS("rss") || IS("vsz") || IS("rssM") || IS("vszM")) {
        uint64_t vsz, rss;

        mem_usage(&vsz, &rss);
        oprintf(o, "%llu", (unsigned long long)(
            name[0] == 'r' ? rss : vsz) / (n == 4 ? 1024 * 1024 : 1));
    } else if (IS("user")) {
        v = var(r, "REMOTE_USER", &vl);
        oput(o, v, vl);
    } else if (IS("host")) {
        v = var(r, "HTTP_HOST", &vl);
        oput(o, v, vl);
    } else if (IS("uagent")) {
        v = var(r, "HTTP_USER_AGENT", &vl);
        oput(o, v, vl);
    } else if (IS("referer")) {
        v = var(r, "HTTP_REFERER", &vl);
        oput(o, v, vl);
    } else if (IS("pid")) {
        odec(o, (uint64_t)log_pid());
    } else if (IS("wid")) {
        oprintf(o, "%u", wf_worker_id());
    } else if (IS("core")) {
        oprintf(o, "%u", c->pub.id);
    } else if (IS("switches")) {
        oprintf(o, "%u", c->switches);
    } else if (IS("modifier1")) {
        oprintf(o, "%u", (unsigned)k->req.modifier1);
    } else if (IS("ltime")) {
        localtime_r(&r->now, &tm);
        strftime(tb, sizeof(tb), "%d/%b/%Y:%H:%M:%S %z", &tm);
        oputs(o, tb);
    } else if (IS("ctime")) {
        localtime_r(&r->now, &tm);
        strftime(tb, sizeof(tb), "%a %b %e %H:%M:%S %Y", &tm);
        oputs(o, tb);
    } else if (IS("time") || IS("epoch")) {
        oprintf(o, "%lld", (long long)r->now);
    } else if (IS("tmsecs")) {
        oprintf(o, "%lld", (long long)r->tv.tv_sec * 1000 +
                r->tv.tv_usec / 1000);
    } else if (IS("tmicros")) {
        oprintf(o, "%lld", (long long)r->tv.tv_sec * 1000000 +
                r->tv.tv_usec);
    } else if (n > 4 && memcmp(name, "var.", 4) == 0 && n - 4 < 128) {
        char key[128];

        memcpy(key, name + 4, n - 4);
        key[n - 4] = '\0';
        v = var(r, key, &vl);
        oput(o, v, vl);
    } else {
        return -1;
    }
#undef IS
    return 0;
}

static void
format_line(struct out *o, const struct reqinfo *r, const char *fmt)
{
    const char *p = fmt;

    while (*p) {
        const char *end;

        if (p[0] == '%' && p[1] == '(' && (end = strchr(p + 2, ')'))) {
            if (expand(o, r, p + 2, (size_t)(end - p - 2)) < 0) {
                oput(o, p, (size_t)(end - p + 1));
            }
            p = end + 1;
            continue;
        }
        oput(o, p, 1);
        p++;
    }
}

static void
json_line(struct out *o, const struct reqinfo *r, const char *msg,
          size_t mlen)
{
    struct wf__core *c = r->c;
    size_t al;
    const char *addr = log_addr(r, &al);

    oprintf(o, "{\"time\":%lld.%03d,\"pid\":%d,\"worker\":%u,\"core\":%u,"
            "\"addr\":\"", (long long)r->tv.tv_sec,
            (int)(r->tv.tv_usec / 1000), (int)log_pid(), wf_worker_id(),
            c->pub.id);
    ojson(o, addr, al);
    oputs(o, "\",\"method\":\"");
    ojson(o, r->method, r->mlen);
    oputs(o, "\",\"uri\":\"");
    ojson(o, r->uri, r->ulen);
    oputs(o, "\",\"proto\":\"");
    ojson(o, r->proto, r->plen);
    oprintf(o, "\",\"status\":%d,\"size\":%llu,\"msecs\":%lld,"
            "\"switches\":%u", r->status,
            (unsigned long long)c->resp.sent, (long long)(r->usecs / 1000),
            c->switches);
    if (lcfg.memory_report) {
        uint64_t vsz, rss;

        mem_usage(&vsz, &rss);
        oprintf(o, ",\"vsz\":%llu,\"rss\":%llu", (unsigned long long)vsz,
                (unsigned long long)rss);
    }
    if (msg != NULL) {
        oputs(o, ",\"msg\":\"");
        ojson(o, msg, mlen);
        oputs(o, "\"");
    }
    oputs(o, "}");
}

/*
 * The request log line. By default in uWSGI's shape, so that existing log
 * parsers keep working:
 * [pid: 12|app: 0|req: 3/9] 127.0.0.1 () {28 vars in 512 bytes}
 *   [Thu Nov 26 16:00:00 2026] GET /x => generated 11 bytes in 0 msecs
 *   (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 9)
 * With --log-format, that line; with --log-json, a JSON object (holding
 * the --log-format line as "msg" when both are given). Also tells the
 * stats scoreboard that the request is over. Loop context, after the
 * response.
 */
void
wf__log_request(struct wf__core *c)
{
    struct reqinfo r;
    char line[4096], msg[4096];
    struct out o = { line, 0, sizeof(line) };
    size_t i;
    int64_t ms;

    wf__stats_core_end(c);
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.status = atoi(c->resp.status);
    gettimeofday(&r.tv, NULL);
    r.usecs = (wf__now_ms() - c->t_start) * 1000;
    ms = r.usecs / 1000;
    if (wf__cfg.disable_logging &&
        !(lcfg.slow_ms > 0 && ms >= lcfg.slow_ms) &&
        !(lcfg.log_4xx && r.status >= 400 && r.status < 500) &&
        !(lcfg.log_5xx && r.status >= 500 && r.status < 600)) {
        return;
    }
    maybe_reopen();
    r.method = var(&r, "REQUEST_METHOD", &r.mlen);
    r.uri = wf__req_get(&c->conn->req, "REQUEST_URI", &r.ulen);
    if (r.uri == NULL) {
        r.uri = var(&r, "PATH_INFO", &r.ulen);
    }
    r.proto = wf__req_get(&c->conn->req, "SERVER_PROTOCOL", &r.plen);
    if (r.proto == NULL) {
        r.proto = "HTTP/1.0";
        r.plen = 8;
    }
    for (i = 0; i < c->conn->req.nvars; i++) {
        r.vbytes += c->conn->req.vars[i].klen + c->conn->req.vars[i].vlen;
    }
    r.now = r.tv.tv_sec;
    if (lcfg.format != NULL) {
        struct out m = { msg, 0, sizeof(msg) };

        format_line(&m, &r, lcfg.format);
        if (lcfg.json) {
            json_line(&o, &r, msg, m.n);
        } else {
            oput(&o, msg, m.n);
        }
    } else if (lcfg.json) {
        json_line(&o, &r, NULL, 0);
    } else {
        char rl[1024];
        const char *addr = c->conn->raddr;
        size_t al = strlen(addr);

        if (lcfg.xff) {
            addr = log_addr(&r, &al);
        }
        if (lcfg.memory_report) {
            /* uWSGI's words, before its line */
            uint64_t vsz, rss;

            mem_usage(&vsz, &rss);
            oprintf(&o, "{address space usage: %llu bytes/%lluMB} {rss "
                    "usage: %llu bytes/%lluMB} ", (unsigned long long)vsz,
                    (unsigned long long)(vsz >> 20), (unsigned long long)rss,
                    (unsigned long long)(rss >> 20));
        }
        /* uWSGI's line, "[pid: %d|app: 0|req: %llu/%llu] %.*s () {%u
         * vars in %zu bytes} [%s] %s => generated %llu bytes in %lld
         * msecs (%.*s %.3s) %u headers in %zu bytes (%u switches on core
         * %u)", put together by hand: vsnprintf cost 6,500 instructions
         * a line, 70% of the access log's cost (docs/performance.md) */
        oputs(&o, "[pid: ");
        odec(&o, (uint64_t)log_pid());
        oputs(&o, "|app: 0|req: ");
        odec(&o, wf__worker_requests);
        oput(&o, "/", 1);
        odec(&o, wf__worker_requests);
        oput(&o, "] ", 2);
        oput(&o, addr, al);
        oputs(&o, " () {");
        odec(&o, c->conn->req.nvars);
        oputs(&o, " vars in ");
        odec(&o, r.vbytes);
        oputs(&o, " bytes} [");
        oputs(&o, access_date(r.now));
        oput(&o, "] ", 2);
        oputs(&o, wf__req_line(&c->conn->req, rl, sizeof(rl)));
        oputs(&o, " => generated ");
        odec(&o, c->resp.sent);
        oputs(&o, " bytes in ");
        odec(&o, (uint64_t)ms);         /* a monotonic difference */
        oputs(&o, " msecs (");
        oput(&o, r.proto, r.plen);
        oput(&o, " ", 1);
        oput(&o, c->resp.status, strnlen(c->resp.status, 3));
        oputs(&o, ") ");
        odec(&o, c->resp.nheaders);
        oputs(&o, " headers in ");
        odec(&o, c->resp.hlen);
        oputs(&o, " bytes (");
        odec(&o, c->switches);
        oputs(&o, " switches on core ");
        odec(&o, c->pub.id);
        oput(&o, ")", 1);
    }
    line[o.n++] = '\n';
    put_line(line, o.n);
    maybe_rotate();
}
