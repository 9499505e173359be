//! The UDP client: one datagram and its answer (with a timeout and retries), or a numbered flood that
//! reports what UDP lost, duplicated and reordered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use wire::escape::show;

use super::state::{numbered, Tally};
use crate::console::Say;
use crate::net::{self, NetError};

/// The course client's datagram.
pub const DEFAULT_MESSAGE: &str = "Hello, UDP server2!";

/// Why the client gave up.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("UDP socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("nothing listens on {0}: the host answered \"port unreachable\" (ICMP). Is the server running?")]
    Refused(SocketAddr),
    #[error("no reply from {server} after {tries} tries of {timeout:?} each. UDP does not retransmit: the datagram or its reply was lost, or no server runs there")]
    NoReply {
        server: SocketAddr,
        tries: u32,
        timeout: Duration,
    },
}

/// Where to send and how patiently to wait.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How many times to send again after a timeout.
    pub retries: u32,
    /// Keep retrying name resolution for this long (compose: the server's name appears late).
    pub wait: Duration,
}

/// The flood mode: `count` datagrams of `size` bytes at `rate` per second (0 = as fast as possible).
#[derive(Debug, Clone)]
pub struct Flood {
    pub count: u64,
    pub size: usize,
    pub rate: f64,
}

async fn open(config: &Config) -> Result<(UdpSocket, SocketAddr), UdpError> {
    let start = Instant::now();
    let server = loop {
        match net::resolve(&config.server).await {
            // UDP has no connection attempt to fall back on: prefer IPv4 (as the course's AF_INET socket
            // does), since `localhost` may resolve to ::1 first while the server listens on 0.0.0.0.
            Ok(addrs) => break addrs.iter().copied().find(|a| a.is_ipv4()).unwrap_or(addrs[0]),
            Err(e @ NetError::BadAddress(_)) => return Err(e.into()),
            Err(e) if start.elapsed() >= config.wait => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let local = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).await?;
    // `connect` on UDP sends nothing: it fixes the peer, so the kernel can report an ICMP "port
    // unreachable" to us as an error, and drops datagrams from anyone else.
    socket.connect(server).await?;
    Ok((socket, server))
}

fn refused(e: std::io::Error, server: SocketAddr) -> UdpError {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        UdpError::Refused(server)
    } else {
        UdpError::Io(e)
    }
}

/// Send one datagram and return the reply, retrying after each timeout.
#[tracing::instrument(name = "udp-client", skip_all)]
pub async fn send_one(config: &Config, message: &[u8], say: &dyn Say) -> Result<Vec<u8>, UdpError> {
    let (socket, server) = open(config).await?;
    tracing::info!(%server, local = %socket.local_addr()?, "sending one datagram (no connection, no handshake)");
    let mut buf = vec![0u8; 65_535];
    let tries = config.retries + 1;
    for attempt in 1..=tries {
        socket.send(message).await.map_err(|e| refused(e, server))?;
        tracing::info!("sent \"{}\" (try {attempt} of {tries})", show(message));
        match tokio::time::timeout(config.timeout, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let reply = buf[..n].to_vec();
                say.say(&format!("Received: {}", show(&reply)));
                return Ok(reply);
            }
            Ok(Err(e)) => {
                let e = refused(e, server);
                if matches!(e, UdpError::Refused(_)) && attempt < tries {
                    tracing::warn!("{e}; trying again");
                    tokio::time::sleep(config.timeout.min(Duration::from_millis(500))).await;
                    continue;
                }
                return Err(e);
            }
            Err(_) => tracing::warn!(
                "no reply within {:?}: the datagram or its reply is lost",
                config.timeout
            ),
        }
    }
    Err(UdpError::NoReply {
        server,
        tries,
        timeout: config.timeout,
    })
}

/// Send `flood.count` numbered datagrams and tally the replies.
#[tracing::instrument(name = "udp-client", skip_all)]
pub async fn flood(config: &Config, flood: &Flood, say: &dyn Say) -> Result<Tally, UdpError> {
    let (socket, server) = open(config).await?;
    let socket = Arc::new(socket);
    tracing::info!(
        %server,
        count = flood.count,
        size = flood.size,
        rate = flood.rate,
        "sending numbered datagrams; every reply carries its number back"
    );
    let tally = Arc::new(std::sync::Mutex::new(Tally::new()));
    let receiver = {
        let socket = socket.clone();
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                match socket.recv(&mut buf).await {
                    Ok(n) => {
                        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                        t.received(&buf[..n]);
                    }
                    // Refusals (no server yet) are counted as losses by the tally.
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
        })
    };
    let start = Instant::now();
    let period = (flood.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / flood.rate));
    for seq in 0..flood.count {
        if let Some(p) = period {
            let due = start + p.mul_f64(seq as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        match socket.send(&numbered(seq, flood.size)).await {
            Ok(_) => {}
            // Refused (ICMP from an earlier datagram) or a full send buffer: the datagram is lost,
            // which is what UDP does; count it as sent and go on.
            Err(e) => tracing::debug!("send of #{seq} failed: {e}"),
        }
        tally.lock().unwrap_or_else(|p| p.into_inner()).sent_one();
        if period.is_none() && seq % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    tracing::info!(elapsed = ?start.elapsed(), "all sent; waiting {:?} for late replies", config.timeout);
    let deadline = Instant::now() + config.timeout;
    while Instant::now() < deadline {
        if tally.lock().unwrap_or_else(|p| p.into_inner()).complete() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.abort();
    let tally = tally.lock().unwrap_or_else(|p| p.into_inner()).clone();
    say.say(&tally.summary());
    Ok(tally)
}
