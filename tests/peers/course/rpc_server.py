"""The course's JSON-RPC 2.0 server: the json-rpc 1.15 package on Python's BaseHTTPServer (HTTP/1.0).

Run: python3 rpc_server.py [PORT]   (default 4000 on 0.0.0.0)

Exactly as the course's: POST / with a JSON-RPC body; the answer has no Content-Length and the server
closes the connection to end it (HTTP/1.0). Like the course's, `add` returns a / b (a bug of the course,
kept here on purpose so the tests see sister's client print what the real server answers); `multiply`
returns a * b.
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from jsonrpc import JSONRPCResponseManager, dispatcher


@dispatcher.add_method
def add(a, b):
    return a / b


@dispatcher.add_method
def multiply(a, b):
    return a * b


class RequestHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        content_length = int(self.headers["Content-Length"])
        post_data = self.rfile.read(content_length)
        response = JSONRPCResponseManager.handle(post_data, dispatcher)
        self.send_response(200)
        self.send_header("Content-type", "application/json")
        self.end_headers()
        if response is not None:
            self.wfile.write(response.json.encode())


def run(port):
    server = HTTPServer(("0.0.0.0", port), RequestHandler)
    print(f"JSON-RPC server listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
