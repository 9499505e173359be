#!/usr/bin/env bash
# Benchmark (not a test): `sister web`'s capture view on a capture of more than 100,000 messages (issue
# 17), next to tshark's flow statistics (the headless side of Wireshark's Flow Graph) on the same file.
#
#   bench/web-capture.sh [SIZE] [FILE] [RUNS] [SECONDS]
#       defaults: 56M /tmp/sister-bench-web-capture.pcap 3 5
#
# 1. Writes the capture with sister's own pcap writer (`sister bench analyze --only-write`: MQTT
#    publishers, REST clients and ZeroMQ REQ/REP, consistent TCP) unless FILE exists, and counts its
#    messages with `sister analyze --format json` (the dissector's counts, both directions).
# 2. Times `sister analyze --format json` and `tshark -q -z flow,tcp,network` (its Flow Graph as text)
#    on it, under /usr/bin/time (wall, CPU, peak memory).
# 3. Runs examples/web_capture_bench.rs RUNS times (each run starts `sister web --pcap FILE` twice,
#    times it until it prints its URL, times the flow API, then loads the page in headless Chromium
#    and scrolls it for SECONDS per way of scrolling) and prints the median of each figure.
# Needs tshark, chromium, jq and time (Debian packages). Results and method: bench/RESULTS-web-capture.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-56M}
FILE=${2:-/tmp/sister-bench-web-capture.pcap}
RUNS=${3:-3}
SECS=${4:-5}
TARGET=${CARGO_TARGET_DIR:-target}

# Two builds: in one command, sister would be built with the features the example's dev-dependencies
# add to the shared crates (not the binary a person runs).
# NO_BUILD=1: use the binaries already in $TARGET (while another cargo holds the target directory).
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --locked --quiet --bin sister
  cargo build --release --locked --quiet --example web_capture_bench
fi
SISTER=$TARGET/release/sister
EXAMPLE=$TARGET/release/examples/web_capture_bench
[ -f "$FILE" ] || "$SISTER" -q bench analyze --size "$SIZE" --file "$FILE" --only-write

echo "bench/web-capture.sh: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%F)"
echo "  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $("$SISTER" --version), $(tshark --version 2>/dev/null | head -1), $(chromium --version 2>/dev/null)"
MESSAGES=$("$SISTER" -q analyze --no-docker --format json "$FILE" |
  jq '[.conversations[] | .client_to_server.messages + .server_to_client.messages] | add')
echo "  capture: $FILE, $(( $(stat -c %s "$FILE") >> 20 )) MB, $MESSAGES messages"

# `/usr/bin/time` as "wall cpu peak-MB".
measure() {
  local t; t=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >/dev/null 2>&1
  awk '{ printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$t"
  rm -f "$t"
}
read -r A_WALL A_CPU A_MEM < <(measure "$SISTER" -q analyze --no-docker --format json "$FILE")
read -r T_WALL T_CPU T_MEM < <(measure tshark -n -q -z flow,tcp,network -r "$FILE")
T_LINES=$(tshark -n -q -z flow,tcp,network -r "$FILE" 2>/dev/null | wc -l)

RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for run in $(seq "$RUNS"); do
  echo "  run $run of $RUNS (load $(cut -d' ' -f1 /proc/loadavg)) ..."
  "$EXAMPLE" --sister "$SISTER" --pcap "$FILE" --seconds "$SECS" >>"$RAW"
done
# The median of a figure over the runs (the middle one; of two, the lower).
m() { awk -v k="$1" '$1 == k { print $2 }' "$RAW" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo
echo "medians of $RUNS runs (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "capture: $(m flow_packets) packets, $(m flow_conversations) conversations, $(m flow_columns) host columns; the view: $(m flow_events) arrows in $(m flow_rows) rows (folded), $(m flow_mqtt_events) with protocol=MQTT"
printf '%-58s %s\n' "what" "figure"
row() { printf '%-58s %s\n' "$1" "$2"; }
row "sister analyze --format json" "${A_WALL} s wall, ${A_CPU} s cpu, ${A_MEM} MB"
row "tshark -q -z flow,tcp,network ($T_LINES lines)" "${T_WALL} s wall, ${T_CPU} s cpu, ${T_MEM} MB"
row "sister web --pcap: until it prints its URL" "$(m web_ready_s) s"
row "GET /flow, first (builds the graph; $(m api_flow_mb) MB)" "$(m api_flow_first_ms) ms"
row "GET /flow, cached" "$(m api_flow_cached_ms) ms"
row "GET /flow?protocol=MQTT" "$(m api_flow_mqtt_ms) ms"
row "GET /flow?conversation=1" "$(m api_flow_conversation_ms) ms"
row "page: navigation to first rows, cold server" "$(m page_cold_first_rows_ms) ms (fetch to drawn $(m page_cold_fetch_to_drawn_ms) ms; long tasks $(m page_cold_long_tasks), longest $(m page_cold_long_task_max_ms) ms)"
row "page: navigation to first rows, cached on the server" "$(m page_warm_first_rows_ms) ms (fetch to drawn $(m page_warm_fetch_to_drawn_ms) ms; long tasks $(m page_warm_long_tasks), longest $(m page_warm_long_task_max_ms) ms)"
row "page: row elements / rows listed / all elements" "$(m page_row_elements) / $(m page_rows) / $(m page_dom_elements); JS heap $(m page_js_heap_mb) MB"
for mode in wheel page thumb blank; do
  case $mode in
    wheel) what="scroll 100 px per frame" ;;
    page) what="scroll one screen per frame" ;;
    thumb) what="jump to a random place per frame" ;;
    blank) what="baseline: the same loop on about:blank" ;;
  esac
  fig="frames $(m ${mode}_frames), p50 $(m ${mode}_p50_ms) ms, p95 $(m ${mode}_p95_ms) ms, max $(m ${mode}_max_ms) ms, >=50 ms $(m ${mode}_frames_over_50ms), long tasks $(m ${mode}_long_tasks)"
  if [ "$mode" != blank ]; then
    fig="$fig; blank rows $(m ${mode}_blankRows) in $(m ${mode}_blankFrames) frames, rows created $(m ${mode}_created), arrows off lifelines $(m ${mode}_badArrows), lifelines short $(m ${mode}_badLifelines), heads off $(m ${mode}_badHeads)"
  fi
  row "$what (${SECS} s)" "$fig"
done
echo
echo "raw figures of every run:"
sort -s -k1,1 "$RAW" | awk '{ a[$1] = a[$1] " " $2 } END { for (k in a) print "  " k ":" a[k] }' | sort
