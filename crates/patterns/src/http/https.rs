//! HTTPS: the same HTTP/1.1, inside TLS (RFC 2818; the `https` scheme of RFC 9110 §4.2.2).
//!
//! Nothing of HTTP changes. The server accepts a TCP connection as before, then runs the TLS handshake
//! on it, and hands the TLS stream to the same HTTP code (hyper for REST, sister's own loop for JSON-RPC
//! and SOAP): [`ServerTls::accept`] is that one step, in both servers' connection tasks. The client
//! connects, runs the handshake, checks that the server's certificate is signed by a CA it trusts and
//! names the host of the URL (RFC 2818 §3.1, RFC 6125), then sends the same request
//! ([`super::request`]).
//!
//! What to notice in a capture of port 5151 with `--tls-cert`: after the TCP handshake the first bytes
//! are a TLS ClientHello (record type 22, `16 03 01`), with the host name in its SNI extension and
//! `http/1.1` in its ALPN extension (RFC 7301); then Application Data records only. The request line,
//! the headers and the JSON are no longer readable; the host name (SNI) and the sizes still are.
//!
//! A plain `http://` request sent to an HTTPS port is answered, before any TLS, with a plain-text
//! `400` saying to use `https://` (as nginx does), so curl shows why instead of "empty reply".

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::tls::{self, TlsAcceptor, TlsConnector, TlsError};

/// The protocol both sides name in ALPN: sister's HTTP is HTTP/1.1 only.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, content type 22).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A server's TLS: built once from `--tls-cert` and `--tls-key`, cloned into each connection task.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    /// The certificate file and the names it holds, for the start-up line.
    cert: PathBuf,
    names: Vec<String>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Read the certificate (chain) and its key: PEM, the key PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let mut options = tls::ServerTls::new(cert, key);
        options.alpn = vec![ALPN_HTTP11.to_vec()];
        let acceptor = options.acceptor()?;
        let names = tls::load_certs(cert)?
            .first()
            .and_then(|c| crate::ca::x509::parts(c).map(|p| p.alt_names()))
            .unwrap_or_default();
        Ok(ServerTls {
            acceptor,
            cert: cert.to_path_buf(),
            names,
        })
    }

    /// For the start-up line: the certificate and the names clients may connect by.
    pub fn describe(&self) -> String {
        if self.names.is_empty() {
            format!(
                "certificate {} (it has no subjectAltName: clients will refuse it for every name)",
                self.cert.display()
            )
        } else {
            format!(
                "certificate {} for {}",
                self.cert.display(),
                self.names.join(", ")
            )
        }
    }

    /// The TLS handshake on a connection just accepted. `None` when it failed (logged in one line;
    /// the server goes on with its other clients) or when the client spoke plain HTTP (answered
    /// with a 400 that says to use https://).
    pub async fn accept(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
            Ok(Ok(1..)) if first[0] != TLS_HANDSHAKE_RECORD => {
                tracing::info!("plain HTTP on the HTTPS port: answered 400 (use https://)");
                let _ = refuse_plain_http(stream).await;
                return None;
            }
            Ok(Ok(0)) => {
                // Connected and closed without a byte: a port check, not a TLS client.
                tracing::debug!("connection closed before TLS");
                return None;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!("connection ended before TLS: {e}");
                return None;
            }
            Err(_) => {
                tracing::info!("no TLS handshake within {HANDSHAKE_TIMEOUT:?}; closing");
                return None;
            }
        }
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                tracing::debug!(
                    version = ?session.protocol_version(),
                    sni = session.server_name().unwrap_or("-"),
                    "TLS handshake done"
                );
                Some(tls)
            }
            Ok(Err(e)) => {
                tracing::info!("TLS handshake failed: {}", tls::explain(&e));
                None
            }
            Err(_) => {
                tracing::info!("no TLS handshake within {HANDSHAKE_TIMEOUT:?}; closing");
                None
            }
        }
    }
}

/// Answer a plain-HTTP request on the HTTPS port, then close. The request is read first (as much as
/// arrives at once), so closing does not reset the connection before the client reads the answer.
async fn refuse_plain_http(mut stream: TcpStream) -> io::Result<()> {
    let mut sink = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sink)).await;
    let body = "This port speaks HTTPS (HTTP inside TLS): use an https:// URL.\n";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(1..) = stream.read(&mut sink).await {}
    })
    .await;
    Ok(())
}

/// One line for a client's failed TLS handshake: [`tls::explain`]'s, but naming the HTTP clients'
/// flag (`--cacert`, as curl) where it names Mosquitto's (`--cafile`).
pub fn explain_client(e: &io::Error) -> String {
    use rustls::CertificateError as C;
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(C::UnknownIssuer)) => {
            "certificate verify failed: unknown CA (the server's certificate is not signed by the CA given with --cacert, or without --cacert by one of the system's CAs)".into()
        }
        _ => tls::explain(e),
    }
}

/// A client's TLS for https:// URLs: curl's `--cacert FILE` (the CA that signed the server's
/// certificate; without it the system's CAs, as curl) and `--insecure`. sister's `--insecure` is
/// mosquitto_pub's, not curl's `-k`: the certificate must still be signed by that CA, only the check
/// that it names the host is skipped.
pub fn client_tls(cacert: Option<PathBuf>, insecure: bool) -> Result<TlsConnector, TlsError> {
    tls::ClientTls {
        cafile: cacert,
        insecure,
        alpn: vec![ALPN_HTTP11.to_vec()],
        ..tls::ClientTls::default()
    }
    .connector()
}
