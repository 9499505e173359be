"""A paho-mqtt 2.1.0 publisher for the topic tree's tests: another client than sister's, as any
student's program would be.

Usage: python3 mqtt_web_pub.py HOST PORT [-r] [-V 5] TOPIC=PAYLOAD ... [--many N PREFIX]
  -r          publish retained (MQTT 3.1.1 §3.3.1.3)
  PAYLOAD     text, or hex:00ff for bytes that are not text
  --many N P  also N retained topics P/0/0 .. P/k/j (ten under each level-2 node)
  --rate R P  then publish R messages a second (QoS 0) to P/0 .. P/9 in turn until killed
  --spread N  the stream goes to the --many names P/0/0 .. P/k/j (N of them) in turn instead
Every message is QoS 1 and waited for (PUBACK), so when this exits the broker has them all.
"""
import sys
import time

import paho.mqtt.client as mqtt

args = sys.argv[1:]
host, port, args = args[0], int(args[1]), args[2:]
retain = False
proto = mqtt.MQTTv311
messages = []
stream = None
spread = 0
while args:
    a = args.pop(0)
    if a == "-r":
        retain = True
    elif a == "-V":
        proto = mqtt.MQTTv5 if args.pop(0) == "5" else mqtt.MQTTv311
    elif a == "--many":
        n, prefix = int(args.pop(0)), args.pop(0)
        messages += [(f"{prefix}/{i // 10}/{i % 10}", f"v {i}".encode(), True) for i in range(n)]
    elif a == "--spread":
        spread = int(args.pop(0))
    elif a == "--rate":
        stream = (float(args.pop(0)), args.pop(0))
    else:
        topic, _, payload = a.partition("=")
        data = bytes.fromhex(payload[4:]) if payload.startswith("hex:") else payload.encode()
        messages.append((topic, data, retain))

client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=proto)
client.max_inflight_messages_set(100)
client.connect(host, port, 60)
client.loop_start()
infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in messages]
for info in infos:
    info.wait_for_publish(30)
print(f"published {len(infos)}", flush=True)
if stream:
    rate, prefix = stream
    names = [f"{prefix}/{i // 10}/{i % 10}" for i in range(spread)] or [f"{prefix}/{i}" for i in range(10)]
    print(f"streaming {rate:g}/s to {names[0]}..{names[-1]}", flush=True)
    start, sent = time.monotonic(), 0
    while True:
        client.publish(names[sent % len(names)], f"n {sent}".encode(), qos=0)
        sent += 1
        # Paced against the start, not the last message: the rate holds however long a call takes.
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
client.disconnect()
client.loop_stop()
