//! One direction of a TCP stream between segments, for the dissectors that cut it into messages
//! (MQTT packets, ZMTP frames, HTTP heads and chunk lines).
//!
//! TCP carries bytes, not messages: a message may arrive split over several segments, and one segment
//! may hold several messages, or the end of one and the start of the next. [`StreamBuf::feed`] hands
//! the dissector the front of the stream and asks what it made of it ([`Step`]): bytes used (a whole
//! message, or a piece a state machine has dealt with), incomplete (wait for the next segment), or
//! invalid (stop). While messages end where segments end (the usual case) nothing is copied: the
//! dissector reads the segment itself. Only the start of an unfinished message is copied, to wait for
//! the next segment, which is appended to it.
//!
//! The buffer is not bounded here: each dissector bounds what it leaves incomplete (MQTT and ZMTP by
//! the size their codec refuses, HTTP by its limits on heads and chunk lines).

/// What a dissector made of the front of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first `n` bytes are read: they are dropped, and the dissector is called again on what
    /// follows. `Used(0)` waits for more bytes, as `Incomplete` does (called again on the same bytes,
    /// the dissector could only answer the same). More than there is counts as all of it.
    Used(usize),
    /// The front is the start of something unfinished: it is kept, and offered again with the next
    /// segment appended.
    Incomplete,
    /// The bytes break the protocol and the dissector cannot find where the next message starts: the
    /// direction stops (nothing more is decoded in it).
    Invalid,
}

/// The bytes of one direction held back between segments, and whether the direction can still be
/// followed.
#[derive(Debug, Default)]
pub struct StreamBuf {
    /// The start of an unfinished message, held for the next segment.
    held: Vec<u8>,
    /// The stream offset of `held[0]` (of the next byte, when nothing is held).
    offset: u64,
    /// A gap or invalid bytes: where messages start is not known any more.
    stopped: bool,
}

impl StreamBuf {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next contiguous bytes of the direction, `bytes` starting at stream `offset`. `step` is
    /// called with the stream offset of the front and the front's bytes, and again after each
    /// `Used`, until the bytes are used up, or it answers `Incomplete` (the rest is held) or `Invalid`
    /// (the direction stops). When bytes are held, the front is them followed by `bytes` (which
    /// continue them: the reassembler hands bytes in order, and a hole is [`StreamBuf::stop`]), and
    /// `offset` is not needed.
    pub fn feed(&mut self, offset: u64, bytes: &[u8], mut step: impl FnMut(u64, &[u8]) -> Step) {
        if self.stopped || bytes.is_empty() {
            return;
        }
        if self.held.is_empty() {
            // Nothing waits: the dissector reads the segment itself, and only what it leaves is copied.
            let used = self.run(offset, bytes, &mut step);
            if !self.stopped {
                self.held.extend_from_slice(&bytes[used..]);
            }
        } else {
            let mut front = std::mem::take(&mut self.held);
            front.extend_from_slice(bytes);
            let used = self.run(self.offset, &front, &mut step);
            if !self.stopped {
                front.drain(..used);
                self.held = front;
            }
        }
    }

    /// Offer the front of `input` (at stream `offset`) to `step` until it is used up or `step` waits
    /// or stops; returns how many bytes were used, and leaves `self.offset` at the first unused one.
    fn run(&mut self, offset: u64, input: &[u8], step: &mut impl FnMut(u64, &[u8]) -> Step) -> usize {
        let mut used = 0;
        while used < input.len() {
            match step(offset + used as u64, &input[used..]) {
                Step::Used(0) | Step::Incomplete => break,
                Step::Used(n) => used += n.min(input.len() - used),
                Step::Invalid => {
                    self.stop();
                    return input.len();
                }
            }
        }
        self.offset = offset + used as u64;
        used
    }

    /// The stream can no longer be followed (bytes were lost, or a dissector gave up on them without
    /// `Invalid`): what is held is dropped, and later bytes are ignored.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.held = Vec::new();
    }

    /// Start over: drop what is held and follow the stream again from the next bytes fed, as from
    /// the start of a message (undoes [`StreamBuf::stop`]).
    pub fn clear(&mut self) {
        *self = StreamBuf::default();
    }

    /// The bytes held back: the start of an unfinished message (empty once stopped).
    pub fn held(&self) -> &[u8] {
        &self.held
    }

    /// True after [`StreamBuf::stop`] or a step's `Invalid`.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy protocol: a length byte, then that many bytes; a length of 0xff breaks the rules.
    fn toy(front: &[u8]) -> Step {
        match front.first() {
            Some(0xff) => Step::Invalid,
            Some(&n) if front.len() > n as usize => Step::Used(1 + n as usize),
            _ => Step::Incomplete,
        }
    }

    /// Feed `pieces` one after the other, the first at stream offset 1000; returns the messages
    /// read as (stream offset, bytes after the length byte).
    fn read(s: &mut StreamBuf, pieces: &[&[u8]]) -> Vec<(u64, Vec<u8>)> {
        let mut messages = Vec::new();
        let mut offset = 1000;
        for piece in pieces {
            s.feed(offset, piece, |at, front| {
                let step = toy(front);
                if let Step::Used(n) = step {
                    messages.push((at, front[1..n].to_vec()));
                }
                step
            });
            offset += piece.len() as u64;
        }
        messages
    }

    #[test]
    fn a_message_split_over_two_and_three_segments() {
        let mut s = StreamBuf::new();
        assert_eq!(read(&mut s, &[b"\x05he", b"llo"]), [(1000, b"hello".to_vec())]);
        assert!(s.held().is_empty());
        let mut s = StreamBuf::new();
        let m = read(&mut s, &[b"\x05", b"hel", b"lo"]);
        assert_eq!(m, [(1000, b"hello".to_vec())]);
        assert!(s.held().is_empty());
    }

    #[test]
    fn two_messages_in_one_segment() {
        let mut s = StreamBuf::new();
        let m = read(&mut s, &[b"\x02hi\x03abc"]);
        assert_eq!(m, [(1000, b"hi".to_vec()), (1003, b"abc".to_vec())]);
        assert!(s.held().is_empty());
    }

    #[test]
    fn a_message_and_the_start_of_the_next() {
        let mut s = StreamBuf::new();
        let m = read(&mut s, &[b"\x02hi\x05wor", b"ld\x01!"]);
        assert_eq!(
            m,
            [
                (1000, b"hi".to_vec()),
                (1003, b"world".to_vec()),
                (1009, b"!".to_vec())
            ]
        );
        // After the first segment only the start of "world" was held.
        let mut s = StreamBuf::new();
        read(&mut s, &[b"\x02hi\x05wor"]);
        assert_eq!(s.held(), b"\x05wor");
    }

    #[test]
    fn incomplete_then_complete_and_nothing_copied_while_nothing_waits() {
        let mut s = StreamBuf::new();
        let segment = b"\x03abc\x04ab".to_vec();
        let mut fronts = Vec::new();
        s.feed(7, &segment, |at, front| {
            fronts.push((at, front.as_ptr()));
            toy(front)
        });
        // Both calls read the segment itself (no copy); the second got Incomplete.
        assert_eq!(fronts, [(7, segment.as_ptr()), (11, segment[4..].as_ptr())]);
        assert_eq!(s.held(), b"\x04ab");
        let mut calls = Vec::new();
        s.feed(14, b"cd", |at, front| {
            calls.push((at, front.to_vec()));
            toy(front)
        });
        // The held start and the new bytes, at the held start's offset.
        assert_eq!(calls, [(11, b"\x04abcd".to_vec())]);
        assert!(s.held().is_empty() && !s.is_stopped());
        // And the next segment is read in place again, at its own offset.
        let mut at_next = None;
        s.feed(16, b"\x00", |at, front| {
            at_next = Some(at);
            toy(front)
        });
        assert_eq!(at_next, Some(16));
    }

    #[test]
    fn invalid_stops_the_direction() {
        let mut s = StreamBuf::new();
        let m = read(&mut s, &[b"\x01a\xff\x01b", b"\x01c"]);
        assert_eq!(m, [(1000, b"a".to_vec())], "nothing after the invalid byte");
        assert!(s.is_stopped());
        assert!(s.held().is_empty());
        // Invalid on held bytes too.
        let mut s = StreamBuf::new();
        read(&mut s, &[b"\x05ab"]);
        let mut calls = 0;
        s.feed(1003, b"cde", |_, _| {
            calls += 1;
            Step::Invalid
        });
        s.feed(1006, b"\x01x", |_, _| {
            calls += 1;
            Step::Used(2)
        });
        assert_eq!(calls, 1);
        assert!(s.is_stopped() && s.held().is_empty());
    }

    #[test]
    fn stop_after_a_gap_then_clear_starts_over() {
        let mut s = StreamBuf::new();
        read(&mut s, &[b"\x05ab"]);
        s.stop();
        assert!(s.is_stopped() && s.held().is_empty());
        assert!(read(&mut s, &[b"\x01a"]).is_empty(), "nothing read after the gap");
        s.clear();
        assert!(!s.is_stopped());
        assert_eq!(read(&mut s, &[b"\x01a"]), [(1000, b"a".to_vec())]);
    }

    #[test]
    fn a_step_that_uses_nothing_or_too_much_does_not_loop_or_panic() {
        let mut s = StreamBuf::new();
        let mut calls = 0;
        s.feed(0, b"abc", |_, _| {
            calls += 1;
            Step::Used(0)
        });
        assert_eq!((calls, s.held()), (1, &b"abc"[..]));
        s.feed(3, b"d", |at, front| {
            assert_eq!((at, front), (0, &b"abcd"[..]));
            Step::Used(99)
        });
        assert!(s.held().is_empty());
        let mut next = None;
        s.feed(4, b"e", |at, _| {
            next = Some(at);
            Step::Used(1)
        });
        assert_eq!(next, Some(4));
    }
}
