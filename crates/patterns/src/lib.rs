//! `patterns`: every communication pattern of the lab as a live server and client.
//!
//! Shared pieces (read these first):
//! - [`net`]: binding and connecting with errors a student can act on (port in use, name not
//!   resolvable, server not up yet: `--wait`);
//! - [`shutdown`]: Ctrl+C / SIGTERM as a signal every task can watch;
//! - [`lab`]: what each pattern gives `sister lab` (a scenario and its checks);
//! - [`server`]: the skeleton every TCP server uses: one task per connection, a connection limit,
//!   graceful shutdown with a grace period.
//!
//! Patterns:
//! - [`zmq`]: ZeroMQ REQ/REP, PUB/SUB, PUSH/PULL (and DEALER/ROUTER) over ZMTP 3, with libzmq's semantics.
//!
//! One folder per pattern; each `mod.rs` says what the pattern is, how to run it and what to look for in
//! a capture. Protocol logic that is not I/O lives apart from the sockets (`state.rs`) and is tested
//! without them.
//!
//! Coordination patterns: [`zk`] (leader election and a kazoo-compatible lock on a real ZooKeeper),
//! [`lamport`] (the course's two-process exchange, an N-process simulation, the space-time diagram),
//! [`procs`] (processes versus threads, a lost update).

pub mod console;
pub mod lab;
pub mod lamport;
pub mod messages;
pub mod mqtt;
pub mod net;
pub mod oneway;
pub mod procs;
pub mod reqresp;
pub mod server;
pub mod shutdown;
pub mod throttle;
pub mod udp;
pub mod upcall;
pub mod zk;
pub mod zmq;
