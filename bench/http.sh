#!/usr/bin/env bash
# Benchmark (not a test) of sister's HTTP servers: REST, JSON-RPC and SOAP, each measured with wrk in the
# same run as the course-style Python server it replaces and as a bare axum handler doing the least
# work possible (examples/http_baseline.rs). Prints requests/s and p99 latency, and the ratios.
#
#   bench/http.sh                 # release build, 10 s per run, 2 wrk threads, 32 connections
#   DURATION=5 CONNECTIONS=64 bench/http.sh
#   SKIP_BUILD=1 bench/http.sh    # reuse target/release
#
# Goals (issue 5): sister >= 50x the Python servers, >= 0.8x bare axum. Everything runs on 127.0.0.1;
# every server this script starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
HOST=127.0.0.1

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk (./.ci/run installs it)"; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked --bin sister --example http_baseline
fi
SISTER=target/release/sister
BASELINE=target/release/examples/http_baseline

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; exit 1
}
start() { # start NAME CMD...: runs CMD in the background, logs to /tmp/bench-http-NAME.log
  local name=$1; shift
  "$@" >"/tmp/bench-http-$name.log" 2>&1 &
  pids+=($!)
}

P_SREST=$(free_port); P_SRPC=$(free_port); P_SSOAP=$(free_port); P_BASE=$(free_port)
P_FLASK=$(free_port); P_PYRPC=$(free_port); P_SPYNE=$(free_port)

# sister's servers at -q: a log line per request to a terminal is I/O that a load test should not time.
start sister-rest $SISTER -q rest server --bind $HOST:$P_SREST
start sister-rpc  $SISTER -q rpc server --bind $HOST:$P_SRPC
start sister-soap $SISTER -q soap server --bind $HOST:$P_SSOAP
start baseline    $BASELINE $HOST:$P_BASE
start flask       python3 tests/peers/course/rest_server.py $P_FLASK --quiet
start pyrpc       python3 tests/peers/course/rpc_server.py $P_PYRPC
start spyne       python3 tests/peers/course/soap_server.py $P_SPYNE
for p in $P_SREST $P_SRPC $P_SSOAP $P_BASE $P_FLASK $P_PYRPC $P_SPYNE; do wait_port "$p"; done

# run LABEL URL [LUA]: prints "LABEL req/s p99 errors"
declare -A RPS P99
run() {
  local label=$1 url=$2 lua=${3:-}
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency --timeout 5s)
  [ -n "$lua" ] && args+=(-s "$lua")
  local out; out=$(wrk "${args[@]}" "$url")
  local rps p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' <<<"$out")
  RPS[$label]=$rps; P99[$label]=$p99
  printf '  %-34s %12s req/s   p99 %-9s %s\n' "$label" "$rps" "$p99" "${errors:-}"
}
ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.1f}x')"; }

echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run, on $HOST ($(nproc) cores)"
echo
echo "REST  GET /add?a=10&b=5"
run "sister rest server"               "http://$HOST:$P_SREST/add?a=10&b=5"
run "course Flask 3.0 dev server"      "http://$HOST:$P_FLASK/add?a=10&b=5"
run "bare axum (GET /add)"             "http://$HOST:$P_BASE/add?a=10&b=5"
echo "JSON-RPC  POST / add [10, 2]"
run "sister rpc server"                "http://$HOST:$P_SRPC/" bench/rpc.lua
run "course BaseHTTPServer + json-rpc" "http://$HOST:$P_PYRPC/" bench/rpc.lua
run "bare axum (POST /rpc)"            "http://$HOST:$P_BASE/rpc" bench/rpc.lua
echo "SOAP  POST / add(10, 5)"
run "sister soap server"               "http://$HOST:$P_SSOAP/" bench/soap.lua
run "course spyne 2.14 (wsgiref)"      "http://$HOST:$P_SPYNE/" bench/soap.lua
run "bare axum (POST /soap)"           "http://$HOST:$P_BASE/soap" bench/soap.lua

echo
echo "Ratios (goal: >= 50x the Python server, >= 0.8x bare axum)"
printf '  REST      %8s the Flask server   %6s bare axum\n' \
  "$(ratio "${RPS[sister rest server]}" "${RPS[course Flask 3.0 dev server]}")" \
  "$(ratio "${RPS[sister rest server]}" "${RPS[bare axum (GET /add)]}")"
printf '  JSON-RPC  %8s the Python server  %6s bare axum\n' \
  "$(ratio "${RPS[sister rpc server]}" "${RPS[course BaseHTTPServer + json-rpc]}")" \
  "$(ratio "${RPS[sister rpc server]}" "${RPS[bare axum (POST /rpc)]}")"
printf '  SOAP      %8s the spyne server   %6s bare axum\n' \
  "$(ratio "${RPS[sister soap server]}" "${RPS[course spyne 2.14 (wsgiref)]}")" \
  "$(ratio "${RPS[sister soap server]}" "${RPS[bare axum (POST /soap)]}")"
