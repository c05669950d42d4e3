/*
 * echo: a weft language plugin built out of weft's tree, against the
 * installed headers only (see Makefile beside this file and docs/plugins.md).
 *
 * It answers every request with what it received:
 *
 *     <banner>
 *     GET /path?query HTTP/1.1
 *     host: 127.0.0.1:8080          (every HTTP_* variable, lower-cased)
 *     body: 5 bytes
 *     <the body>
 *
 * and shows the two ways a language gives the worker away while it waits:
 *
 *   ?delay=MS   the generator way: arm the core's timer with wf_wait_timer()
 *               and return WF_AGAIN; the core calls handle() again when the
 *               timer fires. Works with or without a suspend engine.
 *   ?sleep=MS   the blocking way: wf_sleep() suspends the core through the
 *               suspend engine (--async N --ugreen), or blocks the worker
 *               in poll() when there is none.
 *
 * Run it:
 *     weft --plugins-dir . --plugin echo --echo --http-socket :8080
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>

/* What a core keeps between two handle() calls of one request. */
struct echo_core {
    int waited;                 /* the ?delay timer has fired */
};

static struct echo_core *echo_cores;
static int echo_enabled;
static char *echo_banner;
static long echo_max_body;

/* The number after "key=" in the query string, or def. */
static long
query_num(struct wf_core *c, const char *key, long def)
{
    size_t qlen, klen = strlen(key);
    const char *q = wf_req_get(c, "QUERY_STRING", &qlen);
    const char *p = q, *end = q ? q + qlen : NULL;

    while (p != NULL && p < end) {
        if ((size_t)(end - p) > klen && memcmp(p, key, klen) == 0 &&
            p[klen] == '=') {
            return strtol(p + klen + 1, NULL, 10);
        }
        p = memchr(p, '&', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    return def;
}

/* Append to a growing buffer; returns 0 or -ENOMEM. */
static int
put(char **buf, size_t *len, size_t *cap, const void *s, size_t n)
{
    if (*len + n > *cap) {
        size_t ncap = (*len + n) * 2 + 256;
        char *nb = realloc(*buf, ncap);

        if (nb == NULL) {
            return -ENOMEM;
        }
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    return 0;
}

static int
put_var(char **buf, size_t *len, size_t *cap, struct wf_core *c,
        const char *key)
{
    size_t vlen;
    const char *v = wf_req_get(c, key, &vlen);

    return v ? put(buf, len, cap, v, vlen) : 0;
}

/* Build the whole answer, then send it with a Content-Length. */
static int
echo_answer(struct wf_core *c)
{
    char *out = NULL, line[64], num[32];
    size_t len = 0, cap = 0;
    const struct wf_var *v;
    unsigned n, i;
    ssize_t got;
    int rc = WF_ERROR;

    if (put(&out, &len, &cap, echo_banner, strlen(echo_banner)) < 0 ||
        put(&out, &len, &cap, "\n", 1) < 0 ||
        put_var(&out, &len, &cap, c, "REQUEST_METHOD") < 0 ||
        put(&out, &len, &cap, " ", 1) < 0 ||
        put_var(&out, &len, &cap, c, "REQUEST_URI") < 0 ||
        put(&out, &len, &cap, " ", 1) < 0 ||
        put_var(&out, &len, &cap, c, "SERVER_PROTOCOL") < 0 ||
        put(&out, &len, &cap, "\n", 1) < 0) {
        goto done;
    }
    v = wf_req_vars(c, &n);
    for (i = 0; i < n; i++) {
        uint16_t k;

        if (v[i].klen <= 5 || memcmp(v[i].key, "HTTP_", 5) != 0) {
            continue;
        }
        /* HTTP_X_FORWARDED_FOR -> x-forwarded-for */
        for (k = 5; k < v[i].klen && k - 5 < sizeof(line) - 1; k++) {
            char ch = v[i].key[k];

            line[k - 5] = ch == '_' ? '-' :
                          (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        if (put(&out, &len, &cap, line, (size_t)(k - 5)) < 0 ||
            put(&out, &len, &cap, ": ", 2) < 0 ||
            put(&out, &len, &cap, v[i].val, v[i].vlen) < 0 ||
            put(&out, &len, &cap, "\n", 1) < 0) {
            goto done;
        }
    }

    /* The body: read what arrives, never more than --echo-max-body. */
    {
        size_t start = len, blen;
        char buf[16384];

        while ((got = wf_read_body(c, buf, sizeof(buf))) > 0) {
            if ((long)(len - start) + got > echo_max_body) {
                wf_response_error(c, 413);
                rc = WF_DONE;
                goto done;
            }
            if (put(&out, &len, &cap, buf, (size_t)got) < 0) {
                goto done;
            }
        }
        if (got < 0) {
            wf_log(WF_LOG_WARN, "echo: reading the body: %s",
                   strerror((int)-got));
            goto done;
        }
        /* "body: N bytes\n" goes before the body: move the body up. */
        blen = len - start;
        snprintf(line, sizeof(line), "body: %zu bytes\n", blen);
        if (put(&out, &len, &cap, line, strlen(line)) < 0) {
            goto done;
        }
        memmove(out + start + strlen(line), out + start, blen);
        memcpy(out + start, line, strlen(line));
    }

    snprintf(num, sizeof(num), "%zu", len);
    if (wf_response_status(c, "200 OK", 6) < 0 ||
        wf_response_header(c, "Content-Type", 12, "text/plain", 10) < 0 ||
        wf_response_header(c, "Content-Length", 14, num, strlen(num)) < 0) {
        goto done;
    }
    rc = wf_write(c, out, len) < 0 ? WF_ERROR : WF_DONE;
done:
    free(out);
    return rc;
}

static int
echo_handle(struct wf_core *c)
{
    struct echo_core *e = &echo_cores[c->id];
    long ms;

    if (!e->waited && (ms = query_num(c, "delay", 0)) > 0) {
        /* Generator style: the core calls us again when the timer fires. */
        e->waited = 1;
        wf_wait_timer(c, ms);
        return WF_AGAIN;
    }
    e->waited = 0;
    if ((ms = query_num(c, "sleep", 0)) > 0) {
        int r = wf_sleep(c, ms);

        if (r < 0 && r != -ETIMEDOUT) {
            return WF_ERROR;    /* -ECANCELED: harakiri or shutdown */
        }
    }
    return echo_answer(c);
}

/* The request was abandoned between two handle() calls. */
static void
echo_release(struct wf_core *c)
{
    echo_cores[c->id].waited = 0;
}

static int
echo_init(struct wf_err *err)
{
    (void)err;
    return 0;
}

static int
echo_load_app(struct wf_err *err)
{
    (void)err;
    return echo_enabled ? 1 : 0;
}

static int
echo_worker_init(unsigned ncores, struct wf_err *err)
{
    echo_cores = calloc(ncores, sizeof(*echo_cores));
    if (echo_cores == NULL) {
        return wf_err_set(err, "echo: out of memory for %u cores", ncores);
    }
    return 0;
}

static void
echo_shutdown(void)
{
    free(echo_cores);
    echo_cores = NULL;
}

static const struct wf_lang_ops echo_ops = {
    .modifier1 = 0,
    .init = echo_init,
    .load_app = echo_load_app,
    .worker_init = echo_worker_init,
    .handle = echo_handle,
    .release = echo_release,
    .shutdown = echo_shutdown,
};

static const struct wf_option echo_options[] = {
    { "echo", WF_OPT_FLAG, &echo_enabled, NULL, 0, 0, 0,
      "answer every request with what it received", 0, NULL, NULL },
    { "echo-banner", WF_OPT_STR, &echo_banner, "echo", 0, 0, 0,
      "the first line of every answer", 0, NULL, "TEXT" },
    { "echo-max-body", WF_OPT_SIZE, &echo_max_body, "1m", 0, 1L << 30, 0,
      "largest request body echoed (413 beyond)", 0, NULL, "BYTES" },
    { NULL }
};

WF_PLUGIN(echo,
          .version = "1.0",
          .kind = WF_KIND_LANG,
          .ops = &echo_ops,
          .options = echo_options,
          .summary = "language: echoes the request (the SDK's example)");
