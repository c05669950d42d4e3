/*
 * The worker's deadlines: a binary min-heap of timer nodes (a core's wait
 * timer, a connection's head or keep-alive timeout). Millisecond resolution
 * on CLOCK_MONOTONIC. Loop and core context of one worker.
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
heap_swap(unsigned a, unsigned b)
{
    struct wf__tnode **h = wf__w.heap;
    struct wf__tnode *t = h[a];

    h[a] = h[b];
    h[b] = t;
    h[a]->heap_idx = (int)a;
    h[b]->heap_idx = (int)b;
}

static void
sift_up(unsigned i)
{
    while (i > 0) {
        unsigned p = (i - 1) / 2;

        if (wf__w.heap[p]->deadline <= wf__w.heap[i]->deadline) {
            break;
        }
        heap_swap(i, p);
        i = p;
    }
}

static void
sift_down(unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;

        if (l < wf__w.nheap &&
            wf__w.heap[l]->deadline < wf__w.heap[m]->deadline) {
            m = l;
        }
        if (r < wf__w.nheap &&
            wf__w.heap[r]->deadline < wf__w.heap[m]->deadline) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(i, m);
        i = m;
    }
}

/* See internal.h. Moves t when it is armed already. */
int
wf__timer_set(struct wf__tnode *t, int64_t deadline)
{
    if (t->heap_idx >= 0) {
        t->deadline = deadline;
        sift_up((unsigned)t->heap_idx);
        sift_down((unsigned)t->heap_idx);
        return 0;
    }
    if (wf__w.nheap == wf__w.heap_cap) {
        unsigned ncap = wf__w.heap_cap ? wf__w.heap_cap * 2 : 64;
        struct wf__tnode **nh = realloc(wf__w.heap, ncap * sizeof(*nh));

        if (nh == NULL) {
            return -ENOMEM;
        }
        wf__w.heap = nh;
        wf__w.heap_cap = ncap;
    }
    t->deadline = deadline;
    t->heap_idx = (int)wf__w.nheap;
    wf__w.heap[wf__w.nheap++] = t;
    sift_up((unsigned)t->heap_idx);
    return 0;
}

/* See internal.h. */
void
wf__timer_clear(struct wf__tnode *t)
{
    unsigned i, last;

    if (t->heap_idx < 0) {
        return;
    }
    i = (unsigned)t->heap_idx;
    last = --wf__w.nheap;
    t->heap_idx = -1;
    if (i != last) {
        wf__w.heap[i] = wf__w.heap[last];
        wf__w.heap[i]->heap_idx = (int)i;
        sift_up(i);
        sift_down((unsigned)wf__w.heap[i]->heap_idx);
    }
}

/* See internal.h. */
long
wf__timer_next(int64_t now)
{
    int64_t d;

    if (wf__w.nheap == 0) {
        return -1;
    }
    d = wf__w.heap[0]->deadline - now;
    return d > 0 ? (long)d : 0;
}

/* See internal.h. */
struct wf__tnode *
wf__timer_pop_due(int64_t now)
{
    struct wf__tnode *t;

    if (wf__w.nheap == 0 || wf__w.heap[0]->deadline > now) {
        return NULL;
    }
    t = wf__w.heap[0];
    wf__timer_clear(t);
    return t;
}
