//! `sister rest server`: the course's Flask calculator, on axum.
//!
//! | request                 | answer                                                         |
//! |-------------------------|----------------------------------------------------------------|
//! | `GET /add?a=10&b=5`     | `200 {"result":15}` (also `/mul`, `/sub`, `/div`)               |
//! | `a` or `b` missing/not an integer | `400 {"error":"Invalid input"}` (the course's words)  |
//! | result outside 64 bits  | `400 {"error":"Overflow: ..."}`                                 |
//! | `/div` with `b=0`       | `400 {"error":"Division by zero: ..."}`                         |
//! | any other path          | `404 {"error":"Not found: ..."}`                                |
//! | another method          | `405 {"error":"Method not allowed: ..."}`                       |
//! | `GET /openapi.json`     | the API described as OpenAPI 3.0                                |
//!
//! Bodies are byte for byte what Flask 3.0's `jsonify` writes outside debug mode: compact JSON
//! (`{"result":15}`, no spaces) and a newline, `Content-Type: application/json`. One difference a capture
//! shows: Flask's development server closes the connection after each answer (`Connection: close`);
//! sister keeps it open for the next request (HTTP/1.1 keep-alive), which is what lets a load generator
//! reuse connections.

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Query};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::accept_loop::Limits;
use crate::calc::{self, CalcError, Op};
use crate::http::https::ServerTls;
use crate::shutdown::Signal;

/// The course's port.
pub const PORT: u16 = 5151;

/// The routes and the operation each one runs.
pub const ROUTES: [(&str, Op); 4] = [
    ("/add", Op::Add),
    ("/mul", Op::Mul),
    ("/sub", Op::Sub),
    ("/div", Op::Div),
];

/// The router, on its own so tests and the benchmark can serve it anywhere.
pub fn router() -> Router {
    let mut r = Router::new();
    for (path, op) in ROUTES {
        r = r.route(
            path,
            get(
                move |uri: OriginalUri, q: Result<Query<Vec<(String, String)>>, QueryRejection>| async move {
                    calculate(op, &uri, q)
                },
            ),
        );
    }
    r.route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Serve until `shutdown`; in HTTPS with `tls`.
pub async fn run(
    listener: TcpListener,
    limits: Limits,
    shutdown: Signal,
    tls: Option<ServerTls>,
) -> std::io::Result<()> {
    crate::http::serve(listener, limits, shutdown, tls, router()).await
}

/// A JSON answer in Flask's format: compact, then a newline.
fn json_answer(status: StatusCode, body: &Value) -> Response {
    let mut text = body.to_string();
    text.push('\n');
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn calculate(
    op: Op,
    uri: &OriginalUri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    match answer(op, query) {
        Ok(n) => {
            // What `json_answer(json!({"result": n}))` writes, without building a JSON map per request.
            let text = format!("{{\"result\":{n}}}\n");
            tracing::info!("GET {} -> 200 {}", uri.0, text.trim_end());
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(error) => {
            let body = json!({ "error": error });
            tracing::info!("GET {} -> 400 {}", uri.0, body);
            json_answer(StatusCode::BAD_REQUEST, &body)
        }
    }
}

fn answer(op: Op, query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<i64, String> {
    const INVALID: &str = "Invalid input";
    let Ok(Query(pairs)) = query else {
        return Err(INVALID.into());
    };
    // Like Flask's `request.args.get`, the first value of a repeated parameter counts.
    let arg = |name: &str| -> Result<i64, String> {
        let text = pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or(INVALID)?;
        calc::parse_integer(text).map_err(|out_of_range| {
            if out_of_range {
                format!("Overflow: {name}={text} does not fit in a 64-bit integer")
            } else {
                INVALID.to_string()
            }
        })
    };
    let (a, b) = (arg("a")?, arg("b")?);
    // The error's text starts with what went wrong: "Division by zero: ..." or "Overflow: ...".
    calc::apply(op, a, b).map_err(|e: CalcError| e.to_string())
}

async fn not_found(uri: OriginalUri) -> Response {
    let body = json!({
        "error": format!("Not found: {} (the API has /add, /mul, /sub, /div and /openapi.json)", uri.0.path())
    });
    tracing::info!("{} -> 404", uri.0);
    json_answer(StatusCode::NOT_FOUND, &body)
}

async fn method_not_allowed(method: Method, uri: OriginalUri) -> Response {
    let body = json!({ "error": format!("Method not allowed: {method} {} (use GET)", uri.0.path()) });
    tracing::info!("{method} {} -> 405", uri.0);
    let mut r = json_answer(StatusCode::METHOD_NOT_ALLOWED, &body);
    r.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    r
}

async fn openapi() -> Response {
    json_answer(StatusCode::OK, &openapi_document())
}

/// The API as an OpenAPI 3.0 document.
pub fn openapi_document() -> Value {
    let operand = |name: &str| {
        json!({
            "name": name, "in": "query", "required": true,
            "description": "a 64-bit signed integer in decimal",
            "schema": {"type": "integer", "format": "int64"}
        })
    };
    let mut paths = serde_json::Map::new();
    for (path, op) in ROUTES {
        let summary = match op {
            Op::Div => "a / b, an integer division rounding toward zero".to_string(),
            op => format!("a {} b", op.symbol()),
        };
        paths.insert(
            path.to_string(),
            json!({"get": {
                "operationId": path.trim_start_matches('/'),
                "summary": summary,
                "parameters": [operand("a"), operand("b")],
                "responses": {
                    "200": {"description": "the result",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}},
                    "400": {"description": "a or b missing or not an integer (\"Invalid input\"), a result outside 64 bits, or division by zero",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "sister REST calculator",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The course's Flask calculator: GET /add?a=10&b=5 answers {\"result\": 15}."
        },
        "paths": paths,
        "components": {"schemas": {
            "Result": {"type": "object", "required": ["result"],
                       "properties": {"result": {"type": "integer", "format": "int64"}}},
            "Error": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string", "example": "Invalid input"}}}
        }}
    })
}
