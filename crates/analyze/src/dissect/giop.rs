//! CORBA's GIOP over TCP (IIOP, GIOP 1.0 to 1.2), read with the lab's own codec ([`wire::giop`], the
//! one sister's CORBA naming service, server and client use). tshark's `giop` dissector reads the same
//! messages, and the tests check that both count the same number of them.
//!
//! A connection, as the course's Hello program shows it (CORBA 3.0 §15.5: the client opens the
//! connection and sends the Requests, the server answers each with a Reply carrying the same
//! request id):
//!
//! ```text
//!   client                                               naming service (port 2809)
//!     Request #1 NameService._is_a("IDL:omg.org/CosNaming/NamingContextExt:1.0")  ──►
//!     ◄── Reply #1 NO_EXCEPTION true
//!     Request #2 NameService.resolve_str("Hello")  ──►
//!     ◄── Reply #2 NO_EXCEPTION IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123   (an IOR, §13.6.2)
//!   client                                               Hello server (port 40123)
//!     Request #3 <object key>._is_a("IDL:HelloApp/Hello:1.0")                      ──►
//!     ◄── Reply #3 NO_EXCEPTION true
//!     Request #4 <object key>.sayHello()  ──►
//!     ◄── Reply #4 NO_EXCEPTION "Hello from CORBA Server!"
//!     ◄── CloseConnection (a server that shuts down says so, §15.4.7), then FIN
//! ```
//!
//! What to notice:
//! - GIOP is *self-framing*: every message starts with the 12-byte header (§15.4.1: magic `GIOP`,
//!   version, flags, type, size), so sister finds it on any port, in whichever direction speaks first.
//! - The operation name and the object key travel as they are (`sayHello`, `NameService`); the
//!   arguments and results are bare CDR (§15.3), which only the IDL gives meaning. sister shows them
//!   when it can: the CosNaming operations and every object's `_is_a` and `_non_existent` have fixed
//!   types ([`wire::giop::naming`]); a reply is read with the operation of the request it answers
//!   (matched by request id, per connection); anything else is shown as strings when it reads as
//!   nothing but strings (a guess), otherwise by its size.
//! - Either side writes in its own byte order (flags bit 0) and the reader swaps ("receiver makes
//!   right", §15.3.1.1); the `byte_order` field says which.
//! - A long message may be cut into Fragments (§15.4.9, GIOP 1.1 and later): the first piece is the
//!   message's own header with the more-fragments bit, each Fragment continues it (in 1.2 naming the
//!   request id). Like tshark, sister shows each piece as a message and reads the whole one where its
//!   last Fragment completes it (`Fragment #5 (last of 3: Request #5 Hello.echo("…"))`).
//!
//! Per direction: messages back to back. A body that breaks the rules is shown as malformed and the
//! next message is found from the header's size. A header that breaks them (no magic, a version past
//! 1.3), a capture that starts inside a message, and lost bytes all end the same way tshark's does:
//! nothing is read until a segment starts with a GIOP header again (a message may start anywhere
//! inside a segment, so only a segment's first bytes are a safe place to look).
//!
//! JSON fields of every message: `type` (the message type as §15.4 and tshark name it),
//! `giop_version`, `byte_order` (`big-endian`, `little-endian`), `size` (bytes after the header), and
//! as each type has them: `request_id`; `object` (the key as shown) and `object_key` (the key as
//! corbaloc spells it, `%xx` for bytes that are not text); `operation`; `response_expected`
//! (`true`/`false`) and `oneway` (`true` when no reply is expected); `response_flags` (1.2's octet:
//! 3 a normal call, 1 reply on receipt, 0 oneway; 1.0 and 1.1's boolean reads as 3 or 0);
//! `service_contexts` (their names); `arguments` / `results` (when read); `name` and `bound_to`
//! (CosNaming), `ior_type`, `ior_host`, `ior_port`, `ior_key` (where an IOR sent or returned points);
//! `reply_status` and `locate_status` (the names of §15.4.3.1 and §15.4.6.1); `exception` (the
//! repository id), `minor` and `completed` (system exceptions); `forward` (LOCATION_FORWARD's IOR,
//! described); for fragments `more_fragments`, and on the last one `fragments` (how many pieces),
//! `reassembled` (the joined size), `reassembled_type` and the joined message's fields;
//! `not_reassembled` (why not); `error` for a message that could not be read.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use wire::giop::ior::{key_is_printable, key_to_string};
use wire::giop::message::{service_context_name, LocateReply, LocateRequest};
use wire::giop::naming::{self, NOT_FOUND_ID};
use wire::giop::{
    Header, Ior, LocateStatus, Message, MessageType, Reader, Reassembler, Reply, ReplyStatus, Request,
    Version, HEADER_SIZE, MAGIC,
};
use wire::DecodeError;

use super::{bytes_text, cut, quoted, reason, Dissector, Messages, Msg, Note, Step};
use crate::report::Direction;

/// The protocol's name in the report (tshark's Protocol column says the same).
const PROTOCOL: &str = "GIOP";
/// The largest GIOP message held while waiting for its last byte, and the most bytes of fragmented
/// messages held per direction while their last Fragment is awaited. omniORB refuses messages over
/// 2 MiB by default (`giopMaxMsgSize`), which a program may raise. Larger messages are counted and
/// skipped.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;
/// At most this many requests wait for their reply (a flood of unanswered requests is not kept).
const MAX_PENDING: usize = 4096;
/// At most this many fragmented messages are followed at once per direction (the codec's
/// [`Reassembler`] holds no more either).
const MAX_FRAGMENTED: usize = 64;
/// At most this many notes (broken headers, skipped starts) per conversation.
const MAX_NOTES: usize = 16;
/// Strings read from arguments or results that have no known type, at most.
const MAX_STRINGS: usize = 8;
/// Object keys are shown up to this many characters (binary keys in the `%xx` form are long).
const KEY_SHOWN: usize = 32;
/// Bytes of a binary object key shown (in hex).
const KEY_HEX_SHOWN: usize = 8;

fn side_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

/// True when `b` may be the start of a GIOP message: the magic `GIOP`, or a prefix of it (wait for
/// more bytes).
pub fn maybe_giop(b: &[u8]) -> bool {
    let n = b.len().min(MAGIC.len());
    !b.is_empty() && b[..n] == MAGIC[..n]
}

/// Does this segment start with a GIOP header (or, when shorter than a header's first 8 bytes, with
/// the beginning of one)?
fn starts_like_giop(b: &[u8]) -> bool {
    if b.len() >= 8 {
        wire::giop::sniff(b)
    } else {
        maybe_giop(b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Waiting for a segment that starts with a GIOP header: the direction's start (a capture that
    /// began mid-message), after bytes were lost, or after a header that broke the rules.
    #[default]
    Seeking,
    /// Reading messages back to back.
    Reading,
}

/// A fragmented message (§15.4.9) whose last Fragment has not come yet.
struct Fragmented {
    /// GIOP 1.2: the request id every Fragment repeats; 1.1 (`None`): its Fragments simply follow.
    key: Option<u32>,
    /// The first piece's message type and request id.
    kind: MessageType,
    request_id: Option<u32>,
    /// The operation of the request (for a Reply: of the request it answers), when known.
    operation: Option<String>,
    /// Was the message's header read from the first piece (and the request it makes, or the one it
    /// answers, taken into account there)? If the header did not fit, the last Fragment does it, and
    /// counts the call.
    header_read: bool,
    /// Pieces seen and bytes handed to the reassembler so far.
    pieces: u32,
    bytes: usize,
    /// Why the message is not being reassembled (then its pieces are only counted).
    dropped: Option<String>,
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
    /// Said once: the direction did not start with a GIOP header.
    told_seeking: bool,
    /// Bytes were lost (or the start was skipped): replies to this direction's requests may be gone.
    lossy: bool,
    /// The version of the last message shown in the summary (shown again when it changes).
    version: Option<Version>,
    /// Fragments: the codec's joiner, and what sister knows of each message it is joining.
    reassembler: Reassembler,
    fragmented: Vec<Fragmented>,
}

impl Half {
    fn new() -> Self {
        Half {
            reassembler: Reassembler::new(MAX_MESSAGE),
            ..Half::default()
        }
    }
}

/// What a request that waits for its answer was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// A Request, answered by a Reply.
    Request,
    /// A LocateRequest, answered by a LocateReply.
    Locate,
}

/// A request waiting for its reply.
struct Pending {
    /// The direction the request went.
    dir: Direction,
    asked: Asked,
    id: u32,
    t: f64,
    operation: String,
    summary: String,
}

/// The dissector of one GIOP connection.
pub struct Giop {
    halves: [Half; 2],
    pending: VecDeque<Pending>,
    /// Broken headers and skipped starts, reported at the end (at most [`MAX_NOTES`]).
    notes: Vec<Note>,
}

impl Default for Giop {
    fn default() -> Self {
        Giop::new()
    }
}

/// How one GIOP message (one header and its body) stands with respect to fragmentation.
enum Piece {
    /// A message that was never cut: read as it is.
    Whole(Result<Message, DecodeError>),
    /// The first piece of a fragmented message (its header has the more-fragments bit): what its
    /// own bytes say (the message's header, usually; the arguments only in part).
    First(Result<Message, DecodeError>),
    /// A Fragment in the middle (more follow).
    Middle { key: Option<u32> },
    /// The last Fragment: the whole message joined, or why it could not be.
    Last {
        key: Option<u32>,
        joined: Result<Message, DecodeError>,
        pieces: u32,
        size: usize,
    },
    /// A Fragment whose message was not seen from its start, or is not being joined (`why`).
    Stray { key: Option<u32>, why: String },
}

impl Giop {
    pub fn new() -> Self {
        Giop {
            halves: [Half::new(), Half::new()],
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
                    // tshark stops there too, and looks again at the next segment's start.
                    h.state = State::Seeking;
                    h.lossy = true;
                    notes.push(Note::Malformed {
                        t,
                        what: format!(
                            "GIOP from the {} at stream offset {}: {}; skipped up to the next segment that \
                             starts with a GIOP header",
                            side_name(dir),
                            h.offset,
                            reason(&e)
                        ),
                    });
                    return input.len();
                }
            };
            let size = header.size as usize;
            let len = HEADER_SIZE + size;
            let start = h.offset;
            if size > MAX_MESSAGE {
                // Counted (tshark counts it too) but not held: its bytes are dropped as they come.
                let have = rest.len().min(len);
                h.skip = (len - have) as u64;
                h.offset += len as u64;
                self.too_large(dir, t, start, &header, out);
                used += have;
                continue;
            }
            if rest.len() < len {
                return used;
            }
            h.offset += len as u64;
            self.message(dir, t, start, &header, &rest[..len], out);
            used += len;
        }
    }

    fn too_large(&mut self, dir: Direction, t: f64, offset: u64, header: &Header, out: &mut Messages) {
        if !out.wants_detail() {
            out.count(dir, PROTOCOL, None);
            return;
        }
        let kind = type_name(header.message_type);
        out.push(msg(
            dir,
            t,
            offset,
            (HEADER_SIZE as u64) + u64::from(header.size),
            format!(
                "{kind} of {} bytes (not decoded: larger than the {} MiB sister holds)",
                header.size,
                MAX_MESSAGE >> 20
            ),
            header_fields(header),
        ));
    }

    /// Where one message stands with respect to fragmentation (§15.4.9), the codec's
    /// [`Reassembler`] joining the pieces.
    fn piece(&mut self, dir: Direction, header: &Header, frame: &[u8]) -> Piece {
        let h = &mut self.halves[dir.index()];
        let fragment = header.message_type == MessageType::Fragment && header.version.minor >= 1;
        if !fragment && !header.more_fragments {
            return Piece::Whole(wire::giop::decode_message(frame).map(|d| d.message));
        }
        let body = &frame[HEADER_SIZE..];
        // GIOP 1.2 names the message a Fragment continues by its request id, the first ulong of the
        // Fragment's body (and of the first piece's, where every 1.2 header starts with it).
        let key = if header.version.is_1_2_or_later() {
            match body.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                Some(b) if header.little_endian => Some(u32::from_le_bytes(b)),
                Some(b) => Some(u32::from_be_bytes(b)),
                None => {
                    let e = DecodeError::invalid("a fragmented GIOP 1.2 message without its request id");
                    return if fragment {
                        Piece::Whole(Err(e))
                    } else {
                        Piece::First(Err(e))
                    };
                }
            }
        } else {
            None
        };
        if !fragment {
            // The first piece: its own bytes decode as a (short) message of its type.
            let first = wire::giop::decode_message(frame).map(|d| d.message);
            // A message of the same key (or, in 1.1, any unfinished one) is given up: the codec
            // forgets it too.
            h.fragmented.retain(|m| m.key != key);
            let mut entry = Fragmented {
                key,
                kind: header.message_type,
                request_id: first.as_ref().ok().and_then(Message::request_id).or(key),
                operation: None,
                header_read: false,
                pieces: 1,
                bytes: frame.len(),
                dropped: None,
            };
            let held: usize = h.fragmented.iter().map(|m| m.bytes).sum();
            if h.fragmented.len() >= MAX_FRAGMENTED {
                entry.dropped = Some(format!("more than {MAX_FRAGMENTED} fragmented messages at once"));
            } else if held + frame.len() > MAX_MESSAGE {
                entry.dropped = Some(format!(
                    "fragmented messages past the {} MiB sister holds",
                    MAX_MESSAGE >> 20
                ));
            } else if let Err(e) = h.reassembler.push(frame) {
                entry.dropped = Some(reason(&e));
            }
            if entry.dropped.is_some() {
                entry.bytes = 0;
            }
            h.fragmented.push(entry);
            return Piece::First(first);
        }
        let Some(i) = h.fragmented.iter().position(|m| m.key == key) else {
            return Piece::Stray {
                key,
                why: "its message began before the capture or was not read".into(),
            };
        };
        let last = !header.more_fragments;
        let entry = &mut h.fragmented[i];
        entry.pieces += 1;
        if let Some(why) = entry.dropped.clone() {
            if last {
                // Handed over all the same, so that the codec lets go of what it holds of it; what it
                // joins lacks pieces and is not read.
                let _ = h.reassembler.push(frame);
                h.fragmented.swap_remove(i);
            }
            return Piece::Stray { key, why };
        }
        let held: usize = h.fragmented.iter().map(|m| m.bytes).sum();
        if !last && held + frame.len() > MAX_MESSAGE {
            let entry = &mut h.fragmented[i];
            entry.dropped = Some(format!(
                "fragmented messages past the {} MiB sister holds",
                MAX_MESSAGE >> 20
            ));
            return Piece::Stray {
                key,
                why: entry.dropped.clone().unwrap_or_default(),
            };
        }
        h.fragmented[i].bytes += frame.len();
        let pieces = h.fragmented[i].pieces;
        match h.reassembler.push(frame) {
            Ok(None) => Piece::Middle { key },
            Ok(Some(whole)) => {
                let size = whole.len();
                let joined = wire::giop::decode_message(&whole).map(|d| d.message);
                Piece::Last {
                    key,
                    joined,
                    pieces,
                    size,
                }
            }
            Err(e) => {
                // The codec gave the message up (it grew past the limit): its last pieces are
                // only counted.
                let why = reason(&e);
                if last {
                    h.fragmented.swap_remove(i);
                } else {
                    h.fragmented[i].dropped = Some(why.clone());
                    h.fragmented[i].bytes = 0;
                }
                Piece::Stray { key, why }
            }
        }
    }

    /// One whole message: where it stands (fragments), what it changes (requests waiting, the
    /// connection's closing), then its line in the report.
    fn message(
        &mut self,
        dir: Direction,
        t: f64,
        offset: u64,
        header: &Header,
        frame: &[u8],
        out: &mut Messages,
    ) {
        let piece = self.piece(dir, header, frame);
        // The message whose meaning counts now: the message itself, the first piece of a fragmented
        // one (its header), or the whole one a last Fragment completes (read once more, for what
        // the first piece could not say).
        let (decoded, completes) = match &piece {
            Piece::Whole(Ok(m)) | Piece::First(Ok(m)) => (Some(m), false),
            Piece::Last { joined: Ok(m), .. } => (Some(m), true),
            _ => (None, false),
        };
        // What every message changes, kept or only counted.
        let mut answered: Option<Pending> = None;
        let mut call: Option<String> = None;
        if let Some(m) = decoded {
            let first_seen = !completes || {
                // A last Fragment completes what its first piece may not have told.
                let f = self.fragment_entry(dir, &piece);
                f.is_none_or(|f| !f.header_read)
            };
            match m {
                Message::Request(req) if first_seen => {
                    if req.response_expected() {
                        self.wait_for(dir, Asked::Request, req.request_id, t, &req.operation);
                    }
                    call = Some(req.operation.clone());
                }
                Message::LocateRequest(l) if first_seen => {
                    self.wait_for(dir, Asked::Locate, l.request_id, t, "");
                }
                Message::Reply(r) if first_seen => {
                    answered = self.answer(dir, Asked::Request, r.request_id);
                }
                Message::LocateReply(l) if first_seen => {
                    answered = self.answer(dir, Asked::Locate, l.request_id);
                }
                Message::CancelRequest { request_id } => {
                    // "I no longer want the reply" (§15.4.4): a reply may still come, or none.
                    answered = self.answer(dir.reverse(), Asked::Request, *request_id);
                }
                Message::CloseConnection => {
                    out.closed_by.get_or_insert(Step {
                        t,
                        direction: dir,
                        message: "CloseConnection",
                    });
                }
                _ => {}
            }
        }
        // A fragmented message remembers what its first piece said, for its last Fragment.
        let mut known_operation = answered.as_ref().map(|p| p.operation.clone());
        if let (Piece::First(_), Some(m)) = (&piece, decoded) {
            let op = match m {
                Message::Request(r) => Some(r.operation.clone()),
                _ => known_operation.clone(),
            };
            if let Some(f) = self.halves[dir.index()].fragmented.last_mut() {
                f.header_read = true;
                f.operation = op;
            }
        }
        let fragment_info = match &piece {
            Piece::Middle { .. } | Piece::Last { .. } | Piece::Stray { .. } => {
                let f = self.fragment_entry(dir, &piece);
                let info = f.map(|f| (f.kind, f.request_id, f.operation.clone()));
                if let Piece::Last { key, .. } = &piece {
                    let key = *key;
                    self.halves[dir.index()].fragmented.retain(|f| f.key != key);
                }
                info
            }
            _ => None,
        };
        if known_operation.is_none() {
            known_operation = fragment_info.as_ref().and_then(|f| f.2.clone());
        }
        // The version is shown when it is new in this direction.
        let h = &mut self.halves[dir.index()];
        let show_version = h.version != Some(header.version);
        h.version = Some(header.version);
        if !out.wants_detail() {
            match &call {
                Some(op) => out.count(dir, PROTOCOL, Some(format_args!("call of {op}"))),
                None => out.count(dir, PROTOCOL, None),
            }
            return;
        }
        let mut f = header_fields(header);
        let ver = if show_version {
            format!(" GIOP {}", header.version)
        } else {
            String::new()
        };
        let len = frame.len() as u64;
        let summary = match piece {
            Piece::Whole(Ok(m)) => {
                let s = line(&m, &ver, known_operation.as_deref(), &mut f);
                self.remember_summary(dir, &m, &s);
                s
            }
            Piece::Whole(Err(e)) => {
                // The header's size still says where the next message starts.
                let why = reason(&e);
                f.insert("error".into(), why.clone());
                format!("malformed {}{ver}: {why}", type_name(header.message_type))
            }
            Piece::First(Ok(mut m)) => {
                f.insert("more_fragments".into(), "true".into());
                if let Message::Reply(r) = &mut m {
                    if r.status == ReplyStatus::NoException {
                        // Its result is cut with the message: the last Fragment shows it.
                        r.body.bytes.clear();
                    }
                }
                let s = line(&m, &ver, known_operation.as_deref(), &mut f);
                self.remember_summary(dir, &m, &s);
                // Arguments or results are cut with the message: what was read of them is not all.
                f.remove("arguments");
                f.remove("results");
                format!("{} [first fragment, more follow]", cut_args(&s))
            }
            Piece::First(Err(e)) => {
                f.insert("more_fragments".into(), "true".into());
                f.insert("error".into(), reason(&e));
                let id = frame_request_id(header, frame)
                    .map(|id| format!(" #{id}"))
                    .unwrap_or_default();
                format!(
                    "{}{id}{ver} [first fragment, more follow; its header does not fit in it: {}]",
                    type_name(header.message_type),
                    reason(&e)
                )
            }
            Piece::Middle { key } => {
                f.insert("more_fragments".into(), "true".into());
                format!("Fragment{}{ver} [more follow]", key_text(key))
            }
            Piece::Last {
                key,
                joined,
                pieces,
                size,
            } => {
                f.insert("fragments".into(), pieces.to_string());
                f.insert("reassembled".into(), size.to_string());
                match joined {
                    Ok(m) => {
                        // The whole message's fields are the ones worth having; its type stays
                        // Fragment (this message is one), the joined message's in `reassembled_type`.
                        let mut g = BTreeMap::new();
                        let s = line(&m, "", known_operation.as_deref(), &mut g);
                        for (k, v) in g {
                            if k != "type" {
                                f.entry(k).or_insert(v);
                            }
                        }
                        f.insert("reassembled_type".into(), m.message_type().name().to_string());
                        if let Some(op) = call.as_ref() {
                            f.insert("call".into(), op.clone());
                        }
                        self.remember_summary(dir, &m, &s);
                        format!("Fragment{}{ver} (last of {pieces}: {s})", key_text(key))
                    }
                    Err(e) => {
                        let why = reason(&e);
                        f.insert("error".into(), why.clone());
                        format!(
                            "Fragment{}{ver} (last of {pieces}; the joined {} does not read: {why})",
                            key_text(key),
                            fragment_info.as_ref().map_or("message", |f| type_name(f.0))
                        )
                    }
                }
            }
            Piece::Stray { key, why } => {
                if header.more_fragments {
                    f.insert("more_fragments".into(), "true".into());
                }
                f.insert("not_reassembled".into(), why.clone());
                format!("Fragment{}{ver} (not joined: {why})", key_text(key))
            }
        };
        if let Some(id) = f
            .get("request_id")
            .cloned()
            .or_else(|| fragment_info.as_ref().and_then(|i| i.1).map(|id| id.to_string()))
        {
            f.insert("request_id".into(), id);
        }
        out.push(msg(dir, t, offset, len, summary, f));
    }

    /// What sister knows of the fragmented message a Fragment belongs to.
    fn fragment_entry(&self, dir: Direction, piece: &Piece) -> Option<&Fragmented> {
        let key = match piece {
            Piece::Middle { key } | Piece::Last { key, .. } | Piece::Stray { key, .. } => *key,
            _ => return None,
        };
        self.halves[dir.index()].fragmented.iter().find(|f| f.key == key)
    }

    fn wait_for(&mut self, dir: Direction, asked: Asked, id: u32, t: f64, operation: &str) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            dir,
            asked,
            id,
            t,
            operation: operation.to_string(),
            summary: String::new(),
        });
    }

    /// The request a reply travelling `dir` answers (it went the other way, with the same id).
    fn answer(&mut self, dir: Direction, asked: Asked, id: u32) -> Option<Pending> {
        let i = self
            .pending
            .iter()
            .position(|p| p.dir != dir && p.asked == asked && p.id == id)?;
        self.pending.remove(i)
    }

    /// The summary of a request still waiting, for the "unanswered" note.
    fn remember_summary(&mut self, dir: Direction, m: &Message, s: &str) {
        let (asked, id) = match m {
            Message::Request(r) => (Asked::Request, r.request_id),
            Message::LocateRequest(l) => (Asked::Locate, l.request_id),
            _ => return,
        };
        if let Some(p) = self
            .pending
            .iter_mut()
            .rev()
            .find(|p| p.dir == dir && p.asked == asked && p.id == id)
        {
            if p.summary.is_empty() {
                p.summary = s.to_string();
            }
        }
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
        if h.skip > 0 {
            let n = (h.skip as usize).min(bytes.len());
            h.skip -= n as u64;
            bytes = &bytes[n..];
            offset += n as u64;
            if bytes.is_empty() {
                return;
            }
        }
        if h.state == State::Seeking {
            if !starts_like_giop(bytes) {
                if !h.told_seeking && offset == 0 {
                    h.told_seeking = true;
                    notes.push(Note::Malformed {
                        t,
                        what: format!(
                            "the {}'s bytes do not start with a GIOP header (the capture began inside a \
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
        if h.state == State::Seeking {
            held.clear();
        }
        h.buf = held;
    }
}

/// The name of a message type as §15.4 and tshark spell it (`message type 9` for others).
fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Unknown(_) => "message",
        t => t.name(),
    }
}

/// The fields every message has: its type and the header's version, byte order and size.
fn header_fields(h: &Header) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let kind = match h.message_type {
        MessageType::Unknown(n) => format!("unknown ({n})"),
        t => t.name().to_string(),
    };
    f.insert("type".to_string(), kind);
    f.insert("giop_version".into(), h.version.to_string());
    f.insert(
        "byte_order".into(),
        if h.little_endian {
            "little-endian"
        } else {
            "big-endian"
        }
        .into(),
    );
    f.insert("size".into(), h.size.to_string());
    f
}

/// ` #5` for a GIOP 1.2 Fragment (which names its request), nothing for 1.1's.
fn key_text(key: Option<u32>) -> String {
    key.map(|k| format!(" #{k}")).unwrap_or_default()
}

/// The request id of a message whose body could not be read, when the layout puts it first (1.2).
fn frame_request_id(h: &Header, frame: &[u8]) -> Option<u32> {
    if !h.version.is_1_2_or_later() {
        return None;
    }
    let b: [u8; 4] = frame.get(HEADER_SIZE..HEADER_SIZE + 4)?.try_into().ok()?;
    Some(if h.little_endian {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// A request line whose arguments were cut with the message: `Hello.echo(…)`.
fn cut_args(s: &str) -> String {
    match (s.find('('), s.rfind(')')) {
        (Some(open), Some(close)) if close > open + 1 => format!("{}…{}", &s[..=open], &s[close..]),
        _ => s.to_string(),
    }
}

/// An object key as the report shows it: as text when it is text (`NameService`, `Hello`); a key
/// mostly made of letters and digits in the `%xx` form corbaloc uses (`%ffMyPOA%00...`), cut to
/// [`KEY_SHOWN`] characters; a binary key (omniORB's transient POA keys: `fe`, a timestamp, the
/// object id) as the hex of its first [`KEY_HEX_SHOWN`] bytes. The whole key is in the `object_key`
/// field either way.
fn key_shown(key: &[u8]) -> String {
    if key.is_empty() {
        return "(empty key)".into();
    }
    if key_is_printable(key) {
        return cut(&wire::escape::show(key), KEY_SHOWN);
    }
    let texty = key.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    if texty * 2 < key.len() {
        let mut hex: String = key
            .iter()
            .take(KEY_HEX_SHOWN)
            .map(|b| format!("{b:02x}"))
            .collect();
        if key.len() > KEY_HEX_SHOWN {
            hex.push('…');
        }
        return hex;
    }
    // Cut between two bytes' spellings, never inside a `%xx`.
    let mut shown = String::new();
    for &b in key {
        let one = key_to_string(&[b]);
        if shown.len() + one.len() > KEY_SHOWN {
            shown.push('…');
            break;
        }
        shown.push_str(&one);
    }
    shown
}

fn key_fields(key: &[u8], f: &mut BTreeMap<String, String>) -> String {
    let shown = key_shown(key);
    f.insert("object".into(), shown.clone());
    f.insert("object_key".into(), cut(&key_to_string(key), 1024));
    shown
}

/// Is this text a person can read (no control characters but line breaks and tabs)?
fn readable(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\n' | '\r' | '\t') || !c.is_control())
}

/// CDR that reads as nothing but strings (a guess: the IDL alone says what the bytes are); `None`
/// when it does not, or holds more than [`MAX_STRINGS`].
fn strings(mut r: Reader) -> Option<Vec<String>> {
    let mut v = Vec::new();
    while !r.is_empty() {
        let s = r.string("a string").ok()?;
        if !readable(&s) || v.len() >= MAX_STRINGS {
            return None;
        }
        v.push(s);
    }
    Some(v)
}

/// Arguments or results with no known type: the strings when they read as strings, otherwise
/// their size, nothing when there are none. Sets `key` when strings were read.
fn values(body: &wire::giop::Body, key: &str, f: &mut BTreeMap<String, String>) -> String {
    if body.bytes.is_empty() {
        return String::new();
    }
    match strings(body.reader()) {
        Some(v) => {
            let shown: Vec<String> = v.iter().map(|s| quoted(s)).collect();
            let shown = shown.join(", ");
            f.insert(key.to_string(), shown.clone());
            shown
        }
        None => bytes_text(body.bytes.len()),
    }
}

/// The CosNaming operations whose argument is a Name or a string name (the Naming Service §2.2 and
/// §2.4), read with [`naming::describe_request`]: `rebind(Hello → IDL:HelloApp/Hello:1.0 at
/// 127.0.0.1:40123)`, `resolve(Hello)`, `resolve_str("Hello")`. The fields get the name, and for the
/// bind operations what it is bound to.
fn naming_arguments(req: &Request, f: &mut BTreeMap<String, String>) -> Option<String> {
    let mut r = req.body.reader();
    let shown = naming::describe_request(&req.operation, &mut r)?;
    if !r.is_empty() {
        return None; // more bytes than the operation takes: not CosNaming's
    }
    let mut r = req.body.reader();
    match req.operation.as_str() {
        "bind" | "rebind" | "bind_context" | "rebind_context" => {
            let name = naming::read_name(&mut r).ok()?;
            let ior = Ior::read(&mut r).ok()?;
            f.insert("name".into(), naming::name_to_string(&name));
            f.insert("bound_to".into(), naming::describe_ior(&ior));
            ior_fields(&ior, f);
            Some(shown)
        }
        "resolve" | "unbind" | "bind_new_context" => {
            f.insert("name".into(), shown.clone());
            Some(shown)
        }
        "resolve_str" | "to_name" => {
            f.insert("name".into(), shown.clone());
            Some(quoted(&shown))
        }
        _ => Some(shown),
    }
}

/// Where an IOR points, for the host notes: `ior_host`, `ior_port`, `ior_type`, `ior_key`.
fn ior_fields(ior: &Ior, f: &mut BTreeMap<String, String>) {
    if !ior.type_id.is_empty() {
        f.insert("ior_type".into(), ior.type_id.clone());
    }
    if let Some(Ok(p)) = ior.iiop_profile() {
        f.insert("ior_host".into(), p.host.clone());
        f.insert("ior_port".into(), p.port.to_string());
        f.insert("ior_key".into(), cut(&key_to_string(&p.object_key), 1024));
    }
}

/// The arguments of a request, as shown between the parentheses.
fn arguments(req: &Request, f: &mut BTreeMap<String, String>) -> String {
    if let Some(shown) = naming_arguments(req, f) {
        f.insert("arguments".into(), shown.clone());
        return shown;
    }
    values(&req.body, "arguments", f)
}

/// `Request #4 NameService.resolve_str("Hello")`, `Request #9 Hello.shutdown() [oneway]`.
fn request_line(req: &Request, ver: &str, f: &mut BTreeMap<String, String>) -> String {
    f.insert("request_id".into(), req.request_id.to_string());
    f.insert("operation".into(), req.operation.clone());
    f.insert("response_expected".into(), req.response_expected().to_string());
    let mut flags: Vec<String> = Vec::new();
    if !req.response_expected() {
        f.insert("oneway".into(), "true".into());
        flags.push("oneway".into());
    } else if req.response_flags == 1 {
        // GIOP 1.2's SYNC_WITH_SERVER (§15.4.2.2): the server replies as soon as it has the
        // request, before running it.
        flags.push("reply on receipt".into());
    }
    f.insert("response_flags".into(), req.response_flags.to_string());
    if !req.service_contexts.is_empty() {
        let names: Vec<String> = req
            .service_contexts
            .iter()
            .map(|c| service_context_name(c.id))
            .collect();
        f.insert("service_contexts".into(), names.join(", "));
    }
    let object = key_fields(&req.object_key(), f);
    let args = arguments(req, f);
    let mut s = format!(
        "Request #{}{ver} {object}.{}({args})",
        req.request_id, req.operation
    );
    if !flags.is_empty() {
        let _ = write!(s, " [{}]", flags.join(", "));
    }
    s
}

/// The result of an operation whose types are known without the IDL: every object's `_is_a` and
/// `_non_existent` (booleans, §15.4.2.1), and the CosNaming operations that return an object
/// reference or a name (`resolve`, `resolve_str` → an IOR, described).
fn known_result(operation: &str, reply: &Reply, f: &mut BTreeMap<String, String>) -> Option<String> {
    let mut r = reply.body.reader();
    let shown = match operation {
        "_is_a" | "_non_existent" | "_not_existent" => r.boolean("the result").ok()?.to_string(),
        "resolve" | "resolve_str" | "bind_new_context" | "new_context" | "resolve_initial_references" => {
            let ior = Ior::read(&mut r).ok()?;
            ior_fields(&ior, f);
            naming::describe_ior(&ior)
        }
        "to_name" => naming::name_to_string(&naming::read_name(&mut r).ok()?),
        _ => return None,
    };
    r.is_empty().then_some(shown)
}

/// `Reply #5 NO_EXCEPTION "Hello from CORBA Server!"`, `Reply #6 USER_EXCEPTION
/// IDL:omg.org/CosNaming/NamingContext/NotFound:1.0 (missing_node: Hello)`, `Reply #7
/// SYSTEM_EXCEPTION OBJECT_NOT_EXIST (minor 0x4f4d0001, COMPLETED_NO)`, `Reply #3 LOCATION_FORWARD
/// → IDL:HelloApp/Hello:1.0 at 10.0.0.2:2809`.
fn reply_line(reply: &Reply, ver: &str, operation: Option<&str>, f: &mut BTreeMap<String, String>) -> String {
    f.insert("request_id".into(), reply.request_id.to_string());
    f.insert("reply_status".into(), reply.status.to_string());
    if let Some(op) = operation {
        f.insert("operation".into(), op.to_string());
    }
    let mut s = format!("Reply #{}{ver} {}", reply.request_id, reply.status);
    let what = match reply.status {
        ReplyStatus::NoException => {
            let known = operation.and_then(|op| known_result(op, reply, f));
            match known {
                Some(shown) => {
                    f.insert("results".into(), shown.clone());
                    shown
                }
                None => match values(&reply.body, "results", f) {
                    // A size is not a value: between parentheses, as for arguments.
                    shown if !shown.is_empty() && !f.contains_key("results") => format!("({shown})"),
                    shown => shown,
                },
            }
        }
        ReplyStatus::UserException => match reply.exception_id() {
            Some(id) => {
                f.insert("exception".into(), id.clone());
                let detail = if id == NOT_FOUND_ID {
                    not_found(reply).map(|d| format!(" ({d})")).unwrap_or_default()
                } else {
                    String::new()
                };
                format!("{id}{detail}")
            }
            None => format!("({})", bytes_text(reply.body.bytes.len())),
        },
        ReplyStatus::SystemException => match reply.system_exception() {
            Some(e) => {
                f.insert("exception".into(), e.id.clone());
                f.insert("minor".into(), format!("0x{:08x}", e.minor));
                f.insert("completed".into(), e.completed.name().to_string());
                e.to_string()
            }
            None => format!("({})", bytes_text(reply.body.bytes.len())),
        },
        ReplyStatus::LocationForward | ReplyStatus::LocationForwardPerm => match reply.forward() {
            Some(ior) => {
                let d = naming::describe_ior(&ior);
                f.insert("forward".into(), d.clone());
                ior_fields(&ior, f);
                format!("→ {d}")
            }
            None => format!("({})", bytes_text(reply.body.bytes.len())),
        },
        ReplyStatus::NeedsAddressingMode => match reply.body.reader().short("the disposition") {
            Ok(d) => format!("(send the target as {})", disposition(d)),
            Err(_) => String::new(),
        },
        ReplyStatus::Unknown(_) => format!("({})", bytes_text(reply.body.bytes.len())),
    };
    if !what.is_empty() {
        let _ = write!(s, " {what}");
    }
    s
}

/// A NotFound exception's reason and the rest of the name (Naming Service §2.2.1).
fn not_found(reply: &Reply) -> Option<String> {
    let mut r = reply.body.reader();
    r.string("the exception id").ok()?;
    let why = naming::NotFoundReason::from_u32(r.ulong("why").ok()?)?;
    let rest = naming::read_name(&mut r).ok()?;
    Some(if rest.is_empty() {
        why.name().to_string()
    } else {
        format!("{}: {}", why.name(), naming::name_to_string(&rest))
    })
}

/// GIOP 1.2's addressing dispositions (§15.4.2.1).
fn disposition(d: i16) -> String {
    match d {
        0 => "KeyAddr".into(),
        1 => "ProfileAddr".into(),
        2 => "ReferenceAddr".into(),
        n => format!("disposition {n}"),
    }
}

/// `LocateRequest #8 Hello`.
fn locate_request_line(l: &LocateRequest, ver: &str, f: &mut BTreeMap<String, String>) -> String {
    f.insert("request_id".into(), l.request_id.to_string());
    let object = key_fields(&l.target.object_key().unwrap_or_default(), f);
    format!("LocateRequest #{}{ver} {object}", l.request_id)
}

/// `LocateReply #8 OBJECT_HERE`, `LocateReply #8 OBJECT_FORWARD → IDL:... at host:port`.
fn locate_reply_line(l: &LocateReply, ver: &str, f: &mut BTreeMap<String, String>) -> String {
    f.insert("request_id".into(), l.request_id.to_string());
    let status = match l.status {
        LocateStatus::Unknown(n) => format!("locate status {n}"),
        s => s.name().to_string(),
    };
    f.insert("locate_status".into(), status.clone());
    let mut s = format!("LocateReply #{}{ver} {status}", l.request_id);
    let mut r = l.body.reader();
    match l.status {
        LocateStatus::ObjectForward | LocateStatus::ObjectForwardPerm => {
            if let Ok(ior) = Ior::read(&mut r) {
                let d = naming::describe_ior(&ior);
                f.insert("forward".into(), d.clone());
                ior_fields(&ior, f);
                let _ = write!(s, " → {d}");
            }
        }
        LocateStatus::LocSystemException => {
            if let Ok(e) = wire::giop::SystemException::read(&mut r) {
                f.insert("exception".into(), e.id.clone());
                f.insert("minor".into(), format!("0x{:08x}", e.minor));
                f.insert("completed".into(), e.completed.name().to_string());
                let _ = write!(s, " {e}");
            }
        }
        LocateStatus::LocNeedsAddressingMode => {
            if let Ok(d) = r.short("the disposition") {
                let _ = write!(s, " (send the target as {})", disposition(d));
            }
        }
        _ => {}
    }
    s
}

/// The line of one whole (or joined) message.
fn line(m: &Message, ver: &str, operation: Option<&str>, f: &mut BTreeMap<String, String>) -> String {
    f.insert("type".into(), m.message_type().name().to_string());
    match m {
        Message::Request(req) => request_line(req, ver, f),
        Message::Reply(reply) => reply_line(reply, ver, operation, f),
        Message::LocateRequest(l) => locate_request_line(l, ver, f),
        Message::LocateReply(l) => locate_reply_line(l, ver, f),
        Message::CancelRequest { request_id } => {
            f.insert("request_id".into(), request_id.to_string());
            match operation {
                Some(op) if !op.is_empty() => {
                    f.insert("operation".into(), op.to_string());
                    format!("CancelRequest #{request_id}{ver} (of {op})")
                }
                _ => format!("CancelRequest #{request_id}{ver}"),
            }
        }
        Message::CloseConnection => format!("CloseConnection{ver}"),
        Message::MessageError => format!("MessageError{ver}"),
        // A Fragment is never decoded as a message of its own here (see `Giop::piece`); a 1.0
        // Fragment is refused by the codec.
        Message::Fragment(fr) => format!("Fragment{}{ver}", key_text(fr.request_id)),
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
        protocol: PROTOCOL,
        summary,
        fields,
        offset,
        len,
    }
}

impl Dissector for Giop {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        let mut notes = Vec::new();
        self.feed(dir, t, offset, bytes, out, &mut notes);
        let room = MAX_NOTES.saturating_sub(self.notes.len());
        self.notes.extend(notes.into_iter().take(room));
    }

    fn gap(&mut self, dir: Direction) {
        // GIOP can be found again: the next segment that starts with a header. Fragments being
        // joined lost a piece.
        let h = &mut self.halves[dir.index()];
        h.state = State::Seeking;
        h.buf.clear();
        h.skip = 0;
        h.lossy = true;
        h.fragmented.clear();
        h.reassembler = Reassembler::new(MAX_MESSAGE);
    }

    fn end(&mut self, _dir: Direction, _t: f64, _out: &mut Messages) {}

    fn finish(&mut self, t_end: f64, _out: &mut Messages, notes: &mut Vec<Note>) {
        notes.append(&mut self.notes);
        for p in self.pending.drain(..) {
            // The reply travels the other way; if bytes of that way were lost, say nothing.
            if self.halves[p.dir.reverse().index()].lossy {
                continue;
            }
            let what = if !p.summary.is_empty() {
                format!("GIOP {}", p.summary)
            } else if p.asked == Asked::Locate {
                format!("GIOP LocateRequest #{}", p.id)
            } else {
                format!("GIOP Request #{} {}", p.id, p.operation)
            };
            notes.push(Note::Unanswered { t: p.t, what });
        }
        for (i, h) in self.halves.iter().enumerate() {
            let side = if i == 0 { "client" } else { "server" };
            if !h.buf.is_empty() && h.state == State::Reading {
                notes.push(Note::Malformed {
                    t: t_end,
                    what: format!(
                        "{} bytes of an unfinished GIOP message from the {side} at the end",
                        h.buf.len()
                    ),
                });
            }
            for m in h.fragmented.iter().filter(|m| m.dropped.is_none()) {
                notes.push(Note::Malformed {
                    t: t_end,
                    what: format!(
                        "a fragmented GIOP {}{} from the {side} never got its last Fragment ({} pieces seen)",
                        type_name(m.kind),
                        m.request_id.map(|id| format!(" #{id}")).unwrap_or_default(),
                        m.pieces
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::giop::naming::{write_name, NameComponent, NAMING_CONTEXT_EXT_ID};
    use wire::giop::{
        encode_bare, encode_cancel_request, encode_locate_reply, encode_locate_request, encode_reply,
        encode_request, Completion, IiopProfile, RequestHeader, ServiceContext, SystemException, Writer,
        GIOP_1_0, GIOP_1_1, GIOP_1_2,
    };
    use Direction::{ClientToServer as C, ServerToClient as S};

    /// omniORB's keys for objects of the root POA are binary: the POA's marker, then the id.
    const SERVANT_KEY: &[u8] = b"\xff\x14\x01\x00\x00\x00\x00\x00\x00\x00\x01";

    fn request(
        v: Version,
        le: bool,
        id: u32,
        key: &[u8],
        op: &str,
        args: impl FnOnce(&mut Writer),
    ) -> Vec<u8> {
        let h = RequestHeader {
            request_id: id,
            response_expected: true,
            object_key: key,
            operation: op,
            service_contexts: &[],
        };
        encode_request(v, le, &h, args)
    }

    fn oneway(v: Version, le: bool, id: u32, key: &[u8], op: &str) -> Vec<u8> {
        let h = RequestHeader {
            request_id: id,
            response_expected: false,
            object_key: key,
            operation: op,
            service_contexts: &[],
        };
        encode_request(v, le, &h, |_| {})
    }

    fn reply(v: Version, le: bool, id: u32, status: ReplyStatus, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
        encode_reply(v, le, id, status, &[], body)
    }

    fn hello_ior(le: bool) -> Ior {
        Ior::iiop(
            "IDL:HelloApp/Hello:1.0",
            &IiopProfile {
                version: GIOP_1_2,
                host: "127.0.0.1".into(),
                port: 40123,
                object_key: SERVANT_KEY.to_vec(),
                components: vec![wire::giop::ior::code_sets_component(le)],
            },
            le,
        )
    }

    /// Feed pieces (direction, bytes) to a fresh dissector, each piece one delivery.
    fn run(pieces: &[(Direction, Vec<u8>)]) -> (Messages, Vec<Note>) {
        run_with(Messages::default(), pieces)
    }

    fn run_with(mut out: Messages, pieces: &[(Direction, Vec<u8>)]) -> (Messages, Vec<Note>) {
        let mut d = Giop::new();
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

    /// The client's side of the course's pattern with the naming service: narrow the root context,
    /// bind, resolve, a name that is not there; in every version and both byte orders, each
    /// direction's bytes cut at every awkward place.
    #[test]
    fn the_naming_service_conversation_in_every_version_and_byte_order() {
        for v in [GIOP_1_0, GIOP_1_1, GIOP_1_2] {
            for le in [true, false] {
                let name = |w: &mut Writer, id: &str| write_name(w, &[NameComponent::new(id, "")]);
                let client = [
                    request(v, le, 1, b"NameService", "_is_a", |w| {
                        w.string(NAMING_CONTEXT_EXT_ID)
                    }),
                    request(v, le, 2, b"NameService", "rebind", |w| {
                        name(w, "Hello");
                        hello_ior(le).write(w);
                    }),
                    request(v, le, 3, b"NameService", "resolve_str", |w| w.string("Hello")),
                    request(v, le, 4, b"NameService", "resolve", |w| name(w, "Nobody")),
                ]
                .concat();
                let server = [
                    reply(v, le, 1, ReplyStatus::NoException, |w| w.boolean(true)),
                    reply(v, le, 2, ReplyStatus::NoException, |_| {}),
                    reply(v, le, 3, ReplyStatus::NoException, |w| hello_ior(le).write(w)),
                    reply(v, le, 4, ReplyStatus::UserException, |w| {
                        naming::write_not_found(
                            w,
                            naming::NotFoundReason::MissingNode,
                            &[NameComponent::new("Nobody", "")],
                        )
                    }),
                ]
                .concat();
                // Whole, then cut: inside the first header, inside a string, one byte at a time.
                for cuts in [vec![], vec![5, 40, 41, 97], (1..client.len()).collect::<Vec<_>>()] {
                    let mut pieces = Vec::new();
                    let mut last = 0;
                    for &c in cuts.iter().filter(|&&c| c < client.len()).chain([&client.len()]) {
                        pieces.push((C, client[last..c].to_vec()));
                        last = c;
                    }
                    pieces.push((S, server.clone()));
                    let (out, notes) = run(&pieces);
                    assert_eq!(
                        summaries(&out),
                        [
                            format!(
                                "Request #1 GIOP {v} NameService._is_a(\"IDL:omg.org/CosNaming/NamingContextExt:1.0\")"
                            )
                            .as_str(),
                            "Request #2 NameService.rebind(Hello → IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123)",
                            "Request #3 NameService.resolve_str(\"Hello\")",
                            "Request #4 NameService.resolve(Nobody)",
                            format!("Reply #1 GIOP {v} NO_EXCEPTION true").as_str(),
                            "Reply #2 NO_EXCEPTION",
                            "Reply #3 NO_EXCEPTION IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123",
                            "Reply #4 USER_EXCEPTION IDL:omg.org/CosNaming/NamingContext/NotFound:1.0 \
                             (missing_node: Nobody)",
                        ],
                        "GIOP {v}, little-endian {le}, cuts {cuts:?}"
                    );
                    assert!(notes.is_empty(), "{notes:?}");
                }
                let (out, _) = run(&[(C, client.clone()), (S, server.clone())]);
                let f = &out.kept[1].fields;
                assert_eq!(f["type"], "Request");
                assert_eq!(f["giop_version"], v.to_string());
                assert_eq!(f["byte_order"], if le { "little-endian" } else { "big-endian" });
                assert_eq!(f["object"], "NameService");
                assert_eq!(f["object_key"], "NameService");
                assert_eq!(f["operation"], "rebind");
                assert_eq!(f["request_id"], "2");
                assert_eq!(f["response_expected"], "true");
                assert_eq!(f["name"], "Hello");
                assert_eq!(f["bound_to"], "IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123");
                assert_eq!(f["ior_port"], "40123");
                assert_eq!(f["ior_key"], key_to_string(SERVANT_KEY));
                assert!(!f.contains_key("oneway"));
                let r = &out.kept[6].fields;
                assert_eq!(r["reply_status"], "NO_EXCEPTION");
                assert_eq!(r["operation"], "resolve_str", "the reply knows what it answers");
                assert_eq!(r["results"], "IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123");
                assert_eq!(out.kept[7].fields["exception"], NOT_FOUND_ID);
                // Offsets and lengths: the second request starts where the first ended.
                assert_eq!(out.kept[1].offset, out.kept[0].len);
                let calls = &out.activity[&("GIOP", 0)];
                assert_eq!(calls["call of rebind"], 1);
                assert_eq!(calls["call of _is_a"], 1);
                assert!(
                    !out.activity.contains_key(&("GIOP", 1)),
                    "replies are not activity"
                );
            }
        }
    }

    /// The Hello server's side: narrow, sayHello, every reply status, a oneway call, and the server's
    /// CloseConnection.
    #[test]
    fn the_hello_server_and_every_reply_status() {
        let v = GIOP_1_2;
        let ctx = [ServiceContext {
            id: wire::giop::message::SC_CODE_SETS,
            data: vec![1, 0, 0, 0, 1, 0, 1, 0, 9, 1, 1, 0],
        }];
        let narrow = encode_request(
            v,
            true,
            &RequestHeader {
                request_id: 4,
                response_expected: true,
                object_key: SERVANT_KEY,
                operation: "_is_a",
                service_contexts: &ctx,
            },
            |w| w.string("IDL:HelloApp/Hello:1.0"),
        );
        let client = [
            narrow,
            request(v, true, 5, SERVANT_KEY, "sayHello", |_| {}),
            request(v, true, 6, SERVANT_KEY, "add", |w| {
                w.long(2);
                w.long(3)
            }),
            request(v, true, 7, b"Ghost", "sayHello", |_| {}),
            request(v, true, 8, b"Old", "sayHello", |_| {}),
            request(v, true, 9, SERVANT_KEY, "greet", |w| {
                w.string("Budi");
                w.string("pagi")
            }),
            oneway(v, true, 10, SERVANT_KEY, "shutdown"),
        ]
        .concat();
        let ex = SystemException::new("OBJECT_NOT_EXIST", 0x4f4d_0001, Completion::No);
        let server = [
            reply(v, true, 4, ReplyStatus::NoException, |w| w.boolean(true)),
            reply(v, true, 5, ReplyStatus::NoException, |w| {
                w.string("Hello from CORBA Server!")
            }),
            reply(v, true, 6, ReplyStatus::NoException, |w| w.long(5)),
            reply(v, true, 7, ReplyStatus::SystemException, |w| ex.write(w)),
            reply(v, true, 8, ReplyStatus::LocationForward, |w| {
                hello_ior(true).write(w)
            }),
            reply(v, true, 9, ReplyStatus::Unknown(9), |_| {}),
            encode_bare(v, true, MessageType::CloseConnection),
        ]
        .concat();
        let (out, notes) = run(&[(C, client), (S, server)]);
        let key = "ff14010000000000…";
        assert_eq!(key_shown(SERVANT_KEY), key);
        assert_eq!(key_shown(b"\xffMyPOA\x00Hello"), "%ffMyPOA%00Hello");
        assert_eq!(key_shown(b"\x01\x02"), "0102");
        assert_eq!(
            summaries(&out),
            [
                format!("Request #4 GIOP 1.2 {key}._is_a(\"IDL:HelloApp/Hello:1.0\")"),
                format!("Request #5 {key}.sayHello()"),
                format!("Request #6 {key}.add(8 bytes)"),
                "Request #7 Ghost.sayHello()".to_string(),
                "Request #8 Old.sayHello()".to_string(),
                format!("Request #9 {key}.greet(\"Budi\", \"pagi\")"),
                format!("Request #10 {key}.shutdown() [oneway]"),
                "Reply #4 GIOP 1.2 NO_EXCEPTION true".to_string(),
                "Reply #5 NO_EXCEPTION \"Hello from CORBA Server!\"".to_string(),
                "Reply #6 NO_EXCEPTION (4 bytes)".to_string(),
                "Reply #7 SYSTEM_EXCEPTION OBJECT_NOT_EXIST (minor 0x4f4d0001, COMPLETED_NO)".to_string(),
                "Reply #8 LOCATION_FORWARD → IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123".to_string(),
                "Reply #9 reply status 9 (0 bytes)".to_string(),
                "CloseConnection".to_string(),
            ]
        );
        assert!(notes.is_empty(), "the oneway call expects no reply: {notes:?}");
        let f = &out.kept[0].fields;
        assert_eq!(f["service_contexts"], "CodeSets");
        assert_eq!(f["arguments"], "\"IDL:HelloApp/Hello:1.0\"");
        assert_eq!(f["object_key"], key_to_string(SERVANT_KEY));
        assert_eq!(out.kept[6].fields["oneway"], "true");
        assert_eq!(out.kept[6].fields["response_flags"], "0");
        assert_eq!(out.kept[8].fields["results"], "\"Hello from CORBA Server!\"");
        let sys = &out.kept[10].fields;
        assert_eq!(sys["exception"], "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0");
        assert_eq!(
            (sys["minor"].as_str(), sys["completed"].as_str()),
            ("0x4f4d0001", "COMPLETED_NO")
        );
        assert_eq!(
            out.kept[11].fields["forward"],
            "IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123"
        );
        let close = out.closed_by.unwrap();
        assert_eq!((close.direction, close.message), (S, "CloseConnection"));
        assert!(out.opened_by.is_none(), "GIOP has no opening message");
        let calls = &out.activity[&("GIOP", 0)];
        assert_eq!(calls["call of sayHello"], 3);
        assert_eq!(calls["call of shutdown"], 1);
    }

    #[test]
    fn locate_cancel_message_error_and_an_unanswered_request() {
        for v in [GIOP_1_0, GIOP_1_2] {
            let client = [
                encode_locate_request(v, false, 1, b"Hello"),
                request(v, false, 2, b"Hello", "slow", |_| {}),
                encode_cancel_request(v, false, 2),
                request(v, false, 3, b"Hello", "never", |_| {}),
                encode_locate_request(v, false, 4, b"Ghost"),
            ]
            .concat();
            let server = [
                encode_locate_reply(v, false, 1, LocateStatus::ObjectHere, |_| {}),
                encode_locate_reply(v, false, 4, LocateStatus::ObjectForward, |w| {
                    hello_ior(false).write(w)
                }),
                encode_bare(v, false, MessageType::MessageError),
            ]
            .concat();
            let (out, notes) = run(&[(C, client), (S, server)]);
            assert_eq!(
                summaries(&out),
                [
                    format!("LocateRequest #1 GIOP {v} Hello").as_str(),
                    "Request #2 Hello.slow()",
                    "CancelRequest #2 (of slow)",
                    "Request #3 Hello.never()",
                    "LocateRequest #4 Ghost",
                    format!("LocateReply #1 GIOP {v} OBJECT_HERE").as_str(),
                    "LocateReply #4 OBJECT_FORWARD → IDL:HelloApp/Hello:1.0 at 127.0.0.1:40123",
                    "MessageError",
                ]
            );
            assert_eq!(out.kept[5].fields["locate_status"], "OBJECT_HERE");
            // The cancelled request is not unanswered; #3 is.
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(
                matches!(&notes[0], Note::Unanswered { what, .. } if what == "GIOP Request #3 Hello.never()"),
                "{notes:?}"
            );
        }
    }

    #[test]
    fn a_malformed_body_is_shown_and_the_next_message_read() {
        let mut bad = request(GIOP_1_2, true, 1, b"Hello", "sayHello", |_| {});
        bad[20] = 7; // the addressing disposition: not 0, 1 or 2
        let good = request(GIOP_1_2, true, 2, b"Hello", "sayHello", |_| {});
        let mut unknown = encode_bare(GIOP_1_2, true, MessageType::CloseConnection);
        unknown[7] = 9;
        let fragment_1_0 = {
            let mut m = encode_bare(GIOP_1_0, true, MessageType::CloseConnection);
            m[7] = 7;
            m
        };
        let (out, notes) = run(&[(C, [bad, unknown, fragment_1_0, good].concat())]);
        let s = summaries(&out);
        assert_eq!(s.len(), 4, "{s:?}");
        assert!(
            s[0].starts_with("malformed Request GIOP 1.2: addressing disposition 7"),
            "{s:?}"
        );
        assert!(s[1].starts_with("malformed message: message type 9"), "{s:?}");
        assert!(
            s[2].starts_with("malformed Fragment GIOP 1.0: GIOP 1.0 has no Fragment"),
            "{s:?}"
        );
        assert_eq!(s[3], "Request #2 GIOP 1.2 Hello.sayHello()");
        assert_eq!(out.kept[1].fields["type"], "unknown (9)");
        assert!(out.kept[0].fields.contains_key("error"));
        assert_eq!(
            out.activity[&("GIOP", 0)].len(),
            1,
            "a malformed request is not a call"
        );
        assert_eq!(notes.len(), 1, "request #2 unanswered: {notes:?}");
    }

    /// Cuts `whole` (a 1.1 or 1.2 message) into its first piece and Fragments of `piece` body bytes.
    fn fragments(whole: &[u8], piece: usize) -> Vec<Vec<u8>> {
        let h = Header::decode(whole).unwrap();
        let body = &whole[HEADER_SIZE..];
        let id = &body[..4];
        let chunks: Vec<&[u8]> = body.chunks(piece).collect();
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let mut hd = Header {
                more_fragments: i + 1 < chunks.len(),
                size: 0,
                ..h
            };
            let mut data = Vec::new();
            if i > 0 {
                hd.message_type = MessageType::Fragment;
                if h.version.is_1_2_or_later() {
                    data.extend_from_slice(id);
                }
            }
            data.extend_from_slice(c);
            hd.size = data.len() as u32;
            let mut m = Vec::new();
            hd.encode(&mut m);
            m.extend(data);
            out.push(m);
        }
        out
    }

    #[test]
    fn fragments_are_joined_and_each_piece_is_a_message() {
        let long = "x".repeat(100);
        for (v, le) in [(GIOP_1_1, false), (GIOP_1_2, true)] {
            let req = request(v, le, 5, b"Hello", "echo", |w| w.string(&long));
            let pieces = fragments(&req, 48);
            assert_eq!(pieces.len(), 4);
            let rep = reply(v, le, 5, ReplyStatus::NoException, |w| w.string(&long));
            let rep_pieces = fragments(&rep, 64);
            let (out, notes) = run(&[
                (C, pieces[..2].concat()),
                (C, pieces[2..].concat()),
                (S, rep_pieces.concat()),
            ]);
            let id = if v == GIOP_1_2 { " #5" } else { "" };
            let x60 = "x".repeat(60);
            assert_eq!(
                summaries(&out),
                [
                    format!("Request #5 GIOP {v} Hello.echo(…) [first fragment, more follow]"),
                    format!("Fragment{id} [more follow]"),
                    format!("Fragment{id} [more follow]"),
                    format!("Fragment{id} (last of 4: Request #5 Hello.echo(\"{x60}…\"))"),
                    format!("Reply #5 GIOP {v} NO_EXCEPTION [first fragment, more follow]"),
                    format!("Fragment{id} (last of 2: Reply #5 NO_EXCEPTION \"{x60}…\")"),
                ],
                "GIOP {v}"
            );
            assert!(notes.is_empty(), "{notes:?}");
            let last = &out.kept[3].fields;
            assert_eq!(last["type"], "Fragment");
            assert_eq!(last["reassembled_type"], "Request");
            assert_eq!(last["fragments"], "4");
            assert_eq!(last["reassembled"], req.len().to_string());
            assert_eq!(last["operation"], "echo");
            assert_eq!(last["request_id"], "5");
            assert!(
                !last.contains_key("call"),
                "the call was counted at the first piece"
            );
            assert_eq!(out.kept[1].fields["request_id"], "5");
            assert_eq!(out.kept[5].fields["operation"], "echo");
            assert_eq!(out.activity[&("GIOP", 0)]["call of echo"], 1);
            assert_eq!(out.per_direction, [4, 2]);
        }
        // GIOP 1.2: the fragments of two requests interleave, each joined by its request id; one
        // whose header does not fit in its first piece is counted at its last Fragment.
        let a = fragments(
            &request(GIOP_1_2, true, 1, b"Hello", "echo", |w| w.string(&long)),
            48,
        );
        let b = fragments(
            &request(GIOP_1_2, true, 2, b"Hello", "echo_long_operation_name", |w| {
                w.string(&long)
            }),
            16,
        );
        let mut stream = vec![a[0].clone(), b[0].clone()];
        stream.extend(
            b[1..]
                .iter()
                .cloned()
                .zip(a[1..].iter().cloned().chain(std::iter::repeat(vec![])))
                .flat_map(|(x, y)| [x, y]),
        );
        let (out, notes) = run(&[(C, stream.concat())]);
        let s = summaries(&out);
        assert!(
            notes.iter().all(|n| matches!(n, Note::Unanswered { .. })),
            "{notes:?}"
        );
        assert_eq!(s.len(), a.len() + b.len(), "{s:#?}");
        assert!(
            s.contains(
                &format!(
                    "Fragment #1 (last of 4: Request #1 Hello.echo(\"{}…\"))",
                    "x".repeat(60)
                )
                .as_str()
            ),
            "{s:#?}"
        );
        assert!(
            s[1].starts_with("Request #2 [first fragment, more follow; its header does not fit"),
            "{s:#?}"
        );
        let last_b = out
            .kept
            .iter()
            .find(|m| m.summary.starts_with("Fragment #2 (last"))
            .unwrap();
        assert_eq!(last_b.fields["call"], "echo_long_operation_name");
        assert_eq!(out.activity[&("GIOP", 0)]["call of echo_long_operation_name"], 1);
        assert_eq!(out.activity[&("GIOP", 0)]["call of echo"], 1);
        // A Fragment whose start was not seen (the capture began between the pieces).
        let (out, notes) = run(&[(C, a[2..].concat())]);
        assert_eq!(
            summaries(&out),
            [
                "Fragment #1 GIOP 1.2 (not joined: its message began before the capture or was not read)",
                "Fragment #1 (not joined: its message began before the capture or was not read)",
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
        // A fragmented message whose last Fragment never comes is said so at the end.
        let (_, notes) = run(&[(C, a[..2].concat())]);
        assert!(
            format!("{notes:?}").contains("never got its last Fragment (2 pieces seen)"),
            "{notes:?}"
        );
    }

    #[test]
    fn a_capture_that_starts_inside_a_message_and_lost_bytes_resync_on_the_next_header() {
        let first = request(GIOP_1_2, true, 1, b"Hello", "echo", |w| w.string("a long text"));
        let second = request(GIOP_1_2, true, 2, b"Hello", "echo", |w| w.string("b"));
        let (out, notes) = run(&[(C, first[20..].to_vec()), (C, second.clone())]);
        assert_eq!(summaries(&out), ["Request #2 GIOP 1.2 Hello.echo(\"b\")"]);
        assert_eq!(out.kept[0].offset, (first.len() - 20) as u64);
        assert!(
            format!("{notes:?}").contains("do not start with a GIOP header"),
            "{notes:?}"
        );
        // After lost bytes too; and the reply lost with them is not called unanswered.
        let mut d = Giop::new();
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &first, &mut out);
        d.gap(S);
        d.data(S, 1.0, 100, &[7u8; 30], &mut out);
        let r = reply(GIOP_1_2, true, 9, ReplyStatus::NoException, |_| {});
        d.data(S, 2.0, 130, &r, &mut out);
        let mut notes = Vec::new();
        d.finish(3.0, &mut out, &mut notes);
        assert_eq!(
            summaries(&out),
            [
                "Request #1 GIOP 1.2 Hello.echo(\"a long text\")",
                "Reply #9 GIOP 1.2 NO_EXCEPTION"
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
        // A header that breaks the rules: like tshark, nothing until a segment starts with a header.
        let mut broken = second.clone();
        broken[4] = 2; // GIOP 2.2
        let (out, notes) = run(&[
            (C, [first.clone(), broken, second.clone()].concat()),
            (C, second[10..].to_vec()),
            (C, second[..30].to_vec()),
            (C, second[30..].to_vec()),
        ]);
        assert_eq!(
            summaries(&out),
            [
                "Request #1 GIOP 1.2 Hello.echo(\"a long text\")",
                "Request #2 Hello.echo(\"b\")"
            ],
        );
        assert_eq!(
            out.kept[1].offset,
            (first.len() + 3 * second.len() - 10) as u64,
            "read from the segment that starts with a header, even split"
        );
        assert!(format!("{notes:?}").contains("GIOP version 2.2"), "{notes:?}");
    }

    #[test]
    fn a_message_larger_than_sister_holds_is_counted_and_skipped_as_it_streams_by() {
        let good = oneway(GIOP_1_2, true, 3, b"Hello", "ping");
        let mut huge = encode_bare(GIOP_1_2, true, MessageType::Request);
        huge[8..12].copy_from_slice(&(64u32 << 20).to_le_bytes());
        let mut d = Giop::new();
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &huge, &mut out);
        let mut off = huge.len() as u64;
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..63 {
            d.data(C, 1.0, off, &chunk, &mut out);
            off += chunk.len() as u64;
            assert!(d.halves[0].buf.is_empty());
        }
        let rest = (64 << 20) + HEADER_SIZE - off as usize;
        d.data(C, 2.0, off, &[vec![0u8; rest], good].concat(), &mut out);
        let s = summaries(&out);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(
            s[0].starts_with("Request of 67108864 bytes (not decoded"),
            "{s:?}"
        );
        assert_eq!(s[1], "Request #3 GIOP 1.2 Hello.ping() [oneway]");
    }

    #[test]
    fn counting_only_gives_the_counts_of_keeping_in_full() {
        let long = "x".repeat(100);
        let mut client = vec![request(GIOP_1_2, true, 1, b"NameService", "resolve_str", |w| {
            w.string("Hello")
        })];
        client.extend(fragments(
            &request(GIOP_1_2, true, 2, b"Hello", "echo", |w| w.string(&long)),
            16,
        ));
        client.push(encode_cancel_request(GIOP_1_2, true, 2));
        let server = [
            reply(GIOP_1_2, true, 1, ReplyStatus::NoException, |w| {
                hello_ior(true).write(w)
            }),
            encode_bare(GIOP_1_2, true, MessageType::CloseConnection),
        ];
        let pieces = [(C, client.concat()), (S, server.concat())];
        let (full, full_notes) = run(&pieces);
        let (counted, counted_notes) = run_with(Messages::new(0), &pieces);
        assert!(counted.kept.is_empty());
        assert_eq!(counted.omitted, full.kept.len() as u64);
        assert_eq!(counted.per_direction, full.per_direction);
        assert_eq!(counted.activity, full.activity);
        assert_eq!(counted.closed_by, full.closed_by);
        assert_eq!(counted_notes.len(), full_notes.len());
    }

    #[test]
    fn mutated_connections_never_panic_nor_hold_more_than_they_may() {
        let long = "y".repeat(90);
        let mut stream = request(GIOP_1_0, true, 1, b"NameService", "resolve_str", |w| {
            w.string("Hello")
        });
        stream.extend(reply(GIOP_1_1, false, 1, ReplyStatus::NoException, |w| {
            hello_ior(false).write(w)
        }));
        for p in fragments(
            &request(GIOP_1_2, true, 2, SERVANT_KEY, "echo", |w| w.string(&long)),
            24,
        ) {
            stream.extend(p);
        }
        for p in fragments(
            &request(GIOP_1_1, false, 3, b"Hello", "echo", |w| w.string(&long)),
            40,
        ) {
            stream.extend(p);
        }
        stream.extend(reply(GIOP_1_2, true, 2, ReplyStatus::SystemException, |w| {
            SystemException::new("TRANSIENT", 2, Completion::Maybe).write(w)
        }));
        stream.extend(encode_locate_reply(
            GIOP_1_2,
            true,
            4,
            LocateStatus::ObjectForward,
            |w| hello_ior(true).write(w),
        ));
        stream.extend(encode_bare(GIOP_1_2, true, MessageType::CloseConnection));
        let mut rng = capture::synth::Rng::new(0x610b_da7a);
        for round in 0..5_000 {
            let mut m = stream.clone();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() as usize) % m.len();
                m[i] = rng.next_u64() as u8;
            }
            let mut d = Giop::new();
            let mut out = Messages::new(if round % 2 == 0 { usize::MAX } else { 0 });
            let mut off = 0;
            while off < m.len() {
                let n = 1 + (rng.next_u64() as usize) % 40;
                let piece = &m[off..(off + n).min(m.len())];
                let dir = if (round + off) % 5 == 0 { S } else { C };
                d.data(dir, 0.0, off as u64, piece, &mut out);
                if rng.next_u64() % 50 == 0 {
                    d.gap(dir);
                }
                off += piece.len();
                for h in &d.halves {
                    assert!(h.buf.len() <= MAX_MESSAGE + HEADER_SIZE);
                    assert!(h.fragmented.len() <= MAX_FRAGMENTED);
                    assert!(h.fragmented.iter().map(|f| f.bytes).sum::<usize>() <= MAX_MESSAGE);
                }
            }
            let mut notes = Vec::new();
            d.finish(1.0, &mut out, &mut notes);
            assert!(notes.len() <= MAX_NOTES + MAX_PENDING + 2 * MAX_FRAGMENTED + 2);
        }
    }
}
