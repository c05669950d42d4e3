/*
 * Fuzz target: the HTTP/1.x request head parser (core/http.c).
 *
 * Besides memory errors (ASan) and undefined behaviour (UBSan), it checks:
 * - a complete head's length is within the input, and every variable
 *   points into the input or the arena, within their bounds;
 * - CONTENT_LENGTH, when present, is the number in content_length;
 * - the incremental parser (wf__http_parse_more, fed growing prefixes as
 *   the loop feeds it) answers exactly what the one-shot parser answers
 *   on the same prefix: the scan state never changes a verdict.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "fuzz.h"
#include "proto.h"

#define NVARS 100
#define ARENA (2 * 8192 + 1024)

static struct wf_var vars[NVARS];
static char arena[ARENA];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void
req_init(struct wf__req *r)
{
    memset(r, 0, sizeof(*r));
    r->vars = vars;
    r->max_vars = NVARS;
    r->arena = arena;
    r->arena_cap = ARENA;
    wf__req_reset(r);
}

static int
inside(const char *p, size_t n, const char *base, size_t cap)
{
    return p >= base && p + n <= base + cap;
}

static void
check_vars(const struct wf__req *r, const char *buf, size_t len)
{
    unsigned i;
    int has_cl = 0;

    FUZZ_CHECK(r->nvars <= r->max_vars);
    FUZZ_CHECK(r->arena_len <= r->arena_cap);
    for (i = 0; i < r->nvars; i++) {
        const struct wf_var *v = &r->vars[i];

        FUZZ_CHECK(v->klen > 0);
        FUZZ_CHECK(inside(v->key, v->klen, buf, len)
                   || inside(v->key, v->klen, r->arena, r->arena_len)
                   || v->klen < 32);  /* static names: "PATH_INFO" ... */
        FUZZ_CHECK(v->vlen == 0 || inside(v->val, v->vlen, buf, len)
                   || inside(v->val, v->vlen, r->arena, r->arena_len)
                   /* the parser's own constants */
                   || (v->vlen == 8 && memcmp(v->val, "HTTP/1.1", 8) == 0)
                   || (v->vlen == 1 && v->val[0] == '/'));
        if (v->klen == 14 && memcmp(v->key, "CONTENT_LENGTH", 14) == 0) {
            int64_t cl = 0;
            unsigned j;

            has_cl = 1;
            for (j = 0; j < v->vlen; j++) {
                FUZZ_CHECK(v->val[j] >= '0' && v->val[j] <= '9');
                cl = cl * 10 + (v->val[j] - '0');
            }
            FUZZ_CHECK(cl == r->content_length);
        }
    }
    FUZZ_CHECK(has_cl == (r->content_length >= 0));
    FUZZ_CHECK(!(r->chunked && r->content_length >= 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wf__http_scan sc;
    struct wf__req r;
    const char *buf = (const char *)data;
    size_t max_head = 8192, step, len;
    int rc, inc;

    if (size > 0) {
        /* the last byte picks a smaller limit sometimes: -431 paths */
        if (data[size - 1] & 1) {
            max_head = 16 + data[size - 1] * 8;
        }
    }
    req_init(&r);
    rc = wf__http_parse(buf, size, max_head, &r);
    FUZZ_CHECK(rc <= (int)size);
    FUZZ_CHECK(rc >= 0 || rc == -400 || rc == -431 || rc == -501
               || rc == -505);
    if (rc > 0) {
        check_vars(&r, buf, size);
    }

    /* The same bytes in pieces, as the loop reads them. */
    step = size > 0 ? 1 + data[0] % 61 : 1;
    wf__http_scan_init(&sc);
    for (len = 0; ; len += step) {
        struct wf__req r2;
        int one;

        if (len > size) {
            len = size;
        }
        req_init(&r);
        inc = wf__http_parse_more(buf, len, max_head, &r, &sc);
        req_init(&r2);
        one = wf__http_parse(buf, len, max_head, &r2);
        FUZZ_CHECK(inc == one);
        if (inc != 0 || len == size) {
            break;
        }
        step += step / 2;
    }
    return 0;
}
