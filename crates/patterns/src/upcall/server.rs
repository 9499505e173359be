//! The upcall server: answers every line at once, then calls its registered clients back on its own
//! initiative (work done, periodic notices, other clients' activity).
//!
//! ```text
//!   per framed client:   reader loop ──line──► Processing (now) ──► work task ──(after --work-ms)──► Done
//!                             │                                                              │
//!                             └──► Hub: Notice to every *other* registered client            ▼
//!   ticker (every --notify-every) ──► Hub: Notice to every registered client      writer task ──► socket
//! ```
//! Each framed client has one writer task that owns the socket's write half and drains a channel: the
//! reader, the work tasks, the ticker and other clients' handlers all "call the client" by sending into
//! that channel. That is the upcall: the server decides when the client hears from it.
//!
//! A raw client (the course's `clientcall.py`) gets only the immediate `Upcall event: Processing <line>`:
//! it reads exactly one `recv(1024)` after each line it sends, so an unrequested message would be read as
//! the answer to its *next* line (and two messages sent close together would arrive merged). The course's
//! protocol has no room for a server-initiated message; sister's framing does.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;
use wire::escape::preview;
use wire::frame::{self, Mode};

use super::state;
use crate::accept_loop::{serve, Limits};
use crate::framing::{write_message, MessageReader};
use crate::shutdown::Signal;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    pub max_payload: usize,
    /// The simulated work per line: the completion upcall comes this long after the line.
    pub work: Duration,
    /// Push a notice to every registered client this often (`None`: never).
    pub notify_every: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_payload: frame::DEFAULT_MAX_PAYLOAD,
            work: Duration::from_millis(1000),
            notify_every: Some(Duration::from_secs(15)),
        }
    }
}

/// Messages queued for one client before it counts as too slow (then notices to it are dropped).
const QUEUE: usize = 256;

/// Every registered client, reachable through its writer's channel.
#[derive(Debug, Default)]
struct Hub {
    members: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Member {
    name: String,
    tx: mpsc::Sender<Vec<u8>>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn join(&self, name: &str, tx: mpsc::Sender<Vec<u8>>) -> (u64, usize) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut m = self.lock();
        m.insert(
            id,
            Member {
                name: name.to_string(),
                tx,
            },
        );
        (id, m.len())
    }

    fn leave(&self, id: u64) -> usize {
        let mut m = self.lock();
        m.remove(&id);
        m.len()
    }

    fn count(&self) -> usize {
        self.lock().len()
    }

    /// Call back every registered client except `except`; returns how many were reached. A client whose
    /// queue is full misses this notice (a slow client must not stall the others).
    fn notify(&self, except: Option<u64>, message: &[u8]) -> usize {
        let m = self.lock();
        let mut reached = 0;
        for (id, member) in m.iter() {
            if Some(*id) == except {
                continue;
            }
            match member.tx.try_send(message.to_vec()) {
                Ok(()) => reached += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(client = %member.name, "client is not reading; dropped a notice for it")
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        reached
    }
}

/// Serve until `shutdown` fires.
#[tracing::instrument(name = "upcall-server", skip_all)]
pub async fn run(listener: TcpListener, config: Config, shutdown: Signal) -> io::Result<()> {
    let hub = Arc::new(Hub::default());
    tracing::info!(
        work = ?config.work,
        notify_every = ?config.notify_every,
        "upcalls: completion after the work, notices to all registered clients"
    );
    let ticker = config.notify_every.map(|every| {
        let hub = hub.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(
            async move {
                let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                // After a stall (a suspended laptop), one notice, not a burst of the missed ones.
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut tick = 0u64;
                loop {
                    tokio::select! {
                        _ = stop.recv() => break,
                        _ = interval.tick() => {}
                    }
                    tick += 1;
                    let n = hub.count();
                    if n == 0 {
                        continue;
                    }
                    let text = format!("tick {tick}, {}", state::clients_registered(n));
                    let reached = hub.notify(None, &state::notice(&text));
                    tracing::info!("pushed notice \"{text}\" to {reached} registered clients");
                }
            }
            .in_current_span(),
        )
    });
    let config = Arc::new(config);
    let limits = config.limits.clone();
    let result = serve(listener, limits, shutdown, move |stream, peer, signal| {
        handle(stream, peer, signal, hub.clone(), config.clone())
    })
    .await;
    if let Some(t) = ticker {
        t.abort();
    }
    result
}

async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: Signal,
    hub: Arc<Hub>,
    config: Arc<Config>,
) {
    tracing::info!("client connected");
    let (r, w) = stream.into_split();
    let mut reader = MessageReader::detect(r).max_payload(config.max_payload);
    let first = tokio::select! {
        _ = shutdown.recv() => return,
        m = reader.read_message() => m,
    };
    let first = match first {
        Ok(Some(m)) => m,
        Ok(None) => return tracing::info!("client disconnected before sending anything"),
        Err(e) => return tracing::warn!("dropping this client: {e}"),
    };
    match reader.mode() {
        Some(Mode::Framed) => framed(reader, w, first, peer, shutdown, hub, config).await,
        _ => raw(reader, w, first, shutdown, hub).await,
    }
}

/// The course's convention: one immediate reply per read, nothing else.
async fn raw(
    mut reader: MessageReader<OwnedReadHalf>,
    mut w: OwnedWriteHalf,
    first: Vec<u8>,
    mut shutdown: Signal,
    hub: Arc<Hub>,
) {
    tracing::info!(
        "client speaks the course's raw convention: it gets only the immediate reply to each line \
         (it reads one reply per line, so a server-initiated upcall would be mistaken for the next answer)"
    );
    let mut pending = Some(first);
    loop {
        let message = match pending.take() {
            Some(m) => m,
            None => {
                let m = tokio::select! {
                    _ = shutdown.recv() => return tracing::info!("closing the connection: the server is shutting down"),
                    m = reader.read_message() => m,
                };
                match m {
                    Ok(Some(m)) => m,
                    Ok(None) => return tracing::info!("client disconnected"),
                    Err(e) => return tracing::warn!("dropping this client: {e}"),
                }
            }
        };
        tracing::info!("received \"{}\"", preview(&message, 80));
        let answer = state::processing(&message);
        if let Err(e) = write_message(&mut w, Mode::Raw, &answer).await {
            return tracing::warn!("cannot answer, dropping this client: {e}");
        }
        tracing::info!("sent \"{}\"", preview(&answer, 100));
        hub.notify(
            None,
            &state::notice(&format!("a raw client sent \"{}\"", preview(&message, 60))),
        );
    }
}

/// sister's upcall protocol: register, then lines; the server calls back whenever it has something.
async fn framed(
    mut reader: MessageReader<OwnedReadHalf>,
    mut w: OwnedWriteHalf,
    first: Vec<u8>,
    peer: SocketAddr,
    mut shutdown: Signal,
    hub: Arc<Hub>,
    config: Arc<Config>,
) {
    let (name, mut pending) = match state::parse_register(&first) {
        Some(name) => (name, None),
        // A framed peer that skipped registration: register it under its address, keep its line.
        None => (peer.to_string(), Some(first)),
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let writer = tokio::spawn(
        async move {
            while let Some(m) = rx.recv().await {
                if let Err(e) = write_message(&mut w, Mode::Framed, &m).await {
                    tracing::debug!("cannot call the client back any more: {e}");
                    break;
                }
            }
            let _ = w.shutdown().await;
        }
        .in_current_span(),
    );
    let (id, clients) = hub.join(&name, tx.clone());
    tracing::info!(client = %name, "client registered for upcalls ({})", state::clients_registered(clients));
    let _ = tx.send(state::registered(&name, clients)).await;
    hub.notify(
        Some(id),
        &state::notice(&format!(
            "{name} registered ({})",
            state::clients_registered(clients)
        )),
    );

    let mut work = JoinSet::new();
    let why = loop {
        let message = match pending.take() {
            Some(m) => m,
            None => {
                let m = tokio::select! {
                    _ = shutdown.recv() => break "the server is shutting down",
                    Some(_) = work.join_next(), if !work.is_empty() => continue,
                    m = reader.read_message() => m,
                };
                match m {
                    Ok(Some(m)) => m,
                    Ok(None) => break "the client disconnected",
                    Err(e) => {
                        tracing::warn!("dropping this client: {e}");
                        break "the client broke the framing";
                    }
                }
            }
        };
        tracing::info!(client = %name, "received \"{}\"", preview(&message, 80));
        let now = state::processing(&message);
        if tx.send(now.clone()).await.is_err() {
            break "the client stopped reading";
        }
        tracing::info!(client = %name, "upcall \"{}\"", preview(&now, 100));
        let others = hub.notify(
            Some(id),
            &state::notice(&format!("{name} sent \"{}\"", preview(&message, 60))),
        );
        if others > 0 {
            tracing::info!("notified {others} other registered clients");
        }
        let (tx, took, client) = (tx.clone(), config.work, name.clone());
        work.spawn(
            async move {
                tokio::time::sleep(took).await;
                let done = state::done(&message, took);
                if tx.send(done.clone()).await.is_ok() {
                    tracing::info!(%client, "work done, upcall \"{}\"", preview(&done, 100));
                }
            }
            .in_current_span(),
        );
    };

    let clients = hub.leave(id);
    tracing::info!(client = %name, "{why}; unregistered ({})", state::clients_registered(clients));
    hub.notify(
        None,
        &state::notice(&format!("{name} left ({})", state::clients_registered(clients))),
    );
    if !work.is_empty() {
        tracing::info!(abandoned = work.len(), "work for this client abandoned");
        work.abort_all();
    }
    if shutdown.is_shutdown() {
        let _ = tx.send(state::notice("the server is shutting down")).await;
    }
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    tracing::debug!("connection closed");
}
