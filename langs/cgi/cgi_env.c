/*
 * The script's environment (RFC 3875 section 4.1): the request's variables
 * less the ones the plugin computes, then those, then PATH and what the
 * user passes through. Nothing else of weft's own environment.
 */
#include "config.h"

#include "cgi.h"
#include "cgi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/plugin.h>

/* ---------------------------------------------------------- environment */

static int
env_add(struct cgi_envb *e, const char *k, size_t klen, const char *v,
        size_t vlen)
{
    char *s;

    if (e->n + 2 > e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 64;
        char **nv = realloc(e->v, ncap * sizeof(char *));

        if (nv == NULL) {
            return -1;
        }
        e->v = nv;
        e->cap = ncap;
    }
    s = malloc(klen + vlen + 2);
    if (s == NULL) {
        return -1;
    }
    memcpy(s, k, klen);
    s[klen] = '=';
    memcpy(s + klen + 1, v, vlen);
    s[klen + 1 + vlen] = '\0';
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

static int
env_adds(struct cgi_envb *e, const char *k, const char *v)
{
    return env_add(e, k, strlen(k), v, strlen(v));
}

void
cgi_env_free(struct cgi_envb *e)
{
    size_t i;

    for (i = 0; i < e->n; i++) {
        free(e->v[i]);
    }
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

static int
key_is(const struct wf_var *v, const char *k)
{
    return v->klen == strlen(k) && memcmp(v->key, k, v->klen) == 0;
}

/* The variables the plugin computes itself (the request's own are
 * dropped), and the httpoxy one nobody may set from a header. */
static int
computed_var(const struct wf_var *v)
{
    static const char *const names[] = {
        "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SCRIPT_NAME",
        "SCRIPT_FILENAME", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING",
        "REDIRECT_STATUS", "PATH", "HTTP_PROXY", "REMOTE_HOST", NULL
    };
    size_t i;

    for (i = 0; names[i]; i++) {
        if (key_is(v, names[i])) {
            return 1;
        }
    }
    for (i = 0; i < cgi_opt_unset.n; i++) {
        if (key_is(v, cgi_opt_unset.v[i])) {
            return 1;
        }
    }
    return 0;
}

static int
unset(const char *k)
{
    size_t i;

    for (i = 0; i < cgi_opt_unset.n; i++) {
        if (strcmp(cgi_opt_unset.v[i], k) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A name an environment can carry: no '=', no NUL, not empty. */
static int
env_safe(const char *s, size_t n, int is_key)
{
    return (!is_key || n > 0) && memchr(s, '\0', n) == NULL &&
           (!is_key || memchr(s, '=', n) == NULL);
}

/* See cgi_int.h. */
int
cgi_build_env(struct wf_core *c, const struct cgi_mount *m,
          const struct cgi_target *t, const char *redir, struct cgi_envb *e)
{
    const struct wf_var *vars = NULL;
    unsigned n = 0, i;
    size_t len;
    const char *v, *qs = NULL, *docroot;
    size_t qlen = 0, dlen;
    int bad = 0;
    ssize_t remaining = wf_body_remaining(c);

    vars = wf_req_vars(c, &n);
    for (i = 0; i < n; i++) {
        const struct wf_var *x = &vars[i];

        if (computed_var(x) || !env_safe(x->key, x->klen, 1) ||
            !env_safe(x->val, x->vlen, 0)) {
            continue;
        }
        if (redir != NULL && (key_is(x, "REQUEST_METHOD") ||
                              key_is(x, "REQUEST_URI") ||
                              key_is(x, "CONTENT_LENGTH") ||
                              key_is(x, "CONTENT_TYPE"))) {
            continue;
        }
        /* a chunked body has no length to tell: the script reads to EOF */
        if (key_is(x, "CONTENT_LENGTH") && remaining < 0) {
            continue;
        }
        bad |= env_add(e, x->key, x->klen, x->val, x->vlen);
    }
    if (redir != NULL) {
        const char *q = strchr(redir, '?');

        bad |= env_adds(e, "REQUEST_METHOD", "GET");
        bad |= env_adds(e, "REQUEST_URI", redir);
        bad |= env_adds(e, "REDIRECT_STATUS", "200");
        v = wf_req_get(c, "REQUEST_URI", &len);
        if (v && !unset("REDIRECT_URL")) {
            bad |= env_add(e, "REDIRECT_URL", 12, v, len);
        }
        if (q != NULL) {
            qs = q + 1;
            qlen = strlen(qs);
        } else {
            qs = "";
        }
    } else {
        qs = wf_req_get(c, "QUERY_STRING", &qlen);
        if (!unset("REDIRECT_STATUS")) {
            bad |= env_adds(e, "REDIRECT_STATUS", "200");  /* php-cgi */
        }
    }
    if (!unset("QUERY_STRING")) {
        bad |= env_add(e, "QUERY_STRING", 12, qs ? qs : "", qs ? qlen : 0);
    }
    bad |= env_adds(e, "GATEWAY_INTERFACE", "CGI/1.1");
    bad |= env_adds(e, "SERVER_SOFTWARE", cgi_software);
    if (!unset("SCRIPT_NAME")) {
        bad |= env_adds(e, "SCRIPT_NAME", t->script_name);
    }
    if (!unset("SCRIPT_FILENAME")) {
        bad |= env_adds(e, "SCRIPT_FILENAME", t->file);
    }
    docroot = wf_req_get(c, "DOCUMENT_ROOT", &dlen);
    if (docroot == NULL || dlen == 0) {
        docroot = m->is_file ? m->real : m->real;
        dlen = strlen(docroot);
        if (m->is_file) {
            /* a script mount: its directory is the root */
            const char *sl = strrchr(docroot, '/');

            dlen = sl && sl != docroot ? (size_t)(sl - docroot) : 1;
        }
        if (!unset("DOCUMENT_ROOT")) {
            bad |= env_add(e, "DOCUMENT_ROOT", 13, docroot, dlen);
        }
    }
    if (t->path_info_len > 0) {
        if (!unset("PATH_INFO")) {
            bad |= env_add(e, "PATH_INFO", 9, t->path_info,
                           t->path_info_len);
        }
        if (!unset("PATH_TRANSLATED")) {
            char *pt = malloc(dlen + t->path_info_len + 1);

            if (pt == NULL) {
                return -1;
            }
            memcpy(pt, docroot, dlen);
            memcpy(pt + dlen, t->path_info, t->path_info_len);
            bad |= env_add(e, "PATH_TRANSLATED", 15, pt,
                           dlen + t->path_info_len);
            free(pt);
        }
    }
    v = wf_req_get(c, "REMOTE_ADDR", &len);
    if (v != NULL && !unset("REMOTE_HOST")) {
        /* no reverse lookup: RFC 3875 4.1.9 allows the address */
        bad |= env_add(e, "REMOTE_HOST", 11, v, len);
    }
    bad |= env_adds(e, "PATH", cgi_path_env + 5);
    for (i = 0; i < cgi_npass; i++) {
        const char *eq = strchr(cgi_pass_env[i], '=');

        bad |= env_add(e, cgi_pass_env[i], (size_t)(eq - cgi_pass_env[i]),
                       eq + 1, strlen(eq + 1));
    }
    return bad ? -1 : 0;
}

