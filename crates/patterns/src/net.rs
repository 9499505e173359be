//! Binding and connecting, with errors that say what went wrong and what to do.
//!
//! Every server binds `0.0.0.0:<course port>` by default, every client connects to
//! `<compose service>:<course port>`; both are flags. Outside compose the service name does not resolve,
//! and the error says so and suggests `--server 127.0.0.1:PORT`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{lookup_host, TcpListener, TcpStream, UdpSocket};

/// What can go wrong while binding or connecting, each with the advice a student needs.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot resolve `{addr}`: {source}. Outside docker compose the service name does not exist: pass --server 127.0.0.1:PORT (or set the environment variable)")]
    Resolve { addr: String, source: io::Error },
    #[error("`{0}` is not HOST:PORT (for example 127.0.0.1:2222)")]
    BadAddress(String),
    #[error("{addr} is already in use: another server (perhaps another sister, or the course's Python server) listens there. Stop it or pass --bind with another port")]
    AddrInUse { addr: SocketAddr },
    #[error("permission denied binding {addr}: ports below 1024 need root or CAP_NET_BIND_SERVICE. Use a port above 1023")]
    BindPermission { addr: SocketAddr },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot connect to {addr} ({tried}): {source}. Is the server running? Pass --wait SECS to retry while it starts")]
    Connect {
        addr: String,
        tried: String,
        source: io::Error,
    },
    #[error("gave up connecting to {addr} after {waited:.1?}: {source}. Is the server running there?")]
    ConnectTimeout {
        addr: String,
        waited: Duration,
        source: io::Error,
    },
}

/// Resolve `HOST:PORT` (a name or an address) to socket addresses.
pub async fn resolve(addr: &str) -> Result<Vec<SocketAddr>, NetError> {
    if !addr.contains(':') {
        return Err(NetError::BadAddress(addr.to_string()));
    }
    let addrs: Vec<SocketAddr> = lookup_host(addr)
        .await
        .map_err(|source| NetError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::Resolve {
            addr: addr.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        });
    }
    Ok(addrs)
}

fn bind_error(addr: SocketAddr, source: io::Error) -> NetError {
    match source.kind() {
        io::ErrorKind::AddrInUse => NetError::AddrInUse { addr },
        io::ErrorKind::PermissionDenied => NetError::BindPermission { addr },
        _ => NetError::Bind { addr, source },
    }
}

/// Bind a TCP listener on `addr` (`HOST:PORT`; port 0 picks a free port, as the tests do).
pub async fn bind_tcp(addr: &str) -> Result<TcpListener, NetError> {
    let mut last = None;
    for a in resolve(addr).await? {
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(bind_error(a, e)),
        }
    }
    Err(last.unwrap_or_else(|| NetError::BadAddress(addr.to_string())))
}

/// Bind a UDP socket on `addr`.
pub async fn bind_udp(addr: &str) -> Result<UdpSocket, NetError> {
    let mut last = None;
    for a in resolve(addr).await? {
        match UdpSocket::bind(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(bind_error(a, e)),
        }
    }
    Err(last.unwrap_or_else(|| NetError::BadAddress(addr.to_string())))
}

/// Connect to `addr`, retrying with exponential backoff (100 ms doubling to 2 s) for up to `wait`, as a
/// client in docker compose must while its server is still starting. `wait` of zero tries once.
///
/// Name resolution is retried too: in compose the server's name appears in DNS only once its container
/// exists.
pub async fn connect_tcp(addr: &str, wait: Duration) -> Result<TcpStream, NetError> {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        let err = match resolve(addr).await {
            Ok(addrs) => match try_connect(&addrs).await {
                Ok(stream) => return Ok(stream),
                Err((tried, source)) => NetError::Connect {
                    addr: addr.to_string(),
                    tried,
                    source,
                },
            },
            Err(e @ NetError::BadAddress(_)) => return Err(e),
            Err(e) => e,
        };
        let waited = start.elapsed();
        if waited + backoff > wait {
            return Err(match (err, wait.is_zero()) {
                (NetError::Connect { source, .. }, false) => NetError::ConnectTimeout {
                    addr: addr.to_string(),
                    waited,
                    source,
                },
                (e, _) => e,
            });
        }
        tracing::debug!(%addr, ?backoff, "server not reachable yet, retrying: {err}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn try_connect(addrs: &[SocketAddr]) -> Result<TcpStream, (String, io::Error)> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    let tried = addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
    Err((tried, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_in_use_is_named() {
        let first = bind_tcp("127.0.0.1:0").await.unwrap();
        let addr = first.local_addr().unwrap().to_string();
        let err = bind_tcp(&addr).await.unwrap_err();
        assert!(matches!(err, NetError::AddrInUse { .. }), "{err}");
        assert!(err.to_string().contains("already in use"));
    }

    #[tokio::test]
    async fn missing_port_is_a_bad_address() {
        assert!(matches!(
            bind_tcp("localhost").await,
            Err(NetError::BadAddress(_))
        ));
    }

    #[tokio::test]
    async fn unreachable_server_fails_after_the_wait() {
        // Bind then drop: the port is (almost certainly) closed now.
        let port = bind_tcp("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let start = Instant::now();
        let err = connect_tcp(&format!("127.0.0.1:{port}"), Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::ConnectTimeout { .. }), "{err}");
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn wait_lets_a_late_server_be_reached() {
        let port = bind_tcp("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let late = tokio::spawn({
            let addr = addr.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let l = bind_tcp(&addr).await.unwrap();
                let _ = l.accept().await;
            }
        });
        connect_tcp(&addr, Duration::from_secs(5)).await.unwrap();
        late.await.unwrap();
    }
}
