//! `sister zmq rep|req|pub|sub|push|pull`: the course's ZeroMQ programs (see `patterns::zmq`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use patterns::shutdown::Signal;
use patterns::zmq::apps::{self, Endpoints};
use tracing::Instrument;

#[derive(Debug, Args)]
#[command(
    about = "ZeroMQ: REQ/REP, PUB/SUB, PUSH/PULL over ZMTP 3.1, interoperating with pyzmq/libzmq",
    after_help = "Examples:\n  sister zmq rep                                  REP on tcp://0.0.0.0:5555, answers World\n  \
sister zmq req --connect 127.0.0.1:5555         sends Hello 10 times\n  \
sister zmq pub                                  WAKTU <time> every second on 12345\n  \
sister zmq sub --connect 127.0.0.1:12345        prints what starts with WAKTU\n  \
sister zmq push                                 deals workloads on 9999\n  \
sister zmq pull --connect 127.0.0.1:9999 --workers 3 --speed 10\n\n\
Either side of every pair may bind or connect (--bind / --connect, repeatable)."
)]
pub struct ZmqArgs {
    #[command(subcommand)]
    role: Role,
}

/// Where to bind and where to connect; without either, the role's course default applies.
#[derive(Debug, Args, Clone)]
struct Ends {
    /// Listen here: tcp://HOST:PORT, HOST:PORT or tcp://*:PORT (repeatable)
    #[arg(long, value_name = "ADDR")]
    bind: Vec<String>,
    /// Connect here, retrying in the background until it answers (repeatable)
    #[arg(long, visible_alias = "server", value_name = "ADDR", env = "SISTER_SERVER")]
    connect: Vec<String>,
}

impl Ends {
    fn or_bind(self, default: &str) -> Endpoints {
        self.or(Endpoints::bind(default))
    }

    fn or_connect(self, default: &str) -> Endpoints {
        self.or(Endpoints::connect(default))
    }

    fn or(self, default: Endpoints) -> Endpoints {
        if self.bind.is_empty() && self.connect.is_empty() {
            default
        } else {
            Endpoints {
                bind: self.bind,
                connect: self.connect,
            }
        }
    }
}

#[derive(Debug, Subcommand)]
enum Role {
    /// REP: print each request and answer it (binds 0.0.0.0:5555 by default)
    #[command(after_help = "Example:\n  sister zmq rep --bind 127.0.0.1:5555")]
    Rep {
        #[command(flatten)]
        ends: Ends,
        /// The reply
        #[arg(long, default_value = "World")]
        reply: String,
        /// Exit after this many requests
        #[arg(long)]
        count: Option<u64>,
        /// Seconds to "work" before replying
        #[arg(long, default_value_t = 0.0)]
        delay: f64,
    },
    /// REQ: send a request and print the reply, COUNT times (connects zmq-rep:5555 by default)
    #[command(after_help = "Example:\n  sister zmq req --connect 127.0.0.1:5555 --count 3")]
    Req {
        #[command(flatten)]
        ends: Ends,
        /// The request
        #[arg(long, default_value = "Hello")]
        message: String,
        #[arg(long, default_value_t = 10)]
        count: u64,
        /// Seconds to wait for each reply (the REP may still be starting)
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// PUB: send `<topic> <asctime>` every INTERVAL seconds (binds 0.0.0.0:12345 by default)
    #[command(after_help = "Example:\n  sister zmq pub --bind 127.0.0.1:12345 --interval 0.5")]
    Pub {
        #[command(flatten)]
        ends: Ends,
        #[arg(long, default_value = "WAKTU")]
        topic: String,
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Exit after this many messages
        #[arg(long)]
        count: Option<u64>,
    },
    /// SUB: subscribe to a prefix and print what arrives (connects zmq-pub:12345 by default)
    #[command(after_help = "Example:\n  sister zmq sub --connect 127.0.0.1:12345 --topic WAKTU")]
    Sub {
        #[command(flatten)]
        ends: Ends,
        /// The subscription: a prefix of the first frame ("" for everything)
        #[arg(long, default_value = "WAKTU")]
        topic: String,
        /// Exit after this many messages
        #[arg(long)]
        count: Option<u64>,
    },
    /// PUSH: send random workloads 1..100 as Python pickles, one every workload/5 s (binds 0.0.0.0:9999)
    #[command(after_help = "Example:\n  sister zmq push --bind 127.0.0.1:9999 --speed 10 --wait-workers 3")]
    Push {
        #[command(flatten)]
        ends: Ends,
        /// Exit after this many workloads
        #[arg(long)]
        count: Option<u64>,
        /// Divide every wait by this factor
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Wait until this many workers are connected before sending
        #[arg(long, default_value_t = 0)]
        wait_workers: usize,
    },
    /// PULL: workers that unpickle workloads and work (sleep) workload/5 s (connects zmq-push:9999)
    #[command(after_help = "Example:\n  sister zmq pull --connect 127.0.0.1:9999 --workers 3 --speed 10")]
    Pull {
        #[command(flatten)]
        ends: Ends,
        /// Number of workers, each its own PULL socket
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Divide every wait by this factor
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Exit after this many workloads in total
        #[arg(long)]
        count: Option<u64>,
    },
}

fn secs(s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("{s} is not a number of seconds"))
}

pub async fn run(args: ZmqArgs, shutdown: Signal) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Rep {
            ends,
            reply,
            count,
            delay,
        } => {
            let cfg = apps::RepConfig {
                endpoints: ends.or_bind("0.0.0.0:5555"),
                reply,
                count,
                delay: secs(delay)?,
            };
            apps::run_rep(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-rep"))
                .await?;
        }
        Role::Req {
            ends,
            message,
            count,
            timeout,
        } => {
            let cfg = apps::ReqConfig {
                endpoints: ends.or_connect("zmq-rep:5555"),
                message,
                count,
                timeout: secs(timeout)?,
            };
            apps::run_req(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-req"))
                .await?;
        }
        Role::Pub {
            ends,
            topic,
            interval,
            count,
        } => {
            let cfg = apps::PubConfig {
                endpoints: ends.or_bind("0.0.0.0:12345"),
                topic,
                interval: secs(interval)?,
                count,
            };
            apps::run_pub(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-pub"))
                .await?;
        }
        Role::Sub { ends, topic, count } => {
            let cfg = apps::SubConfig {
                endpoints: ends.or_connect("zmq-pub:12345"),
                topic,
                count,
            };
            apps::run_sub(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-sub"))
                .await?;
        }
        Role::Push {
            ends,
            count,
            speed,
            wait_workers,
        } => {
            let cfg = apps::PushConfig {
                endpoints: ends.or_bind("0.0.0.0:9999"),
                count,
                speed,
                wait_for_workers: wait_workers,
            };
            apps::run_push(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-push"))
                .await?;
        }
        Role::Pull {
            ends,
            workers,
            speed,
            count,
        } => {
            let cfg = apps::PullConfig {
                endpoints: ends.or_connect("zmq-push:9999"),
                workers,
                speed,
                count,
            };
            let done = apps::run_pull(cfg, shutdown)
                .instrument(tracing::info_span!("zmq-pull"))
                .await?;
            let counts: Vec<usize> = done.iter().map(Vec::len).collect();
            tracing::info!(?counts, "workloads done per worker");
        }
    }
    Ok(ExitCode::SUCCESS)
}
