//! `sister soap server`: the course's spyne calculator, on axum.
//!
//! - `GET /?wsdl` answers the WSDL ([`super::service::describe`], written by [`wire::wsdl::render`]),
//!   whose endpoint is `http://<the Host the client used>/`, as spyne does.
//! - `POST /` with a SOAP 1.1 envelope runs the operation named by the Body's element and answers
//!   `200` with `<tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse>`, or `500` with a
//!   Fault (SOAP 1.1 §6.2 wants 500 for every fault).
//! - Requests larger than [`MAX_BODY`] and any DOCTYPE are refused with a Client fault before any XML is
//!   interpreted.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
use wire::soap::{self, Fault};
use wire::xml::Limits as XmlLimits;

use crate::server::Limits;
use crate::shutdown::Signal;

/// The course's port.
pub const PORT: u16 = 8000;

/// Largest request body read (a calculator call is about 300 bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// SOAP 1.1 over HTTP is sent as `text/xml` (SOAP 1.1 §6.1.1).
const XML: &str = "text/xml; charset=utf-8";

#[derive(Clone)]
struct Config {
    /// The listener's own address, for a WSDL fetched without a Host header (HTTP/1.0).
    local: String,
}

/// The router, serving the WSDL and the calls; `local` is the server's own `host:port`.
pub fn router(local: &str) -> Router {
    Router::new()
        .route("/", any(endpoint))
        .fallback(endpoint)
        .with_state(Config {
            local: local.to_string(),
        })
}

/// Serve until `shutdown`.
pub async fn run(listener: TcpListener, limits: Limits, shutdown: Signal) -> std::io::Result<()> {
    let local = listener.local_addr()?.to_string();
    crate::http::serve(listener, limits, shutdown, router(&local)).await
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, XML)], body).into_response()
}

/// Answer a Fault as SOAP 1.1 §6.2 says: HTTP 500 with the Fault in the envelope.
fn fault(f: &Fault) -> Response {
    tracing::info!("-> 500 {f}");
    xml(StatusCode::INTERNAL_SERVER_ERROR, soap::encode_fault(f))
}

fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("wsdl")))
}

async fn endpoint(State(cfg): State<Config>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    match parts.method {
        Method::GET | Method::HEAD if wants_wsdl(parts.uri.query()) => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or(&cfg.local);
            tracing::info!("GET {} -> WSDL (endpoint http://{host}/)", parts.uri);
            let wsdl = wire::wsdl::render(&super::service::describe(&format!("http://{host}/")));
            xml(StatusCode::OK, wsdl.into_bytes())
        }
        Method::POST => call(&parts.headers, body).await,
        method => {
            tracing::info!("{method} {} -> 405", parts.uri);
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "GET, POST")],
                "This is a SOAP 1.1 endpoint: POST envelopes here; the WSDL is at /?wsdl\n",
            )
                .into_response()
        }
    }
}

async fn call(headers: &HeaderMap, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return fault(
            &Fault::client(format!("the request is larger than {MAX_BODY} bytes"))
                .with_subcode("RequestTooLong"),
        );
    };
    // SOAP 1.1 §6.1.1: the SOAPAction header names the intent ("add", with the quotes). The Body's
    // element is what counts; a mismatch is logged for the student to notice.
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_string());
    let limits = XmlLimits {
        max_bytes: MAX_BODY,
        ..XmlLimits::default()
    };
    let parsed = soap::decode_call(&bytes, &limits);
    let call = match parsed {
        Ok(c) => c,
        Err(f) => return fault(&f),
    };
    match action.as_deref() {
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
                StatusCode::OK,
                soap::encode_document(super::service::TNS, &response, &[(&result, &value)]),
            )
        }
        Err(f) => {
            tracing::info!("{call}");
            fault(&f)
        }
    }
}
