"""paho-mqtt scenarios against an MQTT broker (used by tests/mqtt_broker.rs against sister's broker).

Usage: python3 mqtt_broker_peer.py SCENARIO PORT VERSION   (VERSION: 3 for MQTT 3.1.1, 5 for MQTT 5.0)
Prints `PASS <scenario>` and exits 0, or prints what went wrong and exits 1.
paho-mqtt 2.1.0, as the course pins it.
"""
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

SCENARIO, PORT, VERSION = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PROTO = mqtt.MQTTv5 if VERSION == "5" else mqtt.MQTTv311
TIMEOUT = 20


def fail(msg):
    print("FAIL", SCENARIO, msg, flush=True)
    sys.exit(1)


class Peer:
    """A paho client that records what it receives and waits for its acknowledgements."""

    def __init__(self, client_id, clean=True, expiry=None, will=None, will_delay=None, connect_props=None):
        self.got = []
        self.lock = threading.Lock()
        self.subacks = []
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=PROTO,
            clean_session=None if PROTO == mqtt.MQTTv5 else clean,
        )
        self.clean = clean
        self.expiry = expiry
        self.connect_props = connect_props or {}
        self.c.on_message = self.on_message
        self.c.on_subscribe = lambda c, u, mid, codes, props: self.subacks.append(mid)
        self.connected = threading.Event()
        self.session_present = None

        def on_connect(c, u, flags, rc, props):
            self.session_present = flags.session_present
            self.connected.set()

        self.c.on_connect = on_connect
        if will:
            will_props = None
            if will_delay is not None:
                will_props = Properties(PacketTypes.WILLMESSAGE)
                will_props.WillDelayInterval = will_delay
            self.c.will_set(*will, properties=will_props)

    def on_message(self, c, u, m):
        with self.lock:
            self.got.append((m.topic, m.payload.decode(), m.qos, bool(m.retain)))

    def connect(self):
        props = None
        kwargs = {}
        if PROTO == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            if self.expiry is not None:
                props.SessionExpiryInterval = self.expiry
            for name, value in self.connect_props.items():
                setattr(props, name, value)
            kwargs = {"clean_start": self.clean, "properties": props}
        self.connected.clear()
        self.c.connect("127.0.0.1", PORT, keepalive=60, **kwargs)
        self.c.loop_start()
        if not self.connected.wait(TIMEOUT):
            fail("no CONNACK")

    def subscribe(self, topic, qos):
        r, mid = self.c.subscribe(topic, qos)
        deadline = time.time() + TIMEOUT
        while mid not in self.subacks:
            if time.time() > deadline:
                fail(f"no SUBACK for {topic}")
            time.sleep(0.01)

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            fail(f"publish to {topic} not acknowledged")

    def wait_for(self, n, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while True:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            if time.time() > deadline:
                with self.lock:
                    return list(self.got)
            time.sleep(0.01)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def qos():
    sub = Peer("paho-sub")
    sub.connect()
    for q in (0, 1, 2):
        sub.subscribe(f"qos/{q}", q)
    pub = Peer("paho-pub")
    pub.connect()
    for q in (0, 1, 2):
        for i in range(20):
            pub.publish(f"qos/{q}", f"m{i}", qos=q)
    got = sub.wait_for(60)
    for q in (0, 1, 2):
        mine = [m for (t, m, gq, _) in got if t == f"qos/{q}"]
        if mine != [f"m{i}" for i in range(20)]:
            fail(f"QoS {q}: got {mine} (want m0..m19 in order, once each)")
        if any(gq != q for (t, _, gq, _) in got if t == f"qos/{q}"):
            fail(f"QoS {q}: delivered with another QoS: {got}")
    pub.stop()
    sub.stop()


def retained():
    pub = Peer("paho-ret-pub")
    pub.connect()
    pub.publish("ret/a", "first", qos=1, retain=True)
    pub.publish("ret/a", "second", qos=1, retain=True)  # replaces
    pub.publish("ret/b", "other", qos=1, retain=True)
    sub = Peer("paho-ret-sub")
    sub.connect()
    sub.subscribe("ret/#", 1)
    got = sorted(sub.wait_for(2))
    if got != [("ret/a", "second", 1, True), ("ret/b", "other", 1, True)]:
        fail(f"retained on subscribe: {got}")
    # Live messages have RETAIN clear (3.1.1 §3.3.1.3).
    pub.publish("ret/a", "live", qos=1, retain=True)
    got = sub.wait_for(3)
    if got[-1] != ("ret/a", "live", 1, False):
        fail(f"live retained message forwarded as {got[-1]}")
    sub.stop()
    pub.publish("ret/a", "", qos=1, retain=True)  # clears
    sub2 = Peer("paho-ret-sub2")
    sub2.connect()
    sub2.subscribe("ret/#", 1)
    got = sub2.wait_for(3, timeout=1.5)
    if sorted(got) != [("ret/b", "other", 1, True)]:
        fail(f"after clearing ret/a: {got}")
    sub2.stop()
    pub.stop()


def persistent():
    expiry = 300 if PROTO == mqtt.MQTTv5 else None
    sub = Peer("paho-persist", clean=False, expiry=expiry)
    sub.connect()
    sub.subscribe("persist/t", 1)
    sub.stop()
    time.sleep(0.3)
    pub = Peer("paho-persist-pub")
    pub.connect()
    for i in range(5):
        pub.publish("persist/t", f"offline{i}", qos=1)
    pub.stop()
    sub2 = Peer("paho-persist", clean=False, expiry=expiry)
    sub2.connect()
    if not sub2.session_present:
        fail("session present flag not set on reconnect")
    got = sub2.wait_for(5)
    if [m for (_, m, _, _) in got] != [f"offline{i}" for i in range(5)]:
        fail(f"queued while offline: {got}")
    sub2.stop()


def will():
    sub = Peer("paho-will-sub")
    sub.connect()
    sub.subscribe("will/#", 1)
    w = Peer("paho-will", will=("will/paho", "gone", 1, False))
    w.connect()
    # Die without DISCONNECT: close the socket under paho's feet.
    w.c.loop_stop()
    w.c.socket().close()
    got = sub.wait_for(1)
    if got != [("will/paho", "gone", 1, False)]:
        fail(f"will message: {got}")
    # A clean DISCONNECT discards the will.
    w2 = Peer("paho-will2", will=("will/paho2", "gone", 1, False))
    w2.connect()
    w2.stop()
    got = sub.wait_for(2, timeout=1.5)
    if len(got) != 1:
        fail(f"will sent after a clean DISCONNECT: {got}")
    sub.stop()


def v5features():
    """MQTT 5.0 only: subscription identifiers (one copy, all ids), user properties passed through,
    no-local, a topic alias from the client, shared subscriptions taking turns."""
    if PROTO != mqtt.MQTTv5:
        fail("v5features needs VERSION 5")
    got = []
    ev = threading.Event()

    def on_message(c, u, m):
        props = m.properties
        ids = sorted(getattr(props, "SubscriptionIdentifier", []) or [])
        users = getattr(props, "UserProperty", []) or []
        got.append((m.topic, m.payload.decode(), ids, users))
        ev.set()

    sub = Peer("paho-v5-sub")
    sub.c.on_message = on_message
    sub.connect()
    for topic, sid in (("v5/+/x", 1), ("v5/#", 2)):
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = sid
        r, mid = sub.c.subscribe(topic, qos=1, properties=props)
        deadline = time.time() + TIMEOUT
        while mid not in sub.subacks:
            if time.time() > deadline:
                fail("no SUBACK")
            time.sleep(0.01)
    pub = Peer("paho-v5-pub")
    pub.connect()
    # No-local: the publisher subscribes to its own topic with no-local and must not get it back.
    from paho.mqtt.subscribeoptions import SubscribeOptions
    echo = []
    pub.c.on_message = lambda c, u, m: echo.append(m.payload)
    r, mid = pub.c.subscribe("v5/a/x", options=SubscribeOptions(qos=1, noLocal=True))
    deadline = time.time() + TIMEOUT
    while mid not in pub.subacks:
        if time.time() > deadline:
            fail("no SUBACK for no-local")
        time.sleep(0.01)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("course", "sister")]
    props.TopicAlias = 7
    pub.c.publish("v5/a/x", "with alias", qos=1, properties=props).wait_for_publish(TIMEOUT)
    props2 = Properties(PacketTypes.PUBLISH)
    props2.TopicAlias = 7
    pub.c.publish("", "alias only", qos=1, properties=props2).wait_for_publish(TIMEOUT)
    deadline = time.time() + TIMEOUT
    while len(got) < 2 and time.time() < deadline:
        time.sleep(0.01)
    if len(got) != 2:
        fail(f"expected 2 messages (one copy each), got {got}")
    if got[0][:3] != ("v5/a/x", "with alias", [1, 2]):
        fail(f"first message: {got[0]} (want both subscription ids in one copy)")
    if ("course", "sister") not in [tuple(u) for u in got[0][3]]:
        fail(f"user property not passed through: {got[0][3]}")
    if got[1][:2] != ("v5/a/x", "alias only"):
        fail(f"topic alias not resolved: {got[1]}")
    time.sleep(0.3)
    if echo:
        fail(f"no-local subscription got the publisher's own message back: {echo}")
    # Shared subscription: two members take turns.
    members = [Peer(f"paho-share-{i}") for i in range(2)]
    for m in members:
        m.connect()
        m.subscribe("$share/workers/jobs/#", 1)
    for i in range(10):
        pub.publish("jobs/new", f"job{i}", qos=1)
    counts = [len(m.wait_for(5, timeout=5)) for m in members]
    if counts != [5, 5]:
        fail(f"shared subscription split {counts}, want [5, 5]")
    for m in members:
        m.stop()
    pub.stop()
    sub.stop()


def need_v5():
    if PROTO != mqtt.MQTTv5:
        fail(f"{SCENARIO} needs VERSION 5")


def aliasout():
    """MQTT 5.0 topic aliases from the broker to the client (§3.3.2.3.4): a client whose CONNECT says
    Topic Alias Maximum 2 gets the first PUBLISH on a topic with topic and alias, later ones with the
    alias only, never an alias above 2. paho-mqtt 2.1.0 does not resolve incoming aliases itself, so
    this peer does what its application would: remember alias -> topic."""
    need_v5()
    got = []

    def recorder(peer):
        def on_message(c, u, m):
            with peer.lock:
                got.append((m.topic, getattr(m.properties, "TopicAlias", None), m.payload.decode()))
        return on_message

    def resolve(records, maximum):
        aliases, out = {}, []
        for topic, alias, payload in records:
            if alias is not None:
                if not 1 <= alias <= maximum:
                    fail(f"alias {alias} outside 1..={maximum}: {records}")
                if topic:
                    aliases[alias] = topic
                elif alias not in aliases:
                    fail(f"alias {alias} used before the broker set it: {records}")
                topic = aliases[alias]
            elif not topic:
                fail(f"empty topic without an alias: {records}")
            out.append((topic, payload))
        return out

    sub = Peer("paho-alias-sub", connect_props={"TopicAliasMaximum": 2})
    sub.c.on_message = recorder(sub)
    sub.connect()
    sub.subscribe("alias/#", 1)
    pub = Peer("paho-alias-pub")
    pub.connect()
    sent = [("alias/a", "m1", 0), ("alias/b", "m2", 1), ("alias/a", "m3", 1), ("alias/c", "m4", 0),
            ("alias/b", "m5", 1), ("alias/c", "m6", 1), ("alias/a", "m7", 0)]
    for topic, payload, q in sent:
        pub.publish(topic, payload, qos=q)
    deadline = time.time() + TIMEOUT
    while len(got) < len(sent) and time.time() < deadline:
        time.sleep(0.01)
    if resolve(got, 2) != [(t, m) for (t, m, _) in sent]:
        fail(f"resolved topics {resolve(got, 2)} != sent {sent}; as received: {got}")
    if [a for (_, a, _) in got] != [1, 2, 1, None, 2, None, 1]:
        fail(f"aliases used {[a for (_, a, _) in got]}, want [1, 2, 1, None, 2, None, 1]: {got}")
    if [t for (t, _, _) in got] != ["alias/a", "alias/b", "", "alias/c", "", "alias/c", ""]:
        fail(f"topics as received: {got} (a known alias should replace the topic)")
    sub.stop()

    # A message too big for the client's Maximum Packet Size is not sent (§3.1.2.11.4), so the alias it
    # would have introduced must not be used by the next PUBLISH on that topic.
    got.clear()
    small = Peer("paho-alias-small", connect_props={"TopicAliasMaximum": 1, "MaximumPacketSize": 100})
    small.c.on_message = recorder(small)
    small.connect()
    small.subscribe("alias/big", 1)
    pub.publish("alias/big", "x" * 200, qos=1)
    pub.publish("alias/big", "fits", qos=1)
    pub.publish("alias/big", "fits again", qos=1)
    deadline = time.time() + TIMEOUT
    while len(got) < 2 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    if resolve(got, 1) != [("alias/big", "fits"), ("alias/big", "fits again")]:
        fail(f"after an oversized message: {got}")
    small.stop()
    pub.stop()


def killed(peer):
    """Drop the connection without DISCONNECT (a crash, a pulled cable)."""
    peer.c.loop_stop()
    peer.c.socket().close()


def willdelay():
    """MQTT 5.0 will delay interval (§3.1.3.2.2): the will goes out when the delay has passed, not
    before; not at all if the client is back in time; at the session's end if that comes first."""
    need_v5()
    sub = Peer("paho-wd-sub")
    sub.connect()
    sub.subscribe("wd/#", 1)

    def arrival(topic, limit):
        start = time.time()
        while time.time() - start < limit:
            with sub.lock:
                if any(t == topic for (t, _, _, _) in sub.got):
                    return time.time() - start
            time.sleep(0.02)
        return None

    # Delay 2 s, session 60 s: after about 2 s.
    a = Peer("paho-wd-a", expiry=60, will=("wd/a", "a gone", 1, False), will_delay=2)
    a.connect()
    killed(a)
    t = arrival("wd/a", 10)
    if t is None or not 1.5 <= t <= 5:
        fail(f"will with a 2 s delay arrived after {t} s")
    # Delay 3 s, back after 1 s with the session: never.
    b = Peer("paho-wd-b", expiry=60, will=("wd/b", "b gone", 1, False), will_delay=3)
    b.connect()
    killed(b)
    time.sleep(1)
    b2 = Peer("paho-wd-b", clean=False, expiry=60)
    b2.connect()
    if arrival("wd/b", 4) is not None:
        fail("will sent although the client reconnected within its will delay")
    b2.stop()
    # Delay 10 s, session 1 s: when the session ends, after about 1 s.
    c = Peer("paho-wd-c", expiry=1, will=("wd/c", "c gone", 1, False), will_delay=10)
    c.connect()
    killed(c)
    t = arrival("wd/c", 10)
    if t is None or not 0.5 <= t <= 5:
        fail(f"will with a 10 s delay but a 1 s session arrived after {t} s (want about 1 s)")
    with sub.lock:
        wills = sorted(m for (_, m, _, _) in sub.got)
    if wills != ["a gone", "c gone"]:
        fail(f"wills received: {wills}")
    sub.stop()


def expiry():
    """MQTT 5.0 session expiry interval (§3.1.2.11.2): a session with expiry 3 s keeps its subscription
    and its queued QoS 1 messages across a reconnect within 3 s, and is gone after 3 s."""
    need_v5()
    s = Peer("paho-exp", clean=True, expiry=3)
    s.connect()
    s.subscribe("exp/t", 1)
    s.stop()
    pub = Peer("paho-exp-pub")
    pub.connect()
    for i in range(3):
        pub.publish("exp/t", f"q{i}", qos=1)
    time.sleep(0.5)
    s2 = Peer("paho-exp", clean=False, expiry=3)
    s2.connect()
    if not s2.session_present:
        fail("session not present on a reconnect within its expiry")
    got = s2.wait_for(3)
    if [m for (_, m, _, _) in got] != ["q0", "q1", "q2"]:
        fail(f"QoS 1 messages queued while offline: {got}")
    pub.publish("exp/t", "live", qos=1)
    got = s2.wait_for(4)
    if [m for (_, m, _, _) in got][3:] != ["live"]:
        fail(f"subscription not kept across the reconnect: {got}")
    s2.stop()
    pub.publish("exp/t", "lost", qos=1)  # queued in the session, which then expires
    time.sleep(4.5)
    s3 = Peer("paho-exp", clean=False, expiry=3)
    s3.connect()
    if s3.session_present:
        fail("session still present after its expiry interval")
    pub.publish("exp/t", "after", qos=1)
    got = s3.wait_for(1, timeout=1.5)
    if got:
        fail(f"an expired session still delivered: {got}")
    s3.stop()
    pub.stop()


{"qos": qos, "retained": retained, "persistent": persistent, "will": will, "v5features": v5features,
 "aliasout": aliasout, "willdelay": willdelay, "expiry": expiry}[SCENARIO]()
print("PASS", SCENARIO, flush=True)
