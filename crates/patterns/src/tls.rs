//! TLS for the lab: the broker's TLS listeners, the MQTT clients' `--cafile`/`--cert` flags, HTTPS on
//! the REST, JSON-RPC and SOAP servers and `--cacert` on their clients.
//!
//! TLS itself is rustls (with the `ring` provider); this module only turns the options people know
//! from Mosquitto and curl into rustls configurations, and rustls' errors into one line a student can
//! act on ("unknown CA", "name mismatch", "expired").
//!
//! What to notice:
//! - Files are PEM, as Mosquitto and curl read them: a certificate file may hold a chain (the server's
//!   certificate first), a key file one PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
//! - `tls_version` (Mosquitto) and `--tls-version` (mosquitto_pub) name the *lowest* version allowed:
//!   `tlsv1.2` allows 1.2 and 1.3, `tlsv1.3` only 1.3 (Mosquitto's lib/net_mosq.c sets
//!   `SSL_OP_NO_TLSv1_1` and below). rustls has no TLS 1.1 or older, deliberately.
//! - `--insecure` (mosquitto_pub) skips only the check that the certificate names the host: the chain
//!   must still lead to a CA given with `--cafile`/`--capath`. curl's `-k` skips everything; the lab's
//!   clients do not offer that.
//! - A client certificate's subject common name (CN) is the username when the broker's listener has
//!   `use_identity_as_username true` ([`subject_common_name`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig};

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A TLS setup problem (a missing or unreadable file, a key that does not match), in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn err(s: impl Into<String>) -> TlsError {
    TlsError(s.into())
}

/// The lowest TLS version allowed (`tls_version` in mosquitto.conf, `--tls-version` on the clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (the default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl MinVersion {
    /// `tlsv1.2`, `tlsv1.3` (Mosquitto's spelling), or `1.2`, `1.3`.
    pub fn parse(s: &str) -> Result<MinVersion, TlsError> {
        match s.trim().to_ascii_lowercase().trim_start_matches("tlsv") {
            "1.2" => Ok(MinVersion::Tls12),
            "1.3" => Ok(MinVersion::Tls13),
            "1" | "1.0" | "1.1" => Err(err(format!(
                "TLS version `{s}` is not supported: sister speaks TLS 1.2 and 1.3 only (older versions are broken); use tlsv1.2 or tlsv1.3"
            ))),
            _ => Err(err(format!("unknown TLS version `{s}`: use tlsv1.2 or tlsv1.3"))),
        }
    }

    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static BOTH: [&rustls::SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static ONLY13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            MinVersion::Tls12 => &BOTH,
            MinVersion::Tls13 => &ONLY13,
        }
    }
}

/// rustls with `ring` (X25519 and the P-256/P-384 curves, AES-GCM and ChaCha20-Poly1305). rustls
/// 0.23.48 marks it deprecated because `ring` has no post-quantum key exchange; aws-lc-rs has one but
/// needs cmake and a C build, and Mosquitto 2.0 (OpenSSL 3.0) offers none either, so the lab loses nothing.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ---- PEM files ------------------------------------------------------------------------------------

/// Every certificate of a PEM file, in order.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| pem_err(path, "certificate", e))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, "certificate", e))?;
    if certs.is_empty() {
        return Err(err(format!(
            "{}: no certificate in this file (expected a PEM `-----BEGIN CERTIFICATE-----` block)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => err(format!(
            "{}: no private key in this file (expected a PEM `-----BEGIN PRIVATE KEY-----` block; an encrypted key must be decrypted first: openssl pkey -in KEY -out KEY.plain)",
            path.display()
        )),
        e => pem_err(path, "private key", e),
    })
}

fn pem_err(path: &Path, what: &str, e: rustls::pki_types::pem::Error) -> TlsError {
    match e {
        rustls::pki_types::pem::Error::Io(io) => {
            err(format!("cannot read {what} file {}: {io}", path.display()))
        }
        e => err(format!("{}: not a valid PEM {what} file ({e:?})", path.display())),
    }
}

/// The trust anchors of `cafile` (one PEM file, maybe several CAs) and `capath` (a directory of PEM
/// files, as `c_rehash` leaves it; every readable certificate in it counts).
pub fn load_roots(cafile: Option<&Path>, capath: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let mut add = |path: &Path, certs: Vec<CertificateDer<'static>>| -> Result<(), TlsError> {
        for c in certs {
            roots
                .add(c)
                .map_err(|e| err(format!("{}: not a usable CA certificate ({e})", path.display())))?;
        }
        Ok(())
    };
    if let Some(f) = cafile {
        add(f, load_certs(f)?)?;
    }
    if let Some(dir) = capath {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| err(format!("cannot read CA directory {}: {e}", dir.display())))?;
        let mut found = 0;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.is_file()) {
            // A directory of CAs often holds other files too (READMEs, CRLs): skip what holds no certificate.
            if let Ok(certs) = load_certs(p) {
                found += certs.len();
                add(p, certs)?;
            }
        }
        if found == 0 {
            return Err(err(format!(
                "{}: no CA certificate (PEM) in this directory",
                dir.display()
            )));
        }
    }
    Ok(roots)
}

/// Debian's bundle of public CAs, for clients given no `--cafile` (as mosquitto_pub's
/// `--tls-use-os-certs` and curl do).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

// ---- servers --------------------------------------------------------------------------------------

/// A TLS listener's files and options (Mosquitto's listener options of the same names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerTls {
    pub certfile: PathBuf,
    pub keyfile: PathBuf,
    /// CAs whose client certificates are accepted (required with `require_certificate`).
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// Refuse clients without a certificate signed by one of those CAs.
    pub require_certificate: bool,
    pub min_version: MinVersion,
    /// ALPN protocols offered (`http/1.1` for HTTPS; none for MQTT, as Mosquitto by default).
    pub alpn: Vec<Vec<u8>>,
}

impl ServerTls {
    /// A server with a certificate and its key, nothing else (HTTPS's `--tls-cert`/`--tls-key`).
    pub fn new(certfile: impl Into<PathBuf>, keyfile: impl Into<PathBuf>) -> ServerTls {
        ServerTls {
            certfile: certfile.into(),
            keyfile: keyfile.into(),
            ..ServerTls::default()
        }
    }

    /// Read the files and build rustls' configuration.
    pub fn config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = load_certs(&self.certfile)?;
        let key = load_key(&self.keyfile)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(self.min_version.versions())
            .map_err(|e| err(format!("TLS versions: {e}")))?;
        let has_ca = self.cafile.is_some() || self.capath.is_some();
        let builder = if has_ca {
            let roots = load_roots(self.cafile.as_deref(), self.capath.as_deref())?;
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            // Without require_certificate a client may still present one (and it is checked if it
            // does), as in Mosquitto.
            let verifier = if self.require_certificate {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| err(format!("client certificate checks: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else if self.require_certificate {
            return Err(err(
                "require_certificate needs cafile or capath: the CA that signs the clients' certificates",
            ));
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            err(format!(
                "{} and {} do not make a usable certificate and key: {e}",
                self.certfile.display(),
                self.keyfile.display()
            ))
        })?;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        Ok(TlsAcceptor::from(self.config()?))
    }
}

// ---- clients --------------------------------------------------------------------------------------

/// A client's TLS options (mosquitto_pub's flags; curl's `--cacert`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientTls {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// A client certificate and its key, for brokers with `require_certificate`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Do not check that the server's certificate names the host connected to.
    pub insecure: bool,
    pub min_version: MinVersion,
    /// ALPN protocols to offer.
    pub alpn: Vec<Vec<u8>>,
}

impl ClientTls {
    /// Read the files and build rustls' configuration.
    pub fn config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = if self.cafile.is_none() && self.capath.is_none() {
            let bundle = Path::new(SYSTEM_BUNDLE);
            if !bundle.exists() {
                return Err(err(format!(
                    "no CA to check the server with: give --cafile (the lab CA's ca.crt) ({SYSTEM_BUNDLE} does not exist)"
                )));
            }
            load_roots(Some(bundle), None)?
        } else {
            load_roots(self.cafile.as_deref(), self.capath.as_deref())?
        };
        let roots = Arc::new(roots);
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(self.min_version.versions())
            .map_err(|e| err(format!("TLS versions: {e}")))?;
        let builder = if self.insecure {
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| err(format!("server certificate checks: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName { inner }))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => {
                let certs = load_certs(c)?;
                let key = load_key(k)?;
                builder.with_client_auth_cert(certs, key).map_err(|e| {
                    err(format!(
                        "{} and {} do not make a usable certificate and key: {e}",
                        c.display(),
                        k.display()
                    ))
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(err("a client certificate needs both --cert and --key")),
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        Ok(TlsConnector::from(self.config()?))
    }
}

/// The name to check the server's certificate against (a host name or an IP address), from the
/// `host:port` connected to.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match addr.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| err(format!("`{host}` is not a host name TLS can check")))
}

/// `--insecure`: the chain is checked against the CAs given, the host name is not.
#[derive(Debug)]
struct AnyName {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

// ---- errors a person can act on -------------------------------------------------------------------

/// One line for a failed TLS handshake or session, from the side that saw it (`client`: we checked
/// the server's certificate).
pub fn explain(e: &io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(t) => explain_tls(t),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the TLS handshake (is it a TLS port? does it want a client certificate?)"
                .into()
        }
        None => e.to_string(),
    }
}

/// [`explain`] for rustls' own error.
pub fn explain_tls(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "certificate verify failed: unknown CA (the certificate is not signed by a CA given with --cafile/--capath)".into()
            }
            CertificateError::NotValidForName => "certificate verify failed: name mismatch (the certificate does not name the host connected to; connect by a name it holds, or --insecure)".into(),
            CertificateError::NotValidForNameContext { expected, presented } => format!(
                "certificate verify failed: name mismatch (connected to `{}`, the certificate names {}; connect by one of those names, or --insecure)",
                server_name_str(expected),
                if presented.is_empty() { "no host".to_string() } else { presented.join(", ") }
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate verify failed: the certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate verify failed: the certificate is not valid yet (check the clock)".into()
            }
            CertificateError::BadEncoding => "certificate verify failed: the certificate is not valid DER".into(),
            CertificateError::BadSignature => "certificate verify failed: bad signature".into(),
            CertificateError::Revoked => "certificate verify failed: the certificate is revoked".into(),
            // webpki's `CaUsedAsEndEntity` reaches rustls as an opaque `Other` error; its name is the
            // only handle on it without depending on rustls-webpki directly.
            CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                "certificate verify failed: the server's certificate is a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` makes by default), which rustls does not accept as a server's own; make it with `sister ca init`, or with openssl's -addext basicConstraints=critical,CA:FALSE".into()
            }
            CertificateError::Other(o) if format!("{o:?}").contains("UnsupportedCertVersion") => {
                "certificate verify failed: the certificate is X.509 version 1 (as `openssl x509 -req` makes without -extfile); rustls accepts version 3 only: sign it again with extensions (`sister ca client`, or -extfile with subjectAltName/extendedKeyUsage)".into()
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate verify failed: the certificate is not made for this use (its extendedKeyUsage lacks serverAuth or clientAuth)".into()
            }
            other => format!("certificate verify failed: {other:?}"),
        },
        E::NoCertificatesPresented => "the client presented no certificate, and this listener requires one (require_certificate)".into(),
        E::AlertReceived(A::UnknownCA) => "the peer refused our certificate: unknown CA (it does not trust the CA that signed it)".into(),
        E::AlertReceived(A::BadCertificate) => "the peer refused our certificate (bad certificate)".into(),
        E::AlertReceived(A::CertificateRequired) => {
            "the server requires a client certificate: give --cert and --key".into()
        }
        E::AlertReceived(A::ProtocolVersion) => "the peer does not speak the TLS version we asked for (--tls-version)".into(),
        E::AlertReceived(A::HandshakeFailure) => "TLS handshake failure (no cipher suite or version in common)".into(),
        E::AlertReceived(a) => format!("the peer ended the TLS handshake with the alert {a:?}"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "the peer does not speak TLS (a plain-text port?)".into()
        }
        E::PeerIncompatible(p) => format!("the peer's TLS is incompatible: {p:?}"),
        other => other.to_string(),
    }
}

fn server_name_str(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "?".into(),
    }
}

// ---- the client certificate's name ----------------------------------------------------------------

/// The subject's common name (CN, OID 2.5.4.3) of a DER certificate: the username of a client when
/// the listener has `use_identity_as_username` (read with [`crate::ca::x509`]'s DER walk).
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let parts = crate::ca::x509::parts(der)?;
    let attributes = crate::ca::x509::name_attributes(parts.subject)?;
    let cn = attributes.iter().rev().find(|a| a.oid == [2, 5, 4, 3])?;
    Some(String::from_utf8_lossy(cn.value).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_mosquitto_spells_them() {
        assert_eq!(MinVersion::parse("tlsv1.2"), Ok(MinVersion::Tls12));
        assert_eq!(MinVersion::parse("tlsv1.3"), Ok(MinVersion::Tls13));
        assert_eq!(MinVersion::parse("1.3"), Ok(MinVersion::Tls13));
        assert!(MinVersion::parse("tlsv1.1")
            .unwrap_err()
            .0
            .contains("1.2 and 1.3 only"));
        assert!(MinVersion::parse("ssl3").is_err());
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("localhost:8883"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("127.0.0.1:8883"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]:8883"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("broker"), Ok(ServerName::DnsName(_))));
    }

    #[test]
    fn the_common_name_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Lab");
        params.distinguished_name.push(rcgen::DnType::CommonName, "alice");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(subject_common_name(cert.der()).as_deref(), Some("alice"));
        // Truncated or garbage DER gives None, never a panic.
        let der = cert.der().to_vec();
        for n in 0..der.len() {
            let _ = subject_common_name(&der[..n]);
        }
        assert_eq!(subject_common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    /// A real handshake in memory (no sockets) with a server certificate that expired in 2001: the
    /// client's error says "expired".
    #[tokio::test]
    async fn an_expired_certificate_is_named() {
        let dir = std::env::temp_dir().join(format!("sister-tls-expired-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.join("s.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("s.key"), key.serialize_pem()).unwrap();

        let acceptor = ServerTls::new(dir.join("s.crt"), dir.join("s.key"))
            .acceptor()
            .unwrap();
        let connector = ClientTls {
            cafile: Some(dir.join("ca.crt")),
            ..ClientTls::default()
        }
        .connector()
        .unwrap();
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move { acceptor.accept(a).await.map(|_| ()) });
        let e = connector
            .connect(server_name("localhost:8883").unwrap(), b)
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(explain(&e).contains("expired"), "{}", explain(&e));
        let server_side = server.await.unwrap().unwrap_err();
        assert!(
            explain(&server_side).contains("peer"),
            "{}",
            explain(&server_side)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_files_say_which() {
        let e = ServerTls::new("/nonexistent/server.crt", "/nonexistent/server.key")
            .config()
            .unwrap_err();
        assert!(e.0.contains("/nonexistent/server.crt"), "{e}");
    }
}
