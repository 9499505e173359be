//! A load generator for MQTT brokers (`sister bench mqtt`): P publishers and S subscribers on one topic,
//! QoS 0 or 1, small payloads, at the highest rate the broker takes or at a fixed rate.
//!
//! Every payload carries who sent it, its sequence number and when it was sent (nanoseconds since the
//! run started, from one monotonic clock: publishers and subscribers live in this process). From that
//! each subscriber counts what was lost, duplicated or reordered and how long each message took.
//!
//! ```text
//!   payload (>= 20 bytes): publisher id u32 | sequence u64 | sent-at ns u64 | padding
//! ```
//!
//! Packets are written and read with `wire::mqtt`, many per system call (a publisher at full speed
//! writes batches of 64 PUBLISHes; a subscriber acknowledges a whole read's worth of QoS 1 messages in
//! one write), so the generator is not what limits the broker. QoS 1 publishers keep at most `window`
//! messages unacknowledged, as a real client with an in-flight limit does.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use wire::mqtt::{
    self, Ack, Connect, Decoder, Packet, Properties, Publish, QoS, Subscribe, Subscription, Version,
};

/// One load to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub server: SocketAddr,
    pub publishers: usize,
    pub subscribers: usize,
    pub qos: QoS,
    /// Payload size in bytes (at least 20: the header above).
    pub payload: usize,
    /// How long the publishers publish.
    pub duration: Duration,
    /// Total messages per second over all publishers; `None` = as fast as the broker takes them.
    pub rate: Option<u64>,
    /// QoS 1: unacknowledged messages per publisher.
    pub window: usize,
    pub topic: String,
    /// MQTT over TLS (bench/mqtt.sh's TLS rows).
    pub tls: Option<BenchTls>,
    /// MQTT over WebSockets on this path (bench/mqtt.sh's WebSocket rows; over TLS too with `tls`).
    pub ws_path: Option<String>,
}

/// How the generator's clients speak TLS.
#[derive(Clone)]
pub struct BenchTls {
    pub connector: tokio_rustls::TlsConnector,
    pub name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for BenchTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BenchTls({:?})", self.name)
    }
}

/// A connection the generator can load: plain TCP or TLS, split in a reading and a writing half.
pub trait BenchStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    type Reader: AsyncRead + Unpin + Send + 'static;
    type Writer: AsyncWrite + Unpin + Send + 'static;
    fn halves(self) -> (Self::Reader, Self::Writer);
}

impl BenchStream for TcpStream {
    type Reader = tokio::net::tcp::OwnedReadHalf;
    type Writer = tokio::net::tcp::OwnedWriteHalf;
    fn halves(self) -> (Self::Reader, Self::Writer) {
        self.into_split()
    }
}

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

impl BenchStream for TlsStream {
    type Reader = tokio::io::ReadHalf<TlsStream>;
    type Writer = tokio::io::WriteHalf<TlsStream>;
    /// One TLS session serves both directions: tokio's `split` shares it behind a lock.
    fn halves(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
    }
}

type Ws<S> = crate::ws::WsStream<S>;

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> BenchStream for Ws<S> {
    type Reader = tokio::io::ReadHalf<Ws<S>>;
    type Writer = tokio::io::WriteHalf<Ws<S>>;
    /// One WebSocket serves both directions (the reader answers pings): shared behind a lock.
    fn halves(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
    }
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub sent: u64,
    /// sent x subscribers: what should arrive.
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Received messages per second, over the time from the first send to the last receive.
    pub delivered_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delivered {:.0} msg/s  sent {} expected {} received {} lost {} dup {} reordered {}  latency p50 {:.0} us p99 {:.0} us p99.9 {:.0} us max {:.0} us",
            self.delivered_per_s,
            self.sent,
            self.expected,
            self.received,
            self.lost,
            self.duplicated,
            self.reordered,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.max_us
        )
    }
}

const V: Version = Version::V3_1_1;

async fn dial_plain(server: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(server).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

async fn dial_tls(server: SocketAddr, tls: BenchTls) -> io::Result<TlsStream> {
    let s = dial_plain(server).await?;
    tls.connector.connect(tls.name, s).await
}

async fn connect<S: BenchStream>(mut s: S, id: String) -> io::Result<(S, BytesMut)> {
    let c = Packet::Connect(Box::new(Connect {
        client_id: id,
        keep_alive: 600,
        ..Connect::default()
    }));
    s.write_all(&c.to_vec(V).map_err(io::Error::other)?).await?;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    match read_packet(&mut s, &mut buf).await? {
        Packet::ConnAck(a) if a.code.is_success() => Ok((s, buf)),
        other => Err(io::Error::other(format!("expected CONNACK, got {other}"))),
    }
}

async fn read_packet<S: AsyncRead + Unpin>(s: &mut S, buf: &mut BytesMut) -> io::Result<Packet> {
    loop {
        match Decoder::with_version(V).decode(buf) {
            Ok((p, used)) => {
                buf.advance(used);
                return Ok(p);
            }
            Err(e) if e.is_incomplete() => {}
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
        if s.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// What one subscriber saw.
#[derive(Default)]
struct SubStats {
    received: u64,
    duplicated: u64,
    reordered: u64,
    latencies_ns: Vec<u64>,
    last_at: Option<Instant>,
    /// Per publisher: the highest sequence seen and a bitmap of those seen.
    seen: Vec<(u64, Vec<u64>)>,
}

impl SubStats {
    fn record(&mut self, payload: &[u8], base: Instant, now: Instant) {
        if payload.len() < 20 {
            return;
        }
        let pubid = u32::from_be_bytes(payload[0..4].try_into().unwrap_or_default()) as usize;
        let seq = u64::from_be_bytes(payload[4..12].try_into().unwrap_or_default());
        let sent = u64::from_be_bytes(payload[12..20].try_into().unwrap_or_default());
        let at = now.duration_since(base).as_nanos() as u64;
        self.latencies_ns.push(at.saturating_sub(sent));
        self.last_at = Some(now);
        if self.seen.len() <= pubid {
            self.seen.resize_with(pubid + 1, || (0, Vec::new()));
        }
        let (high, bits) = &mut self.seen[pubid];
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if bits.len() <= w {
            bits.resize(w + 1, 0);
        }
        if bits[w] & (1 << b) != 0 {
            self.duplicated += 1;
            return;
        }
        bits[w] |= 1 << b;
        self.received += 1;
        if seq + 1 < *high {
            self.reordered += 1;
        }
        *high = (*high).max(seq + 1);
    }
}

/// The WebSocket handshake on `s` (subprotocol `mqtt`, MQTT 5.0 §6).
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    server: SocketAddr,
    path: &str,
) -> io::Result<Ws<S>> {
    let (ws, _) = crate::ws::connect(s, &server.to_string(), path, &["mqtt"]).await?;
    Ok(ws)
}

/// Run one load and report what arrived.
pub async fn run(spec: Spec) -> io::Result<Report> {
    match (spec.tls.clone(), spec.ws_path.clone()) {
        (None, None) => run_on(spec, dial_plain).await,
        (Some(tls), None) => run_on(spec, move |a| dial_tls(a, tls.clone())).await,
        (None, Some(path)) => {
            run_on(spec, move |a| {
                let path = path.clone();
                async move { upgrade(dial_plain(a).await?, a, &path).await }
            })
            .await
        }
        (Some(tls), Some(path)) => {
            run_on(spec, move |a| {
                let (tls, path) = (tls.clone(), path.clone());
                async move { upgrade(dial_tls(a, tls).await?, a, &path).await }
            })
            .await
        }
    }
}

async fn run_on<S, F, Fut>(spec: Spec, dial: F) -> io::Result<Report>
where
    S: BenchStream,
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<S>>,
{
    let run_id = std::process::id();
    // Subscribers first, all subscribed before anyone publishes.
    let mut subs = Vec::new();
    for i in 0..spec.subscribers {
        let (mut s, mut buf) = connect(dial(spec.server).await?, format!("bench-sub-{run_id}-{i}")).await?;
        let sub = Packet::Subscribe(Subscribe {
            packet_id: 1,
            subscriptions: vec![Subscription::new(
                spec.topic.clone(),
                mqtt::SubscriptionOptions::qos(spec.qos),
            )],
            properties: Properties::default(),
        });
        s.write_all(&sub.to_vec(V).map_err(io::Error::other)?).await?;
        match read_packet(&mut s, &mut buf).await? {
            Packet::SubAck(_) => {}
            other => return Err(io::Error::other(format!("expected SUBACK, got {other}"))),
        }
        subs.push((s, buf));
    }
    let mut pubs = Vec::new();
    for i in 0..spec.publishers {
        pubs.push(connect(dial(spec.server).await?, format!("bench-pub-{run_id}-{i}")).await?);
    }
    let base = Instant::now();
    let stop_publishing = base + spec.duration;
    let sent_total = Arc::new(AtomicU64::new(0));

    let mut sub_tasks = Vec::new();
    for (s, buf) in subs {
        let qos = spec.qos;
        sub_tasks.push(tokio::spawn(subscriber(s, buf, qos, base)));
    }
    let mut pub_tasks = Vec::new();
    for (i, (s, buf)) in pubs.into_iter().enumerate() {
        let spec = spec.clone();
        let sent_total = sent_total.clone();
        pub_tasks.push(tokio::spawn(async move {
            let n = publisher(i as u32, s, buf, &spec, base, stop_publishing).await;
            sent_total.fetch_add(n.as_ref().copied().unwrap_or(0), Ordering::Relaxed);
            n
        }));
    }
    for t in pub_tasks {
        t.await.map_err(io::Error::other)??;
    }
    let sent = sent_total.load(Ordering::Relaxed);
    let expected = sent * spec.subscribers as u64;
    // The subscribers stop once nothing arrived for 2 s (the broker has delivered what it held).
    let mut all = SubStats::default();
    let mut last_at = base;
    let mut per_sub = Vec::new();
    for t in sub_tasks {
        per_sub.push(t.await.map_err(io::Error::other)?);
    }
    let mut lat = Vec::new();
    for st in per_sub {
        all.received += st.received;
        all.duplicated += st.duplicated;
        all.reordered += st.reordered;
        if let Some(t) = st.last_at {
            last_at = last_at.max(t);
        }
        lat.extend(st.latencies_ns);
    }
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    let elapsed = last_at.duration_since(base);
    Ok(Report {
        sent,
        expected,
        received: all.received,
        lost: expected.saturating_sub(all.received),
        duplicated: all.duplicated,
        reordered: all.reordered,
        delivered_per_s: all.received as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: lat.last().map(|&n| n as f64 / 1000.0).unwrap_or(0.0),
        elapsed,
    })
}

async fn subscriber<S: BenchStream>(mut s: S, mut buf: BytesMut, qos: QoS, base: Instant) -> SubStats {
    let mut st = SubStats::default();
    let mut acks = Vec::new();
    let idle = Duration::from_secs(2);
    let mut decoder = Decoder::with_version(V);
    loop {
        // Decode everything buffered, acknowledge it in one write, then read more.
        loop {
            match decoder.decode(&buf) {
                Ok((p, used)) => {
                    buf.advance(used);
                    if let Packet::Publish(m) = p {
                        st.record(&m.payload, base, Instant::now());
                        if qos == QoS::AtLeastOnce && m.packet_id != 0 {
                            let _ = mqtt::encode(&Packet::PubAck(Ack::new(m.packet_id)), V, &mut acks);
                        }
                    }
                }
                Err(e) if e.is_incomplete() => break,
                Err(_) => return st,
            }
        }
        if !acks.is_empty() {
            if s.write_all(&acks).await.is_err() {
                return st;
            }
            acks.clear();
        }
        buf.reserve(64 * 1024);
        // The run is over when nothing arrives for `idle` (the publishers have stopped and the
        // broker has nothing left for us).
        match tokio::time::timeout(idle, s.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return st,
            Ok(Ok(_)) => {}
        }
    }
}

async fn publisher<S: BenchStream>(
    id: u32,
    s: S,
    mut buf: BytesMut,
    spec: &Spec,
    base: Instant,
    stop: Instant,
) -> io::Result<u64> {
    let (mut rd, mut wr) = s.halves();
    let window = Arc::new(Semaphore::new(if spec.qos == QoS::AtMostOnce {
        0
    } else {
        spec.window.max(1)
    }));
    // QoS 1: a reader returns a window slot for every PUBACK.
    let reader = if spec.qos == QoS::AtLeastOnce {
        let window = window.clone();
        Some(tokio::spawn(async move {
            let mut acked = 0u64;
            let mut decoder = Decoder::with_version(V);
            loop {
                loop {
                    match decoder.decode(&buf) {
                        Ok((p, used)) => {
                            buf.advance(used);
                            if let Packet::PubAck(_) = p {
                                acked += 1;
                                window.add_permits(1);
                            }
                        }
                        Err(e) if e.is_incomplete() => break,
                        Err(_) => return acked,
                    }
                }
                buf.reserve(16 * 1024);
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return acked,
                    Ok(_) => {}
                }
            }
        }))
    } else {
        None
    };
    let per_pub_rate = spec.rate.map(|r| (r as f64 / spec.publishers as f64).max(1.0));
    let mut seq: u64 = 0;
    let mut out = Vec::with_capacity(64 * 128);
    let mut pid: u16 = 0;
    let mut payload = vec![0u8; spec.payload.max(20)];
    payload[0..4].copy_from_slice(&id.to_be_bytes());
    loop {
        let now = Instant::now();
        if now >= stop {
            break;
        }
        // How many to send now: a batch at full speed, or what the schedule says is due.
        let due = match per_pub_rate {
            None => 64,
            Some(r) => {
                let should = (now.duration_since(base).as_secs_f64() * r) as u64;
                if should <= seq {
                    let next = base + Duration::from_secs_f64((seq + 1) as f64 / r);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
                    continue;
                }
                (should - seq).min(256)
            }
        };
        for _ in 0..due {
            if spec.qos == QoS::AtLeastOnce {
                if window.available_permits() == 0 && !out.is_empty() {
                    break; // write what we have before waiting for acknowledgements
                }
                match window.clone().acquire_owned().await {
                    Ok(p) => p.forget(),
                    Err(_) => break,
                }
            }
            payload[4..12].copy_from_slice(&seq.to_be_bytes());
            let at = Instant::now().duration_since(base).as_nanos() as u64;
            payload[12..20].copy_from_slice(&at.to_be_bytes());
            let mut p = Publish::new(spec.topic.clone(), payload.clone());
            if spec.qos == QoS::AtLeastOnce {
                pid = pid.wrapping_add(1).max(1);
                p.qos = QoS::AtLeastOnce;
                p.packet_id = pid;
            }
            mqtt::encode(&Packet::Publish(p), V, &mut out).map_err(io::Error::other)?;
            seq += 1;
        }
        if !out.is_empty() {
            wr.write_all(&out).await?;
            out.clear();
        }
    }
    if let Some(r) = reader {
        // Wait for the last acknowledgements (bounded), so the broker has them all before we go.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while window.available_permits() < spec.window.max(1) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        r.abort();
    }
    let _ = wr.write_all(&[0xe0, 0x00]).await; // DISCONNECT
    Ok(seq)
}
