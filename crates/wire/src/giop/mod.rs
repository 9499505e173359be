//! CORBA's GIOP over IIOP (GIOP 1.0, 1.1 and 1.2 on TCP), its CDR encoding, object references and
//! the Naming Service's values, sans-I/O.
//!
//! CORBA is the course's second distributed-objects middleware (`CORBA/`): a client holds an
//! object reference (an IOR) and calls `sayHello()` on it as if it were local; the ORB turns the call
//! into a GIOP Request on a TCP connection (that is IIOP), and the server's POA finds the servant by
//! the request's *object key*. Specification: CORBA 3.0, chapter 15 "General Inter-ORB Protocol"
//! (§15.3 CDR, §15.4 the messages, §15.5 connections, §15.7 IIOP), chapter 13 (IORs and corbaloc),
//! and the Naming Service 1.3.
//!
//! The course's pattern, as a capture shows it (omniORB's programs, or sister's):
//!
//! ```text
//!   server                              naming service (port 2809, key NameService)       client
//!     │ ── Request _is_a("IDL:omg.org/CosNaming/NamingContextExt:1.0") ─► │                    │
//!     │ ◄─ Reply NO_EXCEPTION (true) ──────────────────────────────────── │                    │
//!     │ ── Request rebind(Hello → IOR of the servant) ──────────────────► │                    │
//!     │ ◄─ Reply NO_EXCEPTION ─────────────────────────────────────────── │                    │
//!     │                                    │ ◄─ Request resolve_str("Hello") ─────────────── │
//!     │                                    │ ── Reply NO_EXCEPTION (the servant's IOR) ─────► │
//!     │ ◄─ Request _is_a("IDL:HelloApp/Hello:1.0")   (HelloApp::Hello::_narrow) ──────────── │
//!     │ ── Reply NO_EXCEPTION (true) ──────────────────────────────────────────────────────► │
//!     │ ◄─ Request sayHello() ───────────────────────────────────────────────────────────── │
//!     │ ── Reply NO_EXCEPTION ("Hello from CORBA Server!") ────────────────────────────────► │
//!     │ ◄─ (the client's ORB closes: FIN, or CloseConnection from a server that goes away)   │
//! ```
//!
//! Unlike Ice, the *client* speaks first (there is no "validate connection"), either side may be
//! big- or little-endian, and a large message may be cut into Fragments.
//!
//! Modules, in the order the bytes arrive:
//! - [`header`]: the 12-byte header (magic `GIOP`, version, flags, type, size);
//! - [`message`]: the eight messages in the layouts of 1.0, 1.1 and 1.2;
//! - [`cdr`]: CDR's values with their alignment and byte orders: [`Reader`], [`Writer`];
//! - [`ior`]: IORs, IIOP profiles, `corbaloc:` and `corbaname:`;
//! - [`naming`]: CosNaming's names, bindings and exceptions.
//!
//! [`frame_len`] finds where one message ends in a stream; [`Reassembler`] joins Fragments into the
//! message they continue; [`decode_message`] reads a whole message. sister's naming service, server
//! and client (`sister-patterns`) and the capture analyzer all use these.

pub mod cdr;
pub mod header;
pub mod ior;
pub mod message;
pub mod naming;

use std::borrow::Cow;

pub use cdr::{Reader, Writer};
pub use header::{Header, MessageType, Version, GIOP_1_0, GIOP_1_1, GIOP_1_2, HEADER_SIZE, MAGIC};
pub use ior::{IiopAddress, IiopProfile, Ior, ObjectUrl};
pub use message::{
    encode_bare, encode_cancel_request, encode_locate_reply, encode_locate_request, encode_reply,
    encode_request, Body, Completion, LocateStatus, Message, Reply, ReplyStatus, Request, RequestHeader,
    ServiceContext, SystemException, Target,
};

use crate::DecodeError;

/// The largest message sister accepts by default (after reassembly): 2 MiB, omniORB's default
/// `giopMaxMsgSize`. A larger size is refused before its body is awaited.
pub const DEFAULT_MAX_SIZE: usize = 2 * 1024 * 1024;

/// Every object's own operations (§15.4.2.1): `_is_a` (what `_narrow` asks), `_non_existent`.
pub const IS_A: &str = "_is_a";
pub const NON_EXISTENT: &str = "_non_existent";
/// The type every CORBA object has (`_is_a` of it is always true).
pub const OBJECT_TYPE_ID: &str = "IDL:omg.org/CORBA/Object:1.0";

/// One decoded message and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub header: Header,
    pub message: Message,
}

/// The length of the message at the front of `buf` (12 + its size), once all of it is there.
pub fn frame_len(buf: &[u8], max_size: usize) -> Result<usize, DecodeError> {
    let header = Header::decode(buf)?;
    let size = header.size as usize;
    if size > max_size {
        return Err(DecodeError::invalid(format!(
            "a {size}-byte message is larger than the limit of {max_size} bytes"
        )));
    }
    let total = HEADER_SIZE + size;
    if buf.len() < total {
        return Err(DecodeError::needs(total - buf.len()));
    }
    Ok(total)
}

/// Decodes the message at the front of `buf` as it is (a Fragment stays a Fragment); returns it and
/// the bytes it used.
pub fn decode(buf: &[u8], max_size: usize) -> Result<(Decoded, usize), DecodeError> {
    let len = frame_len(buf, max_size)?;
    Ok((decode_message(&buf[..len])?, len))
}

/// Decodes one whole message (its header and exactly its body).
pub fn decode_message(msg: &[u8]) -> Result<Decoded, DecodeError> {
    let header = Header::decode(msg)?;
    if msg.len() != HEADER_SIZE + header.size as usize {
        return Err(DecodeError::invalid(format!(
            "the header says {} bytes of body but {} are given",
            header.size,
            msg.len().saturating_sub(HEADER_SIZE)
        )));
    }
    let message = Message::decode(&header, msg)?;
    Ok(Decoded { header, message })
}

/// How many messages may be half-received at once on one connection (GIOP 1.2 interleaves
/// fragments of different requests); more is refused rather than remembered without bound.
const MAX_PENDING: usize = 64;

/// Joins Fragments to the message they continue (§15.4.9).
///
/// A message whose header has the more-fragments bit is followed by Fragment messages, the last one
/// without the bit. In GIOP 1.1 they simply follow; in 1.2 each Fragment starts with the request id
/// of its message, so fragments of several messages may interleave. The joined message is the first
/// header (its size and flag rewritten) and the bodies one after the other: CDR alignment continues
/// across the pieces as if they had never been cut, which is why 1.2 wants every piece but the last
/// to be a multiple of 8 bytes.
#[derive(Debug, Default)]
pub struct Reassembler {
    max_size: usize,
    pending_1_1: Option<Vec<u8>>,
    pending_1_2: Vec<(u32, Vec<u8>)>,
}

impl Reassembler {
    pub fn new(max_size: usize) -> Self {
        Reassembler {
            max_size,
            ..Default::default()
        }
    }

    /// Is a fragmented message waiting for its last Fragment?
    pub fn is_pending(&self) -> bool {
        self.pending_1_1.is_some() || !self.pending_1_2.is_empty()
    }

    /// Takes one framed message (as [`frame_len`] cut it). Returns the whole message when `frame`
    /// completes one (`frame` itself when it was never cut), None while fragments are missing.
    pub fn push<'a>(&mut self, frame: &'a [u8]) -> Result<Option<Cow<'a, [u8]>>, DecodeError> {
        let header = Header::decode(frame)?;
        let body = &frame[HEADER_SIZE.min(frame.len())..];
        let first_ulong = |b: &[u8]| -> Option<u32> {
            let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
            Some(if header.little_endian {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            })
        };
        if header.message_type == MessageType::Fragment {
            let (whole, piece) = if header.version.is_1_2_or_later() {
                let id = first_ulong(body)
                    .ok_or_else(|| DecodeError::invalid("a Fragment without its request id"))?;
                let i = self
                    .pending_1_2
                    .iter()
                    .position(|(p, _)| *p == id)
                    .ok_or_else(|| {
                        DecodeError::invalid(format!(
                            "a Fragment of request {id}, which has no message before it"
                        ))
                    })?;
                if header.more_fragments {
                    (&mut self.pending_1_2[i].1, &body[4..])
                } else {
                    let (_, mut whole) = self.pending_1_2.swap_remove(i);
                    self.append(&mut whole, &body[4..])?;
                    return Ok(Some(Cow::Owned(finish(whole))));
                }
            } else {
                let Some(whole) = self.pending_1_1.as_mut() else {
                    return Err(DecodeError::invalid(
                        "a Fragment with no message before it (§15.4.9)",
                    ));
                };
                if !header.more_fragments {
                    let mut whole = self.pending_1_1.take().unwrap_or_default();
                    self.append(&mut whole, body)?;
                    return Ok(Some(Cow::Owned(finish(whole))));
                }
                (whole, body)
            };
            if whole.len() + piece.len() > self.max_size + HEADER_SIZE {
                // The message is given up whole: were it kept, a later, smaller Fragment would be
                // joined to it with this piece missing.
                if header.version.is_1_2_or_later() {
                    self.pending_1_2.retain(|(p, _)| Some(*p) != first_ulong(body));
                } else {
                    self.pending_1_1 = None;
                }
                return Err(too_big(self.max_size));
            }
            whole.extend_from_slice(piece);
            return Ok(None);
        }
        if !header.more_fragments {
            return Ok(Some(Cow::Borrowed(frame)));
        }
        if header.version.is_1_2_or_later() {
            let id = first_ulong(body)
                .ok_or_else(|| DecodeError::invalid("a fragmented message without a request id"))?;
            if self.pending_1_2.len() >= MAX_PENDING {
                return Err(DecodeError::invalid(format!(
                    "more than {MAX_PENDING} fragmented messages at once"
                )));
            }
            self.pending_1_2.retain(|(p, _)| *p != id);
            self.pending_1_2.push((id, frame.to_vec()));
        } else {
            self.pending_1_1 = Some(frame.to_vec());
        }
        Ok(None)
    }

    fn append(&self, whole: &mut Vec<u8>, piece: &[u8]) -> Result<(), DecodeError> {
        if whole.len() + piece.len() > self.max_size + HEADER_SIZE {
            return Err(too_big(self.max_size));
        }
        whole.extend_from_slice(piece);
        Ok(())
    }
}

fn too_big(max: usize) -> DecodeError {
    DecodeError::invalid(format!(
        "a fragmented message grows past the limit of {max} bytes"
    ))
}

/// The first header with the more-fragments bit cleared and the joined size.
fn finish(mut whole: Vec<u8>) -> Vec<u8> {
    let little = whole[6] & 1 == 1;
    whole[6] &= !2;
    let size = (whole.len() - HEADER_SIZE) as u32;
    let size = if little {
        size.to_le_bytes()
    } else {
        size.to_be_bytes()
    };
    whole[8..12].copy_from_slice(&size);
    whole
}

/// Does `buf` start like a GIOP message? (The analyzer's test for "this stream is GIOP", any port.)
pub fn sniff(buf: &[u8]) -> bool {
    buf.len() >= 8 && buf[..4] == MAGIC && buf[4] == 1 && buf[5] <= 3 && buf[6] <= 3 && buf[7] <= 7
}

/// Runs every decoder over arbitrary bytes, as a stream: the fuzz target's body and the tests'
/// mutation loop. Nothing may panic, loop or allocate without bound.
pub fn exercise(data: &[u8]) {
    let mut reassembler = Reassembler::new(64 * 1024);
    let mut rest = data;
    while let Ok(len) = frame_len(rest, 64 * 1024) {
        if let Ok(Some(whole)) = reassembler.push(&rest[..len]) {
            if let Ok(d) = decode_message(&whole) {
                if let Message::Request(r) = &d.message {
                    let _ = naming::describe_request(&r.operation, &mut r.body.reader());
                }
                if let Message::Reply(r) = &d.message {
                    let _ = (r.exception_id(), r.system_exception(), r.forward());
                    let _ =
                        Ior::read(&mut r.body.reader()).map(|i| (naming::describe_ior(&i), i.to_string()));
                }
            }
        }
        rest = &rest[len..];
    }
    let text = String::from_utf8_lossy(data);
    let _ = ObjectUrl::parse(&text);
    let _ = naming::string_to_name(&text);
    let mut r = Reader::new(data, data.first().is_some_and(|b| b & 1 == 1));
    let _ = naming::read_name(&mut r);
    if let Ok(mut r) = Reader::encapsulation(data) {
        if let Ok(ior) = Ior::read(&mut r) {
            let _ = ior.iiop_profile().map(|p| p.map(|p| p.char_codeset()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message::RequestHeader;
    use super::*;
    use crate::testing::XorShift;

    fn hello(version: Version, le: bool, id: u32) -> Vec<u8> {
        let h = RequestHeader {
            request_id: id,
            response_expected: true,
            object_key: b"Hello",
            operation: "sayHello",
            service_contexts: &[],
        };
        encode_request(version, le, &h, |_| {})
    }

    #[test]
    fn a_stream_is_cut_into_messages() {
        let mut stream = hello(GIOP_1_0, false, 1);
        stream.extend(hello(GIOP_1_2, true, 2));
        let (d, used) = decode(&stream, DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(d.header.version, GIOP_1_0);
        let (d2, used2) = decode(&stream[used..], DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(d2.message.request_id(), Some(2));
        assert_eq!(used + used2, stream.len());
        assert!(decode(&stream[..used - 1], DEFAULT_MAX_SIZE)
            .unwrap_err()
            .is_incomplete());
        assert!(sniff(&stream));
        assert!(!sniff(b"IceP\x01\x00\x01\x00"));
        let mut big = stream.clone();
        big[8..12].copy_from_slice(&[0, 0x40, 0, 0]);
        assert!(frame_len(&big, DEFAULT_MAX_SIZE)
            .unwrap_err()
            .to_string()
            .contains("limit"));
    }

    /// Cuts `whole` (a 1.2 or 1.1 message) into a first piece and Fragments of `piece` body bytes.
    fn fragment(whole: &[u8], piece: usize) -> Vec<Vec<u8>> {
        let h = Header::decode(whole).unwrap();
        let body = &whole[HEADER_SIZE..];
        let id = &body[..4];
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = body.chunks(piece).collect();
        for (i, c) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let mut hd = Header {
                more_fragments: !last,
                size: 0,
                ..h
            };
            let mut m = Vec::new();
            let mut data = Vec::new();
            if i > 0 {
                hd.message_type = MessageType::Fragment;
                if h.version.is_1_2_or_later() {
                    data.extend_from_slice(id);
                }
            }
            data.extend_from_slice(c);
            hd.size = data.len() as u32;
            hd.encode(&mut m);
            m.extend(data);
            out.push(m);
        }
        out
    }

    #[test]
    fn fragments_are_joined_in_1_1_and_1_2() {
        for v in [GIOP_1_1, GIOP_1_2] {
            let long = "x".repeat(100);
            let h = RequestHeader {
                request_id: 42,
                response_expected: true,
                object_key: b"NameService",
                operation: "resolve_str",
                service_contexts: &[],
            };
            let whole = encode_request(v, true, &h, |w| w.string(&long));
            let pieces = fragment(&whole, 32);
            assert!(pieces.len() > 2);
            let mut r = Reassembler::new(DEFAULT_MAX_SIZE);
            let mut got = None;
            for p in &pieces {
                assert_eq!(frame_len(p, DEFAULT_MAX_SIZE).unwrap(), p.len());
                if let Some(w) = r.push(p).unwrap() {
                    got = Some(w.into_owned());
                }
            }
            assert_eq!(got.as_deref(), Some(&whole[..]), "GIOP {v}");
            assert!(!r.is_pending());
            let Message::Request(req) = decode_message(&whole).unwrap().message else {
                panic!()
            };
            assert_eq!(req.body.reader().string("arg").unwrap(), long);
        }
        let mut r = Reassembler::new(DEFAULT_MAX_SIZE);
        let orphan = fragment(&hello(GIOP_1_2, true, 3), 8).pop().unwrap();
        assert!(r.push(&orphan).is_err());
    }

    /// Every message omniORB 4.2 sent in the captures of testdata/corba (both directions of every
    /// connection, as `sister analyze --streams` wrote them into testdata/fuzz/giop) decodes, and
    /// there are as many as tshark's `giop` counts: 15 + 8 + 12 + 12.
    #[test]
    fn every_message_of_the_omniorb_captures_decodes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/giop");
        let mut total = 0;
        let mut operations = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mut rest = &bytes[..];
            let mut r = Reassembler::new(DEFAULT_MAX_SIZE);
            while !rest.is_empty() {
                let len =
                    frame_len(rest, DEFAULT_MAX_SIZE).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let whole = r
                    .push(&rest[..len])
                    .unwrap()
                    .expect("omniORB sent no fragments here");
                let d = decode_message(&whole).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if let Message::Request(req) = &d.message {
                    operations.insert(req.operation.clone());
                }
                if let Message::Reply(rep) = &d.message {
                    assert!(matches!(
                        rep.status,
                        ReplyStatus::NoException | ReplyStatus::UserException
                    ));
                }
                total += 1;
                rest = &rest[len..];
            }
        }
        assert_eq!(total, 47);
        let want: std::collections::BTreeSet<String> = ["_is_a", "rebind", "resolve_str", "sayHello"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(operations, want);
    }

    #[test]
    fn a_message_that_grows_too_large_is_given_up_whole() {
        for v in [GIOP_1_1, GIOP_1_2] {
            let h = RequestHeader {
                request_id: 9,
                response_expected: true,
                object_key: b"Hello",
                operation: "echo",
                service_contexts: &[],
            };
            let whole = encode_request(v, true, &h, |w| w.string(&"x".repeat(200)));
            let pieces = fragment(&whole, 64);
            let mut r = Reassembler::new(100);
            assert_eq!(r.push(&pieces[0]).unwrap(), None);
            assert!(r.push(&pieces[1]).is_err(), "GIOP {v}: past the limit");
            // Nothing of it is kept: the next pieces are orphans, not joined to a message with a
            // piece missing.
            assert!(!r.is_pending(), "GIOP {v}");
            assert!(r.push(pieces.last().unwrap()).is_err(), "GIOP {v}");
        }
    }

    #[test]
    fn no_mutation_panics() {
        let mut seeds = vec![hello(GIOP_1_0, true, 1), hello(GIOP_1_2, false, 2)];
        seeds.extend(fragment(&hello(GIOP_1_2, true, 5), 16));
        seeds.push(encode_reply(
            GIOP_1_2,
            true,
            2,
            ReplyStatus::SystemException,
            &[],
            |w| SystemException::new("TRANSIENT", 2, Completion::No).write(w),
        ));
        let mut rng = XorShift(0x5eed_c0ba);
        for _ in 0..20_000 {
            let seed = &seeds[(rng.next() % seeds.len() as u64) as usize];
            let mut m = seed.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % m.len() as u64) as usize;
                m[i] = rng.next() as u8;
            }
            if rng.next() % 4 == 0 {
                m.truncate((rng.next() % m.len() as u64) as usize);
            }
            exercise(&m);
        }
    }
}
