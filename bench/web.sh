#!/usr/bin/env bash
# The topic tree of `sister web` (issue 17's benchmark): 10,000 retained topics and 1,000 messages/s,
# with sister's broker and then Mosquitto as the broker, in the same run.
#
# For each broker, on free loopback ports: the broker; paho-mqtt (tests/peers/mqtt_web_pub.py)
# publishes 10,000 retained topics bench/0/0 .. bench/999/9, then streams QoS 0 messages at
# $RATE/s over those same topics in turn (so every 100 ms batch names ~100 changed topics); then
# `sister web --broker`. Measured:
#   - sister web's CPU (user+system from /proc/PID/stat over $DUR s, % of one core) with no page
#     open, and the messages/s it received (its /api/topics count before and after: the
#     publisher's real rate);
#   - examples/web_bench.rs in headless Chromium: time from navigation start to the first frame
#     that draws the tree with all 10,000 topics ($RUNS page loads, median), then with the tree
#     expanded (11,001 rows) over $DUR s: frames/s, frame gaps and long tasks >= 50 ms, `.trow`
#     elements vs rows listed, and sister web's CPU with that page open.
# Nothing is pinned: the browser, the publisher, the broker and sister web share the 2 cores, so
# read it on a quiet machine (the load average is printed).
#
#   bench/web.sh                  # release build, RUNS=5 DUR=10 RATE=1000 TOPICS=10000
#   RUNS=9 DUR=20 bench/web.sh
# Prints a table; the examples' raw lines are in the output above it.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
DUR=${DUR:-10}
RATE=${RATE:-1000}
TOPICS=${TOPICS:-10000}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${SISTER_BIN:-$TARGET/release/sister}
EXAMPLE=$TARGET/release/examples/web_bench
if [ -z "${SISTER_BIN:-}" ]; then cargo build --release --quiet --bin sister --example web_bench; fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || { echo "mosquitto is missing (apt install mosquitto)"; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "chromium is missing (apt install chromium)"; exit 1; }
python3 -c 'import paho.mqtt.client' 2>/dev/null || { echo "paho-mqtt is missing (pip install -r .ci/requirements.txt)"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1"; exit 1; }
wait_line() { # file text seconds
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no \"$2\" in $1 after $3 s:"; cat "$1"; exit 1
}
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }
# sister web's topic and message counts (its snapshot: fetched outside the CPU windows).
counts() { curl -sf --max-time 20 "${1%/}/api/topics" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(len(s["topics"]), s["messages"])'; }

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

start_sister() {
  "$BIN" -q mqtt broker --bind "127.0.0.1:$1" --sys-interval 0 >"$TMP/broker.log" 2>&1 &
  PIDS+=($!)
}
start_mosquitto() {
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$1" >"$TMP/mosquitto.conf"
  "$MOSQUITTO" -c "$TMP/mosquitto.conf" >"$TMP/broker.log" 2>&1 &
  PIDS+=($!)
}

declare -A R
echo "bench/web.sh: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $TOPICS topics, $RATE msg/s, $RUNS page loads, ${DUR}s windows, $(date -u +%F)"
for broker in sister mosquitto; do
  echo "== broker: $broker"
  port=$(free_port)
  "start_$broker" "$port"; BROKER=${PIDS[-1]}; wait_port "$port"
  python3 tests/peers/mqtt_web_pub.py 127.0.0.1 "$port" --many "$TOPICS" bench --rate "$RATE" bench --spread "$TOPICS" >"$TMP/pub.log" 2>&1 &
  PUB=$!; PIDS+=("$PUB")
  wait_line "$TMP/pub.log" streaming 120
  wport=$(free_port)
  "$BIN" web --bind "127.0.0.1:$wport" --broker "127.0.0.1:$port" >"$TMP/web.log" 2>&1 &
  WEB=$!; PIDS+=("$WEB")
  wait_line "$TMP/web.log" following 30
  url="http://127.0.0.1:$wport/"
  for _ in $(seq 300); do read -r n _ <<<"$(counts "$url" 2>/dev/null || echo 0)"; [ "$n" -ge "$TOPICS" ] && break; sleep 0.1; done
  [ "$n" -ge "$TOPICS" ] || { echo "sister web has $n topics of $TOPICS:"; tail -5 "$TMP/web.log"; exit 1; }
  sleep 2 # past the retained burst
  read -r _ m0 <<<"$(counts "$url")"; t0=$(date +%s.%N); c0=$(cpu_s "$WEB")
  sleep "$DUR"
  c1=$(cpu_s "$WEB"); t1=$(date +%s.%N); read -r _ m1 <<<"$(counts "$url")"; t2=$(date +%s.%N)
  R[$broker,idle_cpu]=$(python3 -c "print(f'{($c1-$c0)/($t1-$t0)*100:.1f}')")
  R[$broker,rate]=$(python3 -c "print(f'{($m1-$m0)/($t2-$t0):.0f}')") # from just after one count to just after the other
  echo "CPU no_page server_pct=${R[$broker,idle_cpu]} received_msgs_per_s=${R[$broker,rate]} (sister web's count, snapshot calls outside the window)"
  "$EXAMPLE" "$url" --topics "$TOPICS" --runs "$RUNS" --watch "$DUR" --server-pid "$WEB" | tee "$TMP/$broker.out"
  R[$broker,out]=$(cat "$TMP/$broker.out")
  kill "$WEB" "$PUB" "$BROKER" 2>/dev/null || true; wait "$WEB" "$PUB" "$BROKER" 2>/dev/null || true
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

field() { grep "^$1 " <<<"$3" | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | head -1; }
dom() { grep "^DOM view=$1 " <<<"$2" | sed -n 's/.* trows=\([0-9]*\) .* listed=\([0-9]*\).*/\1 of \2/p'; }
printf '\n%-36s | %-22s | %-22s\n' "sister web, $TOPICS topics, $RATE msg/s" "broker: sister" "broker: Mosquitto"
printf '%s\n' "-------------------------------------+------------------------+-----------------------"
row() { printf '%-36s | %-22s | %-22s\n' "$1" "$2" "$3"; }
s=${R[sister,out]}; m=${R[mosquitto,out]}
row "first render, median (min-max) ms" "$(field SUMMARY first_render_median_ms "$s") ($(field SUMMARY min_ms "$s")-$(field SUMMARY max_ms "$s"))" "$(field SUMMARY first_render_median_ms "$m") ($(field SUMMARY min_ms "$m")-$(field SUMMARY max_ms "$m"))"
row "snapshot size KiB" "$(field RENDER snapshot_kb "$s")" "$(field RENDER snapshot_kb "$m")"
row "messages/s received" "${R[sister,rate]}" "${R[mosquitto,rate]}"
row "sister web CPU, no page" "${R[sister,idle_cpu]} %" "${R[mosquitto,idle_cpu]} %"
row "sister web CPU, one page open" "$(field CPU server_pct "$s") %" "$(field CPU server_pct "$m") %"
row "page fps (expanded, streaming)" "$(field STREAM fps "$s")" "$(field STREAM fps "$m")"
row "frame gaps >= 50 ms" "$(field STREAM frame_gaps_50ms "$s") (max $(field STREAM max_frame_gap_ms "$s") ms)" "$(field STREAM frame_gaps_50ms "$m") (max $(field STREAM max_frame_gap_ms "$m") ms)"
row "long tasks (total ms)" "$(field STREAM longtasks "$s") ($(field STREAM longtask_ms "$s"))" "$(field STREAM longtasks "$m") ($(field STREAM longtask_ms "$m"))"
row ".trow elements of rows, collapsed" "$(dom collapsed "$s")" "$(dom collapsed "$m")"
row ".trow elements of rows, expanded" "$(dom expanded "$s")" "$(dom expanded "$m")"
