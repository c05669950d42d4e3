/*
 * The uwsgi:: Perl package: uWSGI's async API for PSGI apps, as uWSGI's
 * psgi plugin exports it, where it applies to weft's async modes:
 *
 *   uwsgi::async_sleep($secs)         arm the core's timer (no switch)
 *   uwsgi::wait_fd_read($fd [, $t])   register a wait (no switch)
 *   uwsgi::wait_fd_write($fd [, $t])
 *   uwsgi::suspend()                  switch until a wait fires (under
 *                                     --coroae; a no-op without a loop)
 *   uwsgi::ready_fd()                 the fd that woke the core, or -1
 *   uwsgi::timed_out()                ours: 1 when the timer woke it
 *   uwsgi::async_connect($addr)       non-blocking connect; the fd or -1
 *   uwsgi::is_connected($fd)
 *   uwsgi::connection_fd()  uwsgi::worker_id()  uwsgi::core_id()
 *   uwsgi::cores()  uwsgi::version()  uwsgi::log($msg)
 *
 * Seconds may be fractions (uWSGI: integers only). A function that needs a
 * request croaks outside one. A cancelled request (harakiri, reload past
 * the mercy) makes suspend die with "uwsgi::RequestCancelled".
 */
#include "psgiweft.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/socket.h>

static struct ps_core *
cur_core(const char *what)
{
    struct wf_core *c = wf_core_current();
    struct ps_core *rc;

    if (c == NULL || ps.cores == NULL || c->id >= ps.ncores ||
        !(rc = &ps.cores[c->id])->active) {
        croak("you can call uwsgi api function only from the main callable "
              "(uwsgi::%s outside a request)", what);
    }
    return rc;
}

/* Seconds as milliseconds; undef and <= 0 give 0, anything positive at
 * least 1 ms. */
static long
secs_to_ms(SV *v)
{
    NV d;

    if (v == NULL || !SvOK(v)) {
        return 0;
    }
    d = SvNV(v);
    if (Perl_isnan(d) || d <= 0) {
        return 0;
    }
    d = ceil(d * 1000.0);
    return d >= (NV)LONG_MAX ? LONG_MAX : (long)d;
}

static XS(xs_suspend)
{
    dXSARGS;
    struct ps_core *rc = cur_core("suspend");

    PERL_UNUSED_VAR(items);
    if (wf_suspend(rc->core) == -ECANCELED) {
        croak("uwsgi::RequestCancelled: the request was cancelled by the "
              "server (client gone, harakiri or shutdown)\n");
    }
    XSRETURN_YES;
}

static XS(xs_async_sleep)
{
    dXSARGS;
    struct ps_core *rc = cur_core("async_sleep");
    long ms = secs_to_ms(items > 0 ? ST(0) : NULL);

    if (ms > 0) {
        wf_wait_timer(rc->core, ms);
    }
    XSRETURN_YES;
}

static void
wait_fd(pTHX_ CV *cv, SV **args, I32 items, unsigned ev, const char *name)
{
    struct ps_core *rc = cur_core(name);
    int fd;
    long ms;

    if (items < 1) {
        croak("usage: uwsgi::%s($fd [, $timeout])", name);
    }
    fd = (int)SvIV(args[0]);
    ms = secs_to_ms(items > 1 ? args[1] : NULL);
    if (fd < 0 || wf_wait_fd(rc->core, fd, ev) < 0) {
        croak("unable to add fd %d to the event queue", fd);
    }
    if (ms > 0) {
        wf_wait_timer(rc->core, ms);
    }
}

static XS(xs_wait_fd_read)
{
    dXSARGS;
    wait_fd(aTHX_ cv, &ST(0), items, WF_IO_READ, "wait_fd_read");
    XSRETURN_YES;
}

static XS(xs_wait_fd_write)
{
    dXSARGS;
    wait_fd(aTHX_ cv, &ST(0), items, WF_IO_WRITE, "wait_fd_write");
    XSRETURN_YES;
}

static XS(xs_ready_fd)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_IV(wf_ready_fd(cur_core("ready_fd")->core));
}

static XS(xs_timed_out)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_IV(wf_timed_out(cur_core("timed_out")->core));
}

static XS(xs_connection_fd)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_IV(wf_req_fd(cur_core("connection_fd")->core));
}

static XS(xs_core_id)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_UV(cur_core("core_id")->id);
}

static XS(xs_worker_id)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_UV(wf_worker_id());
}

static XS(xs_cores)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_UV(wf_ncores());
}

static XS(xs_version)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    ST(0) = sv_2mortal(newSVpv(wf_version(), 0));
    XSRETURN(1);
}

static XS(xs_log)
{
    dXSARGS;
    STRLEN l;
    const char *p;

    if (items != 1) {
        croak("usage: uwsgi::log($message)");
    }
    p = SvPV(ST(0), l);
    wf_log(WF_LOG_INFO, "%.*s", (int)l, p);
    XSRETURN_YES;
}

static XS(xs_async_connect)
{
    dXSARGS;
    int fd;

    if (items != 1) {
        croak("usage: uwsgi::async_connect($addr)");
    }
    fd = wf_connect_start(SvPV_nolen(ST(0)));
    XSRETURN_IV(fd < 0 ? -1 : fd);
}

static XS(xs_is_connected)
{
    dXSARGS;
    int soerr = 0;
    socklen_t l = sizeof(soerr);

    if (items != 1) {
        croak("usage: uwsgi::is_connected($fd)");
    }
    if (getsockopt((int)SvIV(ST(0)), SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 ||
        soerr != 0) {
        XSRETURN_NO;
    }
    XSRETURN_YES;
}

/* Define the uwsgi:: functions. Master, at init. */
void
ps_module_define(void)
{
    newXS("uwsgi::suspend", xs_suspend, __FILE__);
    newXS("uwsgi::async_sleep", xs_async_sleep, __FILE__);
    newXS("uwsgi::wait_fd_read", xs_wait_fd_read, __FILE__);
    newXS("uwsgi::wait_fd_write", xs_wait_fd_write, __FILE__);
    newXS("uwsgi::ready_fd", xs_ready_fd, __FILE__);
    newXS("uwsgi::timed_out", xs_timed_out, __FILE__);
    newXS("uwsgi::connection_fd", xs_connection_fd, __FILE__);
    newXS("uwsgi::core_id", xs_core_id, __FILE__);
    newXS("uwsgi::worker_id", xs_worker_id, __FILE__);
    newXS("uwsgi::cores", xs_cores, __FILE__);
    newXS("uwsgi::version", xs_version, __FILE__);
    newXS("uwsgi::log", xs_log, __FILE__);
    newXS("uwsgi::async_connect", xs_async_connect, __FILE__);
    newXS("uwsgi::is_connected", xs_is_connected, __FILE__);
    sv_setpv(get_sv("uwsgi::VERSION", GV_ADD), wf_version());
}
