#!/usr/bin/env bash
# The entry point of the benchmark harness: installs the load generators if
# they are missing, then builds and runs the driver (release profile).
#
#   benches/run.sh            # full run: 3 rounds, writes benches/RESULTS.md and benches/results.json
#   benches/run.sh --quick    # CI: 1 round of short runs, writes to a temporary directory
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

exec cargo run --release -p albany-bench --bin albany-bench -- "$@"
