/*
 * The parsed request (struct wf__req): its variables and its arena. The
 * storage is the caller's; these functions only fill it. No allocation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "proto.h"

/*
 * Empty r for a new parse: no variables, an empty arena, no body length,
 * every flag cleared. vars, max_vars, arena and arena_cap (the caller's
 * storage) are kept. Any context.
 */
void
wf__req_reset(struct wf__req *r)
{
    r->nvars = 0;
    r->arena_len = 0;
    r->content_length = -1;
    r->chunked = 0;
    r->keepalive = 0;
    r->expect_continue = 0;
    r->http_minor = 0;
    r->is_head = 0;
    r->modifier1 = 0;
    r->modifier2 = 0;
}

/*
 * Take n bytes from r's arena. Returns a pointer to them (owned by the
 * arena: valid until the next wf__req_reset), or NULL when fewer than n
 * bytes are left. Strings only: no alignment is given. Any context.
 */
char *
wf__req_alloc(struct wf__req *r, size_t n)
{
    char *p;

    if (n > r->arena_cap - r->arena_len) {
        return NULL;
    }
    p = r->arena + r->arena_len;
    r->arena_len += n;
    return p;
}

/*
 * Append the variable key=val without copying: both are borrowed and must
 * outlive the request. A NULL val with vlen 0 is stored as "". Returns 0,
 * or -431 when vars[] is full or a length does not fit in the 16 bits of
 * struct wf_var. Any context.
 */
int
wf__req_put_var(struct wf__req *r, const char *key, size_t klen,
                const char *val, size_t vlen)
{
    struct wf_var *v;

    if (r->nvars >= r->max_vars || klen > UINT16_MAX || vlen > UINT16_MAX) {
        return -431;
    }
    v = &r->vars[r->nvars++];
    v->key = key;
    v->klen = (uint16_t) klen;
    /* An empty value must still be found by wf__req_get(). */
    v->val = val != NULL ? val : "";
    v->vlen = (uint16_t) vlen;
    return 0;
}

/*
 * Append the variable key=val, copying both into r's arena, so the caller
 * keeps ownership of key and val. Returns 0, or -431 when vars[] or the
 * arena is full (r is then unchanged). Any context.
 */
int
wf__req_add_var(struct wf__req *r, const char *key, size_t klen,
                const char *val, size_t vlen)
{
    char *k, *v;

    if (r->nvars >= r->max_vars || klen > UINT16_MAX || vlen > UINT16_MAX
        || klen + vlen > r->arena_cap - r->arena_len) {
        return -431;
    }
    k = wf__req_alloc(r, klen);
    v = wf__req_alloc(r, vlen);
    if (klen > 0) {
        memcpy(k, key, klen);
    }
    if (vlen > 0) {
        memcpy(v, val, vlen);
    }
    return wf__req_put_var(r, k, klen, v, vlen);
}

/*
 * The value of the first variable named key (a NUL-terminated string,
 * compared byte for byte), or NULL when there is none. *vlen (when vlen is
 * not NULL) receives the length; the value is not NUL-terminated and is
 * borrowed from r. A linear search: fine for the few dozen variables of a
 * request. Any context.
 */
const char *
wf__req_get(const struct wf__req *r, const char *key, size_t *vlen)
{
    size_t klen = strlen(key);
    unsigned i;

    for (i = 0; i < r->nvars; i++) {
        const struct wf_var *v = &r->vars[i];

        if (v->klen == klen && memcmp(v->key, key, klen) == 0) {
            if (vlen != NULL) {
                *vlen = v->vlen;
            }
            return v->val;
        }
    }
    return NULL;
}
