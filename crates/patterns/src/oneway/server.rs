//! The one-way server: logs every message it receives; writes nothing back, ever.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wire::escape::preview;
use wire::frame::{self, Mode};

use crate::accept_loop::{serve, Limits};
use crate::framing::MessageReader;
use crate::shutdown::Signal;
use crate::throttle::LogThrottle;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    pub max_payload: usize,
    /// Also hand every received message here (used by `sister lab` to check what arrived).
    pub observer: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_payload: frame::DEFAULT_MAX_PAYLOAD,
            observer: None,
        }
    }
}

/// Serve until `shutdown` fires.
#[tracing::instrument(name = "oneway-server", skip_all)]
pub async fn run(listener: TcpListener, config: Config, shutdown: Signal) -> io::Result<()> {
    let limits = config.limits.clone();
    serve(listener, limits, shutdown, move |stream, peer, signal| {
        handle(stream, peer, signal, config.max_payload, config.observer.clone())
    })
    .await
}

async fn handle(
    stream: TcpStream,
    _peer: SocketAddr,
    mut shutdown: Signal,
    max_payload: usize,
    observer: Option<mpsc::UnboundedSender<Vec<u8>>>,
) {
    tracing::info!("client connected");
    let mut reader = MessageReader::detect(stream).max_payload(max_payload);
    let mut count = 0u64;
    // A one-way client can write far faster than a terminal can show: log 20 messages a second at most.
    let mut throttle = LogThrottle::new(20);
    let summary = |throttle: &mut LogThrottle| {
        if let Some(skipped) = throttle.flush() {
            tracing::info!("... and {skipped} more messages (not logged one by one)");
        }
    };
    loop {
        let message = tokio::select! {
            _ = shutdown.recv() => {
                summary(&mut throttle);
                tracing::info!(messages = count, "closing the connection: the server is shutting down");
                return;
            }
            m = reader.read_message() => m,
        };
        match message {
            Ok(Some(m)) => {
                count += 1;
                if count == 1 {
                    match reader.mode() {
                        Some(Mode::Framed) => {
                            tracing::info!("client speaks sister's framing (first byte 0x01)")
                        }
                        _ => tracing::info!(
                            "client speaks the course's raw convention: each read is one message"
                        ),
                    }
                }
                let (log_it, skipped) = throttle.admit(std::time::Instant::now());
                if let Some(skipped) = skipped {
                    tracing::info!(
                        "... and {skipped} more messages in the last second (not logged one by one)"
                    );
                }
                if log_it {
                    tracing::info!("received \"{}\" (no reply: one-way)", preview(&m, 80));
                }
                if let Some(o) = &observer {
                    let _ = o.send(m);
                }
            }
            Ok(None) => {
                summary(&mut throttle);
                tracing::info!(messages = count, "client disconnected");
                return;
            }
            Err(e) => {
                tracing::warn!(messages = count, "dropping this client: {e}");
                return;
            }
        }
    }
}
