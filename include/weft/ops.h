/*
 * The four ops tables. Each field says who calls it, from which context, what
 * it returns and who owns what. Contexts:
 *   master    the first process, at start-up, before any fork
 *   worker    a worker process, on the loop's own stack, outside any request
 *   loop      the worker's scheduler, between cores (same stack as worker)
 *   core      a request running on its core (its own stack with a suspend
 *             engine; the loop's stack without one)
 */
#ifndef WEFT_OPS_H
#define WEFT_OPS_H

#include <stddef.h>
#include <sys/types.h>

struct wf_err;
struct wf_core;

/* ------------------------------------------------------------------ I/O */

#define WF_IO_READ  0x1u
#define WF_IO_WRITE 0x2u
#define WF_IO_ERROR 0x4u   /* reported only: hang-up or error on the fd */

struct wf_io_event {
    int fd;
    unsigned events;       /* WF_IO_* that are ready */
};

/*
 * An I/O engine reports readiness; it never dispatches and never closes an
 * fd. Interest is level-triggered: an fd stays reported while it is ready and
 * its interest is set. The core keeps the interest of every fd and passes the
 * old mask with the new one, so that an engine needs no table of its own.
 */
struct wf_io_ops {
    int pref;  /* the default engine is the usable one with the highest pref */

    /* master: 0 when this engine works on this kernel, -1 otherwise. */
    int (*probe)(void);

    /* worker: create the engine's state for fds below max_fds. Returns the
     * state (owned by the engine, given back to every call), or NULL with
     * err filled. */
    void *(*open)(unsigned max_fds, struct wf_err *err);

    /* loop or core: change fd's interest from old_ev to new_ev (WF_IO_READ
     * and/or WF_IO_WRITE; 0 removes the fd). Returns 0 or -errno. */
    int (*set)(void *st, int fd, unsigned old_ev, unsigned new_ev);

    /* loop: wait up to timeout_ms (-1 forever, 0 poll) and fill at most max
     * events. Returns the count (0 on timeout), -EINTR when a signal came,
     * or another -errno. */
    int (*wait)(void *st, struct wf_io_event *ev, int max, long timeout_ms);

    /* worker: free the state. The fds are the core's and stay open. */
    void (*close)(void *st);
};

/* -------------------------------------------------------------- suspend */

/*
 * A suspend engine gives every core its own execution context, so that a
 * request can stop in the middle of a call (uwsgi.suspend(), a read that
 * would block) and the loop can run another one.
 *
 * The core calls the language's save/restore hooks around every resume(),
 * unless keeps_lang_state names that language (greenlet already keeps
 * Python's thread state per greenlet).
 */
struct wf_suspend_ops {
    /* worker: allocate the contexts of ncores cores (core ids 0..ncores-1).
     * Returns 0, or -1 with err filled. */
    int (*worker_init)(unsigned ncores, struct wf_err *err);

    /* loop: switch into core c. When c has no live context (a new request),
     * start one that calls wf_core_body(c); when that returns, the context
     * is over and control comes back here. Returns 0 when c suspended or
     * finished, -1 when the switch failed (logged; the core then fails the
     * request with a 500). */
    int (*resume)(struct wf_core *c);

    /* core: switch back to the loop; returns when the loop resumes c. */
    void (*suspend)(struct wf_core *c);

    /* worker, at exit: free every context. Optional. */
    void (*worker_fini)(void);

    /* The name of a language plugin whose interpreter state this engine
     * already keeps per context, or NULL. */
    const char *keeps_lang_state;

    /* loop: write where suspended core c's app waits now (its stack,
     * innermost last, one frame a line) into buf; returns the length, 0
     * when it cannot tell. For the harakiri log; when it is not set, the
     * language's backtrace() is asked. Optional. (ABI 1.1) */
    size_t (*backtrace)(struct wf_core *c, char *buf, size_t len);

    /* --threads N > 1: a loop thread of the worker other than the first
     * (which worker_init set up) starts: core ids core_base ..
     * core_base+ncores-1 run in this thread from now on (worker_init
     * made their contexts). Called in that thread, before its loop runs
     * and after the languages' thread_init; set up what is per thread
     * (the loop's own context). 0 or -1 + err. Optional. (ABI 1.6) */
    int (*thread_init)(unsigned core_base, unsigned ncores,
                       struct wf_err *err);

    /* That thread, after its loop stopped, before the languages'
     * thread_fini (not when the worker stops now: SIGQUIT). Optional.
     * (ABI 1.6) */
    void (*thread_fini)(void);
};

/* ----------------------------------------------------------------- loop */

/*
 * A loop engine runs the whole worker instead of the core's loop (gevent's
 * hub). The core still owns the cores, the connections, the parsers and the
 * response writer; the loop engine owns waiting and switching:
 *
 *   run():   watch every fd of wf_loop_listeners() and wf_loop_control_fd();
 *            on a readable listener, call wf_loop_accept(fd) until it
 *            returns NULL, and run wf_loop_serve(c) for each core it returns
 *            in a context of its own (a greenlet); stop watching the
 *            listeners while wf_loop_room() is 0 and watch them again when a
 *            wf_loop_serve() returns; on a readable control fd call
 *            wf_loop_control(): 1 means stop accepting, 2 means return now.
 *            While wf_loop_tick_ms() is above 0, call wf_loop_tick() that
 *            often from a timer of the loop (read wf_loop_tick_ms() again
 *            after each wf_loop_control() and wf_loop_tick()); when
 *            wf_loop_tick() returns 2, return from run(). (ABI 1.4; before
 *            it an engine returned once wf_loop_busy() was 0.)
 *   While a loop engine runs, the core's waiting API (wf_wait_io,
 *   wf_suspend with registered waits, wf_sleep) calls wait(), a bare
 *   wf_suspend() calls yield(), and wf_core_current() calls current().
 *
 * The core decides every policy of the worker: reading heads and their
 * timeout, harakiri, max-requests, the drain on a stop and its mercy, when
 * idle keep-alive connections go (docs/design.md, "The house"). It tells
 * the engine through cancel() and wake(); the engine decides nothing of
 * it and reads no option of the core's.
 *
 * Ownership: the cores, the connections and their fds are the core's; the
 * engine owns its contexts and watchers, and must not close an fd it is
 * given.
 */
struct wf_loop_ops {
    /* worker, after fork, before run(): set up. 0 or -1 + err. Optional. */
    int (*worker_init)(unsigned ncores, struct wf_err *err);

    /* worker: run until stopped (see above). 0, or -1 + err. */
    int (*run)(struct wf_err *err);

    /* core (inside wf_loop_serve's context): wait until one of fds[0..n)
     * is ready for its events, or timeout_ms passes (-1: no timeout; n may
     * be 0 for a plain sleep). Returns 1 with *ready_fd set, 0 on timeout,
     * or -errno. Other contexts run meanwhile. */
    int (*wait)(struct wf_core *c, const struct wf_io_event *fds, int n,
                long timeout_ms, int *ready_fd);

    /* core: let every other ready context run once, then come back. 0. */
    int (*yield)(struct wf_core *c);

    /* any context: the core served by the running context, or NULL (the
     * hub, or a context the app spawned itself). */
    struct wf_core *(*current)(void);

    /* worker, at exit. Optional. */
    void (*worker_fini)(void);

    /* loop (the engine's own loop, inside wf_loop_tick()): the core
     * cancelled core c (harakiri, the mercy ran out; the client got its
     * 504/503 if nothing was sent). Make the wait c's context is in return
     * -ECANCELED now, and every later one at once (gevent kills the
     * greenlet with uwsgi.RequestCancelled). A context that has not
     * started yet must still run wf_loop_serve(), whose waits then fail,
     * so that the core is freed. Optional: without it the core ends at
     * its next wait. (ABI 1.4) */
    void (*cancel)(struct wf_core *c);

    /* loop (inside wf_loop_tick()): end core c's wait in progress as if
     * its fd were ready. The core asks it while draining a stopping
     * worker, for a core that only waits for the next request head of an
     * idle keep-alive connection; it then closes that connection.
     * Optional. (ABI 1.4) */
    void (*wake)(struct wf_core *c);

    /* loop (inside wf_loop_tick()): write where core c's context waits
     * now (its stack, innermost last, one frame a line) into buf; returns
     * the length, 0 when it cannot tell. For the harakiri log. Optional.
     * (ABI 1.4) */
    size_t (*backtrace)(struct wf_core *c, char *buf, size_t len);

    /* The most fds one wait() can take; 0: the core's limit (16). The
     * core never passes more. (ABI 1.4) */
    unsigned max_wait_fds;
};

/* ------------------------------------------------------------- language */

/* What handle() returns. */
#define WF_DONE   0   /* the response is complete */
#define WF_AGAIN  1   /* a chunk went out: schedule me again */
#define WF_ERROR -1   /* failed; logged; the core sends a 500 if it can and
                         closes the connection */

struct wf_lang_ops {
    /* uwsgi protocol routing: 0 Python, 7 Rack. */
    unsigned modifier1;

    /* master, after all options: start the interpreter. 0 or -1 + err. */
    int (*init)(struct wf_err *err);

    /* master (worker with --lazy-apps): load the configured app. Returns 1
     * when an app was loaded, 0 when this language has nothing configured,
     * -1 with err filled when loading failed. */
    int (*load_app)(struct wf_err *err);

    /* worker, after fork and after load_app: set up per-core state for
     * ncores cores. 0 or -1 + err. Optional. */
    int (*worker_init)(unsigned ncores, struct wf_err *err);

    /* core: run the request on c, or go on with it. The first call of a
     * request calls the app; each later call (after WF_AGAIN) produces the
     * next chunk. Must leave no per-request state behind when it returns
     * WF_DONE or WF_ERROR. */
    int (*handle)(struct wf_core *c);

    /* loop: the request on c is being abandoned while it is between two
     * handle() calls or suspended (client gone, harakiri, shutdown): drop
     * its objects (close() the iterable). Optional. */
    void (*release)(struct wf_core *c);

    /* loop: save the interpreter's per-thread state as core c's (c NULL:
     * the loop's), and restore it. Called around every resume() of a
     * suspend engine. Optional. */
    void (*save)(struct wf_core *c);
    void (*restore)(struct wf_core *c);

    /* master: refuse a suspend engine that cannot carry this language.
     * Returns 0, or -1 with err filled (one line, naming the fix). */
    int (*check_engine)(const char *engine, struct wf_err *err);

    /* worker or master, at exit. Optional. */
    void (*shutdown)(void);

    /* loop: write where core c's app waits now (its stack, innermost
     * last, one frame a line) into buf; returns the length, 0 when it
     * cannot tell. Called only for a core whose state the core saved
     * with save() (a suspend engine without keeps_lang_state), for the
     * harakiri log. Optional. (ABI 1.1) */
    size_t (*backtrace)(struct wf_core *c, char *buf, size_t len);

    /* loop: the worker is about to wait for I/O (entering 1) or is back
     * (entering 0); no core runs in between. A language lets its other
     * threads run meanwhile (Python releases the GIL). Since ABI 1.6
     * also core: around a wait a core makes in place (no suspend engine:
     * poll() for its socket, a timer or the fds the app registered); the
     * core's interpreter state then stays as it is, the language only
     * lets go of its lock. Called in the thread of the loop. Optional.
     * (ABI 1.2) */
    void (*loop_wait)(int entering);

    /* --threads N > 1: as wf_suspend_ops.thread_init, for a language:
     * called in a loop thread other than the first, before its loop runs
     * and after worker_init (which was given every core of the worker);
     * cores core_base.. run in this thread. A language makes its
     * per-thread interpreter state here (Python: a PyThreadState, taking
     * the GIL). 0 or -1 + err. Optional. (ABI 1.6) */
    int (*thread_init)(unsigned core_base, unsigned ncores,
                       struct wf_err *err);

    /* That thread, after its loop stopped: drop what thread_init made
     * (Python: finish its cores' requests, delete the thread state and
     * let go of the GIL). Not called when the worker stops now (SIGQUIT).
     * Optional. (ABI 1.6) */
    void (*thread_fini)(void);
};

#endif
