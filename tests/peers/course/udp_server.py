# The course's UDP server: prints each datagram and answers with the sender's address as Python prints it.
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 12345

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((HOST, PORT))
print(f"UDP server listening on {HOST}:{PORT}", flush=True)
while True:
    data, addr = server.recvfrom(1024)
    message = data.decode()
    print(f"Received message: {message} from {addr}", flush=True)
    server.sendto(f"Hello, {addr}. You said: {message}".encode(), addr)
