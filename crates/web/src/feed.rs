//! The broker connection behind the topic tree: one MQTT client (sister's own,
//! `patterns::mqtt::client`) subscribed to `#` (or the filters given), recording every message into
//! [`crate::topics::TopicTree`] and publishing what the page's form sends.
//!
//! What to notice:
//! - The broker sends the retained message of every matching topic right after the SUBACK
//!   (MQTT 3.1.1 §3.3.1.3), so the tree is full of the last known values before any new message.
//! - Changes reach the pages in batches every [`BATCH`]: 1,000 messages/s become ten events a second,
//!   each naming only the topics that changed.
//! - A lost connection is retried with the client's backoff (0.5 s doubling to 30 s), and the page is
//!   told the broker's status (`connecting`, `connected`, the error), so a student sees why it is quiet.
//! - Subscribing to `#` does not show `$SYS/...` (MQTT 3.1.1 §4.7.2); `--topic '$SYS/#'` does.
//! - The subscription asks for QoS 0 unless told otherwise (`sister web --qos 2`). A message is
//!   delivered at the lower of its published QoS and the granted one (MQTT 3.1.1 §3.8.4), so with 0
//!   the history shows 0 for every message, and with 2 the QoS each publisher used. Why 0 by
//!   default: the retained messages a `#` subscription brings arrive all at once, and at QoS 1 or 2
//!   a broker keeps only so many per client in flight and queued (Mosquitto's and sister's
//!   `max_inflight_messages` + `max_queued_messages`, 100 + 1000 on sister's broker) and drops the
//!   rest, so a broker with 10,000 retained topics would show 1,100 of them.
//! - In MQTT 3.1.1 the broker clears RETAIN on every message it forwards live (§3.3.1.3): only the
//!   messages sent because of the SUBSCRIBE carry it, so a retained value set later is not seen as
//!   retained. With `-V 5` the subscription sets Retain As Published (MQTT 5.0 §3.8.3.1) and the
//!   flag arrives as the publisher set it; [`crate::topics::TopicTree::set_subscription`] tells the
//!   page which it is.
//! - A message published from the page goes out on this same connection; because the subscription
//!   is `#` without No Local, the broker sends it back, and it appears in the tree like any other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use patterns::mqtt::client::{Backoff, Client, ClientError, ClientOptions};
use patterns::shutdown::Signal;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use wire::mqtt::{Publish, QoS, Subscription, SubscriptionOptions};

use crate::server::{lock, App};
use crate::topics::{PublishRequest, Shown};

/// A message from the page's publish form, with where to say how it went: `Err` holds the sentence
/// the page shows (the broker refused it, or there is no connection right now).
pub type Outgoing = (PublishRequest, oneshot::Sender<Result<(), String>>);

/// What the broker connection is doing, for the page's status line. `state` is one of
/// `connecting`, `connected`, `retrying` (a connection attempt failed; `retry_in_s` says when the next
/// one is) and `lost` (a working connection ended); the page words each in its own language and
/// `text` says the same in English for logs and `curl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BrokerStatus {
    pub state: &'static str,
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<f64>,
    pub text: String,
}

impl BrokerStatus {
    pub fn connecting(server: &str) -> BrokerStatus {
        BrokerStatus {
            state: "connecting",
            server: server.to_string(),
            text: format!("connecting to {server}"),
            ..BrokerStatus::default()
        }
    }

    pub fn connected(server: &str) -> BrokerStatus {
        BrokerStatus {
            state: "connected",
            server: server.to_string(),
            text: format!("connected to {server}"),
            ..BrokerStatus::default()
        }
    }

    pub fn retrying(server: &str, error: String, delay: Duration) -> BrokerStatus {
        let s = delay.as_secs_f64();
        BrokerStatus {
            state: "retrying",
            server: server.to_string(),
            text: format!("{error} (trying again in {s:.1} s)"),
            error: Some(error),
            retry_in_s: Some(s),
        }
    }

    pub fn lost(server: &str, error: String) -> BrokerStatus {
        BrokerStatus {
            state: "lost",
            server: server.to_string(),
            text: format!("connection lost: {error}"),
            error: Some(error),
            retry_in_s: None,
        }
    }
}

/// How often changes are pushed to the pages.
pub const BATCH: Duration = Duration::from_millis(100);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Follow the broker until `shutdown`: subscribe to `filters` at `qos`, record, publish, reconnect.
pub async fn run(app: App, options: ClientOptions, filters: Vec<String>, qos: QoS, mut shutdown: Signal) {
    let (tx, mut rx) = mpsc::channel::<Outgoing>(64);
    *lock(&app.0.publish) = Some(tx);
    app.topics().set_subscription(qos.bits(), options.version.is_v5());
    let server = options.server.as_str();
    let mut backoff = Backoff::default();
    let mut batch = tokio::time::interval(BATCH);
    batch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        app.set_broker_status(BrokerStatus::connecting(server));
        // While there is no connection the page's messages are refused at once with the reason,
        // rather than waiting in the channel for a connection that may never come.
        let connected = loop {
            tokio::select! {
                c = connect(&options, &filters, qos) => break c,
                Some((_, reply)) = rx.recv() => {
                    let _ = reply.send(Err(not_connected(&app)));
                }
                _ = shutdown.recv() => return,
            }
        };
        let mut client = match connected {
            Ok(c) => c,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!("broker {server}: {e}; trying again in {delay:?}");
                app.set_broker_status(BrokerStatus::retrying(server, e.to_string(), delay));
                let wait = tokio::time::sleep(delay);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        Some((_, reply)) = rx.recv() => {
                            let _ = reply.send(Err(not_connected(&app)));
                        }
                        _ = shutdown.recv() => return,
                    }
                }
                continue;
            }
        };
        backoff.reset();
        tracing::info!(
            "following {} on {server} ({})",
            filters.join(", "),
            client.client_id()
        );
        app.set_broker_status(BrokerStatus::connected(server));
        let why = loop {
            tokio::select! {
                m = client.recv() => match m {
                    Ok(p) => {
                        let shown = Shown::new(&p.payload, p.qos as u8, p.retain, now_ms());
                        app.topics().record(&p.topic, shown);
                    }
                    Err(e) => break e.to_string(),
                },
                Some((req, reply)) = rx.recv() => {
                    let topic = req.topic.clone();
                    match client.publish(outgoing_publish(req)).await {
                        Ok(()) => {
                            tracing::info!("published to {topic} from the page");
                            let _ = reply.send(Ok(()));
                        }
                        // Refused by the broker (a 5.0 PUBACK/PUBREC reason code) or too large for
                        // it: the connection is still good, only this message failed.
                        Err(e @ (ClientError::Protocol(_) | ClientError::Encode(_))) => {
                            tracing::warn!("publishing to {topic} from the page: {e}");
                            let _ = reply.send(Err(e.to_string()));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e.to_string()));
                            break e.to_string();
                        }
                    }
                }
                _ = batch.tick() => flush(&app),
                _ = shutdown.recv() => {
                    let _ = client.disconnect().await;
                    return;
                }
            }
        };
        flush(&app);
        tracing::warn!("broker {server}: {why}");
        app.set_broker_status(BrokerStatus::lost(server, why));
    }
}

/// The page's request as a PUBLISH. The QoS was checked by the HTTP handler
/// ([`PublishRequest::check`]); the packet id is the client's to choose.
fn outgoing_publish(req: PublishRequest) -> Publish {
    let mut p = Publish::new(req.topic, Bytes::from(req.payload.into_bytes()));
    p.qos = QoS::from_bits(req.qos).unwrap_or(QoS::AtMostOnce);
    p.retain = req.retain;
    p
}

fn not_connected(app: &App) -> String {
    format!(
        "not connected to the broker ({}): the message was not sent",
        lock(&app.0.broker_status).text
    )
}

/// Push the topics changed since the last batch.
fn flush(app: &App) {
    let changes = app.topics().take_changes();
    if let Some(c) = changes {
        app.0.events.send("topics", &c);
    }
}

/// The subscription's options: `qos` (see the module's notes); with 5.0, Retain As Published so that
/// live messages keep their RETAIN flag (MQTT 5.0 §3.8.3.1). No Local stays off: the page's own
/// messages must come back to be shown.
pub fn subscription_options(qos: QoS, v5: bool) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: false,
        retain_as_published: v5,
        ..SubscriptionOptions::default()
    }
}

async fn connect(options: &ClientOptions, filters: &[String], qos: QoS) -> anyhow::Result<Client> {
    let (mut client, _ack) = Client::connect(options).await?;
    let subs = filters
        .iter()
        .map(|f| Subscription::new(f.clone(), subscription_options(qos, options.version.is_v5())))
        .collect();
    let ack = client.subscribe(subs).await?;
    for (filter, code) in filters.iter().zip(ack.codes.iter()) {
        if !code.is_success() {
            anyhow::bail!("the broker refused the subscription to {filter:?} ({code})");
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::mqtt::Version;

    /// The options byte as it goes on the wire: the last byte of a one-filter SUBSCRIBE.
    fn options_byte(qos: QoS, v5: bool) -> u8 {
        let version = if v5 { Version::V5 } else { Version::V3_1_1 };
        let packet = wire::mqtt::Packet::Subscribe(wire::mqtt::Subscribe {
            packet_id: 1,
            subscriptions: vec![Subscription::new("#".to_string(), subscription_options(qos, v5))],
            properties: Default::default(),
        });
        let mut out = Vec::new();
        wire::mqtt::encode(&packet, version, &mut out).unwrap();
        *out.last().unwrap()
    }

    #[test]
    fn the_subscription_keeps_qos_and_with_5_0_the_retain_flag() {
        // MQTT 5.0 §3.8.3.1: QoS 2 (0b10) | Retain As Published (bit 3).
        assert_eq!(options_byte(QoS::ExactlyOnce, true), 0b0000_1010);
        assert_eq!(options_byte(QoS::AtMostOnce, true), 0b0000_1000);
        // 3.1.1 has only the QoS bits; the others must be 0 (§3.8.3.1).
        assert_eq!(options_byte(QoS::ExactlyOnce, false), 0b10);
        assert_eq!(options_byte(QoS::AtMostOnce, false), 0);
    }

    #[test]
    fn a_page_request_becomes_a_publish() {
        let p = outgoing_publish(PublishRequest {
            topic: "sister/temp".into(),
            payload: "Suhu: 28°C".into(),
            qos: 1,
            retain: true,
        });
        assert_eq!(p.topic, "sister/temp");
        assert_eq!(&p.payload[..], "Suhu: 28°C".as_bytes());
        assert_eq!(p.qos, QoS::AtLeastOnce);
        assert!(p.retain);
    }

    #[test]
    fn the_status_line_says_when_the_next_attempt_is() {
        let s = BrokerStatus::retrying("127.0.0.1:1883", "refused".into(), Duration::from_millis(1500));
        assert_eq!(s.state, "retrying");
        assert_eq!(s.retry_in_s, Some(1.5));
        assert_eq!(s.text, "refused (trying again in 1.5 s)");
        let json = serde_json::to_value(BrokerStatus::connected("b:1883")).unwrap();
        assert_eq!(json["state"], "connected");
        assert!(json.get("error").is_none());
    }
}
