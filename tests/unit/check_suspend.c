/*
 * check_suspend: one contract suite, run on every suspend engine that was
 * built (TCases "suspend/ugreen" and "suspend/greenlet"), each loaded
 * through the real loader. greenlet requires the python plugin: its
 * fixture loads it and starts CPython through the descriptor's init op, as
 * the master does, before the engine's worker_init. The contract is struct
 * wf_suspend_ops in include/weft/ops.h: resume() runs a core until it
 * suspends or its body returns; suspend() goes back to the loop; a body
 * that returned leaves a dead context and the next resume() starts a fresh
 * body. The body is the test's own, through wf__core_body_hook.
 *
 * Engine-specific facts (stack size, guard pages, overflow message; for
 * greenlet: no greenlet outlives its request, Python finalises cleanly
 * after the cores ran, a refused switch is an error and not an exit) are
 * tested only for the engines that promise them (the ENG_F_* flags).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "internal.h"

#define WF_CHECK_PLUGINS
#include "check_util.h"

#define NCORES 100

/* What an engine promises beyond the contract. */
#define ENG_F_CSTACK 0x1u   /* own C stacks: guard pages, overflow message */
#define ENG_F_PYTHON 0x2u   /* runs in CPython: the python plugin is started
                               first (through its descriptor's init op) */

static const char *eng_name;
static unsigned eng_flags;
static const struct wf_suspend_ops *sus;
static struct wf_core cores[NCORES];

/* The body each test runs on its cores. */
static void (*body)(struct wf_core *c);

static void
body_dispatch(struct wf_core *c)
{
    body(c);
}

/* ------------------------------------------------ CPython, for greenlet */

/*
 * The python plugin is loaded RTLD_GLOBAL with libpython: the few CPython
 * functions the greenlet tests need are looked up by name, so that this
 * program needs neither Python's headers nor its library.
 */
static void *
py_sym(const char *name)
{
    void *f = dlsym(RTLD_DEFAULT, name);

    ck_assert_msg(f != NULL, "%s not found after loading the python "
                  "plugin: %s", name, dlerror());
    return f;
}

/* Run Python source in __main__; 0, or -1 when it raised (the traceback
 * goes to stderr). */
static int
py_run(const char *src)
{
    int (*run)(const char *) = (int (*)(const char *))py_sym(
        "PyRun_SimpleString");

    return run(src);
}

/* Start CPython the way weft does: load the python plugin and call the
 * init op of its descriptor (the master's job; here, this test child's). */
static void
py_start(void)
{
    struct wf_err err = { { 0 } };
    const struct wf_plugin *p = wf_check_plugin_load("python", &err);
    const struct wf_lang_ops *lo;

    ck_assert_msg(p != NULL, "loading python: %s", err.msg);
    ck_assert_int_eq(p->kind, WF_KIND_LANG);
    lo = p->ops;
    ck_assert_msg(lo->init(&err) == 0, "python init: %s", err.msg);
}

/* The python plugin's shutdown op: Py_FinalizeEx. */
static void
py_shutdown(void)
{
    const struct wf_plugin *p = wf__plugin_find("python");

    ck_assert_ptr_nonnull(p);
    ((const struct wf_lang_ops *)p->ops)->shutdown();
}

/* Load the engine and start ncores contexts. */
static void
sus_start(unsigned ncores)
{
    struct wf_err err = { { 0 } };
    const struct wf_plugin *p;
    unsigned i;

    if (eng_flags & ENG_F_PYTHON) {
        py_start();
    }
    p = wf_check_plugin_load(eng_name, &err);
    ck_assert_msg(p != NULL, "loading %s: %s", eng_name, err.msg);
    ck_assert_int_eq(p->kind, WF_KIND_SUSPEND);
    sus = p->ops;
    for (i = 0; i < NCORES; i++) {
        memset(&cores[i], 0, sizeof(cores[i]));
        cores[i].id = i;
    }
    wf__core_body_hook = body_dispatch;
    ck_assert_msg(sus->worker_init(ncores, &err) == 0, "%s worker_init: %s",
                  eng_name, err.msg);
}

static void
sus_teardown(void)
{
    if (sus != NULL && sus->worker_fini != NULL) {
        sus->worker_fini();
    }
    sus = NULL;
}

static void
setup_ugreen(void)
{
    eng_name = "ugreen";
    eng_flags = ENG_F_CSTACK;
}

static void
setup_greenlet(void)
{
    eng_name = "greenlet";
    eng_flags = ENG_F_PYTHON;
}

/* The default stack of a C-stack engine: 2048 pages. */
static size_t
default_stack_size(void)
{
    return 2048 * (size_t)sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------------ contract */

static int step;

static void
body_steps(struct wf_core *c)
{
    volatile int local = 1000 + (int)c->id;

    step = 1;
    sus->suspend(c);
    ck_assert_int_eq(local, 1000 + (int)c->id);
    step = 2;
    sus->suspend(c);
    step = 3;
}

START_TEST(resume_runs_until_suspend_and_continues_there)
{
    sus_start(4);
    body = body_steps;
    step = 0;
    ck_assert_int_eq(sus->resume(&cores[2]), 0);
    ck_assert_int_eq(step, 1);
    ck_assert_int_eq(sus->resume(&cores[2]), 0);
    ck_assert_int_eq(step, 2);
    ck_assert_int_eq(sus->resume(&cores[2]), 0);
    ck_assert_int_eq(step, 3);
}
END_TEST

static unsigned counts[NCORES];
static unsigned finished[NCORES];

static void
body_count(struct wf_core *c)
{
    /* A value kept on this core's stack across every switch. */
    volatile uint64_t mine = 0x9e3779b97f4a7c15ull * (c->id + 1);
    unsigned i;

    for (i = 0; i < 1000; i++) {
        counts[c->id]++;
        sus->suspend(c);
        ck_assert_uint_eq(mine, 0x9e3779b97f4a7c15ull * (c->id + 1));
    }
    finished[c->id]++;
}

START_TEST(hundred_cores_round_robin_keep_their_counts)
{
    unsigned round, i;

    sus_start(NCORES);
    body = body_count;
    memset(counts, 0, sizeof(counts));
    memset(finished, 0, sizeof(finished));
    for (round = 1; round <= 1001; round++) {
        for (i = 0; i < NCORES; i++) {
            ck_assert_int_eq(sus->resume(&cores[i]), 0);
            ck_assert_uint_eq(counts[i], round > 1000 ? 1000 : round);
            ck_assert_uint_eq(finished[i], round > 1000 ? 1 : 0);
        }
    }
}
END_TEST

static unsigned starts[NCORES];

static void
body_start_once(struct wf_core *c)
{
    starts[c->id]++;
    sus->suspend(c);
}

START_TEST(dead_context_restarts_with_a_fresh_body)
{
    sus_start(2);
    body = body_start_once;
    memset(starts, 0, sizeof(starts));
    ck_assert_int_eq(sus->resume(&cores[1]), 0);   /* starts, suspends */
    ck_assert_uint_eq(starts[1], 1);
    ck_assert_int_eq(sus->resume(&cores[1]), 0);   /* returns: dead */
    ck_assert_uint_eq(starts[1], 1);
    ck_assert_int_eq(sus->resume(&cores[1]), 0);   /* a new body */
    ck_assert_uint_eq(starts[1], 2);
    ck_assert_int_eq(sus->resume(&cores[1]), 0);
    ck_assert_int_eq(sus->resume(&cores[0]), 0);
    ck_assert_uint_eq(starts[0], 1);
    ck_assert_uint_eq(starts[1], 2);
}
END_TEST

static int round_loop, round_core;
static volatile double one = 1.0, three = 3.0;
static double third_core_before, third_core_after, third_loop;

static void
body_rounding(struct wf_core *c)
{
    fesetround(FE_UPWARD);
    third_core_before = one / three;
    sus->suspend(c);
    round_core = fegetround();
    third_core_after = one / three;
}

/* Both the x87 control word (what fegetround reads) and MXCSR (what SSE
 * arithmetic obeys) follow the core. */
START_TEST(fp_rounding_mode_follows_the_core)
{
    double third_nearest;

    sus_start(1);
    body = body_rounding;
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    third_nearest = one / three;
    ck_assert_int_eq(sus->resume(&cores[0]), 0);
    round_loop = fegetround();
    third_loop = one / three;
    ck_assert_int_eq(sus->resume(&cores[0]), 0);
    ck_assert_int_eq(round_loop, FE_TONEAREST);
    ck_assert(third_loop == third_nearest);
    ck_assert_int_eq(round_core, FE_UPWARD);
    ck_assert(third_core_before != third_nearest);
    ck_assert(third_core_after == third_core_before);
    fesetround(FE_TONEAREST);
}
END_TEST

/* ------------------------------------------------------- deep stacks */

static size_t deep_target, deep_reached;
static char *deep_top;

/* Each level keeps 1 KiB with a pattern that must survive the descent,
 * a switch at the bottom, and the way back up. */
static unsigned
deep(struct wf_core *c, unsigned level)
{
    volatile unsigned char pad[1024];
    char *here = __builtin_frame_address(0);
    unsigned sum, i;

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = (unsigned char)(level + i);
    }
    if ((size_t)(deep_top - here) < deep_target) {
        sum = deep(c, level + 1);
    } else {
        deep_reached = (size_t)(deep_top - here);
        sus->suspend(c);
        sum = 0;
    }
    for (i = 0; i < sizeof(pad); i++) {
        if (pad[i] != (unsigned char)(level + i)) {
            return 0x80000000u;
        }
    }
    return sum + 1;
}

static unsigned deep_levels;

static void
body_deep(struct wf_core *c)
{
    deep_top = __builtin_frame_address(0);
    deep_levels = deep(c, 0);
}

START_TEST(deep_recursion_near_the_default_stack_size)
{
    sus_start(2);
    body = body_deep;
    /* all but 512 KiB of the default 8 MiB (with 4 KiB pages); greenlet
     * runs on the thread's own stack (8 MiB by ulimit -s, shared with the
     * loop's frames) and copies what a core used at every switch: 2 MiB */
    deep_target = (eng_flags & ENG_F_CSTACK)
                  ? default_stack_size() - 512 * 1024 : 2 * 1024 * 1024;
    deep_reached = 0;
    deep_levels = 0;
    ck_assert_int_eq(sus->resume(&cores[1]), 0);
    ck_assert_uint_ge(deep_reached, deep_target);
    ck_assert_int_eq(sus->resume(&cores[1]), 0);
    ck_assert_msg(deep_levels > 0 && deep_levels < 0x80000000u,
                  "a frame was overwritten (%x)", deep_levels);
}
END_TEST

static void
body_unbounded(struct wf_core *c)
{
    deep_target = (size_t)-1;       /* never the bottom */
    body_deep(c);
}

/* Run fn(arg) in a child whose stderr goes to buf (NUL-terminated);
 * returns the child's wait status. */
static int
child_stderr(void (*fn)(unsigned), unsigned arg, char *buf, size_t len)
{
    int p[2], status;
    size_t got = 0;
    ssize_t r;
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    while (got + 1 < len && (r = read(p[0], buf + got, len - 1 - got)) > 0) {
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(p[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* What run_in_child()'s child runs: set before the fork. */
static void (*child_body)(struct wf_core *);
static unsigned child_ncores;

static void
body_child(unsigned id)
{
    sus_start(child_ncores);
    body = child_body;
    sus->resume(&cores[id]);
}

/* Run body `b` on core `id` of a worker with ncores cores in a child whose
 * stderr goes to buf; returns the child's wait status. */
static int
run_in_child(void (*b)(struct wf_core *), unsigned ncores, unsigned id,
             char *buf, size_t len)
{
    child_body = b;
    child_ncores = ncores;
    return child_stderr(body_child, id, buf, len);
}

START_TEST(stack_overflow_kills_with_a_message)
{
    char buf[8192], want[128];
    int status;

    if (!(eng_flags & ENG_F_CSTACK)) {
        return;
    }
    status = run_in_child(body_unbounded, 4, 3, buf, sizeof(buf));
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "child status %#x, stderr: %s", status, buf);
    snprintf(want, sizeof(want), "stack overflow on core 3 (stack %zu bytes)",
             default_stack_size());
    ck_assert_msg(strstr(buf, want) != NULL, "stderr lacks '%s': %s", want,
                  buf);
    ck_assert_msg(strstr(buf, "--ugreen-stacksize") != NULL, "stderr: %s",
                  buf);
}
END_TEST

/* --threads: a loop thread other than the first (thread_init, ABI 1.6)
 * runs core `id`; an overflow there is caught on that thread's own
 * signal stack and named, as in the first thread. */
static unsigned thread_core;

static void *
overflow_thread(void *arg)
{
    struct wf_err err;

    (void)arg;
    if (sus->thread_init != NULL &&
        sus->thread_init(thread_core, 1, &err) < 0) {
        fprintf(stderr, "thread_init: %s\n", err.msg);
        _exit(3);
    }
    body = body_unbounded;
    sus->resume(&cores[thread_core]);
    return NULL;
}

static void
body_child_thread(unsigned id)
{
    pthread_t t;

    sus_start(4);
    thread_core = id;
    pthread_create(&t, NULL, overflow_thread, NULL);
    pthread_join(t, NULL);
}

START_TEST(stack_overflow_in_a_loop_thread_kills_with_a_message)
{
    char buf[8192], want[128];
    int status;

    if (!(eng_flags & ENG_F_CSTACK)) {
        return;
    }
    status = child_stderr(body_child_thread, 2, buf, sizeof(buf));
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "child status %#x, stderr: %s", status, buf);
    snprintf(want, sizeof(want), "stack overflow on core 2 (stack %zu bytes)",
             default_stack_size());
    ck_assert_msg(strstr(buf, want) != NULL, "stderr lacks '%s': %s", want,
                  buf);
}
END_TEST

static void
body_null_write(struct wf_core *c)
{
    /* An ordinary crash, far from any guard page. */
    volatile int *volatile p = (int *)16;

    *p = 1;
}

START_TEST(other_segfault_is_not_called_overflow)
{
    char buf[8192];
    int status;

    if (!(eng_flags & ENG_F_CSTACK)) {
        return;
    }
    status = run_in_child(body_null_write, 4, 2, buf, sizeof(buf));
    /* The handler that was there before gets the fault: the default one
     * kills by SIGSEGV, AddressSanitizer's reports it and exits 1. */
    ck_assert_msg((WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
                  || (WIFEXITED(status) && WEXITSTATUS(status) != 0
                      && strstr(buf, "AddressSanitizer") != NULL),
                  "child status %#x, stderr: %s", status, buf);
    ck_assert_msg(strstr(buf, "stack overflow") == NULL, "stderr: %s", buf);
}
END_TEST

/* The /proc/self/maps line of the mapping that holds addr. */
static int
maps_line(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long a, b;
        char p[5];

        if (sscanf(line, "%lx-%lx %4s", &a, &b, p) == 3 && addr >= a
            && addr < b) {
            *lo = a;
            *hi = b;
            memcpy(perms, p, 5);
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

static uintptr_t stack_addr;

static void
body_where(struct wf_core *c)
{
    stack_addr = (uintptr_t)__builtin_frame_address(0);
}

START_TEST(stacks_are_not_executable_and_guarded)
{
    uintptr_t lo, hi, glo, ghi;
    char perms[5], gp[5];

    if (!(eng_flags & ENG_F_CSTACK)) {
        return;
    }
    sus_start(3);
    body = body_where;
    ck_assert_int_eq(sus->resume(&cores[1]), 0);
    ck_assert(maps_line(stack_addr, &lo, &hi, perms));
    ck_assert_msg(strcmp(perms, "rw-p") == 0, "core stack is %s", perms);
    ck_assert_uint_eq(hi - lo, default_stack_size());
    /* guard pages below and above */
    ck_assert(maps_line(lo - 1, &glo, &ghi, gp));
    ck_assert_msg(strcmp(gp, "---p") == 0, "page below the stack is %s", gp);
    ck_assert(maps_line(hi, &glo, &ghi, gp));
    ck_assert_msg(strcmp(gp, "---p") == 0, "page above the stack is %s", gp);
}
END_TEST


/* ------------------------------------------------------- greenlet only */

/* How many greenlet objects the garbage collector knows of (the main
 * greenlet included) goes into __main__.n_greenlets; checked there. */
#define PY_COUNT_GREENLETS \
    "import gc, greenlet\n" \
    "n_greenlets = sum(1 for o in gc.get_objects()\n" \
    "                  if isinstance(o, greenlet.greenlet))\n"

static void
body_once(struct wf_core *c)
{
    starts[c->id]++;
    sus->suspend(c);
}

/* A request's greenlet is dropped when its body returns: over many
 * requests the count of live greenlets does not grow (uWSGI drops it the
 * same way; a kept reference would keep every request's frames). */
START_TEST(finished_requests_leave_no_greenlet_behind)
{
    unsigned i, k;

    if (!(eng_flags & ENG_F_PYTHON)) {
        return;
    }
    sus_start(8);
    body = body_once;
    memset(starts, 0, sizeof(starts));
    ck_assert_int_eq(py_run(PY_COUNT_GREENLETS "base = n_greenlets\n"), 0);
    for (k = 0; k < 50; k++) {
        for (i = 0; i < 8; i++) {
            ck_assert_int_eq(sus->resume(&cores[i]), 0);   /* suspends */
        }
        if (k == 0) {
            /* eight suspended requests: eight more greenlets */
            ck_assert_int_eq(py_run(PY_COUNT_GREENLETS
                                    "assert n_greenlets == base + 8, "
                                    "(n_greenlets, base)\n"), 0);
        }
        for (i = 0; i < 8; i++) {
            ck_assert_int_eq(sus->resume(&cores[i]), 0);   /* returns */
        }
    }
    ck_assert_uint_eq(starts[7], 50);
    ck_assert_int_eq(py_run(PY_COUNT_GREENLETS
                            "assert n_greenlets == base, "
                            "(n_greenlets, base)\n"), 0);
}
END_TEST

/* docs/engines/greenlet.md, "Worker exit": with cores suspended and finished, the python plugin's
 * shutdown (Py_FinalizeEx) and then the engine's worker_fini run in a
 * child that must exit normally; the suspended ones are reported as left
 * alone, not killed. */
static void
fini_child(unsigned nsuspended)
{
    unsigned i;

    sus_start(4);
    body = body_once;
    for (i = 0; i < 4; i++) {
        sus->resume(&cores[i]);                 /* all four suspend */
    }
    for (i = nsuspended; i < 4; i++) {
        sus->resume(&cores[i]);                 /* these finish */
    }
    py_shutdown();
    sus->worker_fini();
    sus = NULL;
    _exit(0);
}

START_TEST(python_finalises_cleanly_after_the_cores_ran)
{
    char buf[8192];
    int status;

    if (!(eng_flags & ENG_F_PYTHON)) {
        return;
    }
    status = child_stderr(fini_child, 0, buf, sizeof(buf));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x, stderr: %s", status, buf);
    ck_assert_msg(strstr(buf, "suspended core") == NULL, "stderr: %s", buf);

    status = child_stderr(fini_child, 2, buf, sizeof(buf));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x, stderr: %s", status, buf);
    ck_assert_msg(strstr(buf, "greenlet: 2 suspended cores left alone "
                         "when Python finalises") != NULL, "stderr: %s", buf);
}
END_TEST

/* A greenlet can only be switched to from its own thread: resuming a core
 * from another thread makes greenlet refuse the switch. That must be a
 * logged error and -1 for that core, not the end of the process (uWSGI
 * calls exit(1) there), and the other cores go on. */
static struct {
    int r;
} other_thread;

static void *
resume_from_other_thread(void *arg)
{
    int (*ensure)(void) = (int (*)(void))py_sym("PyGILState_Ensure");
    void (*release)(int) = (void (*)(int))py_sym("PyGILState_Release");
    int st = ensure();

    other_thread.r = sus->resume(&cores[1]);
    release(st);
    return NULL;
}

static void
switch_fail_child(unsigned unused)
{
    void *(*save)(void);
    void (*restore)(void *);
    pthread_t t;
    void *ts;

    sus_start(2);
    save = (void *(*)(void))py_sym("PyEval_SaveThread");
    restore = (void (*)(void *))py_sym("PyEval_RestoreThread");
    body = body_once;
    memset(starts, 0, sizeof(starts));
    if (sus->resume(&cores[1]) != 0 || starts[1] != 1) {
        _exit(10);
    }
    ts = save();
    other_thread.r = 99;
    pthread_create(&t, NULL, resume_from_other_thread, NULL);
    pthread_join(t, NULL);
    restore(ts);
    if (other_thread.r != -1) {
        _exit(11);
    }
    /* the other core still works, and so does core 1 with a new request
     * once the failed one is dropped */
    if (sus->resume(&cores[0]) != 0 || sus->resume(&cores[0]) != 0 ||
        starts[0] != 1) {
        _exit(12);
    }
    if (sus->resume(&cores[1]) != 0 || starts[1] != 2) {
        _exit(13);
    }
    _exit(0);
}

START_TEST(failed_switch_is_a_logged_error_not_an_exit)
{
    char buf[8192];
    int status;

    if (!(eng_flags & ENG_F_PYTHON)) {
        return;
    }
    status = child_stderr(switch_fail_child, 0, buf, sizeof(buf));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x (exit 10-13: a step failed), stderr: %s",
                  status, buf);
    ck_assert_msg(strstr(buf, "greenlet: switch into core 1 failed") != NULL,
                  "stderr: %s", buf);
    ck_assert_msg(strstr(buf, "different thread") != NULL, "stderr: %s",
                  buf);
}
END_TEST

START_TEST(keeps_the_python_state_itself)
{
    if (!(eng_flags & ENG_F_PYTHON)) {
        return;
    }
    sus_start(1);
    ck_assert_ptr_nonnull(sus->keeps_lang_state);
    ck_assert_str_eq(sus->keeps_lang_state, "python");
}
END_TEST

/* ------------------------------------------------------------ bad input */

START_TEST(resume_of_unknown_core_fails)
{
    struct wf_core far = { .id = 7 };

    sus_start(4);
    body = body_steps;
    ck_assert_int_eq(sus->resume(&far), -1);
}
END_TEST

START_TEST(worker_init_without_cores_fails_with_a_fix)
{
    struct wf_err err = { { 0 } };
    const struct wf_plugin *p = wf_check_plugin_load(eng_name, &err);

    ck_assert_ptr_nonnull(p);
    sus = p->ops;
    ck_assert_int_eq(sus->worker_init(0, &err), -1);
    ck_assert_msg(strstr(err.msg, "--async") != NULL, "message: %s",
                  err.msg);
    sus = NULL;
}
END_TEST

/* --------------------------------------------------------------- suite */

static TCase *
sus_tcase(const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, sus_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, resume_runs_until_suspend_and_continues_there);
    tcase_add_test(tc, hundred_cores_round_robin_keep_their_counts);
    tcase_add_test(tc, dead_context_restarts_with_a_fresh_body);
    tcase_add_test(tc, fp_rounding_mode_follows_the_core);
    tcase_add_test(tc, deep_recursion_near_the_default_stack_size);
    tcase_add_test(tc, stack_overflow_kills_with_a_message);
    tcase_add_test(tc, stack_overflow_in_a_loop_thread_kills_with_a_message);
    tcase_add_test(tc, other_segfault_is_not_called_overflow);
    tcase_add_test(tc, stacks_are_not_executable_and_guarded);
    tcase_add_test(tc, resume_of_unknown_core_fails);
    tcase_add_test(tc, worker_init_without_cores_fails_with_a_fix);
    tcase_add_test(tc, finished_requests_leave_no_greenlet_behind);
    tcase_add_test(tc, python_finalises_cleanly_after_the_cores_ran);
    tcase_add_test(tc, failed_switch_is_a_logged_error_not_an_exit);
    tcase_add_test(tc, keeps_the_python_state_itself);
    return tc;
}

int
main(void)
{
    static const struct wf_check_engine engines[] = {
        { "ugreen", "suspend/ugreen", setup_ugreen },
#if WF_BUILD_FLAGS & WF_BUILD_F_ASAN
        /* greenlet switches by copying slices of the C stack, redzones
         * included: AddressSanitizer reports each switch (the plugin
         * refuses to start under ASan for the same reason) */
#else
        { "greenlet", "suspend/greenlet", setup_greenlet },
#endif
    };

#if WF_BUILD_FLAGS & WF_BUILD_F_ASAN
    printf("check_suspend: suspend/greenlet skipped: greenlet copies C "
           "stacks, which AddressSanitizer cannot follow\n");
#endif

    return wf_check_engines_main("suspend", engines, NELEM(engines),
                                 sus_tcase, "check_suspend: no suspend "
                                 "engine built: skipped");
}
