"""paho-mqtt over WebSockets (transport="websockets", path /mqtt), for tests/mqtt_ws.rs: the same
script runs against sister's broker and Mosquitto, and prints one line per thing seen.

    python3 mqtt_ws_paho.py roundtrip PORT 3|5   # QoS 0 and 1, a 200 KB payload, a retained message
    python3 mqtt_ws_paho.py sub PORT TOPIC N     # print N messages ("subscribed" when SUBACK came)
    python3 mqtt_ws_paho.py connect PORT [USER PASSWORD]   # the CONNACK's reason
    python3 mqtt_ws_paho.py tls PORT CAFILE      # a round trip over wss:// (WebSocket over TLS)
"""
import hashlib, sys, threading, time
import paho.mqtt.client as mqtt


def client(port, version, cid, **kw):
    proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, transport="websockets", protocol=proto, **kw)
    c.ws_set_options(path="/mqtt")
    return c


def roundtrip(port, version):
    got, done, subscribed = [], threading.Event(), threading.Event()
    big = bytes(i % 251 for i in range(200_000))

    def on_message(c, u, m):
        p = m.payload
        what = "%d bytes sha1 %s" % (len(p), hashlib.sha1(p).hexdigest()[:12]) if len(p) > 100 else p.decode()
        got.append("got %s qos=%d retain=%d %s" % (m.topic, m.qos, m.retain, what))
        if len(got) == 3:
            done.set()

    sub = client(port, version, "ws-sub-" + version)
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("lab/ws/#", qos=1)
    assert subscribed.wait(10), "no SUBACK"
    pub = client(port, version, "ws-pub-" + version)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pub.publish("lab/ws/q0", b"qos 0 over websockets", qos=0).wait_for_publish(10)
    pub.publish("lab/ws/q1", b"qos 1 over websockets", qos=1).wait_for_publish(10)
    pub.publish("lab/ws/big", big, qos=1).wait_for_publish(10)
    ok = done.wait(20)
    print("\n".join(sorted(got)))
    # A retained message reaches a subscriber that comes later, with the retain flag.
    pub.publish("lab/retained/" + version, b"kept by the broker", qos=1, retain=True).wait_for_publish(10)
    late, retained = client(port, version, "ws-late-" + version), threading.Event()

    def on_retained(c, u, m):
        print("late got %s retain=%d %s" % (m.topic, m.retain, m.payload.decode()))
        retained.set()

    late.on_message = on_retained
    late.connect("127.0.0.1", port)
    late.loop_start()
    late.subscribe("lab/retained/" + version, qos=1)
    ok = retained.wait(10) and ok
    for c in (sub, late):
        c.disconnect()
        c.loop_stop()
    # Clear it, so a second run starts clean.
    pub.publish("lab/retained/" + version, b"", qos=1, retain=True).wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    sys.exit(0 if ok else 1)


def sub(port, topic, n):
    got, subscribed = threading.Event(), threading.Event()
    count = [0]

    def on_message(c, u, m):
        print("%s %s" % (m.topic, m.payload.decode()), flush=True)
        count[0] += 1
        if count[0] == n:
            got.set()

    def on_subscribe(*a):
        print("subscribed", flush=True)

    c = client(port, "3", "ws-sub-cli")
    c.on_message, c.on_subscribe = on_message, on_subscribe
    c.connect("127.0.0.1", port)
    c.subscribe(topic, qos=1)
    c.loop_start()
    ok = got.wait(30)
    c.disconnect()
    c.loop_stop()
    sys.exit(0 if ok else 1)


def connect(port, user=None, password=None):
    result = threading.Event()

    def on_connect(c, u, flags, rc, props=None):
        print("connack %s" % rc, flush=True)
        result.set()

    c = client(port, "3", "ws-connect")
    if user:
        c.username_pw_set(user, password)
    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    ok = result.wait(10)
    c.disconnect()
    c.loop_stop()
    sys.exit(0 if ok else 1)


def tls(port, cafile):
    import ssl
    got = threading.Event()

    def on_message(c, u, m):
        print("got %s %s" % (m.topic, m.payload.decode()), flush=True)
        got.set()

    c = client(port, "5", "ws-tls")
    c.tls_set(ca_certs=cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.on_message = on_message
    c.on_connect = lambda c, *a: c.subscribe("lab/wss", qos=1)
    c.on_subscribe = lambda c, *a: c.publish("lab/wss", b"over wss", qos=1)
    c.connect("localhost", port)
    c.loop_start()
    ok = got.wait(20)
    c.disconnect()
    c.loop_stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd, port, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if cmd == "roundtrip":
        roundtrip(port, rest[0])
    elif cmd == "tls":
        tls(port, rest[0])
    elif cmd == "sub":
        sub(port, rest[0], int(rest[1]))
    else:
        connect(port, *rest)
