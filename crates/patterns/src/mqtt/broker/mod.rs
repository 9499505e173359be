//! sister's MQTT broker.
//!
//! - [`trie`]: the subscription tree (which filters match a topic; `+`, `#`, `$` topics);
//! - [`state`]: the protocol state without I/O: sessions, QoS 1/2 flows, retained messages, wills,
//!   queues and their limits (the queue policy is documented there);
//! - [`auth`]: the optional password file and topic ACL (Mosquitto-like formats);
//! - [`server`]: the tokio side: one task per connection, batching, keep-alive, back-pressure;
//! - `parking`: idle clients parked outside tokio, without a task (memory per idle client).

pub mod auth;
pub mod config;
mod link;
mod parking;
pub mod server;
pub mod state;
pub mod trie;

pub use server::{run, run_listeners, BrokerOptions, Listener};
