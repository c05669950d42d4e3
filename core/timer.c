/*
 * The worker's deadlines: a binary min-heap of timer nodes (a core's wait
 * timer, a connection's head or keep-alive timeout). Millisecond resolution
 * on CLOCK_MONOTONIC. Loop and core context of the loop that owns the heap.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* See internal.h. */
int64_t
wf__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
heap_swap(struct wf__loop *L, unsigned a, unsigned b)
{
    struct wf__tnode **h = L->heap;
    struct wf__tnode *t = h[a];

    h[a] = h[b];
    h[b] = t;
    h[a]->heap_idx = (int)a;
    h[b]->heap_idx = (int)b;
}

static void
sift_up(struct wf__loop *L, unsigned i)
{
    while (i > 0) {
        unsigned p = (i - 1) / 2;

        if (L->heap[p]->deadline <= L->heap[i]->deadline) {
            break;
        }
        heap_swap(L, i, p);
        i = p;
    }
}

static void
sift_down(struct wf__loop *L, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;

        if (l < L->nheap &&
            L->heap[l]->deadline < L->heap[m]->deadline) {
            m = l;
        }
        if (r < L->nheap &&
            L->heap[r]->deadline < L->heap[m]->deadline) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(L, i, m);
        i = m;
    }
}

/* See internal.h. Moves t when it is armed already. */
int
wf__timer_set(struct wf__loop *L, struct wf__tnode *t, int64_t deadline)
{
    if (t->heap_idx >= 0) {
        t->deadline = deadline;
        sift_up(L, (unsigned)t->heap_idx);
        sift_down(L, (unsigned)t->heap_idx);
        return 0;
    }
    if (L->nheap == L->heap_cap) {
        unsigned ncap = L->heap_cap ? L->heap_cap * 2 : 64;
        struct wf__tnode **nh = realloc(L->heap, ncap * sizeof(*nh));

        if (nh == NULL) {
            return -ENOMEM;
        }
        L->heap = nh;
        L->heap_cap = ncap;
    }
    t->deadline = deadline;
    t->heap_idx = (int)L->nheap;
    L->heap[L->nheap++] = t;
    sift_up(L, (unsigned)t->heap_idx);
    return 0;
}

/* See internal.h. */
void
wf__timer_clear(struct wf__loop *L, struct wf__tnode *t)
{
    unsigned i, last;

    if (t->heap_idx < 0) {
        return;
    }
    i = (unsigned)t->heap_idx;
    last = --L->nheap;
    t->heap_idx = -1;
    if (i != last) {
        L->heap[i] = L->heap[last];
        L->heap[i]->heap_idx = (int)i;
        sift_up(L, i);
        sift_down(L, (unsigned)L->heap[i]->heap_idx);
    }
}

/* See internal.h. */
long
wf__timer_next(struct wf__loop *L, int64_t now)
{
    int64_t d;

    if (L->nheap == 0) {
        return -1;
    }
    d = L->heap[0]->deadline - now;
    return d > 0 ? (long)d : 0;
}

/* See internal.h. */
struct wf__tnode *
wf__timer_pop_due(struct wf__loop *L, int64_t now)
{
    struct wf__tnode *t;

    if (L->nheap == 0 || L->heap[0]->deadline > now) {
        return NULL;
    }
    t = L->heap[0];
    wf__timer_clear(L, t);
    return t;
}
