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

/* Fds one wait of a core may pass a loop engine, at most. */
#define WF__MAX_WAIT_FDS 16

/*
 * How the cores of a loop wait: chosen once by wf__loop_new (sched.c
 * defines the three), never re-decided per call. Every entry runs in the
 * context of the core it is given (or the loop's, for io_set and run).
 */
struct wf__strategy {
    const char *name;
    /* fd's interest in the loop's io engine (a loop engine keeps none). */
    int (*io_set)(struct wf__loop *L, int fd, unsigned ev);
    /* wf_suspend: give the worker away until c's waits fire. 0/-errno. */
    int (*suspend)(struct wf__core *c);
    /* wf_wait_io: 1 ready, 0 timed out, -errno. */
    int (*wait_io)(struct wf__core *c, int fd, unsigned ev, long ms);
    /* wf_sleep (ms >= 0): 0 or -errno. */
    int (*sleep)(struct wf__core *c, long ms);
    /* wf_core_current. */
    struct wf_core *(*current)(struct wf__loop *L);
    /* The core cancelled c (harakiri, mercy): stop the context that runs
     * it, when it has one the core cannot wake itself (a loop engine's). */
    void (*cancel)(struct wf__core *c);
    /* Where c's app waits now, for the harakiri log; 0 when unknown. */
    size_t (*backtrace)(struct wf__core *c, char *buf, size_t len);
    /* Loop context: run queued core c until it waits again or ends. */
    void (*step)(struct wf__core *c);
    /* The loop itself, until it stops. 0, or -1 + err. */
    int (*run)(struct wf__loop *L, struct wf_err *err);
};

extern const struct wf__strategy wf__st_switch, wf__st_block, wf__st_engine;

/* loop.c: the step of wf__st_switch (resume c's context) and of
 * wf__st_block (one handle() on the loop's stack). */
void wf__core_step_switch(struct wf__core *c);
void wf__core_step_block(struct wf__core *c);

/* loop.c: the core's own loop (io wait -> dispatch -> timers -> run
 * queue), the run of wf__st_switch and wf__st_block. */
int wf__loop_core_run(struct wf__loop *L, struct wf_err *err);

/* loop_engine.c: hand the worker to the loop engine, the run of
 * wf__st_engine. */
int wf__loop_engine_run(struct wf__loop *L, struct wf_err *err);

/* loop.c: act on a signal (or wf__loop_stop) that reached L: SIGUSR2
 * reopens the log, SIGQUIT stops now, the others gracefully. Returns
 * L->stopping. Loop context. */
int wf__loop_take_signal(struct wf__loop *L);

/* api.c: this process's worker number (0 in the master). */
extern unsigned wf__worker_id;

/* loop.c: the one signal handler: every loop of the process hears of
 * it (its pipe wakes it; wf__loop_take_signal acts). */
void wf__loop_on_signal(int sig);

/* Each language once (wf__langs holds each at its modifier1), in
 * modifier1 order. */
#define EACH_LANG(i, lp, lo)                                               \
    for ((i) = 0; (i) < 256; (i)++)                                        \
        if (((lp) = wf__langs[(i)]) != NULL &&                             \
            ((lo) = (const struct wf_lang_ops *)(lp)->ops) != NULL)

/* loop.c: --logto again (after a rotation; SIGUSR2). Worker context. */
void wf__reopen_log(void);

/* loop.c: after handle() returned st (on the loop's stack or the core's):
 * 1 when the request goes on (a chunk went out), 0 when it is over (the
 * response is finished, the core is DONE). */
int wf__core_after_handle(struct wf__core *c, int st);

/* loop.c: the body of a core's request with a suspend engine or a loop
 * engine: handle() until done, suspending between chunks. Core context. */
void wf__core_default_body(struct wf__core *c);

/* loop.c: the one way a core becomes free (either loop): it forgets its
 * waits and its connection and goes back on the free list. */
void wf__core_free(struct wf__core *c);

/* loop.c: a core of L waits in place (block strategy: poll() in the
 * middle of its request): the languages let go of their lock meanwhile
 * (1) and take it back (0), as around the loop's own wait (Python: the
 * GIL, so that the worker's other threads run). */
void wf__loop_lang_wait(struct wf__loop *L, int entering);

/* c takes a request (on = 1) or its request is over (0): c->in_request
 * and the worker's count of busy cores in the scoreboard (read by the
 * master: --cheaper, --idle), shared by the worker's loops. */
static inline void
wf__core_busy(struct wf__core *c, int on)
{
    struct wf__slot *s = c->loop->slot;

    if (c->in_request == on) {
        return;
    }
    c->in_request = on;
    if (s != NULL) {
        if (on) {
            __atomic_add_fetch(&s->busy_cores, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_sub_fetch(&s->busy_cores, 1, __ATOMIC_RELAXED);
        }
    }
}

/* sched.c: c (switch strategy, its waits armed) gives the worker away
 * and its context ends: what it wrote goes out, it waits (WAITING) until
 * a wait fires. Core context. */
void wf__sched_park(struct wf__core *c);

/* sched.c: 1 when c waits on fd. */
int wf__core_waits_on(const struct wf__core *c, int fd);

/* sched.c: fd turned ready for the waiting core c: clear its waits and
 * queue it. Loop context. */
void wf__core_wake(struct wf__core *c, int fd);

/* conn.c: how long a client may take over a request head (or, kept alive,
 * before its next one), in ms. */
long wf__head_timeout_ms(void);

/* conn.c: watch the listeners (1) or stop (0). Loop context. */
void wf__conn_accepting(struct wf__loop *L, int on);

/* conn.c: with sibling loops (--threads N > 1) or sibling workers
 * (--processes N > 1): L watches the listeners only while it has a free
 * core (and room for a connection), so that a loop whose cores are all
 * busy leaves new connections to its siblings and to the workers
 * --cheaper starts (as a uWSGI thread or worker accepts only when it is
 * idle). Loop context, before each wait. */
void wf__conn_share(struct wf__loop *L);

/* conn_mem.c: a connection from L's pool (or a new one), NULL without
 * memory. */
struct wf__conn *wf__conn_get(struct wf__loop *L);

/* conn_mem.c: free a pooled connection and what it grew. */
void wf__conn_free(struct wf__conn *k);

/* conn_mem.c: the block's own room for vars, arena (and the buffer when
 * it holds no more than its first size) in use again; grown parts freed.
 * No variable may be in use. */
void wf__conn_room_reset(struct wf__conn *k);

/* conn_mem.c: wf__conn_room_reset(k) when anything of k has grown (a
 * large head is over). */
void wf__conn_room_shrink(struct wf__conn *k);

/* conn_mem.c: the most a connection's buffer may hold (--buffer-size + 4
 * + the body staging). */
size_t wf__conn_buf_max(void);

/* conn_mem.c: grow k's buffer to at least want bytes (doubling, at most
 * wf__conn_buf_max()); 0, or -1 at the limit or without memory. */
int wf__conn_buf_grow(struct wf__conn *k, size_t want);

/* conn_mem.c: grow k's vars and arena to their full size (a head with
 * more variables or longer names; it is parsed again); 0, or -1 when
 * they are full size already or memory is out. */
int wf__conn_req_grow(struct wf__conn *k);

/* conn.c: fd was accepted on l from *ss: k takes it (READING). */
void wf__conn_setup(struct wf__loop *L, struct wf__conn *k, int fd,
                    struct wf__listener *l,
                    const struct sockaddr_storage *ss);

/* conn.c: close k's fd and give k back to the pool. Loop context. */
void wf__conn_close(struct wf__conn *k);
/* Close k after an answer without resetting it: shut our side, drain
 * what the client still sends (bounded bytes and time), then close. */
void wf__conn_linger(struct wf__conn *k);
/* How long and how much a lingering close drains (nginx: lingering_time,
 * lingering_timeout). */
#define WF__LINGER_MS 2000
#define WF__LINGER_BYTES (1L << 20)
/* k lingers and is readable (or its time is up): drain, maybe close. */
void wf__conn_linger_read(struct wf__conn *k);

/* conn.c: read (more of) k's head and parse it, for either loop: 1 when
 * the head is whole (k->head_len set), 0 when the socket has nothing more
 * now (EAGAIN), -1 when the connection is over (closed by the client,
 * bad or too large: answered and logged; the caller closes). */
int wf__conn_read_more(struct wf__conn *k);

/* conn.c: k's head did not come within the head timeout: 408 when part
 * of it came (logged), for either loop. The caller closes. */
void wf__conn_head_timeout(struct wf__conn *k);

/* conn.c: the loop reads (more of) k's head; starts the request when it is
 * whole, answers 400/431/... when it is bad. Loop context. */
void wf__conn_read_head(struct wf__conn *k);

/* conn.c: complete the variables of k's parsed head and check that a
 * language serves it. 0, or the status to refuse it with. */
int wf__conn_request_vars(struct wf__conn *k);

/* conn.c: core c runs k's request from now on. */
void wf__conn_bind_core(struct wf__conn *k, struct wf__core *c);

/* conn.c: accept what l has, as far as there is room. Loop context. */
void wf__conn_accept_some(struct wf__loop *L, struct wf__listener *l);

/* conn.c: accept one connection on l into k (NULL: nothing to accept, or
 * no room; logged). Either loop. */
struct wf__conn *wf__conn_accept_one(struct wf__loop *L,
                                     struct wf__listener *l);

/* conn.c: k carries its next request: what follows the body is its head. */
void wf__conn_next(struct wf__conn *k);

/* conn.c: c's request is over: free the core (the first waiting head takes
 * it), then keep k alive or close it. Loop context. */
void wf__conn_end_request(struct wf__core *c);

/* conn.c: while stopping, let idle connections go (all: now). */
void wf__conn_close_idle(struct wf__loop *L, int all);

/* watchdog.c: count and log c's finished request; 1 when its connection k
 * may carry the next one (max-requests, RSS and stopping decide). */
int wf__request_done(struct wf__core *c, struct wf__conn *k);

/* watchdog.c: --harakiri per core, about twice a second. Loop context. */
void wf__watchdog_harakiri(struct wf__loop *L, int64_t now);

/* watchdog.c: while L stops gracefully: once --worker-reload-mercy has
 * run out, cancel every request still running (503; the strategy stops
 * their contexts). 1 from then on, 0 before. Loop context. */
int wf__watchdog_mercy(struct wf__loop *L, int64_t now);

/* watchdog.c, signal context: the first TERM, INT, HUP or QUIT to a
 * worker arms a last resort (alarm(2)): a worker whose loop never gets to
 * see the signal (a request blocked in a C call, without a master to kill
 * it) still exits --worker-reload-mercy + the cancel grace + 2 s later
 * (QUIT: the grace + 1 s). */
void wf__watchdog_backstop(int sig);

#endif
