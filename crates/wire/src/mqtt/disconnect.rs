//! DISCONNECT (MQTT 3.1.1 §3.14, 5.0 §3.14) and AUTH (5.0 only, §3.15).
//!
//! ```text
//!  DISCONNECT  0xE0 | remaining length (0 in 3.1.1)
//!              [5.0] reason code (absent: 0x00 normal disconnection) | [5.0] properties (absent: none)
//!  AUTH        0xF0 | remaining length
//!              reason code (absent: 0x00 success) | properties (absent: none)
//! ```
//!
//! In 3.1.1 only the client sends DISCONNECT, and it means "I am leaving on purpose: do not publish my
//! will". A 5.0 server may send one too, with a reason (0x8E session taken over, 0x8D keep alive
//! timeout, ...). In a capture of the course's publisher, DISCONNECT is `e0 00`, often followed by a
//! TCP reset because paho closes the socket at once.

use bytes::BufMut;

use super::codec::Reader;
use super::{Error, Properties, ReasonCode, Version};

/// DISCONNECT (and, with the same layout, AUTH).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// 0x00 normal disconnection; 0x04 asks the server to publish the will anyway (5.0).
    pub reason: ReasonCode,
    pub properties: Properties,
}

/// AUTH: a step of 5.0 enhanced authentication (challenge/response, e.g. SCRAM).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// 0x00 success, 0x18 continue authentication, 0x19 re-authenticate.
    pub reason: ReasonCode,
    pub properties: Properties,
}

fn read_reason_props(mut r: Reader<'_>, name: &str) -> Result<(ReasonCode, Properties), Error> {
    let mut reason = ReasonCode::Success;
    let mut properties = Properties::default();
    if !r.is_empty() {
        reason = ReasonCode::from_byte(r.u8("reason code")?);
    }
    if !r.is_empty() {
        properties = Properties::read(&mut r)?;
    }
    if !r.is_empty() {
        return Err(Error::malformed(format!(
            "{} bytes after the properties of {name}",
            r.remaining()
        )));
    }
    Ok((reason, properties))
}

fn body_len(reason: ReasonCode, properties: &Properties) -> usize {
    match (reason, properties.is_empty()) {
        (ReasonCode::Success, true) => 0,
        (_, true) => 1,
        (_, false) => 1 + properties.wire_len(),
    }
}

fn write(reason: ReasonCode, properties: &Properties, out: &mut impl BufMut) {
    let len = body_len(reason, properties);
    if len >= 1 {
        out.put_u8(reason.byte());
    }
    if len > 1 {
        properties.write(out);
    }
}

impl Disconnect {
    pub fn new(reason: ReasonCode) -> Self {
        Disconnect {
            reason,
            properties: Properties::default(),
        }
    }

    pub(crate) fn read(body: Reader<'_>, version: Version) -> Result<Disconnect, Error> {
        if !version.is_v5() {
            if !body.is_empty() {
                return Err(Error::malformed(
                    "a 3.1.1 DISCONNECT with a body (remaining length must be 0, MQTT 3.1.1 §3.14.1)",
                ));
            }
            return Ok(Disconnect::default());
        }
        let (reason, properties) = read_reason_props(body, "DISCONNECT")?;
        Ok(Disconnect { reason, properties })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        if version.is_v5() {
            body_len(self.reason, &self.properties)
        } else {
            0
        }
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        if version.is_v5() {
            write(self.reason, &self.properties, out);
        }
    }
}

impl Auth {
    pub(crate) fn read(body: Reader<'_>) -> Result<Auth, Error> {
        let (reason, properties) = read_reason_props(body, "AUTH")?;
        Ok(Auth { reason, properties })
    }

    pub(crate) fn body_len(&self) -> usize {
        body_len(self.reason, &self.properties)
    }

    pub(crate) fn write(&self, out: &mut impl BufMut) {
        write(self.reason, &self.properties, out);
    }
}
