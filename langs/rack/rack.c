/*
 * langs/rack: Rack 2 (and Rack 3 style header arrays) on an embedded
 * Ruby 3.1.
 *
 * handle() runs the whole request in one call, as uWSGI's rack plugin does:
 * build the env, app.call(env), status, headers, then body.each writing
 * every chunk, and body.close always. It returns WF_DONE or WF_ERROR, never
 * WF_AGAIN: a Rack body has no "next chunk" protocol that could be resumed
 * from the loop. Concurrency comes from a suspend engine (engines/fiber):
 * every wait inside the request (UWSGI.suspend, a body read, a full socket)
 * then switches to another core's fiber. Without an engine the worker runs
 * one request at a time, even with --async.
 *
 * Everything that runs Ruby code runs under rb_protect: an exception in the
 * app gives a 500 and its class, message and backtrace in the log, and the
 * worker goes on serving.
 */
#include "rackweft.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ruby/encoding.h>
#include <ruby/version.h>

#define RK_STR(x) #x
#define RK_XSTR(x) RK_STR(x)

struct rk_global rk;

static ID id_call, id_each, id_close, id_to_path, id_to_i;
static VALUE fmt_exc;           /* lambda: exception -> Array of lines */
static VALUE str_http, str_https;

/* ------------------------------------------------------------ options */

static const struct wf_option rack_options[] = {
    { "rack", WF_OPT_STR, &rk.rack_file, NULL, 0, 0, 0,
      "load the Rack app from this rackup file (config.ru)", 0, NULL,
      "FILE" },
    { "rbrequire", WF_OPT_LIST, &rk.requires, NULL, 0, 0, 0,
      "require a Ruby library before loading the Rack app (repeat, or "
      "separate with commas)", 0, NULL, "LIB" },
    { "ruby-require", WF_OPT_LIST, &rk.requires, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "alias of --rbrequire", 0, NULL, "LIB" },
    { "rb-require", WF_OPT_LIST, &rk.requires, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --rbrequire", 0, NULL, "LIB" },
    { "rb-lib", WF_OPT_LIST, &rk.libs, NULL, 0, 0, 0,
      "put a directory in front of $LOAD_PATH (repeat, or separate with "
      "commas)", 0, NULL, "DIR" },
    { "ruby-lib", WF_OPT_LIST, &rk.libs, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "alias of --rb-lib", 0, NULL, "DIR" },
    { NULL }
};

/* ------------------------------------------------------------- cores */

static void
holder_mark(void *unused)
{
    for (unsigned i = 0; i < rk.ncores; i++) {
        struct rk_core *rc = &rk.cores[i];

        rb_gc_mark(rc->env);
        rb_gc_mark(rc->response);
        rb_gc_mark(rc->body);
        rb_gc_mark(rc->input);
        rb_gc_mark(rc->fiber);
    }
}

static const rb_data_type_t holder_type = {
    .wrap_struct_name = "weft/rack cores",
    .function = { .dmark = holder_mark },
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static void
core_clear(struct rk_core *rc)
{
    rc->env = rc->response = rc->body = rc->input = rc->fiber = Qnil;
}

static void
cores_alloc(unsigned n)
{
    struct rk_core *cores = calloc(n, sizeof(*cores));

    if (cores == NULL) {
        WF_BUG("rack: out of memory for %u cores", n);
    }
    for (unsigned i = 0; i < n; i++) {
        cores[i].id = i;
        core_clear(&cores[i]);
    }
    /* no GC can run between these two stores */
    rk.cores = cores;
    rk.ncores = n;
}

/*
 * The plugin's state of core c (allocated at worker_init, or here on first
 * use). Core or loop context.
 */
struct rk_core *
rk_core_of(struct wf_core *c)
{
    struct rk_core *rc;

    if (rk.cores == NULL) {
        unsigned n = wf_ncores();
        cores_alloc(n > c->id ? n : c->id + 1);
    }
    if (c->id >= rk.ncores) {
        WF_BUG("rack: core id %u but only %u cores", c->id, rk.ncores);
    }
    rc = &rk.cores[c->id];
    rc->core = c;
    c->lang_ctx = rc;
    return rc;
}

/* ------------------------------------------------------------ logging */

/* "GET /path?query" of the request on rc, for log lines: the core's
 * format (wf_req_line). */
const char *
rk_req_line(struct rk_core *rc, char *buf, size_t len)
{
    return wf_req_line(rc->core, buf, len);
}

static VALUE
fmt_exc_call(VALUE exc)
{
    return rb_funcall(fmt_exc, id_call, 1, exc);
}

/*
 * Log a first line made of fmt, then the pending exception ($!): class,
 * message and backtrace, and its causes. Clears the exception. Any
 * context that runs Ruby.
 */
void
rk_log_exc(const char *fmt, ...)
{
    VALUE exc = rb_errinfo(), lines;
    char head[768];
    va_list ap;
    int state = 0;

    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    wf_log(WF_LOG_ERROR, "%s", head);
    rb_set_errinfo(Qnil);
    if (NIL_P(exc)) {
        wf_log(WF_LOG_ERROR, "  (no exception object: a non-local exit "
               "such as throw or break left the app)");
        return;
    }
    lines = fmt_exc ? rb_protect(fmt_exc_call, exc, &state) : Qnil;
    if (state || !RB_TYPE_P(lines, T_ARRAY)) {
        rb_set_errinfo(Qnil);
        wf_log(WF_LOG_ERROR, "  %s (the exception could not be formatted)",
               rb_obj_classname(exc));
        return;
    }
    for (long i = 0; i < RARRAY_LEN(lines); i++) {
        VALUE l = rb_ary_entry(lines, i);
        if (RB_TYPE_P(l, T_STRING)) {
            wf_log(WF_LOG_ERROR, "%.*s", (int)RSTRING_LEN(l),
                   RSTRING_PTR(l));
        }
    }
    RB_GC_GUARD(lines);
    RB_GC_GUARD(exc);
}

/* "Class: first line of the message" of the pending exception, which
 * stays pending. */
static void
exc_summary(char *buf, size_t len)
{
    VALUE exc = rb_errinfo(), msg;
    int state = 0;

    if (NIL_P(exc)) {
        snprintf(buf, len, "unknown error");
        return;
    }
    msg = rb_protect(rb_obj_as_string, exc, &state);
    if (state || !RB_TYPE_P(msg, T_STRING)) {
        rb_set_errinfo(exc);
        snprintf(buf, len, "%s", rb_obj_classname(exc));
        return;
    }
    const char *p = RSTRING_PTR(msg);
    long n = RSTRING_LEN(msg);
    const char *nl = memchr(p, '\n', (size_t)n);
    if (nl != NULL) {
        n = nl - p;
    }
    snprintf(buf, len, "%s: %.*s", rb_obj_classname(exc), (int)n, p);
    rb_set_errinfo(exc);
    RB_GC_GUARD(msg);
}

/* ------------------------------------------------------------ the env */

/* Rack's CGI names that may arrive empty and must then be absent, and the
 * HTTP_ twins that Rack forbids. */
static int
skip_var(const struct wf_var *v)
{
    if (v->klen == 14 && memcmp(v->key, "CONTENT_LENGTH", 14) == 0) {
        return v->vlen == 0;
    }
    if (v->klen == 19 && (memcmp(v->key, "HTTP_CONTENT_LENGTH", 19) == 0)) {
        return 1;
    }
    if (v->klen == 17 && memcmp(v->key, "HTTP_CONTENT_TYPE", 17) == 0) {
        return 1;
    }
    return 0;
}

static VALUE
env_new(struct rk_core *rc)
{
    VALUE env = rb_hash_dup(rk.env_proto);
    const struct wf_var *v;
    unsigned n, i;
    int https = 0;

    v = wf_req_vars(rc->core, &n);
    for (i = 0; i < n; i++) {
        if (skip_var(&v[i])) {
            continue;
        }
        rb_hash_aset(env, rb_interned_str(v[i].key, v[i].klen),
                     rb_str_new(v[i].val, v[i].vlen));
        switch (v[i].klen) {
        case 5:
            if (memcmp(v[i].key, "HTTPS", 5) == 0) {
                https = (v[i].vlen == 2 && strncasecmp(v[i].val, "on", 2) == 0)
                        || (v[i].vlen == 1 && v[i].val[0] == '1');
            }
            break;
        case 12:
            /* uWSGI: UWSGI_SCHEME wins over HTTPS */
            if (memcmp(v[i].key, "UWSGI_SCHEME", 12) == 0) {
                https = v[i].vlen == 5 && memcmp(v[i].val, "https", 5) == 0;
            }
            break;
        }
    }
    /* PATH_INFO, QUERY_STRING and SCRIPT_NAME, which Rack requires even
     * when empty, are among the variables: the core gives the ones the
     * protocol did not (core/policy.c, wf__cgi_defaults) */
    rb_hash_aset(env, rb_interned_str("rack.url_scheme", 15),
                 https ? str_https : str_http);
    rc->input = rk_input_new(rc);
    rb_hash_aset(env, rb_interned_str("rack.input", 10), rc->input);
    rb_hash_aset(env, rb_interned_str("uwsgi.core", 10), UINT2NUM(rc->id));
    return env;
}

/* ------------------------------------------------------- the response */

static void
add_header(struct rk_core *rc, const char *name, long nlen, const char *val,
           long vlen)
{
    int r = wf_response_header(rc->core, name, (size_t)nlen, val,
                               (size_t)vlen);

    if (r == -ENOMEM) {
        rb_memerror();
    }
    if (r < 0) {
        /* the core's verdict (one table for every language) */
        char shown[2][68];
        const char *src[2] = { name, val };
        long len[2] = { nlen, vlen };
        for (int k = 0; k < 2; k++) {
            long m = len[k] > 64 ? 64 : len[k];
            for (long i = 0; i < m; i++) {
                unsigned char ch = (unsigned char)src[k][i];
                shown[k][i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
            }
            shown[k][m] = 0;
        }
        rb_raise(rb_eArgError, "invalid response header %s: %s (%s%s)",
                 shown[0], shown[1],
                 WF_HTTP_VERDICT_ON_NAME(wf_response_refusal(rc->core)) ?
                 "the name " : WF_HTTP_VERDICT_ON_VALUE(
                     wf_response_refusal(rc->core)) ? "the value " : "",
                 wf_http_verdict_text(wf_response_refusal(rc->core)));
    }
    if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        rc->has_clen = 1;
    }
}

/* One header of the app: a String value (Rack 2: several lines joined
 * with "\n") or an Array of Strings (Rack 3). */
static void
header_pair(struct rk_core *rc, VALUE k, VALUE v)
{
    const char *name;
    long nlen;

    if (SYMBOL_P(k)) {
        k = rb_sym2str(k);
    }
    if (!RB_TYPE_P(k, T_STRING)) {
        rb_raise(rb_eTypeError, "response header name is a %s, not a "
                 "String", rb_obj_classname(k));
    }
    name = RSTRING_PTR(k);
    nlen = RSTRING_LEN(k);
    /* Rack: keys starting with rack. are for middleware, not the wire */
    if (nlen > 5 && strncasecmp(name, "rack.", 5) == 0) {
        return;
    }
    if (RB_TYPE_P(v, T_ARRAY)) {
        for (long i = 0; i < RARRAY_LEN(v); i++) {
            VALUE e = rb_ary_entry(v, i);
            if (!RB_TYPE_P(e, T_STRING)) {
                rb_raise(rb_eTypeError, "response header %.*s: value %ld is "
                         "a %s, not a String", (int)nlen, name, i,
                         rb_obj_classname(e));
            }
            add_header(rc, name, nlen, RSTRING_PTR(e), RSTRING_LEN(e));
        }
        return;
    }
    if (!RB_TYPE_P(v, T_STRING)) {
        rb_raise(rb_eTypeError, "response header %.*s: the value is a %s, "
                 "not a String", (int)nlen, name, rb_obj_classname(v));
    }
    const char *p = RSTRING_PTR(v), *end = p + RSTRING_LEN(v);
    if (p == end) {
        add_header(rc, name, nlen, p, 0);
        return;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p) {
            add_header(rc, name, nlen, p, e - p);
        }
        p = e + 1;
    }
}

static int
header_hash_i(VALUE k, VALUE v, VALUE arg)
{
    header_pair((struct rk_core *)arg, k, v);
    return ST_CONTINUE;
}

static VALUE
header_each_i(RB_BLOCK_CALL_FUNC_ARGLIST(yielded, arg))
{
    struct rk_core *rc = (struct rk_core *)arg;

    if (argc >= 2) {
        header_pair(rc, argv[0], argv[1]);
    } else if (RB_TYPE_P(yielded, T_ARRAY) && RARRAY_LEN(yielded) == 2) {
        header_pair(rc, rb_ary_entry(yielded, 0), rb_ary_entry(yielded, 1));
    } else {
        rb_raise(rb_eTypeError, "the response headers' each must yield "
                 "name and value");
    }
    return Qnil;
}

static long
status_code(VALUE s)
{
    long code;

    if (FIXNUM_P(s)) {
        code = FIX2LONG(s);
    } else if (RB_TYPE_P(s, T_STRING)) {
        code = NUM2LONG(rb_str_to_inum(s, 10, 0));
    } else if (rb_respond_to(s, id_to_i)) {
        code = NUM2LONG(rb_funcall(s, id_to_i, 0));
    } else {
        rb_raise(rb_eTypeError, "the response status is a %s, not an "
                 "Integer", rb_obj_classname(s));
    }
    if (code < 100 || code > 999) {
        rb_raise(rb_eArgError, "the response status %ld is not a 3-digit "
                 "HTTP status", code);
    }
    return code;
}

/* Write one chunk. 0, or -1 when the client is gone (recorded in rc). */
static int
send_chunk(struct rk_core *rc, VALUE chunk)
{
    ssize_t w;

    if (RSTRING_LEN(chunk) == 0) {
        return 0;
    }
    w = wf_write(rc->core, RSTRING_PTR(chunk), (size_t)RSTRING_LEN(chunk));
    RB_GC_GUARD(chunk);
    if (w < 0) {
        rc->client_gone = 1;
        rc->err = (int)-w;
        return -1;
    }
    return 0;
}

static VALUE
body_each_i(RB_BLOCK_CALL_FUNC_ARGLIST(chunk, arg))
{
    struct rk_core *rc = (struct rk_core *)arg;

    rc->chunks++;
    if (!RB_TYPE_P(chunk, T_STRING)) {
        rb_raise(rb_eTypeError, "body chunk %lu is a %s, not a String",
                 rc->chunks, rb_obj_classname(chunk));
    }
    if (send_chunk(rc, chunk) < 0) {
        rb_iter_break();
    }
    return Qnil;
}

/* An Array body: every chunk must be a String; a Content-Length when the
 * app gave none (keep-alive without chunking, also above the core's
 * 16 KiB buffer). */
static void
body_array(struct rk_core *rc, VALUE body)
{
    long n = RARRAY_LEN(body), total = 0;

    for (long i = 0; i < n; i++) {
        VALUE e = rb_ary_entry(body, i);
        if (!RB_TYPE_P(e, T_STRING)) {
            rb_raise(rb_eTypeError, "body chunk %ld is a %s, not a String",
                     i + 1, rb_obj_classname(e));
        }
        total += RSTRING_LEN(e);
    }
    /* the whole length is known: the core frames it (the app's own
     * Content-Length wins) */
    wf_response_length(rc->core, (uint64_t)total);
    for (long i = 0; i < n && i < RARRAY_LEN(body); i++) {
        rc->chunks++;
        if (send_chunk(rc, rb_ary_entry(body, i)) < 0) {
            return;
        }
    }
}

/* The app's Content-Length, or -1. */
static long long
app_clen(VALUE headers)
{
    VALUE v = Qnil;

    if (!RB_TYPE_P(headers, T_HASH)) {
        return -1;
    }
    v = rb_hash_lookup(headers, rb_interned_str("Content-Length", 14));
    if (NIL_P(v)) {
        v = rb_hash_lookup(headers, rb_interned_str("content-length", 14));
    }
    if (!RB_TYPE_P(v, T_STRING)) {
        return -1;
    }
    return strtoll(StringValueCStr(v), NULL, 10);
}

/*
 * A body with to_path naming a regular file: sendfile it. Only for a 200
 * whose Content-Length (if given) is the file's size: Rack::Files answers
 * ranges with a to_path body that yields only the range. Returns 1 when
 * sent (or the client went away), 0 to iterate the body instead.
 */
static int
body_file(struct rk_core *rc, VALUE body, VALUE headers, long code)
{
    VALUE path;
    struct stat st;
    int fd, w;

    if (code != 200) {
        return 0;
    }
    path = rb_funcall(body, id_to_path, 0);
    if (!RB_TYPE_P(path, T_STRING)) {
        return 0;
    }
    fd = open(StringValueCStr(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (rc->has_clen && app_clen(headers) != (long long)st.st_size)) {
        close(fd);
        return 0;
    }
    /* the core sets the length (unless the app gave it), sends the
     * file, and sends nothing for a HEAD */
    w = wf_response_file(rc->core, fd, 0, (size_t)st.st_size);
    if (w < 0) {
        /* -EIO: the file shrank (the core logged it); else the client
         * is gone */
        rc->client_gone = 1;
        rc->err = -w;
    } else {
        rc->chunks++;
    }
    close(fd);
    RB_GC_GUARD(path);
    return 1;
}

/* Under rb_protect: the whole request. Sets rc->ret. */
static VALUE
run_app(VALUE arg)
{
    struct rk_core *rc = (struct rk_core *)arg;
    VALUE resp, status, headers, body;
    long code;

    rc->env = env_new(rc);
    resp = rb_funcall(rk.app, id_call, 1, rc->env);
    rc->response = resp;
    resp = rb_check_array_type(resp);
    if (NIL_P(resp) || RARRAY_LEN(resp) != 3) {
        rb_raise(rb_eTypeError, "the app returned %s, not [status, "
                 "headers, body]", NIL_P(resp) ?
                 rb_obj_classname(rc->response) : "an Array of the wrong "
                 "size");
    }
    rc->response = resp;
    status = rb_ary_entry(resp, 0);
    headers = rb_ary_entry(resp, 1);
    body = rb_ary_entry(resp, 2);
    rc->body = body;

    code = status_code(status);
    /* the reason phrase and the check are the core's */
    if (wf_response_status_code(rc->core, (int)code) < 0) {
        rb_raise(rb_eArgError, "the response status %ld was refused: %s",
                 code, wf_http_verdict_text(wf_response_refusal(rc->core)));
    }
    if (RB_TYPE_P(headers, T_HASH)) {
        rb_hash_foreach(headers, header_hash_i, (VALUE)rc);
    } else if (!NIL_P(headers)) {
        rb_block_call(headers, id_each, 0, NULL, header_each_i, (VALUE)rc);
    }

    if (RB_TYPE_P(body, T_ARRAY)) {
        body_array(rc, body);
    } else if (rb_respond_to(body, id_to_path) &&
               body_file(rc, body, headers, code)) {
        /* sent */
    } else {
        rb_block_call(body, id_each, 0, NULL, body_each_i, (VALUE)rc);
    }
    rc->ret = rc->client_gone ? WF_ERROR : WF_DONE;
    return Qnil;
}

static VALUE
call_close(VALUE body)
{
    return rb_funcall(body, id_close, 0);
}

static int
client_gone(struct rk_core *rc)
{
    char rl[256];

    wf_log(WF_LOG_WARN, "rack: client gone (%s) at chunk %lu of %s",
           strerror(rc->err ? rc->err : ECONNRESET), rc->chunks,
           rk_req_line(rc, rl, sizeof(rl)));
    return WF_ERROR;
}

static int
rack_handle(struct wf_core *c)
{
    struct rk_core *rc = rk_core_of(c);
    char rl[256];
    int state = 0, ret;

    rc->gen++;
    rc->active = 1;
    rc->client_gone = rc->has_clen = 0;
    rc->err = 0;
    rc->chunks = 0;
    rc->ret = WF_ERROR;
    rc->fiber = rb_fiber_current();

    if (rk.app == Qnil) {
        wf_log(WF_LOG_ERROR, "rack: no Rack app loaded for %s; give --rack "
               "config.ru", rk_req_line(rc, rl, sizeof(rl)));
        wf_response_error(c, 500);
        rc->active = 0;
        rc->fiber = Qnil;
        return WF_ERROR;
    }
    rb_protect(run_app, (VALUE)rc, &state);
    if (state == 0) {
        ret = rc->ret;
        if (rc->client_gone) {
            client_gone(rc);
        }
    } else if (rc->client_gone) {
        rb_set_errinfo(Qnil);
        ret = client_gone(rc);
    } else {
        rk_log_exc("rack: exception in the app, %s (core %u):",
                   rk_req_line(rc, rl, sizeof(rl)), rc->id);
        wf_response_error(c, 500);
        ret = WF_ERROR;
    }
    /* Rack: close the body whatever happened */
    if (!NIL_P(rc->body) && rb_respond_to(rc->body, id_close)) {
        rb_protect(call_close, rc->body, &state);
        if (state) {
            rk_log_exc("rack: body.close raised, in %s (core %u):",
                       rk_req_line(rc, rl, sizeof(rl)), rc->id);
        }
    }
    rk_errors_flush();
    rc->gen++;              /* rack.input of this request is now dead */
    rc->active = 0;
    core_clear(rc);
    return ret;
}

/* Without a suspend engine, or between two calls, there is nothing to
 * drop: handle() runs each request to its end. A core dropped while its
 * fiber is suspended keeps its objects until the fiber is collected. */
static void
rack_release(struct wf_core *c)
{
    struct rk_core *rc;

    if (rk.cores == NULL || c->id >= rk.ncores) {
        return;
    }
    rc = &rk.cores[c->id];
    rc->gen++;
    rc->active = 0;
    core_clear(rc);
}

/* ------------------------------------------------------ start and end */

/* Kernel#require through method dispatch: RubyGems replaces it, and
 * Debian's gems (rack among them) load only through RubyGems. */
static VALUE
require_str(VALUE name)
{
    return rb_funcall(rb_cObject, rb_intern("require"), 1, name);
}

/* require name under rb_protect. 0, or -1 with the exception pending. */
static int
require_protected(const char *name)
{
    int state = 0;

    rb_protect(require_str, rb_str_new_cstr(name), &state);
    return state ? -1 : 0;
}

static VALUE
eval_str(VALUE src)
{
    return rb_eval_string(StringValueCStr(src));
}

static const char fmt_exc_src[] =
    "lambda do |e|\n"
    "  out = []\n"
    "  depth = 0\n"
    "  while e && depth < 5\n"
    "    lead = depth == 0 ? '' : 'caused by: '\n"
    "    msg = (e.message rescue '(message raised)').to_s\n"
    "    first, *rest = msg.split(\"\\n\")\n"
    "    out << \"#{lead}#{e.class}: #{first}\"\n"
    "    rest.each { |l| out << '  ' + l }\n"
    "    (e.backtrace || []).each { |l| out << '    from ' + l }\n"
    "    e = e.cause\n"
    "    depth += 1\n"
    "  end\n"
    "  out\n"
    "end\n";

/* The signals whose handlers the core owns: keep them as they were before
 * the VM started (Ruby installs its own for INT, HUP, QUIT, TERM, ALRM,
 * USR1, USR2, PIPE and CHLD). SEGV and BUS stay Ruby's: its crash report
 * names the Ruby frames. */
static const int core_signals[] = {
    SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGPIPE,
    SIGCHLD,
};
#define NSIG_SAVED (sizeof(core_signals) / sizeof(core_signals[0]))

static char ruby_arg0[] = "weft", ruby_arg1[] = "-e0";
static char *ruby_argv[] = { ruby_arg0, ruby_arg1, NULL };

static int
rack_init(struct wf_err *err)
{
    struct sigaction saved[NSIG_SAVED];
    char sum[384];
    int state;

    if (rk.initialized) {
        return 0;
    }
    /* rack.input must rewind: as uWSGI's rack plugin does, turn on
     * --post-buffering 4096 when it is not set (the core then reads each
     * body whole before the app, larger ones into a temp file, and
     * rack.input rewinds it without keeping it in memory) */
    if (wf_opt_long("post-buffering", 0) == 0 &&
        wf_opt_set("post-buffering", "4096", err) < 0) {
        return -1;
    }
    rk.app = rk.env_proto = rk.errors = Qnil;
    rk.mUWSGI = rk.cInput = rk.cErrors = rk.holder = Qnil;
    for (size_t i = 0; i < NSIG_SAVED; i++) {
        sigaction(core_signals[i], NULL, &saved[i]);
    }
    /* As `ruby` does: the locale decides Encoding.default_external
     * (CPython sets LC_CTYPE the same way). */
    setlocale(LC_CTYPE, "");
    /* ruby_setup, not ruby_init: ruby_init exit()s on failure. It finds
     * the main thread's stack bounds itself (pthread_getattr_np), so the
     * GC scans the whole stack whatever depth we are called from. */
    state = ruby_setup();
    if (state == 0) {
        /* What `ruby -e0` does before its script and ruby_setup does not:
         * the builtin Ruby parts of the core classes (Kernel#class is
         * one: without them RubyGems fails), the encoding database, the
         * gem prelude (RubyGems, did_you_mean), $LOAD_PATH, RUBYOPT. The
         * compiled "0" is never run. */
        ruby_options(2, ruby_argv);
    }
    for (size_t i = 0; i < NSIG_SAVED; i++) {
        sigaction(core_signals[i], &saved[i], NULL);
    }
    if (state) {
        return wf_err_set(err, "rack: cannot start Ruby %s (ruby_setup "
                          "failed with state %d); check the Ruby "
                          "installation (ruby-dev, libruby3.1)",
                          ruby_version, state);
    }
    ruby_script("weft");
    rk.initialized = 1;
    rk.init_pid = getpid();

    rb_gc_register_address(&rk.app);
    rb_gc_register_address(&rk.env_proto);
    rb_gc_register_address(&rk.errors);
    rb_gc_register_address(&rk.mUWSGI);
    rb_gc_register_address(&rk.cInput);
    rb_gc_register_address(&rk.cErrors);
    rb_gc_register_address(&rk.holder);
    rb_gc_register_address(&fmt_exc);
    rb_gc_register_address(&str_http);
    rb_gc_register_address(&str_https);

    id_call = rb_intern("call");
    id_each = rb_intern("each");
    id_close = rb_intern("close");
    id_to_path = rb_intern("to_path");
    id_to_i = rb_intern("to_i");

    if (rb_const_defined(rb_cObject, rb_intern("Gem")) == 0) {
        wf_log(WF_LOG_WARN, "rack: RubyGems is not loaded (RUBYOPT "
               "--disable-gems?); only libraries on $LOAD_PATH will load");
    }

    fmt_exc = rb_protect(eval_str, rb_str_new_cstr(fmt_exc_src), &state);
    if (state) {
        fmt_exc = Qnil;
        rb_set_errinfo(Qnil);
    }
    str_http = rb_obj_freeze(rb_str_new_cstr("http"));
    str_https = rb_obj_freeze(rb_str_new_cstr("https"));

    rk.holder = rb_data_typed_object_wrap(0, NULL, &holder_type);
    rk_module_define();
    rk_io_define();

    if (require_protected("rack") < 0) {
        exc_summary(sum, sizeof(sum));
        rk_log_exc("rack: require 'rack' failed:");
        return wf_err_set(err, "rack: cannot load Rack (%s); install it "
                          "from Debian (apt-get install ruby-rack)", sum);
    }

    VALUE proto = rb_hash_new(), ver = rb_ary_new_from_args(2, INT2FIX(1),
                                                            INT2FIX(3));
    rb_obj_freeze(ver);
    rb_hash_aset(proto, rb_interned_str("rack.version", 12), ver);
    rb_hash_aset(proto, rb_interned_str("rack.errors", 11), rk.errors);
    rb_hash_aset(proto, rb_interned_str("rack.multithread", 16), Qfalse);
    rb_hash_aset(proto, rb_interned_str("rack.multiprocess", 17), Qtrue);
    rb_hash_aset(proto, rb_interned_str("rack.run_once", 13), Qfalse);
    rb_hash_aset(proto, rb_interned_str("rack.hijack?", 12), Qfalse);
    rb_hash_aset(proto, rb_interned_str("uwsgi.version", 13),
                 rb_obj_freeze(rb_str_new_cstr(wf_version())));
    rk.env_proto = proto;
    return 0;
}

/* Debian's package for a library that failed to load: ruby-<first path
 * element without '_'>, the way most gems are named (active_support/all
 * -> ruby-activesupport, sinatra/base -> ruby-sinatra). A guess, said as
 * one. */
static void
debian_hint(const char *lib, char *out, size_t len)
{
    size_t n = strcspn(lib, "/"), j = 0;
    char name[128];

    for (size_t i = 0; i < n && j < sizeof(name) - 1; i++) {
        if (lib[i] != '_') {
            name[j++] = lib[i];
        }
    }
    name[j] = 0;
    snprintf(out, len, "install the gem from Debian (ruby-%s) or with "
             "`gem install %s`", name, name);
}

/* "--opt val: Class: message; fix" for the pending exception (logged with
 * its backtrace and cleared). */
static int
load_error(struct wf_err *err, const char *opt, const char *val)
{
    VALUE exc = rb_errinfo();
    char sum[384], fix[256];

    exc_summary(sum, sizeof(sum));
    snprintf(fix, sizeof(fix), "fix the file (backtrace in the log)");
    if (rb_obj_is_kind_of(exc, rb_eLoadError)) {
        /* LoadError#path is nil when RubyGems re-raises: the name is
         * also the end of the message, "cannot load such file -- x" */
        VALUE path = rb_attr_get(exc, rb_intern("path"));
        const char *dash = strstr(sum, " -- ");
        if (RB_TYPE_P(path, T_STRING)) {
            debian_hint(StringValueCStr(path), fix, sizeof(fix));
        } else if (dash != NULL && dash[4] != 0) {
            debian_hint(dash + 4, fix, sizeof(fix));
        } else {
            snprintf(fix, sizeof(fix), "install the missing library "
                     "(apt-get install ruby-<name>) or add --rb-lib DIR");
        }
    } else if (rb_obj_is_kind_of(exc, rb_eSyntaxError)) {
        snprintf(fix, sizeof(fix), "fix the syntax (details in the log)");
    }
    RB_GC_GUARD(exc);
    rk_log_exc("rack: --%s %s failed:", opt, val);
    return wf_err_set(err, "--%s %s: %s; %s", opt, val, sum, fix);
}

static VALUE
parse_file(VALUE path)
{
    VALUE builder = rb_path2class("Rack::Builder");
    return rb_funcall(builder, rb_intern("parse_file"), 1, path);
}

static VALUE
lib_prepend(VALUE dir)
{
    VALUE lp = rb_gv_get("$LOAD_PATH");
    return rb_funcall(lp, rb_intern("unshift"), 1,
                      rb_file_expand_path(dir, Qnil));
}

static int
rack_load_app(struct wf_err *err)
{
    VALUE app;
    int state = 0;

    if (rk.app != Qnil && rk.app != 0) {
        return 1;
    }
    if (rk.rack_file == NULL) {
        return 0;
    }
    if (access(rk.rack_file, R_OK) < 0) {
        return wf_err_set(err, "--rack %s: %s; check the path",
                          rk.rack_file, strerror(errno));
    }
    for (size_t i = rk.libs.n; i > 0; i--) {
        rb_protect(lib_prepend, rb_str_new_cstr(rk.libs.v[i - 1]), &state);
        if (state) {
            return load_error(err, "rb-lib", rk.libs.v[i - 1]);
        }
    }
    for (size_t i = 0; i < rk.requires.n; i++) {
        if (require_protected(rk.requires.v[i]) < 0) {
            return load_error(err, "rbrequire", rk.requires.v[i]);
        }
    }
    app = rb_protect(parse_file, rb_str_new_cstr(rk.rack_file), &state);
    if (state) {
        return load_error(err, "rack", rk.rack_file);
    }
    /* Rack 2: [app, options]; Rack 3: app */
    if (RB_TYPE_P(app, T_ARRAY)) {
        app = rb_ary_entry(app, 0);
    }
    if (!rb_respond_to(app, id_call)) {
        return wf_err_set(err, "--rack %s: the file gave a %s, which does "
                          "not respond to call; end it with `run app`",
                          rk.rack_file, rb_obj_classname(app));
    }
    rk.app = app;
    VALUE rv = rb_protect(eval_str, rb_str_new_cstr("Rack.release"), &state);
    if (state) {
        rb_set_errinfo(Qnil);
        rv = Qnil;
    }
    wf_log(WF_LOG_INFO, "rack: app loaded from %s (Ruby %s, Rack %s)",
           rk.rack_file, ruby_version,
           RB_TYPE_P(rv, T_STRING) ? StringValueCStr(rv) : "?");
    return 1;
}

static int
rack_worker_init(unsigned ncores, struct wf_err *err)
{
    if (!rk.initialized) {
        return 0;
    }
    if (getpid() != rk.init_pid) {
        /* A forked worker: forget the parent's threads, reset the
         * thread locks and the random seed, as Process.fork does. */
        rb_thread_atfork();
    }
    if (rk.cores == NULL) {
        cores_alloc(ncores > 0 ? ncores : 1);
    }
    return 0;
}

/* Ruby runs only on the stacks it knows: its own (fibers) or the main
 * thread's. */
static int
rack_check_engine(const char *engine, struct wf_err *err)
{
    if (engine == NULL) {
        return 0;
    }
    if (strcmp(engine, "fiber") == 0) {
        if (rk.rack_file == NULL) {
            return wf_err_set(err, "--fiber: no Rack app to run; give "
                              "--rack config.ru (the fiber engine switches "
                              "Ruby fibers only)");
        }
        return 0;
    }
    if (rk.rack_file == NULL) {
        return 0;   /* loaded, but nothing to serve: no Ruby will run */
    }
    if (strcmp(engine, "ugreen") == 0) {
        return wf_err_set(err, "--rack cannot run on --ugreen: Ruby's VM "
                          "does not accept foreign C stacks; use --fiber");
    }
    return wf_err_set(err, "--rack cannot run on --%s: Ruby code can only "
                      "switch between Ruby fibers; use --fiber", engine);
}

static void
rack_shutdown(void)
{
    if (rk.initialized && getpid() == rk.init_pid) {
        rk_errors_flush();
    }
}

static const struct wf_lang_ops rack_ops = {
    .modifier1 = 7,
    .init = rack_init,
    .load_app = rack_load_app,
    .worker_init = rack_worker_init,
    .handle = rack_handle,
    .release = rack_release,
    .check_engine = rack_check_engine,
    .shutdown = rack_shutdown,
};

WF_PLUGIN(rack,
          .version = PACKAGE_VERSION,
          .kind = WF_KIND_LANG,
          .ops = &rack_ops,
          .options = rack_options,
          .needs = "Ruby " RK_XSTR(RUBY_API_VERSION_MAJOR) "."
                   RK_XSTR(RUBY_API_VERSION_MINOR) " (libruby), Rack "
                   "(ruby-rack)",
          .summary = "Rack apps on Ruby, the UWSGI async API (--fiber for "
                     "concurrency)",
          .flags = WF_PLUGIN_F_GLOBAL);
