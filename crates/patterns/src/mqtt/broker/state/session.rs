//! One client's session and the compact containers it is made of (MQTT 5.0 §4.1).

use super::*;

/// Where a QoS 1/2 message stands in its acknowledgement flow (4.3.2, 4.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flight {
    /// QoS 1 sent, waiting for PUBACK; or QoS 2 sent, waiting for PUBREC.
    AwaitAck,
    /// QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP.
    AwaitComp,
}

#[derive(Debug, Clone)]
pub(super) struct Inflight {
    pub(super) d: Delivery,
    pub(super) state: Flight,
}

#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub(super) msg: Arc<Message>,
    pub(super) qos: QoS,
    pub(super) retain: bool,
    pub(super) sub_ids: Vec<u32>,
}

/// One client's session.
#[derive(Debug)]
pub struct Session {
    pub client_id: Arc<str>,
    /// The connection attached to it, if the client is online.
    pub conn: Option<u64>,
    pub v5: bool,
    pub username: Option<Arc<str>>,
    /// The ACL of the listener the client came through (`per_listener_settings true`); `None`: the
    /// broker's own.
    pub auth: Option<Arc<Auth>>,
    /// Filter (as subscribed, `$share/...` included) -> options. A `BTreeMap`: no allocation (and
    /// 24 bytes) for a client without subscriptions, where a `HashMap` takes 48.
    pub subs: BTreeMap<Arc<str>, SubOpts>,
    pub outbox: VecDeque<Out>,
    /// The QoS 1/2 state below is [`Lazy`]: a pointer until first used (most clients of a lab never
    /// use QoS 1/2, and every connected client has a session).
    pub(super) inflight: Lazy<VecDeque<Inflight>>,
    pub(super) window: u16,
    pub(super) queued: Lazy<VecDeque<Waiting>>,
    /// Packet ids of QoS 2 PUBLISHes received and not yet released (PUBREL).
    pub(super) incoming_qos2: Lazy<Vec<u16>>,
    pub(super) next_pid: u16,
    /// Keep-alive in seconds as agreed at CONNECT (0: none), and when the client's last packet came:
    /// [`Broker::tick`] closes a connection silent for 1.5 times it (3.1.1 §3.1.2.10).
    pub(super) keep_alive: u16,
    pub(super) heard_at: Option<Instant>,
    /// Boxed: most clients have no will, and every connected client costs a session.
    pub(super) will: Option<Box<Will>>,
    pub(super) will_at: Option<Instant>,
    /// Session expiry interval, seconds; `u32::MAX` = never.
    pub expiry: u32,
    pub(super) expires_at: Option<Instant>,
    pub(super) woken: bool,
    pub(super) dropped_burst: u32,
    /// Since when a queue of this session has been over half full without draining.
    pub(super) congested_since: Option<Instant>,
    /// Publishers (sessions) held until this session's queues drain.
    pub(super) waiters: Lazy<Vec<usize>>,
}

/// A collection that costs one pointer (and no allocation) until something is put in it: reading
/// an empty one reads a shared empty value; the first write through `DerefMut` allocates it.
#[derive(Debug)]
pub struct Lazy<T: 'static>(Option<Box<T>>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(None)
    }
}

/// The shared empty value a [`Lazy`] reads as before it is used.
pub trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

impl<T: Empty> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(t) => t,
            None => T::empty(),
        }
    }
}

impl<T: Empty> std::ops::DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty> Lazy<T> {
    /// Back to one pointer (the contents are dropped).
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T: 'static + Sync> Lazy<VecDeque<T>> {
    /// `pop_front` without allocating an empty queue first.
    pub fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut().and_then(|q| q.pop_front())
    }
}

macro_rules! empty {
    ($($t:ty),*) => {$(
        impl Empty for $t {
            fn empty() -> &'static Self {
                static EMPTY: $t = <$t>::new();
                &EMPTY
            }
        }
    )*};
}
empty!(VecDeque<Inflight>, VecDeque<Waiting>, Vec<u16>, Vec<usize>);

impl Session {
    pub(super) fn new(client_id: Arc<str>) -> Session {
        Session {
            client_id,
            conn: None,
            v5: false,
            username: None,
            auth: None,
            subs: BTreeMap::new(),
            outbox: VecDeque::new(),
            inflight: Lazy::default(),
            window: 1,
            queued: Lazy::default(),
            incoming_qos2: Lazy::default(),
            next_pid: 1,
            keep_alive: 0,
            heard_at: None,
            will: None,
            will_at: None,
            expiry: 0,
            expires_at: None,
            woken: false,
            dropped_burst: 0,
            congested_since: None,
            waiters: Lazy::default(),
        }
    }

    /// QoS 1/2 messages in flight (sent, not yet acknowledged).
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// QoS 1/2 messages waiting for room in the window (or for the client to come back).
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// The next free packet id (never 0, never one in flight: 3.1.1 §2.3.1).
    pub(super) fn alloc_pid(&mut self) -> u16 {
        loop {
            let pid = self.next_pid;
            self.next_pid = self.next_pid.wrapping_add(1);
            if self.next_pid == 0 {
                self.next_pid = 1;
            }
            if !self.inflight.iter().any(|f| f.d.pid == pid) {
                return pid;
            }
        }
    }
}
