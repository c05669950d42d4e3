/*
 * fiber: the suspend engine on Ruby fibers, one per core and request
 * (docs/engines/fiber.md). Rack only: Ruby's VM runs only on stacks it made itself (its
 * own fibers) or on the main thread's, so a core's context must be a Ruby
 * fiber. The rack plugin (which this plugin requires) has started the VM.
 *
 *   resume(c)   loop, in the root fiber: on the first round of a request,
 *               Fiber.new { wf_core_body(c) }; then rb_fiber_resume, inside
 *               rb_protect. It returns when the core suspends (the fiber
 *               yields) or its request ends (the fiber returns and dies).
 *   suspend(c)  core, in the core's fiber: rb_fiber_yield.
 *
 * GC: the live fibers sit in one Ruby Array, registered with the GC, one
 * slot per core; a slot is cleared when its fiber ends (or fails), so no
 * root outlives its request. A suspended fiber keeps its stack and
 * everything the request references.
 *
 * Ruby saves and restores its own per-fiber state (frames, $!, the
 * execution context) at each switch, so the core's save/restore hooks have
 * nothing to do: keeps_lang_state names "rack". The machine stack of a
 * fiber comes from Ruby's fiber pool: RUBY_FIBER_MACHINE_STACK_SIZE and
 * RUBY_FIBER_VM_STACK_SIZE (environment) size it.
 *
 * AddressSanitizer: Debian's Ruby is not built with it, so its fiber
 * switches are not told to ASan, which then believes every fiber runs on
 * the main thread's stack. When a Ruby exception unwinds our (instrumented)
 * frames on a fiber stack, ASan's __asan_handle_no_return must unpoison
 * the dead frames from the stack pointer to the top of the current stack;
 * with the main stack's top it finds a range of gigabytes, gives up ("ASan
 * is ignoring requested __asan_handle_no_return"), and the dead frames'
 * redzones stay poisoned: Ruby's own code reusing that stack later (a
 * memcpy into a stack buffer in ruby_vsnprintf) is reported as a
 * stack-buffer-overflow. So in an ASan build this engine tells ASan, after
 * each switch it makes, which stack it is on (fb_asan_here): the loop's
 * stack once back in fb_resume, the core's fiber stack on entry to
 * fb_body and after rb_fiber_yield. A fiber's stack bounds are its mapping
 * in /proc/self/maps (Ruby's fiber pool puts a guard page below each
 * stack), looked up once per stack and cached. Switches the app makes
 * itself (its own Fiber or Enumerator#next) are not seen; see
 * docs/security.md.
 */
#include <ruby.h>

#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>

#if defined(__SANITIZE_ADDRESS__)
#define FB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FB_ASAN 1
#endif
#endif
#ifndef FB_ASAN
#define FB_ASAN 0
#endif

#if FB_ASAN
#include <sanitizer/common_interface_defs.h>

/* the stacks seen so far: Ruby's fiber pool reuses a few */
#define FB_ASAN_STACKS 256
static struct {
    const void *root_bottom;    /* the loop's stack (the main thread's) */
    size_t root_size;
    struct { uintptr_t lo, hi; } seen[FB_ASAN_STACKS];
    unsigned nseen;
} fb_asan;

/* Tell ASan that the stack running now is [bottom, bottom + size): a
 * switch that has already happened, announced and finished at once. The
 * bounds ASan had before go to *old_bottom and *old_size when asked. */
static void
fb_asan_here(const void *bottom, size_t size, const void **old_bottom,
             size_t *old_size)
{
    void *fake = NULL;

    __sanitizer_start_switch_fiber(&fake, bottom, size);
    __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
}

/* The mapping that holds address a (this fiber's stack): from the cache,
 * else from /proc/self/maps. 0, or -1 when none is found. */
static int
fb_asan_stack_of(uintptr_t a, uintptr_t *lo, uintptr_t *hi)
{
    char line[512];
    FILE *f;

    for (unsigned i = 0; i < fb_asan.nseen; i++) {
        if (a >= fb_asan.seen[i].lo && a < fb_asan.seen[i].hi) {
            *lo = fb_asan.seen[i].lo;
            *hi = fb_asan.seen[i].hi;
            return 0;
        }
    }
    f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long l, h;

        if (sscanf(line, "%lx-%lx", &l, &h) == 2 && a >= l && a < h) {
            fclose(f);
            *lo = l;
            *hi = h;
            if (fb_asan.nseen < FB_ASAN_STACKS) {
                fb_asan.seen[fb_asan.nseen].lo = l;
                fb_asan.seen[fb_asan.nseen++].hi = h;
            }
            return 0;
        }
    }
    fclose(f);
    return -1;
}

/* On a core's fiber: tell ASan this fiber's stack; the first time, keep
 * the bounds ASan had (the loop's stack) for the way back. */
static void
fb_asan_on_fiber(void)
{
    uintptr_t lo, hi;
    const void *ob = NULL;
    size_t os = 0;

    if (fb_asan_stack_of((uintptr_t)__builtin_frame_address(0), &lo,
                         &hi) < 0) {
        return;
    }
    fb_asan_here((const void *)lo, hi - lo, &ob, &os);
    if (fb_asan.root_bottom == NULL) {
        fb_asan.root_bottom = ob;
        fb_asan.root_size = os;
    }
}

/* Back on the loop's stack (after rb_fiber_resume returned). */
static void
fb_asan_on_root(void)
{
    if (fb_asan.root_bottom != NULL) {
        fb_asan_here(fb_asan.root_bottom, fb_asan.root_size, NULL, NULL);
    }
}
#else
#define fb_asan_on_fiber() ((void)0)
#define fb_asan_on_root() ((void)0)
#endif

static struct {
    int enabled;            /* --fiber */
    unsigned n;             /* cores */
    struct wf_core **cores; /* the core of each live fiber */
    VALUE slots;            /* Array: the fiber of each core, or nil */
    unsigned long fails;
} fb;

static VALUE
fb_body(RB_BLOCK_CALL_FUNC_ARGLIST(yielded, arg))
{
    unsigned id = NUM2UINT(arg);

    fb_asan_on_fiber();
    /* the request's whole life, handle() after handle(); each wait
     * inside it comes back to fb_suspend */
    wf_core_body(fb.cores[id]);
    return Qnil;
}

/* Under rb_protect: make the core's fiber on the first round of its
 * request (rb_fiber_new raises, e.g. when no fiber stack can be mapped),
 * then switch into it. */
static VALUE
fb_resume_protected(VALUE vid)
{
    long id = NUM2LONG(vid);
    VALUE fib = rb_ary_entry(fb.slots, id);

    if (NIL_P(fib)) {
        fib = rb_fiber_new(fb_body, vid);
        rb_ary_store(fb.slots, id, fib);
    }
    return rb_fiber_resume(fib, 0, NULL);
}

static VALUE
fb_message(VALUE exc)
{
    VALUE s = rb_obj_as_string(exc);
    return rb_sprintf("%"PRIsVALUE": %"PRIsVALUE, rb_obj_class(exc), s);
}

static int
fb_worker_init(unsigned ncores, struct wf_err *err)
{
    if (wf_opt_get("rack") == NULL) {
        return wf_err_set(err, "--fiber: no Rack app to run; give --rack "
                          "config.ru (the fiber engine switches Ruby fibers "
                          "only)");
    }
    fb.cores = calloc(ncores, sizeof(*fb.cores));
    if (fb.cores == NULL) {
        return wf_err_set(err, "fiber: out of memory for %u cores", ncores);
    }
    fb.n = ncores;
    /* the Array itself is made at the first resume, after the rack
     * plugin's worker_init has reset Ruby's threads in this process */
    fb.slots = Qnil;
    wf_log(WF_LOG_INFO, "*** fiber suspend engine enabled (%u cores) ***",
           ncores);
    return 0;
}

static int
fb_resume(struct wf_core *c)
{
    VALUE fib;
    int state = 0;

    if (c->id >= fb.n) {
        wf_log(WF_LOG_ERROR, "fiber: resume of core %u: no such core (%u "
               "cores)", c->id, fb.n);
        return -1;
    }
    if (NIL_P(fb.slots)) {
        rb_gc_register_address(&fb.slots);
        fb.slots = rb_ary_new_capa((long)fb.n);
    }
    if (NIL_P(rb_ary_entry(fb.slots, (long)c->id))) {
        fb.cores[c->id] = c;
    }
    c->engine_ctx = &fb.cores[c->id];
    rb_protect(fb_resume_protected, UINT2NUM(c->id), &state);
    fb_asan_on_root();
    if (state) {
        /* The rack plugin catches everything the app raises; this is a
         * fiber that could not run (or an exception that escaped it). */
        VALUE exc = rb_errinfo(), msg = Qnil;
        int st2 = 0;

        rb_set_errinfo(Qnil);
        if (!NIL_P(exc)) {
            msg = rb_protect(fb_message, exc, &st2);
            if (st2) {
                rb_set_errinfo(Qnil);
                msg = Qnil;
            }
        }
        fb.fails++;
        wf_log(WF_LOG_ERROR, "fiber: resuming core %u failed: %s", c->id,
               RB_TYPE_P(msg, T_STRING) ? StringValueCStr(msg)
                                        : "non-local exit");
        rb_ary_store(fb.slots, (long)c->id, Qnil);
        fb.cores[c->id] = NULL;
        c->engine_ctx = NULL;
        RB_GC_GUARD(exc);
        return -1;
    }
    fib = rb_ary_entry(fb.slots, (long)c->id);
    if (!NIL_P(fib) && !RTEST(rb_fiber_alive_p(fib))) {
        /* the request ended: drop the only reference to its fiber */
        rb_ary_store(fb.slots, (long)c->id, Qnil);
        fb.cores[c->id] = NULL;
        c->engine_ctx = NULL;
    }
    RB_GC_GUARD(fib);
    return 0;
}

static void
fb_suspend(struct wf_core *c)
{
    VALUE fib = NIL_P(fb.slots) || c->id >= fb.n ? Qnil
                : rb_ary_entry(fb.slots, (long)c->id);

    if (NIL_P(fib) || rb_fiber_current() != fib) {
        /* a yield from another fiber would land in its resumer, not in
         * the loop; the rack plugin refuses such calls before they get
         * here */
        WF_BUG("fiber: suspend of core %u from a fiber that is not the "
               "core's", c->id);
    }
    rb_fiber_yield(0, NULL);
    fb_asan_on_fiber();
}

static void
fb_worker_fini(void)
{
    if (fb.fails > 0) {
        wf_log(WF_LOG_WARN, "fiber: %lu resumes failed in this worker",
               fb.fails);
    }
    if (!NIL_P(fb.slots)) {
        rb_ary_clear(fb.slots);
    }
    free(fb.cores);
    fb.cores = NULL;
    fb.n = 0;
}

/* Under rb_protect: the suspended fiber's backtrace, one String. */
static VALUE
fb_backtrace_protected(VALUE fib)
{
    VALUE bt = rb_funcall(fib, rb_intern("backtrace"), 0);

    if (!RB_TYPE_P(bt, T_ARRAY)) {
        return Qnil;
    }
    /* Ruby lists the innermost frame first; the log shows it last */
    bt = rb_funcall(bt, rb_intern("reverse"), 0);
    return rb_ary_join(bt, rb_str_new_cstr("\n"));
}

/* Where core c's app waits: Fiber#backtrace of its fiber. Loop context,
 * for the harakiri log. */
static size_t
fb_backtrace(struct wf_core *c, char *buf, size_t len)
{
    VALUE fib, s;
    int state = 0;
    size_t n;

    if (NIL_P(fb.slots) || c->id >= fb.n || len == 0) {
        return 0;
    }
    fib = rb_ary_entry(fb.slots, (long)c->id);
    if (NIL_P(fib)) {
        return 0;
    }
    s = rb_protect(fb_backtrace_protected, fib, &state);
    if (state != 0) {
        rb_set_errinfo(Qnil);
        return 0;
    }
    if (NIL_P(s)) {
        return 0;
    }
    n = (size_t)RSTRING_LEN(s);
    if (n >= len - 1) {
        n = len - 2;
    }
    memcpy(buf, RSTRING_PTR(s), n);
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

static const struct wf_suspend_ops fb_ops = {
    .worker_init      = fb_worker_init,
    .resume           = fb_resume,
    .suspend          = fb_suspend,
    .worker_fini      = fb_worker_fini,
    .keeps_lang_state = "rack",
    .backtrace        = fb_backtrace,
};

static const struct wf_option fb_options[] = {
    { "fiber", WF_OPT_FLAG, &fb.enabled, NULL, 0, 0, WF_OPT_F_SELECT,
      "suspend engine: one Ruby fiber per core (Rack apps only)" },
    { NULL }
};

static const char *const fb_requires[] = { "rack", NULL };

WF_PLUGIN(fiber,
          .version = PACKAGE_VERSION,
          .kind    = WF_KIND_SUSPEND,
          .ops     = &fb_ops,
          .options = fb_options,
          .requires = fb_requires,
          .needs   = "the rack plugin (Ruby)",
          .summary = "suspend engine: one Ruby fiber per core (Rack only)",
          .flags   = WF_PLUGIN_F_GLOBAL);
