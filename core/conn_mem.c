/*
 * A connection's memory: one block per connection, grown on demand and
 * given back between requests (moved out of core/conn.c, which reads
 * heads and keeps connections; this file only sizes their room).
 * Loop and core context of the loop that owns the connection.
 */
#include "loop.h"

#include <stdlib.h>
#include <string.h>

#define BODY_STAGING 16384

/*
 * A connection's memory is sized on demand (issue 13: a sleeping request
 * held ~29 KiB of buffers allocated up front, their first pages touched).
 * It is made in one block with room for what most requests need: a head
 * of BUF_FIRST bytes, VARS_FIRST variables, ARENA_FIRST bytes of arena.
 * A larger head grows the buffer (doubling, up to --buffer-size + 4 and
 * the body staging: the same limits as before); a head with more
 * variables or longer names grows vars and arena to their full size and
 * is parsed again. Grown parts go back to the block's own room when the
 * connection moves on to its next request or closes (the pool keeps only
 * blocks). A chunked body gets the staging room before the app runs.
 */
#define BUF_FIRST   1024
#define VARS_FIRST  32
#define ARENA_FIRST 512

struct conn_block {
    struct wf__conn k;      /* first: a block is freed through its conn */
    struct wf_var vars[VARS_FIRST];
    char arena[ARENA_FIRST];
    char buf[BUF_FIRST];
};

#define BLOCK(k) ((struct conn_block *)(void *)(k))

/* See loop.h. */
size_t
wf__conn_buf_max(void)
{
    return (size_t)wf__cfg.buffer_size + 4 + BODY_STAGING;
}

static size_t
arena_max(void)
{
    return (size_t)wf__cfg.buffer_size * 2 + 1024;
}

/* The block's own room for vars and arena in use again, and for the
 * buffer too when it holds no more than BUF_FIRST bytes (they are
 * copied); grown parts are freed. No variable may be in use. */
/* See loop.h. */
void
wf__conn_room_reset(struct wf__conn *k)
{
    struct conn_block *b = BLOCK(k);

    if (k->buf != b->buf && k->buf_len <= BUF_FIRST) {
        memcpy(b->buf, k->buf, k->buf_len);
        free(k->buf);
        k->buf = b->buf;
        k->buf_cap = BUF_FIRST;
    } else if (k->buf == b->buf) {
        k->buf_cap = BUF_FIRST;
    }
    k->req.nvars = 0;
    if (k->req.vars != b->vars) {
        free(k->req.vars);
        k->req.vars = b->vars;
    }
    k->req.max_vars = VARS_FIRST < wf__cfg.max_vars
        ? VARS_FIRST : (unsigned)wf__cfg.max_vars;
    if (k->req.arena != b->arena) {
        free(k->req.arena);
        k->req.arena = b->arena;
    }
    k->req.arena_cap = ARENA_FIRST < arena_max() ? ARENA_FIRST : arena_max();
}

/* Variables whose key or value lay in [from, from + len) now lie at the
 * same offset from to. Integers, not pointers, are compared: the old
 * memory may be freed already. */
static void
vars_move(struct wf__req *r, uintptr_t from, size_t len, char *to)
{
    unsigned i;

    for (i = 0; i < r->nvars; i++) {
        struct wf_var *v = &r->vars[i];

        if ((uintptr_t)v->key - from < len) {
            v->key = to + ((uintptr_t)v->key - from);
        }
        if ((uintptr_t)v->val - from < len) {
            v->val = to + ((uintptr_t)v->val - from);
        }
    }
}

/* Move the n bytes at p (old_cap bytes of room: the block's own when own
 * is true) to a new allocation of cap bytes. The old room is overwritten
 * (a pointer not moved along shows at once, in tests too) and freed when
 * it is not the block's. Returns the new memory, or NULL without memory
 * (p untouched). Growth is rare: no realloc. */
static char *
room_move(char *p, int own, size_t n, size_t old_cap, size_t cap)
{
    char *nb = malloc(cap);

    if (nb == NULL) {
        return NULL;
    }
    memcpy(nb, p, n);
    memset(p, 0x5a, old_cap);
    if (!own) {
        free(p);
    }
    return nb;
}

/* Grow k's buffer to at least want bytes (doubling; at most
 * wf__conn_buf_max()). Variables that point into it follow it. 0, or -1
 * when it is at its limit already or memory is out. Loop context, or the
 * core that runs k's request before its app has seen a variable. */
int
wf__conn_buf_grow(struct wf__conn *k, size_t want)
{
    size_t cap = k->buf_cap, old_cap = k->buf_cap, max = wf__conn_buf_max();
    uintptr_t old = (uintptr_t)k->buf;
    char *nb;

    if (cap >= max) {
        return -1;
    }
    while (cap < want && cap < max) {
        cap *= 2;
    }
    if (cap < want || cap > max) {
        cap = max;
    }
    nb = room_move(k->buf, k->buf == BLOCK(k)->buf, k->buf_len, old_cap,
                   cap);
    if (nb == NULL) {
        return -1;
    }
    k->buf = nb;
    k->buf_cap = cap;
    vars_move(&k->req, old, old_cap, nb);
    return 0;
}

/* Vars and arena at their full size (--max-vars; twice --buffer-size plus
 * 1 KiB), what they hold kept. 0, or -1 when they are full-size already
 * or memory is out. Same contexts as wf__conn_buf_grow. */
int
wf__conn_req_grow(struct wf__conn *k)
{
    struct wf__req *r = &k->req;
    size_t vmax = (size_t)wf__cfg.max_vars, amax = arena_max();
    uintptr_t old = (uintptr_t)r->arena;
    size_t old_cap = r->arena_cap;
    int grew = 0;

    if (r->max_vars < vmax) {
        char *nv = room_move((char *)r->vars, r->vars == BLOCK(k)->vars,
                             r->nvars * sizeof(*r->vars),
                             r->max_vars * sizeof(*r->vars),
                             vmax * sizeof(*r->vars));

        if (nv == NULL) {
            return -1;
        }
        r->vars = (struct wf_var *)(void *)nv;
        r->max_vars = (unsigned)vmax;
        grew = 1;
    }
    if (r->arena_cap < amax) {
        char *na = room_move(r->arena, r->arena == BLOCK(k)->arena,
                             r->arena_len, old_cap, amax);

        if (na == NULL) {
            return -1;
        }
        r->arena = na;
        r->arena_cap = amax;
        vars_move(r, old, old_cap, na);
        grew = 1;
    }
    return grew ? 0 : -1;
}

struct wf__conn *
wf__conn_get(struct wf__loop *L)
{
    struct wf__conn *k = L->conn_free;

    if (k != NULL) {
        L->conn_free = k->next;
        return k;
    }
    /* malloc: the room is written as it is used, not zeroed up front */
    k = malloc(sizeof(struct conn_block));
    if (k == NULL) {
        return NULL;
    }
    memset(k, 0, sizeof(*k));
    k->buf = BLOCK(k)->buf;
    k->req.vars = BLOCK(k)->vars;
    k->req.arena = BLOCK(k)->arena;
    wf__conn_room_reset(k);
    k->timer.is_conn = 1;
    k->timer.heap_idx = -1;
    return k;
}

/* See loop.h. */
void
wf__conn_free(struct wf__conn *k)
{
    k->buf_len = 0;
    wf__conn_room_reset(k);
    free(k);
}

/* See loop.h. */
void
wf__conn_room_shrink(struct wf__conn *k)
{
    if (k->buf != BLOCK(k)->buf || k->req.arena != BLOCK(k)->arena
        || k->req.vars != BLOCK(k)->vars) {
        wf__conn_room_reset(k);
    }
}

