/*
 * The error log and the request log. One write(2) per line, so that lines of
 * several workers sharing the log never interleave.
 */
#include "internal.h"
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int wf__log_fd = 2;

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
    n = (size_t)snprintf(line, sizeof(line), "%s", level_names[level]);
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
        close(wf__log_fd);
    }
    wf__log_fd = fd;
    return 0;
}

/*
 * The request log line, in uWSGI's shape so that existing log parsers keep
 * working:
 * [pid: 12|app: 0|req: 3/9] 127.0.0.1 () {28 vars in 512 bytes}
 *   [Thu Nov 26 16:00:00 2026] GET /x => generated 11 bytes in 0 msecs
 *   (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 9)
 * Loop context, after the response.
 */
void
wf__log_request(struct wf__core *c)
{
    size_t plen = 0, i, vbytes = 0;
    const char *proto;
    char tbuf[64], rl[1024];
    time_t now;
    struct tm tm;
    int64_t ms;

    if (wf__cfg.disable_logging) {
        return;
    }
    proto = wf__req_get(&c->conn->req, "SERVER_PROTOCOL", &plen);
    for (i = 0; i < c->conn->req.nvars; i++) {
        vbytes += c->conn->req.vars[i].klen + c->conn->req.vars[i].vlen;
    }
    now = time(NULL);
    localtime_r(&now, &tm);
    strftime(tbuf, sizeof(tbuf), "%a %b %e %H:%M:%S %Y", &tm);
    ms = wf__now_ms() - c->t_start;
    wf_log(WF_LOG_INFO,
           "[pid: %d|app: 0|req: %llu/%llu] %s () {%u vars in %zu bytes} "
           "[%s] %s => generated %llu bytes in %lld msecs "
           "(%.*s %.3s) %u headers in %zu bytes (%u switches on core %u)",
           (int)getpid(), (unsigned long long)c->loop->requests,
           (unsigned long long)c->loop->requests, c->conn->raddr, c->conn->req.nvars,
           vbytes, tbuf, wf__req_line(&c->conn->req, rl, sizeof(rl)),
           (unsigned long long)c->resp.sent,
           (long long)ms, (int)(proto ? plen : 8),
           proto ? proto : "HTTP/1.0", c->resp.status,
           c->resp.nheaders, c->resp.hlen, c->switches, c->pub.id);
}
