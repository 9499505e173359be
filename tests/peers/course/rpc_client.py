"""The course's JSON-RPC 2.0 client (requests 2.32): calls add [10, 2] and multiply [10, 5].

Run: python3 rpc_client.py [URL]   (default http://rpc-server:4000/)

Prints `Result of add: ...` and `Result of multiply: ...`. The tests run it against `sister rpc server`.
"""
import json
import sys

import requests


def call(url, method, params, id_):
    payload = {"jsonrpc": "2.0", "method": method, "params": params, "id": id_}
    headers = {"content-type": "application/json"}
    response = requests.post(url, data=json.dumps(payload), headers=headers).json()
    return response["result"]


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://rpc-server:4000/"
    print(f"Result of add: {call(url, 'add', [10, 2], 1)}")
    print(f"Result of multiply: {call(url, 'multiply', [10, 5], 2)}")
