//! ZMTP 3.0 subscriptions: messages, not commands (RFC 23 §"Publish-Subscribe").
//!
//! Before ZMTP 3.1 added the SUBSCRIBE and CANCEL commands, a SUB told its PUB what it wanted with an
//! ordinary one-frame message: first byte 1 = subscribe, 0 = cancel, the rest = the topic prefix.
//! libzmq still sends this form to a peer that greeted with version 3.0, and still accepts it from any
//! peer; sister does the same (see `patterns::zmq`).
//!
//! ```text
//!   00 06 | 01 57 41 4b 54 55      subscribe to "WAKTU" (a message of 6 bytes)
//! ```

use std::fmt;

use bytes::BufMut;

/// A subscription change carried in a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription<'a> {
    Subscribe(&'a [u8]),
    Cancel(&'a [u8]),
}

impl<'a> Subscription<'a> {
    /// Read a message body from a SUB peer as a subscription. `None` when the first byte is neither
    /// 0 nor 1 (libzmq passes such messages on to XPUB applications and ignores them in PUB).
    pub fn decode(body: &'a [u8]) -> Option<Subscription<'a>> {
        match body.split_first() {
            Some((1, topic)) => Some(Subscription::Subscribe(topic)),
            Some((0, topic)) => Some(Subscription::Cancel(topic)),
            _ => None,
        }
    }

    /// Append the body (not the frame header) to `out`.
    pub fn encode_body(&self, out: &mut impl BufMut) {
        let (b, t) = match self {
            Subscription::Subscribe(t) => (1, t),
            Subscription::Cancel(t) => (0, t),
        };
        out.put_u8(b);
        out.put_slice(t);
    }

    pub fn topic(&self) -> &'a [u8] {
        match self {
            Subscription::Subscribe(t) | Subscription::Cancel(t) => t,
        }
    }
}

impl fmt::Display for Subscription<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subscription::Subscribe(t) => write!(f, "subscribe \"{}\" (3.0 message)", crate::escape::show(t)),
            Subscription::Cancel(t) => write!(f, "cancel \"{}\" (3.0 message)", crate::escape::show(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_encode_round_trip() {
        assert_eq!(
            Subscription::decode(b"\x01WAKTU"),
            Some(Subscription::Subscribe(b"WAKTU"))
        );
        assert_eq!(Subscription::decode(b"\x00"), Some(Subscription::Cancel(b"")));
        assert_eq!(Subscription::decode(b"\x02x"), None);
        assert_eq!(Subscription::decode(b""), None);
        let mut out = Vec::new();
        Subscription::Subscribe(b"WAKTU").encode_body(&mut out);
        assert_eq!(out, b"\x01WAKTU");
        assert_eq!(
            Subscription::Cancel(b"a").to_string(),
            "cancel \"a\" (3.0 message)"
        );
    }
}
