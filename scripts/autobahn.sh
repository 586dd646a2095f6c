#!/usr/bin/env bash
# Autobahn: the Autobahn TestSuite's fuzzing client (its case files, run by
# `kosoku` from PyPI; the Python 2 `autobahntestsuite` does not run here)
# against the `websocket` example (an echo server) on each runtime, over
# HTTP/1.1 on loopback. Cases 12.* and 13.* (permessage-deflate, which
# tungstenite does not implement) are left out. Every other case must come
# out OK, NON-STRICT or INFORMATIONAL: the script fails otherwise, or when
# kosoku fails. Writes the counts per result and runtime, and the cases that
# were not OK, to autobahn/RESULTS.md (no timings: the file changes only
# when a result does), and the full reports to $CARGO_TARGET_DIR/autobahn/.
#
#   scripts/autobahn.sh                      # tokio, async-std and smol
#   scripts/autobahn.sh smol                 # one runtime
#
# Bounded: each kosoku run is given 300 s, each server's stop 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."

runtimes=("$@")
if ((${#runtimes[@]} == 0)); then
    runtimes=(tokio async-std smol)
fi
target_dir=${CARGO_TARGET_DIR:-target}
reports="$target_dir/autobahn"
started=$(date +%s)

if ! python3 -c 'import kosoku' >/dev/null 2>&1; then
    echo "installing kosoku (pip)" >&2
    # Debian's own python3 refuses pip outside a virtual environment
    # (PEP 668): then into the user's site-packages.
    python3 -m pip install --quiet kosoku ||
        python3 -m pip install --quiet --user --break-system-packages kosoku
fi
# Its console script, through the interpreter that has it (a fresh pyenv
# install has no shim until `pyenv rehash`).
kosoku=(python3 -c 'import sys; from kosoku._cli import main; sys.argv[0] = "kosoku"; sys.exit(main())')

cargo build -q -p albany-examples --example websocket
server_bin="$target_dir/debug/examples/websocket"

rm -rf "$reports"
mkdir -p "$reports"
server_pid=
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

failed=0
for runtime in "${runtimes[@]}"; do
    log="$reports/$runtime-server.log"
    RUST_LOG=info "$server_bin" --runtime "$runtime" --addr 127.0.0.1:0 2>"$log" &
    server_pid=$!
    addr=
    for _ in $(seq 300); do
        addr=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)
        [[ -n "$addr" ]] && break
        sleep 0.1
    done
    if [[ -z "$addr" ]]; then
        echo "autobahn: the $runtime server did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "== autobahn on $runtime (ws://$addr)"
    run_started=$(date +%s)
    if ! timeout 300 "${kosoku[@]}" -m fuzzingclient "ws://$addr" -x '12.*' -x '13.*' \
        -o "$reports/$runtime" >"$reports/$runtime-kosoku.log" 2>&1; then
        echo "autobahn: kosoku failed on $runtime (see $reports/$runtime-kosoku.log):" >&2
        tail -20 "$reports/$runtime-kosoku.log" >&2
        failed=1
    fi
    echo "   $(tail -1 "$reports/$runtime-kosoku.log") in $(($(date +%s) - run_started)) s"
    stop_server
done

python3 - "$reports" "${runtimes[@]}" <<'PY' || failed=1
import collections, json, pathlib, sys

reports = pathlib.Path(sys.argv[1])
runtimes = sys.argv[2:]
accepted = {"OK", "NON-STRICT", "INFORMATIONAL"}
results = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN", "FAILED"]
counts, notable, bad = {}, collections.defaultdict(dict), []

def key(case):
    return [int(part) for part in case.split(".")]

for runtime in runtimes:
    index = json.loads((reports / runtime / "index.json").read_text())
    (cases,) = index.values()
    counter = collections.Counter()
    for case, result in cases.items():
        behavior, close = result["behavior"], result["behaviorClose"]
        counter[behavior] += 1
        if behavior != "OK" or close not in ("OK", "INFORMATIONAL"):
            notable[case][runtime] = f"{behavior} (close: {close})"
        if behavior not in accepted or close not in accepted:
            bad.append(f"{runtime} {case}: {behavior} (close: {close})")
    counts[runtime] = (len(cases), counter)

lines = [
    "# Autobahn TestSuite results",
    "",
    "The Autobahn fuzzing client's cases (run by `kosoku`, a runner of the",
    "Autobahn case files) against `examples/websocket.rs`, an echo server on",
    "`albany-websocket` (async-tungstenite), over HTTP/1.1 on loopback, on each",
    "runtime. Cases 12.* and 13.* (permessage-deflate, RFC 7692) are excluded:",
    "tungstenite does not implement the extension. Written by",
    "`scripts/autobahn.sh`; every case must be OK, NON-STRICT or INFORMATIONAL,",
    "as in async-tungstenite's own published baseline.",
    "",
    "| runtime | cases | " + " | ".join(results) + " |",
    "| --- | --- | " + " | ".join("---" for _ in results) + " |",
]
for runtime in runtimes:
    total, counter = counts[runtime]
    lines.append(f"| {runtime} | {total} | " + " | ".join(str(counter.get(r, 0)) for r in results) + " |")
lines += ["", "Cases whose result is not OK:", "", "| case | " + " | ".join(runtimes) + " |",
          "| --- | " + " | ".join("---" for _ in runtimes) + " |"]
for case in sorted(notable, key=key):
    lines.append(f"| {case} | " + " | ".join(notable[case].get(r, "OK") for r in runtimes) + " |")
pathlib.Path("autobahn/RESULTS.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines[10:10 + 2 + len(runtimes)]))
if bad:
    print("autobahn: cases outside OK, NON-STRICT and INFORMATIONAL:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY

echo "autobahn: $(($(date +%s) - started)) s in all; results in autobahn/RESULTS.md"
if ((failed)); then
    exit 1
fi
