//! The worksheet's publish/subscribe again, over TLS and with a password: `sister lab`'s `mqtt-tls`
//! step, and what an observer of the network still sees.
//!
//! 1. A lab CA (`sister ca init`) signs the broker's certificate for `localhost`; the broker listens
//!    for MQTT over TLS only, with a password file in mosquitto_passwd's `$7$` format and no anonymous
//!    clients (what a shared class broker needs).
//! 2. The subscriber connects through a "wire tap" (a relay that keeps a copy of every byte, which is
//!    what tcpdump on the bridge would see), the publisher directly; the message arrives.
//! 3. A wrong password gets CONNACK "not authorised"; a plain-MQTT client on the TLS port gets no
//!    CONNACK at all; a client that does not trust the CA refuses the broker.
//! 4. What the tap saw: the server name `localhost` in the ClientHello (SNI, RFC 6066 §3), the number and
//!    sizes of the TLS records; not the topic, the message or the password, which a plain capture shows.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;
use wire::mqtt::{Publish, QoS, ReasonCode, Subscription, SubscriptionOptions};

use super::broker::{self, auth, BrokerOptions, Listener};
use super::client::{Client, ClientError, ClientOptions};
use crate::lab::Checks;
use crate::shutdown;
use crate::tls::{ClientTls, ServerTls};

const TOPIC: &str = "sister/channel/gaming";
const MESSAGE: &str = "Ada kanal Youtube baru nih: @sister";
const USER: &str = "mahasiswa";
const PASSWORD: &str = "rahasia-lab-2026";

/// Run the scenario on loopback (see the module docs).
pub async fn lab(checks: &Checks) {
    let dir = std::env::temp_dir().join(format!(
        "sister-lab-tls-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = tokio::time::timeout(Duration::from_secs(60), run(checks, &dir)).await;
    if result.is_err() {
        checks.fail("the MQTT-over-TLS scenario did not finish within 60 s");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lab CA, the broker's certificate and the password file, in `dir`.
fn prepare(dir: &Path) -> Result<(), String> {
    crate::ca::init(dir, &[], true).map_err(|e| format!("the lab CA: {e}"))?;
    let hash = auth::PasswordHash::new(
        auth::HashKind::Pbkdf2Sha512,
        auth::default_iterations(),
        PASSWORD.as_bytes(),
    );
    std::fs::write(dir.join("passwd"), auth::set_user("", USER, &hash))
        .map_err(|e| format!("the password file: {e}"))
}

async fn run(checks: &Checks, dir: &Path) {
    if let Err(e) = prepare(dir) {
        return checks.fail(e);
    }
    checks.expect(
        true,
        "a lab CA signs the broker's certificate for localhost (sister ca init)",
    );
    let auth = match auth::Auth::load(Some(&dir.join("passwd")), None, false) {
        Ok(a) => a,
        Err(e) => return checks.fail(format!("the broker cannot read its password file: {e}")),
    };
    let tls = match ServerTls::new(dir.join("server.crt"), dir.join("server.key")).acceptor() {
        Ok(t) => t,
        Err(e) => return checks.fail(format!("the broker's TLS: {e}")),
    };
    let socket = match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("the broker could not listen: {e}")),
    };
    let Ok(port) = socket.local_addr().map(|a| a.port()) else {
        return checks.fail("the broker's address");
    };
    let listener = Listener {
        name: format!("127.0.0.1:{port} (TLS)"),
        tls: Some(tls),
        ..Listener::default()
    };
    let opts = BrokerOptions {
        auth,
        sys_interval: None,
        ..BrokerOptions::default()
    };
    let (trigger, signal) = shutdown::channel();
    let broker_task = tokio::spawn(
        broker::run_listeners(vec![(socket, listener)], opts, signal)
            .instrument(tracing::info_span!("mqtt-broker")),
    );
    let tap = match Tap::start(port).await {
        Ok(t) => t,
        Err(e) => {
            trigger.trigger();
            return checks.fail(format!("the wire tap: {e}"));
        }
    };
    scenario(checks, dir, port, &tap).await;
    trigger.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), broker_task).await;
    observe(checks, &tap);
}

fn options(port: u16, id: &str, ca: PathBuf, password: &str) -> ClientOptions {
    ClientOptions {
        // `localhost`, the name in the certificate (and in the ClientHello's SNI).
        server: format!("localhost:{port}"),
        client_id: id.to_string(),
        username: Some(USER.to_string()),
        password: Some(Bytes::from(password.to_string())),
        tls: Some(ClientTls {
            cafile: Some(ca),
            ..ClientTls::default()
        }),
        ..ClientOptions::default()
    }
}

async fn scenario(checks: &Checks, dir: &Path, port: u16, tap: &Tap) {
    let ca = dir.join("ca.crt");
    let sub_span = tracing::info_span!("mqtt-sub");
    let pub_span = tracing::info_span!("mqtt-pub");
    let sub = Client::connect(&options(tap.port, "mqtt-sub", ca.clone(), PASSWORD))
        .instrument(sub_span.clone())
        .await;
    let publ = Client::connect(&options(port, "mqtt-pub", ca.clone(), PASSWORD))
        .instrument(pub_span.clone())
        .await;
    let (mut sub, mut publ) = match (sub, publ) {
        (Ok((s, _)), Ok((p, _))) => (s, p),
        (Err(e), _) | (_, Err(e)) => {
            return checks.fail(format!("the clients could not connect over TLS: {e}"))
        }
    };
    checks.expect(
        true,
        "publisher and subscriber connect over TLS with their password",
    );
    let subscribed = sub
        .subscribe(vec![Subscription::new(
            TOPIC,
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )])
        .instrument(sub_span.clone())
        .await;
    checks.expect(
        subscribed.is_ok(),
        format!("the subscriber subscribes to {TOPIC}"),
    );
    let mut msg = Publish::new(TOPIC, MESSAGE);
    msg.qos = QoS::AtLeastOnce;
    if let Err(e) = publ.publish(msg).instrument(pub_span.clone()).await {
        return checks.fail(format!("the publisher could not publish: {e}"));
    }
    let got = tokio::time::timeout(Duration::from_secs(5), sub.recv()).await;
    let text = match got {
        Ok(Ok(m)) => {
            let text = String::from_utf8_lossy(&m.payload).to_string();
            sub_span.in_scope(|| tracing::info!("Received message: {text} (Topic: {})", m.topic));
            text
        }
        _ => String::new(),
    };
    checks.expect_eq(text, MESSAGE.to_string(), "the message arrives over TLS");
    let _ = publ.disconnect().await;
    let _ = sub.disconnect().await;

    // The refusals.
    let wrong = Client::connect(&options(port, "mqtt-intruder", ca.clone(), "tebakan"))
        .instrument(tracing::info_span!("mqtt-intruder"))
        .await;
    checks.expect(
        matches!(&wrong, Err(ClientError::Refused { code }) if matches!(code, ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword)),
        "a wrong password gets CONNACK 5 \"not authorised\"",
    );
    let plain = Client::connect(&ClientOptions {
        server: format!("127.0.0.1:{port}"),
        client_id: "mqtt-plain".into(),
        ..ClientOptions::default()
    })
    .instrument(tracing::info_span!("mqtt-plain"))
    .await;
    checks.expect(
        // No CONNACK: the broker's TLS answers the CONNECT, which is no ClientHello, with an alert
        // record (which the client cannot read as MQTT) and closes.
        matches!(&plain, Err(e) if !matches!(e, ClientError::Refused { .. })),
        "a plain-MQTT client on the TLS port gets no CONNACK",
    );
    let untrusting = Client::connect(&ClientOptions {
        tls: Some(ClientTls::default()), // the system's CAs, which never signed the lab CA's certificates
        ..options(port, "mqtt-untrusting", ca, PASSWORD)
    })
    .instrument(tracing::info_span!("mqtt-untrusting"))
    .await;
    checks.expect(
        matches!(&untrusting, Err(ClientError::Tls { why, .. }) if why.contains("unknown CA") || why.contains("no CA")),
        "a client that does not trust the lab CA refuses the broker (unknown CA)",
    );
}

/// What the wire tap recorded, as an observer of the network would read it.
fn observe(checks: &Checks, tap: &Tap) {
    let (up, down) = tap.bytes();
    let records = |b: &[u8]| tls_records(b);
    let (up_records, down_records) = (records(&up), records(&down));
    tracing::info_span!("observer").in_scope(|| {
        tracing::info!(
            "the subscriber's connection as the network sees it: {} TLS records ({} bytes) to the broker, {} ({} bytes) back; server name `localhost` in the clear: {}",
            up_records.len(),
            up.len(),
            down_records.len(),
            down.len(),
            contains(&up, b"localhost")
        )
    });
    checks.expect(
        !up_records.is_empty()
            && up_records
                .iter()
                .chain(&down_records)
                .all(|&t| (20..=23).contains(&t)),
        "every byte on the wire is a TLS record (handshake, then application data)",
    );
    checks.expect(
        contains(&up, b"localhost"),
        "the server name (SNI `localhost`) is visible in the ClientHello",
    );
    let secret = [
        TOPIC.as_bytes(),
        MESSAGE.as_bytes(),
        PASSWORD.as_bytes(),
        USER.as_bytes(),
    ];
    checks.expect(
        secret.iter().all(|s| !contains(&up, s) && !contains(&down, s)),
        "the topic, the message, the user name and the password never cross the wire readable",
    );
}

/// The content types of the TLS records in a byte stream (RFC 8446 §5.1: type, version, length).
fn tls_records(mut b: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while b.len() >= 5 {
        let len = u16::from_be_bytes([b[3], b[4]]) as usize;
        types.push(b[0]);
        b = b.get(5 + len..).unwrap_or(&[]);
    }
    types
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A relay in front of the broker that keeps a copy of every byte of the first connection through it.
struct Tap {
    port: u16,
    up: Arc<Mutex<Vec<u8>>>,
    down: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    async fn start(broker_port: u16) -> std::io::Result<Tap> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (up, down) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(("127.0.0.1", broker_port)).await else {
                return;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(copy(cr, sw, u), copy(sr, cw, d));
        });
        Ok(Tap { port, up, down })
    }

    fn bytes(&self) -> (Vec<u8>, Vec<u8>) {
        let get = |m: &Arc<Mutex<Vec<u8>>>| m.lock().map(|v| v.clone()).unwrap_or_default();
        (get(&self.up), get(&self.down))
    }
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Ok(mut v) = seen.lock() {
                    v.extend_from_slice(&buf[..n]);
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_tls_scenario_passes() {
        let checks = crate::lab::Checks::new();
        super::lab(&checks).await;
        assert!(checks.passed(), "{:?}", checks.results());
    }

    #[test]
    fn records_are_counted() {
        let b = [22, 3, 1, 0, 2, 1, 2, 23, 3, 3, 0, 1, 9];
        assert_eq!(super::tls_records(&b), [22, 23]);
    }
}
