//! PUBACK, PUBREC, PUBREL, PUBCOMP: the acknowledgements of QoS 1 and 2 (MQTT 3.1.1 §3.4-3.7,
//! 5.0 §3.4-3.7). They share one layout, so one struct, [`Ack`]:
//!
//! ```text
//!  fixed header   0x40 PUBACK | 0x50 PUBREC | 0x62 PUBREL (flags 0010, §2.2.2) | 0x70 PUBCOMP
//!                 remaining length
//!  variable hdr   packet identifier (u16) of the PUBLISH being acknowledged
//!                 [5.0] reason code (absent when remaining length is 2: Success)
//!                 [5.0] properties  (absent when remaining length is < 4: none)
//! ```
//!
//! The flows: QoS 1 is PUBLISH -> PUBACK. QoS 2 is PUBLISH -> PUBREC ("received"), PUBREL ("release it")
//! -> PUBCOMP ("complete"): after PUBREC the receiver holds the packet id, and a resent PUBLISH with it is
//! recognised as a duplicate, which is how QoS 2 delivers exactly once.

use std::fmt;

use bytes::BufMut;

use super::codec::Reader;
use super::{Error, Properties, ReasonCode, Version};

/// One acknowledgement of the QoS 1/2 flows; the [`Packet`](super::Packet) variant says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub packet_id: u16,
    /// Always `Success` in 3.1.1 (which has no reason code).
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl Ack {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: u16) -> Self {
        Ack {
            packet_id,
            reason: ReasonCode::Success,
            properties: Properties::default(),
        }
    }

    pub(crate) fn read(mut r: Reader<'_>, version: Version, name: &str) -> Result<Ack, Error> {
        let packet_id = super::read_packet_id(&mut r, name)?;
        let mut ack = Ack::new(packet_id);
        if version.is_v5() {
            if !r.is_empty() {
                ack.reason = ReasonCode::from_byte(r.u8("reason code")?);
            }
            if !r.is_empty() {
                ack.properties = Properties::read(&mut r)?;
            }
        }
        if !r.is_empty() {
            return Err(Error::malformed(format!(
                "{name} is longer than its fields ({} bytes left; MQTT 3.1.1 §3.4.1: remaining length 2)",
                r.remaining()
            )));
        }
        Ok(ack)
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        if !version.is_v5() {
            return 2;
        }
        // 5.0 §3.4.2.1: reason code and properties may be left out when they say nothing.
        match (self.reason, self.properties.is_empty()) {
            (ReasonCode::Success, true) => 2,
            (_, true) => 3,
            (_, false) => 3 + self.properties.wire_len(),
        }
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u16(self.packet_id);
        let len = self.body_len(version);
        if len >= 3 {
            out.put_u8(self.reason.byte());
        }
        if len > 3 {
            self.properties.write(out);
        }
    }

    pub(crate) fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{name} id={}", self.packet_id)?;
        if self.reason != ReasonCode::Success {
            write!(f, " {}", self.reason)?;
        }
        super::show_props(f, &self.properties)
    }
}
