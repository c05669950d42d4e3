/*
 * The static file path resolver (wf__static_resolve): a table of request
 * paths, good and hostile, with the exact outcome of each. Hostile ones
 * are refused before the file system is asked anything. The fuzzers
 * (fuzz/) may call the same function.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "static.h"

#include "check_util.h"

#define ROOT "/srv/www"

struct row {
    struct bytes in;
    int want;               /* > 0: the path is resolved to out */
    const char *out;
};

#define OK(in, out) { B(in), 1, out }
#define NO(in, why) { B(in), -(why), NULL }

static const struct row rows[] = {
    /* good */
    OK("", ROOT),
    OK("/", ROOT),
    OK("/a.css", ROOT "/a.css"),
    OK("/css/site.css", ROOT "/css/site.css"),
    OK("//css///site.css", ROOT "/css/site.css"),
    OK("/./css/./a", ROOT "/css/a"),
    OK("/css/", ROOT "/css"),
    OK("/a%20b.txt", ROOT "/a b.txt"),
    OK("/%41%62c", ROOT "/Abc"),
    OK("/caf%C3%A9.png", ROOT "/caf\xc3\xa9.png"),
    OK("/caf\xc3\xa9.png", ROOT "/caf\xc3\xa9.png"),
    OK("/\xe2\x82\xac", ROOT "/\xe2\x82\xac"),
    OK("/\xf0\x9f\x98\x80", ROOT "/\xf0\x9f\x98\x80"),
    OK("/..a", ROOT "/..a"),
    OK("/a..", ROOT "/a.."),
    OK("/...", ROOT "/..."),
    OK("/.hidden", ROOT "/.hidden"),
    OK("/a+b", ROOT "/a+b"),
    /* traversal, plain and encoded */
    NO("/..", WF_STATIC_FORBIDDEN),
    NO("/../etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/css/../../etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/css/..", WF_STATIC_FORBIDDEN),
    NO("/%2e%2e/etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/%2E%2E/etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/.%2e/etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/%2e./etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/css/%2e%2e", WF_STATIC_FORBIDDEN),
    /* encoded separators */
    NO("/..%2fetc%2fpasswd", WF_STATIC_FORBIDDEN),
    NO("/css%2F..%2F..%2Fetc", WF_STATIC_FORBIDDEN),
    NO("/a%2fb", WF_STATIC_FORBIDDEN),
    NO("/..%5cetc", WF_STATIC_FORBIDDEN),
    NO("/a\\b", WF_STATIC_FORBIDDEN),
    /* double encoding stays literal: %252e is the file "%2e" */
    OK("/%252e%252e/x", ROOT "/%2e%2e/x"),
    /* overlong UTF-8 forms of '.' and '/' */
    NO("/%c0%ae%c0%ae/etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/\xc0\xae\xc0\xae/etc/passwd", WF_STATIC_FORBIDDEN),
    NO("/..%c0%afetc", WF_STATIC_FORBIDDEN),
    NO("/%e0%80%ae%e0%80%ae/x", WF_STATIC_FORBIDDEN),
    NO("/%f0%80%80%ae", WF_STATIC_FORBIDDEN),
    NO("/%c1%9c", WF_STATIC_FORBIDDEN),
    /* other invalid UTF-8: lone continuation, surrogate, truncated,
     * out of range */
    NO("/%80", WF_STATIC_FORBIDDEN),
    NO("/%ed%a0%80", WF_STATIC_FORBIDDEN),
    NO("/%e2%82", WF_STATIC_FORBIDDEN),
    NO("/%f4%90%80%80", WF_STATIC_FORBIDDEN),
    NO("/%ff", WF_STATIC_FORBIDDEN),
    /* NUL and control bytes, raw or encoded */
    NO("/a%00.css", WF_STATIC_FORBIDDEN),
    NO("/a\0.css", WF_STATIC_FORBIDDEN),
    NO("/a%0a", WF_STATIC_FORBIDDEN),
    NO("/a%0d%0aX: y", WF_STATIC_FORBIDDEN),
    NO("/a%7f", WF_STATIC_FORBIDDEN),
    NO("/a\tb", WF_STATIC_FORBIDDEN),
    /* bad percent-encoding */
    NO("/a%", WF_STATIC_BAD),
    NO("/a%2", WF_STATIC_BAD),
    NO("/a%zz", WF_STATIC_BAD),
    NO("/a%%41", WF_STATIC_BAD),
    NO("/a%g0", WF_STATIC_BAD),
};

START_TEST(paths_resolve_or_are_refused_as_the_table_says)
{
    const struct row *r = &rows[_i];
    char out[256], *in = NULL;
    int got;

    /* the input in an exact-size buffer: a read past it is caught by
     * the sanitizers */
    wf_check_exact_copy(&in, r->in.s, r->in.n);
    got = wf__static_resolve(ROOT, strlen(ROOT), in, r->in.n, out,
                             sizeof(out));
    if (r->want > 0) {
        ck_assert_msg(got == (int)strlen(r->out), "row %d: got %d",
                      _i, got);
        ck_assert_str_eq(out, r->out);
    } else {
        ck_assert_msg(got == r->want, "row %d (%.*s): got %d, want %d",
                      _i, (int)r->in.n, r->in.s, got, r->want);
    }
    free(in);
}
END_TEST

START_TEST(the_root_slash_maps_paths_from_the_top)
{
    char out[64];

    ck_assert_int_eq(wf__static_resolve("", 0, "/etc/x", 6, out,
                                        sizeof(out)), 6);
    ck_assert_str_eq(out, "/etc/x");
    ck_assert_int_eq(wf__static_resolve("", 0, "", 0, out, sizeof(out)), 1);
    ck_assert_str_eq(out, "/");
}
END_TEST

START_TEST(a_path_that_does_not_fit_is_refused_not_cut)
{
    char out[16];
    int i;

    ck_assert_int_eq(wf__static_resolve(ROOT, strlen(ROOT),
                                        "/abcdefghijk", 12, out,
                                        sizeof(out)),
                     -WF_STATIC_TOO_LONG);
    /* every smaller buffer too, and never a write past it */
    for (i = 0; i < 16; i++) {
        char *small = malloc((size_t)i + 1);
        int r = wf__static_resolve(ROOT, strlen(ROOT), "/abc", 4, small,
                                   (size_t)i);

        ck_assert(r == -WF_STATIC_TOO_LONG || (r == 12 && i >= 13));
        free(small);
    }
}
END_TEST

START_TEST(random_bytes_never_escape_the_root)
{
    uint64_t seed = 0x5eed;
    static const char alphabet[] = "/.%2eEfF5cC0aA\\\xc0\xae\xafx";
    char in[24], out[128];
    int n;

    for (n = 0; n < 200000; n++) {
        size_t len = wf_check_rand(&seed) % sizeof(in), i;
        int r;

        for (i = 0; i < len; i++) {
            in[i] = alphabet[wf_check_rand(&seed) % (sizeof(alphabet) - 1)];
        }
        r = wf__static_resolve(ROOT, strlen(ROOT), in, len, out,
                               sizeof(out));
        if (r < 0) {
            continue;
        }
        ck_assert_int_eq(strncmp(out, ROOT, strlen(ROOT)), 0);
        ck_assert_msg(strstr(out, "/../") == NULL &&
                      (r < 3 || strcmp(out + r - 3, "/..") != 0),
                      "%.*s resolved to %s", (int)len, in, out);
        ck_assert_ptr_null(memchr(out, '\\', (size_t)r));
    }
}
END_TEST

static Suite *
static_suite(void)
{
    Suite *s = suite_create("static");
    TCase *tc = wf_check_tcase(s, "resolve", 20, NULL, NULL);

    tcase_add_loop_test(tc, paths_resolve_or_are_refused_as_the_table_says,
                        0, (int)NELEM(rows));
    tcase_add_test(tc, the_root_slash_maps_paths_from_the_top);
    tcase_add_test(tc, a_path_that_does_not_fit_is_refused_not_cut);
    tcase_add_test(tc, random_bytes_never_escape_the_root);
    return s;
}

WF_CHECK_MAIN(static_suite)
