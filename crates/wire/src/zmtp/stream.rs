//! One direction of a ZMTP connection, from its first byte: the greeting, then frames.
//!
//! This is the entry point for the capture analyzer: feed it the reassembled bytes of one TCP
//! direction and print each [`Item`] (every item has a one-line `Display`).
//!
//! ```
//! use wire::zmtp::{Item, StreamDecoder};
//! // The REP side of the course's capture: greeting, READY, then the reply.
//! let mut bytes = wire::zmtp::Greeting::null().to_bytes().to_vec();
//! bytes.extend_from_slice(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03REP");
//! bytes.extend_from_slice(b"\x01\x00\x00\x05World");
//! let mut d = StreamDecoder::new();
//! let mut at = 0;
//! let mut lines = vec![];
//! while let Ok((item, used)) = d.decode(&bytes[at..]) {
//!     lines.push(item.to_string());
//!     at += used;
//! }
//! assert_eq!(lines, [
//!     "GREETING ZMTP 3.1 mechanism NULL as-server 0",
//!     "READY Socket-Type=\"REP\"",
//!     "MESSAGE+ 0 B \"\"",
//!     "MESSAGE 5 B \"World\"",
//! ]);
//! assert_eq!(d.socket_type().map(|t| t.to_string()), Some("REP".into()));
//! ```

use std::fmt;

use super::{Command, Frame, Greeting, SocketType, DEFAULT_MAX_FRAME};
use crate::DecodeError;

/// What [`StreamDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Greeting(Greeting),
    Frame(Frame<'a>),
}

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Greeting(g) => g.fmt(f),
            Item::Frame(fr) => fr.fmt(f),
        }
    }
}

/// A decoder for one direction of a connection. It remembers the greeting and the `Socket-Type` of
/// the READY it saw, which tells the analyzer how to read later frames (a message `01 "WAKTU"` from a
/// SUB is a ZMTP 3.0 subscription; from a PUSH it is data).
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    greeting: Option<Greeting>,
    socket_type: Option<SocketType>,
    max_frame: usize,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder expecting a greeting first, with the default frame limit.
    pub fn new() -> Self {
        Self::with_max_frame(DEFAULT_MAX_FRAME)
    }

    /// A decoder refusing frames over `max_frame` bytes.
    pub fn with_max_frame(max_frame: usize) -> Self {
        StreamDecoder {
            greeting: None,
            socket_type: None,
            max_frame,
        }
    }

    /// Decode the next item from the front of `buf` (the bytes after everything already consumed).
    /// After an `Invalid` the stream cannot be resynchronised: ZMTP has no markers to look for.
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<(Item<'a>, usize), DecodeError> {
        if self.greeting.is_none() {
            let (g, used) = Greeting::decode(buf)?;
            self.greeting = Some(g.clone());
            return Ok((Item::Greeting(g), used));
        }
        let (frame, used) = Frame::decode(buf, self.max_frame)?;
        if let Some(Ok(Command::Ready(meta))) = frame.command() {
            self.socket_type = meta.socket_type();
        }
        Ok((Item::Frame(frame), used))
    }

    /// The greeting, once decoded.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The sender's socket type, once its READY was decoded.
    pub fn socket_type(&self) -> Option<&SocketType> {
        self.socket_type.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zmtp::FrameKind;

    /// The PUB side of the course's PUB/SUB connection (frames 55, 58, 59, 63), as one stream.
    fn pub_side() -> Vec<u8> {
        let mut b = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 0x03];
        b.push(0x01);
        b.extend_from_slice(b"NULL");
        b.resize(64, 0);
        b.extend_from_slice(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB");
        b.extend_from_slice(b"\x00\x1eWAKTU Mon Sep 15 12:32:19 2025");
        b
    }

    #[test]
    fn decodes_a_whole_direction_in_any_split() {
        let bytes = pub_side();
        // Feed it as TCP would: in arbitrary pieces, keeping what was not consumed.
        for step in [1, 10, 11, 17, 64, bytes.len()] {
            let mut d = StreamDecoder::new();
            let (mut buffered, mut items) = (Vec::new(), Vec::new());
            for chunk in bytes.chunks(step) {
                buffered.extend_from_slice(chunk);
                loop {
                    match d.decode(&buffered) {
                        Ok((item, used)) => {
                            items.push(item.to_string());
                            buffered.drain(..used);
                        }
                        Err(e) if e.is_incomplete() => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            assert_eq!(items.len(), 3, "step {step}: {items:?}");
            assert_eq!(items[2], "MESSAGE 30 B \"WAKTU Mon Sep 15 12:32:19 2025\"");
            assert_eq!(d.socket_type(), Some(&SocketType::Pub));
        }
    }

    #[test]
    fn frames_over_the_limit_are_refused() {
        let mut d = StreamDecoder::with_max_frame(8);
        let bytes = pub_side();
        let (_, used) = d.decode(&bytes).unwrap();
        assert!(matches!(d.decode(&bytes[used..]), Err(DecodeError::Invalid(_))));
        let mut d = StreamDecoder::new();
        let (_, used) = d.decode(&bytes).unwrap();
        let (item, _) = d.decode(&bytes[used..]).unwrap();
        assert!(matches!(
            item,
            Item::Frame(Frame {
                kind: FrameKind::Command,
                ..
            })
        ));
    }
}
