/*
 * HTTP policy, decided once for every language and both protocols: the
 * CGI variables a request gets when its protocol did not give them, the
 * request line for log lines, and whether a SERVER_PROTOCOL may go into a
 * status line. Pure functions over a struct wf__req (core/proto.h): no I/O,
 * no globals, unit-tested in tests/unit/check_policy.c. The checks of
 * statuses and headers and the reason phrases are the core API
 * (wf_http_*, include/weft/core.h) and live in core/policy.c too.
 * Core internals (wf__ names), not part of the plugin API.
 */
#ifndef WEFT_CORE_POLICY_H
#define WEFT_CORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Where a request came in: what the CGI defaults are made of. Strings
 * are NUL-terminated and borrowed for the call. */
struct wf__cgi_site {
    const char *host;       /* the listener's address ("localhost" for a
                               UNIX socket) */
    const char *port;       /* the listener's port; NULL for a UNIX socket */
    const char *raddr;      /* the client's address ("unix") */
    const char *rport;      /* the client's port ("0") */
};

/*
 * Complete r's CGI variables with the ones its protocol did not give: one
 * rule for HTTP and uwsgi packets alike (docs/design.md, "Requests").
 *
 *   SERVER_NAME      Host without its port; else the listener's address
 *   SERVER_PORT      the listener's port; on a UNIX socket Host's port,
 *                    else 443 when HTTPS is on (or UWSGI_SCHEME https),
 *                    else 80
 *   SCRIPT_NAME, PATH_INFO, QUERY_STRING   ""
 *   REQUEST_METHOD   GET
 *   SERVER_PROTOCOL  HTTP/1.0
 *   REMOTE_ADDR, REMOTE_PORT   the socket's peer
 *
 * A given SERVER_PROTOCOL must pass wf__http_proto_ok(): it becomes the
 * protocol of the status line, so anything else is refused (issue 12: a
 * uwsgi packet could otherwise write headers). Returns 0, -400 for a bad
 * SERVER_PROTOCOL, or -431 when r has no room for the variables. Copies
 * into r's arena. Any context.
 */
int wf__cgi_defaults(struct wf__req *r, const struct wf__cgi_site *site);

/* 1 when p[0..len) may be the protocol of a status line: "HTTP/" then
 * 1 to 3 digits, optionally "." and 1 to 3 digits. Any context. */
int wf__http_proto_ok(const char *p, size_t len);

/* "METHOD URI" of r into buf (see wf_req_line in include/weft/core.h).
 * Returns buf. Any context. */
const char *wf__req_line(const struct wf__req *r, char *buf, size_t len);

/* The IMF-fixdate of Unix time t ("Sun, 06 Nov 1994 08:49:37 GMT", fixed
 * English names) into out; its length, or 0 when cap (30 is enough) is
 * too small. Any context. */
size_t wf__http_date(int64_t t, char *out, size_t cap);

/* An HTTP date (IMF-fixdate, RFC 850 or asctime, RFC 9110 5.6.7) of
 * s[0..len): Unix time, or -1 when it is not one. Any context. */
int64_t wf__http_date_parse(const char *s, size_t len);

/* 1 when the If-None-Match list[0..len) names etag (weak comparison) or
 * is "*", else 0. Any context. */
int wf__http_etag_listed(const char *list, size_t len, const char *etag);

/* A Range header v[0..len) for a body of sz bytes: 1 with the one range
 * [*a, *b] (inclusive, clamped to the body), -1 when it cannot be
 * satisfied (416), 0 when it is to be ignored and the whole body sent
 * (another unit, bad syntax, several ranges: RFC 9110 14.2). Any
 * context. */
int wf__http_range(const char *v, size_t len, int64_t sz, int64_t *a,
                   int64_t *b);

/* 1 when Accept-Encoding v[0..len) accepts content coding `coding` (named,
 * with no q of 0), else 0. Any context. */
int wf__http_accepts(const char *v, size_t len, const char *coding);

#endif
