if BUILD_UGREEN
plugin_LTLIBRARIES += engines/ugreen/ugreen_plugin.la
endif
engines_ugreen_ugreen_plugin_la_SOURCES = engines/ugreen/ugreen.c
engines_ugreen_ugreen_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
engines_ugreen_ugreen_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
engines_ugreen_ugreen_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
