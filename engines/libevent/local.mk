if BUILD_LIBEVENT
plugin_LTLIBRARIES += engines/libevent/libevent_plugin.la
endif
engines_libevent_libevent_plugin_la_SOURCES = engines/libevent/libevent.c
engines_libevent_libevent_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LIBEVENT_CFLAGS)
engines_libevent_libevent_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
engines_libevent_libevent_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
engines_libevent_libevent_plugin_la_LIBADD = $(LIBEVENT_LIBS)
