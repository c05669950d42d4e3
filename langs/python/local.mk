if BUILD_PYTHON
plugin_LTLIBRARIES += langs/python/python_plugin.la
endif
langs_python_python_plugin_la_SOURCES = \
	langs/python/pyweft.h \
	langs/python/python.c \
	langs/python/py_tstate.c \
	langs/python/py_wsgi.c \
	langs/python/py_input.c \
	langs/python/py_module.c \
	shared/py_errors.c shared/py_errors.h
langs_python_python_plugin_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) \
	-I$(top_srcdir)/shared $(PYTHON_CFLAGS)
langs_python_python_plugin_la_CFLAGS = $(PLUGIN_CFLAGS)
langs_python_python_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS)
langs_python_python_plugin_la_LIBADD = $(PYTHON_LIBS)
