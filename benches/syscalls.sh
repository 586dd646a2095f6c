#!/usr/bin/env bash
# System calls per request of one bench-server, per thread, counted by the
# kernel's tracepoints (`perf stat`): the measurement that shows how a
# binding drives its reactor (benches/README.md, "Syscalls").
#
#   benches/syscalls.sh albany-smol              # pinned, 64 connections, 3 s
#   benches/syscalls.sh hyper-smol unpinned 256 5
#
# Arguments: SERVER [pinned|unpinned] [CONNECTIONS] [SECONDS]. Pinned runs
# the server on CPU 0 with 1 worker thread and wrk on CPU 1; unpinned runs
# both unpinned with 2 threads each, as benches/run.sh does.
#
# Unlike `strace -c -f`, tracepoints do not stop the traced threads, so the
# pattern is the one of an untraced run: under strace, async-io's fallback
# thread took over the reactor and the counts showed syscalls that the
# untraced server never makes. Needs perf (Debian's linux-perf, installed
# if missing) and the right to read tracepoints (root, or
# kernel.perf_event_paranoid at -1).
set -euo pipefail

cd "$(dirname "$0")/.."

server=${1:?usage: benches/syscalls.sh SERVER [pinned|unpinned] [CONNECTIONS] [SECONDS]}
config=${2:-pinned}
connections=${3:-64}
seconds=${4:-3}
addr=127.0.0.1:18282

case "$config" in
pinned)
    server_cmd=(taskset -c 0)
    load_cmd=(taskset -c 1)
    threads=1
    ;;
unpinned)
    server_cmd=()
    load_cmd=()
    threads=2
    ;;
*)
    echo "configuration must be pinned or unpinned, not $config" >&2
    exit 2
    ;;
esac

# shellcheck source=benches/lib.sh
source benches/lib.sh
install_missing wrk=wrk perf=linux-perf

cargo build -q --release -p albany-bench --bin bench-server
mkdir -p target/syscalls
out=target/syscalls/$server-$config-$connections.txt

"${server_cmd[@]}" target/release/bench-server --server "$server" --threads "$threads" \
    --addr "$addr" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

wait_for_server "$addr"

events=(
    syscalls:sys_enter_recvfrom
    syscalls:sys_enter_read
    syscalls:sys_enter_writev
    syscalls:sys_enter_write
    syscalls:sys_enter_epoll_wait
    syscalls:sys_enter_epoll_pwait
    syscalls:sys_enter_epoll_ctl
    syscalls:sys_enter_timerfd_settime
    syscalls:sys_enter_futex
    sched:sched_switch
)
arguments=(-e syscalls:sys_exit_recvfrom --filter 'ret < 0')
for event in "${events[@]}"; do
    arguments+=(-e "$event")
done

perf stat --per-thread -x, -o "$out" "${arguments[@]}" -p "$pid" -- sleep "$seconds" &
perf_pid=$!
requests=$("${load_cmd[@]}" wrk -t"$threads" -c"$connections" -d"${seconds}s" "http://$addr/" |
    awk '/requests in/ {print $1}')
wait "$perf_pid"
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

echo "$server, $config, $connections connections: $requests requests; per request, by thread:"
# perf's CSV: thread,count,unit,event,...; a failed recvfrom is counted by
# the filtered sys_exit_recvfrom event.
awk -F, -v n="$requests" '
    $2 ~ /^[0-9]+$/ && $2 > 0 {
        event = $4
        sub(/^syscalls:sys_enter_/, "", event)
        sub(/^syscalls:sys_exit_recvfrom$/, "recvfrom (failed)", event)
        printf "  %-28s %-22s %7.3f\n", $1, event, $2 / n
    }' "$out"
echo "raw counts: $out"
