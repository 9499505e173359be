//! `sister rest client`: calls the calculator and prints the course's lines (`add(10,5) = 15`).
//!
//! Like the course's `requests.get(url, params=..., timeout=3)`: one new connection per call, the
//! operands sent as the query string exactly as typed (so `-a ten` shows what the server says to it).

use std::time::Duration;

use serde_json::Value;

use crate::http::{self, CallError, Server};

/// How long one call may take once connected (the course's client uses 3 s).
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// What the server answered to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 200 with `{"result": n}`.
    Result(Value),
    /// Any other status (or a 200 without a result): the status and what the body said.
    Failed { status: u16, reason: String },
}

impl Answer {
    /// The line the client prints: `add(10,5) = 15`, or `add(10,x) failed: HTTP 400: Invalid input`.
    pub fn line(&self, op: &str, a: &str, b: &str) -> String {
        match self {
            Answer::Result(v) => format!("{op}({a},{b}) = {v}"),
            Answer::Failed { status, reason } => {
                format!("{op}({a},{b}) failed: HTTP {status}: {reason}")
            }
        }
    }
}

/// `GET /{op}?a=..&b=..` on `server` (`http://host:port` or `https://host:port`).
pub async fn call(server: &Server, op: &str, a: &str, b: &str, wait: Duration) -> Result<Answer, CallError> {
    let path = format!("/{}?a={}&b={}", encode(op), encode(a), encode(b));
    let reply = http::request(
        server,
        hyper::Method::GET,
        &path,
        &[("accept", "application/json")],
        Vec::new(),
        wait,
        TIMEOUT,
    )
    .await?;
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let status = reply.status.as_u16();
    tracing::debug!(status, body = %reply.text(), "GET {path}");
    Ok(match (status, json) {
        (200, Some(Value::Object(m))) if m.contains_key("result") => {
            Answer::Result(m.get("result").cloned().unwrap_or(Value::Null))
        }
        (_, Some(Value::Object(m))) if m.get("error").is_some() => Answer::Failed {
            status,
            reason: match m.get("error") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
        },
        _ => Answer::Failed {
            status,
            reason: format!(
                "{} {}",
                reply.status.canonical_reason().unwrap_or(""),
                reply.text()
            )
            .trim()
            .to_string(),
        },
    })
}

/// Percent-encode a query value (RFC 3986 §2.3: only unreserved characters stay as they are).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_courses() {
        assert_eq!(
            Answer::Result(Value::from(15)).line("add", "10", "5"),
            "add(10,5) = 15"
        );
        let failed = Answer::Failed {
            status: 400,
            reason: "Invalid input".into(),
        };
        assert_eq!(
            failed.line("add", "10", "x"),
            "add(10,x) failed: HTTP 400: Invalid input"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("-5"), "-5");
        assert_eq!(encode("a b&c=d"), "a%20b%26c%3Dd");
    }
}
