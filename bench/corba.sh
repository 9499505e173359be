#!/usr/bin/env bash
# CORBA benchmark: sayHello calls per second and p50/p99 latency, 1 and 50 clients, against
#   1. sister's server (`sister -q corba server`, its own naming service on the same port),
#   2. omniORB 4.2's C++ server (tests/peers/corba/server.cc, --quiet, omniORB's default thread
#      pool per connection), registered in omniNames,
# in the same run, with the same load generator (`sister bench corba --ior`, one connection per
# client, narrow once, then a closed loop of twoway GIOP 1.2 sayHello calls). Not a test: run it by
# hand on a quiet machine and read the ratio.
#   bench/corba.sh [SECONDS_PER_RUN] [CLIENTS]        defaults: 5 1,50
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
CLIENTS=${2:-1,50}

cargo build --release --quiet --bin sister
SISTER=target/release/sister
PEERS=target/corba-peers
tests/peers/corba/build.sh "$PEERS" >/dev/null
export OMNIORB_CONFIG="$PEERS/empty-omniORB.cfg"
: > "$OMNIORB_CONFIG"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }
pids=()
logs=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$logs"' EXIT

measure() {
  echo "== $1"
  "$SISTER" -q bench corba --ior "$2" --clients "$CLIENTS" --duration "$SECS" | tail -n +2
}

echo "bench/corba.sh: $(nproc) cores, ${SECS}s per run, clients $CLIENTS, $(date -u +%F)"

port=$(free_port)
"$SISTER" -q corba server --bind "127.0.0.1:$port" > "$logs/sister.ior" 2>/dev/null &
pids+=($!); wait_port "$port"; sleep 0.2
measure "sister corba server" "$(head -1 "$logs/sister.ior")"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

naming=$(free_port); port=$(free_port)
omniNames -start "$naming" -logdir "$logs" -ORBendPoint "giop:tcp:127.0.0.1:$naming" >/dev/null 2>&1 &
pids+=($!); wait_port "$naming"
"$PEERS/hello_server" -ORBInitRef "NameService=corbaloc::127.0.0.1:$naming/NameService" \
  -ORBendPoint "giop:tcp:127.0.0.1:$port" --quiet > "$logs/omni.ior" &
pids+=($!); wait_port "$port"; sleep 0.2
measure "omniORB 4.2 C++ server" "$(head -1 "$logs/omni.ior")"
