/*
 * coroae: the loop engine on Coro and AnyEvent (uWSGI's --coroae). PSGI
 * only: it requires the psgi plugin, which starts Perl in the master.
 *
 * Why Coro: Perl keeps its stacks (argument, mark, scope, save, tmps,
 * context) and curcop in its one interpreter; a request that stops in the
 * middle of a Perl call cannot let another request run on the same
 * stacks. Coro swaps all of that per coroutine (and gives a coroutine its
 * own C stack when it stops inside C, as ours do: Perl -> wf_loop_serve ->
 * the app), so each request runs in a Coro coroutine of its own.
 *
 *   worker_init  require Coro, Coro::AnyEvent and AnyEvent (EV when
 *                installed) in the worker, after the fork; EV's default
 *                loop gets loop_fork; the helpers below are compiled.
 *   run()        in the worker's main coroutine: an AE::io watcher per
 *                listening socket and one on the core's control fd, then
 *                a condvar's recv (Coro::AnyEvent runs the event loop while
 *                no coroutine is ready). A readable listener accepts while
 *                wf_loop_accept() gives a core (at most 64 per wake-up) and
 *                starts Coro::async(serve, core id), which is
 *                wf_loop_serve(): one coroutine per connection, for the
 *                connection's life. With no free core the listener
 *                watchers are dropped (the kernel's backlog holds the rest:
 *                no spin); the first connection to end makes them again.
 *   wait()       in a request coroutine: an AE::io watcher per fd and an
 *                AE::timer, all calling one Coro::rouse_cb; rouse_wait
 *                switches away; the watchers go with the wait.
 *   yield()      Coro::cede.
 *   current()    $Coro::current->{weft_core}, set by serve. Coroutines the
 *                app starts itself (Coro::async) have none: the uwsgi::
 *                functions croak there, as uWSGI's do outside a request.
 *
 * Policy is the core's (ABI 1.4): a timer calls wf_loop_tick() every
 * wf_loop_tick_ms() (re-read after each tick and each wf_loop_control());
 * the core does the harakiri heartbeat and checks, the drain of a
 * stopping worker and its mercy, and tells this engine through three ops:
 * cancel() throws uwsgi::RequestCancelled into the core's coroutine
 * ($coro->throw + ready; every later wait of the core fails at once),
 * wake() ends an idle keep-alive wait as if its fd were ready, and
 * backtrace() runs Carp::longmess inside the coroutine (Coro's call) for
 * the harakiri log. run() returns when wf_loop_tick() says 2, or at once
 * on SIGQUIT.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#define PERL_NO_GET_CONTEXT
#include <EXTERN.h>
#include <perl.h>
#include <XSUB.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <weft/plugin.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define CA_MAX_LISTENERS 64
#define CA_ACCEPT_BATCH  64

/* what a wait's rouse callback is called with, besides a ready fd */
#define CA_WOKE_TIMER (-1)
#define CA_WOKE_STOP  (-2)

struct ca_slot {
    struct wf_core *core;   /* set while its coroutine serves it */
    int running;
    int cancelled;
};

static PerlInterpreter *my_perl;

static struct {
    struct ca_slot *slot;
    unsigned n;
    int running;            /* inside run() */
    unsigned long spawned, pauses, killed;
    long cores_opt;
} ca;

/* ------------------------------------------------------ the Perl side */

static const char ca_src[] =
    "package weft::coroae;\n"
    "use strict;\n"
    "use Coro ();\n"
    "use Coro::AnyEvent ();\n"
    "use AnyEvent ();\n"
    "our (@cb, @coro, %lw, $ctl_w, $tick_w, $done);\n"
    "our $cancel = \"uwsgi::RequestCancelled: the request was cancelled \"\n"
    "  . \"by the server (harakiri or reload)\\n\";\n"
    "sub wait_fds {\n"
    "  my $id = shift; my $t = shift;\n"
    "  my $cb = Coro::rouse_cb();\n"
    "  my @w;\n"
    "  while (@_) {\n"
    "    my $fd = shift; my $ev = shift;\n"
    "    push @w, AE::io($fd, 0, sub { $cb->($fd) }) if $ev & 1 or !($ev & 2);\n"
    "    push @w, AE::io($fd, 1, sub { $cb->($fd) }) if $ev & 2;\n"
    "  }\n"
    "  push @w, AE::timer($t / 1000, 0, sub { $cb->(-1) }) if $t >= 0;\n"
    "  $cb[$id] = $cb if $id >= 0;\n"
    "  my @r = eval { Coro::rouse_wait($cb) };\n"
    "  $cb[$id] = undef if $id >= 0;\n"
    "  die $@ if $@;\n"
    "  return $r[0];\n"
    "}\n"
    "sub spawn {\n"
    "  my $id = shift;\n"
    "  my $c = Coro::async(sub { weft::coroae::_serve($id) });\n"
    "  $c->{weft_core} = $id;\n"
    "  $c->{desc} = \"weft core $id\";\n"
    "  $coro[$id] = $c;\n"
    "}\n"
    "sub listeners {\n"
    "  my $on = shift;\n"
    "  if (!$on) { %lw = (); return }\n"
    "  for my $fd (@_) {\n"
    "    $lw{$fd} = AE::io($fd, 0, sub { weft::coroae::_accept($fd) });\n"
    "  }\n"
    "}\n"
    "sub kill_core {\n"
    "  my $id = shift; my $c = $coro[$id] or return;\n"
    "  $c->throw($cancel);\n"
    "  $c->ready;\n"
    "}\n"
    "sub stack_of {\n"
    "  my $id = shift; my $c = $coro[$id] or return '';\n"
    "  my $s = '';\n"
    "  eval { $c->call(sub { require Carp; local $Carp::CarpLevel = 0;\n"
    "    $s = Carp::longmess('waits') }); 1 };\n"
    "  return join(\"\\n\", reverse map { s/^\\s+//r } split /\\n/, $s);\n"
    "}\n"
    "sub wake_idle { for my $id (@_) { $cb[$id]->(-2) if $cb[$id] } }\n"
    "sub run {\n"
    "  my ($ctl) = @_;\n"
    "  $done = AE::cv();\n"
    "  $ctl_w = AE::io($ctl, 0, sub { weft::coroae::_control() });\n"
    "  $done->recv;\n"
    "  %lw = (); undef $ctl_w; undef $tick_w;\n"
    "}\n"
    "sub arm_tick {\n"
    "  my $ms = shift;\n"
    "  $tick_w = $ms > 0 ? AE::timer($ms / 1000, $ms / 1000,\n"
    "    sub { weft::coroae::_tick() }) : undef;\n"
    "}\n"    "sub finish { $done->send if $done }\n"
    "1;\n";

static void
ca_call(const char *fn, const char *fmt, ...)
{
    dSP;
    va_list ap;

    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        XPUSHs(sv_2mortal(newSViv(va_arg(ap, int))));
    }
    va_end(ap);
    PUTBACK;
    call_pv(fn, G_DISCARD | G_EVAL);
    FREETMPS;
    LEAVE;
    if (SvTRUE(ERRSV)) {
        wf_log(WF_LOG_ERROR, "coroae: %s failed: %s", fn,
               SvPV_nolen(ERRSV));
        sv_setpvs(ERRSV, "");
    }
}

static struct ca_slot *
ca_slot_of(const struct wf_core *c)
{
    if (c == NULL || ca.slot == NULL || c->id >= ca.n ||
        ca.slot[c->id].core != c) {
        return NULL;
    }
    return &ca.slot[c->id];
}

/* ------------------------------------------------------- XS primitives */

static int accepting;

static void
ca_listeners(int on)
{
    int fds[CA_MAX_LISTENERS], n;
    dSP;

    if (accepting == on) {
        return;
    }
    accepting = on;
    if (!on) {
        ca_call("weft::coroae::listeners", "i", 0);
        return;
    }
    n = wf_loop_listeners(fds, CA_MAX_LISTENERS);
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newSViv(1)));
    for (int i = 0; i < n; i++) {
        XPUSHs(sv_2mortal(newSViv(fds[i])));
    }
    PUTBACK;
    call_pv("weft::coroae::listeners", G_DISCARD | G_EVAL);
    FREETMPS;
    LEAVE;
    if (SvTRUE(ERRSV)) {
        wf_log(WF_LOG_ERROR, "coroae: watching the listeners failed: %s",
               SvPV_nolen(ERRSV));
        sv_setpvs(ERRSV, "");
    }
}

static int ca_stopping;

/* _serve($id): the body of a connection's coroutine. */
static XS(xs_serve)
{
    dXSARGS;
    UV id = items > 0 ? SvUV(ST(0)) : (UV)-1;
    struct ca_slot *s;

    if (id >= ca.n || ca.slot[id].core == NULL) {
        WF_BUG("coroae: serve() of core %lu, which has no connection",
               (unsigned long)id);
    }
    s = &ca.slot[id];
    s->running = 1;
    wf_loop_serve(s->core);
    s->core = NULL;
    s->running = 0;
    s->cancelled = 0;
    if (!ca_stopping && wf_loop_room() > 0) {
        ca_listeners(1);
    }
    XSRETURN_EMPTY;
}

/* _accept($fd): a listener is readable. */
static XS(xs_accept)
{
    dXSARGS;
    int fd = (int)SvIV(ST(0)), i;

    PERL_UNUSED_VAR(items);
    for (i = 0; i < CA_ACCEPT_BATCH && wf_loop_room() > 0; i++) {
        struct wf_core *c = wf_loop_accept(fd);

        if (c == NULL) {
            break;
        }
        ca.slot[c->id].core = c;
        ca.slot[c->id].running = 0;
        ca.slot[c->id].cancelled = 0;
        ca_call("weft::coroae::spawn", "i", (int)c->id);
        ca.spawned++;
    }
    if (wf_loop_room() == 0) {
        /* every core busy: let the backlog hold the rest (no spin) */
        ca_listeners(0);
        ca.pauses++;
    }
    XSRETURN_EMPTY;
}

/* Arm the core's policy timer for wf_loop_tick_ms() (re-read after each
 * wf_loop_control() and wf_loop_tick()). */
static long ca_tick_ms = -1;

static void
ca_tick_arm(void)
{
    long ms = wf_loop_tick_ms();

    if (ms == ca_tick_ms) {
        return;
    }
    ca_tick_ms = ms;
    ca_call("weft::coroae::arm_tick", "i", (int)(ms > 0 ? ms : 0));
}

/* _tick(): the core's policy (harakiri, drain, mercy) on our timer. */
static XS(xs_tick)
{
    dXSARGS;

    PERL_UNUSED_VAR(items);
    if (wf_loop_tick() == 2) {
        ca_call("weft::coroae::finish", "");
    } else {
        ca_tick_arm();
    }
    XSRETURN_EMPTY;
}

/* _control(): the control fd is readable. */
static XS(xs_control)
{
    dXSARGS;
    int r = wf_loop_control();

    PERL_UNUSED_VAR(items);
    if (r == 0 || r <= ca_stopping) {
        XSRETURN_EMPTY;
    }
    ca_listeners(0);
    ca_stopping = r;
    if (r == 2) {
        ca_call("weft::coroae::finish", "");
        XSRETURN_EMPTY;
    }
    if (wf_loop_tick() == 2) {
        ca_call("weft::coroae::finish", "");
    } else {
        ca_tick_arm();
    }
    XSRETURN_EMPTY;
}

/* The core cancelled c (harakiri, the mercy ran out): throw
 * uwsgi::RequestCancelled into its coroutine; every later wait of the
 * core fails at once. A coroutine not started yet only gets the mark: its
 * waits fail, and wf_loop_serve() frees the core. */
static void
ca_cancel(struct wf_core *c)
{
    struct ca_slot *s = ca_slot_of(c);

    if (s == NULL || s->cancelled) {
        return;
    }
    s->cancelled = 1;
    if (s->running) {
        ca_call("weft::coroae::kill_core", "i", (int)c->id);
        ca.killed++;
    }
}

/* The core drains: end c's idle wait as if its fd were ready. */
static void
ca_wake(struct wf_core *c)
{
    if (ca_slot_of(c) != NULL) {
        ca_call("weft::coroae::wake_idle", "i", (int)c->id);
    }
}

/* Where c's coroutine waits (Carp::longmess run inside it with Coro's
 * call), innermost last, for the harakiri log. */
static size_t
ca_backtrace(struct wf_core *c, char *buf, size_t len)
{
    size_t n = 0;
    int cnt;
    SV *st = NULL;
    dSP;

    if (ca_slot_of(c) == NULL || len == 0) {
        return 0;
    }
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    mXPUSHi((IV)c->id);
    PUTBACK;
    cnt = call_pv("weft::coroae::stack_of", G_SCALAR | G_EVAL);
    SPAGAIN;
    if (cnt == 1) {
        st = POPs;
    }
    PUTBACK;
    if (st != NULL && SvOK(st)) {
        STRLEN l;
        const char *p = SvPV(st, l);

        n = l < len - 1 ? l : len - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
    }
    FREETMPS;
    LEAVE;
    sv_setpvs(ERRSV, "");
    return n;
}

/* ---------------------------------------------------------- the engine */

/* --coroae N: --async N, and --socket-timeout at least 30, as --gevent. */
static int
ca_on_coroae(const struct wf_option *o, const char *value,
             struct wf_err *err)
{
    if (wf_opt_set("async", value, err) < 0) {
        return -1;
    }
    if (wf_opt_long("socket-timeout", 0) < 30 &&
        wf_opt_set("socket-timeout", "30", err) < 0) {
        return -1;
    }
    return 0;
}

static int
ca_worker_init(unsigned ncores, struct wf_err *err)
{
    SV *v;
    char model[128];

#if WF_BUILD_FLAGS & WF_BUILD_F_ASAN
    return wf_err_set(err, "--coroae: Coro switches C stacks, which "
                      "AddressSanitizer cannot follow; use a build without "
                      "--enable-sanitizers");
#endif
    my_perl = PERL_GET_CONTEXT;
    if (my_perl == NULL) {
        return wf_err_set(err, "--coroae: Perl is not running; the psgi "
                          "plugin starts it (give --psgi app.psgi)");
    }
    newXS("weft::coroae::_serve", xs_serve, __FILE__);
    newXS("weft::coroae::_accept", xs_accept, __FILE__);
    newXS("weft::coroae::_control", xs_control, __FILE__);
    newXS("weft::coroae::_tick", xs_tick, __FILE__);
    eval_pv("eval { require EV; EV::default_loop()->loop_fork; 1 }", FALSE);
    sv_setpvs(ERRSV, "");
    eval_pv(ca_src, FALSE);
    if (SvTRUE(ERRSV)) {
        char first[300];
        const char *m = SvPV_nolen(ERRSV);
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(m, "\n"), m);
        sv_setpvs(ERRSV, "");
        return wf_err_set(err, "--coroae: cannot load Coro and AnyEvent "
                          "(%s); apt-get install libcoro-perl "
                          "libanyevent-perl libev-perl", first);
    }
    v = eval_pv("AnyEvent::detect() . ' ' . ($AnyEvent::VERSION // '?') "
                ". ', Coro ' . $Coro::VERSION", FALSE);
    snprintf(model, sizeof(model), "%s", v && SvOK(v) ? SvPV_nolen(v) : "?");
    sv_setpvs(ERRSV, "");
    sv_setpvs(get_sv("uwsgi::loop", GV_ADD), "coroae");
    ca.slot = calloc(ncores ? ncores : 1, sizeof(*ca.slot));
    if (ca.slot == NULL) {
        return wf_err_set(err, "coroae: out of memory for %u cores", ncores);
    }
    ca.n = ncores ? ncores : 1;
    if (wf_socket_timeout_ms() < 30000) {
        wf_log(WF_LOG_WARN, "coroae: --socket-timeout %lds is below 30",
               wf_socket_timeout_ms() / 1000);
    }
    wf_log(WF_LOG_INFO, "coroae: %u core%s (one Coro coroutine per "
           "connection), AnyEvent model %s", ca.n, ca.n == 1 ? "" : "s",
           model);
    return 0;
}

static int
ca_run(struct wf_err *err)
{
    dSP;

    if (ca.slot == NULL) {
        return wf_err_set(err, "coroae: run() without worker_init()");
    }
    ca.running = 1;
    ca_stopping = 0;
    ca_tick_ms = -1;
    ca_listeners(1);
    ca_tick_arm();
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newSViv(wf_loop_control_fd())));
    PUTBACK;
    call_pv("weft::coroae::run", G_DISCARD | G_EVAL);
    FREETMPS;
    LEAVE;
    ca.running = 0;
    accepting = 0;
    if (SvTRUE(ERRSV)) {
        wf_err_set(err, "coroae: the event loop ended with: %s",
                   SvPV_nolen(ERRSV));
        sv_setpvs(ERRSV, "");
        return -1;
    }
    wf_log(WF_LOG_INFO, "coroae: worker %u (pid %d) stopped: %lu "
           "connections served, accepting paused %lu times (all cores "
           "busy), %lu requests cancelled", wf_worker_id(), (int)getpid(),
           ca.spawned, ca.pauses, ca.killed);
    return 0;
}

static int
ca_wait(struct wf_core *c, const struct wf_io_event *fds, int n,
        long timeout_ms, int *ready_fd)
{
    struct ca_slot *s = ca_slot_of(c);
    SV *saved_err;
    int ret, cnt;
    IV v = CA_WOKE_STOP;
    dSP;

    if (s != NULL && s->cancelled) {
        return -ECANCELED;
    }
    /* the app's $@ survives our eval */
    saved_err = newSVsv(ERRSV);
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    mXPUSHi(s != NULL ? (IV)c->id : -1);
    mXPUSHi(timeout_ms);
    for (int i = 0; i < n; i++) {
        mXPUSHi(fds[i].fd);
        mXPUSHi(fds[i].events);
    }
    PUTBACK;
    cnt = call_pv("weft::coroae::wait_fds", G_SCALAR | G_EVAL);
    SPAGAIN;
    if (cnt == 1) {
        SV *r = POPs;
        v = SvOK(r) ? SvIV(r) : CA_WOKE_STOP;
    }
    PUTBACK;
    if (SvTRUE(ERRSV)) {
        /* cancelled (harakiri, mercy), or something threw into it */
        if (s != NULL && !s->cancelled) {
            wf_log(WF_LOG_WARN, "coroae: core %u: its wait was interrupted "
                   "by %s; cancelling the request", c->id,
                   SvPV_nolen(ERRSV));
        }
        if (s != NULL) {
            s->cancelled = 1;
        }
        ret = -ECANCELED;
    } else if (v == CA_WOKE_TIMER) {
        ret = 0;
    } else if (v == CA_WOKE_STOP) {
        *ready_fd = n > 0 ? fds[0].fd : -1;
        ret = n > 0 ? 1 : 0;
    } else {
        *ready_fd = (int)v;
        ret = 1;
    }
    FREETMPS;
    LEAVE;
    sv_setsv(ERRSV, saved_err);
    SvREFCNT_dec(saved_err);
    return ret;
}

static int
ca_yield(struct wf_core *c)
{
    struct ca_slot *s = ca_slot_of(c);
    SV *saved_err;
    int ret = 0;

    if (s != NULL && s->cancelled) {
        return -ECANCELED;
    }
    saved_err = newSVsv(ERRSV);
    eval_pv("Coro::cede(); 1", FALSE);
    if (SvTRUE(ERRSV)) {
        if (s != NULL) {
            s->cancelled = 1;
        }
        ret = -ECANCELED;
    }
    sv_setsv(ERRSV, saved_err);
    SvREFCNT_dec(saved_err);
    return ret;
}

static struct wf_core *
ca_current(void)
{
    SV *cur;
    SV **id;

    if (!ca.running || my_perl == NULL) {
        return NULL;
    }
    cur = get_sv("Coro::current", 0);
    if (cur == NULL || !SvROK(cur) || SvTYPE(SvRV(cur)) != SVt_PVHV) {
        return NULL;
    }
    id = hv_fetchs((HV *)SvRV(cur), "weft_core", 0);
    if (id == NULL || !SvOK(*id)) {
        return NULL;
    }
    UV i = SvUV(*id);
    return i < ca.n ? ca.slot[i].core : NULL;
}

static void
ca_worker_fini(void)
{
    free(ca.slot);
    ca.slot = NULL;
    ca.n = 0;
}

static const struct wf_loop_ops ca_ops = {
    .worker_init = ca_worker_init,
    .run         = ca_run,
    .wait        = ca_wait,
    .yield       = ca_yield,
    .current     = ca_current,
    .worker_fini = ca_worker_fini,
    .cancel      = ca_cancel,
    .wake        = ca_wake,
    .backtrace   = ca_backtrace,
};

static const struct wf_option ca_options[] = {
    { "coroae", WF_OPT_INT, &ca.cores_opt, NULL, 1, 100000,
      WF_OPT_F_SELECT, "the Coro::AnyEvent loop with N cores (connections "
      "at once): --loop coroae --async N, and --socket-timeout at least 30",
      0, ca_on_coroae, "N" },
    { NULL }
};

static const char *const ca_requires[] = { "psgi", NULL };

WF_PLUGIN(coroae,
          .version  = PACKAGE_VERSION,
          .kind     = WF_KIND_LOOP,
          .ops      = &ca_ops,
          .options  = ca_options,
          .requires = ca_requires,
          .needs    = "the psgi plugin (Perl " PERL_VERSION_STRING "), Coro "
                      "and AnyEvent (libcoro-perl, libanyevent-perl; "
                      "libev-perl for EV)",
          .summary  = "loop engine: Coro coroutines on AnyEvent, one per "
                      "connection (PSGI only)",
          .flags    = WF_PLUGIN_F_GLOBAL);
