//! ZeroC Ice: sister's server and client against ZeroC Ice 3.7 for Python (the course's `ice_client.py`
//! and `ice_server.py`, unchanged but for host and port; `tests/peers/ice_printer_modes.py` for what a
//! real Ice client sends besides: oneway, batch, compression, context, facets, ice_invoke), plus hostile
//! and absent peers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::util::{self, local, Proc};

const LONG: Duration = Duration::from_secs(60);
const VALIDATE: [u8; 14] = [0x49, 0x63, 0x65, 0x50, 1, 0, 1, 0, 3, 0, 14, 0, 0, 0];
const CLOSE: [u8; 14] = [0x49, 0x63, 0x65, 0x50, 1, 0, 1, 0, 4, 0, 14, 0, 0, 0];

fn zeroc(name: &str, script: &str, args: &[&str]) -> Proc {
    let path = util::repo().join("tests/peers").join(script);
    let path = path.to_str().unwrap();
    let mut all = vec![path];
    all.extend_from_slice(args);
    Proc::spawn(name, util::system_python_ice(&all))
}

fn sister_server() -> (Proc, u16) {
    util::start_sister_tcp_server("ice", &[])
}

/// The course's Python server on a free port, once it listens.
fn course_server() -> (Proc, u16) {
    let port = util::free_tcp_port();
    let p = zeroc(
        "ice_server.py",
        "course/ice_server.py",
        &["127.0.0.1", &port.to_string()],
    );
    util::wait_for_tcp(local(port), LONG);
    (p, port)
}

fn run_sister_client(port: u16, extra: &[&str]) -> (bool, String) {
    let server = format!("127.0.0.1:{port}");
    let mut args = vec!["ice", "client", "--server", server.as_str()];
    args.extend_from_slice(extra);
    let out = util::sister(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_course_client_against_sister_server() {
    let (mut server, port) = sister_server();
    let mut client = zeroc(
        "ice_client.py",
        "course/ice_client.py",
        &["127.0.0.1", &port.to_string()],
    );
    let status = client.wait_timeout(LONG).expect("ice_client.py ends");
    assert!(status.success(), "ice_client.py failed:\n{}", client.output());
    server.wait_for_line("Object1 says: Hello World from printer1!", LONG);
    server.wait_for_line("Object2 says: Hello World from printer2!", LONG);
    server.wait_for_line("client sent CloseConnection", LONG);
    let out = server.output();
    assert!(out.contains("Request #1 SimplePrinter1.ice_isA: ok"), "{out}");
    assert!(out.contains("SimplePrinter2.printString: ok"), "{out}");
}

#[test]
fn sister_client_against_the_course_server() {
    let (mut server, port) = course_server();
    let (ok, text) = run_sister_client(port, &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("checkedCast SimplePrinter1: ice_isA(\"::Demo::Printer\") = true"),
        "{text}"
    );
    assert!(
        text.contains("SimplePrinter2.printString(\"Hello World from printer2!\"): ok"),
        "{text}"
    );
    server.wait_for_line("Object1 says: Hello World from printer1!", LONG);
    server.wait_for_line("Object2 says: Hello World from printer2!", LONG);

    let (ok, text) = run_sister_client(port, &["-m", "my own text", "--object", "SimplePrinter2"]);
    assert!(ok, "{text}");
    server.wait_for_line("Object2 says: my own text", LONG);
    let (ok, text) = run_sister_client(port, &["--oneway", "-m", "no reply wanted"]);
    assert!(ok, "{text}");
    assert!(text.contains("sent oneway"), "{text}");
    server.wait_for_line("Object1 says: no reply wanted", LONG);
    server.wait_for_line("Object2 says: no reply wanted", LONG);

    // An identity the ZeroC adapter does not hold: its ObjectNotExist, named, and a failure status.
    let (ok, text) = run_sister_client(port, &["--object", "Nobody"]);
    assert!(!ok, "{text}");
    assert!(text.contains("the server has no object `Nobody`"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_zeroc_client_gets_every_answer_ice_gives_from_sister_server() {
    let (mut server, port) = sister_server();
    let mut modes = zeroc(
        "ice_printer_modes.py",
        "ice_printer_modes.py",
        &["127.0.0.1", &port.to_string()],
    );
    modes.wait_for_line("done", LONG);
    let out = modes.output();
    for check in [
        "checkedCast",
        "ice_ping",
        "ice_id",
        "ice_ids",
        "ice_isA_object",
        "ice_isA_other",
        "oneway",
        "batch",
        "compressed",
        "context",
        "object_not_exist",
        "facet_not_exist",
        "operation_not_exist",
        "after_all",
    ] {
        assert!(
            out.contains(&format!("ok {check}\n")),
            "check {check} did not pass:\n{out}"
        );
    }
    assert!(!out.contains("FAIL"), "{out}");
    for line in [
        "oneway call",
        "batch call 0",
        "batch call 1",
        "batch call 2",
        "with a context",
        "still here",
    ] {
        server.wait_for_line(&format!("Object1 says: {line}"), LONG);
    }
    server.wait_for_line("Object1 says: compressed xxxxxxxxxx", LONG);
}

#[test]
fn the_modes_peer_passes_against_zeroc_itself() {
    // The same checks against ZeroC's own server: what the test above expects is what Ice does.
    let (_server, port) = course_server();
    let mut modes = zeroc(
        "ice_printer_modes.py",
        "ice_printer_modes.py",
        &["127.0.0.1", &port.to_string()],
    );
    modes.wait_for_line("done", LONG);
    let out = modes.output();
    assert!(!out.contains("FAIL"), "{out}");
    assert_eq!(
        out.matches("\nok ").count() + usize::from(out.starts_with("ok ")),
        14,
        "{out}"
    );
}

fn read_exactly(s: &mut TcpStream, n: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// True when the server closes `s` (EOF or reset) within the timeout.
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn a_malformed_message_closes_only_its_connection() {
    let (mut server, port) = sister_server();
    let mut good = TcpStream::connect(local(port)).unwrap();
    assert_eq!(
        read_exactly(&mut good, 14),
        VALIDATE,
        "ValidateConnection comes first"
    );

    // A Request whose body ends inside the identity.
    let mut bad = TcpStream::connect(local(port)).unwrap();
    assert_eq!(read_exactly(&mut bad, 14), VALIDATE);
    let mut m = b"IceP\x01\x00\x01\x00\x00\x00".to_vec();
    m.extend_from_slice(&21i32.to_le_bytes());
    m.extend_from_slice(&[1, 0, 0, 0, 200, b'x', b'y']);
    bad.write_all(&m).unwrap();
    assert!(
        is_closed(&mut bad),
        "the server must close a connection that broke the protocol"
    );
    server.wait_for_line("malformed Ice message, closing this connection", LONG);

    // Not Ice at all, and a size beyond Ice.MessageSizeMax.
    for bytes in [b"GET / HTTP/1.1\r\n\r\n".to_vec(), {
        let mut huge = b"IceP\x01\x00\x01\x00\x00\x00".to_vec();
        huge.extend_from_slice(&i32::MAX.to_le_bytes());
        huge
    }] {
        let mut s = TcpStream::connect(local(port)).unwrap();
        read_exactly(&mut s, 14);
        s.write_all(&bytes).unwrap();
        assert!(is_closed(&mut s), "{bytes:?}");
    }

    // The first connection was not disturbed: a ping on it is still answered.
    let mut ping = b"IceP\x01\x00\x01\x00\x00\x00".to_vec();
    let body = [
        &7i32.to_le_bytes()[..],
        &[14],
        b"SimplePrinter1",
        &[0, 0, 8],
        b"ice_ping",
        &[1, 0],
        &[6, 0, 0, 0, 1, 1],
    ]
    .concat();
    ping.extend_from_slice(&((14 + body.len()) as i32).to_le_bytes());
    ping.extend_from_slice(&body);
    good.write_all(&ping).unwrap();
    let reply = read_exactly(&mut good, 25);
    assert_eq!(&reply[8..10], &[2, 0], "a Reply");
    assert_eq!(&reply[14..19], &[7, 0, 0, 0, 0], "to request 7, status Ok");
    good.write_all(&CLOSE).unwrap();
    assert!(is_closed(&mut good));
    let (ok, text) = run_sister_client(port, &[]);
    assert!(ok, "{text}");
}

#[test]
fn many_clients_at_once() {
    let (_server, port) = sister_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let calls = rt.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..100 {
            tasks.spawn(async move {
                use patterns::ice::client::{expect_ok, Connection};
                use wire::ice::{Encapsulation, Identity, ENCODING_1_1};
                let mut conn =
                    Connection::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(5), LONG)
                        .await
                        .unwrap();
                let who = Identity::new(if c % 2 == 0 {
                    "SimplePrinter1"
                } else {
                    "SimplePrinter2"
                });
                assert!(conn.is_a(&who, "::Demo::Printer").await.unwrap());
                for i in 0..20 {
                    let text = format!("client {c} call {i}");
                    let reply = conn
                        .invoke(
                            &who,
                            "printString",
                            Encapsulation::build(ENCODING_1_1, |w| w.string(&text)),
                        )
                        .await
                        .unwrap();
                    expect_ok(&who, "printString", reply).unwrap();
                }
                conn.close().await.unwrap();
                20
            });
        }
        let mut total = 0;
        while let Some(n) = tasks.join_next().await {
            total += n.unwrap();
        }
        total
    });
    assert_eq!(calls, 2000);
}

#[test]
fn the_client_says_clearly_when_there_is_no_ice_server() {
    // Nobody listens.
    let port = util::free_tcp_port();
    let (ok, text) = run_sister_client(port, &[]);
    assert!(!ok);
    assert!(text.contains("Is the server running?"), "{text}");

    // Something that is not Ice and speaks first (an SSH-like banner).
    let banner = TcpListener::bind("127.0.0.1:0").unwrap();
    let banner_port = banner.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = banner.accept() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    let (ok, text) = run_sister_client(banner_port, &[]);
    assert!(!ok);
    assert!(text.contains("does not speak Ice"), "{text}");
    assert!(text.contains("SSH-2.0"), "{text}");

    // Something that accepts and stays silent (an HTTP server waits for the request).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = silent.accept() {
            std::thread::sleep(Duration::from_secs(3));
            drop(s);
        }
    });
    let (ok, text) = run_sister_client(silent_port, &["--timeout", "0.5"]);
    assert!(!ok);
    assert!(text.contains("sent no ValidateConnection"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn ctrl_c_sends_close_connection_to_every_client() {
    let (mut server, port) = sister_server();
    let mut a = TcpStream::connect(local(port)).unwrap();
    let mut b = TcpStream::connect(local(port)).unwrap();
    assert_eq!(read_exactly(&mut a, 14), VALIDATE);
    assert_eq!(read_exactly(&mut b, 14), VALIDATE);
    let status = server.interrupt(LONG).expect("the server stops on Ctrl+C");
    assert!(status.success(), "{}", server.output());
    assert_eq!(read_exactly(&mut a, 14), CLOSE);
    assert_eq!(read_exactly(&mut b, 14), CLOSE);
    assert!(is_closed(&mut a) && is_closed(&mut b));
}

#[test]
fn lab_scenario_passes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let checks = patterns::lab::Checks::new();
    rt.block_on(patterns::ice::lab(&checks));
    assert!(checks.passed(), "{:?}", checks.results());
}
