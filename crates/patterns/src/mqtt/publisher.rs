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
use wire::mqtt::{topic, Properties, Publish, QoS};

use super::client::{Backoff, Client, ClientError, ClientOptions, InFlight};
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
    /// 5.0: properties of every PUBLISH (`-D publish ...`).
    pub properties: Properties,
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
        // A QoS 1/2 message sent but not fully acknowledged when the connection broke.
        let mut in_flight: Option<InFlight> = None;
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
            let (mut client, session_present) = match connected {
                Ok((client, ack)) => {
                    tracing::info!(
                        client_id = client.client_id(),
                        "connected (MQTT {}, session present: {})",
                        client.version(),
                        ack.session_present
                    );
                    backoff.reset();
                    (client, ack.session_present)
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
            let result = match in_flight.take() {
                // The broker kept our session (-c): finish the interrupted exchange with the same
                // packet id, so the message is not delivered twice (MQTT 3.1.1 §4.4).
                Some(f) if session_present => {
                    tracing::info!(
                        id = f.publish.packet_id,
                        "session resumed: completing the interrupted QoS {} exchange",
                        f.publish.qos
                    );
                    match client.resume(f).await {
                        Ok(()) => {
                            self.sent += 1;
                            self.publish_all(&mut client, &mut unsent).await
                        }
                        Err(e) => Err(e),
                    }
                }
                // A new session: the broker forgot the old exchange, so the message is sent anew.
                Some(f) => {
                    unsent = Some(f.publish.payload);
                    self.publish_all(&mut client, &mut unsent).await
                }
                None => self.publish_all(&mut client, &mut unsent).await,
            };
            if let Some(f) = client.take_in_flight() {
                unsent = None;
                in_flight = Some(f);
            }
            match result {
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
                    // While waiting for a line of input, keep answering the broker (and pinging
                    // it), or it would drop us after 1.5 times the keep-alive.
                    let next = tokio::select! {
                        biased;
                        _ = shutdown.recv() => return Ok(()),
                        m = self.next_message() => m?,
                        r = client.idle(Duration::from_secs(3600)) => {
                            r?;
                            continue;
                        }
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
                properties: self.s.properties.clone(),
                ..Publish::new(self.s.topic.clone(), payload.clone())
            };
            let shown = wire::escape::show(&payload);
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

#[cfg(test)]
mod tests {
    //! The publisher against a scripted broker on loopback that breaks the connection in the middle of
    //! a QoS exchange: what is resent depends on whether the broker kept the session.

    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use wire::mqtt::{Ack, ConnAck, Decoder, Packet, Version};

    use super::*;

    struct Peer {
        s: TcpStream,
        buf: BytesMut,
    }

    impl Peer {
        async fn accept(l: &TcpListener) -> Peer {
            let (s, _) = l.accept().await.unwrap();
            Peer {
                s,
                buf: BytesMut::new(),
            }
        }
        async fn recv(&mut self) -> Packet {
            loop {
                match Decoder::with_version(Version::V3_1_1).decode(&self.buf) {
                    Ok((p, used)) => {
                        let _ = self.buf.split_to(used);
                        return p;
                    }
                    Err(e) if e.is_incomplete() => {}
                    Err(e) => panic!("{e}"),
                }
                assert!(self.s.read_buf(&mut self.buf).await.unwrap() > 0, "closed");
            }
        }
        async fn send(&mut self, p: Packet) {
            let bytes = p.to_vec(Version::V3_1_1).unwrap();
            self.s.write_all(&bytes).await.unwrap();
        }
        /// CONNECT in, CONNACK out.
        async fn handshake(l: &TcpListener, session_present: bool) -> Peer {
            let mut peer = Peer::accept(l).await;
            let Packet::Connect(c) = peer.recv().await else {
                panic!("CONNECT expected")
            };
            assert!(!c.clean_start, "the test publisher keeps its session (-c)");
            peer.send(Packet::ConnAck(ConnAck::accepted(session_present)))
                .await;
            peer
        }
    }

    fn settings(port: u16, qos: QoS) -> PubSettings {
        PubSettings {
            client: ClientOptions {
                server: format!("127.0.0.1:{port}"),
                client_id: "resumer".into(),
                clean_start: false,
                ..Default::default()
            },
            topic: "sister/temp".into(),
            messages: Messages::Fixed(Bytes::from_static(b"m")),
            qos,
            retain: false,
            properties: Properties::default(),
            interval: Some(Duration::from_millis(10)),
            count: Some(2),
        }
    }

    #[tokio::test]
    async fn qos2_resumes_with_pubrel_when_the_session_survives() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let publisher = tokio::spawn(run(settings(port, QoS::ExactlyOnce), Signal::never()));

        let mut first = Peer::handshake(&l, false).await;
        let Packet::Publish(p) = first.recv().await else {
            panic!()
        };
        first.send(Packet::PubRec(Ack::new(p.packet_id))).await;
        assert_eq!(first.recv().await, Packet::PubRel(Ack::new(p.packet_id)));
        drop(first); // the connection breaks before PUBCOMP

        let mut second = Peer::handshake(&l, true).await;
        // Not the PUBLISH again: the broker has it already; only the release is repeated.
        assert_eq!(second.recv().await, Packet::PubRel(Ack::new(p.packet_id)));
        second.send(Packet::PubComp(Ack::new(p.packet_id))).await;
        // The second message, a fresh exchange.
        let Packet::Publish(p2) = second.recv().await else {
            panic!()
        };
        assert!(!p2.dup);
        second.send(Packet::PubRec(Ack::new(p2.packet_id))).await;
        assert_eq!(second.recv().await, Packet::PubRel(Ack::new(p2.packet_id)));
        second.send(Packet::PubComp(Ack::new(p2.packet_id))).await;
        assert!(matches!(second.recv().await, Packet::Disconnect(_)));
        assert_eq!(publisher.await.unwrap().unwrap(), 2);
    }

    #[tokio::test]
    async fn qos1_is_resent_with_dup_and_the_same_id_or_anew_without_session() {
        for session_present in [true, false] {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let publisher = tokio::spawn(run(settings(port, QoS::AtLeastOnce), Signal::never()));

            let mut first = Peer::handshake(&l, false).await;
            let Packet::Publish(p) = first.recv().await else {
                panic!()
            };
            assert!(!p.dup);
            drop(first); // broken before PUBACK

            let mut second = Peer::handshake(&l, session_present).await;
            let Packet::Publish(again) = second.recv().await else {
                panic!()
            };
            // §4.4: same id and DUP on a resumed session; a new session starts afresh.
            assert_eq!(again.dup, session_present);
            assert_eq!(again.payload, p.payload);
            if session_present {
                assert_eq!(again.packet_id, p.packet_id);
            }
            second.send(Packet::PubAck(Ack::new(again.packet_id))).await;
            let Packet::Publish(p2) = second.recv().await else {
                panic!()
            };
            second.send(Packet::PubAck(Ack::new(p2.packet_id))).await;
            assert!(matches!(second.recv().await, Packet::Disconnect(_)));
            assert_eq!(publisher.await.unwrap().unwrap(), 2);
        }
    }
}
