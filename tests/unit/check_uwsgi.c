/*
 * Unit tests of the uwsgi binary protocol parser (core/uwsgi.c). Packets
 * are built as nginx's uwsgi_pass builds them, then copied into a buffer
 * of their exact size so that AddressSanitizer sees any read past the end.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#include "check_util.h"

#define NVARS 64
#define ARENA 256
#define MAX 4096

static struct wf_var vars[NVARS];
static char arena[ARENA];
static struct wf__req r;

/* The packet being built, and the exact-size copy that was parsed. */
static char pkt[70000];
static size_t pkt_len;
static char *input;

static void
setup(void)
{
    memset(&r, 0, sizeof(r));
    r.vars = vars;
    r.max_vars = NVARS;
    r.arena = arena;
    r.arena_cap = ARENA;
    wf__req_reset(&r);
    pkt_len = 0;
    input = NULL;
}

static void
teardown(void)
{
    free(input);
    input = NULL;
}

static void
put_u16(size_t v)
{
    pkt[pkt_len++] = (char) (v & 0xff);
    pkt[pkt_len++] = (char) (v >> 8);
}

/* Start a packet: modifier1, the datasize (filled by pkt_end), modifier2. */
static void
pkt_begin(unsigned m1, unsigned m2)
{
    pkt_len = 0;
    pkt[0] = (char) m1;
    pkt[3] = (char) m2;
    pkt_len = 4;
}

static void
pkt_raw(const char *s, size_t n)
{
    memcpy(pkt + pkt_len, s, n);
    pkt_len += n;
}

static void
pkt_var(const char *key, const char *val)
{
    put_u16(strlen(key));
    pkt_raw(key, strlen(key));
    put_u16(strlen(val));
    pkt_raw(val, strlen(val));
}

/* Write datasize = everything after the header. */
static void
pkt_end(void)
{
    size_t ds = pkt_len - 4;

    pkt[1] = (char) (ds & 0xff);
    pkt[2] = (char) (ds >> 8);
}

/* Parse pkt[0..n) from an exact-size heap copy that lives until teardown. */
static int
parse_n(size_t n, size_t max)
{
    wf_check_exact_copy(&input, pkt, n);
    return wf__uwsgi_parse(input, n, max, &r);
}

static void
assert_var(const char *key, const char *val)
{
    size_t n = 0;
    const char *v = wf__req_get(&r, key, &n);

    if (val == NULL) {
        ck_assert_msg(v == NULL, "%s is set", key);
        return;
    }
    ck_assert_msg(v != NULL, "%s is not set", key);
    ck_assert_msg(n == strlen(val) && memcmp(v, val, n) == 0,
                  "%s = \"%.*s\", want \"%s\"", key, (int) n, v, val);
}

/* The variables nginx's uwsgi_params sends for a POST with a body. */
static void
pkt_nginx(void)
{
    pkt_begin(0, 0);
    pkt_var("QUERY_STRING", "a=1");
    pkt_var("REQUEST_METHOD", "POST");
    pkt_var("CONTENT_TYPE", "text/plain");
    pkt_var("CONTENT_LENGTH", "11");
    pkt_var("REQUEST_URI", "/p?a=1");
    pkt_var("PATH_INFO", "/p");
    pkt_var("DOCUMENT_ROOT", "/usr/share/nginx/html");
    pkt_var("SERVER_PROTOCOL", "HTTP/1.1");
    pkt_var("REQUEST_SCHEME", "http");
    pkt_var("HTTPS", "");
    pkt_var("REMOTE_ADDR", "127.0.0.1");
    pkt_var("REMOTE_PORT", "51234");
    pkt_var("SERVER_PORT", "80");
    pkt_var("SERVER_NAME", "localhost");
    pkt_var("HTTP_HOST", "localhost");
    pkt_var("HTTP_USER_AGENT", "curl/7.88.1");
    pkt_end();
}

/* ------------------------------------------------------------------- parse */

START_TEST(nginx_packet_is_parsed_without_copies)
{
    size_t head;
    unsigned i;

    pkt_nginx();
    head = pkt_len;
    pkt_raw("hello world", 11);     /* the body follows, outside datasize */
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) head);
    ck_assert_uint_eq(r.nvars, 16);
    assert_var("REQUEST_METHOD", "POST");
    assert_var("PATH_INFO", "/p");
    assert_var("QUERY_STRING", "a=1");
    assert_var("HTTPS", "");
    assert_var("HTTP_USER_AGENT", "curl/7.88.1");
    ck_assert(r.content_length == 11);
    ck_assert_uint_eq(r.http_minor, 1);
    ck_assert_uint_eq(r.keepalive, 0);
    ck_assert_uint_eq(r.is_head, 0);
    ck_assert_uint_eq(r.chunked, 0);
    ck_assert_uint_eq(r.arena_len, 0);
    for (i = 0; i < r.nvars; i++) {
        ck_assert(r.vars[i].key >= input && r.vars[i].key < input + head);
        ck_assert(r.vars[i].val >= input
                  && r.vars[i].val + r.vars[i].vlen <= input + head);
    }
    /* in wire order */
    ck_assert(memcmp(r.vars[0].key, "QUERY_STRING", 12) == 0);
    ck_assert(memcmp(r.vars[15].key, "HTTP_USER_AGENT", 15) == 0);
}
END_TEST

static const unsigned modifiers[][2] = {
    { 0, 0 }, { 7, 0 }, { 5, 3 }, { 255, 255 }, { 0, 1 },
};

START_TEST(modifiers_are_stored)
{
    pkt_begin(modifiers[_i][0], modifiers[_i][1]);
    pkt_var("REQUEST_METHOD", "GET");
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.modifier1, modifiers[_i][0]);
    ck_assert_uint_eq(r.modifier2, modifiers[_i][1]);
}
END_TEST

START_TEST(empty_values_are_allowed_even_last)
{
    pkt_begin(0, 0);
    pkt_var("A", "");
    pkt_var("B", "x");
    pkt_var("C", "");
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.nvars, 3);
    assert_var("A", "");
    assert_var("B", "x");
    assert_var("C", "");
}
END_TEST

START_TEST(lengths_are_little_endian)
{
    char val[300];

    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    pkt_begin(0, 0);
    pkt_var("BIG", val);        /* 299 = 0x012b: both bytes matter */
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_int_eq(pkt_len, 4 + 2 + 3 + 2 + 299);
    assert_var("BIG", val);
}
END_TEST

static const struct {
    const char *val;
    int64_t length;
    int rc;
} lengths[] = {
    { "", -1, 0 }, { "0", 0, 0 }, { "12345", 12345, 0 },
    { "9223372036854775807", INT64_MAX, 0 }, { "007", 7, 0 },
    { "x", 0, -400 }, { "-1", 0, -400 }, { " 1", 0, -400 },
    { "1 ", 0, -400 }, { "1.5", 0, -400 }, { "+1", 0, -400 },
    { "9223372036854775808", 0, -400 },
    { "99999999999999999999", 0, -400 },
};

START_TEST(content_length_must_be_a_number)
{
    pkt_begin(0, 0);
    pkt_var("REQUEST_METHOD", "POST");
    pkt_var("CONTENT_LENGTH", lengths[_i].val);
    pkt_end();
    if (lengths[_i].rc != 0) {
        ck_assert_int_eq(parse_n(pkt_len, MAX), lengths[_i].rc);
        return;
    }
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert(r.content_length == lengths[_i].length);
}
END_TEST

START_TEST(missing_content_length_means_no_body)
{
    pkt_begin(0, 0);
    pkt_var("REQUEST_METHOD", "GET");
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert(r.content_length == -1);
}
END_TEST

static const struct {
    const char *proto;
    unsigned minor;
} protos[] = {
    { "HTTP/1.1", 1 }, { "HTTP/1.0", 0 }, { "HTTP/2.0", 0 }, { "", 0 },
    { "HTTP/1.9", 1 }, { "HTTP/1.1x", 0 }, { "http/1.1", 0 }, { NULL, 0 },
};

START_TEST(server_protocol_sets_http_minor)
{
    pkt_begin(0, 0);
    pkt_var("REQUEST_METHOD", "GET");
    if (protos[_i].proto != NULL) {
        pkt_var("SERVER_PROTOCOL", protos[_i].proto);
    }
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.http_minor, protos[_i].minor);
}
END_TEST

START_TEST(only_server_protocol_sets_http_minor)
{
    pkt_begin(0, 0);
    pkt_var("SERVER_PROTOCOL", "HTTP/1.1");
    pkt_var("SERVER_SOFTWARE", "HTTP/1.0");    /* same length and prefix */
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.http_minor, 1);
}
END_TEST

static const struct {
    const char *method;
    unsigned is_head;
} methods[] = {
    { "HEAD", 1 }, { "GET", 0 }, { "head", 0 }, { "HEADS", 0 }, { "", 0 },
};

START_TEST(is_head_is_set_for_head_only)
{
    pkt_begin(0, 0);
    pkt_var("REQUEST_METHOD", methods[_i].method);
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.is_head, methods[_i].is_head);
}
END_TEST

START_TEST(parse_resets_the_request_first)
{
    pkt_nginx();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    pkt_begin(0, 0);
    pkt_var("REQUEST_METHOD", "HEAD");
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
    ck_assert_uint_eq(r.nvars, 1);
    ck_assert(r.content_length == -1);
    ck_assert_uint_eq(r.http_minor, 0);
    ck_assert_uint_eq(r.is_head, 1);
}
END_TEST

/* -------------------------------------------------------------- incomplete */

START_TEST(every_prefix_of_a_packet_is_incomplete)
{
    size_t k;

    pkt_nginx();
    for (k = 0; k < pkt_len; k++) {
        ck_assert_msg(parse_n(k, MAX) == 0, "prefix %zu", k);
    }
    ck_assert_int_eq(parse_n(pkt_len, MAX), (int) pkt_len);
}
END_TEST

START_TEST(datasize_over_max_is_431_from_the_header_alone)
{
    pkt_nginx();
    /* 4 bytes are enough to know it will not fit. */
    ck_assert_int_eq(parse_n(4, pkt_len - 1), -431);
    ck_assert_int_eq(parse_n(pkt_len, pkt_len - 1), -431);
    /* 4 + datasize == max fits. */
    ck_assert_int_eq(parse_n(pkt_len, pkt_len), (int) pkt_len);
    ck_assert_int_eq(parse_n(4, pkt_len), 0);
}
END_TEST

START_TEST(largest_packet_is_accepted)
{
    static char val[65535 - 2 - 1 - 2 + 1];

    memset(val, 'v', sizeof(val) - 1);
    pkt_begin(0, 0);
    pkt_var("K", val);
    pkt_end();
    ck_assert_int_eq(pkt_len, 4 + 65535);
    ck_assert_int_eq(parse_n(pkt_len, 4 + 65535), 4 + 65535);
    ck_assert_int_eq(parse_n(pkt_len, 4 + 65534), -431);
}
END_TEST

/* ------------------------------------------------------------------ errors */

/* Each row is the vars block (datasize is its length). */
static const struct {
    const char *block;
    size_t n;
    int rc;
} malformed[] = {
    { "", 0, -400 },                                    /* datasize 0 */
    { "\0\0\1\0x", 5, -400 },                           /* empty key */
    { "\1\0K\1\0v\0\0\0\0", 10, -400 },                 /* empty key later */
    { "\5\0K\1\0v", 6, -400 },                          /* key past end */
    { "\1\0K\2\0v", 6, -400 },                          /* value past end */
    { "\1\0K\1\0v\1", 7, -400 },                        /* half a length */
    { "\1\0K", 3, -400 },                               /* no value length */
    { "\1\0K\1", 4, -400 },                             /* half of it */
    { "\1", 1, -400 },
    { "\xff\xffK\1\0v", 6, -400 },                      /* huge key length */
    { "\1\0K\xff\xff" "v", 6, -400 },                   /* huge value length */
    { "\1\0K\1\0v", 6, 0 },                             /* the good sibling */
};

START_TEST(malformed_vars_are_400)
{
    pkt_begin(0, 0);
    pkt_raw(malformed[_i].block, malformed[_i].n);
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX),
                     malformed[_i].rc == 0 ? (int) pkt_len : malformed[_i].rc);
}
END_TEST

static const struct {
    unsigned max_vars, nvars;
    int ok;
} var_limits[] = {
    { 3, 3, 1 }, { 3, 4, 0 }, { 0, 1, 0 }, { 64, 64, 1 }, { 64, 65, 0 },
};

START_TEST(too_many_vars_is_431)
{
    char key[16];
    unsigned i;

    r.max_vars = var_limits[_i].max_vars;
    pkt_begin(0, 0);
    for (i = 0; i < var_limits[_i].nvars; i++) {
        snprintf(key, sizeof(key), "K%u", i);
        pkt_var(key, "v");
    }
    pkt_end();
    ck_assert_int_eq(parse_n(pkt_len, MAX),
                     var_limits[_i].ok ? (int) pkt_len : -431);
}
END_TEST

/* -------------------------------------------------------------------- fuzz */

static uint64_t rnd_state;

static uint32_t
rnd(void)
{
    return wf_check_rand(&rnd_state);
}

START_TEST(mutated_packets_never_overrun)
{
    int iter, j, counts[2] = { 0 };
    size_t base, pos;
    int rc;
    unsigned i;

    pkt_nginx();
    base = pkt_len;
    rnd_state = UINT64_C(0x853C49E6748FEA9B);
    for (iter = 0; iter < 20000; iter++) {
        pkt_nginx();
        for (j = 1 + (int) (rnd() % 3); j > 0; j--) {
            pos = rnd() % base;
            pkt[pos] = (rnd() & 1) ? (char) rnd() : (char) (rnd() % 4);
        }
        pkt_len = rnd() % 8 ? base : rnd() % base;
        r.max_vars = rnd() % 4 ? NVARS : rnd() % 20;
        rc = parse_n(pkt_len, rnd() % 8 ? MAX : rnd() % 600);
        ck_assert(rc <= (int) pkt_len);
        ck_assert(rc >= 0 || rc == -400 || rc == -431);
        if (rc > 0) {
            counts[0]++;
            ck_assert_uint_le(r.nvars, r.max_vars);
            for (i = 0; i < r.nvars; i++) {
                ck_assert(r.vars[i].key >= input
                          && r.vars[i].key + r.vars[i].klen <= input + rc);
                ck_assert(r.vars[i].val >= input
                          && r.vars[i].val + r.vars[i].vlen <= input + rc);
            }
        } else if (rc < 0) {
            counts[1]++;
        }
    }
    ck_assert_int_gt(counts[0], 1000);
    ck_assert_int_gt(counts[1], 1000);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *
uwsgi_suite(void)
{
    Suite *s = suite_create("uwsgi");
    TCase *tc;

    tc = wf_check_tcase(s, "parse", 10, setup, teardown);
    tcase_add_test(tc, nginx_packet_is_parsed_without_copies);
    tcase_add_loop_test(tc, modifiers_are_stored, 0, NELEM(modifiers));
    tcase_add_test(tc, empty_values_are_allowed_even_last);
    tcase_add_test(tc, lengths_are_little_endian);
    tcase_add_loop_test(tc, content_length_must_be_a_number, 0,
                        NELEM(lengths));
    tcase_add_test(tc, missing_content_length_means_no_body);
    tcase_add_loop_test(tc, server_protocol_sets_http_minor, 0,
                        NELEM(protos));
    tcase_add_test(tc, only_server_protocol_sets_http_minor);
    tcase_add_loop_test(tc, is_head_is_set_for_head_only, 0, NELEM(methods));
    tcase_add_test(tc, parse_resets_the_request_first);

    tc = wf_check_tcase(s, "incomplete", 10, setup, teardown);
    tcase_add_test(tc, every_prefix_of_a_packet_is_incomplete);
    tcase_add_test(tc, datasize_over_max_is_431_from_the_header_alone);
    tcase_add_test(tc, largest_packet_is_accepted);

    tc = wf_check_tcase(s, "errors", 10, setup, teardown);
    tcase_add_loop_test(tc, malformed_vars_are_400, 0, NELEM(malformed));
    tcase_add_loop_test(tc, too_many_vars_is_431, 0, NELEM(var_limits));

    tc = wf_check_tcase(s, "fuzz", 120, setup, teardown);
    tcase_add_test(tc, mutated_packets_never_overrun);
    return s;
}

WF_CHECK_MAIN(uwsgi_suite)
