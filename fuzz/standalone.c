/*
 * The regression runner: a main() for a fuzz target built without
 * libFuzzer. It feeds the target every file of fuzz/corpus/NAME and
 * fuzz/regress/NAME (NAME is FUZZ_NAME, set at build time; the source
 * tree is $WEFT_SRCDIR, or the directories given as arguments). A crash
 * or a broken invariant aborts, and the test fails; the unit tests run it
 * under the sanitizer build too. Exit 0 with the count of inputs run.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error FUZZ_NAME must name the target
#endif

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf;
    size_t n;

    if (f == NULL || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        if (f) {
            fclose(f);
        }
        return -1;
    }
    /* an exact-size heap copy: ASan sees a read past the end */
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int
run_dir(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int bad = 0;

    if (d == NULL) {
        return 0;   /* no regression inputs yet */
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (run_file(path) < 0) {
            bad = 1;
        }
        (*count)++;
    }
    closedir(d);
    return bad;
}

int
main(int argc, char **argv)
{
    const char *src = getenv("WEFT_SRCDIR");
    unsigned count = 0;
    int bad = 0, i;
    char dir[4096];

    LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            bad |= run_dir(argv[i], &count);
        }
    } else {
        if (src == NULL) {
            src = WEFT_SRCDIR_DEFAULT;
        }
        snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", src, FUZZ_NAME);
        bad |= run_dir(dir, &count);
        snprintf(dir, sizeof(dir), "%s/fuzz/regress/%s", src, FUZZ_NAME);
        bad |= run_dir(dir, &count);
    }
    printf("%s: %u inputs replayed\n", FUZZ_NAME, count);
    if (count == 0) {
        fprintf(stderr, "%s: no inputs found (WEFT_SRCDIR=%s)\n", FUZZ_NAME,
                src ? src : "");
        return 1;
    }
    return bad;
}
