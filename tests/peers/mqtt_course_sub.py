"""The course's MQTT subscriber, as the course writes it (paho-mqtt 2.1.0, MQTT 3.1.1 by default).

Usage: python3 mqtt_course_sub.py HOST PORT TOPIC [VERSION]   (VERSION: 3 = 3.1.1 (default), 5 = 5.0)
Subscribes to TOPIC and prints `Received message: <payload> (Topic: <topic>)` for each message,
after printing `subscribed` once the SUBACK arrived (so a test knows when to publish).
"""
import sys

import paho.mqtt.client as mqtt

host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
proto = mqtt.MQTTv5 if len(sys.argv) > 4 and sys.argv[4] == "5" else mqtt.MQTTv311


def on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe(topic)


def on_subscribe(client, userdata, mid, reason_codes, properties):
    print("subscribed", flush=True)


def on_message(client, userdata, msg):
    print(f"Received message: {msg.payload.decode()} (Topic: {msg.topic})", flush=True)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=proto)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, port, 60)
client.loop_forever()
