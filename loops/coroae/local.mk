if BUILD_COROAE
plugin_LTLIBRARIES += loops/coroae/coroae_plugin.la
endif
loops_coroae_coroae_plugin_la_SOURCES = loops/coroae/coroae.c
loops_coroae_coroae_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(PERL_CFLAGS)
loops_coroae_coroae_plugin_la_CFLAGS = $(PLUGIN_CFLAGS) -Wno-unused-parameter \
	-Wno-shadow -Wno-nested-externs
loops_coroae_coroae_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
loops_coroae_coroae_plugin_la_LIBADD = $(PERL_LIBS)
