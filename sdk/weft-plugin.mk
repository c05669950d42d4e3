# weft-plugin.mk: build a weft plugin out of weft's tree, against the
# installed headers. In your Makefile:
#
#     PLUGIN  = echo              # builds echo_plugin.so, exporting wf_plugin_echo
#     SOURCES = echo.c
#     include $(shell pkg-config --variable=plugin_mk weft)
#
# Targets: all (the .so), install (into the plugin directory weft searches,
# or $(DESTDIR)$(WEFT_PLUGINDIR)), clean. The same thing by hand:
#
#     cc -O2 -fPIC -fvisibility=hidden $(pkg-config --cflags weft) \
#        -shared -o echo_plugin.so echo.c
#
# A plugin links against no weft library: the weft binary exports the core
# API (include/weft/core.h) and resolves the plugin's calls when it loads
# it. Link the libraries your plugin itself uses with LIBS.

PKG_CONFIG ?= pkg-config
# make 4.3 does not export variables to $(shell): pass PKG_CONFIG_PATH on
WEFT_PKG_ENV = $(if $(PKG_CONFIG_PATH),PKG_CONFIG_PATH='$(PKG_CONFIG_PATH)')
WEFT_CFLAGS := $(shell $(WEFT_PKG_ENV) $(PKG_CONFIG) --cflags weft)
WEFT_PLUGINDIR := $(shell $(WEFT_PKG_ENV) $(PKG_CONFIG) --variable=plugindir weft)
ifeq ($(strip $(WEFT_PLUGINDIR)),)
$(error pkg-config finds no weft.pc: install weft-dev, or set PKG_CONFIG_PATH)
endif
ifeq ($(strip $(PLUGIN)),)
$(error set PLUGIN = name before including weft-plugin.mk)
endif

CFLAGS ?= -O2 -g -Wall -Wextra
WEFT_PLUGIN_SO = $(PLUGIN)_plugin.so

all: $(WEFT_PLUGIN_SO)

$(WEFT_PLUGIN_SO): $(SOURCES)
	$(CC) $(CPPFLAGS) $(WEFT_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden \
	  -shared -o $@ $(SOURCES) $(LDFLAGS) $(LIBS)

install: $(WEFT_PLUGIN_SO)
	install -d $(DESTDIR)$(WEFT_PLUGINDIR)
	install -m 0644 $(WEFT_PLUGIN_SO) $(DESTDIR)$(WEFT_PLUGINDIR)/

clean:
	rm -f $(WEFT_PLUGIN_SO)

.PHONY: all install clean
