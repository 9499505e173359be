//! `sister zk election|lock`: thin layer over `patterns::zk`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use patterns::zk::{election, lock, ZkConfig};

#[derive(Debug, Subcommand)]
pub enum Zk {
    /// A leader-election node: the course's priority scheme, or the sequential recipe
    #[command(after_help = "Examples (three terminals):\n  \
sister zk election --id 1 --server 127.0.0.1:2181\n  \
sister zk election --id 2 --server 127.0.0.1:2181\n  \
sister zk election --id 3 --server 127.0.0.1:2181     node 3 leads; kill it and node 2 takes over\n  \
sister zk election --id 1 --recipe sequential         kazoo's Election recipe, no polling\n\n\
Each node prints `node N: I am the leader` / `node N: following node M` when its view changes, and the\n\
leader prints its duty every --interval.")]
    Election(ElectionArgs),
    /// The course's balance demo under a distributed lock (kazoo-compatible)
    #[command(after_help = "Examples (two terminals, within 20 s):\n  \
sister zk lock --client a --server 127.0.0.1:2181     takes /balance_lock, holds it 20 s, adds 500\n  \
sister zk lock --client b --server 127.0.0.1:2181     waits for the lock, subtracts 300\n\n\
/balance starts at 1000 (created if missing; --reset sets it back) and ends at 1200.")]
    Lock(LockArgs),
}

/// How to reach ZooKeeper.
#[derive(Debug, Args)]
pub struct ZkArgs {
    /// ZooKeeper HOST:PORT (a comma-separated list works too)
    #[arg(long, env = "SISTER_ZK", default_value = patterns::zk::DEFAULT_SERVER)]
    pub server: String,
    /// Session timeout to ask for, in seconds; the server clamps it to [2, 20] x its tickTime. A dead
    /// node's ephemeral znodes vanish after it
    #[arg(long, default_value = "6", value_parser = parse_secs)]
    pub session_timeout: Duration,
}

impl ZkArgs {
    fn config(&self) -> ZkConfig {
        ZkConfig {
            server: self.server.clone(),
            session_timeout: self.session_timeout,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RecipeArg {
    /// The course's: ephemeral /leader_election_priority/node_<id>, highest id leads, re-check every interval
    Priority,
    /// Ephemeral sequential znodes, lowest leads, each node watches only its predecessor (kazoo's Election)
    Sequential,
}

#[derive(Debug, Args)]
pub struct ElectionArgs {
    /// This node's id (the priority scheme: the highest id leads)
    #[arg(long)]
    pub id: u64,
    #[arg(long, value_enum, default_value_t = RecipeArg::Priority)]
    pub recipe: RecipeArg,
    /// Seconds between re-checks and between the leader's duty reports
    #[arg(long, default_value = "5", value_parser = parse_secs)]
    pub interval: Duration,
    /// The election's znode [default: /leader_election_priority, or /leader_election for sequential]
    #[arg(long)]
    pub path: Option<String>,
    #[command(flatten)]
    pub zk: ZkArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClientArg {
    /// Client A: holds the lock --hold seconds, adds 500
    A,
    /// Client B: waits for the lock, subtracts 300
    B,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Which of the course's two clients to be
    #[arg(long, value_enum)]
    pub client: ClientArg,
    /// Seconds to hold the lock between reading and writing [default: A 20, B 0]
    #[arg(long, value_parser = parse_secs)]
    pub hold: Option<Duration>,
    /// What to add to the balance [default: A 500, B -300]
    #[arg(long, allow_negative_numbers = true)]
    pub amount: Option<i64>,
    /// The lock's znode
    #[arg(long, default_value = lock::LOCK_PATH)]
    pub lock_path: String,
    /// The balance's znode
    #[arg(long, default_value = lock::BALANCE_PATH)]
    pub balance_path: String,
    /// Set the balance back to 1000 first
    #[arg(long)]
    pub reset: bool,
    #[command(flatten)]
    pub zk: ZkArgs,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&v) {
        return Err(format!("`{s}`: seconds must be between 0 and 86400"));
    }
    Ok(Duration::from_secs_f64(v))
}

pub async fn run(cmd: Zk) -> anyhow::Result<ExitCode> {
    match cmd {
        Zk::Election(a) => {
            let config = election::ElectionConfig {
                zk: a.zk.config(),
                id: a.id,
                recipe: match a.recipe {
                    RecipeArg::Priority => election::Recipe::Priority,
                    RecipeArg::Sequential => election::Recipe::Sequential,
                },
                interval: a.interval.max(Duration::from_millis(50)),
                path: a.path,
            };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let node = tokio::spawn(election::run(config, tx, patterns::shutdown::on_ctrl_c()));
            while let Some(report) = rx.recv().await {
                println!("node {}: {report}", a.id);
            }
            node.await?;
            Ok(ExitCode::SUCCESS)
        }
        Zk::Lock(a) => {
            let role = match a.client {
                ClientArg::A => lock::Role::A,
                ClientArg::B => lock::Role::B,
            };
            let mut config = lock::LockDemoConfig::course(role, a.zk.config());
            if let Some(h) = a.hold {
                config.hold = h;
            }
            if let Some(x) = a.amount {
                config.amount = x;
            }
            config.lock_path = a.lock_path;
            config.balance_path = a.balance_path;
            config.reset = a.reset;
            match lock::run_demo(config, |s| println!("{s}"), patterns::shutdown::on_ctrl_c()).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(patterns::zk::ZkError::Shutdown) => Ok(ExitCode::SUCCESS),
                Err(e) => Err(e.into()),
            }
        }
    }
}
