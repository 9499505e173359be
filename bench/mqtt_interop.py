"""Run Eclipse paho.mqtt.testing's interoperability tests (client_test.py for MQTT 3.1.1, client_test5.py
for MQTT 5.0) against a broker, one test per process, and print one line per test.

Usage: python3 bench/mqtt_interop.py SUITE_DIR PORT [v3|v5] [TEST ...]
  SUITE_DIR: a checkout's interoperability/ directory (the suite is not on PyPI and not in this repo).
  The broker must already listen on 127.0.0.1:PORT; bench/mqtt-interop.sh starts sister and Mosquitto.

Why not just `python3 client_test5.py -p PORT`:
- client_test.py hands sys.argv to unittest.main() unchanged, so `-p PORT` makes unittest exit with
  "unrecognized arguments"; it can only run against localhost:1883. Here the module is imported and
  its globals (host, port, topics, ...) are set exactly as its own `__main__` block sets them.
- test_flow_control2 loops until the broker sends DISCONNECT; against a broker that does not (Mosquitto
  2.0) it never ends, and one hung test must not hide the others: each test gets its own process and
  a time limit (a test that hits it is reported as TIMEOUT).
- One process per test also runs each test after the suite's own cleanup (setUpClass), so one test's
  leftovers cannot fail the next.
"""
import os
import subprocess
import sys

V3_TESTS = [
    "testBasic", "test_retained_messages", "test_offline_message_queueing", "test_overlapping_subscriptions",
    "test_keepalive", "test_redelivery_on_reconnect", "test_subscribe_failure", "test_dollar_topics",
    "test_unsubscribe", "test_zero_length_clientid",
]
V5_TESTS = [
    "test_assigned_clientid", "test_basic", "test_client_topic_alias", "test_dollar_topics", "test_flow_control1",
    "test_flow_control2", "test_keepalive", "test_maximum_packet_size", "test_offline_message_queueing",
    "test_overlapping_subscriptions", "test_payload_format", "test_publication_expiry",
    "test_redelivery_on_reconnect", "test_request_response", "test_retained_message", "test_server_keep_alive",
    "test_server_topic_alias", "test_session_expiry", "test_shared_subscriptions", "test_subscribe_failure",
    "test_subscribe_identifiers", "test_subscribe_options", "test_unsubscribe", "test_user_properties",
    "test_will_delay", "test_will_message", "test_zero_length_clientid",
]

# The globals each file's `if __name__ == "__main__":` block sets before unittest.main().
CHILD = r"""
import logging, sys, unittest
sys.path.insert(0, sys.argv[1])
version, port, test = sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.argv = sys.argv[:1]
t = __import__("client_test5" if version == "v5" else "client_test")
t.host, t.port = "127.0.0.1", port
t.topics = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
t.wildtopics = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
t.nosubscribe_topics = ("test/nosubscribe",)
t.topic_prefix = "client_test5/"
logging.getLogger().setLevel(logging.ERROR)
r = unittest.TextTestRunner(verbosity=0).run(unittest.TestSuite([t.Test(test)]))
sys.exit(0 if r.wasSuccessful() else 1)
"""


def main():
    suite, port, version = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "v5"
    tests = sys.argv[4:] or (V5_TESTS if version == "v5" else V3_TESTS)
    passed = 0
    for test in tests:
        try:
            p = subprocess.run(
                [sys.executable, "-c", CHILD, os.path.abspath(suite), version, port, test],
                cwd=suite, capture_output=True, text=True, timeout=120,
            )
            result = "PASS" if p.returncode == 0 else "FAIL"
            detail = "" if p.returncode == 0 else last_error(p.stdout + p.stderr)
        except subprocess.TimeoutExpired:
            result, detail = "TIMEOUT", "no result within 120 s"
        passed += result == "PASS"
        print(f"{version} {test:32} {result:7} {detail}", flush=True)
    print(f"{version} passed {passed}/{len(tests)}", flush=True)


def last_error(text):
    """The assertion line of a failed test, for the table."""
    lines = [l.strip() for l in text.splitlines() if "Error" in l or "assert" in l]
    return lines[-1][:150] if lines else ""


if __name__ == "__main__":
    main()
