//! `sister soap server`: the course's spyne calculator, on sister's own HTTP/1.1 loop
//! ([`crate::http::server`]).
//!
//! - `GET /?wsdl` answers the WSDL ([`super::service::describe`], written by [`wire::wsdl::render`]),
//!   whose endpoint is `http://<the Host the client used>/`, as spyne does; `https://...` when the
//!   server speaks HTTPS (`--tls-cert`), so that zeep posts its calls over TLS too.
//! - `POST /` with a SOAP 1.1 envelope runs the operation named by the Body's element and answers
//!   `200` with `<tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse>`, or `500` with a
//!   Fault (SOAP 1.1 §6.2 wants 500 for every fault).
//! - Requests larger than [`MAX_BODY`] and any DOCTYPE are refused with a Client fault before any XML is
//!   interpreted.

use tokio::net::TcpListener;
use wire::http::{Refusal, Request, Response};
use wire::soap::{self, Fault};
use wire::xml::Limits as XmlLimits;

use crate::accept_loop::Limits;
use crate::http::https::ServerTls;
use crate::http::server::Service;
use crate::http::Scheme;
use crate::shutdown::Signal;

/// The course's port.
pub const PORT: u16 = 8000;

/// Largest request body read (a calculator call is about 300 bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// SOAP 1.1 over HTTP is sent as `text/xml` (SOAP 1.1 §6.1.1).
const XML: &str = "text/xml; charset=utf-8";

/// The SOAP endpoint as an HTTP service: the WSDL and the calls, on any path (as spyne answers).
pub struct SoapService {
    /// The listener's own address, for a WSDL fetched without a Host header (HTTP/1.0).
    local: String,
    /// The scheme of the endpoint the WSDL gives: `https` when the server speaks TLS.
    scheme: Scheme,
}

impl SoapService {
    /// The service of a server listening on `local` (`host:port`), in plain HTTP or HTTPS.
    pub fn new(local: &str, scheme: Scheme) -> SoapService {
        SoapService {
            local: local.to_string(),
            scheme,
        }
    }
}

/// Serve until `shutdown`; in HTTPS with `tls`.
pub async fn run(
    listener: TcpListener,
    limits: Limits,
    shutdown: Signal,
    tls: Option<ServerTls>,
) -> std::io::Result<()> {
    let local = listener.local_addr()?.to_string();
    let http = wire::http::Limits {
        max_body: MAX_BODY,
        ..wire::http::Limits::default()
    };
    let scheme = if tls.is_some() {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let service = SoapService::new(&local, scheme);
    crate::http::server::serve(listener, limits, shutdown, tls, http, service).await
}

fn xml(status: u16, body: Vec<u8>) -> Response {
    Response::new(status, XML, body)
}

/// Answer a Fault as SOAP 1.1 §6.2 says: HTTP 500 with the Fault in the envelope.
fn fault(f: &Fault) -> Response {
    tracing::info!("-> 500 {f}");
    xml(500, soap::encode_fault(f))
}

fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("wsdl")))
}

impl Service for SoapService {
    fn call(&self, req: &Request) -> Response {
        match req.method() {
            "GET" | "HEAD" if wants_wsdl(req.query()) => {
                let host = req.header("host").unwrap_or(&self.local);
                let endpoint = format!("{}://{host}/", self.scheme.as_str());
                tracing::info!("GET {} -> WSDL (endpoint {endpoint})", req.target());
                let wsdl = wire::wsdl::render(&super::service::describe(&endpoint));
                xml(200, wsdl.into_bytes())
            }
            "POST" => call(req),
            method => {
                tracing::info!("{method} {} -> 405", req.target());
                Response::new(
                    405,
                    "text/plain; charset=utf-8",
                    "This is a SOAP 1.1 endpoint: POST envelopes here; the WSDL is at /?wsdl\n",
                )
                .with_header("allow", "GET, POST")
            }
        }
    }

    /// A body over [`MAX_BODY`] is a Client fault like any other bad message; a request whose HTTP
    /// cannot be read gets its HTTP status.
    fn refused(&self, why: &Refusal) -> Response {
        match why {
            Refusal::BodyTooLarge(limit) => fault(
                &Fault::client(format!("the request is larger than {limit} bytes"))
                    .with_subcode("RequestTooLong"),
            ),
            _ => {
                tracing::warn!("request refused: {why}");
                Response::new(why.status(), "text/plain; charset=utf-8", format!("{why}\n"))
            }
        }
    }
}

fn call(req: &Request) -> Response {
    // SOAP 1.1 §6.1.1: the SOAPAction header names the intent ("add", with the quotes). The Body's
    // element is what counts; a mismatch is logged for the student to notice.
    let action = req.header("soapaction").map(|v| v.trim().trim_matches('"'));
    let limits = XmlLimits {
        max_bytes: MAX_BODY,
        ..XmlLimits::default()
    };
    let call = match soap::decode_call(&req.body, &limits) {
        Ok(c) => c,
        Err(f) => return fault(&f),
    };
    match action {
        Some(a) if !a.is_empty() && a != call.operation => {
            tracing::warn!(
                "SOAPAction says {a:?} but the Body calls {:?}; running the Body's",
                call.operation
            );
        }
        None => tracing::debug!("no SOAPAction header (SOAP 1.1 §6.1.1 asks for one)"),
        _ => {}
    }
    match super::service::execute(&call) {
        Ok((response, result, value)) => {
            tracing::info!("{call} -> {value}");
            xml(
                200,
                soap::encode_document(super::service::TNS, response, &[(result, &value)]),
            )
        }
        Err(f) => {
            tracing::info!("{call}");
            fault(&f)
        }
    }
}
