# Fuzz targets (see fuzz/README.md). Each target is one file,
# fuzz/fuzz_NAME.c, defining LLVMFuzzerTestOneInput. It is built twice:
# - always, as fuzz/regress_NAME: fuzz/standalone.c's main() replays
#   fuzz/corpus/NAME and fuzz/regress/NAME (crashes found so far); a unit
#   test of make check, under the sanitizers in a sanitizer build;
# - with ./configure CC=clang --enable-fuzzing, as fuzz/fuzz_NAME linked
#   with libFuzzer; fuzz/run.sh runs each for a bounded time.
FUZZ_NAMES = http chunked uwsgi ini options path
FUZZ_CPPFLAGS = $(libweftcore_a_CPPFLAGS) -I$(top_srcdir)/core \
	-I$(top_srcdir)/fuzz -DWEFT_SRCDIR_DEFAULT='"$(abs_top_srcdir)"'
FUZZ_LINK = -export-dynamic $(WEFT_CORE_LINK)
EXTRA_DIST += fuzz/README.md fuzz/run.sh fuzz/corpus fuzz/dict fuzz/regress

FUZZ_REGRESS = fuzz/regress_http fuzz/regress_chunked fuzz/regress_uwsgi \
	fuzz/regress_ini fuzz/regress_options fuzz/regress_path
check_PROGRAMS += $(FUZZ_REGRESS)
TESTS += $(FUZZ_REGRESS)

fuzz_regress_http_SOURCES = fuzz/fuzz_http.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_http_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"http"'
fuzz_regress_http_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_http_LDADD = $(LIBS)
fuzz_regress_http_DEPENDENCIES = libweftcore.a
fuzz_regress_chunked_SOURCES = fuzz/fuzz_chunked.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_chunked_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"chunked"'
fuzz_regress_chunked_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_chunked_LDADD = $(LIBS)
fuzz_regress_chunked_DEPENDENCIES = libweftcore.a
fuzz_regress_uwsgi_SOURCES = fuzz/fuzz_uwsgi.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_uwsgi_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"uwsgi"'
fuzz_regress_uwsgi_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_uwsgi_LDADD = $(LIBS)
fuzz_regress_uwsgi_DEPENDENCIES = libweftcore.a
fuzz_regress_ini_SOURCES = fuzz/fuzz_ini.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_ini_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"ini"'
fuzz_regress_ini_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_ini_LDADD = $(LIBS)
fuzz_regress_ini_DEPENDENCIES = libweftcore.a
fuzz_regress_options_SOURCES = fuzz/fuzz_options.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_options_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"options"'
fuzz_regress_options_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_options_LDADD = $(LIBS)
fuzz_regress_options_DEPENDENCIES = libweftcore.a
fuzz_regress_path_SOURCES = fuzz/fuzz_path.c fuzz/standalone.c fuzz/fuzz.h
fuzz_regress_path_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"path"'
fuzz_regress_path_LDFLAGS = $(FUZZ_LINK)
fuzz_regress_path_LDADD = $(LIBS)
fuzz_regress_path_DEPENDENCIES = libweftcore.a

if FUZZING
noinst_PROGRAMS += fuzz/fuzz_http fuzz/fuzz_chunked fuzz/fuzz_uwsgi \
	fuzz/fuzz_ini fuzz/fuzz_options fuzz/fuzz_path
fuzz_fuzz_http_SOURCES = fuzz/fuzz_http.c fuzz/fuzz.h
fuzz_fuzz_http_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_http_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_http_DEPENDENCIES = libweftcore.a
fuzz_fuzz_chunked_SOURCES = fuzz/fuzz_chunked.c fuzz/fuzz.h
fuzz_fuzz_chunked_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_chunked_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_chunked_DEPENDENCIES = libweftcore.a
fuzz_fuzz_uwsgi_SOURCES = fuzz/fuzz_uwsgi.c fuzz/fuzz.h
fuzz_fuzz_uwsgi_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_uwsgi_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_uwsgi_DEPENDENCIES = libweftcore.a
fuzz_fuzz_ini_SOURCES = fuzz/fuzz_ini.c fuzz/fuzz.h
fuzz_fuzz_ini_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_ini_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_ini_DEPENDENCIES = libweftcore.a
fuzz_fuzz_options_SOURCES = fuzz/fuzz_options.c fuzz/fuzz.h
fuzz_fuzz_options_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_options_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_options_DEPENDENCIES = libweftcore.a
fuzz_fuzz_path_SOURCES = fuzz/fuzz_path.c fuzz/fuzz.h
fuzz_fuzz_path_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_path_LDFLAGS = -fsanitize=fuzzer $(FUZZ_LINK)
fuzz_fuzz_path_DEPENDENCIES = libweftcore.a
endif
