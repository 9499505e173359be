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
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use patterns::mqtt::client::{self, ClientOptions};
use patterns::mqtt::publisher::{self, Messages, PubSettings};
use patterns::mqtt::subscriber::{self, Ended, Output, SubSettings};
use patterns::tls::{ClientTls, MinVersion};
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
    /// Make or change a password file for the broker (mosquitto_passwd's flags and `$7$`/`$6$` hashes)
    Passwd(super::mqtt_passwd::PasswdArgs),
}

const PUB_EXAMPLES: &str = "Examples:
  sister mqtt pub                                   'Suhu: 28°C' to sister/temp every second (the course's publisher)
  sister mqtt pub --server 127.0.0.1:1883 -t sister/channel/gaming -m 'Ada kanal Youtube baru nih: @sister'
  sister mqtt pub -h 127.0.0.1 -t sister/temp -m hello -q 1 -r     once, QoS 1, retained (as mosquitto_pub)
  sister mqtt pub -t sister/temp -m tick --interval 0.5 --count 10
  tail -f log | sister mqtt pub -t sister/log -l    one message per line of input
  sister mqtt pub -d -q 2 -m hi                     print every packet: CONNECT, CONNACK, PUBLISH, PUBREC, PUBREL, PUBCOMP, DISCONNECT
  sister mqtt pub -V 5 -m hi -D publish user-property kelas sister -D publish message-expiry-interval 60
  sister mqtt pub -h localhost --cafile lab-ca/ca.crt -u mahasiswa -P rahasia -m hi   over TLS (8883), with a password
  sister mqtt pub -h localhost --cafile lab-ca/ca.crt --cert lab-ca/alice.crt --key lab-ca/alice.key -m hi

As in mosquitto_pub, -h is the host and -q the QoS here; use --help, --quiet, --verbose for sister's.
The broker is --server HOST:PORT, or $SISTER_MQTT_SERVER, or $SISTER_SERVER, or mqtt-broker:1883.";

const SUB_EXAMPLES: &str = "Examples:
  sister mqtt sub                                   print sister/temp as the course's subscriber
  sister mqtt sub --server 127.0.0.1:1883 -t 'sister/#' -v     every sister topic, mosquitto style
  sister mqtt sub -t sister/temp -q 2 -C 5          exit after 5 messages
  sister mqtt sub -t sister/temp -W 10              exit (code 27, as mosquitto_sub) after 10 s
  sister mqtt sub -d                                print every packet received and sent (PINGREQ every keep-alive...)
  sister mqtt sub -h localhost --cafile lab-ca/ca.crt -u mahasiswa -P rahasia -t 'sister/#'   over TLS (8883)

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
    /// MQTT 5 property, as mosquitto's -D: COMMAND is connect, publish, will or subscribe; NAME as in
    /// the spec (message-expiry-interval, user-property KEY VALUE, ...). Repeatable
    #[arg(
        short = 'D',
        long = "property",
        num_args = 3,
        value_names = ["COMMAND", "NAME", "VALUE"],
        action = clap::ArgAction::Append
    )]
    pub property: Vec<String>,
    /// MQTT over TLS, trusting the CA certificate(s) in FILE (PEM; the lab CA's ca.crt). With TLS the
    /// default port is 8883
    #[arg(long, value_name = "FILE", help_heading = "TLS (mosquitto_pub's flags)")]
    pub cafile: Option<PathBuf>,
    /// MQTT over TLS, trusting the CA certificates in DIR (PEM files)
    #[arg(long, value_name = "DIR", help_heading = "TLS (mosquitto_pub's flags)")]
    pub capath: Option<PathBuf>,
    /// MQTT over TLS, trusting the system's CAs (/etc/ssl/certs)
    #[arg(long, help_heading = "TLS (mosquitto_pub's flags)")]
    pub tls_use_os_certs: bool,
    /// Client certificate (PEM), for a broker with require_certificate
    #[arg(
        long,
        value_name = "FILE",
        requires = "key",
        help_heading = "TLS (mosquitto_pub's flags)"
    )]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM)
    #[arg(
        long,
        value_name = "FILE",
        requires = "cert",
        help_heading = "TLS (mosquitto_pub's flags)"
    )]
    pub key: Option<PathBuf>,
    /// Do not check that the broker's certificate names the host connected to (the CA is still checked)
    #[arg(long, help_heading = "TLS (mosquitto_pub's flags)")]
    pub insecure: bool,
    /// Lowest TLS version: tlsv1.2 (the default: 1.2 or 1.3) or tlsv1.3
    #[arg(long, value_name = "VERSION", value_parser = parse_tls_version, help_heading = "TLS (mosquitto_pub's flags)")]
    pub tls_version: Option<MinVersion>,
}

fn parse_tls_version(s: &str) -> Result<MinVersion, String> {
    MinVersion::parse(s).map_err(|e| e.0)
}

/// The 5.0 properties given with `-D`, by the packet they go in.
#[derive(Debug, Default)]
struct V5Properties {
    connect: Properties,
    publish: Properties,
    will: Properties,
    subscribe: Properties,
}

/// How [`mosquitto_flags`] carries user-property's two values through clap's three (KEY US VALUE).
const PAIR: char = '\u{1f}';

impl V5Properties {
    fn parse(args: &[String]) -> anyhow::Result<V5Properties> {
        let mut all = V5Properties::default();
        for triple in args.chunks(3) {
            let [command, name, value] = triple else {
                bail!("-D takes COMMAND NAME VALUE");
            };
            let props = match command.as_str() {
                "connect" => &mut all.connect,
                "publish" => &mut all.publish,
                "will" => &mut all.will,
                "subscribe" => &mut all.subscribe,
                other => bail!(
                    "-D {other}: the packets with properties here are connect, publish, will, subscribe"
                ),
            };
            set_property(props, name, value)
                .with_context(|| format!("-D {command} {name} {}", value.replace(PAIR, " ")))?;
        }
        Ok(all)
    }

    fn is_empty(&self) -> bool {
        self.connect.is_empty()
            && self.publish.is_empty()
            && self.will.is_empty()
            && self.subscribe.is_empty()
    }
}

/// Set one property by its spec name (MQTT 5.0 §2.2.2.2, the names mosquitto's -D uses).
fn set_property(p: &mut Properties, name: &str, value: &str) -> anyhow::Result<()> {
    fn num<T: std::str::FromStr>(v: &str) -> anyhow::Result<T> {
        v.parse()
            .map_err(|_| anyhow::anyhow!("{v:?} is not a number in range"))
    }
    fn flag(v: &str) -> anyhow::Result<bool> {
        match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => bail!("{v:?}: 0 or 1"),
        }
    }
    match name {
        "payload-format-indicator" => p.payload_format_indicator = Some(num(value)?),
        "message-expiry-interval" => p.message_expiry_interval = Some(num(value)?),
        "content-type" => p.content_type = Some(value.to_string()),
        "response-topic" => p.response_topic = Some(value.to_string()),
        "correlation-data" => p.correlation_data = Some(Bytes::from(value.as_bytes().to_vec())),
        "subscription-identifier" => p.subscription_identifiers.push(num(value)?),
        "session-expiry-interval" => p.session_expiry_interval = Some(num(value)?),
        "authentication-method" => p.authentication_method = Some(value.to_string()),
        "authentication-data" => p.authentication_data = Some(Bytes::from(value.as_bytes().to_vec())),
        "request-problem-information" => p.request_problem_information = Some(flag(value)?),
        "will-delay-interval" => p.will_delay_interval = Some(num(value)?),
        "request-response-information" => p.request_response_information = Some(flag(value)?),
        "receive-maximum" => p.receive_maximum = Some(num(value)?),
        "topic-alias-maximum" => p.topic_alias_maximum = Some(num(value)?),
        "maximum-packet-size" => p.maximum_packet_size = Some(num(value)?),
        "user-property" => match value.split_once(PAIR) {
            Some((k, v)) => p.user_properties.push((k.to_string(), v.to_string())),
            None => bail!("user-property takes two values: KEY VALUE"),
        },
        other => bail!("unknown or unsupported property {other:?}"),
    }
    Ok(())
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
    let mut rest = args[at + 2..].to_vec();
    // mosquitto's `-D COMMAND user-property KEY VALUE` has four values where every other -D has
    // three: carry KEY and VALUE as one (joined by an ASCII unit separator, which nobody types).
    let mut i = 0;
    while i + 4 < rest.len() {
        if rest[i] == "-D" && rest[i + 2] == "user-property" {
            let mut pair = rest[i + 3].clone();
            pair.push(PAIR.to_string());
            pair.push(&rest[i + 4]);
            rest.splice(i + 3..i + 5, [pair]);
        }
        i += 1;
    }
    let last = rest.len().saturating_sub(1);
    for (i, a) in rest.iter().enumerate() {
        // The value of a flag such as `-m -q` stays as it is.
        let rewritten = match a.to_str() {
            _ if value_next => None,
            // `-h` with nothing after it can only be someone asking for help.
            Some("-h") if i == last => Some("--help"),
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
    /// TLS options, if any TLS flag was given (as mosquitto_pub: --cafile, --capath or
    /// --tls-use-os-certs turn TLS on).
    fn tls(&self) -> anyhow::Result<Option<ClientTls>> {
        let on = self.cafile.is_some() || self.capath.is_some() || self.tls_use_os_certs;
        if !on {
            if self.cert.is_some() || self.insecure || self.tls_version.is_some() {
                bail!("TLS needs --cafile (the CA that signed the broker's certificate), --capath or --tls-use-os-certs");
            }
            return Ok(None);
        }
        Ok(Some(ClientTls {
            cafile: self.cafile.clone(),
            capath: self.capath.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            min_version: self.tls_version.unwrap_or_default(),
            alpn: Vec::new(),
        }))
    }

    /// The client's options, and the 5.0 properties of `-D` for the publish or subscribe packets.
    fn options(&self, role: &str) -> anyhow::Result<(ClientOptions, V5Properties)> {
        let mut props = V5Properties::parse(&self.property)?;
        if !props.is_empty() && !self.version.is_v5() {
            bail!("-D sets MQTT 5 properties: add -V 5");
        }
        let mut server = self
            .server
            .clone()
            .or_else(|| std::env::var("SISTER_SERVER").ok())
            .unwrap_or_else(|| client::DEFAULT_SERVER.to_string());
        let tls = self.tls()?;
        // mosquitto_pub: 1883 for plain MQTT, 8883 for MQTT over TLS, unless -p says otherwise.
        let default_port = if tls.is_some() { "8883" } else { "1883" };
        if tls.is_some() && self.server.is_none() && std::env::var("SISTER_SERVER").is_err() {
            server = server.replace(":1883", ":8883");
        }
        if self.host.is_some() || self.port.is_some() {
            let (host, port) = server.rsplit_once(':').unwrap_or((server.as_str(), default_port));
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
            properties: std::mem::take(&mut props.will),
        });
        if let Some(w) = &will {
            wire::mqtt::topic::validate_name(&w.topic)
                .with_context(|| format!("--will-topic {:?}", w.topic))?;
        }
        if self.session_expiry.is_some() && !self.version.is_v5() {
            bail!("-x/--session-expiry-interval exists only in MQTT 5: add -V 5");
        }
        let connect = std::mem::take(&mut props.connect);
        let options = ClientOptions {
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
            properties: connect,
            tls,
        };
        Ok((options, props))
    }
}

pub async fn run(cmd: MqttCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MqttCommand::Broker(args) => mqtt_broker::run(args).await,
        MqttCommand::Pub(a) => run_pub(a).await,
        MqttCommand::Sub(a) => run_sub(a).await,
        MqttCommand::Passwd(a) => super::mqtt_passwd::run(a).await,
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
    let (client, props) = a.conn.options("pub")?;
    if !props.subscribe.is_empty() {
        bail!("-D subscribe ... is for mqtt sub");
    }
    let settings = PubSettings {
        client,
        properties: props.publish,
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
    let (client, props) = a.conn.options("sub")?;
    if !props.publish.is_empty() {
        bail!("-D publish ... is for mqtt pub");
    }
    let settings = SubSettings {
        client,
        properties: props.subscribe,
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
            mosquitto_flags(os(&["sister", "mqtt", "pub", "-h"])),
            os(&["sister", "mqtt", "pub", "--help"])
        );
        assert_eq!(
            mosquitto_flags(os(&["sister", "-q", "idle"])),
            os(&["sister", "-q", "idle"])
        );
    }

    #[test]
    fn user_property_takes_two_values_like_mosquitto() {
        let args = mosquitto_flags(os(&[
            "sister",
            "mqtt",
            "pub",
            "-D",
            "publish",
            "user-property",
            "k",
            "v w",
            "-m",
            "x",
        ]));
        let pair = format!("k{PAIR}v w");
        assert_eq!(
            args,
            os(&[
                "sister",
                "mqtt",
                "pub",
                "-D",
                "publish",
                "user-property",
                &pair,
                "-m",
                "x"
            ])
        );
        let props = V5Properties::parse(&[
            "publish".into(),
            "user-property".into(),
            pair,
            "publish".into(),
            "message-expiry-interval".into(),
            "30".into(),
            "will".into(),
            "will-delay-interval".into(),
            "5".into(),
        ])
        .unwrap();
        assert_eq!(props.publish.user_properties, vec![("k".into(), "v w".into())]);
        assert_eq!(props.publish.message_expiry_interval, Some(30));
        assert_eq!(props.will.will_delay_interval, Some(5));
        assert!(V5Properties::parse(&["connect".into(), "receive-maximum".into(), "x".into()]).is_err());
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
