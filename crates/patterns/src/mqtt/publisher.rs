//! `sister mqtt pub`: the course's publisher, and mosquitto_pub.
//!
//! With no message given it behaves like the course's `publisher.py`: `Suhu: 28°C` to `sister/temp`
//! once a second until stopped. With `-m` and no `--interval` it sends once and exits, like
//! mosquitto_pub; `-l` sends each line read from standard input. A lost connection is re-opened with
//! backoff when more than one message is to be sent; the message in flight is sent again (QoS 1 and 2
//! messages then arrive at least once / exactly once, as their QoS promises).
//!
//! (The file is `publisher.rs` because `pub` is a Rust keyword.)

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::Instrument;
use wire::mqtt::{topic, Publish, QoS};

use super::client::{Backoff, Client, ClientError, ClientOptions};
use crate::shutdown::Signal;

/// Where the messages come from.
#[derive(Debug, Clone)]
pub enum Messages {
    /// The same message each time (`-m`, or the course's `Suhu: 28°C`).
    Fixed(Bytes),
    /// One message per line of standard input (`-l`), until end of input.
    StdinLines,
}

/// What `sister mqtt pub` was asked to do.
#[derive(Debug, Clone)]
pub struct PubSettings {
    pub client: ClientOptions,
    pub topic: String,
    pub messages: Messages,
    pub qos: QoS,
    pub retain: bool,
    /// Time between messages; `None` sends back to back (one message by default).
    pub interval: Option<Duration>,
    /// Stop after this many messages; `None`: forever with an interval, once without.
    pub count: Option<u64>,
}

/// Publish as configured; returns how many messages were published.
pub async fn run(settings: PubSettings, shutdown: Signal) -> Result<u64, ClientError> {
    topic::validate_name(&settings.topic)
        .map_err(|e| ClientError::Protocol(format!("cannot publish to {:?}: {e}", settings.topic)))?;
    let span = tracing::info_span!("mqtt-pub", server = %settings.client.server);
    Publisher::new(settings, shutdown).run().instrument(span).await
}

struct Publisher {
    s: PubSettings,
    shutdown: Signal,
    sent: u64,
    stdin: Option<tokio::io::Lines<BufReader<tokio::io::Stdin>>>,
}

impl Publisher {
    fn new(s: PubSettings, shutdown: Signal) -> Self {
        let stdin =
            matches!(s.messages, Messages::StdinLines).then(|| BufReader::new(tokio::io::stdin()).lines());
        Publisher {
            s,
            shutdown,
            sent: 0,
            stdin,
        }
    }

    /// More than one message: worth reconnecting when the connection drops.
    fn repeats(&self) -> bool {
        self.s.interval.is_some() || self.stdin.is_some() || self.s.count.is_some_and(|c| c > 1)
    }

    fn limit(&self) -> u64 {
        match (self.s.count, self.s.interval, &self.s.messages) {
            (Some(c), _, _) => c,
            (None, Some(_), _) | (None, _, Messages::StdinLines) => u64::MAX,
            (None, None, Messages::Fixed(_)) => 1,
        }
    }

    async fn run(mut self) -> Result<u64, ClientError> {
        let mut backoff = Backoff::default();
        let mut opts = self.s.client.clone();
        // The message being sent when a connection broke: sent again first after reconnecting.
        let mut unsent: Option<Bytes> = None;
        let mut first = true;
        loop {
            if self.shutdown.is_shutdown() {
                return Ok(self.sent);
            }
            let connected = tokio::select! {
                biased;
                _ = self.shutdown.recv() => return Ok(self.sent),
                c = Client::connect(&opts) => c,
            };
            let mut client = match connected {
                Ok((client, ack)) => {
                    tracing::info!(
                        client_id = client.client_id(),
                        "connected (MQTT {}, session present: {})",
                        client.version(),
                        ack.session_present
                    );
                    backoff.reset();
                    client
                }
                Err(e) if !first && e.is_transient() => {
                    let delay = backoff.next_delay();
                    tracing::warn!("reconnect failed: {e}; trying again in {delay:?}");
                    self.pause(delay).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            first = false;
            // After the first connection, reconnecting must not wait a whole --wait again.
            opts.wait = Duration::ZERO;
            match self.publish_all(&mut client, &mut unsent).await {
                Ok(()) => {
                    client.disconnect().await.ok();
                    tracing::info!("disconnected after {} message(s)", self.sent);
                    return Ok(self.sent);
                }
                Err(e) if e.is_transient() && self.repeats() => {
                    let delay = backoff.next_delay();
                    tracing::warn!("connection lost: {e}; reconnecting in {delay:?}");
                    self.pause(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn pause(&mut self, delay: Duration) {
        tokio::select! {
            _ = self.shutdown.recv() => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }

    /// The next message, or `None` at the end (count reached, end of input).
    async fn next_message(&mut self) -> Result<Option<Bytes>, ClientError> {
        if self.sent >= self.limit() {
            return Ok(None);
        }
        match (&self.s.messages, &mut self.stdin) {
            (_, Some(lines)) => Ok(lines.next_line().await?.map(Bytes::from)),
            (Messages::Fixed(m), None) => Ok(Some(m.clone())),
            (Messages::StdinLines, None) => Ok(None),
        }
    }

    async fn publish_all(
        &mut self,
        client: &mut Client,
        unsent: &mut Option<Bytes>,
    ) -> Result<(), ClientError> {
        // A clone, so waiting on it does not borrow `self` while `next_message` does.
        let mut shutdown = self.shutdown.clone();
        loop {
            let payload = match unsent.take() {
                Some(p) => p,
                None => {
                    let next = tokio::select! {
                        biased;
                        _ = shutdown.recv() => return Ok(()),
                        m = self.next_message() => m?,
                    };
                    match next {
                        Some(p) => p,
                        None => return Ok(()),
                    }
                }
            };
            let publish = Publish {
                qos: self.s.qos,
                retain: self.s.retain,
                ..Publish::new(self.s.topic.clone(), payload.clone())
            };
            let shown = wire::text::show(&payload);
            let result = tokio::select! {
                biased;
                _ = shutdown.recv() => return Ok(()),
                r = client.publish(publish) => r,
            };
            if let Err(e) = result {
                *unsent = Some(payload);
                return Err(e);
            }
            self.sent += 1;
            tracing::info!(
                topic = %self.s.topic,
                qos = self.s.qos.bits(),
                "published: {shown}"
            );
            if self.sent >= self.limit() {
                return Ok(());
            }
            if let Some(interval) = self.s.interval {
                tokio::select! {
                    biased;
                    _ = shutdown.recv() => return Ok(()),
                    r = client.idle(interval) => r?,
                }
            }
        }
    }
}
