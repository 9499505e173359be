//! `sister bench <pattern>`: load generators that measure a pattern's server (sister's or the course's).
//!
//! Benchmarks are not tests: they print figures for a person to compare. Each pattern adds a subcommand.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::framing::Framing;
use patterns::reqresp::{bench, server};
use patterns::{net, shutdown};
use tracing::Instrument;

#[derive(Debug, Args)]
#[command(
    about = "Measure a pattern's server: throughput and latency",
    after_help = "Examples:\n  sister bench reqresp                                  # against an in-process sister server\n  \
sister bench reqresp --server 127.0.0.1:2222 --clients 1   # against another server (e.g. the course's)\n\n\
A sister server measured from outside should run with -q: logging every request costs time."
)]
pub struct BenchArgs {
    #[command(subcommand)]
    pattern: Pattern,
}

#[derive(Debug, Subcommand)]
enum Pattern {
    /// TCP request/response: round trips per second and p50/p99 latency per number of clients
    #[command(
        after_help = "Examples:\n  sister bench reqresp --clients 1,50 --duration 5\n  \
python3 tests/peers/course/server.py 127.0.0.1 2222 &  sister bench reqresp --server 127.0.0.1:2222 --clients 1"
    )]
    Reqresp(ReqrespBench),
    /// ZeroC Ice: printString calls per second and p50/p99 latency per number of clients
    /// (bench/ice.sh compares sister's server with ZeroC's Python and C++ servers)
    #[command(after_help = "Examples:\n  sister bench ice --clients 1,50 --duration 5\n  \
python3 tests/peers/course/ice_server.py 127.0.0.1 11000 >/dev/null &  sister bench ice --server 127.0.0.1:11000")]
    Ice(IceBench),
    /// CORBA: sayHello calls per second and p50/p99 latency per number of clients (bench/corba.sh
    /// compares sister's server with omniORB's C++ server)
    #[command(
        after_help = "Examples:\n  sister bench corba --clients 1,50 --duration 5\n  \
sister bench corba --ior \"$(cat hello.ior)\"          # another server, by its IOR\n  \
sister bench corba --ior corbaloc:iiop:1.2@127.0.0.1:2809/Hello"
    )]
    Corba(CorbaBench),
    /// MQTT broker: delivered msg/s, lost/duplicated/reordered, p50/p99/p99.9 latency (bench/mqtt.sh
    /// compares sister's broker with Mosquitto)
    Mqtt(super::mqtt_bench::BenchArgs),
    /// Capture analysis: `sister analyze` against tshark on a large synthetic capture (speed, peak memory)
    Analyze(super::bench_analyze::AnalyzeBench),
}

#[derive(Debug, Args)]
struct ReqrespBench {
    /// The server to measure; without it sister starts its own server in this process on 127.0.0.1
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Numbers of concurrent clients, one run each
    #[arg(long, value_delimiter = ',', default_value = "1,50")]
    clients: Vec<usize>,
    /// Seconds per run
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    duration: f64,
    /// The message each request carries
    #[arg(long, default_value = "hello")]
    message: String,
    /// Speak the course's raw convention instead of sister's framing
    #[arg(long)]
    raw: bool,
}

#[derive(Debug, Args)]
struct IceBench {
    /// The server to measure; without it sister starts its own server (quiet) in this process
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Numbers of concurrent clients, one run each
    #[arg(long, value_delimiter = ',', default_value = "1,50")]
    clients: Vec<usize>,
    /// Seconds per run
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    duration: f64,
    /// The object to call
    #[arg(long, default_value = "SimplePrinter1")]
    object: String,
    /// The text each printString carries
    #[arg(long, default_value = "Hello World from printer1!")]
    message: String,
}

#[derive(Debug, Args)]
struct CorbaBench {
    /// The object to measure (IOR:..., or corbaloc); without it sister starts its own server (quiet)
    /// in this process
    #[arg(long, value_name = "REF")]
    ior: Option<String>,
    /// Numbers of concurrent clients, one run each
    #[arg(long, value_delimiter = ',', default_value = "1,50")]
    clients: Vec<usize>,
    /// Seconds per run
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    duration: f64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.pattern {
        Pattern::Reqresp(a) => reqresp(a).await,
        Pattern::Ice(a) => ice(a).await,
        Pattern::Corba(a) => corba(a).await,
        Pattern::Mqtt(a) => super::mqtt_bench::run(a).await,
        Pattern::Analyze(a) => super::bench_analyze::run(a).await,
    }
}

async fn reqresp(a: ReqrespBench) -> anyhow::Result<ExitCode> {
    let target = Target::start(a.server.clone(), |listener, signal| {
        server::run(listener, server::Config::default(), signal)
    })
    .await?;
    let who = target.describe();
    let target_addr = target.addr.clone();
    println!(
        "bench reqresp: {who}, message {:?}, {} s per run",
        a.message, a.duration
    );
    println!(
        "{:>8} {:>8} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "clients", "framing", "round trips", "per second", "p50", "p99", "max"
    );
    for &clients in &a.clients {
        let config = bench::Config {
            server: target_addr.clone(),
            clients,
            duration: Duration::from_secs_f64(a.duration.max(0.1)),
            framing: if a.raw { Framing::Raw } else { Framing::Auto },
            message: a.message.clone().into_bytes(),
            first_reply_timeout: Duration::from_secs(3),
        };
        let r = bench::run(&config)
            .await
            .with_context(|| format!("the run with {clients} clients failed"))?;
        println!(
            "{:>8} {:>8} {:>12} {:>12.0} {:>10.1?} {:>10.1?} {:>10.1?}",
            r.clients,
            format!("{:?}", r.mode).to_lowercase(),
            r.round_trips,
            r.per_second(),
            r.p50,
            r.p99,
            r.max
        );
    }
    target.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn ice(a: IceBench) -> anyhow::Result<ExitCode> {
    use patterns::ice::{bench, server};
    let target = Target::start(a.server.clone(), |listener, signal| {
        let config = server::Config {
            output: server::Output::Quiet,
            ..Default::default()
        };
        server::run(listener, config, signal)
    })
    .await?;
    let who = target.describe();
    let target_addr = target.addr.clone();
    println!(
        "bench ice: {who}, {}.printString({:?}), {} s per run",
        a.object, a.message, a.duration
    );
    println!(
        "{:>8} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "clients", "calls", "per second", "p50", "p99", "max"
    );
    for &clients in &a.clients {
        let config = bench::Config {
            server: target_addr.clone(),
            clients,
            duration: Duration::from_secs_f64(a.duration.max(0.1)),
            object: a.object.clone(),
            message: a.message.clone(),
        };
        let r = bench::run(&config)
            .await
            .with_context(|| format!("the run with {clients} clients failed"))?;
        println!(
            "{:>8} {:>12} {:>12.0} {:>10.1?} {:>10.1?} {:>10.1?}",
            r.clients,
            r.calls,
            r.per_second(),
            r.p50,
            r.p99,
            r.max
        );
    }
    target.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn corba(a: CorbaBench) -> anyhow::Result<ExitCode> {
    use patterns::corba::{bench, client::ObjectRef, orb, server, HELLO_KEY};
    use wire::giop::{ObjectUrl, GIOP_1_2};
    let given = match &a.ior {
        None => None,
        Some(s) => Some(match ObjectUrl::parse(s).map_err(anyhow::Error::msg)? {
            ObjectUrl::Ior(ior) => ObjectRef::from_ior(&ior)?,
            ObjectUrl::Corbaloc { addresses, key } => {
                let first = addresses.first().context("the corbaloc URL has no address")?;
                ObjectRef {
                    addr: format!("{}", first),
                    key,
                    version: wire::giop::ior::giop_for(first.version),
                }
            }
            ObjectUrl::Corbaname { .. } => {
                anyhow::bail!("give the object's IOR or corbaloc, not a corbaname (resolve it first)")
            }
        }),
    };
    let target = Target::start(given.as_ref().map(|o| o.addr.clone()), |listener, signal| {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let endpoint = orb::Endpoint {
            host: "127.0.0.1".into(),
            port,
        };
        let orb = std::sync::Arc::new(orb::Orb::new(endpoint, true, false));
        server::run(
            listener,
            orb,
            Default::default(),
            server::Config::default(),
            signal,
        )
    })
    .await?;
    let object = given.unwrap_or(ObjectRef {
        addr: target.addr.clone(),
        key: HELLO_KEY.to_vec(),
        version: GIOP_1_2,
    });
    println!(
        "bench corba: {}, {}.sayHello(), {} s per run",
        target.describe(),
        object.describe(),
        a.duration
    );
    println!(
        "{:>8} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "clients", "calls", "per second", "p50", "p99", "max"
    );
    for &clients in &a.clients {
        let config = bench::Config {
            object: object.clone(),
            clients,
            duration: Duration::from_secs_f64(a.duration.max(0.1)),
        };
        let r = bench::run(&config)
            .await
            .with_context(|| format!("the run with {clients} clients failed"))?;
        println!(
            "{:>8} {:>12} {:>12.0} {:>10.1?} {:>10.1?} {:>10.1?}",
            r.clients,
            r.calls,
            r.per_second(),
            r.p50,
            r.p99,
            r.max
        );
    }
    target.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The server a benchmark measures: the one at `--server`, or sister's own started in this process on
/// a free loopback port (and stopped at the end).
struct Target {
    addr: String,
    in_process: Option<(shutdown::Trigger, tokio::task::JoinHandle<std::io::Result<()>>)>,
}

impl Target {
    async fn start<F, Fut>(server: Option<String>, run: F) -> anyhow::Result<Target>
    where
        F: FnOnce(tokio::net::TcpListener, shutdown::Signal) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        if let Some(addr) = server {
            return Ok(Target {
                addr,
                in_process: None,
            });
        }
        let listener = net::bind_tcp("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (trigger, signal) = shutdown::channel();
        let task = tokio::spawn(run(listener, signal).instrument(tracing::Span::none()));
        Ok(Target {
            addr,
            in_process: Some((trigger, task)),
        })
    }

    fn describe(&self) -> String {
        if self.in_process.is_some() {
            format!("sister's server (in this process, {})", self.addr)
        } else {
            format!("the server at {}", self.addr)
        }
    }

    async fn stop(self) {
        if let Some((trigger, task)) = self.in_process {
            trigger.trigger();
            let _ = task.await;
        }
    }
}
