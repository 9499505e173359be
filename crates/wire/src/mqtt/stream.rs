//! Reading an MQTT byte stream whose version is not known in advance: what a broker does with a new
//! connection, and what the analyzer does with a TCP stream reassembled from a capture.
//!
//! The version is stated once, in the CONNECT (its protocol level), and decides how every later packet
//! of the connection is read. [`Decoder`] remembers it; [`sniff`] tells whether the first bytes of a
//! stream are MQTT at all (the analyzer recognises protocols by content first, the port is only a hint).

use super::{decode_with_limit, Error, Packet, Version, MAX_PACKET_SIZE};

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
    match decode_with_limit(buf, Version::V3_1_1, MAX_PACKET_SIZE) {
        Ok((Packet::Connect(c), _)) => return Some(Side::Client(c.version)),
        Ok((Packet::ConnAck(_), _)) => return Some(Side::Server),
        _ => {}
    }
    // A 5.0 CONNACK with properties is malformed when read as 3.1.1: try 5.0 too.
    match decode_with_limit(buf, Version::V5, MAX_PACKET_SIZE) {
        Ok((Packet::ConnAck(_), _)) => Some(Side::Server),
        _ => None,
    }
}

/// Decodes the packets of one direction of a connection, following the version the CONNECT set.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The version later packets are read in: 3.1.1 until a CONNECT says otherwise.
    pub version: Version,
    /// Packets larger than this are refused from their fixed header (`Error::TooLarge`).
    pub max_packet_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            version: Version::V3_1_1,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }
}

impl Decoder {
    /// A decoder for a direction whose version is already known (the server's direction, once the
    /// client's CONNECT has been read).
    pub fn with_version(version: Version) -> Self {
        Decoder {
            version,
            ..Default::default()
        }
    }

    /// Decode the next packet from the front of `buf`; a CONNECT switches the decoder to its version.
    pub fn decode(&mut self, buf: &[u8]) -> Result<(Packet, usize), Error> {
        let (packet, used) = decode_with_limit(buf, self.version, self.max_packet_size)?;
        if let Packet::Connect(c) = &packet {
            self.version = c.version;
        }
        Ok((packet, used))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Connect, Properties, Publish};

    #[test]
    fn a_v5_stream_is_read_as_v5_after_its_connect() {
        let connect = Packet::Connect(Box::new(Connect {
            version: Version::V5,
            ..Default::default()
        }));
        let publish = Packet::Publish(Publish {
            properties: Properties {
                message_expiry_interval: Some(9),
                ..Default::default()
            },
            ..Publish::new("sister/temp", "x")
        });
        let mut stream = connect.to_vec(Version::V5).unwrap();
        stream.extend(publish.to_vec(Version::V5).unwrap());
        assert_eq!(sniff(&stream), Some(Side::Client(Version::V5)));
        let mut d = Decoder::default();
        let (packets, used, err) = d.decode_all(&stream[..stream.len() - 1]);
        assert_eq!((packets.len(), err), (1, None)); // the PUBLISH is not complete yet
        let (packets, _, err) = d.decode_all(&stream[used..]);
        assert_eq!((packets, err), (vec![publish], None));
        assert_eq!(d.version, Version::V5);
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
}
