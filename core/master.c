/*
 * The master: forks the workers, keeps them alive, replaces them without
 * dropping a request, and watches their loops (harakiri).
 *
 * Master and workers share a scoreboard (anonymous shared memory mapped
 * before the first fork). A worker says there when it is ready, when its
 * loop runs a core since when and for which request, and when it wants to
 * be replaced (--max-requests, --reload-on-rss). The master replaces a
 * worker by starting the new one first and telling the old one to drain
 * only once the new one is ready, one worker at a time: the capacity never
 * drops to zero, also with --processes 1.
 *
 * With --cheaper the master also scales the workers by load between
 * --cheaper and --processes (core/cheaper.c decides, once a second; a
 * worker id it stopped is "cheaped" until it asks for it again).
 *
 * Signals to the master: TERM/INT stop gracefully, QUIT stops now, HUP
 * replaces every worker (new code with --lazy-apps), USR1 logs the
 * workers' state, USR2 reopens --logto.
 */
#include "internal.h"
#include "stats.h"
#include "cheaper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct wf__slot *wf__slot;          /* this worker's, in a worker */
static struct wf__slot *slots;      /* 2 x processes: old and new */
static unsigned nslots;
static int mpipe[2] = { -1, -1 };
static volatile sig_atomic_t msig[32];

/* Per logical worker (1..N): its current slot, restarts, back-off. */
struct wid {
    int slot;               /* the slot serving as worker id, or -1 */
    int replacing;          /* slot of its replacement being started */
    int pending;            /* a replacement was asked for */
    unsigned fails;         /* quick deaths in a row */
    int64_t respawn_at;     /* back-off: spawn again at (ms), or 0 */
    const char *why;        /* why it is being replaced */
    int parked;             /* --idle: stopped, respawned on a connection */
    uint64_t seen_requests; /* --idle: the slot's count when last seen */
    int64_t active_at;      /* --idle: when it last served (ms) */
    int cheaped;            /* --cheaper: stopped for lack of load; the
                               algorithm starts it again */
};


static struct wid *wids;
static unsigned nwids;
static struct wf__cheaper_state cheaper_st;
static int served;                  /* a worker was ready once */
static int no_app;                  /* the app never loaded: exit 1 */
static int64_t cheaper_next;        /* the next --cheaper check (ms) */

static void
master_signal(int sig)
{
    int saved = errno;

    if (sig > 0 && sig < 32) {
        msig[sig] = 1;
    }
    if (write(mpipe[1], "s", 1) < 0) {
        /* a wake-up is pending anyway */
    }
    errno = saved;
}

static int64_t
mono_ms(void)
{
    return wf__now_ms();
}

static int
free_slot(void)
{
    unsigned i;

    for (i = 0; i < nslots; i++) {
        if (slots[i].pid == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Fork worker `id` into slot s. Returns the pid, or -1. */
static pid_t
spawn(unsigned id, int s)
{
    struct wf__slot *sl = &slots[s];
    pid_t pid;

    memset(sl, 0, sizeof(*sl));
    sl->id = id;
    sl->born = mono_ms();
    pid = fork();
    if (pid == 0) {
        struct wf_err err;
        struct sigaction sa;
        int i;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        for (i = 1; i < 32; i++) {
            if (i != SIGKILL && i != SIGSTOP) {
                sigaction(i, &sa, NULL);
            }
        }
        close(mpipe[0]);
        close(mpipe[1]);
        wf__slot = sl;
        sl->pid = getpid();
        wf__proctitle_worker(id);
        if (wf__worker_run(id, &err) < 0) {
            wf_log(WF_LOG_ERROR, "worker %u: %s", id, err.msg);
            _exit(wf__worker_no_app ? WF__EXIT_NO_APP : 1);
        }
        _exit(0);
    }
    if (pid < 0) {
        wf_log_errno("fork() for worker %u", id);
        sl->id = 0;
        return -1;
    }
    sl->pid = pid;
    return pid;
}

/* The loop (thread) of worker slot s that has run one core the longest,
 * or NULL when none runs a core now. */
static const struct wf__busy *
busiest(const struct wf__slot *s)
{
    const struct wf__busy *b = NULL;
    unsigned t, n = s->nthreads ? s->nthreads : 1;

    for (t = 0; t < n && t < WF__MAX_THREADS; t++) {
        int64_t since = s->busy[t].since;

        if (since != 0 && (b == NULL || since < b->since)) {
            b = &s->busy[t];
        }
    }
    return b;
}

static void
log_stats(void)
{
    unsigned i;

    wf_log(WF_LOG_INFO, "master (pid %d): %u workers", (int)getpid(), nwids);
    for (i = 0; i < nslots; i++) {
        struct wf__slot *s = &slots[i];

        if (s->pid == 0) {
            continue;
        }
        wf_log(WF_LOG_INFO, "  worker %u pid %d: %s, %llu requests, %u busy "
               "cores, rss %ld KiB, up %llds%s", s->id, (int)s->pid,
               s->ready ? (s->draining ? "draining" : "ready") : "starting",
               (unsigned long long)s->requests, s->busy_cores, s->rss_kb,
               (long long)((mono_ms() - s->born) / 1000),
               busiest(s) ? ", running a core now" : "");
    }
}

static void
send_all(int sig)
{
    unsigned i;

    for (i = 0; i < nslots; i++) {
        if (slots[i].pid > 0) {
            kill(slots[i].pid, sig);
        }
    }
}

/* --idle: a worker that served nothing for that long is stopped; the
 * first connection to come starts the parked ones again (uWSGI's cheap
 * mode after inactivity). Returns 1 when a worker was parked now. */
static int
check_idle(int64_t now)
{
    unsigned i;

    if (wf__cfg.idle <= 0) {
        return 0;
    }
    for (i = 0; i < nwids; i++) {
        struct wid *w = &wids[i];
        struct wf__slot *s;

        if (w->slot < 0 || w->replacing >= 0 || w->pending || w->parked ||
            w->cheaped) {
            continue;
        }
        s = &slots[w->slot];
        if (!s->ready || s->draining) {
            continue;
        }
        if (s->requests != w->seen_requests || s->busy_cores > 0 ||
            w->active_at == 0) {
            w->seen_requests = s->requests;
            w->active_at = now;
            continue;
        }
        if (now - w->active_at > wf__cfg.idle * 1000) {
            wf_log(WF_LOG_INFO, "master: worker %u (pid %d) idle for %lds "
                   "(--idle): stopping it until a connection comes", i + 1,
                   (int)s->pid, wf__cfg.idle);
            w->parked = 1;
            s->draining = 1;
            s->drain_since = now;
            kill(s->pid, SIGTERM);
        }
    }
    return 0;
}

/* --idle: a connection is waiting on a listener (polled by the master only
 * while workers are parked): start the parked workers again. */
static void
unpark_all(void)
{
    unsigned i, started = 0;

    for (i = 0; i < nwids; i++) {
        if (wids[i].parked) {
            wids[i].parked = 0;
            wids[i].active_at = 0;
            if (wf__cheaper.count > 0 && started >= wf__cheaper.count) {
                /* with --cheaper only the fewest come back, as in uWSGI;
                 * the load brings the others */
                wids[i].cheaped = 1;
                wf__stats_cheap(i + 1, 1);
                continue;
            }
            started++;
            if (wids[i].slot < 0 && wids[i].respawn_at == 0) {
                wids[i].respawn_at = mono_ms();
            }
        }
    }
}

static int
any_parked(void)
{
    unsigned i;

    for (i = 0; i < nwids; i++) {
        if (wids[i].parked) {
            return 1;
        }
    }
    return 0;
}

/* A replaced worker still draining after its mercy (and the grace its
 * own cancellation has) is killed: no request, however stuck (blocked in
 * a C call, or swallowing its cancellation), keeps it alive. */
static void
check_draining(int64_t now)
{
    int64_t limit = (wf__cfg.reload_mercy + 5) * 1000 + WF__CANCEL_GRACE_MS;
    unsigned i;

    for (i = 0; i < nslots; i++) {
        struct wf__slot *s = &slots[i];

        if (s->pid > 0 && s->draining && !s->drain_killed &&
            s->drain_since && now - s->drain_since > limit) {
            s->drain_killed = 1;
            wf_log(WF_LOG_WARN, "master: worker %u (pid %d) still running "
                   "%llds after it was told to stop (--worker-reload-mercy "
                   "%ld); killing it", s->id, (int)s->pid,
                   (long long)((now - s->drain_since) / 1000),
                   wf__cfg.reload_mercy);
            kill(s->pid, SIGKILL);
        }
    }
}

/* The master's checks of one worker's loop: harakiri. */
static void
check_harakiri(int64_t now)
{
    unsigned i;

    if (wf__cfg.harakiri <= 0) {
        return;
    }
    for (i = 0; i < nslots; i++) {
        struct wf__slot *s = &slots[i];
        const struct wf__busy *b = busiest(s);
        int64_t since = b != NULL ? b->since : 0;
        char thr[32] = "";

        if (s->pid <= 0 || since == 0 || s->harakiri_sent ||
            now - since <= wf__cfg.harakiri * 1000) {
            continue;
        }
        s->harakiri_sent = 1;
        if (s->nthreads > 1) {
            snprintf(thr, sizeof(thr), " (thread %u)",
                     (unsigned)(b - s->busy) + 1);
        }
        wf_log(WF_LOG_ERROR, "HARAKIRI: worker %u (pid %d) has not come "
               "back to its loop%s for %llds (--harakiri %ld): core %u runs "
               "%.*s; killing the worker (its other requests are lost) and "
               "starting a new one", s->id, (int)s->pid, thr,
               (long long)((now - since) / 1000), wf__cfg.harakiri,
               b->core, (int)sizeof(b->req), b->req);
        kill(s->pid, SIGKILL);
    }
}

/* Start the replacement of worker id (one at a time). */
static void
start_replacement(unsigned id)
{
    struct wid *w = &wids[id - 1];
    int s = free_slot();

    if (s < 0) {
        return;     /* a slot frees when an old worker exits */
    }
    wf_log(WF_LOG_INFO, "master: replacing worker %u (%s)", id,
           w->why ? w->why : "reload");
    if (spawn(id, s) > 0) {
        w->replacing = s;
    }
    w->pending = 0;
}

static int
replacement_running(void)
{
    unsigned i;

    for (i = 0; i < nwids; i++) {
        if (wids[i].replacing >= 0) {
            return 1;
        }
    }
    return 0;
}

static void
ask_replace(unsigned id, const char *why)
{
    struct wid *w = &wids[id - 1];

    if (w->cheaped) {
        return;     /* --cheaper stopped it: nothing to replace */
    }
    if (w->replacing < 0 && !w->pending) {
        w->pending = 1;
        w->why = why;
    }
}

/* Drive replacements: a new worker that is ready takes over, and the old
 * one drains. */
static void
step_replacements(void)
{
    unsigned i;

    for (i = 0; i < nwids; i++) {
        struct wid *w = &wids[i];

        if (w->replacing < 0 || !slots[w->replacing].ready) {
            continue;
        }
        if (w->slot >= 0 && slots[w->slot].pid > 0) {
            slots[w->slot].draining = 1;
            slots[w->slot].drain_since = mono_ms();
            kill(slots[w->slot].pid, SIGTERM);
        }
        w->slot = w->replacing;
        w->replacing = -1;
    }
    if (replacement_running()) {
        return;
    }
    for (i = 0; i < nwids; i++) {
        if (wids[i].pending) {
            start_replacement(i + 1);
            return;
        }
    }
}

/* --cheaper: a worker is busy when it cannot start a request now (see
 * core/cheaper.c); idle when no core of it holds a request. */
static int
worker_busy(const struct wf__slot *s)
{
    return busiest(s) != NULL ||
           (s->cores > 0 && s->busy_cores >= s->cores);
}

static unsigned
cheaper_running(void)
{
    unsigned i, n = 0;

    for (i = 0; i < nwids; i++) {
        n += !wids[i].cheaped;
    }
    return n;
}

/* --cheaper, once a second: uWSGI's spare algorithm says how many workers
 * to start, or to stop the oldest idle one (gracefully: it finishes what
 * it runs). Not while a reload replaces workers or --idle parked them. */
static void
check_cheaper(int64_t now)
{
    unsigned i, active = 0, busy = 0, cheaped = 0;
    int n;

    if (wf__cheaper.count == 0 || now < cheaper_next) {
        return;
    }
    cheaper_next = now + 1000;
    if (replacement_running() || any_parked()) {
        return;
    }
    for (i = 0; i < nwids; i++) {
        struct wid *w = &wids[i];
        struct wf__slot *s;

        if (w->cheaped) {
            cheaped += w->slot < 0;
            continue;
        }
        if (w->slot < 0) {
            continue;
        }
        s = &slots[w->slot];
        if (s->pid <= 0 || s->draining) {
            continue;
        }
        active++;
        busy += worker_busy(s);
    }
    n = wf__cheaper_spare(&cheaper_st, &wf__cheaper, active, busy, cheaped);
    for (i = 0; i < nwids && n > 0; i++) {
        struct wid *w = &wids[i];
        int s;

        if (!w->cheaped || w->slot >= 0 || (s = free_slot()) < 0) {
            continue;
        }
        if (spawn(i + 1, s) > 0) {
            w->cheaped = 0;
            wf__stats_cheap(i + 1, 0);
            w->slot = s;
            w->fails = 0;
            w->respawn_at = 0;
            n--;
            wf_log(WF_LOG_INFO, "master: every worker busy for more than "
                   "%lds (--cheaper-overload): started worker %u (pid %d); "
                   "%u of %ld running", wf__cheaper.overload, i + 1,
                   (int)slots[s].pid, cheaper_running(), wf__cfg.processes);
        }
    }
    if (n < 0) {
        struct wid *pick = NULL;

        for (i = 0; i < nwids; i++) {
            struct wid *w = &wids[i];
            struct wf__slot *s;

            if (w->cheaped || w->slot < 0 || w->replacing >= 0 ||
                w->pending || w->parked) {
                continue;
            }
            s = &slots[w->slot];
            if (s->pid <= 0 || s->draining || !s->ready ||
                s->busy_cores > 0 || busiest(s) != NULL) {
                continue;
            }
            if (pick == NULL || s->born < slots[pick->slot].born) {
                pick = w;       /* the oldest, as uWSGI */
            }
        }
        if (pick != NULL) {
            struct wf__slot *s = &slots[pick->slot];

            pick->cheaped = 1;
            wf__stats_cheap((unsigned)(pick - wids) + 1, 1);
            s->draining = 1;
            s->drain_since = now;
            kill(s->pid, SIGTERM);
            wf_log(WF_LOG_INFO, "master: more than one worker idle "
                   "(--cheaper): stopping worker %u (pid %d); %u of %ld "
                   "running, at least %ld", s->id, (int)s->pid,
                   cheaper_running(), wf__cfg.processes, wf__cheaper.count);
        }
    }
}

/* A child exited: account for it, respawn when it was not expected. */
static void
reaped(pid_t pid, int status, int stopping)
{
    unsigned i;

    if (wf__stats_reaped(pid, status, stopping)) {
        return;
    }
    for (i = 0; i < nslots; i++) {
        struct wf__slot *s = &slots[i];
        struct wid *w;
        int64_t life;

        if (s->pid != pid) {
            continue;
        }
        w = &wids[s->id - 1];
        life = mono_ms() - s->born;
        s->pid = 0;
        served |= s->ready;
        if (!served && WIFEXITED(status) &&
            WEXITSTATUS(status) == WF__EXIT_NO_APP) {
            /* --lazy-apps and the app cannot load: weft does not run
             * without its app (uWSGI's need-app; without it uWSGI serves
             * errors). Once a worker has served, a replacement's app that
             * fails keeps the old worker (below) or backs off. */
            if (!no_app && !stopping) {
                wf_log(WF_LOG_ERROR, "master: worker %u could not load the "
                       "app (see above) and no worker ever served; "
                       "stopping (exit status 1): fix the app and start "
                       "again", s->id);
                no_app = 1;
            }
            return;
        }
        if (WIFSIGNALED(status)) {
            int expected = s->harakiri_sent || s->drain_killed ||
                (stopping && WTERMSIG(status) == SIGTERM) ||
                (no_app && WTERMSIG(status) == SIGTERM);

            wf_log(expected ? WF_LOG_INFO : WF_LOG_ERROR,
                   "worker %u (pid %d) killed by signal %d (%s)%s", s->id,
                   (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
                   s->harakiri_sent ? " after harakiri" : "");
        } else if (WEXITSTATUS(status) != 0 || (!s->draining && !stopping)) {
            wf_log(WF_LOG_ERROR, "worker %u (pid %d) exited with status %d%s",
                   s->id, (int)pid, WEXITSTATUS(status),
                   s->ready ? "" : " before it was ready (see the lines "
                   "above)");
        }
        if (w->replacing == (int)i) {
            /* the replacement died while starting: keep the old one */
            w->replacing = -1;
            w->fails++;
        }
        if (w->slot == (int)i) {
            w->slot = -1;
            if (w->parked) {
                w->respawn_at = 0;
            } else if (w->cheaped) {
                w->respawn_at = 0;
                if (!stopping) {
                    wf_log(WF_LOG_INFO, "master: worker %u (pid %d) "
                           "cheaped", s->id, (int)pid);
                }
            } else if (!stopping) {
                if (life < 2000 && !s->harakiri_sent) {
                    unsigned secs = 1u << (w->fails < 5 ? w->fails : 5);

                    w->fails++;
                    wf_log(WF_LOG_WARN, "worker %u died %llds after its "
                           "start; next try in %us", s->id,
                           (long long)(life / 1000), secs);
                    w->respawn_at = mono_ms() + secs * 1000;
                } else {
                    w->fails = 0;
                    w->respawn_at = mono_ms();
                }
            }
        }
        return;
    }
}

static int
any_alive(void)
{
    unsigned i;

    for (i = 0; i < nslots; i++) {
        if (slots[i].pid > 0) {
            return 1;
        }
    }
    return 0;
}

/* See internal.h. Runs the master until the last worker is gone. */
int
wf__master_run(unsigned nworkers)
{
    struct sigaction sa;
    int stopping = 0, sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
                                 SIGUSR2, SIGCHLD };
    int64_t stop_deadline = 0;
    struct timespec *touch_mtime = NULL;
    int notified_ready = 0, reloading = 0;
    unsigned i;

    nwids = nworkers;
    nslots = nworkers * 2;
    slots = mmap(NULL, nslots * sizeof(*slots), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    wids = calloc(nworkers, sizeof(*wids));
    if (slots == MAP_FAILED || wids == NULL ||
        pipe2(mpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        wf_log_errno("master: setting up");
        return 1;
    }
    memset(slots, 0, nslots * sizeof(*slots));
    wf__stats_master_start(slots, nslots);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = master_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
        sigaction(sigs[i], &sa, NULL);
    }
    if (wf__cfg.touch_reload.n) {
        touch_mtime = calloc(wf__cfg.touch_reload.n, sizeof(*touch_mtime));
        if (touch_mtime == NULL) {
            wf_log_errno("master: setting up --touch-reload");
            return 1;
        }
        for (i = 0; i < wf__cfg.touch_reload.n; i++) {
            struct stat st;

            if (stat(wf__cfg.touch_reload.v[i], &st) == 0) {
                touch_mtime[i] = st.st_mtim;
            } else {
                wf_log(WF_LOG_WARN, "--touch-reload %s: %s; a reload "
                       "follows when it appears",
                       wf__cfg.touch_reload.v[i], strerror(errno));
            }
        }
    }
    for (i = 0; i < nworkers; i++) {
        wids[i].replacing = -1;
        wids[i].slot = (int)i;
        if (wf__cheaper.count > 0 && i >= (unsigned)wf__cheaper.initial) {
            /* --cheaper: the load starts the others */
            wids[i].slot = -1;
            wids[i].cheaped = 1;
            wf__stats_cheap(i + 1, 1);
            continue;
        }
        if (spawn(i + 1, (int)i) < 0) {
            wids[i].slot = -1;
            wids[i].respawn_at = mono_ms() + 1000;
        }
    }
    if (wf__cheaper.count > 0) {
        wf_log(WF_LOG_INFO, "master (pid %d) started %u of %u workers "
               "(--cheaper %ld: between %ld and %u by load, spare "
               "algorithm)", (int)getpid(), cheaper_running(), nworkers,
               wf__cheaper.count, wf__cheaper.count, nworkers);
    } else {
        wf_log(WF_LOG_INFO, "master (pid %d) started %u workers",
               (int)getpid(), nworkers);
    }
    wf__proctitle_master();
    for (;;) {
        struct pollfd p[17] = { { .fd = mpipe[0], .events = POLLIN } };
        char buf[64];
        int64_t now;
        pid_t pid;
        int status;
        nfds_t np = 1;

        if (!stopping && any_parked()) {
            /* --idle: wake on a client for the parked workers */
            struct wf__listener *l;

            for (l = wf__listeners; l && np < 17; l = l->next) {
                p[np].fd = l->fd;
                p[np].events = POLLIN;
                p[np].revents = 0;
                np++;
            }
        }
        poll(p, np, 100);
        for (nfds_t k = 1; k < np; k++) {
            if (p[k].revents & POLLIN) {
                wf_log(WF_LOG_INFO, "master: a connection for the parked "
                       "workers (--idle): starting them");
                unpark_all();
                break;
            }
        }
        while (read(mpipe[0], buf, sizeof(buf)) > 0) {
        }
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            reaped(pid, status, stopping);
        }
        for (i = 0; i < nslots && !served; i++) {
            served = slots[i].pid > 0 && slots[i].ready;
        }
        if (no_app && !stopping) {
            wf__sd_notify("STOPPING=1\nSTATUS=the app could not be loaded");
            send_all(SIGTERM);
            stopping = 1;
            stop_deadline = mono_ms() + 5000;
        }
        if (msig[SIGQUIT]) {
            msig[SIGQUIT] = 0;
            wf_log(WF_LOG_INFO, "master: SIGQUIT, stopping now");
            wf__sd_notify("STOPPING=1\nSTATUS=stopping now");
            send_all(SIGQUIT);
            stopping = 2;
        }
        if ((msig[SIGTERM] || msig[SIGINT]) && !stopping) {
            wf_log(WF_LOG_INFO, "master: %s, stopping gracefully",
                   msig[SIGTERM] ? "SIGTERM" : "SIGINT");
            wf__sd_notify("STOPPING=1\nSTATUS=stopping: draining the "
                          "workers");
            send_all(SIGTERM);
            stopping = 1;
            stop_deadline = mono_ms() + (wf__cfg.master_mercy > 0
                ? wf__cfg.master_mercy : wf__cfg.reload_mercy + 5) * 1000;
        }
        msig[SIGTERM] = msig[SIGINT] = 0;
        if (msig[SIGUSR1]) {
            msig[SIGUSR1] = 0;
            log_stats();
        }
        if (msig[SIGUSR2]) {
            struct wf_err err;

            msig[SIGUSR2] = 0;
            if (wf__cfg.logto && wf__log_open(wf__cfg.logto, &err) < 0) {
                fprintf(stderr, "weft: %s\n", err.msg);
            }
            wf_log(WF_LOG_INFO, "master: log reopened");
            send_all(SIGUSR2);
        }
        if (stopping) {
            if (!any_alive()) {
                break;
            }
            if (stopping == 1 && mono_ms() > stop_deadline) {
                wf_log(WF_LOG_WARN, "master: workers still running after "
                       "--worker-reload-mercy; killing them");
                send_all(SIGKILL);
                stopping = 2;
            }
            continue;
        }
        now = mono_ms();
        if (msig[SIGHUP]) {
            msig[SIGHUP] = 0;
            wf_log(WF_LOG_INFO, "master: SIGHUP, replacing the workers one "
                   "at a time%s", wf__cfg.lazy_apps ? "" :
                   " (the app was loaded before fork: new code needs "
                   "--lazy-apps)");
            for (i = 0; i < nwids; i++) {
                ask_replace(i + 1, "SIGHUP");
            }
            wf__sd_notify("RELOADING=1\nSTATUS=reloading: replacing the "
                          "workers");
            reloading = 1;
        }
        for (i = 0; i < wf__cfg.touch_reload.n; i++) {
            struct stat st;

            if (stat(wf__cfg.touch_reload.v[i], &st) == 0 &&
                (st.st_mtim.tv_sec != touch_mtime[i].tv_sec ||
                 st.st_mtim.tv_nsec != touch_mtime[i].tv_nsec)) {
                unsigned k;

                touch_mtime[i] = st.st_mtim;
                wf_log(WF_LOG_INFO, "master: %s touched, replacing the "
                       "workers one at a time", wf__cfg.touch_reload.v[i]);
                for (k = 0; k < nwids; k++) {
                    ask_replace(k + 1, "--touch-reload");
                }
                wf__sd_notify("RELOADING=1\nSTATUS=reloading (%s touched)",
                              wf__cfg.touch_reload.v[i]);
                reloading = 1;
            }
        }
        for (i = 0; i < nwids; i++) {
            struct wid *w = &wids[i];

            if (w->slot < 0 && w->replacing < 0 && w->respawn_at &&
                now >= w->respawn_at) {
                int s = free_slot();

                w->respawn_at = 0;
                if (s >= 0 && spawn(i + 1, s) > 0) {
                    w->slot = s;
                    wf_log(WF_LOG_INFO, "master: worker %u respawned (pid "
                           "%d)", i + 1, (int)slots[s].pid);
                } else {
                    w->respawn_at = now + 1000;
                }
                continue;
            }
            if (w->slot < 0 || w->cheaped) {
                continue;
            }
            if (slots[w->slot].want_replace &&
                now - slots[w->slot].born <
                wf__cfg.min_worker_lifetime * 1000) {
                /* uWSGI's --min-worker-lifetime: not yet */
            } else if (slots[w->slot].want_replace) {
                ask_replace(i + 1, slots[w->slot].want_replace == 1
                            ? "--max-requests" : "--reload-on-rss");
            } else if (wf__cfg.max_worker_lifetime > 0 &&
                       now - slots[w->slot].born >
                       wf__cfg.max_worker_lifetime * 1000) {
                ask_replace(i + 1, "--max-worker-lifetime");
            }
        }
        step_replacements();
        wf__stats_master_tick();
        check_harakiri(now);
        check_draining(now);
        check_idle(now);
        check_cheaper(now);
        if (!notified_ready || reloading) {
            unsigned ready = 0, want = 0;

            for (i = 0; i < nwids; i++) {
                if (wids[i].cheaped) {
                    continue;   /* --cheaper: not running, by design */
                }
                want++;
                if (wids[i].slot >= 0 && slots[wids[i].slot].ready &&
                    wids[i].replacing < 0 && !wids[i].pending) {
                    ready++;
                }
            }
            if (ready == want) {
                wf__sd_notify("READY=1\nSTATUS=serving with %u workers%s",
                              ready, reloading ? " (reloaded)" : "");
                notified_ready = 1;
                reloading = 0;
            }
        }
    }
    wf__stats_master_stop();
    munmap(slots, nslots * sizeof(*slots));
    free(wids);
    free(touch_mtime);
    wf_log(WF_LOG_INFO, "master: all workers gone, bye");
    return no_app ? 1 : 0;
}
