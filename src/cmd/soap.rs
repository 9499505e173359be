//! `sister soap server|client`: SOAP 1.1 with a WSDL (port 8000).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::soap::{client, server};
use patterns::{net, shutdown};
use tracing::Instrument;

use super::https_args::{ClientTlsArgs, ServerTlsArgs};

#[derive(Debug, Args)]
#[command(
    about = "SOAP 1.1 with WSDL: the course's spyne calculator, add and more (port 8000)",
    after_help = "Examples:\n  sister soap server\n  \
sister soap client --wsdl http://127.0.0.1:8000/?wsdl add 10 5\n  \
sister soap client --wsdl http://127.0.0.1:8000/?wsdl sum_times_difference 20 30\n\n\
HTTPS (certificates from `sister ca init lab-ca`):\n  \
sister soap server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key\n  \
sister soap client --wsdl 'https://localhost:8000/?wsdl' --cacert lab-ca/ca.crt add 10 5"
)]
pub struct SoapArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Serve the WSDL at /?wsdl and the calls at POST / until Ctrl+C
    #[command(after_help = "Example:\n  sister soap server --bind 0.0.0.0:8000\n  \
curl 'http://127.0.0.1:8000/?wsdl'\n  \
python3 -c \"import zeep; print(zeep.Client('http://127.0.0.1:8000/?wsdl').service.add(10, 5))\"\n  \
sister soap server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key      # HTTPS on 8000\n  \
curl --cacert lab-ca/ca.crt 'https://localhost:8000/?wsdl'                        # its address says https://\n\n\
With --tls-cert the WSDL's soap:address is https://, so clients post their calls over TLS too.")]
    Server(ServerArgs),
    /// Read the WSDL, call OPERATION with ARGS, print `Hasil penjumlahan dari server SOAP: 15`
    #[command(
        after_help = "Examples:\n  sister soap client --wsdl http://127.0.0.1:8000/?wsdl            # add 10 5\n  \
SISTER_SOAP_WSDL=http://127.0.0.1:8000/?wsdl sister soap client divide 7 2\n  \
sister soap client --wsdl http://127.0.0.1:8000/?wsdl --list      # the operations in the WSDL\n  \
sister soap client --wsdl 'https://localhost:8000/?wsdl' --cacert lab-ca/ca.crt add 10 5   # HTTPS"
    )]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8000")]
    bind: String,
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    #[command(flatten)]
    tls: ServerTlsArgs,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// Where the WSDL is (http:// or https://)
    #[arg(
        long,
        env = "SISTER_SOAP_WSDL",
        value_name = "URL",
        default_value = "http://soap-server:8000/?wsdl"
    )]
    wsdl: String,
    /// POST the call here instead of at the address the WSDL gives (e.g. when the WSDL names a host
    /// this machine cannot reach)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// List the WSDL's operations and their arguments, and call nothing
    #[arg(long)]
    list: bool,
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// The operation to call
    #[arg(default_value = "add")]
    operation: String,
    /// Its arguments, in the WSDL's order (default: the course's 10 5)
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

pub async fn run(args: SoapArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Server(a) => {
            let tls = a.tls.load()?;
            let listener = net::bind_tcp(&a.bind).await?;
            let limits = patterns::accept_loop::Limits {
                max_connections: a.max_connections,
                ..Default::default()
            };
            server::run(listener, limits, shutdown::on_ctrl_c(), tls)
                .instrument(tracing::info_span!("soap-server"))
                .await
                .context("the server stopped with an error")?;
            Ok(ExitCode::SUCCESS)
        }
        Role::Client(a) => {
            let span = tracing::info_span!("soap-client");
            let wait = Duration::from_secs_f64(a.wait.max(0.0));
            // Built only for --cacert/--insecure: any https:// URL met (the WSDL's, the address it
            // gives, --endpoint) is checked with it.
            let tls = a.tls.connector()?;
            let service = client::fetch_wsdl(&a.wsdl, tls.as_ref(), wait)
                .instrument(span.clone())
                .await?;
            if a.list {
                println!(
                    "{} at {} (namespace {})",
                    service.name, service.location, service.tns
                );
                for op in &service.operations {
                    let args: Vec<String> = op
                        .inputs
                        .iter()
                        .map(|f| format!("{}: {}", f.name, f.xsd_type))
                        .collect();
                    let outs: Vec<String> = op
                        .outputs
                        .iter()
                        .map(|f| format!("{}: {}", f.name, f.xsd_type))
                        .collect();
                    println!(
                        "  {}({}) -> {}  [soapAction {:?}]",
                        op.name,
                        args.join(", "),
                        outs.join(", "),
                        op.soap_action
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let args = if a.args.is_empty() && a.operation == "add" {
                vec!["10".to_string(), "5".to_string()]
            } else {
                a.args
            };
            match client::call(&service, a.endpoint.as_deref(), tls.as_ref(), &a.operation, &args)
                .instrument(span)
                .await
            {
                Ok(outcome) => {
                    println!("{}", client::line(&outcome));
                    Ok(ExitCode::SUCCESS)
                }
                Err(client::SoapCallError::Fault(f)) => {
                    println!("{}({}) failed: {f}", a.operation, args.join(", "));
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
