/*
 * Options: the core's table, the command line, --ini files, --help, and the
 * text of every option given (for uwsgi.opt). Master context only.
 *
 * Parsing is in two steps. wf__opt_collect() turns argv into a list of
 * (name, value, origin) and reads --ini files in place, without knowing the
 * options yet; main() then loads the plugins the list needs and applies each
 * value in order with wf__opt_apply(). So `--ugreen` works before or after
 * `--plugin ugreen`, and an ini file can name plugin options.
 */
#include "internal.h"
#include "static.h"
#include "stats.h"
#include "cheaper.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct wf__config wf__cfg;

static int opt_env(const struct wf_option *o, const char *v,
                   struct wf_err *err);
static int opt_unenv(const struct wf_option *o, const char *v,
                     struct wf_err *err);
static int opt_umask(const struct wf_option *o, const char *v,
                     struct wf_err *err);
static int opt_chmod_socket(const struct wf_option *o, const char *v,
                            struct wf_err *err);
static int opt_prefix_spaced(const struct wf_option *o, const char *v,
                             struct wf_err *err);

const struct wf_option wf__core_options[] = {
    { "http-socket", WF_OPT_LIST, &wf__cfg.http_sockets, NULL, 0, 0, 0,
      "serve HTTP/1.1 on ADDR (:8080, 127.0.0.1:8080, [::1]:8080, /path.sock)",
      0, NULL, "ADDR" },
    { "socket", WF_OPT_LIST, &wf__cfg.uwsgi_sockets, NULL, 0, 0, 0,
      "serve the uwsgi protocol (nginx uwsgi_pass) on ADDR", 's', NULL,
      "ADDR" },
    { "uwsgi-socket", WF_OPT_LIST, &wf__cfg.uwsgi_sockets, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --socket", 0, NULL, "ADDR" },
    { "http-socket-modifier1", WF_OPT_INT, &wf__cfg.http_modifier1, "0", 0,
      255, 0, "modifier1 (language) of requests on --http-socket", 0, NULL,
      "N" },
    { "plugin", WF_OPT_LIST, &wf__cfg.plugins, NULL, 0, 0, 0,
      "load plugins by name (comma-separated)", 0, NULL, "NAMES" },
    { "plugins", WF_OPT_LIST, &wf__cfg.plugins, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "same as --plugin", 0, NULL, "NAMES" },
    { "need-plugin", WF_OPT_LIST, &wf__cfg.plugins, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --plugin", 0, NULL, "NAMES" },
    { "plugins-dir", WF_OPT_LIST, &wf__cfg.plugins_dirs, NULL, 0, 0, 0,
      "look for plugins in DIR first", 0, NULL, "DIR" },
    { "plugin-dir", WF_OPT_LIST, &wf__cfg.plugins_dirs, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --plugins-dir", 0, NULL, "DIR" },
    { "ini", WF_OPT_LIST, NULL, NULL, 0, 0, 0,
      "read options from FILE[:section] (default section [uwsgi] or [weft])",
      0, NULL, "FILE" },
    { "async", WF_OPT_INT, &wf__cfg.async, "0", 0, 100000, 0,
      "run N async cores per worker (per thread with --threads)", 0, NULL,
      "N" },
    { "buffer-size", WF_OPT_SIZE, &wf__cfg.buffer_size, "4096", 512,
      1048576, 0, "largest request head (HTTP) or vars block (uwsgi)", 'b',
      NULL, "BYTES" },
    { "listen", WF_OPT_INT, &wf__cfg.listen, "100", 1, 65535, 0,
      "listen(2) backlog", 'l', NULL, "N" },
    { "socket-timeout", WF_OPT_INT, &wf__cfg.socket_timeout, "4", 1, 86400,
      0, "seconds a client may take to send a head, a body chunk, or to "
      "take a response chunk", 'z', NULL, "SECS" },
    { "max-vars", WF_OPT_INT, &wf__cfg.max_vars, "128", 16, 4096, 0,
      "most request variables (headers) per request", 0, NULL, "N" },
    { "processes", WF_OPT_INT, &wf__cfg.processes, "1", 1, 1024, 0,
      "worker processes", 'p', NULL, "N" },
    { "workers", WF_OPT_INT, &wf__cfg.processes, "1", 1, 1024,
      WF_OPT_F_HIDDEN, "same as --processes", 0, NULL, "N" },
    { "master", WF_OPT_FLAG, &wf__cfg.master, NULL, 0, 0, 0,
      "run a master process that keeps the workers alive", 'M', NULL, NULL },
    { "max-requests", WF_OPT_INT, &wf__cfg.max_requests, "0", 0, LONG_MAX,
      0, "a worker exits (and is respawned) after N requests", 'R', NULL,
      "N" },
    { "max-conns", WF_OPT_INT, &wf__cfg.max_conns, "0", 0, 1000000, 0,
      "most client connections per worker; idle and slow ones need no "
      "core (default 0: 2 x cores + 32)", 0, NULL, "N" },
    { "worker-reload-mercy", WF_OPT_INT, &wf__cfg.reload_mercy, "60", 0,
      86400, 0, "seconds a stopping worker waits for its requests before "
      "cancelling them", 0, NULL, "SECS" },
    { "harakiri", WF_OPT_INT, &wf__cfg.harakiri, "0", 0, 86400, 0,
      "a request suspended longer than SECS is cancelled alone (504); a "
      "worker whose loop is blocked that long is killed and replaced",
      't', NULL, "SECS" },
    { "harakiri-verbose", WF_OPT_FLAG, &wf__cfg.harakiri_verbose, NULL, 0,
      0, 0, "log the stack of every cancelled request", 0, NULL, NULL },
    { "lazy-apps", WF_OPT_FLAG, &wf__cfg.lazy_apps, NULL, 0, 0, 0,
      "load the app in each worker after fork (a reload then loads new "
      "code)", 0, NULL, NULL },
    { "touch-reload", WF_OPT_LIST, &wf__cfg.touch_reload, NULL, 0, 0, 0,
      "replace the workers when FILE's mtime changes (repeatable)", 0, NULL,
      "FILE" },
    { "reload-on-rss", WF_OPT_INT, &wf__cfg.reload_on_rss, "0", 0, 1048576,
      0, "replace a worker whose resident memory passes MB", 0, NULL,
      "MB" },
    { "max-worker-lifetime", WF_OPT_INT, &wf__cfg.max_worker_lifetime, "0",
      0, 31536000, 0, "replace a worker after SECS", 0, NULL, "SECS" },
    { "limit-post", WF_OPT_SIZE, &wf__cfg.limit_post, "0", 0, LONG_MAX, 0,
      "refuse request bodies larger than BYTES with 413", 0, NULL,
      "BYTES" },
    { "post-buffering", WF_OPT_SIZE, &wf__cfg.post_buffering, "0", 0,
      LONG_MAX, 0, "read each request body whole before the app runs: up "
      "to BYTES in memory, larger ones in a temp file (0: stream it)", 0,
      NULL, "BYTES" },
    { "post-buffering-bufsize", WF_OPT_SIZE, &wf__cfg.post_buffering_bufsize,
      "8192", 512, 16777216, 0, "bytes read from the socket at a time "
      "while post-buffering", 0, NULL, "BYTES" },
    { "http-timeout", WF_OPT_INT, &wf__cfg.http_timeout, "0", 0, 86400, 0,
      "seconds a client may take to send a request head, or to send its "
      "next one on a kept-alive connection (0: --socket-timeout)", 0, NULL,
      "SECS" },
    { "body-deadline", WF_OPT_INT, &wf__cfg.body_deadline, "60", 0, 86400,
      0, "seconds a client may keep a request waiting for its body in "
      "all, plus one per --body-min-rate bytes received (0: none; each "
      "stall is --socket-timeout)", 0, NULL, "SECS" },
    { "body-min-rate", WF_OPT_SIZE, &wf__cfg.body_min_rate, "1024", 0,
      LONG_MAX, 0, "bytes per second a request body must keep up, past "
      "--body-deadline's grace (0: the deadline is absolute)", 0, NULL,
      "BYTES" },
    { "write-deadline", WF_OPT_INT, &wf__cfg.write_deadline, "60", 0, 86400,
      0, "seconds a client may keep a response waiting in all, plus one "
      "per --write-min-rate bytes sent (0: none; each stall is "
      "--socket-timeout)", 0, NULL, "SECS" },
    { "write-min-rate", WF_OPT_SIZE, &wf__cfg.write_min_rate, "1024", 0,
      LONG_MAX, 0, "bytes per second a client must take a response at, "
      "past --write-deadline's grace (0: the deadline is absolute)", 0,
      NULL, "BYTES" },
    { "max-fd", WF_OPT_INT, &wf__cfg.max_fd, "0", 0, 1048576, 0,
      "raise the open files limit (RLIMIT_NOFILE) to N", 0, NULL, "N" },
    { "uid", WF_OPT_STR, &wf__cfg.uid, NULL, 0, 0, 0,
      "drop privileges to this user after binding the sockets", 0, NULL,
      "USER" },
    { "gid", WF_OPT_STR, &wf__cfg.gid, NULL, 0, 0, 0,
      "drop privileges to this group after binding the sockets", 0, NULL,
      "GROUP" },
    { "daemonize", WF_OPT_STR, &wf__cfg.daemonize, NULL, 0, 0, 0,
      "run in the background, logging to FILE", 'd', NULL, "FILE" },
    { "die-on-term", WF_OPT_FLAG, NULL, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "accepted for uWSGI compatibility: SIGTERM always stops weft "
      "(gracefully); SIGHUP reloads", 0, NULL, NULL },
    { "vacuum", WF_OPT_FLAG, &wf__cfg.vacuum, NULL, 0, 0, 0,
      "on exit, remove the UNIX sockets and the pidfile weft created", 0,
      NULL, NULL },
    { "need-app", WF_OPT_FLAG, NULL, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "accepted for uWSGI compatibility: weft always needs an app", 0,
      NULL, NULL },
    { "strict", WF_OPT_FLAG, &wf__cfg.strict, NULL, 0, 0, 0,
      "also refuse ini keys that are only used as %(variables) (unknown "
      "options are always refused)", 0, NULL, NULL },
    { "single-interpreter", WF_OPT_FLAG, NULL, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "accepted for uWSGI compatibility: weft runs one interpreter per "
      "process", 0, NULL, NULL },
    { "thunder-lock", WF_OPT_FLAG, NULL, NULL, 0, 0, WF_OPT_F_HIDDEN,
      "accepted for uWSGI compatibility: weft's workers accept from "
      "non-blocking sockets, no lock needed", 0, NULL, NULL },
    { "threads", WF_OPT_INT, &wf__cfg.threads, "1", 0, WF__MAX_THREADS, 0,
      "run N threads per worker, each its own loop of --async cores (or "
      "one): N x cores requests at once; Python releases the GIL while a "
      "thread waits; 0 is 1, as in uWSGI", 0, NULL, "N" },
    { "threads-stacksize", WF_OPT_INT, &wf__cfg.threads_stacksize, "0", 0,
      1048576, 0, "C stack of each --threads loop thread but the first, in "
      "KiB; 0 keeps the system's (ulimit -s)", 0, NULL, "KIB" },
    { "thread-stacksize", WF_OPT_INT, &wf__cfg.threads_stacksize, "0", 0,
      1048576, WF_OPT_F_HIDDEN, "same as --threads-stacksize", 0, NULL,
      "KIB" },
    { "threads-stack-size", WF_OPT_INT, &wf__cfg.threads_stacksize, "0", 0,
      1048576, WF_OPT_F_HIDDEN, "same as --threads-stacksize", 0, NULL,
      "KIB" },
    { "thread-stack-size", WF_OPT_INT, &wf__cfg.threads_stacksize, "0", 0,
      1048576, WF_OPT_F_HIDDEN, "same as --threads-stacksize", 0, NULL,
      "KIB" },
    { "procname", WF_OPT_STR, &wf__cfg.procname, NULL, 0, 0, 0,
      "title of the worker processes (ps, /proc/PID/cmdline)", 0, NULL,
      "NAME" },
    { "procname-master", WF_OPT_STR, &wf__cfg.procname_master, NULL, 0, 0,
      0, "title of the master process", 0, NULL, "NAME" },
    { "procname-prefix", WF_OPT_STR, &wf__cfg.procname_prefix, NULL, 0, 0,
      0, "put PREFIX in front of every process title (also of "
      "--procname-master, as uWSGI)", 0, NULL, "PREFIX" },
    { "procname-prefix-spaced", WF_OPT_STR, NULL, NULL, 0, 0, 0,
      "--procname-prefix followed by a space", 0, opt_prefix_spaced,
      "PREFIX" },
    { "auto-procname", WF_OPT_FLAG, &wf__cfg.auto_procname, NULL, 0, 0, 0,
      "title the processes 'weft master' and 'weft worker N'", 0, NULL,
      NULL },
    { "idle", WF_OPT_INT, &wf__cfg.idle, "0", 0, 86400, 0,
      "a worker that served nothing for SECS stops; the next connection "
      "starts it again (needs --master)", 0, NULL, "SECS" },
    { "chdir", WF_OPT_STR, &wf__cfg.chdir, NULL, 0, 0, 0,
      "change to DIR before loading the app", 0, NULL, "DIR" },
    { "env", WF_OPT_STR, NULL, NULL, 0, 0, 0,
      "set an environment variable before the app loads (repeatable)", 0,
      opt_env, "NAME=VALUE" },
    { "unenv", WF_OPT_STR, NULL, NULL, 0, 0, 0,
      "remove an environment variable (repeatable)", 0, opt_unenv,
      "NAME" },
    { "umask", WF_OPT_STR, NULL, NULL, 0, 0, 0,
      "set the process umask (octal), before the sockets are made", 0,
      opt_umask, "MODE" },
    { "chmod-socket", WF_OPT_STR, NULL, NULL, 0, 0, WF_OPT_F_OPTVAL,
      "mode of the UNIX sockets (3 octal digits; alone: 666); default: "
      "what the umask gives", 0, opt_chmod_socket, "[MODE]" },
    { "chown-socket", WF_OPT_STR, &wf__cfg.chown_socket, NULL, 0, 0, 0,
      "owner of the UNIX sockets (default with --uid/--gid: those)", 0,
      NULL, "USER[:GROUP]" },
    { "reuse-port", WF_OPT_FLAG, &wf__cfg.reuse_port, NULL, 0, 0, 0,
      "bind TCP sockets with SO_REUSEPORT (several instances on one port)",
      0, NULL, NULL },
    { "http", WF_OPT_LIST, &wf__cfg.http_routers, NULL, 0, 0, 0,
      "uWSGI's HTTP router: weft serves HTTP on ADDR itself (as "
      "--http-socket)", 0, NULL, "ADDR" },
    { "min-worker-lifetime", WF_OPT_INT, &wf__cfg.min_worker_lifetime, "0",
      0, 86400, 0, "--max-requests and --reload-on-rss replace no worker "
      "younger than SECS (uWSGI's default is 60)", 0, NULL, "SECS" },
    { "reload-mercy", WF_OPT_INT, &wf__cfg.master_mercy, "0", 0, 86400, 0,
      "seconds the master waits for stopping workers before killing them "
      "(0: --worker-reload-mercy + 5)", 0, NULL, "SECS" },
    { "disable-logging", WF_OPT_FLAG, &wf__cfg.disable_logging, NULL, 0, 0,
      0, "no request log lines", 'L', NULL, NULL },
    { "pidfile", WF_OPT_STR, &wf__cfg.pidfile, NULL, 0, 0, 0,
      "write the master's pid to FILE", 0, NULL, "FILE" },
    { "logto", WF_OPT_STR, &wf__cfg.logto, NULL, 0, 0, 0,
      "append the log to FILE instead of stderr", 0, NULL, "FILE" },
    { "io-engine", WF_OPT_STR, &wf__cfg.io_engine, NULL, 0, 0, 0,
      "I/O engine plugin (default: the best that works here)", 0, NULL,
      "NAME" },
    { "loop", WF_OPT_STR, &wf__cfg.loop, NULL, 0, 0, 0,
      "the worker's loop: async (the core's own, default) or a loop "
      "engine plugin such as gevent", 0, NULL, "NAME" },
    { "help", WF_OPT_FLAG, &wf__cfg.help, NULL, 0, 0, 0,
      "show the options of the core and of every plugin found", 'h', NULL,
      NULL },
    { "help-man", WF_OPT_FLAG, &wf__cfg.help_man, NULL, 0, 0, 0,
      "print the weft(1) man page (roff) made from the option tables", 0,
      NULL, NULL },
    { "version", WF_OPT_FLAG, &wf__cfg.version, NULL, 0, 0, 0,
      "print the version", 0, NULL, NULL },
    { "list-plugins", WF_OPT_FLAG, &wf__cfg.list_plugins, NULL, 0, 0, 0,
      "list the plugins found: kind, file, what each needs", 0, NULL, NULL },
    { NULL }
};

/* The core's option tables: the one above, then those of the core files
 * that keep their options beside their code (static files, stats, logs). */
static const struct wf_option *const core_tables[] = {
    wf__core_options, wf__static_options, wf__stats_options,
    wf__log_options, wf__cheaper_options, NULL
};
#define FOR_CORE_OPTION(t, o) \
    for ((t) = core_tables; *(t); (t)++) for ((o) = *(t); (o)->name; (o)++)

/* --env NAME=VALUE: set at once, so that the app (and %(...)?) sees it. */
static int
opt_env(const struct wf_option *o, const char *v, struct wf_err *err)
{
    const char *eq = strchr(v, '=');
    char name[256];

    (void)o;
    if (eq == NULL || eq == v || (size_t)(eq - v) >= sizeof(name)) {
        return wf_err_set(err, "--env %s: want NAME=VALUE", v);
    }
    snprintf(name, sizeof(name), "%.*s", (int)(eq - v), v);
    if (setenv(name, eq + 1, 1) < 0) {
        return wf_err_set(err, "--env %s: %s", v, strerror(errno));
    }
    return 0;
}

static int
opt_unenv(const struct wf_option *o, const char *v, struct wf_err *err)
{
    (void)o;
    if (unsetenv(v) < 0) {
        return wf_err_set(err, "--unenv %s: %s; give a variable name", v,
                          strerror(errno));
    }
    return 0;
}

static int
parse_mode(const char *v, long *out)
{
    char *end;
    long m;

    if (v == NULL || *v == '\0') {
        return -1;
    }
    errno = 0;
    m = strtol(v, &end, 8);
    if (errno != 0 || *end != '\0' || m < 0 || m > 0777) {
        return -1;
    }
    *out = m;
    return 0;
}

static int
opt_umask(const struct wf_option *o, const char *v, struct wf_err *err)
{
    long m;

    (void)o;
    if (parse_mode(v, &m) < 0) {
        return wf_err_set(err, "--umask %s: not an octal mode; write e.g. "
                          "022", v);
    }
    umask((mode_t)m);
    return 0;
}

static int
opt_prefix_spaced(const struct wf_option *o, const char *v,
                  struct wf_err *err)
{
    size_t n = strlen(v);

    (void)o;
    free(wf__cfg.procname_prefix);
    wf__cfg.procname_prefix = malloc(n + 2);
    if (wf__cfg.procname_prefix == NULL) {
        return wf_err_set(err, "out of memory");
    }
    memcpy(wf__cfg.procname_prefix, v, n);
    memcpy(wf__cfg.procname_prefix + n, " ", 2);
    return 0;
}

/* uWSGI's values: 3 octal digits, or "1" (and nothing at all) for 666. */
static int
opt_chmod_socket(const struct wf_option *o, const char *v,
                 struct wf_err *err)
{
    long m;

    (void)o;
    if (v == NULL || strcmp(v, "1") == 0) {
        wf__cfg.chmod_socket = 0666;
        return 0;
    }
    if (strlen(v) != 3 || parse_mode(v, &m) < 0) {
        return wf_err_set(err, "--chmod-socket %s: invalid mode; give 3 "
                          "octal digits such as 660 (or no value for 666)",
                          v);
    }
    wf__cfg.chmod_socket = (int)m;
    return 0;
}

/* ------------------------------------------------------------ the record */

struct rec {
    char *name;
    char *value;
    int given;
};
static struct rec *recs;
static size_t nrecs, caprecs;

/* See internal.h. */
void
wf__opt_record(const char *name, const char *value, int given)
{
    size_t i;

    for (i = 0; i < nrecs; i++) {
        if (strcmp(recs[i].name, name) == 0) {
            free(recs[i].value);
            recs[i].value = strdup(value ? value : "true");
            recs[i].given |= given;
            return;
        }
    }
    if (nrecs == caprecs) {
        caprecs = caprecs ? caprecs * 2 : 32;
        recs = realloc(recs, caprecs * sizeof(*recs));
        if (recs == NULL) {
            WF_BUG("out of memory recording options");
        }
    }
    recs[nrecs].name = strdup(name);
    recs[nrecs].value = strdup(value ? value : "true");
    recs[nrecs].given = given;
    nrecs++;
}

/* See option.h. */
WF_API long
wf_opt_long(const char *name, long def)
{
    const char *v = wf_opt_get(name);
    char *end;
    long n;

    if (v == NULL) {
        return def;
    }
    n = strtol(v, &end, 10);
    return end == v ? def : n;
}

/* See core.h. */
WF_API void
wf_opt_foreach(void (*fn)(const char *name, const char *value, int given,
                          void *arg), void *arg)
{
    size_t i;

    for (i = 0; i < nrecs; i++) {
        fn(recs[i].name, recs[i].value, recs[i].given, arg);
    }
}

/* See core.h. */
WF_API int
wf_opt_set(const char *name, const char *value, struct wf_err *err)
{
    const struct wf_plugin *owner;
    const struct wf_option *o = wf__opt_find(name, &owner);
    struct wf__optval v = { (char *)name, (char *)value, "set by a plugin" };

    if (o == NULL) {
        return wf_err_set(err, "--%s: no such option", name);
    }
    return wf__opt_apply(o, &v, err);
}

/* See option.h. */
WF_API const char *
wf_opt_get(const char *name)
{
    size_t i;

    for (i = 0; i < nrecs; i++) {
        if (strcmp(recs[i].name, name) == 0) {
            return recs[i].value;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ collecting */

static int
push_val(struct wf__optval **vals, size_t *n, size_t *cap, const char *name,
         size_t nlen, const char *value, const char *origin)
{
    struct wf__optval *v;

    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct wf__optval *nv = realloc(*vals, ncap * sizeof(**vals));

        if (nv == NULL) {
            return -1;
        }
        *vals = nv;
        *cap = ncap;
    }
    v = &(*vals)[(*n)++];
    v->name = strndup(name, nlen);
    /* uWSGI accepts both spellings: --http_socket is --http-socket */
    for (char *p = v->name; *p; p++) {
        if (*p == '_') {
            *p = '-';
        }
    }
    v->value = value ? strdup(value) : NULL;
    v->origin = strdup(origin);
    v->var = 0;
    return 0;
}

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}

/* The ini file being read, for its magic variables (%d, %n, ...). */
struct ini_ctx {
    const char *given;          /* the path as given (%o) */
    char real[PATH_MAX];        /* its absolute path (%p) */
    const char *section;        /* the section read (%x) */
    const char *origin;         /* "file:line" */
};

/* A growing output buffer for expand(). */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = (b->len + n + 1) * 2;
        char *np = realloc(b->p, ncap);

        if (np == NULL) {
            return -1;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* The last value collected for `name` (either spelling), marking it as
 * read as a variable; NULL when none. */
static const char *
lookup_var(struct wf__optval *vals, size_t n, const char *name, size_t nlen)
{
    size_t i, k;

    for (i = n; i > 0; i--) {
        const char *vn = vals[i - 1].name;

        for (k = 0; k < nlen; k++) {
            char c = name[k] == '_' ? '-' : name[k];

            if (vn[k] != c) {
                break;
            }
        }
        if (k == nlen && vn[k] == '\0') {
            if (vals[i - 1].var == 0) {
                vals[i - 1].var = 1;
            }
            return vals[i - 1].value ? vals[i - 1].value : "true";
        }
    }
    return NULL;
}

/*
 * uWSGI's ini expansions in a value: $(ENV) from the environment, the
 * magic variables %d (the file's directory, with a slash), %p (its
 * absolute path), %s (its name), %n (its name without the extension), %e
 * (the extension), %c (the directory's own name), %o (the path as
 * given), %x (the section), %h (host name), %k (CPU count), %u / %U (uid,
 * user name), %g / %G (gid, group name), %% (a percent), and %(name),
 * the last value given so far to option or variable `name`. Anything
 * else after a % stays as it is, as in uWSGI. Returns a malloc'd string,
 * or NULL with err ("file:line: ...; fix").
 */
static char *
expand(const char *in, const struct ini_ctx *ctx, struct wf__optval *vals,
       size_t n, struct wf_err *err)
{
    struct sbuf b = { NULL, 0, 0 };
    const char *p = in;
    char tmp[PATH_MAX];

    if (sb_add(&b, "", 0) < 0) {
        goto oom;
    }
    while (*p) {
        const char *add = NULL;
        size_t addlen = 0;

        if (p[0] == '$' && p[1] == '(') {
            const char *close = strchr(p + 2, ')');
            char name[256];

            if (close == NULL || (size_t)(close - p - 2) >= sizeof(name)) {
                wf_err_set(err, "%s: '$(' without ')'; write $(NAME) for "
                           "the environment variable NAME", ctx->origin);
                goto fail;
            }
            snprintf(name, sizeof(name), "%.*s", (int)(close - p - 2),
                     p + 2);
            add = getenv(name);
            if (add == NULL) {
                /* uWSGI keeps "$(NAME)" as it is; a value holding that
                 * text is never what the file meant */
                wf_err_set(err, "%s: $(%s): no such environment variable; "
                           "set it in the service's environment (or "
                           "Environment= in its systemd unit)",
                           ctx->origin, name);
                goto fail;
            }
            addlen = strlen(add);
            p = close + 1;
        } else if (p[0] == '%' && p[1] == '(') {
            const char *close = strchr(p + 2, ')');

            if (close == NULL) {
                wf_err_set(err, "%s: '%%(' without ')'; write %%(NAME) for "
                           "the value of NAME", ctx->origin);
                goto fail;
            }
            add = lookup_var(vals, n, p + 2, (size_t)(close - p - 2));
            if (add == NULL) {
                wf_err_set(err, "%s: %%(%.*s): not set above this line; "
                           "define it first (%.*s = VALUE)", ctx->origin,
                           (int)(close - p - 2), p + 2,
                           (int)(close - p - 2), p + 2);
                goto fail;
            }
            addlen = strlen(add);
            p = close + 1;
        } else if (p[0] == '%' && p[1] != '\0' && ctx != NULL) {
            const char *base = strrchr(ctx->real, '/');
            const char *dot;

            base = base ? base + 1 : ctx->real;
            dot = strrchr(base, '.');
            tmp[0] = '\0';
            switch (p[1]) {
            case '%':
                add = "%";
                break;
            case 'd':
                snprintf(tmp, sizeof(tmp), "%.*s", (int)(base - ctx->real),
                         ctx->real);
                add = tmp;
                break;
            case 'p':
                add = ctx->real;
                break;
            case 's':
                add = base;
                break;
            case 'n':
                snprintf(tmp, sizeof(tmp), "%.*s",
                         (int)(dot ? (size_t)(dot - base) : strlen(base)),
                         base);
                add = tmp;
                break;
            case 'e':
                add = dot ? dot + 1 : "";
                break;
            case 'c': {
                const char *end = base - 1, *st;

                st = end;
                while (st > ctx->real && st[-1] != '/') {
                    st--;
                }
                snprintf(tmp, sizeof(tmp), "%.*s", (int)(end - st), st);
                add = tmp;
                break;
            }
            case 'o':
                add = ctx->given;
                break;
            case 'x':
                add = ctx->section;
                break;
            case 'h':
                gethostname(tmp, sizeof(tmp) - 1);
                tmp[sizeof(tmp) - 1] = '\0';
                add = tmp;
                break;
            case 'k':
                snprintf(tmp, sizeof(tmp), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
                add = tmp;
                break;
            case 'u':
                snprintf(tmp, sizeof(tmp), "%d", (int)getuid());
                add = tmp;
                break;
            case 'g':
                snprintf(tmp, sizeof(tmp), "%d", (int)getgid());
                add = tmp;
                break;
            case 'U': {
                struct passwd *pw = getpwuid(getuid());

                snprintf(tmp, sizeof(tmp), "%s", pw ? pw->pw_name : "");
                add = tmp;
                break;
            }
            case 'G': {
                struct group *gr = getgrgid(getgid());

                snprintf(tmp, sizeof(tmp), "%s", gr ? gr->gr_name : "");
                add = tmp;
                break;
            }
            }
            if (add != NULL) {
                addlen = strlen(add);
                p += 2;
            }
        }
        if (add == NULL) {
            add = p++;
            addlen = 1;
        }
        if (b.len + addlen > WF__INI_VALUE_MAX) {
            wf_err_set(err, "%s: the value grows past %d bytes with its "
                       "expansions; shorten it (found by fuzz/)",
                       ctx ? ctx->origin : "", WF__INI_VALUE_MAX);
            goto fail;
        }
        if (sb_add(&b, add, addlen) < 0) {
            goto oom;
        }
    }
    return b.p;
oom:
    wf_err_set(err, "out of memory reading %s", ctx ? ctx->origin : "");
fail:
    free(b.p);
    return NULL;
}

/* See internal.h. */
char *
wf__ini_expand(const char *value, const char *file, const char *section,
               struct wf__optval *vals, size_t n, struct wf_err *err)
{
    struct ini_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.given = file ? file : "";
    if (file == NULL || realpath(file, ctx.real) == NULL) {
        snprintf(ctx.real, sizeof(ctx.real), "%s", ctx.given);
    }
    ctx.section = section ? section : "";
    ctx.origin = "test";
    return expand(value, &ctx, vals, n, err);
}

static int ini_read(const char *spec, const char *self, int depth,
                    struct wf__optval **vals, size_t *n, size_t *cap,
                    struct wf_err *err);

/* ini files including ini files: at most this deep */
#define INI_MAX_DEPTH 16

/* See internal.h. */
int
wf__ini_read(const char *spec, struct wf__optval **vals, size_t *n,
             size_t *cap, struct wf_err *err)
{
    return ini_read(spec, NULL, 0, vals, n, cap, err);
}

/*
 * Read FILE[:section] (":section" alone: a section of `self`, the file
 * being read). A key given several times appends one value per line (a
 * list option keeps them all, another option keeps the last). `ini =`
 * inside a section reads that file or section there, in place.
 */
static int
ini_read(const char *spec, const char *self, int depth,
         struct wf__optval **vals, size_t *n, size_t *cap,
         struct wf_err *err)
{
    char path[PATH_MAX], origin[PATH_MAX + 32], line[WF__INI_LINE_MAX];
    const char *want = NULL, *colon;
    int in_section = 0, found_section = 0, lineno = 0;
    struct ini_ctx ctx;
    FILE *f;

    if (depth > INI_MAX_DEPTH) {
        /* an ini that includes itself, or a cycle: bounded (found by
         * fuzz/) */
        return wf_err_set(err, "ini = %s: ini files included more than %d "
                          "deep; an include cycle?", spec, INI_MAX_DEPTH);
    }
    colon = strrchr(spec, ':');
    snprintf(path, sizeof(path), "%s", spec);
    if (spec[0] == ':' && self != NULL) {
        /* ini = :section, in the file being read (uWSGI's inheritance) */
        snprintf(path, sizeof(path), "%s", self);
        want = spec + 1;
    } else if (colon != NULL) {
        /* FILE:section, but a path may hold a ':' itself: split at the
         * last ':' only when what precedes it is a file */
        char head[PATH_MAX];

        snprintf(head, sizeof(head), "%.*s", (int)(colon - spec), spec);
        f = fopen(head, "r");
        if (f != NULL) {
            fclose(f);
            snprintf(path, sizeof(path), "%s", head);
            want = colon + 1;
        }
    }
    if (want != NULL && *want == '\0') {
        want = NULL;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return wf_err_set(err, "--ini %s: %s; give the path of an ini file",
                          path, strerror(errno));
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.given = path;
    if (realpath(path, ctx.real) == NULL) {
        snprintf(ctx.real, sizeof(ctx.real), "%s", path);
    }
    ctx.origin = origin;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq, *key, *val, *xval = NULL;
        int r;

        lineno++;
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (strchr(line, '\n') == NULL && strlen(line) == sizeof(line) - 1
            && (r = getc(f)) != EOF && r != '\n') {
            /* fgets stopped at the buffer's end: the rest of the line
             * would otherwise be read as a line of its own */
            fclose(f);
            return wf_err_set(err, "%s: a line longer than %d bytes; "
                              "shorten it", origin, WF__INI_LINE_MAX - 1);
        }
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';') {
            continue;
        }
        if (*s == '[') {
            char *end = strchr(s, ']');

            if (end == NULL) {
                fclose(f);
                return wf_err_set(err, "%s: section header without ']'",
                                  origin);
            }
            *end = '\0';
            s = trim(s + 1);
            in_section = want ? strcmp(s, want) == 0
                              : (strcmp(s, "uwsgi") == 0 ||
                                 strcmp(s, "weft") == 0);
            found_section |= in_section;
            ctx.section = want ? want : "";
            continue;
        }
        if (!in_section) {
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            /* a bare name is a flag: "master" alone means master = true */
            key = s;
            val = NULL;
        } else {
            *eq = '\0';
            key = trim(s);
            val = trim(eq + 1);
        }
        if (*key == '\0') {
            fclose(f);
            return wf_err_set(err, "%s: a line with no option name; write "
                              "name = value", origin);
        }
        if (val != NULL) {
            xval = expand(val, &ctx, *vals, *n, err);
            if (xval == NULL) {
                fclose(f);
                return -1;
            }
        }
        if (strcmp(key, "ini") == 0 && xval != NULL) {
            if (depth + 1 > INI_MAX_DEPTH) {
                /* an ini that includes itself, or a cycle: bounded
                 * (found by fuzz/) */
                wf_err_set(err, "%s: ini = %s: ini files included more "
                           "than %d deep; an include cycle?", origin, xval,
                           INI_MAX_DEPTH);
                free(xval);
                fclose(f);
                return -1;
            }
            r = ini_read(xval, ctx.real, depth + 1, vals, n, cap, err);
            free(xval);
            if (r < 0) {
                fclose(f);
                return -1;
            }
            continue;
        }
        if ((strcmp(key, "set-placeholder") == 0 ||
             strcmp(key, "set-ph") == 0) && xval != NULL) {
            char *e2 = strchr(xval, '=');

            if (e2 == NULL || e2 == xval) {
                /* "=VALUE" would define a variable with no name (found
                 * by fuzz/) */
                free(xval);
                fclose(f);
                return wf_err_set(err, "%s: %s needs NAME=VALUE", origin,
                                  key);
            }
            r = push_val(vals, n, cap, xval, (size_t)(e2 - xval), e2 + 1,
                         origin);
            free(xval);
            if (r < 0) {
                fclose(f);
                return wf_err_set(err, "out of memory reading %s", path);
            }
            (*vals)[*n - 1].var = 2;
            continue;
        }
        r = push_val(vals, n, cap, key, strlen(key), xval, origin);
        free(xval);
        if (r < 0) {
            fclose(f);
            return wf_err_set(err, "out of memory reading %s", path);
        }
    }
    fclose(f);
    if (!found_section) {
        return wf_err_set(err, "--ini %s: no [%s] section; name it with "
                          "--ini %s:SECTION", path, want ? want : "uwsgi",
                          path);
    }
    return 0;
}

/* The core options by short name; plugin options may have one too. */
static const struct wf_option *
find_short(char s, const struct wf_plugin **owner)
{
    const struct wf_plugin *const *all;
    const struct wf_option *const *t;
    const struct wf_option *o;
    unsigned n, i;

    *owner = NULL;
    FOR_CORE_OPTION(t, o) {
        if (o->short_name == s) {
            return o;
        }
    }
    all = wf__plugin_all(&n);
    for (i = 0; i < n; i++) {
        for (o = all[i]->options; o && o->name; o++) {
            if (o->short_name == s) {
                *owner = all[i];
                return o;
            }
        }
    }
    return NULL;
}

/* Short names known before plugins are loaded: the plugins' own short
 * names are resolved by scanning (see main.c) so -w works at once. */
static const struct {
    char s;
    const char *name;
} plugin_shorts[] = {
    { 'w', "module" },
    { 'H', "home" },
};

/* Flags (options that take no value) known to the core; a plugin's flag
 * given on the command line is recognised after it loads (see
 * wf__opt_apply: a flag given a value that is not a boolean keeps the
 * value as the next argument). */
static int
core_is_flag(const char *name)
{
    const struct wf_option *const *t;
    const struct wf_option *o;

    FOR_CORE_OPTION(t, o) {
        if (strcmp(o->name, name) == 0) {
            return o->type == WF_OPT_FLAG;
        }
    }
    return -1;
}

/*
 * Whether `name` is a flag (1) or takes a value (0): the core's table, a
 * loaded plugin's, or the plugin that owns it on disk. -1 for a name no
 * table knows: it takes the next argument as its value only when that
 * one is not an option (the error, "unknown option", comes when the
 * option is applied, with the closest known names).
 */
static int
is_flag(const char *name)
{
    const struct wf_plugin *owner;
    const struct wf_option *o;
    int r = core_is_flag(name);
    char *pname;

    if (r >= 0) {
        return r;
    }
    o = wf__opt_find(name, &owner);
    if (o != NULL) {
        return o->type == WF_OPT_FLAG;
    }
    pname = wf__plugin_owner_of(name);
    if (pname != NULL) {
        struct wf_err err;
        const struct wf_plugin *p = wf__plugin_load(pname, &err);

        free(pname);
        if (p != NULL) {
            o = wf__opt_find(name, &owner);
            if (o != NULL) {
                return o->type == WF_OPT_FLAG;
            }
        }
    }
    return -1;
}

static int collect(int argc, char **argv, struct wf__optval **vals,
                   size_t *n, struct wf_err *err);

/* See internal.h. On failure nothing is left allocated. */
int
wf__opt_collect(int argc, char **argv, struct wf__optval **vals, size_t *n,
                struct wf_err *err)
{
    if (collect(argc, argv, vals, n, err) < 0) {
        wf__opt_free(*vals, *n);
        *vals = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static int
collect(int argc, char **argv, struct wf__optval **vals, size_t *n,
        struct wf_err *err)
{
    size_t cap = 0;
    int i;

    *vals = NULL;
    *n = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *value = NULL;
        char nbuf[256];
        size_t nlen;

        if (a[0] != '-' || a[1] == '\0') {
            return wf_err_set(err, "'%s': not an option; options start with "
                              "--, see weft --help", a);
        }
        if (a[1] != '-') {
            /* -x [value] */
            const struct wf_plugin *owner;
            const struct wf_option *o = find_short(a[1], &owner);
            size_t k;

            name = NULL;
            if (o != NULL) {
                name = o->name;
            }
            for (k = 0; name == NULL &&
                        k < sizeof(plugin_shorts) / sizeof(*plugin_shorts);
                 k++) {
                if (plugin_shorts[k].s == a[1]) {
                    name = plugin_shorts[k].name;
                }
            }
            if (name == NULL) {
                return wf_err_set(err, "-%c: unknown option; see weft --help",
                                  a[1]);
            }
            nlen = strlen(name);
            if (a[2] != '\0') {
                value = a + 2;
            } else if (is_flag(name) != 1) {
                if (i + 1 >= argc) {
                    return wf_err_set(err, "-%c (--%s) needs a value", a[1],
                                      name);
                }
                value = argv[++i];
            }
        } else {
            name = a + 2;
            eq = strchr(name, '=');
            if (eq != NULL) {
                nlen = (size_t)(eq - name);
                value = eq + 1;
            } else {
                nlen = strlen(name);
                snprintf(nbuf, sizeof(nbuf), "%.*s", (int)nlen, name);
                for (char *p = nbuf; *p; p++) {
                    if (*p == '_') {
                        *p = '-';
                    }
                }
                int fl = is_flag(nbuf);

                if (fl < 0) {
                    if (i + 1 < argc && argv[i + 1][0] != '-') {
                        value = argv[++i];
                    }
                } else if (fl == 0 && wf__opt_optional_value(nbuf)) {
                    if (i + 1 < argc && argv[i + 1][0] != '-') {
                        value = argv[++i];
                    }
                } else if (fl == 0) {
                    if (i + 1 >= argc) {
                        return wf_err_set(err, "--%s needs a value; see "
                                          "weft --help", nbuf);
                    }
                    value = argv[++i];
                }
            }
        }
        if (nlen == 3 && strncmp(name, "ini", 3) == 0) {
            if (value == NULL) {
                return wf_err_set(err, "--ini needs a FILE");
            }
            if (wf__ini_read(value, vals, n, &cap, err) < 0) {
                return -1;
            }
            continue;
        }
        if (((nlen == 15 && strncmp(name, "set-placeholder", 15) == 0) ||
             (nlen == 6 && strncmp(name, "set-ph", 6) == 0)) && value) {
            const char *e2 = strchr(value, '=');

            if (e2 == NULL || e2 == value) {
                return wf_err_set(err, "--%.*s %s: want NAME=VALUE",
                                  (int)nlen, name, value);
            }
            if (push_val(vals, n, &cap, value, (size_t)(e2 - value), e2 + 1,
                         "command line") < 0) {
                return wf_err_set(err, "out of memory");
            }
            (*vals)[*n - 1].var = 2;
            continue;
        }
        if (push_val(vals, n, &cap, name, nlen, value, "command line") < 0) {
            return wf_err_set(err, "out of memory");
        }
    }
    return 0;
}

/* See internal.h. */
void
wf__opt_free(struct wf__optval *vals, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(vals[i].name);
        free(vals[i].value);
        free(vals[i].origin);
    }
    free(vals);
}

/* ------------------------------------------------------------- applying */

/* See internal.h. */
const struct wf_option *
wf__opt_find(const char *name, const struct wf_plugin **owner)
{
    const struct wf_plugin *const *all;
    const struct wf_option *const *t;
    const struct wf_option *o;
    unsigned n, i;

    *owner = NULL;
    FOR_CORE_OPTION(t, o) {
        if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    all = wf__plugin_all(&n);
    for (i = 0; i < n; i++) {
        for (o = all[i]->options; o && o->name; o++) {
            if (strcmp(o->name, name) == 0) {
                *owner = all[i];
                return o;
            }
        }
    }
    return NULL;
}

static int
parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on", "" };
    static const char *const no[] = { "0", "false", "no", "off" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    }
    for (i = 0; i < sizeof(no) / sizeof(*no); i++) {
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int
list_append(struct wf_strlist *l, const char *v)
{
    const char *p = v;

    do {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char **nv;

        if (len > 0) {
            nv = realloc(l->v, (l->n + 2) * sizeof(*l->v));
            if (nv == NULL) {
                return -1;
            }
            l->v = nv;
            l->v[l->n++] = strndup(p, len);
            l->v[l->n] = NULL;
        }
        p = e ? e + 1 : NULL;
    } while (p != NULL);
    return 0;
}

static int
store(const struct wf_option *o, const char *value, const char *origin,
      struct wf_err *err)
{
    char *end;
    long l;
    double d;
    int b;

    switch (o->type) {
    case WF_OPT_FLAG:
        if (value == NULL) {
            b = 1;
        } else if (parse_bool(value, &b) < 0) {
            return wf_err_set(err, "--%s %s (%s): not a boolean; use true "
                              "or false", o->name, value, origin);
        }
        if (o->dest) {
            *(int *)o->dest = b;
        }
        return 0;
    case WF_OPT_INT:
    case WF_OPT_SIZE:
        if (value == NULL || *value == '\0') {
            return wf_err_set(err, "--%s (%s) needs a number", o->name,
                              origin);
        }
        errno = 0;
        l = strtol(value, &end, 10);
        if (o->type == WF_OPT_SIZE && end != value) {
            long mul = 1;

            switch (*end) {
            case 'k': case 'K': mul = 1024; end++; break;
            case 'm': case 'M': mul = 1024 * 1024; end++; break;
            case 'g': case 'G': mul = 1024L * 1024 * 1024; end++; break;
            }
            /* no multiplication that overflows (found by fuzz/) */
            if (l > LONG_MAX / mul || l < LONG_MIN / mul) {
                errno = ERANGE;
            } else {
                l *= mul;
            }
        }
        if (errno != 0 || end == value || *end != '\0') {
            return wf_err_set(err, "--%s %s (%s): not a whole number",
                              o->name, value, origin);
        }
        if (o->max > o->min && (l < o->min || l > o->max)) {
            return wf_err_set(err, "--%s %s (%s): out of range %ld-%ld",
                              o->name, value, origin, o->min, o->max);
        }
        if (o->dest) {
            *(long *)o->dest = l;
        }
        return 0;
    case WF_OPT_DOUBLE:
        if (value == NULL) {
            return wf_err_set(err, "--%s (%s) needs a number", o->name,
                              origin);
        }
        errno = 0;
        d = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0') {
            return wf_err_set(err, "--%s %s (%s): not a number", o->name,
                              value, origin);
        }
        if (o->max > o->min && (d < o->min || d > o->max)) {
            return wf_err_set(err, "--%s %s (%s): out of range %ld-%ld",
                              o->name, value, origin, o->min, o->max);
        }
        if (o->dest) {
            *(double *)o->dest = d;
        }
        return 0;
    case WF_OPT_STR:
        if (value == NULL && (o->flags & WF_OPT_F_OPTVAL)) {
            return 0;
        }
        if (value == NULL) {
            return wf_err_set(err, "--%s (%s) needs a value", o->name,
                              origin);
        }
        if (o->dest) {
            char *copy = strdup(value);

            if (copy == NULL) {
                return wf_err_set(err, "--%s (%s): out of memory", o->name,
                                  origin);
            }
            free(*(char **)o->dest);
            *(char **)o->dest = copy;
        }
        return 0;
    case WF_OPT_LIST:
        if (value == NULL || *value == '\0') {
            return wf_err_set(err, "--%s (%s) needs a value", o->name,
                              origin);
        }
        if (o->dest && list_append(o->dest, value) < 0) {
            return wf_err_set(err, "out of memory");
        }
        return 0;
    }
    return wf_err_set(err, "--%s: option of unknown type %d (plugin bug)",
                      o->name, (int)o->type);
}

/* See internal.h. */
int
wf__opt_defaults(const struct wf_option *tab, struct wf_err *err)
{
    const struct wf_option *o;

    for (o = tab; o && o->name; o++) {
        if (o->def != NULL &&
            store(o, o->def, "default", err) < 0) {
            return -1;
        }
        if (o->def != NULL) {
            wf__opt_record(o->name, o->def, 0);
        }
    }
    return 0;
}

/* See internal.h. */
int
wf__opt_apply(const struct wf_option *o, const struct wf__optval *v,
              struct wf_err *err)
{
    if (store(o, v->value, v->origin, err) < 0) {
        return -1;
    }
    wf__opt_record(o->name, v->value, 1);
    if (o->on_set != NULL && o->on_set(o, v->value, err) < 0) {
        if (err != NULL && v->origin != NULL &&
            strcmp(v->origin, "command line") != 0 &&
            strstr(err->msg, v->origin) == NULL) {
            /* name the ini line the value came from */
            char msg[sizeof(err->msg)];

            snprintf(msg, sizeof(msg), "%s", err->msg);
            wf_err_set(err, "%s: %s", v->origin, msg);
        }
        return -1;
    }
    return 0;
}

/* See internal.h. */
int
wf__opt_optional_value(const char *name)
{
    const struct wf_plugin *owner;
    const struct wf_option *o = wf__opt_find(name, &owner);

    return o != NULL && (o->flags & WF_OPT_F_OPTVAL) != 0;
}
