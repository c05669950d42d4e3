/*
 * testlang: a language plugin in C for the core's own integration tests. It
 * drives the core API the way the Python and Ruby plugins do, without an
 * interpreter, so a core failure shows as one and not as a language's.
 * Built for 'make check' only.
 *
 *   /hello          200 "Hello World"
 *   /sleep?ms=N     arms the timer, returns WF_AGAIN (generator style)
 *   /gsleep?ms=N    arms the timer, wf_suspend() (suspend-engine style)
 *   /chunks?n=N     N chunks, one per handle() call
 *   /echo           the request body back, with Content-Length
 *   /big?kb=N       N KiB of 'x' in 64 KiB writes
 *   /error          WF_ERROR before anything is sent
 *   /core           the core id
 *   /pid            the worker's pid
 *   /tid            the thread that runs the request (--threads)
 *   /spin?ms=N      burns the CPU for N ms without giving the worker away
 *   /alloc?mb=N     keeps N MiB more allocated (and touched) for good
 *   /fds?n=N        opens N more fds (/dev/null) and keeps them open
 */
#define _GNU_SOURCE 1  /* gettid */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>

struct tl_core {
    int step;
    long n;
    char *body;
    size_t blen, bcap;
};

static struct tl_core *tl_cores;
static int tl_enabled;

static long
query_num(struct wf_core *c, const char *key, long def)
{
    size_t qlen, klen = strlen(key);
    const char *q = wf_req_get(c, "QUERY_STRING", &qlen);
    const char *p = q, *end = q ? q + qlen : NULL;

    while (p && p < end) {
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 &&
            p[klen] == '=') {
            return strtol(p + klen + 1, NULL, 10);
        }
        p = memchr(p, '&', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    return def;
}

static int
path_is(struct wf_core *c, const char *path)
{
    size_t len;
    const char *p = wf_req_get(c, "PATH_INFO", &len);

    return p && len == strlen(path) && memcmp(p, path, len) == 0;
}

static int
ok(struct wf_core *c, const char *ctype)
{
    if (wf_response_status(c, "200 OK", 6) < 0) {
        return -1;
    }
    return wf_response_header(c, "Content-Type", 12, ctype, strlen(ctype));
}

static int
say(struct wf_core *c, const char *s)
{
    return wf_write(c, s, strlen(s)) < 0 ? WF_ERROR : WF_DONE;
}

static int
tl_handle(struct wf_core *c)
{
    struct tl_core *t = &tl_cores[c->id];
    char line[128];

    if (path_is(c, "/hello")) {
        ok(c, "text/plain");
        return say(c, "Hello World");
    }
    if (path_is(c, "/core")) {
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "%u", c->id);
        return say(c, line);
    }
    if (path_is(c, "/pid")) {
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "%d", (int)getpid());
        return say(c, line);
    }
    if (path_is(c, "/tid")) {
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "%ld core=%u", (long)gettid(), c->id);
        return say(c, line);
    }
    if (path_is(c, "/spin")) {
        struct timespec t0, t1;
        long ms = query_num(c, "ms", 100);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            clock_gettime(CLOCK_MONOTONIC, &t1);
        } while ((t1.tv_sec - t0.tv_sec) * 1000 +
                 (t1.tv_nsec - t0.tv_nsec) / 1000000 < ms);
        ok(c, "text/plain");
        return say(c, "spun");
    }
    if (path_is(c, "/alloc")) {
        long mb = query_num(c, "mb", 10);
        char *p = malloc((size_t)mb << 20);

        if (p != NULL) {
            memset(p, 1, (size_t)mb << 20);   /* kept: resident for good */
        }
        ok(c, "text/plain");
        return say(c, p ? "allocated" : "failed");
    }
    if (path_is(c, "/fds")) {
        long i, n = query_num(c, "n", 10), opened = 0;

        for (i = 0; i < n; i++) {
            if (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) {
                opened++;
            }
        }
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "%ld", opened);
        return say(c, line);
    }
    if (path_is(c, "/error")) {
        wf_log(WF_LOG_ERROR, "testlang: /error asked for an error");
        return WF_ERROR;
    }
    if (path_is(c, "/sleep")) {
        if (t->step++ == 0) {
            wf_wait_timer(c, query_num(c, "ms", 100));
            return WF_AGAIN;
        }
        t->step = 0;
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "slept timed_out=%d core=%u",
                 wf_timed_out(c), c->id);
        return say(c, line);
    }
    if (path_is(c, "/gsleep")) {
        wf_wait_timer(c, query_num(c, "ms", 100));
        wf_suspend(c);
        ok(c, "text/plain");
        snprintf(line, sizeof(line), "slept timed_out=%d core=%u tid=%ld",
                 wf_timed_out(c), c->id, (long)gettid());
        return say(c, line);
    }
    if (path_is(c, "/chunks")) {
        if (t->step == 0) {
            t->n = query_num(c, "n", 10);
            ok(c, "text/plain");
        }
        if (t->step < t->n) {
            snprintf(line, sizeof(line), "chunk %d core %u\n", t->step,
                     c->id);
            t->step++;
            if (wf_write(c, line, strlen(line)) < 0) {
                t->step = 0;
                return WF_ERROR;
            }
            return WF_AGAIN;
        }
        t->step = 0;
        return WF_DONE;
    }
    if (path_is(c, "/echo")) {
        char buf[8192], cl[32];
        ssize_t n;

        t->blen = 0;
        while ((n = wf_read_body(c, buf, sizeof(buf))) > 0) {
            if (t->blen + (size_t)n > t->bcap) {
                t->bcap = (t->blen + (size_t)n) * 2;
                t->body = realloc(t->body, t->bcap);
            }
            memcpy(t->body + t->blen, buf, (size_t)n);
            t->blen += (size_t)n;
        }
        if (n < 0) {
            wf_log(WF_LOG_WARN, "testlang: body read failed: %s",
                   strerror((int)-n));
            return WF_ERROR;
        }
        ok(c, "application/octet-stream");
        snprintf(cl, sizeof(cl), "%zu", t->blen);
        wf_response_header(c, "Content-Length", 14, cl, strlen(cl));
        if (t->blen == 0) {
            return WF_DONE;
        }
        return wf_write(c, t->body, t->blen) < 0 ? WF_ERROR : WF_DONE;
    }
    if (path_is(c, "/big")) {
        static char chunk[65536];
        long kb = query_num(c, "kb", 1024), left = kb * 1024;

        memset(chunk, 'x', sizeof(chunk));
        ok(c, "application/octet-stream");
        while (left > 0) {
            size_t n = left > (long)sizeof(chunk) ? sizeof(chunk)
                                                  : (size_t)left;

            if (wf_write(c, chunk, n) < 0) {
                return WF_ERROR;
            }
            left -= (long)n;
        }
        return WF_DONE;
    }
    wf_response_status(c, "404 Not Found", 13);
    return say(c, "not found");
}

static void
tl_release(struct wf_core *c)
{
    tl_cores[c->id].step = 0;
}

static int
tl_init(struct wf_err *err)
{
    return 0;
}

static int
tl_load_app(struct wf_err *err)
{
    return tl_enabled ? 1 : 0;
}

static int
tl_worker_init(unsigned ncores, struct wf_err *err)
{
    tl_cores = calloc(ncores, sizeof(*tl_cores));
    return tl_cores ? 0 : wf_err_set(err, "testlang: out of memory");
}

static const struct wf_lang_ops tl_ops = {
    .modifier1 = 0,
    .init = tl_init,
    .load_app = tl_load_app,
    .worker_init = tl_worker_init,
    .handle = tl_handle,
    .release = tl_release,
};

static const struct wf_option tl_options[] = {
    { "testlang", WF_OPT_FLAG, &tl_enabled, NULL, 0, 0, 0,
      "serve the test app of the core's test suite" },
    { NULL }
};

WF_PLUGIN(testlang,
          .version = "test",
          .kind = WF_KIND_LANG,
          .ops = &tl_ops,
          .options = tl_options,
          .summary = "language: the core's test app (tests only)",
          .flags = WF_PLUGIN_F_THREADS);
