//! SOAP 1.1 envelopes (<https://www.w3.org/TR/2000/NOTE-SOAP-20000508/>): `Envelope` > `Body` > one
//! element named for the operation (document/literal: `add` with children `a`, `b`; the answer
//! `addResponse` with `addResult`), or a `Fault` with `faultcode` and `faultstring` (§4.4).
//!
//! Read with quick-xml, which never expands entities from a DTD; a DOCTYPE is refused (SOAP 1.1 §3
//! forbids it).

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

/// A one-line description when `body` is a SOAP envelope.
pub fn describe(body: &[u8], fields: &mut BTreeMap<String, String>) -> Option<String> {
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut operation: Option<String> = None;
    let mut args: Vec<(String, String)> = Vec::new();
    let mut current_arg: Option<String> = None;
    let mut buf = Vec::new();
    let mut saw_envelope = false;
    loop {
        let event = reader.read_event_into(&mut buf).ok()?;
        match event {
            Event::DocType(_) => return None,
            Event::Start(ref e) | Event::Empty(ref e) if path.len() < 64 => {
                let empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let depth = path.len();
                if depth == 0 && name == "Envelope" {
                    saw_envelope = true;
                }
                let in_body = path.get(1).is_some_and(|b| b == "Body");
                if saw_envelope && depth == 2 && in_body && operation.is_none() {
                    operation = Some(name.clone());
                } else if operation.is_some() && depth >= 3 && in_body && current_arg.is_none() {
                    current_arg = Some(name.clone());
                }
                if !empty {
                    path.push(name);
                } else if let Some(a) = current_arg.take() {
                    args.push((a, String::new()));
                }
            }
            Event::Text(t) => {
                if let Some(a) = &current_arg {
                    let text = t.unescape().map(|c| c.into_owned()).unwrap_or_default();
                    let text = text.trim().to_string();
                    if !text.is_empty() && args.len() < 32 {
                        args.push((a.clone(), text));
                    }
                }
            }
            Event::End(_) => {
                let closed = path.pop();
                if closed.is_some() && closed == current_arg {
                    current_arg = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let op = operation?;
    if !saw_envelope {
        return None;
    }
    fields.insert("operation".into(), op.clone());
    for (k, v) in &args {
        fields.insert(format!("arg.{k}"), v.clone());
    }
    let list = args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(if op == "Fault" {
        let get = |k: &str| {
            args.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        format!("Fault {} '{}'", get("faultcode"), get("faultstring"))
    } else if op.ends_with("Response") {
        format!("{op} {list}")
    } else {
        format!("call {op}({list})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_result_fault() {
        let call = br#"<?xml version='1.0' encoding='utf-8'?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:add xmlns:ns0="spyne.examples.calculator"><ns0:a>10</ns0:a><ns0:b>5</ns0:b></ns0:add></soap-env:Body></soap-env:Envelope>"#;
        assert_eq!(
            describe(call, &mut BTreeMap::new()).unwrap(),
            "call add(a=10, b=5)"
        );
        let resp = br#"<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="spyne.examples.calculator"><soap11env:Body><tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse></soap11env:Body></soap11env:Envelope>"#;
        assert_eq!(
            describe(resp, &mut BTreeMap::new()).unwrap(),
            "addResponse addResult=15"
        );
        let fault = br#"<e:Envelope xmlns:e="x"><e:Body><e:Fault><faultcode>e:Client</faultcode><faultstring>bad a</faultstring></e:Fault></e:Body></e:Envelope>"#;
        assert_eq!(
            describe(fault, &mut BTreeMap::new()).unwrap(),
            "Fault e:Client 'bad a'"
        );
        assert_eq!(describe(b"<!DOCTYPE x><x/>", &mut BTreeMap::new()), None);
        assert_eq!(describe(b"<html><body/></html>", &mut BTreeMap::new()), None);
    }
}
