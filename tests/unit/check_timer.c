/*
 * The deadline heap: nodes come out in deadline order, one deadline per
 * node, removal from the middle keeps the order, the heap grows.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "check_util.h"

#define N 200

static struct wf__tnode cores[N];
static struct wf__loop loop;        /* the heap is a loop's */

#define ID(t) ((unsigned)((t) - cores))

static void
setup(void)
{
    unsigned i;

    free(loop.heap);
    memset(&loop, 0, sizeof(loop));
    memset(cores, 0, sizeof(cores));
    for (i = 0; i < N; i++) {
        cores[i].heap_idx = -1;
    }
}

START_TEST(due_cores_come_out_in_deadline_order)
{
    unsigned i;
    int64_t last = -1;
    struct wf__tnode *c;

    srandom(7);
    for (i = 0; i < N; i++) {
        wf__timer_set(&loop, &cores[i], random() % 10000);
    }
    ck_assert_uint_eq(loop.nheap, N);
    ck_assert_uint_ge(loop.heap_cap, N);
    for (i = 0; i < N; i++) {
        c = wf__timer_pop_due(&loop, 10000);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_ge(c->deadline, last);
        ck_assert_int_eq(c->heap_idx, -1);
        last = c->deadline;
    }
    ck_assert_ptr_null(wf__timer_pop_due(&loop, 10000));
}
END_TEST

START_TEST(nothing_is_due_before_its_deadline)
{
    wf__timer_set(&loop, &cores[0], 500);
    wf__timer_set(&loop, &cores[1], 300);
    ck_assert_int_eq(wf__timer_next(&loop, 100), 200);
    ck_assert_ptr_null(wf__timer_pop_due(&loop, 299));
    ck_assert_ptr_eq(wf__timer_pop_due(&loop, 300), &cores[1]);
    ck_assert_int_eq(wf__timer_next(&loop, 600), 0);
    ck_assert_ptr_eq(wf__timer_pop_due(&loop, 600), &cores[0]);
    ck_assert_int_eq(wf__timer_next(&loop, 600), -1);
}
END_TEST

START_TEST(a_core_has_one_deadline_and_clearing_keeps_order)
{
    unsigned i;
    struct wf__tnode *c;
    int64_t last = -1;

    for (i = 0; i < 50; i++) {
        wf__timer_set(&loop, &cores[i], 1000 - i);
    }
    wf__timer_set(&loop, &cores[10], 5);      /* moves, not added twice */
    ck_assert_uint_eq(loop.nheap, 50);
    for (i = 20; i < 30; i++) {
        wf__timer_clear(&loop, &cores[i]);
        wf__timer_clear(&loop, &cores[i]);    /* clearing twice is harmless */
    }
    ck_assert_uint_eq(loop.nheap, 40);
    ck_assert_ptr_eq(wf__timer_pop_due(&loop, 2000), &cores[10]);
    while ((c = wf__timer_pop_due(&loop, 2000)) != NULL) {
        ck_assert_msg(ID(c) < 20 || ID(c) >= 30, "cleared node %u "
                      "came out", ID(c));
        ck_assert_int_ge(c->deadline, last);
        last = c->deadline;
    }
}
END_TEST

static Suite *
timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = wf_check_tcase(s, "heap", 10, setup, NULL);

    tcase_add_test(tc, due_cores_come_out_in_deadline_order);
    tcase_add_test(tc, nothing_is_due_before_its_deadline);
    tcase_add_test(tc, a_core_has_one_deadline_and_clearing_keeps_order);
    return s;
}

WF_CHECK_MAIN(timer_suite)
