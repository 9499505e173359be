//! sister's framing for the plain-TCP patterns (request/response, one-way, upcall).
//!
//! # Why a framing at all
//! TCP carries a *stream of bytes*, not messages. If a client calls `send(b"hello")` and then
//! `send(b"world")`, the server may read `helloworld` in one `recv`, or `hel` then `loworld`: the
//! boundaries the sender had in mind are not on the wire. The course's programs ignore this (each
//! `recv(1024)` is taken as one message), which works for short lines typed by hand and breaks for a
//! message over 1024 bytes or two messages sent back to back. Look at a capture: nothing in the TCP
//! segments marks where a message ends.
//!
//! # The framing
//! Between two sister peers every message travels as
//!
//! ```text
//!  0x01 | length (u32, big-endian) | payload (length bytes)
//!  SOH  |  4 bytes                 |
//! ```
//!
//! The receiver reads the 5-byte header, then exactly `length` bytes: one message, however TCP cut or
//! merged the segments. `0x01` is ASCII "Start Of Heading", made for this purpose, and no person types it,
//! so a sister server tells a framed peer from one of the course's raw peers by the first byte it
//! receives (see [`Mode::detect`]); the course's `client.py` keeps working unchanged, one read per message.
//!
//! A sister *client* talking to the course's `server.py` sends its first message framed; that server
//! echoes it raw (`Echo: \x01\0\0\0\x05hello`), the client sees a reply that does not start with `0x01`,
//! strips its own header from it and continues in raw mode. On the course server's terminal the header
//! bytes are control characters, which terminals do not show.
//!
//! # Limits of the fallback
//! - A one-way client gets no reply to detect the course's server from: use `--raw` against it.
//! - The course's server reads 1024 bytes at a time: a first message longer than about 1000 bytes reaches
//!   it in pieces and the echoed header cannot be recognised. Against the course's programs, keep
//!   messages short, as the course's own clients do.

use crate::DecodeError;

/// The first byte of every sister frame: ASCII SOH, "Start Of Heading".
pub const SOH: u8 = 0x01;
/// Header length: SOH plus the 4-byte length.
pub const HEADER_LEN: usize = 5;
/// Default largest payload a peer may announce (16 MiB): a bound so a hostile or broken length field
/// cannot make us allocate gigabytes.
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// How one connection delimits its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// sister framing: [`SOH`] + length + payload.
    Framed,
    /// The course's convention: whatever one `recv` returned is one message.
    Raw,
}

impl Mode {
    /// Decide from the first byte a peer sent.
    pub fn detect(first_byte: u8) -> Mode {
        if first_byte == SOH {
            Mode::Framed
        } else {
            Mode::Raw
        }
    }
}

/// Decode one frame from the front of `buf`.
///
/// Returns the payload (borrowed from `buf`) and the number of bytes the whole frame used.
///
/// ```
/// let bytes = [0x01, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o', 0x01];
/// let (payload, used) = wire::frame::decode(&bytes, 1024).unwrap();
/// assert_eq!((payload, used), (&b"hello"[..], 10));
/// ```
pub fn decode(buf: &[u8], max_payload: usize) -> Result<(&[u8], usize), DecodeError> {
    let Some(&first) = buf.first() else {
        return Err(DecodeError::needs(HEADER_LEN));
    };
    if first != SOH {
        return Err(DecodeError::invalid(format!(
            "a sister frame starts with 0x01 (SOH), this one with 0x{first:02x}"
        )));
    }
    let Some(len_bytes) = buf.get(1..HEADER_LEN) else {
        return Err(DecodeError::needs(HEADER_LEN - buf.len()));
    };
    let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    if len > max_payload {
        return Err(DecodeError::invalid(format!(
            "frame announces {len} bytes, more than the limit of {max_payload}"
        )));
    }
    let end = HEADER_LEN + len;
    match buf.get(HEADER_LEN..end) {
        Some(payload) => Ok((payload, end)),
        None => Err(DecodeError::needs(end - buf.len())),
    }
}

/// Append one frame carrying `payload` to `out`.
///
/// Fails only when the payload is longer than a u32 can say (4 GiB).
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameTooLong> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameTooLong(payload.len()))?;
    out.reserve(HEADER_LEN + payload.len());
    out.push(SOH);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Convenience: one frame as a new vector.
pub fn encode_to_vec(payload: &[u8]) -> Result<Vec<u8>, FrameTooLong> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    encode(payload, &mut out)?;
    Ok(out)
}

/// A payload too long for the 32-bit length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frame payload of {0} bytes does not fit the 32-bit length field")]
pub struct FrameTooLong(pub usize);

/// If a raw peer echoed our framed message back inside its reply (`Echo: ` + our frame), remove our
/// header so the reply reads as the course's server meant it. Returns the reply unchanged otherwise.
///
/// ```
/// let sent = wire::frame::encode_to_vec(b"hello").unwrap();
/// let mut reply = b"Echo: ".to_vec();
/// reply.extend_from_slice(&sent);
/// assert_eq!(wire::frame::strip_echoed_header(&reply, b"hello"), b"Echo: hello");
/// ```
pub fn strip_echoed_header(reply: &[u8], payload: &[u8]) -> Vec<u8> {
    let Ok(header) = encode_to_vec(payload) else {
        return reply.to_vec();
    };
    let header = &header[..HEADER_LEN];
    match reply.windows(HEADER_LEN).position(|w| w == header) {
        Some(at) => {
            let mut out = reply[..at].to_vec();
            out.extend_from_slice(&reply[at + HEADER_LEN..]);
            out
        }
        None => reply.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "hello" as a frame: SOH, length 5, the five bytes.
    const HELLO: [u8; 10] = [0x01, 0x00, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o'];

    #[test]
    fn decodes_a_known_frame() {
        assert_eq!(decode(&HELLO, 64), Ok((&b"hello"[..], 10)));
    }

    #[test]
    fn encodes_the_same_frame() {
        assert_eq!(encode_to_vec(b"hello").unwrap(), HELLO);
    }

    #[test]
    fn round_trips_empty_and_large_payloads() {
        for payload in [vec![], vec![0xff; 1 << 20]] {
            let bytes = encode_to_vec(&payload).unwrap();
            assert_eq!(
                decode(&bytes, DEFAULT_MAX_PAYLOAD),
                Ok((&payload[..], bytes.len()))
            );
        }
    }

    #[test]
    fn two_frames_back_to_back_stay_two() {
        let mut bytes = HELLO.to_vec();
        bytes.extend_from_slice(&encode_to_vec(b"world").unwrap());
        let (first, used) = decode(&bytes, 64).unwrap();
        let (second, used2) = decode(&bytes[used..], 64).unwrap();
        assert_eq!(
            (first, second, used + used2),
            (&b"hello"[..], &b"world"[..], bytes.len())
        );
    }

    #[test]
    fn truncated_input_asks_for_more() {
        assert_eq!(decode(&[], 64), Err(DecodeError::needs(5)));
        assert_eq!(decode(&HELLO[..3], 64), Err(DecodeError::needs(2)));
        assert_eq!(decode(&HELLO[..7], 64), Err(DecodeError::needs(3)));
    }

    #[test]
    fn oversized_and_foreign_frames_are_invalid() {
        assert!(matches!(decode(&HELLO, 4), Err(DecodeError::Invalid(_))));
        assert!(matches!(decode(b"hello", 64), Err(DecodeError::Invalid(_))));
        assert!(matches!(
            decode(&[0x01, 0xff, 0xff, 0xff, 0xff], DEFAULT_MAX_PAYLOAD),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn detects_the_mode_from_the_first_byte() {
        assert_eq!(Mode::detect(0x01), Mode::Framed);
        assert_eq!(Mode::detect(b'h'), Mode::Raw);
    }

    #[test]
    fn strip_leaves_foreign_replies_alone() {
        assert_eq!(strip_echoed_header(b"Echo: hi", b"hi"), b"Echo: hi");
    }
}
