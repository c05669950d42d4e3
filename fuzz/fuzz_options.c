/*
 * Fuzz target: the command-line option parser (wf__opt_collect, then each
 * value converted by its option's type as wf__opt_apply does).
 *
 * The input is argv, NUL-separated. Values are stored into scratch
 * storage, not into the server's configuration, and no option's on_set
 * hook runs (they bind sockets, load plugins). --ini is left to the ini
 * target: an input naming it is skipped (it would read arbitrary files).
 * A value stored must have been accepted by its type's rules.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

#define MAX_ARGS 64

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *argv[MAX_ARGS + 1], *p, *end;
    struct wf__optval *vals = NULL;
    struct wf_err err;
    size_t n = 0, i;
    int argc = 1;

    if (size > 4096 || memmem(data, size, "ini", 3) != NULL) {
        return 0;
    }
    copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[0] = "weft";
    for (p = copy, end = copy + size; p <= end && argc < MAX_ARGS;
         p += strlen(p) + 1) {
        argv[argc++] = p;
    }
    argv[argc] = NULL;

    if (wf__opt_collect(argc, argv, &vals, &n, &err) == 0) {
        for (i = 0; i < n; i++) {
            const struct wf_plugin *owner;
            const struct wf_option *o = wf__opt_find(vals[i].name, &owner);
            struct wf_option scratch;
            union {
                int flag;
                long l;
                double d;
                char *s;
                struct wf_strlist list;
            } u;

            if (o == NULL) {
                continue;
            }
            memset(&u, 0, sizeof(u));
            scratch = *o;
            scratch.dest = &u;
            scratch.on_set = NULL;
            if (wf__opt_apply(&scratch, &vals[i], &err) < 0) {
                FUZZ_CHECK(err.msg[0] != '\0');
                continue;
            }
            switch (o->type) {
            case WF_OPT_INT:
            case WF_OPT_SIZE:
                FUZZ_CHECK(!(o->max > o->min)
                           || (u.l >= o->min && u.l <= o->max));
                break;
            case WF_OPT_DOUBLE:
                /* written so that NaN fails it */
                FUZZ_CHECK(!(o->max > o->min)
                           || (u.d >= o->min && u.d <= o->max));
                break;
            case WF_OPT_STR:
                /* NULL only for an optional value not given
                 * (--logdate alone: its hook picks the default) */
                FUZZ_CHECK(u.s != NULL || (vals[i].value == NULL
                           && (o->flags & WF_OPT_F_OPTVAL)));
                free(u.s);
                break;
            case WF_OPT_LIST:
                for (size_t k = 0; k < u.list.n; k++) {
                    FUZZ_CHECK(u.list.v[k][0] != '\0');
                    free(u.list.v[k]);
                }
                free(u.list.v);
                break;
            default:
                break;
            }
        }
        wf__opt_free(vals, n);
    }
    free(copy);
    return 0;
}
