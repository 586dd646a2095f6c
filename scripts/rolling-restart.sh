#!/usr/bin/env bash
# A fleet on one machine: three Albany instances (the `hello` example on
# tokio, async-std and smol) behind one nginx upstream, under steady load
# from wrk; each instance is restarted in turn (SIGTERM, graceful shutdown,
# start again) while the load runs. Prints the requests wrk completed and
# the failed ones (non-2xx responses and socket errors). Loopback only;
# bounded: one wrk run of SECONDS (default 30), each stop bounded by 40 s.
#
#   scripts/rolling-restart.sh        # 30 s of load, 3 restarts
#   scripts/rolling-restart.sh 60
#
# nginx retries a request on another instance when the connection to one
# fails before a response (`proxy_next_upstream error timeout`, the
# default, for idempotent methods); that, and Albany's graceful shutdown
# (the listener closes first, requests in flight finish, idle keep-alive
# connections close), is what the count measures. See docs/DEPLOYMENT.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
# shellcheck source=benches/lib.sh
source benches/lib.sh
install_missing wrk=wrk curl=curl nginx=nginx-light
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build -q --release -p albany-examples --example hello
hello=target/release/examples/hello

work=$(mktemp -d)
pids=()
nginx_pid=
cleanup() {
    for pid in "${pids[@]}" $nginx_pid; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

runtimes=(tokio async-std smol)
ports=()
for i in 0 1 2; do ports+=("$(free_port)"); done
front=$(free_port)

start_instance() {
    local i=$1
    TOKIO_WORKER_THREADS=1 ASYNC_STD_THREAD_COUNT=1 SMOL_THREADS=1 RUST_LOG=warn \
        "$hello" --runtime "${runtimes[$i]}" --addr "127.0.0.1:${ports[$i]}" \
        >>"$work/instance-$i.log" 2>&1 &
    pids[i]=$!
    wait_for_server "127.0.0.1:${ports[$i]}"
}

for i in 0 1 2; do start_instance "$i"; done

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    upstream albany {
        server 127.0.0.1:${ports[0]};
        server 127.0.0.1:${ports[1]};
        server 127.0.0.1:${ports[2]};
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$front;
        location / {
            proxy_pass http://albany;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
wait_for_server "127.0.0.1:$front"

wrk -t2 -c32 -d"${seconds}s" --timeout 10s "http://127.0.0.1:$front/" >"$work/wrk.txt" &
wrk_pid=$!

# The restarts, spread over the middle of the run.
gap=$((seconds / 4))
restarts=0
for i in 0 1 2; do
    sleep "$gap"
    kill -TERM "${pids[$i]}"
    for _ in $(seq 400); do
        kill -0 "${pids[$i]}" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "instance $i (${runtimes[$i]}) did not stop within 40 s" >&2
        exit 1
    fi
    wait "${pids[$i]}" || true
    start_instance "$i"
    restarts=$((restarts + 1))
done
wait "$wrk_pid"

requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/wrk.txt")
socket_errors=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.txt")
non2xx=${non2xx:-0}
socket_errors=${socket_errors:-0}
failed=$((non2xx + socket_errors))
cat "$work/wrk.txt"
echo "rolling restart: ${restarts} restarts (${runtimes[*]}), ${requests} requests in ${seconds} s, ${failed} failed (${non2xx} non-2xx, ${socket_errors} socket errors)"
if ((failed > 0)); then
    exit 1
fi
