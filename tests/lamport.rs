//! `sister lamport`: the course's exchange both ways against the course-style Python programs
//! (tests/peers/course/lamport_*.py, plain `socket` + `json` as the course's), malformed input, and
//! the simulation's recorded runs checked for the clock condition and causal consistency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(30);

fn peer(name: &str) -> String {
    repo().join("tests/peers/course").join(name).display().to_string()
}

fn sister_server() -> (Proc, u16) {
    let port = free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let p = spawn_sister("lamport server", &["lamport", "server", "--bind", &bind]);
    wait_for_tcp(local(port), T);
    (p, port)
}

#[test]
fn lamport_sister_server_with_the_course_client() {
    let (mut server, port) = sister_server();
    let mut client = Proc::spawn(
        "course lamport_client.py",
        python(
            None,
            &[&peer("lamport_client.py"), "127.0.0.1", &port.to_string()],
        ),
    );
    assert!(
        client.wait_timeout(T).is_some_and(|s| s.success()),
        "{}",
        client.output()
    );
    let out = client.output();
    // A sent timestamp 1 and balance 1100; B received at max(0,1)+1 = 2 and sent at 3.
    assert!(
        out.contains("'message': 'Add $100', 'balance': 1100, 'timestamp': 1"),
        "{out}"
    );
    assert!(out.contains("Process B: balance 1050, clock 3"), "{out}");
    server.wait_for_line("process A: balance 1050, clock 4", T);
}

#[test]
fn lamport_sister_client_with_the_course_server() {
    let port = free_tcp_port();
    let mut server = Proc::spawn(
        "course lamport_server.py",
        python(None, &[&peer("lamport_server.py"), &port.to_string()]),
    );
    server.wait_for_line("listening", T);
    let mut client = spawn_sister(
        "lamport client",
        &[
            "lamport",
            "client",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--wait",
            "10",
        ],
    );
    assert!(
        client.wait_timeout(T).is_some_and(|s| s.success()),
        "{}",
        client.output()
    );
    client.wait_for_line("process B: balance 1050, clock 3", T);
    client.wait_for_line("clock max(0, 1) + 1 = 2", T);
    assert!(
        server.wait_timeout(T).is_some_and(|s| s.success()),
        "{}",
        server.output()
    );
    server.wait_for_line("Process A: balance 1050, clock 4", T);
    server.wait_for_line("'message': 'Subtract $50', 'balance': 1050, 'timestamp': 3", T);
}

#[test]
fn lamport_sister_both_sides_put_the_courses_bytes_on_the_wire() {
    let (mut server, port) = sister_server();
    // Play process B by hand to see A's exact bytes.
    let mut s = TcpStream::connect(local(port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        br#"{"message": "Add $100", "balance": 1100, "timestamp": 1}"#
    );
    s.write_all(br#"{"message": "Subtract $50", "balance": 1050, "timestamp": 3}"#)
        .unwrap();
    drop(s);
    server.wait_for_line("process A: balance 1050, clock 4", T);
    // Each connection is a fresh run of process A: the next exchange starts from clock 0 again.
    let mut s = TcpStream::connect(local(port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        br#"{"message": "Add $100", "balance": 1100, "timestamp": 1}"#
    );
}

#[test]
fn lamport_malformed_messages_are_reported_and_the_server_carries_on() {
    let (mut server, port) = sister_server();
    let mut s = TcpStream::connect(local(port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 1024];
    let _ = s.read(&mut buf).unwrap();
    s.write_all(b"hello, not json").unwrap();
    server.wait_for_line("malformed Lamport message", T);
    std::thread::sleep(Duration::from_millis(200));
    s.write_all(br#"{"message": "x", "balance": "lots", "timestamp": 9}"#)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Still waiting on the same connection: a valid message completes the exchange.
    s.write_all(br#"{"message": "Subtract $50", "balance": 1050, "timestamp": 3}"#)
        .unwrap();
    server.wait_for_line("process A: balance 1050, clock 4", T);
    let out = server.output();
    assert!(out.contains("not a Lamport message"), "{out}");
    // And the server still serves new connections.
    let mut client = spawn_sister(
        "lamport client",
        &["lamport", "client", "--server", &format!("127.0.0.1:{port}")],
    );
    assert!(
        client.wait_timeout(T).is_some_and(|s| s.success()),
        "{}",
        client.output()
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server must still run"
    );
}

#[test]
fn lamport_client_reports_a_malformed_message_and_keeps_waiting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = spawn_sister(
        "lamport client",
        &["lamport", "client", "--server", &format!("127.0.0.1:{port}")],
    );
    let (mut s, _) = listener.accept().unwrap();
    s.write_all(b"[1, 2, 3]").unwrap();
    client.wait_for_line("malformed Lamport message", T);
    std::thread::sleep(Duration::from_millis(200));
    s.write_all(br#"{"message": "Add $100", "balance": 1100, "timestamp": 1}"#)
        .unwrap();
    client.wait_for_line("process B: balance 1050, clock 3", T);
}

/// The vector-clock order, computed here independently of sister's code.
fn happened_before(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

#[test]
fn lamport_sim_recorded_runs_keep_the_clock_condition_and_causal_order() {
    let dir = tempfile::tempdir().unwrap();
    for (processes, seed) in [("3", "1"), ("4", "9"), ("5", "12345")] {
        let record = dir.path().join(format!("run-{seed}.json"));
        let svg = dir.path().join(format!("run-{seed}.svg"));
        let out = sister(&[
            "lamport",
            "sim",
            "--processes",
            processes,
            "--seed",
            seed,
            "--events",
            "12",
            "--vector",
            "--record",
            record.to_str().unwrap(),
            "--diagram",
            svg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("concurrent pairs"), "{stdout}");

        let run: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        let events = run["events"].as_array().unwrap();
        let messages = run["messages"].as_array().unwrap();
        assert!(!messages.is_empty());
        // Clock condition: every message's send clock is below its receive clock.
        for m in messages {
            let s = &events[m["send_event"].as_u64().unwrap() as usize];
            let r = &events[m["receive_event"].as_u64().unwrap() as usize];
            assert_eq!(s["kind"], "send");
            assert_eq!(r["kind"], "receive");
            assert!(s["lamport"].as_u64() < r["lamport"].as_u64(), "message {m}");
        }
        // Every event of one process has a larger clock than the one before (IR1).
        // And the total order (clock, pid) never puts an effect before its cause.
        let key = |e: &serde_json::Value| (e["lamport"].as_u64().unwrap(), e["pid"].as_u64().unwrap());
        let vec_of = |e: &serde_json::Value| -> Vec<u64> {
            e["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        };
        let mut concurrent = 0;
        for a in events {
            for b in events {
                if happened_before(&vec_of(a), &vec_of(b)) {
                    assert!(key(a) < key(b), "{a} → {b} but the total order disagrees");
                } else if a != b && !happened_before(&vec_of(b), &vec_of(a)) {
                    concurrent += 1;
                }
            }
        }
        assert!(
            concurrent > 0,
            "a run with messages between 3+ processes has concurrent events"
        );

        let svg = std::fs::read_to_string(&svg).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(
            svg.matches(r#"class="process""#).count(),
            processes.parse::<usize>().unwrap()
        );
        assert_eq!(svg.matches(r#"class="message""#).count(), messages.len());
    }
}

#[test]
fn lamport_sim_is_reproducible_from_its_seed() {
    let run = |seed: &str| {
        sister(&["lamport", "sim", "--processes", "3", "--seed", seed])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run("42"), run("42"));
    assert_ne!(run("42"), run("43"));
}
