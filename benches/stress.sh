#!/usr/bin/env bash
# The entry point of the stress harness (issue 14 §5): builds the driver
# (`albany-stress`) and the servers (`bench-server`), then runs the nine
# bounded, loopback-only scenarios on each server: albany-tokio,
# albany-async-std, albany-smol, and raw hyper-tokio as the reference.
#
#   benches/stress.sh            # full run (about 10 minutes): writes benches/STRESS.md
#   benches/stress.sh --quick    # CI: smaller counts, shorter runs (about 2 minutes after the build)
#   benches/stress.sh --servers albany-tokio,hyper-tokio --scenarios slowloris,panics
#
# Every argument goes to the driver (`albany-stress --help`). Both modes
# build with the `ci-bench` profile (release without LTO, 16 codegen
# units; the build `benches/run.sh --quick` makes, so CI builds once): the
# harness checks bounds (crashes, lost responses, RSS, fds, timeouts), not
# speed, and thin LTO does not move them. The exit status is
# non-zero when the build or the harness fails, or when a hard target
# (0 crashes, 0 lost responses, every panic answered 500) fails on an
# Albany server.
set -euo pipefail

cd "$(dirname "$0")/.."

profile=ci-bench
build=1
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    esac
done
if ((build)); then
    # Built here and run directly (not through `cargo run`), as
    # benches/run.sh does, so that the driver finds bench-server next to it.
    cargo build --profile "$profile" -p albany-bench --bin albany-stress --bin bench-server
fi
# 10,000 connections: the driver raises its own RLIMIT_NOFILE to the hard
# limit, and so does bench-server.
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/$profile/albany-stress" "$@"
