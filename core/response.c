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

/* See internal.h. */
const char *
wf__http_reason(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
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
    r->sent = 0;
    r->nheaders = 0;
    r->head_sent = 0;
    r->chunked = 0;
    r->close = 0;
    r->no_body = c->conn->req.is_head;
    r->status_set = 0;
    r->app_connection_close = 0;
    r->continue_sent = 0;
    r->broken = 0;
}

/*
 * Send iov[0..n) whole. Waits through the engine (poll() without one) up to
 * --socket-timeout for each stall. Returns 0 or -errno; a failure marks the
 * response broken (the client is gone).
 */
static int
send_all(struct wf__core *c, struct iovec *iov, int n)
{
    struct msghdr mh;

    if (c->resp.broken) {
        return -EPIPE;
    }
    while (n > 0) {
        ssize_t w;

        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)n;
        w = sendmsg(c->conn->fd, &mh, MSG_NOSIGNAL);
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
            r = wf_wait_io(&c->pub, c->conn->fd, WF_IO_WRITE,
                           wf__cfg.socket_timeout * 1000);
            if (r <= 0) {
                c->resp.broken = 1;
                if (r == 0) {
                    wf_log(WF_LOG_WARN, "core %u: client %s took no bytes "
                           "for %lds (--socket-timeout); response cut",
                           c->pub.id, c->conn->raddr, wf__cfg.socket_timeout);
                    return -ETIMEDOUT;
                }
                return r;
            }
            continue;
        }
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

static int
is_token_char(unsigned char ch)
{
    static const char *const extra = "!#$%&'*+-.^_`|~";

    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || (ch && strchr(extra, ch) != NULL);
}

WF_API int
wf_response_status(struct wf_core *pub, const char *status, size_t len)
{
    struct wf__core *c = wf__core(pub);
    size_t i;
    int code;

    if (c->resp.head_sent) {
        return -EALREADY;
    }
    if (len < 4 || len >= sizeof(c->resp.status) - 1 || status[3] != ' ') {
        return -EINVAL;
    }
    for (i = 0; i < 3; i++) {
        if (status[i] < '0' || status[i] > '9') {
            return -EINVAL;
        }
    }
    for (i = 4; i < len; i++) {
        unsigned char ch = (unsigned char)status[i];

        if (ch < 0x20 && ch != '\t') {
            return -EINVAL;
        }
        if (ch == 0x7f) {
            return -EINVAL;
        }
    }
    code = (status[0] - '0') * 100 + (status[1] - '0') * 10 +
           (status[2] - '0');
    if (code < 100 || code > 599) {
        return -EINVAL;
    }
    memcpy(c->resp.status, status, len);
    c->resp.status[len] = '\0';
    c->resp.status_len = len;
    c->resp.status_set = 1;
    c->resp.no_body = c->conn->req.is_head || code < 200 || code == 204 ||
                      code == 304;
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

WF_API int
wf_response_header(struct wf_core *pub, const char *name, size_t nlen,
                   const char *val, size_t vlen)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    size_t i;

    if (r->head_sent) {
        return -EALREADY;
    }
    if (nlen == 0) {
        return -EINVAL;
    }
    for (i = 0; i < nlen; i++) {
        if (!is_token_char((unsigned char)name[i])) {
            return -EINVAL;
        }
    }
    for (i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)val[i];

        if (ch == '\r' || ch == '\n' || ch == '\0') {
            return -EINVAL;
        }
    }
    if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        int64_t v = 0;

        if (vlen == 0 || vlen > 18) {
            return -EINVAL;
        }
        for (i = 0; i < vlen; i++) {
            if (val[i] < '0' || val[i] > '9') {
                return -EINVAL;
            }
            v = v * 10 + (val[i] - '0');
        }
        r->content_length = v;
    } else if (nlen == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
        /* framing is the server's: an app's own chunking would be
         * chunked twice */
        return -EINVAL;
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

/*
 * Send the head, then body[0..n) iovecs. final: the whole body is in the
 * iovecs, so its length is known.
 */
static int
send_head(struct wf__core *c, int final, struct iovec *body, int nbody,
          size_t body_len)
{
    struct wf__resp *r = &c->resp;
    char line[192], extra[128];
    struct iovec iov[8];
    size_t plen = 8, elen = 0;
    const char *proto = "HTTP/1.1";
    int n = 0, i, http = c->conn->lsn->proto == WF_PROTO_HTTP;

    if (!http) {
        size_t l;
        const char *p = wf__req_get(&c->conn->req, "SERVER_PROTOCOL", &l);

        if (p != NULL && l > 0 && l < 16) {
            proto = p;
            plen = l;
        } else {
            proto = "HTTP/1.0";
        }
    }
    if (r->app_connection_close || (http && !c->conn->req.keepalive) ||
        wf__w.stopping) {
        r->close = 1;
    }
    if (http) {
        if (r->content_length >= 0) {
            /* the app's framing */
        } else if (r->no_body) {
            if (final && c->conn->req.is_head && body_len > 0) {
                elen += (size_t)snprintf(extra + elen, sizeof(extra) - elen,
                                         "Content-Length: %zu\r\n",
                                         body_len);
            }
        } else if (final) {
            elen += (size_t)snprintf(extra + elen, sizeof(extra) - elen,
                                     "Content-Length: %zu\r\n", body_len);
        } else if (c->conn->req.http_minor >= 1) {
            r->chunked = 1;
            elen += (size_t)snprintf(extra + elen, sizeof(extra) - elen,
                                     "Transfer-Encoding: chunked\r\n");
        } else {
            r->close = 1;
        }
        if (r->close && !r->app_connection_close) {
            elen += (size_t)snprintf(extra + elen, sizeof(extra) - elen,
                                     "Connection: close\r\n");
        } else if (!r->close && c->conn->req.http_minor == 0) {
            elen += (size_t)snprintf(extra + elen, sizeof(extra) - elen,
                                     "Connection: keep-alive\r\n");
        }
    } else {
        /* the uwsgi protocol: a raw response ended by closing */
        r->close = 1;
    }
    memcpy(extra + elen, "\r\n", 2);
    elen += 2;
    snprintf(line, sizeof(line), "%.*s %s\r\n", (int)plen, proto,
             r->status);
    iov[n].iov_base = line;
    iov[n++].iov_len = strlen(line);
    if (r->hlen) {
        iov[n].iov_base = r->hbuf;
        iov[n++].iov_len = r->hlen;
    }
    iov[n].iov_base = extra;
    iov[n++].iov_len = elen;
    r->head_sent = 1;
    if (r->no_body) {
        nbody = 0;
    }
    for (i = 0; i < nbody && n < 8; i++) {
        iov[n++] = body[i];
    }
    if (!r->no_body) {
        r->sent += body_len;
    }
    return send_all(c, iov, n);
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
    if (r->chunked) {
        iov[0].iov_base = size;
        iov[0].iov_len = (size_t)snprintf(size, sizeof(size), "%zx\r\n",
                                          len);
        iov[1].iov_base = (void *)buf;
        iov[1].iov_len = len;
        iov[2].iov_base = "\r\n";
        iov[2].iov_len = 2;
        return send_all(c, iov, 3);
    }
    iov[0].iov_base = (void *)buf;
    iov[0].iov_len = len;
    return send_all(c, iov, 1);
}

/* Send the head (not final) with what the output buffer holds. */
static int
flush_head(struct wf__core *c)
{
    struct wf__resp *r = &c->resp;
    struct iovec b;
    int ret;

    if (r->head_sent) {
        return 0;
    }
    ret = send_head(c, 0, NULL, 0, 0);
    if (ret == 0 && r->olen > 0) {
        b.iov_base = r->obuf;
        b.iov_len = r->olen;
        r->olen = 0;
        ret = send_body(c, b.iov_base, b.iov_len);
    }
    return ret;
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
        if (r->content_length < 0 && r->olen + len <= OBUF_MAX) {
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
        if (r->content_length >= 0 && r->olen == 0) {
            /* the app gave the length: head and first chunk together */
            struct iovec b = { (void *)buf, len };

            if (len > (uint64_t)r->content_length) {
                b.iov_len = (size_t)r->content_length;
                r->close = 1;
            }
            ret = send_head(c, 0, &b, 1, b.iov_len);
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

WF_API ssize_t
wf_sendfile(struct wf_core *pub, int fd, off_t offset, size_t len)
{
    struct wf__core *c = wf__core(pub);
    struct wf__resp *r = &c->resp;
    struct stat st;
    size_t left, total;
    char size[24];
    int ret;

    if (!r->status_set) {
        return -EINVAL;
    }
    if (len == 0) {
        if (fstat(fd, &st) < 0) {
            return -errno;
        }
        if (st.st_size <= offset) {
            return 0;
        }
        len = (size_t)(st.st_size - offset);
    }
    if (r->content_length >= 0 && r->sent + r->olen + len >
        (uint64_t)r->content_length) {
        len = (size_t)((uint64_t)r->content_length - r->sent - r->olen);
    }
    ret = flush_head(c);
    if (ret < 0) {
        return ret;
    }
    if (r->no_body || len == 0) {
        return 0;
    }
    if (r->chunked) {
        struct iovec iov = { size, (size_t)snprintf(size, sizeof(size),
                                                    "%zx\r\n", len) };

        ret = send_all(c, &iov, 1);
        if (ret < 0) {
            return ret;
        }
    }
    total = len;
    left = len;
    while (left > 0) {
        ssize_t w = sendfile(c->conn->fd, fd, &offset, left);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                int wr = wf_wait_io(pub, c->conn->fd, WF_IO_WRITE,
                                    wf__cfg.socket_timeout * 1000);

                if (wr <= 0) {
                    r->broken = 1;
                    return wr == 0 ? -ETIMEDOUT : wr;
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
        left -= (size_t)w;
        r->sent += (uint64_t)w;
    }
    if (r->chunked) {
        struct iovec iov = { "\r\n", 2 };

        ret = send_all(c, &iov, 1);
        if (ret < 0) {
            return ret;
        }
    }
    return (ssize_t)total;
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

    if (status == WF_ERROR) {
        if (!r->head_sent && !r->broken) {
            wf_response_error(&c->pub, 500);
        }
        r->close = 1;
        return;
    }
    if (!r->status_set && !r->head_sent) {
        wf_log(WF_LOG_ERROR, "core %u: the app returned without a status "
               "(start_response was never called)", c->pub.id);
        wf_response_error(&c->pub, 500);
        r->close = 1;
        return;
    }
    if (!r->head_sent) {
        struct iovec b = { r->obuf, r->olen };
        size_t n = r->olen;

        r->olen = 0;
        send_head(c, 1, &b, n ? 1 : 0, n);
    } else if (r->chunked && !r->broken) {
        struct iovec end = { "0\r\n\r\n", 5 };

        send_all(c, &end, 1);
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
