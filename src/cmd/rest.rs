//! `sister rest server|client`: the course's REST calculator (port 5151).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use patterns::rest::{client, server};
use patterns::{net, shutdown};
use tracing::Instrument;

use super::https_args::{ClientTlsArgs, ServerTlsArgs};

#[derive(Debug, Args)]
#[command(
    about = "REST over HTTP: GET /add?a=10&b=5 answers {\"result\": 15} (port 5151)",
    after_help = "Examples:\n  sister rest server\n  \
sister rest client --server 127.0.0.1:5151 --op both -a 10 -b 5\n  \
curl 'http://127.0.0.1:5151/add?a=10&b=5'\n\n\
HTTPS (certificates from `sister ca init lab-ca`):\n  \
sister rest server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key\n  \
sister rest client --server https://localhost:5151 --cacert lab-ca/ca.crt\n  \
curl --cacert lab-ca/ca.crt 'https://localhost:5151/add?a=10&b=5'"
)]
pub struct RestArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Serve GET /add, /mul, /sub, /div (?a=&b=, 64-bit integers) and /openapi.json until Ctrl+C
    #[command(after_help = "Examples:\n  sister rest server --bind 0.0.0.0:5151\n  \
curl -i 'http://127.0.0.1:5151/div?a=1&b=0'     # 400 {\"error\":\"Division by zero: ...\"}\n  \
sister rest server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key      # HTTPS on 5151\n  \
curl --cacert lab-ca/ca.crt 'https://localhost:5151/add?a=10&b=5'")]
    Server(ServerArgs),
    /// Call the calculator and print `add(10,5) = 15`; a non-200 answer is printed and exits 1
    #[command(
        after_help = "Examples:\n  sister rest client --server 127.0.0.1:5151 --op both -a 10 -b 5\n  \
SISTER_REST_SERVER=127.0.0.1:5151 sister rest client --op div -a 7 -b 0\n  \
sister rest client --server 127.0.0.1:5151 --op add -a ten -b 5   # see the server's 400\n  \
sister rest client --server https://localhost:5151 --cacert lab-ca/ca.crt        # HTTPS"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:5151")]
    bind: String,
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    #[command(flatten)]
    tls: ServerTlsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OpChoice {
    Add,
    Mul,
    Sub,
    Div,
    /// add, then mul (the course's default)
    Both,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server to call: HOST:PORT (HTTP), or https://HOST:PORT for HTTPS
    #[arg(
        long,
        env = "SISTER_REST_SERVER",
        value_name = "HOST:PORT",
        default_value = "rest-server:5151"
    )]
    server: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Which operation(s) to call
    #[arg(long, value_enum, default_value_t = OpChoice::Both)]
    op: OpChoice,
    /// The first operand, sent as typed (so a non-integer shows the server's 400)
    #[arg(short, default_value = "10", allow_hyphen_values = true)]
    a: String,
    /// The second operand, sent as typed
    #[arg(short, default_value = "5", allow_hyphen_values = true)]
    b: String,
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
}

pub async fn run(args: RestArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let tls = a.tls.load()?;
            let listener = net::bind_tcp(&a.bind).await?;
            let limits = patterns::accept_loop::Limits {
                max_connections: a.max_connections,
                ..Default::default()
            };
            server::run(listener, limits, shutdown::on_ctrl_c(), tls)
                .instrument(tracing::info_span!("rest-server"))
                .await
                .context("the server stopped with an error")?;
            Ok(ExitCode::SUCCESS)
        }
        Role::Client(a) => {
            let ops: &[&str] = match a.op {
                OpChoice::Add => &["add"],
                OpChoice::Mul => &["mul"],
                OpChoice::Sub => &["sub"],
                OpChoice::Div => &["div"],
                OpChoice::Both => &["add", "mul"],
            };
            let wait = Duration::from_secs_f64(a.wait.max(0.0));
            let server = a.tls.server(&a.server)?;
            let mut code = ExitCode::SUCCESS;
            for op in ops {
                let answer = client::call(&server, op, &a.a, &a.b, wait)
                    .instrument(tracing::info_span!("rest-client"))
                    .await?;
                println!("{}", answer.line(op, &a.a, &a.b));
                if matches!(answer, client::Answer::Failed { .. }) {
                    code = ExitCode::FAILURE;
                }
            }
            Ok(code)
        }
    }
}
