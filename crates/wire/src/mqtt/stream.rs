//! The one way to read MQTT from bytes: a [`Decoder`] per stream (a broker's connection, a client's,
//! one TCP stream of a capture), and [`sniff`] to tell whether a stream is MQTT at all.
//!
//! MQTT's bytes cannot be read without knowing two things the packets themselves do not repeat:
//! - the *version*: it is stated once, in the CONNECT (its protocol level: 3, 4 or 5, MQTT 3.1.1
//!   §3.1.2.2, 5.0 §3.1.2.2), and decides how every later packet of the connection reads (5.0 has
//!   properties where 3.1.1 has none: the same bytes mean different things). The decoder starts in
//!   3.1.1, or in the version it is given, and follows a CONNECT;
//! - the *limit*: the receiver's Maximum Packet Size (5.0 §3.1.2.11.4, §3.2.2.3.6). A larger packet
//!   is refused from its fixed header ([`Error::TooLarge`]), before its body is even buffered.
//!
//! A capture that starts after the CONNECT (a client already connected when tcpdump started) never
//! learns the version: [`Decoder::guessing`] reads 3.1.1 and, as long as no CONNECT has been seen,
//! tries 5.0 for a packet that does not decode as 3.1.1, and keeps to 5.0 once that worked (and back).
//! Why this works: a 5.0 packet carries a property length after its variable header (a PUBLISH right
//! after its topic and packet id), which read as 3.1.1 shifts every later field; most packets then
//! break a rule (a string length running past the end, a reserved reason code). It is a guess, so
//! [`Decoder::is_guessed`] says so and the analyzer prints it.
//!
//! Three ways to decode, the same rules and the same [`Error`]:
//! - [`Decoder::decode`] from a `&[u8]`: payloads and binary fields are copied out (the analyzer,
//!   which decodes straight from a captured packet; the broker, from its read buffer);
//! - [`Decoder::decode_bytes`] from a [`Bytes`]: payloads are slices of it, no copy;
//! - [`Decoder::decode_from`] a [`BytesMut`] read buffer: the whole packet is split off the buffer and
//!   decoded without copying its payload (the client: what it receives is handed to the application,
//!   which keeps the payload).
//!
//! [`Decoder::frame`] only frames (is a whole packet there, how long is it), as a reader that must
//! skip or hold bytes needs.

use bytes::{Bytes, BytesMut};

use super::{decode_packet, frame, Error, Packet, Version, MAX_PACKET_SIZE};

/// Which side of a connection a stream's first packet shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The stream starts with CONNECT: it is the client's direction, in this version.
    Client(Version),
    /// The stream starts with CONNACK: the server's direction (its version is the CONNECT's).
    Server,
}

/// Is this the start of an MQTT stream? A client's stream starts with a valid CONNECT, a server's with
/// a valid CONNACK (MQTT 3.1.1 §3.1: "the first Packet sent from the Client to the Server MUST be a
/// CONNECT Packet"; §3.2: the first from the server is CONNACK). `None` if not (or not yet: a stream
/// cut before its first packet is complete cannot be recognised).
pub fn sniff(buf: &[u8]) -> Option<Side> {
    match Decoder::new().decode(buf) {
        Ok((Packet::Connect(c), _)) => return Some(Side::Client(c.version)),
        Ok((Packet::ConnAck(_), _)) => return Some(Side::Server),
        _ => {}
    }
    // A 5.0 CONNACK with properties is malformed when read as 3.1.1: try 5.0 too.
    match Decoder::with_version(Version::V5).decode(buf) {
        Ok((Packet::ConnAck(_), _)) => Some(Side::Server),
        _ => None,
    }
}

/// Where the decoder's version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Stated: by a CONNECT this decoder read, or by its owner ([`Decoder::with_version`]).
    Known,
    /// Assumed until a CONNECT comes (3.1.1: a stream read from its start begins with one).
    Default,
    /// Guessed from the packets themselves: a capture that started after the CONNECT.
    Guessed,
}

/// Reads the packets of one direction of a connection (or of both, when they share the version, as
/// in a capture), following the version the CONNECT set and refusing packets over the limit.
///
/// It holds no bytes: the caller keeps its buffer (a socket's read buffer, a captured segment) and
/// passes it in, so a packet that arrived whole is decoded where it lies. Cheap to make (a version
/// and a limit): the broker makes one per read.
#[derive(Debug, Clone)]
pub struct Decoder {
    version: Version,
    source: Source,
    /// Packets larger than this (fixed header included) are refused from their fixed header.
    max_packet_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A stream read from its start: 3.1.1 until its CONNECT says otherwise, no size limit but
    /// MQTT's own ([`MAX_PACKET_SIZE`]).
    pub fn new() -> Self {
        Decoder {
            version: Version::V3_1_1,
            source: Source::Default,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// A direction whose version is already known: the server's direction once the client's CONNECT
    /// has been read, a client reading its broker (it chose the version itself).
    pub fn with_version(version: Version) -> Self {
        Decoder {
            version,
            source: Source::Known,
            ..Decoder::new()
        }
    }

    /// A stream whose start may be missing (a capture): the version is guessed until a CONNECT
    /// comes (see the module's comment).
    pub fn guessing() -> Self {
        Decoder {
            source: Source::Guessed,
            ..Decoder::new()
        }
    }

    /// The same decoder, refusing packets larger than `max` bytes (the receiver's Maximum Packet
    /// Size, 5.0 §3.1.2.11.4: a server that gets one closes with reason 0x95).
    pub fn with_limit(mut self, max: usize) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The version packets are read in now.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The version was guessed: no CONNECT seen, and none given (only [`Decoder::guessing`]).
    pub fn is_guessed(&self) -> bool {
        self.source == Source::Guessed
    }

    /// The largest packet accepted.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Is a whole packet at the front of `buf`, and how long is it (fixed header included)? Only the
    /// fixed header is read (MQTT 3.1.1 §2.2): the type and flags, the remaining length. `Err`:
    /// `Incomplete` (read more), `Malformed` (a reserved type, forbidden flags, a length longer than
    /// 4 bytes: the stream cannot be cut into packets any more), or `TooLarge`.
    pub fn frame(&self, buf: &[u8]) -> Result<usize, Error> {
        let (_, _, total) = frame(buf, self.max_packet_size)?;
        if buf.len() < total {
            return Err(Error::Incomplete {
                needed: Some(total - buf.len()),
            });
        }
        Ok(total)
    }

    /// Decode the packet at the front of `buf`: the packet and how many bytes it used. Payloads and
    /// binary fields are copied out of `buf`.
    #[inline]
    pub fn decode(&mut self, buf: &[u8]) -> Result<(Packet, usize), Error> {
        self.decode_in(buf, None)
    }

    /// Decode the packet at the front of `buf` without copying: payloads and binary fields are
    /// slices of `buf` (they keep its memory alive by reference count; a fan-out to fifty
    /// subscribers shares one payload).
    #[inline]
    pub fn decode_bytes(&mut self, buf: &Bytes) -> Result<(Packet, usize), Error> {
        self.decode_in(buf, Some(buf))
    }

    /// Take the packet at the front of a read buffer: when it is whole, it is split off `buf` and
    /// decoded without copying its payload; otherwise `buf` is left as it is (`Incomplete`: read
    /// more into it).
    pub fn decode_from(&mut self, buf: &mut BytesMut) -> Result<Packet, Error> {
        let total = self.frame(buf)?;
        let whole = buf.split_to(total).freeze();
        self.decode_bytes(&whole).map(|(p, _)| p)
    }

    /// Decode every whole packet in `buf`; returns them, how many bytes they used, and the error that
    /// stopped decoding if it was not just the end of the data (`Incomplete`).
    pub fn decode_all(&mut self, buf: &[u8]) -> (Vec<Packet>, usize, Option<Error>) {
        let mut packets = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match self.decode(&buf[at..]) {
                Ok((p, used)) => {
                    packets.push(p);
                    at += used;
                }
                Err(e) if e.is_incomplete() => break,
                Err(e) => return (packets, at, Some(e)),
            }
        }
        (packets, at, None)
    }

    /// `shared`: `buf` as a `Bytes`, to slice payloads from.
    #[inline]
    fn decode_in(&mut self, buf: &[u8], shared: Option<&Bytes>) -> Result<(Packet, usize), Error> {
        match decode_packet(buf, shared, self.version, self.max_packet_size) {
            Ok((packet, used)) => {
                self.learn(&packet);
                Ok((packet, used))
            }
            // Guessing: a whole packet within the limit that breaks the rules of the guessed
            // version may be fine in the other one, which then becomes the guess.
            Err(e @ (Error::Malformed(_) | Error::Protocol(_))) if self.source == Source::Guessed => {
                let other = if self.version.is_v5() {
                    Version::V3_1_1
                } else {
                    Version::V5
                };
                match decode_packet(buf, shared, other, self.max_packet_size) {
                    Ok((packet, used)) => {
                        self.version = other;
                        self.learn(&packet);
                        Ok((packet, used))
                    }
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A CONNECT states the version of everything after it (MQTT 3.1.1 §3.1.2.2, 5.0 §3.1.2.2).
    #[inline]
    fn learn(&mut self, packet: &Packet) {
        if let Packet::Connect(c) = packet {
            self.version = c.version;
            self.source = Source::Known;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Ack, Connect, Properties, Publish, ReasonCode};

    fn v5_publish() -> Packet {
        Packet::Publish(Publish {
            properties: Properties {
                message_expiry_interval: Some(9),
                ..Default::default()
            },
            ..Publish::new("sister/temp", "x")
        })
    }

    #[test]
    fn a_v5_stream_is_read_as_v5_after_its_connect() {
        let connect = Packet::Connect(Box::new(Connect {
            version: Version::V5,
            ..Default::default()
        }));
        let publish = v5_publish();
        let mut stream = connect.to_vec(Version::V5).unwrap();
        stream.extend(publish.to_vec(Version::V5).unwrap());
        assert_eq!(sniff(&stream), Some(Side::Client(Version::V5)));
        let mut d = Decoder::default();
        assert_eq!(d.version(), Version::V3_1_1); // until the CONNECT says otherwise
        let (packets, used, err) = d.decode_all(&stream[..stream.len() - 1]);
        assert_eq!((packets.len(), err), (1, None)); // the PUBLISH is not complete yet
        assert_eq!(d.version(), Version::V5);
        let (packets, _, err) = d.decode_all(&stream[used..]);
        assert_eq!((packets, err), (vec![publish], None));
        assert!(!d.is_guessed());
    }

    #[test]
    fn sniffs_server_side_and_rejects_other_protocols() {
        assert_eq!(sniff(&[0x20, 0x02, 0x00, 0x00]), Some(Side::Server));
        // 5.0 CONNACK with properties (Mosquitto's).
        assert_eq!(
            sniff(&[0x20, 0x09, 0, 0, 6, 0x22, 0, 10, 0x21, 0, 20]),
            Some(Side::Server)
        );
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(sniff(b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"), None); // ZMTP greeting
        assert_eq!(sniff(&[0x30, 0x03, 0, 1, b'a']), None); // MQTT, but not a stream's start
    }

    /// A capture that starts after the CONNECT. A 5.0 PUBACK with a reason code and properties
    /// (5.0 §3.4.2) is, read as 3.1.1, a PUBACK longer than its 2 bytes (3.1.1 §3.4.1): malformed. The
    /// decoder tries 5.0, which works, and keeps it for the packets after it.
    #[test]
    fn a_late_capture_guesses_the_version_and_keeps_the_guess() {
        let v5 = Version::V5;
        let mut puback = Ack::new(7);
        puback.reason = ReasonCode::NoMatchingSubscribers;
        puback.properties.reason_string = Some("nobody".into());
        let puback = Packet::PubAck(puback);
        let mut stream = puback.to_vec(v5).unwrap();
        stream.extend(v5_publish().to_vec(v5).unwrap());
        // Read as 3.1.1 by a decoder that does not guess, the PUBACK is malformed.
        assert!(matches!(
            Decoder::with_version(Version::V3_1_1).decode(&stream),
            Err(Error::Malformed(_))
        ));
        let mut d = Decoder::guessing();
        assert!(d.is_guessed());
        let (packets, used, err) = d.decode_all(&stream);
        assert_eq!(
            (packets, used, err),
            (vec![puback, v5_publish()], stream.len(), None)
        );
        assert_eq!((d.version(), d.is_guessed()), (v5, true));
        // A 3.1.1 packet that is not valid 5.0 brings the guess back: a 3.1.1 PUBLISH whose payload
        // starts with 0xff would be a 5.0 property length of more than the packet holds.
        let old = Packet::Publish(Publish::new("t", &b"\xff\xff"[..]));
        let (p, _) = d.decode(&old.to_vec(Version::V3_1_1).unwrap()).unwrap();
        assert_eq!((p, d.version()), (old, Version::V3_1_1));
        // A CONNECT ends the guessing: from then on a packet that does not fit is malformed.
        let connect = Packet::Connect(Box::default());
        d.decode(&connect.to_vec(Version::V3_1_1).unwrap()).unwrap();
        assert!(!d.is_guessed());
        assert!(d.decode(&stream).is_err());
    }

    #[test]
    fn the_limit_is_checked_from_the_fixed_header() {
        let publish = Packet::Publish(Publish::new("sister/temp", vec![0u8; 100]));
        let bytes = publish.to_vec(Version::V3_1_1).unwrap();
        let mut d = Decoder::with_version(Version::V3_1_1).with_limit(64);
        // Only the first 2 bytes are there, and already the packet is known to be too large.
        let too_large = Error::TooLarge {
            size: bytes.len(),
            max: 64,
        };
        assert_eq!(d.decode(&bytes[..2]), Err(too_large.clone()));
        assert_eq!(d.frame(&bytes[..2]), Err(too_large.clone()));
        assert_eq!(too_large.reason_code(), Some(ReasonCode::PacketTooLarge));
        let mut d = d.with_limit(bytes.len());
        assert_eq!(
            d.frame(&bytes[..2]),
            Err(Error::Incomplete {
                needed: Some(bytes.len() - 2)
            })
        );
        assert_eq!(d.decode(&bytes), Ok((publish, bytes.len())));
    }

    #[test]
    fn decode_from_splits_a_whole_packet_off_the_buffer_without_copying() {
        let publish = Packet::Publish(Publish::new("sister/temp", "Suhu: 28°C"));
        let bytes = publish.to_vec(Version::V3_1_1).unwrap();
        let mut buf = BytesMut::from(&bytes[..5]);
        let mut d = Decoder::with_version(Version::V3_1_1);
        assert!(d.decode_from(&mut buf).unwrap_err().is_incomplete());
        assert_eq!(buf.len(), 5, "an unfinished packet stays in the buffer");
        buf.extend_from_slice(&bytes[5..]);
        buf.extend_from_slice(&[0xc0, 0x00]); // and a PINGREQ behind it
        let start = buf.as_ptr() as usize;
        let Packet::Publish(p) = d.decode_from(&mut buf).unwrap() else {
            panic!("not a PUBLISH")
        };
        // The payload is the last 11 bytes of the PUBLISH, where it was read.
        assert_eq!(p.payload.as_ptr() as usize, start + bytes.len() - p.payload.len());
        assert_eq!(d.decode_from(&mut buf), Ok(Packet::PingReq));
        assert!(buf.is_empty());
    }
}
