#!/usr/bin/env bash
# Re-makes the captures of testdata/corba between omniORB 4.2 programs only (omniNames, and the C++
# Hello server and client of tests/peers/corba), on loopback with tcpdump. Needs root (tcpdump),
# omniNames, omniidl, libomniorb4-dev and g++.
#
#   testdata/corba/capture.sh            # writes hello.pcap, notfound.pcap, giop10.pcap, bigendian.pcap
#
# Ports: omniNames on 2809 (the course's), the server on 2810.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/../../target/corba-peers"
"$here/../../tests/peers/corba/build.sh" "$peers" >/dev/null
export OMNIORB_CONFIG="$peers/empty-omniORB.cfg"
: > "$OMNIORB_CONFIG"
init=(-ORBInitRef NameService=corbaloc::127.0.0.1:2809/NameService)

# One capture: $1 the file, then the client's extra arguments. omniNames starts fresh each time.
capture() {
  local file="$1"; shift
  local logs; logs="$(mktemp -d)"
  tcpdump -i lo -U -w "$here/$file" 'tcp port 2809 or tcp port 2810' 2>/dev/null &
  local dump=$!
  sleep 1
  omniNames -start 2809 -logdir "$logs" -ORBendPoint giop:tcp:127.0.0.1:2809 >/dev/null 2>&1 &
  local names=$!
  sleep 0.5
  "$peers/hello_server" "${init[@]}" -ORBendPoint giop:tcp:127.0.0.1:2810 "${SERVER_ARGS[@]}" >/dev/null &
  local server=$!
  sleep 0.7
  "$peers/hello_client" "${init[@]}" "$@" || true
  sleep 0.3
  kill -INT "$server"; wait "$server" 2>/dev/null || true
  kill "$names"; wait "$names" 2>/dev/null || true
  sleep 0.5
  kill -INT "$dump"; wait "$dump" 2>/dev/null || true
  rm -rf "$logs"
  echo "wrote $file"
}

SERVER_ARGS=()
capture hello.pcap -n 2
capture notfound.pcap --name Nobody
# The client limited to GIOP 1.0 (no fragments, no request-id-first layout).
capture giop10.pcap -ORBmaxGIOPVersion 1.0
# sister's client, big-endian and GIOP 1.1, against the same omniORB programs: the other byte order
# and the middle version, read by omniORB (and by the analyzer) as well as the rest.
CLIENT="$here/../../target/x86_64-unknown-linux-gnu/release/sister"
[ -x "$CLIENT" ] || CLIENT="$here/../../target/release/sister"
capture_sister() {
  local file="$1"; shift
  local logs; logs="$(mktemp -d)"
  tcpdump -i lo -U -w "$here/$file" 'tcp port 2809 or tcp port 2810' 2>/dev/null &
  local dump=$!
  sleep 1
  omniNames -start 2809 -logdir "$logs" -ORBendPoint giop:tcp:127.0.0.1:2809 >/dev/null 2>&1 &
  local names=$!
  sleep 0.5
  "$peers/hello_server" "${init[@]}" -ORBendPoint giop:tcp:127.0.0.1:2810 >/dev/null &
  local server=$!
  sleep 0.7
  "$CLIENT" -q corba client --naming 127.0.0.1:2809 "$@" || true
  sleep 0.3
  kill -INT "$server"; wait "$server" 2>/dev/null || true
  kill "$names"; wait "$names" 2>/dev/null || true
  sleep 0.5
  kill -INT "$dump"; wait "$dump" 2>/dev/null || true
  rm -rf "$logs"
  echo "wrote $file"
}
capture_sister bigendian.pcap --big-endian --giop 1.1
