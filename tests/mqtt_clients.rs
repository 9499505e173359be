//! `sister mqtt pub` and `sister mqtt sub` against the real thing: Mosquitto 2.0 (Debian's
//! `/usr/sbin/mosquitto`, started here on a free port with the course's anonymous configuration) and
//! paho-mqtt 2.1.0 clients written as the course writes them (tests/peers/mqtt_course_*.py).
//!
//! What is checked: QoS 0/1/2 in MQTT 3.1.1 and 5.0 end to end (Mosquitto's own log confirms the QoS
//! on the wire), the course's and mosquitto's output lines, `-l`, retained messages set and cleared,
//! the will (sent when the publisher dies, not when it leaves with Ctrl+C), keep-alive pings, reconnect
//! after the broker restarts, and paho <-> sister in both directions.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::util::{self, Proc};

const LONG: Duration = Duration::from_secs(30);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A Mosquitto broker on a loopback port, with the course's configuration; killed when dropped.
struct Mosquitto {
    proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

fn mosquitto_on(port: u16) -> Mosquitto {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./.ci/run (it installs the Debian package `mosquitto`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    // The course's broker: `listener 1883`, `allow_anonymous true`, `persistence false`; here on
    // loopback and a free port.
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let mut cmd = Command::new(MOSQUITTO);
    cmd.arg("-c").arg(&conf).arg("-v");
    let proc = Proc::spawn("mosquitto", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    Mosquitto {
        proc,
        port,
        _dir: dir,
    }
}

fn mosquitto() -> Mosquitto {
    mosquitto_on(util::free_tcp_port())
}

impl Mosquitto {
    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// `sister mqtt sub` against `m`, returned once its subscription is acknowledged.
fn sub(m: &Mosquitto, args: &[&str]) -> Proc {
    let server = m.server();
    let mut all = vec!["mqtt", "sub", "--server", &server];
    all.extend_from_slice(args);
    let mut p = util::spawn_sister("sister mqtt sub", &all);
    p.wait_for_line("subscribed to", LONG);
    p
}

/// `sister mqtt pub` against `m`, run to completion; fails the test if it fails.
fn publish(m: &Mosquitto, args: &[&str]) -> Output {
    let server = m.server();
    let mut all = vec!["mqtt", "pub", "--server", &server];
    all.extend_from_slice(args);
    let out = util::sister(&all).output().unwrap();
    assert!(
        out.status.success(),
        "sister mqtt pub {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Wait for `p` to exit and return its stdout lines, or fail with its output.
fn finish(p: &mut Proc) -> Vec<String> {
    let status = p.wait_timeout(LONG);
    assert!(
        status.is_some_and(|s| s.success()),
        "did not end well ({status:?}):\n{}",
        p.output()
    );
    p.stdout_lines()
}

#[test]
fn mqtt_clients_qos_0_1_2_in_3_1_1_and_5_through_mosquitto() {
    let mut m = mosquitto();
    for version in ["311", "5"] {
        for qos in ["0", "1", "2"] {
            let topic = format!("sister/test/v{version}/q{qos}");
            let id = format!("sub-v{version}-q{qos}");
            let mut s = sub(
                &m,
                &["-t", &topic, "-q", qos, "-V", version, "-C", "3", "-i", &id],
            );
            publish(
                &m,
                &[
                    "-t",
                    &topic,
                    "-q",
                    qos,
                    "-V",
                    version,
                    "--count",
                    "3",
                    "--interval",
                    "0.05",
                ],
            );
            let expected = format!("Received message: Suhu: 28°C (Topic: {topic})");
            assert_eq!(finish(&mut s), vec![expected; 3], "MQTT {version} QoS {qos}");
            // Mosquitto's log says which QoS the message was delivered with: `(d0, q2, r0, m1, ...`.
            m.proc
                .wait_for_line(&format!("Sending PUBLISH to {id} (d0, q{qos}"), LONG);
            if qos == "2" {
                m.proc.wait_for_line(&format!("Received PUBCOMP from {id}"), LONG);
            }
        }
    }
}

#[test]
fn mqtt_clients_mosquitto_output_and_lines_from_stdin() {
    let m = mosquitto();
    let mut s = sub(&m, &["-t", "sister/lines", "-v", "-C", "2"]);
    let server = m.server();
    let mut p = util::sister(&["mqtt", "pub", "--server", &server, "-t", "sister/lines", "-l"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all("satu\ndua °C\n".as_bytes())
        .unwrap();
    assert!(p.wait().unwrap().success());
    assert_eq!(finish(&mut s), ["sister/lines satu", "sister/lines dua °C"]);
}

#[test]
fn mqtt_clients_retained_message_set_then_cleared() {
    let m = mosquitto();
    publish(
        &m,
        &["-t", "sister/kept", "-m", "kept for later", "-r", "-q", "1"],
    );
    // A subscriber that comes later still gets it.
    let mut s = sub(&m, &["-t", "sister/kept", "-C", "1"]);
    assert_eq!(
        finish(&mut s),
        ["Received message: kept for later (Topic: sister/kept)"]
    );
    // MQTT 5 retain handling 2 ("never send retained messages"): the first message is our marker.
    assert_first_message_is_a_marker(&m, "sister/kept", &["-V", "5", "--rh", "2"]);
    // An empty retained message clears it: the next subscriber gets nothing retained.
    publish(&m, &["-t", "sister/kept", "-n", "-r"]);
    assert_first_message_is_a_marker(&m, "sister/kept", &[]);
    // -W: nothing at all arrives, the subscriber gives up with mosquitto_sub's exit code 27.
    let server = m.server();
    let out = util::sister(&["mqtt", "sub", "--server", &server, "-t", "sister/kept", "-W", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(27));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Timed out"));
}

/// Subscribe to `topic` (with `extra` flags), then publish a marker there: the marker must be the
/// first message the subscriber gets, so nothing (a retained message, a will) came before it.
/// (Proving an absence by ordering, not by waiting a while: no timing, no flakiness.)
fn assert_first_message_is_a_marker(m: &Mosquitto, topic: &str, extra: &[&str]) {
    let mut args = vec!["-t", topic, "-C", "1"];
    args.extend_from_slice(extra);
    let mut s = sub(m, &args);
    publish(m, &["-t", topic, "-m", "marker"]);
    assert_eq!(
        finish(&mut s),
        [format!("Received message: marker (Topic: {topic})")]
    );
}

#[test]
fn mqtt_clients_will_on_death_not_on_ctrl_c() {
    let m = mosquitto();
    for version in ["311", "5"] {
        let will = format!("sister/status/v{version}");
        let server = m.server();
        let args = |id: &'static str| {
            vec![
                "mqtt".to_string(),
                "pub".into(),
                "--server".into(),
                server.clone(),
                "-V".into(),
                version.into(),
                "-i".into(),
                id.into(),
                "--will-topic".into(),
                will.clone(),
                "--will-payload".into(),
                "publisher gone".into(),
                "--will-qos".into(),
                "1".into(),
            ]
        };
        let spawn = |id| {
            let a = args(id);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let mut p = util::spawn_sister("sister mqtt pub", &a);
            p.wait_for_line("published", LONG);
            p
        };

        // Ctrl+C: sister sends DISCONNECT, so the broker discards the will: the first message the
        // subscriber gets is the marker published after the publisher left.
        let mut s = sub(&m, &["-t", &will, "-V", version, "-C", "1"]);
        let mut p = spawn("polite");
        let status = p.interrupt(LONG).expect("pub stops on Ctrl+C");
        assert!(status.success(), "{}", p.output());
        publish(&m, &["-t", &will, "-m", "marker"]);
        assert_eq!(
            finish(&mut s),
            [format!("Received message: marker (Topic: {will})")]
        );

        // Killed: no DISCONNECT, the connection just breaks, the broker publishes the will.
        let mut s = sub(&m, &["-t", &will, "-V", version, "-C", "1"]);
        let mut p = spawn("killed");
        p.child.kill().unwrap();
        let _ = p.child.wait();
        assert_eq!(
            finish(&mut s),
            [format!("Received message: publisher gone (Topic: {will})")]
        );
    }
}

#[test]
fn mqtt_clients_keep_alive_and_reconnect_after_broker_restart() {
    let port = util::free_tcp_port();
    let mut m = mosquitto_on(port);
    let mut s = sub(&m, &["-t", "sister/temp", "-k", "1", "-i", "pinger", "-C", "1"]);
    // Keep-alive 1 s: the client sends PINGREQ when it has been silent that long.
    m.proc.wait_for_line("Received PINGREQ from pinger", LONG);
    drop(m);
    s.wait_for_line("connection lost", LONG);
    let m = mosquitto_on(port);
    // The subscriber reconnects on its own (backoff) and subscribes again.
    s.wait_for_line("reconnecting", LONG);
    let deadline = std::time::Instant::now() + LONG;
    while s.stdout_lines().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", s.output());
        publish(&m, &["-t", "sister/temp", "-m", "after restart"]);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        finish(&mut s),
        ["Received message: after restart (Topic: sister/temp)"]
    );
}

#[test]
fn mqtt_clients_sister_pub_to_paho_sub() {
    let m = mosquitto();
    for version in ["3", "5"] {
        let topic = format!("sister/paho/{version}");
        let port = m.port.to_string();
        let script = util::repo().join("tests/peers/mqtt_course_sub.py");
        let mut paho = Proc::spawn(
            "paho subscriber",
            util::python(
                Some("paho.mqtt.client"),
                &[script.to_str().unwrap(), "127.0.0.1", &port, &topic, version],
            ),
        );
        paho.wait_for_line("subscribed", LONG);
        let v = if version == "5" { "5" } else { "311" };
        publish(&m, &["-t", &topic, "-V", v, "--count", "2", "--interval", "0.05"]);
        let line = format!("Received message: Suhu: 28°C (Topic: {topic})");
        paho.wait_for_line(&line, LONG);
        let deadline = std::time::Instant::now() + LONG;
        while paho.stdout_lines().iter().filter(|l| **l == line).count() < 2 {
            assert!(std::time::Instant::now() < deadline, "{}", paho.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn mqtt_clients_paho_pub_to_sister_sub() {
    let m = mosquitto();
    for version in ["3", "5"] {
        let topic = format!("sister/fromPaho/{version}");
        let v = if version == "5" { "5" } else { "311" };
        let mut s = sub(&m, &["-t", &topic, "-V", v, "-C", "3"]);
        let port = m.port.to_string();
        let script = util::repo().join("tests/peers/mqtt_course_pub.py");
        let out = util::python(
            Some("paho.mqtt.client"),
            &[script.to_str().unwrap(), "127.0.0.1", &port, &topic, "3", version],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected = format!("Received message: Suhu: 28°C (Topic: {topic})");
        assert_eq!(finish(&mut s), vec![expected; 3]);
    }
}

#[test]
fn mqtt_clients_say_what_is_wrong() {
    let m = mosquitto();
    let server = m.server();
    // A wildcard is for subscribing, not publishing: refused before connecting.
    let out = util::sister(&["mqtt", "pub", "--server", &server, "-t", "sister/#", "-m", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not contain + or #"));
    // An invalid filter.
    let out = util::sister(&["mqtt", "sub", "--server", &server, "-t", "sister/#/temp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("# must be the last level"));
    // Nobody listening: the error names the address and suggests --wait.
    let closed = format!("127.0.0.1:{}", util::free_tcp_port());
    let out = util::sister(&["mqtt", "pub", "--server", &closed, "-m", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&closed) && err.contains("--wait"), "{err}");
}

#[test]
fn mqtt_clients_publisher_keeps_alive_between_messages() {
    let mut m = mosquitto();
    let server = m.server();
    let mut s = sub(&m, &["-t", "sister/slow", "-C", "1"]);
    // `-l` waiting for a line: the publisher still pings within its keep-alive of 1 s.
    let mut p = Proc::spawn(
        "sister mqtt pub -l",
        util::sister(&[
            "mqtt",
            "pub",
            "--server",
            &server,
            "-t",
            "sister/slow",
            "-l",
            "-k",
            "1",
            "-i",
            "slowpub",
        ]),
    );
    m.proc.wait_for_line("Received PINGREQ from slowpub", LONG);
    let mut stdin = p.child.stdin.take().unwrap();
    stdin.write_all(b"late line\n").unwrap();
    drop(stdin);
    assert!(
        p.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        p.output()
    );
    assert!(!p.output().contains("connection lost"), "{}", p.output());
    assert_eq!(
        finish(&mut s),
        ["Received message: late line (Topic: sister/slow)"]
    );
    // QoS 0 messages more often than the keep-alive: nothing comes back, and that is fine.
    let out = publish(
        &m,
        &[
            "-t",
            "sister/slow",
            "-k",
            "1",
            "--interval",
            "0.4",
            "--count",
            "6",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("connection lost") && err.contains("after 6 message"),
        "{err}"
    );
}

#[test]
fn mqtt_clients_against_sisters_own_broker() {
    // The same clients against `sister mqtt broker`: what `sister lab` and the compose files run.
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut broker = util::spawn_sister("sister mqtt broker", &["mqtt", "broker", "--bind", &bind]);
    util::wait_for_tcp(util::local(port), LONG);
    let server = bind.clone();
    for (version, qos) in [("311", "1"), ("5", "2")] {
        let topic = format!("sister/own/v{version}");
        let mut s = util::spawn_sister(
            "sister mqtt sub",
            &[
                "mqtt", "sub", "--server", &server, "-t", &topic, "-q", qos, "-V", version, "-C", "2",
            ],
        );
        s.wait_for_line("subscribed to", LONG);
        let out = util::sister(&[
            "mqtt",
            "pub",
            "--server",
            &server,
            "-t",
            &topic,
            "-q",
            qos,
            "-V",
            version,
            "--count",
            "2",
            "--interval",
            "0.05",
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected = format!("Received message: Suhu: 28°C (Topic: {topic})");
        assert_eq!(finish(&mut s), vec![expected; 2], "{}", broker.output());
    }
}

#[test]
fn mqtt_clients_debug_shows_every_packet_and_file_messages() {
    let m = mosquitto();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.txt");
    std::fs::write(&file, "dari berkas").unwrap();
    let mut s = sub(&m, &["-t", "sister/file", "-C", "1"]);
    let out = publish(
        &m,
        &[
            "-t",
            "sister/file",
            "-q",
            "2",
            "-d",
            "-i",
            "dbg",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // The QoS 2 exchange, one line per packet, in order.
    let shown: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("dbg "))
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>())
        .map(|w| if w[0] == "->" { "out" } else { "in" })
        .collect();
    assert_eq!(shown, ["out", "in", "out", "in", "out", "in", "out"], "{err}");
    for packet in [
        "-> CONNECT",
        "<- CONNACK",
        "-> PUBLISH",
        "<- PUBREC",
        "-> PUBREL",
        "<- PUBCOMP",
        "-> DISCONNECT",
    ] {
        assert!(err.contains(&format!("dbg {packet}")), "{packet} missing:\n{err}");
    }
    assert_eq!(
        finish(&mut s),
        ["Received message: dari berkas (Topic: sister/file)"]
    );
}

#[test]
fn mqtt_clients_persistent_session_gets_what_was_sent_while_away() {
    let m = mosquitto();
    for (version, extra) in [("311", vec!["-c"]), ("5", vec!["-c", "-x", "60"])] {
        let id = format!("away-{version}");
        let topic = format!("sister/away/{version}");
        let mut args = vec!["-t", topic.as_str(), "-q", "1", "-V", version, "-i", id.as_str()];
        args.extend(extra.iter().copied());
        // Subscribe, then leave (Ctrl+C: DISCONNECT); the broker keeps the session (-c, and in 5.0
        // a session expiry).
        let mut s = sub(&m, &args);
        assert!(s.interrupt(LONG).is_some_and(|st| st.success()), "{}", s.output());
        publish(&m, &["-t", &topic, "-q", "1", "-m", "while you were away"]);
        // Back with the same client id: the queued message arrives.
        let mut again = args.clone();
        again.extend(["-C", "1"]);
        let mut s = sub(&m, &again);
        assert_eq!(
            finish(&mut s),
            [format!("Received message: while you were away (Topic: {topic})")]
        );
        assert!(s.output().contains("session present: true"), "{}", s.output());
    }
}
