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
    // An empty retained message clears it: the next subscriber gets nothing and times out (27).
    publish(&m, &["-t", "sister/kept", "-n", "-r"]);
    let mut s = sub(&m, &["-t", "sister/kept", "-W", "2"]);
    let status = s.wait_timeout(LONG).expect("-W ends the subscriber");
    assert_eq!(status.code(), Some(27), "{}", s.output());
    assert!(s.stdout_lines().is_empty());
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

        // Ctrl+C: sister sends DISCONNECT, so the broker discards the will.
        let mut s = sub(&m, &["-t", &will, "-V", version, "-W", "3"]);
        let mut p = spawn("polite");
        let status = p.interrupt(LONG).expect("pub stops on Ctrl+C");
        assert!(status.success(), "{}", p.output());
        let status = s.wait_timeout(LONG).expect("-W ends the subscriber");
        assert_eq!(status.code(), Some(27), "no will expected:\n{}", s.output());

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
