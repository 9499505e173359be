//! MQTT: publish/subscribe through a broker (MQTT 3.1.1 and 5.0).
//!
//! A publisher sends a message to a *topic* (`sister/temp`); the broker hands a copy to every client
//! whose *subscription* (a topic filter such as `sister/#` or `sister/+/temp`) matches it. Publisher
//! and subscriber never talk to each other, and neither knows the other exists: that is the point of
//! the pattern. A subscriber on `sister/channel/kesehatan` receives nothing from a publisher on
//! `sister/channel/gaming`, and no error tells either of them: only the broker can see it (and sister's
//! broker says so in its log).
//!
//! Run it:
//! ```text
//! sister mqtt broker                      # 0.0.0.0:1883, anonymous, like the course's Mosquitto
//! ```
//!
//! In a capture (port 1883): CONNECT / CONNACK, SUBSCRIBE / SUBACK, then PUBLISH packets carrying the
//! topic and the payload in clear text; PINGREQ / PINGRESP every keep-alive; DISCONNECT at the end.
//!
//! Modules:
//! - [`client`]: an MQTT client (connect, QoS 0/1/2 flows, keep-alive, disconnect) for `sister mqtt
//!   pub` ([`publisher`]) and `sister mqtt sub` ([`subscriber`]);
//! - [`broker`]: the broker: its protocol state without I/O (`broker::state`, `broker::trie`) and the
//!   tokio server around it;
//! - [`bench`]: a load generator for brokers (`sister bench mqtt`, bench/mqtt.sh);
//! - [`lab`]: the worksheet's scenario for `sister lab` (wrong topic: nothing arrives and the broker
//!   says why; right topic: everything arrives).

pub mod bench;
pub mod broker;
pub mod client;
pub mod publisher;
pub mod subscriber;
mod worksheet;
pub mod worksheet_tls;

pub use worksheet::lab;
