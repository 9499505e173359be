//! The request/response server: one task per client, `Echo: <message>` for every message.
//!
//! Unlike the course's `server.py` (backlog 1, one client, exits when it leaves), this server serves any
//! number of clients at once and keeps running until Ctrl+C. Each connection speaks sister's framing or
//! the course's raw convention, decided by its first byte.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use wire::escape::preview;
use wire::frame::{self, Mode};

use crate::accept_loop::{serve, Limits};
use crate::framing::{write_message, MessageReader};
use crate::shutdown::Signal;
use crate::throttle::LogThrottle;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// The largest framed message accepted.
    pub max_payload: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_payload: frame::DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Messages per second and connection logged one by one (the rest are counted: see [`crate::throttle`]).
const LOG_PER_SECOND: u32 = 10;

/// The answer to one request: the course's `Echo: ` + the message, byte for byte.
pub fn reply(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + message.len());
    out.extend_from_slice(b"Echo: ");
    out.extend_from_slice(message);
    out
}

/// Serve until `shutdown` fires.
#[tracing::instrument(name = "reqresp-server", skip_all)]
pub async fn run(listener: TcpListener, config: Config, shutdown: Signal) -> io::Result<()> {
    let max = config.max_payload;
    serve(listener, config.limits, shutdown, move |stream, peer, signal| {
        handle(stream, peer, signal, max)
    })
    .await
}

async fn handle(stream: TcpStream, _peer: SocketAddr, mut shutdown: Signal, max_payload: usize) {
    tracing::info!("client connected");
    let (r, mut w) = stream.into_split();
    let mut reader = MessageReader::detect(r).max_payload(max_payload);
    let mut announced = false;
    let mut throttle = LogThrottle::new(LOG_PER_SECOND);
    let mut served = 0u64;
    loop {
        let message = tokio::select! {
            _ = shutdown.recv() => {
                if let Some(skipped) = throttle.flush() {
                    tracing::info!("... and {skipped} more messages (not logged one by one)");
                }
                tracing::info!(messages = served, "closing the connection: the server is shutting down");
                return;
            }
            m = reader.read_message() => m,
        };
        let message = match message {
            Ok(Some(m)) => m,
            Ok(None) => {
                if let Some(skipped) = throttle.flush() {
                    tracing::info!("... and {skipped} more messages (not logged one by one)");
                }
                tracing::info!(messages = served, "client disconnected");
                return;
            }
            Err(e) => {
                tracing::warn!("dropping this client: {e}");
                return;
            }
        };
        let mode = reader.mode().unwrap_or(Mode::Raw);
        if !announced {
            announced = true;
            match mode {
                Mode::Framed => tracing::info!("client speaks sister's framing (first byte 0x01)"),
                Mode::Raw => {
                    tracing::info!("client speaks the course's raw convention: each read is one message")
                }
            }
        }
        served += 1;
        let (log_it, skipped) = throttle.admit(std::time::Instant::now());
        if let Some(skipped) = skipped {
            tracing::info!("... and {skipped} more messages in the last second (not logged one by one)");
        }
        if log_it {
            tracing::info!("received \"{}\"", preview(&message, 80));
        }
        let answer = reply(&message);
        if let Err(e) = write_message(&mut w, mode, &answer).await {
            tracing::warn!("cannot answer, dropping this client: {e}");
            return;
        }
        if log_it {
            tracing::info!("sent \"{}\"", preview(&answer, 80));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replies_like_the_course() {
        assert_eq!(super::reply(b"hello"), b"Echo: hello");
        assert_eq!(super::reply(b"\xff"), b"Echo: \xff");
    }
}
