//! ZMTP commands: the frames with the COMMAND flag (RFC 23 §"Commands", RFC 37 for the 3.1 ones).
//!
//! ```text
//!  command body = name-size (1 B) | name (ASCII) | data
//!
//!  READY      metadata: properties  name-size (1 B) | name | value-size (4 B, BE) | value
//!  ERROR      reason-size (1 B) | reason               (ends the connection)
//!  SUBSCRIBE  the topic prefix (3.1; in 3.0 it is a message starting with byte 1)
//!  CANCEL     the topic prefix (3.1; in 3.0 a message starting with byte 0)
//!  PING       ttl (2 B, BE, tenths of a second) | context (0..16 B)   (3.1 heartbeats)
//!  PONG       the context of the PING it answers
//! ```
//!
//! What to notice: with the NULL mechanism the whole handshake is one READY each way. The course's REQ
//! sends `04 26 05 "READY" 0b "Socket-Type" 00 00 00 03 "REQ" 08 "Identity" 00 00 00 00`: its type, and
//! an empty identity (it lets the REP's router logic name it).

use std::fmt;

use bytes::BufMut;

use super::frame::put_header;
use super::SocketType;
use crate::DecodeError;

/// The ping context is at most 16 bytes (RFC 37 §"The PING Command").
pub const MAX_PING_CONTEXT: usize = 16;

/// One command, borrowing from the frame body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// The NULL (and PLAIN/CURVE) handshake's last step: the sender's metadata.
    Ready(Metadata<'a>),
    /// A fatal error; the sender closes the connection after it.
    Error { reason: &'a [u8] },
    /// A SUB's subscription to every message whose first frame starts with this prefix (3.1).
    Subscribe(&'a [u8]),
    /// Withdraws one earlier subscription with the same prefix (3.1).
    Cancel(&'a [u8]),
    /// A heartbeat; the peer answers PONG with the same context. `ttl` is in tenths of a second.
    Ping { ttl: u16, context: &'a [u8] },
    /// The answer to a PING.
    Pong { context: &'a [u8] },
    /// Any other command (a security mechanism's HELLO/WELCOME/INITIATE, or a future one): kept.
    Unknown { name: &'a [u8], data: &'a [u8] },
}

impl<'a> Command<'a> {
    /// Decode a command from a COMMAND frame's body (the frame header already removed).
    ///
    /// ```
    /// use wire::zmtp::Command;
    /// // Frame 61 of the course's capture, body only: the SUB's subscription.
    /// let body = b"\x09SUBSCRIBEWAKTU";
    /// assert_eq!(Command::decode(body).unwrap(), Command::Subscribe(b"WAKTU"));
    /// ```
    pub fn decode(body: &'a [u8]) -> Result<Command<'a>, DecodeError> {
        let Some((&name_len, rest)) = body.split_first() else {
            return Err(DecodeError::invalid(
                "empty command frame (RFC 23 §Commands: a command has a name)",
            ));
        };
        let name_len = usize::from(name_len);
        if name_len == 0 {
            return Err(DecodeError::invalid(
                "command name of length 0 (RFC 23 §Commands)",
            ));
        }
        let Some(name) = rest.get(..name_len) else {
            return Err(DecodeError::invalid(format!(
                "command name of {name_len} bytes does not fit a {} byte frame",
                body.len()
            )));
        };
        let data = &rest[name_len..];
        Ok(match name {
            b"READY" => Command::Ready(Metadata::decode(data)?),
            b"ERROR" => {
                let Some((&n, reason)) = data.split_first() else {
                    return Err(DecodeError::invalid(
                        "ERROR without its reason size (RFC 23 §The ERROR Command)",
                    ));
                };
                let Some(reason) = reason.get(..usize::from(n)) else {
                    return Err(DecodeError::invalid(format!(
                        "ERROR reason announces {n} bytes, the frame holds {}",
                        reason.len()
                    )));
                };
                Command::Error { reason }
            }
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            b"PING" => {
                let Some(ttl) = data.get(..2) else {
                    return Err(DecodeError::invalid(
                        "PING shorter than its 2-byte TTL (RFC 37 §The PING Command)",
                    ));
                };
                let context = &data[2..];
                if context.len() > MAX_PING_CONTEXT {
                    return Err(DecodeError::invalid(format!(
                        "PING context of {} bytes, at most {MAX_PING_CONTEXT} allowed (RFC 37)",
                        context.len()
                    )));
                }
                Command::Ping {
                    ttl: u16::from_be_bytes([ttl[0], ttl[1]]),
                    context,
                }
            }
            b"PONG" => Command::Pong { context: data },
            _ => Command::Unknown { name, data },
        })
    }

    /// The command's name as on the wire.
    pub fn name(&self) -> &'a [u8] {
        match self {
            Command::Ready(_) => b"READY",
            Command::Error { .. } => b"ERROR",
            Command::Subscribe(_) => b"SUBSCRIBE",
            Command::Cancel(_) => b"CANCEL",
            Command::Ping { .. } => b"PING",
            Command::Pong { .. } => b"PONG",
            Command::Unknown { name, .. } => name,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Command::Ready(m) => m.raw.len(),
            Command::Error { reason } => 1 + reason.len().min(255),
            Command::Subscribe(t) | Command::Cancel(t) => t.len(),
            Command::Ping { context, .. } => 2 + context.len(),
            Command::Pong { context } => context.len(),
            Command::Unknown { data, .. } => data.len(),
        }
    }

    /// Append this command as a whole frame (header included) to `out`.
    ///
    /// An ERROR reason longer than 255 bytes is cut to 255 (its size field is one byte); a name over
    /// 255 bytes (only possible for `Unknown`) is cut likewise.
    pub fn encode(&self, out: &mut impl BufMut) {
        let name = self.name();
        let name = &name[..name.len().min(255)];
        put_header(out, 1 + name.len() + self.data_len(), false, true);
        out.put_u8(name.len() as u8);
        out.put_slice(name);
        match self {
            Command::Ready(m) => out.put_slice(m.raw),
            Command::Error { reason } => {
                let r = &reason[..reason.len().min(255)];
                out.put_u8(r.len() as u8);
                out.put_slice(r);
            }
            Command::Subscribe(t) | Command::Cancel(t) => out.put_slice(t),
            Command::Ping { ttl, context } => {
                out.put_u16(*ttl);
                out.put_slice(context);
            }
            Command::Pong { context } => out.put_slice(context),
            Command::Unknown { data, .. } => out.put_slice(data),
        }
    }
}

/// Append a READY command frame carrying `properties` (name, value) to `out`.
///
/// ```
/// let mut out = Vec::new();
/// wire::zmtp::command::encode_ready(&mut out, &[("Socket-Type", b"REP")]);
/// assert_eq!(out, b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03REP");
/// ```
pub fn encode_ready(out: &mut impl BufMut, properties: &[(&str, &[u8])]) {
    let meta_len: usize = properties
        .iter()
        .map(|(n, v)| 1 + n.len().min(255) + 4 + v.len())
        .sum();
    put_header(out, 1 + 5 + meta_len, false, true);
    out.put_u8(5);
    out.put_slice(b"READY");
    for (name, value) in properties {
        let name = &name.as_bytes()[..name.len().min(255)];
        out.put_u8(name.len() as u8);
        out.put_slice(name);
        out.put_u32(value.len() as u32);
        out.put_slice(value);
    }
}

/// The metadata of a READY command: a validated run of properties, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    raw: &'a [u8],
}

/// One metadata property (RFC 23 §"The READY Command"): names are case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

impl<'a> Metadata<'a> {
    /// Check that `raw` is a sequence of well-formed properties.
    pub fn decode(raw: &'a [u8]) -> Result<Metadata<'a>, DecodeError> {
        let mut rest = raw;
        while !rest.is_empty() {
            let (_, used) = property(rest)?;
            rest = &rest[used..];
        }
        Ok(Metadata { raw })
    }

    /// The properties in order.
    pub fn iter(&self) -> impl Iterator<Item = Property<'a>> + 'a {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            // Validated in `decode`; a failure here just ends the iteration.
            let (p, used) = property(rest).ok()?;
            rest = &rest[used..];
            Some(p)
        })
    }

    /// The value of property `name` (compared without regard to case).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value)
    }

    /// The peer's `Socket-Type`, if it sent one (every ZMTP 3 peer must).
    pub fn socket_type(&self) -> Option<SocketType> {
        self.get("Socket-Type").map(SocketType::from_bytes)
    }

    /// The peer's `Identity` (REQ, DEALER and ROUTER send one, usually empty).
    pub fn identity(&self) -> Option<&'a [u8]> {
        self.get("Identity")
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

fn property(buf: &[u8]) -> Result<(Property<'_>, usize), DecodeError> {
    let bad =
        |what: &str| DecodeError::invalid(format!("READY metadata: {what} (RFC 23 §The READY Command)"));
    let (&n, rest) = buf.split_first().ok_or_else(|| bad("empty property"))?;
    let n = usize::from(n);
    if n == 0 {
        return Err(bad("property name of length 0"));
    }
    let name = rest
        .get(..n)
        .ok_or_else(|| bad("property name runs past the frame"))?;
    let rest = &rest[n..];
    let len = rest
        .get(..4)
        .ok_or_else(|| bad("property value size runs past the frame"))?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let value = rest
        .get(4..4usize.saturating_add(len))
        .ok_or_else(|| bad("property value runs past the frame"))?;
    Ok((Property { name, value }, 1 + n + 4 + len))
}

impl fmt::Display for Metadata<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for p in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(
                f,
                "{}=\"{}\"",
                crate::escape::show(p.name),
                crate::escape::show(p.value)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Command<'_> {
    /// `READY Socket-Type="REQ" Identity=""`, `SUBSCRIBE "WAKTU"`, `PING ttl 3.0 s context ""`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::show;
        match self {
            Command::Ready(m) => write!(f, "READY {m}"),
            Command::Error { reason } => write!(f, "ERROR \"{}\"", show(reason)),
            Command::Subscribe(t) => write!(f, "SUBSCRIBE \"{}\"", show(t)),
            Command::Cancel(t) => write!(f, "CANCEL \"{}\"", show(t)),
            Command::Ping { ttl, context } => write!(
                f,
                "PING ttl {}.{} s context \"{}\"",
                ttl / 10,
                ttl % 10,
                show(context)
            ),
            Command::Pong { context } => write!(f, "PONG context \"{}\"", show(context)),
            Command::Unknown { name, data } => {
                write!(f, "COMMAND {} ({} B of data)", show(name), data.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zmtp::frame::{Frame, FrameKind};

    /// Frame 14 of zmq__daptong__zmq.pcap, the REQ's READY (whole frame, header included).
    const REQ_READY: &[u8] =
        b"\x04\x26\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ\x08Identity\x00\x00\x00\x00";
    /// Frame 12, the REP's READY.
    const REP_READY: &[u8] = b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03REP";
    /// The tail of frame 61: the SUB's SUBSCRIBE.
    const SUBSCRIBE: &[u8] = b"\x04\x0f\x09SUBSCRIBEWAKTU";

    fn command(frame: &[u8]) -> Command<'_> {
        let (f, used) = Frame::decode(frame, 1024).unwrap();
        assert_eq!((f.kind, used), (FrameKind::Command, frame.len()));
        f.command().unwrap().unwrap()
    }

    #[test]
    fn decodes_the_captured_readies() {
        let Command::Ready(m) = command(REQ_READY) else {
            panic!("not READY")
        };
        assert_eq!(m.socket_type(), Some(SocketType::Req));
        assert_eq!(m.identity(), Some(&b""[..]));
        assert_eq!(
            m.get("socket-type"),
            Some(&b"REQ"[..]),
            "names are case-insensitive"
        );
        assert_eq!(
            Command::Ready(m).to_string(),
            "READY Socket-Type=\"REQ\" Identity=\"\""
        );
        let Command::Ready(m) = command(REP_READY) else {
            panic!("not READY")
        };
        assert_eq!(m.socket_type(), Some(SocketType::Rep));
        assert_eq!(command(SUBSCRIBE), Command::Subscribe(b"WAKTU"));
    }

    #[test]
    fn encodes_the_captured_readies() {
        let mut out = Vec::new();
        encode_ready(&mut out, &[("Socket-Type", b"REQ"), ("Identity", b"")]);
        assert_eq!(out, REQ_READY);
        let mut out = Vec::new();
        Command::Subscribe(b"WAKTU").encode(&mut out);
        assert_eq!(out, SUBSCRIBE);
    }

    #[test]
    fn every_command_round_trips() {
        let meta = b"\x0bSocket-Type\x00\x00\x00\x03PUB";
        for c in [
            Command::Ready(Metadata::decode(meta).unwrap()),
            Command::Ready(Metadata::decode(b"").unwrap()),
            Command::Error {
                reason: b"invalid socket type",
            },
            Command::Subscribe(b""),
            Command::Cancel(b"WAKTU"),
            Command::Ping {
                ttl: 30,
                context: b"abc",
            },
            Command::Pong { context: b"abc" },
            Command::Unknown {
                name: b"HELLO",
                data: &[1, 2, 3],
            },
        ] {
            let mut out = Vec::new();
            c.encode(&mut out);
            assert_eq!(command(&out), c, "{c}");
        }
        assert_eq!(
            Command::Ping {
                ttl: 30,
                context: b""
            }
            .to_string(),
            "PING ttl 3.0 s context \"\""
        );
    }

    #[test]
    fn long_command_frames_are_used_when_needed() {
        let topic = vec![b't'; 300];
        let mut out = Vec::new();
        Command::Subscribe(&topic).encode(&mut out);
        assert_eq!(out[0], 0x06, "COMMAND | LONG");
        assert_eq!(command(&out), Command::Subscribe(&topic));
    }

    #[test]
    fn broken_commands_are_invalid() {
        for body in [
            &b""[..],
            b"\x00",
            b"\x09SUBSCR",                                  // name runs past the body
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x09REQ", // value runs past
            b"\x05READY\x00",                               // empty property name
            b"\x05ERROR",                                   // no reason size
            b"\x05ERROR\x05abc",                            // reason runs past
            b"\x04PING\x00",                                // TTL cut
            b"\x04PING\x00\x0112345678901234567",           // context of 17
        ] {
            assert!(
                matches!(Command::decode(body), Err(DecodeError::Invalid(_))),
                "{body:?}"
            );
        }
    }
}
