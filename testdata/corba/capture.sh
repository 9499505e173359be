#!/usr/bin/env bash
# Re-makes the captures of testdata/corba between omniORB 4.2 programs only (omniNames, and the C++
# Hello server and client of tests/peers/corba), on loopback with tcpdump. Needs root (tcpdump),
# omniNames, omniidl, libomniorb4-dev and g++.
#
#   testdata/corba/capture.sh            # writes every capture of the folder
#   testdata/corba/capture.sh giop11.pcap fragments.pcap   # only these
#
# Ports: omniNames on 2809 (the course's), the server on 2810.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/../../target/corba-peers"
"$here/../../tests/peers/corba/build.sh" "$peers" >/dev/null
export OMNIORB_CONFIG="$peers/empty-omniORB.cfg"
: > "$OMNIORB_CONFIG"
# NAMING: how the server and the client reach omniNames. A corbaloc without a version means IIOP 1.0,
# so by default they speak GIOP 1.0 to it (whatever -ORBmaxGIOPVersion says).
NAMING=corbaloc::127.0.0.1:2809/NameService
init=(-ORBInitRef "NameService=$NAMING")
only=("$@")
# want FILE: true when FILE was named on the command line, or none was.
want() {
  [ ${#only[@]} -eq 0 ] && return 0
  local f
  for f in "${only[@]}"; do [ "$f" = "$1" ] && return 0; done
  return 1
}

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
if want hello.pcap; then capture hello.pcap -n 2; fi
if want notfound.pcap; then capture notfound.pcap --name Nobody; fi
# The client limited to GIOP 1.0 (no fragments, no request-id-first layout).
if want giop10.pcap; then capture giop10.pcap -ORBmaxGIOPVersion 1.0; fi
# The client limited to GIOP 1.1: to the server, GIOP 1.1 from omniORB itself (bigendian.pcap's 1.1 is sister's).
if want giop11.pcap; then capture giop11.pcap -ORBmaxGIOPVersion 1.1; fi
# Fragments: a request with a 10000-character name does not fit omniORB's 8 KiB buffer, so the client
# sends an 8192-byte first part with the "more fragments" flag and a Fragment after it (GIOP 1.1 and 1.2
# only, so the naming service is reached with a versioned corbaloc). omniNames sends its replies whole
# (a 10 KB reply is one message), in 1.1 and 1.2 alike.
long="$(printf 'n%.0s' $(seq 10000))"
# GIOP 1.2 to omniNames: the server rebinds Hello under the long name and the client resolves it (both
# requests in fragments, each Fragment with the request id), then calls sayHello.
if want fragments.pcap; then
  NAMING=corbaloc:iiop:1.2@127.0.0.1:2809/NameService
  init=(-ORBInitRef "NameService=$NAMING")
  SERVER_ARGS=(--name "$long")
  capture fragments.pcap --name "$long"
  SERVER_ARGS=()
fi
# GIOP 1.1 to omniNames: the client resolves a long name that is not bound; its request goes in GIOP 1.1
# fragments (a 1.1 Fragment has no request id) and the NotFound reply, whose rest_of_name repeats the
# name, is one 10101-byte message.
if want fragments11.pcap; then
  NAMING=corbaloc:iiop:1.1@127.0.0.1:2809/NameService
  init=(-ORBInitRef "NameService=$NAMING")
  capture fragments11.pcap --name "$long"
fi
NAMING=corbaloc::127.0.0.1:2809/NameService
init=(-ORBInitRef "NameService=$NAMING")
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
if want bigendian.pcap; then capture_sister bigendian.pcap --big-endian --giop 1.1; fi
