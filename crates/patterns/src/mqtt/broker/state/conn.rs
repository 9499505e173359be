//! What the protocol keeps per network connection rather than per session, and the bytes it decides:
//! topic aliases both ways and the client's Maximum Packet Size (MQTT 5.0). A session outlives its
//! connections (§4.1); these do not: "Topic Alias mappings exist only within a Network Connection and
//! last only for the lifetime of that Network Connection" (§3.3.2.3.4), and the Maximum Packet Size is
//! the one the CONNECT of this connection gave (§3.1.2.11.4). So they live in [`ConnRules`], which the
//! server keeps beside the connection's socket (it is dropped with it), not in the [`Session`].
//!
//! What to notice:
//! - the client's limits decide what is written, so turning an [`Out`] into bytes happens here
//!   ([`ConnRules::encode`]): only the encoded size says whether a PUBLISH fits;
//! - an outgoing alias is remembered only once the PUBLISH that introduces it is really written: a
//!   PUBLISH too large to send never tells the client the alias, and a later alias-only PUBLISH would
//!   name an alias the client does not know;
//! - a QoS 1/2 delivery too large to send is acknowledged on the client's behalf
//!   ([`Broker::ack_skipped`]), or it would hold a place of the in-flight window forever.
//!
//! Few connections use any of this (3.1.1 has none of it, most 5.0 clients set no alias maximum and
//! no packet limit), so what it remembers is boxed and allocated the first time it is needed: the
//! common connection stays small (it is in every connected client's `Conn`, parked or not).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use wire::mqtt::{self, Ack, Packet, Properties, Publish, SubAck, UnsubAck, Version};

#[cfg(doc)]
use super::{Broker, Session};
use super::{Message, Out, QoS, ReasonCode, Violation};

/// One network connection's MQTT rules (see the module's comment). 16 bytes, one pointer of them for
/// what few connections need.
pub struct ConnRules {
    /// The rarer state, allocated the first time it is needed.
    extra: Option<Box<Remembered>>,
    /// The client's Maximum Packet Size (5.0 §3.1.2.11.4): larger packets are not sent to it.
    max_packet_out: u32,
    /// Topic aliases the client accepts from us (5.0 §3.1.2.11.5, Topic Alias Maximum; 0: none).
    alias_max_out: u16,
    version: Version,
    /// 5.0 Request Problem Information (§3.1.2.11.7): reason strings only if the client wants them.
    problem_info: bool,
}

/// What the rules remember, for the connections that use them.
#[derive(Default)]
struct Remembered {
    /// Topic aliases we assigned towards the client (5.0 §3.3.2.3.4).
    aliases_out: HashMap<Arc<str>, u16>,
    /// Topic aliases the client set for its PUBLISHes to us.
    aliases_in: HashMap<u16, String>,
    /// QoS 1/2 deliveries not sent because they were too large for the client (packet id, QoS):
    /// acknowledged on its behalf by [`Broker::ack_skipped`].
    skipped: Vec<(u16, QoS)>,
}

impl ConnRules {
    /// The rules a CONNECT in `version` with these properties sets.
    pub fn new(version: Version, connect: &Properties) -> ConnRules {
        ConnRules {
            extra: None,
            max_packet_out: connect.maximum_packet_size.unwrap_or(u32::MAX),
            alias_max_out: if version.is_v5() {
                connect.topic_alias_maximum.unwrap_or(0)
            } else {
                0
            },
            version,
            problem_info: connect.request_problem_information.unwrap_or(true),
        }
    }

    /// The connection's version (its CONNECT's).
    pub fn version(&self) -> Version {
        self.version
    }

    /// Does the client want reason strings (5.0 §3.1.2.11.7)?
    pub fn problem_info(&self) -> bool {
        self.problem_info
    }

    fn remembered(&mut self) -> &mut Remembered {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The topic of a PUBLISH from the client, with its topic alias resolved (5.0 §3.3.2.3.4): a
    /// number standing for a topic, set by a PUBLISH that carries both, then used with an empty topic.
    /// `alias_max` is the Topic Alias Maximum the broker announced in its CONNACK (§3.2.2.3.8).
    /// A broken rule is a violation the connection is closed with.
    pub fn topic_in(
        &mut self,
        topic: String,
        alias: Option<u16>,
        alias_max: u16,
    ) -> Result<String, Violation> {
        let Some(alias) = alias else {
            if topic.is_empty() {
                return Err(Violation::new(
                    ReasonCode::ProtocolError,
                    "PUBLISH with an empty topic and no topic alias (MQTT 5.0 §3.3.2.1)",
                ));
            }
            return Ok(topic);
        };
        // "A Topic Alias of 0 is not permitted", nor one above the maximum we announced:
        // 0x94 Topic Alias invalid (§3.3.2.3.4).
        if alias == 0 || alias > alias_max {
            return Err(Violation::new(
                ReasonCode::TopicAliasInvalid,
                format!("topic alias {alias} outside 1..={alias_max} (MQTT 5.0 §3.3.2.3.4)"),
            ));
        }
        if !topic.is_empty() {
            // Sets the alias, or replaces what it stood for.
            self.remembered().aliases_in.insert(alias, topic.clone());
            return Ok(topic);
        }
        match self.extra.as_ref().and_then(|x| x.aliases_in.get(&alias)) {
            Some(t) => Ok(t.clone()),
            None => Err(Violation::new(
                ReasonCode::ProtocolError,
                format!("topic alias {alias} used before being set (MQTT 5.0 §3.3.2.3.4)"),
            )),
        }
    }

    /// The QoS 1/2 deliveries skipped since the last call (see [`Broker::ack_skipped`]).
    pub(super) fn drain_skipped(&mut self) -> impl Iterator<Item = (u16, QoS)> + '_ {
        self.extra.iter_mut().flat_map(|x| x.skipped.drain(..))
    }

    /// Append the bytes of one packet for the client to `wbuf`, as its limits allow: a PUBLISH larger
    /// than its Maximum Packet Size is not written (logged; a QoS 1/2 one is remembered to be
    /// acknowledged on its behalf), and one on a topic that has an alias carries only the alias.
    /// `Out::Disconnect` writes nothing: the server ends the connection itself.
    pub fn encode(&mut self, out: Out, wbuf: &mut Vec<u8>, now: Instant) {
        let v = self.version;
        let ack = |pid: u16, reason: ReasonCode| {
            let mut a = Ack::new(pid);
            a.reason = reason;
            a
        };
        let packet = match out {
            Out::Publish(d) => {
                if d.msg.expiry_left(now) == Some(0) {
                    return; // expired while waiting (5.0 §3.3.2.3.3)
                }
                let plain = d.qos == QoS::AtMostOnce
                    && !d.retain
                    && d.sub_ids.is_empty()
                    && self.alias_max_out == 0
                    && d.msg.props.expiry.is_none();
                if plain {
                    // Encoded once per message, shared by every subscriber of this version.
                    let i = usize::from(v.is_v5());
                    let bytes = d.msg.wire[i].get_or_init(|| {
                        let mut b = Vec::with_capacity(d.msg.topic.len() + d.msg.payload.len() + 8);
                        let _ = mqtt::encode(&Packet::Publish(publish_of(&d.msg, v)), v, &mut b);
                        Bytes::from(b)
                    });
                    if bytes.len() > self.max_packet_out as usize {
                        tracing::info!(topic = %d.msg.topic, bytes = bytes.len(), max = self.max_packet_out, "message larger than the client's Maximum Packet Size; not sent (MQTT 5.0 §3.1.2.11.4)");
                        return;
                    }
                    wbuf.extend_from_slice(bytes);
                    return;
                }
                let mut p = publish_of(&d.msg, v);
                p.qos = d.qos;
                p.packet_id = d.pid;
                p.dup = d.dup;
                p.retain = d.retain;
                // A topic alias this PUBLISH introduces; remembered only once the PUBLISH is really sent.
                let mut new_alias = None;
                if v.is_v5() {
                    p.properties.subscription_identifiers = d.sub_ids.clone();
                    p.properties.message_expiry_interval = d.msg.expiry_left(now);
                    if self.alias_max_out > 0 {
                        // Topic aliases towards the client (5.0 §3.3.2.3.4): the first PUBLISH on a
                        // topic carries topic and alias, later ones only the alias.
                        let max = self.alias_max_out as usize;
                        let aliases = &self.remembered().aliases_out;
                        if let Some(&a) = aliases.get(&d.msg.topic) {
                            p.properties.topic_alias = Some(a);
                            p.topic.clear();
                        } else if aliases.len() < max {
                            let a = aliases.len() as u16 + 1;
                            p.properties.topic_alias = Some(a);
                            new_alias = Some(a);
                        }
                    }
                }
                let packet = Packet::Publish(p);
                if packet.encoded_len(v) > self.max_packet_out as usize {
                    // Not sent, so the client never learns an alias it would carry: a later alias-only
                    // PUBLISH on that topic would name an alias the client does not know (5.0 §3.3.2.3.4).
                    tracing::info!(topic = %d.msg.topic, max = self.max_packet_out, "message larger than the client's Maximum Packet Size; not sent (MQTT 5.0 §3.1.2.11.4)");
                    if d.qos != QoS::AtMostOnce {
                        self.remembered().skipped.push((d.pid, d.qos));
                    }
                    return;
                }
                if let Some(a) = new_alias {
                    self.remembered().aliases_out.insert(d.msg.topic.clone(), a);
                }
                packet
            }
            Out::PubAck { pid, reason } => Packet::PubAck(ack(pid, reason)),
            Out::PubRec { pid, reason } => Packet::PubRec(ack(pid, reason)),
            Out::PubRel { pid, reason } => Packet::PubRel(ack(pid, reason)),
            Out::PubComp { pid, reason } => Packet::PubComp(ack(pid, reason)),
            Out::SubAck { pid, codes } => Packet::SubAck(SubAck {
                packet_id: pid,
                codes,
                properties: Properties::default(),
            }),
            Out::UnsubAck { pid, codes } => Packet::UnsubAck(UnsubAck {
                packet_id: pid,
                codes,
                properties: Properties::default(),
            }),
            Out::PingResp => Packet::PingResp,
            Out::Disconnect { .. } => return,
        };
        if let Err(e) = mqtt::encode(&packet, v, wbuf) {
            tracing::error!("cannot encode {}: {e}", packet.packet_type());
        }
    }
}

/// The PUBLISH of message `m` as every subscriber gets it; the caller sets what is per delivery.
fn publish_of(m: &Message, v: Version) -> Publish {
    let mut p = Publish::new(&*m.topic, m.payload.clone());
    if v.is_v5() {
        let pr = &mut p.properties;
        pr.payload_format_indicator = m.props.payload_format;
        pr.content_type = m.props.content_type.clone();
        pr.response_topic = m.props.response_topic.clone();
        pr.correlation_data = m.props.correlation_data.clone();
        pr.user_properties = m.props.user.clone();
    }
    p
}
