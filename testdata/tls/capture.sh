#!/usr/bin/env bash
# Re-makes the TLS captures of testdata/tls on loopback with tcpdump, between OpenSSL 3.0's
# s_server and s_client (and Mosquitto 2.0 with mosquitto_pub), and writes each capture's tshark
# reference beside it (FILE.tshark.txt). Needs root (tcpdump), openssl, tshark, mosquitto and
# mosquitto-clients.
#
#   testdata/tls/capture.sh                        # writes every capture of the folder
#   testdata/tls/capture.sh tls12.pcap alert.pcap  # only these
#
# The keys are throwaway: a CA (`sister lab CA`) and a server certificate for CN=localhost signed by
# it, made in a temporary folder and deleted afterwards; nothing here is a secret. Each capture's
# handshake uses fresh ephemeral keys, so its bytes (not its shape) change from one run to the next.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
only=("$@")
# want FILE: true when FILE was named on the command line, or none was.
want() {
  [ ${#only[@]} -eq 0 ] && return 0
  local f
  for f in "${only[@]}"; do [ "$f" = "$1" ] && return 0; done
  return 1
}

keys="$(mktemp -d)"
dump=""
# On any exit, also a failed step: no tcpdump left writing into a capture.
trap '[ -n "$dump" ] && kill -INT "$dump" 2>/dev/null; rm -rf "$keys"' EXIT
# Mosquitto started as root drops to the user `mosquitto`, which must read the keys too.
chmod 755 "$keys"
cd "$keys"
# A CA, and the server's certificate signed by it (RSA 2048, valid 10 years: the Certificate message
# of tls12.pcap then holds two certificates, the server's and the CA's).
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/CN=sister lab CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 3650 -extfile san.ext 2>/dev/null
chmod 644 ./*

# The tshark reference of a capture: one line per frame holding TLS, with every record's content
# type, length and version (a TLS 1.3 encrypted record's outer type, 23, is `opaque_type`: tshark
# puts it there once it knows the connection is TLS 1.3, and in `content_type` otherwise), every
# handshake message's type and version, SNI, ALPN, cipher suites (a ClientHello lists all it offers,
# a ServerHello the one chosen), supported_versions, alerts. $1 the file, $2 the port (told to
# tshark with -d: it knows 443 and 8883, not 4433).
reference() {
  tshark -n -r "$here/$1" -d "tcp.port==$2,tls" -Y tls -T fields -E header=y -E occurrence=a \
    -E aggregator=, -e frame.number -e tcp.srcport -e tcp.dstport -e tls.record.content_type \
    -e tls.record.opaque_type -e tls.record.length -e tls.record.version -e tls.handshake.type \
    -e tls.handshake.version \
    -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
    -e tls.handshake.ciphersuite -e tls.handshake.extensions.supported_version \
    -e tls.alert_message.level -e tls.alert_message.desc > "$here/$1.tshark.txt"
}

# Start tcpdump on port $2 into $1; `stop_dump` ends it.
start_dump() {
  tcpdump -i lo -U -w "$here/$1" "tcp port $2" 2>/dev/null &
  dump=$!
  sleep 1
}
stop_dump() {
  sleep 0.5
  kill -INT "$dump"; wait "$dump" 2>/dev/null || true
  dump=""
}

# An s_server on port $1 with the extra arguments after it; `-rev` makes it echo each line back
# reversed, so both directions carry application data. `-naccept 1`: one connection, then it exits.
start_server() {
  local port="$1"; shift
  # s_server reads its own stdin to send; keep it open (and silent) for as long as it runs.
  openssl s_server -accept "$port" -cert server.crt -key server.key -cert_chain ca.crt \
    -rev -naccept 1 -quiet "$@" < <(sleep 20) >/dev/null 2>&1 &
  server=$!
  sleep 0.5
}
stop_server() {
  sleep 0.3
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
}

# Lines typed into s_client, one every 0.3 s after the handshake; at the end of its input s_client
# sends close_notify and closes.
lines() {
  sleep 0.5
  local l
  for l in "$@"; do echo "$l"; sleep 0.3; done
}

# TLS 1.3 with SNI and ALPN (the client offers `mqtt`, the server chooses it); three lines each way.
if want tls13.pcap; then
  start_dump tls13.pcap 4433
  start_server 4433 -tls1_3 -alpn mqtt
  lines "Suhu: 28°C" "halo" "bye" | openssl s_client -connect 127.0.0.1:4433 -servername localhost \
    -alpn mqtt -CAfile ca.crt >/dev/null 2>&1 || true
  stop_server; stop_dump; reference tls13.pcap 4433; echo "wrote tls13.pcap"
fi

# TLS 1.2 on 8443 (an HTTPS port): the certificates travel in the clear; ALPN http/1.1.
if want tls12.pcap; then
  start_dump tls12.pcap 8443
  start_server 8443 -tls1_2 -alpn http/1.1
  lines "GET / HTTP/1.1" "Host: localhost" "" | openssl s_client -connect 127.0.0.1:8443 \
    -servername localhost -alpn http/1.1 -CAfile ca.crt >/dev/null 2>&1 || true
  stop_server; stop_dump; reference tls12.pcap 8443; echo "wrote tls12.pcap"
fi

# The client rejects the server's certificate: it does not know the CA (no -CAfile) and
# -verify_return_error makes that fatal. TLS 1.2, so the certificate and the client's alert
# (fatal, unknown_ca) are in the clear; in TLS 1.3 the alert would be encrypted.
if want alert.pcap; then
  start_dump alert.pcap 4433
  start_server 4433 -tls1_2
  lines "never sent" | openssl s_client -connect 127.0.0.1:4433 -servername localhost \
    -verify_return_error >/dev/null 2>&1 || true
  stop_server; stop_dump; reference alert.pcap 4433; echo "wrote alert.pcap"
fi

# HelloRetryRequest (RFC 8446 §4.1.4): the client sends a key share for X25519 only, the server
# accepts only P-256 and asks again; the second ClientHello carries a P-256 share.
if want hrr.pcap; then
  start_dump hrr.pcap 4433
  start_server 4433 -tls1_3 -groups P-256
  lines "halo" | openssl s_client -connect 127.0.0.1:4433 -servername localhost \
    -groups X25519:P-256 -CAfile ca.crt >/dev/null 2>&1 || true
  stop_server; stop_dump; reference hrr.pcap 4433; echo "wrote hrr.pcap"
fi

# A capture that starts after the handshake: tcpdump starts once the client is connected, so the
# capture holds only application_data records (and no SYN).
if want midstream.pcap; then
  start_server 4433 -tls1_3
  { sleep 2.5; for l in satu dua tiga empat lima; do echo "$l"; sleep 0.3; done; } |
    openssl s_client -connect 127.0.0.1:4433 -servername localhost -CAfile ca.crt \
      >/dev/null 2>&1 &
  client=$!
  sleep 1
  start_dump midstream.pcap 4433
  wait "$client" || true
  stop_server; stop_dump; reference midstream.pcap 4433; echo "wrote midstream.pcap"
fi

# Mosquitto on 8883 (MQTT's TLS port) with the same certificate; mosquitto_pub publishes three
# messages to sister/temp over TLS (1.3, what both ends support best).
if want mosquitto.pcap; then
  cat > mosquitto.conf <<CONF
listener 8883 127.0.0.1
allow_anonymous true
persistence false
cafile $keys/ca.crt
certfile $keys/server.crt
keyfile $keys/server.key
CONF
  start_dump mosquitto.pcap 8883
  mosquitto -c mosquitto.conf >/dev/null 2>&1 &
  broker=$!
  sleep 0.5
  printf 'Suhu: 28°C\nSuhu: 29°C\nSuhu: 30°C\n' | mosquitto_pub -h localhost -p 8883 \
    --cafile ca.crt -t sister/temp -l -q 1 || true
  sleep 0.3
  kill "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true
  stop_dump; reference mosquitto.pcap 8883; echo "wrote mosquitto.pcap"
fi
