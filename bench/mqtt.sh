#!/usr/bin/env bash
# sister's MQTT broker against Mosquitto, the same load in one run (issue 3's benchmark).
#
# Each broker runs pinned to core 0 (`taskset -c 0`), the load generator (`sister bench mqtt`) to
# core 1, one broker at a time, on free loopback ports. Loads: 1->1, 1->50 (fan-out), 10->1 (fan-in) at
# QoS 0 and 1 with 64-byte payloads at full speed (throughput), then 1->1 at a fixed 10,000 msg/s
# (latency); then the same over TLS (1->1 and 10->1, QoS 0 and 1; both brokers with the same
# certificate, made here by `sister ca`, TLS 1.3); then the same over WebSockets (1->1, 10->1 and
# 1->50, QoS 0 and 1; `protocol websockets` in the same mosquitto.conf for both, the load generator's
# `--ws`); then memory per idle connection and 10,000 concurrent connections.
#
#   bench/mqtt.sh                 # release build, 5 s per load
#   DUR=10 bench/mqtt.sh          # longer runs
#   ONLY=tls bench/mqtt.sh        # only the loads whose name starts with tls (no memory rows)
#   ONLY=ws bench/mqtt.sh         # only the WebSocket rows
# Prints one table: delivered msg/s, lost, p50/p99/p99.9 latency for both, and the ratio sister/Mosquitto.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${DUR:-5}
IDLE_N=${IDLE_N:-2000}
MANY_N=${MANY_N:-10000}
BIN=${SISTER_BIN:-target/release/sister}
if [ -z "${SISTER_BIN:-}" ]; then cargo build --release --quiet; fi
command -v mosquitto >/dev/null || { echo "mosquitto is missing (apt install mosquitto)"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1"; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# The TLS rows: one lab CA and server certificate for both brokers.
"$BIN" -q ca init "$TMP/ca" >/dev/null
TLS_CONF() { # port -> the TLS listener's lines (Mosquitto's format, which sister reads too)
  printf 'listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\n' "$1" "$TMP/ca/server.crt" "$TMP/ca/server.key"
}
start_sister() {
  local port=$1
  taskset -c 0 "$BIN" -q mqtt broker --bind "127.0.0.1:$port" --sys-interval 0 >"$TMP/sister.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
start_mosquitto() {
  local port=$1
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n' "$port" >"$TMP/mosquitto.conf"
  taskset -c 0 mosquitto -c "$TMP/mosquitto.conf" >"$TMP/mosquitto.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
# The same mosquitto.conf for both: sister reads Mosquitto's file (`user root`: Mosquitto started as
# root would otherwise switch to the user `mosquitto`, who cannot read the key in $TMP).
start_sister_tls() {
  local port=$1
  { echo "user root"; TLS_CONF "$port"; printf 'allow_anonymous true\nsys_interval 0\n'; } >"$TMP/tls.conf"
  taskset -c 0 "$BIN" -q mqtt broker -c "$TMP/tls.conf" >"$TMP/sister.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
start_mosquitto_tls() {
  local port=$1
  { echo "user root"; TLS_CONF "$port"; printf 'allow_anonymous true\npersistence false\nmax_connections -1\n'; } >"$TMP/tls.conf"
  taskset -c 0 mosquitto -c "$TMP/tls.conf" >"$TMP/mosquitto.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
# The WebSocket rows: one file for both brokers. Mosquitto 2.0.11 will not start with WebSocket
# listeners only ("Unable to start any listening sockets"), so the file has a plain listener too.
WS_CONF() { # port -> the whole file
  printf 'user root\nallow_anonymous true\nlistener %s 127.0.0.1\nlistener %s 127.0.0.1\nprotocol websockets\n' "$(free_port)" "$1"
}
start_sister_ws() {
  local port=$1
  { WS_CONF "$port"; echo "sys_interval 0"; } >"$TMP/ws.conf"
  taskset -c 0 "$BIN" -q mqtt broker -c "$TMP/ws.conf" >"$TMP/sister.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
start_mosquitto_ws() {
  local port=$1
  { WS_CONF "$port"; printf 'persistence false\nmax_connections -1\n'; } >"$TMP/ws.conf"
  taskset -c 0 mosquitto -c "$TMP/ws.conf" >"$TMP/mosquitto.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$port"
}
stop_broker() { kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }

# name pubs subs qos rate(0 = max)
LOADS=(
  "1->1_qos0 1 1 0 0"
  "1->1_qos1 1 1 1 0"
  "1->50_qos0 1 50 0 0"
  "1->50_qos1 1 50 1 0"
  "10->1_qos0 10 1 0 0"
  "10->1_qos1 10 1 1 0"
  "1->1_qos0_@10k 1 1 0 10000"
  "1->1_qos1_@10k 1 1 1 10000"
  "tls_1->1_qos0 1 1 0 0"
  "tls_1->1_qos1 1 1 1 0"
  "tls_10->1_qos0 10 1 0 0"
  "tls_10->1_qos1 10 1 1 0"
  "ws_1->1_qos0 1 1 0 0"
  "ws_1->1_qos1 1 1 1 0"
  "ws_1->50_qos0 1 50 0 0"
  "ws_10->1_qos0 10 1 0 0"
  "ws_10->1_qos1 10 1 1 0"
  "ws_1->1_qos0_@10k 1 1 0 10000"
)
if [ -n "${ONLY:-}" ]; then
  kept=(); for l in "${LOADS[@]}"; do case $l in "$ONLY"*) kept+=("$l") ;; esac; done; LOADS=("${kept[@]}")
fi

run_load() { # port pubs subs qos rate [tls|ws] -> RESULT line
  local rate_flag=() tls_flag=()
  [ "$5" != 0 ] && rate_flag=(--rate "$5")
  [ "${6:-}" = tls ] && tls_flag=(--cafile "$TMP/ca/ca.crt")
  [ "${6:-}" = ws ] && tls_flag=(--ws)
  taskset -c 1 "$BIN" -q bench mqtt --server "127.0.0.1:$1" --pubs "$2" --subs "$3" --qos "$4" \
    --payload 64 --duration "$DUR" "${rate_flag[@]}" "${tls_flag[@]}" | grep '^RESULT'
}
field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

declare -A R
for broker in sister mosquitto; do
  for load in "${LOADS[@]}"; do
    read -r name pubs subs qos rate <<<"$load"
    port=$(free_port)
    tls=""; start="start_$broker"
    case $name in
      tls_*) tls=tls; start="start_${broker}_tls" ;;
      ws_*) tls=ws; start="start_${broker}_ws" ;;
    esac
    "$start" "$port"
    R[$broker,$name]=$(run_load "$port" "$pubs" "$subs" "$qos" "$rate" $tls || echo "RESULT rate=0 lost=0 p50=0 p99=0 p999=0")
    stop_broker
  done
  [ -n "${ONLY:-}" ] && continue
  port=$(free_port); "start_$broker" "$port"
  R[$broker,idle]=$(python3 bench/mqtt_idle.py "$port" "$BROKER_PID" "$IDLE_N")
  stop_broker
  port=$(free_port); "start_$broker" "$port"
  R[$broker,many]=$(taskset -c 1 python3 bench/mqtt_idle.py "$port" "$BROKER_PID" "$MANY_N")
  stop_broker
done

printf '\n%-16s | %-46s | %-46s | %s\n' "load (64 B)" "sister: msg/s lost p50/p99/p99.9 us" "mosquitto: msg/s lost p50/p99/p99.9 us" "ratio"
printf '%s\n' "-----------------+------------------------------------------------+------------------------------------------------+------"
for load in "${LOADS[@]}"; do
  read -r name _ <<<"$load"
  s=${R[sister,$name]}; m=${R[mosquitto,$name]}
  sr=$(field "$s" rate); mr=$(field "$m" rate)
  ratio=$(python3 -c "print(f'{$sr/$mr:.2f}x' if $mr else 'n/a')")
  printf '%-16s | %9s %8s %6s/%6s/%6s      | %9s %8s %6s/%6s/%6s      | %s\n' "$name" \
    "$sr" "$(field "$s" lost)" "$(field "$s" p50)" "$(field "$s" p99)" "$(field "$s" p999)" \
    "$mr" "$(field "$m" lost)" "$(field "$m" p50)" "$(field "$m" p99)" "$(field "$m" p999)" "$ratio"
done
[ -n "${ONLY:-}" ] && exit 0
echo
echo "memory per idle connection ($IDLE_N idle clients, broker VmRSS growth / clients):"
echo "  sister:    ${R[sister,idle]}"
echo "  mosquitto: ${R[mosquitto,idle]}"
echo "concurrent connections ($MANY_N clients):"
echo "  sister:    ${R[sister,many]}"
echo "  mosquitto: ${R[mosquitto,many]}"
