if BUILD_PSGI
plugin_LTLIBRARIES += langs/psgi/psgi_plugin.la
endif
langs_psgi_psgi_plugin_la_SOURCES = \
	langs/psgi/psgiweft.h \
	langs/psgi/psgi.c \
	langs/psgi/ps_io.c \
	langs/psgi/ps_module.c
langs_psgi_psgi_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(PERL_CFLAGS)
langs_psgi_psgi_plugin_la_CFLAGS = $(PLUGIN_CFLAGS) -Wno-unused-parameter \
	-Wno-shadow -Wno-nested-externs
langs_psgi_psgi_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
langs_psgi_psgi_plugin_la_LIBADD = $(PERL_LIBS)
