/*
 * A connection's memory is sized on demand (core/conn.c, issue 13): a
 * small head is read into the connection's own small room; a large head
 * grows the buffer, many headers grow the variables and the arena, a
 * chunked body gets its staging room; and when the connection moves on to
 * a small request (or closes), the grown parts are given back. Every
 * variable keeps its value through the moves. One loop in a thread on
 * 127.0.0.1 (the real epoll plugin), a small C language that reports what
 * its request's connection holds.
 */
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"

#define WF_CHECK_PLUGINS
#include "check_util.h"

#define BUFSIZE 16384   /* --buffer-size of the tests */

/* --------------------------------------------------- a tiny language */

static struct wf__listener lsn;

/* A checksum of the bytes, the same in the test and the app. */
static unsigned long
sum(const char *p, size_t n)
{
    unsigned long h = 5381;

    while (n-- > 0) {
        h = h * 33 + (unsigned char)*p++;
    }
    return h;
}

/*
 * Answers one line: "cap C vars V arena A n N big L S hdr H body B T":
 * the connection's buffer, vars and arena capacities, the number of
 * variables, HTTP_X_BIG's length and checksum, how many HTTP_X_H_<i>
 * variables hold exactly "v<i>", and the body's length and checksum.
 */
static int
mem_handle(struct wf_core *pub)
{
    struct wf__conn *k = wf__core(pub)->conn;
    char line[256], name[32], want[32], body[4096];
    const char *big;
    size_t blen = 0, vlen;
    unsigned long bsum = 5381;
    unsigned i, hdr = 0, n, def;
    int nodelay = -1;
    socklen_t olen = sizeof(nodelay);
    ssize_t r;

    wf_req_vars(pub, &n);
    big = wf_req_get(pub, "HTTP_X_BIG", &blen);
    for (i = 0; i < 200; i++) {
        const char *v;

        snprintf(name, sizeof(name), "HTTP_X_H_%u", i);
        snprintf(want, sizeof(want), "v%u", i);
        v = wf_req_get(pub, name, &vlen);
        if (v != NULL && vlen == strlen(want) && memcmp(v, want, vlen) == 0) {
            hdr++;
        }
    }
    /* the capacities as they are before the body is read */
    /* the CGI defaults the core added */
    big = wf_req_get(pub, "SERVER_NAME", &vlen);
    def = big != NULL && vlen == 1 && big[0] == 'x';
    big = wf_req_get(pub, "REMOTE_ADDR", &vlen);
    def += big != NULL && vlen == 9 && memcmp(big, "127.0.0.1", 9) == 0;
    big = wf_req_get(pub, "SERVER_PORT", &vlen);
    def += big != NULL && vlen == strlen(lsn.port)
        && memcmp(big, lsn.port, vlen) == 0;
    big = wf_req_get(pub, "HTTP_X_BIG", &blen);
    snprintf(line, sizeof(line), "cap %zu vars %u arena %zu n %u big %zu %lu "
             "hdr %u def %u", k->buf_cap, k->req.max_vars, k->req.arena_cap,
             n, big ? blen : 0, big ? sum(big, blen) : 0UL, hdr, def);
    vlen = 0;
    while ((r = wf_read_body(pub, body, sizeof(body))) > 0) {
        for (i = 0; i < (unsigned)r; i++) {
            bsum = bsum * 33 + (unsigned char)body[i];
        }
        vlen += (size_t)r;
    }
    if (getsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &olen) < 0) {
        nodelay = -1;
    }
    snprintf(line + strlen(line), sizeof(line) - strlen(line),
             " body %zu %lu nodelay %d\n", vlen, bsum, nodelay);
    wf_response_status(pub, "200 OK", 6);
    wf_response_length(pub, strlen(line));
    wf_write(pub, line, strlen(line));
    return WF_DONE;
}

static const struct wf_lang_ops mem_ops = {
    .modifier1 = 0,
    .handle    = mem_handle,
};

static const struct wf_plugin mem_plugin = {
    .name     = "mem",
    .kind     = WF_KIND_LANG,
    .ops      = &mem_ops,
    .abi_minor = WF_ABI_MINOR,
};

/* ----------------------------------------------------------- fixture */

static struct wf__loop *loop;
static pthread_t thread;
static int loop_rc;
static struct wf_err loop_err;

static void *
run_loop(void *arg)
{
    (void)arg;
    loop_rc = wf__loop_run(loop, &loop_err);
    return NULL;
}

static void
setup(void)
{
    struct wf_err err = { { 0 } };
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    const struct wf_plugin *io;

    ck_assert_int_eq(wf__opt_defaults(wf__core_options, &err), 0);
    wf__cfg.async = 2;
    wf__cfg.buffer_size = BUFSIZE;
    io = wf_check_plugin_load("epoll", &err);
    ck_assert_msg(io != NULL, "loading epoll: %s", err.msg);
    wf__io_ops = io->ops;
    wf__io_plugin = io;
    wf__sus_ops = NULL;
    wf__loop_ops = NULL;
    wf__langs[0] = &mem_plugin;
    wf__lang_default = &mem_plugin;
    memset(&lsn, 0, sizeof(lsn));
    lsn.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lsn.fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lsn.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(lsn.fd, 16), 0);
    ck_assert_int_eq(getsockname(lsn.fd, (struct sockaddr *)&a, &len), 0);
    lsn.proto = WF_PROTO_HTTP;
    lsn.name = "conn";
    wf__listener_nodelay(&lsn);
    snprintf(lsn.host, sizeof(lsn.host), "127.0.0.1");
    snprintf(lsn.port, sizeof(lsn.port), "%u", ntohs(a.sin_port));
    loop = wf__loop_new(1, 0, 2, 0, &lsn, NULL, &err);
    ck_assert_msg(loop != NULL, "loop: %s", err.msg);
    ck_assert_int_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
}

static void
teardown(void)
{
    wf__loop_stop(loop, 1);
    pthread_join(thread, NULL);
    wf__loop_free(loop);
    close(lsn.fd);
}

/* ------------------------------------------------------------ client */

static int
dial(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    struct timeval tv = { 10, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)atoi(lsn.port));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        ck_assert_int_gt(w, 0);
        p += w;
        n -= (size_t)w;
    }
}

/* What the app reported for one response read from fd (keep-alive: by
 * its Content-Length), into the fields below; the status in *status. */
struct report {
    int status;
    size_t cap, arena, big, body;
    unsigned vars, n, hdr, def;
    unsigned long bigsum, bodysum;
    int nodelay;
};

static struct report
answer(int fd)
{
    static char in[65536];
    static size_t have;
    struct report r;
    char *end, *cl;
    size_t want;

    memset(&r, 0, sizeof(r));
    for (;;) {
        ssize_t n;

        in[have] = '\0';
        end = strstr(in, "\r\n\r\n");
        if (end != NULL) {
            cl = strstr(in, "Content-Length: ");
            want = (size_t)(end + 4 - in) + (cl && cl < end
                                             ? (size_t)atol(cl + 16) : 0);
            if (have >= want) {
                break;
            }
        }
        n = read(fd, in + have, sizeof(in) - 1 - have);
        ck_assert_msg(n > 0, "no (whole) answer; got %zu bytes: %s", have,
                      in);
        have += (size_t)n;
    }
    ck_assert_int_eq(sscanf(in, "HTTP/1.1 %d", &r.status), 1);
    if (r.status == 200) {
        ck_assert_int_eq(sscanf(end + 4, "cap %zu vars %u arena %zu n %u "
                                "big %zu %lu hdr %u def %u body %zu %lu "
                                "nodelay %d",
                                &r.cap, &r.vars, &r.arena, &r.n, &r.big,
                                &r.bigsum, &r.hdr, &r.def, &r.body,
                                &r.bodysum, &r.nodelay), 11);
    }
    if (r.status == 200) {
        ck_assert_uint_eq(r.def, 3);    /* the CGI defaults are right */
    }
    memmove(in, in + want, have - want);
    have -= want;
    return r;
}

static const char small[] = "GET /s HTTP/1.1\r\nHost: x\r\n\r\n";

/* A head with an X-Big header of n bytes (a pattern), in out. */
static size_t
big_head(char *out, size_t cap, size_t n, unsigned long *s)
{
    size_t len = (size_t)snprintf(out, cap, "GET /b HTTP/1.1\r\nHost: x\r\n"
                                  "X-Big: ");
    size_t i;

    for (i = 0; i < n; i++) {
        out[len + i] = (char)('a' + i % 26);
    }
    *s = sum(out + len, n);
    len += n;
    len += (size_t)snprintf(out + len, cap - len, "\r\n\r\n");
    return len;
}

/* ------------------------------------------------------------- tests */

START_TEST(an_accepted_connection_has_tcp_nodelay_from_its_listener)
{
    int fd = dial();
    struct report r;

    /* set once on the listener, inherited by accept4 (no setsockopt per
     * connection): small writes are never held back by Nagle */
    ck_assert_int_eq(lsn.nodelay, 1);
    send_all(fd, small, sizeof(small) - 1);
    r = answer(fd);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.nodelay, 1);
    close(fd);
}
END_TEST

START_TEST(a_large_head_grows_the_buffer_and_a_small_one_gives_it_back)
{
    static char head[BUFSIZE];
    unsigned long s;
    size_t n = big_head(head, sizeof(head), 9000, &s);
    struct report small1, big, small2;
    int fd = dial();

    send_all(fd, small, sizeof(small) - 1);
    small1 = answer(fd);
    ck_assert_int_eq(small1.status, 200);
    ck_assert_uint_lt(small1.cap, 4096);    /* small room first */
    send_all(fd, head, n);
    big = answer(fd);
    ck_assert_int_eq(big.status, 200);
    ck_assert_uint_ge(big.cap, n);          /* grown, the value whole */
    ck_assert_uint_eq(big.big, 9000);
    ck_assert_uint_eq(big.bigsum, s);
    send_all(fd, small, sizeof(small) - 1);
    small2 = answer(fd);
    ck_assert_int_eq(small2.status, 200);
    ck_assert_uint_eq(small2.cap, small1.cap);  /* given back */
    ck_assert_uint_eq(small2.big, 0);
    close(fd);
}
END_TEST

START_TEST(a_head_that_arrives_in_pieces_grows_as_it_comes)
{
    static char head[BUFSIZE];
    unsigned long s;
    size_t n = big_head(head, sizeof(head), 5000, &s), off;
    struct report r;
    int fd = dial();

    /* 700 bytes at a time: each piece is read before the next is sent
     * (the loop's thread is watched for it: a bounded wait for a state) */
    for (off = 0; off < n; off += 700) {
        size_t upto = n - off < 700 ? n : off + 700;
        int tries;

        send_all(fd, head + off, upto - off);
        for (tries = 0; tries < 5000 && upto < n; tries++) {
            struct wf__conn *k = __atomic_load_n(&loop->all_head,
                                                 __ATOMIC_ACQUIRE);

            if (k != NULL && __atomic_load_n(&k->buf_len,
                                             __ATOMIC_ACQUIRE) == upto) {
                break;
            }
            usleep(1000);
        }
        ck_assert_int_lt(tries, 5000);
    }
    r = answer(fd);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.big, 5000);
    ck_assert_uint_eq(r.bigsum, s);
    close(fd);
}
END_TEST

START_TEST(many_headers_grow_the_variables_and_keep_every_value)
{
    static char head[BUFSIZE];
    size_t len = (size_t)snprintf(head, sizeof(head),
                                  "GET /h HTTP/1.1\r\nHost: x\r\n");
    struct report many, small1;
    unsigned i;
    int fd = dial();

    send_all(fd, small, sizeof(small) - 1);
    small1 = answer(fd);
    for (i = 0; i < 100; i++) {
        len += (size_t)snprintf(head + len, sizeof(head) - len,
                                "X-H-%u: v%u\r\n", i, i);
    }
    len += (size_t)snprintf(head + len, sizeof(head) - len, "\r\n");
    send_all(fd, head, len);
    many = answer(fd);
    ck_assert_int_eq(many.status, 200);
    ck_assert_uint_gt(many.vars, small1.vars);
    ck_assert_uint_gt(many.arena, small1.arena);
    ck_assert_uint_eq(many.hdr, 100);   /* every value where it was */
    ck_assert_uint_ge(many.n, 100);
    send_all(fd, small, sizeof(small) - 1);
    ck_assert_uint_eq(answer(fd).vars, small1.vars);
    close(fd);
}
END_TEST

START_TEST(heads_that_fill_the_first_room_keep_their_defaults)
{
    /* 15..40 headers: around the point where the parsed head fits the
     * first room but the CGI defaults the core adds after it do not */
    static char head[BUFSIZE];
    unsigned h, i;
    int fd = dial();

    for (h = 15; h <= 40; h++) {
        size_t len = (size_t)snprintf(head, sizeof(head),
                                      "GET /h HTTP/1.1\r\nHost: x\r\n");
        struct report r;

        for (i = 0; i < h; i++) {
            len += (size_t)snprintf(head + len, sizeof(head) - len,
                                    "X-H-%u: v%u\r\n", i, i);
        }
        len += (size_t)snprintf(head + len, sizeof(head) - len, "\r\n");
        send_all(fd, head, len);
        r = answer(fd);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.hdr, h);
    }
    close(fd);
}
END_TEST

START_TEST(a_chunked_body_after_a_large_head_reads_whole)
{
    static char req[BUFSIZE * 4];
    unsigned long s, bs = 5381;
    size_t n = big_head(req, sizeof(req), 3000, &s), i, total = 0;
    struct report r;
    int fd = dial();

    /* POST instead of GET, chunked: 40 chunks of 500 bytes */
    memcpy(req, "PUT", 3);
    n -= 2;     /* before the blank line */
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "Transfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 40; i++) {
        size_t j;

        n += (size_t)snprintf(req + n, sizeof(req) - n, "1f4\r\n");
        for (j = 0; j < 500; j++) {
            req[n + j] = (char)('A' + (i + j) % 26);
            bs = bs * 33 + (unsigned char)req[n + j];
        }
        n += 500;
        total += 500;
        n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");
    send_all(fd, req, n);
    r = answer(fd);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.big, 3000);
    ck_assert_uint_eq(r.bigsum, s);     /* the head survived the move */
    ck_assert_uint_eq(r.body, total);
    ck_assert_uint_eq(r.bodysum, bs);
    close(fd);
}
END_TEST

START_TEST(pipelined_requests_after_a_large_one_are_all_served)
{
    static char req[BUFSIZE * 2];
    unsigned long s;
    size_t n = big_head(req, sizeof(req), 2500, &s);
    struct report r;
    int fd = dial(), i;

    /* the large head and three small ones in one write */
    for (i = 0; i < 3; i++) {
        memcpy(req + n, small, sizeof(small) - 1);
        n += sizeof(small) - 1;
    }
    send_all(fd, req, n);
    r = answer(fd);
    ck_assert_uint_eq(r.big, 2500);
    ck_assert_uint_eq(r.bigsum, s);
    for (i = 0; i < 3; i++) {
        r = answer(fd);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.big, 0);
    }
    close(fd);
}
END_TEST

START_TEST(a_head_over_the_buffer_size_is_still_refused)
{
    static char head[BUFSIZE * 2];
    unsigned long s;
    size_t n = big_head(head, sizeof(head), BUFSIZE + 100, &s);
    int fd = dial();

    send_all(fd, head, n);
    ck_assert_int_eq(answer(fd).status, 431);
    close(fd);
}
END_TEST

/* The formatters of the accept path write what snprintf and inet_ntop
 * would (they replaced them there). */
START_TEST(the_number_and_address_formatters_match_snprintf_and_inet_ntop)
{
    static const uint64_t edge[] = { 0, 1, 9, 10, 15, 16, 99, 100, 255, 256,
                                     65535, 4294967295ULL, 4294967296ULL,
                                     UINT64_MAX - 1, UINT64_MAX };
    char got[24], want[24];
    uint64_t v = 1;
    size_t n;

    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]) + 64; i++) {
        uint64_t x = i < sizeof(edge) / sizeof(edge[0]) ? edge[i] : v;

        if (i >= sizeof(edge) / sizeof(edge[0])) {
            v = v * 3 + 7;      /* a spread of magnitudes */
        }
        n = wf__fmt_uint(got, x, 10);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
        ck_assert_str_eq(got, want);
        n = wf__fmt_uint(got, x, 16);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%llx", (unsigned long long)x);
        ck_assert_str_eq(got, want);
    }
    for (unsigned a = 0; a < 256; a += 17) {
        for (unsigned b = 0; b < 256; b += 51) {
            unsigned char ip[4] = { (unsigned char)a, (unsigned char)b,
                                    (unsigned char)(255 - a), (unsigned char)(a ^ b) };
            char w[INET_ADDRSTRLEN];

            memset(got, 'x', sizeof(got));
            wf__fmt_ipv4(got, ip);
            ck_assert_ptr_nonnull(inet_ntop(AF_INET, ip, w, sizeof(w)));
            ck_assert_str_eq(got, w);
        }
    }
}
END_TEST

static Suite *
conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = wf_check_tcase(s, "memory", 20, setup, teardown);

    tcase_add_test(tc, an_accepted_connection_has_tcp_nodelay_from_its_listener);
    tcase_add_test(tc,
                   a_large_head_grows_the_buffer_and_a_small_one_gives_it_back);
    tcase_add_test(tc, a_head_that_arrives_in_pieces_grows_as_it_comes);
    tcase_add_test(tc, many_headers_grow_the_variables_and_keep_every_value);
    tcase_add_test(tc, heads_that_fill_the_first_room_keep_their_defaults);
    tcase_add_test(tc, a_chunked_body_after_a_large_head_reads_whole);
    tcase_add_test(tc, pipelined_requests_after_a_large_one_are_all_served);
    tcase_add_test(tc, a_head_over_the_buffer_size_is_still_refused);
    tcase_add_test(tc,
                   the_number_and_address_formatters_match_snprintf_and_inet_ntop);
    return s;
}

WF_CHECK_MAIN(conn_suite)
