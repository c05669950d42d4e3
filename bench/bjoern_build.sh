#!/bin/sh
# Build bjoern (https://github.com/jonashaag/bjoern, 3.2.2) as a benchmark
# peer only: never a dependency of weft, and nothing here downloads it.
#
#   bench/bjoern_build.sh BJOERN_SRC HTTP_PARSER_SRC DEST
#
# BJOERN_SRC: a checkout of bjoern (its http-parser submodule may be
# empty); HTTP_PARSER_SRC: a checkout of nodejs/http-parser at the commit
# bjoern's submodule names (1786fdae for 3.2.2); DEST: where the build
# goes. Needs Debian's libev-dev and python3-dev; builds for
# /usr/bin/python3 (the interpreter weft embeds). Then:
#
#   BJOERN_PYTHONPATH=DEST make bench
set -eu
src=$1 hp=$2 dest=$3
mkdir -p "$dest"
cp -R "$src"/. "$dest"/
rm -rf "$dest/http-parser"
mkdir -p "$dest/http-parser"
cp "$hp/http_parser.c" "$hp/http_parser.h" "$dest/http-parser/"
cd "$dest"
/usr/bin/python3 setup.py build_ext --inplace
/usr/bin/python3 -c "import sys; sys.path.insert(0, '.'); import bjoern; print('bjoern built in', sys.path[0])"
