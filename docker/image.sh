#!/usr/bin/env bash
# Wrap an already built static sister binary into the FROM-scratch image (no registry, no cargo).
#   docker/image.sh BINARY TAG
set -euo pipefail
bin="$1"; tag="$2"
here="$(cd "$(dirname "$0")" && pwd)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/sister"
# The three small files the image needs besides the binary: a user for USER 10001, and nsswitch.conf
# so glibc's resolver reads /etc/hosts then DNS.
printf 'root:x:0:0:root:/:/usr/local/bin/sister\nsister:x:10001:10001:sister:/:/usr/local/bin/sister\n' > "$ctx/passwd"
printf 'root:x:0:\nsister:x:10001:\n' > "$ctx/group"
printf 'hosts: files dns\n' > "$ctx/nsswitch.conf"
docker build -q -f "$here/Dockerfile" -t "$tag" "$ctx" >/dev/null
docker image ls "$tag" --format 'built {{.Repository}}:{{.Tag}} ({{.Size}})'
