//! The course's raw-text protocols, and the fallback for anything unrecognised.
//!
//! The course's TCP programs (echo on 2222, upcall on 4141, one-way on 3131, the Lamport demo) and its
//! UDP programs have no framing: each `send` is one message and the peer takes each `recv(1024)` as one.
//! So here one TCP segment (or one datagram) is one message, and the message is named by what it says:
//! - `Echo: <text>` from the server: the echo service's answer;
//! - `Upcall event: Processing <text>`: the upcall service's callback;
//! - a JSON object with `message`, `balance`, `timestamp`: a Lamport-clock message;
//! - `0x01` + 4-byte length + payload: sister's own framing ([`wire::frame`]);
//! - other text: shown quoted; binary: a hex preview.

use std::collections::BTreeMap;

use super::{preview, Dissector, Hints, Messages, Msg, Note};
use crate::report::Direction;

pub struct Text {
    hints: Hints,
}

impl Text {
    pub fn new(hints: Hints) -> Self {
        Text { hints }
    }
}

/// Name and describe one raw message.
pub fn classify(bytes: &[u8], dir: Direction, udp: bool) -> (&'static str, String, BTreeMap<String, String>) {
    let mut fields = BTreeMap::new();
    let text = std::str::from_utf8(bytes).ok();
    if let Some(s) = text {
        let trimmed = s.trim();
        if trimmed.starts_with('{') {
            // The Lamport demo's message, read with the lab's codec (wire::lamport).
            if let Ok((m, used)) = wire::lamport::LamportMessage::decode(bytes) {
                if bytes[used..].iter().all(u8::is_ascii_whitespace) {
                    fields.insert("message".into(), m.message.clone());
                    fields.insert("balance".into(), m.balance.to_string());
                    fields.insert("timestamp".into(), m.timestamp.to_string());
                    return ("Lamport", m.to_string(), fields);
                }
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
                fields.insert("json".into(), super::json_line(&v, 200));
                return (if udp { "UDP text" } else { "JSON" }, preview(bytes, 80), fields);
            }
        }
        if dir == Direction::ServerToClient {
            if let Some(rest) = s.strip_prefix("Echo: ") {
                fields.insert("echoed".into(), rest.to_string());
                return ("echo", format!("Echo: {}", preview(rest.as_bytes(), 80)), fields);
            }
            if let Some(rest) = s.strip_prefix("Upcall event: ") {
                fields.insert("event".into(), rest.to_string());
                return (
                    "upcall",
                    format!("Upcall event: {}", preview(rest.as_bytes(), 80)),
                    fields,
                );
            }
        }
    }
    if bytes.first() == Some(&wire::frame::SOH) {
        if let Ok((payload, used)) = wire::frame::decode(bytes, wire::frame::DEFAULT_MAX_PAYLOAD) {
            if used == bytes.len() {
                fields.insert("length".into(), payload.len().to_string());
                return ("sister-frame", format!("frame {}", preview(payload, 80)), fields);
            }
        }
    }
    let proto = if text.is_some() || bytes.iter().all(|&b| b >= 0x20 || b"\r\n\t".contains(&b)) {
        if udp {
            "UDP text"
        } else {
            "text"
        }
    } else {
        "data"
    };
    fields.insert("bytes".into(), bytes.len().to_string());
    (proto, preview(bytes, 80), fields)
}

impl Dissector for Text {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        if bytes.is_empty() {
            return;
        }
        let (protocol, summary, fields) = classify(bytes, dir, self.hints.udp);
        out.push(Msg {
            t,
            direction: dir,
            protocol,
            summary,
            fields,
            offset,
            len: bytes.len() as u64,
        });
    }
    fn gap(&mut self, _dir: Direction) {}
    fn end(&mut self, _dir: Direction, _t: f64, _out: &mut Messages) {}
    fn finish(&mut self, _t: f64, _out: &mut Messages, _notes: &mut Vec<Note>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_course_messages() {
        let (p, s, _) = classify(b"Echo: hai", Direction::ServerToClient, false);
        assert_eq!((p, s.as_str()), ("echo", "Echo: 'hai'"));
        let (p, _, _) = classify(
            b"Upcall event: Processing \\haiii",
            Direction::ServerToClient,
            false,
        );
        assert_eq!(p, "upcall");
        let (p, s, f) = classify(
            br#"{"message": "Add $100", "balance": 1100, "timestamp": 1}"#,
            Direction::ClientToServer,
            false,
        );
        assert_eq!(
            (p, s.as_str()),
            ("Lamport", "\"Add $100\" balance=1100 timestamp=1")
        );
        assert_eq!(f["timestamp"], "1");
        let (p, _, _) = classify(b"\x01\0\0\0\x02hi", Direction::ClientToServer, false);
        assert_eq!(p, "sister-frame");
        let (p, s, _) = classify(&[0, 1, 2, 0xff], Direction::ClientToServer, false);
        assert_eq!((p, s.as_str()), ("data", "00 01 02 ff"));
        assert_eq!(
            classify(b"Pesan UDP ke-0", Direction::ClientToServer, true).0,
            "UDP text"
        );
    }
}
