if BUILD_RACK
plugin_LTLIBRARIES += langs/rack/rack_plugin.la
endif
langs_rack_rack_plugin_la_SOURCES = \
	langs/rack/rackweft.h \
	langs/rack/rack.c \
	langs/rack/rk_io.c \
	langs/rack/rk_module.c
langs_rack_rack_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(RUBY_CFLAGS)
langs_rack_rack_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
langs_rack_rack_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
langs_rack_rack_plugin_la_LIBADD = $(RUBY_LIBS)
