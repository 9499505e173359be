//! `web`: the lab seen in a browser. One page (HTML, CSS and JavaScript embedded in the binary: no
//! npm, no build step, no CDN, so it works offline in a classroom), served by axum, with three views:
//!
//! - **Topics** ([`topics`], [`feed`]): what an MQTT broker carries, as a tree of topics with message
//!   counts, retained values, the last payload, a highlight when a message arrives, each topic's
//!   history and a plot when its payloads carry a number (`Suhu: 28°C` -> 28), and a form to publish.
//!   MQTT Explorer is the model; here it runs in the browser and any number of students can open it.
//! - **Capture** ([`capture`]): a capture's flow diagram as Wireshark's Flow Graph draws it: hosts as
//!   columns, each message an arrow; a click shows its fields and bytes. The analysis is exactly
//!   `sister analyze --format json`'s (`POST /api/analyze`).
//! - **Lamport**: a recorded `sister lamport sim --record` run as a space-time diagram.
//! - **Lab** ([`lab`]): `sister lab --web`, the worksheet's run live: each pattern's transcript and
//!   checks as it runs, its loopback capture in the Capture view, its MQTT messages in the tree.
//!
//! What to notice:
//! - The server keeps the state (the topic tree, the loaded captures) and the page asks for a
//!   snapshot when it loads (`GET /api/topics`), then follows a stream of changes pushed with
//!   server-sent events (`GET /api/events`, [`server::Events`]). Changes are batched (a few per second,
//!   not one event per MQTT message), so 1,000 messages/s cost the page ten updates a second.
//! - The model ([`topics::TopicTree`]) is plain data with no sockets, tested on its own; [`feed`] is the
//!   MQTT client that fills it; [`server`] is the HTTP surface. The same split as the patterns'.
//! - Safety: `sister web` binds 127.0.0.1 unless told otherwise; uploads have a size limit (413 with
//!   the limit) and are written only inside a private temporary directory; a malformed capture is an
//!   error shown on the page, never a dead server.

pub mod capture;
pub mod feed;
pub mod flow;
pub mod lab;
pub mod lamport;
pub mod server;
pub mod topics;

mod assets;

pub use server::{router, serve, App, WebOptions};
