if BUILD_EPOLL
plugin_LTLIBRARIES += engines/epoll/epoll_plugin.la
endif
engines_epoll_epoll_plugin_la_SOURCES = engines/epoll/epoll.c
engines_epoll_epoll_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
engines_epoll_epoll_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
engines_epoll_epoll_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
