//! The UDP server: one socket, no connections; answers every datagram to whoever sent it.

use std::io;
use std::time::Instant;

use tokio::net::UdpSocket;
use wire::escape::preview;

use super::state::{python_addr, reply};
use crate::shutdown::Signal;
use crate::throttle::LogThrottle;

/// The largest datagram read: UDP's own limit (65,507 bytes of payload over IPv4). The course reads
/// 1024 and silently loses the rest of a longer datagram.
const MAX_DATAGRAM: usize = 65_535;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Datagrams logged one by one per second; the rest of a flood is summarised.
    pub log_per_second: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { log_per_second: 20 }
    }
}

/// Answer datagrams until `shutdown` fires. There is nothing to drain: UDP has no connections.
#[tracing::instrument(name = "udp-server", skip_all)]
pub async fn run(socket: UdpSocket, config: Config, mut shutdown: Signal) -> io::Result<()> {
    tracing::info!(local = %socket.local_addr()?, "listening (UDP: no connections, one datagram at a time)");
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut throttle = LogThrottle::new(config.log_per_second);
    let mut count = 0u64;
    loop {
        let (n, from) = tokio::select! {
            _ = shutdown.recv() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // On Linux an ICMP "port unreachable" from an earlier reply can surface here; it
                    // concerns that one peer only.
                    tracing::debug!("receive error (ignored): {e}");
                    continue;
                }
            },
        };
        count += 1;
        let datagram = &buf[..n];
        let (log_it, skipped) = throttle.admit(Instant::now());
        if let Some(skipped) = skipped {
            tracing::info!("... and {skipped} more datagrams in the last second (not logged one by one)");
        }
        if log_it {
            tracing::info!(
                "received \"{}\" from {} ({n} bytes)",
                preview(datagram, 80),
                python_addr(from)
            );
        }
        let answer = reply(from, datagram);
        if let Err(e) = socket.send_to(&answer, from).await {
            tracing::warn!(%from, "cannot answer: {e}");
        } else if log_it {
            tracing::info!("sent \"{}\"", preview(&answer, 100));
        }
    }
    if let Some(skipped) = throttle.flush() {
        tracing::info!("... and {skipped} more datagrams (not logged one by one)");
    }
    tracing::info!(datagrams = count, "server stopped");
    Ok(())
}
