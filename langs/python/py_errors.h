/*
 * Python exceptions into weft's log, shared as source by the plugins that
 * run Python code (python, greenlet, gevent): each includes it and gets its
 * own static copy (a plugin never calls into another plugin). The GIL must
 * be held.
 */
#ifndef WEFT_PY_ERRORS_H
#define WEFT_PY_ERRORS_H

#include <Python.h>
#include <stdio.h>
#include <string.h>

#include <weft/log.h>

/* "Type: message" of the pending exception into buf; clears it. */
static inline const char *
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

/* Log the pending exception after `what` (one line for its type and
 * message, then the traceback lines) at `lvl`, and clear it. */
static inline void
pyw_log_exc(enum wf_log_level lvl, const char *what)
{
    PyObject *type, *value, *tb, *mod = NULL, *lines = NULL;
    char line[384];

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        wf_log(lvl, "%s (no Python exception set)", what);
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XINCREF(type);
    Py_XINCREF(value);
    Py_XINCREF(tb);
    PyErr_Restore(type, value, tb);
    wf_log(lvl, "%s: %s", what, pyw_exc_line(line, sizeof(line)));
    mod = PyImport_ImportModule("traceback");
    if (mod != NULL && tb != NULL) {
        lines = PyObject_CallMethod(mod, "format_tb", "O", tb);
    }
    if (lines != NULL && PyList_Check(lines)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
            const char *l = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));

            if (l != NULL) {
                size_t n = strlen(l);

                wf_log(lvl, "%.*s", (int)(n > 0 && l[n - 1] == '\n' ? n - 1
                                                                   : n), l);
            }
        }
    }
    PyErr_Clear();
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

#endif
