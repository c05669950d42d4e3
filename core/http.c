/*
 * The HTTP/1.0 and 1.1 request head parser (RFC 9112 sections 2 to 7).
 *
 * The caller reads into one buffer and calls wf__http_parse_more() each
 * time more bytes arrive, with a struct wf__http_scan that remembers how
 * far the previous calls looked: the end of the head is searched for with
 * memchr() from where the last search stopped (a head read a byte at a
 * time costs linear time, not quadratic), and nothing is stored until it
 * is there. Then one pass over the lines fills the
 * request. Strings that are verbatim in the input are not copied; the
 * arena only receives HTTP_* names, a percent-decoded PATH_INFO and
 * merged duplicate headers.
 *
 * Leniency, like nginx: lines may end in a bare LF, and empty lines
 * before the request line are skipped (RFC 9112 2.2). Strictness, against
 * request smuggling and header spoofing: obs-fold, whitespace before the
 * colon, bare CR, two different Content-Lengths, Content-Length with
 * chunked, Transfer-Encoding in HTTP/1.0 and a second Host are all 400.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <string.h>

#include "proto.h"

/* tchar of RFC 9110 5.6.2: the bytes of a method and of a header name.
 * '_' is 2 so that the name scan notes it on the way. */
static const unsigned char http_tchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 2,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* A header name byte as it appears in an HTTP_* variable name: ASCII
 * upper case, '-' -> '_'. Generated at compile time, 256 entries. */
#define HTTP_CGI(c) ((c) >= 'a' && (c) <= 'z' ? (c) - 32 \
                     : (c) == '-' ? '_' : (c))
#define HTTP_CGI4(c) HTTP_CGI(c), HTTP_CGI((c) + 1), HTTP_CGI((c) + 2), \
                     HTTP_CGI((c) + 3)
#define HTTP_CGI16(c) HTTP_CGI4(c), HTTP_CGI4((c) + 4), HTTP_CGI4((c) + 8), \
                      HTTP_CGI4((c) + 12)
#define HTTP_CGI64(c) HTTP_CGI16(c), HTTP_CGI16((c) + 16), \
                      HTTP_CGI16((c) + 32), HTTP_CGI16((c) + 48)
static const unsigned char http_cgi[256] = {
    HTTP_CGI64(0), HTTP_CGI64(64), HTTP_CGI64(128), HTTP_CGI64(192)
};

/* The bytes of a request-target: visible ASCII, and obs-text (raw UTF-8,
 * which real clients send and nginx accepts). No controls, no space. */
static const unsigned char http_uchar[256] = {
    [0x21 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/* The bytes of a field value (RFC 9110 5.5): VCHAR, SP, HTAB, obs-text.
 * A bare CR, a NUL or another control is refused. */
static const unsigned char http_vchar[256] = {
    ['\t'] = 1, [0x20 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/*
 * 1 when every byte of p[0..n) may be in a field value (http_vchar).
 * Eight bytes at a time: the word tests below are exact about whether a
 * word holds a byte < 0x20 or a 0x7f (a borrow only crosses from a byte
 * that is itself < 0x20), so only a word with a control byte, usually a
 * tab, is looked at byte by byte.
 */
static int
http_value_ok(const char *p, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t highs = UINT64_C(0x8080808080808080);
    uint64_t x, y;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        y = x ^ (ones * 0x7f);
        if ((((x - ones * 0x20) & ~x) | ((y - ones) & ~y)) & highs) {
            break;
        }
    }
    for (; i < n; i++) {
        if (!http_vchar[(unsigned char) p[i]]) {
            return 0;
        }
    }
    return 1;
}

static inline unsigned char
http_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + 32) : c;
}

/* 1 when s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static int
http_ieq(const char *s, size_t n, const char *lit, size_t litlen)
{
    size_t i;

    if (n != litlen) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (http_lower((unsigned char) s[i]) != (unsigned char) lit[i]) {
            return 0;
        }
    }
    return 1;
}

#define HTTP_IEQ(s, n, lit) http_ieq((s), (n), lit, sizeof(lit) - 1)

static inline int
http_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = http_lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/*
 * The next element of a comma-separated list (RFC 9110 5.6.1) in
 * [*pp, end): *tok / *toklen receive it with OWS trimmed (maybe empty).
 * Returns 0 when the list is over.
 */
static int
http_list_next(const char **pp, const char *end, const char **tok,
               size_t *toklen)
{
    const char *p = *pp, *e;

    if (p > end) {
        return 0;
    }
    e = memchr(p, ',', (size_t) (end - p));
    *pp = e != NULL ? e + 1 : end + 1;
    if (e == NULL) {
        e = end;
    }
    while (p < e && (*p == ' ' || *p == '\t')) {
        p++;
    }
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    *tok = p;
    *toklen = (size_t) (e - p);
    return 1;
}

/*
 * Find the end of the head in [p, end): the byte after the first empty
 * line ("\r\n" or "\n" right after a "\n"). NULL when it is not there yet.
 */
static const char *
http_head_end(const char *p, const char *end)
{
    const char *nl;

    while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        p = nl + 1;
        if (p < end && *p == '\n') {
            return p + 1;
        }
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            return p + 2;
        }
    }
    return NULL;
}

struct http_reqline {
    const char *method, *target, *proto;
    size_t mlen, tlen, plen;
    unsigned minor;
};

/*
 * "METHOD SP request-target SP HTTP/1.x" in p[0..n) (no line end).
 * Returns 0, -400 malformed, or -505 a version other than 1.x.
 */
static int
http_request_line(const char *p, size_t n, struct http_reqline *rl)
{
    size_t i = 0, t;

    while (i < n && http_tchar[(unsigned char) p[i]]) {
        i++;
    }
    if (i == 0 || i == n || p[i] != ' ') {
        return -400;
    }
    rl->method = p;
    rl->mlen = i;

    t = ++i;
    while (i < n && http_uchar[(unsigned char) p[i]]) {
        i++;
    }
    if (i == t || i == n || p[i] != ' ') {
        return -400;
    }
    rl->target = p + t;
    rl->tlen = i - t;

    /* HTTP-version is case-sensitive, one digit each side (RFC 9112 2.3). */
    rl->proto = p + i + 1;
    rl->plen = n - i - 1;
    if (rl->plen != 8 || memcmp(rl->proto, "HTTP/", 5) != 0
        || rl->proto[5] < '0' || rl->proto[5] > '9' || rl->proto[6] != '.'
        || rl->proto[7] < '0' || rl->proto[7] > '9') {
        return -400;
    }
    if (rl->proto[5] != '1') {
        return -505;
    }
    rl->minor = (unsigned) (rl->proto[7] - '0');

    /* origin-form, absolute-form, or asterisk-form with OPTIONS. */
    if (rl->target[0] == '/') {
        return 0;
    }
    if (rl->tlen == 1 && rl->target[0] == '*') {
        return (rl->mlen == 7 && memcmp(rl->method, "OPTIONS", 7) == 0)
               ? 0 : -400;
    }
    if ((rl->tlen > 7 && HTTP_IEQ(rl->target, 7, "http://"))
        || (rl->tlen > 8 && HTTP_IEQ(rl->target, 8, "https://"))) {
        return 0;
    }
    return -400;
}

/*
 * The head is not complete yet. Refuse what can already be refused (a
 * client speaking TLS or garbage need not wait for the timeout); otherwise
 * return 0. sc remembers how far earlier calls looked, so that a head
 * arriving a few bytes at a time is not scanned again from its start.
 */
static int
http_check_partial(const char *p, const char *end, struct wf__http_scan *sc,
                   const char *buf)
{
    const char *from = buf + sc->nl_off, *nl;
    struct http_reqline rl;
    size_t i, n;
    int rc;

    if (sc->line_ok) {
        return 0;
    }
    if (from < p) {
        from = p;
    }
    nl = memchr(from, '\n', (size_t) (end - from));
    if (nl != NULL) {
        n = (size_t) (nl - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        rc = http_request_line(p, n, &rl);
        sc->line_ok = rc == 0;
        return rc;
    }
    sc->nl_off = (size_t) (end - buf);
    n = (size_t) (end - p);
    i = sc->tok_len;
    while (i < n && http_tchar[(unsigned char) p[i]]) {
        i++;
    }
    sc->tok_len = i;
    /* Not a token, or the method not followed by SP: no later byte can
     * make this a request line. */
    if (i < n && (i == 0 || p[i] != ' ')) {
        return -400;
    }
    return 0;
}

/*
 * Percent-decode the path s[0..n) into PATH_INFO. Without a '%' the value
 * stays in the input buffer. Returns 0, -400 for a bad escape or a decoded
 * NUL, or -431 when the arena is full.
 */
static int
http_path_info(struct wf__req *r, const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n), *end = s + n;
    char *d, *o;
    int hi, lo;

    if (pct == NULL) {
        return wf__req_put_var(r, "PATH_INFO", 9, s, n);
    }
    d = wf__req_alloc(r, n);
    if (d == NULL) {
        return -431;
    }
    o = d;
    memcpy(o, s, (size_t) (pct - s));
    o += pct - s;
    for (s = pct; s < end; s++) {
        if (*s != '%') {
            *o++ = *s;
            continue;
        }
        if (end - s < 3) {
            return -400;
        }
        hi = http_hex((unsigned char) s[1]);
        lo = http_hex((unsigned char) s[2]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            return -400;
        }
        *o++ = (char) (hi << 4 | lo);
        s += 2;
    }
    /* Give back what the decoding saved: this was the last allocation. */
    r->arena_len -= n - (size_t) (o - d);
    return wf__req_put_var(r, "PATH_INFO", 9, d, (size_t) (o - d));
}

/*
 * The variables of the request line. Returns 0, -400 or -431.
 * *authority receives the host of an absolute-form target, or NULL.
 */
static int
http_request_vars(struct wf__req *r, const struct http_reqline *rl,
                  const char **authority, size_t *alen)
{
    const char *t = rl->target, *tend = t + rl->tlen, *path, *q, *a;
    size_t plen;
    int rc;

    *authority = NULL;
    *alen = 0;
    if (wf__req_put_var(r, "REQUEST_METHOD", 14, rl->method, rl->mlen) != 0
        || wf__req_put_var(r, "REQUEST_URI", 11, t, rl->tlen) != 0) {
        return -431;
    }

    q = memchr(t, '?', rl->tlen);
    path = t;
    plen = (size_t) ((q != NULL ? q : tend) - t);
    if (t[0] != '/' && t[0] != '*') {
        /* absolute-form: scheme "://" authority [path] */
        a = (const char *) memchr(t, ':', rl->tlen) + 3;
        path = a;
        while (path < t + plen && *path != '/') {
            path++;
        }
        if (path == a || memchr(a, '@', (size_t) (path - a)) != NULL) {
            return -400;    /* no host, or userinfo (RFC 9110 4.2.4) */
        }
        *authority = a;
        *alen = (size_t) (path - a);
        plen -= (size_t) (path - t);
        if (plen == 0) {
            path = "/";
            plen = 1;
        }
    }
    rc = http_path_info(r, path, plen);
    if (rc != 0) {
        return rc;
    }
    if (q != NULL) {
        rc = wf__req_put_var(r, "QUERY_STRING", 12, q + 1,
                             (size_t) (tend - q - 1));
    } else {
        rc = wf__req_put_var(r, "QUERY_STRING", 12, "", 0);
    }
    if (rc != 0) {
        return rc;
    }
    /* A later 1.x is answered as 1.1 (RFC 9110 6.2). */
    if (rl->minor > 1) {
        return wf__req_put_var(r, "SERVER_PROTOCOL", 15, "HTTP/1.1", 8);
    }
    return wf__req_put_var(r, "SERVER_PROTOCOL", 15, rl->proto, rl->plen);
}

/* 1 when the variable v is HTTP_<name> (name as on the wire). */
static int
http_var_is(const struct wf_var *v, const char *name, size_t nlen)
{
    size_t i;

    if (v->klen != nlen + 5 || memcmp(v->key, "HTTP_", 5) != 0) {
        return 0;
    }
    for (i = 0; i < nlen; i++) {
        if ((unsigned char) v->key[5 + i]
            != http_cgi[(unsigned char) name[i]]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Append val to the variable v after sep. When v's value is the last
 * thing in the arena it grows in place, so many repeats of one header cost
 * linear arena space. Returns 0 or -431.
 */
static int
http_merge(struct wf__req *r, struct wf_var *v, const char *sep,
           size_t seplen, const char *val, size_t vlen)
{
    size_t n = (size_t) v->vlen + seplen + vlen;
    uintptr_t vp = (uintptr_t) v->val, ap = (uintptr_t) r->arena;
    char *d;

    if (n > UINT16_MAX) {
        return -431;
    }
    if (r->arena_len > 0 && vp >= ap && vp < ap + r->arena_len
        && vp + v->vlen == ap + r->arena_len) {
        d = wf__req_alloc(r, seplen + vlen);
        if (d == NULL) {
            return -431;
        }
        memcpy(d, sep, seplen);
        memcpy(d + seplen, val, vlen);
    } else {
        d = wf__req_alloc(r, n);
        if (d == NULL) {
            return -431;
        }
        memcpy(d, v->val, v->vlen);
        memcpy(d + v->vlen, sep, seplen);
        memcpy(d + v->vlen + seplen, val, vlen);
        v->val = d;
    }
    v->vlen = (uint16_t) n;
    return 0;
}

struct http_hdrs {
    unsigned first;         /* index of the first header variable */
    uint64_t seen;          /* one bit per stored name's hash: a filter */
    unsigned te : 1, conn_close : 1, conn_keep : 1, expect : 1, host : 1;
};

/*
 * Store header name: val as a variable: key (klen) when given (CONTENT_TYPE),
 * else HTTP_<NAME> built in the arena. A repeated header is merged into
 * the first one with sep; bit is the name's bit in hs->seen. Returns 0
 * or -431.
 */
static int
http_store(struct wf__req *r, struct http_hdrs *hs, uint64_t bit,
           const char *name, size_t nlen, const char *key, size_t klen,
           const char *sep, const char *val, size_t vlen)
{
    unsigned i;
    char *k;

    /* Only a name whose bit is set may have been stored before. */
    for (i = (hs->seen & bit) ? hs->first : r->nvars; i < r->nvars; i++) {
        struct wf_var *v = &r->vars[i];

        if (key != NULL ? (v->klen == klen && memcmp(v->key, key, klen) == 0)
                        : http_var_is(v, name, nlen)) {
            return http_merge(r, v, sep, strlen(sep), val, vlen);
        }
    }
    hs->seen |= bit;
    if (key == NULL) {
        if (r->nvars >= r->max_vars) {
            return -431;    /* before spending the arena */
        }
        k = wf__req_alloc(r, nlen + 5);
        if (k == NULL) {
            return -431;
        }
        memcpy(k, "HTTP_", 5);
        for (i = 0; i < nlen; i++) {
            k[5 + i] = (char) http_cgi[(unsigned char) name[i]];
        }
        key = k;
        klen = nlen + 5;
    }
    return wf__req_put_var(r, key, klen, val, vlen);
}

/* Content-Length: 1*DIGIT, no sign, no list. Returns it, or -1. */
static int64_t
http_content_length(const char *s, size_t n)
{
    int64_t v = 0;
    size_t i;

    if (n == 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (v > (INT64_MAX - (s[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}


/*
 * One header line h[0..n) (no line end). Returns 0, -400, -431 or -501.
 */
static int
http_header(struct wf__req *r, struct http_hdrs *hs, const char *h, size_t n)
{
    const char *val, *vend, *tok, *lp;
    size_t i = 0, vlen, toklen;
    unsigned t, seen = 0;
    int64_t cl;
    uint64_t bit;

    while (i < n && (t = http_tchar[(unsigned char) h[i]]) != 0) {
        seen |= t;
        i++;
    }
    /* No name (obs-fold or whitespace before the first header, RFC 9112
     * 5.2 and 2.2), no colon, or whitespace before the colon (5.1). */
    if (i == 0 || i == n || h[i] != ':') {
        return -400;
    }
    /* The name's bit in hs->seen, from its length and its first and last
     * letters, case-folded: a collision only costs a search. */
    bit = UINT64_C(1) << ((i * 7 + ((unsigned char) h[0] | 0x20) * 3
                           + ((unsigned char) h[i - 1] | 0x20)) & 63);
    val = h + i + 1;
    vend = h + n;
    while (val < vend && (*val == ' ' || *val == '\t')) {
        val++;
    }
    while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t')) {
        vend--;
    }
    vlen = (size_t) (vend - val);
    if (!http_value_ok(val, vlen)) {
        return -400;
    }
    /* X_Forwarded_For would become the same variable as X-Forwarded-For:
     * drop it, like nginx (underscores_in_headers off) and httpd 2.4. */
    if (seen & 2) {
        return 0;
    }

    switch (i) {
    case 4:
        if (HTTP_IEQ(h, i, "host")) {
            if (hs->host) {
                return -400;    /* RFC 9112 3.2 */
            }
            hs->host = 1;
        }
        break;
    case 5:
        /* httpoxy (CVE-2016-5385): HTTP_PROXY would be read as a proxy
         * setting by the app's HTTP clients. */
        if (HTTP_IEQ(h, i, "proxy")) {
            return 0;
        }
        break;
    case 6:
        if (HTTP_IEQ(h, i, "cookie")) {
            return http_store(r, hs, bit, h, i, NULL, 0, "; ", val, vlen);
        }
        if (HTTP_IEQ(h, i, "expect") && HTTP_IEQ(val, vlen, "100-continue")) {
            hs->expect = 1;
        }
        break;
    case 10:
        if (HTTP_IEQ(h, i, "connection")) {
            lp = val;
            while (http_list_next(&lp, vend, &tok, &toklen)) {
                if (HTTP_IEQ(tok, toklen, "close")) {
                    hs->conn_close = 1;
                } else if (HTTP_IEQ(tok, toklen, "keep-alive")) {
                    hs->conn_keep = 1;
                }
            }
        }
        break;
    case 12:
        if (HTTP_IEQ(h, i, "content-type")) {
            return http_store(r, hs, bit, h, i, "CONTENT_TYPE", 12, ", ",
                              val, vlen);
        }
        break;
    case 14:
        if (HTTP_IEQ(h, i, "content-length")) {
            cl = http_content_length(val, vlen);
            if (cl < 0) {
                return -400;
            }
            if (r->content_length >= 0) {
                /* a repeat is harmless only when it says the same */
                return cl == r->content_length ? 0 : -400;
            }
            r->content_length = cl;
            return wf__req_put_var(r, "CONTENT_LENGTH", 14, val, vlen);
        }
        break;
    case 17:
        if (HTTP_IEQ(h, i, "transfer-encoding")) {
            if (r->http_minor == 0) {
                return -400;    /* RFC 9112 6.1: 1.0 has no TE */
            }
            hs->te = 1;
            lp = val;
            while (http_list_next(&lp, vend, &tok, &toklen)) {
                if (toklen == 0) {
                    continue;   /* empty list element */
                }
                if (!HTTP_IEQ(tok, toklen, "chunked")) {
                    return -501;    /* gzip, deflate...: not decoded */
                }
                if (r->chunked) {
                    return -400;    /* chunked twice */
                }
                r->chunked = 1;
            }
        }
        break;
    }
    return http_store(r, hs, bit, h, i, NULL, 0, ", ", val, vlen);
}

/* See proto.h. */
void
wf__http_scan_init(struct wf__http_scan *sc)
{
    memset(sc, 0, sizeof(*sc));
}

/* See proto.h: the stateless form. */
int
wf__http_parse(const char *buf, size_t len, size_t max_head,
               struct wf__req *r)
{
    struct wf__http_scan sc = { 0 };

    return wf__http_parse_more(buf, len, max_head, r, &sc);
}

/*
 * Parse an HTTP/1.x request head from buf[0..len) into r (see proto.h for
 * the variables set). r's vars/max_vars/arena/arena_cap must be set; the
 * rest is reset here. Returns the length of the head through its blank
 * line, 0 when more bytes are needed, or -400, -431, -501, -505. Values
 * point into buf or r's arena; buf must outlive the request. sc carries
 * what earlier calls over a shorter buf (the same bytes, fewer of them)
 * already looked at: each byte is scanned a bounded number of times, not
 * once per read. Any context; no I/O, no allocation.
 */
int
wf__http_parse_more(const char *buf, size_t len, size_t max_head,
                    struct wf__req *r, struct wf__http_scan *sc)
{
    const char *p, *end, *head_end, *nl, *le, *authority, *from;
    struct http_reqline rl;
    struct http_hdrs hs = { 0 };
    size_t lim = len < max_head ? len : max_head, alen;
    unsigned i;
    int rc;

    if (lim > INT32_MAX) {
        lim = INT32_MAX;    /* the result is an int */
    }
    end = buf + lim;
    if (sc->start > lim) {
        wf__http_scan_init(sc);     /* not the same buffer: start over */
    }
    p = buf + sc->start;

    /* Empty lines before the request line (a client's stray CRLF after a
     * body) are skipped, RFC 9112 2.2. */
    while (p < end) {
        if (*p == '\n') {
            p++;
        } else if (*p == '\r' && end - p >= 2 && p[1] == '\n') {
            p += 2;
        } else {
            break;
        }
    }
    if ((size_t) (p - buf) != sc->start) {
        sc->start = (size_t) (p - buf);
        sc->head_off = sc->nl_off = sc->start;
        sc->tok_len = 0;
        sc->line_ok = 0;
    }

    /* A line end at or after head_off - 2 was looked at without the two
     * bytes after it: look again from there. */
    from = buf + (sc->head_off >= sc->start + 2 ? sc->head_off - 2
                                                : sc->start);
    if (from > end) {
        from = p;
    }
    head_end = p < end ? http_head_end(from, end) : NULL;
    if (head_end == NULL) {
        sc->head_off = lim;
        if (len >= max_head) {
            return -431;
        }
        if (p == end || (end - p == 1 && *p == '\r')) {
            return 0;
        }
        return http_check_partial(p, end, sc, buf);
    }

    wf__req_reset(r);

    nl = memchr(p, '\n', (size_t) (head_end - p));
    le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
    rc = http_request_line(p, (size_t) (le - p), &rl);
    if (rc != 0) {
        return rc;
    }
    r->http_minor = rl.minor > 1 ? 1 : rl.minor;
    r->is_head = rl.mlen == 4 && memcmp(rl.method, "HEAD", 4) == 0;
    rc = http_request_vars(r, &rl, &authority, &alen);
    if (rc != 0) {
        return rc;
    }

    hs.first = r->nvars;
    for (p = nl + 1; ; p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (head_end - p));
        le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
        if (le == p) {
            break;  /* the blank line: nl + 1 == head_end */
        }
        rc = http_header(r, &hs, p, (size_t) (le - p));
        if (rc != 0) {
            return rc;
        }
    }

    if (r->chunked && r->content_length >= 0) {
        return -400;    /* RFC 9112 6.3: smuggling */
    }
    if (hs.te && !r->chunked) {
        return -400;    /* "Transfer-Encoding:" with no coding */
    }
    if (r->http_minor >= 1) {
        r->keepalive = !hs.conn_close;
        r->expect_continue = hs.expect;     /* ignored in 1.0 */
    } else {
        r->keepalive = hs.conn_keep && !hs.conn_close;
    }

    /* RFC 9112 3.2.2: the authority of an absolute-form target replaces
     * the Host header. */
    if (authority != NULL) {
        for (i = hs.first; i < r->nvars; i++) {
            if (http_var_is(&r->vars[i], "host", 4)) {
                r->vars[i].val = authority;
                r->vars[i].vlen = (uint16_t) alen;
                break;
            }
        }
        if (i == r->nvars) {
            rc = wf__req_put_var(r, "HTTP_HOST", 9, authority, alen);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return (int) (head_end - buf);
}
