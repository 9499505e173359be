# The course's one-way server: prints each recv(1024), never answers; one client.
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3131

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(1)
print(f"Server listening on {HOST}:{PORT}", flush=True)
conn, addr = server.accept()
print(f"Connected by {addr}", flush=True)
while True:
    data = conn.recv(1024)
    if not data:
        break
    print(f"Received: {data.decode()}", flush=True)
conn.close()
server.close()
