/*
 * The CGI plugin's pure parts: mount points, the path walk, the response
 * head parser, the indexed-query words. See cgi.h for each contract; the
 * unit tests are tests/unit/check_cgi.c.
 */
#include "config.h"

#include "cgi.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- mounts */

int
cgi_mount_parse(const char *value, struct cgi_mount *m, const char **why)
{
    const char *eq = strchr(value, '=');
    const char *p, *path;
    size_t plen;

    memset(m, 0, sizeof(*m));
    if (eq == NULL) {
        p = "";
        plen = 0;
        path = value;
        m->is_default = 1;
    } else {
        p = value;
        plen = (size_t)(eq - value);
        path = eq + 1;
    }
    if (*path == '\0') {
        *why = "no directory or script after the mount point";
        return -1;
    }
    while (plen > 0 && p[plen - 1] == '/') {
        plen--;
    }
    m->prefix = malloc(plen + 2);
    m->path = strdup(path);
    if (m->prefix == NULL || m->path == NULL) {
        free(m->prefix);
        free(m->path);
        *why = "out of memory";
        return -1;
    }
    m->plen = 0;
    if (plen > 0 && p[0] != '/') {
        m->prefix[m->plen++] = '/';
    }
    memcpy(m->prefix + m->plen, p, plen);
    m->plen += plen;
    m->prefix[m->plen] = '\0';
    return 0;
}

int
cgi_mount_match(const struct cgi_mount *mounts, size_t n, const char *path,
                size_t len)
{
    int best = -1, dflt = -1;
    size_t i, best_len = 0;

    for (i = 0; i < n; i++) {
        const struct cgi_mount *m = &mounts[i];

        if (m->is_default) {
            if (dflt < 0) {
                dflt = (int)i;
            }
            continue;
        }
        if (len < m->plen || memcmp(path, m->prefix, m->plen) != 0 ||
            (len > m->plen && path[m->plen] != '/')) {
            continue;
        }
        if (best < 0 || m->plen > best_len) {
            best = (int)i;
            best_len = m->plen;
        }
    }
    return best >= 0 ? best : dflt;
}

/* ------------------------------------------------------------------ walk */

/* a is b, or under it (b is a real path without a trailing '/'). */
static int
path_under(const char *a, const char *b, size_t blen)
{
    if (blen == 1 && b[0] == '/') {
        return a[0] == '/';
    }
    return strncmp(a, b, blen) == 0 && (a[blen] == '/' || a[blen] == '\0');
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Append "/" + seg[0..n) to buf (of len *blen, room cap). 0 or -1. */
static int
append_seg(char *buf, size_t *blen, size_t cap, const char *seg, size_t n)
{
    if (*blen + 1 + n + 1 > cap) {
        return -1;
    }
    buf[(*blen)++] = '/';
    memcpy(buf + *blen, seg, n);
    *blen += n;
    buf[*blen] = '\0';
    return 0;
}

/* The checks on a script found at fs path `file` (as walked). */
static enum cgi_walk_result
check_script(const struct cgi_mount *m, const char *file,
             const struct cgi_walk_opts *o, struct cgi_target *t)
{
    char real[PATH_MAX];
    size_t i;
    int ok = 0;

    if (realpath(file, real) == NULL) {
        return CGI_WALK_NOT_FOUND;
    }
    if (!m->is_file) {
        ok = path_under(real, m->real, m->rlen);
        for (i = 0; !ok && i < o->nsafe; i++) {
            size_t sl = strlen(o->safe[i]);

            while (sl > 1 && o->safe[i][sl - 1] == '/') {
                sl--;
            }
            ok = path_under(real, o->safe[i], sl);
        }
        if (!ok) {
            return CGI_WALK_FORBIDDEN;
        }
    }
    if (o->nallowed > 0) {
        ok = 0;
        for (i = 0; !ok && i < o->nallowed; i++) {
            ok = ends_with(real, o->allowed_ext[i]);
        }
        if (!ok) {
            return CGI_WALK_FORBIDDEN;
        }
    }
    if (!(o->has_helper && o->has_helper(real, o->helper_arg)) &&
        access(real, X_OK) != 0) {
        return CGI_WALK_FORBIDDEN;
    }
    if (strlen(real) >= sizeof(t->file)) {
        return CGI_WALK_TOO_LONG;
    }
    strcpy(t->file, real);
    return CGI_WALK_SCRIPT;
}

enum cgi_walk_result
cgi_walk(const struct cgi_mount *m, const char *path, size_t len,
         const struct cgi_walk_opts *o, struct cgi_target *t)
{
    const char *rest = path + m->plen, *end = path + len, *p;
    char fs[PATH_MAX];
    size_t flen, slen;
    struct stat st;

    if (m->is_default) {
        rest = path;
    }
    t->path_info = NULL;
    t->path_info_len = 0;
    t->file[0] = '\0';
    /* a ".." segment anywhere (the core decoded %2e%2e already) */
    for (p = rest; p < end; ) {
        const char *s = p, *e;

        while (s < end && *s == '/') {
            s++;
        }
        e = memchr(s, '/', (size_t)(end - s));
        e = e ? e : end;
        if (e - s == 2 && s[0] == '.' && s[1] == '.') {
            return CGI_WALK_FORBIDDEN;
        }
        p = e;
    }
    slen = m->is_default ? 0 : m->plen;
    if (slen >= sizeof(t->script_name)) {
        return CGI_WALK_TOO_LONG;
    }
    memcpy(t->script_name, m->prefix, slen);
    t->script_name[slen] = '\0';
    if (m->is_file) {
        if (rest < end) {
            if (o->no_path_info) {
                return CGI_WALK_NOT_FOUND;
            }
            t->path_info = rest;
            t->path_info_len = (size_t)(end - rest);
        }
        return check_script(m, m->real, o, t);
    }
    if (m->rlen >= sizeof(fs)) {
        return CGI_WALK_TOO_LONG;
    }
    memcpy(fs, m->real, m->rlen + 1);
    flen = m->rlen;
    if (flen == 1) {
        flen = 0;   /* the root: segments add their own '/' */
    }
    for (p = rest; p < end; ) {
        const char *s = p, *e;

        while (s < end && *s == '/') {
            s++;
        }
        if (s == end) {
            break;
        }
        e = memchr(s, '/', (size_t)(end - s));
        e = e ? e : end;
        p = e;
        if (e - s == 1 && s[0] == '.') {
            continue;
        }
        if (append_seg(fs, &flen, sizeof(fs), s, (size_t)(e - s)) < 0 ||
            append_seg(t->script_name, &slen, sizeof(t->script_name), s,
                       (size_t)(e - s)) < 0) {
            return CGI_WALK_TOO_LONG;
        }
        if (stat(fs, &st) != 0) {
            return errno == ENAMETOOLONG ? CGI_WALK_TOO_LONG
                                         : CGI_WALK_NOT_FOUND;
        }
        if (S_ISDIR(st.st_mode)) {
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            return CGI_WALK_FORBIDDEN;
        }
        if (e < end) {
            if (o->no_path_info) {
                return CGI_WALK_NOT_FOUND;
            }
            t->path_info = e;
            t->path_info_len = (size_t)(end - e);
        }
        return check_script(m, fs, o, t);
    }
    /* the whole path is a directory */
    if (len == 0 || path[len - 1] != '/') {
        return CGI_WALK_REDIRECT_SLASH;
    }
    {
        size_t i, base = flen, sbase = slen;

        for (i = 0; i < o->nindex; i++) {
            size_t n = strlen(o->index[i]);

            flen = base;
            slen = sbase;
            if (append_seg(fs, &flen, sizeof(fs), o->index[i], n) < 0 ||
                append_seg(t->script_name, &slen, sizeof(t->script_name),
                           o->index[i], n) < 0) {
                return CGI_WALK_TOO_LONG;
            }
            if (stat(fs, &st) == 0 && S_ISREG(st.st_mode)) {
                return check_script(m, fs, o, t);
            }
        }
    }
    return CGI_WALK_NOT_FOUND;
}

/* ------------------------------------------------------------------ head */

ssize_t
cgi_head_end(const char *buf, size_t len)
{
    size_t i, ls = 0;

    for (i = 0; i < len && i < CGI_HEAD_MAX; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (i == ls || (i == ls + 1 && buf[ls] == '\r')) {
            return (ssize_t)(i + 1);
        }
        ls = i + 1;
    }
    return len >= CGI_HEAD_MAX ? -1 : 0;
}

static int
is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int
name_is(const struct cgi_header *h, const char *name)
{
    return h->nlen == strlen(name) && strncasecmp(h->name, name, h->nlen) == 0;
}

static int
hop_by_hop(const struct cgi_header *h)
{
    static const char *const names[] = {
        "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer",
        "Upgrade", "Proxy-Connection", NULL
    };
    size_t i;

    for (i = 0; names[i]; i++) {
        if (name_is(h, names[i])) {
            return 1;
        }
    }
    return 0;
}

static int
parse_status(const char *v, size_t n, struct cgi_head *out)
{
    int code;

    if (n < 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' ||
        v[2] < '0' || v[2] > '9' || (n > 3 && v[3] != ' ')) {
        return -1;
    }
    code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    out->status_line[0] = '\0';
    if (n > 4) {
        if (n >= sizeof(out->status_line)) {
            return -1;
        }
        memcpy(out->status_line, v, n);
        out->status_line[n] = '\0';
    }
    out->status = code;
    return 0;
}

int
cgi_head_parse(const char *buf, size_t len, struct cgi_head *out,
               const char **why)
{
    const char *p = buf, *end = buf + len;

    out->status = 0;
    out->status_line[0] = '\0';
    out->location = NULL;
    out->location_len = 0;
    out->nh = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le, *colon, *v, *ve, *q;
        struct cgi_header h;

        if (nl == NULL) {
            *why = "the head does not end with an empty line";
            return -1;
        }
        le = nl;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        if (le == p) {
            return 0;           /* the empty line */
        }
        if (*p == ' ' || *p == '\t') {
            *why = "a folded header line";
            return -1;
        }
        colon = memchr(p, ':', (size_t)(le - p));
        if (colon == NULL) {
            *why = "a header line without a colon";
            return -1;
        }
        if (colon == p) {
            *why = "a header without a name";
            return -1;
        }
        for (q = p; q < colon; q++) {
            if (!is_tchar((unsigned char)*q)) {
                *why = "a header name with a character not allowed in it";
                return -1;
            }
        }
        v = colon + 1;
        ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        for (q = v; q < ve; q++) {
            unsigned char ch = (unsigned char)*q;

            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                *why = "a control character in a header value";
                return -1;
            }
        }
        h.name = p;
        h.nlen = (size_t)(colon - p);
        h.val = v;
        h.vlen = (size_t)(ve - v);
        p = nl + 1;
        if (name_is(&h, "Status")) {
            if (parse_status(h.val, h.vlen, out) < 0) {
                *why = "a Status that is not \"NNN reason\" with NNN in "
                       "100..599";
                return -1;
            }
            continue;
        }
        if (name_is(&h, "Location")) {
            if (h.vlen == 0) {
                *why = "an empty Location";
                return -1;
            }
            out->location = h.val;
            out->location_len = h.vlen;
            continue;
        }
        if (name_is(&h, "Content-Length")) {
            size_t i;

            if (h.vlen == 0 || h.vlen > 18) {
                *why = "a Content-Length that is not a number";
                return -1;
            }
            for (i = 0; i < h.vlen; i++) {
                if (h.val[i] < '0' || h.val[i] > '9') {
                    *why = "a Content-Length that is not a number";
                    return -1;
                }
            }
        }
        if (hop_by_hop(&h)) {
            continue;
        }
        if (out->nh == CGI_MAX_HEADERS) {
            *why = "too many headers";
            return -1;
        }
        out->h[out->nh++] = h;
    }
    *why = "the head does not end with an empty line";
    return -1;
}

/* ----------------------------------------------------------------- query */

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t
cgi_query_args(const char *q, size_t qlen, char *out)
{
    size_t i, n = 0, o = 0;

    if (qlen == 0 || memchr(q, '=', qlen) != NULL) {
        return 0;
    }
    for (i = 0; i <= qlen; i++) {
        if (i == qlen || q[i] == '+') {
            out[o++] = '\0';
            n++;
            continue;
        }
        if (q[i] == '%' && i + 2 < qlen &&
            hexval((unsigned char)q[i + 1]) >= 0 &&
            hexval((unsigned char)q[i + 2]) >= 0) {
            int ch = hexval((unsigned char)q[i + 1]) * 16 +
                     hexval((unsigned char)q[i + 2]);

            if (ch == 0) {
                return 0;
            }
            out[o++] = (char)ch;
            i += 2;
            continue;
        }
        out[o++] = q[i];
    }
    return n;
}
