"""A pyzmq (libzmq 4.3) peer for sister's ZeroMQ interop tests, behaving as the course's programs do.

usage: zmq_peer.py ROLE bind|connect ENDPOINT [args...]
  rep  N               answer N requests with World           prints `got <request>`
  req  N               send Hello N times                      prints `reply <reply>`
  pub                  send `WAKTU <asctime>` and `NOISE x` every 0.1 s until killed
  sub  TOPIC IDLE      subscribe TOPIC; print `msg <text>` until IDLE seconds pass without one, then `total <n>`
  push N WORKERS       wait for WORKERS connections, send N pickled workloads (send_pyobj), then linger
  pull IDLE            recv_pyobj until IDLE seconds of silence; prints `work <n>`, then `total <n>`
Every role prints `ready` once its socket is bound or connecting.
"""
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

role, mode, endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
kinds = {"rep": zmq.REP, "req": zmq.REQ, "pub": zmq.PUB, "sub": zmq.SUB, "push": zmq.PUSH, "pull": zmq.PULL}
ctx = zmq.Context()
s = ctx.socket(kinds[role])
mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED) if role == "push" else None
if role == "sub":
    s.setsockopt_string(zmq.SUBSCRIBE, args[0])
(s.bind if mode == "bind" else s.connect)(endpoint)
print("ready", flush=True)

if role == "rep":
    for _ in range(int(args[0])):
        m = s.recv()
        print("got", m.decode(), flush=True)
        s.send(b"World")
elif role == "req":
    for _ in range(int(args[0])):
        s.send(b"Hello")
        print("reply", s.recv().decode(), flush=True)
elif role == "pub":
    while True:
        s.send_string("WAKTU " + time.asctime())
        s.send_string("NOISE x")
        time.sleep(0.1)
elif role in ("sub", "pull"):
    idle = float(args[-1])
    s.setsockopt(zmq.RCVTIMEO, int(idle * 1000))
    n = 0
    while True:
        try:
            if role == "sub":
                print("msg", s.recv().decode(), flush=True)
            else:
                print("work", s.recv_pyobj(), flush=True)
            n += 1
        except zmq.Again:
            break
    print("total", n, flush=True)
elif role == "push":
    n, workers = int(args[0]), int(args[1])
    seen = 0
    while seen < workers:
        if recv_monitor_message(mon)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            seen += 1
    for i in range(n):
        s.send_pyobj(1 + i % 100)
    print("sent", n, flush=True)
    s.setsockopt(zmq.LINGER, 5000)
    s.disable_monitor()
    mon.close(0)
s.close()
ctx.term()
