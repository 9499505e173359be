//! HTTP/1.1 plumbing shared by REST, JSON-RPC and SOAP: two ways of serving on the lab's server
//! skeleton, and a one-request-per-connection client.
//!
//! Serving: every connection runs on [`crate::server::serve`] (connection limit, Ctrl+C with a grace
//! period, a `peer` field on every log line of that connection).
//! - [`serve`]: hyper speaks HTTP/1.1 (keep-alive, chunked bodies, HTTP/1.0 clients) and an axum router
//!   dispatches each request: the REST server, whose routes and query strings are what axum is for.
//! - [`server::serve`]: sister's own HTTP/1.1 loop on the [`wire::http`] codec, for services that answer
//!   a whole request at once: the JSON-RPC and SOAP servers (why: [`server`]).
//!
//! Calling: [`request`] opens a new TCP connection for each call, as the course's `requests` and zeep
//! do, so a capture shows one handshake per call. It goes through [`crate::net::connect_tcp`], so a
//! client waits for a server that is still starting (`--wait`) and says clearly when none is there. It
//! reads answers framed by Content-Length, by chunks, or (as the course's HTTP/1.0 BaseHTTPServer sends
//! them) by the server closing the connection.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub mod server;

use crate::net::{self, NetError};
use crate::server::Limits;
use crate::shutdown::Signal;

/// Serve `router` on `listener` until `shutdown`, one task per connection.
pub async fn serve(
    listener: TcpListener,
    limits: Limits,
    shutdown: Signal,
    router: Router,
) -> io::Result<()> {
    // The skeleton already runs each connection inside a `conn{peer=...}` span.
    crate::server::serve(listener, limits, shutdown, move |stream, _peer, mut sd| {
        let service = TowerToHyperService::new(router.clone());
        async move {
            tracing::debug!("connection opened");
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = sd.recv() => {
                    // Finish the request in flight, then close (no new request on this connection).
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            match result {
                Ok(()) => tracing::debug!("connection closed"),
                Err(e) => tracing::debug!("connection ended: {e}"),
            }
        }
    })
    .await
}

/// An `http://host:port/path?query` address, the only kind the lab's clients call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `host:port` (port 80 when the URL has none).
    pub authority: String,
    /// The path and query, `/` at least.
    pub path: String,
}

/// Why a URL cannot be called.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not an http:// URL (sister's clients speak plain HTTP; https is not supported)")]
    NotHttp(String),
    #[error("`{0}` has no host")]
    NoHost(String),
}

impl Url {
    /// Parse `http://host[:port][/path][?query]`.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("HTTP://"))
            .ok_or_else(|| UrlError::NotHttp(s.to_string()))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.starts_with(':') {
            return Err(UrlError::NoHost(s.to_string()));
        }
        // A port is there unless the authority ends in a name (IPv6 literals end in `]`).
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let authority = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Url { authority, path })
    }
}

/// What came back from a call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: hyper::StatusCode,
    pub version: hyper::Version,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text for a human (invalid UTF-8 escaped).
    pub fn text(&self) -> String {
        wire::text::show(&self.body)
    }
}

/// Why a call failed before an HTTP answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("HTTP exchange with {addr} failed: {source}")]
    Http { addr: String, source: hyper::Error },
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("the answer from {addr} is larger than {limit} bytes")]
    TooLarge { addr: String, limit: usize },
    #[error("bad request: {0}")]
    Build(#[from] hyper::http::Error),
}

/// Largest answer a client reads.
pub const MAX_REPLY: usize = 8 * 1024 * 1024;

/// One HTTP/1.1 request on a new connection to `addr` (`host:port`), with `timeout` for the whole
/// exchange once connected. `wait` is how long to keep retrying the connection (`--wait`).
pub async fn request(
    addr: &str,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    wait: Duration,
    timeout: Duration,
) -> Result<Reply, CallError> {
    let stream = net::connect_tcp(addr, wait).await?;
    let peer: Option<SocketAddr> = stream.peer_addr().ok();
    tracing::debug!(?peer, %method, path, "connected; sending the request");
    let http = |source| CallError::Http {
        addr: addr.to_string(),
        source,
    };
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // The connection task drives the socket; it ends when the answer is read.
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, addr)
            .header(
                hyper::header::USER_AGENT,
                concat!("sister/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body))?;
        let resp: hyper::Response<Incoming> = sender.send_request(req).await.map_err(http)?;
        let status = resp.status();
        let version = resp.version();
        let content_type = resp
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = axum::body::to_bytes(Body::new(resp.into_body()), MAX_REPLY)
            .await
            .map_err(|_| CallError::TooLarge {
                addr: addr.to_string(),
                limit: MAX_REPLY,
            })?;
        driver.abort();
        Ok(Reply {
            status,
            version,
            content_type,
            body: body.to_vec(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CallError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_urls_clients_meet() {
        let u = Url::parse("http://soap-server:8000/?wsdl").unwrap();
        assert_eq!(u.authority, "soap-server:8000");
        assert_eq!(u.path, "/?wsdl");
        let u = Url::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(u.path, "/");
        let u = Url::parse("http://example?wsdl").unwrap();
        assert_eq!(u.authority, "example:80");
        assert_eq!(u.path, "/?wsdl");
        let u = Url::parse("http://[::1]:8000/x").unwrap();
        assert_eq!(u.authority, "[::1]:8000");
        assert!(Url::parse("https://x/").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("ftp://x").is_err());
    }
}
