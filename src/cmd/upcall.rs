//! `sister upcall server|client`: the server calls its clients back (the course's port 4141).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::upcall::{client, server};
use patterns::{net, shutdown};

use super::client_args::{Connect, Script};

#[derive(Debug, Args)]
#[command(
    about = "Upcall: clients register, the server calls them back on its own initiative (port 4141)",
    after_help = "Examples:\n  sister upcall server --work-ms 3000 --notify-every 10\n  \
sister upcall client --server 127.0.0.1:4141 --name alice\n  \
sister upcall client --server 127.0.0.1:4141 --name bob -m hello -m bye"
)]
pub struct UpcallArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Answer each line at once, call back when its work is done, push notices to every client
    #[command(
        after_help = "Example:\n  sister upcall server --bind 0.0.0.0:4141 --work-ms 2000 --notify-every 10"
    )]
    Server(ServerArgs),
    /// Register, send lines, and print every upcall the moment it arrives
    #[command(
        after_help = "Examples:\n  sister upcall client --server 127.0.0.1:4141 --name alice\n  \
sister upcall client --server 127.0.0.1:4141 -m hello -m distributed -m systems -m bye"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:4141")]
    bind: String,
    /// The simulated work per line, in milliseconds: the `Done` upcall comes this long after the line
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    work_ms: u64,
    /// Push a notice to every registered client every SECS seconds (0: never)
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    notify_every: f64,
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server to talk to
    #[arg(
        long,
        env = "SISTER_SERVER",
        value_name = "HOST:PORT",
        default_value = "upcall-server:4141"
    )]
    server: String,
    /// The name to register under (the other clients see it in their notices)
    #[arg(long, default_value_t = default_name())]
    name: String,
    /// After the last line, seconds to keep listening for the completion upcalls still due
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    linger: f64,
    #[command(flatten)]
    connect: Connect,
    #[command(flatten)]
    script: Script,
}

fn default_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| format!("{u}-{}", std::process::id()))
        .unwrap_or_else(|| format!("client-{}", std::process::id()))
}

pub async fn run(args: UpcallArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let listener = net::bind_tcp(&a.bind).await?;
            let mut config = server::Config {
                work: Duration::from_millis(a.work_ms),
                notify_every: (a.notify_every > 0.0).then(|| Duration::from_secs_f64(a.notify_every)),
                ..server::Config::default()
            };
            config.limits.max_connections = a.max_connections;
            server::run(listener, config, shutdown::on_ctrl_c())
                .await
                .context("the server stopped with an error")?;
        }
        Role::Client(a) => {
            let config = client::Config {
                server: a.server,
                wait: a.connect.wait(),
                framing: a.connect.framing(),
                name: a.name,
                linger: Duration::from_secs_f64(a.linger.max(0.0)),
            };
            client::run(&config, a.script.input()?, &Stdout).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
