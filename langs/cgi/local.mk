# cgi: CGI/1.1 scripts as a language (modifier1 9). No dependency beyond
# libc (posix_spawn); built unless --enable-langs leaves it out.
if BUILD_CGI
plugin_LTLIBRARIES += langs/cgi/cgi_plugin.la
endif
langs_cgi_cgi_plugin_la_SOURCES = langs/cgi/cgi.h langs/cgi/cgi_int.h \
	langs/cgi/cgi.c langs/cgi/cgi_env.c langs/cgi/cgi_spawn.c \
	langs/cgi/cgi_util.c
langs_cgi_cgi_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
langs_cgi_cgi_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
langs_cgi_cgi_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# the pure parts (path walk, head parser), unit-tested
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_cgi
TESTS += tests/unit/check_cgi
tests_unit_check_cgi_SOURCES = tests/unit/check_cgi.c langs/cgi/cgi_util.c \
	langs/cgi/cgi.h
tests_unit_check_cgi_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/langs/cgi
tests_unit_check_cgi_CFLAGS = $(WEFT_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_cgi_LDADD = $(CHECK_LIBS)
endif
