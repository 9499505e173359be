# The course's one-way client: sends each line bare and reads nothing.
# Lines come from the arguments after HOST PORT, or from stdin (`bye` ends, not sent).
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "oneway-server"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3131
scripted = sys.argv[3:]

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
if scripted:
    for message in scripted:
        client.sendall(message.encode())
else:
    while True:
        try:
            message = input("Enter message: ")
        except EOFError:
            break
        if message == "bye":
            break
        client.sendall(message.encode())
client.close()
