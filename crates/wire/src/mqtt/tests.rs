//! The codec quartet for MQTT, on real bytes: decode known frames, encode the same frames, round-trip,
//! and broken input (truncated, bad lengths, bad UTF-8, reserved flags, unknown values).
//!
//! The frames come from two places, each noted: the course's student capture
//! `testdata/pcaps/mqtt__ArsyaDin__MQTT.pcap` (paho-mqtt 2.x, MQTT 3.1.1, through Mosquitto 2.0), and
//! Mosquitto 2.0 with mosquitto_pub/mosquitto_sub 2.0 in MQTT 5.0, recorded through a logging TCP proxy.

use bytes::Bytes;

use super::*;
use crate::DecodeError;

// What the tests below decode with: the one decoder, made afresh for each packet, in the version the
// test says (a CONNECT in the middle of a test stream must not switch the packets after it).

/// One packet in version `v`, copied out of `buf`.
fn decode(buf: &[u8], v: Version) -> Result<(Packet, usize), Error> {
    Decoder::with_version(v).decode(buf)
}

/// The same with a Maximum Packet Size.
fn decode_with_limit(buf: &[u8], v: Version, max: usize) -> Result<(Packet, usize), Error> {
    Decoder::with_version(v).with_limit(max).decode(buf)
}

/// The same without copying (payloads are slices of `buf`).
fn decode_bytes(buf: &Bytes, v: Version, max: usize) -> Result<(Packet, usize), Error> {
    Decoder::with_version(v).with_limit(max).decode_bytes(buf)
}

/// Only framing: how long is the packet at the front of `buf`.
fn check(buf: &[u8]) -> Result<usize, Error> {
    Decoder::new().frame(buf)
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const V4: Version = Version::V3_1_1;
const V5: Version = Version::V5;

// ---- frames from the course's capture (paho-mqtt, MQTT 3.1.1) --------------------------------------

/// paho's CONNECT: 3.1.1, clean session, keep-alive 60, empty client id.
const PAHO_CONNECT: &str = "10 0c  0004 4d515454  04  02  003c  0000";
/// PUBLISH QoS 0 to `sister/temp/athonk`, payload `Suhu: 30°C` (the degree sign is c2 b0).
const PAHO_PUBLISH: &str = "30 1f  0012 7369737465722f74656d702f6174686f6e6b  537568753a203330c2b043";
/// CONNACK: no session present, accepted.
const MOSQ_CONNACK_V4: &str = "20 02  00 00";
/// SUBSCRIBE id 1, `sister/temp/athonk` QoS 0.
const PAHO_SUBSCRIBE: &str = "82 17  0001  0012 7369737465722f74656d702f6174686f6e6b 00";
/// SUBACK id 1, granted QoS 0.
const MOSQ_SUBACK_V4: &str = "90 03  0001 00";
const DISCONNECT: &str = "e0 00";

// ---- frames from mosquitto_pub / mosquitto_sub 2.0 and Mosquitto 2.0, MQTT 5.0 ----------------------

/// CONNECT v5, clean start, keep-alive 60, properties: session expiry 60; client id `sub5`.
const MOSQ_CONNECT_V5: &str = "10 19  0004 4d515454 05 02 003c  08 11 0000003c 21 0003  0004 73756235";
/// CONNACK v5: accepted; properties: topic alias maximum 10, receive maximum 20.
const MOSQ_CONNACK_V5: &str = "20 09  00 00  06 22 000a 21 0014";
/// SUBSCRIBE v5 id 1, properties: subscription identifier 7; `sister/#` with QoS 2.
const MOSQ_SUBSCRIBE_V5: &str = "82 10  0001  02 0b 07  0008 7369737465722f23 02";
/// SUBACK v5 id 1, no properties, granted QoS 2.
const MOSQ_SUBACK_V5: &str = "90 04  0001 00 02";
/// CONNECT v5 with a will: will QoS 1, will delay 5 s, `sister/will` = `bye`.
const MOSQ_CONNECT_WILL_V5: &str = "10 2c  0004 4d515454 05 0e 003c  03 21 0014  0004 70756235
     05 18 00000005  000b 7369737465722f77696c6c  0003 627965";
/// PUBLISH v5 QoS 2 id 1 with a user property k=v and a message expiry of 30 s.
const MOSQ_PUBLISH_V5: &str = "34 27  000b 7369737465722f74656d70 0001
     0c 26 0001 6b 0001 76 02 0000001e  537568753a203238c2b043";
const PUBREC_1: &str = "50 02 0001";
const PUBREL_1: &str = "62 02 0001";
const PUBCOMP_1: &str = "70 02 0001";
/// The broker's forward to the subscriber: same message, plus subscription identifier 7.
const MOSQ_FORWARD_V5: &str = "34 29  000b 7369737465722f74656d70 0001
     0e 0b 07 26 0001 6b 0001 76 02 0000001e  537568753a203238c2b043";
/// PUBLISH v5 QoS 1, retain, id 1, no properties, `q1`.
const MOSQ_PUBLISH_RETAIN_V5: &str = "33 12  000b 7369737465722f74656d70 0001 00 7131";
const PUBACK_1: &str = "40 02 0001";
/// CONNECT 3.1.1 with user name `user` and password `pw`, client id `pub3`.
const MOSQ_CONNECT_USER: &str = "10 1a  0004 4d515454 04 c2 003c  0004 70756233  0004 75736572  0002 7077";

fn all_known() -> Vec<(&'static str, Version)> {
    vec![
        (PAHO_CONNECT, V4),
        (PAHO_PUBLISH, V4),
        (MOSQ_CONNACK_V4, V4),
        (PAHO_SUBSCRIBE, V4),
        (MOSQ_SUBACK_V4, V4),
        (DISCONNECT, V4),
        (MOSQ_CONNECT_V5, V5),
        (MOSQ_CONNACK_V5, V5),
        (MOSQ_SUBSCRIBE_V5, V5),
        (MOSQ_SUBACK_V5, V5),
        (MOSQ_CONNECT_WILL_V5, V5),
        (MOSQ_PUBLISH_V5, V5),
        (PUBREC_1, V5),
        (PUBREL_1, V5),
        (PUBCOMP_1, V5),
        (MOSQ_FORWARD_V5, V5),
        (MOSQ_PUBLISH_RETAIN_V5, V5),
        (PUBACK_1, V5),
        (MOSQ_CONNECT_USER, V4),
        (DISCONNECT, V5),
    ]
}

fn dec(frame: &str, v: Version) -> Packet {
    let bytes = hex(frame);
    let (p, used) = decode(&bytes, v).unwrap_or_else(|e| panic!("{frame}: {e}"));
    assert_eq!(used, bytes.len(), "{frame}");
    p
}

fn enc(p: &Packet, v: Version) -> Vec<u8> {
    p.to_vec(v).unwrap()
}

#[test]
fn decodes_the_course_capture() {
    assert_eq!(
        dec(PAHO_CONNECT, V4),
        Packet::Connect(Box::new(Connect {
            version: V4,
            client_id: String::new(),
            clean_start: true,
            keep_alive: 60,
            ..Default::default()
        }))
    );
    assert_eq!(
        dec(PAHO_PUBLISH, V4),
        Packet::Publish(Publish::new("sister/temp/athonk", "Suhu: 30°C"))
    );
    assert_eq!(
        dec(MOSQ_CONNACK_V4, V4),
        Packet::ConnAck(ConnAck::accepted(false))
    );
    assert_eq!(
        dec(PAHO_SUBSCRIBE, V4),
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            subscriptions: vec![Subscription::new(
                "sister/temp/athonk",
                SubscriptionOptions::default()
            )],
            properties: Properties::default(),
        })
    );
    assert_eq!(
        dec(MOSQ_SUBACK_V4, V4),
        Packet::SubAck(SubAck {
            packet_id: 1,
            codes: vec![ReasonCode::GRANTED_QOS_0],
            properties: Properties::default(),
        })
    );
    assert_eq!(dec(DISCONNECT, V4), Packet::Disconnect(Disconnect::default()));
    let Packet::Connect(c) = dec(MOSQ_CONNECT_USER, V4) else {
        panic!()
    };
    assert_eq!(
        (c.client_id.as_str(), c.username.as_deref(), c.password.as_deref()),
        ("pub3", Some("user"), Some(&b"pw"[..]))
    );
}

#[test]
fn decodes_mosquitto_v5() {
    let Packet::Connect(c) = dec(MOSQ_CONNECT_V5, V4) else {
        panic!("not a CONNECT")
    };
    // The CONNECT says 5 itself: the version passed in does not matter for it.
    assert_eq!(c.version, V5);
    assert_eq!(c.properties.session_expiry_interval, Some(60));
    assert_eq!(c.properties.receive_maximum, Some(3));
    assert_eq!(c.client_id, "sub5");

    let Packet::ConnAck(a) = dec(MOSQ_CONNACK_V5, V5) else {
        panic!()
    };
    assert_eq!(a.code, ReasonCode::Success);
    assert_eq!(a.properties.topic_alias_maximum, Some(10));
    assert_eq!(a.properties.receive_maximum, Some(20));

    let Packet::Subscribe(s) = dec(MOSQ_SUBSCRIBE_V5, V5) else {
        panic!()
    };
    assert_eq!(s.properties.subscription_identifiers, vec![7]);
    assert_eq!(s.subscriptions[0].filter, "sister/#");
    assert_eq!(s.subscriptions[0].options.qos, QoS::ExactlyOnce);

    let Packet::Connect(c) = dec(MOSQ_CONNECT_WILL_V5, V5) else {
        panic!()
    };
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (w.topic.as_str(), &w.payload[..], w.qos, w.retain),
        ("sister/will", &b"bye"[..], QoS::AtLeastOnce, false)
    );
    assert_eq!(w.properties.will_delay_interval, Some(5));

    let Packet::Publish(p) = dec(MOSQ_PUBLISH_V5, V5) else {
        panic!()
    };
    assert_eq!(
        (p.qos, p.packet_id, p.retain, p.dup),
        (QoS::ExactlyOnce, 1, false, false)
    );
    assert_eq!(p.properties.user_properties, vec![("k".into(), "v".into())]);
    assert_eq!(p.properties.message_expiry_interval, Some(30));
    assert_eq!(&p.payload[..], "Suhu: 28°C".as_bytes());

    let Packet::Publish(fwd) = dec(MOSQ_FORWARD_V5, V5) else {
        panic!()
    };
    assert_eq!(fwd.properties.subscription_identifiers, vec![7]);

    let Packet::Publish(r) = dec(MOSQ_PUBLISH_RETAIN_V5, V5) else {
        panic!()
    };
    assert!(r.retain && r.qos == QoS::AtLeastOnce);

    assert_eq!(dec(PUBREC_1, V5), Packet::PubRec(Ack::new(1)));
    assert_eq!(dec(PUBREL_1, V5), Packet::PubRel(Ack::new(1)));
    assert_eq!(dec(PUBCOMP_1, V5), Packet::PubComp(Ack::new(1)));
    assert_eq!(dec(PUBACK_1, V4), Packet::PubAck(Ack::new(1)));
}

#[test]
fn encodes_the_same_bytes() {
    // Every known frame whose properties (if any) are in the order this encoder writes them comes
    // back byte for byte. Mosquitto writes some properties in another order (user property before
    // expiry interval in PUBLISH, receive maximum before topic alias maximum in CONNACK); the
    // spec lets properties come in any order, so those are compared decoded (see round_trips).
    for (frame, v) in all_known() {
        if [MOSQ_PUBLISH_V5, MOSQ_FORWARD_V5, MOSQ_CONNECT_V5, MOSQ_CONNACK_V5].contains(&frame) {
            continue;
        }
        assert_eq!(enc(&dec(frame, v), v), hex(frame), "{frame}");
    }
    // Built from scratch: the course's message.
    let p = Packet::Publish(Publish::new("sister/temp", "Suhu: 28°C"));
    assert_eq!(
        enc(&p, V4),
        hex("30 18 000b 7369737465722f74656d70 537568753a203238c2b043")
    );
    assert_eq!(enc(&Packet::PingReq, V4), [0xc0, 0x00]);
    assert_eq!(enc(&Packet::PingResp, V5), [0xd0, 0x00]);
}

#[test]
fn round_trips_known_frames() {
    for (frame, v) in all_known() {
        let p = dec(frame, v);
        let again = enc(&p, v);
        let (p2, used) = decode(&again, v).unwrap();
        assert_eq!((&p2, used), (&p, again.len()), "{frame}");
        assert_eq!(p.encoded_len(v), again.len());
    }
}

/// Every packet kind with every field used, for both versions.
fn samples(v: Version) -> Vec<Packet> {
    let v5 = v.is_v5();
    let props = |p: Properties| if v5 { p } else { Properties::default() };
    let full = Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(3600),
        content_type: Some("text/plain".into()),
        response_topic: Some("sister/reply".into()),
        correlation_data: Some(Bytes::from_static(b"\x01\x02")),
        subscription_identifiers: vec![1, 268_435_455],
        session_expiry_interval: Some(0xffff_ffff),
        assigned_client_identifier: Some("auto-1".into()),
        server_keep_alive: Some(30),
        authentication_method: Some("SCRAM-SHA-1".into()),
        authentication_data: Some(Bytes::from_static(b"nonce")),
        request_problem_information: Some(false),
        will_delay_interval: Some(5),
        request_response_information: Some(true),
        response_information: Some("sister/responses".into()),
        server_reference: Some("other:1883".into()),
        reason_string: Some("because".into()),
        receive_maximum: Some(65535),
        topic_alias_maximum: Some(10),
        topic_alias: Some(3),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(true),
        user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
        maximum_packet_size: Some(1 << 20),
        wildcard_subscription_available: Some(false),
        subscription_identifier_available: Some(true),
        shared_subscription_available: Some(true),
        unknown: None,
    };
    let reason = |r: ReasonCode| if v5 { r } else { ReasonCode::Success };
    let mut out = vec![
        Packet::Connect(Box::new(Connect {
            version: v,
            client_id: "sister-pub-1".into(),
            clean_start: false,
            keep_alive: 0xffff,
            will: Some(Will {
                topic: "sister/status".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: props(Properties {
                    will_delay_interval: Some(10),
                    ..Default::default()
                }),
            }),
            username: Some("mahasiswa".into()),
            password: Some(Bytes::from_static(b"\x00rahasia")),
            properties: props(full.clone()),
        })),
        Packet::Connect(Box::new(Connect {
            version: v,
            ..Default::default()
        })),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: if v5 {
                ReasonCode::Banned
            } else {
                ReasonCode::NotAuthorized
            },
            properties: props(full.clone()),
        }),
        Packet::ConnAck(ConnAck::accepted(false)),
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "sister/channel/gaming".into(),
            packet_id: 65535,
            properties: props(full.clone()),
            payload: Bytes::from("Ada kanal Youtube baru nih: @sister"),
        }),
        Packet::Publish(Publish::new("/", Bytes::new())),
        Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            packet_id: 1,
            payload: Bytes::from(vec![0u8; 70_000]),
            ..Publish::new("big", Bytes::new())
        }),
        Packet::Subscribe(Subscribe {
            packet_id: 7,
            subscriptions: vec![
                Subscription::new("sister/#", SubscriptionOptions::qos(QoS::AtLeastOnce)),
                Subscription::new(
                    "$share/g/+/temp",
                    if v5 {
                        SubscriptionOptions {
                            qos: QoS::ExactlyOnce,
                            no_local: true,
                            retain_as_published: true,
                            retain_handling: RetainHandling::DoNotSend,
                        }
                    } else {
                        SubscriptionOptions::qos(QoS::ExactlyOnce)
                    },
                ),
            ],
            properties: props(Properties {
                subscription_identifiers: vec![42],
                ..Default::default()
            }),
        }),
        Packet::SubAck(SubAck {
            packet_id: 7,
            codes: vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::UnspecifiedError,
                ReasonCode::Success,
            ],
            properties: props(full.clone()),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 8,
            filters: vec!["sister/#".into(), "a/b".into()],
            properties: props(full.clone()),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 8,
            codes: if v5 {
                vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
            } else {
                vec![]
            },
            properties: props(full.clone()),
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: reason(ReasonCode::SessionTakenOver),
            properties: props(full.clone()),
        }),
        Packet::Disconnect(Disconnect::default()),
    ];
    for r in [ReasonCode::Success, ReasonCode::NoMatchingSubscribers] {
        let ack = Ack {
            packet_id: 300,
            reason: reason(r),
            properties: props(Properties {
                reason_string: Some("none".into()),
                ..Default::default()
            }),
        };
        out.push(Packet::PubAck(ack.clone()));
        out.push(Packet::PubRec(ack.clone()));
        out.push(Packet::PubRel(ack.clone()));
        out.push(Packet::PubComp(ack));
    }
    if v5 {
        out.push(Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: full,
        }));
        out.push(Packet::Auth(Auth::default()));
        out.push(Packet::PubAck(Ack {
            packet_id: 1,
            reason: ReasonCode::Unknown(0x42),
            properties: Properties::default(),
        }));
        out.push(Packet::Publish(Publish {
            topic: String::new(),
            properties: Properties {
                topic_alias: Some(1),
                ..Default::default()
            },
            ..Publish::new("", "aliased")
        }));
    }
    out
}

#[test]
fn round_trips_every_packet_kind_in_both_versions() {
    for v in [Version::V3_1, V4, V5] {
        let mut stream = Vec::new();
        let all = samples(v);
        for p in &all {
            let bytes = enc(p, v);
            assert_eq!(bytes.len(), p.encoded_len(v), "{p}");
            let (back, used) = decode(&bytes, v).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!((&back, used), (p, bytes.len()), "v{v}");
            stream.extend_from_slice(&bytes);
        }
        // Back to back in one buffer, as they arrive on a TCP stream.
        let mut at = 0;
        for p in &all {
            assert_eq!(check(&stream[at..]).unwrap(), p.encoded_len(v));
            let (back, used) = decode(&stream[at..], v).unwrap();
            assert_eq!(&back, p);
            at += used;
        }
        assert_eq!(at, stream.len());
    }
}

#[test]
fn every_truncation_is_incomplete() {
    for v in [V4, V5] {
        let mut frames: Vec<Vec<u8>> = samples(v).iter().map(|p| enc(p, v)).collect();
        frames.extend(all_known().into_iter().filter(|k| k.1 == v).map(|k| hex(k.0)));
        for bytes in frames {
            for cut in 0..bytes.len() {
                let e = decode(&bytes[..cut], v).unwrap_err();
                assert!(e.is_incomplete(), "cut at {cut} of {bytes:02x?}: {e}");
                // Framing alone says the same, and so does the crate-wide error it converts to.
                assert_eq!(check(&bytes[..cut]), Err(e.clone()));
                assert!(DecodeError::from(e.clone()).is_incomplete());
                if cut >= 2 {
                    // Once the length is read, the decoder says exactly how much is missing.
                    let len_known = codec::read_varint(&bytes[1..cut])
                        .is_ok_and(|r| matches!(r, codec::VarInt::Value(..)));
                    if len_known {
                        assert_eq!(
                            e,
                            Error::Incomplete {
                                needed: Some(bytes.len() - cut)
                            }
                        );
                    }
                }
            }
        }
    }
}

fn invalid(bytes: &[u8], v: Version) -> Error {
    match decode_with_limit(bytes, v, MAX_PACKET_SIZE) {
        Err(e) if !e.is_incomplete() => e,
        other => panic!("{bytes:02x?} should be invalid, got {other:?}"),
    }
}

#[test]
fn remaining_length_rules() {
    // Five length bytes: malformed at once, even before the body arrives (MQTT 5.0 §1.5.5).
    assert!(matches!(
        invalid(&hex("30 ff ff ff ff 01"), V4),
        Error::Malformed(_)
    ));
    // The maximum length is merely incomplete...
    assert!(decode(&hex("30 ff ff ff 7f 00"), V4).unwrap_err().is_incomplete());
    // ...unless it is over the receiver's limit, which is known from the header alone.
    assert_eq!(
        decode_with_limit(&hex("30 ff ff ff 7f"), V4, 1 << 20),
        Err(Error::TooLarge {
            size: 268_435_460,
            max: 1 << 20
        })
    );
    assert_eq!(
        Decoder::new().with_limit(1 << 20).frame(&hex("30 ff ff ff 7f")),
        Err(Error::TooLarge {
            size: 268_435_460,
            max: 1 << 20
        })
    );
    // In the crate-wide shape (ARCHITECTURE.md's codec contract) it is Invalid, saying why.
    let e = DecodeError::from(decode_with_limit(&hex("30 ff ff ff 7f"), V4, 1 << 20).unwrap_err());
    assert!(
        matches!(&e, DecodeError::Invalid(why) if why.contains("larger than the maximum")),
        "{e}"
    );
    // A remaining length shorter than the fields it must hold: the body lies.
    assert!(matches!(invalid(&hex("30 01 00"), V4), Error::Malformed(_)));
    assert!(matches!(invalid(&hex("30 03 00 05 61"), V4), Error::Malformed(_)));
    assert!(matches!(invalid(&hex("40 01 00"), V4), Error::Malformed(_)));
    // Longer than its fields where the spec fixes the length.
    assert!(matches!(invalid(&hex("40 03 00 01 00"), V4), Error::Malformed(_)));
    assert!(matches!(invalid(&hex("c0 01 00"), V4), Error::Malformed(_)));
    assert!(matches!(invalid(&hex("e0 01 00"), V4), Error::Malformed(_)));
    // A non-minimal length is accepted (as Mosquitto does) and re-encoded minimally.
    let (p, used) = decode(&hex("c0 80 00"), V4).unwrap();
    assert_eq!((p, used), (Packet::PingReq, 3));
}

#[test]
fn utf8_rules() {
    // PUBLISH with topic "a" + 0xff: not UTF-8 (MQTT 3.1.1 §1.5.3).
    assert!(matches!(
        invalid(&hex("30 05 0002 61ff 78"), V4),
        Error::Malformed(_)
    ));
    // U+0000 in a topic.
    assert!(matches!(
        invalid(&hex("30 05 0002 6100 78"), V4),
        Error::Malformed(_)
    ));
    // An encoded surrogate half (ED A0 80) in a client id.
    assert!(matches!(
        invalid(&hex("10 0f 0004 4d515454 04 02 003c 0003 eda080"), V4),
        Error::Malformed(_)
    ));
    // Overlong encoding of '/' (C0 AF) in a filter.
    assert!(matches!(
        invalid(&hex("82 07 0001 0002 c0af 00"), V4),
        Error::Malformed(_)
    ));
    // The payload is not a string: any bytes are fine there.
    assert!(decode(&hex("30 05 0001 61 ff 00"), V4).is_ok());
    // Encoding refuses what the decoder would refuse.
    let nul = Packet::Publish(Publish::new("a\0b", "x"));
    assert!(matches!(nul.to_vec(V4), Err(EncodeError::NulInString(_))));
    let wild = Packet::Publish(Publish::new("sister/#", "x"));
    assert!(matches!(wild.to_vec(V4), Err(EncodeError::Invalid(_))));
    let long = Packet::Publish(Publish::new("x".repeat(70_000), "x"));
    assert!(matches!(long.to_vec(V4), Err(EncodeError::FieldTooLong { .. })));
}

#[test]
fn fixed_header_flag_rules() {
    // MQTT 3.1.1 §2.2.2: flags are fixed for every type but PUBLISH.
    for bad in [
        "00 00",
        "11 00",
        "21 02 0000",
        "42 02 0001",
        "60 02 0001",
        "80 02 0001",
        "a0 02 0001",
        "c1 00",
        "d8 00",
        "e2 00",
        "f1 00",
    ] {
        assert!(matches!(invalid(&hex(bad), V5), Error::Malformed(_)), "{bad}");
    }
    // Also detected from the first byte alone, before the rest has arrived.
    assert!(matches!(check(&[0x80]), Err(Error::Malformed(_))));
    assert!(matches!(check(&[0x00]), Err(Error::Malformed(_))));
    // PUBLISH: QoS 3, and DUP with QoS 0 (§3.3.1.1-2).
    assert!(matches!(
        invalid(&hex("36 05 0001 61 0001"), V4),
        Error::Malformed(_)
    ));
    assert!(matches!(invalid(&hex("38 03 0001 61"), V4), Error::Malformed(_)));
    // AUTH only exists in 5.0.
    assert!(matches!(invalid(&hex("f0 00"), V4), Error::Malformed(_)));
    assert_eq!(
        decode(&hex("f0 00"), V5).unwrap().0,
        Packet::Auth(Auth::default())
    );
}

#[test]
fn connect_rules() {
    // Reserved CONNECT flag bit 0 (§3.1.2.3).
    assert!(matches!(
        invalid(&hex("10 0c 0004 4d515454 04 03 003c 0000"), V4),
        Error::Malformed(_)
    ));
    // Will QoS without the will flag (§3.1.2.6).
    assert!(matches!(
        invalid(&hex("10 0c 0004 4d515454 04 0a 003c 0000"), V4),
        Error::Malformed(_)
    ));
    // Password without user name in 3.1.1 (§3.1.2.9); allowed in 5.0.
    assert!(matches!(
        invalid(&hex("10 10 0004 4d515454 04 42 003c 0000 0002 7077"), V4),
        Error::Malformed(_)
    ));
    assert!(decode(&hex("10 11 0004 4d515454 05 42 003c 00 0000 0002 7077"), V5).is_ok());
    // An unknown protocol level: the server answers "unsupported protocol version".
    let e = invalid(&hex("10 0c 0004 4d515454 06 02 003c 0000"), V4);
    assert_eq!(e.reason_code(), Some(ReasonCode::UnsupportedProtocolVersion));
    // MQTT 3.1's name and level.
    let (p, _) = decode(&hex("10 0e 0006 4d5149736470 03 02 003c 0000"), V4).unwrap();
    assert!(matches!(p, Packet::Connect(c) if c.version == Version::V3_1));
}

#[test]
fn content_rules() {
    // Wildcards in a PUBLISH topic (§3.3.2.1), an empty topic in 3.1.1, packet id 0 (§2.3.1).
    assert!(matches!(
        invalid(&hex("30 05 0003 612f23"), V4),
        Error::Malformed(_)
    ));
    assert!(matches!(invalid(&hex("30 03 0001 2b"), V4), Error::Malformed(_)));
    assert!(matches!(invalid(&hex("30 02 0000"), V4), Error::Malformed(_)));
    assert!(decode(&hex("30 03 0000 00"), V5).is_ok());
    assert!(matches!(
        invalid(&hex("32 05 0001 61 0000"), V4),
        Error::Malformed(_)
    ));
    assert!(matches!(invalid(&hex("40 02 0000"), V4), Error::Malformed(_)));
    // A SUBSCRIBE without filters; reserved option bits in 3.1.1 and 5.0; retain handling 3.
    assert!(matches!(invalid(&hex("82 02 0001"), V4), Error::Protocol(_)));
    assert!(matches!(
        invalid(&hex("82 06 0001 0001 61 04"), V4),
        Error::Malformed(_)
    ));
    assert!(matches!(
        invalid(&hex("82 07 0001 00 0001 61 40"), V5),
        Error::Malformed(_)
    ));
    assert!(matches!(
        invalid(&hex("82 07 0001 00 0001 61 30"), V5),
        Error::Protocol(_)
    ));
    // A property twice (§2.2.2.2) and a boolean property with value 2.
    assert!(matches!(
        invalid(&hex("30 0e 0001 61 0a 02 00000001 02 00000001"), V5),
        Error::Protocol(_)
    ));
    assert!(matches!(
        invalid(&hex("20 05 00 00 02 25 02"), V5),
        Error::Protocol(_)
    ));
    // A property block longer than the packet.
    assert!(matches!(
        invalid(&hex("30 04 0001 61 09"), V5),
        Error::Malformed(_)
    ));
}

#[test]
fn unknown_values_are_kept() {
    // PUBACK v5 with reason 0x42 (not in the spec) and an unknown property 0x7f with two bytes after it.
    let bytes = hex("40 07 0001 42 03 7f abcd");
    let (p, _) = decode(&bytes, V5).unwrap();
    let Packet::PubAck(a) = &p else { panic!() };
    assert_eq!(a.reason, ReasonCode::Unknown(0x42));
    assert_eq!(
        a.properties.unknown,
        Some(UnknownProperty {
            id: 0x7f,
            rest: Bytes::from_static(&[0xab, 0xcd])
        })
    );
    assert!(a.properties.check_known().is_err());
    assert_eq!(p.to_vec(V5).unwrap(), bytes);
    assert_eq!(
        p.to_string(),
        "PUBACK id=1 0x42 unknown reason code {unknown-property=0x7f(+2 bytes)}"
    );
    // An unknown 3.1.1 CONNACK return code.
    let (p, _) = decode(&hex("20 02 00 09"), V4).unwrap();
    assert_eq!(
        p,
        Packet::ConnAck(ConnAck {
            code: ReasonCode::Unknown(9),
            ..Default::default()
        })
    );
    assert_eq!(p.to_vec(V4).unwrap(), hex("20 02 00 09"));
}

#[test]
fn v3_connack_codes_translate() {
    for code in 0..=5u8 {
        let bytes = [0x20, 0x02, 0x00, code];
        let (p, _) = decode(&bytes, V4).unwrap();
        assert_eq!(p.to_vec(V4).unwrap(), bytes);
    }
    let refuse = Packet::ConnAck(ConnAck {
        code: ReasonCode::BadUserNameOrPassword,
        ..Default::default()
    });
    assert_eq!(refuse.to_vec(V4).unwrap(), [0x20, 0x02, 0x00, 0x04]);
    assert_eq!(refuse.to_vec(V5).unwrap(), [0x20, 0x03, 0x00, 0x86, 0x00]);
}

#[test]
fn one_line_display() {
    let cases = [
        (PAHO_CONNECT, V4, "CONNECT v3.1.1 client-id=\"\" clean-session keep-alive=60s"),
        (
            PAHO_PUBLISH,
            V4,
            "PUBLISH topic=sister/temp/athonk qos=0 payload=\"Suhu: 30°C\" (11 bytes)",
        ),
        (MOSQ_CONNACK_V4, V4, "CONNACK 0x00 success"),
        (PAHO_SUBSCRIBE, V4, "SUBSCRIBE id=1 [sister/temp/athonk qos=0]"),
        (MOSQ_SUBACK_V5, V5, "SUBACK id=1 [granted QoS 2]"),
        (DISCONNECT, V4, "DISCONNECT normal"),
        (
            MOSQ_FORWARD_V5,
            V5,
            "PUBLISH topic=sister/temp qos=2 id=1 payload=\"Suhu: 28°C\" (11 bytes) {message-expiry=30 subscription-id=7 user:k=v}",
        ),
        (PUBREL_1, V5, "PUBREL id=1"),
    ];
    for (frame, v, line) in cases {
        assert_eq!(dec(frame, v).to_string(), line);
    }
    for v in [V4, V5] {
        for p in samples(v) {
            let line = p.to_string();
            assert!(!line.contains('\n') && line.len() < 1000, "{line}");
        }
    }
}

/// A small deterministic generator, so the mutation test needs no dependency and always runs the
/// same inputs (a failure can be reproduced from the seed it prints).
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What the fuzz target checks, on every input: no panic; whatever decodes re-encodes, and the
/// re-encoding decodes to the same packet.
pub(crate) fn decode_invariants(data: &[u8], v: Version) {
    let mut rest = data;
    while !rest.is_empty() {
        let shared = decode_bytes(&Bytes::copy_from_slice(rest), v, MAX_PACKET_SIZE);
        let copied = decode_with_limit(rest, v, MAX_PACKET_SIZE);
        assert_eq!(shared, copied, "decode_bytes and decode disagree");
        match copied {
            Ok((p, used)) => {
                assert!(used > 0 && used <= rest.len());
                let _ = p.to_string();
                let bytes = p
                    .to_vec(v)
                    .unwrap_or_else(|e| panic!("{p}: cannot re-encode: {e}"));
                let (again, _) = decode(&bytes, v).unwrap_or_else(|e| panic!("{p}: {e}"));
                assert_eq!(again, p);
                rest = &rest[used..];
            }
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        }
    }
}

#[test]
fn mutated_frames_never_panic_and_round_trip() {
    let mut seeds: Vec<(Vec<u8>, Version)> = all_known().into_iter().map(|(f, v)| (hex(f), v)).collect();
    for v in [V4, V5] {
        seeds.extend(samples(v).iter().map(|p| (enc(p, v), v)));
    }
    let mut rng = XorShift(0x5157_7e12_d15c_0de5);
    for round in 0..40_000 {
        let (seed, v) = &seeds[rng.below(seeds.len())];
        let mut data = seed.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(5) {
                0 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data[i] = rng.next() as u8;
                }
                1 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let i = rng.below(data.len() + 1);
                    data.insert(i, rng.next() as u8);
                }
                3 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data.remove(i);
                }
                _ => data.truncate(rng.below(data.len() + 1)),
            }
        }
        let version = if round % 7 == 0 { Version::V3_1_1 } else { *v };
        decode_invariants(&data, version);
    }
}

#[test]
fn seed_corpus_decodes() {
    // The fuzzer's seeds (testdata/fuzz/mqtt/): first byte = version, then a stream of packets. Each
    // seed must decode completely, so the fuzzer starts from inputs that reach deep into the decoder.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/mqtt");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let v = match data[0] % 3 {
            0 => V4,
            1 => V5,
            _ => Version::V3_1,
        };
        let mut rest = &data[1..];
        while !rest.is_empty() {
            let (_, used) = decode(rest, v).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            rest = &rest[used..];
        }
        decode_invariants(&data[1..], v);
        n += 1;
    }
    assert!(n >= 20, "only {n} seeds in {}", dir.display());
}

#[test]
fn decode_bytes_shares_the_payload() {
    let frame = Bytes::from(hex(MOSQ_PUBLISH_V5));
    let (p, used) = decode_bytes(&frame, V5, MAX_PACKET_SIZE).unwrap();
    assert_eq!(used, frame.len());
    let Packet::Publish(p) = p else { panic!() };
    // The payload points into the frame: no copy was made.
    let inside = frame.as_ptr_range();
    assert!(inside.contains(&p.payload.as_ptr()));
    assert_eq!(&p.payload[..], "Suhu: 28°C".as_bytes());
    // Same for binary fields inside properties (a will payload, correlation data).
    let frame = Bytes::from(hex(MOSQ_CONNECT_WILL_V5));
    let (c, _) = decode_bytes(&frame, V5, MAX_PACKET_SIZE).unwrap();
    let Packet::Connect(c) = c else { panic!() };
    let will = c.will.unwrap();
    assert!(frame.as_ptr_range().contains(&will.payload.as_ptr()));
    // From a slice, decode copies: the packet owns its data.
    let copy = hex(MOSQ_PUBLISH_V5);
    let (Packet::Publish(p), _) = decode(&copy, V5).unwrap() else {
        panic!()
    };
    assert!(!copy.as_ptr_range().contains(&p.payload.as_ptr()));
}

/// The TCP payload of each direction of each port-1883 connection in a classic pcap file (Ethernet or
/// Linux SLL2), ordered by sequence number; duplicate segments (the SLL2 captures hold every packet
/// twice) are dropped. Just enough TCP for this test; the analyzer does the real reassembly.
fn mqtt_streams(pcap: &[u8]) -> Vec<Vec<u8>> {
    use std::collections::BTreeMap;
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let linktype = u32le(&pcap[20..24]);
    /// (source and destination address, source port, destination port) -> segments by sequence number.
    type Flows = BTreeMap<(Vec<u8>, u16, u16), BTreeMap<u32, Vec<u8>>>;
    let mut flows = Flows::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let incl = u32le(&pcap[at + 8..at + 12]) as usize;
        let frame = &pcap[at + 16..at + 16 + incl];
        at += 16 + incl;
        let ip = match linktype {
            1 if frame[12..14] == [0x08, 0x00] => &frame[14..],
            276 if frame[0..2] == [0x08, 0x00] => &frame[20..],
            _ => continue,
        };
        if ip[9] != 6 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let tcp = &ip[ihl..total];
        let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        if sport != 1883 && dport != 1883 {
            continue;
        }
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        let data = &tcp[usize::from(tcp[12] >> 4) * 4..];
        if !data.is_empty() {
            let key = (ip[12..20].to_vec(), sport, dport);
            flows.entry(key).or_default().insert(seq, data.to_vec());
        }
    }
    flows
        .into_values()
        .map(|segments| segments.into_values().flatten().collect())
        .collect()
}

#[test]
fn decodes_every_mqtt_packet_of_the_course_captures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pcaps");
    // (file, PUBLISH packets in it, both directions: publisher -> broker -> subscriber), the counts
    // being tshark's (`tshark -T fields -e mqtt.msgtype`, first copies only for the SLL2 capture).
    for (file, publishes) in [
        ("mqtt__ArsyaDin__MQTT.pcap", 24),
        ("mqtt__achmadrzm__mqtt.pcap", 63),
        ("mqtt__RahmatAramadhan__captureMQTT.pcap", 516),
    ] {
        let pcap = std::fs::read(dir.join(file)).unwrap();
        let mut seen = 0;
        let mut lines = Vec::new();
        for stream in mqtt_streams(&pcap) {
            let mut d = Decoder::default();
            let (packets, used, err) = d.decode_all(&stream);
            assert_eq!((err, used), (None, stream.len()), "{file}");
            seen += packets.iter().filter(|p| matches!(p, Packet::Publish(_))).count();
            lines.extend(packets.iter().map(|p| p.to_string()));
        }
        assert!(
            lines.iter().any(|l| l.starts_with("PUBLISH topic=sister/temp")),
            "{file}: {lines:?}"
        );
        assert!(lines.iter().any(|l| l == "DISCONNECT normal"), "{file}");
        assert_eq!(seen, publishes, "{file}");
    }
}

#[test]
fn display_escapes_payloads_once() {
    let p = Packet::Publish(Publish::new("t", "say \"hi\"\n\u{0}\u{b0}"));
    assert_eq!(
        p.to_string(),
        r#"PUBLISH topic=t qos=0 payload="say \"hi\"\n\x00°" (12 bytes)"#
    );
    let long = Packet::Publish(Publish::new("t", "x".repeat(100)));
    assert!(long
        .to_string()
        .contains(&format!("\"{}…\" (100 bytes)", "x".repeat(64))));
}

#[test]
fn every_reason_code_byte_survives() {
    for b in 0..=255u8 {
        let code = ReasonCode::from_byte(b);
        assert_eq!(code.byte(), b);
        assert_eq!(code.is_success(), b < 0x80);
        assert!(!code.to_string().is_empty());
        // In a 5.0 DISCONNECT, on the wire and back.
        let p = Packet::Disconnect(Disconnect::new(code));
        let (back, _) = decode(&p.to_vec(V5).unwrap(), V5).unwrap();
        assert_eq!(back, p);
    }
}

#[test]
fn every_short_input_is_handled() {
    // All inputs of 1 and 2 bytes, and of 3 bytes for a spread of third bytes: no panic, and only
    // whole packets of at most the input's length.
    for v in [V4, V5] {
        for a in 0..=255u8 {
            let _ = decode(&[a], v);
            for b in 0..=255u8 {
                for c in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff] {
                    let input = [a, b, c];
                    for n in 2..=3 {
                        if let Ok((_, used)) = decode(&input[..n], v) {
                            assert!(used <= n);
                        }
                    }
                }
            }
        }
    }
}
