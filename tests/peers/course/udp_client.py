# The course's UDP client: one datagram, then wait (no timeout) for one reply of up to 1024 bytes.
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "udp-server"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 12345

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.sendto("Hello, UDP server2!".encode(), (HOST, PORT))
data, addr = client.recvfrom(1024)
print(f"Received: {data.decode()}", flush=True)
client.close()
