#!/usr/bin/env bash
# The entry point of the stress harness (issue 14 §5): builds the driver
# (`albany-stress`) and the servers (`bench-server`), then runs the nine
# bounded, loopback-only scenarios on each server: albany-tokio,
# albany-async-std, albany-smol, and raw hyper-tokio as the reference.
#
#   benches/stress.sh            # full run (about 10 minutes): writes benches/STRESS.md
#   benches/stress.sh --quick    # smaller counts, shorter runs (about 2 minutes after the build)
#   benches/stress.sh --quick --debug --no-build   # CI: the debug build `cargo test` made
#   benches/stress.sh --servers albany-tokio,hyper-tokio --scenarios slowloris,panics
#
# Every argument goes to the driver (`albany-stress --help`). Both modes
# build with the `ci-bench` profile (release without LTO, 16 codegen
# units; the build `benches/run.sh --quick` makes), or with `--debug` the
# debug build (CI, where `cargo test --workspace` has built it): the
# harness checks bounds (crashes, lost responses, RSS, fds, timeouts), not
# speed, and thin LTO does not move them. The exit status is
# non-zero when the build or the harness fails, or when a hard target
# (0 crashes, 0 lost responses, every panic answered 500) fails on an
# Albany server.
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=benches/lib.sh
source benches/lib.sh
# --debug: CI, after `cargo test --workspace`, the debug build.
parse_build_args ci-bench "$@"
if ((build)); then
    # Built here and run directly (not through `cargo run`), as
    # benches/run.sh does, so that the driver finds bench-server next to it.
    cargo build --profile "$profile" -p albany-bench --bin albany-stress --bin bench-server
fi
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/$dir/albany-stress" "${args[@]}"
