//! HTTP/1.1 plumbing shared by REST, JSON-RPC and SOAP: two ways of serving on the lab's server
//! skeleton, and a one-request-per-connection client; each in plain HTTP or in HTTPS ([`https`]).
//!
//! Serving: every connection runs on [`crate::accept_loop::serve`] (connection limit, Ctrl+C with a grace
//! period, a `peer` field on every log line of that connection). With `--tls-cert`/`--tls-key` the
//! connection task first runs the TLS handshake on the accepted TCP stream ([`https::ServerTls::accept`])
//! and then serves the TLS stream exactly as it would have served the TCP one.
//! - [`serve`]: hyper speaks HTTP/1.1 (keep-alive, chunked bodies, HTTP/1.0 clients) and an axum router
//!   dispatches each request: the REST server, whose routes and query strings are what axum is for.
//! - [`server::serve`]: sister's own HTTP/1.1 loop on the [`wire::http`] codec, for services that answer
//!   a whole request at once: the JSON-RPC and SOAP servers (why: [`server`]).
//!
//! Calling: [`request`] opens a new TCP connection for each call, as the course's `requests` and zeep
//! do, so a capture shows one handshake per call. It goes through [`crate::net::connect_tcp`], so a
//! client waits for a server that is still starting (`--wait`) and says clearly when none is there. It
//! reads answers framed by Content-Length, by chunks, or (as the course's HTTP/1.0 BaseHTTPServer sends
//! them) by the server closing the connection. For an `https://` server it runs the TLS handshake on
//! the new connection first and checks the server's certificate ([`https::client_tls`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

pub mod https;
pub mod server;

use crate::accept_loop::Limits;
use crate::net::{self, NetError};
use crate::shutdown::Signal;
use crate::tls::{self, TlsConnector, TlsError};

/// Serve `router` on `listener` until `shutdown`, one task per connection; in HTTPS with `tls`.
pub async fn serve(
    listener: TcpListener,
    limits: Limits,
    shutdown: Signal,
    tls: Option<https::ServerTls>,
    router: Router,
) -> io::Result<()> {
    announce(&listener, tls.as_ref());
    // The skeleton already runs each connection inside a `conn{peer=...}` span.
    crate::accept_loop::serve(listener, limits, shutdown, move |stream, _peer, sd| {
        let service = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        async move {
            tracing::debug!("connection opened");
            let result = match tls {
                None => serve_hyper(stream, service, sd).await,
                Some(tls) => match tls.accept(stream).await {
                    Some(stream) => serve_hyper(stream, service, sd).await,
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

/// The start-up line of an HTTPS server: the URL to call and the names its certificate holds (the
/// skeleton's `listening` line follows). On `0.0.0.0` the URL says `localhost`: a client must use a
/// name the certificate holds, and no certificate names 0.0.0.0.
fn announce(listener: &TcpListener, tls: Option<&https::ServerTls>) {
    if let (Some(tls), Ok(local)) = (tls, listener.local_addr()) {
        let url = if local.ip().is_unspecified() {
            format!("https://localhost:{}/", local.port())
        } else {
            format!("https://{local}/")
        };
        tracing::info!("serving HTTPS at {url} ({})", tls.describe());
    }
}

/// One connection served by hyper, over TCP or over TLS.
async fn serve_hyper<IO>(
    stream: IO,
    service: TowerToHyperService<Router>,
    mut sd: Signal,
) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r,
        _ = sd.recv() => {
            // Finish the request in flight, then close (no new request on this connection).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// `http` or `https`: plain TCP, or TLS on TCP (RFC 9110 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The port of a URL that names none (RFC 9110 §4.2.1, §4.2.2).
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// An `http://host:port/path?query` or `https://...` address, the kinds the lab's clients call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// `host:port` (port 80, or 443 for https, when the URL has none).
    pub authority: String,
    /// The path and query, `/` at least.
    pub path: String,
}

/// Why a URL cannot be called.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not an http:// or https:// URL")]
    NotHttp(String),
    #[error("`{0}` has no host")]
    NoHost(String),
    #[error("`{0}` is not HOST:PORT, http://HOST:PORT or https://HOST:PORT")]
    NotAServer(String),
}

impl Url {
    /// Parse `http[s]://host[:port][/path][?query]`.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            (Scheme::Https, &s[8..])
        } else if lower.starts_with("http://") {
            (Scheme::Http, &s[7..])
        } else {
            return Err(UrlError::NotHttp(s.to_string()));
        };
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
            format!("{authority}:{}", scheme.default_port())
        };
        Ok(Url {
            scheme,
            authority,
            path,
        })
    }
}

/// A server a client calls: `http` or `https`, its `host:port`, and for https the TLS connector
/// that checks its certificate (without one, the system's CAs are trusted, as curl does).
#[derive(Clone)]
pub struct Server {
    pub scheme: Scheme,
    pub authority: String,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority)
    }
}

impl Server {
    /// A `--server` value: `HOST:PORT` (plain HTTP, as the lab always called it), or
    /// `http://HOST:PORT` or `https://HOST:PORT` (a trailing `/` is allowed, a path is not).
    pub fn parse(s: &str) -> Result<Server, UrlError> {
        if !s.contains("://") {
            return Ok(Server {
                scheme: Scheme::Http,
                authority: s.to_string(),
                tls: None,
            });
        }
        let url = Url::parse(s)?;
        if url.path != "/" {
            return Err(UrlError::NotAServer(s.to_string()));
        }
        Ok(Server::of(&url))
    }

    /// The server of a URL.
    pub fn of(url: &Url) -> Server {
        Server {
            scheme: url.scheme,
            authority: url.authority.clone(),
            tls: None,
        }
    }

    /// Check an https server's certificate with `tls` (from [`https::client_tls`]).
    pub fn with_tls(mut self, tls: Option<TlsConnector>) -> Server {
        self.tls = tls;
        self
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
    /// The body as text for a human (invalid UTF-8 escaped), without its final newline.
    pub fn text(&self) -> String {
        wire::escape::show(self.body.trim_ascii_end())
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
    #[error("TLS with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    #[error(transparent)]
    TlsSetup(#[from] TlsError),
}

/// Largest answer a client reads.
pub const MAX_REPLY: usize = 8 * 1024 * 1024;

/// One HTTP/1.1 request on a new connection to `server`, with `timeout` for the whole exchange once
/// connected (the TLS handshake included). `wait` is how long to keep retrying the connection
/// (`--wait`).
pub async fn request(
    server: &Server,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    wait: Duration,
    timeout: Duration,
) -> Result<Reply, CallError> {
    let addr = server.authority.as_str();
    // An https server without a connector from the command line: the system's CAs, as curl.
    let connector = match (server.scheme, &server.tls) {
        (Scheme::Http, _) => None,
        (Scheme::Https, Some(c)) => Some(c.clone()),
        (Scheme::Https, None) => Some(https::client_tls(None, false)?),
    };
    let stream = net::connect_tcp(addr, wait).await?;
    let peer: Option<SocketAddr> = stream.peer_addr().ok();
    tracing::debug!(?peer, %method, path, "connected; sending the request");
    let call = Call {
        addr,
        method,
        path,
        headers,
        body,
    };
    let exchange = async {
        match connector {
            None => call.exchange(stream).await,
            Some(connector) => {
                let name = tls::server_name(addr)?;
                let tls_err = |e: io::Error| CallError::Tls {
                    addr: addr.to_string(),
                    reason: https::explain_client(&e),
                };
                let stream = connector.connect(name, stream).await.map_err(tls_err)?;
                tracing::debug!(
                    version = ?stream.get_ref().1.protocol_version(),
                    "TLS handshake done"
                );
                call.exchange(stream).await
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CallError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
}

/// The request of [`request`], sent on a connection (TCP or TLS).
struct Call<'a> {
    addr: &'a str,
    method: hyper::Method,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: Vec<u8>,
}

impl Call<'_> {
    async fn exchange<IO>(self, stream: IO) -> Result<Reply, CallError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let addr = self.addr;
        let http = |source| CallError::Http {
            addr: addr.to_string(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // The connection task drives the socket; it ends when the answer is read.
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::builder()
            .method(self.method)
            .uri(self.path)
            .header(hyper::header::HOST, addr)
            .header(
                hyper::header::USER_AGENT,
                concat!("sister/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in self.headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(self.body))?;
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
    }
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
        assert_eq!(u.scheme, Scheme::Http);
        let u = Url::parse("https://soap-server:8000/?wsdl").unwrap();
        assert_eq!(
            (u.scheme, u.authority.as_str()),
            (Scheme::Https, "soap-server:8000")
        );
        let u = Url::parse("HTTPS://x/").unwrap();
        assert_eq!((u.scheme, u.authority.as_str()), (Scheme::Https, "x:443"));
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http").is_err());
    }

    #[test]
    fn server_addresses() {
        let s = Server::parse("127.0.0.1:5151").unwrap();
        assert_eq!(s.to_string(), "http://127.0.0.1:5151");
        let s = Server::parse("https://localhost:5151/").unwrap();
        assert_eq!(
            (s.scheme, s.authority.as_str()),
            (Scheme::Https, "localhost:5151")
        );
        assert_eq!(
            Server::parse("https://rest-server").unwrap().authority,
            "rest-server:443"
        );
        assert!(Server::parse("https://localhost:5151/add").is_err());
        assert!(Server::parse("ftp://x:1").is_err());
    }
}
