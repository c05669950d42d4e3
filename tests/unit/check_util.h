/*
 * check_util.h: what the unit test programs (tests/unit/check_*.c) share.
 * Header-only: macros and static inline functions, so that each program
 * stays one .c file.
 *
 *   NELEM, struct bytes, B()    table rows
 *   wf_check_tcase()            a TCase with its fixture and timeout
 *   wf_check_rand()             the fixed-seed xorshift64* of the fuzzers
 *   wf_check_exact_copy()       inputs in exact-size heap buffers
 *   WF_CHECK_MAIN(suite_fn)     main() of a one-suite program
 *
 * With WF_CHECK_PLUGINS defined before the include (and "registry.h"
 * included), the engine contract suites' helpers too: loading a plugin
 * from the build tree and a main() that runs the suite's TCase on every
 * engine of a kind that was built.
 */
#ifndef WEFT_CHECK_UTIL_H
#define WEFT_CHECK_UTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A byte string with its length, so rows may hold NUL bytes. */
struct bytes {
    const char *s;
    size_t n;
};
#define B(lit) { (lit), sizeof(lit) - 1 }

/* A TCase `name` with the checked fixture and the timeout (s), added to
 * suite s. */
static inline TCase *
wf_check_tcase(Suite *s, const char *name, int timeout,
               void (*setup)(void), void (*teardown)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

/* The next value of a xorshift64* generator: seeded by the caller with a
 * fixed value, the same run every time. */
static inline uint32_t
wf_check_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t) ((*state * UINT64_C(2685821657736338717)) >> 32);
}

/*
 * Replace *copy (freed; NULL at first) with a heap copy of s[0..n) of
 * exactly n bytes (1 when n is 0), so that AddressSanitizer sees any read
 * past the end. Returns the copy; the caller frees the last one.
 */
static inline char *
wf_check_exact_copy(char **copy, const void *s, size_t n)
{
    free(*copy);
    *copy = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(*copy);
    memcpy(*copy, s, n);
    return *copy;
}

/* main(): run the Suite that suite_fn() makes; exit 0 when every test
 * passed. */
#define WF_CHECK_MAIN(suite_fn)                                     \
    int                                                             \
    main(void)                                                      \
    {                                                               \
        SRunner *sr = srunner_create(suite_fn());                   \
        int failed;                                                 \
                                                                    \
        srunner_run_all(sr, CK_NORMAL);                             \
        failed = srunner_ntests_failed(sr);                         \
        srunner_free(sr);                                           \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;           \
    }

#ifdef WF_CHECK_PLUGINS
#include <unistd.h>

/*
 * Load plugin `name` the way weft does, from the build tree's plugins/.
 * Returns its descriptor or NULL with err filled.
 */
static inline const struct wf_plugin *
wf_check_plugin_load(const char *name, struct wf_err *err)
{
    static int added;

    if (!added) {
        wf__plugin_add_dir(WEFT_BUILD_PLUGINDIR);
        added = 1;
    }
    return wf__plugin_load(name, err);
}

/* Whether the build tree has plugins/<name>_plugin.so. */
static inline int
wf_check_plugin_built(const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s_plugin.so", WEFT_BUILD_PLUGINDIR,
             name);
    return access(path, R_OK) == 0;
}

/* One engine of a contract suite: its plugin, its TCase, its fixture. */
struct wf_check_engine {
    const char *name;
    const char *tcase;
    void (*setup)(void);
};

/*
 * The main() of a contract suite: Suite `suite` holds make_tcase(tcase,
 * setup) for each of the n engines that is built (a line on stderr for
 * each one that is not); run with CK_ENV. Returns 77 (skipped), with
 * none_msg on stderr, when no engine is built; else 0 when every test
 * passed.
 */
static inline int
wf_check_engines_main(const char *suite, const struct wf_check_engine *e,
                      size_t n, TCase *(*make_tcase)(const char *,
                                                     void (*)(void)),
                      const char *none_msg)
{
    Suite *s = suite_create(suite);
    SRunner *sr;
    unsigned ntc = 0;
    size_t i;
    int failed;

    for (i = 0; i < n; i++) {
        if (!wf_check_plugin_built(e[i].name)) {
            fprintf(stderr, "%s: skipped: %s/%s_plugin.so is not built "
                    "(./configure --enable-engines=%s)\n", e[i].tcase,
                    WEFT_BUILD_PLUGINDIR, e[i].name, e[i].name);
            continue;
        }
        suite_add_tcase(s, make_tcase(e[i].tcase, e[i].setup));
        ntc++;
    }
    if (ntc == 0) {
        fprintf(stderr, "%s\n", none_msg);
        return 77;
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif /* WF_CHECK_PLUGINS */

#endif /* WEFT_CHECK_UTIL_H */
