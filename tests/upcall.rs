//! `sister upcall`: real upcalls between sister peers (completion, notices to other clients, periodic
//! notices while the client waits at its terminal), and interop with the course's `clientcall.py` and
//! upcall server.

use std::io::Write;
use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

#[test]
fn scripted_client_gets_immediate_and_completion_upcalls() {
    let (_server, port) = start_sister_tcp_server("upcall", &["--work-ms", "200", "--notify-every", "0"]);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "upcall",
            "client",
            "--server",
            &addr,
            "--name",
            "alice",
            "-m",
            "hello",
            "-m",
            "distributed",
            "-m",
            "bye",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Received: Upcall event: Registered as alice (1 client registered)"
    );
    for m in ["hello", "distributed", "bye"] {
        let now = lines
            .iter()
            .position(|l| *l == format!("Received: Upcall event: Processing {m}"));
        let done = lines
            .iter()
            .position(|l| *l == format!("Received: Upcall event: Done {m} (work took 200 ms)"));
        assert!(matches!((now, done), (Some(a), Some(b)) if a < b), "{m}: {out}");
    }
}

#[test]
fn the_server_calls_a_waiting_client_on_its_own_initiative() {
    let (_server, port) = start_sister_tcp_server("upcall", &["--work-ms", "100", "--notify-every", "0.5"]);
    let addr = format!("127.0.0.1:{port}");
    // Bob sits at his terminal typing nothing: everything he prints is an upcall.
    let mut bob = spawn_sister("bob", &["upcall", "client", "--server", &addr, "--name", "bob"]);
    bob.wait_for_line("Registered as bob", T);
    let (status, _out, err) = run_sister(
        &[
            "upcall", "client", "--server", &addr, "--name", "alice", "-m", "hello",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    bob.wait_for_line("Received: Upcall event: Notice: alice registered", T);
    bob.wait_for_line("Received: Upcall event: Notice: alice sent \"hello\"", T);
    bob.wait_for_line("Received: Upcall event: Notice: alice left", T);
    bob.wait_for_line("Received: Upcall event: Notice: tick", T);
    // Now bob types, and still gets his own upcalls; `bye` ends him after his work is done.
    let stdin = bob.child.stdin.as_mut().unwrap();
    stdin.write_all(b"my line\nbye\n").unwrap();
    stdin.flush().unwrap();
    bob.wait_for_line("Received: Upcall event: Done my line (work took 100 ms)", T);
    let status = bob.wait_timeout(T).expect("bob did not end after bye");
    assert!(status.success(), "{}", bob.output());
}

#[test]
fn course_clientcall_py_gets_only_the_immediate_answer() {
    let (mut server, port) = start_sister_tcp_server("upcall", &["--work-ms", "50", "--notify-every", "0.2"]);
    let script = course_peer("clientcall.py");
    let (status, out, err) = run_with_input(
        python(None, &[&script, "127.0.0.1", &port.to_string()]),
        "\\haiii\ntes12\ntes\nhai\nbye\n",
        T,
    );
    assert!(status.success(), "{err}");
    let replies: Vec<&str> = out
        .lines()
        .map(|l| l.trim_start_matches("Enter message: "))
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        replies,
        [
            "Received: Upcall event: Processing \\haiii",
            "Received: Upcall event: Processing tes12",
            "Received: Upcall event: Processing tes",
            "Received: Upcall event: Processing hai",
        ]
    );
    server.wait_for_line("raw convention", T);
}

#[test]
fn sister_client_against_the_course_upcall_server() {
    let port = free_tcp_port();
    let mut course = spawn_course(
        "servercall.py",
        "servercall.py",
        &["127.0.0.1", &port.to_string()],
    );
    course.wait_for_line("Upcall server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &["upcall", "client", "--server", &addr, "-m", "hello", "-m", "bye"],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(
        out,
        "Received: Upcall event: Processing hello\nReceived: Upcall event: Processing bye"
    );
    assert!(err.contains("does not make upcalls"), "{err}");
    course.wait_timeout(T).expect("course server did not exit");
}

#[test]
fn sister_raw_client_against_the_course_upcall_server() {
    let port = free_tcp_port();
    let mut course = spawn_course(
        "servercall.py",
        "servercall.py",
        &["127.0.0.1", &port.to_string()],
    );
    course.wait_for_line("Upcall server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &["upcall", "client", "--raw", "--server", &addr, "-m", "hello"],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, "Received: Upcall event: Processing hello");
    course.wait_timeout(T).expect("course server did not exit");
    course.collect_all();
    assert!(
        course.out_lines.contains(&"Received: hello".to_string()),
        "{}",
        course.output()
    );
}

#[test]
fn ctrl_c_tells_registered_clients_and_exits_0() {
    let (mut server, port) = start_sister_tcp_server("upcall", &["--notify-every", "0"]);
    let addr = format!("127.0.0.1:{port}");
    let mut client = spawn_sister(
        "client",
        &["upcall", "client", "--server", &addr, "--name", "carol"],
    );
    client.wait_for_line("Registered as carol", T);
    let status = server.interrupt(T).expect("server did not stop after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    client.wait_for_line("Notice: the server is shutting down", T);
    let status = client
        .wait_timeout(T)
        .expect("client did not end when the server left");
    assert!(status.success(), "{}", client.output());
}

#[test]
fn a_peer_breaking_the_framing_leaves_the_others_registered() {
    use std::io::Read;
    let (_server, port) = start_sister_tcp_server("upcall", &["--work-ms", "50", "--notify-every", "0"]);
    let addr = format!("127.0.0.1:{port}");
    let mut bob = spawn_sister("bob", &["upcall", "client", "--server", &addr, "--name", "bob"]);
    bob.wait_for_line("Registered as bob", T);

    // Mallory registers properly, then sends a frame header announcing 2 GiB (over the limit).
    let mut mallory = std::net::TcpStream::connect(local(port)).unwrap();
    mallory
        .write_all(&wire::frame::encode_to_vec(b"register mallory").unwrap())
        .unwrap();
    bob.wait_for_line("Notice: mallory registered", T);
    mallory
        .write_all(b"\x01\x7f\xff\xff\xffGET / HTTP/1.1\r\n\r\n")
        .unwrap();
    mallory.set_read_timeout(Some(T)).unwrap();
    let mut sink = Vec::new();
    let _ = mallory.read_to_end(&mut sink); // the server drops her
    bob.wait_for_line("Notice: mallory left", T);

    // Bob is still served.
    let stdin = bob.child.stdin.as_mut().unwrap();
    stdin.write_all(b"still here\nbye\n").unwrap();
    bob.wait_for_line("Received: Upcall event: Done still here", T);
    let status = bob.wait_timeout(T).expect("bob did not end");
    assert!(status.success(), "{}", bob.output());
}
