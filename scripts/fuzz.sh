#!/usr/bin/env bash
# Reruns a coverage-guided fuzzing session of Albany's fuzz targets
# (fuzz/src, crate albany-fuzz) with libFuzzer, on the stable toolchain.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all, 60 seconds each
#   RUNS=1000000 scripts/fuzz.sh h1_connection  stop after that many executions
#
# Targets: body_ops, validator, h1_connection, h2_connection. Each session
# starts from the committed corpus (fuzz/corpus/TARGET) and writes what it
# finds to target/fuzz/corpus/TARGET (not committed); a crash is written
# to target/fuzz/artifacts/TARGET/ and the script exits non-zero. At the
# end it prints the executions, the exec/s, the peak RSS and the corpus
# size. To fold new inputs into the committed corpus, minimized:
#   MERGE=1 scripts/fuzz.sh TARGET 0
#
# How it builds: libfuzzer-sys (which compiles libFuzzer's C++ with the
# system's c++) and rustc's SanitizerCoverage pass, enabled with the stable
# flags `-Cpasses=sancov-module` and `-Cllvm-args=-sanitizer-coverage-*`
# (what `cargo fuzz build --sanitizer none` passes, without nightly).
# `--target` keeps the flags off build scripts and proc macros.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS=(body_ops validator h1_connection h2_connection)
WHICH=${1:-all}
SECONDS_EACH=${2:-60}
export CARGO_TARGET_DIR="$ROOT/target/fuzz/build"
HOST=$(rustc -vV | sed -n 's/^host: //p')

RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cforce-frame-pointers=yes"
export RUSTFLAGS

cargo build --release --manifest-path fuzz/fuzzers/Cargo.toml --target "$HOST" --bins
BIN="$CARGO_TARGET_DIR/$HOST/release"

if [ "$WHICH" = all ]; then
    set -- "${TARGETS[@]}"
else
    set -- "$WHICH"
fi

status=0
for target in "$@"; do
    committed="$ROOT/fuzz/corpus/$target"
    work="$ROOT/target/fuzz/corpus/$target"
    artifacts="$ROOT/target/fuzz/artifacts/$target"
    log="$ROOT/target/fuzz/$target.log"
    mkdir -p "$committed" "$work" "$artifacts"
    if [ "${MERGE:-0}" = 1 ]; then
        # Minimizes the committed corpus together with the session's: the
        # committed folder keeps a smallest set of inputs with the same
        # coverage features (libFuzzer's -set_cover_merge=1).
        tmp=$(mktemp -d "$ROOT/target/fuzz/merge.XXXXXX")
        "$BIN/$target" -set_cover_merge=1 -rss_limit_mb=2048 "$tmp" "$committed" "$work" 2>&1 | tail -n 3
        rm -rf "$committed" && mv "$tmp" "$committed"
        echo "$target: committed corpus now $(ls "$committed" | wc -l) files"
        continue
    fi
    args=(-rss_limit_mb=2048 -timeout=10 -max_len=16384
          -print_final_stats=1 -artifact_prefix="$artifacts/")
    if [ -n "${RUNS:-}" ]; then
        args+=(-runs="$RUNS")
    else
        args+=(-max_total_time="$SECONDS_EACH")
    fi
    if [ -n "${RUNS:-}" ]; then limit="$RUNS runs"; else limit="$SECONDS_EACH s"; fi
    echo "== $target: $limit, one process (one core), log $log"
    if ! "$BIN/$target" "${args[@]}" "$work" "$committed" >"$log" 2>&1; then
        status=1
        echo "$target: FAILED (see $log and $artifacts)"
        tail -n 30 "$log"
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    echo "$target: ${execs:-?} executions, ${speed:-?} exec/s, peak RSS ${rss:-?} MB," \
        "corpus $(ls "$work" | wc -l) new + $(ls "$committed" | wc -l) committed files"
done
exit $status
