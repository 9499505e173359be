#!/usr/bin/env bash
# Build the static sister binary on the host and the FROM-scratch image around it (no registry needed).
#   docker/build.sh [TAG]      (default tag: sister:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-sister:latest}"
target=x86_64-unknown-linux-gnu
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$target" --bin sister
out="target/$target/release"
# The three small files the image needs besides the binary: a user for USER 10001, and nsswitch.conf
# so glibc's resolver reads /etc/hosts then DNS.
printf 'root:x:0:0:root:/:/usr/local/bin/sister\nsister:x:10001:10001:sister:/:/usr/local/bin/sister\n' > "$out/passwd"
printf 'root:x:0:\nsister:x:10001:\n' > "$out/group"
printf 'hosts: files dns\n' > "$out/nsswitch.conf"
docker build -q -f docker/Dockerfile -t "$tag" "$out" >/dev/null
docker image ls "$tag" --format 'built {{.Repository}}:{{.Tag}} ({{.Size}})'
