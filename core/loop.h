/*
 * What the files of the worker loop share, and nothing else: core/loop.c (the
 * loop), core/sched.c (waits, run queue, io interest, suspend), core/conn.c
 * (accept, head reading, admission, keep-alive, idle list), core/watchdog.c
 * (harakiri, RSS, max-requests, cancel), core/loop_engine.c (the loop-engine
 * API) and core/api.c (the small API). docs/design.md draws the house.
 */
#ifndef WEFT_CORE_LOOP_H
#define WEFT_CORE_LOOP_H

#include "internal.h"   /* first: config.h before any system header */

#include <signal.h>

/* loop.c: the last signal the worker got (0: none); set by its handler. */
extern volatile sig_atomic_t wf__got_signal;

/* loop.c: --logto again (after a rotation; SIGUSR2). Worker context. */
void wf__reopen_log(void);

/* loop.c: after handle() returned st (on the loop's stack or the core's):
 * 1 when the request goes on (a chunk went out), 0 when it is over (the
 * response is finished, the core is DONE). */
int wf__core_after_handle(struct wf__core *c, int st);

/* loop.c: the body of a core's request with a suspend engine or a loop
 * engine: handle() until done, suspending between chunks. Core context. */
void wf__core_default_body(struct wf__core *c);

/* sched.c: 1 when c waits on fd. */
int wf__core_waits_on(const struct wf__core *c, int fd);

/* sched.c: fd turned ready for the waiting core c: clear its waits and
 * queue it. Loop context. */
void wf__core_wake(struct wf__core *c, int fd);

/* conn.c: how long a client may take over a request head (or, kept alive,
 * before its next one), in ms. */
long wf__head_timeout_ms(void);

/* conn.c: watch the listeners (1) or stop (0). No-op under a loop engine.
 * Loop context. */
void wf__conn_accepting(int on);

/* conn.c: a connection from the pool (or a new one), NULL without memory. */
struct wf__conn *wf__conn_get(void);

/* conn.c: fd was accepted on l from *ss: k takes it (READING). */
void wf__conn_setup(struct wf__conn *k, int fd, struct wf__listener *l,
                    const struct sockaddr_storage *ss);

/* conn.c: close k's fd and give k back to the pool. Loop context. */
void wf__conn_close(struct wf__conn *k);

/* conn.c: parse what k holds: > 0 the head's length, 0 incomplete, < 0 bad
 * (logged and answered; the caller closes). */
int wf__conn_parse_head(struct wf__conn *k);

/* conn.c: 1 when k's head buffer is full and the head still incomplete
 * (answered with 431; the caller closes). */
int wf__conn_head_overflow(struct wf__conn *k);

/* conn.c: the loop reads (more of) k's head; starts the request when it is
 * whole, answers 400/431/... when it is bad. Loop context. */
void wf__conn_read_head(struct wf__conn *k);

/* conn.c: complete the variables of k's parsed head and check that a
 * language serves it. 0, or the status to refuse it with. */
int wf__conn_request_vars(struct wf__conn *k);

/* conn.c: core c runs k's request from now on. */
void wf__conn_bind_core(struct wf__conn *k, struct wf__core *c);

/* conn.c: accept what l has, as far as there is room. Loop context. */
void wf__conn_accept_some(struct wf__listener *l);

/* conn.c: k carries its next request: what follows the body is its head. */
void wf__conn_next(struct wf__conn *k);

/* conn.c: c's request is over: free the core (the first waiting head takes
 * it), then keep k alive or close it. Loop context. */
void wf__conn_end_request(struct wf__core *c);

/* conn.c: while stopping, let idle connections go (all: now). */
void wf__conn_close_idle(int all);

/* watchdog.c: count and log c's finished request; 1 when its connection k
 * may carry the next one (max-requests, RSS and stopping decide). */
int wf__request_done(struct wf__core *c, struct wf__conn *k);

/* watchdog.c: --harakiri per core, about twice a second. Loop context. */
void wf__watchdog_harakiri(int64_t now);

#endif
