//! The broker on the network: one tokio task per connection around the sans-I/O [`Broker`].
//!
//! ```text
//!   socket ──read──► mqtt::Decoder ──► Broker (one lock per batch of packets) ──► outboxes
//!                                                                   │ wake (the task's Waker)
//!   socket ◄─write── ConnRules::encode ◄── take_outbox ◄────────────┘   (in each client's own task)
//! ```
//!
//! What to notice:
//! - Bytes become packets only through `wire::mqtt::Decoder` (the same decoder the clients and the
//!   analyzer use), and packets become bytes through the connection's [`ConnRules`] (topic aliases,
//!   the client's Maximum Packet Size): every protocol rule is in [`super::state`], this file only
//!   reads, decodes, applies and writes.
//! - Each connection's task reads *and* writes its own socket. A PUBLISH is routed in the publisher's
//!   task: the copies land in the subscribers' outboxes and their tasks are woken; each writes
//!   everything waiting in one `write` call (batching). A subscriber that stops reading only fills its
//!   own bounded outbox (see the queue policy in [`super::state`]); nobody else waits for it.
//! - The lock around the broker is taken once per batch of packets read, never across an `.await`.
//!   The benchmark pins the broker to one core, where the lock is never contended; on more cores the
//!   routing work is still short (a tree walk and a few queue pushes) compared with the socket calls.
//! - A QoS 0 message going to many subscribers is encoded once ([`state::Message::wire`]).
//! - Keep-alive: a client silent for 1.5 times its keep-alive is disconnected (3.1.1 §3.1.2.10);
//!   the once-a-second tick of the state checks every client, so an idle client has no timer.
//! - An idle client costs little (one of the broker's goals, measured by bench/mqtt.sh against
//!   Mosquitto): its task holds the socket, a small [`Conn`] and nothing else; buffers and queues
//!   ([`Work`]) exist only while there is something to read or write, and the task sleeps without a
//!   `select!` of futures (see [`wait`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Sleep;
use wire::mqtt::{
    self, ConnAck, Decoder, Disconnect, Packet, Properties, ReasonCode, RetainHandling, Version,
};
use wire::ws::{self, HandshakeError};

use super::auth::Auth;
use super::link::Link;
use super::parking::{self, NotParked, Parking};
use super::state::{
    self, Broker, ConnRules, ConnectOutcome, ConnectReq, Ending, MsgProps, Out, PublishIn, QoS, SubOpts,
    SubReq, Violation,
};
use crate::accept_loop::{self, Limits};
use crate::shutdown::Signal;
use crate::tls;
use tracing::Instrument;

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
pub(super) struct Hub {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Set (under the lock) when the broker starts shutting down; every connection is then woken.
    shutting_down: AtomicBool,
    /// Idle clients without a task (see [`super::parking`]).
    parking: Arc<Parking>,
    /// Tasks of clients resumed from the parking, which `accept_loop::serve` does not know: the shutdown
    /// waits for them too.
    pub(super) resumed: AtomicUsize,
    pub(super) resumed_done: Notify,
    opts: BrokerOptions,
}

struct Inner {
    broker: Broker,
    /// How to reach the connection of each session (by session index).
    slots: Vec<Option<Slot>>,
    wakes: Vec<usize>,
    parking: Arc<Parking>,
}

/// The connection of a session, as the broker reaches it.
struct Slot {
    conn: u64,
    wake: Wake,
    /// Park the connection if it is idle (set after CONNACK, and by the tick for a connection that
    /// did nothing for a whole second; taken by the connection's next step).
    park: bool,
    /// The connection's task ran since the last tick (a busy client is not asked to park).
    busy: bool,
}

/// How to wake a connection: its task, or (parked) the key that gives it a task again.
enum Wake {
    Task(Waker),
    Parked(usize),
}

impl Inner {
    /// Wake the connection of session `sid`, if it has one.
    fn wake(&self, sid: usize) {
        if let Some(Some(slot)) = self.slots.get(sid) {
            match &slot.wake {
                Wake::Task(waker) => waker.wake_by_ref(),
                Wake::Parked(key) => self.parking.unpark(*key, slot.conn),
            }
        }
    }

    /// Wake the tasks of every session whose outbox got something.
    fn flush_wakes(&mut self) {
        self.broker.take_wakes(&mut self.wakes);
        let wakes = std::mem::take(&mut self.wakes);
        for &sid in &wakes {
            self.wake(sid);
        }
        self.wakes = wakes;
        self.wakes.clear();
    }
}

impl Hub {
    fn new(opts: BrokerOptions, parking: Arc<Parking>) -> Hub {
        Hub {
            inner: Mutex::new(Inner {
                broker: Broker::new(opts.state.clone(), opts.auth.clone(), Instant::now()),
                slots: Vec::new(),
                wakes: Vec::new(),
                parking: parking.clone(),
            }),
            next_conn: AtomicU64::new(1),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            parking,
            resumed: AtomicUsize::new(0),
            resumed_done: Notify::new(),
            opts,
        }
    }

    /// The client id of `conn`'s session (for a resumed client's log span).
    pub(super) fn client_id(&self, conn: &Conn) -> Option<Arc<str>> {
        self.lock().broker.session(conn.sid).map(|s| s.client_id.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in one connection task must not take the broker down with it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tell every connected client's task that the broker is going away (parked ones get a task).
    fn begin_shutdown(&self) {
        let inner = self.lock();
        self.shutting_down.store(true, Ordering::Release);
        for sid in 0..inner.slots.len() {
            inner.wake(sid);
        }
    }

    /// Wait (at most `grace`) until the tasks of resumed clients have said goodbye.
    async fn resumed_finished(&self, grace: Duration) {
        let _ = tokio::time::timeout(grace, async {
            loop {
                let done = self.resumed_done.notified();
                tokio::pin!(done);
                done.as_mut().enable();
                if self.resumed.load(Ordering::Acquire) == 0 {
                    return;
                }
                done.await;
            }
        })
        .await;
    }
}

/// One of the broker's listening sockets, as a connection sees it (Mosquitto's `listener` block).
#[derive(Clone, Default)]
pub struct Listener {
    /// How the log names it: `0.0.0.0:8883 (TLS)`.
    pub name: String,
    /// TLS: the handshake comes before CONNECT (`certfile`, `keyfile`, ...).
    pub tls: Option<crate::tls::TlsAcceptor>,
    /// MQTT over WebSockets (`protocol websockets`): an HTTP upgrade (RFC 6455 §4) comes before
    /// CONNECT (after the TLS handshake, if `tls` is set too: `wss://`).
    pub websockets: bool,
    /// The username is the client certificate's subject CN (`use_identity_as_username`).
    pub identity_as_username: bool,
    /// This listener's connection limit (`max_connections`).
    pub limits: Limits,
    /// This listener's own passwords, ACL and anonymity (`per_listener_settings true`); `None`: the
    /// broker's ([`BrokerOptions::auth`]).
    pub auth: Option<Arc<Auth>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.name)
            .field("tls", &self.tls.is_some())
            .field("websockets", &self.websockets)
            .field("identity_as_username", &self.identity_as_username)
            .field("own_auth", &self.auth.is_some())
            .finish()
    }
}

/// Run the broker on one plain listener until `shutdown` fires.
pub async fn run(listener: TcpListener, opts: BrokerOptions, shutdown: Signal) -> io::Result<()> {
    let ctx = Listener {
        name: listener.local_addr()?.to_string(),
        tls: None,
        websockets: false,
        identity_as_username: false,
        limits: opts.limits.clone(),
        auth: None,
    };
    run_listeners(vec![(listener, ctx)], opts, shutdown).await
}

/// Run the broker on every listener until `shutdown` fires: one broker state, any number of ports
/// (say 1883 in plain text for the lab's machines and 8883 with TLS for the campus network).
pub async fn run_listeners(
    listeners: Vec<(TcpListener, Listener)>,
    opts: BrokerOptions,
    shutdown: Signal,
) -> io::Result<()> {
    let (parking, poll) = Parking::new()?;
    let parking = Arc::new(parking);
    let hub = Arc::new(Hub::new(opts.clone(), parking.clone()));
    parking.set_hub(&hub);
    let p = parking.clone();
    std::thread::Builder::new()
        .name("mqtt-parking".into())
        .spawn(move || parking::watch(p, poll))?;
    let ticker = tokio::spawn(tick(hub.clone(), shutdown.clone()));
    let mut serving = tokio::task::JoinSet::new();
    for (listener, ctx) in listeners {
        if ctx.websockets {
            let scheme = if ctx.tls.is_some() { "wss" } else { "ws" };
            tracing::info!(
                "MQTT over WebSockets on {scheme}://{}/mqtt (any path; subprotocol mqtt or mqttv3.1)",
                listener.local_addr()?
            );
        }
        let h = hub.clone();
        let ctx = Arc::new(ctx);
        let limits = ctx.limits.clone();
        let serve = accept_loop::serve(listener, limits, shutdown.clone(), move |stream, _peer, sd| {
            let hub = h.clone();
            // Boxed: the handshake's buffers and timers are needed for a moment, the connection's
            // own state for as long as the client stays (see `a_connection_task_stays_small`).
            let handshake = Box::pin(handshake(hub.clone(), stream, ctx.clone(), sd));
            connection(hub, handshake)
        });
        serving.spawn(serve.in_current_span());
    }
    let mut result = Ok(());
    while let Some(done) = serving.join_next().await {
        if let Ok(Err(e)) = done {
            result = Err(e);
        }
    }
    // Parked clients are no tasks of `serve`: wake them all (if the tick has not yet) and wait for
    // their goodbyes.
    hub.begin_shutdown();
    hub.resumed_finished(opts.limits.grace).await;
    ticker.abort();
    parking.stop();
    result
}

/// Once a second: keep-alives, wills whose delay is over, expired sessions; every `sys_interval`:
/// `$SYS`. At shutdown: wake every connection so it says goodbye.
async fn tick(hub: Arc<Hub>, mut shutdown: Signal) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let mut last_sys: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.recv() => {
                hub.begin_shutdown();
                return;
            }
            _ = every.tick() => {}
        }
        let now = Instant::now();
        let mut inner = hub.lock();
        inner.broker.tick(now);
        // A client whose task did nothing since the last tick is asked to park (see
        // `super::parking`); a busy one keeps its task.
        for slot in inner.slots.iter_mut().flatten() {
            if let Wake::Task(waker) = &slot.wake {
                if std::mem::take(&mut slot.busy) {
                    continue;
                }
                slot.park = true;
                waker.wake_by_ref();
            }
        }
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
        Close::new(v.reason, v.why)
    }
}

/// One client connection after CONNECT. Kept small: every connected client has one (32 bytes).
pub(super) struct Conn {
    pub(super) id: u64,
    sid: usize,
    /// The protocol's rules of this network connection (version, topic aliases, the client's
    /// Maximum Packet Size): what few connections need is boxed inside, allocated when first needed.
    rules: ConnRules,
}

const READ_CHUNK: usize = 16 * 1024;
/// Stop taking from the outbox while this many bytes wait to be written (the socket is full).
const WRITE_HIGH: usize = 64 * 1024;

/// A connection's working state between two wake-ups: buffers, queues, back-pressure. Boxed, and
/// dropped whenever the connection is idle again (all written, nothing half read, not paused), so
/// an idle client's task holds a null pointer instead of all this (memory per idle client).
#[derive(Default)]
pub(super) struct Work {
    /// Bytes read and not yet decoded.
    rbuf: BytesMut,
    /// Bytes to write; `wbuf[..wpos]` is already written.
    wbuf: Vec<u8>,
    wpos: usize,
    /// What the broker queued for us, being encoded.
    outq: VecDeque<Out>,
    /// Packets decoded and not yet applied (this publisher is paused by back-pressure).
    packets: VecDeque<Packet>,
    /// A decode error found behind `packets`: reported once they are applied.
    decode_err: Option<Close>,
    /// A protocol error found while reading: what was queued before it is written, then we close.
    pending_rx: Option<Close>,
    /// Back-pressure: the subscribers whose queues this publisher filled, and since when it waits.
    congested: Vec<usize>,
    paused_since: Option<Instant>,
    /// While paused: wakes the task every 100 ms to look at those queues again.
    pause_clock: Option<Pin<Box<Sleep>>>,
    /// `packets` hold a PUBLISH decoded before the task yielded: apply them first when it comes back.
    yielded: bool,
}

impl Work {
    fn is_idle(&self) -> bool {
        self.rbuf.is_empty()
            && self.wpos == self.wbuf.len()
            && self.outq.is_empty()
            && self.packets.is_empty()
            && self.decode_err.is_none()
            && self.pending_rx.is_none()
            && self.paused_since.is_none()
    }

    /// Read the socket only when everything read so far has been applied.
    fn may_read(&self) -> bool {
        self.paused_since.is_none() && self.packets.is_empty() && self.decode_err.is_none()
    }
}

/// What the handshake leaves for the rest of the connection.
pub(super) struct Ready {
    pub(super) stream: Link,
    pub(super) conn: Conn,
    /// The CONNACK to write, and whatever the client sent after its CONNECT.
    pub(super) work: Box<Work>,
}

/// One client connection: the CONNECT handshake, the session, the goodbye. The handshake and the
/// goodbye run boxed, so the task's own future holds only what an idle client needs: the socket,
/// [`Conn`], a pointer to [`Work`] and the task's waker (see `a_connection_task_stays_small`).
///
/// The session phase: each time the task is woken (the socket is readable or writable, the broker
/// queued something, the broker is shutting down, a paused publisher's clock), one [`step`] does all
/// that can be done without waiting, then the task sleeps again ([`wait`]).
///
/// A plain `fn` returning an `async` block, and one loop rather than an `async fn` per phase: an
/// `async fn` keeps its arguments twice in the future (once as passed, once as its locals).
#[allow(clippy::manual_async_fn)] // on purpose, see above
pub(super) fn connection<H>(hub: Arc<Hub>, handshake: Pin<Box<H>>) -> impl Future<Output = ()>
where
    H: Future<Output = Option<Ready>>,
{
    async move {
        let Some(Ready {
            mut stream,
            mut conn,
            work,
        }) = handshake.await
        else {
            return;
        };
        let mut work = Some(work);
        // The broker wakes us with it (a resumed task tells it so in its first step).
        let mut waker = Some(std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await);
        let close = loop {
            let w = work.get_or_insert_with(Box::default);
            let park = match step(&hub, &mut conn, &mut stream, w, waker.take()) {
                Step::Wait { park } => park,
                Step::Yield => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Step::Close(c) => break c,
                Step::FlushAndClose(c) => {
                    // Boxed: the write's timer is needed only by a closing connection.
                    let _ = Box::pin(flush(&mut stream, &w.wbuf[w.wpos..], &hub)).await;
                    break c;
                }
            };
            if w.is_idle() {
                work = None; // an idle client keeps no buffers
                if park {
                    // Idle and told to park: the task ends here, the client waits in the parking.
                    match try_park(&hub, stream, conn) {
                        None => return,
                        Some((s, c)) => (stream, conn) = (s, c),
                    }
                }
            }
            waker = match wait(&stream, work.as_deref_mut()).await {
                Ok(waker) => Some(waker),
                Err(e) => break Close::new(ReasonCode::UnspecifiedError, format!("socket error: {e}")),
            };
        };
        drop(work);
        Box::pin(goodbye(&hub, &conn, &mut stream, close)).await;
    }
}

/// The first phase of a connection, with the socket and the shutdown signal it needs.
async fn handshake(
    hub: Arc<Hub>,
    stream: TcpStream,
    listener: Arc<Listener>,
    mut shutdown: Signal,
) -> Option<Ready> {
    let (mut stream, identity) = match &listener.tls {
        None => (Link::Plain(stream), None),
        Some(acceptor) => {
            let accepted = tokio::select! {
                _ = shutdown.recv() => return None,
                r = tokio::time::timeout(hub.opts.connect_timeout, acceptor.accept(stream)) => r,
            };
            let tls = match accepted {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    // A plain-MQTT client on this port gets no CONNACK: its CONNECT is not a TLS
                    // ClientHello (as with Mosquitto).
                    tracing::info!(listener = %listener.name, "TLS handshake failed: {}", tls::explain(&e));
                    return None;
                }
                Err(_) => {
                    tracing::info!(listener = %listener.name, "no TLS handshake within {:?}; closing", hub.opts.connect_timeout);
                    return None;
                }
            };
            let (tcp, session) = tls.into_inner();
            tracing::debug!(
                listener = %listener.name,
                version = ?session.protocol_version(),
                cipher = ?session.negotiated_cipher_suite().map(|c| c.suite()),
                server_name = session.server_name().unwrap_or("-"),
                "TLS handshake done"
            );
            let identity = session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| tls::subject_common_name(cert));
            (Link::tls(tcp, session), identity)
        }
    };
    if listener.websockets {
        stream = ws_handshake(&hub, stream, &listener, &mut shutdown).await?;
    }
    let identity = identity.filter(|_| listener.identity_as_username);
    let (conn, work) = connect_and_ack(&hub, &mut stream, &listener, identity, &mut shutdown).await?;
    Some(Ready { stream, conn, work })
}

/// The WebSocket subprotocols of MQTT (MQTT 5.0 §6): `mqtt` (3.1.1 and 5.0) and `mqttv3.1` (what
/// MQTT 3.1 clients offered). Mosquitto accepts both, and a client that offers none.
const WS_PROTOCOLS: &[&str] = &["mqtt", "mqttv3.1"];

/// The WebSocket opening handshake (RFC 6455 §4.2) on `link`: read the HTTP upgrade request, answer
/// 101 and wrap the link in frames, or answer 400/426 and close. Any path is accepted (`/mqtt` is
/// what paho and browsers' MQTT.js use by default), as Mosquitto's libwebsockets listener does.
async fn ws_handshake(hub: &Hub, mut link: Link, listener: &Listener, shutdown: &mut Signal) -> Option<Link> {
    let mut buf = BytesMut::with_capacity(1024);
    let read = async {
        loop {
            match ws::decode_upgrade(&buf) {
                Err(HandshakeError::Incomplete) => {}
                done => return Ok(done),
            }
            buf.reserve(1024);
            if link.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
        }
    };
    let got = tokio::select! {
        _ = shutdown.recv() => return None,
        r = tokio::time::timeout(hub.opts.connect_timeout, read) => r,
    };
    let decoded = match got {
        Err(_) => {
            tracing::info!(listener = %listener.name, "no WebSocket handshake within {:?}; closing", hub.opts.connect_timeout);
            return None;
        }
        Ok(Err(e)) => {
            tracing::debug!(listener = %listener.name, "closed during the WebSocket handshake: {e}");
            return None;
        }
        Ok(Ok(d)) => d,
    };
    let chosen = decoded.and_then(|(req, used)| match req.choose_protocol(WS_PROTOCOLS) {
        Ok(p) => Ok((req, used, p)),
        Err(r) => Err(HandshakeError::Refused(r)),
    });
    match chosen {
        Ok((req, used, protocol)) => {
            if link.write_all(&req.accept(protocol)).await.is_err() {
                return None;
            }
            tracing::debug!(
                listener = %listener.name,
                path = %req.path,
                protocol = protocol.unwrap_or("-"),
                origin = req.origin.as_deref().unwrap_or("-"),
                "WebSocket handshake done"
            );
            // A frame holds at most the largest packet the broker takes, and room for some more.
            let max_frame = hub.opts.state.max_packet_size as u64 + 64 * 1024;
            Some(Link::ws(link, &buf[used..], max_frame))
        }
        Err(HandshakeError::Refused(r)) => {
            let hint = if buf.first() == Some(&0x10) {
                " (that was an MQTT CONNECT: this port takes MQTT over WebSockets only)"
            } else {
                ""
            };
            tracing::info!(listener = %listener.name, "WebSocket handshake refused with {}: {}{hint}", r.status, r.why);
            let _ = tokio::time::timeout(Duration::from_secs(1), link.write_all(&r.response())).await;
            let _ = link.shutdown().await;
            None
        }
        Err(HandshakeError::Incomplete) => None, // not returned by the loop above
    }
}

/// Read CONNECT, let the broker decide, queue CONNACK. `None`: the connection is over.
async fn connect_and_ack(
    hub: &Hub,
    stream: &mut Link,
    listener: &Listener,
    identity: Option<String>,
    shutdown: &mut Signal,
) -> Option<(Conn, Box<Work>)> {
    let id = hub.next_conn.fetch_add(1, Ordering::Relaxed);
    let mut rbuf = BytesMut::with_capacity(256);
    let max_in = hub.opts.state.max_packet_size as usize;

    // 1. The first packet must be CONNECT (3.1.1 §3.1: otherwise the server closes the connection).
    // A new connection's stream: read in 3.1.1 until its CONNECT says which version it speaks.
    let mut decoder = Decoder::new().with_limit(max_in);
    let first = tokio::select! {
        _ = shutdown.recv() => return None,
        r = tokio::time::timeout(hub.opts.connect_timeout, read_packet(stream, &mut rbuf, &mut decoder, hub)) => r,
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
    let early = early.or_else(|| {
        (listener.identity_as_username && identity.is_none()).then(|| {
            (
                ReasonCode::NotAuthorized,
                "this listener takes the username from the client's certificate (use_identity_as_username), and the client sent none"
                    .to_string(),
            )
        })
    });
    if let Some((reason, why)) = early {
        tracing::warn!(client = %connect.client_id, "CONNECT refused: {why}");
        let ack = refuse(reason, &why);
        if mqtt::encode(&Packet::ConnAck(ack), version, &mut wbuf).is_ok() {
            let _ = write_all(stream, &wbuf, hub).await;
        }
        return None;
    }
    // The username and password, checked before the broker sees the CONNECT. A `$7$` hash costs
    // PBKDF2 rounds (mosquitto_passwd's default 101: about 0.1 ms; `-I 100000`: about 100 ms); run here
    // on the broker's thread (one by default) it would stall every other client for as long as a
    // flood of CONNECTs lasts. `authenticate` runs it on tokio's blocking threads and this task waits
    // for the verdict as for any I/O. A client whose certificate names it (`use_identity_as_username`)
    // is not checked against the password file; the ACL still applies (Mosquitto's
    // src/handle_connect.c: "Authentication assumed to be cleared").
    let verdict = if identity.is_some() {
        Ok(())
    } else {
        tokio::select! {
            _ = shutdown.recv() => return None,
            v = listener.auth.as_deref().unwrap_or(&hub.opts.auth).authenticate(connect.username.clone(), connect.password.clone()) => v,
        }
    };
    if let Err(why) = verdict {
        tracing::warn!(client = %connect.client_id, "CONNECT refused: {why}");
        // Mosquitto 2.0 answers every failed login alike: 3.1.1 return code 5 "not authorised", 5.0
        // 0x87 Not authorized, no reason string (src/handle_connect.c, case MOSQ_ERR_AUTH): a client
        // cannot tell an unknown user from a wrong password. The log above says which it was.
        let ack = ConnAck {
            code: ReasonCode::NotAuthorized,
            ..ConnAck::default()
        };
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
        // A certified client is its certificate's CN (`use_identity_as_username`), checked above.
        username: identity.clone().or_else(|| connect.username.clone()),
        auth: listener.auth.clone(),
    };
    // The broker wakes this task with its waker when the outbox gets something.
    let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
    let now = Instant::now();
    let outcome = {
        let mut inner = hub.lock();
        let outcome = inner.broker.connect(id, req, now);
        if let ConnectOutcome::Accepted { sid, .. } = &outcome {
            let sid = *sid;
            if inner.slots.len() <= sid {
                inner.slots.resize_with(sid + 1, || None);
            }
            // A taken-over connection is woken so it notices and closes.
            let new = Slot {
                conn: id,
                wake: Wake::Task(waker),
                park: true, // right after CONNACK, if nothing else is going on
                busy: false,
            };
            if let Some(old) = inner.slots[sid].replace(new) {
                match old.wake {
                    Wake::Task(waker) => waker.wake(),
                    Wake::Parked(key) => inner.parking.unpark(key, old.conn),
                }
            }
            inner.flush_wakes();
        }
        outcome
    };
    let sid = match outcome {
        ConnectOutcome::Refused { reason, why } => {
            tracing::warn!(client = %connect.client_id, "CONNECT refused: {why}");
            let ack = refuse(reason, &why);
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
            keep_alive: _, // the state closes silent clients (`Broker::tick`)
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
            // `serve` runs us inside `conn{peer=...}`; from now on it names the client too.
            tracing::Span::current().record("client", &*client);
            sid
        }
    };
    let conn = Conn {
        id,
        sid,
        rules: ConnRules::new(version, props),
    };
    drop(connect);
    let work = Box::new(Work {
        rbuf,
        wbuf,
        ..Work::default()
    });
    Some((conn, work))
}

/// Park an idle connection (see [`super::parking`]): `None` if it is parked (or lost), the socket
/// and [`Conn`] back if it has something to do after all.
fn try_park(hub: &Hub, stream: Link, conn: Conn) -> Option<(Link, Conn)> {
    let (sid, id) = (conn.sid, conn.id);
    // A TLS session or a WebSocket's framing state lives in user space, beside the socket: it stays
    // with its task (see link.rs).
    let stream = match stream {
        Link::Plain(s) => s,
        tls => return Some((tls, conn)),
    };
    // Under the broker's lock, so nothing can be queued for the client between the check and the
    // slot pointing at the parking.
    let mut inner = hub.lock();
    if hub.shutting_down.load(Ordering::Acquire) || !inner.broker.is_idle(sid, id) {
        return Some((Link::Plain(stream), conn));
    }
    inner.broker.trim(sid);
    match hub.parking.park(stream, conn) {
        Ok(key) => {
            if let Some(Some(slot)) = inner.slots.get_mut(sid) {
                if slot.conn == id {
                    slot.wake = Wake::Parked(key);
                }
            }
            None
        }
        Err(NotParked::Kept(stream, conn)) => Some((Link::Plain(stream), conn)),
        Err(NotParked::Lost(conn, e)) => {
            drop(inner);
            lost(hub, &conn, format!("socket lost while parking: {e}"));
            None
        }
    }
}

/// The socket of `conn` is gone without a goodbye: tell the broker state.
pub(super) fn lost(hub: &Hub, conn: &Conn, why: String) {
    let mut inner = hub.lock();
    inner
        .broker
        .connection_lost(conn.sid, conn.id, Ending::Abnormal(why), Instant::now());
    if inner
        .slots
        .get(conn.sid)
        .and_then(|s| s.as_ref())
        .is_some_and(|slot| slot.conn == conn.id)
    {
        inner.slots[conn.sid] = None;
    }
    inner.flush_wakes();
}

/// The connection ends: tell the broker state, and a 5.0 client why.
async fn goodbye(hub: &Hub, conn: &Conn, stream: &mut Link, close: Close) {
    let (sid, id, version) = (conn.sid, conn.id, conn.rules.version());
    let now = Instant::now();
    let mut goodbye = Vec::new();
    let client = {
        let mut inner = hub.lock();
        let client = inner.broker.session(sid).map(|s| s.client_id.clone());
        if !close.by_client {
            let ending = Ending::Abnormal(close.why.clone());
            inner.broker.connection_lost(sid, id, ending, now);
        }
        if inner
            .slots
            .get(sid)
            .and_then(|s| s.as_ref())
            .is_some_and(|slot| slot.conn == id)
        {
            inner.slots[sid] = None;
        }
        inner.flush_wakes();
        client
    };
    if !close.by_client && version.is_v5() {
        let mut d = Disconnect::new(close.reason);
        if conn.rules.problem_info() {
            d.properties.reason_string = Some(close.why.clone());
        }
        let _ = mqtt::encode(&Packet::Disconnect(d), version, &mut goodbye);
        let _ = tokio::time::timeout(Duration::from_secs(1), write_all(stream, &goodbye, hub)).await;
    }
    // A WebSocket ends with a close frame (RFC 6455 §5.5.1, §7.1.2); not sent twice if the client
    // closed first (its close was answered in link.rs).
    if stream.is_ws() {
        let (code, text) = match close.reason {
            ReasonCode::ServerShuttingDown => (ws::close::GOING_AWAY, "the broker is shutting down"),
            _ => (ws::close::NORMAL, ""),
        };
        stream.close_ws(code, text).await;
    }
    if !close.by_client && version.is_v5() && !matches!(close.reason, ReasonCode::ServerShuttingDown) {
        linger(stream).await;
    }
    let routine = matches!(
        close.reason,
        ReasonCode::ServerShuttingDown | ReasonCode::SessionTakenOver
    );
    if !close.by_client && close.reason.byte() >= 0x80 && !routine {
        let client = client.as_deref().unwrap_or("?");
        tracing::warn!(client, reason = %close.reason, "disconnecting the client: {}", close.why);
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
async fn linger(stream: &mut Link) {
    let _ = stream.shutdown().await;
    let mut sink = BytesMut::new();
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read_buf(&mut sink).await, Ok(n) if n > 0) {
            sink.clear();
        }
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
    stream: &mut Link,
    rbuf: &mut BytesMut,
    decoder: &mut Decoder,
    hub: &Hub,
) -> Result<Packet, ReadErr> {
    loop {
        match decoder.decode(rbuf) {
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

async fn write_all(stream: &mut Link, buf: &[u8], hub: &Hub) -> io::Result<()> {
    stream.write_all(buf).await?;
    hub.bytes_out.fetch_add(buf.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// Sleep until something may have happened. Interest in the socket is registered (readable unless
/// this publisher is paused, writable while bytes wait), and the broker knows the task's waker
/// (`Inner::slots`), so any later poll of this future means the task was woken: it returns that
/// waker, and the next [`step`] looks at everything (a look that finds nothing costs no system call).
/// What to notice: `poll_read_ready` counts against tokio's cooperative budget, so a client that keeps
/// sending cannot keep the thread to itself. (A plain `fn` returning the `poll_fn`, not an `async fn`:
/// that would store its arguments twice in the task.)
fn wait<'a>(
    stream: &'a Link,
    mut work: Option<&'a mut Work>,
) -> impl Future<Output = io::Result<Waker>> + 'a {
    let mut registered = false;
    std::future::poll_fn(move |cx| {
        if registered {
            return Poll::Ready(Ok(cx.waker().clone()));
        }
        registered = true;
        let mut ready = false;
        let (read, write) = work
            .as_deref()
            .map_or((true, false), |w| (w.may_read(), w.wpos < w.wbuf.len()));
        // TLS: ciphertext may wait for the socket after all plaintext was taken (link.rs).
        let write = write || stream.wants_write();
        if read {
            ready |= stream.poll_read_ready(cx)?.is_ready();
        }
        if write {
            ready |= stream.poll_write_ready(cx)?.is_ready();
        }
        if let Some(clock) = work.as_deref_mut().and_then(|w| w.pause_clock.as_mut()) {
            ready |= clock.as_mut().poll(cx).is_ready();
        }
        if ready {
            Poll::Ready(Ok(cx.waker().clone()))
        } else {
            Poll::Pending
        }
    })
}

/// What a [`step`] ended with.
enum Step {
    /// Nothing more to do until the task is woken; `park`: the broker asked it to park if idle.
    Wait {
        park: bool,
    },
    Close(Close),
    /// Write what is queued, then close.
    FlushAndClose(Close),
    /// Let the other ready tasks run, then step again (before routing a PUBLISH; see [`step`]).
    Yield,
}

/// Everything the connection can do now without waiting: read and apply what the client sent, move
/// what the broker queued for us into the write buffer, write as much as the socket takes.
fn step(hub: &Hub, conn: &mut Conn, stream: &mut Link, w: &mut Work, waker: Option<Waker>) -> Step {
    if hub.shutting_down.load(Ordering::Acquire) {
        return Step::Close(Close::new(
            ReasonCode::ServerShuttingDown,
            "the broker is shutting down",
        ));
    }
    // Whatever woke us, look at the outbox and (if paused) at the congested queues.
    let mut want_fill = true;
    let mut recheck = true;
    let mut read_done = false;
    let mut park = false;
    let max_in = hub.opts.state.max_packet_size as usize;
    loop {
        // Move what the broker queued for us into the write buffer, unless the socket is backed up.
        if want_fill {
            want_fill = false;
            let room = w.wbuf.len() - w.wpos < WRITE_HIGH;
            let (owner, closing) = {
                let mut inner = hub.lock();
                if let Some(Some(slot)) = inner.slots.get_mut(conn.sid) {
                    if slot.conn == conn.id {
                        park |= std::mem::take(&mut slot.park);
                        slot.busy = true;
                        // The broker wakes us with the waker of our last poll (for a tokio task,
                        // always the same, except after a resume from the parking).
                        if let Some(waker) = &waker {
                            match &slot.wake {
                                Wake::Task(old) if old.will_wake(waker) => {}
                                _ => slot.wake = Wake::Task(waker.clone()),
                            }
                        }
                    }
                }
                // Deliveries too large for the client count as sent (5.0 §3.1.2.11.4).
                inner
                    .broker
                    .ack_skipped(conn.sid, &mut conn.rules, Instant::now());
                let (owner, closing) = if room {
                    (inner.broker.take_outbox(conn.sid, conn.id, &mut w.outq), None)
                } else {
                    // Only a disconnect asked by the broker goes ahead of what waits to be written.
                    (true, inner.broker.take_disconnect(conn.sid, conn.id))
                };
                // Draining may free publishers held by back-pressure: wake them.
                inner.flush_wakes();
                (owner, closing)
            };
            if !owner {
                return Step::Close(Close::new(
                    ReasonCode::SessionTakenOver,
                    "another connection took over this client id (MQTT 3.1.1 §3.1.4)",
                ));
            }
            if let Some((reason, text)) = closing {
                return Step::FlushAndClose(Close::new(reason, text));
            }
            if w.wpos > 0 && w.wpos == w.wbuf.len() {
                w.wbuf.clear();
                w.wpos = 0;
            }
            let now = Instant::now();
            let mut closing = None;
            while let Some(out) = w.outq.pop_front() {
                if let Out::Disconnect { reason, text } = out {
                    closing = Some(Close::new(reason, text));
                    w.outq.clear();
                    break;
                }
                conn.rules.encode(out, &mut w.wbuf, now);
            }
            if let Some(c) = closing {
                return Step::FlushAndClose(c);
            }
        }
        // TLS: ciphertext left over from the last write goes first (link.rs).
        if stream.wants_write() && w.wpos == w.wbuf.len() {
            match stream.try_flush() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                    return Step::Close(Close::new(
                        ReasonCode::UnspecifiedError,
                        format!("write failed: {e}"),
                    ))
                }
                _ => {}
            }
        }
        // Write as much as the socket takes now: everything queued goes in one system call.
        if w.wpos < w.wbuf.len() {
            match stream.try_write(&w.wbuf[w.wpos..]) {
                Ok(n) => {
                    hub.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                    w.wpos += n;
                    if w.wpos == w.wbuf.len() {
                        w.wbuf.clear();
                        w.wpos = 0;
                        if w.wbuf.capacity() > 4 * WRITE_HIGH {
                            w.wbuf = Vec::new();
                        }
                        if want_fill {
                            continue;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    return Step::Close(Close::new(
                        ReasonCode::UnspecifiedError,
                        format!("write failed: {e}"),
                    ))
                }
            }
        }
        if let Some(c) = w.pending_rx.take() {
            // A protocol error was found while reading: what we queued before it is written, then we
            // close.
            return Step::FlushAndClose(c);
        }
        if recheck && w.paused_since.is_some() {
            recheck = false;
            let mut inner = hub.lock();
            w.congested.retain(|&sid| !inner.broker.has_room(sid));
            if !w.congested.is_empty()
                && w.paused_since
                    .is_some_and(|t| t.elapsed() <= Duration::from_secs(1))
            {
                for &sid in w.congested.iter() {
                    inner.broker.wait_for_room(sid, conn.sid);
                }
                inner.flush_wakes();
                // Back-pressure: this publisher filled a subscriber's queue past half; it waits
                // (without reading its socket) until that queue drains (the subscriber's task wakes
                // us), for at most a second. This clock only counts that second.
                w.pause_clock = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
            } else {
                drop(inner);
                tracing::debug!(left = ?w.congested, "resuming this publisher");
                w.congested.clear();
                w.paused_since = None;
                w.pause_clock = None;
                // Go on with what was read but not applied yet.
                if let Some(c) = apply_backlog(hub, conn, &mut w.packets, &mut w.congested) {
                    if c.by_client {
                        return Step::Close(c);
                    }
                    w.pending_rx = Some(c);
                } else if w.packets.is_empty() {
                    w.pending_rx = w.decode_err.take();
                }
                if !w.congested.is_empty() {
                    w.paused_since = Some(Instant::now());
                    recheck = true;
                }
                want_fill = true;
                continue;
            }
        }
        if std::mem::take(&mut w.yielded) {
            // Back from the yield before routing (see below): apply what was decoded then.
            read_done = true;
            match apply_decoded(hub, conn, w) {
                Ok(again) => {
                    want_fill |= again;
                    recheck |= !w.congested.is_empty();
                }
                Err(step) => return step,
            }
            continue;
        }
        if read_done || !w.may_read() {
            return Step::Wait { park };
        }
        // Read once per wake-up (tokio's budget, in `wait`, decides when others get their turn).
        read_done = true;
        w.rbuf.reserve(READ_CHUNK);
        match stream.try_read_buf(&mut w.rbuf) {
            Ok(0) => {
                let mut inner = hub.lock();
                inner.broker.connection_lost(
                    conn.sid,
                    conn.id,
                    Ending::Abnormal("the client closed the TCP connection without DISCONNECT".into()),
                    Instant::now(),
                );
                inner.flush_wakes();
                return Step::Close(Close {
                    reason: ReasonCode::UnspecifiedError,
                    why: String::new(),
                    by_client: true,
                });
            }
            Ok(n) => {
                hub.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
            // Not readable after all; what the handshake read after CONNECT is still decoded below.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                return Step::Close(Close::new(
                    ReasonCode::UnspecifiedError,
                    format!("connection lost: {e}"),
                ))
            }
        }
        if w.rbuf.is_empty() {
            continue;
        }
        // Decode every whole packet in the buffer (outside the lock) ...
        let mut decoder = Decoder::with_version(conn.rules.version()).with_limit(max_in);
        loop {
            match decoder.decode(&w.rbuf) {
                Ok((p, used)) => {
                    w.rbuf.advance(used);
                    w.packets.push_back(p);
                }
                Err(e) if e.is_incomplete() => break,
                Err(e) => {
                    let reason = e.reason_code().unwrap_or(ReasonCode::MalformedPacket);
                    w.decode_err = Some(Close::new(reason, format!("{e}")));
                    break;
                }
            }
        }
        // Before routing a PUBLISH, let the other connections that are ready run first. The poll that
        // woke us may have woken them too, with packets that reached the broker before ours (another
        // client's SUBSCRIBE this PUBLISH should reach), and tokio runs the task woken last first (its
        // "LIFO slot"), which would route our PUBLISH before their SUBSCRIBE. MQTT orders packets only
        // within a connection (3.1.1 and 5.0 §4.6), but clients (and paho.mqtt.testing's
        // request_response test) count on the arrival order a single-threaded broker such as
        // Mosquitto keeps: subscribe on one connection, publish on another at once, expect the
        // message. Measured with bench/mqtt_race.py: without this yield about a third of such
        // messages were missed on a busy 2-core machine.
        if w.packets.iter().any(|p| matches!(p, Packet::Publish(_))) {
            w.yielded = true;
            return Step::Yield;
        }
        // ... then apply them under one lock.
        match apply_decoded(hub, conn, w) {
            Ok(again) => {
                want_fill |= again;
                recheck |= !w.congested.is_empty();
            }
            Err(step) => return step,
        }
    }
}

/// Apply under one lock the packets [`step`] decoded; `Ok(true)`: a protocol error is pending, so the
/// outbox should be looked at (and written) before closing.
fn apply_decoded(hub: &Hub, conn: &mut Conn, w: &mut Work) -> Result<bool, Step> {
    let mut want_fill = false;
    if let Some(c) = apply_backlog(hub, conn, &mut w.packets, &mut w.congested) {
        if c.by_client {
            return Err(Step::Close(c));
        }
        w.pending_rx = Some(c);
        want_fill = true;
    } else if w.packets.is_empty() {
        if let Some(c) = w.decode_err.take() {
            w.pending_rx = Some(c);
            want_fill = true;
        }
    }
    if !w.congested.is_empty() {
        tracing::debug!(queues = ?w.congested, "a subscriber's queue is half full: pausing this publisher");
        w.paused_since = Some(Instant::now());
    }
    Ok(want_fill)
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
    inner.broker.heard_from(conn.sid, now);
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

async fn flush(stream: &mut Link, buf: &[u8], hub: &Hub) -> io::Result<()> {
    if buf.is_empty() && !stream.wants_write() {
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
            // 5.0 topic aliases (§3.3.2.3.4), resolved by the connection's rules.
            let alias_max = broker.config.topic_alias_maximum;
            let topic = conn
                .rules
                .topic_in(p.topic, p.properties.topic_alias, alias_max)?;
            let props = if conn.rules.version().is_v5() {
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
        Packet::PubRec(a) => broker.pubrec(sid, a.packet_id, a.reason, now),
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
            if let Err(v) =
                broker.disconnect(sid, conn.id, d.reason, d.properties.session_expiry_interval, now)
            {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connected client costs one task whose size is this future's: keep it small (memory per
    /// idle connection is one of the broker's goals; see bench/mqtt.sh). The handshake, the busy
    /// state and the goodbye are boxed, so this is what an idle client's task holds.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (parking, _poll) = Parking::new().unwrap();
        let hub = Arc::new(Hub::new(BrokerOptions::default(), Arc::new(parking)));
        let f = connection(
            hub.clone(),
            Box::pin(handshake(hub, c, Arc::new(Listener::default()), Signal::never())),
        );
        let size = std::mem::size_of_val(&f);
        assert!(size <= 224, "the connection future grew to {size} bytes");
    }
}
