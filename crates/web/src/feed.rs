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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use patterns::mqtt::client::{Backoff, Client, ClientOptions};
use patterns::shutdown::Signal;
use tokio::sync::mpsc;
use wire::mqtt::{Publish, QoS, Subscription, SubscriptionOptions};

use crate::server::{lock, App};
use crate::topics::{PublishRequest, Shown};

/// How often changes are pushed to the pages.
pub const BATCH: Duration = Duration::from_millis(100);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Follow the broker until `shutdown`: subscribe to `filters`, record, publish, reconnect.
pub async fn run(app: App, options: ClientOptions, filters: Vec<String>, mut shutdown: Signal) {
    let (tx, mut rx) = mpsc::channel::<PublishRequest>(64);
    *lock(&app.0.publish) = Some(tx);
    let mut backoff = Backoff::default();
    let mut batch = tokio::time::interval(BATCH);
    batch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        app.set_broker_status(format!("connecting to {}", options.server));
        let connected = tokio::select! {
            c = connect(&options, &filters) => c,
            _ = shutdown.recv() => return,
        };
        let mut client = match connected {
            Ok(c) => c,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!("broker {}: {e}; trying again in {delay:?}", options.server);
                app.set_broker_status(format!("{e} (trying again in {:.1} s)", delay.as_secs_f64()));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shutdown.recv() => return,
                }
            }
        };
        backoff.reset();
        tracing::info!(
            "following {} on {} ({})",
            filters.join(", "),
            options.server,
            client.client_id()
        );
        app.set_broker_status(format!("connected to {}", options.server));
        let why = loop {
            tokio::select! {
                m = client.recv() => match m {
                    Ok(p) => {
                        let shown = Shown::new(&p.payload, p.qos as u8, p.retain, now_ms());
                        app.topics().record(&p.topic, shown);
                    }
                    Err(e) => break e.to_string(),
                },
                Some(req) = rx.recv() => {
                    let qos = QoS::from_bits(req.qos).unwrap_or(QoS::AtMostOnce);
                    let mut p = Publish::new(req.topic.clone(), Bytes::from(req.payload.into_bytes()));
                    p.qos = qos;
                    p.retain = req.retain;
                    if let Err(e) = client.publish(p).await {
                        break e.to_string();
                    }
                    tracing::info!("published to {} from the page", req.topic);
                }
                _ = batch.tick() => flush(&app),
                _ = shutdown.recv() => {
                    let _ = client.disconnect().await;
                    return;
                }
            }
        };
        flush(&app);
        tracing::warn!("broker {}: {why}", options.server);
        app.set_broker_status(format!("connection lost: {why}"));
    }
}

/// Push the topics changed since the last batch.
fn flush(app: &App) {
    let changes = app.topics().take_changes();
    if let Some(c) = changes {
        app.0.events.send("topics", &c);
    }
}

async fn connect(options: &ClientOptions, filters: &[String]) -> anyhow::Result<Client> {
    let (mut client, _ack) = Client::connect(options).await?;
    let subs = filters
        .iter()
        .map(|f| Subscription::new(f.clone(), SubscriptionOptions::qos(QoS::AtMostOnce)))
        .collect();
    let ack = client.subscribe(subs).await?;
    for (filter, code) in filters.iter().zip(ack.codes.iter()) {
        if !code.is_success() {
            anyhow::bail!("the broker refused the subscription to {filter:?} ({code})");
        }
    }
    Ok(client)
}
