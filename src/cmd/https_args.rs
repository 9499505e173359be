//! Flags shared by the HTTP patterns (REST, JSON-RPC, SOAP) for HTTPS: the servers' `--tls-cert` and
//! `--tls-key`, the clients' `--cacert` and `--insecure` (curl's names).

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use patterns::http::https::{self, ServerTls};
use patterns::http::{Scheme, Server};
use patterns::tls::TlsConnector;

/// `--tls-cert FILE --tls-key FILE`: serve HTTPS instead of HTTP, on the same port.
#[derive(Debug, Args)]
pub struct ServerTlsArgs {
    /// Serve HTTPS with this certificate (PEM, the server's certificate first), e.g. DIR/server.crt
    /// from `sister ca init DIR`
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The server's TLS, or `None` for plain HTTP. Reads the files now, so a bad file stops the
    /// server before it listens.
    pub fn load(&self) -> anyhow::Result<Option<ServerTls>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => match ServerTls::from_files(cert, key) {
                Ok(tls) => Ok(Some(tls)),
                Err(e) => bail!("cannot serve HTTPS: {e}"),
            },
            _ => Ok(None),
        }
    }
}

/// `--cacert FILE`, `--insecure`: how a client checks an https:// server.
#[derive(Debug, Args)]
pub struct ClientTlsArgs {
    /// For https:// servers: trust the CA in FILE (PEM), as curl --cacert; e.g. DIR/ca.crt from
    /// `sister ca init DIR`. Without it the system's CAs are trusted
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// For https:// servers: do not check that the certificate names the host connected to. Unlike
    /// curl's -k the certificate must still be signed by a trusted CA (mosquitto_pub's --insecure)
    #[arg(long)]
    pub insecure: bool,
}

impl ClientTlsArgs {
    /// The TLS connector, if the flags ask for anything other than the system's CAs (those are
    /// loaded only when an https:// server is called).
    pub fn connector(&self) -> anyhow::Result<Option<TlsConnector>> {
        if self.cacert.is_none() && !self.insecure {
            return Ok(None);
        }
        match https::client_tls(self.cacert.clone(), self.insecure) {
            Ok(tls) => Ok(Some(tls)),
            Err(e) => bail!("cannot set up TLS: {e}"),
        }
    }

    /// A `--server` value (`HOST:PORT`, `http://...` or `https://...`) with these TLS settings.
    pub fn server(&self, server: &str) -> anyhow::Result<Server> {
        let parsed = Server::parse(server)?;
        if parsed.scheme == Scheme::Http && (self.cacert.is_some() || self.insecure) {
            bail!(
                "--cacert and --insecure are for https:// servers, and `{server}` is plain HTTP: write --server https://{}",
                parsed.authority
            );
        }
        Ok(parsed.with_tls(self.connector()?))
    }
}
