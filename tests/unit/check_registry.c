/*
 * The plugin registry, through the real loader: every broken plugin of
 * tests/plugins is refused with its exact one-line error, and good ones
 * load once, with their requirements.
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
    wf__plugin_clear_dirs();
    wf__plugin_add_dir(WEFT_TEST_PLUGINS);
    wf__plugin_add_dir(WEFT_BUILD_PLUGINDIR);
}

static void
teardown(void)
{
    wf__plugin_unload_all();
}

#define STR(x) #x
#define XSTR(x) STR(x)
/* bad.c builds newminor with WF_ABI_MINOR + 1 */
#if WF_ABI_MINOR == 0
#define WF_ABI_MINOR_NEXT 1
#elif WF_ABI_MINOR == 1
#define WF_ABI_MINOR_NEXT 2
#elif WF_ABI_MINOR == 2
#define WF_ABI_MINOR_NEXT 3
#elif WF_ABI_MINOR == 3
#define WF_ABI_MINOR_NEXT 4
#elif WF_ABI_MINOR == 4
#define WF_ABI_MINOR_NEXT 5
#elif WF_ABI_MINOR == 5
#define WF_ABI_MINOR_NEXT 6
#elif WF_ABI_MINOR == 6
#define WF_ABI_MINOR_NEXT 7
#elif WF_ABI_MINOR == 7
#define WF_ABI_MINOR_NEXT 8
#else
#error "extend WF_ABI_MINOR_NEXT"
#endif

static const struct {
    const char *name;
    const char *msg;    /* after "<dir>/<name>_plugin.so: " */
} bad[] = {
    { "badmagic", "bad descriptor magic; not built with weft's WF_PLUGIN" },
    { "oldabi", "built for weft ABI 2, this weft has ABI 1; rebuild the "
                "plugin" },
    { "newminor", "built for weft ABI " XSTR(WF_ABI_MAJOR) "."
                  XSTR(WF_ABI_MINOR_NEXT) ", newer than this weft's "
                  XSTR(WF_ABI_MAJOR) "." XSTR(WF_ABI_MINOR) "; upgrade weft "
                  "or rebuild the plugin" },
    { "noop", "I/O engine plugin without its 'wait' op; fix the plugin" },
    { "wrongname", "descriptor names 'other', the file 'wrongname'; rename "
                   "one of them" },
    { "nosym", "not a weft plugin (no symbol wf_plugin_nosym); rebuild it "
               "with WF_PLUGIN(nosym, ...)" },
};

START_TEST(broken_plugin_is_refused_with_its_exact_error)
{
    struct wf_err err;
    char want[1024];

    memset(&err, 0, sizeof(err));
    ck_assert_ptr_null(wf__plugin_load(bad[_i].name, &err));
    snprintf(want, sizeof(want), "%s/%s_plugin.so: %s", WEFT_TEST_PLUGINS,
             bad[_i].name, bad[_i].msg);
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(wf__plugin_find(bad[_i].name));
}
END_TEST

START_TEST(missing_requirement_names_both_plugins)
{
    struct wf_err err;

    ck_assert_ptr_null(wf__plugin_load("needsmissing", &err));
    ck_assert_msg(strstr(err.msg, "plugin 'needsmissing' requires "
                         "'nonexistent': plugin 'nonexistent': not found in ")
                  == err.msg, "%s", err.msg);
    ck_assert_ptr_null(wf__plugin_find("needsmissing"));
}
END_TEST

START_TEST(missing_plugin_lists_the_available_ones)
{
    struct wf_err err;

    ck_assert_ptr_null(wf__plugin_load("ugren", &err));
    ck_assert_msg(strncmp(err.msg, "plugin 'ugren': not found in ", 29) == 0,
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "available: ") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "testlang") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(good_plugin_loads_once_and_is_found)
{
    struct wf_err err;
    const struct wf_plugin *p, *q;
    unsigned n;

    p = wf__plugin_load("testlang", &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_str_eq(p->name, "testlang");
    ck_assert_int_eq(p->kind, WF_KIND_LANG);
    q = wf__plugin_load("testlang", &err);
    ck_assert_ptr_eq(p, q);
    wf__plugin_all(&n);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_eq(wf__plugin_find("testlang"), p);
}
END_TEST

START_TEST(plugin_by_path_is_loaded_by_its_file_name)
{
    struct wf_err err;
    char path[1024];
    const struct wf_plugin *p;

    snprintf(path, sizeof(path), "%s/testlang_plugin.so", WEFT_TEST_PLUGINS);
    p = wf__plugin_load(path, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_str_eq(p->name, "testlang");
    ck_assert_ptr_null(wf__plugin_load("/nonexistent/x_plugin.so", &err));
    ck_assert_str_eq(err.msg, "plugin /nonexistent/x_plugin.so: no such file");
}
END_TEST

START_TEST(option_owner_is_found_without_loading)
{
    char *owner = wf__plugin_owner_of("testlang");
    unsigned n;

    ck_assert_ptr_nonnull(owner);
    ck_assert_str_eq(owner, "testlang");
    free(owner);
    wf__plugin_all(&n);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(wf__plugin_owner_of("no-such-option"));
}
END_TEST

START_TEST(loading_a_plugin_applies_its_option_defaults)
{
    struct wf_err err;

    if (access(WEFT_BUILD_PLUGINDIR "/epoll_plugin.so", F_OK) != 0) {
        return;   /* epoll not built: nothing to check here */
    }
    ck_assert_msg(wf__plugin_load("epoll", &err) != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(wf_opt_get("epoll-max-events"));
    ck_assert_str_eq(wf_opt_get("epoll-max-events"), "256");
}
END_TEST

static Suite *
registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = wf_check_tcase(s, "errors", 20, setup, teardown);

    tcase_add_loop_test(tc, broken_plugin_is_refused_with_its_exact_error, 0,
                        (int) NELEM(bad));
    tcase_add_test(tc, missing_requirement_names_both_plugins);
    tcase_add_test(tc, missing_plugin_lists_the_available_ones);

    tc = wf_check_tcase(s, "loading", 20, setup, teardown);
    tcase_add_test(tc, good_plugin_loads_once_and_is_found);
    tcase_add_test(tc, plugin_by_path_is_loaded_by_its_file_name);
    tcase_add_test(tc, option_owner_is_found_without_loading);
    tcase_add_test(tc, loading_a_plugin_applies_its_option_defaults);
    return s;
}

WF_CHECK_MAIN(registry_suite)
