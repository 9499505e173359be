//! JSON-RPC 2.0, the whole specification (<https://www.jsonrpc.org/specification>), on serde_json.
//!
//! Written by hand rather than with a JSON-RPC crate so that every rule of the spec is a line a student
//! can find here, and so that the analyzer reads captures with the same code the server runs.
//!
//! The messages (spec §4, §5):
//! ```text
//! request       {"jsonrpc": "2.0", "method": "add", "params": [10, 2], "id": 1}
//! notification  {"jsonrpc": "2.0", "method": "add", "params": [10, 2]}          (no "id": no answer)
//! response      {"jsonrpc": "2.0", "result": 12, "id": 1}
//! error         {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 1}
//! batch         [request, notification, request, ...]  ->  [response, response]  (§6)
//! ```
//! What to notice:
//! - The `id` is the only thing that ties an answer to its question; it may be a string, a number
//!   (fractions allowed, though discouraged) or null, and the server echoes it unchanged (§4).
//! - A request *without* `id` is a notification: the server runs it and never answers, not even with an
//!   error (§4.1). `"id": null` is *not* a notification (it is a discouraged, but valid, request).
//! - Errors have reserved codes (§5.1): -32700 the body is not JSON, -32600 it is JSON but not a request
//!   (an empty batch `[]` included), -32601 no such method, -32602 wrong parameters, -32603 the server
//!   failed; -32000..-32099 are for the implementation. Everything else is free for the application:
//!   sister's calculator answers division by zero with [`codes::DIVISION_BY_ZERO`] (1).
//! - When the id cannot be known (a parse error, an invalid request) the error's id is null (§5).
//! - A batch answers with an array of the responses, in any order, leaving out notifications; if every
//!   entry was a notification there is nothing to send at all (§6). Over HTTP sister then answers
//!   `204 No Content`.

use std::borrow::Cow;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{Map, Number, Value};

/// The only protocol version this codec speaks; every message carries it as `"jsonrpc": "2.0"`.
pub const VERSION: &str = "2.0";

/// Error codes (spec §5.1) and sister's application codes.
pub mod codes {
    /// Invalid JSON was received by the server.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid Request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The method does not exist / is not available.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid method parameter(s).
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal JSON-RPC error.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// -32000 to -32099: reserved for implementation-defined server errors.
    pub const SERVER_ERROR_RANGE: std::ops::RangeInclusive<i64> = -32099..=-32000;

    /// sister's calculator: the divisor was zero. An application error, so outside the reserved
    /// -32768..-32000 range, as §5.1 leaves "the remainder of the space" to the application.
    pub const DIVISION_BY_ZERO: i64 = 1;
    /// sister's calculator: the exact result does not fit in a 64-bit integer.
    pub const OVERFLOW: i64 = 2;

    /// The message the spec gives each reserved code, for errors sister builds and the analyzer prints.
    pub fn message(code: i64) -> &'static str {
        match code {
            PARSE_ERROR => "Parse error",
            INVALID_REQUEST => "Invalid Request",
            METHOD_NOT_FOUND => "Method not found",
            INVALID_PARAMS => "Invalid params",
            INTERNAL_ERROR => "Internal error",
            c if SERVER_ERROR_RANGE.contains(&c) => "Server error",
            _ => "Application error",
        }
    }
}

/// A request id: a string, a number or null (spec §4). Numbers keep their JSON form (1, 1.5).
#[derive(Debug, Clone, PartialEq)]
pub enum Id {
    Number(Number),
    String(String),
    Null,
}

impl Id {
    /// The id as a JSON value, to write it back unchanged.
    pub fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => Value::Number(n.clone()),
            Id::String(s) => Value::String(s.clone()),
            Id::Null => Value::Null,
        }
    }

    /// A JSON value as an id; objects, arrays and booleans are not ids.
    pub fn from_value(v: &Value) -> Option<Id> {
        match v {
            Value::Number(n) => Some(Id::Number(n.clone())),
            Value::String(s) => Some(Id::String(s.clone())),
            Value::Null => Some(Id::Null),
            _ => None,
        }
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Id {
        Id::Number(n.into())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id::String(s.to_string())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

/// Parameters: by position (an array) or by name (an object), spec §4.2.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    ByPosition(Vec<Value>),
    ByName(Map<String, Value>),
}

impl Params {
    pub fn to_value(&self) -> Value {
        match self {
            Params::ByPosition(v) => Value::Array(v.clone()),
            Params::ByName(m) => Value::Object(m.clone()),
        }
    }
}

/// A request or, when `id` is `None`, a notification (spec §4, §4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// `None` when the member was omitted (allowed, §4).
    pub params: Option<Params>,
    /// `None`: a notification; `Some(Id::Null)`: a request whose id is null.
    pub id: Option<Id>,
}

impl Request {
    /// A request with positional parameters.
    pub fn call(method: &str, params: Vec<Value>, id: impl Into<Id>) -> Request {
        Request {
            method: method.to_string(),
            params: Some(Params::ByPosition(params)),
            id: Some(id.into()),
        }
    }

    /// A notification with positional parameters.
    pub fn notification(method: &str, params: Vec<Value>) -> Request {
        Request {
            method: method.to_string(),
            params: Some(Params::ByPosition(params)),
            id: None,
        }
    }

    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    /// Write the request: `{"jsonrpc":"2.0","method":...,"params":...,"id":...}` (members in that order,
    /// so a capture reads like the spec's examples).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":");
        write_json(out, &Value::String(self.method.clone()));
        if let Some(p) = &self.params {
            out.extend_from_slice(b",\"params\":");
            write_json(out, &p.to_value());
        }
        if let Some(id) = &self.id {
            out.extend_from_slice(b",\"id\":");
            write_json(out, &id.to_value());
        }
        out.push(b'}');
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }
}

impl fmt::Display for Request {
    /// `add[10,2] id=1` or `add[10,2] (notification)`: the log and analyzer line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.method)?;
        match &self.params {
            Some(p) => write!(f, "{}", p.to_value())?,
            None => write!(f, "()")?,
        }
        match &self.id {
            Some(id) => write!(f, " id={id}"),
            None => write!(f, " (notification)"),
        }
    }
}

/// The error object of a response (spec §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    /// More about the error: sister says here exactly what was wrong.
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with the spec's message for `code` and `data` saying what was wrong.
    pub fn new(code: i64, data: impl Into<String>) -> ErrorObject {
        ErrorObject {
            code,
            message: codes::message(code).to_string(),
            data: Some(Value::String(data.into())),
        }
    }

    pub fn with_message(code: i64, message: impl Into<String>, data: Option<Value>) -> ErrorObject {
        ErrorObject {
            code,
            message: message.into(),
            data,
        }
    }

    /// Write `{"code":...,"message":...,"data":...}` in the spec's order.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"code\":");
        out.extend_from_slice(self.code.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        write_json(out, &Value::String(self.message.clone()));
        if let Some(d) = &self.data {
            out.extend_from_slice(b",\"data\":");
            write_json(out, d);
        }
        out.push(b'}');
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {} {}", self.code, self.message)?;
        match &self.data {
            Some(Value::String(s)) => write!(f, ": {s}"),
            Some(d) => write!(f, ": {d}"),
            None => Ok(()),
        }
    }
}

/// A response: the id of its request and either a result or an error, never both (spec §5).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Id,
    pub outcome: Result<Value, ErrorObject>,
}

impl Response {
    pub fn result(id: Id, result: Value) -> Response {
        Response {
            id,
            outcome: Ok(result),
        }
    }

    pub fn error(id: Id, error: ErrorObject) -> Response {
        Response {
            id,
            outcome: Err(error),
        }
    }

    /// Write `{"jsonrpc":"2.0","result":...,"id":...}` or `{"jsonrpc":"2.0","error":{...},"id":...}`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",");
        match &self.outcome {
            Ok(v) => {
                out.extend_from_slice(b"\"result\":");
                write_json(out, v);
            }
            Err(e) => {
                out.extend_from_slice(b"\"error\":");
                e.encode_into(out);
            }
        }
        out.extend_from_slice(b",\"id\":");
        write_json(out, &self.id.to_value());
        out.push(b'}');
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Ok(v) => write!(f, "result {v} id={}", self.id),
            Err(e) => write!(f, "{e} id={}", self.id),
        }
    }
}

fn write_json(out: &mut Vec<u8>, v: &Value) {
    // Writing a Value into a Vec cannot fail (no I/O error, and a Value's keys are strings); NaN and
    // infinities do not exist in a Value.
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// One entry of what a client sent: a request, or the error answer an invalid entry gets.
pub type Entry = Result<Request, Response>;

/// What a client sent: one entry, or a batch of them (spec §6).
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Single(Entry),
    Batch(Vec<Entry>),
}

/// Read a request body (server side). `Err` is the one response for a body that cannot be read at all:
/// not JSON (-32700), or an empty batch (-32600); both carry id null.
pub fn decode_requests(body: &[u8]) -> Result<Incoming, Response> {
    if let Some(req) = single_valid_request(body) {
        return Ok(Incoming::Single(Ok(req)));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Response::error(
            Id::Null,
            ErrorObject::new(codes::PARSE_ERROR, format!("not valid JSON: {e}")),
        )
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err(Response::error(
            Id::Null,
            ErrorObject::new(
                codes::INVALID_REQUEST,
                "an empty batch: a batch must hold at least one request (spec §6)",
            ),
        )),
        Value::Array(items) => Ok(Incoming::Batch(items.into_iter().map(request_of).collect())),
        other => Ok(Incoming::Single(request_of(other))),
    }
}

/// The members of a request object read straight into fields, for [`single_valid_request`].
#[derive(serde::Deserialize)]
struct Members<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
}

/// `Some` for a member that is there, even when it is `null` (`"id": null` is not a notification).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// The common case, quickly: a body that is one valid request object, read without first building a
/// map of its members (a server reads one per HTTP request, and the map was most of the work). `None`
/// for anything else, a batch, a duplicated member or any broken rule included: [`decode_requests`]
/// then reads it the general way, which says exactly what is wrong. So this changes no answer, only
/// the time to reach it.
fn single_valid_request(body: &[u8]) -> Option<Request> {
    let m: Members = serde_json::from_slice(body).ok()?;
    if m.jsonrpc != VERSION {
        return None;
    }
    let params = match m.params {
        None => None,
        Some(Value::Array(a)) => Some(Params::ByPosition(a)),
        Some(Value::Object(o)) => Some(Params::ByName(o)),
        Some(_) => return None,
    };
    let id = match &m.id {
        None => None,
        Some(v) => Some(Id::from_value(v)?),
    };
    Some(Request {
        method: m.method.into_owned(),
        params,
        id,
    })
}

/// Check one JSON value against the rules of a Request object (spec §4).
pub fn request_from(v: &Value) -> Entry {
    request_of(v.clone())
}

/// [`request_from`] on a value of its own, whose method and params it takes instead of copying them
/// (the server's path: one request per HTTP request).
fn request_of(v: Value) -> Entry {
    let invalid =
        |id: Id, why: String| Err(Response::error(id, ErrorObject::new(codes::INVALID_REQUEST, why)));
    let mut obj = match v {
        Value::Object(obj) => obj,
        other => {
            return invalid(
                Id::Null,
                format!("a request is a JSON object, this is {}", json_kind(&other)),
            )
        }
    };
    // The id first: if it is itself valid, the error answer can carry it, which helps a batch client
    // tell which entry was wrong. An id of another type cannot be echoed, so the answer gets null (§5).
    let id = match obj.get("id") {
        None => None,
        Some(raw) => match Id::from_value(raw) {
            Some(id) => Some(id),
            None => {
                return invalid(
                    Id::Null,
                    format!(
                        "\"id\" must be a string, a number or null, not {}",
                        json_kind(raw)
                    ),
                )
            }
        },
    };
    let echo = id.clone().unwrap_or(Id::Null);
    match obj.get("jsonrpc") {
        Some(Value::String(s)) if s == VERSION => {}
        Some(other) => return invalid(echo, format!("\"jsonrpc\" must be exactly \"2.0\", not {other}")),
        None => {
            return invalid(
                echo,
                "\"jsonrpc\": \"2.0\" is missing (JSON-RPC 1.0 is not spoken here)".into(),
            )
        }
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(other) => {
            return invalid(
                echo,
                format!("\"method\" must be a string, not {}", json_kind(&other)),
            )
        }
        None => return invalid(echo, "\"method\" is missing".into()),
    };
    let params = match obj.remove("params") {
        None => None,
        Some(Value::Array(a)) => Some(Params::ByPosition(a)),
        Some(Value::Object(m)) => Some(Params::ByName(m)),
        Some(other) => {
            return invalid(
                echo,
                format!(
                    "\"params\" must be an array or an object, not {}",
                    json_kind(&other)
                ),
            )
        }
    };
    Ok(Request { method, params, id })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a server sends back for one body: nothing (notifications only), one response, or a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Nothing may be sent: every entry was a notification (spec §4.1, §6).
    Nothing,
    Single(Response),
    Batch(Vec<Response>),
}

impl Answer {
    /// The body to send, or `None` for [`Answer::Nothing`].
    pub fn encode(&self) -> Option<Vec<u8>> {
        match self {
            Answer::Nothing => None,
            Answer::Single(r) => Some(r.encode()),
            Answer::Batch(responses) => {
                let mut out = Vec::with_capacity(64 * responses.len());
                out.push(b'[');
                for (i, r) in responses.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    r.encode_into(&mut out);
                }
                out.push(b']');
                Some(out)
            }
        }
    }

    /// Every response in the answer.
    pub fn responses(&self) -> &[Response] {
        match self {
            Answer::Nothing => &[],
            Answer::Single(r) => std::slice::from_ref(r),
            Answer::Batch(v) => v,
        }
    }
}

/// The server's side of the spec in one function: read `body`, run each request through `call`, and
/// say what to answer.
///
/// `call` gets every valid request, notifications included (they run, their answer is dropped).
/// Methods whose names start with `rpc.` are reserved for the protocol (§4) and never reach `call`.
pub fn respond(body: &[u8], mut call: impl FnMut(&Request) -> Result<Value, ErrorObject>) -> Answer {
    let mut run = |entry: Entry| -> Option<Response> {
        match entry {
            Err(invalid) => Some(invalid),
            Ok(req) => {
                let outcome = if req.method.starts_with("rpc.") {
                    Err(ErrorObject::new(
                        codes::METHOD_NOT_FOUND,
                        format!(
                            "`{}`: names beginning with rpc. are reserved for the protocol (spec §4)",
                            req.method
                        ),
                    ))
                } else {
                    // A method that panics is the server's fault (-32603); the other requests of a
                    // batch, and the server, go on.
                    catch_unwind(AssertUnwindSafe(|| call(&req))).unwrap_or_else(|_| {
                        Err(ErrorObject::new(
                            codes::INTERNAL_ERROR,
                            format!("the method `{}` failed inside the server", req.method),
                        ))
                    })
                };
                // A notification is never answered, even when it failed (§4.1).
                let id = req.id?;
                Some(Response { id, outcome })
            }
        }
    };
    match decode_requests(body) {
        Err(resp) => Answer::Single(resp),
        Ok(Incoming::Single(entry)) => run(entry).map_or(Answer::Nothing, Answer::Single),
        Ok(Incoming::Batch(entries)) => {
            let responses: Vec<Response> = entries.into_iter().filter_map(&mut run).collect();
            if responses.is_empty() {
                Answer::Nothing
            } else {
                Answer::Batch(responses)
            }
        }
    }
}

/// [`respond`], encoded: the body to answer with, or `None` when nothing may be sent.
pub fn answer(body: &[u8], call: impl FnMut(&Request) -> Result<Value, ErrorObject>) -> Option<Vec<u8>> {
    respond(body, call).encode()
}

/// Why a response body could not be read (client side).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseError {
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    #[error("the answer is not a JSON-RPC 2.0 response: {0}")]
    Invalid(String),
}

/// Read a response body (client side): one response, or a batch of them.
pub fn decode_responses(body: &[u8]) -> Result<Vec<Response>, ResponseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    match value {
        Value::Array(items) => items.iter().map(response_from).collect(),
        other => Ok(vec![response_from(&other)?]),
    }
}

/// Check one JSON value against the rules of a Response object (spec §5).
pub fn response_from(v: &Value) -> Result<Response, ResponseError> {
    let bad = |why: &str| Err(ResponseError::Invalid(why.to_string()));
    let Value::Object(obj) = v else {
        return bad("not an object");
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some(VERSION) {
        return bad("\"jsonrpc\": \"2.0\" is missing");
    }
    let Some(id) = obj.get("id").and_then(Id::from_value) else {
        return bad("\"id\" is missing or not a string, number or null");
    };
    match (obj.get("result"), obj.get("error")) {
        (Some(r), None) => Ok(Response::result(id, r.clone())),
        (None, Some(Value::Object(e))) => {
            let Some(code) = e.get("code").and_then(Value::as_i64) else {
                return bad("the error has no integer \"code\"");
            };
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok(Response::error(
                id,
                ErrorObject::with_message(code, message, e.get("data").cloned()),
            ))
        }
        (Some(_), Some(_)) => bad("both \"result\" and \"error\" (exactly one is allowed)"),
        (None, Some(_)) => bad("\"error\" is not an object"),
        (None, None) => bad("neither \"result\" nor \"error\""),
    }
}

/// Write a batch of requests as one body.
pub fn encode_batch(requests: &[Request]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * requests.len());
    out.push(b'[');
    for (i, r) in requests.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        r.encode_into(&mut out);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the quick path for one valid request accepts, the general path reads the same way; what
    /// it leaves (None) goes the general way anyway.
    #[test]
    fn quick_and_general_reading_agree() {
        for (i, body) in [
            r#"{"jsonrpc": "2.0", "method": "add", "params": [10, 2], "id": 1}"#,
            r#"{"id": "x", "method": "sub\u0074ract", "jsonrpc": "2.0", "params": {"a": 1}, "extra": true}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "params": [1, 1]}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "id": null}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "id": 1.5}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "params": null, "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "params": 3, "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "id": [1]}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "id": {}}"#,
            r#"{"jsonrpc": "1.0", "method": "add", "id": 1}"#,
            r#"{"jsonrpc": 2.0, "method": "add", "id": 1}"#,
            r#"{"method": "add", "id": 1}"#,
            r#"{"jsonrpc": "2.0", "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": 1, "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": "a", "method": "b", "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "id": 1} trailing"#,
            r#"[{"jsonrpc": "2.0", "method": "add", "id": 1}]"#,
            r#""just a string""#,
            "not json",
        ]
        .into_iter()
        .enumerate()
        {
            let general = serde_json::from_slice::<Value>(body.as_bytes())
                .ok()
                .map(|v| request_from(&v));
            let quick = single_valid_request(body.as_bytes());
            match (&quick, &general) {
                (Some(q), Some(Ok(g))) => assert_eq!(q, g, "{body}"),
                (Some(q), other) => panic!("{body}: quick read {q:?}, general {other:?}"),
                (None, _) => assert!(i >= 5, "{body}: the quick path should read this one"),
            }
        }
    }
    use serde_json::json;

    /// A tiny dispatcher for the spec's own examples (§7).
    fn spec_methods(req: &Request) -> Result<Value, ErrorObject> {
        let nums: Vec<i64> = match &req.params {
            Some(Params::ByPosition(p)) => p.iter().filter_map(Value::as_i64).collect(),
            Some(Params::ByName(m)) => {
                let get = |k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0);
                vec![get("minuend"), get("subtrahend")]
            }
            None => vec![],
        };
        match req.method.as_str() {
            "subtract" => Ok(json!(nums[0] - nums[1])),
            "sum" => Ok(json!(nums.iter().sum::<i64>())),
            "notify_hello" | "notify_sum" | "update" | "foobar" if req.id.is_none() => Ok(json!(null)),
            "get_data" => Ok(json!(["hello", 5])),
            m => Err(ErrorObject::new(
                codes::METHOD_NOT_FOUND,
                format!("no method `{m}`"),
            )),
        }
    }

    fn ask(body: &str) -> Option<Value> {
        answer(body.as_bytes(), spec_methods).map(|b| serde_json::from_slice(&b).unwrap())
    }

    fn without_data(mut v: Value) -> Value {
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Object(e)) = m.get_mut("error") {
                        e.remove("data");
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut v);
        v
    }

    #[test]
    fn spec_examples_positional_and_named() {
        assert_eq!(
            ask(r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#),
            Some(json!({"jsonrpc": "2.0", "result": 19, "id": 1}))
        );
        assert_eq!(
            ask(
                r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 4}"#
            ),
            Some(json!({"jsonrpc": "2.0", "result": 19, "id": 4}))
        );
    }

    #[test]
    fn notifications_get_nothing() {
        assert_eq!(
            ask(r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#),
            None
        );
        // Even a failing notification is not answered.
        assert_eq!(ask(r#"{"jsonrpc": "2.0", "method": "nope"}"#), None);
        // A batch of notifications only: nothing at all.
        assert_eq!(
            ask(
                r#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#
            ),
            None
        );
    }

    #[test]
    fn spec_error_examples() {
        assert_eq!(
            ask(r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#).map(without_data),
            Some(
                json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"})
            )
        );
        assert_eq!(
            ask(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#).map(without_data),
            Some(json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}))
        );
        assert_eq!(
            ask(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#).map(without_data),
            Some(
                json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null})
            )
        );
        assert_eq!(
            ask(r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#).map(without_data),
            Some(json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}))
        );
        assert_eq!(
            ask("[]").map(without_data),
            Some(
                json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null})
            )
        );
        let invalid =
            json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null});
        assert_eq!(ask("[1]").map(without_data), Some(json!([invalid])));
        assert_eq!(
            ask("[1,2,3]").map(without_data),
            Some(json!([invalid, invalid, invalid]))
        );
    }

    #[test]
    fn spec_mixed_batch() {
        let got = ask(r#"[
            {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
        ]"#)
        .map(without_data);
        assert_eq!(
            got,
            Some(json!([
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]))
        );
    }

    #[test]
    fn ids_of_every_kind_are_echoed_unchanged() {
        for id in [r#""abc""#, "7", "-3", "1.5", "null", "18446744073709551615"] {
            let body = format!(r#"{{"jsonrpc":"2.0","method":"subtract","params":[2,1],"id":{id}}}"#);
            let out = String::from_utf8(answer(body.as_bytes(), spec_methods).unwrap()).unwrap();
            assert_eq!(out, format!(r#"{{"jsonrpc":"2.0","result":1,"id":{id}}}"#));
        }
    }

    #[test]
    fn invalid_requests_say_why() {
        for (body, why) in [
            (
                r#"{"method":"subtract","id":1}"#,
                "\"jsonrpc\": \"2.0\" is missing",
            ),
            (
                r#"{"jsonrpc":"1.0","method":"subtract","id":1}"#,
                "exactly \"2.0\"",
            ),
            (r#"{"jsonrpc":"2.0","id":1}"#, "\"method\" is missing"),
            (
                r#"{"jsonrpc":"2.0","method":"subtract","params":5,"id":1}"#,
                "\"params\" must be",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"subtract","id":{}}"#,
                "\"id\" must be",
            ),
            (r#""just a string""#, "a request is a JSON object"),
        ] {
            let out = ask(body).unwrap();
            assert_eq!(out["error"]["code"], json!(-32600), "{body}");
            let data = out["error"]["data"].as_str().unwrap();
            assert!(data.contains(why), "{body}: {data}");
        }
        // A valid id is echoed even when the rest is invalid; an invalid one becomes null.
        assert_eq!(
            ask(r#"{"jsonrpc":"1.0","method":"x","id":1}"#).unwrap()["id"],
            json!(1)
        );
        assert_eq!(
            ask(r#"{"jsonrpc":"2.0","method":"x","id":[1]}"#).unwrap()["id"],
            json!(null)
        );
    }

    #[test]
    fn a_panicking_method_is_an_internal_error() {
        let out = answer(
            br#"[{"jsonrpc":"2.0","method":"boom","id":1},{"jsonrpc":"2.0","method":"subtract","params":[3,1],"id":2}]"#,
            |req| {
                if req.method == "boom" {
                    panic!("boom");
                }
                spec_methods(req)
            },
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["error"]["code"], json!(-32603));
        assert_eq!(v[1]["result"], json!(2));
    }

    #[test]
    fn reserved_rpc_methods_are_not_found() {
        let out = ask(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#).unwrap();
        assert_eq!(out["error"]["code"], json!(-32601));
    }

    #[test]
    fn encodes_with_members_in_spec_order() {
        let req = Request::call("add", vec![json!(10), json!(2)], 1);
        assert_eq!(
            String::from_utf8(req.encode()).unwrap(),
            r#"{"jsonrpc":"2.0","method":"add","params":[10,2],"id":1}"#
        );
        assert_eq!(
            String::from_utf8(Request::notification("add", vec![]).encode()).unwrap(),
            r#"{"jsonrpc":"2.0","method":"add","params":[]}"#
        );
        let err = Response::error(Id::from(3), ErrorObject::new(codes::DIVISION_BY_ZERO, "b is 0"));
        assert_eq!(
            String::from_utf8(err.encode()).unwrap(),
            r#"{"jsonrpc":"2.0","error":{"code":1,"message":"Application error","data":"b is 0"},"id":3}"#
        );
    }

    #[test]
    fn decodes_responses_including_pythons() {
        // What the course's json-rpc 1.15 server sends.
        let r = decode_responses(br#"{"result": 5.0, "id": 1, "jsonrpc": "2.0"}"#).unwrap();
        assert_eq!(r, vec![Response::result(Id::from(1), json!(5.0))]);
        let r = decode_responses(
            br#"[{"jsonrpc":"2.0","result":1,"id":"a"},{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":null}]"#,
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].outcome.as_ref().unwrap_err().code, -32601);
        // Round trip.
        let resp = Response::result(Id::from("x"), json!({"a": [1, 2]}));
        assert_eq!(decode_responses(&resp.encode()).unwrap(), vec![resp]);
    }

    #[test]
    fn broken_responses_are_errors_never_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"1",
            b"{}",
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":""},"id":1}"#,
            br#"{"jsonrpc":"2.0","error":{"message":"no code"},"id":1}"#,
            br#"{"jsonrpc":"2.0","result":1,"id":[]}"#,
            b"\xff\xfe",
        ] {
            assert!(decode_responses(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_a_parse_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        let out = ask(&deep).unwrap();
        assert_eq!(out["error"]["code"], json!(-32700));
    }

    /// The fuzz target's invariants (fuzz/fuzz_targets/jsonrpc_respond.rs) on the seeds, every
    /// truncation and 8,000 deterministic mutations, on every `cargo test` without nightly.
    #[test]
    fn seeds_truncations_and_mutations_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/jsonrpc");
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(seeds.len() >= 4);
        let check = |data: &[u8]| {
            let answer = respond(data, spec_methods_total);
            if let Some(body) = answer.encode() {
                let back = decode_responses(&body).unwrap();
                assert_eq!(back.len(), answer.responses().len());
            }
            let _ = decode_responses(data);
        };
        let mut rng = crate::testing::XorShift(0x9e37_79b9_7f4a_7c15u64);
        let mut next = move || rng.next();
        for seed in &seeds {
            for n in 0..seed.len() {
                check(&seed[..n]);
            }
            for _ in 0..2_000 {
                let mut m = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % m.len();
                    m[i] = b"[]{}\",:0-.e\\"[(next() % 12) as usize];
                }
                check(&m);
            }
        }
    }

    /// Like `spec_methods`, but total: it never panics on odd params (the fuzzing checks the codec).
    fn spec_methods_total(req: &Request) -> Result<Value, ErrorObject> {
        Ok(json!(req.method.len()))
    }
}
