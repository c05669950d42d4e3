/*
 * langs/python: the WSGI language plugin. Internal header shared by the
 * plugin's files; nothing here is exported (the plugin exports only
 * wf_plugin_python, see local.mk).
 *
 *   python.c     descriptor, options, init / load_app, handle() state machine
 *   py_tstate.c  per-core interpreter state (what follows a core across a
 *                switch of a suspend engine; contextvars and exc_info per
 *                request)
 *   py_wsgi.c    environ, start_response, write(), wsgi.errors,
 *                wsgi.file_wrapper, the response head, traceback logging
 *   py_input.c   wsgi.input
 *   py_module.c  the `uwsgi` module (also importable as `weft`)
 *
 * Threading (docs/design.md, "Threads"): a worker runs one loop per
 * thread (--threads, 1 by default). Each loop thread has its own
 * PyThreadState and holds the GIL while it is awake; it lets go of it
 * around every wait (the loop's io wait, a core's in-place poll) when
 * several threads run or --enable-threads is given. A core's state
 * (struct pyw_core) is used only by the thread whose loop owns the core;
 * what is per loop (the switch slot of the loop, the data-stack chunk
 * pool, the released thread state) is __thread.
 */
#ifndef WEFT_LANGS_PYTHON_PYWEFT_H
#define WEFT_LANGS_PYTHON_PYWEFT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "config.h"

#include <stdint.h>
#include <sys/types.h>

#include <weft/plugin.h>

#include "py_errors.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "langs/python: py_tstate.c knows the PyThreadState of CPython 3.11 only; configure --with-python=/usr/bin/python3.11"
#endif

/*
 * The part of a PyThreadState that belongs to one call chain (docs/langs/python.md, "Per-core interpreter state").
 * A copy "takes" or "puts" the pointers; the reference to `context` moves
 * with the copy (the slots alias, only the core's own state ever drops it).
 */
struct pyw_ts {
    int depth;                  /* recursion_limit - recursion_remaining */
    _PyCFrame *cframe;
    _PyStackChunk *chunk;       /* frame data stack (3.11 bump allocator) */
    PyObject **top;
    PyObject **limit;
    _PyErr_StackItem *exc_info;
    PyObject *context;          /* contextvars; NULL = empty */
    int trash_nesting;
};

/* A core's own Python state. On the heap, because a running request's
 * frames point into it (cframe->previous, exc_info->previous_item). */
struct pyw_pystate {
    struct pyw_ts ts;
    _PyCFrame base_cframe;      /* previous = &tstate->root_cframe */
    _PyErr_StackItem exc_item;  /* previous_item = &tstate->exc_state */
};

enum pyw_phase {
    PYW_IDLE = 0,   /* no request */
    PYW_ITER,       /* iterating the app's iterable, one chunk per call */
    PYW_FILE,       /* sending a wsgi.file_wrapper with wf_sendfile */
};

/* Per-core request state: c->lang_ctx points here. */
struct pyw_core {
    struct wf_core *core;
    unsigned id;
    uint64_t gen;           /* request generation: bumps at start and end */
    enum pyw_phase phase;
    unsigned in_handle : 1; /* inside handle(): Python frames may be live */
    unsigned reentry : 1;   /* the next step is a generator re-entry */
    unsigned armed : 1;     /* the app registered a wait (fd or timer) */
    unsigned sr_called : 1; /* start_response called */
    unsigned head_pushed : 1; /* status/headers handed to the core */
    unsigned wrote : 1;     /* body bytes were handed to the core: from the
                               app's view the head has gone out */
    int client_gone;        /* errno of a failed write/read, or 0 */
    unsigned long chunks;   /* chunks taken from the iterable so far */

    PyObject *environ;
    PyObject *start_response;   /* callable bound to this core + gen */
    PyObject *write;            /* the write() callable */
    PyObject *result;           /* what the app returned (close() target) */
    PyObject *iter;
    PyObject *status;           /* str "200 OK", latin-1 (checked) */
    PyObject *headers;          /* tuple of (str, str), latin-1 (checked) */
    PyObject *errors;           /* wsgi.errors, one per core, reused */
    PyObject *id_obj;           /* environ['uwsgi.core'], made once */
    PyObject *sr_spare;         /* start_response / write of an earlier */
    PyObject *write_spare;      /* request, for the next (or NULL) */

    int file_fd;                /* PYW_FILE */
    off_t file_off, file_end;

    struct pyw_pystate *ps;     /* the core's own interpreter state */
    struct pyw_ts outer;        /* tstate as handle() found it */
    struct pyw_ts sw;           /* save()/restore() slot */
};

struct pyw_global {
    int enable_threads;           /* --enable-threads (or --threads > 1) */
    int release_gil;              /* let go of the GIL around waits */
    /* options */
    char *home;                   /* --home: virtualenv or PYTHONHOME */
    char *wsgi_file;
    char *module;
    char *callable;
    struct wf_strlist pythonpath;

    int initialized;            /* Py_Initialize done */
    pid_t init_pid;             /* the process that did it */
    PyObject *app;              /* the default app (mountpoint "") */
    /* --mount /PREFIX=APP (uWSGI's): apps by mountpoint, and
     * --manage-script-name (pick one by PATH_INFO's longest prefix) */
    struct wf_strlist mount_opts;
    int manage_script_name;
    struct pyw_mount {
        char *prefix;           /* "/app", no trailing slash */
        size_t len;
        PyObject *app;
    } *mounts;
    unsigned nmounts;
    PyObject *umod;             /* the uwsgi module */
    PyObject *fd_readable;      /* uwsgi.wait_fd_read */
    PyObject *fd_writable;      /* uwsgi.wait_fd_write */
    PyObject *empty_bytes;
    PyObject *version_tuple;    /* (1, 0) */
    PyObject *cancelled;        /* uwsgi.RequestCancelled */

    struct pyw_core *cores;
    unsigned ncores;
    int async_extras;           /* x-wsgiorg.fdevent.*, uwsgi.core, ... */
    unsigned leaked;            /* cores abandoned while suspended */
};

extern struct pyw_global pyw;

/* python.c */
struct pyw_core *pyw_core_of(struct wf_core *c);

/* py_tstate.c */
void pyw_ts_worker_init(void);
void pyw_ts_thread_fini(void);
void pyw_ts_core_init(struct pyw_core *pc);
void pyw_ts_enter(struct pyw_core *pc, int fresh);
void pyw_ts_leave(struct pyw_core *pc);
void pyw_ts_clear_context(void);
void pyw_ts_save(struct pyw_core *pc);
void pyw_ts_restore(struct pyw_core *pc);
void pyw_ts_abandon(struct pyw_core *pc);
void pyw_ts_core_fini(struct pyw_core *pc);
void pyw_ts_worker_fini(void);

/* py_wsgi.c */
int pyw_wsgi_types_init(void);
PyObject *pyw_environ_new(struct pyw_core *pc);
void pyw_environ_fini(void);
PyObject *pyw_str_close(void);
void pyw_environ_reentry(struct pyw_core *pc);
PyObject *pyw_start_response_new(struct pyw_core *pc);
PyObject *pyw_write_new(struct pyw_core *pc);
void pyw_bound_done(struct pyw_core *pc);
PyObject *pyw_errors_new(void);
void pyw_errors_flush(PyObject *errors);
int pyw_head_push(struct pyw_core *pc, long long known_len);
int pyw_is_file_wrapper(PyObject *o);
PyObject *pyw_file_wrapper_filelike(PyObject *o);
const char *pyw_req_line(struct pyw_core *pc, char *buf, size_t len);
extern PyTypeObject pyw_file_wrapper_type;

/* py_input.c */
int pyw_input_type_init(void);
PyObject *pyw_input_new(struct pyw_core *pc);

/* py_module.c */
PyObject *pyw_module_init(void);
int pyw_module_setup(struct wf_err *err);
void pyw_module_worker(void);

#endif
