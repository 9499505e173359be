# The course's scripted TCP client: four messages, one recv(1024) after each; it does send "bye".
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "reqresp-server"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 2222

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
for message in ["hello", "distributed", "systems", "bye"]:
    client.sendall(message.encode())
    data = client.recv(1024)
    print(f"Received: {data.decode()}", flush=True)
client.close()
