//! `sister mqtt broker`: flags -> [`patterns::mqtt::broker::run`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use patterns::accept_loop::Limits;
use patterns::mqtt::broker::{self, auth::Auth, config, state, BrokerOptions};
use patterns::tls::ServerTls;
use tracing::Instrument;

/// Flags of `sister mqtt broker` (defaults: the course's Mosquitto: port 1883, anonymous clients).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister mqtt broker                               0.0.0.0:1883, anonymous, like the course's Mosquitto
  sister mqtt broker -c /etc/mosquitto/mosquitto.conf   a Mosquitto 2.0 configuration file, unchanged
  sister mqtt broker --bind 127.0.0.1:1884 -v      another port, with debug logging
  sister mqtt broker --password-file passwd --acl-file acl --no-anonymous
  sister ca init lab-ca && sister mqtt broker --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key
                                                   1883 as before, plus MQTT over TLS on 8883
  sister mqtt broker --ws-bind 0.0.0.0:9001        plus MQTT over WebSockets: ws://HOST:9001/mqtt

Configuration file (-c): Mosquitto 2.0's mosquitto.conf: listener PORT [ADDRESS], protocol mqtt or
websockets (with certfile/keyfile too: WebSockets over TLS), per_listener_settings, allow_anonymous,
password_file, acl_file, cafile, capath, certfile, keyfile, require_certificate,
use_identity_as_username, tls_version, max_connections, max_keepalive, persistence (kept in memory
only), ...; see crates/patterns/src/mqtt/broker/config.rs. As in Mosquitto 2.0, a file
with a listener refuses anonymous clients unless it says `allow_anonymous true`. A flag that the file
also sets is an error, so the two never disagree silently.

Password file: mosquitto_passwd's format (make one with `sister mqtt passwd -c FILE USER`). ACL file:
Mosquitto's format (`user NAME`, `topic [read|write|readwrite|deny] FILTER`, `pattern ... %c/%u`); see
crates/patterns/src/mqtt/broker/auth.rs. Queue policy (slow subscribers): see
crates/patterns/src/mqtt/broker/state.rs.")]
pub struct BrokerArgs {
    /// Read a Mosquitto 2.0 configuration file (mosquitto.conf)
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port of the plain-MQTT listener [default: 0.0.0.0:1883]
    #[arg(long, env = "SISTER_MQTT_BIND")]
    pub bind: Option<String>,
    /// Threads that run the connections. 1 (the default) keeps the order in which packets of different
    /// clients arrive, as Mosquitto's single event loop does (a SUBSCRIBE that reached the broker first
    /// takes effect before another client's PUBLISH); more use more cores but may reorder such races
    #[arg(long, env = "SISTER_MQTT_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Connections served at once per listener (more wait in the listen backlog); idle clients parked
    /// without a task (see crates/patterns/src/mqtt/broker/parking.rs) do not count [default: 100000]
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// QoS 1/2 messages in flight per client (a 5.0 client's smaller Receive Maximum wins) [default: 100]
    #[arg(long)]
    pub max_inflight: Option<u16>,
    /// QoS 1/2 messages queued per client beyond the in-flight ones; more are dropped, counted, logged
    /// [default: 1000]
    #[arg(long)]
    pub max_queued: Option<usize>,
    /// Packets waiting to be written per client before its QoS 0 messages are dropped (counted, logged)
    #[arg(long, default_value_t = 1000)]
    pub max_outbox: usize,
    /// QoS 2 messages a client may leave unreleased (5.0 Receive Maximum; exceeding it: DISCONNECT 0x93)
    #[arg(long, default_value_t = 1000)]
    pub receive_maximum: u16,
    /// Largest keep-alive a client may use, seconds (5.0 clients are told; 3.1.1 clients above it are
    /// refused) [default: 65535]
    #[arg(long)]
    pub max_keepalive: Option<u16>,
    /// Largest packet accepted, bytes (5.0 Maximum Packet Size; larger: DISCONNECT 0x95) [default: 1048576]
    #[arg(long)]
    pub max_packet_size: Option<u32>,
    /// Topic aliases a 5.0 client may use towards the broker
    #[arg(long, default_value_t = 64)]
    pub topic_alias_maximum: u16,
    /// Cap on a client's session expiry interval, seconds (default: no cap)
    #[arg(long)]
    pub max_session_expiry: Option<u32>,
    /// Publish $SYS/broker/... statistics every SECS seconds (0: never) [default: 10]
    #[arg(long, value_name = "SECS")]
    pub sys_interval: Option<u64>,
    /// Password file (mosquitto_passwd's format; see `sister mqtt passwd`)
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Topic ACL file (Mosquitto's acl_file format)
    #[arg(long)]
    pub acl_file: Option<PathBuf>,
    /// Refuse clients without a username (Mosquitto's `allow_anonymous false`)
    #[arg(long)]
    pub no_anonymous: bool,
    /// Also listen for MQTT over TLS, with this certificate (PEM; the chain, the server's first)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Address and port of the TLS listener
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "0.0.0.0:8883",
        requires = "tls_cert"
    )]
    pub tls_bind: String,
    /// CA of the clients' certificates on the TLS listener (a client may present one, and must with
    /// --require-certificate)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub cafile: Option<PathBuf>,
    /// Refuse TLS clients without a certificate signed by --cafile
    #[arg(long, requires = "cafile")]
    pub require_certificate: bool,
    /// Also listen for MQTT over WebSockets (RFC 6455) on this address: any path (clients use
    /// /mqtt), subprotocol mqtt or mqttv3.1, as Mosquitto's `protocol websockets`
    #[arg(long, value_name = "ADDR:PORT")]
    pub ws_bind: Option<String>,
}

/// One listener to open: where, and what its connections know of it.
pub struct ListenerPlan {
    pub bind: String,
    pub listener: broker::Listener,
    /// Plain MQTT and anonymous clients allowed: said in one log line at start.
    pub open_to_anyone: bool,
}

/// Everything `run` needs: the listeners and the broker's options.
pub struct Plan {
    pub listeners: Vec<ListenerPlan>,
    pub opts: BrokerOptions,
    /// What the configuration file sets that sister does differently, one line each.
    pub notes: Vec<String>,
}

impl BrokerArgs {
    /// Flags and (with -c) the configuration file, checked against each other.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let file = match &self.config {
            Some(p) => Some(config::load(p)?),
            None => None,
        };
        if let (Some(conf), Some(path)) = (&file, &self.config) {
            self.refuse_overlaps(conf, path)?;
        }
        let file_ref = file.as_ref();
        let mut state = state::Config {
            max_inflight: self
                .max_inflight
                .or(file_ref.and_then(|c| c.max_inflight_messages))
                .unwrap_or(100)
                .max(1),
            max_queued: self
                .max_queued
                .or(file_ref.and_then(|c| c.max_queued_messages))
                .unwrap_or(1000)
                .max(1),
            max_outbox: self.max_outbox.max(1),
            receive_maximum: self.receive_maximum.max(1),
            max_keepalive: self
                .max_keepalive
                .or(file_ref.and_then(|c| c.max_keepalive))
                .unwrap_or(65535),
            max_session_expiry: self.max_session_expiry.unwrap_or(u32::MAX),
            topic_alias_maximum: self.topic_alias_maximum,
            max_packet_size: self
                .max_packet_size
                .or(file_ref.and_then(|c| c.max_packet_size))
                .unwrap_or(1 << 20)
                .max(64),
        };
        // Mosquitto's max_keepalive 0 means "no limit".
        if state.max_keepalive == 0 {
            state.max_keepalive = 65535;
        }
        let sys = self
            .sys_interval
            .or(file_ref.and_then(|c| c.sys_interval))
            .unwrap_or(10);
        let max_connections = self.max_connections.unwrap_or(100_000).max(1);
        let limits = |n: Option<usize>| Limits {
            max_connections: n.unwrap_or(max_connections),
            ..BrokerOptions::default().limits
        };

        let (auth, listeners, notes) = match file {
            None => {
                let allow_anonymous = !self.no_anonymous;
                let auth = Auth::load(
                    self.password_file.as_deref(),
                    self.acl_file.as_deref(),
                    allow_anonymous,
                )
                .context("loading the broker's access files")?;
                let bind = self.bind.clone().unwrap_or_else(|| "0.0.0.0:1883".into());
                let mut listeners = vec![ListenerPlan {
                    listener: broker::Listener {
                        name: bind.clone(),
                        limits: limits(None),
                        ..broker::Listener::default()
                    },
                    open_to_anyone: allow_anonymous,
                    bind,
                }];
                if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
                    let tls = ServerTls {
                        cafile: self.cafile.clone(),
                        require_certificate: self.require_certificate,
                        ..ServerTls::new(cert, key)
                    };
                    listeners.push(ListenerPlan {
                        listener: broker::Listener {
                            name: format!("{} (TLS)", self.tls_bind),
                            tls: Some(tls.acceptor()?),
                            websockets: false,
                            identity_as_username: false,
                            limits: limits(None),
                            auth: None,
                        },
                        open_to_anyone: false,
                        bind: self.tls_bind.clone(),
                    });
                }
                if let Some(bind) = &self.ws_bind {
                    listeners.push(ListenerPlan {
                        listener: broker::Listener {
                            name: format!("{bind} (WebSocket)"),
                            websockets: true,
                            limits: limits(None),
                            ..broker::Listener::default()
                        },
                        open_to_anyone: allow_anonymous,
                        bind: bind.clone(),
                    });
                }
                (auth, listeners, Vec::new())
            }
            Some(conf) => {
                // Who may connect: the file's global settings, or (per_listener_settings true) each
                // listener's own.
                let load = |security: &config::Security| -> anyhow::Result<(Auth, bool)> {
                    let anonymous = conf.anonymous_allowed(security);
                    let auth = Auth::load(
                        security.password_file.as_deref(),
                        security.acl_file.as_deref(),
                        anonymous,
                    )
                    .context("loading the broker's access files")?;
                    Ok((auth, anonymous))
                };
                let (auth, global_anonymous) = load(&conf.security)?;
                let mut listeners = Vec::new();
                for l in conf.effective_listeners() {
                    let (own_auth, allow_anonymous) = if conf.per_listener_settings {
                        let (a, anonymous) =
                            load(&l.security).with_context(|| format!("{}: listener {}", l.at, l.port))?;
                        (Some(Arc::new(a)), anonymous)
                    } else {
                        (None, global_anonymous)
                    };
                    let bind = l.bind();
                    let tls = if l.is_tls() {
                        // config::load refuses a certfile without its keyfile and the reverse.
                        let (Some(cert), Some(key)) = (&l.certfile, &l.keyfile) else {
                            anyhow::bail!("{}: listener {} needs certfile and keyfile", l.at, l.port)
                        };
                        let tls = ServerTls {
                            cafile: l.cafile.clone(),
                            capath: l.capath.clone(),
                            require_certificate: l.require_certificate,
                            min_version: l.tls_version.unwrap_or_default(),
                            ..ServerTls::new(cert, key)
                        };
                        Some(
                            tls.acceptor()
                                .with_context(|| format!("{}: listener {}", l.at, l.port))?,
                        )
                    } else {
                        None
                    };
                    let name = match (tls.is_some(), l.websockets) {
                        (false, false) => bind.clone(),
                        (true, false) => format!("{bind} (TLS)"),
                        (false, true) => format!("{bind} (WebSocket)"),
                        (true, true) => format!("{bind} (WebSocket over TLS)"),
                    };
                    listeners.push(ListenerPlan {
                        open_to_anyone: tls.is_none() && allow_anonymous,
                        listener: broker::Listener {
                            name,
                            tls,
                            websockets: l.websockets,
                            identity_as_username: l.use_identity_as_username,
                            limits: limits(l.max_connections),
                            auth: own_auth,
                        },
                        bind,
                    });
                }
                (auth, listeners, conf.notes.clone())
            }
        };
        let opts = BrokerOptions {
            auth,
            state,
            sys_interval: (sys > 0).then(|| Duration::from_secs(sys)),
            limits: limits(None),
            ..BrokerOptions::default()
        };
        Ok(Plan {
            listeners,
            opts,
            notes,
        })
    }

    /// A flag and the file must not both say the same thing (and perhaps disagree). Listeners and
    /// security come from the file alone; a limit may come from a flag when the file leaves it out.
    fn refuse_overlaps(&self, conf: &config::Config, path: &std::path::Path) -> anyhow::Result<()> {
        let f = path.display();
        let file_only = [
            ("--bind", self.bind.is_some(), "listener"),
            (
                "--tls-cert",
                self.tls_cert.is_some(),
                "listener ... certfile/keyfile",
            ),
            (
                "--ws-bind",
                self.ws_bind.is_some(),
                "listener PORT + protocol websockets",
            ),
            ("--password-file", self.password_file.is_some(), "password_file"),
            ("--acl-file", self.acl_file.is_some(), "acl_file"),
            ("--no-anonymous", self.no_anonymous, "allow_anonymous false"),
            (
                "--max-connections",
                self.max_connections.is_some(),
                "max_connections",
            ),
        ];
        for (flag, given, option) in file_only {
            if given {
                anyhow::bail!("{flag} cannot be used with -c: the listeners and who may connect come from {f} (write `{option}` there)");
            }
        }
        let both = [
            (
                "--max-keepalive",
                self.max_keepalive.is_some(),
                "max_keepalive",
                conf.max_keepalive.is_some(),
            ),
            (
                "--max-inflight",
                self.max_inflight.is_some(),
                "max_inflight_messages",
                conf.max_inflight_messages.is_some(),
            ),
            (
                "--max-queued",
                self.max_queued.is_some(),
                "max_queued_messages",
                conf.max_queued_messages.is_some(),
            ),
            (
                "--max-packet-size",
                self.max_packet_size.is_some(),
                "max_packet_size",
                conf.max_packet_size.is_some(),
            ),
            (
                "--sys-interval",
                self.sys_interval.is_some(),
                "sys_interval",
                conf.sys_interval.is_some(),
            ),
        ];
        for (flag, given, option, in_file) in both {
            if given && in_file {
                anyhow::bail!("{flag} and `{option}` in {f} both set it: keep one");
            }
        }
        Ok(())
    }
}

pub async fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    let plan = args.plan()?;
    for note in &plan.notes {
        tracing::info!("{note}");
    }
    let mut listeners = Vec::new();
    for l in plan.listeners {
        let socket = patterns::net::bind_tcp(&l.bind).await?;
        if l.open_to_anyone && !socket.local_addr().is_ok_and(|a| a.ip().is_loopback()) {
            tracing::warn!(
                "listener {} accepts anyone on the network without a password, and every message crosses it unencrypted (fine for the lab; for a shared broker see `sister mqtt broker --help`: -c with password_file, TLS)",
                l.listener.name
            );
        }
        listeners.push((socket, l.listener));
    }
    let shutdown = patterns::shutdown::on_ctrl_c();
    broker::run_listeners(listeners, plan.opts, shutdown)
        .instrument(tracing::info_span!("mqtt-broker"))
        .await?;
    Ok(ExitCode::SUCCESS)
}
