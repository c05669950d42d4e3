/*
 * --cheaper: the master scales the workers between --cheaper and
 * --processes by load, with uWSGI's "spare" algorithm (core/cheaper.c).
 * The options and their checks, and the algorithm as a pure function;
 * core/master.c starts and stops the workers it asks for. Core internal.
 */
#ifndef WEFT_CORE_CHEAPER_H
#define WEFT_CORE_CHEAPER_H

#include <weft/plugin.h>

/* --cheaper, --cheaper-initial, --cheaper-step, --cheaper-overload,
 * --cheaper-algo (ends with { NULL }). */
extern const struct wf_option wf__cheaper_options[];

/* The options as set (after wf__cheaper_check). */
struct wf__cheaper_cfg {
    long count;             /* --cheaper: fewest workers; 0: off */
    long initial;           /* --cheaper-initial: workers at start */
    long step;              /* --cheaper-step: most started at once */
    long overload;          /* --cheaper-overload: checks (seconds) */
};
extern struct wf__cheaper_cfg wf__cheaper;

/* Master, after every option is applied, before the sockets: checks the
 * options against each other as uWSGI does (--cheaper must be lower than
 * --processes: -1 + err; --cheaper-initial out of range is logged and
 * brought in range), and turns --master on when --cheaper needs it.
 * 0 or -1 with err (one line: the option, the problem, what to write). */
int wf__cheaper_check(struct wf_err *err);

/* What the spare algorithm remembers from one check to the next. */
struct wf__cheaper_state {
    unsigned long overload_count;   /* checks in a row with no free worker */
    unsigned long idle_count;       /* checks with more than one free */
};

/*
 * One check of uWSGI's spare algorithm (core/master.c calls it once a
 * second). `active`: the workers running (not cheaped, ready); `busy`:
 * those of them that cannot take a request now; `cheaped`: the workers
 * that could be started. Returns n > 0: start n workers; -1: stop one
 * idle worker (the oldest); 0: nothing. Pure but for *st.
 *
 * As uWSGI 2.0: every check with no free worker counts an overload; more
 * than --cheaper-overload of them in a row start up to --cheaper-step
 * workers. With exactly one free worker nothing changes; with more, every
 * --cheaper-overload-th such check stops one, down to --cheaper.
 */
int wf__cheaper_spare(struct wf__cheaper_state *st,
                      const struct wf__cheaper_cfg *cfg, unsigned active,
                      unsigned busy, unsigned cheaped);

#endif
