//! The bare axum server `bench/http.sh` measures sister's HTTP servers against: the same routes doing
//! the least work possible, on `axum::serve`, with no logging, no connection limit, no protocol codec.
//!
//! - `GET /add?a=&b=`: parse two integers, answer `{"result":n}` (REST's work minus sister's checks);
//! - `POST /rpc`: read the body, answer a fixed JSON-RPC response;
//! - `POST /soap`: read the body, answer a fixed SOAP response.
//!
//! Run: `cargo run --release --example http_baseline -- 127.0.0.1:9090`

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

#[derive(serde::Deserialize)]
struct Operands {
    a: i64,
    b: i64,
}

const RPC_ANSWER: &str = r#"{"jsonrpc":"2.0","result":12,"id":1}"#;
const SOAP_ANSWER: &str = "<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope xmlns:soap11env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tns=\"spyne.examples.calculator\"><soap11env:Body><tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse></soap11env:Body></soap11env:Envelope>";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9090".into());
    let app = Router::new()
        .route(
            "/add",
            get(|Query(o): Query<Operands>| async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    format!("{{\"result\":{}}}\n", o.a.wrapping_add(o.b)),
                )
            }),
        )
        .route(
            "/rpc",
            post(|_body: Bytes| async {
                ([(header::CONTENT_TYPE, "application/json")], RPC_ANSWER).into_response()
            }),
        )
        .route(
            "/soap",
            post(|_body: Bytes| async {
                ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], SOAP_ANSWER).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare axum baseline on {addr}");
    axum::serve(listener, app).await
}
