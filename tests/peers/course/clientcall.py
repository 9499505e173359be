# The course's upcall client: a line from stdin, sent bare, one recv(1024) as the upcall; `bye` ends.
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "upcall-server"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 4141

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
while True:
    try:
        message = input("Enter message: ")
    except EOFError:
        break
    if message == "bye":
        break
    client.sendall(message.encode())
    data = client.recv(1024)
    print(f"Received: {data.decode()}", flush=True)
client.close()
