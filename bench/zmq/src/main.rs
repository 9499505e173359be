//! ZeroMQ benchmark: throughput (PUSH->PULL, PUB->SUB; 64 B and 1 KiB) and REQ/REP round-trip latency,
//! for sister's sockets and for libzmq, in the same run, over TCP loopback.
//!
//! Each side runs on its own OS thread, as libzmq's `local_thr`/`remote_thr` run as two processes:
//! - sister: one current-thread tokio runtime per side (the socket's connection tasks share it);
//! - libzmq: one context per side (one I/O thread each, libzmq's default), so 4 threads in all.
//!
//! Throughput is counted at the receiver, from its first message to its last (as `local_thr` does).
//! usage: zmq-bench [N_64B] [N_1K] [ROUND_TRIPS]

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use patterns::zmq::{Options, Socket, SocketType};

const HWM: usize = 100_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn opts() -> Options {
    Options {
        send_hwm: HWM,
        recv_hwm: HWM,
        ..Options::default()
    }
}

/// sister: `n` messages of `size` bytes from `kind_tx` to `kind_rx`; returns (received, seconds).
fn sister_thr(kind_tx: SocketType, kind_rx: SocketType, size: usize, n: usize) -> (usize, f64) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let rx_kind = kind_rx.clone();
    // Sent once the sender is done (plus a second): a PUB may have dropped messages that will never
    // come. A oneshot costs nothing to poll, unlike a timer per `recv`.
    let (give_up_tx, mut give_up) = tokio::sync::oneshot::channel::<()>();
    let receiver = thread::spawn(move || {
        rt().block_on(async move {
            let mut s = Socket::with_options(rx_kind.clone(), opts());
            if rx_kind == SocketType::Sub {
                s.subscribe("");
            }
            let addr = s.bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(addr).unwrap();
            let first = s.recv().await.unwrap();
            assert_eq!(first.first().len(), size);
            let start = Instant::now();
            let mut got = 1;
            let mut last = start;
            while got < n {
                tokio::select! {
                    biased;
                    m = s.recv() => {
                        m.unwrap();
                        got += 1;
                        if got % 1024 == 0 || got == n {
                            last = Instant::now();
                        }
                    }
                    _ = &mut give_up => break, // PUB dropped the rest
                }
            }
            (got, last.duration_since(start).as_secs_f64())
        })
    });
    let addr = addr_rx.recv().unwrap();
    let sender = thread::spawn(move || {
        rt().block_on(async move {
            let mut s = Socket::with_options(kind_tx, opts());
            s.connect(&addr.to_string()).unwrap();
            s.wait_for_peers(1, Duration::from_secs(10)).await;
            // Let a SUB's subscription arrive before publishing.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let body = Bytes::from(vec![b'x'; size]);
            for _ in 0..n {
                s.send(body.clone()).await.unwrap();
            }
            s.close(Duration::from_secs(30)).await;
        })
    });
    sender.join().unwrap();
    thread::sleep(Duration::from_secs(1));
    let _ = give_up_tx.send(());
    receiver.join().unwrap()
}

/// libzmq: the same measurement.
fn libzmq_thr(kind_tx: zmq::SocketType, kind_rx: zmq::SocketType, size: usize, n: usize) -> (usize, f64) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let receiver = thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(kind_rx).unwrap();
        s.set_rcvhwm(HWM as i32).unwrap();
        if kind_rx == zmq::SUB {
            s.set_subscribe(b"").unwrap();
        }
        s.bind("tcp://127.0.0.1:*").unwrap();
        addr_tx.send(s.get_last_endpoint().unwrap().unwrap()).unwrap();
        let mut msg = zmq::Message::new();
        s.recv(&mut msg, 0).unwrap();
        assert_eq!(msg.len(), size);
        s.set_rcvtimeo(1000).unwrap();
        let start = Instant::now();
        let (mut got, mut last) = (1, start);
        while got < n {
            if s.recv(&mut msg, 0).is_err() {
                break;
            }
            got += 1;
            if got % 1024 == 0 || got == n {
                last = Instant::now();
            }
        }
        (got, last.duration_since(start).as_secs_f64())
    });
    let addr = addr_rx.recv().unwrap();
    let sender = thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(kind_tx).unwrap();
        s.set_sndhwm(HWM as i32).unwrap();
        s.set_linger(30_000).unwrap();
        s.connect(&addr).unwrap();
        thread::sleep(Duration::from_millis(300));
        let body = vec![b'x'; size];
        for _ in 0..n {
            s.send(&body[..], 0).unwrap();
        }
    });
    let r = receiver.join().unwrap();
    sender.join().unwrap();
    r
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

fn sister_latency(n: usize) -> (f64, f64) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        rt().block_on(async move {
            let mut rep = Socket::new(SocketType::Rep);
            addr_tx.send(rep.bind("127.0.0.1:0").await.unwrap()).unwrap();
            for _ in 0..n {
                let m = rep.recv().await.unwrap();
                rep.send(m).await.unwrap();
            }
            rep.close(Duration::from_secs(5)).await;
        })
    });
    let addr = addr_rx.recv().unwrap();
    let times = rt().block_on(async move {
        let mut req = Socket::new(SocketType::Req);
        req.connect(&addr.to_string()).unwrap();
        let body = Bytes::from(vec![b'x'; 64]);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            req.send(body.clone()).await.unwrap();
            req.recv().await.unwrap();
            times.push(t.elapsed());
        }
        times
    });
    server.join().unwrap();
    percentiles(times[n / 10..].to_vec())
}

fn libzmq_latency(n: usize) -> (f64, f64) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::REP).unwrap();
        s.bind("tcp://127.0.0.1:*").unwrap();
        addr_tx.send(s.get_last_endpoint().unwrap().unwrap()).unwrap();
        let mut m = zmq::Message::new();
        for _ in 0..n {
            s.recv(&mut m, 0).unwrap();
            s.send(&m[..], 0).unwrap();
        }
    });
    let addr = addr_rx.recv().unwrap();
    let ctx = zmq::Context::new();
    let s = ctx.socket(zmq::REQ).unwrap();
    s.connect(&addr).unwrap();
    let body = vec![b'x'; 64];
    let mut m = zmq::Message::new();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.send(&body[..], 0).unwrap();
        s.recv(&mut m, 0).unwrap();
        times.push(t.elapsed());
    }
    server.join().unwrap();
    percentiles(times[n / 10..].to_vec())
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n64 = args.first().copied().unwrap_or(2_000_000);
    let n1k = args.get(1).copied().unwrap_or(500_000);
    let rtt = args.get(2).copied().unwrap_or(20_000);
    let (major, minor, patch) = zmq::version();
    println!("libzmq {major}.{minor}.{patch} vs sister, TCP loopback, HWM {HWM}");
    println!(
        "{:<22} {:>16} {:>16} {:>8}",
        "throughput", "sister msg/s", "libzmq msg/s", "ratio"
    );
    for (name, size, n) in [("64 B", 64, n64), ("1 KiB", 1024, n1k)] {
        for (pattern, (st, sr), (zt, zr)) in [
            (
                "PUSH->PULL",
                (SocketType::Push, SocketType::Pull),
                (zmq::PUSH, zmq::PULL),
            ),
            (
                "PUB->SUB",
                (SocketType::Pub, SocketType::Sub),
                (zmq::PUB, zmq::SUB),
            ),
        ] {
            let only = std::env::var("ZMQ_BENCH_ONLY").unwrap_or_default();
            let (sg, ss) = if only == "libzmq" {
                (1, 1.0)
            } else {
                sister_thr(st, sr, size, n)
            };
            let (zg, zs) = if only == "sister" {
                (1, 1.0)
            } else {
                libzmq_thr(zt, zr, size, n)
            };
            let (a, b) = (sg as f64 / ss, zg as f64 / zs);
            let note = |g: usize| {
                if g < n {
                    format!(" ({} of {n} arrived)", g)
                } else {
                    String::new()
                }
            };
            println!(
                "{:<22} {:>16.0} {:>16.0} {:>8.2}{}{}",
                format!("{pattern} {name}"),
                a,
                b,
                a / b,
                note(sg),
                note(zg)
            );
        }
    }
    let (sp50, sp99) = sister_latency(rtt);
    let (zp50, zp99) = libzmq_latency(rtt);
    println!("REQ/REP round trip, 64 B, {rtt} exchanges (first 10% discarded):");
    println!("  sister  p50 {sp50:>7.1} us   p99 {sp99:>7.1} us");
    println!("  libzmq  p50 {zp50:>7.1} us   p99 {zp99:>7.1} us");
}
