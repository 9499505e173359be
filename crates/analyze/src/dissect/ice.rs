//! ZeroC Ice (the Ice protocol 1.0, encodings 1.0 and 1.1), read with the lab's own codec
//! ([`wire::ice`], the one `sister ice server|client` use). tshark's `icep` dissector reads the same
//! messages, and the tests check that both count the same number of them.
//!
//! A connection, as the course's Printer shows it: the server speaks first with ValidateConnection
//! (a bare 14-byte header), then the client's Requests, each answered by a Reply with the same request
//! id (`checkedCast` is an `ice_isA("::Demo::Printer")` call), and CloseConnection when the client's
//! communicator is destroyed. A oneway call (request id 0) gets no Reply; a BatchRequest carries several
//! oneway calls in one message (tshark and sister count it as one message).
//!
//! What to notice: Ice is *self-framing* (every message starts with the magic `IceP` and says its size),
//! so sister finds it on any port, but nothing on the wire says what the parameters mean: without the
//! Slice file an `int` is four bytes. Parameters that read as nothing but strings are shown as strings
//! (a guess, see [`wire::ice::Encapsulation::as_strings`]), anything else by its size. The operation
//! names always travel as text, so an interface sister has never seen still reads call by call.
//!
//! Per direction: messages back to back. A body that breaks the rules is shown as malformed and the
//! next message is found from the header's size; a header that breaks them (no magic, a size below 14)
//! stops that direction, as nothing can tell where the next message starts. A capture that starts
//! mid-connection is read from the first segment that starts with an Ice header.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use wire::ice::{
    Compression, Encapsulation, Header, Message, MessageType, OperationMode, Reader, Reply, ReplyBody,
    ReplyStatus, Request, MAGIC,
};
use wire::DecodeError;

use super::{bytes_text, cut, quoted, reason, Dissector, Messages, Msg, Note, Step};
use crate::report::Direction;

/// The largest Ice message held while waiting for its last byte (Ice's own default limit is 1 MiB,
/// `Ice.MessageSizeMax`, which a program may raise). Larger messages are counted and skipped.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;
/// At most this many twoway requests wait for their reply (a flood of unanswered requests is not kept).
const MAX_PENDING: usize = 4096;
/// Calls of a BatchRequest shown in its summary.
const BATCH_SHOWN: usize = 8;

fn side_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Waiting for a segment that starts with an Ice header: the direction's start (a capture that
    /// began mid-message) or after bytes were lost.
    #[default]
    Seeking,
    /// Reading messages back to back.
    Reading,
    /// A header broke the rules: nothing more is read in this direction.
    Broken,
}

#[derive(Default)]
struct Half {
    state: State,
    /// The start of an unfinished message.
    buf: Vec<u8>,
    /// Stream offset of the next message (of `buf[0]` when `buf` is not empty).
    offset: u64,
    /// Bytes still to drop: the rest of a message too large to hold.
    skip: u64,
    /// Said once: the direction did not start with an Ice header.
    told_seeking: bool,
    /// Bytes were lost (or the start was skipped): replies to this direction's requests may be gone.
    lossy: bool,
}

/// A twoway request waiting for its reply.
struct Pending {
    /// The direction the request went.
    dir: Direction,
    id: i32,
    t: f64,
    operation: String,
    summary: String,
}

pub struct Ice {
    udp: bool,
    halves: [Half; 2],
    pending: VecDeque<Pending>,
    /// Broken headers and skipped starts, reported at the end (at most [`MAX_NOTES`]).
    notes: Vec<Note>,
}

/// At most this many notes (broken headers, skipped starts, cut datagrams) per conversation.
const MAX_NOTES: usize = 16;

/// True when `b` may be the start of an Ice message: the magic `IceP`, or a prefix of it (wait for
/// more bytes).
pub fn maybe_ice(b: &[u8]) -> bool {
    let n = b.len().min(MAGIC.len());
    !b.is_empty() && b[..n] == MAGIC[..n]
}

impl Ice {
    /// A dissector for a TCP connection (`udp` false: messages back to back in a stream) or a UDP
    /// exchange (`udp` true: one message per datagram, as Ice sends them).
    pub fn new(udp: bool) -> Self {
        Ice {
            udp,
            halves: Default::default(),
            pending: VecDeque::new(),
            notes: Vec::new(),
        }
    }

    /// Decode the whole messages at the start of `input` (which starts at stream offset
    /// `halves[dir].offset`); returns how many bytes were used (all of them when the rest is dropped).
    fn messages(
        &mut self,
        dir: Direction,
        t: f64,
        input: &[u8],
        out: &mut Messages,
        notes: &mut Vec<Note>,
    ) -> usize {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            if rest.is_empty() {
                return used;
            }
            let h = &mut self.halves[dir.index()];
            let header = match Header::decode(rest) {
                Ok(header) => header,
                Err(e) if e.is_incomplete() => return used,
                Err(e) => {
                    h.state = State::Broken;
                    notes.push(Note::Malformed {
                        t,
                        what: format!(
                            "Ice from the {} at stream offset {}: {}; the rest of this direction is not read",
                            side_name(dir),
                            h.offset,
                            reason(&e)
                        ),
                    });
                    return input.len();
                }
            };
            let size = header.size as usize;
            let start = h.offset;
            if size > MAX_MESSAGE {
                // Counted (tshark counts it too) but not held: its bytes are dropped as they come.
                let have = rest.len().min(size);
                h.skip = (size - have) as u64;
                h.offset += size as u64;
                self.too_large(dir, t, start, &header, out);
                used += have;
                continue;
            }
            if rest.len() < size {
                return used;
            }
            h.offset += size as u64;
            let decoded = wire::ice::decode(&rest[..size], MAX_MESSAGE).map(|(d, _)| d.message);
            self.message(dir, t, start, &header, decoded, out);
            used += size;
        }
    }

    fn too_large(&mut self, dir: Direction, t: f64, offset: u64, header: &Header, out: &mut Messages) {
        let kind = header.message_type.name();
        if !out.wants_detail() {
            out.count(dir, "Ice", None);
            return;
        }
        let mut f = BTreeMap::new();
        f.insert("type".to_string(), kind.to_string());
        f.insert("size".into(), header.size.to_string());
        out.push(msg(
            dir,
            t,
            offset,
            u64::from(header.size),
            format!(
                "{kind} of {} bytes (not decoded: larger than the {} MiB sister holds)",
                header.size,
                MAX_MESSAGE >> 20
            ),
            f,
        ));
    }

    /// One whole message: what it changes (requests waiting, the session's opening and closing), then
    /// its line in the report.
    fn message(
        &mut self,
        dir: Direction,
        t: f64,
        offset: u64,
        header: &Header,
        decoded: Result<Message, DecodeError>,
        out: &mut Messages,
    ) {
        let len = u64::from(header.size);
        let compressed = header.compression == Compression::Compressed;
        let message = match decoded {
            Ok(m) => m,
            Err(e) => {
                // The header's size still says where the next message starts.
                let kind = match header.message_type {
                    MessageType::Unknown(n) => format!("message of type {n}"),
                    k => k.name().to_string(),
                };
                let why = reason(&e);
                if !out.wants_detail() {
                    out.count(dir, "Ice", None);
                    return;
                }
                let mut f = BTreeMap::new();
                f.insert("type".to_string(), header.message_type.name().to_string());
                f.insert("error".into(), why.clone());
                if compressed {
                    f.insert("compressed".into(), "true".into());
                }
                out.push(msg(dir, t, offset, len, format!("malformed {kind}: {why}"), f));
                return;
            }
        };
        // What every message changes, kept or only counted.
        let answered = match &message {
            Message::Request(req) if !req.is_oneway() => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.pop_front();
                }
                self.pending.push_back(Pending {
                    dir,
                    id: req.request_id,
                    t,
                    operation: req.operation.clone(),
                    summary: String::new(),
                });
                None
            }
            Message::Reply(reply) => self
                .pending
                .iter()
                .position(|p| p.dir != dir && p.id == reply.request_id)
                .and_then(|i| self.pending.remove(i)),
            Message::ValidateConnection => {
                out.opened_by.get_or_insert(Step {
                    t,
                    direction: dir,
                    message: "ValidateConnection",
                });
                None
            }
            Message::CloseConnection => {
                out.closed_by.get_or_insert(Step {
                    t,
                    direction: dir,
                    message: "CloseConnection",
                });
                None
            }
            _ => None,
        };
        if !out.wants_detail() {
            // Only counted: the activity key `activity_key` would read from the fields.
            match &message {
                Message::Request(req) => {
                    out.count(dir, "Ice", Some(format_args!("call of {}", req.operation)));
                }
                Message::BatchRequest(reqs) => {
                    out.count(
                        dir,
                        "Ice",
                        Some(format_args!("batched calls of {}", operations(reqs))),
                    );
                }
                _ => out.count(dir, "Ice", None),
            }
            return;
        }
        let mut f = BTreeMap::new();
        f.insert("type".to_string(), message.message_type().name().to_string());
        if compressed {
            f.insert("compressed".into(), "true".into());
        }
        let summary = match &message {
            Message::Request(req) => {
                let s = request_line(req, compressed, &mut f);
                if let Some(p) = self.pending.back_mut() {
                    if p.dir == dir && p.id == req.request_id && !req.is_oneway() {
                        p.summary = s.clone();
                    }
                }
                s
            }
            Message::BatchRequest(reqs) => batch_line(reqs, compressed, &mut f),
            Message::Reply(reply) => reply_line(
                reply,
                answered.as_ref().map(|p| p.operation.as_str()),
                compressed,
                &mut f,
            ),
            Message::ValidateConnection => "ValidateConnection".to_string(),
            Message::CloseConnection => "CloseConnection".to_string(),
        };
        out.push(msg(dir, t, offset, len, summary, f));
    }

    /// The bytes of one direction, whatever their state. `notes` collects broken headers.
    fn feed(
        &mut self,
        dir: Direction,
        t: f64,
        offset: u64,
        bytes: &[u8],
        out: &mut Messages,
        notes: &mut Vec<Note>,
    ) {
        let mut bytes = bytes;
        let mut offset = offset;
        let h = &mut self.halves[dir.index()];
        if self.udp {
            // One datagram, one message: nothing carries over from the previous one.
            h.buf.clear();
            h.skip = 0;
            h.state = State::Reading;
            h.offset = offset;
            let used = self.messages(dir, t, bytes, out, notes);
            let h = &mut self.halves[dir.index()];
            if used < bytes.len() && h.state == State::Reading {
                // A datagram cut inside its message: tshark counts it too, as a message it could
                // not read to the end.
                let rest = &bytes[used..];
                match Header::decode(rest) {
                    Ok(header) => {
                        let start = h.offset;
                        let e = DecodeError::invalid(format!(
                            "the datagram holds {} of the message's {} bytes",
                            rest.len(),
                            header.size
                        ));
                        self.message(dir, t, start, &header, Err(e), out);
                    }
                    Err(e) => notes.push(Note::Malformed {
                        t,
                        what: format!(
                            "Ice datagram from the {} cut inside its header: {}",
                            side_name(dir),
                            reason(&e)
                        ),
                    }),
                }
            }
            return;
        }
        if h.skip > 0 {
            let n = (h.skip as usize).min(bytes.len());
            h.skip -= n as u64;
            bytes = &bytes[n..];
            offset += n as u64;
            if bytes.is_empty() {
                return;
            }
        }
        match h.state {
            State::Broken => return,
            State::Seeking => {
                // A segment that starts with an Ice header (or the first bytes of one) ends the search.
                let header_like = if bytes.len() >= 10 {
                    wire::ice::sniff(bytes)
                } else {
                    maybe_ice(bytes)
                };
                if !header_like {
                    if !h.told_seeking && offset == 0 {
                        h.told_seeking = true;
                        notes.push(Note::Malformed {
                            t,
                            what: format!(
                                "the {}'s bytes do not start with an Ice header (the capture began inside a \
                                 message?): skipped up to the next segment that starts with one",
                                side_name(dir)
                            ),
                        });
                    }
                    h.lossy = true;
                    return;
                }
                h.state = State::Reading;
                h.buf.clear();
            }
            State::Reading => {}
        }
        // Whole messages are decoded straight from the segment when nothing waits in the buffer (the
        // usual case); only the start of an unfinished message is copied, to wait for the rest.
        let mut held = std::mem::take(&mut h.buf);
        if held.is_empty() {
            h.offset = offset;
            let used = self.messages(dir, t, bytes, out, notes);
            held.extend_from_slice(&bytes[used..]);
        } else {
            held.extend_from_slice(bytes);
            let used = self.messages(dir, t, &held, out, notes);
            held.drain(..used);
        }
        let h = &mut self.halves[dir.index()];
        if h.state == State::Broken {
            held.clear();
        }
        h.buf = held;
    }
}

/// Parameters or results as shown between parentheses: the strings when they read as strings,
/// otherwise their size, nothing when there are none. Sets `key` (`arguments`, `results`) when
/// strings were read.
fn values(e: &Encapsulation, key: &str, f: &mut BTreeMap<String, String>) -> String {
    if e.data.is_empty() {
        return String::new();
    }
    match e.as_strings() {
        Some(strings) => {
            let shown: Vec<String> = strings.iter().map(|s| quoted(s)).collect();
            let shown = shown.join(", ");
            f.insert(key.to_string(), shown.clone());
            shown
        }
        None => bytes_text(e.data.len()),
    }
}

/// `SimplePrinter1.printString("Hello")`, with `[facet x, idempotent, context k=v]` after it when
/// any of those is there; the request's fields go into `f`.
fn call(req: &Request, compressed: bool, f: &mut BTreeMap<String, String>) -> String {
    f.insert("identity".to_string(), req.identity.to_string());
    f.insert("operation".into(), req.operation.clone());
    f.insert("mode".into(), req.mode.name().to_string());
    f.insert("params_encoding".into(), req.params.encoding.to_string());
    f.insert("params_bytes".into(), req.params.data.len().to_string());
    let args = values(&req.params, "arguments", f);
    let mut flags: Vec<String> = Vec::new();
    if let Some(facet) = &req.facet {
        f.insert("facet".into(), facet.clone());
        flags.push(format!("facet {facet}"));
    }
    if req.mode != OperationMode::Normal {
        flags.push(req.mode.name().to_string());
    }
    if !req.context.is_empty() {
        let ctx: Vec<String> = req.context.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ctx = ctx.join(", ");
        f.insert("context".into(), ctx.clone());
        flags.push(format!("context {}", cut(&ctx, 60)));
    }
    if compressed {
        flags.push("compressed".into());
    }
    let mut s = format!("{}.{}({args})", req.identity, req.operation);
    if !flags.is_empty() {
        let _ = write!(s, " [{}]", flags.join(", "));
    }
    s
}

/// `Request #2 SimplePrinter1.printString("Hello World from printer1!")`, `Request (oneway) ...`.
fn request_line(req: &Request, compressed: bool, f: &mut BTreeMap<String, String>) -> String {
    f.insert("request_id".to_string(), req.request_id.to_string());
    let head = if req.is_oneway() {
        f.insert("oneway".into(), "true".into());
        "Request (oneway)".to_string()
    } else {
        format!("Request #{}", req.request_id)
    };
    format!("{head} {}", call(req, compressed, f))
}

/// The distinct operations of a batch, in order: `deposit, log`.
fn operations(reqs: &[Request]) -> String {
    let mut ops: Vec<&str> = Vec::new();
    for r in reqs {
        if !ops.contains(&r.operation.as_str()) {
            ops.push(&r.operation);
        }
    }
    ops.join(", ")
}

/// `BatchRequest 2 requests: log.write("a"), log.write("b")`.
fn batch_line(reqs: &[Request], compressed: bool, f: &mut BTreeMap<String, String>) -> String {
    f.insert("requests".to_string(), reqs.len().to_string());
    f.insert("operations".into(), operations(reqs));
    let mut identities: Vec<String> = Vec::new();
    for r in reqs {
        let id = r.identity.to_string();
        if !identities.contains(&id) {
            identities.push(id);
        }
    }
    f.insert("identity".into(), identities.join(", "));
    let mut scratch = BTreeMap::new();
    let calls: Vec<String> = reqs
        .iter()
        .take(BATCH_SHOWN)
        .map(|r| call(r, false, &mut scratch))
        .collect();
    let mut s = format!(
        "BatchRequest {} request{}",
        reqs.len(),
        if reqs.len() == 1 { "" } else { "s" }
    );
    if !calls.is_empty() {
        let _ = write!(s, ": {}", calls.join(", "));
    }
    if reqs.len() > BATCH_SHOWN {
        let _ = write!(s, " …and {} more", reqs.len() - BATCH_SHOWN);
    }
    if compressed {
        s.push_str(" [compressed]");
    }
    s
}

/// The results of Ice's own operations, which every object has (their types are fixed by Ice, so they
/// can be read without a Slice file): `ice_isA` → bool, `ice_id` → string, `ice_ids` → strings.
fn builtin_results(operation: &str, e: &Encapsulation) -> Option<String> {
    let mut r = Reader::new(&e.data);
    let shown = match operation {
        "ice_isA" => r.bool("the result").ok()?.to_string(),
        "ice_id" => quoted(r.string("the result").ok()?),
        "ice_ids" => {
            let ids = r.string_seq("the result").ok()?;
            let ids: Vec<String> = ids.iter().map(|s| quoted(s)).collect();
            format!("[{}]", ids.join(", "))
        }
        "ice_ping" => String::new(),
        _ => return None,
    };
    r.is_empty().then_some(shown)
}

/// `Reply #2 ok`, `Reply #1 ok (true)`, `Reply #5 user exception ::Bank::Insufficient`,
/// `Reply #6 object does not exist (ghost)`, `Reply #7 unknown local exception: ...`.
fn reply_line(
    reply: &Reply,
    operation: Option<&str>,
    compressed: bool,
    f: &mut BTreeMap<String, String>,
) -> String {
    f.insert("request_id".to_string(), reply.request_id.to_string());
    f.insert("reply_status".into(), reply.status.describe().to_string());
    if let Some(op) = operation {
        f.insert("operation".into(), op.to_string());
    }
    let status = reply.status.describe();
    let mut s = format!("Reply #{} {status}", reply.request_id);
    match &reply.body {
        ReplyBody::Encapsulation(e) => {
            f.insert("results_encoding".into(), e.encoding.to_string());
            f.insert("results_bytes".into(), e.data.len().to_string());
            if reply.status == ReplyStatus::UserException {
                match e.exception_id() {
                    Some(id) => {
                        f.insert("exception".into(), id.clone());
                        let _ = write!(s, " {id}");
                    }
                    None => {
                        let _ = write!(s, " ({})", bytes_text(e.data.len()));
                    }
                }
            } else {
                let shown = match operation.and_then(|op| builtin_results(op, e)) {
                    Some(shown) => {
                        if !shown.is_empty() {
                            f.insert("results".into(), shown.clone());
                        }
                        shown
                    }
                    None => values(e, "results", f),
                };
                if !shown.is_empty() {
                    let _ = write!(s, " ({shown})");
                }
            }
        }
        ReplyBody::NotExist {
            identity,
            facet,
            operation,
        } => {
            f.insert("identity".into(), identity.to_string());
            f.insert("operation".into(), operation.clone());
            let what = match (reply.status, facet) {
                (ReplyStatus::OperationNotExist, _) => format!("{identity}.{operation}"),
                (_, Some(facet)) => format!("{identity} [facet {facet}]"),
                _ => identity.to_string(),
            };
            if let Some(facet) = facet {
                f.insert("facet".into(), facet.clone());
            }
            let _ = write!(s, " ({what})");
        }
        ReplyBody::Unknown(text) => {
            f.insert("reason".into(), cut(text, 2000));
            let _ = write!(s, ": {}", cut(&wire::escape::show(gist(text).as_bytes()), 80));
        }
    }
    if compressed {
        s.push_str(" [compressed]");
    }
    s
}

/// The line of an exception's description worth a summary: a Python server sends its whole
/// traceback, whose last line says what was raised (`ValueError: a negative deposit`); other servers
/// send one line.
fn gist(text: &str) -> &str {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !matches!(*l, "{" | "}"));
    if text.starts_with("Traceback (most recent call last)") {
        lines.next_back().unwrap_or("")
    } else {
        lines.next().unwrap_or("")
    }
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
        protocol: "Ice",
        summary,
        fields,
        offset,
        len,
    }
}

impl Dissector for Ice {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        let mut notes = Vec::new();
        self.feed(dir, t, offset, bytes, out, &mut notes);
        let room = MAX_NOTES.saturating_sub(self.notes.len());
        self.notes.extend(notes.into_iter().take(room));
    }

    fn gap(&mut self, dir: Direction) {
        // Ice can be found again: the next segment that starts with a header.
        let h = &mut self.halves[dir.index()];
        if h.state == State::Reading {
            h.state = State::Seeking;
        }
        h.buf.clear();
        h.skip = 0;
        h.lossy = true;
    }

    fn end(&mut self, _dir: Direction, _t: f64, _out: &mut Messages) {}

    fn finish(&mut self, t_end: f64, _out: &mut Messages, notes: &mut Vec<Note>) {
        notes.append(&mut self.notes);
        for p in self.pending.drain(..) {
            // The reply travels the other way; if bytes of that way were lost, say nothing.
            let reply_dir = match p.dir {
                Direction::ClientToServer => 1,
                Direction::ServerToClient => 0,
            };
            if self.halves[reply_dir].lossy || self.halves[reply_dir].state == State::Broken {
                continue;
            }
            let what = if p.summary.is_empty() {
                format!("Ice Request #{} {}", p.id, p.operation)
            } else {
                format!("Ice {}", p.summary)
            };
            notes.push(Note::Unanswered { t: p.t, what });
        }
        for (i, h) in self.halves.iter().enumerate() {
            if !h.buf.is_empty() && h.state == State::Reading {
                notes.push(Note::Malformed {
                    t: t_end,
                    what: format!(
                        "{} bytes of an unfinished Ice message from the {} at the end",
                        h.buf.len(),
                        if i == 0 { "client" } else { "server" }
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ice::{encode, Identity, ENCODING_1_1};
    use Direction::{ClientToServer as C, ServerToClient as S};

    fn bytes(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        encode(m, &mut out);
        out
    }

    fn strings(items: &[&str]) -> Encapsulation {
        Encapsulation::build(ENCODING_1_1, |w| {
            for s in items {
                w.string(s);
            }
        })
    }

    fn request(id: i32, name: &str, op: &str, params: Encapsulation) -> Request {
        Request::new(id, Identity::new(name), op, params)
    }

    /// Feed pieces (direction, bytes) to a fresh dissector, each piece one delivery.
    fn run(pieces: &[(Direction, Vec<u8>)]) -> (Messages, Vec<Note>) {
        let mut d = Ice::new(false);
        let mut out = Messages::default();
        let mut offsets = [0u64; 2];
        for (i, (dir, b)) in pieces.iter().enumerate() {
            d.data(*dir, i as f64, offsets[dir.index()], b, &mut out);
            offsets[dir.index()] += b.len() as u64;
        }
        let mut notes = Vec::new();
        d.finish(99.0, &mut out, &mut notes);
        (out, notes)
    }

    fn summaries(out: &Messages) -> Vec<&str> {
        out.kept.iter().map(|m| m.summary.as_str()).collect()
    }

    /// The course's connection, as ZeroC's Python client and server make it, with the client's
    /// requests split at every awkward place (inside the header, inside a string).
    #[test]
    fn the_course_printer_connection_line_by_line() {
        let is_a = {
            let mut r = request(1, "SimplePrinter1", "ice_isA", strings(&["::Demo::Printer"]));
            r.mode = OperationMode::Nonmutating;
            r
        };
        let print = request(
            2,
            "SimplePrinter1",
            "printString",
            strings(&["Hello World from printer1!"]),
        );
        let client = [bytes(&Message::Request(is_a)), bytes(&Message::Request(print))].concat();
        let true_ = Encapsulation::build(ENCODING_1_1, |w| w.bool(true));
        let (out, notes) = run(&[
            (S, bytes(&Message::ValidateConnection)),
            (C, client[..5].to_vec()),
            (C, client[5..40].to_vec()),
            (S, vec![]),
            (C, client[40..].to_vec()),
            (S, bytes(&Message::Reply(Reply::ok(1, true_)))),
            (S, bytes(&Message::Reply(Reply::ok(2, Encapsulation::empty())))),
            (C, bytes(&Message::CloseConnection)),
        ]);
        assert_eq!(
            summaries(&out),
            [
                "ValidateConnection",
                "Request #1 SimplePrinter1.ice_isA(\"::Demo::Printer\") [nonmutating]",
                "Request #2 SimplePrinter1.printString(\"Hello World from printer1!\")",
                "Reply #1 ok (true)",
                "Reply #2 ok",
                "CloseConnection",
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
        let f = &out.kept[2].fields;
        assert_eq!(f["type"], "Request");
        assert_eq!(f["identity"], "SimplePrinter1");
        assert_eq!(f["operation"], "printString");
        assert_eq!(f["mode"], "normal");
        assert_eq!(f["request_id"], "2");
        assert_eq!(f["params_encoding"], "1.1");
        assert_eq!(f["arguments"], "\"Hello World from printer1!\"");
        assert!(!f.contains_key("facet") && !f.contains_key("context"));
        let reply = &out.kept[4].fields;
        assert_eq!(reply["reply_status"], "ok");
        assert_eq!(
            reply["operation"], "printString",
            "the reply knows what it answers"
        );
        // Offsets and lengths: the second request starts where the first ended.
        assert_eq!(out.kept[2].offset, out.kept[1].len);
        assert_eq!(out.kept[2].t, 4.0, "completed by the last piece");
        // The session's opening and closing, for the lifecycle.
        let open = out.opened_by.unwrap();
        assert_eq!((open.direction, open.message), (S, "ValidateConnection"));
        assert_eq!(out.closed_by.unwrap().message, "CloseConnection");
        assert_eq!(out.closed_by.unwrap().direction, C);
        // Activity: calls per operation.
        let calls = &out.activity[&("Ice", 0)];
        assert_eq!(calls["call of ice_isA"], 1);
        assert_eq!(calls["call of printString"], 1);
        assert!(
            !out.activity.contains_key(&("Ice", 1)),
            "replies are not activity"
        );
    }

    #[test]
    fn every_reply_status_facets_categories_contexts_oneway_and_batch() {
        let mut owner = Request::new(
            7,
            Identity {
                name: "acct".into(),
                category: "bank".into(),
            },
            "owner",
            Encapsulation::empty(),
        );
        owner.mode = OperationMode::Idempotent;
        owner.facet = Some("x".into());
        owner.context = vec![("k".into(), "v".into())];
        let deposit = request(
            0,
            "acct",
            "deposit",
            Encapsulation::build(ENCODING_1_1, |w| w.int(5)),
        );
        let exception = Encapsulation::build(ENCODING_1_1, |w| {
            w.byte(0x20);
            w.string("::Bank::Insufficient");
            w.int(875);
        });
        let ghost = request(6, "ghost", "balance", Encapsulation::empty());
        let unknown = |id, status, text: &str| Reply {
            request_id: id,
            status,
            body: ReplyBody::Unknown(text.into()),
        };
        let traceback = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: negative\n";
        let (out, notes) = run(&[
            (C, bytes(&Message::Request(owner.clone()))),
            (C, bytes(&Message::Request(deposit.clone()))),
            (
                C,
                bytes(&Message::BatchRequest(vec![
                    deposit.clone(),
                    request(0, "log", "write", strings(&["a"])),
                ])),
            ),
            (
                S,
                [
                    bytes(&Message::Reply(Reply {
                        request_id: 5,
                        status: ReplyStatus::UserException,
                        body: ReplyBody::Encapsulation(exception),
                    })),
                    bytes(&Message::Reply(Reply::not_exist(
                        ReplyStatus::ObjectNotExist,
                        &ghost,
                    ))),
                    bytes(&Message::Reply(Reply::not_exist(
                        ReplyStatus::FacetNotExist,
                        &owner,
                    ))),
                    bytes(&Message::Reply(Reply::not_exist(
                        ReplyStatus::OperationNotExist,
                        &ghost,
                    ))),
                    bytes(&Message::Reply(unknown(
                        8,
                        ReplyStatus::UnknownLocalException,
                        traceback,
                    ))),
                    bytes(&Message::Reply(unknown(
                        9,
                        ReplyStatus::UnknownUserException,
                        "::Bank::Frozen",
                    ))),
                    bytes(&Message::Reply(unknown(
                        10,
                        ReplyStatus::UnknownException,
                        "boom\nmore",
                    ))),
                    bytes(&Message::Reply(Reply::ok(
                        11,
                        Encapsulation::build(ENCODING_1_1, |w| w.int(12)),
                    ))),
                ]
                .concat(),
            ),
        ]);
        assert_eq!(
            summaries(&out),
            [
                "Request #7 bank/acct.owner() [facet x, idempotent, context k=v]",
                "Request (oneway) acct.deposit(4 bytes)",
                "BatchRequest 2 requests: acct.deposit(4 bytes), log.write(\"a\")",
                "Reply #5 user exception ::Bank::Insufficient",
                "Reply #6 object does not exist (ghost)",
                "Reply #7 facet does not exist (bank/acct [facet x])",
                "Reply #6 operation does not exist (ghost.balance)",
                "Reply #8 unknown local exception: ValueError: negative",
                "Reply #9 unknown user exception: ::Bank::Frozen",
                "Reply #10 unknown exception: boom",
                "Reply #11 ok (4 bytes)",
            ]
        );
        let f = &out.kept[0].fields;
        assert_eq!(f["identity"], "bank/acct");
        assert_eq!(f["facet"], "x");
        assert_eq!(f["mode"], "idempotent");
        assert_eq!(f["context"], "k=v");
        assert_eq!(out.kept[1].fields["oneway"], "true");
        assert_eq!(out.kept[2].fields["requests"], "2");
        assert_eq!(out.kept[2].fields["operations"], "deposit, write");
        assert_eq!(out.kept[3].fields["exception"], "::Bank::Insufficient");
        assert_eq!(out.kept[3].fields["reply_status"], "user exception");
        assert_eq!(out.kept[7].fields["reason"], traceback);
        let calls = &out.activity[&("Ice", 0)];
        assert_eq!(calls["call of owner"], 1);
        assert_eq!(calls["call of deposit"], 1);
        assert_eq!(calls["batched calls of deposit, write"], 1);
        // Request #7 got an answer (FacetNotExist); none of the others expected one.
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn compressed_messages_are_read_and_marked() {
        use std::io::Write;
        let plain = bytes(&Message::Request(request(
            3,
            "printer",
            "printString",
            strings(&["hi"]),
        )));
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(1));
        enc.write_all(&plain[wire::ice::HEADER_SIZE..]).unwrap();
        let packed = enc.finish().unwrap();
        let mut m = plain[..wire::ice::HEADER_SIZE].to_vec();
        m[9] = 2;
        m.extend_from_slice(&(plain.len() as i32).to_le_bytes());
        m.extend_from_slice(&packed);
        let size = m.len() as i32;
        m[10..14].copy_from_slice(&size.to_le_bytes());
        let (out, _) = run(&[(C, m.clone())]);
        assert_eq!(
            summaries(&out),
            ["Request #3 printer.printString(\"hi\") [compressed]"]
        );
        assert_eq!(out.kept[0].fields["compressed"], "true");
        assert_eq!(
            out.kept[0].len,
            m.len() as u64,
            "the length on the wire, compressed"
        );
    }

    #[test]
    fn a_malformed_body_is_shown_and_the_next_message_read() {
        let mut bad = bytes(&Message::Request(request(1, "a", "op", Encapsulation::empty())));
        bad[18] = 0xee; // the identity's name now claims 238 bytes
        let mut reply = bytes(&Message::Reply(Reply::ok(1, Encapsulation::empty())));
        reply[18] = 9; // reply status 9
        let good = bytes(&Message::Request(request(2, "a", "op", Encapsulation::empty())));
        let (out, notes) = run(&[(C, [bad, good].concat()), (S, reply)]);
        let s = summaries(&out);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(
            s[0].starts_with("malformed Request: the identity's name"),
            "{s:?}"
        );
        assert_eq!(s[1], "Request #2 a.op()");
        assert!(s[2].starts_with("malformed Reply: reply status 9"), "{s:?}");
        assert!(out.kept[0].fields["error"].contains("identity"));
        // Request #2 never got its reply.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(matches!(&notes[0], Note::Unanswered { what, .. } if what == "Ice Request #2 a.op()"));
    }

    #[test]
    fn a_broken_header_stops_the_direction_without_holding_anything() {
        let good = bytes(&Message::Request(request(0, "a", "op", Encapsulation::empty())));
        let mut small = bytes(&Message::ValidateConnection);
        small[10] = 3; // size 3: below the header's own 14 bytes
        let (out, notes) = run(&[
            (C, [good.clone(), b"GIOP\x01\x02\x01\x00junk".to_vec()].concat()),
            (C, good.clone()),
            (
                S,
                [bytes(&Message::ValidateConnection), small, good.clone()].concat(),
            ),
        ]);
        assert_eq!(
            summaries(&out),
            ["Request (oneway) a.op()", "ValidateConnection"],
            "nothing read after a broken header"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes.iter().all(|n| matches!(n, Note::Malformed { .. })));
        let text = format!("{notes:?}");
        assert!(
            text.contains("not the magic") && text.contains("smaller than the 14-byte header"),
            "{text}"
        );

        // A size larger than sister holds: counted, then skipped as it streams by, nothing buffered.
        let mut huge = bytes(&Message::ValidateConnection);
        huge[8] = 0; // a Request
        huge[10..14].copy_from_slice(&(64 * 1024 * 1024i32).to_le_bytes());
        let mut d = Ice::new(false);
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &huge, &mut out);
        let mut off = huge.len() as u64;
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..63 {
            d.data(C, 1.0, off, &chunk, &mut out);
            off += chunk.len() as u64;
            assert!(d.halves[0].buf.is_empty());
        }
        let rest = (64 << 20) - off as usize;
        d.data(C, 2.0, off, &[vec![0u8; rest], good.clone()].concat(), &mut out);
        let s = summaries(&out);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(
            s[0].starts_with("Request of 67108864 bytes (not decoded"),
            "{s:?}"
        );
        assert_eq!(s[1], "Request (oneway) a.op()");
    }

    #[test]
    fn a_capture_that_starts_inside_a_message_is_read_from_the_next_header() {
        let first = bytes(&Message::Request(request(1, "a", "op", strings(&["x"]))));
        let second = bytes(&Message::Request(request(2, "a", "op", strings(&["y"]))));
        let (out, notes) = run(&[(C, first[20..].to_vec()), (C, second.clone())]);
        assert_eq!(summaries(&out), ["Request #2 a.op(\"y\")"]);
        assert_eq!(out.kept[0].offset, (first.len() - 20) as u64);
        assert!(
            format!("{notes:?}").contains("do not start with an Ice header"),
            "{notes:?}"
        );
        // After lost bytes too; and the reply lost with them is not called unanswered.
        let mut d = Ice::new(false);
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &first, &mut out);
        d.data(S, 0.0, 0, &bytes(&Message::ValidateConnection), &mut out);
        d.gap(S);
        d.data(S, 1.0, 100, &[7u8; 30], &mut out);
        let reply = bytes(&Message::Reply(Reply::ok(2, Encapsulation::empty())));
        d.data(S, 2.0, 130, &reply, &mut out);
        let mut notes = Vec::new();
        d.finish(3.0, &mut out, &mut notes);
        assert_eq!(
            summaries(&out),
            ["Request #1 a.op(\"x\")", "ValidateConnection", "Reply #2 ok"]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn udp_datagrams_are_one_message_each() {
        let m = bytes(&Message::Request(request(0, "log", "write", strings(&["x"]))));
        let mut d = Ice::new(true);
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &m, &mut out);
        d.data(C, 1.0, m.len() as u64, &m[..m.len() - 2], &mut out);
        d.data(C, 2.0, 2 * m.len() as u64, &m, &mut out);
        let s = summaries(&out);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0], "Request (oneway) log.write(\"x\")");
        assert!(s[1].starts_with("malformed Request: the datagram holds"), "{s:?}");
        assert_eq!(s[2], s[0]);
    }

    #[test]
    fn mutated_connections_never_panic_nor_hold_more_than_a_message() {
        let mut stream = bytes(&Message::ValidateConnection);
        stream.extend(bytes(&Message::Request(request(
            1,
            "SimplePrinter1",
            "printString",
            strings(&["Hello"]),
        ))));
        stream.extend(bytes(&Message::BatchRequest(vec![request(
            0,
            "a",
            "b",
            strings(&["c"]),
        )])));
        stream.extend(bytes(&Message::Reply(Reply::ok(1, Encapsulation::empty()))));
        stream.extend(bytes(&Message::CloseConnection));
        let mut rng = capture::synth::Rng::new(0x1ce_da7a);
        for round in 0..5_000 {
            let mut m = stream.clone();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() as usize) % m.len();
                m[i] = rng.next_u64() as u8;
            }
            let mut d = Ice::new(round % 7 == 0);
            let mut out = Messages::new(if round % 2 == 0 { usize::MAX } else { 0 });
            let mut off = 0;
            while off < m.len() {
                let n = 1 + (rng.next_u64() as usize) % 40;
                let piece = &m[off..(off + n).min(m.len())];
                d.data(
                    if round % 3 == 0 { S } else { C },
                    0.0,
                    off as u64,
                    piece,
                    &mut out,
                );
                off += piece.len();
                assert!(d.halves.iter().all(|h| h.buf.len() <= MAX_MESSAGE));
            }
            let mut notes = Vec::new();
            d.finish(1.0, &mut out, &mut notes);
            assert!(notes.len() <= MAX_NOTES + MAX_PENDING + 2);
        }
    }
}
