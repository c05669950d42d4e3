/*
 * ugreen: the suspend engine on our own green threads, one C stack per core.
 *
 * Stacks. There are as many stacks as cores, each one anonymous private
 * mapping: a PROT_NONE guard page, the stack (PROT_READ|PROT_WRITE, never
 * executable, MAP_NORESERVE so that only the pages a request touches are
 * committed), and a guard page above it. An overflow hits the lower guard
 * page: a SIGSEGV handler on an alternate signal stack recognises the
 * address, writes one line naming the core and the option to raise, and
 * lets the default action kill the worker, which the master respawns.
 *
 * A stack is not a core's: a context takes one when it starts and gives
 * it back when its body returns, last in first out, so the few stacks
 * that are hot serve whatever runs. A request parked between two chunks
 * (a generator that yielded with a timer or an fd armed) has no context,
 * hence no stack (core/loop.c ends its context there). Free stacks beyond
 * UG_HOT that have not been used for a while (8 stack returns per stack
 * of the loop, at least 1024) are given back to the kernel
 * (MADV_DONTNEED), the least recently used first, at most one per stack
 * returned: after a burst the worker shrinks to UG_HOT touched stacks as
 * it goes on serving, while bursts that come back every second (1000
 * sleepers woken at once) keep theirs, with no system call per request.
 *
 * Switching. On x86_64 and aarch64 a few lines of assembly save the
 * callee-saved registers and the floating-point control state, swap the
 * stack pointer and return on the other stack: no signal mask system call
 * per switch, unlike swapcontext(3) (see docs/engines/ugreen.md for the
 * measured cost). Other machines use ucontext.
 *
 * The option --ugreen-stacksize is in pages, as uWSGI's, but the default is
 * 2048 pages (8 MiB with 4 KiB pages) instead of uWSGI's 64: CPython code
 * that recurses through C builtins needs far more than 256 KiB to reach its
 * own recursion limit (uWSGI crashes at about 600 levels).
 *
 * The engine keeps no interpreter state: the core calls the language's
 * save/restore around every resume(), so keeps_lang_state is NULL.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <weft/plugin.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* -DUG_NATIVE=0 builds the ucontext fallback on any machine (tests). */
#ifndef UG_NATIVE
#if defined(__x86_64__) || defined(__aarch64__)
#define UG_NATIVE 1
#else
#define UG_NATIVE 0
#endif
#endif
#if !UG_NATIVE
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UG_ASAN 1
#endif
#endif
#ifndef UG_ASAN
#define UG_ASAN 0
#endif

#if UG_ASAN
#include <sanitizer/common_interface_defs.h>
#define UG_ASAN_START(save, bottom, size) \
    __sanitizer_start_switch_fiber((save), (bottom), (size))
#define UG_ASAN_FINISH(save, bottom, size) \
    __sanitizer_finish_switch_fiber((save), (bottom), (size))
#else
#define UG_ASAN_START(save, bottom, size) ((void)0)
#define UG_ASAN_FINISH(save, bottom, size) ((void)0)
#endif

#define UG_DEFAULT_PAGES 2048

/* Free stacks kept touched (the rest are given back to the kernel). */
#define UG_HOT 32

/* Stack returns after which an unused free stack is given back to the
 * kernel, for a loop of n stacks. */
static unsigned long
ug_trim_age(unsigned n)
{
    return 8UL * n > 1024 ? 8UL * n : 1024;
}

/* ------------------------------------------------------ context switch */

#if UG_NATIVE
/*
 * ug_swap(&save_sp, to_sp): push the callee-saved registers and the FP
 * control words on the current stack, store the stack pointer in *save_sp,
 * load to_sp, pop the same frame from there and return on that stack.
 *
 * A new context gets a frame built by ug_frame_init() whose return address
 * is ug_start: it calls the entry function kept in a callee-saved register
 * with the argument kept in another.
 */
void ug_swap(void **save_sp, void *to_sp)
    __attribute__((visibility("hidden")));
void ug_start(void) __attribute__((visibility("hidden")));

#if defined(__x86_64__)
/* Frame, from the saved stack pointer up: x87 control word (8 bytes
 * slot), MXCSR (8 bytes slot), r15, r14, r13, r12, rbx, rbp, return
 * address. */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl ug_swap\n"
    ".hidden ug_swap\n"
    ".type ug_swap,@function\n"
    "ug_swap:\n"
    "    .cfi_startproc\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $16, %rsp\n"
    "    stmxcsr 8(%rsp)\n"
    "    fnstcw (%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    fldcw (%rsp)\n"
    "    ldmxcsr 8(%rsp)\n"
    "    addq $16, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    "    .cfi_endproc\n"
    ".size ug_swap, .-ug_swap\n"
    "\n"
    ".p2align 4\n"
    ".globl ug_start\n"
    ".hidden ug_start\n"
    ".type ug_start,@function\n"
    "ug_start:\n"
    "    .cfi_startproc\n"
    "    .cfi_undefined rip\n"
    "    movq %r12, %rdi\n"
    "    callq *%r13\n"
    "    ud2\n"
    "    .cfi_endproc\n"
    ".size ug_start, .-ug_start\n");

#define UG_FRAME_WORDS 9        /* 72 bytes */
#define UG_REG_FN      4        /* r13 */
#define UG_REG_ARG     5        /* r12 */
#define UG_REG_RET     8        /* the return address */

#elif defined(__aarch64__)
/* Frame, from the saved stack pointer up (176 bytes): x19..x28, x29
 * (frame pointer), x30 (return address), d8..d15, FPCR, padding. */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl ug_swap\n"
    ".hidden ug_swap\n"
    ".type ug_swap,%function\n"
    "ug_swap:\n"
    "    sub sp, sp, #176\n"
    "    stp x19, x20, [sp, #0]\n"
    "    stp x21, x22, [sp, #16]\n"
    "    stp x23, x24, [sp, #32]\n"
    "    stp x25, x26, [sp, #48]\n"
    "    stp x27, x28, [sp, #64]\n"
    "    stp x29, x30, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    mrs x9, fpcr\n"
    "    str x9, [sp, #160]\n"
    "    mov x9, sp\n"
    "    str x9, [x0]\n"
    "    mov sp, x1\n"
    "    ldp x19, x20, [sp, #0]\n"
    "    ldp x21, x22, [sp, #16]\n"
    "    ldp x23, x24, [sp, #32]\n"
    "    ldp x25, x26, [sp, #48]\n"
    "    ldp x27, x28, [sp, #64]\n"
    "    ldp x29, x30, [sp, #80]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d14, d15, [sp, #144]\n"
    "    ldr x9, [sp, #160]\n"
    "    msr fpcr, x9\n"
    "    add sp, sp, #176\n"
    "    ret\n"
    ".size ug_swap, .-ug_swap\n"
    "\n"
    ".p2align 4\n"
    ".globl ug_start\n"
    ".hidden ug_start\n"
    ".type ug_start,%function\n"
    "ug_start:\n"
    "    mov x0, x19\n"
    "    blr x20\n"
    "    brk #0\n"
    ".size ug_start, .-ug_start\n");

#define UG_FRAME_WORDS 22       /* 176 bytes */
#define UG_REG_ARG     0        /* x19 */
#define UG_REG_FN      1        /* x20 */
#define UG_REG_RET     11       /* x30 */
#endif
#endif /* UG_NATIVE */

/* ------------------------------------------------------------ contexts */

struct ug_stack {
    char *map;              /* guard + stack + guard */
    char *lo, *hi;          /* the usable stack [lo, hi) */
    int dirty;              /* used since it was last given back */
    unsigned long last;     /* its loop's returns count when it came back */
    unsigned core;          /* the core whose context runs on it (for the
                               overflow line) */
};

struct ug_ctx {
    struct wf_core *core;   /* the core being run, set by resume() */
    struct ug_stack *st;    /* while live */
    int live;               /* a body is running or suspended on it */
#if UG_NATIVE
    void *sp;               /* saved stack pointer while switched out */
#else
    ucontext_t uc;
#endif
#if UG_ASAN
    void *fake;             /* ASan's fake stack while switched out */
#endif
};

static struct {
    struct ug_ctx *ctx;
    unsigned n;
    struct ug_stack *stacks;    /* n of them */
    struct ug_stack **free0;    /* the first loop's free stacks */
    size_t page;
    size_t stack_size;
    size_t map_size;
    /* overflow detection */
    struct sigaction old_segv, old_bus;
    int handlers;
} ug;

/* Per loop thread (--threads): the loop's own context, the core running
 * now, and the alternate signal stack the overflow handler runs on (a
 * signal stack is per thread). A core is resumed only by the thread
 * whose loop owns it. */
static __thread struct {
    struct ug_ctx *current;     /* running now, or NULL in the loop */
    /* This loop's free stacks, a LIFO: free[nfree - 1] is the hottest;
     * free[0 .. clean_below) are given back to the kernel (or unused). A
     * loop of cores base .. base+m-1 lists the stacks of the same indexes
     * (thread_init). The first loop's (cores 0 .. m-1, set up by
     * worker_init, which knows no m) lists all n, stack i at free[n-1-i]:
     * with at most m of its contexts live, nfree stays >= n - m, and
     * clean_below, lowered only to nfree, too; so it never takes nor
     * gives back free[0 .. n-m), the stacks m .. n-1 of the other loops:
     * no stack is used by two loops. */
    struct ug_stack **free;
    unsigned nfree;
    unsigned clean_below;
    unsigned long returns;      /* stacks given back to free, ever */
    unsigned long trim_age;     /* returns since its last use, to trim */
#if UG_NATIVE
    void *loop_sp;
#else
    ucontext_t loop_uc;
    struct ug_ctx *starting;
#endif
#if UG_ASAN
    void *loop_fake;
    const void *loop_bottom;
    size_t loop_size;
#endif
    void *altstack;
    size_t altstack_size;
    stack_t old_altstack;
} ugt;

static int ug_opt_enabled;
static long ug_opt_pages;

/* ------------------------------------------------------- stack overflow */

/* Async-signal-safe decimal formatting. */
static char *
ug_fmt_ulong(char *p, unsigned long v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static void
ug_put(char **p, const char *s)
{
    size_t n = strlen(s);

    memcpy(*p, s, n);
    *p += n;
}

static void
ug_segv(int sig, siginfo_t *si, void *uctx)
{
    const char *a = si->si_addr;
    unsigned i;
    char line[256], *p = line;
    struct sigaction dfl;
    ssize_t w;

    for (i = 0; i < ug.n; i++) {
        const struct ug_stack *x = &ug.stacks[i];

        if (x->map != NULL
            && ((a >= x->map && a < x->lo)
                || (a >= x->hi && a < x->map + ug.map_size))) {
            break;
        }
    }
    if (i == ug.n) {
        /* Not ours: the previous handler (or the default action) gets the
         * fault when the instruction runs again. */
        sigaction(sig, sig == SIGBUS ? &ug.old_bus : &ug.old_segv, NULL);
        return;
    }
    i = ug.stacks[i].core;  /* whose context ran on that stack */
    ug_put(&p, "weft: ugreen: stack overflow on core ");
    p = ug_fmt_ulong(p, i);
    ug_put(&p, " (stack ");
    p = ug_fmt_ulong(p, (unsigned long)ug.stack_size);
    ug_put(&p, " bytes); raise --ugreen-stacksize\n");
    w = write(STDERR_FILENO, line, (size_t)(p - line));
    (void)w;
    /* The default action kills the worker when the instruction faults
     * again on return; the master respawns it. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/* This thread's alternate signal stack: the overflow handler runs while
 * the core's stack is exhausted. 0 or -1 + err. */
static int
ug_altstack_set(struct wf_err *err)
{
    stack_t ss;

    ugt.altstack_size = 64 * 1024;
    if (ugt.altstack_size < (size_t)SIGSTKSZ) {
        ugt.altstack_size = (size_t)SIGSTKSZ;
    }
    ugt.altstack = mmap(NULL, ugt.altstack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ugt.altstack == MAP_FAILED) {
        ugt.altstack = NULL;
        return wf_err_set(err, "ugreen: mmap(%zu) for the signal stack "
                          "failed: %s", ugt.altstack_size, strerror(errno));
    }
    ss.ss_sp = ugt.altstack;
    ss.ss_size = ugt.altstack_size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &ugt.old_altstack) < 0) {
        wf_err_set(err, "ugreen: sigaltstack() failed: %s", strerror(errno));
        munmap(ugt.altstack, ugt.altstack_size);
        ugt.altstack = NULL;
        return -1;
    }
    return 0;
}

/* This thread's alternate signal stack goes. */
static void
ug_altstack_unset(void)
{
    stack_t cur;

    if (ugt.altstack != NULL) {
        /* Give back the previous alternate stack only if ours is still the
         * one in place (someone may have installed theirs since). */
        if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == ugt.altstack) {
            if (ugt.old_altstack.ss_flags & SS_DISABLE) {
                cur.ss_flags = SS_DISABLE;
                sigaltstack(&cur, NULL);
            } else {
                sigaltstack(&ugt.old_altstack, NULL);
            }
        }
        munmap(ugt.altstack, ugt.altstack_size);
        ugt.altstack = NULL;
    }
}

static int
ug_handlers_install(struct wf_err *err)
{
    struct sigaction sa;

    if (ug_altstack_set(err) < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = ug_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &ug.old_segv) < 0) {
        wf_err_set(err, "ugreen: sigaction(SIGSEGV) failed: %s",
                   strerror(errno));
        goto fail_segv;
    }
    if (sigaction(SIGBUS, &sa, &ug.old_bus) < 0) {
        wf_err_set(err, "ugreen: sigaction(SIGBUS) failed: %s",
                   strerror(errno));
        goto fail_bus;
    }
    ug.handlers = 1;
    return 0;

fail_bus:
    sigaction(SIGSEGV, &ug.old_segv, NULL);
fail_segv:
    ug_altstack_unset();
    return -1;
}

static void
ug_handlers_remove(void)
{
    if (ug.handlers) {
        sigaction(SIGBUS, &ug.old_bus, NULL);
        sigaction(SIGSEGV, &ug.old_segv, NULL);
        ug.handlers = 0;
    }
    ug_altstack_unset();
}

/* -------------------------------------------------------------- engine */

static void ug_worker_fini(void);

static int
ug_worker_init(unsigned ncores, struct wf_err *err)
{
    unsigned i;
    long pages = ug_opt_pages > 0 ? ug_opt_pages : UG_DEFAULT_PAGES;

    if (ug.ctx != NULL) {
        return wf_err_set(err, "ugreen: worker_init called twice");
    }
    if (ncores == 0) {
        return wf_err_set(err, "ugreen: no cores; set --async N");
    }
    ug.page = (size_t)sysconf(_SC_PAGESIZE);
    ug.stack_size = (size_t)pages * ug.page;
    ug.map_size = ug.stack_size + 2 * ug.page;
    ug.ctx = calloc(ncores, sizeof(*ug.ctx));
    ug.stacks = calloc(ncores, sizeof(*ug.stacks));
    ug.free0 = calloc(ncores, sizeof(*ug.free0));
    if (ug.ctx == NULL || ug.stacks == NULL || ug.free0 == NULL) {
        ug_worker_fini();   /* ug.n is 0: it frees the arrays only */
        return wf_err_set(err, "ugreen: out of memory for %u cores", ncores);
    }
    ug.n = ncores;
    for (i = 0; i < ncores; i++) {
        struct ug_stack *x = &ug.stacks[i];
        char *m;

        /* Never executable (uWSGI maps its stacks RWX). */
        m = mmap(NULL, ug.map_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                 -1, 0);
        if (m == MAP_FAILED) {
            wf_err_set(err, "ugreen: mmap(%zu) for the stack of core %u "
                       "failed: %s; lower --ugreen-stacksize or --async",
                       ug.map_size, i, strerror(errno));
            goto fail;
        }
        x->map = m;
        x->lo = m + ug.page;
        x->hi = x->lo + ug.stack_size;
        if (mprotect(m, ug.page, PROT_NONE) < 0
            || mprotect(x->hi, ug.page, PROT_NONE) < 0) {
            wf_err_set(err, "ugreen: mprotect() of the guard pages of core "
                       "%u failed: %s; raise vm.max_map_count", i,
                       strerror(errno));
            goto fail;
        }
        /* the lowest first out: a quiet worker keeps to a few */
        ug.free0[ncores - 1 - i] = x;
    }
    ugt.free = ug.free0;
    ugt.nfree = ncores;
    ugt.clean_below = ncores;
    ugt.trim_age = ug_trim_age(ncores);
    if (ug_handlers_install(err) < 0) {
        goto fail;
    }
    wf_log(WF_LOG_INFO, "ugreen: %u cores, stack %zu bytes (%zu KiB, %ld "
           "pages) each, committed on use", ncores, ug.stack_size,
           ug.stack_size / 1024, pages);
    return 0;

fail:
    ug_worker_fini();
    return -1;
}

static void
ug_worker_fini(void)
{
    unsigned i;

    ug_handlers_remove();
    for (i = 0; i < ug.n; i++) {
        if (ug.stacks[i].map != NULL) {
            munmap(ug.stacks[i].map, ug.map_size);
        }
    }
    free(ug.ctx);
    free(ug.stacks);
    free(ug.free0);
    ug.ctx = NULL;
    ug.stacks = NULL;
    ug.free0 = NULL;
    ugt.free = NULL;
    ugt.nfree = ugt.clean_below = 0;
    ug.n = 0;
    ugt.current = NULL;
}

/* Runs first on a new stack: the body, then back to the loop for good. */
static void
ug_entry(struct ug_ctx *x)
{
#if UG_ASAN
    UG_ASAN_FINISH(NULL, &ugt.loop_bottom, &ugt.loop_size);
#endif
    wf_core_body(x->core);
    x->live = 0;
    /* NULL: this fiber ends, ASan may drop its fake stack. */
    UG_ASAN_START(NULL, ugt.loop_bottom, ugt.loop_size);
#if UG_NATIVE
    ug_swap(&x->sp, ugt.loop_sp);
#else
    setcontext(&ugt.loop_uc);
#endif
    WF_BUG("ugreen: a dead context was resumed");
}

#if !UG_NATIVE
static void
ug_entry_uc(void)
{
    ug_entry(ugt.starting);
}
#endif

/* A free stack for core id's new context (there is one: no more contexts
 * are live than there are cores). */
static struct ug_stack *
ug_stack_take(unsigned id)
{
    struct ug_stack *st = ugt.free[--ugt.nfree];

    if (ugt.clean_below > ugt.nfree) {
        ugt.clean_below = ugt.nfree;
    }
    st->dirty = 1;
    st->core = id;
    return st;
}

/* st's context is over: st goes on top of the free stacks. When more than
 * UG_HOT free stacks are touched, the least recently used of them is given
 * back to the kernel (its pages are zero-filled again on their next use)
 * if it has not been used for trim_age returns. */
static void
ug_stack_give(struct ug_stack *st)
{
    st->last = ++ugt.returns;
    ugt.free[ugt.nfree++] = st;
    while (ugt.nfree - ugt.clean_below > UG_HOT) {
        struct ug_stack *cold = ugt.free[ugt.clean_below];

        if (!cold->dirty) {
            ugt.clean_below++;
            continue;
        }
        if (ugt.returns - cold->last < ugt.trim_age) {
            break;  /* the coldest was used lately: keep them all */
        }
        if (madvise(cold->lo, ug.stack_size, MADV_DONTNEED) < 0) {
            wf_log_errno("ugreen: madvise(MADV_DONTNEED) of a free stack");
        }
        cold->dirty = 0;
        ugt.clean_below++;
        break;      /* one system call per stack given back, at most */
    }
}

/* Prepare x to start ug_entry(x) at its next switch. */
static int
ug_frame_init(struct ug_ctx *x)
{
#if UG_NATIVE
    uintptr_t top = (uintptr_t)x->st->hi & ~(uintptr_t)15;
    uintptr_t *f;

#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t fpucw;

    /* The return address lands at top - 24, an address = 8 (mod 16), so
     * that ug_start runs with rsp 16-aligned, as after a call site. The
     * control words are the loop's now, as getcontext() would take. */
    f = (uintptr_t *)(top - 24) - UG_REG_RET;
    memset(f, 0, UG_FRAME_WORDS * sizeof(*f));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    f[0] = fpucw;
    f[1] = mxcsr;
#elif defined(__aarch64__)
    uint64_t fpcr;

    /* ug_start then runs with sp = top, 16-aligned; x29 = 0 ends the
     * frame chain. */
    f = (uintptr_t *)(top - UG_FRAME_WORDS * sizeof(uintptr_t));
    memset(f, 0, UG_FRAME_WORDS * sizeof(*f));
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    f[20] = fpcr;
#endif
    f[UG_REG_ARG] = (uintptr_t)x;
    f[UG_REG_FN] = (uintptr_t)ug_entry;
    f[UG_REG_RET] = (uintptr_t)ug_start;
    x->sp = f;
    return 0;
#else
    if (getcontext(&x->uc) < 0) {
        wf_log_errno("ugreen: getcontext()");
        return -1;
    }
    x->uc.uc_stack.ss_sp = x->st->lo;
    x->uc.uc_stack.ss_size = ug.stack_size;
    x->uc.uc_link = NULL;
    makecontext(&x->uc, ug_entry_uc, 0);
    return 0;
#endif
}

static int
ug_resume(struct wf_core *c)
{
    struct ug_ctx *x;

    if (ug.ctx == NULL || c->id >= ug.n) {
        wf_log(WF_LOG_ERROR, "ugreen: resume of core %u: no such context "
               "(%u cores)", c->id, ug.n);
        return -1;
    }
    if (ugt.current != NULL) {
        wf_log(WF_LOG_ERROR, "ugreen: resume of core %u from core %u: only "
               "the loop may resume", c->id,
               (unsigned)(ugt.current - ug.ctx));
        return -1;
    }
    x = &ug.ctx[c->id];
    if (!x->live) {
        x->st = ug_stack_take(c->id);
        if (ug_frame_init(x) < 0) {
            ug_stack_give(x->st);
            x->st = NULL;
            return -1;
        }
        x->live = 1;
#if !UG_NATIVE
        ugt.starting = x;
#endif
    }
    x->core = c;
    c->engine_ctx = x;
    ugt.current = x;
#if UG_ASAN
    UG_ASAN_START(&ugt.loop_fake, x->st->lo, ug.stack_size);
#endif
#if UG_NATIVE
    ug_swap(&ugt.loop_sp, x->sp);
#else
    swapcontext(&ugt.loop_uc, &x->uc);
#endif
    UG_ASAN_FINISH(ugt.loop_fake, NULL, NULL);
    ugt.current = NULL;
    if (!x->live) {
        /* its body returned: the stack is free (we are back on ours) */
        ug_stack_give(x->st);
        x->st = NULL;
    }
    return 0;
}

static void
ug_suspend(struct wf_core *c)
{
    struct ug_ctx *x = c->engine_ctx;

    if (x == NULL || x != ugt.current) {
        WF_BUG("ugreen: suspend of core %u, which is not running", c->id);
    }
#if UG_ASAN
    UG_ASAN_START(&x->fake, ugt.loop_bottom, ugt.loop_size);
#endif
#if UG_NATIVE
    ug_swap(&x->sp, ugt.loop_sp);
#else
    swapcontext(&x->uc, &ugt.loop_uc);
#endif
#if UG_ASAN
    UG_ASAN_FINISH(x->fake, &ugt.loop_bottom, &ugt.loop_size);
#endif
}

/* --threads: a loop thread other than the first starts: its own signal
 * stack for the overflow handler (the contexts of its cores were made by
 * worker_init; the loop's own context is per thread already). */
static int
ug_thread_init(unsigned base, unsigned n, struct wf_err *err)
{
    unsigned i;

    if (base + n > ug.n) {
        return wf_err_set(err, "ugreen: cores %u..%u of a loop thread, "
                          "but %u contexts", base, base + n - 1, ug.n);
    }
    ugt.free = calloc(n, sizeof(*ugt.free));
    if (ugt.free == NULL) {
        return wf_err_set(err, "ugreen: out of memory for %u stacks", n);
    }
    for (i = 0; i < n; i++) {
        ugt.free[n - 1 - i] = &ug.stacks[base + i];
    }
    ugt.nfree = ugt.clean_below = n;
    ugt.trim_age = ug_trim_age(n);
    if (ug_altstack_set(err) < 0) {
        free(ugt.free);
        ugt.free = NULL;
        return -1;
    }
    return 0;
}

static void
ug_thread_fini(void)
{
    ug_altstack_unset();
    free(ugt.free);
    ugt.free = NULL;
    ugt.nfree = ugt.clean_below = 0;
    ugt.current = NULL;
}

static const struct wf_suspend_ops ug_ops = {
    .worker_init      = ug_worker_init,
    .thread_init      = ug_thread_init,
    .thread_fini      = ug_thread_fini,
    .resume           = ug_resume,
    .suspend          = ug_suspend,
    .worker_fini      = ug_worker_fini,
    .keeps_lang_state = NULL,
};

static const struct wf_option ug_options[] = {
    { "ugreen", WF_OPT_FLAG, &ug_opt_enabled, NULL, 0, 0, WF_OPT_F_SELECT,
      "suspend engine: green threads on our own C stacks" },
    { "ugreen-stacksize", WF_OPT_INT, &ug_opt_pages, "2048", 4, 1L << 20, 0,
      "stack of each core, in pages (default 2048: 8 MiB, committed on use)",
      0, NULL, "PAGES" },
    { NULL }
};

WF_PLUGIN(ugreen,
          .version = PACKAGE_VERSION,
          .kind    = WF_KIND_SUSPEND,
          .ops     = &ug_ops,
          .options = ug_options,
          .summary = "suspend engine: green threads on guarded C stacks",
          .needs   = "nothing (native switch on x86_64 and aarch64, ucontext elsewhere)",
          .flags   = WF_PLUGIN_F_THREADS);
