//! The ZMTP greeting: the first 64 bytes each peer sends (RFC 23 §"The Greeting").
//!
//! ```text
//!  offset  size  field
//!   0       1    signature: 0xFF
//!   1       8    signature: padding (any bytes; libzmq sends zeros, ZMTP 1.0 put a length here)
//!   9       1    signature: 0x7F (bit 0 set: "this is not a ZMTP 1.0 frame")
//!  10       1    version major (3)
//!  11       1    version minor (0 or 1)
//!  12      20    mechanism name, ASCII, padded with NUL ("NULL", "PLAIN", "CURVE")
//!  32       1    as-server (0 or 1; only PLAIN and CURVE use it)
//!  33      31    filler (zeros)
//! ```
//!
//! What to notice: libzmq sends the greeting in pieces so that it can talk to older versions: first
//! the 10-byte signature, then (once it has seen the peer's signature) the major version, then the rest.
//! In the course's capture the segments are 10, 11 (10 + major), 54 and 53 bytes. [`Greeting::decode`]
//! therefore checks whatever prefix it has and answers `Incomplete` until all 64 bytes are there, and
//! [`PartialGreeting`] says which fields a prefix already holds (what the analyzer shows per segment).

use std::fmt;

use bytes::BufMut;

use crate::DecodeError;

/// Length of the whole greeting.
pub const GREETING_LEN: usize = 64;
/// Length of the signature (the part every ZMTP version shares).
pub const SIGNATURE_LEN: usize = 10;
/// Length of the mechanism field.
pub const MECHANISM_LEN: usize = 20;

/// A security mechanism name (RFC 23 §"Mechanism"). sister speaks only NULL; the others are named so
/// that a refusal (or the analyzer) can say what the peer offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// No security (RFC 23 §"The NULL Security Mechanism"): just READY each way.
    Null,
    /// User name and password in clear (RFC 24/ZMTP-PLAIN).
    Plain,
    /// Encryption and authentication (RFC 26/CurveZMQ).
    Curve,
    /// Kerberos (RFC 38/ZMTP-GSSAPI).
    Gssapi,
    /// Any other name, as sent (non-printable bytes escaped).
    Unknown(String),
}

impl Mechanism {
    pub fn as_str(&self) -> &str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
            Mechanism::Gssapi => "GSSAPI",
            Mechanism::Unknown(s) => s,
        }
    }

    /// Parse the 20-byte field: the name ends at the first NUL.
    pub fn from_field(field: &[u8]) -> Mechanism {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        match &field[..end] {
            b"NULL" => Mechanism::Null,
            b"PLAIN" => Mechanism::Plain,
            b"CURVE" => Mechanism::Curve,
            b"GSSAPI" => Mechanism::Gssapi,
            other => Mechanism::Unknown(crate::escape::show(other)),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A complete, validated greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// (major, minor): 3.0 or 3.1 for libzmq 4.x; a higher major is accepted (RFC 23: the peer with
    /// the higher version talks the lower one).
    pub version: (u8, u8),
    pub mechanism: Mechanism,
    pub as_server: bool,
}

impl Greeting {
    /// The greeting sister sends: ZMTP 3.1, NULL, not as-server (NULL ignores it; libzmq sends 0).
    pub fn null() -> Greeting {
        Greeting {
            version: super::VERSION,
            mechanism: Mechanism::Null,
            as_server: false,
        }
    }

    /// Decode a greeting from the front of `buf`; always uses 64 bytes.
    ///
    /// Checks each field as soon as it is present, so a peer that is not ZMTP at all (an HTTP client, a
    /// ZMTP 1.0/2.0 peer) is refused after its first bytes rather than after 64 that may never come.
    ///
    /// ```
    /// use wire::zmtp::{Greeting, Mechanism};
    /// let mut bytes = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    /// bytes.extend_from_slice(b"NULL");
    /// bytes.resize(64, 0);
    /// let (g, used) = Greeting::decode(&bytes).unwrap();
    /// assert_eq!((g.version, g.mechanism, used), ((3, 1), Mechanism::Null, 64));
    /// assert!(Greeting::decode(&bytes[..10]).unwrap_err().is_incomplete());
    /// ```
    pub fn decode(buf: &[u8]) -> Result<(Greeting, usize), DecodeError> {
        let partial = PartialGreeting::decode(buf)?;
        match partial.complete() {
            Some(g) => Ok((g, GREETING_LEN)),
            None => Err(DecodeError::needs(GREETING_LEN - buf.len().min(GREETING_LEN))),
        }
    }

    /// Append the 64 bytes of this greeting to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(0xff);
        out.put_bytes(0, 7);
        // The eighth padding byte: libzmq writes 1 here (ZMTP 2.0's "length 1" of an identity frame),
        // which is why captures show `ff 00 00 00 00 00 00 00 01 7f`. Receivers ignore the padding.
        out.put_u8(0x01);
        out.put_u8(0x7f);
        out.put_u8(self.version.0);
        out.put_u8(self.version.1);
        let name = self.mechanism.as_str().as_bytes();
        let n = name.len().min(MECHANISM_LEN);
        out.put_slice(&name[..n]);
        out.put_bytes(0, MECHANISM_LEN - n);
        out.put_u8(u8::from(self.as_server));
        out.put_bytes(0, 31);
    }

    /// The 64 bytes as a new array.
    pub fn to_bytes(&self) -> [u8; GREETING_LEN] {
        let mut v = Vec::with_capacity(GREETING_LEN);
        self.encode(&mut v);
        let mut out = [0u8; GREETING_LEN];
        out.copy_from_slice(&v[..GREETING_LEN]);
        out
    }
}

impl fmt::Display for Greeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GREETING ZMTP {}.{} mechanism {} as-server {}",
            self.version.0, self.version.1, self.mechanism, self.as_server as u8
        )
    }
}

/// The fields a prefix of a greeting already holds, each checked.
///
/// `len` is how many greeting bytes were seen (at most 64). A prefix of 10 bytes holds only the
/// signature; 11 adds the major version; 32 the mechanism; 33 the as-server flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialGreeting {
    pub len: usize,
    pub major: Option<u8>,
    pub minor: Option<u8>,
    pub mechanism: Option<Mechanism>,
    pub as_server: Option<bool>,
}

impl PartialGreeting {
    /// Check the greeting bytes at the front of `buf` (any length; bytes past 64 are not looked at).
    pub fn decode(buf: &[u8]) -> Result<PartialGreeting, DecodeError> {
        let buf = &buf[..buf.len().min(GREETING_LEN)];
        if let Some(&b) = buf.first() {
            if b != 0xff {
                return Err(DecodeError::invalid(format!(
                    "a ZMTP greeting starts with 0xff, this stream with 0x{b:02x} (RFC 23 §The Greeting: not a ZMTP peer?)"
                )));
            }
        }
        if let Some(&b) = buf.get(9) {
            if b & 0x01 == 0 {
                return Err(DecodeError::invalid(format!(
                    "signature byte 10 is 0x{b:02x}, bit 0 must be set (0x7f): a ZMTP 1.0 peer, which sister does not speak"
                )));
            }
        }
        let major = buf.get(10).copied();
        if let Some(m) = major {
            if m < 3 {
                return Err(DecodeError::invalid(format!(
                    "peer speaks ZMTP major version {m}; sister needs 3 (libzmq 4.x)"
                )));
            }
        }
        let mechanism = buf.get(12..32).map(Mechanism::from_field);
        let as_server = match buf.get(32) {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(b) => {
                return Err(DecodeError::invalid(format!(
                    "as-server must be 0 or 1, got {b} (RFC 23 §The Greeting)"
                )))
            }
        };
        Ok(PartialGreeting {
            len: buf.len(),
            major,
            minor: buf.get(11).copied(),
            mechanism,
            as_server,
        })
    }

    /// The whole greeting, once all 64 bytes were seen.
    pub fn complete(&self) -> Option<Greeting> {
        if self.len < GREETING_LEN {
            return None;
        }
        Some(Greeting {
            version: (self.major?, self.minor?),
            mechanism: self.mechanism.clone()?,
            as_server: self.as_server?,
        })
    }
}

impl fmt::Display for PartialGreeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(g) = self.complete() {
            return g.fmt(f);
        }
        write!(f, "GREETING (first {} of 64 bytes:", self.len)?;
        if self.len >= SIGNATURE_LEN {
            f.write_str(" signature")?;
        }
        if let Some(m) = self.major {
            write!(f, ", major {m}")?;
        }
        if let Some(m) = self.minor {
            write!(f, ", minor {m}")?;
        }
        if let Some(m) = &self.mechanism {
            write!(f, ", mechanism {m}")?;
        }
        if let Some(a) = self.as_server {
            write!(f, ", as-server {}", a as u8)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libzmq 4.3's greeting as captured (REQ side of zmq__daptong__zmq.pcap, frames 6 and 10).
    fn captured() -> Vec<u8> {
        let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f]; // signature (10 B segment)
        g.extend_from_slice(&[0x03, 0x01]); // version 3.1
        g.extend_from_slice(b"NULL"); // mechanism, padded to 20
        g.extend_from_slice(&[0; 16]);
        g.push(0); // as-server
        g.extend_from_slice(&[0; 31]); // filler
        g
    }

    #[test]
    fn decodes_the_captured_greeting() {
        let (g, used) = Greeting::decode(&captured()).unwrap();
        assert_eq!(used, 64);
        assert_eq!(g, Greeting::null());
        assert_eq!(g.to_string(), "GREETING ZMTP 3.1 mechanism NULL as-server 0");
    }

    #[test]
    fn encodes_the_same_bytes_libzmq_sends() {
        assert_eq!(Greeting::null().to_bytes().to_vec(), captured());
    }

    #[test]
    fn decodes_in_the_pieces_libzmq_sends() {
        let bytes = captured();
        // 10 B, then 11 B, then all: each prefix is valid and asks for the rest.
        for (len, want) in [(0, 64), (10, 54), (11, 53), (33, 31)] {
            assert_eq!(
                Greeting::decode(&bytes[..len]),
                Err(DecodeError::needs(want)),
                "prefix {len}"
            );
        }
        let p = PartialGreeting::decode(&bytes[..11]).unwrap();
        assert_eq!((p.major, p.minor, p.mechanism.clone()), (Some(3), None, None));
        assert_eq!(
            p.to_string(),
            "GREETING (first 11 of 64 bytes: signature, major 3)"
        );
        let p = PartialGreeting::decode(&bytes[..40]).unwrap();
        assert_eq!(p.mechanism, Some(Mechanism::Null));
    }

    #[test]
    fn refuses_non_zmtp_early() {
        assert!(matches!(
            Greeting::decode(b"GET / HTTP/1.1\r\n"),
            Err(DecodeError::Invalid(_))
        ));
        let mut zmtp1 = captured();
        zmtp1[9] = 0x7e;
        assert!(matches!(
            Greeting::decode(&zmtp1[..10]),
            Err(DecodeError::Invalid(_))
        ));
        let mut old = captured();
        old[10] = 2;
        assert!(matches!(
            Greeting::decode(&old[..11]),
            Err(DecodeError::Invalid(_))
        ));
        let mut bad_server = captured();
        bad_server[32] = 7;
        assert!(matches!(
            Greeting::decode(&bad_server),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn keeps_other_mechanisms() {
        for (name, m) in [
            (&b"PLAIN"[..], Mechanism::Plain),
            (b"CURVE", Mechanism::Curve),
            (b"GSSAPI", Mechanism::Gssapi),
            (b"X-MINE", Mechanism::Unknown("X-MINE".into())),
        ] {
            let mut g = captured();
            g[12..32].fill(0);
            g[12..12 + name.len()].copy_from_slice(name);
            let (got, _) = Greeting::decode(&g).unwrap();
            assert_eq!(got.mechanism, m);
            // And the round trip.
            assert_eq!(Greeting::decode(&got.to_bytes()).unwrap().0, got);
        }
    }
}
