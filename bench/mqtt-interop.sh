#!/bin/sh
# Eclipse paho.mqtt.testing's interoperability tests against sister's broker and Mosquitto, in the same
# run, each broker with its defaults and then with the options the suite assumes (see
# bench/mqtt-results.md, "Interoperability").
#
# Usage: bench/mqtt-interop.sh SUITE_DIR [OUT_DIR]
#   SUITE_DIR: the suite's interoperability/ directory (github.com/eclipse/paho.mqtt.testing; it is not
#   on PyPI and not vendored here). Needs target/release/sister and mosquitto (Debian's 2.0).
set -eu
suite=$(cd "$1" && pwd)
out=${2:-/tmp/sister-mqtt-interop}
repo=$(cd "$(dirname "$0")/.." && pwd)
sister="$repo/target/release/sister"
mkdir -p "$out"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The options the suite assumes: SUBSCRIBE to test/nosubscribe refused (its own test broker hard-codes
# that filter; other brokers configure an ACL), and a server keep-alive of 60 s told to a 5.0 client that
# asks for 120 s (its own test broker's default).
printf 'topic readwrite #\ntopic deny test/nosubscribe\n' > "$out/acl.txt"

start_sister() { # port, extra options...
    port=$1; shift
    "$sister" mqtt broker --bind "127.0.0.1:$port" -q "$@" > "$out/sister-$port.log" 2>&1 &
    pids="$pids $!"
}
start_mosquitto() { # port, extra config lines
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n%b' "$1" "${2:-}" > "$out/mosquitto-$1.conf"
    mosquitto -c "$out/mosquitto-$1.conf" > "$out/mosquitto-$1.log" 2>&1 &
    pids="$pids $!"
}
run() { # name, port: both versions, one after the other (they share client ids and topics)
    { python3 "$repo/bench/mqtt_interop.py" "$suite" "$2" v3
      python3 "$repo/bench/mqtt_interop.py" "$suite" "$2" v5; } > "$out/$1.txt" 2>&1
}

start_sister 18841
start_mosquitto 18842
start_sister 18843 --max-keepalive 60 --acl-file "$out/acl.txt"
start_mosquitto 18844 "max_keepalive 60\nacl_file $out/acl.txt\n"
sleep 1
# The two brokers of a configuration are tested at the same time (they share nothing).
run sister-defaults 18841 & a=$!
run mosquitto-defaults 18842 & b=$!
wait $a $b
run sister-suite-options 18843 & a=$!
run mosquitto-suite-options 18844 & b=$!
wait $a $b

for f in sister-defaults mosquitto-defaults sister-suite-options mosquitto-suite-options; do
    echo "== $f"
    cat "$out/$f.txt"
done
