//! TCP request/response: the client sends a line, the server answers `Echo: <line>`.
//!
//! The simplest client/server exchange of the course (port 2222, compose services `reqresp-server` and
//! `reqresp-client`). Each request gets exactly one response; the client waits for it before sending the
//! next line.
//!
//! # Run it
//! ```text
//! sister reqresp server                                   # listens on 0.0.0.0:2222
//! sister reqresp client --server 127.0.0.1:2222           # type lines; `bye` ends
//! sister reqresp client --server 127.0.0.1:2222 -m hello -m distributed -m systems -m bye
//! ```
//! The client prints `Received: Echo: hello`, as the course's client does.
//!
//! # TCP is a byte stream (the lesson of this pattern)
//! The course's programs take whatever one `recv(1024)` returns as one message. That works while a person
//! types short lines, because each line leaves in its own segment long before the next. It breaks as soon
//! as a message is longer than 1024 bytes (the server sees two messages) or two messages leave back to
//! back (the server may see one, `hellodistributed`). TCP promised only to deliver the *bytes*, in order.
//!
//! sister's client and server therefore frame every message (`0x01 | u32 length | payload`, see
//! [`wire::frame`]); between two sister peers a 1 MB message and 10,000 messages sent back to back arrive
//! exactly as sent. The server tells a framed peer from one of the course's raw clients by the first byte
//! (see [`crate::framing`]), so the course's `client.py` and `auto_client.py` keep working unchanged, and
//! sister's client notices the course's `server.py` from its first reply and falls back to raw mode.
//!
//! # In a capture
//! Three-way handshake, then per message one PSH/ACK segment from the client and one back from the
//! server (between sister peers, five bytes more each: `01 00 00 00 05 68 65 6c 6c 6f` is `hello`),
//! then FIN/ACK in both directions. With `--raw` and quick messages, look for two messages in one
//! segment: nothing on the wire marks where one ends.

pub mod bench;
pub mod client;
pub mod server;

use std::time::Duration;

use tracing::Instrument;

use crate::console::{Input, Log};
use crate::framing::{ClientConn, ClientError, Framing};
use crate::lab::Checks;
use crate::{net, shutdown};

/// The course's port for this pattern.
pub const PORT: u16 = 2222;
/// The worksheet's scripted client.
pub const WORKSHEET: [&str; 4] = ["hello", "distributed", "systems", "bye"];

/// `sister lab`: the worksheet's scripted client (framed, then the course's raw way) against a sister
/// server, and the byte-stream lesson: 1,000 messages written back to back come back as 1,000 replies.
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
    let server = tokio::spawn(server::run(listener, server::Config::default(), signal).in_current_span());

    let expected: Vec<Vec<u8>> = WORKSHEET
        .iter()
        .map(|m| format!("Echo: {m}").into_bytes())
        .collect();
    for framing in [Framing::Auto, Framing::Raw] {
        let config = client::Config {
            server: addr.clone(),
            wait: Duration::from_secs(5),
            framing,
        };
        let how = match framing {
            Framing::Auto => "sister's framed client",
            Framing::Raw => "a raw client (the course's convention)",
        };
        match client::run(&config, Input::script(WORKSHEET), &Log).await {
            Ok(replies) => {
                checks.expect_eq(
                    replies,
                    expected.clone(),
                    format!("{how} gets `Echo: <line>` for hello, distributed, systems, bye"),
                );
            }
            Err(e) => checks.fail(format!("{how} failed: {e}")),
        }
    }

    let back_to_back = async {
        let mut conn = ClientConn::connect(&addr, Duration::from_secs(5), Framing::Auto).await?;
        let n = 1000;
        for i in 0..n {
            conn.send(format!("message {i}").as_bytes()).await?;
        }
        let mut ok = 0;
        for i in 0..n {
            match conn.recv().await? {
                Some(reply) if reply == format!("Echo: message {i}").as_bytes() => ok += 1,
                _ => break,
            }
        }
        Ok::<_, ClientError>((n, ok))
    };
    let span = tracing::info_span!("reqresp-client");
    match back_to_back.instrument(span.clone()).await {
        Ok((n, ok)) => {
            span.in_scope(|| {
                tracing::info!("wrote {n} framed messages back to back; {ok} replies came back, in order")
            });
            checks.expect_eq(
                ok,
                n,
                "1000 framed messages sent back to back are neither split nor merged",
            );
        }
        Err(e) => checks.fail(format!("the back-to-back run failed: {e}")),
    }

    trigger.trigger();
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) => checks.expect(true, "the server stops cleanly on shutdown"),
        _ => checks.expect(false, "the server stops cleanly on shutdown"),
    };
}
