/*
 * Static files, served by the core on the async cores (uWSGI's
 * --static-map, --static-map2, --check-static and friends).
 *
 * The decision is made once, when a request is bound to a core
 * (wf__static_route, called from the loop): a GET or HEAD whose path maps
 * to a regular file under a static root gets this file's handler in place
 * of the language's. The handler is a small state machine run by the same
 * machinery that runs an app's generator: it sends the head and then the
 * file with non-blocking send()/sendfile(), and when the socket is full it
 * registers a wait for writability and returns WF_AGAIN. Whoever runs the
 * core then gives the worker away: the suspend engine (ugreen, greenlet),
 * the core's own loop without an engine (the core waits like a yielding
 * generator), or the loop engine (the gevent hub). So a slow client never
 * holds the worker, whichever loop runs it, and weft needs no offload
 * threads.
 *
 * The path is resolved by wf__static_resolve, a pure function (no I/O):
 * it percent-decodes the request path and refuses, before the file system
 * is asked anything, what could leave the root: ".." segments, encoded
 * slashes and backslashes, NUL and control bytes, and bytes that are not
 * strict UTF-8 (overlong forms of '.' and '/' included). Symlinks are
 * checked after: the real path of the file must lie under the real path
 * of its root, or under a --static-safe directory.
 *
 * A directory is served through its --static-index file; without one it
 * is refused (403), never listed. With --check-static a directory or a
 * missing file falls through to the app, as in uWSGI.
 */
#include "internal.h"
#include "static.h"
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ options */

static struct {
    struct wf_strlist maps, maps2, check, index, skip_ext, gzip, gzip_dir,
                      gzip_ext, safe, mimefiles;
    /* the --static-expires* families, in uWSGI's order (enum exp_on) */
    struct wf_strlist exp[8];
    int gzip_all, check_docroot;
    long offload_threads;
    char *serve_mode;
} cfg;

/* What a --static-expires* rule matches: uWSGI's order, in which the
 * first rule that matches gives the Expires header. Each has an -mtime
 * twin (the file's mtime + SECS instead of now + SECS). */
enum exp_on {
    EXP_FILE, EXP_FILE_MTIME,       /* --static-expires: the file's path */
    EXP_PATH, EXP_PATH_MTIME,       /* --static-expires-path-info */
    EXP_URI, EXP_URI_MTIME,         /* --static-expires-uri: REQUEST_URI */
    EXP_TYPE, EXP_TYPE_MTIME,       /* --static-expires-type */
};

static const char *const exp_opt[8] = {
    "static-expires", "static-expires-mtime", "static-expires-path-info",
    "static-expires-path-info-mtime", "static-expires-uri",
    "static-expires-uri-mtime", "static-expires-type",
    "static-expires-type-mtime",
};

/* --file-serve-mode: send the file, or hand it to the front server. */
enum serve_mode { SERVE_SEND, SERVE_ACCEL, SERVE_XSENDFILE };
static enum serve_mode serve_mode;

/* One static root: a --static-map, --static-map2 or --check-static. */
struct root {
    char *prefix;           /* URL prefix ("" for --check-static) */
    size_t plen;
    char *dir;              /* real path of the directory (or file) */
    size_t dlen;
    int keep_prefix;        /* --static-map2: the prefix stays in the path */
    int check;              /* --check-static: misses go to the app */
    int is_file;            /* --static-map /URL=FILE: that file */
};

struct expire {
    enum exp_on on;
    char *mime;             /* EXP_TYPE*, else NULL */
    regex_t re;             /* the others */
    long secs;
};

static struct root *roots;
static size_t nroots;
static struct expire *expires;
static size_t nexpires;
static regex_t *gzips;
static size_t ngzips;
static char **safe;         /* real paths */
static size_t nsafe;
static int configured;

struct mime {
    char ext[16];
    const char *type;
    int owns;               /* type was strdup()ed for this entry */
};
static struct mime *mimes;
static size_t nmimes;

static const struct mime builtin_mimes[] = {
    { "avif", "image/avif" }, { "bmp", "image/bmp" },
    { "css", "text/css" }, { "csv", "text/csv" },
    { "gif", "image/gif" }, { "gz", "application/gzip" },
    { "htm", "text/html" }, { "html", "text/html" },
    { "ico", "image/vnd.microsoft.icon" }, { "jpeg", "image/jpeg" },
    { "jpg", "image/jpeg" }, { "js", "text/javascript" },
    { "json", "application/json" }, { "map", "application/json" },
    { "md", "text/markdown" }, { "mjs", "text/javascript" },
    { "mp3", "audio/mpeg" }, { "mp4", "video/mp4" },
    { "otf", "font/otf" }, { "pdf", "application/pdf" },
    { "png", "image/png" }, { "svg", "image/svg+xml" },
    { "tar", "application/x-tar" }, { "ttf", "font/ttf" },
    { "txt", "text/plain" }, { "wasm", "application/wasm" },
    { "webm", "video/webm" }, { "webp", "image/webp" },
    { "woff", "font/woff" }, { "woff2", "font/woff2" },
    { "xml", "application/xml" }, { "zip", "application/zip" },
};

static int
mime_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mime *)a)->ext,
                  ((const struct mime *)b)->ext);
}

/* Read one mime.types file into the table. */
static void
read_mimes(const char *path, size_t *cap)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t i;

    if (f == NULL) {
        wf_log(WF_LOG_INFO, "static files: %s: %s", path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *type, *ext, *t;

        if (line[0] == '#') {
            continue;
        }
        type = strtok_r(line, " \t\r\n", &save);
        if (type == NULL || strchr(type, '/') == NULL) {
            continue;
        }
        t = NULL;
        while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            int owns = 0;

            if (strlen(ext) >= sizeof(mimes->ext)) {
                continue;
            }
            if (t == NULL) {
                if ((t = strdup(type)) == NULL) {
                    break;
                }
                owns = 1;
            }
            if (nmimes == *cap) {
                struct mime *n;

                *cap = *cap ? *cap * 2 : 1024;
                n = realloc(mimes, *cap * sizeof(*mimes));
                if (n == NULL) {
                    if (owns) {
                        free(t);
                    }
                    break;
                }
                mimes = n;
            }
            for (i = 0; ext[i]; i++) {
                mimes[nmimes].ext[i] = (char)tolower((unsigned char)ext[i]);
            }
            mimes[nmimes].ext[i] = '\0';
            mimes[nmimes].owns = owns;
            mimes[nmimes++].type = t;
        }
    }
    fclose(f);
}

/* Read the --mimefile files (default /etc/mime.types) once the options
 * are known (again when one is added); the built-in table when none can
 * be read. Master context, at start-up. */
static void
load_mimes(void)
{
    static size_t loaded_for = (size_t)-1;
    size_t cap = 0, i;

    if (loaded_for == cfg.mimefiles.n) {
        return;
    }
    loaded_for = cfg.mimefiles.n;
    for (i = 0; i < nmimes; i++) {
        if (mimes[i].owns) {
            free((char *)mimes[i].type);
        }
    }
    free(mimes);
    mimes = NULL;
    nmimes = 0;
    if (cfg.mimefiles.n == 0) {
        read_mimes("/etc/mime.types", &cap);
    }
    for (i = 0; i < cfg.mimefiles.n; i++) {
        read_mimes(cfg.mimefiles.v[i], &cap);
    }
    if (nmimes == 0) {
        wf_log(WF_LOG_INFO, "static files: no mime.types file readable; "
               "using weft's built-in list of %zu content types",
               sizeof(builtin_mimes) / sizeof(*builtin_mimes));
        free(mimes);
        mimes = malloc(sizeof(builtin_mimes));
        if (mimes == NULL) {
            return;
        }
        memcpy(mimes, builtin_mimes, sizeof(builtin_mimes));
        nmimes = sizeof(builtin_mimes) / sizeof(*builtin_mimes);
    }
    /* a stable sort keeps the first type given for an extension first */
    for (i = 1; i < nmimes; i++) {
        struct mime m = mimes[i];
        size_t j = i;

        while (j > 0 && strcmp(mimes[j - 1].ext, m.ext) > 0) {
            mimes[j] = mimes[j - 1];
            j--;
        }
        mimes[j] = m;
    }
}

/* The Content-Type for a file name. */
static const char *
mime_of(const char *name)
{
    const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    struct mime key, *m;
    size_t i;

    if (dot == NULL || (slash && dot < slash) || strlen(dot + 1) == 0 ||
        strlen(dot + 1) >= sizeof(key.ext)) {
        return "application/octet-stream";
    }
    for (i = 0; dot[1 + i]; i++) {
        key.ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    }
    key.ext[i] = '\0';
    m = bsearch(&key, mimes, nmimes, sizeof(*mimes), mime_cmp);
    if (m == NULL) {
        return "application/octet-stream";
    }
    /* bsearch may land on any of equal keys: take the first */
    while (m > mimes && strcmp(m[-1].ext, key.ext) == 0) {
        m--;
    }
    return m->type;
}

/* A directory's real path, for the option that names it. */
static char *
real_dir(const char *opt, const char *dir, struct wf_err *err)
{
    char *r = realpath(dir, NULL);
    struct stat st;

    if (r == NULL || stat(r, &st) < 0 || !S_ISDIR(st.st_mode)) {
        wf_err_set(err, "--%s %s: %s; give an existing directory", opt, dir,
                   r ? "not a directory" : strerror(errno));
        free(r);
        return NULL;
    }
    return r;
}

static int
add_root(const char *opt, const char *spec, int keep, int check,
         struct wf_err *err)
{
    const char *eq = check ? NULL : strchr(spec, '=');
    struct root *n, *r;
    char *dir = NULL;
    int is_file = 0;

    if (!check && (eq == NULL || spec[0] != '/' || eq[1] == '\0')) {
        return wf_err_set(err, "--%s %s: give /url=directory%s", opt, spec,
                          keep ? "" : " (or /url=file)");
    }
    if (!check && !keep) {
        /* uWSGI: "map mountpoint to static directory (or file)" */
        struct stat st;
        char *f = realpath(eq + 1, NULL);

        if (f != NULL && stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
            is_file = 1;
            dir = f;
        } else {
            free(f);
        }
    }
    if (dir == NULL && (dir = real_dir(opt, check ? spec : eq + 1, err)) ==
        NULL) {
        return -1;
    }
    n = realloc(roots, (nroots + 1) * sizeof(*roots));
    if (n == NULL) {
        free(dir);
        return wf_err_set(err, "--%s: out of memory", opt);
    }
    roots = n;
    r = &roots[nroots++];
    r->prefix = check ? strdup("") : strndup(spec, (size_t)(eq - spec));
    r->plen = strlen(r->prefix);
    /* "/static/" and "/static" name the same prefix */
    while (r->plen > 1 && r->prefix[r->plen - 1] == '/') {
        r->prefix[--r->plen] = '\0';
    }
    if (r->plen == 1) {
        r->prefix[--r->plen] = '\0';    /* "/" maps everything */
    }
    r->dir = dir;
    r->dlen = strlen(dir);
    if (r->dlen == 1) {
        r->dlen = 0;                    /* "/" as a root: paths start there */
    }
    r->keep_prefix = keep;
    r->check = check;
    r->is_file = is_file;
    return 0;
}

static int
add_expire(enum exp_on on, const char *spec, struct wf_err *err)
{
    const char *opt = exp_opt[on];
    int by_type = on == EXP_TYPE || on == EXP_TYPE_MTIME;
    const char *eq = strrchr(spec, '=');
    struct expire *n, *e;
    char *end, *pat;
    long secs;

    if (eq == NULL || eq == spec) {
        return wf_err_set(err, "--%s %s: give %s=SECONDS", opt, spec,
                          by_type ? "type/subtype" : "REGEXP");
    }
    secs = strtol(eq + 1, &end, 10);
    if (end == eq + 1 || *end != '\0' || secs < 0) {
        return wf_err_set(err, "--%s %s: %s is not a number of seconds",
                          opt, spec, eq + 1);
    }
    n = realloc(expires, (nexpires + 1) * sizeof(*expires));
    if (n == NULL) {
        return wf_err_set(err, "--%s: out of memory", opt);
    }
    expires = n;
    e = &expires[nexpires];
    e->on = on;
    e->secs = secs;
    e->mime = NULL;
    pat = strndup(spec, (size_t)(eq - spec));
    if (pat == NULL) {
        return wf_err_set(err, "--%s: out of memory", opt);
    }
    if (on == EXP_TYPE || on == EXP_TYPE_MTIME) {
        e->mime = pat;
    } else {
        int rc = regcomp(&e->re, pat, REG_EXTENDED | REG_NOSUB);

        free(pat);
        if (rc != 0) {
            return wf_err_set(err, "--%s %s: not a regular expression",
                              opt, spec);
        }
    }
    nexpires++;
    return 0;
}

/* Root a goes before root b: --check-static first (in the order given,
 * as uWSGI tries them), then the maps, the longest prefix first (in the
 * order given among equal ones). */
static int
root_before(const struct root *a, const struct root *b)
{
    if (a->check != b->check) {
        return a->check;
    }
    return !a->check && a->plen > b->plen;
}

static int
set_serve_mode(struct wf_err *err)
{
    const char *v = cfg.serve_mode;

    serve_mode = SERVE_SEND;
    if (v == NULL) {
        return 0;
    }
    /* uWSGI's spellings (core/uwsgi.c, uwsgi_opt_fileserve_mode) */
    if (strcasecmp(v, "x-accel-redirect") == 0 ||
        strcasecmp(v, "xaccelredirect") == 0 || strcasecmp(v, "nginx") == 0) {
        serve_mode = SERVE_ACCEL;
    } else if (strcasecmp(v, "x-sendfile") == 0 ||
               strcasecmp(v, "xsendfile") == 0) {
        serve_mode = SERVE_XSENDFILE;
    } else {
        return wf_err_set(err, "--file-serve-mode %s: give x-accel-redirect "
                          "(nginx) or x-sendfile (Apache); without it weft "
                          "sends the file itself", v);
    }
    return 0;
}

/*
 * Rebuild the static configuration from the options given so far (each
 * static option's on_set calls it; the lists are small). Master context,
 * at start-up. 0 or -1 with err.
 */
static int
prepare(const struct wf_option *opt, const char *value, struct wf_err *err)
{
    size_t i;

    (void)value;
    if (strcmp(opt->name, "offload-threads") == 0 ||
        strcmp(opt->name, "offload-thread") == 0) {
        if (cfg.offload_threads > 0) {
            wf_log(WF_LOG_INFO, "--offload-threads %ld: accepted and not "
                   "needed; weft sends static files from the async cores "
                   "with non-blocking sendfile()", cfg.offload_threads);
        }
        return 0;
    }
    for (i = 0; i < nroots; i++) {
        free(roots[i].prefix);
        free(roots[i].dir);
    }
    free(roots);
    roots = NULL;
    nroots = 0;
    for (i = 0; i < nexpires; i++) {
        if (expires[i].mime) {
            free(expires[i].mime);
        } else {
            regfree(&expires[i].re);
        }
    }
    free(expires);
    expires = NULL;
    nexpires = 0;
    for (i = 0; i < ngzips; i++) {
        regfree(&gzips[i]);
    }
    free(gzips);
    gzips = NULL;
    ngzips = 0;
    for (i = 0; i < nsafe; i++) {
        free(safe[i]);
    }
    free(safe);
    safe = NULL;
    nsafe = 0;

    if (set_serve_mode(err) < 0) {
        return -1;
    }
    for (i = 0; i < cfg.check.n; i++) {
        if (add_root("check-static", cfg.check.v[i], 0, 1, err) < 0) {
            return -1;
        }
    }
    for (i = 0; i < cfg.maps.n; i++) {
        if (add_root("static-map", cfg.maps.v[i], 0, 0, err) < 0) {
            return -1;
        }
    }
    for (i = 0; i < cfg.maps2.n; i++) {
        if (add_root("static-map2", cfg.maps2.v[i], 1, 0, err) < 0) {
            return -1;
        }
    }
    /* a stable insertion sort: the order in which roots are tried */
    for (i = 1; i < nroots; i++) {
        struct root r = roots[i];
        size_t j = i;

        while (j > 0 && root_before(&r, &roots[j - 1])) {
            roots[j] = roots[j - 1];
            j--;
        }
        roots[j] = r;
    }
    for (i = 0; i < 8; i++) {
        size_t k;

        for (k = 0; k < cfg.exp[i].n; k++) {
            if (add_expire((enum exp_on)i, cfg.exp[i].v[k], err) < 0) {
                return -1;
            }
        }
    }
    if (cfg.gzip.n > 0) {
        gzips = calloc(cfg.gzip.n, sizeof(*gzips));
        if (gzips == NULL) {
            return wf_err_set(err, "--static-gzip: out of memory");
        }
        for (i = 0; i < cfg.gzip.n; i++) {
            if (regcomp(&gzips[i], cfg.gzip.v[i],
                        REG_EXTENDED | REG_NOSUB) != 0) {
                return wf_err_set(err, "--static-gzip %s: not a regular "
                                  "expression", cfg.gzip.v[i]);
            }
            ngzips++;
        }
    }
    if (cfg.safe.n > 0) {
        safe = calloc(cfg.safe.n, sizeof(*safe));
        if (safe == NULL) {
            return wf_err_set(err, "--static-safe: out of memory");
        }
        for (i = 0; i < cfg.safe.n; i++) {
            if ((safe[i] = real_dir("static-safe", cfg.safe.v[i], err)) ==
                NULL) {
                return -1;
            }
            nsafe++;
        }
    }
    configured = nroots > 0 || cfg.check_docroot;
    if (configured) {
        load_mimes();
    }
    return 0;
}

/* Is any gzip option on? */
#define GZIP_ON() (cfg.gzip_all || ngzips > 0 || cfg.gzip_dir.n > 0 || \
                   cfg.gzip_ext.n > 0)

/* See static.h. */
const struct wf_option wf__static_options[] = {
    { "static-map", WF_OPT_LIST, &cfg.maps, NULL, 0, 0, 0,
      "serve files of DIR for URLs under /URL (/URL/a.css is DIR/a.css), "
      "or FILE for /URL; repeatable, the longest prefix is tried first",
      0, prepare, "/URL=DIR" },
    { "static-map2", WF_OPT_LIST, &cfg.maps2, NULL, 0, 0, 0,
      "like --static-map, keeping the prefix (/URL/a.css is "
      "DIR/URL/a.css)", 0, prepare, "/URL=DIR" },
    { "check-static", WF_OPT_LIST, &cfg.check, NULL, 0, 0, 0,
      "serve DIR/PATH when it is a file, else pass the request to the app; "
      "repeatable, tried before the maps", 0, prepare, "DIR" },
    { "static-check", WF_OPT_LIST, &cfg.check, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "same as --check-static", 0, prepare, "DIR" },
    { "check-static-docroot", WF_OPT_FLAG, &cfg.check_docroot, NULL, 0, 0,
      0, "--check-static the request's DOCUMENT_ROOT (as nginx's "
      "uwsgi_params send it), after the maps", 0, prepare, NULL },
    { "static-index", WF_OPT_LIST, &cfg.index, NULL, 0, 0, 0,
      "file served for a directory (repeatable, tried in order); without "
      "one a directory is refused, never listed", 0, prepare, "NAME" },
    { "static-skip-ext", WF_OPT_LIST, &cfg.skip_ext, NULL, 0, 0, 0,
      "never serve files ending with EXT statically (the app gets them)",
      0, prepare, "EXT" },
    { "static-expires", WF_OPT_LIST, &cfg.exp[EXP_FILE], NULL, 0, 0, 0,
      "Expires (now + SECS) and Cache-Control max-age for files whose path "
      "matches REGEXP", 0, prepare, "REGEXP=SECS" },
    { "static-expires-mtime", WF_OPT_LIST, &cfg.exp[EXP_FILE_MTIME], NULL,
      0, 0, 0, "like --static-expires, from the file's mtime", 0, prepare,
      "REGEXP=SECS" },
    { "static-expires-path-info", WF_OPT_LIST, &cfg.exp[EXP_PATH], NULL,
      0, 0, 0, "like --static-expires, for a PATH_INFO matching REGEXP", 0,
      prepare, "REGEXP=SECS" },
    { "static-expires-path-info-mtime", WF_OPT_LIST,
      &cfg.exp[EXP_PATH_MTIME], NULL, 0, 0, 0,
      "like --static-expires-path-info, from the file's mtime", 0, prepare,
      "REGEXP=SECS" },
    { "static-expires-uri", WF_OPT_LIST, &cfg.exp[EXP_URI], NULL, 0, 0, 0,
      "like --static-expires, for a REQUEST_URI matching REGEXP", 0,
      prepare, "REGEXP=SECS" },
    { "static-expires-uri-mtime", WF_OPT_LIST, &cfg.exp[EXP_URI_MTIME],
      NULL, 0, 0, 0, "like --static-expires-uri, from the file's mtime", 0,
      prepare, "REGEXP=SECS" },
    { "static-expires-type", WF_OPT_LIST, &cfg.exp[EXP_TYPE], NULL, 0, 0, 0,
      "like --static-expires, for files of this Content-Type", 0, prepare,
      "TYPE=SECS" },
    { "static-expires-type-mtime", WF_OPT_LIST, &cfg.exp[EXP_TYPE_MTIME],
      NULL, 0, 0, 0, "like --static-expires-type, from the file's mtime",
      0, prepare, "TYPE=SECS" },
    { "static-gzip", WF_OPT_LIST, &cfg.gzip, NULL, 0, 0, 0,
      "serve FILE.gz (Content-Encoding: gzip) for files whose path "
      "matches REGEXP, when it exists and the client accepts gzip (FILE.br "
      "first for brotli)", 0, prepare, "REGEXP" },
    { "static-gzip-all", WF_OPT_FLAG, &cfg.gzip_all, NULL, 0, 0, 0,
      "--static-gzip for every static file", 0, prepare, NULL },
    { "static-gzip-dir", WF_OPT_LIST, &cfg.gzip_dir, NULL, 0, 0, 0,
      "--static-gzip for files whose path starts with PREFIX", 0, prepare,
      "PREFIX" },
    { "static-gzip-prefix", WF_OPT_LIST, &cfg.gzip_dir, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --static-gzip-dir", 0, prepare, "PREFIX" },
    { "static-gzip-ext", WF_OPT_LIST, &cfg.gzip_ext, NULL, 0, 0, 0,
      "--static-gzip for files whose name ends with SUFFIX", 0, prepare,
      "SUFFIX" },
    { "static-gzip-suffix", WF_OPT_LIST, &cfg.gzip_ext, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --static-gzip-ext", 0, prepare, "SUFFIX" },
    { "static-safe", WF_OPT_LIST, &cfg.safe, NULL, 0, 0, 0,
      "symlinks under a static root may point into DIR (repeatable)", 0,
      prepare, "DIR" },
    { "file-serve-mode", WF_OPT_STR, &cfg.serve_mode, NULL, 0, 0, 0,
      "x-accel-redirect (nginx) or x-sendfile (Apache): answer with that "
      "header naming the file, and no body, for the front server to send",
      0, prepare, "MODE" },
    { "fileserve-mode", WF_OPT_STR, &cfg.serve_mode, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --file-serve-mode", 0, prepare, "MODE" },
    { "offload-threads", WF_OPT_INT, &cfg.offload_threads, NULL, 0, 1024, 0,
      "accepted for uWSGI compatibility: weft needs no offload threads",
      0, prepare, "N" },
    { "offload-thread", WF_OPT_INT, &cfg.offload_threads, NULL, 0, 1024,
      WF_OPT_F_HIDDEN, "same as --offload-threads", 0, prepare, "N" },
    { "mimefile", WF_OPT_LIST, &cfg.mimefiles, NULL, 0, 0, 0,
      "content types by extension (default /etc/mime.types); repeatable, "
      "the first file that names an extension wins", 0, prepare, "FILE" },
    { "mime-file", WF_OPT_LIST, &cfg.mimefiles, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --mimefile", 0, prepare, "FILE" },
    { NULL }
};

/* ------------------------------------------------------- the resolver */

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/* Length of the strict UTF-8 sequence at s (n bytes left), or 0 when it
 * is not one: overlong forms, surrogates and values above U+10FFFF are
 * refused (RFC 3629). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)) {
            return 0;
        }
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* See static.h. */
int
wf__static_resolve(const char *root, size_t rootlen, const char *rel,
                   size_t rellen, char *out, size_t cap)
{
    size_t o = rootlen, i = 0, seg;

    if (cap < rootlen + 2) {
        return -WF_STATIC_TOO_LONG;
    }
    memcpy(out, root, rootlen);
    while (i < rellen) {
        /* one segment: decode into out after a '/' */
        if (rel[i] == '/') {
            i++;
            continue;
        }
        if (o + 1 >= cap) {
            return -WF_STATIC_TOO_LONG;
        }
        out[o] = '/';
        seg = o + 1;
        o = seg;
        while (i < rellen && rel[i] != '/') {
            int ch = (unsigned char)rel[i];

            if (ch == '%') {
                int h, l;

                if (i + 2 >= rellen) {
                    return -WF_STATIC_BAD;
                }
                h = hexval((unsigned char)rel[i + 1]);
                l = hexval((unsigned char)rel[i + 2]);
                if (h < 0 || l < 0) {
                    return -WF_STATIC_BAD;
                }
                ch = h * 16 + l;
                if (ch == '/' || ch == 0) {
                    /* an encoded slash would hide a segment from the
                     * ".." check; NUL would cut the path */
                    return -WF_STATIC_FORBIDDEN;
                }
                i += 3;
            } else {
                i++;
            }
            if (ch < 0x20 || ch == 0x7f || ch == '\\') {
                return -WF_STATIC_FORBIDDEN;
            }
            if (o + 1 >= cap) {
                return -WF_STATIC_TOO_LONG;
            }
            out[o++] = (char)ch;
        }
        /* the segment is whole: check it decoded */
        {
            size_t k = seg;

            while (k < o) {
                size_t l = utf8_len((const unsigned char *)out + k, o - k);

                if (l == 0) {
                    return -WF_STATIC_FORBIDDEN;
                }
                k += l;
            }
        }
        if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            return -WF_STATIC_FORBIDDEN;
        }
        if (o - seg == 1 && out[seg] == '.') {
            o = seg - 1;    /* "." names the directory itself */
        }
    }
    if (o == 0) {
        out[o++] = '/';
    }
    out[o] = '\0';
    return (int)o;
}

/* ------------------------------------------------------- the handler */

/* What one core serves. The head is the core's (c->resp.wire, composed
 * by core/response.c); this is what is left to send of it and the file. */
struct st_core {
    int fd;                 /* the file, or -1 */
    int status;             /* 200, 206, 304, 403, 416...; 0: no head */
    off_t off, end;         /* body bytes [off, end) still to send */
    size_t woff;            /* head bytes sent */
    int64_t since;          /* when the socket last took a byte */
    int64_t wait_from;      /* when it began to wait for the socket, or 0 */
};

/* Per loop, and a loop is one thread's: indexed by the core's place in
 * its loop (pub.id - core_base). */
static __thread struct st_core *stc;
static __thread unsigned nstc;

static struct st_core *
st_of(const struct wf_core *pub)
{
    const struct wf__core *c = (const struct wf__core *)pub;

    return &stc[pub->id - c->loop->core_base];
}

static const struct wf_lang_ops static_ops;

static const char *
req_get(struct wf__conn *k, const char *key, size_t *len)
{
    return wf__req_get(&k->req, key, len);
}

/* Does the client accept the content coding `coding`? */
static int
accepts(struct wf__conn *k, const char *coding)
{
    size_t len;
    const char *v = req_get(k, "HTTP_ACCEPT_ENCODING", &len);

    return v != NULL && wf__http_accepts(v, len, coding);
}

/* Is real path p (NUL-terminated) inside dir (dlen bytes; 0: "/")? */
static int
under(const char *p, const char *dir, size_t dlen)
{
    return strncmp(p, dir, dlen) == 0 && (p[dlen] == '/' || p[dlen] == '\0');
}

/* Open path as a regular file under root r (symlinks checked). Returns
 * the fd, -1 when it is not there (or not a regular file: *isdir says a
 * directory), -2 forbidden. */
static int
open_checked(const struct root *r, const char *path, struct stat *st,
             int *isdir)
{
    char *real;
    int fd, ok;
    size_t i;

    *isdir = 0;
    if (stat(path, st) < 0) {
        return errno == EACCES ? -2 : -1;
    }
    if (S_ISDIR(st->st_mode)) {
        *isdir = 1;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        return -2;
    }
    real = realpath(path, NULL);
    if (real == NULL) {
        return -1;
    }
    ok = under(real, r->dir, r->dlen);
    for (i = 0; !ok && i < nsafe; i++) {
        ok = under(real, safe[i], strlen(safe[i]));
    }
    if (!ok) {
        wf_log(WF_LOG_WARN, "static: %s resolves to %s, outside %s and "
               "every --static-safe directory; refused", path, real,
               r->dlen ? r->dir : "/");
        free(real);
        return -2;
    }
    free(real);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return errno == EACCES ? -2 : -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -2;
    }
    return fd;
}

static int
skipped_ext(const char *path)
{
    size_t i, pl = strlen(path);

    for (i = 0; i < cfg.skip_ext.n; i++) {
        size_t el = strlen(cfg.skip_ext.v[i]);

        if (el > 0 && el <= pl &&
            strcasecmp(path + pl - el, cfg.skip_ext.v[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A response header, through the core's checks (wf_response_header). */
static void
hdr(struct wf__core *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
hdr(struct wf__core *c, const char *name, const char *fmt, ...)
{
    char val[PATH_MAX + 64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(val)) {
        wf_response_header(&c->pub, name, strlen(name), val, (size_t)n);
    }
}

/* The head is complete: the core composes it (status line, framing,
 * Connection) for a body of body_len bytes, then body[0..blen) (a short
 * error text) when the response has a body. */
static void
compose(struct wf__core *c, struct st_core *s, off_t body_len,
        const char *body, size_t blen)
{
    if (wf__resp_compose(c, (uint64_t)body_len, body, blen) < 0) {
        /* out of memory: nothing can be sent, the connection goes */
        wf_log(WF_LOG_ERROR, "core %u: static: no memory for the response "
               "head; connection closed", c->pub.id);
        c->resp.broken = 1;
        c->resp.close = 1;
        s->status = 0;
    }
    s->woff = 0;
}

/* An error with a short text body ("403 Forbidden\n"). */
static void
prepare_error(struct wf__core *c, struct st_core *s, int code, off_t size)
{
    char body[64];
    int n;

    s->status = code;
    wf_response_status_code(&c->pub, code);
    n = snprintf(body, sizeof(body), "%d %s\n", code, wf__http_reason(code));
    if (code == 416) {
        hdr(c, "Content-Range", "bytes */%lld", (long long)size);
    }
    hdr(c, "Content-Type", "text/plain");
    compose(c, s, n, body, (size_t)n);
    s->off = s->end = 0;
}

/* The Expires header (and Cache-Control) of the first --static-expires*
 * rule that matches, in uWSGI's order. */
static void
add_expires(struct wf__core *c, const struct stat *st, const char *path,
            const char *type)
{
    struct wf__conn *k = c->conn;
    char date[40], subj[PATH_MAX + 1];
    const char *v;
    size_t i, vlen;

    for (i = 0; i < nexpires; i++) {
        const struct expire *e = &expires[i];
        int hit = 0, mtime = e->on % 2 == 1;
        time_t at;

        switch (e->on) {
        case EXP_TYPE:
        case EXP_TYPE_MTIME:
            hit = strcmp(e->mime, type) == 0;
            break;
        case EXP_FILE:
        case EXP_FILE_MTIME:
            hit = regexec(&e->re, path, 0, NULL, 0) == 0;
            break;
        case EXP_PATH:
        case EXP_PATH_MTIME:
        case EXP_URI:
        case EXP_URI_MTIME:
            v = req_get(k, e->on < EXP_URI ? "PATH_INFO" : "REQUEST_URI",
                        &vlen);
            if (v != NULL && vlen < sizeof(subj)) {
                memcpy(subj, v, vlen);
                subj[vlen] = '\0';
                hit = regexec(&e->re, subj, 0, NULL, 0) == 0;
            }
            break;
        }
        if (!hit) {
            continue;
        }
        at = (mtime ? st->st_mtime : time(NULL)) + e->secs;
        wf__http_date(at, date, sizeof(date));
        hdr(c, "Expires", "%s", date);
        {
            long long age = (long long)(at - time(NULL));

            hdr(c, "Cache-Control", "max-age=%lld", age > 0 ? age : 0);
        }
        return;
    }
}

/* Decide the response for file fd (stat st, path for type and expiry,
 * enc: the content coding of the variant served, or NULL). */
static void
prepare_file(struct wf__core *c, struct st_core *s, int fd,
             const struct stat *st, const char *path, const char *enc)
{
    struct wf__conn *k = c->conn;
    char etag[64], lm[40];
    const char *v, *type = mime_of(path);
    size_t vlen;
    off_t a = 0, b = st->st_size - 1;
    int code = 200, not_modified = 0;

    snprintf(etag, sizeof(etag), "\"%llx-%llx%s%s\"",
             (unsigned long long)st->st_mtime,
             (unsigned long long)st->st_size, enc ? "-" : "",
             enc ? (enc[0] == 'g' ? "gz" : enc) : "");
    wf__http_date(st->st_mtime, lm, sizeof(lm));
    if ((v = req_get(k, "HTTP_IF_NONE_MATCH", &vlen)) != NULL) {
        not_modified = wf__http_etag_listed(v, vlen, etag);
    } else if ((v = req_get(k, "HTTP_IF_MODIFIED_SINCE", &vlen)) != NULL) {
        int64_t t = wf__http_date_parse(v, vlen);

        not_modified = t >= 0 && (int64_t)st->st_mtime <= t;
    }
    if (not_modified) {
        code = 304;
    } else if (serve_mode != SERVE_SEND) {
        /* the front server sends the file, and answers ranges itself */
    } else if ((v = req_get(k, "HTTP_RANGE", &vlen)) != NULL) {
        size_t irl;
        const char *ir = req_get(k, "HTTP_IF_RANGE", &irl);
        int64_t ra = 0, rb = 0;
        int rr = 0;

        if (ir == NULL || (irl == strlen(etag) && memcmp(ir, etag, irl) == 0)
            || (irl == strlen(lm) && memcmp(ir, lm, irl) == 0)) {
            rr = wf__http_range(v, vlen, st->st_size, &ra, &rb);
        }
        if (rr < 0) {
            close(fd);
            prepare_error(c, s, 416, st->st_size);
            return;
        }
        if (rr > 0) {
            code = 206;
            a = (off_t)ra;
            b = (off_t)rb;
        }
    }
    s->status = code;
    wf_response_status_code(&c->pub, code);
    hdr(c, "Content-Type", "%s", type);
    if (enc) {
        hdr(c, "Content-Encoding", "%s", enc);
    }
    if (enc || GZIP_ON()) {
        hdr(c, "Vary", "Accept-Encoding");
    }
    hdr(c, "Last-Modified", "%s", lm);
    hdr(c, "ETag", "%s", etag);
    if (serve_mode == SERVE_SEND) {
        hdr(c, "Accept-Ranges", "bytes");
    }
    add_expires(c, st, path, type);
    if (code == 206) {
        hdr(c, "Content-Range", "bytes %lld-%lld/%lld", (long long)a,
            (long long)b, (long long)st->st_size);
    }
    if (code == 200 && serve_mode != SERVE_SEND) {
        hdr(c, serve_mode == SERVE_ACCEL ? "X-Accel-Redirect" : "X-Sendfile",
            "%s", path);
        b = a - 1;      /* no body: the front server sends the file */
    }
    if (code == 304 || st->st_size == 0) {
        b = a - 1;
    }
    compose(c, s, b - a + 1, NULL, 0);
    if (c->resp.no_body || b < a || s->status == 0) {
        close(fd);
        s->fd = -1;
        s->off = s->end = 0;
        return;
    }
    s->fd = fd;
    s->off = a;
    s->end = b + 1;
}

/* The variant to serve for path (len bytes, room for 4 more): fd of
 * path.br or path.gz when a --static-gzip* option covers path and the
 * client accepts that coding (uWSGI tries br first), with *enc set; else
 * -1. */
static int
precompressed(struct wf__core *c, const struct root *r, char *path,
              size_t len, struct stat *st, const char **enc)
{
    static const char *const codings[][2] = { { "br", ".br" },
                                              { "gzip", ".gz" } };
    size_t i;
    int want = cfg.gzip_all;

    for (i = 0; !want && i < cfg.gzip_dir.n; i++) {
        want = strncmp(path, cfg.gzip_dir.v[i],
                       strlen(cfg.gzip_dir.v[i])) == 0;
    }
    for (i = 0; !want && i < cfg.gzip_ext.n; i++) {
        size_t el = strlen(cfg.gzip_ext.v[i]);

        want = el <= len && strcmp(path + len - el, cfg.gzip_ext.v[i]) == 0;
    }
    for (i = 0; !want && i < ngzips; i++) {
        want = regexec(&gzips[i], path, 0, NULL, 0) == 0;
    }
    if (!want) {
        return -1;
    }
    for (i = 0; i < 2; i++) {
        int fd, isdir;

        if (!accepts(c->conn, codings[i][0])) {
            continue;
        }
        memcpy(path + len, codings[i][1], 4);
        fd = open_checked(r, path, st, &isdir);
        path[len] = '\0';
        if (fd >= 0) {
            *enc = codings[i][0];
            return fd;
        }
    }
    return -1;
}

/* The raw path of k's request (before '?'), or NULL. */
static const char *
req_path(struct wf__conn *k, size_t *len)
{
    const char *u = req_get(k, "REQUEST_URI", len);
    const char *q;

    if (u == NULL || *len == 0 || u[0] != '/') {
        u = req_get(k, "PATH_INFO", len);
        if (u == NULL || *len == 0 || u[0] != '/') {
            return NULL;
        }
    }
    q = memchr(u, '?', *len);
    if (q != NULL) {
        *len = (size_t)(q - u);
    }
    q = memchr(u, '#', *len);
    if (q != NULL) {
        *len = (size_t)(q - u);
    }
    return u;
}

/* Try root r for k's request path. 1: s is ready to serve (a file or a
 * refusal), 0: not here (go on). */
static int
try_root(struct wf__core *c, struct st_core *s, const struct root *r,
         const char *rel, size_t rellen)
{
    char path[PATH_MAX + 1];
    struct stat st;
    int len, fd, isdir;

    if (r->is_file) {
        /* --static-map /URL=FILE: that file, whatever follows /URL (as
         * uWSGI does) */
        len = snprintf(path, sizeof(path), "%s", r->dir);
    } else {
        len = wf__static_resolve(r->dir, r->dlen, rel, rellen, path,
                                 sizeof(path) - 64);
    }
    if (len < 0) {
        wf_log(WF_LOG_WARN, "static: %s asked for %.*s: %s; refused",
               c->conn->raddr, (int)rellen, rel,
               len == -WF_STATIC_BAD ? "bad percent-encoding" :
               len == -WF_STATIC_TOO_LONG ? "path too long" :
               "a path that could leave the static root");
        prepare_error(c, s, len == -WF_STATIC_BAD ? 400 :
                      len == -WF_STATIC_TOO_LONG ? 414 : 403, 0);
        return 1;
    }
    fd = open_checked(r, path, &st, &isdir);
    if (isdir) {
        size_t i;

        for (i = 0; i < cfg.index.n; i++) {
            int n = snprintf(path + len, sizeof(path) - (size_t)len, "%s%s",
                             path[len - 1] == '/' ? "" : "/",
                             cfg.index.v[i]);
            int sub;

            if (n <= 0 || (size_t)n >= sizeof(path) - (size_t)len - 4) {
                continue;
            }
            fd = open_checked(r, path, &st, &sub);
            if (fd >= 0 || fd == -2) {
                break;
            }
        }
        if (fd == -1) {
            if (r->check) {
                return 0;       /* the app may serve "/" */
            }
            prepare_error(c, s, 403, 0);
            return 1;
        }
        len = (int)strlen(path);
    }
    if (fd == -1) {
        return 0;
    }
    if (fd == -2) {
        prepare_error(c, s, 403, 0);
        return 1;
    }
    if (skipped_ext(path)) {
        close(fd);
        return 0;
    }
    if (GZIP_ON() && (size_t)len + 4 < sizeof(path)) {
        struct stat gst;
        const char *enc = NULL;
        int gfd = precompressed(c, r, path, (size_t)len, &gst, &enc);

        if (gfd >= 0) {
            close(fd);
            prepare_file(c, s, gfd, &gst, path, enc);
            return 1;
        }
    }
    prepare_file(c, s, fd, &st, path, NULL);
    return 1;
}

/* c serves a static response: its handler replaces the app's. */
static int
serve(struct wf__core *c)
{
    c->lang = &static_ops;
    c->lang_switch = 0;     /* no interpreter state to switch */
    return 1;
}

/* See static.h. */
int
wf__static_serves(const struct wf__core *c)
{
    return c->lang == &static_ops;
}

/* See static.h. */
int
wf__static_route(struct wf__conn *k, struct wf__core *c)
{
    struct st_core *s;
    const char *path, *m;
    size_t plen, mlen, i;

    if (!configured) {
        return 0;
    }
    m = req_get(k, "REQUEST_METHOD", &mlen);
    if (m == NULL || !((mlen == 3 && memcmp(m, "GET", 3) == 0) ||
                       (mlen == 4 && memcmp(m, "HEAD", 4) == 0))) {
        return 0;
    }
    path = req_path(k, &plen);
    if (path == NULL) {
        return 0;
    }
    if (stc == NULL) {
        nstc = c->loop->ncores;
        stc = calloc(nstc, sizeof(*stc));
        if (stc == NULL) {
            nstc = 0;
            return 0;
        }
        for (i = 0; i < nstc; i++) {
            stc[i].fd = -1;
        }
    }
    s = st_of(&c->pub);
    s->fd = -1;
    s->status = 0;
    s->woff = 0;
    s->off = s->end = 0;
    s->since = 0;
    s->wait_from = 0;
    /* --check-static roots, then every map whose prefix matches at a
     * segment end, the longest first: the first that has the file (or
     * refuses the path) answers, as uWSGI tries its maps in turn */
    for (i = 0; i < nroots; i++) {
        const struct root *r = &roots[i];
        size_t off;

        if (r->check) {
            if (try_root(c, s, r, path, plen)) {
                return serve(c);
            }
            continue;
        }
        if (plen < r->plen || memcmp(path, r->prefix, r->plen) != 0 ||
            (plen > r->plen && path[r->plen] != '/')) {
            continue;
        }
        off = r->keep_prefix ? 0 : r->plen;
        if (try_root(c, s, r, path + off, plen - off)) {
            return serve(c);
        }
    }
    if (cfg.check_docroot) {
        /* --check-static-docroot: the DOCUMENT_ROOT the front server
         * sends (nginx's uwsgi_params); a client cannot set it over HTTP */
        const char *dr;
        size_t drl;
        char buf[PATH_MAX + 1], *real;

        dr = req_get(k, "DOCUMENT_ROOT", &drl);
        if (dr != NULL && drl > 0 && drl < sizeof(buf)) {
            memcpy(buf, dr, drl);
            buf[drl] = '\0';
            if ((real = realpath(buf, NULL)) != NULL) {
                struct root r = { "", 0, real, strlen(real), 0, 1, 0 };
                int hit;

                if (r.dlen == 1) {
                    r.dlen = 0;
                }
                hit = try_root(c, s, &r, path, plen);
                free(real);
                if (hit) {
                    return serve(c);
                }
            }
        }
    }
    return 0;
}

/* Send what is left of s without waiting. 0 done, -EAGAIN the socket is
 * full, other -errno the client is gone. */
static int
push(struct wf__core *c, struct st_core *s)
{
    int fd = c->conn->fd;

    if (s->status == 0) {
        return -ENOMEM;     /* no head could be composed */
    }
    while (s->woff < c->resp.wlen) {
        ssize_t w = send(fd, c->resp.wire + s->woff, c->resp.wlen - s->woff,
                         MSG_NOSIGNAL | MSG_DONTWAIT |
                         (s->off < s->end ? MSG_MORE : 0));

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        s->woff += (size_t)w;
        wf__xfer_count(&c->resp.tx, (size_t)w);
        s->since = wf__now_ms();
    }
    while (s->off < s->end) {
        size_t want = (size_t)(s->end - s->off);
        ssize_t w;

        /* bounded slices: other cores get a turn between two */
        if (want > 1 << 20) {
            want = 1 << 20;
        }
        w = sendfile(fd, s->fd, &s->off, want);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        if (w == 0) {
            /* the file shrank under us: the framing is now wrong */
            wf_log(WF_LOG_WARN, "static: a file shrank while it was sent; "
                   "connection closed");
            return -EIO;
        }
        c->resp.sent += (uint64_t)w;
        wf__xfer_count(&c->resp.tx, (size_t)w);
        s->since = wf__now_ms();
    }
    return 0;
}

static void
static_release(struct wf_core *pub)
{
    struct st_core *s = st_of(pub);

    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* The handler: push; on a full socket register a wait for writability
 * (bounded by --socket-timeout since the last byte taken) and return
 * WF_AGAIN, so the engine, the loop or the hub runs the others. */
static int
static_handle(struct wf_core *pub)
{
    struct wf__core *c = wf__core(pub);
    struct st_core *s = st_of(pub);
    int r;

    if (s->woff == 0 && s->since == 0) {
        s->since = wf__now_ms();
    }
    if (s->wait_from != 0) {
        /* the response's deadline counts the time spent waiting */
        c->resp.tx.waited += wf__now_ms() - s->wait_from;
        s->wait_from = 0;
    }
    wf_clear_ready(pub);
    r = push(c, s);
    if (r == -EAGAIN) {
        int64_t idle = wf__now_ms() - s->since;
        long left = wf_socket_timeout_ms() - (long)idle;
        int by_deadline;
        /* the response's deadline (--write-deadline, core/sched.c) */
        long dl = wf__client_wait_ms(c, WF_IO_WRITE, &by_deadline);

        by_deadline = by_deadline && dl <= left;
        if (by_deadline) {
            left = dl;
        }
        if (left <= 0) {
            r = wf__client_timed_out(c, WF_IO_WRITE, by_deadline);
        } else if ((r = wf_wait_fd(pub, c->conn->fd, WF_IO_WRITE)) == 0) {
            wf_wait_timer(pub, left);
            s->wait_from = wf__now_ms();
            return WF_AGAIN;
        }
    }
    if (r < 0) {
        c->resp.broken = 1;
        c->resp.close = 1;
    }
    static_release(pub);
    s->since = 0;
    s->wait_from = 0;
    return WF_DONE;
}

static const struct wf_lang_ops static_ops = {
    .handle = static_handle,
    .release = static_release,
};
