"""Subscribe on one connection, publish on another at once: does the subscriber get the message?

MQTT orders packets only within one connection (3.1.1 and 5.0 §4.6), so a broker may route the PUBLISH
before it applies the other connection's SUBSCRIBE. A single-threaded broker (Mosquitto) keeps the
arrival order in practice, and clients count on it (paho.mqtt.testing's request_response and
subscribe_options tests do). This counts the misses over ROUNDS rounds, raw MQTT 3.1.1 over loopback.

Usage: python3 bench/mqtt_race.py PORT [ROUNDS]   (the broker must listen on 127.0.0.1:PORT)
"""
import socket
import sys
import time


def connect(port, client_id):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + len(client_id).to_bytes(2, "big") + client_id
    s.sendall(bytes([0x10, len(body)]) + body)
    if s.recv(4)[:2] != b"\x20\x02":
        sys.exit("no CONNACK")
    return s


def main():
    port = int(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    publisher = connect(port, b"race-pub")
    subscriber = connect(port, b"race-sub")
    subscriber.settimeout(2)
    missed = 0
    for i in range(rounds):
        topic = b"race/%d" % i
        sub = (i % 65535 + 1).to_bytes(2, "big") + len(topic).to_bytes(2, "big") + topic + b"\x00"
        subscriber.sendall(bytes([0x82, len(sub)]) + sub)
        pub = len(topic).to_bytes(2, "big") + topic + b"x"
        publisher.sendall(bytes([0x30, len(pub)]) + pub)  # right after, on the other connection
        # Expect SUBACK (5 bytes), then the PUBLISH if it was routed to us.
        want = 5 + 2 + len(pub)
        data = b""
        deadline = time.time() + 0.5
        while len(data) < want and time.time() < deadline:
            try:
                chunk = subscriber.recv(want - len(data))
            except socket.timeout:
                break
            if not chunk:
                sys.exit("the broker closed the subscriber's connection")
            data += chunk
        if len(data) < want:
            missed += 1
    print(f"127.0.0.1:{port}: {missed} of {rounds} messages missed")


if __name__ == "__main__":
    main()
