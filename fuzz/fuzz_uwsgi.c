/*
 * Fuzz target: the uwsgi packet parser (core/uwsgi.c).
 *
 * A complete packet's length is within the input, every key and value
 * lies inside the packet, and every shorter prefix of a complete packet
 * is "need more" (0) or refused early for its announced size: never a
 * different success.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "fuzz.h"
#include "proto.h"

#define NVARS 100

static struct wf_var vars[NVARS];
static char arena[1024];

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
    r->arena_cap = sizeof(arena);
    wf__req_reset(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t max = 4096 + 4, len;
    struct wf__req r;
    unsigned i;
    int rc;

    req_init(&r);
    rc = wf__uwsgi_parse(buf, size, max, &r);
    FUZZ_CHECK(rc == 0 || rc == -400 || rc == -431
               || (rc > 4 && (size_t)rc <= size && (size_t)rc <= max));
    if (rc <= 0) {
        return 0;
    }
    for (i = 0; i < r.nvars; i++) {
        const struct wf_var *v = &r.vars[i];

        FUZZ_CHECK(v->klen > 0);
        FUZZ_CHECK(v->key >= buf + 4 && v->key + v->klen <= buf + rc);
        FUZZ_CHECK(v->vlen == 0
                   || (v->val >= buf + 4 && v->val + v->vlen <= buf + rc));
    }
    FUZZ_CHECK(r.keepalive == 0);
    FUZZ_CHECK(r.http_minor <= 1);
    for (len = 0; len < (size_t)rc; len += 1 + len / 3) {
        req_init(&r);
        FUZZ_CHECK(wf__uwsgi_parse(buf, len, max, &r) == 0);
    }
    return 0;
}
