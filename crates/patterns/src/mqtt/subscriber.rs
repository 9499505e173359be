//! `sister mqtt sub`: the course's subscriber, and mosquitto_sub.
//!
//! It subscribes to `sister/temp` (or the `-t` filters) and prints every message as the course's
//! `subscriber.py` does, `Received message: <payload> (Topic: <topic>)`, or with `-v` as mosquitto_sub
//! does, `<topic> <payload>`. A lost connection is re-opened with backoff and the filters subscribed
//! again. `-C N` exits after N messages, `-W SECS` after that many seconds.
//!
//! What to notice: subscribing to a topic nobody publishes on is not an error. The broker answers
//! SUBACK, and then nothing ever arrives; only the broker's log can tell you why.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;
use wire::mqtt::{topic, Publish, Subscription, SubscriptionOptions};

use super::client::{Backoff, Client, ClientError, ClientOptions};
use crate::shutdown::Signal;

/// How each message is printed on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The course's line: `Received message: <payload> (Topic: <topic>)`.
    Course,
    /// mosquitto_sub -v: `<topic> <payload>`.
    TopicPayload,
    /// mosquitto_sub without -v: the payload alone.
    Payload,
}

/// What `sister mqtt sub` was asked to do.
#[derive(Debug, Clone)]
pub struct SubSettings {
    pub client: ClientOptions,
    pub filters: Vec<String>,
    /// QoS and, in 5.0, no-local, retain-as-published and retain handling for every filter.
    pub options: SubscriptionOptions,
    pub output: Output,
    /// Exit after this many messages (`-C`).
    pub count: Option<u64>,
    /// Exit after this long (`-W`).
    pub timeout: Option<Duration>,
}

/// How a subscriber run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Ctrl+C, or `-C` messages received.
    Done,
    /// `-W` seconds passed.
    TimedOut,
}

/// One message as the chosen output prints it (payload bytes as they came, then a newline).
pub fn format_message(output: Output, p: &Publish) -> Vec<u8> {
    let mut line = Vec::with_capacity(p.payload.len() + p.topic.len() + 40);
    match output {
        Output::Course => {
            line.extend_from_slice(b"Received message: ");
            line.extend_from_slice(&p.payload);
            line.extend_from_slice(format!(" (Topic: {})", p.topic).as_bytes());
        }
        Output::TopicPayload => {
            line.extend_from_slice(p.topic.as_bytes());
            line.push(b' ');
            line.extend_from_slice(&p.payload);
        }
        Output::Payload => line.extend_from_slice(&p.payload),
    }
    line.push(b'\n');
    line
}

/// Subscribe and print messages until stopped; returns how it ended and how many messages came.
pub async fn run(settings: SubSettings, shutdown: Signal) -> Result<(Ended, u64), ClientError> {
    for f in &settings.filters {
        topic::validate_filter(f)
            .map_err(|e| ClientError::Protocol(format!("cannot subscribe to {f:?}: {e}")))?;
    }
    let span = tracing::info_span!("mqtt-sub", server = %settings.client.server);
    subscribe_loop(&settings, shutdown).instrument(span).await
}

/// Resolves at the `-W` deadline; never without one.
async fn deadline(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn subscribe_loop(s: &SubSettings, mut shutdown: Signal) -> Result<(Ended, u64), ClientError> {
    let mut backoff = Backoff::default();
    let mut opts = s.client.clone();
    let mut received = 0u64;
    let mut first = true;
    let until = s.timeout.map(|t| Instant::now() + t);
    let timed_out = |received| {
        tracing::info!("timed out after {:?} (-W)", s.timeout.unwrap_or_default());
        Ok((Ended::TimedOut, received))
    };
    loop {
        let connected = tokio::select! {
            biased;
            _ = shutdown.recv() => return Ok((Ended::Done, received)),
            _ = deadline(until) => return timed_out(received),
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
                tokio::select! {
                    _ = shutdown.recv() => return Ok((Ended::Done, received)),
                    _ = deadline(until) => return timed_out(received),
                    _ = tokio::time::sleep(delay) => {}
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        first = false;
        opts.wait = Duration::ZERO;
        let result = tokio::select! {
            r = receive(&mut client, s, &mut shutdown, &mut received) => r,
            _ = deadline(until) => Ok(Ended::TimedOut),
        };
        if let Ok(Ended::TimedOut) = result {
            client.disconnect().await.ok();
            return timed_out(received);
        }
        match result {
            Ok(ended) => {
                client.disconnect().await.ok();
                return Ok((ended, received));
            }
            Err(e) if e.is_transient() => {
                let delay = backoff.next_delay();
                tracing::warn!("connection lost: {e}; reconnecting in {delay:?}");
                tokio::select! {
                    _ = shutdown.recv() => return Ok((Ended::Done, received)),
                    _ = deadline(until) => return timed_out(received),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn receive(
    client: &mut Client,
    s: &SubSettings,
    shutdown: &mut Signal,
    received: &mut u64,
) -> Result<Ended, ClientError> {
    let subscriptions = s
        .filters
        .iter()
        .map(|f| Subscription::new(f.clone(), s.options))
        .collect();
    let ack = tokio::select! {
        biased;
        _ = shutdown.recv() => return Ok(Ended::Done),
        a = client.subscribe(subscriptions) => a?,
    };
    let mut granted = 0;
    for (filter, code) in s.filters.iter().zip(&ack.codes) {
        if code.is_success() {
            granted += 1;
            tracing::info!("subscribed to {filter} (granted QoS {})", code.byte());
        } else {
            tracing::warn!("the broker refused the subscription to {filter}: {code}");
        }
    }
    if granted == 0 {
        return Err(ClientError::Protocol(
            "the broker refused every subscription".into(),
        ));
    }
    let mut stdout = std::io::stdout();
    loop {
        if s.count.is_some_and(|c| *received >= c) {
            return Ok(Ended::Done);
        }
        let message = tokio::select! {
            biased;
            _ = shutdown.recv() => return Ok(Ended::Done),
            m = client.recv() => m?,
        };
        *received += 1;
        tracing::debug!("<- {}", wire::mqtt::Packet::Publish(message.clone()));
        stdout.write_all(&format_message(s.output, &message))?;
        stdout.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_the_course_and_mosquitto_print_them() {
        let p = Publish::new("sister/temp", "Suhu: 28°C");
        assert_eq!(
            format_message(Output::Course, &p),
            "Received message: Suhu: 28°C (Topic: sister/temp)\n".as_bytes()
        );
        assert_eq!(
            format_message(Output::TopicPayload, &p),
            "sister/temp Suhu: 28°C\n".as_bytes()
        );
        assert_eq!(format_message(Output::Payload, &p), "Suhu: 28°C\n".as_bytes());
    }
}
