"""The two sides of bench/mqtt-auth.sh, on raw sockets (no MQTT library, so nothing of a client
library's own scheduling is measured).

  python3 bench/mqtt_auth.py latency PORT USER PASSWORD [INTERVAL_MS]
      A legitimate client: one connection subscribed to `bench/auth`, another publishing to it
      (MQTT 3.1.1, QoS 0, both logged in as USER). Every INTERVAL_MS (default 2) it publishes one
      message and times it until the subscriber has it. Runs until SIGTERM or SIGINT, then prints
      `LATENCY n=.. p50_us=.. p99_us=.. max_us=..`.

  python3 bench/mqtt_auth.py flood PORT USER N
      N CONNECTs in a row as USER with a wrong password, each waiting for its CONNACK before the next
      (MQTT 3.1.1). Prints `FLOOD n=.. refused_5=.. other=.. seconds=.. per_connect_ms=..`.
"""
import signal
import socket
import struct
import sys
import time


def remaining_length(n):
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def mqtt_string(b):
    return struct.pack(">H", len(b)) + b


def connect_packet(client_id, user, password):
    # Protocol "MQTT" level 4 (3.1.1); flags: user name, password, clean session; keep-alive 60 s.
    var = mqtt_string(b"MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60)
    payload = mqtt_string(client_id) + mqtt_string(user) + mqtt_string(password)
    body = var + payload
    return bytes([0x10]) + remaining_length(len(body)) + body


def read_packet(s):
    """One whole packet: (first byte, body)."""
    head = recv_exactly(s, 1)
    mult, length = 1, 0
    while True:
        b = recv_exactly(s, 1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return head[0], recv_exactly(s, length)


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        buf += chunk
    return buf


def login(port, client_id, user, password):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(60)
    s.sendall(connect_packet(client_id, user, password))
    kind, body = read_packet(s)
    return s, kind, body


def latency(port, user, password, interval_ms=2.0):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sub, kind, body = login(port, b"bench-auth-sub", user, password)
    assert kind == 0x20 and body[1] == 0, f"subscriber refused: {body!r}"
    pub, kind, body = login(port, b"bench-auth-pub", user, password)
    assert kind == 0x20 and body[1] == 0, f"publisher refused: {body!r}"
    topic = b"bench/auth"
    sub_body = struct.pack(">H", 1) + mqtt_string(topic) + b"\x00"
    sub.sendall(bytes([0x82]) + remaining_length(len(sub_body)) + sub_body)
    kind, _ = read_packet(sub)
    assert kind == 0x90, "no SUBACK"
    samples = []
    seq = 0
    while not stop:
        seq += 1
        payload = struct.pack(">Q", seq)
        publish = mqtt_string(topic) + payload
        t0 = time.perf_counter()
        pub.sendall(bytes([0x30]) + remaining_length(len(publish)) + publish)
        while True:
            kind, body = read_packet(sub)
            if kind & 0xF0 == 0x30 and body.endswith(payload):
                break
        samples.append(time.perf_counter() - t0)
        time.sleep(interval_ms / 1000)
    samples.sort()

    def pct(p):
        return int(samples[min(len(samples) - 1, int(len(samples) * p))] * 1e6) if samples else 0

    print(f"LATENCY n={len(samples)} p50_us={pct(0.50)} p99_us={pct(0.99)} max_us={pct(1.0)}")


def flood(port, user, n):
    refused, other = 0, 0
    t0 = time.perf_counter()
    for i in range(n):
        s, kind, body = login(port, b"bench-auth-flood-%d" % i, user, b"wrong-password")
        if kind == 0x20 and body[1] == 5:
            refused += 1
        else:
            other += 1
        s.close()
    secs = time.perf_counter() - t0
    print(f"FLOOD n={n} refused_5={refused} other={other} seconds={secs:.2f} per_connect_ms={secs / n * 1000:.2f}")


if __name__ == "__main__":
    mode, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    if mode == "latency":
        interval = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
        latency(port, user, sys.argv[4].encode(), interval)
    elif mode == "flood":
        flood(port, user, int(sys.argv[4]))
    else:
        sys.exit(__doc__)
