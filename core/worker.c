/*
 * The worker process around its loop: the per-worker set-up before the
 * loop (fds, --lazy-apps, the languages' and engines' worker_init, the
 * signal handler), one loop in this thread, and the exit. The loop itself
 * is core/loop.c; docs/design.md, "The house".
 */
#include "loop.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int wf__worker_no_app;

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
        wf__worker_no_app = 1;  /* the master's spawn() exits with
                                   WF__EXIT_NO_APP */
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

/* -------------------------------------------------------- --threads */

/* The languages let go of their lock (Python: the GIL) while this thread
 * waits for the others (1), and take it back (0). */
static void
langs_wait(int entering)
{
    const struct wf_plugin *lp;
    const struct wf_lang_ops *lo;
    unsigned i;

    EACH_LANG(i, lp, lo) {
        if (WF_HAS_OP(lp, lo, loop_wait, 2)) {
            lo->loop_wait(entering);
        }
    }
}

/* One loop thread of the worker (the second and later ones). */
struct lthread {
    pthread_t tid;
    struct wf__loop *L;
    int started;
};

static pthread_mutex_t lt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lt_cv = PTHREAD_COND_INITIALIZER;
static unsigned lt_ready, lt_failed;

static void
lt_report(int ok)
{
    pthread_mutex_lock(&lt_mu);
    if (ok) {
        lt_ready++;
    } else {
        lt_failed++;
    }
    pthread_cond_broadcast(&lt_cv);
    pthread_mutex_unlock(&lt_mu);
}

/* The languages' and the engine's per-thread set-up (in this thread), or
 * their end (init 0). The languages first: the engine may need their
 * thread state (greenlet needs the Python thread's); at the end the
 * engine first, while that state is still there. */
static int
thread_hooks(struct wf__loop *L, int init, struct wf_err *err)
{
    const struct wf_plugin *lp;
    const struct wf_lang_ops *lo;
    unsigned i;

    if (init) {
        EACH_LANG(i, lp, lo) {
            if (WF_HAS_OP(lp, lo, thread_init, 6) &&
                lo->thread_init(L->core_base, L->ncores, err) < 0) {
                return -1;
            }
        }
        if (wf__sus_ops != NULL &&
            WF_HAS_OP(wf__sus_plugin, wf__sus_ops, thread_init, 6) &&
            wf__sus_ops->thread_init(L->core_base, L->ncores, err) < 0) {
            return -1;
        }
        return 0;
    }
    if (wf__sus_ops != NULL &&
        WF_HAS_OP(wf__sus_plugin, wf__sus_ops, thread_fini, 6)) {
        wf__sus_ops->thread_fini();
    }
    EACH_LANG(i, lp, lo) {
        if (WF_HAS_OP(lp, lo, thread_fini, 6)) {
            lo->thread_fini();
        }
    }
    return 0;
}

static void *
lthread_main(void *arg)
{
    struct lthread *t = arg;
    struct wf__loop *L = t->L;
    struct wf_err err;

    if (thread_hooks(L, 1, &err) < 0) {
        wf_log(WF_LOG_ERROR, "%s: %s", L->name, err.msg);
        lt_report(0);
        return NULL;
    }
    lt_report(1);
    if (wf__loop_run(L, &err) < 0) {
        wf_log(WF_LOG_ERROR, "%s: %s; stopping the worker", L->name,
               err.msg);
        wf__loop_stop_all(1);
    }
    if (L->stopping != 2) {
        thread_hooks(L, 0, &err);
    }
    return NULL;
}

/* Start loops 1..n-1 in their threads; 0 once each has set up, -1 when
 * one could not (logged; those started are stopped and joined). */
static int
threads_start(struct lthread *t, unsigned n, struct wf_err *err)
{
    sigset_t block, old;
    pthread_attr_t attr;
    unsigned i, want = 0;
    int r = 0;

    /* the process's signals go to the first thread (the handler wakes
     * every loop anyway) */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGQUIT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGUSR2);
    pthread_attr_init(&attr);
    if (wf__cfg.threads_stacksize > 0) {
        size_t sz = (size_t)wf__cfg.threads_stacksize * 1024;

        if (sz < (size_t)PTHREAD_STACK_MIN) {
            sz = (size_t)PTHREAD_STACK_MIN;
        }
        pthread_attr_setstacksize(&attr, sz);
    }
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 1; i < n; i++) {
        int e = pthread_create(&t[i].tid, &attr, lthread_main, &t[i]);

        if (e != 0) {
            wf_err_set(err, "worker %u: pthread_create() for thread %u: %s; "
                       "lower --threads", t[i].L->id, i + 1, strerror(e));
            r = -1;
            break;
        }
        t[i].started = 1;
        want++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    /* they take the GIL for their set-up: let go of it meanwhile */
    langs_wait(1);
    pthread_mutex_lock(&lt_mu);
    while (lt_ready + lt_failed < want) {
        pthread_cond_wait(&lt_cv, &lt_mu);
    }
    pthread_mutex_unlock(&lt_mu);
    langs_wait(0);
    if (r == 0 && lt_failed > 0) {
        r = wf_err_set(err, "worker %u: %u of its %u loop threads could not "
                       "start (see above)", t[1].L->id, lt_failed, n - 1);
    }
    return r;
}

/* Stop loops 1..n-1 (how: as wf__loop_stop) and wait for their threads,
 * the languages' lock let go of meanwhile (they finish requests). */
static void
threads_join(struct lthread *t, unsigned n, int how)
{
    unsigned i;

    wf__loop_stop_all(how);
    langs_wait(1);
    for (i = 1; i < n; i++) {
        if (t[i].started) {
            pthread_join(t[i].tid, NULL);
        }
    }
    langs_wait(0);
}

static struct wf__loop *worker_loop;
static struct lthread *worker_threads;  /* kept like worker_loop */

/* See internal.h. Runs the worker until it stops; 0 on a clean stop. */
int
wf__worker_run(unsigned id, struct wf_err *err)
{
    unsigned nt = wf__nthreads(), per = wf__cores_per_loop();
    unsigned nc = nt * per, i;
    struct lthread *t;
    struct wf__loop *L;
    char shape[64];
    int r;

    wf__worker_id = id;
    if (worker_setup(id, nc, err) < 0) {
        return -1;
    }
    t = calloc(nt, sizeof(*t));
    if (t == NULL) {
        return wf_err_set(err, "worker %u: out of memory", id);
    }
    /* one loop per thread; loop i runs cores i*per .. i*per+per-1 */
    for (i = 0; i < nt; i++) {
        t[i].L = wf__loop_new(id, i, per, i * per, NULL, wf__slot, err);
        if (t[i].L == NULL) {
            return -1;
        }
    }
    L = t[0].L;
    if (nt > 1 && threads_start(t, nt, err) < 0) {
        threads_join(t, nt, 2);
        return -1;
    }
    if (nt > 1) {
        snprintf(shape, sizeof(shape), "%u threads x %u cores", nt, per);
    } else {
        snprintf(shape, sizeof(shape), "%u cores", per);
    }
    if (wf__loop_ops != NULL) {
        wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %s, loop %s",
               id, (int)getpid(), shape, wf__loop_plugin->name);
    } else {
        if (wf__cfg.async > 0 && wf__sus_ops == NULL) {
            wf_log(WF_LOG_WARN, "*** async mode without a suspend engine: "
                   "only a generator's yield gives the worker away; add a "
                   "suspend engine: --ugreen or --greenlet (Python), "
                   "--fiber (Rack), or the loop --coroae N (PSGI) ***");
        }
        wf_log(WF_LOG_INFO, "worker %u (pid %d) ready: %s, io %s, "
               "suspend %s", id, (int)getpid(), shape,
               wf__io_plugin->name,
               wf__sus_plugin ? wf__sus_plugin->name : "none");
    }
    if (wf__slot != NULL) {
        wf__slot->ready = 1;
    }
    worker_loop = L;    /* the process exits after this: kept, not freed */
    worker_threads = t; /* (a local only, LeakSanitizer reported it) */
    r = wf__loop_run(L, err);
    if (nt > 1) {
        threads_join(t, nt, L->stopping == 2 ? 2 : 1);
    }
    worker_fini(L->stopping == 2);
    return r;
}
