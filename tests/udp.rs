//! `sister udp`: one datagram and its answer, the flood report, errors, and interop with the course's
//! UDP client and server.

use std::net::UdpSocket;
use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

fn start_udp_server() -> (Proc, u16) {
    let port = free_udp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut p = spawn_sister("udp-server", &["udp", "server", "--bind", &bind]);
    p.wait_for_line("listening", T);
    (p, port)
}

#[test]
fn client_gets_the_course_answer() {
    let (mut server, port) = start_udp_server();
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(&["udp", "client", "--server", &addr], T);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("Received: Hello, ('127.0.0.1', "), "{out}");
    assert!(out.ends_with("). You said: Hello, UDP server2!"), "{out}");
    server.wait_for_line("received \"Hello, UDP server2!\" from ('127.0.0.1', ", T);
}

#[test]
fn flood_reports_what_came_back() {
    let (_server, port) = start_udp_server();
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "udp",
            "client",
            "--server",
            &addr,
            "--count",
            "500",
            "--size",
            "100",
            "--rate",
            "0",
            "--timeout",
            "3",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    // `sent 500, received R, lost L (..%), duplicated D, reordered O`: numbers must add up.
    let nums: Vec<u64> = out
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(out.starts_with("sent 500, received "), "{out}");
    assert_eq!(nums[0], 500);
    assert_eq!(nums[1] + nums[2], 500, "{out}");
    assert!(nums[1] > 0, "{out}");
}

#[test]
fn no_server_is_reported_not_awaited_forever() {
    let port = free_udp_port();
    let addr = format!("127.0.0.1:{port}");
    let (status, _out, err) = run_sister(
        &[
            "udp",
            "client",
            "--server",
            &addr,
            "--timeout",
            "0.5",
            "--retries",
            "1",
        ],
        T,
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("nothing listens") || err.contains("no reply"),
        "{err}"
    );
}

#[test]
fn a_udp_port_in_use_is_a_clear_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _out, err) = run_sister(&["udp", "server", "--bind", &addr], T);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("already in use"), "{err}");
}

#[test]
fn ctrl_c_stops_the_udp_server_with_exit_code_0() {
    let (mut server, _port) = start_udp_server();
    let status = server.interrupt(T).expect("server did not stop after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.output());
}

#[test]
fn course_udp_client_against_sister_server() {
    let (_server, port) = start_udp_server();
    let script = course_peer("udp_client.py");
    let (status, out, err) = run_with_input(python(None, &[&script, "127.0.0.1", &port.to_string()]), "", T);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("Received: Hello, ('127.0.0.1', "), "{out}");
    assert!(out.ends_with("). You said: Hello, UDP server2!"), "{out}");
}

#[test]
fn sister_client_against_course_udp_server() {
    let port = free_udp_port();
    let mut course = spawn_course(
        "udp_server.py",
        "udp_server.py",
        &["127.0.0.1", &port.to_string()],
    );
    course.wait_for_line("UDP server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(&["udp", "client", "--server", &addr], T);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("Received: Hello, ('127.0.0.1', "), "{out}");
    assert!(out.ends_with("). You said: Hello, UDP server2!"), "{out}");
    course.wait_for_line("Received message: Hello, UDP server2! from ('127.0.0.1', ", T);
}
