#!/usr/bin/env bash
# Benchmark (not a test) of sister's HTTP servers: REST, JSON-RPC and SOAP, each measured with wrk in the
# same run as the course-style Python server it replaces and as a bare axum handler doing the least
# work possible (examples/http_baseline.rs). For JSON-RPC also a floor: the least any HTTP/1.1
# keep-alive server on tokio can do (examples/http_floor.rs, a fixed answer, no parsing), which shows
# what this machine allows at all. Prints requests/s, p99 latency, the server's CPU time per request
# (user + system, from /proc/PID/stat, so the cost of a request in the server whatever wrk managed), and
# the ratios.
#
#   bench/http.sh                 # release build; 3 rounds of 5 s runs, 2 wrk threads, 32 connections
#   ROUNDS=5 DURATION=10 CONNECTIONS=64 bench/http.sh
#   PIN=1 bench/http.sh           # every server on core 0, wrk on core 1 (taskset), as bench/mqtt.sh
#   SKIP_BUILD=1 bench/http.sh    # reuse target/release
#
# Goals (issue 5): sister >= 50x the Python servers, >= 0.8x bare axum. Everything runs on 127.0.0.1;
# every server this script starts is stopped when it ends.
#
# The machine is shared and small (wrk and the server under test share its cores), so one run says
# little: each round measures every server once, in turn, and the figures are each server's median over
# the rounds.
#
# Not pinned by default: pinned, wrk's single core is the limit for every fast server (the floor, bare
# axum and sister all land near the same figure), so requests/s then measures wrk, not the servers. Not
# pinned, each server may use what wrk leaves of both cores; the Python servers are single-threaded either
# way. The CPU time per request is the figure that does not depend on this choice.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
HOST=127.0.0.1

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk (./.ci/run installs it)"; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked --bin sister --example http_baseline --example http_floor
fi
SISTER=target/release/sister
BASELINE=target/release/examples/http_baseline
FLOOR=target/release/examples/http_floor
SERVER_CPU=()
WRK=(wrk)
if [ -n "${PIN:-}" ] && [ "${PIN}" != 0 ]; then
  command -v taskset >/dev/null || { echo "taskset is missing (util-linux)"; exit 1; }
  SERVER_CPU=(taskset -c 0)
  WRK=(taskset -c 1 wrk)
fi

pids=()
declare -A PID
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
start() { # start NAME CMD...: runs CMD in the background (pinned with PIN=1), logs to /tmp/bench-http-NAME.log
  local name=$1; shift
  "${SERVER_CPU[@]}" "$@" >"/tmp/bench-http-$name.log" 2>&1 &
  pids+=($!)
  PID[$name]=$!
}
# cpu_ticks NAME: user + system clock ticks the server NAME has used so far (fields 14 and 15).
cpu_ticks() { awk '{print $14 + $15}' "/proc/${PID[$1]}/stat"; }
TICK=$(getconf CLK_TCK)

P_SREST=$(free_port); P_SRPC=$(free_port); P_SSOAP=$(free_port); P_BASE=$(free_port)
P_FLASK=$(free_port); P_PYRPC=$(free_port); P_SPYNE=$(free_port); P_FLOOR=$(free_port)

# sister's servers at -q: a log line per request to a terminal is I/O that a load test should not time.
start sister-rest $SISTER -q rest server --bind $HOST:$P_SREST
start sister-rpc  $SISTER -q rpc server --bind $HOST:$P_SRPC
start sister-soap $SISTER -q soap server --bind $HOST:$P_SSOAP
start baseline    $BASELINE $HOST:$P_BASE
start floor       $FLOOR $HOST:$P_FLOOR
start flask       python3 tests/peers/course/rest_server.py $P_FLASK --quiet
start pyrpc       python3 tests/peers/course/rpc_server.py $P_PYRPC
start spyne       python3 tests/peers/course/soap_server.py $P_SPYNE
for p in $P_SREST $P_SRPC $P_SSOAP $P_BASE $P_FLASK $P_PYRPC $P_SPYNE $P_FLOOR; do wait_port "$p"; done

# measure LABEL SERVER URL [LUA]: one wrk run; appends "rps p99_ms cpu_us_per_request errors" to $RUNS/LABEL
RUNS=$(mktemp -d)
measure() {
  local label=$1 server=$2 url=$3 lua=${4:-}
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency --timeout 5s)
  [ -n "$lua" ] && args+=(-s "$lua")
  local before; before=$(cpu_ticks "$server")
  local out; out=$("${WRK[@]}" "${args[@]}" "$url")
  local after; after=$(cpu_ticks "$server")
  local rps p99 errors requests cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  requests=$(awk '/ requests in / {print $1}' <<<"$out")
  cpu=$(awk -v t=$((after - before)) -v hz="$TICK" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
  # wrk prints 99% as e.g. 812.00us, 11.59ms or 1.50s: normalise to milliseconds.
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
  errors=$(awk '/Socket errors/ {gsub(/^ +/,""); printf "%s", $0} /Non-2xx/ {gsub(/^ +/,""); printf " %s", $0}' <<<"$out")
  echo "$rps $p99 $cpu ${errors:-}" >>"$RUNS/${label//\//_}"
}

LABELS=(
  "sister rest server|sister-rest|http://$HOST:$P_SREST/add?a=10&b=5|"
  "course Flask 3.0 dev server|flask|http://$HOST:$P_FLASK/add?a=10&b=5|"
  "bare axum GET /add|baseline|http://$HOST:$P_BASE/add?a=10&b=5|"
  "sister rpc server|sister-rpc|http://$HOST:$P_SRPC/|bench/rpc.lua"
  "course BaseHTTPServer + json-rpc|pyrpc|http://$HOST:$P_PYRPC/|bench/rpc.lua"
  "bare axum POST /rpc|baseline|http://$HOST:$P_BASE/rpc|bench/rpc.lua"
  "floor: fixed answer, no parsing|floor|http://$HOST:$P_FLOOR/|bench/rpc.lua"
  "sister soap server|sister-soap|http://$HOST:$P_SSOAP/|bench/soap.lua"
  "course spyne 2.14 (wsgiref)|spyne|http://$HOST:$P_SPYNE/|bench/soap.lua"
  "bare axum POST /soap|baseline|http://$HOST:$P_BASE/soap|bench/soap.lua"
)

pinning="not pinned"
[ ${#SERVER_CPU[@]} -gt 0 ] && pinning="servers pinned to core 0, wrk to core 1"
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, on $HOST ($(nproc) cores, shared; $pinning)"
for round in $(seq 1 "$ROUNDS"); do
  echo "  round $round of $ROUNDS ..."
  for entry in "${LABELS[@]}"; do
    IFS='|' read -r label server url lua <<<"$entry"
    measure "$label" "$server" "$url" "$lua"
  done
done

# median COLUMN FILE
median() { awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A RPS CPU
report() {
  local label=$1 f="$RUNS/${1//\//_}"
  RPS[$label]=$(median 1 "$f")
  CPU[$label]=$(median 3 "$f")
  local all; all=$(awk '{printf "%s%.0f", (NR>1?" ":""), $1}' "$f")
  local errs; errs=$(cut -d' ' -f4- "$f" | { grep -v '^$' || true; } | tail -1)
  printf '  %-34s %10.0f req/s  p99 %8.2f ms  cpu %7.2f us/req  (runs: %s) %s\n' \
    "$label" "${RPS[$label]}" "$(median 2 "$f")" "${CPU[$label]}" "$all" "$errs"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a/b}'; }
ratio2() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }

echo
echo "Medians over $ROUNDS rounds"
echo "REST  GET /add?a=10&b=5"
report "sister rest server"; report "course Flask 3.0 dev server"; report "bare axum GET /add"
echo "JSON-RPC  POST / add [10, 2]"
report "sister rpc server"; report "course BaseHTTPServer + json-rpc"; report "bare axum POST /rpc"
report "floor: fixed answer, no parsing"
echo "SOAP  POST / add(10, 5)"
report "sister soap server"; report "course spyne 2.14 (wsgiref)"; report "bare axum POST /soap"

# row NAME SISTER PYTHON AXUM: req/s ratios, then the same with CPU time per request (theirs / ours).
row() {
  printf '  %-9s %7s %-6s %6s axum   | per request: %6s cheaper than %-6s %6s axum\n' "$1" \
    "$(ratio "${RPS[$2]}" "${RPS[$3]}")" "$5" "$(ratio2 "${RPS[$2]}" "${RPS[$4]}")" \
    "$(ratio "${CPU[$3]}" "${CPU[$2]}")" "$5" "$(ratio2 "${CPU[$4]}" "${CPU[$2]}")"
}
echo
echo "Ratios of medians (goal: >= 50x the Python server, >= 0.8x bare axum), req/s | server CPU per request"
row REST "sister rest server" "course Flask 3.0 dev server" "bare axum GET /add" Flask
row JSON-RPC "sister rpc server" "course BaseHTTPServer + json-rpc" "bare axum POST /rpc" Python
row SOAP "sister soap server" "course spyne 2.14 (wsgiref)" "bare axum POST /soap" spyne
printf '  floor     %7s Python the most any server reached here (fixed answer, no parsing)\n' \
  "$(ratio "${RPS[floor: fixed answer, no parsing]}" "${RPS[course BaseHTTPServer + json-rpc]}")"
echo "(The course's servers close the connection after each answer, HTTP/1.0 style for BaseHTTPServer and"
echo " wsgiref, so wrk reconnects for every request there; wrk counts those closes as read errors.)"
rm -rf "$RUNS"
