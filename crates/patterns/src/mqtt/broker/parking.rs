//! Idle clients, parked outside tokio: the reason the broker needs less memory per idle client than
//! Mosquitto (bench/mqtt.sh).
//!
//! ```text
//!   connection task ──idle──► park: socket out of tokio, into our epoll set; the task ends
//!        ▲                                   │ the client sends a byte (or closes),
//!        └──── a new task (resume) ◄─────────┘ or the broker queues something for it (a wake)
//! ```
//!
//! What to notice:
//! - A client served by a tokio task costs, before any MQTT state, the task (its header and its
//!   future, ~384 bytes) and tokio's record of its socket (`ScheduledIo`, 256 bytes, cache-padded).
//!   A parked client costs its socket and its [`Conn`] in a table: ~100 bytes. Not even its log span:
//!   an enabled span lives in tracing's registry (~500 bytes at the default log level), so a parked
//!   client drops it, and the resumed task gets a new `conn{peer, client}` span with the same fields.
//! - The parked sockets wait in an epoll set of our own (`mio::Poll`), and one thread of ours waits
//!   on it ([`watch`]): when a parked socket is readable (a packet, or the client closed), it resumes
//!   that client. Edge-triggered, and epoll reports a socket that is already readable when it is
//!   added, so nothing sent while parking is missed.
//! - A connection parks only when the broker says so (`Slot::park`: right after CONNACK, and from the
//!   once-a-second tick for a connection whose task did nothing for a whole second) and only if it is
//!   idle then: nothing queued, nothing to write, nothing half read. A busy client keeps its task
//!   (parking and resuming costs a few system calls, and a fresh tokio registration does not know
//!   yet that its socket is writable, so parking a busy client at every pause would slow it down).
//! - The broker wakes a parked client like any other (`Wake::Parked`): a message for it, a takeover,
//!   a keep-alive timeout, the shutdown. Waking it spawns a task that picks up where it left off.

use std::net::TcpStream as StdStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tracing::Instrument;

use super::link::Link;
use super::server::{connection, lost, Conn, Hub, Ready};

/// The parked clients and the epoll set their sockets wait in.
pub(super) struct Parking {
    registry: Registry,
    /// Ends the [`watch`] thread.
    stop: mio::Waker,
    /// The runtime the resumed tasks run on (the watch thread is not one of its threads).
    runtime: Handle,
    table: Mutex<Table>,
    /// The broker, to hand to resumed tasks (set once the `Hub` exists; weak: the hub owns us).
    hub: OnceLock<Weak<Hub>>,
    /// The broker's role span (`mqtt-broker`), parent of the span each resumed task gets.
    role: tracing::Span,
}

#[derive(Default)]
struct Table {
    /// Indexed by the epoll token.
    parked: Vec<Option<Parked>>,
    free: Vec<usize>,
}

/// One parked client: all that is left of its task.
struct Parked {
    stream: StdStream,
    conn: Conn,
}

impl Parking {
    /// A new, empty epoll set, and the `Poll` that [`watch`] waits on. Call inside the runtime.
    pub(super) fn new() -> std::io::Result<(Parking, Poll)> {
        let poll = Poll::new()?;
        let parking = Parking {
            registry: poll.registry().try_clone()?,
            stop: mio::Waker::new(poll.registry(), STOP)?,
            runtime: Handle::current(),
            table: Mutex::new(Table::default()),
            hub: OnceLock::new(),
            role: tracing::Span::current(),
        };
        Ok((parking, poll))
    }

    pub(super) fn set_hub(&self, hub: &Arc<Hub>) {
        let _ = self.hub.set(Arc::downgrade(hub));
    }

    /// End the [`watch`] thread (the broker stops).
    pub(super) fn stop(&self) {
        let _ = self.stop.wake();
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Park an idle connection; returns its key (its token in the epoll set). The caller holds the
    /// broker's lock, has checked that nothing waits for this client, and points the session's slot
    /// at the key.
    pub(super) fn park(&self, stream: TcpStream, conn: Conn) -> Result<usize, NotParked> {
        // Out of tokio's I/O driver (its `ScheduledIo` is freed) ...
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return Err(NotParked::Lost(conn, e)),
        };
        let mut table = self.table();
        let key = table.free.pop().unwrap_or(table.parked.len());
        // ... into ours.
        if let Err(e) =
            self.registry
                .register(&mut SourceFd(&stream.as_raw_fd()), Token(key), Interest::READABLE)
        {
            if key < table.parked.len() {
                table.free.push(key);
            }
            drop(table);
            tracing::debug!("cannot park the socket: {e}");
            return match TcpStream::from_std(stream) {
                Ok(s) => Err(NotParked::Kept(s, conn)),
                Err(e) => Err(NotParked::Lost(conn, e)),
            };
        }
        if key == table.parked.len() {
            table.parked.push(None);
        }
        tracing::debug!(key, "idle: parked without a task");
        table.parked[key] = Some(Parked { stream, conn });
        Ok(key)
    }

    /// Give the parked client `key` (connection `conn_id`) a task again. Called with or without the
    /// broker's lock; an outdated key (the client already resumed) does nothing.
    pub(super) fn unpark(&self, key: usize, conn_id: u64) {
        let parked = {
            let mut table = self.table();
            match table.parked.get(key) {
                Some(Some(p)) if p.conn.id == conn_id => {}
                _ => return,
            }
            let p = table.parked[key].take().expect("checked above");
            tracing::debug!(key, conn = conn_id, "resumed from the parking");
            table.free.push(key);
            let _ = self.registry.deregister(&mut SourceFd(&p.stream.as_raw_fd()));
            p
        };
        let Some(hub) = self.hub.get().and_then(Weak::upgrade) else {
            return;
        };
        resume(&self.runtime, &self.role, hub, parked);
    }

    /// The client behind epoll token `key` is readable (it sent something, or closed).
    fn unpark_key(&self, key: usize) {
        let conn_id = match self.table().parked.get(key) {
            Some(Some(p)) => p.conn.id,
            _ => return,
        };
        self.unpark(key, conn_id);
    }
}

/// Why a connection could not be parked.
pub(super) enum NotParked {
    /// Still a tokio socket: the connection goes on with its task.
    Kept(TcpStream, Conn),
    /// The socket was lost on the way (a system call failed).
    Lost(Conn, std::io::Error),
}

/// A new task for a parked client: its socket back in tokio, the same connection loop as before.
fn resume(runtime: &Handle, role: &tracing::Span, hub: Arc<Hub>, p: Parked) {
    let Parked { stream, conn } = p;
    // The same `conn{peer, client}` span a connection has from the start (accept_loop::serve, then the
    // CONNECT), made again: the parked client kept none.
    let span = tracing::info_span!(parent: role, "conn", peer = tracing::field::Empty, client = tracing::field::Empty);
    if !span.is_disabled() {
        if let Ok(peer) = stream.peer_addr() {
            span.record("peer", tracing::field::display(peer));
        }
    }
    let guard = Resumed::counted(&hub);
    let h = hub.clone();
    let back = Box::pin(async move {
        // The client's name, from its session (here, in the new task: `unpark` may run under the
        // broker's lock).
        let span = tracing::Span::current();
        if !span.is_disabled() {
            if let Some(client) = h.client_id(&conn) {
                span.record("client", &*client);
            }
        }
        match TcpStream::from_std(stream) {
            Ok(stream) => Some(Ready {
                stream: Link::Plain(stream),
                conn,
                work: Box::default(),
            }),
            Err(e) => {
                lost(&h, &conn, format!("cannot resume the socket: {e}"));
                None
            }
        }
    });
    runtime.spawn(
        async move {
            let _guard = guard;
            connection(hub, back).await;
        }
        .instrument(span),
    );
}

/// Counts the resumed tasks still running, so the shutdown can wait for them (they are not the
/// tasks `accept_loop::serve` waits for).
struct Resumed(Arc<Hub>);

impl Resumed {
    fn counted(hub: &Arc<Hub>) -> Resumed {
        hub.resumed.fetch_add(1, Ordering::AcqRel);
        Resumed(hub.clone())
    }
}

impl Drop for Resumed {
    fn drop(&mut self) {
        if self.0.resumed.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.resumed_done.notify_waiters();
        }
    }
}

/// The token of [`Parking::stop`] (parked clients have the indexes of the table).
const STOP: Token = Token(usize::MAX);

/// The thread that watches the parked sockets: resume every client whose socket is readable. Runs
/// until [`Parking::stop`].
pub(super) fn watch(parking: Arc<Parking>, mut poll: Poll) {
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!("epoll of the parked connections failed: {e}");
            return;
        }
        for ev in events.iter() {
            if ev.token() == STOP {
                return;
            }
            parking.unpark_key(ev.token().0);
        }
    }
}
