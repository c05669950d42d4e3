# unit tests: engines (one contract suite per kind, run on every built
# engine of that kind; the plugins come from $(builddir)/plugins)
check_PROGRAMS += tests/unit/check_io
TESTS += tests/unit/check_io
tests_unit_check_io_SOURCES = tests/unit/check_io.c tests/unit/check_util.h
tests_unit_check_io_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_io_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_io_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_io_LDADD = $(UNIT_LDADD)
tests_unit_check_io_DEPENDENCIES = libweftcore.a

check_PROGRAMS += tests/unit/check_suspend
TESTS += tests/unit/check_suspend
tests_unit_check_suspend_SOURCES = tests/unit/check_suspend.c tests/unit/check_util.h
tests_unit_check_suspend_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_suspend_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_suspend_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_suspend_LDADD = $(UNIT_LDADD) -lm
tests_unit_check_suspend_DEPENDENCIES = libweftcore.a
