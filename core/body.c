/*
 * The request body: Content-Length or chunked, streamed to the language as
 * it reads (wsgi.input, rack.input). Bytes that came with the head are
 * served first; the rest is read from the socket, waiting through the
 * suspend engine. A body read never reads past its end, so a pipelined
 * request after it stays where the loop will find it.
 *
 * With --post-buffering N (uWSGI's option, same meaning) the body is read
 * whole before the app runs: up to N bytes in memory, a larger one in an
 * unlinked temp file, so a big upload costs disk, not memory, and the app
 * starts only once the client has sent everything (a slow client holds no
 * app code). The app's reads are then served from there, and can rewind.
 *
 * A client's mistake found while reading (bad chunked framing, a body over
 * --limit-post, a stall past --socket-timeout) is answered here, with 400,
 * 413 or 408, when no response has started: the app's exception that
 * follows cannot turn it into a 500.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* See internal.h. */
void
wf__body_free(struct wf__conn *k)
{
    free(k->pb_mem);
    k->pb_mem = NULL;
    k->pb_len = k->pb_off = 0;
    if (k->pb_file) {
        close(k->pb_fd);
    }
    k->pb_file = 0;
    k->pb_active = 0;
}

/* See internal.h. */
void
wf__body_init(struct wf__conn *k)
{
    wf__body_free(k);
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

    if (c->conn->pb_active) {
        return (ssize_t)(c->conn->pb_len - c->conn->pb_off);
    }
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
                int r = wf__client_wait(c, WF_IO_WRITE);

                if (r < 0) {
                    return r;
                }
                continue;
            }
            return -errno;
        }
        wf__xfer_count(&c->resp.tx, (size_t)w);
        off += (size_t)w;
    }
    return 0;
}

static ssize_t client_fault(struct wf__core *c, int code, ssize_t rc);

/* Read from the client into buf; waits up to --socket-timeout per stall
 * and within the body's deadline (wf__client_wait). Returns the count, or
 * -errno; a closed stream is -ECONNRESET (the body is not whole: the
 * client's fault, answered with 400 when it still reads). */
static ssize_t
recv_some(struct wf__core *c, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(c->conn->fd, buf, len, 0);
        int r;

        if (n > 0) {
            wf__xfer_count(&c->resp.rx, (size_t)n);
            return n;
        }
        if (n == 0) {
            wf_log(WF_LOG_WARN, "core %u: %s closed the connection before "
                   "the end of the body", c->pub.id, c->conn->raddr);
            return client_fault(c, 400, -ECONNRESET);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        r = wf__client_wait(c, WF_IO_READ);
        if (r < 0) {
            return r;
        }
    }
}

/* The client's fault, found while reading its body: answer `code` now
 * when nothing went out yet (the app's exception that follows cannot make
 * it a 500), and close the connection afterwards. Returns rc. */
static ssize_t
client_fault(struct wf__core *c, int code, ssize_t rc)
{
    c->resp.close = 1;
    if (!c->resp.head_sent && !c->resp.broken &&
        c->conn->lsn->proto == WF_PROTO_HTTP) {
        wf_response_error(&c->pub, code);
    }
    return rc;
}

/* Read the body as it comes from the client (no post-buffering). */
static ssize_t
body_stream(struct wf__core *c, void *out, size_t len)
{
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
                return n == -ETIMEDOUT ? client_fault(c, 408, n) : n;
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
                wf_log(WF_LOG_WARN, "core %u: bad chunked body from %s; "
                       "answered 400 unless the response had started",
                       c->pub.id, c->conn->raddr);
                return client_fault(c, 400, -EBADMSG);
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
                return client_fault(c, 413, -EFBIG);
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
            return client_fault(c, 400, -EBADMSG);
        }
        n = recv_some(c, c->conn->buf + c->conn->buf_len, c->conn->buf_cap - c->conn->buf_len);
        if (n < 0) {
            c->resp.close = 1;
            return n == -ETIMEDOUT ? client_fault(c, 408, n) : n;
        }
        c->conn->buf_len += (size_t)n;
    }
}

WF_API ssize_t
wf_read_body(struct wf_core *pub, void *out, size_t len)
{
    struct wf__core *c = wf__core(pub);
    struct wf__conn *k = c->conn;
    ssize_t n;

    if (!k->pb_active) {
        return body_stream(c, out, len);
    }
    if (len > k->pb_len - k->pb_off) {
        len = k->pb_len - k->pb_off;
    }
    if (len == 0) {
        return 0;
    }
    if (!k->pb_file) {
        memcpy(out, k->pb_mem + k->pb_off, len);
        k->pb_off += len;
        return (ssize_t)len;
    }
    do {
        n = pread(k->pb_fd, out, len, (off_t)k->pb_off);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        int e = errno;

        wf_log_errno("core %u: pread(the post-buffered body, fd %d)",
                     c->pub.id, k->pb_fd);
        return -e;
    }
    if (n == 0) {
        return -EIO;    /* the temp file shrank under us */
    }
    k->pb_off += (size_t)n;
    return n;
}

/* See core.h. */
WF_API int
wf_body_rewind(struct wf_core *pub)
{
    struct wf__conn *k = wf__core(pub)->conn;

    if (!k->pb_active) {
        return -ESPIPE;
    }
    k->pb_off = 0;
    return 0;
}

/* An unlinked temp file in $TMPDIR (or /tmp), as uWSGI's post-buffering
 * makes one. The fd, or -errno. */
static int
spool_open(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int fd;

    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        return fd;
    }
#endif
    snprintf(path, sizeof(path), "%s/weft-body-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        wf_log_errno("--post-buffering: mkostemp(%s)", path);
        return -e;
    }
    unlink(path);
    return fd;
}

static int
spool_write(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* See internal.h. */
int
wf__body_prebuffer(struct wf__core *c)
{
    struct wf__conn *k = c->conn;
    size_t limit = (size_t)wf__cfg.post_buffering, cap, bsz;
    char *chunk = NULL;
    int r = 0;

    if (wf__cfg.post_buffering <= 0 || k->body_done) {
        return 0;
    }
    bsz = (size_t)wf__cfg.post_buffering_bufsize;
    /* a known length that fits goes to memory in one allocation; a
     * larger one to the file from the start; chunked starts in memory */
    if (!k->req.chunked && (uint64_t)k->body_left > limit) {
        r = spool_open();
        if (r < 0) {
            return client_fault(c, 500, -1);
        }
        k->pb_fd = r;
        k->pb_file = 1;
        cap = 0;
    } else {
        cap = k->req.chunked ? (bsz < limit ? bsz : limit)
                             : (size_t)k->body_left;
        k->pb_mem = malloc(cap > 0 ? cap : 1);
        if (k->pb_mem == NULL) {
            return client_fault(c, 500, -1);
        }
    }
    chunk = malloc(bsz);
    if (chunk == NULL) {
        return client_fault(c, 500, -1);
    }
    for (;;) {
        ssize_t n = body_stream(c, chunk, bsz);

        if (n == 0) {
            break;
        }
        if (n < 0) {
            /* answered already (400/408/413), or the client is gone */
            r = -1;
            break;
        }
        if (!k->pb_file && k->pb_len + (size_t)n > limit) {
            /* over the memory part: to the file with what we have */
            int fd = spool_open();

            if (fd < 0 || spool_write(fd, k->pb_mem, k->pb_len) < 0) {
                if (fd >= 0) {
                    close(fd);
                }
                r = (int)client_fault(c, 500, -1);
                break;
            }
            k->pb_fd = fd;
            k->pb_file = 1;
            free(k->pb_mem);
            k->pb_mem = NULL;
        }
        if (k->pb_file) {
            int e = spool_write(k->pb_fd, chunk, (size_t)n);

            if (e < 0) {
                wf_log(WF_LOG_ERROR, "core %u: --post-buffering: writing "
                       "the temp file: %s", c->pub.id, strerror(-e));
                r = (int)client_fault(c, 500, -1);
                break;
            }
        } else {
            if (k->pb_len + (size_t)n > cap) {
                size_t ncap = cap * 2 > k->pb_len + (size_t)n
                              ? cap * 2 : k->pb_len + (size_t)n;
                char *nb;

                if (ncap > limit) {
                    ncap = limit;
                }
                nb = realloc(k->pb_mem, ncap);
                if (nb == NULL) {
                    r = (int)client_fault(c, 500, -1);
                    break;
                }
                k->pb_mem = nb;
                cap = ncap;
            }
            memcpy(k->pb_mem + k->pb_len, chunk, (size_t)n);
        }
        k->pb_len += (size_t)n;
    }
    free(chunk);
    if (r < 0) {
        return -1;
    }
    k->pb_off = 0;
    k->pb_active = 1;
    return 0;
}

/* See internal.h. Loop context: never waits. */
int
wf__body_discard(struct wf__conn *k)
{
    wf__body_free(k);
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
