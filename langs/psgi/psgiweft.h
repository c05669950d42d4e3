/*
 * langs/psgi: the PSGI language plugin. Internal header shared by the
 * plugin's files; nothing here is exported (the plugin exports only
 * wf_plugin_psgi, see local.mk).
 *
 *   psgi.c       descriptor, options, init / load_app, env, handle()
 *   ps_io.c      psgi.input, psgi.errors, the streaming writer and the
 *                delayed-response responder
 *   ps_module.c  the uwsgi:: package (uWSGI's async API for Perl)
 *
 * One Perl interpreter per process, made in the master and inherited by
 * the workers (Debian's perl is built with MULTIPLICITY: every Perl API
 * macro needs `my_perl`, which is the global below; PERL_NO_GET_CONTEXT
 * saves the thread-local lookup on every call).
 *
 * Perl's stacks (argument, mark, scope, save, tmps, context) are globals
 * of that one interpreter. A request that stops in the middle of a Perl
 * call and lets another request run on the same stacks would corrupt them
 * unless something swaps them per request: Coro does exactly that for its
 * coroutines, so the coroae loop engine can interleave requests; the core's
 * suspend engines (ugreen) switch only C stacks, and are refused.
 */
#ifndef WEFT_LANGS_PSGI_PSGIWEFT_H
#define WEFT_LANGS_PSGI_PSGIWEFT_H

#define PERL_NO_GET_CONTEXT
#include <EXTERN.h>
#include <perl.h>
#include <XSUB.h>

#include "config.h"

#include <stdint.h>
#include <sys/types.h>

#include <weft/plugin.h>

/* Per-core request state: c->lang_ctx points here. */
struct ps_core {
    struct wf_core *core;
    unsigned id;
    uint32_t gen;           /* bumps at the start and the end of a request */
    unsigned active : 1;    /* inside handle() */
    unsigned client_gone : 1;
    unsigned responded : 1; /* the responder was called */
    unsigned closed : 1;    /* the response is complete (writer closed) */
    int err;                /* errno of the failed write, or 0 */
    int efd;                /* eventfd the delayed response waits on, or -1 */
    unsigned long chunks;   /* body chunks written so far */
    HV *env;                /* owned while the request runs */
};

struct ps_global {
    /* options */
    char *psgi_file;
    struct wf_strlist incs;         /* --perl-lib / --perl-inc */
    struct wf_strlist requires;     /* --perl-require / --perl-exec */

    PerlInterpreter *perl;
    pid_t init_pid;
    int initialized;

    SV *app;                /* the app's coderef */
    SV *errors;             /* psgi.errors: one per worker */
    HV *stash_input, *stash_writer;
    SV *loop_sv;            /* $uwsgi::loop (set by a loop engine) */

    struct ps_core *cores;
    unsigned ncores;
};

extern struct ps_global ps;
extern PerlInterpreter *my_perl;

/* psgi.c */
struct ps_core *ps_core_of(struct wf_core *c);
const char *ps_req_line(struct ps_core *rc, char *buf, size_t len);
void ps_log_err(const char *what, struct ps_core *rc);
int ps_send_response(struct ps_core *rc, AV *res, int allow_writer,
                     SV **writer);
int ps_write_sv(struct ps_core *rc, SV *chunk);
void ps_closed(struct ps_core *rc);

/* ps_io.c */
void ps_io_define(void);
SV *ps_input_new(struct ps_core *rc);
SV *ps_responder_new(struct ps_core *rc);
SV *ps_token(struct ps_core *rc, HV *stash);
struct ps_core *ps_token_core(SV *self, const char *what);

/* ps_module.c */
void ps_module_define(void);

#endif
