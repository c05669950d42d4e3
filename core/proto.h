/*
 * Wire protocols: the HTTP/1.x request parser, the uwsgi binary protocol
 * parser, and the chunked body decoder. Pure functions over buffers: no I/O,
 * no allocation (all storage is given by the caller), so they are fast and
 * unit-testable. Core internals (wf__ names), not part of the plugin API.
 */
#ifndef WEFT_CORE_PROTO_H
#define WEFT_CORE_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <weft/core.h>

/*
 * A parsed request. The caller provides vars[] (max_vars entries) and an
 * arena (arena_cap bytes) for strings that are not verbatim in the input
 * buffer (HTTP_* names, the decoded PATH_INFO, merged duplicate headers).
 * Values may point into the input buffer, which must outlive the request.
 */
struct wf__req {
    struct wf_var *vars;
    unsigned nvars, max_vars;
    char *arena;
    size_t arena_len, arena_cap;

    int64_t content_length;      /* -1: none given */
    unsigned chunked : 1;        /* Transfer-Encoding: chunked */
    unsigned keepalive : 1;      /* connection may be reused afterwards */
    unsigned expect_continue : 1;/* Expect: 100-continue */
    unsigned http_minor : 4;     /* HTTP/1.x: x (0 or 1); uwsgi: from
                                    SERVER_PROTOCOL */
    unsigned is_head : 1;        /* REQUEST_METHOD is HEAD */
    uint8_t modifier1, modifier2;
};

/* Empty r (nvars = 0, arena_len = 0, content_length = -1, flags 0). */
void wf__req_reset(struct wf__req *r);

/* Append a variable, copying key and value into the arena. Returns 0,
 * or -431 when vars[] or the arena is full. */
int wf__req_add_var(struct wf__req *r, const char *key, size_t klen,
                    const char *val, size_t vlen);

/* The value of a variable, or NULL. */
const char *wf__req_get(const struct wf__req *r, const char *key,
                        size_t *vlen);

/* Append a variable without copying: key and val are borrowed and must
 * live as long as the request (the input buffer, the arena, or static
 * storage). Returns 0, or -431 when vars[] is full or a length does not
 * fit in 16 bits. Used by the parsers. */
int wf__req_put_var(struct wf__req *r, const char *key, size_t klen,
                    const char *val, size_t vlen);

/* Take n bytes from the arena. Returns them (owned by r, freed with the
 * arena), or NULL when the arena is full. Used by the parsers. */
char *wf__req_alloc(struct wf__req *r, size_t n);

/*
 * Parse an HTTP/1.0 or 1.1 request head from buf[0..len).
 * Returns the length of the head (through the blank line) when complete,
 * 0 when more bytes are needed (and len < max_head), or a negative HTTP
 * status: -400 malformed, -431 head larger than max_head or too many
 * headers/arena full, -501 a Transfer-Encoding other than chunked, -505
 * an HTTP version other than 1.x.
 *
 * On success r holds REQUEST_METHOD, REQUEST_URI, PATH_INFO (percent-
 * decoded), QUERY_STRING (always present, maybe empty), SERVER_PROTOCOL,
 * CONTENT_LENGTH and CONTENT_TYPE when given, and one HTTP_<NAME> per
 * header (upper case, '-' -> '_'; duplicates joined with ", ", Cookie
 * with "; "). keepalive follows the version and the Connection header.
 * A request with both Content-Length and chunked, or two different
 * Content-Length values, is -400 (request smuggling).
 *
 * r's vars, max_vars, arena and arena_cap must be set; everything else in
 * r is reset here. Lines may end in a bare LF and empty lines before the
 * request line are skipped (both count in the returned length). An
 * absolute-form target's authority replaces HTTP_HOST (RFC 9112 3.2.2).
 * Dropped, never stored: the Proxy header (httpoxy) and header names with
 * '_' (they would alias the '-' spelling, as nginx and httpd also drop
 * them). -400 also for obs-fold, a second Host, a bad percent escape or
 * %00 in the path; -501 for any transfer coding other than chunked.
 * When the head is incomplete but the request line is already bad, the
 * error is returned at once.
 */
int wf__http_parse(const char *buf, size_t len, size_t max_head,
                   struct wf__req *r);

/*
 * What wf__http_parse_more() already looked at in a head that is still
 * incomplete. Zeroed (wf__http_scan_init) for each new head; kept between
 * calls while bytes are only appended to the same buffer.
 */
struct wf__http_scan {
    size_t start;       /* the first byte after skipped empty lines */
    size_t head_off;    /* no end of head before this offset */
    size_t nl_off;      /* no line end before this offset */
    size_t tok_len;     /* bytes of the method known to be tchar */
    int line_ok;        /* the request line is whole and valid */
};

void wf__http_scan_init(struct wf__http_scan *sc);

/*
 * wf__http_parse() for a head that arrives in pieces: buf[0..len) holds
 * what the previous call saw plus what came since; sc carries what that
 * call already scanned, so a head read in n pieces costs O(len), not
 * O(n * len). Same results as wf__http_parse() on the same bytes.
 */
int wf__http_parse_more(const char *buf, size_t len, size_t max_head,
                        struct wf__req *r, struct wf__http_scan *sc);

/*
 * Parse a uwsgi packet head: 4 bytes (modifier1, u16 LE datasize,
 * modifier2) then datasize bytes of {u16 LE klen, key, u16 LE vlen, val}.
 * Returns 4 + datasize when complete, 0 when more bytes are needed, or a
 * negative status: -400 malformed vars (empty key, lengths past the end,
 * datasize 0), -431 datasize + 4 > max or too many vars. Values and keys
 * point into buf (no copy). content_length comes from CONTENT_LENGTH
 * (-400 when it is not a number), keepalive is 0, http_minor from
 * SERVER_PROTOCOL.
 */
int wf__uwsgi_parse(const char *buf, size_t len, size_t max,
                    struct wf__req *r);

/*
 * Incremental decoder of a chunked body (RFC 9112 7.1), trailers skipped.
 */
struct wf__chunked {
    int state;
    uint64_t left;      /* bytes left in the current chunk */
    unsigned ext_len;   /* bytes of the current size line / extension */
    int done;           /* 1 after the last chunk and its trailers */
};

void wf__chunked_init(struct wf__chunked *st);

/*
 * Decode in[0..inlen) into out (at most outcap bytes). *outlen receives the
 * decoded count. Returns the number of input bytes consumed (possibly less
 * than inlen when out is full or st->done), or -EBADMSG for bad framing
 * (a non-hex size, a size over 2^62, a missing CRLF after data, a size
 * line over 4 KiB).
 */
ssize_t wf__chunked_decode(struct wf__chunked *st, const char *in,
                           size_t inlen, char *out, size_t outcap,
                           size_t *outlen);

#endif
