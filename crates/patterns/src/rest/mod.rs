//! REST: resources at URLs, the HTTP method says what to do, the status code says how it went.
//!
//! The course's calculator is the smallest REST API there is: `GET /add?a=10&b=5` answers
//! `{"result": 15}`. Everything is in the request line (method, path, query string) and the answer's
//! status line; no envelope around it, unlike JSON-RPC and SOAP.
//!
//! Run it:
//! ```text
//! sister rest server                                   # 0.0.0.0:5151
//! sister rest client --server 127.0.0.1:5151 --op both -a 10 -b 5
//! add(10,5) = 15
//! mul(10,5) = 50
//! ```
//! What to look for in a capture (`tcpdump -i lo -w rest.pcap port 5151`): one TCP connection per
//! call (the course's `requests` opens a new one each time), then the request `GET /add?a=10&b=5
//! HTTP/1.1` and the answer `HTTP/1.1 200 OK` with `Content-Type: application/json` and the body
//! `{"result":15}`. A bad operand gives `HTTP/1.1 400 Bad Request` and `{"error":"Invalid input"}`:
//! in REST the error is in the status code first, the body only explains it.

pub mod client;
pub mod server;

use std::time::Duration;

use crate::accept_loop::Limits;
use crate::lab::Checks;
use crate::shutdown;

/// The worksheet's REST scenario: the server on loopback, the client's `--op both -a 10 -b 5`, then the
/// error paths a student should see once.
pub async fn lab(checks: &Checks) {
    let listener = match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("REST server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => crate::http::Server::parse(&a.to_string()),
        Err(e) => return checks.fail(format!("REST server has no address: {e}")),
    };
    let addr = match addr {
        Ok(a) => a,
        Err(e) => return checks.fail(format!("REST server address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let server = tokio::spawn(tracing::Instrument::instrument(
        server::run(listener, Limits::default(), signal, None),
        tracing::info_span!("rest-server"),
    ));

    let client_span = tracing::info_span!("rest-client");
    let cases = [
        ("add", "10", "5", client::Answer::Result(15.into())),
        ("mul", "10", "5", client::Answer::Result(50.into())),
        (
            "add",
            "10",
            "x",
            client::Answer::Failed {
                status: 400,
                reason: "Invalid input".into(),
            },
        ),
    ];
    for (op, a, b, want) in cases {
        let got = tracing::Instrument::instrument(
            client::call(&addr, op, a, b, Duration::from_secs(5)),
            client_span.clone(),
        )
        .await;
        match got {
            Ok(answer) => {
                client_span.in_scope(|| tracing::info!("{}", answer.line(op, a, b)));
                checks.expect_eq(answer, want, format!("REST GET /{op}?a={a}&b={b}"));
            }
            Err(e) => checks.fail(format!("REST GET /{op}?a={a}&b={b}: {e}")),
        }
    }
    match client::call(&addr, "div", "1", "0", Duration::ZERO).await {
        Ok(client::Answer::Failed { status, reason }) => {
            checks.expect(
                status == 400 && reason.contains("Division by zero"),
                format!("REST /div by zero answers 400 with a JSON error (got {status} {reason})"),
            );
        }
        other => checks.fail(format!("REST /div by zero: {other:?}")),
    }

    trigger.trigger();
    checks.expect_stopped("REST server", server.await);
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
