/*
 * Options: the command line, --ini files, values and their errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Found by fuzz/ (CI, 60 s runs): %(a)%(a) doubles a value per line, so
 * a few lines asked for gigabytes; and a line past the buffer was read as
 * two lines, its tail becoming an option of its own. */
START_TEST(ini_values_and_lines_are_bounded)
{
    static char text[4 * WF__INI_LINE_MAX];
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0, len;
    char *path;
    int i;

    len = (size_t)snprintf(text, sizeof(text), "[uwsgi]\na = 0123456789\n");
    for (i = 0; i < 30; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "a = %%(a)%%(a)\n");
    }
    path = write_ini(text);
    ck_assert_int_eq(wf__ini_read(path, &v, &n, &cap, &err), -1);
    unlink(path);
    ck_assert_msg(strstr(err.msg, ":15: the value grows past 65536 bytes")
                  != NULL, "%s", err.msg);
    wf__opt_free(v, n);

    /* a line of exactly WF__INI_LINE_MAX - 1 bytes is read whole ... */
    v = NULL; n = cap = 0;
    len = (size_t)snprintf(text, sizeof(text), "[uwsgi]\nenv = X=");
    memset(text + len, 'y', WF__INI_LINE_MAX - 1 - 8);
    len += WF__INI_LINE_MAX - 1 - 8;
    text[len] = '\0';
    path = write_ini(text);
    ck_assert_msg(wf__ini_read(path, &v, &n, &cap, &err) == 0, "%s",
                  err.msg);
    unlink(path);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(strlen(v[0].value), WF__INI_LINE_MAX - 1 - 6);
    wf__opt_free(v, n);

    /* ... and so is it when a newline and another line follow */
    v = NULL; n = cap = 0;
    snprintf(text + len, sizeof(text) - len, "\nmaster\n");
    path = write_ini(text);
    ck_assert_msg(wf__ini_read(path, &v, &n, &cap, &err) == 0, "%s",
                  err.msg);
    unlink(path);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[1].name, "master");
    wf__opt_free(v, n);

    /* ... one byte more is refused, not split into "env" and "yyy..." */
    v = NULL; n = cap = 0;
    text[len] = 'y';
    text[len + 1] = '\n';
    text[len + 2] = '\0';
    path = write_ini(text);
    ck_assert_int_eq(wf__ini_read(path, &v, &n, &cap, &err), -1);
    unlink(path);
    ck_assert_msg(strstr(err.msg, ":2: a line longer than 8191 bytes")
                  != NULL, "%s", err.msg);
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

/* A directory sub/ under a fresh temp dir holding my.app.ini with text;
 * the path is in a static buffer. */
static char named_dir[] = "/tmp/check_options_XXXXXX";

/* Remove what write_named_ini() made. */
static void
drop_named_ini(const char *path)
{
    char sub[256];

    unlink(path);
    snprintf(sub, sizeof(sub), "%s/sub", named_dir);
    rmdir(sub);
    rmdir(named_dir);
}

static const char *
write_named_ini(const char *text)
{
    static char path[256];
    char *dir = named_dir;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/my.app.ini", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* uWSGI 2.0.21 prints, for the same file (print = ...):
 * d=/tmp/cmp/sub/ n=my.app p=/tmp/cmp/sub/my.app.ini s=my.app.ini e=ini
 * c=sub x= pct=% */
START_TEST(ini_magic_variables_are_uwsgis)
{
    const char *path = write_named_ini(
        "[uwsgi]\nd = %d\nn = %n\np = %p\ns = %s\ne = %e\nc = %c\n"
        "x = [%x]\npct = 100%%\nlit = %q stays\n");
    char dir[256];
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0;

    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path + 1),
             path);
    ck_assert_msg(wf__ini_read(path, &v, &n, &cap, &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(n, 9);
    ck_assert_str_eq(v[0].value, dir);      /* ends with a slash */
    ck_assert_str_eq(v[1].value, "my.app");
    ck_assert_str_eq(v[2].value, path);
    ck_assert_str_eq(v[3].value, "my.app.ini");
    ck_assert_str_eq(v[4].value, "ini");
    ck_assert_str_eq(v[5].value, "sub");
    ck_assert_str_eq(v[6].value, "[]");
    ck_assert_str_eq(v[7].value, "100%");
    ck_assert_str_eq(v[8].value, "%q stays");
    wf__opt_free(v, n);
    drop_named_ini(path);
}
END_TEST

START_TEST(ini_variables_environment_and_inheritance)
{
    const char *path = write_named_ini(
        "[uwsgi]\nproject = mysite\nbase = /srv/%(project)\n"
        "chdir = %(base)/app\nenv = HOME_IS=$(CHECK_OPT_HOME)\n"
        "ini = :common\nsocket = %(base)/%x.sock\n"
        "socket = /b.sock\n"
        "[common]\nprocesses = 3\nlogto = %(base)/%x.log\n");
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0;

    setenv("CHECK_OPT_HOME", "/home/x", 1);
    ck_assert_msg(wf__ini_read(path, &v, &n, &cap, &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(n, 8);
    ck_assert_str_eq(v[0].name, "project");
    ck_assert_int_eq(v[0].var, 1);          /* read as %(project) */
    ck_assert_str_eq(v[2].value, "/srv/mysite/app");
    ck_assert_int_eq(v[2].var, 0);
    ck_assert_str_eq(v[3].value, "HOME_IS=/home/x");
    ck_assert_str_eq(v[4].name, "processes");   /* in place */
    ck_assert_str_eq(v[5].value, "/srv/mysite/common.log");
    ck_assert_msg(strstr(v[5].origin, "my.app.ini:11") != NULL, "%s",
                  v[5].origin);
    ck_assert_str_eq(v[6].value, "/srv/mysite/.sock");
    ck_assert_str_eq(v[7].value, "/b.sock");    /* repeated: both kept */
    wf__opt_free(v, n);
    drop_named_ini(path);
}
END_TEST

static const struct {
    const char *line;
    const char *err;    /* a part of the message; the file:line precedes */
} bad_ini[] = {
    { "chdir = $(CHECK_OPT_UNSET_VAR)/x", ":2: $(CHECK_OPT_UNSET_VAR): no "
      "such environment variable" },
    { "chdir = %(nope)/x", ":2: %(nope): not set above this line" },
    { "chdir = %(broken", ":2: '%(' without ')'" },
    { "ini = :missing", "no [missing] section" },
    { "ini = :uwsgi", ":2: ini = :uwsgi: ini files included more than 16 "
      "deep" },
    { "= value", ":2: a line with no option name" },
    { "set-placeholder = novalue", ":2: set-placeholder needs NAME=VALUE" },
};

START_TEST(ini_errors_name_the_file_and_line)
{
    char text[256];
    const char *path;
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0;

    unsetenv("CHECK_OPT_UNSET_VAR");
    snprintf(text, sizeof(text), "[uwsgi]\n%s\n", bad_ini[_i].line);
    path = write_named_ini(text);
    ck_assert_int_eq(wf__ini_read(path, &v, &n, &cap, &err), -1);
    ck_assert_msg(strstr(err.msg, bad_ini[_i].err) != NULL, "%s: %s",
                  bad_ini[_i].line, err.msg);
    ck_assert_msg(strstr(err.msg, "my.app.ini") != NULL, "%s", err.msg);
    wf__opt_free(v, n);
    drop_named_ini(path);
}
END_TEST

START_TEST(set_placeholder_defines_a_variable_only)
{
    char *argv[] = { "weft", "--set-ph", "root=/srv", NULL };
    struct wf__optval *v;
    struct wf_err err;
    size_t n;
    char *x;

    ck_assert_msg(collect(3, argv, &v, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].name, "root");
    ck_assert_int_eq(v[0].var, 2);
    x = wf__ini_expand("%(root)/app", NULL, NULL, v, n, &err);
    ck_assert_str_eq(x, "/srv/app");
    free(x);
    wf__opt_free(v, n);
}
END_TEST

/* A variable needs a name: "=VALUE" made one named "" (found by fuzz/). */
START_TEST(set_placeholder_without_a_name_is_refused)
{
    char *argv[] = { "weft", "--set-ph", "=x", NULL };
    char *path = write_ini("[uwsgi]\nset-ph = =x\n");
    struct wf__optval *v = NULL;
    struct wf_err err;
    size_t n = 0, cap = 0;

    ck_assert_int_eq(collect(3, argv, &v, &n, &err), -1);
    ck_assert_str_eq(err.msg, "--set-ph =x: want NAME=VALUE");
    v = NULL; n = 0;
    ck_assert_int_eq(wf__ini_read(path, &v, &n, &cap, &err), -1);
    unlink(path);
    ck_assert_msg(strstr(err.msg, ":2: set-ph needs NAME=VALUE") != NULL,
                  "%s", err.msg);
    wf__opt_free(v, n);
}
END_TEST

START_TEST(unknown_options_on_the_command_line_are_collected_not_valued)
{
    char *argv[] = { "weft", "--bogus", "--master", "--other", "x", NULL };
    struct wf__optval *v;
    struct wf_err err;
    size_t n;

    ck_assert_msg(collect(5, argv, &v, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(v[0].name, "bogus");
    ck_assert_ptr_null(v[0].value);
    ck_assert_str_eq(v[1].name, "master");
    ck_assert_str_eq(v[2].value, "x");
    wf__opt_free(v, n);
}
END_TEST

static const struct {
    const char *value;
    int mode;           /* -1: refused */
} chmods[] = {
    { NULL, 0666 }, { "1", 0666 }, { "660", 0660 }, { "664", 0664 },
    { "666", 0666 }, { "true", -1 }, { "", -1 }, { "6600", -1 },
    { "999", -1 }, { "66", -1 },
};

START_TEST(chmod_socket_takes_uwsgis_values)
{
    const struct wf_plugin *owner;
    const struct wf_option *o = wf__opt_find("chmod-socket", &owner);
    struct wf__optval v = { "chmod-socket", (char *)chmods[_i].value,
                            "test", 0 };
    struct wf_err err;
    int r;

    ck_assert_ptr_nonnull(o);
    r = wf__opt_apply(o, &v, &err);
    if (chmods[_i].mode < 0) {
        ck_assert_int_eq(r, -1);
        ck_assert_msg(strstr(err.msg, "invalid mode") != NULL, "%s",
                      err.msg);
    } else {
        ck_assert_msg(r == 0, "%s", err.msg);
        ck_assert_int_eq(wf__cfg.chmod_socket, chmods[_i].mode);
    }
}
END_TEST

static const struct {
    const char *addr;
    int family;         /* -1: refused */
} addrs[] = {
    { "app.sock", AF_UNIX }, { "run/app.sock", AF_UNIX },
    { "/run/app.sock", AF_UNIX }, { "@abstract", AF_UNIX },
    { ":3031", AF_INET }, { "127.0.0.1:3031", AF_INET },
    { "localhost:3031", AF_INET }, { "[::1]:3031", AF_INET6 },
    { "127.0.0.1:0", -1 }, { "127.0.0.1:x", -1 }, { "[::1]3031", -1 },
};

START_TEST(socket_addresses_as_uwsgi_reads_them)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[160];

    ck_assert_int_eq(wf__addr_parse(addrs[_i].addr, 1, &ss, &len, why,
                                    sizeof(why)), addrs[_i].family);
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
    tcase_add_test(tc, ini_values_and_lines_are_bounded);
    tcase_add_test(tc, bad_command_lines_are_refused);
    tcase_add_test(tc, unknown_options_on_the_command_line_are_collected_not_valued);

    tc = wf_check_tcase(s, "uwsgi", 10, setup, NULL);
    tcase_add_test(tc, ini_magic_variables_are_uwsgis);
    tcase_add_test(tc, ini_variables_environment_and_inheritance);
    tcase_add_loop_test(tc, ini_errors_name_the_file_and_line, 0,
                        (int)NELEM(bad_ini));
    tcase_add_test(tc, set_placeholder_defines_a_variable_only);
    tcase_add_test(tc, set_placeholder_without_a_name_is_refused);
    tcase_add_loop_test(tc, chmod_socket_takes_uwsgis_values, 0,
                        (int)NELEM(chmods));
    tcase_add_loop_test(tc, socket_addresses_as_uwsgi_reads_them, 0,
                        (int)NELEM(addrs));
    return s;
}

WF_CHECK_MAIN(options_suite)
