# Unit tests (Check). Each program links the whole core library and exports
# it, so that the plugins it loads through the real loader find the core API.
if HAVE_CHECK
UNIT_CPPFLAGS = $(libweftcore_a_CPPFLAGS) -I$(top_srcdir)/core \
	-DWEFT_TEST_PLUGINS='"$(abs_top_builddir)/tests/plugins/.libs"'
UNIT_CFLAGS = $(WEFT_CFLAGS) $(CHECK_CFLAGS)
UNIT_LINKFLAGS = -export-dynamic $(WEFT_CORE_LINK)
UNIT_LDADD = $(CHECK_LIBS) $(LIBS)
include tests/unit/units.mk
endif
