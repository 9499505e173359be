//! `sister rpc server|client`: JSON-RPC 2.0 over HTTP POST (port 4000).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::rpc::{client, server};
use patterns::{net, shutdown};
use serde_json::json;
use tracing::Instrument;

use super::https_args::{ClientTlsArgs, ServerTlsArgs};

#[derive(Debug, Args)]
#[command(
    about = "JSON-RPC 2.0 over HTTP POST: add, subtract, multiply, divide (port 4000)",
    after_help = "Examples:\n  sister rpc server\n  \
sister rpc client --server 127.0.0.1:4000 add 10 2\n  \
sister rpc client --server 127.0.0.1:4000 --batch 'add 10 2' 'multiply 10 5' 'divide 1 0'\n\n\
HTTPS (certificates from `sister ca init lab-ca`):\n  \
sister rpc server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key\n  \
sister rpc client --server https://localhost:4000 --cacert lab-ca/ca.crt add 10 2"
)]
pub struct RpcArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Answer JSON-RPC 2.0 requests, notifications and batches at POST / until Ctrl+C
    #[command(after_help = "Examples:\n  sister rpc server --bind 0.0.0.0:4000\n  \
curl -d '{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[10,2],\"id\":1}' http://127.0.0.1:4000/\n  \
sister rpc server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key      # HTTPS on 4000\n  \
curl --cacert lab-ca/ca.crt -d '{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[10,2],\"id\":1}' https://localhost:4000/")]
    Server(ServerArgs),
    /// Call methods and print `Result of add: 12`; without a call, the course's add [10, 2] and multiply [10, 5]
    #[command(
        after_help = "Examples:\n  sister rpc client --server 127.0.0.1:4000 add 10 2\n  \
sister rpc client --server 127.0.0.1:4000 subtract minuend=42 subtrahend=23    # params by name\n  \
sister rpc client --server 127.0.0.1:4000 --batch 'add 10 2' 'divide 1 0'       # one POST, an array\n  \
SISTER_RPC_SERVER=127.0.0.1:4000 sister rpc client --notify add 1 1           # no id: no answer\n  \
sister rpc client --server https://localhost:4000 --cacert lab-ca/ca.crt add 10 2   # HTTPS"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:4000")]
    bind: String,
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    #[command(flatten)]
    tls: ServerTlsArgs,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server to call: HOST:PORT (HTTP), or https://HOST:PORT for HTTPS
    #[arg(
        long,
        env = "SISTER_RPC_SERVER",
        value_name = "HOST:PORT",
        default_value = "rpc-server:4000"
    )]
    server: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Send every call in one batch; each CALL is then a quoted 'METHOD ARG...'
    #[arg(long)]
    batch: bool,
    /// Send notifications (no id): the server runs them and answers nothing
    #[arg(long)]
    notify: bool,
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// METHOD ARG... (each ARG as JSON if it is JSON, else a string; name=value for params by name)
    #[arg(value_name = "CALL", allow_hyphen_values = true, trailing_var_arg = true)]
    call: Vec<String>,
}

pub async fn run(args: RpcArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let tls = a.tls.load()?;
            let listener = net::bind_tcp(&a.bind).await?;
            let limits = patterns::accept_loop::Limits {
                max_connections: a.max_connections,
                ..Default::default()
            };
            server::run(listener, limits, shutdown::on_ctrl_c(), tls)
                .instrument(tracing::info_span!("rpc-server"))
                .await
                .context("the server stopped with an error")?;
            Ok(ExitCode::SUCCESS)
        }
        Role::Client(a) => client_run(a).await,
    }
}

async fn client_run(a: ClientArgs) -> anyhow::Result<ExitCode> {
    let server = a.tls.server(&a.server)?;
    let calls = if a.call.is_empty() {
        // The course's client: add [10, 2], then multiply [10, 5].
        vec![
            (
                "add".to_string(),
                Some(wire::jsonrpc::Params::ByPosition(vec![json!(10), json!(2)])),
            ),
            (
                "multiply".to_string(),
                Some(wire::jsonrpc::Params::ByPosition(vec![json!(10), json!(5)])),
            ),
        ]
    } else if a.batch {
        a.call
            .iter()
            .map(|c| {
                let words: Vec<String> = c.split_whitespace().map(str::to_string).collect();
                client::parse_call(&words).map_err(anyhow::Error::msg)
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        vec![client::parse_call(&a.call).map_err(anyhow::Error::msg)?]
    };
    let requests = client::build(calls, a.notify);
    let wait = Duration::from_secs_f64(a.wait.max(0.0));
    // One POST per call (as the course's client), or one POST for the whole batch.
    let groups: Vec<&[wire::jsonrpc::Request]> = if a.batch {
        vec![&requests[..]]
    } else {
        requests.chunks(1).collect()
    };
    let mut code = ExitCode::SUCCESS;
    for group in groups {
        let outcome = client::post(&server, group, a.batch, wait)
            .instrument(tracing::info_span!("rpc-client"))
            .await?;
        match outcome {
            client::Outcome::Nothing => {
                if group.iter().any(|r| r.id.is_some()) {
                    println!("No answer from the server (expected one: a request has an id)");
                    code = ExitCode::FAILURE;
                } else {
                    println!(
                        "Sent {} notification(s); the server answers nothing, as JSON-RPC 2.0 §4.1 wants",
                        group.len()
                    );
                }
            }
            client::Outcome::Responses(responses) => {
                for (req, resp) in client::match_responses(group, &responses) {
                    match resp {
                        Some(r) => {
                            println!("{}", client::line(&req.method, r));
                            if r.outcome.is_err() {
                                code = ExitCode::FAILURE;
                            }
                        }
                        None => {
                            println!("No answer for {req}");
                            code = ExitCode::FAILURE;
                        }
                    }
                }
                // Answers that match no request (id null: the server could not read an entry).
                for r in responses
                    .iter()
                    .filter(|r| !group.iter().any(|q| q.id.as_ref() == Some(&r.id)))
                {
                    println!("Answer to no request of ours: {r}");
                    code = ExitCode::FAILURE;
                }
            }
        }
    }
    Ok(code)
}
