//! `sister udp server|client`: UDP datagrams (the course's port 12345/udp).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::udp::{client, server};
use patterns::{net, shutdown};

#[derive(Debug, Args)]
#[command(
    about = "UDP: one datagram out, one back; no connection, no promise (port 12345/udp)",
    after_help = "Examples:\n  sister udp server\n  \
sister udp client --server 127.0.0.1:12345\n  \
sister udp client --server 127.0.0.1:12345 --count 10000 --size 512 --rate 0"
)]
pub struct UdpArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Print every datagram and answer `Hello, ('<ip>', <port>). You said: <text>`, until Ctrl+C
    #[command(after_help = "Example:\n  sister udp server --bind 0.0.0.0:12345")]
    Server(ServerArgs),
    /// Send one datagram and print the reply (timeout, retries), or a numbered flood with --count
    #[command(after_help = "Examples:\n  sister udp client --server 127.0.0.1:12345\n  \
sister udp client --server 127.0.0.1:12345 --message 'Pesan UDP ke-0'\n  \
sister udp client --server 127.0.0.1:12345 --count 1000 --size 64 --rate 500")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:12345")]
    bind: String,
    /// Datagrams logged one by one per second; the rest of a flood is summarised
    #[arg(long, value_name = "N", default_value_t = 20)]
    log_per_second: u32,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server to send to
    #[arg(
        long,
        env = "SISTER_SERVER",
        value_name = "HOST:PORT",
        default_value = "udp-server:12345"
    )]
    server: String,
    /// The datagram to send
    #[arg(short, long, default_value = client::DEFAULT_MESSAGE)]
    message: String,
    /// Seconds to wait for a reply (in flood mode: for the last replies)
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    timeout: f64,
    /// Times to send again when no reply came
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// Seconds to keep retrying while the server's name does not resolve yet (docker compose)
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// Flood mode: send N numbered datagrams and report sent, received, lost, duplicated, reordered
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Flood mode: bytes per datagram
    #[arg(long, value_name = "B", default_value_t = 64, requires = "count")]
    size: usize,
    /// Flood mode: datagrams per second (0: as fast as possible)
    #[arg(long, value_name = "R", default_value_t = 1000.0, requires = "count")]
    rate: f64,
}

pub async fn run(args: UdpArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let socket = net::bind_udp(&a.bind).await?;
            let config = server::Config {
                log_per_second: a.log_per_second,
            };
            server::run(socket, config, shutdown::on_ctrl_c())
                .await
                .context("the server stopped with an error")?;
        }
        Role::Client(a) => {
            let config = client::Config {
                server: a.server,
                timeout: Duration::from_secs_f64(a.timeout.max(0.001)),
                retries: a.retries,
                wait: Duration::from_secs_f64(a.wait.max(0.0)),
            };
            match a.count {
                None => {
                    client::send_one(&config, a.message.as_bytes(), &Stdout).await?;
                }
                Some(count) => {
                    anyhow::ensure!(
                        a.size <= 65_507,
                        "--size {} is more than a UDP datagram can carry (65,507 bytes)",
                        a.size
                    );
                    let flood = client::Flood {
                        count,
                        size: a.size,
                        rate: a.rate.max(0.0),
                    };
                    client::flood(&config, &flood, &Stdout).await?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
