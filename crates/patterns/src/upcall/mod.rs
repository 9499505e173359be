//! Upcall: the server calls the client back on the server's own initiative.
//!
//! In an ordinary request/response the client asks and the server answers; the server can speak only
//! when spoken to. An *upcall* reverses this: the client registers with the server once, and from then on
//! the server calls it whenever the server has something to say: when a slow job the client started is
//! done, when another client does something, or on a timer. (Think of a callback registered with an
//! event source, across the network.)
//!
//! The course's version (port 4141, compose services `upcall-server` and `upcall-client`) only answers
//! each line with `Upcall event: Processing <line>`: an echo with a prefix. sister's is a real upcall:
//! - the client sends `register <name>` and then keeps reading the terminal, while a second activity
//!   listens to the server and prints every upcall the moment it arrives, even while the user types;
//! - the server answers each line at once (`Upcall event: Processing <line>`, as the course's), starts
//!   the simulated work (`--work-ms`), and calls back with `Upcall event: Done <line> (...)` when it is
//!   done;
//! - the server pushes `Upcall event: Notice: ...` to every registered client every `--notify-every`
//!   seconds, and when another client sends a line, registers or leaves.
//!
//! The course's `clientcall.py` still works: it speaks raw and gets only the immediate answer, because it
//! reads exactly one reply per line (see [`server`] for why nothing else can be sent to it).
//!
//! # Run it
//! ```text
//! sister upcall server --work-ms 3000 --notify-every 10        # 0.0.0.0:4141
//! sister upcall client --server 127.0.0.1:4141 --name alice    # terminal 2: type lines
//! sister upcall client --server 127.0.0.1:4141 --name bob      # terminal 3: watch alice's notices
//! ```
//!
//! # In a capture
//! Look for segments from the server (port 4141) that follow no segment from the client: the Done and
//! Notice upcalls, seconds after the client's last line. In the course's capture every server segment
//! answers a client segment within a millisecond.

pub mod client;
pub mod server;
pub mod state;

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::console::{Input, Log, Say};
use crate::framing::Framing;
use crate::lab::Checks;
use crate::{net, shutdown};

/// The course's port for this pattern.
pub const PORT: u16 = 4141;

/// Logs a client's line like [`Log`] and also hands it to the scenario.
struct Tee(mpsc::UnboundedSender<String>);

impl Say for Tee {
    fn say(&self, line: &str) {
        Log.say(line);
        let _ = self.0.send(line.to_string());
    }
}

async fn wait_for(rx: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> bool {
    let found = async {
        while let Some(line) = rx.recv().await {
            if line.contains(needle) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_secs(10), found)
        .await
        .unwrap_or(false)
}

/// `sister lab`: bob registers and listens; alice registers and sends the worksheet's lines. Alice gets
/// the immediate answer and the completion upcall for each; bob is called back about alice's lines and by
/// the periodic notice; a raw client (as the course's `clientcall.py`) gets only the immediate answer.
pub async fn lab(checks: &Checks) {
    let listener = match net::bind_tcp("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return checks.fail(format!("the server could not bind: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("no local address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let config = server::Config {
        work: Duration::from_millis(300),
        notify_every: Some(Duration::from_millis(700)),
        ..server::Config::default()
    };
    let server = tokio::spawn(server::run(listener, config, signal).in_current_span());
    let client_config = |name: &str| client::Config {
        server: addr.clone(),
        wait: Duration::from_secs(5),
        framing: Framing::Auto,
        name: name.to_string(),
        linger: Duration::from_secs(10),
    };

    // Bob: registered, reading a "terminal" nobody types into; he only hears upcalls.
    let (bob_tx, mut bob_rx) = mpsc::unbounded_channel();
    let (keyboard, bob_terminal) = tokio::io::duplex(64);
    let bob = tokio::spawn({
        let config = client_config("bob");
        async move { client::run(&config, Input::reader(bob_terminal), &Tee(bob_tx)).await }.in_current_span()
    });
    checks.expect(
        wait_for(&mut bob_rx, "Registered as bob").await,
        "bob registers for upcalls",
    );

    let lines = ["hello", "distributed", "systems", "bye"];
    match client::run(&client_config("alice"), Input::script(lines), &Log).await {
        Ok(out) => {
            let got: Vec<String> = out
                .received
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect();
            for line in lines {
                let now = got
                    .iter()
                    .position(|m| *m == format!("Upcall event: Processing {line}"));
                let done = got
                    .iter()
                    .position(|m| m.starts_with(&format!("Upcall event: Done {line} (")));
                checks.expect(
                    matches!((now, done), (Some(a), Some(b)) if a < b),
                    format!("alice gets `Processing {line}` at once and `Done {line}` when the work is done"),
                );
            }
        }
        Err(e) => checks.fail(format!("alice's client failed: {e}")),
    }
    checks.expect(
        wait_for(&mut bob_rx, "Notice: alice sent \"hello\"").await,
        "the server calls bob back when alice sends a line",
    );
    checks.expect(
        wait_for(&mut bob_rx, "Notice: tick").await,
        "the server pushes its periodic notice to bob on its own initiative",
    );
    drop(keyboard); // bob's terminal ends: he leaves
    match tokio::time::timeout(Duration::from_secs(10), bob).await {
        Ok(Ok(Ok(out))) => checks.expect(out.upcalls, "bob's client ends cleanly"),
        _ => checks.expect(false, "bob's client ends cleanly"),
    };

    let raw = client::Config {
        framing: Framing::Raw,
        ..client_config("raw")
    };
    match client::run(&raw, Input::script(["hello"]), &Log).await {
        Ok(out) => {
            checks.expect_eq(
                out.received,
                vec![b"Upcall event: Processing hello".to_vec()],
                "a raw client (the course's clientcall.py) gets exactly the immediate answer",
            );
        }
        Err(e) => checks.fail(format!("the raw client failed: {e}")),
    };

    trigger.trigger();
    let stopped = matches!(
        tokio::time::timeout(Duration::from_secs(10), server).await,
        Ok(Ok(Ok(())))
    );
    checks.expect(stopped, "the server stops cleanly on shutdown");
}
