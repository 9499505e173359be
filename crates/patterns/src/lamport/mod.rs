//! Lamport clocks: the course's two-process bank exchange, and an N-process simulation.
//!
//! Run it:
//! ```text
//! sister lamport server                       # process A on 0.0.0.0:12345: adds $100 to 1000
//! sister lamport client --server 127.0.0.1:12345   # process B: subtracts $50, answers
//! sister lamport sim --processes 3 --seed 1 --vector --diagram run.svg
//! ```
//!
//! Modules:
//! - [`clock`]: the Lamport and vector clocks, no I/O (the rules and why they hold);
//! - [`exchange`]: process A (server) and process B (client) over TCP, on `wire::lamport`'s codec;
//! - [`sim`]: the seeded N-process simulation, its record and the checks (clock condition, total order
//!   consistent with causality);
//! - [`diagram`]: the run as a space-time diagram (SVG).
//!
//! In a capture (port 12345, the same number as the ZeroMQ PUB/SUB and UDP demos, so look at the bytes):
//! one TCP connection, two PSH segments of JSON without a terminator, A's timestamp 1 and B's 3.

pub mod clock;
pub mod diagram;
pub mod exchange;
pub mod sim;

use std::sync::Mutex;

use tracing::{info, Instrument};

use crate::lab::Checks;

/// `sister lab`: the course's exchange on loopback, then a three-process simulation and its diagram.
pub async fn lab(checks: &Checks) {
    // 1. The bank exchange, A and B in this process over loopback.
    match crate::net::bind_tcp("127.0.0.1:0").await {
        Ok(listener) => {
            let addr = match listener.local_addr() {
                Ok(a) => a,
                Err(e) => return checks.fail(format!("lamport: no local address: {e}")),
            };
            let server = tokio::spawn(
                async move {
                    let (stream, peer) = listener.accept().await?;
                    let clock = Mutex::new(clock::LamportClock::new());
                    exchange::serve_exchange(stream, peer, &exchange::ServerConfig::default(), &clock)
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))
                }
                .instrument(tracing::info_span!("lamport-server")),
            );
            let b = exchange::run_client(&addr.to_string(), exchange::ClientConfig::default()).await;
            let a = server.await;
            match (a, b) {
                (Ok(Ok(a)), Ok(b)) => {
                    checks.expect_eq(a.sent.timestamp, 1, "lamport: A sends `Add $100` at clock 1");
                    checks.expect_eq(
                        b.clock,
                        3,
                        "lamport: B receives at 2 and sends `Subtract $50` at clock 3",
                    );
                    checks.expect_eq(a.clock, 4, "lamport: A receives at max(1, 3) + 1 = 4");
                    checks.expect_eq(
                        a.balance,
                        1050,
                        "lamport: the balance ends at 1000 + 100 - 50 = 1050",
                    );
                }
                (a, b) => checks.fail(format!("lamport: the exchange failed: A {a:?}, B {b:?}")),
            }
        }
        Err(e) => checks.fail(format!("lamport: cannot bind a loopback port: {e}")),
    }

    // 2. Three processes on a seeded schedule, with vector clocks, and the diagram.
    let run = sim::simulate(sim::SimConfig {
        processes: 3,
        events: 6,
        seed: 1,
    });
    tracing::info_span!("lamport-sim").in_scope(|| {
        for e in &run.events {
            info!("{e}  V={}", e.vector);
        }
    });
    checks.expect(
        run.clock_condition_violations().is_empty(),
        format!(
            "lamport sim: every one of {} messages has send clock < receive clock",
            run.messages.len()
        ),
    );
    checks.expect(
        run.causality_violations().is_empty(),
        "lamport sim: the total order (clock, process) never puts an effect before its cause",
    );
    let path = std::env::temp_dir().join(format!("sister-lamport-{}.svg", std::process::id()));
    match std::fs::write(&path, diagram::svg(&run, true)) {
        Ok(()) => {
            info!("space-time diagram written to {}", path.display());
            checks.expect(
                true,
                format!("lamport sim: diagram written to {}", path.display()),
            );
        }
        Err(e) => checks.fail(format!(
            "lamport sim: cannot write the diagram {}: {e}",
            path.display()
        )),
    }
}
