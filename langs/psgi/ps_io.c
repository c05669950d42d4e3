/*
 * psgi.input, psgi.errors, psgix.logger, the delayed response's responder
 * and the streaming writer.
 *
 * A request token is a blessed reference to an IV holding the core id and
 * the core's request generation: an object that outlives its request
 * (kept by the app in a global) then croaks instead of touching the next
 * request on the same core.
 *
 * psgi.input (uwsgi::input) streams the body through wf_read_body as the
 * app reads it (under --coroae a read that would block lets the other
 * coroutines run) and keeps what it read, so that seek works backwards
 * and forwards (psgix.input.buffered). The whole body read so far stays in
 * memory until the request ends.
 *
 * psgi.errors (uwsgi::errors) writes lines to the weft log; a partial line
 * waits for its end, flush, or close.
 */
#include "psgiweft.h"

#include <errno.h>
#include <string.h>

#define PS_READ_CHUNK 65536

/* ------------------------------------------------------------- tokens */

SV *
ps_token(struct ps_core *rc, HV *stash)
{
    SV *iv = newSVuv(((UV)rc->gen << 32) | rc->id);

    return sv_bless(newRV_noinc(iv), stash);
}

static UV
token_uv(SV *self, const char *what)
{
    SV *in;

    if (!SvROK(self)) {
        croak("%s: not an object", what);
    }
    in = SvRV(self);
    if (SvTYPE(in) == SVt_PVAV) {
        SV **t = av_fetch((AV *)in, 0, 0);
        if (t == NULL) {
            croak("%s: a broken object", what);
        }
        return SvUV(*t);
    }
    return SvUV(in);
}

/* The live core of a token, or croak. */
struct ps_core *
ps_token_core(SV *self, const char *what)
{
    UV v = token_uv(self, what);
    unsigned id = (unsigned)(v & 0xffffffffu);
    struct ps_core *rc;

    if (ps.cores == NULL || id >= ps.ncores ||
        !(rc = &ps.cores[id])->active || rc->gen != (uint32_t)(v >> 32)) {
        croak("%s: its request has ended", what);
    }
    return rc;
}

/* ---------------------------------------------------------- psgi.input */

/*
 * [token, buffer, pos, eof, base, spooled]: buffer holds the body bytes
 * base .. base + length(buffer); pos is the absolute read position.
 *
 * When the core has the body whole (--post-buffering: memory, or a temp
 * file past the limit), wf_body_rewind works and buffer is only a window:
 * what the app consumed is dropped once it passes PS_WINDOW_KEEP, and a
 * seek backwards out of the window rewinds the core's copy and reads
 * forwards again. A body above the limit then costs disk, not memory.
 * Without post-buffering the body streams from the client and is gone
 * once read: everything read stays in buffer (base 0) until the request
 * ends, which is what makes it seekable.
 */
enum { IN_TOKEN, IN_BUF, IN_POS, IN_EOF, IN_BASE, IN_SPOOLED };

#define PS_WINDOW_KEEP 65536

SV *
ps_input_new(struct ps_core *rc)
{
    AV *av = newAV();

    av_extend(av, 5);
    av_store(av, IN_TOKEN, newSVuv(((UV)rc->gen << 32) | rc->id));
    av_store(av, IN_BUF, newSVpvs(""));
    av_store(av, IN_POS, newSViv(0));
    av_store(av, IN_EOF, newSViv(wf_body_remaining(rc->core) == 0));
    av_store(av, IN_BASE, newSViv(0));
    av_store(av, IN_SPOOLED, newSViv(wf_body_rewind(rc->core) == 0));
    return sv_bless(newRV_noinc((SV *)av), ps.stash_input);
}

static AV *
input_av(SV *self)
{
    if (!SvROK(self) || SvTYPE(SvRV(self)) != SVt_PVAV) {
        croak("psgi.input: not an input object");
    }
    return (AV *)SvRV(self);
}

#define IN_SV(av, i) (*av_fetch((av), (i), 1))
#define IN_IV(av, i) SvIV(IN_SV(av, i))

/* Drop the window's bytes before `keep_from` (absolute), when the core
 * can give them back. */
static void
input_trim(AV *av, IV keep_from)
{
    SV *buf = IN_SV(av, IN_BUF);
    IV base = IN_IV(av, IN_BASE), drop = keep_from - base;

    if (!IN_IV(av, IN_SPOOLED) || drop < PS_WINDOW_KEEP) {
        return;
    }
    if (drop > (IV)SvCUR(buf)) {
        drop = (IV)SvCUR(buf);
    }
    sv_chop(buf, SvPVX(buf) + drop);
    sv_setiv(IN_SV(av, IN_BASE), base + drop);
}

/* Read from the body until the buffer reaches absolute offset `upto`
 * (upto < 0: the end of the body), or EOF. Croaks when the body cannot be
 * read. */
static void
input_fill(SV *self, AV *av, IV upto)
{
    SV *buf = IN_SV(av, IN_BUF), *eof = IN_SV(av, IN_EOF);

    while (!SvTRUE(eof) &&
           (upto < 0 || IN_IV(av, IN_BASE) + (IV)SvCUR(buf) < upto)) {
        struct ps_core *rc = ps_token_core(self, "psgi.input");
        ssize_t rem = wf_body_remaining(rc->core), n;
        STRLEN len, chunk = PS_READ_CHUNK;

        if (rem == 0) {
            sv_setiv(eof, 1);
            break;
        }
        input_trim(av, IN_IV(av, IN_POS));
        len = SvCUR(buf);
        if (rem > 0 && (size_t)rem < chunk) {
            chunk = (STRLEN)rem;
        }
        SvGROW(buf, len + chunk + 1);
        /* may let other coroutines run; buf is held by the object */
        n = wf_read_body(rc->core, SvPVX(buf) + len, chunk);
        if (n == 0) {
            sv_setiv(eof, 1);
            break;
        }
        if (n < 0) {
            if (n == -ECONNRESET || n == -EPIPE) {
                rc->client_gone = 1;
                rc->err = (int)-n;
            }
            croak("psgi.input: reading the request body failed: %s%s",
                  strerror((int)-n), n == -ETIMEDOUT ?
                  " (--socket-timeout)" : "");
        }
        SvCUR_set(buf, len + (STRLEN)n);
        *SvEND(buf) = 0;
    }
}

/* $input->read($buf, $len [, $offset]): as Perl's read. */
static XS(xs_input_read)
{
    dXSARGS;
    AV *av;
    SV *dst, *buf;
    IV len, off = 0, pos, base, avail;

    if (items < 3 || items > 4) {
        croak("usage: $input->read($buf, $len [, $offset])");
    }
    av = input_av(ST(0));
    dst = ST(1);
    len = SvIV(ST(2));
    if (items == 4) {
        off = SvIV(ST(3));
    }
    if (len < 0) {
        croak("psgi.input: negative length");
    }
    pos = IN_IV(av, IN_POS);
    input_fill(ST(0), av, pos + len);
    buf = IN_SV(av, IN_BUF);
    base = IN_IV(av, IN_BASE);
    avail = base + (IV)SvCUR(buf) - pos;
    if (avail > len) {
        avail = len;
    }
    if (avail < 0) {
        avail = 0;
    }
    if (!SvOK(dst)) {
        sv_setpvs(dst, "");
    }
    {
        STRLEN dl;
        (void)SvPV_force(dst, dl);
        if (off < 0) {
            off += (IV)dl;
            if (off < 0) {
                croak("psgi.input: offset outside the string");
            }
        }
        if ((STRLEN)off > dl) {
            SvGROW(dst, (STRLEN)off + 1);
            memset(SvPVX(dst) + dl, 0, (STRLEN)off - dl);
        }
        SvCUR_set(dst, (STRLEN)off);
        sv_catpvn(dst, SvPVX(buf) + (pos - base), (STRLEN)avail);
        SvSETMAGIC(dst);
    }
    sv_setiv(IN_SV(av, IN_POS), pos + avail);
    XSRETURN_IV(avail);
}

/* Move the window back to the start of the body (spooled bodies only). */
static void
input_rewind(SV *self, AV *av)
{
    struct ps_core *rc = ps_token_core(self, "psgi.input");

    if (wf_body_rewind(rc->core) < 0) {
        croak("psgi.input: cannot rewind the request body");
    }
    SvCUR_set(IN_SV(av, IN_BUF), 0);
    sv_setiv(IN_SV(av, IN_BASE), 0);
    sv_setiv(IN_SV(av, IN_EOF), wf_body_remaining(rc->core) == 0);
}

/* $input->seek($pos, $whence): 0 SEEK_SET, 1 SEEK_CUR, 2 SEEK_END.
 * Forwards past what was read reads up to there (no further than the
 * end); false for a negative position. */
static XS(xs_input_seek)
{
    dXSARGS;
    AV *av;
    IV to, whence = 0, cur;
    int spooled;

    if (items < 2) {
        croak("usage: $input->seek($pos [, $whence])");
    }
    av = input_av(ST(0));
    to = SvIV(ST(1));
    if (items > 2) {
        whence = SvIV(ST(2));
    }
    cur = IN_IV(av, IN_POS);
    spooled = (int)IN_IV(av, IN_SPOOLED);
    if (whence == 1) {
        to += cur;
    } else if (whence == 2) {
        if (spooled) {
            /* the core knows what is left */
            struct ps_core *rc = ps_token_core(ST(0), "psgi.input");
            to += IN_IV(av, IN_BASE) + (IV)SvCUR(IN_SV(av, IN_BUF)) +
                  (IV)wf_body_remaining(rc->core);
        } else {
            input_fill(ST(0), av, -1);
            to += (IV)SvCUR(IN_SV(av, IN_BUF));
        }
    } else if (whence != 0) {
        croak("psgi.input: seek: whence must be 0, 1 or 2");
    }
    if (to < 0) {
        XSRETURN_NO;
    }
    if (to < IN_IV(av, IN_BASE)) {
        input_rewind(ST(0), av);
    }
    if (spooled) {
        /* forwards: keep no more than the window on the way */
        while (IN_IV(av, IN_BASE) + (IV)SvCUR(IN_SV(av, IN_BUF)) < to &&
               !SvTRUE(IN_SV(av, IN_EOF))) {
            IV end = IN_IV(av, IN_BASE) + (IV)SvCUR(IN_SV(av, IN_BUF));

            /* one chunk at a time, each dropping what came before */
            sv_setiv(IN_SV(av, IN_POS), end);
            input_fill(ST(0), av, to - end > PS_READ_CHUNK ?
                       end + PS_READ_CHUNK : to);
        }
    } else if (to > (IV)SvCUR(IN_SV(av, IN_BUF))) {
        input_fill(ST(0), av, to);
    }
    {
        IV end = IN_IV(av, IN_BASE) + (IV)SvCUR(IN_SV(av, IN_BUF));
        sv_setiv(IN_SV(av, IN_POS), to > end ? end : to);
    }
    XSRETURN_YES;
}

static XS(xs_input_tell)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_IV(IN_IV(input_av(ST(0)), IN_POS));
}

static XS(xs_input_close)
{
    dXSARGS;
    PERL_UNUSED_VAR(items);
    XSRETURN_YES;
}

/* ---------------------------------------------- responder and writer */

static XS(xs_responder)
{
    dXSARGS;
    IV tok = CvXSUBANY(cv).any_iv;
    SV *tmp = sv_2mortal(newRV_noinc(newSVuv((UV)tok)));
    struct ps_core *rc = ps_token_core(tmp, "the PSGI responder");
    SV *writer = NULL;

    if (items != 1 || !SvROK(ST(0)) || SvTYPE(SvRV(ST(0))) != SVt_PVAV) {
        croak("the PSGI responder takes one array reference: [status, "
              "headers] or [status, headers, body]");
    }
    if (rc->responded) {
        croak("the PSGI responder was called twice");
    }
    rc->responded = 1;
    ps_send_response(rc, (AV *)SvRV(ST(0)), 1, &writer);
    if (writer != NULL) {
        ST(0) = sv_2mortal(writer);
        XSRETURN(1);
    }
    XSRETURN_EMPTY;
}

SV *
ps_responder_new(struct ps_core *rc)
{
    CV *cv = newXS(NULL, xs_responder, __FILE__);

    CvXSUBANY(cv).any_iv = (IV)(((UV)rc->gen << 32) | rc->id);
    return newRV_noinc((SV *)cv);
}

static XS(xs_writer_write)
{
    dXSARGS;
    struct ps_core *rc;

    if (items != 2) {
        croak("usage: $writer->write($data)");
    }
    rc = ps_token_core(ST(0), "the PSGI writer");
    if (rc->closed) {
        croak("the PSGI writer: write after close");
    }
    ps_write_sv(rc, ST(1));
    XSRETURN_YES;
}

static XS(xs_writer_close)
{
    dXSARGS;
    UV v;
    unsigned id;

    PERL_UNUSED_VAR(items);
    /* close after the request's end (a DESTROY) is not an error */
    v = SvROK(ST(0)) ? SvUV(SvRV(ST(0))) : 0;
    id = (unsigned)(v & 0xffffffffu);
    if (ps.cores != NULL && id < ps.ncores && ps.cores[id].active &&
        ps.cores[id].gen == (uint32_t)(v >> 32)) {
        ps_closed(&ps.cores[id]);
    }
    XSRETURN_YES;
}

/* poll_cb($cb): the writer is always writable here: call $cb->($writer). */
static XS(xs_writer_poll_cb)
{
    dXSARGS;

    if (items != 2) {
        croak("usage: $writer->poll_cb($cb)");
    }
    (void)ps_token_core(ST(0), "the PSGI writer");
    PUSHMARK(SP);
    XPUSHs(ST(0));
    PUTBACK;
    call_sv(ST(1), G_DISCARD);
    XSRETURN_YES;
}

/* uwsgi::_log_line($line) */
static XS(xs_log_line)
{
    dXSARGS;
    STRLEN l;
    const char *p;

    if (items != 1) {
        croak("usage: uwsgi::_log_line($line)");
    }
    p = SvPV(ST(0), l);
    wf_log(WF_LOG_INFO, "%.*s", (int)l, p);
    XSRETURN_YES;
}

static const char errors_src[] =
    "package uwsgi::errors;\n"
    "sub new { my $b = ''; bless \\$b, shift }\n"
    "sub print {\n"
    "  my $s = shift;\n"
    "  $$s .= join(defined $, ? $, : '', @_);\n"
    "  $$s .= $\\ if defined $\\;\n"
    "  while ($$s =~ s/\\A([^\\n]*)\\n//) { uwsgi::_log_line($1) }\n"
    "  1;\n"
    "}\n"
    "sub printf { my $s = shift; my $f = shift; $s->print(sprintf($f, @_)) }\n"
    "sub say { my $s = shift; $s->print(@_, \"\\n\") }\n"
    "sub write { my ($s, $b, $l, $o) = @_;\n"
    "  $s->print(substr($b, $o || 0, defined $l ? $l : length $b)) }\n"
    "sub flush { my $s = shift; if (length $$s) { uwsgi::_log_line($$s);\n"
    "  $$s = '' } 1 }\n"
    "sub close { $_[0]->flush }\n"
    "sub fileno { 2 }\n"
    "sub opened { 1 }\n"
    "package uwsgi::writer;\n"
    "sub DESTROY { $_[0]->close }\n"
    "package uwsgi;\n"
    "our $_logger = sub { my $a = shift;\n"
    "  uwsgi::_log_line(\"[$a->{level}] $a->{message}\") };\n"
    "1;\n";

/* The classes. Master, at init. */
void
ps_io_define(void)
{
    newXS("uwsgi::input::read", xs_input_read, __FILE__);
    newXS("uwsgi::input::seek", xs_input_seek, __FILE__);
    newXS("uwsgi::input::tell", xs_input_tell, __FILE__);
    newXS("uwsgi::input::close", xs_input_close, __FILE__);
    newXS("uwsgi::writer::write", xs_writer_write, __FILE__);
    newXS("uwsgi::writer::close", xs_writer_close, __FILE__);
    newXS("uwsgi::writer::poll_cb", xs_writer_poll_cb, __FILE__);
    newXS("uwsgi::_log_line", xs_log_line, __FILE__);
    ps.stash_input = gv_stashpv("uwsgi::input", GV_ADD);
    ps.stash_writer = gv_stashpv("uwsgi::writer", GV_ADD);
    eval_pv(errors_src, TRUE);
    ps.errors = eval_pv("uwsgi::errors->new", TRUE);
    SvREFCNT_inc(ps.errors);
}
