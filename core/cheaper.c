/*
 * --cheaper: uWSGI's "cheaper" subsystem with its default algorithm,
 * "spare". The master runs --cheaper-initial workers at start, adds up to
 * --cheaper-step when every worker has been busy for more than
 * --cheaper-overload checks in a row (one check a second), and stops the
 * oldest idle worker every --cheaper-overload checks while more than one
 * worker is free, never going below --cheaper nor above --processes.
 *
 * A worker is busy when it cannot start another request now: each of its
 * cores holds one, or its loop is running one (a request that blocks the
 * loop, without a suspend engine). With one core per worker (no --async)
 * that is uWSGI's rule; uWSGI counts an async worker busy as soon as one
 * core holds a request, weft when it has no core left.
 *
 * This file holds the options, their checks and the algorithm (a pure
 * function: tests/unit/check_cheaper.c); core/master.c acts on it.
 * Master context, start-up and the master's loop.
 */
#include "internal.h"
#include "cheaper.h"

#include <string.h>

struct wf__cheaper_cfg wf__cheaper;
static char *cheaper_algo;

static int
check_algo(const struct wf_option *o, const char *v, struct wf_err *err)
{
    (void)o;
    if (v == NULL || strcmp(v, "spare") != 0) {
        return wf_err_set(err, "--cheaper-algo %s: weft has uWSGI's spare "
                          "algorithm only (busyness, backlog and manual are "
                          "not in weft); write cheaper-algo = spare or "
                          "leave it out", v ? v : "");
    }
    return 0;
}

const struct wf_option wf__cheaper_options[] = {
    { "cheaper", WF_OPT_INT, &wf__cheaper.count, "0", 0, 1023, 0,
      "scale the workers by load between N and --processes (uWSGI's "
      "cheaper, spare algorithm; needs --master; 0: always --processes)",
      0, NULL, "N" },
    { "cheaper-initial", WF_OPT_INT, &wf__cheaper.initial, "0", 0, 1024, 0,
      "with --cheaper: workers started at first (default: --cheaper)", 0,
      NULL, "N" },
    { "cheaper-step", WF_OPT_INT, &wf__cheaper.step, "1", 0, 1024, 0,
      "with --cheaper: most workers started at once when all are busy",
      0, NULL, "N" },
    { "cheaper-overload", WF_OPT_INT, &wf__cheaper.overload, "3", 1, 86400,
      0, "with --cheaper: seconds every worker must be busy before more "
      "start; one idle worker stops every N seconds", 0, NULL, "SECS" },
    { "cheaper-algo", WF_OPT_STR, &cheaper_algo, NULL, 0, 0, 0,
      "the scaling algorithm: spare (uWSGI's default, the only one weft "
      "has)", 0, check_algo, "spare" },
    { NULL }
};

/* See cheaper.h. */
int
wf__cheaper_check(struct wf_err *err)
{
    long procs = wf__cfg.processes;

    if (wf__cheaper.count == 0) {
        if (wf__cheaper.initial > 0) {
            wf_log(WF_LOG_WARN, "--cheaper-initial %ld without --cheaper: "
                   "all %ld --processes start and stay (as in uWSGI)",
                   wf__cheaper.initial, procs);
        }
        return 0;
    }
    if (wf__cheaper.count >= procs) {
        return wf_err_set(err, "--cheaper %ld: must be lower than "
                          "--processes (%ld), as uWSGI requires; set "
                          "processes to the most workers and cheaper to the "
                          "fewest", wf__cheaper.count, procs);
    }
    if (wf__cheaper.initial == 0) {
        wf__cheaper.initial = wf__cheaper.count;
    } else if (wf__cheaper.initial < wf__cheaper.count) {
        wf_log(WF_LOG_WARN, "--cheaper-initial %ld: lower than --cheaper "
               "(%ld); starting %ld workers (as uWSGI does)",
               wf__cheaper.initial, wf__cheaper.count, wf__cheaper.count);
        wf__cheaper.initial = wf__cheaper.count;
    } else if (wf__cheaper.initial > procs) {
        wf_log(WF_LOG_WARN, "--cheaper-initial %ld: higher than "
               "--processes (%ld); starting %ld workers (as uWSGI does)",
               wf__cheaper.initial, procs, procs);
        wf__cheaper.initial = procs;
    }
    if (wf__cheaper.step < 1) {
        wf__cheaper.step = 1;       /* uWSGI starts one with step 0 too */
    }
    if (!wf__cfg.master) {
        wf_log(WF_LOG_INFO, "--cheaper needs a master to start and stop "
               "workers: running with --master (as uWSGI does)");
        wf__cfg.master = 1;
    }
    return 0;
}

/* See cheaper.h. */
int
wf__cheaper_spare(struct wf__cheaper_state *st,
                  const struct wf__cheaper_cfg *cfg, unsigned active,
                  unsigned busy, unsigned cheaped)
{
    unsigned long overload = cfg->overload > 0 ? (unsigned long)cfg->overload
                                               : 1;

    if (active > busy) {
        /* a free worker: the overload fades */
        if (st->overload_count > 0) {
            st->overload_count--;
        }
    } else {
        st->overload_count++;
        st->idle_count = 0;
    }
    if (st->overload_count > overload) {
        unsigned step = cfg->step > 0 ? (unsigned)cfg->step : 1;

        st->overload_count = 0;
        return (int)(cheaped < step ? cheaped : step);
    }
    if (st->overload_count == 0) {
        if (active > busy && active - busy == 1) {
            return 0;       /* the stable state: one spare worker */
        }
        st->idle_count++;
        if (active > (unsigned long)cfg->count &&
            st->idle_count % overload == 0) {
            return -1;
        }
    }
    return 0;
}
