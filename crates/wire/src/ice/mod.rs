//! ZeroC Ice: the Ice protocol 1.0 and the Ice encoding 1.1, sans-I/O.
//!
//! Ice is the course's distributed-objects middleware (`code_process/`): a client holds a *proxy*
//! (`SimplePrinter1:default -p 11000`) and calls operations on it as if the object were local; the
//! Ice run time turns each call into a Request message on a TCP connection, and the server's object
//! adapter finds the servant by its identity and answers with a Reply. Specification: the Ice Manual,
//! "The Ice Protocol" (Data Encoding, Protocol Messages, Compression, Protocol and Encoding Versions).
//!
//! One connection of the course's pattern, as a capture shows it:
//!
//! ```text
//!   client                                    server (SimpleAdapter, port 11000)
//!     │ ──── TCP handshake ─────────────────────► │
//!     │ ◄─── ValidateConnection ───────────────── │  the server speaks first: "ready"
//!     │ ──── Request #1 SimplePrinter1.ice_isA("::Demo::Printer") ─► │   checkedCast
//!     │ ◄─── Reply #1 ok (true) ───────────────── │
//!     │ ──── Request #2 SimplePrinter1.printString("Hello World from printer1!") ─► │
//!     │ ◄─── Reply #2 ok ──────────────────────── │  prints "Object1 says: Hello World…"
//!     │      ... the same for SimplePrinter2, on the same connection (#3, #4)
//!     │ ──── CloseConnection ───────────────────► │  communicator.destroy()
//!     │ ──── FIN ──────────────────────────────►  │
//! ```
//!
//! Modules, in the order the bytes arrive:
//! - [`header`]: the 14-byte header (magic `IceP`, versions, message type, compression, size);
//! - [`message`]: the bodies: [`Request`], BatchRequest, [`Reply`] and its eight statuses,
//!   ValidateConnection, CloseConnection;
//! - [`encoding`]: the encoding's values (sizes, strings, sequences, dictionaries, primitives,
//!   encapsulations): [`Reader`] and [`Writer`].
//!
//! [`decode`] reads one whole message from the front of a buffer (a stream decoder's step: it says
//! `Incomplete` until the header's size has arrived), decompressing bzip2 bodies; [`encode`] writes
//! one. Both the server and the client (`sister-patterns`) and the capture analyzer use these.
//!
//! What to notice in a capture: nothing in an Ice message says what the parameters *are*; the
//! operation name travels as text (`printString`), but `printString`'s argument is just a size byte and
//! UTF-8 (`1a "Hello World from printer1!"`), and an `int` would be four bare bytes. Only the Slice file
//! gives them meaning. A oneway call has request id 0 and gets no Reply at all.

pub mod encoding;
pub mod header;
pub mod message;

use std::io::Read;

pub use encoding::{Encapsulation, Reader, Version, Writer, ENCODING_1_0, ENCODING_1_1};
pub use header::{Compression, Header, MessageType, HEADER_SIZE, MAGIC, PROTOCOL_1_0};
pub use message::{Identity, Message, OperationMode, Reply, ReplyBody, ReplyStatus, Request};

use crate::DecodeError;

/// The largest message sister accepts by default: 1 MiB, Ice's own default (`Ice.MessageSizeMax` =
/// 1024 KiB). A larger size in a header is refused before its body is awaited.
pub const DEFAULT_MAX_SIZE: usize = 1024 * 1024;

/// The object type every Ice object implements (`ice_isA("::Ice::Object")` is always true).
pub const ICE_OBJECT_TYPE_ID: &str = "::Ice::Object";

/// One decoded message and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub header: Header,
    pub message: Message,
}

/// The length of the message at the front of `buf` (its header's size), once all of it is there.
/// `Incomplete` until then; `Invalid` when it is not Ice or is larger than `max_size`.
pub fn message_len(buf: &[u8], max_size: usize) -> Result<usize, DecodeError> {
    let header = Header::decode(buf)?;
    let size = header.size as usize;
    if size > max_size {
        return Err(DecodeError::invalid(format!(
            "a {size}-byte message is larger than the limit of {max_size} bytes (Ice.MessageSizeMax)"
        )));
    }
    if buf.len() < size {
        return Err(DecodeError::needs(size - buf.len()));
    }
    Ok(size)
}

/// Decodes the message at the front of `buf`; returns it and the bytes it used (its header's size).
///
/// A compressed message (status 2) is decompressed here, up to `max_size` bytes uncompressed.
pub fn decode(buf: &[u8], max_size: usize) -> Result<(Decoded, usize), DecodeError> {
    let size = message_len(buf, max_size)?;
    let header = Header::decode(buf)?;
    let body = &buf[HEADER_SIZE..size];
    let message = match header.compression {
        Compression::Compressed => Message::decode_body(header.message_type, &decompress(body, max_size)?)?,
        Compression::Unknown(n) => {
            return Err(DecodeError::invalid(format!(
                "compression status {n} is not 0, 1 or 2"
            )))
        }
        _ => Message::decode_body(header.message_type, body)?,
    };
    Ok((Decoded { header, message }, size))
}

/// The body of a compressed message: `[i32 uncompressed size of the whole message, header included]`
/// then the body compressed with bzip2 (Ice Manual, "The Ice Protocol" → "Compression"). Decoded with
/// the `bzip2` crate (a pure-Rust libbzip2), never past the size announced nor past `max_size`.
pub fn decompress(body: &[u8], max_size: usize) -> Result<Vec<u8>, DecodeError> {
    let mut r = Reader::new(body);
    let total = r.int("the uncompressed size")?;
    let total = usize::try_from(total)
        .ok()
        .filter(|t| (HEADER_SIZE..=max_size).contains(t))
        .ok_or_else(|| {
            DecodeError::invalid(format!(
                "uncompressed size {total} is not between 14 and the limit of {max_size} bytes"
            ))
        })?;
    let want = total - HEADER_SIZE;
    let mut out = Vec::with_capacity(want);
    let mut decoder = bzip2::read::BzDecoder::new(r.rest()).take(want as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::invalid(format!("the compressed body is not valid bzip2: {e}")))?;
    if out.len() != want {
        return Err(DecodeError::invalid(format!(
            "the compressed body holds {} bytes, not the {want} its size announced",
            out.len()
        )));
    }
    Ok(out)
}

/// Appends `message` with its header (protocol 1.0, encoding 1.0, uncompressed).
pub fn encode(message: &Message, out: &mut Vec<u8>) {
    let start = out.len();
    Header::new(message.message_type(), 0).encode(out);
    message.encode_body(out);
    let size = (out.len() - start) as i32;
    out[start + 10..start + 14].copy_from_slice(&size.to_le_bytes());
}

/// Does `buf` start like an Ice message? (The analyzer's test for "this stream is Ice", on any port.)
pub fn sniff(buf: &[u8]) -> bool {
    buf.len() >= 10 && buf[..4] == MAGIC && buf[4] == 1 && buf[6] == 1 && buf[8] <= 4 && buf[9] <= 2
}

/// Runs every decoder over arbitrary bytes, as a stream: the fuzz target's body and the tests'
/// mutation loop. Nothing may panic, loop or allocate without bound.
pub fn exercise(data: &[u8]) {
    let mut rest = data;
    loop {
        match decode(rest, DEFAULT_MAX_SIZE) {
            Ok((decoded, used)) => {
                // What decodes must encode again to the same bytes (uncompressed messages only).
                if decoded.header.compression != Compression::Compressed {
                    let mut again = Vec::new();
                    encode(&decoded.message, &mut again);
                    assert_eq!(
                        again[HEADER_SIZE..],
                        rest[HEADER_SIZE..used],
                        "re-encoding differs"
                    );
                }
                if let Message::Request(req) = &decoded.message {
                    let _ = req.params.as_strings();
                }
                if let Message::Reply(Reply {
                    body: ReplyBody::Encapsulation(e),
                    ..
                }) = &decoded.message
                {
                    let _ = e.exception_id();
                }
                rest = &rest[used..];
            }
            Err(DecodeError::Incomplete { .. }) => break,
            Err(DecodeError::Invalid(_)) => match message_len(rest, DEFAULT_MAX_SIZE) {
                // A body that breaks a rule: skip the message, as the analyzer does.
                Ok(used) => rest = &rest[used..],
                Err(_) => break,
            },
        }
    }
    let _ = decompress(data, 4096);
    let _ = Encapsulation {
        encoding: ENCODING_1_1,
        data: data.to_vec(),
    }
    .as_strings();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::XorShift;

    /// The bytes of the course's `printString("Hello World from printer1!")` (request 2), as ZeroC
    /// Ice 3.7 for Python sends them.
    fn course_print_string() -> Vec<u8> {
        let mut m = b"IceP\x01\x00\x01\x00\x00\x00".to_vec();
        m.extend_from_slice(&[0x52, 0, 0, 0]);
        m.extend_from_slice(&[2, 0, 0, 0]);
        m.push(14);
        m.extend_from_slice(b"SimplePrinter1");
        m.extend_from_slice(&[0, 0, 11]);
        m.extend_from_slice(b"printString");
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&[33, 0, 0, 0, 1, 1, 26]);
        m.extend_from_slice(b"Hello World from printer1!");
        assert_eq!(m.len(), 0x52);
        m
    }

    #[test]
    fn the_course_request_decodes_field_by_field() {
        let bytes = course_print_string();
        let (d, used) = decode(&bytes, DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(used, bytes.len());
        let Message::Request(req) = &d.message else {
            panic!("not a request: {d:?}")
        };
        assert_eq!(req.request_id, 2);
        assert_eq!(req.identity.to_string(), "SimplePrinter1");
        assert_eq!(req.facet, None);
        assert_eq!(req.operation, "printString");
        assert_eq!(req.mode, OperationMode::Normal);
        assert!(req.context.is_empty());
        assert_eq!(req.params.encoding, ENCODING_1_1);
        assert_eq!(req.params.as_strings().unwrap(), ["Hello World from printer1!"]);
        let mut again = Vec::new();
        encode(&d.message, &mut again);
        assert_eq!(again, bytes);
    }

    #[test]
    fn a_message_is_incomplete_until_its_size_has_arrived() {
        let bytes = course_print_string();
        for cut in 0..bytes.len() {
            let err = decode(&bytes[..cut], DEFAULT_MAX_SIZE).unwrap_err();
            assert!(err.is_incomplete(), "cut at {cut}: {err}");
        }
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(decode(&two, DEFAULT_MAX_SIZE).unwrap().1, bytes.len());
    }

    #[test]
    fn every_message_and_reply_status_round_trips() {
        let req = Request {
            request_id: 7,
            identity: Identity {
                name: "acct".into(),
                category: "bank".into(),
            },
            facet: Some("x".into()),
            operation: "owner".into(),
            mode: OperationMode::Idempotent,
            context: vec![("k".into(), "v".into())],
            params: Encapsulation::empty(),
        };
        let mut oneway = Request::new(
            0,
            Identity::new("log"),
            "write",
            Encapsulation::build(ENCODING_1_1, |w| w.int(5)),
        );
        oneway.mode = OperationMode::Normal;
        let mut messages = vec![
            Message::ValidateConnection,
            Message::CloseConnection,
            Message::Request(req.clone()),
            Message::BatchRequest(vec![oneway.clone(), oneway]),
            Message::BatchRequest(vec![]),
        ];
        for b in 0..8 {
            let status = ReplyStatus::from_byte(b).unwrap();
            let reply = match status {
                ReplyStatus::Ok | ReplyStatus::UserException => Reply {
                    request_id: 7,
                    status,
                    body: ReplyBody::Encapsulation(Encapsulation::empty()),
                },
                ReplyStatus::ObjectNotExist | ReplyStatus::FacetNotExist | ReplyStatus::OperationNotExist => {
                    Reply::not_exist(status, &req)
                }
                _ => Reply {
                    request_id: 7,
                    status,
                    body: ReplyBody::Unknown("boom".into()),
                },
            };
            messages.push(Message::Reply(reply));
        }
        for m in messages {
            let mut out = Vec::new();
            encode(&m, &mut out);
            let (d, used) = decode(&out, DEFAULT_MAX_SIZE).unwrap();
            assert_eq!(used, out.len());
            assert_eq!(d.message, m);
            assert_eq!(d.header.message_type, m.message_type());
        }
    }

    #[test]
    fn rule_breaking_bodies_are_invalid_with_a_reason() {
        let mut bytes = course_print_string();
        bytes[10] += 1;
        bytes.push(0);
        assert!(decode(&bytes, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("1 bytes are left"));
        let mut status = Vec::new();
        encode(&Message::Reply(Reply::ok(1, Encapsulation::empty())), &mut status);
        status[18] = 9;
        assert!(decode(&status, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("reply status 9"));
        let big = course_print_string();
        assert!(decode(&big, 20)
            .unwrap_err()
            .to_string()
            .contains("larger than the limit"));
        let mut kind = course_print_string();
        kind[8] = 9;
        assert!(decode(&kind, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("message type 9"));
    }

    #[test]
    fn compressed_messages_are_decompressed() {
        use std::io::Write;
        let plain = course_print_string();
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(1));
        enc.write_all(&plain[HEADER_SIZE..]).unwrap();
        let packed = enc.finish().unwrap();
        let mut m = plain[..HEADER_SIZE].to_vec();
        m[9] = 2;
        m.extend_from_slice(&(plain.len() as i32).to_le_bytes());
        m.extend_from_slice(&packed);
        let size = m.len() as i32;
        m[10..14].copy_from_slice(&size.to_le_bytes());
        let (d, used) = decode(&m, DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(used, m.len());
        assert_eq!(d.header.compression, Compression::Compressed);
        assert_eq!(d.message, decode(&plain, DEFAULT_MAX_SIZE).unwrap().0.message);
        // A lie about the uncompressed size is caught, in both directions.
        let mut lie = m.clone();
        lie[14] += 1;
        assert!(decode(&lie, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("not the"));
        let mut huge = m.clone();
        huge[14..18].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(decode(&huge, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("limit"));
        let mut garbage = m;
        let n = garbage.len();
        garbage[n - 5] ^= 0xff;
        assert!(decode(&garbage, DEFAULT_MAX_SIZE).is_err());
    }

    #[test]
    fn sniff_knows_ice_and_nothing_else() {
        assert!(sniff(&course_print_string()));
        assert!(sniff(&[0x49, 0x63, 0x65, 0x50, 1, 0, 1, 0, 3, 0, 14, 0, 0, 0]));
        assert!(!sniff(b"GIOP\x01\x02\x01\x00"));
        assert!(!sniff(b"IceP"));
        assert!(!sniff(b"GET / HTTP/1.1\r\n"));
    }

    #[test]
    fn mutated_messages_never_panic() {
        let mut seed = course_print_string();
        let mut reply = Vec::new();
        encode(
            &Message::Reply(Reply::ok(2, Encapsulation::build(ENCODING_1_1, |w| w.bool(true)))),
            &mut reply,
        );
        seed.extend_from_slice(&reply);
        let mut rng = XorShift(0x1ce_1ce);
        for _ in 0..20_000 {
            let mut m = seed.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % m.len();
                m[i] = rng.next() as u8;
            }
            exercise(&m);
            let cut = (rng.next() as usize) % m.len();
            exercise(&m[..cut]);
        }
    }

    /// Every message of real ZeroC Ice 3.7 traffic (both directions of the captures in
    /// `testdata/ice/`, as the fuzz seeds hold them) decodes, and the counts are tshark's.
    #[test]
    fn real_zeroc_streams_decode_message_for_message() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/ice");
        for (capture, want) in [("printer", 10), ("bank", 38), ("compressed", 38)] {
            let mut count = 0;
            let mut compressed = 0;
            for side in ["client", "server"] {
                let bytes = std::fs::read(dir.join(format!("{capture}-{side}"))).unwrap();
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let (d, used) = decode(rest, DEFAULT_MAX_SIZE).unwrap_or_else(|e| {
                        panic!("{capture}-{side} at byte {}: {e}", bytes.len() - rest.len())
                    });
                    count += 1;
                    compressed += usize::from(d.header.compression == Compression::Compressed);
                    rest = &rest[used..];
                }
            }
            assert_eq!(count, want, "{capture}: tshark counts {want} Ice messages");
            assert_eq!(compressed > 0, capture == "compressed", "{capture}");
        }
    }
}
