# Plugins for the tests only (never installed): testlang, a language in C
# that drives the core API, and plugins that are wrong on purpose, for
# check_registry. They land in tests/plugins/.libs.
TESTPLUGIN_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES = tests/plugins/testlang_plugin.la \
	tests/plugins/badmagic_plugin.la tests/plugins/oldabi_plugin.la \
	tests/plugins/newminor_plugin.la tests/plugins/noop_plugin.la \
	tests/plugins/wrongname_plugin.la tests/plugins/nosym_plugin.la \
	tests/plugins/needsmissing_plugin.la
tests_plugins_testlang_plugin_la_SOURCES = tests/plugins/testlang.c
tests_plugins_testlang_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_badmagic_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_badmagic_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_MAGIC
tests_plugins_badmagic_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_oldabi_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_oldabi_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_ABI
tests_plugins_oldabi_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_newminor_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_newminor_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_MINOR
tests_plugins_newminor_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_noop_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_noop_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NOOP
tests_plugins_noop_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_wrongname_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_wrongname_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NAME
tests_plugins_wrongname_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_nosym_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_nosym_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NOSYM
tests_plugins_nosym_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
tests_plugins_needsmissing_plugin_la_SOURCES = tests/plugins/bad.c
tests_plugins_needsmissing_plugin_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_REQUIRES
tests_plugins_needsmissing_plugin_la_LDFLAGS = $(TESTPLUGIN_LDFLAGS)
