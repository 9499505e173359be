//! HTTP/1.1 as a server reads requests and writes answers (RFC 9112), sans-I/O: the codec under
//! `sister rpc server` and `sister soap server`.
//!
//! A request on the wire (RFC 9112 §2.1, §3, §5, §6):
//! ```text
//! POST / HTTP/1.1\r\n                        <- request line: method, target, version
//! Host: 127.0.0.1:4000\r\n                   <- header fields, one per line (a 1.1 request needs Host)
//! Content-Type: application/json\r\n
//! Content-Length: 66\r\n                     <- the body's framing: a length ...
//! \r\n                                       <- an empty line ends the head
//! {"jsonrpc": "2.0", "method": "add", ...}   <- ... or `Transfer-Encoding: chunked` and chunks
//! ```
//! What to notice:
//! - **TCP carries bytes, not messages.** A request may arrive in pieces, or two may arrive in one read
//!   (pipelining); [`Decoder::decode`] says [`Progress::Incomplete`] until the framing (RFC 9112 §6.3)
//!   says the request is whole, and leaves the next request's bytes in the buffer.
//! - **The body's length is in the head**: `Content-Length`, or `Transfer-Encoding: chunked` (each chunk
//!   preceded by its size in hex, a zero-size chunk at the end), or no body at all. A request with both
//!   is refused (RFC 9112 §6.3 calls it a possible request-smuggling attempt).
//! - **Persistent connections** (RFC 9112 §9.3): an HTTP/1.1 connection stays open for the next request
//!   unless a side says `Connection: close`; an HTTP/1.0 one closes after the answer unless the client
//!   asked `Connection: keep-alive`. The answer's own `Content-Length` tells the client where it ends.
//! - **`Expect: 100-continue`** (RFC 9110 §10.1.1): the client sends the head and waits for
//!   `HTTP/1.1 100 Continue` before the body, so a server can refuse a large body before it travels.
//!   The decoder reports that moment as [`Progress::Continue`].
//! - **Bounded**: the head, each chunk-size line, the trailers and the body have limits ([`Limits`]);
//!   past them the request is a [`Refusal`] with the status to answer (431, 413, ...), never a panic.
//!
//! The head is parsed by httparse (the parser under hyper); the framing, the connection rules and the
//! answers are here. The capture analyzer reads both directions of HTTP in `analyze::dissect::http`.

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

/// Most header fields in one request head.
pub const MAX_HEADERS: usize = 64;
/// Longest chunk-size line (the size in hex and any chunk extensions).
const MAX_CHUNK_LINE: usize = 1024;

/// How large a request may be before it is refused.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The request line and header fields together (and, separately, a chunked body's trailers).
    pub max_head: usize,
    /// The body, after removing the chunked framing.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_body: 1024 * 1024,
        }
    }
}

/// The HTTP/1.x minor version of a request; the answer is written in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// One whole request: the head's bytes (shared, not copied) with the positions of its parts, and the
/// body with its framing removed.
#[derive(Debug, Clone)]
pub struct Request {
    head: Bytes,
    method: Range<usize>,
    target: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    pub version: Version,
    /// Whether the connection stays open after the answer (RFC 9112 §9.3).
    pub keep_alive: bool,
    pub body: Bytes,
}

impl Request {
    fn text(&self, r: &Range<usize>) -> &str {
        // httparse checked the method and the target to be visible ASCII (tokens), so this never fails.
        std::str::from_utf8(&self.head[r.clone()]).unwrap_or("")
    }

    /// `GET`, `POST`, ... (case-sensitive, RFC 9110 §9.1).
    pub fn method(&self) -> &str {
        self.text(&self.method)
    }

    /// The request target as sent: `/`, `/?wsdl`, or an absolute `http://host/path` (RFC 9112 §3.2).
    pub fn target(&self) -> &str {
        self.text(&self.target)
    }

    /// The target's path, `/` at least (for an absolute target, the part after the authority).
    pub fn path(&self) -> &str {
        let t = self.target();
        let t = match t.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => t,
        };
        let path = t.split_once('?').map_or(t, |(p, _)| p);
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The target's query, after the `?`.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// Every header field in order: name as sent, value as bytes (values may hold non-ASCII bytes).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (self.text(n), &self.head[v.clone()]))
    }

    /// The first field named `name` (names are case-insensitive, RFC 9110 §5.1), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Why a request was refused before it reached the service; the connection closes after the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("the request head is larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("the request has more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("transfer coding `{0}` is not supported (only chunked, RFC 9112 §7)")]
    UnsupportedTransferCoding(String),
    #[error("`Expect: {0}` cannot be met (only 100-continue exists, RFC 9110 §10.1.1)")]
    Expectation(String),
    #[error("an HTTP/1.1 request needs exactly one Host header (RFC 9112 §3.2)")]
    Host,
}

impl Refusal {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::Host => 400,
            Refusal::HeadTooLarge(_) | Refusal::TooManyHeaders => 431,
            Refusal::BodyTooLarge(_) => 413,
            Refusal::UnsupportedTransferCoding(_) => 501,
            Refusal::Expectation(_) => 417,
        }
    }
}

/// What [`Decoder::decode`] found in the buffer.
#[derive(Debug)]
pub enum Progress {
    /// A whole request (its bytes are gone from the buffer; the next request's, if any, are left).
    Request(Request),
    /// More bytes are needed.
    Incomplete,
    /// The head is read and the client waits for `100 Continue` before sending the body: write
    /// [`CONTINUE`], then read on.
    Continue,
}

/// The interim answer to `Expect: 100-continue` (RFC 9110 §15.2.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A parsed head whose body is still being read.
#[derive(Debug)]
struct Head {
    head: Bytes,
    method: Range<usize>,
    target: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    version: Version,
    keep_alive: bool,
}

impl Head {
    fn into_request(self, body: Bytes) -> Request {
        Request {
            head: self.head,
            method: self.method,
            target: self.target,
            headers: self.headers,
            version: self.version,
            keep_alive: self.keep_alive,
            body,
        }
    }
}

/// Where a chunked body's reader is (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Expecting `size[;extensions]CRLF`.
    Size,
    /// Inside a chunk, this many bytes to go.
    Data(usize),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the zero-size chunk: trailer fields up to an empty line; bytes of trailers so far.
    Trailers(usize),
}

#[derive(Debug)]
enum State {
    Head,
    Body { head: Head, len: usize },
    Chunked { head: Head, body: Vec<u8>, at: Chunk },
}

/// Reads requests one after another from a connection's buffer.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    state: State,
    /// The current request asked for `100 Continue` and has not had it yet.
    continue_due: bool,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            state: State::Head,
            continue_due: false,
        }
    }

    /// True between requests (nothing of a request has been read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// Take the next request out of `buf` if it is whole. After a [`Refusal`] the connection cannot be
    /// read further (the framing is lost): answer and close.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Progress, Refusal> {
        loop {
            match std::mem::replace(&mut self.state, State::Head) {
                State::Head => {
                    // RFC 9112 §2.2: a server SHOULD ignore empty lines received before the request line.
                    let blank = buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
                    buf.advance(blank);
                    if buf.is_empty() {
                        return Ok(Progress::Incomplete);
                    }
                    let Some(head) = self.head(buf)? else {
                        return Ok(Progress::Incomplete);
                    };
                    match framing(&head)? {
                        Framing::None => {
                            self.continue_due = false;
                            return Ok(Progress::Request(head.into_request(Bytes::new())));
                        }
                        Framing::Length(len) if len > self.limits.max_body => {
                            return Err(Refusal::BodyTooLarge(self.limits.max_body))
                        }
                        Framing::Length(len) => self.state = State::Body { head, len },
                        Framing::Chunked => {
                            self.state = State::Chunked {
                                head,
                                body: Vec::new(),
                                at: Chunk::Size,
                            }
                        }
                    }
                }
                State::Body { head, len } => {
                    if buf.len() < len {
                        self.state = State::Body { head, len };
                        return Ok(self.waiting(buf));
                    }
                    self.continue_due = false;
                    let body = buf.split_to(len).freeze();
                    return Ok(Progress::Request(head.into_request(body)));
                }
                State::Chunked { head, mut body, at } => match self.chunks(buf, &mut body, at)? {
                    Some(at) => {
                        self.state = State::Chunked { head, body, at };
                        return Ok(self.waiting(buf));
                    }
                    None => {
                        self.continue_due = false;
                        return Ok(Progress::Request(head.into_request(body.into())));
                    }
                },
            }
        }
    }

    /// Incomplete, or Continue once if the client waits for it and has sent nothing of the body yet.
    fn waiting(&mut self, buf: &BytesMut) -> Progress {
        if self.continue_due && buf.is_empty() {
            self.continue_due = false;
            return Progress::Continue;
        }
        Progress::Incomplete
    }

    /// Parse the head if it is all in `buf`, and take it out.
    fn head(&mut self, buf: &mut BytesMut) -> Result<Option<Head>, Refusal> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut fields);
        let len = match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > self.limits.max_head => {
                return Err(Refusal::HeadTooLarge(self.limits.max_head))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyHeaders),
            Err(httparse::Error::Version) => {
                return Err(Refusal::Malformed(
                    "not an HTTP/1.0 or HTTP/1.1 request line".into(),
                ))
            }
            Err(e) => return Err(Refusal::Malformed(e.to_string())),
        };
        if len > self.limits.max_head {
            return Err(Refusal::HeadTooLarge(self.limits.max_head));
        }
        // Positions rather than borrowed slices, so the head can be moved out of the buffer (no copy).
        let base = buf.as_ptr() as usize;
        let at = |s: &[u8]| {
            let start = s.as_ptr() as usize - base;
            start..start + s.len()
        };
        let method = at(req.method.unwrap_or("").as_bytes());
        let target = at(req.path.unwrap_or("").as_bytes());
        let version = if req.version == Some(0) {
            Version::Http10
        } else {
            Version::Http11
        };
        let headers: Vec<_> = req
            .headers
            .iter()
            .map(|h| (at(h.name.as_bytes()), at(h.value)))
            .collect();
        let head = buf.split_to(len).freeze();
        let mut head = Head {
            head,
            method,
            target,
            headers,
            version,
            keep_alive: false,
        };
        let mut keep_alive = version == Version::Http11;
        // Connection options (RFC 9112 §9.3) and Expect (RFC 9110 §10.1.1).
        let mut hosts = 0;
        for (name, value) in head.fields() {
            if name.eq_ignore_ascii_case("connection") {
                for option in value.split(|&b| b == b',').map(trim) {
                    if option.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if option.eq_ignore_ascii_case(b"keep-alive") && version == Version::Http10 {
                        keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case("expect") {
                if !trim(value).eq_ignore_ascii_case(b"100-continue") {
                    return Err(Refusal::Expectation(String::from_utf8_lossy(value).into()));
                }
                // An HTTP/1.0 client cannot be waiting for 100 Continue: ignore it (§10.1.1).
                self.continue_due = version == Version::Http11;
            } else if name.eq_ignore_ascii_case("host") {
                hosts += 1;
            }
        }
        if version == Version::Http11 && hosts != 1 {
            return Err(Refusal::Host);
        }
        head.keep_alive = keep_alive;
        Ok(Some(head))
    }

    /// Read chunks from `buf` into `body`; `Some(where)` when more bytes are needed, `None` when the
    /// body and its trailers are complete.
    fn chunks(
        &self,
        buf: &mut BytesMut,
        body: &mut Vec<u8>,
        mut at: Chunk,
    ) -> Result<Option<Chunk>, Refusal> {
        let malformed = |why: &str| Refusal::Malformed(format!("chunked body: {why}"));
        loop {
            at = match at {
                Chunk::Size => {
                    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                        if buf.len() > MAX_CHUNK_LINE {
                            return Err(malformed("a chunk-size line that never ends"));
                        }
                        return Ok(Some(at));
                    };
                    if end > MAX_CHUNK_LINE {
                        return Err(malformed("a chunk-size line that is too long"));
                    }
                    let line = buf.split_to(end + 1);
                    // chunk-size [; chunk-ext] CRLF; the extensions mean nothing here and are skipped.
                    let size = line[..end].split(|&b| b == b';').next().map(trim).unwrap_or(b"");
                    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
                        return Err(malformed("the chunk size is not a hexadecimal number"));
                    }
                    let size = size.iter().fold(0usize, |n, &d| {
                        (n << 4) | (d as char).to_digit(16).unwrap_or(0) as usize
                    });
                    if size > self.limits.max_body.saturating_sub(body.len()) {
                        return Err(Refusal::BodyTooLarge(self.limits.max_body));
                    }
                    if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    }
                }
                Chunk::Data(left) => {
                    let n = left.min(buf.len());
                    body.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    if n < left {
                        return Ok(Some(Chunk::Data(left - n)));
                    }
                    Chunk::DataEnd
                }
                Chunk::DataEnd => match buf.first() {
                    None => return Ok(Some(at)),
                    Some(b'\n') => {
                        buf.advance(1);
                        Chunk::Size
                    }
                    Some(b'\r') if buf.len() < 2 => return Ok(Some(at)),
                    Some(b'\r') if buf[1] == b'\n' => {
                        buf.advance(2);
                        Chunk::Size
                    }
                    Some(_) => return Err(malformed("a chunk's data is longer than its size")),
                },
                Chunk::Trailers(seen) => {
                    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                        if seen + buf.len() > self.limits.max_head {
                            return Err(Refusal::HeadTooLarge(self.limits.max_head));
                        }
                        return Ok(Some(at));
                    };
                    let line = buf.split_to(end + 1);
                    if trim(&line).is_empty() {
                        return Ok(None);
                    }
                    // Trailer fields are read and dropped: no service here uses them (RFC 9112 §7.1.2).
                    let seen = seen + line.len();
                    if seen > self.limits.max_head {
                        return Err(Refusal::HeadTooLarge(self.limits.max_head));
                    }
                    Chunk::Trailers(seen)
                }
            };
        }
    }
}

impl Head {
    fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| {
            (
                std::str::from_utf8(&self.head[n.clone()]).unwrap_or(""),
                &self.head[v.clone()],
            )
        })
    }
}

enum Framing {
    None,
    Length(usize),
    Chunked,
}

/// How the body is delimited (RFC 9112 §6.3, the rules for a request).
fn framing(head: &Head) -> Result<Framing, Refusal> {
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for (name, value) in head.fields() {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if head.version == Version::Http10 {
                // §6.1: HTTP/1.0 has no transfer codings; such a message is faulty.
                return Err(Refusal::Malformed(
                    "Transfer-Encoding in an HTTP/1.0 request".into(),
                ));
            }
            if chunked || !trim(value).eq_ignore_ascii_case(b"chunked") {
                return Err(Refusal::UnsupportedTransferCoding(
                    String::from_utf8_lossy(value).into(),
                ));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // §6.3: several equal values (or a list of them) may be taken as one; differing ones may not.
            for v in value.split(|&b| b == b',').map(trim) {
                let n = parse_length(v).ok_or_else(|| {
                    Refusal::Malformed(format!(
                        "Content-Length `{}` is not a number",
                        String::from_utf8_lossy(value)
                    ))
                })?;
                if length.is_some_and(|l| l != n) {
                    return Err(Refusal::Malformed("Content-Length values that differ".into()));
                }
                length = Some(n);
            }
        }
    }
    match (chunked, length) {
        (true, Some(_)) => Err(Refusal::Malformed(
            "both Transfer-Encoding and Content-Length (RFC 9112 §6.3: a possible request smuggling)".into(),
        )),
        (true, None) => Ok(Framing::Chunked),
        (false, Some(0)) | (false, None) => Ok(Framing::None),
        (false, Some(n)) => Ok(Framing::Length(n)),
    }
}

/// `1*DIGIT`, refusing signs, spaces inside and values past `usize` (RFC 9110 §8.6).
fn parse_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0usize, |n, &d| n * 10 + (d - b'0') as usize))
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// An answer, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// Other header fields (`Allow`, ...); `Content-Length`, `Date` and `Connection` are written by
    /// [`encode_response`].
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: Some(content_type),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A status with no body (`204 No Content`).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of a status code (RFC 9110 §15; clients ignore it, people read it).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// How to write one answer on its connection.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// The request's version, written back in the status line.
    pub version: Version,
    /// Whether the connection stays open after this answer.
    pub keep_alive: bool,
    /// A HEAD request: the head says what GET would send, and no body follows (RFC 9110 §9.3.2).
    pub head_only: bool,
    /// The `Date` field value (RFC 9110 §6.6.1: an origin server with a clock sends one).
    pub date: &'a str,
}

/// Append `resp` to `out` as HTTP/1.x bytes, framed by Content-Length.
pub fn encode_response(out: &mut Vec<u8>, resp: &Response, how: Answering<'_>) {
    out.extend_from_slice(how.version.as_str().as_bytes());
    out.push(b' ');
    push_number(out, resp.status as usize);
    out.push(b' ');
    out.extend_from_slice(reason(resp.status).as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(ct) = resp.content_type {
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(ct.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &resp.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // §8.6: no Content-Length on a 1xx or 204 answer, which never has a body.
    let bodyless = resp.status < 200 || resp.status == 204;
    if !bodyless {
        out.extend_from_slice(b"content-length: ");
        push_number(out, resp.body.len());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(how.date.as_bytes());
    out.extend_from_slice(b"\r\n");
    match (how.version, how.keep_alive) {
        (Version::Http11, false) => out.extend_from_slice(b"connection: close\r\n"),
        (Version::Http10, true) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    if !how.head_only && !bodyless {
        out.extend_from_slice(&resp.body);
    }
}

fn push_number(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The fuzz target's body (`fuzz/fuzz_targets/http_request.rs`), also run by the tests: `data` is what
/// a client sends, cut into reads at each 0xfe byte, through one decoder with small limits. Panics only
/// if a rule of the decoder is broken (a request past the limits).
#[doc(hidden)]
pub fn exercise(data: &[u8]) {
    let limits = Limits {
        max_head: 512,
        max_body: 256,
    };
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    for read in data.split(|&b| b == 0xfe) {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Progress::Request(req)) => {
                    assert!(req.body.len() <= limits.max_body);
                    let _ = (req.method(), req.path(), req.query(), req.header("host"));
                    let mut out = Vec::new();
                    let how = Answering {
                        version: req.version,
                        keep_alive: req.keep_alive,
                        head_only: false,
                        date: "",
                    };
                    encode_response(
                        &mut out,
                        &Response::new(200, "text/plain", req.body.to_vec()),
                        how,
                    );
                }
                Ok(Progress::Continue) => {}
                Ok(Progress::Incomplete) => break,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> Decoder {
        Decoder::new(Limits {
            max_head: 256,
            max_body: 64,
        })
    }

    fn one(input: &[u8]) -> Result<Request, Refusal> {
        let mut buf = BytesMut::from(input);
        match decoder().decode(&mut buf)? {
            Progress::Request(r) => Ok(r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_post_with_content_length() {
        let r =
            one(b"POST /?wsdl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nSOAPAction: \"add\"\r\n\r\nhello")
                .unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(r.path(), "/");
        assert_eq!(r.query(), Some("wsdl"));
        assert_eq!(r.header("soapaction"), Some("\"add\""));
        assert_eq!(&r.body[..], b"hello");
        assert!(r.keep_alive);
        assert_eq!(r.version, Version::Http11);
    }

    #[test]
    fn arrives_in_pieces_and_pipelined() {
        let wire = b"\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut d = decoder();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        // One byte at a time: every prefix is Incomplete until a request is whole.
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            while let Progress::Request(r) = d.decode(&mut buf).unwrap() {
                got.push((r.method().to_string(), r.path().to_string(), r.body.clone()));
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("POST".into(), "/".into(), Bytes::from_static(b"abc")));
        assert_eq!(got[1], ("GET".into(), "/b".into(), Bytes::new()));
        assert!(d.is_idle() && buf.is_empty());
    }

    #[test]
    fn a_chunked_body_with_extensions_and_trailers() {
        let r = one(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n").unwrap();
        assert_eq!(&r.body[..], b"abc0123456789");
        // Chunked one byte at a time, followed by the next request.
        let wire = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let (mut d, mut buf, mut n) = (decoder(), BytesMut::new(), 0);
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            while let Progress::Request(_) = d.decode(&mut buf).unwrap() {
                n += 1;
            }
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn connection_rules() {
        let r = one(b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(r.version, Version::Http10);
        assert!(!r.keep_alive, "HTTP/1.0 closes unless asked");
        let r = one(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(r.keep_alive);
        let r = one(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n").unwrap();
        assert!(!r.keep_alive);
    }

    #[test]
    fn expect_100_continue() {
        let mut d = decoder();
        let mut buf = BytesMut::from(
            &b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"[..],
        );
        assert!(matches!(d.decode(&mut buf), Ok(Progress::Continue)));
        assert!(
            matches!(d.decode(&mut buf), Ok(Progress::Incomplete)),
            "only once"
        );
        buf.extend_from_slice(b"ok");
        assert!(matches!(d.decode(&mut buf), Ok(Progress::Request(r)) if &r.body[..] == b"ok"));
        // Too large: refused at once, so the client never sends the body.
        let mut buf = BytesMut::from(
            &b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n"[..],
        );
        assert_eq!(decoder().decode(&mut buf).unwrap_err().status(), 413);
        assert_eq!(
            one(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n")
                .unwrap_err()
                .status(),
            417
        );
    }

    #[test]
    fn refusals() {
        for (input, status) in [
            (
                &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"[..],
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
                413,
            ),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                501,
            ),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                400,
            ),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 400),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
        ] {
            let mut buf = BytesMut::from(input);
            let got = decoder().decode(&mut buf);
            assert_eq!(
                got.as_ref().map_err(Refusal::status).err(),
                Some(status),
                "{input:?}: {got:?}"
            );
        }
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 300));
        assert_eq!(
            decoder()
                .decode(&mut BytesMut::from(&big[..]))
                .unwrap_err()
                .status(),
            431
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..70 {
            many.extend(format!("H{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        let mut d = Decoder::new(Limits::default());
        assert_eq!(
            d.decode(&mut BytesMut::from(&many[..])).unwrap_err(),
            Refusal::TooManyHeaders
        );
    }

    /// The fuzz seeds, every cut of them and deterministic mutations, without nightly.
    #[test]
    fn seeds_truncations_and_mutations_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/http_request");
        let mut seeds = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            seeds.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        assert!(!seeds.is_empty());
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1du64);
        let mut next = move || rng.next();
        for seed in &seeds {
            for cut in 0..seed.len() {
                exercise(&seed[..cut]);
            }
            for _ in 0..2000 {
                let mut m = seed.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % m.len();
                    match next() % 3 {
                        0 => m[at] = next() as u8,
                        1 => {
                            m.insert(at, [b'\r', b'\n', 0xfe, b'0', b':'][(next() % 5) as usize]);
                        }
                        _ => {
                            m.remove(at);
                        }
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                exercise(&m);
            }
        }
    }

    #[test]
    fn never_panics_on_cut_input() {
        let wire = b"POST /a?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let _ = decoder().decode(&mut buf);
        }
    }

    #[test]
    fn writes_answers() {
        let mut out = Vec::new();
        let how = Answering {
            version: Version::Http11,
            keep_alive: true,
            head_only: false,
            date: "Wed, 25 Nov 2026 18:00:00 GMT",
        };
        encode_response(
            &mut out,
            &Response::new(200, "application/json", b"{}".to_vec()),
            how,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\ndate: Wed, 25 Nov 2026 18:00:00 GMT\r\n\r\n{}"
        );
        out.clear();
        let how = Answering {
            version: Version::Http10,
            keep_alive: false,
            head_only: true,
            ..how
        };
        encode_response(
            &mut out,
            &Response::new(405, "text/plain", b"no".to_vec()).with_header("allow", "POST"),
            how,
        );
        assert_eq!(
            out,
            b"HTTP/1.0 405 Method Not Allowed\r\ncontent-type: text/plain\r\nallow: POST\r\ncontent-length: 2\r\ndate: Wed, 25 Nov 2026 18:00:00 GMT\r\n\r\n"
        );
        out.clear();
        encode_response(
            &mut out,
            &Response::empty(204),
            Answering {
                keep_alive: false,
                version: Version::Http11,
                ..how
            },
        );
        assert_eq!(
            out,
            b"HTTP/1.1 204 No Content\r\ndate: Wed, 25 Nov 2026 18:00:00 GMT\r\nconnection: close\r\n\r\n"
        );
    }
}
