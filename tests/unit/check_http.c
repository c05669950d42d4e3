/*
 * Unit tests of the HTTP/1.x request head parser (core/http.c) and of the
 * request variables (core/req.c). Every input is copied into a buffer of
 * its exact size, so that AddressSanitizer sees any read past the end.
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
#define ARENA 8192
#define MAX_HEAD 8192

static struct wf_var vars[NVARS];
static char arena[ARENA];
static struct wf__req r;
static char *input;         /* the exact-size copy of the last input */
static size_t input_len;

static void
setup(void)
{
    memset(&r, 0, sizeof(r));
    memset(vars, 0, sizeof(vars));
    r.vars = vars;
    r.max_vars = NVARS;
    r.arena = arena;
    r.arena_cap = ARENA;
    wf__req_reset(&r);
    input = NULL;
    input_len = 0;
}

static void
teardown(void)
{
    free(input);
    input = NULL;
}

/* Parse s[0..n) from an exact-size heap copy that lives until teardown. */
static int
parse_n(const char *s, size_t n, size_t max_head)
{
    wf_check_exact_copy(&input, s, n);
    input_len = n;
    return wf__http_parse(input, n, max_head, &r);
}

static int
parse(const char *s)
{
    return parse_n(s, strlen(s), MAX_HEAD);
}

/* Assert that parsing s consumes all of it. */
static void
parse_ok(const char *s)
{
    int rc = parse(s);

    ck_assert_msg(rc == (int) strlen(s), "parse(\"%s\") = %d, want %zu", s,
                  rc, strlen(s));
}

/* Assert that variable key is val, or absent when val is NULL. */
static void
assert_var(const char *key, const char *val)
{
    size_t n = 0;
    const char *v = wf__req_get(&r, key, &n);

    if (val == NULL) {
        ck_assert_msg(v == NULL, "%s is set to \"%.*s\"", key, (int) n,
                      v ? v : "");
        return;
    }
    ck_assert_msg(v != NULL, "%s is not set", key);
    ck_assert_msg(n == strlen(val) && memcmp(v, val, n) == 0,
                  "%s = \"%.*s\", want \"%s\"", key, (int) n, v, val);
}

static int
in_input(const char *p, size_t n)
{
    return (uintptr_t) p >= (uintptr_t) input
           && (uintptr_t) p + n <= (uintptr_t) input + input_len;
}

static int
in_arena(const char *p, size_t n)
{
    return (uintptr_t) p >= (uintptr_t) r.arena
           && (uintptr_t) p + n <= (uintptr_t) r.arena + r.arena_len;
}

/* ------------------------------------------------------------ request line */

static const struct {
    const char *line, *method, *uri, *path, *query, *proto, *host;
    unsigned minor;
} good_lines[] = {
    { "GET / HTTP/1.1", "GET", "/", "/", "", "HTTP/1.1", NULL, 1 },
    { "POST /a/b?x=1&y=2 HTTP/1.0", "POST", "/a/b?x=1&y=2", "/a/b",
      "x=1&y=2", "HTTP/1.0", NULL, 0 },
    { "PURGE /x HTTP/1.1", "PURGE", "/x", "/x", "", "HTTP/1.1", NULL, 1 },
    { "M-SEARCH /x HTTP/1.1", "M-SEARCH", "/x", "/x", "", "HTTP/1.1", NULL,
      1 },
    { "get / HTTP/1.1", "get", "/", "/", "", "HTTP/1.1", NULL, 1 },
    { "OPTIONS * HTTP/1.1", "OPTIONS", "*", "*", "", "HTTP/1.1", NULL, 1 },
    { "GET /a?b?c HTTP/1.1", "GET", "/a?b?c", "/a", "b?c", "HTTP/1.1",
      NULL, 1 },
    { "GET /? HTTP/1.1", "GET", "/?", "/", "", "HTTP/1.1", NULL, 1 },
    { "GET /x?%41 HTTP/1.1", "GET", "/x?%41", "/x", "%41", "HTTP/1.1",
      NULL, 1 },
    { "GET http://example.com:8080/p?q=1 HTTP/1.1", "GET",
      "http://example.com:8080/p?q=1", "/p", "q=1", "HTTP/1.1",
      "example.com:8080", 1 },
    { "GET HTTPS://h HTTP/1.1", "GET", "HTTPS://h", "/", "", "HTTP/1.1",
      "h", 1 },
    { "GET HTTP://h/x HTTP/1.1", "GET", "HTTP://h/x", "/x", "", "HTTP/1.1",
      "h", 1 },
    { "GET http://h?z HTTP/1.1", "GET", "http://h?z", "/", "z", "HTTP/1.1",
      "h", 1 },
    { "GET /caf\xc3\xa9 HTTP/1.1", "GET", "/caf\xc3\xa9", "/caf\xc3\xa9", "",
      "HTTP/1.1", NULL, 1 },
    { "GET / HTTP/1.2", "GET", "/", "/", "", "HTTP/1.1", NULL, 1 },
};

START_TEST(request_line_accepts_valid_forms)
{
    char head[256];

    snprintf(head, sizeof(head), "%s\r\n\r\n", good_lines[_i].line);
    parse_ok(head);
    assert_var("REQUEST_METHOD", good_lines[_i].method);
    assert_var("REQUEST_URI", good_lines[_i].uri);
    assert_var("PATH_INFO", good_lines[_i].path);
    assert_var("QUERY_STRING", good_lines[_i].query);
    assert_var("SERVER_PROTOCOL", good_lines[_i].proto);
    assert_var("HTTP_HOST", good_lines[_i].host);
    ck_assert_uint_eq(r.http_minor, good_lines[_i].minor);
}
END_TEST

/* Each row is a request line; "\r\n\r\n" is appended. */
static const struct bytes missing_parts[] = {
    B("GET"), B("GET /"), B("GET / "), B("GET  HTTP/1.1"), B(" / HTTP/1.1"),
    B("/ HTTP/1.1"), B("GET HTTP/1.1"), B("GET /HTTP/1.1"), B("HTTP/1.1"),
    B(" GET / HTTP/1.1"),
};

static const struct bytes control_chars[] = {
    B("GET /a\x01" "b HTTP/1.1"), B("GET /\x7f HTTP/1.1"),
    B("GET /a\0b HTTP/1.1"), B("G\tET / HTTP/1.1"), B("GET\t/ HTTP/1.1"),
    B("GET /\t HTTP/1.1"), B("GET /a\rb HTTP/1.1"), B("GET / HTTP/1.1\r"),
    B("GE\0T / HTTP/1.1"), B("\x16\x03\x01 / HTTP/1.1"),
};

static const struct bytes spaces_in_target[] = {
    B("GET /a b HTTP/1.1"), B("GET / / HTTP/1.1"), B("GET /  HTTP/1.1"),
    B("GET  / HTTP/1.1"), B("GET /a%20 b HTTP/1.1"),
};

static const struct bytes bad_versions[] = {
    B("GET / HTTP/1.1x"), B("GET / HTTP/1."), B("GET / HTTP/1"),
    B("GET / http/1.1"), B("GET / HTTP/1.1 "), B("GET / HTTP/11"),
    B("GET / HTTP/1.10"), B("GET / HTTP/10.0"), B("GET / HTTPS/1.1"),
    B("GET / HTTP/1,1"), B("GET / HTTP/a.b"), B("GET / HTTP/1.a"),
    B("GET / HTTP/ 1.1"), B("GET / Http/1.1"),
};

static const struct bytes bad_targets[] = {
    B("GET * HTTP/1.1"), B("GET a/b HTTP/1.1"), B("GET ftp://x/ HTTP/1.1"),
    B("GET http:// HTTP/1.1"), B("GET http:///p HTTP/1.1"),
    B("GET http://u@h/ HTTP/1.1"), B("CONNECT host:443 HTTP/1.1"),
    B("GET ?x HTTP/1.1"), B("OPTIONS ** HTTP/1.1"), B("GET http:/h HTTP/1.1"),
};

static int
parse_line(const struct bytes *b)
{
    char head[256];

    memcpy(head, b->s, b->n);
    memcpy(head + b->n, "\r\n\r\n", 4);
    return parse_n(head, b->n + 4, MAX_HEAD);
}

START_TEST(request_line_rejects_missing_parts)
{
    ck_assert_int_eq(parse_line(&missing_parts[_i]), -400);
}
END_TEST

START_TEST(request_line_rejects_control_chars)
{
    ck_assert_int_eq(parse_line(&control_chars[_i]), -400);
}
END_TEST

START_TEST(request_line_rejects_spaces_in_target)
{
    ck_assert_int_eq(parse_line(&spaces_in_target[_i]), -400);
}
END_TEST

START_TEST(request_line_rejects_malformed_http_version)
{
    ck_assert_int_eq(parse_line(&bad_versions[_i]), -400);
}
END_TEST

START_TEST(request_line_rejects_bad_request_targets)
{
    ck_assert_int_eq(parse_line(&bad_targets[_i]), -400);
}
END_TEST

static const char *const other_majors[] = {
    "GET / HTTP/2.0", "GET / HTTP/0.9", "GET / HTTP/3.0", "PRI * HTTP/2.0",
    "GET / HTTP/9.9",
};

START_TEST(request_line_rejects_other_major_versions_with_505)
{
    struct bytes b = { other_majors[_i], strlen(other_majors[_i]) };

    ck_assert_int_eq(parse_line(&b), -505);
}
END_TEST

/* ----------------------------------------------------------------- targets */

static const struct {
    const char *target, *path;
} escapes[] = {
    { "/a%20b", "/a b" },
    { "/%41%42", "/AB" },
    { "/%2F", "//" },
    { "/%2f%2e%2E", "//.." },
    { "/%e2%82%ac", "/\xe2\x82\xac" },
    { "/a%25b", "/a%b" },
    { "/x%3Fy?z", "/x?y" },
    { "/%C3%A9t%C3%A9", "/\xc3\xa9t\xc3\xa9" },
};

START_TEST(path_info_is_percent_decoded)
{
    char head[256];

    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n\r\n",
             escapes[_i].target);
    parse_ok(head);
    assert_var("PATH_INFO", escapes[_i].path);
}
END_TEST

static const char *const bad_escapes[] = {
    "/%", "/%4", "/%G0", "/%0G", "/%00", "/a%%", "/%-1", "/x%", "/%%41",
    "/a%0", "/%zz?q",
};

START_TEST(path_info_rejects_bad_escapes)
{
    char head[256];

    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n\r\n", bad_escapes[_i]);
    ck_assert_int_eq(parse(head), -400);
}
END_TEST

START_TEST(path_info_without_escapes_points_into_the_input)
{
    size_t n;
    const char *v;

    parse_ok("GET /plain/path?q=1 HTTP/1.1\r\n\r\n");
    v = wf__req_get(&r, "PATH_INFO", &n);
    ck_assert_ptr_nonnull(v);
    ck_assert(in_input(v, n));
    v = wf__req_get(&r, "REQUEST_METHOD", &n);
    ck_assert(in_input(v, n));
    v = wf__req_get(&r, "QUERY_STRING", &n);
    ck_assert(in_input(v, n));
    ck_assert_uint_eq(r.arena_len, 0);
}
END_TEST

START_TEST(decoded_path_info_takes_only_its_length_of_arena)
{
    size_t n;
    const char *v;

    parse_ok("GET /%41%42%43 HTTP/1.1\r\n\r\n");
    v = wf__req_get(&r, "PATH_INFO", &n);
    ck_assert(in_arena(v, n));
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(r.arena_len, 4);
}
END_TEST

START_TEST(absolute_form_host_replaces_the_host_header)
{
    parse_ok("GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n"
             "X-A: 1\r\n\r\n");
    assert_var("HTTP_HOST", "a.example");
    assert_var("PATH_INFO", "/x");
    assert_var("REQUEST_URI", "http://a.example/x");
    assert_var("HTTP_X_A", "1");
}
END_TEST

START_TEST(origin_form_keeps_the_host_header)
{
    parse_ok("GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n");
    assert_var("HTTP_HOST", "b.example");
}
END_TEST

/* ----------------------------------------------------------------- headers */

static const struct {
    const char *line, *key, *val;
} good_headers[] = {
    { "Host: example.com", "HTTP_HOST", "example.com" },
    { "X-Forwarded-For: 1.2.3.4", "HTTP_X_FORWARDED_FOR", "1.2.3.4" },
    { "accept-encoding: gzip", "HTTP_ACCEPT_ENCODING", "gzip" },
    { "X-Empty:", "HTTP_X_EMPTY", "" },
    { "X-Blank:   \t ", "HTTP_X_BLANK", "" },
    { "X-Sp:   a  b \t", "HTTP_X_SP", "a  b" },
    { "X-Tab:\tv", "HTTP_X_TAB", "v" },
    { "X-Utf8: caf\xc3\xa9", "HTTP_X_UTF8", "caf\xc3\xa9" },
    { "A.B!#: 1", "HTTP_A.B!#", "1" },
    { "Content-Type: text/plain", "CONTENT_TYPE", "text/plain" },
    { "content-length: 5", "CONTENT_LENGTH", "5" },
    { "Content-Length:   12  ", "CONTENT_LENGTH", "12" },
    { "Connection: close", "HTTP_CONNECTION", "close" },
    { "Transfer-Encoding: chunked", "HTTP_TRANSFER_ENCODING", "chunked" },
    { "X-Colon: a:b: c", "HTTP_X_COLON", "a:b: c" },
    { "X-Long: abcdefgh\tijklmnop\xc3\xa9qrstuvwx~ !\xff",
      "HTTP_X_LONG", "abcdefgh\tijklmnop\xc3\xa9qrstuvwx~ !\xff" },
    { "X-Long2: 0123456789abcdef0123456789abcdef ",
      "HTTP_X_LONG2", "0123456789abcdef0123456789abcdef" },
};

START_TEST(headers_become_cgi_variables)
{
    char head[256];

    snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n%s\r\n\r\n",
             good_headers[_i].line);
    parse_ok(head);
    assert_var(good_headers[_i].key, good_headers[_i].val);
}
END_TEST

START_TEST(content_headers_have_no_http_variable)
{
    parse_ok("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
             "Content-Type: a/b\r\n\r\n");
    assert_var("CONTENT_LENGTH", "3");
    assert_var("CONTENT_TYPE", "a/b");
    assert_var("HTTP_CONTENT_LENGTH", NULL);
    assert_var("HTTP_CONTENT_TYPE", NULL);
    ck_assert_int_eq(r.content_length, 3);
}
END_TEST

START_TEST(duplicate_headers_are_merged_with_comma)
{
    parse_ok("GET / HTTP/1.1\r\nAccept: a\r\nX-B: 1\r\naccept: b\r\n"
             "X-C: 2\r\nACCEPT:c\r\nX-B: 3\r\nAccept:\r\n\r\n");
    assert_var("HTTP_ACCEPT", "a, b, c, ");
    assert_var("HTTP_X_B", "1, 3");
    assert_var("HTTP_X_C", "2");
}
END_TEST

START_TEST(repeated_header_grows_the_arena_linearly)
{
    char head[4096];
    size_t n = 0;
    int i;

    n += (size_t) sprintf(head + n, "GET / HTTP/1.1\r\n");
    for (i = 0; i < 200; i++) {
        n += (size_t) sprintf(head + n, "X-R: abcdefgh\r\n");
    }
    n += (size_t) sprintf(head + n, "\r\n");
    r.arena_cap = 2048;     /* quadratic growth would need ~200 KB */
    ck_assert_int_eq(parse(head), (int) n);
    ck_assert_uint_eq(wf__req_get(&r, "HTTP_X_R", &n) != NULL, 1);
    ck_assert_uint_eq(n, 200 * 8 + 199 * 2);
}
END_TEST

START_TEST(cookies_are_merged_with_semicolon)
{
    parse_ok("GET / HTTP/1.1\r\nCookie: a=1\r\nX: y\r\ncookie: b=2\r\n"
             "COOKIE: c=3\r\n\r\n");
    assert_var("HTTP_COOKIE", "a=1; b=2; c=3");
}
END_TEST

START_TEST(proxy_header_is_dropped)
{
    parse_ok("GET / HTTP/1.1\r\nProxy: http://evil:1\r\nPROXY: x\r\n"
             "Proxy-Authorization: k\r\n\r\n");
    assert_var("HTTP_PROXY", NULL);
    assert_var("HTTP_PROXY_AUTHORIZATION", "k");
}
END_TEST

START_TEST(underscore_headers_are_dropped)
{
    parse_ok("GET / HTTP/1.1\r\nX_Forwarded_For: 6.6.6.6\r\n"
             "X-Forwarded-For: 1.2.3.4\r\nX_Only: z\r\n\r\n");
    assert_var("HTTP_X_FORWARDED_FOR", "1.2.3.4");
    assert_var("HTTP_X_ONLY", NULL);
}
END_TEST

/* Each row is the header part (lines with their CRLF); the request line
 * comes before and the blank line after. */
static const struct bytes bad_headers[] = {
    B("X: a\r\n b\r\n"),            /* obs-fold */
    B("X: a\r\n\tb\r\n"),           /* obs-fold with a tab */
    B(" X: a\r\n"),                 /* whitespace before the first header */
    B("X a\r\n"),                   /* no colon */
    B("X\r\n"),
    B("X : a\r\n"),                 /* whitespace before the colon */
    B("X\t: a\r\n"),
    B(": a\r\n"),                   /* empty name */
    B("X: a\x01" "b\r\n"),          /* control character */
    B("X: a\0b\r\n"),
    B("X: a\rb\r\n"),               /* bare CR */
    B("X: a\r\r\n"),
    B("X: \x7f\r\n"),
    /* controls inside values long enough for the 8-byte word checks */
    B("X: 0123456789\x01" "abcdefghijk\r\n"),
    B("X: abcdefgh\x7fijklmnopqrstu\r\n"),
    B("X: abcdefghijklmnop\0qrstuvwx\r\n"),
    B("X: abcdefghijklmnopqrstuvw\x1f\r\n"),
    B("X: \x80\xff\x80\xff\x80\xff\x80\x0b\xff\r\n"),
    B("X(y): a\r\n"),               /* non-token name */
    B("X@: 1\r\n"),
    B("X/Y: 1\r\n"),
    B("\xc3\xa9: 1\r\n"),
    B("Host: a\r\nHost: b\r\n"),    /* two Hosts */
    B("Host: a\r\nhost: a\r\n"),
};

START_TEST(header_lines_reject_malformed_input)
{
    char head[256];
    size_t n = 0;

    memcpy(head, "GET / HTTP/1.1\r\n", 16);
    n = 16;
    memcpy(head + n, bad_headers[_i].s, bad_headers[_i].n);
    n += bad_headers[_i].n;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    ck_assert_int_eq(parse_n(head, n, MAX_HEAD), -400);
}
END_TEST

static const char *const lf_heads[] = {
    "GET / HTTP/1.1\nHost: a\n\n",
    "GET / HTTP/1.1\r\nHost: a\n\r\n",
    "GET / HTTP/1.1\nHost: a\r\n\n",
    "GET / HTTP/1.1\n\n",
    "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\n\nGET / HTTP/1.1\nHost: a\n\n",
};

START_TEST(lf_only_lines_and_leading_empty_lines_are_accepted)
{
    parse_ok(lf_heads[_i]);
    assert_var("REQUEST_METHOD", "GET");
    assert_var("SERVER_PROTOCOL", "HTTP/1.1");
    if (strstr(lf_heads[_i], "Host") != NULL) {
        assert_var("HTTP_HOST", "a");
    }
}
END_TEST

START_TEST(variables_come_in_a_fixed_order)
{
    static const char *const keys[] = {
        "REQUEST_METHOD", "REQUEST_URI", "PATH_INFO", "QUERY_STRING",
        "SERVER_PROTOCOL", "HTTP_B", "HTTP_A",
    };
    unsigned i;

    parse_ok("GET / HTTP/1.1\r\nB: 1\r\nA: 2\r\n\r\n");
    ck_assert_uint_eq(r.nvars, NELEM(keys));
    for (i = 0; i < NELEM(keys); i++) {
        ck_assert_uint_eq(r.vars[i].klen, strlen(keys[i]));
        ck_assert(memcmp(r.vars[i].key, keys[i], r.vars[i].klen) == 0);
    }
}
END_TEST

/* ----------------------------------------------------------------- framing */

static const struct {
    const char *headers;
    int64_t length;
} good_lengths[] = {
    { "Content-Length: 0\r\n", 0 },
    { "Content-Length: 42\r\n", 42 },
    { "Content-Length: 007\r\n", 7 },
    { "Content-Length: 9223372036854775807\r\n", INT64_MAX },
    { "Content-Length: 5\r\nContent-Length: 5\r\n", 5 },
    { "X: y\r\n", -1 },
};

START_TEST(content_length_is_parsed)
{
    char head[256];

    snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n%s\r\n",
             good_lengths[_i].headers);
    parse_ok(head);
    ck_assert(r.content_length == good_lengths[_i].length);
    ck_assert_uint_eq(r.chunked, 0);
}
END_TEST

static const char *const bad_lengths[] = {
    "Content-Length: \r\n", "Content-Length: -1\r\n", "Content-Length: +1\r\n",
    "Content-Length: 1.0\r\n", "Content-Length: 0x10\r\n",
    "Content-Length: 1 2\r\n", "Content-Length: 1,1\r\n",
    "Content-Length: 5, 5\r\n", "Content-Length: abc\r\n",
    "Content-Length: 99999999999999999999\r\n",
    "Content-Length: 9223372036854775808\r\n",
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Content-Length: 5\r\ncontent-length: 05x\r\n",
};

START_TEST(content_length_rejects_bad_values)
{
    char head[256];

    snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n%s\r\n",
             bad_lengths[_i]);
    ck_assert_int_eq(parse(head), -400);
}
END_TEST

static const char *const good_te[] = {
    "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: Chunked\r\n",
    "transfer-encoding: CHUNKED\r\n", "Transfer-Encoding:  chunked \r\n",
    "Transfer-Encoding: chunked,\r\n", "Transfer-Encoding: , chunked\r\n",
};

START_TEST(transfer_encoding_chunked_is_recognised)
{
    char head[256];

    snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n%s\r\n", good_te[_i]);
    parse_ok(head);
    ck_assert_uint_eq(r.chunked, 1);
    ck_assert(r.content_length == -1);
    assert_var("CONTENT_LENGTH", NULL);
}
END_TEST

static const struct {
    const char *version, *headers;
    int rc;
} bad_te[] = {
    { "1.1", "Transfer-Encoding: gzip, chunked\r\n", -501 },
    { "1.1", "Transfer-Encoding: gzip\r\n", -501 },
    { "1.1", "Transfer-Encoding: chunked, gzip\r\n", -501 },
    { "1.1", "Transfer-Encoding: identity\r\n", -501 },
    { "1.1", "Transfer-Encoding: chunked;q=1\r\n", -501 },
    { "1.1", "Transfer-Encoding: xchunked\r\n", -501 },
    { "1.1", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
      -501 },
    { "1.1", "Transfer-Encoding: chunked, chunked\r\n", -400 },
    { "1.1", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      -400 },
    { "1.1", "Transfer-Encoding:\r\n", -400 },
    { "1.1", "Transfer-Encoding: ,\r\n", -400 },
    { "1.1", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", -400 },
    { "1.1", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", -400 },
    { "1.1", "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", -400 },
    { "1.0", "Transfer-Encoding: chunked\r\n", -400 },
    { "1.0", "Transfer-Encoding: gzip\r\n", -400 },
};

START_TEST(transfer_encoding_rejects_what_cannot_be_framed)
{
    char head[256];

    snprintf(head, sizeof(head), "POST / HTTP/%s\r\n%s\r\n",
             bad_te[_i].version, bad_te[_i].headers);
    ck_assert_int_eq(parse(head), bad_te[_i].rc);
}
END_TEST

START_TEST(head_length_stops_before_the_body)
{
    const char *req = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
                      "GET / HTTP/1.1\r\n\r\n";

    ck_assert_int_eq(parse(req), (int) strlen(req) - 4 - 18);
}
END_TEST

/* ---------------------------------------------------- connection and flags */

static const struct {
    const char *version, *connection;
    unsigned keepalive;
} keepalives[] = {
    { "1.1", NULL, 1 },
    { "1.1", "close", 0 },
    { "1.1", "Close", 0 },
    { "1.1", "keep-alive, close", 0 },
    { "1.1", "Upgrade,CLOSE", 0 },
    { "1.1", "closed", 1 },
    { "1.1", "keep-alive", 1 },
    { "1.0", NULL, 0 },
    { "1.0", "keep-alive", 1 },
    { "1.0", "Keep-Alive", 1 },
    { "1.0", "close", 0 },
    { "1.0", "foo, keep-alive", 1 },
    { "1.0", "keep-alive, close", 0 },
    { "1.0", "keep-alives", 0 },
};

START_TEST(keepalive_follows_version_and_connection)
{
    char head[256];

    if (keepalives[_i].connection != NULL) {
        snprintf(head, sizeof(head), "GET / HTTP/%s\r\nConnection: %s\r\n\r\n",
                 keepalives[_i].version, keepalives[_i].connection);
    } else {
        snprintf(head, sizeof(head), "GET / HTTP/%s\r\n\r\n",
                 keepalives[_i].version);
    }
    parse_ok(head);
    ck_assert_uint_eq(r.keepalive, keepalives[_i].keepalive);
}
END_TEST

static const struct {
    const char *version, *expect;
    unsigned flag;
} expects[] = {
    { "1.1", "100-continue", 1 },
    { "1.1", "100-Continue", 1 },
    { "1.1", "  100-CONTINUE ", 1 },
    { "1.1", NULL, 0 },
    { "1.1", "200-ok", 0 },
    { "1.1", "100-continue-x", 0 },
    { "1.0", "100-continue", 0 },
};

START_TEST(expect_continue_is_detected_in_http11)
{
    char head[256];

    if (expects[_i].expect != NULL) {
        snprintf(head, sizeof(head), "POST / HTTP/%s\r\nExpect: %s\r\n\r\n",
                 expects[_i].version, expects[_i].expect);
    } else {
        snprintf(head, sizeof(head), "POST / HTTP/%s\r\n\r\n",
                 expects[_i].version);
    }
    parse_ok(head);
    ck_assert_uint_eq(r.expect_continue, expects[_i].flag);
}
END_TEST

static const struct {
    const char *method;
    unsigned is_head;
} heads[] = {
    { "HEAD", 1 }, { "GET", 0 }, { "head", 0 }, { "HEADX", 0 }, { "HEA", 0 },
};

START_TEST(is_head_is_set_for_head_only)
{
    char head[256];

    snprintf(head, sizeof(head), "%s / HTTP/1.1\r\n\r\n", heads[_i].method);
    parse_ok(head);
    ck_assert_uint_eq(r.is_head, heads[_i].is_head);
}
END_TEST

/* -------------------------------------------------------------- incomplete */

static const char *const complete_heads[] = {
    "GET / HTTP/1.1\r\n\r\n",
    ("POST /a%20b?x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
     "Cookie: a\r\nCookie: b\r\n\r\n"),
    "GET / HTTP/1.0\nX: y\n\n",
    "\r\nGET http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
};

START_TEST(every_prefix_of_a_valid_head_is_incomplete)
{
    const char *h = complete_heads[_i];
    size_t n = strlen(h), k;

    for (k = 0; k < n; k++) {
        int rc = parse_n(h, k, MAX_HEAD);

        ck_assert_msg(rc == 0, "prefix %zu of row %d: %d", k, _i, rc);
    }
    ck_assert_int_eq(parse_n(h, n, MAX_HEAD), (int) n);
}
END_TEST

static const struct {
    const char *partial;
    int rc;
} early_errors[] = {
    { "\x16\x03\x01\x02\x00", -400 },           /* a TLS ClientHello */
    { "GET /a b HTTP/1.1\r\n", -400 },
    { "GET / HTTP/2.0\r\nHost: x\r\n", -505 },
    { "GET\t/", -400 },
    { "GET / HTTP/1.1x\n", -400 },
    { "\r\n\r\n:", -400 },
    { "GET / HTTP/1.1\r\nHost: x\r\n", 0 },
    { "GET /a", 0 },
    { "GET", 0 },
    { "\r\n\r\n", 0 },
    { "\r", 0 },
};

START_TEST(bad_request_line_is_refused_before_the_head_ends)
{
    ck_assert_int_eq(parse(early_errors[_i].partial), early_errors[_i].rc);
}
END_TEST

START_TEST(head_longer_than_max_head_is_431)
{
    const char *h = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    size_t n = strlen(h);

    /* Exactly max_head bytes fit; one more does not. */
    ck_assert_int_eq(parse_n(h, n, n), (int) n);
    ck_assert_int_eq(parse_n(h, n, n - 1), -431);
    /* Incomplete and at the limit: it can never complete. */
    ck_assert_int_eq(parse_n(h, n - 2, n - 2), -431);
    ck_assert_int_eq(parse_n(h, n - 2, n - 1), 0);
    /* Bytes past max_head do not matter when the head ends before. */
    ck_assert_int_eq(parse_n("GET / HTTP/1.1\r\n\r\nxxxxxxxx", 26, 18), 18);
    /* Only empty lines, up to the limit. */
    ck_assert_int_eq(parse_n("\r\n\r\n\r\n\r\n", 8, 8), -431);
}
END_TEST

/* ------------------------------------------------------------------ limits */

static const struct {
    unsigned max_vars;
    size_t arena_cap;
    int ok;
} limits[] = {
    { 5 + 3, 64, 1 },       /* 5 request-line variables + 3 headers */
    { 5 + 2, 64, 0 },
    { 4, 64, 0 },
    { 5 + 3, 3 * 7, 1 },    /* HTTP_A1 HTTP_A2 HTTP_A3: 7 bytes each */
    { 5 + 3, 3 * 7 - 1, 0 },
    { 5 + 3, 0, 0 },
};

START_TEST(too_many_headers_or_a_full_arena_is_431)
{
    const char *h = "GET / HTTP/1.1\r\nA1: x\r\nA2: y\r\nA3: z\r\n\r\n";

    r.max_vars = limits[_i].max_vars;
    r.arena_cap = limits[_i].arena_cap;
    ck_assert_int_eq(parse(h), limits[_i].ok ? (int) strlen(h) : -431);
    ck_assert_uint_le(r.nvars, r.max_vars);
    ck_assert_uint_le(r.arena_len, r.arena_cap);
}
END_TEST

START_TEST(merge_that_overflows_the_arena_is_431)
{
    r.arena_cap = 7 + 4;    /* HTTP_AA and "a, b" */
    parse_ok("GET / HTTP/1.1\r\nAA: a\r\nAA: b\r\n\r\n");
    assert_var("HTTP_AA", "a, b");
    r.arena_cap = 7 + 3;
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nAA: a\r\nAA: b\r\n\r\n"), -431);
}
END_TEST

START_TEST(parse_resets_the_request_first)
{
    parse_ok("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue"
             "\r\n\r\n");
    parse_ok("HEAD / HTTP/1.0\r\n\r\n");
    ck_assert_uint_eq(r.nvars, 5);
    ck_assert(r.content_length == -1);
    ck_assert_uint_eq(r.expect_continue, 0);
    ck_assert_uint_eq(r.is_head, 1);
    ck_assert_uint_eq(r.http_minor, 0);
}
END_TEST

/* ---------------------------------------------------------------- req vars */

START_TEST(add_var_copies_key_and_value_into_the_arena)
{
    char key[] = "K", val[] = "value";
    size_t n;
    const char *v;

    ck_assert_int_eq(wf__req_add_var(&r, key, 1, val, 5), 0);
    key[0] = 'X';
    val[0] = 'X';
    v = wf__req_get(&r, "K", &n);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(v, "value", 5) == 0);
    ck_assert(in_arena(v, n));
    ck_assert_uint_eq(r.arena_len, 6);
}
END_TEST

static const struct {
    unsigned max_vars;
    size_t arena_cap, klen, vlen;
    int rc;
} add_limits[] = {
    { 1, 6, 1, 5, 0 },
    { 0, 6, 1, 5, -431 },
    { 1, 5, 1, 5, -431 },
    { 1, 0, 0, 0, 0 },
    { 1, 70000, 1, 65535, 0 },
    { 1, 70000, 1, 65536, -431 },
};

START_TEST(add_var_fails_with_431_when_full)
{
    static char big[70000], src[70000];

    r.max_vars = add_limits[_i].max_vars;
    r.arena_cap = add_limits[_i].arena_cap;
    if (r.arena_cap > ARENA) {
        r.arena = big;
    }
    ck_assert_int_eq(wf__req_add_var(&r, "KEY", add_limits[_i].klen, src,
                                     add_limits[_i].vlen), add_limits[_i].rc);
    if (add_limits[_i].rc != 0) {
        ck_assert_uint_eq(r.nvars, 0);
        ck_assert_uint_eq(r.arena_len, 0);
    } else {
        ck_assert_uint_eq(r.nvars, 1);
    }
}
END_TEST

START_TEST(put_var_borrows_and_keeps_empty_values_findable)
{
    static const char key[] = "K", val[] = "v";

    ck_assert_int_eq(wf__req_put_var(&r, key, 1, val, 1), 0);
    ck_assert_int_eq(wf__req_put_var(&r, "E", 1, NULL, 0), 0);
    ck_assert_ptr_eq(r.vars[0].key, key);
    ck_assert_ptr_eq(r.vars[0].val, val);
    ck_assert_uint_eq(r.arena_len, 0);
    assert_var("E", "");
    r.max_vars = 2;
    ck_assert_int_eq(wf__req_put_var(&r, "F", 1, "f", 1), -431);
    ck_assert_uint_eq(r.nvars, 2);
}
END_TEST

static const struct {
    const char *key;
    const char *val;
} lookups[] = {
    { "HTTP_HOST", "h" }, { "HTTP_HOS", NULL }, { "HTTP_HOSTS", NULL },
    { "http_host", NULL }, { "", NULL }, { "EMPTY", "" }, { "A", "1" },
};

START_TEST(get_finds_exact_names_and_empty_values)
{
    ck_assert_int_eq(wf__req_add_var(&r, "A", 1, "1", 1), 0);
    ck_assert_int_eq(wf__req_add_var(&r, "HTTP_HOST", 9, "h", 1), 0);
    ck_assert_int_eq(wf__req_add_var(&r, "EMPTY", 5, NULL, 0), 0);
    ck_assert_int_eq(wf__req_add_var(&r, "A", 1, "2", 1), 0);
    assert_var(lookups[_i].key, lookups[_i].val);
}
END_TEST

START_TEST(reset_empties_the_request_and_keeps_the_storage)
{
    ck_assert_int_eq(wf__req_add_var(&r, "A", 1, "1", 1), 0);
    r.content_length = 5;
    r.chunked = r.keepalive = r.expect_continue = r.is_head = 1;
    r.http_minor = 1;
    r.modifier1 = r.modifier2 = 7;
    wf__req_reset(&r);
    ck_assert_uint_eq(r.nvars, 0);
    ck_assert_uint_eq(r.arena_len, 0);
    ck_assert(r.content_length == -1);
    ck_assert_uint_eq(r.chunked | r.keepalive | r.expect_continue
                      | r.is_head | r.http_minor | r.modifier1
                      | r.modifier2, 0);
    ck_assert_ptr_eq(r.vars, vars);
    ck_assert_ptr_eq(r.arena, arena);
    ck_assert_uint_eq(r.max_vars, NVARS);
    ck_assert_uint_eq(r.arena_cap, ARENA);
}
END_TEST

/* ------------------------------------------------------------ incremental */

/* Feed s[0..n) to wf__http_parse_more() `step` bytes at a time, as the
 * loop does, from an exact-size copy. Returns the first non-zero result,
 * or 0. */
static int
parse_pieces(const char *s, size_t n, size_t step, size_t max_head)
{
    struct wf__http_scan sc;
    size_t len = 0;
    int rc = 0;

    wf_check_exact_copy(&input, s, n);
    input_len = n;
    wf__http_scan_init(&sc);
    while (len < n) {
        len = len + step < n ? len + step : n;
        rc = wf__http_parse_more(input, len, max_head, &r, &sc);
        if (rc != 0) {
            break;
        }
    }
    return rc;
}

START_TEST(pieces_give_what_the_whole_gives)
{
    const char *h = complete_heads[_i];
    size_t n = strlen(h), step;

    for (step = 1; step <= 7; step++) {
        ck_assert_int_eq(parse_pieces(h, n, step, MAX_HEAD), (int) n);
    }
}
END_TEST

/* A 1 MiB head arriving a byte at a time: before the scan state, every
 * byte re-scanned the whole buffer (5e11 byte visits: minutes, the test
 * times out); now each byte is looked at a bounded number of times. */
START_TEST(a_big_head_read_a_byte_at_a_time_is_scanned_once)
{
    size_t big = 1 << 20, n;
    char *h = malloc(big);
    static const char *const starts[] = {
        "GET / HTTP/1.1\r\nX-Long: ",  /* one long header line */
        "GET /",                         /* one long request line */
        "\r\n\r\n\r\n",                  /* empty lines, then a method */
    };
    unsigned k;

    ck_assert_ptr_nonnull(h);
    for (k = 0; k < NELEM(starts); k++) {
        n = strlen(starts[k]);
        memcpy(h, starts[k], n);
        memset(h + n, k == 2 ? 'G' : 'a', big - n);
        ck_assert_int_eq(parse_pieces(h, big, 1, big), -431);
    }
    free(h);
}
END_TEST

/* Many headers, a byte at a time: the end of the head is found once. */
START_TEST(many_short_lines_a_byte_at_a_time)
{
    char h[8192];
    size_t n = 0;

    n += (size_t) snprintf(h, sizeof(h), "GET / HTTP/1.1\r\n");
    while (n < sizeof(h) - 64) {
        n += (size_t) snprintf(h + n, sizeof(h) - n, "X-A: %zu\r\n", n);
    }
    n += (size_t) snprintf(h + n, sizeof(h) - n, "\r\n");
    ck_assert_int_eq(parse_pieces(h, n, 1, sizeof(h)), (int) n);
    ck_assert_int_eq(parse_pieces(h, n, 3, sizeof(h)), (int) n);
}
END_TEST

/* -------------------------------------------------------------------- fuzz */

static uint64_t fuzz_state;

static uint32_t
fuzz_rand(void)
{
    /* xorshift64*: fixed seed, the same run every time */
    return wf_check_rand(&fuzz_state);
}

static const char *const fuzz_seeds[] = {
    "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: example.com\r\n"
    "User-Agent: curl/8\r\nAccept: */*\r\n\r\n",
    "POST /up%2Fload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
    "Content-Type: text/plain\r\nExpect: 100-continue\r\n\r\nhello world",
    "PUT http://h:81/x?y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
    "Cookie: a=1\r\nCookie: b=2\r\nConnection: keep-alive, close\r\n\r\n"
    "5\r\nhello\r\n0\r\n\r\n",
    "GET / HTTP/1.0\nConnection: Keep-Alive\nX-A: 1\nX-A: 2\n\n",
    "OPTIONS * HTTP/1.1\r\nProxy: x\r\nX_Y: z\r\n\r\n",
};

static const char fuzz_specials[] = ":\r\n %\t,;0aZ\x00\x7f\xff/?-_*@H";

/* One mutation of buf[0..*n) (capacity cap). */
static void
fuzz_mutate(char *buf, size_t *n, size_t cap)
{
    size_t pos = *n > 0 ? fuzz_rand() % *n : 0, len, at;
    char c = (fuzz_rand() & 1) ? (char) fuzz_rand()
             : fuzz_specials[fuzz_rand() % (sizeof(fuzz_specials) - 1)];

    switch (fuzz_rand() % 5) {
    case 0:             /* replace a byte */
        if (*n > 0) {
            buf[pos] = c;
        }
        break;
    case 1:             /* insert a byte */
        if (*n < cap) {
            memmove(buf + pos + 1, buf + pos, *n - pos);
            buf[pos] = c;
            (*n)++;
        }
        break;
    case 2:             /* delete a byte */
        if (*n > 0) {
            memmove(buf + pos, buf + pos + 1, *n - pos - 1);
            (*n)--;
        }
        break;
    case 3:             /* copy a span (a line, often) elsewhere */
        len = 1 + fuzz_rand() % 24;
        if (pos + len <= *n && *n + len <= cap) {
            at = fuzz_rand() % (*n + 1);
            memmove(buf + at + len, buf + at, *n - at);
            memmove(buf + at, buf + (pos >= at ? pos + len : pos), len);
            *n += len;
        }
        break;
    default:            /* truncate */
        *n = pos;
        break;
    }
}

/* Check the invariants of a successful parse of input[0..rc). */
static void
fuzz_check_vars(int rc)
{
    unsigned i, sum = 0;
    uint16_t k;

    ck_assert_uint_le(r.nvars, r.max_vars);
    ck_assert_uint_le(r.arena_len, r.arena_cap);
    for (i = 0; i < r.nvars; i++) {
        const struct wf_var *v = &r.vars[i];
        int where = in_arena(v->val, v->vlen)
                    || ((uintptr_t) v->val >= (uintptr_t) input
                        && (uintptr_t) v->val + v->vlen
                           <= (uintptr_t) input + (size_t) rc);

        /* else one of the parser's constants: "", "/", "HTTP/1.1" */
        ck_assert_msg(where || v->vlen <= 8, "var %u points nowhere", i);
        ck_assert(v->klen > 0);
        /* touch every byte, for ASan */
        for (k = 0; k < v->klen; k++) {
            sum += (unsigned char) v->key[k];
        }
        for (k = 0; k < v->vlen; k++) {
            sum += (unsigned char) v->val[k];
        }
    }
    (void) sum;
}

START_TEST(mutated_requests_never_overrun_or_crash)
{
    char buf[1024];
    size_t n, m;
    int iter, j, rc, rc2;
    unsigned counts[4] = { 0 };

    fuzz_state = UINT64_C(0x9E3779B97F4A7C15);
    for (iter = 0; iter < 20000; iter++) {
        const char *seed = fuzz_seeds[fuzz_rand() % NELEM(fuzz_seeds)];
        size_t max_head = (fuzz_rand() % 8) ? MAX_HEAD
                          : 16 + fuzz_rand() % 200;

        n = strlen(seed);
        memcpy(buf, seed, n);
        for (j = 1 + (int) (fuzz_rand() % 4); j > 0; j--) {
            fuzz_mutate(buf, &n, sizeof(buf));
        }
        r.max_vars = (fuzz_rand() % 4) ? NVARS : 1 + fuzz_rand() % 10;
        r.arena_cap = (fuzz_rand() % 4) ? ARENA : fuzz_rand() % 64;

        rc = parse_n(buf, n, max_head);
        ck_assert_msg(rc <= (int) n, "iteration %d: %d > %zu", iter, rc, n);
        ck_assert_msg(rc >= 0 || rc == -400 || rc == -431 || rc == -501
                      || rc == -505, "iteration %d: status %d", iter, rc);
        if (rc > 0) {
            counts[0]++;
            ck_assert_int_le(rc, (int) max_head);
            fuzz_check_vars(rc);
            /* A strict prefix of a good head is incomplete. */
            m = fuzz_rand() % (size_t) rc;
            rc2 = parse_n(buf, m, max_head);
            ck_assert_msg(rc2 == 0, "iteration %d: prefix %zu -> %d", iter,
                          m, rc2);
        } else if (rc == 0) {
            counts[1]++;
        } else {
            counts[rc == -400 ? 2 : 3]++;
        }
    }
    /* The mutations must reach both sides, or this test tests nothing. */
    ck_assert_uint_gt(counts[0], 1000);
    ck_assert_uint_gt(counts[2], 1000);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc;

    tc = wf_check_tcase(s, "request_line", 10, setup, teardown);
    tcase_add_loop_test(tc, request_line_accepts_valid_forms, 0,
                        NELEM(good_lines));
    tcase_add_loop_test(tc, request_line_rejects_missing_parts, 0,
                        NELEM(missing_parts));
    tcase_add_loop_test(tc, request_line_rejects_control_chars, 0,
                        NELEM(control_chars));
    tcase_add_loop_test(tc, request_line_rejects_spaces_in_target, 0,
                        NELEM(spaces_in_target));
    tcase_add_loop_test(tc, request_line_rejects_malformed_http_version, 0,
                        NELEM(bad_versions));
    tcase_add_loop_test(tc, request_line_rejects_bad_request_targets, 0,
                        NELEM(bad_targets));
    tcase_add_loop_test(tc, request_line_rejects_other_major_versions_with_505,
                        0, NELEM(other_majors));

    tc = wf_check_tcase(s, "target", 10, setup, teardown);
    tcase_add_loop_test(tc, path_info_is_percent_decoded, 0, NELEM(escapes));
    tcase_add_loop_test(tc, path_info_rejects_bad_escapes, 0,
                        NELEM(bad_escapes));
    tcase_add_test(tc, path_info_without_escapes_points_into_the_input);
    tcase_add_test(tc, decoded_path_info_takes_only_its_length_of_arena);
    tcase_add_test(tc, absolute_form_host_replaces_the_host_header);
    tcase_add_test(tc, origin_form_keeps_the_host_header);

    tc = wf_check_tcase(s, "headers", 10, setup, teardown);
    tcase_add_loop_test(tc, headers_become_cgi_variables, 0,
                        NELEM(good_headers));
    tcase_add_test(tc, content_headers_have_no_http_variable);
    tcase_add_test(tc, duplicate_headers_are_merged_with_comma);
    tcase_add_test(tc, repeated_header_grows_the_arena_linearly);
    tcase_add_test(tc, cookies_are_merged_with_semicolon);
    tcase_add_test(tc, proxy_header_is_dropped);
    tcase_add_test(tc, underscore_headers_are_dropped);
    tcase_add_loop_test(tc, header_lines_reject_malformed_input, 0,
                        NELEM(bad_headers));
    tcase_add_loop_test(tc, lf_only_lines_and_leading_empty_lines_are_accepted,
                        0, NELEM(lf_heads));
    tcase_add_test(tc, variables_come_in_a_fixed_order);

    tc = wf_check_tcase(s, "framing", 10, setup, teardown);
    tcase_add_loop_test(tc, content_length_is_parsed, 0, NELEM(good_lengths));
    tcase_add_loop_test(tc, content_length_rejects_bad_values, 0,
                        NELEM(bad_lengths));
    tcase_add_loop_test(tc, transfer_encoding_chunked_is_recognised, 0,
                        NELEM(good_te));
    tcase_add_loop_test(tc, transfer_encoding_rejects_what_cannot_be_framed,
                        0, NELEM(bad_te));
    tcase_add_test(tc, head_length_stops_before_the_body);

    tc = wf_check_tcase(s, "connection", 10, setup, teardown);
    tcase_add_loop_test(tc, keepalive_follows_version_and_connection, 0,
                        NELEM(keepalives));
    tcase_add_loop_test(tc, expect_continue_is_detected_in_http11, 0,
                        NELEM(expects));
    tcase_add_loop_test(tc, is_head_is_set_for_head_only, 0, NELEM(heads));

    tc = wf_check_tcase(s, "incomplete", 10, setup, teardown);
    tcase_add_loop_test(tc, every_prefix_of_a_valid_head_is_incomplete, 0,
                        NELEM(complete_heads));
    tcase_add_loop_test(tc, bad_request_line_is_refused_before_the_head_ends,
                        0, NELEM(early_errors));
    tcase_add_test(tc, head_longer_than_max_head_is_431);
    tcase_add_loop_test(tc, pieces_give_what_the_whole_gives, 0,
                        NELEM(complete_heads));
    tcase_add_test(tc, many_short_lines_a_byte_at_a_time);

    tc = wf_check_tcase(s, "linear", 20, setup, teardown);
    tcase_add_test(tc, a_big_head_read_a_byte_at_a_time_is_scanned_once);

    tc = wf_check_tcase(s, "limits", 10, setup, teardown);
    tcase_add_loop_test(tc, too_many_headers_or_a_full_arena_is_431, 0,
                        NELEM(limits));
    tcase_add_test(tc, merge_that_overflows_the_arena_is_431);
    tcase_add_test(tc, parse_resets_the_request_first);

    tc = wf_check_tcase(s, "req_vars", 10, setup, teardown);
    tcase_add_test(tc, add_var_copies_key_and_value_into_the_arena);
    tcase_add_loop_test(tc, add_var_fails_with_431_when_full, 0,
                        NELEM(add_limits));
    tcase_add_loop_test(tc, get_finds_exact_names_and_empty_values, 0,
                        NELEM(lookups));
    tcase_add_test(tc, put_var_borrows_and_keeps_empty_values_findable);
    tcase_add_test(tc, reset_empties_the_request_and_keeps_the_storage);

    /* 20000 parses: well under a second, minutes under valgrind */
    tc = wf_check_tcase(s, "fuzz", 120, setup, teardown);
    tcase_add_test(tc, mutated_requests_never_overrun_or_crash);
    return s;
}

WF_CHECK_MAIN(http_suite)
