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

#endif
