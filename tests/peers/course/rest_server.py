"""The course's REST server (Flask 3.0): GET /add?a=&b= and GET /mul?a=&b=.

Run: python3 rest_server.py [PORT]   (default 5151 on 0.0.0.0, as in the course's compose file)

A missing or non-integer parameter answers HTTP 400 {"error": "Invalid input"}. The tests use it as the
real peer of `sister rest client`, and as the baseline of bench/http.sh.
"""
import logging
import sys

from flask import Flask, jsonify, request

app = Flask(__name__)


def _operands():
    try:
        return int(request.args.get("a")), int(request.args.get("b"))
    except (TypeError, ValueError):
        return None


@app.route("/add")
def add():
    ops = _operands()
    if ops is None:
        return jsonify({"error": "Invalid input"}), 400
    a, b = ops
    return jsonify({"result": a + b})


@app.route("/mul")
def mul():
    ops = _operands()
    if ops is None:
        return jsonify({"error": "Invalid input"}), 400
    a, b = ops
    return jsonify({"result": a * b})


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5151
    if "--quiet" in sys.argv:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="0.0.0.0", port=port)
