/*
 * The plugin descriptor. A plugin is a shared object <name>_plugin.so that
 * exports exactly one function, wf_plugin_<name>(), returning a pointer to a
 * constant descriptor. Write it with WF_PLUGIN at the end of the plugin's
 * main file:
 *
 *     WF_PLUGIN(epoll,
 *               .version = PACKAGE_VERSION,
 *               .kind    = WF_KIND_IO,
 *               .ops     = &epoll_ops,
 *               .options = epoll_options);
 *
 * The loader (core/plugin.c) checks, in order: the file opens, the symbol
 * exists, the magic matches, the ABI major matches, the minor is not newer
 * than the binary's, the size and build flags match, the required ops are
 * set, the name is new, and every plugin in `requires` is loaded (it loads
 * them first). On failure it prints one line and start-up stops.
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include <stdint.h>

#include <weft/abi.h>
#include <weft/err.h>
#include <weft/log.h>
#include <weft/option.h>
#include <weft/ops.h>
#include <weft/core.h>

enum wf_kind {
    WF_KIND_SUSPEND = 1, /* ops: struct wf_suspend_ops */
    WF_KIND_IO,          /* ops: struct wf_io_ops */
    WF_KIND_LOOP,        /* ops: struct wf_loop_ops */
    WF_KIND_LANG,        /* ops: struct wf_lang_ops */
};

/* The plugin's symbols must be visible to shared objects that it or its
 * interpreter loads later (CPython C extensions link against libpython's
 * symbols, which this plugin brought in): open it RTLD_GLOBAL. */
#define WF_PLUGIN_F_GLOBAL 0x1u

/* The plugin works in a worker of several loops, one per thread
 * (--threads N > 1): its per-core state is per core, what is per loop is
 * per thread (thread_init/thread_fini, or __thread), and its library may
 * be entered from any of those threads. A language or suspend engine
 * without it makes --threads > 1 stop at start-up with what to use
 * instead. (ABI 1.6) */
#define WF_PLUGIN_F_THREADS 0x2u

struct wf_plugin {
    /* stamp: filled by WF_PLUGIN, checked by the loader */
    uint32_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t size;          /* sizeof(struct wf_plugin) when built */
    uint32_t build;         /* WF_BUILD_FLAGS when built */

    const char *name;       /* must equal the file's <name> */
    const char *version;
    enum wf_kind kind;
    const void *ops;        /* the ops table of the kind */
    const struct wf_option *options;  /* NULL or ends with { NULL } */
    const char *const *requires;      /* NULL-terminated plugin names */
    const char *needs;      /* what it needs at run time, for --list-plugins */
    const char *summary;    /* one line, for --list-plugins */
    unsigned flags;         /* WF_PLUGIN_F_* */
};

#define WF_EXPORT __attribute__((visibility("default")))

#define WF_PLUGIN(pname, ...)                                               \
    WF_EXPORT const struct wf_plugin *wf_plugin_##pname(void);              \
    const struct wf_plugin *wf_plugin_##pname(void)                         \
    {                                                                       \
        static const struct wf_plugin desc = {                              \
            .magic = WF_PLUGIN_MAGIC,                                       \
            .abi_major = WF_ABI_MAJOR,                                      \
            .abi_minor = WF_ABI_MINOR,                                      \
            .size = sizeof(struct wf_plugin),                               \
            .build = WF_BUILD_FLAGS,                                        \
            .name = #pname,                                                 \
            __VA_ARGS__                                                     \
        };                                                                  \
        return &desc;                                                       \
    }

#endif
