"""The course's ZooKeeper leader election (LAB.md), with kazoo: each node creates an ephemeral znode
under /leader_election_priority; the highest node id leads; every node re-checks every 5 s and reports
the current leader; the leader prints its duty. Flags only make the test fast (--interval, --timeout)
and pick the server; the lines printed match sister's so the tests read both alike.

    python3 zk_election.py --id 2 --server 127.0.0.1:2181
"""
import argparse
import time

from kazoo.client import KazooClient

p = argparse.ArgumentParser()
p.add_argument("--id", type=int, required=True)
p.add_argument("--server", default="zookeeper:2181")
p.add_argument("--path", default="/leader_election_priority")
p.add_argument("--interval", type=float, default=5.0)
p.add_argument("--timeout", type=float, default=10.0, help="session timeout (s)")
a = p.parse_args()

zk = KazooClient(hosts=a.server, timeout=a.timeout)
zk.start()
zk.ensure_path(a.path)
zk.create(f"{a.path}/node_{a.id}", str(a.id).encode(), ephemeral=True)

last = None
while True:
    ids = []
    for child in zk.get_children(a.path):
        tail = child.rsplit("_", 1)[-1]
        if tail.isdigit():
            ids.append(int(tail))
    leader = max(ids) if ids else None
    if leader == a.id:
        state = "I am the leader"
    elif leader is None:
        state = "no leader"
    else:
        state = f"following node {leader}"
    if state != last:
        print(f"node {a.id}: {state}", flush=True)
        last = state
    if leader == a.id:
        print(f"node {a.id}: leader duty: coordinating the cluster", flush=True)
    time.sleep(a.interval)
