//! Dissectors: turning a reassembled byte stream into the application's messages.
//!
//! A conversation's dissector is chosen **by content first, port second**: the course runs UDP text,
//! ZeroMQ PUB/SUB and a Lamport demo all on port 12345, and students move services to other ports.
//! [`Session`] holds the first bytes until one of the detectors recognises them (an HTTP request line,
//! the ZMTP signature `ff .. 7f`, an MQTT CONNECT), then replays them into the chosen dissector. Streams
//! that start in the middle (the capture began after the connection opened) are recognised from what
//! comes next (an HTTP status line, an MQTT packet on the MQTT port).
//!
//! Every dissector takes contiguous bytes of one direction as they become available and emits
//! [`Msg`]s; none may panic or hold more than a bounded buffer, whatever the bytes.

pub mod http;
pub mod jsonrpc;
pub mod mqtt;
pub mod soap;
pub mod text;
pub mod zmtp;

use std::collections::BTreeMap;

use crate::report::Direction;

/// A message found by a dissector.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub t: f64,
    pub direction: Direction,
    pub protocol: String,
    pub summary: String,
    pub fields: BTreeMap<String, String>,
    pub offset: u64,
    pub len: u64,
}

/// What a dissector also reports besides messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A request that got no response by the end (its summary).
    Unanswered { t: f64, what: String },
    /// Bytes that broke the protocol's rules.
    Malformed { t: f64, what: String },
}

/// The interface every dissector implements.
pub trait Dissector {
    /// Contiguous bytes of one direction, starting at stream `offset`, the last of them seen at `t`.
    /// `boundary` is true when the bytes are exactly one TCP segment or one UDP datagram (the course's
    /// raw-text protocols treat one `recv` as one message).
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Vec<Msg>);
    /// Bytes of this direction were lost: resynchronise or give up.
    fn gap(&mut self, dir: Direction);
    /// This direction ended (FIN) at `t`: messages delimited by the close are complete now.
    fn end(&mut self, dir: Direction, t: f64, out: &mut Vec<Msg>);
    /// The capture ended: flush, and say what was left unanswered.
    fn finish(&mut self, t: f64, out: &mut Vec<Msg>, notes: &mut Vec<Note>);
}

/// Hints for choosing a dissector.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    pub server_port: u16,
    pub udp: bool,
}

/// How many bytes per direction are held while no dissector has recognised the stream.
const UNDECIDED_LIMIT: usize = 64;

/// The dissector of one conversation, chosen from the first bytes.
pub struct Session {
    hints: Hints,
    chosen: Option<Box<dyn Dissector + Send>>,
    /// Bytes held until a choice: (direction, t, offset, bytes).
    held: Vec<(Direction, f64, u64, Vec<u8>)>,
    held_len: usize,
}

impl Session {
    pub fn new(hints: Hints) -> Self {
        Session {
            hints,
            chosen: None,
            held: Vec::new(),
            held_len: 0,
        }
    }

    pub fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Vec<Msg>) {
        if let Some(d) = self.chosen.as_mut() {
            d.data(dir, t, offset, bytes, out);
            return;
        }
        self.held.push((dir, t, offset, bytes.to_vec()));
        self.held_len += bytes.len();
        let first: Vec<u8> = self
            .held
            .iter()
            .filter(|h| h.0 == dir)
            .flat_map(|h| h.3.iter().copied())
            .take(UNDECIDED_LIMIT)
            .collect();
        let decided = detect(&first, dir, self.hints, self.held_len >= UNDECIDED_LIMIT);
        if let Some(d) = decided {
            let mut d = d;
            for (dir, t, offset, bytes) in self.held.drain(..) {
                d.data(dir, t, offset, &bytes, out);
            }
            self.held_len = 0;
            self.chosen = Some(d);
        }
    }

    fn force(&mut self, out: &mut Vec<Msg>) {
        if self.chosen.is_none() && !self.held.is_empty() {
            let mut d: Box<dyn Dissector + Send> = Box::new(text::Text::new(self.hints));
            for (dir, t, offset, bytes) in self.held.drain(..) {
                d.data(dir, t, offset, &bytes, out);
            }
            self.chosen = Some(d);
        }
    }

    pub fn gap(&mut self, dir: Direction, out: &mut Vec<Msg>) {
        self.force(out);
        if let Some(d) = self.chosen.as_mut() {
            d.gap(dir);
        }
    }

    pub fn end(&mut self, dir: Direction, t: f64, out: &mut Vec<Msg>) {
        self.force(out);
        if let Some(d) = self.chosen.as_mut() {
            d.end(dir, t, out);
        }
    }

    pub fn finish(&mut self, t: f64, out: &mut Vec<Msg>, notes: &mut Vec<Note>) {
        self.force(out);
        if let Some(d) = self.chosen.as_mut() {
            d.finish(t, out, notes);
        }
    }
}

/// HTTP/1.x request methods (RFC 9110 §9) that start a request line.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// Choose a dissector from the first bytes of one direction; `None` = wait for more.
fn detect(first: &[u8], _dir: Direction, hints: Hints, enough: bool) -> Option<Box<dyn Dissector + Send>> {
    if first.is_empty() {
        return None;
    }
    if !hints.udp {
        // MQTT: a CONNECT is unmistakable on any port; without one (the capture started later), a whole
        // MQTT packet on the MQTT port (1883, 8883) will do.
        if mqtt::is_connect(first)
            || (matches!(hints.server_port, 1883 | 8883) && mqtt::looks_like_mqtt(first))
        {
            return Some(Box::new(mqtt::Mqtt::new()));
        }
        // ZMTP: the greeting's signature `ff 00..00 7f`; libzmq sends its first 10 bytes alone.
        if zmtp::is_greeting_start(first) {
            if first.len() >= 10 {
                return Some(Box::new(zmtp::Zmtp::new()));
            }
            if !enough {
                return None;
            }
        }
        if first.first() == Some(&0x10) && first.len() < 12 && !enough {
            return None; // perhaps a CONNECT, cut before its protocol name
        }
        let http_start = METHODS
            .iter()
            .any(|m| first.starts_with(m) || m.starts_with(first))
            || first.starts_with(b"HTTP/1.")
            || b"HTTP/1.".starts_with(first);
        if http_start && (first.len() >= 8 || !enough) {
            if METHODS.iter().any(|m| first.starts_with(m)) || first.starts_with(b"HTTP/1.") {
                return Some(Box::new(http::Http::new()));
            }
            if !enough {
                return None;
            }
        }
    }
    Some(Box::new(text::Text::new(hints)))
}

/// A short, printable preview of bytes: text quoted and cut, binary as hex.
pub fn preview(bytes: &[u8], max: usize) -> String {
    if bytes.is_empty() {
        return "''".into();
    }
    let printable = bytes
        .iter()
        .filter(|&&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
        .count();
    if !bytes.is_empty() && (wire::text::is_utf8(bytes) || printable * 10 >= bytes.len() * 9) {
        let shown = wire::text::show(bytes);
        if shown.chars().count() > max {
            let cut: String = shown.chars().take(max).collect();
            format!("'{cut}…'")
        } else {
            format!("'{shown}'")
        }
    } else {
        let hex: Vec<String> = bytes.iter().take(max / 3).map(|b| format!("{b:02x}")).collect();
        let more = if bytes.len() > max / 3 { " …" } else { "" };
        format!("{}{more}", hex.join(" "))
    }
}

/// A JSON value on one line, cut to `max` characters.
pub fn json_line(v: &serde_json::Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}
