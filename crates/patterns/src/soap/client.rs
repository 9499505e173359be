//! `sister soap client`: reads the WSDL, then calls an operation the way zeep does.
//!
//! Two HTTP exchanges, each on its own connection, as zeep makes them: `GET /?wsdl`, then `POST` of a
//! document/literal envelope to the endpoint the WSDL names, with `SOAPAction: "add"` and
//! `Content-Type: text/xml; charset=utf-8`. Everything the call needs (endpoint, namespace, operation,
//! argument names, soapAction) comes from the WSDL; nothing about the calculator is built in.
//!
//! Either URL may be `https://` (an HTTPS server gives an https endpoint in its WSDL); `tls` is then
//! the connector that checks the server's certificate (`--cacert`), for both exchanges.

use std::time::Duration;

use tokio_rustls::TlsConnector;
use wire::soap::{self, Fault, Reply};
use wire::wsdl::{self, Service};
use wire::xml::Limits;

use crate::http::{self, CallError, Server, Url, UrlError};

/// How long each exchange may take once connected.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a SOAP call gave no result.
#[derive(Debug, thiserror::Error)]
pub enum SoapCallError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("GET {url} answered HTTP {status}: {body}")]
    WsdlStatus { url: String, status: u16, body: String },
    #[error("the WSDL at {url} cannot be used: {source}")]
    Wsdl { url: String, source: wsdl::WsdlError },
    #[error("the WSDL has no operation `{op}`; it has: {known}")]
    NoOperation { op: String, known: String },
    #[error("{op} takes {want} arguments ({names}), {got} given")]
    Arity {
        op: String,
        want: usize,
        names: String,
        got: usize,
    },
    #[error("the answer (HTTP {status}) is not a SOAP envelope: {source}")]
    BadReply { status: u16, source: soap::SoapError },
    #[error("the server answered with a {0}")]
    Fault(Fault),
}

/// Fetch and read the WSDL at `url`.
pub async fn fetch_wsdl(
    url: &str,
    tls: Option<&TlsConnector>,
    wait: Duration,
) -> Result<Service, SoapCallError> {
    let u = Url::parse(url)?;
    let reply = http::request(
        &Server::of(&u).with_tls(tls.cloned()),
        hyper::Method::GET,
        &u.path,
        &[],
        Vec::new(),
        wait,
        TIMEOUT,
    )
    .await?;
    if !reply.status.is_success() {
        return Err(SoapCallError::WsdlStatus {
            url: url.into(),
            status: reply.status.as_u16(),
            body: reply.text(),
        });
    }
    let service = wsdl::parse(&reply.body, &Limits::default()).map_err(|source| SoapCallError::Wsdl {
        url: url.into(),
        source,
    })?;
    tracing::info!(
        "WSDL: service {} at {}, namespace {}, operations {}",
        service.name,
        service.location,
        service.tns,
        service
            .operations
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(service)
}

/// The result of a call: the text of the response element's first child (`addResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub operation: String,
    pub result: String,
}

/// Call `op` with `args` (in the WSDL's order), at `endpoint` if given, else at the WSDL's address.
pub async fn call(
    service: &Service,
    endpoint: Option<&str>,
    tls: Option<&TlsConnector>,
    op: &str,
    args: &[String],
) -> Result<Outcome, SoapCallError> {
    let operation = service.operation(op).ok_or_else(|| SoapCallError::NoOperation {
        op: op.into(),
        known: service
            .operations
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    if args.len() != operation.inputs.len() {
        return Err(SoapCallError::Arity {
            op: op.into(),
            want: operation.inputs.len(),
            names: operation
                .inputs
                .iter()
                .map(|f| format!("{}: {}", f.name, f.xsd_type))
                .collect::<Vec<_>>()
                .join(", "),
            got: args.len(),
        });
    }
    let fields: Vec<(&str, &str)> = operation
        .inputs
        .iter()
        .zip(args)
        .map(|(f, v)| (f.name.as_str(), v.as_str()))
        .collect();
    let envelope = soap::encode_document(&service.tns, &operation.name, &fields);
    let u = Url::parse(endpoint.unwrap_or(&service.location))?;
    let action = format!("\"{}\"", operation.soap_action);
    tracing::debug!(endpoint = %u.authority, soap_action = %action, "POST {}", u.path);
    let reply = http::request(
        &Server::of(&u).with_tls(tls.cloned()),
        hyper::Method::POST,
        &u.path,
        &[
            ("content-type", "text/xml; charset=utf-8"),
            ("soapaction", &action),
        ],
        envelope,
        Duration::ZERO,
        TIMEOUT,
    )
    .await?;
    let status = reply.status.as_u16();
    match soap::decode_reply(&reply.body, &Limits::default()) {
        Ok(Reply::Response(element)) => {
            // The result is the child the WSDL names (`addResult`), or else the first.
            let want = operation.outputs.first().map(|f| f.name.as_str());
            let result = element
                .children
                .iter()
                .find(|c| Some(c.local.as_str()) == want)
                .or(element.children.first())
                .map(|c| {
                    if c.is_nil() {
                        "nil".to_string()
                    } else {
                        c.text.clone()
                    }
                })
                .unwrap_or_default();
            Ok(Outcome {
                operation: operation.name.clone(),
                result,
            })
        }
        Ok(Reply::Fault(f)) => Err(SoapCallError::Fault(f)),
        Err(source) => Err(SoapCallError::BadReply { status, source }),
    }
}

/// The line the client prints: the course's for `add`, the same form for the others.
pub fn line(outcome: &Outcome) -> String {
    let what = match outcome.operation.as_str() {
        "add" => "penjumlahan",
        "subtract" => "pengurangan",
        "multiply" => "perkalian",
        "divide" => "pembagian",
        "sum_times_difference" => "(a + b) * (a - b)",
        other => other,
    };
    format!("Hasil {what} dari server SOAP: {}", outcome.result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_courses_line() {
        let o = Outcome {
            operation: "add".into(),
            result: "15".into(),
        };
        assert_eq!(line(&o), "Hasil penjumlahan dari server SOAP: 15");
    }
}
