/*
 * The `uwsgi` module (also importable as `weft`): uWSGI's async API
 * (docs/langs/python.md, "The `uwsgi` module"), kept where apps depend on it, fixed where uWSGI is broken:
 *
 *   async_sleep      float seconds with millisecond resolution (uWSGI
 *                    truncated to whole seconds, issue #1075)
 *   send / recv      wait through the engine instead of blocking the worker
 *   async_connect    also "[v6]:port"
 *   core_id()        ours: the current core
 *
 * Nothing here switches except suspend(), send() and recv(): the waits only
 * register, and the app then yields (generator style) or calls suspend().
 */
#include "pyweft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define UWSGI_RECV_MAX 4096

/* The running request's core, or NULL with uWSGI's SystemError. */
static struct pyw_core *
cur_core(void)
{
    struct wf_core *c = wf_core_current();

    if (c == NULL) {
        PyErr_SetString(PyExc_SystemError,
                        "you can call uwsgi api function only from the main "
                        "callable");
        return NULL;
    }
    return pyw_core_of(c);
}

/*
 * Seconds as milliseconds. uWSGI: an int arms only when > 0. Floats: any
 * positive value arms at least 1 ms. Returns 0 (nothing to arm), the ms, or
 * -1 with an exception.
 */
static long
secs_to_ms(PyObject *o, const char *what)
{
    if (o == NULL || o == Py_None) {
        return 0;
    }
    if (PyLong_Check(o)) {
        long s = PyLong_AsLong(o);
        if (s == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (s <= 0) {
            return 0;
        }
        return s > LONG_MAX / 1000 ? LONG_MAX : s * 1000;
    }
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: seconds must be a number, not "
                     "%.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (isnan(d)) {
        PyErr_Format(PyExc_ValueError, "%s: seconds is NaN", what);
        return -1;
    }
    if (d <= 0) {
        return 0;
    }
    d = ceil(d * 1000.0);
    return d >= (double)LONG_MAX ? LONG_MAX : (long)d;
}

static void
arm_timer(struct pyw_core *pc, long ms)
{
    if (ms > 0) {
        wf_wait_timer(pc->core, ms);
        pc->armed = 1;
    }
}

static PyObject *
m_async_sleep(PyObject *self, PyObject *arg)
{
    struct pyw_core *pc = cur_core();
    long ms;

    if (pc == NULL) {
        return NULL;
    }
    ms = secs_to_ms(arg, "async_sleep");
    if (ms < 0) {
        return NULL;
    }
    arm_timer(pc, ms);
    return Py_NewRef(pyw.empty_bytes);
}

static PyObject *
wait_fd(PyObject *args, PyObject *kw, unsigned ev, const char *name)
{
    static char *kwlist[] = { "fd", "timeout", NULL };
    struct pyw_core *pc = cur_core();
    PyObject *tmo = NULL;
    int fd;
    long ms;
    char fmt[32];

    snprintf(fmt, sizeof(fmt), "i|O:%s", name);
    if (pc == NULL ||
        !PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &fd, &tmo)) {
        return NULL;
    }
    ms = secs_to_ms(tmo, name);
    if (ms < 0) {
        return NULL;
    }
    if (fd < 0 || wf_wait_fd(pc->core, fd, ev) < 0) {
        return PyErr_Format(PyExc_OSError,
                            "unable to add fd %d to the event queue", fd);
    }
    pc->armed = 1;
    arm_timer(pc, ms);
    return Py_NewRef(pyw.empty_bytes);
}

static PyObject *
m_wait_fd_read(PyObject *self, PyObject *args, PyObject *kw)
{
    return wait_fd(args, kw, WF_IO_READ, "wait_fd_read");
}

static PyObject *
m_wait_fd_write(PyObject *self, PyObject *args, PyObject *kw)
{
    return wait_fd(args, kw, WF_IO_WRITE, "wait_fd_write");
}

/* A switch came back with -ECANCELED: the core is being torn down. */
static PyObject *
cancelled(void)
{
    PyErr_SetString(pyw.cancelled, "the request was cancelled by the server "
                    "(client gone, harakiri or shutdown)");
    return NULL;
}

static PyObject *
m_suspend(PyObject *self, PyObject *unused)
{
    struct pyw_core *pc = cur_core();

    if (pc == NULL) {
        return NULL;
    }
    if (wf_suspend(pc->core) == -ECANCELED) {
        return cancelled();
    }
    Py_RETURN_TRUE;
}

static PyObject *
m_ready_fd(PyObject *self, PyObject *unused)
{
    struct pyw_core *pc = cur_core();

    return pc ? PyLong_FromLong(wf_ready_fd(pc->core)) : NULL;
}

static PyObject *
m_async_connect(PyObject *self, PyObject *args)
{
    const char *addr;
    int fd;

    if (!PyArg_ParseTuple(args, "s:async_connect", &addr)) {
        return NULL;
    }
    fd = wf_connect_start(addr);
    return PyLong_FromLong(fd < 0 ? -1 : fd);
}

static PyObject *
m_is_connected(PyObject *self, PyObject *args)
{
    int fd, soerr = 0;
    socklen_t l = sizeof(soerr);

    if (!PyArg_ParseTuple(args, "i:is_connected", &fd)) {
        return NULL;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr != 0) {
        Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

static PyObject *
m_connection_fd(PyObject *self, PyObject *unused)
{
    struct pyw_core *pc = cur_core();

    return pc ? PyLong_FromLong(wf_req_fd(pc->core)) : NULL;
}

/* Wait for fd: through the engine inside a request, poll() outside one.
 * 1 ready, 0 timeout, -errno. */
static int
wait_io(int fd, unsigned ev)
{
    struct wf_core *c = wf_core_current();
    long tmo = wf_socket_timeout_ms();

    if (c != NULL) {
        return wf_wait_io(c, fd, ev, tmo > 0 ? tmo : -1);
    }
    struct pollfd p = { .fd = fd,
                        .events = (ev & WF_IO_READ ? POLLIN : 0) |
                                  (ev & WF_IO_WRITE ? POLLOUT : 0) };
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = poll(&p, 1, tmo > 0 ? (int)tmo : -1);
    Py_END_ALLOW_THREADS
    return rc < 0 ? -errno : rc;
}

/*
 * send([fd,] data): all of data, waiting for writability through the engine
 * (uWSGI blocked the worker in write()). True, or None on error/timeout.
 */
static PyObject *
m_send(PyObject *self, PyObject *args)
{
    Py_buffer b;
    int fd = -1;
    size_t off = 0;

    if (PyTuple_GET_SIZE(args) >= 2) {
        if (!PyArg_ParseTuple(args, "iy*:send", &fd, &b)) {
            return NULL;
        }
    } else {
        struct pyw_core *pc;
        if (!PyArg_ParseTuple(args, "y*:send", &b)) {
            return NULL;
        }
        pc = cur_core();
        if (pc == NULL) {
            PyBuffer_Release(&b);
            return NULL;
        }
        fd = wf_req_fd(pc->core);
    }
    while (off < (size_t)b.len) {
        ssize_t n = send(fd, (char *)b.buf + off, (size_t)b.len - off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {
            int w = wait_io(fd, WF_IO_WRITE);
            if (w <= 0) {
                goto fail;
            }
            size_t part = (size_t)b.len - off;
            n = write(fd, (char *)b.buf + off,
                      part > PIPE_BUF ? PIPE_BUF : part);
        }
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            goto fail;
        }
        int w = wait_io(fd, WF_IO_WRITE);
        if (w == -ECANCELED) {
            PyBuffer_Release(&b);
            return cancelled();
        }
        if (w <= 0) {
            goto fail;
        }
    }
    PyBuffer_Release(&b);
    Py_RETURN_TRUE;
fail:
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

/*
 * recv(fd, max=4096): up to max bytes (capped at 4096 as in uWSGI) once fd
 * is readable, waiting through the engine. bytes, or None at EOF / error.
 */
static PyObject *
m_recv(PyObject *self, PyObject *args)
{
    int fd;
    Py_ssize_t max = UWSGI_RECV_MAX;
    char buf[UWSGI_RECV_MAX];

    if (!PyArg_ParseTuple(args, "i|n:recv", &fd, &max)) {
        return NULL;
    }
    if (max <= 0 || max > UWSGI_RECV_MAX) {
        max = UWSGI_RECV_MAX;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, (size_t)max, MSG_DONTWAIT);
        if (n < 0 && errno == ENOTSOCK) {
            int w = wait_io(fd, WF_IO_READ);
            if (w == -ECANCELED) {
                return cancelled();
            }
            if (w <= 0) {
                Py_RETURN_NONE;
            }
            n = read(fd, buf, (size_t)max);
        }
        if (n > 0) {
            return PyBytes_FromStringAndSize(buf, n);
        }
        if (n == 0) {
            Py_RETURN_NONE;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            Py_RETURN_NONE;
        }
        int w = wait_io(fd, WF_IO_READ);
        if (w == -ECANCELED) {
            return cancelled();
        }
        if (w <= 0) {
            Py_RETURN_NONE;
        }
    }
}

static PyObject *
m_close(PyObject *self, PyObject *args)
{
    int fd;

    if (!PyArg_ParseTuple(args, "i:close", &fd)) {
        return NULL;
    }
    close(fd);
    Py_RETURN_NONE;
}

static PyObject *
m_worker_id(PyObject *self, PyObject *unused)
{
    return PyLong_FromUnsignedLong(wf_worker_id());
}

static PyObject *
m_core_id(PyObject *self, PyObject *unused)
{
    struct pyw_core *pc = cur_core();

    return pc ? PyLong_FromUnsignedLong(pc->id) : NULL;
}

static PyObject *
m_log(PyObject *self, PyObject *args)
{
    const char *s;

    if (!PyArg_ParseTuple(args, "s:log", &s)) {
        return NULL;
    }
    wf_log(WF_LOG_INFO, "%s", s);
    Py_RETURN_TRUE;
}

static PyMethodDef uwsgi_methods[] = {
    { "async_sleep", m_async_sleep, METH_O,
      "async_sleep(secs): arm the core's timer (float seconds, ms "
      "resolution); yield the result or call suspend(). Returns b''." },
    { "wait_fd_read", (PyCFunction)(void (*)(void))m_wait_fd_read,
      METH_VARARGS | METH_KEYWORDS,
      "wait_fd_read(fd, timeout=0): wait for fd to be readable at the next "
      "yield/suspend(). Returns b''." },
    { "wait_fd_write", (PyCFunction)(void (*)(void))m_wait_fd_write,
      METH_VARARGS | METH_KEYWORDS,
      "wait_fd_write(fd, timeout=0): same, for writability. Returns b''." },
    { "suspend", m_suspend, METH_NOARGS,
      "suspend(): give the worker away until a wait fires (no-op without a "
      "suspend engine). Returns True." },
    { "green_schedule", m_suspend, METH_NOARGS, "alias of suspend()" },
    { "ready_fd", m_ready_fd, METH_NOARGS,
      "ready_fd(): the fd that woke the core, or -1" },
    { "async_connect", m_async_connect, METH_VARARGS,
      "async_connect('a.b.c.d:port' | '[v6]:port' | path | '@abstract'): "
      "non-blocking connect; the fd, or -1" },
    { "is_connected", m_is_connected, METH_VARARGS,
      "is_connected(fd): no pending socket error" },
    { "connection_fd", m_connection_fd, METH_NOARGS,
      "connection_fd(): the client socket" },
    { "send", m_send, METH_VARARGS,
      "send([fd,] data): send all of data, waiting through the engine. "
      "True, or None on error" },
    { "recv", m_recv, METH_VARARGS,
      "recv(fd, max=4096): bytes once readable, None at EOF or error" },
    { "close", m_close, METH_VARARGS, "close(fd)" },
    { "worker_id", m_worker_id, METH_NOARGS, "worker_id(): 1.. (0: master)" },
    { "core_id", m_core_id, METH_NOARGS, "core_id(): the current core" },
    { "log", m_log, METH_VARARGS, "log(str): one line to the weft log" },
    { NULL }
};

static struct PyModuleDef uwsgi_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "uwsgi",
    .m_doc = "weft's uwsgi-compatible API (also importable as `weft`)",
    .m_size = -1,
    .m_methods = uwsgi_methods,
};

/* The inittab entry (registered before Py_Initialize). */
PyObject *
pyw_module_init(void)
{
    return PyModule_Create(&uwsgi_def);
}

static int
add_obj(PyObject *m, const char *name, PyObject *o)
{
    if (o == NULL) {
        return -1;
    }
    int rc = PyModule_AddObjectRef(m, name, o);
    Py_DECREF(o);
    return rc;
}

/* The options that uwsgi.opt shows, when set. Values are bytes, as in
 * uWSGI on Python 3. */
static const char *const opt_names[] = {
    "http-socket", "socket", "uwsgi-socket", "processes", "workers",
    "master", "async", "ugreen", "greenlet", "io-engine", "buffer-size",
    "socket-timeout", "harakiri", "listen", "max-requests", "lazy-apps",
    "logto", "plugin", "plugins-dir", "static-map", "check-static",
    "wsgi-file", "module", "callable", "pythonpath", "ugreen-stacksize",
    "ini", NULL
};

static PyObject *
build_opt(void)
{
    PyObject *d = PyDict_New();

    if (d == NULL) {
        return NULL;
    }
    for (const char *const *n = opt_names; *n; n++) {
        const char *v = wf_opt_get(*n);
        if (v == NULL) {
            continue;
        }
        PyObject *b = PyBytes_FromString(v);
        if (b == NULL || PyDict_SetItemString(d, *n, b) < 0) {
            Py_XDECREF(b);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(b);
    }
    return d;
}

/*
 * After Py_Initialize: import the module, add its constants, alias it as
 * `weft`, cache what the plugin needs. 0 or -1 + err (Python error logged).
 */
int
pyw_module_setup(struct wf_err *err)
{
    PyObject *m = PyImport_ImportModule("uwsgi");
    const char *ver = wf_version();
    unsigned vi[3] = { 0, 0, 0 };

    if (m == NULL) {
        pyw_log_exc(WF_LOG_ERROR, "python: import uwsgi failed:");
        return wf_err_set(err, "python: the built-in uwsgi module failed to "
                          "import (see the log); this is a bug");
    }
    pyw.umod = m;
    sscanf(ver ? ver : "0.0.0", "%u.%u.%u", &vi[0], &vi[1], &vi[2]);
    pyw.cancelled = PyErr_NewExceptionWithDoc(
        "uwsgi.RequestCancelled",
        "Raised inside the app when the server tears down a suspended "
        "request (client gone, harakiri, shutdown). Derives from "
        "BaseException so that `except Exception` does not swallow it.",
        PyExc_BaseException, NULL);
    if (pyw.cancelled == NULL ||
        PyModule_AddObjectRef(m, "RequestCancelled", pyw.cancelled) < 0 ||
        add_obj(m, "version", PyBytes_FromString(ver ? ver : "")) < 0 ||
        add_obj(m, "version_info", Py_BuildValue("(IIIis)", vi[0], vi[1],
                                                 vi[2], 0, "weft")) < 0 ||
        add_obj(m, "cores", PyLong_FromUnsignedLong(wf_ncores())) < 0 ||
        add_obj(m, "numproc", PyLong_FromLong(
            wf_opt_long("processes", wf_opt_long("workers", 1)))) < 0 ||
        add_obj(m, "buffer_size", PyLong_FromLong(
            wf_opt_long("buffer-size", 4096))) < 0 ||
        add_obj(m, "opt", build_opt()) < 0 ||
        PyModule_AddObjectRef(m, "loop", Py_None) < 0 ||
        PyModule_AddObjectRef(m, "has_threads", pyw.enable_threads
                              ? Py_True : Py_False) < 0) {
        goto fail;
    }
    pyw.fd_readable = PyObject_GetAttrString(m, "wait_fd_read");
    pyw.fd_writable = PyObject_GetAttrString(m, "wait_fd_write");
    if (pyw.fd_readable == NULL || pyw.fd_writable == NULL) {
        goto fail;
    }
    PyObject *mods = PyImport_GetModuleDict();
    if (PyDict_SetItemString(mods, "weft", m) < 0) {
        goto fail;
    }
    return 0;
fail:
    pyw_log_exc(WF_LOG_ERROR,
                "python: setting up the uwsgi module failed:");
    return wf_err_set(err, "python: setting up the uwsgi module failed "
                      "(see the log); this is a bug");
}

/* Worker start: refresh what only a worker knows. */
void
pyw_module_worker(void)
{
    if (pyw.umod == NULL) {
        return;
    }
    if (add_obj(pyw.umod, "cores",
                PyLong_FromUnsignedLong(wf_ncores())) < 0) {
        PyErr_Clear();
    }
}
