/*
 * The incremental decoder of a chunked request body (RFC 9112 7.1):
 *
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk = 1*("0") [ chunk-ext ] CRLF
 *   then trailer lines, then CRLF.
 *
 * A state machine over bytes, so input may be split anywhere (one byte at
 * a time works). Chunk data is copied with memcpy in blocks; only the
 * framing is looked at byte by byte. Bare LF is accepted for CRLF, like
 * nginx. Extensions and trailers are skipped, each line bounded.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "proto.h"

enum {
    CH_SIZE0,       /* the first hex digit of a size */
    CH_SIZE,        /* more hex digits */
    CH_SIZE_WS,     /* BWS after the digits, before ';' or the line end */
    CH_EXT,         /* the extensions, up to the line end */
    CH_SIZE_LF,     /* CR seen at the end of the size line */
    CH_DATA,        /* st->left bytes of data */
    CH_DATA_CR,     /* the CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER,     /* the start of a trailer line (or the final CRLF) */
    CH_TRAILER_LINE,
    CH_END_LF,      /* CR seen on the final empty line */
    CH_DONE,
    CH_ERROR
};

/* A size line, a trailer line: longer is an attack or garbage. */
#define CH_LINE_MAX 4096

/* The largest chunk size accepted. */
#define CH_SIZE_MAX (UINT64_C(1) << 62)

static inline int
ch_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Ready st for a new body. Any context.
 */
void
wf__chunked_init(struct wf__chunked *st)
{
    st->state = CH_SIZE0;
    st->left = 0;
    st->ext_len = 0;
    st->done = 0;
}

/*
 * Decode in[0..inlen) into out[0..outcap). in and out are borrowed for the
 * call. *outlen receives the number of bytes written to out. Returns the
 * number of bytes of in consumed: less than inlen when out is full (call
 * again with room) or when the body ended (the rest belongs to the next
 * request; st->done is 1). Returns -EBADMSG on bad framing, and from then
 * on for every call. Framing is consumed even when outcap is 0.
 */
ssize_t
wf__chunked_decode(struct wf__chunked *st, const char *in, size_t inlen,
                   char *out, size_t outcap, size_t *outlen)
{
    size_t i = 0, n;
    unsigned char c;
    int d;

    *outlen = 0;
    if (st->state == CH_ERROR) {
        return -EBADMSG;
    }
    while (i < inlen && st->state != CH_DONE) {
        if (st->state == CH_DATA) {
            n = inlen - i;
            if (n > st->left) {
                n = (size_t) st->left;
            }
            if (n > outcap - *outlen) {
                n = outcap - *outlen;
            }
            if (n == 0) {
                break;      /* out is full */
            }
            memcpy(out + *outlen, in + i, n);
            *outlen += n;
            i += n;
            st->left -= n;
            if (st->left == 0) {
                st->state = CH_DATA_CR;
            }
            continue;
        }

        c = (unsigned char) in[i++];
        if (st->state <= CH_SIZE_LF && ++st->ext_len > CH_LINE_MAX) {
            goto bad;
        }
        switch (st->state) {
        case CH_SIZE0:
        case CH_SIZE:
            d = ch_hex(c);
            if (d >= 0) {
                if (st->left > (CH_SIZE_MAX - (uint64_t) d) >> 4) {
                    goto bad;
                }
                st->left = st->left << 4 | (uint64_t) d;
                st->state = CH_SIZE;
                break;
            }
            if (st->state == CH_SIZE0) {
                goto bad;   /* no digits: "", ";x", "-1", " 1" */
            }
            /* The end of the digits. */
            /* fall through */
        case CH_SIZE_WS:
            if (c == ' ' || c == '\t') {
                st->state = CH_SIZE_WS;
            } else if (c == ';') {
                st->state = CH_EXT;
            } else if (c == '\r') {
                st->state = CH_SIZE_LF;
            } else if (c == '\n') {
                goto size_done;
            } else {
                goto bad;
            }
            break;
        case CH_EXT:
            if (c == '\r') {
                st->state = CH_SIZE_LF;
            } else if (c == '\n') {
                goto size_done;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                goto bad;
            }
            break;
        case CH_SIZE_LF:
            if (c != '\n') {
                goto bad;
            }
        size_done:
            st->ext_len = 0;
            st->state = st->left == 0 ? CH_TRAILER : CH_DATA;
            break;
        case CH_DATA_CR:
            if (c == '\r') {
                st->state = CH_DATA_LF;
                break;
            }
            /* A bare LF. */
            /* fall through */
        case CH_DATA_LF:
            if (c != '\n') {
                goto bad;   /* the data is longer than its size said */
            }
            st->state = CH_SIZE0;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                st->state = CH_END_LF;
            } else if (c == '\n') {
                goto done;
            } else {
                st->ext_len = 1;
                st->state = CH_TRAILER_LINE;
            }
            break;
        case CH_TRAILER_LINE:
            if (c == '\n') {
                st->state = CH_TRAILER;
            } else if (++st->ext_len > CH_LINE_MAX) {
                goto bad;
            }
            break;
        case CH_END_LF:
            if (c != '\n') {
                goto bad;
            }
        done:
            st->state = CH_DONE;
            st->done = 1;
            break;
        default:
            goto bad;
        }
    }
    return (ssize_t) i;

bad:
    st->state = CH_ERROR;
    return -EBADMSG;
}
