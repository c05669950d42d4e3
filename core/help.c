/*
 * --help and --help-man: both printed from the option tables, by one walk
 * over them (the core's table, every loaded plugin's, then every plugin
 * found on disk but not loaded). The man page installed by `make install`
 * is `weft --help-man` run at build time, so it cannot drift from --help.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "cheaper.h"
#include "registry.h"
#include "static.h"
#include "stats.h"

/* One rendering: a group heading, then each option of the group. */
struct help_fmt {
    void (*group)(FILE *out, const char *title, const char *note);
    void (*option)(FILE *out, const struct wf_option *o);
};

static const char *
kind_name(enum wf_kind k)
{
    switch (k) {
    case WF_KIND_SUSPEND: return "suspend engine";
    case WF_KIND_IO: return "I/O engine";
    case WF_KIND_LOOP: return "loop engine";
    case WF_KIND_LANG: return "language";
    }
    return "plugin";
}

static void
walk_table(FILE *out, const struct help_fmt *f, const char *title,
           const char *note, const struct wf_option *tab)
{
    const struct wf_option *o;

    if (tab == NULL || tab->name == NULL) {
        return;
    }
    f->group(out, title, note);
    for (o = tab; o->name; o++) {
        if (!(o->flags & WF_OPT_F_HIDDEN)) {
            f->option(out, o);
        }
    }
}

struct scan_arg {
    FILE *out;
    const struct help_fmt *f;
};

static void
scan_cb(const char *path, const struct wf_plugin *p, const char *error,
        void *arg)
{
    struct scan_arg *a = arg;
    char title[128];

    (void)path;
    (void)error;
    if (p == NULL || wf__plugin_find(p->name) != NULL) {
        return;     /* unloadable, or already shown as loaded */
    }
    snprintf(title, sizeof(title), "Plugin %s", p->name);
    walk_table(a->out, a->f, title, p->summary ? p->summary
                                               : kind_name(p->kind),
               p->options);
}

/* The whole walk: core, loaded plugins, plugins on disk. */
static void
walk(FILE *out, const struct help_fmt *f)
{
    const struct wf_plugin *const *all;
    struct scan_arg a = { out, f };
    unsigned n, i;
    char title[128];

    walk_table(out, f, "Core options", NULL, wf__core_options);
    walk_table(out, f, "Static files", NULL, wf__static_options);
    walk_table(out, f, "Stats", NULL, wf__stats_options);
    walk_table(out, f, "Request log", NULL, wf__log_options);
    walk_table(out, f, "Scaling workers by load (uWSGI's cheaper)", NULL,
               wf__cheaper_options);
    all = wf__plugin_all(&n);
    for (i = 0; i < n; i++) {
        snprintf(title, sizeof(title), "Plugin %s", all[i]->name);
        walk_table(out, f, title, all[i]->summary ? all[i]->summary
                                                  : kind_name(all[i]->kind),
                   all[i]->options);
    }
    wf__plugin_scan(scan_cb, &a);
}

/* "-h, --help", "    --socket ADDR" */
static void
synopsis(const struct wf_option *o, char *buf, size_t len)
{
    const char *arg = o->type == WF_OPT_FLAG ? "" :
                      (o->arg_name ? o->arg_name : "VALUE");

    if (o->short_name) {
        snprintf(buf, len, "-%c, --%s%s%s", o->short_name, o->name,
                 *arg ? " " : "", arg);
    } else {
        snprintf(buf, len, "    --%s%s%s", o->name, *arg ? " " : "", arg);
    }
}

/* Whether the help line already says its default (some do, to explain a
 * computed one: "(default 0: 2 x cores + 32)"). */
static int
says_default(const struct wf_option *o)
{
    return o->help != NULL && strstr(o->help, "(default") != NULL;
}

/* ----------------------------------------------------------------- text */

static void
text_group(FILE *out, const char *title, const char *note)
{
    if (note != NULL) {
        fprintf(out, "\n%s (%s):\n", title, note);
    } else {
        fprintf(out, "\n%s:\n", title);
    }
}

static void
text_option(FILE *out, const struct wf_option *o)
{
    char lhs[96];

    synopsis(o, lhs, sizeof(lhs));
    fprintf(out, "  %-34s %s", lhs, o->help ? o->help : "");
    if (o->def != NULL && o->type != WF_OPT_FLAG && !says_default(o)) {
        fprintf(out, " (default %s)", o->def);
    }
    fputc('\n', out);
}

static const struct help_fmt text_fmt = { text_group, text_option };

/* See internal.h. */
void
wf__opt_help(FILE *out)
{
    fprintf(out,
            "Usage: weft [OPTIONS]\n"
            "Serve WSGI and Rack apps on many async cores per process.\n"
            "Options also go in an ini file: weft --ini app.ini "
            "([uwsgi] or [weft] section, name = value).\n"
            "A plugin's option loads the plugin.\n");
    walk(out, &text_fmt);
}

/* ------------------------------------------------------------------ man */

/* Text for roff: backslashes escaped, dashes as \-, a leading dot or quote
 * neutralised. */
static void
roff(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'') {
        fputs("\\&", out);
    }
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\e", out); break;
        case '-': fputs("\\-", out); break;
        case '\n': fputc(' ', out); break;
        default: fputc(*s, out);
        }
    }
}

static const char *
type_name(const struct wf_option *o)
{
    switch (o->type) {
    case WF_OPT_FLAG: return "flag";
    case WF_OPT_INT: return "integer";
    case WF_OPT_DOUBLE: return "number";
    case WF_OPT_STR: return "text";
    case WF_OPT_LIST: return "list (repeatable; commas separate items)";
    case WF_OPT_SIZE: return "size in bytes (k, m, g suffixes)";
    }
    return "value";
}

static void
man_group(FILE *out, const char *title, const char *note)
{
    fputs(".SS \"", out);
    roff(out, title);
    fputs("\"\n", out);
    if (note != NULL) {
        roff(out, note);
        fputs(".\n", out);
    }
}

static void
man_option(FILE *out, const struct wf_option *o)
{
    fputs(".TP\n", out);
    if (o->short_name) {
        fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
    }
    fputs("\\fB\\-\\-", out);
    roff(out, o->name);
    fputs("\\fR", out);
    if (o->type != WF_OPT_FLAG) {
        fputs(" \\fI", out);
        roff(out, o->arg_name ? o->arg_name : "VALUE");
        fputs("\\fR", out);
    }
    fputc('\n', out);
    if (o->help != NULL) {
        roff(out, o->help);
        fputs(".\n.br\n", out);
    }
    fprintf(out, "Type: %s", type_name(o));
    if (o->max > o->min &&
        (o->type == WF_OPT_INT || o->type == WF_OPT_SIZE)) {
        fprintf(out, ", %ld to %ld", o->min, o->max);
    }
    if (o->def != NULL && o->type != WF_OPT_FLAG) {
        fputs(". Default: ", out);
        roff(out, o->def);
    }
    fputs(wf__uwsgi_has_option(o->name) ? ". uWSGI: the same option.\n"
                                        : ". uWSGI: none (weft only).\n",
          out);
}

static const struct help_fmt man_fmt = { man_group, man_option };

/* See internal.h. */
void
wf__opt_help_man(FILE *out)
{
    fprintf(out,
".\\\" weft(1), printed by `weft --help-man` from the option tables.\n"
".TH WEFT 1 \"\" \"weft %s\" \"User Commands\"\n"
".SH NAME\n"
"weft \\- application server with async cores for WSGI, Rack and other apps\n"
".SH SYNOPSIS\n"
".B weft\n"
"[\\fIOPTIONS\\fR]\n"
".br\n"
".B weft \\-\\-ini\n"
"\\fIFILE\\fR[\\fB:\\fR\\fISECTION\\fR]\n"
".SH DESCRIPTION\n"
"\\fBweft\\fR serves web applications on many \\fIasync cores\\fR per\n"
"worker process. A small core loads its engines and languages as plugins\n"
"at run time: I/O engines (epoll, libevent), suspend engines (ugreen,\n"
"greenlet, fiber), loop engines (gevent) and languages (Python WSGI with\n"
"the uwsgi module, Rack with the UWSGI module). Options keep uWSGI's\n"
"names and meanings; an option weft cannot honour stops start-up with a\n"
"line that says what to use instead.\n"
".PP\n"
"Every option is given as \\fB\\-\\-name value\\fR (or\n"
"\\fB\\-\\-name=value\\fR) on the command line, or as \\fBname = value\\fR\n"
"in the \\fB[uwsgi]\\fR or \\fB[weft]\\fR section of an ini file. An\n"
"option that a plugin owns loads that plugin. The options below are\n"
"those of the core and of every plugin installed with this weft.\n"
".SH OPTIONS\n", PACKAGE_VERSION);
    walk(out, &man_fmt);
    fputs(
".SH SIGNALS\n"
".TP\n"
"\\fBSIGHUP\\fR\n"
"graceful reload: new workers take over, old ones finish their requests.\n"
".TP\n"
"\\fBSIGTERM\\fR, \\fBSIGINT\\fR\n"
"stop: workers finish their requests (within \\fB\\-\\-reload\\-mercy\\fR).\n"
".TP\n"
"\\fBSIGQUIT\\fR\n"
"stop at once.\n"
".TP\n"
"\\fBSIGUSR1\\fR\n"
"log the state of every worker and core.\n"
".TP\n"
"\\fBSIGUSR2\\fR\n"
"reopen the log file.\n"
".SH FILES\n"
".TP\n"
"\\fI", out);
    roff(out, WEFT_PLUGINDIR);
    fputs("\\fR\n"
"the plugins (\\fINAME\\fB_plugin.so\\fR); \\fB\\-\\-plugins\\-dir\\fR adds\n"
"directories.\n"
".SH EXAMPLES\n"
".nf\n"
"weft \\-\\-http\\-socket :8080 \\-\\-wsgi\\-file app.py \\-\\-async 100 "
"\\-\\-ugreen\n"
"weft \\-\\-socket 127.0.0.1:3031 \\-\\-module myproj.wsgi:application\n"
"weft \\-\\-master \\-\\-processes 4 \\-\\-rack config.ru \\-\\-async 50 "
"\\-\\-fiber\n"
"weft \\-\\-ini /etc/weft/apps/site.ini\n"
".fi\n"
".SH SEE ALSO\n"
"\\fBuwsgi\\fR(1), \\fBnginx\\fR(8); the HTML and Markdown documentation\n"
"in /usr/share/doc/weft.\n", out);
}
