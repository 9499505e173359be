//! `sister mqtt broker` against real peers: paho-mqtt 2.1.0 (MQTT 3.1.1 and 5.0), mosquitto_pub and
//! mosquitto_sub (Debian), and raw bytes for every kind of broken input.
//!
//! Each test starts its own broker on a free loopback port. The raw-byte tests use `wire::mqtt` to
//! write the well-formed packets and hand-written bytes for the broken ones.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use wire::mqtt::{
    self, Connect, Packet, Properties, Publish, QoS, ReasonCode, Subscribe, Subscription, Version,
};

use crate::util::{self, Proc};

const LONG: Duration = Duration::from_secs(30);

/// A sister broker on a free port, killed when dropped.
struct Broker {
    proc: Proc,
    port: u16,
}

fn broker(extra: &[&str]) -> Broker {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["mqtt", "broker", "--bind", &bind];
    args.extend_from_slice(extra);
    // Through `sh` to raise the open-files limit to its hard maximum first (the broker holds one
    // descriptor per client; a login shell's default soft limit of 1024 is too low for the load tests).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n $(ulimit -Hn) 2>/dev/null; exec \"$0\" \"$@\""])
        .arg(util::sister_bin())
        .args(&args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    let proc = Proc::spawn("sister mqtt broker", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    Broker { proc, port }
}

impl Broker {
    fn log_line(&mut self, needle: &str) -> String {
        self.proc.wait_for_line(needle, LONG)
    }

    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(util::local(self.port)).expect("connect to the broker");
        s.set_read_timeout(Some(LONG)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// A raw client that sent CONNECT and got CONNACK accepted.
    fn client(&self, id: &str, version: Version) -> Raw {
        let mut raw = Raw {
            s: self.raw(),
            buf: Vec::new(),
            version,
        };
        raw.send(&Packet::Connect(Box::new(Connect {
            version,
            client_id: id.into(),
            ..Connect::default()
        })));
        match raw.recv() {
            Some(Packet::ConnAck(a)) => assert_eq!(a.code, ReasonCode::Success, "{id} refused"),
            other => panic!("{id}: expected CONNACK, got {other:?}"),
        }
        raw
    }
}

/// A raw MQTT connection: packets written and read through the codec.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
    version: Version,
}

impl Raw {
    fn send(&mut self, p: &Packet) {
        let bytes = p.to_vec(self.version).expect("encodable");
        self.s.write_all(&bytes).unwrap();
    }

    fn send_bytes(&mut self, b: &[u8]) {
        // The broker may already have closed; a failed write is then fine.
        let _ = self.s.write_all(b);
    }

    /// The next packet, or `None` when the broker closed the connection.
    fn recv(&mut self) -> Option<Packet> {
        loop {
            match mqtt::Decoder::with_version(self.version).decode(&self.buf) {
                Ok((p, used)) => {
                    self.buf.drain(..used);
                    return Some(p);
                }
                Err(e) if e.is_incomplete() => {}
                Err(e) => panic!("the broker sent bytes we cannot decode: {e}"),
            }
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from the broker: {e}"),
            }
        }
    }

    /// Expect the broker to close the connection (after an optional DISCONNECT, returned).
    fn expect_closed(&mut self) -> Option<ReasonCode> {
        let mut reason = None;
        while let Some(p) = self.recv() {
            match p {
                Packet::Disconnect(d) => reason = Some(d.reason),
                other => panic!("expected the broker to close, got {other}"),
            }
        }
        reason
    }

    fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            subscriptions: vec![Subscription::new(filter, mqtt::SubscriptionOptions::qos(qos))],
            properties: Properties::default(),
        }));
        match self.recv() {
            Some(Packet::SubAck(a)) => assert!(a.codes[0].is_success(), "SUBACK {:?}", a.codes),
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }
}

fn connect_bytes(id: &str) -> Vec<u8> {
    Packet::Connect(Box::new(Connect {
        client_id: id.into(),
        ..Connect::default()
    }))
    .to_vec(Version::V3_1_1)
    .unwrap()
}

/// Run one scenario of tests/peers/mqtt_broker_peer.py (paho-mqtt) against the broker.
fn paho(b: &Broker, scenario: &str, version: &str) {
    let script = util::repo().join("tests/peers/mqtt_broker_peer.py");
    let port = b.port.to_string();
    let out = util::python(
        Some("paho.mqtt.client"),
        &[script.to_str().unwrap(), scenario, &port, version],
    )
    .output()
    .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(&format!("PASS {scenario}")),
        "paho scenario {scenario} (MQTT {version}) failed:\n{text}"
    );
}

#[test]
fn paho_qos_0_1_2_in_order_both_versions() {
    let b = broker(&[]);
    paho(&b, "qos", "3");
    paho(&b, "qos", "5");
}

#[test]
fn paho_retained_set_replace_clear() {
    let b = broker(&[]);
    paho(&b, "retained", "3");
    paho(&b, "retained", "5");
}

#[test]
fn paho_persistent_session_gets_what_was_sent_while_offline() {
    let b = broker(&[]);
    paho(&b, "persistent", "3");
    paho(&b, "persistent", "5");
}

#[test]
fn paho_will_on_lost_connection_not_on_disconnect() {
    let b = broker(&[]);
    paho(&b, "will", "3");
    paho(&b, "will", "5");
}

#[test]
fn paho_v5_subscription_ids_user_properties_no_local_alias_shared() {
    let b = broker(&[]);
    paho(&b, "v5features", "5");
}

/// Broker-to-client topic aliases (MQTT 5.0 §3.3.2.3.4), within the client's Topic Alias Maximum;
/// a message too big for the client's Maximum Packet Size must not leave an alias behind.
#[test]
fn paho_v5_topic_aliases_towards_the_client() {
    let b = broker(&[]);
    paho(&b, "aliasout", "5");
}

/// Will delay interval (MQTT 5.0 §3.1.3.2.2): sent after the delay, not if the client is back in
/// time, at the session's end if that is earlier.
#[test]
fn paho_v5_will_delay() {
    let b = broker(&[]);
    paho(&b, "willdelay", "5");
}

/// Session expiry interval (MQTT 5.0 §3.1.2.11.2): subscriptions and queued QoS 1 messages survive a
/// reconnect within the interval, and the session is gone after it.
#[test]
fn paho_v5_session_expiry() {
    let b = broker(&[]);
    paho(&b, "expiry", "5");
}

fn mosquitto_sub(port: u16, args: &[&str]) -> Proc {
    let mut cmd = Command::new("mosquitto_sub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args);
    Proc::spawn("mosquitto_sub", cmd)
}

fn mosquitto_pub(port: u16, args: &[&str]) {
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .status()
        .expect("mosquitto_pub is missing: run ./.ci/run (Debian package mosquitto-clients)");
    assert!(st.success(), "mosquitto_pub {args:?} failed");
}

#[test]
fn mosquitto_clients_both_versions_and_the_worksheet_mismatch() {
    let mut b = broker(&[]);
    for v in ["mqttv311", "mqttv5"] {
        let topic = format!("sister/temp/{v}");
        let mut sub = mosquitto_sub(b.port, &["-V", v, "-t", &topic, "-v", "-C", "3", "-q", "2"]);
        b.log_line(&format!("filter={topic}"));
        for q in ["0", "1", "2"] {
            mosquitto_pub(
                b.port,
                &["-V", v, "-t", &topic, "-m", &format!("Suhu: 28°C q{q}"), "-q", q],
            );
        }
        assert!(
            sub.wait_timeout(LONG).is_some_and(|s| s.success()),
            "{}",
            sub.output()
        );
        let lines = sub.stdout_lines();
        assert_eq!(
            lines,
            ["0", "1", "2"]
                .map(|q| format!("{topic} Suhu: 28°C q{q}"))
                .to_vec(),
            "mosquitto_sub {v}"
        );
    }
    // The worksheet: a subscriber on kesehatan, a publisher on gaming. Nothing arrives, and the broker
    // says why, naming the subscription that almost matched.
    let mut sub = mosquitto_sub(b.port, &["-t", "sister/channel/kesehatan", "-i", "sub-kesehatan"]);
    b.log_line("filter=sister/channel/kesehatan");
    mosquitto_pub(
        b.port,
        &[
            "-t",
            "sister/channel/gaming",
            "-m",
            "Ada kanal Youtube baru nih: @sister",
        ],
    );
    let line = b.log_line("matched no subscription");
    assert!(
        line.contains("`sister/channel/kesehatan` (client sub-kesehatan)"),
        "the explanation should name the nearest subscription: {line}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        sub.stdout_lines().is_empty(),
        "nothing may arrive on the wrong topic"
    );
}

#[test]
fn sys_statistics_are_published_and_hidden_from_hash() {
    let b = broker(&["--sys-interval", "1"]);
    // The retained value may be from before anyone connected; the next one counts this subscriber.
    let mut sys = mosquitto_sub(b.port, &["-t", "$SYS/broker/clients/connected", "-C", "2"]);
    let mut all = mosquitto_sub(b.port, &["-t", "#", "-v"]);
    assert!(
        sys.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        sys.output()
    );
    let n: u64 = sys.stdout_lines()[1].parse().expect("a number");
    assert!(n >= 1, "clients connected: {n}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        all.stdout_lines().is_empty(),
        "`#` must not match $SYS topics (MQTT 3.1.1 §4.7.2)"
    );
}

// ---- broken input: the client is disconnected, the broker carries on --------------------------------

/// Send `bytes` after (or instead of) a CONNECT, check the connection is closed and the broker logs it,
/// and that another client is still served.
fn broken(b: &mut Broker, after_connect: bool, bytes: &[u8], log: &str) {
    let mut raw = if after_connect {
        b.client("victim", Version::V3_1_1)
    } else {
        Raw {
            s: b.raw(),
            buf: Vec::new(),
            version: Version::V3_1_1,
        }
    };
    raw.send_bytes(bytes);
    raw.expect_closed();
    b.log_line(log);
    // Everyone else carries on.
    let mut sub = b.client("bystander-sub", Version::V3_1_1);
    sub.subscribe("still/alive", QoS::AtLeastOnce);
    let mut p = b.client("bystander-pub", Version::V3_1_1);
    p.send(&Packet::Publish(Publish::new("still/alive", "yes")));
    match sub.recv() {
        Some(Packet::Publish(m)) => assert_eq!(&m.payload[..], b"yes"),
        other => panic!("bystander got {other:?}"),
    }
}

/// Subscribe on one connection, publish on another right after (without waiting for the SUBACK), as
/// students and paho.mqtt.testing's request_response test do: MQTT orders packets only within one
/// connection (§4.6), but the broker, on its default single thread like Mosquitto's event loop,
/// applies packets in the order they arrived, so every message reaches the subscriber. (On two
/// threads 2 to 9% of these were missed here; bench/mqtt-results.md has the counts.)
#[test]
fn a_subscribe_that_arrived_first_takes_effect_before_another_clients_publish() {
    let b = broker(&[]);
    let mut publisher = b.client("race-pub", Version::V3_1_1);
    let mut subscriber = b.client("race-sub", Version::V3_1_1);
    // A message routed before the SUBSCRIBE never arrives; one that is merely late (a loaded CI
    // machine running the Docker lab beside this test once took over 2 s for round 0) does.
    subscriber
        .s
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut missed = Vec::new();
    for i in 0..200u16 {
        let topic = format!("race/{i}");
        subscriber.send(&Packet::Subscribe(Subscribe {
            packet_id: i + 1,
            subscriptions: vec![Subscription::new(
                topic.as_str(),
                mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
            )],
            properties: Properties::default(),
        }));
        publisher.send(&Packet::Publish(Publish::new(topic.as_str(), "x")));
        match subscriber.recv() {
            Some(Packet::SubAck(_)) => {}
            other => panic!("round {i}: expected SUBACK, got {other:?}"),
        }
        // The PUBLISH, unless it was routed before the SUBSCRIBE (then the read times out).
        let mut chunk = [0u8; 256];
        loop {
            match mqtt::Decoder::with_version(Version::V3_1_1).decode(&subscriber.buf) {
                Ok((Packet::Publish(m), used)) => {
                    assert_eq!(m.topic, topic, "round {i}");
                    subscriber.buf.drain(..used);
                    break;
                }
                Ok((other, _)) => panic!("round {i}: expected PUBLISH, got {other}"),
                Err(e) if e.is_incomplete() => {}
                Err(e) => panic!("round {i}: undecodable bytes: {e}"),
            }
            match subscriber.s.read(&mut chunk) {
                Ok(0) => panic!("round {i}: the broker closed the subscriber"),
                Ok(n) => subscriber.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    missed.push(i);
                    break;
                }
            }
        }
    }
    assert!(
        missed.is_empty(),
        "messages routed before the SUBSCRIBE that arrived first, rounds {missed:?}"
    );
}

#[test]
fn garbage_is_refused() {
    let mut b = broker(&[]);
    broken(&mut b, false, b"GET / HTTP/1.1\r\n\r\n", "malformed first packet");
    broken(&mut b, true, &[0x00, 0x00], "disconnecting the client");
}

#[test]
fn truncated_frame_then_close_is_a_lost_connection() {
    let mut b = broker(&[]);
    let mut raw = b.client("trunc", Version::V3_1_1);
    // PUBLISH announcing 20 bytes, carrying 5, then the client goes away.
    raw.send_bytes(&[0x30, 20, 0x00, 0x03, b'a', b'/', b'b']);
    raw.s.shutdown(std::net::Shutdown::Write).unwrap();
    raw.expect_closed();
    b.log_line("without DISCONNECT");
    // A truncated packet inside a frame: the remaining length says 3, the topic length says 10.
    broken(
        &mut b,
        true,
        &[0x30, 3, 0x00, 10, b'a'],
        "disconnecting the client",
    );
}

#[test]
fn remaining_length_over_four_bytes_is_malformed() {
    let mut b = broker(&[]);
    broken(
        &mut b,
        true,
        &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
        "disconnecting the client",
    );
}

#[test]
fn invalid_utf8_in_a_topic_is_malformed() {
    let mut b = broker(&[]);
    broken(
        &mut b,
        true,
        &[0x30, 6, 0x00, 2, 0xc3, 0x28, b'h', b'i'],
        "disconnecting the client",
    );
}

#[test]
fn wildcard_in_a_publish_topic_is_refused() {
    let mut b = broker(&[]);
    broken(
        &mut b,
        true,
        &[0x30, 7, 0x00, 3, b'a', b'/', b'#', b'h', b'i'],
        "wildcard",
    );
}

#[test]
fn second_connect_and_packet_before_connect() {
    let mut b = broker(&[]);
    broken(&mut b, true, &connect_bytes("again"), "second CONNECT");
    broken(&mut b, false, &[0xc0, 0x00], "instead of CONNECT");
}

#[test]
fn v5_malformed_gets_disconnect_with_reason_code() {
    let b = broker(&[]);
    let mut raw = b.client("v5-bad", Version::V5);
    raw.send_bytes(&[0x30, 8, 0x00, 3, b'a', b'/', b'+', 0x00, b'h', b'i']);
    assert_eq!(raw.expect_closed(), Some(ReasonCode::MalformedPacket));
    let mut raw = b.client("v5-twice", Version::V5);
    raw.send(&Packet::Connect(Box::new(Connect {
        version: Version::V5,
        ..Connect::default()
    })));
    assert_eq!(raw.expect_closed(), Some(ReasonCode::ProtocolError));
}

#[test]
fn v5_receive_maximum_exceeded_is_0x93() {
    let b = broker(&["--receive-maximum", "3"]);
    let mut raw = b.client("greedy", Version::V5);
    for pid in 1..=4u16 {
        let mut p = Publish::new("q2/x", "m");
        p.qos = QoS::ExactlyOnce;
        p.packet_id = pid;
        raw.send(&Packet::Publish(p));
    }
    let mut reason = None;
    while let Some(p) = raw.recv() {
        match p {
            Packet::PubRec(_) => {}
            Packet::Disconnect(d) => reason = Some(d.reason),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(reason, Some(ReasonCode::ReceiveMaximumExceeded));
}

/// The same violation, but the client behaves like a real one: it answers every PUBREC with a
/// PUBREL while the broker is already closing. The DISCONNECT 0x93 queued behind the PUBRECs must
/// still reach it (5.0 §4.13), which needs a lingering close: a socket closed with the client's
/// PUBRELs unread, or written to after the close, resets the connection and the client loses
/// everything it had not read yet. (The Paho interoperability suite's flow-control test does this.)
#[test]
fn v5_disconnect_reaches_a_client_that_keeps_writing() {
    let b = broker(&["--receive-maximum", "3"]);
    let mut raw = b.client("still-talking", Version::V5);
    for pid in 1..=4u16 {
        let mut p = Publish::new("q2/x", "m");
        p.qos = QoS::ExactlyOnce;
        p.packet_id = pid;
        raw.send(&Packet::Publish(p));
    }
    // Let the broker decide and start closing before we answer anything.
    std::thread::sleep(Duration::from_millis(500));
    let mut reason = None;
    while let Some(p) = raw.recv() {
        match p {
            Packet::PubRec(r) => {
                // A client whose write fails (broken pipe, reset) takes the connection for dead
                // and never reads on to the DISCONNECT: the write must succeed.
                let rel = Packet::PubRel(mqtt::Ack::new(r.packet_id)).to_vec(Version::V5);
                if let Err(e) = raw.s.write_all(&rel.expect("encodable")) {
                    panic!(
                        "PUBREL {} refused before the DISCONNECT was read: {e}",
                        r.packet_id
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Packet::Disconnect(d) => reason = Some(d.reason),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(reason, Some(ReasonCode::ReceiveMaximumExceeded));
}

#[test]
fn keep_alive_is_enforced_at_one_and_a_half_times() {
    let mut b = broker(&[]);
    let mut raw = Raw {
        s: b.raw(),
        buf: Vec::new(),
        version: Version::V5,
    };
    raw.send(&Packet::Connect(Box::new(Connect {
        version: Version::V5,
        client_id: "sleepy".into(),
        keep_alive: 1,
        ..Connect::default()
    })));
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))));
    let start = Instant::now();
    assert_eq!(raw.expect_closed(), Some(ReasonCode::KeepAliveTimeout));
    assert!(
        start.elapsed() >= Duration::from_millis(1400),
        "closed too early: {:?}",
        start.elapsed()
    );
    b.log_line("keep-alive");
}

#[test]
fn client_id_takeover_and_empty_client_ids() {
    let mut b = broker(&[]);
    let mut first = b.client("same-id", Version::V5);
    let _second = b.client("same-id", Version::V5);
    assert_eq!(first.expect_closed(), Some(ReasonCode::SessionTakenOver));
    b.log_line("took over the session");
    // Zero-length ids: 3.1.1 with clean session is given one; 5.0 is told which (Assigned Client Id).
    let _anon = b.client("", Version::V3_1_1);
    let mut raw = Raw {
        s: b.raw(),
        buf: Vec::new(),
        version: Version::V5,
    };
    raw.send(&Packet::Connect(Box::new(Connect {
        version: Version::V5,
        ..Connect::default()
    })));
    match raw.recv() {
        Some(Packet::ConnAck(a)) => assert!(a
            .properties
            .assigned_client_identifier
            .is_some_and(|id| id.starts_with("sister-auto-"))),
        other => panic!("{other:?}"),
    }
    // 3.1.1, empty id, clean session 0: refused with return code 2 (identifier rejected).
    let mut raw = Raw {
        s: b.raw(),
        buf: Vec::new(),
        version: Version::V3_1_1,
    };
    raw.send(&Packet::Connect(Box::new(Connect {
        clean_start: false,
        ..Connect::default()
    })));
    match raw.recv() {
        Some(Packet::ConnAck(a)) => assert_eq!(a.code, ReasonCode::ClientIdentifierNotValid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_subscriber_that_stops_reading_does_not_stall_the_others() {
    let mut b = broker(&["--max-outbox", "200"]);
    let mut stuck = b.client("stuck", Version::V3_1_1);
    stuck.subscribe("flood", QoS::AtMostOnce);
    let mut fine = b.client("fine", Version::V3_1_1);
    fine.subscribe("flood", QoS::AtMostOnce);
    let mut p = b.client("flooder", Version::V3_1_1);
    let n = 5_000;
    let mut batch = Vec::new();
    for i in 0..n {
        let mut payload = format!("{i:08}").into_bytes();
        payload.resize(1000, b'x');
        batch.extend_from_slice(
            &Packet::Publish(Publish::new("flood", payload))
                .to_vec(Version::V3_1_1)
                .unwrap(),
        );
    }
    let writer = std::thread::spawn(move || {
        p.send_bytes(&batch);
        // A last message once the flood is over: `fine` must get it although `stuck` never reads.
        std::thread::sleep(Duration::from_secs(1));
        p.send(&Packet::Publish(Publish::new("flood", "END")));
        p
    });
    let mut got = 0;
    let mut last = -1i64;
    loop {
        match fine.recv() {
            Some(Packet::Publish(m)) if &m.payload[..] == b"END" => break,
            Some(Packet::Publish(m)) => {
                let i: i64 = std::str::from_utf8(&m.payload[..8]).unwrap().parse().unwrap();
                assert!(i > last, "out of order: {i} after {last}");
                last = i;
                got += 1;
            }
            other => panic!("fine got {other:?} after {got}"),
        }
    }
    let _p = writer.join().unwrap();
    // QoS 0 to a client that does not read is dropped, and the broker says so.
    b.log_line("client is not reading fast enough");
    assert!(got > 0);
    drop(stuck);
}

#[test]
fn thousands_of_connections() {
    let b = broker(&["--sys-interval", "1"]);
    let script = r#"
import resource, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
def connect_packet(cid):
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(connect_packet(b"many-%d" % i))
    socks.append(s)
for s in socks:
    s.settimeout(60)
    ack = b""
    while len(ack) < 4:
        chunk = s.recv(4 - len(ack))
        if not chunk:
            sys.exit("closed")
        ack += chunk
    assert ack == b"\x20\x02\x00\x00", ack
print("CONNECTED", n, flush=True)
time.sleep(float(sys.argv[3]))
print("DONE", flush=True)
"#;
    let n = 3000;
    let mut many = Proc::spawn(
        "python3 many connections",
        util::python(None, &["-c", script, &b.port.to_string(), &n.to_string(), "4"]),
    );
    many.wait_for_line(&format!("CONNECTED {n}"), Duration::from_secs(120));
    // While they are all connected, the broker still serves and counts them.
    // (The first value may be the retained one from before the last connections; the second is fresh.)
    let mut sys = mosquitto_sub(b.port, &["-t", "$SYS/broker/clients/connected", "-C", "2"]);
    assert!(
        sys.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        sys.output()
    );
    let connected: u64 = sys.stdout_lines()[1].parse().unwrap();
    assert!(
        connected >= n,
        "$SYS says {connected} connected, expected at least {n}"
    );
    many.wait_for_line("DONE", Duration::from_secs(60));
}

#[test]
fn password_file_and_acl() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    let acl = dir.path().join("acl");
    // A file as mosquitto_passwd writes it (`$7$` PBKDF2 hashes), made by `sister mqtt passwd`.
    let made = util::sister(&[
        "mqtt",
        "passwd",
        "-c",
        "-b",
        pw.to_str().unwrap(),
        "alice",
        "secret",
    ])
    .status()
    .unwrap();
    assert!(made.success());
    std::fs::write(
        &acl,
        "user alice\ntopic readwrite sister/#\ntopic deny sister/secret\n",
    )
    .unwrap();
    let mut b = broker(&[
        "--password-file",
        pw.to_str().unwrap(),
        "--acl-file",
        acl.to_str().unwrap(),
        "--no-anonymous",
    ]);
    let try_pub = |args: &[&str]| {
        Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &b.port.to_string(),
                "-t",
                "sister/x",
                "-m",
                "hi",
            ])
            .args(args)
            .output()
            .expect("mosquitto_pub")
            .status
            .success()
    };
    assert!(!try_pub(&[]), "anonymous must be refused");
    assert!(
        !try_pub(&["-u", "alice", "-P", "wrong"]),
        "a wrong password must be refused"
    );
    b.log_line("wrong password for user `alice`");
    let mut sub = mosquitto_sub(b.port, &["-u", "alice", "-P", "secret", "-t", "sister/#", "-v"]);
    b.log_line("filter=sister/#");
    mosquitto_pub(
        b.port,
        &[
            "-u",
            "alice",
            "-P",
            "secret",
            "-t",
            "sister/secret",
            "-m",
            "hidden",
        ],
    );
    b.log_line("denied by the ACL");
    mosquitto_pub(
        b.port,
        &["-u", "alice", "-P", "secret", "-t", "sister/x", "-m", "allowed"],
    );
    sub.wait_for_line("sister/x allowed", LONG);
    assert!(!sub.stdout_lines().iter().any(|l| l.contains("hidden")));
}
