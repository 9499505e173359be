//! MQTT 5.0 properties (MQTT 5.0 §2.2.2): optional, typed fields that 5.0 added to most packets, in a
//! block after the variable header:
//!
//! ```text
//!  property length (Variable Byte Integer) | identifier (VBI, in practice one byte) | value | identifier | value ...
//! ```
//!
//! The identifier says the value's type (byte, two- or four-byte integer, VBI, UTF-8 string, binary,
//! string pair), so a decoder can walk the block. One [`Properties`] struct holds every property of
//! every packet: a packet only uses some of them (§2.2.2.2 lists which), and a broker checks what it
//! accepts. Properties that may appear once are `Option`s and a second copy is a protocol error; User
//! Property and Subscription Identifier may repeat and are `Vec`s, in wire order.
//!
//! An identifier this codec does not know cannot be skipped (its type, hence its length, is unknown), so
//! decoding stops there and keeps the identifier and the undecoded rest in [`Properties::unknown`]: the
//! analyzer shows it, a broker treats it as a malformed packet (see [`Properties::check_known`]).

use std::fmt;

use bytes::{BufMut, Bytes};

use super::codec::{self, Reader};
use super::{EncodeError, Error, QoS};

/// The property identifiers of MQTT 5.0 §2.2.2.2, table 2-4.
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// A property identifier this codec does not know, and the bytes of the block from its value on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProperty {
    pub id: u32,
    pub rest: Bytes,
}

/// Every MQTT 5.0 property (§3.x.2.2 of each packet says which it may carry). All empty in 3.1.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// 0x01 (PUBLISH, will): 0 = unspecified bytes, 1 = UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// 0x02 (PUBLISH, will): seconds until the message expires if not delivered.
    pub message_expiry_interval: Option<u32>,
    /// 0x03 (PUBLISH, will): a MIME-like description of the payload.
    pub content_type: Option<String>,
    /// 0x08 (PUBLISH, will): where a request/response responder should publish its answer.
    pub response_topic: Option<String>,
    /// 0x09 (PUBLISH, will): lets a requester match a response to its request.
    pub correlation_data: Option<Bytes>,
    /// 0x0B (PUBLISH: one per matching subscription; SUBSCRIBE: at most one), 1 to 268,435,455.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11 (CONNECT, CONNACK, DISCONNECT): seconds the session outlives the connection.
    pub session_expiry_interval: Option<u32>,
    /// 0x12 (CONNACK): the client id the server chose for a client that sent an empty one.
    pub assigned_client_identifier: Option<String>,
    /// 0x13 (CONNACK): the keep-alive the server imposes instead of the client's.
    pub server_keep_alive: Option<u16>,
    /// 0x15 (CONNECT, CONNACK, AUTH): the extended authentication method's name.
    pub authentication_method: Option<String>,
    /// 0x16 (CONNECT, CONNACK, AUTH).
    pub authentication_data: Option<Bytes>,
    /// 0x17 (CONNECT): may the server send reason strings and user properties on failures.
    pub request_problem_information: Option<bool>,
    /// 0x18 (will): seconds the server waits before publishing the will.
    pub will_delay_interval: Option<u32>,
    /// 0x19 (CONNECT): asks the server for response information in CONNACK.
    pub request_response_information: Option<bool>,
    /// 0x1A (CONNACK).
    pub response_information: Option<String>,
    /// 0x1C (CONNACK, DISCONNECT): another server the client should use.
    pub server_reference: Option<String>,
    /// 0x1F (all acknowledgements, DISCONNECT, AUTH): a human-readable reason, for logs.
    pub reason_string: Option<String>,
    /// 0x21 (CONNECT, CONNACK): how many QoS 1 and 2 PUBLISHes the sender accepts unacknowledged.
    pub receive_maximum: Option<u16>,
    /// 0x22 (CONNECT, CONNACK): the highest topic alias the sender accepts.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 (PUBLISH): a number standing for the topic name on this connection.
    pub topic_alias: Option<u16>,
    /// 0x24 (CONNACK): the highest QoS the server supports (0 or 1; absent means 2).
    pub maximum_qos: Option<QoS>,
    /// 0x25 (CONNACK).
    pub retain_available: Option<bool>,
    /// 0x26 (all packets with properties): name/value pairs, may repeat, order kept.
    pub user_properties: Vec<(String, String)>,
    /// 0x27 (CONNECT, CONNACK): the largest packet the sender accepts.
    pub maximum_packet_size: Option<u32>,
    /// 0x28 (CONNACK).
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29 (CONNACK).
    pub subscription_identifier_available: Option<bool>,
    /// 0x2A (CONNACK).
    pub shared_subscription_available: Option<bool>,
    /// The first identifier this codec does not know; decoding stopped there.
    pub unknown: Option<UnknownProperty>,
}

/// Set an `Option` property once; a second copy is a protocol error (MQTT 5.0 §2.2.2.2 and each
/// packet's property list: "It is a Protocol Error to include X more than once").
fn once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::protocol(format!(
            "the property {name} appears twice (MQTT 5.0 §2.2.2.2)"
        )));
    }
    *slot = Some(value);
    Ok(())
}

fn flag(r: &mut Reader<'_>, name: &str) -> Result<bool, Error> {
    match r.u8(name)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Error::protocol(format!(
            "the property {name} is {other}; only 0 or 1 are allowed (MQTT 5.0 §3.1.2.11, §3.2.2.3)"
        ))),
    }
}

impl Properties {
    /// True when no property is set (then a 5.0 packet carries just a zero property length).
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    /// Fail if decoding met an identifier it does not know: a broker treats that as a malformed packet.
    pub fn check_known(&self) -> Result<(), Error> {
        match &self.unknown {
            None => Ok(()),
            Some(u) => Err(Error::malformed(format!(
                "unknown property identifier 0x{:02x} (MQTT 5.0 §2.2.2.2)",
                u.id
            ))),
        }
    }

    /// Read a property block: its length, then properties until that many bytes are used.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Properties, Error> {
        let len = r.varint("property length")? as usize;
        let block = r.sub(len, "properties")?;
        Properties::parse(block)
    }

    /// Parse the properties in `block` (the bytes after the property length).
    fn parse(mut r: Reader<'_>) -> Result<Properties, Error> {
        use id::*;
        let mut p = Properties::default();
        while !r.is_empty() {
            let ident = r.varint("property identifier")?;
            let Ok(ident8) = u8::try_from(ident) else {
                p.unknown = Some(UnknownProperty {
                    id: ident,
                    rest: r.rest_bytes(),
                });
                break;
            };
            match ident8 {
                PAYLOAD_FORMAT_INDICATOR => {
                    let v = r.u8("payload format indicator")?;
                    once(&mut p.payload_format_indicator, v, "payload format indicator")?
                }
                MESSAGE_EXPIRY_INTERVAL => {
                    let v = r.u32("message expiry interval")?;
                    once(&mut p.message_expiry_interval, v, "message expiry interval")?
                }
                CONTENT_TYPE => {
                    let v = r.string("content type")?;
                    once(&mut p.content_type, v, "content type")?
                }
                RESPONSE_TOPIC => {
                    let v = r.string("response topic")?;
                    once(&mut p.response_topic, v, "response topic")?
                }
                CORRELATION_DATA => {
                    let v = r.bytes("correlation data")?;
                    once(&mut p.correlation_data, v, "correlation data")?
                }
                SUBSCRIPTION_IDENTIFIER => {
                    let v = r.varint("subscription identifier")?;
                    if v == 0 {
                        return Err(Error::protocol(
                            "a subscription identifier of 0 (MQTT 5.0 §3.8.2.1.2)",
                        ));
                    }
                    p.subscription_identifiers.push(v)
                }
                SESSION_EXPIRY_INTERVAL => {
                    let v = r.u32("session expiry interval")?;
                    once(&mut p.session_expiry_interval, v, "session expiry interval")?
                }
                ASSIGNED_CLIENT_IDENTIFIER => {
                    let v = r.string("assigned client identifier")?;
                    once(&mut p.assigned_client_identifier, v, "assigned client identifier")?
                }
                SERVER_KEEP_ALIVE => {
                    let v = r.u16("server keep alive")?;
                    once(&mut p.server_keep_alive, v, "server keep alive")?
                }
                AUTHENTICATION_METHOD => {
                    let v = r.string("authentication method")?;
                    once(&mut p.authentication_method, v, "authentication method")?
                }
                AUTHENTICATION_DATA => {
                    let v = r.bytes("authentication data")?;
                    once(&mut p.authentication_data, v, "authentication data")?
                }
                REQUEST_PROBLEM_INFORMATION => {
                    let v = flag(&mut r, "request problem information")?;
                    once(
                        &mut p.request_problem_information,
                        v,
                        "request problem information",
                    )?
                }
                WILL_DELAY_INTERVAL => {
                    let v = r.u32("will delay interval")?;
                    once(&mut p.will_delay_interval, v, "will delay interval")?
                }
                REQUEST_RESPONSE_INFORMATION => {
                    let v = flag(&mut r, "request response information")?;
                    once(
                        &mut p.request_response_information,
                        v,
                        "request response information",
                    )?
                }
                RESPONSE_INFORMATION => {
                    let v = r.string("response information")?;
                    once(&mut p.response_information, v, "response information")?
                }
                SERVER_REFERENCE => {
                    let v = r.string("server reference")?;
                    once(&mut p.server_reference, v, "server reference")?
                }
                REASON_STRING => {
                    let v = r.string("reason string")?;
                    once(&mut p.reason_string, v, "reason string")?
                }
                RECEIVE_MAXIMUM => {
                    let v = r.u16("receive maximum")?;
                    if v == 0 {
                        return Err(Error::protocol("a receive maximum of 0 (MQTT 5.0 §3.1.2.11.3)"));
                    }
                    once(&mut p.receive_maximum, v, "receive maximum")?
                }
                TOPIC_ALIAS_MAXIMUM => {
                    let v = r.u16("topic alias maximum")?;
                    once(&mut p.topic_alias_maximum, v, "topic alias maximum")?
                }
                TOPIC_ALIAS => {
                    let v = r.u16("topic alias")?;
                    once(&mut p.topic_alias, v, "topic alias")?
                }
                MAXIMUM_QOS => {
                    let v = match r.u8("maximum QoS")? {
                        0 => QoS::AtMostOnce,
                        1 => QoS::AtLeastOnce,
                        other => {
                            return Err(Error::protocol(format!(
                                "a maximum QoS of {other}; only 0 or 1 may be sent (MQTT 5.0 §3.2.2.3.4)"
                            )))
                        }
                    };
                    once(&mut p.maximum_qos, v, "maximum QoS")?
                }
                RETAIN_AVAILABLE => {
                    let v = flag(&mut r, "retain available")?;
                    once(&mut p.retain_available, v, "retain available")?
                }
                USER_PROPERTY => {
                    let k = r.string("user property name")?;
                    let v = r.string("user property value")?;
                    p.user_properties.push((k, v))
                }
                MAXIMUM_PACKET_SIZE => {
                    let v = r.u32("maximum packet size")?;
                    if v == 0 {
                        return Err(Error::protocol(
                            "a maximum packet size of 0 (MQTT 5.0 §3.1.2.11.4)",
                        ));
                    }
                    once(&mut p.maximum_packet_size, v, "maximum packet size")?
                }
                WILDCARD_SUBSCRIPTION_AVAILABLE => {
                    let v = flag(&mut r, "wildcard subscription available")?;
                    once(
                        &mut p.wildcard_subscription_available,
                        v,
                        "wildcard subscription available",
                    )?
                }
                SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                    let v = flag(&mut r, "subscription identifier available")?;
                    once(
                        &mut p.subscription_identifier_available,
                        v,
                        "subscription identifier available",
                    )?
                }
                SHARED_SUBSCRIPTION_AVAILABLE => {
                    let v = flag(&mut r, "shared subscription available")?;
                    once(
                        &mut p.shared_subscription_available,
                        v,
                        "shared subscription available",
                    )?
                }
                other => {
                    p.unknown = Some(UnknownProperty {
                        id: u32::from(other),
                        rest: r.rest_bytes(),
                    });
                    break;
                }
            }
        }
        Ok(p)
    }

    /// The length of the properties themselves (without the property-length prefix).
    pub fn body_len(&self) -> usize {
        let s = |v: &Option<String>| v.as_ref().map_or(0, |s| 3 + s.len());
        let b = |v: &Option<Bytes>| v.as_ref().map_or(0, |b| 3 + b.len());
        let n = |present: bool, n: usize| if present { 1 + n } else { 0 };
        n(self.payload_format_indicator.is_some(), 1)
            + n(self.message_expiry_interval.is_some(), 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|&v| 1 + codec::varint_len(v as usize))
                .sum::<usize>()
            + n(self.session_expiry_interval.is_some(), 4)
            + s(&self.assigned_client_identifier)
            + n(self.server_keep_alive.is_some(), 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(self.request_problem_information.is_some(), 1)
            + n(self.will_delay_interval.is_some(), 4)
            + n(self.request_response_information.is_some(), 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(self.receive_maximum.is_some(), 2)
            + n(self.topic_alias_maximum.is_some(), 2)
            + n(self.topic_alias.is_some(), 2)
            + n(self.maximum_qos.is_some(), 1)
            + n(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 5 + k.len() + v.len())
                .sum::<usize>()
            + n(self.maximum_packet_size.is_some(), 4)
            + n(self.wildcard_subscription_available.is_some(), 1)
            + n(self.subscription_identifier_available.is_some(), 1)
            + n(self.shared_subscription_available.is_some(), 1)
            + self
                .unknown
                .as_ref()
                .map_or(0, |u| codec::varint_len(u.id as usize) + u.rest.len())
    }

    /// The whole block on the wire: property length plus properties.
    pub fn wire_len(&self) -> usize {
        let body = self.body_len();
        codec::varint_len(body) + body
    }

    /// Check that every field fits its wire type before anything is written.
    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        let strings = [
            ("content type", &self.content_type),
            ("response topic", &self.response_topic),
            ("assigned client identifier", &self.assigned_client_identifier),
            ("authentication method", &self.authentication_method),
            ("response information", &self.response_information),
            ("server reference", &self.server_reference),
            ("reason string", &self.reason_string),
        ];
        for (what, s) in strings {
            if let Some(s) = s {
                super::check_encode_str(what, s)?;
            }
        }
        for (k, v) in &self.user_properties {
            super::check_encode_str("user property name", k)?;
            super::check_encode_str("user property value", v)?;
        }
        for (what, b) in [
            ("correlation data", &self.correlation_data),
            ("authentication data", &self.authentication_data),
        ] {
            if let Some(b) = b {
                super::check_encode_binary(what, b)?;
            }
        }
        for &v in &self.subscription_identifiers {
            if v == 0 || v > codec::MAX_VARINT {
                return Err(EncodeError::Invalid(format!(
                    "subscription identifier {v} is outside 1..=268435455"
                )));
            }
        }
        if self.receive_maximum == Some(0) || self.maximum_packet_size == Some(0) {
            return Err(EncodeError::Invalid(
                "receive maximum and maximum packet size cannot be 0 (MQTT 5.0 §3.1.2.11)".into(),
            ));
        }
        if self.body_len() > codec::MAX_VARINT as usize {
            return Err(EncodeError::TooLong(self.body_len()));
        }
        Ok(())
    }

    /// Write the block: property length plus properties (call [`Properties::check`] first).
    pub(crate) fn write(&self, out: &mut impl BufMut) {
        use id::*;
        codec::write_varint(out, self.body_len());
        macro_rules! put {
            ($ident:expr, $v:expr, u8) => {
                if let Some(v) = $v {
                    out.put_u8($ident);
                    out.put_u8(v.into());
                }
            };
            ($ident:expr, $v:expr, u16) => {
                if let Some(v) = $v {
                    out.put_u8($ident);
                    out.put_u16(v);
                }
            };
            ($ident:expr, $v:expr, u32) => {
                if let Some(v) = $v {
                    out.put_u8($ident);
                    out.put_u32(v);
                }
            };
            ($ident:expr, $v:expr, str) => {
                if let Some(v) = &$v {
                    out.put_u8($ident);
                    codec::write_str(out, v);
                }
            };
            ($ident:expr, $v:expr, bin) => {
                if let Some(v) = &$v {
                    out.put_u8($ident);
                    codec::write_binary(out, v);
                }
            };
        }
        // The order is the table's (§2.2.2.2); the spec allows any order, receivers must not care.
        put!(PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator, u8);
        put!(MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval, u32);
        put!(CONTENT_TYPE, self.content_type, str);
        put!(RESPONSE_TOPIC, self.response_topic, str);
        put!(CORRELATION_DATA, self.correlation_data, bin);
        for &v in &self.subscription_identifiers {
            out.put_u8(SUBSCRIPTION_IDENTIFIER);
            codec::write_varint(out, v as usize);
        }
        put!(SESSION_EXPIRY_INTERVAL, self.session_expiry_interval, u32);
        put!(ASSIGNED_CLIENT_IDENTIFIER, self.assigned_client_identifier, str);
        put!(SERVER_KEEP_ALIVE, self.server_keep_alive, u16);
        put!(AUTHENTICATION_METHOD, self.authentication_method, str);
        put!(AUTHENTICATION_DATA, self.authentication_data, bin);
        put!(REQUEST_PROBLEM_INFORMATION, self.request_problem_information, u8);
        put!(WILL_DELAY_INTERVAL, self.will_delay_interval, u32);
        put!(
            REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
            u8
        );
        put!(RESPONSE_INFORMATION, self.response_information, str);
        put!(SERVER_REFERENCE, self.server_reference, str);
        put!(REASON_STRING, self.reason_string, str);
        put!(RECEIVE_MAXIMUM, self.receive_maximum, u16);
        put!(TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum, u16);
        put!(TOPIC_ALIAS, self.topic_alias, u16);
        put!(MAXIMUM_QOS, self.maximum_qos.map(QoS::bits), u8);
        put!(RETAIN_AVAILABLE, self.retain_available, u8);
        for (k, v) in &self.user_properties {
            out.put_u8(USER_PROPERTY);
            codec::write_str(out, k);
            codec::write_str(out, v);
        }
        put!(MAXIMUM_PACKET_SIZE, self.maximum_packet_size, u32);
        put!(
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
            u8
        );
        put!(
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available,
            u8
        );
        put!(
            SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
            u8
        );
        if let Some(u) = &self.unknown {
            codec::write_varint(out, u.id as usize);
            out.put_slice(&u.rest);
        }
    }
}

impl fmt::Display for Properties {
    /// The properties that are set, as `name=value` separated by spaces (empty when none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        macro_rules! show {
            ($name:literal, $v:expr) => {
                if let Some(v) = &$v {
                    write!(f, "{sep}{}={}", $name, v)?;
                    sep = " ";
                }
            };
            ($name:literal, $v:expr, bytes) => {
                if let Some(v) = &$v {
                    write!(f, "{sep}{}=<{} bytes>", $name, v.len())?;
                    sep = " ";
                }
            };
        }
        show!("payload-format", self.payload_format_indicator);
        show!("message-expiry", self.message_expiry_interval);
        show!("content-type", self.content_type);
        show!("response-topic", self.response_topic);
        show!("correlation-data", self.correlation_data, bytes);
        for v in &self.subscription_identifiers {
            write!(f, "{sep}subscription-id={v}")?;
            sep = " ";
        }
        show!("session-expiry", self.session_expiry_interval);
        show!("assigned-client-id", self.assigned_client_identifier);
        show!("server-keep-alive", self.server_keep_alive);
        show!("auth-method", self.authentication_method);
        show!("auth-data", self.authentication_data, bytes);
        show!("request-problem-info", self.request_problem_information);
        show!("will-delay", self.will_delay_interval);
        show!("request-response-info", self.request_response_information);
        show!("response-info", self.response_information);
        show!("server-reference", self.server_reference);
        show!("reason", self.reason_string);
        show!("receive-maximum", self.receive_maximum);
        show!("topic-alias-maximum", self.topic_alias_maximum);
        show!("topic-alias", self.topic_alias);
        show!("maximum-qos", self.maximum_qos);
        show!("retain-available", self.retain_available);
        for (k, v) in &self.user_properties {
            write!(f, "{sep}user:{k}={v}")?;
            sep = " ";
        }
        show!("maximum-packet-size", self.maximum_packet_size);
        show!("wildcards-available", self.wildcard_subscription_available);
        show!(
            "subscription-ids-available",
            self.subscription_identifier_available
        );
        show!("shared-available", self.shared_subscription_available);
        if let Some(u) = &self.unknown {
            write!(f, "{sep}unknown-property=0x{:02x}(+{} bytes)", u.id, u.rest.len())?;
        }
        Ok(())
    }
}
