//! MQTT 3.1, 3.1.1 and 5.0, read with the lab's own codec ([`wire::mqtt`], the one the broker and the
//! clients use): every packet type with its fields, the codec's one-line `Display` as the summary.
//!
//! What to notice:
//! - the *version* changes how bytes read (5.0 has properties where 3.1.1 has none). The CONNECT says it
//!   (protocol level 4 or 5). A capture that starts after the CONNECT (the subscriber in the Rahmat
//!   capture was connected before tcpdump started) has no CONNECT: sister guesses 3.1.1, and switches to
//!   5.0 when a packet only parses as 5.0 (its properties make sense). That is `wire::mqtt::Decoder`'s
//!   guessing mode, the decoder the broker and the clients use: one for both directions, as the
//!   CONNECT's version is the server's too;
//! - a request a client waits for (CONNECT → CONNACK, SUBSCRIBE → SUBACK, PINGREQ → PINGRESP, QoS 1/2
//!   PUBLISH → PUBACK/PUBREC) that never gets its answer is reported as unanswered.

use std::collections::{BTreeMap, VecDeque};

use wire::mqtt::{self, Decoder, Packet, QoS};

use super::stream::{self, StreamBuf};
use super::{preview, Dissector, Messages, Msg, Note};
use crate::report::Direction;

/// The largest MQTT packet held while waiting for its last byte (bigger ones are reported and skipped).
const MAX_PACKET: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Half {
    /// The start of an unfinished packet; stopped after a gap or a broken fixed header.
    stream: StreamBuf,
    /// Bytes to drop (the rest of a packet too large to hold).
    skip: u64,
}

pub struct Mqtt {
    /// Both directions' version: from the CONNECT, guessed while there is none. It holds no bytes:
    /// whole packets are decoded where they lie, in the segment or in what a half's `stream` held.
    decoder: Decoder,
    halves: [Half; 2],
    /// Requests waiting for an answer: (what, packet id or 0, time, summary).
    pending: VecDeque<(&'static str, u16, f64, String)>,
}

impl Default for Mqtt {
    fn default() -> Self {
        Self::new()
    }
}

/// A SUBSCRIBE's filters as the report shows them: `sister/temp (qos 0), sister/# (qos 1)`.
struct Filters<'a>(&'a wire::mqtt::Subscribe);

impl std::fmt::Display for Filters<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, x) in self.0.subscriptions.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} (qos {})", x.filter, x.options.qos as u8)?;
        }
        Ok(())
    }
}

/// True when `b` starts with an MQTT CONNECT (fixed header 0x10, then the protocol name `MQTT` or
/// `MQIsdp`, MQTT 3.1.1 §3.1.2.1): recognisable on any port.
pub fn is_connect(b: &[u8]) -> bool {
    if b.first() != Some(&0x10) {
        return false;
    }
    // Skip the remaining-length varint (1-4 bytes).
    let mut i = 1;
    while i < 5 && b.get(i).is_some_and(|x| x & 0x80 != 0) {
        i += 1;
    }
    let rest = b.get(i + 1..).unwrap_or(&[]);
    rest.starts_with(b"\x00\x04MQTT") || rest.starts_with(b"\x00\x06MQIsdp")
}

/// Do the bytes start with a run of whole MQTT packets (used with the port hint, for streams that
/// start after the CONNECT)? `Some(true)`: at least one whole packet, and every whole packet decodes
/// (as 3.1.1 or 5.0, each on its own); `Some(false)`: one does not; `None`: the first packet is not
/// complete yet (its fixed header promises more bytes than there are).
pub fn packet_run(mut b: &[u8]) -> Option<bool> {
    let mut whole = 0;
    loop {
        match Decoder::guessing().decode(b) {
            Ok((_, n)) => {
                whole += 1;
                b = &b[n..];
                if b.is_empty() {
                    return Some(true);
                }
            }
            Err(e) if e.is_incomplete() => return if whole > 0 { Some(true) } else { None },
            Err(_) => return Some(false),
        }
    }
}

/// Does `b` start with a whole MQTT packet that decodes (as 3.1.1 or 5.0)?
pub fn looks_like_mqtt(b: &[u8]) -> bool {
    Decoder::guessing().decode(b).is_ok()
}

impl Mqtt {
    pub fn new() -> Self {
        Mqtt {
            decoder: Decoder::guessing().with_limit(MAX_PACKET),
            halves: [Half::default(), Half::default()],
            pending: VecDeque::new(),
        }
    }

    /// Decode the packet at the front of the stream (`front`, at stream offset `at`): what
    /// [`StreamBuf::feed`] calls until the bytes are used up.
    fn step(&mut self, dir: Direction, t: f64, at: u64, front: &[u8], out: &mut Messages) -> stream::Step {
        let error = match self.decoder.decode(front) {
            Ok((p, total)) => {
                self.packet(dir, t, at, total, p, out);
                return stream::Step::Used(total);
            }
            Err(e) if e.is_incomplete() => return stream::Step::Incomplete,
            Err(mqtt::Error::TooLarge { size, .. }) => {
                // Announced by its fixed header: the rest of it is skipped as it comes.
                self.halves[dir.index()].skip = size.saturating_sub(front.len()) as u64;
                let what = format!("MQTT packet of {size} bytes, too large to keep");
                out.push(malformed(dir, t, at, &what));
                return stream::Step::Used(front.len());
            }
            Err(e) => e.to_string(),
        };
        out.push(malformed(dir, t, at, &error));
        match self.decoder.frame(front) {
            // A whole packet whose content is wrong: reported, and the stream goes on after it.
            Ok(total) => stream::Step::Used(total),
            // The fixed header itself is wrong (a reserved type, a length of more than 4 bytes):
            // packets cannot be found in this direction any more.
            Err(_) => stream::Step::Invalid,
        }
    }

    /// What every packet changes, whether it is kept or only counted: the version (from the CONNECT)
    /// and the requests waiting for their answer.
    fn track(&mut self, t: f64, p: &Packet) {
        match p {
            // (Its version is the decoder's from now on.)
            Packet::Connect(_) => self.pending.push_back(("CONNECT", 0, t, p.to_string())),
            Packet::ConnAck(_) => self.answer("CONNECT", 0),
            Packet::Publish(pb) if pb.qos != QoS::AtMostOnce => {
                self.pending
                    .push_back(("PUBLISH", pb.packet_id, t, p.to_string()));
            }
            Packet::PubAck(a) | Packet::PubRec(a) => self.answer("PUBLISH", a.packet_id),
            Packet::Subscribe(s) => self
                .pending
                .push_back(("SUBSCRIBE", s.packet_id, t, p.to_string())),
            Packet::SubAck(s) => self.answer("SUBSCRIBE", s.packet_id),
            Packet::Unsubscribe(u) => self
                .pending
                .push_back(("UNSUBSCRIBE", u.packet_id, t, p.to_string())),
            Packet::UnsubAck(u) => self.answer("UNSUBSCRIBE", u.packet_id),
            Packet::PingReq => self.pending.push_back(("PINGREQ", 0, t, "PINGREQ".into())),
            Packet::PingResp => self.answer("PINGREQ", 0),
            _ => {}
        }
    }

    fn packet(&mut self, dir: Direction, t: f64, offset: u64, len: usize, p: Packet, out: &mut Messages) {
        self.track(t, &p);
        let kind = p.packet_type().name();
        if !out.wants_detail() {
            // Only counted: the activity key `activity_key` would read from the fields below.
            match &p {
                Packet::Publish(pb) => out.count(dir, "MQTT", Some(format_args!("PUBLISH to {}", pb.topic))),
                Packet::Subscribe(s) => {
                    out.count(dir, "MQTT", Some(format_args!("SUBSCRIBE to {}", Filters(s))))
                }
                _ => out.count(dir, "MQTT", Some(format_args!("{kind}"))),
            }
            return;
        }
        let mut f = BTreeMap::new();
        f.insert("type".to_string(), kind.to_string());
        match &p {
            Packet::Connect(c) => {
                f.insert("version".into(), c.version.to_string());
                f.insert("client_id".into(), c.client_id.clone());
                f.insert("keep_alive".into(), c.keep_alive.to_string());
                f.insert("clean_start".into(), c.clean_start.to_string());
                if let Some(u) = &c.username {
                    f.insert("username".into(), u.clone());
                }
                if let Some(w) = &c.will {
                    f.insert("will_topic".into(), w.topic.clone());
                }
            }
            Packet::ConnAck(c) => {
                f.insert("session_present".into(), c.session_present.to_string());
                f.insert("code".into(), c.code.to_string());
            }
            Packet::Publish(pb) => {
                f.insert("topic".into(), pb.topic.clone());
                f.insert("qos".into(), (pb.qos as u8).to_string());
                f.insert("retain".into(), pb.retain.to_string());
                f.insert("payload".into(), wire::escape::show(&pb.payload));
                f.insert("payload_bytes".into(), pb.payload.len().to_string());
                if pb.qos != QoS::AtMostOnce {
                    f.insert("packet_id".into(), pb.packet_id.to_string());
                }
                if pb.dup {
                    f.insert("dup".into(), "true".into());
                }
            }
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubComp(a) | Packet::PubRel(a) => {
                f.insert("packet_id".into(), a.packet_id.to_string());
                f.insert("reason".into(), a.reason.to_string());
            }
            Packet::Subscribe(s) => {
                f.insert("packet_id".into(), s.packet_id.to_string());
                f.insert("filters".into(), Filters(s).to_string());
            }
            Packet::SubAck(s) => {
                f.insert("packet_id".into(), s.packet_id.to_string());
                let codes: Vec<String> = s.codes.iter().map(|c| c.to_string()).collect();
                f.insert("codes".into(), codes.join(", "));
            }
            Packet::Unsubscribe(u) => {
                f.insert("packet_id".into(), u.packet_id.to_string());
                f.insert("filters".into(), u.filters.join(", "));
            }
            Packet::UnsubAck(u) => {
                f.insert("packet_id".into(), u.packet_id.to_string());
            }
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => {
                f.insert("reason".into(), d.reason.to_string());
            }
            Packet::Auth(a) => {
                f.insert("reason".into(), a.reason.to_string());
            }
        }
        if self.decoder.is_guessed() {
            f.insert(
                "version".into(),
                format!("{} (guessed: no CONNECT in the capture)", self.decoder.version()),
            );
        }
        let summary = match &p {
            // The codec's Display shows the payload with Debug quotes; the report uses sister's preview.
            Packet::Publish(pb) => format!("PUBLISH {} {}", pb.topic, preview(&pb.payload, 60)),
            other => other.to_string(),
        };
        out.push(Msg {
            t,
            direction: dir,
            protocol: "MQTT",
            summary,
            fields: f,
            offset,
            len: len as u64,
        });
    }

    fn answer(&mut self, what: &str, id: u16) {
        if let Some(i) = self
            .pending
            .iter()
            .position(|(w, pid, _, _)| *w == what && *pid == id)
        {
            self.pending.remove(i);
        }
    }
}

impl Dissector for Mqtt {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        let h = &mut self.halves[dir.index()];
        let mut bytes = bytes;
        let mut offset = offset;
        if h.skip > 0 {
            let n = (h.skip as usize).min(bytes.len());
            h.skip -= n as u64;
            bytes = &bytes[n..];
            offset += n as u64;
        }
        // The stream is taken out of its half while it feeds `step`, which needs the whole dissector
        // (the decoder, the pending requests, the half's `skip`).
        let mut stream = std::mem::take(&mut h.stream);
        stream.feed(offset, bytes, |at, front| self.step(dir, t, at, front, out));
        self.halves[dir.index()].stream = stream;
    }

    fn gap(&mut self, dir: Direction) {
        // Packets cannot be found again reliably after a hole: stop this direction.
        self.halves[dir.index()].stream.stop();
    }

    fn end(&mut self, _dir: Direction, _t: f64, _out: &mut Messages) {}

    fn finish(&mut self, t_end: f64, _out: &mut Messages, notes: &mut Vec<Note>) {
        for (_, _, t, summary) in self.pending.drain(..) {
            notes.push(Note::Unanswered {
                t,
                what: format!("MQTT {summary}"),
            });
        }
        for (i, h) in self.halves.iter().enumerate() {
            if !h.stream.held().is_empty() && !h.stream.is_stopped() {
                let side = if i == 0 { "client" } else { "server" };
                notes.push(Note::Malformed {
                    t: t_end,
                    what: format!(
                        "{} bytes of an unfinished MQTT packet from the {side} at the end",
                        h.stream.held().len()
                    ),
                });
            }
        }
    }
}

fn malformed(dir: Direction, t: f64, offset: u64, what: &str) -> Msg {
    let mut fields = BTreeMap::new();
    fields.insert("error".into(), what.to_string());
    Msg {
        t,
        direction: dir,
        protocol: "MQTT",
        summary: format!("malformed: {what}"),
        fields,
        offset,
        len: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::mqtt::{Publish, Version};

    fn bytes(p: &Packet, v: Version) -> Vec<u8> {
        p.to_vec(v).unwrap()
    }

    #[test]
    fn decodes_a_publish_split_across_segments_and_mid_stream() {
        let publish = bytes(
            &Packet::Publish(Publish::new("sister/temp", "Suhu: 28°C")),
            Version::V3_1_1,
        );
        let mut m = Mqtt::new();
        let mut out = Messages::default();
        m.data(Direction::ClientToServer, 1.0, 0, &publish[..3], &mut out);
        assert!(out.kept.is_empty());
        m.data(Direction::ClientToServer, 2.0, 3, &publish[3..], &mut out);
        assert_eq!(out.kept.len(), 1);
        assert_eq!(out.kept[0].summary, "PUBLISH sister/temp 'Suhu: 28°C'");
        assert_eq!(out.kept[0].fields["topic"], "sister/temp");
        assert_eq!(
            (out.kept[0].t, out.kept[0].offset, out.kept[0].len),
            (2.0, 0, publish.len() as u64)
        );
        assert!(out.kept[0].fields["version"].contains("guessed"));
        assert!(looks_like_mqtt(&publish));
        assert!(!is_connect(&publish));
    }

    #[test]
    fn unanswered_pingreq_and_garbage() {
        let mut m = Mqtt::new();
        let mut out = Messages::default();
        m.data(
            Direction::ClientToServer,
            1.0,
            0,
            &[0xc0, 0x00, 0xc0, 0x00],
            &mut out,
        );
        m.data(Direction::ServerToClient, 1.5, 0, &[0xd0, 0x00], &mut out);
        let mut notes = Vec::new();
        m.finish(3.0, &mut out, &mut notes);
        assert_eq!(out.kept.len(), 3);
        assert_eq!(notes.len(), 1, "one PINGREQ answered, one not: {notes:?}");
        let mut m = Mqtt::new();
        let mut out = Messages::default();
        m.data(Direction::ClientToServer, 1.0, 0, &[0x00, 0x00, 0x01], &mut out);
        assert!(out.kept[0].summary.starts_with("malformed"));
        // An absurd length is not held.
        let mut m = Mqtt::new();
        let mut out = Messages::default();
        m.data(
            Direction::ClientToServer,
            1.0,
            0,
            &[0x30, 0xff, 0xff, 0xff, 0x7f],
            &mut out,
        );
        assert!(m.halves[0].stream.held().len() <= 5);
    }
}
