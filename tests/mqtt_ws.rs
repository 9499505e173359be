//! MQTT over WebSockets (RFC 6455, MQTT 5.0 §6) against the real thing: paho-mqtt with
//! `transport="websockets"`, Mosquitto 2.0's `protocol websockets` listener (Debian's, on
//! libwebsockets), and a client that writes frames by hand (tests/peers/mqtt_ws_raw.py) for what
//! paho never sends.
//!
//! What is checked: paho's round trips in 3.1.1 and 5.0 (QoS 0 and 1, a 200 KB payload, a retained
//! message) print the same lines on sister and on Mosquitto; a packet cut across continuation
//! frames, two packets in one frame, a ping between fragments and a close are handled alike by
//! both; a WebSocket subscriber gets what a plain-TCP publisher (`sister mqtt pub`, mosquitto_pub)
//! sends; a mosquitto.conf with `protocol websockets` and per-listener passwords works unchanged on
//! both; a plain HTTP GET gets a clear 426 from sister (Mosquitto closes without a word) and both
//! brokers go on serving; an unmasked client frame is closed with 1002 (RFC 6455 §5.1; Mosquitto's
//! libwebsockets lets it through); WebSocket over TLS (`protocol websockets` with certfile and
//! keyfile) serves paho on both.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{self, Proc};

const LONG: Duration = Duration::from_secs(30);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

fn paho_ws(args: &[&str]) -> Command {
    let script = util::repo().join("tests/peers/mqtt_ws_paho.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    util::python(Some("paho.mqtt.client"), &all)
}

fn raw_ws(args: &[&str]) -> Command {
    let script = util::repo().join("tests/peers/mqtt_ws_raw.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    util::python(None, &all)
}

/// Run `cmd` to completion: its stdout, after checking it succeeded.
fn output_of(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// sister's broker with a plain listener and a WebSocket listener (`--ws-bind`): (proc, plain, ws).
fn sister_ws_broker() -> (Proc, u16, u16) {
    let (plain, ws) = (util::free_tcp_port(), util::free_tcp_port());
    let mut p = util::spawn_sister(
        "sister mqtt broker",
        &[
            "mqtt",
            "broker",
            "--bind",
            &format!("127.0.0.1:{plain}"),
            "--ws-bind",
            &format!("127.0.0.1:{ws}"),
            "-v",
        ],
    );
    p.wait_for_line(&format!("MQTT over WebSockets on ws://127.0.0.1:{ws}/mqtt"), LONG);
    util::wait_for_tcp(util::local(ws), LONG);
    (p, plain, ws)
}

/// Mosquitto with `conf` (which must name a plain listener too: 2.0.11 refuses to start with only
/// WebSocket listeners, "Unable to start any listening sockets"), ready on `port`. `user root`:
/// started as root it would otherwise switch to the user `mosquitto`.
fn mosquitto(dir: &Path, conf: &str, port: u16) -> Proc {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./.ci/run"
    );
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, format!("user root\npersistence false\n{conf}")).unwrap();
    let mut cmd = Command::new(MOSQUITTO);
    cmd.arg("-c").arg(&path);
    let p = Proc::spawn("mosquitto", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    p
}

fn mosquitto_ws_broker(dir: &Path) -> (Proc, u16, u16) {
    let (plain, ws) = (util::free_tcp_port(), util::free_tcp_port());
    let conf =
        format!("allow_anonymous true\nlistener {plain} 127.0.0.1\nlistener {ws}\nprotocol websockets\n");
    (mosquitto(dir, &conf, ws), plain, ws)
}

#[test]
fn paho_over_websockets_the_same_on_sister_and_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sister, _, ws) = sister_ws_broker();
    let ours: Vec<String> = ["3", "5"]
        .iter()
        .map(|v| output_of(paho_ws(&["roundtrip", &ws.to_string(), v]), "paho on sister"))
        .collect();
    sister.wait_for_line("WebSocket handshake done", LONG);
    let (_m, _, mws) = mosquitto_ws_broker(dir.path());
    let theirs: Vec<String> = ["3", "5"]
        .iter()
        .map(|v| output_of(paho_ws(&["roundtrip", &mws.to_string(), v]), "paho on Mosquitto"))
        .collect();
    assert_eq!(ours, theirs);
    assert!(
        ours[0].contains("got lab/ws/big qos=1 retain=0 200000 bytes")
            && ours[1].contains("late got lab/retained/5 retain=1 kept by the broker"),
        "{ours:?}"
    );
    assert!(
        sister.interrupt(LONG).is_some_and(|s| s.success()),
        "{}",
        sister.output()
    );
}

#[test]
fn packets_across_frames_and_frames_holding_packets() {
    // Written by hand: the CONNECT in two fragments with a ping between them, SUBSCRIBE alone,
    // a small PUBLISH and the start of a 100 KB one in one frame, the rest in two continuation
    // frames; then a close 1000, answered with a close 1000 and the end of the connection.
    let dir = tempfile::tempdir().unwrap();
    let (_s, _, ws) = sister_ws_broker();
    let ours = output_of(raw_ws(&["fragments", &ws.to_string()]), "raw client on sister");
    let (_m, _, mws) = mosquitto_ws_broker(dir.path());
    let theirs = output_of(
        raw_ws(&["fragments", &mws.to_string()]),
        "raw client on Mosquitto",
    );
    assert_eq!(ours, theirs);
    assert_eq!(
        ours.lines().collect::<Vec<_>>(),
        [
            "pong b'hi'",
            "CONNACK rc=0",
            "SUBACK 0",
            "PUBLISH raw/small 24 bytes",
            "PUBLISH raw/big 100000 bytes (intact)",
            "close 1000",
            "eof"
        ]
    );
}

#[test]
fn a_websocket_subscriber_gets_what_a_plain_publisher_sends() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, plain, ws) = sister_ws_broker();
    let (_m, mplain, mws) = mosquitto_ws_broker(dir.path());
    for (name, plain, ws) in [("sister", plain, ws), ("mosquitto", mplain, mws)] {
        let mut sub = Proc::spawn("paho ws sub", paho_ws(&["sub", &ws.to_string(), "lab/#", "2"]));
        sub.wait_for_line("subscribed", LONG);
        let server = format!("127.0.0.1:{plain}");
        let (status, _, err) = util::run_sister(
            &[
                "mqtt",
                "pub",
                "--server",
                &server,
                "-t",
                "lab/from-tcp",
                "-m",
                "sister pub",
                "-q",
                "1",
            ],
            LONG,
        );
        assert!(status.success(), "sister mqtt pub to {name}: {err}");
        let out = Command::new("mosquitto_pub")
            .args([
                "-p",
                &plain.to_string(),
                "-h",
                "127.0.0.1",
                "-t",
                "lab/from-tcp",
                "-m",
                "mosquitto_pub",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "mosquitto_pub to {name}");
        assert!(
            sub.wait_timeout(LONG).is_some_and(|s| s.success()),
            "{name}: {}",
            sub.output()
        );
        assert_eq!(
            sub.stdout_lines(),
            [
                "subscribed",
                "lab/from-tcp sister pub",
                "lab/from-tcp mosquitto_pub"
            ],
            "{name}"
        );
    }
}

#[test]
fn a_mosquitto_conf_with_protocol_websockets_and_per_listener_passwords() {
    // The same file for both brokers: anonymous plain MQTT, and a WebSocket listener with its own
    // password file (per_listener_settings true).
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let (status, _, err) = util::run_sister(
        &[
            "mqtt",
            "passwd",
            "-b",
            "-c",
            passwd.to_str().unwrap(),
            "alice",
            "secret",
        ],
        LONG,
    );
    assert!(status.success(), "{err}");
    let conf = |plain: u16, ws: u16| {
        format!(
            "per_listener_settings true\nlistener {plain} 127.0.0.1\nallow_anonymous true\n\
             listener {ws} 127.0.0.1\nprotocol websockets\nallow_anonymous false\npassword_file {}\n",
            passwd.display()
        )
    };
    let check = |ws: u16, name: &str| -> Vec<String> {
        let ws = ws.to_string();
        [
            paho_ws(&["connect", &ws, "alice", "secret"]),
            paho_ws(&["connect", &ws, "alice", "wrong"]),
            paho_ws(&["connect", &ws]),
        ]
        .into_iter()
        .map(|c| output_of(c, name).trim().to_string())
        .collect()
    };
    let (plain, ws) = (util::free_tcp_port(), util::free_tcp_port());
    let file = dir.path().join("sister.conf");
    std::fs::write(&file, conf(plain, ws)).unwrap();
    let mut sister = util::spawn_sister(
        "sister mqtt broker",
        &["mqtt", "broker", "-c", file.to_str().unwrap()],
    );
    sister.wait_for_line(&format!("ws://127.0.0.1:{ws}/mqtt"), LONG);
    util::wait_for_tcp(util::local(ws), LONG);
    let ours = check(ws, "paho on sister");
    let (mplain, mws) = (util::free_tcp_port(), util::free_tcp_port());
    let _m = mosquitto(dir.path(), &conf(mplain, mws), mws);
    let theirs = check(mws, "paho on Mosquitto");
    assert_eq!(ours, theirs);
    assert_eq!(
        ours,
        [
            "connack Success",
            "connack Not authorized",
            "connack Not authorized"
        ]
    );

    // The listener flags and -c never mix.
    let (status, _, err) = util::run_sister(
        &[
            "mqtt",
            "broker",
            "-c",
            file.to_str().unwrap(),
            "--ws-bind",
            "127.0.0.1:1",
        ],
        LONG,
    );
    assert!(!status.success());
    assert!(err.contains("--ws-bind cannot be used with -c"), "{err}");
}

#[test]
fn a_plain_http_get_is_refused_and_the_broker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sister, _, ws) = sister_ws_broker();
    let answer = output_of(raw_ws(&["http", &ws.to_string()]), "GET on sister");
    assert_eq!(
        answer.lines().collect::<Vec<_>>(),
        [
            "HTTP/1.1 426 Upgrade Required",
            "this is a WebSocket endpoint: the request has no `Upgrade: websocket` (RFC 6455 §4.2.1)"
        ]
    );
    sister.wait_for_line("WebSocket handshake refused with 426", LONG);
    // Mosquitto (libwebsockets without http_dir) closes without answering; both go on serving.
    let (_m, _, mws) = mosquitto_ws_broker(dir.path());
    let theirs = output_of(raw_ws(&["http", &mws.to_string()]), "GET on Mosquitto");
    assert_eq!(theirs.trim(), "closed without an answer");
    for port in [ws, mws] {
        let out = output_of(paho_ws(&["connect", &port.to_string()]), "paho after the GET");
        assert_eq!(out.trim(), "connack Success");
    }
    // A plain MQTT client on the WebSocket port is told so in the log.
    let out = Command::new("mosquitto_pub")
        .args(["-p", &ws.to_string(), "-h", "127.0.0.1", "-t", "x", "-m", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    sister.wait_for_line("that was an MQTT CONNECT", LONG);
    assert!(
        sister.interrupt(LONG).is_some_and(|s| s.success()),
        "{}",
        sister.output()
    );
}

#[test]
fn an_unmasked_client_frame_closes_the_connection() {
    // RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not
    // masked", with 1002 (§7.4.1). (Mosquitto 2.0.11's libwebsockets accepts the frame and answers
    // the CONNECT; sister keeps the RFC's rule.)
    let (mut sister, _, ws) = sister_ws_broker();
    let out = output_of(raw_ws(&["unmasked", &ws.to_string()]), "unmasked frame");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["close 1002", "eof"]);
    sister.wait_for_line("an unmasked frame from the client", LONG);
    let out = output_of(paho_ws(&["connect", &ws.to_string()]), "paho after it");
    assert_eq!(out.trim(), "connack Success");
}

#[test]
fn websockets_over_tls_with_the_same_file() {
    let ca = crate::mqtt_tls::OpensslCa::new();
    let dir = tempfile::tempdir().unwrap();
    let conf = |plain: u16, wss: u16| {
        format!(
            "allow_anonymous true\nlistener {plain} 127.0.0.1\nlistener {wss} 127.0.0.1\nprotocol websockets\n\
             certfile {}\nkeyfile {}\n",
            ca.path("server.crt"),
            ca.path("server.key")
        )
    };
    let (plain, wss) = (util::free_tcp_port(), util::free_tcp_port());
    let file = dir.path().join("sister.conf");
    std::fs::write(&file, conf(plain, wss)).unwrap();
    let mut sister = util::spawn_sister(
        "sister mqtt broker",
        &["mqtt", "broker", "-c", file.to_str().unwrap()],
    );
    sister.wait_for_line(&format!("wss://127.0.0.1:{wss}/mqtt"), LONG);
    util::wait_for_tcp(util::local(wss), LONG);
    let cafile = ca.path("ca.crt");
    let ours = output_of(
        paho_ws(&["tls", &wss.to_string(), &cafile]),
        "paho over wss on sister",
    );
    let (mplain, mwss) = (util::free_tcp_port(), util::free_tcp_port());
    let _m = mosquitto(dir.path(), &conf(mplain, mwss), mwss);
    let theirs = output_of(
        paho_ws(&["tls", &mwss.to_string(), &cafile]),
        "paho over wss on Mosquitto",
    );
    assert_eq!(ours, theirs);
    assert_eq!(ours.trim(), "got lab/wss over wss");
}
