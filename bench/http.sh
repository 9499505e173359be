#!/usr/bin/env bash
# Benchmark (not a test) of sister's HTTP servers: REST, JSON-RPC and SOAP, each measured with wrk in the
# same run as the course-style Python server it replaces and as a bare axum handler doing the least
# work possible (examples/http_baseline.rs). Prints requests/s and p99 latency, and the ratios.
#
#   bench/http.sh                 # release build; 3 rounds of 5 s runs, 2 wrk threads, 32 connections
#   ROUNDS=5 DURATION=10 CONNECTIONS=64 bench/http.sh
#   SKIP_BUILD=1 bench/http.sh    # reuse target/release
#
# Goals (issue 5): sister >= 50x the Python servers, >= 0.8x bare axum. Everything runs on 127.0.0.1;
# every server this script starts is stopped when it ends.
#
# The machine is shared and small (wrk and the server under test share its cores), so one run says
# little: each round measures every server once, in turn, and the figures are each server's median over
# the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
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

# measure LABEL URL [LUA]: one wrk run; appends "rps p99_ms errors" to $RUNS/LABEL
RUNS=$(mktemp -d)
measure() {
  local label=$1 url=$2 lua=${3:-}
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency --timeout 5s)
  [ -n "$lua" ] && args+=(-s "$lua")
  local out; out=$(wrk "${args[@]}" "$url")
  local rps p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  # wrk prints 99% as e.g. 812.00us, 11.59ms or 1.50s: normalise to milliseconds.
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
  errors=$(awk '/Socket errors/ {gsub(/^ +/,""); printf "%s", $0} /Non-2xx/ {gsub(/^ +/,""); printf " %s", $0}' <<<"$out")
  echo "$rps $p99 ${errors:-}" >>"$RUNS/$label"
}

LABELS=(
  "sister rest server|http://$HOST:$P_SREST/add?a=10&b=5|"
  "course Flask 3.0 dev server|http://$HOST:$P_FLASK/add?a=10&b=5|"
  "bare axum GET /add|http://$HOST:$P_BASE/add?a=10&b=5|"
  "sister rpc server|http://$HOST:$P_SRPC/|bench/rpc.lua"
  "course BaseHTTPServer + json-rpc|http://$HOST:$P_PYRPC/|bench/rpc.lua"
  "bare axum POST /rpc|http://$HOST:$P_BASE/rpc|bench/rpc.lua"
  "sister soap server|http://$HOST:$P_SSOAP/|bench/soap.lua"
  "course spyne 2.14 (wsgiref)|http://$HOST:$P_SPYNE/|bench/soap.lua"
  "bare axum POST /soap|http://$HOST:$P_BASE/soap|bench/soap.lua"
)

echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, on $HOST ($(nproc) cores, shared)"
for round in $(seq 1 "$ROUNDS"); do
  echo "  round $round of $ROUNDS ..."
  for entry in "${LABELS[@]}"; do
    IFS='|' read -r label url lua <<<"$entry"
    measure "$label" "$url" "$lua"
  done
done

# median COLUMN FILE
median() { awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A RPS
report() {
  local label=$1 f="$RUNS/$1"
  RPS[$label]=$(median 1 "$f")
  local all; all=$(awk '{printf "%s%.0f", (NR>1?" ":""), $1}' "$f")
  local errs; errs=$(cut -d' ' -f3- "$f" | grep -v '^$' | tail -1)
  printf '  %-34s %10.0f req/s  p99 %8.2f ms   (runs: %s) %s\n' "$label" "${RPS[$label]}" "$(median 2 "$f")" "$all" "$errs"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a/b}'; }

echo
echo "Medians over $ROUNDS rounds"
echo "REST  GET /add?a=10&b=5"
report "sister rest server"; report "course Flask 3.0 dev server"; report "bare axum GET /add"
echo "JSON-RPC  POST / add [10, 2]"
report "sister rpc server"; report "course BaseHTTPServer + json-rpc"; report "bare axum POST /rpc"
echo "SOAP  POST / add(10, 5)"
report "sister soap server"; report "course spyne 2.14 (wsgiref)"; report "bare axum POST /soap"

echo
echo "Ratios of medians (goal: >= 50x the Python server, >= 0.8x bare axum)"
printf '  REST      %8s the Flask server   %6s bare axum\n' \
  "$(ratio "${RPS[sister rest server]}" "${RPS[course Flask 3.0 dev server]}")" \
  "$(ratio "${RPS[sister rest server]}" "${RPS[bare axum GET /add]}")"
printf '  JSON-RPC  %8s the Python server  %6s bare axum\n' \
  "$(ratio "${RPS[sister rpc server]}" "${RPS[course BaseHTTPServer + json-rpc]}")" \
  "$(ratio "${RPS[sister rpc server]}" "${RPS[bare axum POST /rpc]}")"
printf '  SOAP      %8s the spyne server   %6s bare axum\n' \
  "$(ratio "${RPS[sister soap server]}" "${RPS[course spyne 2.14 (wsgiref)]}")" \
  "$(ratio "${RPS[sister soap server]}" "${RPS[bare axum POST /soap]}")"
echo "(The course's servers close the connection after each answer, HTTP/1.0 style for BaseHTTPServer and"
echo " wsgiref, so wrk reconnects for every request there; wrk counts those closes as read errors.)"
rm -rf "$RUNS"
