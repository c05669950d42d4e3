/*
 * HTTP policy, once for every language and both protocols: the reason
 * phrases, the checks of a status line and of a response header (the
 * verdicts of include/weft/core.h), the CGI defaults of a request, the
 * request line for log lines. Pure: no I/O, no allocation but the
 * request's arena, no globals but constant tables. core/response.c applies
 * the checks when it builds a head; the language plugins call them early
 * to raise their own errors (docs/design.md, "Responses").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy.h"

/* ---------------------------------------------------------- byte classes */

#define B_TOKEN 1   /* tchar of RFC 9110 5.6.2 */
#define B_VALUE 2   /* field-vchar, SP, HTAB, obs-text (RFC 9110 5.5) */

/* One table for names and values: B_TOKEN and B_VALUE bits per byte. */
static const unsigned char byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,   /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 0x10 */
    2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2,   /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2,   /* 0x30 */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,   /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3,   /* 0x50 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,   /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0,   /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,   /* 0xf0 */};

/* ------------------------------------------------------- reason phrases */

/* The IANA HTTP status code registry (RFC 9110 names), by code - 100. */
static const char *const reasons[500] = {
    [100 - 100] = "Continue",
    [101 - 100] = "Switching Protocols",
    [102 - 100] = "Processing",
    [103 - 100] = "Early Hints",
    [200 - 100] = "OK",
    [201 - 100] = "Created",
    [202 - 100] = "Accepted",
    [203 - 100] = "Non-Authoritative Information",
    [204 - 100] = "No Content",
    [205 - 100] = "Reset Content",
    [206 - 100] = "Partial Content",
    [207 - 100] = "Multi-Status",
    [208 - 100] = "Already Reported",
    [226 - 100] = "IM Used",
    [300 - 100] = "Multiple Choices",
    [301 - 100] = "Moved Permanently",
    [302 - 100] = "Found",
    [303 - 100] = "See Other",
    [304 - 100] = "Not Modified",
    [305 - 100] = "Use Proxy",
    [307 - 100] = "Temporary Redirect",
    [308 - 100] = "Permanent Redirect",
    [400 - 100] = "Bad Request",
    [401 - 100] = "Unauthorized",
    [402 - 100] = "Payment Required",
    [403 - 100] = "Forbidden",
    [404 - 100] = "Not Found",
    [405 - 100] = "Method Not Allowed",
    [406 - 100] = "Not Acceptable",
    [407 - 100] = "Proxy Authentication Required",
    [408 - 100] = "Request Timeout",
    [409 - 100] = "Conflict",
    [410 - 100] = "Gone",
    [411 - 100] = "Length Required",
    [412 - 100] = "Precondition Failed",
    [413 - 100] = "Content Too Large",
    [414 - 100] = "URI Too Long",
    [415 - 100] = "Unsupported Media Type",
    [416 - 100] = "Range Not Satisfiable",
    [417 - 100] = "Expectation Failed",
    [421 - 100] = "Misdirected Request",
    [422 - 100] = "Unprocessable Content",
    [423 - 100] = "Locked",
    [424 - 100] = "Failed Dependency",
    [425 - 100] = "Too Early",
    [426 - 100] = "Upgrade Required",
    [428 - 100] = "Precondition Required",
    [429 - 100] = "Too Many Requests",
    [431 - 100] = "Request Header Fields Too Large",
    [451 - 100] = "Unavailable For Legal Reasons",
    [500 - 100] = "Internal Server Error",
    [501 - 100] = "Not Implemented",
    [502 - 100] = "Bad Gateway",
    [503 - 100] = "Service Unavailable",
    [504 - 100] = "Gateway Timeout",
    [505 - 100] = "HTTP Version Not Supported",
    [506 - 100] = "Variant Also Negotiates",
    [507 - 100] = "Insufficient Storage",
    [508 - 100] = "Loop Detected",
    [510 - 100] = "Not Extended",
    [511 - 100] = "Network Authentication Required",
};

/* See core.h. */
WF_API const char *
wf_http_reason(int code)
{
    if (code < 100 || code > 599) {
        return NULL;
    }
    return reasons[code - 100];
}

/* ------------------------------------------------------------- verdicts */

/* See core.h. */
WF_API const char *
wf_http_verdict_text(int verdict)
{
    switch (verdict) {
    case WF_HTTP_OK:
        return "is good";
    case WF_HTTP_STATUS_FORM:
        return "want three digits, a space and a reason, like '200 OK'";
    case WF_HTTP_STATUS_INTERIM:
        return "a 1xx status is interim, never the final one (protocol "
               "upgrades are not supported)";
    case WF_HTTP_STATUS_RANGE:
        return "the code must be 200 to 599";
    case WF_HTTP_STATUS_CTL:
        return "the reason contains CR, LF or another control character";
    case WF_HTTP_NAME_EMPTY:
        return "is empty";
    case WF_HTTP_NAME_TOKEN:
        return "is not an HTTP token (no spaces, colons, CR or LF)";
    case WF_HTTP_VALUE_CTL:
        return "contains CR, LF or another control character";
    case WF_HTTP_VALUE_LENGTH:
        return "is not a Content-Length (1 to 18 decimal digits)";
    case WF_HTTP_HEADER_FRAMING:
        return "Transfer-Encoding is hop-by-hop: the server frames the body "
               "(remove the header)";
    case WF_HTTP_HEADER_LENGTH_TWICE:
        return "a second Content-Length with another value";
    }
    return "is refused";
}

/* See core.h. */
WF_API int
wf_http_status_check(const char *s, size_t len)
{
    int code;
    size_t i;

    if (len < 4 || s[3] != ' ') {
        return WF_HTTP_STATUS_FORM;
    }
    for (i = 0; i < 3; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return WF_HTTP_STATUS_FORM;
        }
    }
    code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (code < 100) {
        return WF_HTTP_STATUS_FORM;
    }
    for (i = 4; i < len; i++) {
        if (!(byte_class[(unsigned char)s[i]] & B_VALUE)) {
            return WF_HTTP_STATUS_CTL;
        }
    }
    if (code < 200) {
        /* a 1xx is sent before the final response, never instead of it:
         * a client would read what follows as the real answer */
        return WF_HTTP_STATUS_INTERIM;
    }
    if (code > 599) {
        return WF_HTTP_STATUS_RANGE;
    }
    return WF_HTTP_OK;
}

/* See core.h. */
WF_API int
wf_http_header_check(const char *name, size_t nlen, const char *val,
                     size_t vlen)
{
    size_t i;

    if (nlen == 0) {
        return WF_HTTP_NAME_EMPTY;
    }
    for (i = 0; i < nlen; i++) {
        if (!(byte_class[(unsigned char)name[i]] & B_TOKEN)) {
            return WF_HTTP_NAME_TOKEN;
        }
    }
    for (i = 0; i < vlen; i++) {
        if (!(byte_class[(unsigned char)val[i]] & B_VALUE)) {
            return WF_HTTP_VALUE_CTL;
        }
    }
    if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        if (vlen == 0 || vlen > 18) {
            return WF_HTTP_VALUE_LENGTH;
        }
        for (i = 0; i < vlen; i++) {
            if (val[i] < '0' || val[i] > '9') {
                return WF_HTTP_VALUE_LENGTH;
            }
        }
    } else if (nlen == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
        /* an app's own chunking would be chunked twice */
        return WF_HTTP_HEADER_FRAMING;
    }
    return WF_HTTP_OK;
}

/* See policy.h. */
int
wf__http_proto_ok(const char *p, size_t len)
{
    size_t i = 5, d;

    if (len < 6 || memcmp(p, "HTTP/", 5) != 0) {
        return 0;
    }
    for (d = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        d++;
    }
    if (d == 0 || d > 3) {
        return 0;
    }
    if (i == len) {
        return 1;
    }
    if (p[i++] != '.') {
        return 0;
    }
    for (d = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        d++;
    }
    return d > 0 && d <= 3 && i == len;
}

/* --------------------------------------------------------- CGI defaults */

enum {
    V_SERVER_NAME, V_SERVER_PORT, V_SCRIPT_NAME, V_PATH_INFO,
    V_QUERY_STRING, V_REQUEST_METHOD, V_SERVER_PROTOCOL, V_REMOTE_ADDR,
    V_REMOTE_PORT, V_HTTP_HOST, V_HTTPS, V_UWSGI_SCHEME, V_N
};

static const struct {
    const char *key;
    size_t klen;
} cgi_keys[V_N] = {
    [V_SERVER_NAME] = { "SERVER_NAME", 11 },
    [V_SERVER_PORT] = { "SERVER_PORT", 11 },
    [V_SCRIPT_NAME] = { "SCRIPT_NAME", 11 },
    [V_PATH_INFO] = { "PATH_INFO", 9 },
    [V_QUERY_STRING] = { "QUERY_STRING", 12 },
    [V_REQUEST_METHOD] = { "REQUEST_METHOD", 14 },
    [V_SERVER_PROTOCOL] = { "SERVER_PROTOCOL", 15 },
    [V_REMOTE_ADDR] = { "REMOTE_ADDR", 11 },
    [V_REMOTE_PORT] = { "REMOTE_PORT", 11 },
    [V_HTTP_HOST] = { "HTTP_HOST", 9 },
    [V_HTTPS] = { "HTTPS", 5 },
    [V_UWSGI_SCHEME] = { "UWSGI_SCHEME", 12 },
};

static int
add_default(struct wf__req *r, const struct wf_var *const *have, int which,
            const char *val, size_t vlen)
{
    if (have[which] != NULL) {
        return 0;
    }
    return wf__req_add_var(r, cgi_keys[which].key, cgi_keys[which].klen,
                           val, vlen);
}

/* See policy.h. */
int
wf__cgi_defaults(struct wf__req *r, const struct wf__cgi_site *site)
{
    const struct wf_var *have[V_N] = { NULL };
    const char *host_end = NULL, *hport = NULL, *name, *port;
    size_t hport_len = 0, name_len, port_len;
    unsigned i;
    int k, bad = 0;

    /* one pass: which of the variables the protocol gave (the first of a
     * name wins, as wf__req_get finds it) */
    for (i = 0; i < r->nvars; i++) {
        const struct wf_var *v = &r->vars[i];

        for (k = 0; k < V_N; k++) {
            if (v->klen == cgi_keys[k].klen && have[k] == NULL &&
                v->key[0] == cgi_keys[k].key[0] &&
                memcmp(v->key, cgi_keys[k].key, v->klen) == 0) {
                have[k] = v;
                break;
            }
        }
    }
    if (have[V_SERVER_PROTOCOL] != NULL &&
        !wf__http_proto_ok(have[V_SERVER_PROTOCOL]->val,
                           have[V_SERVER_PROTOCOL]->vlen)) {
        return -400;
    }
    if (have[V_HTTP_HOST] != NULL && have[V_HTTP_HOST]->vlen > 0) {
        /* Host is host[:port]; an IPv6 literal is in brackets */
        const char *h = have[V_HTTP_HOST]->val;
        const char *end = h + have[V_HTTP_HOST]->vlen;
        const char *colon;

        if (h[0] == '[') {
            const char *br = memchr(h, ']', (size_t)(end - h));

            host_end = br ? br + 1 : end;
        } else {
            colon = memchr(h, ':', (size_t)(end - h));
            host_end = colon ? colon : end;
        }
        if (host_end < end && *host_end == ':') {
            hport = host_end + 1;
            hport_len = (size_t)(end - hport);
        }
    }
    if (host_end != NULL && host_end > have[V_HTTP_HOST]->val) {
        name = have[V_HTTP_HOST]->val;
        name_len = (size_t)(host_end - name);
    } else {
        name = site->host;
        name_len = strlen(name);
    }
    if (site->port != NULL) {
        port = site->port;
        port_len = strlen(port);
    } else if (hport_len > 0) {
        port = hport;
        port_len = hport_len;
    } else {
        const struct wf_var *s = have[V_UWSGI_SCHEME];
        const struct wf_var *t = have[V_HTTPS];
        int https = s != NULL ? s->vlen == 5 &&
                                    strncasecmp(s->val, "https", 5) == 0
                              : t != NULL &&
                                    ((t->vlen == 2 &&
                                      strncasecmp(t->val, "on", 2) == 0) ||
                                     (t->vlen == 1 && t->val[0] == '1'));

        port = https ? "443" : "80";
        port_len = strlen(port);
    }
    bad |= add_default(r, have, V_SERVER_NAME, name, name_len);
    bad |= add_default(r, have, V_SERVER_PORT, port, port_len);
    bad |= add_default(r, have, V_SCRIPT_NAME, "", 0);
    bad |= add_default(r, have, V_PATH_INFO, "", 0);
    bad |= add_default(r, have, V_QUERY_STRING, "", 0);
    bad |= add_default(r, have, V_REQUEST_METHOD, "GET", 3);
    bad |= add_default(r, have, V_SERVER_PROTOCOL, "HTTP/1.0", 8);
    bad |= add_default(r, have, V_REMOTE_ADDR, site->raddr,
                       strlen(site->raddr));
    bad |= add_default(r, have, V_REMOTE_PORT, site->rport,
                       strlen(site->rport));
    return bad ? -431 : 0;
}

/* ---------------------------------------------------------- request line */

/* Append s[0..n) to buf at *at (room: cap - 1 - *at), control bytes as
 * '?': log lines stay one line whatever a uwsgi packet holds. */
static void
put(char *buf, size_t cap, size_t *at, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && *at + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];

        buf[(*at)++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
}

/* See policy.h. */
const char *
wf__req_line(const struct wf__req *r, char *buf, size_t len)
{
    size_t ml = 0, ul = 0, at = 0;
    const char *m, *u;

    if (len == 0) {
        return buf;
    }
    m = wf__req_get(r, "REQUEST_METHOD", &ml);
    if (m == NULL) {
        m = "-";
        ml = 1;
    }
    put(buf, len, &at, m, ml > 16 ? 16 : ml);
    put(buf, len, &at, " ", 1);
    u = wf__req_get(r, "REQUEST_URI", &ul);
    if (u != NULL) {
        put(buf, len, &at, u, ul);
    } else {
        size_t ql = 0;
        const char *q = wf__req_get(r, "QUERY_STRING", &ql);

        u = wf__req_get(r, "PATH_INFO", &ul);
        put(buf, len, &at, u ? u : "-", u ? ul : 1);
        if (q != NULL && ql > 0) {
            put(buf, len, &at, "?", 1);
            put(buf, len, &at, q, ql);
        }
    }
    buf[at] = '\0';
    return buf;
}

/* -------------------------------------- dates, validators, ranges */

static const char wdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                  "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
                                     "Jun", "Jul", "Aug", "Sep", "Oct",
                                     "Nov", "Dec" };

/* See policy.h. Fixed English names: an app's setlocale() cannot change
 * them (strftime's %a would follow LC_TIME). */
size_t
wf__http_date(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    int n;

    if (cap == 0) {
        return 0;
    }
    if (gmtime_r(&tt, &tm) == NULL) {
        out[0] = '\0';
        return 0;
    }
    n = snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int
month_of(const char *m)
{
    int i;

    for (i = 0; i < 12; i++) {
        if (memcmp(m, months[i], 3) == 0) {
            return i;
        }
    }
    return -1;
}

/* See policy.h. */
int64_t
wf__http_date_parse(const char *s, size_t len)
{
    char buf[64], wd[16], mon[4], gmt[4], end;
    int d, y, h, mi, sec, n;
    struct tm tm;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday,
     * 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"
     * (RFC 9110 5.6.7) */
    if (sscanf(buf, "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%c", wd, &d,
               mon, &y, &h, &mi, &sec, gmt, &end) == 8 &&
        strlen(wd) == 3) {
        n = 0;
    } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%c", wd,
                      &d, mon, &y, &h, &mi, &sec, gmt, &end) == 8) {
        n = 1;
        /* RFC 9110: a two-digit year more than 50 years ahead is past */
        y += y < 70 ? 2000 : 1900;
    } else if (sscanf(buf, "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d%c", wd, mon,
                      &d, &h, &mi, &sec, &y, &end) == 7) {
        n = 2;
        memcpy(gmt, "GMT", 4);
    } else {
        return -1;
    }
    (void)n;
    if (strcmp(gmt, "GMT") != 0 || month_of(mon) < 0 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60 || y < 1970 || y > 9999) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = month_of(mon);
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm);
}

/* See policy.h. */
int
wf__http_etag_listed(const char *list, size_t len, const char *etag)
{
    size_t i = 0, el = strlen(etag);

    while (i < len) {
        size_t j, k;

        while (i < len && (list[i] == ' ' || list[i] == ',' ||
                           list[i] == '\t')) {
            i++;
        }
        if (i < len && list[i] == '*') {
            return 1;
        }
        if (i + 2 <= len && list[i] == 'W' && list[i + 1] == '/') {
            i += 2;     /* weak comparison (RFC 9110 13.1.2) */
        }
        j = i;
        while (j < len && list[j] != ',') {
            j++;
        }
        k = j;
        while (k > i && (list[k - 1] == ' ' || list[k - 1] == '\t')) {
            k--;
        }
        if (k - i == el && memcmp(list + i, etag, el) == 0) {
            return 1;
        }
        i = j;
    }
    return 0;
}

/* See policy.h. */
int
wf__http_range(const char *v, size_t len, int64_t sz, int64_t *a,
               int64_t *b)
{
    char buf[128], *p, *dash, *end;
    long long x, y;

    if (len >= sizeof(buf) || len < 7 || strncasecmp(v, "bytes=", 6) != 0) {
        return 0;
    }
    memcpy(buf, v + 6, len - 6);
    buf[len - 6] = '\0';
    if (strchr(buf, ',') != NULL) {
        return 0;       /* several ranges: the whole file (RFC 9110 14.2) */
    }
    for (p = buf; *p == ' '; p++) {
    }
    dash = strchr(p, '-');
    if (dash == NULL) {
        return 0;
    }
    if (dash == p) {
        /* the last y bytes */
        if (!isdigit((unsigned char)dash[1])) {
            return 0;
        }
        y = strtoll(dash + 1, &end, 10);
        if (*end != '\0' && *end != ' ') {
            return 0;
        }
        if (y == 0 || sz == 0) {
            return -1;
        }
        *a = y >= sz ? 0 : sz - y;
        *b = sz - 1;
        return 1;
    }
    if (!isdigit((unsigned char)*p)) {
        return 0;
    }
    x = strtoll(p, &end, 10);
    if (end != dash) {
        return 0;
    }
    if (dash[1] == '\0' || dash[1] == ' ') {
        y = sz - 1;
    } else {
        if (!isdigit((unsigned char)dash[1])) {
            return 0;
        }
        y = strtoll(dash + 1, &end, 10);
        if ((*end != '\0' && *end != ' ') || y < x) {
            return 0;
        }
    }
    if (x >= sz) {
        return -1;
    }
    if (y >= sz) {
        y = sz - 1;
    }
    *a = x;
    *b = y;
    return 1;
}

/* See policy.h. */
int
wf__http_accepts(const char *v, size_t len, const char *coding)
{
    size_t cl = strlen(coding), i = 0;

    while (i < len) {
        size_t j = i, k;

        while (j < len && v[j] != ',') {
            j++;
        }
        while (i < j && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
        k = i;
        while (k < j && v[k] != ';' && v[k] != ' ' && v[k] != '\t') {
            k++;
        }
        if (k - i == cl && strncasecmp(v + i, coding, cl) == 0) {
            /* a q of 0 (0, 0.0, 0.00...) refuses it */
            const char *q = NULL;
            size_t m;

            for (m = k; m + 1 < j; m++) {
                if ((v[m] == 'q' || v[m] == 'Q') && v[m + 1] == '=') {
                    q = v + m + 2;
                    break;
                }
            }
            if (q == NULL) {
                return 1;
            }
            while (q < v + j && (*q == '0' || *q == '.')) {
                q++;
            }
            return q < v + j && *q >= '1' && *q <= '9';
        }
        i = j + 1;
    }
    return 0;
}
