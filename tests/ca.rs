//! `sister ca`: the lab's CA checked by OpenSSL (`openssl verify`, `openssl x509 -text`) and used by
//! Mosquitto 2.0 (OpenSSL 3) with `require_certificate` and `use_identity_as_username`.
//!
//! What is checked: the chain verifies with OpenSSL's strict X.509 checks and for the right purpose
//! (a server certificate for TLS servers, a client certificate for TLS clients); the extensions the
//! module promises (CA:TRUE and keyCertSign on the CA; subjectAltNames, serverAuth, digitalSignature
//! on the server; CN and clientAuth on a client); the validity periods; the files' modes; refusing to
//! replace a CA without --force; and that Mosquitto takes the client certificate's CN as the username.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::{self, Proc};

const T: Duration = Duration::from_secs(30);
const DAY: u64 = 86_400;

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is missing: run ./.ci/run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn init(dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["ca", "init", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (st, out, err) = util::run_sister(&args, T);
    (st.success(), out, err)
}

fn p(dir: &Path, f: &str) -> String {
    dir.join(f).to_str().unwrap().to_string()
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_makes_a_ca_and_a_server_certificate_openssl_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let (ok, out, err) = init(&dir, &["--host", "myhost.lab", "--host", "192.168.7.20"]);
    assert!(ok, "{out}\n{err}");
    for f in ["ca.crt", "ca.key", "server.crt", "server.key", "README.txt"] {
        assert!(out.contains(&p(&dir, f)), "{f} not listed:\n{out}");
    }
    assert!(
        out.contains("ca.key signs anything") && out.contains("never commit"),
        "{out}"
    );

    // Keys readable by their owner only; certificates and the README by everyone.
    assert_eq!(mode(&p(&dir, "ca.key")), 0o600);
    assert_eq!(mode(&p(&dir, "server.key")), 0o600);
    assert_eq!(mode(&p(&dir, "ca.crt")) & 0o644, 0o644);
    assert_eq!(mode(&p(&dir, "server.crt")) & 0o644, 0o644);

    // The chain, with OpenSSL's strict checks (RFC 5280 profile: key identifiers, key usage of
    // the CA), for a TLS server.
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        &p(&dir, "ca.crt"),
        &p(&dir, "server.crt"),
    ]);
    assert!(ok && text.contains(": OK"), "{text}");
    // ... but not for a TLS client (the extendedKeyUsage says serverAuth only).
    let (ok, _) = openssl(&[
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        &p(&dir, "ca.crt"),
        &p(&dir, "server.crt"),
    ]);
    assert!(!ok);

    let (_, ca) = openssl(&["x509", "-in", &p(&dir, "ca.crt"), "-noout", "-text"]);
    assert!(ca.contains("CA:TRUE"), "{ca}");
    assert!(ca.contains("Certificate Sign, CRL Sign"), "{ca}");
    assert!(
        ca.contains("Subject: O = sister lab, CN = sister lab CA "),
        "{ca}"
    );
    assert!(ca.contains("ASN1 OID: prime256v1"), "{ca}");

    let (_, server) = openssl(&["x509", "-in", &p(&dir, "server.crt"), "-noout", "-text"]);
    for want in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
        "DNS:mqtt-broker",
        "DNS:rest-server",
        "DNS:rpc-server",
        "DNS:soap-server",
        "DNS:myhost.lab",
        "IP Address:192.168.7.20",
        "TLS Web Server Authentication",
        "Digital Signature",
        "CA:FALSE",
        "ecdsa-with-SHA256",
    ] {
        assert!(server.contains(want), "{want} missing:\n{server}");
    }
    assert!(
        !server.contains("Key Encipherment"),
        "no keyEncipherment for an EC key (RFC 5480 §3)"
    );

    // 825 days for the server, 10 years for the CA: valid a day before the end, not after it.
    let checkend = |cert: &str, days: u64| {
        openssl(&[
            "x509",
            "-in",
            cert,
            "-noout",
            "-checkend",
            &(days * DAY).to_string(),
        ])
        .0
    };
    assert!(checkend(&p(&dir, "server.crt"), 824));
    assert!(!checkend(&p(&dir, "server.crt"), 826));
    assert!(checkend(&p(&dir, "ca.crt"), 3649));
    assert!(!checkend(&p(&dir, "ca.crt"), 3651));

    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    for want in [
        "SECRET",
        "cafile ",
        "certfile ",
        "keyfile ",
        "require_certificate true",
        "curl --cacert",
    ] {
        assert!(readme.contains(want), "{want} missing from README.txt");
    }
}

#[test]
fn init_refuses_to_replace_a_ca_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert!(init(&dir, &[]).0);
    let first = std::fs::read(dir.join("ca.crt")).unwrap();

    let (ok, out, err) = init(&dir, &[]);
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already holds") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(dir.join("ca.crt")).unwrap(), first, "untouched");

    // A key file someone made readable by all is replaced by a new file with mode 0600.
    std::fs::set_permissions(dir.join("ca.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, err) = init(&dir, &["--force"]);
    assert!(ok, "{err}");
    assert_ne!(std::fs::read(dir.join("ca.crt")).unwrap(), first, "a new CA");
    assert_eq!(mode(&p(&dir, "ca.key")), 0o600);

    // Bad input: one line each, no panic.
    for args in [
        vec![
            "ca",
            "init",
            dir.to_str().unwrap(),
            "--force",
            "--host",
            "not a host",
        ],
        vec!["ca", "client", dir.to_str().unwrap(), "../escape"],
        vec!["ca", "client", dir.to_str().unwrap(), "server"],
        vec!["ca", "client", tmp.path().join("none").to_str().unwrap(), "alice"],
    ] {
        let (st, _, err) = util::run_sister(&args, T);
        assert!(!st.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn server_adds_names_with_the_same_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert!(init(&dir, &[]).0);
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let (st, _, err) = util::run_sister(&["ca", "server", dir.to_str().unwrap(), "--host", "extra.lab"], T);
    assert!(!st.success() && err.contains("--force"), "{err}");
    let (st, out, err) = util::run_sister(
        &[
            "ca",
            "server",
            dir.to_str().unwrap(),
            "--host",
            "extra.lab",
            "--force",
        ],
        T,
    );
    assert!(st.success(), "{err}");
    assert!(out.contains("extra.lab"), "{out}");
    assert_eq!(std::fs::read(dir.join("ca.crt")).unwrap(), ca, "the CA stays");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        &p(&dir, "ca.crt"),
        &p(&dir, "server.crt"),
    ]);
    assert!(ok, "{text}");
    let (_, server) = openssl(&[
        "x509",
        "-in",
        &p(&dir, "server.crt"),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    assert!(
        server.contains("DNS:extra.lab") && server.contains("DNS:localhost"),
        "{server}"
    );
}

#[test]
fn client_certificate_verifies_for_tls_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert!(init(&dir, &[]).0);
    let (st, out, err) = util::run_sister(&["ca", "client", dir.to_str().unwrap(), "alice"], T);
    assert!(st.success(), "{err}");
    assert!(
        out.contains(&p(&dir, "alice.crt")) && out.contains(&p(&dir, "alice.key")),
        "{out}"
    );
    assert_eq!(mode(&p(&dir, "alice.key")), 0o600);
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        &p(&dir, "ca.crt"),
        &p(&dir, "alice.crt"),
    ]);
    assert!(ok, "{text}");
    let (_, cert) = openssl(&["x509", "-in", &p(&dir, "alice.crt"), "-noout", "-text"]);
    assert!(cert.contains("Subject: O = sister lab, CN = alice"), "{cert}");
    assert!(cert.contains("TLS Web Client Authentication"), "{cert}");
    // Again: refused without --force.
    let (st, _, err) = util::run_sister(&["ca", "client", dir.to_str().unwrap(), "alice"], T);
    assert!(!st.success() && err.contains("--force"), "{err}");
}

/// Mosquitto 2.0 with the lab's server certificate, letting in only clients with a certificate from
/// the lab's CA and naming them by its CN.
#[test]
fn mosquitto_takes_the_certificates_and_the_cn_as_username() {
    let mosquitto = "/usr/sbin/mosquitto";
    assert!(
        Path::new(mosquitto).exists(),
        "{mosquitto} is missing: run ./.ci/run (it installs the Debian package `mosquitto`)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    assert!(init(&dir, &[]).0);
    let (st, _, err) = util::run_sister(&["ca", "client", dir.to_str().unwrap(), "alice"], T);
    assert!(st.success(), "{err}");

    let port = util::free_tcp_port();
    let conf: PathBuf = tmp.path().join("mosquitto.conf");
    // Started as root, Mosquitto switches to the user `mosquitto`, who cannot read the 0600 keys
    // (nor this temporary directory): `user root` keeps it as the files' owner (ignored when not root).
    let as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    std::fs::write(
        &conf,
        format!(
            "{}listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous false\npersistence false\n",
            if as_root { "user root\n" } else { "" },
            p(&dir, "ca.crt"),
            p(&dir, "server.crt"),
            p(&dir, "server.key"),
        ),
    )
    .unwrap();
    let mut cmd = Command::new(mosquitto);
    cmd.arg("-c").arg(&conf).arg("-v");
    let mut broker = Proc::spawn("mosquitto", cmd);
    broker.wait_for_line("running", T);

    let port_s = port.to_string();
    let tls = |cert: bool| {
        let mut v = vec![
            "-h".to_string(),
            "localhost".into(),
            "-p".into(),
            port_s.clone(),
            "--cafile".into(),
            p(&dir, "ca.crt"),
        ];
        if cert {
            v.extend([
                "--cert".into(),
                p(&dir, "alice.crt"),
                "--key".into(),
                p(&dir, "alice.key"),
            ]);
        }
        v
    };
    let mut sub = Command::new("mosquitto_sub");
    sub.args(tls(true))
        .args(["-t", "sister/temp", "-C", "1", "-W", "20"]);
    let mut sub = Proc::spawn("mosquitto_sub", sub);
    broker.wait_for_line("u'alice'", T);
    broker.wait_for_line("Received SUBSCRIBE", T);

    let st = Command::new("mosquitto_pub")
        .args(tls(true))
        .args(["-t", "sister/temp", "-m", "Suhu: 28°C"])
        .status()
        .expect("mosquitto_pub is missing: run ./.ci/run");
    assert!(st.success());
    sub.wait_for_line("Suhu: 28°C", T);

    // Without a client certificate the handshake is refused.
    let out = Command::new("mosquitto_pub")
        .args(tls(false))
        .args(["-t", "sister/temp", "-m", "no certificate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    broker.wait_for_line("peer did not return a certificate", T);
}
