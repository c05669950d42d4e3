/*
 * The plugin registry (core/plugin.c): finds <dir>/<name>_plugin.so, checks
 * the descriptor, keeps the loaded plugins. Core internal.
 */
#ifndef WEFT_CORE_REGISTRY_H
#define WEFT_CORE_REGISTRY_H

#include <weft/plugin.h>

/* Directories searched in order; the first is tried first. Each call
 * appends one (the --plugins-dir value, then the default). */
void wf__plugin_add_dir(const char *dir);
/* Drop every directory (tests). */
void wf__plugin_clear_dirs(void);

/*
 * Load plugin `name` (a bare name, or a path containing '/'), after the
 * plugins it requires. Loading one that is already loaded returns it.
 * Returns the descriptor, or NULL with err filled with one line naming the
 * fix, e.g. "plugin 'ugren': not found in /usr/lib/weft/plugins; available:
 * epoll, ugreen". Master context.
 */
const struct wf_plugin *wf__plugin_load(const char *name, struct wf_err *err);

/* A loaded plugin by name, or NULL. */
const struct wf_plugin *wf__plugin_find(const char *name);

/* The loaded plugins, in load order; *n receives the count. */
const struct wf_plugin *const *wf__plugin_all(unsigned *n);

/*
 * Find which plugin file in the search path owns option `opt` without
 * loading it for good (the file is opened RTLD_LOCAL, read and closed).
 * Returns a malloc'd plugin name, or NULL.
 */
char *wf__plugin_owner_of(const char *opt);

/* The file a loaded plugin came from. */
const char *wf__plugin_path(const struct wf_plugin *p);

/*
 * Call fn for every <name>_plugin.so in the search path: with its
 * descriptor (valid during the call only) or with the error that stops it
 * from loading. Returns the number of files seen.
 */
int wf__plugin_scan(void (*fn)(const char *path, const struct wf_plugin *p,
                               const char *error, void *arg), void *arg);

/* Forget every plugin (dlclose); tests only. */
void wf__plugin_unload_all(void);

#endif
