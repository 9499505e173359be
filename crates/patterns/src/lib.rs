//! `patterns`: every communication pattern of the lab as a live server and client.
//!
//! Shared pieces (read these first):
//! - [`net`]: binding and connecting with errors a student can act on (port in use, name not
//!   resolvable, server not up yet: `--wait`);
//! - [`shutdown`]: Ctrl+C / SIGTERM as a signal every task can watch;
//! - [`lab`]: what each pattern gives `sister lab` (a scenario and its checks);
//! - [`http`]: an axum router on that skeleton (REST), sister's own HTTP/1.1 loop on it (JSON-RPC,
//!   SOAP), and a one-call-per-connection HTTP client (all three); [`calc`]: their calculator, 64-bit
//!   and overflow-checked;
//! - [`tls`]: TLS as Mosquitto's and curl's options name it (rustls); [`ca`]: the lab's certificate
//!   authority (`sister ca`), which makes the certificates TLS needs;
//! - [`ws`]: a WebSocket client stream (RFC 6455, on `wire::ws`) over TCP or TLS;
//! - [`accept_loop`]: the skeleton every TCP server uses: one task per connection, a connection limit,
//!   graceful shutdown with a grace period (it was `server`, beside the nine patterns' own `server.rs`);
//! - [`framing`]: messages over a TCP byte stream, sister-framed or the course's raw convention, detected
//!   per connection (it was `messages`, which said what it carries, not what it does);
//! - [`console`]: what a client reads (terminal or script, the `bye` rules) and prints;
//! - [`throttle`]: a log-line budget so floods do not bury the terminal.
//!
//! Patterns: [`reqresp`] (TCP request/response), [`oneway`] (one-way TCP), [`udp`], [`upcall`] (the
//! server calls its clients back).
//!
//! Patterns:
//! - [`zmq`]: ZeroMQ REQ/REP, PUB/SUB, PUSH/PULL (and DEALER/ROUTER) over ZMTP 3, with libzmq's semantics.
//! - [`corba`]: distributed objects with CORBA (Hello and a CosNaming Naming Service on 2809), over [`wire::giop`].
//! - [`ice`]: distributed objects with ZeroC Ice (the course's Printer objects on 11000), over [`wire::ice`].
//!
//! One folder per pattern; each `mod.rs` says what the pattern is, how to run it and what to look for in
//! a capture. Protocol logic that is not I/O lives apart from the sockets (`state.rs`) and is tested
//! without them.
//!
//! Coordination patterns: [`zk`] (leader election and a kazoo-compatible lock on a real ZooKeeper),
//! [`lamport`] (the course's two-process exchange, an N-process simulation, the space-time diagram),
//! [`procs`] (processes versus threads, a lost update).

pub mod accept_loop;
pub mod ca;
pub mod calc;
pub mod console;
pub mod corba;
pub mod framing;
pub mod http;
pub mod ice;
pub mod lab;
pub mod lamport;
pub mod mqtt;
pub mod net;
pub mod oneway;
pub mod procs;
pub mod reqresp;
pub mod rest;
pub mod rpc;
pub mod shutdown;
pub mod soap;
pub mod throttle;
pub mod tls;
pub mod udp;
pub mod upcall;
pub mod ws;
pub mod zk;
pub mod zmq;
