/*
 * Logging. Every line goes to the error log (stderr, or --logto) prefixed with
 * the level when it is not "info". Levels alert and bug mean that a developer
 * must look; the integration tests fail when they appear in a log.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <weft/abi.h>

#include <stdlib.h>

enum wf_log_level {
    WF_LOG_DEBUG = 0,
    WF_LOG_INFO,
    WF_LOG_WARN,
    WF_LOG_ERROR,
    WF_LOG_ALERT,
    WF_LOG_BUG,
};

/*
 * Write one line (a trailing newline is added when missing). Safe from any
 * context of a worker or the master; not async-signal-safe.
 */
WF_API void wf_log(enum wf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failed system call, logged once where it failed, with its arguments:
 * wf_log_errno("epoll_ctl(MOD, fd %d)", fd) appends ": <strerror(errno)>". */
WF_API void wf_log_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A broken invariant: log at level bug with the place, then abort(). */
#define WF_BUG(...)                                                         \
    do {                                                                    \
        wf_log(WF_LOG_BUG, "BUG at %s:%d: ", __FILE__, __LINE__);           \
        wf_log(WF_LOG_BUG, __VA_ARGS__);                                    \
        abort();                                                            \
    } while (0)

#endif
