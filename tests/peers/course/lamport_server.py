"""The course's Lamport process A (LAB.md, and the student capture lamport__auliamghfr__lamport.pcap):
listens on 12345, adds 100 to a balance of 1000, sends {"message", "balance", "timestamp"} as one JSON
object with no terminator, reads B's answer with one recv(1024), sets clock = max(own, received) + 1.

    python3 lamport_server.py [PORT]
"""
import json
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 12345
clock = 0
balance = 1000

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1)
print(f"Process A listening on port {port}", flush=True)
conn, addr = s.accept()
print(f"Connected by {addr}", flush=True)

balance += 100
clock += 1
msg = {"message": "Add $100", "balance": balance, "timestamp": clock}
conn.sendall(json.dumps(msg).encode())
print(f"Sent: {msg}", flush=True)

data = conn.recv(1024)
received = json.loads(data.decode())
clock = max(clock, received["timestamp"]) + 1
balance = received["balance"]
print(f"Received: {received}", flush=True)
print(f"Process A: balance {balance}, clock {clock}", flush=True)
conn.close()
s.close()
