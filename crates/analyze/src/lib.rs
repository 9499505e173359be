//! `analyze`: what happened in a packet capture, written down as a student would (and should).
//!
//! ```no_run
//! let analysis = analyze::analyze_files(&["mqtt.pcap"], &analyze::Options::default())?;
//! println!("{}", analyze::render::text::render(&analysis.report));
//! # Ok::<(), analyze::Error>(())
//! ```
//!
//! The pipeline, one packet at a time (the file is streamed, never loaded whole):
//! 1. `capture::read::Reader` gives frames; `wire::net::decode` peels link, IP, TCP/UDP headers.
//! 2. Duplicates are dropped: `tcpdump -i any` on a Docker host sees each packet twice (on the
//!    container's veth and on the bridge), 1-50 µs apart, with a different interface index or packet type.
//!    Counting both would double every number and make every segment look retransmitted.
//! 3. Each packet joins its conversation ([`flow`]): TCP connections (a new SYN on a closed 4-tuple
//!    starts a new one) and UDP exchanges. The *client* is who sent the SYN (or, when the capture
//!    started mid-stream, who used the non-service port).
//! 4. TCP payload is reassembled per direction ([`reassembly`]) and handed, as soon as it is contiguous,
//!    to the conversation's dissector ([`dissect`]), chosen by content first and port second.
//! 5. At the end, the conversations become the [`report::Report`] (built by `report::build`): hosts
//!    and roles, conversations with lifecycle and Zeek state, messages, activity lines, anomalies,
//!    other traffic.
//!
//! Dissectors run on the lab's own codecs: `wire::mqtt`, `wire::zmtp` (+ `wire::pickle`), `wire::ice`,
//! `wire::giop`, `wire::jsonrpc`, `wire::soap`, `wire::lamport`, `wire::frame`; HTTP/1.x framing is httparse's.
//!
//! Bounds: at most 4 MiB per direction waits behind a hole in a TCP stream, 64 KiB of HTTP headers,
//! 256 KiB of a body kept for summarising, one MQTT packet / ZMTP frame / Ice or GIOP message of 8 MiB
//! (and 8 MiB of GIOP fragments being joined per direction); the report keeps 1000
//! messages per conversation and 20,000 in all (every message is still counted; past the limit the
//! dissectors only count, see [`dissect::Messages`], which is what makes a 1 GB capture fast).
//!
//! Tests: unit tests here (`cargo test -p sister-analyze`), and `tests/analyze.rs` in the repository's
//! test binary, which runs `sister analyze` on the 13 real captures of `testdata/pcaps`, the ZeroC
//! Ice captures of `testdata/ice` and the omniORB captures of `testdata/corba`, and compares it with
//! tshark (packets, conversations, HTTP, MQTT, Ice, GIOP) and tcpflow (every stream, byte for byte).
//!
//! Modules: [`report`] (the model and its JSON Schema, and the builder that fills it), [`render`] (the
//! text report, the SVG sequence diagram and the Markdown findings, in English or Indonesian, hosts
//! named), [`follow`] (`--follow`), [`flow`], [`reassembly`], [`dissect`], [`live`]
//! (`sister capture --decode`).

pub mod check;
pub mod dissect;
pub mod flow;
pub mod follow;
pub mod live;
pub mod reassembly;
pub mod render;
pub mod report;

mod analyzer;

pub use analyzer::{analyze_files, analyze_files_with_progress, Analysis, Analyzer, Error, Options};
