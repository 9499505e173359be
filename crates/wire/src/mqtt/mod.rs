//! MQTT 3.1, 3.1.1 and 5.0: every packet, as bytes and back.
//!
//! MQTT is a publish/subscribe protocol over TCP. A client CONNECTs to a broker, PUBLISHes messages to
//! *topics* (`sister/temp`) and SUBSCRIBEs to *topic filters* (`sister/#`); the broker forwards every
//! message to every client whose filter matches its topic. Publisher and subscriber never know of each
//! other: the only address in the system is the topic name.
//!
//! # Every packet has the same frame (MQTT 3.1.1 §2.2, 5.0 §2.1)
//!
//! ```text
//!   byte 1          bits 7-4: packet type (1 CONNECT .. 15 AUTH)   bits 3-0: flags
//!   bytes 2..5      remaining length: a Variable Byte Integer, 1 to 4 bytes, 7 bits each,
//!                   low group first, bit 7 = "another byte follows" (max 268,435,455)
//!   then            exactly "remaining length" bytes: variable header, then payload
//! ```
//!
//! That is how a reader cuts a TCP stream into packets: one type byte, a length, the body
//! ([`Decoder::frame`] does only that). The flags are fixed for every type but PUBLISH (§2.2.2): `0010` for PUBREL,
//! SUBSCRIBE and UNSUBSCRIBE, `0000` for the rest; other values make the packet malformed. PUBLISH uses
//! them for DUP, QoS and RETAIN.
//!
//! | type | packet      | direction | file |
//! |------|-------------|-----------|------|
//! | 1    | CONNECT     | c -> s    | [`connect`] |
//! | 2    | CONNACK     | s -> c    | [`connect`] |
//! | 3    | PUBLISH     | both      | [`publish`] |
//! | 4-7  | PUBACK, PUBREC, PUBREL, PUBCOMP | both | [`ack`] |
//! | 8-11 | SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK | c <-> s | [`subscribe`] |
//! | 12   | PINGREQ     | c -> s    | no body: `c0 00` |
//! | 13   | PINGRESP    | s -> c    | no body: `d0 00` |
//! | 14   | DISCONNECT  | c -> s (5.0: both) | [`disconnect`] |
//! | 15   | AUTH        | both, 5.0 only | [`disconnect`] |
//!
//! Strings are UTF-8 with a two-byte length (§1.5.3: well-formed, no U+0000, at most 65,535 bytes);
//! 5.0 adds [`Properties`] after the variable header of most packets and [`ReasonCode`]s to the
//! acknowledgements. Topic names, filters and matching (`+`, `#`, `$SYS`, `$share`) are in [`topic`];
//! following a stream's version and recognising an MQTT stream by its first bytes, in [`stream`].
//!
//! # Using the codec
//!
//! ```
//! use wire::mqtt::{self, Packet, Publish, Version};
//!
//! let mut buf = Vec::new();
//! let msg = Packet::Publish(Publish::new("sister/temp", "Suhu: 28°C"));
//! mqtt::encode(&msg, Version::V3_1_1, &mut buf).unwrap();
//! assert_eq!(&buf[..4], &[0x30, 24, 0x00, 11]); // PUBLISH QoS 0, 24 bytes follow, topic of 11
//!
//! let mut decoder = mqtt::Decoder::with_version(Version::V3_1_1);
//! let (decoded, used) = decoder.decode(&buf).unwrap();
//! assert_eq!((decoded, used), (msg, buf.len()));
//! assert!(decoder.decode(&buf[..10]).unwrap_err().is_incomplete());
//! ```
//!
//! The entry points:
//! - [`Decoder`], the one way to decode, used by the broker, the clients and the analyzer: one
//!   stream's version (followed from its CONNECT, or guessed for a capture that missed it) and its
//!   Maximum Packet Size, checked from the fixed header. `decode` from a `&[u8]`, `decode_bytes`
//!   from a [`Bytes`] without copying payloads, `decode_from` a read buffer, `frame` only frames.
//!   Its errors are MQTT's own [`Error`]: `Incomplete` (read more) or why the bytes are not MQTT,
//!   with the 5.0 reason code to close with; `From<Error>` gives the crate-wide [`DecodeError`];
//! - [`encode`] into any `BufMut` (`Vec<u8>`, `BytesMut`), [`Packet::to_vec`], [`Packet::encoded_len`];
//! - [`sniff`]: is this the start of an MQTT stream (a CONNECT, or a CONNACK)?
//! - `Display` on [`Packet`]: one line per packet (`PUBLISH topic=sister/temp qos=0 payload="Suhu:
//!   28°C" (11 bytes)`), as the logs, `sister mqtt pub -d` and the analyzer print it.
//!
//! The version matters after CONNECT: 5.0 packets carry properties where 3.1.1 packets carry none, so
//! the same bytes read differently. A CONNECT says its own version (its protocol level: 3, 4 or 5) and is
//! decoded whatever the decoder's version; the decoder follows it from then on.
//!
//! # Ownership (why `Packet` is owned, not borrowed)
//!
//! Decoded packets own their data: strings as `String`, payloads and binary fields as [`bytes::Bytes`].
//! A broker keeps and forwards what it decodes (one PUBLISH to fifty subscribers clones a `Bytes`,
//! which shares one buffer), so a borrowing `Packet<'a>` would have to be converted at once anyway.
//! [`Decoder::decode`] copies payloads out of the `&[u8]` it is given; [`Decoder::decode_bytes`] and
//! [`Decoder::decode_from`] slice them out of a `Bytes` without copying, for a reader that owns its
//! input (the client's read buffer). See ARCHITECTURE.md.

pub mod ack;
pub mod codec;
pub mod connect;
pub mod disconnect;
mod error;
pub mod properties;
pub mod publish;
pub mod stream;
pub mod subscribe;
pub mod topic;
mod types;

use std::fmt;

use bytes::{BufMut, Bytes};

pub use ack::Ack;
pub use connect::{ConnAck, Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use error::{EncodeError, Error};
pub use properties::{Properties, UnknownProperty};
pub use publish::Publish;
pub use stream::{sniff, Decoder, Side};
pub use subscribe::{SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe};
pub use types::{QoS, ReasonCode, RetainHandling, SubscriptionOptions, Version};

#[cfg(doc)]
use crate::DecodeError;
use codec::{Reader, VarInt};

/// The largest packet MQTT can express: 1 type byte, 4 length bytes, 268,435,455 bytes of body.
pub const MAX_PACKET_SIZE: usize = 1 + 4 + codec::MAX_VARINT as usize;

/// The well-known port of MQTT over plain TCP (IANA; MQTT 3.1.1 §4.2).
pub const PORT: u16 = 1883;

/// The 4-bit packet type of the fixed header (MQTT 3.1.1 §2.2.1, 5.0 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// The type in bits 7-4 of the first byte; 0 is reserved (malformed).
    pub fn from_nibble(n: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match n {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The spec's name, upper case as in the spec and in Wireshark.
    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// The flags every packet of this type must carry (MQTT 3.1.1 §2.2.2); `None` for PUBLISH, whose
    /// flags are DUP, QoS and RETAIN.
    pub fn fixed_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One MQTT control packet, any of the 15 types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Boxed: a CONNECT is large (two property blocks) and rare, and every other packet would pay
    /// its size otherwise.
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The properties of the packet (`None` for PINGREQ and PINGRESP, which have none).
    pub fn properties(&self) -> Option<&Properties> {
        Some(match self {
            Packet::Connect(p) => &p.properties,
            Packet::ConnAck(p) => &p.properties,
            Packet::Publish(p) => &p.properties,
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => &p.properties,
            Packet::Subscribe(p) => &p.properties,
            Packet::SubAck(p) => &p.properties,
            Packet::Unsubscribe(p) => &p.properties,
            Packet::UnsubAck(p) => &p.properties,
            Packet::PingReq | Packet::PingResp => return None,
            Packet::Disconnect(p) => &p.properties,
            Packet::Auth(p) => &p.properties,
        })
    }

    /// The version a packet is written in: a CONNECT's own, otherwise `version`.
    fn effective_version(&self, version: Version) -> Version {
        match self {
            Packet::Connect(c) => c.version,
            _ => version,
        }
    }

    /// The remaining length: the bytes after the fixed header.
    pub fn body_len(&self, version: Version) -> usize {
        let version = self.effective_version(version);
        match self {
            Packet::Connect(p) => p.body_len(),
            Packet::ConnAck(p) => p.body_len(version),
            Packet::Publish(p) => p.body_len(version),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(version)
            }
            Packet::Subscribe(p) => p.body_len(version),
            Packet::SubAck(p) => p.body_len(version),
            Packet::Unsubscribe(p) => p.body_len(version),
            Packet::UnsubAck(p) => p.body_len(version),
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.body_len(version),
            Packet::Auth(p) => p.body_len(),
        }
    }

    /// The whole packet's size on the wire, fixed header included (what 5.0's Maximum Packet Size
    /// limits, §3.1.2.11.4).
    pub fn encoded_len(&self, version: Version) -> usize {
        let body = self.body_len(version);
        1 + codec::varint_len(body) + body
    }

    /// Encode into a new vector.
    pub fn to_vec(&self, version: Version) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len(version));
        encode(self, version, &mut out)?;
        Ok(out)
    }

    /// The version-independent validity checks done before anything is written.
    fn check_encodable(&self, version: Version) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(p) => p.check(),
            Packet::Publish(p) => p.check(version),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                check_packet_id(a.packet_id)?;
                a.properties.check()
            }
            Packet::Subscribe(p) => p.check(),
            Packet::Unsubscribe(p) => p.check(),
            Packet::SubAck(p) => {
                check_packet_id(p.packet_id)?;
                p.properties.check()
            }
            Packet::UnsubAck(p) => {
                check_packet_id(p.packet_id)?;
                p.properties.check()
            }
            Packet::ConnAck(p) => p.properties.check(),
            Packet::Disconnect(p) => p.properties.check(),
            Packet::Auth(p) => {
                if !version.is_v5() {
                    return Err(EncodeError::NotInVersion {
                        packet: "AUTH",
                        version,
                    });
                }
                p.properties.check()
            }
            Packet::PingReq | Packet::PingResp => Ok(()),
        }
    }
}

/// Read the fixed header at the front of `buf` (MQTT 3.1.1 §2.2, 5.0 §2.1): the packet type, where
/// the body starts and where the packet ends (whether or not that many bytes are there yet).
/// `Malformed`: a reserved type, flags its type forbids, a remaining length longer than 4 bytes.
/// `TooLarge`: the packet is over `max_size`, known before its body is buffered.
#[inline]
fn frame(buf: &[u8], max_size: usize) -> Result<(PacketType, usize, usize), Error> {
    let Some(&first) = buf.first() else {
        return Err(Error::Incomplete { needed: Some(2) });
    };
    let kind = check_first_byte(first)?;
    let (len, len_bytes) = match codec::read_varint(&buf[1..])? {
        VarInt::Incomplete => return Err(Error::Incomplete { needed: None }),
        VarInt::Value(len, used) => (len as usize, used),
    };
    let total = 1 + len_bytes + len;
    if total > max_size {
        return Err(Error::TooLarge {
            size: total,
            max: max_size,
        });
    }
    Ok((kind, 1 + len_bytes, total))
}

/// The packet type and the §2.2.2 flag rules, from the first byte alone.
fn check_first_byte(first: u8) -> Result<PacketType, Error> {
    let nibble = first >> 4;
    let flags = first & 0x0f;
    let Some(kind) = PacketType::from_nibble(nibble) else {
        return Err(Error::malformed(format!(
            "packet type 0 is reserved (first byte 0x{first:02x}; MQTT 3.1.1 §2.2.1)"
        )));
    };
    if let Some(required) = kind.fixed_flags() {
        if flags != required {
            return Err(Error::malformed(format!(
                "{kind} must have flags {required:04b}, this one has {flags:04b} (MQTT 3.1.1 §2.2.2)"
            )));
        }
    }
    Ok(kind)
}

/// Decode one packet from the front of `buf` in `version`, refusing any packet larger than
/// `max_size` bytes (fixed header included) from its fixed header. `shared`: `buf` as a [`Bytes`],
/// to slice payloads and binary fields from instead of copying them. Only [`Decoder`] calls this:
/// it knows the version and the limit.
#[inline]
fn decode_packet(
    buf: &[u8],
    shared: Option<&Bytes>,
    version: Version,
    max_size: usize,
) -> Result<(Packet, usize), Error> {
    let (kind, start, total) = frame(buf, max_size)?;
    if buf.len() < total {
        return Err(Error::Incomplete {
            needed: Some(total - buf.len()),
        });
    }
    let len = total - start;
    let body = match shared {
        Some(b) => Reader::shared(b, start, total),
        None => Reader::new(&buf[start..total]),
    };
    let first = buf[0];
    let flags = first & 0x0f;
    let packet = match kind {
        PacketType::Connect => Packet::Connect(Box::new(Connect::read(body)?)),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::read(body, version)?),
        PacketType::Publish => Packet::Publish(Publish::read(flags, body, version)?),
        PacketType::PubAck => Packet::PubAck(Ack::read(body, version, "PUBACK")?),
        PacketType::PubRec => Packet::PubRec(Ack::read(body, version, "PUBREC")?),
        PacketType::PubRel => Packet::PubRel(Ack::read(body, version, "PUBREL")?),
        PacketType::PubComp => Packet::PubComp(Ack::read(body, version, "PUBCOMP")?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::read(body, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::read(body, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(body, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(body, version)?),
        PacketType::PingReq | PacketType::PingResp => {
            if !body.is_empty() {
                return Err(Error::malformed(format!(
                    "{kind} has a body of {len} bytes; its remaining length must be 0 (MQTT 3.1.1 §3.12)"
                )));
            }
            if kind == PacketType::PingReq {
                Packet::PingReq
            } else {
                Packet::PingResp
            }
        }
        PacketType::Disconnect => Packet::Disconnect(Disconnect::read(body, version)?),
        PacketType::Auth => {
            if !version.is_v5() {
                return Err(Error::malformed(
                    "packet type 15 (AUTH) exists only in MQTT 5.0; in 3.1.1 it is reserved",
                ));
            }
            Packet::Auth(Auth::read(body)?)
        }
    };
    Ok((packet, total))
}

/// Append `packet` to `out` as MQTT `version` would send it (a CONNECT uses its own version).
/// Returns the number of bytes written. Nothing is written when it fails.
pub fn encode(packet: &Packet, version: Version, out: &mut impl BufMut) -> Result<usize, EncodeError> {
    let version = packet.effective_version(version);
    packet.check_encodable(version)?;
    let body = packet.body_len(version);
    if body > codec::MAX_VARINT as usize {
        return Err(EncodeError::TooLong(body));
    }
    let kind = packet.packet_type();
    let flags = match packet {
        Packet::Publish(p) => p.flags(),
        _ => kind.fixed_flags().unwrap_or(0),
    };
    out.put_u8(((kind as u8) << 4) | flags);
    codec::write_varint(out, body);
    match packet {
        Packet::Connect(p) => p.write(out),
        Packet::ConnAck(p) => p.write(version, out),
        Packet::Publish(p) => p.write(version, out),
        Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
            p.write(version, out)
        }
        Packet::Subscribe(p) => p.write(version, out),
        Packet::SubAck(p) => p.write(version, out),
        Packet::Unsubscribe(p) => p.write(version, out),
        Packet::UnsubAck(p) => p.write(version, out),
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(p) => p.write(version, out),
        Packet::Auth(p) => p.write(out),
    }
    Ok(1 + codec::varint_len(body) + body)
}

impl fmt::Display for Packet {
    /// One line, the same in the logs and in `sister analyze`: the type and what matters in it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Packet::Connect(p) => p.fmt(f),
            Packet::ConnAck(p) => p.fmt(f),
            Packet::Publish(p) => p.fmt(f),
            Packet::PubAck(a) => a.fmt_as("PUBACK", f),
            Packet::PubRec(a) => a.fmt_as("PUBREC", f),
            Packet::PubRel(a) => a.fmt_as("PUBREL", f),
            Packet::PubComp(a) => a.fmt_as("PUBCOMP", f),
            Packet::Subscribe(p) => p.fmt(f),
            Packet::SubAck(p) => p.fmt(f),
            Packet::Unsubscribe(p) => p.fmt(f),
            Packet::UnsubAck(p) => p.fmt(f),
            Packet::PingReq => f.write_str("PINGREQ"),
            Packet::PingResp => f.write_str("PINGRESP"),
            Packet::Disconnect(d) => {
                match d.reason {
                    ReasonCode::Success => f.write_str("DISCONNECT normal")?,
                    r => write!(f, "DISCONNECT {r}")?,
                }
                show_props(f, &d.properties)
            }
            Packet::Auth(a) => {
                write!(f, "AUTH {}", a.reason)?;
                show_props(f, &a.properties)
            }
        }
    }
}

/// A payload shown to a human, to be put between double quotes: text as text (control characters,
/// invalid UTF-8 and `"` escaped), cut after 64 characters.
pub(crate) fn preview(payload: &[u8]) -> String {
    const MAX: usize = 64;
    let cut = &payload[..payload.len().min(MAX * 4)];
    let shown = crate::escape::show(cut).replace('"', "\\\"");
    if shown.chars().count() > MAX || cut.len() < payload.len() {
        let mut s: String = shown.chars().take(MAX).collect();
        s.push('…');
        s
    } else {
        shown
    }
}

pub(crate) fn show_props(f: &mut fmt::Formatter<'_>, p: &Properties) -> fmt::Result {
    if p.is_empty() {
        Ok(())
    } else {
        write!(f, " {{{p}}}")
    }
}

/// A packet identifier (MQTT 3.1.1 §2.3.1): two bytes, never 0.
pub(crate) fn read_packet_id(r: &mut Reader<'_>, name: &str) -> Result<u16, Error> {
    let id = r.u16("packet identifier")?;
    if id == 0 {
        return Err(Error::malformed(format!(
            "{name} with packet identifier 0; it must be non-zero (MQTT 3.1.1 §2.3.1)"
        )));
    }
    Ok(id)
}

pub(crate) fn check_packet_id(id: u16) -> Result<(), EncodeError> {
    if id == 0 {
        Err(EncodeError::Invalid(
            "packet identifier 0 (it must be non-zero, MQTT 3.1.1 §2.3.1)".into(),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn check_encode_str(what: &'static str, s: &str) -> Result<(), EncodeError> {
    if s.len() > codec::MAX_STRING {
        return Err(EncodeError::FieldTooLong { what, len: s.len() });
    }
    if s.contains('\0') {
        return Err(EncodeError::NulInString(what));
    }
    Ok(())
}

pub(crate) fn check_encode_binary(what: &'static str, b: &[u8]) -> Result<(), EncodeError> {
    if b.len() > codec::MAX_STRING {
        return Err(EncodeError::FieldTooLong { what, len: b.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
