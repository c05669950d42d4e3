/*
 * The UWSGI Ruby module: uWSGI's async API for Rack apps (docs/langs/rack.md, "The UWSGI module"), kept
 * where apps depend on it and fixed where uWSGI is broken:
 *
 *   suspend          a no-op returning true without a suspend engine
 *                    (uWSGI segfaults)
 *   async_sleep      Integer or Float seconds, millisecond resolution
 *                    (uWSGI: Integer only)
 *   wait_fd_read     the timeout is optional and may be a Float
 *   wait_fd_write    (uWSGI: two mandatory Integers)
 *   ready_fd         ours: the fd that woke the core, or -1
 *   core_id          ours: the current core
 *
 * Only suspend switches. The waits register, and the app then calls
 * UWSGI.suspend; the Rack handler never returns to the loop in the middle
 * of a request, so a wait without a suspend is dropped at the request's
 * end. A function that needs a request raises RuntimeError outside one.
 */
#include "rackweft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static VALUE eCancelled;

/* The running request's core, or uWSGI's RuntimeError. */
struct rk_core *
rk_cur_core(const char *what)
{
    struct wf_core *c = wf_core_current();
    struct rk_core *rc;

    if (c == NULL || rk.cores == NULL || c->id >= rk.ncores ||
        !(rc = &rk.cores[c->id])->active) {
        rb_raise(rb_eRuntimeError, "you can call UWSGI api function only "
                 "from the main callable (UWSGI.%s outside a request)",
                 what);
    }
    return rc;
}

/* 1 when Ruby runs in the fiber that handle() runs in, or when no engine
 * switches (then no switch happens anyway). A switch from another fiber
 * (one the app made: Enumerator#next) would land in the app's resumer,
 * not in the loop. */
int
rk_same_fiber(struct rk_core *rc)
{
    return !wf_has_suspend_engine() || rb_fiber_current() == rc->fiber;
}

static void
check_fiber(struct rk_core *rc, const char *what)
{
    if (!rk_same_fiber(rc)) {
        rb_raise(rb_eRuntimeError, "UWSGI.%s called from another Fiber than "
                 "the request's (an Enumerator's next?); call it from the "
                 "request itself", what);
    }
}

/*
 * Seconds (Integer, Float, or any Numeric) as milliseconds; <= 0 and nil
 * give 0 (nothing to arm), any positive value at least 1 ms.
 */
static long
secs_to_ms(VALUE v, const char *what)
{
    double d;

    if (NIL_P(v)) {
        return 0;
    }
    if (FIXNUM_P(v)) {
        long s = FIX2LONG(v);
        if (s <= 0) {
            return 0;
        }
        return s > LONG_MAX / 1000 ? LONG_MAX : s * 1000;
    }
    if (!rb_obj_is_kind_of(v, rb_cNumeric)) {
        rb_raise(rb_eTypeError, "UWSGI.%s: seconds must be an Integer or a "
                 "Float, not %s", what, rb_obj_classname(v));
    }
    d = NUM2DBL(v);
    if (isnan(d)) {
        rb_raise(rb_eArgError, "UWSGI.%s: seconds is NaN", what);
    }
    if (d <= 0) {
        return 0;
    }
    d = ceil(d * 1000.0);
    return d >= (double)LONG_MAX ? LONG_MAX : (long)d;
}

static VALUE
m_suspend(VALUE self)
{
    struct rk_core *rc = rk_cur_core("suspend");

    check_fiber(rc, "suspend");
    if (wf_suspend(rc->core) == -ECANCELED) {
        rb_raise(eCancelled, "the request was cancelled by the server "
                 "(client gone, harakiri or shutdown)");
    }
    return Qtrue;
}

static VALUE
m_async_sleep(VALUE self, VALUE secs)
{
    struct rk_core *rc = rk_cur_core("async_sleep");
    long ms = secs_to_ms(secs, "async_sleep");

    if (ms > 0) {
        wf_wait_timer(rc->core, ms);
    }
    return Qtrue;
}

static VALUE
wait_fd(int argc, VALUE *argv, unsigned ev, const char *name)
{
    struct rk_core *rc = rk_cur_core(name);
    VALUE vfd, vtmo;
    long ms;
    int fd;

    rb_scan_args(argc, argv, "11", &vfd, &vtmo);
    fd = NUM2INT(vfd);
    ms = secs_to_ms(vtmo, name);
    if (fd < 0 || wf_wait_fd(rc->core, fd, ev) < 0) {
        rb_raise(rb_eRuntimeError, "unable to add fd %d to the event queue",
                 fd);
    }
    if (ms > 0) {
        wf_wait_timer(rc->core, ms);
    }
    return Qtrue;
}

static VALUE
m_wait_fd_read(int argc, VALUE *argv, VALUE self)
{
    return wait_fd(argc, argv, WF_IO_READ, "wait_fd_read");
}

static VALUE
m_wait_fd_write(int argc, VALUE *argv, VALUE self)
{
    return wait_fd(argc, argv, WF_IO_WRITE, "wait_fd_write");
}

static VALUE
m_ready_fd(VALUE self)
{
    return INT2NUM(wf_ready_fd(rk_cur_core("ready_fd")->core));
}

static VALUE
m_timed_out(VALUE self)
{
    return wf_timed_out(rk_cur_core("timed_out?")->core) ? Qtrue : Qfalse;
}

static VALUE
m_connection_fd(VALUE self)
{
    return INT2NUM(wf_req_fd(rk_cur_core("connection_fd")->core));
}

static VALUE
m_core_id(VALUE self)
{
    return UINT2NUM(rk_cur_core("core_id")->id);
}

static VALUE
m_worker_id(VALUE self)
{
    return UINT2NUM(wf_worker_id());
}

static VALUE
m_cores(VALUE self)
{
    return UINT2NUM(wf_ncores());
}

static VALUE
m_version(VALUE self)
{
    return rb_str_new_cstr(wf_version());
}

static VALUE
m_log(VALUE self, VALUE msg)
{
    msg = rb_obj_as_string(msg);
    wf_log(WF_LOG_INFO, "%.*s", (int)RSTRING_LEN(msg), RSTRING_PTR(msg));
    return Qtrue;
}

/* async_connect(addr): a non-blocking socket with connect() started; the
 * fd (wait for writability, then is_connected), or -1. */
static VALUE
m_async_connect(VALUE self, VALUE addr)
{
    int fd = wf_connect_start(StringValueCStr(addr));

    return INT2NUM(fd < 0 ? -1 : fd);
}

static VALUE
m_is_connected(VALUE self, VALUE vfd)
{
    int soerr = 0;
    socklen_t l = sizeof(soerr);

    if (getsockopt(NUM2INT(vfd), SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 ||
        soerr != 0) {
        return Qfalse;
    }
    return Qtrue;
}

/* Define the UWSGI module (and UWSGI::VERSION). Master, at init. */
void
rk_module_define(void)
{
    VALUE m = rb_define_module("UWSGI");

    rk.mUWSGI = m;
    rb_define_const(m, "VERSION", rb_obj_freeze(rb_str_new_cstr(
        wf_version())));
    eCancelled = rb_define_class_under(m, "RequestCancelled",
                                       rb_eException);
    rb_define_module_function(m, "suspend", m_suspend, 0);
    rb_define_module_function(m, "async_sleep", m_async_sleep, 1);
    rb_define_module_function(m, "wait_fd_read", m_wait_fd_read, -1);
    rb_define_module_function(m, "wait_fd_write", m_wait_fd_write, -1);
    rb_define_module_function(m, "ready_fd", m_ready_fd, 0);
    rb_define_module_function(m, "timed_out?", m_timed_out, 0);
    rb_define_module_function(m, "async_connect", m_async_connect, 1);
    rb_define_module_function(m, "is_connected", m_is_connected, 1);
    rb_define_module_function(m, "connection_fd", m_connection_fd, 0);
    rb_define_module_function(m, "core_id", m_core_id, 0);
    rb_define_module_function(m, "worker_id", m_worker_id, 0);
    rb_define_module_function(m, "cores", m_cores, 0);
    rb_define_module_function(m, "version", m_version, 0);
    rb_define_module_function(m, "log", m_log, 1);
}
