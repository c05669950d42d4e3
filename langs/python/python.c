/*
 * langs/python: WSGI (PEP 3333) on an embedded CPython 3.11.
 *
 * handle() is one state machine for every mode (with or without a suspend
 * engine): the first call builds the environ and calls the app; each later
 * call takes one chunk of the returned iterable and returns WF_AGAIN, so the
 * core can run the others (and park this one when the app registered a
 * wait before yielding). Lists, tuples and bytes go out in one call. Every
 * handle() call runs in the core's own interpreter state (py_tstate.c).
 */
#include "pyweft.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PYW_SENDFILE_SLICE (4L << 20)   /* bytes per handle() call */

struct pyw_global pyw;

/* ------------------------------------------------------------ options */

static const struct wf_option python_options[] = {
    { "wsgi-file", WF_OPT_STR, &pyw.wsgi_file, NULL, 0, 0, 0,
      "load the WSGI app from this Python file", 0, NULL, "FILE" },
    { "module", WF_OPT_STR, &pyw.module, NULL, 0, 0, 0,
      "load the WSGI app from a module: pkg.mod[:callable]", 'w', NULL,
      "MODULE" },
    { "wsgi", WF_OPT_STR, &pyw.module, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --module", 0, NULL, "MODULE" },
    { "callable", WF_OPT_STR, &pyw.callable, "application", 0, 0, 0,
      "the name of the WSGI callable in the file or module", 0, NULL,
      "NAME" },
    { "mount", WF_OPT_LIST, &pyw.mount_opts, NULL, 0, 0, 0,
      "serve another WSGI app (FILE.py / FILE.wsgi, or MODULE[:CALLABLE]) "
      "under /PREFIX, repeatable: requests whose SCRIPT_NAME is PREFIX go "
      "to it (uWSGI's mount; the first is the default app without "
      "--wsgi-file or --module)", 0, NULL, "/PREFIX=APP" },
    { "manage-script-name", WF_OPT_FLAG, &pyw.manage_script_name, NULL, 0,
      0, 0, "pick the --mount app by the longest PREFIX that starts "
      "PATH_INFO, and move that PREFIX to SCRIPT_NAME (uWSGI's)", 0, NULL,
      NULL },
    { "pythonpath", WF_OPT_LIST, &pyw.pythonpath, NULL, 0, 0, 0,
      "prepend a directory to sys.path (repeat, or separate with commas)",
      0, NULL, "DIR" },
    { "python-path", WF_OPT_LIST, &pyw.pythonpath, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "alias of --pythonpath", 0, NULL, "DIR" },
    { "pp", WF_OPT_LIST, &pyw.pythonpath, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --pythonpath", 0, NULL, "DIR" },
    { "home", WF_OPT_STR, &pyw.home, NULL, 0, 0, 0,
      "run the app in this virtualenv (sys.prefix, its site-packages), or "
      "with this Python home", 'H', NULL, "DIR" },
    { "virtualenv", WF_OPT_STR, &pyw.home, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --home", 0, NULL, "DIR" },
    { "venv", WF_OPT_STR, &pyw.home, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --home", 0, NULL, "DIR" },
    { "pyhome", WF_OPT_STR, &pyw.home, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --home", 0, NULL, "DIR" },
    { "enable-threads", WF_OPT_FLAG, &pyw.enable_threads, NULL, 0, 0, 0,
      "let the app's own Python threads run while the worker waits for "
      "I/O (the GIL is released around each wait)", 0, NULL, NULL },
    { NULL }
};

/* The loop thread's state while it has let go of the GIL (a wait). */
static __thread PyThreadState *waiting_ts;
/* A loop thread other than the worker's first (--threads): its own
 * thread state and the cores it runs. */
static __thread PyThreadState *thread_ts;
static __thread unsigned thread_base, thread_ncores;

/* --enable-threads or --threads N > 1: the loop thread holds the GIL
 * while it runs (Python or the core's C), and gives it up while it
 * waits: the loop's io wait, or a core's wait in place, so that the
 * worker's other loop threads and the app's own threads (metrics
 * flushers, background jobs) run then. Loop (or core) context of the
 * thread; the thread state keeps whatever core state is current. */
static void
python_loop_wait(int entering)
{
    if (!pyw.release_gil || !pyw.initialized) {
        return;
    }
    if (entering) {
        if (waiting_ts == NULL) {
            waiting_ts = PyEval_SaveThread();
        }
    } else if (waiting_ts != NULL) {
        PyEval_RestoreThread(waiting_ts);
        waiting_ts = NULL;
    }
}

/* ------------------------------------------------------------- cores */

static void
cores_alloc(unsigned n)
{
    pyw.cores = PyMem_RawCalloc(n, sizeof(*pyw.cores));
    if (pyw.cores == NULL) {
        WF_BUG("python: out of memory for %u cores", n);
    }
    pyw.ncores = n;
    for (unsigned i = 0; i < n; i++) {
        struct pyw_core *pc = &pyw.cores[i];
        pc->id = i;
        pc->file_fd = -1;
        pyw_ts_core_init(pc);
        pc->errors = pyw_errors_new();
        if (pc->errors == NULL) {
            WF_BUG("python: out of memory for core %u's wsgi.errors", i);
        }
    }
}

/*
 * The plugin's state of core c (allocated for every core at worker_init,
 * or here on first use). Core or loop context.
 */
struct pyw_core *
pyw_core_of(struct wf_core *c)
{
    struct pyw_core *pc;

    if (pyw.cores == NULL) {
        unsigned n = wf_ncores();
        cores_alloc(n > c->id ? n : c->id + 1);
    }
    if (c->id >= pyw.ncores) {
        WF_BUG("python: core id %u but only %u cores", c->id, pyw.ncores);
    }
    pc = &pyw.cores[c->id];
    pc->core = c;
    c->lang_ctx = pc;
    return pc;
}

/* ------------------------------------------------------- the response */

static int
py_client_gone(struct pyw_core *pc, int err)
{
    char rl[256];

    wf_log(WF_LOG_WARN, "python: client gone (%s) at chunk %lu of %s; "
           "closing the app's iterable", strerror(err), pc->chunks,
           pyw_req_line(pc, rl, sizeof(rl)));
    return WF_ERROR;
}

/* The app raised (the exception is pending): log, 500, WF_ERROR. */
static int
py_app_error(struct pyw_core *pc, const char *where)
{
    char rl[256];

    pyw_req_line(pc, rl, sizeof(rl));
    if (pyw.cancelled != NULL && PyErr_ExceptionMatches(pyw.cancelled)) {
        PyErr_Clear();
        wf_log(WF_LOG_WARN, "python: %s cancelled %s", rl, where);
        return WF_ERROR;
    }
    if (pc->client_gone) {
        PyErr_Clear();
        return py_client_gone(pc, pc->client_gone);
    }
    pyw_log_exc(WF_LOG_ERROR, "python: exception %s of %s (core %u):",
                where, rl, pc->id);
    wf_response_error(pc->core, 500);
    return WF_ERROR;
}

/* A chunk that is not bytes: 500 when still possible, one log line. */
static int
py_bad_chunk(struct pyw_core *pc, PyObject *item)
{
    char rl[256];

    wf_log(WF_LOG_ERROR, "python: app returned %.64s, not bytes, at chunk "
           "%lu of %s", Py_TYPE(item)->tp_name, pc->chunks,
           pyw_req_line(pc, rl, sizeof(rl)));
    wf_response_error(pc->core, 500);
    return WF_ERROR;
}

/* Head (if not gone yet) then the bytes. 0, or WF_ERROR (logged). */
static int
py_send(struct pyw_core *pc, const char *buf, size_t n, long long known)
{
    ssize_t w;

    if (pyw_head_push(pc, known) < 0) {
        char where[64];
        snprintf(where, sizeof(where), "at chunk %lu", pc->chunks);
        return py_app_error(pc, where);
    }
    if (n == 0) {
        return 0;
    }
    pc->wrote = 1;
    w = wf_write(pc->core, buf, n);
    if (w < 0) {
        pc->client_gone = (int)-w;
        return py_client_gone(pc, (int)-w);
    }
    return 0;
}

/* bytes, list or tuple: all in this call, with a Content-Length. */
static int
py_send_all(struct pyw_core *pc, PyObject *result)
{
    PyObject *snap = NULL, *const *items = &result;
    Py_ssize_t n = 1;
    long long total = 0;
    int rc = WF_DONE;

    if (!PyBytes_Check(result)) {
        /* wf_write may switch cores: another request could change a
         * shared list meanwhile. Send a snapshot. */
        snap = PyList_CheckExact(result) ? PyList_AsTuple(result)
                                         : Py_NewRef(result);
        if (snap == NULL) {
            return py_app_error(pc, "copying the app's list");
        }
        n = PyTuple_GET_SIZE(snap);
        items = &PyTuple_GET_ITEM(snap, 0);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            pc->chunks = (unsigned long)i + 1;
            rc = py_bad_chunk(pc, items[i]);
            goto out;
        }
        total += PyBytes_GET_SIZE(items[i]);
    }
    if (n == 0 && py_send(pc, NULL, 0, 0) < 0) {
        rc = WF_ERROR;
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        pc->chunks = (unsigned long)i + 1;
        if (py_send(pc, PyBytes_AS_STRING(items[i]),
                    (size_t)PyBytes_GET_SIZE(items[i]), total) < 0) {
            rc = WF_ERROR;
            goto out;
        }
    }
out:
    Py_XDECREF(snap);
    return rc;
}

/* A file_wrapper around a regular file with a fileno(): sendfile. 1 when
 * set up, 0 to iterate it instead, -1 on a Python error. */
static int
py_file_setup(struct pyw_core *pc)
{
    PyObject *f = pyw_file_wrapper_filelike(pc->result), *r;
    struct stat st;
    long fd;
    off_t off = -1;

    if (f == NULL) {
        return 0;
    }
    r = PyObject_CallMethod(f, "fileno", NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd < 0 || fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        PyErr_Clear();
        return 0;
    }
    /* PEP 3333: from the file's current position. tell() knows about
     * Python's read buffer; lseek() does not. */
    r = PyObject_CallMethod(f, "tell", NULL);
    if (r != NULL) {
        off = (off_t)PyLong_AsLongLong(r);
        Py_DECREF(r);
    }
    if (r == NULL || PyErr_Occurred()) {
        PyErr_Clear();
        off = lseek((int)fd, 0, SEEK_CUR);
    }
    if (off < 0) {
        off = 0;
    }
    if (off > st.st_size) {
        off = st.st_size;
    }
    pc->file_fd = (int)fd;
    pc->wrote = 1;
    pc->file_off = off;
    pc->file_end = st.st_size;
    pc->phase = PYW_FILE;
    if (pyw_head_push(pc, (long long)(st.st_size - off)) < 0) {
        return -1;
    }
    return 1;
}

/* One slice of the file: the core sends it (or nothing, for a HEAD),
 * framed by the length py_file_setup gave. Slices let the other cores
 * run between two handle() calls. */
static int
py_step_file(struct pyw_core *pc)
{
    off_t left = pc->file_end - pc->file_off;
    size_t n = (size_t)(left > PYW_SENDFILE_SLICE ? PYW_SENDFILE_SLICE
                                                  : left);
    char rl[256];
    int w;

    if (left <= 0) {
        return WF_DONE;
    }
    pc->chunks++;
    w = wf_response_file(pc->core, pc->file_fd, pc->file_off, n);
    if (w == -EPIPE || w == -ECONNRESET || w == -ETIMEDOUT) {
        return py_client_gone(pc, -w);
    }
    if (w == -EIO) {
        /* the file shrank: the core logged it and closes */
        return WF_ERROR;
    }
    if (w < 0) {
        wf_log(WF_LOG_ERROR, "python: sendfile(fd %d, offset %lld) of %s "
               "failed: %s", pc->file_fd, (long long)pc->file_off,
               pyw_req_line(pc, rl, sizeof(rl)), strerror(-w));
        wf_response_error(pc->core, 500);
        return WF_ERROR;
    }
    pc->file_off += (off_t)n;
    return pc->file_off >= pc->file_end ? WF_DONE : WF_AGAIN;
}

/* One chunk of the iterable. */
static int
py_step(struct pyw_core *pc)
{
    PyObject *item;
    int rc;

    if (pc->phase == PYW_FILE) {
        return py_step_file(pc);
    }
    if (pc->reentry) {
        pyw_environ_reentry(pc);
    }
    pc->reentry = 1;
    item = PyIter_Next(pc->iter);
    if (item == NULL) {
        if (PyErr_Occurred()) {
            char where[64];
            snprintf(where, sizeof(where), "at chunk %lu", pc->chunks + 1);
            return py_app_error(pc, where);
        }
        /* The end. The head goes now if nothing was sent (lazy
         * start_response): then the body is empty. */
        if (!pc->head_pushed && py_send(pc, NULL, 0, 0) < 0) {
            return WF_ERROR;
        }
        return WF_DONE;
    }
    pc->chunks++;
    if (!PyBytes_Check(item)) {
        rc = py_bad_chunk(pc, item);
        Py_DECREF(item);
        return rc;
    }
    rc = 0;
    if (PyBytes_GET_SIZE(item) > 0) {
        rc = py_send(pc, PyBytes_AS_STRING(item),
                     (size_t)PyBytes_GET_SIZE(item), -1);
    }
    Py_DECREF(item);
    return rc < 0 ? WF_ERROR : WF_AGAIN;
}

static PyObject *pick_app(struct pyw_core *pc,
                          const struct pyw_mount **hit);
static int move_script_name(struct pyw_core *pc, const struct pyw_mount *m);

/* The first call of a request: environ, the app, what it returned. */
static int
py_start(struct pyw_core *pc)
{
    char rl[256];
    const struct pyw_mount *hit;
    PyObject *app;

    pc->gen++;
    pc->phase = PYW_ITER;
    pc->chunks = 0;
    pc->client_gone = 0;
    pc->sr_called = pc->head_pushed = pc->wrote = 0;
    pc->reentry = 0;
    pc->file_fd = -1;

    app = pick_app(pc, &hit);
    if (app == NULL) {
        wf_log(WF_LOG_ERROR, "python: no WSGI app loaded for %s; give "
               "--wsgi-file or --module", pyw_req_line(pc, rl, sizeof(rl)));
        wf_response_error(pc->core, 500);
        return WF_ERROR;
    }
    pc->environ = pyw_environ_new(pc);
    if (pc->environ != NULL && hit != NULL &&
        move_script_name(pc, hit) < 0) {
        return py_app_error(pc, "building the environ");
    }
    pc->start_response = pc->environ ? pyw_start_response_new(pc) : NULL;
    pc->write = pc->start_response ? pyw_write_new(pc) : NULL;
    if (pc->write == NULL) {
        return py_app_error(pc, "building the environ");
    }
    pc->result = PyObject_CallFunctionObjArgs(app, pc->environ,
                                              pc->start_response, NULL);
    if (pc->result == NULL) {
        return py_app_error(pc, "in the app");
    }
    if (pc->client_gone) {
        return py_client_gone(pc, pc->client_gone);
    }
    if (PyBytes_Check(pc->result) || PyList_CheckExact(pc->result) ||
        PyTuple_CheckExact(pc->result)) {
        return py_send_all(pc, pc->result);
    }
    if (pyw_is_file_wrapper(pc->result)) {
        int r = py_file_setup(pc);
        if (r < 0) {
            return py_app_error(pc, "sending wsgi.file_wrapper");
        }
        if (r > 0) {
            return py_step_file(pc);
        }
    }
    pc->iter = PyObject_GetIter(pc->result);
    if (pc->iter == NULL) {
        return py_app_error(pc, "iterating the app's result");
    }
    if (pc->armed) {
        /* The app registered a wait before returning: honour it before
         * the first chunk (uWSGI returns AGAIN here always). */
        pc->reentry = 1;
        return WF_AGAIN;
    }
    return py_step(pc);
}

/* End of a request (any way): close() the iterable, drop everything, in
 * the core's state. */
static void
py_finish(struct pyw_core *pc)
{
    /* A list, tuple or bytes has no close(): skip the lookup. Otherwise
     * look it up without raising AttributeError when it is missing (an
     * exception object per request costs more than the whole environ). */
    if (pc->result != NULL && !PyList_CheckExact(pc->result) &&
        !PyTuple_CheckExact(pc->result) && !PyBytes_CheckExact(pc->result)) {
        PyObject *close = NULL;
        PyObject *name = pyw_str_close();
        int found = name != NULL
                    ? _PyObject_LookupAttr(pc->result, name, &close)
                    : ((close = PyObject_GetAttrString(pc->result,
                                                       "close")) != NULL);
        if (found <= 0) {
            PyErr_Clear();
        } else {
            PyObject *r = PyObject_CallNoArgs(close);
            Py_DECREF(close);
            if (r == NULL) {
                char rl[256];
                pyw_log_exc(WF_LOG_ERROR, "python: close() of the app's "
                            "iterable raised, in %s:",
                            pyw_req_line(pc, rl, sizeof(rl)));
            }
            Py_XDECREF(r);
        }
    }
    Py_CLEAR(pc->iter);
    Py_CLEAR(pc->result);
    Py_CLEAR(pc->environ);
    pyw_bound_done(pc);
    Py_CLEAR(pc->status);
    Py_CLEAR(pc->headers);
    if (pc->errors != NULL) {
        pyw_errors_flush(pc->errors);
    }
    PyErr_Clear();
    pyw_ts_clear_context();
    pc->file_fd = -1;
    pc->phase = PYW_IDLE;
    pc->gen++;
}

static int
python_handle(struct wf_core *c)
{
    struct pyw_core *pc = pyw_core_of(c);
    int fresh = pc->phase == PYW_IDLE;
    int rc;

    pyw_ts_enter(pc, fresh);
    pc->in_handle = 1;
    pc->armed = 0;
    rc = fresh ? py_start(pc) : py_step(pc);
    if (rc != WF_AGAIN) {
        py_finish(pc);
    }
    pc->in_handle = 0;
    pyw_ts_leave(pc);
    return rc;
}

/*
 * The request on c is dropped between two handle() calls: close() its
 * iterable in its own state. Dropped while suspended inside the app (its
 * frames on a C stack that will not run again): leak it, see
 * pyw_ts_abandon.
 */
static void
python_release(struct wf_core *c)
{
    struct pyw_core *pc;
    char rl[256];

    if (pyw.cores == NULL || c->id >= pyw.ncores) {
        return;
    }
    pc = &pyw.cores[c->id];
    if (pc->phase == PYW_IDLE) {
        return;
    }
    if (pc->in_handle) {
        wf_log(WF_LOG_WARN, "python: core %u (%s) dropped while suspended "
               "inside the app: its Python objects are leaked", pc->id,
               pyw_req_line(pc, rl, sizeof(rl)));
        pc->iter = pc->result = pc->environ = NULL;
        pc->start_response = pc->write = pc->status = pc->headers = NULL;
        pc->in_handle = 0;
        pc->phase = PYW_IDLE;
        pc->gen++;
        pyw_ts_abandon(pc);
        return;
    }
    pyw_ts_enter(pc, 0);
    py_finish(pc);
    pyw_ts_leave(pc);
}

static void
python_save(struct wf_core *c)
{
    if (pyw.initialized) {
        pyw_ts_save(c != NULL ? pyw_core_of(c) : NULL);
    }
}

static void
python_restore(struct wf_core *c)
{
    if (pyw.initialized) {
        pyw_ts_restore(c != NULL ? pyw_core_of(c) : NULL);
    }
}

/*
 * Where core c's app waits: its Python stack, innermost last, read from
 * the core's saved thread state without running Python code. Loop context,
 * only for a core whose state save() keeps (the core calls it so).
 */
static size_t
python_backtrace(struct wf_core *c, char *buf, size_t len)
{
    struct pyw_core *pc;
    PyFrameObject *f, *frames[64];
    size_t used = 0;
    int n = 0, i;

    if (!pyw.initialized || len == 0) {
        return 0;
    }
    pc = pyw_core_of(c);
    pyw_ts_save(NULL);
    pyw_ts_restore(pc);
    f = PyEval_GetFrame();
    Py_XINCREF(f);
    while (f != NULL && n < 64) {
        frames[n++] = f;
        f = PyFrame_GetBack(f);
    }
    Py_XDECREF(f);
    pyw_ts_save(pc);
    pyw_ts_restore(NULL);
    buf[0] = '\0';
    for (i = n - 1; i >= 0; i--) {
        PyCodeObject *code = PyFrame_GetCode(frames[i]);
        const char *file = PyUnicode_AsUTF8(code->co_filename);
        const char *name = PyUnicode_AsUTF8(code->co_name);
        int w;

        if (file == NULL || name == NULL) {
            PyErr_Clear();
        }
        w = snprintf(buf + used, len - used, "  File \"%s\", line %d, in %s\n",
                     file ? file : "?", PyFrame_GetLineNumber(frames[i]),
                     name ? name : "?");
        Py_DECREF(code);
        if (w > 0) {
            used += (size_t)w < len - used ? (size_t)w : len - used - 1;
        }
    }
    for (i = 0; i < n; i++) {
        Py_DECREF(frames[i]);
    }
    return used;
}

/* ------------------------------------------------------ start and end */

/*
 * --home DIR (uWSGI's home, virtualenv, venv, pyhome). A virtualenv (it
 * has pyvenv.cfg) runs as if started by its own bin/python: CPython's
 * path computation and site.py then give sys.prefix = DIR, its
 * site-packages, and the system's too when the venv was made with
 * --system-site-packages. Any other directory is PYTHONHOME. 0, or -1
 * with err (or *st set).
 */
static int
python_home(PyConfig *config, PyStatus *st, struct wf_err *err)
{
    char cfg[PATH_MAX + 16], exe[PATH_MAX + 16], abs[PATH_MAX];
    struct stat sb;

    if (realpath(pyw.home, abs) == NULL || stat(abs, &sb) < 0 ||
        !S_ISDIR(sb.st_mode)) {
        return wf_err_set(err, "--home %s: %s; give the virtualenv's "
                          "directory", pyw.home,
                          errno ? strerror(errno) : "not a directory");
    }
    snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", abs);
    if (access(cfg, R_OK) == 0) {
        snprintf(exe, sizeof(exe), "%s/bin/python3", abs);
        if (access(exe, X_OK) < 0) {
            snprintf(exe, sizeof(exe), "%s/bin/python", abs);
        }
        if (access(exe, X_OK) < 0) {
            return wf_err_set(err, "--home %s: a virtualenv without "
                              "bin/python3; recreate it with python3 -m "
                              "venv", pyw.home);
        }
        *st = PyConfig_SetBytesString(config, &config->program_name, exe);
        if (!PyStatus_Exception(*st)) {
            *st = PyConfig_SetBytesString(config, &config->executable, exe);
        }
    } else {
        *st = PyConfig_SetBytesString(config, &config->home, abs);
    }
    if (PyStatus_Exception(*st)) {
        return wf_err_set(err, "--home %s: %s", pyw.home,
                          st->err_msg ? st->err_msg : "cannot be set");
    }
    return 0;
}

/* --threads (1 when not given). */
static long
python_nthreads(void)
{
    const char *t = wf_opt_get("threads");

    return t != NULL ? atol(t) : 1;
}

static int
python_init(struct wf_err *err)
{
    PyConfig config;
    PyStatus st;
    char *argv[] = { "weft", NULL };

    if (pyw.initialized) {
        return 0;
    }
    if (python_nthreads() > 1) {
        /* as uWSGI: threads imply enable-threads (uwsgi.has_threads) */
        pyw.enable_threads = 1;
    }
    if (PyImport_AppendInittab("uwsgi", pyw_module_init) < 0) {
        return wf_err_set(err, "python: cannot register the uwsgi module");
    }
    /* As Py_InitializeEx(0): no signal handlers (the core owns signals);
     * sys.argv = ['weft']. */
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    st = PyConfig_SetBytesArgv(&config, 1, argv);
    if (!PyStatus_Exception(st) && pyw.home != NULL &&
        python_home(&config, &st, err) < 0) {
        PyConfig_Clear(&config);
        return -1;
    }
    if (!PyStatus_Exception(st)) {
        st = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        return wf_err_set(err, "python: cannot start CPython %s: %s%s%s; "
                          "check PYTHONHOME and PYTHONPATH",
                          PY_VERSION, st.func ? st.func : "",
                          st.func ? ": " : "",
                          st.err_msg ? st.err_msg : "unknown error");
    }
    pyw.initialized = 1;
    pyw.init_pid = getpid();

    pyw_errors_init();
    pyw.empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    pyw.version_tuple = Py_BuildValue("(ii)", 1, 0);
    if (pyw.empty_bytes == NULL || pyw.version_tuple == NULL ||
        pyw_wsgi_types_init() < 0 || pyw_input_type_init() < 0) {
        pyw_log_exc(WF_LOG_ERROR,
                    "python: setting up the WSGI types failed:");
        return wf_err_set(err, "python: setting up the WSGI types failed "
                          "(see the log); this is a bug");
    }
    return pyw_module_setup(err);
}

/* sys.path.insert(0, dir). 0 or -1 (+exc). */
static int
path_prepend(const char *dir)
{
    PyObject *path = PySys_GetObject("path");   /* borrowed */
    PyObject *d;
    int rc;

    if (path == NULL || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }
    d = PyUnicode_DecodeFSDefault(dir);
    if (d == NULL) {
        return -1;
    }
    rc = PyList_Insert(path, 0, d);
    Py_DECREF(d);
    return rc;
}

/* Run FILE as a module named like uWSGI does (uwsgi_file_<mangled>). New
 * reference, or NULL with an exception. */
static PyObject *
exec_file(const char *file)
{
    FILE *fp = fopen(file, "rb");
    char *src = NULL, name[512];
    size_t len = 0, cap = 0;
    PyObject *code, *mod, *dict, *r, *fn;

    if (fp == NULL) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, file);
        return NULL;
    }
    for (;;) {
        if (cap - len < 8192) {
            char *n = PyMem_RawRealloc(src, cap = cap ? cap * 2 : 65536);
            if (n == NULL) {
                PyMem_RawFree(src);
                fclose(fp);
                return PyErr_NoMemory();
            }
            src = n;
        }
        size_t got = fread(src + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0) {
            break;
        }
    }
    int ioerr = ferror(fp);
    fclose(fp);
    if (ioerr) {
        PyMem_RawFree(src);
        errno = EIO;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, file);
        return NULL;
    }
    src[len] = 0;
    code = Py_CompileStringExFlags(src, file, Py_file_input, NULL, -1);
    PyMem_RawFree(src);
    if (code == NULL) {
        return NULL;
    }
    snprintf(name, sizeof(name), "uwsgi_file_%s", file);
    for (char *p = name + 11; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9'))) {
            *p = '_';
        }
    }
    mod = PyImport_AddModule(name);     /* borrowed, in sys.modules */
    if (mod == NULL) {
        Py_DECREF(code);
        return NULL;
    }
    Py_INCREF(mod);
    dict = PyModule_GetDict(mod);
    fn = PyUnicode_DecodeFSDefault(file);
    if (fn == NULL || PyDict_SetItemString(dict, "__file__", fn) < 0 ||
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(fn);
        Py_DECREF(code);
        Py_DECREF(mod);
        return NULL;
    }
    Py_DECREF(fn);
    r = PyEval_EvalCode(code, dict, dict);
    Py_DECREF(code);
    if (r == NULL) {
        PyObject *mods = PyImport_GetModuleDict();
        if (PyDict_DelItemString(mods, name) < 0) {
            /* keep the app's exception, not ours */
        }
        Py_DECREF(mod);
        return NULL;
    }
    Py_DECREF(r);
    return mod;
}

/* "--opt value: Type: message; fix" for the pending exception (which is
 * logged with its traceback and cleared). */
static int
load_error(struct wf_err *err, const char *opt, const char *val,
           const char *fix)
{
    char sum[384];

    pyw_exc_summary(sum, sizeof(sum));
    pyw_log_exc(WF_LOG_ERROR, "python: --%s %s failed:", opt, val);
    return wf_err_set(err, "--%s %s: %s; %s", opt, val, sum, fix);
}

/*
 * Load one WSGI callable: from the file `val` (is_file), or from the
 * module `val` written MODULE[:CALLABLE]; `opt` names the option in the
 * errors. The file's directory (or, for a module, the current one) goes
 * in front of sys.path first, then (with_pythonpath) every --pythonpath
 * in front of it, in the order given. *out receives a new reference. 0,
 * or -1 with err (the traceback logged).
 */
static int
load_callable(const char *opt, const char *val, int is_file,
              int with_pythonpath, PyObject **out, struct wf_err *err)
{
    const char *cname = pyw.callable ? pyw.callable : "application";
    char *modname = NULL;
    PyObject *mod = NULL, *app;
    int rc = -1;

    if (is_file) {
        char *dir = strdup(val), *slash;

        if (dir == NULL) {
            return wf_err_set(err, "python: out of memory");
        }
        slash = strrchr(dir, '/');
        if (slash == NULL) {
            strcpy(dir, ".");
        } else if (slash == dir) {
            dir[1] = 0;
        } else {
            *slash = 0;
        }
        int r = path_prepend(dir);
        free(dir);
        if (r < 0) {
            return load_error(err, opt, val, "cannot set sys.path");
        }
    } else if (path_prepend("") < 0) {
        return load_error(err, opt, val, "cannot set sys.path");
    }
    for (size_t i = pyw.pythonpath.n; with_pythonpath && i > 0; i--) {
        if (path_prepend(pyw.pythonpath.v[i - 1]) < 0) {
            return load_error(err, opt, val, "cannot set sys.path");
        }
    }
    if (is_file) {
        if (access(val, R_OK) < 0) {
            return wf_err_set(err, "--%s %s: %s; check the path", opt, val,
                              strerror(errno));
        }
        mod = exec_file(val);
        if (mod == NULL) {
            return load_error(err, opt, val, "fix the app (traceback in "
                              "the log)");
        }
    } else {
        const char *colon = strrchr(val, ':');

        modname = strdup(val);
        if (modname == NULL) {
            return wf_err_set(err, "python: out of memory");
        }
        if (colon != NULL) {
            modname[colon - val] = 0;
            cname = colon + 1;
        }
        if (*modname == 0 || *cname == 0) {
            wf_err_set(err, "--%s %s: want pkg.mod or pkg.mod:callable",
                       opt, val);
            goto out;
        }
        mod = PyImport_ImportModule(modname);
        if (mod == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
                load_error(err, opt, val, "check --pythonpath");
            } else {
                load_error(err, opt, val, "fix the module (traceback in "
                           "the log)");
            }
            goto out;
        }
    }

    app = PyObject_GetAttrString(mod, cname);
    if (app == NULL) {
        PyErr_Clear();
        wf_err_set(err, "--%s %s: callable '%s' not found; name it with "
                   "--callable", opt, val, cname);
        goto out;
    }
    if (!PyCallable_Check(app)) {
        wf_err_set(err, "--%s %s: '%s' is a %.64s, not a callable; point "
                   "--callable at the WSGI function", opt, val, cname,
                   Py_TYPE(app)->tp_name);
        Py_DECREF(app);
        goto out;
    }
    *out = app;
    wf_log(WF_LOG_INFO, "python: WSGI app '%s' loaded from %s (CPython %s)",
           cname, val, PY_VERSION);
    rc = 0;
out:
    Py_XDECREF(mod);
    free(modname);
    return rc;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* --mount /PREFIX=APP, each: as uWSGI, APP ending in .py or .wsgi is a
 * file, anything else a MODULE[:CALLABLE]. 0 or -1 with err. */
static int
load_mounts(struct wf_err *err)
{
    size_t i;

    pyw.mounts = calloc(pyw.mount_opts.n, sizeof(*pyw.mounts));
    if (pyw.mounts == NULL) {
        return wf_err_set(err, "python: out of memory");
    }
    for (i = 0; i < pyw.mount_opts.n; i++) {
        const char *v = pyw.mount_opts.v[i], *eq = strchr(v, '=');
        struct pyw_mount *m = &pyw.mounts[pyw.nmounts];
        size_t len;

        if (v[0] != '/' || eq == NULL || eq[1] == '\0') {
            return wf_err_set(err, "--mount %s: want /PREFIX=APP, e.g. "
                              "/blog=blog.py or /api=api.wsgi:application",
                              v);
        }
        if (ends_with(eq + 1, ".ru") || ends_with(eq + 1, ".psgi") ||
            ends_with(eq + 1, ".pl")) {
            return wf_err_set(err, "--mount %s: weft mounts Python (WSGI) "
                              "apps only; serve a Rack or PSGI app under a "
                              "prefix from its own weft (nginx location)",
                              v);
        }
        len = (size_t)(eq - v);
        while (len > 1 && v[len - 1] == '/') {
            len--;      /* "/blog/" is "/blog" */
        }
        m->prefix = strndup(v, len);
        if (m->prefix == NULL) {
            return wf_err_set(err, "python: out of memory");
        }
        m->len = len == 1 ? 0 : len;    /* "/" is the default app's */
        if (load_callable("mount", eq + 1, ends_with(eq + 1, ".py") ||
                          ends_with(eq + 1, ".wsgi"), 0, &m->app, err) < 0) {
            free(m->prefix);
            return -1;
        }
        pyw.nmounts++;
        wf_log(WF_LOG_INFO, "python: %s mounted on %s%s", eq + 1,
               m->prefix, pyw.app == NULL && pyw.nmounts == 1 ?
               " (the default app)" : "");
    }
    if (pyw.app == NULL) {
        pyw.app = pyw.mounts[0].app;    /* uWSGI: the first app loaded */
        Py_INCREF(pyw.app);
    }
    if (pyw.nmounts + (pyw.app != pyw.mounts[0].app) > 1) {
        wf_log(WF_LOG_INFO, "python: the mounted apps share one interpreter "
               "(uWSGI's single-interpreter; uWSGI without it gives each "
               "its own): apps that need separate module state (two Django "
               "projects) need a weft each");
    }
    return 0;
}

static int
python_load_app(struct wf_err *err)
{
    if (pyw.app != NULL) {
        return 1;
    }
    if (pyw.wsgi_file == NULL && pyw.module == NULL &&
        pyw.mount_opts.n == 0) {
        return 0;
    }
    /* the app's directory, then every --pythonpath in front (a mount's
     * directory goes in front of those when it is loaded) */
    if (pyw.wsgi_file != NULL) {
        if (load_callable("wsgi-file", pyw.wsgi_file, 1, 1, &pyw.app,
                          err) < 0) {
            return -1;
        }
    } else if (pyw.module != NULL) {
        if (load_callable("module", pyw.module, 0, 1, &pyw.app, err) < 0) {
            return -1;
        }
    } else {
        for (size_t i = pyw.pythonpath.n; i > 0; i--) {
            if (path_prepend(pyw.pythonpath.v[i - 1]) < 0) {
                return load_error(err, "pythonpath",
                                  pyw.pythonpath.v[i - 1],
                                  "cannot set sys.path");
            }
        }
    }
    if (pyw.mount_opts.n > 0 && load_mounts(err) < 0) {
        return -1;
    }
    return 1;
}

/*
 * --mount: the app of this request. With --manage-script-name, the mount
 * whose PREFIX is the longest that starts PATH_INFO (up to a '/' or the
 * end) is *hit (SCRIPT_NAME and PATH_INFO then move); without it, the
 * mount whose PREFIX is SCRIPT_NAME (nginx's uwsgi_param). Else the
 * default app. Request context.
 */
static PyObject *
pick_app(struct pyw_core *pc, const struct pyw_mount **hit)
{
    const struct pyw_mount *best = NULL;
    const char *v;
    size_t n;
    unsigned i;

    *hit = NULL;
    if (pyw.nmounts == 0) {
        return pyw.app;
    }
    if (pyw.manage_script_name) {
        v = wf_req_get(pc->core, "PATH_INFO", &n);
        for (i = 0; v != NULL && i < pyw.nmounts; i++) {
            const struct pyw_mount *m = &pyw.mounts[i];

            if (m->len > 0 && n >= m->len &&
                memcmp(v, m->prefix, m->len) == 0 &&
                (n == m->len || v[m->len] == '/') &&
                (best == NULL || m->len > best->len)) {
                best = m;
            }
        }
        *hit = best;
        return best ? best->app : pyw.app;
    }
    v = wf_req_get(pc->core, "SCRIPT_NAME", &n);
    for (i = 0; v != NULL && n > 0 && i < pyw.nmounts; i++) {
        if (pyw.mounts[i].len == n &&
            memcmp(v, pyw.mounts[i].prefix, n) == 0) {
            return pyw.mounts[i].app;
        }
    }
    return pyw.app;
}

/* --manage-script-name: SCRIPT_NAME is the mount's PREFIX, PATH_INFO
 * what follows it (as uWSGI: /app1 -> '/app1' and ''). 0 or -1 (a
 * Python error set). */
static int
move_script_name(struct pyw_core *pc, const struct pyw_mount *m)
{
    size_t n;
    const char *pi = wf_req_get(pc->core, "PATH_INFO", &n);
    PyObject *sn = PyUnicode_DecodeLatin1(m->prefix, (Py_ssize_t)m->len,
                                          NULL);
    PyObject *rest = PyUnicode_DecodeLatin1(pi + m->len,
                                            (Py_ssize_t)(n - m->len), NULL);
    int r = -1;

    if (sn != NULL && rest != NULL &&
        PyDict_SetItemString(pc->environ, "SCRIPT_NAME", sn) == 0 &&
        PyDict_SetItemString(pc->environ, "PATH_INFO", rest) == 0) {
        r = 0;
    }
    Py_XDECREF(sn);
    Py_XDECREF(rest);
    return r;
}

static int
python_worker_init(unsigned ncores, struct wf_err *err)
{
    const char *a = wf_opt_get("async");

    if (getpid() != pyw.init_pid) {
        /* A forked worker: reset the GIL, threading and import locks, and
         * run os.register_at_fork(after_in_child=...) hooks. */
        PyOS_AfterFork_Child();
    }
    if (pyw.cores == NULL) {
        cores_alloc(ncores > 0 ? ncores : 1);
    }
    pyw.async_extras = ncores > 1 || wf_has_suspend_engine() ||
                       (a != NULL && atol(a) > 0);
    pyw.release_gil = pyw.enable_threads || python_nthreads() > 1;
    pyw_ts_worker_init();
    pyw_module_worker();
    return 0;
}

/* Finish what core pc still holds (a generator parked between two
 * handle() calls) and free its state; one suspended inside the app is
 * leaked (see python_release). In the thread that runs the core. */
static void
core_fini(struct pyw_core *pc)
{
    if (pc->phase != PYW_IDLE && pc->in_handle) {
        pyw.leaked++;   /* suspended inside the app: see release */
        return;
    }
    if (pc->phase != PYW_IDLE) {
        pyw_ts_enter(pc, 0);
        py_finish(pc);
        pyw_ts_leave(pc);
    }
    Py_CLEAR(pc->errors);
    Py_CLEAR(pc->id_obj);
    Py_CLEAR(pc->sr_spare);
    Py_CLEAR(pc->write_spare);
    pyw_ts_core_fini(pc);
}

/*
 * --threads N > 1: a loop thread starts (not the worker's first, which
 * worker_init set up). It gets a PyThreadState of its own in the main
 * interpreter and takes the GIL (the first thread lets go of it while it
 * waits); cores base.. run here, so their per-core state is made again
 * against this thread's state (their bottom frame and exception item
 * point into it).
 */
static int
python_thread_init(unsigned base, unsigned n, struct wf_err *err)
{
    PyThreadState *ts;
    unsigned i;

    if (!pyw.initialized) {
        return 0;
    }
    ts = PyThreadState_New(PyInterpreterState_Main());
    if (ts == NULL) {
        return wf_err_set(err, "python: no thread state for the loop of "
                          "cores %u..%u (out of memory)", base, base + n - 1);
    }
    PyEval_RestoreThread(ts);
    thread_ts = ts;
    thread_base = base;
    thread_ncores = n;
    if (pyw.cores == NULL) {
        cores_alloc(wf_ncores());
    }
    for (i = base; i < base + n && i < pyw.ncores; i++) {
        pyw_ts_core_fini(&pyw.cores[i]);
        pyw_ts_core_init(&pyw.cores[i]);
    }
    pyw_ts_worker_init();
    return 0;
}

/* That loop thread stops: its cores' state goes, its thread state is
 * deleted and the GIL let go of (the worker's first thread finalises
 * CPython once every loop thread is gone). */
static void
python_thread_fini(void)
{
    unsigned i;

    if (thread_ts == NULL) {
        return;
    }
    if (waiting_ts != NULL) {
        python_loop_wait(0);
    }
    for (i = thread_base; i < thread_base + thread_ncores &&
         i < pyw.ncores; i++) {
        core_fini(&pyw.cores[i]);
    }
    pyw_ts_thread_fini();
    PyThreadState_Clear(thread_ts);
    PyThreadState_DeleteCurrent();
    thread_ts = NULL;
}

/* The fiber engine carries Ruby only. */
static int
python_check_engine(const char *engine, struct wf_err *err)
{
    if (engine != NULL && strcmp(engine, "fiber") == 0) {
        return wf_err_set(err, "--fiber: the fiber engine switches Ruby "
                          "fibers only; for Python use --ugreen or "
                          "--greenlet");
    }
    return 0;
}

static void
python_shutdown(void)
{
    if (!pyw.initialized) {
        return;
    }
    for (unsigned i = 0; i < pyw.ncores; i++) {
        /* the cores of the other loop threads were let go of by
         * python_thread_fini (their state is NULL now) */
        core_fini(&pyw.cores[i]);
    }
    Py_CLEAR(pyw.app);
    for (unsigned i = 0; i < pyw.nmounts; i++) {
        Py_CLEAR(pyw.mounts[i].app);
        free(pyw.mounts[i].prefix);
    }
    free(pyw.mounts);
    pyw.mounts = NULL;
    pyw.nmounts = 0;
    pyw_environ_fini();
    pyw_ts_worker_fini();
    if (pyw.leaked > 0) {
        /* Frames of abandoned requests still point into leaked state:
         * finalising could touch them (docs/engines/greenlet.md, "Worker exit"). Flush and go. */
        const char *names[] = { "stdout", "stderr" };
        for (int i = 0; i < 2; i++) {
            PyObject *f = PySys_GetObject(names[i]), *r = NULL;
            if (f != NULL && f != Py_None) {
                r = PyObject_CallMethod(f, "flush", NULL);
            }
            Py_XDECREF(r);
            PyErr_Clear();
        }
        return;
    }
    /* atexit handlers may still call a kept start_response/write: the
     * core array goes after the interpreter. */
    Py_FinalizeEx();
    PyMem_RawFree(pyw.cores);
    pyw.cores = NULL;
    pyw.ncores = 0;
    pyw.initialized = 0;
}

static const struct wf_lang_ops python_ops = {
    .modifier1    = 0,
    .init         = python_init,
    .load_app     = python_load_app,
    .worker_init  = python_worker_init,
    .handle       = python_handle,
    .release      = python_release,
    .save         = python_save,
    .restore      = python_restore,
    .check_engine = python_check_engine,
    .shutdown     = python_shutdown,
    .backtrace    = python_backtrace,
    .loop_wait    = python_loop_wait,
    .thread_init  = python_thread_init,
    .thread_fini  = python_thread_fini,
};

WF_PLUGIN(python,
          .version = PACKAGE_VERSION,
          .kind    = WF_KIND_LANG,
          .ops     = &python_ops,
          .options = python_options,
          .needs   = "CPython " PY_VERSION " (libpython3.11)",
          .summary = "WSGI apps on CPython, the uwsgi async API, per-core "
                     "interpreter state",
          .flags   = WF_PLUGIN_F_GLOBAL | WF_PLUGIN_F_THREADS);
