//! `sister rpc server`: JSON-RPC 2.0 over HTTP POST, on axum; the spec's rules are in
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

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use wire::jsonrpc::{self, codes, ErrorObject, Id};

use crate::server::Limits;
use crate::shutdown::Signal;

/// The course's port.
pub const PORT: u16 = 4000;

/// Largest request body the server reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// The router, on its own so tests and the benchmark can serve it anywhere.
pub fn router() -> Router {
    Router::new()
        .route("/", post(handle).fallback(not_post))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Serve until `shutdown`.
pub async fn run(listener: TcpListener, limits: Limits, shutdown: Signal) -> std::io::Result<()> {
    crate::http::serve(listener, limits, shutdown, router()).await
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn handle(body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            tracing::warn!("request body refused: {rejection}");
            let answer = jsonrpc::Response::error(
                Id::Null,
                ErrorObject::new(
                    codes::INVALID_REQUEST,
                    format!("the request body could not be read: {rejection}"),
                ),
            );
            return json(rejection.status(), answer.encode());
        }
    };
    tracing::debug!(body = %wire::text::show(&body), "POST /");
    let answer = jsonrpc::respond(&body, |req| {
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
        Some(out) => json(StatusCode::OK, out),
        None => {
            tracing::info!("notifications only: nothing to answer (204 No Content)");
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn not_post() -> Response {
    let answer = jsonrpc::Response::error(
        Id::Null,
        ErrorObject::with_message(
            codes::INVALID_REQUEST,
            "Invalid Request",
            Some(Value::String(
                "JSON-RPC requests are sent with POST / and a JSON body".into(),
            )),
        ),
    );
    let mut r = json(StatusCode::METHOD_NOT_ALLOWED, answer.encode());
    r.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    r
}

async fn not_found() -> Response {
    let answer = jsonrpc::Response::error(
        Id::Null,
        ErrorObject::with_message(
            codes::INVALID_REQUEST,
            "Invalid Request",
            Some(Value::String(
                "this server answers JSON-RPC at POST / only".into(),
            )),
        ),
    );
    json(StatusCode::NOT_FOUND, answer.encode())
}
