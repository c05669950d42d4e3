/*
 * The stats scoreboard and server (core/stats.c), and the access log's
 * options (core/log.c): what the loop, the master and the option table
 * need. Core internal.
 *
 * Every hook below returns at once when --stats is not given: the
 * scoreboard is then not mapped.
 */
#ifndef WEFT_CORE_STATS_H
#define WEFT_CORE_STATS_H

#include <sys/types.h>

#include <weft/plugin.h>

struct wf__core;
struct wf__loop;
struct wf__slot;

/* --stats, --stats-http, --stats-prometheus (ends with { NULL }). */
extern const struct wf_option wf__stats_options[];
/* --log-format, --log-json, --log-slow... (core/log.c). */
extern const struct wf_option wf__log_options[];

/* Master, once the workers' slots are mapped (before the first fork):
 * maps the per-core scoreboard and starts the stats server process. */
void wf__stats_master_start(struct wf__slot *slots, unsigned nslots);

/* Master: a child exited. 1 when it was the stats server (logged; the
 * next wf__stats_master_tick() starts a new one unless stopping), else 0. */
int wf__stats_reaped(pid_t pid, int status, int stopping);

/* Master, every turn of its loop while not stopping: restarts the stats
 * server when one is due (at once after a death, later and later when it
 * keeps dying at start). */
void wf__stats_master_tick(void);

/* Master: worker id (1..) was stopped by --cheaper (cheap 1) or started
 * again (0); the stats list a stopped one as uWSGI does ("cheap", pid 0). */
void wf__stats_cheap(unsigned id, int cheap);

/* Master, when it ends: stops the stats server and reaps it. */
void wf__stats_master_stop(void);

/* Worker, when loop L is made: the first loop of the worker takes its
 * part of the scoreboard (zeroed) and counts the (re)spawn; every loop's
 * lag is watched (through its loop_wait hooks). */
void wf__stats_loop_init(struct wf__loop *L);

/* A request was bound to core c (method and URI known). Loop context. */
void wf__stats_core_begin(struct wf__core *c);

/* The loop resumes core c (running = 1), or c gave the worker away or
 * ended (0: its state says which, and what it waits for). */
void wf__stats_core_switch(struct wf__core *c, int running);

/* A loop engine waits for core c: fd (-1: none) for events, and/or a
 * timer. The engine resumes it with wf__stats_core_switch(c, 1). */
void wf__stats_core_wait(struct wf__core *c, int fd, unsigned events,
                         int timer);

/* c's request is over: counters (status class, bytes, time), idle. Called
 * by the request log, whether or not logging is on. */
void wf__stats_core_end(struct wf__core *c);

/* c's request ended in an error of the app (WF_ERROR). */
void wf__stats_exception(struct wf__core *c);

/* c's request was cancelled by --harakiri. */
void wf__stats_harakiri(struct wf__core *c);

/* A loop engine's heartbeat (about every 500 ms): its lateness is the
 * loop's lag. */
void wf__stats_heartbeat(void);

#endif
