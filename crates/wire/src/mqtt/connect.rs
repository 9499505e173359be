//! CONNECT (client to server, the first packet of every connection) and CONNACK (the server's answer).
//!
//! CONNECT (MQTT 3.1.1 §3.1, 5.0 §3.1):
//!
//! ```text
//!  fixed header   0x10 | remaining length
//!  variable hdr   protocol name   00 04 'M' 'Q' 'T' 'T'   (3.1: 00 06 'M' 'Q' 'I' 's' 'd' 'p')
//!                 protocol level  04 = 3.1.1, 05 = 5.0   (3.1: 03)
//!                 connect flags   bit 7 user name | 6 password | 5 will retain | 4-3 will QoS |
//!                                 2 will flag | 1 clean session (5.0: clean start) | 0 reserved, must be 0
//!                 keep alive      u16 seconds (0 = off)
//!                 [5.0] properties
//!  payload        client id (string, may be empty)
//!                 if will flag: [5.0] will properties, will topic (string), will payload (binary)
//!                 if user name flag: user name (string)
//!                 if password flag: password (binary)
//! ```
//!
//! What to notice in a capture: paho-mqtt's CONNECT from the course is `10 xx 00 04 4d 51 54 54 04 02
//! 00 3c ...`: MQTT 3.1.1, only clean session set, keep-alive 60 s, then the client id paho generated.
//!
//! CONNACK (MQTT 3.1.1 §3.2, 5.0 §3.2):
//!
//! ```text
//!  fixed header   0x20 | remaining length (2 in 3.1.1)
//!  variable hdr   acknowledge flags  bit 0 session present, bits 7-1 reserved (0)
//!                 return code (3.1.1: 0 accepted .. 5 not authorized) / reason code (5.0)
//!                 [5.0] properties
//! ```

use std::fmt;

use bytes::{BufMut, Bytes};

use super::codec::{self, Reader};
use super::{EncodeError, Error, Properties, QoS, ReasonCode, Version};

/// The message the server publishes for a client whose connection ends without a DISCONNECT
/// (MQTT 3.1.1 §3.1.2.5): how other clients learn that this one died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 will properties: will delay, message expiry, content type, response topic...
    pub properties: Properties,
}

/// CONNECT: who the client is and how its session should behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// From the protocol name and level; decides how every later packet of the connection is read.
    pub version: Version,
    /// May be empty: the server then assigns one (3.1.1 only when clean session is set, §3.1.3.1).
    pub client_id: String,
    /// 3.1.1 "clean session": discard any previous session and do not keep this one.
    /// 5.0 "clean start": discard any previous session; how long this one lives is the session expiry.
    pub clean_start: bool,
    /// Seconds the client may stay silent; the server drops it after 1.5 times that (§3.1.2.10).
    pub keep_alive: u16,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub properties: Properties,
}

impl Default for Connect {
    fn default() -> Self {
        Connect {
            version: Version::V3_1_1,
            client_id: String::new(),
            clean_start: true,
            keep_alive: 60,
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }
    }
}

impl Connect {
    pub(crate) fn read(mut r: Reader<'_>) -> Result<Connect, Error> {
        let name = r.binary("protocol name")?;
        let level = r.u8("protocol level")?;
        let version = match (name, level) {
            (b"MQTT", 4) => Version::V3_1_1,
            (b"MQTT", 5) => Version::V5,
            (b"MQIsdp", 3) => Version::V3_1,
            _ => {
                return Err(Error::UnsupportedVersion {
                    name: crate::escape::show(name),
                    level,
                })
            }
        };
        let flags = r.u8("connect flags")?;
        if flags & 0x01 != 0 {
            return Err(Error::malformed(
                "the reserved bit 0 of the CONNECT flags is set (MQTT 3.1.1 §3.1.2.3)",
            ));
        }
        let has_will = flags & 0x04 != 0;
        let will_qos = QoS::from_bits((flags >> 3) & 0b11).ok_or_else(|| {
            Error::malformed("the will QoS in the CONNECT flags is 3 (MQTT 3.1.1 §3.1.2.6)")
        })?;
        let will_retain = flags & 0x20 != 0;
        if !has_will && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(Error::malformed(
                "will QoS or will retain set without the will flag (MQTT 3.1.1 §3.1.2.6-7)",
            ));
        }
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        if has_password && !has_username && !version.is_v5() {
            return Err(Error::malformed(
                "a password without a user name (MQTT 3.1.1 §3.1.2.9; 5.0 allows it)",
            ));
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = if version.is_v5() {
            Properties::read(&mut r)?
        } else {
            Properties::default()
        };
        let client_id = r.string("client identifier")?;
        let will = if has_will {
            let properties = if version.is_v5() {
                Properties::read(&mut r)?
            } else {
                Properties::default()
            };
            let topic = r.string("will topic")?;
            let payload = r.bytes("will payload")?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if has_password {
            Some(r.bytes("password")?)
        } else {
            None
        };
        if !r.is_empty() {
            return Err(Error::malformed(format!(
                "{} bytes after the end of the CONNECT payload",
                r.remaining()
            )));
        }
        Ok(Connect {
            version,
            client_id,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | (w.qos.bits() << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        flags
    }

    pub(crate) fn body_len(&self) -> usize {
        let v5 = self.version.is_v5();
        let mut n = 2 + self.version.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            n += self.properties.wire_len();
        }
        n += 2 + self.client_id.len();
        if let Some(w) = &self.will {
            if v5 {
                n += w.properties.wire_len();
            }
            n += 2 + w.topic.len() + 2 + w.payload.len();
        }
        n += self.username.as_ref().map_or(0, |u| 2 + u.len());
        n += self.password.as_ref().map_or(0, |p| 2 + p.len());
        n
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        super::check_encode_str("client identifier", &self.client_id)?;
        if let Some(w) = &self.will {
            super::check_encode_str("will topic", &w.topic)?;
            super::check_encode_binary("will payload", &w.payload)?;
            w.properties.check()?;
        }
        if let Some(u) = &self.username {
            super::check_encode_str("user name", u)?;
        }
        if let Some(p) = &self.password {
            super::check_encode_binary("password", p)?;
            if self.username.is_none() && !self.version.is_v5() {
                return Err(EncodeError::Invalid(
                    "MQTT 3.1.1 allows a password only with a user name".into(),
                ));
            }
        }
        self.properties.check()
    }

    pub(crate) fn write(&self, out: &mut impl BufMut) {
        let v5 = self.version.is_v5();
        codec::write_str(out, self.version.protocol_name());
        out.put_u8(self.version.level());
        out.put_u8(self.flags());
        out.put_u16(self.keep_alive);
        if v5 {
            self.properties.write(out);
        }
        codec::write_str(out, &self.client_id);
        if let Some(w) = &self.will {
            if v5 {
                w.properties.write(out);
            }
            codec::write_str(out, &w.topic);
            codec::write_binary(out, &w.payload);
        }
        if let Some(u) = &self.username {
            codec::write_str(out, u);
        }
        if let Some(p) = &self.password {
            codec::write_binary(out, p);
        }
    }
}

impl fmt::Display for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CONNECT v{} client-id={:?} {} keep-alive={}s",
            self.version,
            self.client_id,
            match (self.clean_start, self.version.is_v5()) {
                (true, false) => "clean-session",
                (false, false) => "persistent-session",
                (true, true) => "clean-start",
                (false, true) => "resume-session",
            },
            self.keep_alive
        )?;
        if let Some(w) = &self.will {
            write!(
                f,
                " will(topic={} qos={}{} payload=\"{}\"",
                w.topic,
                w.qos,
                if w.retain { " retain" } else { "" },
                super::preview(&w.payload)
            )?;
            super::show_props(f, &w.properties)?;
            f.write_str(")")?;
        }
        if let Some(u) = &self.username {
            write!(f, " user={u:?}")?;
        }
        if self.password.is_some() {
            f.write_str(" password=***")?;
        }
        super::show_props(f, &self.properties)
    }
}

/// CONNACK: whether the server accepted the connection, and (5.0) the limits it sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// The server still had a session for this client id (never with clean start).
    pub session_present: bool,
    /// `Success` when accepted. For 3.1.1 the codec translates to and from the return codes 0-5
    /// (see [`ReasonCode::to_v3_connack`]).
    pub code: ReasonCode,
    pub properties: Properties,
}

impl ConnAck {
    pub fn accepted(session_present: bool) -> Self {
        ConnAck {
            session_present,
            ..Default::default()
        }
    }

    pub(crate) fn read(mut r: Reader<'_>, version: Version) -> Result<ConnAck, Error> {
        let flags = r.u8("acknowledge flags")?;
        if flags & 0xfe != 0 {
            return Err(Error::malformed(format!(
                "reserved bits of the CONNACK flags are set (0x{flags:02x}; MQTT 3.1.1 §3.2.2.1)"
            )));
        }
        let raw = r.u8("return code")?;
        let (code, properties) = if version.is_v5() {
            // §3.2.2.3: the property length may be absent when there are none (remaining length 2).
            let props = if r.is_empty() {
                Properties::default()
            } else {
                Properties::read(&mut r)?
            };
            (ReasonCode::from_byte(raw), props)
        } else {
            (ReasonCode::from_v3_connack(raw), Properties::default())
        };
        if !r.is_empty() {
            return Err(Error::malformed("bytes after the end of the CONNACK"));
        }
        Ok(ConnAck {
            session_present: flags & 1 != 0,
            code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, version: Version) -> usize {
        2 + if version.is_v5() {
            self.properties.wire_len()
        } else {
            0
        }
    }

    pub(crate) fn write(&self, version: Version, out: &mut impl BufMut) {
        out.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            out.put_u8(self.code.byte());
            self.properties.write(out);
        } else {
            out.put_u8(self.code.to_v3_connack());
        }
    }
}

impl fmt::Display for ConnAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CONNACK {}", self.code)?;
        if self.session_present {
            f.write_str(" session-present")?;
        }
        super::show_props(f, &self.properties)
    }
}
