/*
 * Options. The core and every plugin describe their options in a table that
 * ends with { NULL }. The same table drives the command line (--name value,
 * --name=value, -x value for a short name), --ini files (name = value) and
 * --help. Options are applied in the order given, after every plugin they
 * need is loaded; a plugin's option loads the plugin that owns it.
 */
#ifndef WEFT_OPTION_H
#define WEFT_OPTION_H

#include <weft/abi.h>

#include <stddef.h>

struct wf_err;

enum wf_opt_type {
    WF_OPT_FLAG = 1, /* int; "--x" sets 1; ini "x = true|false|1|0|yes|no" */
    WF_OPT_INT,      /* long; checked against min..max */
    WF_OPT_DOUBLE,   /* double; checked against min..max */
    WF_OPT_STR,      /* char *; the last one given wins; strdup'd */
    WF_OPT_LIST,     /* struct wf_strlist; every occurrence appends; a
                        comma-separated value appends each item */
    WF_OPT_SIZE,     /* long bytes; accepts a k/m/g suffix */
};

/* Setting this option makes its plugin the active one of its kind: --ugreen
 * selects the ugreen suspend engine, --io-engine names one explicitly. */
#define WF_OPT_F_SELECT 0x1u
/* Not shown by --help (compatibility spellings). */
#define WF_OPT_F_HIDDEN 0x2u
/* A WF_OPT_STR whose value may be left out ("--chmod-socket" alone, or a
 * bare "chmod-socket" line): on_set then gets NULL. */
#define WF_OPT_F_OPTVAL 0x4u

struct wf_strlist {
    char **v;
    size_t n;
};

struct wf_option {
    const char *name;       /* long name without "--" */
    enum wf_opt_type type;
    void *dest;             /* where the value goes (see the type) */
    const char *def;        /* default as text, applied before parsing; or NULL */
    long min, max;          /* INT/DOUBLE/SIZE bounds (inclusive) when max > min */
    unsigned flags;         /* WF_OPT_F_* */
    const char *help;       /* one line for --help */
    char short_name;        /* -x, or 0 */
    /* Called after the value is stored, with the text given (NULL for a
     * flag). Returns 0, or -1 with err filled. Runs in the master at
     * start-up. Optional. */
    int (*on_set)(const struct wf_option *opt, const char *value,
                  struct wf_err *err);
    const char *arg_name;   /* for --help: "N", "ADDR", ...; or NULL */
};

/*
 * The value of an option by name, as text, the way it was last given (or its
 * default); NULL when the option is unknown or never set. Used by
 * uwsgi.opt. Worker or master context.
 */
WF_API const char *wf_opt_get(const char *name);

/* The value of an option as a number, or def when it is unknown, unset or
 * not a number. */
WF_API long wf_opt_long(const char *name, long def);

#endif
