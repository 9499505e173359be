//! SOAP 1.1 with WSDL: a call written as an XML envelope, described by a machine-readable contract.
//!
//! The server publishes a WSDL (`GET /?wsdl`): the operations, the XML Schema of their arguments, the
//! soapAction and the endpoint. A client such as zeep reads it and builds each call from it alone. The
//! call itself is `POST /` with an envelope whose Body holds `<tns:add><tns:a>10</tns:a>...`; the answer
//! holds `<tns:addResponse><tns:addResult>15</tns:addResult>`, or a Fault with HTTP 500.
//!
//! Run it:
//! ```text
//! sister soap server                                   # 0.0.0.0:8000, WSDL at /?wsdl
//! sister soap client --wsdl http://127.0.0.1:8000/?wsdl add 10 5
//! Hasil penjumlahan dari server SOAP: 15
//! sister soap client --wsdl http://127.0.0.1:8000/?wsdl sum_times_difference 20 30
//! Hasil (a + b) * (a - b) dari server SOAP: -500
//! ```
//! What to look for in a capture (`port 8000`), as the worksheet asks: two TCP connections. The first
//! carries `GET /?wsdl` and the WSDL; the second the `POST /` with `SOAPAction: "add"` and
//! `Content-Type: text/xml; charset=utf-8`, the envelope, and the response envelope. Compare the bytes
//! with JSON-RPC's for the same addition.
//!
//! The codecs are in `wire`: [`wire::soap`] (envelopes, faults), [`wire::wsdl`] (the contract) and
//! [`wire::xml`] (the bounded, DTD-free XML reader both stand on).

pub mod client;
pub mod server;
pub mod service;

use std::time::Duration;

use tracing::Instrument;

use crate::accept_loop::Limits;
use crate::lab::Checks;
use crate::shutdown;

/// The worksheet's SOAP scenario: fetch the WSDL, call `add(10, 5)`, then the worksheet's modification
/// `(a + b) * (a - b)` for 20 and 30, and one fault.
pub async fn lab(checks: &Checks) {
    let listener = match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("SOAP server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("SOAP server has no address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let server = tokio::spawn(
        server::run(listener, Limits::default(), signal, None).instrument(tracing::info_span!("soap-server")),
    );
    let span = tracing::info_span!("soap-client");

    let wsdl_url = format!("http://{addr}/?wsdl");
    match client::fetch_wsdl(&wsdl_url, None, Duration::from_secs(5))
        .instrument(span.clone())
        .await
    {
        Ok(svc) => {
            checks.expect_eq(
                (svc.tns.as_str(), svc.name.as_str(), svc.port.as_str()),
                (service::TNS, service::SERVICE, service::PORT_NAME),
                "SOAP WSDL names: spyne.examples.calculator, CalculatorService, Application",
            );
            for (op, a, b, want) in [
                ("add", "10", "5", "15"),
                ("sum_times_difference", "20", "30", "-500"),
            ] {
                let args = [a.to_string(), b.to_string()];
                match client::call(&svc, None, None, op, &args)
                    .instrument(span.clone())
                    .await
                {
                    Ok(out) => {
                        span.in_scope(|| tracing::info!("{}", client::line(&out)));
                        checks.expect_eq(out.result.as_str(), want, format!("SOAP {op}({a}, {b})"));
                    }
                    Err(e) => checks.fail(format!("SOAP {op}({a}, {b}): {e}")),
                }
            }
            let args = ["1".to_string(), "0".to_string()];
            match client::call(&svc, None, None, "divide", &args)
                .instrument(span.clone())
                .await
            {
                Err(client::SoapCallError::Fault(f)) => {
                    span.in_scope(|| tracing::info!("divide(1, 0): {f}"));
                    checks.expect(
                        f.class == wire::soap::FaultClass::Client,
                        "SOAP divide by zero is a Client fault",
                    );
                }
                other => checks.fail(format!("SOAP divide(1, 0) should fault: {other:?}")),
            }
        }
        Err(e) => checks.fail(format!("SOAP WSDL fetch: {e}")),
    }

    trigger.trigger();
    checks.expect_stopped("SOAP server", server.await);
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
