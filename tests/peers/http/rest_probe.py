"""Probe a REST calculator with `requests` (the course's client library) and print one JSON line per
request: {"path", "status", "content_type", "body"}.

Run: python3 rest_probe.py BASE_URL PATH...     (e.g. http://127.0.0.1:5151 '/add?a=10&b=5')
     a PATH starting with 'POST ' is sent as POST.
The tests compare what sister's server answers with what the course's Flask server answers.
"""
import json
import sys

import requests

base = sys.argv[1]
for path in sys.argv[2:]:
    if path.startswith("POST "):
        r = requests.post(base + path[5:], timeout=10)
    else:
        r = requests.get(base + path, timeout=10)
    print(json.dumps({
        "path": path,
        "status": r.status_code,
        "content_type": r.headers.get("Content-Type"),
        "body": r.text,
    }), flush=True)
