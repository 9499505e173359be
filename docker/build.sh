#!/usr/bin/env bash
# Build the static sister binary on the host and the FROM-scratch image around it (no registry needed).
#   docker/build.sh [TAG]      (default tag: sister:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-sister:latest}"
target=x86_64-unknown-linux-gnu
# +crt-static links glibc statically: the image needs no /lib at all.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$target" --bin sister
docker/image.sh "target/$target/release/sister" "$tag"
