//! The protocol state of the ZeroMQ patterns, without sockets: REQ's and REP's strict alternation and
//! envelopes, and PUB/SUB prefix matching. The socket code (`socket.rs`) asks these what to do; the
//! tests below check the rules without any network.
//!
//! The rules come from the pattern specifications: RFC 28/REQREP (REQ and REP) and RFC 29/PUBSUB.

use bytes::Bytes;

use super::Message;

/// Identifies a connected peer inside one socket.
pub type PeerId = u64;

/// What went wrong with the order of calls on a REQ or REP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("a REQ socket must receive the reply before it sends another request (strict send/receive alternation, RFC 28)")]
    ReqMustRecv,
    #[error(
        "a REQ socket must send a request before it can receive (strict send/receive alternation, RFC 28)"
    )]
    ReqMustSend,
    #[error("a REP socket must send its reply before it receives another request (RFC 28)")]
    RepMustSend,
    #[error("a REP socket has no request to reply to: receive one first (RFC 28)")]
    RepMustRecv,
}

/// REQ: send one request, receive its reply, repeat (RFC 28 §"The REQ Socket Type").
///
/// On the wire a request is `[empty delimiter, body...]`; the reply must come back from the same peer
/// with the same delimiter, anything else is discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReqState {
    /// May send.
    #[default]
    Ready,
    /// Sent to `peer`; waiting for its reply.
    AwaitingReply { peer: PeerId },
}

/// What REQ does with an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyVerdict {
    /// The reply: hand the body (after the delimiter) to the application.
    Accept,
    /// Not the reply we wait for: drop it, and say why in the log.
    Discard(&'static str),
}

impl ReqState {
    /// Check that a request may be sent now.
    pub fn check_send(&self) -> Result<(), StateError> {
        match self {
            ReqState::Ready => Ok(()),
            ReqState::AwaitingReply { .. } => Err(StateError::ReqMustRecv),
        }
    }

    /// The request went to `peer`.
    pub fn sent(&mut self, peer: PeerId) {
        *self = ReqState::AwaitingReply { peer };
    }

    /// Check that a reply may be received now.
    pub fn check_recv(&self) -> Result<(), StateError> {
        match self {
            ReqState::Ready => Err(StateError::ReqMustSend),
            ReqState::AwaitingReply { .. } => Ok(()),
        }
    }

    /// Judge a message from `peer`; on `Accept` the state is back to `Ready`.
    pub fn on_message(&mut self, peer: PeerId, msg: &Message) -> ReplyVerdict {
        let ReqState::AwaitingReply { peer: asked } = *self else {
            return ReplyVerdict::Discard("no request outstanding");
        };
        if peer != asked {
            return ReplyVerdict::Discard("reply from a peer that was not asked");
        }
        match msg.frames().first() {
            Some(d) if d.is_empty() => {
                *self = ReqState::Ready;
                ReplyVerdict::Accept
            }
            _ => ReplyVerdict::Discard("reply without the empty delimiter frame"),
        }
    }

    /// The peer we wait for went away: a libzmq REQ would wait forever; sister lets the application
    /// send again (what ZMQ_REQ_RELAXED does), since no reply can come.
    pub fn peer_gone(&mut self, peer: PeerId) -> bool {
        if *self == (ReqState::AwaitingReply { peer }) {
            *self = ReqState::Ready;
            true
        } else {
            false
        }
    }
}

/// REP: receive a request, send its reply, repeat (RFC 28 §"The REP Socket Type").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RepState {
    /// Waiting for a request.
    #[default]
    Idle,
    /// A request from `peer` was handed to the application; the reply goes back with `envelope`.
    Replying { peer: PeerId, envelope: Vec<Bytes> },
}

impl RepState {
    pub fn check_recv(&self) -> Result<(), StateError> {
        match self {
            RepState::Idle => Ok(()),
            RepState::Replying { .. } => Err(StateError::RepMustSend),
        }
    }

    /// A request from `peer`: split off the envelope (every frame up to and including the first empty
    /// one) and keep it for the reply. A request without a delimiter is discarded (`None`).
    pub fn on_request(&mut self, peer: PeerId, msg: &mut Message) -> Option<()> {
        let delim = msg.frames().iter().position(|f| f.is_empty())?;
        let envelope = msg.split_front(delim + 1);
        *self = RepState::Replying { peer, envelope };
        Some(())
    }

    /// Take the destination of the reply; the state is back to `Idle`.
    pub fn reply(&mut self) -> Result<(PeerId, Vec<Bytes>), StateError> {
        match std::mem::take(self) {
            RepState::Replying { peer, envelope } => Ok((peer, envelope)),
            RepState::Idle => Err(StateError::RepMustRecv),
        }
    }
}

/// The subscriptions of one SUB peer (kept by PUB) or of a SUB socket itself: prefixes with a count,
/// since subscribing twice needs cancelling twice (libzmq's behaviour, RFC 29).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    prefixes: Vec<(Bytes, usize)>,
}

impl Subscriptions {
    /// Add one subscription; returns true when the prefix is new.
    pub fn subscribe(&mut self, prefix: &[u8]) -> bool {
        match self.prefixes.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                self.prefixes.push((Bytes::copy_from_slice(prefix), 1));
                true
            }
        }
    }

    /// Remove one subscription; returns true when the prefix is gone entirely.
    pub fn cancel(&mut self, prefix: &[u8]) -> bool {
        let Some(i) = self.prefixes.iter().position(|(p, _)| p == prefix) else {
            return false;
        };
        self.prefixes[i].1 -= 1;
        if self.prefixes[i].1 == 0 {
            self.prefixes.swap_remove(i);
            true
        } else {
            false
        }
    }

    /// Does a message whose first frame is `topic` match? (The empty prefix matches everything.)
    pub fn matches(&self, topic: &[u8]) -> bool {
        self.prefixes
            .iter()
            .any(|(p, _)| p.is_empty() || topic.starts_with(p))
    }

    /// The distinct prefixes.
    pub fn prefixes(&self) -> impl Iterator<Item = &Bytes> {
        self.prefixes.iter().map(|(p, _)| p)
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

/// Pick the next index in round-robin order among `n` candidates, starting after `cursor`, for which
/// `ok(i)` holds (PUSH skips peers whose queue is at its high-water mark).
pub fn round_robin(n: usize, cursor: &mut usize, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
    for k in 0..n {
        let i = (*cursor + k) % n;
        if ok(i) {
            *cursor = (i + 1) % n.max(1);
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&'static str]) -> Message {
        Message::from_frames(frames.iter().map(|f| Bytes::from_static(f.as_bytes())))
    }

    #[test]
    fn req_alternates_strictly() {
        let mut s = ReqState::default();
        assert_eq!(s.check_recv(), Err(StateError::ReqMustSend));
        s.check_send().unwrap();
        s.sent(7);
        assert_eq!(s.check_send(), Err(StateError::ReqMustRecv));
        s.check_recv().unwrap();
        assert_eq!(
            s.on_message(8, &msg(&["", "World"])),
            ReplyVerdict::Discard("reply from a peer that was not asked")
        );
        assert_eq!(
            s.on_message(7, &msg(&["World"])),
            ReplyVerdict::Discard("reply without the empty delimiter frame")
        );
        assert_eq!(s.on_message(7, &msg(&["", "World"])), ReplyVerdict::Accept);
        assert_eq!(s, ReqState::Ready);
    }

    #[test]
    fn req_is_released_when_its_peer_goes() {
        let mut s = ReqState::default();
        s.sent(3);
        assert!(!s.peer_gone(4));
        assert!(s.peer_gone(3));
        s.check_send().unwrap();
    }

    #[test]
    fn rep_keeps_the_envelope_for_the_reply() {
        let mut s = RepState::default();
        assert_eq!(s.reply(), Err(StateError::RepMustRecv));
        // Through a ROUTER/DEALER proxy the envelope holds routing ids before the delimiter.
        let mut m = msg(&["id1", "", "Hello"]);
        s.on_request(5, &mut m).unwrap();
        assert_eq!(m, msg(&["Hello"]));
        assert_eq!(s.check_recv(), Err(StateError::RepMustSend));
        let (peer, env) = s.reply().unwrap();
        assert_eq!((peer, env.len()), (5, 2));
        s.check_recv().unwrap();
        assert!(s.on_request(5, &mut msg(&["no delimiter"])).is_none());
    }

    #[test]
    fn subscriptions_match_prefixes_and_count() {
        let mut s = Subscriptions::default();
        assert!(!s.matches(b"WAKTU Mon"));
        assert!(s.subscribe(b"WAKTU"));
        assert!(!s.subscribe(b"WAKTU"));
        assert!(s.matches(b"WAKTU Mon") && !s.matches(b"WAKT") && !s.matches(b"other"));
        assert!(!s.cancel(b"WAKTU"));
        assert!(s.matches(b"WAKTU"));
        assert!(s.cancel(b"WAKTU"));
        assert!(!s.matches(b"WAKTU"));
        s.subscribe(b"");
        assert!(s.matches(b"anything") && s.matches(b""));
    }

    #[test]
    fn round_robin_skips_full_peers() {
        let mut cursor = 0;
        let full = [false, true, false];
        let picks: Vec<_> = (0..4)
            .map(|_| round_robin(3, &mut cursor, |i| !full[i]).unwrap())
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        assert_eq!(round_robin(0, &mut cursor, |_| true), None);
        assert_eq!(round_robin(2, &mut cursor, |_| false), None);
    }
}
