/*
 * The worker process around its loop: the per-worker set-up before the
 * loop (fds, --lazy-apps, the languages' and engines' worker_init, the
 * signal handler), one loop in this thread, and the exit. The loop itself
 * is core/loop.c; docs/design.md, "The house".
 */
#include "loop.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* --lazy-apps: load every language's app in this worker, after fork. */
static int
load_apps(struct wf_err *err)
{
    unsigned i, apps = 0;

    for (i = 0; i < 256; i++) {
        const struct wf_plugin *lp = wf__langs[i];
        int r;

        if (lp == NULL) {
            continue;
        }
        r = ((const struct wf_lang_ops *)lp->ops)->load_app(err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if (wf__lang_default == lp) {
                wf__lang_default = NULL;
            }
            wf__langs[i] = NULL;
            continue;
        }
        apps++;
        if (wf__lang_default == NULL) {
            wf__lang_default = lp;
        }
    }
    if (apps == 0) {
        return wf_err_set(err, "no app to serve; give --wsgi-file FILE, "
                          "--module MODULE[:CALLABLE] or --rack config.ru");
    }
    return 0;
}


/* The worker's share of the set-up, before its loop: fds, --lazy-apps,
 * the languages' and the suspend engine's per-worker state, signals. */
static int
worker_setup(unsigned id, unsigned nc, struct wf_err *err)
{
    struct rlimit rl;
    const struct wf_plugin *lp;
    const struct wf_lang_ops *lo;
    struct sigaction sa;
    unsigned i;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)nc * 3 + 64 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (wf__cfg.lazy_apps && load_apps(err) < 0) {
        return -1;
    }
    EACH_LANG(i, lp, lo) {
        if (lo->worker_init && lo->worker_init(nc, err) < 0) {
            return -1;
        }
    }
    if (wf__sus_ops != NULL && wf__sus_ops->worker_init(nc, err) < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wf__loop_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (wf__loop_ops != NULL && wf__loop_ops->worker_init &&
        wf__loop_ops->worker_init(nc, err) < 0) {
        return -1;
    }
    return 0;
}

static void
worker_fini(int now)
{
    const struct wf_plugin *lp;
    const struct wf_lang_ops *lo;
    unsigned i;

    if (now) {
        return;
    }
    /* languages first (their objects may live on the cores' contexts),
     * then the engine that owns those contexts */
    EACH_LANG(i, lp, lo) {
        if (lo->shutdown) {
            lo->shutdown();
        }
    }
    if (wf__sus_ops && wf__sus_ops->worker_fini) {
        wf__sus_ops->worker_fini();
    }
    if (wf__loop_ops && wf__loop_ops->worker_fini) {
        wf__loop_ops->worker_fini();
    }
}

static struct wf__loop *worker_loop;

/* See internal.h. Runs the worker until it stops; 0 on a clean stop. */
int
wf__worker_run(unsigned id, struct wf_err *err)
{
    unsigned nc = wf_ncores();
    struct wf__loop *L;
    int r;

    wf__worker_id = id;
    if (worker_setup(id, nc, err) < 0) {
        return -1;
    }
    L = wf__loop_new(id, nc, 0, NULL, wf__slot, err);
    if (L == NULL) {
        return -1;
    }
    if (wf__loop_ops != NULL) {
        wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %u cores, loop %s",
               id, (int)getpid(), L->ncores, wf__loop_plugin->name);
    } else {
        if (wf__cfg.async > 0 && wf__sus_ops == NULL) {
            wf_log(WF_LOG_WARN, "*** async mode without a suspend engine: "
                   "only a generator's yield gives the worker away; add a "
                   "suspend engine: --ugreen or --greenlet (Python), "
                   "--fiber (Rack), or the loop --coroae N (PSGI) ***");
        }
        wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %u cores, io %s, "
               "suspend %s", id, (int)getpid(), L->ncores,
               wf__io_plugin->name,
               wf__sus_plugin ? wf__sus_plugin->name : "none");
    }
    if (wf__slot != NULL) {
        wf__slot->ready = 1;
    }
    worker_loop = L;    /* the process exits after this: kept, not freed */
    r = wf__loop_run(L, err);
    worker_fini(L->stopping == 2);
    return r;
}

