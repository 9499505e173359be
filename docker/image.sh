#!/usr/bin/env bash
# Wrap an already built static sister binary into the FROM-scratch image (no registry, no cargo).
#   docker/image.sh BINARY TAG
set -euo pipefail
bin="$1"; tag="$2"
here="$(cd "$(dirname "$0")" && pwd)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/sister"
# Symbols are of no use in the image (sister prints errors, never backtraces): strip them, if binutils is here.
if command -v strip >/dev/null; then strip "$ctx/sister"; fi
# The three small files the image needs besides the binary: a user for USER 10001, and nsswitch.conf
# so glibc's resolver reads /etc/hosts then DNS.
printf 'root:x:0:0:root:/:/usr/local/bin/sister\nsister:x:10001:10001:sister:/:/usr/local/bin/sister\n' > "$ctx/passwd"
printf 'root:x:0:\nsister:x:10001:\n' > "$ctx/group"
printf 'hosts: files dns\n' > "$ctx/nsswitch.conf"
# An empty /lab-ca owned by the image's user: a named volume mounted there (compose/mqtt-tls.yml)
# starts with this ownership, so `sister ca init /lab-ca` can write into it without root.
mkdir "$ctx/lab-ca"
docker build -q -f "$here/Dockerfile" -t "$tag" "$ctx" >/dev/null
docker image ls "$tag" --format 'built {{.Repository}}:{{.Tag}} ({{.Size}})'
