//! Dissectors: turning a reassembled byte stream into the application's messages.
//!
//! A conversation's dissector is chosen **by content first, port second**: the course runs UDP text,
//! ZeroMQ PUB/SUB and a Lamport demo all on port 12345, and students move services to other ports.
//! [`Session`] holds the first bytes until one of the detectors recognises them (an HTTP request line,
//! the ZMTP signature `ff .. 7f`, an MQTT CONNECT, Ice's magic `IceP`, GIOP's magic `GIOP`, a TLS
//! record holding a ClientHello or ServerHello), then replays them into the chosen dissector. Streams
//! that start in the middle (the capture began after the connection opened) are recognised from what
//! comes next (an HTTP status line, an MQTT packet on the MQTT port, an Ice or a GIOP message, a run
//! of TLS record headers).
//!
//! Every dissector takes contiguous bytes of one direction as they become available and emits
//! [`Msg`]s into the conversation's [`Messages`]; none may panic or hold more than a bounded buffer,
//! whatever the bytes. MQTT, ZMTP and HTTP keep the start of an unfinished message between segments
//! in one [`stream::StreamBuf`] per direction, which also remembers that a direction can no longer
//! be followed (after a gap, or bytes that break the protocol).
//!
//! The report keeps the first messages of a conversation in full and only *counts* the rest (a 1 GB
//! capture holds millions of messages). Writing a message's summary and fields costs more than decoding
//! it, so a dissector asks [`Messages::wants_detail`] first; when the answer is no, it reports just what
//! the counts need with [`Messages::count`]: the direction and the activity key.

pub mod giop;
pub mod http;
pub mod ice;
pub mod jsonrpc;
pub mod mqtt;
pub mod raw;
pub mod soap;
pub mod stream;
pub mod tls;
pub mod zmtp;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::Direction;

/// A message found by a dissector.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub t: f64,
    pub direction: Direction,
    pub protocol: &'static str,
    pub summary: String,
    pub fields: BTreeMap<String, String>,
    pub offset: u64,
    pub len: u64,
}

/// A protocol message that opens or closes the application's session on a connection (Ice's
/// ValidateConnection and CloseConnection), for the connection's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub t: f64,
    pub direction: Direction,
    /// The message's name as the protocol calls it (`ValidateConnection`).
    pub message: &'static str,
}

/// What the dissectors found in one conversation: the first messages in full, all of them counted.
#[derive(Debug)]
pub struct Messages {
    /// The messages kept in full, in the order they completed.
    pub kept: Vec<Msg>,
    /// How many messages may be kept (the analyzer sets it before each delivery: the conversation's
    /// share of `Options::max_messages` and `max_messages_total`).
    pub limit: usize,
    /// Messages per direction (client→server, server→client), kept or only counted.
    pub per_direction: [u64; 2],
    /// Messages counted but not kept.
    pub omitted: u64,
    /// Messages per (protocol, direction index) and activity key, for the report's activity lines.
    pub activity: BTreeMap<(&'static str, u8), BTreeMap<String, u64>>,
    /// The first message that opened the application's session, and the first that closed it, for
    /// protocols that have such messages (set whether the message is kept or only counted).
    pub opened_by: Option<Step>,
    pub closed_by: Option<Step>,
    /// What a TLS connection showed (set by [`tls::Tls`] when the capture ends).
    pub tls: Option<crate::report::TlsSession>,
    /// Where [`Messages::count`] writes an activity key (reused: counting allocates nothing for a key
    /// already seen).
    key: String,
}

impl Default for Messages {
    fn default() -> Self {
        Messages::new(usize::MAX)
    }
}

impl Messages {
    pub fn new(limit: usize) -> Self {
        Messages {
            kept: Vec::new(),
            limit,
            per_direction: [0; 2],
            omitted: 0,
            activity: BTreeMap::new(),
            opened_by: None,
            closed_by: None,
            tls: None,
            key: String::new(),
        }
    }

    /// True when the next message will be kept in the report: only then are its summary and fields
    /// worth writing.
    pub fn wants_detail(&self) -> bool {
        self.kept.len() < self.limit
    }

    /// A message in full: kept if there is room, counted in any case.
    pub fn push(&mut self, m: Msg) {
        let dir = dir_index(m.direction);
        self.per_direction[dir as usize] += 1;
        if let Some((protocol, key)) = activity_key(&m) {
            *self
                .activity
                .entry((protocol, dir))
                .or_default()
                .entry(key)
                .or_default() += 1;
        }
        if self.wants_detail() {
            self.kept.push(m);
        } else {
            self.omitted += 1;
        }
    }

    /// A message that is only counted (when [`Messages::wants_detail`] said no): its direction, and
    /// the activity key [`activity_key`] would give the full message (`None`: not activity).
    pub fn count(
        &mut self,
        direction: Direction,
        protocol: &'static str,
        key: Option<std::fmt::Arguments<'_>>,
    ) {
        let dir = dir_index(direction);
        self.per_direction[dir as usize] += 1;
        self.omitted += 1;
        let Some(key) = key else { return };
        self.key.clear();
        let _ = self.key.write_fmt(key);
        let keys = self.activity.entry((protocol, dir)).or_default();
        match keys.get_mut(self.key.as_str()) {
            Some(n) => *n += 1,
            None => {
                keys.insert(self.key.clone(), 1);
            }
        }
    }
}

fn dir_index(d: Direction) -> u8 {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

/// The key an application message is counted under in the activity lines (`PUBLISH to sister/temp`,
/// `GET /add`), with its protocol; `None` for messages that are not activity (handshakes, malformed).
/// A dissector that only counts a message ([`Messages::count`]) must give the same key.
pub fn activity_key(m: &Msg) -> Option<(&'static str, String)> {
    let f = |k: &str| m.fields.get(k).cloned();
    match m.protocol {
        "JSON-RPC" => f("rpc_method").map(|meth| ("JSON-RPC", format!("call of {meth}"))),
        "SOAP" => f("operation")
            .filter(|op| !op.ends_with("Response"))
            .map(|op| ("SOAP", format!("call of {op}"))),
        "HTTP" => f("method").map(|meth| {
            let path = f("path").unwrap_or_default();
            let path = path.split('?').next().unwrap_or("").to_string();
            ("HTTP", format!("{meth} {path}"))
        }),
        "MQTT" => {
            let kind = f("type")?;
            match (f("topic"), f("filters")) {
                (Some(topic), _) if kind == "PUBLISH" => Some(("MQTT", format!("PUBLISH to {topic}"))),
                (_, Some(filters)) if kind == "SUBSCRIBE" => {
                    Some(("MQTT", format!("SUBSCRIBE to {filters}")))
                }
                _ => Some(("MQTT", kind)),
            }
        }
        "echo" => Some(("echo", "Echo: reply".into())),
        "upcall" => Some(("upcall", "Upcall event".into())),
        "Lamport" => Some(("Lamport", "Lamport message".into())),
        "UDP text" | "text" | "JSON" | "sister-frame" if m.direction == Direction::ClientToServer => {
            Some((m.protocol, "message".into()))
        }
        // Ice: calls per operation (replies, ValidateConnection and CloseConnection are not activity).
        "Ice" if !m.fields.contains_key("error") => match f("type")?.as_str() {
            "Request" => f("operation").map(|op| ("Ice", format!("call of {op}"))),
            "BatchRequest" => f("operations").map(|ops| ("Ice", format!("batched calls of {ops}"))),
            _ => None,
        },
        // GIOP: calls per operation, like Ice (a fragmented call is counted once: at its first
        // piece, or at its last Fragment when the first did not hold the operation, `call`).
        "GIOP" if !m.fields.contains_key("error") => match f("type")?.as_str() {
            "Request" => f("operation").map(|op| ("GIOP", format!("call of {op}"))),
            "Fragment" => f("call").map(|op| ("GIOP", format!("call of {op}"))),
            _ => None,
        },
        "ZMTP" => match f("type")?.as_str() {
            // The handshake (greeting, READY) is in every connection: not activity.
            "GREETING" | "READY" => None,
            "MESSAGE" => Some((
                "ZMTP",
                format!("{} message", f("socket_type").unwrap_or_default())
                    .trim()
                    .to_string(),
            )),
            other => Some((
                "ZMTP",
                format!(
                    "{other} {}",
                    f("topic").map(|t| format!("'{t}'")).unwrap_or_default()
                )
                .trim()
                .to_string(),
            )),
        },
        _ => None,
    }
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
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages);
    /// Bytes of this direction were lost: resynchronise or give up.
    fn gap(&mut self, dir: Direction);
    /// This direction ended (FIN) at `t`: messages delimited by the close are complete now.
    fn end(&mut self, dir: Direction, t: f64, out: &mut Messages);
    /// The capture ended: flush, and say what was left unanswered.
    fn finish(&mut self, t: f64, out: &mut Messages, notes: &mut Vec<Note>);
}

/// Hints for choosing a dissector.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    pub server_port: u16,
    pub udp: bool,
    /// A TCP connection already open when the capture began (no SYN or SYN+ACK seen): its first
    /// bytes may be the middle of a message.
    pub mid_stream: bool,
}

/// How many bytes per direction are held while no dissector has recognised the stream.
const UNDECIDED_LIMIT: usize = 64;
/// A mid-stream connection whose first bytes say nothing is held a little longer, up to this many
/// segments or bytes (both directions), in case a later segment starts a message a detector knows
/// (an Ice header: its first bytes may be the tail of a message).
const MID_STREAM_SEGMENTS: usize = 8;
const MID_STREAM_BYTES: usize = 16 * 1024;
/// How much of one direction a detector that needs whole packets may look at (an MQTT PUBLISH seen
/// mid-stream is recognised only once a whole one is there: the worksheet's is 67 bytes, more than
/// [`UNDECIDED_LIMIT`]).
const WHOLE_PACKET_LIMIT: usize = 4096;

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

    pub fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        if let Some(d) = self.chosen.as_mut() {
            d.data(dir, t, offset, bytes, out);
            return;
        }
        self.held.push((dir, t, offset, bytes.to_vec()));
        self.held_len += bytes.len();
        let wide: Vec<u8> = self
            .held
            .iter()
            .filter(|h| h.0 == dir)
            .flat_map(|h| h.3.iter().copied())
            .take(WHOLE_PACKET_LIMIT)
            .collect();
        let first = &wide[..wide.len().min(UNDECIDED_LIMIT)];
        let patient = self.hints.mid_stream
            && self.held.len() < MID_STREAM_SEGMENTS
            && self.held_len < MID_STREAM_BYTES;
        let decided = if self.hints.mid_stream && bytes.len() >= 10 && wire::ice::sniff(bytes) {
            // Mid-stream, a segment that starts with an Ice header is Ice, whatever came before it.
            Some(Box::new(ice::Ice::new(false)) as Box<dyn Dissector + Send>)
        } else if self.hints.mid_stream && !self.hints.udp && wire::giop::sniff(bytes) {
            // And one that starts with a GIOP header is GIOP.
            Some(Box::new(giop::Giop::new()) as Box<dyn Dissector + Send>)
        } else if self.hints.mid_stream && !self.hints.udp && tls::starts_record_run(bytes) {
            // And one that is TLS records back to back (every header sane, to the segment's end)
            // is TLS: the handshake was before the capture, application data records follow.
            Some(Box::new(tls::Tls::new(self.hints.server_port, true)) as Box<dyn Dissector + Send>)
        } else {
            detect(
                first,
                &wide,
                dir,
                self.hints,
                self.held_len >= UNDECIDED_LIMIT,
                patient,
            )
        };
        if let Some(d) = decided {
            let mut d = d;
            for (dir, t, offset, bytes) in self.held.drain(..) {
                d.data(dir, t, offset, &bytes, out);
            }
            self.held_len = 0;
            self.chosen = Some(d);
        }
    }

    fn force(&mut self, out: &mut Messages) {
        if self.chosen.is_none() && !self.held.is_empty() {
            let mut d: Box<dyn Dissector + Send> = Box::new(raw::Text::new(self.hints));
            for (dir, t, offset, bytes) in self.held.drain(..) {
                d.data(dir, t, offset, &bytes, out);
            }
            self.chosen = Some(d);
        }
    }

    pub fn gap(&mut self, dir: Direction, out: &mut Messages) {
        self.force(out);
        if let Some(d) = self.chosen.as_mut() {
            d.gap(dir);
        }
    }

    pub fn end(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        self.force(out);
        if let Some(d) = self.chosen.as_mut() {
            d.end(dir, t, out);
        }
    }

    pub fn finish(&mut self, t: f64, out: &mut Messages, notes: &mut Vec<Note>) {
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

/// Choose a dissector from the first bytes of one direction; `None` = wait for more. `patient`: wait
/// rather than settle for the text fallback (a mid-stream connection, see [`MID_STREAM_SEGMENTS`]).
fn detect(
    first: &[u8],
    wide: &[u8],
    _dir: Direction,
    hints: Hints,
    enough: bool,
    patient: bool,
) -> Option<Box<dyn Dissector + Send>> {
    if first.is_empty() {
        return None;
    }
    // Ice: the magic `IceP` and known versions, type and compression ([`wire::ice::sniff`]), on any
    // port, over TCP or UDP, in whichever direction speaks first (the server's ValidateConnection).
    if ice::maybe_ice(first) {
        if first.len() >= 10 {
            if wire::ice::sniff(first) {
                return Some(Box::new(ice::Ice::new(hints.udp)));
            }
        } else if !enough {
            return None;
        }
    }
    if !hints.udp {
        // GIOP (IIOP): the magic `GIOP` and a known version, flags and type ([`wire::giop::sniff`]),
        // on any port, in whichever direction speaks first (the client, unless the capture began
        // later). GIOP runs over TCP only.
        if giop::maybe_giop(first) {
            if first.len() >= 8 {
                if wire::giop::sniff(first) {
                    return Some(Box::new(giop::Giop::new()));
                }
            } else if !enough {
                return None;
            }
        }
        // TLS: a handshake record holding a ClientHello or a ServerHello ([`tls::sniff_hello`]), on
        // any port, in whichever direction the capture shows first. Before MQTT: on 8883 MQTT
        // travels inside TLS.
        match tls::sniff_hello(first) {
            tls::Sniff::Tls => return Some(Box::new(tls::Tls::new(hints.server_port, hints.mid_stream))),
            tls::Sniff::NeedMore if !enough => return None,
            _ => {}
        }
        // MQTT: a CONNECT is unmistakable on any port; without one (the capture started later), a run
        // of whole MQTT packets on the MQTT port (1883, 8883) will do, looked for in more than the
        // first 64 bytes (`wide`): a PUBLISH whose bytes are all printable (the worksheet's `30 41 00
        // 15 sister/channel/gaming Ada kanal ...`) is MQTT, not text, once all of it is there.
        if mqtt::is_connect(first) {
            return Some(Box::new(mqtt::Mqtt::new()));
        }
        if matches!(hints.server_port, 1883 | 8883) {
            match mqtt::packet_run(wide) {
                Some(true) => return Some(Box::new(mqtt::Mqtt::new())),
                // The first packet is not whole yet: wait for its end (while the caller holds bytes).
                None if wide.len() < WHOLE_PACKET_LIMIT && (patient || !enough) => return None,
                _ => {}
            }
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
    if patient {
        return None;
    }
    Some(Box::new(raw::Text::new(hints)))
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
    if !bytes.is_empty() && (wire::escape::is_utf8(bytes) || printable * 10 >= bytes.len() * 9) {
        // Only the first `max` characters are shown: enough bytes for `max + 1` of them are shown (a
        // character comes from at most 4 bytes; a cut character at the end is past them), not a
        // 2000-byte body.
        let shown = wire::escape::show(&bytes[..bytes.len().min(4 * (max + 2))]);
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

// Small helpers the RPC dissectors (Ice, GIOP) share.

/// The reason of a decode error, without the `invalid:` prefix of its Display.
pub(crate) fn reason(e: &wire::DecodeError) -> String {
    match e {
        wire::DecodeError::Invalid(r) => r.clone(),
        other => other.to_string(),
    }
}

/// A string argument as the report shows it: quoted, control characters escaped, cut at 60.
pub(crate) fn quoted(s: &str) -> String {
    let shown = wire::escape::show(s.as_bytes()).replace('"', "\\\"");
    if shown.chars().count() > 60 {
        format!("\"{}…\"", shown.chars().take(60).collect::<String>())
    } else {
        format!("\"{shown}\"")
    }
}

/// `1 byte`, `5 bytes`.
pub(crate) fn bytes_text(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// `s` cut to `max` characters, `…` marking the cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use capture::synth::*;

    /// Feed both directions of a conversation, one piece at a time, to a fresh session.
    fn run(port: u16, pieces: &[(Direction, Vec<u8>)], limit: usize) -> Messages {
        let mut s = Session::new(Hints {
            server_port: port,
            udp: false,
            mid_stream: false,
        });
        let mut out = Messages::new(limit);
        let mut offsets = [0u64; 2];
        for (i, (dir, bytes)) in pieces.iter().enumerate() {
            let d = dir_index(*dir) as usize;
            s.data(*dir, i as f64, offsets[d], bytes, &mut out);
            offsets[d] += bytes.len() as u64;
        }
        let mut notes = Vec::new();
        s.finish(99.0, &mut out, &mut notes);
        out
    }

    #[test]
    fn preview_of_a_long_body_is_the_cut_of_all_of_it_shown() {
        let cut_of_all = |bytes: &[u8], max: usize| {
            let shown = wire::escape::show(bytes);
            if shown.chars().count() > max {
                format!("'{}…'", shown.chars().take(max).collect::<String>())
            } else {
                format!("'{shown}'")
            }
        };
        let mut bodies = vec![
            "€".repeat(100).into_bytes(),
            "x".repeat(1000).into_bytes(),
            "line\r\n".repeat(100).into_bytes(),
            [b"W".repeat(2000), vec![0xff]].concat(),
        ];
        // A multi-byte character cut at every possible place near the prefix's end.
        for pad in 0..8 {
            bodies.push([b"a".repeat(pad), "°€😀".repeat(200).into_bytes()].concat());
        }
        for body in &bodies {
            for max in [1, 40, 60, 80] {
                assert_eq!(preview(body, max), cut_of_all(body, max), "max {max}");
            }
        }
    }

    #[test]
    fn counting_only_gives_the_counts_of_keeping_in_full() {
        use Direction::{ClientToServer as C, ServerToClient as S};
        let mut req = vec![0x01, 0x00];
        req.extend(zmtp_message(b"Hello"));
        // (server port, what each side sent, piece by piece)
        let ice = |m: &wire::ice::Message| {
            let mut out = Vec::new();
            wire::ice::encode(m, &mut out);
            out
        };
        let call = |id, op: &str| {
            wire::ice::Message::Request(wire::ice::Request::new(
                id,
                wire::ice::Identity::new("SimplePrinter1"),
                op,
                wire::ice::Encapsulation::build(wire::ice::ENCODING_1_1, |w| w.string("Hello")),
            ))
        };
        let ok = |id| wire::ice::Message::Reply(wire::ice::Reply::ok(id, wire::ice::Encapsulation::empty()));
        let giop_call = |id, op: &str| {
            let h = wire::giop::RequestHeader {
                request_id: id,
                response_expected: true,
                object_key: b"NameService",
                operation: op,
                service_contexts: &[],
            };
            wire::giop::encode_request(wire::giop::GIOP_1_2, true, &h, |w| w.string("Hello"))
        };
        let giop_ok = |id| {
            wire::giop::encode_reply(
                wire::giop::GIOP_1_2,
                true,
                id,
                wire::giop::ReplyStatus::NoException,
                &[],
                |_| {},
            )
        };
        type Conversation = (u16, Vec<(Direction, Vec<u8>)>);
        let conversations: [Conversation; 8] = [
            (8883, tls::build::tls13_conversation()),
            (8443, tls::build::tls12_conversation()),
            (
                1883,
                vec![
                    (C, mqtt_connect("paho-1")),
                    (S, mqtt_connack()),
                    (
                        C,
                        [mqtt_subscribe(1, "sister/#"), mqtt_subscribe(2, "a/b")].concat(),
                    ),
                    (S, mqtt_suback(1)),
                    (C, mqtt_publish("sister/temp", b"Suhu: 28\xc2\xb0C").repeat(3)),
                    (S, mqtt_publish("sister/temp", b"\x00\x01 binary")),
                    (C, mqtt_disconnect()),
                ],
            ),
            (
                5555,
                vec![
                    (C, zmtp_greeting(false)),
                    (S, zmtp_greeting(true)),
                    (C, zmtp_ready("REQ")),
                    (S, zmtp_ready("REP")),
                    (C, [req.clone(), req.clone()].concat()),
                    (S, [vec![0x01, 0x00], zmtp_message(b"World")].concat()),
                ],
            ),
            (
                5556,
                vec![
                    (C, zmtp_greeting(false)),
                    (S, zmtp_greeting(true)),
                    (C, zmtp_ready("SUB")),
                    (S, zmtp_ready("PUB")),
                    (C, zmtp_message(b"\x01WAKTU")),
                    (S, [zmtp_message(b"WAKTU 12:00"), zmtp_message(b"")].concat()),
                ],
            ),
            (
                5151,
                vec![
                    (C, b"GET /add?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
                    (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec()),
                ],
            ),
            (
                11000,
                vec![
                    (S, ice(&wire::ice::Message::ValidateConnection)),
                    (
                        C,
                        [ice(&call(1, "ice_isA")), ice(&call(2, "printString"))].concat(),
                    ),
                    (S, [ice(&ok(1)), ice(&ok(2))].concat()),
                    (
                        C,
                        ice(&wire::ice::Message::BatchRequest(vec![
                            wire::ice::Request::new(
                                0,
                                wire::ice::Identity::new("log"),
                                "write",
                                wire::ice::Encapsulation::empty(),
                            );
                            2
                        ])),
                    ),
                    (C, ice(&call(0, "printString"))),
                    (C, ice(&wire::ice::Message::CloseConnection)),
                ],
            ),
            (
                2809,
                vec![
                    (
                        C,
                        [giop_call(1, "resolve_str"), giop_call(2, "resolve_str")].concat(),
                    ),
                    (S, [giop_ok(1), giop_ok(2)].concat()),
                    (C, giop_call(3, "sayHello")),
                    (
                        S,
                        wire::giop::encode_bare(
                            wire::giop::GIOP_1_2,
                            true,
                            wire::giop::MessageType::CloseConnection,
                        ),
                    ),
                ],
            ),
        ];
        for (port, pieces) in &conversations {
            let full = run(*port, pieces, usize::MAX);
            let counted = run(*port, pieces, 0);
            assert!(!full.kept.is_empty() && counted.kept.is_empty());
            assert_eq!(full.omitted, 0);
            assert_eq!(counted.omitted, full.kept.len() as u64, "port {port}");
            assert_eq!(counted.per_direction, full.per_direction, "port {port}");
            assert_eq!(counted.activity, full.activity, "port {port}");
            assert_eq!(counted.opened_by, full.opened_by, "port {port}");
            assert_eq!(counted.closed_by, full.closed_by, "port {port}");
            assert_eq!(counted.tls, full.tls, "port {port}");
        }
    }

    /// A session already open when the capture began, on 1883, with PUBLISH packets whose every byte
    /// is printable (the worksheet's `Ada kanal Youtube baru nih: @Ivanzenatmaja`: 67 bytes, more
    /// than the 64 the detector used to look at): MQTT, not text, for short and long topics and
    /// payloads, one packet per segment or several.
    #[test]
    fn a_mid_stream_mqtt_session_with_printable_publishes_is_mqtt() {
        use Direction::ClientToServer as C;
        let publish = |topic: &str, payload: &str| {
            let mut p = wire::mqtt::Publish::new(topic, payload.as_bytes().to_vec());
            p.qos = wire::mqtt::QoS::AtMostOnce;
            wire::mqtt::Packet::Publish(p)
                .to_vec(wire::mqtt::Version::V3_1_1)
                .unwrap()
        };
        let long_payload = "x".repeat(300);
        let cases = [
            (
                "sister/channel/gaming",
                "Ada kanal Youtube baru nih: @Ivanzenatmaja",
            ),
            ("sister/channel/gaming", "Suhu: 28C"),
            ("sister/temp", "Suhu: 28°C"),
            ("a", "b"),
            (
                "sister/channel/a-rather-long-topic-name-for-a-test",
                long_payload.as_str(),
            ),
        ];
        for (topic, payload) in cases {
            let packet = publish(topic, payload);
            assert_eq!(packet.len() > 64, topic.len() + payload.len() > 60, "{topic}");
            for together in [1, 3] {
                let segment: Vec<u8> = (0..together).flat_map(|_| packet.clone()).collect();
                let segments: Vec<(Direction, Vec<u8>)> = (0..4).map(|_| (C, segment.clone())).collect();
                let mut s = Session::new(Hints {
                    server_port: 1883,
                    udp: false,
                    mid_stream: true,
                });
                let mut out = Messages::default();
                for (i, (d, b)) in segments.iter().enumerate() {
                    s.data(*d, i as f64, (i * b.len()) as u64, b, &mut out);
                }
                s.data(C, 9.0, 0, &[0xe0, 0x00], &mut out); // DISCONNECT
                let mut notes = Vec::new();
                s.finish(10.0, &mut out, &mut notes);
                let protocols: Vec<&str> = out.kept.iter().map(|m| m.protocol).collect();
                assert!(
                    !protocols.is_empty() && protocols.iter().all(|p| *p == "MQTT"),
                    "{topic} / {payload} x{together}: {protocols:?}"
                );
                let publishes = out
                    .kept
                    .iter()
                    .filter(|m| m.summary.starts_with("PUBLISH"))
                    .count();
                assert_eq!(publishes, 4 * together, "{topic} / {payload} x{together}");
                assert!(out.kept.iter().any(|m| m.summary.starts_with("DISCONNECT")));
            }
        }
        // Text on 1883 is still text.
        let out = run(
            1883,
            &[(C, b"hello there, this is not MQTT at all\n".to_vec())],
            usize::MAX,
        );
        assert!(out.kept.iter().all(|m| m.protocol == "text"), "{:?}", out.kept);
    }

    #[test]
    fn tls_is_found_by_its_hello_on_any_port_and_mid_stream_by_its_records() {
        use tls::build::{client_hello_message, record};
        use Direction::{ClientToServer as C, ServerToClient as S};
        let hello = record(
            22,
            0x0301,
            &client_hello_message("localhost", &["mqtt"], &[0x001d]),
        );
        // 8883 first: MQTT's port, where TLS must win over the MQTT guess.
        for port in [8883, 443, 4433, 1883, 12345] {
            // The ClientHello in two pieces, the first shorter than the detector needs.
            let out = run(
                port,
                &[(C, hello[..4].to_vec()), (C, hello[4..].to_vec())],
                usize::MAX,
            );
            assert_eq!(out.kept.len(), 1, "port {port}");
            assert_eq!(out.kept[0].protocol, "TLS", "port {port}");
            assert!(
                out.kept[0].summary.starts_with("ClientHello (SNI localhost"),
                "port {port}"
            );
            assert!(out.tls.is_some());
        }
        // A capture that began after the handshake: application data records back to back.
        let mut s = Session::new(Hints {
            server_port: 4433,
            udp: false,
            mid_stream: true,
        });
        let mut out = Messages::default();
        s.data(C, 0.0, 0, &record(23, 0x0303, &[1; 22]), &mut out);
        s.data(S, 0.1, 0, &record(23, 0x0303, &[2; 22]), &mut out);
        let mut notes = Vec::new();
        s.finish(1.0, &mut out, &mut notes);
        let shown: Vec<(&str, &str)> = out
            .kept
            .iter()
            .map(|m| (m.protocol, m.summary.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("TLS", "application data (22 bytes)"),
                ("TLS", "application data (22 bytes)")
            ]
        );
        // The same records in a connection whose start was captured are no hello: not TLS.
        let out = run(4433, &[(C, record(23, 0x0303, &[1; 22]))], usize::MAX);
        assert_ne!(out.kept[0].protocol, "TLS");
    }

    #[test]
    fn ice_is_found_by_its_magic_on_any_port_either_way_and_over_udp() {
        use Direction::{ClientToServer as C, ServerToClient as S};
        let mut validate = Vec::new();
        wire::ice::encode(&wire::ice::Message::ValidateConnection, &mut validate);
        let mut close = Vec::new();
        wire::ice::encode(&wire::ice::Message::CloseConnection, &mut close);
        for port in [4061, 11000, 80, 1883] {
            // The server speaks first; its header may arrive in two pieces.
            let out = run(
                port,
                &[
                    (S, validate[..6].to_vec()),
                    (S, validate[6..].to_vec()),
                    (C, close.clone()),
                ],
                usize::MAX,
            );
            let shown: Vec<(&str, &str)> = out
                .kept
                .iter()
                .map(|m| (m.protocol, m.summary.as_str()))
                .collect();
            assert_eq!(
                shown,
                [("Ice", "ValidateConnection"), ("Ice", "CloseConnection")],
                "port {port}"
            );
        }
        let mut s = Session::new(Hints {
            server_port: 4061,
            udp: true,
            mid_stream: false,
        });
        let mut out = Messages::default();
        s.data(C, 0.0, 0, &close, &mut out);
        assert_eq!(out.kept[0].protocol, "Ice");
        // A capture that began inside a client's message: the first segment says nothing, the
        // server's next one starts with an Ice header.
        let mut request = Vec::new();
        wire::ice::encode(
            &wire::ice::Message::Request(wire::ice::Request::new(
                7,
                wire::ice::Identity::new("printer"),
                "printString",
                wire::ice::Encapsulation::build(wire::ice::ENCODING_1_1, |w| w.string("a long text")),
            )),
            &mut request,
        );
        let mut reply = Vec::new();
        wire::ice::encode(
            &wire::ice::Message::Reply(wire::ice::Reply::ok(7, wire::ice::Encapsulation::empty())),
            &mut reply,
        );
        let mut s = Session::new(Hints {
            server_port: 11000,
            udp: false,
            mid_stream: true,
        });
        let mut out = Messages::default();
        s.data(C, 0.0, 0, &request[30..], &mut out);
        assert!(out.kept.is_empty(), "held: the first segment says nothing");
        s.data(S, 1.0, 0, &reply, &mut out);
        s.data(C, 2.0, (request.len() - 30) as u64, &request, &mut out);
        let shown: Vec<&str> = out.kept.iter().map(|m| m.summary.as_str()).collect();
        assert_eq!(
            shown,
            ["Reply #7 ok", "Request #7 printer.printString(\"a long text\")"]
        );
        // A mid-stream connection that never shows Ice is text, as before, once enough is seen.
        let mut s = Session::new(Hints {
            server_port: 2222,
            udp: false,
            mid_stream: true,
        });
        let mut out = Messages::default();
        for i in 0..MID_STREAM_SEGMENTS {
            s.data(C, i as f64, 5 * i as u64, b"halo\n", &mut out);
        }
        assert_eq!(out.kept.len(), MID_STREAM_SEGMENTS);
        assert!(out.kept.iter().all(|m| m.protocol == "text"));
        // `IceP` alone, or a text that starts like it, is not Ice.
        let out = run(9999, &[(C, b"IceP is a word\n".to_vec())], usize::MAX);
        assert_eq!(out.kept[0].protocol, "text");
    }

    #[test]
    fn giop_is_found_by_its_magic_on_any_port_either_way_but_not_over_udp() {
        use wire::giop::{encode_bare, encode_request, MessageType, RequestHeader, GIOP_1_0, GIOP_1_2};
        use Direction::{ClientToServer as C, ServerToClient as S};
        let call = |id| {
            let h = RequestHeader {
                request_id: id,
                response_expected: true,
                object_key: b"Hello",
                operation: "sayHello",
                service_contexts: &[],
            };
            encode_request(GIOP_1_0, false, &h, |_| {})
        };
        let close = encode_bare(GIOP_1_2, true, MessageType::CloseConnection);
        for port in [2809, 40123, 80, 1883, 12345] {
            // The client speaks first, its header in two pieces; or the server (its CloseConnection).
            let out = run(
                port,
                &[
                    (C, call(1)[..3].to_vec()),
                    (C, call(1)[3..].to_vec()),
                    (S, close.clone()),
                ],
                usize::MAX,
            );
            let shown: Vec<(&str, &str)> = out
                .kept
                .iter()
                .map(|m| (m.protocol, m.summary.as_str()))
                .collect();
            assert_eq!(
                shown,
                [
                    ("GIOP", "Request #1 GIOP 1.0 Hello.sayHello()"),
                    ("GIOP", "CloseConnection GIOP 1.2")
                ],
                "port {port}"
            );
            let out = run(port, &[(S, close.clone())], usize::MAX);
            assert_eq!(out.kept[0].protocol, "GIOP", "port {port}");
        }
        // GIOP runs over TCP: the same bytes in a datagram are not read as GIOP.
        let mut s = Session::new(Hints {
            server_port: 2809,
            udp: true,
            mid_stream: false,
        });
        let mut out = Messages::default();
        s.data(C, 0.0, 0, &call(1), &mut out);
        assert_ne!(out.kept[0].protocol, "GIOP");
        // A capture that began inside a request: the next segment that starts with a header is GIOP.
        let first = call(1);
        let mut s = Session::new(Hints {
            server_port: 40123,
            udp: false,
            mid_stream: true,
        });
        let mut out = Messages::default();
        s.data(C, 0.0, 0, &first[20..], &mut out);
        assert!(out.kept.is_empty(), "held: the first segment says nothing");
        s.data(C, 1.0, (first.len() - 20) as u64, &call(2), &mut out);
        let shown: Vec<&str> = out.kept.iter().map(|m| m.summary.as_str()).collect();
        assert_eq!(shown, ["Request #2 GIOP 1.0 Hello.sayHello()"]);
        // `GIOP` in a text, or a GIOP 2.0 header, is not GIOP.
        for text in [
            &b"GIOP is CORBA's protocol\n"[..],
            b"GIOP\x02\x00\x00\x00\x00\x00\x00\x00",
        ] {
            let out = run(9999, &[(C, text.to_vec())], usize::MAX);
            assert_eq!(out.kept[0].protocol, "text");
        }
    }
}
