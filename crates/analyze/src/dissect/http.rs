//! HTTP/1.x (RFC 9112) with what rides on it in the course: REST with JSON bodies, JSON-RPC 2.0 calls,
//! SOAP 1.1 envelopes (and the WSDL fetched before them).
//!
//! What to notice in the captures: headers and body often travel in separate TCP segments (Flask sends
//! the headers, then the JSON), so a message is only complete once the *framing* says so (RFC 9112 §6):
//! `Content-Length` bytes, or `Transfer-Encoding: chunked` up to the last chunk and its trailers, or,
//! for an HTTP/1.0 response without a length (spyne, python-json-rpc's server), everything until the
//! server closes the connection (FIN). Requests are matched to responses in order: HTTP/1.1 answers in
//! the order asked.
//!
//! Header parsing is httparse's. Each direction is a [`StreamBuf`]: a head, a chunk-size line or a
//! trailer line that is not whole yet is held (bounded) for the next segment; body bytes are read
//! where they lie, and only the first 256 KiB of a body are copied, for its summary.

use std::collections::{BTreeMap, VecDeque};

use super::stream::{Step, StreamBuf};
use super::{json_line, preview, Dissector, Messages, Msg, Note};
use crate::report::Direction;

/// Most bytes of headers held per direction before giving up on the stream (the trailers of a
/// chunked body too).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most bytes of one body kept for summarising (the rest is counted, not kept).
const MAX_BODY_KEPT: usize = 256 * 1024;
/// Most bytes of a chunk-size line (with its extensions) held before the chunked body is declared
/// broken.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug, Default)]
enum BodyFraming {
    #[default]
    None,
    Length(u64),
    /// Where the chunked body's reader is.
    Chunked(Chunk),
    UntilClose,
}

/// Where the reader of a chunked body is (RFC 9112 §7.1):
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
///
/// Each piece may end in a different TCP segment than it started (the CRLF after the last chunk
/// often does), so the state says what the next byte is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// A chunk-size line: the size in hex, extensions (ignored, §7.1.1), CRLF.
    #[default]
    Size,
    /// A chunk's data, this many bytes of it still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer field lines, then the empty line that ends the message (§7.1.2).
    Trailers,
    /// The empty line has been read: the message is complete.
    Done,
}

#[derive(Debug, Default)]
struct Head {
    is_request: bool,
    method: String,
    path: String,
    version: u8,
    code: u16,
    reason: String,
    headers: Vec<(String, String)>,
    offset: u64,
    head_len: u64,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The body of the message being read.
#[derive(Debug, Default)]
struct Body {
    /// Its first bytes (at most [`MAX_BODY_KEPT`]), for the summary.
    kept: Vec<u8>,
    /// Its length (of a chunked body: the chunks' data, without the framing).
    len: u64,
}

impl Body {
    /// More of the body: counted, and copied only while there is room in `kept`.
    fn add(&mut self, bytes: &[u8]) {
        let keep = bytes.len().min(MAX_BODY_KEPT.saturating_sub(self.kept.len()));
        self.kept.extend_from_slice(&bytes[..keep]);
        self.len += bytes.len() as u64;
    }
}

#[derive(Debug, Default)]
struct Half {
    /// The start of an unfinished head, chunk-size line or trailer; stopped after a gap or bytes
    /// that are not HTTP.
    stream: StreamBuf,
    /// The message being read, once its head is whole.
    head: Option<Head>,
    framing: BodyFraming,
    body: Body,
}

impl Half {
    /// The stream offset just after the body read so far, for a body delimited by the close (it
    /// has no framing bytes of its own).
    fn end_of_body(&self) -> u64 {
        self.head.as_ref().map_or(0, |h| h.offset + h.head_len) + self.body.len
    }
}

pub struct Http {
    halves: [Half; 2],
    /// Requests waiting for their response: (time, "GET /path", method).
    pending: VecDeque<(f64, String, String)>,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        Http {
            halves: [Half::default(), Half::default()],
            pending: VecDeque::new(),
        }
    }

    /// Read what the front of the stream (`front`, at stream offset `at`) holds for the message in
    /// progress: its head, or a piece of its body. What [`StreamBuf::feed`] calls until the bytes are
    /// used up; a message is emitted as soon as its framing says it is complete.
    fn step(&mut self, dir: Direction, t: f64, at: u64, front: &[u8], out: &mut Messages) -> Step {
        let half = &mut self.halves[dir.index()];
        let step = if half.head.is_none() {
            self.head(dir, t, at, front, out)
        } else {
            let body = &mut half.body;
            match &mut half.framing {
                // (Not reached: a message without a body is complete with its head.)
                BodyFraming::None => Step::Used(0),
                BodyFraming::Length(n) => {
                    let take = n.saturating_sub(body.len).min(front.len() as u64) as usize;
                    body.add(&front[..take]);
                    Step::Used(take)
                }
                BodyFraming::UntilClose => {
                    body.add(front);
                    Step::Used(front.len())
                }
                BodyFraming::Chunked(chunk) => {
                    let step = chunked(chunk, body, front);
                    if step == Step::Invalid {
                        out.push(malformed(dir, t, at, "bad chunked encoding"));
                    }
                    step
                }
            }
        };
        let Step::Used(used) = step else { return step };
        let half = &self.halves[dir.index()];
        let complete = half.head.is_some()
            && match half.framing {
                BodyFraming::None => true,
                BodyFraming::Length(n) => half.body.len == n,
                BodyFraming::Chunked(chunk) => chunk == Chunk::Done,
                BodyFraming::UntilClose => false,
            };
        if complete {
            self.emit(dir, t, at + used as u64, out);
        }
        step
    }

    /// Read a message's head from the front of the stream.
    fn head(&mut self, dir: Direction, t: f64, at: u64, front: &[u8], out: &mut Messages) -> Step {
        // Stray CRLFs between messages are skipped (RFC 9112 §2.2).
        if front.starts_with(b"\r\n") {
            return Step::Used(2);
        }
        let half = &mut self.halves[dir.index()];
        match parse_head(front) {
            Ok(Some((mut head, used))) => {
                head.offset = at;
                head.head_len = used as u64;
                half.framing = framing(&head, self.pending.front().map(|p| p.2.as_str()));
                half.body = Body::default();
                half.head = Some(head);
                Step::Used(used)
            }
            Ok(None) if front.len() > MAX_HEADER_BYTES => {
                out.push(malformed(dir, t, at, "HTTP headers longer than 64 KiB"));
                Step::Invalid
            }
            Ok(None) => Step::Incomplete,
            Err(e) => {
                out.push(malformed(dir, t, at, &format!("not HTTP/1.x: {e}")));
                Step::Invalid
            }
        }
    }

    /// The message of `dir` is complete; `end` is the stream offset just after its last byte.
    fn emit(&mut self, dir: Direction, t: f64, end: u64, out: &mut Messages) {
        let half = &mut self.halves[dir.index()];
        let Some(head) = half.head.take() else { return };
        let body = std::mem::take(&mut half.body);
        // Its bytes on the stream: the head, the body and, for a chunked body, its framing.
        let len = end.saturating_sub(head.offset);
        // A response the report only counts is never activity (see `activity_key`), unless it is a
        // SOAP fault, so only an XML body needs reading; a JSON body (REST, JSON-RPC) is not parsed.
        if !head.is_request && !out.wants_detail() && !starts_like_xml(&body.kept) {
            self.pending.pop_front();
            out.count(dir, "HTTP", None);
            return;
        }
        let msg = describe(&head, &body.kept, body.len, &mut self.pending, t, dir);
        out.push(Msg {
            len,
            offset: head.offset,
            ..msg
        });
    }
}

/// True when the body, read as text, starts with `<` after any white space (as `describe_body` reads
/// it: perhaps SOAP). Looks at the first bytes only, unless the body starts with non-ASCII.
fn starts_like_xml(body: &[u8]) -> bool {
    // ASCII white space as `char::is_whitespace` has it (with the vertical tab).
    let first = body
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'));
    match first.map(|i| body[i]) {
        None => false,
        Some(b) if b.is_ascii() => b == b'<',
        Some(_) => String::from_utf8_lossy(body).trim_start().starts_with('<'),
    }
}

/// Read the next piece of a chunked body from the front of the stream (RFC 9112 §7.1): a chunk-size
/// line, chunk data (added to `body`), the CRLF after it, a trailer line. `Invalid` when the bytes
/// break the chunked coding: where the next message starts is not known then.
fn chunked(chunk: &mut Chunk, body: &mut Body, front: &[u8]) -> Step {
    match *chunk {
        Chunk::Size => {
            let Some(end) = find_crlf(front) else {
                return if front.len() > MAX_CHUNK_LINE {
                    Step::Invalid
                } else {
                    Step::Incomplete
                };
            };
            let Some(size) = chunk_size(&front[..end]) else {
                return Step::Invalid;
            };
            // A size of 0 is the last chunk (§7.1): the trailer section follows.
            *chunk = if size == 0 {
                Chunk::Trailers
            } else {
                Chunk::Data(size)
            };
            Step::Used(end + 2)
        }
        Chunk::Data(left) => {
            let take = left.min(front.len() as u64);
            body.add(&front[..take as usize]);
            *chunk = if take == left {
                Chunk::DataEnd
            } else {
                Chunk::Data(left - take)
            };
            Step::Used(take as usize)
        }
        // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF: the data is followed by CRLF.
        Chunk::DataEnd => match front {
            [b'\r', b'\n', ..] => {
                *chunk = Chunk::Size;
                Step::Used(2)
            }
            [b'\r'] => Step::Incomplete,
            _ => Step::Invalid,
        },
        // trailer-section = *( field-line CRLF ), then the CRLF that ends the body (§7.1.2): the
        // trailer fields are read past, not shown.
        Chunk::Trailers => {
            let Some(end) = find_crlf(front) else {
                return if front.len() > MAX_HEADER_BYTES {
                    Step::Invalid
                } else {
                    Step::Incomplete
                };
            };
            if end == 0 {
                *chunk = Chunk::Done;
            }
            Step::Used(end + 2)
        }
        // (Not reached: the message is emitted as soon as its body is done.)
        Chunk::Done => Step::Used(0),
    }
}

/// Where the first CRLF in `b` starts.
fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// The size of a chunk-size line (without its CRLF): `chunk-size = 1*HEXDIG`, then the extensions
/// after a `;`, which say nothing sister shows (RFC 9112 §7.1, §7.1.1). `None` if it is not hex or
/// does not fit in 64 bits.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let size = line.split(';').next().unwrap_or("").trim();
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}

fn malformed(dir: Direction, t: f64, offset: u64, what: &str) -> Msg {
    let mut fields = BTreeMap::new();
    fields.insert("error".into(), what.to_string());
    Msg {
        t,
        direction: dir,
        protocol: "HTTP",
        summary: format!("malformed: {what}"),
        fields,
        offset,
        len: 0,
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    if buf.starts_with(b"HTTP/") {
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(used)) => Ok(Some((
                Head {
                    is_request: false,
                    version: resp.version.unwrap_or(1),
                    code: resp.code.unwrap_or(0),
                    reason: resp.reason.unwrap_or("").to_string(),
                    headers: collect(resp.headers),
                    ..Head::default()
                },
                used,
            ))),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    } else {
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(used)) => Ok(Some((
                Head {
                    is_request: true,
                    method: req.method.unwrap_or("").to_string(),
                    path: req.path.unwrap_or("").to_string(),
                    version: req.version.unwrap_or(1),
                    headers: collect(req.headers),
                    ..Head::default()
                },
                used,
            ))),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn collect(h: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    h.iter()
        .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
        .collect()
}

/// How the body of this message is delimited (RFC 9112 §6.3).
fn framing(head: &Head, request_method: Option<&str>) -> BodyFraming {
    if !head.is_request
        && (head.code / 100 == 1 || head.code == 204 || head.code == 304 || request_method == Some("HEAD"))
    {
        return BodyFraming::None;
    }
    if head
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return BodyFraming::Chunked(Chunk::Size);
    }
    if let Some(n) = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return BodyFraming::Length(n);
    }
    if head.is_request {
        BodyFraming::None
    } else {
        BodyFraming::UntilClose
    }
}

/// Describe a complete message, pairing responses with requests.
fn describe(
    head: &Head,
    body: &[u8],
    body_len: u64,
    pending: &mut VecDeque<(f64, String, String)>,
    t: f64,
    dir: Direction,
) -> Msg {
    let mut fields = BTreeMap::new();
    let version = format!("HTTP/1.{}", head.version);
    fields.insert("version".into(), version.clone());
    for name in [
        "host",
        "content-type",
        "content-length",
        "soapaction",
        "server",
        "user-agent",
    ] {
        if let Some(v) = head.header(name) {
            fields.insert(name.into(), v.to_string());
        }
    }
    fields.insert("body_bytes".into(), body_len.to_string());
    let (mut protocol, body_summary) = describe_body(head, body, &mut fields);
    let summary = if head.is_request {
        fields.insert("method".into(), head.method.clone());
        fields.insert("path".into(), head.path.clone());
        let line = format!("{} {}", head.method, head.path);
        pending.push_back((t, line.clone(), head.method.clone()));
        match body_summary {
            Some(b) => format!("{line} {b}"),
            None => line,
        }
    } else {
        fields.insert("status".into(), head.code.to_string());
        fields.insert("reason".into(), head.reason.clone());
        if let Some((_, req, _)) = pending.pop_front() {
            fields.insert("request".into(), req);
        }
        let line = format!("{} {}", head.code, head.reason);
        match body_summary {
            Some(b) => format!("{line} {b}"),
            None => line,
        }
    };
    if protocol.is_empty() {
        protocol = "HTTP";
    }
    Msg {
        t,
        direction: dir,
        protocol,
        summary,
        fields,
        offset: 0,
        len: 0,
    }
}

/// Summarise a body: JSON-RPC, SOAP, WSDL, JSON, or a preview. Returns (protocol, summary).
fn describe_body(
    head: &Head,
    body: &[u8],
    fields: &mut BTreeMap<String, String>,
) -> (&'static str, Option<String>) {
    if body.is_empty() {
        return ("", None);
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            fields.insert("json".into(), json_line(&v, 500));
            if let Some(s) = super::jsonrpc::describe(&v, fields) {
                return ("JSON-RPC", Some(s));
            }
            return ("", Some(json_line(&v, 100)));
        }
    }
    if trimmed.starts_with('<') {
        if let Some(s) = super::soap::describe(body, head.is_request, fields) {
            return ("SOAP", Some(s));
        }
        if trimmed.contains("definitions") && trimmed.contains("wsdl") {
            return ("SOAP", Some(format!("WSDL document ({} bytes)", body.len())));
        }
    }
    ("", Some(preview(body, 60)))
}

impl Dissector for Http {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        // The stream is taken out of its half while it feeds `step`, which needs the whole dissector
        // (the half's message, the requests waiting for their response).
        let mut stream = std::mem::take(&mut self.halves[dir.index()].stream);
        stream.feed(offset, bytes, |at, front| self.step(dir, t, at, front, out));
        self.halves[dir.index()].stream = stream;
    }

    fn gap(&mut self, dir: Direction) {
        // A hole inside HTTP cannot be resynchronised reliably: stop dissecting this direction.
        self.halves[dir.index()].stream.stop();
    }

    fn end(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        let half = &self.halves[dir.index()];
        if matches!(half.framing, BodyFraming::UntilClose) && half.head.is_some() {
            // The close delimits the body (RFC 9112 §6.3 rule 8).
            let end = half.end_of_body();
            self.emit(dir, t, end, out);
        }
    }

    fn finish(&mut self, t: f64, out: &mut Messages, notes: &mut Vec<Note>) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let half = &self.halves[dir.index()];
            if half.head.is_some() {
                if matches!(half.framing, BodyFraming::UntilClose) {
                    let end = half.end_of_body();
                    self.emit(dir, t, end, out);
                } else {
                    let h = half.head.as_ref().map(|h| h.offset).unwrap_or(0);
                    notes.push(Note::Malformed {
                        t,
                        what: format!("HTTP message at offset {h} incomplete at the end of the capture"),
                    });
                }
            }
        }
        for (t, what, _) in self.pending.drain(..) {
            notes.push(Note::Unanswered {
                t,
                what: format!("HTTP request {what}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_bodies_are_told_from_the_first_bytes() {
        for body in [
            &b"<soap:Envelope/>"[..],
            b" \r\n\t\x0b<a/>",
            "\u{a0}\u{3000}<a/>".as_bytes(),
        ] {
            assert!(starts_like_xml(body), "{body:?}");
        }
        for body in [
            &b"{\"a\": 1}"[..],
            b"",
            b"   ",
            b"\xff<a/>",
            "\u{a0}x<".as_bytes(),
        ] {
            assert!(!starts_like_xml(body), "{body:?}");
        }
    }

    fn run(segments: &[(Direction, &[u8])], fin_server: bool) -> (Vec<Msg>, Vec<Note>) {
        let mut h = Http::new();
        let mut out = Messages::default();
        let mut offsets = [0u64; 2];
        for (i, (dir, b)) in segments.iter().enumerate() {
            h.data(*dir, i as f64, offsets[dir.index()], b, &mut out);
            offsets[dir.index()] += b.len() as u64;
        }
        if fin_server {
            h.end(Direction::ServerToClient, 99.0, &mut out);
        }
        let mut notes = Vec::new();
        h.finish(100.0, &mut out, &mut notes);
        (out.kept, notes)
    }

    #[test]
    fn rest_with_body_in_a_separate_segment() {
        use Direction::*;
        let (m, notes) = run(
            &[
                (ClientToServer, b"GET /add?a=10&b=5 HTTP/1.1\r\nHost: x\r\n\r\n"),
                (
                    ServerToClient,
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n",
                ),
                (ServerToClient, b"{\"result\": 15}\n"),
            ],
            false,
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].summary, "GET /add?a=10&b=5");
        assert_eq!(m[1].summary, "200 OK {\"result\":15}");
        assert_eq!(m[1].t, 2.0, "complete when the body arrived");
        assert_eq!(m[1].fields["request"], "GET /add?a=10&b=5");
        assert!(notes.is_empty());
    }

    #[test]
    fn http10_body_ended_by_fin_and_jsonrpc() {
        use Direction::*;
        let (m, _) = run(
            &[
                (ClientToServer, b"POST / HTTP/1.1\r\nContent-Length: 63\r\n\r\n{\"jsonrpc\": \"2.0\", \"method\": \"add\", \"params\": [10, 2], \"id\": 1}"),
                (ServerToClient, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"),
                (ServerToClient, b"{\"result\": 5.0, \"id\": 1, \"jsonrpc\": \"2.0\"}"),
            ],
            true,
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].protocol, "JSON-RPC");
        assert_eq!(m[0].summary, "POST / call add[10,2] id=1");
        assert_eq!(m[1].summary, "200 OK result 5.0 id=1");
        assert_eq!(m[1].t, 99.0);
    }

    #[test]
    fn chunked_and_unanswered() {
        use Direction::*;
        let (m, notes) = run(
            &[
                (
                    ServerToClient,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                ),
                (ClientToServer, b"GET /x HTTP/1.1\r\n\r\n"),
            ],
            false,
        );
        assert_eq!(m[0].summary, "200 OK 'abc'");
        assert!(matches!(&notes[0], Note::Unanswered { what, .. } if what == "HTTP request GET /x"));
    }

    /// A chunked response (two chunks, one with an extension, a trailer field), then a response
    /// without a body: read the same wherever the segments are cut (RFC 9112 §7.1).
    #[test]
    fn a_chunked_body_is_read_wherever_the_segments_are_cut() {
        use Direction::*;
        let chunked: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n4;name=value\r\ndefg\r\n0\r\nX-Checksum: 1\r\n\r\n";
        let next: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
        let stream = [chunked, next].concat();
        let check = |m: &[Msg], notes: &[Note], how: &str| {
            let shown: Vec<(&str, u64, u64)> =
                m.iter().map(|m| (m.summary.as_str(), m.offset, m.len)).collect();
            let (a, b) = (chunked.len() as u64, next.len() as u64);
            assert_eq!(
                shown,
                [("200 OK 'abcdefg'", 0, a), ("204 No Content", a, b)],
                "{how}"
            );
            assert_eq!(m[0].fields["body_bytes"], "7", "{how}");
            assert!(notes.is_empty(), "{how}: {notes:?}");
        };
        for cut in 1..stream.len() {
            let (m, notes) = run(
                &[(ServerToClient, &stream[..cut]), (ServerToClient, &stream[cut..])],
                false,
            );
            check(&m, &notes, &format!("cut at {cut}"));
        }
        let bytes: Vec<(Direction, &[u8])> = stream.chunks(1).map(|b| (ServerToClient, b)).collect();
        let (m, notes) = run(&bytes, false);
        check(&m, &notes, "one byte per segment");
    }

    /// The CRLF that ends a chunked body in a segment of its own: the message is complete when it
    /// arrives (and the next message is not mistaken for a chunk-size line).
    #[test]
    fn the_final_crlf_of_a_chunked_body_may_come_later() {
        use Direction::*;
        let (m, notes) = run(
            &[
                (ClientToServer, b"GET /a HTTP/1.1\r\n\r\n"),
                (
                    ServerToClient,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
                ),
                (ServerToClient, b"\r\n"),
                (ClientToServer, b"GET /b HTTP/1.1\r\n\r\n"),
                (ServerToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"),
            ],
            false,
        );
        let shown: Vec<(&str, f64)> = m.iter().map(|m| (m.summary.as_str(), m.t)).collect();
        assert_eq!(
            shown,
            [
                ("GET /a", 0.0),
                ("200 OK 'ok'", 2.0),
                ("GET /b", 3.0),
                ("200 OK 'no'", 4.0)
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn bad_chunked_encoding_stops_the_direction() {
        use Direction::*;
        for body in [&b"3\r\nabcXY"[..], b"zz\r\n", b"+3\r\nabc\r\n0\r\n\r\n"] {
            let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            let (m, notes) = run(
                &[
                    (ServerToClient, &[&head[..], body].concat()),
                    (ServerToClient, b"HTTP/1.1 204 No Content\r\n\r\n"),
                ],
                false,
            );
            let shown: Vec<&str> = m.iter().map(|m| m.summary.as_str()).collect();
            assert_eq!(shown, ["malformed: bad chunked encoding"], "{body:?}");
            assert!(
                matches!(&notes[..], [Note::Malformed { what, .. }] if what.contains("incomplete")),
                "{notes:?}"
            );
        }
    }

    /// A large body goes from the segments to its summary's first bytes: nothing waits in the
    /// stream's buffer, and only `MAX_BODY_KEPT` bytes are copied.
    #[test]
    fn a_large_body_is_read_where_it_lies() {
        let mut h = Http::new();
        let mut out = Messages::default();
        let dir = Direction::ServerToClient;
        let size = 3 * MAX_BODY_KEPT;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
        h.data(dir, 0.0, 0, head.as_bytes(), &mut out);
        let mut offset = head.len() as u64;
        for _ in 0..size / 1000 {
            h.data(dir, 1.0, offset, &[b'x'; 1000], &mut out);
            offset += 1000;
            let half = &h.halves[dir.index()];
            assert!(half.stream.held().is_empty());
            assert!(half.body.kept.len() <= MAX_BODY_KEPT);
        }
        let rest = size % 1000;
        h.data(dir, 2.0, offset, &vec![b'x'; rest], &mut out);
        assert_eq!(out.kept.len(), 1);
        assert_eq!(out.kept[0].fields["body_bytes"], size.to_string());
        assert_eq!(out.kept[0].len, (head.len() + size) as u64);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let (m, _) = run(
            &[(Direction::ClientToServer, b"GET \x00\x01\x02 HTTP/9\r\n\r\n")],
            false,
        );
        assert!(m[0].summary.starts_with("malformed"), "{m:?}");
    }
}
