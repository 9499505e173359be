#!/usr/bin/env bash
# Benchmark (not a test): `sister analyze` against tshark on a large synthetic capture, in one run.
#
#   bench/analyze.sh [SIZE] [FILE]      SIZE defaults to 1G, FILE to /tmp/sister-bench-analyze.pcap
#
# Builds sister in release mode, writes the capture with sister's own pcap writer (mixed MQTT, HTTP
# and ZeroMQ conversations with consistent TCP sequence numbers) unless FILE exists, then times
# `sister analyze --format json` and `tshark -Y mqtt -T fields ...` on it with /usr/bin/time -v
# (wall time, CPU time and peak memory). Needs tshark and time (Debian packages `tshark`, `time`).
# Figures and how they were measured: bench/RESULTS-analyze.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1G}"
FILE="${2:-/tmp/sister-bench-analyze.pcap}"
cargo build --release --locked --bin sister
exec target/release/sister bench analyze --size "$SIZE" --file "$FILE"
