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
set -euo pipefail

cd "$(dirname "$0")/.."

server=${1:?usage: benches/profile.sh SERVER [SECONDS]}
seconds=${2:-10}
addr=127.0.0.1:18181

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if ((${#missing[@]} > 0)); then
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build -q --release -p albany-bench --bin bench-server
mkdir -p target/callgrind
out=target/callgrind/$server.out
log=target/callgrind/$server.log

valgrind --tool=callgrind --callgrind-out-file="$out" \
    target/release/bench-server --server "$server" --threads 1 --addr "$addr" \
    >/dev/null 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

# Wait (at most 30 s) for the server to answer.
for _ in $(seq 100); do
    if curl -fs -o /dev/null "http://$addr/"; then
        break
    fi
    sleep 0.3
done
curl -fs -o /dev/null "http://$addr/"

requests=$(wrk -t1 -c8 -d"${seconds}s" "http://$addr/" | awk '/requests in/ {print $1}')
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

instructions=$(awk '/I[ ]+refs:/ {gsub(",", "", $NF); print $NF}' "$log")
echo "$server: $requests requests, $instructions instructions, $((instructions / requests)) per request"
echo "profile: $out"
