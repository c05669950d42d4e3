if BUILD_FIBER
plugin_LTLIBRARIES += engines/fiber/fiber_plugin.la
endif
engines_fiber_fiber_plugin_la_SOURCES = engines/fiber/fiber.c
engines_fiber_fiber_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(RUBY_CFLAGS)
engines_fiber_fiber_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
engines_fiber_fiber_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
engines_fiber_fiber_plugin_la_LIBADD = $(RUBY_LIBS)
