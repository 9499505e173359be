#!/usr/bin/env bash
# Ice benchmark: printString calls per second and p50/p99 latency, 1 and 50 clients, against
#   1. sister's server (`sister ice server --no-print`),
#   2. the course's Python server (tests/peers/course/ice_server.py, ZeroC Ice 3.7 for Python; its
#      `Object1 says:` lines go to /dev/null),
#   3. ZeroC's C++ server (bench/ice/server.cpp, Ice 3.7 C++11 mapping, --quiet, default thread pool),
# in the same run, with the same load generator (`sister bench ice`, one connection per client, closed
# loop). Not a test: run it by hand on a quiet machine and read the ratios.
#   bench/ice.sh [SECONDS_PER_RUN] [CLIENTS]        defaults: 5 1,50
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
CLIENTS=${2:-1,50}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cargo build --release --quiet --bin sister
SISTER=target/release/sister
[ -x bench/ice/target/server ] || bench/ice/build.sh

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

run() {
  local name=$1; shift
  local port; port=$(free_port)
  "$@" "$port" >/dev/null 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_port "$port"
  echo "== $name"
  "$SISTER" -q bench ice --server "127.0.0.1:$port" --clients "$CLIENTS" --duration "$SECS" | tail -n +2
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}

sister_server() { "$SISTER" -q ice server --no-print --bind "127.0.0.1:$1"; }
python_server() { "$PY" tests/peers/course/ice_server.py 127.0.0.1 "$1"; }
cpp_server() { bench/ice/target/server "tcp -h 127.0.0.1 -p $1" --quiet; }

echo "bench/ice.sh: $(nproc) cores, ${SECS}s per run, clients $CLIENTS, $(date -u +%F)"
run "sister ice server" sister_server
run "ZeroC Ice 3.7 C++ server" cpp_server
run "course's ice_server.py (ZeroC Ice 3.7 Python)" python_server
