#!/bin/sh
# Run every libFuzzer target for a bounded time and report its executions.
#
#   fuzz/run.sh [BUILDDIR] [SECONDS]     (defaults: ., $FUZZ_SECONDS or 30)
#
# BUILDDIR was configured with ./configure CC=clang --enable-fuzzing and
# built. Each target starts from fuzz/corpus/NAME and fuzz/regress/NAME
# (read only: new inputs go to a scratch directory) with fuzz/dict/NAME.dict,
# under ASan+UBSan. A crash, leak, timeout or broken invariant fails the
# run and leaves the input in $FUZZ_OUT/crash-NAME-*: copy it into
# fuzz/regress/NAME/ (make check replays it) and fix the bug.
set -u
build=${1:-.}
secs=${2:-${FUZZ_SECONDS:-30}}
src=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$(mktemp -d /tmp/weft-fuzz.XXXXXX)}
mkdir -p "$out"
status=0
total=0
for name in http chunked uwsgi ini options path; do
    bin="$build/fuzz/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin not built; configure with CC=clang --enable-fuzzing"
        exit 1
    fi
    mkdir -p "$out/corpus-$name"
    log="$out/$name.log"
    # -close_fd_mask=1: the targets print nothing useful on stdout
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 \
        -dict="$src/fuzz/dict/$name.dict" \
        -artifact_prefix="$out/crash-$name-" \
        "$out/corpus-$name" "$src/fuzz/corpus/$name" \
        $(test -d "$src/fuzz/regress/$name" && echo "$src/fuzz/regress/$name") \
        >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    total=$((total + ${runs:-0}))
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz: $name FAILED after ${runs:-?} executions ($cov); log:"
        grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' \
            "$log" | head -20
        ls "$out"/crash-"$name"-* 2>/dev/null
    else
        echo "fuzz: $name: ${runs:-?} executions in ${secs}s ($cov)"
    fi
done
echo "fuzz: $total executions in all; logs in $out"
exit $status
