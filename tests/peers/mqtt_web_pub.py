"""A paho-mqtt 2.1.0 publisher for the topic tree's tests: another client than sister's, as any
student's program would be.

Usage: python3 mqtt_web_pub.py HOST PORT [-r] [-V 5] TOPIC=PAYLOAD ... [--many N PREFIX]
  -r          publish retained (MQTT 3.1.1 §3.3.1.3)
  PAYLOAD     text, or hex:00ff for bytes that are not text
  --many N P  also N retained topics P/0/0 .. P/k/j (ten under each level-2 node)
Every message is QoS 1 and waited for (PUBACK), so when this exits the broker has them all.
"""
import sys

import paho.mqtt.client as mqtt

args = sys.argv[1:]
host, port, args = args[0], int(args[1]), args[2:]
retain = False
proto = mqtt.MQTTv311
messages = []
while args:
    a = args.pop(0)
    if a == "-r":
        retain = True
    elif a == "-V":
        proto = mqtt.MQTTv5 if args.pop(0) == "5" else mqtt.MQTTv311
    elif a == "--many":
        n, prefix = int(args.pop(0)), args.pop(0)
        messages += [(f"{prefix}/{i // 10}/{i % 10}", f"v {i}".encode(), True) for i in range(n)]
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
client.disconnect()
client.loop_stop()
