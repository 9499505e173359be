//! The 14-byte header every Ice message starts with.
//!
//! Ice Manual, "The Ice Protocol" → "Protocol Messages" → "Message Header":
//!
//! ```text
//!   offset  0    1    2    3    4      5      6      7      8      9      10 .. 13
//!         ┌────┬────┬────┬────┬──────┬──────┬──────┬──────┬──────┬──────┬───────────┐
//!         │ 'I'│ 'c'│ 'e'│ 'P'│proto │proto │encod.│encod.│ type │compr.│ size      │
//!         │ 49 │ 63 │ 65 │ 50 │major │minor │major │minor │      │status│ i32 LE    │
//!         └────┴────┴────┴────┴──────┴──────┴──────┴──────┴──────┴──────┴───────────┘
//!   always            IceP     1      0      1      0      0..4   0..2   header + body
//! ```
//!
//! The size counts the header itself, so a ValidateConnection (a header and nothing else) is
//! `49 63 65 50 01 00 01 00 03 00 0e 00 00 00`: size 14. This is the first thing an Ice server sends on
//! every connection, before the client may send a request; in a capture it is how Ice is recognised on
//! any port.

use std::fmt;

use super::encoding::Version;
use crate::DecodeError;

/// `IceP`: the first four bytes of every Ice message.
pub const MAGIC: [u8; 4] = *b"IceP";
/// Bytes in the header.
pub const HEADER_SIZE: usize = 14;
/// The protocol version sister speaks and every Ice since 1.0 speaks: 1.0.
pub const PROTOCOL_1_0: Version = Version::new(1, 0);

/// The message type byte (offset 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 0: a call on an object (twoway with an id, oneway with id 0).
    Request,
    /// 1: several oneway calls in one message.
    BatchRequest,
    /// 2: the answer to a twoway request.
    Reply,
    /// 3: the server's "this connection is ready", sent first.
    ValidateConnection,
    /// 4: "I am closing this connection on purpose" (a graceful close, not a crash).
    CloseConnection,
    /// Any other value: Ice itself refuses it (`UnknownMessageException`); kept so it can be shown.
    Unknown(u8),
}

impl MessageType {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => MessageType::Request,
            1 => MessageType::BatchRequest,
            2 => MessageType::Reply,
            3 => MessageType::ValidateConnection,
            4 => MessageType::CloseConnection,
            n => MessageType::Unknown(n),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            MessageType::Request => 0,
            MessageType::BatchRequest => 1,
            MessageType::Reply => 2,
            MessageType::ValidateConnection => 3,
            MessageType::CloseConnection => 4,
            MessageType::Unknown(n) => n,
        }
    }

    /// The name in the Ice manual (and in tshark's `icep.message_type`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Request => "Request",
            MessageType::BatchRequest => "BatchRequest",
            MessageType::Reply => "Reply",
            MessageType::ValidateConnection => "ValidateConnection",
            MessageType::CloseConnection => "CloseConnection",
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

/// The compression status byte (offset 9; Ice Manual, "The Ice Protocol" → "Compression").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// 0: not compressed, and the sender cannot read a compressed reply.
    None,
    /// 1: not compressed, but the sender could read a compressed reply.
    Supported,
    /// 2: the body is compressed with bzip2 (after a 4-byte uncompressed size).
    Compressed,
    /// Any other value (invalid; kept to be shown).
    Unknown(u8),
}

impl Compression {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Compression::None,
            1 => Compression::Supported,
            2 => Compression::Compressed,
            n => Compression::Unknown(n),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Supported => 1,
            Compression::Compressed => 2,
            Compression::Unknown(n) => n,
        }
    }
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub protocol: Version,
    pub encoding: Version,
    pub message_type: MessageType,
    pub compression: Compression,
    /// The whole message's size on the wire, header included.
    pub size: u32,
}

impl Header {
    /// A header for a message of `size` bytes (header included), protocol and encoding 1.0,
    /// uncompressed.
    pub fn new(message_type: MessageType, size: u32) -> Self {
        Header {
            protocol: PROTOCOL_1_0,
            encoding: Version::new(1, 0),
            message_type,
            compression: Compression::None,
            size,
        }
    }

    /// Reads a header from the start of `buf`. `Incomplete` until 14 bytes are there; `Invalid` for a
    /// wrong magic, a protocol other than 1.x, or a size smaller than the header.
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        // Check the magic on the bytes already here, so a peer that is not Ice is told at once.
        let have = buf.len().min(4);
        if buf[..have] != MAGIC[..have] {
            return Err(DecodeError::invalid(format!(
                "not an Ice message: it starts with {:02x?}, not the magic \"IceP\"",
                &buf[..have]
            )));
        }
        if buf.len() < HEADER_SIZE {
            return Err(DecodeError::needs(HEADER_SIZE - buf.len()));
        }
        let protocol = Version::new(buf[4], buf[5]);
        if protocol.major != 1 {
            return Err(DecodeError::invalid(format!(
                "Ice protocol {protocol} is not supported (only 1.x exists)"
            )));
        }
        let size = i32::from_le_bytes([buf[10], buf[11], buf[12], buf[13]]);
        if size < HEADER_SIZE as i32 {
            return Err(DecodeError::invalid(format!(
                "message size {size} is smaller than the 14-byte header"
            )));
        }
        Ok(Header {
            protocol,
            encoding: Version::new(buf[6], buf[7]),
            message_type: MessageType::from_byte(buf[8]),
            compression: Compression::from_byte(buf[9]),
            size: size as u32,
        })
    }

    /// Appends the 14 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[
            self.protocol.major,
            self.protocol.minor,
            self.encoding.major,
            self.encoding.minor,
            self.message_type.to_byte(),
            self.compression.to_byte(),
        ]);
        out.extend_from_slice(&(self.size as i32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALIDATE: [u8; 14] = [0x49, 0x63, 0x65, 0x50, 1, 0, 1, 0, 3, 0, 14, 0, 0, 0];

    #[test]
    fn validate_connection_is_a_header_of_size_14() {
        let h = Header::decode(&VALIDATE).unwrap();
        assert_eq!(h, Header::new(MessageType::ValidateConnection, 14));
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, VALIDATE);
    }

    #[test]
    fn a_short_header_asks_for_the_rest_but_a_wrong_magic_is_refused_at_once() {
        assert_eq!(Header::decode(&VALIDATE[..5]), Err(DecodeError::needs(9)));
        assert_eq!(Header::decode(&[]), Err(DecodeError::needs(14)));
        assert!(!Header::decode(b"GE").unwrap_err().is_incomplete());
        assert!(Header::decode(b"GIOP\x01\x02\x01\x00\x00\x00\x00\x00\x00\x00").is_err());
    }

    #[test]
    fn sizes_below_the_header_and_other_protocols_are_invalid() {
        let mut small = VALIDATE;
        small[10] = 13;
        assert!(Header::decode(&small)
            .unwrap_err()
            .to_string()
            .contains("smaller than the 14-byte header"));
        let mut negative = VALIDATE;
        negative[13] = 0x80;
        assert!(Header::decode(&negative).is_err());
        let mut v2 = VALIDATE;
        v2[4] = 2;
        assert!(Header::decode(&v2)
            .unwrap_err()
            .to_string()
            .contains("protocol 2.0"));
    }
}
