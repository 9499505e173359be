//! `sister mqtt broker`: flags -> [`patterns::mqtt::broker::run`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use patterns::mqtt::broker::{self, auth::Auth, state, BrokerOptions};
use tracing::Instrument;

/// Flags of `sister mqtt broker` (defaults: the course's Mosquitto: port 1883, anonymous clients).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister mqtt broker                               0.0.0.0:1883, anonymous, like the course's Mosquitto
  sister mqtt broker --bind 127.0.0.1:1884 -v      another port, with debug logging
  sister mqtt broker --password-file users.txt --acl-file acl.txt --no-anonymous

Password file: one `user:password` per line. ACL file: Mosquitto's format (`user NAME`,
`topic [read|write|readwrite|deny] FILTER`, `pattern ... %c/%u`); see crates/patterns/src/mqtt/broker/auth.rs.
Queue policy (slow subscribers): see crates/patterns/src/mqtt/broker/state.rs.")]
pub struct BrokerArgs {
    /// Address and port to listen on
    #[arg(long, env = "SISTER_MQTT_BIND", default_value = "0.0.0.0:1883")]
    pub bind: String,
    /// Threads that run the connections. 1 (the default) keeps the order in which packets of different
    /// clients arrive, as Mosquitto's single event loop does (a SUBSCRIBE that reached the broker first
    /// takes effect before another client's PUBLISH); more use more cores but may reorder such races
    #[arg(long, env = "SISTER_MQTT_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Connections served at once (more wait in the listen backlog); idle clients parked without a
    /// task (see crates/patterns/src/mqtt/broker/parking.rs) do not count
    #[arg(long, default_value_t = 100_000)]
    pub max_connections: usize,
    /// QoS 1/2 messages in flight per client (a 5.0 client's smaller Receive Maximum wins)
    #[arg(long, default_value_t = 100)]
    pub max_inflight: u16,
    /// QoS 1/2 messages queued per client beyond the in-flight ones; more are dropped, counted, logged
    #[arg(long, default_value_t = 1000)]
    pub max_queued: usize,
    /// Packets waiting to be written per client before its QoS 0 messages are dropped (counted, logged)
    #[arg(long, default_value_t = 1000)]
    pub max_outbox: usize,
    /// QoS 2 messages a client may leave unreleased (5.0 Receive Maximum; exceeding it: DISCONNECT 0x93)
    #[arg(long, default_value_t = 1000)]
    pub receive_maximum: u16,
    /// Largest keep-alive a client may use, seconds (5.0 clients are told; 3.1.1 clients above it are refused)
    #[arg(long, default_value_t = 65535)]
    pub max_keepalive: u16,
    /// Largest packet accepted, bytes (5.0 Maximum Packet Size; larger: DISCONNECT 0x95)
    #[arg(long, default_value_t = 1 << 20)]
    pub max_packet_size: u32,
    /// Topic aliases a 5.0 client may use towards the broker
    #[arg(long, default_value_t = 64)]
    pub topic_alias_maximum: u16,
    /// Cap on a client's session expiry interval, seconds (default: no cap)
    #[arg(long)]
    pub max_session_expiry: Option<u32>,
    /// Publish $SYS/broker/... statistics every SECS seconds (0: never)
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub sys_interval: u64,
    /// Password file (`user:password` lines)
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Topic ACL file (Mosquitto's acl_file format)
    #[arg(long)]
    pub acl_file: Option<PathBuf>,
    /// Refuse clients without a username (Mosquitto's `allow_anonymous false`)
    #[arg(long)]
    pub no_anonymous: bool,
}

impl BrokerArgs {
    pub fn options(&self) -> anyhow::Result<BrokerOptions> {
        let auth = Auth::load(
            self.password_file.as_deref(),
            self.acl_file.as_deref(),
            !self.no_anonymous,
        )
        .context("loading the broker's access files")?;
        let mut opts = BrokerOptions {
            auth,
            state: state::Config {
                max_inflight: self.max_inflight.max(1),
                max_queued: self.max_queued.max(1),
                max_outbox: self.max_outbox.max(1),
                receive_maximum: self.receive_maximum.max(1),
                max_keepalive: self.max_keepalive,
                max_session_expiry: self.max_session_expiry.unwrap_or(u32::MAX),
                topic_alias_maximum: self.topic_alias_maximum,
                max_packet_size: self.max_packet_size.max(64),
            },
            sys_interval: (self.sys_interval > 0).then(|| Duration::from_secs(self.sys_interval)),
            ..BrokerOptions::default()
        };
        opts.limits.max_connections = self.max_connections.max(1);
        Ok(opts)
    }
}

pub async fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    let opts = args.options()?;
    let listener = patterns::net::bind_tcp(&args.bind).await?;
    let shutdown = patterns::shutdown::on_ctrl_c();
    broker::run(listener, opts, shutdown)
        .instrument(tracing::info_span!("mqtt-broker"))
        .await?;
    Ok(ExitCode::SUCCESS)
}
