//! UDP: one datagram out, one datagram back; no connection, no promise.
//!
//! The course's UDP example (port 12345/udp, compose services `udp-server` and `udp-client`): the client
//! sends `Hello, UDP server2!`; the server prints it and answers
//! `Hello, ('172.18.0.3', 44529). You said: Hello, UDP server2!` (the client's address in Python's tuple
//! formatting, because the course's server formats the `recvfrom` address with `{}`).
//!
//! # Run it
//! ```text
//! sister udp server                                       # listens on 0.0.0.0:12345/udp
//! sister udp client --server 127.0.0.1:12345              # one datagram, waits, retries
//! sister udp client --server 127.0.0.1:12345 --count 10000 --size 512 --rate 0
//! ```
//!
//! # What UDP promises (and does not)
//! Each datagram arrives whole or not at all: unlike TCP, message boundaries are kept, so no framing is
//! needed. But nothing is retransmitted, nothing is ordered, and a datagram can arrive twice. The course's
//! client waits forever for a lost reply; sister's waits `--timeout` and sends again (`--retries`). The
//! flood mode (`--count N --size B --rate R`) numbers its datagrams and reports how many came back, how
//! many twice and how many out of order. On loopback losses come from full socket buffers: try
//! `--rate 0` with a large `--count`.
//!
//! # In a capture
//! No handshake and no FIN: one UDP datagram from the client, one back. A new client run uses a new
//! source port (compare the three exchanges in the course's `udp4.pcap`). If no server listens, the
//! answer is an ICMP "port unreachable", which sister's client reports.

pub mod client;
pub mod server;
pub mod state;

use std::time::Duration;

use tracing::Instrument;

use crate::console::Log;
use crate::lab::Checks;
use crate::{net, shutdown};

/// The course's port for this pattern.
pub const PORT: u16 = 12345;

/// `sister lab`: the course's datagram and its exact answer, then a numbered burst with its tally.
pub async fn lab(checks: &Checks) {
    let socket = match net::bind_udp("127.0.0.1:0").await {
        Ok(s) => s,
        Err(e) => return checks.fail(format!("the server could not bind: {e}")),
    };
    let addr = match socket.local_addr() {
        Ok(a) => a.to_string(),
        Err(e) => return checks.fail(format!("no local address: {e}")),
    };
    let (trigger, signal) = shutdown::channel();
    let server =
        tokio::spawn(server::run(socket, server::Config { log_per_second: 5 }, signal).in_current_span());

    let config = client::Config {
        server: addr,
        timeout: Duration::from_secs(2),
        retries: 3,
        wait: Duration::ZERO,
    };
    match client::send_one(&config, client::DEFAULT_MESSAGE.as_bytes(), &Log).await {
        Ok(reply) => {
            let text = String::from_utf8_lossy(&reply);
            let ok = text.starts_with("Hello, ('127.0.0.1', ")
                && text.ends_with(&format!("). You said: {}", client::DEFAULT_MESSAGE));
            checks.expect(
                ok,
                format!(
                    "the server answers `Hello, ('127.0.0.1', <port>). You said: {}` (got `{text}`)",
                    client::DEFAULT_MESSAGE
                ),
            );
        }
        Err(e) => checks.fail(format!("the client got no answer: {e}")),
    }

    let burst = client::Flood {
        count: 200,
        size: 64,
        rate: 2000.0,
    };
    match client::flood(&config, &burst, &Log).await {
        Ok(tally) => {
            checks.expect(
                tally.sent == burst.count && tally.received_unique() > 0 && tally.foreign == 0,
                format!(
                    "a burst of {} numbered datagrams is tallied: {}",
                    burst.count,
                    tally.summary()
                ),
            );
        }
        Err(e) => checks.fail(format!("the burst failed: {e}")),
    }

    trigger.trigger();
    let stopped = matches!(
        tokio::time::timeout(Duration::from_secs(10), server).await,
        Ok(Ok(Ok(())))
    );
    checks.expect(stopped, "the server stops cleanly on shutdown");
}
