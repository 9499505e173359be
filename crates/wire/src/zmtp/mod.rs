//! ZMTP 3.0 / 3.1: the wire protocol under ZeroMQ (libzmq, pyzmq), sans-I/O.
//!
//! A ZMTP connection goes through three stages (RFC 23/ZMTP 3.0 and RFC 37/ZMTP 3.1, §"Overall
//! Behavior"):
//!
//! ```text
//!   greeting (64 B each way)   ──► handshake (commands)          ──► traffic (frames)
//!   signature FF 00…00 7F          NULL mechanism: one READY          messages: [flags][size][body]
//!   version 3.1, mechanism          each way, carrying metadata       commands: SUBSCRIBE, CANCEL,
//!   "NULL", as-server, filler       (Socket-Type, Identity)           PING, PONG (3.1), ERROR
//! ```
//!
//! Modules, in the order the bytes arrive:
//! - [`greeting`]: the 64-byte greeting, decodable in pieces (libzmq sends it as 10 + 1 + 53 bytes);
//! - [`frame`]: the frame header (flags MORE, LONG, COMMAND and the 1- or 8-byte size) and [`Frame`];
//! - [`command`]: the commands carried in COMMAND frames (READY and its metadata, ERROR, SUBSCRIBE,
//!   CANCEL, PING, PONG; unknown names kept);
//! - [`subscription`]: ZMTP 3.0 subscriptions, which travel as messages whose first byte is 1 or 0;
//! - [`stream`]: [`StreamDecoder`], one direction of a connection from its first byte: greeting, then
//!   frames. This is what the capture analyzer drives with the reassembled bytes of a TCP stream.
//!
//! What to notice in a capture (for example `testdata/pcaps/zmq__daptong__zmq.pcap`): tshark shows only
//! "data", but every connection starts with `ff 00 00 00 00 00 00 00 01 7f`, then `03 01 "NULL"`; the
//! first frames are `04 <size> 05 "READY"`, and a REQ's request is two frames: an empty delimiter with
//! MORE set (`01 00`) and the body (`00 05 "Hello"`).
//!
//! Every decoder follows the crate's contract: `Incomplete` asks for more bytes, `Invalid` says which rule
//! broke, nothing panics, nothing allocates more than a bounded amount (frames borrow from the input,
//! and a frame larger than the caller's `max_frame` is refused before its body is awaited).

pub mod command;
pub mod frame;
pub mod greeting;
pub mod stream;
pub mod subscription;

use std::fmt;

pub use command::{Command, Metadata, Property};
pub use frame::{Frame, FrameHeader, FrameKind};
pub use greeting::{Greeting, Mechanism, PartialGreeting};
pub use stream::{Item, StreamDecoder};
pub use subscription::Subscription;

/// The default largest frame body sister accepts (16 MiB). libzmq has no limit by default
/// (`ZMQ_MAXMSGSIZE` = -1); a limit is what keeps a hostile 8-byte size from reserving gigabytes.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// The ZMTP version sister speaks: 3.1 (it reads 3.0 peers too, and then uses 3.0 subscriptions).
pub const VERSION: (u8, u8) = (3, 1);

/// A ZeroMQ socket type, as carried in the `Socket-Type` property of READY (RFC 23 §"The Socket-Type
/// Property"). Names the code does not know are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SocketType {
    Req,
    Rep,
    Dealer,
    Router,
    Pub,
    Xpub,
    Sub,
    Xsub,
    Push,
    Pull,
    Pair,
    Unknown(String),
}

impl SocketType {
    /// The name as it travels in READY (upper case ASCII).
    pub fn as_str(&self) -> &str {
        match self {
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pub => "PUB",
            SocketType::Xpub => "XPUB",
            SocketType::Sub => "SUB",
            SocketType::Xsub => "XSUB",
            SocketType::Push => "PUSH",
            SocketType::Pull => "PULL",
            SocketType::Pair => "PAIR",
            SocketType::Unknown(s) => s,
        }
    }

    /// Parse a `Socket-Type` value (the spec writes them upper case; libzmq compares exactly).
    pub fn from_bytes(name: &[u8]) -> SocketType {
        match name {
            b"REQ" => SocketType::Req,
            b"REP" => SocketType::Rep,
            b"DEALER" => SocketType::Dealer,
            b"ROUTER" => SocketType::Router,
            b"PUB" => SocketType::Pub,
            b"XPUB" => SocketType::Xpub,
            b"SUB" => SocketType::Sub,
            b"XSUB" => SocketType::Xsub,
            b"PUSH" => SocketType::Push,
            b"PULL" => SocketType::Pull,
            b"PAIR" => SocketType::Pair,
            other => SocketType::Unknown(crate::escape::show(other)),
        }
    }

    /// May a socket of this type talk to `peer`? The table of RFC 23 §"The Socket-Type Property": a
    /// peer SHALL close a connection to an incompatible type (a REQ cannot feed a PULL).
    pub fn is_compatible_with(&self, peer: &SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | Xpub, Sub | Xsub)
                | (Sub | Xsub, Pub | Xpub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
        )
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run every ZMTP decoder over arbitrary bytes, checking the contract's promises (no panic, `used`
/// within the input, progress on every `Ok`). The cargo-fuzz target `fuzz/fuzz_targets/zmtp_decode.rs`
/// and the bounded mutation test below both call it.
pub fn exercise(data: &[u8]) {
    // As a whole stream (greeting first), with a small frame limit so size checks are hit too.
    for max in [64, DEFAULT_MAX_FRAME] {
        let mut d = StreamDecoder::with_max_frame(max);
        let mut at = 0;
        while let Ok((item, used)) = d.decode(&data[at..]) {
            assert!(
                used > 0 && at + used <= data.len(),
                "decoder must make progress within the input"
            );
            let _ = item.to_string();
            if let Item::Frame(f) = item {
                let _ = f.command();
                let _ = Subscription::decode(f.body);
            }
            at += used;
        }
    }
    // As frames and commands without a greeting, and as a greeting prefix.
    let mut at = 0;
    while let Ok((f, used)) = Frame::decode(&data[at..], DEFAULT_MAX_FRAME) {
        let _ = f.to_string();
        at += used;
    }
    if let Ok(c) = Command::decode(data) {
        let _ = c.to_string();
        let mut out = Vec::new();
        c.encode(&mut out);
    }
    if let Ok(p) = PartialGreeting::decode(data) {
        let _ = p.to_string();
    }
    let _ = crate::pickle::decode_int(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The six directions of the three connections in testdata/pcaps/zmq__daptong__zmq.pcap (also the
    /// fuzzer's seeds).
    const SEEDS: [&[u8]; 6] = [
        include_bytes!("../../../../testdata/fuzz/zmtp/req-side.bin"),
        include_bytes!("../../../../testdata/fuzz/zmtp/rep-side.bin"),
        include_bytes!("../../../../testdata/fuzz/zmtp/push-side.bin"),
        include_bytes!("../../../../testdata/fuzz/zmtp/pull-side.bin"),
        include_bytes!("../../../../testdata/fuzz/zmtp/pub-side.bin"),
        include_bytes!("../../../../testdata/fuzz/zmtp/sub-side.bin"),
    ];

    #[test]
    fn the_captured_streams_decode_completely() {
        let mut all = vec![];
        for seed in SEEDS {
            let mut d = StreamDecoder::new();
            let (mut at, mut lines) = (0, vec![]);
            while at < seed.len() {
                let (item, used) = d.decode(&seed[at..]).unwrap();
                lines.push(item.to_string());
                at += used;
            }
            all.push(lines);
        }
        assert_eq!(all[0][1], "READY Socket-Type=\"REQ\" Identity=\"\"");
        assert_eq!(all[0][3], "MESSAGE 5 B \"Hello\"");
        assert_eq!(all[2][1], "READY Socket-Type=\"PUSH\"");
        assert_eq!(all[5][2], "SUBSCRIBE \"WAKTU\"");
        assert!(all[4][2].starts_with("MESSAGE 30 B \"WAKTU "));
    }

    #[test]
    fn socket_types_pair_as_rfc_23_says() {
        assert!(SocketType::Req.is_compatible_with(&SocketType::Rep));
        assert!(SocketType::Push.is_compatible_with(&SocketType::Pull));
        assert!(!SocketType::Push.is_compatible_with(&SocketType::Push));
        assert!(!SocketType::Req.is_compatible_with(&SocketType::Pull));
        assert_eq!(SocketType::from_bytes(b"ZZZ"), SocketType::Unknown("ZZZ".into()));
    }

    /// A bounded random-mutation run so that CI checks "no input panics" without cargo-fuzz:
    /// flips, inserts, deletes and truncates bytes of the captured streams.
    #[test]
    fn mutated_captures_never_panic() {
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..20_000 {
            let mut data = SEEDS[round % SEEDS.len()].to_vec();
            for _ in 0..1 + next() % 8 {
                let at = (next() as usize) % data.len().max(1);
                match next() % 5 {
                    0 if !data.is_empty() => data[at] ^= 1 << (next() % 8),
                    1 if !data.is_empty() => data[at] = next() as u8,
                    2 => data.insert(at.min(data.len()), next() as u8),
                    3 if !data.is_empty() => {
                        data.remove(at);
                    }
                    _ => data.truncate(at),
                }
            }
            exercise(&data);
            // The frames alone, skipping the greeting, reach the command decoders more often.
            exercise(data.get(64..).unwrap_or(&[]));
        }
    }
}
