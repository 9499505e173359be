//! `wire`: the lab's protocols as bytes, and nothing else.
//!
//! Every codec here is *sans-I/O*: it takes `&[u8]` and says what message is in it (or that more bytes
//! are needed), and it writes messages into a buffer. It never touches a socket, never spawns, never
//! prints. That is what lets one codec serve the live servers and clients (`sister-patterns`, over tokio)
//! and the capture analyzer (`sister-analyze`, over bytes reassembled from a pcap) alike.
//!
//! The contract every codec keeps (see ARCHITECTURE.md, "The codec contract"):
//! - `decode(&[u8]) -> Result<(Message, used), DecodeError>`; [`DecodeError::Incomplete`] is a normal
//!   state (read more), [`DecodeError::Invalid`] says why the bytes cannot be this protocol;
//! - no input makes it panic, loop or allocate without bound;
//! - values it does not know are kept (`Unknown(n)`), so the analyzer can show them.
//!
//! Modules:
//! - [`error`]: the [`DecodeError`] shared by all codecs;
//! - [`frame`]: sister's message framing for the plain-TCP patterns (request/response, one-way, upcall),
//!   and why TCP needs one at all;
//! - [`net`]: network headers for the capture analyzer: Ethernet/VLAN, Linux cooked SLL/SLL2, BSD
//!   loopback, ARP, IPv4, IPv6 (extension headers), TCP (options), UDP, ICMP/ICMPv6; `net::decode` peels
//!   a whole frame;
//! - [`escape`]: showing bytes from a peer to a human (invalid UTF-8 escaped, never a panic).
//! - [`mqtt`]: MQTT 3.1, 3.1.1 and 5.0, all 15 packets, properties, reason codes, topic names and
//!   filters (the broker, the clients and the analyzer all read MQTT here);
//! - [`zmtp`]: ZeroMQ's wire protocol, ZMTP 3.0/3.1 (greeting, NULL handshake, frames, commands);
//! - [`ice`]: ZeroC Ice, the Ice protocol 1.0 and encoding 1.1 (header, Request, BatchRequest, Reply
//!   and its eight statuses, ValidateConnection, CloseConnection, bzip2-compressed bodies);
//! - [`giop`]: CORBA's GIOP 1.0-1.2 over IIOP (the eight messages, CDR in both byte orders, fragments,
//!   IORs, corbaloc/corbaname, CosNaming's names and exceptions);
//! - [`pickle`]: the small subset of Python pickles the course's PUSH/PULL sends (integers).
//! - [`lamport`]: the course's Lamport-clock JSON message (`message`, `balance`, `timestamp`).
//! - [`http`]: HTTP/1.1 requests as a server reads them (framing, keep-alive, 100-continue, limits) and
//!   its answers, under the JSON-RPC and SOAP servers;
//! - [`jsonrpc`]: JSON-RPC 2.0 requests, responses, batches and the server's rules, on serde_json;
//! - [`xml`]: a small bounded XML tree (no DTD, no entity expansion) under [`soap`] and [`wsdl`];
//! - [`soap`]: SOAP 1.1 envelopes and faults, document/literal;
//! - [`wsdl`]: writing and reading the WSDL 1.1 of a document/literal service;
//! - [`ws`]: WebSocket (RFC 6455): the opening handshake (server and client side), frames, masking,
//!   close codes, and a byte stream out of binary frames (MQTT over WebSockets).

pub mod error;
pub mod escape;
pub mod frame;
pub mod giop;
pub mod http;
pub mod ice;
pub mod jsonrpc;
pub mod lamport;
pub mod mqtt;
pub mod net;
pub mod pickle;
pub mod soap;
pub mod ws;
pub mod wsdl;
pub mod xml;
pub mod zmtp;

pub use error::DecodeError;

/// Helpers shared by the codecs' tests.
#[cfg(test)]
pub(crate) mod testing {
    /// Marsaglia's xorshift64: a repeatable stream of numbers for the tests that mutate inputs (the
    /// same seed gives the same mutations on every run, so a failure can be replayed).
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }
}
