# unit tests: uWSGI compatibility in the core (core/cheaper.c: the spare
# algorithm of --cheaper). Included from tests/unit/units.mk inside
# `if HAVE_CHECK`.
check_PROGRAMS += tests/unit/check_cheaper
TESTS += tests/unit/check_cheaper
tests_unit_check_cheaper_SOURCES = tests/unit/check_cheaper.c tests/unit/check_util.h
tests_unit_check_cheaper_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_cheaper_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_cheaper_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_cheaper_LDADD = $(UNIT_LDADD)
tests_unit_check_cheaper_DEPENDENCIES = libweftcore.a
