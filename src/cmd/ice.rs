//! `sister ice server|client`: distributed objects with ZeroC Ice (the course's port 11000).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::ice::{client, server, MESSAGE1, MESSAGE2, OBJECT1, OBJECT2};
use patterns::{net, shutdown};

#[derive(Debug, Args)]
#[command(
    about = "Distributed objects with ZeroC Ice: two Printer objects on TCP 11000 (the course's code_process/)",
    after_help = "Examples:\n  sister ice server\n  \
sister ice client --server 127.0.0.1:11000\n  \
sister ice client --server 127.0.0.1:11000 -m \"my own text\"\n\n\
The Slice interface: module Demo { interface Printer { void printString(string s); }; };\n\
Both sides interoperate with ZeroC Ice 3.7 (the course's ice_server.py and ice_client.py)."
)]
pub struct IceArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Serve SimplePrinter1 (`Object1 says: <s>`) and SimplePrinter2 (`Object2 says: <s>`) until Ctrl+C
    #[command(
        after_help = "Examples:\n  sister ice server\n  sister ice server --bind 127.0.0.1:11000 --no-print"
    )]
    Server(ServerArgs),
    /// checkedCast each printer, then printString on it, as the course's ice_client.py does
    #[command(after_help = "Examples:\n  sister ice client --server 127.0.0.1:11000\n  \
SISTER_SERVER=127.0.0.1:11000 sister ice client -m hello\n  \
sister ice client --server 127.0.0.1:11000 --object SimplePrinter2 -m \"only the second\"\n  \
sister ice client --server ice-server:11000 --wait 10      # in docker compose")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on (the course's adapter: `default -p 11000`, every interface)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:11000")]
    bind: String,
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Do not print the servants' `ObjectN says: ...` lines (for benchmarks)
    #[arg(long)]
    no_print: bool,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server to talk to
    #[arg(
        long,
        env = "SISTER_SERVER",
        value_name = "HOST:PORT",
        default_value = "ice-server:11000"
    )]
    server: String,
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// Print this text on every object instead of the course's "Hello World from printerN!" (repeat
    /// the flag for several calls)
    #[arg(short, long = "message", value_name = "TEXT")]
    messages: Vec<String>,
    /// The objects (identities) to call; repeat the flag for several [default: SimplePrinter1 and
    /// SimplePrinter2]
    #[arg(long = "object", value_name = "IDENTITY")]
    objects: Vec<String>,
    /// Call printString oneway (request id 0: no reply, as `ice_oneway()` does)
    #[arg(long)]
    oneway: bool,
    /// Seconds a reply (and the server's ValidateConnection) may take
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
}

pub async fn run(args: IceArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let listener = net::bind_tcp(&a.bind).await?;
            let mut config = server::Config::default();
            config.limits.max_connections = a.max_connections;
            if a.no_print {
                config.output = server::Output::Quiet;
            }
            server::run(listener, config, shutdown::on_ctrl_c())
                .await
                .context("the server stopped with an error")?;
        }
        Role::Client(a) => {
            let mut config = client::Config::course(a.server);
            config.wait = Duration::from_secs_f64(a.wait.max(0.0));
            config.timeout = Duration::from_secs_f64(a.timeout.max(0.1));
            config.oneway = a.oneway;
            config.calls = calls(&a.objects, &a.messages);
            client::run(&config, &Stdout).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Which object gets which text: the course's pairs by default; with --object and/or -m, every
/// message on every object.
fn calls(objects: &[String], messages: &[String]) -> Vec<(String, String)> {
    if objects.is_empty() && messages.is_empty() {
        return vec![
            (OBJECT1.into(), MESSAGE1.into()),
            (OBJECT2.into(), MESSAGE2.into()),
        ];
    }
    let objects: Vec<String> = if objects.is_empty() {
        vec![OBJECT1.into(), OBJECT2.into()]
    } else {
        objects.to_vec()
    };
    let mut out = Vec::new();
    for object in &objects {
        if messages.is_empty() {
            let n = if object == OBJECT2 { MESSAGE2 } else { MESSAGE1 };
            out.push((object.clone(), n.to_string()));
        }
        for m in messages {
            out.push((object.clone(), m.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_calls_by_default_and_every_message_on_every_object_otherwise() {
        assert_eq!(
            calls(&[], &[]),
            [
                (OBJECT1.into(), MESSAGE1.into()),
                (OBJECT2.into(), MESSAGE2.into())
            ]
        );
        let m = vec!["hi".to_string()];
        assert_eq!(
            calls(&[], &m),
            [
                (OBJECT1.to_string(), "hi".to_string()),
                (OBJECT2.into(), "hi".into())
            ]
        );
        assert_eq!(
            calls(&["X".into()], &[]),
            [("X".to_string(), MESSAGE1.to_string())]
        );
    }
}
