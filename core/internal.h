/*
 * Core internals shared between the files of core/ (wf__ names, hidden from
 * plugins by -fvisibility=hidden). Nothing here is plugin API.
 */
#ifndef WEFT_CORE_INTERNAL_H
#define WEFT_CORE_INTERNAL_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <signal.h>
#include <time.h>

#include <weft/plugin.h>

#include "proto.h"
#include "registry.h"

/* ---------------------------------------------------------------- config */

struct wf__config {
    struct wf_strlist http_sockets;
    struct wf_strlist uwsgi_sockets;
    struct wf_strlist plugins;
    struct wf_strlist plugins_dirs;
    long async;             /* --async: cores per thread (0: sync, 1 core) */
    long threads;           /* --threads: loops (threads) per worker */
    long threads_stacksize; /* --threads-stacksize: KiB; 0 the default */
    long buffer_size;       /* --buffer-size: max request head */
    long listen;            /* --listen backlog */
    long socket_timeout;    /* --socket-timeout, seconds */
    long max_vars;
    long http_modifier1;    /* --http-socket-modifier1 */
    long processes;
    long max_requests;
    long max_conns;
    long reload_mercy;
    long harakiri;          /* seconds; 0 off */
    long reload_on_rss;     /* MiB */
    long max_worker_lifetime;
    long limit_post;        /* bytes; 0 no limit */
    long post_buffering;    /* --post-buffering: bytes kept in memory;
                               0: bodies stream to the app */
    long post_buffering_bufsize; /* read size while post-buffering */
    long http_timeout;      /* head timeout, seconds; 0: socket-timeout */
    long body_deadline;     /* --body-deadline: seconds; 0 off */
    long body_min_rate;     /* --body-min-rate: bytes/s that extend it */
    long write_deadline;    /* --write-deadline: seconds; 0 off */
    long write_min_rate;    /* --write-min-rate: bytes/s that extend it */
    long max_fd;
    int harakiri_verbose;
    int lazy_apps;
    struct wf_strlist touch_reload;
    struct wf_strlist http_routers; /* --http: served as --http-socket */
    char *chdir;
    char *chown_socket;
    int chmod_socket;       /* mode, or 0: what the umask gives */
    int vacuum;
    int strict;
    int reuse_port;
    long min_worker_lifetime;
    long master_mercy;      /* --reload-mercy; 0: worker mercy + 5 */
    char *procname, *procname_master, *procname_prefix;
    int auto_procname;
    long idle;              /* --idle: seconds; 0 off */
    char *uid, *gid;
    char *daemonize;
    int master;
    int disable_logging;
    int help, help_man, version, list_plugins;
    char *pidfile;
    char *io_engine;
    char *loop;
    char *logto;
};

extern struct wf__config wf__cfg;

/* --------------------------------------------------------------- options */

/* One option occurrence, from the command line or an ini file. */
struct wf__optval {
    char *name;
    char *value;            /* NULL for a flag given without a value */
    char *origin;           /* "command line" or "app.ini:12" */
    int var;                /* 1: read as %(name) in an ini (a user
                               variable when no option has this name);
                               2: set-placeholder, never an option */
};

/* The core's own option table. */
extern const struct wf_option wf__core_options[];

/* Collect argv (expanding --ini files in place) into vals. 0 or -1. */
int wf__opt_collect(int argc, char **argv, struct wf__optval **vals,
                    size_t *n, struct wf_err *err);

/* Free what wf__opt_collect returned. */
void wf__opt_free(struct wf__optval *vals, size_t n);

/* Apply the defaults of one table. 0 or -1. */
int wf__opt_defaults(const struct wf_option *tab, struct wf_err *err);

/* Store one value into its option. 0 or -1 (err names origin and fix). */
int wf__opt_apply(const struct wf_option *opt, const struct wf__optval *v,
                  struct wf_err *err);

/* The option named `name` in the core's table or a loaded plugin's; *owner
 * receives the plugin (NULL for the core). */
const struct wf_option *wf__opt_find(const char *name,
                                     const struct wf_plugin **owner);

/* Print --help: the core's options, every loaded plugin's, then those of
 * the plugins found on disk (core/help.c). */
void wf__opt_help(FILE *out);

/* Print the weft(1) man page in roff from the same tables (--help-man). */
void wf__opt_help_man(FILE *out);

/* 1 when uWSGI 2.0.21 has an option of this name (core/uwsgi_names.c). */
int wf__uwsgi_has_option(const char *name);

/* Whether option `name` (core or loaded plugin) may be given without a
 * value (WF_OPT_F_OPTVAL). */
int wf__opt_optional_value(const char *name);

/* compat.c: uWSGI's words. The weft plugin for uWSGI plugin `name` ("" when
 * the core does its job; NULL when weft has none); *known is 0 when the
 * name is not a uWSGI one (it is then returned as is). */
const char *wf__compat_plugin(const char *name, int *known);
/* Why weft refuses uWSGI option `name` and what to use instead, or NULL. */
const char *wf__compat_refused(const char *name);
/* "--a, --b" : up to three known option names closest to `name`, or "". */
void wf__opt_suggest(const char *name, char *out, size_t len);

/* Remember an option's value as text for wf_opt_get. */
void wf__opt_record(const char *name, const char *value, int given);

/* Parse an ini file into vals (append). Section: "uwsgi" unless given as
 * FILE:section; "weft" is also read. 0 or -1. A line is at most
 * WF__INI_LINE_MAX bytes and a value after its expansions at most
 * WF__INI_VALUE_MAX (%(a)%(a) doubles a value per line: unbounded without
 * it); past either, an error naming the line. */
#define WF__INI_LINE_MAX 8192
#define WF__INI_VALUE_MAX 65536
int wf__ini_read(const char *spec, struct wf__optval **vals, size_t *n,
                 size_t *cap, struct wf_err *err);

/* The ini expansions ($(ENV), %d, %n, %(name), ...) of one value as if it
 * were read from `file` (may be NULL), section `section`, after vals[0..n).
 * A malloc'd string, or NULL with err. For tests. */
char *wf__ini_expand(const char *value, const char *file,
                     const char *section, struct wf__optval *vals, size_t n,
                     struct wf_err *err);

/* ---------------------------------------------------------------- sockets */

enum wf__proto { WF_PROTO_HTTP = 1, WF_PROTO_UWSGI };

struct wf__listener {
    int fd;
    enum wf__proto proto;
    unsigned modifier1;
    int is_unix;
    int inherited;          /* from systemd (LISTEN_FDS): never unlinked */
    int nodelay;            /* TCP_NODELAY set on the listener: Linux
                             * hands it to every accepted socket, so no
                             * setsockopt per connection */
    char path[108];         /* a UNIX socket's absolute path, or "" */
    char *name;             /* as given on the command line */
    char host[128];         /* SERVER_NAME when the request names none */
    char port[8];           /* SERVER_PORT */
    struct wf__listener *next;
};

extern struct wf__listener *wf__listeners;

/* TCP_NODELAY on a listener: a TCP one's accepted sockets inherit it
 * (Linux), so wf__conn_setup makes no setsockopt per connection; a UNIX
 * socket refuses it (l->nodelay stays 0). Every listener gets it when it
 * is added; tests that build their own listener call it themselves. */
void wf__listener_nodelay(struct wf__listener *l);

/* Bind and listen on `addr` (":8080", "127.0.0.1:8080", "[::1]:8080",
 * "/path.sock", "@abstract"). 0 or -1 with err naming the option. */
int wf__socket_listen(const char *opt, const char *addr, enum wf__proto proto,
                      struct wf_err *err);

/* After every configured socket: the systemd sockets (LISTEN_FDS) that
 * matched none are served too (uwsgi protocol). 0 or -1 with err. */
int wf__socket_adopt_rest(struct wf_err *err);

/* proctitle.c: process titles (--procname*, --auto-procname). init: once,
 * in main() after the options were collected (it makes argv[] and the
 * environment strings room for titles); set: printf-style; worker/master:
 * the titles the options ask for, if any. */
void wf__proctitle_init(int argc, char **argv);
void wf__proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void wf__proctitle_worker(unsigned id);
void wf__proctitle_master(void);

/* sdnotify.c: systemd's notification protocol when NOTIFY_SOCKET is set
 * (a datagram per message: "READY=1", "STATUS=...", "RELOADING=1",
 * "STOPPING=1"). wf__sd_init() reads and unsets the variable (workers do
 * not notify); wf__sd_notify() does nothing without it. Master context. */
void wf__sd_init(void);
void wf__sd_notify(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Parse a socket address (see socket.c); passive: an empty host is any
 * address (listen), else loopback (connect). The family, or -1 + why. */
int wf__addr_parse(const char *addr, int passive,
                   struct sockaddr_storage *ss, socklen_t *len, char *why,
                   size_t whylen);

/* ------------------------------------------------------------------ time */

/* Monotonic milliseconds. */
int64_t wf__now_ms(void);

/* ------------------------------------------------------------- the cores */

enum wf__core_state {
    WF_CS_FREE = 0,
    WF_CS_QUEUED,       /* on the run queue */
    WF_CS_RUNNING,
    WF_CS_WAITING,      /* waiting for fds and/or its timer */
    WF_CS_DONE,         /* the body returned; the loop ends the request */
};

struct wf__wait {
    int fd;
    unsigned events;
};

/* A transfer with the client (a request body, a response) under its
 * deadline: the client may keep the core waiting for it --body-deadline
 * (--write-deadline) seconds in all, plus one second per --body-min-rate
 * (--write-min-rate) bytes moved; the time the app takes between two reads
 * or writes is not the client's and is not counted. Each stall is also
 * bounded by --socket-timeout (core/sched.c, wf__client_wait). */
struct wf__xfer {
    uint64_t bytes;
    int64_t waited;         /* ms spent waiting for the client */
};

struct wf__resp {
    char status[128];
    size_t status_len;
    char *hbuf;             /* app headers, "Name: value\r\n"... */
    size_t hlen, hcap;
    char *obuf;             /* body held back until we know its length */
    size_t olen, ocap;
    char *wire;             /* a composed head (wf__resp_compose) */
    size_t wlen, wcap;
    int64_t content_length; /* given by the app, or -1 */
    int64_t length_hint;    /* wf_response_length(), or -1 */
    int refusal;            /* enum wf_http_verdict of the last -EINVAL */
    uint64_t sent;          /* body bytes sent */
    struct wf__xfer rx;     /* the request body's reads */
    struct wf__xfer tx;     /* the response's writes (head included) */
    unsigned nheaders;
    unsigned head_sent : 1;
    unsigned chunked : 1;
    unsigned close : 1;     /* close the connection after this response */
    unsigned no_body : 1;   /* HEAD, 1xx, 204, 304 */
    unsigned status_set : 1;
    unsigned app_connection_close : 1;
    unsigned continue_sent : 1;
    unsigned broken : 1;    /* a write failed: the client is gone */
    unsigned error_reply : 1; /* the core's own error reply (whole) */
};

/* A node of the worker's deadline heap: a core's wait timer, or a
 * connection's head / keep-alive timeout. */
struct wf__tnode {
    int64_t deadline;       /* monotonic ms */
    int heap_idx;           /* -1 when not armed */
    int is_conn;            /* owner: a struct wf__conn, else a wf__core */
};

enum wf__conn_state {
    WF_CONN_READING = 1,    /* the loop reads its next request head */
    WF_CONN_READY,          /* a whole head, waiting for a free core */
    WF_CONN_ACTIVE,         /* a core runs its request */
    WF_CONN_LINGER,         /* answered and closing: our side is shut,
                               the client's late bytes are drained */
};

/*
 * A client connection. It needs no core while it sends its head or sits
 * idle between two requests: slow or idle clients cannot exhaust the cores.
 * It holds the request (head, variables, body state) while a core runs it.
 */
struct wf__conn {
    struct wf__tnode timer; /* first: a tnode with is_conn is a conn */
    enum wf__conn_state state;
    int fd;
    struct wf__listener *lsn;
    char raddr[64], rport[8];

    /* request head and what follows it (body, pipelined requests) */
    char *buf;
    size_t buf_len, buf_cap;
    size_t head_len;        /* 0 while the head is incomplete */
    struct wf__http_scan scan;  /* what the head parser looked at */
    struct wf__req req;

    /* body */
    size_t body_off;        /* next unread byte of buf (after head_len) */
    int64_t body_left;      /* Content-Length bytes still unread */
    struct wf__chunked chunk;
    uint64_t body_read;     /* decoded chunked bytes so far */
    unsigned body_done : 1;
    /* --post-buffering: the whole body, read before the app runs: in
     * pb_mem (up to --post-buffering bytes) or in the unlinked temp file
     * pb_fd; the app's reads are served from there (body.c) */
    unsigned pb_active : 1; /* the app reads from pb_mem or pb_fd */
    unsigned pb_file : 1;   /* pb_fd is open */
    char *pb_mem;
    size_t pb_len, pb_off;
    int pb_fd;

    struct wf__core *core;  /* while ACTIVE */
    struct wf__loop *loop;  /* the loop that owns it */
    struct wf__conn *next;  /* ready queue, free list */
    struct wf__conn *all_prev, *all_next;    /* every live connection */
    struct wf__conn *idle_prev, *idle_next;  /* kept alive, between two
                                                requests */
    int idle;
    uint64_t requests;      /* served on this connection */
    long linger_left;       /* bytes still drained before the close */
    unsigned answered : 1;  /* an error answer went out, or a bad uwsgi
                               packet was dropped: linger */
    unsigned fresh : 1;     /* accepted, its first head not whole yet */
};

struct wf__core {
    struct wf_core pub;     /* first: a struct wf_core * is a wf__core * */
    struct wf__tnode timer; /* the wait timer (the first timeout wins) */
    struct wf__loop *loop;  /* the loop that owns it */
    enum wf__core_state state;
    int idle_wait;          /* loop engine: waiting for the next head */
    struct wf__conn *conn;  /* the request's connection, while busy */

    struct wf__resp resp;

    /* waits: fds, and the timer above */
    struct wf__wait *waits;
    unsigned nwaits, wcap;
    int ready_fd;
    int timed_out;
    int cancelled;          /* harakiri or shutdown: every wait fails */
    int in_request;         /* a request runs (not between two) */
    int parked;             /* its context ended between two chunks; the
                               next one goes on with the request */

    struct wf__core *rq_next;
    const struct wf_lang_ops *lang;
    const struct wf_plugin *lang_plugin;
    int lang_switch;        /* call the lang's save/restore around resume */

    /* accounting */
    uint64_t requests;
    unsigned switches;
    int64_t t_start;
    int64_t t_suspended;    /* when it last gave the worker away */
};

struct wf__strategy;

/*
 * One loop: everything a loop changes while it serves lives here, owned by
 * the thread that runs it (wf__loop_run). A worker runs one loop per
 * thread; configuration (wf__cfg, the engines, the languages) is the only
 * process-wide state on the request path. docs/design.md, "The house".
 */
/* A stopping worker whose cancelled requests do not end exits anyway this
 * long after the cancellation (watchdog.c). */
#define WF__CANCEL_GRACE_MS 3000

struct wf__loop {
    unsigned id;                /* worker number (shown in logs) */
    unsigned thread;            /* its place in the worker, 0.. */
    char name[32];              /* "worker 1" or "worker 1 thread 2" */
    unsigned ncores;
    unsigned core_base;         /* core ids core_base .. +ncores-1 */
    struct wf__core *cores;
    struct wf__core **free;     /* LIFO of free cores */
    unsigned nfree;
    struct wf__core *rq_head, *rq_tail;
    struct wf__core *current;
    struct wf__tnode **heap;    /* timer min-heap */
    unsigned nheap, heap_cap;
    struct wf__conn *ready_head, *ready_tail;  /* heads waiting for a core */
    struct wf__conn *conn_free;                /* pool */
    struct wf__conn *all_head;                 /* live connections */
    struct wf__conn *idle_head, *idle_tail;    /* idle, oldest first */
    unsigned nconns, max_conns;
    unsigned nfresh;            /* connections whose first head is not
                                   whole yet (--threads: they will want
                                   a core) */
    struct wf__listener *listeners;            /* what it accepts on */
    const struct wf__strategy *st;  /* how its cores wait (sched.c) */
    unsigned max_wait_fds;      /* fds one wait passes a loop engine */
    const struct wf_io_ops *io;     /* NULL under a loop engine */
    void *io_st;
    unsigned max_fds;
    struct wf__fdent *fdtab;
    int stopping;               /* 1 graceful, 2 now */
    int64_t stop_deadline;      /* --worker-reload-mercy ends (ms) */
    int64_t cancelled_at;       /* when the mercy cancelled the rest */
    int64_t give_up_at;         /* loop engine: cancelled, not ended */
    int64_t next_harakiri;
    int64_t accept_paused_until;/* accept failed (EMFILE...): retry then */
    void (*waiters[4])(int entering);   /* languages' loop_wait hooks */
    unsigned nwaiters;
    int64_t accept_err_logged;
    int accepting;              /* listeners are in the io set */
    uint64_t requests;
    int sigpipe[2];             /* signals and wf__loop_stop wake it */
    volatile sig_atomic_t got_signal;   /* set by the signal handler */
    struct wf__slot *slot;      /* the scoreboard slot, or NULL */
    struct wf__busy *busy;      /* its record in slot->busy, or NULL */
    unsigned nlang_waiters;     /* waiters[0 .. n) are the languages' */
};

/* What the loop knows of an fd. */
struct wf__fdent {
    struct wf__core *core;      /* the core that waits on it */
    struct wf__conn *conn;      /* or the client connection on it */
    struct wf__listener *lsn;   /* or the listener */
    unsigned interest;          /* WF_IO_* in the io engine now */
};

/* The loop the calling thread runs (NULL outside one). Only for the API
 * calls that name no core; everything else reaches its loop through the
 * core or the connection. */
extern __thread struct wf__loop *wf__L;


/* The active engines, chosen in the master. */
extern const struct wf_io_ops *wf__io_ops;
extern const struct wf_plugin *wf__io_plugin;
extern const struct wf_suspend_ops *wf__sus_ops;
extern const struct wf_plugin *wf__sus_plugin;
extern const struct wf_loop_ops *wf__loop_ops;
extern const struct wf_plugin *wf__loop_plugin;
/* languages by modifier1; wf__lang_default serves modifier1 0 when no
 * language claims 0. */
extern const struct wf_plugin *wf__langs[256];
extern const struct wf_plugin *wf__lang_default;

/* Tests may replace the request body run by wf_core_body(). */
extern void (*wf__core_body_hook)(struct wf_core *c);

/* --threads: at most this many loops (threads) per worker. */
#define WF__MAX_THREADS 256

/* What one loop (thread) of a worker runs now, for the master's harakiri
 * of a loop that does not come back (a CPU-bound request). */
struct wf__busy {
    volatile int64_t since;         /* its loop runs a core since (ms) */
    volatile unsigned core;
    char req[160];                  /* what that core runs */
};

/* master.c: the scoreboard slot of one worker, in shared memory. */
struct wf__slot {
    pid_t pid;
    unsigned id;                    /* worker number, 1.. */
    int64_t born;                   /* monotonic ms */
    volatile int ready;             /* the worker serves */
    volatile int draining;          /* told to stop (replaced) */
    int64_t drain_since;            /* when (ms; the master's clock) */
    int drain_killed;
    volatile int want_replace;      /* 1 max-requests, 2 reload-on-rss */
    volatile int harakiri_sent;
    volatile unsigned busy_cores;   /* cores holding a request (all loops;
                                       wf__core_busy) */
    volatile unsigned cores;        /* cores of all its loops */
    volatile uint64_t requests;     /* every loop's, added atomically */
    volatile long rss_kb;
    unsigned nthreads;              /* busy[0 .. nthreads) are used */
    struct wf__busy busy[WF__MAX_THREADS];  /* per loop (thread) */
};

/* This worker's slot, or NULL without a master. */
extern struct wf__slot *wf__slot;

/* api.c: --async (or 1): the cores of one loop; --threads (or 1): the
 * loops of one worker. wf_ncores() is their product. */
unsigned wf__cores_per_loop(void);
unsigned wf__nthreads(void);

/* Run the master with n workers; returns the exit status. */
int wf__master_run(unsigned n);

/* loop.c: run worker `id` (its set-up, one loop in this thread, its
 * shutdown); 0 on a clean stop. */
int wf__worker_run(unsigned id, struct wf_err *err);

/* worker.c: set when wf__worker_run failed because the app did not load
 * (--lazy-apps); the worker then exits with WF__EXIT_NO_APP, and a master
 * that never had a worker serving stops with status 1 (uWSGI's need-app;
 * weft never runs without its app). */
extern int wf__worker_no_app;

/* --vacuum: remove the UNIX sockets and the pidfile, in the process that
 * made them (the master, or the single worker); a no-op elsewhere. Safe
 * in a signal handler. main.c sets it (the core library has no main, the
 * unit tests leave it NULL); watchdog.c calls it before an _exit. */
extern void (*wf__vacuum_hook)(void);
#define WF__EXIT_NO_APP 22      /* uWSGI's UWSGI_FAILED_APP_CODE */

/* loop.c: loop `thread` (0.., its place among the worker's loops) of
 * worker id, of ncores cores with ids core_base.., accepting on
 * `listeners` (NULL: every listener of the worker), reporting to `slot`
 * (NULL: none). Worker context, after wf__worker_init-level set-up (the
 * engines and the languages chosen, their worker_init done). NULL + err.
 * The loop belongs to the thread that calls wf__loop_run on it. */
struct wf__loop *wf__loop_new(unsigned id, unsigned thread,
                              unsigned ncores, unsigned core_base,
                              struct wf__listener *listeners,
                              struct wf__slot *slot, struct wf_err *err);
/* loop.c: run L in the calling thread until it stops (a signal to the
 * process, or wf__loop_stop). 0 on a clean stop, -1 + err. */
int wf__loop_run(struct wf__loop *L, struct wf_err *err);
/* loop.c: ask L to stop, from any thread or a signal handler: how 1
 * (finish the requests in flight, within --worker-reload-mercy) or 2
 * (now). */
void wf__loop_stop(struct wf__loop *L, int how);
/* loop.c: ask every loop of the process to stop (how as above). */
void wf__loop_stop_all(int how);
/* loop.c: free what wf__loop_new made (after wf__loop_run returned). */
void wf__loop_free(struct wf__loop *L);

/* Stop c's request: the client gets `status` if nothing went out yet, and
 * every wait of the core fails with -ECANCELED from now on. Loop context. */
void wf__core_cancel(struct wf__core *c, int status);
void wf__core_wake_clear(struct wf__core *c);
int wf__io_set(struct wf__loop *L, int fd, unsigned ev);
void wf__runq_push(struct wf__core *c);

/* timer.c: the loop's deadline heap (L->heap, grown as needed).
 * wf__timer_set returns 0, or -ENOMEM. */
int wf__timer_set(struct wf__loop *L, struct wf__tnode *t, int64_t deadline);
void wf__timer_clear(struct wf__loop *L, struct wf__tnode *t);
/* ms until the first deadline (0 when due), or -1 with none. */
long wf__timer_next(struct wf__loop *L, int64_t now);
/* The first due node, removed from the heap, or NULL. */
struct wf__tnode *wf__timer_pop_due(struct wf__loop *L, int64_t now);

/* response.c */
void wf__resp_init(struct wf__core *c);
/* After the last handle(): flush, frame, log. */
void wf__resp_finish(struct wf__core *c, int status);
/* Send what the app wrote so far (it is giving the worker away). */
void wf__resp_flush(struct wf__core *c);

/* n bytes of x moved. Request context. */
void wf__xfer_count(struct wf__xfer *x, size_t n);

/* How long core c may wait now for its client's socket (events: WF_IO_READ
 * for the request body, WF_IO_WRITE for the response): --socket-timeout,
 * or less when the transfer's deadline comes first (*by_deadline is then
 * set). 0: the deadline has passed. */
long wf__client_wait_ms(struct wf__core *c, unsigned events,
                        int *by_deadline);

/* Wait for c's client socket (one place for the body's and the response's
 * waits, every strategy): 1 ready, -ETIMEDOUT when the stall passed
 * --socket-timeout or the transfer its deadline (logged here, saying
 * which), or -errno (-ECANCELED). Request context. */
int wf__client_wait(struct wf__core *c, unsigned events);

/* c's wait for its client ended with no byte: log why (the stall's
 * --socket-timeout, or the deadline when by_deadline) and return
 * -ETIMEDOUT. For waits that the caller arms itself (static.c). */
int wf__client_timed_out(struct wf__core *c, unsigned events,
                         int by_deadline);
/* A complete error response from the loop (bad request). */
void wf__resp_send_error(struct wf__conn *k, int code);
/*
 * The head of c's response for a body of body_len bytes, composed by the
 * one set of rules every response follows (status line, the headers given
 * with wf_response_header, Content-Length, Connection), into
 * c->resp.wire[0..wlen), followed by body[0..blen) when the response has
 * a body (a short error text; counted as sent). For a sender that never
 * waits inside the core (static files, core/static.c): it sends the wire
 * bytes itself, non-blocking, then its file. Marks the head sent. Returns
 * 0, -EINVAL (no status, or the head went out already), -ENOMEM. Loop
 * context, the core's request.
 */
int wf__resp_compose(struct wf__core *c, uint64_t body_len, const char *body,
                     size_t blen);
const char *wf__http_reason(int code);

/* body.c */
void wf__body_init(struct wf__conn *k);
/* Skip what is left of the body before the next request on the
 * connection; 0 when the connection can be reused, -1 otherwise. */
int wf__body_discard(struct wf__conn *k);
/* --post-buffering: read c's whole body before the app runs (into memory
 * up to the limit, then a temp file). 0, or -1 when the request is over
 * (the client got 400/408/413, or is gone). Core context: may wait. */
int wf__body_prebuffer(struct wf__core *c);
/* Free k's post-buffered body (memory, temp file). Any time. */
void wf__body_free(struct wf__conn *k);

/* watchdog.c: the requests this worker served, all its loops'. */
extern uint64_t wf__worker_requests;

/* log.c */
void wf__log_request(struct wf__core *c);
int wf__log_open(const char *path, struct wf_err *err);
extern int wf__log_fd;

/* v in decimal (base 10) or hex (16) at out, no NUL; out has room for 20
 * bytes. Returns the length. snprintf costs ~400-900 instructions a call
 * on the per-request path (docs/performance.md); this costs a few per
 * digit. */
static inline size_t
wf__fmt_uint(char *out, uint64_t v, unsigned base)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    for (i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* An IPv4 address (4 bytes, network order) as inet_ntop writes it, with
 * its NUL, into out (16 bytes): inet_ntop's sprintf cost ~1,700
 * instructions per connection (conn.c). */
void wf__fmt_ipv4(char *out, const unsigned char *a);

/* A core from its public part. */
static inline struct wf__core *
wf__core(struct wf_core *c)
{
    return (struct wf__core *)c;
}

#endif
