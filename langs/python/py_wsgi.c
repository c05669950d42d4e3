/*
 * PEP 3333: environ, start_response, write(), wsgi.errors,
 * wsgi.file_wrapper, the response head, and the traceback logger.
 */
#include "pyweft.h"

#include <structmember.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------ logging */

/* "GET /path?query" of the core's request, for log lines: the core's
 * format (wf_req_line). */
const char *
pyw_req_line(struct pyw_core *pc, char *buf, size_t len)
{
    return wf_req_line(pc->core, buf, len);
}

/* ------------------------------------------------------------ environ */

/*
 * The environ is most of what the Python side of a request costs, so it is
 * built from parts made once per worker (docs/performance.md):
 *
 * - a template dict holds every key whose value does not depend on the
 *   request (wsgi.*); each environ starts as a copy of
 *   it, which CPython makes with one memcpy of the key table, sized for the
 *   request variables that follow, so no resize either;
 * - each variable name seen is kept as an interned str (its hash computed
 *   once) in a small table, with the last value seen under it: a request
 *   that sends the same "Accept: * / *" or "Host" as the one before reuses
 *   the value object (str is immutable, sharing is safe).
 *
 * The table is bounded (PYW_ENV_NAMES names, values up to
 * PYW_ENV_VALUE_MAX bytes): names past the bound, e.g. a client that sends
 * a new header name every request, are made per request as before.
 */
#define PYW_ENV_SLOTS 512          /* open addressing, a power of two */
#define PYW_ENV_NAMES 384          /* names kept at most */
#define PYW_ENV_VALUE_MAX 256      /* longest value remembered */
#define PYW_ENV_PRESIZE 40         /* keys an environ holds without resize:
                                      a 64-slot table, 42 usable */
#define PYW_SHADOW_VARS 64         /* request variables a shadow follows */

struct env_name {
    PyObject *key;          /* interned str, NULL: a free slot */
    PyObject *val;          /* the value last seen under it, or NULL */
    uint32_t hash;
    int server;             /* the server sets it: a request variable of
                               this name is not passed on */
};

static struct {
    struct env_name slot[PYW_ENV_SLOTS];
    unsigned used;
    PyObject *tmpl;         /* the constant part of every environ */
    /* names the builder looks for */
    struct env_name *https, *uwsgi_scheme;
    PyObject *k_scheme, *k_input, *k_errors, *k_core, *k_ready_fd,
             *k_timeout, *v_https, *s_close;
} env;



static PyObject *
latin1(const char *s, size_t n)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
}

/* a == b for n bytes; inline, as most names and values are short */
static inline int
bytes_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    while (n >= 8) {
        uint64_t u, v;
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);
        if (u != v) {
            return 0;
        }
        x += 8;
        y += 8;
        n -= 8;
    }
    while (n > 0) {
        if (*x++ != *y++) {
            return 0;
        }
        n--;
    }
    return 1;
}

/* s (a str of one byte per character) holds exactly the n bytes b */
static inline int
str_is(PyObject *s, const char *b, size_t n)
{
    return (size_t)PyUnicode_GET_LENGTH(s) == n &&
           bytes_eq(PyUnicode_DATA(s), b, n);
}

static uint32_t
env_hash(const char *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n;   /* 8 bytes a step, mixed */

    while (n >= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
        k += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, k, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
        h ^= h >> 29;
    }
    return (uint32_t)h;
}

/* The table's entry for name k, made on first sight; NULL when the table
 * is full (or out of memory: then the caller makes the name itself and
 * meets the error again there). */
static struct env_name *
env_name(const char *k, size_t n)
{
    uint32_t h = env_hash(k, n);
    unsigned i = h & (PYW_ENV_SLOTS - 1);

    for (unsigned probe = 0; probe < PYW_ENV_SLOTS; probe++) {
        struct env_name *e = &env.slot[i];

        if (e->key == NULL) {
            if (env.used >= PYW_ENV_NAMES) {
                return NULL;
            }
            PyObject *key = latin1(k, n);
            if (key == NULL) {
                PyErr_Clear();
                return NULL;
            }
            PyUnicode_InternInPlace(&key);
            if (PyObject_Hash(key) == -1) {
                PyErr_Clear();
                Py_DECREF(key);
                return NULL;
            }
            e->key = key;
            e->hash = h;
            env.used++;
            return e;
        }
        if (e->hash == h && str_is(e->key, k, n)) {
            return e;
        }
        i = (i + 1) & (PYW_ENV_SLOTS - 1);
    }
    return NULL;
}

/* The value v as a str: the one last seen under name e when the bytes
 * are the same. New reference, or NULL with an exception. Decoded latin-1
 * (PEP 3333), so a remembered value is always one byte per character. */
static PyObject *
env_value(struct env_name *e, const char *v, size_t n)
{
    PyObject *o = e != NULL ? e->val : NULL;

    if (o != NULL && str_is(o, v, n)) {
        return Py_NewRef(o);
    }
    o = latin1(v, n);
    if (o != NULL && e != NULL && n <= PYW_ENV_VALUE_MAX) {
        Py_XSETREF(e->val, Py_NewRef(o));
    }
    return o;
}

/* environ[name] = value (bytes), through the table. 0 or -1. */
static int
env_set(PyObject *d, struct env_name *e, const char *name, size_t nl,
        const char *v, size_t vl)
{
    PyObject *k = e != NULL ? Py_NewRef(e->key) : latin1(name, nl);
    PyObject *val = k != NULL ? env_value(e, v, vl) : NULL;
    int rc = val != NULL ? PyDict_SetItem(d, k, val) : -1;

    Py_XDECREF(k);
    Py_XDECREF(val);
    return rc;
}

/*
 * The shadow: the previous request's environ (template, variables, what
 * was derived from them), kept by the worker and never given out. When the
 * next request has the same variable names in the same order (a keep-alive
 * client, a front end that always sends the same set), its environ is a
 * copy of the shadow with only the values that differ set again: one
 * memcpy of a table instead of an insertion per variable.
 */
static struct {
    PyObject *dict;             /* NULL: none yet (or dropped) */
    unsigned n;
    struct {
        struct env_name *e;
        PyObject *val;          /* borrowed: the shadow dict holds it */
    } pos[PYW_SHADOW_VARS];
} shadow;

/* A server-owned name: in the table, marked, and (val != NULL) set in d.
 * Returns the interned name (borrowed: the table keeps it), or NULL with
 * an exception. */
static PyObject *
env_fixed(PyObject *d, const char *name, PyObject *val)
{
    struct env_name *e = env_name(name, strlen(name));

    if (e == NULL) {
        return PyErr_NoMemory();
    }
    e->server = 1;
    if (val != NULL && PyDict_SetItem(d, e->key, val) < 0) {
        return NULL;
    }
    return e->key;
}

/* The template and the fixed names, once per worker. 0, or -1 with an
 * exception. */
static int
env_init(void)
{
    PyObject *d = NULL, *http = NULL;

    if ((env.v_https = PyUnicode_InternFromString("https")) == NULL ||
        (env.s_close = PyUnicode_InternFromString("close")) == NULL ||
        (http = PyUnicode_InternFromString("http")) == NULL) {
        goto fail;
    }
    env.https = env_name("HTTPS", 5);
    env.uwsgi_scheme = env_name("UWSGI_SCHEME", 12);
    if (env.https == NULL || env.uwsgi_scheme == NULL) {
        PyErr_NoMemory();
        goto fail;
    }

    /* Presized: a copy keeps the template's table size. */
    d = _PyDict_NewPresized(PYW_ENV_PRESIZE);
    if (d == NULL) {
        goto fail;
    }
    /* Server-owned names, set after the request's variables before this
     * table existed: a variable of the same name never reached the app. */
    if ((env.k_scheme = env_fixed(d, "wsgi.url_scheme", http)) == NULL ||
        env_fixed(d, "wsgi.version", pyw.version_tuple) == NULL ||
        env_fixed(d, "wsgi.multithread", Py_False) == NULL ||
        env_fixed(d, "wsgi.multiprocess", Py_True) == NULL ||
        env_fixed(d, "wsgi.run_once", Py_False) == NULL ||
        env_fixed(d, "wsgi.input_terminated", Py_True) == NULL ||
        env_fixed(d, "wsgi.file_wrapper",
                  (PyObject *)&pyw_file_wrapper_type) == NULL ||
        (env.k_input = env_fixed(d, "wsgi.input", NULL)) == NULL ||
        (env.k_errors = env_fixed(d, "wsgi.errors", NULL)) == NULL) {
        goto fail;
    }
    if (pyw.async_extras &&
        (env_fixed(d, "x-wsgiorg.fdevent.readable", pyw.fd_readable) == NULL ||
         env_fixed(d, "x-wsgiorg.fdevent.writable", pyw.fd_writable) == NULL ||
         (env.k_timeout = env_fixed(d, "x-wsgiorg.fdevent.timeout",
                                    Py_None)) == NULL ||
         (env.k_ready_fd = env_fixed(d, "uwsgi.ready_fd", Py_None)) == NULL ||
         (env.k_core = env_fixed(d, "uwsgi.core", NULL)) == NULL)) {
        goto fail;
    }
    Py_DECREF(http);
    env.tmpl = d;
    return 0;

fail:
    Py_XDECREF(d);
    Py_XDECREF(http);
    return -1;
}

/* Drop what env_init and the builder kept (before the interpreter ends). */
void
pyw_environ_fini(void)
{
    for (unsigned i = 0; i < PYW_ENV_SLOTS; i++) {
        Py_CLEAR(env.slot[i].key);
        Py_CLEAR(env.slot[i].val);
    }
    env.used = 0;
    Py_CLEAR(shadow.dict);
    Py_CLEAR(env.tmpl);
    env.k_scheme = env.k_input = env.k_errors = env.k_core = NULL;
    env.k_ready_fd = env.k_timeout = NULL;
    env.https = env.uwsgi_scheme = NULL;
    Py_CLEAR(env.v_https);
    Py_CLEAR(env.s_close);
}

/* The interned "close", for py_finish. Borrowed; NULL before the first
 * environ. */
PyObject *
pyw_str_close(void)
{
    return env.s_close;
}

static int
is_on(const char *v, size_t n)
{
    return v != NULL && ((n == 2 && strncasecmp(v, "on", 2) == 0) ||
                         (n == 1 && v[0] == '1') ||
                         (n == 5 && strncasecmp(v, "https", 5) == 0));
}

/* The shadow from the environ d just built for vars v[0..n): d without
 * the per-request keys (wsgi.input, wsgi.errors, uwsgi.core: not set yet).
 * Without a shadow when a name is not in the table or there are too many.
 * Never fails: without memory there is just no shadow. */
static void
shadow_take(PyObject *d, const struct wf_var *v, unsigned n)
{
    Py_CLEAR(shadow.dict);
    if (n > PYW_SHADOW_VARS) {
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct env_name *e = env_name(v[i].key, v[i].klen);
        if (e == NULL) {
            return;
        }
        shadow.pos[i].e = e;
        shadow.pos[i].val = e->server ? NULL : PyDict_GetItemWithError(d,
                                                                 e->key);
        if (!e->server && shadow.pos[i].val == NULL) {
            PyErr_Clear();
            return;     /* a name twice, with one value: not followed */
        }
    }
    shadow.dict = PyDict_Copy(d);
    if (shadow.dict == NULL) {
        PyErr_Clear();
        return;
    }
    /* the values it holds are the ones pos[] borrowed from d */
    shadow.n = n;
}

/* The environ of vars v[0..n) as a copy of the shadow, or NULL (no
 * exception) when the shadow does not fit: other names, or a name the
 * builder derives something from (HTTPS, UWSGI_SCHEME) with a new
 * value. NULL with an exception on failure. */
static PyObject *
shadow_environ(const struct wf_var *v, unsigned n)
{
    uint64_t differ = 0;
    PyObject *d;

    if (shadow.dict == NULL || n != shadow.n) {
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct env_name *e = shadow.pos[i].e;

        if (!str_is(e->key, v[i].key, v[i].klen)) {
            return NULL;
        }
        if (e->server || str_is(shadow.pos[i].val, v[i].val, v[i].vlen)) {
            continue;
        }
        if (e == env.https || e == env.uwsgi_scheme) {
            return NULL;
        }
        differ |= (uint64_t)1 << i;
    }
    d = PyDict_Copy(shadow.dict);
    for (unsigned i = 0; d != NULL && differ != 0; i++, differ >>= 1) {
        if ((differ & 1) && env_set(d, shadow.pos[i].e, NULL, 0, v[i].val,
                                    v[i].vlen) < 0) {
            Py_CLEAR(d);
        }
    }
    if (d == NULL && !PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    return d;
}

/* The environ of vars v[0..n) from the template, as it always is. */
static PyObject *
environ_build(const struct wf_var *v, unsigned n)
{
    PyObject *d = PyDict_Copy(env.tmpl);
    int https = 0;

    if (d == NULL) {
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct env_name *e = env_name(v[i].key, v[i].klen);

        if (e != NULL && e->server) {
            continue;
        }
        if (env_set(d, e, v[i].key, v[i].klen, v[i].val, v[i].vlen) < 0) {
            goto fail;
        }
        if (e == NULL) {
            continue;
        }
        if (e == env.https) {
            https |= is_on(v[i].val, v[i].vlen);
        } else if (e == env.uwsgi_scheme) {
            https |= v[i].vlen == 5 &&
                     strncasecmp(v[i].val, "https", 5) == 0;
        }
    }

    /* SERVER_NAME, SERVER_PORT and the PEP's other required keys are
     * among the variables: the core gives the ones the protocol did not
     * (core/policy.c, wf__cgi_defaults). */
    if (https && PyDict_SetItem(d, env.k_scheme, env.v_https) < 0) {
        goto fail;
    }
    return d;

fail:
    Py_DECREF(d);
    return NULL;
}

/*
 * A new environ for the core's request: every request variable (values
 * decoded latin-1, PEP 3333), the PEP's mandatory keys, wsgi.*, and the
 * async extras. New reference, or NULL with an exception.
 */
PyObject *
pyw_environ_new(struct pyw_core *pc)
{
    struct wf_core *c = pc->core;
    unsigned n = 0;
    const struct wf_var *v = wf_req_vars(c, &n);
    PyObject *d, *o;

    if (env.tmpl == NULL && env_init() < 0) {
        return NULL;
    }
    d = shadow_environ(v, n);
    if (d == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        d = environ_build(v, n);
        if (d == NULL) {
            return NULL;
        }
        shadow_take(d, v, n);
    }
    o = pyw_input_new(pc);
    if (o == NULL || PyDict_SetItem(d, env.k_input, o) < 0) {
        Py_XDECREF(o);
        goto fail;
    }
    Py_DECREF(o);
    if (PyDict_SetItem(d, env.k_errors, pc->errors) < 0) {
        goto fail;
    }
    if (pyw.async_extras) {
        if (pc->id_obj == NULL &&
            (pc->id_obj = PyLong_FromUnsignedLong(c->id)) == NULL) {
            goto fail;
        }
        if (PyDict_SetItem(d, env.k_core, pc->id_obj) < 0) {
            goto fail;
        }
    }
    return d;

fail:
    Py_DECREF(d);
    return NULL;
}

/*
 * Generator re-entry (docs/langs/python.md, "The `uwsgi` module"): tell the app why it woke up, in
 * environ['uwsgi.ready_fd'] and environ['x-wsgiorg.fdevent.timeout'], then
 * forget it (so uwsgi.ready_fd() says -1 afterwards, as in uWSGI).
 */
void
pyw_environ_reentry(struct pyw_core *pc)
{
    struct wf_core *c = pc->core;
    int fd = wf_ready_fd(c);
    int to = wf_timed_out(c);

    if (pyw.async_extras && pc->environ != NULL && env.tmpl != NULL) {
        PyObject *o = fd >= 0 ? PyLong_FromLong(fd) : Py_NewRef(Py_None);
        if (o == NULL || PyDict_SetItem(pc->environ, env.k_ready_fd, o) < 0 ||
            PyDict_SetItem(pc->environ, env.k_timeout,
                           to ? Py_True : Py_None) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(o);
    }
    wf_clear_ready(c);
}

/* ---------------------------------------------------------- the head */

/*
 * The latin-1 bytes of str s, without a copy: a str whose characters all
 * fit in latin-1 keeps them one byte each (PEP 393). NULL with a
 * ValueError when s holds a character past U+00FF.
 */
static const char *
latin1_data(PyObject *s, Py_ssize_t *n, const char *what)
{
    if (PyUnicode_READY(s) < 0) {
        return NULL;
    }
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError,
                     "start_response: %s %R is not latin-1 (PEP 3333: "
                     "encode other text yourself, e.g. RFC 2047)", what, s);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(s);
    return PyUnicode_DATA(s);
}

/* The status, checked: "NNN reason". New reference to the str, or NULL +
 * exception. */
static PyObject *
check_status(PyObject *status)
{
    const char *s;
    Py_ssize_t n;
    int v;

    if (!PyUnicode_Check(status)) {
        return PyErr_Format(PyExc_TypeError,
                            "start_response: status must be a str like "
                            "'200 OK', not %.100s", Py_TYPE(status)->tp_name);
    }
    s = latin1_data(status, &n, "status");
    if (s == NULL) {
        return NULL;
    }
    /* the core's verdict (one table for every language) */
    v = wf_http_status_check(s, (size_t)n);
    if (v != WF_HTTP_OK) {
        return PyErr_Format(PyExc_ValueError,
                            "start_response: bad status %R: %s", status,
                            wf_http_verdict_text(v));
    }
    return Py_NewRef(status);
}

/* Raise ValueError for header `name` from the core's verdict v. */
static void
pyw_header_error(PyObject *name, int v)
{
    PyErr_Format(PyExc_ValueError, WF_HTTP_VERDICT_ON_NAME(v) ?
                 "start_response: header name %R %s" :
                 WF_HTTP_VERDICT_ON_VALUE(v) ?
                 "start_response: value of header %R %s" :
                 "start_response: header %R: %s", name,
                 wf_http_verdict_text(v));
}

/* The headers, checked: a tuple of (str name, str value) tuples, the
 * strs latin-1 (one byte per character). The app's own tuples and strs
 * are kept (immutable); a list pair is copied into a tuple. */
static PyObject *
check_headers(PyObject *headers)
{
    PyObject *out, *seq;
    Py_ssize_t count;

    if (!PyList_Check(headers) && !PyTuple_Check(headers)) {
        return PyErr_Format(PyExc_TypeError,
                            "start_response: headers must be a list of "
                            "(name, value) tuples, not %.100s",
                            Py_TYPE(headers)->tp_name);
    }
    seq = PySequence_Fast(headers, "headers");
    if (seq == NULL) {
        return NULL;
    }
    count = PySequence_Fast_GET_SIZE(seq);
    out = PyTuple_New(count);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *h = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *name, *val, *t;
        const char *ns, *vs;
        Py_ssize_t nl, vl;

        if (!(PyTuple_Check(h) || PyList_Check(h)) ||
            PySequence_Fast_GET_SIZE(h) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "start_response: header %zd must be a "
                         "(name, value) tuple, not %R", i, h);
            goto fail;
        }
        name = PySequence_Fast_GET_ITEM(h, 0);
        val = PySequence_Fast_GET_ITEM(h, 1);
        if (!PyUnicode_Check(name) || !PyUnicode_Check(val)) {
            PyErr_Format(PyExc_TypeError,
                         "start_response: header %R: name and value must "
                         "be str (PEP 3333 native strings), not %.50s and "
                         "%.50s", h, Py_TYPE(name)->tp_name,
                         Py_TYPE(val)->tp_name);
            goto fail;
        }
        ns = latin1_data(name, &nl, "header name");
        vs = ns != NULL ? latin1_data(val, &vl, "header value") : NULL;
        if (vs == NULL) {
            goto fail;
        }
        /* the core's verdict (one table for every language) */
        int v = wf_http_header_check(ns, (size_t)nl, vs, (size_t)vl);
        if (v != WF_HTTP_OK) {
            pyw_header_error(name, v);
            goto fail;
        }
        t = PyTuple_CheckExact(h) ? Py_NewRef(h) : PyTuple_Pack(2, name, val);
        if (t == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(out, i, t);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/*
 * Hand the status and headers to the core (it sends them with the first
 * body bytes). known_len >= 0: the whole body length, used for a
 * Content-Length when the app gave none. Returns 0, or -1 with a Python
 * exception.
 */
int
pyw_head_push(struct pyw_core *pc, long long known_len)
{
    struct wf_core *c = pc->core;
    int rc;

    if (pc->head_pushed) {
        return 0;
    }
    if (!pc->sr_called) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the app did not call start_response() before its "
                        "first body bytes (or before returning)");
        return -1;
    }
    /* check_status and check_headers made sure: one byte per character */
    rc = wf_response_status(c, PyUnicode_DATA(pc->status),
                            (size_t)PyUnicode_GET_LENGTH(pc->status));
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError, "status %R refused by the server: %s",
                     pc->status, rc == -EINVAL ?
                     wf_http_verdict_text(wf_response_refusal(c)) :
                     strerror(-rc));
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pc->headers); i++) {
        PyObject *t = PyTuple_GET_ITEM(pc->headers, i);
        PyObject *n = PyTuple_GET_ITEM(t, 0), *v = PyTuple_GET_ITEM(t, 1);
        rc = wf_response_header(c, PyUnicode_DATA(n),
                                (size_t)PyUnicode_GET_LENGTH(n),
                                PyUnicode_DATA(v),
                                (size_t)PyUnicode_GET_LENGTH(v));
        if (rc < 0) {
            wf_response_reset(c);
            PyErr_Format(PyExc_ValueError,
                         "header %R refused by the server: %s", t,
                         rc == -EINVAL ?
                         wf_http_verdict_text(wf_response_refusal(c)) :
                         strerror(-rc));
            return -1;
        }
    }
    if (known_len >= 0) {
        /* the whole body is known: the core frames it (unless the app
         * gave its own Content-Length) */
        wf_response_length(c, (uint64_t)known_len);
    }
    pc->head_pushed = 1;
    return 0;
}

/* ------------------------------------------------- start_response, write */

/*
 * start_response and write are bound to a core and a request generation:
 * called after their request ended they raise. They take the vectorcall
 * protocol (no argument tuple per call), and a core reuses its pair for
 * the next request when nobody else kept a reference (pyw_bound_done).
 */
struct pyw_bound {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    struct pyw_core *pc;
    uint64_t gen;
};

static struct pyw_core *
bound_core(PyObject *self, const char *what)
{
    struct pyw_bound *b = (struct pyw_bound *)self;

    if (b->pc->gen != b->gen || b->pc->phase == PYW_IDLE) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s called after its request ended", what);
        return NULL;
    }
    return b->pc;
}

/* Vectorcall arguments into out[0..n) by position or by name; out[i] left
 * as it was when not given. 0, or -1 with a TypeError. */
static int
bound_args(const char *fn, const char *const *names, int n, int required,
           PyObject *const *args, size_t nargsf, PyObject *kwnames,
           PyObject **out)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    unsigned given = 0;

    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments "
                     "(%zd given)", fn, n, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        out[i] = args[i];
        given |= 1u << i;
    }
    for (Py_ssize_t j = 0; kwnames != NULL &&
                           j < PyTuple_GET_SIZE(kwnames); j++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, j);
        int i = 0;

        while (i < n && PyUnicode_CompareWithASCIIString(k, names[i]) != 0) {
            i++;
        }
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword "
                         "argument %R", fn, k);
            return -1;
        }
        if (given & (1u << i)) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for "
                         "argument '%s'", fn, names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
        given |= 1u << i;
    }
    for (int i = 0; i < required; i++) {
        if (!(given & (1u << i))) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument "
                         "'%s' (pos %d)", fn, names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

static PyObject *
sr_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
              PyObject *kwnames)
{
    static const char *const names[] = { "status", "headers", "exc_info" };
    PyObject *a[3] = { NULL, NULL, Py_None };
    PyObject *status, *headers, *exc_info, *st, *hd;
    struct pyw_core *pc = bound_core(self, "start_response()");

    if (pc == NULL || bound_args("start_response", names, 3, 2, args, nargsf,
                                 kwnames, a) < 0) {
        return NULL;
    }
    status = a[0];
    headers = a[1];
    exc_info = a[2];
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            return PyErr_Format(PyExc_TypeError,
                                "start_response: exc_info must be the "
                                "sys.exc_info() tuple, not %R", exc_info);
        }
        if (pc->wrote || wf_response_started(pc->core)) {
            /* Too late to change the response: re-raise (PEP 3333). The
             * core may still hold the bytes in its buffer, but they are
             * the app's body: a new status cannot go with them. */
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0);
            PyObject *v = PyTuple_GET_ITEM(exc_info, 1);
            PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(t);
            Py_INCREF(v);
            Py_XINCREF(tb == Py_None ? NULL : tb);
            PyErr_Restore(t, v, tb == Py_None ? NULL : tb);
            return NULL;
        }
    } else if (pc->sr_called) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response() called twice without exc_info "
                        "(PEP 3333)");
        return NULL;
    }
    st = check_status(status);
    if (st == NULL) {
        return NULL;
    }
    hd = check_headers(headers);
    if (hd == NULL) {
        Py_DECREF(st);
        return NULL;
    }
    if (pc->head_pushed) {
        /* exc_info before anything went out: replace what we gave. */
        wf_response_reset(pc->core);
        pc->head_pushed = 0;
    }
    Py_XSETREF(pc->status, st);
    Py_XSETREF(pc->headers, hd);
    pc->sr_called = 1;
    return Py_NewRef(pc->write);
}

static PyObject *
write_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                 PyObject *kwnames)
{
    struct pyw_core *pc = bound_core(self, "write()");
    Py_buffer buf;
    ssize_t rc;

    if (pc == NULL) {
        return NULL;
    }
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_SetString(PyExc_TypeError, "write() takes no keyword "
                        "arguments");
        return NULL;
    }
    if (PyVectorcall_NARGS(nargsf) != 1) {
        PyErr_Format(PyExc_TypeError, "write() takes exactly one argument "
                     "(%zd given)", PyVectorcall_NARGS(nargsf));
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "write() argument must be "
                     "bytes-like, not %.100s", Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    if (!pc->sr_called) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_RuntimeError,
                        "write() called before start_response()");
        return NULL;
    }
    if (buf.len == 0) {
        PyBuffer_Release(&buf);
        Py_RETURN_NONE;
    }
    if (pyw_head_push(pc, -1) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    pc->wrote = 1;
    rc = wf_write(pc->core, buf.buf, (size_t)buf.len);
    PyBuffer_Release(&buf);
    if (rc < 0) {
        pc->client_gone = (int)-rc;
        errno = (int)-rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static void
bound_dealloc(PyObject *self)
{
    PyObject_Free(self);
}

static PyTypeObject sr_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uwsgi.start_response",
    .tp_basicsize = sizeof(struct pyw_bound),
    .tp_dealloc = bound_dealloc,
    .tp_vectorcall_offset = offsetof(struct pyw_bound, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "start_response(status, headers, exc_info=None) -> write",
};

static PyTypeObject write_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uwsgi.write",
    .tp_basicsize = sizeof(struct pyw_bound),
    .tp_dealloc = bound_dealloc,
    .tp_vectorcall_offset = offsetof(struct pyw_bound, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "write(data): send body bytes now (PEP 3333)",
};

/* *spare (kept from an earlier request) rebound to pc's request, or a new
 * one. New reference, or NULL with an exception. */
static PyObject *
bound_new(PyTypeObject *type, vectorcallfunc fn, struct pyw_core *pc,
          PyObject **spare)
{
    struct pyw_bound *b = (struct pyw_bound *)*spare;

    *spare = NULL;
    if (b == NULL) {
        b = PyObject_New(struct pyw_bound, type);
        if (b == NULL) {
            return NULL;
        }
        b->vectorcall = fn;
        b->pc = pc;
    }
    b->gen = pc->gen;
    return (PyObject *)b;
}

PyObject *
pyw_start_response_new(struct pyw_core *pc)
{
    return bound_new(&sr_type, sr_vectorcall, pc, &pc->sr_spare);
}

PyObject *
pyw_write_new(struct pyw_core *pc)
{
    return bound_new(&write_type, write_vectorcall, pc, &pc->write_spare);
}

/*
 * The request of pc ends: drop its start_response and write, keeping each
 * for the next request when pc holds the only reference (then nobody can
 * call it with a stale generation). Touches reference counts only.
 */
void
pyw_bound_done(struct pyw_core *pc)
{
    if (pc->start_response != NULL && Py_REFCNT(pc->start_response) == 1 &&
        pc->sr_spare == NULL) {
        pc->sr_spare = pc->start_response;
        pc->start_response = NULL;
    }
    if (pc->write != NULL && Py_REFCNT(pc->write) == 1 &&
        pc->write_spare == NULL) {
        pc->write_spare = pc->write;
        pc->write = NULL;
    }
    Py_CLEAR(pc->start_response);
    Py_CLEAR(pc->write);
}

/* ------------------------------------------------------------ errors */

/* wsgi.errors: text lines to the log. A partial line waits for its end
 * (or flush()). */
struct pyw_errors {
    PyObject_HEAD
    PyObject *pending;      /* str or NULL */
};

static void
errors_emit(const char *s, Py_ssize_t n)
{
    wf_log(WF_LOG_INFO, "%.*s", (int)n, s);
}

static PyObject *
errors_write(PyObject *self, PyObject *arg)
{
    struct pyw_errors *e = (struct pyw_errors *)self;
    PyObject *all;
    const char *s, *nl;
    Py_ssize_t n;

    if (!PyUnicode_Check(arg)) {
        return PyErr_Format(PyExc_TypeError,
                            "wsgi.errors.write() wants str, not %.100s",
                            Py_TYPE(arg)->tp_name);
    }
    if (e->pending != NULL) {
        all = PyUnicode_Concat(e->pending, arg);
        Py_CLEAR(e->pending);
        if (all == NULL) {
            return NULL;
        }
    } else {
        all = Py_NewRef(arg);
    }
    s = PyUnicode_AsUTF8AndSize(all, &n);
    if (s == NULL) {
        Py_DECREF(all);
        return NULL;
    }
    while ((nl = memchr(s, '\n', (size_t)n)) != NULL) {
        errors_emit(s, nl - s);
        n -= nl + 1 - s;
        s = nl + 1;
    }
    if (n > 0) {
        e->pending = PyUnicode_FromStringAndSize(s, n);
    }
    Py_DECREF(all);
    if (n > 0 && e->pending == NULL) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
errors_flush(PyObject *self, PyObject *unused)
{
    struct pyw_errors *e = (struct pyw_errors *)self;

    if (e->pending != NULL) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(e->pending, &n);
        if (s != NULL) {
            errors_emit(s, n);
        } else {
            PyErr_Clear();
        }
        Py_CLEAR(e->pending);
    }
    Py_RETURN_NONE;
}

static PyObject *
errors_writelines(PyObject *self, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq), *item;

    if (it == NULL) {
        return NULL;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *r = errors_write(self, item);
        Py_DECREF(item);
        if (r == NULL) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void
errors_dealloc(PyObject *self)
{
    Py_XDECREF(((struct pyw_errors *)self)->pending);
    PyObject_Free(self);
}

static PyMethodDef errors_methods[] = {
    { "write", errors_write, METH_O, "write(str): to the server log" },
    { "writelines", errors_writelines, METH_O, "writelines(seq)" },
    { "flush", errors_flush, METH_NOARGS, "log a pending partial line" },
    { NULL }
};

static PyTypeObject errors_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uwsgi.errors",
    .tp_basicsize = sizeof(struct pyw_errors),
    .tp_dealloc = errors_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = errors_methods,
    .tp_doc = "wsgi.errors: writes go to the weft log",
};

PyObject *
pyw_errors_new(void)
{
    struct pyw_errors *e = PyObject_New(struct pyw_errors, &errors_type);

    if (e != NULL) {
        e->pending = NULL;
    }
    return (PyObject *)e;
}

void
pyw_errors_flush(PyObject *errors)
{
    PyObject *r = errors_flush(errors, NULL);
    Py_XDECREF(r);
}

/* ------------------------------------------------------- file_wrapper */

struct pyw_fw {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
};

static int
fw_init(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "filelike", "blksize", NULL };
    struct pyw_fw *fw = (struct pyw_fw *)self;
    PyObject *f;
    Py_ssize_t blk = 8192;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist,
                                     &f, &blk)) {
        return -1;
    }
    if (blk <= 0) {
        PyErr_SetString(PyExc_ValueError, "file_wrapper: blksize must be > 0");
        return -1;
    }
    Py_XSETREF(fw->filelike, Py_NewRef(f));
    fw->blksize = blk;
    return 0;
}

static PyObject *
fw_next(PyObject *self)
{
    struct pyw_fw *fw = (struct pyw_fw *)self;
    PyObject *data;

    if (fw->filelike == NULL) {
        return NULL;
    }
    data = PyObject_CallMethod(fw->filelike, "read", "n", fw->blksize);
    if (data == NULL) {
        return NULL;
    }
    if ((PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) ||
        (PyUnicode_Check(data) && PyUnicode_GET_LENGTH(data) == 0)) {
        Py_DECREF(data);
        return NULL;    /* StopIteration */
    }
    return data;
}

static PyObject *
fw_close(PyObject *self, PyObject *unused)
{
    struct pyw_fw *fw = (struct pyw_fw *)self;

    if (fw->filelike != NULL && PyObject_HasAttrString(fw->filelike, "close")) {
        return PyObject_CallMethod(fw->filelike, "close", NULL);
    }
    Py_RETURN_NONE;
}

static int
fw_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((struct pyw_fw *)self)->filelike);
    return 0;
}

static int
fw_clear(PyObject *self)
{
    Py_CLEAR(((struct pyw_fw *)self)->filelike);
    return 0;
}

static void
fw_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    fw_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef fw_methods[] = {
    { "close", fw_close, METH_NOARGS, "close the file" },
    { NULL }
};

static PyMemberDef fw_members[] = {
    { "filelike", T_OBJECT, offsetof(struct pyw_fw, filelike), READONLY, NULL },
    { "blksize", T_PYSSIZET, offsetof(struct pyw_fw, blksize), READONLY, NULL },
    { NULL }
};

PyTypeObject pyw_file_wrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uwsgi.file_wrapper",
    .tp_basicsize = sizeof(struct pyw_fw),
    .tp_dealloc = fw_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
                Py_TPFLAGS_BASETYPE,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192): a file to send "
              "with sendfile() when it has a fileno(), else read blksize "
              "at a time",
    .tp_traverse = fw_traverse,
    .tp_clear = fw_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = fw_next,
    .tp_methods = fw_methods,
    .tp_members = fw_members,
    .tp_init = fw_init,
    .tp_new = PyType_GenericNew,
};

int
pyw_is_file_wrapper(PyObject *o)
{
    return PyObject_TypeCheck(o, &pyw_file_wrapper_type);
}

PyObject *
pyw_file_wrapper_filelike(PyObject *o)
{
    return ((struct pyw_fw *)o)->filelike;
}

int
pyw_wsgi_types_init(void)
{
    if (PyType_Ready(&sr_type) < 0 || PyType_Ready(&write_type) < 0 ||
        PyType_Ready(&errors_type) < 0 ||
        PyType_Ready(&pyw_file_wrapper_type) < 0) {
        return -1;
    }
    return 0;
}
