//! `sister corba server` and `sister corba naming`: GIOP over TCP, over tokio.
//!
//! One task per connection (the shared [`crate::accept_loop`] skeleton); each connection:
//!
//! ```text
//!   accept ─► loop: read ─► cut whole messages (the 12-byte header says each one's size)
//!                 │         ─► join Fragments ─► decode ─► Orb::handle ─► queue the Reply
//!                 │         CloseConnection / MessageError from the client → close
//!                 └──────◄ write every queued reply in one write
//! ```
//!
//! The client speaks first (GIOP has no greeting); a server may send CloseConnection, which is how
//! it says "I am going away, do not retry on this connection" (§15.5.1): sister sends it to every
//! client on Ctrl+C. A message that breaks the protocol gets a MessageError (§15.4.8) and the
//! connection is closed; other clients go on.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wire::escape::preview;
use wire::giop::{self, MessageType, Reassembler, Version, GIOP_1_0};
use wire::DecodeError;

use super::orb::Orb;
use crate::accept_loop::{serve, Limits};
use crate::shutdown::Signal;
use crate::throttle::LogThrottle;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// The largest message accepted after reassembly (omniORB's giopMaxMsgSize, 2 MiB).
    pub max_message: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_message: giop::DEFAULT_MAX_SIZE,
        }
    }
}

/// Requests per second and connection logged one by one (the rest are counted).
const LOG_PER_SECOND: u32 = 10;

/// Counters a test or the lab can read.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub hellos: AtomicU64,
}

/// Serves `orb`'s objects until `shutdown` fires.
#[tracing::instrument(name = "corba-server", skip_all)]
pub async fn run(
    listener: TcpListener,
    orb: Arc<Orb>,
    stats: Arc<Stats>,
    config: Config,
    shutdown: Signal,
) -> io::Result<()> {
    let shared = Arc::new((orb, stats, config.clone()));
    serve(listener, config.limits, shutdown, move |stream, peer, signal| {
        handle(stream, peer, signal, shared.clone())
    })
    .await
}

async fn handle(
    mut stream: TcpStream,
    _peer: SocketAddr,
    mut shutdown: Signal,
    shared: Arc<(Arc<Orb>, Arc<Stats>, Config)>,
) {
    let (orb, stats, config) = &*shared;
    tracing::info!("client connected");
    let mut conn = Conn {
        buf: BytesMut::with_capacity(16 * 1024),
        out: Vec::new(),
        reassembler: Reassembler::new(config.max_message),
        version: GIOP_1_0,
        requests: 0,
        throttle: LogThrottle::new(LOG_PER_SECOND),
    };
    let end = loop {
        let read = tokio::select! {
            _ = shutdown.recv() => break "shutdown",
            r = stream.read_buf(&mut conn.buf) => r,
        };
        match read {
            Ok(0) => break "eof",
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("read failed, dropping this client: {e}");
                return;
            }
        }
        let step = conn.step(orb, stats, config.max_message);
        if let Err(why) = &step {
            tracing::warn!("malformed GIOP message, answering MessageError and closing this connection (other clients are not affected): {why}");
            conn.out
                .extend(giop::encode_bare(conn.version, true, MessageType::MessageError));
        }
        if !conn.out.is_empty() {
            if let Err(e) = stream.write_all(&conn.out).await {
                tracing::warn!("cannot send replies, dropping this client: {e}");
                return;
            }
            conn.out.clear();
        }
        match step {
            Ok(false) => {}
            Ok(true) => break "close",
            Err(_) => break "error",
        }
        if conn.buf.is_empty() && conn.buf.capacity() > 256 * 1024 {
            conn.buf = BytesMut::with_capacity(16 * 1024);
        }
    };
    if let Some(skipped) = conn.throttle.flush() {
        tracing::info!("... and {skipped} more requests (not logged one by one)");
    }
    match end {
        "shutdown" => {
            tracing::info!(
                requests = conn.requests,
                "server shutting down: sending CloseConnection"
            );
            let _ = stream
                .write_all(&giop::encode_bare(
                    conn.version,
                    true,
                    MessageType::CloseConnection,
                ))
                .await;
        }
        "close" => tracing::info!(requests = conn.requests, "the client ended the connection"),
        "eof" => tracing::info!(requests = conn.requests, "client closed the connection"),
        _ => {}
    }
    let _ = stream.shutdown().await;
}

/// One connection's buffers and counters.
struct Conn {
    buf: BytesMut,
    out: Vec<u8>,
    reassembler: Reassembler,
    /// The GIOP version the client spoke last (CloseConnection and MessageError are sent in it).
    version: Version,
    requests: u64,
    throttle: LogThrottle,
}

impl Conn {
    /// Handles every whole message in the buffer. `Ok(true)`: the client ended the connection.
    fn step(&mut self, orb: &Orb, stats: &Stats, max_message: usize) -> Result<bool, String> {
        loop {
            let len = match giop::frame_len(&self.buf, max_message) {
                Ok(len) => len,
                Err(DecodeError::Incomplete { .. }) => return Ok(false),
                Err(DecodeError::Invalid(why)) => {
                    let head = &self.buf[..self.buf.len().min(16)];
                    return Err(format!(
                        "{why} (first bytes {head:02x?}, \"{}\")",
                        preview(head, 16)
                    ));
                }
            };
            let frame = self.buf.split_to(len);
            let Some(whole) = self.reassembler.push(&frame).map_err(|e| e.to_string())? else {
                continue;
            };
            let decoded = giop::decode_message(&whole).map_err(|e| e.to_string())?;
            self.version = decoded.header.version;
            let describe = tracing::enabled!(tracing::Level::INFO) && {
                let (log_it, skipped) = self.throttle.admit(std::time::Instant::now());
                if let Some(skipped) = skipped {
                    tracing::info!(
                        "... and {skipped} more requests in the last second (not logged one by one)"
                    );
                }
                log_it
            };
            let handled = orb.handle(&decoded, describe);
            if matches!(decoded.message, giop::Message::Request(_)) {
                self.requests += 1;
                stats.requests.fetch_add(1, Ordering::Relaxed);
            }
            if handled.said_hello {
                stats.hellos.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(line) = handled.log {
                tracing::info!("GIOP {} {line}", decoded.header.version);
            }
            if let Some(reply) = handled.reply {
                self.out.extend(reply);
            }
            if handled.close {
                return Ok(true);
            }
        }
    }
}
