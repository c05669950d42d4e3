/*
 * Start-up: options -> plugins -> engines -> languages and apps -> sockets
 * -> workers. Every failure ends here with one line, "weft: <what>; <fix>",
 * and exit status 1.
 */
#include "internal.h"
#include "cheaper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <sys/resource.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void threads_check(const struct wf_plugin *p);

static void
die(const struct wf_err *err)
{
    fprintf(stderr, "weft: %s\n", err->msg);
    if (wf__log_fd > 2) {
        wf_log(WF_LOG_ERROR, "%s", err->msg);
    }
    exit(1);
}

/* The plugin directory a weft run from the build tree uses: the one built
 * beside it. An installed weft uses the installed one. */
static void
default_plugin_dir(void)
{
    char exe[PATH_MAX], dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
        snprintf(dir, sizeof(dir), "%s", exe);
        if (strcmp(dirname(dir), WEFT_BUILDDIR) == 0) {
            wf__plugin_add_dir(WEFT_BUILD_PLUGINDIR);
            return;
        }
    }
    wf__plugin_add_dir(WEFT_PLUGINDIR);
}

/* --plugins-dir must be known before any option is looked up. */
static void
early_plugin_dirs(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strncmp(a, "--plugins-dir", 13) == 0 ||
            strncmp(a, "--plugin-dir", 12) == 0) {
            const char *eq = strchr(a, '=');

            if (eq != NULL) {
                wf__plugin_add_dir(eq + 1);
            } else if (i + 1 < argc) {
                wf__plugin_add_dir(argv[++i]);
            }
        }
    }
}

static const char *
kind_label(enum wf_kind k)
{
    switch (k) {
    case WF_KIND_SUSPEND: return "suspend";
    case WF_KIND_IO: return "io";
    case WF_KIND_LOOP: return "loop";
    case WF_KIND_LANG: return "lang";
    }
    return "?";
}

static void
list_cb(const char *path, const struct wf_plugin *p, const char *error,
        void *arg)
{
    if (p == NULL) {
        printf("  %-10s %-8s %s\n             cannot load: %s\n", "?", "?",
               path, error);
        return;
    }
    printf("  %-10s %-8s %s\n", p->name, kind_label(p->kind), path);
    if (p->summary) {
        printf("             %s\n", p->summary);
    }
    if (p->needs) {
        printf("             needs: %s\n", p->needs);
    }
}

struct io_pick {
    char name[64];
    int pref;
};

static void
io_cb(const char *path, const struct wf_plugin *p, const char *error,
      void *arg)
{
    struct io_pick *best = arg;
    const struct wf_io_ops *o;

    if (p == NULL || p->kind != WF_KIND_IO) {
        return;
    }
    o = p->ops;
    if (o->pref > best->pref && o->probe() == 0) {
        best->pref = o->pref;
        snprintf(best->name, sizeof(best->name), "%s", p->name);
    }
}

/* Load every plugin named in the option values, then apply the values in
 * order. A plugin's option loads the plugin. */
static void
apply_options(struct wf__optval *vals, size_t n,
              const struct wf_plugin **selected)
{
    struct wf_err err;
    int strict = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(vals[i].name, "strict") == 0) {
            strict = vals[i].value == NULL ||
                     strcmp(vals[i].value, "false") != 0;
        }
    }
    for (i = 0; i < n; i++) {
        const char *nm = vals[i].name;

        if ((strcmp(nm, "plugin") == 0 || strcmp(nm, "plugins") == 0 ||
             strcmp(nm, "need-plugin") == 0) && vals[i].value) {
            char *list = strdup(vals[i].value), *save = NULL, *t;

            for (t = strtok_r(list, ", ", &save); t;
                 t = strtok_r(NULL, ", ", &save)) {
                int known;
                const char *w = wf__compat_plugin(t, &known);

                if (w == NULL) {
                    wf_err_set(&err, "--%s %s (%s): weft has no %s plugin; "
                               "see docs/migrating.md", nm, t,
                               vals[i].origin, t);
                    die(&err);
                }
                if (*w == '\0') {
                    continue;   /* the core does this job itself */
                }
                if (wf__plugin_load(w, &err) == NULL) {
                    if (known) {
                        struct wf_err e2;

                        wf_err_set(&e2, "--%s %s (%s): uWSGI's %s is weft's "
                                   "'%s' plugin: %s", nm, t,
                                   vals[i].origin, t, w, err.msg);
                        die(&e2);
                    }
                    die(&err);
                }
            }
            free(list);
        } else if ((strcmp(nm, "plugins-dir") == 0 ||
                    strcmp(nm, "plugin-dir") == 0) && vals[i].value) {
            wf__plugin_add_dir(vals[i].value);
        }
    }
    for (i = 0; i < n; i++) {
        const struct wf_plugin *owner;
        const struct wf_option *o = wf__opt_find(vals[i].name, &owner);

        if (o == NULL) {
            char *pname = wf__plugin_owner_of(vals[i].name);

            if (pname != NULL) {
                if (wf__plugin_load(pname, &err) == NULL) {
                    die(&err);
                }
                free(pname);
                o = wf__opt_find(vals[i].name, &owner);
            }
        }
        if (o == NULL && vals[i].var == 2) {
            continue;           /* set-placeholder: a variable only */
        }
        if (o == NULL && vals[i].var == 1 && !strict) {
            continue;           /* a user variable, read as %(name) */
        }
        if (o == NULL) {
            const char *why = wf__compat_refused(vals[i].name);
            char near[256];

            if (why != NULL) {
                wf_err_set(&err, "--%s (%s): not supported by weft: %s",
                           vals[i].name, vals[i].origin, why);
                die(&err);
            }
            if (vals[i].var == 1) {
                wf_err_set(&err, "--%s (%s): not an option (a variable "
                           "read as %%(%s)), and --strict is on; drop "
                           "strict or use set-placeholder = %s=...",
                           vals[i].name, vals[i].origin, vals[i].name,
                           vals[i].name);
                die(&err);
            }
            wf__opt_suggest(vals[i].name, near, sizeof(near));
            if (wf__uwsgi_has_option(vals[i].name)) {
                wf_err_set(&err, "--%s (%s): a uWSGI option weft does not "
                           "have%s%s; see docs/migrating.md", vals[i].name,
                           vals[i].origin, near[0] ? "; close ones: " : "",
                           near);
            } else if (near[0]) {
                wf_err_set(&err, "--%s (%s): unknown option; did you mean "
                           "%s? (see weft --help)", vals[i].name,
                           vals[i].origin, near);
            } else {
                wf_err_set(&err, "--%s (%s): unknown option; see weft "
                           "--help and docs/migrating.md", vals[i].name,
                           vals[i].origin);
            }
            die(&err);
        }
        if (wf__opt_apply(o, &vals[i], &err) < 0) {
            die(&err);
        }
        if ((o->flags & WF_OPT_F_SELECT) && owner != NULL &&
            (o->type != WF_OPT_FLAG || *(int *)o->dest)) {
            if (selected[owner->kind] != NULL &&
                selected[owner->kind] != owner) {
                wf_err_set(&err, "--%s (%s): the %s engine '%s' is already "
                           "selected; choose one", o->name, vals[i].origin,
                           kind_label(owner->kind),
                           selected[owner->kind]->name);
                die(&err);
            }
            selected[owner->kind] = owner;
        }
    }
}

static void
choose_engines(const struct wf_plugin **selected)
{
    struct wf_err err;
    const struct wf_plugin *p;

    if (wf__cfg.io_engine != NULL) {
        p = wf__plugin_load(wf__cfg.io_engine, &err);
        if (p == NULL) {
            die(&err);
        }
        if (p->kind != WF_KIND_IO) {
            wf_err_set(&err, "--io-engine %s: a %s plugin, not an I/O "
                       "engine; try epoll or libevent", wf__cfg.io_engine,
                       kind_label(p->kind));
            die(&err);
        }
        if (((const struct wf_io_ops *)p->ops)->probe() < 0) {
            wf_err_set(&err, "--io-engine %s: does not work on this system",
                       wf__cfg.io_engine);
            die(&err);
        }
    } else {
        struct io_pick best = { "", -1 };

        wf__plugin_scan(io_cb, &best);
        if (best.name[0] == '\0') {
            wf_err_set(&err, "no usable I/O engine plugin found; build one "
                       "(./configure --enable-engines=epoll) or give "
                       "--plugins-dir");
            die(&err);
        }
        p = wf__plugin_load(best.name, &err);
        if (p == NULL) {
            die(&err);
        }
    }
    wf__io_plugin = p;
    wf__io_ops = p->ops;
    if (selected[WF_KIND_SUSPEND] != NULL) {
        wf__sus_plugin = selected[WF_KIND_SUSPEND];
        wf__sus_ops = wf__sus_plugin->ops;
    }
    if (wf__cfg.loop != NULL && strcmp(wf__cfg.loop, "async") != 0) {
        p = wf__plugin_load(wf__cfg.loop, &err);
        if (p == NULL) {
            die(&err);
        }
        if (p->kind != WF_KIND_LOOP) {
            wf_err_set(&err, "--loop %s: a %s plugin, not a loop engine; "
                       "try --loop gevent", wf__cfg.loop,
                       kind_label(p->kind));
            die(&err);
        }
        if (selected[WF_KIND_LOOP] && selected[WF_KIND_LOOP] != p) {
            wf_err_set(&err, "--loop %s: the loop '%s' is already selected; "
                       "choose one", wf__cfg.loop,
                       selected[WF_KIND_LOOP]->name);
            die(&err);
        }
        selected[WF_KIND_LOOP] = p;
    }
    if (wf__sus_plugin != NULL && wf__cfg.async < 1) {
        wf_err_set(&err, "--%s needs --async N: a suspend engine switches "
                   "between async cores (e.g. --async 10 --%s)",
                   wf__sus_plugin->name, wf__sus_plugin->name);
        die(&err);
    }
    if (selected[WF_KIND_LOOP] != NULL) {
        wf__loop_plugin = selected[WF_KIND_LOOP];
        wf__loop_ops = wf__loop_plugin->ops;
        if (wf__sus_plugin != NULL) {
            wf_err_set(&err, "--%s: the %s loop switches requests itself; "
                       "drop it, or drop the loop", wf__sus_plugin->name,
                       wf__loop_plugin->name);
            die(&err);
        }
    }
    threads_check(wf__loop_plugin);
    threads_check(wf__sus_plugin);
}

/* --threads N > 1 needs every engine and language of the worker to work
 * in several loop threads (WF_PLUGIN_F_THREADS); one that does not stops
 * the start with what to use instead (docs/design.md, "Threads"). */
static void
threads_check(const struct wf_plugin *p)
{
    struct wf_err err;
    long n = wf__cfg.threads;

    if (n <= 1 || p == NULL || (p->flags & WF_PLUGIN_F_THREADS)) {
        return;
    }
    if (p->kind == WF_KIND_LOOP) {
        wf_err_set(&err, "--threads %ld with --%s: the %s loop runs one "
                   "hub per worker process; use --processes %ld (one %s "
                   "loop each) instead of --threads", n, p->name, p->name,
                   n, p->name);
    } else if (p->kind == WF_KIND_SUSPEND) {
        wf_err_set(&err, "--threads %ld with --%s: the %s engine runs in "
                   "one thread per worker; use --processes %ld instead "
                   "(each with its --async cores)", n, p->name, p->name, n);
    } else {
        wf_err_set(&err, "--threads %ld: the %s plugin runs its "
                   "interpreter in one thread per worker (docs/"
                   "migrating.md, \"threads\"); use --processes %ld "
                   "instead (the same requests at once, one thread each)%s",
                   n, p->name, n,
                   strcmp(p->name, "rack") == 0
                   ? ", or --async N --fiber"
                   : strcmp(p->name, "psgi") == 0 ? ", or --coroae N" : "");
    }
    die(&err);
}

static void
start_languages(void)
{
    const struct wf_plugin *const *all;
    struct wf_err err;
    unsigned n, i, apps = 0, langs = 0;

    all = wf__plugin_all(&n);
    for (i = 0; i < n; i++) {
        const struct wf_lang_ops *lo;
        int r;

        if (all[i]->kind != WF_KIND_LANG) {
            continue;
        }
        langs++;
        lo = all[i]->ops;
        if (wf__sus_plugin && lo->check_engine &&
            lo->check_engine(wf__sus_plugin->name, &err) < 0) {
            die(&err);
        }
        if (lo->init(&err) < 0) {
            die(&err);
        }
        /* --lazy-apps: each worker loads the app after fork (see
         * wf__worker_run); here every language is a candidate */
        r = wf__cfg.lazy_apps ? 1 : lo->load_app(&err);
        if (r < 0) {
            die(&err);
        }
        if (r == 0) {
            continue;
        }
        /* a language that serves an app must work in every loop thread
         * (one loaded without an app never runs) */
        threads_check(all[i]);
        apps++;
        if (wf__langs[lo->modifier1 & 255] != NULL) {
            wf_err_set(&err, "plugins '%s' and '%s' both claim modifier1 %u",
                       wf__langs[lo->modifier1 & 255]->name, all[i]->name,
                       lo->modifier1);
            die(&err);
        }
        wf__langs[lo->modifier1 & 255] = all[i];
        if (wf__lang_default == NULL) {
            wf__lang_default = all[i];
        }
    }
    if (langs == 0) {
        wf_err_set(&err, "no language plugin loaded; give an app, e.g. "
                   "--wsgi-file app.py or --module pkg.mod:application");
        die(&err);
    }
    if (apps == 0) {
        wf_err_set(&err, "no app to serve; give --wsgi-file FILE, "
                   "--module MODULE[:CALLABLE] or --rack config.ru");
        die(&err);
    }
}

static void
bind_sockets(void)
{
    struct wf_err err;
    size_t i;

    for (i = 0; i < wf__cfg.http_sockets.n; i++) {
        if (wf__socket_listen("http-socket", wf__cfg.http_sockets.v[i],
                              WF_PROTO_HTTP, &err) < 0) {
            die(&err);
        }
        wf_log(WF_LOG_INFO, "serving HTTP on %s", wf__cfg.http_sockets.v[i]);
    }
    for (i = 0; i < wf__cfg.http_routers.n; i++) {
        if (wf__socket_listen("http", wf__cfg.http_routers.v[i],
                              WF_PROTO_HTTP, &err) < 0) {
            die(&err);
        }
        wf_log(WF_LOG_INFO, "--http %s: weft serves HTTP there itself, "
               "without uWSGI's router process (the same as --http-socket "
               "%s)", wf__cfg.http_routers.v[i], wf__cfg.http_routers.v[i]);
    }
    for (i = 0; i < wf__cfg.uwsgi_sockets.n; i++) {
        if (wf__socket_listen("socket", wf__cfg.uwsgi_sockets.v[i],
                              WF_PROTO_UWSGI, &err) < 0) {
            die(&err);
        }
        wf_log(WF_LOG_INFO, "serving uwsgi on %s",
               wf__cfg.uwsgi_sockets.v[i]);
    }
    if (wf__socket_adopt_rest(&err) < 0) {
        die(&err);
    }
    if (wf__listeners == NULL) {
        wf_err_set(&err, "no socket to serve on; give --http-socket "
                   "127.0.0.1:8080 or --socket 127.0.0.1:3031");
        die(&err);
    }
}

/* ----------------------------------------------------- the processes */

/* --uid / --gid: after the sockets are bound (ports below 1024 need
 * root), before any request is served. */
static void
drop_privileges(void)
{
    struct wf_err err;

    if (wf__cfg.gid) {
        struct group *g = getgrnam(wf__cfg.gid);
        char *end;
        long gid = strtol(wf__cfg.gid, &end, 10);

        if (g != NULL) {
            gid = g->gr_gid;
        } else if (*end != '\0') {
            wf_err_set(&err, "--gid %s: no such group", wf__cfg.gid);
            die(&err);
        }
        if (setgroups(0, NULL) < 0 && errno != EPERM) {
            wf_log_errno("setgroups()");
        }
        if (setgid((gid_t)gid) < 0) {
            wf_err_set(&err, "--gid %s: setgid(): %s; run as root to change "
                       "group", wf__cfg.gid, strerror(errno));
            die(&err);
        }
    }
    if (wf__cfg.uid) {
        struct passwd *pw = getpwnam(wf__cfg.uid);
        char *end;
        long uid = strtol(wf__cfg.uid, &end, 10);

        if (pw != NULL) {
            uid = pw->pw_uid;
            if (!wf__cfg.gid && setgid(pw->pw_gid) < 0) {
                wf_log_errno("setgid(%d)", (int)pw->pw_gid);
            }
        } else if (*end != '\0') {
            wf_err_set(&err, "--uid %s: no such user", wf__cfg.uid);
            die(&err);
        }
        if (setuid((uid_t)uid) < 0) {
            wf_err_set(&err, "--uid %s: setuid(): %s; run as root to change "
                       "user", wf__cfg.uid, strerror(errno));
            die(&err);
        }
        wf_log(WF_LOG_INFO, "running as uid %d, gid %d", (int)getuid(),
               (int)getgid());
    }
}

/* --daemonize FILE: detach, log to FILE. */
static void
daemonize(void)
{
    struct wf_err err;
    pid_t pid;
    int fd;

    if (wf__log_open(wf__cfg.daemonize, &err) < 0) {
        die(&err);
    }
    pid = fork();
    if (pid < 0) {
        wf_err_set(&err, "--daemonize: fork(): %s", strerror(errno));
        die(&err);
    }
    if (pid > 0) {
        _exit(0);
    }
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(wf__log_fd, 2);
        if (fd > 2) {
            close(fd);
        }
    }
}

static char pidfile_abs[PATH_MAX];
static pid_t pidfile_pid;

/* --vacuum: remove the UNIX sockets this process bound and the pidfile it
 * wrote, when it exits (the master, or the single worker). A file that
 * cannot go (written as root, now another user) is said once. Also
 * called by a stopping worker that exits from its watchdog (no master:
 * the process that wrote them); then in a signal handler, where unlink
 * is safe and the log lines only come on failure. */
static void
vacuum(void)
{
    struct wf__listener *l;

    if (!wf__cfg.vacuum || getpid() != pidfile_pid) {
        return;
    }
    for (l = wf__listeners; l; l = l->next) {
        if (l->is_unix && l->path[0] == '/' && !l->inherited) {
            if (unlink(l->path) < 0 && errno != ENOENT) {
                wf_log_errno("--vacuum: unlink(%s)", l->path);
            }
        }
    }
    if (pidfile_abs[0] && unlink(pidfile_abs) < 0 && errno != ENOENT) {
        wf_log(WF_LOG_INFO, "--vacuum: cannot remove the pidfile %s: %s "
               "(it was written before --uid)", pidfile_abs,
               strerror(errno));
    }
}

int
main(int argc, char **argv)
{
    const struct wf_plugin *selected[8] = { NULL };
    struct wf__optval *vals;
    struct wf_err err;
    size_t nvals;

    if (wf__opt_defaults(wf__core_options, &err) < 0 ||
        wf__opt_defaults(wf__cheaper_options, &err) < 0) {
        die(&err);
    }
    early_plugin_dirs(argc, argv);
    default_plugin_dir();
    if (wf__opt_collect(argc, argv, &vals, &nvals, &err) < 0) {
        die(&err);
    }
    apply_options(vals, nvals, selected);
    wf__opt_free(vals, nvals);
    if (wf__cfg.procname || wf__cfg.procname_master ||
        wf__cfg.procname_prefix || wf__cfg.auto_procname) {
        wf__proctitle_init(argc, argv);
    }

    if (wf__cfg.version) {
        printf("weft %s (plugin ABI %d.%d%s)\n", PACKAGE_VERSION,
               WF_ABI_MAJOR, WF_ABI_MINOR,
               (WF_BUILD_FLAGS & WF_BUILD_F_ASAN) ? ", AddressSanitizer" : "");
        return 0;
    }
    if (wf__cfg.help) {
        wf__opt_help(stdout);
        return 0;
    }
    if (wf__cfg.help_man) {
        wf__opt_help_man(stdout);
        return 0;
    }
    if (wf__cfg.list_plugins) {
        printf("weft %s plugins:\n", PACKAGE_VERSION);
        if (wf__plugin_scan(list_cb, NULL) == 0) {
            printf("  none found; give --plugins-dir\n");
        }
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "weft: nothing to do; e.g. weft --http-socket "
                "127.0.0.1:8080 --wsgi-file app.py (see weft --help)\n");
        return 1;
    }
    if (wf__cfg.chdir && chdir(wf__cfg.chdir) < 0) {
        wf_err_set(&err, "--chdir %s: %s; give an existing directory",
                   wf__cfg.chdir, strerror(errno));
        die(&err);
    }
    if (wf__cfg.logto && wf__log_open(wf__cfg.logto, &err) < 0) {
        die(&err);
    }
    if (wf__cfg.max_fd > 0) {
        struct rlimit rl = { (rlim_t)wf__cfg.max_fd, (rlim_t)wf__cfg.max_fd };

        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            wf_err_set(&err, "--max-fd %ld: setrlimit(): %s; lower it or "
                       "run as root", wf__cfg.max_fd, strerror(errno));
            die(&err);
        }
    }
    if (wf__cheaper_check(&err) < 0) {
        die(&err);
    }
    if (!wf__cfg.master && (wf__cfg.max_requests || wf__cfg.reload_on_rss ||
                            wf__cfg.max_worker_lifetime ||
                            wf__cfg.touch_reload.n || wf__cfg.harakiri ||
                            wf__cfg.idle)) {
        /* replacing a worker needs someone to start the new one */
        wf_log(WF_LOG_INFO, "--max-requests, --reload-on-rss, "
               "--max-worker-lifetime, --touch-reload, --harakiri and --idle need a "
               "master: running with --master");
        wf__cfg.master = 1;
    }
    wf__sd_init();
    choose_engines(selected);
    start_languages();
    bind_sockets();
    if (wf__cfg.daemonize) {
        daemonize();
    }
    pidfile_pid = getpid();     /* the process that vacuums */
    wf__vacuum_hook = vacuum;
    if (wf__cfg.pidfile) {
        FILE *f = fopen(wf__cfg.pidfile, "w");

        if (f == NULL) {
            wf_err_set(&err, "--pidfile %s: %s", wf__cfg.pidfile,
                       strerror(errno));
            die(&err);
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        if (realpath(wf__cfg.pidfile, pidfile_abs) == NULL) {
            snprintf(pidfile_abs, sizeof(pidfile_abs), "%s",
                     wf__cfg.pidfile);
        }
    }
    drop_privileges();
    if (wf__cfg.master || wf__cfg.processes > 1) {
        int rc = wf__master_run((unsigned)wf__cfg.processes);

        vacuum();
        return rc;
    }
    wf__sd_notify("READY=1\nSTATUS=serving (one process, no master)");
    if (wf__worker_run(1, &err) < 0) {
        vacuum();
        die(&err);
    }
    vacuum();
    return 0;
}
