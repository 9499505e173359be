"""The course's ZooKeeper lock demo (LAB.md), with kazoo's Lock: /balance starts at 1000; client A
takes /balance_lock, reads, holds it 20 s, adds 500; client B waits for the lock, subtracts 300.

    python3 zk_lock.py --client A --server 127.0.0.1:2181 [--hold 20]
"""
import argparse
import time

from kazoo.client import KazooClient

p = argparse.ArgumentParser()
p.add_argument("--client", choices=["A", "B"], required=True)
p.add_argument("--server", default="zookeeper:2181")
p.add_argument("--hold", type=float, default=None)
p.add_argument("--lock-path", default="/balance_lock")
p.add_argument("--balance-path", default="/balance")
p.add_argument("--timeout", type=float, default=10.0, help="session timeout (s)")
a = p.parse_args()
hold = a.hold if a.hold is not None else (20.0 if a.client == "A" else 0.0)
amount = 500 if a.client == "A" else -300
name = f"client {a.client}"

zk = KazooClient(hosts=a.server, timeout=a.timeout)
zk.start()
if not zk.exists(a.balance_path):
    zk.create(a.balance_path, b"1000", makepath=True)

lock = zk.Lock(a.lock_path, name)
print(f"{name}: waiting for the lock {a.lock_path}", flush=True)
with lock:
    print(f"{name}: acquired the lock {a.lock_path}", flush=True)
    data, _ = zk.get(a.balance_path)
    balance = int(data.decode())
    print(f"{name}: read balance {balance}", flush=True)
    time.sleep(hold)
    balance += amount
    zk.set(a.balance_path, str(balance).encode())
    print(f"{name}: wrote balance {balance}", flush=True)
print(f"{name}: released the lock", flush=True)
zk.stop()
