/*
 * The CGI plugin's pure parts, shared by cgi.c and the unit tests
 * (tests/unit/check_cgi.c): mount points, the walk that finds the script
 * in a request path and splits SCRIPT_NAME from PATH_INFO, and the parser
 * of the script's response head. Nothing here forks, waits or talks to the
 * client; the walk only stat()s.
 */
#ifndef WEFT_CGI_H
#define WEFT_CGI_H

#include <stddef.h>
#include <sys/types.h>

/* --cgi [PREFIX=]PATH: PATH is a directory of scripts, or one script. */
struct cgi_mount {
    char *prefix;           /* "" or "/a/b" (no trailing slash) */
    size_t plen;
    char *path;             /* as given */
    char *real;             /* realpath(path), filled at start-up */
    size_t rlen;
    int is_file;            /* PATH is one script that serves the mount */
    int is_default;         /* given without '=' */
};

/*
 * Parse the value of --cgi into m: "DIR", "SCRIPT", "/mount=DIR". The
 * prefix is normalized (a leading '/', no trailing '/', "/" becomes "").
 * Returns 0, or -1 with why (a static string) for an empty path.
 */
int cgi_mount_parse(const char *value, struct cgi_mount *m, const char **why);

/*
 * The mount that serves path[0..len) (a decoded PATH_INFO): the longest
 * prefix that matches at a segment boundary ("/cgi" serves "/cgi" and
 * "/cgi/x", not "/cgix"); a default mount (no '=') serves what no prefix
 * does. Returns its index in mounts[0..n), or -1.
 */
int cgi_mount_match(const struct cgi_mount *mounts, size_t n,
                    const char *path, size_t len);

/* What the walk found. */
enum cgi_walk_result {
    CGI_WALK_SCRIPT = 0,    /* script found: see struct cgi_target */
    CGI_WALK_NOT_FOUND,     /* 404 */
    CGI_WALK_FORBIDDEN,     /* 403: "..", outside the mount, not
                               executable, extension not allowed */
    CGI_WALK_REDIRECT_SLASH,/* 301 to the path with a '/' appended */
    CGI_WALK_TOO_LONG,      /* 414-ish: the path does not fit PATH_MAX */
};

struct cgi_walk_opts {
    char *const *index;     /* --cgi-index names, or NULL */
    size_t nindex;
    char *const *allowed_ext;   /* --cgi-allowed-ext suffixes */
    size_t nallowed;
    char *const *safe;      /* --cgi-safe: realpaths allowed outside */
    size_t nsafe;
    int no_path_info;       /* --cgi-path-info: no split; the whole path
                               names the script */
    /* 1 when a helper runs files with this name (then it need not be
     * executable). Optional. */
    int (*has_helper)(const char *file, void *arg);
    void *helper_arg;
};

struct cgi_target {
    char file[4096];        /* the script, a real path */
    char script_name[4096]; /* SCRIPT_NAME: the URL path of the script */
    const char *path_info;  /* PATH_INFO: points into the request path */
    size_t path_info_len;   /* 0: no PATH_INFO */
};

/*
 * Find the script that serves path[0..len) under mount m and split the
 * path into SCRIPT_NAME and PATH_INFO, walking the directory one segment
 * at a time: the first segment that is a regular file is the script, the
 * rest is PATH_INFO. Empty and "." segments are skipped; a ".." segment is
 * refused (CGI_WALK_FORBIDDEN), as is a script whose real path (symlinks
 * followed) is outside the mount's real path unless it is under a --cgi-safe
 * path, a file that is not executable and has no helper, and a name that
 * ends with none of the --cgi-allowed-ext suffixes. A directory named by a
 * path ending in '/' is served by its first --cgi-index file that exists;
 * one named without the '/' gets CGI_WALK_REDIRECT_SLASH. Fills t for
 * CGI_WALK_SCRIPT. Any context (it calls stat() and realpath()).
 */
enum cgi_walk_result cgi_walk(const struct cgi_mount *m, const char *path,
                              size_t len, const struct cgi_walk_opts *o,
                              struct cgi_target *t);

/* ------------------------------------------------------ response head */

#define CGI_HEAD_MAX 65536  /* uWSGI's --cgi-buffer-size default */

struct cgi_header {
    const char *name;       /* points into the head buffer */
    size_t nlen;
    const char *val;        /* OWS trimmed */
    size_t vlen;
};

/*
 * Find the end of the response head in buf[0..len): the first empty line
 * ("\n\n" or "\r\n\r\n" or a mix). Returns the offset of the body (just
 * after the empty line), 0 when the head is not complete yet, or -1 when
 * it cannot be (len >= CGI_HEAD_MAX without an empty line).
 */
ssize_t cgi_head_end(const char *buf, size_t len);

#define CGI_MAX_HEADERS 100

struct cgi_head {
    int status;             /* 0 when the script gave no Status */
    char status_line[128];  /* "404 Not Found": Status's value when it has
                               a reason; "" for a bare "Status: 404" (the
                               core then names the reason) */
    const char *location;   /* Location's value, or NULL */
    size_t location_len;
    struct cgi_header h[CGI_MAX_HEADERS];   /* others, in order */
    size_t nh;
};

/*
 * Parse the response head buf[0..len) (up to and including its empty
 * line, as cgi_head_end found it) into out. Lines end with LF (a CR before
 * it is dropped); each is "name: value" with a token name. Status takes
 * "NNN" or "NNN reason" (100..599);
 * Location is kept apart; hop-by-hop headers (Connection, Keep-Alive,
 * Transfer-Encoding, ...) are dropped. Returns 0, or -1 with *why set (a
 * static string) for what makes the response a 502: a line without a
 * colon, a bad name, a control character in a value, a folded line, a bad
 * Status, a bad Content-Length, more than CGI_MAX_HEADERS headers, or no
 * header at all.
 */
int cgi_head_parse(const char *buf, size_t len, struct cgi_head *out,
                   const char **why);

/*
 * The command-line words of an indexed query (RFC 3875 4.4): when
 * q[0..qlen) contains no '=', it is split on '+' and each word is
 * percent-decoded into out (NUL-terminated words one after another;
 * out must hold qlen + 1 bytes). Returns the number of words, 0 when the
 * query is not an indexed one (it has a '=', is empty, or a word decodes
 * to a NUL).
 */
size_t cgi_query_args(const char *q, size_t qlen, char *out);

#endif
