/*
 * Fuzz target: the ini reader (wf__ini_read in core/options.c).
 *
 * The input is written to a.ini in a private directory that is also the
 * working directory, so that "ini = a.ini" (an include of itself, in the
 * dictionary) is reachable. Every name read back is one the input holds
 * (a set-placeholder's, expanded, is within the value bound), every value is within WF__INI_VALUE_MAX after its expansions; nothing
 * leaks (LeakSanitizer) and nothing recurses forever.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "internal.h"

static char dir[] = "/tmp/weft-fuzz-ini-XXXXXX";

static void
cleanup(void)
{
    if (chdir("/") == 0) {
        char path[sizeof(dir) + 8];

        snprintf(path, sizeof(path), "%s/a.ini", dir);
        unlink(path);
        rmdir(dir);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (mkdtemp(dir) == NULL || chdir(dir) < 0) {
        perror("weft fuzz_ini: a private directory");
        exit(1);
    }
    atexit(cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wf__optval *vals = NULL;
    size_t n = 0, cap = 0, i;
    struct wf_err err;
    FILE *f = fopen("a.ini", "wb");
    int rc;

    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    fclose(f);
    /* the named-section form too, picked by the input's length */
    rc = wf__ini_read((size & 1) ? "a.ini:app" : "a.ini", &vals, &n, &cap,
                      &err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(vals[i].name != NULL && vals[i].name[0] != '\0');
        FUZZ_CHECK(vals[i].origin != NULL);
        /* a name is one the input holds; a set-placeholder's NAME comes
         * from its expanded value (%(a)%(a)=...), so only the value's
         * bound holds it */
        FUZZ_CHECK(strlen(vals[i].name) <= (vals[i].var == 2
                                            ? WF__INI_VALUE_MAX : size));
        /* the magic variables (%d, %p, ...) and %(name) make a value
         * longer than the input, never longer than the bound */
        FUZZ_CHECK(vals[i].value == NULL
                   || strlen(vals[i].value) <= WF__INI_VALUE_MAX);
    }
    wf__opt_free(vals, n);
    return 0;
}
