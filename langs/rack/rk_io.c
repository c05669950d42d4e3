/*
 * rack.input and rack.errors.
 *
 * rack.input (UWSGI::RackInput) reads the request body through
 * wf_read_body. Rack 2 requires rewind: the plugin turns on
 * --post-buffering (4096 unless given, as uWSGI's rack plugin does), so the
 * core has the body whole before the app runs, in memory or, past the
 * limit, in a temp file, and rewind asks the core to start again
 * (wf_body_rewind). rack.input then keeps only a window of what the app
 * has not consumed yet: a 1 GB upload costs disk, not memory. Only when
 * the body streams (--post-buffering 0 given by hand, or a core without
 * wf_body_rewind) does it keep everything read, to rewind in memory. An
 * input object outlives its request only as a shell: reading past its
 * buffer then raises IOError.
 *
 * rack.errors (UWSGI::RackErrors) writes lines to the weft log; a partial
 * line waits for its end, flush, or the end of the request.
 */
#include "rackweft.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <ruby/encoding.h>

#define RK_READ_CHUNK 65536L

struct rk_input {
    unsigned id;            /* core */
    uint64_t gen;           /* the core's request generation */
    VALUE buf;              /* everything read so far (binary) */
    long pos;               /* read position in buf */
    int eof;
    int spooled;            /* the core rewinds: buf is only a window */
};

/* Drop what the app consumed, when the core can give it back. */
#define RK_WINDOW_KEEP 65536L

static void
input_mark(void *p)
{
    rb_gc_mark(((struct rk_input *)p)->buf);
}

static size_t
input_size(const void *p)
{
    return sizeof(struct rk_input);
}

static const rb_data_type_t input_type = {
    .wrap_struct_name = "UWSGI::RackInput",
    .function = {
        .dmark = input_mark,
        .dfree = RUBY_TYPED_DEFAULT_FREE,
        .dsize = input_size,
    },
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

/* A new rack.input for the request now starting on rc. */
VALUE
rk_input_new(struct rk_core *rc)
{
    struct rk_input *in;
    VALUE obj = TypedData_Make_Struct(rk.cInput, struct rk_input,
                                      &input_type, in);

    in->id = rc->id;
    in->gen = rc->gen;
    in->buf = rb_str_buf_new(0);
    in->pos = 0;
    in->eof = wf_body_remaining(rc->core) == 0;
    in->spooled = wf_body_rewind(rc->core) == 0;
    return obj;
}

static struct rk_input *
input_of(VALUE self)
{
    return rb_check_typeddata(self, &input_type);
}

/* The live core of in, or an exception. */
static struct rk_core *
input_core(struct rk_input *in)
{
    struct rk_core *rc;

    if (rk.cores == NULL || in->id >= rk.ncores ||
        !(rc = &rk.cores[in->id])->active || rc->gen != in->gen) {
        rb_raise(rb_eIOError, "rack.input: its request has ended");
    }
    if (!rk_same_fiber(rc)) {
        rb_raise(rb_eRuntimeError, "rack.input: read from another Fiber "
                 "than the request's (an Enumerator's next?) while a "
                 "suspend engine runs; read it from the request itself");
    }
    return rc;
}

/* Read from the client until want bytes are buffered past pos, or EOF.
 * Raises IOError when the body cannot be read. */
static void
input_fill(struct rk_input *in, long want)
{
    while (!in->eof && RSTRING_LEN(in->buf) - in->pos < want) {
        struct rk_core *rc = input_core(in);
        ssize_t rem = wf_body_remaining(rc->core), n;
        long len = RSTRING_LEN(in->buf), chunk = RK_READ_CHUNK;

        if (rem == 0) {
            in->eof = 1;
            break;
        }
        if (rem > 0 && rem < chunk) {
            chunk = (long)rem;
        }
        if (in->spooled && in->pos >= RK_WINDOW_KEEP) {
            /* consumed bytes: the core has them if rewind comes */
            long keep = len - in->pos;

            rb_str_modify(in->buf);
            memmove(RSTRING_PTR(in->buf), RSTRING_PTR(in->buf) + in->pos,
                    (size_t)keep);
            rb_str_set_len(in->buf, keep);
            in->pos = 0;
            len = keep;
        }
        rb_str_modify_expand(in->buf, chunk);
        /* may switch to another core: in->buf is marked through the
         * input object, which the env holds */
        n = wf_read_body(rc->core, RSTRING_PTR(in->buf) + len,
                         (size_t)chunk);
        if (n == 0) {
            in->eof = 1;
            break;
        }
        if (n < 0) {
            if (n == -ECONNRESET || n == -EPIPE) {
                rc->client_gone = 1;
                rc->err = (int)-n;
            }
            rb_raise(rb_eIOError, "rack.input: reading the request body "
                     "failed: %s%s", strerror((int)-n),
                     n == -ETIMEDOUT ? " (--socket-timeout)" : "");
        }
        rb_str_set_len(in->buf, len + n);
    }
}

static VALUE
take(struct rk_input *in, long n, VALUE outbuf)
{
    const char *p = RSTRING_PTR(in->buf) + in->pos;

    in->pos += n;
    if (NIL_P(outbuf)) {
        return rb_str_new(p, n);
    }
    rb_str_resize(outbuf, 0);
    rb_enc_associate_index(outbuf, rb_ascii8bit_encindex());
    return rb_str_cat(outbuf, p, n);
}

/*
 * read(length = nil, outbuf = nil): IO#read semantics. Without length,
 * everything left ("" at the end); with one, up to length bytes, nil at
 * the end (and "" for length 0).
 */
static VALUE
input_read(int argc, VALUE *argv, VALUE self)
{
    struct rk_input *in = input_of(self);
    VALUE vlen, outbuf;
    long n, avail;

    rb_scan_args(argc, argv, "02", &vlen, &outbuf);
    if (!NIL_P(outbuf)) {
        StringValue(outbuf);
        rb_str_modify(outbuf);
    }
    if (NIL_P(vlen)) {
        input_fill(in, LONG_MAX);
        return take(in, RSTRING_LEN(in->buf) - in->pos, outbuf);
    }
    n = NUM2LONG(vlen);
    if (n < 0) {
        rb_raise(rb_eArgError, "negative length %ld given", n);
    }
    if (n == 0) {
        return take(in, 0, outbuf);
    }
    input_fill(in, n);
    avail = RSTRING_LEN(in->buf) - in->pos;
    if (avail == 0) {
        if (!NIL_P(outbuf)) {
            rb_str_resize(outbuf, 0);
        }
        return Qnil;
    }
    return take(in, n < avail ? n : avail, outbuf);
}

/* gets: the next line with its "\n", the rest at the end, nil after. */
static VALUE
input_gets(VALUE self)
{
    struct rk_input *in = input_of(self);

    for (;;) {
        long avail = RSTRING_LEN(in->buf) - in->pos;
        const char *p = RSTRING_PTR(in->buf) + in->pos;
        const char *nl = memchr(p, '\n', (size_t)avail);

        if (nl != NULL) {
            return take(in, nl - p + 1, Qnil);
        }
        if (in->eof) {
            return avail > 0 ? take(in, avail, Qnil) : Qnil;
        }
        input_fill(in, avail + 1);
    }
}

static VALUE
input_each(VALUE self)
{
    VALUE line;

    RETURN_ENUMERATOR(self, 0, 0);
    while (!NIL_P(line = input_gets(self))) {
        rb_yield(line);
    }
    return self;
}

static VALUE
input_rewind(VALUE self)
{
    struct rk_input *in = input_of(self);

    if (in->spooled) {
        struct rk_core *rc = input_core(in);

        if (wf_body_rewind(rc->core) < 0) {
            rb_raise(rb_eIOError, "rack.input: cannot rewind the body");
        }
        rb_str_set_len(in->buf, 0);
        in->eof = wf_body_remaining(rc->core) == 0;
    }
    in->pos = 0;
    return INT2FIX(0);
}

/* Rack forbids the app to close rack.input; the server ends it. */
static VALUE
input_close(VALUE self)
{
    return Qnil;
}

/* ------------------------------------------------------------ errors */

static char ebuf[4096];
static size_t elen;

/* Log what waits in the partial line, if anything. */
void
rk_errors_flush(void)
{
    if (elen > 0) {
        wf_log(WF_LOG_INFO, "%.*s", (int)elen, ebuf);
        elen = 0;
    }
}

static VALUE
errors_write(VALUE self, VALUE s)
{
    const char *p, *end;
    long total;

    s = rb_obj_as_string(s);
    p = RSTRING_PTR(s);
    total = RSTRING_LEN(s);
    end = p + total;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        while (elen + n > sizeof(ebuf)) {
            size_t part = sizeof(ebuf) - elen;
            memcpy(ebuf + elen, p, part);
            elen += part;
            p += part;
            n -= part;
            rk_errors_flush();
        }
        memcpy(ebuf + elen, p, n);
        elen += n;
        p += n;
        if (nl != NULL) {
            if (elen == 0) {
                wf_log(WF_LOG_INFO, "%s", "");
            }
            rk_errors_flush();
            p++;
        }
    }
    RB_GC_GUARD(s);
    return LONG2NUM(total);
}

static VALUE
errors_flush(VALUE self)
{
    rk_errors_flush();
    return self;
}

static const char errors_src[] =
    "class UWSGI::RackErrors\n"
    "  def puts(*args)\n"
    "    return write(\"\\n\") && nil if args.empty?\n"
    "    args.flatten.each do |a|\n"
    "      s = a.nil? ? '' : a.to_s\n"
    "      write(s.end_with?(\"\\n\") ? s : s + \"\\n\")\n"
    "    end\n"
    "    nil\n"
    "  end\n"
    "  def print(*args)\n"
    "    args.each { |a| write(a.to_s) }\n"
    "    nil\n"
    "  end\n"
    "  def <<(s)\n"
    "    write(s)\n"
    "    self\n"
    "  end\n"
    "  def sync; true; end\n"
    "  def sync=(v); v; end\n"
    "end\n";

static VALUE
eval_src(VALUE src)
{
    return rb_eval_string(StringValueCStr(src));
}

/* After the UWSGI module: define UWSGI::RackInput and UWSGI::RackErrors,
 * and the worker's rack.errors object. Master, at init. */
void
rk_io_define(void)
{
    int state = 0;

    rk.cInput = rb_define_class_under(rk.mUWSGI, "RackInput", rb_cObject);
    rb_undef_alloc_func(rk.cInput);
    rb_define_method(rk.cInput, "read", input_read, -1);
    rb_define_method(rk.cInput, "gets", input_gets, 0);
    rb_define_method(rk.cInput, "each", input_each, 0);
    rb_define_method(rk.cInput, "rewind", input_rewind, 0);
    rb_define_method(rk.cInput, "close", input_close, 0);

    rk.cErrors = rb_define_class_under(rk.mUWSGI, "RackErrors", rb_cObject);
    rb_define_method(rk.cErrors, "write", errors_write, 1);
    rb_define_method(rk.cErrors, "flush", errors_flush, 0);
    rb_protect(eval_src, rb_str_new_cstr(errors_src), &state);
    if (state) {
        rk_log_exc("rack: defining UWSGI::RackErrors#puts failed:");
    }
    rk.errors = rb_class_new_instance(0, NULL, rk.cErrors);
}
