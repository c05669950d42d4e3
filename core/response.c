/*
 * The response writer: status and headers from the language, framing
 * (Content-Length, chunked, or close), keep-alive, writes that wait through
 * the suspend engine when the socket is full.
 *
 * A body whose length the app did not give is held back in the core's
 * output buffer up to OBUF_MAX bytes: when the response ends within it, it
 * goes out with a Content-Length (one writev for head and body); otherwise
 * the head goes out chunked (HTTP/1.1) or with Connection: close.
 */
#include "internal.h"
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define OBUF_MAX 16384

/* See internal.h: the reason phrase of code (core/policy.c's table), or
 * "Unknown". */
const char *
wf__http_reason(int code)
{
    const char *r = wf_http_reason(code);

    return r != NULL ? r : "Unknown";
}

/* See internal.h. */
void
wf__resp_init(struct wf__core *c)
{
    struct wf__resp *r = &c->resp;

    r->status_len = 0;
    r->hlen = 0;
    r->olen = 0;
    r->content_length = -1;
    r->length_hint = -1;
    r->refusal = WF_HTTP_OK;
    r->sent = 0;
    r->rx.bytes = r->tx.bytes = 0;
    r->rx.waited = r->tx.waited = 0;
    r->nheaders = 0;
    r->head_sent = 0;
    r->chunked = 0;
    r->close = 0;
    r->no_body = c->conn->req.is_head;
    r->status_set = 0;
    r->app_connection_close = 0;
    r->continue_sent = 0;
    r->broken = 0;
    r->error_reply = 0;
    r->wlen = 0;
}

/*
 * Send iov[0..n) whole. Waits through the engine (poll() without one) up to
 * --socket-timeout for each stall, within the response's deadline
 * (wf__client_wait). Returns 0 or -errno; a failure marks the response
 * broken (the client is gone).
 *
 * last: these are the response's last bytes (wf__resp_finish). When the
 * connection closes right after (r->close: wf__request_done closes or
 * shuts it down next, with no wait between) and is TCP, they go with
 * MSG_MORE: the close() or shutdown() pushes them, and the kernel puts
 * the FIN on the same segment (one segment and one ACK fewer per closed
 * connection).
 */
static int
send_all(struct wf__core *c, struct iovec *iov, int n, int last)
{
    struct msghdr mh;
    int flags = MSG_NOSIGNAL;

    if (c->resp.broken) {
        return -EPIPE;
    }
    if (last && c->resp.close && !c->conn->lsn->is_unix) {
        flags |= MSG_MORE;
    }
    while (n > 0) {
        ssize_t w;

        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)n;
        w = sendmsg(c->conn->fd, &mh, flags);
        if (w < 0) {
            int r;

            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                r = -errno;
                c->resp.broken = 1;
                return r;
            }
            r = wf__client_wait(c, WF_IO_WRITE);
            if (r < 0) {
                c->resp.broken = 1;
                return r;
            }
            continue;
        }
        wf__xfer_count(&c->resp.tx, (size_t)w);
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* See core.h. The status line is checked by the one table of
 * core/policy.c (wf_http_status_check). */
WF_API int
wf_response_status(struct wf_core *pub, const char *status, size_t len)
{
    struct wf__core *c = wf__core(pub);
    int code, v;

    if (c->resp.head_sent) {
        return -EALREADY;
    }
    v = wf_http_status_check(status, len);
    if (v == WF_HTTP_OK && len >= sizeof(c->resp.status) - 1) {
        v = WF_HTTP_STATUS_FORM;
    }
    if (v != WF_HTTP_OK) {
        c->resp.refusal = v;
        return -EINVAL;
    }
    code = (status[0] - '0') * 100 + (status[1] - '0') * 10 +
           (status[2] - '0');
    memcpy(c->resp.status, status, len);
    c->resp.status[len] = '\0';
    c->resp.status_len = len;
    c->resp.status_set = 1;
    c->resp.no_body = c->conn->req.is_head || code == 204 || code == 304;
    return 0;
}

/* See core.h. */
WF_API int
wf_response_status_code(struct wf_core *pub, int code)
{
    char line[96];
    int n;

    if (code < 0 || code > 999) {
        wf__core(pub)->resp.refusal = WF_HTTP_STATUS_FORM;
        return -EINVAL;
    }
    n = snprintf(line, sizeof(line), "%03d %s", code, wf__http_reason(code));
    return wf_response_status(pub, line, (size_t)n);
}

/* See core.h. */
WF_API int
wf_response_refusal(const struct wf_core *pub)
{
    return ((const struct wf__core *)pub)->resp.refusal;
}

/* See core.h. */
WF_API int
wf_response_length(struct wf_core *pub, uint64_t len)
{
    struct wf__resp *r = &wf__core(pub)->resp;

    if (r->head_sent || r->length_hint >= 0 || len > INT64_MAX) {
        return -EALREADY;
    }
    r->length_hint = (int64_t)len;
    return 0;
}

WF_API void
wf_response_reset(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);

    if (c->resp.head_sent) {
        return;
    }
    c->resp.hlen = 0;
    c->resp.nheaders = 0;
    c->resp.content_length = -1;
    c->resp.length_hint = -1;
    c->resp.app_connection_close = 0;
}

static int
hbuf_append(struct wf__resp *r, const char *s, size_t n)
{
    if (r->hlen + n > r->hcap) {
        size_t ncap = r->hcap ? r->hcap : 512;
        char *nb;

        while (ncap < r->hlen + n) {
            ncap *= 2;
        }
        nb = realloc(r->hbuf, ncap);
        if (nb == NULL) {
            return -ENOMEM;
        }
        r->hbuf = nb;
        r->hcap = ncap;
    }
    memcpy(r->hbuf + r->hlen, s, n);
    r->hlen += n;
    return 0;
}

/* See core.h. One table decides (wf_http_header_check); a Content-Length
 * given twice goes out once, two different ones are refused (issue 12). */
WF_API int
wf_response_header(struct wf_core *pub, const char *name, size_t nlen,
                   const char *val, size_t vlen)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    int v;

    if (r->head_sent) {
        return -EALREADY;
    }
    v = wf_http_header_check(name, nlen, val, vlen);
    if (v != WF_HTTP_OK) {
        r->refusal = v;
        return -EINVAL;
    }
    if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        int64_t n = 0;
        size_t i;

        for (i = 0; i < vlen; i++) {
            n = n * 10 + (val[i] - '0');
        }
        if (r->content_length >= 0) {
            if (n != r->content_length) {
                r->refusal = WF_HTTP_HEADER_LENGTH_TWICE;
                return -EINVAL;
            }
            return 0;
        }
        r->content_length = n;
    } else if (nlen == 10 && strncasecmp(name, "Connection", 10) == 0) {
        if (vlen == 5 && strncasecmp(val, "close", 5) == 0) {
            r->app_connection_close = 1;
        }
    }
    if (hbuf_append(r, name, nlen) < 0 || hbuf_append(r, ": ", 2) < 0 ||
        hbuf_append(r, val, vlen) < 0 || hbuf_append(r, "\r\n", 2) < 0) {
        return -ENOMEM;
    }
    r->nheaders++;
    return 0;
}

WF_API int
wf_response_started(const struct wf_core *pub)
{
    return ((const struct wf__core *)pub)->resp.head_sent;
}

/* 204 No Content or 304 Not Modified: no body and no Content-Length of
 * the body the app gave, also for a HEAD. */
static int
bodiless_status(const char *status)
{
    return status[0] == '2' ? status[1] == '0' && status[2] == '4'
           : status[0] == '3' && status[1] == '0' && status[2] == '4';
}

/* A literal appended to a head's extra part at elen; the new length. At
 * most three of these and one put_length go into extra[128]. */
#define PUT(extra, elen, lit) \
    (memcpy((extra) + (elen), lit, sizeof(lit) - 1), (elen) + sizeof(lit) - 1)

/* "Content-Length: v\r\n" appended at elen (38 bytes at most); the new
 * length. */
static size_t
put_length(char *extra, size_t elen, uint64_t v)
{
    elen = PUT(extra, elen, "Content-Length: ");
    elen += wf__fmt_uint(extra + elen, v, 10);
    return PUT(extra, elen, "\r\n");
}

/* A chunk's size line ("%zx\r\n") into size[24]; its length. */
static size_t
chunk_size_line(char *size, size_t len)
{
    size_t n = wf__fmt_uint(size, len, 16);

    size[n] = '\r';
    size[n + 1] = '\n';
    return n + 2;
}

/*
 * Compose the head: the status line into line[192], the framing and
 * connection headers (and the blank line) into extra[128]; iov[0..3) gets
 * line, the app's headers and extra. The framing is decided here, for
 * every language and for static files: final says the whole body is
 * body_len bytes. Marks the head sent. Returns the iovecs filled.
 */
static int
compose_head(struct wf__core *c, int final, size_t body_len, char *line,
             char *extra, struct iovec *iov)
{
    struct wf__resp *r = &c->resp;
    size_t plen = 8, elen = 0;
    const char *proto = "HTTP/1.1";
    int n = 0, http = c->conn->lsn->proto == WF_PROTO_HTTP;

    if (!http) {
        size_t l;
        const char *p = wf__req_get(&c->conn->req, "SERVER_PROTOCOL", &l);

        /* checked when the request came (wf__cgi_defaults); checked
         * again here because it goes verbatim into the head */
        if (p != NULL && l < 16 && wf__http_proto_ok(p, l)) {
            proto = p;
            plen = l;
        } else {
            proto = "HTTP/1.0";
        }
    }
    if (r->app_connection_close || (http && !c->conn->req.keepalive) ||
        c->loop->stopping) {
        r->close = 1;
    }
    /* the framing: decided here, for every language */
    if (r->content_length < 0 && r->length_hint >= 0) {
        /* the language knows the length (a list, a file): announced, and
         * held to like the app's own */
        r->content_length = r->length_hint;
        /* a HEAD says the GET's length; a 204 or 304 has none (RFC 9110
         * 8.6: never in a 204; a 304's would be the 200's, not this) */
        if (!r->no_body || (c->conn->req.is_head &&
                            !bodiless_status(r->status))) {
            elen = put_length(extra, elen, (uint64_t)r->length_hint);
        }
    } else if (!http || r->content_length >= 0) {
        /* the app's Content-Length (in hbuf), or the uwsgi protocol */
    } else if (r->no_body) {
        if (final && c->conn->req.is_head && body_len > 0 &&
            !bodiless_status(r->status)) {
            elen = put_length(extra, elen, body_len);
        }
    } else if (final) {
        elen = put_length(extra, elen, body_len);
    } else if (c->conn->req.http_minor >= 1) {
        r->chunked = 1;
        elen = PUT(extra, elen, "Transfer-Encoding: chunked\r\n");
    } else {
        r->close = 1;
    }
    if (!http) {
        /* the uwsgi protocol: a raw response ended by closing */
        r->close = 1;
    } else if (r->close && !r->app_connection_close) {
        elen = PUT(extra, elen, "Connection: close\r\n");
    } else if (!r->close && c->conn->req.http_minor == 0) {
        elen = PUT(extra, elen, "Connection: keep-alive\r\n");
    }
    memcpy(extra + elen, "\r\n", 2);
    elen += 2;
    /* the status line by memcpy: snprintf cost ~950 instructions, a
     * sixteenth of a keep-alive hello (docs/performance.md) */
    {
        size_t sl = strnlen(r->status, sizeof(r->status));

        if (plen + sl + 3 > 192) {
            sl = 192 - plen - 3;
        }
        memcpy(line, proto, plen);
        line[plen] = ' ';
        memcpy(line + plen + 1, r->status, sl);
        memcpy(line + plen + 1 + sl, "\r\n", 2);
        iov[n].iov_base = line;
        iov[n++].iov_len = plen + sl + 3;
    }
    if (r->hlen) {
        iov[n].iov_base = r->hbuf;
        iov[n++].iov_len = r->hlen;
    }
    iov[n].iov_base = extra;
    iov[n++].iov_len = elen;
    r->head_sent = 1;
    return n;
}

/* len (> 0) body bytes as the framing says: into iov[0..3) (size: the
 * chunk-size line's room, 24 bytes). Returns the iovecs filled. */
static int
frame(const struct wf__resp *r, const void *buf, size_t len,
      struct iovec *iov, char *size)
{
    if (r->chunked) {
        iov[0].iov_base = size;
        iov[0].iov_len = chunk_size_line(size, len);
        iov[1].iov_base = (void *)buf;
        iov[1].iov_len = len;
        iov[2].iov_base = "\r\n";
        iov[2].iov_len = 2;
        return 3;
    }
    iov[0].iov_base = (void *)buf;
    iov[0].iov_len = len;
    return 1;
}

/*
 * Send the head and, in the same sendmsg, len body bytes framed as the
 * head says (chunked or raw; none for a HEAD). final: these are the
 * whole body, so its length is known.
 */
static int
send_head(struct wf__core *c, int final, const void *body, size_t len)
{
    struct wf__resp *r = &c->resp;
    char line[192], extra[128], size[24];
    struct iovec iov[6];
    int n;

    n = compose_head(c, final, len, line, extra, iov);
    if (!r->no_body && len > 0) {
        n += frame(r, body, len, iov + n, size);
        r->sent += len;
    }
    return send_all(c, iov, n, final);
}

/* See internal.h. */
int
wf__resp_compose(struct wf__core *c, uint64_t body_len, const char *body,
                 size_t blen)
{
    struct wf__resp *r = &c->resp;
    char line[192], extra[128];
    struct iovec iov[3];
    size_t need, at = 0;
    int n, i;

    if (r->head_sent || !r->status_set || body_len > INT64_MAX) {
        return -EINVAL;
    }
    if (r->content_length < 0 && r->length_hint < 0) {
        r->length_hint = (int64_t)body_len;
    }
    n = compose_head(c, 1, (size_t)body_len, line, extra, iov);
    if (r->no_body) {
        blen = 0;
    }
    need = blen;
    for (i = 0; i < n; i++) {
        need += iov[i].iov_len;
    }
    if (need > r->wcap) {
        char *nb = realloc(r->wire, need);

        if (nb == NULL) {
            return -ENOMEM;
        }
        r->wire = nb;
        r->wcap = need;
    }
    for (i = 0; i < n; i++) {
        memcpy(r->wire + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    if (blen > 0) {
        memcpy(r->wire + at, body, blen);
        at += blen;
        r->sent += blen;
    }
    r->wlen = at;
    return 0;
}

/* The body length the response will announce: the app's Content-Length,
 * else the language's wf_response_length(), else -1. */
static int64_t
announced(const struct wf__resp *r)
{
    return r->content_length >= 0 ? r->content_length : r->length_hint;
}

/* Body bytes, framed. */
static int
send_body(struct wf__core *c, const void *buf, size_t len)
{
    struct wf__resp *r = &c->resp;
    struct iovec iov[3];
    char size[24];

    if (r->no_body || len == 0) {
        return 0;
    }
    if (r->content_length >= 0 &&
        r->sent + len > (uint64_t)r->content_length) {
        /* more than announced: the rest would be read as the next
         * response by the client */
        size_t room = (size_t)((uint64_t)r->content_length - r->sent);

        wf_log(WF_LOG_WARN, "core %u: the app wrote more than its "
               "Content-Length (%lld); the rest is dropped", c->pub.id,
               (long long)r->content_length);
        r->close = 1;
        len = room;
        if (len == 0) {
            return 0;
        }
    }
    r->sent += len;
    return send_all(c, iov, frame(r, buf, len, iov, size), 0);
}

/* Send the head (not final) with what the output buffer holds. */
static int
flush_head(struct wf__core *c)
{
    struct wf__resp *r = &c->resp;
    size_t n = r->olen;

    if (r->head_sent) {
        return 0;
    }
    /* head and what was held in one sendmsg (the length is not known
     * here: chunked, or raw until the close) */
    r->olen = 0;
    return send_head(c, 0, r->obuf, n);
}

/* See internal.h: the app gave the worker away (a generator's yield, a
 * suspend): what it wrote so far goes out now, so streams stream. */
void
wf__resp_flush(struct wf__core *c)
{
    if (!c->resp.head_sent && c->resp.status_set && c->resp.olen > 0) {
        flush_head(c);
    }
}

WF_API ssize_t
wf_write(struct wf_core *pub, const void *buf, size_t len)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    int ret;

    if (r->broken) {
        return -EPIPE;
    }
    if (!r->status_set) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    if (!r->head_sent) {
        int64_t known = announced(r);

        if (known < 0 && r->olen + len <= OBUF_MAX) {
            if (r->ocap < OBUF_MAX) {
                char *nb = realloc(r->obuf, OBUF_MAX);

                if (nb == NULL) {
                    return -ENOMEM;
                }
                r->obuf = nb;
                r->ocap = OBUF_MAX;
            }
            memcpy(r->obuf + r->olen, buf, len);
            r->olen += len;
            return (ssize_t)len;
        }
        if (known >= 0 && r->olen == 0) {
            /* the length is known: head and first chunk together */
            size_t first = len;

            if (len > (uint64_t)known) {
                first = (size_t)known;
                r->close = 1;
            }
            ret = send_head(c, 0, buf, first);
            return ret < 0 ? ret : (ssize_t)len;
        }
        ret = flush_head(c);
        if (ret < 0) {
            return ret;
        }
    }
    ret = send_body(c, buf, len);
    return ret < 0 ? ret : (ssize_t)len;
}

/*
 * Send len bytes of fd from offset as body, framed (the head goes first
 * if it has not). *sent receives the body bytes that went out (0 when the
 * response has no body). Returns 0 or -errno; -EIO when the file ended
 * early (the framing is then wrong: the connection closes).
 */
static int
send_file(struct wf__core *c, int fd, off_t offset, size_t len,
          size_t *sent)
{
    struct wf__resp *r = &c->resp;
    int64_t known = announced(r);
    size_t left;
    char size[24];
    int ret;

    *sent = 0;
    if (known >= 0 && r->sent + r->olen + len > (uint64_t)known) {
        len = (size_t)((uint64_t)known - r->sent - r->olen);
    }
    ret = flush_head(c);
    if (ret < 0) {
        return ret;
    }
    if (r->no_body || len == 0) {
        return 0;
    }
    if (r->chunked) {
        struct iovec iov = { size, chunk_size_line(size, len) };

        ret = send_all(c, &iov, 1, 0);
        if (ret < 0) {
            return ret;
        }
    }
    left = len;
    while (left > 0) {
        ssize_t w = sendfile(c->conn->fd, fd, &offset, left);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                int wr = wf__client_wait(c, WF_IO_WRITE);

                if (wr < 0) {
                    r->broken = 1;
                    return wr;
                }
                continue;
            }
            ret = -errno;
            r->broken = 1;
            return ret;
        }
        if (w == 0) {
            /* the file shrank under us: the framing is now wrong */
            r->close = 1;
            r->broken = 1;
            return -EIO;
        }
        wf__xfer_count(&r->tx, (size_t)w);
        left -= (size_t)w;
        *sent += (size_t)w;
        r->sent += (uint64_t)w;
    }
    if (r->chunked) {
        struct iovec iov = { "\r\n", 2 };

        ret = send_all(c, &iov, 1, 0);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* The length of fd from offset, for a len of 0: 0 or -errno. */
static int
file_rest(int fd, off_t offset, size_t *len)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    *len = st.st_size > offset ? (size_t)(st.st_size - offset) : 0;
    return 0;
}

/* See core.h. */
WF_API ssize_t
wf_sendfile(struct wf_core *pub, int fd, off_t offset, size_t len)
{
    struct wf__core *c = wf__core(pub);
    size_t sent;
    int ret;

    if (!c->resp.status_set) {
        return -EINVAL;
    }
    if (len == 0 && (ret = file_rest(fd, offset, &len)) < 0) {
        return ret;
    }
    if (len == 0) {
        return 0;
    }
    ret = send_file(c, fd, offset, len, &sent);
    return ret < 0 ? ret : (ssize_t)sent;
}

/* See core.h. */
WF_API int
wf_response_file(struct wf_core *pub, int fd, off_t offset, size_t len)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    size_t sent;
    int ret;

    if (!r->status_set) {
        return -EINVAL;
    }
    if (len == 0 && (ret = file_rest(fd, offset, &len)) < 0) {
        return ret;
    }
    if (!r->head_sent && announced(r) < 0) {
        /* the body is what the app wrote so far and this file */
        r->length_hint = (int64_t)(r->olen + len);
    }
    ret = send_file(c, fd, offset, len, &sent);
    if (ret == -EIO) {
        char rl[256];

        wf_log(WF_LOG_ERROR, "core %u: the file (fd %d) ended %zu bytes "
               "early while %s sent it; connection closed", c->pub.id, fd,
               len - sent, wf__req_line(&c->conn->req, rl, sizeof(rl)));
    }
    return ret;
}

/* See core.h. */
WF_API const char *
wf_req_line(const struct wf_core *pub, char *buf, size_t len)
{
    const struct wf__core *c = (const struct wf__core *)pub;

    return wf__req_line(&c->conn->req, buf, len);
}

WF_API int
wf_response_error(struct wf_core *pub, int code)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    char status[64], body[96];
    int blen;

    if (r->head_sent) {
        r->close = 1;
        return -EALREADY;
    }
    /*
     * An error reply is whole and framed (Content-Length), so the
     * connection stays usable after it, as after any complete response:
     * HTTP/1.1 persistence follows the framing, not the status (RFC 9112
     * 9.3, 9.6). uWSGI keeps the connection after an app error too (but
     * answers nothing, so a pipelining client takes the next answer for
     * this one's). The rest of the request body is of no use now: it is
     * dropped, and when it is not all here (the client may still be
     * sending it) the connection closes and the head says so. A client's
     * fault (400, 408, 413...) was marked to close by its caller; the
     * client's own Connection: close, HTTP/1.0 without keep-alive and a
     * stopping worker close too (send_head).
     */
    if (c->conn->lsn->proto == WF_PROTO_HTTP &&
        wf__body_discard(c->conn) < 0) {
        r->close = 1;
    }
    r->error_reply = 1;
    snprintf(status, sizeof(status), "%03d %s", code, wf__http_reason(code));
    blen = snprintf(body, sizeof(body), "%s\n", status);
    r->olen = 0;
    wf_response_reset(pub);
    wf_response_status(pub, status, strlen(status));
    wf_response_header(pub, "Content-Type", 12, "text/plain", 10);
    {
        char cl[24];
        int n = snprintf(cl, sizeof(cl), "%d", blen);

        wf_response_header(pub, "Content-Length", 14, cl, (size_t)n);
    }
    wf_write(pub, body, (size_t)blen);
    return 0;
}

/* See internal.h. */
void
wf__resp_finish(struct wf__core *c, int status)
{
    struct wf__resp *r = &c->resp;

    if (status == WF_ERROR || (!r->status_set && !r->head_sent)) {
        if (status != WF_ERROR) {
            wf_log(WF_LOG_ERROR, "core %u: the app returned without a "
                   "status (start_response was never called)", c->pub.id);
        }
        if (!r->head_sent && !r->broken) {
            /* the connection stays usable or not: wf_response_error */
            wf_response_error(&c->pub, 500);
        } else if (!r->error_reply) {
            /* the app's head went out: its body is cut, and only the
             * close tells the client */
            r->close = 1;
        }
        return;
    }
    if (!r->head_sent) {
        size_t n = r->olen;

        r->olen = 0;
        send_head(c, 1, r->obuf, n);
    } else if (r->chunked && !r->broken) {
        struct iovec end = { "0\r\n\r\n", 5 };

        send_all(c, &end, 1, 1);
    }
    if (r->content_length >= 0 && !r->no_body && !r->broken &&
        r->sent < (uint64_t)r->content_length) {
        wf_log(WF_LOG_WARN, "core %u: response shorter than its "
               "Content-Length (%llu < %lld); connection closed",
               c->pub.id, (unsigned long long)r->sent,
               (long long)r->content_length);
        r->close = 1;
    }
}

/* See internal.h. A bad request: answer and let the caller close. Never
 * waits: the socket is non-blocking and the connection is going away. */
void
wf__resp_send_error(struct wf__conn *k, int code)
{
    char buf[256];
    int n;

    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%d %s\n",
                 code, wf__http_reason(code),
                 strlen(wf__http_reason(code)) + 5, code,
                 wf__http_reason(code));
    if (send(k->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the client is gone or not reading: it loses the error only */
    }
    /* let the client read the answer before the close resets it: stop
     * our side of the stream first */
    shutdown(k->fd, SHUT_WR);
}
