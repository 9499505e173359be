//! ZeroMQ's ZMTP 3.x (RFC 23, RFC 37), read with the lab's own codec ([`wire::zmtp::StreamDecoder`], the
//! one the live sockets use). tshark has no ZMTP dissector and shows these streams as "data".
//!
//! Per direction: the greeting (often split: libzmq sends the 10-byte signature, then the version byte,
//! then the rest), the mechanism's handshake (NULL: one READY command carrying `Socket-Type`), then
//! messages made of frames, the MORE flag joining a multipart message (a REQ's request is an empty
//! delimiter frame plus the body). A SUB's subscriptions are a SUBSCRIBE command (3.1) or a message
//! whose first byte is 1 (3.0). The course's PUSH sends Python-pickled integers ([`wire::pickle`]).

use std::collections::{BTreeMap, VecDeque};

use wire::zmtp::{Command, Item, StreamDecoder, Subscription};

use super::stream::{self, StreamBuf};
use super::{preview, Dissector, Messages, Msg, Note};
use crate::report::Direction;

/// Most bytes of one ZMTP frame held (bigger frames end the dissection of that direction).
const MAX_FRAME: usize = 8 * 1024 * 1024;

struct Half {
    decoder: StreamDecoder,
    /// The start of an unfinished greeting or frame; stopped after a gap or invalid bytes.
    stream: StreamBuf,
    /// The bodies of the frames of the multipart message being received, and the stream offset of
    /// its first frame.
    parts: Vec<Vec<u8>>,
    parts_start: u64,
}

impl Default for Half {
    fn default() -> Self {
        Half {
            decoder: StreamDecoder::with_max_frame(MAX_FRAME),
            stream: StreamBuf::new(),
            parts: Vec::new(),
            parts_start: 0,
        }
    }
}

#[derive(Default)]
pub struct Zmtp {
    halves: [Half; 2],
    /// REQ requests waiting for their reply: (time, frames). Summarised only if never answered.
    waiting: VecDeque<(f64, Vec<Vec<u8>>)>,
}

/// True when `b` can be the start of a ZMTP 3 greeting: `ff`, 8 padding bytes, `7f` (RFC 23 §Greeting).
pub fn is_greeting_start(b: &[u8]) -> bool {
    b.first() == Some(&0xff) && b.get(9).is_none_or(|&x| x == 0x7f)
}

impl Zmtp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode the greeting or the frame at the front of the stream (`front`, at stream offset `at`):
    /// what [`StreamBuf::feed`] calls until the bytes are used up.
    fn step(&mut self, dir: Direction, t: f64, at: u64, front: &[u8], out: &mut Messages) -> stream::Step {
        let h = &mut self.halves[dir.index()];
        let (item_msg, n, part) = match h.decoder.decode(front) {
            Ok((item, n)) => match &item {
                Item::Greeting(g) => {
                    let mut f = BTreeMap::new();
                    f.insert("type".to_string(), "GREETING".to_string());
                    f.insert("version".into(), format!("{}.{}", g.version.0, g.version.1));
                    f.insert("mechanism".into(), g.mechanism.as_str().to_string());
                    (Some(msg(dir, t, at, n as u64, item.to_string(), f)), n, None)
                }
                Item::Frame(fr) => match fr.command() {
                    Some(cmd) => {
                        let mut f = BTreeMap::new();
                        let name = match &cmd {
                            Ok(Command::Ready(m)) => {
                                if let Some(s) = m.socket_type() {
                                    f.insert("socket_type".to_string(), s.as_str().to_string());
                                }
                                "READY".to_string()
                            }
                            Ok(Command::Subscribe(topic)) => {
                                f.insert("topic".to_string(), wire::escape::show(topic));
                                "SUBSCRIBE".into()
                            }
                            Ok(Command::Cancel(topic)) => {
                                f.insert("topic".to_string(), wire::escape::show(topic));
                                "CANCEL".into()
                            }
                            Ok(Command::Error { .. }) => "ERROR".into(),
                            Ok(Command::Ping { .. }) => "PING".into(),
                            Ok(Command::Pong { .. }) => "PONG".into(),
                            Ok(Command::Unknown { name, .. }) => wire::escape::show(name),
                            Err(e) => format!("malformed command: {e}"),
                        };
                        f.insert("type".into(), name);
                        (Some(msg(dir, t, at, n as u64, item.to_string(), f)), n, None)
                    }
                    // A message frame: its body is kept until the message's last frame.
                    None => (None, n, Some((fr.body.to_vec(), fr.more()))),
                },
            },
            Err(e) if e.is_incomplete() => return stream::Step::Incomplete,
            Err(e) => {
                // ZMTP has no markers to find the next frame after bytes that break its rules.
                let mut f = BTreeMap::new();
                f.insert("error".to_string(), e.to_string());
                out.push(msg(dir, t, at, 0, format!("malformed: {e}"), f));
                return stream::Step::Invalid;
            }
        };
        if let Some(m) = item_msg {
            out.push(m);
        }
        if let Some((body, more)) = part {
            if h.parts.is_empty() {
                h.parts_start = at;
            }
            if h.parts.len() < 64 {
                h.parts.push(body);
            }
            if !more {
                self.message(dir, t, out);
            }
        }
        stream::Step::Used(n)
    }

    fn message(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        let h = &mut self.halves[dir.index()];
        let parts = std::mem::take(&mut h.parts);
        let start = h.parts_start;
        let len: u64 = parts.iter().map(|p| p.len() as u64 + 2).sum();
        let sock = h.decoder.socket_type().map(|s| s.as_str());
        // A SUB (or XSUB) speaking ZMTP 3.0 subscribes with a message whose first byte is 1.
        let subscription = match sock {
            Some("SUB" | "XSUB") if parts.len() == 1 => Subscription::decode(&parts[0]),
            _ => None,
        };
        if let Some(sub) = subscription {
            let (kind, topic) = match sub {
                Subscription::Subscribe(t) => ("SUBSCRIBE", t),
                Subscription::Cancel(t) => ("CANCEL", t),
            };
            let shown = wire::escape::show(topic);
            if !out.wants_detail() {
                out.count(dir, "ZMTP", Some(format_args!("{kind} '{shown}'")));
                return;
            }
            let mut f = BTreeMap::new();
            f.insert("frames".to_string(), parts.len().to_string());
            if let Some(s) = sock {
                f.insert("socket_type".into(), s.to_string());
            }
            f.insert("type".into(), kind.into());
            f.insert("topic".into(), shown);
            let summary = format!("{kind} {} (ZMTP 3.0 form)", preview(topic, 40));
            out.push(msg(dir, t, start, len, summary, f));
            return;
        }
        let detail = out.wants_detail();
        if detail {
            let mut f = BTreeMap::new();
            f.insert("frames".to_string(), parts.len().to_string());
            if let Some(s) = sock {
                f.insert("socket_type".into(), s.to_string());
            }
            let (shown, summary) = describe(sock, &parts);
            f.insert("type".into(), "MESSAGE".into());
            f.insert("parts".into(), shown);
            out.push(msg(dir, t, start, len, summary, f));
        } else {
            // The key `activity_key` reads from the fields: `REQ message`, or `message` without a type.
            match sock.unwrap_or_default().trim_start() {
                "" => out.count(dir, "ZMTP", Some(format_args!("message"))),
                sock => out.count(dir, "ZMTP", Some(format_args!("{sock} message"))),
            }
        }
        match sock {
            Some("REQ") => self.waiting.push_back((t, parts)),
            Some("REP") => {
                self.waiting.pop_front();
            }
            _ => {}
        }
    }
}

/// A message's frames as the report shows them (`'' | 'Hello'`), and its summary
/// (`REQ message ['' | 'Hello']`). The course's PUSH sends pickled integers.
fn describe(sock: Option<&str>, parts: &[Vec<u8>]) -> (String, String) {
    let shown: Vec<String> = parts
        .iter()
        .map(|p| {
            if sock == Some("PUSH") {
                if let Ok(n) = wire::pickle::decode_int(p) {
                    return format!("pickle({n})");
                }
            }
            preview(p, 60)
        })
        .collect();
    let shown = shown.join(" | ");
    let who = sock.map(|s| format!("{s} ")).unwrap_or_default();
    let summary = format!("{who}message [{shown}]");
    (shown, summary)
}

fn msg(
    dir: Direction,
    t: f64,
    offset: u64,
    len: u64,
    summary: String,
    fields: BTreeMap<String, String>,
) -> Msg {
    Msg {
        t,
        direction: dir,
        protocol: "ZMTP",
        summary,
        fields,
        offset,
        len,
    }
}

impl Dissector for Zmtp {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        // The stream is taken out of its half while it feeds `step`, which needs the whole dissector
        // (the half's decoder and parts, the requests waiting for a reply).
        let mut stream = std::mem::take(&mut self.halves[dir.index()].stream);
        stream.feed(offset, bytes, |at, front| self.step(dir, t, at, front, out));
        self.halves[dir.index()].stream = stream;
    }

    fn gap(&mut self, dir: Direction) {
        // ZMTP has no markers to find a frame again after a hole.
        self.halves[dir.index()].stream.stop();
    }

    fn end(&mut self, _dir: Direction, _t: f64, _out: &mut Messages) {}

    fn finish(&mut self, _t: f64, _out: &mut Messages, notes: &mut Vec<Note>) {
        for (t, parts) in self.waiting.drain(..) {
            let (_, what) = describe(Some("REQ"), &parts);
            notes.push(Note::Unanswered {
                t,
                what: format!("ZMTP REQ {what}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_in_four_pieces_ready_and_a_request() {
        let mut req = wire::zmtp::Greeting::null().to_bytes().to_vec();
        req.extend_from_slice(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ");
        req.extend_from_slice(b"\x01\x00\x00\x05Hello");
        let mut z = Zmtp::new();
        let mut out = Messages::default();
        let mut off = 0;
        for piece in [&req[..10], &req[10..11], &req[11..64], &req[64..]] {
            z.data(Direction::ClientToServer, 1.0, off, piece, &mut out);
            off += piece.len() as u64;
        }
        let summaries: Vec<&str> = out.kept.iter().map(|m| m.summary.as_str()).collect();
        assert_eq!(summaries.len(), 3, "{summaries:?}");
        assert!(summaries[0].starts_with("GREETING ZMTP 3.1"), "{summaries:?}");
        assert_eq!(out.kept[1].fields["socket_type"], "REQ");
        assert_eq!(summaries[2], "REQ message ['' | 'Hello']");
        let mut notes = Vec::new();
        z.finish(2.0, &mut out, &mut notes);
        assert_eq!(notes.len(), 1, "the request was never answered");
        assert!(is_greeting_start(&req[..10]));
        assert!(!is_greeting_start(b"GET / HTTP/1.1"));
    }
}
