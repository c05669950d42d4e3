# unit tests: proto (the HTTP, uwsgi and chunked parsers, and core/req.c).
# Included from tests/unit/units.mk inside `if HAVE_CHECK`.
check_PROGRAMS += tests/unit/check_http tests/unit/check_uwsgi \
	tests/unit/check_chunked
TESTS += tests/unit/check_http tests/unit/check_uwsgi \
	tests/unit/check_chunked

tests_unit_check_http_SOURCES = tests/unit/check_http.c tests/unit/check_util.h
tests_unit_check_http_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_http_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_http_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_http_LDADD = $(UNIT_LDADD)
tests_unit_check_http_DEPENDENCIES = libweftcore.a

tests_unit_check_uwsgi_SOURCES = tests/unit/check_uwsgi.c tests/unit/check_util.h
tests_unit_check_uwsgi_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_uwsgi_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_uwsgi_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_uwsgi_LDADD = $(UNIT_LDADD)
tests_unit_check_uwsgi_DEPENDENCIES = libweftcore.a

tests_unit_check_chunked_SOURCES = tests/unit/check_chunked.c tests/unit/check_util.h
tests_unit_check_chunked_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_check_chunked_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_chunked_LDFLAGS = $(UNIT_LINKFLAGS)
tests_unit_check_chunked_LDADD = $(UNIT_LDADD)
tests_unit_check_chunked_DEPENDENCIES = libweftcore.a
