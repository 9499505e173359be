//! The eight GIOP messages (CORBA 3.0, §15.4), in the three layouts of GIOP 1.0, 1.1 and 1.2.
//!
//! ```text
//!   Request 1.0                         Request 1.1           Request 1.2 (and 1.3)
//!     ServiceContextList contexts         as 1.0, plus 3        ulong   request_id
//!     ulong    request_id                 reserved octets       octet   response_flags
//!     boolean  response_expected          after                 octet   reserved[3]
//!     sequence<octet> object_key          response_expected     TargetAddress target
//!     string   operation                                        string  operation
//!     sequence<octet> principal                                 ServiceContextList contexts
//!     ...arguments                                              (pad to 8) ...arguments
//!
//!   Reply 1.0, 1.1                      Reply 1.2
//!     ServiceContextList contexts         ulong request_id
//!     ulong request_id                    ulong reply_status
//!     ulong reply_status                  ServiceContextList contexts
//!     ...result or exception              (pad to 8) ...result or exception
//! ```
//!
//! 1.2 moved the request id to the front (so a Fragment can say which message it continues),
//! replaced the object key by a `TargetAddress` union (a key, a profile or a whole IOR), dropped
//! the principal, and aligned bodies on 8 so a body can be marshalled before its header is known.
//! sister reads all three and answers each peer in the version it spoke.
//!
//! What a capture shows and what it does not: the operation name travels as text (`sayHello`,
//! `resolve_str`), and so does the object key when it is text (`NameService`); the arguments are
//! bare CDR, which only the IDL gives meaning. `_is_a` and `_non_existent` are operations every
//! object has (§15.4.2.1's "pseudo-operations").

use std::fmt;

use super::cdr::{Reader, Writer};
use super::header::{Header, MessageType, Version, HEADER_SIZE};
use super::ior::{Ior, TaggedProfile};
use crate::DecodeError;

/// One entry of a ServiceContextList (§13.7): an id and an encapsulation only its service reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceContext {
    pub id: u32,
    pub data: Vec<u8>,
}

/// Service context ids sister names (§13.7.1): CodeSets is the one omniORB sends on a connection's
/// first request, saying which character sets it chose.
pub const SC_CODE_SETS: u32 = 1;
pub const SC_BI_DIR_IIOP: u32 = 5;
pub const SC_SENDING_CONTEXT_RUN_TIME: u32 = 6;

/// A service context's name in the specification, for showing.
pub fn service_context_name(id: u32) -> String {
    match id {
        0 => "TransactionService".into(),
        1 => "CodeSets".into(),
        2 => "ChainBypassCheck".into(),
        3 => "ChainBypassInfo".into(),
        4 => "LogicalThreadId".into(),
        5 => "BI_DIR_IIOP".into(),
        6 => "SendingContextRunTime".into(),
        7 => "INVOCATION_POLICIES".into(),
        8 => "FORWARDED_IDENTITY".into(),
        9 => "UnknownExceptionInfo".into(),
        10 => "RTCorbaPriority".into(),
        11 => "RTCorbaPriorityRange".into(),
        12 => "FT_GROUP_VERSION".into(),
        13 => "FT_REQUEST".into(),
        14 => "ExceptionDetailMessage".into(),
        15 => "SecurityAttributeService".into(),
        16 => "ActivityService".into(),
        n => format!("service context 0x{n:08x}"),
    }
}

fn read_contexts(r: &mut Reader) -> Result<Vec<ServiceContext>, DecodeError> {
    let n = r.count(8, "the number of service contexts")?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.ulong("a service context id")?;
        let data = r.octets("a service context's data")?.to_vec();
        v.push(ServiceContext { id, data });
    }
    Ok(v)
}

fn write_contexts(w: &mut Writer, contexts: &[ServiceContext]) {
    w.ulong(contexts.len() as u32);
    for c in contexts {
        w.ulong(c.id);
        w.octets(&c.data);
    }
}

/// GIOP 1.2's `TargetAddress` (§15.4.2.1): how a request names its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// KeyAddr (0): the object key, as 1.0 and 1.1 always send.
    Key(Vec<u8>),
    /// ProfileAddr (1): the whole IIOP profile the client used.
    Profile(TaggedProfile),
    /// ReferenceAddr (2): a whole IOR and which of its profiles was used.
    Reference { selected_profile: u32, ior: Ior },
}

impl Target {
    /// The object key, wherever this target keeps it.
    pub fn object_key(&self) -> Option<Vec<u8>> {
        match self {
            Target::Key(k) => Some(k.clone()),
            Target::Profile(p) => profile_key(p),
            Target::Reference {
                selected_profile,
                ior,
            } => ior.profiles.get(*selected_profile as usize).and_then(profile_key),
        }
    }

    fn read(r: &mut Reader) -> Result<Target, DecodeError> {
        match r.short("the addressing disposition")? {
            0 => Ok(Target::Key(r.octets("the object key")?.to_vec())),
            1 => {
                let tag = r.ulong("the profile tag")?;
                Ok(Target::Profile(TaggedProfile { tag, data: r.octets("the profile")?.to_vec() }))
            }
            2 => {
                let selected_profile = r.ulong("the selected profile index")?;
                Ok(Target::Reference { selected_profile, ior: Ior::read(r)? })
            }
            n => Err(DecodeError::invalid(format!(
                "addressing disposition {n} is not KeyAddr (0), ProfileAddr (1) or ReferenceAddr (2) (§15.4.2.1)"
            ))),
        }
    }
}

fn profile_key(p: &TaggedProfile) -> Option<Vec<u8>> {
    let ior = Ior {
        type_id: String::new(),
        profiles: vec![p.clone()],
    };
    ior.iiop_profile()?.ok().map(|p| p.object_key)
}

/// The bytes after a header: arguments, a result, an exception. Kept with the alignment origin
/// they had in their message so that [`Body::reader`] aligns them as the sender did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub origin: usize,
    pub little_endian: bool,
}

impl Body {
    fn take(r: &Reader, aligned_8: bool) -> Body {
        let mut r = r.clone();
        if aligned_8 {
            r.align(8);
        }
        Body {
            bytes: r.rest().to_vec(),
            origin: r.offset(),
            little_endian: r.little_endian(),
        }
    }

    pub fn reader(&self) -> Reader<'_> {
        Reader::with_origin(&self.bytes, self.origin, self.little_endian)
    }
}

/// A Request (§15.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub request_id: u32,
    /// 1.2's response_flags (§15.4.2.2): 0 = oneway, 1 = reply once received (SYNC_WITH_SERVER),
    /// 3 = a normal twoway call. 1.0 and 1.1's `response_expected` reads as 3 or 0.
    pub response_flags: u8,
    pub target: Target,
    pub operation: String,
    pub service_contexts: Vec<ServiceContext>,
    /// 1.0 and 1.1's `requesting_principal` (unused by every ORB; dropped in 1.2).
    pub principal: Vec<u8>,
    pub body: Body,
}

impl Request {
    /// Will the server answer? (bit 0 of the response flags)
    pub fn response_expected(&self) -> bool {
        self.response_flags & 1 == 1
    }

    pub fn object_key(&self) -> Vec<u8> {
        self.target.object_key().unwrap_or_default()
    }

    fn read(r: &mut Reader, v: Version) -> Result<Request, DecodeError> {
        if v.is_1_2_or_later() {
            let request_id = r.ulong("the request id")?;
            let response_flags = r.octet("the response flags")?;
            r.octet("reserved")?;
            r.octet("reserved")?;
            r.octet("reserved")?;
            let target = Target::read(r)?;
            let operation = r.string("the operation")?;
            let service_contexts = read_contexts(r)?;
            let body = Body::take(r, true);
            Ok(Request {
                request_id,
                response_flags,
                target,
                operation,
                service_contexts,
                principal: Vec::new(),
                body,
            })
        } else {
            let service_contexts = read_contexts(r)?;
            let request_id = r.ulong("the request id")?;
            let response_flags = if r.boolean("response_expected")? { 3 } else { 0 };
            if v.minor == 1 {
                r.octet("reserved")?;
                r.octet("reserved")?;
                r.octet("reserved")?;
            }
            let target = Target::Key(r.octets("the object key")?.to_vec());
            let operation = r.string("the operation")?;
            let principal = r.octets("the requesting principal")?.to_vec();
            let body = Body::take(r, false);
            Ok(Request {
                request_id,
                response_flags,
                target,
                operation,
                service_contexts,
                principal,
                body,
            })
        }
    }
}

/// A Reply's status (§15.4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyStatus {
    NoException,
    UserException,
    SystemException,
    LocationForward,
    /// 1.2.
    LocationForwardPerm,
    /// 1.2: "send the request again with another TargetAddress"; the body is the disposition.
    NeedsAddressingMode,
    Unknown(u32),
}

impl ReplyStatus {
    pub fn from_u32(n: u32) -> Self {
        match n {
            0 => ReplyStatus::NoException,
            1 => ReplyStatus::UserException,
            2 => ReplyStatus::SystemException,
            3 => ReplyStatus::LocationForward,
            4 => ReplyStatus::LocationForwardPerm,
            5 => ReplyStatus::NeedsAddressingMode,
            n => ReplyStatus::Unknown(n),
        }
    }
    pub fn to_u32(self) -> u32 {
        match self {
            ReplyStatus::NoException => 0,
            ReplyStatus::UserException => 1,
            ReplyStatus::SystemException => 2,
            ReplyStatus::LocationForward => 3,
            ReplyStatus::LocationForwardPerm => 4,
            ReplyStatus::NeedsAddressingMode => 5,
            ReplyStatus::Unknown(n) => n,
        }
    }
    /// The name in the specification (tshark's `giop.replystatus` shows these).
    pub fn name(self) -> &'static str {
        match self {
            ReplyStatus::NoException => "NO_EXCEPTION",
            ReplyStatus::UserException => "USER_EXCEPTION",
            ReplyStatus::SystemException => "SYSTEM_EXCEPTION",
            ReplyStatus::LocationForward => "LOCATION_FORWARD",
            ReplyStatus::LocationForwardPerm => "LOCATION_FORWARD_PERM",
            ReplyStatus::NeedsAddressingMode => "NEEDS_ADDRESSING_MODE",
            ReplyStatus::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for ReplyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyStatus::Unknown(n) => write!(f, "reply status {n}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Did the operation run before a system exception? (§4.12.1's CompletionStatus)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Yes,
    No,
    Maybe,
    Unknown(u32),
}

impl Completion {
    pub fn from_u32(n: u32) -> Self {
        match n {
            0 => Completion::Yes,
            1 => Completion::No,
            2 => Completion::Maybe,
            n => Completion::Unknown(n),
        }
    }
    pub fn to_u32(self) -> u32 {
        match self {
            Completion::Yes => 0,
            Completion::No => 1,
            Completion::Maybe => 2,
            Completion::Unknown(n) => n,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Completion::Yes => "COMPLETED_YES",
            Completion::No => "COMPLETED_NO",
            Completion::Maybe => "COMPLETED_MAYBE",
            Completion::Unknown(_) => "completion unknown",
        }
    }
}

/// A system exception's body (§15.4.3.2): `IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0`, minor, completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemException {
    pub id: String,
    pub minor: u32,
    pub completed: Completion,
}

impl SystemException {
    pub fn new(name: &str, minor: u32, completed: Completion) -> Self {
        SystemException {
            id: format!("IDL:omg.org/CORBA/{name}:1.0"),
            minor,
            completed,
        }
    }
    pub fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let id = r.string("the exception id")?;
        let minor = r.ulong("the minor code")?;
        let completed = Completion::from_u32(r.ulong("the completion status")?);
        Ok(SystemException { id, minor, completed })
    }
    pub fn write(&self, w: &mut Writer) {
        w.string(&self.id);
        w.ulong(self.minor);
        w.ulong(self.completed.to_u32());
    }
    /// `OBJECT_NOT_EXIST` out of `IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0`.
    pub fn short_name(&self) -> &str {
        short_exception_name(&self.id)
    }
}

impl fmt::Display for SystemException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (minor 0x{:08x}, {})",
            self.short_name(),
            self.minor,
            self.completed.name()
        )
    }
}

/// The last part of a repository id: `IDL:omg.org/CosNaming/NamingContext/NotFound:1.0` → `NotFound`.
pub fn short_exception_name(id: &str) -> &str {
    let body = id.strip_prefix("IDL:").unwrap_or(id);
    let body = body.rsplit_once(':').map_or(body, |(b, _)| b);
    body.rsplit('/').next().unwrap_or(body)
}

/// A Reply (§15.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: u32,
    pub status: ReplyStatus,
    pub service_contexts: Vec<ServiceContext>,
    pub body: Body,
}

impl Reply {
    fn read(r: &mut Reader, v: Version) -> Result<Reply, DecodeError> {
        if v.is_1_2_or_later() {
            let request_id = r.ulong("the request id")?;
            let status = ReplyStatus::from_u32(r.ulong("the reply status")?);
            let service_contexts = read_contexts(r)?;
            Ok(Reply {
                request_id,
                status,
                service_contexts,
                body: Body::take(r, true),
            })
        } else {
            let service_contexts = read_contexts(r)?;
            let request_id = r.ulong("the request id")?;
            let status = ReplyStatus::from_u32(r.ulong("the reply status")?);
            Ok(Reply {
                request_id,
                status,
                service_contexts,
                body: Body::take(r, false),
            })
        }
    }

    /// The repository id a user or system exception starts with.
    pub fn exception_id(&self) -> Option<String> {
        match self.status {
            ReplyStatus::UserException | ReplyStatus::SystemException => {
                self.body.reader().string("the exception id").ok()
            }
            _ => None,
        }
    }

    pub fn system_exception(&self) -> Option<SystemException> {
        (self.status == ReplyStatus::SystemException)
            .then(|| SystemException::read(&mut self.body.reader()).ok())?
    }

    /// Where a LOCATION_FORWARD(_PERM) sends the client.
    pub fn forward(&self) -> Option<Ior> {
        matches!(
            self.status,
            ReplyStatus::LocationForward | ReplyStatus::LocationForwardPerm
        )
        .then(|| Ior::read(&mut self.body.reader()).ok())?
    }
}

/// A LocateRequest (§15.4.5): "is this object here?", asked before the first request by some ORBs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocateRequest {
    pub request_id: u32,
    pub target: Target,
}

/// A LocateReply's status (§15.4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocateStatus {
    UnknownObject,
    ObjectHere,
    ObjectForward,
    ObjectForwardPerm,
    LocSystemException,
    LocNeedsAddressingMode,
    Unknown(u32),
}

impl LocateStatus {
    pub fn from_u32(n: u32) -> Self {
        match n {
            0 => LocateStatus::UnknownObject,
            1 => LocateStatus::ObjectHere,
            2 => LocateStatus::ObjectForward,
            3 => LocateStatus::ObjectForwardPerm,
            4 => LocateStatus::LocSystemException,
            5 => LocateStatus::LocNeedsAddressingMode,
            n => LocateStatus::Unknown(n),
        }
    }
    pub fn to_u32(self) -> u32 {
        match self {
            LocateStatus::UnknownObject => 0,
            LocateStatus::ObjectHere => 1,
            LocateStatus::ObjectForward => 2,
            LocateStatus::ObjectForwardPerm => 3,
            LocateStatus::LocSystemException => 4,
            LocateStatus::LocNeedsAddressingMode => 5,
            LocateStatus::Unknown(n) => n,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LocateStatus::UnknownObject => "UNKNOWN_OBJECT",
            LocateStatus::ObjectHere => "OBJECT_HERE",
            LocateStatus::ObjectForward => "OBJECT_FORWARD",
            LocateStatus::ObjectForwardPerm => "OBJECT_FORWARD_PERM",
            LocateStatus::LocSystemException => "LOC_SYSTEM_EXCEPTION",
            LocateStatus::LocNeedsAddressingMode => "LOC_NEEDS_ADDRESSING_MODE",
            LocateStatus::Unknown(_) => "unknown",
        }
    }
}

/// A LocateReply (§15.4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocateReply {
    pub request_id: u32,
    pub status: LocateStatus,
    pub body: Body,
}

/// A Fragment (§15.4.9): the next piece of the message before it. 1.2 names that message's request
/// id; 1.1's fragments simply follow their message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub request_id: Option<u32>,
    pub data: Vec<u8>,
}

/// One GIOP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Reply(Reply),
    CancelRequest {
        request_id: u32,
    },
    LocateRequest(LocateRequest),
    LocateReply(LocateReply),
    /// "I will send nothing more on this connection": an orderly close (§15.4.7).
    CloseConnection,
    /// "I could not read your message" (§15.4.8).
    MessageError,
    Fragment(Fragment),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Request(_) => MessageType::Request,
            Message::Reply(_) => MessageType::Reply,
            Message::CancelRequest { .. } => MessageType::CancelRequest,
            Message::LocateRequest(_) => MessageType::LocateRequest,
            Message::LocateReply(_) => MessageType::LocateReply,
            Message::CloseConnection => MessageType::CloseConnection,
            Message::MessageError => MessageType::MessageError,
            Message::Fragment(_) => MessageType::Fragment,
        }
    }

    /// The request id the message carries, when it has one.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            Message::Request(m) => Some(m.request_id),
            Message::Reply(m) => Some(m.request_id),
            Message::CancelRequest { request_id } => Some(*request_id),
            Message::LocateRequest(m) => Some(m.request_id),
            Message::LocateReply(m) => Some(m.request_id),
            Message::Fragment(f) => f.request_id,
            Message::CloseConnection | Message::MessageError => None,
        }
    }

    /// Decodes a whole message: `msg` is its header and exactly `header.size` bytes of body.
    pub fn decode(header: &Header, msg: &[u8]) -> Result<Message, DecodeError> {
        let v = header.version;
        let mut r = Reader::new(msg, header.little_endian);
        for _ in 0..HEADER_SIZE {
            r.octet("the header")?;
        }
        let m = match header.message_type {
            MessageType::Request => Message::Request(Request::read(&mut r, v)?),
            MessageType::Reply => Message::Reply(Reply::read(&mut r, v)?),
            MessageType::CancelRequest => Message::CancelRequest {
                request_id: r.ulong("the request id")?,
            },
            MessageType::LocateRequest => {
                let request_id = r.ulong("the request id")?;
                let target = if v.is_1_2_or_later() {
                    Target::read(&mut r)?
                } else {
                    Target::Key(r.octets("the object key")?.to_vec())
                };
                Message::LocateRequest(LocateRequest { request_id, target })
            }
            MessageType::LocateReply => {
                let request_id = r.ulong("the request id")?;
                let status = LocateStatus::from_u32(r.ulong("the locate status")?);
                Message::LocateReply(LocateReply {
                    request_id,
                    status,
                    body: Body::take(&r, v.is_1_2_or_later()),
                })
            }
            MessageType::CloseConnection => Message::CloseConnection,
            MessageType::MessageError => Message::MessageError,
            MessageType::Fragment => {
                if v.minor == 0 {
                    return Err(DecodeError::invalid("GIOP 1.0 has no Fragment message (§15.4.9)"));
                }
                let request_id = if v.is_1_2_or_later() {
                    Some(r.ulong("the fragment's request id")?)
                } else {
                    None
                };
                Message::Fragment(Fragment {
                    request_id,
                    data: r.rest().to_vec(),
                })
            }
            MessageType::Unknown(n) => {
                return Err(DecodeError::invalid(format!(
                    "message type {n} is not one of GIOP's eight (§15.4)"
                )))
            }
        };
        Ok(m)
    }
}

/// What a request says before its arguments, for [`encode_request`].
#[derive(Debug, Clone, Copy)]
pub struct RequestHeader<'a> {
    pub request_id: u32,
    pub response_expected: bool,
    pub object_key: &'a [u8],
    pub operation: &'a str,
    pub service_contexts: &'a [ServiceContext],
}

/// Writes a whole message: header, then `body`, then the header's size.
fn message(
    version: Version,
    little_endian: bool,
    ty: MessageType,
    body: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    let mut w = Writer::new(little_endian);
    Header::new(version, ty, little_endian).encode(w.bytes_mut());
    body(&mut w);
    let mut out = w.into_bytes();
    let size = (out.len() - HEADER_SIZE) as u32;
    let size = if little_endian {
        size.to_le_bytes()
    } else {
        size.to_be_bytes()
    };
    out[8..12].copy_from_slice(&size);
    out
}

/// The body of a 1.2 Request or Reply: 8-aligned, and no padding when there is no body. Earlier
/// versions simply continue after the header.
fn body_after_header(w: &mut Writer, version: Version, body: impl FnOnce(&mut Writer)) {
    if version.is_1_2_or_later() {
        let mut b = Writer::new(w.little_endian());
        body(&mut b);
        if !b.is_empty() {
            w.align(8);
            w.raw(&b.into_bytes());
        }
    } else {
        body(w);
    }
}

/// A Request in `version`'s layout, its arguments written by `args`.
pub fn encode_request(
    version: Version,
    little_endian: bool,
    h: &RequestHeader,
    args: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    message(version, little_endian, MessageType::Request, |w| {
        if version.is_1_2_or_later() {
            w.ulong(h.request_id);
            w.octet(if h.response_expected { 3 } else { 0 });
            w.raw(&[0, 0, 0]);
            w.ushort(0); // KeyAddr
            w.octets(h.object_key);
            w.string(h.operation);
            write_contexts(w, h.service_contexts);
        } else {
            write_contexts(w, h.service_contexts);
            w.ulong(h.request_id);
            w.boolean(h.response_expected);
            if version.minor == 1 {
                w.raw(&[0, 0, 0]);
            }
            w.octets(h.object_key);
            w.string(h.operation);
            w.octets(&[]); // principal
        }
        body_after_header(w, version, args);
    })
}

/// A Reply in `version`'s layout, its result or exception written by `body`.
pub fn encode_reply(
    version: Version,
    little_endian: bool,
    request_id: u32,
    status: ReplyStatus,
    service_contexts: &[ServiceContext],
    body: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    message(version, little_endian, MessageType::Reply, |w| {
        if version.is_1_2_or_later() {
            w.ulong(request_id);
            w.ulong(status.to_u32());
            write_contexts(w, service_contexts);
        } else {
            write_contexts(w, service_contexts);
            w.ulong(request_id);
            w.ulong(status.to_u32());
        }
        body_after_header(w, version, body);
    })
}

/// A LocateRequest for the object with `key`.
pub fn encode_locate_request(version: Version, little_endian: bool, request_id: u32, key: &[u8]) -> Vec<u8> {
    message(version, little_endian, MessageType::LocateRequest, |w| {
        w.ulong(request_id);
        if version.is_1_2_or_later() {
            w.ushort(0);
        }
        w.octets(key);
    })
}

/// A LocateReply (UNKNOWN_OBJECT or OBJECT_HERE need no body).
pub fn encode_locate_reply(
    version: Version,
    little_endian: bool,
    request_id: u32,
    status: LocateStatus,
    body: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    message(version, little_endian, MessageType::LocateReply, |w| {
        w.ulong(request_id);
        w.ulong(status.to_u32());
        body_after_header(w, version, body);
    })
}

/// CancelRequest: "I no longer want the reply to this request" (§15.4.4).
pub fn encode_cancel_request(version: Version, little_endian: bool, request_id: u32) -> Vec<u8> {
    message(version, little_endian, MessageType::CancelRequest, |w| {
        w.ulong(request_id)
    })
}

/// CloseConnection or MessageError: a header and nothing else.
pub fn encode_bare(version: Version, little_endian: bool, ty: MessageType) -> Vec<u8> {
    message(version, little_endian, ty, |_| {})
}

#[cfg(test)]
mod tests {
    use super::super::header::{GIOP_1_0, GIOP_1_1, GIOP_1_2};
    use super::*;

    fn roundtrip(bytes: &[u8]) -> Message {
        let h = Header::decode(bytes).unwrap();
        assert_eq!(h.size as usize, bytes.len() - HEADER_SIZE);
        Message::decode(&h, bytes).unwrap()
    }

    #[test]
    fn requests_in_every_version_and_byte_order() {
        for v in [GIOP_1_0, GIOP_1_1, GIOP_1_2] {
            for le in [true, false] {
                let h = RequestHeader {
                    request_id: 7,
                    response_expected: true,
                    object_key: b"NameService",
                    operation: "resolve_str",
                    service_contexts: &[ServiceContext {
                        id: SC_CODE_SETS,
                        data: vec![1, 0, 0, 0],
                    }],
                };
                let bytes = encode_request(v, le, &h, |w| w.string("Hello"));
                let Message::Request(r) = roundtrip(&bytes) else {
                    panic!()
                };
                assert_eq!(
                    (r.request_id, r.operation.as_str(), r.response_expected()),
                    (7, "resolve_str", true)
                );
                assert_eq!(r.object_key(), b"NameService");
                assert_eq!(r.service_contexts.len(), 1);
                assert_eq!(
                    r.body.reader().string("arg").unwrap(),
                    "Hello",
                    "GIOP {v} le={le}"
                );
                if v == GIOP_1_2 {
                    assert_eq!(r.body.origin % 8, 0);
                }
            }
        }
    }

    #[test]
    fn a_1_2_request_without_arguments_has_no_padding() {
        let h = RequestHeader {
            request_id: 1,
            response_expected: false,
            object_key: b"Hello",
            operation: "sayHello",
            service_contexts: &[],
        };
        let bytes = encode_request(GIOP_1_2, true, &h, |_| {});
        // Offsets from the header's first byte: id 12..16, flags and reserved ..20, disposition ..22,
        // 2 pad, key length ..28, "Hello" ..33, 3 pad, operation length ..40, "sayHello\0" ..49,
        // 3 pad, context count ..56; nothing after it, so no padding to 8.
        assert_eq!(bytes.len(), 56);
        let Message::Request(r) = roundtrip(&bytes) else {
            panic!()
        };
        assert!(!r.response_expected());
        assert!(r.body.bytes.is_empty());
    }

    #[test]
    fn replies_and_exceptions() {
        for v in [GIOP_1_0, GIOP_1_2] {
            let ok = encode_reply(v, false, 3, ReplyStatus::NoException, &[], |w| {
                w.string("Hello from CORBA Server!")
            });
            let Message::Reply(r) = roundtrip(&ok) else {
                panic!()
            };
            assert_eq!(
                r.body.reader().string("result").unwrap(),
                "Hello from CORBA Server!"
            );
            let ex = SystemException::new("OBJECT_NOT_EXIST", 0x4f4d0001, Completion::No);
            let bytes = encode_reply(v, true, 4, ReplyStatus::SystemException, &[], |w| ex.write(w));
            let Message::Reply(r) = roundtrip(&bytes) else {
                panic!()
            };
            assert_eq!(r.system_exception().unwrap(), ex);
            assert_eq!(
                r.exception_id().unwrap(),
                "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0"
            );
            assert_eq!(
                ex.to_string(),
                "OBJECT_NOT_EXIST (minor 0x4f4d0001, COMPLETED_NO)"
            );
        }
        assert_eq!(
            short_exception_name("IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"),
            "NotFound"
        );
    }

    #[test]
    fn locate_cancel_close_and_error() {
        for v in [GIOP_1_0, GIOP_1_2] {
            let Message::LocateRequest(l) = roundtrip(&encode_locate_request(v, true, 9, b"Hello")) else {
                panic!()
            };
            assert_eq!(
                (l.request_id, l.target.object_key().unwrap()),
                (9, b"Hello".to_vec())
            );
            let bytes = encode_locate_reply(v, true, 9, LocateStatus::ObjectHere, |_| {});
            let Message::LocateReply(l) = roundtrip(&bytes) else {
                panic!()
            };
            assert_eq!(l.status, LocateStatus::ObjectHere);
        }
        assert_eq!(
            roundtrip(&encode_cancel_request(GIOP_1_1, true, 5)),
            Message::CancelRequest { request_id: 5 }
        );
        assert_eq!(
            roundtrip(&encode_bare(GIOP_1_2, true, MessageType::CloseConnection)),
            Message::CloseConnection
        );
        assert_eq!(
            roundtrip(&encode_bare(GIOP_1_0, false, MessageType::MessageError)),
            Message::MessageError
        );
    }
}
