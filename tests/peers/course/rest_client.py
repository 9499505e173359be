"""The course's REST client (requests 2.32): calls /add and/or /mul and prints `add(10,5) = 15`.

Run: python3 rest_client.py --op add|mul|both -a 10 -b 5 [--server http://rest-server:5151]

Each call is a new connection (requests.get, timeout 3 s). The tests run it against `sister rest server`.
"""
import argparse

import requests


def call(base, op, a, b):
    r = requests.get(f"{base}/{op}", params={"a": a, "b": b}, timeout=3)
    if r.status_code != 200:
        print(f"{op}({a},{b}) failed: HTTP {r.status_code} {r.json()}")
        return
    print(f"{op}({a},{b}) = {r.json()['result']}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--op", choices=["add", "mul", "both"], default="both")
    p.add_argument("-a", default="10")
    p.add_argument("-b", default="5")
    p.add_argument("--server", default="http://rest-server:5151")
    args = p.parse_args()
    ops = ["add", "mul"] if args.op == "both" else [args.op]
    for op in ops:
        call(args.server, op, args.a, args.b)
