# weft_plugin.m4: which plugins to build.
#
#   --enable-engines=LIST   engines and loops: ugreen greenlet fiber epoll libevent gevent coroae
#   --enable-langs=LIST     languages: python rack psgi cgi
#
# Without a LIST every plugin whose dependencies are found is built and the
# others are listed as skipped, with the reason. A plugin named in a LIST
# whose dependencies are missing is an error that says what to install.
# Each plugin gets AM_CONDITIONAL([BUILD_<NAME>]).

AC_DEFUN([WEFT_PLUGINS_INIT], [
  AC_ARG_ENABLE([engines],
    [AS_HELP_STRING([--enable-engines=LIST],
      [comma-separated engines to build: ugreen,greenlet,fiber,epoll,libevent,gevent,coroae
       (default: every one whose dependencies are found)])],
    [weft_engines_asked="$enableval"], [weft_engines_asked=auto])
  AC_ARG_ENABLE([langs],
    [AS_HELP_STRING([--enable-langs=LIST],
      [comma-separated language plugins to build: python,rack,psgi,cgi
       (default: every one whose dependencies are found)])],
    [weft_langs_asked="$enableval"], [weft_langs_asked=auto])
  weft_enabled_plugins=""
  weft_skipped_plugins=""
  for weft_p in `echo "$weft_engines_asked" | tr ',' ' '`; do
    case "$weft_p" in
      auto|yes|ugreen|greenlet|fiber|epoll|libevent|gevent|coroae) ;;
      no) weft_engines_asked="" ;;
      *) AC_MSG_ERROR([--enable-engines: unknown engine '$weft_p'; known: ugreen, greenlet, fiber, epoll, libevent, gevent, coroae]) ;;
    esac
  done
  for weft_p in `echo "$weft_langs_asked" | tr ',' ' '`; do
    case "$weft_p" in
      auto|yes|python|rack|psgi|cgi) ;;
      no) weft_langs_asked="" ;;
      *) AC_MSG_ERROR([--enable-langs: unknown language '$weft_p'; known: python, rack, psgi, cgi]) ;;
    esac
  done
])

# WEFT_PLUGIN_WANTED(NAME, engines|langs): sets weft_want to auto, yes or no.
AC_DEFUN([WEFT_PLUGIN_WANTED], [
  AS_IF([test "x$2" = xengines], [weft_list="$weft_engines_asked"], [weft_list="$weft_langs_asked"])
  AS_CASE([",$weft_list,"],
    [*,auto,*|*,yes,*], [weft_want=auto],
    [*,$1,*], [weft_want=yes],
    [weft_want=no])
])

# WEFT_PLUGIN(NAME, engines|langs, CHECKS): CHECKS set weft_ok=yes|no and
# weft_why (what to install) when no.
AC_DEFUN([WEFT_PLUGIN], [
  WEFT_PLUGIN_WANTED([$1], [$2])
  weft_ok=no
  weft_why="not asked for"
  AS_IF([test "x$weft_want" != xno], [
    weft_ok=yes
    weft_why=""
    $3
  ])
  AS_IF([test "x$weft_want" = xyes && test "x$weft_ok" != xyes],
    [AC_MSG_ERROR([plugin $1 was asked for but cannot be built: $weft_why])])
  AS_IF([test "x$weft_ok" = xyes],
    [weft_enabled_plugins="$weft_enabled_plugins $1"],
    [AS_IF([test "x$weft_want" = xauto],
      [weft_skipped_plugins="$weft_skipped_plugins $1 ($weft_why);"])])
  AM_CONDITIONAL(m4_toupper([BUILD_$1]), [test "x$weft_ok" = xyes])
])

AC_DEFUN([WEFT_PYTHON_CHECK], [
  AS_IF([test -z "$weft_python_checked"], [
    weft_python_checked=1
    have_python=no
    AC_MSG_CHECKING([the CPython to embed ($WEFT_PYTHON)])
    AS_IF([test -x "$WEFT_PYTHON"], [
      PYTHON_VERSION_FOUND=`"$WEFT_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[[:2]])' 2>/dev/null`
      weft_py_pc=`"$WEFT_PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("LIBPC") or "")' 2>/dev/null`
      AC_MSG_RESULT([$PYTHON_VERSION_FOUND])
      weft_save_pcp="$PKG_CONFIG_PATH"
      PKG_CONFIG_PATH="$weft_py_pc${weft_save_pcp:+:$weft_save_pcp}"
      export PKG_CONFIG_PATH
      PKG_CHECK_MODULES([PYTHON], [python-$PYTHON_VERSION_FOUND-embed], [have_python=yes],
        [have_python=no])
      PKG_CONFIG_PATH="$weft_save_pcp"
      PYTHON_SITE=`"$WEFT_PYTHON" -c 'import sysconfig; print(sysconfig.get_path("include"))' 2>/dev/null`
    ], [AC_MSG_RESULT([not found])])
    AC_SUBST([PYTHON_VERSION_FOUND])
  ])
])

AC_DEFUN([WEFT_RUBY_CHECK], [
  AS_IF([test -z "$weft_ruby_checked"], [
    weft_ruby_checked=1
    PKG_CHECK_MODULES([RUBY], [ruby >= 2.7], [have_ruby=yes], [
      PKG_CHECK_MODULES([RUBY], [ruby-3.1], [have_ruby=yes], [have_ruby=no])])
  ])
])

# Perl to embed: libperl-dev's headers and libperl.so, through
# ExtUtils::Embed (what `perl -MExtUtils::Embed -e ccopts` prints).
AC_DEFUN([WEFT_PERL_CHECK], [
  AS_IF([test -z "$weft_perl_checked"], [
    weft_perl_checked=1
    have_perl=no
    AC_PATH_PROG([PERL], [perl])
    AS_IF([test -n "$PERL"], [
      PERL_CFLAGS=`"$PERL" -MExtUtils::Embed -e ccopts 2>/dev/null`
      PERL_LIBS=`"$PERL" -MExtUtils::Embed -e ldopts 2>/dev/null`
      weft_save_cflags="$CFLAGS"; weft_save_libs="$LIBS"
      CFLAGS="$CFLAGS $PERL_CFLAGS"; LIBS="$PERL_LIBS $LIBS"
      AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <EXTERN.h>
#include <perl.h>]], [[PerlInterpreter *p = perl_alloc(); perl_free(p);]])],
        [have_perl=yes])
      CFLAGS="$weft_save_cflags"; LIBS="$weft_save_libs"
      PERL_VERSION_FOUND=`"$PERL" -e 'printf "%vd", $^V' 2>/dev/null`
    ])
    AC_MSG_CHECKING([for libperl to embed])
    AC_MSG_RESULT([$have_perl $PERL_VERSION_FOUND])
    AC_SUBST([PERL_CFLAGS])
    AC_SUBST([PERL_LIBS])
  ])
])

AC_DEFUN([WEFT_PLUGIN_CHECK_ALL], [
  WEFT_PLUGIN([epoll], [engines], [
    AS_IF([test "x$ac_cv_header_sys_epoll_h" != xyes],
      [weft_ok=no; weft_why="sys/epoll.h not found (Linux only)"])])

  WEFT_PLUGIN([libevent], [engines], [
    PKG_CHECK_MODULES([LIBEVENT], [libevent >= 2.1], [],
      [weft_ok=no; weft_why="libevent 2.1 not found; apt-get install libevent-dev"])])

  WEFT_PLUGIN([ugreen], [engines], [
    AS_CASE([$host_cpu],
      [x86_64|aarch64], [],
      [AS_IF([test "x$ac_cv_header_ucontext_h" != xyes],
        [weft_ok=no; weft_why="no ucontext.h and no native context switch for $host_cpu"])])])

  WEFT_PLUGIN([python], [langs], [
    WEFT_PYTHON_CHECK
    AS_IF([test "x$have_python" != xyes],
      [weft_ok=no; weft_why="python-X.Y-embed not found for $WEFT_PYTHON; apt-get install libpython3-dev, or pass --with-python=PATH"])])

  WEFT_PLUGIN([greenlet], [engines], [
    WEFT_PYTHON_CHECK
    AS_IF([test "x$have_python" != xyes],
      [weft_ok=no; weft_why="needs the python plugin's CPython"],
      [weft_save_cppflags="$CPPFLAGS"
       CPPFLAGS="$CPPFLAGS $PYTHON_CFLAGS"
       AC_CHECK_HEADER([greenlet/greenlet.h], [],
         [weft_ok=no; weft_why="greenlet/greenlet.h not found; apt-get install python-greenlet-dev python3-greenlet"],
         [#include <Python.h>])
       CPPFLAGS="$weft_save_cppflags"])])

  WEFT_PLUGIN([gevent], [engines], [
    WEFT_PYTHON_CHECK
    AS_IF([test "x$have_python" != xyes],
      [weft_ok=no; weft_why="needs the python plugin's CPython"],
      [weft_save_cppflags="$CPPFLAGS"
       CPPFLAGS="$CPPFLAGS $PYTHON_CFLAGS"
       AC_CHECK_HEADER([greenlet/greenlet.h], [],
         [weft_ok=no; weft_why="greenlet/greenlet.h not found (gevent waits through greenlet's C API); apt-get install python-greenlet-dev python3-greenlet"],
         [#include <Python.h>])
       CPPFLAGS="$weft_save_cppflags"])])

  WEFT_PLUGIN([rack], [langs], [
    WEFT_RUBY_CHECK
    AS_IF([test "x$have_ruby" != xyes],
      [weft_ok=no; weft_why="Ruby's pkg-config file not found; apt-get install ruby-dev"])])

  WEFT_PLUGIN([cgi], [langs], [
    AC_CHECK_FUNC([posix_spawn], [],
      [weft_ok=no; weft_why="posix_spawn() not found in libc"])])

  WEFT_PLUGIN([fiber], [engines], [
    WEFT_RUBY_CHECK
    AS_IF([test "x$have_ruby" != xyes],
      [weft_ok=no; weft_why="Ruby's pkg-config file not found; apt-get install ruby-dev"])])

  WEFT_PLUGIN([psgi], [langs], [
    WEFT_PERL_CHECK
    AS_IF([test "x$have_perl" != xyes],
      [weft_ok=no; weft_why="libperl and perl.h not found; apt-get install libperl-dev"])])

  WEFT_PLUGIN([coroae], [engines], [
    WEFT_PERL_CHECK
    AS_IF([test "x$have_perl" != xyes],
      [weft_ok=no; weft_why="needs the psgi plugin's Perl; apt-get install libperl-dev"],
      [AS_IF(["$PERL" -MCoro -MAnyEvent -e 1 >/dev/null 2>&1], [],
        [weft_ok=no; weft_why="the Perl modules Coro and AnyEvent not found; apt-get install libcoro-perl libanyevent-perl libev-perl"])])])
])

AC_DEFUN([WEFT_PLUGINS_REPORT], [
  AC_SUBST([weft_enabled_plugins])
])
