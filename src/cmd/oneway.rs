//! `sister oneway server|client`: one-way TCP (the course's port 3131).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::oneway::{client, server};
use patterns::{net, shutdown};

use super::client_args::{Connect, Script};

#[derive(Debug, Args)]
#[command(
    about = "One-way TCP: the client sends lines, the server prints them and never answers (port 3131)",
    after_help = "Examples:\n  sister oneway server\n  \
sister oneway client --server 127.0.0.1:3131\n  \
sister oneway client --server 127.0.0.1:3131 --raw -m hello -m distributed -m systems   # may arrive merged"
)]
pub struct OnewayArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Print every message received, from many clients at once, until Ctrl+C
    #[command(after_help = "Example:\n  sister oneway server --bind 0.0.0.0:3131")]
    Server(ServerArgs),
    /// Send lines (typed, or --message/--script); prints `Sent: <line>`
    #[command(after_help = "Examples:\n  sister oneway client --server 127.0.0.1:3131\n  \
sister oneway client --server 127.0.0.1:3131 --raw -m hello     # against the course's one-way server")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:3131")]
    bind: String,
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
        default_value = "oneway-server:3131"
    )]
    server: String,
    #[command(flatten)]
    connect: Connect,
    #[command(flatten)]
    script: Script,
}

pub async fn run(args: OnewayArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let listener = net::bind_tcp(&a.bind).await?;
            let mut config = server::Config::default();
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
            };
            client::run(&config, a.script.input()?, &Stdout).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
