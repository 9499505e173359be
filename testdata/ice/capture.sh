#!/usr/bin/env bash
# Re-makes the Ice captures of this folder: two ZeroC Ice 3.7 Python programs talking over loopback,
# recorded with tcpdump. Needs root (tcpdump), Debian's python3-zeroc-ice (the system python3: /usr/bin/python3)
# and tcpdump. The bytes differ from run to run only in ports, timestamps and TCP sequence numbers.
#
#   sudo testdata/ice/capture.sh            # printer.pcap, bank.pcap, compressed.pcap
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$(cd "$here/../../tests/peers" && pwd)"
py=/usr/bin/python3

# capture NAME PORT SERVER CLIENT [CLIENT ARGS...]
capture() {
  local name=$1 port=$2 server=$3 client=$4
  shift 4
  tcpdump -i lo -U -s 0 -w "$here/$name.pcap.tmp" "tcp port $port" 2>/dev/null &
  local dump=$!
  sleep 1
  "$py" "$server" 127.0.0.1 "$port" >/dev/null 2>&1 &
  local srv=$!
  sleep 1
  "$py" "$client" 127.0.0.1 "$port" "$@"
  sleep 1
  kill "$srv"
  wait "$srv" 2>/dev/null || true
  sleep 0.5
  kill -INT "$dump"
  wait "$dump" 2>/dev/null || true
  mv "$here/$name.pcap.tmp" "$here/$name.pcap"
  echo "$name.pcap: $(tcpdump -r "$here/$name.pcap" 2>/dev/null | wc -l) packets"
}

capture printer 11000 "$peers/course/ice_server.py" "$peers/course/ice_client.py"
capture bank 11001 "$peers/ice_other/bank_server.py" "$peers/ice_other/bank_client.py"
capture compressed 11002 "$peers/ice_other/bank_server.py" "$peers/ice_other/bank_client.py" --compress
