//! The skeleton every TCP server of the lab runs on.
//!
//! ```text
//!   accept ──► (permit from the connection limit) ──► spawn handler(stream, peer, shutdown)
//!      ▲                                                    │
//!      └──────────── until Ctrl+C / SIGTERM ◄───────────────┘
//!   then: stop accepting, tell the handlers, wait up to `grace`, abort what is left, return.
//! ```
//!
//! The pattern supplies only the handler: what to do with one connection; the skeleton runs it inside a
//! span `conn{peer=IP:PORT}` (plus `client=...` if the handler records who the client says it is), so
//! the handler need not name its peer in every log line. What to notice: the limit is
//! taken *before* `accept`, so a server at its limit leaves new clients waiting in the kernel's backlog
//! instead of accepting and dropping them (mini-redis does the same).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::shutdown::Signal;

/// Limits of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// After Ctrl+C, how long open connections may take to finish before they are cut.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            grace: Duration::from_secs(5),
        }
    }
}

pin_project_lite::pin_project! {
    /// One connection's task: the handler's future and the permit it holds (dropped with it, when the
    /// connection ends). A struct rather than `async move { fut.await; drop(permit) }`: an async block
    /// keeps its captured `fut` *and* the `fut` it awaits, so every connection task would hold the
    /// handler's future twice (memory per idle connection; see `bench/mqtt.sh`).
    struct Connection<F> {
        #[pin]
        handler: F,
        _permit: OwnedSemaphorePermit,
    }
}

impl<F: Future<Output = ()>> Future for Connection<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().handler.poll(cx)
    }
}

/// Accept connections on `listener` and run `handler` for each in its own task until `shutdown` fires.
///
/// The handler gets its own clone of the shutdown signal so it can finish its current message and
/// close politely. Returns once every connection has finished or the grace period is over.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: Limits,
    mut shutdown: Signal,
    handler: H,
) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr, Signal) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let local = listener.local_addr()?;
    tracing::info!(%local, "listening");
    loop {
        // Reap finished tasks so the set does not grow with every connection ever served.
        while tasks.try_join_next().is_some() {}

        let permit = tokio::select! {
            _ = shutdown.recv() => break,
            p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
        };
        if permits.available_permits() == 0 {
            tracing::warn!(
                limit = limits.max_connections,
                "connection limit reached; new clients wait"
            );
        }
        let (stream, peer) = tokio::select! {
            _ = shutdown.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: say so, breathe, go on.
                    tracing::error!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Every log line of this connection carries `peer=IP:PORT`, under the server's role span
        // (`reqresp-server{}:conn{peer=...}`), so a student can tell the clients apart. A pattern
        // whose clients name themselves fills in `client` once they have (the MQTT client id).
        let span = tracing::info_span!("conn", %peer, client = tracing::field::Empty);
        let fut = span.in_scope(|| handler(stream, peer, shutdown.clone()));
        tasks.spawn(
            Connection {
                handler: fut,
                _permit: permit,
            }
            .instrument(span),
        );
    }

    drop(listener);
    let open = tasks.len();
    if open > 0 {
        tracing::info!(open, grace = ?limits.grace, "stopped accepting; waiting for open connections");
    }
    let drained =
        tokio::time::timeout(limits.grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "grace period over; closing the remaining connections"
        );
        tasks.shutdown().await;
    }
    tracing::info!("server stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shutdown;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_once(mut s: TcpStream, _peer: SocketAddr, _sd: Signal) {
        let mut buf = [0u8; 16];
        if let Ok(n) = s.read(&mut buf).await {
            let _ = s.write_all(&buf[..n]).await;
        }
    }

    #[tokio::test]
    async fn serves_then_stops_on_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, signal) = shutdown::channel();
        let server = tokio::spawn(serve(listener, Limits::default(), signal, echo_once));
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        trigger.trigger();
        server.await.unwrap().unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "listener must be closed after shutdown"
        );
    }

    #[tokio::test]
    async fn grace_period_cuts_stuck_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, signal) = shutdown::channel();
        let limits = Limits {
            max_connections: 4,
            grace: Duration::from_millis(200),
        };
        // A handler that never finishes on its own.
        let server = tokio::spawn(serve(listener, limits, signal, |s: TcpStream, _, _| async move {
            let _keep = s;
            std::future::pending::<()>().await
        }));
        let _c = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
