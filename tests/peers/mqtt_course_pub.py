"""The course's MQTT publisher, as the course writes it (paho-mqtt 2.1.0, MQTT 3.1.1 by default).

Usage: python3 mqtt_course_pub.py HOST PORT TOPIC COUNT [VERSION]
Publishes `Suhu: 28°C` to TOPIC COUNT times, once every 0.2 s (the course: every second, forever),
with loop_start() and without waiting for CONNACK, then DISCONNECTs.
"""
import sys
import time

import paho.mqtt.client as mqtt

host, port, topic, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
proto = mqtt.MQTTv5 if len(sys.argv) > 5 and sys.argv[5] == "5" else mqtt.MQTTv311

client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=proto)
client.connect(host, port, 60)
client.loop_start()
for _ in range(count):
    info = client.publish(topic, "Suhu: 28°C")
    print(f"Published: Suhu: 28°C (rc={info.rc})", flush=True)
    time.sleep(0.2)
client.disconnect()
client.loop_stop()
