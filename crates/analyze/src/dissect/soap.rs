//! SOAP 1.1 envelopes, read with the lab's own codec ([`wire::soap`], the one `sister soap` serves
//! with): a request's Body holds one element named for the operation (document/literal: `add` with
//! children `a`, `b`), an answer's the response element (`addResponse` with `addResult`) or a `Fault`
//! with `faultcode` and `faultstring` (SOAP 1.1 §4.4). The codec's XML reader refuses DTDs, bounds
//! depth and size, and never expands entities.

use std::collections::BTreeMap;

use wire::soap::{decode_call, decode_reply, Reply};
use wire::xml::Limits;

/// A one-line description when `body` is a SOAP envelope (`is_request`: read as a call, else as a
/// reply).
pub fn describe(body: &[u8], is_request: bool, fields: &mut BTreeMap<String, String>) -> Option<String> {
    let limits = Limits::default();
    if is_request {
        let call = decode_call(body, &limits).ok()?;
        fields.insert("operation".into(), call.operation.clone());
        for (k, v) in &call.args {
            fields.insert(format!("arg.{k}"), v.clone().unwrap_or_else(|| "nil".into()));
        }
        return Some(format!("call {call}"));
    }
    match decode_reply(body, &limits).ok()? {
        Reply::Response(el) => {
            fields.insert("operation".into(), el.local.clone());
            let parts: Vec<String> = el
                .children
                .iter()
                .take(32)
                .map(|c| {
                    fields.insert(format!("arg.{}", c.local), c.text.clone());
                    format!("{}={}", c.local, c.text)
                })
                .collect();
            Some(format!("{} {}", el.local, parts.join(", ")))
        }
        Reply::Fault(f) => {
            fields.insert("operation".into(), "Fault".into());
            fields.insert("faultstring".into(), f.string.clone());
            Some(format!("Fault {f}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_result_fault() {
        let call = br#"<?xml version='1.0' encoding='utf-8'?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:add xmlns:ns0="spyne.examples.calculator"><ns0:a>10</ns0:a><ns0:b>5</ns0:b></ns0:add></soap-env:Body></soap-env:Envelope>"#;
        assert_eq!(
            describe(call, true, &mut BTreeMap::new()).unwrap(),
            "call add(a=10, b=5)"
        );
        let resp = br#"<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="spyne.examples.calculator"><soap11env:Body><tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse></soap11env:Body></soap11env:Envelope>"#;
        assert_eq!(
            describe(resp, false, &mut BTreeMap::new()).unwrap(),
            "addResponse addResult=15"
        );
        let fault = br#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault><faultcode>e:Client</faultcode><faultstring>bad a</faultstring></e:Fault></e:Body></e:Envelope>"#;
        let f = describe(fault, false, &mut BTreeMap::new()).unwrap();
        assert!(f.starts_with("Fault") && f.contains("bad a"), "{f}");
        assert_eq!(describe(b"<!DOCTYPE x><x/>", true, &mut BTreeMap::new()), None);
        assert_eq!(
            describe(b"<html><body/></html>", false, &mut BTreeMap::new()),
            None
        );
    }
}
