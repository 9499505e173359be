//! `sister reqresp server|client`: TCP request/response (the course's port 2222).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::reqresp::{client, server};
use patterns::{net, shutdown};

use super::client_args::{Connect, Script};

#[derive(Debug, Args)]
#[command(
    about = "TCP request/response: the client sends lines, the server answers `Echo: <line>` (port 2222)",
    after_help = "Examples:\n  sister reqresp server\n  \
sister reqresp client --server 127.0.0.1:2222\n  \
sister reqresp client --server 127.0.0.1:2222 -m hello -m distributed -m systems -m bye"
)]
pub struct ReqrespArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Answer `Echo: <message>` to every message, for many clients at once, until Ctrl+C
    #[command(after_help = "Example:\n  sister reqresp server --bind 0.0.0.0:2222")]
    Server(ServerArgs),
    /// Send lines (typed, or --message/--script) and print each reply as `Received: <reply>`
    #[command(after_help = "Examples:\n  sister reqresp client --server 127.0.0.1:2222\n  \
SISTER_SERVER=127.0.0.1:2222 sister reqresp client -m hello -m bye\n  \
sister reqresp client --server 127.0.0.1:2222 --raw     # the course's convention, no framing")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:2222")]
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
        default_value = "reqresp-server:2222"
    )]
    server: String,
    #[command(flatten)]
    connect: Connect,
    #[command(flatten)]
    script: Script,
}

pub async fn run(args: ReqrespArgs) -> anyhow::Result<ExitCode> {
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
