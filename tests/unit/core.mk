# unit tests: the core (options, registry, timers)
check_PROGRAMS += tests/unit/check_options tests/unit/check_registry \
	tests/unit/check_timer
TESTS += tests/unit/check_options tests/unit/check_registry \
	tests/unit/check_timer
tests_unit_check_options_SOURCES = tests/unit/check_options.c tests/unit/check_util.h
tests_unit_check_options_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_options_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_options_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_options_LDADD = $(UNIT_LDADD)
tests_unit_check_registry_SOURCES = tests/unit/check_registry.c tests/unit/check_util.h
tests_unit_check_registry_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_registry_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_registry_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_registry_LDADD = $(UNIT_LDADD)
tests_unit_check_timer_SOURCES = tests/unit/check_timer.c tests/unit/check_util.h
tests_unit_check_timer_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_timer_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_timer_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_timer_LDADD = $(UNIT_LDADD)
tests_unit_check_options_DEPENDENCIES = libweftcore.a
tests_unit_check_registry_DEPENDENCIES = libweftcore.a
tests_unit_check_timer_DEPENDENCIES = libweftcore.a
# static files: the path resolver
check_PROGRAMS += tests/unit/check_static
TESTS += tests/unit/check_static
tests_unit_check_static_SOURCES = tests/unit/check_static.c tests/unit/check_util.h
tests_unit_check_static_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_static_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_static_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_static_LDADD = $(UNIT_LDADD)
tests_unit_check_static_DEPENDENCIES = libweftcore.a
# the loop as an object: two loops in two threads (house-loop, issue 9)
check_PROGRAMS += tests/unit/check_loop
TESTS += tests/unit/check_loop
tests_unit_check_loop_SOURCES = tests/unit/check_loop.c tests/unit/check_util.h
tests_unit_check_loop_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_loop_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_unit_check_loop_LDFLAGS = $(UNIT_LINKFLAGS) -pthread
tests_unit_check_loop_LDADD = $(UNIT_LDADD)
tests_unit_check_loop_DEPENDENCIES = libweftcore.a
# a connection's memory sized on demand (issue 13)
check_PROGRAMS += tests/unit/check_conn
TESTS += tests/unit/check_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c tests/unit/check_util.h
tests_unit_check_conn_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_conn_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_unit_check_conn_LDFLAGS = $(UNIT_LINKFLAGS) -pthread
tests_unit_check_conn_LDADD = $(UNIT_LDADD)
tests_unit_check_conn_DEPENDENCIES = libweftcore.a
