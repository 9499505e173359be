//! The one error type of every decoder in this crate.

use std::fmt;

/// Why a decoder could not return a message.
///
/// `Incomplete` is not a failure: a stream decoder simply asks for more bytes. `Invalid` means the
/// bytes can never become a valid message of this protocol; a server then drops the peer, and the
/// analyzer reports the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed; `needed` is how many more, when the decoder can tell.
    Incomplete { needed: Option<usize> },
    /// The bytes break a rule of the protocol; the text says which (and cites the spec when it can).
    Invalid(String),
}

impl DecodeError {
    /// Shorthand for an `Incomplete` that knows how many bytes are missing.
    pub fn needs(n: usize) -> Self {
        DecodeError::Incomplete { needed: Some(n) }
    }

    /// Shorthand for `Invalid` from anything printable.
    pub fn invalid(reason: impl Into<String>) -> Self {
        DecodeError::Invalid(reason.into())
    }

    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete { needed: Some(n) } => write!(f, "incomplete: {n} more bytes needed"),
            DecodeError::Incomplete { needed: None } => write!(f, "incomplete: more bytes needed"),
            DecodeError::Invalid(reason) => write!(f, "invalid: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}
