//! PUBLISH: an application message, in either direction (MQTT 3.1.1 §3.3, 5.0 §3.3).
//!
//! ```text
//!  fixed header   0011 D QQ R | remaining length
//!                      |  |  `- RETAIN: the server keeps this message for future subscribers
//!                      |  `---- QoS 0, 1 or 2 (3 is malformed)
//!                      `------- DUP: a resend of a QoS 1/2 message (must be 0 with QoS 0)
//!  variable hdr   topic name (string; no wildcards; 5.0: may be empty when a topic alias stands for it)
//!                 packet identifier (u16, non-zero), only with QoS 1 and 2
//!                 [5.0] properties
//!  payload        the message: whatever bytes remain (no length of its own; may be empty)
//! ```
//!
//! What to notice: the course's `Suhu: 28°C` on `sister/temp` at QoS 0 is
//! `30 18 00 0b 73 69 73 74 65 72 2f 74 65 6d 70 53 75 68 75 3a 20 32 38 c2 b0 43`: no packet id, and the
//! degree sign is two UTF-8 bytes `c2 b0`. The payload's length is implied by the remaining length.

use std::fmt;

use bytes::{BufMut, Bytes};

use super::codec::{self, Reader};
use super::{EncodeError, Error, Properties, QoS, Version};

/// An application message on a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP: the sender may have sent this before (QoS 1/2 resend). Only a hint to the receiver.
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// The topic name (never a filter: no `+` or `#`).
    pub topic: String,
    /// Non-zero for QoS 1 and 2; 0 (and not on the wire) for QoS 0.
    pub packet_id: u16,
    pub properties: Properties,
    /// The message bytes; a cheap-to-clone `Bytes`, so a broker's fan-out shares one copy.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message, the course's kind.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Publish {
            topic: topic.into(),
            payload: payload.into(),
            ..Default::default()
        }
    }

    pub(crate) fn read(flags: u8, mut r: Reader<'_>, version: Version) -> Result<Publish, Error> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or_else(|| {
            Error::malformed("a PUBLISH with both QoS bits set (QoS 3; MQTT 3.1.1 §3.3.1.2)")
        })?;
        if dup && qos == QoS::AtMostOnce {
            return Err(Error::malformed(
                "a QoS 0 PUBLISH with DUP set (MQTT 3.1.1 §3.3.1.1)",
            ));
        }
        let topic = r.string("topic name")?;
        if topic.contains(['+', '#']) {
            return Err(Error::malformed(format!(
                "the PUBLISH topic {topic:?} contains a wildcard (MQTT 3.1.1 §3.3.2.1, §4.7.1)"
            )));
        }
        if topic.is_empty() && !version.is_v5() {
            return Err(Error::malformed(
                "an empty PUBLISH topic (MQTT 3.1.1 §4.7.3; only 5.0 allows it, with a topic alias)",
            ));
        }
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            super::read_packet_id(&mut r, "PUBLISH")?
        };
        let properties = if version.is_v5() {
            Properties::read(&mut r)?
        } else {
            Properties::default()
        };
        let payload = r.rest_bytes();
        Ok(Publish {
            dup,
            qos,
            retain: flags & 1 != 0,
            topic,
            packet_id,
            properties,
            payload,
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.bits() << 1) | u8::from(self.retain)
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + self.topic.len()
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
            + if version.is_v5() {
                self.properties.wire_len()
            } else {
                0
            }
            + self.payload.len()
    }

    pub(crate) fn check(&self, version: Version) -> Result<(), EncodeError> {
        super::check_encode_str("topic name", &self.topic)?;
        if self.topic.contains(['+', '#']) {
            return Err(EncodeError::Invalid(format!(
                "the topic name {:?} contains a wildcard; + and # are for subscriptions (MQTT 3.1.1 §4.7.1)",
                self.topic
            )));
        }
        if self.qos != QoS::AtMostOnce && self.packet_id == 0 {
            return Err(EncodeError::Invalid(
                "a QoS 1 or 2 PUBLISH needs a non-zero packet identifier".into(),
            ));
        }
        if self.topic.is_empty() && !version.is_v5() {
            return Err(EncodeError::Invalid(
                "an empty topic name (3.1.1 has no topic aliases)".into(),
            ));
        }
        self.properties.check()
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        codec::write_str(out, &self.topic);
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id);
        }
        if version.is_v5() {
            self.properties.write(out);
        }
        out.put_slice(&self.payload);
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PUBLISH topic={} qos={}", self.topic, self.qos)?;
        if self.qos != QoS::AtMostOnce {
            write!(f, " id={}", self.packet_id)?;
        }
        if self.retain {
            f.write_str(" retain")?;
        }
        if self.dup {
            f.write_str(" dup")?;
        }
        write!(
            f,
            " payload=\"{}\" ({} bytes)",
            super::preview(&self.payload),
            self.payload.len()
        )?;
        super::show_props(f, &self.properties)
    }
}
