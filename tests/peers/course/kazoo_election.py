"""kazoo's own Election recipe (zk.Election(path, identifier).run(func)), the peer of
`sister zk election --recipe sequential`: both queue as <uuid>__lock__<seq> znodes under the same path.

    python3 kazoo_election.py --id 1 --server 127.0.0.1:2181 --path /leader_election
"""
import argparse
import time

from kazoo.client import KazooClient

p = argparse.ArgumentParser()
p.add_argument("--id", type=int, required=True)
p.add_argument("--server", default="zookeeper:2181")
p.add_argument("--path", default="/leader_election")
p.add_argument("--interval", type=float, default=5.0)
p.add_argument("--timeout", type=float, default=10.0, help="session timeout (s)")
a = p.parse_args()

zk = KazooClient(hosts=a.server, timeout=a.timeout)
zk.start()
election = zk.Election(a.path, f"kazoo node {a.id}")


def lead():
    print(f"node {a.id}: I am the leader", flush=True)
    while True:
        print(f"node {a.id}: leader duty: coordinating the cluster", flush=True)
        time.sleep(a.interval)


print(f"node {a.id}: following (queued in kazoo's Election)", flush=True)
election.run(lead)
