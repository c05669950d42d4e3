/*
 * uWSGI compatibility: what a uWSGI ini file says, in weft's words.
 *
 * Three tables. uWSGI's plugin names (python3, gevent_python311,
 * rack_ruby31, http, ...) map to weft's plugins, or to nothing when weft's
 * core does that job itself (its HTTP socket is the router). uWSGI options
 * that weft refuses say why and what to write instead, in one line: an
 * option that changes behaviour is never accepted and ignored. And the
 * closest known option names, for a name nobody knows.
 *
 * Master context, start-up only.
 */
#include "internal.h"
#include "static.h"
#include "cheaper.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- plugin names */

/*
 * uWSGI plugin names, as Debian and pip builds spell them, to weft's.
 * Prefix matches end with '*': "python3*" is python3, python311, ...
 */
static const struct {
    const char *uwsgi;
    const char *weft;       /* "" : the core does it, nothing to load */
} plugin_map[] = {
    { "python", "python" },
    { "python3*", "python" },
    { "greenlet_python*", "greenlet" },
    { "gevent_python*", "gevent" },
    { "asyncio_python*", NULL },
    { "rack", "rack" },
    { "rack_ruby*", "rack" },
    { "ruby*", "rack" },
    { "fiber", "fiber" },
    { "ugreen", "ugreen" },
    { "psgi", "psgi" },
    { "coroae", "coroae" },
    { "cgi", "cgi" },
    { "http", "" },             /* weft's --http-socket is the router */
    { "corerouter", "" },
    { "logfile", "" },          /* --logto is in the core */
    { "clock_monotonic", "" },
    { NULL, NULL }
};

static int
name_matches(const char *pat, const char *name)
{
    size_t n = strlen(pat);

    if (n > 0 && pat[n - 1] == '*') {
        return strncmp(pat, name, n - 1) == 0;
    }
    return strcmp(pat, name) == 0;
}

/* See internal.h. */
const char *
wf__compat_plugin(const char *name, int *known)
{
    size_t i;

    *known = 0;
    for (i = 0; plugin_map[i].uwsgi; i++) {
        if (name_matches(plugin_map[i].uwsgi, name)) {
            *known = 1;
            return plugin_map[i].weft;
        }
    }
    return name;
}

/* ------------------------------------------------------ refused options */

/*
 * uWSGI options weft does not take, each with what to do instead. Names
 * ending in '*' match a prefix. What weft does take, or takes as a no-op,
 * is in the option tables (see docs/migrating.md for the whole list).
 */
static const struct {
    const char *name;
    const char *why;
} refused[] = {
    { "emperor*", "weft has no Emperor; run one weft per app under "
      "systemd (docs/deploy.md)" },
    { "vassal*", "weft has no Emperor; run one weft per app under "
      "systemd (docs/deploy.md)" },
    { "spooler*", "weft has no spooler; use a task queue (Celery, RQ) "
      "beside the app" },
    { "mule*", "weft has no mules; run background work in its own "
      "service" },
    { "farm", "weft has no mules; run background work in its own "
      "service" },
    { "cron", "weft has no cron; use a systemd timer" },
    { "unique-cron", "weft has no cron; use a systemd timer" },
    { "attach-daemon*", "weft supervises no other daemons; give each its "
      "own systemd unit" },
    { "smart-attach-daemon*", "weft supervises no other daemons; give each "
      "its own systemd unit" },
    { "route*", "weft has no internal routing; route in nginx" },
    { "final-route*", "weft has no internal routing; route in nginx" },
    { "error-route*", "weft has no internal routing; route in nginx" },
    { "response-route*", "weft has no internal routing; route in nginx" },
    { "https*", "weft does not terminate TLS; put nginx (or the load "
      "balancer) in front and use --http-socket or --socket" },
    { "ssl-*", "weft does not terminate TLS; terminate it in nginx" },
    { "shared-socket", "bind each socket with --socket / --http-socket; "
      "with several instances, --reuse-port" },
    { "fastrouter*", "weft has no fastrouter; use nginx's upstream "
      "(docs/deploy.md)" },
    { "subscribe*", "weft has no subscription server; list the instances "
      "in nginx's upstream (docs/deploy.md)" },
    { "zerg*", "weft has no zerg mode; several instances share a port "
      "with --reuse-port" },
    { "cache2", "weft has no shared cache; use memcached or redis" },
    { "cache", "weft has no shared cache; use memcached or redis" },
    { "queue", "weft has no shared queue; use redis or a task queue" },
    { "sharedarea", "weft has no shared area; use memcached or redis" },
    { "honour-range", "weft's static files always answer Range (206, "
      "416); app responses (wsgi.file_wrapper) are sent whole: remove it" },
    { "static-cache-paths*", "weft has no cache; it resolves each static "
      "path when it is asked for (a realpath() per request, never stale); "
      "remove it" },
    { "fastcgi-socket", "weft speaks HTTP and uwsgi; use --socket with "
      "nginx's uwsgi_pass, or --http-socket" },
    { "scgi-socket", "weft speaks HTTP and uwsgi; use --socket with "
      "nginx's uwsgi_pass, or --http-socket" },
    { "protocol", "weft speaks HTTP (--http-socket) and uwsgi (--socket)" },
    { "py-autoreload", "use --touch-reload FILE (or systemctl reload)" },
    { "python-autoreload", "use --touch-reload FILE (or systemctl reload)" },
    { "fs-reload", "use --touch-reload FILE" },
    { "lazy", "use --lazy-apps (uWSGI's --lazy also reloads differently)" },
    { "cheaper-rss-limit*", "weft's --cheaper has no memory limits; use "
      "--reload-on-rss for each worker" },
    { "cheaper*", "weft has uWSGI's spare algorithm with --cheaper, "
      "--cheaper-initial, --cheaper-step, --cheaper-overload and "
      "--cheaper-algo spare only" },
    { "die-on-idle", "weft does not exit when idle; remove it" },
    { "procname-append", "write the whole title with --procname" },
    { "log-route", "weft has no log routing; use --logto" },
    { "log-encoder", "weft has no log encoders; use --logto and a log "
      "shipper" },
    { "logger*", "weft logs to stderr or --logto FILE; send it on with "
      "journald or a log shipper" },
    { "req-logger", "weft logs to stderr or --logto FILE" },
    { "master-fifo", "send signals to the master instead (HUP reload, "
      "TERM stop, USR1 status); see docs/process.md" },
    { "stats-push", "read --stats (JSON) from your collector instead" },
    { "carbon*", "read --stats (JSON) from your collector instead" },
    { "metrics-dir", "read --stats (JSON) from your collector instead" },
    { "enable-metrics", "read --stats (JSON) from your collector instead" },
    { "harakiri-graceful-timeout", "weft's harakiri cancels the request "
      "alone; --worker-reload-mercy bounds a stopping worker" },
    { "reaper", "weft's master reaps every child itself; remove it" },
    { "catch-exceptions", "weft logs the traceback and answers 500; never "
      "send tracebacks to clients" },
    { "plugins-list", "use weft --list-plugins" },
    { "socket-protocol", "weft speaks HTTP (--http-socket) and uwsgi "
      "(--socket)" },
    { "wsgi-disable-file-wrapper", "weft's wsgi.file_wrapper is safe with "
      "every file-like; remove it" },
    { "async-queue", "weft's accept is back-pressured; remove it" },
    { "chroot", "run weft in a container or with systemd's "
      "RootDirectory=" },
    { "cap", "use systemd's AmbientCapabilities=" },
    { "unshare", "use systemd's PrivateTmp= and friends" },
    { "cgroup*", "use systemd's resource controls (MemoryMax=, ...)" },
    { "tuntap*", "weft has no tuntap router" },
    { NULL, NULL }
};

/* See internal.h. */
const char *
wf__compat_refused(const char *name)
{
    size_t i;

    for (i = 0; refused[i].name; i++) {
        if (name_matches(refused[i].name, name)) {
            return refused[i].why;
        }
    }
    return NULL;
}

/* ------------------------------------------------------ closest names */

static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t row[128];

    if (la >= 127 || lb >= 127) {
        return 1000;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        size_t prev = row[0], tmp;

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev + cost;

            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

struct suggest {
    const char *want;
    char best[3][64];
    size_t bestd[3];
};

static void
consider(struct suggest *s, const char *name)
{
    size_t d = distance(s->want, name), i, k;
    size_t lw = strlen(s->want);

    /* a name that holds the wanted one, or the reverse, is close too */
    if (lw >= 4 && (strstr(name, s->want) || strstr(s->want, name))) {
        d = d < 2 ? d : 2;
    }
    if (d > (lw < 6 ? 2 : lw / 3 + 1)) {
        return;
    }
    for (i = 0; i < 3; i++) {
        if (strcmp(s->best[i], name) == 0) {
            return;
        }
    }
    for (i = 0; i < 3; i++) {
        if (s->best[i][0] == '\0' || d < s->bestd[i]) {
            for (k = 2; k > i; k--) {
                memcpy(s->best[k], s->best[k - 1], sizeof(s->best[k]));
                s->bestd[k] = s->bestd[k - 1];
            }
            snprintf(s->best[i], sizeof(s->best[i]), "%s", name);
            s->bestd[i] = d;
            return;
        }
    }
}

static void
consider_table(struct suggest *s, const struct wf_option *o)
{
    for (; o && o->name; o++) {
        consider(s, o->name);
    }
}

static void
scan_cb(const char *path, const struct wf_plugin *p, const char *error,
        void *arg)
{
    (void)path;
    (void)error;
    if (p != NULL) {
        consider_table(arg, p->options);
    }
}

/* See internal.h. */
void
wf__opt_suggest(const char *name, char *out, size_t len)
{
    const struct wf_plugin *const *all;
    struct suggest s;
    unsigned n, i;
    size_t used = 0;

    memset(&s, 0, sizeof(s));
    s.want = name;
    consider_table(&s, wf__core_options);
    consider_table(&s, wf__static_options);
    consider_table(&s, wf__stats_options);
    consider_table(&s, wf__log_options);
    consider_table(&s, wf__cheaper_options);
    all = wf__plugin_all(&n);
    for (i = 0; i < n; i++) {
        consider_table(&s, all[i]->options);
    }
    wf__plugin_scan(scan_cb, &s);
    out[0] = '\0';
    for (i = 0; i < 3 && s.best[i][0]; i++) {
        int r = snprintf(out + used, len - used, "%s--%s", i ? ", " : "",
                         s.best[i]);

        if (r < 0 || (size_t)r >= len - used) {
            break;
        }
        used += (size_t)r;
    }
}
