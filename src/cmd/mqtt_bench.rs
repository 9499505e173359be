//! `sister bench mqtt`: the MQTT load generator ([`patterns::mqtt::bench`]); bench/mqtt.sh runs it
//! against sister's broker and Mosquitto side by side.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use patterns::mqtt::bench::{self, Spec};
use wire::mqtt::QoS;

/// Flags of the MQTT load generator.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister bench mqtt --server 127.0.0.1:1883 --pubs 1 --subs 1 --qos 0            1->1 at full speed
  sister bench mqtt --server 127.0.0.1:1883 --pubs 1 --subs 50 --qos 1           fan-out
  sister bench mqtt --server 127.0.0.1:1883 --pubs 1 --subs 1 --rate 10000       latency at 10k msg/s
  sister bench mqtt --server 127.0.0.1:9001 --ws                                 MQTT over WebSockets (/mqtt)

bench/mqtt.sh runs the whole table against sister's broker and Mosquitto, each pinned to one core.")]
pub struct BenchArgs {
    /// The broker to load
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub server: String,
    /// Publishers
    #[arg(long, default_value_t = 1)]
    pub pubs: usize,
    /// Subscribers (all on the same topic)
    #[arg(long, default_value_t = 1)]
    pub subs: usize,
    /// QoS of publications and subscriptions (0 or 1)
    #[arg(long, default_value_t = 0)]
    pub qos: u8,
    /// Payload bytes (at least 20)
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds of publishing
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Total messages per second over all publishers (default: as fast as the broker takes them)
    #[arg(long)]
    pub rate: Option<u64>,
    /// QoS 1: unacknowledged messages per publisher
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Topic
    #[arg(long, default_value = "bench/t")]
    pub topic: String,
    /// MQTT over TLS, trusting this CA (PEM)
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<std::path::PathBuf>,
    /// The name the broker's certificate must hold (default: the host of --server)
    #[arg(long, requires = "cafile")]
    pub tls_name: Option<String>,
    /// MQTT over WebSockets (RFC 6455, subprotocol mqtt), on the path --ws-path; with --cafile, over TLS
    #[arg(long)]
    pub ws: bool,
    /// The WebSocket path
    #[arg(long, default_value = "/mqtt", requires = "ws")]
    pub ws_path: String,
}

pub async fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let server = patterns::net::resolve(&a.server).await?[0];
    let qos = QoS::from_bits(a.qos)
        .filter(|q| *q != QoS::ExactlyOnce)
        .context("--qos is 0 or 1")?;
    let spec = Spec {
        server,
        publishers: a.pubs.max(1),
        subscribers: a.subs.max(1),
        qos,
        payload: a.payload.max(20),
        duration: Duration::from_secs_f64(a.duration.max(0.1)),
        rate: a.rate,
        window: a.window.max(1),
        topic: a.topic,
        tls: match &a.cafile {
            None => None,
            Some(ca) => Some(bench::BenchTls {
                connector: patterns::tls::ClientTls {
                    cafile: Some(ca.clone()),
                    ..Default::default()
                }
                .connector()?,
                name: patterns::tls::server_name(a.tls_name.as_deref().unwrap_or(&a.server))?,
            }),
        },
        ws_path: a.ws.then(|| a.ws_path.clone()),
    };
    let r = bench::run(spec).await.context("benchmark run")?;
    println!("{r}");
    // One machine-readable line for bench/mqtt.sh.
    println!(
        "RESULT rate={:.0} sent={} expected={} received={} lost={} dup={} reordered={} p50={:.0} p99={:.0} p999={:.0}",
        r.delivered_per_s, r.sent, r.expected, r.received, r.lost, r.duplicated, r.reordered, r.p50_us, r.p99_us, r.p999_us
    );
    Ok(ExitCode::SUCCESS)
}
