//! The broker on the network: one tokio task per connection around the sans-I/O [`Broker`].
//!
//! ```text
//!   socket ──read──► codec::decode ──► Broker (one lock per batch of packets) ──► outboxes
//!                                                                   │ wake (Notify)
//!   socket ◄─write── codec::encode ◄── take_outbox ◄────────────────┘   (in each client's own task)
//! ```
//!
//! What to notice:
//! - Bytes become packets only through `wire::mqtt` (the same codec the clients and the analyzer use).
//! - Each connection's task reads *and* writes its own socket. A PUBLISH is routed in the publisher's
//!   task: the copies land in the subscribers' outboxes and their tasks are woken; each writes
//!   everything waiting in one `write` call (batching). A subscriber that stops reading only fills its
//!   own bounded outbox (see the queue policy in [`super::state`]); nobody else waits for it.
//! - The lock around the broker is taken once per batch of packets read, never across an `.await`.
//!   The benchmark pins the broker to one core, where the lock is never contended; on more cores the
//!   routing work is still short (a tree walk and a few queue pushes) compared with the socket calls.
//! - A QoS 0 message going to many subscribers is encoded once ([`Message::wire`]).
//! - Keep-alive: a client silent for 1.5 times its keep-alive is disconnected (3.1.1 §3.1.2.10).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tracing::Instrument;
use wire::mqtt::{
    self, Ack, ConnAck, Disconnect, Packet, Properties, Publish, ReasonCode, RetainHandling, SubAck,
    UnsubAck, Version,
};

use super::auth::Auth;
use super::state::{
    self, Broker, ConnectOutcome, ConnectReq, Ending, Message, MsgProps, Out, PublishIn, QoS, SubOpts,
    SubReq, Violation,
};
use crate::server::{self, Limits};
use crate::shutdown::Signal;

/// Everything `sister mqtt broker` can be configured with.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub state: state::Config,
    pub auth: Auth,
    pub limits: Limits,
    /// How often `$SYS/broker/...` is published (`None`: never).
    pub sys_interval: Option<Duration>,
    /// How long a new connection may take to send its CONNECT.
    pub connect_timeout: Duration,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            state: state::Config::default(),
            auth: Auth::default(),
            limits: Limits {
                max_connections: 100_000,
                grace: Duration::from_secs(2),
            },
            sys_interval: Some(Duration::from_secs(10)),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The broker shared by all connection tasks.
struct Hub {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    opts: BrokerOptions,
}

struct Inner {
    broker: Broker,
    /// The writer to wake for each session (by session index): the connection id and its Notify.
    slots: Vec<Option<(u64, Arc<Notify>)>>,
    wakes: Vec<usize>,
}

impl Inner {
    /// Wake the tasks of every session whose outbox got something.
    fn flush_wakes(&mut self) {
        self.broker.take_wakes(&mut self.wakes);
        for sid in self.wakes.drain(..) {
            if let Some(Some((_, n))) = self.slots.get(sid) {
                n.notify_one();
            }
        }
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in one connection task must not take the broker down with it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Run the broker on `listener` until `shutdown` fires.
pub async fn run(listener: TcpListener, opts: BrokerOptions, shutdown: Signal) -> io::Result<()> {
    let now = Instant::now();
    let hub = Arc::new(Hub {
        inner: Mutex::new(Inner {
            broker: Broker::new(opts.state.clone(), opts.auth.clone(), now),
            slots: Vec::new(),
            wakes: Vec::new(),
        }),
        next_conn: AtomicU64::new(1),
        bytes_in: AtomicU64::new(0),
        bytes_out: AtomicU64::new(0),
        opts: opts.clone(),
    });
    let ticker = tokio::spawn(tick(hub.clone(), shutdown.clone()));
    let h = hub.clone();
    let result = server::serve(
        listener,
        opts.limits.clone(),
        shutdown,
        move |stream, _peer, sd| {
            let hub = h.clone();
            async move {
                // `serve` already logs inside `conn{peer=…}`; this span adds the MQTT client id once
                // CONNECT has named it, so every later line says which client it is about.
                let span = tracing::info_span!("mqtt-client", id = tracing::field::Empty);
                connection(hub, stream, sd).instrument(span).await
            }
        },
    )
    .await;
    ticker.abort();
    result
}

/// Once a second: wills whose delay is over, expired sessions; every `sys_interval`: `$SYS`.
async fn tick(hub: Arc<Hub>, mut shutdown: Signal) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let mut last_sys: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.recv() => return,
            _ = every.tick() => {}
        }
        let now = Instant::now();
        let mut inner = hub.lock();
        inner.broker.tick(now);
        if let Some(iv) = hub.opts.sys_interval {
            if last_sys.is_none_or(|t| now.duration_since(t) >= iv) {
                last_sys = Some(now);
                inner.broker.stats.bytes_received = hub.bytes_in.load(Ordering::Relaxed);
                inner.broker.stats.bytes_sent = hub.bytes_out.load(Ordering::Relaxed);
                inner.broker.publish_sys(now);
            }
        }
        inner.flush_wakes();
    }
}

/// Why a connection is being closed by the broker.
struct Close {
    reason: ReasonCode,
    why: String,
    /// The client ended it with DISCONNECT: nothing to send, nothing to tell the broker state.
    by_client: bool,
}

impl Close {
    fn new(reason: ReasonCode, why: impl Into<String>) -> Close {
        Close {
            reason,
            why: why.into(),
            by_client: false,
        }
    }
}

impl From<Violation> for Close {
    fn from(v: Violation) -> Close {
        Close::new(ReasonCode::from_byte(v.reason), v.why)
    }
}

/// One client connection after CONNECT.
struct Conn {
    id: u64,
    version: Version,
    sid: usize,
    client_id: Arc<str>,
    /// The client's Maximum Packet Size (5.0 §3.1.2.11.4): larger packets are not sent to it.
    max_packet_out: usize,
    /// Topic aliases the client accepts from us (5.0 §3.1.2.11.5), and those we assigned.
    alias_max_out: u16,
    aliases_out: HashMap<Arc<str>, u16>,
    /// Topic aliases the client set for its PUBLISHes to us.
    aliases_in: HashMap<u16, String>,
    /// 5.0 Request Problem Information: reason strings only if the client wants them.
    problem_info: bool,
    /// QoS 1/2 deliveries skipped because they were too large for the client: acknowledged on its
    /// behalf so they do not hold the in-flight window forever.
    skipped: Vec<(u16, QoS)>,
}

const READ_CHUNK: usize = 16 * 1024;
/// Stop taking from the outbox while this many bytes wait to be written (the socket is full).
const WRITE_HIGH: usize = 64 * 1024;

/// What the handshake leaves for the rest of the connection.
struct Ready {
    conn: Conn,
    keep_alive: u16,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    notify: Arc<Notify>,
}

/// One client connection: the CONNECT handshake, the session, the goodbye. Split in three functions
/// so the task's future holds the state of one phase at a time (memory per idle client).
async fn connection(hub: Arc<Hub>, mut stream: TcpStream, mut shutdown: Signal) {
    let Some(Ready {
        mut conn,
        keep_alive,
        rbuf,
        wbuf,
        notify,
    }) = handshake(&hub, &mut stream, &mut shutdown).await
    else {
        return;
    };
    // 3. The loop: read packets, write what the broker queued for us.
    let close = serve_client(
        &hub,
        &mut conn,
        &mut stream,
        rbuf,
        wbuf,
        keep_alive,
        &notify,
        &mut shutdown,
    )
    .await;
    drop(notify);
    goodbye(&hub, &conn, &mut stream, close).await;
}

/// Read CONNECT, let the broker decide, write CONNACK. `None`: the connection is over.
async fn handshake(hub: &Hub, stream: &mut TcpStream, shutdown: &mut Signal) -> Option<Ready> {
    let id = hub.next_conn.fetch_add(1, Ordering::Relaxed);
    let mut rbuf = BytesMut::with_capacity(256);
    let max_in = hub.opts.state.max_packet_size as usize;

    // 1. The first packet must be CONNECT (3.1.1 §3.1: otherwise the server closes the connection).
    let first = tokio::select! {
        _ = shutdown.recv() => return None,
        r = tokio::time::timeout(hub.opts.connect_timeout, read_packet(stream, &mut rbuf, max_in, hub)) => r,
    };
    let connect = match first {
        Err(_) => {
            tracing::info!(
                "no CONNECT within {:?}; closing (an MQTT client speaks first)",
                hub.opts.connect_timeout
            );
            return None;
        }
        Ok(Err(ReadErr::Closed)) => {
            tracing::debug!("closed before sending CONNECT");
            return None;
        }
        Ok(Err(ReadErr::Io(e))) => {
            tracing::info!("connection error before CONNECT: {e}");
            return None;
        }
        Ok(Err(ReadErr::Codec(mqtt::Error::UnsupportedVersion { name, level }))) => {
            tracing::warn!(
                "CONNECT with unsupported protocol {name:?} level {level}; refusing (CONNACK 0x84 / return code 1)"
            );
            let ack = ConnAck {
                code: ReasonCode::UnsupportedProtocolVersion,
                ..ConnAck::default()
            };
            let v = if level == 5 { Version::V5 } else { Version::V3_1_1 };
            let mut buf = Vec::new();
            if mqtt::encode(&Packet::ConnAck(ack), v, &mut buf).is_ok() {
                let _ = write_all(stream, &buf, hub).await;
            }
            return None;
        }
        Ok(Err(ReadErr::Codec(e))) => {
            tracing::warn!("malformed first packet: {e}; closing the connection");
            return None;
        }
        Ok(Ok(Packet::Connect(c))) => c,
        Ok(Ok(other)) => {
            tracing::warn!(
                "first packet was {} instead of CONNECT (MQTT 3.1.1 §3.1); closing the connection",
                other.packet_type()
            );
            return None;
        }
    };

    // 2. CONNECT -> the broker decides -> CONNACK.
    let version = connect.version;
    let v5 = version.is_v5();
    let props = &connect.properties;
    let mut wbuf: Vec<u8> = Vec::new();
    let refuse = |reason: ReasonCode, why: &str| {
        let mut ack = ConnAck {
            code: reason,
            ..ConnAck::default()
        };
        if v5 {
            ack.properties.reason_string = Some(why.to_string());
        }
        ack
    };
    let early = if v5 && props.receive_maximum == Some(0) {
        Some((
            ReasonCode::ProtocolError,
            "Receive Maximum 0 (MQTT 5.0 §3.1.2.11.3)".to_string(),
        ))
    } else if v5 && props.maximum_packet_size == Some(0) {
        Some((
            ReasonCode::ProtocolError,
            "Maximum Packet Size 0 (MQTT 5.0 §3.1.2.11.4)".to_string(),
        ))
    } else if props.authentication_method.is_some() {
        Some((
            ReasonCode::BadAuthenticationMethod,
            "this broker does not support enhanced authentication (AUTH); use username and password"
                .to_string(),
        ))
    } else {
        None
    };
    if let Some((reason, why)) = early {
        tracing::warn!(client = %connect.client_id, "CONNECT refused: {why}");
        let ack = refuse(reason, &why);
        if mqtt::encode(&Packet::ConnAck(ack), version, &mut wbuf).is_ok() {
            let _ = write_all(stream, &wbuf, hub).await;
        }
        return None;
    }
    let will = connect.will.as_ref().map(|w| state::Will {
        topic: w.topic.clone(),
        payload: w.payload.clone(),
        qos: w.qos,
        retain: w.retain,
        delay: w.properties.will_delay_interval.unwrap_or(0),
        props: msg_props(&w.properties),
    });
    let req = ConnectReq {
        client_id: connect.client_id.clone(),
        v5,
        clean_start: connect.clean_start,
        keep_alive: connect.keep_alive,
        session_expiry: props.session_expiry_interval.unwrap_or(0),
        receive_maximum: props.receive_maximum.unwrap_or(65535),
        will,
        username: connect.username.clone(),
        password: connect.password.clone(),
    };
    let notify = Arc::new(Notify::new());
    let now = Instant::now();
    let outcome = {
        let mut inner = hub.lock();
        let outcome = inner.broker.connect(id, req, now);
        if let ConnectOutcome::Accepted { sid, .. } = &outcome {
            let sid = *sid;
            if inner.slots.len() <= sid {
                inner.slots.resize(sid + 1, None);
            }
            // A taken-over connection is woken so it notices and closes.
            if let Some((_, old)) = inner.slots[sid].replace((id, notify.clone())) {
                old.notify_one();
            }
            inner.flush_wakes();
        }
        outcome
    };
    let (sid, keep_alive) = match outcome {
        ConnectOutcome::Refused { reason, why } => {
            tracing::warn!(client = %connect.client_id, "CONNECT refused: {why}");
            let ack = refuse(ReasonCode::from_byte(reason), &why);
            if mqtt::encode(&Packet::ConnAck(ack), version, &mut wbuf).is_ok() {
                let _ = write_all(stream, &wbuf, hub).await;
            }
            return None;
        }
        ConnectOutcome::Accepted {
            sid,
            session_present,
            assigned_client_id,
            server_keep_alive,
            keep_alive,
            kicked,
        } => {
            if let Some(old) = kicked {
                tracing::info!(
                    old_connection = old,
                    "took over the session from the previous connection"
                );
            }
            let mut ack = ConnAck::accepted(session_present);
            if v5 {
                let cfg = &hub.opts.state;
                let p = &mut ack.properties;
                p.receive_maximum = Some(cfg.receive_maximum);
                p.topic_alias_maximum = Some(cfg.topic_alias_maximum);
                p.maximum_packet_size = Some(cfg.max_packet_size);
                p.assigned_client_identifier = assigned_client_id.clone();
                p.server_keep_alive = server_keep_alive;
                if let Some(asked) = props.session_expiry_interval {
                    if asked > cfg.max_session_expiry {
                        p.session_expiry_interval = Some(cfg.max_session_expiry);
                    }
                }
            }
            if let Err(e) = mqtt::encode(&Packet::ConnAck(ack), version, &mut wbuf) {
                tracing::error!("cannot encode CONNACK: {e}");
                return None;
            }
            let client: Arc<str> = match hub.lock().broker.session(sid) {
                Some(s) => s.client_id.clone(),
                None => connect.client_id.as_str().into(),
            };
            tracing::Span::current().record("id", &*client);
            (sid, (keep_alive, client))
        }
    };
    let (keep_alive, client_id) = keep_alive;
    let conn = Conn {
        id,
        version,
        sid,
        client_id,
        max_packet_out: props
            .maximum_packet_size
            .map(|m| m as usize)
            .unwrap_or(usize::MAX),
        alias_max_out: if v5 {
            props.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        },
        aliases_out: HashMap::new(),
        aliases_in: HashMap::new(),
        problem_info: props.request_problem_information.unwrap_or(true),
        skipped: Vec::new(),
    };
    drop(connect);
    Some(Ready {
        conn,
        keep_alive,
        rbuf,
        wbuf,
        notify,
    })
}

/// The connection ends: tell the broker state, and a 5.0 client why.
async fn goodbye(hub: &Hub, conn: &Conn, stream: &mut TcpStream, close: Close) {
    let (sid, id, version) = (conn.sid, conn.id, conn.version);
    let now = Instant::now();
    let mut goodbye = Vec::new();
    {
        let mut inner = hub.lock();
        if !close.by_client {
            let ending = Ending::Abnormal(close.why.clone());
            inner.broker.connection_lost(sid, id, ending, now);
        }
        if inner
            .slots
            .get(sid)
            .and_then(|s| s.as_ref())
            .is_some_and(|(c, _)| *c == id)
        {
            inner.slots[sid] = None;
        }
        inner.flush_wakes();
    }
    if !close.by_client && version.is_v5() {
        let mut d = Disconnect::new(close.reason);
        if conn.problem_info {
            d.properties.reason_string = Some(close.why.clone());
        }
        let _ = mqtt::encode(&Packet::Disconnect(d), version, &mut goodbye);
        let _ = tokio::time::timeout(Duration::from_secs(1), write_all(stream, &goodbye, hub)).await;
        if !matches!(close.reason, ReasonCode::ServerShuttingDown) {
            // Boxed: linger's 4 KiB read buffer would otherwise live inside every idle connection's
            // future (see `a_connection_task_stays_small`), though only a closing connection needs it.
            Box::pin(linger(stream)).await;
        }
    }
    let routine = matches!(
        close.reason,
        ReasonCode::ServerShuttingDown | ReasonCode::SessionTakenOver
    );
    if !close.by_client && close.reason.byte() >= 0x80 && !routine {
        tracing::warn!(client = %conn.client_id, reason = %close.reason, "disconnecting the client: {}", close.why);
    }
}

/// How long a closing connection keeps reading (and discarding) what the client still sends.
const LINGER: Duration = Duration::from_secs(2);

/// A lingering close, so the DISCONNECT just written reaches the client (5.0 §4.13: the reason
/// code is how a client learns why it was cut off). What to notice: closing a socket that still
/// has unread input makes the kernel answer with RST instead of FIN, and a client that then writes
/// (say, the PUBRELs for the PUBRECs queued ahead of our DISCONNECT) gets "broken pipe" or
/// "connection reset" and loses whatever it had not read yet, our DISCONNECT included. So: send FIN
/// (shutdown of our write half), read and drop the client's bytes until it closes too or LINGER
/// passes, then close.
async fn linger(stream: &mut TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

enum ReadErr {
    Closed,
    Io(io::Error),
    Codec(mqtt::Error),
}

/// Read until one whole packet is buffered and decode it (used for CONNECT).
async fn read_packet(
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    max: usize,
    hub: &Hub,
) -> Result<Packet, ReadErr> {
    use tokio::io::AsyncReadExt;
    loop {
        match mqtt::decode_with_limit(rbuf, Version::V3_1_1, max) {
            Ok((p, used)) => {
                rbuf.advance(used);
                return Ok(p);
            }
            Err(e) if e.is_incomplete() => {}
            Err(e) => return Err(ReadErr::Codec(e)),
        }
        rbuf.reserve(1024);
        match stream.read_buf(rbuf).await {
            Ok(0) => return Err(ReadErr::Closed),
            Ok(n) => {
                hub.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => return Err(ReadErr::Io(e)),
        }
    }
}

async fn write_all(stream: &mut TcpStream, buf: &[u8], hub: &Hub) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    stream.write_all(buf).await?;
    hub.bytes_out.fetch_add(buf.len() as u64, Ordering::Relaxed);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_client(
    hub: &Hub,
    conn: &mut Conn,
    stream: &mut TcpStream,
    mut rbuf: BytesMut,
    mut wbuf: Vec<u8>,
    keep_alive: u16,
    notify: &Notify,
    shutdown: &mut Signal,
) -> Close {
    if rbuf.is_empty() {
        rbuf = BytesMut::new(); // an idle client holds no read buffer
    }
    let mut wpos = 0usize;
    let mut want_fill = true;
    let mut outq: VecDeque<Out> = VecDeque::new();
    let mut packets: VecDeque<Packet> = VecDeque::new();
    let mut decode_err: Option<Close> = None;
    let mut congested: Vec<usize> = Vec::new();
    let mut paused_since: Option<Instant> = None;
    let mut recheck = false;
    let max_in = hub.opts.state.max_packet_size as usize;
    // 3.1.1 §3.1.2.10: one and a half times the keep-alive without a packet ends the connection.
    let grace = (keep_alive > 0).then(|| Duration::from_millis(keep_alive as u64 * 1500));
    let mut last_rx = Instant::now();
    let far = Duration::from_secs(86400 * 365);
    let ka_sleep = tokio::time::sleep(grace.unwrap_or(far));
    tokio::pin!(ka_sleep);
    let mut pending_rx: Option<Close> = None;

    loop {
        // Move what the broker queued for us into the write buffer, unless the socket is backed up.
        if want_fill && wbuf.len() - wpos < WRITE_HIGH {
            want_fill = false;
            let owner = {
                let mut inner = hub.lock();
                if !conn.skipped.is_empty() {
                    let now = Instant::now();
                    for (pid, qos) in conn.skipped.drain(..) {
                        match qos {
                            QoS::AtLeastOnce => inner.broker.puback(conn.sid, pid, now),
                            _ => {
                                inner.broker.pubrec(conn.sid, pid, 0x80, now);
                            }
                        }
                    }
                    inner.flush_wakes();
                }
                let owner = inner.broker.take_outbox(conn.sid, conn.id, &mut outq);
                // Draining may free publishers held by back-pressure: wake them.
                inner.flush_wakes();
                owner
            };
            if !owner {
                return Close::new(
                    ReasonCode::SessionTakenOver,
                    "another connection took over this client id (MQTT 3.1.1 §3.1.4)",
                );
            }
            if wpos > 0 && wpos == wbuf.len() {
                wbuf.clear();
                wpos = 0;
            }
            let now = Instant::now();
            let mut closing = None;
            for out in outq.drain(..) {
                if let Out::Disconnect { reason, text } = out {
                    closing = Some(Close::new(ReasonCode::from_byte(reason), text));
                    break;
                }
                encode_out(conn, out, &mut wbuf, now);
            }
            if let Some(c) = closing {
                let _ = flush(stream, &wbuf[wpos..], hub).await;
                return c;
            }
        }
        // Write as much as the socket takes now: everything queued goes in one system call.
        if wpos < wbuf.len() {
            match stream.try_write(&wbuf[wpos..]) {
                Ok(n) => {
                    hub.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                    wpos += n;
                    if wpos == wbuf.len() {
                        wbuf.clear();
                        wpos = 0;
                        if wbuf.capacity() > 4 * WRITE_HIGH {
                            wbuf = Vec::new();
                        }
                        if !outq.is_empty() || want_fill {
                            continue;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Close::new(ReasonCode::UnspecifiedError, format!("write failed: {e}")),
            }
        }
        if let Some(c) = pending_rx.take() {
            // A protocol error was found while reading: what we queued before it is written, then we
            // close.
            let _ = flush(stream, &wbuf[wpos..], hub).await;
            return c;
        }
        if recheck && paused_since.is_some() {
            recheck = false;
            let mut inner = hub.lock();
            congested.retain(|&sid| !inner.broker.has_room(sid));
            if !congested.is_empty() && paused_since.is_some_and(|t| t.elapsed() <= Duration::from_secs(1)) {
                for &sid in congested.iter() {
                    inner.broker.wait_for_room(sid, conn.sid);
                }
                inner.flush_wakes();
            } else {
                drop(inner);
                tracing::debug!(left = ?congested, "resuming this publisher");
                congested.clear();
                paused_since = None;
                // Go on with what was read but not applied yet.
                if let Some(c) = apply_backlog(hub, conn, &mut packets, &mut congested) {
                    if c.by_client {
                        return c;
                    }
                    pending_rx = Some(c);
                } else if packets.is_empty() {
                    pending_rx = decode_err.take();
                }
                if !congested.is_empty() {
                    paused_since = Some(Instant::now());
                }
                want_fill = true;
                continue;
            }
        }
        let paused = paused_since.is_some();
        tokio::select! {
            biased;
            _ = shutdown.recv() => {
                return Close::new(ReasonCode::ServerShuttingDown, "the broker is shutting down");
            }
            _ = notify.notified() => {
                want_fill = true;
                recheck = true;
            }
            r = stream.writable(), if wpos < wbuf.len() => {
                if let Err(e) = r {
                    return Close::new(ReasonCode::UnspecifiedError, format!("socket error: {e}"));
                }
            }
            r = stream.readable(), if !paused && packets.is_empty() && decode_err.is_none() => {
                if let Err(e) = r {
                    return Close::new(ReasonCode::UnspecifiedError, format!("socket error: {e}"));
                }
                rbuf.reserve(READ_CHUNK);
                match stream.try_read_buf(&mut rbuf) {
                    Ok(0) => {
                        let mut inner = hub.lock();
                        inner.broker.connection_lost(
                            conn.sid,
                            conn.id,
                            Ending::Abnormal("the client closed the TCP connection without DISCONNECT".into()),
                            Instant::now(),
                        );
                        inner.flush_wakes();
                        return Close { reason: ReasonCode::UnspecifiedError, why: String::new(), by_client: true };
                    }
                    Ok(n) => {
                        hub.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                        last_rx = Instant::now();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        return Close::new(ReasonCode::UnspecifiedError, format!("connection lost: {e}"));
                    }
                }
                // Decode every whole packet in the buffer (outside the lock) ...
                loop {
                    match mqtt::decode_with_limit(&rbuf, conn.version, max_in) {
                        Ok((p, used)) => {
                            rbuf.advance(used);
                            packets.push_back(p);
                        }
                        Err(e) if e.is_incomplete() => break,
                        Err(e) => {
                            let reason = e.reason_code().unwrap_or(ReasonCode::MalformedPacket);
                            decode_err = Some(Close::new(reason, format!("{e}")));
                            break;
                        }
                    }
                }
                if rbuf.is_empty() && rbuf.capacity() > 0 {
                    // An idle connection keeps no read buffer (memory per idle client stays small).
                    rbuf = BytesMut::new();
                }
                // Before routing a PUBLISH, let the other connections that are ready run first. The
                // poll that woke us may have woken them too, with packets that reached the broker
                // before ours (another client's SUBSCRIBE this PUBLISH should reach), and tokio runs
                // the task woken last first (its "LIFO slot"), which would route our PUBLISH before
                // their SUBSCRIBE. MQTT orders packets only within a connection (3.1.1 and 5.0
                // §4.6), but clients (and paho.mqtt.testing's request_response test) count on the
                // arrival order a single-threaded broker such as Mosquitto keeps: subscribe on one
                // connection, publish on another at once, expect the message. Measured with
                // bench/mqtt-results.md's race check: without this yield about half such messages
                // were missed on a busy 2-core machine.
                if packets.iter().any(|p| matches!(p, Packet::Publish(_))) {
                    tokio::task::yield_now().await;
                }
                // ... then apply them under one lock.
                if let Some(c) = apply_backlog(hub, conn, &mut packets, &mut congested) {
                    if c.by_client {
                        return c;
                    }
                    pending_rx = Some(c);
                    want_fill = true;
                } else if packets.is_empty() {
                    if let Some(c) = decode_err.take() {
                        pending_rx = Some(c);
                        want_fill = true;
                    }
                }
                if !congested.is_empty() {
                    tracing::debug!(queues = ?congested, "a subscriber's queue is half full: pausing this publisher");
                    paused_since = Some(Instant::now());
                    recheck = true;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)), if paused => {
                // Back-pressure: this publisher filled a subscriber's queue past half; it waits
                // (without reading its socket) until that queue drains (the subscriber's task wakes
                // us), for at most a second. This branch is only the clock for that second.
                recheck = true;
            }
            _ = &mut ka_sleep => {
                let Some(g) = grace else { continue };
                let deadline = last_rx + g;
                if Instant::now() >= deadline {
                    return Close::new(
                        ReasonCode::KeepAliveTimeout,
                        format!("nothing received for 1.5 x keep-alive ({keep_alive}s) (MQTT 3.1.1 §3.1.2.10)"),
                    );
                }
                ka_sleep.as_mut().reset(tokio::time::Instant::from_std(deadline));
            }
        }
    }
}

/// Apply decoded packets in order under one lock. Stops early when a PUBLISH filled some subscriber's
/// queue past half (`congested` then names them): the rest waits until they drain (back-pressure).
fn apply_backlog(
    hub: &Hub,
    conn: &mut Conn,
    packets: &mut VecDeque<Packet>,
    congested: &mut Vec<usize>,
) -> Option<Close> {
    if packets.is_empty() {
        return None;
    }
    let now = Instant::now();
    let mut inner = hub.lock();
    let mut result = None;
    while let Some(p) = packets.pop_front() {
        if let Err(c) = apply(&mut inner.broker, conn, p, now) {
            packets.clear();
            result = Some(c);
            break;
        }
        if inner.broker.is_congested() {
            break;
        }
    }
    inner.broker.take_congested(congested);
    inner.flush_wakes();
    result
}

async fn flush(stream: &mut TcpStream, buf: &[u8], hub: &Hub) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    tokio::time::timeout(Duration::from_secs(2), write_all(stream, buf, hub))
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// The 5.0 properties a PUBLISH passes on to its subscribers.
fn msg_props(p: &Properties) -> MsgProps {
    MsgProps {
        payload_format: p.payload_format_indicator,
        expiry: p.message_expiry_interval,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        user: p.user_properties.clone(),
    }
}

/// One packet from the client, handed to the broker.
fn apply(broker: &mut Broker, conn: &mut Conn, p: Packet, now: Instant) -> Result<(), Close> {
    let sid = conn.sid;
    match p {
        Packet::Publish(p) => {
            let mut topic = p.topic;
            // 5.0 topic aliases (§3.3.2.3.4): a number standing for a topic, set by a PUBLISH that
            // carries both, then used with an empty topic.
            if let Some(alias) = p.properties.topic_alias {
                let max = broker.config.topic_alias_maximum;
                if alias == 0 || alias > max {
                    return Err(Close::new(
                        ReasonCode::TopicAliasInvalid,
                        format!("topic alias {alias} outside 1..={max} (MQTT 5.0 §3.3.2.3.4)"),
                    ));
                }
                if topic.is_empty() {
                    match conn.aliases_in.get(&alias) {
                        Some(t) => topic = t.clone(),
                        None => {
                            return Err(Close::new(
                                ReasonCode::ProtocolError,
                                format!("topic alias {alias} used before being set (MQTT 5.0 §3.3.2.3.4)"),
                            ))
                        }
                    }
                } else {
                    conn.aliases_in.insert(alias, topic.clone());
                }
            } else if topic.is_empty() {
                return Err(Close::new(
                    ReasonCode::ProtocolError,
                    "PUBLISH with an empty topic and no topic alias (MQTT 5.0 §3.3.2.1)",
                ));
            }
            let props = if conn.version.is_v5() {
                msg_props(&p.properties)
            } else {
                MsgProps::default()
            };
            if p.qos != QoS::AtMostOnce {
                tracing::debug!(topic = %topic, qos = p.qos as u8, pid = p.packet_id, "PUBLISH received");
            }
            broker.publish(
                sid,
                PublishIn {
                    topic,
                    payload: p.payload,
                    qos: p.qos,
                    retain: p.retain,
                    dup: p.dup,
                    pid: p.packet_id,
                    props,
                },
                now,
            )?;
        }
        Packet::PubAck(a) => broker.puback(sid, a.packet_id, now),
        Packet::PubRec(a) => broker.pubrec(sid, a.packet_id, a.reason.byte(), now),
        Packet::PubRel(a) => broker.pubrel(sid, a.packet_id),
        Packet::PubComp(a) => broker.pubcomp(sid, a.packet_id, now),
        Packet::Subscribe(s) => {
            let sub_id = s.properties.subscription_identifiers.first().copied();
            let reqs = s
                .subscriptions
                .into_iter()
                .map(|x| SubReq {
                    filter: x.filter,
                    opts: SubOpts {
                        qos: x.options.qos,
                        no_local: x.options.no_local,
                        retain_as_published: x.options.retain_as_published,
                        retain_handling: match x.options.retain_handling {
                            RetainHandling::SendAtSubscribe => 0,
                            RetainHandling::SendIfNew => 1,
                            RetainHandling::DoNotSend => 2,
                        },
                        sub_id,
                    },
                })
                .collect();
            broker.subscribe(sid, s.packet_id, reqs, now)?;
        }
        Packet::Unsubscribe(u) => broker.unsubscribe(sid, u.packet_id, u.filters),
        Packet::PingReq => broker.pingreq(sid),
        Packet::Disconnect(d) => {
            if let Err(v) = broker.disconnect(
                sid,
                conn.id,
                d.reason.byte(),
                d.properties.session_expiry_interval,
                now,
            ) {
                // The state already ended the connection; still tell the client why.
                return Err(Close::from(v));
            }
            return Err(Close {
                reason: d.reason,
                why: "DISCONNECT".into(),
                by_client: true,
            });
        }
        Packet::Connect(_) => {
            return Err(Close::new(
                ReasonCode::ProtocolError,
                "a second CONNECT on the same connection (MQTT 3.1.1 §3.1.0-2)",
            ))
        }
        Packet::Auth(_) => {
            return Err(Close::new(
                ReasonCode::ProtocolError,
                "AUTH without an authentication method agreed in CONNECT (MQTT 5.0 §4.12)",
            ))
        }
        other => {
            return Err(Close::new(
                ReasonCode::ProtocolError,
                format!("{} is sent by a server, never by a client", other.packet_type()),
            ))
        }
    }
    Ok(())
}

/// Append the bytes of one outgoing packet to `wbuf`.
fn encode_out(conn: &mut Conn, out: Out, wbuf: &mut Vec<u8>, now: Instant) {
    let v = conn.version;
    let ack = |pid: u16, reason: u8| {
        let mut a = Ack::new(pid);
        a.reason = ReasonCode::from_byte(reason);
        a
    };
    let packet = match out {
        Out::Publish(d) => {
            if d.msg.expiry_left(now) == Some(0) {
                return; // expired while waiting (5.0 §3.3.2.3.3)
            }
            let plain = d.qos == QoS::AtMostOnce
                && !d.retain
                && d.sub_ids.is_empty()
                && conn.alias_max_out == 0
                && d.msg.props.expiry.is_none();
            if plain {
                // Encoded once per message, shared by every subscriber of this version.
                let i = usize::from(v.is_v5());
                let bytes = d.msg.wire[i].get_or_init(|| {
                    let mut b = Vec::with_capacity(d.msg.topic.len() + d.msg.payload.len() + 8);
                    let _ = mqtt::encode(&Packet::Publish(publish_of(&d.msg, v)), v, &mut b);
                    Bytes::from(b)
                });
                if bytes.len() > conn.max_packet_out {
                    tracing::info!(topic = %d.msg.topic, bytes = bytes.len(), max = conn.max_packet_out, "message larger than the client's Maximum Packet Size; not sent (MQTT 5.0 §3.1.2.11.4)");
                    return;
                }
                wbuf.extend_from_slice(bytes);
                return;
            }
            let mut p = publish_of(&d.msg, v);
            p.qos = d.qos;
            p.packet_id = d.pid;
            p.dup = d.dup;
            p.retain = d.retain;
            // A topic alias this PUBLISH introduces; remembered only once the PUBLISH is really sent.
            let mut new_alias = None;
            if v.is_v5() {
                p.properties.subscription_identifiers = d.sub_ids.clone();
                p.properties.message_expiry_interval = d.msg.expiry_left(now);
                if conn.alias_max_out > 0 {
                    // Topic aliases towards the client (5.0 §3.3.2.3.4): the first PUBLISH on a topic
                    // carries topic and alias, later ones only the alias.
                    if let Some(&a) = conn.aliases_out.get(&d.msg.topic) {
                        p.properties.topic_alias = Some(a);
                        p.topic.clear();
                    } else if conn.aliases_out.len() < conn.alias_max_out as usize {
                        let a = conn.aliases_out.len() as u16 + 1;
                        p.properties.topic_alias = Some(a);
                        new_alias = Some(a);
                    }
                }
            }
            let packet = Packet::Publish(p);
            if packet.encoded_len(v) > conn.max_packet_out {
                // Not sent, so the client never learns an alias it would carry: a later alias-only
                // PUBLISH on that topic would name an alias the client does not know (5.0 §3.3.2.3.4).
                tracing::info!(topic = %d.msg.topic, max = conn.max_packet_out, "message larger than the client's Maximum Packet Size; not sent (MQTT 5.0 §3.1.2.11.4)");
                if d.qos != QoS::AtMostOnce {
                    conn.skipped.push((d.pid, d.qos));
                }
                return;
            }
            if let Some(a) = new_alias {
                conn.aliases_out.insert(d.msg.topic.clone(), a);
            }
            packet
        }
        Out::PubAck { pid, reason } => Packet::PubAck(ack(pid, reason)),
        Out::PubRec { pid, reason } => Packet::PubRec(ack(pid, reason)),
        Out::PubRel { pid, reason } => Packet::PubRel(ack(pid, reason)),
        Out::PubComp { pid, reason } => Packet::PubComp(ack(pid, reason)),
        Out::SubAck { pid, codes } => Packet::SubAck(SubAck {
            packet_id: pid,
            codes: codes.into_iter().map(ReasonCode::from_byte).collect(),
            properties: Properties::default(),
        }),
        Out::UnsubAck { pid, codes } => Packet::UnsubAck(UnsubAck {
            packet_id: pid,
            codes: codes.into_iter().map(ReasonCode::from_byte).collect(),
            properties: Properties::default(),
        }),
        Out::PingResp => Packet::PingResp,
        Out::Disconnect { .. } => return,
    };
    if let Err(e) = mqtt::encode(&packet, v, wbuf) {
        tracing::error!("cannot encode {}: {e}", packet.packet_type());
    }
}

fn publish_of(m: &Message, v: Version) -> Publish {
    let mut p = Publish::new(&*m.topic, m.payload.clone());
    if v.is_v5() {
        let pr = &mut p.properties;
        pr.payload_format_indicator = m.props.payload_format;
        pr.content_type = m.props.content_type.clone();
        pr.response_topic = m.props.response_topic.clone();
        pr.correlation_data = m.props.correlation_data.clone();
        pr.user_properties = m.props.user.clone();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connected client costs one task whose size is this future's: keep it small (memory per
    /// idle connection is one of the broker's goals; see bench/mqtt.sh).
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let hub = Arc::new(Hub {
            inner: Mutex::new(Inner {
                broker: Broker::new(state::Config::default(), Auth::default(), Instant::now()),
                slots: Vec::new(),
                wakes: Vec::new(),
            }),
            next_conn: AtomicU64::new(1),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            opts: BrokerOptions::default(),
        });
        let f = connection(hub, c, Signal::never());
        let size = std::mem::size_of_val(&f);
        assert!(size <= 1600, "the connection future grew to {size} bytes");
    }
}
