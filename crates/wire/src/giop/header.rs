//! The 12-byte header every GIOP message starts with.
//!
//! CORBA 3.0, §15.4.1 "GIOP Message Header":
//!
//! ```text
//!   offset  0    1    2    3    4      5      6       7       8 .. 11
//!         ┌────┬────┬────┬────┬──────┬──────┬───────┬───────┬──────────────────┐
//!         │ 'G'│ 'I'│ 'O'│ 'P'│major │minor │ flags │ type  │ message_size     │
//!         └────┴────┴────┴────┴──────┴──────┴───────┴───────┴──────────────────┘
//!                              1      0..2   bit 0: byte order (1 = little-endian)
//!                                            bit 1: more fragments follow (1.1 and later)
//! ```
//!
//! In GIOP 1.0 the flags byte is a plain boolean `byte_order`; 1.1 made it a set of bits. The
//! `message_size` is written in the sender's own byte order (so a reader must look at the flags
//! first) and counts the bytes *after* the header. The type is one of eight messages (§15.4):
//! Request 0, Reply 1, CancelRequest 2, LocateRequest 3, LocateReply 4, CloseConnection 5,
//! MessageError 6, Fragment 7 (1.1 and later).

use std::fmt;

use crate::DecodeError;

/// `GIOP`: the first four bytes of every message (§15.4.1).
pub const MAGIC: [u8; 4] = *b"GIOP";
/// Bytes in the header.
pub const HEADER_SIZE: usize = 12;

/// A GIOP (or IIOP, or encoding) version: `major.minor`, one octet each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const fn new(major: u8, minor: u8) -> Self {
        Version { major, minor }
    }
    /// Does this version have 1.2's message layouts (request id first, a TargetAddress, 8-aligned
    /// bodies)? 1.3 kept them.
    pub fn is_1_2_or_later(self) -> bool {
        self >= GIOP_1_2
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

pub const GIOP_1_0: Version = Version::new(1, 0);
pub const GIOP_1_1: Version = Version::new(1, 1);
pub const GIOP_1_2: Version = Version::new(1, 2);

/// The message type octet (offset 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Request,
    Reply,
    CancelRequest,
    LocateRequest,
    LocateReply,
    CloseConnection,
    MessageError,
    Fragment,
    /// Any other value: a peer answers it with MessageError; kept so it can be shown.
    Unknown(u8),
}

impl MessageType {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => MessageType::Request,
            1 => MessageType::Reply,
            2 => MessageType::CancelRequest,
            3 => MessageType::LocateRequest,
            4 => MessageType::LocateReply,
            5 => MessageType::CloseConnection,
            6 => MessageType::MessageError,
            7 => MessageType::Fragment,
            n => MessageType::Unknown(n),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            MessageType::Request => 0,
            MessageType::Reply => 1,
            MessageType::CancelRequest => 2,
            MessageType::LocateRequest => 3,
            MessageType::LocateReply => 4,
            MessageType::CloseConnection => 5,
            MessageType::MessageError => 6,
            MessageType::Fragment => 7,
            MessageType::Unknown(n) => n,
        }
    }

    /// The name in the specification (and in tshark's `giop.type`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Request => "Request",
            MessageType::Reply => "Reply",
            MessageType::CancelRequest => "CancelRequest",
            MessageType::LocateRequest => "LocateRequest",
            MessageType::LocateReply => "LocateReply",
            MessageType::CloseConnection => "CloseConnection",
            MessageType::MessageError => "MessageError",
            MessageType::Fragment => "Fragment",
            MessageType::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageType::Unknown(n) => write!(f, "unknown message type {n}"),
            other => f.write_str(other.name()),
        }
    }
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    /// Bit 0 of the flags: the body (and `message_size`) are little-endian.
    pub little_endian: bool,
    /// Bit 1 of the flags (GIOP 1.1+): a Fragment message continues this one.
    pub more_fragments: bool,
    pub message_type: MessageType,
    /// Bytes after the header.
    pub size: u32,
}

impl Header {
    pub fn new(version: Version, message_type: MessageType, little_endian: bool) -> Self {
        Header {
            version,
            little_endian,
            more_fragments: false,
            message_type,
            size: 0,
        }
    }

    /// Reads the header at the front of `buf`: `Incomplete` until 12 bytes are there, `Invalid` when
    /// they are not GIOP 1.x.
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        let n = buf.len().min(4);
        if buf[..n] != MAGIC[..n] {
            return Err(DecodeError::invalid(format!(
                "the message does not start with GIOP (it starts {:02x?})",
                &buf[..n]
            )));
        }
        if buf.len() < HEADER_SIZE {
            return Err(DecodeError::needs(HEADER_SIZE - buf.len()));
        }
        let version = Version::new(buf[4], buf[5]);
        if version.major != 1 || version.minor > 3 {
            return Err(DecodeError::invalid(format!(
                "GIOP version {version} is not 1.0 to 1.3 (§15.4.1)"
            )));
        }
        let flags = buf[6];
        let size_bytes = [buf[8], buf[9], buf[10], buf[11]];
        let little_endian = flags & 1 == 1;
        let size = if little_endian {
            u32::from_le_bytes(size_bytes)
        } else {
            u32::from_be_bytes(size_bytes)
        };
        Ok(Header {
            version,
            little_endian,
            // GIOP 1.0's flags byte is only a boolean: bit 1 means nothing there.
            more_fragments: version.minor >= 1 && flags & 2 == 2,
            message_type: MessageType::from_byte(buf[7]),
            size,
        })
    }

    /// The flags octet as written.
    pub fn flags(&self) -> u8 {
        u8::from(self.little_endian) | if self.more_fragments { 2 } else { 0 }
    }

    /// Appends the 12 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[
            self.version.major,
            self.version.minor,
            self.flags(),
            self.message_type.to_byte(),
        ]);
        let size = if self.little_endian {
            self.size.to_le_bytes()
        } else {
            self.size.to_be_bytes()
        };
        out.extend_from_slice(&size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_byte_orders_and_the_fragment_bit() {
        let le = [b'G', b'I', b'O', b'P', 1, 2, 3, 0, 0x10, 0, 0, 0];
        let h = Header::decode(&le).unwrap();
        assert_eq!(
            (h.version, h.little_endian, h.more_fragments, h.size),
            (GIOP_1_2, true, true, 16)
        );
        assert_eq!(h.message_type, MessageType::Request);
        let be = [b'G', b'I', b'O', b'P', 1, 0, 0, 1, 0, 0, 0, 0x10];
        let h = Header::decode(&be).unwrap();
        assert_eq!(
            (h.little_endian, h.size, h.message_type),
            (false, 16, MessageType::Reply)
        );
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, be);
    }

    #[test]
    fn in_giop_1_0_the_flags_are_only_a_boolean() {
        let h = Header::decode(&[b'G', b'I', b'O', b'P', 1, 0, 3, 5, 0, 0, 0, 0]).unwrap();
        assert!(!h.more_fragments);
    }

    #[test]
    fn refuses_other_protocols_and_waits_for_twelve_bytes() {
        assert!(Header::decode(b"GET / HTTP/1.1")
            .unwrap_err()
            .to_string()
            .contains("GIOP"));
        assert!(Header::decode(b"GIO").unwrap_err().is_incomplete());
        assert_eq!(Header::decode(b"GIOP\x01").unwrap_err(), DecodeError::needs(7));
        assert!(Header::decode(b"GIOP\x02\x00\x00\x00\x00\x00\x00\x00").is_err());
    }
}
