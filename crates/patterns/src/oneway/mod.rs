//! One-way TCP: the client sends lines, the server prints them and never answers.
//!
//! The course's one-way example (port 3131, no compose file in the course). With no reply, the client
//! never learns whether anything arrived: TCP's acknowledgements only say the *kernel* got the bytes.
//!
//! # Run it
//! ```text
//! sister oneway server                                    # listens on 0.0.0.0:3131
//! sister oneway client --server 127.0.0.1:3131            # type lines; `bye` ends
//! sister oneway client --server 127.0.0.1:3131 --raw -m hello -m distributed -m systems
//! ```
//!
//! # The byte-stream lesson, most visible here
//! The client writes its messages back to back without waiting for anything. With `--raw` (the course's
//! convention, no framing) the server's single read often returns several of them glued together:
//! `hellodistributedsystems`. With sister's framing (the default) the server prints three messages,
//! because each carries its length. Against the course's own one-way server use `--raw`: with no reply
//! sister's client cannot detect a raw server, and the course's server would print the 5-byte frame
//! headers (control characters) along with the text.
//!
//! # In a capture
//! Handshake, then PSH/ACK segments from the client only (the server's segments are bare ACKs), then FIN.
//! Count the messages per segment in the `--raw` case.

pub mod client;
pub mod server;

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::console::{Input, Log};
use crate::framing::Framing;
use crate::lab::Checks;
use crate::{net, shutdown};

/// The course's port for this pattern.
pub const PORT: u16 = 3131;

/// `sister lab`: a scripted framed client sends the worksheet's lines; the server must have received
/// exactly those messages, one by one, and sent nothing back.
pub async fn lab(checks: &Checks) {
    let listener = match net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("the server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("no local address: {e}")),
    };
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let (trigger, signal) = shutdown::channel();
    let config = server::Config {
        observer: Some(seen_tx),
        ..server::Config::default()
    };
    let server = tokio::spawn(server::run(listener, config, signal).in_current_span());

    let lines = ["hello", "distributed", "systems", "bye"];
    let config = client::Config {
        server: addr,
        wait: Duration::from_secs(5),
        framing: Framing::Auto,
    };
    match client::run(&config, Input::script(lines), &Log).await {
        Ok(sent) => checks.expect_eq(sent, lines.len(), "the client sends all four lines"),
        Err(e) => return checks.fail(format!("the client failed: {e}")),
    };
    let mut received = Vec::new();
    while received.len() < lines.len() {
        match tokio::time::timeout(Duration::from_secs(5), seen_rx.recv()).await {
            Ok(Some(m)) => received.push(String::from_utf8_lossy(&m).into_owned()),
            _ => break,
        }
    }
    checks.expect_eq(
        received,
        lines.iter().map(|s| s.to_string()).collect(),
        "the server receives each line as its own message (framing keeps back-to-back lines apart)",
    );
    trigger.trigger();
    let stopped = matches!(
        tokio::time::timeout(Duration::from_secs(10), server).await,
        Ok(Ok(Ok(())))
    );
    checks.expect(stopped, "the server stops cleanly on shutdown");
}
