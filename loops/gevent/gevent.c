/*
 * gevent: the loop engine on gevent's hub (docs/design.md, "Loop
 * engines"). WSGI only: it requires
 * the python plugin, which starts CPython in the master. The worker is one
 * thread that holds the GIL whenever it runs Python; gevent's libev loop
 * lets it go while it polls, so gevent's own thread pool (DNS) works. No
 * call here takes or releases the GIL.
 *
 *   worker_init  import gevent (>= 1.0), gevent.reinit() after the fork,
 *                patch_all() for --gevent-monkey-patch, cache what the hot
 *                paths call.
 *   run()        in the worker's main greenlet: one hub.loop.io watcher per
 *                listening socket and one on the core's control fd, then
 *                block on an Event until the worker may stop (the hub runs
 *                everything meanwhile). A readable listener accepts while
 *                wf_loop_accept() gives a core (at most 64 per wake-up) and
 *                gevent.spawn()s serve(core id), which is wf_loop_serve():
 *                one greenlet per connection, for the connection's life.
 *                With no free core the listener watchers stop (the kernel's
 *                backlog holds the rest: no spin, no queue in memory); the
 *                first connection to end starts them again.
 *   wait()       in a request greenlet: a read of the core's connection
 *                uses its watcher, left started across waits (stopped
 *                lazily by its callback, and when wf_loop_serve() returns);
 *                any other fd one io watcher calling the greenlet's switch,
 *                stopped before wait() returns; then a switch to the hub
 *                (greenlet's own, not Hub.switch); the first watcher to
 *                fire switches back with its fd. A timeout is the
 *                core's timer (one per core, left running across waits):
 *                it ends a wait only once that wait's own deadline has
 *                come (-1: timed out), and is armed anew only when a
 *                wait's deadline is earlier than the time it is set for
 *                (docs/loops/gevent.md, "Deadlines").
 *   yield()      gevent.sleep(0).
 *   current()    the core of gevent.getcurrent() in a dict greenlet -> core
 *                id that spawn fills and serve() empties. Greenlets the app
 *                spawns itself are not in it: they inherit no core, and the
 *                uwsgi module raises its SystemError there.
 *
 * Policy is the core's (docs/design.md, "The house"): this engine only
 * waits, switches and reports. It calls wf_loop_tick() from a hub timer at
 * the period wf_loop_tick_ms() asks for (none while serving without
 * --harakiri), and the core decides there: the harakiri of a request
 * (then cancel(): its greenlet is killed with uwsgi.RequestCancelled, a
 * BaseException the app's `except Exception` does not swallow, and every
 * later wait of its core returns -ECANCELED), the drain of a stopping
 * worker (wake(): an idle keep-alive connection's wait ends and the core
 * closes it), the mercy's cancellations, and when run() returns. The
 * control fd says 1 (SIGTERM, SIGINT, SIGHUP, --max-requests: stop
 * accepting) or 2 (SIGQUIT: run() returns at once; the core then skips
 * the languages' shutdown, so no suspended greenlet is torn down under a
 * finalising interpreter). Greenlets still alive at exit are leaked on
 * purpose; the python plugin then does not finalise CPython (their frames
 * are still inside the app).
 *
 * --gevent-early-monkey-patch must patch before the app is imported, in the
 * master, where the python plugin runs Py_Initialize() and then load_app()
 * back to back. No core hook runs between the two, so the option's on_set
 * (which runs in the master before either) registers a built-in module
 * named `sitecustomize` with PyImport_AppendInittab(). CPython's site
 * module imports `sitecustomize` at the end of Py_Initialize(), before the
 * python plugin imports anything; ours first runs the sitecustomize it
 * shadows (found on sys.path: Debian's apport hook, a user's own), then
 * gevent.monkey.patch_all(). worker_init checks that it ran.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <greenlet/greenlet.h>  /* greenlet's C API: current, switch */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "py_errors.h"   /* shared/: one copy per plugin */

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define GV_MAX_LISTENERS 64
#define GV_ACCEPT_BATCH  64     /* accepts per listener wake-up */
#define GV_MAX_WAIT_FDS  16     /* told to the core: it passes no more */
#define GV_MAX_TIMEOUT_MS (1L << 40)    /* ~35 years: no overflow in us */

/* What a waiting greenlet is switched with, besides a ready fd. */
#define GV_WOKE_TIMER (-1)
#define GV_WOKE_STOP  (-2)

/* One core's connection. */
struct gv_slot {
    struct wf_core *core;   /* set while its greenlet serves it */
    PyObject *glet;         /* that gevent.Greenlet */
    /* the switch of the greenlet whose wait is in progress, or NULL: the
     * watchers of the wait call it, as wake() does; waiter_g: that
     * greenlet (borrowed: waiter, a bound method, holds it), which the
     * connection's watcher switches to through greenlet's C API */
    PyObject *waiter, *waiter_g;
    int running;            /* serve() has started */
    int cancelled;          /* killed: every wait returns -ECANCELED */
    /* the read watcher of its connection (wf_loop_conn_fd): started by
     * the first wait to read the connection and left started after the
     * wait (lazily stopped: its callback, gv_on_conn, stops it when it
     * fires while no wait of the core reads the connection), so that the
     * waits of a keep-alive connection start and stop nothing (and libev
     * re-adds no fd to its epoll set per wait); stopped when
     * wf_loop_serve() returns, before the hub runs again: the connection
     * is closed then and the next accept may reuse its number. conn_args:
     * (that fd as an int,), what the switch into a wait it ends passes
     * (the wait returns the int); conn_cb (gv_on_conn bound to the core
     * id) lives until run() ends. */
    PyObject *conn_w, *conn_args, *conn_cb;
    int conn_fd;
    int conn_on;        /* conn_w is started */
    int conn_wait;      /* the wait in progress reads the connection */
    /* the io watcher of its last other one-fd wait (a write to the
     * connection, an fd of the app's), kept stopped for the next wait on
     * the same fd and events, and that fd as an int object; dropped when
     * serve() ends */
    PyObject *io, *io_fdo;
    int io_fd;
    unsigned io_ev;
    /* glet as its first wait found it (getcurrent()) and its bound switch:
     * a later wait from the same greenlet makes no bound method; dropped
     * when serve() ends */
    PyObject *cur, *cur_sw;
    /* the core's timer: armed for a wait's deadline unless it fires
     * before that deadline already, and left running after the wait:
     * the waits of a keep-alive connection (the head deadline, seconds
     * away, a little later each time) make no timer each. Its callback
     * (gv_on_timer) ends the wait in progress only when that wait's
     * deadline has come; else it arms the timer for the rest. tm is
     * dropped when serve() ends; tm_cb (gv_on_timer bound to the core
     * id) lives until run() ends. */
    PyObject *tm, *tm_cb;
    int64_t tm_at;      /* when tm fires (gv_now_us()); 0: not armed */
    int64_t deadline;   /* of the wait in progress; -1: none */
};

static struct {
    struct gv_slot *slot;
    unsigned n;
    /* from gevent, cached by worker_init */
    PyObject *gevent, *spawn, *sleep, *event_cls;
    PyObject *s_start, *s_stop, *s_switch, *s_timer;  /* interned names */
    PyObject *woke_timer;   /* GV_WOKE_TIMER as an int object */
    /* a wait switches to the hub with greenlet's C PyGreenlet_Switch
     * (greenlet.greenlet.switch), not with Hub.switch, whose
     * getattr(getcurrent(), 'switch_out', None) raised and cleared an
     * AttributeError per wait (gevent's own greenlets have no switch_out;
     * the hub's is never the current one here: gv_wait refuses to run in
     * the hub) */
    PyObject *cancel_exc;   /* uwsgi.RequestCancelled (or GreenletExit) */
    PyObject *serve_fn;     /* serve(core id) */
    PyObject *map;          /* greenlet -> core id */
    /* run() */
    PyObject *hub, *loop;
    int lfd[GV_MAX_LISTENERS];
    PyObject *lw[GV_MAX_LISTENERS];     /* listener io watchers */
    PyObject *lcb[GV_MAX_LISTENERS];    /* their callbacks */
    int nl;
    int accepting;
    PyObject *ctl_w, *ctl_cb;
    PyObject *tick_w, *tick_cb; /* the core's tick (wf_loop_tick) */
    long tick_ms;               /* its period now; 0: stopped */
    PyObject *done;         /* gevent.event.Event: run() may return */
    int stopping;           /* 0, 1 gracefully, 2 now */
    unsigned long spawned, pauses, killed;
    unsigned long waits;    /* wait() calls that went to the hub */
    unsigned leaked;        /* request greenlets left suspended at exit */
    /* --gevent-early-monkey-patch */
    int early_registered, early_ran;
    char early_err[384];
} gv;

static long gv_opt_cores;
static int gv_opt_patch, gv_opt_early, gv_opt_wait_hub;

/* ------------------------------------------------------------ helpers */

/* The monotonic clock in microseconds: the deadlines of the cores'
 * timers. */
static int64_t
gv_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* obj.method(*args) for its side effect; logs a failure. 0 or -1. */
static int
gv_call0(PyObject *obj, const char *method, const char *what)
{
    PyObject *r = PyObject_CallMethod(obj, method, NULL);

    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "%s", what);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static struct gv_slot *
gv_slot_of(const struct wf_core *c)
{
    if (c == NULL || gv.slot == NULL || c->id >= gv.n ||
        gv.slot[c->id].core != c) {
        return NULL;
    }
    return &gv.slot[c->id];
}

/* ------------------------------------------ --gevent-early-monkey-patch */

/* Runs the sitecustomize module that ours shadows, if there is one. */
static const char gv_chain_src[] =
    "def _weft_chain():\n"
    "    import importlib.machinery, importlib.util\n"
    "    spec = importlib.machinery.PathFinder.find_spec('sitecustomize')\n"
    "    if spec is None or spec.loader is None:\n"
    "        return\n"
    "    mod = importlib.util.module_from_spec(spec)\n"
    "    spec.loader.exec_module(mod)\n"
    "    g = globals()\n"
    "    for k, v in vars(mod).items():\n"
    "        if not k.startswith('__'):\n"
    "            g.setdefault(k, v)\n"
    "try:\n"
    "    _weft_chain()\n"
    "finally:\n"
    "    del _weft_chain\n";

static const char gv_patch_src[] =
    "import gevent.monkey as _weft_monkey\n"
    "_weft_monkey.patch_all()\n"
    "del _weft_monkey\n";

static struct PyModuleDef gv_site_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sitecustomize",
    .m_doc = "weft --gevent-early-monkey-patch: runs the sitecustomize it "
             "shadows, then gevent.monkey.patch_all(), at interpreter start",
    .m_size = -1,
};

/* The inittab entry: Py_Initialize's `import sitecustomize`, in the master,
 * before the app. A failure is kept for worker_init to report; the import
 * itself succeeds, so that CPython starts and the error gets its one line. */
static PyObject *
gv_site_init(void)
{
    PyObject *m = PyModule_Create(&gv_site_def), *d, *r;

    if (m == NULL) {
        return NULL;
    }
    d = PyModule_GetDict(m);
    r = PyRun_String(gv_chain_src, Py_file_input, d, d);
    if (r == NULL) {
        pyw_log_exc(WF_LOG_WARN, "gevent: the sitecustomize module that "
                   "--gevent-early-monkey-patch shadows failed");
    }
    Py_XDECREF(r);
    r = PyRun_String(gv_patch_src, Py_file_input, d, d);
    if (r == NULL) {
        pyw_exc_line(gv.early_err, sizeof(gv.early_err));
    } else {
        gv.early_ran = 1;
    }
    Py_XDECREF(r);
    return m;
}

static int
gv_on_early(const struct wf_option *o, const char *value, struct wf_err *err)
{
    if (!gv_opt_early || gv.early_registered) {
        return 0;
    }
    if (Py_IsInitialized()) {
        return wf_err_set(err, "--gevent-early-monkey-patch: CPython is "
                          "running already; it must be given before the "
                          "app is loaded");
    }
    if (PyImport_AppendInittab("sitecustomize", gv_site_init) < 0) {
        return wf_err_set(err, "--gevent-early-monkey-patch: cannot "
                          "register the start-up hook with CPython");
    }
    gv.early_registered = 1;
    return 0;
}

/* --gevent N: --async N, --socket-timeout raised to 30 (as uWSGI). */
static int
gv_on_gevent(const struct wf_option *o, const char *value,
             struct wf_err *err)
{
    if (wf_opt_set("async", value, err) < 0) {
        return -1;
    }
    if (wf_socket_timeout_ms() < 30000 &&
        wf_opt_set("socket-timeout", "30", err) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- the listeners */

static void
gv_listeners(int on)
{
    int i;

    if (gv.accepting == on) {
        return;
    }
    for (i = 0; i < gv.nl; i++) {
        PyObject *r = on ? PyObject_CallMethod(gv.lw[i], "start", "O",
                                               gv.lcb[i])
                         : PyObject_CallMethod(gv.lw[i], "stop", NULL);

        if (r == NULL) {
            pyw_log_exc(WF_LOG_ERROR, on ? "gevent: starting a listener "
                       "watcher failed" : "gevent: stopping a listener "
                       "watcher failed");
        }
        Py_XDECREF(r);
    }
    gv.accepting = on;
}

/* Stop and drop slot s's timer. */
static void
gv_timer_stop(struct gv_slot *s)
{
    if (s->tm != NULL && s->tm_at != 0) {
        PyObject *r = PyObject_CallMethodNoArgs(s->tm, gv.s_stop);

        if (r == NULL) {
            pyw_log_exc(WF_LOG_ERROR, "gevent: stopping a core's timer "
                       "failed");
        }
        Py_XDECREF(r);
    }
    s->tm_at = 0;
    Py_CLEAR(s->tm);
}

/* Stop slot s's connection watcher, if started. 0, or -1 with a Python
 * exception set. */
static int
gv_conn_stop(struct gv_slot *s)
{
    PyObject *r;

    if (!s->conn_on) {
        return 0;
    }
    s->conn_on = 0;
    r = PyObject_CallMethodNoArgs(s->conn_w, gv.s_stop);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Slot self's connection is readable. Hub. A wait of its core that reads
 * the connection ends with its fd; else (the core reads it no more:
 * the watcher was left started after the last such wait) the watcher
 * stops, and the next wait that reads the connection starts it. */
static PyObject *
gv_on_conn(PyObject *self, PyObject *unused)
{
    Py_ssize_t id = PyLong_AsSsize_t(self);
    struct gv_slot *s;
    PyObject *w, *r;

    if (id < 0 || (size_t)id >= gv.n) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    s = &gv.slot[id];
    if (s->waiter == NULL || !s->conn_wait) {
        if (gv_conn_stop(s) < 0) {
            pyw_log_exc(WF_LOG_ERROR, "gevent: stopping a connection's "
                       "watcher failed");
        }
        Py_RETURN_NONE;
    }
    w = s->waiter;
    Py_INCREF(w);   /* keeps waiter_g */
    r = PyGreenlet_Switch((PyGreenlet *)s->waiter_g, s->conn_args, NULL);
    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: resuming a wait failed");
    }
    Py_XDECREF(r);
    Py_DECREF(w);
    Py_RETURN_NONE;
}

static PyMethodDef gv_conn_def = {
    "weft_conn", gv_on_conn, METH_NOARGS,
    "a weft connection is readable: end its core's wait, or stop watching"
};

/* Start slot s's connection watcher (made at the first call of a
 * connection). 0, or -1 with a Python exception set. */
static int
gv_conn_start(struct gv_slot *s)
{
    PyObject *a[3], **args = a + 1;     /* a[0]: the callee's */
    PyObject *r;

    if (s->conn_cb == NULL) {
        PyObject *id = PyLong_FromSsize_t(s - gv.slot);

        s->conn_cb = id ? PyCFunction_New(&gv_conn_def, id) : NULL;
        Py_XDECREF(id);
        if (s->conn_cb == NULL) {
            return -1;
        }
    }
    if (s->conn_w == NULL) {
        s->conn_w = PyObject_CallMethod(gv.loop, "io", "ii", s->conn_fd,
                                        (int)WF_IO_READ);
        if (s->conn_w == NULL) {
            return -1;
        }
        s->conn_args = Py_BuildValue("(i)", s->conn_fd);
        if (s->conn_args == NULL) {
            Py_CLEAR(s->conn_w);
            return -1;
        }
    }
    args[0] = s->conn_w;
    args[1] = s->conn_cb;
    r = PyObject_VectorcallMethod(gv.s_start, args,
                                  2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    s->conn_on = 1;
    return 0;
}

static PyMethodDef gv_timer_def;

/* Arm slot s's timer to fire us microseconds after now, replacing the one
 * armed (a gevent timer's `after` is fixed when it is made: a new one).
 * 0, or -1 with a Python exception set. */
static int
gv_timer_arm(struct gv_slot *s, int64_t now, int64_t us)
{
    PyObject *a[3], **args = a + 1;     /* a[0]: the callee's */
    PyObject *after, *t, *r;

    if (s->tm_cb == NULL) {
        PyObject *id = PyLong_FromSsize_t(s - gv.slot);

        s->tm_cb = id ? PyCFunction_New(&gv_timer_def, id) : NULL;
        Py_XDECREF(id);
        if (s->tm_cb == NULL) {
            return -1;
        }
    }
    if (s->tm != NULL && s->tm_at != 0) {
        r = PyObject_CallMethodNoArgs(s->tm, gv.s_stop);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    s->tm_at = 0;
    after = PyFloat_FromDouble((double)us / 1e6);
    args[0] = gv.loop;
    args[1] = after;
    t = after ? PyObject_VectorcallMethod(gv.s_timer, args,
                                          2 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                          NULL) : NULL;
    Py_XDECREF(after);
    if (t == NULL) {
        return -1;
    }
    args[0] = t;
    args[1] = s->tm_cb;
    r = PyObject_VectorcallMethod(gv.s_start, args,
                                  2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL) {
        Py_DECREF(t);
        return -1;
    }
    Py_DECREF(r);
    Py_XSETREF(s->tm, t);
    s->tm_at = now + us;
    return 0;
}

/* Slot self's timer fired. Hub. The wait in progress, if any, times out
 * when its deadline has come; else (the timer was set for an earlier
 * wait's deadline) the timer is armed for the rest. Not waiting, or
 * waiting without a deadline: nothing; the next wait with a deadline
 * arms it. */
static PyObject *
gv_on_timer(PyObject *self, PyObject *unused)
{
    Py_ssize_t id = PyLong_AsSsize_t(self);
    struct gv_slot *s;
    PyObject *w, *r;
    int64_t now;

    if (id < 0 || (size_t)id >= gv.n) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    s = &gv.slot[id];
    s->tm_at = 0;       /* one-shot: libev stopped it */
    if (s->waiter == NULL || s->deadline < 0) {
        Py_RETURN_NONE;
    }
    now = gv_now_us();
    if (now < s->deadline) {
        if (gv_timer_arm(s, now, s->deadline - now) == 0) {
            Py_RETURN_NONE;
        }
        /* out of memory: time the wait out now rather than never */
        pyw_log_exc(WF_LOG_ERROR, "gevent: core %zd: cannot arm its timer; "
                   "its wait times out early", id);
    }
    w = s->waiter;
    Py_INCREF(w);
    r = PyObject_CallOneArg(w, gv.woke_timer);
    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: timing a wait out failed");
    }
    Py_XDECREF(r);
    Py_DECREF(w);
    Py_RETURN_NONE;
}

static PyMethodDef gv_timer_def = {
    "weft_timer", gv_on_timer, METH_NOARGS,
    "a weft core's deadline: time out its wait, or wait for the rest"
};

/* serve(core id): the body of a connection's greenlet. */
static PyObject *
gv_serve(PyObject *self, PyObject *arg)
{
    unsigned long id = PyLong_AsUnsignedLong(arg);
    struct gv_slot *s;

    if (id >= gv.n || gv.slot[id].core == NULL) {
        WF_BUG("gevent: serve() of core %lu, which has no connection", id);
    }
    s = &gv.slot[id];
    s->running = 1;
    wf_loop_serve(s->core);
    if (PyErr_Occurred()) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: a connection ended with a Python "
                   "exception set");
    }
    /* the core is free again and its connection closed; nothing
     * switched since: its watcher stops before the hub can accept a
     * connection that gets the same fd number */
    if (gv_conn_stop(s) < 0) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: stopping a connection's watcher "
                   "failed");
    }
    Py_CLEAR(s->conn_w);
    Py_CLEAR(s->conn_args);
    s->conn_fd = -1;
    Py_CLEAR(s->io);
    Py_CLEAR(s->io_fdo);
    Py_CLEAR(s->cur_sw);
    Py_CLEAR(s->cur);
    gv_timer_stop(s);
    s->core = NULL;
    s->running = 0;
    s->cancelled = 0;
    if (s->glet != NULL) {
        if (PyDict_DelItem(gv.map, s->glet) < 0) {
            PyErr_Clear();
        }
        Py_CLEAR(s->glet);      /* gevent holds the running greenlet */
    }
    if (!gv.stopping && !gv.accepting && wf_loop_room() > 0) {
        gv_listeners(1);
    }
    Py_RETURN_NONE;
}

static PyMethodDef gv_serve_def = {
    "weft_serve", gv_serve, METH_O,
    "serve one weft connection (a core) until it closes"
};

/* Give core c a greenlet. Hub. */
static void
gv_start(struct wf_core *c)
{
    struct gv_slot *s = &gv.slot[c->id];
    PyObject *id = PyLong_FromUnsignedLong(c->id), *g = NULL;

    s->core = c;
    s->running = 0;
    s->cancelled = 0;
    s->conn_fd = wf_loop_conn_fd(c);
    if (id != NULL) {
        g = PyObject_CallFunctionObjArgs(gv.spawn, gv.serve_fn, id, NULL);
    }
    if (g != NULL && PyDict_SetItem(gv.map, g, id) == 0) {
        s->glet = g;
        gv.spawned++;
        Py_DECREF(id);
        return;
    }
    /* Out of memory. The connection cannot stay: serve it here with
     * every wait failing, which closes it and frees the core. */
    pyw_log_exc(WF_LOG_ERROR, "gevent: cannot spawn a greenlet for a new "
               "connection; closing it");
    if (g != NULL) {
        PyObject *r = PyObject_CallMethod(g, "kill", "Oi", gv.cancel_exc, 0);

        Py_XDECREF(r);
        PyErr_Clear();
    }
    Py_XDECREF(g);
    Py_XDECREF(id);
    s->cancelled = 1;
    s->running = 1;
    wf_loop_serve(c);
    PyErr_Clear();
    s->core = NULL;
    s->running = 0;
    s->cancelled = 0;
}

/* A listener is readable. Hub. self: the listener's fd. */
static PyObject *
gv_on_accept(PyObject *self, PyObject *unused)
{
    int fd = (int)PyLong_AsLong(self);
    int i;

    for (i = 0; i < GV_ACCEPT_BATCH && wf_loop_room() > 0; i++) {
        struct wf_core *c = wf_loop_accept(fd);

        if (c == NULL) {
            break;
        }
        gv_start(c);
    }
    if (wf_loop_room() == 0 && gv.accepting) {
        /* every core busy: let the backlog hold the rest (no spin) */
        gv_listeners(0);
        gv.pauses++;
    }
    Py_RETURN_NONE;
}

static PyMethodDef gv_accept_def = {
    "weft_accept", gv_on_accept, METH_NOARGS,
    "accept on a weft listener while cores are free"
};

/* ------------------------------------------------------------ stopping */

static void
gv_finish(void)
{
    PyObject *r;

    if (gv.tick_w != NULL) {
        r = PyObject_CallMethod(gv.tick_w, "stop", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    gv_call0(gv.done, "set", "gevent: waking the main greenlet failed");
}

/* Kill slot s's request greenlet with uwsgi.RequestCancelled (without
 * waiting for it to end). Hub. */
static void
gv_kill_slot(struct gv_slot *s)
{
    PyObject *kill, *args, *kw, *r = NULL;

    s->cancelled = 1;
    kill = PyObject_GetAttrString(s->glet, "kill");
    args = PyTuple_Pack(1, gv.cancel_exc);
    kw = Py_BuildValue("{s:O}", "block", Py_False);
    if (kill != NULL && args != NULL && kw != NULL) {
        r = PyObject_Call(kill, args, kw);
    }
    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: killing a request greenlet "
                   "failed");
    }
    Py_XDECREF(r);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(kill);
    gv.killed++;
}

/* Where slot s's greenlet waits: traceback.format_stack(gr_frame), one
 * string, innermost last; or NULL. New reference. Hub. */
static PyObject *
gv_stack_of(struct gv_slot *s)
{
    PyObject *frame, *mod = NULL, *lines = NULL, *sep = NULL, *out = NULL;

    frame = PyObject_GetAttrString(s->glet, "gr_frame");
    if (frame != NULL && frame != Py_None) {
        mod = PyImport_ImportModule("traceback");
        lines = mod ? PyObject_CallMethod(mod, "format_stack", "O", frame)
                    : NULL;
        sep = PyUnicode_FromString("");
        out = lines && sep ? PyUnicode_Join(sep, lines) : NULL;
    }
    if (out == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(frame);
    return out;
}

/* (Re)start the tick timer at the period the core asks for now (0:
 * none). Hub. */
static int
gv_tick_arm(void)
{
    long ms = wf_loop_tick_ms();
    PyObject *r;

    if (ms == gv.tick_ms && (ms == 0 || gv.tick_w != NULL)) {
        return 0;
    }
    if (gv.tick_w != NULL) {
        gv_call0(gv.tick_w, "stop", "gevent: stopping the tick timer");
        Py_CLEAR(gv.tick_w);
    }
    gv.tick_ms = ms;
    if (ms <= 0) {
        return 0;
    }
    gv.tick_w = PyObject_CallMethod(gv.loop, "timer", "dd", ms / 1000.0,
                                    ms / 1000.0);
    r = gv.tick_w ? PyObject_CallMethod(gv.tick_w, "start", "O", gv.tick_cb)
                  : NULL;
    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: cannot start the tick timer");
        Py_CLEAR(gv.tick_w);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The core's policy on the hub's timer: it says when run() returns. */
static PyObject *
gv_on_tick(PyObject *self, PyObject *unused)
{
    if (wf_loop_tick() == 2) {
        gv_finish();
    } else if (gv_tick_arm() < 0 && gv.stopping) {
        gv_finish();
    }
    Py_RETURN_NONE;
}

static PyMethodDef gv_tick_def = {
    "weft_tick", gv_on_tick, METH_NOARGS,
    "the weft core's periodic policy (harakiri, draining)"
};

/* The core cancelled c: kill its greenlet (a greenlet that has not
 * started yet runs, and its waits fail at once). Hub. */
static void
gv_cancel(struct wf_core *c)
{
    struct gv_slot *s = gv_slot_of(c);

    if (s == NULL || s->cancelled) {
        return;
    }
    if (s->glet == NULL || !s->running) {
        s->cancelled = 1;
        return;
    }
    gv_kill_slot(s);
}

/* The core drains: end c's idle wait as if its fd were ready. Hub. */
static void
gv_wake(struct wf_core *c)
{
    struct gv_slot *s = gv_slot_of(c);
    PyObject *w, *r;

    if (s == NULL || (w = s->waiter) == NULL) {
        return;
    }
    Py_INCREF(w);
    r = PyObject_CallFunction(w, "i", GV_WOKE_STOP);
    if (r == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "gevent: waking an idle connection "
                   "failed");
    }
    Py_XDECREF(r);
    Py_DECREF(w);
}

/* Where c's greenlet waits, for the harakiri log. Hub. */
static size_t
gv_backtrace(struct wf_core *c, char *buf, size_t len)
{
    struct gv_slot *s = gv_slot_of(c);
    PyObject *stack = s && s->glet ? gv_stack_of(s) : NULL;
    const char *t = stack ? PyUnicode_AsUTF8(stack) : NULL;
    size_t n = 0;

    if (t != NULL && len > 0) {
        n = strlen(t);
        if (n >= len) {
            n = len - 1;
        }
        memcpy(buf, t, n);
        buf[n] = '\0';
    }
    PyErr_Clear();
    Py_XDECREF(stack);
    return n;
}

/* The control fd is readable (a signal, --max-requests). Hub. */
static PyObject *
gv_on_control(PyObject *self, PyObject *unused)
{
    int r = wf_loop_control();

    if (r == 0 || r <= gv.stopping) {
        Py_RETURN_NONE;
    }
    gv_listeners(0);
    gv.stopping = r;
    if (r == 2) {
        gv_finish();
        Py_RETURN_NONE;
    }
    return gv_on_tick(NULL, NULL);
}

static PyMethodDef gv_control_def = {
    "weft_control", gv_on_control, METH_NOARGS,
    "act on what the weft core's control fd says"
};

/* ---------------------------------------------------------- the engine */

static void gv_worker_fini(void);

/* a.b of module.__version__, into buf. */
static const char *
gv_version_of(const char *module, char *buf, size_t len)
{
    PyObject *m = PyImport_ImportModule(module), *v = NULL;
    const char *s = NULL;

    if (m != NULL) {
        v = PyObject_GetAttrString(m, "__version__");
    }
    if (v != NULL) {
        s = PyUnicode_AsUTF8(v);
    }
    snprintf(buf, len, "%s", s ? s : "?");
    PyErr_Clear();
    Py_XDECREF(v);
    Py_XDECREF(m);
    return buf;
}

static PyObject *
gv_attr(PyObject *mod, const char *dotted)
{
    PyObject *o = mod, *next;
    char name[64];
    const char *p = dotted;

    Py_INCREF(o);
    while (*p) {
        size_t n = strcspn(p, ".");

        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        next = PyObject_GetAttrString(o, name);
        Py_DECREF(o);
        if (next == NULL) {
            return NULL;
        }
        o = next;
        p += n + (p[n] == '.');
    }
    return o;
}

static int
gv_worker_init(unsigned ncores, struct wf_err *err)
{
    PyObject *vi = NULL, *mod = NULL, *r;
    char buf[256], gver[32], glver[32];
    long major = 0;
    const char *patching = "none";
    unsigned k;

#if WF_BUILD_FLAGS & WF_BUILD_F_ASAN
    /* greenlet switches by copying slices of the C stack, redzones
     * included: AddressSanitizer reports every switch as an overflow */
    return wf_err_set(err, "--gevent: greenlet copies C stacks, which "
                      "AddressSanitizer cannot follow; use a build "
                      "without --enable-sanitizers (or --ugreen)");
#endif
    if (gv.slot != NULL) {
        return wf_err_set(err, "gevent: worker_init called twice");
    }
    if (!Py_IsInitialized()) {
        return wf_err_set(err, "--gevent: CPython is not running; the "
                          "python plugin starts it (give --wsgi-file or "
                          "--module)");
    }
    if (gv_opt_early && !gv.early_ran) {
        if (gv.early_err[0]) {
            return wf_err_set(err, "--gevent-early-monkey-patch: "
                              "patch_all() failed at interpreter start: "
                              "%s", gv.early_err);
        }
        return wf_err_set(err, "--gevent-early-monkey-patch: the start-up "
                          "hook did not run (CPython started without the "
                          "site module?); use --gevent-monkey-patch or "
                          "patch in the app's first lines");
    }
    gv.gevent = PyImport_ImportModule("gevent");
    if (gv.gevent == NULL) {
        return wf_err_set(err, "--gevent: cannot import gevent (%s); "
                          "apt-get install python3-gevent",
                          pyw_exc_line(buf, sizeof(buf)));
    }
    vi = PyObject_GetAttrString(gv.gevent, "version_info");
    if (vi != NULL && PySequence_Check(vi) && PySequence_Size(vi) > 0) {
        PyObject *m0 = PySequence_GetItem(vi, 0);

        major = m0 ? PyLong_AsLong(m0) : 0;
        Py_XDECREF(m0);
    }
    Py_XDECREF(vi);
    PyErr_Clear();
    gv_version_of("gevent", gver, sizeof(gver));
    gv_version_of("greenlet", glver, sizeof(glver));
    if (major < 1) {
        wf_err_set(err, "--gevent: gevent %s is too old; weft needs gevent "
                   ">= 1.0", gver);
        goto fail;
    }
    /* gevent.reinit(): the worker was forked with fork(2), not
     * gevent.os.fork: a hub made in the master (the app imported gevent
     * and used it) must get a new libev backend fd of its own. */
    r = PyObject_CallMethod(gv.gevent, "reinit", NULL);
    if (r == NULL) {
        pyw_log_exc(WF_LOG_WARN, "gevent: gevent.reinit() after the fork "
                   "failed");
    }
    Py_XDECREF(r);
    if (gv_opt_early) {
        patching = "early (before the app was imported)";
    } else if (gv_opt_patch) {
        mod = PyImport_ImportModule("gevent.monkey");
        r = mod ? PyObject_CallMethod(mod, "patch_all", NULL) : NULL;
        Py_CLEAR(mod);
        if (r == NULL) {
            wf_err_set(err, "--gevent-monkey-patch: patch_all() failed: %s",
                       pyw_exc_line(buf, sizeof(buf)));
            goto fail;
        }
        Py_DECREF(r);
        patching = "late (after the app was imported)";
    }
    gv.spawn = gv_attr(gv.gevent, "spawn");
    gv.sleep = gv_attr(gv.gevent, "sleep");
    if (gv.spawn == NULL || gv.sleep == NULL) {
        wf_err_set(err, "--gevent: gevent %s lacks spawn/sleep "
                   "(%s)", gver, pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    gv.s_start = PyUnicode_InternFromString("start");
    gv.s_stop = PyUnicode_InternFromString("stop");
    gv.s_switch = PyUnicode_InternFromString("switch");
    gv.s_timer = PyUnicode_InternFromString("timer");
    gv.woke_timer = PyLong_FromLong(GV_WOKE_TIMER);
    if (gv.s_start == NULL || gv.s_stop == NULL || gv.s_switch == NULL ||
        gv.s_timer == NULL || gv.woke_timer == NULL) {
        wf_err_set(err, "--gevent: out of memory");
        goto fail;
    }
    /* greenlet's C API: getcurrent() and greenlet.greenlet.switch(hub)
     * (the plain switch, not Hub.switch) without a Python call each */
    PyGreenlet_Import();
    mod = PyImport_ImportModule("gevent.event");
    gv.event_cls = mod ? gv_attr(mod, "Event") : NULL;
    Py_CLEAR(mod);
    if (_PyGreenlet_API == NULL || gv.event_cls == NULL) {
        wf_err_set(err, "--gevent: gevent %s: no greenlet C API "
                   "(greenlet._C_API) or no gevent.event.Event (%s)", gver,
                   pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    /* the exception a killed request sees; uwsgi.loop as in uWSGI */
    mod = PyImport_ImportModule("uwsgi");
    if (mod != NULL) {
        PyObject *name = PyUnicode_FromString("gevent");

        gv.cancel_exc = PyObject_GetAttrString(mod, "RequestCancelled");
        if (name == NULL || PyObject_SetAttrString(mod, "loop", name) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(name);
        Py_CLEAR(mod);
    }
    PyErr_Clear();
    if (gv.cancel_exc == NULL) {
        gv.cancel_exc = gv_attr(gv.gevent, "GreenletExit");
    }
    gv.map = PyDict_New();
    gv.serve_fn = PyCFunction_New(&gv_serve_def, NULL);
    gv.slot = PyMem_RawCalloc(ncores ? ncores : 1, sizeof(*gv.slot));
    if (gv.cancel_exc == NULL || gv.map == NULL || gv.serve_fn == NULL ||
        gv.slot == NULL) {
        wf_err_set(err, "gevent: set-up failed: %s",
                   pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    gv.n = ncores ? ncores : 1;
    for (k = 0; k < gv.n; k++) {
        gv.slot[k].conn_fd = -1;
    }
    if (gv.n == 1) {
        wf_log(WF_LOG_WARN, "gevent: 1 core: one connection at a time; "
               "give --gevent N (or --async N) for N at once");
    }
    if (wf_socket_timeout_ms() < 30000) {
        wf_log(WF_LOG_WARN, "gevent: --socket-timeout %lds is below 30: "
               "idle keep-alive connections and slow clients are cut "
               "sooner than uWSGI's gevent mode would",
               wf_socket_timeout_ms() / 1000);
    }
    wf_log(WF_LOG_INFO, "gevent: gevent %s, greenlet %s, %u core%s (one "
           "greenlet per connection); monkey patching: %s", gver, glver,
           gv.n, gv.n == 1 ? "" : "s", patching);
    return 0;

fail:
    gv_worker_fini();
    return -1;
}

/* Drop what run() made. Python alive. Request greenlets still alive (a
 * stop-now, or a give-up) are leaked, never deallocated: dealloc would
 * throw into them and run their frames during shutdown. */
static void
gv_run_cleanup(void)
{
    int i;
    unsigned k, leaked = 0;

    gv_listeners(0);
    for (i = 0; i < gv.nl; i++) {
        Py_CLEAR(gv.lw[i]);
        Py_CLEAR(gv.lcb[i]);
    }
    gv.nl = 0;
    if (gv.ctl_w != NULL) {
        gv_call0(gv.ctl_w, "stop", "gevent: stopping the control watcher");
    }
    if (gv.tick_w != NULL) {
        gv_call0(gv.tick_w, "stop", "gevent: stopping the tick timer");
    }
    Py_CLEAR(gv.ctl_w);
    Py_CLEAR(gv.ctl_cb);
    Py_CLEAR(gv.tick_w);
    Py_CLEAR(gv.tick_cb);
    gv.tick_ms = 0;
    Py_CLEAR(gv.done);
    for (k = 0; k < gv.n; k++) {
        gv_timer_stop(&gv.slot[k]);
        Py_CLEAR(gv.slot[k].tm_cb);
        if (gv_conn_stop(&gv.slot[k]) < 0) {
            PyErr_Clear();
        }
        Py_CLEAR(gv.slot[k].conn_cb);
    }
    for (k = 0; k < gv.n; k++) {
        if (gv.slot[k].glet != NULL) {
            gv.slot[k].glet = NULL;     /* leaked on purpose */
            leaked++;
        }
    }
    gv.leaked += leaked;
    if (leaked > 0) {
        wf_log(WF_LOG_WARN, "gevent: %u request greenlet%s left suspended "
               "at worker exit", leaked, leaked == 1 ? "" : "s");
    } else if (gv.map != NULL) {
        PyDict_Clear(gv.map);
    }
    Py_CLEAR(gv.loop);
    Py_CLEAR(gv.hub);
}

static int
gv_run(struct wf_err *err)
{
    int fds[GV_MAX_LISTENERS], n, i, tries;
    PyObject *get_hub = NULL, *r;
    char buf[256];

    if (gv.slot == NULL) {
        return wf_err_set(err, "gevent: run() without worker_init()");
    }
    get_hub = gv_attr(gv.gevent, "get_hub");
    gv.hub = get_hub ? PyObject_CallNoArgs(get_hub) : NULL;
    Py_CLEAR(get_hub);
    gv.loop = gv.hub ? PyObject_GetAttrString(gv.hub, "loop") : NULL;
    gv.done = gv.loop ? PyObject_CallNoArgs(gv.event_cls) : NULL;
    if (gv.done == NULL) {
        wf_err_set(err, "gevent: cannot get the hub and its loop: %s",
                   pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    n = wf_loop_listeners(fds, GV_MAX_LISTENERS);
    for (i = 0; i < n; i++) {
        PyObject *fdo = PyLong_FromLong(fds[i]);

        gv.lfd[i] = fds[i];
        gv.lw[i] = PyObject_CallMethod(gv.loop, "io", "ii", fds[i], 1);
        gv.lcb[i] = fdo ? PyCFunction_New(&gv_accept_def, fdo) : NULL;
        Py_XDECREF(fdo);
        gv.nl = i + 1;
        if (gv.lw[i] == NULL || gv.lcb[i] == NULL) {
            wf_err_set(err, "gevent: cannot watch listening fd %d: %s",
                       fds[i], pyw_exc_line(buf, sizeof(buf)));
            goto fail;
        }
    }
    gv.ctl_w = PyObject_CallMethod(gv.loop, "io", "ii", wf_loop_control_fd(),
                                   1);
    gv.ctl_cb = PyCFunction_New(&gv_control_def, NULL);
    r = gv.ctl_w && gv.ctl_cb ? PyObject_CallMethod(gv.ctl_w, "start", "O",
                                                    gv.ctl_cb) : NULL;
    if (r == NULL) {
        wf_err_set(err, "gevent: cannot watch the control fd: %s",
                   pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    Py_DECREF(r);
    gv.tick_cb = PyCFunction_New(&gv_tick_def, NULL);
    if (gv.tick_cb == NULL || gv_tick_arm() < 0) {
        wf_err_set(err, "gevent: cannot start the tick timer: %s",
                   pyw_exc_line(buf, sizeof(buf)));
        goto fail;
    }
    gv_listeners(1);

    /* The main greenlet waits; the hub runs the worker. An exception
     * thrown here (SystemExit in a greenlet the app spawned is passed to
     * the main greenlet by gevent) is logged, and the wait goes on. */
    for (tries = 0; tries < 1000; tries++) {
        r = PyObject_CallMethod(gv.done, "wait", NULL);
        if (r != NULL) {
            Py_DECREF(r);
        } else {
            pyw_log_exc(WF_LOG_ERROR, "gevent: the main greenlet was woken "
                       "by an exception; going on");
        }
        r = PyObject_CallMethod(gv.done, "is_set", NULL);
        if (r == NULL) {
            PyErr_Clear();
        } else if (PyObject_IsTrue(r)) {
            Py_DECREF(r);
            break;
        } else {
            Py_DECREF(r);
        }
    }
    if (tries == 1000) {
        wf_log(WF_LOG_ERROR, "gevent: the main greenlet was woken 1000 "
               "times without a stop; stopping");
    }
    if (gv_opt_wait_hub && gv.stopping == 1) {
        /* greenlets the app spawned itself may finish, within the
         * mercy: wait until the hub has nothing left to run */
        double left = (double)wf_loop_mercy_left_ms() / 1000.0;

        gv_listeners(0);
        gv_call0(gv.ctl_w, "stop", "gevent: stopping the control watcher");
        r = PyObject_CallMethod(gv.hub, "join", "d", left > 1 ? left : 1);
        if (r == NULL) {
            pyw_log_exc(WF_LOG_ERROR, "gevent: joining the hub failed");
        } else {
            if (!PyObject_IsTrue(r)) {
                wf_log(WF_LOG_WARN, "gevent: the app's own greenlets were "
                       "still running when --worker-reload-mercy ran out "
                       "(--gevent-wait-for-hub)");
            }
            Py_DECREF(r);
        }
    }
    wf_log(WF_LOG_INFO, "gevent: worker %u (pid %d) stopped: %lu "
           "connections served, %lu waits through the hub, accepting "
           "paused %lu times (all cores busy), %lu requests killed",
           wf_worker_id(), (int)getpid(), gv.spawned, gv.waits, gv.pauses,
           gv.killed);
    gv_run_cleanup();
    return 0;

fail:
    gv_run_cleanup();
    return -1;
}

static int
gv_wait(struct wf_core *c, const struct wf_io_event *fds, int n,
        long timeout_ms, int *ready_fd)
{
    struct gv_slot *s = gv_slot_of(c);
    PyObject *w[GV_MAX_WAIT_FDS], *cur, *g, *sw = NULL, *r;
    PyObject *et, *ev, *etb;
    int nw = 0, i, ret = -ENOMEM;

    if (s == NULL) {
        return -EINVAL;
    }
    if (s->cancelled) {
        return -ECANCELED;
    }
    if (n > GV_MAX_WAIT_FDS) {
        n = GV_MAX_WAIT_FDS;
    }
    PyErr_Fetch(&et, &ev, &etb);
    /* the io watchers switch straight to this greenlet (no Waiter
     * between: its object, get() and switch() cost more than the rest of
     * the wait); stopping them before returning clears a pending second
     * call (libev's stop drops the pending event), so no stray switch
     * can come back later. The core's timer is not stopped: its callback
     * switches only into a wait whose deadline has come. */
    cur = (PyObject *)PyGreenlet_GetCurrent();
    if (cur == gv.hub) {
        Py_DECREF(cur);
        PyErr_Restore(et, ev, etb);
        wf_log(WF_LOG_ERROR, "gevent: core %u: a wait from the hub", c->id);
        return -EINVAL;
    }
    g = cur;    /* sw (its bound switch) holds it from here */
    if (cur != NULL && cur == s->cur) {
        sw = s->cur_sw;     /* the core's greenlet, as at its first wait */
        Py_INCREF(sw);
        Py_DECREF(cur);
    } else if (cur != NULL) {
        /* its first wait; or a greenlet the app spawned waits on the
         * core's behalf (wsgi.input read there): not cached */
        sw = PyObject_GetAttr(cur, gv.s_switch);
        if (sw != NULL && s->cur == NULL && cur == s->glet) {
            s->cur = cur;
            s->cur_sw = sw;
            Py_INCREF(sw);
        } else {
            Py_DECREF(cur);
        }
    }
    if (sw == NULL) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        unsigned e = fds[i].events & (WF_IO_READ | WF_IO_WRITE);
        PyObject *wt, *fdo, *a[4], **args = a + 1; /* a[0]: callee's */

        e = e ? e : WF_IO_READ;
        if (fds[i].fd == s->conn_fd && e == WF_IO_READ) {
            /* the connection's own watcher, left started */
            if (!s->conn_on && gv_conn_start(s) < 0) {
                ret = -EBADF;
                goto out;
            }
            s->conn_wait = 1;
            continue;
        }
        if (n == 1 && s->io != NULL && s->io_fd == fds[0].fd
            && s->io_ev == e) {
            wt = s->io;     /* the same watcher again */
            fdo = s->io_fdo;
            Py_INCREF(wt);
            Py_INCREF(fdo);
        } else {
            wt = PyObject_CallMethod(gv.loop, "io", "ii", fds[i].fd, (int)e);
            fdo = wt ? PyLong_FromLong(fds[i].fd) : NULL;
            if (fdo == NULL) {
                Py_XDECREF(wt);
                ret = -EBADF;
                goto out;
            }
            if (n == 1) {
                Py_XSETREF(s->io, wt);
                Py_XSETREF(s->io_fdo, fdo);
                Py_INCREF(wt);
                Py_INCREF(fdo);
                s->io_fd = fds[0].fd;
                s->io_ev = e;
            }
        }
        w[nw++] = wt;
        args[0] = wt;
        args[1] = sw;
        args[2] = fdo;
        r = PyObject_VectorcallMethod(gv.s_start, args,
                                      3 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                      NULL);
        Py_DECREF(fdo);
        if (r == NULL) {
            ret = -EBADF;
            goto out;
        }
        Py_DECREF(r);
    }
    s->deadline = -1;
    if (timeout_ms >= 0) {
        int64_t now = gv_now_us();
        int64_t us = (int64_t)(timeout_ms < GV_MAX_TIMEOUT_MS
                               ? timeout_ms : GV_MAX_TIMEOUT_MS) * 1000;

        s->deadline = now + us;
        /* armed for this deadline or before it already: its callback
         * times this wait out, or arms it again for the rest */
        if ((s->tm_at == 0 || s->tm_at > s->deadline) &&
            gv_timer_arm(s, now, us) < 0) {
            goto out;
        }
    }
    /* the core may end this wait early (wake op) */
    s->waiter = sw;
    s->waiter_g = g;
    gv.waits++;
    r = PyGreenlet_Switch((PyGreenlet *)gv.hub, NULL, NULL);
    s->waiter = NULL;
    s->waiter_g = NULL;
    s->deadline = -1;
    s->conn_wait = 0;
    if (r == NULL) {
        /* killed (a stop past the mercy), or the app threw into a
         * greenlet it does not own */
        char line[256];

        if (!s->cancelled) {
            wf_log(WF_LOG_WARN, "gevent: core %u: its wait was interrupted "
                   "by %s; cancelling the request", c->id,
                   pyw_exc_line(line, sizeof(line)));
        }
        PyErr_Clear();
        s->cancelled = 1;
        ret = -ECANCELED;
    } else {
        long v = PyLong_AsLong(r);

        Py_DECREF(r);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            v = GV_WOKE_STOP;   /* switched by someone else: say ready */
        }
        if (v == GV_WOKE_TIMER) {
            ret = 0;
        } else if (v == GV_WOKE_STOP) {
            *ready_fd = n > 0 ? fds[0].fd : -1;
            ret = n > 0 ? 1 : 0;
        } else {
            *ready_fd = (int)v;
            ret = 1;
        }
    }
out:
    s->conn_wait = 0;
    if (ret == -ENOMEM || ret == -EBADF) {
        char line[256];

        wf_log(WF_LOG_ERROR, "gevent: core %u: cannot wait: %s", c->id,
               pyw_exc_line(line, sizeof(line)));
    }
    for (i = 0; i < nw; i++) {
        r = PyObject_CallMethodNoArgs(w[i], gv.s_stop);
        if (r == NULL) {
            PyErr_Clear();
        }
        Py_XDECREF(r);
        Py_DECREF(w[i]);
    }
    Py_XDECREF(sw);
    PyErr_Restore(et, ev, etb);
    return ret;
}

static int
gv_yield(struct wf_core *c)
{
    struct gv_slot *s = gv_slot_of(c);
    PyObject *r, *et, *ev, *etb;
    int ret = 0;

    if (s != NULL && s->cancelled) {
        return -ECANCELED;
    }
    PyErr_Fetch(&et, &ev, &etb);
    r = PyObject_CallFunction(gv.sleep, "i", 0);
    if (r == NULL) {
        PyErr_Clear();
        if (s != NULL) {
            s->cancelled = 1;
        }
        ret = -ECANCELED;
    }
    Py_XDECREF(r);
    PyErr_Restore(et, ev, etb);
    return ret;
}

static struct wf_core *
gv_current(void)
{
    PyObject *g, *id = NULL, *et, *ev, *etb;
    struct wf_core *c = NULL;

    /* outside run() (the interpreter may be finalising) no core runs */
    if (gv.hub == NULL || gv.map == NULL) {
        return NULL;
    }
    PyErr_Fetch(&et, &ev, &etb);
    g = (PyObject *)PyGreenlet_GetCurrent();
    if (g != NULL) {
        id = PyDict_GetItemWithError(gv.map, g);    /* borrowed */
    }
    if (id != NULL) {
        unsigned long i = PyLong_AsUnsignedLong(id);

        if (i < gv.n) {
            c = gv.slot[i].core;
        }
    }
    Py_XDECREF(g);
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
    return c;
}

static void
gv_worker_fini(void)
{
    /* After Py_FinalizeEx every Python object is gone: only the C side
     * is freed then. */
    if (Py_IsInitialized()) {
        if (gv.leaked == 0) {
            Py_CLEAR(gv.map);   /* else its keys keep the leaked greenlets */
        }
        Py_CLEAR(gv.serve_fn);
        Py_CLEAR(gv.cancel_exc);
        Py_CLEAR(gv.event_cls);
        Py_CLEAR(gv.s_start);
        Py_CLEAR(gv.s_stop);
        Py_CLEAR(gv.s_switch);
        Py_CLEAR(gv.s_timer);
        Py_CLEAR(gv.woke_timer);
        Py_CLEAR(gv.sleep);
        Py_CLEAR(gv.spawn);
        Py_CLEAR(gv.gevent);
    }
    gv.map = gv.serve_fn = gv.cancel_exc = gv.event_cls = NULL;
    gv.sleep = gv.spawn = gv.gevent = NULL;
    gv.s_start = gv.s_stop = gv.s_switch = gv.s_timer = NULL;
    gv.woke_timer = NULL;
    PyMem_RawFree(gv.slot);
    gv.slot = NULL;
    gv.n = 0;
}

static const struct wf_loop_ops gv_ops = {
    .worker_init = gv_worker_init,
    .run         = gv_run,
    .wait        = gv_wait,
    .yield       = gv_yield,
    .current     = gv_current,
    .worker_fini = gv_worker_fini,
    .cancel      = gv_cancel,
    .wake        = gv_wake,
    .backtrace   = gv_backtrace,
    .max_wait_fds = GV_MAX_WAIT_FDS,
};

static const struct wf_option gv_options[] = {
    { "gevent", WF_OPT_INT, &gv_opt_cores, NULL, 1, 100000,
      WF_OPT_F_SELECT, "the gevent loop with N cores (connections at once): "
      "--loop gevent --async N, and --socket-timeout at least 30", 0,
      gv_on_gevent, "N" },
    { "gevent-monkey-patch", WF_OPT_FLAG, &gv_opt_patch, NULL, 0, 0, 0,
      "gevent.monkey.patch_all() in each worker, after the app was "
      "imported", 0, NULL, NULL },
    { "gevent-early-monkey-patch", WF_OPT_FLAG, &gv_opt_early, NULL, 0, 0, 0,
      "gevent.monkey.patch_all() when CPython starts, before the app is "
      "imported", 0, gv_on_early, NULL },
    { "gevent-wait-for-hub", WF_OPT_FLAG, &gv_opt_wait_hub, NULL, 0, 0, 0,
      "at a graceful stop also wait (within --worker-reload-mercy) for "
      "greenlets the app spawned itself", 0, NULL, NULL },
    { NULL }
};

static const char *const gv_requires[] = { "python", NULL };

WF_PLUGIN(gevent,
          .version  = PACKAGE_VERSION,
          .kind     = WF_KIND_LOOP,
          .ops      = &gv_ops,
          .options  = gv_options,
          .requires = gv_requires,
          .needs    = "the python plugin (CPython " PY_VERSION ") and "
                      "gevent >= 1.0 (python3-gevent)",
          .summary  = "loop engine: gevent's hub runs the worker, one "
                      "greenlet per connection (WSGI only)",
          .flags    = WF_PLUGIN_F_GLOBAL);
