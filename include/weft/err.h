/*
 * Set-up errors: functions that can fail at start-up return 0 or -1 and fill a
 * struct wf_err that the caller owns. The message is one line in the form
 * "subject: problem; fix" and is printed as "weft: <msg>" by main().
 */
#ifndef WEFT_ERR_H
#define WEFT_ERR_H

#include <weft/abi.h>

#include <stdarg.h>

struct wf_err {
    char msg[512];
};

/*
 * Fill err with a printf-style message and return -1, so that set-up code can
 * write `return wf_err_set(err, "...", ...);`. err may be NULL (the message is
 * then dropped). Callable from any context.
 */
WF_API int wf_err_set(struct wf_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
