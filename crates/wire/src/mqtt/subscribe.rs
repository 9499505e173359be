//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (MQTT 3.1.1 §3.8-3.11, 5.0 §3.8-3.11).
//!
//! ```text
//!  SUBSCRIBE    0x82 (flags 0010, §3.8.1) | remaining length
//!               packet identifier | [5.0] properties (subscription identifier, user properties)
//!               payload: one or more (topic filter (string), options byte), see SubscriptionOptions
//!  SUBACK       0x90 | remaining length
//!               packet identifier | [5.0] properties
//!               payload: one code per filter, in order: granted QoS 0/1/2, or >= 0x80 refused
//!  UNSUBSCRIBE  0xA2 (flags 0010, §3.10.1) | remaining length
//!               packet identifier | [5.0] properties
//!               payload: one or more topic filters (strings)
//!  UNSUBACK     0xB0 | remaining length
//!               packet identifier | [5.0] properties | [5.0] one reason code per filter
//! ```
//!
//! What to notice: the course's subscriber sends `82 10 00 01 00 0b sister/temp 00`: packet id 1, one
//! filter, QoS 0. A SUBACK granting 0 follows; a subscriber on the wrong topic gets the same SUBACK and
//! then simply nothing, because MQTT never says "nobody publishes there".
//!
//! The codec checks that filters are UTF-8 strings but not the filter syntax (`+`, `#` placement): a
//! 5.0 server must answer an invalid filter with SUBACK 0x8F for that filter, not drop the connection, so
//! that decision belongs to the broker (see [`super::topic::validate_filter`]).

use std::fmt;

use bytes::BufMut;

use super::codec::{self, Reader};
use super::{EncodeError, Error, Properties, ReasonCode, SubscriptionOptions, Version};

/// One topic filter and what the subscriber wants for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: String,
    pub options: SubscriptionOptions,
}

impl Subscription {
    pub fn new(filter: impl Into<String>, options: SubscriptionOptions) -> Self {
        Subscription {
            filter: filter.into(),
            options,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub subscriptions: Vec<Subscription>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// One per subscription of the SUBSCRIBE, same order: `Success`/`GrantedQoS1`/`GrantedQoS2`, or a
    /// failure (3.1.1 knows only 0x80).
    pub codes: Vec<ReasonCode>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// 5.0: one per filter (`Success` or `NoSubscriptionExisted`, ...); always empty in 3.1.1.
    pub codes: Vec<ReasonCode>,
    pub properties: Properties,
}

fn read_props(r: &mut Reader<'_>, version: Version) -> Result<Properties, Error> {
    if version.is_v5() {
        Properties::read(r)
    } else {
        Ok(Properties::default())
    }
}

fn props_len(p: &Properties, version: Version) -> usize {
    if version.is_v5() {
        p.wire_len()
    } else {
        0
    }
}

impl Subscribe {
    pub(crate) fn read(mut r: Reader<'_>, version: Version) -> Result<Subscribe, Error> {
        let packet_id = super::read_packet_id(&mut r, "SUBSCRIBE")?;
        let properties = read_props(&mut r, version)?;
        let mut subscriptions = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?, version)?;
            subscriptions.push(Subscription { filter, options });
        }
        if subscriptions.is_empty() {
            return Err(Error::protocol(
                "a SUBSCRIBE without any topic filter (MQTT 3.1.1 §3.8.3)",
            ));
        }
        Ok(Subscribe {
            packet_id,
            subscriptions,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + props_len(&self.properties, version)
            + self
                .subscriptions
                .iter()
                .map(|s| 2 + s.filter.len() + 1)
                .sum::<usize>()
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        super::check_packet_id(self.packet_id)?;
        if self.subscriptions.is_empty() {
            return Err(EncodeError::Invalid(
                "a SUBSCRIBE needs at least one topic filter".into(),
            ));
        }
        for s in &self.subscriptions {
            super::check_encode_str("topic filter", &s.filter)?;
        }
        self.properties.check()
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out);
        }
        for s in &self.subscriptions {
            codec::write_str(out, &s.filter);
            out.put_u8(s.options.to_byte(version));
        }
    }
}

impl fmt::Display for Subscribe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SUBSCRIBE id={}", self.packet_id)?;
        for s in &self.subscriptions {
            write!(f, " [{} {}]", s.filter, s.options)?;
        }
        super::show_props(f, &self.properties)
    }
}

impl SubAck {
    pub(crate) fn read(mut r: Reader<'_>, version: Version) -> Result<SubAck, Error> {
        let packet_id = super::read_packet_id(&mut r, "SUBACK")?;
        let properties = read_props(&mut r, version)?;
        let codes = r.rest().iter().map(|&b| ReasonCode::from_byte(b)).collect();
        Ok(SubAck {
            packet_id,
            codes,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + props_len(&self.properties, version) + self.codes.len()
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out);
        }
        for c in &self.codes {
            out.put_u8(c.byte());
        }
    }
}

impl fmt::Display for SubAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SUBACK id={}", self.packet_id)?;
        for c in &self.codes {
            match c {
                ReasonCode::Success => f.write_str(" [granted QoS 0]")?,
                c => write!(f, " [{}]", c.name())?,
            }
        }
        super::show_props(f, &self.properties)
    }
}

impl Unsubscribe {
    pub(crate) fn read(mut r: Reader<'_>, version: Version) -> Result<Unsubscribe, Error> {
        let packet_id = super::read_packet_id(&mut r, "UNSUBSCRIBE")?;
        let properties = read_props(&mut r, version)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string("topic filter")?);
        }
        if filters.is_empty() {
            return Err(Error::protocol(
                "an UNSUBSCRIBE without any topic filter (MQTT 3.1.1 §3.10.3)",
            ));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + props_len(&self.properties, version) + self.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        super::check_packet_id(self.packet_id)?;
        if self.filters.is_empty() {
            return Err(EncodeError::Invalid(
                "an UNSUBSCRIBE needs at least one topic filter".into(),
            ));
        }
        for filter in &self.filters {
            super::check_encode_str("topic filter", filter)?;
        }
        self.properties.check()
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out);
        }
        for filter in &self.filters {
            codec::write_str(out, filter);
        }
    }
}

impl fmt::Display for Unsubscribe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UNSUBSCRIBE id={}", self.packet_id)?;
        for filter in &self.filters {
            write!(f, " [{filter}]")?;
        }
        super::show_props(f, &self.properties)
    }
}

impl UnsubAck {
    pub(crate) fn read(mut r: Reader<'_>, version: Version) -> Result<UnsubAck, Error> {
        let packet_id = super::read_packet_id(&mut r, "UNSUBACK")?;
        let properties = read_props(&mut r, version)?;
        let codes: Vec<ReasonCode> = r.rest().iter().map(|&b| ReasonCode::from_byte(b)).collect();
        if !version.is_v5() && !codes.is_empty() {
            return Err(Error::malformed(
                "a 3.1.1 UNSUBACK longer than its packet identifier (MQTT 3.1.1 §3.11.1)",
            ));
        }
        Ok(UnsubAck {
            packet_id,
            codes,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        if version.is_v5() {
            2 + self.properties.wire_len() + self.codes.len()
        } else {
            2
        }
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.write(out);
            for c in &self.codes {
                out.put_u8(c.byte());
            }
        }
    }
}

impl fmt::Display for UnsubAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UNSUBACK id={}", self.packet_id)?;
        for c in &self.codes {
            write!(f, " [{}]", c.name())?;
        }
        super::show_props(f, &self.properties)
    }
}
