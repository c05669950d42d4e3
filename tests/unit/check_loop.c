/*
 * The loop is an object: two loops in two threads of one process serve
 * requests at once over real sockets on 127.0.0.1, each with its own cores,
 * connections, timers and counters; a stop reaches each. The io engine is
 * the real epoll plugin (through the loader); the language is a small C
 * one that answers with its core's id, so that the answer says which loop
 * served it.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
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

#define NREQ 20

/* --------------------------------------------------- a tiny language */

static int
hello_handle(struct wf_core *c)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "core %u\n", c->id);

    wf_response_status(c, "200 OK", 6);
    wf_write(c, body, (size_t)n);
    return WF_DONE;
}

static const struct wf_lang_ops hello_ops = {
    .modifier1 = 0,
    .handle    = hello_handle,
};

static const struct wf_plugin hello_plugin = {
    .name     = "hello",
    .kind     = WF_KIND_LANG,
    .ops      = &hello_ops,
    .abi_minor = WF_ABI_MINOR,
};

/* ----------------------------------------------------------- fixture */

struct side {
    struct wf__listener lsn;
    struct wf__loop *loop;
    pthread_t thread;
    int rc;
    struct wf_err err;
};

static struct side sides[2];

static int
listen_any(unsigned short *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void *
run_loop(void *arg)
{
    struct side *s = arg;

    s->rc = wf__loop_run(s->loop, &s->err);
    return NULL;
}

static void
setup(void)
{
    struct wf_err err = { { 0 } };
    const struct wf_plugin *io;
    unsigned i;

    ck_assert_int_eq(wf__opt_defaults(wf__core_options, &err), 0);
    wf__cfg.async = 4;
    io = wf_check_plugin_load("epoll", &err);
    ck_assert_msg(io != NULL, "loading epoll: %s", err.msg);
    wf__io_ops = io->ops;
    wf__io_plugin = io;
    wf__sus_ops = NULL;
    wf__loop_ops = NULL;
    wf__langs[0] = &hello_plugin;
    wf__lang_default = &hello_plugin;
    for (i = 0; i < 2; i++) {
        struct side *s = &sides[i];
        unsigned short port;

        memset(s, 0, sizeof(*s));
        s->lsn.fd = listen_any(&port);
        s->lsn.proto = WF_PROTO_HTTP;
        s->lsn.name = i ? "loop-b" : "loop-a";
        snprintf(s->lsn.host, sizeof(s->lsn.host), "127.0.0.1");
        snprintf(s->lsn.port, sizeof(s->lsn.port), "%u", port);
        /* loop i: cores 100*i .. 100*i+3 */
        s->loop = wf__loop_new(i + 1, 0, 4, 100 * i, &s->lsn, NULL, &err);
        ck_assert_msg(s->loop != NULL, "loop %u: %s", i, err.msg);
    }
}

static void
teardown(void)
{
    unsigned i;

    for (i = 0; i < 2; i++) {
        wf__loop_free(sides[i].loop);
        close(sides[i].lsn.fd);
    }
}

/* One request to side s (a new connection); the answer's body. */
static void
get(struct side *s, char *body, size_t len)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    const char req[] = "GET /x HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n";
    char buf[4096];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char *b;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)atoi(s->lsn.port));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "answer: %s", buf);
    b = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    snprintf(body, len, "%s", b + 4);
}

/* ------------------------------------------------------------- tests */

START_TEST(two_loops_in_two_threads_serve_requests_at_once)
{
    unsigned i, n;

    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&sides[i].thread, NULL, run_loop,
                                        &sides[i]), 0);
    }
    /* interleaved: both loops run while the other serves */
    for (n = 0; n < NREQ; n++) {
        for (i = 0; i < 2; i++) {
            char body[64];
            unsigned core;

            get(&sides[i], body, sizeof(body));
            ck_assert_int_eq(sscanf(body, "core %u", &core), 1);
            ck_assert_msg(core >= 100 * i && core < 100 * i + 4,
                          "loop %u answered from core %u", i, core);
        }
    }
    for (i = 0; i < 2; i++) {
        wf__loop_stop(sides[i].loop, 1);
    }
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(sides[i].thread, NULL), 0);
        ck_assert_msg(sides[i].rc == 0, "loop %u: %s", i, sides[i].err.msg);
        /* each loop counted its own requests, nobody else's */
        ck_assert_uint_eq(sides[i].loop->requests, NREQ);
        ck_assert_uint_eq(sides[i].loop->nconns, 0);
        ck_assert_uint_eq(sides[i].loop->nfree, 4);
    }
}
END_TEST

START_TEST(a_stop_reaches_only_the_loop_it_names)
{
    char body[64];

    ck_assert_int_eq(pthread_create(&sides[0].thread, NULL, run_loop,
                                    &sides[0]), 0);
    ck_assert_int_eq(pthread_create(&sides[1].thread, NULL, run_loop,
                                    &sides[1]), 0);
    wf__loop_stop(sides[0].loop, 2);
    ck_assert_int_eq(pthread_join(sides[0].thread, NULL), 0);
    ck_assert_int_eq(sides[0].loop->stopping, 2);
    /* the other one still serves */
    get(&sides[1], body, sizeof(body));
    ck_assert_int_eq(sides[1].loop->stopping, 0);
    wf__loop_stop(sides[1].loop, 1);
    ck_assert_int_eq(pthread_join(sides[1].thread, NULL), 0);
    ck_assert_uint_eq(sides[1].loop->requests, 1);
    ck_assert_uint_eq(sides[0].loop->requests, 0);
}
END_TEST

static Suite *
loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("threads");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, two_loops_in_two_threads_serve_requests_at_once);
    tcase_add_test(tc, a_stop_reaches_only_the_loop_it_names);
    suite_add_tcase(s, tc);
    return s;
}

WF_CHECK_MAIN(loop_suite)
