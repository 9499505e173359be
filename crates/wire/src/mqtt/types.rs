//! The small value types MQTT packets share: protocol version, QoS, reason codes, subscription options.

use std::fmt;

use super::Error;

/// The protocol version, from the CONNECT's protocol name and level (MQTT 3.1.1 §3.1.2.1-2,
/// 5.0 §3.1.2.1-2). Everything after CONNECT is read in the version the CONNECT named: 5.0 adds
/// properties and reason codes to almost every packet, so the same bytes mean different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// MQTT 3.1 (IBM's, protocol name `MQIsdp`, level 3): the same packets as 3.1.1 for our purposes.
    V3_1,
    /// MQTT 3.1.1 (OASIS 2014, protocol name `MQTT`, level 4): what paho-mqtt and the course use.
    V3_1_1,
    /// MQTT 5.0 (OASIS 2019, protocol name `MQTT`, level 5).
    V5,
}

impl Version {
    /// The protocol level byte of the CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Version::V3_1 => 3,
            Version::V3_1_1 => 4,
            Version::V5 => 5,
        }
    }

    /// The protocol name in the CONNECT: `MQIsdp` for 3.1, `MQTT` since 3.1.1.
    pub fn protocol_name(self) -> &'static str {
        match self {
            Version::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    pub fn from_level(level: u8) -> Option<Version> {
        match level {
            3 => Some(Version::V3_1),
            4 => Some(Version::V3_1_1),
            5 => Some(Version::V5),
            _ => None,
        }
    }

    pub fn is_v5(self) -> bool {
        self == Version::V5
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V3_1 => "3.1",
            Version::V3_1_1 => "3.1.1",
            Version::V5 => "5.0",
        })
    }
}

/// Quality of service (MQTT 3.1.1 §4.3): how hard sender and receiver work so a message arrives.
/// - 0, at most once: PUBLISH and forget;
/// - 1, at least once: PUBLISH, PUBACK; resent with DUP until acknowledged, so it may arrive twice;
/// - 2, exactly once: PUBLISH, PUBREC, PUBREL, PUBCOMP; the two round trips rule out duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// The two bits on the wire; 3 is malformed (MQTT 3.1.1 §3.3.1.2).
    pub fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    pub fn bits(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for QoS {
    type Error = Error;
    fn try_from(v: u8) -> Result<Self, Error> {
        QoS::from_bits(v).ok_or_else(|| Error::malformed(format!("QoS {v} does not exist (0, 1 or 2)")))
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// What the server does with retained messages when a subscription is made (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send the retained messages that match, at every SUBSCRIBE (3.1.1 always does this).
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if this subscription did not exist yet.
    SendIfNew = 1,
    /// 2: never send retained messages for this subscription.
    DoNotSend = 2,
}

/// The options byte after each topic filter in a SUBSCRIBE (MQTT 3.1.1 §3.8.3.1; 5.0 §3.8.3.1):
///
/// ```text
///   bit   7   6 | 5   4           | 3                   | 2        | 1   0
///      reserved | retain handling | retain as published | no local | maximum QoS
/// ```
///
/// In 3.1.1 only the QoS bits exist; the others are reserved and must be 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// The highest QoS the subscriber wants to receive messages with.
    pub qos: QoS,
    /// 5.0: do not send this client the messages it publishes itself.
    pub no_local: bool,
    /// 5.0: keep the RETAIN flag of forwarded messages as the publisher set it (otherwise it is cleared
    /// on messages forwarded live, and set only on retained messages sent because of a subscribe).
    pub retain_as_published: bool,
    /// 5.0: when to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Just a QoS, everything else at its 3.1.1 meaning.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Default::default()
        }
    }

    pub(crate) fn from_byte(b: u8, version: Version) -> Result<Self, Error> {
        let qos = QoS::from_bits(b & 0b11).ok_or_else(|| {
            Error::malformed("a subscription asks for QoS 3, which does not exist (MQTT 3.1.1 §3.8.3.1)")
        })?;
        if !version.is_v5() {
            if b & 0b1111_1100 != 0 {
                return Err(Error::malformed(format!(
                    "the reserved bits of a 3.1.1 subscription's options byte are set (0x{b:02x}; MQTT 3.1.1 §3.8.3.1)"
                )));
            }
            return Ok(SubscriptionOptions::qos(qos));
        }
        if b & 0b1100_0000 != 0 {
            return Err(Error::malformed(format!(
                "the reserved bits 6-7 of a subscription's options byte are set (0x{b:02x}; MQTT 5.0 §3.8.3.1)"
            )));
        }
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => {
                return Err(Error::protocol(
                    "retain handling 3 does not exist (MQTT 5.0 §3.8.3.1)",
                ))
            }
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0b100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }

    pub(crate) fn to_byte(self, version: Version) -> u8 {
        if !version.is_v5() {
            return self.qos.bits();
        }
        self.qos.bits()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }
}

impl fmt::Display for SubscriptionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "qos={}", self.qos)?;
        if self.no_local {
            f.write_str(" no-local")?;
        }
        if self.retain_as_published {
            f.write_str(" retain-as-published")?;
        }
        match self.retain_handling {
            RetainHandling::SendAtSubscribe => Ok(()),
            RetainHandling::SendIfNew => f.write_str(" retain-handling=if-new"),
            RetainHandling::DoNotSend => f.write_str(" retain-handling=never"),
        }
    }
}

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal; )*) => {
        /// An MQTT 5.0 reason code (MQTT 5.0 §2.4): one byte saying how an operation went; below 0x80 it
        /// went well, from 0x80 on it failed. Codes this codec does not know are kept as `Unknown(n)`.
        ///
        /// The byte 0x00 has three names in the spec: "Success", "Normal disconnection" (in DISCONNECT)
        /// and "Granted QoS 0" (in SUBACK); here it is [`ReasonCode::Success`].
        ///
        /// MQTT 3.1.1 has no reason codes but return codes in CONNACK (0 to 5) and SUBACK (0, 1, 2, 0x80).
        /// The SUBACK ones are the same bytes as in 5.0. The CONNACK ones are translated by the codec to
        /// and from their 5.0 equivalents (see [`ReasonCode::from_v3_connack`]), so a broker writes one
        /// reason code and the codec puts the right byte on the wire for each version.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum ReasonCode {
            /// 0x00: success / normal disconnection / granted QoS 0.
            #[default]
            Success,
            $( $(#[$doc])* $name, )*
            /// A code this codec does not know, kept as it was on the wire.
            Unknown(u8),
        }

        impl ReasonCode {
            pub fn from_byte(b: u8) -> ReasonCode {
                match b {
                    0x00 => ReasonCode::Success,
                    $( $value => ReasonCode::$name, )*
                    other => ReasonCode::Unknown(other),
                }
            }

            pub fn byte(self) -> u8 {
                match self {
                    ReasonCode::Success => 0x00,
                    $( ReasonCode::$name => $value, )*
                    ReasonCode::Unknown(b) => b,
                }
            }

            /// The spec's name for the code, in lower case, for logs.
            pub fn name(self) -> &'static str {
                match self {
                    ReasonCode::Success => "success",
                    $( ReasonCode::$name => $text, )*
                    ReasonCode::Unknown(_) => "unknown reason code",
                }
            }
        }
    };
}

reason_codes! {
    GrantedQoS1 = 0x01, "granted QoS 1";
    GrantedQoS2 = 0x02, "granted QoS 2";
    DisconnectWithWillMessage = 0x04, "disconnect with will message";
    NoMatchingSubscribers = 0x10, "no matching subscribers";
    NoSubscriptionExisted = 0x11, "no subscription existed";
    ContinueAuthentication = 0x18, "continue authentication";
    ReAuthenticate = 0x19, "re-authenticate";
    UnspecifiedError = 0x80, "unspecified error";
    MalformedPacket = 0x81, "malformed packet";
    ProtocolError = 0x82, "protocol error";
    ImplementationSpecificError = 0x83, "implementation specific error";
    UnsupportedProtocolVersion = 0x84, "unsupported protocol version";
    ClientIdentifierNotValid = 0x85, "client identifier not valid";
    BadUserNameOrPassword = 0x86, "bad user name or password";
    NotAuthorized = 0x87, "not authorized";
    ServerUnavailable = 0x88, "server unavailable";
    ServerBusy = 0x89, "server busy";
    Banned = 0x8A, "banned";
    ServerShuttingDown = 0x8B, "server shutting down";
    BadAuthenticationMethod = 0x8C, "bad authentication method";
    KeepAliveTimeout = 0x8D, "keep alive timeout";
    SessionTakenOver = 0x8E, "session taken over";
    TopicFilterInvalid = 0x8F, "topic filter invalid";
    TopicNameInvalid = 0x90, "topic name invalid";
    PacketIdentifierInUse = 0x91, "packet identifier in use";
    PacketIdentifierNotFound = 0x92, "packet identifier not found";
    ReceiveMaximumExceeded = 0x93, "receive maximum exceeded";
    TopicAliasInvalid = 0x94, "topic alias invalid";
    PacketTooLarge = 0x95, "packet too large";
    MessageRateTooHigh = 0x96, "message rate too high";
    QuotaExceeded = 0x97, "quota exceeded";
    AdministrativeAction = 0x98, "administrative action";
    PayloadFormatInvalid = 0x99, "payload format invalid";
    RetainNotSupported = 0x9A, "retain not supported";
    QoSNotSupported = 0x9B, "QoS not supported";
    UseAnotherServer = 0x9C, "use another server";
    ServerMoved = 0x9D, "server moved";
    SharedSubscriptionsNotSupported = 0x9E, "shared subscriptions not supported";
    ConnectionRateExceeded = 0x9F, "connection rate exceeded";
    MaximumConnectTime = 0xA0, "maximum connect time";
    SubscriptionIdentifiersNotSupported = 0xA1, "subscription identifiers not supported";
    WildcardSubscriptionsNotSupported = 0xA2, "wildcard subscriptions not supported";
}

impl ReasonCode {
    /// 0x00 in a DISCONNECT (MQTT 5.0 §3.14.2.1).
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode::Success;
    /// 0x00 in a SUBACK (MQTT 5.0 §3.9.3).
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode::Success;

    /// Below 0x80: the operation succeeded.
    pub fn is_success(self) -> bool {
        self.byte() < 0x80
    }

    /// The SUBACK code that grants `qos`.
    pub fn granted(qos: QoS) -> ReasonCode {
        match qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
        }
    }

    /// A 3.1.1 CONNACK return code (MQTT 3.1.1 §3.2.2.3) as its 5.0 equivalent.
    pub fn from_v3_connack(code: u8) -> ReasonCode {
        match code {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            other => ReasonCode::Unknown(other),
        }
    }

    /// The 3.1.1 CONNACK return code for this reason: the five 3.1.1 knows map to themselves, every other
    /// refusal becomes 3 "server unavailable" (3.1.1 has nothing closer), an unknown code stays itself.
    pub fn to_v3_connack(self) -> u8 {
        match self {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::ServerUnavailable => 3,
            ReasonCode::BadUserNameOrPassword => 4,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 5,
            ReasonCode::Unknown(b) => b,
            _ => 3,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x} {}", self.byte(), self.name())
    }
}

impl From<u8> for ReasonCode {
    fn from(b: u8) -> Self {
        ReasonCode::from_byte(b)
    }
}
