//! JSON-RPC 2.0 (<https://www.jsonrpc.org/specification>) inside an HTTP body: a call is an object with
//! `method`, `params` (array: positional, object: named) and `id` (absent: a notification, no answer);
//! the answer carries the same `id` and either `result` or `error {code, message}` (§5).

use std::collections::BTreeMap;

use serde_json::Value;

fn show(v: &Value) -> String {
    super::json_line(v, 60)
}

fn params(p: Option<&Value>) -> String {
    match p {
        Some(Value::Array(a)) => a.iter().map(show).collect::<Vec<_>>().join(", "),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", show(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => show(other),
        None => String::new(),
    }
}

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
            let id = o.get("id").map(show);
            if let Some(id) = &id {
                fields.insert("id".into(), id.clone());
            }
            let id_text = id.as_ref().map(|i| format!(" id={i}")).unwrap_or_default();
            if let Some(Value::String(method)) = o.get("method") {
                fields.insert("rpc_method".into(), method.clone());
                fields.insert("params".into(), params(o.get("params")));
                let kind = if id.is_some() { "call" } else { "notification" };
                return Some(format!("{kind} {method}({}){id_text}", params(o.get("params"))));
            }
            if let Some(err) = o.get("error") {
                let code = err.get("code").map(show).unwrap_or_default();
                let message = err.get("message").and_then(Value::as_str).unwrap_or("");
                fields.insert("error_code".into(), code.clone());
                fields.insert("error_message".into(), message.to_string());
                return Some(format!("error {code} '{message}'{id_text}"));
            }
            let result = o.get("result").map(show).unwrap_or_default();
            fields.insert("result".into(), result.clone());
            Some(format!("result {result}{id_text}"))
        }
        _ => None,
    }
}

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
            "call add(10, 2) id=1"
        );
        assert_eq!(
            d(r#"{"jsonrpc":"2.0","method":"log","params":{"a":1}}"#).unwrap(),
            "notification log(a=1)"
        );
        assert_eq!(
            d(r#"{"jsonrpc":"2.0","result":12,"id":1}"#).unwrap(),
            "result 12 id=1"
        );
        assert_eq!(
            d(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}"#).unwrap(),
            "error -32601 'Method not found' id=2"
        );
        assert_eq!(d(r#"{"result": 15}"#), None, "plain REST JSON is not JSON-RPC");
    }
}
