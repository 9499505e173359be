//! The bodies of the five Ice messages: Request, BatchRequest, Reply, ValidateConnection and
//! CloseConnection (Ice Manual, "The Ice Protocol" → "Protocol Messages").
//!
//! ```text
//!   Request          [i32 request id][identity][facet][operation][mode][context][params]
//!                      0 = oneway      name,      seq<string>  string   byte   dict<string,string>
//!                      (no reply)      category   0 or 1 item         0 normal    encapsulation
//!                                                                     2 idempotent
//!
//!   BatchRequest     [i32 count] then count × a Request body without its request id (all oneway)
//!
//!   Reply            [i32 request id][status byte][body, by status:]
//!                      0 Ok, 1 UserException        encapsulation (results / the exception)
//!                      2 ObjectNotExist,            identity, facet, operation
//!                      3 FacetNotExist,
//!                      4 OperationNotExist
//!                      5 UnknownLocalException,     string (a description)
//!                      6 UnknownUserException,
//!                      7 UnknownException
//!
//!   ValidateConnection, CloseConnection: no body (the header's size is 14)
//! ```
//!
//! The course's client calls `printString("Hello World from printer1!")` on `SimplePrinter1` as:
//!
//! ```text
//!   49 63 65 50 01 00 01 00 00 00 52 00 00 00   header: Request, 82 bytes
//!   02 00 00 00                            request id 2 (1 was the checkedCast's ice_isA)
//!   0e "SimplePrinter1" 00                 identity: name, empty category
//!   00                                     facet: none
//!   0b "printString"                       operation
//!   00                                     mode: normal
//!   00                                     context: empty
//!   21 00 00 00 01 01 1a "Hello World…"    params: encapsulation 1.1 holding one string
//! ```

use std::fmt;

use super::encoding::{Encapsulation, Reader, Writer};
use crate::DecodeError;

/// An object's identity: a name and an optional category (`category/name` in stringified proxies).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Identity {
    pub name: String,
    pub category: String,
}

impl Identity {
    pub fn new(name: impl Into<String>) -> Self {
        Identity {
            name: name.into(),
            category: String::new(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.string("the identity's name")?.to_owned();
        let category = r.string("the identity's category")?.to_owned();
        Ok(Identity { name, category })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.string(&self.name);
        w.string(&self.category);
    }
}

impl fmt::Display for Identity {
    /// As Ice's `identityToString` writes it: `name`, or `category/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.category.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.category, self.name)
        }
    }
}

/// The facet: a sequence of zero or one string on the wire; an empty sequence is the default facet.
fn read_facet(r: &mut Reader<'_>) -> Result<Option<String>, DecodeError> {
    let mut facets = r.string_seq("the facet")?;
    match facets.len() {
        0 => Ok(None),
        1 => Ok(facets.pop()),
        n => Err(DecodeError::invalid(format!(
            "the facet is a sequence of {n} strings; Ice allows 0 or 1"
        ))),
    }
}

fn write_facet(facet: &Option<String>, w: &mut Writer<'_>) {
    match facet {
        None => w.size(0),
        Some(f) => w.string_seq(&[f.as_str()]),
    }
}

/// How the operation was declared in Slice, which tells Ice whether it may retry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationMode {
    /// 0: an ordinary operation (never retried after it may have run).
    Normal,
    /// 1: `nonmutating` (deprecated since Ice 3.2; treated as idempotent).
    Nonmutating,
    /// 2: `idempotent` (running it twice is harmless, so Ice may retry it).
    Idempotent,
    /// Any other byte: Ice refuses it; kept so it can be shown.
    Unknown(u8),
}

impl OperationMode {
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => OperationMode::Normal,
            1 => OperationMode::Nonmutating,
            2 => OperationMode::Idempotent,
            n => OperationMode::Unknown(n),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            OperationMode::Normal => 0,
            OperationMode::Nonmutating => 1,
            OperationMode::Idempotent => 2,
            OperationMode::Unknown(n) => n,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OperationMode::Normal => "normal",
            OperationMode::Nonmutating => "nonmutating",
            OperationMode::Idempotent => "idempotent",
            OperationMode::Unknown(_) => "unknown",
        }
    }
}

/// One call on an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The id the reply will carry; 0 for a oneway call (no reply) and inside a batch.
    pub request_id: i32,
    pub identity: Identity,
    pub facet: Option<String>,
    pub operation: String,
    pub mode: OperationMode,
    /// The request context: key/value pairs the caller attaches (`ctx=` in Python), usually empty.
    pub context: Vec<(String, String)>,
    /// The in-parameters, in the encoding the encapsulation names.
    pub params: Encapsulation,
}

impl Request {
    /// A twoway request (`request_id` > 0) or a oneway one (0), default facet, normal mode, no context.
    pub fn new(
        request_id: i32,
        identity: Identity,
        operation: impl Into<String>,
        params: Encapsulation,
    ) -> Self {
        Request {
            request_id,
            identity,
            facet: None,
            operation: operation.into(),
            mode: OperationMode::Normal,
            context: Vec::new(),
            params,
        }
    }

    /// A oneway call expects no reply: Ice sends it with request id 0.
    pub fn is_oneway(&self) -> bool {
        self.request_id == 0
    }

    /// Reads the part after the request id (shared with BatchRequest, whose requests have no id).
    fn read_after_id(request_id: i32, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let identity = Identity::read(r)?;
        let facet = read_facet(r)?;
        let operation = r.string("the operation name")?.to_owned();
        let mode = OperationMode::from_byte(r.byte("the operation mode")?);
        if let OperationMode::Unknown(n) = mode {
            return Err(DecodeError::invalid(format!(
                "operation mode {n} is not 0, 1 or 2"
            )));
        }
        let context = r.string_dict("the request context")?;
        let params = r.encapsulation("the parameters")?;
        Ok(Request {
            request_id,
            identity,
            facet,
            operation,
            mode,
            context,
            params,
        })
    }

    fn write_after_id(&self, w: &mut Writer<'_>) {
        self.identity.write(w);
        write_facet(&self.facet, w);
        w.string(&self.operation);
        w.byte(self.mode.to_byte());
        w.string_dict(&self.context);
        w.encapsulation(&self.params);
    }
}

/// The reply status byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyStatus {
    Ok,
    UserException,
    ObjectNotExist,
    FacetNotExist,
    OperationNotExist,
    UnknownLocalException,
    UnknownUserException,
    UnknownException,
}

impl ReplyStatus {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => ReplyStatus::Ok,
            1 => ReplyStatus::UserException,
            2 => ReplyStatus::ObjectNotExist,
            3 => ReplyStatus::FacetNotExist,
            4 => ReplyStatus::OperationNotExist,
            5 => ReplyStatus::UnknownLocalException,
            6 => ReplyStatus::UnknownUserException,
            7 => ReplyStatus::UnknownException,
            _ => return None,
        })
    }

    pub fn to_byte(self) -> u8 {
        self as u8
    }

    /// Words for a person: `ok`, `user exception`, `object does not exist`, ...
    pub fn describe(self) -> &'static str {
        match self {
            ReplyStatus::Ok => "ok",
            ReplyStatus::UserException => "user exception",
            ReplyStatus::ObjectNotExist => "object does not exist",
            ReplyStatus::FacetNotExist => "facet does not exist",
            ReplyStatus::OperationNotExist => "operation does not exist",
            ReplyStatus::UnknownLocalException => "unknown local exception",
            ReplyStatus::UnknownUserException => "unknown user exception",
            ReplyStatus::UnknownException => "unknown exception",
        }
    }
}

/// What a reply carries, which depends on its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// Ok: the results; UserException: the exception. Both an encapsulation.
    Encapsulation(Encapsulation),
    /// ObjectNotExist, FacetNotExist, OperationNotExist: what the request asked for.
    NotExist {
        identity: Identity,
        facet: Option<String>,
        operation: String,
    },
    /// The three Unknown*Exception statuses: a description (often the server's exception text).
    Unknown(String),
}

/// The answer to a twoway request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: i32,
    pub status: ReplyStatus,
    pub body: ReplyBody,
}

impl Reply {
    /// An Ok reply carrying `results`.
    pub fn ok(request_id: i32, results: Encapsulation) -> Self {
        Reply {
            request_id,
            status: ReplyStatus::Ok,
            body: ReplyBody::Encapsulation(results),
        }
    }

    /// A NotExist reply (`status` must be ObjectNotExist, FacetNotExist or OperationNotExist) that
    /// echoes what `request` asked for, as Ice does.
    pub fn not_exist(status: ReplyStatus, request: &Request) -> Self {
        Reply {
            request_id: request.request_id,
            status,
            body: ReplyBody::NotExist {
                identity: request.identity.clone(),
                facet: request.facet.clone(),
                operation: request.operation.clone(),
            },
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let request_id = r.int("the request id")?;
        let byte = r.byte("the reply status")?;
        let status = ReplyStatus::from_byte(byte)
            .ok_or_else(|| DecodeError::invalid(format!("reply status {byte} is not one of 0..7")))?;
        let body = match status {
            ReplyStatus::Ok | ReplyStatus::UserException => {
                ReplyBody::Encapsulation(r.encapsulation("the reply's encapsulation")?)
            }
            ReplyStatus::ObjectNotExist | ReplyStatus::FacetNotExist | ReplyStatus::OperationNotExist => {
                let identity = Identity::read(r)?;
                let facet = read_facet(r)?;
                let operation = r.string("the operation name")?.to_owned();
                ReplyBody::NotExist {
                    identity,
                    facet,
                    operation,
                }
            }
            _ => ReplyBody::Unknown(r.string("the exception's description")?.to_owned()),
        };
        Ok(Reply {
            request_id,
            status,
            body,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.int(self.request_id);
        w.byte(self.status.to_byte());
        match &self.body {
            ReplyBody::Encapsulation(e) => w.encapsulation(e),
            ReplyBody::NotExist {
                identity,
                facet,
                operation,
            } => {
                identity.write(w);
                write_facet(facet, w);
                w.string(operation);
            }
            ReplyBody::Unknown(text) => w.string(text),
        }
    }
}

/// One Ice message, its body decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    /// Oneway requests sent together (each with request id 0).
    BatchRequest(Vec<Request>),
    Reply(Reply),
    ValidateConnection,
    CloseConnection,
}

impl Message {
    pub fn message_type(&self) -> super::MessageType {
        use super::MessageType as T;
        match self {
            Message::Request(_) => T::Request,
            Message::BatchRequest(_) => T::BatchRequest,
            Message::Reply(_) => T::Reply,
            Message::ValidateConnection => T::ValidateConnection,
            Message::CloseConnection => T::CloseConnection,
        }
    }

    /// Decodes a body (the bytes after the header, uncompressed) of a message of type `kind`. Every
    /// byte must be used: trailing bytes are invalid, as in Ice (`EncapsulationException`/"unmarshal").
    pub fn decode_body(kind: super::MessageType, body: &[u8]) -> Result<Message, DecodeError> {
        use super::MessageType as T;
        let mut r = Reader::new(body);
        let message = match kind {
            T::Request => {
                let id = r.int("the request id")?;
                Message::Request(Request::read_after_id(id, &mut r)?)
            }
            T::BatchRequest => {
                let count = r.int("the batch's request count")?;
                // Each batched request takes at least 13 bytes (identity 2, facet 1, operation 1,
                // mode 1, context 1, encapsulation 6... and more): bound the allocation by the body.
                if count < 0 || count as usize > body.len() / 12 {
                    return Err(DecodeError::invalid(format!(
                        "a batch of {count} requests cannot fit in {} bytes",
                        body.len()
                    )));
                }
                let mut requests = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    requests.push(Request::read_after_id(0, &mut r)?);
                }
                Message::BatchRequest(requests)
            }
            T::Reply => Message::Reply(Reply::read(&mut r)?),
            T::ValidateConnection => Message::ValidateConnection,
            T::CloseConnection => Message::CloseConnection,
            T::Unknown(n) => {
                return Err(DecodeError::invalid(format!(
                    "message type {n} is not one of 0..4"
                )))
            }
        };
        if !r.is_empty() {
            return Err(DecodeError::invalid(format!(
                "{} bytes are left after the {} body",
                r.remaining(),
                kind.name()
            )));
        }
        Ok(message)
    }

    /// Appends the body (no header).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        match self {
            Message::Request(req) => {
                w.int(req.request_id);
                req.write_after_id(&mut w);
            }
            Message::BatchRequest(reqs) => {
                w.int(i32::try_from(reqs.len()).unwrap_or(i32::MAX));
                for req in reqs {
                    req.write_after_id(&mut w);
                }
            }
            Message::Reply(reply) => reply.write(&mut w),
            Message::ValidateConnection | Message::CloseConnection => {}
        }
    }
}
