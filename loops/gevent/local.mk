if BUILD_GEVENT
plugin_LTLIBRARIES += loops/gevent/gevent_plugin.la
endif
loops_gevent_gevent_plugin_la_SOURCES = loops/gevent/gevent.c \
	shared/py_errors.c shared/py_errors.h
loops_gevent_gevent_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) \
	-I$(top_srcdir)/shared \
	$(PYTHON_CFLAGS)
loops_gevent_gevent_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
loops_gevent_gevent_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
loops_gevent_gevent_plugin_la_LIBADD = $(PYTHON_LIBS)
