/*
 * The plugin registry: finds <dir>/<name>_plugin.so, checks its descriptor,
 * keeps the loaded plugins in load order. Master context only.
 */
#include "internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PLUGINS 64
#define MAX_DIRS 16

struct loaded {
    const struct wf_plugin *desc;
    void *handle;
    char *path;
};

static struct loaded loaded[MAX_PLUGINS];
static const struct wf_plugin *descs[MAX_PLUGINS];
static unsigned nloaded;
static char *dirs[MAX_DIRS];
static unsigned ndirs;

/* See registry.h. */
void
wf__plugin_add_dir(const char *dir)
{
    unsigned i;

    for (i = 0; i < ndirs; i++) {
        if (strcmp(dirs[i], dir) == 0) {
            return;
        }
    }
    if (ndirs < MAX_DIRS) {
        dirs[ndirs++] = strdup(dir);
    }
}

/* See registry.h. */
void
wf__plugin_clear_dirs(void)
{
    while (ndirs > 0) {
        free(dirs[--ndirs]);
    }
}

/* See registry.h. */
const struct wf_plugin *
wf__plugin_find(const char *name)
{
    unsigned i;

    for (i = 0; i < nloaded; i++) {
        if (strcmp(loaded[i].desc->name, name) == 0) {
            return loaded[i].desc;
        }
    }
    return NULL;
}

/* See registry.h. */
const struct wf_plugin *const *
wf__plugin_all(unsigned *n)
{
    *n = nloaded;
    return descs;
}

/* "dir1, dir2" for messages. */
static void
dir_list(char *out, size_t cap)
{
    size_t len = 0;
    unsigned i;

    out[0] = '\0';
    for (i = 0; i < ndirs && len < cap; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s",
                                i ? ", " : "", dirs[i]);
    }
    if (ndirs == 0) {
        snprintf(out, cap, "(no plugin directory)");
    }
}

/* The names of every <name>_plugin.so in the search path. */
static void
available(char *out, size_t cap)
{
    size_t len = 0;
    unsigned i;

    out[0] = '\0';
    for (i = 0; i < ndirs; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;

        if (d == NULL) {
            continue;
        }
        while ((e = readdir(d)) != NULL && len + 64 < cap) {
            size_t l = strlen(e->d_name);

            if (l > 10 && strcmp(e->d_name + l - 10, "_plugin.so") == 0) {
                len += (size_t)snprintf(out + len, cap - len, "%s%.*s",
                                        len ? ", " : "", (int)(l - 10),
                                        e->d_name);
            }
        }
        closedir(d);
    }
    if (len == 0) {
        snprintf(out, cap, "none");
    }
}

/* The file of plugin `name`, in *path; 0, or -1 when none exists. */
static int
locate(const char *name, char *path, size_t cap)
{
    unsigned i;

    if (strchr(name, '/') != NULL) {
        snprintf(path, cap, "%s", name);
        return access(path, F_OK) == 0 ? 0 : -1;
    }
    for (i = 0; i < ndirs; i++) {
        snprintf(path, cap, "%s/%s_plugin.so", dirs[i], name);
        if (access(path, F_OK) == 0) {
            return 0;
        }
    }
    return -1;
}

/* The plugin name of a path: ".../ugreen_plugin.so" -> "ugreen". */
static void
name_of_path(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    size_t l;

    b = b ? b + 1 : path;
    l = strlen(b);
    if (l > 10 && strcmp(b + l - 10, "_plugin.so") == 0) {
        l -= 10;
    } else if (l > 3 && strcmp(b + l - 3, ".so") == 0) {
        l -= 3;
    }
    snprintf(out, cap, "%.*s", (int)l, b);
}

static const char *
kind_name(enum wf_kind k)
{
    switch (k) {
    case WF_KIND_SUSPEND: return "suspend engine";
    case WF_KIND_IO: return "I/O engine";
    case WF_KIND_LOOP: return "loop engine";
    case WF_KIND_LANG: return "language";
    }
    return "unknown kind";
}

/* The ops a kind cannot do without; NULL when all are set. */
static const char *
missing_op(const struct wf_plugin *p)
{
    if (p->ops == NULL) {
        return "ops";
    }
    switch (p->kind) {
    case WF_KIND_IO: {
        const struct wf_io_ops *o = p->ops;

        if (!o->probe) return "probe";
        if (!o->open) return "open";
        if (!o->set) return "set";
        if (!o->wait) return "wait";
        if (!o->close) return "close";
        return NULL;
    }
    case WF_KIND_SUSPEND: {
        const struct wf_suspend_ops *o = p->ops;

        if (!o->worker_init) return "worker_init";
        if (!o->resume) return "resume";
        if (!o->suspend) return "suspend";
        return NULL;
    }
    case WF_KIND_LOOP: {
        const struct wf_loop_ops *o = p->ops;

        if (!o->run) return "run";
        return NULL;
    }
    case WF_KIND_LANG: {
        const struct wf_lang_ops *o = p->ops;

        if (!o->init) return "init";
        if (!o->load_app) return "load_app";
        if (!o->handle) return "handle";
        return NULL;
    }
    }
    return "kind";
}

/*
 * Open `path` and check its descriptor. Returns the descriptor with
 * *handle set, or NULL with err filled (the file is closed again).
 */
static const struct wf_plugin *
open_checked(const char *path, const char *name, void **handle,
             struct wf_err *err)
{
    const struct wf_plugin *(*fn)(void);
    const struct wf_plugin *p;
    char sym[128];
    void *h;

    *handle = NULL;
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        return wf_err_set(err, "%s: cannot be loaded: %s", path, dlerror()),
               NULL;
    }
    snprintf(sym, sizeof(sym), "wf_plugin_%s", name);
    *(void **)&fn = dlsym(h, sym);
    if (fn == NULL) {
        dlclose(h);
        return wf_err_set(err, "%s: not a weft plugin (no symbol %s); "
                          "rebuild it with WF_PLUGIN(%s, ...)", path, sym,
                          name), NULL;
    }
    p = fn();
    if (p == NULL || p->magic != WF_PLUGIN_MAGIC) {
        dlclose(h);
        return wf_err_set(err, "%s: bad descriptor magic; not built with "
                          "weft's WF_PLUGIN", path), NULL;
    }
    if (p->abi_major != WF_ABI_MAJOR) {
        unsigned maj = p->abi_major;

        dlclose(h);
        return wf_err_set(err, "%s: built for weft ABI %u, this weft has "
                          "ABI %u; rebuild the plugin", path, maj,
                          WF_ABI_MAJOR), NULL;
    }
    if (p->abi_minor > WF_ABI_MINOR) {
        unsigned maj = p->abi_major, min = p->abi_minor;

        dlclose(h);
        return wf_err_set(err, "%s: built for weft ABI %u.%u, newer than "
                          "this weft's %u.%u; upgrade weft or rebuild the "
                          "plugin", path, maj, min, WF_ABI_MAJOR,
                          WF_ABI_MINOR), NULL;
    }
    if (p->size != sizeof(struct wf_plugin) || p->build != WF_BUILD_FLAGS) {
        int asan = (p->build & WF_BUILD_F_ASAN) != 0;
        unsigned size = p->size;

        dlclose(h);
        if (size != sizeof(struct wf_plugin)) {
            return wf_err_set(err, "%s: descriptor size %u, expected %zu; "
                              "rebuild the plugin", path, size,
                              sizeof(struct wf_plugin)), NULL;
        }
        return wf_err_set(err, "%s: built %s AddressSanitizer, this weft "
                          "%s; rebuild it with the same configure flags",
                          path, asan ? "with" : "without",
                          asan ? "without" : "with"), NULL;
    }
    if (p->name == NULL || strcmp(p->name, name) != 0) {
        char pname[128];

        snprintf(pname, sizeof(pname), "%s", p->name ? p->name : "(null)");
        dlclose(h);
        return wf_err_set(err, "%s: descriptor names '%s', the file '%s'; "
                          "rename one of them", path, pname, name), NULL;
    }
    {
        const char *op = missing_op(p);

        if (op != NULL) {
            enum wf_kind k = p->kind;

            dlclose(h);
            return wf_err_set(err, "%s: %s plugin without its '%s' op; "
                              "fix the plugin", path, kind_name(k), op),
                   NULL;
        }
    }
    *handle = h;
    return p;
}

static const struct wf_plugin *
load(const char *spec, int depth, struct wf_err *err)
{
    char path[PATH_MAX], name[128], where[1024], avail[1024];
    const struct wf_plugin *p;
    const char *const *req;
    void *h;

    if (strchr(spec, '/') != NULL) {
        name_of_path(spec, name, sizeof(name));
    } else {
        snprintf(name, sizeof(name), "%s", spec);
    }
    p = wf__plugin_find(name);
    if (p != NULL) {
        return p;
    }
    if (depth > 8) {
        return wf_err_set(err, "plugin '%s': requires form a cycle", name),
               NULL;
    }
    if (nloaded == MAX_PLUGINS) {
        return wf_err_set(err, "plugin '%s': more than %d plugins", name,
                          MAX_PLUGINS), NULL;
    }
    if (locate(spec, path, sizeof(path)) < 0) {
        if (strchr(spec, '/') != NULL) {
            return wf_err_set(err, "plugin %s: no such file", spec), NULL;
        }
        dir_list(where, sizeof(where));
        available(avail, sizeof(avail));
        return wf_err_set(err, "plugin '%s': not found in %s; available: "
                          "%s", name, where, avail), NULL;
    }
    p = open_checked(path, name, &h, err);
    if (p == NULL) {
        return NULL;
    }
    for (req = p->requires; req && *req; req++) {
        struct wf_err sub;

        if (load(*req, depth + 1, &sub) == NULL) {
            char rname[128];

            snprintf(rname, sizeof(rname), "%s", *req);
            dlclose(h);
            return wf_err_set(err, "plugin '%s' requires '%s': %s", name,
                              rname, sub.msg), NULL;
        }
    }
    if (p->flags & WF_PLUGIN_F_GLOBAL) {
        /* promote, so that C extensions of its interpreter can bind to
         * the symbols it brought in */
        if (dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == NULL) {
            dlclose(h);
            return wf_err_set(err, "%s: cannot be made global: %s", path,
                              dlerror()), NULL;
        }
    }
    loaded[nloaded].desc = p;
    loaded[nloaded].handle = h;
    loaded[nloaded].path = strdup(path);
    descs[nloaded] = p;
    nloaded++;
    if (wf__opt_defaults(p->options, err) < 0) {
        return NULL;
    }
    return p;
}

/* See registry.h. */
const struct wf_plugin *
wf__plugin_load(const char *name, struct wf_err *err)
{
    return load(name, 0, err);
}

/* See registry.h. */
const char *
wf__plugin_path(const struct wf_plugin *p)
{
    unsigned i;

    for (i = 0; i < nloaded; i++) {
        if (loaded[i].desc == p) {
            return loaded[i].path;
        }
    }
    return NULL;
}

/* See registry.h. */
void
wf__plugin_unload_all(void)
{
    while (nloaded > 0) {
        nloaded--;
        dlclose(loaded[nloaded].handle);
        free(loaded[nloaded].path);
        descs[nloaded] = NULL;
    }
}

/* See registry.h. */
int
wf__plugin_scan(void (*fn)(const char *path, const struct wf_plugin *p,
                           const char *error, void *arg), void *arg)
{
    unsigned i;
    int count = 0;

    for (i = 0; i < ndirs; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;

        if (d == NULL) {
            continue;
        }
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            char path[PATH_MAX], name[128];
            const struct wf_plugin *p;
            struct wf_err err;
            void *h;

            if (l <= 10 || strcmp(e->d_name + l - 10, "_plugin.so") != 0) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dirs[i], e->d_name);
            name_of_path(path, name, sizeof(name));
            p = wf__plugin_find(name);
            if (p != NULL) {
                fn(path, p, NULL, arg);
                count++;
                continue;
            }
            p = open_checked(path, name, &h, &err);
            fn(path, p, p ? NULL : err.msg, arg);
            if (h != NULL) {
                dlclose(h);
            }
            count++;
        }
        closedir(d);
    }
    return count;
}

struct owner_q {
    const char *opt;
    char *found;
};

static void
owner_cb(const char *path, const struct wf_plugin *p, const char *error,
         void *arg)
{
    struct owner_q *q = arg;
    const struct wf_option *o;

    if (p == NULL || q->found != NULL) {
        return;
    }
    for (o = p->options; o && o->name; o++) {
        if (strcmp(o->name, q->opt) == 0) {
            q->found = strdup(p->name);
            return;
        }
    }
}

/* See registry.h. */
char *
wf__plugin_owner_of(const char *opt)
{
    struct owner_q q = { opt, NULL };

    wf__plugin_scan(owner_cb, &q);
    return q.found;
}
