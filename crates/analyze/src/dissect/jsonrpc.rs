//! JSON-RPC 2.0 (<https://www.jsonrpc.org/specification>) inside an HTTP body, read with the lab's own
//! codec ([`wire::jsonrpc`], the one `sister rpc` serves with): a call is an object with `method`,
//! `params` (array: positional, object: named) and `id` (absent: a notification, no answer); the answer
//! carries the same `id` and either `result` or `error {code, message}` (§5). The summaries are the
//! codec's own `Display` lines.

use std::collections::BTreeMap;

use serde_json::Value;
use wire::jsonrpc::{request_from, response_from, Params};

/// A one-line description when `v` is a JSON-RPC call, result, error or batch.
pub fn describe(v: &Value, fields: &mut BTreeMap<String, String>) -> Option<String> {
    match v {
        Value::Array(items) if !items.is_empty() && items.iter().all(is_jsonrpc) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| describe(i, &mut BTreeMap::new()))
                .collect();
            fields.insert("batch".into(), items.len().to_string());
            Some(format!("batch of {}: {}", items.len(), parts.join("; ")))
        }
        Value::Object(o) if is_jsonrpc(v) => {
            if o.contains_key("method") {
                return Some(match request_from(v) {
                    Ok(req) => {
                        fields.insert("rpc_method".into(), req.method.clone());
                        if let Some(p) = &req.params {
                            fields.insert("params".into(), params_text(p));
                        }
                        if let Some(id) = &req.id {
                            fields.insert("id".into(), id.to_string());
                        }
                        let kind = if req.is_notification() {
                            "notification"
                        } else {
                            "call"
                        };
                        format!("{kind} {req}")
                    }
                    // Not a valid Request: the codec says why, as the error a server would answer.
                    Err(resp) => {
                        fields.insert("error".into(), resp.to_string());
                        format!("invalid request: {resp}")
                    }
                });
            }
            let resp = response_from(v).ok()?;
            fields.insert("id".into(), resp.id.to_string());
            match &resp.outcome {
                Ok(result) => {
                    fields.insert("result".into(), super::json_line(result, 200));
                }
                Err(e) => {
                    fields.insert("error_code".into(), e.code.to_string());
                    fields.insert("error_message".into(), e.message.clone());
                }
            }
            Some(resp.to_string())
        }
        _ => None,
    }
}

fn params_text(p: &Params) -> String {
    super::json_line(&p.to_value(), 200)
}

/// Does this JSON value look like JSON-RPC at all (rather than a REST body such as `{"result": 15}`)?
fn is_jsonrpc(v: &Value) -> bool {
    let Value::Object(o) = v else { return false };
    o.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        || (o.contains_key("method") && o.contains_key("params"))
        || (o.contains_key("id") && (o.contains_key("result") || o.contains_key("error")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<String> {
        describe(&serde_json::from_str(s).unwrap(), &mut BTreeMap::new())
    }

    #[test]
    fn calls_results_errors() {
        assert_eq!(
            d(r#"{"jsonrpc":"2.0","method":"add","params":[10,2],"id":1}"#).unwrap(),
            "call add[10,2] id=1"
        );
        assert!(d(r#"{"jsonrpc":"2.0","method":"log","params":{"a":1}}"#)
            .unwrap()
            .starts_with("notification log"));
        assert_eq!(
            d(r#"{"jsonrpc":"2.0","result":12,"id":1}"#).unwrap(),
            "result 12 id=1"
        );
        let err =
            d(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}"#).unwrap();
        assert!(err.contains("-32601") && err.ends_with("id=2"), "{err}");
        assert_eq!(d(r#"{"result": 15}"#), None, "plain REST JSON is not JSON-RPC");
    }
}
