/*
 * Plugins that are wrong on purpose, one per BAD_* macro, so that
 * check_registry sees every error line of the loader. Built for
 * 'make check' only.
 */
#include <weft/plugin.h>

static int
bad_wait(void *st, struct wf_io_event *ev, int max, long timeout_ms)
{
    return 0;
}

static int
bad_probe(void)
{
    return 0;
}

static void *
bad_open(unsigned max_fds, struct wf_err *err)
{
    return (void *)1;
}

static int
bad_set(void *st, int fd, unsigned o, unsigned n)
{
    return 0;
}

static void
bad_close(void *st)
{
}

static const struct wf_io_ops bad_ops = {
    .pref = 1,
    .probe = bad_probe,
    .open = bad_open,
    .set = bad_set,
#ifndef BAD_NOOP
    .wait = bad_wait,
#endif
    .close = bad_close,
};

#ifdef BAD_REQUIRES
static const char *const bad_requires[] = { "nonexistent", NULL };
#endif

#define STAMP(maj, min, mag)                                              \
    .magic = (mag), .abi_major = (maj), .abi_minor = (min),                \
    .size = sizeof(struct wf_plugin), .build = WF_BUILD_FLAGS,             \
    .version = "test", .kind = WF_KIND_IO, .ops = &bad_ops

#if defined(BAD_MAGIC)
WF_EXPORT const struct wf_plugin *wf_plugin_badmagic(void);
const struct wf_plugin *
wf_plugin_badmagic(void)
{
    static const struct wf_plugin d = {
        STAMP(WF_ABI_MAJOR, WF_ABI_MINOR, 0x12345678u), .name = "badmagic" };
    return &d;
}
#elif defined(BAD_ABI)
WF_EXPORT const struct wf_plugin *wf_plugin_oldabi(void);
const struct wf_plugin *
wf_plugin_oldabi(void)
{
    static const struct wf_plugin d = {
        STAMP(WF_ABI_MAJOR + 1, 0, WF_PLUGIN_MAGIC), .name = "oldabi" };
    return &d;
}
#elif defined(BAD_MINOR)
WF_EXPORT const struct wf_plugin *wf_plugin_newminor(void);
const struct wf_plugin *
wf_plugin_newminor(void)
{
    static const struct wf_plugin d = {
        STAMP(WF_ABI_MAJOR, WF_ABI_MINOR + 1, WF_PLUGIN_MAGIC),
        .name = "newminor" };
    return &d;
}
#elif defined(BAD_NOOP)
WF_PLUGIN(noop, .version = "test", .kind = WF_KIND_IO, .ops = &bad_ops);
#elif defined(BAD_NAME)
WF_EXPORT const struct wf_plugin *wf_plugin_wrongname(void);
const struct wf_plugin *
wf_plugin_wrongname(void)
{
    static const struct wf_plugin d = {
        STAMP(WF_ABI_MAJOR, WF_ABI_MINOR, WF_PLUGIN_MAGIC), .name = "other" };
    return &d;
}
#elif defined(BAD_NOSYM)
WF_EXPORT int wf_not_a_plugin(void);
int
wf_not_a_plugin(void)
{
    return 0;
}
#elif defined(BAD_REQUIRES)
WF_PLUGIN(needsmissing, .version = "test", .kind = WF_KIND_IO,
          .ops = &bad_ops, .requires = bad_requires);
#endif
