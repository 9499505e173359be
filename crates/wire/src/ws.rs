//! WebSocket (RFC 6455), sans-I/O: the opening handshake on both sides, and frames. Under the MQTT
//! broker's `protocol websockets` listener (MQTT over WebSockets, MQTT 5.0 §6), `sister bench mqtt
//! --ws`, and meant for the capture analyzer too (which is why it is written here by hand).
//!
//! A connection starts as HTTP/1.1 and turns into frames (§1.3, §4):
//! ```text
//! client: GET /mqtt HTTP/1.1                     server: HTTP/1.1 101 Switching Protocols
//!         Host: broker:9001                              Upgrade: websocket
//!         Upgrade: websocket                             Connection: Upgrade
//!         Connection: Upgrade                            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//!         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==    Sec-WebSocket-Protocol: mqtt
//!         Sec-WebSocket-Version: 13
//!         Sec-WebSocket-Protocol: mqtt
//! ```
//! then each side sends frames (§5.2):
//! ```text
//!  0               1               2               3
//!  F R R R opcode  M len (7 bits)  extended length: 16 bits if len = 126, 64 bits if 127
//!  I S S S (4)     A               masking key (4 bytes) if MASK = 1
//!  N V V V         S               payload (len bytes), XORed with the key if masked
//!    1 2 3         K
//! ```
//! What to notice:
//! - **The accept key proves the server read the request** (§1.3, §4.2.2): it is
//!   base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). Nothing is secret about it; it
//!   only stops a server that does not speak WebSocket from being taken for one.
//! - **Client frames are masked, server frames never** (§5.1, §5.3): a client XORs its payload with
//!   4 random bytes it sends in the frame, so a script in a browser cannot choose the bytes that
//!   cross the network (an attack on caching proxies, §10.3). A server receiving an unmasked frame
//!   must close the connection (status 1002); a client receiving a masked one likewise.
//! - **A message may be fragmented** (§5.4): a first frame with FIN = 0 (opcode text or binary),
//!   continuation frames (opcode 0), the last with FIN = 1. Control frames (close, ping, pong) may
//!   come between the fragments, and are never fragmented themselves, at most 125 bytes (§5.5).
//! - **Ping is answered by a pong with the same payload** (§5.5.2, §5.5.3). **Close** carries an
//!   optional 2-byte status code (§7.4) and a UTF-8 reason; the other side answers with a close and
//!   then the TCP connection ends (§5.5.1, §7.1).
//! - **Message boundaries may not matter.** MQTT over WebSockets uses binary frames as a byte
//!   stream: an MQTT packet may span frames and a frame may carry several packets (MQTT 5.0 §6).
//!   [`Deframer`] is made for that use: it streams the payload of binary messages out as bytes,
//!   without waiting for (or buffering) a whole frame.
//!
//! What is here: [`decode_upgrade`] (the server reads and checks the request) with
//! [`UpgradeRequest::accept`] (the 101) and [`Refusal::response`] (400/426); [`ClientHandshake`]
//! (the request a client sends, and the check of the answer); [`FrameHeader`], [`decode_frame`] and
//! [`encode_frame`] (one frame at a time); [`Deframer`] (a byte stream out of frames, with the rules
//! of §5 checked); close payloads ([`decode_close`], [`close_payload`], [`close_code_name`]).

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::BytesMut;

use crate::error::DecodeError;

/// Appended to the client's key before hashing (§1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The one protocol version (§4.1, §11.6).
pub const VERSION: &str = "13";
/// Largest opening-handshake head read (request or response); larger is refused.
pub const MAX_HEAD: usize = 16 * 1024;
/// A control frame's payload is at most 125 bytes (§5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Most header fields in a handshake head.
const MAX_HEADERS: usize = 64;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (§4.2.2 step 5.4).
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.digest().bytes())
}

// ---------------------------------------------------------------------------------------------------
// The opening handshake, server side (§4.2)

/// A valid upgrade request, as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target (`/mqtt`); a server may serve any path (Mosquitto does).
    pub path: String,
    pub host: String,
    /// `Sec-WebSocket-Key`: base64 of 16 random bytes.
    pub key: String,
    /// `Sec-WebSocket-Protocol`, in the client's order of preference (may be empty).
    pub protocols: Vec<String>,
    /// `Origin`, sent by browsers (§4.2.1 item 8; §10.2: a server may refuse origins it does not know).
    pub origin: Option<String>,
    /// `Sec-WebSocket-Extensions` as sent (none are accepted here: no `permessage-deflate`).
    pub extensions: Option<String>,
}

/// Why a request is not a WebSocket upgrade: the HTTP status to answer and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400 (a malformed or incomplete upgrade) or 426 (not an upgrade, or an unknown version).
    pub status: u16,
    pub why: String,
}

/// Why [`decode_upgrade`] returned no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The head is not complete yet: read more.
    Incomplete,
    /// Answer with [`Refusal::response`] and close. (Not a [`DecodeError`]: the refusal carries the
    /// HTTP status the client must get, as `wire::http`'s refusals do.)
    Refused(Refusal),
}

impl HandshakeError {
    pub fn is_incomplete(&self) -> bool {
        matches!(self, HandshakeError::Incomplete)
    }
}

fn refuse(status: u16, why: impl Into<String>) -> HandshakeError {
    HandshakeError::Refused(Refusal {
        status,
        why: why.into(),
    })
}

/// Does the comma-separated header value hold `token` (case-insensitive, RFC 9110 §5.6.1)?
fn has_token(value: &str, token: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Does `key` decode to 16 bytes (§4.1 item 7, §4.2.1 item 5)?
fn key_is_valid(key: &str) -> bool {
    BASE64.decode(key).is_ok_and(|k| k.len() == 16)
}

/// Read an opening handshake request from the start of `buf` and check it (§4.2.1): the request and
/// how many bytes its head took (what follows are already frames), or why it is refused.
pub fn decode_upgrade(buf: &[u8]) -> Result<(UpgradeRequest, usize), HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(refuse(400, format!("request head larger than {MAX_HEAD} bytes")))
        }
        Ok(httparse::Status::Partial) => return Err(HandshakeError::Incomplete),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refuse(400, format!("more than {MAX_HEADERS} header fields")))
        }
        Err(e) => return Err(refuse(400, format!("not an HTTP request ({e})"))),
    };
    if used > MAX_HEAD {
        return Err(refuse(400, format!("request head larger than {MAX_HEAD} bytes")));
    }
    // Values as text (a header that is not UTF-8 counts as absent); repeated fields joined with ", "
    // as RFC 9110 §5.3 allows for list-valued fields such as Sec-WebSocket-Protocol.
    let field = |name: &str| -> Option<String> {
        let values: Vec<&str> = req
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let method = req.method.unwrap_or("");
    // Item 1: a GET, HTTP/1.1 or later.
    if req.version != Some(1) {
        return Err(refuse(
            400,
            "a WebSocket handshake needs HTTP/1.1 (RFC 6455 §4.2.1)",
        ));
    }
    let upgrade = field("upgrade");
    let connection = field("connection");
    // A plain HTTP request (a browser's address bar, curl without -H): 426 Upgrade Required says
    // what this port wants (RFC 9110 §15.5.22).
    if !upgrade.as_deref().is_some_and(|u| has_token(u, "websocket")) {
        return Err(refuse(
            426,
            "this is a WebSocket endpoint: the request has no `Upgrade: websocket` (RFC 6455 §4.2.1)",
        ));
    }
    if method != "GET" {
        return Err(refuse(
            400,
            format!("a WebSocket handshake is a GET, not {method} (RFC 6455 §4.2.1)"),
        ));
    }
    if !connection.as_deref().is_some_and(|c| has_token(c, "upgrade")) {
        return Err(refuse(
            400,
            "the request's Connection header has no `upgrade` token (RFC 6455 §4.2.1)",
        ));
    }
    let Some(host) = field("host") else {
        return Err(refuse(400, "the request has no Host header (RFC 6455 §4.2.1)"));
    };
    let version = field("sec-websocket-version");
    if version.as_deref() != Some(VERSION) {
        return Err(refuse(
            426,
            format!(
                "Sec-WebSocket-Version {}: this server speaks version 13 (RFC 6455 §4.2.2)",
                version.as_deref().unwrap_or("missing")
            ),
        ));
    }
    let key = field("sec-websocket-key").unwrap_or_default();
    if !key_is_valid(&key) {
        return Err(refuse(
            400,
            "Sec-WebSocket-Key missing or not base64 of 16 bytes (RFC 6455 §4.2.1)",
        ));
    }
    let protocols = field("sec-websocket-protocol")
        .map(|p| {
            p.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok((
        UpgradeRequest {
            path: req.path.unwrap_or("/").to_string(),
            host,
            key,
            protocols,
            origin: field("origin"),
            extensions: field("sec-websocket-extensions"),
        },
        used,
    ))
}

impl UpgradeRequest {
    /// The first subprotocol the client offers that the server speaks (the client lists them in its
    /// order of preference, §4.1 item 10). `Ok(None)`: the client offered none, and a server may then
    /// go on without one (§4.2.2 step 5.4; Mosquitto does). `Err`: it offered only others.
    pub fn choose_protocol<'a>(&self, ours: &[&'a str]) -> Result<Option<&'a str>, Refusal> {
        if self.protocols.is_empty() {
            return Ok(None);
        }
        for offered in &self.protocols {
            if let Some(p) = ours.iter().find(|p| p.eq_ignore_ascii_case(offered)) {
                return Ok(Some(p));
            }
        }
        Err(Refusal {
            status: 400,
            why: format!(
                "the client offers the subprotocols {}; this server speaks {} (RFC 6455 §4.2.2)",
                self.protocols.join(", "),
                ours.join(", ")
            ),
        })
    }

    /// The 101 answer that completes the handshake (§4.2.2 step 5).
    pub fn accept(&self, protocol: Option<&str>) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            accept_key(&self.key)
        );
        if let Some(p) = protocol {
            r.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        r.push_str("\r\n");
        r.into_bytes()
    }
}

impl Refusal {
    /// The HTTP answer: the status, the sentence as a text body, `Connection: close`; a 426 also
    /// says what to upgrade to and which version (§4.2.2, §4.4).
    pub fn response(&self) -> Vec<u8> {
        let reason = match self.status {
            400 => "Bad Request",
            426 => "Upgrade Required",
            _ => "Error",
        };
        let body = format!("{}\n", self.why);
        let mut r = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        if self.status == 426 {
            r.push_str("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
        }
        r.push_str(&format!(
            "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        r.into_bytes()
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.why, self.status)
    }
}

// ---------------------------------------------------------------------------------------------------
// The opening handshake, client side (§4.1)

/// What a client sends to open a WebSocket, and what it checks in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The Host header (`127.0.0.1:9001`).
    pub host: String,
    pub path: String,
    /// base64 of 16 random bytes (§4.1 item 7): the caller draws them.
    pub key: String,
    /// Subprotocols offered, in order of preference (`mqtt`).
    pub protocols: Vec<String>,
}

/// The server's answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
}

impl ClientHandshake {
    /// A handshake with the key made of `nonce` (draw it from a random source: §4.1 item 7).
    pub fn new(host: &str, path: &str, protocols: &[&str], nonce: [u8; 16]) -> ClientHandshake {
        ClientHandshake {
            host: host.to_string(),
            path: path.to_string(),
            key: BASE64.encode(nonce),
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// The GET request (§4.1).
    pub fn request(&self) -> Vec<u8> {
        let mut r = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            self.path, self.host, self.key
        );
        if !self.protocols.is_empty() {
            r.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            ));
        }
        r.push_str("\r\n");
        r.into_bytes()
    }

    /// Read and check the server's answer from the start of `buf` (§4.1, the client's checks 1-6):
    /// what it accepted and how many bytes the head took (frames may follow).
    pub fn check_response(&self, buf: &[u8]) -> Result<(Accepted, usize), DecodeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let used = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(DecodeError::invalid(format!(
                    "answer head larger than {MAX_HEAD} bytes"
                )))
            }
            Ok(httparse::Status::Partial) => return Err(DecodeError::Incomplete { needed: None }),
            Err(e) => {
                return Err(DecodeError::invalid(format!(
                    "the answer is not HTTP ({e}): is this a WebSocket server?"
                )))
            }
        };
        let field = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(str::trim)
        };
        let code = resp.code.unwrap_or(0);
        if code != 101 {
            // The body of a refusal usually says why (sister's does): show its first line.
            let body = String::from_utf8_lossy(&buf[used..]);
            let first = body.lines().next().unwrap_or("").trim();
            return Err(DecodeError::invalid(format!(
                "the server answered {code} {} instead of 101 Switching Protocols{}",
                resp.reason.unwrap_or(""),
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            )));
        }
        if !field("upgrade").is_some_and(|u| has_token(u, "websocket")) {
            return Err(DecodeError::invalid(
                "the 101 answer has no `Upgrade: websocket` (RFC 6455 §4.1)",
            ));
        }
        if !field("connection").is_some_and(|c| has_token(c, "upgrade")) {
            return Err(DecodeError::invalid(
                "the 101 answer has no `Connection: Upgrade` (RFC 6455 §4.1)",
            ));
        }
        let expected = accept_key(&self.key);
        if field("sec-websocket-accept") != Some(expected.as_str()) {
            return Err(DecodeError::invalid(format!(
                "Sec-WebSocket-Accept is {:?}, expected {expected:?} (RFC 6455 §4.1)",
                field("sec-websocket-accept").unwrap_or("missing")
            )));
        }
        if let Some(ext) = field("sec-websocket-extensions") {
            return Err(DecodeError::invalid(format!(
                "the server chose the extension {ext:?}, which was not asked for (RFC 6455 §4.1)"
            )));
        }
        let protocol = field("sec-websocket-protocol").map(str::to_string);
        if let Some(p) = &protocol {
            if !self.protocols.iter().any(|o| o == p) {
                return Err(DecodeError::invalid(format!(
                    "the server chose the subprotocol {p:?}, which was not offered (RFC 6455 §4.1)"
                )));
            }
        }
        Ok((Accepted { protocol }, used))
    }
}

// ---------------------------------------------------------------------------------------------------
// Frames (§5)

/// A frame's opcode (§5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 3-7 (reserved data opcodes) and 11-15 (reserved control opcodes): kept to be shown.
    Unknown(u8),
}

impl Opcode {
    pub fn from_bits(b: u8) -> Opcode {
        match b & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            n => Opcode::Unknown(n),
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
            Opcode::Unknown(n) => n & 0x0f,
        }
    }

    /// Control opcodes have the high bit of the four set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x08 != 0
    }

    pub fn name(self) -> Cow<'static, str> {
        match self {
            Opcode::Continuation => "continuation".into(),
            Opcode::Text => "text".into(),
            Opcode::Binary => "binary".into(),
            Opcode::Close => "close".into(),
            Opcode::Ping => "ping".into(),
            Opcode::Pong => "pong".into(),
            Opcode::Unknown(n) => format!("reserved opcode {n}").into(),
        }
    }
}

/// The fixed part of a frame (§5.2): everything before the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1-3 as the low three bits: 0 unless an extension says otherwise.
    pub rsv: u8,
    pub opcode: Opcode,
    /// The masking key, present on (and only on) a client's frames.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

impl FrameHeader {
    /// A final frame without mask (as a server sends).
    pub fn new(opcode: Opcode, len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len,
        }
    }

    /// Read a header from the start of `buf`: it and its size (2 to 14 bytes). Refuses what §5.2
    /// forbids whatever else the frame is: a 64-bit length with the top bit set, and a length not
    /// written in the fewest bytes ("the minimal number of bytes MUST be used").
    pub fn decode(buf: &[u8]) -> Result<(FrameHeader, usize), DecodeError> {
        if buf.len() < 2 {
            return Err(DecodeError::needs(2 - buf.len()));
        }
        let (b0, b1) = (buf[0], buf[1]);
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                let Some(b) = buf.get(2..4) else {
                    return Err(DecodeError::needs(4 - buf.len()));
                };
                let n = u16::from_be_bytes([b[0], b[1]]) as u64;
                if n < 126 {
                    return Err(DecodeError::invalid(format!(
                        "length {n} written in 16 bits: the fewest bytes must be used (RFC 6455 §5.2)"
                    )));
                }
                (n, 4)
            }
            127 => {
                // As an array straight from `get`: no conversion left that could panic.
                let Some(b) = buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                    return Err(DecodeError::needs(10 - buf.len()));
                };
                let n = u64::from_be_bytes(b);
                if n >> 63 != 0 {
                    return Err(DecodeError::invalid(
                        "64-bit length with the most significant bit set (RFC 6455 §5.2)",
                    ));
                }
                if n <= 0xffff {
                    return Err(DecodeError::invalid(format!(
                        "length {n} written in 64 bits: the fewest bytes must be used (RFC 6455 §5.2)"
                    )));
                }
                (n, 10)
            }
            n => (n as u64, 2),
        };
        let mask = if masked {
            let Some(k) = buf.get(at..at + 4) else {
                return Err(DecodeError::needs(at + 4 - buf.len()));
            };
            at += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok((
            FrameHeader {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0x07,
                opcode: Opcode::from_bits(b0),
                mask,
                len,
            },
            at,
        ))
    }

    /// Append the header to `out` (the length in the fewest bytes, §5.2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push((self.fin as u8) << 7 | (self.rsv & 0x07) << 4 | self.opcode.bits());
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        match self.len {
            n @ 0..=125 => out.push(m | n as u8),
            n @ 126..=0xffff => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(k) = self.mask {
            out.extend_from_slice(&k);
        }
    }

    /// The header's size on the wire.
    pub fn size(&self) -> usize {
        let len = match self.len {
            0..=125 => 0,
            126..=0xffff => 2,
            _ => 8,
        };
        2 + len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The rules of §5 that hold for every frame whoever reads it, and the masking rule for a
    /// reader in `role`: the first one broken, as a close status and a sentence.
    pub fn violation(&self, role: Role) -> Option<Violation> {
        let broken = |why: String| Some(Violation::protocol(why));
        if self.rsv != 0 {
            return broken(format!(
                "RSV bits {:03b} set, and no extension was negotiated (RFC 6455 §5.2)",
                self.rsv
            ));
        }
        if let Opcode::Unknown(n) = self.opcode {
            return broken(format!("reserved opcode {n} (RFC 6455 §5.2)"));
        }
        if self.opcode.is_control() && !self.fin {
            return broken(format!(
                "a fragmented {} frame: control frames are never fragmented (RFC 6455 §5.5)",
                self.opcode.name()
            ));
        }
        if self.opcode.is_control() && self.len > MAX_CONTROL_PAYLOAD {
            return broken(format!(
                "a {} frame of {} bytes: control frames carry at most 125 (RFC 6455 §5.5)",
                self.opcode.name(),
                self.len
            ));
        }
        match (role, self.mask.is_some()) {
            (Role::Server, false) => broken(
                "an unmasked frame from the client: a client MUST mask every frame (RFC 6455 §5.1)".into(),
            ),
            (Role::Client, true) => broken(
                "a masked frame from the server: a server MUST NOT mask its frames (RFC 6455 §5.1)".into(),
            ),
            _ => None,
        }
    }
}

/// XOR `data` with the masking key, as if `data` started `offset` bytes into the payload (§5.3:
/// byte i is XORed with key[i mod 4]). Masking and unmasking are the same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut k = key;
    k.rotate_left(offset % 4);
    // Eight bytes at a time: the key repeated twice is a u64 (the same XOR, fewer steps).
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        // `chunks_exact_mut(8)` only yields 8-byte chunks, so this is always `Ok` (and cannot panic).
        if let Ok(w) = <&mut [u8; 8]>::try_from(c) {
            *w = (u64::from_ne_bytes(*w) ^ wide).to_ne_bytes();
        }
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i % 4];
    }
}

/// Append a whole frame to `out`: the header, then the payload (masked with `mask` if given: a
/// client's frames must be, a server's never, §5.1).
pub fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, payload: &[u8]) {
    FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        len: payload.len() as u64,
    }
    .encode(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut out[start..], k, 0);
    }
}

/// One whole frame, borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: FrameHeader,
    /// The payload as it travelled: still masked when `header.mask` is set (see [`Frame::payload`]).
    pub wire_payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The payload, unmasked (copied only if it was masked).
    pub fn payload(&self) -> Cow<'a, [u8]> {
        match self.header.mask {
            None => Cow::Borrowed(self.wire_payload),
            Some(k) => {
                let mut p = self.wire_payload.to_vec();
                apply_mask(&mut p, k, 0);
                Cow::Owned(p)
            }
        }
    }
}

/// Read one whole frame from the start of `buf` (at most `max_payload` bytes of payload): the frame
/// and the bytes it took. Only the framing is checked here; [`FrameHeader::violation`] has the rules.
pub fn decode_frame(buf: &[u8], max_payload: u64) -> Result<(Frame<'_>, usize), DecodeError> {
    let (header, at) = FrameHeader::decode(buf)?;
    if header.len > max_payload {
        return Err(DecodeError::invalid(format!(
            "a frame of {} bytes, more than the {max_payload} allowed",
            header.len
        )));
    }
    let end = at + header.len as usize;
    if buf.len() < end {
        return Err(DecodeError::needs(end - buf.len()));
    }
    Ok((
        Frame {
            header,
            wire_payload: &buf[at..end],
        },
        end,
    ))
}

// ---------------------------------------------------------------------------------------------------
// Close frames (§5.5.1, §7.4)

/// Status codes of a close frame (§7.4.1).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Never sent: what an endpoint reports when a close frame had no code.
    pub const NO_STATUS: u16 = 1005;
    /// Never sent: what an endpoint reports when the connection ended without a close frame.
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const MANDATORY_EXTENSION: u16 = 1010;
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// The name of a close status code (§7.4.1; 3000-3999 are registered with IANA, 4000-4999 private).
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure",
        1007 => "invalid frame payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal server error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered",
        4000..=4999 => "private use",
        _ => "not a valid close code",
    }
}

/// May `code` appear in a close frame (§7.4.1, §7.4.2)? 1005, 1006 and 1015 are for reporting only.
pub fn close_code_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame's payload: nothing, or a status code and a UTF-8 reason (§5.5.1).
pub fn decode_close(payload: &[u8]) -> Result<Option<(u16, &str)>, DecodeError> {
    match payload {
        [] => Ok(None),
        [_] => Err(DecodeError::invalid(
            "a close frame with a 1-byte payload: the status code takes 2 (RFC 6455 §5.5.1)",
        )),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !close_code_sendable(code) {
                return Err(DecodeError::invalid(format!(
                    "close status code {code} may not be sent (RFC 6455 §7.4)"
                )));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| DecodeError::invalid("a close reason that is not UTF-8 (RFC 6455 §5.5.1)"))?;
            Ok(Some((code, reason)))
        }
    }
}

/// The payload of a close frame with `code` and `reason` (cut to fit 125 bytes on a char boundary).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD as usize - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(&reason.as_bytes()[..end]);
    p
}

// ---------------------------------------------------------------------------------------------------
// A byte stream out of frames

/// Which end reads the frames: a server expects masked frames, a client unmasked ones (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

/// A broken rule: the close status code to send (§7.4.1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub why: String,
}

impl Violation {
    fn protocol(why: impl Into<String>) -> Violation {
        Violation {
            code: close::PROTOCOL_ERROR,
            why: why.into(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (close {} {})",
            self.why,
            self.code,
            close_code_name(self.code)
        )
    }
}

impl std::error::Error for Violation {}

/// A control frame, for the connection to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Answer with a pong carrying the same payload (§5.5.2).
    Ping(Vec<u8>),
    /// An answer to our ping, or a unilateral heartbeat (§5.5.3): nothing to do.
    Pong(Vec<u8>),
    /// The peer closes (§5.5.1): answer with a close, then end the connection. No data follows.
    Close(Option<(u16, String)>),
}

/// The payload of binary messages as one byte stream (MQTT over WebSockets, MQTT 5.0 §6), with the
/// rules of §5 checked. Data frames are streamed: their payload leaves as soon as it arrives, so
/// neither a large frame nor a fragmented message is ever buffered here; a control frame is
/// handled whole (it is at most 125 bytes).
///
/// Text messages are refused (close 1003): a byte stream has no use for them, and MQTT forbids
/// them ("If any other type of data frame is received the recipient MUST close the Network
/// Connection", [MQTT-6.0.0-1]).
#[derive(Debug, Clone)]
pub struct Deframer {
    role: Role,
    max_frame: u64,
    /// The data frame whose payload is arriving: its header, the bytes left, the mask position.
    frame: Option<(FrameHeader, u64, usize)>,
    /// A fragmented message is open (its first frame had FIN = 0).
    in_message: bool,
    /// A close frame came: nothing after it is data (§5.5.1).
    closed: bool,
}

impl Deframer {
    /// A reader for `role` that refuses data frames larger than `max_frame` (close 1009).
    pub fn new(role: Role, max_frame: u64) -> Deframer {
        Deframer {
            role,
            max_frame,
            frame: None,
            in_message: false,
            closed: false,
        }
    }

    /// Take what can be taken from the start of `input`: the payload of data frames is appended,
    /// unmasked, to `out`. Stops after a control frame (returned, for the caller to answer) or when
    /// the input is used up or holds only part of a header or control frame (kept by the caller for
    /// the next call). Returns how many bytes of `input` were used.
    pub fn read(&mut self, input: &[u8], out: &mut BytesMut) -> Result<(usize, Option<Control>), Violation> {
        let mut used = 0;
        loop {
            if let Some((header, left, offset)) = &mut self.frame {
                let rest = &input[used..];
                let n = (*left).min(rest.len() as u64) as usize;
                let start = out.len();
                out.extend_from_slice(&rest[..n]);
                if let Some(k) = header.mask {
                    apply_mask(&mut out[start..], k, *offset);
                }
                (*left, *offset, used) = (*left - n as u64, *offset + n, used + n);
                if *left > 0 {
                    return Ok((used, None)); // the rest of the payload is still on its way
                }
                if header.fin {
                    self.in_message = false;
                }
                self.frame = None;
                continue;
            }
            if self.closed {
                return Ok((input.len(), None)); // after a close, nothing is data (§5.5.1)
            }
            let (h, at) = match FrameHeader::decode(&input[used..]) {
                Ok(h) => h,
                Err(DecodeError::Incomplete { .. }) => return Ok((used, None)),
                Err(DecodeError::Invalid(why)) => return Err(Violation::protocol(why)),
            };
            if let Some(v) = h.violation(self.role) {
                return Err(v);
            }
            if h.opcode.is_control() {
                let end = used + at + h.len as usize;
                if input.len() < end {
                    return Ok((used, None)); // a control frame is taken whole
                }
                let mut payload = input[used + at..end].to_vec();
                if let Some(k) = h.mask {
                    apply_mask(&mut payload, k, 0);
                }
                let control = match h.opcode {
                    Opcode::Ping => Control::Ping(payload),
                    Opcode::Pong => Control::Pong(payload),
                    _ => {
                        self.closed = true;
                        let close = decode_close(&payload).map_err(|e| match e {
                            DecodeError::Invalid(why) => Violation::protocol(why),
                            DecodeError::Incomplete { .. } => Violation::protocol("a cut close frame"),
                        })?;
                        Control::Close(close.map(|(c, r)| (c, r.to_string())))
                    }
                };
                return Ok((end, Some(control)));
            }
            match (h.opcode, self.in_message) {
                (Opcode::Continuation, false) => {
                    return Err(Violation::protocol(
                        "a continuation frame with no fragmented message to continue (RFC 6455 §5.4)",
                    ))
                }
                (Opcode::Text | Opcode::Binary, true) => {
                    return Err(Violation::protocol(
                        "a new message began before the fragmented one ended (RFC 6455 §5.4)",
                    ))
                }
                (Opcode::Text, false) => {
                    return Err(Violation {
                        code: close::UNSUPPORTED_DATA,
                        why: "a text frame: MQTT travels in binary frames only (MQTT 5.0 §6, [MQTT-6.0.0-1])"
                            .into(),
                    })
                }
                _ => {}
            }
            if h.len > self.max_frame {
                return Err(Violation {
                    code: close::MESSAGE_TOO_BIG,
                    why: format!(
                        "a frame of {} bytes, more than the {} this end takes",
                        h.len, self.max_frame
                    ),
                });
            }
            self.in_message = !h.fin;
            self.frame = Some((h, h.len, 0));
            used += at;
        }
    }
}

/// Run every decoder of this module over `data` (for the fuzz target and the mutation test): none
/// may panic, loop, or allocate without bound.
pub fn exercise(data: &[u8]) {
    let _ = decode_upgrade(data);
    let client = ClientHandshake::new("h", "/", &["mqtt"], [7; 16]);
    let _ = client.check_response(data);
    for role in [Role::Server, Role::Client] {
        // Fed in pieces of 3 bytes, as a socket might: what waits between reads stays bounded (a
        // header or one control frame).
        let mut d = Deframer::new(role, 1 << 20);
        let (mut out, mut pending) = (BytesMut::new(), Vec::new());
        'feed: for chunk in data.chunks(3) {
            pending.extend_from_slice(chunk);
            loop {
                match d.read(&pending, &mut out) {
                    Ok((n, control)) => {
                        pending.drain(..n);
                        if control.is_none() {
                            break;
                        }
                    }
                    Err(_) => break 'feed,
                }
            }
            assert!(pending.len() <= 14 + MAX_CONTROL_PAYLOAD as usize);
            out.clear();
        }
    }
    let mut at = 0;
    while let Ok((f, n)) = decode_frame(&data[at..], 1 << 20) {
        let _ = f.payload();
        let _ = f.header.violation(Role::Server);
        if f.header.opcode == Opcode::Close {
            let _ = decode_close(&f.payload());
        }
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn the_rfc_accept_example() {
        // RFC 6455 §1.3: "the server would ... concatenate ... and return s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
        assert_eq!(accept_key(SAMPLE_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    fn request(extra: &str) -> String {
        format!(
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {SAMPLE_KEY}\r\nOrigin: http://example.com\r\n{extra}Sec-WebSocket-Version: 13\r\n\r\n"
        )
    }

    #[test]
    fn the_rfc_handshake_example() {
        // RFC 6455 §1.2, the client's request and the server's answer.
        let text = request("Sec-WebSocket-Protocol: chat, superchat\r\n");
        let mut bytes = text.clone().into_bytes();
        bytes.extend_from_slice(&[0x81, 0x80, 0, 0, 0, 0]); // a frame right behind the head
        let (req, used) = decode_upgrade(&bytes).unwrap();
        assert_eq!(used, text.len());
        assert_eq!(req.path, "/chat");
        assert_eq!(req.host, "server.example.com");
        assert_eq!(req.origin.as_deref(), Some("http://example.com"));
        assert_eq!(req.protocols, ["chat", "superchat"]);
        let chosen = req.choose_protocol(&["superchat", "chat"]).unwrap();
        assert_eq!(chosen, Some("chat"), "the client's order of preference wins");
        assert_eq!(
            String::from_utf8(req.accept(chosen)).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
        // Cut anywhere: incomplete, never refused.
        for cut in 0..text.len() {
            assert_eq!(
                decode_upgrade(&text.as_bytes()[..cut]),
                Err(HandshakeError::Incomplete)
            );
        }
    }

    #[test]
    fn browsers_connection_header_and_repeated_protocol_fields() {
        let text = request("Sec-WebSocket-Protocol: mqttv3.1\r\nSec-WebSocket-Protocol: mqtt\r\n")
            .replace("Connection: Upgrade", "Connection: keep-alive, Upgrade")
            .replace("Upgrade: websocket", "Upgrade: WebSocket");
        let (req, _) = decode_upgrade(text.as_bytes()).unwrap();
        assert_eq!(req.protocols, ["mqttv3.1", "mqtt"]);
        assert_eq!(req.choose_protocol(&["mqtt", "mqttv3.1"]), Ok(Some("mqttv3.1")));
        let (none, _) = decode_upgrade(request("").as_bytes()).unwrap();
        assert_eq!(none.choose_protocol(&["mqtt"]), Ok(None));
        let (other, _) = decode_upgrade(request("Sec-WebSocket-Protocol: foo\r\n").as_bytes()).unwrap();
        assert_eq!(other.choose_protocol(&["mqtt"]).unwrap_err().status, 400);
    }

    #[test]
    fn bad_requests_are_refused_with_a_status_and_a_reason() {
        let good = request("");
        let cases: Vec<(String, u16, &str)> = vec![
            (
                "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n".into(),
                426,
                "Upgrade: websocket",
            ),
            (good.replace("GET", "POST"), 400, "not POST"),
            (good.replace("HTTP/1.1", "HTTP/1.0"), 400, "HTTP/1.1"),
            (
                good.replace("Connection: Upgrade", "Connection: close"),
                400,
                "Connection",
            ),
            (good.replace("Host: server.example.com\r\n", ""), 400, "Host"),
            (good.replace("Version: 13", "Version: 8"), 426, "Version 8"),
            (good.replace(SAMPLE_KEY, "c2hvcnQ="), 400, "16 bytes"),
            (
                good.replace(&format!("Sec-WebSocket-Key: {SAMPLE_KEY}\r\n"), ""),
                400,
                "Key",
            ),
            (
                "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00".into(),
                400,
                "not an HTTP request",
            ),
        ];
        for (text, status, says) in cases {
            match decode_upgrade(text.as_bytes()) {
                Err(HandshakeError::Refused(r)) => {
                    assert_eq!(r.status, status, "{text:?}: {r}");
                    assert!(r.why.contains(says), "{text:?}: {r}");
                    let answer = String::from_utf8(r.response()).unwrap();
                    assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
                    assert!(answer.ends_with(&format!("{}\n", r.why)), "{answer}");
                    if status == 426 {
                        assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"));
                    }
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert!(
            matches!(decode_upgrade(huge.as_bytes()), Err(HandshakeError::Refused(r)) if r.status == 400)
        );
    }

    #[test]
    fn the_client_handshake_against_the_server_side() {
        let c = ClientHandshake::new("127.0.0.1:9001", "/mqtt", &["mqtt"], *b"the sample nonce");
        assert_eq!(
            c.key, SAMPLE_KEY,
            "RFC 6455 §1.3's key is base64 of \"the sample nonce\""
        );
        let req = c.request();
        let (parsed, used) = decode_upgrade(&req).unwrap();
        assert_eq!(used, req.len());
        assert_eq!(
            (parsed.path.as_str(), parsed.protocols.clone()),
            ("/mqtt", vec!["mqtt".to_string()])
        );
        let mut answer = parsed.accept(Some("mqtt"));
        let head = answer.len();
        answer.extend_from_slice(&[0x82, 0x00]);
        let (acc, n) = c.check_response(&answer).unwrap();
        assert_eq!((acc.protocol.as_deref(), n), (Some("mqtt"), head));
        assert!(c.check_response(&answer[..head - 1]).unwrap_err().is_incomplete());
        // A wrong accept key, a refusal, a protocol that was not offered, not HTTP at all.
        let wrong = String::from_utf8(answer[..head].to_vec())
            .unwrap()
            .replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(c
            .check_response(wrong.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("Sec-WebSocket-Accept"));
        let refused = Refusal {
            status: 426,
            why: "use a WebSocket".into(),
        }
        .response();
        let e = c.check_response(&refused).unwrap_err().to_string();
        assert!(
            e.contains("426 Upgrade Required") && e.contains("use a WebSocket"),
            "{e}"
        );
        let other = parsed.accept(Some("chat"));
        assert!(c
            .check_response(&other)
            .unwrap_err()
            .to_string()
            .contains("not offered"));
        assert!(c
            .check_response(b"\x20\x02\x00\x00")
            .unwrap_err()
            .to_string()
            .contains("not HTTP"));
    }

    #[test]
    fn the_rfc_frame_examples() {
        // RFC 6455 §5.7.
        let hello_unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let hello_masked = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        for bytes in [&hello_unmasked[..], &hello_masked[..]] {
            let (f, n) = decode_frame(bytes, 1 << 20).unwrap();
            assert_eq!(n, bytes.len());
            assert_eq!((f.header.fin, f.header.opcode), (true, Opcode::Text));
            assert_eq!(&*f.payload(), b"Hello");
        }
        // Encoding gives the same bytes back.
        let mut out = Vec::new();
        encode_frame(&mut out, true, Opcode::Text, None, b"Hello");
        assert_eq!(out, hello_unmasked);
        out.clear();
        encode_frame(
            &mut out,
            true,
            Opcode::Text,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
        );
        assert_eq!(out, hello_masked);
        // A fragmented unmasked text message: "Hel" then "lo".
        let (a, n) = decode_frame(&[0x01, 0x03, 0x48, 0x65, 0x6c], 100).unwrap();
        assert_eq!((a.header.fin, a.header.opcode, n), (false, Opcode::Text, 5));
        let (b, _) = decode_frame(&[0x80, 0x02, 0x6c, 0x6f], 100).unwrap();
        assert_eq!((b.header.fin, b.header.opcode), (true, Opcode::Continuation));
        // Unmasked ping "Hello", masked pong "Hello".
        let (ping, _) = decode_frame(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], 100).unwrap();
        assert_eq!(
            (ping.header.opcode, &*ping.payload()),
            (Opcode::Ping, &b"Hello"[..])
        );
        let pong = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (pong, _) = decode_frame(&pong, 100).unwrap();
        assert_eq!(
            (pong.header.opcode, &*pong.payload()),
            (Opcode::Pong, &b"Hello"[..])
        );
        // 256 bytes binary in one unmasked frame: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x0000000000010000.
        let mut out = Vec::new();
        FrameHeader::new(Opcode::Binary, 256).encode(&mut out);
        assert_eq!(out, [0x82, 0x7e, 0x01, 0x00]);
        out.clear();
        FrameHeader::new(Opcode::Binary, 65536).encode(&mut out);
        assert_eq!(out, [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        let (h, n) = FrameHeader::decode(&out).unwrap();
        assert_eq!((h.len, n, h.size()), (65536, 10, 10));
    }

    #[test]
    fn lengths_must_be_minimal_and_fit_63_bits() {
        assert!(
            FrameHeader::decode(&[0x82, 0x7e, 0x00, 0x7d]).is_err_and(|e| e.to_string().contains("fewest"))
        );
        assert!(FrameHeader::decode(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).is_err());
        assert!(FrameHeader::decode(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0])
            .is_err_and(|e| e.to_string().contains("most significant")));
        for cut in 0..10 {
            let full = [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
            assert!(FrameHeader::decode(&full[..cut]).unwrap_err().is_incomplete());
        }
        assert!(decode_frame(&[0x82, 0x7e, 0x01, 0x00], 255).is_err_and(|e| !e.is_incomplete()));
    }

    #[test]
    fn masking_is_its_own_inverse_at_any_offset() {
        let key = [1, 2, 3, 0xff];
        let data: Vec<u8> = (0..=255).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ key[i % 4]);
        }
        // In pieces of every size: the same bytes as at once.
        for piece in 1..20 {
            let mut p = data.clone();
            let mut at = 0;
            while at < p.len() {
                let end = (at + piece).min(p.len());
                apply_mask(&mut p[at..end], key, at);
                at = end;
            }
            assert_eq!(p, whole, "pieces of {piece}");
        }
        apply_mask(&mut whole, key, 0);
        assert_eq!(whole, data);
    }

    #[test]
    fn close_payloads() {
        assert_eq!(decode_close(&[]), Ok(None));
        assert_eq!(
            decode_close(&[0x03, 0xe8, b'b', b'y', b'e']),
            Ok(Some((1000, "bye")))
        );
        assert!(decode_close(&[0x03]).is_err());
        assert!(decode_close(&[0x03, 0xed]).is_err(), "1005 is never sent");
        assert!(decode_close(&[0x03, 0xe8, 0xff]).is_err(), "not UTF-8");
        let long = "é".repeat(100);
        let p = close_payload(close::PROTOCOL_ERROR, &long);
        assert!(p.len() <= 125);
        assert_eq!(decode_close(&p).unwrap().unwrap().0, 1002);
        assert_eq!(close_code_name(1009), "message too big");
    }

    /// A client's frames for `payload`, masked, cut into frames of at most `piece` bytes.
    fn client_frames(payload: &[u8], piece: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = payload.chunks(piece.max(1)).collect();
        for (i, c) in chunks.iter().enumerate() {
            let op = if i == 0 {
                Opcode::Binary
            } else {
                Opcode::Continuation
            };
            encode_frame(&mut out, i + 1 == chunks.len(), op, Some([9, 8, 7, i as u8]), c);
        }
        out
    }

    #[test]
    fn the_deframer_streams_fragmented_binary_messages_whatever_the_reads() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = client_frames(&payload, 30_000);
        // A ping between fragments, and a second message.
        let ping_at = {
            let (_, n) = decode_frame(&wire, u64::MAX).unwrap();
            n
        };
        let mut ping = Vec::new();
        encode_frame(&mut ping, true, Opcode::Ping, Some([1, 1, 1, 1]), b"hi");
        wire.splice(ping_at..ping_at, ping);
        wire.extend(client_frames(b"second", 4));
        for read_size in [1, 2, 3, 7, 100, 4096, wire.len()] {
            let mut d = Deframer::new(Role::Server, 1 << 20);
            let (mut out, mut pending, mut controls) = (BytesMut::new(), Vec::new(), Vec::new());
            for chunk in wire.chunks(read_size) {
                pending.extend_from_slice(chunk);
                loop {
                    let (n, c) = d.read(&pending, &mut out).unwrap();
                    pending.drain(..n);
                    match c {
                        Some(c) => controls.push(c),
                        None => break,
                    }
                }
            }
            assert!(pending.is_empty());
            assert_eq!(controls, [Control::Ping(b"hi".to_vec())], "reads of {read_size}");
            assert_eq!(&out[..payload.len()], &payload[..], "reads of {read_size}");
            assert_eq!(&out[payload.len()..], b"second");
        }
    }

    #[test]
    fn the_deframer_refuses_what_the_rfc_forbids() {
        let frame = |b0: u8, mask: bool, payload: &[u8]| {
            let mut out = Vec::new();
            let h = FrameHeader {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 7,
                opcode: Opcode::from_bits(b0),
                mask: mask.then_some([1, 2, 3, 4]),
                len: payload.len() as u64,
            };
            h.encode(&mut out);
            let start = out.len();
            out.extend_from_slice(payload);
            if let Some(k) = h.mask {
                apply_mask(&mut out[start..], k, 0);
            }
            out
        };
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (frame(0x82, false, b"x"), 1002, "unmasked"),
            (frame(0xc2, true, b"x"), 1002, "RSV"),
            (frame(0x83, true, b"x"), 1002, "reserved opcode 3"),
            (frame(0x09, true, b"x"), 1002, "fragmented ping"),
            (frame(0x89, true, &[0; 126]), 1002, "at most 125"),
            (frame(0x80, true, b"x"), 1002, "continuation"),
            (
                [frame(0x02, true, b"x"), frame(0x82, true, b"y")].concat(),
                1002,
                "before the fragmented",
            ),
            (frame(0x81, true, b"x"), 1003, "text"),
            (frame(0x82, true, &[0; 2000]), 1009, "2000 bytes"),
            (frame(0x88, true, &[0x03]), 1002, "1-byte"),
        ];
        for (wire, code, says) in cases {
            let mut d = Deframer::new(Role::Server, 1000);
            let mut out = BytesMut::new();
            let mut at = 0;
            let err = loop {
                match d.read(&wire[at..], &mut out) {
                    Ok((n, _)) if n > 0 => at += n,
                    Ok(_) => panic!("{says}: accepted"),
                    Err(v) => break v,
                }
            };
            assert_eq!(err.code, code, "{says}: {err}");
            assert!(err.why.contains(says), "{says}: {err}");
        }
        // A client reading a server: masked frames are the fault there.
        let mut d = Deframer::new(Role::Client, 1000);
        assert!(d.read(&frame(0x82, true, b"x"), &mut BytesMut::new()).is_err());
        assert!(d.read(&frame(0x82, false, b"x"), &mut BytesMut::new()).is_ok());
    }

    #[test]
    fn nothing_after_a_close_is_data() {
        let mut wire = Vec::new();
        encode_frame(
            &mut wire,
            true,
            Opcode::Close,
            Some([5; 4]),
            &close_payload(1000, "bye"),
        );
        encode_frame(&mut wire, true, Opcode::Binary, Some([5; 4]), b"late");
        let mut d = Deframer::new(Role::Server, 1000);
        let mut out = BytesMut::new();
        let (n, c) = d.read(&wire, &mut out).unwrap();
        assert_eq!(c, Some(Control::Close(Some((1000, "bye".into())))));
        assert_eq!(d.read(&wire[n..], &mut out).unwrap().0, wire.len() - n);
        assert!(out.is_empty());
    }

    #[test]
    fn mutated_inputs_never_panic() {
        let mut seeds: Vec<Vec<u8>> = vec![
            request("Sec-WebSocket-Protocol: mqtt\r\n").into_bytes(),
            UpgradeRequest {
                path: "/".into(),
                host: "h".into(),
                key: ClientHandshake::new("h", "/", &[], [7; 16]).key,
                protocols: vec![],
                origin: None,
                extensions: None,
            }
            .accept(Some("mqtt")),
            client_frames(&[0xab; 300], 100),
        ];
        let mut ping = Vec::new();
        encode_frame(&mut ping, true, Opcode::Ping, Some([1, 2, 3, 4]), b"p");
        encode_frame(
            &mut ping,
            true,
            Opcode::Close,
            Some([1, 2, 3, 4]),
            &close_payload(1001, "x"),
        );
        seeds.push(ping);
        let mut rng = crate::testing::XorShift(0x5eed_6455);
        for seed in &seeds {
            exercise(seed);
            for _ in 0..2_000 {
                let mut m = seed.clone();
                for _ in 0..1 + rng.next() % 4 {
                    let i = (rng.next() as usize) % m.len();
                    match rng.next() % 3 {
                        0 => m[i] = rng.next() as u8,
                        1 => m.truncate(i),
                        _ => m.insert(i, rng.next() as u8),
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                exercise(&m);
            }
        }
    }
}
