/*
 * The request body: Content-Length or chunked, streamed to the language as
 * it reads (wsgi.input, rack.input). Bytes that came with the head are
 * served first; the rest is read from the socket, waiting through the
 * suspend engine. A body read never reads past its end, so a pipelined
 * request after it stays where the loop will find it.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* See internal.h. */
void
wf__body_init(struct wf__conn *k)
{
    k->body_off = k->head_len;
    k->body_done = 0;
    k->body_read = 0;
    if (k->req.chunked) {
        wf__chunked_init(&k->chunk);
        k->body_left = -1;
    } else if (k->req.content_length > 0) {
        k->body_left = k->req.content_length;
    } else {
        k->body_left = 0;
        k->body_done = 1;
    }
}

WF_API ssize_t
wf_body_remaining(const struct wf_core *pub)
{
    const struct wf__core *c = (const struct wf__core *)pub;

    if (c->conn->body_done) {
        return 0;
    }
    return c->conn->req.chunked ? -1 : (ssize_t)c->conn->body_left;
}

/* The client asked to be told before it sends the body. */
static int
send_continue(struct wf__core *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t off = 0;

    c->resp.continue_sent = 1;
    if (c->resp.head_sent || c->conn->lsn->proto != WF_PROTO_HTTP) {
        return 0;
    }
    while (off < sizeof(msg) - 1) {
        ssize_t w = send(c->conn->fd, msg + off, sizeof(msg) - 1 - off,
                         MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                int r = wf_wait_io(&c->pub, c->conn->fd, WF_IO_WRITE,
                                   wf__cfg.socket_timeout * 1000);

                if (r <= 0) {
                    return r == 0 ? -ETIMEDOUT : r;
                }
                continue;
            }
            return -errno;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Read from the client into buf; waits up to --socket-timeout. Returns the
 * count, or -errno; a closed stream is -ECONNRESET (the body is not whole). */
static ssize_t
recv_some(struct wf__core *c, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(c->conn->fd, buf, len, 0);
        int r;

        if (n > 0) {
            return n;
        }
        if (n == 0) {
            wf_log(WF_LOG_WARN, "core %u: %s closed the connection before "
                   "the end of the body", c->pub.id, c->conn->raddr);
            return -ECONNRESET;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        r = wf_wait_io(&c->pub, c->conn->fd, WF_IO_READ,
                       wf__cfg.socket_timeout * 1000);
        if (r == 0) {
            wf_log(WF_LOG_WARN, "core %u: %s sent no body bytes for %lds "
                   "(--socket-timeout)", c->pub.id, c->conn->raddr,
                   wf__cfg.socket_timeout);
            return -ETIMEDOUT;
        }
        if (r < 0) {
            return r;
        }
    }
}

WF_API ssize_t
wf_read_body(struct wf_core *pub, void *out, size_t len)
{
    struct wf__core *c = wf__core(pub);
    ssize_t n;

    if (c->conn->body_done || len == 0) {
        return 0;
    }
    if (c->conn->req.expect_continue && !c->resp.continue_sent) {
        int r = send_continue(c);

        if (r < 0) {
            c->resp.close = 1;
            return r;
        }
    }
    if (!c->conn->req.chunked) {
        size_t want = len < (uint64_t)c->conn->body_left ? len
                                                   : (size_t)c->conn->body_left;
        size_t avail = c->conn->buf_len - c->conn->body_off;

        if (avail > 0) {
            n = (ssize_t)(avail < want ? avail : want);
            memcpy(out, c->conn->buf + c->conn->body_off, (size_t)n);
            c->conn->body_off += (size_t)n;
        } else {
            n = recv_some(c, out, want);
            if (n < 0) {
                c->resp.close = 1;
                return n;
            }
        }
        c->conn->body_left -= n;
        if (c->conn->body_left == 0) {
            c->conn->body_done = 1;
        }
        return n;
    }
    for (;;) {
        size_t avail = c->conn->buf_len - c->conn->body_off, outlen = 0;

        if (avail > 0) {
            ssize_t used = wf__chunked_decode(&c->conn->chunk, c->conn->buf + c->conn->body_off,
                                              avail, out, len, &outlen);

            if (used < 0) {
                wf_log(WF_LOG_WARN, "core %u: bad chunked body from %s",
                       c->pub.id, c->conn->raddr);
                c->resp.close = 1;
                return -EBADMSG;
            }
            c->conn->body_off += (size_t)used;
            if (c->conn->chunk.done) {
                c->conn->body_done = 1;
            }
            c->conn->body_read += outlen;
            if (wf__cfg.limit_post > 0 &&
                c->conn->body_read > (uint64_t)wf__cfg.limit_post) {
                wf_log(WF_LOG_WARN, "core %u: chunked body from %s over "
                       "--limit-post %ld; refused with 413", c->pub.id,
                       c->conn->raddr, wf__cfg.limit_post);
                wf_response_error(&c->pub, 413);
                c->resp.close = 1;
                return -EFBIG;
            }
            if (outlen > 0) {
                return (ssize_t)outlen;
            }
            if (c->conn->body_done) {
                return 0;
            }
            avail = c->conn->buf_len - c->conn->body_off;
        }
        /* need more raw bytes: keep the head (the request's variables
         * point into it) and reuse the room after it */
        memmove(c->conn->buf + c->conn->head_len, c->conn->buf + c->conn->body_off, avail);
        c->conn->buf_len = c->conn->head_len + avail;
        c->conn->body_off = c->conn->head_len;
        if (c->conn->buf_len >= c->conn->buf_cap) {
            c->resp.close = 1;
            return -EBADMSG;
        }
        n = recv_some(c, c->conn->buf + c->conn->buf_len, c->conn->buf_cap - c->conn->buf_len);
        if (n < 0) {
            c->resp.close = 1;
            return n;
        }
        c->conn->buf_len += (size_t)n;
    }
}

/* See internal.h. Loop context: never waits. */
int
wf__body_discard(struct wf__conn *k)
{
    if (k->body_done) {
        return 0;
    }
    if (!k->req.chunked) {
        size_t avail = k->buf_len - k->body_off;

        if ((uint64_t)k->body_left <= avail) {
            k->body_off += (size_t)k->body_left;
            k->body_left = 0;
            k->body_done = 1;
            return 0;
        }
        return -1;
    }
    for (;;) {
        char sink[4096];
        size_t outlen = 0, avail = k->buf_len - k->body_off;
        ssize_t used;

        if (avail == 0) {
            return -1;
        }
        used = wf__chunked_decode(&k->chunk, k->buf + k->body_off, avail,
                                  sink, sizeof(sink), &outlen);
        if (used < 0) {
            return -1;
        }
        k->body_off += (size_t)used;
        if (k->chunk.done) {
            k->body_done = 1;
            return 0;
        }
        if (used == 0 && outlen == 0) {
            return -1;
        }
    }
}
