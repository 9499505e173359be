//! `sister ice server`: the course's object adapter `SimpleAdapter` on TCP 11000, over tokio.
//!
//! One task per connection (the shared [`crate::accept_loop`] skeleton); each connection:
//!
//! ```text
//!   accept ─► send ValidateConnection ─► loop: read ─► decode every whole message in the buffer
//!                                               │        Request      → dispatch, queue the Reply
//!                                               │        BatchRequest → dispatch each (no replies)
//!                                               │        ValidateConnection (a heartbeat) → ignore
//!                                               │        CloseConnection → close, done
//!                                               └──────◄ write all queued replies in one write
//! ```
//!
//! Writing the replies of everything one read brought in a single write is what makes pipelined
//! clients fast (fifty replies, one system call). A message that breaks the protocol closes that
//! connection only, with a log line saying why; other clients go on. On Ctrl+C the server sends
//! CloseConnection to every client before it closes, as an Ice server shutting down does.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wire::escape::preview;
use wire::ice::{self, Message};
use wire::DecodeError;

use super::adapter::Adapter;
use crate::accept_loop::{serve, Limits};
use crate::console::Say;
use crate::shutdown::Signal;
use crate::throttle::LogThrottle;

/// Where the servants' lines (`Object1 says: ...`) go.
#[derive(Clone)]
pub enum Output {
    /// Standard output, as the course's server prints (the lines of one read are written together).
    Stdout,
    /// Nowhere (a benchmark measuring the calls, not the terminal).
    Quiet,
    /// A [`Say`] (the lab's transcript, a test's collector).
    Say(Arc<dyn Say>),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Stdout => "Stdout",
            Output::Quiet => "Quiet",
            Output::Say(_) => "Say",
        })
    }
}

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// The largest message accepted (Ice's `Ice.MessageSizeMax`, 1 MiB by default).
    pub max_message: usize,
    pub output: Output,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_message: ice::DEFAULT_MAX_SIZE,
            output: Output::Stdout,
        }
    }
}

/// Requests per second and connection logged one by one (the rest are counted).
const LOG_PER_SECOND: u32 = 10;

fn header_only(kind: ice::MessageType) -> Vec<u8> {
    let mut out = Vec::with_capacity(ice::HEADER_SIZE);
    ice::Header::new(kind, ice::HEADER_SIZE as u32).encode(&mut out);
    out
}

/// Serve the course's two Printer objects until `shutdown` fires.
#[tracing::instrument(name = "ice-server", skip_all)]
pub async fn run(listener: TcpListener, config: Config, shutdown: Signal) -> io::Result<()> {
    tracing::info!(
        "adapter SimpleAdapter: objects {} and {} (interface {})",
        super::OBJECT1,
        super::OBJECT2,
        super::adapter::PRINTER_TYPE_ID
    );
    let shared = Arc::new((Adapter::course(), config.clone()));
    serve(listener, config.limits, shutdown, move |stream, peer, signal| {
        handle(stream, peer, signal, shared.clone())
    })
    .await
}

/// How a connection ended, for its last log line.
enum End {
    /// The client sent CloseConnection (a graceful close: `communicator.destroy()`).
    CloseConnection,
    /// The client closed TCP without CloseConnection (killed, or a client that is not Ice).
    Eof,
    Shutdown,
}

async fn handle(stream: TcpStream, _peer: SocketAddr, mut shutdown: Signal, shared: Arc<(Adapter, Config)>) {
    let (adapter, config) = &*shared;
    let mut stream = stream;
    tracing::info!("client connected; sending ValidateConnection");
    if let Err(e) = stream
        .write_all(&header_only(ice::MessageType::ValidateConnection))
        .await
    {
        tracing::warn!("cannot send ValidateConnection, dropping this client: {e}");
        return;
    }
    let mut conn = Conn {
        buf: BytesMut::with_capacity(16 * 1024),
        out: Vec::new(),
        lines: String::new(),
        requests: 0,
        throttle: LogThrottle::new(LOG_PER_SECOND),
    };
    let end = loop {
        let read = tokio::select! {
            _ = shutdown.recv() => break End::Shutdown,
            r = stream.read_buf(&mut conn.buf) => r,
        };
        match read {
            Ok(0) => break End::Eof,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("read failed, dropping this client: {e}");
                return;
            }
        }
        let step = conn.step(adapter, config.max_message);
        conn.flush_lines(&config.output);
        if !conn.out.is_empty() {
            if let Err(e) = stream.write_all(&conn.out).await {
                tracing::warn!("cannot send replies, dropping this client: {e}");
                return;
            }
            conn.out.clear();
        }
        match step {
            Ok(false) => {}
            Ok(true) => break End::CloseConnection,
            Err(why) => {
                tracing::warn!(
                    "malformed Ice message, closing this connection (other clients are not affected): {why}"
                );
                return;
            }
        }
        // A large buffer from one big message is given back once it has been used.
        if conn.buf.is_empty() && conn.buf.capacity() > 256 * 1024 {
            conn.buf = BytesMut::with_capacity(16 * 1024);
        }
    };
    if let Some(skipped) = conn.throttle.flush() {
        tracing::info!("... and {skipped} more requests (not logged one by one)");
    }
    match end {
        End::CloseConnection => {
            tracing::info!(requests = conn.requests, "client sent CloseConnection; closing");
        }
        End::Eof => tracing::info!(
            requests = conn.requests,
            "client closed the connection without CloseConnection"
        ),
        End::Shutdown => {
            tracing::info!(
                requests = conn.requests,
                "server shutting down: sending CloseConnection"
            );
            let _ = stream
                .write_all(&header_only(ice::MessageType::CloseConnection))
                .await;
        }
    }
    let _ = stream.shutdown().await;
}

/// One connection's buffers and counters.
struct Conn {
    buf: BytesMut,
    /// Replies to write after this read.
    out: Vec<u8>,
    /// Servant output to print after this read.
    lines: String,
    requests: u64,
    throttle: LogThrottle,
}

impl Conn {
    /// Decode and dispatch every whole message in the buffer. `Ok(true)`: the client sent
    /// CloseConnection; `Err`: the stream broke the protocol.
    fn step(&mut self, adapter: &Adapter, max_message: usize) -> Result<bool, String> {
        loop {
            let (decoded, used) = match ice::decode(&self.buf, max_message) {
                Ok(pair) => pair,
                Err(DecodeError::Incomplete { .. }) => return Ok(false),
                Err(DecodeError::Invalid(why)) => {
                    let head = &self.buf[..self.buf.len().min(16)];
                    return Err(format!(
                        "{why} (first bytes {:02x?}, \"{}\")",
                        head,
                        preview(head, 16)
                    ));
                }
            };
            self.buf.advance(used);
            match decoded.message {
                Message::Request(req) => self.run(adapter, &req, "Request"),
                Message::BatchRequest(reqs) => {
                    tracing::debug!(requests = reqs.len(), "batch request");
                    for req in &reqs {
                        self.run(adapter, req, "BatchRequest");
                    }
                }
                Message::ValidateConnection => {
                    tracing::debug!("ValidateConnection from the client (a heartbeat)")
                }
                Message::CloseConnection => return Ok(true),
                Message::Reply(r) => {
                    return Err(format!("a client sent a Reply (#{}) to the server", r.request_id));
                }
            }
        }
    }

    fn run(&mut self, adapter: &Adapter, req: &ice::Request, how: &str) {
        self.requests += 1;
        let done = adapter.dispatch(req);
        let (log_it, skipped) = self.throttle.admit(std::time::Instant::now());
        if let Some(skipped) = skipped {
            tracing::info!("... and {skipped} more requests in the last second (not logged one by one)");
        }
        if log_it {
            let id = if req.is_oneway() {
                "oneway".to_string()
            } else {
                format!("#{}", req.request_id)
            };
            let status = done
                .reply
                .as_ref()
                .map(|r| r.status.describe())
                .unwrap_or("no reply");
            tracing::info!("{how} {id} {}.{}: {status}", req.identity, req.operation);
        }
        if let Some(line) = done.printed {
            self.lines.push_str(&line);
            self.lines.push('\n');
        }
        if let Some(reply) = done.reply {
            ice::encode(&Message::Reply(reply), &mut self.out);
        }
    }

    fn flush_lines(&mut self, output: &Output) {
        if self.lines.is_empty() {
            return;
        }
        match output {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                // A closed stdout (`| head`) must not stop the server.
                let _ = out.write_all(self.lines.as_bytes());
                let _ = out.flush();
            }
            Output::Quiet => {}
            Output::Say(say) => {
                for line in self.lines.lines() {
                    say.say(line);
                }
            }
        }
        self.lines.clear();
    }
}
