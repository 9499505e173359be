//! `sister rpc client`: sends JSON-RPC 2.0 requests with HTTP POST and prints `Result of add: 12`.
//!
//! One call per HTTP request, each on a new connection (as the course's `requests.post`), or several in
//! one batch (`--batch`): one POST carrying an array, one array back, matched to the calls by `id`.

use std::time::Duration;

use serde_json::{Map, Value};
use wire::jsonrpc::{self, Id, Params, Request, Response};

use crate::http::{self, CallError, Server};

/// How long one exchange may take once connected.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A call as typed on the command line: `add 10 2`, or `subtract minuend=42 subtrahend=23`.
///
/// Each argument is read as JSON when it is JSON (`10`, `2.5`, `"ten"`, `null`, `[1,2]`) and as a
/// string otherwise; `name=value` arguments make the params an object (by name).
pub fn parse_call(words: &[String]) -> Result<(String, Option<Params>), String> {
    let Some((method, args)) = words.split_first() else {
        return Err("a call needs a method name, e.g. `add 10 2`".into());
    };
    let as_value = |s: &str| serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.into()));
    fn named(a: &str) -> Option<(&str, &str)> {
        a.split_once('=')
            .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'))
    }
    let params = if !args.is_empty() && args.iter().all(|a| named(a).is_some()) {
        let mut m = Map::new();
        for a in args {
            if let Some((k, v)) = named(a) {
                m.insert(k.to_string(), as_value(v));
            }
        }
        Params::ByName(m)
    } else {
        Params::ByPosition(args.iter().map(|a| as_value(a)).collect())
    };
    Ok((method.clone(), Some(params)))
}

/// What came back for a POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The responses in the body (one, or a batch).
    Responses(Vec<Response>),
    /// An empty answer (`204 No Content` from sister, or an empty 200 from the course's server): the
    /// right answer to notifications only.
    Nothing,
}

/// Why a call had no JSON-RPC answer.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("HTTP {status} with a body that is not JSON-RPC: {reason} (body: {body})")]
    NotJsonRpc {
        status: u16,
        reason: jsonrpc::ResponseError,
        body: String,
    },
}

/// POST `requests` to `server` (`http://host:port` or `https://host:port`), as one request or, when
/// `batch`, as one array.
pub async fn post(
    server: &Server,
    requests: &[Request],
    batch: bool,
    wait: Duration,
) -> Result<Outcome, RpcError> {
    let body = match requests {
        [single] if !batch => single.encode(),
        many => jsonrpc::encode_batch(many),
    };
    tracing::debug!(body = %wire::escape::show(&body), "POST /");
    let reply = http::request(
        server,
        hyper::Method::POST,
        "/",
        &[("content-type", "application/json")],
        body,
        wait,
        TIMEOUT,
    )
    .await?;
    if reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Outcome::Nothing);
    }
    jsonrpc::decode_responses(&reply.body)
        .map(Outcome::Responses)
        .map_err(|reason| RpcError::NotJsonRpc {
            status: reply.status.as_u16(),
            reason,
            body: reply.text(),
        })
}

/// The line for one call: `Result of add: 12`, or `Error from divide: 1 Division by zero: ...`.
pub fn line(method: &str, response: &Response) -> String {
    match &response.outcome {
        Ok(v) => format!("Result of {method}: {v}"),
        Err(e) => format!("Error from {method}: {e}"),
    }
}

/// Pair each request that has an id with its response (a batch may answer in any order, spec §6).
pub fn match_responses<'a>(
    requests: &'a [Request],
    responses: &'a [Response],
) -> Vec<(&'a Request, Option<&'a Response>)> {
    requests
        .iter()
        .filter(|r| r.id.is_some())
        .map(|req| {
            let resp = responses.iter().find(|resp| Some(&resp.id) == req.id.as_ref());
            (req, resp)
        })
        .collect()
}

/// Requests numbered from 1, or notifications (no id) when `notify`.
pub fn build(calls: Vec<(String, Option<Params>)>, notify: bool) -> Vec<Request> {
    calls
        .into_iter()
        .enumerate()
        .map(|(i, (method, params))| Request {
            method,
            params,
            id: (!notify).then(|| Id::from(i as i64 + 1)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_calls() {
        assert_eq!(
            parse_call(&words("add 10 2")).unwrap(),
            ("add".into(), Some(Params::ByPosition(vec![json!(10), json!(2)])))
        );
        let (_, p) = parse_call(&words("subtract minuend=42 subtrahend=23")).unwrap();
        assert_eq!(p.unwrap().to_value(), json!({"minuend": 42, "subtrahend": 23}));
        let (_, p) = parse_call(&words("add ten 2.5")).unwrap();
        assert_eq!(p.unwrap().to_value(), json!(["ten", 2.5]));
        assert!(parse_call(&[]).is_err());
    }

    #[test]
    fn lines_and_matching() {
        let reqs = build(vec![("add".into(), None), ("multiply".into(), None)], false);
        let resps = vec![
            Response::result(Id::from(2), json!(50)),
            Response::result(Id::from(1), json!(12)),
        ];
        let pairs = match_responses(&reqs, &resps);
        assert_eq!(line("add", pairs[0].1.unwrap()), "Result of add: 12");
        assert_eq!(line("multiply", pairs[1].1.unwrap()), "Result of multiply: 50");
        assert!(build(vec![("add".into(), None)], true)[0].id.is_none());
    }
}
