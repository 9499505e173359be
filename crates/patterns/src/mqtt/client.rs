//! An MQTT client over tokio, on the codec of `wire::mqtt`: connect, publish at QoS 0/1/2, subscribe,
//! receive, keep the connection alive, disconnect. `sister mqtt pub` and `sister mqtt sub` are built
//! on it ([`super::publisher`], [`super::subscriber`]).
//!
//! The client drives its connection itself, without a background task: every call reads what the
//! broker sends while it waits for its own answer. That keeps the exchange readable in order, as in a
//! capture:
//!
//! ```text
//!  client                              broker
//!  CONNECT (client id, keep-alive)  ->
//!                                   <- CONNACK (accepted?)
//!  SUBSCRIBE id=1 [sister/temp]     ->
//!                                   <- SUBACK id=1 [granted QoS]
//!  PUBLISH qos=1 id=2               ->
//!                                   <- PUBACK id=2             (QoS 1: at least once)
//!  PUBLISH qos=2 id=3               ->
//!                                   <- PUBREC id=3             (QoS 2: exactly once,
//!  PUBREL id=3                      ->                          in two round trips)
//!                                   <- PUBCOMP id=3
//!  PINGREQ                          ->                          (after keep-alive seconds of silence)
//!                                   <- PINGRESP
//!  DISCONNECT                       ->                          (leaving on purpose: no will)
//! ```
//!
//! The protocol bookkeeping that is not I/O (packet identifiers, which QoS 2 messages were already
//! delivered) is in [`ClientState`], tested without a socket.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::tls::ClientTls;
use tokio::time::{timeout_at, Instant};
use wire::mqtt::{
    self, Ack, ConnAck, Connect, Decoder, Disconnect, Packet, Properties, Publish, QoS, ReasonCode, SubAck,
    Subscribe, Subscription, Version, Will,
};

use crate::net::{self, NetError};

/// The broker of the course's compose file.
pub const DEFAULT_SERVER: &str = "mqtt-broker:1883";
/// The course's topic.
pub const DEFAULT_TOPIC: &str = "sister/temp";
/// The course's message.
pub const DEFAULT_MESSAGE: &str = "Suhu: 28°C";

/// Everything that can end a client's connection, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection to the broker failed: {}", crate::tls::explain(.0))]
    Io(#[from] io::Error),
    #[error("the broker sent bytes that are not MQTT {version}: {error}")]
    Decode { version: Version, error: mqtt::Error },
    #[error("cannot encode the packet: {0}")]
    Encode(#[from] mqtt::EncodeError),
    #[error("the broker refused the connection: {code}{}", hint(*.code))]
    Refused { code: ReasonCode },
    #[error(
        "the broker closed the connection with DISCONNECT {reason}{}",
        show_reason(reason_string)
    )]
    ServerDisconnect {
        reason: ReasonCode,
        reason_string: Option<String>,
    },
    #[error("the broker closed the connection")]
    Closed,
    #[error("no answer from the broker for {0:?} (keep-alive): the connection is dead")]
    KeepAliveTimeout(Duration),
    #[error("the broker broke the protocol: {0}")]
    Protocol(String),
    #[error("TLS with {server} failed: {why}")]
    Tls { server: String, why: String },
}

fn show_reason(reason: &Option<String>) -> String {
    reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
}

fn hint(code: ReasonCode) -> &'static str {
    match code {
        ReasonCode::UnsupportedProtocolVersion => {
            ". The broker does not speak this MQTT version: try -V 311 (or -V 5)"
        }
        ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized => {
            ". Check -u/-P against the broker's password file"
        }
        ReasonCode::ClientIdentifierNotValid => {
            ". Give another client id with -i (3.1.1 brokers may refuse empty or long ones)"
        }
        _ => "",
    }
}

impl ClientError {
    /// Worth reconnecting after? A refusal or a protocol error will happen again; a lost connection
    /// may not.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Net(_)
            | ClientError::Io(_)
            | ClientError::Closed
            | ClientError::KeepAliveTimeout(_) => true,
            ClientError::ServerDisconnect { reason, .. } => matches!(
                reason,
                ReasonCode::ServerShuttingDown
                    | ReasonCode::ServerBusy
                    | ReasonCode::KeepAliveTimeout
                    | ReasonCode::UnspecifiedError
            ),
            _ => false,
        }
    }
}

/// Messages kept for [`Client::recv`] at most; beyond, the oldest is dropped (and logged).
const MAX_PENDING: usize = 10_000;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `HOST:PORT` of the broker.
    pub server: String,
    /// Empty: one is generated (`sister-<role>-<random>`), as mosquitto_pub does.
    pub client_id: String,
    pub version: Version,
    /// Seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    /// 3.1.1 clean session / 5.0 clean start.
    pub clean_start: bool,
    /// 5.0: how long the broker keeps the session after the connection ends (None: 0, gone at once).
    pub session_expiry: Option<u32>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    /// How long to retry the first TCP connection while the broker starts (`--wait`).
    pub wait: Duration,
    /// Print every packet sent and received on stderr (`-d`).
    pub show_packets: bool,
    /// 5.0: properties of the CONNECT (`-D connect ...`).
    pub properties: Properties,
    /// MQTT over TLS (`--cafile`, `--cert`, ...; see [`crate::tls`]).
    pub tls: Option<ClientTls>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            server: DEFAULT_SERVER.into(),
            client_id: String::new(),
            version: Version::V3_1_1,
            keep_alive: 60,
            clean_start: true,
            session_expiry: None,
            username: None,
            password: None,
            will: None,
            wait: Duration::ZERO,
            show_packets: false,
            properties: Properties::default(),
            tls: None,
        }
    }
}

/// A client id for `role` (`pub`, `sub`): `sister-pub-3f2a9c1e`.
pub fn generate_client_id(role: &str) -> String {
    format!("sister-{role}-{:08x}", rand::random::<u32>())
}

/// The protocol bookkeeping of one client session, without I/O.
#[derive(Debug, Default)]
pub struct ClientState {
    last_id: u16,
    /// Identifiers of our QoS 1/2 PUBLISHes and SUBSCRIBEs still waiting for their answer.
    in_use: HashSet<u16>,
    /// QoS 2 messages received (PUBREC sent) whose PUBREL has not come yet: a PUBLISH arriving again
    /// with one of these ids is the same message resent, and is not delivered twice (MQTT 3.1.1 §4.3.3,
    /// "Method B": deliver on PUBLISH, remember the id until PUBREL).
    qos2_received: HashSet<u16>,
}

/// What the client does with a PUBLISH it received.
#[derive(Debug, PartialEq, Eq)]
pub struct Incoming {
    /// Give the message to the application (false for a QoS 2 duplicate).
    pub deliver: bool,
    /// The acknowledgement to send: PUBACK for QoS 1, PUBREC for QoS 2.
    pub reply: Option<Packet>,
}

impl ClientState {
    /// The next free packet identifier: 1..=65535, skipping ids still in flight (MQTT 3.1.1 §2.3.1).
    pub fn next_packet_id(&mut self) -> u16 {
        loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if self.in_use.insert(self.last_id) {
                return self.last_id;
            }
        }
    }

    /// The exchange of `id` is complete; the id may be used again.
    pub fn release(&mut self, id: u16) {
        self.in_use.remove(&id);
    }

    /// A PUBLISH from the broker.
    pub fn on_publish(&mut self, p: &Publish) -> Incoming {
        match p.qos {
            QoS::AtMostOnce => Incoming {
                deliver: true,
                reply: None,
            },
            QoS::AtLeastOnce => Incoming {
                deliver: true,
                reply: Some(Packet::PubAck(Ack::new(p.packet_id))),
            },
            QoS::ExactlyOnce => Incoming {
                deliver: self.qos2_received.insert(p.packet_id),
                reply: Some(Packet::PubRec(Ack::new(p.packet_id))),
            },
        }
    }

    /// A PUBREL from the broker: forget the id, answer PUBCOMP.
    pub fn on_pubrel(&mut self, id: u16) -> Packet {
        self.qos2_received.remove(&id);
        Packet::PubComp(Ack::new(id))
    }
}

/// One connection to a broker.
pub struct Client {
    stream: Stream,
    buf: BytesMut,
    /// Reads the broker's packets from `buf`, in our version.
    decoder: Decoder,
    out: BytesMut,
    version: Version,
    /// The keep-alive in force (the broker's Server Keep Alive overrides ours in 5.0).
    keep_alive: Option<Duration>,
    last_sent: Instant,
    /// When our unanswered PINGREQ went out.
    ping_sent: Option<Instant>,
    state: ClientState,
    /// Messages that arrived while we waited for an acknowledgement, in order.
    pending: VecDeque<Publish>,
    client_id: String,
    /// The largest packet the broker accepts (5.0 Maximum Packet Size).
    max_packet: usize,
    /// Our QoS 1/2 PUBLISH whose acknowledgements have not all come yet.
    in_flight: Option<InFlight>,
    show_packets: bool,
}

/// A QoS 1 or 2 PUBLISH whose exchange has not completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The message, with the packet id it was sent with.
    pub publish: Publish,
    /// QoS 2: PUBREC came and PUBREL went out; only PUBCOMP is missing.
    pub released: bool,
}

impl Client {
    /// Open the TCP connection, send CONNECT, wait for CONNACK. A refusal is an error.
    pub async fn connect(opts: &ClientOptions) -> Result<(Client, ConnAck), ClientError> {
        let tcp = net::connect_tcp(&opts.server, opts.wait).await?;
        let _ = tcp.set_nodelay(true);
        let stream = match &opts.tls {
            None => Stream::Plain(tcp),
            Some(tls) => {
                let failed = |why: String| ClientError::Tls {
                    server: opts.server.clone(),
                    why,
                };
                let connector = tls.connector().map_err(|e| failed(e.0))?;
                let name = crate::tls::server_name(&opts.server).map_err(|e| failed(e.0))?;
                let handshake = connector.connect(name, tcp);
                match tokio::time::timeout(Duration::from_secs(30), handshake).await {
                    Ok(Ok(s)) => Stream::Tls(Box::new(s)),
                    Ok(Err(e)) => return Err(failed(crate::tls::explain(&e))),
                    Err(_) => {
                        return Err(failed(
                            "no TLS handshake within 30 s (is this a TLS port?)".into(),
                        ))
                    }
                }
            }
        };
        let mut properties = opts.properties.clone();
        if opts.version.is_v5() && opts.session_expiry.is_some() {
            properties.session_expiry_interval = opts.session_expiry;
        }
        let connect = Connect {
            version: opts.version,
            client_id: opts.client_id.clone(),
            clean_start: opts.clean_start,
            keep_alive: opts.keep_alive,
            will: opts.will.clone(),
            username: opts.username.clone(),
            password: opts.password.clone(),
            properties,
        };
        let now = Instant::now();
        let mut client = Client {
            stream,
            buf: BytesMut::with_capacity(4096),
            decoder: Decoder::with_version(opts.version),
            out: BytesMut::with_capacity(256),
            version: opts.version,
            keep_alive: (opts.keep_alive > 0).then(|| Duration::from_secs(opts.keep_alive.into())),
            last_sent: now,
            ping_sent: None,
            state: ClientState::default(),
            pending: VecDeque::new(),
            client_id: opts.client_id.clone(),
            max_packet: mqtt::MAX_PACKET_SIZE,
            in_flight: None,
            show_packets: opts.show_packets,
        };
        client.send(&Packet::Connect(Box::new(connect))).await?;
        // §3.1.4: the first packet from the server must be CONNACK. We wait up to 30 s for it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let packet = match timeout_at(deadline, client.read_packet()).await {
            Ok(p) => p?,
            Err(_) => {
                return Err(ClientError::Protocol(format!(
                    "no CONNACK within 30 s from {}: is an MQTT broker listening there?",
                    opts.server
                )))
            }
        };
        let Packet::ConnAck(ack) = packet else {
            return Err(ClientError::Protocol(format!(
                "expected CONNACK first, got {packet}"
            )));
        };
        if ack.code != ReasonCode::Success {
            // A 3.1.1-only broker answers a 5.0 CONNECT with a 3.1.1 CONNACK, return code 1
            // ("unacceptable protocol version"), which read as 5.0 would be 0x01 "granted QoS 1".
            let code = match ack.code.byte() {
                b @ 1..=5 if opts.version.is_v5() => ReasonCode::from_v3_connack(b),
                _ => ack.code,
            };
            return Err(ClientError::Refused { code });
        }
        if let Some(ka) = ack.properties.server_keep_alive {
            client.keep_alive = (ka > 0).then(|| Duration::from_secs(ka.into()));
        }
        if let Some(id) = &ack.properties.assigned_client_identifier {
            client.client_id = id.clone();
        }
        if let Some(max) = ack.properties.maximum_packet_size {
            client.max_packet = max as usize;
        }
        Ok((client, ack))
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Our client id (the broker's choice when we sent an empty one to a 5.0 broker).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Encode and write one packet.
    /// One line per packet: on stderr with `-d` (as mosquitto_pub/sub -d), in the debug log otherwise.
    fn show(&self, direction: &str, packet: &Packet) {
        if self.show_packets {
            eprintln!("{} {direction} {packet}", self.client_id);
        } else {
            tracing::debug!("{direction} {packet}");
        }
    }

    /// Encode `packet` after whatever is still unwritten and write it all.
    ///
    /// Cancel-safe: `out` holds exactly the bytes not yet written, advanced after every partial
    /// write, so if the caller stops waiting (Ctrl+C while acknowledging a message), the next `send`
    /// (the DISCONNECT) first finishes the interrupted packet. The broker never sees half a packet
    /// followed by another.
    async fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        self.show("->", packet);
        let size = packet.encoded_len(self.version);
        if size > self.max_packet {
            return Err(ClientError::Protocol(format!(
                "the packet is {size} bytes, more than the broker's maximum packet size of {}",
                self.max_packet
            )));
        }
        mqtt::encode(packet, self.version, &mut self.out)?;
        while !self.out.is_empty() {
            let n = self.stream.write(&self.out).await?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.out.advance(n);
        }
        // TLS: what rustls encrypted but the socket did not take yet goes out now.
        self.stream.flush().await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Read the next packet, sending PINGREQ when we have sent nothing for the keep-alive (§3.1.2.10:
    /// the client must send *something* within it), and failing when nothing at all comes back within
    /// the keep-alive after a PINGREQ (§3.1.2.10: "If a Client does not receive a PINGRESP ... within a
    /// reasonable amount of time after it has sent a PINGREQ, it SHOULD close the Network Connection").
    async fn read_packet(&mut self) -> Result<Packet, ClientError> {
        loop {
            // A whole packet is split off the buffer and decoded in place: the payload of a PUBLISH
            // stays in the bytes read from the socket (no copy).
            match self.decoder.decode_from(&mut self.buf) {
                Ok(packet) => {
                    self.ping_sent = None;
                    self.show("<-", &packet);
                    return Ok(packet);
                }
                Err(e) if e.is_incomplete() => {}
                Err(error) => {
                    return Err(ClientError::Decode {
                        version: self.version,
                        error,
                    })
                }
            }
            // Room for a good read (split_to above leaves the buffer without spare capacity).
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(8192);
            }
            let read = match self.keep_alive {
                None => self.stream.read_buf(&mut self.buf).await?,
                Some(ka) => {
                    let ping_at = self.last_sent + ka;
                    let dead_at = self.ping_sent.map(|at| at + ka);
                    if dead_at.is_some_and(|d| Instant::now() >= d) {
                        return Err(ClientError::KeepAliveTimeout(ka));
                    }
                    let wake = dead_at.map_or(ping_at, |d| d.min(ping_at));
                    match timeout_at(wake, self.stream.read_buf(&mut self.buf)).await {
                        Ok(n) => n?,
                        Err(_) => {
                            if self.ping_sent.is_none() && Instant::now() >= self.last_sent + ka {
                                self.send(&Packet::PingReq).await?;
                                self.ping_sent = Some(Instant::now());
                            }
                            continue;
                        }
                    }
                }
            };
            if read == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Handle what every wait must handle (incoming messages and their QoS flow, pings, a server's
    /// DISCONNECT); return the other packets to the caller, or `None` when a message was queued for
    /// [`Client::recv`].
    async fn next_control_packet(&mut self) -> Result<Option<Packet>, ClientError> {
        loop {
            match self.read_packet().await? {
                Packet::Publish(p) => {
                    let incoming = self.state.on_publish(&p);
                    if let Some(reply) = incoming.reply {
                        self.send(&reply).await?;
                    }
                    if incoming.deliver {
                        if self.pending.len() >= MAX_PENDING {
                            // Only a client that never calls recv() gets here (a publisher resuming
                            // a session full of messages): keep the newest, say so.
                            self.pending.pop_front();
                            tracing::warn!("more than {MAX_PENDING} unread messages: dropped the oldest");
                        }
                        self.pending.push_back(p);
                        return Ok(None);
                    } else {
                        tracing::debug!(id = p.packet_id, "QoS 2 duplicate not delivered again");
                    }
                }
                Packet::PubRel(a) => {
                    let reply = self.state.on_pubrel(a.packet_id);
                    self.send(&reply).await?;
                }
                Packet::PingResp => {}
                Packet::Disconnect(d) => {
                    return Err(ClientError::ServerDisconnect {
                        reason: d.reason,
                        reason_string: d.properties.reason_string,
                    })
                }
                other => return Ok(Some(other)),
            }
        }
    }

    /// Publish a message and wait until its QoS flow is complete: nothing for QoS 0, PUBACK for
    /// QoS 1, PUBREC + PUBREL + PUBCOMP for QoS 2. The packet id is chosen here.
    pub async fn publish(&mut self, mut publish: Publish) -> Result<(), ClientError> {
        if publish.qos == QoS::AtMostOnce {
            publish.packet_id = 0;
            return self.send(&Packet::Publish(publish)).await;
        }
        let id = self.state.next_packet_id();
        publish.packet_id = id;
        publish.dup = false;
        self.in_flight = Some(InFlight {
            publish: publish.clone(),
            released: false,
        });
        self.send(&Packet::Publish(publish)).await?;
        self.finish_publish().await
    }

    /// Complete the QoS 1/2 exchange of a message that was in flight when an earlier connection
    /// broke, on a connection that resumed the session (CONNACK session present). MQTT 3.1.1 §4.4:
    /// the PUBLISH is sent again with DUP set and the *same* packet id, or, if its PUBREC had already
    /// come, the PUBREL is sent again. The receiver recognises the id, so a QoS 2 message still
    /// arrives exactly once.
    pub async fn resume(&mut self, in_flight: InFlight) -> Result<(), ClientError> {
        let id = in_flight.publish.packet_id;
        self.state.in_use.insert(id);
        if in_flight.released {
            self.send(&Packet::PubRel(Ack::new(id))).await?;
        } else {
            let mut again = in_flight.publish.clone();
            again.dup = true;
            self.send(&Packet::Publish(again)).await?;
        }
        self.in_flight = Some(in_flight);
        self.finish_publish().await
    }

    /// The QoS 1/2 message whose exchange did not complete (after an error), to be resumed on the
    /// next connection.
    pub fn take_in_flight(&mut self) -> Option<InFlight> {
        self.in_flight.take()
    }

    /// Wait for the acknowledgements of the message in flight.
    async fn finish_publish(&mut self) -> Result<(), ClientError> {
        let Some((id, qos)) = self
            .in_flight
            .as_ref()
            .map(|f| (f.publish.packet_id, f.publish.qos))
        else {
            return Ok(());
        };
        let result = self.await_acks(id, qos).await;
        if !result.as_ref().is_err_and(ClientError::is_transient) {
            // Completed, or refused for good: either way nothing is left to resume.
            self.in_flight = None;
            self.state.release(id);
        }
        result
    }

    async fn await_acks(&mut self, id: u16, qos: QoS) -> Result<(), ClientError> {
        loop {
            let Some(packet) = self.next_control_packet().await? else {
                continue;
            };
            match packet {
                Packet::PubAck(a) if qos == QoS::AtLeastOnce && a.packet_id == id => {
                    return check_ack("PUBACK", &a)
                }
                Packet::PubRec(a) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    check_ack("PUBREC", &a)?;
                    // From here on the broker owns the message: what is left is to release it.
                    if let Some(f) = &mut self.in_flight {
                        f.released = true;
                    }
                    self.send(&Packet::PubRel(Ack::new(id))).await?;
                }
                Packet::PubComp(a) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    return check_ack("PUBCOMP", &a)
                }
                other => tracing::debug!("ignored while waiting for the ack of {id}: {other}"),
            }
        }
    }

    /// Subscribe and wait for the SUBACK. A refused filter is reported in the SUBACK's codes (>= 0x80),
    /// not as an error: the caller decides.
    pub async fn subscribe(&mut self, subscriptions: Vec<Subscription>) -> Result<SubAck, ClientError> {
        self.subscribe_with(subscriptions, Properties::default()).await
    }

    /// [`Client::subscribe`] with 5.0 properties (a subscription identifier, user properties).
    pub async fn subscribe_with(
        &mut self,
        subscriptions: Vec<Subscription>,
        properties: Properties,
    ) -> Result<SubAck, ClientError> {
        let id = self.state.next_packet_id();
        let packet = Packet::Subscribe(Subscribe {
            packet_id: id,
            subscriptions,
            properties,
        });
        self.send(&packet).await?;
        let result = loop {
            match self.next_control_packet().await {
                Ok(Some(Packet::SubAck(a))) if a.packet_id == id => break Ok(a),
                Ok(Some(other)) => tracing::debug!("ignored while waiting for SUBACK: {other}"),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        self.state.release(id);
        result
    }

    /// The next message from the broker (its QoS flow handled). Cancel-safe: a message is never lost
    /// by dropping this future, as bytes stay in the client's buffer until a whole packet is there.
    pub async fn recv(&mut self) -> Result<Publish, ClientError> {
        loop {
            if let Some(p) = self.pending.pop_front() {
                return Ok(p);
            }
            if let Some(other) = self.next_control_packet().await? {
                tracing::debug!("ignored: {other}");
            }
        }
    }

    /// Wait for `duration` while answering the broker (pings, incoming messages are kept for
    /// [`Client::recv`]). Used by a publisher between messages.
    pub async fn idle(&mut self, duration: Duration) -> Result<(), ClientError> {
        let until = Instant::now() + duration;
        loop {
            match timeout_at(until, self.next_control_packet()).await {
                Err(_) => return Ok(()),
                Ok(Ok(Some(other))) => tracing::debug!("ignored: {other}"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    /// Leave on purpose: DISCONNECT (so the broker drops our will), then close the socket.
    pub async fn disconnect(mut self) -> Result<(), ClientError> {
        self.send(&Packet::Disconnect(Disconnect::default())).await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}

fn check_ack(name: &str, a: &Ack) -> Result<(), ClientError> {
    if a.reason.is_success() {
        Ok(())
    } else {
        Err(ClientError::Protocol(format!(
            "the broker answered {name} {}{}",
            a.reason,
            a.properties
                .reason_string
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )))
    }
}

/// Exponential backoff between reconnection attempts: 0.5 s doubling to 30 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(500),
        }
    }
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(30));
        d
    }

    /// A connection succeeded: start over from the shortest delay.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// The connection under the client: plain TCP, or TLS over it (tokio-rustls).
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            // close_notify, then FIN.
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_skip_zero_and_ids_in_flight() {
        let mut s = ClientState {
            last_id: 65534,
            ..Default::default()
        };
        assert_eq!(s.next_packet_id(), 65535);
        assert_eq!(s.next_packet_id(), 1); // never 0 (§2.3.1)
        s.in_use.insert(2);
        assert_eq!(s.next_packet_id(), 3); // 2 is still in flight
        s.release(1);
        s.last_id = 0;
        assert_eq!(s.next_packet_id(), 1);
    }

    #[test]
    fn qos2_is_delivered_once_until_pubrel() {
        let mut s = ClientState::default();
        let p = Publish {
            qos: QoS::ExactlyOnce,
            packet_id: 9,
            ..Publish::new("t", "x")
        };
        let first = s.on_publish(&p);
        assert!(first.deliver);
        assert_eq!(first.reply, Some(Packet::PubRec(Ack::new(9))));
        // The broker resends (it missed our PUBREC): acknowledge again, but do not deliver again.
        let again = s.on_publish(&Publish {
            dup: true,
            ..p.clone()
        });
        assert!(!again.deliver);
        assert_eq!(s.on_pubrel(9), Packet::PubComp(Ack::new(9)));
        // After PUBREL the id is free: a new message with it is a new message.
        assert!(s.on_publish(&p).deliver);
    }

    #[test]
    fn qos1_and_0() {
        let mut s = ClientState::default();
        let p1 = Publish {
            qos: QoS::AtLeastOnce,
            packet_id: 4,
            ..Publish::new("t", "x")
        };
        assert_eq!(
            s.on_publish(&p1),
            Incoming {
                deliver: true,
                reply: Some(Packet::PubAck(Ack::new(4)))
            }
        );
        assert_eq!(
            s.on_publish(&Publish::new("t", "x")),
            Incoming {
                deliver: true,
                reply: None
            }
        );
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 500);
    }
}
