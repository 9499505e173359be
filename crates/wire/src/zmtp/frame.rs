//! ZMTP frames: how messages and commands travel after the greeting (RFC 23 §"Framing").
//!
//! ```text
//!  flags (1 B)                         size                   body
//!  bit 0 MORE     another frame of     1 byte (0..255)        size bytes
//!                 this message follows  or, with LONG,
//!  bit 1 LONG     size is 8 bytes       8 bytes big-endian
//!  bit 2 COMMAND  body is a command
//!  bits 3-7       reserved, must be 0
//! ```
//!
//! A *message* is one or more frames: every frame but the last has MORE set. A command is always one
//! frame (MORE is not allowed with COMMAND). What to notice: a REQ's `Hello` is `01 00` (an empty
//! frame with MORE: the envelope delimiter) followed by `00 05 48 65 6c 6c 6f`.

use std::fmt;

use bytes::BufMut;

use super::command::Command;
use crate::DecodeError;

/// Flag bit 0: more frames of this message follow.
pub const FLAG_MORE: u8 = 0x01;
/// Flag bit 1: the size field is 8 bytes.
pub const FLAG_LONG: u8 = 0x02;
/// Flag bit 2: the frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;
const RESERVED: u8 = !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND);

/// Is a frame part of a message or a command?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A message frame; `more` says whether another frame of the same message follows.
    Message { more: bool },
    /// A command frame (READY, SUBSCRIBE, PING, ...).
    Command,
}

/// A decoded frame header: what the flags say and where the body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: FrameKind,
    /// Was the 8-byte size form used (needed above 255 bytes, allowed below)?
    pub long: bool,
    /// Length of flags + size field: 2 or 9.
    pub header_len: usize,
    /// Length of the body.
    pub body_len: usize,
}

impl FrameHeader {
    /// Decode the header at the front of `buf`, refusing bodies over `max_frame` bytes *before*
    /// waiting for them (so the caller never reserves room for a hostile size).
    ///
    /// This is what the live sockets use: they then split the body off their read buffer without
    /// copying.
    pub fn decode(buf: &[u8], max_frame: usize) -> Result<FrameHeader, DecodeError> {
        let Some(&flags) = buf.first() else {
            return Err(DecodeError::needs(2));
        };
        if flags & RESERVED != 0 {
            return Err(DecodeError::invalid(format!(
                "frame flags 0x{flags:02x} set reserved bits (RFC 23 §Framing: bits 3-7 must be zero)"
            )));
        }
        let command = flags & FLAG_COMMAND != 0;
        let more = flags & FLAG_MORE != 0;
        if command && more {
            return Err(DecodeError::invalid(
                "a command frame with MORE set (RFC 23 §Framing: commands are single frames)",
            ));
        }
        let long = flags & FLAG_LONG != 0;
        let (header_len, size) = if long {
            let Some(s) = buf.get(1..9) else {
                return Err(DecodeError::needs(9 - buf.len()));
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            (9, u64::from_be_bytes(b))
        } else {
            let Some(&s) = buf.get(1) else {
                return Err(DecodeError::needs(1));
            };
            (2, u64::from(s))
        };
        if size > max_frame as u64 {
            return Err(DecodeError::invalid(format!(
                "frame of {size} bytes is larger than the limit of {max_frame} bytes"
            )));
        }
        let kind = if command {
            FrameKind::Command
        } else {
            FrameKind::Message { more }
        };
        Ok(FrameHeader {
            kind,
            long,
            header_len,
            // `size <= max_frame`, which is a usize.
            body_len: size as usize,
        })
    }

    /// Total bytes of the frame (header and body).
    pub fn frame_len(&self) -> usize {
        self.header_len + self.body_len
    }
}

/// One frame, borrowing its body from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: FrameKind,
    /// The 8-byte size form was used.
    pub long: bool,
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Decode one frame from the front of `buf`; returns it and the bytes it used.
    ///
    /// ```
    /// use wire::zmtp::{Frame, FrameKind};
    /// let (f, used) = Frame::decode(b"\x00\x05World", 1024).unwrap();
    /// assert_eq!((f.kind, f.body, used), (FrameKind::Message { more: false }, &b"World"[..], 7));
    /// ```
    pub fn decode(buf: &'a [u8], max_frame: usize) -> Result<(Frame<'a>, usize), DecodeError> {
        let h = FrameHeader::decode(buf, max_frame)?;
        let end = h.frame_len();
        match buf.get(h.header_len..end) {
            Some(body) => Ok((
                Frame {
                    kind: h.kind,
                    long: h.long,
                    body,
                },
                end,
            )),
            None => Err(DecodeError::needs(end - buf.len())),
        }
    }

    /// A message frame.
    pub fn message(body: &'a [u8], more: bool) -> Frame<'a> {
        Frame {
            kind: FrameKind::Message { more },
            long: body.len() > 255,
            body,
        }
    }

    /// True for a message frame with MORE set.
    pub fn more(&self) -> bool {
        matches!(self.kind, FrameKind::Message { more: true })
    }

    /// Parse the body of a command frame (`None` for a message frame).
    pub fn command(&self) -> Option<Result<Command<'a>, DecodeError>> {
        match self.kind {
            FrameKind::Command => Some(Command::decode(self.body)),
            FrameKind::Message { .. } => None,
        }
    }

    /// Append this frame to `out`, in the short form when the body fits (as libzmq does).
    pub fn encode(&self, out: &mut impl BufMut) {
        let more = self.more();
        let command = self.kind == FrameKind::Command;
        put_header(out, self.body.len(), more, command);
        out.put_slice(self.body);
    }
}

/// Append a frame header for a body of `len` bytes: the short form up to 255, the long form above.
pub fn put_header(out: &mut impl BufMut, len: usize, more: bool, command: bool) {
    let mut flags = 0;
    if more {
        flags |= FLAG_MORE;
    }
    if command {
        flags |= FLAG_COMMAND;
    }
    if len > 255 {
        out.put_u8(flags | FLAG_LONG);
        out.put_u64(len as u64);
    } else {
        out.put_u8(flags);
        out.put_u8(len as u8);
    }
}

/// Append one message frame (`more`: another frame of the same message follows).
pub fn encode_message_frame(out: &mut impl BufMut, body: &[u8], more: bool) {
    put_header(out, body.len(), more, false);
    out.put_slice(body);
}

/// Bytes a message frame of `len` body bytes takes on the wire.
pub fn message_frame_len(len: usize) -> usize {
    if len > 255 {
        9 + len
    } else {
        2 + len
    }
}

impl fmt::Display for Frame<'_> {
    /// One line, as the logs and the analyzer print it: `MESSAGE+ 0 B ""` (the `+` is MORE),
    /// `MESSAGE 5 B "World"`, or the command (`READY Socket-Type=REP`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FrameKind::Command => match Command::decode(self.body) {
                Ok(c) => c.fmt(f),
                Err(e) => write!(f, "COMMAND {} B ({e})", self.body.len()),
            },
            FrameKind::Message { more } => {
                write!(
                    f,
                    "MESSAGE{} {} B \"{}\"",
                    if more { "+" } else { "" },
                    self.body.len(),
                    crate::escape::show(preview(self.body))
                )?;
                if self.body.len() > PREVIEW {
                    f.write_str("…")?;
                }
                Ok(())
            }
        }
    }
}

const PREVIEW: usize = 64;

fn preview(body: &[u8]) -> &[u8] {
    &body[..body.len().min(PREVIEW)]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real frames from testdata/pcaps/zmq__daptong__zmq.pcap.
    /// Frame 14 (REQ -> REP) after its READY: the delimiter, then `Hello`.
    const HELLO_REQUEST: [u8; 9] = [0x01, 0x00, 0x00, 0x05, b'H', b'e', b'l', b'l', b'o'];
    /// Frame 15 (REP -> REQ): `01 00` delimiter, then `World`.
    const WORLD_REPLY: [u8; 9] = [0x01, 0x00, 0x00, 0x05, b'W', b'o', b'r', b'l', b'd'];
    /// Frame 35 (PUSH -> PULL): a pickled 62: `80 04 4b 3e 2e`.
    const PICKLED: [u8; 7] = [0x00, 0x05, 0x80, 0x04, 0x4b, 0x3e, 0x2e];

    #[test]
    fn decodes_the_captured_request() {
        let (delim, used) = Frame::decode(&HELLO_REQUEST, 1024).unwrap();
        assert_eq!(
            (delim.kind, delim.body, used),
            (FrameKind::Message { more: true }, &b""[..], 2)
        );
        let (body, used2) = Frame::decode(&HELLO_REQUEST[used..], 1024).unwrap();
        assert_eq!((body.more(), body.body, used2), (false, &b"Hello"[..], 7));
        assert_eq!(delim.to_string(), "MESSAGE+ 0 B \"\"");
        assert_eq!(body.to_string(), "MESSAGE 5 B \"Hello\"");
        let (f, _) = Frame::decode(&PICKLED, 1024).unwrap();
        assert_eq!(f.body, &[0x80, 0x04, 0x4b, 0x3e, 0x2e]);
    }

    #[test]
    fn encodes_the_captured_reply() {
        let mut out = Vec::new();
        encode_message_frame(&mut out, b"", true);
        encode_message_frame(&mut out, b"World", false);
        assert_eq!(out, WORLD_REPLY);
    }

    #[test]
    fn long_frames_round_trip() {
        for len in [0usize, 1, 255, 256, 70_000] {
            let body = vec![0xab; len];
            let mut out = Vec::new();
            Frame::message(&body, true).encode(&mut out);
            assert_eq!(out.len(), message_frame_len(len));
            let (f, used) = Frame::decode(&out, 1 << 20).unwrap();
            assert_eq!(
                (f.body.len(), f.more(), f.long, used),
                (len, true, len > 255, out.len())
            );
        }
        // The long form is allowed for short bodies too (RFC 23 does not forbid it).
        let (f, used) = Frame::decode(&[0x02, 0, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'], 64).unwrap();
        assert_eq!((f.body, f.long, used), (&b"hi"[..], true, 11));
    }

    #[test]
    fn truncated_frames_ask_for_more() {
        assert_eq!(Frame::decode(&[], 64), Err(DecodeError::needs(2)));
        assert_eq!(Frame::decode(&[0x00], 64), Err(DecodeError::needs(1)));
        assert_eq!(Frame::decode(&WORLD_REPLY[2..6], 64), Err(DecodeError::needs(3)));
        assert_eq!(Frame::decode(&[0x02, 0, 0], 64), Err(DecodeError::needs(6)));
    }

    #[test]
    fn oversized_and_broken_frames_are_invalid() {
        // 8-byte size of 2^63: refused from the header alone, nothing reserved.
        let huge = [0x02, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            Frame::decode(&huge, 1 << 24),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            Frame::decode(&[0x00, 200], 100),
            Err(DecodeError::Invalid(_))
        ));
        // Reserved bits, and MORE on a command.
        assert!(matches!(
            Frame::decode(&[0x08, 0], 64),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            Frame::decode(&[0x05, 0], 64),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn display_shortens_long_bodies() {
        let body = vec![b'x'; 100];
        let s = Frame::message(&body, false).to_string();
        assert!(s.starts_with("MESSAGE 100 B \"xxxx") && s.ends_with("\"…"), "{s}");
    }
}
