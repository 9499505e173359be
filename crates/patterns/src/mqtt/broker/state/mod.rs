//! The broker's protocol state, without sockets: sessions, subscriptions, retained messages, wills,
//! QoS 1 and 2 bookkeeping. Every method takes what arrived (a CONNECT, a PUBLISH, an acknowledgement,
//! a lost connection, the passing of time) and leaves what must be sent in the outboxes of the
//! sessions concerned; the network code around it ([`super::server`]) only moves bytes. What belongs to
//! one network connection rather than to its session (5.0 topic aliases both ways, the client's
//! Maximum Packet Size, and so how an outgoing packet is encoded) is [`ConnRules`], in `conn.rs`.
//!
//! Vocabulary (MQTT 5.0 §4.1):
//! - a *session* outlives a network connection when the client asks for it (3.1.1: clean session 0;
//!   5.0: a session expiry interval > 0); it holds the subscriptions, the QoS 1/2 messages in flight and
//!   the messages queued while the client is away;
//! - *in flight*: a QoS 1/2 PUBLISH sent and not yet fully acknowledged (PUBACK; or PUBREC, PUBREL,
//!   PUBCOMP). A session has at most `window` of them (the client's Receive Maximum in 5.0); the rest
//!   wait in `queued`, in order;
//! - the *outbox*: packets ready to be written to the socket, in order.
//!
//! The queue policy (what happens when a client does not keep up), documented for students and
//! operators:
//! - QoS 0 to a connected client: at most `max_outbox` packets wait in the outbox; beyond that new QoS 0
//!   messages to that client are dropped, counted (`$SYS/broker/messages/dropped`) and logged (once per
//!   burst). QoS 0 is "at most once": dropping is allowed, hiding it is not. Before that, when the
//!   outbox is half full, the publisher is slowed (the same back-pressure as below).
//!   The retained messages a SUBSCRIBE brings at QoS 0 are not counted against `max_outbox`: they are
//!   the broker's answer to that one packet, not a client falling behind, and dropping them would
//!   leave a `#` subscriber with 1,000 of 10,000 retained topics (`sister web` is one). Mosquitto
//!   sends them all too. Their number is bounded by the retained store, which is in memory already.
//! - QoS 0 to a disconnected client with a persistent session: not stored (as Mosquitto's default
//!   `queue_qos0_messages false`).
//! - QoS 1/2: at most `window` in flight and `max_queued` waiting per session, connected or not; a
//!   message beyond that is dropped, counted and logged with the client id: never silently. The server
//!   applies back-pressure before it gets there: a publisher whose message landed in a queue above
//!   half of `max_queued` is paused (it stops being read) until that queue drains or a short timeout
//!   passes ([`Broker::congested`]), so a fast publisher is slowed by a slow subscriber instead of
//!   losing messages, while a subscriber that stopped reading cannot stall everyone for long.
//! - A slow subscriber never blocks the others: each session has its own queues, and the server writes
//!   to each socket from that connection's task.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::auth::Auth;
use wire::mqtt::topic;

use super::trie::{Entry, Trie};

pub use wire::mqtt::{QoS, ReasonCode};

mod acks;
mod conn;
mod connect;
mod disconnect;
mod explain;
#[cfg(test)]
mod pressure_tests;
mod publish;
mod session;
mod subscribe;
#[cfg(test)]
mod tests;

pub use conn::ConnRules;
use session::{Flight, Inflight, Waiting};
pub use session::{Lazy, Session};

/// The MQTT 5.0 properties a PUBLISH carries from publisher to subscriber unchanged (§3.3.2.3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MsgProps {
    pub payload_format: Option<u8>,
    /// Message expiry interval in seconds, as the publisher sent it.
    pub expiry: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user: Vec<(String, String)>,
}

/// An application message, shared by every copy the broker sends.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub props: MsgProps,
    /// When the broker received it (for the message expiry interval).
    pub received: Instant,
    /// The publisher's client id (for no-local and the log); `None` for the broker's own ($SYS).
    pub from: Option<Arc<str>>,
    /// The message encoded once as a plain QoS 0 PUBLISH (index 0: 3.1.1, 1: 5.0), filled by the
    /// server the first time it needs it: a fan-out to fifty subscribers encodes it once, not fifty
    /// times.
    pub wire: [OnceLock<Bytes>; 2],
}

impl Message {
    /// Seconds left of the message expiry interval, or `None` if it has none; `Some(0)` = expired.
    pub fn expiry_left(&self, now: Instant) -> Option<u32> {
        self.props.expiry.map(|e| {
            let gone = now.saturating_duration_since(self.received).as_secs();
            (e as u64).saturating_sub(gone) as u32
        })
    }

    fn expired(&self, now: Instant) -> bool {
        self.expiry_left(now) == Some(0)
    }
}

/// A PUBLISH on its way to one client.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub msg: Arc<Message>,
    /// min(message QoS, granted QoS).
    pub qos: QoS,
    /// 0 for QoS 0.
    pub pid: u16,
    /// A retransmission (3.1.1 §3.3.1.1).
    pub dup: bool,
    /// The RETAIN flag as sent: set for retained messages sent on SUBSCRIBE, and with
    /// retain-as-published; clear otherwise (3.1.1 §3.3.1.3).
    pub retain: bool,
    /// Subscription identifiers of every subscription of this client that matched (5.0 §3.3.2.3.8).
    pub sub_ids: Vec<u32>,
}

/// What the broker wants written to one client, in order.
#[derive(Debug, Clone)]
pub enum Out {
    Publish(Delivery),
    PubAck {
        pid: u16,
        reason: ReasonCode,
    },
    PubRec {
        pid: u16,
        reason: ReasonCode,
    },
    PubRel {
        pid: u16,
        reason: ReasonCode,
    },
    PubComp {
        pid: u16,
        reason: ReasonCode,
    },
    SubAck {
        pid: u16,
        codes: Vec<ReasonCode>,
    },
    UnsubAck {
        pid: u16,
        codes: Vec<ReasonCode>,
    },
    PingResp,
    /// The broker ends the connection: send this (5.0 only; 3.1.1 just closes) and close.
    Disconnect {
        reason: ReasonCode,
        text: String,
    },
}

/// Subscription options (3.1.1 §3.8.3: QoS; 5.0 §3.8.3.1: the rest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubOpts {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0 = send retained messages on subscribe, 1 = only if the subscription is new, 2 = never.
    pub retain_handling: u8,
    pub sub_id: Option<u32>,
}

impl SubOpts {
    pub fn qos(qos: QoS) -> SubOpts {
        SubOpts {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
            sub_id: None,
        }
    }
}

/// A will message (3.1.1 §3.1.2.5) and its delay (5.0 §3.1.3.2.2).
#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub delay: u32,
    pub props: MsgProps,
}

/// The broker's settings that the state needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// QoS 1/2 messages in flight per client when the client does not say (3.1.1) or says more.
    pub max_inflight: u16,
    /// QoS 1/2 messages waiting per session beyond the in-flight window.
    pub max_queued: usize,
    /// Packets waiting to be written per connected client before QoS 0 messages are dropped.
    pub max_outbox: usize,
    /// Incoming QoS 2 messages a client may have unreleased (our Receive Maximum, 5.0 §3.2.2.3.3).
    pub receive_maximum: u16,
    /// Upper bound for keep-alive (5.0: Server Keep Alive; 3.1.1: larger values are refused).
    pub max_keepalive: u16,
    /// Upper bound for a session expiry interval, seconds.
    pub max_session_expiry: u32,
    /// Topic aliases a client may use towards the broker (5.0 §3.2.2.3.8).
    pub topic_alias_maximum: u16,
    /// Maximum packet size the broker accepts (5.0 §3.2.2.3.6).
    pub max_packet_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_inflight: 100,
            max_queued: 1000,
            max_outbox: 1000,
            receive_maximum: 1000,
            max_keepalive: 65535,
            max_session_expiry: u32::MAX,
            topic_alias_maximum: 64,
            max_packet_size: 1 << 20,
        }
    }
}

/// Counters for `$SYS/broker/...` (and the log).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub clients_connected: u64,
    pub clients_maximum: u64,
    pub clients_total_connects: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub publish_received: u64,
    pub publish_sent: u64,
    pub publish_dropped_qos0: u64,
    pub publish_dropped_qos12: u64,
    pub publish_unmatched: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

/// What a CONNECT asks for, already decoded and validated by the codec.
#[derive(Debug, Clone)]
pub struct ConnectReq {
    pub client_id: String,
    pub v5: bool,
    /// 3.1.1 clean session / 5.0 clean start.
    pub clean_start: bool,
    pub keep_alive: u16,
    /// 5.0 session expiry interval (3.1.1: the server derives it from clean session).
    pub session_expiry: u32,
    /// 5.0 Receive Maximum of the client (65535 when absent).
    pub receive_maximum: u16,
    pub will: Option<Will>,
    /// Already authenticated (see [`Broker::connect`]): the CONNECT's username, or the CN of the
    /// client's certificate (`use_identity_as_username`). The password is not kept.
    pub username: Option<String>,
    /// The listener's own access rules (`per_listener_settings true`); `None`: the broker's.
    pub auth: Option<Arc<Auth>>,
}

/// The broker's answer to a CONNECT.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOutcome {
    Accepted {
        sid: usize,
        session_present: bool,
        /// The id the broker chose for a client that sent an empty one (5.0: Assigned Client Identifier).
        assigned_client_id: Option<String>,
        /// The keep-alive the client must use, if the broker changed it (5.0 Server Keep Alive).
        server_keep_alive: Option<u16>,
        /// The effective keep-alive, seconds (0 = none).
        keep_alive: u16,
        /// The connection that had this client id before and must now be closed (takeover).
        kicked: Option<u64>,
    },
    /// Refused: the reason code (5.0 numbering; the server maps it to 3.1.1's return codes) and why.
    Refused { reason: ReasonCode, why: String },
}

/// How a connection ended, for the will and the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// DISCONNECT with reason 0x00: no will (3.1.1 §3.14.4).
    Normal,
    /// 5.0 DISCONNECT with reason 0x04: close, but send the will.
    WithWill,
    /// Network error, keep-alive timeout, protocol error, takeover, shutdown: the will is sent.
    Abnormal(String),
}

/// A rule broken by a client: the connection is closed with this reason code (5.0 §4.13).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub reason: ReasonCode,
    pub why: String,
}

impl Violation {
    pub fn new(reason: ReasonCode, why: impl Into<String>) -> Self {
        Violation {
            reason,
            why: why.into(),
        }
    }
}

/// A PUBLISH from a client (topic aliases already resolved by the connection).
#[derive(Debug, Clone)]
pub struct PublishIn {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub pid: u16,
    pub props: MsgProps,
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone)]
pub struct SubReq {
    pub filter: String,
    pub opts: SubOpts,
}

#[derive(Debug)]
struct Group {
    /// Members in subscription order; the next message goes to `members[cursor % len]` if connected.
    members: Vec<(usize, SubOpts)>,
    cursor: usize,
}

/// The broker: every session, the subscription tree, the retained messages.
#[derive(Debug)]
pub struct Broker {
    pub config: Config,
    pub auth: Auth,
    /// Some client's rules (the broker's or its listener's) have an ACL: deliveries are checked.
    any_acl: bool,
    /// Inline, not boxed: every connected client has a session, and a box would add a pointer and
    /// the allocator's overhead to each (memory per idle client). The `Vec`'s spare capacity costs
    /// no memory until used (the pages are never touched); a freed slot is reused (`free`).
    sessions: Vec<Option<Session>>,
    free: Vec<usize>,
    by_id: HashMap<Arc<str>, usize>,
    subs: Trie<SubOpts>,
    groups: Vec<Group>,
    group_ids: HashMap<(String, String), u32>,
    retained: HashMap<Arc<str>, Arc<Message>>,
    wakes: Vec<usize>,
    congested: Vec<usize>,
    scratch: Vec<Entry<SubOpts>>,
    pub stats: Stats,
    next_auto_id: u64,
    pub started: Instant,
}

/// `$share/<group>/<filter>` (5.0 §4.8.2) as (group, filter); `None` for an ordinary filter.
fn shared_parts(filter: &str) -> Option<(&str, &str)> {
    topic::parse_shared(filter)
        .ok()
        .flatten()
        .map(|s| (s.group, s.filter))
}

/// Edit distance between two strings (for "did you mean" in the log).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

impl Broker {
    pub fn new(config: Config, auth: Auth, now: Instant) -> Broker {
        Broker {
            config,
            any_acl: auth.has_acl(),
            auth,
            sessions: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            subs: Trie::new(),
            groups: Vec::new(),
            group_ids: HashMap::new(),
            retained: HashMap::new(),
            wakes: Vec::new(),
            congested: Vec::new(),
            scratch: Vec::new(),
            stats: Stats::default(),
            next_auto_id: 1,
            started: now,
        }
    }

    pub fn session(&self, sid: usize) -> Option<&Session> {
        self.sessions.get(sid).and_then(|s| s.as_ref())
    }

    pub fn session_mut(&mut self, sid: usize) -> Option<&mut Session> {
        self.sessions.get_mut(sid).and_then(|s| s.as_mut())
    }

    /// The session of `client_id`, if one exists.
    pub fn find(&self, client_id: &str) -> Option<usize> {
        self.by_id.get(client_id).copied()
    }

    /// Sessions stored (online and offline).
    pub fn session_count(&self) -> usize {
        self.by_id.len()
    }

    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// Sessions whose outbox got something since the last call: the server wakes their writers.
    pub fn take_wakes(&mut self, into: &mut Vec<usize>) {
        for &sid in &self.wakes {
            if let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) {
                s.woken = false;
            }
        }
        into.append(&mut self.wakes);
    }

    /// Sessions whose QoS 1/2 queue passed half of `max_queued` since the last call: the publisher
    /// that filled them should wait (back-pressure) until [`Broker::has_room`] says they drained.
    pub fn take_congested(&mut self, into: &mut Vec<usize>) {
        into.append(&mut self.congested);
    }

    /// Did the last calls fill some queue past half (see [`Broker::take_congested`])?
    pub fn is_congested(&self) -> bool {
        !self.congested.is_empty()
    }

    /// Has session `sid` drained below a quarter of `max_queued` (or gone)?
    pub fn has_room(&self, sid: usize) -> bool {
        self.session(sid)
            .map(|s| {
                s.conn.is_none()
                    || (s.queued.len() <= self.config.max_queued / 4
                        && s.outbox.len() <= self.config.max_outbox / 4)
            })
            .unwrap_or(true)
    }

    /// Move the outbox of `sid` into `into` if connection `conn` still owns the session.
    /// Returns false if the session was taken over or ended (the connection should close).
    pub fn take_outbox(&mut self, sid: usize, conn: u64, into: &mut VecDeque<Out>) -> bool {
        let quarter = self.config.max_queued / 4;
        match self.session_mut(sid) {
            Some(s) if s.conn == Some(conn) => {
                if s.queued.len() <= quarter {
                    s.congested_since = None; // it drains: a live client, not a stuck one
                }
                if into.is_empty() {
                    std::mem::swap(into, &mut s.outbox);
                } else {
                    into.append(&mut s.outbox);
                }
                self.release_waiters(sid);
                true
            }
            _ => false,
        }
    }

    /// A disconnect the broker asked for (keep-alive timeout), for a connection whose socket is too
    /// backed up to take its whole outbox: it is at the front, taken alone.
    pub fn take_disconnect(&mut self, sid: usize, conn: u64) -> Option<(ReasonCode, String)> {
        let s = self.session_mut(sid).filter(|s| s.conn == Some(conn))?;
        if !matches!(s.outbox.front(), Some(Out::Disconnect { .. })) {
            return None;
        }
        match s.outbox.pop_front() {
            Some(Out::Disconnect { reason, text }) => Some((reason, text)),
            _ => None,
        }
    }

    /// Does connection `conn` still own session `sid`, with nothing queued for it? (Then the server
    /// may park it: see `server::try_park`.)
    pub fn is_idle(&self, sid: usize, conn: u64) -> bool {
        self.session(sid)
            .is_some_and(|s| s.conn == Some(conn) && s.outbox.is_empty())
    }

    /// Free the empty queues of session `sid` (its client is going idle: see `server::try_park`).
    pub fn trim(&mut self, sid: usize) {
        let Some(s) = self.session_mut(sid) else { return };
        if s.outbox.is_empty() {
            s.outbox = VecDeque::new();
        }
        if s.inflight.is_empty() {
            s.inflight.clear();
        }
        if s.queued.is_empty() {
            s.queued.clear();
        }
        if s.incoming_qos2.is_empty() {
            s.incoming_qos2.clear();
        }
        if s.waiters.is_empty() {
            s.waiters.clear();
        }
    }

    /// A packet arrived from the client of `sid` (keep-alive, 3.1.1 §3.1.2.10).
    pub fn heard_from(&mut self, sid: usize, now: Instant) {
        if let Some(s) = self.session_mut(sid) {
            s.heard_at = Some(now);
        }
    }

    /// Publisher `publisher` waits for room in session `sid`'s queues (back-pressure): it is woken
    /// (its session appears in [`Broker::take_wakes`]) when they drain.
    pub fn wait_for_room(&mut self, sid: usize, publisher: usize) {
        if self.has_room(sid) {
            self.wake(publisher);
        } else if let Some(s) = self.session_mut(sid) {
            if !s.waiters.contains(&publisher) {
                s.waiters.push(publisher);
            }
        }
    }

    fn release_waiters(&mut self, sid: usize) {
        if !self.has_room(sid) {
            return;
        }
        let Some(s) = self.session_mut(sid) else { return };
        if s.waiters.is_empty() {
            return;
        }
        for w in std::mem::take(&mut *s.waiters) {
            self.wake(w);
        }
    }

    fn wake(&mut self, sid: usize) {
        if let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) {
            if !s.woken {
                s.woken = true;
                self.wakes.push(sid);
            }
        }
    }

    fn push_out(&mut self, sid: usize, out: Out) {
        if let Some(s) = self.session_mut(sid) {
            s.outbox.push_back(out);
            self.wake(sid);
        }
    }
}
