#!/usr/bin/env bash
# Does a flood of wrong passwords slow the other clients down? sister's broker against Mosquitto,
# with the same password file, in one run (issue 16).
#
# For each broker and each hash cost: a legitimate client (bench/mqtt_auth.py latency) times its
# publish -> receive round trips (QoS 0, one every 2 ms) first alone for $QUIET seconds, then while
# another process (bench/mqtt_auth.py flood) sends CONNECTs with a wrong password in a row, each
# waiting for its CONNACK. Brokers run pinned to core 0 (`taskset -c 0`), both clients on core 1, as
# bench/mqtt.sh does. Costs: mosquitto_passwd's default (`$7$`, 101 PBKDF2 rounds) with $FLOOD_N
# CONNECTs, and `-I 100000` (70-80 ms a check here) with $COSTLY_N CONNECTs: 1,000 of those are more
# than a minute of hashing per broker, so the whole run takes about three minutes.
#
#   bench/mqtt-auth.sh                       # release build; writes bench/RESULTS-mqtt-auth.md
#   COSTLY_N=100 bench/mqtt-auth.sh          # a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."

FLOOD_N=${FLOOD_N:-1000}
COSTLY_N=${COSTLY_N:-1000}
QUIET=${QUIET:-3}
OUT=${OUT:-bench/RESULTS-mqtt-auth.md}
BIN=${SISTER_BIN:-target/release/sister}
if [ -z "${SISTER_BIN:-}" ]; then cargo build --release --quiet; fi
command -v mosquitto >/dev/null || { echo "mosquitto is missing (apt install mosquitto)"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1"; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

start_sister() { # port file
  taskset -c 0 "$BIN" -q mqtt broker --bind "127.0.0.1:$1" --sys-interval 0 \
    --password-file "$2" --no-anonymous >"$TMP/sister.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$1"
}
start_mosquitto() { # port file
  # `user root` keeps a root-started Mosquitto able to read the 0600 file in our 0700 directory (it
  # drops to user mosquitto before reading it otherwise); it does nothing when not root.
  printf 'listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\nuser root\n' \
    "$1" "$2" >"$TMP/mosquitto.conf"
  taskset -c 0 mosquitto -c "$TMP/mosquitto.conf" >"$TMP/mosquitto.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); wait_port "$1"
}
stop_broker() { kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }

# latency PORT SECONDS|flood N ITERS -> the LATENCY line (and the FLOOD line in $TMP/flood)
measure() {
  taskset -c 1 python3 bench/mqtt_auth.py latency "$1" alice secret >"$TMP/lat" &
  local lat=$!
  sleep 0.5
  if [ "$2" = flood ]; then
    taskset -c 1 python3 bench/mqtt_auth.py flood "$1" alice "$3" >"$TMP/flood"
  else
    sleep "$2"; : >"$TMP/flood"
  fi
  kill -TERM "$lat"; wait "$lat" || true
  cat "$TMP/lat"
}
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

# The same password file for both brokers, written by sister (Mosquitto reads it as its own).
declare -A R
for cost in 101 100000; do
  n=$FLOOD_N; [ "$cost" = 100000 ] && n=$COSTLY_N
  pw="$TMP/passwords-$cost"
  rm -f "$pw"
  "$BIN" mqtt passwd -c -I "$cost" -b "$pw" alice secret
  for broker in sister mosquitto; do
    port=$(free_port)
    "start_$broker" "$port" "$pw"
    R[$broker,$cost,quiet]=$(measure "$port" "$QUIET")
    R[$broker,$cost,flood]=$(measure "$port" flood "$n")
    R[$broker,$cost,floodstat]=$(cat "$TMP/flood")
    stop_broker
  done
done

{
  echo "# MQTT: a flood of wrong passwords, sister vs Mosquitto (bench/mqtt-auth.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$("$BIN" --version), $(mosquitto -h 2>/dev/null | head -1). Brokers on core 0, clients on core 1."
  echo
  echo "A logged-in client's publish -> receive round trip (QoS 0, one every 2 ms), alone and while"
  echo "another process sends CONNECTs with a wrong password in a row (each waits for its CONNACK)."
  echo
  echo "| hash (\`\$7\$\` rounds) | broker | alone p50 / p99 / max (us) | during the flood p50 / p99 / max (us) | flood: CONNECTs, refused with 5, seconds |"
  echo "|---|---|---|---|---|"
  for cost in 101 100000; do
    for broker in sister mosquitto; do
      q=${R[$broker,$cost,quiet]}; f=${R[$broker,$cost,flood]}; s=${R[$broker,$cost,floodstat]}
      printf '| %s | %s | %s / %s / %s | %s / %s / %s | %s, %s, %s s |\n' "$cost" "$broker" \
        "$(field "$q" p50_us)" "$(field "$q" p99_us)" "$(field "$q" max_us)" \
        "$(field "$f" p50_us)" "$(field "$f" p99_us)" "$(field "$f" max_us)" \
        "$(field "$s" n)" "$(field "$s" refused_5)" "$(field "$s" seconds)"
    done
  done
} | tee "$OUT.new"
# Notes written by hand below the table (from a line `## Reading` on) are kept.
if [ -f "$OUT" ] && grep -q '^## Reading' "$OUT"; then
  { echo; sed -n '/^## Reading/,$p' "$OUT"; } >>"$OUT.new"
fi
mv "$OUT.new" "$OUT"
echo "(written to $OUT)"
