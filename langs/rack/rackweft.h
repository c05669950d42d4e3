/*
 * langs/rack: the Rack language plugin. Internal header shared by the
 * plugin's files; nothing here is exported (the plugin exports only
 * wf_plugin_rack, see local.mk).
 *
 *   rack.c       descriptor, options, init / load_app, handle()
 *   rk_io.c      rack.input (streams the body, buffers it for rewind) and
 *                rack.errors (lines to the log)
 *   rk_module.c  the UWSGI module (async API)
 *
 * Threading: a worker is one Ruby thread (the main one) that holds the GVL
 * the whole time. With --fiber each request runs in its own Ruby fiber,
 * created by engines/fiber; without an engine it runs in the main fiber.
 *
 * GC: every VALUE this plugin keeps outside the C stack is either in a
 * registered global (rb_gc_register_address) or in a struct rk_core, which
 * the mark function of one permanent object (rk.holder) marks.
 */
#ifndef WEFT_LANGS_RACK_RACKWEFT_H
#define WEFT_LANGS_RACK_RACKWEFT_H

#include <ruby.h>

#include "config.h"

#include <stdint.h>
#include <sys/types.h>

#include <weft/plugin.h>

/* Per-core request state: c->lang_ctx points here. */
struct rk_core {
    struct wf_core *core;
    unsigned id;
    uint64_t gen;           /* bumps at the start and the end of a request */
    unsigned active : 1;    /* inside handle() */
    unsigned client_gone : 1;
    unsigned has_clen : 1;  /* the app gave Content-Length */
    int err;                /* errno of the failed write, or 0 */
    unsigned long chunks;   /* body chunks written so far */
    int ret;                /* what handle() returns when no exception */

    /* Marked by rk.holder while set; Qnil otherwise. */
    VALUE env;
    VALUE response;         /* what app.call returned */
    VALUE body;             /* its third element: each + close */
    VALUE input;            /* rack.input of this request */
    VALUE fiber;            /* the fiber handle() runs in */
};

struct rk_global {
    /* options */
    char *rack_file;
    struct wf_strlist requires;
    struct wf_strlist libs;

    int initialized;        /* ruby_init done */
    pid_t init_pid;         /* the process that did it */

    /* registered with rb_gc_register_address */
    VALUE app;
    VALUE env_proto;        /* the constant part of every env (frozen) */
    VALUE errors;           /* rack.errors: one per worker */
    VALUE mUWSGI;
    VALUE cInput;
    VALUE cErrors;
    VALUE holder;           /* marks the cores' VALUEs */


    struct rk_core *cores;
    unsigned ncores;
};

extern struct rk_global rk;

/* rack.c */
struct rk_core *rk_core_of(struct wf_core *c);
void rk_log_exc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *rk_req_line(struct rk_core *rc, char *buf, size_t len);

/* rk_io.c */
void rk_io_define(void);
VALUE rk_input_new(struct rk_core *rc);
void rk_errors_flush(void);

/* rk_module.c */
void rk_module_define(void);
struct rk_core *rk_cur_core(const char *what);
int rk_same_fiber(struct rk_core *rc);

#endif
