//! `sister reqresp`: the server and client end to end, the framing's promises (1 MB, 10,000 messages),
//! failure cases, and interop with the course's `server.py`, `client.py` and `auto_client.py`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use patterns::framing::{ClientConn, Framing, MessageReader};
use tokio::io::AsyncWriteExt;
use wire::frame;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

fn echo_lines(msgs: &[&str]) -> String {
    msgs.iter()
        .map(|m| format!("Received: Echo: {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn scripted_client_gets_the_worksheet_echoes() {
    let (_server, port) = start_sister_tcp_server("reqresp", &[]);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "reqresp",
            "client",
            "--server",
            &addr,
            "-m",
            "hello",
            "-m",
            "distributed",
            "-m",
            "systems",
            "-m",
            "bye",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "distributed", "systems", "bye"]));
}

#[test]
fn script_file_and_server_env_var() {
    let (_server, port) = start_sister_tcp_server("reqresp", &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lines.txt");
    std::fs::write(&script, "hello\n\ndistributed\n").unwrap();
    let mut cmd = sister(&["reqresp", "client", "--script", script.to_str().unwrap()]);
    cmd.env("SISTER_SERVER", format!("127.0.0.1:{port}"));
    let (status, out, err) = run_with_input(cmd, "", T);
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "distributed"]));
}

#[test]
fn interactive_bye_ends_without_being_sent() {
    let (mut server, port) = start_sister_tcp_server("reqresp", &[]);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_with_input(
        sister(&["reqresp", "client", "--server", &addr]),
        "hello\nsystems\nbye\nnot sent\n",
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "systems"]));
    server.wait_for_line("client disconnected messages=2", T);
    let log = server.output();
    assert!(log.contains("received \"systems\""), "{log}");
    assert!(!log.contains("received \"bye\""), "bye must not be sent: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once() {
    let (_server, port) = start_sister_tcp_server("reqresp", &["-q"]);
    let addr = format!("127.0.0.1:{port}");
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..60 {
        let addr = addr.clone();
        let framing = if c % 2 == 0 { Framing::Auto } else { Framing::Raw };
        tasks.spawn(async move {
            let mut conn = ClientConn::connect(&addr, Duration::from_secs(10), framing)
                .await
                .unwrap();
            for i in 0..20 {
                let msg = format!("client {c} message {i}");
                let reply = conn.request(msg.as_bytes()).await.unwrap().unwrap();
                assert_eq!(reply, format!("Echo: {msg}").as_bytes());
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_message_arrives_whole() {
    let (_server, port) = start_sister_tcp_server("reqresp", &[]);
    let mut conn = ClientConn::connect(&format!("127.0.0.1:{port}"), T, Framing::Auto)
        .await
        .unwrap();
    let big: Vec<u8> = (0..1_048_576u32).map(|i| b'a' + (i % 26) as u8).collect();
    let reply = conn.request(&big).await.unwrap().unwrap();
    assert_eq!(reply.len(), 6 + big.len());
    assert!(reply.starts_with(b"Echo: ") && reply[6..] == big[..]);
    // ...and the connection is still in step afterwards.
    assert_eq!(conn.request(b"after").await.unwrap().unwrap(), b"Echo: after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_back_to_back_are_neither_split_nor_merged() {
    let (_server, port) = start_sister_tcp_server("reqresp", &["-q"]);
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (r, mut w) = stream.into_split();
    let n = 10_000;
    // All 10,000 frames in one buffer, written at once: TCP will cut it wherever it likes.
    let mut all = Vec::new();
    for i in 0..n {
        frame::encode(format!("m{i}").as_bytes(), &mut all).unwrap();
    }
    let writer = tokio::spawn(async move {
        w.write_all(&all).await.unwrap();
        w
    });
    let mut reader = MessageReader::detect(r);
    for i in 0..n {
        let reply = tokio::time::timeout(T, reader.read_message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reply, format!("Echo: m{i}").as_bytes(), "reply {i}");
    }
    writer.await.unwrap();
}

#[test]
fn ctrl_c_stops_the_server_with_exit_code_0() {
    let (mut server, port) = start_sister_tcp_server("reqresp", &[]);
    // An idle client must not keep the server from stopping.
    let _idle = TcpStream::connect(local(port)).unwrap();
    server.wait_for_line("client connected", T);
    let status = server.interrupt(T).expect("server did not stop after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(server.output().contains("server stopped"));
}

#[test]
fn garbage_and_half_messages_do_not_disturb_other_clients() {
    let (mut server, port) = start_sister_tcp_server("reqresp", &[]);
    let mut good = TcpStream::connect(local(port)).unwrap();
    good.set_read_timeout(Some(T)).unwrap();
    let roundtrip = |s: &mut TcpStream, msg: &[u8]| {
        s.write_all(&frame::encode_to_vec(msg).unwrap()).unwrap();
        let mut buf = vec![0u8; frame::HEADER_LEN + 6 + msg.len()];
        s.read_exact(&mut buf).unwrap();
        buf
    };
    assert_eq!(&roundtrip(&mut good, b"before")[5..], b"Echo: before");

    // A frame announcing 4 GiB: refused, that peer is dropped.
    let mut huge = TcpStream::connect(local(port)).unwrap();
    huge.write_all(&[0x01, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    // A frame cut off in the middle, then the peer vanishes.
    let mut half = TcpStream::connect(local(port)).unwrap();
    half.write_all(&[0x01, 0, 0, 0, 100, b'x', b'y']).unwrap();
    drop(half);
    // A valid frame followed by bytes that are no frame.
    let mut junk = TcpStream::connect(local(port)).unwrap();
    let mut bytes = frame::encode_to_vec(b"ok").unwrap();
    bytes.extend_from_slice(b"\xde\xad\xbe\xef garbage");
    junk.write_all(&bytes).unwrap();
    // Binary that is not a frame at all is a raw client: it gets its echo.
    let mut binary = TcpStream::connect(local(port)).unwrap();
    binary.set_read_timeout(Some(T)).unwrap();
    binary.write_all(b"\xff\xfe\x00binary").unwrap();
    let mut buf = [0u8; 64];
    let n = binary.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Echo: \xff\xfe\x00binary");

    server.wait_for_line("announces 4294967295 bytes", T);
    server.wait_for_line("in the middle of a message (7 of 105 bytes", T);
    server.wait_for_line("\\xff\\xfe\\x00binary", T);
    assert_eq!(&roundtrip(&mut good, b"after")[5..], b"Echo: after");
    drop(huge);
    drop(junk);
    assert!(!server.output().contains("panicked"));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _out, err) = run_sister(&["reqresp", "server", "--bind", &addr], T);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unresolvable_server_is_a_clear_error() {
    let (status, _out, err) = run_sister(
        &[
            "reqresp",
            "client",
            "--server",
            "no-such-host.invalid:2222",
            "-m",
            "hi",
        ],
        T,
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot resolve"), "{err}");
}

#[test]
fn the_default_server_is_the_compose_service() {
    let (status, _out, err) = run_sister(&["reqresp", "client", "-m", "hi"], T);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("reqresp-server:2222"), "{err}");
}

#[test]
fn wait_retries_until_the_server_is_up() {
    let port = free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    let mut client = spawn_sister(
        "client",
        &[
            "reqresp", "client", "--server", &addr, "--wait", "30", "-m", "hello",
        ],
    );
    std::thread::sleep(Duration::from_millis(800));
    let _server = spawn_sister("server", &["reqresp", "server", "--bind", &addr]);
    let status = client.wait_timeout(T).expect("client did not finish");
    client.collect_all();
    assert!(status.success(), "{}", client.output());
    assert_eq!(client.out_lines, vec!["Received: Echo: hello".to_string()]);
}

#[test]
fn a_peer_s_invalid_utf8_is_shown_escaped() {
    // A raw server that answers bytes that are not UTF-8.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).unwrap();
        s.write_all(b"Echo: caf\xe9 \xff").unwrap();
    });
    let (status, out, err) = run_sister(&["reqresp", "client", "--server", &addr, "-m", "hello"], T);
    peer.join().unwrap();
    assert!(status.success(), "{err}");
    assert_eq!(out, "Received: Echo: caf\\xe9 \\xff");
}

// --- interop with the course's programs ----------------------------------------------------------

#[test]
fn course_client_py_against_sister_server() {
    let (mut server, port) = start_sister_tcp_server("reqresp", &[]);
    let script = course_peer("client.py");
    let (status, out, err) = run_with_input(
        python(None, &[&script, "127.0.0.1", &port.to_string()]),
        "hello\ndistributed\nbye\n",
        T,
    );
    assert!(status.success(), "{err}");
    assert!(out.contains("Received: Echo: hello"), "{out}");
    assert!(out.contains("Received: Echo: distributed"), "{out}");
    assert!(!out.contains("Echo: bye"), "{out}");
    server.wait_for_line("raw convention", T);
}

#[test]
fn course_auto_client_py_against_sister_server() {
    let (_server, port) = start_sister_tcp_server("reqresp", &[]);
    let script = course_peer("auto_client.py");
    let (status, out, err) = run_with_input(python(None, &[&script, "127.0.0.1", &port.to_string()]), "", T);
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "distributed", "systems", "bye"]));
}

#[test]
fn sister_client_against_course_server_py_falls_back_to_raw() {
    let port = free_tcp_port();
    let mut course = spawn_course("server.py", "server.py", &["127.0.0.1", &port.to_string()]);
    course.wait_for_line("Server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "reqresp",
            "client",
            "--server",
            &addr,
            "-m",
            "hello",
            "-m",
            "distributed",
            "-m",
            "systems",
            "-m",
            "bye",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "distributed", "systems", "bye"]));
    assert_eq!(err.matches("Falling back to raw mode").count(), 1, "{err}");
    // The course's server accepts one client and exits when it leaves.
    let st = course.wait_timeout(T).expect("course server did not exit");
    assert!(st.success(), "{}", course.output());
    assert!(course.output().contains("Received: systems"));
}

#[test]
fn sister_raw_client_against_course_server_py() {
    let port = free_tcp_port();
    let mut course = spawn_course("server.py", "server.py", &["127.0.0.1", &port.to_string()]);
    course.wait_for_line("Server listening", T);
    let addr = format!("127.0.0.1:{port}");
    let (status, out, err) = run_sister(
        &[
            "reqresp", "client", "--raw", "--server", &addr, "-m", "hello", "-m", "bye",
        ],
        T,
    );
    assert!(status.success(), "{err}");
    assert_eq!(out, echo_lines(&["hello", "bye"]));
    assert!(!err.contains("Falling back"), "{err}");
    course.wait_timeout(T).expect("course server did not exit");
    assert!(course.output().contains("Received: hello"));
}

#[test]
fn the_connection_limit_makes_new_clients_wait_in_the_backlog() {
    let (mut server, port) = start_sister_tcp_server("reqresp", &["--max-connections", "1"]);
    let framed = |msg: &[u8]| frame::encode_to_vec(msg).unwrap();
    // The probe connection of start_sister_tcp_server must be gone before we count.
    server.wait_for_line("client disconnected", T);
    let mut first = TcpStream::connect(local(port)).unwrap();
    first.set_read_timeout(Some(T)).unwrap();
    first.write_all(&framed(b"one")).unwrap();
    let mut buf = [0u8; 64];
    assert!(first.read(&mut buf).unwrap() > 0);

    // The second client's connect succeeds (the kernel's backlog) but nobody serves it yet.
    let mut second = TcpStream::connect(local(port)).unwrap();
    second.write_all(&framed(b"two")).unwrap();
    second.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    assert!(second.read(&mut buf).is_err(), "served beyond the limit");
    server.wait_for_line("connection limit reached", T);

    drop(first);
    second.set_read_timeout(Some(T)).unwrap();
    let n = second.read(&mut buf).unwrap();
    assert_eq!(&buf[5..n], b"Echo: two");
}
