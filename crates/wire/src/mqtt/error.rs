//! What can go wrong reading or writing an MQTT packet.
//!
//! Decoding errors are finer than the crate-wide [`DecodeError`] because an MQTT 5.0 receiver must say
//! *why* it closes a connection, with a reason code in its DISCONNECT or CONNACK (MQTT 5.0 §4.13):
//! a malformed packet is 0x81, a protocol error 0x82, an unknown protocol version 0x84, a packet over the
//! agreed maximum size 0x95. [`Error::reason_code`] gives that code; `From<Error> for DecodeError` gives
//! the shape every codec of this crate shares.

use std::fmt;

use super::ReasonCode;
use crate::DecodeError;

/// Why bytes could not be decoded as an MQTT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed; `needed` is how many more, when the fixed header already says so.
    Incomplete { needed: Option<usize> },
    /// The bytes break the packet format (MQTT 5.0 §4.13.1: "Malformed Packet", reason code 0x81).
    Malformed(String),
    /// The format is right but the content breaks a rule (MQTT 5.0 §4.13.1: "Protocol Error", 0x82).
    Protocol(String),
    /// A CONNECT with a protocol level this codec does not speak (3.1.1 §3.1.2.2; 5.0 reason 0x84).
    /// A 3.1.1 server answers with CONNACK return code 1, a 5.0 server with reason 0x84, then closes.
    UnsupportedVersion { name: String, level: u8 },
    /// The packet is larger than the limit the receiver set (5.0 §3.1.2.11.4, reason 0x95).
    TooLarge { size: usize, max: usize },
}

impl Error {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Error::Malformed(reason.into())
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        Error::Protocol(reason.into())
    }

    pub fn is_incomplete(&self) -> bool {
        matches!(self, Error::Incomplete { .. })
    }

    /// The MQTT 5.0 reason code a receiver sends (in DISCONNECT, or CONNACK before a session exists)
    /// when it closes the connection because of this error. `None` for `Incomplete`: read more instead.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Error::Incomplete { .. } => None,
            Error::Malformed(_) => Some(ReasonCode::MalformedPacket),
            Error::Protocol(_) => Some(ReasonCode::ProtocolError),
            Error::UnsupportedVersion { .. } => Some(ReasonCode::UnsupportedProtocolVersion),
            Error::TooLarge { .. } => Some(ReasonCode::PacketTooLarge),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete { needed: Some(n) } => write!(f, "incomplete packet: {n} more bytes needed"),
            Error::Incomplete { needed: None } => write!(f, "incomplete packet: more bytes needed"),
            Error::Malformed(reason) => write!(f, "malformed packet: {reason}"),
            Error::Protocol(reason) => write!(f, "protocol error: {reason}"),
            Error::UnsupportedVersion { name, level } => write!(
                f,
                "unsupported protocol: name {name:?}, level {level} (sister speaks MQIsdp 3, MQTT 4 = 3.1.1 and MQTT 5)"
            ),
            Error::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes is larger than the maximum of {max}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for DecodeError {
    fn from(e: Error) -> Self {
        match e {
            Error::Incomplete { needed } => DecodeError::Incomplete { needed },
            other => DecodeError::Invalid(other.to_string()),
        }
    }
}

/// Why a packet could not be encoded: it holds something its format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the packet would be {0} bytes after its fixed header, more than the 268435455 MQTT allows")]
    TooLong(usize),
    #[error("{what} is {len} bytes long; MQTT strings and binary fields hold at most 65535")]
    FieldTooLong { what: &'static str, len: usize },
    #[error("{0} contains U+0000, which MQTT strings must not")]
    NulInString(&'static str),
    #[error("{packet} does not exist in MQTT {version}")]
    NotInVersion {
        packet: &'static str,
        version: super::Version,
    },
    #[error("{0}")]
    Invalid(String),
}
