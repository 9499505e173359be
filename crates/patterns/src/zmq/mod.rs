//! ZeroMQ: REQ/REP, PUB/SUB and PUSH/PULL without a broker, interoperating with libzmq (pyzmq).
//!
//! The course's three patterns (LAB.md), each a pair of sockets over one TCP connection per peer:
//!
//! | pattern | sockets | what happens | course port |
//! |---|---|---|---|
//! | request/reply | REQ → REP | REQ sends `Hello`, must get `World` before it may send again | 5555 |
//! | publish/subscribe | PUB → SUB | PUB sends `WAKTU <time>` every second; SUB keeps what starts with `WAKTU` | 12345 |
//! | pipeline | PUSH → PULL | PUSH deals workloads round robin to every connected worker | 9999 |
//!
//! Run them (`sister zmq --help`):
//! ```text
//! sister zmq rep                        # binds tcp://0.0.0.0:5555
//! sister zmq req --connect 127.0.0.1:5555
//! sister zmq pub  /  sister zmq sub --connect 127.0.0.1:12345
//! sister zmq push /  sister zmq pull --connect 127.0.0.1:9999 --workers 3 --speed 20
//! ```
//!
//! What to look for in a capture (tshark shows only "data"; `sister analyze` decodes it with
//! `wire::zmtp`): every connection opens with the 64-byte greeting (`ff 00…01 7f 03 01 "NULL"`),
//! then one READY each way naming the socket types; a REQ's request is two frames, the empty
//! delimiter `01 00` and `00 05 "Hello"`; a SUB's subscription is a SUBSCRIBE command
//! `04 0f 09 "SUBSCRIBE" "WAKTU"`; and a PUB's messages to a SUB that subscribed to nothing never
//! leave the publisher at all: filtering happens on the PUB side.
//!
//! Files: [`socket`] (the socket: peers, queues, high-water marks), `peer.rs` (one connection:
//! handshake, reader, writer), [`state`] (REQ/REP alternation and envelopes, subscriptions, round robin:
//! no I/O), [`apps`] (the course's programs and `sister lab`'s scenario).

pub mod apps;
mod message;
mod peer;
pub mod socket;
pub mod state;

pub use apps::lab;
pub use message::Message;
pub use socket::{parse_endpoint, Options, Socket, Stats, ZmqError};
pub use wire::zmtp::SocketType;
