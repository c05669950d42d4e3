/*
 * CPython exceptions into weft's log (see py_errors.h). Compiled into each
 * plugin that runs Python code: python, greenlet, gevent.
 */
#include "py_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* traceback.format_exception, imported once (per plugin copy). */
static PyObject *fmt_exc;

/* See py_errors.h. */
int
pyw_errors_init(void)
{
    PyObject *tb;

    if (fmt_exc != NULL) {
        return 0;
    }
    tb = PyImport_ImportModule("traceback");
    if (tb != NULL) {
        fmt_exc = PyObject_GetAttrString(tb, "format_exception");
        Py_DECREF(tb);
    }
    PyErr_Clear();
    return fmt_exc != NULL ? 0 : -1;
}

/* See py_errors.h. */
const char *
pyw_exc_line(char *buf, size_t len)
{
    PyObject *type, *value, *tb, *s = NULL;
    const char *msg = NULL;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && (s = PyObject_Str(value)) != NULL) {
        msg = PyUnicode_AsUTF8(s);
    }
    snprintf(buf, len, "%s%s%s",
             type && PyType_Check(type) ? ((PyTypeObject *)type)->tp_name
                                        : "unknown error",
             msg && *msg ? ": " : "", msg ? msg : "");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return buf;
}

/* See py_errors.h. */
int
pyw_exc_summary(char *buf, size_t len)
{
    PyObject *type, *value, *tb, *s = NULL;
    const char *name = "Exception", *msg = "";
    int n;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (type != NULL && PyType_Check(type)) {
        const char *dot;

        name = ((PyTypeObject *)type)->tp_name;
        dot = strrchr(name, '.');
        if (dot != NULL) {
            name = dot + 1;
        }
    }
    if (value != NULL) {
        s = PyObject_Str(value);
        if (s == NULL) {
            PyErr_Clear();
        } else {
            msg = PyUnicode_AsUTF8(s);
            if (msg == NULL) {
                PyErr_Clear();
                msg = "";
            }
        }
    }
    n = snprintf(buf, len, *msg ? "%s: %s" : "%s%s", name, msg);
    Py_XDECREF(s);
    PyErr_Restore(type, value, tb);
    return n;
}

/* See py_errors.h. */
void
pyw_log_exc(enum wf_log_level lvl, const char *fmt, ...)
{
    PyObject *type, *value, *tb, *lines = NULL;
    char head[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    wf_log(lvl, "%s", head);

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    if (pyw_errors_init() == 0) {
        lines = PyObject_CallFunctionObjArgs(fmt_exc, type,
                                             value ? value : Py_None,
                                             tb ? tb : Py_None, NULL);
    }
    if (lines != NULL && PyList_Check(lines)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
            const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));

            if (s == NULL) {
                PyErr_Clear();
                continue;
            }
            /* an item may hold several lines (source excerpt + caret) */
            while (*s) {
                const char *nl = strchr(s, '\n');
                int n = nl ? (int)(nl - s) : (int)strlen(s);

                wf_log(lvl, "%.*s", n, s);
                s += n + (nl != NULL);
            }
        }
    } else {
        char sum[512];

        PyErr_Clear();
        PyErr_Restore(type, value, tb);
        type = value = tb = NULL;
        pyw_exc_summary(sum, sizeof(sum));
        PyErr_Clear();
        wf_log(lvl, "%s (traceback unavailable)", sum);
    }
    Py_XDECREF(lines);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}
