/*
 * wsgi.input: the request body, streamed with wf_read_body (which waits
 * through the suspend engine, or poll() without one, up to --socket-timeout).
 * read(n) returns n bytes unless the body ends first; readline() and
 * iteration use an internal buffer. No read allocates more than what
 * arrived (plus a first 64 KiB): a client's Content-Length or an app's
 * read(n) is a bound, never an allocation size. With --post-buffering the
 * core has the body whole (memory or temp file) before the app runs.
 */
#include "pyweft.h"

#include <errno.h>
#include <string.h>

#define INPUT_CHUNK 16384
/* The first allocation of read() and read(n): what arrives grows it. */
#define INPUT_FIRST 65536

struct pyw_input {
    PyObject_HEAD
    struct pyw_core *pc;
    uint64_t gen;
    char *buf;          /* unread bytes are buf[pos..len) */
    size_t pos, len, cap;
    int eof;
};

static int
input_alive(struct pyw_input *in)
{
    if (in->pc->gen != in->gen || in->pc->phase == PYW_IDLE) {
        PyErr_SetString(PyExc_ValueError,
                        "wsgi.input used after its request ended");
        return 0;
    }
    return 1;
}

/* A failed wf_read_body as a Python OSError (TimeoutError,
 * ConnectionResetError, ...). */
static void
input_error(struct pyw_input *in, ssize_t rc)
{
    char msg[128];

    if (rc == -ECONNRESET || rc == -EPIPE) {
        in->pc->client_gone = (int)-rc;
    }
    snprintf(msg, sizeof(msg), "error reading the request body: %s",
             rc == -EBADMSG ? "bad chunked framing" : strerror((int)-rc));
    PyObject *args = Py_BuildValue("(is)", (int)-rc, msg);
    if (args != NULL) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
}

/* Read from the body into dst (at most len). Returns the count, 0 at the
 * end, or -1 with an exception. */
static ssize_t
input_raw(struct pyw_input *in, char *dst, size_t len)
{
    ssize_t rc;

    if (in->eof) {
        return 0;
    }
    rc = wf_read_body(in->pc->core, dst, len);
    if (rc < 0) {
        input_error(in, rc);
        return -1;
    }
    if (rc == 0) {
        in->eof = 1;
    }
    return rc;
}

/* Make room for `more` bytes after len; compacts first. 0 or -1 (+exc). */
static int
input_reserve(struct pyw_input *in, size_t more)
{
    if (in->pos > 0 && in->pos == in->len) {
        in->pos = in->len = 0;
    }
    if (in->cap - in->len >= more) {
        return 0;
    }
    if (in->pos > 0) {
        memmove(in->buf, in->buf + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
        if (in->cap - in->len >= more) {
            return 0;
        }
    }
    size_t ncap = in->cap ? in->cap : INPUT_CHUNK;
    while (ncap - in->len < more) {
        ncap *= 2;
    }
    char *nb = PyMem_Realloc(in->buf, ncap);
    if (nb == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    in->buf = nb;
    in->cap = ncap;
    return 0;
}

/* Buffer more bytes. Returns the count added, 0 at the end, -1 + exc. */
static ssize_t
input_fill(struct pyw_input *in)
{
    ssize_t n;

    if (input_reserve(in, INPUT_CHUNK) < 0) {
        return -1;
    }
    n = input_raw(in, in->buf + in->len, in->cap - in->len);
    if (n > 0) {
        in->len += (size_t)n;
    }
    return n;
}

static PyObject *
input_read(PyObject *self, PyObject *args)
{
    struct pyw_input *in = (struct pyw_input *)self;
    PyObject *arg = Py_None, *out;
    Py_ssize_t want = -1;
    size_t have, got;

    if (!PyArg_ParseTuple(args, "|O:read", &arg) || !input_alive(in)) {
        return NULL;
    }
    if (arg != Py_None) {
        want = PyLong_AsSsize_t(arg);
        if (want == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    have = in->len - in->pos;
    if (want < 0) {
        /* the client's Content-Length is a promise, not bytes: start
         * small and grow as bytes arrive (no OverflowError for a length
         * of 2^63, no 8 GB allocation for 8e9 that never comes) */
        ssize_t rem = wf_body_remaining(in->pc->core);
        size_t cap = have + (rem > 0 && rem < INPUT_FIRST ? (size_t)rem
                                                          : INPUT_FIRST);
        out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (out == NULL) {
            return NULL;
        }
        if (have > 0) {
            memcpy(PyBytes_AS_STRING(out), in->buf + in->pos, have);
        }
        in->pos = in->len = 0;
        got = have;
        for (;;) {
            if (got == cap) {
                if (in->eof || wf_body_remaining(in->pc->core) == 0) {
                    break;
                }
                rem = wf_body_remaining(in->pc->core);
                cap = rem > 0 && (size_t)rem < cap ? cap + (size_t)rem
                                                   : cap * 2;
                if (_PyBytes_Resize(&out, (Py_ssize_t)cap) < 0) {
                    return NULL;
                }
            }
            ssize_t n = input_raw(in, PyBytes_AS_STRING(out) + got,
                                  cap - got);
            if (n < 0) {
                Py_DECREF(out);
                return NULL;
            }
            if (n == 0) {
                break;
            }
            got += (size_t)n;
        }
    } else {
        /* read(n): n is the most the app takes, not what it gets: the
         * buffer grows with what arrives */
        size_t w = (size_t)want;
        size_t take = have < w ? have : w;
        size_t cap = take > INPUT_FIRST ? take : INPUT_FIRST;

        if (cap > w) {
            cap = w;
        }
        out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (out == NULL) {
            return NULL;
        }
        if (take > 0) {
            memcpy(PyBytes_AS_STRING(out), in->buf + in->pos, take);
        }
        in->pos += take;
        got = take;
        while (got < w) {
            if (got == cap) {
                cap = cap * 2 < w ? cap * 2 : w;
                if (_PyBytes_Resize(&out, (Py_ssize_t)cap) < 0) {
                    return NULL;
                }
            }
            ssize_t n = input_raw(in, PyBytes_AS_STRING(out) + got,
                                  cap - got);
            if (n < 0) {
                Py_DECREF(out);
                return NULL;
            }
            if (n == 0) {
                break;
            }
            got += (size_t)n;
        }
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)got) < 0) {
        return NULL;
    }
    return out;
}

/* One line (with its '\n'), at most limit bytes (limit < 0: no limit). */
static PyObject *
input_line(struct pyw_input *in, Py_ssize_t limit)
{
    size_t scanned = 0;

    for (;;) {
        size_t have = in->len - in->pos;
        size_t lim = limit >= 0 && (size_t)limit < have ? (size_t)limit : have;
        char *nl = lim > scanned ?
            memchr(in->buf + in->pos + scanned, '\n', lim - scanned) : NULL;
        size_t take;

        if (nl != NULL) {
            take = (size_t)(nl - (in->buf + in->pos)) + 1;
        } else if ((limit >= 0 && have >= (size_t)limit) || in->eof) {
            take = lim;
        } else {
            scanned = lim;
            ssize_t n = input_fill(in);
            if (n < 0) {
                return NULL;
            }
            continue;
        }
        PyObject *out = PyBytes_FromStringAndSize(take ? in->buf + in->pos
                                                       : "",
                                                  (Py_ssize_t)take);
        if (out != NULL) {
            in->pos += take;
        }
        return out;
    }
}

static PyObject *
input_readline(PyObject *self, PyObject *args)
{
    struct pyw_input *in = (struct pyw_input *)self;
    PyObject *arg = Py_None;
    Py_ssize_t limit = -1;

    if (!PyArg_ParseTuple(args, "|O:readline", &arg) || !input_alive(in)) {
        return NULL;
    }
    if (arg != Py_None) {
        limit = PyLong_AsSsize_t(arg);
        if (limit == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    return input_line(in, limit);
}

static PyObject *
input_readlines(PyObject *self, PyObject *args)
{
    struct pyw_input *in = (struct pyw_input *)self;
    PyObject *arg = Py_None, *list;
    Py_ssize_t hint = -1, total = 0;

    if (!PyArg_ParseTuple(args, "|O:readlines", &arg) || !input_alive(in)) {
        return NULL;
    }
    if (arg != Py_None) {
        hint = PyLong_AsSsize_t(arg);
        if (hint == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (;;) {
        PyObject *line = input_line(in, -1);
        if (line == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        if (PyBytes_GET_SIZE(line) == 0) {
            Py_DECREF(line);
            break;
        }
        total += PyBytes_GET_SIZE(line);
        if (PyList_Append(list, line) < 0) {
            Py_DECREF(line);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(line);
        if (hint > 0 && total >= hint) {
            break;
        }
    }
    return list;
}

static PyObject *
input_next(PyObject *self)
{
    struct pyw_input *in = (struct pyw_input *)self;
    PyObject *line;

    if (!input_alive(in)) {
        return NULL;
    }
    line = input_line(in, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;    /* StopIteration */
    }
    return line;
}

static PyObject *
input_close(PyObject *self, PyObject *unused)
{
    Py_RETURN_NONE;
}

static void
input_dealloc(PyObject *self)
{
    PyMem_Free(((struct pyw_input *)self)->buf);
    PyObject_Free(self);
}

static PyMethodDef input_methods[] = {
    { "read", input_read, METH_VARARGS,
      "read(size=-1): size bytes, fewer only at the end of the body" },
    { "readline", input_readline, METH_VARARGS,
      "readline(limit=-1): one line with its newline" },
    { "readlines", input_readlines, METH_VARARGS,
      "readlines(hint=-1): the remaining lines" },
    { "close", input_close, METH_NOARGS, "no-op" },
    { NULL }
};

static PyTypeObject input_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uwsgi.input",
    .tp_basicsize = sizeof(struct pyw_input),
    .tp_dealloc = input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = input_next,
    .tp_methods = input_methods,
};

int
pyw_input_type_init(void)
{
    return PyType_Ready(&input_type);
}

PyObject *
pyw_input_new(struct pyw_core *pc)
{
    struct pyw_input *in = PyObject_New(struct pyw_input, &input_type);

    if (in != NULL) {
        in->pc = pc;
        in->gen = pc->gen;
        in->buf = NULL;
        in->pos = in->len = in->cap = 0;
        in->eof = 0;
    }
    return (PyObject *)in;
}
