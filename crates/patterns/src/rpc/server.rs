//! `sister rpc server`: JSON-RPC 2.0 over HTTP POST, on sister's own HTTP/1.1 loop
//! ([`crate::http::server`]); the spec's rules are in
//! [`wire::jsonrpc::answer`], the methods in [`super::methods`].
//!
//! HTTP is only the carrier here: every body that arrives as `POST /` gets `200` with a JSON-RPC
//! answer, even when that answer is an error (-32700 for a body that is not JSON), because the error
//! lives *inside* the JSON-RPC message, not in the HTTP status. The one exception is a body that needs
//! no answer at all (notifications only): that gets `204 No Content` and an empty body.
//!
//! The course's server is Python's BaseHTTPServer speaking HTTP/1.0: it sends no Content-Length and
//! closes the connection to mark the end of the answer. sister's answers carry a Content-Length and keep
//! the connection open; the course's `requests` client reads both.

use serde_json::Value;
use tokio::net::TcpListener;
use wire::http::{Refusal, Request, Response};
use wire::jsonrpc::{self, codes, ErrorObject, Id};

use crate::accept_loop::Limits;
use crate::http::https::ServerTls;
use crate::http::server::Service;
use crate::shutdown::Signal;

/// The course's port.
pub const PORT: u16 = 4000;

/// Largest request body the server reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// The JSON-RPC endpoint as an HTTP service: `POST /` only.
pub struct RpcService;

/// Serve until `shutdown`; in HTTPS with `tls`.
pub async fn run(
    listener: TcpListener,
    limits: Limits,
    shutdown: Signal,
    tls: Option<ServerTls>,
) -> std::io::Result<()> {
    let http = wire::http::Limits {
        max_body: MAX_BODY,
        ..wire::http::Limits::default()
    };
    crate::http::server::serve(listener, limits, shutdown, tls, http, RpcService).await
}

const JSON: &str = "application/json";

impl Service for RpcService {
    fn call(&self, req: &Request) -> Response {
        if req.path() != "/" {
            return invalid(404, "this server answers JSON-RPC at POST / only");
        }
        if req.method() != "POST" {
            return invalid(405, "JSON-RPC requests are sent with POST / and a JSON body")
                .with_header("allow", "POST");
        }
        handle(&req.body)
    }

    /// Refused at the HTTP level (a body over [`MAX_BODY`], broken framing): the status says so, and the
    /// body is still a JSON-RPC error, so a JSON-RPC client can show why.
    fn refused(&self, why: &Refusal) -> Response {
        tracing::warn!("request refused: {why}");
        let answer = jsonrpc::Response::error(
            Id::Null,
            ErrorObject::new(
                codes::INVALID_REQUEST,
                format!("the request could not be read: {why}"),
            ),
        );
        Response::new(why.status(), JSON, answer.encode())
    }
}

fn handle(body: &[u8]) -> Response {
    tracing::debug!(body = %wire::escape::show(body), "POST /");
    let answer = jsonrpc::respond(body, |req| {
        let outcome = super::methods::call(req);
        match &outcome {
            Ok(v) => tracing::info!("{req} -> {v}"),
            Err(e) => tracing::info!("{req} -> {e}"),
        }
        outcome
    });
    // The errors found before any method ran (not JSON, not a request) are logged here.
    for r in answer.responses() {
        if let Err(e) = &r.outcome {
            if e.code == codes::PARSE_ERROR || e.code == codes::INVALID_REQUEST {
                tracing::info!("{r}");
            }
        }
    }
    match answer.encode() {
        Some(out) => Response::new(200, JSON, out),
        None => {
            tracing::info!("notifications only: nothing to answer (204 No Content)");
            Response::empty(204)
        }
    }
}

/// An HTTP-level mistake answered with `status` and a JSON-RPC Invalid Request error saying what to do.
fn invalid(status: u16, what: &str) -> Response {
    let answer = jsonrpc::Response::error(
        Id::Null,
        ErrorObject::with_message(
            codes::INVALID_REQUEST,
            "Invalid Request",
            Some(Value::String(what.into())),
        ),
    );
    Response::new(status, JSON, answer.encode())
}
