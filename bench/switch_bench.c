/*
 * switch_bench: what one context switch costs, ugreen against the
 * swapcontext(3) that uWSGI's ugreen uses.
 *
 * Three ping-pongs between a "loop" and one green thread, each round trip
 * being two switches:
 *   ugreen     the built plugin, through its ops: resume() + suspend()
 *   swapctx    two ucontexts and swapcontext(), as uWSGI does (it saves
 *              and restores the signal mask: one system call per switch)
 *   plugin2    optional: a second ugreen plugin file given on the command
 *              line (for instance one built with -DUG_NATIVE=0, i.e. on
 *              ucontext), measured the same way as the first
 *
 * Build and run by hand from the top of a built tree:
 *   cc -O2 -Iinclude -o bench/switch_bench bench/switch_bench.c -ldl -rdynamic
 *   bench/switch_bench plugins/ugreen_plugin.so [other_ugreen.so] [N]
 *
 * Prints ns per switch for each, and the ratio swapcontext / ugreen.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <weft/plugin.h>

/* ---------------------------------------- what the weft binary provides */

WF_EXPORT int
wf_err_set(struct wf_err *err, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

WF_EXPORT void
wf_log(enum wf_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < WF_LOG_WARN) {
        return;
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

WF_EXPORT void
wf_log_errno(const char *fmt, ...)
{
    int e = errno;
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(e));
}

static const struct wf_suspend_ops *sus;
static long iters;

WF_EXPORT void
wf_core_body(struct wf_core *c)
{
    long i;

    for (i = 0; i < iters; i++) {
        sus->suspend(c);
    }
}

/* ------------------------------------------------------------- timing */

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per switch through the plugin at path; -1 on failure. */
static double
bench_plugin(const char *path)
{
    const struct wf_plugin *(*fn)(void);
    struct wf_core core = { .id = 0 };
    struct wf_err err = { { 0 } };
    double t0, t1;
    void *h;
    long i;

    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "switch_bench: %s\n", dlerror());
        return -1;
    }
    fn = (const struct wf_plugin *(*)(void))dlsym(h, "wf_plugin_ugreen");
    if (fn == NULL) {
        fprintf(stderr, "switch_bench: %s: no wf_plugin_ugreen\n", path);
        return -1;
    }
    sus = fn()->ops;
    if (sus->worker_init(1, &err) < 0) {
        fprintf(stderr, "switch_bench: %s\n", err.msg);
        return -1;
    }
    sus->resume(&core);     /* start: the body suspends at once */
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        sus->resume(&core);
    }
    t1 = now_ns();
    sus->worker_fini();
    dlclose(h);
    return (t1 - t0) / (2.0 * iters);
}

static ucontext_t uc_loop, uc_green;

static void
uc_body(void)
{
    long i;

    for (i = 0; i <= iters; i++) {
        swapcontext(&uc_green, &uc_loop);
    }
}

static double
bench_swapcontext(void)
{
    static char stack[256 * 1024];
    double t0, t1;
    long i;

    getcontext(&uc_green);
    uc_green.uc_stack.ss_sp = stack;
    uc_green.uc_stack.ss_size = sizeof(stack);
    uc_green.uc_link = &uc_loop;
    makecontext(&uc_green, uc_body, 0);
    swapcontext(&uc_loop, &uc_green);
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        swapcontext(&uc_loop, &uc_green);
    }
    t1 = now_ns();
    return (t1 - t0) / (2.0 * iters);
}

int
main(int argc, char **argv)
{
    const char *p1 = argc > 1 ? argv[1] : "plugins/ugreen_plugin.so";
    const char *p2 = NULL;
    double ug, uc, ug2 = -1;
    int r;

    iters = 5000000;
    for (r = 2; r < argc; r++) {
        if (strchr(argv[r], '/') != NULL) {
            p2 = argv[r];
        } else {
            iters = atol(argv[r]);
        }
    }
    /* warm up, then measure */
    uc = bench_swapcontext();
    uc = bench_swapcontext();
    ug = bench_plugin(p1);
    if (ug < 0) {
        return 1;
    }
    ug = bench_plugin(p1);
    if (p2 != NULL) {
        ug2 = bench_plugin(p2);
    }
    printf("switches: %ld round trips (2 switches each)\n", iters);
    printf("ugreen (%s): %.1f ns/switch\n", p1, ug);
    if (p2 != NULL) {
        printf("ugreen (%s): %.1f ns/switch\n", p2, ug2);
    }
    printf("swapcontext: %.1f ns/switch\n", uc);
    printf("ratio swapcontext/ugreen: %.1fx\n", uc / ug);
    return 0;
}
