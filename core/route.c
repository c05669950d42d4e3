/*
 * Languages by path prefix, for HTTP: a language with mount points (the
 * CGI plugin's --cgi /cgi-bin=DIR) registers them at start-up, and an
 * HTTP request under one goes to that language instead of the default
 * one. The uwsgi protocol needs none of this: nginx sends the modifier1
 * in every packet. One decision, made once per request in
 * wf__conn_request_vars (core/conn.c).
 *
 * Also here: wf_path_resolve, the static files' path rules (core/static.c)
 * offered to plugins, so that a language that maps URLs onto files (CGI)
 * refuses the same paths as --static-map.
 */
#include "internal.h"
#include "route.h"
#include "static.h"

#include <stdlib.h>
#include <string.h>

struct route {
    char *prefix;           /* no trailing '/'; "" takes every path */
    size_t len;
    unsigned modifier1;
};

static struct route *routes;
static size_t nroutes;

WF_API int
wf_route_prefix(const char *prefix, unsigned modifier1, struct wf_err *err)
{
    size_t len = strlen(prefix);
    struct route *nr;
    size_t i;

    while (len > 0 && prefix[len - 1] == '/') {
        len--;
    }
    if (modifier1 > 255) {
        return wf_err_set(err, "route %s: modifier1 %u is over 255",
                          prefix, modifier1);
    }
    for (i = 0; i < nroutes; i++) {
        if (routes[i].len == len && memcmp(routes[i].prefix, prefix,
                                           len) == 0) {
            if (routes[i].modifier1 == modifier1) {
                return 0;
            }
            return wf_err_set(err, "path %.*s: claimed by modifier1 %u and "
                              "%u; give each language its own mount point",
                              (int)len, prefix, routes[i].modifier1,
                              modifier1);
        }
    }
    nr = realloc(routes, (nroutes + 1) * sizeof(*nr));
    if (nr == NULL) {
        return wf_err_set(err, "route %s: out of memory", prefix);
    }
    routes = nr;
    nr = &routes[nroutes];
    nr->prefix = strndup(prefix, len);
    if (nr->prefix == NULL) {
        return wf_err_set(err, "route %s: out of memory", prefix);
    }
    nr->len = len;
    nr->modifier1 = modifier1;
    nroutes++;
    return 0;
}

/* See route.h. */
unsigned
wf__route_http(const struct wf__req *r, unsigned dflt)
{
    const char *path;
    size_t plen = 0, i, best_len = 0;
    int best = -1;

    if (nroutes == 0 || dflt != 0) {
        return dflt;
    }
    path = wf__req_get(r, "PATH_INFO", &plen);
    if (path == NULL) {
        return dflt;
    }
    for (i = 0; i < nroutes; i++) {
        const struct route *rt = &routes[i];

        if (plen < rt->len || memcmp(path, rt->prefix, rt->len) != 0 ||
            (plen > rt->len && path[rt->len] != '/')) {
            continue;
        }
        if (best < 0 || rt->len > best_len) {
            best = (int)i;
            best_len = rt->len;
        }
    }
    return best >= 0 ? routes[best].modifier1 : dflt;
}

WF_API int
wf_path_resolve(const char *root, size_t rootlen, const char *rel,
                size_t rellen, char *out, size_t cap)
{
    int r = wf__static_resolve(root, rootlen, rel, rellen, out, cap);

    switch (r) {
    case -WF_STATIC_BAD:
        return -400;
    case -WF_STATIC_FORBIDDEN:
        return -403;
    case -WF_STATIC_TOO_LONG:
        return -414;
    }
    return r;
}
