#!/usr/bin/env bash
# The entry point of the benchmark harness: installs the load generators if
# they are missing, then builds and runs the driver (release profile; the
# `ci-bench` profile with --quick).
#
#   benches/run.sh            # full run: 3 rounds, writes benches/RESULTS.md and benches/results.json
#   benches/run.sh --quick    # 1 round of short runs, writes to a temporary directory
#   benches/run.sh --quick --debug   # CI: the same with the debug build
#   benches/run.sh --servers albany-tokio,hyper-tokio --rounds 5
#
# Every argument goes to the driver (`albany-bench --help`). The exit status
# is non-zero when a tool is missing, the build fails, a server fails to
# start, or a measurement fails.
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=benches/lib.sh
source benches/lib.sh
install_missing wrk=wrk h2load=nghttp2-client taskset=util-linux

# The profile: `release` (codegen-units=1, thin LTO, as the figures in
# RESULTS.md were measured); `--quick` builds with `ci-bench` (release
# without LTO, 16 codegen units), which builds in a fraction of the time: a
# quick run checks that the harness works, its figures are not published.
# `--debug` (CI, after `cargo test --workspace`) uses the debug build
# instead, whose dependencies the test build has already compiled: it
# checks that every row still runs, at debug speed.
parse_build_args release "$@"
proxy=1
# The proxy example is built unless `--servers` leaves its row out.
servers=$(printf '%s\n' "$@" | sed -n '/^--servers$/{n;p}')
if [[ -n "$servers" && "$servers" != *proxy-* ]]; then
    proxy=0
fi
if ((build)); then
    # One build of the driver and the servers, here, so that the driver
    # (run directly below, not through `cargo run`, whose environment would
    # make cargo rebuild) finds them up to date.
    if ((proxy)) && [[ "$profile" != release ]]; then
        # Quick: one cargo command, so that the dependencies are built once
        # with the union of both packages' features.
        cargo build --profile "$profile" -p albany-bench --bins -p albany-examples --example proxy
    else
        cargo build --profile "$profile" -p albany-bench --bins
        if ((proxy)); then
            # Full runs: a command of its own, so that the example is built
            # with its own features, as its README builds it.
            cargo build --profile "$profile" -p albany-examples --example proxy
        fi
    fi
fi
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/$dir/albany-bench" --no-build "${args[@]}"
