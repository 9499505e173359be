#!/usr/bin/env bash
# ZeroMQ benchmark: sister's sockets vs libzmq (built from source by the `zmq` crate), same run, same
# machine, TCP loopback. Not a test: run it by hand, on a quiet machine, and read the ratios.
#   bench/zmq.sh [N_64B] [N_1K] [ROUND_TRIPS]      defaults: 2000000 500000 20000
set -euo pipefail
cd "$(dirname "$0")/zmq"
cargo build --release --quiet
exec ./target/release/sister-zmq-bench "$@"
