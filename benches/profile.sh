#!/usr/bin/env bash
# Instructions per request of one bench-server, counted by valgrind's
# callgrind: the measurement used to find where Albany's engine spends more
# than raw hyper (benches/README.md, "Profiling").
#
#   benches/profile.sh albany-tokio        # 10 s of load under callgrind
#   benches/profile.sh hyper-tokio 5
#
# Starts `bench-server --server NAME --threads 1` under callgrind on
# 127.0.0.1:18181, loads `GET /` with wrk (1 thread, 8 connections) for the
# given seconds, stops the server and prints the server's instructions per
# request (start-up included: run long enough for it not to matter). The
# profile is left in target/callgrind/NAME.out for
# `callgrind_annotate --inclusive=yes target/callgrind/NAME.out`.
#
# BENCH_SERVER=PATH profiles that bench-server binary instead of building
# target/release/bench-server: to compare two commits, build each (e.g. with
# `--profile ci-bench`), copy the binaries aside, and profile each at two
# lengths; the difference between the runs' instructions divided by the
# difference between their requests is the cost per request without start-up.
set -euo pipefail

cd "$(dirname "$0")/.."

server=${1:?usage: benches/profile.sh SERVER [SECONDS]}
seconds=${2:-10}
addr=127.0.0.1:18181

# shellcheck source=benches/lib.sh
source benches/lib.sh
install_missing wrk=wrk valgrind=valgrind

binary=${BENCH_SERVER:-}
if [[ -z "$binary" ]]; then
    cargo build -q --release -p albany-bench --bin bench-server
    binary=target/release/bench-server
fi
mkdir -p target/callgrind
out=target/callgrind/$server.out
log=target/callgrind/$server.log

valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$binary" --server "$server" --threads 1 --addr "$addr" \
    >/dev/null 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

wait_for_server "$addr"

requests=$(wrk -t1 -c8 -d"${seconds}s" "http://$addr/" | awk '/requests in/ {print $1}')
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

instructions=$(awk '/I[ ]+refs:/ {gsub(",", "", $NF); print $NF}' "$log")
echo "$server: $requests requests, $instructions instructions, $((instructions / requests)) per request"
echo "profile: $out"
