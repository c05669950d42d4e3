/*
 * Unit tests of --cheaper's spare algorithm (core/cheaper.c): sequences of
 * checks (one a second in the master) with the workers running, busy and
 * cheaped at each, and what the algorithm answers at each: start n, stop
 * one (-1), or nothing. The sequences are uWSGI 2.0's behaviour, measured
 * with Debian's uWSGI 2.0.21 (docs/migrating.md): with the default
 * overload of 3, a worker starts at the 4th busy check in a row and one
 * stops every 3rd check while more than one is free.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <string.h>

#include "cheaper.h"

#include "check_util.h"

struct step {
    unsigned active, busy, cheaped;
    int want;
};

struct scenario {
    const char *name;
    struct wf__cheaper_cfg cfg;
    struct step steps[16];
    unsigned n;
};

#define CFG(count, step, overload) { (count), 0, (step), (overload) }

static const struct scenario scenarios[] = {
    { "all busy: one starts at the 4th check, then the count restarts",
      CFG(1, 1, 3),
      { { 1, 1, 3, 0 }, { 1, 1, 3, 0 }, { 1, 1, 3, 0 }, { 1, 1, 3, 1 },
        { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 2, 2, 1 } },
      8 },
    { "cheaper-step starts several, never more than are cheaped",
      CFG(1, 3, 2),
      { { 1, 1, 5, 0 }, { 1, 1, 5, 0 }, { 1, 1, 5, 3 },
        { 4, 4, 2, 0 }, { 4, 4, 2, 0 }, { 4, 4, 2, 2 } }, 6 },
    { "nothing left to start: 0, and the overload starts again",
      CFG(1, 1, 1),
      { { 3, 3, 0, 0 }, { 3, 3, 0, 0 }, { 3, 3, 0, 0 } }, 3 },
    { "one spare worker is the stable state",
      CFG(1, 1, 3),
      { { 2, 1, 2, 0 }, { 2, 1, 2, 0 }, { 2, 1, 2, 0 }, { 2, 1, 2, 0 },
        { 2, 1, 2, 0 }, { 2, 1, 2, 0 } }, 6 },
    { "more than one free: one stops every 3rd check",
      CFG(1, 1, 3),
      { { 3, 0, 1, 0 }, { 3, 0, 1, 0 }, { 3, 0, 1, -1 },
        { 2, 0, 2, 0 }, { 2, 0, 2, 0 }, { 2, 0, 2, -1 },
        { 1, 0, 3, 0 }, { 1, 0, 3, 0 }, { 1, 0, 3, 0 }, { 1, 0, 3, 0 } },
      10 },
    { "never below --cheaper",
      CFG(2, 1, 1),
      { { 2, 0, 2, 0 }, { 2, 0, 2, 0 }, { 2, 0, 2, 0 } }, 3 },
    { "a free worker makes the overload fade before it starts one",
      CFG(1, 1, 3),
      { { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 1, 2, 0 },
        { 2, 2, 2, 0 }, { 2, 1, 2, 0 }, { 2, 1, 2, 0 }, { 2, 1, 2, 0 },
        { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 2, 2, 0 }, { 2, 2, 2, 1 } },
      12 },
    { "a busy check stops the stopping",
      CFG(1, 1, 3),
      { { 3, 0, 1, 0 }, { 3, 0, 1, 0 }, { 3, 3, 1, 0 }, { 3, 0, 1, 0 },
        { 3, 0, 1, 0 }, { 3, 0, 1, -1 } }, 6 },
    { "no worker running counts as busy",
      CFG(1, 1, 1),
      { { 0, 0, 4, 0 }, { 0, 0, 4, 1 } }, 2 },
};

START_TEST(spare_sequences)
{
    const struct scenario *sc = &scenarios[_i];
    struct wf__cheaper_state st;
    unsigned k;

    memset(&st, 0, sizeof(st));
    for (k = 0; k < sc->n; k++) {
        const struct step *p = &sc->steps[k];
        int got = wf__cheaper_spare(&st, &sc->cfg, p->active, p->busy,
                                    p->cheaped);

        ck_assert_msg(got == p->want, "%s: check %u (%u running, %u busy, "
                      "%u cheaped): got %d, want %d", sc->name, k + 1,
                      p->active, p->busy, p->cheaped, got, p->want);
    }
}
END_TEST

static void
setup(void)
{
}

static void
teardown(void)
{
}

static Suite *
cheaper_suite(void)
{
    Suite *s = suite_create("cheaper");
    TCase *tc;

    tc = wf_check_tcase(s, "spare", 10, setup, teardown);
    tcase_add_loop_test(tc, spare_sequences, 0, NELEM(scenarios));
    return s;
}

WF_CHECK_MAIN(cheaper_suite)
