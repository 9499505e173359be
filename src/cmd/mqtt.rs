//! `sister mqtt <role>`: the MQTT broker (`broker`, in `mqtt_broker.rs`), and the course's publisher
//! and subscriber (`pub`, `sub`) with mosquitto_pub/mosquitto_sub's flags. The logic is in
//! `patterns::mqtt::{broker, client, publisher, subscriber}`; this file turns flags into settings.
//!
//! Three of mosquitto's short flags collide with sister's own: `-h` (help), `-q` and `-v` (sister's
//! global quiet and verbose). After `sister mqtt pub` / `sister mqtt sub` they mean what they mean to
//! mosquitto (`-h HOST`, `-q QOS`, and for sub `-v` = print the topic); [`mosquitto_flags`] rewrites
//! them to `--host`, `--qos`, `--print-topic` before clap sees them. Use `--help`, `--quiet`,
//! `--verbose` there for sister's meanings.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use patterns::mqtt::client::{self, ClientOptions};
use patterns::mqtt::publisher::{self, Messages, PubSettings};
use patterns::mqtt::subscriber::{self, Ended, Output, SubSettings};
use wire::mqtt::{Properties, QoS, RetainHandling, SubscriptionOptions, Version, Will};

use super::mqtt_broker;

#[derive(Debug, Subcommand)]
pub enum MqttCommand {
    /// An MQTT 3.1.1/5.0 broker (default 0.0.0.0:1883, anonymous clients allowed, like the course's Mosquitto)
    Broker(mqtt_broker::BrokerArgs),
    /// Publish messages (the course's publisher; mosquitto_pub's flags)
    #[command(after_help = PUB_EXAMPLES)]
    Pub(PubArgs),
    /// Subscribe and print messages (the course's subscriber; mosquitto_sub's flags)
    #[command(after_help = SUB_EXAMPLES)]
    Sub(SubArgs),
}

const PUB_EXAMPLES: &str = "Examples:
  sister mqtt pub                                   'Suhu: 28°C' to sister/temp every second (the course's publisher)
  sister mqtt pub --server 127.0.0.1:1883 -t sister/channel/gaming -m 'Ada kanal Youtube baru nih: @sister'
  sister mqtt pub -h 127.0.0.1 -t sister/temp -m hello -q 1 -r     once, QoS 1, retained (as mosquitto_pub)
  sister mqtt pub -t sister/temp -m tick --interval 0.5 --count 10
  tail -f log | sister mqtt pub -t sister/log -l    one message per line of input
  sister mqtt pub -d -q 2 -m hi                     print every packet: CONNECT, CONNACK, PUBLISH, PUBREC, PUBREL, PUBCOMP, DISCONNECT

As in mosquitto_pub, -h is the host and -q the QoS here; use --help, --quiet, --verbose for sister's.
The broker is --server HOST:PORT, or $SISTER_MQTT_SERVER, or $SISTER_SERVER, or mqtt-broker:1883.";

const SUB_EXAMPLES: &str = "Examples:
  sister mqtt sub                                   print sister/temp as the course's subscriber
  sister mqtt sub --server 127.0.0.1:1883 -t 'sister/#' -v     every sister topic, mosquitto style
  sister mqtt sub -t sister/temp -q 2 -C 5          exit after 5 messages
  sister mqtt sub -t sister/temp -W 10              exit (code 27, as mosquitto_sub) after 10 s
  sister mqtt sub -d                                print every packet received and sent (PINGREQ every keep-alive...)

Output: 'Received message: <payload> (Topic: <topic>)'; with -v '<topic> <payload>'; with --raw the payload.
As in mosquitto_sub, -h is the host, -q the QoS and -v prints the topic; use --help, --quiet, --verbose
for sister's. The broker is --server HOST:PORT, or $SISTER_MQTT_SERVER, or $SISTER_SERVER, or mqtt-broker:1883.";

/// The connection flags both roles share (mosquitto's names).
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Broker address HOST:PORT [env: SISTER_MQTT_SERVER, then SISTER_SERVER] [default: mqtt-broker:1883]
    #[arg(long, env = "SISTER_MQTT_SERVER", hide_env = true)]
    pub server: Option<String>,
    /// Broker host (mosquitto's -h); overrides the host of --server
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Broker port (mosquitto's -p); overrides the port of --server
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
    /// Client id (default: sister-pub-XXXXXXXX / sister-sub-XXXXXXXX)
    #[arg(short = 'i', long = "id")]
    pub id: Option<String>,
    /// User name
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// Keep-alive in seconds (0: off); a PINGREQ goes out after this long without traffic
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keep_alive: u16,
    /// MQTT version: 311 (3.1.1, the course's), 5, or 31 (3.1); mosquitto's mqttv311/mqttv5/mqttv31 too
    #[arg(short = 'V', long = "protocol-version", default_value = "311", value_parser = parse_version)]
    pub version: Version,
    /// Keep the session when disconnected (clean session off; mosquitto's -c)
    #[arg(short = 'c', long = "disable-clean-session")]
    pub no_clean: bool,
    /// MQTT 5: seconds the broker keeps the session after disconnecting (mosquitto's -x)
    #[arg(short = 'x', long = "session-expiry-interval")]
    pub session_expiry: Option<u32>,
    /// Will topic: the broker publishes the will there if this client vanishes without DISCONNECT
    #[arg(long)]
    pub will_topic: Option<String>,
    /// Will message
    #[arg(long, requires = "will_topic", default_value = "")]
    pub will_payload: String,
    /// Will QoS (0, 1 or 2)
    #[arg(long, requires = "will_topic", default_value = "0", value_parser = parse_qos)]
    pub will_qos: QoS,
    /// Retain the will
    #[arg(long, requires = "will_topic")]
    pub will_retain: bool,
    /// Retry connecting for up to SECS while the broker starts
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub wait: f64,
    /// Print every MQTT packet sent and received (mosquitto's -d): the protocol, one line per packet
    #[arg(short = 'd', long)]
    pub debug: bool,
}

#[derive(Debug, Args)]
pub struct PubArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Topic to publish to
    #[arg(short = 't', long, default_value = client::DEFAULT_TOPIC)]
    pub topic: String,
    /// Message to send (default: the course's 'Suhu: 28°C' every second)
    #[arg(short = 'm', long, conflicts_with_all = ["stdin_line", "null_message"])]
    pub message: Option<String>,
    /// Send each line of standard input as a message
    #[arg(short = 'l', long = "stdin-line", conflicts_with_all = ["null_message", "file", "stdin_file"])]
    pub stdin_line: bool,
    /// Send the whole of standard input as one message (mosquitto's -s)
    #[arg(short = 's', long = "stdin-file", conflicts_with_all = ["message", "null_message", "file"])]
    pub stdin_file: bool,
    /// Send the content of FILE as one message (mosquitto's -f)
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with_all = ["message", "null_message"])]
    pub file: Option<std::path::PathBuf>,
    /// Send an empty message (with -r: clears the retained message)
    #[arg(short = 'n', long = "null-message")]
    pub null_message: bool,
    /// QoS 0, 1 or 2. After `mqtt pub/sub`, -q QOS means this (as in mosquitto), not --quiet
    #[arg(long, default_value = "0", value_parser = parse_qos)]
    pub qos: QoS,
    /// Ask the broker to retain the message for future subscribers
    #[arg(short = 'r', long)]
    pub retain: bool,
    /// Seconds between messages (default: 1 without -m/-n; with them, send once)
    #[arg(long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// Stop after N messages
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SubArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Topic filter to subscribe to (repeat for several; + and # wildcards)
    #[arg(short = 't', long = "topic", default_value = client::DEFAULT_TOPIC)]
    pub topics: Vec<String>,
    /// QoS 0, 1 or 2. After `mqtt pub/sub`, -q QOS means this (as in mosquitto), not --quiet
    #[arg(long, default_value = "0", value_parser = parse_qos)]
    pub qos: QoS,
    /// MQTT 5: do not receive the messages this client publishes itself (mosquitto's --nl)
    #[arg(long = "nl")]
    pub no_local: bool,
    /// MQTT 5: keep the publisher's RETAIN flag on forwarded messages (mosquitto's --rap)
    #[arg(long = "rap")]
    pub retain_as_published: bool,
    /// MQTT 5 retain handling: 0 send retained messages on subscribe, 1 only for a new subscription,
    /// 2 never (mosquitto's --rh)
    #[arg(long = "rh", value_name = "0|1|2", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub retain_handling: u8,
    /// Print '<topic> <payload>' (mosquitto's -v)
    #[arg(long = "print-topic")]
    pub print_topic: bool,
    /// Print the payload alone (mosquitto_sub's default)
    #[arg(long, conflicts_with = "print_topic")]
    pub raw: bool,
    /// Exit after N messages (mosquitto's -C)
    #[arg(short = 'C', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Exit after SECS seconds with code 27 (mosquitto's -W)
    #[arg(short = 'W', long = "timeout", value_name = "SECS")]
    pub timeout: Option<u64>,
}

fn parse_version(s: &str) -> Result<Version, String> {
    match s {
        "311" | "mqttv311" | "3.1.1" | "4" => Ok(Version::V3_1_1),
        "5" | "mqttv5" | "5.0" => Ok(Version::V5),
        "31" | "mqttv31" | "3.1" | "3" => Ok(Version::V3_1),
        _ => Err(format!("unknown MQTT version {s:?}: use 311, 5 or 31")),
    }
}

fn parse_qos(s: &str) -> Result<QoS, String> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_bits)
        .ok_or_else(|| format!("QoS is 0, 1 or 2, not {s:?}"))
}

/// Rewrite mosquitto's `-h`, `-q` (and `-v` for sub) after `mqtt pub|sub` into long flags, so they do
/// not collide with clap's `-h` help and sister's global `-q`/`-v`. Everything else is left alone.
pub fn mosquitto_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let role_at = args
        .windows(2)
        .position(|w| w[0] == "mqtt" && (w[1] == "pub" || w[1] == "sub"));
    let Some(at) = role_at else {
        return args;
    };
    let is_sub = args[at + 1] == "sub";
    let mut out = args[..at + 2].to_vec();
    let mut value_next = false;
    for a in &args[at + 2..] {
        // The value of a flag such as `-m -q` stays as it is.
        let rewritten = match a.to_str() {
            _ if value_next => None,
            Some("-h") => Some("--host"),
            Some("-q") => Some("--qos"),
            Some("-v") if is_sub => Some("--print-topic"),
            _ => None,
        };
        value_next = matches!(
            a.to_str(),
            Some("-m" | "--message" | "-t" | "--topic" | "--will-payload")
        );
        out.push(rewritten.map(OsString::from).unwrap_or_else(|| a.clone()));
    }
    out
}

impl ConnArgs {
    fn options(&self, role: &str) -> anyhow::Result<ClientOptions> {
        let mut server = self
            .server
            .clone()
            .or_else(|| std::env::var("SISTER_SERVER").ok())
            .unwrap_or_else(|| client::DEFAULT_SERVER.to_string());
        if self.host.is_some() || self.port.is_some() {
            let (host, port) = server.rsplit_once(':').unwrap_or((server.as_str(), "1883"));
            let host = self.host.clone().unwrap_or_else(|| host.to_string());
            let port = self.port.map_or_else(|| port.to_string(), |p| p.to_string());
            server = format!("{host}:{port}");
        }
        if !self.wait.is_finite() || self.wait < 0.0 {
            bail!("--wait takes a number of seconds, not {}", self.wait);
        }
        let will = self.will_topic.as_ref().map(|topic| Will {
            topic: topic.clone(),
            payload: Bytes::from(self.will_payload.clone().into_bytes()),
            qos: self.will_qos,
            retain: self.will_retain,
            properties: Properties::default(),
        });
        if let Some(w) = &will {
            wire::mqtt::topic::validate_name(&w.topic)
                .with_context(|| format!("--will-topic {:?}", w.topic))?;
        }
        if self.session_expiry.is_some() && !self.version.is_v5() {
            bail!("-x/--session-expiry-interval exists only in MQTT 5: add -V 5");
        }
        Ok(ClientOptions {
            server,
            client_id: self
                .id
                .clone()
                .unwrap_or_else(|| client::generate_client_id(role)),
            version: self.version,
            keep_alive: self.keep_alive,
            clean_start: !self.no_clean,
            session_expiry: self.session_expiry,
            username: self.username.clone(),
            password: self.password.clone().map(|p| Bytes::from(p.into_bytes())),
            will,
            wait: Duration::from_secs_f64(self.wait),
            show_packets: self.debug,
        })
    }
}

pub async fn run(cmd: MqttCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MqttCommand::Broker(args) => mqtt_broker::run(args).await,
        MqttCommand::Pub(a) => run_pub(a).await,
        MqttCommand::Sub(a) => run_sub(a).await,
    }
}

async fn run_pub(a: PubArgs) -> anyhow::Result<ExitCode> {
    let shutdown = patterns::shutdown::on_ctrl_c();
    let given = a.message.is_some() || a.null_message || a.stdin_line || a.stdin_file || a.file.is_some();
    let interval = match (a.interval, given) {
        (Some(secs), _) if !secs.is_finite() || secs < 0.0 => {
            bail!("--interval takes a number of seconds, not {secs}")
        }
        (Some(secs), _) => Some(Duration::from_secs_f64(secs)),
        // The course's publisher: once a second.
        (None, false) => Some(Duration::from_secs(1)),
        (None, true) => None,
    };
    let messages = if a.stdin_line {
        Messages::StdinLines
    } else if a.null_message {
        Messages::Fixed(Bytes::new())
    } else if let Some(path) = &a.file {
        let content = std::fs::read(path).with_context(|| format!("cannot read -f {}", path.display()))?;
        Messages::Fixed(Bytes::from(content))
    } else if a.stdin_file {
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut content)
            .context("cannot read standard input (-s)")?;
        Messages::Fixed(Bytes::from(content))
    } else {
        let text = a.message.unwrap_or_else(|| client::DEFAULT_MESSAGE.to_string());
        Messages::Fixed(Bytes::from(text.into_bytes()))
    };
    let settings = PubSettings {
        client: a.conn.options("pub")?,
        topic: a.topic,
        messages,
        qos: a.qos,
        retain: a.retain,
        interval,
        count: a.count,
    };
    publisher::run(settings, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_sub(a: SubArgs) -> anyhow::Result<ExitCode> {
    let shutdown = patterns::shutdown::on_ctrl_c();
    let output = if a.print_topic {
        Output::TopicPayload
    } else if a.raw {
        Output::Payload
    } else {
        Output::Course
    };
    if (a.no_local || a.retain_as_published || a.retain_handling != 0) && !a.conn.version.is_v5() {
        bail!("--nl, --rap and --rh are MQTT 5 subscription options: add -V 5");
    }
    let settings = SubSettings {
        client: a.conn.options("sub")?,
        filters: a.topics,
        options: SubscriptionOptions {
            qos: a.qos,
            no_local: a.no_local,
            retain_as_published: a.retain_as_published,
            retain_handling: match a.retain_handling {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNew,
                _ => RetainHandling::DoNotSend,
            },
        },
        output,
        count: a.count,
        timeout: a.timeout.map(Duration::from_secs),
    };
    match subscriber::run(settings, shutdown).await? {
        (Ended::Done, _) => Ok(ExitCode::SUCCESS),
        (Ended::TimedOut, _) => {
            eprintln!("Timed out");
            Ok(ExitCode::from(27))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn mosquitto_short_flags_are_rewritten_only_after_mqtt_pub_or_sub() {
        assert_eq!(
            mosquitto_flags(os(&["sister", "-v", "mqtt", "sub", "-h", "x", "-q", "1", "-v"])),
            os(&[
                "sister",
                "-v",
                "mqtt",
                "sub",
                "--host",
                "x",
                "--qos",
                "1",
                "--print-topic"
            ])
        );
        assert_eq!(
            mosquitto_flags(os(&["sister", "mqtt", "pub", "-v", "-m", "-q"])),
            os(&["sister", "mqtt", "pub", "-v", "-m", "-q"])
        );
        assert_eq!(
            mosquitto_flags(os(&["sister", "-q", "idle"])),
            os(&["sister", "-q", "idle"])
        );
    }

    #[test]
    fn versions_in_mosquitto_and_short_spelling() {
        assert_eq!(parse_version("mqttv5"), Ok(Version::V5));
        assert_eq!(parse_version("311"), Ok(Version::V3_1_1));
        assert!(parse_version("6").is_err());
        assert_eq!(parse_qos("2"), Ok(QoS::ExactlyOnce));
        assert!(parse_qos("3").is_err());
    }
}
