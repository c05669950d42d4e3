/*
 * langs/psgi: PSGI 1.1 apps on an embedded Perl 5.
 *
 * handle() runs the whole request in one call, as uWSGI's psgi plugin
 * does: build the env, call the app in eval, then one of the three
 * response forms:
 *   [status, headers, \@body]       every chunk written; Content-Length
 *                                   added when the app gave none
 *   [status, headers, $fh]          a real file (a glob with a fileno of
 *                                   a regular file) goes out with
 *                                   sendfile from its position; anything
 *                                   else is read with getline until undef
 *                                   and closed
 *   sub { my $responder = shift }   delayed: the responder takes
 *                                   [status, headers, body] (sent as
 *                                   above) or [status, headers] (it then
 *                                   returns a writer: write, close)
 * It returns WF_DONE or WF_ERROR, never WF_AGAIN. Concurrency comes from
 * the coroae loop engine (loops/coroae), which runs each request in a Coro
 * coroutine: Coro then keeps Perl's stacks per request.
 *
 * Every call into Perl is in eval (G_EVAL): `die` in the app gives a 500
 * and the message in the log, and the worker goes on serving.
 */
#include "psgiweft.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_global ps;
PerlInterpreter *my_perl;

/* ------------------------------------------------------------ options */

static const struct wf_option psgi_options[] = {
    { "psgi", WF_OPT_STR, &ps.psgi_file, NULL, 0, 0, 0,
      "load the PSGI app from this file (app.psgi)", 0, NULL, "FILE" },
    { "perl-lib", WF_OPT_LIST, &ps.incs, NULL, 0, 0, 0,
      "put a directory in front of @INC (repeat, or separate with commas)",
      0, NULL, "DIR" },
    { "perl-inc", WF_OPT_LIST, &ps.incs, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --perl-lib", 0, NULL, "DIR" },
    { "perl-require", WF_OPT_LIST, &ps.requires, NULL, 0, 0, 0,
      "require a Perl module before loading the app (repeat)", 0, NULL,
      "MODULE" },
    { NULL }
};

/* ------------------------------------------------------------- cores */

static void
cores_alloc(unsigned n)
{
    ps.cores = calloc(n, sizeof(*ps.cores));
    if (ps.cores == NULL) {
        WF_BUG("psgi: out of memory for %u cores", n);
    }
    for (unsigned i = 0; i < n; i++) {
        ps.cores[i].id = i;
        ps.cores[i].efd = -1;
    }
    ps.ncores = n;
}

/* The plugin's state of core c (allocated at worker_init, or here on
 * first use). Core or loop context. */
struct ps_core *
ps_core_of(struct wf_core *c)
{
    struct ps_core *rc;

    if (ps.cores == NULL) {
        unsigned n = wf_ncores();
        cores_alloc(n > c->id ? n : c->id + 1);
    }
    if (c->id >= ps.ncores) {
        WF_BUG("psgi: core id %u but only %u cores", c->id, ps.ncores);
    }
    rc = &ps.cores[c->id];
    rc->core = c;
    c->lang_ctx = rc;
    return rc;
}

/* ------------------------------------------------------------ logging */

/* "GET /path?query" of the request on rc, for log lines. */
const char *
ps_req_line(struct ps_core *rc, char *buf, size_t len)
{
    size_t ml = 0, ul = 0;
    const char *m = wf_req_get(rc->core, "REQUEST_METHOD", &ml);
    const char *u = wf_req_get(rc->core, "REQUEST_URI", &ul);

    snprintf(buf, len, "%.*s %.*s", (int)ml, m ? m : "?", (int)ul,
             u ? u : "?");
    return buf;
}

/* Log "psgi: <what> in <request> (core N):" and $@, one log line per
 * line of the message; clears $@. */
void
ps_log_err(const char *what, struct ps_core *rc)
{
    STRLEN len;
    const char *p, *end;
    char rl[256];

    wf_log(WF_LOG_ERROR, "psgi: %s, %s (core %u):", what,
           rc ? ps_req_line(rc, rl, sizeof(rl)) : "-", rc ? rc->id : 0);
    p = SvPV(ERRSV, len);
    end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        wf_log(WF_LOG_ERROR, "  %.*s", (int)(e - p), p);
        p = e + 1;
    }
    sv_setpvs(ERRSV, "");
}

/* ------------------------------------------------------------ the env */

static int
skip_var(const struct wf_var *v)
{
    if (v->klen == 14 && memcmp(v->key, "CONTENT_LENGTH", 14) == 0) {
        return v->vlen == 0;
    }
    if (v->klen == 12 && memcmp(v->key, "CONTENT_TYPE", 12) == 0) {
        return v->vlen == 0;
    }
    if (v->klen == 19 && memcmp(v->key, "HTTP_CONTENT_LENGTH", 19) == 0) {
        return 1;
    }
    if (v->klen == 17 && memcmp(v->key, "HTTP_CONTENT_TYPE", 17) == 0) {
        return 1;
    }
    return 0;
}

#define HV_STORE_LIT(hv, k, v) hv_store((hv), "" k "", sizeof(k) - 1, (v), 0)

static HV *
env_new(struct ps_core *rc)
{
    HV *env = newHV();
    const struct wf_var *v;
    unsigned n, i;
    int https = 0, have_path = 0, have_qs = 0, have_script = 0;
    AV *ver;

    v = wf_req_vars(rc->core, &n);
    hv_ksplit(env, n + 24);
    for (i = 0; i < n; i++) {
        if (skip_var(&v[i])) {
            continue;
        }
        hv_store(env, v[i].key, v[i].klen, newSVpvn(v[i].val, v[i].vlen), 0);
        switch (v[i].klen) {
        case 5:
            if (memcmp(v[i].key, "HTTPS", 5) == 0) {
                https = (v[i].vlen == 2 && strncasecmp(v[i].val, "on", 2) == 0)
                        || (v[i].vlen == 1 && v[i].val[0] == '1');
            }
            break;
        case 9:
            have_path |= memcmp(v[i].key, "PATH_INFO", 9) == 0;
            break;
        case 11:
            have_script |= memcmp(v[i].key, "SCRIPT_NAME", 11) == 0;
            break;
        case 12:
            have_qs |= memcmp(v[i].key, "QUERY_STRING", 12) == 0;
            /* uWSGI: UWSGI_SCHEME wins over HTTPS */
            if (memcmp(v[i].key, "UWSGI_SCHEME", 12) == 0) {
                https = v[i].vlen == 5 && memcmp(v[i].val, "https", 5) == 0;
            }
            break;
        }
    }
    if (!have_path) {
        HV_STORE_LIT(env, "PATH_INFO", newSVpvs(""));
    }
    if (!have_qs) {
        HV_STORE_LIT(env, "QUERY_STRING", newSVpvs(""));
    }
    if (!have_script) {
        HV_STORE_LIT(env, "SCRIPT_NAME", newSVpvs(""));
    }
    ver = newAV();
    av_push(ver, newSViv(1));
    av_push(ver, newSViv(1));
    HV_STORE_LIT(env, "psgi.version", newRV_noinc((SV *)ver));
    HV_STORE_LIT(env, "psgi.url_scheme",
                 https ? newSVpvs("https") : newSVpvs("http"));
    HV_STORE_LIT(env, "psgi.input", ps_input_new(rc));
    HV_STORE_LIT(env, "psgi.errors", SvREFCNT_inc(ps.errors));
    HV_STORE_LIT(env, "psgi.multithread", newSViv(0));
    HV_STORE_LIT(env, "psgi.multiprocess",
                 newSViv(wf_opt_long("processes", 1) > 1 ||
                         wf_opt_long("workers", 1) > 1));
    HV_STORE_LIT(env, "psgi.run_once", newSViv(0));
    HV_STORE_LIT(env, "psgi.nonblocking",
                 newSViv(ps.loop_sv != NULL && SvTRUE(ps.loop_sv)));
    HV_STORE_LIT(env, "psgi.streaming", newSViv(1));
    HV_STORE_LIT(env, "psgix.input.buffered", newSViv(1));
    HV_STORE_LIT(env, "psgix.cleanup", newSViv(1));
    HV_STORE_LIT(env, "psgix.cleanup.handlers", newRV_noinc((SV *)newAV()));
    HV_STORE_LIT(env, "psgix.harakiri", newSViv(1));
    HV_STORE_LIT(env, "psgix.logger", SvREFCNT_inc(get_sv("uwsgi::_logger",
                                                          GV_ADD)));
    HV_STORE_LIT(env, "uwsgi.core", newSVuv(rc->id));
    HV_STORE_LIT(env, "uwsgi.version", newSVpv(wf_version(), 0));
    return env;
}

/* ------------------------------------------------------- the response */

/* Write one chunk. 0, or -1 when the client is gone (recorded in rc). */
int
ps_write_sv(struct ps_core *rc, SV *chunk)
{
    STRLEN len;
    const char *p;
    ssize_t w;

    if (!SvOK(chunk)) {
        return 0;
    }
    p = SvPV(chunk, len);
    if (len == 0) {
        return 0;
    }
    rc->chunks++;
    if (rc->client_gone) {
        return -1;
    }
    w = wf_write(rc->core, p, len);
    if (w < 0) {
        rc->client_gone = 1;
        rc->err = (int)-w;
        return -1;
    }
    return 0;
}

/* A header name or value for an error message: at most 64 bytes, control
 * bytes shown as '?'. */
static const char *
shown(const char *p, STRLEN l, char out[68])
{
    STRLEN m = l > 64 ? 64 : l;

    for (STRLEN i = 0; i < m; i++) {
        unsigned char ch = (unsigned char)p[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[m] = 0;
    return out;
}

/* Status and headers of a response array; croaks on bad input. The
 * reason phrase, the checks and the framing are the core's
 * (core/policy.c): the plugin converts and raises the core's verdict. */
static void
send_head(struct ps_core *rc, AV *res)
{
    SV **sv = av_fetch(res, 0, 0), **hs;
    IV code;
    AV *h;

    if (sv == NULL || !SvOK(*sv) || !looks_like_number(*sv)) {
        croak("the response status is not a number");
    }
    code = SvIV(*sv);
    if (wf_response_status_code(rc->core, code < 0 || code > 999 ? -1 :
                                (int)code) < 0) {
        croak("the response status %" IVdf " was refused: %s", code,
              wf_http_verdict_text(wf_response_refusal(rc->core)));
    }
    hs = av_fetch(res, 1, 0);
    if (hs == NULL || !SvROK(*hs) || SvTYPE(SvRV(*hs)) != SVt_PVAV) {
        croak("the response headers are not an array reference");
    }
    h = (AV *)SvRV(*hs);
    SSize_t top = av_len(h);
    if (top >= 0 && (top + 1) % 2 != 0) {
        croak("the response headers have an odd number of elements");
    }
    for (SSize_t i = 0; i + 1 <= top; i += 2) {
        SV **k = av_fetch(h, i, 0), **v = av_fetch(h, i + 1, 0);
        STRLEN kl, vl;
        const char *kp, *vp;
        char s1[68], s2[68];
        int r, why;

        if (k == NULL || v == NULL || !SvOK(*k) || !SvOK(*v)) {
            croak("response header %ld is undef", (long)(i / 2));
        }
        kp = SvPV(*k, kl);
        vp = SvPV(*v, vl);
        r = wf_response_header(rc->core, kp, kl, vp, vl);
        if (r == -EINVAL) {
            why = wf_response_refusal(rc->core);
            croak("invalid response header %s: %s (%s%s)", shown(kp, kl, s1),
                  shown(vp, vl, s2), WF_HTTP_VERDICT_ON_NAME(why) ?
                  "the name " : WF_HTTP_VERDICT_ON_VALUE(why) ?
                  "the value " : "", wf_http_verdict_text(why));
        }
        if (r < 0) {
            croak("response header %s: %s", shown(kp, kl, s1),
                  strerror(-r));
        }
    }
}

/* An array body: its whole length is known, so the core frames it with
 * a Content-Length (the app's own wins; none for HEAD, 204, 304 bodies,
 * which the core does not send). */
static void
body_array(struct ps_core *rc, AV *body)
{
    SSize_t top = av_len(body), i;
    STRLEN total = 0;

    for (i = 0; i <= top; i++) {
        SV **e = av_fetch(body, i, 0);
        STRLEN l = 0;

        if (e != NULL && SvOK(*e)) {
            (void)SvPV(*e, l);
        }
        total += l;
    }
    wf_response_length(rc->core, (uint64_t)total);
    for (i = 0; i <= top && i <= av_len(body); i++) {
        SV **e = av_fetch(body, i, 0);

        if (e != NULL && ps_write_sv(rc, *e) < 0) {
            return;
        }
    }
}

/* A glob (or IO::Handle) on a regular file: the core sends it from its
 * position (sendfile; framed as those bytes unless the app gave a
 * Content-Length; nothing for a HEAD). 1 when sent, 0 to read it with
 * getline instead. */
static int
body_file(struct ps_core *rc, SV *body)
{
    IO *io = NULL;
    PerlIO *pio;
    struct stat st;
    Off_t pos;
    int fd, r;

    if (SvROK(body) && isGV_with_GP(SvRV(body))) {
        io = GvIO((GV *)SvRV(body));
    } else if (SvROK(body) && SvTYPE(SvRV(body)) == SVt_PVIO) {
        io = (IO *)SvRV(body);
    }
    if (io == NULL || (pio = IoIFP(io)) == NULL) {
        return 0;
    }
    /* a layer that transforms bytes (:encoding, :crlf) must be read */
    if (PerlIO_isutf8(pio) || (fd = PerlIO_fileno(pio)) < 0 ||
        fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        return 0;
    }
    pos = PerlIO_tell(pio);
    if (pos < 0) {
        pos = 0;
    }
    if (pos >= st.st_size) {
        /* nothing left: an empty body, framed by the core */
        wf_response_length(rc->core, 0);
        return 1;
    }
    r = wf_response_file(rc->core, fd, (off_t)pos,
                         (size_t)(st.st_size - pos));
    if (r < 0) {
        /* -EIO: the file shrank (the core logged it); else the client
         * is gone */
        rc->client_gone = 1;
        rc->err = -r;
    } else {
        rc->chunks++;
    }
    return 1;
}

static SV *
call_method0(SV *obj, const char *m, I32 flags)
{
    dSP;
    int n;
    SV *ret = NULL;

    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(obj);
    PUTBACK;
    n = call_method(m, flags);
    SPAGAIN;
    if (n == 1) {
        ret = newSVsv(POPs);
    }
    PUTBACK;
    FREETMPS;
    LEAVE;
    return ret;
}

static void
body_lines(struct ps_core *rc, SV *body)
{
    for (;;) {
        SV *line = call_method0(body, "getline", G_SCALAR);

        if (line == NULL || !SvOK(line)) {
            SvREFCNT_dec(line);
            break;
        }
        int r = ps_write_sv(rc, line);
        SvREFCNT_dec(line);
        if (r < 0) {
            break;
        }
    }
}

static void
body_close(SV *body)
{
    SV *r = call_method0(body, "close", G_SCALAR);

    SvREFCNT_dec(r);
}

/* The response on rc is complete: wake a delayed response's wait. */
void
ps_closed(struct ps_core *rc)
{
    uint64_t one = 1;

    rc->closed = 1;
    if (rc->efd >= 0 && write(rc->efd, &one, sizeof(one)) < 0) {
        /* the counter is not full after one write: nothing to do */
    }
}

/*
 * Send a response array: [status, headers, body] or, when allow_writer,
 * [status, headers] (then *writer gets a new writer object). Croaks on
 * bad input; the body is closed (a handle) whatever happens. Core
 * context, Perl running.
 */
int
ps_send_response(struct ps_core *rc, AV *res, int allow_writer, SV **writer)
{
    SV **bs;

    send_head(rc, res);
    bs = av_fetch(res, 2, 0);
    if (bs == NULL || (av_len(res) < 2)) {
        if (!allow_writer) {
            croak("the response has no body");
        }
        *writer = ps_token(rc, ps.stash_writer);
        return 0;
    }
    SV *body = *bs;
    if (SvROK(body) && SvTYPE(SvRV(body)) == SVt_PVAV &&
        !sv_isobject(body)) {
        body_array(rc, (AV *)SvRV(body));
        ps_closed(rc);
        return 0;
    }
    if (!SvROK(body)) {
        croak("the response body is neither an array reference nor a "
              "handle");
    }
    SvREFCNT_inc(body);
    SAVEFREESV(body);
    if (!body_file(rc, body)) {
        body_lines(rc, body);
    }
    body_close(body);
    ps_closed(rc);
    return 0;
}

/* Call a delayed response's coderef with a responder; under a loop engine
 * (psgi.nonblocking) the app may respond later, from an AnyEvent callback
 * or another coroutine: wait on the core's eventfd, which the writer's
 * close (or a responder given a whole body) signals. */
static void
run_delayed(struct ps_core *rc, SV *code)
{
    dSP;
    SV *resp = ps_responder_new(rc);

    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(resp));
    PUTBACK;
    call_sv(code, G_DISCARD);
    FREETMPS;
    LEAVE;
    if (!rc->closed && !rc->client_gone && ps.loop_sv != NULL &&
        SvTRUE(ps.loop_sv) && rc->efd < 0) {
        rc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (rc->efd < 0) {
            croak("psgi: eventfd() failed: %s", strerror(errno));
        }
    }
    while (!rc->closed && !rc->client_gone && rc->efd >= 0) {
        uint64_t n;
        int r = wf_wait_io(rc->core, rc->efd, WF_IO_READ, -1);

        if (r < 0) {
            croak("%s", r == -ECANCELED ? "uwsgi::RequestCancelled: the "
                  "request was cancelled while the app held its response\n"
                  : "psgi: waiting for the delayed response failed\n");
        }
        if (read(rc->efd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
            croak("psgi: reading the eventfd failed: %s", strerror(errno));
        }
    }
    if (!rc->responded) {
        croak("the delayed response returned without calling the "
              "responder");
    }
}

/* The whole request inside eval: called with call_sv(G_EVAL) through an
 * XS trampoline, so that croak anywhere lands in handle(). */
static XS(xs_run)
{
    dXSARGS;
    struct ps_core *rc = &ps.cores[SvUV(ST(0))];
    SV *res;
    int n;

    PERL_UNUSED_VAR(items);
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newRV_inc((SV *)rc->env)));
    PUTBACK;
    n = call_sv(ps.app, G_SCALAR);
    SPAGAIN;
    res = n == 1 ? POPs : &PL_sv_undef;
    SvREFCNT_inc(res);
    PUTBACK;
    sv_2mortal(res);
    if (SvROK(res) && SvTYPE(SvRV(res)) == SVt_PVAV) {
        ps_send_response(rc, (AV *)SvRV(res), 0, NULL);
        rc->responded = 1;
    } else if (SvROK(res) && SvTYPE(SvRV(res)) == SVt_PVCV) {
        run_delayed(rc, res);
    } else {
        croak("the app returned %s, not an array reference or a code "
              "reference", SvOK(res) ? SvPV_nolen(res) : "undef");
    }
    XSRETURN_EMPTY;
}

static CV *run_cv;

static void
run_cleanup(struct ps_core *rc)
{
    SV **h = hv_fetchs(rc->env, "psgix.cleanup.handlers", 0);
    AV *av;

    if (h == NULL || !SvROK(*h) || SvTYPE(SvRV(*h)) != SVt_PVAV) {
        return;
    }
    av = (AV *)SvRV(*h);
    for (SSize_t i = 0; i <= av_len(av); i++) {
        SV **cb = av_fetch(av, i, 0);
        dSP;

        if (cb == NULL || !SvOK(*cb)) {
            continue;
        }
        ENTER;
        SAVETMPS;
        PUSHMARK(SP);
        XPUSHs(sv_2mortal(newRV_inc((SV *)rc->env)));
        PUTBACK;
        call_sv(*cb, G_DISCARD | G_EVAL);
        FREETMPS;
        LEAVE;
        if (SvTRUE(ERRSV)) {
            ps_log_err("a psgix.cleanup handler died", rc);
        }
    }
}

static int
client_gone(struct ps_core *rc)
{
    char rl[256];

    wf_log(WF_LOG_WARN, "psgi: client gone (%s) at chunk %lu of %s",
           strerror(rc->err ? rc->err : ECONNRESET), rc->chunks,
           ps_req_line(rc, rl, sizeof(rl)));
    return WF_ERROR;
}

static int
psgi_handle(struct wf_core *c)
{
    struct ps_core *rc = ps_core_of(c);
    char rl[256];
    int ret;
    SV **commit;
    dSP;

    if (ps.app == NULL) {
        wf_log(WF_LOG_ERROR, "psgi: no PSGI app loaded for %s; give --psgi "
               "app.psgi", ps_req_line(rc, rl, sizeof(rl)));
        wf_response_error(c, 500);
        return WF_ERROR;
    }
    rc->gen++;
    rc->active = 1;
    rc->client_gone = rc->responded = rc->closed = 0;
    rc->err = 0;
    rc->chunks = 0;

    ENTER;
    SAVETMPS;
    rc->env = env_new(rc);
    PUSHMARK(SP);
    mXPUSHu(rc->id);
    PUTBACK;
    call_sv((SV *)run_cv, G_DISCARD | G_EVAL);
    SPAGAIN;
    if (SvTRUE(ERRSV)) {
        if (rc->client_gone) {
            sv_setpvs(ERRSV, "");
            ret = client_gone(rc);
        } else if (strncmp(SvPV_nolen(ERRSV), "uwsgi::RequestCancelled",
                           23) == 0) {
            /* harakiri or a reload past the mercy: already logged */
            wf_log(WF_LOG_WARN, "psgi: %s cancelled (core %u)",
                   ps_req_line(rc, rl, sizeof(rl)), rc->id);
            sv_setpvs(ERRSV, "");
            wf_response_error(c, 504);
            ret = WF_ERROR;
        } else {
            ps_log_err("the app died", rc);
            wf_response_error(c, 500);
            ret = WF_ERROR;
        }
    } else if (rc->client_gone) {
        ret = client_gone(rc);
    } else {
        ret = WF_DONE;
    }
    FREETMPS;
    LEAVE;
    rc->gen++;              /* psgi.input and the writer are now dead */
    rc->active = 0;
    run_cleanup(rc);
    commit = hv_fetchs(rc->env, "psgix.harakiri.commit", 0);
    if (commit != NULL && SvTRUE(*commit)) {
        /* the app asks for this worker to end after the request: a
         * graceful stop, which the master answers with a new worker */
        wf_log(WF_LOG_INFO, "psgi: psgix.harakiri.commit set by %s; worker "
               "%u stops after it", ps_req_line(rc, rl, sizeof(rl)),
               wf_worker_id());
        kill(getpid(), SIGTERM);
    }
    SvREFCNT_dec((SV *)rc->env);
    rc->env = NULL;
    return ret;
}

static void
psgi_release(struct wf_core *c)
{
    if (ps.cores == NULL || c->id >= ps.ncores) {
        return;
    }
    ps.cores[c->id].gen++;
    ps.cores[c->id].active = 0;
}

/* ------------------------------------------------------ start and end */

EXTERN_C void boot_DynaLoader(pTHX_ CV *cv);

static void
xs_init(pTHX)
{
    newXS("DynaLoader::boot_DynaLoader", boot_DynaLoader, __FILE__);
}

/* Loads a .psgi file as Plack::Util::load_psgi does: in a package of its
 * own, with `do` on an absolute path (@INC has no '.'). */
static const char loader_src[] =
    "package weft::_loader;\n"
    "sub load {\n"
    "  my $file = shift;\n"
    "  require File::Spec;\n"
    "  $file = File::Spec->rel2abs($file);\n"
    "  local $0 = $file;\n"
    "  local $@;\n"
    "  my $app = do { package weft::_sandbox; do $file };\n"
    "  die $@ if $@;\n"
    "  die \"$file: $!\\n\" if !defined $app && $!;\n"
    "  return $app;\n"
    "}\n"
    "1;\n";

/* The signals whose handlers the core owns: keep them as they were
 * before Perl started. */
static const int core_signals[] = {
    SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGPIPE,
    SIGCHLD,
};
#define NSIG_SAVED (sizeof(core_signals) / sizeof(core_signals[0]))

static char perl_a0[] = "weft", perl_a1[] = "-e", perl_a2[] = "0";
static char *perl_argv[] = { perl_a0, perl_a1, perl_a2, NULL };

static int
psgi_init(struct wf_err *err)
{
    struct sigaction saved[NSIG_SAVED];
    int argc = 3, r;
    char **argv = perl_argv, *envp0[] = { NULL }, **envp = envp0;

    if (ps.initialized) {
        return 0;
    }
    if (ps.psgi_file == NULL) {
        return 0;   /* loaded (an option of ours), nothing to serve */
    }
    for (size_t i = 0; i < NSIG_SAVED; i++) {
        sigaction(core_signals[i], NULL, &saved[i]);
    }
    PERL_SYS_INIT3(&argc, &argv, &envp);
    my_perl = perl_alloc();
    if (my_perl == NULL) {
        return wf_err_set(err, "psgi: cannot allocate a Perl interpreter");
    }
    PERL_SET_CONTEXT(my_perl);
    perl_construct(my_perl);
    PL_exit_flags |= PERL_EXIT_DESTRUCT_END;
    PL_origalen = 1;    /* $0 = ... must not overwrite our argv */
    r = perl_parse(my_perl, xs_init, argc, argv, NULL);
    if (r == 0) {
        r = perl_run(my_perl);
    }
    for (size_t i = 0; i < NSIG_SAVED; i++) {
        sigaction(core_signals[i], &saved[i], NULL);
    }
    if (r != 0) {
        return wf_err_set(err, "psgi: cannot start Perl %s (perl_parse "
                          "failed with %d); check the perl installation",
                          PERL_VERSION_STRING, r);
    }
    /* an app's `exit` ends the worker (as in uWSGI; the master starts a
     * new one): say so in the log ("Unexpected exit N") */
    PL_exit_flags |= PERL_EXIT_WARN;
    ps.perl = my_perl;
    ps.initialized = 1;
    ps.init_pid = getpid();

    ps_io_define();
    ps_module_define();
    run_cv = newXS(NULL, xs_run, __FILE__);
    eval_pv(loader_src, TRUE);
    ps.loop_sv = get_sv("uwsgi::loop", GV_ADD);
    SvREFCNT_inc(ps.loop_sv);
    return 0;
}

static void
add_inc(const char *dir)
{
    AV *inc = get_av("INC", GV_ADD);

    av_unshift(inc, 1);
    av_store(inc, 0, newSVpv(dir, 0));
}

static int
eval_error(struct wf_err *err, const char *opt, const char *val)
{
    STRLEN len;
    const char *m = SvPV(ERRSV, len);
    const char *fix = "fix the file";
    char first[320];
    size_t n = strcspn(m, "\n");

    snprintf(first, sizeof(first), "%.*s", (int)(n > 300 ? 300 : n), m);
    if (strstr(m, "Can't locate ") != NULL) {
        fix = "install the module (apt-get install lib<name>-perl) or add "
              "--perl-lib DIR";
    }
    ps_log_err(opt, NULL);
    return wf_err_set(err, "--%s %s: %s; %s", opt, val, first, fix);
}

static int
psgi_load_app(struct wf_err *err)
{
    SV *app;
    int n;

    if (ps.app != NULL) {
        return 1;
    }
    if (ps.psgi_file == NULL) {
        return 0;
    }
    if (access(ps.psgi_file, R_OK) < 0) {
        return wf_err_set(err, "--psgi %s: %s; check the path",
                          ps.psgi_file, strerror(errno));
    }
    for (size_t i = ps.incs.n; i > 0; i--) {
        add_inc(ps.incs.v[i - 1]);
    }
    for (size_t i = 0; i < ps.requires.n; i++) {
        SV *code = newSVpvf("require %s; 1", ps.requires.v[i]);

        eval_sv(sv_2mortal(code), G_DISCARD);
        if (SvTRUE(ERRSV)) {
            return eval_error(err, "perl-require", ps.requires.v[i]);
        }
    }
    {
        dSP;
        ENTER;
        SAVETMPS;
        PUSHMARK(SP);
        XPUSHs(sv_2mortal(newSVpv(ps.psgi_file, 0)));
        PUTBACK;
        n = call_pv("weft::_loader::load", G_SCALAR | G_EVAL);
        SPAGAIN;
        app = n == 1 ? newSVsv(POPs) : NULL;
        PUTBACK;
        FREETMPS;
        LEAVE;
    }
    if (SvTRUE(ERRSV)) {
        SvREFCNT_dec(app);
        return eval_error(err, "psgi", ps.psgi_file);
    }
    if (app == NULL || !SvROK(app) || SvTYPE(SvRV(app)) != SVt_PVCV) {
        /* an object with overloaded &{} is a code reference too */
        if (app == NULL || !SvROK(app) || !sv_isobject(app) ||
            !SvAMAGIC(app)) {
            SvREFCNT_dec(app);
            return wf_err_set(err, "--psgi %s: the file did not return a "
                              "code reference; end it with the app (sub "
                              "{ my $env = shift; ... })", ps.psgi_file);
        }
    }
    ps.app = app;
    wf_log(WF_LOG_INFO, "psgi: app loaded from %s (Perl %s)", ps.psgi_file,
           PERL_VERSION_STRING);
    return 1;
}

static int
psgi_worker_init(unsigned ncores, struct wf_err *err)
{
    if (!ps.initialized) {
        return 0;
    }
    if (getpid() != ps.init_pid) {
        /* a forked worker: its own random sequence */
        PL_srand_called = FALSE;
    }
    if (ps.cores == NULL) {
        cores_alloc(ncores > 0 ? ncores : 1);
    }
    return 0;
}

/* Perl runs on one set of stacks per interpreter: only Coro (the coroae
 * loop) swaps them per request. */
static int
psgi_check_engine(const char *engine, struct wf_err *err)
{
    if (engine == NULL || ps.psgi_file == NULL) {
        return 0;
    }
    return wf_err_set(err, "--psgi cannot run on --%s: it switches C stacks "
                      "but not Perl's (one set per interpreter); use "
                      "--coroae N", engine);
}

static void
psgi_shutdown(void)
{
    /* Perl's END blocks and destructors run only in the process that
     * made the interpreter; a worker just exits. */
    if (ps.initialized && getpid() == ps.init_pid) {
        SV *r = get_sv("uwsgi::_flush", 0);
        (void)r;
    }
}

static const struct wf_lang_ops psgi_ops = {
    .modifier1 = 5,
    .init = psgi_init,
    .load_app = psgi_load_app,
    .worker_init = psgi_worker_init,
    .handle = psgi_handle,
    .release = psgi_release,
    .check_engine = psgi_check_engine,
    .shutdown = psgi_shutdown,
};

WF_PLUGIN(psgi,
          .version = PACKAGE_VERSION,
          .kind = WF_KIND_LANG,
          .ops = &psgi_ops,
          .options = psgi_options,
          .needs = "Perl " PERL_VERSION_STRING " (libperl)",
          .summary = "PSGI apps on Perl, the uwsgi:: async API (--coroae "
                     "for concurrency)",
          .flags = WF_PLUGIN_F_GLOBAL);
