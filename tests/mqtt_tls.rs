//! MQTT over TLS and `mosquitto.conf`, against the real thing: Mosquitto 2.0 and its clients
//! (Debian), paho-mqtt with `tls_set`, certificates made by openssl here (and by `sister ca` in
//! tests/ca.rs).
//!
//! What is checked: a lecturer's mosquitto.conf (a plain and a TLS listener, a client-certificate
//! listener with `use_identity_as_username` and an ACL) starts sister's broker unchanged and serves
//! mosquitto_pub/sub and paho over TLS 1.2 and 1.3; a plain-MQTT client on the TLS port gets no
//! CONNACK; sister's clients talk TLS to Mosquitto (server and client certificates); every TLS
//! failure is one line that names it (unknown CA, name mismatch, certificate required); a bad
//! configuration line stops the broker with its file and line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::{self, Proc};

const LONG: Duration = Duration::from_secs(30);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A lab CA made with openssl: `ca.crt`, a server certificate for `localhost` and 127.0.0.1 (RSA,
/// PKCS#8 key), client certificates `alice` and `bob` (CN = the name, clientAuth), and a second CA
/// (`other.crt`) that signed none of them.
pub struct OpensslCa {
    pub dir: tempfile::TempDir,
}

impl OpensslCa {
    pub fn new() -> OpensslCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            d.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(
            d.join("client.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        for ca in ["ca", "other"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &format!("/CN=sister test {ca}"),
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
        }
        for (name, ext, key) in [
            ("server", "server.ext", "rsa:2048"),
            ("alice", "client.ext", "rsa:2048"),
            ("bob", "client.ext", "rsa:2048"),
        ] {
            let cn = if name == "server" { "localhost" } else { name };
            run(&[
                "req",
                "-newkey",
                key,
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "30",
                "-extfile",
                ext,
            ]);
        }
        OpensslCa { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

/// A mosquitto.conf in `dir` with the given text.
fn write_conf(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("mosquitto.conf");
    std::fs::write(&p, text).unwrap();
    p
}

/// sister's broker started with `-c conf`, ready on `port`.
fn sister_broker(conf: &Path, ports: &[u16]) -> Proc {
    let mut p = util::spawn_sister(
        "sister mqtt broker",
        &["mqtt", "broker", "-c", conf.to_str().unwrap()],
    );
    for &port in ports {
        util::wait_for_tcp(util::local(port), LONG);
    }
    p.wait_for_line("listening", LONG);
    p
}

fn mosquitto_broker(conf: &Path, port: u16) -> Proc {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./.ci/run"
    );
    let mut cmd = Command::new(MOSQUITTO);
    cmd.arg("-c").arg(conf).arg("-v");
    let p = Proc::spawn("mosquitto", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    p
}

/// mosquitto_pub with `args`; its exit status and stderr.
fn mosquitto_pub(args: &[&str]) -> (bool, String) {
    let out = Command::new("mosquitto_pub").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mosquitto_sub(args: &[&str]) -> Proc {
    let mut cmd = Command::new("mosquitto_sub");
    cmd.args(args);
    Proc::spawn("mosquitto_sub", cmd)
}

/// The lecturer's file: anonymous plain MQTT on loopback, TLS with passwords... here: a plain
/// listener, a TLS listener and a client-certificate listener, one ACL.
fn lecturer_conf(ca: &OpensslCa, dir: &Path, plain: u16, tls: u16, certs: u16) -> PathBuf {
    let acl = dir.join("acl");
    // Anonymous clients (the topic lines before any `user`) may use lab/#; alice only alice/#.
    std::fs::write(
        &acl,
        "topic readwrite lab/#\n\nuser alice\ntopic readwrite alice/#\n",
    )
    .unwrap();
    write_conf(
        dir,
        &format!(
            "# a lecturer's mosquitto.conf\nper_listener_settings false\nallow_anonymous true\nacl_file {acl}\npersistence false\n\
             log_dest stdout\n\nlistener {plain} 127.0.0.1\nprotocol mqtt\n\nlistener {tls} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\n\
             tls_version tlsv1.2\n\nlistener {certs} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\nrequire_certificate true\n\
             use_identity_as_username true\n",
            acl = acl.display(),
            ca = ca.path("ca.crt"),
            crt = ca.path("server.crt"),
            key = ca.path("server.key"),
        ),
    )
}

#[test]
fn mosquitto_clients_over_tls_through_a_lecturers_mosquitto_conf() {
    let ca = OpensslCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (plain, tls, certs) = (
        util::free_tcp_port(),
        util::free_tcp_port(),
        util::free_tcp_port(),
    );
    let conf = lecturer_conf(&ca, dir.path(), plain, tls, certs);
    let mut broker = sister_broker(&conf, &[plain, tls, certs]);
    let cafile = ca.path("ca.crt");
    let (tls_s, certs_s, plain_s) = (tls.to_string(), certs.to_string(), plain.to_string());

    // TLS 1.3 and 1.2, mosquitto_sub and mosquitto_pub, the message crosses from TLS to plain.
    let mut sub = mosquitto_sub(&[
        "-h",
        "localhost",
        "-p",
        &plain_s,
        "-t",
        "lab/#",
        "-v",
        "-C",
        "3",
        "-W",
        "20",
    ]);
    let mut sub_tls = mosquitto_sub(&[
        "-h",
        "localhost",
        "-p",
        &tls_s,
        "--cafile",
        &cafile,
        "-t",
        "lab/#",
        "-v",
        "-C",
        "3",
        "-W",
        "20",
        "-V",
        "mqttv5",
    ]);
    broker.wait_for_line("subscribed", LONG);
    std::thread::sleep(Duration::from_millis(300));
    for version in ["tlsv1.3", "tlsv1.2"] {
        let (ok, err) = mosquitto_pub(&[
            "-h",
            "localhost",
            "-p",
            &tls_s,
            "--cafile",
            &cafile,
            "--tls-version",
            version,
            "-t",
            "lab/tls",
            "-m",
            version,
            "-q",
            "1",
        ]);
        assert!(ok, "mosquitto_pub {version}: {err}");
    }
    let (ok, err) = mosquitto_pub(&[
        "-h",
        "127.0.0.1",
        "-p",
        &plain_s,
        "-t",
        "lab/plain",
        "-m",
        "plain",
    ]);
    assert!(ok, "{err}");
    for s in [&mut sub, &mut sub_tls] {
        let status = s.wait_timeout(LONG);
        assert!(status.is_some_and(|st| st.success()), "{}", s.output());
        assert_eq!(
            s.stdout_lines(),
            ["lab/tls tlsv1.3", "lab/tls tlsv1.2", "lab/plain plain"]
        );
    }

    // A plain-MQTT client on the TLS port gets no CONNACK.
    let (ok, err) = mosquitto_pub(&["-h", "127.0.0.1", "-p", &tls_s, "-t", "lab/x", "-m", "x"]);
    assert!(!ok, "a plain client was served on the TLS port: {err}");
    broker.wait_for_line("the peer does not speak TLS", LONG);

    // The client-certificate listener: alice is alice (ACL: alice/# only), a client without a
    // certificate is refused in the handshake.
    let mut sub_alice = mosquitto_sub(&[
        "-h",
        "localhost",
        "-p",
        &certs_s,
        "--cafile",
        &cafile,
        "--cert",
        &ca.path("alice.crt"),
        "--key",
        &ca.path("alice.key"),
        "-t",
        "alice/#",
        "-v",
        "-C",
        "1",
        "-W",
        "20",
    ]);
    broker.wait_for_line("filter=alice/#", LONG);
    let (ok, err) = mosquitto_pub(&[
        "-h",
        "localhost",
        "-p",
        &certs_s,
        "--cafile",
        &cafile,
        "--cert",
        &ca.path("alice.crt"),
        "--key",
        &ca.path("alice.key"),
        "-t",
        "alice/in",
        "-m",
        "mine",
        "-u",
        "somebody-else",
    ]);
    assert!(ok, "{err}");
    assert!(
        sub_alice.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        sub_alice.output()
    );
    assert_eq!(sub_alice.stdout_lines(), ["alice/in mine"]);
    let (ok, _) = mosquitto_pub(&[
        "-h",
        "localhost",
        "-p",
        &certs_s,
        "--cafile",
        &cafile,
        "-t",
        "alice/in",
        "-m",
        "x",
    ]);
    assert!(
        !ok,
        "a client without a certificate was served on a require_certificate listener"
    );
    broker.wait_for_line("requires one (require_certificate)", LONG);
    assert!(
        broker.interrupt(LONG).is_some_and(|s| s.success()),
        "{}",
        broker.output()
    );
}

#[test]
fn paho_over_tls_to_sisters_broker() {
    let ca = OpensslCa::new();
    let dir = tempfile::tempdir().unwrap();
    let port = util::free_tcp_port();
    let conf = write_conf(
        dir.path(),
        &format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\ncertfile {}\nkeyfile {}\n",
            ca.path("server.crt"),
            ca.path("server.key")
        ),
    );
    let _broker = sister_broker(&conf, &[port]);
    let script = format!(
        r#"
import ssl, sys, time, threading
import paho.mqtt.client as mqtt
got = threading.Event()
def on_message(c, u, m):
    print("got", m.topic, m.payload.decode(), flush=True); got.set()
def on_connect(c, u, f, rc, p=None):
    c.subscribe("lab/paho", qos=1)
def on_subscribe(c, u, mid, rc, p=None):
    c.publish("lab/paho", "over tls", qos=1)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-tls")
c.tls_set(ca_certs={ca:?}, tls_version=ssl.PROTOCOL_TLS_CLIENT)
c.on_connect = on_connect; c.on_message = on_message; c.on_subscribe = on_subscribe
c.connect("localhost", {port})
c.loop_start()
ok = got.wait(20)
print("version", c.socket().version(), flush=True)
c.disconnect(); c.loop_stop()
sys.exit(0 if ok else 1)
"#,
        ca = ca.path("ca.crt"),
    );
    let out = util::python(None, &["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "paho: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("got lab/paho over tls"), "{stdout}");
    assert!(stdout.contains("version TLSv1.3"), "{stdout}");
}

#[test]
fn sisters_clients_over_tls_to_mosquitto_with_client_certificates() {
    let ca = OpensslCa::new();
    let dir = tempfile::tempdir().unwrap();
    let port = util::free_tcp_port();
    let conf = write_conf(
        dir.path(),
        &format!(
            // `user root`: run as root, Mosquitto would switch to the user `mosquitto`, who cannot read
            // the keys in this test's private temporary directory.
            "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nuse_identity_as_username true\n",
            ca.path("ca.crt"),
            ca.path("server.crt"),
            ca.path("server.key")
        ),
    );
    let mut mosq = mosquitto_broker(&conf, port);
    let server = format!("localhost:{port}");
    let cafile = ca.path("ca.crt");
    let tls = |who: &str| -> Vec<String> {
        vec![
            "--cafile".into(),
            cafile.clone(),
            "--cert".into(),
            ca.path(&format!("{who}.crt")),
            "--key".into(),
            ca.path(&format!("{who}.key")),
        ]
    };
    let mut sub_args: Vec<String> = [
        "mqtt", "sub", "--server", &server, "-t", "lab/#", "-C", "2", "-W", "20", "-V", "5", "--raw",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sub_args.extend(tls("bob"));
    let sub_refs: Vec<&str> = sub_args.iter().map(String::as_str).collect();
    let mut sub = util::spawn_sister("sister mqtt sub", &sub_refs);
    sub.wait_for_line("subscribed to", LONG);
    for (i, version) in ["tlsv1.2", "tlsv1.3"].iter().enumerate() {
        let msg = format!("from sister {i}");
        let mut args: Vec<String> = [
            "mqtt",
            "pub",
            "--server",
            &server,
            "-t",
            "lab/sister",
            "-m",
            &msg,
            "--qos",
            "1",
            "--tls-version",
            version,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(tls("alice"));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, _, err) = util::run_sister(&refs, LONG);
        assert!(status.success(), "sister mqtt pub {version}: {err}");
    }
    assert!(
        sub.wait_timeout(LONG).is_some_and(|s| s.success()),
        "{}",
        sub.output()
    );
    assert_eq!(sub.stdout_lines(), ["from sister 0", "from sister 1"]);
    // Mosquitto took the usernames from the certificates.
    mosq.wait_for_line("u'alice'", LONG);
    mosq.wait_for_line("u'bob'", LONG);

    // Without a client certificate: one line that says what is missing.
    let (status, _, err) = util::run_sister(
        &[
            "mqtt", "pub", "--server", &server, "--cafile", &cafile, "-t", "lab/x", "-m", "x",
        ],
        LONG,
    );
    assert!(!status.success());
    let line = err
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("certificate"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "{err}");
}

#[test]
fn tls_failures_are_one_line_that_names_them() {
    let ca = OpensslCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (port, plain) = (util::free_tcp_port(), util::free_tcp_port());
    let conf = write_conf(
        dir.path(),
        &format!(
            "allow_anonymous true\nlistener {plain} 127.0.0.1\nlistener {port} 127.0.0.1\ncertfile {crt}\nkeyfile {key}\nlistener {port} 127.0.0.2\ncertfile {crt}\nkeyfile {key}\n",
            crt = ca.path("server.crt"),
            key = ca.path("server.key"),
        ),
    );
    let _broker = sister_broker(&conf, &[port, plain]);
    let error_of = |args: &[&str]| -> String {
        let mut all = vec!["mqtt", "pub", "-t", "lab/x", "-m", "x"];
        all.extend_from_slice(args);
        let (status, _, err) = util::run_sister(&all, LONG);
        assert!(!status.success(), "{args:?} succeeded");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
        errors[0].to_string()
    };
    let server = format!("localhost:{port}");
    let e = error_of(&["--server", &server, "--cafile", &ca.path("other.crt")]);
    assert!(e.contains("unknown CA"), "{e}");
    // The certificate names localhost and 127.0.0.1, not 127.0.0.2 (which is loopback too).
    let e = error_of(&[
        "--server",
        &format!("127.0.0.2:{port}"),
        "--cafile",
        &ca.path("ca.crt"),
    ]);
    {
        assert!(e.contains("name mismatch"), "{e}");
        // --insecure skips the name, not the CA.
        let (status, _, err) = util::run_sister(
            &[
                "mqtt",
                "pub",
                "-t",
                "lab/x",
                "-m",
                "x",
                "--server",
                &format!("127.0.0.2:{port}"),
                "--cafile",
                &ca.path("ca.crt"),
                "--insecure",
            ],
            LONG,
        );
        assert!(status.success(), "{err}");
        let e = error_of(&[
            "--server",
            &format!("127.0.0.2:{port}"),
            "--cafile",
            &ca.path("other.crt"),
            "--insecure",
        ]);
        assert!(e.contains("unknown CA"), "{e}");
    }
    let e = error_of(&[
        "--server",
        &format!("localhost:{plain}"),
        "--cafile",
        &ca.path("ca.crt"),
    ]);
    assert!(e.contains("TLS"), "{e}");
    let e = error_of(&["--server", &server, "--cafile", "/nonexistent/ca.crt"]);
    assert!(e.contains("/nonexistent/ca.crt"), "{e}");
    let e = error_of(&[
        "--server",
        &server,
        "--cafile",
        &ca.path("ca.crt"),
        "--tls-version",
        "tlsv1.1",
    ]);
    assert!(e.contains("1.2 and 1.3 only"), "{e}");
}

#[test]
fn a_bad_mosquitto_conf_stops_the_broker_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = util::free_tcp_port();
    let cases: [(&str, &str); 5] = [
        (
            "listener {port}\nallow_anonymous true\nfoo bar\n",
            "mosquitto.conf:3: unknown configuration variable `foo`",
        ),
        (
            "listener {port}\nallow_anonymous maybe\n",
            "mosquitto.conf:2: invalid allow_anonymous value `maybe`",
        ),
        (
            "listener {port}\ncertfile /nonexistent/server.crt\nkeyfile /nonexistent/server.key\n",
            "/nonexistent/server.crt",
        ),
        (
            "listener {port}\nprotocol websockets\nhttp_dir /var/www\n",
            "mosquitto.conf:3: `http_dir` is a Mosquitto option sister does not support",
        ),
        (
            "listener {port}\nconnection bridge\n",
            "bridges are not supported",
        ),
    ];
    for (text, expected) in cases {
        let conf = write_conf(dir.path(), &text.replace("{port}", &port.to_string()));
        let (status, _, err) = util::run_sister(&["mqtt", "broker", "-c", conf.to_str().unwrap()], LONG);
        assert!(!status.success(), "{text}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A flag and the file must not both set the listener.
    let conf = write_conf(dir.path(), &format!("listener {port} 127.0.0.1\n"));
    let (status, _, err) = util::run_sister(
        &[
            "mqtt",
            "broker",
            "-c",
            conf.to_str().unwrap(),
            "--bind",
            "127.0.0.1:1",
        ],
        LONG,
    );
    assert!(!status.success());
    assert!(err.contains("--bind cannot be used with -c"), "{err}");
}

#[test]
fn a_conf_with_a_listener_refuses_anonymous_clients_as_mosquitto_2_does() {
    let dir = tempfile::tempdir().unwrap();
    let port = util::free_tcp_port();
    let conf = write_conf(dir.path(), &format!("listener {port} 127.0.0.1\n"));
    for name in ["sister", "mosquitto"] {
        let mut broker = match name {
            "sister" => sister_broker(&conf, &[port]),
            _ => mosquitto_broker(&conf, port),
        };
        for (v, expected) in [("mqttv311", "not authorised"), ("mqttv5", "not authorized")] {
            let (ok, err) = mosquitto_pub(&[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-V",
                v,
                "-t",
                "lab/x",
                "-m",
                "x",
            ]);
            assert!(!ok, "{name}: an anonymous {v} client was let in");
            assert!(err.to_lowercase().contains(expected), "{name} {v}: {err}");
        }
        broker.interrupt(LONG);
        drop(broker);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_default_listener_says_it_is_open_to_anyone() {
    let port = util::free_tcp_port();
    let bind = format!("0.0.0.0:{port}");
    let mut broker = util::spawn_sister("sister mqtt broker", &["mqtt", "broker", "--bind", &bind]);
    let line = broker.wait_for_line("accepts anyone on the network", LONG);
    assert!(line.contains(&bind), "{line}");
    broker.interrupt(LONG);
    // On loopback only, it does not.
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut broker = util::spawn_sister("sister mqtt broker", &["mqtt", "broker", "--bind", &bind]);
    broker.wait_for_line("listening", LONG);
    broker.interrupt(LONG);
    assert!(!broker.output().contains("accepts anyone"), "{}", broker.output());
}

#[test]
fn per_listener_settings_give_each_listener_its_own_rules_as_in_mosquitto() {
    // 1883-like: anonymous, may only read lab/#; 8883-like: passwords, alice may write lab/#.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let passwd = d.join("passwd");
    let (status, _, err) = util::run_sister(
        &[
            "mqtt",
            "passwd",
            "-c",
            "-b",
            passwd.to_str().unwrap(),
            "alice",
            "wonderland",
        ],
        LONG,
    );
    assert!(status.success(), "{err}");
    std::fs::write(d.join("acl-open"), "topic read lab/#\n").unwrap();
    std::fs::write(d.join("acl-users"), "user alice\ntopic readwrite lab/#\n").unwrap();
    let (open, users) = (util::free_tcp_port(), util::free_tcp_port());
    let conf = write_conf(
        d,
        &format!(
            "user root\nper_listener_settings true\n\nlistener {open} 127.0.0.1\nallow_anonymous true\nacl_file {}\n\n\
             listener {users} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n",
            d.join("acl-open").display(),
            passwd.display(),
            d.join("acl-users").display()
        ),
    );
    for name in ["sister", "mosquitto"] {
        let mut broker = match name {
            "sister" => sister_broker(&conf, &[open, users]),
            _ => {
                let p = mosquitto_broker(&conf, open);
                util::wait_for_tcp(util::local(users), LONG);
                p
            }
        };
        let (o, u) = (open.to_string(), users.to_string());
        let mut sub = mosquitto_sub(&[
            "-h",
            "127.0.0.1",
            "-p",
            &o,
            "-t",
            "lab/#",
            "-v",
            "-C",
            "1",
            "-W",
            "20",
        ]);
        std::thread::sleep(Duration::from_millis(500));
        // Anonymous on the open listener: may not write (the ACL says read); silently dropped, as
        // Mosquitto does for 3.1.1.
        let (ok, err) = mosquitto_pub(&["-h", "127.0.0.1", "-p", &o, "-t", "lab/x", "-m", "anonymous"]);
        assert!(ok, "{name}: {err}");
        // Anonymous on the password listener: refused.
        let (ok, err) = mosquitto_pub(&["-h", "127.0.0.1", "-p", &u, "-t", "lab/x", "-m", "x"]);
        assert!(!ok && err.contains("not authorised"), "{name}: {err}");
        // alice on the password listener: may write, and the open listener's reader gets it.
        let (ok, err) = mosquitto_pub(&[
            "-h",
            "127.0.0.1",
            "-p",
            &u,
            "-u",
            "alice",
            "-P",
            "wonderland",
            "-t",
            "lab/x",
            "-m",
            "alice",
        ]);
        assert!(ok, "{name}: {err}");
        assert!(
            sub.wait_timeout(LONG).is_some_and(|s| s.success()),
            "{name}: {}",
            sub.output()
        );
        assert_eq!(sub.stdout_lines(), ["lab/x alice"], "{name}");
        broker.interrupt(LONG);
        drop(broker);
        std::thread::sleep(Duration::from_millis(200));
    }
}
