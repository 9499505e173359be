//! sister's own HTTP/1.1 server loop, under `sister rpc server` and `sister soap server`.
//!
//! One task per connection (on [`crate::accept_loop::serve`], like every server of the lab):
//! ```text
//!   read what the socket has ──► Decoder: whole requests out of the buffer (wire::http)
//!        ▲                              │ each one
//!        │                              ▼
//!        └──── write all answers ◄── Service::call(&Request) -> Response, encoded behind the others
//! ```
//! Why not hyper, as the REST server uses through axum: these two services answer each request
//! synchronously from its whole body, so the general machinery (a body stream and a future per request,
//! header maps, a router) is work a JSON-RPC or SOAP call never needs. Measured with `bench/http.sh`, the
//! JSON-RPC server went from ~6-7 µs of CPU per request on hyper + axum to ~4 µs (a loop that answers a
//! fixed text without parsing anything takes ~3 µs); see ARCHITECTURE.md and bench/RESULTS-http.md.
//!
//! What the loop does for the protocol (the rules themselves are in [`wire::http`]):
//! - answers pipelined requests in order, all the answers of one read in one write;
//! - keeps the connection for the next request, or closes it after the answer when the request says so
//!   (`Connection: close`, HTTP/1.0 without keep-alive) or was refused;
//! - writes `100 Continue` when a client waits for it before sending the body;
//! - closes politely: after the last answer it stops writing and reads (and drops) what the client was
//!   still sending for a moment, so the client gets the answer instead of a reset (RFC 9112 §9.6);
//! - on Ctrl+C, closes idle connections at once and lets a request in progress finish.
//!
//! With `--tls-cert` the loop runs unchanged on the TLS stream ([`super::https::ServerTls::accept`]
//! wraps the accepted TCP stream first): it reads and writes plaintext, rustls the records.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use wire::http::{encode_response, Answering, Decoder, Limits, Progress, Refusal, Request, Response};

use super::https::ServerTls;
use crate::accept_loop::{self, Limits as ServerLimits};
use crate::shutdown::Signal;

/// What a server does with each request.
pub trait Service: Send + Sync + 'static {
    /// Answer one whole request.
    fn call(&self, req: &Request) -> Response;

    /// Answer a request refused before it was whole (too large, broken framing); the connection closes
    /// after this answer. By default: the status with the reason as plain text.
    fn refused(&self, why: &Refusal) -> Response {
        Response::new(why.status(), "text/plain; charset=utf-8", format!("{why}\n"))
    }
}

/// How long a closing connection keeps reading what the client still sends (see the module's notes).
const LINGER: Duration = Duration::from_secs(2);
/// Read at least this much room at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Serve `service` on `listener` until `shutdown`, one task per connection; in HTTPS with `tls`.
pub async fn serve<S: Service>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: Signal,
    tls: Option<ServerTls>,
    http: Limits,
    service: S,
) -> io::Result<()> {
    super::announce(&listener, tls.as_ref());
    let service = Arc::new(service);
    accept_loop::serve(listener, limits, shutdown, move |stream, _peer, sd| {
        let service = service.clone();
        let tls = tls.clone();
        async move {
            tracing::debug!("connection opened");
            let result = match tls {
                None => connection(stream, &*service, http, sd).await,
                Some(tls) => match tls.accept(stream).await {
                    Some(stream) => connection(stream, &*service, http, sd).await,
                    None => return,
                },
            };
            match result {
                Ok(()) => tracing::debug!("connection closed"),
                Err(e) => tracing::debug!("connection ended: {e}"),
            }
        }
    })
    .await
}

/// The `Date` value, formatted again only when the second changes.
#[derive(Default)]
struct Clock {
    second: u64,
    text: String,
}

impl Clock {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

async fn connection<S: Service, IO: AsyncRead + AsyncWrite + Unpin>(
    mut stream: IO,
    service: &S,
    limits: Limits,
    mut sd: Signal,
) -> io::Result<()> {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut clock = Clock::default();
    let mut stopping = false;
    let stop = sd.recv();
    tokio::pin!(stop);
    loop {
        // Answer every request that is whole; stop at the first that asks to close the connection.
        let mut close = false;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Progress::Request(req)) => {
                    let resp = service.call(&req);
                    close = !req.keep_alive || stopping;
                    let how = Answering {
                        version: req.version,
                        keep_alive: !close,
                        head_only: req.method() == "HEAD",
                        date: clock.now(),
                    };
                    encode_response(&mut out, &resp, how);
                    if close {
                        break;
                    }
                }
                Ok(Progress::Continue) => {
                    out.extend_from_slice(wire::http::CONTINUE);
                    break;
                }
                Ok(Progress::Incomplete) => break,
                Err(why) => {
                    tracing::debug!("request refused: {why}");
                    let resp = service.refused(&why);
                    let how = Answering {
                        version: wire::http::Version::Http11,
                        keep_alive: false,
                        head_only: false,
                        date: clock.now(),
                    };
                    encode_response(&mut out, &resp, how);
                    close = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close || (stopping && decoder.is_idle() && buf.is_empty()) {
            return linger(stream).await;
        }
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            r = stream.read_buf(&mut buf) => r?,
            _ = &mut stop, if !stopping => {
                // Ctrl+C: an idle connection closes now; one with a request under way finishes it.
                stopping = true;
                continue;
            }
        };
        if read == 0 {
            if !decoder.is_idle() || !buf.is_empty() {
                tracing::debug!("the client closed in the middle of a request");
            }
            return Ok(());
        }
    }
}

/// Close after the last answer without resetting it: stop writing (FIN), then read and drop whatever
/// the client still sends, until it closes too or [`LINGER`] is over. Closing a socket with unread
/// bytes makes the kernel send a reset, which can destroy the answer before the client has read it.
/// (On TLS, `shutdown` sends the close_notify alert first, RFC 8446 §6.1.)
async fn linger<IO: AsyncRead + AsyncWrite + Unpin>(mut stream: IO) -> io::Result<()> {
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    Ok(())
}
