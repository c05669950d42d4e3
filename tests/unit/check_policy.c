/*
 * Unit tests of the HTTP policy the core decides once for every language
 * (core/policy.c): the reason phrases, the verdicts on a status line and
 * on a response header, the protocol of a status line, the CGI defaults
 * of a request, and the request line of the logs. Tables of good and bad
 * input with their exact outcomes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

#include "check_util.h"

#define NVARS 32
#define ARENA 512

static struct wf_var vars[NVARS];
static char arena[ARENA];
static struct wf__req r;

static void
setup(void)
{
    memset(&r, 0, sizeof(r));
    r.vars = vars;
    r.max_vars = NVARS;
    r.arena = arena;
    r.arena_cap = ARENA;
    wf__req_reset(&r);
}

static void
teardown(void)
{
}

/* Add a variable given as C strings (borrowed: string literals). */
static void
var(const char *k, const char *v)
{
    ck_assert_int_eq(wf__req_put_var(&r, k, strlen(k), v, strlen(v)), 0);
}

/* The value of key as a NUL-terminated string in a static buffer, or
 * "(none)". */
static const char *
get(const char *key)
{
    static char out[256];
    size_t n;
    const char *v = wf__req_get(&r, key, &n);

    if (v == NULL) {
        return "(none)";
    }
    snprintf(out, sizeof(out), "%.*s", (int)n, v);
    return out;
}

/* ------------------------------------------------------- reason phrases */

static const struct {
    int code;
    const char *reason;
} reasons[] = {
    { 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
    { 304, "Not Modified" }, { 308, "Permanent Redirect" },
    { 404, "Not Found" }, { 413, "Content Too Large" },
    { 422, "Unprocessable Content" }, { 431, "Request Header Fields Too "
                                              "Large" },
    { 500, "Internal Server Error" }, { 511, "Network Authentication "
                                             "Required" },
    { 101, "Switching Protocols" },
    /* none registered */
    { 299, NULL }, { 418, NULL }, { 600, NULL }, { 99, NULL }, { -1, NULL },
    { 0, NULL }, { 1000, NULL },
};

START_TEST(reason_is_the_registered_phrase_or_null)
{
    const char *got = wf_http_reason(reasons[_i].code);

    if (reasons[_i].reason == NULL) {
        ck_assert_msg(got == NULL, "%d: %s", reasons[_i].code, got);
    } else {
        ck_assert_msg(got != NULL, "%d: NULL", reasons[_i].code);
        ck_assert_str_eq(got, reasons[_i].reason);
    }
}
END_TEST

/* ---------------------------------------------------------- status line */

static const struct {
    struct bytes status;
    int verdict;
} statuses[] = {
    { B("200 OK"), WF_HTTP_OK },
    { B("200 "), WF_HTTP_OK },
    { B("404 Not\tFound"), WF_HTTP_OK },
    { B("599 Whatever \xe9t\xe9"), WF_HTTP_OK },        /* obs-text */
    { B("200OK"), WF_HTTP_STATUS_FORM },
    { B("200"), WF_HTTP_STATUS_FORM },
    { B(""), WF_HTTP_STATUS_FORM },
    { B("2000 OK"), WF_HTTP_STATUS_FORM },
    { B("20a OK"), WF_HTTP_STATUS_FORM },
    { B(" 200 OK"), WF_HTTP_STATUS_FORM },
    { B("099 Low"), WF_HTTP_STATUS_FORM },
    { B("100 Continue"), WF_HTTP_STATUS_INTERIM },
    { B("101 Switching Protocols"), WF_HTTP_STATUS_INTERIM },
    { B("103 Early Hints"), WF_HTTP_STATUS_INTERIM },
    { B("600 Nope"), WF_HTTP_STATUS_RANGE },
    { B("999 Nope"), WF_HTTP_STATUS_RANGE },
    { B("200 OK\r\nSet-Cookie: a=b"), WF_HTTP_STATUS_CTL },
    { B("200 OK\n"), WF_HTTP_STATUS_CTL },
    { B("200 O\0K"), WF_HTTP_STATUS_CTL },
    { B("200 O\x7fK"), WF_HTTP_STATUS_CTL },
    { B("200 O\x01K"), WF_HTTP_STATUS_CTL },
};

START_TEST(status_verdicts)
{
    int v = wf_http_status_check(statuses[_i].status.s,
                                 statuses[_i].status.n);

    ck_assert_msg(v == statuses[_i].verdict, "%.*s: %d, want %d",
                  (int)statuses[_i].status.n, statuses[_i].status.s, v,
                  statuses[_i].verdict);
}
END_TEST

/* --------------------------------------------------------------- headers */

static const struct {
    struct bytes name, val;
    int verdict;
} headers[] = {
    { B("Content-Type"), B("text/plain; charset=utf-8"), WF_HTTP_OK },
    { B("X-Empty"), B(""), WF_HTTP_OK },
    { B("X-Tab"), B("a\tb"), WF_HTTP_OK },
    { B("X-Latin1"), B("caf\xe9"), WF_HTTP_OK },
    { B("!#$%&'*+-.^_`|~09azAZ"), B("v"), WF_HTTP_OK },
    { B("Content-Length"), B("0"), WF_HTTP_OK },
    { B("content-length"), B("123456789012345678"), WF_HTTP_OK },
    { B("Connection"), B("close"), WF_HTTP_OK },
    { B(""), B("v"), WF_HTTP_NAME_EMPTY },
    { B("X Bad"), B("v"), WF_HTTP_NAME_TOKEN },
    { B("X-Bad:"), B("v"), WF_HTTP_NAME_TOKEN },
    { B("X-Bad\r\nY"), B("v"), WF_HTTP_NAME_TOKEN },
    { B("X-(Bad)"), B("v"), WF_HTTP_NAME_TOKEN },
    { B("X-\xe9"), B("v"), WF_HTTP_NAME_TOKEN },
    { B("X-Bad"), B("a\r\nInjected: yes"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\nb"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\rb"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\0b"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\x01" "b"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\x1f" "b"), WF_HTTP_VALUE_CTL },
    { B("X-Bad"), B("a\x7f" "b"), WF_HTTP_VALUE_CTL },
    { B("Content-Length"), B(""), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B("-1"), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B("+5"), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B("1e3"), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B("5, 5"), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B(" 5"), WF_HTTP_VALUE_LENGTH },
    { B("Content-Length"), B("1234567890123456789"), WF_HTTP_VALUE_LENGTH },
    { B("Transfer-Encoding"), B("chunked"), WF_HTTP_HEADER_FRAMING },
    { B("transfer-encoding"), B("identity"), WF_HTTP_HEADER_FRAMING },
};

START_TEST(header_verdicts)
{
    int v = wf_http_header_check(headers[_i].name.s, headers[_i].name.n,
                                 headers[_i].val.s, headers[_i].val.n);

    ck_assert_msg(v == headers[_i].verdict, "%.*s: %.*s: %d, want %d",
                  (int)headers[_i].name.n, headers[_i].name.s,
                  (int)headers[_i].val.n, headers[_i].val.s, v,
                  headers[_i].verdict);
}
END_TEST

START_TEST(every_byte_is_classed_once_for_names_and_values)
{
    /* the value rule, byte by byte: HTAB, SP..~ and obs-text pass */
    for (int ch = 0; ch < 256; ch++) {
        char b[3] = { 'a', (char)ch, 'b' };
        int want = (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) ? WF_HTTP_OK
                                                              : WF_HTTP_VALUE_CTL;

        ck_assert_msg(wf_http_header_check("X", 1, b, 3) == want,
                      "value byte 0x%02x", ch);
    }
}
END_TEST

START_TEST(verdicts_have_a_text_and_a_subject)
{
    static const int all[] = {
        WF_HTTP_STATUS_FORM, WF_HTTP_STATUS_INTERIM, WF_HTTP_STATUS_RANGE,
        WF_HTTP_STATUS_CTL, WF_HTTP_NAME_EMPTY, WF_HTTP_NAME_TOKEN,
        WF_HTTP_VALUE_CTL, WF_HTTP_VALUE_LENGTH, WF_HTTP_HEADER_FRAMING,
        WF_HTTP_HEADER_LENGTH_TWICE,
    };

    for (size_t i = 0; i < NELEM(all); i++) {
        const char *t = wf_http_verdict_text(all[i]);

        ck_assert(t != NULL && strlen(t) > 5);
        ck_assert_str_ne(t, wf_http_verdict_text(WF_HTTP_OK));
    }
    ck_assert(WF_HTTP_VERDICT_ON_NAME(WF_HTTP_NAME_TOKEN));
    ck_assert(!WF_HTTP_VERDICT_ON_NAME(WF_HTTP_VALUE_CTL));
    ck_assert(WF_HTTP_VERDICT_ON_VALUE(WF_HTTP_VALUE_LENGTH));
    ck_assert(!WF_HTTP_VERDICT_ON_VALUE(WF_HTTP_HEADER_FRAMING));
    ck_assert(!WF_HTTP_VERDICT_ON_NAME(WF_HTTP_STATUS_FORM));
}
END_TEST

/* ------------------------------------------------------------ protocols */

static const struct {
    struct bytes proto;
    int ok;
} protos[] = {
    { B("HTTP/1.0"), 1 }, { B("HTTP/1.1"), 1 }, { B("HTTP/2.0"), 1 },
    { B("HTTP/2"), 1 }, { B("HTTP/3"), 1 },
    { B("X\r\nY: z"), 0 }, { B("HTTP/1.1\r\nSet-Cookie: a=b"), 0 },
    { B("HTTP/1.1 "), 0 }, { B(""), 0 }, { B("HTTP/"), 0 },
    { B("http/1.1"), 0 }, { B("HTTP/1.1x"), 0 }, { B("HTTP/1."), 0 },
    { B("HTTP/.1"), 0 }, { B("HTTP/1.1.1"), 0 }, { B("HTTP/1111.1"), 0 },
    { B("HTTP/1\0.1"), 0 },
};

START_TEST(status_line_protocols)
{
    ck_assert_msg(wf__http_proto_ok(protos[_i].proto.s, protos[_i].proto.n)
                  == protos[_i].ok, "%.*s", (int)protos[_i].proto.n,
                  protos[_i].proto.s);
}
END_TEST

/* --------------------------------------------------------- CGI defaults */

static const struct wf__cgi_site tcp = { "10.0.0.9", "8080", "10.1.2.3",
                                         "5555" };
static const struct wf__cgi_site unix_sock = { "localhost", NULL, "unix",
                                               "0" };

START_TEST(cgi_defaults_fill_what_an_http_request_lacks)
{
    /* what the HTTP parser gives */
    var("REQUEST_METHOD", "GET");
    var("REQUEST_URI", "/x?a=1");
    var("PATH_INFO", "/x");
    var("QUERY_STRING", "a=1");
    var("SERVER_PROTOCOL", "HTTP/1.1");
    var("HTTP_HOST", "example.org:9999");
    ck_assert_int_eq(wf__cgi_defaults(&r, &tcp), 0);
    ck_assert_str_eq(get("SERVER_NAME"), "example.org");
    /* the port the request came in on, not the one the client named */
    ck_assert_str_eq(get("SERVER_PORT"), "8080");
    ck_assert_str_eq(get("SCRIPT_NAME"), "");
    ck_assert_str_eq(get("PATH_INFO"), "/x");
    ck_assert_str_eq(get("REMOTE_ADDR"), "10.1.2.3");
    ck_assert_str_eq(get("REMOTE_PORT"), "5555");
    ck_assert_str_eq(get("SERVER_PROTOCOL"), "HTTP/1.1");
}
END_TEST

START_TEST(cgi_defaults_keep_what_a_uwsgi_packet_gives)
{
    var("REQUEST_METHOD", "POST");
    var("SERVER_NAME", "front");
    var("SERVER_PORT", "443");
    var("REMOTE_ADDR", "192.0.2.1");
    var("SCRIPT_NAME", "/app");
    var("HTTP_HOST", "other:81");
    ck_assert_int_eq(wf__cgi_defaults(&r, &tcp), 0);
    ck_assert_str_eq(get("SERVER_NAME"), "front");
    ck_assert_str_eq(get("SERVER_PORT"), "443");
    ck_assert_str_eq(get("REMOTE_ADDR"), "192.0.2.1");
    ck_assert_str_eq(get("SCRIPT_NAME"), "/app");
    ck_assert_str_eq(get("REQUEST_METHOD"), "POST");
    ck_assert_str_eq(get("PATH_INFO"), "");
    ck_assert_str_eq(get("QUERY_STRING"), "");
    ck_assert_str_eq(get("SERVER_PROTOCOL"), "HTTP/1.0");
    ck_assert_str_eq(get("REMOTE_PORT"), "5555");
}
END_TEST

START_TEST(cgi_defaults_of_an_empty_packet_are_complete)
{
    ck_assert_int_eq(wf__cgi_defaults(&r, &tcp), 0);
    ck_assert_str_eq(get("SERVER_NAME"), "10.0.0.9");
    ck_assert_str_eq(get("SERVER_PORT"), "8080");
    ck_assert_str_eq(get("REQUEST_METHOD"), "GET");
    ck_assert_str_eq(get("SERVER_PROTOCOL"), "HTTP/1.0");
    ck_assert_str_eq(get("SCRIPT_NAME"), "");
    ck_assert_str_eq(get("PATH_INFO"), "");
    ck_assert_str_eq(get("QUERY_STRING"), "");
}
END_TEST

static const struct {
    const char *host;       /* NULL: no Host */
    const char *https;      /* NULL: no HTTPS */
    const char *scheme;     /* NULL: no UWSGI_SCHEME */
    const char *name, *port;
} unix_rows[] = {
    { "example.org:8443", NULL, NULL, "example.org", "8443" },
    { "example.org", NULL, NULL, "example.org", "80" },
    { "example.org", "on", NULL, "example.org", "443" },
    { "example.org", "1", NULL, "example.org", "443" },
    { "example.org", "off", NULL, "example.org", "80" },
    { "example.org", "on", "http", "example.org", "80" },
    { "example.org", NULL, "https", "example.org", "443" },
    { "[::1]:81", NULL, NULL, "[::1]", "81" },
    { "[::1]", NULL, NULL, "[::1]", "80" },
    { ":82", NULL, NULL, "localhost", "82" },
    { NULL, NULL, NULL, "localhost", "80" },
    { "", NULL, NULL, "localhost", "80" },
};

START_TEST(cgi_defaults_on_a_unix_socket_come_from_host_and_scheme)
{
    if (unix_rows[_i].host) {
        var("HTTP_HOST", unix_rows[_i].host);
    }
    if (unix_rows[_i].https) {
        var("HTTPS", unix_rows[_i].https);
    }
    if (unix_rows[_i].scheme) {
        var("UWSGI_SCHEME", unix_rows[_i].scheme);
    }
    ck_assert_int_eq(wf__cgi_defaults(&r, &unix_sock), 0);
    ck_assert_str_eq(get("SERVER_NAME"), unix_rows[_i].name);
    ck_assert_str_eq(get("SERVER_PORT"), unix_rows[_i].port);
    ck_assert_str_eq(get("REMOTE_ADDR"), "unix");
}
END_TEST

START_TEST(cgi_defaults_refuse_a_protocol_that_is_not_http)
{
    var("SERVER_PROTOCOL", "X\r\nY: z");
    ck_assert_int_eq(wf__cgi_defaults(&r, &tcp), -400);
}
END_TEST

START_TEST(cgi_defaults_without_room_are_431)
{
    r.max_vars = 3;
    ck_assert_int_eq(wf__cgi_defaults(&r, &tcp), -431);
}
END_TEST

/* ---------------------------------------------------------- request line */

START_TEST(request_line_is_method_and_uri)
{
    char buf[64];

    var("REQUEST_METHOD", "POST");
    var("REQUEST_URI", "/a?b=c");
    var("PATH_INFO", "/ignored");
    ck_assert_str_eq(wf__req_line(&r, buf, sizeof(buf)), "POST /a?b=c");
}
END_TEST

START_TEST(request_line_without_uri_is_path_and_query)
{
    char buf[64];

    var("REQUEST_METHOD", "GET");
    var("PATH_INFO", "/p");
    var("QUERY_STRING", "q=1");
    ck_assert_str_eq(wf__req_line(&r, buf, sizeof(buf)), "GET /p?q=1");
    setup();
    var("PATH_INFO", "/p");
    var("QUERY_STRING", "");
    ck_assert_str_eq(wf__req_line(&r, buf, sizeof(buf)), "- /p");
}
END_TEST

START_TEST(request_line_is_one_line_and_truncated)
{
    char buf[12];

    var("REQUEST_METHOD", "GET");
    var("REQUEST_URI", "/a\r\nfake: log line");
    ck_assert_str_eq(wf__req_line(&r, buf, sizeof(buf)), "GET /a??fak");
    ck_assert_str_eq(wf__req_line(&r, buf, 1), "");
}
END_TEST

/* -------------------------------------- dates, validators, ranges */

static const struct {
    const char *in;
    long long t;        /* -1: not a date */
} dates[] = {
    { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },      /* RFC 9110 */
    { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },     /* RFC 850 */
    { "Sun Nov  6 08:49:37 1994", 784111777 },           /* asctime */
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "Tue, 14 Nov 2023 22:13:20 GMT", 1700000000 },
    { "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMT junk", -1 },
    { "Sun, 06 Foo 1994 08:49:37 GMT", -1 },
    { "Sun, 32 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 25:49:37 GMT", -1 },
    { "not a date", -1 }, { "", -1 }, { "1700000000", -1 },
};

START_TEST(http_dates_parse_in_the_three_forms_or_not_at_all)
{
    long long t = wf__http_date_parse(dates[_i].in, strlen(dates[_i].in));

    ck_assert_msg(t == dates[_i].t, "%s: %lld, want %lld", dates[_i].in, t,
                  dates[_i].t);
}
END_TEST

START_TEST(http_date_is_imf_fixdate_and_parses_back)
{
    static const long long ts[] = { 0, 784111777, 1700000000, 4102444800LL };
    char out[64];
    size_t i;

    for (i = 0; i < NELEM(ts); i++) {
        size_t n = wf__http_date(ts[i], out, sizeof(out));

        ck_assert_uint_eq(n, 29);
        ck_assert_int_eq(wf__http_date_parse(out, n), ts[i]);
    }
    wf__http_date(784111777, out, sizeof(out));
    ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_uint_eq(wf__http_date(0, out, 10), 0);
}
END_TEST

static const struct {
    const char *list;
    int hit;
} etags[] = {
    { "\"5f-14\"", 1 }, { "W/\"5f-14\"", 1 }, { "*", 1 },
    { "\"other\", \"5f-14\"", 1 }, { " \"a\" ,W/\"5f-14\"  ", 1 },
    { "\"5f-1\"", 0 }, { "\"5f-14-gz\"", 0 }, { "5f-14", 0 }, { "", 0 },
    { "\"other\"", 0 },
};

START_TEST(if_none_match_lists_are_compared_weakly)
{
    ck_assert_int_eq(wf__http_etag_listed(etags[_i].list,
                                          strlen(etags[_i].list),
                                          "\"5f-14\""), etags[_i].hit);
}
END_TEST

static const struct {
    const char *h;
    int r;
    long long a, b;
} ranges[] = {
    { "bytes=10-19", 1, 10, 19 }, { "bytes=1000-", 1, 1000, 1023 },
    { "bytes=-24", 1, 1000, 1023 }, { "bytes=-5000", 1, 0, 1023 },
    { "bytes=1000-5000", 1, 1000, 1023 }, { "BYTES=0-0", 1, 0, 0 },
    { "bytes=1024-", -1, 0, 0 }, { "bytes=-0", -1, 0, 0 },
    { "bytes=5000-6000", -1, 0, 0 },
    /* ignored: the whole body */
    { "bytes=0-1,5-6", 0, 0, 0 }, { "lines=1-2", 0, 0, 0 },
    { "bytes=19-10", 0, 0, 0 }, { "bytes=a-b", 0, 0, 0 },
    { "bytes=", 0, 0, 0 }, { "bytes=5", 0, 0, 0 }, { "bytes=--5", 0, 0, 0 },
};

START_TEST(ranges_are_one_range_unsatisfiable_or_ignored)
{
    int64_t a = 0, b = 0;
    int r = wf__http_range(ranges[_i].h, strlen(ranges[_i].h), 1024, &a,
                           &b);

    ck_assert_msg(r == ranges[_i].r, "%s: %d", ranges[_i].h, r);
    if (r == 1) {
        ck_assert_int_eq(a, ranges[_i].a);
        ck_assert_int_eq(b, ranges[_i].b);
    }
}
END_TEST

static const struct {
    const char *ae, *coding;
    int yes;
} codings[] = {
    { "gzip", "gzip", 1 }, { "gzip, deflate, br", "br", 1 },
    { "deflate, GZIP;q=0.5", "gzip", 1 }, { "br;q=1.0", "br", 1 },
    { "gzip;q=0", "gzip", 0 }, { "gzip; q=0.000", "gzip", 0 },
    { "br, gzip;q=0", "gzip", 0 }, { "br, gzip;q=0", "br", 1 },
    { "x-gzip", "gzip", 0 }, { "gzipped", "gzip", 0 }, { "", "gzip", 0 },
    { "identity", "br", 0 }, { "*", "gzip", 0 },
};

START_TEST(accept_encoding_names_a_coding_without_q_zero)
{
    ck_assert_msg(wf__http_accepts(codings[_i].ae, strlen(codings[_i].ae),
                                   codings[_i].coding) == codings[_i].yes,
                  "%s / %s", codings[_i].ae, codings[_i].coding);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc;

    tc = wf_check_tcase(s, "reasons", 10, setup, teardown);
    tcase_add_loop_test(tc, reason_is_the_registered_phrase_or_null, 0,
                        NELEM(reasons));

    tc = wf_check_tcase(s, "verdicts", 10, setup, teardown);
    tcase_add_loop_test(tc, status_verdicts, 0, NELEM(statuses));
    tcase_add_loop_test(tc, header_verdicts, 0, NELEM(headers));
    tcase_add_test(tc, every_byte_is_classed_once_for_names_and_values);
    tcase_add_test(tc, verdicts_have_a_text_and_a_subject);
    tcase_add_loop_test(tc, status_line_protocols, 0, NELEM(protos));

    tc = wf_check_tcase(s, "cgi", 10, setup, teardown);
    tcase_add_test(tc, cgi_defaults_fill_what_an_http_request_lacks);
    tcase_add_test(tc, cgi_defaults_keep_what_a_uwsgi_packet_gives);
    tcase_add_test(tc, cgi_defaults_of_an_empty_packet_are_complete);
    tcase_add_loop_test(tc,
                        cgi_defaults_on_a_unix_socket_come_from_host_and_scheme,
                        0, NELEM(unix_rows));
    tcase_add_test(tc, cgi_defaults_refuse_a_protocol_that_is_not_http);
    tcase_add_test(tc, cgi_defaults_without_room_are_431);

    tc = wf_check_tcase(s, "conditional", 10, setup, teardown);
    tcase_add_loop_test(tc, http_dates_parse_in_the_three_forms_or_not_at_all,
                        0, NELEM(dates));
    tcase_add_test(tc, http_date_is_imf_fixdate_and_parses_back);
    tcase_add_loop_test(tc, if_none_match_lists_are_compared_weakly, 0,
                        NELEM(etags));
    tcase_add_loop_test(tc, ranges_are_one_range_unsatisfiable_or_ignored, 0,
                        NELEM(ranges));
    tcase_add_loop_test(tc, accept_encoding_names_a_coding_without_q_zero, 0,
                        NELEM(codings));

    tc = wf_check_tcase(s, "request line", 10, setup, teardown);
    tcase_add_test(tc, request_line_is_method_and_uri);
    tcase_add_test(tc, request_line_without_uri_is_path_and_query);
    tcase_add_test(tc, request_line_is_one_line_and_truncated);
    return s;
}

WF_CHECK_MAIN(policy_suite)
