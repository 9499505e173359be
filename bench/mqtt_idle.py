"""Open N idle MQTT connections to a broker and report the broker's memory per connection.

Usage: python3 bench/mqtt_idle.py PORT BROKER_PID N
Each connection sends a CONNECT (MQTT 3.1.1, keep-alive 600 s) and waits for its CONNACK; the broker's
resident memory (VmRSS) is read before and after, and the difference divided by N.
Prints: `IDLE n=<N> ok=<connected> rss_before_kb=.. rss_after_kb=.. per_conn_bytes=..`.
"""
import resource
import socket
import sys
import time

port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect_packet(cid):
    body = b"\x00\x04MQTT\x04\x02\x02\x58" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


time.sleep(0.5)
before = rss_kb()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(connect_packet(b"idle-%d" % i))
    socks.append(s)
ok = 0
for s in socks:
    s.settimeout(30)
    ack = b""
    try:
        while len(ack) < 4:
            chunk = s.recv(4 - len(ack))
            if not chunk:
                break
            ack += chunk
    except OSError:
        pass
    ok += ack == b"\x20\x02\x00\x00"
time.sleep(1.0)
after = rss_kb()
print(f"IDLE n={n} ok={ok} rss_before_kb={before} rss_after_kb={after} per_conn_bytes={(after - before) * 1024 // max(ok, 1)}", flush=True)
for s in socks:
    s.close()
