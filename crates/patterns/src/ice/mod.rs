//! Distributed objects with ZeroC Ice: the course's `code_process/` pattern.
//!
//! The step from messages to objects: the client does not send "a message to port 11000", it calls
//! `printString` on an object named `SimplePrinter1`, through a *proxy*, as if the object were local.
//! The Slice interface both sides share:
//!
//! ```text
//! module Demo { interface Printer { void printString(string s); }; };
//! ```
//!
//! The server's object adapter `SimpleAdapter` listens on TCP 11000 and holds two servants,
//! `SimplePrinter1` (prints `Object1 says: <s>`) and `SimplePrinter2` (`Object2 says: <s>`). The
//! client `checkedCast`s each proxy (asks the object `ice_isA("::Demo::Printer")`) and calls
//! `printString("Hello World from printer1!")` and `...printer2!`.
//!
//! # Run it
//! ```text
//! sister ice server                                  # 0.0.0.0:11000, both objects
//! sister ice client --server 127.0.0.1:11000         # checkedCast + printString on both
//! sister ice client --server 127.0.0.1:11000 -m "my own text"
//! ```
//! Both interoperate with ZeroC Ice 3.7 (the course's `ice_server.py` and `ice_client.py`).
//!
//! # In a capture
//! One TCP connection carries everything: the server's ValidateConnection first (14 bytes, `IceP`),
//! then Request/Reply pairs numbered 1, 2, 3, 4 (ice_isA, printString, ice_isA, printString), then the
//! client's CloseConnection and the FINs. The operation and object names are readable; the string
//! argument is a size byte and UTF-8 in an encapsulation; a `void` result is an empty encapsulation
//! (`06 00 00 00 01 01`). See [`wire::ice`] for every byte.
//!
//! Modules: [`adapter`] (the servants and the dispatch rules, no sockets), [`server`], [`client`],
//! [`bench`] (the load generator of `sister bench ice`).

pub mod adapter;
pub mod bench;
pub mod client;
pub mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument;

use crate::console::Say;
use crate::lab::Checks;
use crate::{net, shutdown};

/// The course's port (`default -p 11000`).
pub const PORT: u16 = 11000;
/// The course's first object.
pub const OBJECT1: &str = "SimplePrinter1";
/// The course's second object.
pub const OBJECT2: &str = "SimplePrinter2";
/// What the course's client asks the first object to print.
pub const MESSAGE1: &str = "Hello World from printer1!";
/// What it asks the second to print.
pub const MESSAGE2: &str = "Hello World from printer2!";

/// Collects the servants' lines for the lab's checks, and logs them for its transcript.
#[derive(Default)]
struct Printed(Mutex<Vec<String>>);

impl Say for Printed {
    fn say(&self, line: &str) {
        tracing::info!("{line}");
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    }
}

/// `sister lab`: the course's client scenario against a sister server on loopback.
pub async fn lab(checks: &Checks) {
    let listener = match net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("the server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("no local address: {e}")),
    };
    let printed = Arc::new(Printed::default());
    let (trigger, signal) = shutdown::channel();
    let config = server::Config {
        output: server::Output::Say(printed.clone()),
        ..Default::default()
    };
    let server = tokio::spawn(server::run(listener, config, signal).in_current_span());

    let mut client = client::Config::course(addr.clone());
    client.wait = Duration::from_secs(5);
    match client::run(&client, &crate::console::Log).await {
        Ok(calls) => {
            checks.expect_eq(
                calls.len(),
                2,
                "the client checkedCasts both printers and calls printString on each",
            );
        }
        Err(e) => checks.fail(format!("the client failed: {e}")),
    }
    // The server prints after it has replied; give its task a moment to log.
    for _ in 0..50 {
        if printed.0.lock().map(|p| p.len() >= 2).unwrap_or(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lines = printed.0.lock().map(|p| p.clone()).unwrap_or_default();
    checks.expect_eq(
        lines,
        vec![
            format!("Object1 says: {MESSAGE1}"),
            format!("Object2 says: {MESSAGE2}"),
        ],
        "the server prints `Object1 says: ...` and `Object2 says: ...`, as the course's servants do",
    );

    // An object the adapter does not hold: Ice answers ObjectNotExist, and checkedCast fails.
    let mut ghost = client::Config::course(addr);
    ghost.calls = vec![("Nobody".into(), "x".into())];
    let refused = client::run(&ghost, &crate::console::Log)
        .instrument(tracing::info_span!("ice-client"))
        .await;
    checks.expect(
        matches!(
            refused,
            Err(client::IceError::Remote {
                status: wire::ice::ReplyStatus::ObjectNotExist,
                ..
            })
        ),
        "a proxy for an object the server does not have gets ObjectNotExist",
    );

    trigger.trigger();
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(joined) => checks.expect_stopped("the Ice server", joined),
        Err(_) => checks.fail("the Ice server did not stop within 10 s of the shutdown"),
    }
}
