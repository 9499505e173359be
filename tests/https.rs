//! HTTPS on `sister rest|rpc|soap server` (`--tls-cert`, `--tls-key`) and `--cacert` on their clients,
//! with real peers: curl, Python's requests, zeep, and certificates made both by `sister ca init` and
//! by openssl (RSA keys in PKCS#8 and in the traditional PKCS#1 form, an EC key in SEC1).
//!
//! What is checked: the answers are byte for byte those of plain HTTP; a client without the lab's CA
//! is refused (curl's exit code 60, requests' SSLError, sister's one line naming the unknown CA), as is
//! one connecting by a name the certificate does not hold (name mismatch); `--insecure` skips only the
//! name; ALPN says http/1.1; the SOAP WSDL gives an https address; and nothing a client does to the
//! TLS port (plain HTTP, garbage, a dropped handshake) stops the server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, python, Proc};

const T: Duration = Duration::from_secs(30);

/// `sister ca init` in a new temporary directory.
fn lab_ca() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("lab");
    let (st, out, err) = util::run_sister(&["ca", "init", ca.to_str().unwrap()], T);
    assert!(st.success(), "sister ca init failed\n{out}\n{err}");
    dir
}

fn file(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join("lab").join(name).to_str().unwrap().to_string()
}

/// A sister HTTP server (`rest`, `rpc`, `soap`) with HTTPS on `ip` and a free port; returned once it
/// listens, after checking that its start-up line gives the https URL.
fn https_server_on(pattern: &str, ip: &str, cert: &str, key: &str) -> (Proc, u16) {
    let port = util::free_tcp_port();
    let bind = format!("{ip}:{port}");
    let mut p = util::spawn_sister(
        &format!("sister {pattern} server (https)"),
        &[
            pattern,
            "server",
            "--bind",
            &bind,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
    );
    let line = p.wait_for_line("serving HTTPS", T);
    assert!(line.contains(&format!("https://{bind}/")), "{line}");
    p.wait_for_line("listening", T);
    (p, port)
}

fn https_server(pattern: &str, cert: &str, key: &str) -> (Proc, u16) {
    https_server_on(pattern, "127.0.0.1", cert, key)
}

/// curl with `args`, with the environment's CA bundle settings removed so only `--cacert` counts.
fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("curl is missing: run ./.ci/run")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Each pattern's request for curl: the extra arguments and the path.
fn curl_call(pattern: &str) -> (Vec<&'static str>, &'static str) {
    match pattern {
        "rest" => (vec![], "/add?a=10&b=5"),
        "rpc" => (
            vec!["-d", r#"{"jsonrpc":"2.0","method":"add","params":[10,2],"id":1}"#],
            "/",
        ),
        _ => (vec![], "/?wsdl"),
    }
}

/// curl gets over HTTPS exactly what it gets over HTTP; without the CA it refuses the certificate;
/// the server logs that refusal in one line and goes on.
#[test]
fn curl_with_the_lab_ca_gets_what_plain_http_gives() {
    let ca = lab_ca();
    for pattern in ["rest", "rpc", "soap"] {
        let (mut tls, port) = https_server(pattern, &file(&ca, "server.crt"), &file(&ca, "server.key"));
        let (_plain, plain_port) = util::sister_server(pattern);
        let (extra, path) = curl_call(pattern);

        let mut args = extra.clone();
        let url = format!("https://localhost:{port}{path}");
        let cacert = file(&ca, "ca.crt");
        args.extend(["--cacert", &cacert, "-v", &url]);
        let over_tls = curl(&args);
        assert!(over_tls.status.success(), "{pattern}: {}", text(&over_tls.stderr));
        let verbose = text(&over_tls.stderr);
        assert!(verbose.contains("ALPN: server accepted http/1.1"), "{verbose}");

        let mut args = extra.clone();
        let plain_url = format!("http://localhost:{plain_port}{path}");
        args.push(&plain_url);
        let over_tcp = curl(&args);
        assert!(over_tcp.status.success());
        let (tls_body, tcp_body) = (text(&over_tls.stdout), text(&over_tcp.stdout));
        if pattern == "soap" {
            // The WSDL names the server it was fetched from, with its scheme.
            assert!(
                tls_body.contains(&format!("location=\"https://localhost:{port}/\"")),
                "{tls_body}"
            );
            assert_eq!(
                tls_body.replace(&format!("https://localhost:{port}/"), "X"),
                tcp_body.replace(&format!("http://localhost:{plain_port}/"), "X")
            );
        } else {
            assert_eq!(tls_body, tcp_body, "{pattern}");
        }

        // Without the lab's CA: curl refuses the certificate (exit code 60).
        let mut args = extra.clone();
        args.push(&url);
        let untrusted = curl(&args);
        assert_eq!(untrusted.status.code(), Some(60), "{}", text(&untrusted.stderr));
        assert!(
            text(&untrusted.stderr).contains("certificate"),
            "{}",
            text(&untrusted.stderr)
        );
        tls.wait_for_line(
            "TLS handshake failed: the peer refused our certificate: unknown CA",
            T,
        );

        // Still serving.
        let mut args = extra.clone();
        args.extend(["--cacert", &cacert, &url]);
        assert!(curl(&args).status.success(), "{pattern}");
    }
}

/// Nothing a client does on the TLS port stops the server: plain HTTP (answered 400 with a hint),
/// bytes that are not TLS, a connection dropped in the middle of the handshake.
#[test]
fn plain_http_and_garbage_on_the_https_port_do_not_stop_the_server() {
    let ca = lab_ca();
    let cacert = file(&ca, "ca.crt");
    for pattern in ["rest", "rpc", "soap"] {
        let (mut server, port) = https_server(pattern, &file(&ca, "server.crt"), &file(&ca, "server.key"));
        let addr = util::local(port);

        // curl http:// on the https port: a plain-text 400 that says what to do.
        let out = curl(&["-i", &format!("http://127.0.0.1:{port}/")]);
        let answer = text(&out.stdout);
        assert!(answer.starts_with("HTTP/1.1 400"), "{pattern}: {answer}");
        assert!(answer.contains("use an https:// URL"), "{answer}");
        server.wait_for_line("plain HTTP on the HTTPS port", T);

        // A TLS record header with garbage in it.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"\x16\x03\x01\x00\x08garbage!").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        // A handshake begun and dropped, and a connection that sends nothing and closes.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            .unwrap();
        drop(s);
        drop(TcpStream::connect(addr).unwrap());

        let (extra, path) = curl_call(pattern);
        let mut args = extra;
        let url = format!("https://localhost:{port}{path}");
        args.extend(["--cacert", &cacert, &url]);
        let out = curl(&args);
        assert!(
            out.status.success(),
            "{pattern} stopped serving: {}",
            server.output()
        );
        assert!(server.child.try_wait().unwrap().is_none(), "{pattern} exited");
    }
}

/// Certificates made by openssl, RSA in PKCS#8 (`BEGIN PRIVATE KEY`) and in the traditional PKCS#1
/// form (`BEGIN RSA PRIVATE KEY`), and an EC key in SEC1 (`BEGIN EC PRIVATE KEY`); connecting by a
/// name the certificate does not hold is a name mismatch, for curl and for sister's client.
#[test]
fn openssl_certificates_with_rsa_and_ec_keys_in_every_pem_form() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl is missing");
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    };
    // The usual self-signed recipe; `extra` adds extensions.
    let self_signed = |key_alg: &[&str], extra: &[&str], cert: &str, key: &str| {
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"];
        args.extend_from_slice(key_alg);
        args.extend_from_slice(extra);
        args.extend([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            key,
            "-out",
            cert,
        ]);
        openssl(&args);
    };
    // Without it OpenSSL's default configuration marks the certificate CA:TRUE (see below).
    let leaf = ["-addext", "basicConstraints=critical,CA:FALSE"];
    self_signed(&["-newkey", "rsa:2048"], &leaf, "rsa.crt", "rsa-pkcs8.key");
    openssl(&[
        "pkey",
        "-in",
        "rsa-pkcs8.key",
        "-traditional",
        "-out",
        "rsa-pkcs1.key",
    ]);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    self_signed(&ec, &leaf, "ec.crt", "ec-pkcs8.key");
    openssl(&[
        "pkey",
        "-in",
        "ec-pkcs8.key",
        "-traditional",
        "-out",
        "ec-sec1.key",
    ]);
    self_signed(&["-newkey", "rsa:2048"], &[], "rsa-ca.crt", "rsa-ca.key");
    let pem_header = |f: &str| {
        let pem = std::fs::read_to_string(d.join(f)).unwrap();
        pem.lines().next().unwrap().to_string()
    };
    assert_eq!(pem_header("rsa-pkcs8.key"), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(pem_header("rsa-pkcs1.key"), "-----BEGIN RSA PRIVATE KEY-----");
    assert_eq!(pem_header("ec-sec1.key"), "-----BEGIN EC PRIVATE KEY-----");

    let path = |f: &str| d.join(f).to_str().unwrap().to_string();
    let sister_client = |server: &str, cacert: &str| {
        util::run_sister(&["rest", "client", "--server", server, "--cacert", cacert], T)
    };
    for (cert, key) in [
        ("rsa.crt", "rsa-pkcs8.key"),
        ("rsa.crt", "rsa-pkcs1.key"),
        ("ec.crt", "ec-sec1.key"),
        ("rsa-ca.crt", "rsa-ca.key"),
    ] {
        let (mut server, port) = https_server("rest", &path(cert), &path(key));
        let by_name = format!("https://localhost:{port}");
        let out = curl(&["--cacert", &path(cert), &format!("{by_name}/add?a=10&b=5")]);
        assert_eq!(
            text(&out.stdout),
            "{\"result\":15}\n",
            "{key}: {}",
            text(&out.stderr)
        );

        // The certificate names localhost only: 127.0.0.1 is a name mismatch.
        let by_address = format!("https://127.0.0.1:{port}");
        let out = curl(&["--cacert", &path(cert), &format!("{by_address}/add?a=10&b=5")]);
        assert_eq!(out.status.code(), Some(60), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("127.0.0.1"), "{}", text(&out.stderr));

        let (st, stdout, stderr) = sister_client(&by_name, &path(cert));
        if cert == "rsa-ca.crt" {
            // curl (OpenSSL) takes a self-signed CA:TRUE certificate as the server's own; rustls
            // (webpki) does not, and sister's client says why in one line.
            assert!(!st.success() && stdout.is_empty());
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(
                stderr.contains("CA:TRUE") && stderr.contains("CA:FALSE"),
                "{stderr}"
            );
            continue;
        }
        assert!(st.success(), "{key}: {stderr}");
        assert_eq!(stdout, "add(10,5) = 15\nmul(10,5) = 50");

        let (st, stdout, stderr) = sister_client(&by_address, &path(cert));
        assert!(!st.success() && stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("name mismatch")
                && stderr.contains("`127.0.0.1`")
                && stderr.contains("localhost"),
            "{stderr}"
        );
        server.wait_for_line("TLS handshake failed", T);
    }

    // A key that is not the certificate's stops the server before it listens, in one line.
    let bind = format!("127.0.0.1:{}", util::free_tcp_port());
    let (st, _, stderr) = util::run_sister(
        &[
            "rest",
            "server",
            "--bind",
            &bind,
            "--tls-cert",
            &path("rsa.crt"),
            "--tls-key",
            &path("ec-sec1.key"),
        ],
        T,
    );
    assert!(!st.success());
    assert!(
        stderr.contains("do not make a usable certificate and key"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// sister's clients against its HTTPS servers: the lines of plain HTTP with --cacert; one line
/// naming the unknown CA without it; a name mismatch by an address the certificate lacks, which
/// --insecure lets through (only the name is skipped: the CA must still be the one given).
#[test]
fn sister_clients_over_https() {
    let ca = lab_ca();
    let cacert = file(&ca, "ca.crt");
    let (cert, key) = (file(&ca, "server.crt"), file(&ca, "server.key"));
    // 127.0.0.2 is loopback too, but not in the certificate.
    let servers: Vec<(&str, Proc, u16)> = ["rest", "rpc", "soap"]
        .into_iter()
        .map(|p| {
            let (proc, port) = https_server_on(p, "127.0.0.2", &cert, &key);
            (p, proc, port)
        })
        .collect();
    let client = |pattern: &str, url: &str, tls: &[&str]| {
        let mut args = vec![pattern, "client"];
        let flag = if pattern == "soap" { "--wsdl" } else { "--server" };
        let wsdl;
        let target = if pattern == "soap" {
            wsdl = format!("{url}/?wsdl");
            wsdl.as_str()
        } else {
            url
        };
        args.extend([flag, target]);
        args.extend_from_slice(tls);
        util::run_sister(&args, T)
    };
    let expected = [
        ("rest", "add(10,5) = 15\nmul(10,5) = 50"),
        ("rpc", "Result of add: 12\nResult of multiply: 50"),
        ("soap", "Hasil penjumlahan dari server SOAP: 15"),
    ];
    for ((pattern, _, port), (_, want)) in servers.iter().zip(expected) {
        // With --insecure, by the address the certificate lacks (127.0.0.2): the name is not checked.
        let url = format!("https://127.0.0.2:{port}");
        let (st, out, err) = client(pattern, &url, &["--cacert", &cacert, "--insecure"]);
        assert!(st.success(), "{pattern}: {err}");
        assert_eq!(out, want, "{pattern}");

        // Without --insecure: a name mismatch, in one line.
        let (st, out, err) = client(pattern, &url, &["--cacert", &cacert]);
        assert!(!st.success(), "{pattern}: {out}");
        let err = err
            .lines()
            .filter(|l| !l.contains(" INFO "))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(err.lines().count(), 1, "{pattern}: {err}");
        assert!(
            err.contains("name mismatch") && err.contains("127.0.0.2"),
            "{pattern}: {err}"
        );

        // Without the lab's CA (the system's CAs are used): an unknown CA, in one line, even with
        // --insecure.
        for extra in [&[][..], &["--insecure"][..]] {
            let (st, _, err) = client(pattern, &url, extra);
            assert!(!st.success());
            let err = err
                .lines()
                .filter(|l| !l.contains(" INFO "))
                .collect::<Vec<_>>()
                .join("\n");
            assert_eq!(err.lines().count(), 1, "{pattern}: {err}");
            assert!(
                err.contains("unknown CA") && err.contains("--cacert"),
                "{pattern}: {err}"
            );
        }
    }
    // --cacert with a plain-HTTP server address is a mistake, said in one line.
    let (st, _, err) = util::run_sister(
        &["rest", "client", "--server", "127.0.0.1:1", "--cacert", &cacert],
        T,
    );
    assert!(!st.success());
    assert!(err.contains("--server https://127.0.0.1:1"), "{err}");
}

/// A sister client that says https:// to a plain-HTTP server is told the peer does not speak TLS.
#[test]
fn https_client_against_a_plain_http_server() {
    let ca = lab_ca();
    let (_server, port) = util::sister_server("rest");
    let url = format!("https://127.0.0.1:{port}");
    let (st, _, err) = util::run_sister(
        &[
            "rest",
            "client",
            "--server",
            &url,
            "--cacert",
            &file(&ca, "ca.crt"),
        ],
        T,
    );
    assert!(!st.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("does not speak TLS"), "{err}");
}

fn https_probe(args: &[&str]) -> Vec<Value> {
    let script = util::repo().join("tests/peers/http/https_probe.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let module = if args[0] == "soap" { "zeep" } else { "requests" };
    let out = python(Some(module), &all)
        // requests lets these replace a Session's `verify` (see the script).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .unwrap();
    assert!(out.status.success(), "https_probe failed: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Python's requests (the course's REST client library) with `verify=ca.crt`, and zeep (the course's
/// SOAP client) on a session that trusts the lab's CA: the WSDL's https address is followed.
#[test]
fn requests_and_zeep_trust_the_lab_ca() {
    let ca = lab_ca();
    let cacert = file(&ca, "ca.crt");
    let (cert, key) = (file(&ca, "server.crt"), file(&ca, "server.key"));

    let (_rest, port) = https_server("rest", &cert, &key);
    let r = https_probe(&["rest", &format!("https://localhost:{port}"), &cacert]);
    assert_eq!(r[0]["value"], serde_json::json!({"result": 15}), "{r:?}");
    assert_eq!(r[1]["value"], serde_json::json!({"result": 50}), "{r:?}");
    assert_eq!(r[2]["ok"], false);
    assert!(
        r[2]["value"]
            .as_str()
            .unwrap()
            .contains("CERTIFICATE_VERIFY_FAILED"),
        "{r:?}"
    );

    let (_soap, port) = https_server("soap", &cert, &key);
    let r = https_probe(&["soap", &format!("https://localhost:{port}/?wsdl"), &cacert]);
    assert_eq!(r[0]["ok"], true, "{r:?}");
    assert_eq!(r[0]["value"]["address"], format!("https://localhost:{port}/"));
    assert_eq!(r[0]["value"]["add"], 15);
    assert_eq!(r[1]["ok"], false);
    assert!(
        r[1]["value"]
            .as_str()
            .unwrap()
            .contains("CERTIFICATE_VERIFY_FAILED"),
        "{r:?}"
    );
}
