//! The worksheet's MQTT exercise as a `sister lab` scenario.
//!
//! 1. A subscriber listens on `sister/channel/kesehatan`; a publisher sends to `sister/channel/gaming`.
//!    Both connect fine, nothing arrives, and neither side gets an error: MQTT does not tell a
//!    publisher whether anyone listens (only 5.0's PUBACK reason 0x10 hints at it, for QoS 1/2). The
//!    broker sees it, though: its log says the PUBLISH matched no subscription and names the nearest
//!    one, and `$SYS/broker/publish/messages/unmatched` counts it.
//! 2. The subscriber fixes its topic to `sister/channel/gaming`: every message arrives, in order.

use std::time::Duration;

use tracing::Instrument;
use wire::mqtt::{Publish, QoS, Subscription, SubscriptionOptions};

use super::broker::{self, BrokerOptions};
use super::client::{Client, ClientOptions};
use crate::lab::Checks;
use crate::shutdown;

const WRONG: &str = "sister/channel/kesehatan";
const TOPIC: &str = "sister/channel/gaming";
const MESSAGE: &str = "Ada kanal Youtube baru nih: @sister";
const COUNT: usize = 3;

/// Run the scenario on loopback (see the module docs).
pub async fn lab(checks: &Checks) {
    let listener = match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("the broker could not listen: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("the broker's address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let opts = BrokerOptions {
        sys_interval: Some(Duration::from_secs(1)),
        ..BrokerOptions::default()
    };
    let broker_task =
        tokio::spawn(broker::run(listener, opts, signal).instrument(tracing::info_span!("mqtt-broker")));

    let result = tokio::time::timeout(Duration::from_secs(30), scenario(checks, &addr)).await;
    if result.is_err() {
        checks.fail("the MQTT scenario did not finish within 30 s");
    }
    trigger.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), broker_task).await;
}

fn options(addr: &str, id: &str) -> ClientOptions {
    ClientOptions {
        server: addr.to_string(),
        client_id: id.to_string(),
        ..ClientOptions::default()
    }
}

async fn scenario(checks: &Checks, addr: &str) {
    let sub_span = tracing::info_span!("mqtt-sub");
    let pub_span = tracing::info_span!("mqtt-pub");
    let connected = async {
        let (sub, _) = Client::connect(&options(addr, "mqtt-sub"))
            .instrument(sub_span.clone())
            .await?;
        let (publ, _) = Client::connect(&options(addr, "mqtt-pub"))
            .instrument(pub_span.clone())
            .await?;
        let (sys, _) = Client::connect(&options(addr, "lab-sys-watcher")).await?;
        Ok::<_, super::client::ClientError>((sub, publ, sys))
    }
    .await;
    let (mut sub, mut publ, mut sys) = match connected {
        Ok(c) => c,
        Err(e) => return checks.fail(format!("MQTT clients could not connect to sister's broker: {e}")),
    };
    checks.expect(true, "publisher and subscriber connect to the broker");

    // Step 1: the mismatch.
    let subscribed = sub
        .subscribe(vec![Subscription::new(
            WRONG,
            SubscriptionOptions::qos(QoS::AtMostOnce),
        )])
        .instrument(sub_span.clone())
        .await;
    checks.expect(
        subscribed.is_ok_and(|a| a.codes.iter().all(|c| c.is_success())),
        format!("the subscriber subscribes to {WRONG}"),
    );
    for i in 1..=COUNT {
        let sent = publ
            .publish(Publish::new(TOPIC, format!("{MESSAGE} ({i})")))
            .instrument(pub_span.clone())
            .await;
        if let Err(e) = sent {
            return checks.fail(format!("the publisher could not publish: {e}"));
        }
    }
    let stray = tokio::time::timeout(Duration::from_millis(1500), sub.recv()).await;
    checks.expect(
        stray.is_err(),
        format!("a subscriber on {WRONG} receives nothing from a publisher on {TOPIC}"),
    );
    // The broker counted the messages nobody subscribed to (and logged why, naming the nearest
    // subscription).
    let watching = sys
        .subscribe(vec![Subscription::new(
            "$SYS/broker/publish/messages/unmatched",
            SubscriptionOptions::qos(QoS::AtMostOnce),
        )])
        .await;
    let mut unmatched = 0u64;
    if watching.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(4), async {
            while unmatched < COUNT as u64 {
                match sys.recv().await {
                    Ok(m) => unmatched = String::from_utf8_lossy(&m.payload).trim().parse().unwrap_or(0),
                    Err(_) => break,
                }
            }
        })
        .await;
    }
    checks.expect(
        unmatched >= COUNT as u64,
        format!("the broker reports the {COUNT} messages that matched no subscription (got {unmatched})"),
    );

    // Step 2: the fix.
    let fixed = sub
        .subscribe(vec![Subscription::new(
            TOPIC,
            SubscriptionOptions::qos(QoS::AtMostOnce),
        )])
        .instrument(sub_span.clone())
        .await;
    checks.expect(fixed.is_ok(), format!("the subscriber subscribes to {TOPIC}"));
    for i in 1..=COUNT {
        if let Err(e) = publ
            .publish(Publish::new(TOPIC, format!("{MESSAGE} ({i})")))
            .instrument(pub_span.clone())
            .await
        {
            return checks.fail(format!("the publisher could not publish: {e}"));
        }
    }
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while got.len() < COUNT {
            match sub.recv().await {
                Ok(m) => {
                    let text = String::from_utf8_lossy(&m.payload).to_string();
                    sub_span.in_scope(|| tracing::info!("Received message: {text} (Topic: {})", m.topic));
                    got.push(text);
                }
                Err(_) => break,
            }
        }
    })
    .await;
    let want: Vec<String> = (1..=COUNT).map(|i| format!("{MESSAGE} ({i})")).collect();
    checks.expect_eq(got, want, "with matching topics every message arrives, in order");
    let _ = publ.disconnect().await;
    let _ = sub.disconnect().await;
    let _ = sys.disconnect().await;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_worksheet_scenario_passes() {
        let checks = crate::lab::Checks::new();
        super::lab(&checks).await;
        assert!(checks.passed(), "{:?}", checks.results());
    }
}
