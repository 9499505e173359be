//! The course's ZeroMQ programs, with the course's defaults (LAB.md), and `sister lab`'s scenario.
//!
//! | role | default | what it does |
//! |---|---|---|
//! | rep  | binds `tcp://0.0.0.0:5555` | prints each request, answers `World` |
//! | req  | connects `zmq-rep:5555` | sends `Hello`, prints the reply, 10 times |
//! | pub  | binds `tcp://0.0.0.0:12345` | sends `WAKTU <asctime>` every second |
//! | sub  | connects `zmq-pub:12345` | subscribes to `WAKTU`, prints what arrives |
//! | push | binds `tcp://0.0.0.0:9999` | sends a random workload 1..100 (a pickled int), then waits workload/5 s |
//! | pull | connects `zmq-push:9999` | each worker unpickles a workload and works (sleeps) workload/5 s |
//!
//! In the course's capture the PUSH is the side that listens (9999) and the PULL workers connect to
//! it, which is why PUSH binds by default; either side may bind, ZeroMQ does not care who connects.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tracing::Instrument;

use super::{Message, Socket, SocketType, ZmqError};
use crate::lab::Checks;
use crate::shutdown::Signal;

/// Where a socket binds and where it connects (any number of each).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub bind: Vec<String>,
    pub connect: Vec<String>,
}

impl Endpoints {
    pub fn bind(addr: impl Into<String>) -> Self {
        Endpoints {
            bind: vec![addr.into()],
            connect: vec![],
        }
    }

    pub fn connect(addr: impl Into<String>) -> Self {
        Endpoints {
            bind: vec![],
            connect: vec![addr.into()],
        }
    }
}

/// Bind and connect `socket` as `ends` says; returns the addresses bound.
pub async fn attach(socket: &mut Socket, ends: &Endpoints) -> Result<Vec<SocketAddr>, ZmqError> {
    let mut bound = vec![];
    for b in &ends.bind {
        let a = socket.bind(b).await?;
        tracing::info!(kind = %socket.kind(), "bound tcp://{a}");
        bound.push(a);
    }
    for c in &ends.connect {
        socket.connect(c)?;
        tracing::info!(kind = %socket.kind(), "connecting to tcp://{} (in the background, with retries)", super::parse_endpoint(c)?);
    }
    Ok(bound)
}

/// Sleep `d` divided by `speed` (a demo or a test need not wait for real).
fn scaled(d: Duration, speed: f64) -> Duration {
    if speed > 0.0 && speed.is_finite() {
        d.div_f64(speed)
    } else {
        d
    }
}

/// REP: answer every request.
#[derive(Debug, Clone)]
pub struct RepConfig {
    pub endpoints: Endpoints,
    pub reply: String,
    /// Stop after this many requests (None: until Ctrl+C).
    pub count: Option<u64>,
    /// "Work" before replying (the zguide's hwserver sleeps 1 s; the course's answers at once).
    pub delay: Duration,
}

/// Run a REP until `count` requests or `shutdown`; returns the requests served.
pub async fn run_rep(cfg: RepConfig, mut shutdown: Signal) -> Result<u64, ZmqError> {
    let mut sock = Socket::new(SocketType::Rep);
    attach(&mut sock, &cfg.endpoints).await?;
    let mut served = 0;
    while cfg.count.is_none_or(|c| served < c) {
        let req = tokio::select! {
            r = sock.recv() => r?,
            _ = shutdown.recv() => break,
        };
        tracing::info!("Received request: {}", req.show());
        if !cfg.delay.is_zero() {
            tokio::time::sleep(cfg.delay).await;
        }
        sock.send(cfg.reply.clone()).await?;
        served += 1;
    }
    sock.close(Duration::from_secs(1)).await;
    Ok(served)
}

/// REQ: send a request, wait for its reply, repeat.
#[derive(Debug, Clone)]
pub struct ReqConfig {
    pub endpoints: Endpoints,
    pub message: String,
    pub count: u64,
    /// How long to wait for each reply before giving up.
    pub timeout: Duration,
}

/// Run a REQ; returns the replies, as text.
pub async fn run_req(cfg: ReqConfig, mut shutdown: Signal) -> Result<Vec<String>, ReqFailure> {
    let mut sock = Socket::new(SocketType::Req);
    attach(&mut sock, &cfg.endpoints).await?;
    let mut replies = vec![];
    for i in 0..cfg.count {
        tracing::info!("Sending request {i}: {}", cfg.message);
        let exchange = async {
            sock.send(cfg.message.clone()).await?;
            sock.recv().await
        };
        let reply = tokio::select! {
            r = tokio::time::timeout(cfg.timeout, exchange) => match r {
                Ok(r) => r?,
                Err(_) => return Err(ReqFailure::Timeout(cfg.timeout)),
            },
            _ = shutdown.recv() => break,
        };
        tracing::info!("Received reply {i} [{}]", reply.show());
        replies.push(wire::escape::show(&reply.concat()));
    }
    Ok(replies)
}

/// Why a REQ run failed.
#[derive(Debug, thiserror::Error)]
pub enum ReqFailure {
    #[error(transparent)]
    Zmq(#[from] ZmqError),
    #[error("no reply within {0:?}: is a REP listening there? (pass --timeout to wait longer)")]
    Timeout(Duration),
}

/// PUB: publish `<topic> <asctime>` at an interval.
#[derive(Debug, Clone)]
pub struct PubConfig {
    pub endpoints: Endpoints,
    pub topic: String,
    pub interval: Duration,
    pub count: Option<u64>,
}

/// `time.asctime()`: `Mon Sep 15 12:32:19 2025` (day padded with a space, as C's asctime does).
pub fn asctime() -> String {
    chrono::Local::now().format("%a %b %e %H:%M:%S %Y").to_string()
}

/// Run a PUB; returns how many messages it published.
pub async fn run_pub(cfg: PubConfig, mut shutdown: Signal) -> Result<u64, ZmqError> {
    let mut sock = Socket::new(SocketType::Pub);
    attach(&mut sock, &cfg.endpoints).await?;
    let mut sent = 0;
    while cfg.count.is_none_or(|c| sent < c) {
        let text = format!("{} {}", cfg.topic, asctime());
        sock.send(text.clone()).await?;
        tracing::info!(subscribers = sock.peer_count(), "Sent: {text}");
        sent += 1;
        tokio::select! {
            _ = tokio::time::sleep(cfg.interval) => {}
            _ = shutdown.recv() => break,
        }
    }
    sock.close(Duration::from_secs(1)).await;
    Ok(sent)
}

/// SUB: subscribe to a prefix and print what arrives.
#[derive(Debug, Clone)]
pub struct SubConfig {
    pub endpoints: Endpoints,
    pub topic: String,
    pub count: Option<u64>,
}

/// Run a SUB; returns the messages received, as text.
pub async fn run_sub(cfg: SubConfig, mut shutdown: Signal) -> Result<Vec<String>, ZmqError> {
    let mut sock = Socket::new(SocketType::Sub);
    sock.subscribe(&cfg.topic);
    tracing::info!("subscribed to {:?}", cfg.topic);
    attach(&mut sock, &cfg.endpoints).await?;
    let mut got = vec![];
    while cfg.count.is_none_or(|c| (got.len() as u64) < c) {
        let m = tokio::select! {
            m = sock.recv() => m?,
            _ = shutdown.recv() => break,
        };
        tracing::info!("Received: {}", m.show());
        got.push(wire::escape::show(&m.concat()));
    }
    Ok(got)
}

/// PUSH: deal random workloads to the workers.
#[derive(Debug, Clone)]
pub struct PushConfig {
    pub endpoints: Endpoints,
    pub count: Option<u64>,
    /// Divide every wait by this.
    pub speed: f64,
    /// Wait until this many workers are connected before the first workload.
    pub wait_for_workers: usize,
}

/// The workload as the course's PUSH sends it: `pickle.dumps(n, protocol=4)`.
pub fn pickled(n: i64) -> Bytes {
    let mut out = Vec::with_capacity(16);
    wire::pickle::encode_int(n, &mut out);
    Bytes::from(out)
}

/// Read a workload: a pickled integer (what pyzmq's `send_pyobj` sends), or the integer as text.
pub fn parse_workload(body: &[u8]) -> Option<i64> {
    wire::pickle::decode_int(body)
        .ok()
        .or_else(|| std::str::from_utf8(body).ok()?.trim().parse().ok())
}

/// Run a PUSH; returns the workloads sent.
pub async fn run_push(cfg: PushConfig, mut shutdown: Signal) -> Result<Vec<i64>, ZmqError> {
    let mut sock = Socket::new(SocketType::Push);
    attach(&mut sock, &cfg.endpoints).await?;
    if cfg.wait_for_workers > 0 {
        tracing::info!("waiting for {} workers to connect", cfg.wait_for_workers);
        tokio::select! {
            _ = sock.wait_for_peers(cfg.wait_for_workers, Duration::from_secs(3600)) => {}
            _ = shutdown.recv() => return Ok(vec![]),
        }
    }
    let mut sent = vec![];
    while cfg.count.is_none_or(|c| (sent.len() as u64) < c) {
        let workload: i64 = rand::thread_rng().gen_range(1..=100);
        tokio::select! {
            r = sock.send(pickled(workload)) => r?,
            _ = shutdown.recv() => break,
        }
        tracing::info!(workers = sock.peer_count(), "Sent workload: {workload}");
        sent.push(workload);
        let pause = scaled(Duration::from_secs_f64(workload as f64 / 5.0), cfg.speed);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.recv() => break,
        }
    }
    sock.close(Duration::from_secs(5)).await;
    Ok(sent)
}

/// PULL: workers that take workloads and work.
#[derive(Debug, Clone)]
pub struct PullConfig {
    pub endpoints: Endpoints,
    /// Number of workers; each is its own PULL socket (as each worker container of the course is).
    pub workers: usize,
    pub speed: f64,
    /// Stop after this many workloads in total.
    pub count: Option<u64>,
}

/// Run PULL workers; returns the workloads each worker did.
pub async fn run_pull(cfg: PullConfig, shutdown: Signal) -> Result<Vec<Vec<i64>>, ZmqError> {
    let workers = cfg.workers.max(1);
    if workers > 1 && !cfg.endpoints.bind.is_empty() {
        return Err(ZmqError::Config(
            "--workers > 1 needs --connect: each worker is its own PULL socket connecting to the PUSH".into(),
        ));
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (stop_all, stop_sig) = crate::shutdown::channel();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let mut sock = Socket::new(SocketType::Pull);
        attach(&mut sock, &cfg.endpoints).await?;
        let (mut shutdown, mut stop, done, count, speed) = (
            shutdown.clone(),
            stop_sig.clone(),
            done.clone(),
            cfg.count,
            cfg.speed,
        );
        let span = tracing::info_span!("worker", n = w + 1);
        let stop_all = stop_all.clone();
        tasks.spawn(tracing::Instrument::instrument(
            async move {
                let mut did = vec![];
                loop {
                    let m: Message = tokio::select! {
                        m = sock.recv() => match m { Ok(m) => m, Err(_) => break },
                        _ = shutdown.recv() => break,
                        _ = stop.recv() => break,
                    };
                    let Some(workload) = parse_workload(&m.concat()) else {
                        tracing::warn!(
                            "not a workload (neither a pickled int nor a number): {}",
                            m.show()
                        );
                        continue;
                    };
                    tracing::info!(
                        "Received workload: {workload}, working {:.1} s",
                        workload as f64 / 5.0
                    );
                    let work = scaled(
                        Duration::from_secs_f64(workload.clamp(0, 1_000_000) as f64 / 5.0),
                        speed,
                    );
                    tokio::time::sleep(work).await;
                    tracing::info!("Finished workload: {workload}");
                    did.push(workload);
                    let total = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    if count.is_some_and(|c| total >= c) {
                        stop_all.trigger();
                        break;
                    }
                }
                (w, did)
            },
            span,
        ));
    }
    let mut per_worker = vec![vec![]; workers];
    while let Some(r) = tasks.join_next().await {
        if let Ok((w, did)) = r {
            per_worker[w] = did;
        }
    }
    Ok(per_worker)
}

/// `sister lab`: the three patterns on loopback, as the worksheet runs them.
pub async fn lab(checks: &Checks) {
    let never = Signal::never;
    let timeout = Duration::from_secs(20);

    // 1. REQ/REP: Hello -> World.
    let rep_span = tracing::info_span!("zmq-rep");
    let rep = {
        let mut s = rep_span.in_scope(|| Socket::new(SocketType::Rep));
        match s.bind("127.0.0.1:0").await {
            Ok(a) => Some((s, a)),
            Err(e) => {
                checks.fail(format!("zmq REP could not bind: {e}"));
                None
            }
        }
    };
    if let Some((mut rep, addr)) = rep {
        let server = tokio::spawn(
            async move {
                for _ in 0..3 {
                    let Ok(m) = rep.recv().await else { return };
                    tracing::info!("Received request: {}", m.show());
                    let _ = rep.send("World").await;
                }
                rep.close(Duration::from_secs(1)).await;
            }
            .instrument(rep_span),
        );
        let r = tokio::time::timeout(
            timeout,
            run_req(
                ReqConfig {
                    endpoints: Endpoints::connect(addr.to_string()),
                    message: "Hello".into(),
                    count: 3,
                    timeout,
                },
                never(),
            )
            .instrument(tracing::info_span!("zmq-req")),
        )
        .await;
        match r {
            Ok(Ok(replies)) => {
                checks.expect_eq(
                    replies,
                    vec!["World".to_string(); 3],
                    "REQ gets `World` for each `Hello`",
                );
            }
            Ok(Err(e)) => checks.fail(format!("REQ failed: {e}")),
            Err(_) => checks.fail("REQ/REP did not finish in time"),
        }
        let _ = server.await;
    }

    // 2. PUB/SUB: a subscriber on `WAKTU` gets the time; one on another topic gets nothing.
    let pub_span = tracing::info_span!("zmq-pub");
    let sub_span = tracing::info_span!("zmq-sub");
    let mut publisher = pub_span.in_scope(|| Socket::new(SocketType::Pub));
    match publisher.bind("127.0.0.1:0").await {
        Err(e) => checks.fail(format!("zmq PUB could not bind: {e}")),
        Ok(addr) => {
            let mut waktu = sub_span.in_scope(|| Socket::new(SocketType::Sub));
            waktu.subscribe("WAKTU");
            let _ = waktu.connect(&addr.to_string());
            let mut other = sub_span.in_scope(|| Socket::new(SocketType::Sub));
            other.subscribe("BERITA");
            let _ = other.connect(&addr.to_string());
            checks.expect(
                publisher.wait_for_peers(2, timeout).await,
                "both subscribers connect to the PUB",
            );
            // Subscriptions travel after the handshake: give them a moment (the slow joiner).
            tokio::time::sleep(Duration::from_millis(200)).await;
            for _ in 0..3 {
                let text = format!("WAKTU {}", asctime());
                pub_span.in_scope(|| tracing::info!("Sent: {text}"));
                let _ = publisher.send(text).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut got = vec![];
            for _ in 0..3 {
                match tokio::time::timeout(timeout, waktu.recv()).await {
                    Ok(Ok(m)) => {
                        sub_span.in_scope(|| tracing::info!("Received: {}", m.show()));
                        got.push(m.concat());
                    }
                    _ => break,
                }
            }
            checks.expect(
                got.len() == 3 && got.iter().all(|m| m.starts_with(b"WAKTU ")),
                "the `WAKTU` subscriber receives every `WAKTU <time>`",
            );
            let nothing = tokio::time::timeout(Duration::from_millis(300), other.recv()).await;
            checks.expect(
                nothing.is_err(),
                "a subscriber on another topic receives nothing (the PUB filters before sending)",
            );
        }
    }
    drop(publisher);

    // 3. PUSH/PULL: 12 workloads dealt round robin to 3 workers: 4 each.
    let push_span = tracing::info_span!("zmq-push");
    let mut push = push_span.in_scope(|| Socket::new(SocketType::Push));
    match push.bind("127.0.0.1:0").await {
        Err(e) => checks.fail(format!("zmq PUSH could not bind: {e}")),
        Ok(addr) => {
            let pull = tokio::spawn(
                run_pull(
                    PullConfig {
                        endpoints: Endpoints::connect(addr.to_string()),
                        workers: 3,
                        speed: 200.0,
                        count: Some(12),
                    },
                    never(),
                )
                .instrument(tracing::info_span!("zmq-pull")),
            );
            checks.expect(
                push.wait_for_peers(3, timeout).await,
                "three PULL workers connect",
            );
            for _ in 0..12 {
                let w: i64 = rand::thread_rng().gen_range(1..=100);
                push_span.in_scope(|| tracing::info!("Sent workload: {w}"));
                let _ = push.send(pickled(w)).await;
            }
            match tokio::time::timeout(timeout, pull).await {
                Ok(Ok(Ok(per_worker))) => {
                    let counts: Vec<usize> = per_worker.iter().map(Vec::len).collect();
                    checks.expect_eq(
                        counts,
                        vec![4, 4, 4],
                        "PUSH deals the workloads fairly: 4 to each of 3 workers",
                    );
                }
                _ => checks.fail("the PULL workers did not finish in time"),
            }
        }
    }
}
