/*
 * Process titles (uWSGI's procname options): what `ps` and
 * /proc/PID/cmdline show for the master and each worker.
 *
 * Linux shows the memory argv[] points to; a title is written over the
 * argv strings, and the environment strings that follow them (copied away
 * first, so getenv() keeps working) make room for a longer one. Master
 * context at start-up (wf__proctitle_init); then each process sets its own.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *area;          /* argv[0]'s memory */
static size_t area_len;     /* up to the end of the last argv/env string */

/* See internal.h. */
void
wf__proctitle_init(int argc, char **argv)
{
    char *end;
    int i;

    if (argc < 1 || argv[0] == NULL) {
        return;
    }
    end = argv[0] + strlen(argv[0]) + 1;
    for (i = 1; i < argc; i++) {
        if (argv[i] == end) {
            end = argv[i] + strlen(argv[i]) + 1;
        }
    }
    if (environ != NULL) {
        size_t n = 0;
        char **copy;

        while (environ[n] != NULL) {
            n++;
        }
        copy = calloc(n + 1, sizeof(*copy));
        if (copy != NULL) {
            for (i = 0; (size_t)i < n; i++) {
                if (environ[i] == end) {
                    end = environ[i] + strlen(environ[i]) + 1;
                }
                copy[i] = strdup(environ[i]);
            }
            environ = copy;
        }
    }
    area = argv[0];
    area_len = (size_t)(end - area);
    /* argv[1..] now point into memory a title may overwrite: the options
     * were collected (strdup'd) before this is called */
}

/* See internal.h. */
void
wf__proctitle_set(const char *fmt, ...)
{
    char title[512];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(title, sizeof(title), fmt, ap);
    va_end(ap);
    prctl(PR_SET_NAME, title, 0, 0, 0);
    if (area == NULL || area_len < 2) {
        return;
    }
    n = strlen(title);
    if (n > area_len - 1) {
        n = area_len - 1;
    }
    memcpy(area, title, n);
    memset(area + n, 0, area_len - n);
}

/* See internal.h. */
void
wf__proctitle_worker(unsigned id)
{
    const char *pre = wf__cfg.procname_prefix ? wf__cfg.procname_prefix : "";

    if (wf__cfg.procname) {
        wf__proctitle_set("%s%s", pre, wf__cfg.procname);
    } else if (wf__cfg.auto_procname) {
        wf__proctitle_set("%sweft worker %u", pre, id);
    } else if (*pre) {
        wf__proctitle_set("%sweft", pre);
    }
}

/* See internal.h. */
void
wf__proctitle_master(void)
{
    const char *pre = wf__cfg.procname_prefix ? wf__cfg.procname_prefix : "";

    /* as uWSGI: the prefix goes in front of procname-master too */
    if (wf__cfg.procname_master) {
        wf__proctitle_set("%s%s", pre, wf__cfg.procname_master);
    } else if (wf__cfg.auto_procname) {
        wf__proctitle_set("%sweft master", pre);
    } else if (*pre) {
        wf__proctitle_set("%sweft", pre);
    }
}
