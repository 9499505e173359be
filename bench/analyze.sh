#!/usr/bin/env bash
# Benchmark (not a test): `sister analyze` against tshark on a large capture, in one run.
#
#   bench/analyze.sh [SIZE] [FILE]                   synthetic: SIZE defaults to 1G, FILE to
#                                                    /tmp/sister-bench-analyze.pcap
#   bench/analyze.sh real [CAPTURE] [COPIES] [FILE]  real: COPIES (default 300) copies of CAPTURE
#                                                    (default the Rahmat MQTT capture in shared/fixtures),
#                                                    each as new conversations, in FILE (default
#                                                    /tmp/sister-bench-merged.pcap)
#
# Builds sister in release mode, writes the capture with sister's own pcap writer (synthetic: mixed
# MQTT, HTTP and ZeroMQ conversations with consistent TCP sequence numbers, unless FILE exists; real:
# `capture::repeat`, always), then times `sister analyze --format json` and
# `tshark -Y mqtt -T fields ...` on it with /usr/bin/time -v (wall time, CPU time and peak memory).
# Needs tshark and time (Debian packages `tshark`, `time`).
# Figures and how they were measured: bench/RESULTS-analyze.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin sister
if [ "${1:-}" = real ]; then
  CAPTURE="${2:-../shared/fixtures/pcaps/mqtt__RahmatAramadhan__captureMQTT.pcap}"
  COPIES="${3:-300}"
  FILE="${4:-/tmp/sister-bench-merged.pcap}"
  exec target/release/sister bench analyze --merge "$CAPTURE" --copies "$COPIES" --file "$FILE"
fi
SIZE="${1:-1G}"
FILE="${2:-/tmp/sister-bench-analyze.pcap}"
exec target/release/sister bench analyze --size "$SIZE" --file "$FILE"
