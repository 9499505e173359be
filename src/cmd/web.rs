//! `sister web`: the lab in a browser. Flags become a `web::App`; the `web` crate serves the page.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use patterns::mqtt::client::{self, ClientOptions};
use patterns::tls::ClientTls;
use wire::mqtt::{QoS, Version};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister web --broker 127.0.0.1:1883            the class's topics, live, at http://127.0.0.1:8088/
  sister web --broker 127.0.0.1:1883 -t 'sister/#' -t '$SYS/#'
  sister web --broker 127.0.0.1:1883 -V 5 --qos 2  live RETAIN flags and each publisher's QoS
  sister web --pcap mqtt.pcap rest.pcap         click through two captures' messages
  sister web --lamport run.json                 a recorded `sister lamport sim --record run.json`
  sister web --bind 0.0.0.0:8088 --broker mqtt-broker:1883   for the whole class (anyone on the network)

A capture can also be dropped on the page, or sent to the API:
  curl --data-binary @mqtt.pcap 'http://127.0.0.1:8088/api/analyze?name=mqtt.pcap'
prints what `sister analyze --format json mqtt.pcap` prints.")]
pub struct WebArgs {
    /// Address to serve the page on (127.0.0.1: only this machine; 0.0.0.0: anyone on the network)
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub bind: String,
    /// The MQTT broker whose topics the page shows, HOST:PORT (any broker: sister's, Mosquitto, ...)
    #[arg(long, value_name = "HOST:PORT", help_heading = "Topic tree")]
    pub broker: Option<String>,
    /// Topic filter to follow (repeatable; `#` does not include $SYS, as in MQTT 3.1.1 §4.7.2)
    #[arg(short = 't', long = "topic", default_value = "#", help_heading = "Topic tree")]
    pub topics: Vec<String>,
    /// QoS of the subscription: messages arrive at the lower of theirs and this (MQTT 3.1.1 §3.8.4).
    /// 0 by default: at 1 or 2 a broker queues only so many retained messages per client
    /// (max_queued_messages) and drops the rest
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2), help_heading = "Topic tree")]
    pub qos: u8,
    /// Client id (default: sister-web-XXXXXXXX)
    #[arg(long = "id", help_heading = "Topic tree")]
    pub id: Option<String>,
    /// User name
    #[arg(short = 'u', long, help_heading = "Topic tree")]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'P', long = "pw", help_heading = "Topic tree")]
    pub password: Option<String>,
    /// MQTT version: 311 (the course's) or 5
    #[arg(
        short = 'V',
        long = "protocol-version",
        default_value = "311",
        help_heading = "Topic tree"
    )]
    pub version: String,
    /// MQTT over TLS, trusting the CA certificate in FILE (the lab CA's ca.crt)
    #[arg(long, value_name = "FILE", help_heading = "Topic tree")]
    pub cafile: Option<PathBuf>,
    /// Client certificate (PEM), for a broker with require_certificate
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "Topic tree")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "Topic tree")]
    pub key: Option<PathBuf>,
    /// Do not check the broker certificate's host name (the CA is still checked)
    #[arg(long, requires = "cafile", help_heading = "Topic tree")]
    pub insecure: bool,
    /// Messages of history kept per topic
    #[arg(long, default_value_t = web::topics::DEFAULT_HISTORY, value_name = "N", help_heading = "Topic tree")]
    pub history: usize,
    /// Capture files (pcap or pcapng) to show, each analyzed as `sister analyze` does
    #[arg(long, value_name = "FILE", num_args = 1.., help_heading = "Captures")]
    pub pcap: Vec<PathBuf>,
    /// Names for the hosts of the captures, one `IP NAME` per line (as `sister analyze --names`)
    #[arg(long, value_name = "FILE", help_heading = "Captures")]
    pub names: Option<PathBuf>,
    /// Do not ask Docker for the names of the containers behind the captures' addresses (as
    /// `sister analyze --no-docker`)
    #[arg(long, help_heading = "Captures")]
    pub no_docker: bool,
    /// Largest capture the page accepts as an upload, in MiB
    #[arg(long, default_value_t = 64, value_name = "MIB", help_heading = "Captures")]
    pub upload_limit: usize,
    /// A recorded Lamport run (`sister lamport sim --record run.json`) to draw
    #[arg(long, value_name = "FILE")]
    pub lamport: Option<PathBuf>,
    /// Language of the page: en (English) or id (Bahasa Indonesia)
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub lang: analyze::render::Lang,
}

impl WebArgs {
    fn client_options(&self, server: &str) -> anyhow::Result<ClientOptions> {
        let version = match self.version.as_str() {
            "311" | "mqttv311" | "4" => Version::V3_1_1,
            "5" | "mqttv5" => Version::V5,
            v => bail!("-V {v}: the topic tree speaks MQTT 311 or 5"),
        };
        let tls = self.cafile.as_ref().map(|ca| ClientTls {
            cafile: Some(ca.clone()),
            capath: None,
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            min_version: Default::default(),
            alpn: Vec::new(),
        });
        Ok(ClientOptions {
            server: server.to_string(),
            client_id: self
                .id
                .clone()
                .unwrap_or_else(|| client::generate_client_id("web")),
            version,
            username: self.username.clone(),
            password: self.password.clone().map(|p| Bytes::from(p.into_bytes())),
            tls,
            wait: Duration::ZERO,
            ..ClientOptions::default()
        })
    }
}

pub async fn run(args: WebArgs) -> anyhow::Result<ExitCode> {
    for t in &args.topics {
        wire::mqtt::topic::validate_filter(t).with_context(|| format!("-t {t:?}"))?;
    }
    if args.upload_limit == 0 {
        bail!("--upload-limit must be at least 1 MiB");
    }
    let client_options = args
        .broker
        .as_deref()
        .map(|b| args.client_options(b))
        .transpose()?;
    let mut names = analyze::render::Names::new();
    if let Some(path) = &args.names {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        names = analyze::render::Names::parse(&text).with_context(|| format!("in {}", path.display()))?;
    }
    // The captures' hosts are named as `sister analyze` names them, so that `POST /api/analyze`
    // prints what `sister analyze --format json` prints with the same --names/--no-docker.
    let naming = web::capture::Naming {
        docker: !args.no_docker,
        names,
    };
    let app = web::App::new(web::WebOptions {
        lang: args.lang,
        broker: args.broker.clone(),
        upload_limit: args.upload_limit << 20,
        history: args.history,
        naming: naming.clone(),
    });
    if let Some(path) = &args.lamport {
        app.set_lamport(web::lamport::load(path)?);
    }
    for path in &args.pcap {
        let p = path.clone();
        let naming = naming.clone();
        let loaded = tokio::task::spawn_blocking(move || web::capture::analyze_paths(&[p], &naming))
            .await?
            .map_err(|sentence| anyhow::anyhow!("cannot analyze the capture: {sentence}"))?;
        tracing::info!(
            "{}: {} packets, {} conversations",
            loaded.name,
            loaded.packets,
            loaded.conversations
        );
        app.0.captures.add(loaded);
    }
    let listener = patterns::net::bind_tcp(&args.bind).await?;
    let addr = listener.local_addr()?;
    let shutdown = patterns::shutdown::on_ctrl_c();
    // The URL as a browser on this machine opens it (0.0.0.0 is not an address to browse to).
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    println!("sister web: open http://{host}:{}/ (Ctrl+C stops)", addr.port());
    if !addr.ip().is_loopback() {
        tracing::warn!("{addr} is reachable from the network: anyone there can see the topics and publish");
    }
    let feed = client_options.map(|opts| {
        tokio::spawn(web::feed::run(
            app.clone(),
            opts,
            args.topics.clone(),
            QoS::from_bits(args.qos).unwrap_or(QoS::AtMostOnce),
            shutdown.clone(),
        ))
    });
    web::serve(listener, app, shutdown).await?;
    if let Some(f) = feed {
        let _ = f.await;
    }
    Ok(ExitCode::SUCCESS)
}
