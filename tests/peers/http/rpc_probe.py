"""Post raw bodies to a JSON-RPC server with `requests` and print one JSON line per body:
{"status", "body"} (body as text, "" when empty).

Run: python3 rpc_probe.py URL BODY...
"""
import json
import sys

import requests

url = sys.argv[1]
for body in sys.argv[2:]:
    r = requests.post(url, data=body.encode(), headers={"content-type": "application/json"}, timeout=10)
    print(json.dumps({"status": r.status_code, "body": r.text}), flush=True)
