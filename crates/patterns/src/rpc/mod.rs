//! JSON-RPC 2.0 over HTTP: a procedure call written as a small JSON object, carried by `POST /`.
//!
//! Where REST puts the operation in the URL, JSON-RPC puts it in the body: `{"jsonrpc": "2.0",
//! "method": "add", "params": [10, 2], "id": 1}` answered by `{"jsonrpc": "2.0", "result": 12, "id": 1}`.
//! HTTP only carries it; the same messages could travel over a TCP socket or a WebSocket. The codec, with
//! every rule of the spec, is [`wire::jsonrpc`]; this module adds the methods, the server and the client.
//!
//! Run it:
//! ```text
//! sister rpc server                                    # 0.0.0.0:4000
//! sister rpc client --server 127.0.0.1:4000 add 10 2
//! Result of add: 12
//! sister rpc client --server 127.0.0.1:4000 --batch 'add 10 2' 'divide 1 0'
//! Result of add: 12
//! Error from divide: error 1 Division by zero: 1 / 0 has no answer
//! ```
//! What to look for in a capture (`port 4000`): `POST / HTTP/1.1` with `Content-Type:
//! application/json` and the request object; the answer carries the same `id`. A batch is one POST with
//! an array and one array back. A notification (no `id`) gets `204 No Content`: the server ran it and
//! says nothing. Against the course's server (BaseHTTPServer, HTTP/1.0) the answer has no
//! Content-Length: the server's FIN ends it.

pub mod client;
pub mod methods;
pub mod server;

use std::time::Duration;

use serde_json::json;
use tracing::Instrument;
use wire::jsonrpc::{codes, Request};

use crate::accept_loop::Limits;
use crate::lab::Checks;
use crate::shutdown;

/// The worksheet's JSON-RPC scenario: the course's two calls, then a batch with an error and a
/// notification.
pub async fn lab(checks: &Checks) {
    let listener = match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("JSON-RPC server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => crate::http::Server::parse(&a.to_string()),
        Err(e) => return checks.fail(format!("JSON-RPC server has no address: {e}")),
    };
    let addr = match addr {
        Ok(a) => a,
        Err(e) => return checks.fail(format!("JSON-RPC server address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let server = tokio::spawn(
        server::run(listener, Limits::default(), signal, None).instrument(tracing::info_span!("rpc-server")),
    );
    let span = tracing::info_span!("rpc-client");

    for (method, a, b, want) in [("add", 10, 2, json!(12)), ("multiply", 10, 5, json!(50))] {
        let req = Request::call(method, vec![json!(a), json!(b)], 1);
        match client::post(&addr, std::slice::from_ref(&req), false, Duration::from_secs(5))
            .instrument(span.clone())
            .await
        {
            Ok(client::Outcome::Responses(r)) if r.len() == 1 => {
                span.in_scope(|| tracing::info!("{}", client::line(method, &r[0])));
                checks.expect_eq(
                    r[0].outcome.clone().ok(),
                    Some(want),
                    format!("JSON-RPC {method} [{a}, {b}]"),
                );
            }
            other => checks.fail(format!("JSON-RPC {method}: {other:?}")),
        }
    }

    // A batch: a call, a division by zero, and a notification (which must get no response).
    let batch = vec![
        Request::call("subtract", vec![json!(42), json!(23)], 1),
        Request::call("divide", vec![json!(1), json!(0)], 2),
        Request::notification("add", vec![json!(1), json!(1)]),
    ];
    match client::post(&addr, &batch, true, Duration::ZERO)
        .instrument(span.clone())
        .await
    {
        Ok(client::Outcome::Responses(r)) => {
            for (req, resp) in client::match_responses(&batch, &r) {
                if let Some(resp) = resp {
                    span.in_scope(|| tracing::info!("{}", client::line(&req.method, resp)));
                }
            }
            checks.expect_eq(
                r.len(),
                2,
                "JSON-RPC batch: two answers, none for the notification",
            );
            let div = r.iter().find(|x| x.id == 2.into());
            checks.expect(
                div.is_some_and(|d| {
                    d.outcome
                        .as_ref()
                        .is_err_and(|e| e.code == codes::DIVISION_BY_ZERO)
                }),
                "JSON-RPC divide by zero is an application error (code 1)",
            );
        }
        other => checks.fail(format!("JSON-RPC batch: {other:?}")),
    }

    trigger.trigger();
    checks.expect_stopped("JSON-RPC server", server.await);
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lab_scenario_passes() {
        let checks = crate::lab::Checks::new();
        super::lab(&checks).await;
        assert!(checks.passed(), "{:?}", checks.results());
    }
}
