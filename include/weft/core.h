/*
 * The core API: what the weft binary offers its plugins. This and the other
 * headers of include/weft/ are all a plugin may include; a plugin never
 * reaches into another plugin.
 *
 * Return conventions: hot paths return a count or -errno; set-up returns 0
 * or -1 with a struct wf_err.
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include <weft/abi.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct wf_err;

/*
 * One async core: one request in flight. The core owns everything here
 * except the two context pointers.
 */
struct wf_core {
    unsigned id;            /* 0 .. wf_ncores()-1 */
    void *engine_ctx;       /* owned by the suspend engine */
    void *lang_ctx;         /* owned by the language plugin */
};

/* A request variable (CGI names: REQUEST_METHOD, PATH_INFO, HTTP_HOST...).
 * Borrowed: valid until the request ends. Not NUL-terminated. */
struct wf_var {
    const char *key;
    const char *val;
    uint16_t klen;
    uint16_t vlen;
};

/* ------------------------------------------------------------ the worker */

WF_API const char *wf_version(void);
WF_API unsigned wf_worker_id(void);      /* 1.. in a worker; 0 in the master */
WF_API unsigned wf_ncores(void);         /* (--async, or 1) x --threads */
WF_API int wf_has_suspend_engine(void);  /* 1 when a suspend engine is active */
WF_API const char *wf_suspend_engine_name(void);  /* or NULL */

/* The core whose request is running now (on its own stack, or inside
 * handle() without an engine), or NULL in the loop. */
WF_API struct wf_core *wf_core_current(void);

/* --socket-timeout in milliseconds: how long I/O on the client may wait. */
WF_API long wf_socket_timeout_ms(void);

/* The function a suspend engine runs in a core's new context. Returns when
 * the request is over; the engine then switches back to the loop. */
WF_API void wf_core_body(struct wf_core *c);

/* ------------------------------------------------------------ request in */

/* The request's variables; *n receives the count. */
WF_API const struct wf_var *wf_req_vars(const struct wf_core *c, unsigned *n);

/* The value of one variable, or NULL; *vlen receives its length. */
WF_API const char *wf_req_get(const struct wf_core *c, const char *key,
                       size_t *vlen);

/* modifier1 of the request (0 for HTTP unless the socket says otherwise). */
WF_API unsigned wf_req_modifier1(const struct wf_core *c);

/* The client's socket, for uwsgi.connection_fd(). */
WF_API int wf_req_fd(const struct wf_core *c);

/* Read up to len bytes of the request body (Content-Length or chunked,
 * decoded). Waits through the suspend engine (or poll() without one) up to
 * --socket-timeout. Returns the count, 0 at the end of the body, or -errno:
 * -ETIMEDOUT, -ECONNRESET (client gone early), -EBADMSG (bad chunked
 * framing), -EFBIG (over --limit-post). A client's fault (-ETIMEDOUT,
 * -EBADMSG, -EFBIG) has been answered already with 408, 400 or 413 when
 * no response had started. Core context. */
WF_API ssize_t wf_read_body(struct wf_core *c, void *buf, size_t len);

/* Bytes of body still to come, or -1 when unknown (chunked). With
 * --post-buffering the body was read whole before the app ran: the bytes
 * not yet read by the app, always known. */
WF_API ssize_t wf_body_remaining(const struct wf_core *c);

/* Read the body again from its start: 0 when the body was post-buffered
 * (--post-buffering; the rack plugin turns it on as uWSGI's does), or
 * -ESPIPE when it streams from the client and what was read is gone.
 * Core context. */
WF_API int wf_body_rewind(struct wf_core *c);

/* ----------------------------------------------------------- request out */

/* Set the status: "200 OK" (three digits, a space, a reason without CR/LF).
 * May be called again until the head is sent (WSGI exc_info). 0, -EINVAL,
 * or -EALREADY when the head has gone out. */
WF_API int wf_response_status(struct wf_core *c, const char *status, size_t len);

/* Clear the headers given so far (start_response called again with
 * exc_info before anything was sent). */
WF_API void wf_response_reset(struct wf_core *c);

/* Add a header. The name must be a token and the value free of CR/LF.
 * Content-Length fixes the framing; without it an HTTP/1.1 response is sent
 * chunked. 0, -EINVAL, -EALREADY, -ENOMEM. */
WF_API int wf_response_header(struct wf_core *c, const char *name, size_t nlen,
                       const char *val, size_t vlen);

/* Send body bytes (the head goes first if it has not). Waits through the
 * engine when the socket is full. Returns len, or -errno (-EPIPE /
 * -ECONNRESET client gone, -ETIMEDOUT). Core context. */
WF_API ssize_t wf_write(struct wf_core *c, const void *buf, size_t len);

/* Send len bytes of file fd from offset (len 0: to the end of the file).
 * Returns the count sent, 0 when nothing was sent because the response
 * has no body (HEAD, 204, 304) or the range is empty, or -errno. Prefer
 * wf_response_file(), which sets the length and tells "no body" from a
 * failure. Core context. */
WF_API ssize_t wf_sendfile(struct wf_core *c, int fd, off_t offset, size_t len);

/*
 * HTTP policy. The core decides the framing (Content-Length or chunked),
 * the reason phrase, and what a status line or header may hold; a language
 * plugin converts its objects, asks, and raises its own error from the
 * verdict. The same table checks at the app's call (start_response) and
 * when the head is built, so a plugin may check early and the core still
 * refuses what a plugin forgot. (ABI 1.4)
 */

/* Verdicts of the checks below; 0 is good. Status verdicts are about the
 * status line, NAME verdicts about a header's name, VALUE verdicts about
 * its value, HEADER verdicts about the header as a whole. */
enum wf_http_verdict {
    WF_HTTP_OK = 0,
    WF_HTTP_STATUS_FORM = 1,     /* not "NNN reason" */
    WF_HTTP_STATUS_INTERIM,      /* 1xx given as the final status */
    WF_HTTP_STATUS_RANGE,        /* above 599 */
    WF_HTTP_STATUS_CTL,          /* a control byte in the reason */
    WF_HTTP_NAME_EMPTY = 10,
    WF_HTTP_NAME_TOKEN,          /* not an RFC 9110 token */
    WF_HTTP_VALUE_CTL = 20,      /* CR, LF, NUL, DEL or another control byte
                                    (HTAB is allowed) */
    WF_HTTP_VALUE_LENGTH,        /* Content-Length not 1-18 decimal digits */
    WF_HTTP_HEADER_FRAMING = 30, /* Transfer-Encoding: the server frames */
    WF_HTTP_HEADER_LENGTH_TWICE, /* a second Content-Length, other value */
};

/* Whether verdict v is about a header's name, its value, or the header. */
#define WF_HTTP_VERDICT_ON_NAME(v)   ((v) >= 10 && (v) < 20)
#define WF_HTTP_VERDICT_ON_VALUE(v)  ((v) >= 20 && (v) < 30)

/* The verdict as a predicate for an error message: "header name 'X Y' "
 * + "is not an HTTP token (...)", "value of header 'X' " + "contains CR,
 * ...", "bad status '101 ...': " + "...", "header 'X': " + "...". Static
 * storage. Any context. */
WF_API const char *wf_http_verdict_text(int verdict);

/* Check a status line "NNN reason" (no CR/LF) as the app gave it: three
 * digits 200-599, a space, a reason without control bytes but HTAB.
 * Returns a verdict. Pure: any context, no core needed. */
WF_API int wf_http_status_check(const char *status, size_t len);

/* Check one response header as the app gave it (name: an RFC 9110 token;
 * value: no control byte but HTAB; Content-Length: 1-18 digits;
 * Transfer-Encoding: refused, the framing is the server's). Returns a
 * verdict. Pure: any context, no core needed. */
WF_API int wf_http_header_check(const char *name, size_t nlen,
                                const char *val, size_t vlen);

/* The reason phrase of an HTTP status code (RFC 9110 names: 413 "Content
 * Too Large"), or NULL when the code has none registered. Static storage.
 * Any context. */
WF_API const char *wf_http_reason(int code);

/* Set the status from a code: "code reason" with wf_http_reason(), or
 * "Unknown" for a code without one. Same returns as wf_response_status();
 * on -EINVAL wf_response_refusal() says why. Core context. */
WF_API int wf_response_status_code(struct wf_core *c, int code);

/* The verdict behind the last -EINVAL of wf_response_status(),
 * wf_response_status_code() or wf_response_header() on c (a duplicate
 * Content-Length with another value is only found there), or WF_HTTP_OK.
 * Core context. */
WF_API int wf_response_refusal(const struct wf_core *c);

/* The language knows the whole body is len bytes (a list of strings):
 * the core frames it with Content-Length len, unless the app gave its own
 * Content-Length (the app's wins). Call before the first body byte; later
 * calls, or calls after the head went out, change nothing (-EALREADY).
 * Returns 0 or -EALREADY. Core context. */
WF_API int wf_response_length(struct wf_core *c, uint64_t len);

/* Send len bytes of the regular file fd from offset off as body (len 0:
 * to the end of the file). Before the head has gone out, and when neither
 * the app nor wf_response_length() fixed the length, the body is framed
 * as these len bytes. Loops until all is sent, waiting through the engine
 * when the socket is full. fd stays the caller's. Returns 0 when the bytes
 * are sent or the response has no body (HEAD, 204, 304: nothing to send is
 * success), -EIO when the file is shorter than promised (logged by the
 * core; the connection will close), -EPIPE / -ECONNRESET / -ETIMEDOUT
 * when the client is gone, -EINVAL without a status. Core context. */
WF_API int wf_response_file(struct wf_core *c, int fd, off_t off,
                            size_t len);

/* "METHOD URI" of c's request for log lines (REQUEST_URI, else PATH_INFO
 * and QUERY_STRING), truncated to len - 1 bytes, control bytes shown as
 * '?'. Returns buf. Any context while the request exists. */
WF_API const char *wf_req_line(const struct wf_core *c, char *buf,
                               size_t len);

/* 1 once the head has gone out. */
WF_API int wf_response_started(const struct wf_core *c);

/* Send a complete error response (plain text body naming the code) when the
 * head has not gone out; otherwise mark the connection to be closed.
 * The rest of the request body is dropped; the connection stays open for
 * the next request when all of it was here (and the client keeps it),
 * else it closes with "Connection: close" (core/response.c).
 * Returns 0, or -EALREADY when only the close was possible. */
WF_API int wf_response_error(struct wf_core *c, int code);

/* --------------------------------------------------------------- waiting */

/*
 * Waits are one-shot: the first fd that becomes ready, or the timer, wakes
 * the core, and every wait of that core is then cleared. The app-level API
 * only registers waits; the switch happens at wf_suspend() or when handle()
 * returns WF_AGAIN.
 */

/* Register a wait for fd (WF_IO_READ and/or WF_IO_WRITE). No switch.
 * 0, -EBADF (not an open fd), -EEXIST (another core waits on it), -EINVAL. */
WF_API int wf_wait_fd(struct wf_core *c, int fd, unsigned events);

/* Arm the core's timer ms from now unless one is armed already (the first
 * timeout wins). ms <= 0 arms nothing. No switch. */
WF_API void wf_wait_timer(struct wf_core *c, long ms);

/* Give the worker away until a registered wait fires, or, with none, until
 * the run queue comes round again. Without a suspend engine (or outside
 * the core's context) it waits in place for the registered fds and timer,
 * the worker blocked. Core context. Returns 0, or -ECANCELED. */
WF_API int wf_suspend(struct wf_core *c);

/* The fd that woke the core last, or -1 (timer, no wait, or consumed). */
WF_API int wf_ready_fd(const struct wf_core *c);
/* 1 when the core's timer woke it last. */
WF_API int wf_timed_out(const struct wf_core *c);
/* Forget why the core woke (after a generator re-entry reads it). */
WF_API void wf_clear_ready(struct wf_core *c);

/* Wait for fd now (register + suspend), up to timeout_ms (-1: forever).
 * Without a suspend engine it blocks in poll(). Returns 1 ready, 0 timeout,
 * -errno. Core context. */
WF_API int wf_wait_io(struct wf_core *c, int fd, unsigned events, long timeout_ms);

/* Start a non-blocking connect to "a.b.c.d:port", "[v6]:port", a UNIX
 * path or "@abstract" (no name resolution). Returns the fd (connect in
 * progress: wait for writability, then check SO_ERROR), -EINVAL for a bad
 * address, or -errno. Any context. */
WF_API int wf_connect_start(const char *addr);

/* Sleep ms through the engine (poll() without one). Core context. */
WF_API int wf_sleep(struct wf_core *c, long ms);

/* ------------------------------------------------------- loop engines */

/* The listening sockets of this worker; returns the count (at most max). */
WF_API int wf_loop_listeners(int *fds, int max);

/* The fd that becomes readable when the worker gets a signal. */
WF_API int wf_loop_control_fd(void);

/* Read the control fd and act on the signal: 0 go on, 1 stop gracefully
 * (stop accepting, finish what runs), 2 stop now. */
WF_API int wf_loop_control(void);

/* How often the engine must call wf_loop_tick() now, in ms; 0: not at
 * all. It changes after wf_loop_control() and wf_loop_tick(). Worker
 * context. (ABI 1.4) */
WF_API long wf_loop_tick_ms(void);

/* The core's policy, on the engine's timer (the hub; no core runs): the
 * harakiri heartbeat and checks, the drain of a stopping worker (idle
 * connections woken through the engine's wake op, the mercy's
 * cancellations through its cancel op). Returns 0 serve on, 1 stopping
 * (keep calling), 2 return from run() now. (ABI 1.4) */
WF_API int wf_loop_tick(void);

/* While stopping gracefully: ms left of --worker-reload-mercy (0 when it
 * ran out); -1 when not stopping. For an engine that waits for its own
 * work (gevent's --gevent-wait-for-hub). (ABI 1.4) */
WF_API long wf_loop_mercy_left_ms(void);

/* Free cores; 0 while every core is busy (stop watching the listeners). */
WF_API unsigned wf_loop_room(void);

/* Busy cores. */
WF_API unsigned wf_loop_busy(void);

/* Accept one connection from listener lfd onto a free core. Returns the
 * core, or NULL when nothing is pending, no core is free or the worker is
 * stopping. Worker context (the hub). */
WF_API struct wf_core *wf_loop_accept(int lfd);

/* Serve core c's connection until it closes (requests, keep-alive), then
 * free the core. Runs in the context the loop engine made for it. */
WF_API void wf_loop_serve(struct wf_core *c);

/* The fd of core c's connection, from wf_loop_accept() until
 * wf_loop_serve(c) returns (its last act is to close it); -1 when c has
 * none. An engine may keep a watcher on it across waits instead of one
 * per wait, and must drop that watcher when wf_loop_serve(c) returns,
 * before any other context runs: the next accept may reuse the number.
 * (ABI 1.7) */
WF_API int wf_loop_conn_fd(const struct wf_core *c);

/* Milliseconds since the request on c started, or -1 when none runs (a
 * connection between two requests). */
WF_API long wf_request_age_ms(const struct wf_core *c);

/* --harakiri of core c: log the request (and `stack`, where it waits, or
 * NULL) and cancel it: the client gets a 504 if nothing went out yet,
 * every wait of the core returns -ECANCELED, and under a loop engine the
 * engine's cancel op stops the core's context. The core decides when (its
 * loop, or wf_loop_tick()); an engine need not call it. */
WF_API void wf_harakiri(struct wf_core *c, const char *stack);

/* A loop engine's "my loop turns" for the master's --harakiri (the core
 * calls it from wf_loop_tick() since ABI 1.4); when the calls stop for
 * longer than --harakiri seconds, the master kills the worker (its loop
 * is blocked) and starts a new one. */
WF_API void wf_loop_heartbeat(void);

/*
 * Route HTTP requests by path to a language: a request on an HTTP socket
 * that sets no modifier1 of its own (--http-socket-modifier1 0), whose
 * PATH_INFO is `prefix` or starts with `prefix` + "/", goes to the
 * language of `modifier1` instead of the default one; the longest prefix
 * wins and "" (or "/") takes every path. This is how a language with
 * mount points (--cgi /cgi-bin=DIR) serves them beside another language's
 * app. The uwsgi protocol is not routed: nginx sends the modifier1 in
 * every packet. The core decides this once per request, before it picks
 * a core. Master context (init() or load_app()). 0, or -1 with err filled
 * (out of memory, modifier1 over 255, the same prefix claimed by another
 * modifier1). (ABI 1.5)
 */
WF_API int wf_route_prefix(const char *prefix, unsigned modifier1,
                           struct wf_err *err);

/*
 * Map the URL path rel[0..rellen) (still percent-encoded, without its
 * query) onto directory root (rootlen bytes, no trailing '/'; rootlen 0
 * for none): out receives root + "/" + the decoded segments, NUL
 * terminated, empty and "." segments dropped (and a trailing '/').
 * Refused before any file system access, with the rules of --static-map:
 * a ".." segment (decoded or not), an encoded '/' or NUL, '\\', control
 * bytes, and segments that are not strict UTF-8. Pure: no I/O, no
 * allocation. Returns the length of out, or -400 (bad percent-encoding),
 * -403 (refused) or -414 (cap bytes do not hold it): the status to answer
 * with. Any context. (ABI 1.5)
 */
WF_API int wf_path_resolve(const char *root, size_t rootlen, const char *rel,
                           size_t rellen, char *out, size_t cap);

/* Set an option by name from a plugin's on_set (e.g. --gevent N sets
 * --async N). Master context. 0, or -1 + err. */
WF_API int wf_opt_set(const char *name, const char *value,
                      struct wf_err *err);

/* Call fn for every option given on the command line or in an ini file,
 * and for every default (given 0), with its text value. */
WF_API void wf_opt_foreach(void (*fn)(const char *name, const char *value,
                                      int given, void *arg), void *arg);

#endif
