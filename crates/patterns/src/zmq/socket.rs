//! A ZeroMQ socket over tokio, on the `wire::zmtp` codec.
//!
//! ```text
//!               application                          one task per connection (peer.rs)
//!   send(msg) ──► pick peer(s) ──► encode into the   ──► writer: takes the whole outbox at once,
//!                (round robin,      peer's outbox         one write() for many messages
//!                 fan-out, reply)   (bounded: SNDHWM)
//!   recv()    ◄── fair queue over ◄──────────────────── reader: decodes every whole frame in each
//!                 per-peer inboxes (bounded: RCVHWM)      read(), delivers whole messages only
//! ```
//!
//! What to notice:
//! - A socket is not a connection: one socket binds and/or connects to any number of peers, and each
//!   pattern decides which peer a message goes to (RFC 28 REQ/REP, RFC 29 PUB/SUB, RFC 30 PUSH/PULL).
//! - Connecting is in the background and survives the peer: a `connect` to a server that is not up yet
//!   (or that restarts) retries with backoff, as libzmq does; messages wait in the queue meanwhile.
//! - High-water marks bound every queue. At the mark PUB *drops* (a slow subscriber must not stall the
//!   publisher, RFC 29), PUSH and REQ *wait* for room (RFC 30: no message is lost), and a full inbox
//!   stops reading from TCP, which pushes back on the sender through TCP's own flow control.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tracing::Instrument;
use wire::zmtp::{frame, Command, SocketType, DEFAULT_MAX_FRAME};

use super::state::{round_robin, PeerId, RepState, ReplyVerdict, ReqState, StateError, Subscriptions};
use super::{peer, Message};
use crate::net::NetError;
use crate::shutdown::{self, Signal, Trigger};

/// The knobs of a socket, with libzmq's defaults where libzmq has one.
#[derive(Debug, Clone)]
pub struct Options {
    /// Messages queued per peer for sending before PUB drops / PUSH and REQ wait (ZMQ_SNDHWM, 1000).
    pub send_hwm: usize,
    /// Whole messages queued per peer on receipt before we stop reading from it (ZMQ_RCVHWM, 1000).
    pub recv_hwm: usize,
    /// Largest frame accepted from a peer; a larger one drops that peer (ZMQ_MAXMSGSIZE; libzmq has
    /// no limit by default, sister takes 16 MiB so a hostile size cannot exhaust memory).
    pub max_frame: usize,
    /// First wait before reconnecting (ZMQ_RECONNECT_IVL, 100 ms); doubles up to `reconnect_max`.
    pub reconnect: Duration,
    /// Longest wait between reconnection attempts (ZMQ_RECONNECT_IVL_MAX).
    pub reconnect_max: Duration,
    /// Time a peer has to complete the greeting and READY (ZMQ_HANDSHAKE_IVL, 30 s in libzmq).
    pub handshake_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            send_hwm: 1000,
            recv_hwm: 1000,
            max_frame: DEFAULT_MAX_FRAME,
            reconnect: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors of socket calls.
#[derive(Debug, thiserror::Error)]
pub enum ZmqError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("a {0} socket cannot send (it only receives)")]
    CannotSend(SocketType),
    #[error("a {0} socket cannot receive (it only sends)")]
    CannotRecv(SocketType),
    #[error(
        "`{0}` is not an endpoint: use tcp://HOST:PORT or HOST:PORT (tcp://*:PORT binds every interface)"
    )]
    Endpoint(String),
    #[error("{0}")]
    Config(String),
    #[error("a ROUTER message must start with the routing id of a connected peer")]
    NoRoute,
    #[error("the peer that received our request disconnected before replying; send the request again")]
    PeerGone,
    #[error("the socket is closed")]
    Closed,
}

/// Counters a student (or a test) can look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages PUB dropped for a subscriber at its high-water mark.
    pub dropped_hwm: u64,
    /// Messages received and discarded (a REQ reply from the wrong peer, a REP request without envelope).
    pub discarded: u64,
    /// Peers dropped for breaking the protocol (bad greeting, wrong mechanism, oversized frame...).
    pub protocol_errors: u64,
}

/// One connected peer, as the socket side sees it.
pub(super) struct Peer {
    pub id: PeerId,
    pub addr: SocketAddr,
    pub kind: SocketType,
    /// ZMTP minor version both sides speak (0: 3.0 subscriptions as messages; 1: commands).
    pub minor: u8,
    /// The routing id a ROUTER uses for this peer.
    pub routing_id: Bytes,
    pub out: Mutex<Outbox>,
    pub wake_writer: Notify,
}

/// What waits to be written to one peer.
pub(super) struct Outbox {
    /// Encoded frames, written in one go by the peer's writer.
    pub buf: BytesMut,
    /// Messages in `buf` (what the high-water mark counts).
    pub queued: usize,
    /// For a PUB: what this subscriber asked for.
    pub subs: Subscriptions,
    /// The writer is writing a batch it took (so the outbox is not yet flushed).
    pub writing: bool,
    pub closed: bool,
}

impl Peer {
    pub(super) fn lock_out(&self) -> MutexGuard<'_, Outbox> {
        lock(&self.out)
    }

    /// Append a message to the outbox; returns whether the writer must be woken.
    fn enqueue(out: &mut Outbox, frames: &[Bytes]) -> bool {
        let was_empty = out.buf.is_empty();
        let len: usize = frames.iter().map(|f| frame::message_frame_len(f.len())).sum();
        out.buf.reserve(len);
        let last = frames.len().saturating_sub(1);
        for (i, f) in frames.iter().enumerate() {
            frame::encode_message_frame(&mut out.buf, f, i < last);
        }
        out.queued += 1;
        was_empty
    }

    /// Queue a command frame (outside the high-water mark: commands are few and must not be lost).
    pub(super) fn enqueue_command(&self, cmd: &Command<'_>) {
        let mut out = self.lock_out();
        if out.closed {
            return;
        }
        let was_empty = out.buf.is_empty();
        cmd.encode(&mut out.buf);
        drop(out);
        if was_empty {
            self.wake_writer.notify_one();
        }
    }
}

/// The messages received from one peer and not yet taken by the application.
struct InQueue {
    msgs: VecDeque<Message>,
    /// Woken when the application takes from a full queue.
    space: Arc<Notify>,
    gone: bool,
}

#[derive(Default)]
struct Inbox {
    queues: HashMap<PeerId, InQueue>,
    /// Peers with messages waiting, in fair-queue order (RFC 28/30: "fair-queuing").
    ready: VecDeque<PeerId>,
}

/// What every task of a socket shares.
pub(super) struct Shared {
    pub kind: SocketType,
    pub opts: Options,
    peers: Mutex<PeerSet>,
    /// Woken when a peer gets room in its outbox or a new peer arrives (senders waiting at the HWM).
    out_space: Notify,
    inbox: Mutex<Inbox>,
    inbox_ready: Notify,
    /// A SUB socket's own subscriptions (sent to every PUB it meets, and used to filter).
    subs: Mutex<Subscriptions>,
    /// Peers that went away (REQ uses it to stop waiting for a reply that cannot come).
    gone: Mutex<Vec<PeerId>>,
    next_id: AtomicU64,
    pub stop: Signal,
    dropped_hwm: AtomicU64,
    discarded: AtomicU64,
    protocol_errors: AtomicU64,
    pub span: tracing::Span,
}

#[derive(Default)]
struct PeerSet {
    list: Vec<Arc<Peer>>,
    cursor: usize,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks would be a bug in this module; keep serving the rest.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(super) fn note_protocol_error(&self) {
        self.protocol_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Make a new peer known to the socket, after its handshake. A SUB sends it its subscriptions
    /// first, so they travel before anything else.
    pub(super) fn add_peer(
        &self,
        addr: SocketAddr,
        kind: SocketType,
        minor: u8,
        identity: &[u8],
    ) -> Arc<Peer> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let routing_id = if identity.is_empty() {
            // libzmq's generated routing ids: a zero byte then a 32-bit counter.
            let mut r = vec![0u8];
            r.extend_from_slice(&(id as u32).to_be_bytes());
            Bytes::from(r)
        } else {
            Bytes::copy_from_slice(identity)
        };
        let peer = Arc::new(Peer {
            id,
            addr,
            kind,
            minor,
            routing_id,
            out: Mutex::new(Outbox {
                buf: BytesMut::with_capacity(8 * 1024),
                queued: 0,
                subs: Subscriptions::default(),
                writing: false,
                closed: false,
            }),
            wake_writer: Notify::new(),
        });
        if matches!(self.kind, SocketType::Sub | SocketType::Xsub) {
            let subs = lock(&self.subs).clone();
            for prefix in subs.prefixes() {
                send_subscription(&peer, prefix, true);
            }
        }
        lock(&self.inbox).queues.insert(
            id,
            InQueue {
                msgs: VecDeque::new(),
                space: Arc::new(Notify::new()),
                gone: false,
            },
        );
        lock(&self.peers).list.push(peer.clone());
        self.out_space.notify_waiters();
        peer
    }

    /// Forget a peer: its outbox is closed, messages it already delivered stay readable.
    pub(super) fn remove_peer(&self, peer: &Peer) {
        {
            let mut set = lock(&self.peers);
            set.list.retain(|p| p.id != peer.id);
        }
        {
            let mut out = peer.lock_out();
            out.closed = true;
            out.buf.clear();
        }
        {
            let mut inbox = lock(&self.inbox);
            let empty = match inbox.queues.get_mut(&peer.id) {
                Some(q) => {
                    q.gone = true;
                    q.msgs.is_empty()
                }
                None => false,
            };
            if empty {
                inbox.queues.remove(&peer.id);
            }
        }
        if self.kind == SocketType::Req {
            lock(&self.gone).push(peer.id);
        }
        self.inbox_ready.notify_one();
        self.out_space.notify_waiters();
    }

    /// Deliver whole messages from `peer` into its inbox queue; waits while the queue is at RCVHWM
    /// (and then the reader reads nothing more: TCP pushes back on the sender).
    pub(super) async fn deliver(&self, peer: PeerId, batch: &mut VecDeque<Message>) -> Result<(), ()> {
        if matches!(self.kind, SocketType::Sub | SocketType::Xsub) {
            let subs = lock(&self.subs);
            batch.retain(|m| subs.matches(m.first()));
        }
        while !batch.is_empty() {
            let space = {
                let mut inbox = lock(&self.inbox);
                let inbox = &mut *inbox;
                let Some(q) = inbox.queues.get_mut(&peer) else {
                    return Err(());
                };
                let was_empty = q.msgs.is_empty();
                let room = self.opts.recv_hwm.max(1).saturating_sub(q.msgs.len());
                if was_empty && batch.len() <= room {
                    // The common case: hand the whole batch over without moving a message.
                    std::mem::swap(&mut q.msgs, batch);
                } else {
                    let n = room.min(batch.len());
                    q.msgs.extend(batch.drain(..n));
                }
                if was_empty && !q.msgs.is_empty() {
                    inbox.ready.push_back(peer);
                }
                q.space.clone()
            };
            self.inbox_ready.notify_one();
            if batch.is_empty() {
                break;
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = space.notified() => {}
                _ = stop.recv() => return Err(()),
            }
        }
        Ok(())
    }

    /// Take up to `max` messages from the next peer in fair-queue order into `into` (which is empty);
    /// returns that peer. When the whole queue fits, the two queues are swapped: no message moves.
    fn take_batch(&self, into: &mut VecDeque<Message>, max: usize) -> Option<PeerId> {
        let mut inbox = lock(&self.inbox);
        let inbox = &mut *inbox;
        while let Some(id) = inbox.ready.pop_front() {
            let Some(q) = inbox.queues.get_mut(&id) else {
                continue;
            };
            let was_full = q.msgs.len() >= self.opts.recv_hwm.max(1);
            if q.msgs.len() <= max {
                std::mem::swap(&mut q.msgs, into);
            } else {
                into.extend(q.msgs.drain(..max));
            }
            if was_full {
                q.space.notify_one();
            }
            if !q.msgs.is_empty() {
                inbox.ready.push_back(id);
            } else if q.gone {
                inbox.queues.remove(&id);
            }
            if !into.is_empty() {
                return Some(id);
            }
        }
        None
    }

    /// Is every outbox flushed?
    fn all_flushed(&self) -> bool {
        lock(&self.peers).list.iter().all(|p| {
            let o = p.lock_out();
            o.buf.is_empty() && !o.writing
        })
    }

    pub(super) fn notify_space(&self) {
        self.out_space.notify_waiters();
    }
}

/// Send one subscription change to a PUB peer, in the form its ZMTP version understands.
fn send_subscription(peer: &Peer, prefix: &[u8], subscribe: bool) {
    if peer.minor >= 1 {
        let cmd = if subscribe {
            Command::Subscribe(prefix)
        } else {
            Command::Cancel(prefix)
        };
        peer.enqueue_command(&cmd);
    } else {
        // ZMTP 3.0: a message whose first byte is 1 (subscribe) or 0 (cancel).
        let mut body = Vec::with_capacity(1 + prefix.len());
        body.push(u8::from(subscribe));
        body.extend_from_slice(prefix);
        let mut out = peer.lock_out();
        if out.closed {
            return;
        }
        let wake = Peer::enqueue(&mut out, &[Bytes::from(body)]);
        drop(out);
        if wake {
            peer.wake_writer.notify_one();
        }
    }
}

/// A ZeroMQ socket: REQ, REP, DEALER, ROUTER, PUB, SUB, PUSH or PULL.
///
/// ```no_run
/// # async fn demo() -> Result<(), patterns::zmq::ZmqError> {
/// use patterns::zmq::{Socket, SocketType};
/// let mut req = Socket::new(SocketType::Req);
/// req.connect("tcp://127.0.0.1:5555")?;
/// req.send("Hello").await?;
/// let reply = req.recv().await?;
/// println!("{}", reply.show());
/// # Ok(()) }
/// ```
pub struct Socket {
    shared: Arc<Shared>,
    trigger: Trigger,
    /// Messages taken from one peer's inbox queue in one go (all from `cache_peer`).
    cache: VecDeque<Message>,
    cache_peer: PeerId,
    req: ReqState,
    rep: RepState,
    sends: u32,
}

/// See [`Socket::send`]: how many sends in a row before the sender yields to the connection tasks.
const YIELD_EVERY: u32 = 256;

impl Drop for Socket {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

/// Turn `tcp://host:port`, `tcp://*:port` or `host:port` into `host:port`.
pub fn parse_endpoint(endpoint: &str) -> Result<String, ZmqError> {
    let rest = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
    if rest.contains("://") {
        return Err(ZmqError::Endpoint(endpoint.to_string()));
    }
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(ZmqError::Endpoint(endpoint.to_string()));
    };
    if port.parse::<u16>().is_err() {
        return Err(ZmqError::Endpoint(endpoint.to_string()));
    }
    let host = if host == "*" { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

/// How many messages `recv` moves from the shared inbox per lock: fair-queueing happens per batch.
const RECV_BATCH: usize = 256;

impl Socket {
    /// A socket of `kind` with default options.
    pub fn new(kind: SocketType) -> Socket {
        Socket::with_options(kind, Options::default())
    }

    /// A socket of `kind` with `opts`. Must be called inside a tokio runtime (the socket's
    /// connections run as tasks). The current `tracing` span becomes the parent of its log lines.
    pub fn with_options(kind: SocketType, opts: Options) -> Socket {
        let (trigger, stop) = shutdown::channel();
        let shared = Arc::new(Shared {
            kind,
            opts,
            peers: Mutex::new(PeerSet::default()),
            out_space: Notify::new(),
            inbox: Mutex::new(Inbox::default()),
            inbox_ready: Notify::new(),
            subs: Mutex::new(Subscriptions::default()),
            gone: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            stop,
            dropped_hwm: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            span: tracing::Span::current(),
        });
        Socket {
            shared,
            trigger,
            cache: VecDeque::new(),
            cache_peer: 0,
            req: ReqState::default(),
            rep: RepState::default(),
            sends: 0,
        }
    }

    pub fn kind(&self) -> &SocketType {
        &self.shared.kind
    }

    /// Listen on `endpoint` and take every peer that connects; returns the address really bound
    /// (useful with port 0).
    pub async fn bind(&mut self, endpoint: &str) -> Result<SocketAddr, ZmqError> {
        let addr = parse_endpoint(endpoint)?;
        let listener = crate::net::bind_tcp(&addr).await?;
        let local = listener.local_addr().map_err(|source| NetError::Bind {
            addr: addr.parse().unwrap_or(([0, 0, 0, 0], 0).into()),
            source,
        })?;
        let shared = self.shared.clone();
        let span = self.shared.span.clone();
        tokio::spawn(
            async move {
                let stop = shared.stop.clone();
                let limits = crate::accept_loop::Limits {
                    grace: Duration::from_millis(200),
                    ..Default::default()
                };
                let _ = crate::accept_loop::serve(listener, limits, stop, move |stream, addr, _| {
                    peer::serve_accepted(shared.clone(), stream, addr)
                })
                .await;
            }
            .instrument(span),
        );
        Ok(local)
    }

    /// Connect to `endpoint` in the background, reconnecting with backoff whenever the connection
    /// fails or ends. Returns at once: messages sent meanwhile wait (PUSH/REQ) or are dropped (PUB).
    pub fn connect(&mut self, endpoint: &str) -> Result<(), ZmqError> {
        let addr = parse_endpoint(endpoint)?;
        let shared = self.shared.clone();
        let span = self.shared.span.clone();
        tokio::spawn(peer::keep_connected(shared, addr).instrument(span));
        Ok(())
    }

    /// The connected peers: their address and socket type.
    pub fn peers(&self) -> Vec<(SocketAddr, SocketType)> {
        lock(&self.shared.peers)
            .list
            .iter()
            .map(|p| (p.addr, p.kind.clone()))
            .collect()
    }

    /// Number of peers that completed the handshake and are connected now.
    pub fn peer_count(&self) -> usize {
        lock(&self.shared.peers).list.len()
    }

    /// Wait until at least `n` peers are connected (ZeroMQ's "slow joiner": a PUB that sends before
    /// its subscribers connected sends to nobody).
    pub async fn wait_for_peers(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.peer_count() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Counters of drops and discards.
    pub fn stats(&self) -> Stats {
        Stats {
            dropped_hwm: self.shared.dropped_hwm.load(Ordering::Relaxed),
            discarded: self.shared.discarded.load(Ordering::Relaxed),
            protocol_errors: self.shared.protocol_errors.load(Ordering::Relaxed),
        }
    }

    /// SUB: receive messages whose first frame starts with `prefix` (the empty prefix: everything).
    pub fn subscribe(&mut self, prefix: impl AsRef<[u8]>) {
        self.change_subscription(prefix.as_ref(), true);
    }

    /// SUB: withdraw one earlier `subscribe(prefix)`.
    pub fn unsubscribe(&mut self, prefix: impl AsRef<[u8]>) {
        self.change_subscription(prefix.as_ref(), false);
    }

    fn change_subscription(&mut self, prefix: &[u8], subscribe: bool) {
        let changed = {
            let mut subs = lock(&self.shared.subs);
            if subscribe {
                subs.subscribe(prefix)
            } else {
                subs.cancel(prefix)
            }
        };
        // Like libzmq, tell the publishers only when the set of prefixes changed.
        if changed {
            for p in lock(&self.shared.peers).list.iter() {
                send_subscription(p, prefix, subscribe);
            }
        }
    }

    /// Send a message according to the socket's pattern:
    /// - PUSH, DEALER: to the next peer in round-robin order that has room, waiting if none has;
    /// - REQ: the same, with the empty delimiter in front, then it must `recv` the reply;
    /// - REP: the reply to the last request, to the peer that sent it;
    /// - ROUTER: to the peer whose routing id is the first frame;
    /// - PUB: to every subscriber whose subscriptions match the first frame, dropping it for
    ///   subscribers at their high-water mark.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), ZmqError> {
        let mut msg = msg.into();
        // A sender that always finds room never waits, so it would never let the connection tasks
        // run on a single-threaded runtime: give way every so often. Every YIELD_EVERY sends is a
        // batch the writer turns into one write() (bigger batches: fewer system calls).
        self.sends = self.sends.wrapping_add(1);
        if self.sends % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
        }
        match self.shared.kind {
            SocketType::Push | SocketType::Dealer => {
                self.send_round_robin(&msg).await?;
            }
            SocketType::Req => {
                self.release_if_peer_gone();
                self.req.check_send()?;
                msg.push_front(Bytes::new());
                let peer = self.send_round_robin(&msg).await?;
                self.req.sent(peer);
            }
            SocketType::Rep => {
                let (peer, envelope) = self.rep.reply()?;
                let mut full = Message::from_frames(envelope);
                for f in msg.frames() {
                    full.push(f.clone());
                }
                self.send_to(peer, &full).await;
            }
            SocketType::Router => {
                let route = msg.split_front(1).pop().ok_or(ZmqError::NoRoute)?;
                let peer = lock(&self.shared.peers)
                    .list
                    .iter()
                    .find(|p| p.routing_id == route)
                    .map(|p| p.id);
                match peer {
                    Some(id) => self.send_to(id, &msg).await,
                    // libzmq's ROUTER drops messages to unknown peers silently (unless
                    // ZMQ_ROUTER_MANDATORY); sister says so in the error.
                    None => return Err(ZmqError::NoRoute),
                }
            }
            SocketType::Pub | SocketType::Xpub => self.send_fan_out(&msg),
            ref k => return Err(ZmqError::CannotSend(k.clone())),
        }
        Ok(())
    }

    /// Round robin over peers with room; waits (for room or for a first peer) otherwise.
    async fn send_round_robin(&self, msg: &Message) -> Result<PeerId, ZmqError> {
        // Fast path first: registering as a waiter takes a lock, so only do it when there is no room.
        if let Some(id) = self.try_round_robin(msg) {
            return Ok(id);
        }
        let mut stop = self.shared.stop.clone();
        loop {
            let notified = self.shared.out_space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(id) = self.try_round_robin(msg) {
                return Ok(id);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = stop.recv() => return Err(ZmqError::Closed),
            }
        }
    }

    /// One round-robin attempt: queue `msg` to the next peer with room, if any.
    fn try_round_robin(&self, msg: &Message) -> Option<PeerId> {
        let hwm = self.shared.opts.send_hwm.max(1);
        {
            {
                let mut set = lock(&self.shared.peers);
                let set = &mut *set;
                let mut wake = None;
                let list = &set.list;
                let pick = round_robin(list.len(), &mut set.cursor, |i| {
                    let mut out = list[i].lock_out();
                    if out.closed || out.queued >= hwm {
                        return false;
                    }
                    wake = Some(Peer::enqueue(&mut out, msg.frames()));
                    true
                });
                let i = pick?;
                let p = &set.list[i];
                if wake == Some(true) {
                    p.wake_writer.notify_one();
                }
                Some(p.id)
            }
        }
    }

    /// Send to one peer (REP, ROUTER); waits for room; drops the message if the peer is gone, as
    /// libzmq does (the requester went away: nobody to answer).
    async fn send_to(&self, peer: PeerId, msg: &Message) {
        if self.try_send_to(peer, msg) {
            return;
        }
        let mut stop = self.shared.stop.clone();
        loop {
            let notified = self.shared.out_space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.try_send_to(peer, msg) {
                return;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = stop.recv() => return,
            }
        }
    }

    /// Queue `msg` for `peer` if it has room; true when done (sent, or dropped because it is gone).
    fn try_send_to(&self, peer: PeerId, msg: &Message) -> bool {
        let hwm = self.shared.opts.send_hwm.max(1);
        let set = lock(&self.shared.peers);
        let Some(p) = set.list.iter().find(|p| p.id == peer) else {
            tracing::info!("reply dropped: the peer that asked has disconnected");
            return true;
        };
        let mut out = p.lock_out();
        if out.closed {
            return true;
        }
        if out.queued >= hwm {
            return false;
        }
        let wake = Peer::enqueue(&mut out, msg.frames());
        drop(out);
        if wake {
            p.wake_writer.notify_one();
        }
        true
    }

    fn send_fan_out(&self, msg: &Message) {
        let hwm = self.shared.opts.send_hwm.max(1);
        let topic = msg.first();
        for p in lock(&self.shared.peers).list.iter() {
            let mut out = p.lock_out();
            if out.closed || !out.subs.matches(topic) {
                continue;
            }
            if out.queued >= hwm {
                self.shared.dropped_hwm.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let wake = Peer::enqueue(&mut out, msg.frames());
            drop(out);
            if wake {
                p.wake_writer.notify_one();
            }
        }
    }

    fn release_if_peer_gone(&mut self) {
        let gone = std::mem::take(&mut *lock(&self.shared.gone));
        for id in gone {
            if self.req.peer_gone(id) {
                tracing::warn!("the peer holding our request disconnected; the request is abandoned");
            }
        }
    }

    /// Receive the next message (waits until one arrives):
    /// - PULL, SUB, DEALER: the next message in fair-queue order over the peers;
    /// - REQ: the reply to the request just sent (the delimiter removed);
    /// - REP: the next request (its envelope kept for the reply);
    /// - ROUTER: the message with the sender's routing id in front.
    pub async fn recv(&mut self) -> Result<Message, ZmqError> {
        // Fast path for the patterns that take messages as they come: one already taken from the
        // shared inbox (in a batch) is handed out without touching a lock.
        if matches!(
            self.shared.kind,
            SocketType::Pull | SocketType::Sub | SocketType::Dealer
        ) {
            if let Some(m) = self.cache.pop_front() {
                return Ok(m);
            }
        }
        match self.shared.kind {
            SocketType::Push | SocketType::Pub => return Err(ZmqError::CannotRecv(self.shared.kind.clone())),
            SocketType::Req => {
                self.release_if_peer_gone();
                self.req.check_recv()?;
            }
            SocketType::Rep => self.rep.check_recv()?,
            _ => {}
        }
        loop {
            let (peer, mut msg) = self.next_raw().await?;
            match self.shared.kind {
                SocketType::Req => match self.req.on_message(peer, &msg) {
                    ReplyVerdict::Accept => {
                        msg.split_front(1);
                        return Ok(msg);
                    }
                    ReplyVerdict::Discard(why) => {
                        self.shared.discarded.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("message discarded: {why}");
                    }
                },
                SocketType::Rep => {
                    if self.rep.on_request(peer, &mut msg).is_some() {
                        return Ok(msg);
                    }
                    self.shared.discarded.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("request without an envelope delimiter discarded (RFC 28)");
                }
                SocketType::Router => {
                    let id = lock(&self.shared.peers)
                        .list
                        .iter()
                        .find(|p| p.id == peer)
                        .map(|p| p.routing_id.clone());
                    if let Some(id) = id {
                        msg.push_front(id);
                        return Ok(msg);
                    }
                }
                _ => return Ok(msg),
            }
        }
    }

    /// The next message from any peer, with the peer's id.
    async fn next_raw(&mut self) -> Result<(PeerId, Message), ZmqError> {
        if let Some(m) = self.cache.pop_front() {
            return Ok((self.cache_peer, m));
        }
        let mut stop = self.shared.stop.clone();
        loop {
            if let Some(peer) = self.shared.take_batch(&mut self.cache, RECV_BATCH) {
                self.cache_peer = peer;
            }
            if let Some(m) = self.cache.pop_front() {
                return Ok((self.cache_peer, m));
            }
            if self.shared.kind == SocketType::Req {
                // A REQ waiting for a reply from a peer that left will never get it.
                self.release_if_peer_gone();
                if self.req.check_recv().is_err() {
                    return Err(ZmqError::PeerGone);
                }
            }
            tokio::select! {
                _ = self.shared.inbox_ready.notified() => {}
                _ = stop.recv() => return Err(ZmqError::Closed),
            }
        }
    }

    /// Close the socket after trying for up to `linger` to flush what is queued (ZMQ_LINGER).
    pub async fn close(self, linger: Duration) {
        let deadline = tokio::time::Instant::now() + linger;
        while !self.shared.all_flushed() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Drop triggers the shutdown of every task.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_zeromq_and_plain_forms() {
        assert_eq!(parse_endpoint("tcp://127.0.0.1:5555").unwrap(), "127.0.0.1:5555");
        assert_eq!(parse_endpoint("tcp://*:5555").unwrap(), "0.0.0.0:5555");
        assert_eq!(parse_endpoint("zmq-rep:5555").unwrap(), "zmq-rep:5555");
        for bad in ["ipc:///tmp/x", "tcp://host", "host:port", "inproc://a:1"] {
            assert!(matches!(parse_endpoint(bad), Err(ZmqError::Endpoint(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn wrong_direction_and_order_are_errors_not_hangs() {
        let mut push = Socket::new(SocketType::Push);
        assert!(matches!(push.recv().await, Err(ZmqError::CannotRecv(_))));
        let mut pull = Socket::new(SocketType::Pull);
        assert!(matches!(pull.send("x").await, Err(ZmqError::CannotSend(_))));
        let mut req = Socket::new(SocketType::Req);
        assert!(matches!(
            req.recv().await,
            Err(ZmqError::State(StateError::ReqMustSend))
        ));
        let mut rep = Socket::new(SocketType::Rep);
        assert!(matches!(
            rep.send("x").await,
            Err(ZmqError::State(StateError::RepMustRecv))
        ));
    }
}
