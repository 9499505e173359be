//! `sister oneway`: messages one way, framed or raw, and interop with the course's one-way programs.

use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

#[test]
fn scripted_client_lines_arrive_one_by_one() {
    let (mut server, port) = start_sister_tcp_server("oneway", &[]);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "oneway",
            "client",
            "--server",
            &addr,
            "-m",
            "hello",
            "-m",
            "distributed",
            "-m",
            "systems",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, "Sent: hello\nSent: distributed\nSent: systems");
    server.wait_for_line("messages=3", T);
    let log = server.output();
    for m in ["hello", "distributed", "systems"] {
        assert!(log.contains(&format!("received \"{m}\" (no reply")), "{log}");
    }
}

#[test]
fn ten_thousand_framed_lines_arrive_as_ten_thousand_messages() {
    let (mut server, port) = start_sister_tcp_server("oneway", &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("many.txt");
    let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&script, text).unwrap();
    let addr = format!("127.0.0.1:{port}");
    let (status, _out, err) = run_sister(
        &[
            "oneway",
            "client",
            "--server",
            &addr,
            "--script",
            script.to_str().unwrap(),
        ],
        T,
    );
    assert!(status.success(), "{err}");
    // The probe connection of start_sister_tcp_server disconnects with messages=0; ours has them all.
    server.wait_for_line("client disconnected messages=10000", T);
    assert!(server.output().contains("received \"line 0\""));
}

#[test]
fn course_oneway_client_against_sister_server() {
    let (mut server, port) = start_sister_tcp_server("oneway", &[]);
    let script = course_peer("oneway_client.py");
    let (status, _out, err) = run_with_input(
        python(None, &[&script, "127.0.0.1", &port.to_string()]),
        "hello\nbye\n",
        T,
    );
    assert!(status.success(), "{err}");
    server.wait_for_line("received \"hello\"", T);
    server.wait_for_line("raw convention", T);
}

#[test]
fn sister_raw_client_against_course_oneway_server() {
    let port = free_tcp_port();
    let mut course = spawn_course(
        "oneway_server.py",
        "oneway_server.py",
        &["127.0.0.1", &port.to_string()],
    );
    course.wait_for_line("Server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, _out, err) = run_sister(
        &["oneway", "client", "--raw", "--server", &addr, "-m", "hello"],
        T,
    );
    assert!(status.success(), "{err}");
    course.wait_timeout(T).expect("course server did not exit");
    course.collect_all();
    assert!(
        course.out_lines.contains(&"Received: hello".to_string()),
        "{}",
        course.output()
    );
}

#[test]
fn sister_framed_client_against_course_oneway_server_still_delivers_the_text() {
    // Without --raw the course's server prints the 5 header bytes too (control characters a terminal
    // does not show): the text arrives, with the frame around it.
    let port = free_tcp_port();
    let mut course = spawn_course(
        "oneway_server.py",
        "oneway_server.py",
        &["127.0.0.1", &port.to_string()],
    );
    course.wait_for_line("Server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, _out, err) = run_sister(&["oneway", "client", "--server", &addr, "-m", "hello"], T);
    assert!(status.success(), "{err}");
    course.wait_timeout(T).expect("course server did not exit");
    course.collect_all();
    assert!(
        course
            .out_lines
            .iter()
            .any(|l| l.starts_with("Received: \u{1}\u{0}\u{0}\u{0}\u{5}hello")),
        "{}",
        course.output()
    );
}

#[test]
fn ctrl_c_stops_the_oneway_server_with_exit_code_0() {
    let (mut server, _port) = start_sister_tcp_server("oneway", &[]);
    let status = server.interrupt(T).expect("server did not stop after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.output());
}
