//! A ZeroMQ message: one or more frames, sent and delivered as a whole.

use bytes::Bytes;
use smallvec::SmallVec;

/// A multi-part message. Most messages have one or two frames, which live inline (no allocation);
/// each frame is a [`Bytes`], so received frames share the read buffer instead of being copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    frames: SmallVec<[Bytes; 2]>,
}

impl Message {
    /// An empty message (no frames); add frames with [`Message::push`].
    pub fn new() -> Message {
        Message::default()
    }

    /// A message of the given frames.
    pub fn from_frames(frames: impl IntoIterator<Item = Bytes>) -> Message {
        Message {
            frames: frames.into_iter().collect(),
        }
    }

    /// Append a frame.
    pub fn push(&mut self, frame: impl Into<Bytes>) {
        self.frames.push(frame.into());
    }

    /// Put a frame in front (how REQ adds its empty delimiter, REP its envelope).
    pub fn push_front(&mut self, frame: Bytes) {
        self.frames.insert(0, frame);
    }

    /// The frames in order.
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// The first frame (the topic for PUB/SUB), or an empty slice for an empty message.
    pub fn first(&self) -> &[u8] {
        self.frames.first().map(|b| &b[..]).unwrap_or(&[])
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Remove and return the first `n` frames (REP takes the envelope off this way).
    pub fn split_front(&mut self, n: usize) -> Vec<Bytes> {
        let n = n.min(self.frames.len());
        self.frames.drain(..n).collect()
    }

    /// All frames joined, for printing a one-frame message as text.
    pub fn concat(&self) -> Vec<u8> {
        self.frames.iter().flat_map(|f| f.iter().copied()).collect()
    }

    /// The frames, shown as text and separated by ` | ` (for logs).
    pub fn show(&self) -> String {
        self.frames
            .iter()
            .map(|f| wire::escape::show(f))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Message {
        let mut frames = SmallVec::new();
        frames.push(b);
        Message { frames }
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Message {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Bytes::from(s).into()
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Message {
        Bytes::from(v).into()
    }
}

impl From<&[u8]> for Message {
    fn from(v: &[u8]) -> Message {
        Bytes::copy_from_slice(v).into()
    }
}
