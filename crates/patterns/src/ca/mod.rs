//! `sister ca`: the lab's own certificate authority (CA), for HTTPS and for MQTT over TLS.
//!
//! A TLS server proves who it is with a certificate: its public key and its names, signed by a CA the
//! client trusts. Public CAs sign only names they can check on the Internet; the lab's servers are
//! `localhost`, `127.0.0.1` and Docker service names, so the lab makes its own CA and every client is
//! told to trust it (curl's `--cacert ca.crt`, Mosquitto's `cafile`, `requests`' `verify=`).
//!
//! ```text
//!   sister ca init DIR            ca.key ──signs──► server.crt  (localhost, 127.0.0.1, ::1, the compose services)
//!   sister ca client DIR alice    ca.key ──signs──► alice.crt   (CN=alice: Mosquitto's require_certificate)
//!   a client given ca.crt         checks server.crt's signature with ca.crt's public key,
//!                                 then that server.crt names the host it connected to
//! ```
//! What the certificates say (look: `openssl x509 -in DIR/server.crt -noout -text`):
//! - the CA: basicConstraints `CA:TRUE` and keyUsage `keyCertSign, cRLSign`, so it may sign
//!   certificates (RFC 5280 §4.2.1.9, §4.2.1.3); valid 10 years.
//! - the server: every name and address clients use, as subjectAltNames: clients check the name there,
//!   not in the common name (RFC 6125 §6.4.4, RFC 2818 §3.1); extendedKeyUsage `serverAuth`; valid
//!   825 days, the longest Apple's TLS clients accept from a CA a user added (macOS 10.15, iOS 13).
//! - a client: `CN=NAME` (Mosquitto's `use_identity_as_username` takes it as the username) and
//!   extendedKeyUsage `clientAuth`.
//! - keys: ECDSA P-256 (rcgen's default; OpenSSL 3 and so Mosquitto 2.0 and curl, Python, Chromium
//!   and rustls all accept it). Their keyUsage is `digitalSignature` alone: `keyEncipherment` is for
//!   RSA key transport and RFC 5480 §3 forbids it for EC keys; TLS 1.2's ECDHE and TLS 1.3 only sign.
//! - files: PEM; keys PKCS#8, created with mode 0600 (never readable by others, not even for a moment:
//!   the mode is set when the file is created, not changed afterwards); certificates 0644.
//!
//! `ca.key` is the secret that matters: whoever has it can make a certificate for any name that every
//! client trusting `ca.crt` accepts. The lab's `.key` files must never be committed or shared;
//! `ca.crt` is public and is what clients get.

pub mod x509;

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
};

/// The names every server certificate holds: loopback by name and address, and the course's compose
/// services that can speak TLS (LAB.md), so one certificate serves every container of the lab.
pub const SERVER_NAMES: [&str; 7] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "mqtt-broker",
    "rest-server",
    "rpc-server",
    "soap-server",
];

/// How long the CA's certificate is valid.
pub const CA_DAYS: u64 = 3650;
/// How long a server or client certificate is valid (see the module's notes).
pub const LEAF_DAYS: u64 = 825;
/// Certificates start being valid this long before they are made, so a clock a little behind (a VM,
/// a container host) does not see them as "not valid yet".
const BACKDATE: Duration = Duration::from_secs(3600);

/// The files `sister ca` writes in its directory.
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";
pub const README: &str = "README.txt";

/// Why a CA operation failed, in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct CaError(pub String);

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaError {}

fn err(s: impl Into<String>) -> CaError {
    CaError(s.into())
}

fn rcgen_err(what: &str, e: rcgen::Error) -> CaError {
    err(format!("{what}: {e}"))
}

/// A certificate and its private key, as PEM text.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// The subjectAltNames (a server certificate) or the common name (a client certificate).
    pub names: Vec<String>,
    /// The last day it is valid, `YYYY-MM-DD` (UTC).
    pub valid_until: String,
}

/// A CA that can sign: its certificate and its key.
pub struct Authority {
    cert_pem: String,
    /// The subject Name of the CA's certificate, as DER: each certificate it signs must carry exactly
    /// these bytes as its issuer, or verifiers do not find the CA (RFC 5280 §7.1).
    subject: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

/// Seconds since 1970 for `t` (0 for a clock before 1970).
fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Valid from shortly before `now` for `days` days; the last day as `YYYY-MM-DD`.
fn set_validity(params: &mut CertificateParams, now: SystemTime, days: u64) -> String {
    // rcgen takes `time::OffsetDateTime`; the epoch plus a std Duration gives one without a direct
    // dependency on the `time` crate.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let from = unix(now).saturating_sub(BACKDATE.as_secs());
    let until = unix(now).saturating_add(days * 86_400);
    params.not_before = epoch + Duration::from_secs(from);
    params.not_after = epoch + Duration::from_secs(until);
    days_from(now, days)
}

/// Hexadecimal, for the CA's name.
fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

impl Authority {
    /// A new CA with a new key, valid [`CA_DAYS`] from `now`.
    pub fn generate(now: SystemTime) -> Result<Authority, CaError> {
        let key = KeyPair::generate().map_err(|e| rcgen_err("cannot make a key", e))?;
        let mut params = CertificateParams::default();
        // A CA name of its own (the start of its key identifier): with two lab CAs in one trust
        // store, or two in a browser's list, a person can tell them apart.
        let id = params.key_identifier(&key);
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "sister lab");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("sister lab CA {}", hex(&id[..4])));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, now, CA_DAYS);
        let cert = params
            .self_signed(&key)
            .map_err(|e| rcgen_err("cannot make the CA certificate", e))?;
        let subject = x509::parts(cert.der())
            .map(|p| p.subject.to_vec())
            .ok_or_else(|| err("rcgen wrote a CA certificate sister cannot read back"))?;
        Ok(Authority {
            cert_pem: cert.pem(),
            subject,
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA from its certificate and its key (PEM, the key in PKCS#8 as `sister ca init` writes it).
    ///
    /// rcgen signs with an issuer's name, key identifier and key; it cannot read them from a
    /// certificate without its x509-parser feature, so they are read here ([`x509`]) and the name is
    /// rebuilt attribute by attribute. A name rcgen cannot rebuild byte for byte is refused.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, CaError> {
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| err(format!("not a PEM certificate ({e:?})")))?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            err(format!(
                "the CA key is not a PKCS#8 `PRIVATE KEY` rcgen can sign with ({e}); convert it with: openssl pkey -in KEY -out KEY.pk8"
            ))
        })?;
        let parts = x509::parts(&der).ok_or_else(|| err("cannot read the CA certificate's DER"))?;
        if parts.public_key != key.subject_public_key_info().as_slice() {
            return Err(err(
                "the CA key does not belong to the CA certificate (its public key is not the certificate's)",
            ));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = rebuild_name(parts.subject)?;
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        if let Some(id) = parts.subject_key_id() {
            // The certificates it signs must name this identifier as their authority key
            // identifier (a CA made by openssl uses a SHA-1 of the key, rcgen a SHA-256).
            params.key_identifier_method = KeyIdMethod::PreSpecified(id.to_vec());
        }
        Ok(Authority {
            cert_pem: cert_pem.to_string(),
            subject: parts.subject.to_vec(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for `names` (DNS names or IP addresses) with a new key.
    pub fn issue_server(&self, names: &[String], now: SystemTime) -> Result<Issued, CaError> {
        let first = names
            .first()
            .ok_or_else(|| err("a server certificate needs a name"))?;
        let mut params = CertificateParams::new(names.to_vec())
            .map_err(|e| rcgen_err("a host name cannot go in a certificate", e))?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "sister lab");
        // Clients look at the subjectAltNames; the common name only shows in certificate viewers.
        params.distinguished_name.push(DnType::CommonName, first.as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, names.to_vec(), now)
    }

    /// A client certificate with `CN=name` with a new key.
    pub fn issue_client(&self, name: &str, now: SystemTime) -> Result<Issued, CaError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "sister lab");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, vec![name.to_string()], now)
    }

    fn sign(
        &self,
        mut params: CertificateParams,
        names: Vec<String>,
        now: SystemTime,
    ) -> Result<Issued, CaError> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let valid_until = set_validity(&mut params, now, LEAF_DAYS);
        let key = KeyPair::generate().map_err(|e| rcgen_err("cannot make a key", e))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| rcgen_err("cannot sign the certificate", e))?;
        let issuer = x509::parts(cert.der()).map(|p| p.issuer);
        if issuer != Some(self.subject.as_slice()) {
            return Err(err(
                "the CA's name cannot be copied exactly into the certificates it signs (a CA not made by `sister ca init`?)",
            ));
        }
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            names,
            valid_until,
        })
    }
}

/// Rebuild a Name for rcgen from its DER; `Err` for what rcgen cannot write the same way.
fn rebuild_name(der: &[u8]) -> Result<DistinguishedName, CaError> {
    let cannot = |why: &str| err(format!("cannot sign with this CA: its name {why}"));
    let attrs = x509::name_attributes(der).ok_or_else(|| cannot("is not a plain list of attributes"))?;
    let mut name = DistinguishedName::new();
    for a in attrs {
        let text = std::str::from_utf8(a.value)
            .map_err(|_| cannot("holds text that is not UTF-8"))?
            .to_string();
        // DER string types (X.680 §41): UTF8String, PrintableString, IA5String.
        let value = match a.tag {
            0x0c => DnValue::Utf8String(text),
            0x13 => {
                DnValue::PrintableString(text.try_into().map_err(|_| cannot("has a bad PrintableString"))?)
            }
            0x16 => DnValue::Ia5String(text.try_into().map_err(|_| cannot("has a bad IA5String"))?),
            _ => return Err(cannot("uses a string type sister does not write")),
        };
        let ty = DnType::from_oid(&a.oid);
        if name.get(&ty).is_some() {
            return Err(cannot("repeats an attribute"));
        }
        name.push(ty, value);
    }
    Ok(name)
}

/// Check a `--host` value: a DNS name or an IP address a TLS client can check a certificate against.
/// IPv6 addresses may be written in brackets (`[::1]`).
pub fn check_host(host: &str) -> Result<String, CaError> {
    let h = host.trim();
    let h = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h);
    match rustls::pki_types::ServerName::try_from(h) {
        Ok(_) => Ok(h.to_ascii_lowercase()),
        Err(_) => Err(err(format!(
            "`{host}` is neither a host name (letters, digits, `-` and `.`) nor an IP address"
        ))),
    }
}

/// The default names, then each of `extra` not already there.
pub fn server_names(extra: &[String]) -> Result<Vec<String>, CaError> {
    let mut names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    for h in extra {
        let h = check_host(h)?;
        if !names.contains(&h) {
            names.push(h);
        }
    }
    Ok(names)
}

/// Check a client name: it becomes `NAME.crt`/`NAME.key` in the CA's directory and the certificate's
/// CN, so it is one plain file name and not one of the CA's own files.
pub fn check_client_name(name: &str) -> Result<(), CaError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !plain {
        return Err(err(format!(
            "`{name}` cannot be a client name: use letters, digits, `.`, `_`, `-` or `@` (at most 64, not starting with `.` or `-`)"
        )));
    }
    if name == "ca" || name == "server" {
        return Err(err(format!(
            "`{name}` is taken: {name}.crt and {name}.key are the CA's own files"
        )));
    }
    Ok(())
}

// ---- files ----------------------------------------------------------------------------------------

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// What it is, for the listing.
    pub what: String,
    /// A private key: mode 0600, never to be shared.
    pub secret: bool,
}

/// What a `sister ca` command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub dir: PathBuf,
    pub files: Vec<Written>,
}

/// Create `dir` unless it exists. Its mode is the default one: the keys are protected by their own
/// mode, and the certificates must stay readable by servers running as another user (Mosquitto
/// started as root switches to the user `mosquitto`).
fn make_dir(dir: &Path) -> Result<(), CaError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| err(format!("cannot create the directory {}: {e}", dir.display())))
}

/// Refuse when one of `files` exists in `dir`, unless `force`.
fn refuse_existing(dir: &Path, files: &[&str], force: bool, what: &str) -> Result<(), CaError> {
    let existing: Vec<&str> = files.iter().copied().filter(|f| dir.join(f).exists()).collect();
    if existing.is_empty() || force {
        return Ok(());
    }
    Err(err(format!(
        "{} already holds {} ({}); --force replaces {what}",
        dir.display(),
        if existing.len() == 1 { "a file" } else { "files" },
        existing.join(", "),
    )))
}

/// Write `contents` to a new file created with `mode` (an old file is removed first: opening it
/// would keep its old mode).
fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), CaError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(format!("cannot replace {}: {e}", path.display()))),
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

/// Private keys: read and written by their owner only.
const KEY_MODE: u32 = 0o600;
/// Certificates and the README: public.
const PUBLIC_MODE: u32 = 0o644;

/// Write a certificate and its key as `NAME.crt` and `NAME.key` in `dir`.
fn write_pair(
    dir: &Path,
    stem: &str,
    issued: &Issued,
    what: &str,
    report: &mut Report,
) -> Result<(), CaError> {
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    // The key first: a certificate without its key is useless, a key without a certificate harmless.
    write_new(&key, &issued.key_pem, KEY_MODE)?;
    write_new(&cert, &issued.cert_pem, PUBLIC_MODE)?;
    report.files.push(Written {
        path: cert,
        what: format!("{what} (until {})", issued.valid_until),
        secret: false,
    });
    report.files.push(Written {
        path: key,
        what: format!("the private key of {stem}.crt"),
        secret: true,
    });
    Ok(())
}

/// The directory as the README shows it: absolute, so the lines can be pasted anywhere.
fn shown(dir: &Path) -> PathBuf {
    fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// `sister ca init DIR`: a new CA and a server certificate for [`SERVER_NAMES`] and `hosts`.
pub fn init(dir: &Path, hosts: &[String], force: bool) -> Result<Report, CaError> {
    let names = server_names(hosts)?;
    refuse_existing(
        dir,
        &[CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY],
        force,
        "them with a new CA: certificates signed by the old one stop being trusted by clients given the new ca.crt",
    )?;
    let now = SystemTime::now();
    let ca = Authority::generate(now)?;
    let server = ca.issue_server(&names, now)?;
    make_dir(dir)?;
    let mut report = Report {
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    write_new(&dir.join(CA_KEY), &ca.issuer.key().serialize_pem(), KEY_MODE)?;
    write_new(&dir.join(CA_CERT), ca.cert_pem(), PUBLIC_MODE)?;
    report.files.push(Written {
        path: dir.join(CA_CERT),
        what: format!(
            "the CA's certificate, for every client (until {})",
            days_from(now, CA_DAYS)
        ),
        secret: false,
    });
    report.files.push(Written {
        path: dir.join(CA_KEY),
        what: "the CA's private key: it signs certificates every client of this CA trusts".into(),
        secret: true,
    });
    let what = format!("the server's certificate for {}", server.names.join(", "));
    write_pair(dir, "server", &server, &what, &mut report)?;
    write_new(
        &dir.join(README),
        &readme(&shown(dir), &server.names),
        PUBLIC_MODE,
    )?;
    report.files.push(Written {
        path: dir.join(README),
        what: "what these files are and the lines to use them (Mosquitto, curl, sister)".into(),
        secret: false,
    });
    Ok(report)
}

/// `sister ca server DIR`: a new server certificate from the CA in `dir` (to add a name without a new
/// CA, which every client would have to be given again).
pub fn server(dir: &Path, hosts: &[String], force: bool) -> Result<Report, CaError> {
    let names = server_names(hosts)?;
    let ca = load(dir)?;
    refuse_existing(dir, &[SERVER_CERT, SERVER_KEY], force, "them")?;
    let issued = ca.issue_server(&names, SystemTime::now())?;
    let mut report = Report {
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    let what = format!("the server's certificate for {}", issued.names.join(", "));
    write_pair(dir, "server", &issued, &what, &mut report)?;
    Ok(report)
}

/// `sister ca client DIR NAME`: a client certificate `CN=NAME` from the CA in `dir`.
pub fn client(dir: &Path, name: &str, force: bool) -> Result<Report, CaError> {
    check_client_name(name)?;
    let ca = load(dir)?;
    let files = [format!("{name}.crt"), format!("{name}.key")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    refuse_existing(dir, &files, force, "them")?;
    let issued = ca.issue_client(name, SystemTime::now())?;
    let mut report = Report {
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    let what = format!("a client certificate for CN={name}");
    write_pair(dir, name, &issued, &what, &mut report)?;
    Ok(report)
}

/// The CA in `dir` (`ca.crt`, `ca.key`).
pub fn load(dir: &Path) -> Result<Authority, CaError> {
    let read = |file: &str| {
        let path = dir.join(file);
        fs::read_to_string(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => err(format!(
                "{} does not exist: make the CA first with `sister ca init {}`",
                path.display(),
                dir.display()
            )),
            _ => err(format!("cannot read {}: {e}", path.display())),
        })
    };
    let (cert, key) = (read(CA_CERT)?, read(CA_KEY)?);
    Authority::from_pem(&cert, &key).map_err(|e| err(format!("{}: {e}", dir.join(CA_CERT).display())))
}

/// The day `days` after `now`, `YYYY-MM-DD` (UTC).
fn days_from(now: SystemTime, days: u64) -> String {
    let until = unix(now).saturating_add(days * 86_400);
    chrono::DateTime::from_timestamp(until as i64, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The README written next to the files.
pub fn readme(dir: &Path, names: &[String]) -> String {
    let d = dir.display();
    format!(
        "\
The lab's certificate authority (CA), made by `sister ca init`.

  ca.crt      the CA's certificate. Public: give it to every client (curl --cacert, Mosquitto's cafile,
              requests' verify=, sister's --cacert). Clients trust what ca.key signed.
  ca.key      the CA's private key. SECRET: whoever has it can make a certificate for any name, and every
              client given ca.crt will accept it.
  server.crt  the servers' certificate, signed by ca.key, for: {names}
  server.key  its private key. SECRET.
  NAME.crt/NAME.key  client certificates made by `sister ca client {d} NAME` (CN=NAME).

Never commit or share a .key file (they are created readable by their owner only, mode 0600); a
leaked ca.key means: make a new CA (sister ca init --force) and give every client the new ca.crt.
More names for the server (a host, an address): sister ca server {d} --host NAME --force.
Look inside: openssl x509 -in {d}/server.crt -noout -text
Check the chain: openssl verify -CAfile {d}/ca.crt {d}/server.crt

HTTPS (the REST, JSON-RPC and SOAP servers):
  sister rest server --tls-cert {d}/server.crt --tls-key {d}/server.key
  curl --cacert {d}/ca.crt 'https://localhost:5151/add?a=10&b=5'
  sister rest client --server https://localhost:5151 --cacert {d}/ca.crt
  python3 -c \"import requests; print(requests.get('https://localhost:5151/add?a=10&b=5', verify='{d}/ca.crt').json())\"

MQTT over TLS with sister's broker (1883 as before, and TLS on 8883; its -c also reads the
mosquitto.conf lines below):
  sister mqtt broker --tls-cert {d}/server.crt --tls-key {d}/server.key
  sister mqtt broker --tls-cert {d}/server.crt --tls-key {d}/server.key --cafile {d}/ca.crt --require-certificate
sister mqtt pub and sub take mosquitto_pub's --cafile, --cert and --key.

MQTT over TLS with Mosquitto, in mosquitto.conf:
  listener 8883
  cafile {d}/ca.crt
  certfile {d}/server.crt
  keyfile {d}/server.key
  # Mosquitto started as root runs as the user `mosquitto`, who must be able to read server.key
  # (mode 0600): sudo chown mosquitto {d}/server.key, or start it as the files' owner.
  # To let in only clients with a certificate from this CA, named by its CN:
  require_certificate true
  use_identity_as_username true
Then:
  mosquitto_sub -h localhost -p 8883 --cafile {d}/ca.crt -t sister/temp
  sister ca client {d} alice
  mosquitto_pub -h localhost -p 8883 --cafile {d}/ca.crt --cert {d}/alice.crt --key {d}/alice.key -t sister/temp -m hello
",
        names = names.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::Arc;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    /// Verify a server certificate for `name` as a rustls client does.
    fn verify_server(ca: &str, cert: &str, name: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(ca)).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier
            .verify_server_cert(&der(cert), &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    fn verify_client(ca: &str, cert: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(ca)).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        verifier
            .verify_client_cert(&der(cert), &[], UnixTime::now())
            .map(|_| ())
    }

    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn a_server_certificate_is_accepted_for_each_of_its_names_only() {
        let now = SystemTime::now();
        let ca = Authority::generate(now).unwrap();
        let names = server_names(&["lab.example".into(), "10.0.0.7".into()]).unwrap();
        let server = ca.issue_server(&names, now).unwrap();
        for n in [
            "localhost",
            "127.0.0.1",
            "::1",
            "rest-server",
            "mqtt-broker",
            "lab.example",
            "10.0.0.7",
        ] {
            verify_server(ca.cert_pem(), &server.cert_pem, n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        let e = verify_server(ca.cert_pem(), &server.cert_pem, "127.0.0.2").unwrap_err();
        assert!(format!("{e:?}").contains("NotValidForName"), "{e:?}");
        // Another CA's certificate is not trusted.
        let other = Authority::generate(now).unwrap();
        let e = verify_server(other.cert_pem(), &server.cert_pem, "localhost").unwrap_err();
        assert!(format!("{e:?}").contains("UnknownIssuer"), "{e:?}");
        // A server certificate is not a client certificate (its extendedKeyUsage says serverAuth).
        assert!(verify_client(ca.cert_pem(), &server.cert_pem).is_err());
    }

    #[test]
    fn a_client_certificate_names_its_client() {
        let now = SystemTime::now();
        let ca = Authority::generate(now).unwrap();
        let alice = ca.issue_client("alice", now).unwrap();
        verify_client(ca.cert_pem(), &alice.cert_pem).unwrap();
        assert_eq!(
            crate::tls::subject_common_name(&der(&alice.cert_pem)).as_deref(),
            Some("alice")
        );
        assert!(verify_server(ca.cert_pem(), &alice.cert_pem, "alice").is_err());
    }

    #[test]
    fn a_ca_read_back_from_its_files_signs_as_the_original() {
        let now = SystemTime::now();
        let ca = Authority::generate(now).unwrap();
        let key = ca.issuer.key().serialize_pem();
        let again = Authority::from_pem(ca.cert_pem(), &key).unwrap();
        let server = again.issue_server(&server_names(&[]).unwrap(), now).unwrap();
        verify_server(ca.cert_pem(), &server.cert_pem, "soap-server").unwrap();
        // The authority key identifier of what it signs is the CA's subject key identifier.
        let ca_der = der(ca.cert_pem());
        let ski = x509::parts(&ca_der).unwrap().subject_key_id().unwrap().to_vec();
        let leaf = der(&server.cert_pem);
        assert!(leaf.windows(ski.len()).any(|w| w == ski.as_slice()));
        // Another CA's key is refused.
        let other = Authority::generate(now).unwrap();
        let e = Authority::from_pem(ca.cert_pem(), &other.issuer.key().serialize_pem()).unwrap_err();
        assert!(e.0.contains("does not belong"), "{e}");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_host("[::1]").unwrap(), "::1");
        assert_eq!(check_host("Lab.Example").unwrap(), "lab.example");
        assert!(check_host("not a host").is_err());
        assert!(check_host("").is_err());
        let names = server_names(&["localhost".into(), "web".into()]).unwrap();
        assert_eq!(names.len(), SERVER_NAMES.len() + 1, "no duplicates: {names:?}");
        check_client_name("alice").unwrap();
        check_client_name("sensor-1.lab").unwrap();
        for bad in ["", "../x", "a/b", ".hidden", "-x", "ca", "server", "a b"] {
            assert!(check_client_name(bad).is_err(), "{bad:?}");
        }
    }
}
