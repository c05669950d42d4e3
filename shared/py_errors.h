/*
 * CPython exceptions into weft's log: one logger for every plugin that
 * runs Python code (python, greenlet, gevent). Each compiles
 * shared/py_errors.c in and gets its own hidden copy (shared/README.md).
 * Every function needs the GIL.
 */
#ifndef WEFT_SHARED_PY_ERRORS_H
#define WEFT_SHARED_PY_ERRORS_H

#include <Python.h>
#include <stddef.h>

#include <weft/log.h>

/* Import what the logger needs (traceback.format_exception) now, while
 * importing is safe; otherwise the first logged exception does. Returns
 * 0, or -1 (the logger then logs without the traceback). Clears any
 * error. */
int pyw_errors_init(void);

/* Log a first line made of fmt at lvl, then the pending exception with
 * its traceback and causes (traceback.format_exception), line by line,
 * through wf_log (never to raw stderr). Clears the exception. Without a
 * pending exception only the first line is logged. */
void pyw_log_exc(enum wf_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "Type: message" of the pending exception into buf (the type's full
 * name); clears the exception. Returns buf. */
const char *pyw_exc_line(char *buf, size_t len);

/* "Type: message" of the pending exception into buf (the type's name
 * without its module), leaving the exception pending. Returns the length
 * snprintf gave. */
int pyw_exc_summary(char *buf, size_t len);

#endif
