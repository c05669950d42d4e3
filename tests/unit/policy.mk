# unit tests: core/policy.c (reason phrases, status and header verdicts,
# CGI defaults, the request line of the logs). Included from
# tests/unit/units.mk inside `if HAVE_CHECK`.
check_PROGRAMS += tests/unit/check_policy
TESTS += tests/unit/check_policy
tests_unit_check_policy_SOURCES = tests/unit/check_policy.c tests/unit/check_util.h
tests_unit_check_policy_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_policy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_policy_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_policy_LDADD = $(UNIT_LDADD)
tests_unit_check_policy_DEPENDENCIES = libweftcore.a
