/*
 * Options: the command line, --ini files, values and their errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#include "check_util.h"

static void
setup(void)
{
    struct wf_err err;

    memset(&wf__cfg, 0, sizeof(wf__cfg));
    wf__plugin_clear_dirs();
    ck_assert_int_eq(wf__opt_defaults(wf__core_options, &err), 0);
}

static int
collect(int argc, char **argv, struct wf__optval **v, size_t *n,
        struct wf_err *err)
{
    return wf__opt_collect(argc, argv, v, n, err);
}

START_TEST(defaults_are_applied)
{
    ck_assert_int_eq(wf__cfg.async, 0);
    ck_assert_int_eq(wf__cfg.buffer_size, 4096);
    ck_assert_int_eq(wf__cfg.listen, 100);
    ck_assert_int_eq(wf__cfg.socket_timeout, 4);
    ck_assert_str_eq(wf_opt_get("buffer-size"), "4096");
}
END_TEST

START_TEST(command_line_spellings_all_collect)
{
    char *argv[] = { "weft", "--async", "10", "--buffer-size=8192",
                     "--http_socket", ":8080", "-b", "1k", "-L",
                     "--listen=7", NULL };
    struct wf__optval *v;
    struct wf_err err;
    size_t n;

    ck_assert_int_eq(collect(10, argv, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(v[0].name, "async");
    ck_assert_str_eq(v[0].value, "10");
    ck_assert_str_eq(v[1].name, "buffer-size");
    ck_assert_str_eq(v[1].value, "8192");
    ck_assert_str_eq(v[2].name, "http-socket");
    ck_assert_str_eq(v[3].name, "buffer-size");
    ck_assert_str_eq(v[3].value, "1k");
    ck_assert_str_eq(v[4].name, "disable-logging");
    ck_assert_ptr_null(v[4].value);
    ck_assert_str_eq(v[5].value, "7");
    ck_assert_str_eq(v[5].origin, "command line");
    wf__opt_free(v, n);
}
END_TEST

static const struct {
    const char *name, *value;
    const char *err;    /* NULL: accepted */
} values[] = {
    { "async", "10", NULL },
    { "async", "abc", "--async abc (test): not a whole number" },
    { "async", "", "--async (test) needs a number" },
    { "async", "-1", "--async -1 (test): out of range 0-100000" },
    { "async", "100001", "--async 100001 (test): out of range 0-100000" },
    { "async", "99999999999999999999", "--async 99999999999999999999 "
                                       "(test): not a whole number" },
    { "buffer-size", "64k", NULL },
    { "buffer-size", "2m", "--buffer-size 2m (test): out of range "
                           "512-1048576" },
    { "buffer-size", "12q", "--buffer-size 12q (test): not a whole number" },
    { "master", "true", NULL },
    { "master", "off", NULL },
    { "master", "maybe", "--master maybe (test): not a boolean; use true or "
                         "false" },
    { "pidfile", "/tmp/x.pid", NULL },
    { "http-socket", "a,b", NULL },
};

START_TEST(values_are_checked_against_their_type_and_range)
{
    const struct wf_plugin *owner;
    const struct wf_option *o = wf__opt_find(values[_i].name, &owner);
    struct wf__optval v = { (char *)values[_i].name,
                            (char *)values[_i].value, "test" };
    struct wf_err err;
    int r;

    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(owner);
    memset(&err, 0, sizeof(err));
    r = wf__opt_apply(o, &v, &err);
    if (values[_i].err == NULL) {
        ck_assert_msg(r == 0, "%s=%s: %s", values[_i].name,
                      values[_i].value, err.msg);
    } else {
        ck_assert_int_eq(r, -1);
        ck_assert_str_eq(err.msg, values[_i].err);
    }
}
END_TEST

START_TEST(sizes_take_suffixes_and_lists_keep_every_value)
{
    const struct wf_plugin *owner;
    struct wf__optval a = { "buffer-size", "64k", "t" };
    struct wf__optval b = { "http-socket", ":1", "t" };
    struct wf__optval c = { "http-socket", ":2", "t" };
    struct wf_err err;

    ck_assert_int_eq(wf__opt_apply(wf__opt_find("buffer-size", &owner), &a,
                                   &err), 0);
    ck_assert_int_eq(wf__cfg.buffer_size, 65536);
    ck_assert_int_eq(wf__opt_apply(wf__opt_find("http-socket", &owner), &b,
                                   &err), 0);
    ck_assert_int_eq(wf__opt_apply(wf__opt_find("http-socket", &owner), &c,
                                   &err), 0);
    ck_assert_uint_eq(wf__cfg.http_sockets.n, 2);
    ck_assert_str_eq(wf__cfg.http_sockets.v[1], ":2");
}
END_TEST

static char *
write_ini(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/check_options_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

START_TEST(ini_reads_the_uwsgi_section_in_place)
{
    char *path = write_ini("[other]\nasync = 1\n[uwsgi]\n; comment\n"
                           "# comment\nasync = 5\nmaster\n"
                           "http-socket = :9\n[weft]\nlisten = 3\n");
    char arg[128];
    char *argv[] = { "weft", "--listen", "1", "--ini", arg, "--async", "7",
                     NULL };
    struct wf__optval *v;
    struct wf_err err;
    size_t n;

    snprintf(arg, sizeof(arg), "%s", path);
    ck_assert_msg(collect(7, argv, &v, &n, &err) == 0, "%s", err.msg);
    unlink(path);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(v[0].name, "listen");
    ck_assert_str_eq(v[1].name, "async");
    ck_assert_str_eq(v[1].value, "5");
    ck_assert_str_eq(v[2].name, "master");
    ck_assert_ptr_null(v[2].value);
    ck_assert_str_eq(v[3].name, "http-socket");
    ck_assert_str_eq(v[4].name, "listen");
    ck_assert_str_eq(v[4].value, "3");
    ck_assert_str_eq(v[5].value, "7");
    ck_assert_msg(strstr(v[1].origin, ":6") != NULL, "%s", v[1].origin);
    wf__opt_free(v, n);
}
END_TEST

START_TEST(ini_named_section_and_errors)
{
    char *path = write_ini("[a]\nasync = 2\n[b]\nasync = 3\n");
    char spec[128];
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0;

    snprintf(spec, sizeof(spec), "%s:b", path);
    ck_assert_int_eq(wf__ini_read(spec, &v, &n, &cap, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].value, "3");
    snprintf(spec, sizeof(spec), "%s:c", path);
    ck_assert_int_eq(wf__ini_read(spec, &v, &n, &cap, &err), -1);
    ck_assert_msg(strstr(err.msg, "no [c] section") != NULL, "%s", err.msg);
    ck_assert_int_eq(wf__ini_read(path, &v, &n, &cap, &err), -1);
    ck_assert_msg(strstr(err.msg, "no [uwsgi] section") != NULL, "%s",
                  err.msg);
    unlink(path);
    ck_assert_int_eq(wf__ini_read("/nonexistent.ini", &v, &n, &cap, &err),
                     -1);
    ck_assert_str_eq(err.msg, "--ini /nonexistent.ini: No such file or "
                     "directory; give the path of an ini file");
    wf__opt_free(v, n);
}
END_TEST

START_TEST(bad_command_lines_are_refused)
{
    char *a1[] = { "weft", "stray", NULL };
    char *a2[] = { "weft", "--async", NULL };
    char *a3[] = { "weft", "-Q", NULL };
    struct wf__optval *v;
    struct wf_err err;
    size_t n;

    ck_assert_int_eq(collect(2, a1, &v, &n, &err), -1);
    ck_assert_str_eq(err.msg, "'stray': not an option; options start with "
                     "--, see weft --help");
    ck_assert_int_eq(collect(2, a2, &v, &n, &err), -1);
    ck_assert_str_eq(err.msg, "--async needs a value; see weft --help");
    ck_assert_int_eq(collect(2, a3, &v, &n, &err), -1);
    ck_assert_str_eq(err.msg, "-Q: unknown option; see weft --help");
}
END_TEST

static Suite *
options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = wf_check_tcase(s, "values", 10, setup, NULL);

    tcase_add_test(tc, defaults_are_applied);
    tcase_add_loop_test(tc, values_are_checked_against_their_type_and_range,
                        0, (int) NELEM(values));
    tcase_add_test(tc, sizes_take_suffixes_and_lists_keep_every_value);

    tc = wf_check_tcase(s, "sources", 10, setup, NULL);
    tcase_add_test(tc, command_line_spellings_all_collect);
    tcase_add_test(tc, ini_reads_the_uwsgi_section_in_place);
    tcase_add_test(tc, ini_named_section_and_errors);
    tcase_add_test(tc, bad_command_lines_are_refused);
    return s;
}

WF_CHECK_MAIN(options_suite)
