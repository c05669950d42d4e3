/*
 * Unit tests of the CGI plugin's pure parts (langs/cgi/cgi_util.c): the
 * --cgi value, mount matching, the walk that finds the script and splits
 * SCRIPT_NAME from PATH_INFO (on a scratch tree made per test), the
 * response head parser, the indexed query words.
 */
#include "config.h"

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgi.h"

#include "check_util.h"

static char base[PATH_MAX];     /* mkdtemp's directory */
static char root[PATH_MAX];     /* the scratch tree (the mount) */
static char outside[PATH_MAX];  /* a sibling outside the mount */
static struct cgi_mount mount;
static struct cgi_walk_opts opts;
static struct cgi_target tgt;

static void
mkfile(const char *rel, int mode, const char *dir)
{
    char p[PATH_MAX];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\necho\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(p, (mode_t)mode), 0);
}

static void
mkdir_in(const char *rel, const char *dir)
{
    char p[PATH_MAX + 256];

    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void
link_in(const char *target, const char *rel)
{
    char p[PATH_MAX + 256];

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    ck_assert_int_eq(symlink(target, p), 0);
}

static void
setup(void)
{
    char tmpl[] = "/tmp/check_cgi.XXXXXX";
    char *d = mkdtemp(tmpl);
    char *real;

    ck_assert_ptr_nonnull(d);
    real = realpath(d, NULL);
    snprintf(base, sizeof(base), "%s", real);
    snprintf(outside, sizeof(outside), "%s/out", real);
    snprintf(root, sizeof(root), "%s/root", real);
    free(real);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    mkfile("a.sh", 0755, root);
    mkfile("plain.txt", 0644, root);
    mkfile("x.py", 0644, root);
    mkdir_in("sub", root);
    mkfile("sub/b.sh", 0755, root);
    mkdir_in("idx", root);
    mkfile("idx/index.sh", 0755, root);
    mkdir_in("noidx", root);
    mkfile("evil.sh", 0755, outside);
    link_in("../out/evil.sh", "escape.sh");
    link_in("a.sh", "alias.sh");

    ck_assert_int_eq(cgi_mount_parse("/cgi-bin=/x", &mount,
                                     &(const char *){ NULL }), 0);
    free(mount.path);
    mount.path = strdup(root);
    mount.real = strdup(root);
    mount.rlen = strlen(root);
    memset(&opts, 0, sizeof(opts));
    memset(&tgt, 0, sizeof(tgt));
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void
teardown(void)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(mount.prefix);
    free(mount.path);
    free(mount.real);
}

static enum cgi_walk_result
walk(const char *path)
{
    return cgi_walk(&mount, path, strlen(path), &opts, &tgt);
}

static void
assert_pi(const char *want)
{
    if (want == NULL) {
        ck_assert_uint_eq(tgt.path_info_len, 0);
        return;
    }
    ck_assert_uint_eq(tgt.path_info_len, strlen(want));
    ck_assert(memcmp(tgt.path_info, want, tgt.path_info_len) == 0);
}

static void
assert_file(const char *rel)
{
    char p[PATH_MAX + 256];

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    ck_assert_str_eq(tgt.file, p);
}

/* ---------------------------------------------------------------- mounts */

START_TEST(mount_value_splits_prefix_and_normalizes_it)
{
    static const struct {
        const char *in, *prefix, *path;
        int is_default;
    } rows[] = {
        { "/srv/cgi", "", "/srv/cgi", 1 },
        { "/cgi-bin=/srv/cgi", "/cgi-bin", "/srv/cgi", 0 },
        { "/cgi-bin/=/srv/cgi", "/cgi-bin", "/srv/cgi", 0 },
        { "cgi=/srv/cgi", "/cgi", "/srv/cgi", 0 },
        { "/=/srv/cgi", "", "/srv/cgi", 0 },
        { "/a/b//=/s", "/a/b", "/s", 0 },
    };
    size_t i;

    for (i = 0; i < NELEM(rows); i++) {
        struct cgi_mount m;
        const char *why = NULL;

        ck_assert_int_eq(cgi_mount_parse(rows[i].in, &m, &why), 0);
        ck_assert_str_eq(m.prefix, rows[i].prefix);
        ck_assert_uint_eq(m.plen, strlen(rows[i].prefix));
        ck_assert_str_eq(m.path, rows[i].path);
        ck_assert_int_eq(m.is_default, rows[i].is_default);
        free(m.prefix);
        free(m.path);
    }
}
END_TEST

START_TEST(mount_value_without_path_is_refused)
{
    struct cgi_mount m;
    const char *why = NULL;

    ck_assert_int_eq(cgi_mount_parse("/cgi=", &m, &why), -1);
    ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(mount_match_takes_longest_prefix_at_segment_boundary)
{
    struct cgi_mount m[4];
    const char *why;
    static const struct {
        const char *path;
        int want;
    } rows[] = {
        { "/cgi/x", 1 },
        { "/cgi", 1 },
        { "/cgi/deep/x", 2 },
        { "/cgi/deeper", 1 },
        { "/cgix", 0 },
        { "/other", 0 },
        { "/", 0 },
        { "/static/a", 3 },
    };
    size_t i;

    ck_assert_int_eq(cgi_mount_parse("/srv/default", &m[0], &why), 0);
    ck_assert_int_eq(cgi_mount_parse("/cgi=/srv/a", &m[1], &why), 0);
    ck_assert_int_eq(cgi_mount_parse("/cgi/deep=/srv/b", &m[2], &why), 0);
    ck_assert_int_eq(cgi_mount_parse("/static=/srv/c", &m[3], &why), 0);
    for (i = 0; i < NELEM(rows); i++) {
        ck_assert_msg(cgi_mount_match(m, 4, rows[i].path,
                                      strlen(rows[i].path)) == rows[i].want,
                      "%s", rows[i].path);
    }
    /* without the default mount, an unmatched path has none */
    ck_assert_int_eq(cgi_mount_match(m + 1, 3, "/other", 6), -1);
    for (i = 0; i < 4; i++) {
        free(m[i].prefix);
        free(m[i].path);
    }
}
END_TEST

/* ------------------------------------------------------------------ walk */

START_TEST(walk_finds_script_and_splits_path_info)
{
    ck_assert_int_eq(walk("/cgi-bin/a.sh"), CGI_WALK_SCRIPT);
    assert_file("a.sh");
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/a.sh");
    assert_pi(NULL);

    ck_assert_int_eq(walk("/cgi-bin/a.sh/extra/path"), CGI_WALK_SCRIPT);
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/a.sh");
    assert_pi("/extra/path");

    ck_assert_int_eq(walk("/cgi-bin/sub/b.sh/x/"), CGI_WALK_SCRIPT);
    assert_file("sub/b.sh");
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/sub/b.sh");
    assert_pi("/x/");
}
END_TEST

START_TEST(walk_skips_empty_and_dot_segments)
{
    ck_assert_int_eq(walk("/cgi-bin//sub/./b.sh"), CGI_WALK_SCRIPT);
    assert_file("sub/b.sh");
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/sub/b.sh");
}
END_TEST

START_TEST(walk_refuses_dotdot_anywhere)
{
    static const char *const rows[] = {
        "/cgi-bin/../etc/passwd", "/cgi-bin/sub/../a.sh",
        "/cgi-bin/a.sh/../../x", "/cgi-bin/..", "/cgi-bin/sub/..",
    };
    size_t i;

    for (i = 0; i < NELEM(rows); i++) {
        ck_assert_msg(walk(rows[i]) == CGI_WALK_FORBIDDEN, "%s", rows[i]);
    }
    /* "..." and "..x" are names, not the parent */
    ck_assert_int_eq(walk("/cgi-bin/..x"), CGI_WALK_NOT_FOUND);
}
END_TEST

START_TEST(walk_refuses_symlink_out_unless_safe)
{
    ck_assert_int_eq(walk("/cgi-bin/escape.sh"), CGI_WALK_FORBIDDEN);
    {
        char *safe[] = { outside };

        opts.safe = safe;
        opts.nsafe = 1;
        ck_assert_int_eq(walk("/cgi-bin/escape.sh"), CGI_WALK_SCRIPT);
        ck_assert_str_eq(tgt.file, strcat(strcpy((char[PATH_MAX]){ 0 },
                                                 outside), "/evil.sh"));
    }
    /* a link inside the mount is fine: the real file runs */
    opts.nsafe = 0;
    ck_assert_int_eq(walk("/cgi-bin/alias.sh"), CGI_WALK_SCRIPT);
    assert_file("a.sh");
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/alias.sh");
}
END_TEST

START_TEST(walk_needs_executable_or_helper)
{
    ck_assert_int_eq(walk("/cgi-bin/plain.txt"), CGI_WALK_FORBIDDEN);
    ck_assert_int_eq(walk("/cgi-bin/x.py"), CGI_WALK_FORBIDDEN);
}
END_TEST

static int
py_helper(const char *file, void *arg)
{
    size_t n = strlen(file);

    return n > 3 && strcmp(file + n - 3, ".py") == 0;
}

START_TEST(walk_accepts_non_executable_with_helper)
{
    opts.has_helper = py_helper;
    ck_assert_int_eq(walk("/cgi-bin/x.py"), CGI_WALK_SCRIPT);
    assert_file("x.py");
}
END_TEST

START_TEST(walk_applies_allowed_extensions)
{
    char *ext[] = { ".py", ".pl" };

    opts.allowed_ext = ext;
    opts.nallowed = 2;
    opts.has_helper = py_helper;
    ck_assert_int_eq(walk("/cgi-bin/a.sh"), CGI_WALK_FORBIDDEN);
    ck_assert_int_eq(walk("/cgi-bin/x.py"), CGI_WALK_SCRIPT);
}
END_TEST

START_TEST(walk_not_found_and_directories)
{
    char *index[] = { "missing.sh", "index.sh" };

    ck_assert_int_eq(walk("/cgi-bin/nope.sh"), CGI_WALK_NOT_FOUND);
    ck_assert_int_eq(walk("/cgi-bin/sub/nope/x"), CGI_WALK_NOT_FOUND);
    ck_assert_int_eq(walk("/cgi-bin/idx"), CGI_WALK_REDIRECT_SLASH);
    ck_assert_int_eq(walk("/cgi-bin"), CGI_WALK_REDIRECT_SLASH);
    ck_assert_int_eq(walk("/cgi-bin/idx/"), CGI_WALK_NOT_FOUND);
    opts.index = index;
    opts.nindex = 2;
    ck_assert_int_eq(walk("/cgi-bin/idx/"), CGI_WALK_SCRIPT);
    assert_file("idx/index.sh");
    ck_assert_str_eq(tgt.script_name, "/cgi-bin/idx/index.sh");
    ck_assert_int_eq(walk("/cgi-bin/noidx/"), CGI_WALK_NOT_FOUND);
}
END_TEST

START_TEST(walk_without_path_info_needs_exact_name)
{
    opts.no_path_info = 1;
    ck_assert_int_eq(walk("/cgi-bin/a.sh"), CGI_WALK_SCRIPT);
    ck_assert_int_eq(walk("/cgi-bin/a.sh/more"), CGI_WALK_NOT_FOUND);
}
END_TEST

START_TEST(walk_script_mount_takes_rest_as_path_info)
{
    char file[PATH_MAX + 16];

    snprintf(file, sizeof(file), "%s/a.sh", root);
    free(mount.real);
    mount.real = strdup(file);
    mount.rlen = strlen(file);
    mount.is_file = 1;
    ck_assert_int_eq(walk("/cgi-bin/any/thing"), CGI_WALK_SCRIPT);
    ck_assert_str_eq(tgt.file, file);
    ck_assert_str_eq(tgt.script_name, "/cgi-bin");
    assert_pi("/any/thing");
    ck_assert_int_eq(walk("/cgi-bin/x/../y"), CGI_WALK_FORBIDDEN);
}
END_TEST

/* ------------------------------------------------------------------ head */

START_TEST(head_end_finds_empty_line_in_any_line_ending)
{
    static const struct {
        struct bytes in;
        ssize_t want;
    } rows[] = {
        { B("Content-Type: a\n\nbody"), 17 },
        { B("Content-Type: a\r\n\r\nbody"), 19 },
        { B("Content-Type: a\r\n\nbody"), 18 },
        { B("Content-Type: a\n\r\nbody"), 18 },
        { B("\nbody"), 1 },
        { B("\r\nbody"), 2 },
        { B("Content-Type: a\n"), 0 },
        { B("Content-Type: a\r\n\r"), 0 },
        { B(""), 0 },
    };
    size_t i;

    for (i = 0; i < NELEM(rows); i++) {
        ck_assert_msg(cgi_head_end(rows[i].in.s, rows[i].in.n) ==
                      rows[i].want, "row %zu", i);
    }
}
END_TEST

START_TEST(head_end_gives_up_at_the_limit)
{
    char *big = malloc(CGI_HEAD_MAX);

    memset(big, 'a', CGI_HEAD_MAX);
    ck_assert_int_eq(cgi_head_end(big, CGI_HEAD_MAX), -1);
    ck_assert_int_eq(cgi_head_end(big, CGI_HEAD_MAX - 1), 0);
    free(big);
}
END_TEST

static int
parse(const char *s, struct cgi_head *h, const char **why)
{
    return cgi_head_parse(s, strlen(s), h, why);
}

START_TEST(head_parse_status_location_and_headers)
{
    struct cgi_head h;
    const char *why = NULL;

    ck_assert_int_eq(parse("Content-Type: text/plain\r\nX-A:  b c \r\n"
                           "Status: 404 Nope\r\n\r\n", &h, &why), 0);
    ck_assert_int_eq(h.status, 404);
    ck_assert_str_eq(h.status_line, "404 Nope");
    ck_assert_uint_eq(h.nh, 2);
    ck_assert(h.h[1].nlen == 3 && memcmp(h.h[1].name, "X-A", 3) == 0);
    ck_assert(h.h[1].vlen == 3 && memcmp(h.h[1].val, "b c", 3) == 0);
    ck_assert_ptr_null(h.location);

    ck_assert_int_eq(parse("status: 201\nlocation: http://x/y\n\n", &h,
                           &why), 0);
    ck_assert_int_eq(h.status, 201);
    ck_assert_str_eq(h.status_line, "");
    ck_assert(h.location_len == 10 && memcmp(h.location, "http://x/y",
                                             10) == 0);
    ck_assert_uint_eq(h.nh, 0);

    ck_assert_int_eq(parse("\n", &h, &why), 0);
    ck_assert_int_eq(h.status, 0);
    ck_assert_uint_eq(h.nh, 0);
}
END_TEST

START_TEST(head_parse_drops_hop_by_hop)
{
    struct cgi_head h;
    const char *why = NULL;

    ck_assert_int_eq(parse("Connection: close\nTransfer-Encoding: chunked\n"
                           "Keep-Alive: 5\nContent-Length: 12\n\n", &h,
                           &why), 0);
    ck_assert_uint_eq(h.nh, 1);
    ck_assert(h.h[0].nlen == 14);
}
END_TEST

START_TEST(head_parse_refuses_garbage)
{
    static const char *const rows[] = {
        "this is not a header\n\n",
        ": no name\n\n",
        "Bad Name: x\n\n",
        "X: a\n folded\n\n",
        "X: a\001b\n\n",
        "Status: 99 Low\n\n",
        "Status: 600 High\n\n",
        "Status: abc\n\n",
        "Status: 2000\n\n",
        "Status: \n\n",
        "Location: \n\n",
        "Content-Length: 12x\n\n",
        "Content-Length: -1\n\n",
        "X: a\n",
        "<html>\n\n",
    };
    size_t i;

    for (i = 0; i < NELEM(rows); i++) {
        struct cgi_head h;
        const char *why = NULL;

        ck_assert_msg(parse(rows[i], &h, &why) == -1, "%s", rows[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(head_parse_refuses_too_many_headers)
{
    char buf[CGI_MAX_HEADERS * 8 + 64];
    size_t i, o = 0;
    struct cgi_head h;
    const char *why = NULL;

    for (i = 0; i <= CGI_MAX_HEADERS; i++) {
        o += (size_t)sprintf(buf + o, "X: %zu\n", i % 10);
    }
    buf[o++] = '\n';
    buf[o] = '\0';
    ck_assert_int_eq(parse(buf, &h, &why), -1);
}
END_TEST

/* ----------------------------------------------------------------- query */

START_TEST(query_args_split_indexed_queries_only)
{
    char out[64];

    ck_assert_uint_eq(cgi_query_args("a+b%20c+%2B", 11, out), 3);
    ck_assert_str_eq(out, "a");
    ck_assert_str_eq(out + 2, "b c");
    ck_assert_str_eq(out + 6, "+");
    ck_assert_uint_eq(cgi_query_args("a=1", 3, out), 0);
    ck_assert_uint_eq(cgi_query_args("", 0, out), 0);
    ck_assert_uint_eq(cgi_query_args("a%00b", 5, out), 0);
    ck_assert_uint_eq(cgi_query_args("50%", 3, out), 1);
    ck_assert_str_eq(out, "50%");
}
END_TEST

static Suite *
cgi_suite(void)
{
    Suite *s = suite_create("cgi");
    TCase *tc;

    tc = wf_check_tcase(s, "mount", 5, setup, teardown);
    tcase_add_test(tc, mount_value_splits_prefix_and_normalizes_it);
    tcase_add_test(tc, mount_value_without_path_is_refused);
    tcase_add_test(tc, mount_match_takes_longest_prefix_at_segment_boundary);
    tc = wf_check_tcase(s, "walk", 5, setup, teardown);
    tcase_add_test(tc, walk_finds_script_and_splits_path_info);
    tcase_add_test(tc, walk_skips_empty_and_dot_segments);
    tcase_add_test(tc, walk_refuses_dotdot_anywhere);
    tcase_add_test(tc, walk_refuses_symlink_out_unless_safe);
    tcase_add_test(tc, walk_needs_executable_or_helper);
    tcase_add_test(tc, walk_accepts_non_executable_with_helper);
    tcase_add_test(tc, walk_applies_allowed_extensions);
    tcase_add_test(tc, walk_not_found_and_directories);
    tcase_add_test(tc, walk_without_path_info_needs_exact_name);
    tcase_add_test(tc, walk_script_mount_takes_rest_as_path_info);
    tc = wf_check_tcase(s, "head", 5, setup, teardown);
    tcase_add_test(tc, head_end_finds_empty_line_in_any_line_ending);
    tcase_add_test(tc, head_end_gives_up_at_the_limit);
    tcase_add_test(tc, head_parse_status_location_and_headers);
    tcase_add_test(tc, head_parse_drops_hop_by_hop);
    tcase_add_test(tc, head_parse_refuses_garbage);
    tcase_add_test(tc, head_parse_refuses_too_many_headers);
    tc = wf_check_tcase(s, "query", 5, setup, teardown);
    tcase_add_test(tc, query_args_split_indexed_queries_only);
    return s;
}

WF_CHECK_MAIN(cgi_suite)
