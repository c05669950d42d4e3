/*
 * Per-core interpreter state for CPython 3.11 (docs/langs/python.md, "Per-core interpreter state").
 *
 * A loop (one per thread of the worker) has one PyThreadState and many
 * cores. A PyThreadState
 * describes one linear call chain; with a suspend engine (ugreen) several
 * chains are alive at once, one per suspended core, so the fields that
 * describe a chain must follow the core:
 *
 *   recursion_remaining   kept as a depth, re-expressed against the limit
 *   cframe                the _PyCFrame of the innermost eval loop; each core
 *                         has its own base _PyCFrame (previous = root_cframe)
 *   datastack_*           3.11 bump-allocates interpreter frames in a per-
 *                         thread stack popped LIFO: two interleaved chains in
 *                         one stack overwrite each other (the uWSGI segfault).
 *                         Each core has its own chunk chain, kept across
 *                         requests and freed at worker exit.
 *   exc_info              each core its own bottom _PyErr_StackItem
 *   context (+ver bump)   contextvars: NULL at the start of every request
 *   trash_delete_nesting
 *
 * Two mechanisms use the same copy functions:
 *
 *  - handle() enters the core's own state on entry and leaves it on exit
 *    (pyw_ts_enter/leave). This alone isolates contextvars and exc_info
 *    between interleaved generator requests without a suspend engine.
 *  - save/restore (the lang ops) copy the live fields to and from a slot per
 *    core plus one for the loop, around every switch of a suspend engine.
 *    They are plain copies, so they work whichever side (loop or core) the
 *    core chooses to call them from, as long as a save of X is made while X
 *    runs and a restore of Y is made before Y runs.
 */
#include "pyweft.h"

#include <string.h>

static void
ts_take(struct pyw_ts *s, const PyThreadState *t)
{
    s->depth = t->recursion_limit - t->recursion_remaining;
    s->cframe = t->cframe;
    s->chunk = t->datastack_chunk;
    s->top = t->datastack_top;
    s->limit = t->datastack_limit;
    s->exc_info = t->exc_info;
    s->context = t->context;
    s->trash_nesting = t->trash_delete_nesting;
}

static void
ts_put(const struct pyw_ts *s, PyThreadState *t)
{
    t->recursion_remaining = t->recursion_limit - s->depth;
    t->cframe = s->cframe;
    t->datastack_chunk = s->chunk;
    t->datastack_top = s->top;
    t->datastack_limit = s->limit;
    t->exc_info = s->exc_info;
    t->context = s->context;
    t->context_ver++;       /* invalidates ContextVar caches, as greenlet */
    t->trash_delete_nesting = s->trash_nesting;
}

static void
chunk_free(_PyStackChunk *chunk)
{
    PyObjectArenaAllocator a;

    PyObject_GetArenaAllocator(&a);
    a.free(a.ctx, chunk, chunk->size);
}

/*
 * Root chunks of the data stack, lent to cores only while they run Python.
 * A core whose handle() returned has no frame on its data stack (a
 * generator keeps its frame in the generator object), so its root chunk
 * goes back here and the next core to enter takes it: N parked generator
 * requests hold no chunk at all instead of a touched page or more of their
 * own each, and a few hot chunks serve the worker (LIFO). A core suspended
 * inside the app keeps its chunk (handle() has not returned).
 */
#define PYW_CHUNK_POOL 8
/* per loop thread: a chunk is lent to the cores of one thread (--threads) */
static __thread _PyStackChunk *chunk_pool[PYW_CHUNK_POOL];
static __thread unsigned chunk_pool_n;

/* The loop's save(NULL)/restore(NULL) slot: each loop thread its own. */
static __thread struct pyw_ts loop_sw;

/* Give ps's root chunk back when nothing is on it. */
static void
chunk_put(struct pyw_pystate *ps)
{
    _PyStackChunk *ch = ps->ts.chunk;

    if (ch == NULL || ch->previous != NULL || ps->ts.top != &ch->data[1]) {
        return;
    }
    if (chunk_pool_n < PYW_CHUNK_POOL) {
        chunk_pool[chunk_pool_n++] = ch;
    } else {
        chunk_free(ch);
    }
    ps->ts.chunk = NULL;
    ps->ts.top = ps->ts.limit = NULL;
}

/* A chunk for ps if it has none (else CPython makes one on the first
 * frame pushed: push_chunk with datastack_top NULL). */
static void
chunk_get(struct pyw_pystate *ps)
{
    _PyStackChunk *ch;

    if (ps->ts.chunk != NULL || chunk_pool_n == 0) {
        return;
    }
    ch = chunk_pool[--chunk_pool_n];
    ps->ts.chunk = ch;
    ps->ts.top = &ch->data[1];  /* push_chunk skips data[0] of a root */
    ps->ts.limit = (PyObject **)((char *)ch + ch->size);
}

/* Worker exit: free the chunks nobody holds. */
void
pyw_ts_worker_fini(void)
{
    while (chunk_pool_n > 0) {
        chunk_free(chunk_pool[--chunk_pool_n]);
    }
}

/* A loop thread ends (--threads): the same for its own pool. */
void
pyw_ts_thread_fini(void)
{
    pyw_ts_worker_fini();
}

/* The loop's slot starts as the state the worker (or the loop thread)
 * has now (no request). */
void
pyw_ts_worker_init(void)
{
    ts_take(&loop_sw, PyThreadState_Get());
}

/* A fresh pystate for pc (its old one, if any, was freed or leaked). */
void
pyw_ts_core_init(struct pyw_core *pc)
{
    PyThreadState *t = PyThreadState_Get();
    struct pyw_pystate *ps = PyMem_RawCalloc(1, sizeof(*ps));

    if (ps == NULL) {
        WF_BUG("python: out of memory for core %u's interpreter state",
               pc->id);
    }
    ps->base_cframe = t->root_cframe;
    ps->base_cframe.current_frame = NULL;
    ps->base_cframe.previous = &t->root_cframe;
    ps->exc_item.exc_value = NULL;
    ps->exc_item.previous_item = &t->exc_state;
    ps->ts.cframe = &ps->base_cframe;
    ps->ts.exc_info = &ps->exc_item;
    pc->ps = ps;
    ts_take(&pc->sw, t);
}

/*
 * Make the core's state current. fresh: a new request starts: recursion 0,
 * no context, no exception, and the data stack reset to the bottom of its
 * root chunk (every frame of the previous request has been popped).
 */
void
pyw_ts_enter(struct pyw_core *pc, int fresh)
{
    PyThreadState *t = PyThreadState_Get();
    struct pyw_pystate *ps = pc->ps;

    ts_take(&pc->outer, t);
    if (fresh) {
        _PyStackChunk *ch = ps->ts.chunk;

        ps->ts.depth = 0;
        ps->ts.trash_nesting = 0;
        ps->base_cframe.current_frame = NULL;
        ps->base_cframe.previous = &t->root_cframe;
        ps->ts.cframe = &ps->base_cframe;
        ps->exc_item.previous_item = &t->exc_state;
        Py_CLEAR(ps->exc_item.exc_value);
        ps->ts.exc_info = &ps->exc_item;
        Py_CLEAR(ps->ts.context);
        if (ch != NULL) {
            /* Only the root chunk survives a finished request. */
            while (ch->previous != NULL) {
                _PyStackChunk *prev = ch->previous;
                chunk_free(ch);
                ch = prev;
            }
            ps->ts.chunk = ch;
            ps->ts.top = &ch->data[1];  /* push_chunk skips data[0] */
            ps->ts.limit = (PyObject **)((char *)ch + ch->size);
        }
    }
    chunk_get(ps);
    /* A tracer installed on the thread must keep working in the core. */
    ps->base_cframe.use_tracing = t->cframe->use_tracing;
    ts_put(&ps->ts, t);
}

/* Keep the core's state and put back what handle() found. */
void
pyw_ts_leave(struct pyw_core *pc)
{
    PyThreadState *t = PyThreadState_Get();
    struct pyw_pystate *ps = pc->ps;

    ts_take(&ps->ts, t);
    if (ps->ts.cframe != &ps->base_cframe) {
        WF_BUG("python: core %u left handle() with a foreign _PyCFrame: a "
               "suspend engine switched without save/restore", pc->id);
    }
    ps->ts.depth = 0;
    chunk_put(ps);
    ts_put(&pc->outer, t);
    /* Outside handle() the core holds no Python state of its own in the
     * switch slot: a restore(c) then only puts back the loop's fields. */
    pc->sw = pc->outer;
}

/* Drop the current request's contextvars (core state must be current). */
void
pyw_ts_clear_context(void)
{
    PyThreadState *t = PyThreadState_Get();

    if (t->context != NULL) {
        PyObject *ctx = t->context;
        t->context = NULL;
        t->context_ver++;
        Py_DECREF(ctx);
    }
}

void
pyw_ts_save(struct pyw_core *pc)
{
    ts_take(pc != NULL ? &pc->sw : &loop_sw, PyThreadState_Get());
}

void
pyw_ts_restore(struct pyw_core *pc)
{
    ts_put(pc != NULL ? &pc->sw : &loop_sw, PyThreadState_Get());
}

/*
 * The core is being dropped while suspended inside the app: its frames are
 * on a C stack that will never run again. Nothing that they reference can be
 * released safely (an executing generator cannot be closed, frame objects
 * may point into the data stack), so the whole state is leaked on purpose
 * and the core gets a new one. Loop context.
 */
void
pyw_ts_abandon(struct pyw_core *pc)
{
    pyw.leaked++;
    pc->ps = NULL;
    pyw_ts_core_init(pc);
    ts_take(&pc->sw, PyThreadState_Get());
}

/* Worker exit: free the core's data stack and state. Not in a request. */
void
pyw_ts_core_fini(struct pyw_core *pc)
{
    struct pyw_pystate *ps = pc->ps;
    _PyStackChunk *ch;

    if (ps == NULL) {
        return;
    }
    ch = ps->ts.chunk;
    while (ch != NULL) {
        _PyStackChunk *prev = ch->previous;
        chunk_free(ch);
        ch = prev;
    }
    Py_CLEAR(ps->ts.context);
    Py_CLEAR(ps->exc_item.exc_value);
    PyMem_RawFree(ps);
    pc->ps = NULL;
}
