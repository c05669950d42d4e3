/*
 * greenlet: the suspend engine on Python greenlets, one per core and request
 * (docs/engines/greenlet.md). WSGI only: it requires the python plugin, which has started
 * CPython in the master. A loop thread holds the GIL whenever it runs a
 * core (the python plugin lets go of it only around waits), so no call
 * here takes or releases it. With --threads each loop thread has its own
 * main greenlet (thread_init) and switches only its own cores.
 *
 *   worker_init  import greenlet's C API (PyGreenlet_Import), remember the
 *                worker's main greenlet (the loop), make one slot per core
 *                with a `run` callable bound to the core's id.
 *   resume(c)    loop, in the main greenlet: on the first round of a
 *                request create PyGreenlet_New(run, NULL) (parent: main),
 *                then PyGreenlet_Switch into it. It comes back when the core
 *                suspends (the greenlet switched to main) or its request
 *                ended (run returned None: the greenlet is dead and its
 *                reference is dropped at once, so greenlet frees its frame
 *                data stack and C stack copy with it).
 *   suspend(c)   core, in the core's greenlet: PyGreenlet_Switch(main).
 *                When the app suspends from a greenlet of its own (made
 *                inside the request: its parent chain leads to the core's),
 *                resume() switches back to that one, not to the core's.
 *
 * Interpreter state. greenlet saves and restores the Python thread state of
 * each greenlet at every switch (frames, recursion depth, the 3.11 frame
 * data stack, exc_info, contextvars: docs/langs/python.md), so keeps_lang_state names
 * "python" and the core does not call the python plugin's save/restore
 * around resume(). The python plugin still enters the core's own state
 * inside each handle() call; greenlet carries whatever is current across
 * the switch, so the two compose.
 *
 * A failed switch is a logged error for that request (resume() returns -1
 * and the core sends a 500), never exit() of the worker as in uWSGI.
 *
 * Worker exit (docs/engines/greenlet.md, "Worker exit"). The core finishes or cancels every request
 * before the worker stops, and a finished greenlet is dropped at once, so
 * normally no greenlet is alive when the python plugin finalises CPython.
 * The main greenlet reference and any core greenlet the core abandoned are
 * let go from an atexit callback that Py_FinalizeEx runs while Python still
 * works; worker_fini does the same when CPython was not finalised, and
 * touches no Python object when it was. A greenlet still suspended is
 * never thrown into (its frames would run again during shutdown) and never
 * deallocated (dealloc throws GreenletExit into it): it is leaked with a
 * warning, as the python plugin leaks the frames of such a core.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <greenlet/greenlet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>

#include "py_errors.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* One core's context. */
struct gl_slot {
    struct wf_core *core;   /* the core being run, set by resume() */
    PyGreenlet *g;          /* the request's greenlet, or NULL */
    PyGreenlet *at;         /* the greenlet that suspended, if not g (a
                               greenlet the app made inside the request) */
    PyObject *run;          /* run(): wf_core_body(core); bound to the id */
};

static struct {
    struct gl_slot *slot;
    unsigned n;
    PyObject *atexit_fn;    /* our atexit callback, registered */
    unsigned long switches_failed;
    unsigned leaked;        /* greenlets let go while suspended */
} gl;

/* Per loop thread (--threads): greenlets belong to the thread that made
 * them, each thread has its own main greenlet (its loop), and a core is
 * only ever resumed by the thread whose loop owns it. */
static __thread PyGreenlet *tl_main;        /* this thread's loop */
static __thread struct gl_slot *tl_current; /* running now, or NULL */
static __thread unsigned tl_base, tl_n;     /* its cores (thread_init) */

static int gl_opt_enabled;

/* ------------------------------------------------------------ helpers */

/* greenlet 2.0.1 fixed the 3.11 frame data stack leak (greenlet #328,
 * gevent #1924): every finished greenlet leaked its root chunk before. */
static void
gl_check_version(void)
{
    PyObject *mod = PyImport_ImportModule("greenlet"), *v = NULL;
    const char *s = NULL;
    int a = 0, b = 0, c = 0;

    if (mod != NULL) {
        v = PyObject_GetAttrString(mod, "__version__");
    }
    if (v != NULL) {
        s = PyUnicode_AsUTF8(v);
    }
    if (s != NULL && sscanf(s, "%d.%d.%d", &a, &b, &c) >= 2) {
        if (a < 2 || (a == 2 && b == 0 && c < 1)) {
            wf_log(WF_LOG_WARN, "greenlet: greenlet %s leaks the frame "
                   "data stack of every finished greenlet on Python 3.11 "
                   "(greenlet #328); upgrade to 2.0.1 or newer", s);
        }
    }
    PyErr_Clear();
    Py_XDECREF(v);
    Py_XDECREF(mod);
}

/* ----------------------------------------------------------- the body */

/* run(): the whole request, handle() after handle(). self is the core's
 * id (an int). Returns None; the greenlet then dies and switches back to
 * its parent, the main greenlet, whose resume() sees it dead. */
static PyObject *
gl_run(PyObject *self, PyObject *unused)
{
    unsigned long id = PyLong_AsUnsignedLong(self);

    if (id >= gl.n || gl.slot[id].core == NULL) {
        WF_BUG("greenlet: run() of core %lu, which has no request", id);
    }
    wf_core_body(gl.slot[id].core);
    if (PyErr_Occurred()) {
        /* the python plugin clears what the app raised; this is a bug
         * somewhere below wf_core_body, not a reason to fail the switch */
        char what[128];

        snprintf(what, sizeof(what), "greenlet: core %lu ended its request "
                 "with a Python exception set", id);
        pyw_log_exc(WF_LOG_ERROR, "%s", what);
    }
    Py_RETURN_NONE;
}

static PyMethodDef gl_run_def = {
    "weft_core", gl_run, METH_NOARGS,
    "the body of one weft core: serve its request, then end"
};

/* --------------------------------------------------------- worker exit */

/* Let go of the cores' greenlets and the main greenlet. Python must be
 * alive. A dead greenlet is freed; a live one (a core abandoned while
 * suspended) is leaked, see the top of the file. */
static void
gl_release_all(const char *when)
{
    unsigned i, live = 0;

    for (i = 0; i < gl.n; i++) {
        struct gl_slot *s = &gl.slot[i];

        if (s->g != NULL) {
            if (PyGreenlet_ACTIVE(s->g)) {
                live++;
                s->g = NULL;    /* leaked on purpose */
                s->at = NULL;
            } else {
                Py_CLEAR(s->g);
            }
        }
        Py_CLEAR(s->run);
        s->core = NULL;
    }
    if (live > 0) {
        gl.leaked += live;
        wf_log(WF_LOG_WARN, "greenlet: %u suspended core%s left alone %s: "
               "their greenlets are leaked, not killed (their frames must "
               "not run during shutdown)", live, live == 1 ? "" : "s", when);
    }
    Py_CLEAR(tl_main);
}

/* Called by Py_FinalizeEx (atexit), while Python still works. */
static PyObject *
gl_atexit(PyObject *self, PyObject *unused)
{
    if (gl.slot != NULL) {
        gl_release_all("when Python finalises");
    }
    Py_CLEAR(gl.atexit_fn);
    Py_RETURN_NONE;
}

static PyMethodDef gl_atexit_def = {
    "weft_greenlet_atexit", gl_atexit, METH_NOARGS,
    "let go of the greenlets of weft's cores before Python finalises"
};

/* atexit.register(fn) or atexit.unregister(fn). 0 or -1 (+exc). */
static int
gl_atexit_call(const char *method, PyObject *fn)
{
    PyObject *mod = PyImport_ImportModule("atexit"), *r = NULL;

    if (mod != NULL) {
        r = PyObject_CallMethod(mod, method, "O", fn);
        Py_DECREF(mod);
    }
    Py_XDECREF(r);
    return r != NULL ? 0 : -1;
}

/* ------------------------------------------------------------- engine */

static void gl_worker_fini(void);

static int
gl_worker_init(unsigned ncores, struct wf_err *err)
{
    const char *a = wf_opt_get("async");
    char buf[256];
    unsigned i;

#if WF_BUILD_FLAGS & WF_BUILD_F_ASAN
    /* greenlet switches by copying slices of the C stack, redzones
     * included: AddressSanitizer reports every switch as an overflow */
    return wf_err_set(err, "--greenlet: greenlet copies C stacks, which "
                      "AddressSanitizer cannot follow; use a build "
                      "without --enable-sanitizers (or --ugreen)");
#endif
    if (gl.slot != NULL) {
        return wf_err_set(err, "greenlet: worker_init called twice");
    }
    /* one greenlet per async core: without --async there is nothing to
     * switch between (docs/engines/greenlet.md: it needs --async) */
    if (ncores == 0 || (a != NULL && atol(a) < 1)) {
        return wf_err_set(err, "--greenlet needs --async N: one greenlet "
                          "per async core (e.g. --async 10 --greenlet)");
    }
    if (!Py_IsInitialized()) {
        return wf_err_set(err, "--greenlet: CPython is not running; the "
                          "python plugin starts it (give --wsgi-file or "
                          "--module)");
    }
    PyGreenlet_Import();
    if (_PyGreenlet_API == NULL) {
        pyw_exc_line(buf, sizeof(buf));
        return wf_err_set(err, "--greenlet: cannot import greenlet's C API "
                          "(%s); apt-get install python3-greenlet or pip "
                          "install greenlet", buf);
    }
    gl_check_version();
    tl_main = PyGreenlet_GetCurrent();
    if (tl_main == NULL) {
        pyw_exc_line(buf, sizeof(buf));
        return wf_err_set(err, "greenlet: getcurrent() failed: %s", buf);
    }
    if (!PyGreenlet_MAIN(tl_main)) {
        Py_CLEAR(tl_main);
        return wf_err_set(err, "greenlet: the worker does not run in its "
                          "main greenlet (the app switched greenlets while "
                          "it was loaded?)");
    }
    gl.slot = PyMem_RawCalloc(ncores, sizeof(*gl.slot));
    if (gl.slot == NULL) {
        Py_CLEAR(tl_main);
        return wf_err_set(err, "greenlet: out of memory for %u cores",
                          ncores);
    }
    gl.n = ncores;
    for (i = 0; i < ncores; i++) {
        PyObject *id = PyLong_FromUnsignedLong(i);

        gl.slot[i].run = id ? PyCFunction_New(&gl_run_def, id) : NULL;
        Py_XDECREF(id);
        if (gl.slot[i].run == NULL) {
            pyw_exc_line(buf, sizeof(buf));
            wf_err_set(err, "greenlet: cannot make core %u's run(): %s", i,
                       buf);
            goto fail;
        }
    }
    gl.atexit_fn = PyCFunction_New(&gl_atexit_def, NULL);
    if (gl.atexit_fn == NULL || gl_atexit_call("register", gl.atexit_fn) < 0) {
        pyw_exc_line(buf, sizeof(buf));
        wf_err_set(err, "greenlet: atexit.register() failed: %s", buf);
        goto fail;
    }
    wf_log(WF_LOG_INFO, "greenlet: %u core%s, one Python greenlet per "
           "request (C stacks copied on switch)", ncores,
           ncores == 1 ? "" : "s");
    return 0;

fail:
    gl_worker_fini();
    return -1;
}

static void
gl_worker_fini(void)
{
    if (gl.switches_failed > 0) {
        wf_log(WF_LOG_WARN, "greenlet: %lu switches failed in this worker",
               gl.switches_failed);
    }
    /* After Py_FinalizeEx every Python object is gone: the atexit
     * callback has let go of ours already. */
    if (Py_IsInitialized()) {
        if (gl.slot != NULL) {
            gl_release_all("at worker exit");
        }
        if (gl.atexit_fn != NULL) {
            if (gl_atexit_call("unregister", gl.atexit_fn) < 0) {
                PyErr_Clear();
            }
            Py_CLEAR(gl.atexit_fn);
        }
        Py_CLEAR(tl_main);
    }
    PyMem_RawFree(gl.slot);
    gl.slot = NULL;
    gl.n = 0;
    tl_current = NULL;
    tl_main = NULL;
    gl.atexit_fn = NULL;
}

static int
gl_resume(struct wf_core *c)
{
    struct gl_slot *s;
    PyObject *r;
    char what[96];

    if (gl.slot == NULL || c->id >= gl.n) {
        wf_log(WF_LOG_ERROR, "greenlet: resume of core %u: no such core "
               "(%u cores)", c->id, gl.n);
        return -1;
    }
    if (tl_current != NULL) {
        wf_log(WF_LOG_ERROR, "greenlet: resume of core %u from core %u: only "
               "the loop may resume", c->id,
               (unsigned)(tl_current - gl.slot));
        return -1;
    }
    s = &gl.slot[c->id];
    if (s->run == NULL) {
        /* only after our atexit callback ran: Python is finalising */
        wf_log(WF_LOG_ERROR, "greenlet: resume of core %u after Python's "
               "atexit handlers ran", c->id);
        return -1;
    }
    if (s->g == NULL) {
        /* a new request: parent NULL is the current greenlet, main */
        s->g = PyGreenlet_New(s->run, NULL);
        if (s->g == NULL) {
            snprintf(what, sizeof(what), "greenlet: cannot create the "
                     "greenlet of core %u", c->id);
            pyw_log_exc(WF_LOG_ERROR, "%s", what);
            gl.switches_failed++;
            return -1;
        }
    }
    s->core = c;
    c->engine_ctx = s;
    tl_current = s;
    r = PyGreenlet_Switch(s->at != NULL ? s->at : s->g, NULL, NULL);
    tl_current = NULL;
    if (r == NULL) {
        snprintf(what, sizeof(what), "greenlet: switch into core %u failed",
                 c->id);
        pyw_log_exc(WF_LOG_ERROR, "%s", what);
        gl.switches_failed++;
        if (PyGreenlet_ACTIVE(s->g)) {
            /* alive but unreachable: never resume it again, never free
             * it (dealloc would throw into it) */
            s->g = NULL;
            s->at = NULL;
            gl.leaked++;
        } else {
            Py_CLEAR(s->g);
        }
        c->engine_ctx = NULL;
        return -1;
    }
    Py_DECREF(r);
    if (!PyGreenlet_ACTIVE(s->g)) {
        /* run() returned: the request is over; this frees the greenlet
         * and with it its frame data stack (greenlet >= 2.0.1) */
        Py_CLEAR(s->g);
        s->core = NULL;
        c->engine_ctx = NULL;
    }
    return 0;
}

static void
gl_suspend(struct wf_core *c)
{
    struct gl_slot *s = c->engine_ctx;
    PyObject *r, *et, *ev, *etb;
    PyGreenlet *cur;

    if (s == NULL || s != tl_current) {
        WF_BUG("greenlet: suspend of core %u, which is not running", c->id);
    }
    /* an error indicator is per thread, not per greenlet: keep it with
     * the core */
    PyErr_Fetch(&et, &ev, &etb);
    cur = PyGreenlet_GetCurrent();
    if (cur != s->g) {
        s->at = cur;            /* resume() comes back here */
    } else {
        Py_XDECREF(cur);
    }
    tl_current = NULL;
    r = PyGreenlet_Switch(tl_main, NULL, NULL);
    tl_current = s;
    Py_CLEAR(s->at);
    if (r == NULL) {
        char what[96];

        snprintf(what, sizeof(what), "greenlet: switch from core %u to the "
                 "loop failed", c->id);
        pyw_log_exc(WF_LOG_ERROR, "%s", what);
        gl.switches_failed++;
    } else {
        Py_DECREF(r);
    }
    PyErr_Restore(et, ev, etb);
}

/* --threads: a loop thread other than the first starts (its Python
 * thread state exists: the python plugin's thread_init ran first). Its
 * main greenlet is its loop. */
static int
gl_thread_init(unsigned base, unsigned n, struct wf_err *err)
{
    char buf[256];

    tl_main = PyGreenlet_GetCurrent();
    if (tl_main == NULL) {
        pyw_exc_line(buf, sizeof(buf));
        return wf_err_set(err, "greenlet: getcurrent() in the loop thread "
                          "of cores %u..%u failed: %s", base, base + n - 1,
                          buf);
    }
    tl_base = base;
    tl_n = n;
    return 0;
}

/* That thread stops, before the python plugin deletes its thread state:
 * its cores' finished greenlets and its main greenlet go; one still
 * suspended is leaked (see the top of the file). */
static void
gl_thread_fini(void)
{
    unsigned i, live = 0;

    for (i = tl_base; i < tl_base + tl_n && i < gl.n; i++) {
        struct gl_slot *s = &gl.slot[i];

        if (s->g != NULL && PyGreenlet_ACTIVE(s->g)) {
            live++;
            s->g = NULL;
            s->at = NULL;
        } else {
            Py_CLEAR(s->g);
        }
    }
    if (live > 0) {
        gl.leaked += live;
        wf_log(WF_LOG_WARN, "greenlet: %u suspended core%s left alone when "
               "its loop thread stopped: leaked", live, live == 1 ? "" : "s");
    }
    Py_CLEAR(tl_main);
    tl_current = NULL;
}

static const struct wf_suspend_ops gl_ops = {
    .worker_init      = gl_worker_init,
    .thread_init      = gl_thread_init,
    .thread_fini      = gl_thread_fini,
    .resume           = gl_resume,
    .suspend          = gl_suspend,
    .worker_fini      = gl_worker_fini,
    .keeps_lang_state = "python",
};

static const struct wf_option gl_options[] = {
    { "greenlet", WF_OPT_FLAG, &gl_opt_enabled, NULL, 0, 0, WF_OPT_F_SELECT,
      "suspend engine: one Python greenlet per core (WSGI only; needs "
      "--async N)" },
    { NULL }
};

static const char *const gl_requires[] = { "python", NULL };

WF_PLUGIN(greenlet,
          .version  = PACKAGE_VERSION,
          .kind     = WF_KIND_SUSPEND,
          .ops      = &gl_ops,
          .options  = gl_options,
          .requires = gl_requires,
          .needs    = "the python plugin (CPython " PY_VERSION ") and "
                      "greenlet >= 2.0.1 (python3-greenlet)",
          .summary  = "suspend engine: one Python greenlet per core (WSGI "
                      "only)",
          .flags    = WF_PLUGIN_F_GLOBAL | WF_PLUGIN_F_THREADS);
