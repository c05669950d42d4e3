if BUILD_GREENLET
plugin_LTLIBRARIES += engines/greenlet/greenlet_plugin.la
endif
engines_greenlet_greenlet_plugin_la_SOURCES = engines/greenlet/greenlet.c \
	shared/py_errors.c shared/py_errors.h
engines_greenlet_greenlet_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) \
	-I$(top_srcdir)/shared \
	$(PYTHON_CFLAGS)
engines_greenlet_greenlet_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
engines_greenlet_greenlet_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
engines_greenlet_greenlet_plugin_la_LIBADD = $(PYTHON_LIBS)
