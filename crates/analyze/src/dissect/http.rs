//! HTTP/1.x (RFC 9112) with what rides on it in the course: REST with JSON bodies, JSON-RPC 2.0 calls,
//! SOAP 1.1 envelopes (and the WSDL fetched before them).
//!
//! What to notice in the captures: headers and body often travel in separate TCP segments (Flask sends
//! the headers, then the JSON), so a message is only complete once the *framing* says so (RFC 9112 §6):
//! `Content-Length` bytes, or `Transfer-Encoding: chunked` up to the empty chunk, or, for an HTTP/1.0
//! response without a length (spyne, python-json-rpc's server), everything until the server closes the
//! connection (FIN). Requests are matched to responses in order: HTTP/1.1 answers in the order asked.
//! Header parsing is httparse's; the bytes are held per direction (bounded) until a message is whole.

use std::collections::{BTreeMap, VecDeque};

use super::{json_line, preview, Dissector, Messages, Msg, Note};
use crate::report::Direction;

/// Most bytes of headers held per direction before giving up on the stream.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most bytes of one body kept for summarising (the rest is counted, not kept).
const MAX_BODY_KEPT: usize = 256 * 1024;

#[derive(Debug, Default)]
enum BodyFraming {
    #[default]
    None,
    Length(u64),
    Chunked,
    UntilClose,
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

#[derive(Debug, Default)]
struct Half {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    head: Option<Head>,
    framing: BodyFraming,
    body: Vec<u8>,
    body_len: u64,
    /// Chunked decoding: bytes left in the current chunk (None = expecting a size line).
    chunk_left: Option<u64>,
    broken: bool,
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

    fn parse(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        loop {
            let half = &mut self.halves[dir.index()];
            if half.broken {
                half.buf.clear();
                return;
            }
            if half.head.is_none() {
                // Skip stray CRLFs between messages (RFC 9112 §2.2).
                while half.buf.starts_with(b"\r\n") {
                    half.buf.drain(..2);
                    half.buf_offset += 2;
                }
                if half.buf.is_empty() {
                    return;
                }
                match parse_head(&half.buf) {
                    Ok(Some((mut head, used))) => {
                        head.offset = half.buf_offset;
                        head.head_len = used as u64;
                        half.buf.drain(..used);
                        half.buf_offset += used as u64;
                        half.framing = framing(&head, self.pending.front().map(|p| p.2.as_str()));
                        half.body.clear();
                        half.body_len = 0;
                        half.chunk_left = None;
                        half.head = Some(head);
                    }
                    Ok(None) => {
                        if half.buf.len() > MAX_HEADER_BYTES {
                            half.broken = true;
                            out.push(malformed(
                                dir,
                                t,
                                half.buf_offset,
                                "HTTP headers longer than 64 KiB",
                            ));
                        }
                        return;
                    }
                    Err(e) => {
                        half.broken = true;
                        let off = half.buf_offset;
                        out.push(malformed(dir, t, off, &format!("not HTTP/1.x: {e}")));
                        return;
                    }
                }
            }
            // Body.
            let half = &mut self.halves[dir.index()];
            let complete = match half.framing {
                BodyFraming::None => true,
                BodyFraming::Length(n) => {
                    let want = (n - half.body_len) as usize;
                    let take = want.min(half.buf.len());
                    take_body(half, take);
                    half.body_len == n
                }
                BodyFraming::UntilClose => {
                    let take = half.buf.len();
                    take_body(half, take);
                    false
                }
                BodyFraming::Chunked => match chunked(half) {
                    Some(done) => done,
                    None => {
                        half.broken = true;
                        let off = half.buf_offset;
                        out.push(malformed(dir, t, off, "bad chunked encoding"));
                        return;
                    }
                },
            };
            if !complete {
                return;
            }
            self.emit(dir, t, out);
        }
    }

    fn emit(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        let half = &mut self.halves[dir.index()];
        let Some(head) = half.head.take() else { return };
        let body = std::mem::take(&mut half.body);
        let body_len = half.body_len;
        let len = head.head_len + body_len;
        // A response the report only counts is never activity (see `activity_key`), unless it is a
        // SOAP fault, so only an XML body needs reading; a JSON body (REST, JSON-RPC) is not parsed.
        if !head.is_request && !out.wants_detail() && !starts_like_xml(&body) {
            self.pending.pop_front();
            out.count(dir, "HTTP", None);
            return;
        }
        let msg = describe(&head, &body, body_len, &mut self.pending, t, dir);
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

fn take_body(half: &mut Half, n: usize) {
    let keep = n.min(MAX_BODY_KEPT.saturating_sub(half.body.len()));
    half.body.extend_from_slice(&half.buf[..keep]);
    half.buf.drain(..n);
    half.buf_offset += n as u64;
    half.body_len += n as u64;
}

/// Decode chunked framing from `half.buf`; `Some(true)` when the last chunk arrived, `None` if broken.
fn chunked(half: &mut Half) -> Option<bool> {
    loop {
        match half.chunk_left {
            Some(0) => {
                // The CRLF after a chunk's data.
                if half.buf.len() < 2 {
                    return Some(false);
                }
                half.buf.drain(..2);
                half.buf_offset += 2;
                half.chunk_left = None;
            }
            Some(n) => {
                let take = (n as usize).min(half.buf.len());
                if take == 0 {
                    return Some(false);
                }
                take_body(half, take);
                // take_body counted framing bytes as body; that is fine for our summaries.
                half.chunk_left = Some(n - take as u64);
                if n - (take as u64) > 0 {
                    return Some(false);
                }
            }
            None => {
                let Some(end) = half.buf.windows(2).position(|w| w == b"\r\n") else {
                    return if half.buf.len() > 1024 { None } else { Some(false) };
                };
                let line = std::str::from_utf8(&half.buf[..end]).ok()?;
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16).ok()?;
                half.buf.drain(..end + 2);
                half.buf_offset += end as u64 + 2;
                if size == 0 {
                    // Trailers end with an empty line.
                    let Some(t_end) = half.buf.windows(2).position(|w| w == b"\r\n") else {
                        return Some(false);
                    };
                    half.buf.drain(..t_end + 2);
                    half.buf_offset += t_end as u64 + 2;
                    return Some(true);
                }
                half.chunk_left = Some(size);
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
        return BodyFraming::Chunked;
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
        let half = &mut self.halves[dir.index()];
        if half.broken {
            return;
        }
        if half.buf.is_empty() {
            half.buf_offset = offset;
        }
        half.buf.extend_from_slice(bytes);
        self.parse(dir, t, out);
    }

    fn gap(&mut self, dir: Direction) {
        // A hole inside HTTP cannot be resynchronised reliably: stop dissecting this direction.
        let half = &mut self.halves[dir.index()];
        half.broken = true;
        half.buf.clear();
    }

    fn end(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        let half = &mut self.halves[dir.index()];
        if matches!(half.framing, BodyFraming::UntilClose) && half.head.is_some() {
            // The close delimits the body (RFC 9112 §6.3 rule 8).
            self.emit(dir, t, out);
        }
    }

    fn finish(&mut self, t: f64, out: &mut Messages, notes: &mut Vec<Note>) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let half = &self.halves[dir.index()];
            if half.head.is_some() {
                if matches!(half.framing, BodyFraming::UntilClose) {
                    self.emit(dir, t, out);
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

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let (m, _) = run(
            &[(Direction::ClientToServer, b"GET \x00\x01\x02 HTTP/9\r\n\r\n")],
            false,
        );
        assert!(m[0].summary.starts_with("malformed"), "{m:?}");
    }
}
