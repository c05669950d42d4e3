/*
 * The uwsgi binary protocol as nginx's uwsgi_pass sends it: a 4-byte
 * header (modifier1, u16 LE datasize, modifier2), then datasize bytes of
 * {u16 LE key length, key, u16 LE value length, value}. The body follows
 * raw, CONTENT_LENGTH bytes, outside datasize. Nothing is copied: every
 * key and value points into the caller's buffer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "proto.h"

static inline size_t
uwsgi_u16(const char *p)
{
    return (size_t) (unsigned char) p[0]
           | (size_t) (unsigned char) p[1] << 8;
}

/* CONTENT_LENGTH: 1*DIGIT. nginx sends "" when the request has no body.
 * Returns the length, -1 for "", or -2 when it is not a number. */
static int64_t
uwsgi_content_length(const char *s, size_t n)
{
    int64_t v = 0;
    size_t i;

    if (n == 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9'
            || v > (INT64_MAX - (s[i] - '0')) / 10) {
            return -2;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*
 * Parse a uwsgi packet head from buf[0..len) into r. r's vars/max_vars/
 * arena/arena_cap must be set; the rest is reset here. Returns 4 +
 * datasize when the head is complete, 0 when more bytes are needed, -400
 * for datasize 0, an empty key, a length past the end of the block or a
 * CONTENT_LENGTH that is not a number, or -431 when 4 + datasize > max
 * (known from the first 4 bytes) or vars[] is full. Keys and values point
 * into buf, which must outlive the request. Any context; no I/O.
 */
int
wf__uwsgi_parse(const char *buf, size_t len, size_t max, struct wf__req *r)
{
    const char *p, *end, *key, *val;
    size_t datasize, klen, vlen;
    int64_t cl;

    if (len < 4) {
        return 0;
    }
    datasize = uwsgi_u16(buf + 1);
    if (datasize == 0) {
        return -400;    /* uWSGI: "Empty python request" */
    }
    if (datasize + 4 > max) {
        return -431;    /* uWSGI: "invalid request block size" */
    }
    if (len < datasize + 4) {
        return 0;
    }

    wf__req_reset(r);
    r->modifier1 = (uint8_t) buf[0];
    r->modifier2 = (uint8_t) buf[3];
    p = buf + 4;
    end = p + datasize;
    while (p < end) {
        if (end - p < 2) {
            return -400;
        }
        klen = uwsgi_u16(p);
        p += 2;
        if (klen == 0 || klen > (size_t) (end - p)) {
            return -400;    /* uWSGI: "uwsgi key cannot be null" */
        }
        key = p;
        p += klen;
        if (end - p < 2) {
            return -400;
        }
        vlen = uwsgi_u16(p);
        p += 2;
        if (vlen > (size_t) (end - p)) {
            return -400;
        }
        val = p;
        p += vlen;
        if (wf__req_put_var(r, key, klen, val, vlen) != 0) {
            return -431;
        }

        /* The few variables the core itself needs. */
        if (klen == 14 && memcmp(key, "CONTENT_LENGTH", 14) == 0) {
            cl = uwsgi_content_length(val, vlen);
            if (cl == -2) {
                return -400;
            }
            r->content_length = cl;
        } else if (klen == 15 && memcmp(key, "SERVER_PROTOCOL", 15) == 0) {
            /* "HTTP/1.x"; anything else (HTTP/2.0 behind nginx) is
             * answered as the 1.0 that the close-delimited response is. */
            r->http_minor = (vlen == 8 && memcmp(val, "HTTP/1.", 7) == 0
                             && val[7] >= '0' && val[7] <= '9')
                            ? (val[7] > '1' ? 1 : (unsigned) (val[7] - '0'))
                            : 0;
        } else if (klen == 14 && memcmp(key, "REQUEST_METHOD", 14) == 0) {
            r->is_head = vlen == 4 && memcmp(val, "HEAD", 4) == 0;
        }
    }
    /* nginx does not reuse a uwsgi connection: the response ends at EOF. */
    r->keepalive = 0;
    return (int) (datasize + 4);
}
