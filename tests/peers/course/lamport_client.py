"""The course's Lamport process B (LAB.md): connects to A, reads A's message with one recv(1024),
sets clock = max(own, received) + 1, subtracts 50, sends its message (clock + 1) as one JSON object
with no terminator, and closes.

    python3 lamport_client.py [HOST] [PORT]
"""
import json
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "lamport-server"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 12345
clock = 0

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
data = s.recv(1024)
received = json.loads(data.decode())
clock = max(clock, received["timestamp"]) + 1
print(f"Received: {received}", flush=True)

balance = received["balance"] - 50
clock += 1
msg = {"message": "Subtract $50", "balance": balance, "timestamp": clock}
s.sendall(json.dumps(msg).encode())
print(f"Sent: {msg}", flush=True)
print(f"Process B: balance {balance}, clock {clock}", flush=True)
s.close()
