//! ZeroMQ: sister's sockets against the real libzmq (pyzmq 26, `tests/peers/zmq_peer.py`), in both
//! directions and both bind/connect arrangements, plus hostile peers speaking raw bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use patterns::zmq::{Options, Socket, SocketType};

use crate::util::{self, local, Proc};

const LONG: Duration = Duration::from_secs(60);

fn pyzmq(role: &str, mode: &str, endpoint: &str, args: &[&str]) -> Proc {
    let script = util::repo().join("tests/peers/zmq_peer.py");
    let script = script.to_str().unwrap();
    let mut all = vec![script, role, mode, endpoint];
    all.extend_from_slice(args);
    let mut p = Proc::spawn(&format!("pyzmq {role}"), util::python(Some("zmq"), &all));
    p.wait_for_line("ready", LONG);
    p
}

fn tcp(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

fn lines_with(p: &mut Proc, prefix: &str) -> Vec<String> {
    p.output()
        .lines()
        .filter_map(|l| l.strip_prefix(prefix).map(str::to_string))
        .collect()
}

// ---- REQ/REP -----------------------------------------------------------------------------------

#[test]
fn sister_req_to_pyzmq_rep() {
    let port = util::free_tcp_port();
    let mut rep = pyzmq("rep", "bind", &tcp(port), &["3"]);
    let out = util::sister(&[
        "zmq",
        "req",
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--count",
        "3",
    ])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("Received reply").count(), 3, "{text}");
    assert!(text.contains("[World]"), "{text}");
    rep.wait_timeout(LONG).expect("pyzmq REP exits after 3 requests");
    assert_eq!(lines_with(&mut rep, "got "), ["Hello"; 3]);
}

#[test]
fn pyzmq_req_to_sister_rep() {
    let port = util::free_tcp_port();
    let mut rep = util::spawn_sister(
        "sister rep",
        &[
            "zmq",
            "rep",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--count",
            "3",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let mut req = pyzmq("req", "connect", &tcp(port), &["3"]);
    req.wait_timeout(LONG).expect("pyzmq REQ finishes");
    assert_eq!(lines_with(&mut req, "reply "), ["World"; 3]);
    rep.wait_for_line("Received request: Hello", LONG);
    assert!(
        rep.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        rep.output()
    );
}

#[test]
fn req_binds_and_pyzmq_rep_connects() {
    // The unusual arrangement: the REQ listens and the REP dials in. ZeroMQ does not care.
    let port = util::free_tcp_port();
    let mut req = util::spawn_sister(
        "sister req",
        &[
            "zmq",
            "req",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--count",
            "2",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let mut rep = pyzmq("rep", "connect", &tcp(port), &["2"]);
    assert!(
        req.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        req.output()
    );
    assert_eq!(req.output().matches("[World]").count(), 2);
    rep.wait_timeout(LONG).expect("pyzmq REP exits");
}

// ---- PUB/SUB -----------------------------------------------------------------------------------

#[test]
fn sister_pub_filters_for_pyzmq_subscribers() {
    let port = util::free_tcp_port();
    let mut publisher = util::spawn_sister(
        "sister pub",
        &[
            "zmq",
            "pub",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "0.1",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let mut waktu = pyzmq("sub", "connect", &tcp(port), &["WAKTU", "1.5"]);
    let mut other = pyzmq("sub", "connect", &tcp(port), &["BERITA", "1.5"]);
    // Let a few seconds of publishing pass, then stop the publisher: the subs end after 1.5 s idle.
    std::thread::sleep(Duration::from_secs(2));
    publisher.interrupt(LONG);
    waktu.wait_timeout(LONG).expect("sub exits");
    other.wait_timeout(LONG).expect("sub exits");
    let got = lines_with(&mut waktu, "msg ");
    assert!(got.len() >= 3, "{}", waktu.output());
    assert!(
        got.iter()
            .all(|m| m.starts_with("WAKTU ") && m.len() == "WAKTU Mon Sep 15 12:32:19 2025".len()),
        "{got:?}"
    );
    assert_eq!(
        lines_with(&mut other, "total "),
        ["0"],
        "a subscriber to another topic gets nothing"
    );
}

#[test]
fn sister_sub_filters_what_pyzmq_publishes() {
    let port = util::free_tcp_port();
    let _publisher = pyzmq("pub", "bind", &tcp(port), &[]);
    let out = util::sister(&[
        "zmq",
        "sub",
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--count",
        "5",
    ])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{text}");
    let received: Vec<&str> = text.lines().filter(|l| l.contains("Received: ")).collect();
    assert_eq!(received.len(), 5, "{text}");
    assert!(
        received.iter().all(|l| l.contains("Received: WAKTU ")),
        "the NOISE messages must be filtered:\n{text}"
    );
}

#[test]
fn sub_binds_and_pyzmq_pub_connects() {
    let port = util::free_tcp_port();
    let mut sub = util::spawn_sister(
        "sister sub",
        &[
            "zmq",
            "sub",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--count",
            "3",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let _publisher = pyzmq("pub", "connect", &tcp(port), &[]);
    assert!(
        sub.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        sub.output()
    );
    assert_eq!(sub.output().matches("Received: WAKTU").count(), 3);
}

// ---- PUSH/PULL ---------------------------------------------------------------------------------

#[test]
fn sister_push_deals_fairly_to_three_pyzmq_workers() {
    let port = util::free_tcp_port();
    let mut push = util::spawn_sister(
        "sister push",
        &[
            "zmq",
            "push",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--count",
            "30",
            "--speed",
            "1000",
            "--wait-workers",
            "3",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let mut workers: Vec<Proc> = (0..3)
        .map(|_| pyzmq("pull", "connect", &tcp(port), &["3"]))
        .collect();
    assert!(
        push.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        push.output()
    );
    let mut all = vec![];
    for w in &mut workers {
        w.wait_timeout(LONG).expect("worker exits when idle");
        let work = lines_with(w, "work ");
        assert_eq!(
            work.len(),
            10,
            "round robin gives each of 3 workers 10 of 30:\n{}",
            w.output()
        );
        all.extend(work.into_iter().map(|n| n.parse::<i64>().unwrap()));
    }
    assert!(all.iter().all(|n| (1..=100).contains(n)), "{all:?}");
}

#[test]
fn pyzmq_push_to_three_sister_workers() {
    let port = util::free_tcp_port();
    let mut push = pyzmq("push", "bind", &tcp(port), &["30", "3"]);
    let mut pull = util::spawn_sister(
        "sister pull",
        &[
            "zmq",
            "pull",
            "--connect",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "3",
            "--count",
            "30",
            "--speed",
            "1000",
        ],
    );
    assert!(
        pull.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        pull.output()
    );
    let out = pull.output();
    assert!(
        out.contains("counts=[10, 10, 10]"),
        "libzmq's round robin over 3 workers:\n{out}"
    );
    assert!(out.contains("Received workload: 1,"), "{out}");
    push.wait_timeout(LONG).expect("pyzmq push exits");
}

#[test]
fn pull_binds_and_pyzmq_push_connects() {
    let port = util::free_tcp_port();
    let mut pull = util::spawn_sister(
        "sister pull",
        &[
            "zmq",
            "pull",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--count",
            "5",
            "--speed",
            "1000",
        ],
    );
    util::wait_for_tcp(local(port), LONG);
    let _push = pyzmq("push", "connect", &tcp(port), &["5", "1"]);
    assert!(
        pull.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        pull.output()
    );
    assert!(pull.output().contains("counts=[5]"), "{}", pull.output());
}

// ---- hostile and broken peers ------------------------------------------------------------------

/// A REP in this process, and a check that a real pyzmq REQ is still served after each bad peer.
fn rep_with(opts: Options) -> (tokio::runtime::Runtime, u16, std::thread::JoinHandle<()>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = rt.handle().clone();
    let server = std::thread::spawn(move || {
        handle.block_on(async move {
            let mut rep = Socket::with_options(SocketType::Rep, opts);
            let addr = rep.bind("127.0.0.1:0").await.unwrap();
            tx.send(addr.port()).unwrap();
            while let Ok(m) = rep.recv().await {
                if m.first() == b"stats" {
                    let s = rep.stats();
                    let _ = rep.send(format!("{}", s.protocol_errors)).await;
                } else {
                    let _ = rep.send("World").await;
                }
            }
        })
    });
    let port = rx.recv_timeout(LONG).unwrap();
    (rt, port, server)
}

fn ask(port: u16, what: &str) -> String {
    let script = format!(
        "import zmq\ns=zmq.Context().socket(zmq.REQ)\ns.setsockopt(zmq.RCVTIMEO, 20000)\ns.setsockopt(zmq.LINGER, 0)\n\
s.connect('tcp://127.0.0.1:{port}')\ns.send(b'{what}')\nprint(s.recv().decode())"
    );
    let out = util::python(Some("zmq"), &["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Greeting bytes as libzmq sends them, with another mechanism name.
fn greeting(mechanism: &[u8]) -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    g.extend_from_slice(mechanism);
    g.resize(64, 0);
    g
}

/// Connect, send `bytes`, and tell whether the server closed on us within the timeout.
fn is_dropped_after(port: u16, bytes: &[u8], then_close: bool) -> bool {
    let mut s = TcpStream::connect(local(port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    if then_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // the server's greeting and READY
            // Still open when the read timed out: not dropped.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            // A reset (the server closed with our bytes unread) is a drop too.
            Err(_) => return true,
        }
    }
}

#[test]
fn bad_peers_are_dropped_and_the_socket_keeps_serving() {
    let opts = Options {
        max_frame: 1024,
        ..Options::default()
    };
    let (_rt, port, _server) = rep_with(opts);
    assert_eq!(ask(port, "Hello"), "World");

    // 1. Not ZMTP at all: refused at the first byte.
    assert!(
        is_dropped_after(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        "HTTP client dropped"
    );
    // 2. A malformed signature (bit 0 of byte 10 clear: ZMTP 1.0).
    let mut bad = greeting(b"NULL");
    bad[9] = 0x7e;
    assert!(is_dropped_after(port, &bad, false), "bad signature dropped");
    // 3. A wrong mechanism: PLAIN, then CURVE.
    assert!(
        is_dropped_after(port, &greeting(b"PLAIN"), false),
        "PLAIN dropped"
    );
    assert!(
        is_dropped_after(port, &greeting(b"CURVE"), false),
        "CURVE dropped"
    );
    assert_eq!(ask(port, "Hello"), "World", "still serving after bad greetings");

    // 4. An oversized frame after a correct handshake: 8-byte size of 1 TiB.
    let mut hs = greeting(b"NULL");
    hs.extend_from_slice(b"\x04\x26\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ\x08Identity\x00\x00\x00\x00");
    let mut oversized = hs.clone();
    oversized.extend_from_slice(&[0x02, 0, 0, 0x01, 0, 0, 0, 0, 0]);
    assert!(
        is_dropped_after(port, &oversized, false),
        "oversized frame dropped"
    );
    // ... and one just over the 1024-byte limit.
    let mut over = hs.clone();
    over.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0x04, 0x01]);
    assert!(
        is_dropped_after(port, &over, false),
        "frame over max_frame dropped"
    );

    // 5. A peer vanishing mid-message: the delimiter (MORE) and half a body, then FIN.
    let mut half = hs.clone();
    half.extend_from_slice(b"\x01\x00\x00\x05Hel");
    assert!(is_dropped_after(port, &half, true), "half a message, then gone");
    // 6. An incompatible socket type (a PUSH talking to a REP).
    let mut push = greeting(b"NULL");
    push.extend_from_slice(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
    assert!(
        is_dropped_after(port, &push, false),
        "incompatible socket type dropped"
    );

    // The half message never reached the application, and a real client is still served.
    assert_eq!(ask(port, "Hello"), "World");
    let errors: u64 = ask(port, "stats").parse().unwrap();
    assert!(
        errors >= 7,
        "every bad peer counted as a protocol error, got {errors}"
    );
}

#[test]
fn pub_drops_at_the_high_water_mark_and_push_blocks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let small = Options {
            send_hwm: 10,
            recv_hwm: 10,
            ..Options::default()
        };
        // PUB -> a SUB that never reads: the PUB must not block, and it drops (counted).
        let mut publisher = Socket::with_options(SocketType::Pub, small.clone());
        let addr = publisher.bind("127.0.0.1:0").await.unwrap();
        let mut sub = Socket::with_options(SocketType::Sub, small.clone());
        sub.subscribe("");
        sub.connect(&addr.to_string()).unwrap();
        assert!(publisher.wait_for_peers(1, LONG).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let body = vec![b'x'; 64 * 1024];
        let sent = tokio::time::timeout(LONG, async {
            for _ in 0..2000 {
                publisher.send(body.clone()).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(sent.is_ok(), "PUB never blocks");
        assert!(
            publisher.stats().dropped_hwm > 0,
            "a subscriber that does not read loses messages"
        );

        // PUSH -> a PULL that never reads: after the queues and TCP buffers fill, send waits.
        let mut push = Socket::with_options(SocketType::Push, small.clone());
        let addr = push.bind("127.0.0.1:0").await.unwrap();
        let mut pull = Socket::with_options(SocketType::Pull, small);
        pull.connect(&addr.to_string()).unwrap();
        assert!(push.wait_for_peers(1, LONG).await);
        let mut sent = 0;
        let blocked = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                push.send(body.clone()).await.unwrap();
                sent += 1;
            }
        })
        .await;
        assert!(
            blocked.is_err(),
            "PUSH must block at the high-water mark, sent {sent}"
        );
        assert!(sent < 2000, "bounded by HWM + socket buffers, sent {sent}");
        // Reading frees room; nothing was lost.
        for _ in 0..sent {
            tokio::time::timeout(LONG, pull.recv()).await.unwrap().unwrap();
        }
    });
}

#[test]
fn connect_before_bind_reconnects_and_survives_a_restart() {
    let port = util::free_tcp_port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut push = Socket::new(SocketType::Push);
        push.connect(&format!("127.0.0.1:{port}")).unwrap();
        // Queued while nobody is there: PUSH waits for a peer, so send in the background.
        for round in 0..2 {
            let mut pull = Socket::new(SocketType::Pull);
            pull.bind(&format!("127.0.0.1:{port}")).await.unwrap();
            push.send(format!("round {round}")).await.unwrap();
            let m = tokio::time::timeout(LONG, pull.recv()).await.unwrap().unwrap();
            assert_eq!(m.first(), format!("round {round}").as_bytes());
            drop(pull); // the "server" goes away; the PUSH reconnects to the next one
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[test]
fn lab_scenario_passes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let checks = patterns::lab::Checks::new();
    rt.block_on(patterns::zmq::lab(&checks));
    assert!(checks.passed(), "{:?}", checks.results());
}

// ---- raw bytes: what the codec promises on the wire -----------------------------------------------

/// Read from `s` until `want` appears in what was received (or panic after the timeout).
fn read_until(s: &mut TcpStream, want: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("waiting for {want:?}: {e}; got {got:?}"));
        assert!(n > 0, "closed while waiting for {want:?}; got {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn a_zmtp_3_0_subscriber_gets_filtered_messages_and_pings_are_answered() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut publisher = rt.block_on(async { Socket::new(SocketType::Pub) });
    let addr = rt.block_on(publisher.bind("127.0.0.1:0")).unwrap();

    // A ZMTP 3.0 SUB, by hand: greeting with minor version 0, READY, then its subscription as a
    // *message* whose first byte is 1 (RFC 23), not as a SUBSCRIBE command (3.1).
    let mut s = TcpStream::connect(addr).unwrap();
    let mut hello = greeting(b"NULL");
    hello[11] = 0;
    s.write_all(&hello).unwrap();
    s.write_all(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB")
        .unwrap();
    s.write_all(b"\x00\x06\x01WAKTU").unwrap();
    // The publisher's greeting and READY come first.
    read_until(&mut s, b"\x0bSocket-Type\x00\x00\x00\x03PUB");
    rt.block_on(async {
        assert!(publisher.wait_for_peers(1, LONG).await);
        // Wait until the subscription has been read: published messages then reach us.
        tokio::time::sleep(Duration::from_millis(300)).await;
        publisher.send("BERITA skipped").await.unwrap();
        publisher.send("WAKTU now").await.unwrap();
    });
    let got = read_until(&mut s, b"\x00\x09WAKTU now");
    assert!(
        !got.windows(6).any(|w| w == b"BERITA"),
        "filtered on the PUB side"
    );

    // A PING (3.1 command) is answered with a PONG carrying the same context.
    s.write_all(b"\x04\x0c\x04PING\x00\x1ectx42").unwrap();
    read_until(&mut s, b"\x04\x0a\x04PONGctx42");
}

#[test]
fn a_sister_sub_tells_a_zmtp_3_0_pub_with_a_message() {
    // A fake 3.0 PUB: listen, exchange greetings and READY, then expect the 3.0 subscription message.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _sub = rt.block_on(async {
        let mut sub = Socket::new(SocketType::Sub);
        sub.subscribe("WAKTU");
        sub.connect(&addr.to_string()).unwrap();
        sub
    });
    let (mut s, _) = listener.accept().unwrap();
    let mut hello = greeting(b"NULL");
    hello[11] = 0;
    s.write_all(&hello).unwrap();
    s.write_all(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB")
        .unwrap();
    read_until(&mut s, b"\x00\x06\x01WAKTU");
}

#[test]
fn router_and_dealer_talk_to_pyzmq() {
    // A sister ROUTER serving pyzmq REQs: the envelope is [routing id, empty, body].
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        handle.block_on(async move {
            let mut router = Socket::new(SocketType::Router);
            tx.send(router.bind("127.0.0.1:0").await.unwrap().port()).unwrap();
            while let Ok(m) = router.recv().await {
                assert_eq!(m.len(), 3, "routing id, delimiter, body");
                assert!(m.frames()[1].is_empty());
                let reply = [m.frames()[0].clone(), bytes_of(""), bytes_of("World")];
                router
                    .send(patterns::zmq::Message::from_frames(reply))
                    .await
                    .unwrap();
            }
        })
    });
    let port = rx.recv_timeout(LONG).unwrap();
    assert_eq!(ask(port, "Hello"), "World");
    assert_eq!(ask(port, "Hello"), "World");

    // A sister DEALER to a pyzmq REP: the DEALER adds the delimiter itself.
    let rep_port = util::free_tcp_port();
    let mut rep = pyzmq("rep", "bind", &tcp(rep_port), &["1"]);
    rt.block_on(async {
        let mut dealer = Socket::new(SocketType::Dealer);
        dealer.connect(&format!("127.0.0.1:{rep_port}")).unwrap();
        dealer
            .send(patterns::zmq::Message::from_frames([
                bytes_of(""),
                bytes_of("Hello"),
            ]))
            .await
            .unwrap();
        let m = tokio::time::timeout(LONG, dealer.recv()).await.unwrap().unwrap();
        assert_eq!(m.frames(), [bytes_of(""), bytes_of("World")]);
    });
    rep.wait_timeout(LONG).expect("pyzmq REP exits");
}

fn bytes_of(s: &'static str) -> bytes::Bytes {
    bytes::Bytes::from_static(s.as_bytes())
}
